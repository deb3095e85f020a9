#!/usr/bin/env bash
# Integration: bad input the issue names (issue 15), intl suite.
# A full disk on the relay: the store on a small tmpfs this test mounts
# (unmounted in the trap even when a check fails); the relay answers
# "relay storage full; retry later" naming the SEND (the outbox item
# shows it), stays up, serves others; the
# message waits in the sender's outbox and is delivered exactly once
# when space is back (a long one in pieces too, the error shown against
# its piece); a relay started on a full disk says so in one
# line. Expired and revoked certificates: a device whose certificate
# expired says why in `status`; a device with the wrong relay key says
# the handshake goes unanswered; a message from a peer whose
# certificate expired or is on the recipient's deny-list is shown
# REJECTED with the reason. TAP.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
PORT=${PORT:-51983}
. "$(dirname "$0")/commslib.sh"
MNT=
EXTRA_CLEANUP='for p in $BG_PIDS; do kill -KILL "$p"; wait "$p"; done 2>/dev/null; [ -n "$MNT" ] && { umount "$MNT" 2>/dev/null; rmdir "$MNT"; }; rm -rf "$W"'

comms_world intl carol dave
MNT=$(mktemp -d /tmp/tfbadin.mnt.XXXXXX)
mount -t tmpfs -o size=4m,mode=0700 tfbadin "$MNT"
ok $? "a 4 MiB tmpfs for the relay's store" ""
relay_db() { # the relay on the small filesystem
	"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" --store "$MNT/store.db" -v \
		>"$W/relay.out" 2>>"$W/relay.log" &
	RP=$!
	bg_update
	wait_for "$W/relay.out" ready
}
relay_db
ok $? "relay starts on the small filesystem" "$(cat "$W/relay.log")"

svc_start bob
wait_status bob "relay connected" && [ -f "$W/bob/published" ]
ok $? "bob publishes his prekeys" "$(cat "$W/bob.log")"
svc_stop bob
svc_start alice
wait_status alice "relay connected"
cm alice msg send bob "before the disk filled" >/dev/null
wait_status alice "outbox 0"
ok $? "a first message is stored" "$(cm alice status)"

# fill the filesystem to the last block
dd if=/dev/zero of="$MNT/fill" bs=64k 2>/dev/null
dd if=/dev/zero of="$MNT/fill2" bs=1k 2>/dev/null
sync
out=$(cm alice msg send bob "while the disk was full $(head -c 600 /dev/zero | tr '\0' x)")
grep -qE "sending|queued" <<<"$out" && wait_status alice "relay storage full; retry later"
ok $? "disk full: the relay answers 'relay storage full; retry later'" \
	"$out / $(cm alice status) / $(tail -5 "$W/relay.log")"
has "outbox 1" "$(cm alice status)"
ok $? "the message stays queued in alice's outbox" "$(cm alice status)"
# the relay's ERROR names the SEND (address and id): the item shows it
wait_status alice "^out [0-9a-f]* bob[^ ]* sent relay: error 3: relay storage full"
ok $? "the error is the queued message's (the relay named its SEND)" \
	"$(cm alice status)"
kill -0 "$RP" 2>/dev/null
ok $? "the relay stays up" "$(tail -5 "$W/relay.log")"
svc_start carol
wait_status carol "relay connected"
ok $? "and serves others (carol connects)" "$(cm carol status)"
svc_stop carol

rm -f "$MNT/fill" "$MNT/fill2"
wait_status alice "outbox 0"
ok $? "space freed: the queued message is stored" "$(cm alice status)"
out=$(cm alice status)
! has "relay_error" "$out"
ok $? "and the relay's error is gone from status" "$out"
# a long message (sent in pieces) on a full disk: the relay's error is
# shown on the item, against the piece going out; it goes on when space
# is back
dd if=/dev/zero of="$MNT/fill" bs=64k 2>/dev/null
dd if=/dev/zero of="$MNT/fill2" bs=1k 2>/dev/null
sync
cm alice msg send bob "long while full $(head -c 3000 /dev/zero | tr '\0' y)" >/dev/null
wait_status alice "^out [0-9a-f]* bob[^ ]* pieces [0-9]*/[0-9]* relay: error 3: relay storage full"
ok $? "disk full: a long message's item shows the error of its piece" \
	"$(cm alice status)"
rm -f "$MNT/fill" "$MNT/fill2"
wait_status alice "outbox 0"
ok $? "space freed: the long message is stored" "$(cm alice status)"
svc_stop alice
svc_start bob
wait_read bob 3
out=$(cat "$W/bob.read")
sleep 2
cm bob msg read >>"$W/bob.read"
out=$(cat "$W/bob.read")
[ "$(grep -c '^from alice: while the disk was full' <<<"$out")" = 1 ] &&
	[ "$(grep -c '^from alice: before the disk filled' <<<"$out")" = 1 ] &&
	[ "$(grep -c '^from alice: long while full yyy' <<<"$out")" = 1 ]
