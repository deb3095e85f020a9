#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# twofold-shell: what is on screen and who gets input (phone layout, then
# desktop). Screenshots are taken with grim on the host socket; pixels are
# counted by exact colour (the shell's own colours are in shell.h).
#  - the foreground persona alone is rendered and gets keys;
#  - secure carries a frame and a bar badge in the shell's colour, personal
#    none; a personal client painting that colour, in its buffer or in a
#    subsurface pushed into the bar, never shows inside the bar strip;
#  - a locked secure renders zero pixels and gets no key.
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/lib.sh"

W=720
FRAME=8
GREEN=00ff00
BLUE=0000ff

start_shell || bail "shell did not start"
client "$P_SOCK" pers window $GREEN || bail "personal client"
client "$S_SOCK" sec window $BLUE || bail "secure client"
keys() { grep -c '^key' "$SH_DIR/$1.out"; }

# ---- personal in front
shot p1 || bail "grim on the host socket failed"
[ "$(count p1 $GREEN)" -gt 0 ] && [ "$(count p1 $BLUE)" = 0 ]
ok $? "personal in front: its window is shown, secure's is not"
[ "$(count p1 $RGB_BADGE)" = 0 ]
ok $? "personal in front: no badge or frame pixel anywhere"
[ "$(count p1 $RGB_BAR 0 $BAR_H)" = $((W * BAR_H)) ]
ok $? "the bar strip is entirely the shell's: no client pixel in it"
on "$H_SOCK" wtype a
sleep 0.2
[ "$(keys pers)" -gt 0 ] && [ "$(keys sec)" = 0 ]
ok $? "keys (wtype on the host socket) reach personal only" "personal $(keys pers), secure $(keys sec)"

# ---- secure in front
r=$(ctl switch secure)
[ "$r" = ok ]
ok $? "control: switch secure" "$r"
shot s1
[ "$(count s1 $BLUE)" -gt 0 ] && [ "$(count s1 $GREEN)" = 0 ]
ok $? "secure in front: its window is shown, personal's is not"
[ "$(count s1 $RGB_BADGE 0 $BAR_H)" -gt 0 ]
ok $? "secure in front: the badge is in the bar"
[ "$(count s1 $RGB_BADGE $BAR_H $((BAR_H + FRAME)))" = $((W * FRAME)) ] &&
	[ "$(count s1 $BLUE $BAR_H $((BAR_H + FRAME)))" = 0 ]
ok $? "secure in front: the frame's top edge is whole, no secure pixel under it"
[ "$(count s1 $RGB_BADGE 1432 1440)" = $((W * FRAME)) ]
ok $? "secure in front: the frame's bottom edge is whole"
pk=$(keys pers)
on "$H_SOCK" wtype b
sleep 0.2
[ "$(keys sec)" -gt 0 ] && [ "$(keys pers)" = "$pk" ]
ok $? "keys reach secure only" "personal $(keys pers) (was $pk), secure $(keys sec)"

# ---- a background client's popup grab does not pin the focus
# (xdg_popup.grab ignores enter events; wlroots 0.15 checks no serial)
client "$S_SOCK" grabber window $BLUE --grab-on-leave || bail "grabbing client"
ctl switch personal >/dev/null
for _ in $(seq 50); do grep -q "grabbed in background" "$SH_DIR/grabber.out" && break; sleep 0.1; done
grep -q "grabbed in background" "$SH_DIR/grabber.out"
ok $? "the background secure client asked for a popup grab"
sleep 0.2
ctl switch secure >/dev/null
pk=$(keys pers)
gk=$(keys grabber)
on "$H_SOCK" wtype f
sleep 0.2
[ "$(keys grabber)" -gt "$gk" ] && [ "$(keys pers)" = "$pk" ]
ok $? "after a background secure client grabbed, a switch to secure still moves the keys there" \
	"personal $(keys pers) (was $pk), grabber $(keys grabber) (was $gk)"
kill "$PID_grabber" 2>/dev/null
wait "$PID_grabber" 2>/dev/null

