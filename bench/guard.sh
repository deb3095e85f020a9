#!/bin/bash
# SPDX-License-Identifier: ISC
# Death -> keys-removed latency of the key guard (src/daemon/guard.c).
# usage: TWOFOLD=... TWOFOLDD=... bench/guard.sh [RUNS]   (root; default 10)
# Each run: fresh daemon under a reaping subreaper (as under systemd),
# secure unlocked, kill -9 of twofoldd; an in-process poller (ioctl on an fd
# opened before the kill) measures kill -> FS_IOC_GET_ENCRYPTION_KEY_STATUS
# ABSENT. Prints each run, the guard's own figures, and the median.
set -u
RUNS=${1:-10}
T=$(cd "$(dirname "$0")/../tests/integration/storage" && pwd)
: "${TWOFOLD:?}" "${TWOFOLDD:?}"
lat=()
for i in $(seq "$RUNS"); do
	ms=$(bash -c '
		. "'"$T"'/lib.sh" >/dev/null
		init_state >/dev/null
		python3 "'"$T"'/reaper.py" "$S.dpid" "$TWOFOLDD" --state "$S" 2>>"$S.log" &
		R=$!
		for _ in $(seq 100); do [ -s "$S.dpid" ] && tf status >/dev/null 2>&1 && break; sleep 0.1; done
		DPID=$(cat "$S.dpid")
		pin enroll 111111 >/dev/null; pin unlock 111111 >/dev/null
		python3 - "$S/fs/secure/data" "$S/fs/secure" "$DPID" <<PY
import ctypes, os, struct, sys, time, signal
libc = ctypes.CDLL(None, use_errno=True)
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
pol = ctypes.create_string_buffer(32); struct.pack_into("<Q", pol, 0, 24)
libc.ioctl(d, ctypes.c_ulong(0xC0096616), pol); os.close(d)
f = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)
st = ctypes.create_string_buffer(128)
t0 = time.monotonic(); os.kill(int(sys.argv[3]), signal.SIGKILL)
while True:
    struct.pack_into("<II", st, 0, 2, 0); st[8:24] = pol.raw[16:32]
    if libc.ioctl(f, ctypes.c_ulong(0xC080661A), st) < 0 or struct.unpack_from("<I", st, 64)[0] == 1:
        break
    if time.monotonic() - t0 > 5: break
    time.sleep(0.0002)
print("%.1f" % ((time.monotonic() - t0) * 1000)); os.close(f)
PY
		DPID=
		wait $R 2>/dev/null
		grep "twofold-guard: warning" "$S.log" | sed "s/^/# /" >&2
	' 2>&1)
	echo "run $i: $(echo "$ms" | grep -v '^#' | tail -1) ms kill -> key absent"
	echo "$ms" | grep '^#'
	lat+=("$(echo "$ms" | grep -v '^#' | tail -1)")
done
med=$(printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
echo "guard: kill -9 -> secure key ABSENT, median of $RUNS: $med ms (goal <= 100 ms)"
