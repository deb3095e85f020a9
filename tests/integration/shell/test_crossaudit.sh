#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# twofold-shell's cross-persona paste decided and audited by twofoldd
# (docs/shell.md "Clipboard", request CROSS_COPY_AUDIT):
#  - personal -> secure by the gesture: allowed by the daemon's default,
#    a clipboard.cross record (from, to, verdict, byte count) in the
#    daemon's audit chain;
#  - secure -> personal refused at the copy half, audited as refused,
#    nothing pasted;
#  - the request is the shell's alone (root and the group refused);
#  - device.conf clipboard_flows = secure:personal (a daemon restart):
#    the other way round is now the allowed one;
#  - no clipboard byte in the audit log or either log; the daemon gone,
#    nothing crosses (fail closed).
. "$(dirname "$0")/../persona/lib.sh"
. "$(dirname "$0")/lib.sh"

PIN=123456 # enroll_unlock_secure's
SHUID=60142

shell_group tfxaud$$
setup_state
shell_conf
start_daemon || bail "daemon did not start with display = shell"
enroll_unlock_secure || bail "enroll/unlock secure"

shell_dirs
P_SOCK=$SHD/personal/wayland-0
S_SOCK=$SHD/secure/wayland-0

start_dshell || bail "shell did not start as uid $SHUID"

# as NAME's app uid (a client of its own socket: SO_PEERCRED)
as_p() { as_app personal "$P_SOCK" "$@"; }
as_s() { as_app secure "$S_SOCK" "$@"; }
app_client personal pw window 00ff00
app_client secure sw window 0000ff

wait_fg() { for _ in $(seq 100); do has "fg=$1" "$(ctl status)" && return 0; sleep 0.05; done; return 1; }
to_fg() { tf switch "$1" >/dev/null && wait_fg "$1"; }
paste_p() { as_p timeout 10 wl-paste --no-newline 2>/dev/null; }
paste_s() { as_s timeout 10 wl-paste --no-newline 2>/dev/null; }
# copy_p/copy_s TEXT: wl-copy serving until replaced, then pasteable
copy_p() {
	as_p wl-copy --foreground "$1" >/dev/null 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	for _ in $(seq 50); do [ "$(paste_p)" = "$1" ] && return 0; sleep 0.1; done
	return 1
}
copy_s() {
	as_s wl-copy --foreground "$1" >/dev/null 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	for _ in $(seq 50); do [ "$(paste_s)" = "$1" ] && return 0; sleep 0.1; done
	return 1
}
gesture() { on "$H_SOCK" wtype -M ctrl -M shift -k "$1" -m shift -m ctrl; sleep 0.4; }
# audited N WORDS...: at least N clipboard.cross records holding every word
audited() {
	local n=$1
	shift
	local recs
	recs=$(tf audit show 2>&1 | grep clipboard.cross)
	for w in "$@"; do recs=$(printf '%s\n' "$recs" | grep -- "$w"); done
	[ "$(printf '%s\n' "$recs" | grep -c .)" -ge "$n" ]
}

to_fg personal || bail "personal not in front"
copy_p "personal-text-1" || bail "copy in personal"
# ---- personal -> secure: the default allows it, audited
gesture c
to_fg secure || bail "secure not in front"
gesture v
got=$(paste_s)
[ "$got" = "personal-text-1" ]
ok $? "personal -> secure by the gesture pastes in secure (the daemon allowed it)" "got: $got; $(tail -3 "$SH_LOG")"
audited 1 "persona=secure\|to=secure" "step=paste" "verdict=allowed" "bytes=15"
ok $? "a clipboard.cross record: personal to secure, allowed, 15 bytes" "$(tf audit show 2>&1 | grep clipboard.cross)"
audited 1 "personal" "to=secure" "step=paste"
ok $? "... naming the source persona" "$(tf audit show 2>&1 | grep clipboard.cross | tail -2)"

