#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Integration: structured errors (issue 11 item 3, docs/protocol.md
# "Errors"). Each refusal the daemon has a reason id for is triggered; the
# CLI's sentence and hint on stderr, the --json object on stdout (reason,
# message, errno, parameters) and the exit code (the same as without
# --json, and as the older tests expect) are checked. TAP; root; cleans
# up after itself.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

# jrun ARGS...: `twofold --json ARGS`: stdout in jout, stderr in jerr, rc
jrun() {
	jout=$("$T" --state "$S" --json "$@" 2>"$S.err")
	jrc=$?
	jerr=$(cat "$S.err")
}
# jget KEY: the member KEY of the error object in jout ("" if absent;
# numbers as numbers); exit 1 if jout is not one error object
jget() {
	$PY -c 'import json, sys
o = json.loads(sys.stdin.read())["error"]
v = o.get(sys.argv[1], "")
print(json.dumps(v) if isinstance(v, (int, bool)) else v)' "$1" <<<"$jout"
}
# expect_err NAME RC REASON SUBSTRING ARGS...: `twofold ARGS` exits RC
# with SUBSTRING on stderr; `twofold --json ARGS` exits RC too, prints
# nothing on stderr and one error object with REASON whose message has
# SUBSTRING and whose errno is a positive number
expect_err() {
	local name=$1 want=$2 reason=$3 text=$4
	shift 4
	run "$T" --state "$S" "$@"
	expect "$name: text" "$want" "$text"
	jrun "$@"
	if [ "$jrc" -eq "$want" ] && [ -z "$jerr" ] &&
		[ "$(jget reason)" = "$reason" ] &&
		has "$text" "$(jget message)" &&
		[ "$(jget errno)" -gt 0 ] 2>/dev/null; then
		ok "$name: --json"
	else
		nok "$name: --json" "rc=$jrc out=$jout err=$jerr"
	fi
}
pin() { printf '%s\n' "$3" | "$T" --state "$S" ${4:+--json} "$1" "$2" --pin-stdin; }

run "$T" --state "$S" init --size 64M
check "init" [ $rc -eq 0 ]
set_conf kdf_target_ms 20
set_conf kdf_min_mem_mib 8
set_conf allow_weak_credentials yes
set_conf pin_min_digits 6
set_conf throttle_free_tries 2
set_conf throttle_max_failures 10
set_conf throttle_base_delay 300

# --- the CLI's own errors (no daemon)
expect_err "no daemon" 1 daemon.not_running \
	"twofoldd is not running (start it with: twofoldd --state" status
expect_err "usage error" 2 cli.usage "needs one persona" unlock
check "daemon starts" start_daemon

# --- dispatch and the lifecycle table
expect_err "unknown persona" 1 persona.unknown \
	"unknown persona 'nosuch' (see: twofold persona list)" \
	persona start nosuch
check "unknown persona: --json names it" [ "$(jget persona)" = nosuch ]
# idempotent (issue 16): starting a running persona is done, with a note
run "$T" --state "$S" persona start personal
expect "already running: exit 0 with a note" 0 "personal is already running (nothing to do)"
run "$T" --state "$S" persona stop personal
check "stop personal" [ $rc -eq 0 ]
expect_err "run in a stopped device-bound persona" 1 persona.stopped \
	"personal is stopped; start it with: twofold persona start personal" \
	run personal -- true
check "stopped: --json has the hint" \
	[ "$(jget hint)" = "start it with: twofold persona start personal" ]
run "$T" --state "$S" persona start personal
check "start personal" [ $rc -eq 0 ]
expect_err "run: command not found" 127 run.not_found \
	"command not found: /no/such/cmd in persona personal" \
	run personal -- /no/such/cmd
check "not found: --json names the command" [ "$(jget command)" = /no/such/cmd ]
expect_err "lock --evict of a device-bound persona" 1 \
	persona.device_bound "personal has no credential, so it cannot be unlocked again" \
	lock personal --evict
expect_err "wipe of a device-bound persona" 1 persona.device_bound \
	"personal is not credential-bound; wipe refuses it" wipe personal --yes

# --- credentials
out=$(pin unlock secure 111111 2>&1)
check "unlock before enroll: the no-credential sentence" \
	has "twofold: unlock: secure has no credential yet; set one with: twofold enroll secure" "$out"
