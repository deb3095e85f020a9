#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Issue 13, an adversarial pass (docs/packages.md, docs/exec.md): what a
# thief with the disk, a hostile package and an app in secure try.
# - The thief (the daemon down): an app record edited to raise its
#   permissions or fs rules, to name another app's image or another uid
#   (0, another app's); an image swapped for one of another signer, or for
#   an older signed build of the same app. The next start re-verifies
#   every image with the package checker and compares the record with the
#   signed manifest: none of them runs, each is audited app.disabled
#   reason=app.tampered; restored, all run again.
# - A hostile package: a setuid binary and a device node in its image do
#   nothing (nosuid, nodev); a signed ELF with a writable and executable
#   segment does not run (MDWE); fs = rw:/proc does not make
#   /proc/self/mem writable.
# - An app in secure: a script given to an interpreter through an fd
#   (`python3 /dev/fd/3 3</tmp/x`) or an environment variable
#   (`BASH_ENV`, `ENV`, `PYTHONSTARTUP`) is refused; every writable mount it sees is noexec, the bound
#   device nodes too (a device's buffer would map PROT_EXEC); no memfd
#   (its code would map PROT_EXEC from its fd); /proc/self/mem cannot be
#   opened write-only; an app without `network` gets no UDP datagram
#   through, even to loopback.
# The persona's mounts go with it; cleanup stops the daemon and removes
# the state dir.
. "$(dirname "$0")/../persona/lib.sh"

command -v mkfs.erofs >/dev/null || {
	echo "1..0 # SKIP mkfs.erofs (erofs-utils) not installed"
	exit 0
}
setup_state
W=$(mktemp -d /tmp/tfred13.XXXXXX)
EXTRA_CLEANUP="rm -rf $W"
pkg() { "$TWOFOLD" pkg "$@"; }
set_persona_conf() {
	sed -i "/^\[persona $1\]/,/^\[/ s|^#\?$2 =.*|$2 = $3|" "$S/device.conf"
}

PK=$(pkg keygen --out "$W/org.key") || bail "pkg keygen failed"
pkg keygen --out "$W/other.key" >/dev/null || bail "pkg keygen failed"
. "$(dirname "$0")/scandb.sh"
make_scan_db "$W" || bail "scanner database failed"
# tree NAME CODE MARK: the app's files; its entry prints MARK
tree() {
	local t=$W/tree-$1-$2-$3
	mkdir -p "$t/bin"
	cat >"$t/bin/main" <<S
#!/bin/sh
case "\$1" in
write) echo "secret of $1" >"\$HOME/data" && echo WROTE ;;
read) cat "/var/apps/\$2/data" ;;
id) id -u ;;
py) python3 -c "\$2" ;;
tmp) echo x >"/tmp/\$\$" && rm "/tmp/\$\$" && echo TMP-OK ;;
net) python3 -c '
import socket
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.socket()
try:
    c.connect(l.getsockname()); print("CONNECTED")
except OSError as e:
    print("REFUSED", e.errno)
