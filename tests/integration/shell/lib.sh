# SPDX-License-Identifier: ISC
# The twofold-shell tests' helpers (sourced after ../tap.sh): start the
# shell headless with a personal, a secure and the host socket in a temp
# dir, talk to its control socket, take screenshots with grim on the host
# socket and count pixels of one colour. Everything started here is in
# BG_PIDS and the temp dir goes in EXTRA_CLEANUP, so a failed test leaves
# nothing behind.
# shellcheck shell=bash

: "${TWOFOLD_SHELL:?TWOFOLD_SHELL not set (run through meson test)}"
: "${SHELLCLIENT:?SHELLCLIENT not set}"

for t in grim wl-copy wl-paste wtype; do
	command -v "$t" >/dev/null || {
		echo "1..0 # SKIP $t not installed (tools/deps.sh)"
		exit 0
	}
done

# the shell's colours (src/shell/shell.h)
RGB_BADGE=d01040
RGB_BAR=202020
RGB_LOCK=303848
BAR_H=40

SH_DIR=$(mktemp -d /tmp/tfshell.XXXXXX)
SH_PID=
EXTRA_CLEANUP='rm -rf "$SH_DIR"'
P_SOCK=$SH_DIR/personal.sock
S_SOCK=$SH_DIR/secure.sock
H_SOCK=$SH_DIR/host.sock
C_SOCK=$SH_DIR/control.sock
SH_LOG=$SH_DIR/shell.log

# start_shell [ARGS...]: the shell, headless, pixman; ready once its
# sockets exist (it makes them last)
start_shell() {
	WLR_BACKENDS=headless WLR_HEADLESS_OUTPUTS=1 WLR_RENDERER=pixman \
		WLR_LIBINPUT_NO_DEVICES=1 "$TWOFOLD_SHELL" \
		--persona personal="$P_SOCK" --persona secure="$S_SOCK" \
		--host-socket "$H_SOCK" --control "$C_SOCK" "$@" \
		>>"$SH_LOG" 2>&1 &
	SH_PID=$!
	BG_PIDS="$BG_PIDS $SH_PID"
	for _ in $(seq 100); do
		[ -S "$C_SOCK" ] && return 0
		kill -0 "$SH_PID" 2>/dev/null || break
		sleep 0.05
	done
	diag "shell did not come up: $(tail -5 "$SH_LOG")"
	return 1
}

# ctl REQUEST: one request on the control socket, its answer on stdout
ctl() {
	python3 - "$C_SOCK" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(sys.argv[2].encode())
print(s.recv(256).decode())
PY
}

# on SOCK CMD...: run CMD as a client of SOCK
on() {
	local sock=$1
	shift
	WAYLAND_DISPLAY=$sock timeout 10 "$@"
}

# client SOCK NAME ARGS...: a shellclient in the background, its output in
# $SH_DIR/NAME.out; waits for its first configure
client() {
	local sock=$1 name=$2
	shift 2
	WAYLAND_DISPLAY=$sock "$SHELLCLIENT" "$@" >"$SH_DIR/$name.out" 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	eval "PID_$name=$!"
	for _ in $(seq 100); do
		grep -q '^configure' "$SH_DIR/$name.out" && return 0
		sleep 0.05
	done
	diag "client $name got no configure: $(cat "$SH_DIR/$name.out")"
	return 1
}

# shot NAME: a screenshot through the host socket at $SH_DIR/NAME.ppm
# (after a short settle: the shell renders on the output's next frame)
shot() {
	sleep 0.3
	on "$H_SOCK" grim -t ppm "$SH_DIR/$1.ppm"
}

# count NAME RRGGBB [Y0 Y1 [X0 X1]]: pixels of exactly that colour in the
# screenshot, in rows Y0..Y1-1 and columns X0..X1-1 (default all)
count() {
	python3 - "$SH_DIR/$1.ppm" "$2" "${3:-0}" "${4:-100000}" "${5:-0}" "${6:-100000}" <<'PY'
import sys
path, rgb = sys.argv[1], tuple(bytes.fromhex(sys.argv[2]))
y0, y1, x0, x1 = map(int, sys.argv[3:7])
d = open(path, "rb").read()
# P6\nW H\n255\n then the pixels
parts = d.split(b"\n", 3)
w, h = map(int, parts[1].split())
px = parts[3]
y0, y1, x0, x1 = max(0, y0), min(h, y1), max(0, x0), min(w, x1)
if x0 == 0 and x1 == w:
    sl = px[y0 * w * 3:y1 * w * 3]
    print(list(zip(sl[0::3], sl[1::3], sl[2::3])).count(rgb))
else:
    n = 0
    for y in range(y0, y1):
        sl = px[(y * w + x0) * 3:(y * w + x1) * 3]
        n += list(zip(sl[0::3], sl[1::3], sl[2::3])).count(rgb)
    print(n)
PY
}
