#!/usr/bin/env bash
# Integration: a new group owner learns the floor from the other relays
# instead of waiting out a lease (issue 15; src/relay/gnats.c "Learning
# the floor"). A two-node nats-server cluster on loopback, relays A and B
# with a long lease ($LEASE ms, --max-talk-ms and --emergency-talk-ms),
# six members (pttharness "takeover"), even on A, odd on B:
#  - idle: every relay watched the floor for a lease, then kill -9 the
#    owner: the survivor takes over, asks, and grants a press before the
#    old lease would have ended (the time is printed);
#  - burst: a survivor-side talker is granted, the owner killed -9 mid-
#    burst: no other member is granted before that grant's lease ran out.
# TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${PTTHARNESS:?}"
command -v nats-server >/dev/null || {
	echo "1..0 # SKIP nats-server missing (tools/deps.sh)"
	exit 0
}
PA=52971
PB=52972
N1=54271
N2=54272
R1=56271
R2=56272
LEASE=${PTT_TAKEOVER_LEASE_MS:-20000}
. "$(dirname "$0")/commslib.sh"
NP1='' NP2='' RA='' RB=''
upd() { BG_PIDS="$NP1 $NP2 $RA $RB"; }

. "$(dirname "$0")/natslib.sh"
NATS_CLUSTER=tftko
relay_node() { # relay_node NAME PORT NATSURLS NODEID: its own store
	relay_at "$1" "$2" "$3" --store "$W/$1.db" --node-id "$4" \
		--max-talk-ms "$LEASE" --emergency-talk-ms "$LEASE"
}

for mode in ${PTT_TAKEOVER_MODES:-idle burst}; do
	s=intl
	rm -rf "${W:?}"/*
	ca init --suite $s -o "$W/ca"
	ca keygen --suite $s -o "$W/relay.key"
	nats_cluster $N1 $N2 $R1 $R2
	ok $? "$mode: a two-node NATS cluster on loopback" "$(tail -3 "$W/nats1.log")"

	relay_node A $PA "nats://127.0.0.1:$N1,nats://127.0.0.1:$N2" a100
	RA=$!
	relay_node B $PB "nats://127.0.0.1:$N2,nats://127.0.0.1:$N1" b102
	RB=$!
	upd
	echo "$RA" >"$W/A.pid"
	echo "$RB" >"$W/B.pid"
	wait_for "$W/A.out" ready && wait_for "$W/B.out" ready &&
		wait_for "$W/A.log" "relay node .* joined" &&
		wait_for "$W/B.log" "relay node .* joined"
	ok $? "$mode: two relays see each other" "$(cat "$W/A.log" "$W/B.log")"

	cat >"$W/owner.sh" <<EOF
for n in A B; do
	l=\$(grep -E 'group north-1: (owned by this relay|now owned by)' "$W/\$n.log" | tail -1)
	case \$l in *"owned by this relay"*)
		echo "\$n \$(echo "\$l" | sed 's/.*(node \([0-9a-f]*\)).*/\1/')"
		exit 0 ;;
	esac
done
exit 1
EOF
	cat >"$W/kill.sh" <<EOF
set -e
o=\$(sh "$W/owner.sh" | cut -c1)
kill -9 "\$(cat "$W/\$o.pid")"
echo "\$o" >"$W/killed"
EOF
	PTT_OWNER_CMD="sh $W/owner.sh" PTT_KILL_CMD="sh $W/kill.sh" \
		PTT_TAKEOVER=$mode PTT_LEASE_MS=$LEASE \
		"$PTTHARNESS" $s "$W" "$PA,$PB" takeover >"$W/h.out" 2>"$W/h.err"
	echo "rc $?" >>"$W/h.out"
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok 0 "$mode: ${line#ok - }" ;;
		"not ok - "*) nok "$mode: ${line#not ok - }" "$(cat "$W/h.err"; tail -n 20 "$W/A.log" "$W/B.log")" ;;
		"# "*) diag "$mode: ${line#\# }" ;;
		"rc 0") ;;
		"rc "*) [ -s "$W/h.err" ] && nok "$mode: pttharness takeover" "$(cat "$W/h.err")" ;;
		esac
	done <"$W/h.out"

	k=$(cat "$W/killed" 2>/dev/null)
	sv=A
	[ "$k" = A ] && sv=B
	if [ $mode = idle ]; then
		grep -q "group north-1: every relay answered; floor hold ends" "$W/$sv.log"
		ok $? "$mode: the new owner ($sv) ended its hold on the relays' answers" \
			"$(grep -h 'north-1\|gone' "$W/A.log" "$W/B.log")"
	else
		grep -q "group north-1: taken over; floor held" "$W/$sv.log"
		ok $? "$mode: the new owner ($sv) held the floor for the running grant" \
			"$(grep -h 'north-1\|gone' "$W/A.log" "$W/B.log")"
	fi

	rcs=
	for n in A B; do
		p=$(cat "$W/$n.pid")
		if [ "$n" = "$k" ]; then
			wait "$p" 2>/dev/null
			continue
		fi
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		rc=$?
		[ $rc = 0 ] || rcs+=" $n:$rc"
	done
	RA='' RB=''
	upd
	[ -n "$k" ] && [ -z "$rcs" ]
	ok $? "$mode: the survivor exits cleanly ($k killed)" "$rcs / $(tail -n 5 "$W/A.log" "$W/B.log")"
	kill -TERM $NP1 $NP2 2>/dev/null
	wait $NP1 $NP2 2>/dev/null
	NP1='' NP2=''
	upd
done
finish
