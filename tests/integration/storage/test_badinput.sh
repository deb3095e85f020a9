#!/bin/bash
# SPDX-License-Identifier: ISC
# Bad input through the daemon: damaged or missing key files, broken
# device.conf / device.secret, init over an existing state, mkfs lookup
# independent of PATH, and a full storage image. Every refusal must be
# clear, and nothing may be rewritten or silently recreated.
. "$(dirname "$0")/lib.sh"
echo "1..31"

K=$S/keys
snap() { (cd "$S" && find device.conf device.secret keys -type f -print0 | sort -z | xargs -0 sha256sum); }

# mkfs.ext4 is looked up in a fixed list (storage.c), not in $PATH
out=$(PATH=/nonexistent "$TWOFOLD" --state "$S" init --size 64M 2>&1)
check "init works with PATH=/nonexistent (mkfs from /usr/sbin:/sbin:...)" \
	has "initialised" "$out"
set_conf kdf_target_ms 20
set_conf kdf_min_mem_mib 8
set_conf allow_weak_credentials yes
check "daemon starts" start_daemon
out=$(pin enroll 111111)
check "enroll" has "credential set" "$out"
out=$(pin unlock 111111)
check "unlock" has "secure unlocked" "$out"
tf run personal -- sh -c 'echo PDATA > /home/app/p' && tf run secure -- sh -c 'echo SDATA > /home/app/s'
check "data in both personas" test $? = 0

# ---- a full image: the app sees ENOSPC, the daemon keeps serving
out=$(tf run personal -- sh -c 'dd if=/dev/zero of=/home/app/big bs=1M 2>&1; echo "dd=$?"' 2>&1)
check "full image: the app gets 'No space left'" has "No space left on device" "$out"
check "full image: dd failed" has "dd=1" "$out"
check "full image: status still works" grep -Eq '^personal +running' <<<"$(tf status 2>&1)"
tf run personal -- rm -f /home/app/big
check "after removing the file: writes work again" \
	test "$(tf run personal -- sh -c 'echo OK2 > /home/app/q && cat /home/app/q' 2>&1)" = OK2
check "after removing the file: secure data intact" \
	test "$(tf run secure -- cat /home/app/s 2>&1)" = SDATA

# ---- init over an existing state
before=$(snap)
out=$(tf init --size 64M 2>&1)
rc=$?
check "init on an existing state without --force: refused" \
	eval '[ $rc != 0 ] && has "init --force" "$out"'
check "init without --force: state unchanged" test "$(snap)" = "$before"
stop_daemon

# ---- damaged wrapped key: refused, clearly, nothing rewritten
cp "$K/secure/sp.credential" "$S/sp.credential.good"
truncate -s 10 "$K/secure/sp.credential"
sum=$(sha256sum <"$K/secure/sp.credential")
check "daemon starts with a damaged secure key file" start_daemon
out=$(pin unlock 111111)
check "unlock with a damaged key file: refused, says damaged" \
	has "wrapped key file damaged" "$out"
check "damaged key file: not rewritten" \
	test "$(sha256sum <"$K/secure/sp.credential")" = "$sum"
out=$(printf '111111\n' | tf --json unlock secure --pin-stdin 2>/dev/null)
check "damaged key file: --json reason storage.damaged (EBADMSG)" \
	python3 -c 'import json, sys
e = json.loads(sys.argv[1])["error"]
sys.exit(not (e["reason"] == "storage.damaged" and e["errno"] == 74))' "$out"
stop_daemon
cp "$S/sp.credential.good" "$K/secure/sp.credential"
check "damaged key file: the refused try was not counted (19 of 20 left)" \
	eval 'start_daemon && has "wrong credential; 19 tries left" "$(pin unlock 999999)"'
stop_daemon
check "restored key file unlocks again" \
	eval 'start_daemon && has "secure unlocked" "$(pin unlock 111111)"'
stop_daemon

# ---- personal's key missing while its data exists: refuse, never recreate
mv "$K/personal/sp.device" "$S/sp.device.good"
daemon_fg
check "missing personal key with data: daemon refuses to start" test "$DRC" != 0
diag "$OUT"
check "... saying it will not create a new key over existing data" \
	has "refusing to create a new key over existing data" "$OUT"
check "... and no new key was created" test ! -e "$K/personal/sp.device"
# the whole keys/personal directory gone
mv "$K/personal" "$S/personal.keys"
daemon_fg
check "keys/personal gone with data: refuses, not over existing data" \
	eval '[ $DRC != 0 ] && has "refusing to create a new key over existing data" "$OUT"'
check "... and no new key was created (2)" test ! -e "$K/personal/sp.device"
rm -rf "$K/personal"
mv "$S/personal.keys" "$K/personal"
mv "$S/sp.device.good" "$K/personal/sp.device"

# ---- device.conf
cp "$S/device.conf" "$S/device.conf.good"
printf 'this is garbage\n' >>"$S/device.conf"
line=$(wc -l <"$S/device.conf")
daemon_fg
check "garbage line in device.conf: refused with its line number" \
	eval '[ $DRC != 0 ] && has "device.conf: line $line:" "$OUT"'
diag "$OUT"
cp "$S/device.conf.good" "$S/device.conf"
set_conf version 2
daemon_fg
check "device.conf version 2: 'written by a newer twofold'" \
	eval '[ $DRC != 0 ] && has "written by a newer twofold" "$OUT"'
cp "$S/device.conf.good" "$S/device.conf"

# ---- device.secret truncated
cp "$S/device.secret" "$S/device.secret.good"
truncate -s 7 "$S/device.secret"
daemon_fg
check "truncated device.secret: refused" test "$DRC" != 0
check "truncated device.secret: says damaged" \
	has "device.secret is damaged" "$OUT"
diag "$OUT"
check "truncated device.secret: not rewritten" \
	test "$(stat -c %s "$S/device.secret")" = 7
cp "$S/device.secret.good" "$S/device.secret"

# ---- everything restored: all works again, no data lost
check "restored state: daemon starts" start_daemon
out=$(pin unlock 111111)
check "restored state: secure unlocks" has "secure unlocked" "$out"
check "restored state: both personas' data intact" \
	test "$(tf run personal -- cat /home/app/p 2>&1)/$(tf run secure -- cat /home/app/s 2>&1)" = PDATA/SDATA
