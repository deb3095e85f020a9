#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Only signed code executes (issue 13 item 5, docs/exec.md): the writable
# mounts are noexec, vm.memfd_noexec is 2, the loader and interpreter
# bypasses are closed by the exec gate, base-system programs and scripts
# and a mounted erofs app image still run; personal is noexec by default
# and allow_exec_writable relaxes it (and only it). The gate's cost per
# exec is printed as a diag line (no assertion on it).
. "$(dirname "$0")/../persona/lib.sh"

command -v mkfs.erofs >/dev/null || {
	echo "1..0 # SKIP mkfs.erofs (erofs-utils) not installed"
	exit 0
}
setup_state
start_daemon && enroll_unlock_secure || bail "daemon or secure did not start"

W=$(mktemp -d /tmp/tfexec.XXXXXX)
EXTRA_CLEANUP="rm -rf $W"
init_pid() { persona_field "$1" init_pid; }
# set_persona_conf PERSONA KEY VALUE: KEY's line in PERSONA's section
set_persona_conf() {
	sed -i "/^\[persona $1\]/,/^\[/ s/^#\?$2 = .*/$2 = $3/" "$S/device.conf"
}
# in the persona's mount namespace as host root (the test's own mounts)
in_mnt() { nsenter -t "$(init_pid "$1")" -m -- "${@:2}"; }

# every writable dir: an ELF copied there does not execute
for p in secure personal; do
	for d in /home/app /tmp /var /run/user/1000 /dev/shm; do
		out=$(tf run $p -- sh -c "cp /bin/true $d/x && chmod 755 $d/x && exec $d/x" 2>&1)
		rc=$?
		[ $rc != 0 ] && has "ermission denied" "$out"
		ok $? "$p: an ELF in $d does not execute (EACCES)" "rc=$rc $out"
	done
done
out=$(tf run secure -- cat /proc/self/mountinfo 2>&1)
for d in /home /tmp /var /run /dev/shm; do
	echo "$out" | awk -v d=$d '$5 == d' | grep -q noexec
	ok $? "secure: $d is mounted noexec" "$(echo "$out" | awk -v d=$d '$5 == d')"
done

# memfd: vm.memfd_noexec = 2 in the persona's pid namespace, and in one
# made inside it (it is inherited and cannot be lowered)
MEMFD='
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
MFD_EXEC = 0x10
fd = libc.memfd_create(b"x", MFD_EXEC)
print("exec-memfd", "refused" if fd < 0 else "made", os.strerror(ctypes.get_errno()) if fd < 0 else "")
fd = libc.memfd_create(b"y", 0)
if fd < 0:
    print("memfd", errno.errorcode[ctypes.get_errno()])
else:
    os.write(fd, b"\xb8\x2a\x00\x00\x00\xc3".ljust(4096, b"\0"))
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    p = libc.mmap(None, 4096, 5, 2, fd, 0)
    print("memfd-rx", "refused" if p in (None, 2**64 - 1) else "RAN %d" % ctypes.CFUNCTYPE(ctypes.c_int)(p)())
'
for p in secure personal; do
	out=$(tf run $p -- cat /proc/sys/vm/memfd_noexec 2>&1)
	[ "$out" = 2 ]
	ok $? "$p: vm.memfd_noexec is 2" "$out"
	out=$(tf run $p -- python3 -c "$MEMFD" 2>&1)
	has "exec-memfd refused" "$out" && has "memfd ENOSYS" "$out" && not_has RAN "$out"
	ok $? "$p: no memfd at all under W^X (its code would map PROT_EXEC from its fd)" "$out"
done
out=$(nsenter -t "$(init_pid secure)" -U -p -m -- unshare -p -f sh -c '{ echo 0 >/proc/sys/vm/memfd_noexec; } 2>/dev/null; cat /proc/sys/vm/memfd_noexec' 2>&1)
[ "$out" = 2 ]
ok $? "a pid namespace made inside secure inherits memfd_noexec 2 (its root cannot lower it)" "$out"

