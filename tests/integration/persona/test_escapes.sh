#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Escapes from a persona through `twofold run` (issue "Close the escapes",
# findings 1, 2 and 4): the host terminal, the CLI's own connection to the
# daemon, a leaked connection, what a run leaves behind. Each check is an
# attack that worked before the fix.
. "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")
PTY="python3 $HERE/ptyrun.py"
ATT="python3 $HERE/ctlattack.py"

setup_state
start_daemon || { finish; }
enroll_unlock_secure
SOCK=$S/control
UIDB=$(awk -F' *= *' '/^\[persona personal\]/{p=1} p&&/^uid_base/{print $2; exit}' "$S/device.conf")

# persona processes still alive (host view): their cgroup is ours
persona_procs() { # PERSONA PATTERN
	local d
	d=$(find /sys/fs/cgroup/unified -type d -path "*/$(cg_group_of "$S")/$1" | head -1)
	for p in $(find "$d" -name cgroup.procs -exec cat {} +); do
		tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null
		echo
	done | grep -c -- "$2"
}

# --- the terminal -----------------------------------------------------
out=$($PTY "wait:READY" -- "$TWOFOLD" --state "$S" run personal -- \
	sh -c 'echo "IN=$(readlink /proc/self/fd/0)"; stty size; echo READY')
echo "$out" | grep -q '^IN=/dev/pts/[0-9]' && echo "$out" | grep -q 'status 0'
ok $? "under a terminal, the app gets a pty of the persona's own" "$out"
echo "$out" | grep -q '^24 80'
ok $? "the window size reaches the app's pty" "$out"

out=$($PTY --rows 33 --cols 101 "wait:READY" -- "$TWOFOLD" --state "$S" run personal -- \
	sh -c 'stty size; echo READY')
echo "$out" | grep -q '^33 101'
ok $? "a different window size too" "$out"

# the app's descriptors never name a file of the host's devpts
hostdev=$(stat -c %d /dev/pts/ptmx)
out=$($PTY "wait:DONE" -- "$TWOFOLD" --state "$S" run personal -- \
	sh -c 'for f in 0 1 2; do stat -L -c "DEV=%d" /proc/self/fd/$f; done; echo DONE')
! echo "$out" | grep -q "^DEV=$hostdev\$" && echo "$out" | grep -q "^DEV="
ok $? "no stdio fd of the app is on the host's devpts" "$out"

# a detached child that ignores SIGHUP and reads the terminal is gone
# when `run` returns: it cannot read the PIN typed next
rm -f "$S/stolen"
$PTY "wait:STARTED" -- "$TWOFOLD" --state "$S" run personal -- \
	sh -c '(trap "" HUP; exec cat /dev/tty > /tmp/stolen) </dev/null >/dev/null 2>&1 & sleep 0.2; echo STARTED' >/dev/null
sleep 0.5
n=$(persona_procs personal 'cat /dev/tty')
[ "$n" = 0 ]
ok $? "a detached terminal reader does not outlive its run" "left: $n"

# the daemon itself refuses a terminal passed as stdio (an old or hostile
# client)
out=$($ATT "$SOCK" passtty)
echo "$out" | grep -q "refusing to hand a terminal"
ok $? "the daemon refuses a terminal as an app's stdio" "$out"

# -T: no pty, and still no terminal: pipes relayed by the CLI
out=$($PTY "" -- "$TWOFOLD" --state "$S" run -T personal -- \
	sh -c '[ -t 0 ] || [ -t 1 ] || [ -t 2 ] && echo GOT-TTY || echo NO-TTY')
echo "$out" | grep -q NO-TTY
ok $? "-T: the app's stdio are pipes, no terminal" "$out"
out=$($PTY "wait:READY;send:piped\n" -- "$TWOFOLD" --state "$S" run -T personal -- \
	sh -c 'echo READY; read x; echo "got=$x"')
echo "$out" | grep -q 'got=piped'
ok $? "-T: keystrokes reach the app through the pipe" "$out"

# input and output through the pty; EOF of our stdin ends the app's input
out=$($PTY "wait:READY;send:hello\n" -- "$TWOFOLD" --state "$S" run personal -- \
	sh -c 'echo READY; read x; echo "got=$x"; exit 7')
echo "$out" | grep -q 'got=hello' && echo "$out" | grep -q 'status 7'
ok $? "keystrokes reach the app, its exit status comes back" "$out"

# Ctrl-C is a keystroke for the app's pty: the app gets SIGINT there
out=$($PTY "wait:READY;send:\x03" -- "$TWOFOLD" --state "$S" run personal -- \
	sh -c 'trap "echo INTR; exit 9" INT; echo READY; while :; do sleep 0.1; done')
echo "$out" | grep -q INTR && echo "$out" | grep -q 'status 9'
ok $? "Ctrl-C reaches the app through its pty" "$out"

