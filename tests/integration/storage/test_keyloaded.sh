#!/bin/bash
# SPDX-License-Identifier: ISC
# No state leaves a key in the kernel that status does not show or that
# `lock --evict` cannot remove. Each state is made, then the kernel is
# asked directly (keystatus.py: FS_IOC_GET_ENCRYPTION_KEY_STATUS on the
# data dir's policy identifier) and compared with status --json's
# key_loaded / key_status; then `lock --evict` must leave the key ABSENT.
# States: unlock onto a damaged data dir, a restart, a stop, an evict held
# up by a host process (EBUSY). Also: the daemon's 1 s timer counts on
# CLOCK_BOOTTIME (its timerfd's clockid), so suspended time counts toward
# lock_evict_after.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
echo "1..30"

SEC=$S/fs/secure/data
HOLDER=
cleanup_kl() {
	[ -n "$HOLDER" ] && kill -KILL "$HOLDER" 2>/dev/null
	[ -n "$HOLDER" ] && wait "$HOLDER" 2>/dev/null
	cleanup
}
trap cleanup_kl EXIT

# the kernel's status of the key of data dir $1 (default: secure's)
kernel() { python3 "$HERE/keystatus.py" "${1:-$SEC}" "$S/fs/secure"; }
sjson() { persona_field secure "$1"; }
sstate() { tf status 2>/dev/null | awk '$1 == "secure" { print $2 }'; }
# status agrees with the kernel: key_loaded true iff not absent
agrees() {
	local k
	k=$(kernel "$@")
	case $k in
	absent) [ "$(sjson key_loaded)" = false ] ;;
	present | incompletely_removed) [ "$(sjson key_loaded)" = true ] && [ "$(sjson key_status)" = "$k" ] ;;
	*) return 1 ;;
	esac
}
evict_gone() {
	tf lock secure --evict >/dev/null 2>&1
	[ "$(kernel "$@")" = absent ] && [ "$(sjson key_loaded)" = false ]
}

init_state
check "daemon starts" start_daemon
check "the daemon's timerfd counts on CLOCK_BOOTTIME (clockid 7)" \
	eval 'grep -l "^clockid: 7" /proc/$DPID/fdinfo/* >/dev/null 2>&1'
out=$(pin enroll 111111)
check "enroll secure" has "credential set" "$out"
check "locked, never unlocked: kernel absent, status agrees" \
	eval '[ "$(kernel)" = nodir ] && [ "$(sjson key_loaded)" = false ]'
check "lock --evict of a locked persona with no key: exit 0, says locked down" \
	eval 'out=$(tf lock secure --evict 2>&1) && has "already locked down" "$out"'

# ---- 1. unlock onto a damaged data dir ----
out=$(pin unlock 111111)
check "unlock secure" has "secure unlocked" "$out"
tf run secure -- sh -c 'echo kept > /home/app/kept' >/dev/null 2>&1
check "running: kernel present, status KEY yes" \
	eval 'agrees && tf status | awk "\$1 == \"secure\"" | grep -qw yes'
check "lock --evict: removed" evict_gone
# damage: the encrypted data dir is replaced by one with plaintext data
mv "$SEC" "$S/fs/secure/data.real"
mkdir "$SEC"
echo plain >"$SEC/junk"
out=$(pin unlock 111111)
rc=$?
check "unlock onto a damaged data dir fails" eval '[ $rc != 0 ] && has "unencrypted data" "$out"'
diag "$out"
check "the key added for it is out of the kernel again" \
	test "$(kernel "$S/fs/secure/data.real")" = absent
check "status: locked, key_loaded false" \
	eval '[ "$(sstate)" = locked ] && [ "$(sjson key_loaded)" = false ]'
rm -rf "$SEC"
mv "$S/fs/secure/data.real" "$SEC"
# damage 2: the data dir is a file
mv "$SEC" "$S/fs/secure/data.real"
echo x >"$SEC"
out=$(pin unlock 111111)
rc=$?
check "unlock onto a data dir that is a file fails" test $rc != 0
diag "$out"
check "and that key is out of the kernel again" \
	test "$(kernel "$S/fs/secure/data.real")" = absent
rm -f "$SEC"
mv "$S/fs/secure/data.real" "$SEC"
out=$(pin unlock 111111)
check "repaired: unlock works, data intact" \
	eval 'has "secure unlocked" "$out" && [ "$(tf run secure -- cat /home/app/kept 2>&1)" = kept ]'

# ---- 2. restart keeps the key (it restarts the persona) and shows it ----
out=$(tf persona restart secure 2>&1)
check "restart secure" has "restarted" "$out"
check "after restart: running, kernel present, status agrees" \
	eval '[ "$(sstate)" = running ] && [ "$(kernel)" = present ] && agrees'
check "lock --evict after restart removes it" evict_gone

# ---- 3. stop evicts ----
pin unlock 111111 >/dev/null
out=$(tf persona stop secure 2>&1)
check "stop secure: stopped and locked" has "stopped and locked" "$out"
check "after stop: kernel absent, status agrees" \
	eval '[ "$(kernel)" = absent ] && agrees && [ "$(sstate)" = locked ]'

# ---- 4. evict held up by a host process: EBUSY ----
pin unlock 111111 >/dev/null
sleep 1000 3<"$SEC/home/app/kept" &
HOLDER=$!
for _ in $(seq 50); do
	[ "$(readlink "/proc/$HOLDER/fd/3" 2>/dev/null)" = "$SEC/home/app/kept" ] && break
	sleep 0.1
done
out=$(tf lock secure --evict 2>&1)
check "lock --evict with a host holder: pending (files busy)" has "pending" "$out"
check "kernel: incompletely removed; status shows it (key_loaded true)" \
	eval '[ "$(kernel)" = incompletely_removed ] && agrees'
check "status text: KEY busy, state locked, not stopped" \
	eval 'tf status | awk "\$1 == \"secure\"" | grep -qw busy && [ "$(sstate)" = locked ]'
out=$(tf lock secure --evict 2>&1)
check "lock --evict while pending is accepted (not refused as locked)" has "pending" "$out"
out=$(tf persona stop secure 2>&1)
check "stop while pending is refused, says locked" has "locked" "$out"
kill -KILL "$HOLDER"
wait "$HOLDER" 2>/dev/null
HOLDER=
check "holder gone: lock --evict removes the key" evict_gone

# ---- 5. restart of a running persona whose key is pending cannot start it ----
out=$(pin unlock 111111)
check "unlock again" has "secure unlocked" "$out"
check "frozen: kernel present, status agrees" \
	eval 'tf lock secure >/dev/null && [ "$(sstate)" = frozen ] && agrees'
check "lock --evict of a frozen persona removes the key" evict_gone
check "status never says stopped for secure with a key" \
	eval '! { [ "$(sstate)" = stopped ] && [ "$(kernel)" != absent ]; }'
stop_daemon
check "at exit the key is gone" test "$(kernel)" = nodir
