#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# twofold pkg: keygen, build (twice, from trees that differ only in
# mtimes, owners and creation order: the same bytes), verify (--json),
# one bit flipped in the manifest and in the image, a wrong signer, a gm
# package on an intl trust, a hostile manifest, catalogs (build, verify,
# expired, wrong signer), and the payload mounted read-only from its
# offset shows the tree. Starts no daemon; cleans up its loop device,
# mount and directory on any exit.
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

W=$(mktemp -d /tmp/tf-pkg-XXXXXX)
MNT=$W/mnt
LOOP=
EXTRA_CLEANUP='mountpoint -q "$MNT" && umount "$MNT"; [ -n "$LOOP" ] && losetup -d "$LOOP"; rm -rf "$W"'

if ! command -v mkfs.erofs >/dev/null; then
	echo "1..0 # SKIP mkfs.erofs not installed (erofs-utils; tools/deps.sh)"
	exit 0
fi

pkg() { "$TWOFOLD" pkg "$@"; }

PK=$(pkg keygen --out "$W/org.key")
ok $? "keygen prints a public key"
check "key file is 0600" test "$(stat -c %a "$W/org.key")" = 600
pkg keygen --out "$W/org.key" >/dev/null 2>&1
ok $(( $? == 0 )) "keygen never overwrites a key"
check "pubkey prints the same key" test "$(pkg pubkey "$W/org.key")" = "$PK"
OTHER=$(pkg keygen --out "$W/other.key")
GMPK=$(pkg keygen --suite gm --out "$W/gm.key")

cat >"$W/manifest" <<'M'
# the test app
name = org.example.hello
version_code = 2
version = 1.0.1
personas = secure
permissions = network
entry = main=/bin/hello
M

# tree A, then tree B: the same files made in another order, other owners,
# other mtimes and modes of the directories' umask
mkdir -p "$W/a/bin" "$W/a/share/doc" "$W/a/z"
printf '#!/bin/sh\necho hello\n' >"$W/a/bin/hello"
chmod 755 "$W/a/bin/hello"
echo readme >"$W/a/share/doc/README"
echo z >"$W/a/z/last"
mkdir -p "$W/b/z" "$W/b/share/doc" "$W/b/bin"
echo z >"$W/b/z/last"
echo readme >"$W/b/share/doc/README"
printf '#!/bin/sh\necho hello\n' >"$W/b/bin/hello"
chmod 755 "$W/b/bin/hello"
chown -R 4242:4242 "$W/b"
touch -d '2001-02-03 04:05:06' "$W/b/bin/hello" "$W/b/share" "$W/b"

