#!/usr/bin/env bash
# Integration (issue 15): kill -9 in the distributed deployment, the
# third run of test_killnine.sh's. Two relays (A, B) share one
# PostgreSQL 15 store (pglib.sh, a private cluster), each on its own
# node of a two-node NATS cluster (A prefers node 1, B node 2). Five
# senders (storeload: the real protocol, each message acknowledged only
# after the commit, retried under the same id until it is) split over
# the two relays (alice, bob, dave on A; erin, frank on B) send KNN_COUNT
# messages in total (default 10,000) to carol. Meanwhile the relays are
# killed with SIGKILL KNN_KILLS times (default 20, alternating A and B,
# at random points of the run) and restarted at once, and the NATS nodes
# KNN_NODE_KILLS times (default 4, alternating), each restarted after a
# second. carol is ONLINE on relay B (storeload live: a FETCH at each
# connect and every KNN_FETCH_MS, default 15000 as twofold-comms'
# periodic FETCH; every MSG acknowledged) from 25 % to 65 % of the run,
# so delivery to her goes through NATS notices (from A) while nodes and
# relays die, and offline for the rest; at the end she drains from
# relay A. Checks: every message delivered, none lost, none shown twice
# (a device drops an id it has shown, by its seen marker; what the
# relay sent again is counted, and a message that came back from the
# store after the relay confirmed its ACK is a duplicate), each sender's
# order kept in the order carol first saw them, nothing left in the
# store. Prints how many arrived live and how many by the drain. Each
# sender pauses KNN_GAP_MS (default 20) after a stored message so the
# kills land inside the run. 54-73 s here. KNN_KEEP=1 keeps the temp dir
# (schedule, live.out, drain.out, the relays' logs) for a post mortem.
# TAP. Cleans up its relays, NATS nodes, senders, cluster and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${STORELOAD:?}"
command -v nats-server >/dev/null || {
	echo "1..0 # SKIP nats-server missing (tools/deps.sh)"
	exit 0
}
[ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ] || {
	echo "1..0 # SKIP PostgreSQL 15 missing (tools/deps.sh)"
	exit 0
}
. "$(dirname "$0")/commslib.sh"
. "$(dirname "$0")/pglib.sh"
EXTRA_CLEANUP='pg_stop; [ -n "${KNN_KEEP:-}" ] || rm -rf "$W"'
# below the ephemeral range (32768-60999): the relays' and nodes' own
# outgoing TCP connections (NATS client, routes) take ports from it, and
# a restarted relay's TCP listener found its port taken by one
PA=31021
PB=31022
N1=31231
N2=31232
R1=31241
R2=31242
COUNT=${KNN_COUNT:-10000}
KILLS=${KNN_KILLS:-20}
NODE_KILLS=${KNN_NODE_KILLS:-4}
FETCH_MS=${KNN_FETCH_MS:-15000}
# each sender pauses this long after each stored message: five senders
# at most ~250 messages/s in all, so the kills (a restart takes ~0.3 s,
# a node is down a second) land spread over the run, not after it
export STORELOAD_GAP_MS=${KNN_GAP_MS:-20}
SUITE=intl
declare -A RP=([A]='' [B]='') RPORT=([A]=$PA [B]=$PB) RNATS NP=([1]='' [2]='')
RNATS[A]="nats://127.0.0.1:$N1,nats://127.0.0.1:$N2"
RNATS[B]="nats://127.0.0.1:$N2,nats://127.0.0.1:$N1"
declare -A NPORT=([1]=$N1 [2]=$N2) NROUTE=([1]=$R1 [2]=$R2) NOTHER=([1]=$R2 [2]=$R1)
declare -A SENDER_AT=([alice]=A [bob]=A [dave]=A [erin]=B [frank]=B)
SENDERS="alice bob dave erin frank"
LP=()
LIVE=
NSTARTS=0
upd() { BG_PIDS="${RP[A]} ${RP[B]} ${NP[1]} ${NP[2]} ${LP[*]} $LIVE"; }

