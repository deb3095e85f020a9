#!/usr/bin/env bash
# Integration: talk groups and push-to-talk across two relays joined by
# NATS core (issue 15; src/relay/gnats.c). A two-node nats-server cluster
# on loopback, relay A on node 1 and relay B on node 2, six simulated
# members (pttharness "nats"), even ones on A and odd ones on B:
#  - a burst from a talker on B is decrypted by the members on A (and the
#    other way round);
#  - a join that sorts before a talker on B, mid-burst (epoch 2): its
#    frames still in flight under epoch 1 and its epoch-1 roster index
#    play on both relays (the owner routes them by the previous roster,
#    the other relay passes them by its previous roster), then epoch 2;
#  - $PTT_NATS_TRIALS (default 200) contention trials with talkers on
#    both relays: zero double grants, as two monitors (one per relay) see;
#  - late entry on the other relay than the talker's;
#  - forged NATS messages: a .fan frame under another member's key id in
#    the running burst, .own floor requests for a ghost officer and for a
#    member on a session it does not hold: refused;
#  - a third relay C joins (no members of its own) and outranks the
#    owner: the owner revokes, hands over, the group works through C;
#  - kill -9 C (the owner) mid-burst: A or B takes the group over (its
#    floor held one lease, --max-talk-ms and --emergency-talk-ms 1500),
#    the members talk again, no double grant.
# Node ids are pinned (--node-id) so that C outranks both for the group
# and A owns it first in one suite, B in the other.
# TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${PTTHARNESS:?}"
command -v nats-server >/dev/null || {
	echo "1..0 # SKIP nats-server missing (tools/deps.sh)"
	exit 0
}
PA=52961
PB=52962
PC=52963
N1=54261
N2=54262
R1=56261
R2=56262
. "$(dirname "$0")/commslib.sh"
NP1='' NP2='' RA='' RB=''
upd() { BG_PIDS="$NP1 $NP2 $RA $RB"; }
# relay C is started by the harness (through join.sh): its pid is a file
EXTRA_CLEANUP='[ -s "$W/C.pid" ] && kill -9 "$(cat "$W/C.pid")" 2>/dev/null; '"$EXTRA_CLEANUP"

. "$(dirname "$0")/natslib.sh"
NATS_CLUSTER=tfptt
relay_node() { # relay_node NAME PORT NATSURLS NODEID: its own store
	relay_at "$1" "$2" "$3" --store "$W/$1.db" --node-id "$4" \
		--max-talk-ms 1500 --emergency-talk-ms 1500
}

for s in ${PTT_NATS_SUITES:-intl gm}; do
	# over {a100, b102} a100 owns north-1; c100 outranks both
	if [ $s = intl ]; then IA=a100 IB=b102; else IA=b102 IB=a100; fi
	rm -rf "${W:?}"/*
	ca init --suite $s -o "$W/ca"
	ca keygen --suite $s -o "$W/relay.key"
	nats_cluster $N1 $N2 $R1 $R2
	ok $? "$s: a two-node NATS cluster on loopback" "$(tail -3 "$W/nats1.log")"

	relay_node A $PA "nats://127.0.0.1:$N1,nats://127.0.0.1:$N2" $IA
	RA=$!
	relay_node B $PB "nats://127.0.0.1:$N2,nats://127.0.0.1:$N1" $IB
	RB=$!
	: >"$W/C.pid"
	upd
	echo "$RA" >"$W/A.pid"
	echo "$RB" >"$W/B.pid"
	wait_for "$W/A.out" ready && wait_for "$W/B.out" ready &&
		wait_for "$W/A.log" "relay node .* joined" &&
		wait_for "$W/B.log" "relay node .* joined"
	ok $? "$s: two relays, each on its own NATS node, see each other" \
		"$(cat "$W/A.log" "$W/B.log")"

	# which relay owns the group: the last ownership line of its log
	cat >"$W/owner.sh" <<EOS
for n in A B C; do
	[ -f "$W/\$n.log" ] || continue
	l=\$(grep -E 'group north-1: (owned by this relay|now owned by)' "$W/\$n.log" | tail -1)
	case \$l in *"owned by this relay"*)
		echo "\$n \$(echo "\$l" | sed 's/.*(node \([0-9a-f]*\)).*/\1/')"
		exit 0 ;;
	esac
