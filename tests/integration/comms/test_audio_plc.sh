#!/usr/bin/env bash
# Integration: the device sink (src/comms/devplay.c, playout.c) on a
# sound card with a clock, both suites. No card here, and the null pcm
# consumes everything at once (it can neither run dry nor say what is
# queued), so alice's card is tfclock (alsa_tfclock.c, an ALSA ioplug
# plugin this test loads from its ALSA_CONFIG_PATH file): it consumes
# 16,000 frames a second of CLOCK_MONOTONIC (x (1 + ppm/10^6)), reports
# an underrun as a card does, and writes its counts to a stats file; the
# file plugin above it keeps what was written. alice reaches the relay
# through udpdelay (20 ms each way, +-JIT ms of jitter, -s: a stall of
# SPIKE ms on SIGUSR1); bob sits next to the relay and talks from a file.
#  - a call with a stall in the middle: the card never ran dry (tfclock's
#    xruns 0, the service's call_dev_xruns 0: no snd_pcm_recover); it got
#    a continuous stream (frames written = its running time / 20 ms, less
#    at most what was still queued at the close: the buffer, 6 periods);
#    the stall was filled with concealed frames (call_dev_concealed,
#    call_dev_inserted); what the card played before it is bob's speech
#    (SNR); the
#    lag behind the jitter buffer's target grew by the stall
#    (call_play_lag_max_us) and came back near 0 afterwards by drops at
#    quiet frames (call_dev_dropped > 0, |call_play_lag_us| <= 50 ms);
#    frames in order (call_misordered 0);
#  - a card 2 % slower than the sender's clock (ppm -20000): frames are
#    dropped (about 1 a second), the lag stays bounded, no underrun;
#  - a card 2 % faster (ppm +20000): concealed frames are inserted, no
#    underrun;
#  - a push-to-talk burst through the stall, played on bob's tfclock card
#    (bob behind the proxy this time): no underrun, concealed frames
#    counted (ptt_dev_concealed), the card fed for as long as it ran.
# Figures (frames, lag, drops) are printed; no timing is asserted.
# TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${UDPDELAY:?}"
: "${AUDIOTOOL:?}" "${TFCLOCK_SO:?}" "${TWOFOLD_GROUPD:?}"
PORT=51962
PPORT=51963
. "$(dirname "$0")/commslib.sh"
JIT=${JITTER_MS:-10}
SPIKE=${SPIKE_MS:-300}
DP=

if ! grep -qa snd_pcm_open "$TWOFOLD_COMMS"; then
	echo "1..0 # SKIP twofold-comms built without ALSA (-Dalsa=disabled)"
	exit 0
fi

g() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
st() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$1"; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# card NAME PPM: an asym pcm NAME, capture from W/NAME.mic, playback on
# tfclock into W/NAME.spk with its stats in W/NAME.clk
card() {
	cat <<-EOF
	pcm.$1 {
		type asym
		capture.pcm { type file; slave.pcm { type null }; file "/dev/null"; infile "$W/$1.mic"; format raw }
		playback.pcm { type file; slave.pcm { type tfclock; stats "$W/$1.clk"; ppm $2 }; file "$W/$1.spk"; format raw }
	}
	EOF
}
# frames_ok NAME [PPM]: the card was fed for as long as it ran: frames
# written (the file plugin's bytes / 640) = its running time / 20 ms (on
# its clock: x (1 + PPM/10^6)) + what was still queued at the close
# (0..6 periods, the buffer; -1 for the rounding); prints the figures
frames_ok() {
	local f run q
	f=$(($(size "$W/$1.spk") / 640))
	run=$((($(st "$W/$1.clk" close_us) - $(st "$W/$1.clk" first_start_us)) *
		(1000000 + ${2:-0}) / 1000000 / 20000))
	q=$((f - run))
	diag "$1: card ran $((run * 20)) ms from its start to its close, got $f frames" \
		"($((q)) more than it played: queued at the close); xruns $(st "$W/$1.clk" xruns)"
	[ "$run" -gt 0 ] && [ "$q" -ge -1 ] && [ "$q" -le 6 ]
}
delay_start() { # delay_start: udpdelay between PPORT and the relay
	"$UDPDELAY" -j "$JIT" -s "$SPIKE" 127.0.0.1:$PPORT 127.0.0.1:$PORT 20 >"$W/delay.out" 2>&1 &
	DP=$!
	BG_PIDS="$BG_PIDS $DP"
	wait_for "$W/delay.out" listening
}
delay_stop() {
	kill "$DP" 2>/dev/null
	wait "$DP" 2>/dev/null
	DP=
}
# a call alice (on DEV, behind the proxy) -> bob (files) for SECS
# seconds; STALL=1 stalls the link after 3 s; the status of alice at its
# end in W/DEV.stat
one_call() {
	local dev=$1 secs=$2 stall=${3:-0} r
	cm alice call bob --audio-dev "$dev" >/dev/null && wait_status bob "call incoming" &&
		cm bob answer --audio-in "$W/b.wav" --audio-out "$W/bob.wav" >/dev/null &&
		wait_status alice "call active" && wait_frames alice call_dev_frames 150
	r=$?
	if [ "$stall" = 1 ]; then
		kill -USR1 "$DP"
		wait_for "$W/delay.out" stalled
	fi
	sleep "$secs"
	cm alice status >"$W/$dev.stat" 2>&1
	cm alice hangup >/dev/null 2>&1
	wait_status bob "call idle" && wait_status alice "call idle"
	wait_file "$W/$dev.clk"
	for _ in $(seq 50); do [ "$(st "$W/$dev.clk" close_us)" -gt 0 ] 2>/dev/null && break; sleep 0.1; done
	return $r
}
gd() { "$TWOFOLD_GROUPD" --state "$W/gd" "$@"; }

