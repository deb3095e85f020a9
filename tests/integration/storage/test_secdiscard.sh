#!/bin/bash
# SPDX-License-Identifier: ISC
# A credential change revokes the old credential, and crypto-erase leaves
# nothing, on the raw disk (docs/keys.md "Crypto-erase", "Crash safety"):
# the state directory is an ext4 file system in a loop-mounted image; after
# a change the image is scanned for the old discardable (must be gone) and
# the old sp.credential is put back (the old PIN opens nothing); an erase
# with an injected write error is reported, then finished; the erased
# discardable is not in the image. A second image mounted data=journal
# must give the "not dependable" warning at init and at daemon start.
. "$(dirname "$0")/lib.sh"
echo "1..23"

W=$(mktemp -d /tmp/tfsd.XXXX) # outside the images: copies, the images
LOOP=
LOOP2=
S1=$S
S2=$W/state2

# umount and detach what this test made, innermost first, even half-way
unmount_state() {
	local p
	stop_daemon
	for p in $(state_mounts); do umount -l "$p"; done
	for p in $(state_loops); do losetup -d "$p" 2>/dev/null; done
	mountpoint -q "$S" && umount "$S"
	return 0
}
final() {
	local s
	for s in "$S2" "$S1"; do
		if [ -d "$s" ]; then
			S=$s
			unmount_state
		fi
	done
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	[ -n "$LOOP2" ] && losetup -d "$LOOP2" 2>/dev/null
	S=$S1
	cleanup
	rm -rf "$W" "$S2.log"
}
trap final EXIT

# found_in FILE IMAGE [OFF]: 0 if FILE's bytes (from offset OFF) occur in
# IMAGE, 1 if not, 2 if either cannot be read (absent_in: exactly 1)
found_in() {
	python3 - "$1" "$2" "${3:-0}" <<'EOF'
import mmap, sys
try:
    needle = open(sys.argv[1], 'rb').read()[int(sys.argv[3]):]
    with open(sys.argv[2], 'rb') as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        hit = len(needle) > 0 and m.find(needle) >= 0
except OSError as e:
    print('#', e)
    sys.exit(2)
sys.exit(0 if hit else 1)
EOF
}
absent_in() {
	found_in "$@"
	[ $? = 1 ]
}
# make_fs IMAGE MOUNTPOINT OPTS: ext4 in IMAGE on a new loop device at
# MOUNTPOINT; the loop device's name in MADE_LOOP
make_fs() {
	truncate -s 400M "$1" && mkfs.ext4 -q -F -b 4096 "$1" &&
		MADE_LOOP=$(losetup -f --show "$1") &&
		mount -o "$3" "$MADE_LOOP" "$2"
}
K=$S/keys/secure

if ! make_fs "$W/img" "$S" data=ordered; then
	nok "ext4 state directory on a loop device"
	exit 1
fi
LOOP=$MADE_LOOP
ok "ext4 (data=ordered) state directory on $LOOP"
out=$(tf init --size 64M 2>&1)
check "init on data=ordered: no journal warning" eval '! has "data=journal" "$out"'
set_conf kdf_target_ms 20
set_conf kdf_min_mem_mib 8
set_conf allow_weak_credentials yes
set_conf throttle_free_tries 2
set_conf throttle_max_failures 3
set_conf throttle_base_delay 1
check "daemon starts" start_daemon
out=$(pin enroll 111111)
check "enroll PIN A" has "credential set" "$out"
cp "$K/discardable" "$W/disc.A" && cp "$K/sp.credential" "$W/sp.A"
out=$(printf '111111\n222222\n' | tf enroll secure --pin-stdin 2>&1)
check "change to PIN B" has "credential changed" "$out"
check "old generation gone, new one there" \
	eval '[ ! -e "$K/discardable" ] && [ -e "$K/discardable.1" ] &&
		[ ! -e "$K/sp.credential.old" ]'
cp "$K/discardable.1" "$W/disc.B" && cp "$K/sp.credential" "$W/sp.B"
how=$(grep -o 'old one destroyed by [a-z+]*' "$S.log" | tail -1)
diag "$how"
check "the old discardable's blocks were discarded (loop: plain discard)" \
	has "overwrite+discard" "$how"

