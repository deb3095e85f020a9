#!/usr/bin/env bash
# Integration (issue 15): the relay's PostgreSQL store through two real
# Patroni failovers and the loss of the synchronous standby. A cluster of one etcd and two Patroni 3.0 nodes,
# each with its own PostgreSQL 15, synchronous_mode on (patronilib.sh:
# why), in the test's own network namespace; one relay, as nobody
# under its seccomp filter, on the multi-host connection string with
# target_session_attrs=read-write. Five senders (storeload: each message
# acknowledged only after the store's commit, retried with the same
# client id until it is) send PAT_COUNT messages (default 6000) to an
# offline recipient, paced (STORELOAD_GAP_MS) so the load outlives all
# three:
#   1. at a random moment the leader dies whole: its traffic vanishes
#      (nftables drops it: no FIN, no RST, as a machine that lost
#      power) and its Patroni and postmaster are SIGKILLed; Patroni
#      promotes the synchronous standby, the relay notices the dead
#      peer (keepalives, tcp_user_timeout) and finds the new primary;
#   2. the dead node comes back and rejoins as a replica (pg_rewind, or
#      a fresh copy), becomes the synchronous standby again, and a
#      `patronictl switchover` hands the lead back to it;
#   3. the synchronous standby loses power the same way: the primary's
#      COMMITs wait (no put fails: the keepalives must not fire on a
#      live server) until Patroni takes it out of
#      synchronous_standby_names, then the primary goes on alone.
# Then the recipient drains: every message delivered exactly once, each
# sender's order kept, the store empty after the acks; the relay stayed
# up, logged its reconnects, never its password; each new primary's
# timeline is higher (a real promotion). The figures printed: from each
# kill (the switchover) to the relay's first failed put, the new
# leader and the first message stored after it; no timing is asserted.
# TAP. Cleans up everything it started (the relay and the senders by
# pid, then patronilib's pat_stop: etcd, each node's processes by pid,
# its nftables tables and cgroups; W).
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${STORELOAD:?}"
. "$(dirname "$0")/commslib.sh"
. "$(dirname "$0")/patronilib.sh"
# the relay and the senders first (they talk to the cluster), then it
EXTRA_CLEANUP='for p in $BG_PIDS; do kill -KILL "$p" 2>/dev/null; done; pat_stop; rm -rf "$W"'
PORT=52015
COUNT=${PAT_COUNT:-6000}
GAP=${PAT_GAP_MS:-50}
SUITE=${PAT_SUITE:-intl}
SENDERS="alice bob dave erin frank"
PER=$((COUNT / 5))
LP=()
RP=