# W^X: no memory the process can write becomes executable (seccomp, and
# Landlock keeps /proc/self/mem read-only); code mapped from a base file
# still runs. Each line: what, then "ok" or the errno's name.
WX='
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.shmat.restype = ctypes.c_void_p
R, W, X, PRIV, ANON = 1, 2, 4, 2, 0x20
def res(ok):
    return "ok" if ok else errno.errorcode.get(ctypes.get_errno(), "?")
def mm(prot, flags, fd=-1):
    p = libc.mmap(None, 4096, prot, flags, fd, 0)
    return p if p not in (None, 2**64 - 1) else None
fd = os.open("/bin/true", os.O_RDONLY)
print("anon-rx", res(mm(R | X, PRIV | ANON)))
print("anon-rwx", res(mm(R | W | X, PRIV | ANON)))
print("file-rwx", res(mm(R | W | X, PRIV, fd)))
p = mm(R | W, PRIV | ANON)
print("mprotect-rx", res(libc.mprotect(ctypes.c_void_p(p), 4096, R | X) == 0))
q = mm(R | W, PRIV, fd)
print("file-mprotect-rx", res(libc.mprotect(ctypes.c_void_p(q), 4096, R | X) == 0))
print("file-rx", res(mm(R | X, PRIV, fd)))
sid = libc.shmget(0, 4096, 0o1600)
a = libc.shmat(sid, None, 0o100000)
print("shm-exec", res(a not in (None, 2**64 - 1)))
try:
    open("/proc/self/mem", "r+b").close()
    print("proc-mem-write ok")
except OSError as e:
    print("proc-mem-write", errno.errorcode[e.errno])
'
for p in secure personal; do
	out=$(tf run $p -- python3 -c "$WX" 2>&1)
	for w in anon-rx anon-rwx file-rwx mprotect-rx file-mprotect-rx shm-exec; do
		echo "$out" | grep -qx "$w EPERM"
		ok $? "$p: W^X: $w is refused (EPERM)" "$out"
	done
	echo "$out" | grep -qx "file-rx ok"
	ok $? "$p: W^X: code mapped from a base file still maps" "$out"
	echo "$out" | grep -qE "^proc-mem-write (EACCES|EPERM)$"
	ok $? "$p: /proc/self/mem cannot be opened for writing" "$out"
done

# ld.so: a noexec mount refuses the loader's PROT_EXEC mmap (EPERM)
LDSO=$(tf run secure -- sh -c 'ls /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1 2>/dev/null | head -1')
out=$(tf run secure -- sh -c "cp /bin/true /tmp/x && $LDSO /tmp/x && echo RAN" 2>&1)
not_has RAN "$out" && has "failed to map segment" "$out"
ok $? "secure: '$LDSO /tmp/x' does not run x" "$out"
out=$(tf run secure -- sh -c "cp /lib/x86_64-linux-gnu/libc.so.6 /tmp/l.so 2>/dev/null; LD_PRELOAD=/tmp/l.so /bin/true; echo rc=\$?" 2>&1)
has "cannot be preloaded" "$out" || has "failed to map" "$out"
ok $? "secure: LD_PRELOAD of a library in /tmp is not mapped" "$out"

# interpreters: a script on a writable mount is refused (EPERM), by path
# or as an import; data files stay readable
tf run secure -- sh -c 'printf "echo SCRIPT-RAN\n" >/tmp/x.sh; printf "echo SCRIPT-RAN\n" >/home/app/plain; printf "print(\"SCRIPT-RAN\")\n" >/tmp/x.py; printf "#!/bin/sh\necho SCRIPT-RAN\n" >/tmp/noext; echo data >/tmp/notes.txt' 2>&1
for cmd in "sh /tmp/x.sh" "bash /tmp/x.sh" "dash /home/app/plain" "sh /tmp/noext" \
	"python3 /tmp/x.py" "sh -c '. /tmp/x.sh'" "sh -c 'cd /home/app && sh plain'" \
	"env PYTHONPATH=/tmp python3 -c 'import x'" "sh -c 'sh < /tmp/x.sh'"; do
	out=$(tf run secure -- sh -c "$cmd" 2>&1)
	not_has SCRIPT-RAN "$out" && has "ermitted" "$out"
	ok $? "secure: '$cmd' is refused" "$out"
