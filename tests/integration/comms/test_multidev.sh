#!/usr/bin/env bash
# Integration: several devices per officer (issue 15, docs/comms.md
# "Several devices"), both suites, one twofold-relay on loopback. alice
# has three devices (services with state dirs alice-phone, alice-tablet,
# alice-old; each its own key and a certificate with --device), bob one.
# Messages: `msg send alice` reaches every device once, each over its own
# ratchet; a device offline while it was sent gets it when back; `msg
# send alice/phone` reaches the phone only; replies from each device
# reach bob and show the device; a message one device sends shows on the
# officer's other devices as sent (sent-message sync); bob's sessions from before (one file per
# officer) are migrated, ratchet and all; a revoked device gets no new
# message (bob's status shows it failed for that device alone); a talk
# group's key goes to the member device alone (twofold-groupd), not to
# the officer's other device. Calls:
# bob calls alice, phone and tablet ring, the tablet answers, the phone
# stops with "answered elsewhere", audio flows both ways; `call
# alice/phone` rings the phone alone. TAP. Cleans up its processes and
# temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${AUDIOTOOL:?}" "${TWOFOLD_GROUPD:?}"
PORT=51960
. "$(dirname "$0")/commslib.sh"
SNR_MIN=${SNR_MIN:-4}
DEVS="alice-phone alice-tablet alice-old"

raw() { CM_RAW=1 cm "$@"; } # bob sees alice's devices by name
read_until() { # read_until NAME TEXT: msg read, appended to W/NAME.all, until TEXT (20 s)
	for _ in $(seq 200); do
		cm "$1" msg read >>"$W/$1.all" 2>/dev/null
		grep -q "$2" "$W/$1.all" && return 0
		sleep 0.1
	done
	return 1
}
count() { grep -c "$2" "$W/$1.all" 2>/dev/null; } # count NAME PATTERN

