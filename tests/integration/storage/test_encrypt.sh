#!/bin/bash
# SPDX-License-Identifier: ISC
# Encrypted storage end to end: after `lock secure --evict` the image holds
# no plaintext of a secure file's content or name, every mount namespace
# sees only encoded names and ENOKEY, an open file does not stop the evict,
# unlock brings the data back, and personal never sees secure's data.
. "$(dirname "$0")/lib.sh"
echo "1..20"

CONTENT=CANARY_CONTENT_xyz
NAME=CANARY_NAME_xyz
SEC=$S/fs/secure/data

init_state 64M || { nok "init"; exit 1; }
ok "init"
check "daemon starts" start_daemon
out=$(pin enroll 111111)
check "enroll secure" has "credential set" "$out"
out=$(pin unlock 111111)
check "unlock secure" has "secure unlocked" "$out"

tf run secure -- sh -c "echo $CONTENT > /home/app/$NAME"
check "canary written from inside secure" test $? = 0
# positive control: plaintext on secure's file system outside its data dir
echo HOSTPLAIN_CONTROL_qwe >"$S/fs/secure/host_control"

# a process inside secure holds the canary open across the evict
tf run secure -- sh -c "exec 3</home/app/$NAME; sleep 1000" \
	>/dev/null 2>&1 &
HOLDER=$!
BG_PIDS="$BG_PIDS $HOLDER"
# count processes with the canary open (by device:inode: inside the
# persona the path reads /home/app/..., not the host path)
CINO=$(stat -c %d:%i "$SEC/home/app/$NAME")
open_fds() {
	local c=0 l
	for l in /proc/[0-9]*/fd/*; do
		[ "$(stat -L -c %d:%i "$l" 2>/dev/null)" = "$CINO" ] && c=$((c + 1))
	done
	echo $c
}
for _ in $(seq 50); do
	[ "$(open_fds)" -gt 0 ] && break
	sleep 0.1
done
check "control: a secure process holds the canary open" \
	test "$(open_fds)" -gt 0

out=$(tf lock secure --evict 2>&1)
check "evict succeeds with the file open (key removed)" \
	has "key removed in" "$out"
diag "$out"
check "no process holds a secure file after evict" test "$(open_fds)" = 0
st=$(tf status 2>&1)
check "status: secure locked" grep -Eq '^secure +locked' <<<"$st"
# the `twofold run` client of the killed app must learn it died
dead=1
for _ in $(seq 50); do
	kill -0 "$HOLDER" 2>/dev/null || { dead=0; break; }
	sleep 0.1
done
check "run client of a process killed by evict exits (daemon reports it)" \
	test $dead = 0

sync
echo 3 >/proc/sys/vm/drop_caches
check "positive control: host plaintext is found in the raw image" \
	test "$(grep -c HOSTPLAIN_CONTROL_qwe "$S/storage/secure.img")" -gt 0
check "raw image has no plaintext of the content" \
	test "$(grep -c $CONTENT "$S/storage/secure.img")" = 0
check "raw image has no plaintext of the file name" \
	test "$(grep -c $NAME "$S/storage/secure.img")" = 0
check "lsattr shows the E (encrypted) flag" \
	grep -Eq '^[^ ]*E[^ ]* ' <<<"$(lsattr -d "$SEC")"

# locked: every namespace sees encoded names and ENOKEY
enokey_view() {
	local names enc
	names=$(find "$SEC" -mindepth 1 2>/dev/null)
	[ -n "$names" ] || return 1
	grep -q "$NAME" <<<"$names" && return 1
	grep -q '/home/app' <<<"$names" && return 1
	# the encoded name of the canary: the only regular file
	enc=$(find "$SEC" -type f | head -1)
	[ -n "$enc" ] || return 1
	cat "$enc" 2>&1 >/dev/null | grep -q "Required key not available"
}
check "host: encoded names, cat fails with ENOKEY" enokey_view
export SEC NAME
check "unshare -m: encoded names, cat fails with ENOKEY" \
	unshare -m bash -c "$(declare -f enokey_view); enokey_view"

out=$(pin unlock 111111)
check "unlock after evict" has "secure unlocked" "$out"
got=$(tf run secure -- cat /home/app/$NAME 2>&1)
check "canary reads back intact" test "$got" = "$CONTENT"

# personal never sees secure's data, even with secure unlocked
tf run personal -- test -e "$SEC"
check "personal: host path of secure's data dir is absent" test $? = 1
out=$(tf run personal -- sh -c 'ls -a /home/app; find / -xdev -name "CANARY*" 2>/dev/null; grep -rl CANARY_CONTENT /home /tmp /var /run 2>/dev/null' 2>&1)
check "personal: no canary name or content visible" \
	eval '! has CANARY "$out"'
diag "personal sees: $(echo $out)"
