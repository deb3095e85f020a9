#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# twofoldd starts and supervises twofold-shell (device.conf display =
# shell, shell_start = yes; docs/shell.md "Starting the shell"):
#  - the daemon starts the shell as shell_uid with the options built from
#    device.conf: the personas' sockets appear, it follows the daemon,
#    secure is framed (--secure from credential = yes);
#  - the shell killed: the daemon starts it again, the personas' sockets
#    are back and a persona's client reaches it; killed again at once:
#    the wait before the restart doubles (backoff);
#  - no secret in the shell's environment or arguments; the daemon
#    stopped: the shell is gone too;
#  - input is the shell's: inside a persona there is no /dev/input and
#    no evdev node can be made (a [device] of class input with display =
#    shell is refused at load: tests/unit/common).
. "$(dirname "$0")/../persona/lib.sh"
. "$(dirname "$0")/lib.sh"

SHUID=60144

shell_group tfsst$$
setup_state
shell_conf
sed -i "s/^#\?shell_start =.*/shell_start = yes/" "$S/device.conf"
grep -q "^shell_start = yes" "$S/device.conf" || bail "no shell_start key in device.conf"
# the daemon passes these (and only wlroots' and libseat's) to the shell
export WLR_BACKENDS=headless WLR_HEADLESS_OUTPUTS=1 WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1
export TF_TEST_NOT_PASSED=leak
start_daemon || bail "daemon did not start"

SHD=$S/shell
C_SOCK=$SHD/host/control
H_SOCK=$SHD/host/wayland-host
PB=$(ubase personal)
shell_pid() { pgrep -u "$SHUID" -x twofold-shell | head -1; }
# up_again OLD: a shell other than OLD runs and answers on its control socket
up_again() {
	for _ in $(seq 200); do
		local p
		p=$(shell_pid)
		if [ -n "$p" ] && [ "$p" != "$1" ] && has "daemon=up" "$(ctl status 2>/dev/null)"; then
			echo "$p"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

P1=$(up_again none)
ok $? "twofoldd started twofold-shell, which follows it" "$(tail -5 "$DLOG")"
st=$(ps -o uid= -p "$P1" 2>&1 | tr -d ' ')
[ "$st" = "$SHUID" ]
ok $? "as shell_uid" "uid $st"
[ -S "$SHD/personal/wayland-0" ] && [ -S "$SHD/secure/wayland-0" ] && [ -S "$H_SOCK" ]
ok $? "the personas' sockets and the host socket are where display = shell put the directories" "$(ls -l "$SHD"/*/ 2>&1)"
args=$(tr '\0' ' ' <"/proc/$P1/cmdline")
has "--secure secure" "$args" && has "--persona-uids personal=$PB-$((PB + 65535))" "$args" && not_has "--secure personal" "$args"
ok $? "its options come from device.conf (credential persona framed, uid ranges)" "$args"
env=$(tr '\0' '\n' <"/proc/$P1/environ")
has "WLR_BACKENDS=headless" "$env" && not_has "TF_TEST_NOT_PASSED" "$env"
ok $? "its environment: wlroots' variables passed, nothing else of the daemon's" "$env"
st=$(grep -E '^(NoNewPrivs|Groups)' "/proc/$P1/status" | tr '\n\t' '  ')
has "NoNewPrivs: 1" "$st" && has "$GID" "$st"
ok $? "no new privileges, in control_group" "$st"

# ---- killed: started again, the sockets are back
kill -KILL "$P1"
P2=$(up_again "$P1")
ok $? "the shell killed: twofoldd starts it again" "$(grep twofold-shell "$DLOG" | tail -3)"
grep -q "twofold-shell killed by signal 9; restarting it in 1 s" "$DLOG"
ok $? "the daemon says so" "$(grep twofold-shell "$DLOG" | tail -3)"
out=$(setpriv --reuid=$((PB + 1000)) --regid=$((PB + 1000)) --groups="$GID" -- \
	env WAYLAND_DISPLAY="$SHD/personal/wayland-0" timeout 10 "$SHELLCLIENT" globals 2>&1)
has xdg_wm_base "$out"
ok $? "personal's socket is back: a client of personal's uid is served" "$out"
out=$(tf run personal -- sh -c 'test -S /run/user/1000/wayland-0 && echo socket' 2>&1)
[ "$out" = socket ]
ok $? "inside personal, \$XDG_RUNTIME_DIR/wayland-0 is the new shell's socket" "$out"

# ---- the personas get no input device
out=$(tf run personal -- sh -c 'ls /dev; test -e /dev/input && echo HAS-INPUT; mknod /tmp/ev c 13 64 2>&1 || echo mknod-refused' 2>&1)
not_has HAS-INPUT "$out" && not_has "event" "$out" && has mknod-refused "$out"
ok $? "inside personal: no /dev/input, no evdev node can be made" "$(echo "$out" | tr '\n' ' ')"

# ---- killed again at once: the wait doubles
kill -KILL "$P2"
P3=$(up_again "$P2")
ok $? "killed again: started again" "$(grep twofold-shell "$DLOG" | tail -3)"
grep -q "restarting it in 2 s" "$DLOG"
ok $? "after a backoff of 2 s (it had not run 30 s)" "$(grep twofold-shell "$DLOG" | tail -3)"

# ---- the daemon stopped: the shell too
stop_daemon
for _ in $(seq 100); do [ -z "$(shell_pid)" ] && break; sleep 0.05; done
[ -z "$(shell_pid)" ] && ! kill -0 "$P3" 2>/dev/null
ok $? "twofoldd stopped: its shell is gone" "$(shell_pid)"
grep -q "twofold-shell stopped" "$DLOG"
ok $? "... stopped by the daemon" "$(tail -3 "$DLOG")"
finish
