#!/bin/bash
# SPDX-License-Identifier: ISC
# Lock-down fails closed. (1) With the state directory on a small host
# file system that a persona fills, `lock secure --evict` still removes the
# key, and `persona start secure` is refused (the image is allocated, so
# the fill cannot turn into EIO under ext4). (2) An injected syncfs
# failure does not skip the removal either. (3) A host process holding a
# secure file open makes the evict return "pending" instead of hanging the
# daemon; the persona stays locked (start/restart refused, status shows
# it) until the background retry finds the key gone; an unlock during the
# pending removal adds the key again and works.
. "$(dirname "$0")/lib.sh"
echo "1..37"

SEC=$S/fs/secure/data
HOSTFS=
HOLDER=

cleanup_evict() {
	[ -n "$HOLDER" ] && kill -KILL "$HOLDER" 2>/dev/null
	[ -n "$HOLDER" ] && wait "$HOLDER" 2>/dev/null
	local keep=${KEEP_STATE:-0}
	# lib.sh's cleanup, but the tmpfs goes before the state is removed
	KEEP_STATE=1 cleanup >/dev/null
	if [ -n "$HOSTFS" ] && [ "$keep" != 1 ]; then
		umount -l "$HOSTFS" 2>/dev/null
		rm -rf "$S" "$S.log"
	fi
}
trap cleanup_evict EXIT

# json FIELD: secure's FIELD in status --json (true/false/number)
json() { persona_field secure "$1"; }
sstate() { tf status 2>/dev/null | awk '$1 == "secure" { print $2 }'; }
# the kernel's view: with the key gone, the names under the data dir are
# ciphertext (no "home"), whatever the daemon believes
names_ciphertext() { [ -d "$SEC" ] && ! [ -e "$SEC/home" ]; }
start_refused() {
	local out
	out=$(tf persona start secure 2>&1) && return 1
	has "locked" "$out"
}

# ---- 1. full host file system ----
HOSTFS=$S
mount -t tmpfs -o size=96M,mode=0700 tfevict "$S" || { nok "mount tmpfs"; exit 1; }
ok "state directory on a 96 MiB tmpfs"
init_state 48M
check "init --size 48M allocates secure's 24M image" \
	test $(($(stat -c %b "$S/storage/secure.img") * 512)) -ge $((24 << 20))
check "daemon starts" start_daemon
out=$(pin enroll 111111)
check "enroll secure" has "credential set" "$out"
out=$(pin unlock 111111)
check "unlock secure" has "secure unlocked" "$out"
tf run secure -- sh -c 'echo kept > /home/app/kept' >/dev/null 2>&1
# fill the host file system to the last block
dd if=/dev/zero of="$S/fill" bs=1M >/dev/null 2>&1
check "control: the host file system is full" \
	test "$(df --output=avail "$S" | tail -1)" -lt 1024
# dirty data in secure while the host is full
tf run secure -- sh -c \
	'dd if=/dev/urandom of=/home/app/f bs=1M count=8 2>/dev/null; echo x > /home/app/g' \
	>/dev/null 2>&1
out=$(tf lock secure --evict 2>&1)
check "lock --evict on a full host: key removed" has "key removed" "$out"
diag "$out"
check "status --json: key_loaded false" test "$(json key_loaded)" = false
check "status --json: no pending evict" test "$(json evict_pending)" = false
check "host sees only ciphertext names" names_ciphertext
check "persona start secure refused (needs the PIN)" start_refused
rm -f "$S/fill" # an unlock writes its try counter to the state directory
out=$(pin unlock 111111)
check "unlock again" has "secure unlocked" "$out"
got=$(tf run secure -- cat /home/app/kept 2>&1)
check "data written before the fill reads back" test "$got" = kept
stop_daemon

# ---- 1b. an old, sparse image on a host without the space ----
fallocate -d "$S/storage/secure.img" # dig holes: as sparse as an old image
check "control: the image is sparse now" \
	test $(($(stat -c %b "$S/storage/secure.img") * 512)) -lt $((24 << 20))
dd if=/dev/zero of="$S/fill" bs=1M >/dev/null 2>&1
daemon_fg
check "daemon refuses to start: the host lacks the space for the image" \
	eval '[ $DRC = 1 ] && has "lacks the space" "$OUT" && has "MiB more" "$OUT"'
diag "$OUT"
rm -f "$S/fill"
check "with the space back the daemon starts" start_daemon
check "and the image is allocated" \
	test $(($(stat -c %b "$S/storage/secure.img") * 512)) -ge $((24 << 20))
stop_daemon

# ---- 2. injected syncfs failure ----
export TWOFOLD_FAULT=evict-syncfs-eio
start_daemon
up=$?
unset TWOFOLD_FAULT
check "daemon starts with the syncfs fault" test $up = 0
out=$(pin unlock 111111)
check "unlock secure" has "secure unlocked" "$out"
out=$(tf lock secure --evict 2>&1)
check "evict with a failing syncfs still removes the key" \
	has "key removed" "$out"
check "and says the sync failed" has "syncing its files failed" "$out"
check "status --json: key_loaded false" test "$(json key_loaded)" = false
check "host sees only ciphertext names" names_ciphertext
check "persona start secure refused" start_refused
stop_daemon

# ---- 3. a host process holds a secure file open ----
check "daemon restarts" start_daemon
out=$(pin unlock 111111)
check "unlock secure" has "secure unlocked" "$out"
sleep 1000 3<"$SEC/home/app/kept" &
HOLDER=$!
# the child opens the file after the fork: wait until it holds it
for _ in $(seq 50); do
	[ -e "/proc/$HOLDER/fd/3" ] && [ "$(readlink "/proc/$HOLDER/fd/3")" = "$SEC/home/app/kept" ] && break
	sleep 0.1
done
check "control: a host process holds a secure file open" \
	test "$(readlink "/proc/$HOLDER/fd/3")" = "$SEC/home/app/kept"
out=$(tf lock secure --evict 2>&1)
rc=$?
check "lock --evict with a host holder: exit 1, says pending" \
	eval '[ $rc = 1 ] && has "pending" "$out" && has "files busy" "$out"'
diag "$out"
check "status: secure locked, evict pending" \
	eval 'has "evict: pending" "$(tf status 2>&1)" && [ "$(sstate)" = locked ]'
check "status --json: evict_pending true" test "$(json evict_pending)" = true
check "persona start refused while pending" start_refused
out=$(tf persona restart secure 2>&1)
rc=$?
check "persona restart refused while pending" \
	eval '[ $rc != 0 ] && has "locked" "$out"'
# unlock during the pending removal: the key is added again
out=$(pin unlock 111111)
check "unlock while the removal is pending" has "secure unlocked" "$out"
check "status --json: pending cancelled by the unlock" \
	test "$(json evict_pending)" = false
out=$(tf lock secure --evict 2>&1)
check "lock --evict again: pending" has "pending" "$out"
kill -KILL "$HOLDER"
wait "$HOLDER" 2>/dev/null
HOLDER=
cleared=1
for _ in $(seq 100); do
	[ "$(json evict_pending)" = false ] && { cleared=0; break; }
	sleep 0.1
done
check "the background retry removes the key once the holder is gone" \
	eval '[ $cleared = 0 ] && [ "$(json key_loaded)" = false ] && names_ciphertext'
out=$(pin unlock 111111)
check "unlock works afterwards" has "secure unlocked" "$out"
