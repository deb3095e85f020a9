#!/usr/bin/env bash
# Integration: the hostile relay at full strength (issue 15, "Tests"), both
# suites (HF_SUITES), in a network namespace of its own (so a packet
# capture of its loopback holds this test's traffic and nothing else):
# two calls at once (alice -> bob, carol -> dave) for HF_CALL_S seconds
# from speech-like WAV files, and HF_MSGS messages carrying canary
# strings, at the same time. The issue's run is HF_CALL_S=60
# HF_MSGS=1000 (318 s for both suites here with HF_PTT=10, over the 3 min
# a CI test may take); the defaults are 20 s and 300 messages. While the calls run
# and after the messages: zero canary strings, zero PCM canaries (16-byte
# runs of the input files' samples) and zero call keys (dumped by the
# devices through the test-only TWOFOLD_COMMS_TEST_KEYLOG) in the relay's
# memory (/proc/PID/mem, every readable mapping), its SQLite file and WAL,
# its logs, and a packet capture of all its traffic (pcap_lo.py: an
# AF_PACKET reader, tcpdump is not installed here). Positive controls:
# the scanner finds each needle where it is (the input files, its own
# memory), and the capture holds a plaintext datagram the test sent.
# Meanwhile HF_PTT (default 5) push-to-talk bursts of 1 s in a talk group
# (erin talks, frank listens; twofold-groupd publishes the group): their
# PCM canaries and the epoch secret are needles too. TAP.
if [ -z "${HF_NETNS:-}" ]; then
	# a private network namespace: it (and its captures) go with us
	exec unshare --net env HF_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${AUDIOTOOL:?}" "${TWOFOLD_GROUPD:?}"
PORT=51976
. "$(dirname "$0")/commslib.sh"
D=$(cd "$(dirname "$0")" && pwd)
SCAN="python3 $D/canary_scan.py"
NEEDLE=zq81CANARY
CTRL=zq81CONTROLPLAIN
CALL_S=${HF_CALL_S:-20}
MSGS=${HF_MSGS:-300}
PTT=${HF_PTT:-5}
CP=

