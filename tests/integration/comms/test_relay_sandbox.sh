#!/usr/bin/env bash
# Integration: twofold-relay's least privilege. Started as root with
# --user nobody and two workers, every thread of the running relay has
# nobody's uids and gids, no capabilities (effective, permitted,
# inheritable, bounding, ambient), no_new_privs, and a seccomp filter in
# force (/proc/PID/task/*/status); under it the relay still does its job
# (handshake, echo, a stored message, a SIGHUP deny-list reload, a clean
# SIGTERM exit). A relay given a store it cannot write as that user says
# so. TAP. Cleans up its relay and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${COMMSHARNESS:?}"
PORT=51996
. "$(dirname "$0")/commslib.sh"
dev() { # dev NAME: a client session driven by stdin
	"$COMMSHARNESS" udp intl "$W/$1.key" "$W/relay.key.pub" \
		"$W/$1.cert" $PORT
}
field() { # field STATUSFILE NAME: the value(s) of one /proc status line
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$1"
}

chmod 755 "$W"
ca init --suite intl -o "$W/ca"
for n in relay alice; do
	ca keygen --suite intl -o "$W/$n.key"
done
ca issue --ca "$W/ca" --officer alice --device phone --role officer \
	--pubkey "$W/alice.key.pub" --days 1 -o "$W/alice.cert"
ca denylist --ca "$W/ca" -o "$W/dl"
chmod 644 "$W/dl"
mkdir -m 700 "$W/db"
chown nobody:nogroup "$W/db"

"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "$W/db/store.db" --denylist "$W/dl" \
	--user nobody --workers 2 -v >"$W/relay.out" 2>"$W/relay.log" &
RP=$!
BG_PIDS="$RP"
wait_for "$W/relay.out" ready
ok $? "the relay starts with --user nobody" "$(cat "$W/relay.log")"

threads=$(ls /proc/$RP/task | wc -l)
[ "$threads" -ge 3 ]
ok $? "a control thread and two workers ($threads threads)"

bad=
for t in /proc/$RP/task/*; do
	st=$t/status
	[ "$(field "$st" Uid)" = "65534 65534 65534 65534" ] || bad+=" $t:uid"
	[ "$(field "$st" Gid)" = "65534 65534 65534 65534" ] || bad+=" $t:gid"
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		[ "$(field "$st" $c)" = 0000000000000000 ] || bad+=" $t:$c"
	done
	[ "$(field "$st" NoNewPrivs)" = 1 ] || bad+=" $t:nnp"
	[ "$(field "$st" Seccomp)" = 2 ] || bad+=" $t:seccomp"
	[ "$(field "$st" Seccomp_filters)" -ge 1 ] || bad+=" $t:filters"
done
[ -z "$bad" ]
ok $? "every thread: nobody, no capabilities, no_new_privs, seccomp filter" \
	"$bad / $(cat /proc/$RP/status)"

out=$(printf 'echo hi\nsend alice 000102030405060708090a0b0c0d0e0f to self\n' |
	dev alice 2>&1)
has "echo hi" "$out" && has "stored 000102030405060708090a0b0c0d0e0f 0" "$out"
ok $? "under the filter: handshake, echo, a durably stored message" \
	"$out / $(tail -5 "$W/relay.log")"

ca denylist --ca "$W/ca" -o "$W/dl"
kill -HUP "$RP"
wait_for "$W/relay.log" "deny-list loaded" 2
ok $? "SIGHUP re-reads the deny-list as nobody" "$(tail -3 "$W/relay.log")"

out=$(printf 'fetch\n' | dev alice 2>&1)
has "msg alice/phone 000102030405060708090a0b0c0d0e0f to self" "$out"
ok $? "the store reads back under the filter" "$out"

kill -TERM "$RP"
wait "$RP"
rc=$?
RP=
BG_PIDS=
[ $rc = 0 ]
ok $? "a clean exit on SIGTERM under the filter (rc $rc)" \
	"$(tail -3 "$W/relay.log")"

# a store directory nobody cannot write: the relay opens the store as
# root before the drop, but SQLite's -wal lives beside it; refuse early
# rather than fail at the first SEND
mkdir -m 700 "$W/rootdb"
timeout 10 "$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "$W/rootdb/store.db" --user nobody \
	>/dev/null 2>"$W/err"
rc=$?
[ $rc -ne 0 ] && has "nobody" "$(cat "$W/err")"
ok $? "a store that --user cannot write is refused at start" "$(cat "$W/err")"

timeout 10 "$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "$W/db/store.db" --user no-such-user-x \
	>/dev/null 2>"$W/err"
[ $? -ne 0 ] && has "no such unprivileged user" "$(cat "$W/err")"
ok $? "an unknown --user is refused" "$(cat "$W/err")"
finish
