#!/usr/bin/env bash
# Integration: two relays joined by NATS core. A two-node nats-server
# cluster (loopback ports, started and torn down by this test), relay A
# and relay B sharing one SQLite store (WAL) and each connected to a
# different node. alice's service is on A, bob's on B: messages from
# alice reach bob through the shared store and a NATS notice; a FWD from
# a device on A reaches a device on B; the NATS node relay A uses is
# killed with -9 in the middle of a run of messages: relay A reconnects
# to the other node, and bob reads every message exactly once, none
# lost; a recording of a device's INIT replayed to the other relay is
# given nothing there. The relays run with --user nobody and their
# seccomp filter.
# TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${COMMSHARNESS:?}"
command -v nats-server >/dev/null || {
	echo "1..0 # SKIP nats-server missing (tools/deps.sh)"
	exit 0
}
PA=51993
PB=51994
N1=54221
N2=54222
R1=56221
R2=56222
. "$(dirname "$0")/commslib.sh"
. "$(dirname "$0")/natslib.sh"
NP1='' NP2='' RA='' RB=''
upd() { BG_PIDS="$NP1 $NP2 $RA $RB ${SP[*]} ${HP:-}"; }
# the relays run as nobody under their seccomp filter
RELAY_COMMON=(--user nobody)

comms_world intl carol dave
CAROL_DEV=$(dev_of carol)
DAVE_DEV=$(dev_of dave)
# the relays run as nobody under their seccomp filter (the NATS client
# reconnects under it)
chmod 755 "$W"
mkdir -m 700 "$W/db"
chown nobody:nogroup "$W/db"
nats_cluster $N1 $N2 $R1 $R2
ok $? "a two-node NATS cluster on loopback" "$(tail -3 "$W/nats1.log")"

# one after the other: the first creates the store's schema
relay_at A $PA "nats://127.0.0.1:$N1,nats://127.0.0.1:$N2"
RA=$!
upd
wait_for "$W/A.out" ready
relay_at B $PB "nats://127.0.0.1:$N2,nats://127.0.0.1:$N1"
RB=$!
upd
wait_for "$W/A.out" ready && wait_for "$W/B.out" ready
ok $? "two relays, one store, each on its own NATS node" \
	"$(cat "$W/A.log" "$W/B.log")"

svc_at bob $PB
wait_status bob "relay connected" && [ -f "$W/bob/published" ]
ok $? "bob connects to relay B and publishes his prekeys" "$(cat "$W/bob.log")"
svc_at alice $PA
wait_status alice "relay connected"
ok $? "alice connects to relay A" "$(cat "$W/alice.log")"

cm alice msg send bob "hello from A" >/dev/null
wait_read bob 1
has "from alice: hello from A" "$(cat "$W/bob.read")"
ok $? "alice (relay A) -> bob (relay B): delivered live" \
	"$(cat "$W/bob.read") / $(tail -3 "$W/B.log")"

printf 'wait\n' | dev_at carol $PB >"$W/carol.out" 2>&1 &
HP=$!
upd
wait_for "$W/carol.out" connected
sleep 0.3
printf 'fwd carol frame-1\necho a\nfwd carol frame-2\necho b\nfwd carol frame-3\n' |
	dev_at dave $PA >"$W/dave.out" 2>&1
wait $HP
HP=
upd
grep -q "^from dave/$DAVE_DEV frame-" "$W/carol.out"
ok $? "a FWD from a device on relay A reaches a device on relay B" \
	"$(cat "$W/carol.out") / $(cat "$W/dave.out")"

# a FWD to an officer no relay holds: NATS answers "no responders" to
# its reply subject and the sender hears it; one held by relay B: none
printf 'wait\n' | dev_at carol $PB >"$W/carol.out" 2>&1 &
HP=$!
upd
wait_for "$W/carol.out" connected
sleep 0.3
printf 'fwd carol still-here\nfwd ghost anyone\nwait\n' |
	dev_at dave $PA >"$W/dave.out" 2>&1
wait $HP
HP=
upd
[ "$(grep -c 'error 4 recipient not connected' "$W/dave.out")" = 1 ] &&
	has "from dave/$DAVE_DEV still-here" "$(cat "$W/carol.out")"
ok $? "a FWD to an officer no relay holds: ERROR 4; one held by B: none" \
	"$(cat "$W/dave.out") / $(cat "$W/carol.out") / $(tail -3 "$W/A.log")"

# per device (several devices per officer): a FWD to carol's device
# goes to its device subject and reaches it on relay B; one to a device
# of carol's that no relay holds is ERROR 4 ("no responders" on that
# device's subject) while carol's other device is online
printf 'wait\n' | dev_at carol $PB >"$W/carol.out" 2>&1 &
HP=$!
upd
wait_for "$W/carol.out" connected
sleep 0.3
printf 'fwd carol/%s to-the-device\nfwd carol/laptop nobody-there\nwait\n' \
	"$CAROL_DEV" | dev_at dave $PA >"$W/dave.out" 2>&1
wait $HP
HP=
upd
[ "$(grep -c 'error 4 recipient not connected' "$W/dave.out")" = 1 ] &&
	has "from dave/$DAVE_DEV to-the-device" "$(cat "$W/carol.out")"
ok $? "across relays, a FWD to carol/DEVICE reaches it; to her offline device: ERROR 4" \
	"$(cat "$W/dave.out") / $(cat "$W/carol.out")"

