#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# twofold-shell with twofoldd (issue 14, second round; docs/shell.md
# "Daemon integration"), device.conf display = shell:
#  - the daemon makes the shell's socket directories; a persona app finds
#    $WAYLAND_DISPLAY inside the persona and maps a window; the host socket
#    is not reachable from it; a client of the wrong uid is refused on a
#    persona socket (SO_PEERCRED);
#  - the shell runs as the unprivileged shell_uid and follows the daemon:
#    `twofold switch` changes what the screenshot shows, `twofold lock
#    secure` leaves zero secure pixels; its control socket may no longer
#    switch;
#  - the trusted pad: Super+Tab to a locked secure opens it, a wrong PIN
#    (wtype on the host socket) is refused and secure stays locked, the
#    right one unlocks secure and brings it in front; no client got a key
#    meanwhile and the PIN is in no log; Super+Tab with both open asks
#    the daemon; an evicted secure is not drawn either;
#  - the shell restarted: a new persona app still finds its socket; the
#    daemon gone: secure is locked on screen (fail closed); back with
#    lock_idle_seconds = 2: the shell locks secure once idle that long.
. "$(dirname "$0")/../persona/lib.sh"
. "$(dirname "$0")/lib.sh"

PIN=123456 # enroll_unlock_secure's
WRONG=271828
GREEN=00ff00
BLUE=0000ff
RGB_PAD_KEY=485068
RGB_PAD_WRONG=e02020
SHUID=60141

shell_group tfshell$$
setup_state
shell_conf
# personal runs a test client copied into its /tmp (device-bound only)
sed -i "/^\[persona personal\]/,/^\[/ s/^#\?allow_exec_writable = .*/allow_exec_writable = yes/" "$S/device.conf"
start_daemon || bail "daemon did not start with display = shell"
enroll_unlock_secure || bail "enroll/unlock secure"

shell_dirs

st=$(stat -c %a:%U:%G "$SHD" 2>&1)
[ "$st" = "750:root:$GRP" ]
ok $? "the shell's directory is 0750 root:control_group" "$st"
st=$(stat -c %a:%u "$SHD/personal" "$SHD/secure" "$SHD/host" 2>&1 | tr '\n' ' ')
[ "$st" = "711:$SHUID 711:$SHUID 700:$SHUID " ]
ok $? "one directory per persona (0711) and host/ (0700), the shell's" "$st"

# ---- the shell, as shell_uid, following the daemon
start_dshell || bail "shell did not start as uid $SHUID"
st=$(ctl status)
has "fg=personal" "$st" && has "daemon=up" "$st" && has "secure=open" "$st"
ok $? "the shell follows the daemon: personal in front, secure open" "$st"

# ---- a persona app on $WAYLAND_DISPLAY
out=$(tf run personal -- sh -c 'echo "$XDG_RUNTIME_DIR $WAYLAND_DISPLAY"; readlink /run/user/1000/wayland-0; test -S /run/user/1000/.twofold-shell/wayland-0 && echo socket' 2>&1)
[ "$(echo "$out" | tr '\n' ' ')" = "/run/user/1000 wayland-0 .twofold-shell/wayland-0 socket " ]
ok $? "in personal: XDG_RUNTIME_DIR, WAYLAND_DISPLAY, the link to the shell's socket" "$out"
# the mount is personal's directory alone: secure's socket is not in it
out=$(tf run personal -- awk '$5 ~ /twofold-shell$/ { print $4 }' /proc/self/mountinfo 2>&1)
case $out in */shell/personal) true ;; *) false ;; esac
ok $? "in personal: one mount of the shell's, its own directory (never host/ or secure's)" "$out"
out=$(tf run secure -- sh -c 'echo "$WAYLAND_DISPLAY"; test -S /run/user/1000/wayland-0 && echo socket' 2>&1)
[ "$(echo "$out" | tr '\n' ' ')" = "wayland-0 socket " ]
ok $? "secure, started by its unlock, has its socket too" "$out"
tf run personal -- sh -c 'cat >/tmp/shellclient && chmod 755 /tmp/shellclient' <"$SHELLCLIENT" ||
	bail "cannot copy the test client into personal"
tf run personal -- /tmp/shellclient window $GREEN >"$SH_DIR/papp.out" 2>&1 &
BG_PIDS="$BG_PIDS $!"
for _ in $(seq 100); do grep -q '^configure' "$SH_DIR/papp.out" && break; sleep 0.05; done
grep -q '^configure' "$SH_DIR/papp.out"
ok $? "a personal app connects to \$WAYLAND_DISPLAY and gets its window configured" "$(cat "$SH_DIR/papp.out")"
shot p1 || bail "grim on the host socket failed"
[ "$(count p1 $GREEN)" -gt 0 ]
ok $? "its window is on screen" "green $(count p1 $GREEN)"

