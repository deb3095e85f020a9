#!/bin/bash
# SPDX-License-Identifier: ISC
# Bad input through the CLI and the daemon: each gives a clear one-line
# error on stderr, a nonzero exit, and changes nothing.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

setup_state

# one_line OUTPUT: exactly one non-empty line
one_line() { [ -n "$1" ] && [ "$(printf '%s\n' "$1" | wc -l)" = 1 ]; }

# daemon not running
err=$(tf run personal -- true 2>&1)
r=$?
ok $((r != 1)) "daemon not running: run exits 1" "got $r"
echo "$err" | grep -qF "twofoldd is not running (start it with: twofoldd --state $S)"
ok $? "daemon not running: message says how to start it" "$err"
one_line "$err"
ok $? "daemon not running: one line" "$err"

start_daemon || {
	echo "Bail out! daemon did not start"
	exit 1
}
before=$(tf persona list)

# unknown persona
err=$(tf run nosuch -- true 2>&1)
r=$?
ok $((r != 1)) "unknown persona: exit 1" "got $r"
echo "$err" | grep -q "unknown persona 'nosuch'"
ok $? "unknown persona: message says so" "$err"
one_line "$err"
ok $? "unknown persona: one line" "$err"

# --env malformed: usage error 2, before anything is sent
for e in =x NOEQUALS; do
	err=$(tf run personal --env "$e" -- true 2>&1)
	r=$?
	ok $((r != 2)) "--env '$e': usage error exit 2" "got $r: $err"
	echo "$err" | grep -q "NAME=VALUE" && one_line "$err"
	ok $? "--env '$e': one line naming the form NAME=VALUE" "$err"
done
# a name the daemon refuses (the CLI only checks for '=')
err=$(tf run personal --env 'A B=x' -- true 2>&1)
r=$?
ok $((r == 0)) "--env 'A B=x': refused" "got $r: $err"
echo "$err" | grep -q "malformed environment entry" && one_line "$err"
ok $? "--env 'A B=x': one line from the daemon" "$err"

# argv bounds. One argument of 200 KiB cannot even reach the CLI: the
# kernel's MAX_ARG_STRLEN (128 KiB) refuses the exec (E2BIG), so the CLI's
# own per-string check (TF_STR_MAX, the same 128 KiB) is the second line.
big=$(head -c $((200 * 1024)) /dev/zero | tr '\0' a)
err=$(tf run personal -- echo "$big" 2>&1 >/dev/null)
r=$?
ok $((r == 0)) "one 200 KiB argument refused" "got $r"
echo "$err" | grep -q "Argument list too long" && one_line "$err"
ok $? "200 KiB argument: one line (the kernel's E2BIG at exec)" "$err"
# the largest argument the kernel passes (128 KiB - 1) arrives intact
max=$(head -c $((128 * 1024 - 1)) /dev/zero | tr '\0' c)
out=$(tf run personal -- sh -c 'echo ${#1}' x "$max" 2>&1)
ok $([ "$out" = $((128 * 1024 - 1)) ]; echo $?) \
	"control: a 128 KiB - 1 argument arrives intact" "got '${out:0:200}'"
# a total over 2 MiB: give the CLI a bigger stack so the kernel lets the
# arguments through (its limit is a quarter of RLIMIT_STACK) and the
# CLI's own bound is what refuses them
mid=$(head -c $((100 * 1024)) /dev/zero | tr '\0' b)
args=()
for _ in $(seq 22); do args+=("$mid"); done # 22 x 100 KiB > 2 MiB
err=$(ulimit -s 65536 && tf run personal -- true "${args[@]}" 2>&1 >/dev/null)
r=$?
ok $((r != 1)) "arguments totalling 2.2 MiB refused by the CLI (exit 1)" "got $r"
echo "$err" | grep -q "arguments and environment exceed 2097152 bytes" && one_line "$err"
ok $? "2.2 MiB total: clear one-line message" "$err"
# same bound when most of it is --env
err=$(ulimit -s 65536 && tf run personal $(for _ in $(seq 21); do printf -- '--env V=%s ' "$mid"; done) -- true 2>&1 >/dev/null)
r=$?
ok $((r != 1)) "2.1 MiB of --env refused (exit 1)" "got $r: ${err:0:200}"
# just under the bound still works (control)
args=()
for _ in $(seq 15); do args+=("$mid"); done
out=$(tf run personal -- sh -c 'echo $#' x "${args[@]}" 2>&1)
ok $([ "$out" = 15 ]; echo $?) "control: 1.5 MiB of arguments arrive" "got '${out:0:200}'"

