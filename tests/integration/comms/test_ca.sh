#!/usr/bin/env bash
# Integration: twofold-ca in both suites: init (key file modes), device
# keygen, issue, show --ca, revoke + denylist, and the refusals (too long
# a validity, a suite mismatch, an unknown serial, a tampered cert, a
# second keygen over an identity key, a private key never shown). TAP.
# Works in a temp dir it removes.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}"
W=$(mktemp -d /tmp/tfca.XXXXXX)
EXTRA_CLEANUP='rm -rf "$W"'
ca() { "$TWOFOLD_CA" "$@"; }

for s in intl gm; do
	out=$(ca init --suite $s -o "$W/ca-$s" 2>&1)
	ok $? "$s: init" "$out"
	[ "$(stat -c %a "$W/ca-$s/ca.key")" = 600 ] &&
		[ "$(stat -c %a "$W/ca-$s")" = 700 ]
	ok $? "$s: ca.key is 0600 in a 0700 directory"
	out=$(ca keygen --suite $s -o "$W/dev-$s.key" 2>&1)
	ok $? "$s: device keygen" "$out"
	has "dh key:" "$out"
	ok $? "$s: keygen prints the public key" "$out"
	[ "$(stat -c %a "$W/dev-$s.key")" = 600 ]
	ok $? "$s: device key is 0600"
	ca keygen --suite $s -o "$W/dev-$s.key" >/dev/null 2>&1
	[ $? -ne 0 ]
	ok $? "$s: keygen refuses to replace an identity key"
	out=$(ca issue --ca "$W/ca-$s" --officer officer-7 --role officer \
		--pubkey "$W/dev-$s.key.pub" --days 14 -o "$W/$s.cert" 2>&1)
	ok $? "$s: issue" "$out"
	out=$(ca show "$W/$s.cert" --ca "$W/ca-$s" 2>&1)
	has "check against $W/ca-$s: certificate valid" "$out" &&
		has "officer: officer-7" "$out" && has "serial: 1" "$out"
	ok $? "$s: show verifies against the CA" "$out"
	out=$(ca issue --ca "$W/ca-$s" --officer o --role officer \
		--pubkey "$W/dev-$s.key.pub" --days 91 -o "$W/x" 2>&1)
	[ $? -ne 0 ] && has "--days must be 1..90" "$out"
	ok $? "$s: a 91-day certificate is refused" "$out"
	out=$(ca issue --ca "$W/ca-$s" --officer o --role chief \
		--pubkey "$W/dev-$s.key.pub" --days 1 -o "$W/x" 2>&1)
	[ $? -ne 0 ] && has "unknown role" "$out"
	ok $? "$s: an unknown role is refused" "$out"
	# one flipped byte in the signed part
	cp "$W/$s.cert" "$W/bad.cert"
	printf '\x7f' | dd of="$W/bad.cert" bs=1 seek=60 conv=notrunc 2>/dev/null
	out=$(ca show "$W/bad.cert" --ca "$W/ca-$s" 2>&1)
	[ $? -ne 0 ] && not_has "certificate valid" "$out"
	ok $? "$s: a tampered certificate fails the check" "$out"
	out=$(ca revoke --ca "$W/ca-$s" 9 2>&1)
	[ $? -ne 0 ] && has "not a serial this CA issued" "$out"
	ok $? "$s: revoking a serial never issued is refused" "$out"
	out=$(ca revoke --ca "$W/ca-$s" 1 2>&1)
	ok $? "$s: revoke 1" "$out"
	out=$(ca denylist --ca "$W/ca-$s" -o "$W/dl-$s" 2>&1)
	ok $? "$s: denylist" "$out"
	out=$(ca show "$W/dl-$s" --ca "$W/ca-$s" 2>&1)
	has "signature valid" "$out" && has "revoked serials: 1" "$out"
	ok $? "$s: the deny-list names serial 1 and verifies" "$out"
	out=$(ca show "$W/dev-$s.key" 2>&1)
	[ $? -ne 0 ] && not_has "sign key" "$out"
	ok $? "$s: show never prints a private key file" "$out"
	# no secret bytes on stdout/stderr of any command: the private key
	# file's hex never appears in what the tool printed
	sec=$(od -An -tx1 -j8 -N32 "$W/ca-$s/ca.key" | tr -d ' \n')
	all=$(ca show "$W/$s.cert" --ca "$W/ca-$s" 2>&1; ca denylist --ca "$W/ca-$s" -o "$W/dl2" 2>&1)
	not_has "$sec" "$all"
	ok $? "$s: the CA seed is never printed"
done
out=$(ca issue --ca "$W/ca-gm" --officer o --role officer \
	--pubkey "$W/dev-intl.key.pub" --days 1 -o "$W/x" 2>&1)
[ $? -ne 0 ] && has "is a intl key but this CA is gm" "$out"
ok $? "an intl device key is refused by a gm CA" "$out"
out=$(ca show "$W/intl.cert" --ca "$W/ca-gm" 2>&1)
[ $? -ne 0 ] && has "another crypto suite" "$out"
ok $? "an intl certificate fails against a gm CA" "$out"
finish