' ;;
*) echo "$3" ;;
esac
S
	chmod 755 "$t/bin/main"
	echo "$t"
}
# build NAME CODE PERMS MARK [KEY]: $W/NAME-CODE[-MARK].tfa
manifest() {
	printf 'name = %s\nversion_code = %s\nversion = 1.%s\npersonas = secure\n' "$1" "$2" "$2"
	[ -n "$3" ] && printf 'permissions = %s\n' "$3"
	printf 'entry = main=/bin/main\n'
}
build() {
	manifest "$1" "$2" "$3" >"$W/mf-$1-$2"
	pkg build "$(tree "$1" "$2" "$4")" -o "$W/$1-$2-$4.tfa" --key "${5:-$W/org.key}" \
		--manifest "$W/mf-$1-$2" >/dev/null
}
build org.a 1 network A1 || bail "pkg build failed"
build org.a 2 network A2
build org.b 1 "" B1
build org.b 1 "" PWNED "$W/other.key"
build org.b 2 "" B2
# org.s: a setuid copy of id and a device node (/dev/zero's numbers)
t=$(tree org.s 1 S1)
cp /usr/bin/id "$t/bin/suid" && chmod 4755 "$t/bin/suid"
mkdir -p "$t/dev" && mknod "$t/dev/zero" c 1 5
# ... and two static ELFs that print and exit: rwx has one writable and
# executable segment (the kernel maps it at execve, where seccomp sees no
# mmap: without the kernel's MDWE it runs, and could run whatever it
# wrote there), rx the same code read-only (the control)
mkelf() { # mkelf FLAGS TEXT OUT
	python3 - "$@" <<'P'
import struct, sys
flags, text, out = int(sys.argv[1]), sys.argv[2].encode() + b"\n", sys.argv[3]
code = (b"\x48\x8d\x35" + struct.pack("<i", 26) +          # lea rsi, [rip+26]
        b"\xbf\x01\x00\x00\x00" +                          # mov edi, 1
        b"\xba" + struct.pack("<I", len(text)) +            # mov edx, len
        b"\xb8\x01\x00\x00\x00\x0f\x05" +                  # mov eax, 1; syscall
        b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05") + text    # exit(0)
size = 64 + 56 + len(code)
eh = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
    "<HHIQQQIHHHHHH", 2, 62, 1, 0x400078, 64, 0, 0, 64, 56, 1, 64, 0, 0)
ph = struct.pack("<IIQQQQQQ", 1, flags, 0, 0x400000, 0x400000, size, size, 0x1000)
open(out, "wb").write(eh + ph + code)
P
	chmod 755 "$3"
}
# stk: read-only code, but PT_GNU_STACK asks for an executable stack
# (MDWE does not cover it): it copies exit(7) onto its stack and jumps there
mkstack() {
	python3 - "$1" <<'P'
import struct, sys
stub = b"\xb8\x3c\x00\x00\x00\xbf\x07\x00\x00\x00\x0f\x05\x90\x90\x90\x90"  # exit(7)
lo, hi = struct.unpack("<QQ", stub)
code = (b"\x48\x83\xec\x40" + b"\x48\xb8" + struct.pack("<Q", lo) + b"\x48\x89\x04\x24" +
        b"\x48\xb8" + struct.pack("<Q", hi) + b"\x48\x89\x44\x24\x08" + b"\xff\xe4")
hdr = 64 + 2 * 56
size = hdr + len(code)
eh = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
    "<HHIQQQIHHHHHH", 2, 62, 1, 0x400000 + hdr, 64, 0, 0, 64, 56, 2, 64, 0, 0)
ph = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, size, size, 0x1000)
ph += struct.pack("<IIQQQQQQ", 0x6474e551, 7, 0, 0, 0, 0, 0, 16)
open(sys.argv[1], "wb").write(eh + ph + code)
P
	chmod 755 "$1"
}
mkelf 7 RWX-RAN "$t/bin/rwx" && mkelf 5 RX-RAN "$t/bin/rx" && mkstack "$t/bin/stk" ||
	bail "cannot make the test ELFs"
manifest org.s 1 "" >"$W/mf-org.s-1"
printf 'entry = suid=/bin/suid\nentry = rwx=/bin/rwx\nentry = rx=/bin/rx\nentry = stk=/bin/stk\n' >>"$W/mf-org.s-1"
pkg build "$t" -o "$W/org.s-1.tfa" --key "$W/org.key" --manifest "$W/mf-org.s-1" >/dev/null ||
	bail "pkg build of org.s failed"
# org.w: a manifest asking to write /proc (its mem files would make the
# app's own code writable, past W^X): the app's Landlock domain is nested
# in the launcher's, which never lets /proc be written
manifest org.w 1 "" >"$W/mf-org.w-1"
printf 'fs = rw:/proc\n' >>"$W/mf-org.w-1"
pkg build "$(tree org.w 1 W1)" -o "$W/org.w-1.tfa" --key "$W/org.key" --manifest "$W/mf-org.w-1" >/dev/null ||
	bail "pkg build of org.w failed"
printf 'org.a 1 9 * secure\norg.b 1 9 * secure\norg.s 1 9 * secure\norg.w 1 9 * secure\n' >"$W/list"
pkg catalog build "$W/list" -o "$W/catalog" --key "$W/org.key" --seq 1 --expires 2099-01-01 ||
	bail "catalog build failed"
set_persona_conf secure app_trust "$PK"
set_persona_conf secure app_catalog "$W/catalog"
use_scan_db secure

