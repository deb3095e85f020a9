# SPDX-License-Identifier: ISC
# Shared by the persona integration tests (sourced, not run): TAP output, a
# private state dir, starting/stopping the daemon, and a cleanup that
# leaves nothing behind even when a test fails half-way (or the daemon was
# SIGKILLed on purpose).
#
# Needs from meson: TWOFOLD, TWOFOLDD (program paths).

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
EXTRA_CLEANUP=

ok() { # ok COND_STATUS DESCRIPTION [DIAG]
	TAP_N=$((TAP_N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $TAP_N - $2"
	else
		TAP_FAIL=$((TAP_FAIL + 1))
		echo "not ok $TAP_N - $2"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
	fi
	return 0
}
# todo COND_STATUS DESCRIPTION REASON [DIAG]: a check of a known bug (TAP
# TODO: a failure does not fail the suite, a pass is reported as
# unexpected so the TODO gets removed once the bug is fixed)
todo() {
	TAP_N=$((TAP_N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $TAP_N - $2 # TODO $3"
	else
		echo "not ok $TAP_N - $2 # TODO $3"
		[ -n "${4:-}" ] && printf '%s\n' "$4" | sed 's/^/# /'
	fi
	return 0
}
# check DESCRIPTION CMD...: ok if CMD succeeds
check() {
	local d=$1
	shift
	"$@" >/dev/null 2>&1
	ok $? "$d"
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

tf() { "$TWOFOLD" --state "$S" "$@"; }

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

# A fresh state dir with cheap KDF settings; extra device.conf lines for
# the top section may be given as arguments.
setup_state() {
	S=$(mktemp -d /tmp/tfp.XXXXXX)
	DLOG=$S.log
	tf init --size 128M >/dev/null || {
		echo "Bail out! twofold init failed"
		exit 1
	}
	sed -i 's/^kdf_target_ms = .*/kdf_target_ms = 20/;
		s/^kdf_min_mem_mib = .*/kdf_min_mem_mib = 8/;
		s/^allow_weak_credentials = .*/allow_weak_credentials = yes/' "$S/device.conf"
}

# Start the daemon in the background and wait until it answers.
start_daemon() {
	"$TWOFOLDD" --state "$S" -v 2>>"$DLOG" &
	DPID=$!
	for _ in $(seq 100); do
		tf status >/dev/null 2>&1 && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	diag "daemon did not come up:"
	diag "$(tail -5 "$DLOG")"
	return 1
}

# SIGTERM the daemon and wait for it (SIGKILL after 10 s); sets DSTATUS.
stop_daemon() {
	DSTATUS=
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for _ in $(seq 200); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DSTATUS=$?
	DPID=
}

enroll_unlock_secure() {
	printf '123456\n' | tf enroll secure --pin-stdin >/dev/null &&
		printf '123456\n' | tf unlock secure --pin-stdin >/dev/null
}

# Remove what a (possibly killed) daemon on state dir $1 left behind:
# processes in its cgroups (only its own: the group name is derived from
# the state dir), the cgroups, every mount below the dir (each persona's
# image at fs/NAME, or the older shared one at mnt), the loop devices, the
# dir and its log. Also used for a second state dir by some tests.
cleanup_state() {
	local st=$1 d l grp
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
	for d in $(awk -v s="$(realpath "$st")/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount "$d" 2>/dev/null || umount -l "$d"
	done
	for d in "$st"/storage/*.img "$st/storage.img"; do
		[ -f "$d" ] || continue
		for l in $(losetup -j "$d" 2>/dev/null | cut -d: -f1); do
			losetup -d "$l"
		done
	done
	rm -rf "$st" "$st.log"
}

cleanup() {
	local rc=$?
	set +e
	[ -n "$EXTRA_CLEANUP" ] && eval "$EXTRA_CLEANUP"
	stop_daemon
	cleanup_state "$S"
	exit "$rc"
}
trap cleanup EXIT
trap "exit 143" TERM INT

# End of a test: the plan line, exit 1 if any check failed.
finish() {
	echo "1..$TAP_N"
	[ "$TAP_FAIL" = 0 ]
	exit $?
}
