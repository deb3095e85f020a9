#!/usr/bin/env bash
# Integration: talk groups end to end with real processes, both suites:
# twofold-groupd (its own group-authority certificate and its own
# twofold-comms service) makes a group of alice and bob and publishes it;
# the keys reach each member over the pairwise end-to-end sessions; alice
# presses (`twofold-comms ptt north --press --audio-in`), Opus frames in
# SFrame, and bob's service writes what it heard (--audio-out): every
# frame from the first, none concealed (capture from the press, nothing
# clipped); no speech canary or epoch secret in the relay; bob is removed
# (a fresh epoch secret) and hears nothing of alice's next burst; carol
# joins and hears the next one; `group list` and `status` show the floor
# and the epoch. TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${TWOFOLD_GROUPD:?}"
PORT=51995
. "$(dirname "$0")/commslib.sh"
SCAN="python3 $(dirname "$0")/canary_scan.py"
NEEDLE=CANARY-PTT-SPEECH-5e1f
publish() {
	gd publish north --relay 127.0.0.1:$PORT --relay-pub "$W/relay.key.pub" \
		--comms "$W/groupd" >>"$W/gd.log" 2>&1
}
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# before init: add and remove refuse with the reason, and do not crash
# (they once freed an uninitialised group when the authority failed to
# load; what that does depends on the stack, so under valgrind when there
# is one and the build is not ASan's, which sees it itself)
VG=
command -v valgrind >/dev/null && ! grep -q __asan_init "$TWOFOLD_GROUPD" &&
	VG="valgrind -q --error-exitcode=9"
for c in "remove north alice" "add north $W/none.cert"; do
	# shellcheck disable=SC2086 # the words of $VG and $c are arguments
	out=$($VG "$TWOFOLD_GROUPD" --state "$W/gd" $c 2>&1)
	rc=$?
	[ $rc = 1 ] && has "run \`twofold-groupd --state $W/gd init\` first" "$out"
	ok $? "groupd ${c%% *} before init: refused, exit 1 (no crash)" "rc=$rc $out"
done

for s in intl gm; do
	comms_world $s carol
	ca keygen --suite $s -o "$W/groupd.key"
	ca issue --ca "$W/ca" --officer groupd --role group-authority \
		--pubkey "$W/groupd.key.pub" --days 1 -o "$W/groupd.cert"
	# 1 s of speech-band tones (50 frames of 20 ms, s16le 16 kHz), a
	# canary the relay must never hold in the clear in every frame
	python3 -c "
import math, struct, sys
out = b''
for f in range(50):
    fr = b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * (300 + 20 * f) * (f * 320 + i) / 16000)))
                  for i in range(320))
    out += b'$NEEDLE' + fr[len(b'$NEEDLE'):]
sys.stdout.buffer.write(out)" >"$W/speech.raw"
	relay_start
	for n in alice bob carol; do
		svc_start $n --audio-out "$W/$n.heard"
	done
	svc_start groupd
	wait_status alice "relay connected" && wait_status bob "relay connected" &&
		wait_status carol "relay connected" && wait_status groupd "relay connected"
	ok $? "$s: relay, groupd's and three members' services start" \
		"$(cat "$W"/*.log)"

	gd init --key "$W/groupd.key" --cert "$W/groupd.cert" \
		--ca "$W/ca/ca.pub" >>"$W/gd.log" 2>&1 &&
		gd create north >>"$W/gd.log" &&
		gd add north "$W/alice.cert" >>"$W/gd.log" &&
		gd add north "$W/bob.cert" --dispatcher >>"$W/gd.log" &&
		publish
	ok $? "$s: groupd creates north (alice, bob) and publishes epoch 2" \
		"$(cat "$W/gd.log")"
	gd list | grep -q "north epoch 2 members 2$"
	ok $? "$s: groupd lists the group" "$(gd list 2>&1)"
	wait_status alice "group north epoch 2 members 2 joined" &&
		wait_status bob "group north epoch 2 members 2 joined"
	ok $? "$s: the key reached both members end to end and they joined" \
		"$(cm alice status; cm bob status; tail -5 "$W/alice.log")"

	cm alice ptt north --press --audio-in "$W/speech.raw" >/dev/null
	ok $? "$s: alice presses"
	wait_status bob "group north .* heard 50 "
	ok $? "$s: bob heard all 50 frames of alice's burst" "$(cm bob status)"
	[ "$(size "$W/bob.heard")" = "$(size "$W/speech.raw")" ] &&
		cm bob status | grep -q "group north .* heard 50 concealed 0 " &&
		python3 -c "
