#!/bin/bash
# SPDX-License-Identifier: ISC
# Foreground switching as apps see it: a declared camera node is usable
# from the foreground persona only, and `twofold switch` moves it.
#
# The node is made with mknod under the host's /dev (the persona library
# accepts device paths under /dev only, and binds each at the same path in
# the persona's /dev), with the numbers of /dev/net/tun (c 10 200): anyone
# may open that for writing where the device cgroup allows it. Not the
# numbers of /dev/null (c 1 3): the device cgroup works on numbers, so the
# background persona would lose its own /dev/null too, and a persona
# started in the background fails its setup ("open /dev/null: Operation
# not permitted").
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

CAM=/dev/tf-test-cam-$$
EXTRA_CLEANUP='rm -f "$CAM"'

setup_state
mknod -m 666 "$CAM" c 10 200 || {
	echo "Bail out! mknod $CAM failed"
	exit 1
}
printf '\n[device camera]\npath = %s\n' "$CAM" >>"$S/device.conf"
start_daemon && enroll_unlock_secure || {
	echo "Bail out! daemon or secure did not start"
	exit 1
}

# try PERSONA: "ok" if an app there can open the camera for writing,
# else the shell's error message
try() { tf run "$1" -- sh -c "exec 3> $CAM && echo ok" 2>&1; }
fg_of() { tf persona list | awk '$3 == "foreground" { print $1 }'; }

ok $([ "$(fg_of)" = personal ]; echo $?) "personal is foreground at start" "$(tf persona list)"
out=$(tf status)
echo "$out" | grep -Eq '^personal +running +\*'
ok $? "status marks personal with *" "$out"
tf run secure -- test -c "$CAM"
ok $? "the camera node is bound into secure's /dev too (same path)"
out=$(try personal)
ok $([ "$out" = ok ]; echo $?) "foreground personal can open the camera" "$out"
out=$(try secure)
echo "$out" | grep -q "Operation not permitted"
ok $? "background secure gets 'Operation not permitted'" "$out"

out=$(tf switch secure)
ok $([ "$out" = "secure is now foreground" ]; echo $?) "switch secure" "$out"
ok $([ "$(fg_of)" = secure ]; echo $?) "secure is foreground after switch" "$(tf persona list)"
out=$(tf status)
echo "$out" | grep -Eq '^secure +running +\*' && ! echo "$out" | grep -Eq '^personal +running +\*'
ok $? "status moves the * to secure" "$out"
out=$(try secure)
ok $([ "$out" = ok ]; echo $?) "foreground secure can open the camera" "$out"
out=$(try personal)
echo "$out" | grep -q "Operation not permitted"
ok $? "background personal gets 'Operation not permitted'" "$out"

tf switch personal >/dev/null
out=$(try personal)
ok $([ "$out" = ok ] && [ "$(fg_of)" = personal ]; echo $?) "switch back: personal can open it again" "$out"
out=$(try secure)
echo "$out" | grep -q "Operation not permitted"
ok $? "switch back: secure is refused again" "$out"

# a persona restarted while in the background stays refused
tf persona restart secure >/dev/null 2>&1 ||
	printf '123456\n' | tf unlock secure --pin-stdin >/dev/null
out=$(try secure)
echo "$out" | grep -q "Operation not permitted"
ok $? "restarted background secure is still refused" "$out"

# --- a locked persona never holds the foreground
unlock() { printf '123456\n' | tf unlock secure --pin-stdin >/dev/null; }
tf switch secure >/dev/null
out=$(tf lock secure)
ok $? "lock the foreground secure" "$out"
ok $([ "$(fg_of)" = personal ]; echo $?) "lock: the foreground moves to personal" "$(tf persona list)"
out=$(try personal)
ok $([ "$out" = ok ]; echo $?) "lock: personal can open the camera" "$out"
err=$(tf switch secure 2>&1)
rc=$?
ok $([ $rc -ne 0 ] && [ "${err##*: switch: }" = "secure is locked; unlock it first: twofold unlock secure" ]; echo $?) \
	"switch to the locked secure is refused" "rc=$rc: $err"
ok $([ "$(fg_of)" = personal ]; echo $?) "refused switch: personal stays foreground" "$(tf persona list)"
unlock
ok $([ "$(fg_of)" = personal ]; echo $?) "unlock does not take the foreground back" "$(tf persona list)"
out=$(try secure)
echo "$out" | grep -q "Operation not permitted"
ok $? "unlocked background secure still cannot open the camera" "$out"

tf switch secure >/dev/null
out=$(tf lock secure --evict)
ok $? "evict the foreground secure" "$out"
ok $([ "$(fg_of)" = personal ]; echo $?) "evict: the foreground moves to personal" "$(tf persona list)"
out=$(try personal)
ok $([ "$out" = ok ]; echo $?) "evict: personal can open the camera" "$out"
err=$(tf switch secure 2>&1)
ok $([ $? -ne 0 ] && grep -q "secure is locked; unlock it first" <<<"$err"; echo $?) \
	"switch to the evicted secure is refused" "$err"
unlock
ok $([ "$(fg_of)" = personal ]; echo $?) "evicted then unlocked: personal keeps the foreground" "$(tf persona list)"

# --- an fd opened in the foreground does not go into the background with
# the persona: input fds are revoked (EVIOCREVOKE; this host has no input
# devices and no uinput to exercise it), holders of other devices (no
# revoke exists for them) are killed
tf run personal -- sh -c "exec 3> $CAM; echo held; exec sleep 60" >"$S.hold" 2>&1 &
HOLD=$!
EXTRA_CLEANUP='rm -f "$CAM"; kill $HOLD 2>/dev/null'
for _ in $(seq 100); do grep -q held "$S.hold" 2>/dev/null && break; sleep 0.05; done
pid=$(for p in $(pgrep -f "sleep 60"); do [ "$(stat -Lc %t:%T "/proc/$p/fd/3" 2>/dev/null)" = a:c8 ] && echo $p; done | head -1)
ok $([ -n "$pid" ]; echo $?) "personal's app holds the camera on fd 3 (pid $pid)"
tf switch secure >/dev/null
for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$pid" 2>/dev/null
ok $? "switch away: the holder of the camera is gone" "$(tail -5 "$DLOG")"
grep -q "personal: killed pid $pid: it held fd 3 of $CAM into the background" "$DLOG"
ok $? "... and the daemon says which and why" "$(tail -5 "$DLOG")"
wait $HOLD 2>/dev/null
ok $([ $? = 137 ]; echo $?) "the run reports the kill (137)"
rm -f "$S.hold"
tf switch personal >/dev/null

# switching to an unknown persona changes nothing
err=$(tf switch nosuch 2>&1)
ok $([ $? = 1 ] && [ "$(fg_of)" = personal ]; echo $?) \
	"switch nosuch: exit 1, personal stays foreground" "$err"

finish
