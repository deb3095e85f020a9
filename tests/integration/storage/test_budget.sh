#!/bin/bash
# SPDX-License-Identifier: ISC
# Per-persona storage budget: personal filling its storage (blocks, then
# inodes) must leave secure room to write. Each persona has an image of
# its own (storage/NAME.img): ext4 project quotas would have done it on
# one image, but this kernel (6.18 without CONFIG_QFMT_V2) refuses to
# mount an ext4 with the quota feature.
. "$(dirname "$0")/lib.sh"
echo "1..21"

init_state 64M || { nok "init"; exit 1; }
ok "init"
check "--size is the total: two 32 MiB images" \
	test "$(stat -c %s "$(img personal)")" = $((32 << 20)) -a \
	"$(stat -c %s "$(img secure)")" = $((32 << 20))
check "device.conf names each persona's share" \
	test "$(grep -c '^storage_size = 33554432$' "$S/device.conf")" = 2
check "daemon starts" start_daemon
out=$(pin enroll 111111)
check "enroll secure" has "credential set" "$out"
out=$(pin unlock 111111)
check "unlock secure" has "secure unlocked" "$out"

# ---- blocks ----
out=$(tf run personal -- sh -c \
	'dd if=/dev/zero of=/home/app/big bs=1M count=200 2>&1; echo rc=$?' 2>&1)
check "personal runs out of space (ENOSPC)" has "No space left" "$out"
out=$(tf run secure -- sh -c \
	'dd if=/dev/zero of=/home/app/reserve bs=1M count=4 2>&1 && : >/home/app/small && sync && echo WROTE' 2>&1)
check "secure can still write 4 MiB while personal is full" has WROTE "$out"
diag "secure: $(tf run secure -- df -k /home/app 2>&1 | tail -1)"
tf run personal -- rm -f /home/app/big

# ---- inodes ----
out=$(tf run personal -- sh -c \
	'mkdir -p /home/app/many; i=0; while [ $i -lt 40000 ] && : >/home/app/many/$i 2>/dev/null; do i=$((i+1)); done; echo made=$i; : >/home/app/many/last 2>&1' 2>&1)
diag "personal: ${out%%$'\n'*}"
check "personal ran out of inodes before 40000 files" \
	eval 'has "No space left" "$out" && ! has made=40000 "$out"'
out=$(tf run personal -- df -i /home/app 2>&1 | tail -1)
check "control: personal has no free inode" \
	test "$(awk '{ print $4 }' <<<"$out")" = 0
diag "personal: $out"
out=$(tf run secure -- sh -c \
	'mkdir -p /home/app/few && for i in 1 2 3 4 5 6 7 8; do : >/home/app/few/$i || exit 1; done && echo MADE' 2>&1)
check "secure can still create files while personal has no inode" \
	has MADE "$out"
check "secure's files are there after a sync" \
	test "$(tf run secure -- sh -c 'sync; ls /home/app/few | wc -l' 2>&1)" = 8

# ---- status ----
json=$(tf status --json 2>&1)
check "status --json: each persona's storage is its own" \
	eval '[ "$(grep -o "\"storage_shared\":false" <<<"$json" | wc -l)" = 2 ]'
stop_daemon
check "stop: no loop device left on the images" test -z "$(state_loops)"

# ---- an older state directory: one storage.img for every persona ----
# made by hand the way an older `twofold init` did; it keeps working,
# shared, with a warning
rm -rf "$S/storage" "$S/fs" "$S/mnt" "$S/keys"
fallocate -l 64M "$S/storage.img" && chmod 600 "$S/storage.img" &&
	mkfs.ext4 -q -F -b 4096 -O encrypt "$S/storage.img"
check "control: an older layout (storage.img, no storage/)" \
	test -f "$S/storage.img" -a ! -e "$S/storage"
: >"$S.log"
check "daemon starts on it" start_daemon
check "... warning that the storage is shared" \
	grep -q "storage is shared by all personas.*init --force for separate storage" "$S.log"
check "... mounted at mnt, as before" mountpoint -q "$S/mnt"
out=$(tf run personal -- sh -c 'echo old > /home/app/f && cat /home/app/f' 2>&1)
check "personal runs and writes on it" test "$out" = old
json=$(tf status --json 2>&1)
check "status --json: the storage is shared" \
	eval '[ "$(grep -o "\"storage_shared\":true" <<<"$json" | wc -l)" -ge 1 ]'
out=$(tf init --images 2>&1)
check "init --images refuses it, naming init --force" \
	has "re-create it with twofold --state $S init --force" "$out"
stop_daemon