comms_world "$SUITE" carol dave erin frank || bail "cannot make the CA and keys"
sl() { # sl MODE NAME PORT ARGS...: storeload as officer NAME via PORT
	local m=$1 n=$2 p=$3
	shift 3
	"$STORELOAD" "$m" "$SUITE" "$W/$n.key" "$W/relay.key.pub" \
		"$W/$n.cert" "$p" "$@"
}
node_start() { # node_start N: at most 10 s
	NSTARTS=$((NSTARTS + 1))
	local log="$W/nats$1.$NSTARTS.log"
	nats-server -a 127.0.0.1 -p "${NPORT[$1]}" --cluster_name tf \
		--cluster "nats://127.0.0.1:${NROUTE[$1]}" \
		--routes "nats://127.0.0.1:${NOTHER[$1]}" -l "$log" &
	NP[$1]=$!
	upd
	wait_for "$log" "Server is ready"
}
node_kill() {
	kill -KILL "${NP[$1]}" 2>/dev/null
	wait "${NP[$1]}" 2>/dev/null
	NP[$1]=''
	upd
}
relay_up() { # relay_up A|B: at most 10 s
	: >"$W/$1.out"
	"$TWOFOLD_RELAY" --listen 127.0.0.1:"${RPORT[$1]}" --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" --store-conninfo-file "$W/conninfo" \
		--nats "${RNATS[$1]}" -v >"$W/$1.out" 2>>"$W/$1.log" &
	RP[$1]=$!
	upd
	wait_for "$W/$1.out" ready
}
relay_kill() {
	kill -KILL "${RP[$1]}" 2>/dev/null
	wait "${RP[$1]}" 2>/dev/null
	RP[$1]=''
	upd
}
progress() { cat "$W"/send.*.out 2>/dev/null | grep -c '^stored'; }
senders_done() { [ "$(cat "$W"/send.*.out 2>/dev/null | grep -c '^done')" = 5 ]; }
live_on() { # storeload itself, not a subshell: live_off kills it by pid
	"$STORELOAD" live "$SUITE" "$W/carol.key" "$W/relay.key.pub" \
		"$W/carol.cert" $PB "$FETCH_MS" >>"$W/live.out" 2>>"$W/live.err" &
	LIVE=$!
	upd
}
live_off() {
	[ -n "$LIVE" ] || return 0
	kill -KILL "$LIVE" 2>/dev/null
	wait "$LIVE" 2>/dev/null
	LIVE=
	upd
}

T0=$SECONDS
node_start 1 && node_start 2 &&
	for _ in $(seq 100); do
		grep -q "Route connection created" "$W"/nats1.*.log 2>/dev/null && break
		sleep 0.1
	done
grep -q "Route connection created" "$W"/nats1.*.log
ok $? "a two-node NATS cluster on loopback" "$(tail -3 "$W"/nats1.*.log)"
if ! pg_start; then
	nok "a private PostgreSQL 15 cluster starts" \
		"$(cat "$PG_DIR/log" "$PG_DIR/initdb.log" 2>/dev/null | tail -5)"
	finish
fi
printf 'postgres:%s\n' "$PG_CONNINFO" >"$W/conninfo"
chmod 600 "$W/conninfo"
# one after the other: the first creates the store's schema
relay_up A && relay_up B
ok $? "two relays on one PostgreSQL store, each on its own NATS node" \
	"$(tail -3 "$W/A.log" "$W/B.log")"

: >"$W/live.out"
per=$((COUNT / 5))
for s in $SENDERS; do
	"$STORELOAD" send "$SUITE" "$W/$s.key" "$W/relay.key.pub" \
		"$W/$s.cert" "${RPORT[${SENDER_AT[$s]}]}" carol $s $per \
		>"$W/send.$s.out" 2>"$W/send.$s.err" &
	LP+=($!)
done
upd

# the schedule: relay kills at about i/(KILLS+1) of the run give or take
# a random share, alternating A and B; node kills at about
# (2j-1)/(2 NODE_KILLS) plus a random share, alternating 1 and 2; carol
# online from 25 % to 65 %
{
	for i in $(seq "$KILLS"); do
		t=$((COUNT * i / (KILLS + 1) + (RANDOM % (COUNT / (KILLS + 1) + 1)) - COUNT / (2 * (KILLS + 1))))
		echo "$t relay $([ $((i % 2)) = 1 ] && echo A || echo B)"
	done
	for j in $(seq "$NODE_KILLS"); do
		echo "$((COUNT * (2 * j - 1) / (2 * NODE_KILLS) + RANDOM % (COUNT / (4 * NODE_KILLS) + 1))) node $(((j - 1) % 2 + 1))"
	done
	echo "$((COUNT * 25 / 100)) live on"
	echo "$((COUNT * 65 / 100)) live off"
} | sort -n >"$W/schedule"
rk=0 nk=0 rc=0 live_kills=0 live_nkills=0
deadline=$((SECONDS + 600))
while read -r t what arg; do
	while [ "$(progress)" -lt "$t" ] && ! senders_done &&
		[ $SECONDS -lt $deadline ]; do
		sleep 0.01
	done
	sleep "0.0$((RANDOM % 10))"
	case $what in
	relay)
		relay_kill "$arg"
		rk=$((rk + 1))
		[ -n "$LIVE" ] && [ "$arg" = B ] && live_kills=$((live_kills + 1))
		relay_up "$arg" || rc=1
		;;
	node)
		node_kill "$arg"
		nk=$((nk + 1))
		[ -n "$LIVE" ] && live_nkills=$((live_nkills + 1))
		sleep 1
		node_start "$arg" || rc=1
		;;
	live) if [ "$arg" = on ]; then live_on; else live_off; fi ;;
	esac
