#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Messages through the real relay into its durable store, both backends,
# group commit on and off: N concurrent devices (bench/comms/store_relay.c,
# each its own certificate and channel, one SEND in flight each, as a
# device's outbox) send 256-byte messages to an offline officer; the
# figure is STORED answers per second and the SEND -> STORED latency
# p50/p99, i.e. the relay's loop plus its store (each STORED is sent only
# after the commit that holds the message). "group commit" is the
# relay's default (the SENDs of one wakeup share one transaction, at most
# 64); "off" is --no-group-commit (a commit per SEND). PostgreSQL 15 runs
# as a private cluster (tests/integration/comms/pglib.sh), fsync on,
# synchronous_commit on; SQLite in WAL mode with synchronous=FULL. In a
# network namespace of its own (loopback only).
#
# usage (root): bench/comms/relay_store.sh [BUILD_DIR]  (-Dbenchmarks=true)
#   RELAY_STORE_SECS (default 5) per case, RELAY_STORE_SENDERS ("1 16"),
#   RELAY_STORE_DIR (default /var/tmp: a real disk; /tmp may be tmpfs,
#   where fsync is free), RELAY_STORE_SUITE (intl).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${1:-$here/../../build}" && pwd)
if [ -z "${TF_BENCH_NETNS:-}" ]; then
	exec unshare --net env TF_BENCH_NETNS=1 "$0" "$B"
fi
ip link set lo up
SECS=${RELAY_STORE_SECS:-5}
SENDERS=${RELAY_STORE_SENDERS:-1 16}
SUITE=${RELAY_STORE_SUITE:-intl}
RELAY=$B/src/relay/twofold-relay
CA=$B/src/ca/twofold-ca
LOAD=$B/bench/comms/store_relay
for f in "$RELAY" "$CA" "$LOAD"; do
	[ -x "$f" ] || {
		echo "relay_store.sh: $f missing (meson configure -Dbenchmarks=true; meson compile)" >&2
		exit 1
	}
done
PORT=52310
D=$(mktemp -d "${RELAY_STORE_DIR:-/var/tmp}/tfrelaystore.XXXXXX") || exit 1
chmod 711 "$D" # postgres (nobody) goes through it to its own dir
RP=
# shellcheck disable=SC2034 # read by pglib.sh
PG_BASE=$D
. "$here/../../tests/integration/comms/pglib.sh"
cleanup() {
	[ -n "$RP" ] && kill "$RP" 2>/dev/null && wait "$RP" 2>/dev/null
	pg_stop
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

max=0
for n in $SENDERS; do [ "$n" -gt "$max" ] && max=$n; done
"$CA" init --suite "$SUITE" -o "$D/ca" >/dev/null || exit 1
"$CA" keygen --suite "$SUITE" -o "$D/relay.key" >/dev/null || exit 1
for i in $(seq "$max"); do
	"$CA" keygen --suite "$SUITE" -o "$D/s$i.key" >/dev/null &&
		"$CA" issue --ca "$D/ca" --officer "s$i" --role officer \
			--pubkey "$D/s$i.key.pub" --days 1 -o "$D/s$i.cert" \
			>/dev/null || exit 1
done
pg_start || {
	echo "relay_store.sh: cannot start a private PostgreSQL 15 cluster" >&2
	exit 1
}
printf 'postgres:%s\n' "$PG_CONNINFO" >"$D/conninfo"

start_relay() { # start_relay BACKEND GC_ARGS...: an empty store each time
	local be=$1 st
	shift
	if [ "$be" = sqlite ]; then
		rm -f "$D"/store.db*
		st=(--store "sqlite:$D/store.db")
	else
		pg_psql 'DROP TABLE IF EXISTS msgs, seen, prekey_base, prekey_opk, relay_schema' || exit 1
		st=(--store-conninfo-file "$D/conninfo")
	fi
	"$RELAY" --listen 127.0.0.1:$PORT --key "$D/relay.key" \
		--ca "$D/ca/ca.pub" "${st[@]}" "$@" >"$D/relay.out" 2>"$D/relay.err" &
	RP=$!
	for _ in $(seq 100); do
		grep -q ready "$D/relay.out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "relay_store.sh: the relay did not start: $(cat "$D/relay.err")" >&2
	exit 1
}
stop_relay() {
	kill "$RP" 2>/dev/null
	wait "$RP" 2>/dev/null
	RP=
}

echo "relay message store: SEND -> STORED through twofold-relay ($SUITE), 256 B messages, $SECS s per case"
echo "disk: $(df -T "$D" | awk 'NR == 2 { print $1 " " $2 }') (compare within the run)"
printf '%-9s %-13s %7s %9s %8s %8s %7s %8s\n' backend "group commit" senders \
	msgs/s p50_us p99_us retries x_off
for be in sqlite postgres; do
	for n in $SENDERS; do
		args=()
		for i in $(seq "$n"); do args+=("$D/s$i.key" "$D/s$i.cert"); done
		off_rate=
		for gc in off on; do
			if [ $gc = off ]; then
				start_relay $be --no-group-commit
			else
				start_relay $be
			fi
			line=$("$LOAD" "$SUITE" $PORT "$D/relay.key.pub" rx "$SECS" 256 \
				"${args[@]}" | tail -1)
			stop_relay
			# stored N seconds T rate R p50_us A p99_us B retries E timeouts O
			set -- $line
			[ "${1:-}" = stored ] || { echo "relay_store.sh: load failed: $line" >&2; exit 1; }
			[ $gc = off ] && off_rate=$6
			printf '%-9s %-13s %7s %9s %8s %8s %7s %8s\n' $be $gc "$n" "$6" "$8" \
				"${10}" "${12}" \
				"$(awk -v a="$6" -v b="$off_rate" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')"
		done
	done
done
