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
	wait_shell
}

# wait_shell [TEXT]: until the shell's control socket exists (and its log
# says TEXT), while it lives
wait_shell() {
	for _ in $(seq 100); do
		{ [ -z "${1:-}" ] || grep -q "$1" "$SH_LOG"; } && [ -S "$C_SOCK" ] && return 0
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

# configured NAME: wait for the first configure of client NAME
configured() {
	for _ in $(seq 100); do
		grep -q '^configure' "$SH_DIR/$1.out" && return 0
		sleep 0.05
	done
	diag "client $1 got no configure: $(cat "$SH_DIR/$1.out")"
	return 1
}

# client SOCK NAME ARGS...: a shellclient in the background, its output in
# $SH_DIR/NAME.out; waits for its first configure
client() {
	local sock=$1 name=$2
	shift 2
	WAYLAND_DISPLAY=$sock "$SHELLCLIENT" "$@" >"$SH_DIR/$name.out" 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	eval "PID_$name=$!"
	configured "$name"
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

# ---- the shell with twofoldd (display = shell): sourced after
# ../persona/lib.sh; the state dir is $S, the shell's directories $SHD

# shell_group NAME: a group for control_group (GRP, GID), deleted at exit
shell_group() {
	GRP=$1
	groupadd "$GRP" || bail "groupadd $GRP failed"
	GID=$(getent group "$GRP" | cut -d: -f3)
	EXTRA_CLEANUP="$EXTRA_CLEANUP; groupdel $GRP"
}

# shell_conf: device.conf for display = shell, control_group $GRP and
# shell_uid $SHUID, and $S reachable by the group (after setup_state)
shell_conf() {
	sed -i "s/^#control_group =.*/control_group = $GRP/; s/^#shell_uid =.*/shell_uid = $SHUID/" "$S/device.conf"
	set_conf display shell
	chgrp "$GRP" "$S" && chmod 0710 "$S"
}

# ubase NAME: the uid_base device.conf gives persona NAME
ubase() { awk -v p="[persona $1]" '$0 == p { f = 1; next } /^\[/ { f = 0 } f && $1 == "uid_base" { print $3 }' "$S/device.conf"; }

# shell_dirs: the shell's directories ($SHD), the host and control sockets
# start_dshell gives it, and the personas' uid bases (PB, SB)
shell_dirs() {
	SHD=$S/shell
	H_SOCK=$SHD/host/host.sock
	C_SOCK=$SHD/host/control.sock
	PB=$(ubase personal)
	SB=$(ubase secure)
	[ -n "$PB" ] && [ -n "$SB" ] || bail "no uid_base in device.conf"
}

# start_dshell [ARGS...]: the shell as shell_uid following the daemon, on
# the personas' sockets under $SHD, $H_SOCK and $C_SOCK; personal's app
# uids from $PB, secure's from $SB when set. Ready once it says so and
# its control socket exists.
start_dshell() {
	local uids=(--persona-uids personal="$PB-$((PB + 65535))")
	[ -z "${SB:-}" ] || uids+=(--persona-uids secure="$SB-$((SB + 65535))")
	setpriv --reuid="$SHUID" --regid="$GID" --groups="$GID" -- \
		env WLR_BACKENDS=headless WLR_HEADLESS_OUTPUTS=1 \
		WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1 "$TWOFOLD_SHELL" \
		--persona personal="$SHD/personal/wayland-0" \
		--persona secure="$SHD/secure/wayland-0" "${uids[@]}" \
		--host-socket "$H_SOCK" --control "$C_SOCK" "$@" \
		--daemon "$S/control" >>"$SH_LOG" 2>&1 &
	SH_PID=$!
	BG_PIDS="$BG_PIDS $SH_PID"
	wait_shell "following twofoldd"
}

# as_app PERSONA SOCK CMD...: CMD as PERSONA's app uid (uid_base + 1000,
# in the group) on the Wayland socket SOCK
as_app() {
	local b
	b=$(ubase "$1")
	setpriv --reuid=$((b + 1000)) --regid=$((b + 1000)) --groups="$GID" -- \
		env WAYLAND_DISPLAY="$2" "${@:3}"
}

# app_client PERSONA NAME ARGS...: a shellclient of PERSONA's app uid on
# its own socket in the background, its output in $SH_DIR/NAME.out;
# waits for its first configure
app_client() {
	local p=$1 name=$2
	shift 2
	as_app "$p" "$SHD/$p/wayland-0" "$SHELLCLIENT" "$@" >"$SH_DIR/$name.out" 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	configured "$name"
}

# daemon_req UID TYPE [ATTR VALUE]...: one request of TYPE with string
# attributes on the daemon's control socket as UID (in the group); prints
# the reply's error and text (its newlines as |)
daemon_req() {
	setpriv --reuid="$1" --regid="$GID" --groups="$GID" -- /usr/bin/python3 - "$S/control" "${@:2}" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
def attr(t, v):
    v = v.encode() + b"\0"
    return struct.pack("<HHI", t, 0, len(v)) + v
a = sys.argv[3:]
body = b"".join(attr(int(a[i]), a[i + 1]) for i in range(0, len(a), 2))
s.send(struct.pack("<HBBHHI", 0x4654, 1, 0, int(sys.argv[2]), 0, len(body)) + body)
d = s.recv(65536)
off, err, text = 12, None, ""
while off + 8 <= len(d):
    a, _, n = struct.unpack_from("<HHI", d, off)
    val = d[off + 8:off + 8 + n]
    if a == 10: err = struct.unpack("<i", val)[0]
    if a == 12: text = val.rstrip(b"\0").decode()
    off += 8 + n
print(err, text.replace("\n", "|"))
PY
}