done
out=$(tf run secure -- sh -c 'cat /tmp/notes.txt; read l </tmp/notes.txt; echo "read=$l"; python3 -c "print(open(\"/tmp/notes.txt\").read().strip())"' 2>&1)
[ "$out" = "$(printf 'data\nread=data\ndata')" ]
ok $? "secure: data files are still read by cat, the shell and python" "$out"
sleep 0.2 # the loop audits what the gate thread reported
out=$(tf audit show --persona secure 2>&1 | grep exec.denied)
has "path=/tmp/x.sh" "$out" && has "kind=script" "$out" && has "by=" "$out"
ok $? "denials are audited (exec.denied, persona, path, interpreter)" "$(echo "$out" | tail -3)"

# the base system: programs and scripts
out=$(tf run secure -- sh -c 'ls / >/dev/null && /usr/bin/env true && which which >/dev/null && echo BASE-OK' 2>&1)
[ "$out" = BASE-OK ]
ok $? "secure: base-system programs run" "$out"
# a shell script of the base (a perl or python one is no sh input)
script=$(tf run secure -- sh -c 'for f in /usr/bin/*; do head -n1 "$f" 2>/dev/null | grep -q "^#! */bin/sh\( \|$\)" && { echo "$f"; break; }; done')
out=$(tf run secure -- sh -c "sh -n '$script' && echo SCRIPT-OK" 2>&1)
[ -n "$script" ] && has SCRIPT-OK "$out"
ok $? "secure: a base-system script is read by its interpreter ($script)" "$out"

