#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Runs a store unit test against a private PostgreSQL 15 cluster
# (tests/integration/comms/pglib.sh): TF_TEST_STORE_PG is its connection
# string, TF_TEST_PG_RESTART restarts it (-m immediate, as a crashed
# primary). Skips (exit 77) without root or PostgreSQL 15.
set -u
[ "$(id -u)" = 0 ] || { echo "needs root (runs postgres as nobody)"; exit 77; }
. "$(dirname "$0")/../../integration/comms/pglib.sh"
[ -x "$PG_BIN/initdb" ] || { echo "no PostgreSQL 15"; exit 77; }
CHILD=
# the test runs in the background and is waited for, so a TERM from
# meson's timeout runs the traps at once (a foreground child would defer
# them) and the cluster is stopped even when the test hangs
trap '[ -n "$CHILD" ] && kill -KILL "$CHILD" 2>/dev/null; pg_stop' EXIT
trap 'exit 143' TERM INT
pg_start || { echo "cannot start a private PostgreSQL cluster"; cat "$PG_DIR/log" "$PG_DIR/initdb.log" 2>/dev/null; exit 1; }
export TF_TEST_STORE_PG="$PG_CONNINFO"
export TF_TEST_PG_RESTART="cd / && runuser -u nobody -- $PG_BIN/pg_ctl -D $PG_DIR/data -l $PG_DIR/log -w -t 60 -m immediate restart >/dev/null"
"$@" &
CHILD=$!
wait "$CHILD"
rc=$?
CHILD=
exit $rc
