#!/bin/bash
# SPDX-License-Identifier: ISC
# Pure cgroup v2 (Debian 12's default boot; issue 16's service): a service
# manager starts twofoldd *in* the cgroup it delegates, and a cgroup with
# processes cannot give its children controllers. So the daemon moves
# itself into the leaf twofoldd-self before it forks anything, and the
# persona cgroups stay under the cgroup it was started in.
#
# This host is hybrid (the controllers are bound to v1), so the test makes
# a pure-v2 view: a private mount namespace with only cgroup2 at
# /sys/fs/cgroup, and the daemon started in a test cgroup of its own. The
# controllers are not there (the personas cannot start in that view); what
# is checked is where the daemon, its spawner and its guard end up, and
# that nothing of it stays in the cgroup it was started in.
. "$(dirname "$0")/lib.sh"
echo "1..6"

V2=/sys/fs/cgroup/unified
[ -d "$V2" ] || V2=/sys/fs/cgroup
TCG=tfleaf-$$
VPID=
leaf_cleanup() {
	[ -n "$VPID" ] && kill -TERM "$VPID" 2>/dev/null
	for _ in $(seq 100); do
		[ -n "$VPID" ] && kill -0 "$VPID" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$VPID" ] && kill -KILL "$VPID" 2>/dev/null
	if [ -d "$V2/$TCG" ]; then
		find "$V2/$TCG" -name cgroup.procs -exec cat {} + 2>/dev/null |
			xargs -r kill -KILL 2>/dev/null
		sleep 0.1
		find "$V2/$TCG" -depth -type d -exec rmdir {} + 2>/dev/null
	fi
}
EXTRA_CLEANUP=leaf_cleanup

init_state || bail "init"
mkdir "$V2/$TCG" || bail "cannot make a test cgroup in $V2"
# in the view, /sys/fs/cgroup is the v2 root: the same hierarchy as $V2
unshare -m --propagation private bash -c '
	umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup &&
	echo $$ >"/sys/fs/cgroup/$1/cgroup.procs" &&
	exec "$2" --state "$3"' _ "$TCG" "$TWOFOLDD" "$S" 2>>"$DLOG" &
VPID=$!
for _ in $(seq 100); do
	grep -q "moved into cgroup leaf" "$DLOG" 2>/dev/null && break
	sleep 0.05
done
check "the daemon says it moved into its leaf" \
	grep -q "moved into cgroup leaf twofoldd-self (pure cgroup v2)" "$DLOG"
procs=$(cat "$V2/$TCG/twofoldd-self/cgroup.procs" 2>/dev/null)
diag "leaf: $(echo $procs)"
check "the daemon is in the leaf" has "$VPID" "$procs"
# the spawner and the key guard are forked after the move: there too
n=$(wc -w <<<"$procs")
check "its spawner and its guard too (3 processes)" [ "$n" -ge 3 ]
check "nothing stays in the cgroup it was started in" \
	[ -z "$(cat "$V2/$TCG/cgroup.procs")" ]
# the persona cgroups go under the start cgroup, never under the leaf
for _ in $(seq 100); do
	grep -q "cgroup twofold-" "$DLOG" && break
	kill -0 "$VPID" 2>/dev/null || break
	sleep 0.05
done
check "no persona cgroup under the leaf" \
	[ -z "$(find "$V2/$TCG/twofoldd-self" -mindepth 1 -type d)" ]
# the view's daemon serves on (its personas could not start): stop it
# before the state dir gets a second one
kill -TERM "$VPID" 2>/dev/null
for _ in $(seq 200); do
	kill -0 "$VPID" 2>/dev/null || break
	sleep 0.05
done
kill -KILL "$VPID" 2>/dev/null
wait "$VPID" 2>/dev/null
VPID=
# without the view (hybrid host) the daemon stays where it is
start_daemon || bail "daemon (hybrid)"
check "on this hybrid host the daemon does not move" \
	not_has "twofoldd-self" "$(cat /proc/"$DPID"/cgroup)"

[ "$TAP_FAIL" = 0 ]