# ---- secure locked (in front: the lock screen)
ctl lock secure >/dev/null
shot l1
[ "$(count l1 $BLUE)" = 0 ] && [ "$(count l1 $RGB_BADGE)" = 0 ]
ok $? "secure locked: zero secure pixels, no badge" "blue $(count l1 $BLUE) badge $(count l1 $RGB_BADGE)"
[ "$(count l1 $RGB_LOCK)" -gt 0 ]
ok $? "secure locked: the shell's lock screen is shown"
sk=$(keys sec)
pk=$(keys pers)
on "$H_SOCK" wtype c
sleep 0.2
[ "$(keys sec)" = "$sk" ] && [ "$(keys pers)" = "$pk" ]
ok $? "secure locked: its client gets no key (nor does personal)"
ctl switch personal >/dev/null
shot l2
[ "$(count l2 $BLUE)" = 0 ] && [ "$(count l2 $GREEN)" -gt 0 ]
ok $? "secure locked, personal in front: no secure pixel"
ctl unlock secure >/dev/null

# ---- a personal client paints the badge colour in its own buffer, and in
# a subsurface it pushes 60 px up, over the top of its window into the bar
client "$P_SOCK" fake window $RGB_BADGE --sub $RGB_BADGE || bail "fake client"
shot f1
[ "$(count f1 $RGB_BADGE 0 $BAR_H)" = 0 ] && [ "$(count f1 $RGB_BADGE $BAR_H 1440)" -gt 0 ] &&
	[ "$(count f1 $RGB_BAR 0 $BAR_H)" = $((W * BAR_H)) ]
ok $? "a personal window and subsurface of the badge colour never show in the bar strip" \
	"badge in strip $(count f1 $RGB_BADGE 0 $BAR_H), below $(count f1 $RGB_BADGE $BAR_H 1440)"
kill "$PID_fake" 2>/dev/null
wait "$PID_fake" 2>/dev/null

# ---- the key binding switches (Super+Tab)
on "$H_SOCK" wtype -M logo -k Tab -m logo
sleep 0.2
st=$(ctl status)
has "fg=secure" "$st"
ok $? "Super+Tab switches to the next persona" "$st"
ctl switch personal >/dev/null

# ---- desktop layout: both shown, only the foreground one typed into
ctl layout desktop >/dev/null
shot d1
[ "$(count d1 $GREEN)" -gt 0 ] && [ "$(count d1 $BLUE)" -gt 0 ] &&
	[ "$(count d1 $RGB_BADGE)" -gt 0 ]
ok $? "desktop: both personas shown, secure framed"
sk=$(keys sec)
pk=$(keys pers)
on "$H_SOCK" wtype d
sleep 0.2
[ "$(keys sec)" = "$sk" ] && [ "$(keys pers)" -gt "$pk" ]
ok $? "desktop: keys reach the foreground persona only"
ctl lock secure >/dev/null
shot d2
[ "$(count d2 $BLUE)" = 0 ] && [ "$(count d2 $RGB_BADGE)" = 0 ] && [ "$(count d2 $GREEN)" -gt 0 ]
ok $? "desktop, secure locked: zero secure pixels"

# a personal subsurface reaching from its column into secure's, where the
# secure window is smaller than its area: covered there, nothing of it
# inside the trusted frame
ctl unlock secure >/dev/null
kill "$PID_sec" 2>/dev/null
wait "$PID_sec" 2>/dev/null
client "$S_SOCK" small window $BLUE --size 100 100 || bail "small secure client"
client "$P_SOCK" reach window $GREEN --sub $RGB_BADGE 300 300 || bail "reaching client"
shot d3
[ "$(count d3 $RGB_BADGE 300 400 300 360)" -gt 0 ]
ok $? "desktop: the personal subsurface shows in personal's column (the check below can fail)"
[ "$(count d3 $RGB_BADGE $((BAR_H + FRAME)) $((1440 - FRAME)) $((W / 2 + FRAME)) $((W - FRAME)))" = 0 ]
ok $? "desktop: none of it shows inside secure's frame"
kill "$PID_reach" 2>/dev/null
wait "$PID_reach" 2>/dev/null

# ---- bad input: a buffer far larger than its pool
ctl unlock secure >/dev/null
ctl layout phone >/dev/null
out=$(on "$P_SOCK" "$SHELLCLIENT" badbuf 2>&1)
ok $? "a buffer larger than its pool gets its client a protocol error" "$out"
pk=$(keys pers)
on "$H_SOCK" wtype e
sleep 0.2
[ "$(keys pers)" -gt "$pk" ]
ok $? "after that the other personal client still gets keys"
shot b1
[ "$(count b1 $GREEN)" -gt 0 ]
ok $? "and is still drawn"

kill -0 "$SH_PID"
ok $? "the shell is still running"
finish
