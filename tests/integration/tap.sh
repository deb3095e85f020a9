# SPDX-License-Identifier: ISC
# The one TAP helper of the integration tests (sourced, not run): each
# area's lib.sh (tests/integration/<area>/lib.sh) sources this first and
# adds only what is particular to its area. Two parts:
#
#  1. TAP primitives: ok, nok, check, todo, diag, has, not_has, plan,
#     finish. The counter is TAP_N (never `n`: tests use `n` themselves).
#  2. The daemon and its state dir: tf, new_state, init_state, set_conf,
#     start_daemon, stop_daemon, kill9_daemon, wait_daemon_dead,
#     state_mounts, state_loops, cg_group_of, cg_dirs, cleanup_state and
#     the EXIT trap `cleanup`, which leaves nothing behind even when a test
#     fails half-way or the daemon was SIGKILLed on purpose.
#
# Why one file: the areas grew two dialects of `ok` (`ok STATUS DESC` and
# `ok DESC`) and of `todo`; both are accepted here, told apart by a
# numeric first argument, so a test reads the same in every area and the
# older tests need no edit. Prefer the STATUS forms in new tests.
#
# Needs from meson: TWOFOLD, TWOFOLDD (program paths).
# Knobs a lib.sh or a test may set: DAEMON_ARGS (default -v), EXTRA_CLEANUP
# (shell code run first by cleanup), BG_PIDS (pids cleanup SIGKILLs),
# CLEAN_RESTART=1 (cleanup lets a clean daemon start + stop remove what a
# killed one left), KEEP_STATE=1 (keep the state dir for a post mortem).

set -u

: "${TWOFOLD:?TWOFOLD not set (run through meson test)}"
: "${TWOFOLDD:?TWOFOLDD not set (run through meson test)}"

[ "$(id -u)" = 0 ] || {
	echo "1..0 # SKIP needs root"
	exit 0
}

TAP_N=0
TAP_FAIL=0
S=
DPID=
DLOG=
DSTATUS=
DRC=
DAEMON_ARGS=${DAEMON_ARGS--v}
EXTRA_CLEANUP=
BG_PIDS=
CLEAN_RESTART=0

# ---- 1. TAP primitives ---------------------------------------------------

tap_is_status() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

# ok STATUS DESCRIPTION [DIAG]: a pass if STATUS is 0 (usually `ok $? ...`);
# ok DESCRIPTION...: an unconditional pass (the older storage form).
ok() {
	if [ $# -ge 2 ] && tap_is_status "$1"; then
		if [ "$1" = 0 ]; then
			TAP_N=$((TAP_N + 1))
			echo "ok $TAP_N - $2"
		else
			nok "$2" "${3:-}"
		fi
	else
		TAP_N=$((TAP_N + 1))
		echo "ok $TAP_N - $*"
	fi
	return 0
}

# nok DESCRIPTION [DIAG]: an unconditional failure.
nok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAIL=$((TAP_FAIL + 1))
	echo "not ok $TAP_N - $1"
	[ -n "${2:-}" ] && diag "$2"
	return 0
}

# The diagnostic `check` prints on a failure; an area may redefine it
# (the daemon tests show their last command's rc and output).
check_diag() { :; }

# check DESCRIPTION CMD...: ok if CMD succeeds. CMD runs in this shell
# (it may set variables); its output is not captured and goes to stderr
# (the test's log), never into the TAP stream.
check() {
	local d=$1
	shift
	if "$@" >&2; then ok "$d"; else nok "$d" "$(check_diag)"; fi
}

