# shellcheck shell=bash
# SPDX-License-Identifier: ISC
# A private PostgreSQL 15 cluster for one test (sourced): initdb + pg_ctl
# as `nobody` (postgres refuses to run as root) in a temp dir, listening
# on a unix socket in that dir only (listen_addresses='', a port number
# of our own so even the socket's name is not the system's 5432). Never
# the system's cluster. pg_start sets PG_DIR, PG_CONNINFO (trust auth, no
# password: the socket is in a 0700 dir only root and nobody can enter);
# pg_stop stops it and removes the dir: call it from the test's cleanup,
# it is safe to call twice and after a failed start. PG_BASE: where the
# temp dir goes (default /tmp; a benchmark wants a real disk).
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=
PG_CONNINFO=
PG_PORT=
pg_as() { runuser -u nobody -- "$@"; }
pg_ctl_() { pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" "$@"; }
pg_start() {
	[ -x "$PG_BIN/initdb" ] || return 2
	PG_DIR=$(mktemp -d "${PG_BASE:-/tmp}/tfpg.XXXXXX") || return 1
	chown nobody "$PG_DIR"
	PG_PORT=$((20000 + RANDOM % 20000))
	# fsync on: the store refuses a cluster that does not sync, and the
	# durability the tests check is the real one
	(cd / && pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U relay \
		-E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1) || return 1
	cat >>"$PG_DIR/data/postgresql.conf" <<-CONF
		listen_addresses = ''
		port = $PG_PORT
		unix_socket_directories = '$PG_DIR'
		fsync = on
		synchronous_commit = on
		max_connections = 40
		shared_buffers = 32MB
	CONF
	(cd / && pg_ctl_ -w -t 30 start >/dev/null) || return 1
	PG_CONNINFO="host=$PG_DIR port=$PG_PORT dbname=postgres user=relay"
}
# pg_restart_immediate: the primary crashes and comes back (what a
# Patroni failover looks like from the relay: the connection drops)
pg_restart_immediate() {
	(cd / && pg_ctl_ -w -t 60 -m immediate restart >/dev/null)
}
pg_stop_immediate() { (cd / && pg_ctl_ -w -t 30 -m immediate stop >/dev/null); }
pg_start_again() { (cd / && pg_ctl_ -w -t 60 start >/dev/null); }
pg_psql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -c 'SET client_min_messages TO warning' "$PG_CONNINFO" -c "$1"; }
pg_stop() {
	[ -n "$PG_DIR" ] && [ -d "$PG_DIR" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		(cd / && pg_ctl_ -w -t 30 -m immediate stop >/dev/null 2>&1)
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
}