unmount_state
sync
check "raw image: the new discardable is found (the scan works)" \
	found_in "$W/disc.B" "$W/img" 8
check "raw image: the old discardable's 4 KiB are gone" \
	absent_in "$W/disc.A" "$W/img" 8
check "raw image: the old sp.credential is gone too (destroyed, not freed)" \
	absent_in "$W/sp.A" "$W/img"

mount "$LOOP" "$S"
cp "$W/sp.A" "$K/sp.credential"
# the daemon checks every persona's key files at start: the old blob
# without its discardable is damage, so it refuses (and no PIN is tried)
daemon_fg
diag "$(head -1 <<<"$OUT")"
check "old sp.credential put back: the daemon refuses it as damaged" \
	eval '[ $DRC != 0 ] && has "cannot read key state: Bad message" "$OUT"'
# the same through the library: tf_keys_unlock with PIN A
out=$("$BUILD_ROOT/tests/integration/storage/keys_try" "$S" secure 111111)
diag "$out"
check "old sp.credential + PIN A: opens nothing" has "unlock: -74" "$out"
check "the new discardable survived that (nothing destroyed)" \
	test -e "$K/discardable.1"
cp "$W/sp.B" "$K/sp.credential"
check "daemon starts with the new sp.credential" start_daemon
out=$(pin unlock 111111)
check "PIN A: wrong credential" has "wrong credential" "$out"
out=$(pin unlock 222222)
check "PIN B unlocks" has "secure unlocked" "$out"
tf lock secure --evict >/dev/null 2>&1
stop_daemon

# erase at the maximum (3 failures; PIN B reset the count) with a write
# error injected into the overwrite
TWOFOLD_FAULT=erase-write-eio start_daemon
pin unlock 000000 >/dev/null
pin unlock 000000 >/dev/null
sleep 1.2 # the wait of B after F failures
out=$(pin unlock 000000)
diag "$out"
check "erase with an injected write error: reported, not 'erased'" \
	eval 'has "Input/output error" "$out" && ! has "crypto-erased" "$out"'
check "... and not recorded as done" \
	eval '! tf audit show | grep -q " erase\.[a-z_]* persona=secure"'
stop_daemon
start_daemon
out=$(pin unlock 222222)
check "next access: erased (PIN B opens nothing), event recorded" \
	eval 'has "crypto-erased" "$out" &&
		tf audit show | grep -q " erase\.[a-z_]* persona=secure"'
check "no key file of secure left (only its throttle record)" \
	test "$(ls "$K")" = throttle
unmount_state
sync
check "raw image: the erased discardable's 4 KiB are gone" \
	absent_in "$W/disc.B" "$W/img" 8

# data=journal: the warning at init and at daemon start
S=$S2
mkdir -p "$S"
if make_fs "$W/img2" "$S" data=journal; then
	LOOP2=$MADE_LOOP
	out=$(tf init --size 64M 2>&1)
	check "init on data=journal: warns" \
		has "state directory is on ext4 data=journal" "$out"
	set_conf kdf_target_ms 20
	set_conf kdf_min_mem_mib 8
	set_conf allow_weak_credentials yes
	start_daemon
	check "daemon start on data=journal: warns in its log" \
		grep -q "crypto-erase is not dependable there" "$S.log"
	# what the warning is about (a fact, not a check): after a change,
	# is the destroyed discardable still in the journal?
	pin enroll 111111 >/dev/null
	cp "$S/keys/secure/discardable" "$W/disc.J"
	printf '111111\n222222\n' | tf enroll secure --pin-stdin >/dev/null 2>&1
	unmount_state
	sync
	if found_in "$W/disc.J" "$W/img2" 8; then
		diag "data=journal: the destroyed discardable IS still in the image (journal)"
	else
		diag "data=journal: the destroyed discardable is not in the image"
	fi
else
	nok "init on data=journal: warns (no data=journal fs)"
	nok "daemon start on data=journal: warns (no data=journal fs)"
fi
