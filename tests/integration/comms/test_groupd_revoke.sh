#!/usr/bin/env bash
# Integration: a lost or stolen device leaves its talk groups (issue 15;
# the thief and the hostile relay): `twofold-groupd remove GROUP
# OFFICER/DEVICE` removes one device of an officer, `add` of a renewed
# certificate records its serial, `prune --denylist FILE` removes every
# member device whose certificate the CA's deny-list revokes from every
# group, each under a fresh epoch secret; and `serve --denylist FILE`
# does it by itself when a new list is renamed into place, publishes the
# new epoch, and the revoked device hears nothing said after (its
# service keeps the old epoch; the relay, which here was never given
# the deny-list, still lets it connect). Bad lists (not signed by the
# CA, garbage) are refused with one line and change nothing. Both
# suites. TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${TWOFOLD_GROUPD:?}"
PORT=51963
. "$(dirname "$0")/commslib.sh"
serial_of() { "$TWOFOLD_CA" show "$1" | sed -n 's/^serial: //p'; }
denylist() { # denylist SERIAL...: revoke them, W/dl the new list (renamed in)
	for x in "$@"; do ca revoke --ca "$W/ca" "$x"; done
	ca denylist --ca "$W/ca" -o "$W/dl.tmp" && mv "$W/dl.tmp" "$W/dl"
}

