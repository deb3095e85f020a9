#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Bad clients (docs/shell.md "Bad input"): each is dropped alone.
#  - a client that never answers xdg_wm_base.ping: marked unresponsive
#    (the log, status unresponsive=1), then disconnected after 3 rounds;
#    a client of the same persona that answers, and the other persona's,
#    keep running and drawing;
#  - a buffer larger than its pool, a stride under width * 4, a 2 GiB pool
#    on a 4 KiB file read by the renderer: a protocol error for that
#    client, the shell and everyone else carry on;
#  - a locked persona's (frozen) clients are not disconnected for not
#    answering.
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/lib.sh"

GREEN=00ff00
BLUE=0000ff
RED=ff0000
start_shell --ping-interval 500 || bail "shell did not start"

client "$P_SOCK" good window $GREEN || bail "personal client"
client "$S_SOCK" sec window $BLUE || bail "secure client"
client "$P_SOCK" mute window $RED --no-pong || bail "the client that never answers"

for _ in $(seq 100); do has "unresponsive=1" "$(ctl status)" && break; sleep 0.02; done
st=$(ctl status)
has "unresponsive=1" "$st" && grep -q "client pid $PID_mute of personal is not answering pings: unresponsive" "$SH_LOG"
ok $? "a client that does not answer pings is marked unresponsive" "$st; $(grep -c ping "$SH_DIR/mute.out") pings"
for _ in $(seq 100); do kill -0 "$PID_mute" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$PID_mute" 2>/dev/null && grep -q "client pid $PID_mute of personal did not answer a ping in 3 rounds: disconnected" "$SH_LOG"
ok $? "... and disconnected after 3 unanswered pings" "$(grep pings "$SH_LOG" | tail -2)"
kill -0 "$PID_good" && kill -0 "$PID_sec" && kill -0 "$SH_PID"
ok $? "the persona's other client, the other persona's and the shell keep running"
sleep 1
kill -0 "$PID_good" && kill -0 "$PID_sec"
ok $? "... and stay (they answer every round)" "$(grep pings "$SH_LOG" | tail -2)"
not_has unresponsive "$(ctl status)"
ok $? "status: nobody unresponsive any more" "$(ctl status)"
shot p1
[ "$(count p1 $GREEN)" -gt 0 ] && [ "$(count p1 $RED)" = 0 ]
ok $? "personal's screen: the good client drawn, the dropped one gone" "green $(count p1 $GREEN) red $(count p1 $RED)"

# ---- bad buffers
for m in size stride pool; do
	out=$(on "$P_SOCK" "$SHELLCLIENT" badbuf $m 2>&1)
	rc=$?
	[ $rc = 0 ] && has "error" "$out" && kill -0 "$SH_PID"
	ok $? "badbuf $m: that client gets a protocol error, the shell runs on" "rc=$rc $out; $(tail -2 "$SH_LOG")"
done
kill -0 "$PID_good" && kill -0 "$PID_sec"
ok $? "the other clients are still connected" "$(tail -3 "$SH_LOG")"
ctl switch secure >/dev/null
shot s1
[ "$(count s1 $BLUE)" -gt 0 ]
ok $? "the other persona is drawn as before" "blue $(count s1 $BLUE)"
ctl switch personal >/dev/null
shot p2
[ "$(count p2 $GREEN)" -gt 0 ]
ok $? "and personal's good client too" "green $(count p2 $GREEN)"
g=$(on "$P_SOCK" "$SHELLCLIENT" globals)
has xdg_wm_base "$g"
ok $? "a new client is served" "$g"

# ---- a locked persona's clients are not asked (frozen, they could not
# answer): a secure client that never answers survives while locked
client "$S_SOCK" smute window $BLUE --no-pong || bail "secure mute client"
ctl lock secure >/dev/null
sleep 1.5
kill -0 "$PID_smute"
ok $? "while secure is locked its client that does not answer is kept" "$(grep pings "$SH_LOG" | tail -2)"
ctl unlock secure >/dev/null
for _ in $(seq 100); do kill -0 "$PID_smute" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$PID_smute" 2>/dev/null
ok $? "unlocked, it is asked again and disconnected" "$(grep pings "$SH_LOG" | tail -2)"
kill -0 "$PID_sec"
ok $? "secure's answering client stays"
finish
