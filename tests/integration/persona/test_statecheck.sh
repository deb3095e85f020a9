#!/bin/bash
# SPDX-License-Identifier: ISC
# Host-side state safety (TAP): the image root is closed to host users;
# twofoldd refuses a state dir, device secret or key file that others can
# reach or that another uid owns; `init` closes an existing open dir; two
# devices get different host uid ranges, run side by side, and a device
# whose range overlaps a running one's is refused.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

S2=
D2PID=
EXTRA_CLEANUP='cleanup_s2'
cleanup_s2() {
	[ -n "$D2PID" ] && kill -TERM "$D2PID" 2>/dev/null && wait "$D2PID" 2>/dev/null
	cleanup_state "$S2"
}
mounts_of() { awk -v s="$(realpath "$1")/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts; }
one_line() { [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ]; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
uid_base_of() { # STATE PERSONA
	awk -v p="[persona $2]" '$0 == p {f=1} f && /^uid_base/ {print $3; exit}' "$1/device.conf"
}
# refused WHAT: the daemon must exit at once with one line naming WHAT
refused() {
	local what=$1 err r
	err=$(timeout 30 "$TWOFOLDD" --state "$S" 2>&1)
	r=$?
	[ "$r" -ne 0 ] && [ "$r" -ne 124 ] && one_line "$err" &&
		grep -qF -- "$what" <<<"$err" && [ -z "$(mounts_of "$S")" ]
	ok $? "refuses: $2" "rc=$r: $err"
}

setup_state
ok $([ "$(stat -c %a:%u "$S")" = 700:0 ]; echo $?) "init: state dir 0700 root" "$(stat -c %a:%u "$S")"

# --- the daemon refuses unsafe state (nothing started, nothing mounted)
chmod 755 "$S"
refused "chmod 700 $S" "state dir 0755"
chmod 700 "$S"
chmod 644 "$S/device.secret"
refused "chmod 600 $S/device.secret" "device.secret 0644"
chmod 600 "$S/device.secret"
mkdir -m 755 "$S/mnt" 2>/dev/null || chmod 755 "$S/mnt"
refused "chmod 700 $S/mnt" "mount point 0755"
chmod 700 "$S/mnt"
chmod 644 "$S/storage/secure.img"
refused "chmod 600 $S/storage/secure.img" "a persona's image 0644"
chmod 600 "$S/storage/secure.img"
chmod 755 "$S/storage"
refused "chmod 700 $S/storage" "the image directory 0755"
chmod 700 "$S/storage"
mkdir -p -m 700 "$S/fs" && mkdir -p -m 755 "$S/fs/personal" && chmod 755 "$S/fs/personal"
refused "chmod 700 $S/fs/personal" "a persona's mount point 0755"
chmod 700 "$S/fs/personal"

# --- init over an existing open directory closes it
S2=$(mktemp -d /tmp/tfp2.XXXXXX)
chmod 755 "$S2"
"$TWOFOLD" --state "$S2" init --size 64M >/dev/null
ok $([ "$(stat -c %a "$S2")" = 700 ]; echo $?) "init over a 0755 dir makes it 0700" "$(stat -c %a "$S2")"
sed -i 's/^kdf_target_ms = .*/kdf_target_ms = 20/;
	s/^kdf_min_mem_mib = .*/kdf_min_mem_mib = 8/;
	s/^allow_weak_credentials = .*/allow_weak_credentials = yes/' "$S2/device.conf"

# --- two devices: different ranges, side by side
p1=$(uid_base_of "$S" personal) p2=$(uid_base_of "$S2" personal)
s1=$(uid_base_of "$S" secure) s2=$(uid_base_of "$S2" secure)
ok $([ -n "$p1" ] && [ -n "$p2" ] && [ $((p1 / 131072)) -ne $((p2 / 131072)) ]; echo $?) \
	"init gave the two devices different uid slots" "$p1/$s1 vs $p2/$s2"
ok $([ $((s1 - p1)) -eq 65536 ] && [ "$p1" -ge 1048576 ] && [ "$s1" -lt 2147483648 ]; echo $?) \
	"ranges: secure after personal, 2^20..2^31" "$p1 $s1"

start_daemon || {
	echo "Bail out! daemon did not start"
	exit 1
}
"$TWOFOLDD" --state "$S2" -v 2>>"$S2.log" &
D2PID=$!
for _ in $(seq 100); do
	"$TWOFOLD" --state "$S2" status >/dev/null 2>&1 && break
	sleep 0.05
done
out=$(tf persona list; "$TWOFOLD" --state "$S2" persona list)
ok $([ "$(grep -c 'personal .*running' <<<"$out")" -eq 2 ]; echo $?) \
	"two daemons run their personal personas side by side" "$out $(tail -3 "$S2.log")"

# --- the image root is closed to host users, even past an open state dir
ok $([ "$(stat -c %a "$S/fs/personal")" = 700 ] && mountpoint -q "$S/fs/personal"; echo $?) \
	"personal's mounted image root is 0700" "$(stat -c %a "$S/fs/personal")"
tf run personal -- sh -c 'echo private > /tmp/tf-statecheck' ||
	diag "could not write a file in personal"
f=$S/mnt/personas/personal/tmp/tf-statecheck
[ -f "$f" ] || diag "no $f"
chmod 755 "$S" # as an earlier init left it; the daemon is already running
nobody ls "$S/mnt" >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "a host user cannot list <state>/mnt"
nobody ls "$S/fs/personal" >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "a host user cannot list <state>/fs/personal"
nobody cat "$f" >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "a host user cannot read a persona's /tmp file"
nobody ls "$S/mnt/personas/personal/tmp" >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "a host user cannot list a persona's /tmp"
chmod 700 "$S"

# --- a device whose range overlaps a running one's is refused
kill -TERM "$D2PID"
wait "$D2PID" 2>/dev/null
D2PID=
# (only personal runs on $S: secure has no credential yet)
sed -i "/^\[persona personal\]/,/^uid_base/ s/^uid_base = .*/uid_base = $((p1 + 100))/" "$S2/device.conf"
sed -i "/^\[persona secure\]/,/^uid_base/ s/^uid_base = .*/uid_base = $((p1 + 200000))/" "$S2/device.conf"
err=$(timeout 30 "$TWOFOLDD" --state "$S2" 2>&1)
r=$?
pid=$(grep -o 'by process [0-9]*' <<<"$err" | grep -o '[0-9]*$')
[ "$r" -ne 0 ] && [ "$r" -ne 124 ] && one_line "$err" &&
	grep -q "host uids $((p1 + 100))\.\.$((p1 + 100 + 65535)) of persona personal are already mapped by process" <<<"$err" &&
	[ -n "$pid" ] && grep -q "$p1" "/proc/$pid/uid_map"
ok $? "overlapping a running device's range: refused naming the process" "rc=$r: $err"
[ -z "$(mounts_of "$S2")" ]
ok $? "refused before mounting anything"

# --- key files: mode and owner (the daemon stopped first)
stop_daemon
k=$(find "$S/keys" -type f | head -1)
if [ -n "$k" ]; then
	chmod 640 "$k"
	refused "chmod 600 $k" "a key file 0640"
	chmod 600 "$k"
	chown 65534 "$k"
	refused "owned by uid 65534" "a key file owned by another uid"
	chown 0 "$k"
	d=$(dirname "$k")
	chmod 750 "$d"
	refused "chmod 700 $d" "a keys/<persona> dir 0750"
	chmod 700 "$d"
else
	ok 1 "a key file exists after the first start" "$(ls -lR "$S/keys" 2>&1)"
fi
start_daemon
ok $? "the daemon starts again once the modes are right"
finish
