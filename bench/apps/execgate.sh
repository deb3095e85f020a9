#!/bin/bash
# SPDX-License-Identifier: ISC
# The exec gate's cost per exec (issue 13): a fork+exec loop of /bin/true
# from sh inside a persona, in the same daemon and the same minute, with
# the gate in each of its modes against the same loop in an ungated
# persona (allow_exec_writable = yes: no gate, no W^X) and on the host.
# The daemon is restarted between modes (exec_hashes is read at persona
# start); rounds alternate so drift hits every mode alike; medians.
#
# Usage (root): bench/apps/execgate.sh [BUILDDIR]   (default: build)
#   TF_BENCH_EXECS (default 2000) execs per loop, TF_BENCH_ROUNDS (5).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${1:-$here/../../build}" && pwd)
T=$builddir/src/cli/twofold
D=$builddir/src/daemon/twofoldd
n=${TF_BENCH_EXECS:-2000}
rounds=${TF_BENCH_ROUNDS:-5}

[ "$(id -u)" = 0 ] || { echo "bench/apps: needs root" >&2; exit 77; }
S=$(mktemp -d /tmp/tfbench-gate.XXXXXX)
DPID=
stop() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	DPID=
}
trap 'set +e; stop; rm -rf "$S"' EXIT
trap 'exit 130' INT TERM
tf() { "$T" --state "$S" "$@"; }
start() {
	"$D" --state "$S" 2>>"$S/daemon.log" &
	DPID=$!
	for _ in $(seq 100); do tf status >/dev/null 2>&1 && return 0; sleep 0.05; done
	echo "bench/apps: the daemon did not start" >&2
	exit 1
}
conf() { # conf PERSONA KEY VALUE
	if grep -q "^\[persona $1\]" "$S/device.conf" &&
		sed -n "/^\[persona $1\]/,/^\[/p" "$S/device.conf" | grep -q "^#\?$2 ="; then
		sed -i "/^\[persona $1\]/,/^\[/ s|^#\?$2 =.*|$2 = $3|" "$S/device.conf"
	else
		sed -i "/^\[persona $1\]/a $2 = $3" "$S/device.conf"
	fi
}
loop="i=0; s=\$(date +%s%N); while [ \$i -lt $n ]; do /bin/true; i=\$((i+1)); done; e=\$(date +%s%N); echo \$(((e-s)/$n))"

tf init --size 256M >/dev/null
sed -i 's/^kdf_target_ms = .*/kdf_target_ms = 20/;
	s/^kdf_min_mem_mib = .*/kdf_min_mem_mib = 8/;
	s/^allow_weak_credentials = .*/allow_weak_credentials = yes/' "$S/device.conf"
conf personal allow_exec_writable yes
declare -A t
for mode in pin sealed off; do t[$mode]=""; done
t[ungated]="" t[host]=""
for r in $(seq "$rounds"); do
	for mode in pin sealed off; do
		conf secure exec_hashes "$mode"
		start
		printf '123456\n' | tf enroll secure --pin-stdin >/dev/null 2>&1 || true
		printf '123456\n' | tf unlock secure --pin-stdin >/dev/null
		[ "$mode" = sealed ] && tf exec seal secure >/dev/null
		tf run secure -- sh -c "$loop" >/dev/null # warm: pins, verdict cache
		t[$mode]+="$(tf run secure -- sh -c "$loop") "
		[ "$mode" = pin ] && t[ungated]+="$(tf run personal -- sh -c "$loop") "
		stop
	done
	t[host]+="$(sh -c "$loop") "
done
med() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
u=$(med "${t[ungated]}")
echo "exec gate bench: $n execs x $rounds rounds, $(uname -r), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)" >&2
echo "| loop of fork+exec /bin/true from sh | ns per iteration (median) | vs ungated persona |"
echo "|---|---:|---:|"
echo "| host, no persona | $(med "${t[host]}") | |"
echo "| personal, ungated (allow_exec_writable) | $u | |"
for mode in off pin sealed; do
	m=$(med "${t[$mode]}")
	printf '| secure, gate, exec_hashes = %s | %s | %+d us |\n' "$mode" "$m" $(((m - u) / 1000))
done
