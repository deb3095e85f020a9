#!/usr/bin/env bash
# Integration: twofold-relay's workers and session table. With two
# workers: a FWD reaches every connected device of an officer (two
# devices of bob, each its own certificate and session; the 1:N fan-out
# of the per-officer index), devices on different flows are served by
# either worker; a device's session that stays silent past
# --idle-timeout is dropped (the relay logs it, a FWD to it then says
# "recipient not connected"); a second relay on the port in use is
# refused (SO_REUSEPORT would otherwise share it). TAP. Cleans up its relay and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${COMMSHARNESS:?}"
PORT=51992
. "$(dirname "$0")/commslib.sh"
dev() { # dev NAME: a client session driven by stdin
	"$COMMSHARNESS" udp intl "$W/$1.key" "$W/relay.key.pub" \
		"$W/$1.cert" $PORT
}

ca init --suite intl -o "$W/ca"
ca keygen --suite intl -o "$W/relay.key"
for n in alice bob1 bob2 carol; do
	ca keygen --suite intl -o "$W/$n.key"
done
ca issue --ca "$W/ca" --officer alice --device phone --role officer \
	--pubkey "$W/alice.key.pub" --days 1 -o "$W/alice.cert"
ca issue --ca "$W/ca" --officer carol --role officer \
	--pubkey "$W/carol.key.pub" --days 1 -o "$W/carol.cert"
for d in bob1 bob2; do
	ca issue --ca "$W/ca" --officer bob --device $d --role officer \
		--pubkey "$W/$d.key.pub" --days 1 -o "$W/$d.cert"
done
"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "$W/store.db" --workers 2 \
	--idle-timeout 2 -v >"$W/relay.out" 2>"$W/relay.log" &
RP=$!
BG_PIDS=$RP
wait_for "$W/relay.out" ready
has "2 workers" "$(cat "$W/relay.log")"
ok $? "the relay starts with two workers" "$(cat "$W/relay.log")"

printf 'wait\n' | dev bob1 >"$W/bob1.out" 2>&1 &
b1=$!
printf 'wait\n' | dev bob2 >"$W/bob2.out" 2>&1 &
b2=$!
BG_PIDS="$RP $b1 $b2"
wait_for "$W/bob1.out" connected && wait_for "$W/bob2.out" connected
out=$(printf 'fwd bob to-both\n' | dev alice 2>&1)
wait $b1 $b2
BG_PIDS=$RP
has "from alice/phone to-both" "$(cat "$W/bob1.out")" &&
	has "from alice/phone to-both" "$(cat "$W/bob2.out")"
ok $? "a FWD to bob reaches both of bob's devices" \
	"$(cat "$W/bob1.out") / $(cat "$W/bob2.out") / $out"

# many flows, both workers: every device's echo comes back
bad=
for i in $(seq 12); do
	o=$(printf 'echo n%s\n' "$i" | dev alice 2>&1)
	has "echo n$i" "$o" || bad+=" $i"
done
[ -z "$bad" ]
ok $? "12 flows in turn: each answered (SO_REUSEPORT spreads them)" "$bad"

# carol connects, then stays silent past the idle timeout
printf 'echo here\n' | dev carol >/dev/null 2>&1
out=$(printf 'fwd carol while-there\n' | dev alice 2>&1)
not_has "error 4" "$out"
ok $? "carol's session exists right after she connects" "$out"
wait_for "$W/relay.log" "carol idle for"
ok $? "her silent session is dropped after --idle-timeout" \
	"$(tail -3 "$W/relay.log")"
out=$(printf 'fwd carol after-expiry\n' | dev alice 2>&1)
has "error 4 recipient not connected" "$out"
ok $? "a FWD to her then says she is not connected" "$out"

# SO_REUSEPORT must not let a second relay share the port
timeout 10 "$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "$W/store2.db" >/dev/null 2>"$W/err"
[ $? = 1 ] && has "cannot listen on 127.0.0.1:$PORT" "$(cat "$W/err")"
ok $? "a second relay on the same port is refused, not given half the flows" \
	"$(cat "$W/err")"

kill -TERM $RP
wait $RP
rc=$?
RP=
BG_PIDS=
[ $rc = 0 ]
ok $? "clean exit ($rc)"
finish
