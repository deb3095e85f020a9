# SPDX-License-Identifier: ISC
# Shared helpers of the storage integration tests (sourced, not run).
# Each test gets its own state directory and its own daemon; the EXIT trap
# kills what the test started (by PID), unmounts and removes the state even
# when the test fails half-way.
set -u
: "${TWOFOLD:?set TWOFOLD to the twofold CLI}"
: "${TWOFOLDD:?set TWOFOLDD to the twofoldd daemon}"

n=0
DPID=
BG_PIDS=
S=$(mktemp -d /tmp/tfi.XXXX)

ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); echo "not ok $n - $*"; }
# check DESC CMD...: one TAP line from a command's success
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}
# todo DESC CMD...: a check that documents a known bug (TAP TODO)
todo() {
	local d=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d # TODO known bug"; fi
}
diag() { echo "# $*"; }
# has STRING TEXT: TEXT contains STRING
has() { case $2 in *"$1"*) return 0 ;; esac; return 1; }

tf() { "$TWOFOLD" --state "$S" "$@"; }
pin() { printf '%s\n' "$2" | tf "$1" secure --pin-stdin 2>&1; }

# Start the daemon in the background and wait until it answers.
start_daemon() {
	"$TWOFOLDD" --state "$S" -v 2>>"$S.log" &
	DPID=$!
	for _ in $(seq 100); do
		if ! kill -0 "$DPID" 2>/dev/null; then
			wait "$DPID" 2>/dev/null
			DPID=
			return 1
		fi
		tf status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Wait for the daemon to die on its own (fault injection); 0 if it did
# within 10 s, with its exit status in DRC.
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

stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for _ in $(seq 150); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

kill9_daemon() {
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

# Run the daemon in the foreground, expecting it to refuse to start;
# its stderr goes to $OUT, its status to DRC.
daemon_fg() {
	OUT=$(timeout 30 "$TWOFOLDD" --state "$S" 2>&1)
	DRC=$?
}

# A fresh state: small image, cheap KDF, the given throttle schedule.
init_state() {
	tf init --size "${1:-64M}" >/dev/null || return 1
	set_conf kdf_target_ms 20
	set_conf kdf_min_mem_mib 8
	set_conf allow_weak_credentials yes
}
set_conf() { sed -i "s/^$1 = .*/$1 = $2/" "$S/device.conf"; }

# The mounts of the state dir (each persona's image at fs/NAME, or the
# shared image of the older layout at mnt) and the loop devices of its
# images (storage/NAME.img, or storage.img).
state_mounts() {
	awk -v s="$(realpath "$S")/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r
}
state_loops() {
	local i
	for i in "$S"/storage/*.img "$S/storage.img"; do
		[ -f "$i" ] && losetup -j "$i" -O NAME -n 2>/dev/null
	done
}
# The image of persona $1 (storage/NAME.img).
img() { echo "$S/storage/$1.img"; }

cleanup() {
	local p
	for p in $BG_PIDS; do kill -KILL "$p" 2>/dev/null; done
	for p in $BG_PIDS; do wait "$p" 2>/dev/null; done
	if [ -n "$DPID" ]; then
		stop_daemon
	fi
	# a daemon that died by SIGKILL leaves its cgroups and mounts: a
	# clean start + stop removes them (that is what the daemon promises)
	if [ -n "$(state_mounts)" ] && [ -f "$S/device.conf" ]; then
		if start_daemon; then stop_daemon; fi
	fi
	for p in $(state_mounts); do umount -l "$p"; done
	for p in $(state_loops); do losetup -d "$p" 2>/dev/null; done
	if [ "${KEEP_STATE:-0}" = 1 ]; then
		echo "# state kept in $S (log $S.log)"
	else
		rm -rf "$S" "$S.log"
	fi
}
trap cleanup EXIT