ok $? "bob gets all three, the queued ones exactly once" "$out"
svc_stop bob
relay_stop TERM

# a relay started on a full disk: one clear line, no crash
rm -f "$MNT"/store.db*
dd if=/dev/zero of="$MNT/fill" bs=64k 2>/dev/null
dd if=/dev/zero of="$MNT/fill2" bs=1k 2>/dev/null
: >"$W/relay.log"
timeout 20 "$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "$MNT/store.db" >"$W/relay.out" 2>"$W/relay.log"
rc=$?
err=$(cat "$W/relay.log")
[ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$(wc -l <<<"$err")" = 1 ] &&
	has "message store" "$err" && grep -qi "full\|space" <<<"$err"
ok $? "a relay started on a full disk says so in one line (rc $rc)" "$err"
rm -f "$MNT"/fill* "$MNT"/store.db*

# ---- expired and revoked certificates ----
# a new store: the devices start afresh too (bob's "published" mark is
# for the old one)
rm -rf "${W:?}"/alice "$W"/bob "$W"/carol "$W"/dave
relay_start
ok $? "relay starts (normal store)" "$(cat "$W/relay.log")"
svc_start bob
wait_status bob "relay connected" && [ -f "$W/bob/published" ]
ok $? "bob publishes his prekeys" "$(cat "$W/bob.log")"
svc_stop bob

# carol's certificate is valid for 10 s only
ca issue --ca "$W/ca" --officer carol --role officer \
	--pubkey "$W/carol.key.pub" --seconds 10 -o "$W/carol.cert"
ok $? "twofold-ca issues a 10 s certificate" ""
t0=$(date +%s)
svc_start carol
wait_status carol "relay connected"
ok $? "carol connects while her certificate is valid" "$(cm carol status)"
cm carol msg send bob "carol while valid" >/dev/null
wait_status carol "outbox 0"
ok $? "her message to offline bob is stored" "$(cm carol status)"
left=$((t0 + 12 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
# a restarted relay: carol must handshake again, with an expired cert
relay_stop 9
relay_start
wait_status carol "relay refused us: certificate expired"
out=$(cm carol status)
has "relay unreachable" "$out" &&
	[ "$(grep -c "^problem" <<<"$out")" = 1 ]
ok $? "expired: carol cannot connect and status says why in one line" "$out"
svc_stop carol

# a device with the wrong relay key: the relay (no oracle) does not answer
ca keygen --suite intl -o "$W/other.key"
"$TWOFOLD_COMMS" --state "$W/dave" service --relay 127.0.0.1:$PORT \
	--relay-pub "$W/other.key.pub" --key "$W/dave.key" \
	--cert "$W/dave.cert" --ca "$W/ca/ca.pub" -v \
	>"$W/dave.out" 2>>"$W/dave.log" &
SP[dave]=$!
bg_update
wait_for "$W/dave.out" ready
wait_status dave "relay does not answer our handshake"
ok $? "wrong relay key: status says the handshake goes unanswered" \
	"$(cm dave status)"
svc_stop dave

# dave (valid) sends to offline bob, then is revoked; bob gets the
# deny-list
svc_start dave
wait_status dave "relay connected"
cm dave msg send bob "dave before revocation" >/dev/null
wait_status dave "outbox 0"
ok $? "dave's message to offline bob is stored" "$(cm dave status)"
svc_stop dave
serial=$("$TWOFOLD_CA" show "$W/dave.cert" | sed -n 's/^serial[: ]*//p' | head -1)
ca revoke --ca "$W/ca" "$serial" && ca denylist --ca "$W/ca" -o "$W/deny"
ok $? "dave's certificate (serial $serial) revoked, deny-list made" ""
svc_start bob --denylist "$W/deny"
wait_read bob 2
out=$(cat "$W/bob.read")
has "REJECTED message said to be from carol" "$out" &&
	grep "carol" <<<"$out" | grep -qi "expired" &&
	! has "from carol: carol while valid" "$out"
ok $? "a message from a peer whose certificate expired: REJECTED, with why" "$out"
has "REJECTED message said to be from dave" "$out" &&
	grep "dave" <<<"$out" | grep -qi "revoked" &&
	! has "from dave: dave before" "$out"
ok $? "a message from a revoked peer: REJECTED, with why" "$out"
svc_stop bob
relay_stop TERM
finish
