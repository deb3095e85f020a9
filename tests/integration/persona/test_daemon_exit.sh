#!/bin/bash
# SPDX-License-Identifier: ISC
# What the daemon leaves behind: nothing after SIGTERM; after SIGKILL the
# personas die with it (PDEATHSIG), the key guard removes the keys and
# unmounts the storage, and the next twofoldd removes the cgroups and
# brings the personas back. Running apps do not survive a daemon restart.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

APP_BG=
EXTRA_CLEANUP='[ -n "$APP_BG" ] && { kill -KILL $APP_BG; wait $APP_BG; } 2>/dev/null'

jget() {
	tf status --json | python3 -c 'import json, sys
p = [p for p in json.load(sys.stdin)["personas"] if p["name"] == sys.argv[1]][0]
print(p.get(sys.argv[2], ""))' "$1" "$2"
}
all_pids() { for d in $(cg_dirs); do find "$d" -name cgroup.procs -exec cat {} +; done | sort -un; }
mounts_under_state() { awk -v s="$(realpath "$S")" 'index($2, s) == 1 { print $2 }' /proc/self/mounts; }
loops() { for i in "$S"/storage/*.img; do losetup -j "$i"; done; }
# live (not zombie) processes among PIDS: after the daemon's SIGKILL its
# dead children are reparented and may stay zombies until reaped
alive_of() {
	local a= p st
	for p in $1; do
		st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)
		[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] && a="$a $p"
	done
	echo "$a"
}
# nothing_left LABEL PIDS
nothing_left() {
	local m l c a
	m=$(mounts_under_state)
	ok $([ -z "$m" ]; echo $?) "$1: no mount under the state dir" "$m"
	l=$(loops)
	ok $([ -z "$l" ]; echo $?) "$1: no loop device backs an image" "$l"
	c=$(cg_dirs)
	ok $([ -z "$c" ]; echo $?) "$1: no cgroup dir $(cg_group_of "$S")" "$c"
	a=$(alive_of "$2")
	ok $([ -z "$a" ]; echo $?) "$1: no persona process remains" "alive:$a"
}

setup_state
start_daemon && enroll_unlock_secure || {
	echo "Bail out! daemon or secure did not start"
	exit 1
}

# 1. SIGTERM: clean shutdown
ok $([ -n "$(mounts_under_state)" ] && [ -n "$(loops)" ] && [ -n "$(cg_dirs)" ]; echo $?) \
	"control: while running there are a mount, a loop device and cgroups"
pids=$(all_pids)
ok $([ "$(echo "$pids" | wc -w)" -ge 2 ]; echo $?) "control: both inits seen in the cgroups" "$pids"
stop_daemon
ok $((DSTATUS != 0)) "SIGTERM: daemon exits 0" "got $DSTATUS"
nothing_left "after SIGTERM" "$pids"

# 2. SIGKILL while an app runs
start_daemon && printf '123456\n' | tf unlock secure --pin-stdin >/dev/null || {
	echo "Bail out! restart failed"
	exit 1
}
tf run personal -- sleep 300 &
APP_BG=$!
for _ in $(seq 50); do [ "$(jget personal processes)" = 2 ] && break; sleep 0.05; done
pids=$(all_pids)
ok $([ "$(echo "$pids" | wc -w)" -ge 3 ]; echo $?) "control: two inits and one app running" "$pids"
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
DPID=
for _ in $(seq 50); do [ -z "$(alive_of "$pids")" ] && break; sleep 0.1; done
a=$(alive_of "$pids")
ok $([ -z "$a" ]; echo $?) "after SIGKILL of the daemon every persona process dies" \
	"alive 5 s later:$a"
for _ in $(seq 50); do kill -0 "$APP_BG" 2>/dev/null || break; sleep 0.1; done
kill -0 "$APP_BG" 2>/dev/null
ok $((!$?)) "the app's 'twofold run' returns when the daemon dies"
wait "$APP_BG" 2>/dev/null
r=$?
APP_BG=
ok $([ $r != 0 ]; echo $?) "... with a failure status" "got $r"
# the key guard unmounts the storage (after removing the keys: it may
# wait for dead persona processes to be reaped); the cgroups stay for the
# next twofoldd to remove
for _ in $(seq 100); do [ -z "$(mounts_under_state)" ] && break; sleep 0.1; done
ok $([ -z "$(mounts_under_state)" ] && [ -n "$(cg_dirs)" ]; echo $?) \
	"SIGKILL: the key guard unmounted the storage; cgroups are left" "$(mounts_under_state) $(cg_dirs)"

# 3. restart cleans up and brings the personas back
start_daemon
ok $? "twofoldd starts again after a SIGKILL"
ok $([ "$(jget personal state)" = running ]; echo $?) "personal running again"
ok $([ "$(jget secure state)" = locked ]; echo $?) "secure is locked (keys left with the daemon)"
n=$(awk -v s="$(realpath "$S")/fs/" 'index($2, s) == 1' /proc/self/mounts | wc -l)
ok $([ "$n" = 2 ]; echo $?) "exactly one mount of each persona's storage (stale ones cleaned)" "got $n"
l=$(loops | wc -l)
ok $([ "$l" = 2 ]; echo $?) "exactly one loop device for each image" "$(loops)"
for _ in $(seq 20); do [ -z "$(alive_of "$pids")" ] && break; sleep 0.1; done
stale=$(alive_of "$pids")
ok $([ -z "$stale" ]; echo $?) "no old process is left after the restart" "$stale"
n=$(jget personal processes)
ok $([ "$n" = 1 ]; echo $?) "apps do not survive a daemon restart: personal has only init" "got $n"
out=$(tf run personal -- echo again)
ok $([ "$out" = again ]; echo $?) "apps run after the restart"

# 4. final SIGTERM: nothing left
pids=$(all_pids)
stop_daemon
ok $((DSTATUS != 0)) "final SIGTERM: daemon exits 0" "got $DSTATUS"
nothing_left "after the final SIGTERM" "$pids"

finish
