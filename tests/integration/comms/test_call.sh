#!/usr/bin/env bash
# Integration: calls between two twofold-comms services through
# twofold-relay on loopback, both suites. alice calls bob: ringing (the
# call's keys are ready before the answer), bob answers, 5 s of audio
# each way from WAV files, alice hangs up. The audio each side received
# matches what the other sent (SNR after alignment: it really decodes,
# and a control comparison with the wrong file stays low). The relay's
# memory (/proc/PID/mem, read during the call), its logs and its store
# hold no raw PCM canary from the input files and no SFrame base key
# (dumped by the caller through the test-only TWOFOLD_COMMS_TEST_KEYLOG).
# Refusals: a call to an unknown officer, to one who is offline, to a
# revoked one, a second call while busy, answer with no call: each a clear
# error; a call from a revoked officer does not ring and is shown. TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${AUDIOTOOL:?}"
PORT=51995
. "$(dirname "$0")/commslib.sh"
SCAN="python3 $(dirname "$0")/canary_scan.py"
SNR_MIN=${SNR_MIN:-4}

# svc_start with extra options and the test key log (NAME ARGS...)
svc_start_x() {
	local n=$1
	shift
	TWOFOLD_COMMS_TEST_KEYLOG="$W/$n.keys" \
		"$TWOFOLD_COMMS" --state "$W/$n" service --relay 127.0.0.1:$PORT \
		--relay-pub "$W/relay.key.pub" --key "$W/$n.key" \
		--cert "$W/$n.cert" --ca "$W/ca/ca.pub" -v "$@" \
		>"$W/$n.out" 2>>"$W/$n.log" &
	SP[$n]=$!
	bg_update
	wait_for "$W/$n.out" ready
}

