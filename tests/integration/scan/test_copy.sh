#!/bin/bash
# SPDX-License-Identifier: ISC
# twofold copy into secure through quarantine and the scanner:
#  - no database / a tampered bundle / an untrusted signer: every import
#    refused with one line, audited;
#  - with a database signed by scan_trust's key (EICAR by .hdb, a marker
#    by .ndb, clamav-testfiles' clam.exe by .hdb when installed): EICAR,
#    the marker and clam.zip (clam.exe inside an archive) refused and
#    audited with the signature; a clean file arrives intact, owned by the
#    app, with its origin tag; a host path (root) too;
#  - symlink, '..', FIFO, huge (sparse) sources refused; secure -> personal
#    refused (no copy_flows), nothing appears in the Inbox for a refusal.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../persona/lib.sh"

T=$(mktemp -d /tmp/tfscan.XXXXXX)
EXTRA_CLEANUP="rm -rf $T"
SC=${TWOFOLD_SCANNER:?}

setup_state
INBOX=$S/fs/secure/data/home/app/Inbox

# the organisation's side: a key, a database, the signed bundle
PK=$("$SC" keygen --out "$T/db.key") || bail "keygen failed"
PK2=$("$SC" keygen --out "$T/other.key") || bail "keygen failed"
mkdir -p "$T/db" "$T/files"
# EICAR, assembled here (68 bytes)
printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-' \
	'ANTIVIRUS-TEST-FILE!$H+H*' >"$T/files/eicar.com"
echo "$(md5sum <"$T/files/eicar.com" | cut -d' ' -f1):68:Tf.Test.Eicar" >"$T/db/test.hdb"
# "TWOFOLD-TEST-MALWARE-MARKER" anywhere
echo "Tf.Test.Marker:0:*:$(printf TWOFOLD-TEST-MALWARE-MARKER | od -An -tx1 | tr -d ' \n')" >"$T/db/test.ndb"
# Wang and Yu's MD5 collision blocks: the same MD5, 6 bytes apart; a
# signature on bytes only the second has
python3 -c '
import sys
a = bytes.fromhex("d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f8955ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5bd8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70")
b = bytes.fromhex("d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f8955ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5bd8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70")
open(sys.argv[1], "wb").write(a); open(sys.argv[2], "wb").write(b)' "$T/files/twin-a" "$T/files/twin-b"
echo "Tf.Test.Twin:0:*:2fcab50712467eab4004583e" >>"$T/db/test.ndb"
TESTFILES=/usr/share/clamav-testfiles
if [ -f $TESTFILES/clam.exe ]; then
	echo "$(md5sum <$TESTFILES/clam.exe | cut -d' ' -f1):$(stat -c %s $TESTFILES/clam.exe):Tf.Test.ClamExe" >>"$T/db/test.hdb"
fi
# through `twofold pkg scandb` once the pkg verb dispatches to it
# (verb_pkg.c -> verb_pkg_scandb), else the helper binary it executes
if "$TWOFOLD" pkg scandb --help >/dev/null 2>&1 || "$TWOFOLD" help pkg >/dev/null 2>&1; then
	"$TWOFOLD" pkg scandb "$T/db" -o "$T/db.tfdb" --key "$T/db.key" >/dev/null
else
	"$SC" scandb "$T/db" -o "$T/db.tfdb" --key "$T/db.key" >/dev/null
fi
ok $? "pkg scandb packs and signs the database"
"$SC" scandb "$T/db" -o "$T/other.tfdb" --key "$T/other.key" >/dev/null
cp "$T/db.tfdb" "$T/bad.tfdb"
# flip one byte inside the first signature file's data
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[60]^=1; open(p,"wb").write(b)' "$T/bad.tfdb"

# set_scan DB TRUST: the secure section's scan keys
set_scan() {
	sed -i '/^scan_db = /d; /^scan_trust = /d' "$S/device.conf"
	sed -i "/^\[persona secure\]/a scan_db = $1\nscan_trust = $2" "$S/device.conf"
}

# a daemon with secure unlocked and a file in personal
up() {
	start_daemon || bail "daemon did not start"
	if [ ! -f "$T/enrolled" ]; then
		printf '123456\n' | tf enroll secure --pin-stdin >/dev/null || bail "enroll"
		touch "$T/enrolled"
	fi
	printf '123456\n' | tf unlock secure --pin-stdin >/dev/null || bail "unlock"
	tf run personal -- sh -c 'echo "quarterly report" > /home/app/report.txt' ||
		bail "cannot write in personal"
}
copy() { out=$(tf copy "$@" 2>&1); rc=$?; }
refused() { # NAME PATTERN
	if [ $rc -ne 0 ] && has "$2" "$out"; then ok "$1"; else nok "$1" "rc=$rc out=$out"; fi
}

# ---- no database: refused ----
set_scan "$T/missing.tfdb" "$PK"
up
copy personal:/home/app/report.txt secure:
refused "no database: import refused" "no scanner database"
[ ! -e "$INBOX/report.txt" ]
ok $? "no database: nothing in the Inbox"
stop_daemon

# ---- tampered bundle, untrusted signer ----
set_scan "$T/bad.tfdb" "$PK"
up
copy personal:/home/app/report.txt secure:
refused "tampered bundle: import refused" "scanner database refused"
stop_daemon
set_scan "$T/other.tfdb" "$PK"
up
copy personal:/home/app/report.txt secure:
refused "bundle by an untrusted signer: import refused" "not by a trusted key"
stop_daemon