out=$(tf run personal -- sh -c "test -e '$H_SOCK' && echo visible; WAYLAND_DISPLAY='$H_SOCK' /tmp/shellclient globals" 2>&1)
rc=$?
[ $rc != 0 ] && not_has visible "$out"
ok $? "the host socket's path does not exist in personal, a client there fails" "rc=$rc $out"

# ---- SO_PEERCRED: a uid of secure on personal's socket is refused, on
# its own socket served (the check can fail)
out=$(as_app secure "$SHD/personal/wayland-0" timeout 10 "$SHELLCLIENT" globals 2>&1)
rc=$?
[ $rc != 0 ] && grep -q "refused a client of uid $((SB + 1000)) on the socket of personal" "$SH_LOG"
ok $? "a client of secure's uid on personal's socket is refused" "rc=$rc $out"
out=$(as_app secure "$SHD/secure/wayland-0" timeout 10 "$SHELLCLIENT" globals 2>&1)
rc=$?
[ $rc = 0 ] && has xdg_wm_base "$out"
ok $? "the same uid on secure's socket is served" "rc=$rc $out"

# a secure client: a process of secure's app uid on secure's socket
app_client secure sec window $BLUE
keys() { grep -c '^key' "$SH_DIR/$1.out"; }
# wait_fg NAME: until the shell has followed the daemon's foreground
wait_fg() { for _ in $(seq 100); do has "fg=$1" "$(ctl status)" && return 0; sleep 0.05; done; return 1; }

# ---- the daemon's foreground is the truth
r=$(ctl switch secure)
has "twofoldd decides" "$r"
ok $? "the control socket may not switch while the daemon is followed" "$r"
tf switch secure >/dev/null
wait_fg secure
shot s1
[ "$(count s1 $BLUE)" -gt 0 ] && [ "$(count s1 $GREEN)" = 0 ] && [ "$(count s1 $RGB_BADGE 0 $BAR_H)" -gt 0 ]
ok $? "twofold switch secure: secure's window and badge shown, personal's not" \
	"blue $(count s1 $BLUE) green $(count s1 $GREEN)"
tf switch personal >/dev/null
wait_fg personal
shot s2
[ "$(count s2 $GREEN)" -gt 0 ] && [ "$(count s2 $BLUE)" = 0 ]
ok $? "twofold switch personal: back" "blue $(count s2 $BLUE) green $(count s2 $GREEN)"

# ---- lock: zero secure pixels
tf switch secure >/dev/null
tf lock secure >/dev/null || bail "twofold lock secure"
for _ in $(seq 50); do has "secure=locked" "$(ctl status)" && break; sleep 0.1; done
st=$(ctl status)
has "secure=locked" "$st" && has "fg=personal" "$st"
ok $? "twofold lock secure: the shell has it locked, personal in front" "$st"
shot l1
[ "$(count l1 $BLUE)" = 0 ] && [ "$(count l1 $RGB_BADGE)" = 0 ]
ok $? "secure locked: zero secure pixels, no badge" "blue $(count l1 $BLUE) badge $(count l1 $RGB_BADGE)"

# ---- the trusted pad
sk=$(keys sec)
pk=$(keys papp)
on "$H_SOCK" wtype -M logo -k Tab -m logo
for _ in $(seq 100); do has "pad=typing" "$(ctl status)" && break; sleep 0.05; done
st=$(ctl status)
has "pad=typing" "$st"
ok $? "Super+Tab to the locked secure opens the shell's pad" "$st"
shot k1
[ "$(count k1 $RGB_PAD_KEY)" -gt 0 ] && [ "$(count k1 $BLUE)" = 0 ] && [ "$(count k1 $GREEN)" = 0 ]
ok $? "the pad is drawn by the shell and covers every client" \
	"pad $(count k1 $RGB_PAD_KEY) blue $(count k1 $BLUE) green $(count k1 $GREEN)"
