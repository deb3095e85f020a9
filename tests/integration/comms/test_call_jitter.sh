#!/usr/bin/env bash
# Integration: calls over a jittery link, both suites. alice reaches the
# relay through udpdelay at 100 ms RTT with +-30 ms of jitter per
# datagram (`-j 30`: datagrams overtake each other), bob sits next to the
# relay. A 6 s call each way, twice: with the jitter buffer, and with
# frames played on arrival (the test-only
# TWOFOLD_COMMS_TEST_NO_JITTER_BUFFER=1, the behaviour before it). The
# received audio's SNR against what was sent is printed for both; the
# jitter buffer's must be the better one in each direction (no timing is
# asserted). The link did reorder (call_reordered > 0) and the jitter
# buffer played no frame twice and none out of order (call_misordered 0).
# Both sides step their media keys every 50 frames
# (TWOFOLD_COMMS_TEST_REKEY_FRAMES=50; 30,000 in real calls): the call
# crosses 5 rekeys each way with frames reordered across every step, and
# no frame is refused for want of a key (call_no_key 0, call_rejected 0).
# TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${UDPDELAY:?}" "${AUDIOTOOL:?}"
PORT=51986
PPORT=51987
. "$(dirname "$0")/commslib.sh"
RTT=${RTT_MS:-100}
JIT=${JITTER_MS:-30}
DP=

snr_of() { "$AUDIOTOOL" snr "$1" "$2" | awk '{ print $2 }'; }

# one call in MODE (jb | arrival): W/MODE.{ab,ba,stat_a,stat_b}
one_call() {
	local mode=$1 env=
	[ "$mode" = arrival ] && env=1
	TWOFOLD_COMMS_TEST_REKEY_FRAMES=50 TWOFOLD_COMMS_TEST_NO_JITTER_BUFFER=$env \
		svc_via bob $PORT -v
	TWOFOLD_COMMS_TEST_REKEY_FRAMES=50 TWOFOLD_COMMS_TEST_NO_JITTER_BUFFER=$env \
		svc_via alice $PPORT -v
	wait_status bob "relay connected" && wait_status alice "relay connected" &&
		wait_published bob &&
		cm alice call bob --audio-in "$W/a.wav" --audio-out "$W/$mode-alice.wav" >/dev/null &&
		wait_status bob "call incoming" &&
		cm bob answer --audio-in "$W/b.wav" --audio-out "$W/$mode-bob.wav" >/dev/null &&
		wait_frames alice call_tx_frames 300 && wait_frames bob call_tx_frames 300
	local r=$?
	sleep 0.5 # the frames in flight
	cm alice status >"$W/$mode.stat_a" 2>&1
	cm bob status >"$W/$mode.stat_b" 2>&1
	cm alice hangup >/dev/null 2>&1
	wait_status bob "call idle"
	svc_stop alice
	svc_stop bob
	snr_of "$W/a.wav" "$W/$mode-bob.wav" >"$W/$mode.ab"
	snr_of "$W/b.wav" "$W/$mode-alice.wav" >"$W/$mode.ba"
	return $r
}
g() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

