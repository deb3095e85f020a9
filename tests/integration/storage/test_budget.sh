#!/bin/bash
# SPDX-License-Identifier: ISC
# Per-persona storage budget: personal filling the shared image (blocks,
# then inodes) must leave secure room to write. Not enforced yet: ext4
# project quotas are the mechanism, but this kernel (6.18 without
# CONFIG_QFMT_V2) refuses to mount an ext4 with the quota feature, so the
# checks that need a budget are TAP TODO (a known gap, docs/ARCHITECTURE.md).
. "$(dirname "$0")/lib.sh"
echo "1..7"

init_state 64M || { nok "init"; exit 1; }
ok "init"
check "daemon starts" start_daemon
out=$(pin enroll 111111)
check "enroll secure" has "credential set" "$out"
out=$(pin unlock 111111)
check "unlock secure" has "secure unlocked" "$out"

out=$(tf run personal -- sh -c \
	'dd if=/dev/zero of=/home/app/big bs=1M count=200 2>&1; echo rc=$?' 2>&1)
check "personal runs out of space (ENOSPC or EDQUOT)" \
	eval 'has "No space left" "$out" || has "quota exceeded" "$out"'
out=$(tf run personal -- sh -c \
	'mkdir -p /home/app/many; i=0; while [ $i -lt 40000 ] && : >/home/app/many/$i 2>/dev/null; do i=$((i+1)); done; echo made=$i' 2>&1)
diag "personal: $out"
ok "personal created files until it could not"
out=$(tf run secure -- sh -c \
	'dd if=/dev/zero of=/home/app/reserve bs=1M count=4 2>&1 && : >/home/app/small && sync && echo WROTE' 2>&1)
todo "secure can still write its reserve (needs project quotas)" \
	has WROTE "$out"