# ---- secure -> personal: refused at the copy half, audited
copy_s "secure-secret-1" || bail "copy in secure"
gesture c
to_fg personal || bail "personal back in front"
gesture v
got=$(paste_p)
[ "$got" = "personal-text-1" ]
ok $? "secure -> personal by the gesture is refused" "got: $got"
audited 1 "secure" "to=-" "step=copy" "verdict=refused"
ok $? "the refusal is in the audit chain (secure, copy step, refused)" "$(tf audit show 2>&1 | grep clipboard.cross)"
grep -q "cross-copy secure -> -: refused by twofoldd" "$SH_LOG"
ok $? "the shell says it was refused by twofoldd" "$(grep cross-copy "$SH_LOG")"

# ---- the shell's request only: root and the group are refused
# xreq UID: the shell's CROSS_COPY_AUDIT request (21): from personal to
# secure, 3 bytes
xreq() { daemon_req "$1" 21 1 personal 2 secure 2 3; }
out=$(xreq 0 2>&1)
case $out in -1\ *) true ;; *) false ;; esac
ok $? "CROSS_COPY_AUDIT from root: refused (the shell's request)" "$out"
out=$(xreq 60143 2>&1)
case $out in -1\ *) true ;; *) false ;; esac
ok $? "... and from a member of control_group" "$out"
out=$(xreq $SHUID 2>&1)
[ "$out" = "0 allowed" ]
ok $? "... answered for shell_uid (the check above can fail)" "$out"

# ---- no byte of the clipboard in the audit chain or a log
n=0
for f in "$S/audit.log" "$SH_LOG" "$DLOG"; do
	grep -q -a -e "personal-text-1" -e "secure-secret-1" "$f" && n=$((n + 1))
done
tf audit show 2>&1 | grep -q -e "personal-text-1" -e "secure-secret-1" && n=$((n + 1))
[ $n = 0 ] && [ -s "$S/audit.log" ]
ok $? "no clipboard text in the audit log, the shell's or the daemon's log" "$n have it"

# ---- the policy is device.conf's: clipboard_flows = secure:personal
stop_daemon
sed -i "s/^#\?clipboard_flows =.*/clipboard_flows = secure:personal/" "$S/device.conf"
grep -q "^clipboard_flows = secure:personal" "$S/device.conf" || echo "clipboard_flows = secure:personal" >>"$S/device.conf"
start_daemon || bail "daemon did not restart with clipboard_flows"
printf '%s\n' "$PIN" | tf unlock secure --pin-stdin >/dev/null || bail "unlock secure"
for _ in $(seq 50); do [ "$(grep -c "following twofoldd" "$SH_LOG")" -ge 2 ] && break; sleep 0.1; done
to_fg secure || bail "secure in front"
copy_s "secure-text-2" || bail "copy in secure (2)"
gesture c
to_fg personal || bail "personal in front (2)"
gesture v
got=$(paste_p)
[ "$got" = "secure-text-2" ]
ok $? "clipboard_flows = secure:personal: secure -> personal is now allowed" "got: $got; $(grep cross-copy "$SH_LOG" | tail -2)"
audited 1 "to=personal" "verdict=allowed" "bytes=13"
ok $? "... and audited as allowed" "$(tf audit show 2>&1 | grep clipboard.cross | tail -2)"
copy_p "personal-text-3" || bail "copy in personal (3)"
gesture c
to_fg secure || bail "secure in front (3)"
gesture v
got=$(paste_s)
[ "$got" != "personal-text-3" ]
ok $? "... and personal -> secure, which it does not name, refused" "got: $got"
audited 1 "to=-" "step=copy" "verdict=refused"
ok $? "... audited as refused" "$(tf audit show 2>&1 | grep clipboard.cross | tail -2)"

# ---- no daemon, no paste
to_fg personal || bail "personal in front (4)"
copy_p "personal-text-4" || bail "copy in personal (4)"
stop_daemon
for _ in $(seq 50); do has "daemon=down" "$(ctl status)" && break; sleep 0.1; done
gesture c
grep -q "cross-copy personal -> -: refused, twofoldd not answering" "$SH_LOG"
ok $? "twofoldd gone: the gesture is refused (fail closed)" "$(grep cross-copy "$SH_LOG" | tail -2)"
kill -0 "$SH_PID"
ok $? "the shell is still running"
finish