for s in ${REVOKE_SUITES:-intl gm}; do
	GP=
	comms_world $s carol
	comms_device laptop alice laptop
	ca keygen --suite $s -o "$W/groupd.key"
	ca issue --ca "$W/ca" --officer groupd --role group-authority \
		--pubkey "$W/groupd.key.pub" --days 1 -o "$W/groupd.cert"
	gd init --key "$W/groupd.key" --cert "$W/groupd.cert" \
		--ca "$W/ca/ca.pub" >>"$W/gd.log" 2>&1 &&
		gd create north >>"$W/gd.log" && gd create south >>"$W/gd.log" &&
		gd add north "$W/alice.cert" >>"$W/gd.log" &&
		gd add north "$W/laptop.cert" >>"$W/gd.log" &&
		gd add north "$W/bob.cert" >>"$W/gd.log" &&
		gd add south "$W/carol.cert" >>"$W/gd.log" &&
		gd add south "$W/laptop.cert" >>"$W/gd.log"
	ok $? "$s: north (alice's two devices, bob), south (carol, alice's laptop)" \
		"$(cat "$W/gd.log")"
	lap=$(serial_of "$W/laptop.cert")
	gd list >"$W/list" &&
		grep -q "^  alice/laptop officer serial $lap$" "$W/list"
	ok $? "$s: list names each device and its certificate's serial" "$(cat "$W/list")"

	# one device of an officer
	gd remove north alice/laptop >"$W/out" 2>&1 &&
		gd list | sed -n '/^north/,/^south/p' >"$W/list" &&
		grep -q "^north epoch 4 members 2" "$W/list" &&
		! grep -q "alice/laptop" "$W/list" &&
		grep -q "alice/[0-9a-f]* officer" "$W/list"
	ok $? "$s: remove north alice/laptop: that device leaves, alice's other stays" \
		"$(cat "$W/out") / $(cat "$W/list")"
	gd list | sed -n '/^south/,$p' | grep -q "alice/laptop"
	ok $? "$s: ... and stays in south" "$(gd list)"
	out=$(gd remove north alice/laptop 2>&1)
	rc=$?
	[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] &&
		has "alice/laptop is not in north" "$out"
	ok $? "$s: removing it again: one line, exit 1" "rc=$rc $out"
	e0=$(gd list | sed -n 's/^north epoch \([0-9]*\).*/\1/p')
	[ "$e0" = 4 ]
	ok $? "$s: ... and no new epoch ($e0)"

	# a renewed certificate of a member (same key): its serial recorded
	ca issue --ca "$W/ca" --officer bob --role officer \
		--pubkey "$W/bob.key.pub" --days 2 -o "$W/bob.renewed.cert"
	old=$(serial_of "$W/bob.cert") new=$(serial_of "$W/bob.renewed.cert")
	out=$(gd add north "$W/bob.renewed.cert" 2>&1) &&
		has "certificate (serial $new) is recorded" "$out" &&
		gd list | grep -q "^  bob/.* officer serial $new$" &&
		gd list | grep -q "^north epoch 4 "
	ok $? "$s: add of bob's renewed certificate records serial $new, same epoch" \
		"$out / $(gd list)"
	out=$(gd add north "$W/bob.renewed.cert" 2>&1)
	[ $? = 1 ] && has "is already in north" "$out"
	ok $? "$s: the same certificate again: already in" "$out"

	# bad deny-lists: refused, nothing changes
	echo garbage >"$W/junk"
	out=$(gd prune --denylist "$W/junk" 2>&1)
	rc=$?
	[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && has "deny-list $W/junk refused" "$out"
	ok $? "$s: prune with garbage: refused in one line" "rc=$rc $out"
	ca init --suite $s -o "$W/otherca"
	ca revoke --ca "$W/otherca" "$lap"
	ca denylist --ca "$W/otherca" -o "$W/otherdl"
	out=$(gd prune --denylist "$W/otherdl" 2>&1)
	rc=$?
	[ $rc = 1 ] && has "refused" "$out" && gd list | grep -q "alice/laptop"
	ok $? "$s: a list signed by another CA: refused, the laptop stays" "rc=$rc $out"

	# the laptop is stolen: the CA revokes it; bob's old serial too
	# (he renewed: his recorded certificate is the new one, he stays)
	denylist "$lap" "$old"
	out=$(gd prune --denylist "$W/dl" 2>&1)
	[ $? = 0 ] && has "south: alice/laptop (certificate serial $lap) is revoked: removed" "$out" &&
		gd list | grep -q "^south epoch 3 members 1 (not yet published)" &&
		! gd list | grep -q "alice/laptop" &&
		gd list | grep -q "^north epoch 4 members 2 " &&
		gd list | grep -q "^  bob/"
	ok $? "$s: prune: the revoked laptop leaves south (a new epoch); north and bob unchanged" \
		"$out / $(gd list)"
	out=$(gd prune --denylist "$W/dl" 2>&1)
	[ $? = 0 ] && has "no member of any group is revoked" "$out"
	ok $? "$s: prune again: nothing to do" "$out"
	sec0=$(od -An -tx1 -v "$W/gd/groups/south/secret" | tr -d ' \n')
	denylist "$(serial_of "$W/carol.cert")"
	out=$(gd prune --denylist "$W/dl" 2>&1)
	[ $? = 1 ] && has "south would have no member left" "$out" &&
		[ "$(od -An -tx1 -v "$W/gd/groups/south/secret" | tr -d ' \n')" = "$sec0" ]
	ok $? "$s: a group whose last member is revoked: said, left as it was" "$out"

	# serve --denylist: a new list renamed into place is applied and
	# published by itself
	python3 -c "
import math, struct, sys
sys.stdout.buffer.write(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(16000)))" >"$W/speech.raw"
	relay_start
	for n in alice bob; do svc_start $n --audio-out "$W/$n.heard"; done
	svc_start groupd
	wait_status alice "relay connected" && wait_status bob "relay connected" &&
		wait_status groupd "relay connected" && wait_published bob
	ok $? "$s: relay, groupd's, alice's and bob's services" "$(cat "$W"/*.log)"
	serve_start --denylist "$W/dl"
	wait_status alice "group north epoch 4 members 2 joined" &&
		wait_status bob "group north epoch 4 members 2 joined"
	ok $? "$s: serve publishes north (epoch 4): alice and bob join" \
		"$(cm bob status; cat "$W/serve.out" "$W/serve.log")"
	cm alice ptt north --press --audio-in "$W/speech.raw" >/dev/null &&
		wait_status bob "group north .* heard 50 "
	ok $? "$s: bob hears alice's burst" "$(cm bob status)"
	wait_status alice "group north .* floor idle"

	# bob's phone is stolen
	denylist "$new"
	wait_for "$W/serve.out" "north: bob/.* (certificate serial $new) is revoked: removed" &&
		wait_status alice "group north epoch 5 members 1 joined"
	ok $? "$s: serve sees the new list, removes bob, alice is on epoch 5" \
		"$(cat "$W/serve.out" "$W/serve.log"; cm alice status)"
	h0=$(group_stat bob heard)
	cm alice ptt north --press --audio-in "$W/speech.raw" >/dev/null &&
		wait_status alice "group north .* floor idle" && sleep 1
	cm bob status | grep -q "^group north epoch 4 " && [ "$(group_stat bob heard)" = "$h0" ]
	ok $? "$s: bob's device keeps epoch 4 and hears nothing of the next burst" \
		"$(cm bob status | grep ^group) heard before $h0"
	secret=$(od -An -tx1 -v "$W/gd/groups/north/secret" | tr -d ' \n')
	[ ${#secret} = 64 ] && ! grep -qi "$secret" "$W/serve.out" "$W/serve.log" "$W/gd.log"
	ok $? "$s: no epoch secret in serve's output"
	kill -TERM "$GP"
	wait "$GP"
	GP=
	bg_update
	for n in alice bob groupd; do svc_stop $n; done
	relay_stop TERM
done
finish