# under /apps only the images the daemon attached execute: neither an
# executable mount that is not a read-only erofs image nor an erofs image
# someone else mounted there
mkdir -p "$W/img/bin"
cp /bin/true "$W/img/bin/app"
printf '#!/bin/sh\necho IMG-SCRIPT\n' >"$W/img/bin/app.sh"
chmod 755 "$W/img/bin/app.sh"
mkfs.erofs -T0 --all-root "$W/app.erofs" "$W/img" >/dev/null 2>&1
SINIT=$(init_pid secure)
cp "$W/app.erofs" /proc/"$SINIT"/root/tmp/app.erofs
in_mnt secure sh -c 'mount -t tmpfs -o mode=0755 apps /apps && mkdir /apps/good /apps/bad &&
	python3 -c "
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b\"/tmp/app.erofs\", b\"/apps/good\", b\"erofs\", 1, None):
    sys.exit(\"erofs mount: errno %d\" % ctypes.get_errno())
" && mount -t tmpfs -o mode=0755 bad /apps/bad && cp /bin/true /apps/bad/x' 2>&1
ok $? "the test mounted an erofs image at /apps/good and a tmpfs at /apps/bad"
ran=no
for _ in $(seq 50); do # the gate marks new mounts when it sees them
	out=$(tf run secure -- /apps/bad/x 2>&1) || { ran=denied; break; }
	sleep 0.1
done
[ $ran = denied ] && has "ermitted" "$out"
ok $? "secure: a program on an exec mount that is no erofs image is denied by the gate (EPERM)" "$out"
# an erofs image the daemon did not attach (host root mounted it there):
# not an installed app's, so it does not run either (installed apps do:
# tests/integration/apps)
out=$(tf run secure -- /apps/good/bin/app 2>&1)
rc=$?
[ $rc != 0 ] && has "ermitted" "$out"
ok $? "secure: a program of an erofs image mounted under /apps by someone else is denied (EPERM)" "rc=$rc $out"
out=$(tf run secure -- sh /apps/good/bin/app.sh 2>&1)
not_has IMG-SCRIPT "$out" && has "ermitted" "$out"
ok $? "... nor does its script, by an interpreter (EPERM)" "$out"
out=$(tf run secure -- sh -c "$LDSO /apps/good/bin/app && echo RAN" 2>&1)
not_has RAN "$out"
ok $? "... nor its program through the loader ('$LDSO /apps/good/bin/app')" "$out"
sleep 0.2
tf audit show --persona secure 2>&1 | grep exec.denied | grep -q "kind=exec.*path=/apps/bad/x"
ok $? "the gate's exec denial is audited" "$(tf audit show --persona secure | grep exec.denied | tail -2)"
tf audit show --persona secure 2>&1 | grep exec.denied | grep -q "kind=image.*path=/apps/good/bin/app"
ok $? "the foreign image's denial is audited (kind=image)" "$(tf audit show --persona secure | grep exec.denied | tail -2)"

# cost per exec (diag only): secure (gated) vs personal with the switch
# (the same persona, gated now, ungated after the switch below)
loop='i=0; s=$(date +%s%N); while [ $i -lt 2000 ]; do /bin/true; i=$((i+1)); done; e=$(date +%s%N); echo $(((e-s)/2000))'
gated=$(tf run personal -- sh -c "$loop" 2>&1)
# an open of a data file on a writable mount by an interpreter (the
# gate's worst case: it reads the exe, the file's head and the cmdline)
oloop='import os, time
open("/tmp/o", "w").write("data")
t = time.perf_counter_ns()
for _ in range(5000): os.close(os.open("/tmp/o", os.O_RDONLY))
print((time.perf_counter_ns() - t) // 5000)'
ogated=$(tf run personal -- python3 -c "$oloop" 2>&1)

# personal with allow_exec_writable: its writable dirs execute, secure's not
stop_daemon
set_persona_conf personal allow_exec_writable yes
start_daemon && printf '123456\n' | tf unlock secure --pin-stdin >/dev/null
out=$(tf run personal -- sh -c 'cp /bin/true /tmp/x && /tmp/x && printf "echo S-OK\n" >/tmp/s.sh && sh /tmp/s.sh && cat /proc/sys/vm/memfd_noexec' 2>&1)
[ "$out" = "$(printf 'S-OK\n0')" ]
ok $? "personal with allow_exec_writable = yes: /tmp executes, scripts run, memfd_noexec 0" "$out"
out=$(tf run personal -- python3 -c "$WX" 2>&1)
echo "$out" | grep -qx "anon-rwx ok" && echo "$out" | grep -qx "mprotect-rx ok"
ok $? "... and W^X is off there (a JIT can run)" "$out"
out=$(tf run secure -- python3 -c "$WX" 2>&1)
echo "$out" | grep -qx "anon-rwx EPERM"
ok $? "... secure keeps W^X" "$out"
out=$(tf run secure -- sh -c 'cp /bin/true /tmp/x && exec /tmp/x' 2>&1)
has "ermission denied" "$out"
ok $? "... secure stays noexec" "$out"
free=$(tf run personal -- sh -c "$loop" 2>&1)
ofree=$(tf run personal -- python3 -c "$oloop" 2>&1)
diag "fork+exec of /bin/true from sh in personal: gated ${gated} ns, ungated ${free} ns; python3 open of /tmp/o: gated ${ogated} ns, ungated ${ofree} ns"

# a credential persona with the switch is refused at load
stop_daemon
set_persona_conf secure allow_exec_writable yes
out=$(timeout 20 "$TWOFOLDD" --state "$S" 2>&1 </dev/null)
has "allow_exec_writable = yes is refused for a credential-bound persona" "$out"
ok $? "secure with allow_exec_writable = yes: the daemon refuses the config" "$out"
set_persona_conf secure allow_exec_writable no

finish
