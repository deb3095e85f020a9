#!/usr/bin/env bash
# Integration: twofold-relay with several devices per officer (issue 15,
# the wire contract of docs/comms-protocol.md "Requests to the relay"),
# both suites, on one relay with SQLite. Three certificates from
# twofold-ca: alice/phone, alice/tablet, bob/phone. A SEND to each device
# is that device's only; a FETCH gives a device its own messages and the
# bare officer's; one message id to both of alice's devices is two
# messages, each acknowledged independently; DEVICES lists the devices
# with prekeys, sorted, and a revoked device vanishes from it after the
# deny-list reload; BUNDLE_GET per device and for the bare officer (the
# most recently published); a FWD to officer/device reaches only that
# device's session, and ERROR 4 names an offline device even while
# another device of the officer is online; malformed addresses are ERROR
# 1. The same on PostgreSQL 15 (a private cluster, pglib.sh) when it is
# installed. TAP. Cleans up its relay, devices, cluster and temp dir.
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/pglib.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${COMMSHARNESS:?}"
W=$(mktemp -d /tmp/tfmdr.XXXXXX)
EXTRA_CLEANUP='pg_stop; rm -rf "$W"'
PORT=51941
while grep -qi ":$(printf %04X "$PORT") " /proc/net/udp; do PORT=$((PORT - 1)); done
RP=
ca() { "$TWOFOLD_CA" "$@" >/dev/null; }
dev() { # dev SUITE NAME: a client session driven by stdin
	"$COMMSHARNESS" udp "$1" "$W/$2.key" "$W/relay.key.pub" \
		"$W/$2.cert" $PORT
}
wait_for() { # wait_for FILE TEXT: at most 5 s, for a line to appear
	for _ in $(seq 50); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
relay_start() {
	: >"$W/relay.out"
	"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" --store "$STORE" \
		--denylist "$W/dl" -v >"$W/relay.out" 2>>"$W/relay.log" &
	RP=$!
	BG_PIDS="$RP"
	wait_for "$W/relay.out" ready
}
relay_stop() {
	kill -TERM "$RP" 2>/dev/null
	wait "$RP" 2>/dev/null
	RP=
	BG_PIDS=
}
# bg NAME CMDS: a device in the background, its output in $W/NAME.out
bg() {
	printf "$2" | dev $s "$1" >"$W/$1.out" 2>&1 &
	eval "P_${1//-/_}=$!"
	BG_PIDS="$BG_PIDS $!"
	wait_for "$W/$1.out" connected
}
bg_wait() { # bg_wait NAME
	local v="P_${1//-/_}"
	wait "${!v}"
	BG_PIDS="$RP"
}
hexaddr() { # the u8 n | address of a SEND/FWD, in hex
	printf '%02x' "${#1}"
	printf '%s' "$1" | od -v -An -tx1 | tr -d ' \n'
}
# a CA of suite $s, the relay's key, the three devices (serials 1, 2, 3
# in this order), an empty deny-list; no store
world() {
	rm -rf "$W/ca" "$W"/*.key* "$W"/*.cert "$W/store.db"* "$W/dl" "$W"/*.out
	: >"$W/relay.log"
	ca init --suite $s -o "$W/ca"
	ca keygen --suite $s -o "$W/relay.key"
	for n in alice-phone alice-tablet bob-phone; do
		ca keygen --suite $s -o "$W/$n.key"
		ca issue --ca "$W/ca" --officer "${n%-*}" --device "${n#*-}" \
			--role officer --pubkey "$W/$n.key.pub" --days 1 \
			-o "$W/$n.cert"
	done
	ca denylist --ca "$W/ca" -o "$W/dl"
}
ID1=000102030405060708090a0b0c0d0e0f
ID2=101112131415161718191a1b1c1d1e1f
ID3=202122232425262728292a2b2c2d2e2f

BACKENDS=sqlite
if pg_start; then
	BACKENDS="sqlite postgres"
else
	diag "no PostgreSQL 15 cluster (pglib.sh): SQLite only"
	pg_stop
fi
for b in $BACKENDS; do
for s in intl gm; do
	world
	if [ $b = sqlite ]; then
		STORE=$W/store.db
	else
		STORE="postgres:$PG_CONNINFO"
		# a fresh schema: the relay creates it again
		pg_psql "DROP TABLE IF EXISTS msgs, seen, prekey_base, prekey_opk, relay_schema; DROP SEQUENCE IF EXISTS prekey_pub" ||
			bail "cannot reset the PostgreSQL schema"
	fi
	relay_start
	ok $? "$b/$s: relay starts" "$(cat "$W/relay.log")"

	# one id to each of alice's devices, and one to the bare officer
	out=$(printf '%s\n' "send alice/phone $ID1 to phone" \
		"send alice/tablet $ID1 to tablet" \
		"send alice/phone $ID1 to phone again" \
		"send alice $ID2 to any device" | dev $s bob-phone 2>&1)
	[ "$(grep -c "^stored $ID1 0" <<<"$out")" = 2 ] &&
		has "stored $ID1 1" "$out" && has "stored $ID2 0" "$out"
	ok $? "$b/$s: one id to two devices is two messages; the retry to one is a duplicate" "$out"

	out=$(printf 'fetch\n' | dev $s alice-phone 2>&1)
	has "msg bob/phone $ID1 to phone" "$out" &&
		has "msg bob/phone $ID2 to any device" "$out" &&
		not_has "to tablet" "$out" && not_has "again" "$out"
	ok $? "$b/$s: the phone fetches its own message and the bare officer's, not the tablet's" "$out"

	out=$(printf 'ack bob/phone %s\nfetch\n' $ID1 | dev $s alice-phone 2>&1)
	not_has "to phone" "$out" && has "to any device" "$out"
	ok $? "$b/$s: after the phone's ack its copy is gone" "$out"

	out=$(printf 'fetch\n' | dev $s alice-tablet 2>&1)
	has "msg bob/phone $ID1 to tablet" "$out" &&
		has "msg bob/phone $ID2 to any device" "$out" &&
		not_has "to phone" "$out"
	ok $? "$b/$s: the phone's ack did not delete the tablet's copy" "$out"

	out=$(printf 'ack bob/phone %s\nack bob/phone %s\nfetch\n' $ID1 $ID2 |
		dev $s alice-tablet 2>&1)
	out2=$(printf 'fetch\n' | dev $s alice-phone 2>&1)
	not_has "msg " "$out" && not_has "msg " "$out2"
	ok $? "$b/$s: the tablet's acks take its copy and the bare officer's row (for both)" \
		"$out / $out2"

	out=$(printf 'send alice/tablet %s to tablet\n' $ID1 | dev $s bob-phone 2>&1)
	has "stored $ID1 1" "$out"
	ok $? "$b/$s: a late retry to a device after its ack is still a duplicate" "$out"

	# a new message is pushed to the online device it is for, only
	bg alice-phone 'fetch\nwait\n'
	bg alice-tablet 'fetch\nwait\n'
	sleep 0.3 # both have fetched (their echo markers came back)
	wait_for "$W/alice-phone.out" "echo sync" &&
		wait_for "$W/alice-tablet.out" "echo sync"
	out=$(printf '%s\n' "send alice/tablet $ID3 push to tablet" \
		"send alice/phone $ID3 push to phone" | dev $s bob-phone 2>&1)
	bg_wait alice-phone
	bg_wait alice-tablet
	has "msg bob/phone $ID3 push to phone" "$(cat "$W/alice-phone.out")" &&
		has "msg bob/phone $ID3 push to tablet" "$(cat "$W/alice-tablet.out")" &&
		not_has "push to tablet" "$(cat "$W/alice-phone.out")"
	ok $? "$b/$s: MSG pushed to the online device it is addressed to, only" \
		"$out / $(cat "$W/alice-phone.out") / $(cat "$W/alice-tablet.out")"
	printf 'ack bob/phone %s\n' $ID3 | dev $s alice-phone >/dev/null 2>&1
	printf 'ack bob/phone %s\n' $ID3 | dev $s alice-tablet >/dev/null 2>&1

	# prekeys per device; DEVICES; BUNDLE_GET per device and bare
	out=$(printf 'devices alice\n' | dev $s bob-phone 2>&1)
	has "error 8" "$out"
	ok $? "$b/$s: DEVICES of an officer without prekeys is ERROR 8" "$out"
	out=$(printf 'publish\n' | dev $s alice-tablet 2>&1)
	out=$out$(printf 'publish\n' | dev $s alice-phone 2>&1)
	[ "$(grep -c "reply 0x07" <<<"$out")" = 2 ]
	ok $? "$b/$s: both of alice's devices publish prekeys" "$out"
	out=$(printf 'devices alice\ndevices bob\n' | dev $s bob-phone 2>&1)
	has "devices alice 2 phone tablet" "$out" &&
		has "error 8 officer has no devices with prekeys on this relay for 0x0a bob" "$out"
	ok $? "$b/$s: DEVICES lists alice's two devices, sorted" "$out"
	# (publish puts two one-time prekeys)
	out=$(printf '%s\n' "bundle alice/tablet" "bundle alice/tablet" \
		"bundle alice/tablet" "bundle alice" "bundle alice/laptop" |
		dev $s bob-phone 2>&1)
	[ "$(grep -c "^bundle alice/tablet opks=1" <<<"$out")" = 2 ] &&
		has "bundle alice/tablet opks=0" "$out" &&
		has "bundle alice/phone opks=1" "$out" &&
		has "error 8 recipient has no prekeys on this relay for 0x08 alice/laptop" "$out"
	ok $? "$b/$s: BUNDLE_GET per device; a bare officer gets the newest device's" "$out"
	out=$(printf 'publish-as %s\n' "$W/alice-tablet.cert" |
		dev $s alice-phone 2>&1)
	has "error 1 prekey bundle refused" "$out"
	ok $? "$b/$s: a device does not publish under another device's certificate" "$out"
	# its own certificate's fields with a broken CA signature: refused
	# at PREKEYS (DEVICES checks no signature: the stored ones were
	# verified here)
	python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[2], "wb").write(b)' \
		"$W/alice-phone.cert" "$W/forged.cert"
	out=$(printf 'publish-as %s\ndevices alice\n' "$W/forged.cert" |
		dev $s alice-phone 2>&1)
	has "error 1 prekey bundle refused" "$out" &&
		has "devices alice 2 phone tablet" "$out"
	ok $? "$b/$s: a bundle whose certificate's signature is broken is refused" "$out"

	# FWD per device
	bg alice-phone 'wait\n'
	bg alice-tablet 'wait\n'
	out=$(printf 'fwd alice/tablet for-tablet\nfwd alice/phone for-phone\n' |
		dev $s bob-phone 2>&1)
	bg_wait alice-phone
	bg_wait alice-tablet
	has "from bob/phone for-phone" "$(cat "$W/alice-phone.out")" &&
		has "from bob/phone for-tablet" "$(cat "$W/alice-tablet.out")" &&
		not_has "error" "$out"
	ok $? "$b/$s: FWD to officer/device reaches that device's session only" \
		"$out / $(cat "$W/alice-phone.out") / $(cat "$W/alice-tablet.out")"
	# a restart forgets the sessions: only the phone comes back
	relay_stop
	relay_start
	bg alice-phone 'wait\n'
	out=$(printf 'fwd alice/tablet nobody-there\nfwd alice to-any\n' |
		dev $s bob-phone 2>&1)
	bg_wait alice-phone
	has "error 4 recipient not connected" "$out" &&
		has "from bob/phone to-any" "$(cat "$W/alice-phone.out")"
	ok $? "$b/$s: FWD to an offline device is ERROR 4 while the officer's phone is online" \
		"$out / $(cat "$W/alice-phone.out")"

	# malformed addresses: an empty half, two '/', a byte outside the
	# alphabet, longer than 129
	long=$(printf 'a%.0s' $(seq 65))/phone
	bad=0
	for a in "alice/" "/phone" "alice/phone/x" "al!ce/phone" "$long"; do
		o=$(printf 'raw 02%s%s78\n' "$(hexaddr "$a")" $ID1 |
			dev $s bob-phone 2>&1)
		has "error 1 malformed request" "$o" || bad=1
		o=$(printf 'raw 10%s78\n' "$(hexaddr "$a")" | dev $s bob-phone 2>&1)
		has "error 1 malformed request" "$o" || bad=1
	done
	o=$(printf 'raw 0a%s\n' "$(hexaddr alice/phone)" | dev $s bob-phone 2>&1)
	has "error 1 malformed request" "$o" || bad=1
	o=$(printf 'raw 10ff%s\n' "$(printf 'b%.0s' $(seq 255) | od -v -An -tx1 | tr -d ' \n')" |
		dev $s bob-phone 2>&1)
	has "error 1 malformed request" "$o" || bad=1
	ok $bad "$b/$s: malformed addresses (empty half, two '/', bad byte, too long) are ERROR 1" "$o"

	# the tablet revoked: gone from DEVICES after the deny-list reload
	ca revoke --ca "$W/ca" 2
	ca denylist --ca "$W/ca" -o "$W/dl"
	kill -HUP "$RP"
	for _ in $(seq 50); do
		[ "$(grep -c "deny-list loaded" "$W/relay.log")" -ge 2 ] && break
		sleep 0.1
	done
	out=$(printf 'devices alice\n' | dev $s bob-phone 2>&1)
	has "devices alice 1 phone" "$out"
	ok $? "$b/$s: a revoked device vanishes from DEVICES" "$out / $(tail -3 "$W/relay.log")"
	relay_stop
done
done

# a store from before several devices per officer (the old schema,
# written here with sqlite3 as the old relay did): the relay migrates it
# at start; the old message for the bare officer alice reaches both of
# her devices, the phone's ack takes it for both, a retry of a message
# delivered before the change is still a duplicate, also from the
# sender's device now named bob/phone
if command -v sqlite3 >/dev/null; then
	s=intl
	world
	sqlite3 "$W/store.db" >/dev/null <<-SQL || bail "sqlite3 cannot write the old schema"
		PRAGMA journal_mode=WAL;
		CREATE TABLE msgs(seq INTEGER PRIMARY KEY AUTOINCREMENT,
		 sender TEXT NOT NULL, id BLOB NOT NULL, recipient TEXT NOT NULL,
		 blob BLOB NOT NULL, stored_at INTEGER NOT NULL, UNIQUE(sender, id));
		CREATE INDEX msgs_rcpt ON msgs(recipient, seq);
		CREATE TABLE seen(sender TEXT NOT NULL, id BLOB NOT NULL,
		 acked_at INTEGER NOT NULL, PRIMARY KEY(sender, id)) WITHOUT ROWID;
		CREATE INDEX seen_age ON seen(acked_at);
		CREATE TABLE prekey_base(officer TEXT PRIMARY KEY,
		 bundle BLOB NOT NULL) WITHOUT ROWID;
		CREATE TABLE prekey_opk(officer TEXT NOT NULL, opk BLOB NOT NULL,
		 used INTEGER NOT NULL DEFAULT 0, UNIQUE(officer, opk));
		INSERT INTO msgs(sender, id, recipient, blob, stored_at)
		 VALUES('bob', x'$ID1', 'alice', 'from before', 1);
		INSERT INTO seen VALUES('bob', x'$ID2', $(date +%s));
	SQL
	STORE=$W/store.db
	relay_start
	ok $? "old store: the relay starts on it" "$(cat "$W/relay.log")"
	[ "$(sqlite3 "$W/store.db" 'PRAGMA user_version')" = 1 ]
	ok $? "old store: migrated (schema version 1)"
	out=$(printf 'fetch\n' | dev $s alice-tablet 2>&1)
	out2=$(printf 'fetch\nack bob %s\nfetch\n' $ID1 | dev $s alice-phone 2>&1)
	has "msg bob $ID1 from before" "$out" &&
		[ "$(grep -c "^msg bob $ID1 from before" <<<"$out2")" = 1 ]
	ok $? "old store: its message for the bare officer reaches each of her devices" \
		"$out / $out2"
	out=$(printf 'fetch\n' | dev $s alice-tablet 2>&1)
	not_has "from before" "$out"
	ok $? "old store: the phone's ack took the bare officer's row" "$out"
	out=$(printf 'send alice %s again\nsend alice/phone %s again\n' $ID2 $ID2 |
		dev $s bob-phone 2>&1)
	[ "$(grep -c "^stored $ID2 1" <<<"$out")" = 2 ]
	ok $? "old store: a message delivered before the change is still a duplicate" "$out"
	relay_stop
fi
finish