for s in ${CALL_SUITES:-intl gm}; do
	comms_world $s
	ca keygen --suite "$s" -o "$W/groupd.key"
	ca issue --ca "$W/ca" --officer groupd --role group-authority \
		--pubkey "$W/groupd.key.pub" --days 1 -o "$W/groupd.cert"
	"$AUDIOTOOL" gen "$W/b.wav" 30 210
	"$AUDIOTOOL" gen "$W/b.raw" 30 210 # the same samples, raw
	"$AUDIOTOOL" gen "$W/burst.raw" 4 180
	for n in alice alice_slow alice_fast bob; do : >"$W/$n.mic"; done
	{
		echo "pcm_type.tfclock { lib \"$TFCLOCK_SO\" }"
		card alice 0
		card alice_slow -20000
		card alice_fast 20000
		card bob 0
	} >"$W/asound.conf"
	export ALSA_CONFIG_PATH=$W/asound.conf
	relay_start
	delay_start
	ok $? "$s: the relay and the delay proxy start" "$(cat "$W/relay.log" "$W/delay.out")"
	svc_start bob
	svc_via alice $PPORT -v --audio-dev alice
	wait_status bob "relay connected" && wait_status alice "relay connected" &&
		wait_published bob
	ok $? "$s: alice (behind the proxy, on a clocked card) and bob connect" \
		"$(cat "$W/alice.log" "$W/bob.log" | tail -20)"

	# a stall in the middle of a call
	one_call alice 6 1
	ok $? "$s: a call on alice's card, the link stalled ${SPIKE} ms after 3 s" \
		"$(cat "$W/alice.stat" "$W/alice.log" | tail -40)"
	a=$W/alice.stat
	diag "$s stall: card frames $(g "$a" call_dev_frames), concealed" \
		"$(g "$a" call_dev_concealed) (inserted $(g "$a" call_dev_inserted)), dropped" \
		"$(g "$a" call_dev_dropped), fec $(g "$a" call_fec), late $(g "$a" call_late);" \
		"lag max $(g "$a" call_play_lag_max_us) us, at the end $(g "$a" call_play_lag_us) us;" \
		"jitter buffer delay $(g "$a" call_jitter_delay_us) us"
	[ "$(st "$W/alice.clk" xruns)" = 0 ] && [ "$(g "$a" call_dev_xruns)" = 0 ]
	ok $? "$s: the card never ran dry (no underrun, nothing recovered)" \
		"$(cat "$W/alice.clk") $(g "$a" call_dev_xruns)"
	frames_ok alice
	ok $? "$s: the card got a continuous stream (frames = its running time / 20 ms, + at most its queue)" \
		"$(cat "$W/alice.clk") $(size "$W/alice.spk")"
	# inserted: concealed while the stream stalled, the index kept (what
	# came after the stall still plays); not only the jitter buffer's
	# concealments of frames given up as lost
	[ "$(g "$a" call_dev_concealed)" -ge 5 ] && [ "$(g "$a" call_dev_inserted)" -ge 5 ]
	ok $? "$s: the stall was filled with concealed frames" "$(cat "$a")"
	lag=$(g "$a" call_play_lag_us)
	[ "$(g "$a" call_play_lag_max_us)" -ge $((SPIKE * 1000 / 2)) ] &&
		[ "$(g "$a" call_dev_dropped)" -ge 1 ] &&
		[ "${lag#-}" -le 50000 ]
	ok $? "$s: the lag grew by the stall and came back near the target by drops" "$(cat "$a")"
	# what the card played before the stall is bob's speech (after it,
	# the inserts and drops move the alignment: the whole file's SNR at
	# one delay says little)
	# the best of three 1.5 s windows in the first 2.5 s (the speech cut
	# at the same offset, so the delay search, 0..1 s, still covers it):
	# under load the call's first frames may come late and be
	# concealed, which moves the alignment within a longer window
	pre=
	for off in 0 16000 32000; do
		tail -c +$((off + 1)) "$W/alice.spk" | head -c 48000 >"$W/pre.raw"
		tail -c +$((off + 1)) "$W/b.raw" | head -c 80000 >"$W/ref.raw"
		pre+="$("$AUDIOTOOL" snr "$W/ref.raw" "$W/pre.raw"); "
	done
	diag "$s stall: SNR of 1.5 s windows of the card's first 2.5 s against bob's speech: $pre" \
		"of the whole call at one delay: $("$AUDIOTOOL" snr "$W/b.wav" "$W/alice.spk")"
	awk -v a="$pre" -v m="${SNR_MIN:-4}" 'BEGIN { n = split(a, w, ";"); best = -99
		for (i = 1; i <= n; i++) if (split(w[i], x, " ") >= 2 && x[2] + 0 > best) best = x[2] + 0
		exit !(best >= m) }'
	ok $? "$s: the card played bob's speech (SNR >= ${SNR_MIN:-4} dB in a second before the stall)" "$pre"
	[ "$(g "$a" call_misordered)" = 0 ] && [ "$(g "$a" call_rejected)" = 0 ]
	ok $? "$s: no frame played twice or out of order" "$(cat "$a")"

	# a card slower, then faster, than the sender's clock
	one_call alice_slow 10
	ok $? "$s: a 10 s call on a card 2 % slower than the sender" \
		"$(cat "$W/alice_slow.stat" "$W/alice.log" | tail -40)"
	a=$W/alice_slow.stat
	diag "$s slow card: frames $(g "$a" call_dev_frames), dropped $(g "$a" call_dev_dropped)," \
		"inserted $(g "$a" call_dev_inserted), lag $(g "$a" call_play_lag_us) us" \
		"(max $(g "$a" call_play_lag_max_us)), card $(cat "$W/alice_slow.clk")"
	lag=$(g "$a" call_play_lag_us)
	[ "$(g "$a" call_dev_dropped)" -ge 3 ] && [ "${lag#-}" -le 60000 ] &&
		[ "$(st "$W/alice_slow.clk" xruns)" = 0 ] && frames_ok alice_slow -20000
	ok $? "$s: slow card: frames dropped, the lag bounded, no underrun" "$(cat "$a")"
	one_call alice_fast 10
	ok $? "$s: a 10 s call on a card 2 % faster than the sender" \
		"$(cat "$W/alice_fast.stat" "$W/alice.log" | tail -40)"
	a=$W/alice_fast.stat
	diag "$s fast card: frames $(g "$a" call_dev_frames), inserted $(g "$a" call_dev_inserted)," \
		"dropped $(g "$a" call_dev_dropped), lag $(g "$a" call_play_lag_us) us," \
		"card $(cat "$W/alice_fast.clk")"
	[ "$(g "$a" call_dev_inserted)" -ge 3 ] && [ "$(st "$W/alice_fast.clk" xruns)" = 0 ] &&
		frames_ok alice_fast 20000
	ok $? "$s: fast card: concealed frames inserted, no underrun" "$(cat "$a")"
	svc_stop alice
	svc_stop bob

	# push-to-talk: bob behind the proxy on his card, alice talks
	svc_start alice
	svc_start groupd
	# bob's daemon channel says "foreground yes" (a burst plays on the
	# card only then): chanpair.py, as in test_audio_alsa.sh
	rm -f "$W/bob.fg"
	mkfifo "$W/bob.fg"
	python3 "$(dirname "$0")/chanpair.py" "$W/bob.fg" "$W/bob.said" 7 \
		"$TWOFOLD_COMMS" --state "$W/bob" service --relay 127.0.0.1:$PPORT \
		--relay-pub "$W/relay.key.pub" --key "$W/bob.key" \
		--cert "$W/bob.cert" --ca "$W/ca/ca.pub" -v --audio-dev bob \
		--daemon-fd 7 >"$W/bob.out" 2>>"$W/bob.log" &
	SP[bob]=$!
	bg_update
	wait_for "$W/bob.out" ready
	exec 8>"$W/bob.fg"
	echo "foreground yes" >&8
	wait_status bob "foreground yes"
	ok $? "$s: bob (behind the proxy, on a clocked card) in the foreground" "$(cm bob status)"
	gd init --key "$W/groupd.key" --cert "$W/groupd.cert" --ca "$W/ca/ca.pub" >>"$W/gd.log" 2>&1 &&
		wait_status groupd "relay connected" && wait_status alice "relay connected" &&
		wait_status bob "relay connected" &&
		gd create north >>"$W/gd.log" && gd add north "$W/alice.cert" >>"$W/gd.log" &&
		gd add north "$W/bob.cert" >>"$W/gd.log" &&
		gd publish north --relay 127.0.0.1:$PORT --relay-pub "$W/relay.key.pub" \
			--comms "$W/groupd" >>"$W/gd.log" 2>&1 &&
		wait_status alice "group north .* joined" && wait_status bob "group north .* joined"
	ok $? "$s: a talk group of alice and bob" "$(cat "$W/gd.log"; cm bob status)"
	cm alice ptt north --press --audio-in "$W/burst.raw" >/dev/null &&
		wait_status bob "group north .* heard [5-9][0-9] "
	r=$?
	kill -USR1 "$DP"
	wait_for "$W/delay.out" stalled 2
	# the device went through all 200 frames (played: taken from its
	# jitter buffer, concealed or not; the file's "heard" misses those
	# the stall's burst of datagrams reordered)
	wait_status bob "group north .* played 200 "
	ok $((r + $?)) "$s: bob's card plays alice's 4 s burst through a ${SPIKE} ms stall" "$(cm bob status)"
	# the card is closed 0.5 s after the burst's last frame
	for _ in $(seq 50); do [ "$(st "$W/bob.clk" close_us)" -gt 0 ] 2>/dev/null && break; sleep 0.1; done
	b=$(cm bob status)
	diag "$s burst: $(echo "$b" | grep -E '^group north|^ptt_dev' | tr '\n' ' ') card $(cat "$W/bob.clk")"
	[ "$(st "$W/bob.clk" xruns)" = 0 ] && has "ptt_dev_xruns 0" "$b"
	ok $? "$s: the burst never let bob's card run dry" "$(cat "$W/bob.clk") $b"
	frames_ok bob
	ok $? "$s: bob's card got a continuous stream" "$(cat "$W/bob.clk") $(size "$W/bob.spk")"
	c=$(echo "$b" | awk '$1 == "ptt_dev_concealed" { print $2 }')
	[ "${c:-0}" -ge 5 ]
	ok $? "$s: the stall in the burst was concealed on the card" "$b"
	[ -n "${KEEP_AUDIO:-}" ] && cp "$W"/*.spk "$W"/*.clk "$W"/*.stat "$KEEP_AUDIO"/ 2>/dev/null
	exec 8>&-
	for n in alice bob groupd; do svc_stop $n; done
	delay_stop
	relay_stop TERM
done
finish
