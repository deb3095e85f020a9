#!/usr/bin/env bash
# Integration (issue 15): the relay's durable store under kill -9. Five
# senders (storeload: the real relay protocol, each message acknowledged
# only after the store's commit, retried with the same client id until
# it is) send KN_COUNT messages in total (default 10,000) to an offline
# recipient while the relay is killed with SIGKILL KN_KILLS times (default
# 20) at random points of the run and restarted on the same store. Then
# the recipient comes online and drains: every message delivered, none
# lost, none shown twice, each sender's order kept (each text is
# SENDER:SEQ). First with SQLite (WAL), then with PostgreSQL 15 in a
# private cluster (pglib.sh) with a primary restart (pg_ctl restart -m
# immediate) in the middle: the relay stays up, its puts fail with
# "retry later" while the primary is down and work again after.
# TAP. Cleans up its relay, senders, cluster and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${STORELOAD:?}"
. "$(dirname "$0")/commslib.sh"
. "$(dirname "$0")/pglib.sh"
EXTRA_CLEANUP='pg_stop; rm -rf "$W"'
PORT=52013
COUNT=${KN_COUNT:-10000}
KILLS=${KN_KILLS:-20}
SUITE=${KN_SUITE:-intl}
SENDERS="alice bob dave erin frank"
STORE=()
LP=()

comms_world "$SUITE" carol dave erin frank || bail "cannot make the CA and keys"
# sl MODE NAME: SL, storeload's argv as officer NAME (run "${SL[@]}"
# ARGS... as a simple command: in the background $! is storeload itself,
# not a subshell, so cleanup kills storeload and leaves none running)
SL=()
sl() {
	SL=("$STORELOAD" "$1" "$SUITE" "$W/$2.key" "$W/relay.key.pub"
		"$W/$2.cert" $PORT)
}
bg_all() { BG_PIDS="$RP ${LP[*]}"; }
krelay_start() { # at most 10 s: the store may still be coming back
	: >"$W/relay.out"
	"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" "${STORE[@]}" -v \
		>"$W/relay.out" 2>>"$W/relay.log" &
	RP=$!
	bg_all
	wait_for "$W/relay.out" ready
}
krelay_kill() {
	kill -KILL "$RP" 2>/dev/null
	wait "$RP" 2>/dev/null
	RP=
	bg_all
}
progress() { cat "$W"/send.*.out 2>/dev/null | grep -c '^stored'; }
senders_done() { [ "$(cat "$W"/send.*.out 2>/dev/null | grep -c '^done')" = 5 ]; }

# run NAME MIDDLE: one whole run on STORE; MIDDLE (a function or :) is
# called once half-way through the kills, with the relay up
run() {
	local name=$1 middle=$2 per=$((COUNT / 5)) k=0 t s i rc=0 deadline
	rm -f "$W"/send.*.out "$W/drain.out"
	: >"$W/relay.log"
	if ! krelay_start; then
		nok "$name: relay starts" "$(tail -3 "$W/relay.log")"
		return 1
	fi
	ok "$name: relay starts"
	LP=()
	for s in $SENDERS; do
		sl send $s
		"${SL[@]}" carol $s $per >"$W/send.$s.out" 2>"$W/send.$s.err" &
		LP+=($!)
	done
	bg_all
	# the kills at random points of the run: kill number i once about
	# i/(KILLS+1) of the messages are stored, give or take a random
	# share; each restart at once, on the same store
	deadline=$((SECONDS + 600))
	for i in $(seq "$KILLS"); do
		t=$((COUNT * i / (KILLS + 1) + (RANDOM % (COUNT / (KILLS + 1) + 1)) - COUNT / (2 * (KILLS + 1))))
		while [ "$(progress)" -lt "$t" ] && ! senders_done &&
			[ $SECONDS -lt $deadline ]; do
			sleep 0.01
		done
		sleep "0.0$((RANDOM % 10))"
		krelay_kill
		k=$((k + 1))
		krelay_start || { rc=1; break; }
		if [ "$i" = $((KILLS / 2)) ]; then "$middle" || rc=1; fi
	done
	ok $rc "$name: relay killed with SIGKILL $k times and restarted each time" \
		"$(tail -5 "$W/relay.log")"
	for p in "${LP[@]}"; do
		wait "$p" || rc=1
	done
	LP=()
	bg_all
	senders_done
	ok $? "$name: the 5 senders finished, each message acknowledged as stored" \
		"$(tail -n 3 "$W"/send.*.err "$W"/send.*.out)"
	diag "$name: $(progress) STORED answers, $(cat "$W"/send.*.out | grep -c 'DUP$') of them" \
		"retries of a message the relay had already stored, $(cat "$W"/send.*.out | grep -c '^retry') retry-later answers"
	sl drain carol
	"${SL[@]}" >"$W/drain.out" 2>"$W/drain.err"
	ok $? "$name: the recipient comes online and drains" "$(cat "$W/drain.err")"
	out=$(python3 "$(dirname "$0")/drain_check.py" "$W/drain.out" "$per" $SENDERS)
	[ "$out" = "delivered $COUNT lost 0 duplicates 0 out-of-order 0 forged 0" ]
	ok $? "$name: $out" "$(head -3 "$W/drain.out")"
	krelay_kill
}