done <"$W/schedule"
live_off
ok $rc "relays killed with SIGKILL $rk times, NATS nodes $nk times, each restarted" \
	"$(tail -5 "$W/A.log" "$W/B.log")"
diag "while carol was online: relay B killed $live_kills times, a NATS node $live_nkills times"
for p in "${LP[@]}"; do
	wait "$p" || rc=1
done
LP=()
upd
senders_done
ok $? "the 5 senders finished, each message acknowledged as stored" \
	"$(tail -n 3 "$W"/send.*.err "$W"/send.*.out)"
diag "$(progress) STORED answers, $(cat "$W"/send.*.out | grep -c 'DUP$') of them" \
	"retries of a message already stored, $(cat "$W"/send.*.out | grep -c '^retry') retry-later answers"
n=$(grep -c "NATS reconnected" "$W/A.log" "$W/B.log" | awk -F: '{ s += $2 } END { print s + 0 }')
[ "$n" -gt 0 ]
ok $? "the relays reconnected to the other NATS node ($n times)" "$(tail -5 "$W/A.log")"

udp_drops() { awk '/^Udp:/ { if (++n == 1) split($0, h); else for (i = 1; i <= NF; i++) if (h[i] == "RcvbufErrors") print $i }' /proc/net/snmp; }
diag "UDP datagrams dropped by full receive buffers in this namespace: $(udp_drops)"
# both nodes up and quiet before the drain: no notice is in flight, so
# what the drain gets is what the store holds
sleep 1
sl drain carol $PA >"$W/drain.out" 2>"$W/drain.err"
ok $? "carol comes online on relay A and drains" "$(cat "$W/drain.err")"
out=$(python3 - "$W/live.out" "$W/drain.out" "$per" $SENDERS <<-'PY'
	import sys
	live, drain, per, senders = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
	first = {s: [] for s in senders}  # seqs in the order first shown
	shown, confirmed = set(), set()
	bad = dups = live_n = drain_n = again = late = 0
	def parse(frm, text):
	    name, seq = text.split(":")
	    frm = frm.split("/", 1)[0]  # MSG names officer/device
	    if name != frm or frm not in first:
	        return None
	    return (frm, int(seq))
	for line in open(live):
	    kind, frm, text = line.rstrip("\n").split(" ", 2)
	    if kind == "acked":
	        confirmed.add((frm.split("/", 1)[0], int(text)))
	        continue
	    k = parse(frm, text)
	    if k is None:
	        bad += 1
	        continue
	    if kind == "msg" and k not in shown:
	        shown.add(k)
	        first[k[0]].append(k[1])
	        live_n += 1
	    else:  # sent again, dropped by its id as a device does
	        again += 1
	        late += k in confirmed
	seen_drain = set()
	for line in open(drain):
	    _, frm, text = line.rstrip("\n").split(" ", 2)
	    k = parse(frm, text)
	    if k is None:
	        bad += 1
	        continue
	    if k in seen_drain or k in confirmed:
	        dups += 1  # back from the store after its ACK was handled
	    seen_drain.add(k)
	    if k in shown:
	        again += 1
	        continue
	    shown.add(k)
	    first[k[0]].append(k[1])
	    drain_n += 1
	lost = sum(per - len(set(v)) for v in first.values())
	disorder = sum(sum(1 for a, b in zip(v, v[1:]) if b <= a) for v in first.values())
	print(f"delivered {len(shown)} lost {lost} duplicates {dups} "
	      f"out-of-order {disorder} forged {bad}")
	print(f"live {live_n} drain {drain_n} sent-again {again} "
	      f"late-notices {late} acks-confirmed {len(confirmed)}")
	print(" ".join(f"{s}:{a}>{b}" for s, v in first.items()
	               for a, b in zip(v, v[1:]) if b <= a)[:300])
PY
)
res=$(head -1 <<<"$out")
stats=$(sed -n 2p <<<"$out")
order=$(sed -n 3p <<<"$out")
[ "$res" = "delivered $COUNT lost 0 duplicates 0 out-of-order 0 forged 0" ]
ok $? "nats: $res" "out of order: $order / $(tail -3 "$W/live.err")"
read -r _ nlive _ ndrain _ nagain _ nlate _ nconf <<<"$stats"
diag "arrived live: $nlive, by the drain: $ndrain; sent again and dropped by id: $nagain" \
	"(of them after the relay had handled the ACK: $nlate, late notices); ACKs confirmed live: $nconf"
[ "${nlive:-0}" -gt 0 ] && [ "${ndrain:-0}" -gt 0 ]
ok $? "some arrived live (NATS notices, while nodes died) and some by the drain" "$stats"
n=$(pg_psql 'select count(*) from msgs')
[ "$n" = 0 ]
ok $? "nothing left in the store after the acknowledgements" "$n"
relay_kill A
relay_kill B
node_kill 1
node_kill 2
diag "wall time $((SECONDS - T0)) s"
finish