start_daemon && enroll_unlock_secure || bail "daemon or secure did not start"
A=$S/apps/secure
restart() {
	stop_daemon
	start_daemon && printf '123456\n' | tf unlock secure --pin-stdin >/dev/null
}
audit_tampered() {
	tf audit show --persona secure 2>&1 | grep app.disabled | grep "name=$1" |
		grep -q "reason=app.tampered"
}

for f in org.a-1-A1 org.b-1-B1 org.s-1; do
	out=$(tf app install secure "$W/$f.tfa" 2>&1) || bail "install $f failed: $out"
done
out=$(tf app install secure "$W/org.a-2-A2.tfa" 2>&1) || bail "update of org.a failed: $out"
out=$(tf run secure --app org.a -- write 2>&1)
[ "$out" = WROTE ]
ok $? "org.a 2 installed, writes its data" "$out"
out=$(tf run secure --app org.b -- net 2>&1)
has "REFUSED 111" "$out"
ok $? "org.b (no network) cannot connect" "$out"

# ---- a hostile package: setuid and device nodes inside the image ----
out=$(tf run secure --app org.s:suid -- -u 2>&1)
[ -n "$out" ] && [ "$out" != 0 ]
ok $? "a setuid-root binary in an image does not run as root (nosuid)" "$out"
out=$(tf run secure --app org.s:rx 2>&1)
[ "$out" = RX-RAN ]
ok $? "a signed static ELF of an image runs (control for the next check)" "$out"
out=$(tf run secure --app org.s:rwx 2>&1)
rc=$?
[ $rc != 0 ] && not_has RWX-RAN "$out"
ok $? "a signed ELF with a writable and executable segment does not run (MDWE: the kernel's W^X at execve)" "rc=$rc $out"
out=$(tf run secure --app org.s:stk 2>&1)
rc=$?
[ $rc != 7 ] && [ $rc != 0 ]
ok $? "a signed ELF asking for an executable stack does not run (the gate reads its program headers)" "rc=$rc $out"
tf audit show --persona secure 2>&1 | grep exec.denied | grep -q "kind=wx"
ok $? "  ... audited exec.denied kind=wx" "$(tf audit show --persona secure 2>&1 | grep exec.denied | tail -3)"
out=$(tf run secure -- sh -c 'ls -l /apps/org.s/dev/zero && head -c1 /apps/org.s/dev/zero | od -An -tx1; echo rc=$?' 2>&1)
has "Permission denied" "$out" || has "Operation not permitted" "$out"
ok $? "a device node in an image does not open (nodev)" "$out"

out=$(tf app install secure "$W/org.w-1.tfa" 2>&1)
rc=$?
MEMPY='
import ctypes, os
libc = ctypes.CDLL(None)
addr = ctypes.cast(libc.getppid, ctypes.c_void_p).value
try:
    fd = os.open("/proc/self/mem", os.O_RDWR)
    os.pwrite(fd, b"\xb8\x2a\x00\x00\x00\xc3", addr)
    print("PATCHED", libc.getppid())
except OSError as e:
    print("mem", e.strerror)
'
ran=$(tf run secure --app org.w -- py "$MEMPY" 2>&1)
[ $rc = 0 ] && not_has PATCHED "$ran" && has "Permission denied" "$ran"
ok $? "a package with fs = rw:/proc still cannot write /proc/self/mem (the launcher's Landlock domain)" "rc=$rc $out; run: $ran"

# ---- an app in secure ----
out=$(tf run secure -- awk '$6 ~ /(^|,)rw(,|$)/ && $6 !~ /noexec/ {print $5}' /proc/self/mountinfo 2>&1)
[ -z "$out" ]
ok $? "secure: every writable mount is noexec" "$out"
PY='
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
print("memfd", "made" if libc.memfd_create(b"x", 0) >= 0 else errno.errorcode[ctypes.get_errno()])
p = libc.mmap(None, 4096, 1 | 4, 2, os.open("/dev/zero", os.O_RDONLY), 0)
print("dev-rx", "ok" if p not in (None, 2**64 - 1) else errno.errorcode[ctypes.get_errno()])
try:
    os.open("/proc/self/mem", os.O_WRONLY); print("mem-w ok")