# job control: Ctrl-Z stops the app, and this command with it; fg (SIGCONT)
# resumes both
out=$($PTY "wait:READY;send:\x1a;checkstop;cont;sleep:0.5;send:after\n" -- \
	"$TWOFOLD" --state "$S" run personal -- python3 -c '
import os, signal, sys
def h(s, f):
    os.kill(os.getpid(), signal.SIGSTOP); print("CONTINUED", flush=True)
signal.signal(signal.SIGTSTP, h)
print("READY", flush=True)
print("READ=" + sys.stdin.readline().strip(), flush=True)')
echo "$out" | grep -q '\[cli stopped\]' && echo "$out" | grep -q 'READ=after'
ok $? "Ctrl-Z suspends the app and the CLI, fg resumes them" "$out"

# ... also for an app that does not handle it (its process group is
# orphaned, the kernel drops SIGTSTP for it: the CLI asks for SIGSTOP)
out=$($PTY "wait:READY;send:\x1a;checkstop;cont;sleep:0.5;send:again\n;wait:again;send:\x04" -- \
	"$TWOFOLD" --state "$S" run personal -- sh -c 'echo READY; exec cat')
echo "$out" | grep -q '\[cli stopped\]' && echo "$out" | grep -q 'status 0'
ok $? "Ctrl-Z suspends a plain app (cat) too, fg resumes it" "$out"

# an inner shell's job control works on its own pty
out=$($PTY "wait:\$ ;send:sleep 30\n;sleep:0.5;send:\x1a;sleep:0.5;send:jobs\n;sleep:0.3;send:kill -9 %1\n;sleep:0.3;send:exit 0\n;sleep:0.3;send:exit 0\n" -- \
	"$TWOFOLD" --state "$S" run personal -- sh -i)
echo "$out" | grep -qi 'stopped' && echo "$out" | grep -q 'status 0'
ok $? "an interactive shell in the app has job control (Ctrl-Z stops its job)" "$out"

# --- descriptors --------------------------------------------------------
for redir in '<&-' '>&-' '2>&-' '<&- >&- 2>&-'; do
	out=$(eval "\"$TWOFOLD\" --state \"$S\" run personal -- sh -c 'ls -l /proc/self/fd/ >&3; exec 3>&-' 3>&1 $redir" 2>/dev/null)
	! echo "$out" | grep -q socket
	ok $? "run with $redir: the app holds no socket (not the CLI's connection)" "$out"
done
out=$("$TWOFOLD" --state "$S" run personal -- sh -c 'readlink /proc/self/fd/0' <&-)
[ "$out" = /dev/null ]
ok $? "a closed stdin reaches the app as /dev/null" "$out"

out=$($ATT "$SOCK" passself)
echo "$out" | grep -q "connection to twofoldd itself"
ok $? "the daemon refuses its own connection passed as stdio" "$out"

# a root connection used by another identity (what an app holding a leaked
# connection is) is refused: requests are authorised by who sends them
out=$($ATT "$SOCK" asuid $((UIDB + 1000)))
echo "$out" | grep -q "permission denied" && echo "$out" | grep -q "errno=-1\b"
ok $? "a leaked root connection used from an app's uid is refused" "$out"
out=$($ATT "$SOCK" asuid 65534)
echo "$out" | grep -q "permission denied"
ok $? "... and from nobody" "$out"
out=$($ATT "$SOCK" ping)
echo "$out" | grep -q "errno=0"
ok $? "root itself still gets answers" "$out"

# --- what a run leaves behind ------------------------------------------
"$TWOFOLD" --state "$S" run personal -- sh -c 'sleep 300 & sleep 301 </dev/null >/dev/null 2>&1 & echo started' >/dev/null
sleep 0.3
n=$(persona_procs personal 'sleep 30[01]')
[ "$n" = 0 ]
ok $? "background children of a run die when it ends" "left: $n"
"$TWOFOLD" --state "$S" run personal -- sh -c 'setsid sh -c "trap \"\" HUP TERM; sleep 302" </dev/null >/dev/null 2>&1 &' >/dev/null
sleep 0.3
n=$(persona_procs personal 'sleep 302')
[ "$n" = 0 ]
ok $? "... also a setsid'ed one that ignores SIGHUP and SIGTERM" "left: $n"

"$TWOFOLD" --state "$S" run --service personal -- sh -c 'sleep 303 </dev/null >/dev/null 2>&1 &' >/dev/null
sleep 0.3
n=$(persona_procs personal 'sleep 303')
[ "$n" = 1 ]
ok $? "--service: what it starts keeps running" "count: $n"
"$TWOFOLD" --state "$S" persona restart personal >/dev/null
n=$(persona_procs personal 'sleep 303')
[ "$n" = 0 ]
ok $? "... until the persona stops" "count: $n"

"$TWOFOLD" --state "$S" run --service -t personal -- true 2>/dev/null
[ $? = 2 ]
ok $? "--service with -t is a usage error"

sleep 1.5 # the daemon's 1 s tick sweeps ended run cgroups
left=$(find /sys/fs/cgroup/unified -type d -path "*/$(cg_group_of "$S")/*/run-*" | wc -l)
[ "$left" = 0 ]
ok $? "run cgroups are removed after their runs" "left: $left"

finish
