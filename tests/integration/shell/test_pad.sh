#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The trusted pad's words and its pointer (docs/shell.md "Trusted
# unlock"):
#  - a wrong PIN: the pad says so in the shell's block font in its strip
#    (pixels of its text colour there, none while typing) and how many
#    tries are left; with device.conf's throttle a wait, counted down on
#    screen each second until "try again";
#  - touches (control `touch`, a headless touch device) on the keys 1..3
#    and a pointer (a virtual pointer on the host socket, shellclient tap)
#    pressing 4..6 and OK unlock secure and bring it in front; the PIN in
#    no log;
#  - all of it while a personal client that never answers pings is marked
#    unresponsive and dropped (the pad waits for no client).
. "$(dirname "$0")/../persona/lib.sh"
. "$(dirname "$0")/lib.sh"

PIN=123456 # enroll_unlock_secure's
WRONG=271828
RGB_PAD_TEXT=fff8e0
SHUID=60145

shell_group tfpad$$
setup_state
shell_conf
set_conf throttle_free_tries 1
set_conf throttle_base_delay 3
start_daemon || bail "daemon did not start with display = shell"
enroll_unlock_secure || bail "enroll/unlock secure"
tf lock secure >/dev/null || bail "twofold lock secure"

SHD=$S/shell
PB=$(ubase personal)
H_SOCK=$SHD/host/host.sock
C_SOCK=$SHD/host/control.sock
start_dshell --ping-interval 400 || bail "shell did not start"
has "daemon=up" "$(ctl status)" || bail "the shell did not come up: $(tail -3 "$SH_LOG")"

# the pad's geometry on the default 720x1440 output (pad.c
# tf_shell_pad_arrange): keys 160x120, 200 apart, rows 140 apart from
# y=506; the strip at y=156, 48 high
W=720
H=1440
key_xy() {
	case $1 in
	0) echo "360 986" ;;
	DEL) echo "160 986" ;;
	OK) echo "560 986" ;;
	*) echo "$((160 + ($1 - 1) % 3 * 200)) $((566 + ($1 - 1) / 3 * 140))" ;;
	esac
}
strip_text() { count "$1" $RGB_PAD_TEXT 156 204; }
pad_text() { ctl status | tr ' ' '\n' | sed -n 's/^pad_text=//p'; }

# a personal client that never answers a ping, there all along
setpriv --reuid=$((PB + 1000)) --regid="$GID" --groups="$GID" -- \
	env WAYLAND_DISPLAY="$SHD/personal/wayland-0" "$SHELLCLIENT" window 00ff00 --no-pong >"$SH_DIR/mute.out" 2>&1 &
MUTE=$!
BG_PIDS="$BG_PIDS $MUTE"
for _ in $(seq 100); do grep -q '^configure' "$SH_DIR/mute.out" && break; sleep 0.05; done

on "$H_SOCK" wtype -M logo -k Tab -m logo
for _ in $(seq 100); do has "pad=typing" "$(ctl status)" && break; sleep 0.05; done
has "pad=typing" "$(ctl status)" || bail "the pad did not open: $(ctl status)"
shot t0 || bail "grim on the host socket failed"
[ "$(strip_text t0)" = 0 ] && [ "$(count t0 $RGB_PAD_TEXT 56 156)" -gt 0 ]
ok $? "typing: the pad's title drawn, nothing in its strip" "strip $(strip_text t0) title $(count t0 $RGB_PAD_TEXT 56 156)"

# ---- a wrong PIN: said in words
on "$H_SOCK" wtype "$WRONG"
on "$H_SOCK" wtype -k Return
for _ in $(seq 100); do has "pad=wrong" "$(ctl status)" && break; sleep 0.1; done
t=$(pad_text)
case $t in WRONG_PIN*) true ;; *) false ;; esac
ok $? "a wrong PIN: the pad says WRONG PIN" "$t; $(ctl status)"
shot t1
[ "$(strip_text t1)" -gt 0 ]
ok $? "... in the block font in its strip (pixels of the pad's text colour)" "$(strip_text t1)"

# ---- another: the throttle's wait, counted down
on "$H_SOCK" wtype "$WRONG"
on "$H_SOCK" wtype -k Return
for _ in $(seq 100); do case $(pad_text) in *WAIT_*) break ;; esac; sleep 0.1; done
t1=$(pad_text)
case $t1 in *WAIT_[0-9]*_S) true ;; *) false ;; esac
ok $? "throttled: the pad says how long to wait" "$t1; $(grep 'refused' "$SH_LOG" | tail -1)"
shot w1
n1=$(strip_text w1)
seen=
for _ in $(seq 100); do
	t2=$(pad_text)
	[ "$t2" != "$t1" ] && { seen=$t2; break; }
	sleep 0.1
done
case $seen in *WAIT_[0-9]*_S | TRY_AGAIN) true ;; *) false ;; esac
ok $? "the wait counts down on the pad" "$t1 then $seen"
for _ in $(seq 100); do [ "$(pad_text)" = TRY_AGAIN ] && break; sleep 0.1; done
t3=$(pad_text)
shot w2
[ "$t3" = TRY_AGAIN ] && [ "$(strip_text w2)" != "$n1" ]
ok $? "... to TRY AGAIN, redrawn" "$t3; pixels $n1 then $(strip_text w2)"

# ---- touch (a headless touch device, control `touch`): 1..3 on the
# pad's keys; then the pointer: 4..6 and OK. Only both together make
# the PIN.
tr=
for k in 1 2 3; do
	read -r x y < <(key_xy $k)
	tr="$tr$(ctl touch down $k $x $y)$(ctl touch up $k)"
done
[ "$tr" = okokokokokok ]
ok $? "three touches on the pad's keys" "$tr"
xy=()
for k in 4 5 6 OK; do
	read -r x y < <(key_xy $k)
	xy+=("$x" "$y")
done
out=$(WAYLAND_DISPLAY=$H_SOCK timeout 10 "$SHELLCLIENT" tap $W $H "${xy[@]}" 2>&1)
rc=$?
[ $rc = 0 ] && [ "$(echo "$out" | grep -c '^tap')" = 4 ]
ok $? "a virtual pointer on the host socket pressed four keys" "rc=$rc $out"
for _ in $(seq 100); do has "fg=secure" "$(ctl status)" && break; sleep 0.1; done
st=$(ctl status)
has "fg=secure" "$st" && has "secure=open" "$st" && has "pad=-" "$st"
ok $? "the PIN touched and pressed on the pad's keys unlocked secure, in front now" "$st; $(tail -3 "$SH_LOG")"
n=0
for f in "$SH_LOG" "$DLOG"; do grep -q -e "$PIN" -e "$WRONG" "$f" && n=$((n + 1)); done
[ $n = 0 ]
ok $? "neither PIN in the shell's or the daemon's log" "$n"

! kill -0 "$MUTE" 2>/dev/null && grep -q "did not answer a ping in 3 rounds: disconnected" "$SH_LOG"
ok $? "meanwhile the personal client that never answered pings was dropped" "$(grep ping "$SH_LOG" | tail -2)"

# a persona client is still refused the virtual pointer
out=$(WAYLAND_DISPLAY=$SHD/personal/wayland-0 setpriv --reuid=$((PB + 1000)) --regid="$GID" --groups="$GID" -- timeout 10 "$SHELLCLIENT" tap $W $H 1 1 2>&1)
[ $? != 0 ] && has "no virtual pointer here" "$out"
ok $? "on a persona socket there is no virtual pointer" "$out"
kill -0 "$SH_PID"
ok $? "the shell is still running"
finish