done
exit 1
EOS
	cat >"$W/kill.sh" <<EOS
set -e
o=\$(sh "$W/owner.sh" | cut -c1)
kill -9 "\$(cat "$W/\$o.pid")"
echo "\$o" >"$W/killed"
EOS
	cat >"$W/join.sh" <<EOS
"$TWOFOLD_RELAY" --listen 127.0.0.1:$PC --key "$W/relay.key" \\
	--ca "$W/ca/ca.pub" --store "$W/C.db" --nats "nats://127.0.0.1:$N2" \\
	--node-id c100 --max-talk-ms 1500 --emergency-talk-ms 1500 -v \\
	>"$W/C.out" 2>>"$W/C.log" </dev/null &
echo \$! >"$W/C.pid"
for _ in \$(seq 100); do
	grep -q "group north-1: now owned by node 000000000000c100" "$W/A.log" "$W/B.log" && exit 0
	sleep 0.1
done
exit 1
EOS
	PTT_NATS_PORT=$N1 PTT_OWNER_CMD="sh $W/owner.sh" PTT_KILL_CMD="sh $W/kill.sh" \
		PTT_JOIN_CMD="sh $W/join.sh" \
		"$PTTHARNESS" $s "$W" "$PA,$PB" nats >"$W/h.out" 2>"$W/h.err"
	echo "rc $?" >>"$W/h.out"
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok 0 "$s: ${line#ok - }" ;;
		"not ok - "*) nok "$s: ${line#not ok - }" "$(cat "$W/h.err"; tail -n 20 "$W/A.log" "$W/B.log")" ;;
		"# "*) diag "$s: ${line#\# }" ;;
		"rc 0") ;;
		"rc "*) [ -s "$W/h.err" ] && nok "$s: pttharness nats" "$(cat "$W/h.err")" ;;
		esac
	done <"$W/h.out"
	grep -q "refused\|dropped" "$W/A.log" "$W/B.log"
	ok $? "$s: the relays log the forged NATS messages they dropped" \
		"$(grep -h 'group north-1' "$W/A.log" "$W/B.log" | tail -5)"

	# the new owner took the group over without the dead owner's state:
	# it held the floor (one lease) before granting
	k=$(cat "$W/killed" 2>/dev/null)
	held=
	for n in A B C; do
		[ "$n" = "$k" ] && continue
		awk '/silent 3 s: gone/ { g = 1 } g && /group north-1: taken over; floor held/ { f = 1 } END { exit !f }' \
			"$W/$n.log" && held=$n
	done
	[ -n "$held" ]
	ok $? "$s: the new owner ($held) held the floor after the owner died" \
		"$(grep -h 'north-1\|gone' "$W/A.log" "$W/B.log")"

	# the survivors exit cleanly
	rcs=
	for n in A B C; do
		p=$(cat "$W/$n.pid" 2>/dev/null)
		[ -n "$p" ] || continue
		if [ "$n" = "$k" ]; then
			wait "$p" 2>/dev/null || kill -9 "$p" 2>/dev/null
			continue
		fi
		kill -TERM "$p" 2>/dev/null
		if [ "$n" = C ]; then
			# not this shell's child: wait for it to go
			for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			grep -q "SENDs in" "$W/C.log" || rcs+=" C:unclean"
		else
			wait "$p" 2>/dev/null
			rc=$?
			[ $rc = 0 ] || rcs+=" $n:$rc"
		fi
	done
	: >"$W/C.pid"
	RA='' RB=''
	upd
	[ -n "$k" ] && [ -z "$rcs" ]
	ok $? "$s: the survivors exit cleanly ($k killed)" "$rcs / $(tail -n 5 "$W/A.log" "$W/B.log")"
	kill -TERM $NP1 $NP2 2>/dev/null
	wait $NP1 $NP2 2>/dev/null
	NP1='' NP2=''
	upd
done
finish