# a recording of carol's INIT (she is on relay B) replayed to relay A,
# whose timestamp table never saw it: A answers, but gives that session
# nothing until the device sends on it (which only the device can), so
# a FWD from dave on A still goes through NATS to carol's session on B
mkfifo "$W/carol.in"
dev_at carol $PB <"$W/carol.in" >"$W/carol.out" 2>&1 &
HP=$!
upd
exec 7>"$W/carol.in"
wait_for "$W/carol.out" connected
n0=$(grep -c "carol connected (serial" "$W/A.log")
echo "replay-init-at $PA" >&7
wait_for "$W/carol.out" replayed
for _ in $(seq 50); do
	[ "$(grep -c "carol connected (serial" "$W/A.log")" -gt "$n0" ] && break
	sleep 0.1
done
sleep 0.3
printf 'fwd carol after-replay\nwait\n' | dev_at dave $PA >"$W/dave.out" 2>&1
echo replay-count >&7
echo wait >&7
exec 7>&-
wait $HP
HP=
upd
rm -f "$W/carol.in"
[ "$(grep -c "carol connected (serial" "$W/A.log")" -gt "$n0" ] &&
	has "from dave/$DAVE_DEV after-replay" "$(cat "$W/carol.out")" &&
	not_has "error 4" "$(cat "$W/dave.out")"
ok $? "carol's INIT replayed to relay A: A accepts it, a FWD still reaches her on B" \
	"$(cat "$W/dave.out") / $(cat "$W/carol.out") / $(tail -3 "$W/A.log")"
has "replay got 1" "$(cat "$W/carol.out")"
ok $? "... and the replayer's address got the RESP only, not the FWD" \
	"$(cat "$W/dave.out") / $(cat "$W/carol.out") / $(tail -3 "$W/A.log")"

# a stored message to carol's device (SEND on relay A) is pushed to her
# session on relay B through the device subject (notice version 1)
printf 'fetch\nwait\n' | dev_at carol $PB >"$W/carol.out" 2>&1 &
HP=$!
upd
wait_for "$W/carol.out" "echo sync"
printf 'send carol/laptop %s not-for-this-device\nsend carol/%s %s for-the-device\n' \
	000102030405060708090a0b0c0d0e0f "$CAROL_DEV" \
	000102030405060708090a0b0c0d0e0f | dev_at dave $PA >"$W/dave.out" 2>&1
wait $HP
HP=
upd
grep -q "^msg dave/$DAVE_DEV 000102030405060708090a0b0c0d0e0f for-the-device" \
	"$W/carol.out" && not_has "not-for-this-device" "$(cat "$W/carol.out")"
ok $? "across relays, a stored message to carol/DEVICE is pushed to that device only" \
	"$(cat "$W/dave.out") / $(cat "$W/carol.out")"

# a run of messages with relay A's NATS node killed in the middle
: >"$W/all.read"
for i in $(seq 1 20); do
	cm alice msg send bob "run $i" >/dev/null
	if [ "$i" = 8 ]; then
		kill -9 "$NP1"
		wait "$NP1" 2>/dev/null
		NP1=
		upd
	fi
	sleep 0.05
done
wait_for "$W/A.log" "NATS reconnected"
ok $? "relay A reconnects to the other NATS node" "$(tail -5 "$W/A.log")"
wait_status alice "outbox 0"
ok $? "every message stored (alice's outbox empties)" "$(cm alice status)"
for _ in $(seq 300); do
	cm bob msg read >>"$W/all.read" 2>/dev/null
	[ "$(grep -c '^from alice: run ' "$W/all.read")" -ge 20 ] && break
	sleep 0.1
done
sleep 1
cm bob msg read >>"$W/all.read" 2>/dev/null
bad=
for i in $(seq 1 20); do
	c=$(grep -c "^from alice: run $i\$" "$W/all.read")
	[ "$c" = 1 ] || bad+=" run$i:$c"
done
[ -z "$bad" ]
ok $? "bob reads all 20, each exactly once (none lost, no duplicates)" \
	"$bad / $(cat "$W/all.read") / $(tail -5 "$W/B.log")"

kill -TERM "$RA" "$RB" 2>/dev/null
wait "$RA" 2>/dev/null
ra=$?
wait "$RB" 2>/dev/null
rb=$?
RA='' RB=''
upd
[ $ra = 0 ] && [ $rb = 0 ]
ok $? "both relays exit cleanly ($ra, $rb)"

# a relay started while no NATS server answers waits for one (cnats
# retries in its own threads) and SIGTERM still stops it: before, the
# blocking connect held the start with SIGTERM blocked for the signalfd
N3=54231
relay_at C $R1 "nats://127.0.0.1:$N3"
RA=$!
upd
wait_for "$W/C.log" "no server answers yet"
ok $? "a relay with no NATS server says it waits for one" "$(cat "$W/C.log")"
kill -TERM "$RA"
for _ in $(seq 50); do kill -0 "$RA" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$RA" 2>/dev/null && wait "$RA"
rc=$?
RA=''
upd
[ "$rc" = 0 ] && grep -q "stopped by a signal while waiting for NATS" "$W/C.log"
ok $? "SIGTERM stops it while it waits, cleanly ($rc)" "$(tail -3 "$W/C.log")"
relay_at D $R1 "nats://127.0.0.1:$N3"
RA=$!
upd
wait_for "$W/D.log" "no server answers yet"
nats-server -a 127.0.0.1 -p $N3 -l "$W/nats3.log" &
NP1=$!
upd
wait_for "$W/D.out" ready
ok $? "the relay starts once a NATS server answers" "$(tail -3 "$W/D.log")"
kill -TERM "$RA"
wait "$RA"
rc=$?
RA=''
upd
[ "$rc" = 0 ]
ok $? "and exits cleanly at SIGTERM ($rc)"
finish