for s in intl gm; do
	comms_world $s
	for d in $DEVS; do comms_device $d alice "${d#alice-}"; done
	for d in $DEVS; do : >"$W/$d.all"; done
	: >"$W/bob.all"
	"$AUDIOTOOL" gen "$W/a.wav" 5 140
	"$AUDIOTOOL" gen "$W/b.wav" 5 210
	relay_start
	ok $? "$s: relay starts" "$(cat "$W/relay.log")"
	for n in bob $DEVS; do svc_start $n || break; done
	for n in bob $DEVS; do
		wait_status $n "relay connected" && [ -f "$W/$n/published" ] || break
	done
	ok $? "$s: bob and alice's three devices connect and publish" \
		"$(tail -n 3 "$W"/*.log)"
	has "address alice/phone" "$(cm alice-phone status)"
	ok $? "$s: a device's address is officer/device" "$(cm alice-phone status)"

	# ---- to the officer: every device, once, each its own ratchet ----
	cm bob msg send alice "to all of alice" >/dev/null
	for d in $DEVS; do read_until $d "to all of alice" || break; done
	ok $? "$s: msg send alice reaches all three devices" \
		"$(cm bob status) $(cat "$W"/alice-*.all)"
	for d in $DEVS; do
		[ "$(count $d '^from bob: to all of alice$')" = 1 ] || break
	done
	ok $? "$s: each device shows it once, from bob" "$(cat "$W"/alice-*.all)"
	ls "$W/bob/sessions/alice" >"$W/sessions.ls"
	[ -f "$W/bob/sessions/alice/phone" ] && [ -f "$W/bob/sessions/alice/tablet" ] &&
		[ -f "$W/bob/sessions/alice/old" ] &&
		! cmp -s "$W/bob/sessions/alice/phone" "$W/bob/sessions/alice/tablet" &&
		[ "$(stat -c %a "$W/bob/sessions/alice")" = 700 ] &&
		[ "$(stat -c %a "$W/bob/sessions/alice/phone")" = 600 ]
	ok $? "$s: one session per device (sessions/alice/DEVICE, 0700 dir, 0600 files)" \
		"$(ls -la "$W/bob/sessions/alice")"
	wait_status bob "outbox 0" && ! cm bob status | grep -q '^out '
	ok $? "$s: the relay stored it for each device (outbox empty)" "$(cm bob status)"

	# ---- a device offline while it was sent ----
	svc_stop alice-tablet
	cm bob msg send alice "while the tablet was off" >/dev/null
	read_until alice-phone "while the tablet was off" && wait_status bob "outbox 0"
	ok $? "$s: the phone reads it; stored for the tablet" "$(cm bob status)"
	svc_start alice-tablet
	read_until alice-tablet "while the tablet was off" &&
		[ "$(count alice-tablet 'while the tablet was off')" = 1 ]
	ok $? "$s: the tablet gets it once when back" "$(cat "$W/alice-tablet.all")"

	# ---- to one device ----
	cm bob msg send alice/phone "for the phone only" >/dev/null
	read_until alice-phone "for the phone only"
	ok $? "$s: msg send alice/phone reaches the phone" "$(cat "$W/alice-phone.all")"
	# a marker after it: the relay delivers in order, so once the
	# tablet has the marker it would have had the first
	cm bob msg send alice/tablet "marker for the tablet" >/dev/null
	read_until alice-tablet "marker for the tablet" &&
		[ "$(count alice-tablet 'for the phone only')" = 0 ]
	ok $? "$s: the tablet gets nothing of it" "$(cat "$W/alice-tablet.all")"

	# ---- replies from each device ----
	cm alice-phone msg send bob "reply from the phone" >/dev/null
	cm alice-tablet msg send bob "reply from the tablet" >/dev/null
	for _ in $(seq 200); do
		raw bob msg read >>"$W/bob.all" 2>/dev/null
		grep -q "from alice/phone: reply from the phone" "$W/bob.all" &&
			grep -q "from alice/tablet: reply from the tablet" "$W/bob.all" && break
		sleep 0.1
	done
	grep -q "^from alice/phone: reply from the phone$" "$W/bob.all" &&
		grep -q "^from alice/tablet: reply from the tablet$" "$W/bob.all"
	ok $? "$s: bob reads each reply with its device" "$(cat "$W/bob.all")"

	# ---- sent-message sync: a copy on the sender's other devices ----
	# (the phone learns its officer's other devices at connect)
	svc_stop alice-phone
	svc_start alice-phone
	wait_status alice-phone "own_devices 2"
	ok $? "$s: the phone knows its two other devices" "$(cm alice-phone status | head -4)"
	cm alice-phone msg send bob "synced from the phone" >/dev/null
	read_until alice-tablet "synced from the phone" &&
		grep -q "^sent to bob from alice/phone: synced from the phone$" "$W/alice-tablet.all"
	ok $? "$s: the tablet shows what the phone sent, as sent to bob" \
		"$(cat "$W/alice-tablet.all")"
	for _ in $(seq 200); do
		raw bob msg read >>"$W/bob.all" 2>/dev/null
		grep -q "synced from the phone" "$W/bob.all" && break
		sleep 0.1
	done
	[ "$(grep -c "^from alice/phone: synced from the phone$" "$W/bob.all")" = 1 ]
	ok $? "$s: bob gets it once, as a message" "$(cat "$W/bob.all")"

	# ---- bob's state from before several devices: migrated ----
	svc_stop bob
	x3=$(stat_of alice-phone x3dh_with_opk)
	b=$W/bob
	mv "$b/sessions/alice" "$W/old-sessions" && mv "$b/certs/alice" "$W/old-certs" &&
		cp "$W/old-sessions/phone" "$b/sessions/alice" &&
		cp "$W/old-certs/phone" "$b/certs/alice"
	ok $? "$s: bob's state as before: sessions/alice, certs/alice (files)"
	svc_start bob
	wait_status bob "relay connected" && [ -f "$b/sessions/alice/phone" ] &&
		[ -f "$b/certs/alice/phone" ] && [ ! -e "$b/sessions/alice+legacy" ]
	ok $? "$s: migrated to sessions/alice/phone, certs/alice/phone" \
		"$(ls -la "$b/sessions" "$b/sessions/alice" "$b/certs" 2>&1)"
	cm bob msg send alice/phone "after the migration" >/dev/null
	read_until alice-phone "after the migration" &&
		[ "$(stat_of alice-phone x3dh_with_opk)" = "$x3" ]
	ok $? "$s: the phone reads it on the same ratchet (no new X3DH)" \
		"x3dh before $x3 after $(stat_of alice-phone x3dh_with_opk)"
	# the other devices' sessions back (bob sent them nothing since)
	for d in tablet old; do
		cp "$W/old-sessions/$d" "$b/sessions/alice/$d" &&
			cp "$W/old-certs/$d" "$b/certs/alice/$d" || break
	done
	rm -rf "$W/old-sessions" "$W/old-certs"

	# ---- a revoked device (bob has a session with it) ----
	svc_stop bob
	ca revoke --ca "$W/ca" 5 # alice-old: alice 1, bob 2, phone 3, tablet 4
	ca denylist --ca "$W/ca" -o "$W/dl"
	svc_start bob --denylist "$W/dl"
	wait_status bob "relay connected"
	id=$(cm bob msg send alice "after the revocation" | cut -d' ' -f1)
	read_until alice-phone "after the revocation" &&
		read_until alice-tablet "after the revocation"
	ok $? "$s: phone and tablet get the next message" "$(cm bob status)"
	wait_status bob "out $id alice/old failed .*revoked"
	ok $? "$s: bob's status: failed for alice/old alone (revoked)" "$(raw bob status)"
	cm alice-old msg read >>"$W/alice-old.all" 2>/dev/null
	[ "$(count alice-old 'after the revocation')" = 0 ] &&
		has "relay connected" "$(cm alice-old status)"
	ok $? "$s: the revoked device gets nothing" "$(cat "$W/alice-old.all")"
	svc_stop alice-old

	# ---- talk groups: the key to the member device, not the officer ----
	ca keygen --suite $s -o "$W/groupd.key"
	ca issue --ca "$W/ca" --officer groupd --role group-authority \
		--pubkey "$W/groupd.key.pub" --days 1 -o "$W/groupd.cert"
	svc_start groupd
	wait_status groupd "relay connected" &&
		gd init --key "$W/groupd.key" --cert "$W/groupd.cert" \
			--ca "$W/ca/ca.pub" >>"$W/gd.log" 2>&1 &&
		gd create north >>"$W/gd.log" &&
		gd add north "$W/alice-phone.cert" >>"$W/gd.log" &&
		gd publish north --relay 127.0.0.1:$PORT --relay-pub "$W/relay.key.pub" \
			--comms "$W/groupd" >>"$W/gd.log" 2>&1
	ok $? "$s: groupd makes north with alice's phone and publishes it" "$(cat "$W/gd.log")"
	wait_status alice-phone "group north epoch 1 members 1 joined" &&
		wait_status groupd "outbox 0"
	ok $? "$s: the phone gets the key and joins" "$(cm alice-phone status | grep ^group)"
	# a marker after the key, from the same sender: in order
	cm groupd msg send alice/tablet "marker from groupd" >/dev/null
	read_until alice-tablet "marker from groupd" &&
		! cm alice-tablet status | grep -q "^group north"
	ok $? "$s: the tablet (not in the roster) got no key" \
		"$(cm alice-tablet status | grep ^group) $(raw groupd status | grep ^out)"
	svc_stop groupd

	# ---- calls: every device rings, the first answer wins ----
	out=$(cm bob call alice --audio-in "$W/b.wav" --audio-out "$W/bob-got.wav" 2>&1)
	[ $? -eq 0 ] && has "ringing alice" "$out"
	ok $? "$s: bob calls alice: ringing" "$out $(tail -n 5 "$W/bob.log")"
	wait_status alice-phone "call incoming" && wait_status alice-tablet "call incoming"
	ok $? "$s: the phone and the tablet both ring" \
		"$(cm alice-phone status | grep ^call) $(cm alice-tablet status | grep ^call)"
	out=$(cm alice-tablet answer --audio-in "$W/a.wav" --audio-out "$W/tablet-got.wav" 2>&1)
	ok $? "$s: the tablet answers" "$out"
	wait_status alice-phone "call_ended answered elsewhere" &&
		wait_status alice-phone "call idle"
	ok $? "$s: the phone stops ringing: answered elsewhere" \
		"$(cm alice-phone status | grep ^call)"
	wait_status bob "call active" && has "call_peer alice/tablet" "$(raw bob status)"
	ok $? "$s: bob's call is with alice/tablet" "$(raw bob status | grep ^call)"
	wait_frames bob call_rx_frames 200 && wait_frames alice-tablet call_rx_frames 200
	ok $? "$s: audio both ways" "$(cm bob status | grep frames) $(cm alice-tablet status | grep frames)"
	cm bob hangup >/dev/null
	wait_status alice-tablet "call idle" && wait_status bob "call idle"
	ok $? "$s: bob hangs up; the tablet sees it" "$(cm alice-tablet status | grep ^call)"
	ab=$("$AUDIOTOOL" snr "$W/b.wav" "$W/tablet-got.wav")
	ba=$("$AUDIOTOOL" snr "$W/a.wav" "$W/bob-got.wav")
	diag "$s: bob->tablet $ab; tablet->bob $ba"
	awk -v a="${ab#snr }" -v b="${ba#snr }" -v m="$SNR_MIN" \
		'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[1] >= m && y[1] >= m) }'
	ok $? "$s: the audio received matches the audio sent (SNR >= $SNR_MIN dB)" "$ab / $ba"
	[ "$(stat_of alice-phone call_rx_frames)" = 0 ]
	ok $? "$s: the phone got no audio" "$(cm alice-phone status | grep ^call)"

	# ---- a call to one device ----
	out=$(cm bob call alice/phone 2>&1)
	[ $? -eq 0 ] && has "ringing alice/phone" "$out"
	ok $? "$s: bob calls alice/phone: ringing" "$out"
	wait_status alice-phone "call incoming" && has "call idle" "$(cm alice-tablet status)"
	ok $? "$s: only the phone rings" "$(cm alice-tablet status | grep ^call)"
	cm bob hangup >/dev/null
	wait_status alice-phone "call idle"
	ok $? "$s: the hang-up before the answer reaches the phone" \
		"$(cm alice-phone status | grep ^call)"

	for n in bob alice-phone alice-tablet; do svc_stop $n; done
	relay_stop TERM
done
finish