# stopped persona: message says how to start it
tf persona stop personal >/dev/null
err=$(tf run personal -- true 2>&1)
r=$?
ok $((r != 1)) "stopped persona: exit 1" "got $r"
echo "$err" | grep -q "start it with: twofold persona start personal" && one_line "$err"
ok $? "stopped persona: one line saying how to start it" "$err"
tf persona start personal >/dev/null

after=$(tf persona list)
ok $([ "$before" = "$after" ]; echo $?) "bad requests changed nothing" "before: $before
after: $after"
out=$(tf run personal -- echo fine)
ok $([ "$out" = fine ]; echo $?) "the daemon still serves"

stop_daemon

# config errors: the daemon refuses to start, one line naming the problem
cp "$S/device.conf" "$S/device.conf.good"
# a base path that does not exist
sed -i '/^\[persona personal\]/a base = /nonexistent-tf-base' "$S/device.conf"
err=$(timeout 30 "$TWOFOLDD" --state "$S" 2>&1)
r=$?
ok $((r == 0 || r == 124)) "base = /nonexistent: daemon refuses to start" "got $r"
echo "$err" | grep -q "/nonexistent-tf-base" && one_line "$err"
ok $? "base = /nonexistent: one line naming the path" "$err"
[ ! -S "$S/control" ] && ! mountpoint -q "$S/mnt"
ok $? "base = /nonexistent: no socket, nothing mounted"

# overlapping uid ranges
cp "$S/device.conf.good" "$S/device.conf"
# (init picks each device's ranges: overlap secure with personal's)
pbase=$(awk '/^\[persona personal\]/{p=1} p && /^uid_base/{print $3; exit}' "$S/device.conf")
obase=$((pbase + 10000))
sed -i "/^\[persona secure\]/,/^uid_base/ s/^uid_base = .*/uid_base = $obase/" "$S/device.conf"
grep -q "uid_base = $obase" "$S/device.conf" || diag "sed did not change uid_base"
err=$(timeout 30 "$TWOFOLDD" --state "$S" 2>&1)
r=$?
ok $((r == 0 || r == 124)) "overlapping uid ranges: daemon refuses to start" "got $r"
echo "$err" | grep -q "overlapping uid ranges" && one_line "$err"
ok $? "overlapping uid ranges: one clear line" "$err"

# a device outside /dev: config accepts it (a char node), persona start
# must refuse it with a clear line
cp "$S/device.conf.good" "$S/device.conf"
mknod "$S/cam" c 1 3
printf '\n[device camera]\npath = %s/cam\n' "$S" >>"$S/device.conf"
err=$(timeout 30 "$TWOFOLDD" --state "$S" 2>&1)
r=$?
ok $((r == 0 || r == 124)) "device outside /dev: daemon refuses to start" "got $r"
echo "$err" | grep -q "not under /dev"
ok $? "device outside /dev: message says the path is not under /dev" "$err"
! mountpoint -q "$S/mnt" && [ -z "$(cg_dirs)" ]
ok $? "device outside /dev: failed start leaves no mount and no cgroup" "$(cg_dirs)"

# the good config still starts (control: the refusals were the edits)
cp "$S/device.conf.good" "$S/device.conf"
start_daemon
ok $? "control: the original config starts"

finish
