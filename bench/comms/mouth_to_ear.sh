#!/bin/bash
# SPDX-License-Identifier: ISC
# Mouth-to-ear of a twofold call at 100 ms RTT (issue 15; goal <= 250 ms,
# MCPTT's KPI is 300 ms). Topology as tests/integration/comms/
# test_call_latency.sh: alice reaches twofold-relay through udpdelay
# (RTT_MS/2 each way, +- JITTER_MS per datagram, default 30: udpdelay -j),
# bob next to the relay, so the device <-> device round trip is RTT_MS.
# A call of TF_BENCH_SECONDS (default 10) each way with speech-like WAV
# files, both suites, one run.
#
# Measured (the services' CLOCK_MONOTONIC, one machine), against the
# sender's time of frame 0:
#   network   the receiver's mean of (arrival of frame k - k x 20 ms)
#   jitter    the jitter buffer's part: the mean of (playout of frame k -
#             k x 20 ms) minus the network part (it adapts to the jitter
#             measured: 20..200 ms)
# Added, by construction:
#   capture   20 ms  (a frame's first sample waits for its last)
#   codec     the encoder's lookahead (6.5 ms at 16 kHz)
# The anchor in the same run: the bare network one-way (RTT_MS / 2).
#
# Usage (root): bench/comms/mouth_to_ear.sh [BUILDDIR]   (default: build)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${1:-$here/../../build}" && pwd)
export TWOFOLD_CA=$builddir/src/ca/twofold-ca
export TWOFOLD_RELAY=$builddir/src/relay/twofold-relay
export TWOFOLD_COMMS=$builddir/src/comms/twofold-comms
UDPDELAY=$builddir/tests/integration/comms/udpdelay
AUDIOTOOL=$builddir/tests/integration/comms/audiotool
SECS=${TF_BENCH_SECONDS:-10}
RTT=${RTT_MS:-100}
JIT=${JITTER_MS:-30}
PORT=51992
PPORT=51991
BG_PIDS=
set +u
. "$here/../../tests/integration/comms/commslib.sh"
set -u
DP=
trap 'kill $BG_PIDS $DP 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"' EXIT

stat_of() { cm "$1" status 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }

printf '%-5s %-12s %10s %10s %10s %10s %12s\n' suite direction network jitter capture codec mouth-to-ear
for s in intl gm; do
	comms_world $s
	"$AUDIOTOOL" gen "$W/a.wav" "$SECS" 140
	"$AUDIOTOOL" gen "$W/b.wav" "$SECS" 210
	relay_start
	"$UDPDELAY" -j "$JIT" 127.0.0.1:$PPORT 127.0.0.1:$PORT $((RTT / 2)) >"$W/delay.out" 2>&1 &
	DP=$!
	wait_for "$W/delay.out" listening
	svc_via bob $PORT
	svc_via alice $PPORT
	wait_status bob "relay connected"
	wait_status alice "relay connected"
	cm alice call bob --audio-in "$W/a.wav" >/dev/null
	wait_status bob "call incoming"
	cm bob answer --audio-in "$W/b.wav" >/dev/null
	sleep "$SECS"
	sa=$(cm alice status)
	sb=$(cm bob status)
	cm alice hangup >/dev/null
	g() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
	# the lookahead in samples (twofold/media.h: the encoder's), 104
	la=6.5
	for dir in alice-bob bob-alice; do
		if [ $dir = alice-bob ]; then tx=$sa; rx=$sb; else tx=$sb; rx=$sa; fi
		net=$(awk -v o="$(g "$rx" call_rx_offset_us)" -v t="$(g "$tx" call_tx_start_us)" \
			'BEGIN { printf "%.1f", (o - t) / 1000 }')
		jb=$(awk -v o="$(g "$rx" call_play_offset_us)" -v t="$(g "$tx" call_tx_start_us)" -v n="$net" \
			'BEGIN { printf "%.1f", (o - t) / 1000 - n }')
		m2e=$(awk -v n="$net" -v j="$jb" -v l="$la" 'BEGIN { printf "%.1f", n + j + 20 + l }')
		printf '%-5s %-12s %8s ms %7s ms %7s ms %7s ms %9s ms\n' $s $dir "$net" "$jb" 20 "$la" "$m2e"
	done
	svc_stop alice
	svc_stop bob
	kill "$DP" 2>/dev/null || true
	wait "$DP" 2>/dev/null || true
	DP=
	relay_stop TERM
done
echo "anchor: bare one-way network delay $((RTT / 2)) ms (RTT $RTT ms, +-$JIT ms jitter, udpdelay); goal mouth-to-ear <= 250 ms"