# ---- SQLite (WAL), the embedded default ----
STORE=(--store "sqlite:$W/store.db")
run sqlite :
n=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from msgs").fetchone()[0])' "$W/store.db")
[ "$n" = 0 ]
ok $? "sqlite: nothing left in the store after the acknowledgements" "$n"

# ---- PostgreSQL 15, a primary restart in the middle ----
if ! pg_start; then
	nok "postgres: a private PostgreSQL 15 cluster starts" \
		"$(cat "$PG_DIR/log" "$PG_DIR/initdb.log" 2>/dev/null | tail -5)"
	finish
fi
# the connection string from a file, as an operator keeps a password
# out of argv
printf 'postgres:%s\n' "$PG_CONNINFO" >"$W/conninfo"
chmod 600 "$W/conninfo"
STORE=(--store-conninfo-file "$W/conninfo")
PG_RESTARTED=
primary_restart() {
	local before=$RP
	pg_restart_immediate || return 1
	# the relay lived through it: same process
	kill -0 "$before" 2>/dev/null && [ "$RP" = "$before" ] && PG_RESTARTED=1
}
run postgres primary_restart
[ -n "$PG_RESTARTED" ]
ok $? "postgres: the primary restarted mid-run (-m immediate) and the relay stayed up"
r=$(cat "$W"/send.*.out | grep -c '^retry')
[ "$r" -gt 0 ]
ok $? "postgres: while the primary was down, puts answered \"retry later\" ($r)"
n=$(pg_psql 'select count(*) from msgs')
[ "$n" = 0 ]
ok $? "postgres: nothing left in the store after the acknowledgements" "$n"
not_has "$PG_DIR" "$(cat "$W/relay.log")"
ok $? "postgres: the connection string is not in the relay's log"

# a database that cannot be reached: the relay says so and stops,
# without the password, from a file or from argv
pw=pw-canary-$RANDOM$RANDOM
printf 'host=%s/nowhere port=%s dbname=relay user=relay password=%s\n' \
	"$W" "$PG_PORT" "$pw" >"$W/conninfo.bad"
for how in file argv; do
	if [ $how = file ]; then
		a=(--store-conninfo-file "$W/conninfo.bad")
	else
		a=(--store "postgres:$(cat "$W/conninfo.bad")")
	fi
	timeout 20 "$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT \
		--key "$W/relay.key" --ca "$W/ca/ca.pub" "${a[@]}" -v \
		>/dev/null 2>"$W/err"
	rc=$?
	[ $rc = 1 ] && has "cannot open the message store" "$(cat "$W/err")" &&
		not_has "$pw" "$(cat "$W/err")"
	ok $? "postgres: an unreachable database stops the relay with a reason and no password ($how)" \
		"rc $rc: $(cat "$W/err")"
done
finish