for s in ${CALL_SUITES:-intl gm}; do
	comms_world $s
	"$AUDIOTOOL" gen "$W/a.wav" 6 140
	"$AUDIOTOOL" gen "$W/b.wav" 6 210
	relay_start
	"$UDPDELAY" -j "$JIT" 127.0.0.1:$PPORT 127.0.0.1:$PORT $((RTT / 2)) >"$W/delay.out" 2>&1 &
	DP=$!
	BG_PIDS="$BG_PIDS $DP"
	wait_for "$W/delay.out" listening
	ok $? "$s: the relay and the jittery delay proxy start" "$(cat "$W/relay.log" "$W/delay.out")"

	one_call jb
	ok $? "$s: a 6 s call through ${RTT} ms RTT +-${JIT} ms jitter, with the jitter buffer" \
		"$(cat "$W/jb.stat_a" "$W/alice.log" | tail -30)"
	one_call arrival
	ok $? "$s: the same call playing frames on arrival" \
		"$(cat "$W/arrival.stat_a" "$W/alice.log" | tail -30)"
	for m in jb arrival; do
		diag "$s $m: SNR alice->bob $(cat "$W/$m.ab") dB, bob->alice $(cat "$W/$m.ba") dB;" \
			"alice got: reordered $(g "$W/$m.stat_a" call_reordered)" \
			"lost $(g "$W/$m.stat_a" call_lost) fec $(g "$W/$m.stat_a" call_fec)" \
			"late $(g "$W/$m.stat_a" call_late) delay $(g "$W/$m.stat_a" call_jitter_delay_us) us;" \
			"bob got: reordered $(g "$W/$m.stat_b" call_reordered)" \
			"lost $(g "$W/$m.stat_b" call_lost) late $(g "$W/$m.stat_b" call_late)" \
			"delay $(g "$W/$m.stat_b" call_jitter_delay_us) us"
	done
	[ "$(g "$W/jb.stat_a" call_reordered)" -gt 0 ] && [ "$(g "$W/jb.stat_b" call_reordered)" -gt 0 ] &&
		[ "$(g "$W/arrival.stat_a" call_reordered)" -gt 0 ]
	ok $? "$s: the link reordered frames (both directions)" \
		"$(g "$W/jb.stat_a" call_reordered) $(g "$W/jb.stat_b" call_reordered)"
	[ "$(g "$W/jb.stat_a" call_misordered)" = 0 ] && [ "$(g "$W/jb.stat_b" call_misordered)" = 0 ] &&
		[ "$(g "$W/jb.stat_a" call_rejected)" = 0 ] && [ "$(g "$W/jb.stat_b" call_rejected)" = 0 ]
	ok $? "$s: the jitter buffer played no frame twice and none out of order" \
		"$(cat "$W/jb.stat_a" "$W/jb.stat_b")"
	diag "$s rekeys: alice sent epoch $(g "$W/jb.stat_a" call_tx_epoch), received epoch" \
		"$(g "$W/jb.stat_a" call_rx_epoch) ($(g "$W/jb.stat_a" call_rx_rekeys) steps);" \
		"bob sent $(g "$W/jb.stat_b" call_tx_epoch), received $(g "$W/jb.stat_b" call_rx_epoch)"
	[ "$(g "$W/jb.stat_a" call_rx_epoch)" -ge 6 ] && [ "$(g "$W/jb.stat_b" call_rx_epoch)" -ge 6 ] &&
		[ "$(g "$W/jb.stat_a" call_rx_rekeys)" -ge 5 ] && [ "$(g "$W/jb.stat_b" call_rx_rekeys)" -ge 5 ] &&
		[ "$(g "$W/jb.stat_a" call_no_key)" = 0 ] && [ "$(g "$W/jb.stat_b" call_no_key)" = 0 ]
	ok $? "$s: both sides rekeyed 5+ times (every 50 frames) with no frame refused for want of a key" \
		"$(cat "$W/jb.stat_a" "$W/jb.stat_b")"
	# on arrival most frames that lose the race are rebuilt from FEC, so
	# the whole-call SNR differs by about 1 dB (6 s, speech-like); the
	# frames that had to be rebuilt or concealed differ by far more
	awk -v j="$(cat "$W/jb.ab")" -v a="$(cat "$W/arrival.ab")" \
		-v k="$(cat "$W/jb.ba")" -v b="$(cat "$W/arrival.ba")" \
		'BEGIN { exit !(j > a && k > b && j >= 4 && k >= 4) }'
	ok $? "$s: the decoded audio is better with the jitter buffer than without (both directions)" \
		"jb $(cat "$W/jb.ab") / $(cat "$W/jb.ba"); on arrival $(cat "$W/arrival.ab") / $(cat "$W/arrival.ba")"
	[ $((2 * $(g "$W/jb.stat_a" call_lost))) -lt "$(g "$W/arrival.stat_a" call_lost)" ] &&
		[ $((2 * $(g "$W/jb.stat_b" call_lost))) -lt "$(g "$W/arrival.stat_b" call_lost)" ]
	ok $? "$s: the jitter buffer rebuilds or conceals less than half the frames playing on arrival does" \
		"lost: jb $(g "$W/jb.stat_a" call_lost) / $(g "$W/jb.stat_b" call_lost), on arrival $(g "$W/arrival.stat_a" call_lost) / $(g "$W/arrival.stat_b" call_lost)"
	[ -n "${KEEP_AUDIO:-}" ] && cp "$W"/*.wav "$W"/*.stat_? "$KEEP_AUDIO"/ 2>/dev/null
	kill "$DP" 2>/dev/null
	wait "$DP" 2>/dev/null
	relay_stop TERM
done
finish