jout=$(pin unlock secure 111111 json 2>/dev/null)
check "unlock before enroll: --json reason persona.no_credential" \
	[ "$(jget reason)" = persona.no_credential ]
out=$(pin enroll secure 111111 2>&1)
check "enroll" has "credential set" "$out"
expect_err "run in a locked persona" 1 persona.locked \
	"secure is locked; unlock it with: twofold unlock secure" \
	run secure -- true
expect_err "switch to a locked persona" 1 persona.locked \
	"secure is locked; unlock it first: twofold unlock secure" \
	switch secure
run "$T" --state "$S" lock secure
expect "lock of a locked persona: exit 0 with a note" 0 "secure is already locked"

# wrong credential: F=2 free, then a wait of B = 300 s
out=$(pin unlock secure 000000 2>&1)
rc=$?
check "wrong PIN (free try): the sentence, exit 1" \
	eval '[ $rc -eq 1 ] && has "twofold: unlock: secure: wrong credential; 9 tries left" "$out"'
check "wrong PIN (free try): no wait in the sentence" not_has "wait" "$out"
jout=$(pin unlock secure 000000 json 2>/dev/null)
rc=$?
check "wrong PIN: --json reason credential.wrong, exit 1" \
	eval '[ $rc -eq 1 ] && [ "$(jget reason)" = credential.wrong ]'
check "wrong PIN: --json tries_left is a number (8)" [ "$(jget tries_left)" = 8 ]
check "wrong PIN: --json wait_s (300)" [ "$(jget wait_s)" = 300 ]
check "wrong PIN: --json errno EACCES (13)" [ "$(jget errno)" = 13 ]
check "wrong PIN: --json persona and op" \
	eval '[ "$(jget persona)" = secure ] && [ "$(jget op)" = unlock ]'
check "wrong PIN: --json hint" [ "$(jget hint)" = "wait 300 s before the next" ]
out=$(pin unlock secure 111111 2>&1)
rc=$?
check "throttled: the sentence, exit 1" \
	eval '[ $rc -eq 1 ] && has "twofold: unlock: secure: too many failed attempts; wait " "$out"'
jout=$(pin unlock secure 111111 json 2>/dev/null)
rc=$?
check "throttled: --json reason credential.throttled, exit 1" \
	eval '[ $rc -eq 1 ] && [ "$(jget reason)" = credential.throttled ]'
check "throttled: --json wait_s and tries_left are numbers" \
	eval '[ "$(jget wait_s)" -gt 0 ] && [ "$(jget tries_left)" = 8 ]'

# --- malformed requests: the daemon's message, reason request.malformed
RAW="$PY $HERE/rawclient.py"
run $RAW "$S/control" badattr
check "raw: an attribute the request does not take: request.malformed" \
	eval 'has "does not take attribute" "$out" && has "reason=request.malformed" "$out"'
run $RAW "$S/control" garbage
check "raw: garbage: request.malformed" has "reason=request.malformed" "$out"
run $RAW "$S/control" oversize
check "raw: oversize: request.too_large" has "reason=request.too_large" "$out"
run $RAW "$S/control" badversion
check "raw: another version: request.unsupported" has "reason=request.unsupported" "$out"
run $RAW "$S/control" ping
check "raw: a success carries no reason" not_has "reason=" "$out"

# --- erased: wipe, then every request names it
run "$T" --state "$S" wipe secure --yes
check "wipe secure" [ $rc -eq 0 ]
expect_err "run in an erased persona" 1 persona.erased \
	"secure was crypto-erased; its data is gone" run secure -- true

# --- a usage error of a verb under --json: still exit 2, as an object
run "$T" --state "$S" --json persona bogus personal
check "unknown persona subcommand: usage exit 2" [ $rc -eq 2 ]
jout=$out
check "unknown persona subcommand: reason cli.usage" [ "$(jget reason)" = cli.usage ]

# the audit log's refusal records carry the reason
run "$T" --state "$S" audit show
check "audit: request.refused records name the reason" \
	eval 'has "request=start errno=2 reason=persona.unknown" "$out" && has "reason=persona.locked" "$out"'

stop_daemon
rm -f "$S.err"
finish