except OSError as e:
    print("mem-w", errno.errorcode[e.errno])
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 0)); r.settimeout(0.5)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", r.getsockname()); r.recv(1); print("udp got")
except OSError as e:
    print("udp", "timeout" if isinstance(e, socket.timeout) else errno.errorcode.get(e.errno, "?"))
'
out=$(tf run secure -- python3 -c "$PY" 2>&1)
echo "$out" | grep -qx "memfd ENOSYS"
ok $? "secure: no memfd (code written there would map PROT_EXEC from its fd)" "$out"
echo "$out" | grep -qx "dev-rx EPERM"
ok $? "secure: a device does not map executable (its binds are noexec)" "$out"
echo "$out" | grep -qE "^mem-w (EACCES|EPERM)$"
ok $? "secure: /proc/self/mem cannot be opened write-only" "$out"
echo "$out" | grep -qx "udp got"
ok $? "  (the persona's own user gets its UDP datagram)" "$out"
out=$(tf run secure --app org.b -- py "$PY" 2>&1)
echo "$out" | grep -qE "^udp (timeout|ECONNREFUSED|EPERM)$"
ok $? "an app without network gets no UDP datagram through, even on loopback" "$out"

# interpreters given a script through an fd or a startup file named in
# the environment: the argument names the fd, not the file, or there is
# none; the gate matches the fd's file and the variables' names (a data file read while an
# fd argument names something else stays readable)
tf run secure -- sh -c 'printf "echo FD-RAN\n" >/tmp/plain; printf "print(\"FD-RAN\")\n" >/tmp/pplain; printf "BEGIN{print \"FD-RAN\"}\n" >/tmp/aplain; echo data >/tmp/notes' 2>&1
for cmd in "python3 /dev/fd/3 3</tmp/pplain" "sh /dev/fd/3 3</tmp/plain" \
	"awk -f /dev/fd/3 3</tmp/aplain" "sh /dev/stdin </tmp/plain" \
	"python3 /proc/self/fd/3 3</tmp/pplain" "BASH_ENV=/tmp/plain bash -c true" \
	"ENV=/tmp/plain sh -i </dev/null" "PYTHONSTARTUP=/tmp/pplain python3 -i </dev/null"; do
	out=$(tf run secure -- sh -c "$cmd" 2>&1)
	# (dash -i says nothing when it cannot open $ENV)
	not_has FD-RAN "$out" && { has "ermitted" "$out" || [ "${cmd#ENV=}" != "$cmd" ]; }
	ok $? "secure: '$cmd' is refused" "$out"
done
out=$(tf run secure -- sh -c 'python3 -c "import sys; print(open(\"/tmp/notes\").read().strip())" /dev/stdin </dev/null' 2>&1)
[ "$out" = data ]
ok $? "secure: ... while an interpreter with /dev/stdin as argument still reads a data file" "$out"

# abstract unix sockets: an app's own domain is scoped, so an app without
# network cannot reach a process with it that way (the persona user's,
# another app's); the persona user and the app itself still can
ABS='
import socket, sys, time
if sys.argv[1] == "listen":
    l = socket.socket(socket.AF_UNIX); l.bind("\0tf-red13-" + sys.argv[2]); l.listen(4)
    print("LISTENING", flush=True)
    while True:
        l.accept()[0].close()
c = socket.socket(socket.AF_UNIX)
try:
    c.connect("\0tf-red13-" + sys.argv[2]); print("CONNECTED")
except OSError as e:
    print("REFUSED", e.strerror)
'
# (in the background: run waits for its process; the persona's processes
# go with the persona at the end)
tf run secure --service -- sh -c 'python3 -c "$1" listen user </dev/null >/dev/null 2>&1 &' sh "$ABS" >/dev/null 2>&1
out=""
for _ in $(seq 50); do # the listener is up when the persona user connects
	out=$(tf run secure -- python3 -c "$ABS" connect user 2>&1)
	[ "$out" = CONNECTED ] && break
	sleep 0.1