on "$H_SOCK" wtype "$WRONG"
on "$H_SOCK" wtype -k Return
for _ in $(seq 100); do has "pad=wrong" "$(ctl status)" && break; sleep 0.1; done
st=$(ctl status)
has "pad=wrong" "$st" && has "secure=locked" "$st"
ok $? "a wrong PIN on the pad is refused; secure stays locked" "$st"
has "secure frozen" "$(tf persona list 2>&1)" || has "secure locked" "$(tf persona list 2>&1)"
ok $? "... in the daemon too" "$(tf persona list 2>&1)"
shot k2
[ "$(count k2 $RGB_PAD_WRONG)" -gt 0 ]
ok $? "the pad says so (its strip turns red)"
on "$H_SOCK" wtype "$PIN"
on "$H_SOCK" wtype -k Return
for _ in $(seq 100); do has "fg=secure" "$(ctl status)" && break; sleep 0.1; done
st=$(ctl status)
has "fg=secure" "$st" && has "secure=open" "$st" && has "pad=-" "$st"
ok $? "the right PIN unlocks secure and brings it in front" "$st"
has "secure running foreground" "$(tf persona list 2>&1)"
ok $? "... the daemon's foreground" "$(tf persona list 2>&1)"
shot k3
[ "$(count k3 $BLUE)" -gt 0 ] && [ "$(count k3 $RGB_PAD_KEY)" = 0 ]
ok $? "secure's window is shown, the pad gone"
[ "$(keys sec)" = "$sk" ] && [ "$(keys papp)" = "$pk" ]
ok $? "no client got a key typed on the pad" "secure $(keys sec) (was $sk), personal $(keys papp) (was $pk)"
# Super+Tab with both open: asked of the daemon, which moves
on "$H_SOCK" wtype -M logo -k Tab -m logo
for _ in $(seq 50); do has "personal running foreground" "$(tf persona list 2>&1)" && break; sleep 0.1; done
has "personal running foreground" "$(tf persona list 2>&1)" && has "fg=personal" "$(ctl status)"
ok $? "Super+Tab asks twofoldd to switch; the daemon's foreground moved, the shell followed" \
	"$(tf persona list 2>&1) / $(ctl status)"
# evicted (lock --evict): not rendered either
tf switch secure >/dev/null
tf lock secure --evict >/dev/null
for _ in $(seq 50); do has "secure=locked" "$(ctl status)" && break; sleep 0.1; done
shot e1
has "secure=locked" "$(ctl status)" && [ "$(count e1 $BLUE)" = 0 ] && [ "$(count e1 $GREEN)" -gt 0 ]
ok $? "secure evicted: zero secure pixels, personal in front" "$(ctl status) blue $(count e1 $BLUE)"
n=0
for f in "$SH_LOG" "$DLOG"; do
	grep -q -e "$PIN" -e "$WRONG" "$f" && n=$((n + 1))
done
[ $n = 0 ] && [ -s "$SH_LOG" ] && [ -s "$DLOG" ]
ok $? "neither PIN appears in the shell's or the daemon's log" "$n logs have one"

# ---- the shell restarted: the directory mount follows its new socket
kill "$SH_PID"
wait "$SH_PID" 2>/dev/null
start_dshell || bail "shell did not restart"
out=$(tf run personal -- /tmp/shellclient globals 2>&1)
has xdg_wm_base "$out"
ok $? "after a shell restart a personal app reaches the new socket" "$out"

# ---- the daemon gone: fail closed
stop_daemon
for _ in $(seq 50); do has "daemon=down" "$(ctl status)" && break; sleep 0.1; done
st=$(ctl status)
has "daemon=down" "$st" && has "secure=locked" "$st"
ok $? "twofoldd gone: the shell locks secure on screen" "$st"

# ---- lock_idle_seconds: the shell locks secure after that long without
# input (as `twofold lock secure`); it reads the value on connecting
set_conf lock_idle_seconds 2
start_daemon || bail "daemon did not restart"
# the other start order: the shell was up before these personas started
out=$(tf run personal -- /tmp/shellclient globals 2>&1)
has xdg_wm_base "$out"
ok $? "a persona started after the shell: its app reaches the shell's socket" "$out"
printf '%s\n' "$PIN" | tf unlock secure --pin-stdin >/dev/null || bail "unlock secure"
for _ in $(seq 50); do [ "$(grep -c "following twofoldd" "$SH_LOG")" -ge 3 ] && break; sleep 0.1; done
for _ in $(seq 100); do has "secure running" "$(tf persona list 2>&1)" || break; sleep 0.1; done
out=$(tf persona list 2>&1)
not_has "secure running" "$out" && grep -q "idle 2 s: locking" "$SH_LOG"
ok $? "lock_idle_seconds = 2: the shell locked secure after 2 s without input" "$out"
kill -0 "$SH_PID"
ok $? "the shell is still running"
finish
