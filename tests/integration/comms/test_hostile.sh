#!/usr/bin/env bash
# Integration: a hostile relay, both suites. Two devices exchange 200
# messages carrying canary strings through twofold-relay; then not one
# canary byte string is in the relay's memory (every readable mapping,
# through /proc/PID/mem, read while it runs), its SQLite file and WAL, or
# its logs. Then the relay turns evil (its database edited while the
# recipient is offline, as someone who broke into the server would): a
# flipped bit, a replayed message under a new id, a swapped sender. The
# recipient rejects each and shows it in `msg read` (REJECTED, with the
# reason); nothing forged is shown as a message. TAP.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
PORT=51996
. "$(dirname "$0")/commslib.sh"
SCAN="python3 $(dirname "$0")/canary_scan.py"
NEEDLE=zq81CANARY

for s in intl gm; do
	comms_world $s
	relay_start
	svc_start bob
	wait_status bob "relay connected" && [ -f "$W/bob/published" ]
	ok $? "$s: bob is up and published his prekeys" "$(cat "$W/bob.log")"
	svc_start alice
	wait_status alice "relay connected"
	ok $? "$s: alice is up" "$(cat "$W/alice.log")"

	# the sessions first (one initiator), then 100 each way
	cm alice msg send bob "$NEEDLE-$s-setup" >/dev/null
	wait_read bob 1
	for i in $(seq 100); do
		cm alice msg send bob "$NEEDLE-$s-a2b-$i secret text" >/dev/null
		cm bob msg send alice "$NEEDLE-$s-b2a-$i secret text" >/dev/null
	done
	wait_read bob 100 && cp "$W/bob.read" "$W/bob.all" &&
		wait_read alice 100
	[ "$(grep -c "^from alice: $NEEDLE-$s-a2b-" "$W/bob.all")" = 100 ] &&
		[ "$(grep -c "^from bob: $NEEDLE-$s-b2a-" "$W/alice.read")" = 100 ]
	ok $? "$s: 200 messages delivered, each once" \
		"$(wc -l <"$W/bob.all") / $(wc -l <"$W/alice.read")"

	self=$($SCAN $NEEDLE self)
	files=$($SCAN $NEEDLE files "$W"/bob/read/*)
	[ "$self" -gt 0 ] && [ "$files" -ge 100 ]
	ok $? "$s: the scanner finds canaries where they are (control)" \
		"self=$self files=$files"
	mem=$($SCAN $NEEDLE mem "$RP")
	[ "$mem" = 0 ]
	ok $? "$s: zero canaries in the relay's memory (/proc/$RP/mem)" "$mem"
	db=$($SCAN $NEEDLE files "$W/store.db" "$W/store.db-wal")
	[ "$db" = 0 ]
	ok $? "$s: zero canaries in the relay's SQLite file and WAL" "$db"
	logs=$($SCAN $NEEDLE files "$W/relay.log" "$W/relay.out")
	[ "$logs" = 0 ] && [ -s "$W/relay.log" ]
	ok $? "$s: zero canaries in the relay's logs (which are not empty)" "$logs"

	# the evil relay: bob offline, three messages stored, then edited
	svc_stop bob
	for t in flip replay swap; do
		cm alice msg send bob "evil-$t" >/dev/null
	done
	wait_status alice "outbox 0"
	ok $? "$s: three more stored for offline bob" "$(cm alice status)"
	relay_stop TERM
	python3 - "$W/store.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
# the recipient is bob's device (officer/device: several devices)
rows = db.execute("SELECT seq, blob FROM msgs WHERE recipient LIKE 'bob/%' "
                  "ORDER BY seq").fetchall()
assert len(rows) == 3, rows
flip, replay, swap = rows
b = bytearray(flip[1]); b[len(b) // 2] ^= 0x01
db.execute("UPDATE msgs SET blob=? WHERE seq=?", (bytes(b), flip[0]))
db.execute("INSERT INTO msgs(sender, id, recipient, blob, stored_at) "
           "SELECT sender, randomblob(16), recipient, blob, stored_at "
           "FROM msgs WHERE seq=?", (replay[0],))
db.execute("UPDATE msgs SET sender=replace(sender, 'alice/', 'carol/') "
           "WHERE seq=?", (swap[0],))
db.commit()
EOF
	ok $? "$s: the relay's store edited (flip, replay, swap)"
	relay_start
	svc_start bob
	wait_read bob 4
	out=$(cat "$W/bob.read")
	has "from alice: evil-replay" "$out" &&
		[ "$(grep -c '^REJECTED' <<<"$out")" = 3 ] &&
		has "REJECTED message said to be from alice: failed authentication" "$out" &&
		has "REJECTED message said to be from alice: a replay" "$out" &&
		has "REJECTED message said to be from carol" "$out" &&
		not_has "evil-flip" "$out" && not_has "evil-swap" "$out"
	ok $? "$s: flipped, replayed and swapped messages are rejected and shown" \
		"$out"
	svc_stop alice
	svc_stop bob
	relay_stop TERM
done
finish