svc_start_x() { # svc_start with the test key log (NAME [ARGS...])
	local n=$1
	TWOFOLD_COMMS_TEST_KEYLOG="$W/$n.keys" \
		"$TWOFOLD_COMMS" --state "$W/$n" service --relay 127.0.0.1:$PORT \
		--relay-pub "$W/relay.key.pub" --key "$W/$n.key" \
		--cert "$W/$n.cert" --ca "$W/ca/ca.pub" -v "${@:2}" \
		>"$W/$n.out" 2>>"$W/$n.log" &
	SP[$n]=$!
	bg_update
	wait_for "$W/$n.out" ready
}
wait_stat() { # wait_stat NAME KEY MIN SECONDS
	for _ in $(seq $(($4 * 10))); do
		[ "$(stat_of "$1" "$2")" -ge "$3" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# every needle of this suite's run: the canary string, PCM canaries from
# each input file, every call key in the key logs
needles() {
	local f off len
	echo "$NEEDLE"
	for f in a b c d; do
		len=$((CALL_S * 16000))
		for off in $((len / 10)) $((len / 2)) $((len * 9 / 10)); do
			echo "hex:$("$AUDIOTOOL" canary "$W/$f.wav" $off 16)"
		done
	done
	for off in 1600 8000 14400; do
		echo "hex:$("$AUDIOTOOL" canary "$W/e.raw" $off 16)"
	done
	[ -f "$W/gd/groups/north/secret" ] &&
		echo "hex:$(od -An -tx1 -v "$W/gd/groups/north/secret" | tr -d ' \n')"
	cat "$W"/*.keys 2>/dev/null | awk '{ print "hex:" $2 }' | sort -u
}
count_in() { # count_in WHERE ARGS...: the sum over every needle
	local t=0 x
	while read -r x; do
		t=$((t + $($SCAN "$x" "$@")))
	done < <(needles)
	echo $t
}

for s in ${HF_SUITES:-intl gm}; do
	comms_world $s carol dave erin frank
	ca keygen --suite $s -o "$W/groupd.key"
	ca issue --ca "$W/ca" --officer groupd --role group-authority \
		--pubkey "$W/groupd.key.pub" --days 1 -o "$W/groupd.cert"
	"$AUDIOTOOL" gen "$W/e.raw" 1 190
	for f in a:140 b:210 c:170 d:240; do
		"$AUDIOTOOL" gen "$W/${f%:*}.wav" "$CALL_S" "${f#*:}"
	done
	python3 "$D/pcap_lo.py" lo "$W/relay.pcap" >"$W/pcap.out" 2>"$W/pcap.log" &
	CP=$!
	BG_PIDS="$BG_PIDS $CP"
	wait_for "$W/pcap.out" capturing
	ok $? "$s: capturing the namespace's loopback" "$(cat "$W/pcap.log")"
	relay_start
	for n in bob dave alice carol; do svc_start_x $n; done
	for n in bob dave alice carol; do
		wait_status $n "relay connected" || break
	done
	[ -f "$W/bob/published" ] && [ -f "$W/dave/published" ] &&
		wait_status carol "relay connected"
	ok $? "$s: four devices connected" "$(cat "$W"/*.log)"
	svc_start_x erin
	svc_start_x frank --audio-out "$W/frank.heard"
	svc_start_x groupd
	for n in erin frank groupd; do wait_status $n "relay connected" || break; done
	gd init --key "$W/groupd.key" --cert "$W/groupd.cert" --ca "$W/ca/ca.pub" >>"$W/gd.log" 2>&1 &&
		gd create north >>"$W/gd.log" && gd add north "$W/erin.cert" >>"$W/gd.log" &&
		gd add north "$W/frank.cert" >>"$W/gd.log" &&
		gd publish north --relay 127.0.0.1:$PORT --relay-pub "$W/relay.key.pub" \
			--comms "$W/groupd" >>"$W/gd.log" 2>&1 &&
		wait_status erin "group north epoch 2 members 2 joined" &&
		wait_status frank "group north epoch 2 members 2 joined"
	ok $? "$s: a talk group (erin, frank) published and joined" "$(cat "$W/gd.log")"

	# the two calls
	cm alice call bob --audio-in "$W/a.wav" --audio-out "$W/bob-heard-by-alice.wav" >/dev/null &&
		cm carol call dave --audio-in "$W/c.wav" --audio-out "$W/dave-heard-by-carol.wav" >/dev/null &&
		wait_status bob "call incoming" && wait_status dave "call incoming" &&
		cm bob answer --audio-in "$W/b.wav" --audio-out "$W/alice-heard-by-bob.wav" >/dev/null &&
		cm dave answer --audio-in "$W/d.wav" --audio-out "$W/carol-heard-by-dave.wav" >/dev/null &&
		wait_status alice "call active" && wait_status carol "call active"
	ok $? "$s: two calls active (alice-bob, carol-dave)" "$(cm alice status) $(cm carol status)"

	# the messages, meanwhile: half each way, the first sets the sessions up
	cm alice msg send bob "$NEEDLE-$s-setup" >/dev/null
	wait_read bob 1
	for i in $(seq $((MSGS / 2))); do
		cm alice msg send bob "$NEEDLE-$s-a2b-$i secret text" >/dev/null
		cm bob msg send alice "$NEEDLE-$s-b2a-$i secret text" >/dev/null
	done
	got_b=0 got_a=0
	: >"$W/bob.all"
	: >"$W/alice.all"
	for _ in $(seq 120); do
		cm bob msg read >>"$W/bob.all" 2>/dev/null
		cm alice msg read >>"$W/alice.all" 2>/dev/null
		got_b=$(grep -c "^from alice: $NEEDLE-$s-a2b-" "$W/bob.all")
		got_a=$(grep -c "^from bob: $NEEDLE-$s-b2a-" "$W/alice.all")
		[ $((got_a + got_b)) -ge "$MSGS" ] && break
		sleep 1
	done
	[ "$got_b" = $((MSGS / 2)) ] && [ "$got_a" = $((MSGS / 2)) ] &&
		[ "$(sort "$W/bob.all" "$W/alice.all" | uniq -d | wc -l)" = 0 ]
	ok $? "$s: $MSGS messages delivered, each once" "$got_b / $got_a"

	# PTT bursts, the calls still on
	for i in $(seq "$PTT"); do
		cm erin ptt north --press --audio-in "$W/e.raw" >/dev/null &&
			wait_status frank "group north .* heard $((i * 50)) " &&
			wait_status erin "group north .* floor idle" || break
	done
	cm frank status | grep -q "group north .* heard $((PTT * 50)) "
	ok $? "$s: $PTT PTT bursts heard in full" "$(cm frank status | grep ^group)"
	# the calls run their full length; scan the relay while they do
	wait_stat bob call_rx_frames $((CALL_S * 50 - 100)) $((CALL_S + 30)) &&
		wait_stat dave call_rx_frames $((CALL_S * 50 - 100)) 30
	ok $? "$s: $CALL_S s of audio on both calls" "$(cm bob status) $(cm dave status)"
	[ "$(stat_of bob call_rejected)" = 0 ] && [ "$(stat_of dave call_rejected)" = 0 ]
	ok $? "$s: no frame rejected on the honest relay" "$(cm bob status)"
	mem=$(count_in mem "$RP")
	[ "$mem" = 0 ]
	ok $? "$s: zero canaries, PCM or call keys in the relay's memory during the calls" "$mem"

	for n in alice carol; do cm $n hangup >/dev/null; done
	wait_status bob "call idle" && wait_status dave "call idle"
	ok $? "$s: both calls hung up" "$(cm bob status)"
	ab=$("$AUDIOTOOL" snr "$W/a.wav" "$W/alice-heard-by-bob.wav")
	cd_=$("$AUDIOTOOL" snr "$W/c.wav" "$W/carol-heard-by-dave.wav")
	awk -v a="${ab#snr }" -v b="${cd_#snr }" \
		'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[1] >= 4 && y[1] >= 4) }'
	ok $? "$s: the audio decodes on both calls (SNR >= 4 dB)" "$ab / $cd_"
	keys=$(cat "$W"/*.keys | wc -l)
	[ "$keys" -ge 8 ]
	ok $? "$s: the call keys were logged (the needles include them)" "$keys"

	# control: a plaintext datagram to the relay is in the capture
	python3 -c "import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[1].encode(), ('127.0.0.1', $PORT))" "$CTRL"
	sleep 0.5
	mem=$(count_in mem "$RP")
	[ "$mem" = 0 ]
	ok $? "$s: zero canaries, PCM or call keys in the relay's memory after the messages" "$mem"
	relay_stop TERM
	kill -TERM "$CP" && wait "$CP"
	CP=
	ctl=$($SCAN "$CTRL" files "$W/relay.pcap")
	sz=$(stat -c %s "$W/relay.pcap")
	[ "$ctl" -ge 1 ] && [ "$sz" -gt 1000000 ]
	ok $? "$s: the capture holds the relay's traffic and the plaintext control" \
		"control $ctl, $sz bytes; $(cat "$W/pcap.log")"
	c1=$($SCAN "$NEEDLE" files "$W"/bob/read/* | head -1)
	c2=$($SCAN "hex:$("$AUDIOTOOL" canary "$W/a.wav" $((CALL_S * 8000)) 16)" files "$W/a.wav")
	k=$(sed -n 1p "$W/alice.keys" | cut -d' ' -f2)
	python3 -c "import sys; open(sys.argv[1], 'wb').write(bytes.fromhex(sys.argv[2]))" "$W/key.bin" "$k"
	c3=$($SCAN "hex:$k" files "$W/key.bin")
	[ "$c1" -ge 1 ] && [ "$c2" -ge 1 ] && [ "$c3" -ge 1 ] && [ "$($SCAN "$NEEDLE" self)" -ge 1 ]
	ok $? "$s: the scanner finds every kind of needle where it is (control)" "$c1 $c2 $c3"
	pc=$(count_in files "$W/relay.pcap")
	[ "$pc" = 0 ]
	ok $? "$s: zero canaries, PCM or call keys in the packet capture" "$pc"
	db=$(count_in files "$W/store.db" "$W/store.db-wal")
	[ "$db" = 0 ] && [ -s "$W/store.db" ]
	ok $? "$s: zero in the relay's SQLite file and WAL" "$db"
	logs=$(count_in files "$W/relay.log" "$W/relay.out")
	[ "$logs" = 0 ] && [ -s "$W/relay.log" ]
	ok $? "$s: zero in the relay's logs (which are not empty)" "$logs"
	for n in alice bob carol dave erin frank groupd; do svc_stop $n; done
done
finish