command -v patroni >/dev/null && command -v etcd >/dev/null || {
	echo "1..0 # SKIP needs patroni and etcd-server (tools/deps.sh)"
	exit 0
}
comms_world "$SUITE" carol dave erin frank || bail "cannot make the CA and keys"
bg_all() { BG_PIDS="$RP ${LP[*]}"; }
# sl MODE NAME: SL, storeload's argv as officer NAME (run "${SL[@]}"
# ARGS... as a simple command: in the background, $! is storeload
# itself, not a subshell that cleanup would kill instead)
SL=()
sl() {
	SL=(env STORELOAD_GAP_MS="$GAP" "$STORELOAD" "$1" "$SUITE"
		"$W/$2.key" "$W/relay.key.pub" "$W/$2.cert" "$PORT")
}
progress() { cat "$W"/send.*.out 2>/dev/null | grep -c '^stored'; }
senders_done() { [ "$(cat "$W"/send.*.out 2>/dev/null | grep -c '^done')" = 5 ]; }
tl_above() { # tl_above N TL: node N's timeline is above TL
	local t
	t=$(pat_timeline "$1")
	[ -n "$t" ] && [ -n "$2" ] && [ "$t" -gt "$2" ]
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
store_errs() { grep -c 'store put' "$W/relay.log"; }
# watch N E NODE DEADLINE_S: from a failover's start (N messages stored,
# E failed puts in the relay's log), every 50 ms, until NODE leads and
# the relay stores again; 1 at the deadline. Sets (now_ms; empty if
# never): T_ERR, when the relay first logged a failed put beyond E (its
# session to the old primary found dead or ended); T_PROMO, when NODE
# led; T_STORED, when more than R+5 messages were stored, R the count at
# T_ERR (at most 5 acknowledgements, one per sender, were on their way
# then: the sixth is a store after it), or N if the relay never failed
# a put (then counted once NODE leads).
T_ERR='' T_PROMO='' T_STORED=''
watch() {
	local end=$((SECONDS + $4)) i=0 ref=$1 n
	T_ERR='' T_PROMO='' T_STORED=''
	while [ -z "$T_STORED" ] || [ -z "$T_PROMO" ]; do
		[ $SECONDS -lt $end ] || return 1
		n=$(progress)
		if [ -z "$T_ERR" ] && [ "$(store_errs)" -gt "$2" ]; then
			T_ERR=$(now_ms)
			ref=$n
		fi
		if [ -z "$T_PROMO" ] && [ $((i++ % 4)) = 0 ] && pat_is_leader "$3"; then
			T_PROMO=$(now_ms)
		fi
		if [ -z "$T_STORED" ] && [ -n "$T_ERR$T_PROMO" ] &&
			[ "$n" -gt $((ref + 5)) ]; then
			T_STORED=$(now_ms)
		fi
		[ -z "$T_STORED" ] && senders_done && return 1
		sleep 0.05
	done
}
ms_since() { [ -n "$1" ] && echo "$(($1 - $2)) ms" || echo "never"; }

t_start=$SECONDS
pat_start
rc=$?
if [ $rc = 2 ]; then
	echo "1..0 # SKIP needs PostgreSQL 15, patroni and etcd-server (tools/deps.sh)"
	exit 0
elif [ $rc = 3 ]; then
	echo "1..0 # SKIP not in a network namespace of its own (run it through meson test)"
	exit 0
elif [ $rc != 0 ]; then
	nok "a Patroni cluster (etcd, two nodes, synchronous mode) starts" \
		"$(pat_logs 5)"
	finish
fi
ok "a Patroni cluster (etcd, two nodes, synchronous mode) starts: n1 leads, n2 is its synchronous standby"
diag "cluster up in $((SECONDS - t_start)) s"

# the connection string from a file, as an operator keeps a password
# out of argv
printf 'postgres:%s\n' "$PAT_CONNINFO" >"$W/conninfo"
chmod 600 "$W/conninfo"
: >"$W/relay.out"
"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store-conninfo-file "$W/conninfo" \
	--user nobody -v >"$W/relay.out" 2>"$W/relay.log" &
RP=$!
bg_all
wait_for "$W/relay.out" ready
ok $? "the relay starts on the multi-host connection string (--user nobody)" \
	"$(tail -3 "$W/relay.log")"
# the drop and the filter are in force before the first reconnect
st=$(awk '/^Uid:/ { print $2 } /^Seccomp:/ { print $2 }' "/proc/$RP/status" 2>/dev/null | tr '\n' ' ')
[ "$st" = "65534 2 " ]
ok $? "the relay runs as nobody under its seccomp filter (uid, mode: $st)"

for s in $SENDERS; do
	sl send $s
	"${SL[@]}" carol $s $PER >"$W/send.$s.out" 2>"$W/send.$s.err" &
	LP+=($!)
done
bg_all

# ---- 1. the leader dies whole, at a random moment -------------------------
target=$((COUNT * (10 + RANDOM % 16) / 100))
end=$((SECONDS + 120))
while [ "$(progress)" -lt "$target" ] && [ $SECONDS -lt $end ] && ! senders_done; do
	sleep 0.02
done
sleep "0.$((RANDOM % 10))"
L=$(pat_leader)
[ "$L" = 1 ]
ok $? "node 1 leads when the load is ${target}+ messages in" "leader: ${L:-none}"
tl0=$(pat_timeline 1)
at=$(progress)
e0=$(store_errs)
t0=$(now_ms)
pat_node_kill 1 blackhole
ok $? "node 1 dies whole at $at stored (traffic dropped; Patroni, postmaster and its children SIGKILLed)"
watch "$at" "$e0" 2 150
rc=$?
[ -n "$T_PROMO" ]
ok $? "Patroni promotes node 2 (the synchronous standby)" "$(pat_logs 8)"
pat_wait 20 tl_above 2 "$tl0"
rc2=$?
tl1=$(pat_timeline 2)
ok $rc2 "node 2's timeline went up ($tl0 -> $tl1): a real promotion"
ok $rc "the relay stores again after the kill (the dead peer noticed, the new primary found)" \
	"$(tail -5 "$W/relay.log")"
diag "failover 1 (power loss of the leader): the relay's first failed put after" \
	"$(ms_since "$T_ERR" "$t0"), node 2 leading after $(ms_since "$T_PROMO" "$t0")," \
	"first message stored after $(ms_since "$T_STORED" "$t0")"

# ---- 2. node 1 rejoins, then a switchover back to it ----------------------
pat_node_unhole 1
pat_node_start 1
t_rj=$SECONDS
pat_wait 150 pat_is_sync 1
ok $? "node 1 rejoins as node 2's synchronous standby" "$(pat_logs 10)"
how=$(grep -o -E 'running pg_rewind|reinitializ[a-z]*|pg_rewind exited with[^,]*|rewind[a-z ]* successful' \
	"$PAT_DIR/n1/patroni.log" | sort -u | tr '\n' ',')
diag "node 1 back as a synchronous standby after $((SECONDS - t_rj)) s (Patroni: ${how:-a plain restart})"
if senders_done; then
	nok "the load still runs for the second failover" \
		"the senders finished already: raise PAT_COUNT or PAT_GAP_MS"
else
	ok "the load still runs for the second failover ($(progress) stored)"
fi
at=$(progress)
e0=$(store_errs)
t0=$(now_ms)
# in the background: it returns once the switchover is done, and the
# figures start now
patronictl -c "$PAT_DIR/n2/patroni.yml" switchover tfpat \
	--leader n2 --candidate n1 --force >"$W/switchover.out" 2>&1 &
SWP=$!
LP+=("$SWP")
bg_all
watch "$at" "$e0" 1 150
rc=$?
wait "$SWP"
ok $? "patronictl switchover n2 -> n1" "$(cat "$W/switchover.out")"
unset 'LP[-1]'
bg_all
[ -n "$T_PROMO" ]
ok $? "node 1 leads again" "$(pat_logs 8)"
pat_wait 20 tl_above 1 "$tl1"
rc2=$?
tl2=$(pat_timeline 1)
ok $rc2 "node 1's timeline went up ($tl1 -> $tl2)"
ok $rc "the relay stores again after the switchover" "$(tail -5 "$W/relay.log")"
diag "failover 2 (switchover): the relay's first failed put after" \
	"$(ms_since "$T_ERR" "$t0"), node 1 leading after $(ms_since "$T_PROMO" "$t0")," \
	"first message stored after $(ms_since "$T_STORED" "$t0")"

# ---- 3. the synchronous standby loses power --------------------------------
# node 1 leads, node 2 (demoted by the switchover) is its synchronous
# standby again: now it dies whole. The primary's COMMITs wait for it
# (no error: the relay's puts just do not return) until Patroni takes
# it out of synchronous_standby_names (its member key expired); then
# the primary goes on alone (synchronous_mode_strict is off)
pat_wait 60 pat_is_sync 2
ok $? "node 2 is node 1's synchronous standby after the switchover" "$(pat_logs 6)"
if senders_done; then
	nok "the load still runs when the standby dies" \
		"the senders finished already: raise PAT_COUNT or PAT_GAP_MS"
else
	ok "the load still runs when the standby dies ($(progress) stored)"
fi
at=$(progress)
e0=$(store_errs)
t0=$(now_ms)
pat_node_kill 2 blackhole
watch "$at" "$e0" 1 150
ok $? "the relay stores again after the synchronous standby's loss (node 1 goes on alone)" \
	"$(tail -5 "$W/relay.log"; pat_logs 6)"
n=$(($(store_errs) - e0))
[ "$n" = 0 ]
ok $? "no put failed meanwhile: the primary lived, its COMMITs only waited (keepalives and tcp_user_timeout do not fire on a live server)" \
	"$n failed puts: $(grep 'store put' "$W/relay.log" | tail -3)"
diag "the synchronous standby lost: the COMMITs waited, the first message" \
	"stored after $(ms_since "$T_STORED" "$t0") (Patroni took it out of" \
	"synchronous_standby_names once its member key expired: the ttl)"

# ---- the senders finish, the recipient drains ----------------------------
rc=0
for p in "${LP[@]}"; do
	wait "$p" || rc=1
done
LP=()
bg_all
senders_done
ok $? "the 5 senders finished, each message acknowledged as stored" \
	"$(tail -n 3 "$W"/send.*.err "$W"/send.*.out)"
diag "$(progress) STORED answers, $(cat "$W"/send.*.out | grep -c 'DUP$') of them" \
	"retries of a message already stored (a commit whose answer was lost)," \
	"$(cat "$W"/send.*.out | grep -c '^retry') retry-later answers"
kill -0 "$RP" 2>/dev/null
ok $? "the relay stayed up through both failovers (same process)"
sl drain carol
"${SL[@]}" >"$W/drain.out" 2>"$W/drain.err"
ok $? "the recipient comes online and drains" "$(cat "$W/drain.err")"
out=$(python3 "$(dirname "$0")/drain_check.py" "$W/drain.out" "$PER" $SENDERS)
[ "$out" = "delivered $COUNT lost 0 duplicates 0 out-of-order 0 forged 0" ]
ok $? "$out" "$(head -3 "$W/drain.out")"
L=$(pat_leader)
n=$(pat_psql "${L:-1}" 'select count(*) from msgs' relay)
[ "$n" = 0 ]
ok $? "nothing left in the store after the acknowledgements" "$n"
n=$(grep -c 'message store: reconnected' "$W/relay.log")
[ "$n" -ge 2 ]
ok $? "the relay logged its reconnects to the store ($n)" "$(tail -5 "$W/relay.log")"
not_has "$PAT_PW" "$(cat "$W/relay.log" "$W/relay.out")"
ok $? "the relay's log does not hold the connection string's password"
kill -TERM "$RP" 2>/dev/null
wait "$RP" 2>/dev/null
RP=
bg_all

# the string in argv with --user: the relay starts (the SQLite
# directory check is not for it) and prints no part of it
"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "postgres:$PAT_CONNINFO" --user nobody -v \
	>"$W/relay.out" 2>"$W/relay.log" &
RP=$!
bg_all
wait_for "$W/relay.out" ready
rc=$?
kill -TERM "$RP" 2>/dev/null
wait "$RP" 2>/dev/null
RP=
bg_all
[ $rc = 0 ] && not_has "$PAT_PW" "$(cat "$W/relay.log")"
ok $? "--store postgres:CONNINFO with --user: the relay starts, the password not in its output" \
	"$(tail -3 "$W/relay.log")"
diag "whole test: $((SECONDS - t_start)) s"
finish