for s in intl gm; do
	comms_world $s carol dave
	ca revoke --ca "$W/ca" 4 # dave
	ca denylist --ca "$W/ca" -o "$W/dl"
	"$AUDIOTOOL" gen "$W/a.wav" 5 140
	"$AUDIOTOOL" gen "$W/b.wav" 5 210
	relay_start
	ok $? "$s: relay starts" "$(cat "$W/relay.log")"
	# carol and dave publish their prekeys (so the relay knows them) and
	# go offline; the relay restarts, so it knows they are (a relay keeps
	# a session it has not heard from: see docs/comms.md)
	for n in carol dave; do
		svc_start_x $n
		wait_status $n "relay connected" && [ -f "$W/$n/published" ]
		svc_stop $n
	done
	relay_stop TERM
	relay_start
	svc_start_x bob --denylist "$W/dl"
	svc_start_x alice --denylist "$W/dl"
	wait_status bob "relay connected" && wait_status alice "relay connected"
	ok $? "$s: alice and bob connect" "$(cat "$W/alice.log" "$W/bob.log")"

	out=$(cm alice call zed 2>&1)
	[ $? -ne 0 ] && has "no such officer" "$out"
	ok $? "$s: a call to an unknown officer: a clear error" "$out"
	out=$(cm alice call carol 2>&1)
	[ $? -ne 0 ] && has "carol is not online" "$out"
	ok $? "$s: a call to an offline officer: a clear error" "$out"
	out=$(cm alice call dave 2>&1)
	[ $? -ne 0 ] && has "revoked" "$out"
	ok $? "$s: a call to a revoked officer: a clear error" "$out"
	out=$(cm bob answer 2>&1)
	[ $? -ne 0 ] && has "no incoming call" "$out"
	ok $? "$s: answer with no call: a clear error" "$out"

	# a revoked officer calls bob (the relay, without the deny-list, lets
	# dave connect): bob refuses before ringing and says why
	svc_start_x dave
	wait_status dave "relay connected"
	cm dave call bob >"$W/dave.call" 2>&1 &
	dcall=$!
	wait_status bob "call_refused dave: .*revoked" && has "call idle" "$(cm bob status)"
	ok $? "$s: a call from a revoked officer does not ring and is shown as refused" \
		"$(cm bob status) $(cat "$W/bob.log")"
	cm dave hangup >/dev/null 2>&1
	wait "$dcall" 2>/dev/null
	svc_stop dave

	: >"$W/alice.keys"
	out=$(cm alice call bob --audio-in "$W/a.wav" --audio-out "$W/alice-got.wav" 2>&1)
	[ $? -eq 0 ] && has "ringing bob" "$out"
	ok $? "$s: alice calls bob: ringing" "$out $(cat "$W/alice.log")"
	wait_status bob "call incoming" && has "call ringing" "$(cm alice status)"
	ok $? "$s: bob's phone rings, alice hears ringing" "$(cm bob status)"
	[ "$(grep -c '^tx \|^rx ' "$W/alice.keys")" = 2 ] &&
		[ "$(sed -n 1p "$W/alice.keys" | cut -d' ' -f2)" = \
			"$(sed -n 2p "$W/bob.keys" | cut -d' ' -f2)" ]
	ok $? "$s: the media keys are ready on both sides before the answer" \
		"$(cat "$W/alice.keys" "$W/bob.keys" 2>&1)"
	out=$(cm alice call bob 2>&1)
	[ $? -ne 0 ] && has "in progress" "$out"
	ok $? "$s: a second call while one is in progress is refused" "$out"

	out=$(cm bob answer --audio-in "$W/b.wav" --audio-out "$W/bob-got.wav" 2>&1)
	ok $? "$s: bob answers" "$out"
	wait_status alice "call active"
	ok $? "$s: the call is active" "$(cm alice status)"
	# 5 s each way (250 frames), then a little more
	wait_frames bob call_rx_frames 260 && wait_frames alice call_rx_frames 260
	ok $? "$s: 5 s of audio each way" "$(cm alice status) $(cm bob status)"

	# the relay, during the call: no PCM from either file, no base key
	found=0
	for f in a b; do
		for off in 16000 40000 64000; do
			c=$("$AUDIOTOOL" canary "$W/$f.wav" $off 16)
			found=$((found + $($SCAN "hex:$c" mem "$RP")))
			found=$((found + $($SCAN "hex:$c" files "$W/relay.log" "$W/relay.out" "$W/store.db" "$W/store.db-wal")))
		done
	done
	for k in $(cut -d' ' -f2 "$W/alice.keys"); do
		found=$((found + $($SCAN "hex:$k" mem "$RP")))
		found=$((found + $($SCAN "hex:$k" files "$W/relay.log" "$W/store.db" "$W/store.db-wal")))
	done
	[ "$found" = 0 ]
	ok $? "$s: no PCM canary and no media key in the relay's memory, log or store" "$found"
	# the positive control: the scan finds the canary where it is
	c=$("$AUDIOTOOL" canary "$W/a.wav" 16000 16)
	[ "$($SCAN "hex:$c" files "$W/a.wav")" -ge 1 ] && [ "$($SCAN "hex:$c" self)" -ge 1 ]
	ok $? "$s: the scan finds the canary where it is (control)"

	out=$(cm alice hangup 2>&1)
	ok $? "$s: alice hangs up" "$out"
	wait_status bob "call_ended alice hung up" && wait_status alice "call idle"
	ok $? "$s: bob sees the hang-up" "$(cm bob status)"

	ab=$("$AUDIOTOOL" snr "$W/a.wav" "$W/bob-got.wav")
	ba=$("$AUDIOTOOL" snr "$W/b.wav" "$W/alice-got.wav")
	wrong=$("$AUDIOTOOL" snr "$W/a.wav" "$W/alice-got.wav")
	diag "$s: alice->bob $ab; bob->alice $ba; wrong file $wrong"
	awk -v a="${ab#snr }" -v b="${ba#snr }" -v w="${wrong#snr }" -v m="$SNR_MIN" \
		'BEGIN { split(a, x, " "); split(b, y, " "); split(w, z, " ");
			exit !(x[1] >= m && y[1] >= m && z[1] < 2) }'
	ok $? "$s: the audio received matches the audio sent (SNR >= $SNR_MIN dB), the wrong file does not" \
		"$ab / $ba / $wrong"
	[ "$(stat_of bob call_rejected)" = 0 ] && [ "$(stat_of alice call_rejected)" = 0 ]
	ok $? "$s: no frame rejected on a clean path" "$(cm alice status)"

	# 10 % random loss on bob's datagrams (nftables numgen, in this
	# test's own network namespace): the call goes on, alice's decoder
	# rebuilds lost frames from the next packet's FEC, and the audio still
	# decodes (the FEC-vs-concealment figure is test_media's)
	bport=$(ss -Hunap | awk -v p="pid=${SP[bob]}," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
	cm alice call bob --audio-out "$W/alice-lossy.wav" >/dev/null &&
		wait_status bob "call incoming" &&
		nft -f - <<-NFT &&
		table inet tfcallloss {
			chain out {
				type filter hook output priority 0;
				udp sport $bport udp dport $PORT numgen random mod 10 == 0 drop
			}
		}
		NFT
		cm bob answer --audio-in "$W/b.wav" >/dev/null &&
		wait_frames alice call_rx_frames 230
	ok $? "$s: a call with 10 % loss on bob's side goes on" "bob port $bport; $(cm alice status)"
	nft delete table inet tfcallloss 2>/dev/null
	cm alice hangup >/dev/null
	wait_status alice "call idle"
	lost=$(stat_of alice call_lost)
	fec=$(stat_of alice call_fec)
	rx=$(stat_of alice call_rx_frames)
	lossy=$("$AUDIOTOOL" snr "$W/b.wav" "$W/alice-lossy.wav")
	diag "$s: 10 % loss: $lost of $((rx + lost)) frames lost, $fec rebuilt from FEC; bob->alice $lossy"
	awk -v l="$lost" -v r="$rx" -v f="$fec" -v q="${lossy#snr }" \
		'BEGIN { split(q, x, " "); p = l / (l + r);
			exit !(p > 0.04 && p < 0.2 && f > 0 && x[1] >= 1) }'
	ok $? "$s: the lost frames were rebuilt (FEC) and the audio still decodes" \
		"lost $lost rx $rx fec $fec $lossy"

	svc_stop alice
	svc_stop bob
	relay_stop TERM
done
finish
