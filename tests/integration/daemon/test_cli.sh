#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Integration: the CLI conventions of issue 16 item 5 -- global options
# anywhere, `help [VERB]`, one-line usage errors, missing-argument
# messages, advice for a missing / uninitialised state dir, init's
# preflight checks, idempotent verbs, --json answers, the status object's
# schema version and throttle state, grammar, no doubled prefixes, run
# with closed stdio. TAP; root; cleans up after itself.
TEST_STATE_PREFIX=tfcli
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
# jq-less JSON member: jval JSON EXPR (python expression on o)
jval() { $PY -c 'import json,sys; o=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
pin() { printf '%s\n' "$3" | "$T" --state "$S" "$1" "$2" --pin-stdin; }
lines() { printf '%s\n' "$1" | wc -l; }

# ---- no daemon, no state
run "$T" --bogus
expect "unknown global option: exit 2" 2 "unknown option '--bogus' (try: twofold help)"
check "unknown global option: one line, no usage dump" [ "$(lines "$out")" = 1 ]
run "$T" stauts
expect "typo of a verb: a suggestion" 2 "unknown verb 'stauts'; did you mean 'status'?"
check "typo of a verb: one line" [ "$(lines "$out")" = 1 ]
run "$T" --state
expect "--state without its argument says so" 2 "option --state needs an argument"
run "$T" init --size
expect "init --size without its argument says so" 2 "option --size needs an argument"
run "$T" run personal -u
expect "run -u without its argument says so" 2 "option -u needs an argument"
run "$T" audit show --since
expect "audit --since without its argument says so" 2 "option --since needs an argument"
run "$T" help
expect "help: the verbs" 0 "Verbs:"
run "$T" help status
expect "help status: the verb's usage" 0 "usage: twofold [--state DIR] status"
run "$T" help nosuch
expect "help of an unknown verb: exit 2" 2 "unknown verb 'nosuch'"
run "$T" run personal ls -h
check "run: -h after the command is the command's" not_has "usage: twofold run" "$out"
run "$T" audit nosuch
check "no doubled prefix (audit: audit:)" not_has "audit: audit:" "$out"

run "$T" --state "$S.none" status
expect "missing state dir: init advice" 1 "state directory $S.none does not exist (create it with: twofold --state $S.none init)"
run "$T" status --state "$S"
expect "--state after the verb; uninitialised: init advice" 1 "$S is not initialised: no device.conf (create it with: twofold --state $S init)"
jout=$("$T" status --json --state "$S" 2>/dev/null)
check "--json after the verb: state.uninitialised" [ "$(jval "$jout" 'o["error"]["reason"]')" = state.uninitialised ]

# ---- init's preflight
# 100 bytes: STATE/control is 108, one more than sun_path holds with its
# NUL (a twofold without the check would make it: cleanup removes it)
long=$S.$(printf 'd%.0s' $(seq $((100 - ${#S} - 1))))
EXTRA_CLEANUP='rm -rf "$long" "$S.big" "$S.other"'
run "$T" --state "$long" --json init --size 64M
jlong=$out
run "$T" --state "$long" init --size 64M
expect "init: a state path too long for the socket" 1 "too long: its control socket"
check "init: nothing created for the long path" [ ! -e "$long" ]
check "init: the long path under --json: one error object" has '"error"' "$jlong"
run "$T" --state "$S.big" init --size 15T
expect "init: --size beyond free space" 1 "free on the file system"
check "init: nothing created for the big size" [ ! -e "$S.big" ]
mkdir "$S.other" && chown 65534 "$S.other"
run "$T" --state "$S.other" init --size 64M
expect "init: another user's directory is refused" 1 "is owned by uid 65534"
check "init: the directory keeps its owner" [ "$(stat -c %u "$S.other")" = 65534 ]
rmdir "$S.other"

init_state || bail "init"
set_conf throttle_free_tries 2
set_conf throttle_max_failures 3
set_conf throttle_base_delay 1
check "daemon starts" start_daemon

# ---- global options anywhere
a=$("$T" --state "$S" --json status 2>&1)
b=$("$T" status --json --state "$S" 2>&1)
check "status --json --state == --state --json status" \
	eval '[ "$(jval "$a" "o[\"state_dir\"]")" = "$(jval "$b" "o[\"state_dir\"]")" ] && [ -n "$(jval "$b" "o[\"state_dir\"]")" ]'
check "status JSON: schema version is a number" [ "$(jval "$b" 'type(o["version"]).__name__')" = int ]

# ---- idempotent verbs
run tf persona start personal
expect "start of a running persona: exit 0, a note" 0 "already running (nothing to do)"
run tf persona stop personal
check "stop personal" [ $rc -eq 0 ]
run tf persona stop personal
expect "stop of a stopped persona: exit 0, a note" 0 "already stopped (nothing to do)"
run tf persona start personal
check "start personal" [ $rc -eq 0 ]
out=$(pin enroll secure 111111 2>&1)
check "enroll secure" has "credential set" "$out"
run tf lock secure --evict
expect "lock --evict of a locked-down persona: exit 0, a note" 0 "already locked down"
run tf lock secure --evict
expect "lock --evict again: exit 0" 0 "already locked down"
if command -v script >/dev/null; then
	# stderr on a terminal (script's pty): the progress line, then the time
	out=$(script -qec "printf '111111\\n' | '$T' --state '$S' unlock secure --pin-stdin" /dev/null)
	check "unlock on a terminal: 'deriving key... N s'" \
		eval 'grep -Eq "twofold: unlock: deriving key\.\.\. [0-9]+\.[0-9] s" <<<"$out"'
else
	out=$(pin unlock secure 111111 2>&1)
	ok 0 "unlock on a terminal # SKIP no script(1)"
fi
check "unlock secure" has "secure unlocked" "$out"
out=$(pin unlock secure 111111 2>&1)
rc=$?
check "unlock of an unlocked persona: exit 0, a note" \
	eval '[ $rc -eq 0 ] && has "already unlocked (nothing to do)" "$out"'
jout=$(tf --json persona start personal 2>/dev/null)
check "--json on a note: {message}" has "already running" "$(jval "$jout" 'o["message"]')"
check "no progress line when stderr is not a terminal" not_has "deriving key" "$out"

# ---- run: user 0, closed stdio
run tf run personal --user 0 -- true
expect "run --user 0 is refused as documented" 1 "user 0 is personal's root"
check "run: no doubled prefix (run: run:)" not_has "run: run:" "$out"
tf run personal -- true <&- >&- 2>&-
check "run with stdin, stdout and stderr closed" [ $? -eq 0 ]
o=$(tf run personal -- sh -c 'echo out; cat' <&-)
check "run with stdin closed: output, EOF on input" [ "$o" = out ]

# ---- grammar and throttle state
tf lock secure --evict >/dev/null 2>&1
out=$(pin unlock secure 000000 2>&1)
out=$(pin unlock secure 000000 2>&1)
check "'1 try left', not '1 tries left'" \
	eval 'has "1 try left" "$out" && not_has "1 tries" "$out"'
check "the verb is not repeated ('unlock: unlock secure:')" \
	eval 'has "twofold: unlock: secure: wrong credential" "$out"'
j=$(tf --json status)
check "status JSON: throttle failures (2)" \
	[ "$(jval "$j" '[p for p in o["personas"] if p["name"]=="secure"][0]["throttle"]["failures"]')" = 2 ]
check "status text: the failed tries" eval 'tf status | grep "^secure" | grep -q "2 failed tries, 1 left"'
tf wipe secure --yes >/dev/null 2>&1
j=$(tf --json status)
check "status after an erase: the hint to enroll again" \
	has "twofold enroll secure" "$(jval "$j" '[p for p in o["personas"] if p["name"]=="secure"][0].get("hint","")')"

stop_daemon
finish