pkg build "$W/a" -o "$W/a.tfa" --key "$W/org.key" --manifest "$W/manifest"
ok $? "build tree A"
pkg build "$W/b" -o "$W/b.tfa" --key "$W/org.key" --manifest "$W/manifest"
ok $? "build tree B"
check "the same tree twice gives the same bytes" cmp -s "$W/a.tfa" "$W/b.tfa"
ls "$W"/*.XXXXXX "$W"/a.tfa.* >/dev/null 2>&1
ok $(( $? == 0 )) "no temporary file left behind"

OUT=$(pkg verify "$W/a.tfa" --trust "$PK" 2>&1)
ok $? "verify with the signer's key" "$OUT"
J=$(pkg --json verify "$W/a.tfa" --trust "$PK")
echo "$J" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["name"]=="org.example.hello" and d["version_code"]==2 and d["personas"]==["secure"] and d["entries"]=={"main":"/bin/hello"}' 2>/dev/null
ok $? "verify --json gives the manifest" "$J"

OUT=$(pkg verify "$W/a.tfa" --trust "$OTHER" 2>&1)
ok $(( $? == 0 )) "another signer's key: refused"
has "does not trust" "$OUT"; ok $? "  ... saying the signer is not trusted" "$OUT"

# one bit in the manifest, one in the image
cp "$W/a.tfa" "$W/m.tfa"
printf '\x03' | dd of="$W/m.tfa" bs=1 seek=$((64 + 30)) conv=notrunc 2>/dev/null
OUT=$(pkg verify "$W/m.tfa" --trust "$PK" 2>&1)
ok $(( $? == 0 )) "a changed manifest byte: refused" "$OUT"
has "does not verify" "$OUT"; ok $? "  ... as a bad signature" "$OUT"
cp "$W/a.tfa" "$W/i.tfa"
SZ=$(stat -c %s "$W/a.tfa")
B=$(dd if="$W/i.tfa" bs=1 skip=$((SZ - 100)) count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf %o $(( (B ^ 1) & 255 )))" | dd of="$W/i.tfa" bs=1 seek=$((SZ - 100)) conv=notrunc 2>/dev/null
OUT=$(pkg verify "$W/i.tfa" --trust "$PK" 2>&1)
ok $(( $? == 0 )) "one flipped bit in the image: refused" "$OUT"
has "payload does not match" "$OUT"; ok $? "  ... as a payload mismatch" "$OUT"
head -c $((SZ - 4096)) "$W/a.tfa" >"$W/t.tfa"
OUT=$(pkg verify "$W/t.tfa" --trust "$PK" 2>&1)
ok $(( $? == 0 )) "a truncated package: refused" "$OUT"

pkg build "$W/a" -o "$W/gm.tfa" --key "$W/gm.key" --manifest "$W/manifest"
ok $? "build a gm package"
OUT=$(pkg verify "$W/gm.tfa" --trust "$GMPK" 2>&1)
ok $? "gm package verifies with its gm key" "$OUT"
OUT=$(pkg verify "$W/gm.tfa" --trust "$PK" 2>&1)
ok $(( $? == 0 )) "gm package, intl trust: refused" "$OUT"
has "signed for the gm suite; this device uses intl" "$OUT"
ok $? "  ... in one clear line" "$OUT"

sed 's|^entry = .*|entry = main=/bin/../../etc/passwd|' "$W/manifest" >"$W/evil"
OUT=$(pkg build "$W/a" -o "$W/evil.tfa" --key "$W/org.key" --manifest "$W/evil" 2>&1)
ok $(( $? == 0 )) "a manifest with .. in an entry point: refused" "$OUT"
check "  ... and no package written" test ! -e "$W/evil.tfa"
sed 's|^permissions = .*|permissions = network,root|' "$W/manifest" >"$W/evil"
OUT=$(pkg build "$W/a" -o "$W/evil.tfa" --key "$W/org.key" --manifest "$W/evil" 2>&1)
has "unknown permission" "$OUT"; ok $? "an unknown permission: refused" "$OUT"

# the payload mounts read-only from its offset
OFF=$(echo "$J" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_offset"])')
mkdir -p "$MNT"
LOOP=$(losetup -f --show -r -o "$OFF" "$W/a.tfa")
mount -t erofs -o ro,nodev,nosuid "$LOOP" "$MNT"
ok $? "the payload mounts as erofs at its offset"
check "  ... with the tree's files" cmp -s "$MNT/bin/hello" "$W/a/bin/hello"
check "  ... owned by root" test "$(stat -c %u:%g "$MNT/bin/hello")" = 0:0
check "  ... with mtime 0" test "$(stat -c %Y "$MNT/bin/hello")" = 0
umount "$MNT"
losetup -d "$LOOP"
LOOP=

# catalogs
HASH=$(echo "$J" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_hash"])')
printf '# allowlist\norg.example.hello 1 5 %s secure\nmaps 1 1 * personal\n' "$HASH" >"$W/list"
pkg catalog build "$W/list" -o "$W/cat" --key "$W/org.key" --seq 3 --expires 2099-01-01
ok $? "catalog build"
OUT=$(pkg catalog verify "$W/cat" --trust "$PK" 2>&1)
ok $? "catalog verify" "$OUT"
has "catalog 3" "$OUT"; ok $? "  ... names its sequence number" "$OUT"
OUT=$(pkg catalog verify "$W/cat" --trust "$OTHER" 2>&1)
ok $(( $? == 0 )) "catalog, wrong signer: refused" "$OUT"
pkg catalog build "$W/list" -o "$W/old" --key "$W/org.key" --seq 4 --expires 2001-01-01
OUT=$(pkg catalog verify "$W/old" --trust "$PK" 2>&1)
ok $(( $? == 0 )) "an expired catalog: refused" "$OUT"
has "expired" "$OUT"; ok $? "  ... saying it expired" "$OUT"
printf 'bad line\n' >"$W/badlist"
OUT=$(pkg catalog build "$W/badlist" -o "$W/bad" --key "$W/org.key" --seq 1 --expires 2099-01-01 2>&1)
ok $(( $? == 0 )) "a malformed list: refused" "$OUT"

finish
