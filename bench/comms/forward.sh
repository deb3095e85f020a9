#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Relay forwarding benchmark of issue 15, one run, in a network namespace
# of its own (loopback only, so the UDP counters are the run's):
#
#  1. forwarding packets/s per core, 1:1 and 1:8 fan-out: twofold-relay
#     (--workers 1) and the bare recvmmsg/sendmmsg forwarder
#     (bench/comms/udp_fwd.c, the anchor) each pinned to core 0, the load
#     generator (bench/comms/comms_load.c) to core 1. Frames are an
#     SFrame Opus frame's size (100 bytes of FWD body, 136 bytes on the
#     wire); 1:8 is one FWD to an officer with 8 connected devices. The
#     figure per core is forwarded datagrams / the forwarder's CPU
#     seconds; the ratio relay / bare is the goal (>= 0.7x).
#  2. handshake CPU cost per suite (bench/comms/bench_handshake.c): the
#     relay's side of a Noise IK INIT with the certificate check, and the
#     device's, microseconds per handshake, intl and gm; and the INIT
#     flood line: what one flood INIT costs the relay under load (mac1,
#     mac2 refused, a COOKIE) against the handshake (docs/comms-protocol.md
#     "Cookies").
#
# Usage (root): bench/comms/forward.sh [BUILDDIR]   (default: build,
# configured with -Dbenchmarks=true)
#   TF_BENCH_SECS (default 5) seconds per forwarding run
#   TF_BENCH_SUITE (default intl) the relay's suite for part 1
#   TF_BENCH_HS (default 2000) handshakes per suite
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${1:-$here/../../build}" && pwd)
if [ -z "${TF_BENCH_NETNS:-}" ]; then
	exec unshare --net env TF_BENCH_NETNS=1 "$0" "$builddir"
fi
ip link set lo up
SECS=${TF_BENCH_SECS:-5}
SUITE=${TF_BENCH_SUITE:-intl}
NHS=${TF_BENCH_HS:-2000}
RELAY=$builddir/src/relay/twofold-relay
CA=$builddir/src/ca/twofold-ca
LOAD=$builddir/bench/comms/comms_load
FWD=$builddir/bench/comms/udp_fwd
HS=$builddir/bench/comms/bench_handshake
for f in "$RELAY" "$CA" "$LOAD" "$FWD" "$HS"; do
	[ -x "$f" ] || { echo "forward.sh: $f missing (meson configure -Dbenchmarks=true; meson compile)" >&2; exit 1; }
done
PORT=52300
BODY=100
W=$(mktemp -d /tmp/tfbenchcomms.XXXXXX)
FP=
cleanup() {
	[ -n "$FP" ] && kill "$FP" 2>/dev/null && wait "$FP" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

world() { # world SUITE: a CA, the relay key, tx and 8 devices of rx
	local s=$1 i
	rm -rf "${W:?}"/*
	"$CA" init --suite "$s" -o "$W/ca" >/dev/null || exit 1
	"$CA" keygen --suite "$s" -o "$W/relay.key" >/dev/null || exit 1
	"$CA" keygen --suite "$s" -o "$W/tx.key" >/dev/null
	"$CA" issue --ca "$W/ca" --officer tx --role officer \
		--pubkey "$W/tx.key.pub" --days 1 -o "$W/tx.cert" >/dev/null
	for i in 1 2 3 4 5 6 7 8; do
		"$CA" keygen --suite "$s" -o "$W/rx$i.key" >/dev/null
		"$CA" issue --ca "$W/ca" --officer rx --device "rx$i" \
			--role officer --pubkey "$W/rx$i.key.pub" --days 1 \
			-o "$W/rx$i.cert" >/dev/null
	done
}

start() { # start CMD...: the forwarder on core 0, waits for "ready"
	taskset -c 0 "$@" >"$W/fwd.out" 2>"$W/fwd.err" &
	FP=$!
	for _ in $(seq 100); do
		grep -q ready "$W/fwd.out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "forward.sh: the forwarder did not start: $(cat "$W/fwd.err")" >&2
	exit 1
}
stop() {
	kill "$FP" 2>/dev/null
	wait "$FP" 2>/dev/null
	FP=
}

declare -A PPS PERCORE
run() { # run NAME FANOUT: the load against the forwarder started
	local name=$1 fan=$2 line f c
	if [ "${name%%-*}" = relay ]; then
		local rx=() i
		for i in $(seq "$fan"); do rx+=("$W/rx$i.key" "$W/rx$i.cert"); done
		line=$(TF_FWD_PID=$FP taskset -c 1 "$LOAD" relay "$SUITE" $PORT \
			"$W/relay.key.pub" rx "$SECS" $BODY "$W/tx.key" \
			"$W/tx.cert" "${rx[@]}" | tail -1)
	else
		line=$(TF_FWD_PID=$FP taskset -c 1 "$LOAD" bare $PORT "$SECS" \
			"$WIRE" "$fan" | tail -1)
	fi
	echo "  $name 1:$fan: $line"
	# sent N wire W seconds T received R forwarded F fwd_cpu C
	set -- $line
	WIRE=$4
	f=${10} c=${12}
	PPS[$name:$fan]=$(awk -v f="$f" -v t="$6" 'BEGIN{printf "%.0f", f/t}')
	PERCORE[$name:$fan]=$(awk -v f="$f" -v c="$c" 'BEGIN{printf "%.0f", (c > 0 ? f / c : 0)}')
}

echo "== forwarding ($SUITE, $SECS s per run, $BODY-byte FWD body)"
world "$SUITE"
WIRE=136
for fan in 1 8; do
	start "$RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" --store "$W/store.db" --workers 1
	run relay $fan
	stop
	start "$FWD" $PORT
	run bare $fan
	stop
done
printf '\n%-6s %-14s %-14s %-14s %-14s %s\n' fanout "relay pkt/s" \
	"relay /core" "bare pkt/s" "bare /core" "relay/bare (per core)"
for fan in 1 8; do
	printf '1:%-4s %-14s %-14s %-14s %-14s %s\n' $fan "${PPS[relay:$fan]}" \
		"${PERCORE[relay:$fan]}" "${PPS[bare:$fan]}" \
		"${PERCORE[bare:$fan]}" \
		"$(awk -v a="${PERCORE[relay:$fan]}" -v b="${PERCORE[bare:$fan]}" \
			'BEGIN{printf "%.2fx", (b > 0 ? a / b : 0)}')"
done
echo "(pkt/s: datagrams the forwarder sent per second; /core: per CPU second it used; goal relay/bare >= 0.70x)"

echo
echo "== handshake CPU cost ($NHS handshakes per suite, one core)"
for s in intl gm; do
	world "$s"
	taskset -c 0 "$HS" "$s" "$W/ca/ca.pub" "$W/relay.key" "$W/tx.key" \
		"$W/tx.cert" "$NHS"
done
