#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# twofold-shell: a clipboard per persona, and the one way across.
#  - text copied in secure (wl-copy on the secure socket) cannot be pasted
#    on the personal socket, nor read by wl-paste --primary there;
#  - inside a persona copy and paste work as usual;
#  - a selection set by a background client goes to its own persona;
#  - personal -> secure works only through the shell's gesture
#    (Ctrl+Shift+C in personal, Ctrl+Shift+V in secure, typed by wtype on
#    the host socket); secure -> personal is refused; both are audited.
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/lib.sh"

start_shell || bail "shell did not start"
# a window in each, so each persona has something focused when in front
client "$P_SOCK" pers window 00ff00 || bail "personal client"
client "$S_SOCK" sec window 0000ff || bail "secure client"

# copy SOCK TEXT: wl-copy in the foreground (it serves until replaced);
# waits until the same persona can paste it
copy() {
	WAYLAND_DISPLAY=$1 wl-copy --foreground "$2" >/dev/null 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	for _ in $(seq 50); do
		[ "$(paste_on "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
paste_on() { on "$1" wl-paste --no-newline 2>/dev/null; }
gesture() { on "$H_SOCK" wtype -M ctrl -M shift -k "$1" -m shift -m ctrl; sleep 0.3; }

# a secure client in the background sets a selection (with the serial of
# the focus it just lost): it lands in secure's clipboard, not in the
# clipboard of the persona now in front. First, while no persona has a
# selection: wlroots itself rejects a set_selection whose serial is older
# than the seat's current selection, which would hide the attribution.
ctl switch secure >/dev/null
client "$S_SOCK" bg window 0000ff --copy-on-leave "bg-secret-2" || bail "background client"
sleep 0.2
ctl switch personal >/dev/null
for _ in $(seq 50); do grep -q "copied in background" "$SH_DIR/bg.out" && break; sleep 0.1; done
sleep 0.2
got=$(paste_on "$P_SOCK")
[ "$got" != "bg-secret-2" ]
ok $? "a background secure client's selection does not reach personal" "got: $got"
ctl switch secure >/dev/null
got=$(paste_on "$S_SOCK")
[ "$got" = "bg-secret-2" ]
ok $? "it is secure's clipboard that it set (the check above can fail)" "got: $got; client: $(tr "\n" " " <"$SH_DIR/bg.out")"

ctl switch secure >/dev/null
copy "$S_SOCK" "secure-secret-1"
ok $? "inside secure, copy and paste work"
ctl switch personal >/dev/null
got=$(paste_on "$P_SOCK")
[ "$got" != "secure-secret-1" ]
ok $? "secure's copy is not pasteable on the personal socket" "got: $got"
got=$(on "$P_SOCK" wl-paste --primary --no-newline 2>/dev/null)
[ "$got" != "secure-secret-1" ]
ok $? "nor through the primary selection" "got: $got"

copy "$P_SOCK" "personal-text-1"
ok $? "inside personal, copy and paste work"
ctl switch secure >/dev/null
got=$(paste_on "$S_SOCK")
[ "$got" = "secure-secret-1" ]
ok $? "personal's copy did not replace secure's clipboard" "got: $got"

# secure -> personal: the gesture is refused
gesture c
ctl switch personal >/dev/null
gesture v
got=$(paste_on "$P_SOCK")
[ "$got" = "personal-text-1" ]
ok $? "secure -> personal by the gesture is refused" "got: $got"
grep -q "audit: cross-copy secure -> -: refused by policy" "$SH_LOG"
ok $? "the refusal is audited"

# personal -> secure: allowed, only by the gesture
gesture c
ctl switch secure >/dev/null
got=$(paste_on "$S_SOCK")
[ "$got" = "secure-secret-1" ]
ok $? "Ctrl+Shift+C alone changes nothing in secure" "got: $got"
gesture v
got=$(paste_on "$S_SOCK")
[ "$got" = "personal-text-1" ]
ok $? "personal -> secure by the gesture pastes in secure" "got: $got"
grep -q "audit: cross-copy personal -> secure: allowed (15 bytes)" "$SH_LOG"
ok $? "the cross copy is audited, without its content"
! grep -q "personal-text-1\|secure-secret-1" "$SH_LOG"
ok $? "no clipboard content in the shell's log"

# the host's trusted data-control reads the foreground persona's only
ctl switch personal >/dev/null
got=$(paste_on "$H_SOCK")
[ "$got" = "personal-text-1" ]
ok $? "data-control on the host socket reads the foreground persona's clipboard" "got: $got"

kill -0 "$SH_PID"
ok $? "the shell is still running"
finish