# ---- the right database ----
set_scan "$T/db.tfdb" "$PK"
up
copy personal:/home/app/report.txt secure:
if [ $rc -eq 0 ] && has "scanned clean" "$out"; then ok "clean copy accepted"; else nok "clean copy accepted" "rc=$rc out=$out"; fi
got=$(tf run secure -- cat /home/app/Inbox/report.txt 2>&1)
[ "$got" = "quarterly report" ]
ok $? "the copy arrived intact in secure's Inbox" "got=$got"
tag=$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.twofold.origin").decode())' "$INBOX/report.txt" 2>&1)
has "personal:/home/app/report.txt blake2b-256=" "$tag"
ok $? "origin tag names the source and its hash" "tag=$tag"
sec_app=$(($(grep -A3 '^\[persona secure\]' "$S/device.conf" | sed -n 's/^uid_base = //p') + 1000))
[ "$(stat -c %u "$INBOX/report.txt")" = "$sec_app" ]
ok $? "the copy belongs to secure's app user"
copy personal:/home/app/report.txt secure:
[ $rc -eq 0 ] && [ -f "$INBOX/report.txt.1" ]
ok $? "a second copy gets a new name, the first stays"

# malware: EICAR, the ndb marker, clam.exe inside a zip
cp "$T/files/eicar.com" "$S/fs/personal/data/home/app/eicar.com" 2>/dev/null ||
	tf run personal -- sh -c "cat > /home/app/eicar.com" <"$T/files/eicar.com"
copy personal:/home/app/eicar.com secure:
refused "EICAR refused" "malware found: Tf.Test.Eicar"
[ ! -e "$INBOX/eicar.com" ]
ok $? "EICAR: nothing in the Inbox"
tf run personal -- sh -c 'echo "x TWOFOLD-TEST-MALWARE-MARKER y" > /home/app/m.txt'
copy personal:/home/app/m.txt secure:
refused "ndb marker refused" "Tf.Test.Marker"
# MD5 twins: the clean one is let in, the one with the signature is not
# (a clean-file cache keyed by MD5 would answer it from the first's
# verdict)
copy "$T/files/twin-a" secure:
[ $rc -eq 0 ]
ok $? "the clean half of an MD5 collision pair is let in" "rc=$rc out=$out"
copy "$T/files/twin-b" secure:
refused "  ... the other half, same MD5, is refused" "Tf.Test.Twin"
if [ -f $TESTFILES/clam.zip ]; then
	cp $TESTFILES/clam.zip "$T/clam.zip"
	copy "$T/clam.zip" secure:
	refused "clam.exe inside a zip refused (host path)" "Tf.Test.ClamExe"
else
	ok 1 "clam.zip # SKIP clamav-testfiles not installed"
fi

# host path (root): accepted into a named directory
echo "from the host" >"$T/host.txt"
copy "$T/host.txt" secure:cases
[ $rc -eq 0 ] && [ "$(cat "$INBOX/cases/host.txt")" = "from the host" ]
ok $? "a host file copied into Inbox/cases" "rc=$rc out=$out"

# hostile sources
tf run personal -- sh -c 'ln -sf /etc/shadow /home/app/link; mkfifo /home/app/fifo; truncate -s 300M /home/app/huge'
copy personal:/home/app/link secure:
refused "symlink source refused" "symbolic link"
copy personal:/home/app/../app/report.txt secure:
refused "'..' in the source refused" "without '..'"
copy personal:/home/app/fifo secure:
refused "FIFO source refused" "not a regular file"
copy personal:/home/app/huge secure:
refused "huge source refused" "at most"
copy personal:/home/app/report.txt secure:../x
refused "'..' as the destination refused" "directory name"

# the helper: the daemon's child, nobody, no capabilities, its own
# network namespace, seccomp on
scanner_pid() { ps -o pid=,comm= --ppid "$DPID" | awk '$2 ~ /^twofold-scann/ { print $1 }'; }
SP=$(scanner_pid)
st=$(cat /proc/"$SP"/status 2>/dev/null)
grep -qE '^Uid:\s+65534\s+65534\s+65534\s+65534' <<<"$st" &&
	grep -qE '^CapEff:\s+0+$' <<<"$st" && grep -qE '^Seccomp:\s+2' <<<"$st" &&
	grep -qE '^NoNewPrivs:\s+1' <<<"$st"
ok $? "scanner helper runs as nobody, no caps, no_new_privs, seccomp" "pid=$SP"
[ -n "$SP" ] && [ "$(readlink /proc/"$SP"/ns/net)" != "$(readlink /proc/"$DPID"/ns/net)" ]
ok $? "scanner helper has a network namespace of its own"
# a helper that died is replaced: the next copy is scanned by a new one
[ -n "$SP" ] && kill -KILL "$SP"
for _ in $(seq 100); do # dead (a zombie until the daemon waits for it)
	[ "$(awk '{ print $3 }' /proc/"$SP"/stat 2>/dev/null)" = Z ] && break
	sleep 0.05
done
copy personal:/home/app/report.txt secure:
[ $rc -eq 0 ] && [ -n "$(scanner_pid)" ] && [ "$(scanner_pid)" != "$SP" ]
ok $? "after the helper was killed a new one scans the next copy" "rc=$rc out=$out"
copy personal:/home/app/eicar.com secure:
refused "the new helper refuses EICAR too" "malware found"

# secure -> personal: no flow
tf run secure -- sh -c 'echo secret > /home/app/s.txt'
copy secure:/home/app/s.txt personal:
refused "secure -> personal refused" "not allowed"

# the audit log has every verdict
a=$(tf audit show 2>&1)
has "copy.refused" "$a" && has "Tf.Test.Eicar" "$a" && has "copy.accepted" "$a"
ok $? "copies and verdicts audited"
[ -z "$(ls -A "$S/quarantine" 2>/dev/null)" ]
ok $? "quarantine left empty"
stop_daemon
finish