# todo STATUS DESCRIPTION REASON [DIAG] or todo DESCRIPTION CMD...: a check
# of a known bug (TAP TODO: a failure does not fail the suite). In the
# STATUS form a pass is reported as unexpected, so the TODO gets removed
# once the bug is fixed; the CMD form reports a pass as a plain ok.
todo() {
	if [ $# -ge 3 ] && tap_is_status "$1"; then
		TAP_N=$((TAP_N + 1))
		if [ "$1" = 0 ]; then
			echo "ok $TAP_N - $2 # TODO $3"
		else
			echo "not ok $TAP_N - $2 # TODO $3"
			[ -n "${4:-}" ] && diag "$4"
		fi
	else
		local d=$1
		shift
		TAP_N=$((TAP_N + 1))
		if "$@"; then
			echo "ok $TAP_N - $d"
		else
			echo "not ok $TAP_N - $d # TODO known bug"
		fi
	fi
	return 0
}

# diag TEXT...: TAP comment lines (a multi-line TEXT stays one per line)
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

# has STRING TEXT: TEXT contains STRING; not_has: it does not
has() { case $2 in *"$1"*) return 0 ;; esac; return 1; }
not_has() { ! has "$@"; }

# plan N: the plan up front, for a test that knows its count
plan() { echo "1..$1"; }

# finish: the plan at the end of a test; exit 1 if any check failed.
finish() {
	echo "1..$TAP_N"
	[ "$TAP_FAIL" = 0 ]
	exit $?
}

# bail REASON: stop the whole test (the EXIT trap still cleans up)
bail() {
	echo "Bail out! $*"
	exit 1
}

# ---- 2. the daemon and its state dir -------------------------------------

tf() { "$TWOFOLD" --state "$S" "$@"; }

# persona_field PERSONA FIELD: a top-level field of PERSONA's object in
# `status --json` (true/false lower-case, null as empty), parsed as JSON:
# a nested object (throttle) cannot cut the persona's fields in two
persona_field() {
	tf status --json 2>/dev/null | python3 -c 'import json, sys
n, f = sys.argv[1:3]
for p in json.load(sys.stdin).get("personas", []):
    if p.get("name") == n:
        v = p.get(f)
        print("" if v is None else str(v).lower() if isinstance(v, bool) else v)
        break' "$1" "$2" 2>/dev/null
}

# new_state [PREFIX]: a fresh, empty state dir in S (its log is DLOG)
new_state() {
	S=$(mktemp -d "/tmp/${1:-tfi}.XXXXXX")
	DLOG=$S.log
}

# set_conf KEY VALUE: rewrite KEY's line in device.conf
set_conf() { sed -i "s/^$1 = .*/$1 = $2/" "$S/device.conf"; }

# init_state [SIZE]: `twofold init` in S with cheap KDF settings and weak
# credentials allowed (tests use short PINs)
init_state() {
	tf init --size "${1:-64M}" >/dev/null || return 1
	set_conf kdf_target_ms 20
	set_conf kdf_min_mem_mib 8
	set_conf allow_weak_credentials yes
}

# start_daemon: start twofoldd on S in the background and wait (10 s at
# most) until it answers. If it dies instead: its status in DSTATUS, the
# tail of its log as a diag line, DPID empty, return 1.
# DAEMON_NETNS=NAME: the daemon runs in network namespace NAME (nsenter
# execs it, so DPID is still the daemon's pid; never `ip netns exec`, which
# remounts /sys); the CLI talks to it through the state dir's socket.
start_daemon() {
	DLOG=$S.log # follows S: a test may move on to a second state dir
	local pre=()
	[ -n "${DAEMON_NETNS:-}" ] && pre=(nsenter --net="/run/netns/$DAEMON_NETNS")
	# shellcheck disable=SC2086 # DAEMON_ARGS is a word list
	"${pre[@]}" "$TWOFOLDD" --state "$S" $DAEMON_ARGS 2>>"$DLOG" &
	DPID=$!
	for _ in $(seq 200); do
		if ! kill -0 "$DPID" 2>/dev/null; then
			wait "$DPID" 2>/dev/null
			DSTATUS=$?
			DPID=
			break
		fi
		tf status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	diag "daemon did not come up:"
	diag "$(tail -5 "$DLOG")"
	return 1
}

