#!/usr/bin/env bash
# Integration (measurement, no timing assertion): call set-up latency at
# 100 ms RTT, both suites. The caller (alice) reaches the relay through
# udpdelay (RTT_MS/2 each way: no sch_netem here); the callee (bob) sits
# next to the relay (a dispatcher at the station). Over CALL_TRIALS
# trials (default 5; 200 for the real run), after one warm-up call:
#   relay connect        alice's relay handshake (`reconnect`) -> connected
#   dial -> ringing      `call` -> bob's message 2 read (keys ready)
#   answer -> first audio (heard by the caller) bob's `answer` -> alice's
#                        first decrypted and decoded frame from bob
#   answer -> first audio (heard by the callee) bob's `answer` -> bob's
#                        first decrypted frame from alice
#   answer -> first played (caller) the same to alice's first frame out
#                        of the jitter buffer (one playout delay later)
# The timestamps are the services' own (CLOCK_MONOTONIC, one machine), so
# CLI start-up and polling do not count. Prints p50/p95 per figure (goals:
# connect <= 130 ms, dial -> ringing <= 150 ms, answer -> first audio
# <= 200 ms). The test checks only that every trial completes. TAP.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${UDPDELAY:?}"
PORT=51994
PPORT=51993
. "$(dirname "$0")/commslib.sh"
N=${CALL_TRIALS:-5}
RTT=${RTT_MS:-100}
DP=

wait_nonzero() { # wait_nonzero NAME KEY: at most 10 s
	for _ in $(seq 1000); do
		v=$(stat_of "$1" "$2")
		[ -n "$v" ] && [ "$v" != 0 ] && return 0
		sleep 0.01
	done
	return 1
}
# p50 and p95 (nearest rank) of the numbers in FILE, in ms
pct() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "no samples"; exit }
		i50 = int(0.50 * NR + 0.999); i95 = int(0.95 * NR + 0.999);
		printf "p50 %.1f ms  p95 %.1f ms  (n=%d)", v[i50] / 1000, v[i95] / 1000, NR }'
}

for s in intl gm; do
	comms_world $s
	relay_start
	"$UDPDELAY" 127.0.0.1:$PPORT 127.0.0.1:$PORT $((RTT / 2)) >"$W/delay.out" 2>&1 &
	DP=$!
	BG_PIDS="$BG_PIDS $DP"
	wait_for "$W/delay.out" listening
	svc_via bob $PORT
	svc_via alice $PPORT
	BG_PIDS="$BG_PIDS $DP"
	wait_status bob "relay connected" && wait_status alice "relay connected"
	ok $? "$s: alice (through the delay proxy) and bob connect" "$(cat "$W/alice.log")"

	: >"$W/connect" ; : >"$W/ring"; : >"$W/a2first"; : >"$W/b2first"; : >"$W/a2play"
	fails=0
	for t in $(seq 0 "$N"); do
		# relay connect
		if [ "$t" -gt 0 ]; then
			cm alice reconnect >/dev/null
			wait_status alice "relay connected" || fails=$((fails + 1))
			stat_of alice relay_connect_us >>"$W/connect"
		fi
		cm alice call bob >/dev/null 2>"$W/err" || { fails=$((fails + 1)); continue; }
		wait_status bob "call incoming" || { fails=$((fails + 1)); continue; }
		cm bob answer >/dev/null || fails=$((fails + 1))
		wait_nonzero alice call_first_audio_us && wait_nonzero bob call_first_audio_us &&
			wait_nonzero alice call_first_play_us ||
			fails=$((fails + 1))
		sa=$(cm alice status); sb=$(cm bob status)
		cm alice hangup >/dev/null
		wait_status bob "call idle" && wait_status alice "call idle" || fails=$((fails + 1))
		[ "$t" = 0 ] && continue # the warm-up (fetches bob's certificate)
		g() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
		echo $(($(g "$sa" call_ring_us) - $(g "$sa" call_dial_us))) >>"$W/ring"
		echo $(($(g "$sa" call_first_audio_us) - $(g "$sb" call_answer_us))) >>"$W/a2first"
		echo $(($(g "$sb" call_first_audio_us) - $(g "$sb" call_answer_us))) >>"$W/b2first"
		echo $(($(g "$sa" call_first_play_us) - $(g "$sb" call_answer_us))) >>"$W/a2play"
	done
	[ "$fails" = 0 ]
	ok $? "$s: $N calls at ${RTT} ms RTT all complete" "$fails failed; $(cat "$W/err" "$W/alice.log" | tail -5)"
	diag "$s relay connect:                  $(pct "$W/connect")  (goal <= 130 ms)"
	diag "$s dial -> ringing:                $(pct "$W/ring")  (goal <= 150 ms)"
	diag "$s answer -> first audio (caller): $(pct "$W/a2first")  (goal <= 200 ms)"
	diag "$s answer -> first audio (callee): $(pct "$W/b2first")  (goal <= 200 ms)"
	diag "$s answer -> first played (caller): $(pct "$W/a2play")  (after the jitter buffer)"
	svc_stop alice
	svc_stop bob
	kill "$DP" 2>/dev/null
	wait "$DP" 2>/dev/null
	relay_stop TERM
done
finish
