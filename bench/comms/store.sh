#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The relay's message store, both backends, through store.h
# (bench/store_b/tf-store-bench): put throughput (messages/s, each one
# durable on return) and put latency p50/p99, with 1 and 4 concurrent
# clients (each its own store handle, as relay workers or several relays
# on one database), and one client with group commit (tf_store_put_many:
# BATCH messages per transaction, each acknowledged at its commit), next
# to the anchor measured in the same run on the same disk: write(256 B) +
# fdatasync() in a loop (one durable commit). PostgreSQL 15 runs as a
# private cluster (tests/integration/comms/pglib.sh) in the same
# directory, fsync on, synchronous_commit on.
#
# usage: bench/comms/store.sh [BUILD_DIR]   (built with -Dbenchmarks=true)
#   STORE_BENCH_SECS (default 5) per case, STORE_BENCH_CLIENTS ("1 4"),
#   STORE_BENCH_BATCH (32; 1: no group-commit rows), STORE_BENCH_DIR
#   (default /var/tmp: a real disk; /tmp may be tmpfs, where fsync is
#   free). Run as root (postgres runs as nobody).
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${1:-$here/../../build}
BIN=$B/bench/store_b/tf-store-bench
SECS=${STORE_BENCH_SECS:-5}
CLIENTS=${STORE_BENCH_CLIENTS:-1 4}
BATCH=${STORE_BENCH_BATCH:-32}
[ -x "$BIN" ] || {
	echo "store.sh: no $BIN (meson configure -Dbenchmarks=true, then build tf-store-bench)" >&2
	exit 1
}
D=$(mktemp -d "${STORE_BENCH_DIR:-/var/tmp}/tfstorebench.XXXXXX") || exit 1
chmod 711 "$D" # postgres (nobody) goes through it to its own dir
# shellcheck disable=SC2034 # read by pglib.sh
PG_BASE=$D
. "$here/../../tests/integration/comms/pglib.sh"
trap 'pg_stop; rm -rf "$D"' EXIT
trap 'exit 143' TERM INT
pg_start || {
	echo "store.sh: cannot start a private PostgreSQL 15 cluster" >&2
	exit 1
}
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }
row() { printf '%-28s %7s %10s %8s %8s %9s %9s\n' "$@"; }

read -r a_rate a_p50 a_p99 _ < <("$BIN" anchor "$D" "$SECS") || exit 1
echo "message store, put of a 256 B message, each durable on return; $SECS s per case"
echo "disk: $(df -T "$D" | awk 'NR == 2 { print $1 " " $2 }')" \
	"(this machine's disk and fsync are what they are: compare within the run)"
row backend clients msgs/s p50_us p99_us x_anchor pg/sqlite
row "anchor: write+fdatasync" 1 "$a_rate" "$a_p50" "$a_p99" 1.00 -
# one_case CLIENTS BATCH LABEL: a row per backend
one_case() {
	local c=$1 b=$2 l=$3 s_rate s_p50 s_p99 p_rate p_p50 p_p99
	rm -f "$D"/store.db*
	read -r s_rate s_p50 s_p99 _ < <("$BIN" put "sqlite:$D/store.db" "$c" "$SECS" "$b") || exit 1
	pg_psql 'DROP TABLE IF EXISTS msgs, seen, prekey_base, prekey_opk, relay_schema; DROP SEQUENCE IF EXISTS prekey_pub' || exit 1
	read -r p_rate p_p50 p_p99 _ < <("$BIN" put "postgres:$PG_CONNINFO" "$c" "$SECS" "$b") || exit 1
	row "sqlite WAL sync=FULL$l" "$c" "$s_rate" "$s_p50" "$s_p99" "$(ratio "$s_rate" "$a_rate")" -
	row "postgres 15 sync=on$l" "$c" "$p_rate" "$p_p50" "$p_p99" "$(ratio "$p_rate" "$a_rate")" \
		"$(ratio "$p_rate" "$s_rate")"
}
for c in $CLIENTS; do
	one_case "$c" 1 ""
done
if [ "$BATCH" -gt 1 ]; then
	one_case 1 "$BATCH" " batch $BATCH"
fi