# stop_daemon: SIGTERM the daemon and wait for it (SIGKILL after 15 s);
# its exit status in DSTATUS.
stop_daemon() {
	DSTATUS=
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for _ in $(seq 300); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DSTATUS=$?
	DPID=
}

kill9_daemon() {
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

# wait_daemon_dead: wait for the daemon to die on its own (fault
# injection); 0 if it did within 10 s, with its exit status in DRC.
wait_daemon_dead() {
	for _ in $(seq 100); do
		if ! kill -0 "$DPID" 2>/dev/null; then
			wait "$DPID" 2>/dev/null
			DRC=$?
			DPID=
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# state_mounts [DIR]: the mounts below state dir DIR (default S), deepest
# first: each persona's image at fs/NAME, or the older shared one at mnt.
state_mounts() {
	awk -v s="$(realpath "${1:-$S}")/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r
}
# state_loops [DIR]: the loop devices of its images (storage/NAME.img, or
# the older storage.img)
state_loops() {
	local i
	for i in "${1:-$S}"/storage/*.img "${1:-$S}/storage.img"; do
		[ -f "$i" ] && losetup -j "$i" -O NAME -n 2>/dev/null
	done
}

# The cgroup group the daemon uses for state dir $1: twofold-<FNV-1a 32 of
# its real path> (src/daemon/server.c name_hash).
cg_group_of() {
	python3 -c 'import os, sys
h = 2166136261
for b in os.path.realpath(sys.argv[1]).encode():
    h = ((h ^ b) * 16777619) & 0xffffffff
print("twofold-%08x" % h)' "$1"
}
cg_dirs() { find /sys/fs/cgroup -type d -name "$(cg_group_of "$S")" 2>/dev/null; }

# cleanup_state DIR [keep]: remove what a (possibly killed) daemon on state
# dir DIR left behind: processes in its cgroups (only its own: the group
# name is derived from the state dir), the cgroups, every mount below the
# dir, the loop devices of its images; then the dir and its log unless
# the second argument is "keep" (also DIR.* a test made beside it, e.g.
# storage's DIR.dpid). Also used for a second state dir.
cleanup_state() {
	local st=$1 d grp
	[ -n "$st" ] && [ -d "$st" ] || return 0
	grp=$(cg_group_of "$st")
	for d in $(find /sys/fs/cgroup -type d -name "$grp" 2>/dev/null); do
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null |
			xargs -r kill -KILL 2>/dev/null
	done
	sleep 0.1
	for d in $(find /sys/fs/cgroup -type d -name "$grp" 2>/dev/null); do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	for d in $(state_mounts "$st"); do
		umount "$d" 2>/dev/null || umount -l "$d"
	done
	for d in $(state_loops "$st"); do
		losetup -d "$d" 2>/dev/null
	done
	if [ "${2:-}" = keep ]; then
		echo "# state kept in $st (log $st.log)"
	else
		rm -rf "$st" "$st".*
	fi
}

# The EXIT trap. It does not exit itself (the test's exit status stands),
# so a test's own trap may call it and then do more.
cleanup() {
	local p
	set +e
	[ -n "$EXTRA_CLEANUP" ] && eval "$EXTRA_CLEANUP"
	for p in $BG_PIDS; do kill -KILL "$p" 2>/dev/null; done
	for p in $BG_PIDS; do wait "$p" 2>/dev/null; done
	stop_daemon
	# a daemon that died by SIGKILL leaves its cgroups and mounts: a
	# clean start + stop removes them (that is what the daemon promises)
	if [ "$CLEAN_RESTART" = 1 ] && [ -n "$S" ] && [ -f "$S/device.conf" ] &&
		[ -n "$(state_mounts)" ]; then
		if start_daemon >/dev/null; then stop_daemon; fi
	fi
	if [ "${KEEP_STATE:-0}" = 1 ]; then
		cleanup_state "$S" keep
	else
		cleanup_state "$S"
	fi
}
trap cleanup EXIT
trap "exit 143" TERM INT