import array, sys
a, b = (array.array('h', open(f, 'rb').read()) for f in sys.argv[1:])
rms = lambda x: (sum(v * v for v in x) / len(x)) ** 0.5
sys.exit(0 if rms(b) > 0.3 * rms(a) else 1)" "$W/speech.raw" "$W/bob.heard"
	ok $? "$s: every frame from the first played (Opus), none concealed: capture from the press, nothing clipped" \
		"$(size "$W/bob.heard") of $(size "$W/speech.raw") bytes; $(cm bob status)"
	wait_status alice "group north .* floor idle"
	ok $? "$s: the floor is idle after alice's input ended" "$(cm alice status)"
	# the relay forwarded 50 frames and the group key: none of it in the
	# clear in its memory, its store or its logs
	secret=$(od -An -tx1 -v "$W/gd/groups/north/secret" | tr -d ' \n')
	self=$($SCAN $NEEDLE self)
	found=$(($($SCAN $NEEDLE mem "$RP") + $($SCAN "$secret" mem "$RP") +
		$($SCAN $NEEDLE files "$W/store.db" "$W/store.db-wal" "$W/relay.log") +
		$($SCAN "$secret" files "$W/store.db" "$W/store.db-wal" "$W/relay.log")))
	[ "$self" -gt 0 ] && [ ${#secret} = 64 ] && [ "$found" = 0 ]
	ok $? "$s: no speech canary and no epoch secret in the relay's memory, store or log" \
		"self $self, found $found, secret ${#secret} hex digits"

	# removal: epoch 3 with a fresh secret, bob not in it
	gd remove north bob >>"$W/gd.log" && gd add north "$W/carol.cert" >>"$W/gd.log" &&
		publish
	ok $? "$s: groupd removes bob, adds carol, publishes epoch 4" \
		"$(cat "$W/gd.log")"
	wait_status alice "group north epoch 4 members 2 joined" &&
		wait_status carol "group north epoch 4 members 2 joined"
	ok $? "$s: alice and carol are on epoch 4" \
		"$(cm alice status; cm carol status)"
	before=$(size "$W/bob.heard")
	cm alice ptt north --press --audio-in "$W/speech.raw" >/dev/null
	wait_status carol "group north .* heard 50 "
	ok $? "$s: carol (the joiner) hears alice's next burst" "$(cm carol status)"
	sleep 0.5
	[ "$(size "$W/bob.heard")" = "$before" ] &&
		cm bob status | grep -q "group north epoch 2 .* heard 50 "
	ok $? "$s: bob (removed) heard nothing of it" "$(cm bob status)"
	cm alice group list | grep -q "^group north epoch 4"
	ok $? "$s: twofold-comms group list shows the group" "$(cm alice group list)"

	# a restart of alice's service and of the relay: alice reloads the
	# group (its roster checked again), both re-upload it to the new relay
	svc_stop alice
	relay_stop TERM
	rm -f "$W/store.db"*
	: >"$W/relay.log"
	relay_start
	svc_start alice --audio-out "$W/alice.heard"
	# carol notices the restart when her keepalives go unanswered (3 s)
	wait_for "$W/relay.log" "carol connected" && sleep 0.5 &&
		wait_status alice "group north epoch 4 members 2 joined" &&
		wait_status carol "group north epoch 4 members 2 joined"
	ok $? "$s: after restarts alice and carol are back in the group" \
		"$(cm alice status; cm carol status; tail -3 "$W/relay.log")"
	cm alice ptt north --press --audio-in "$W/speech.raw" >/dev/null
	wait_status carol "group north .* heard 100 "
	ok $? "$s: and carol hears alice's next burst" "$(cm carol status)"

	for n in alice bob carol groupd; do svc_stop $n; done
	relay_stop TERM
done
finish
