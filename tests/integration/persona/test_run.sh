#!/bin/bash
# SPDX-License-Identifier: ISC
# `twofold run` as a user sees it, through the real daemon: exit statuses,
# command not found, --user/--cwd/--env, a clean environment, only fds
# 0-2, pipes both ways, and Ctrl-C on a terminal reaching the app.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

setup_state
start_daemon || {
	echo "Bail out! daemon did not start"
	exit 1
}

# exit statuses come back unchanged
tf run personal -- sh -c 'exit 0'
ok $? "exit 0 comes back"
tf run personal -- sh -c 'exit 3'
ok $(($? != 3)) "exit 3 comes back"
tf run personal -- sh -c 'kill -TERM $$'
r=$?
ok $((r != 143)) "app killed by SIGTERM -> 128+15" "got $r"
tf run personal -- sh -c 'kill -KILL $$'
r=$?
ok $((r != 137)) "app killed by SIGKILL -> 128+9" "got $r"

# command not found: 127, stderr names the command and the persona
err=$(tf run personal -- no-such-cmd-xyz 2>&1 >/dev/null)
r=$?
ok $((r != 127)) "command not found -> exit 127" "got $r"
echo "$err" | grep -q "no-such-cmd-xyz" && echo "$err" | grep -q personal
ok $? "not-found message names command and persona" "$err"
[ "$(echo "$err" | wc -l)" = 1 ]
ok $? "not-found message is one line" "$err"

# --user, --cwd, --env
out=$(tf run personal -- id -u)
ok $([ "$out" = 1000 ]; echo $?) "default app uid is 1000" "got '$out'"
out=$(tf run personal --user 4321 --cwd /tmp -- id -u)
ok $([ "$out" = 4321 ]; echo $?) "--user 4321 runs as uid 4321" "got '$out'"
out=$(tf run personal --user 4321 --cwd /tmp -- id -g)
ok $([ "$out" = 4321 ]; echo $?) "--user sets the gid too" "got '$out'"
# without --cwd another uid starts in / (/home/app is 0700, uid 1000)
out=$(tf run personal --user 4321 -- id -u 2>&1)
ok $([ "$out" = 4321 ]; echo $?) "--user 4321 without --cwd runs (cwd /)" \
	"got '$out'"
out=$(tf run personal --cwd /tmp -- pwd)
ok $([ "$out" = /tmp ]; echo $?) "--cwd /tmp" "got '$out'"
out=$(tf run personal -- pwd)
ok $([ "$out" = /home/app ]; echo $?) "default cwd is /home/app" "got '$out'"
err=$(tf run personal --cwd /no/such/dir -- true 2>&1)
r=$?
ok $((r == 0)) "--cwd to a missing dir fails" "got $r"
echo "$err" | grep -q /no/such/dir && ! echo "$err" | grep -q "not found: true"
ok $? "--cwd to a missing dir: message names the dir, not the command" \
	"got $r: $err"
out=$(tf run personal --env GREETING='hello world' -- sh -c 'echo "$GREETING"')
ok $([ "$out" = "hello world" ]; echo $?) "--env K=V with a space" "got '$out'"
out=$(tf run personal --env HOME=/tmp -- sh -c 'echo $HOME')
ok $([ "$out" = /tmp ]; echo $?) "--env overrides a default (HOME)" "got '$out'"

# the caller's environment does not leak
env_out=$(FOO=secretleak TERM=xterm-test LANG=C tf run personal --env BAR=1 -- env)
echo "$env_out" | grep -q secretleak
ok $((!$?)) "caller's FOO=secretleak does not leak" "$env_out"
names=$(echo "$env_out" | cut -d= -f1 | sort | tr '\n' ' ')
# sh may add PWD etc. only if started; env is run directly here
ok $([ "$names" = "BAR HOME LANG PATH TERM " ]; echo $?) \
	"environment is exactly PATH HOME LANG TERM + --env" "got: $names"
echo "$env_out" | grep -qx TERM=xterm-test
ok $? "TERM is passed from the caller"
echo "$env_out" | grep -qx LANG=C
ok $? "LANG is passed from the caller"

# only fds 0, 1, 2 open in the app: the CLI has more open (the socket is
# CLOEXEC, but we add fds 5 and 7 here on purpose: they must not arrive)
# (ls lists the shell's fds, not its own)
fds=$(tf run personal -- sh -c 'ls /proc/$$/fd' 5</dev/null 7>/dev/null | tr '\n' ' ')
ok $([ "$fds" = "0 1 2 " ]; echo $?) "only fds 0 1 2 open in the app" "got '$fds'"

# pipes both ways
out=$(echo piped-in | tf run personal -- cat | tr a-z A-Z)
ok $([ "$out" = PIPED-IN ]; echo $?) "stdin and stdout are pipes" "got '$out'"
out=$(seq 1 20000 | tf run personal -- wc -l)
ok $([ "$out" = 20000 ]; echo $?) "100 KiB through a pipe" "got '$out'"
err=$(tf run personal -- sh -c 'echo to-stderr >&2' 2>&1 >/dev/null)
ok $([ "$err" = to-stderr ]; echo $?) "stderr is the caller's stderr" "got '$err'"

# Ctrl-C on a terminal reaches the app
out=$(timeout 60 python3 "$here/pty_ctrlc.py" "$TWOFOLD" "$S" personal sleep 2>&1)
r=$?
ok $((r != 130)) "Ctrl-C on a pty ends 'sleep 100' -> exit 130" "got $r: $out"
out=$(timeout 60 python3 "$here/pty_ctrlc.py" "$TWOFOLD" "$S" personal 2>&1)
r=$?
echo "$out" | grep -q "^ok typed command runs"
ok $? "interactive sh on a pty runs a typed command" "$out"
echo "$out" | grep -q "^ok ctrl-c interrupts sleep" &&
	echo "$out" | grep -q "^ok list after interrupted sleep abandoned"
ok $? "Ctrl-C interrupts sleep in the interactive sh, prompt returns" "$out"
ok $((r != 7)) "interactive sh 'exit 7' -> exit 7" "got $r: $out"

# nothing of the apps is left in the persona
sleep 0.2
n=$(tf status --json | python3 -c 'import json,sys
print([p for p in json.load(sys.stdin)["personas"] if p["name"]=="personal"][0]["processes"])')
ok $([ "$n" = 1 ]; echo $?) "after the apps exit only init remains" "processes=$n"

finish
