#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# twofold-shell: touch input goes where the pointer's does. The touches
# are raised on a touch device of the headless backend (control `touch`:
# this kernel has no uinput for a real touch screen); they enter wlroots
# at wlr_cursor, where a libinput touch screen's do.
#  - a tap reaches the foreground persona's window only, at its own
#    coordinates; motion follows;
#  - a finger down on secure when the screen switches away: secure's
#    client gets wl_touch.cancel, and neither the motion nor the up after;
#  - a locked secure gets no touch; nor does a background persona shown
#    beside the foreground one (desktop layout).
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/lib.sh"

start_shell || bail "shell did not start"
client "$P_SOCK" pers window 00ff00 || bail "personal client"
client "$S_SOCK" sec window 0000ff || bail "secure client"
n() { grep -c -- "$2" "$SH_DIR/$1.out"; }
settle() { sleep 0.3; }

# the first request makes the device (an up of no finger: nothing else)
r=$(ctl touch up 99)
[ "$r" = ok ]
ok $? "control: touch (a headless touch device)" "$r"
for _ in $(seq 50); do
	[ "$(n pers '^touch$')" = 1 ] && [ "$(n sec '^touch$')" = 1 ] && break
	sleep 0.1
done
[ "$(n pers '^touch$')" = 1 ] && [ "$(n sec '^touch$')" = 1 ]
ok $? "both clients see the seat's touch capability"

# ---- personal in front: phone layout, its area under the 40 px bar
ctl touch down 1 360 700 >/dev/null
ctl touch up 1 >/dev/null
settle
[ "$(n pers '^touch down 1 360 660$')" = 1 ] && [ "$(n pers '^touch up 1$')" = 1 ] &&
	[ "$(n sec '^touch down')" = 0 ]
ok $? "a tap reaches personal (in front) at its coordinates, not secure" \
	"$(cat "$SH_DIR/pers.out" "$SH_DIR/sec.out" | grep touch)"
ctl touch down 4 100 200 >/dev/null
ctl touch motion 4 150 260 >/dev/null
ctl touch up 4 >/dev/null
settle
[ "$(n pers '^touch motion 4 150 220$')" = 1 ] && [ "$(n sec '^touch motion')" = 0 ]
ok $? "a finger's motion follows it, in the window's coordinates" \
	"$(grep touch "$SH_DIR/pers.out")"

# ---- secure in front: inside its 8 px frame
ctl switch secure >/dev/null
ctl touch down 2 360 700 >/dev/null
ctl touch up 2 >/dev/null
settle
[ "$(n sec '^touch down 2 352 652$')" = 1 ] && [ "$(n pers '^touch down 2')" = 0 ]
ok $? "after a switch: a tap reaches secure only" \
	"$(cat "$SH_DIR/pers.out" "$SH_DIR/sec.out" | grep touch)"

# ---- a finger on secure while the screen switches away
ctl touch down 3 300 600 >/dev/null
settle
[ "$(n sec '^touch down 3')" = 1 ]
ok $? "a finger down on secure"
ctl switch personal >/dev/null
ctl touch motion 3 320 640 >/dev/null
ctl touch up 3 >/dev/null
settle
[ "$(n sec '^touch cancel$')" = 1 ] && [ "$(n sec '^touch motion 3')" = 0 ] &&
	[ "$(n sec '^touch up 3')" = 0 ] &&
	[ "$(n pers '^touch \(down\|motion\) 3 ')" = 0 ] && [ "$(n pers '^touch up 3$')" = 0 ]
ok $? "switched away: secure's client is told cancel, gets no motion or up, personal none" \
	"$(cat "$SH_DIR/pers.out" "$SH_DIR/sec.out" | grep touch)"

# ---- locked secure: no touch at all
ctl switch secure >/dev/null
ctl lock secure >/dev/null
ctl touch down 5 360 700 >/dev/null
ctl touch up 5 >/dev/null
settle
[ "$(n sec '^touch down 5')" = 0 ] && [ "$(n pers '^touch down 5')" = 0 ]
ok $? "secure locked: its client gets no touch (nor personal)" \
	"$(grep touch "$SH_DIR/sec.out")"
ctl unlock secure >/dev/null

# ---- desktop layout: secure shown on the right, personal in front
ctl layout desktop >/dev/null
ctl switch personal >/dev/null
settle
ctl touch down 6 540 700 >/dev/null
ctl touch up 6 >/dev/null
ctl touch down 7 180 700 >/dev/null
ctl touch up 7 >/dev/null
settle
[ "$(n sec '^touch down 6')" = 0 ] && [ "$(n pers '^touch down 7 180 660$')" = 1 ]
ok $? "desktop layout: the background persona's column is seen, not touched" \
	"$(cat "$SH_DIR/pers.out" "$SH_DIR/sec.out" | grep touch)"

r=$(ctl touch down x)
has error "$r"
ok $? "a malformed touch request is refused" "$r"
kill -0 "$SH_PID"
ok $? "the shell is still running"
finish
