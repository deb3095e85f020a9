#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A full disk during install and update (issue 13 "Bad input"): the app
# store (STATE/apps/secure) is a small ext4 made here (a file on a loop
# device: erofs cannot mount an image kept on tmpfs), so the copy of a
# larger package runs out of space. Each refusal is one clear line,
# nothing is half-installed (no image, no record, no stray file), the
# installed version keeps running, and once there is room again the same
# package installs. Cleanup stops the daemon, then unmounts the store
# (its loop device goes with it: autoclear).
. "$(dirname "$0")/../persona/lib.sh"

command -v mkfs.erofs >/dev/null || {
	echo "1..0 # SKIP mkfs.erofs (erofs-utils) not installed"
	exit 0
}
setup_state
W=$(mktemp -d /tmp/tfappsdisk.XXXXXX)
STORE=$S/apps/secure
EXTRA_CLEANUP="umount -l $STORE 2>/dev/null; rm -rf $W"
pkg() { "$TWOFOLD" pkg "$@"; }
set_persona_conf() {
	sed -i "/^\[persona $1\]/,/^\[/ s|^#\?$2 =.*|$2 = $3|" "$S/device.conf"
}

PK=$(pkg keygen --out "$W/org.key") || bail "pkg keygen failed"
# build CODE KIB: $W/a-CODE.tfa with KIB KiB of random filler
build() {
	local t=$W/tree-$1
	mkdir -p "$t/bin"
	printf '#!/bin/sh\necho "org.a v%s"\n' "$1" >"$t/bin/main"
	chmod 755 "$t/bin/main"
	head -c $(($2 * 1024)) /dev/urandom >"$t/filler"
	printf 'name = org.a\nversion_code = %s\nversion = 1.%s\npersonas = secure\nentry = main=/bin/main\n' \
		"$1" "$1" >"$W/mf-$1"
	pkg build "$t" -o "$W/a-$1.tfa" --key "$W/org.key" --manifest "$W/mf-$1" >/dev/null
}
build 1 16 || bail "pkg build failed"
build 2 4096
build 3 64
printf 'org.a 1 9 * secure\n' >"$W/list"
pkg catalog build "$W/list" -o "$W/catalog" --key "$W/org.key" --seq 1 --expires 2099-01-01 ||
	bail "catalog build failed"
set_persona_conf secure app_trust "$PK"
set_persona_conf secure app_catalog "$W/catalog"
# secure installs only what its scanner passed (scandb.sh)
. "$(dirname "$0")/scandb.sh"
make_scan_db "$W" && use_scan_db secure || bail "scanner database failed"

mkdir -p "$STORE" && chmod 700 "$S/apps" "$STORE"
truncate -s 2M "$W/store.img" && mkfs.ext4 -q -O ^has_journal -m 0 "$W/store.img" &&
	mount -o loop "$W/store.img" "$STORE" && chmod 700 "$STORE" && rmdir "$STORE/lost+found" ||
	bail "cannot mount the test store"
start_daemon && enroll_unlock_secure || bail "daemon or secure did not start"
listing() { ls -a "$STORE" | tr '\n' ' '; }

out=$(tf app install secure "$W/a-1.tfa" 2>&1)
ok $? "install org.a 1 (fits)" "$out"
before=$(listing)
refusals() { tf audit show --persona secure 2>&1 | grep -c app.refused; }
nref=$(refusals)

out=$(tf app install secure "$W/a-2.tfa" 2>&1)
rc=$?
ok $((rc == 0)) "update to a package larger than the free space: refused" "rc=$rc $out"
has "no space left" "$out" && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]
ok $? "  ... in one line that says so" "$out"
[ "$(listing)" = "$before" ]
ok $? "  ... and nothing is left behind in the store" "before: $before; after: $(listing)"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = "org.a v1" ]
ok $? "  ... the installed version still runs" "$out"
out=$(tf app list secure 2>&1)
has "1.1" "$out" && not_has "1.2" "$out"
ok $? "  ... and is the one listed" "$out"
[ "$(refusals)" = $((nref + 1)) ]
ok $? "  ... the refusal is audited" "$(tf audit show --persona secure 2>&1 | grep app.refused)"

# fill the store to the brim: even a small update finds no room
dd if=/dev/zero of="$STORE/fill" bs=64k 2>/dev/null
out=$(tf app install secure "$W/a-3.tfa" 2>&1)
ok $(($? == 0)) "a small update on a store with no room at all: refused" "$out"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = "org.a v1" ]
ok $? "  ... the installed version still runs" "$out"

rm -f "$STORE/fill"
out=$(tf app install secure "$W/a-3.tfa" 2>&1)
ok $? "with room again the update installs" "$out"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = "org.a v3" ]
ok $? "  ... and runs" "$out"
stop_daemon
finish