done
[ "$out" = CONNECTED ]
ok $? "  (the persona user reaches its own abstract socket)" "$out"
out=$(tf run secure --app org.b -- py "import sys; sys.argv = ['', 'connect', 'user']
$ABS" 2>&1)
has "REFUSED" "$out" && not_has CONNECTED "$out"
ok $? "an app without network cannot connect to the persona user's abstract socket" "$out"
out=$(tf run secure --app org.b -- py "import socket
l = socket.socket(socket.AF_UNIX); l.bind(\"\\0tf-red13-own\"); l.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect(\"\\0tf-red13-own\"); print(\"OWN-OK\")" 2>&1)
[ "$out" = OWN-OK ]
ok $? "  ... while its own abstract sockets still work" "$out"

# ---- the thief: the disk changed while the daemon was down ----
mkdir -p "$W/orig" && cp -a "$A/." "$W/orig/"
restore() { rm -f "$A"/*.app "$A"/*.tfa && cp -a "$W/orig/." "$A/"; }

# a record whose permissions and fs rules were raised
sed -i 's/^personas = secure$/personas = secure\npermissions = network/; s|^entry = main=/bin/main$|entry = main=/bin/main\nfs = rw:/tmp|' "$A/org.b.app"
restart || bail "restart failed"
out=$(tf run secure --app org.b -- net 2>&1)
not_has CONNECTED "$out"
ok $? "thief: org.b's record given network: it does not connect" "$out"
out=$(tf run secure --app org.b -- tmp 2>&1)
not_has TMP-OK "$out"
ok $? "thief: ... given fs = rw:/tmp: it does not write /tmp" "$out"
audit_tampered org.b
ok $? "thief: ... audited app.disabled reason=app.tampered" "$(tf audit show --persona secure | grep app.disabled)"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = A2 ]
ok $? "thief: ... org.a, untouched, runs" "$out"

# an image swapped for one of another signer (same manifest, same offset)
restore
cp "$W/org.b-1-PWNED.tfa" "$A/org.b-1.tfa"
restart || bail "restart failed"
out=$(tf run secure --app org.b 2>&1)
not_has PWNED "$out"
ok $? "thief: org.b's image swapped for another signer's: its code does not run" "$out"

# an image swapped for an older signed build of the same app (a rollback
# by the disk: the record says 2)
restore
cp "$W/org.a-1-A1.tfa" "$A/org.a-2.tfa"
restart || bail "restart failed"
out=$(tf run secure --app org.a 2>&1)
not_has A1 "$out"
ok $? "thief: org.a 2's image replaced by the signed org.a 1: v1 does not run" "$out"

# a record naming another app's image
restore
sed -i 's/^image = .*/image = org.a-2.tfa/' "$A/org.b.app"
restart || bail "restart failed"
out=$(tf run secure --app org.b 2>&1)
not_has A2 "$out"
ok $? "thief: org.b's record naming org.a's image: org.b does not run it" "$out"

# uids: persona root, and another app's
restore
sed -i 's/^uid = .*/uid = 0/' "$A/org.b.app"
restart || bail "restart failed"
out=$(tf run secure --app org.b -- id 2>&1)
[ "$out" != 0 ]
ok $? "thief: org.b's record given uid 0: it does not run as the persona's root" "$out"
restore
sed -i "s/^uid = .*/$(grep '^uid = ' "$A/org.a.app")/" "$A/org.b.app"
restart || bail "restart failed"
out=$(tf run secure --app org.b -- read org.a 2>&1)
not_has "secret of" "$out"
ok $? "thief: org.b's record given org.a's uid: it does not read org.a's data" "$out"
# an update of it then takes a uid of its own, not the edited one
out=$(tf app install secure "$W/org.b-2-B2.tfa" 2>&1)
ok $? "thief: ... an update of org.b installs" "$out"
out=$(tf run secure --app org.b -- read org.a 2>&1)/$(grep '^uid = ' "$A/org.b.app")
not_has "secret of" "$out" && not_has "$(grep '^uid = ' "$A/org.a.app")" "$out"
ok $? "thief: ... with a uid of its own: it does not read org.a's data" "$out"

# restored: everything runs again (the checks do not refuse what is real)
restore
restart || bail "restart failed"
out=$(tf run secure --app org.a 2>&1)/$(tf run secure --app org.b 2>&1)/$(tf run secure --app org.a -- read org.a 2>&1)
[ "$out" = "A2/B1/secret of org.a" ]
ok $? "restored: both apps run again, org.a's data intact" "$out"

finish
