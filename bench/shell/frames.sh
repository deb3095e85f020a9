#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Frame latency of a client committing frames (issue 14): the same client
# (tests/integration/shell/shellclient frames N: commit, wait for the frame
# callback, commit again; commit -> frame-done in µs) on twofold-shell and
# on Debian's sway 1.7, both headless (pixman, one 720x1440 output at the
# headless backend's 60 Hz), measured in the same run. Goal: twofold-shell
# ≤ 1.1x sway. Also the shell's idle RSS, and the persona switch time:
# from the request (a control-socket switch; and the key, Super+Tab typed
# by wtype on the host socket) to the output's present event of the first
# frame committed after it, which shows the other persona (the shell's
# status: switch_us; switch_commit_us to the commit; goal ≤ 16 ms), no
# anchor (sway has no personas).
#
# Usage (root): bench/shell/frames.sh [BUILDDIR]   (default: build)
#   TF_BENCH_FRAMES (default 600) frames per run.
# sway runs as nobody (1.7 refuses root) with a throwaway config.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${1:-$here/../../build}" && pwd)
SH=$builddir/src/shell/twofold-shell
CL=$builddir/tests/integration/shell/shellclient
frames=${TF_BENCH_FRAMES:-600}

[ "$(id -u)" = 0 ] || { echo "bench/shell: needs root" >&2; exit 77; }
[ -x "$SH" ] && [ -x "$CL" ] || { echo "bench/shell: build twofold-shell (-Dshell) and the tests first" >&2; exit 77; }
command -v sway >/dev/null || { echo "bench/shell: needs sway" >&2; exit 77; }

W=$(mktemp -d /tmp/tfbench-shell.XXXXXX)
chmod 755 "$W"
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT
export WLR_BACKENDS=headless WLR_HEADLESS_OUTPUTS=1 WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1

wait_sock() {
	for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done
	echo "bench/shell: $1 did not appear" >&2
	return 1
}

# twofold-shell
"$SH" --persona personal="$W/p.sock" --persona secure="$W/s.sock" \
	--host-socket "$W/h.sock" --control "$W/c.sock" --size 720x1440 \
	2>"$W/shell.log" &
SPID=$!
PIDS="$PIDS $SPID"
wait_sock "$W/h.sock"
sleep 1
rss_idle=$(awk '/^VmRSS/ { print $2 }' "/proc/$SPID/status")
tf=$(WAYLAND_DISPLAY=$W/p.sock "$CL" frames "$frames" | awk '/^frames/ { print $3, $4 }')

# switch time: a window in each persona, then 40 switches
WAYLAND_DISPLAY=$W/p.sock "$CL" window 00ff00 >/dev/null 2>&1 &
PIDS="$PIDS $!"
WAYLAND_DISPLAY=$W/s.sock "$CL" window 0000ff >/dev/null 2>&1 &
PIDS="$PIDS $!"
sleep 0.5
sw_times=$(python3 - "$W/c.sock" <<'PY'
import socket, statistics, sys, time
def ctl(req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    s.send(req.encode())
    r = s.recv(256).decode()
    s.close()
    return r
us, cus = [], []
for i in range(40):
    ctl("switch " + ("secure" if i % 2 == 0 else "personal"))
    time.sleep(0.05)  # three frames at 60 Hz: the switch has been drawn
    f = dict(kv.split("=", 1) for kv in ctl("status").split()[1:])
    us.append(int(f["switch_us"]))
    cus.append(int(f["switch_commit_us"]))
us.sort()
cus.sort()
print(statistics.median(us), us[len(us) * 95 // 100], statistics.median(cus))
PY
)

# the key: Super+Tab on the host socket's virtual keyboard, 20 times
key_times=-
if command -v wtype >/dev/null; then
	key_times=$(for _ in $(seq 20); do
		WAYLAND_DISPLAY=$W/h.sock wtype -M logo -k Tab -m logo
		sleep 0.05
		python3 - "$W/c.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(b"status")
f = dict(kv.split("=", 1) for kv in s.recv(256).decode().split()[1:])
print(f["switch_us"])
PY
	done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)], a[int(NR * 95 / 100)] }')
fi

# sway, as nobody, same client
mkdir -m 700 "$W/run"
chown nobody "$W/run"
cat >"$W/sway.conf" <<CONF
output HEADLESS-1 mode 720x1440
CONF
chmod 644 "$W/sway.conf"
runuser -u nobody -- env XDG_RUNTIME_DIR="$W/run" WAYLAND_DISPLAY=wayland-bench \
	sway -c "$W/sway.conf" >"$W/sway.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 200); do
	s=$(find "$W/run" -maxdepth 1 -name 'wayland-*' -type s | head -1)
	[ -n "$s" ] && break
	sleep 0.05
done
[ -n "$s" ] || { echo "bench/shell: sway did not start: $(tail -3 "$W/sway.log")" >&2; exit 1; }
sleep 1
sw=$(runuser -u nobody -- env XDG_RUNTIME_DIR="$W/run" WAYLAND_DISPLAY="$s" \
	"$CL" frames "$frames" | awk '/^frames/ { print $3, $4 }')

read -r tf_med tf_p99 <<<"$tf"
read -r sw_med sw_p99 <<<"$sw"
printf '%-28s %12s %12s\n' "commit -> frame done" "median µs" "p99 µs"
printf '%-28s %12s %12s\n' "twofold-shell" "$tf_med" "$tf_p99"
printf '%-28s %12s %12s\n' "sway 1.7 (anchor)" "$sw_med" "$sw_p99"
awk -v a="$tf_med" -v b="$sw_med" 'BEGIN { printf "ratio (median)               %12.3fx   goal <= 1.1x\n", a / b }'
echo "twofold-shell idle RSS: ${rss_idle} KiB"
read -r swt_med swt_p95 swt_cmed <<<"$sw_times"
echo "persona switch (control request -> first frame of the other persona presented): median ${swt_med} µs, p95 ${swt_p95} µs   goal <= 16000 µs (to its commit: median ${swt_cmed} µs)"
echo "persona switch (Super+Tab -> presented): median/p95 µs: ${key_times}"
