#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The exec gate's hash allowlist of base files (issue 13 item 5,
# docs/exec.md "Base files by hash"), on a test-only base root (a few
# programs and their libraries; the host's /usr is never changed):
#  - pin (the default): the first exec pins path -> hash; the host
#    rewriting a base program makes its next exec fail (EPERM), audited
#    kind=hash; the other programs still run
#  - sealed: only what `twofold exec seal` recorded runs; a file added
#    after the seal is denied until sealed again
#  - the record is MAC'd: one byte changed and the persona refuses to
#    start, with a one-line error naming the fix
# The verdict cache's hit and miss cost is printed as a diag line.
. "$(dirname "$0")/../persona/lib.sh"

setup_state
B=$(mktemp -d /tmp/tfbase.XXXXXX)
EXTRA_CLEANUP="rm -rf $B"
chmod 755 "$B"
mkdir -p "$B"/usr/bin "$B"/usr/lib/x86_64-linux-gnu "$B"/usr/lib64 "$B"/etc \
	"$B"/home "$B"/var "$B"/tmp "$B"/run "$B"/dev "$B"/proc "$B"/apps
cp /usr/bin/busybox "$B"/usr/bin/
cp /bin/true "$B"/usr/bin/prog
cp /bin/true "$B"/usr/bin/true
for l in libc.so.6 libresolv.so.2; do
	cp /lib/x86_64-linux-gnu/$l "$B"/usr/lib/x86_64-linux-gnu/ || bail "no $l (an x86-64 host is needed)"
done
cp /lib64/ld-linux-x86-64.so.2 "$B"/usr/lib64/ || bail "no ld-linux-x86-64.so.2"
for a in sh cat echo ls; do ln -s busybox "$B"/usr/bin/$a; done
ln -s usr/bin "$B"/bin
ln -s usr/lib "$B"/lib
ln -s usr/lib64 "$B"/lib64
sed -i "/^\[persona personal\]/a base = $B" "$S/device.conf"
# set_persona_conf PERSONA KEY VALUE: KEY's line in PERSONA's section
set_persona_conf() {
	if sed -n "/^\[persona $1\]/,/^\[/p" "$S/device.conf" | grep -q "^$2 = "; then
		sed -i "/^\[persona $1\]/,/^\[/ s/^$2 = .*/$2 = $3/" "$S/device.conf"
	else
		sed -i "/^\[persona $1\]/a $2 = $3" "$S/device.conf"
	fi
}
REC=$S/exec/personal.hashes
# tamper FILE: one byte of a record changed (its first hash's first digit)
tamper() {
	python3 - "$1" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b"\n", b.index(b"origin")) + 1
b[i] = ord("0") if b[i] != ord("0") else ord("1")
open(p, "wb").write(bytes(b))
EOF
}
denials() { sleep 0.2; tf audit show --persona personal 2>&1 | grep exec.denied; }

start_daemon || bail "daemon did not start"

# ---- pin
out=$(tf run personal -- /usr/bin/prog 2>&1)
ok $? "pin: a base program runs (and is pinned)" "$out"
for _ in $(seq 50); do grep -q " /usr/bin/prog$" "$REC" 2>/dev/null && break; sleep 0.1; done
grep -q " /usr/bin/prog$" "$REC" && grep -q "^mac " "$REC" && grep -q "^origin pin$" "$REC"
ok $? "pin: the record holds its path and hash, and a MAC" "$(head -5 "$REC" 2>&1)"
[ "$(stat -c %a "$REC")" = 600 ]
ok $? "pin: the record is root's alone (0600)" "$(stat -c %a "$REC")"
# the host rewrites the program in place (the persona cannot: read-only)
cat /bin/false >"$B"/usr/bin/prog
out=$(tf run personal -- /usr/bin/prog 2>&1)
rc=$?
[ $rc != 0 ] && has "ermitted" "$out"
ok $? "pin: the rewritten program is denied (EPERM)" "rc=$rc $out"
out=$(denials)
has "kind=hash" "$out" && has "path=/usr/bin/prog" "$out"
ok $? "pin: the denial is audited (exec.denied kind=hash)" "$(echo "$out" | tail -2)"
out=$(tf run personal -- sh -c 'echo UNAFFECTED; /usr/bin/true && echo TRUE-OK' 2>&1)
[ "$out" = "$(printf 'UNAFFECTED\nTRUE-OK')" ]
ok $? "pin: the other base programs still run" "$out"
cat /bin/true >"$B"/usr/bin/prog
out=$(tf run personal -- /usr/bin/prog 2>&1)
ok $? "pin: with its pinned content back it runs again" "$out"

# a credential-bound persona (secure, the host's /usr as its base): its
# record's key exists only while it is unlocked, and is the same after
# the next unlock; a record changed meanwhile refuses the unlock
SREC=$S/exec/secure.hashes
enroll_unlock_secure || bail "secure did not unlock"
out=$(tf run secure -- /bin/true 2>&1)
ok $? "secure: a base program runs (pinned)" "$out"
for _ in $(seq 50); do grep -q "^mac " "$SREC" 2>/dev/null && break; sleep 0.1; done
grep -q "^mac " "$SREC"
ok $? "secure: its own record, MAC'd" "$(ls -l "$SREC" 2>&1)"
tf lock secure --evict >/dev/null 2>&1
out=$(printf '123456\n' | tf unlock secure --pin-stdin 2>&1)
ok $? "secure: unlocked again, its record still checks" "$out"
out=$(tf run secure -- /bin/true 2>&1)
ok $? "secure: ... and its pins hold" "$out"
# wiped (crypto-erased) and enrolled anew: a new key, the old record is
# stale (set aside), not a forgery that would refuse the start
old_key=$(sed -n 's/^key //p' "$SREC")
tf wipe secure --yes >/dev/null 2>&1
out=$(enroll_unlock_secure 2>&1)
ok $? "secure: wiped and enrolled anew, it unlocks past the old key's record" "$out"
tf audit show --persona secure 2>&1 | grep exec.hashes | tail -1 | grep -q "record=stale"
ok $? "... the record was set aside as stale (audited)" "$(tf audit show --persona secure 2>&1 | grep exec.hashes | tail -1)"
tf run secure -- /bin/true >/dev/null 2>&1
for _ in $(seq 50); do [ "$(sed -n 's/^key //p' "$SREC")" != "$old_key" ] && break; sleep 0.1; done
[ -n "$old_key" ] && [ "$(sed -n 's/^key //p' "$SREC")" != "$old_key" ]
ok $? "... and the new pins are under the new key" "$old_key -> $(sed -n 's/^key //p' "$SREC")"
tf lock secure --evict >/dev/null 2>&1
tamper "$SREC"
out=$(printf '123456\n' | tf unlock secure --pin-stdin 2>&1)
rc=$?
[ $rc = 1 ] && has "fails its MAC check" "$out"
ok $? "secure: a record changed while it was locked refuses the unlock" "rc=$rc $out"
rm -f "$SREC"

# cost: hits (the same /usr/bin/true each time) in the persona, and the
# gate's own count of hit and miss time (printed when it stops)
# (timed from the host: the base has no clock with ns; one run's own
# cost, ~1 ms, is noise over 1000 execs)
per_exec() {
	local s e
	s=$(date +%s%N)
	tf run personal -- sh -c 'i=0; while [ $i -lt 1000 ]; do /usr/bin/true; i=$((i+1)); done' >/dev/null 2>&1
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}
pin_ns=$(per_exec)

# ---- sealed
stop_daemon
set_persona_conf personal exec_hashes sealed
start_daemon || bail "daemon (sealed) did not start"
out=$(tf run personal -- /usr/bin/true 2>&1)
rc=$?
[ $rc != 0 ] && has "ermitted" "$out"
ok $? "sealed: a record of pins is no seal: nothing runs before exec seal" "rc=$rc $out"
out=$(tf exec seal personal 2>&1)
has "sealed" "$out"
ok $? "exec seal: the base is hashed" "$out"
grep -q "^origin seal$" "$REC" && grep -q " /usr/bin/busybox$" "$REC" && grep -q " /usr/lib64/ld-linux-x86-64.so.2$" "$REC"
ok $? "exec seal: the record names the base's executables (origin seal)" "$(grep -c . "$REC")"
out=$(tf run personal -- sh -c '/usr/bin/prog && /usr/bin/true && echo SEALED-OK' 2>&1)
[ "$out" = SEALED-OK ]
ok $? "sealed: the sealed programs run" "$out"
cp /bin/true "$B"/usr/bin/newprog
out=$(tf run personal -- /usr/bin/newprog 2>&1)
rc=$?
[ $rc != 0 ] && has "ermitted" "$out"
ok $? "sealed: a file added after the seal is denied (EPERM)" "rc=$rc $out"
has "path=/usr/bin/newprog" "$(denials)"
ok $? "sealed: its denial is audited" "$(denials | tail -1)"
tf exec seal personal >/dev/null 2>&1
out=$(tf run personal -- /usr/bin/newprog 2>&1)
ok $? "sealed: sealing again allows it" "$out"
cat /bin/false >"$B"/usr/bin/newprog
out=$(tf run personal -- /usr/bin/newprog 2>&1)
rc=$?
[ $rc != 0 ] && has "ermitted" "$out"
ok $? "sealed: a sealed file rewritten by the host is denied" "rc=$rc $out"
out=$(tf run personal -- /usr/bin/prog 2>&1)
ok $? "sealed: ... and only it" "$out"
sealed_ns=$(per_exec)
out=$(tf exec seal nosuch 2>&1)
[ $? = 1 ]
ok $? "exec seal of an unknown persona fails (exit 1)" "$out"

# ---- a tampered record
stop_daemon
cost=$(grep "personal: exec gate: base files by hash" "$DLOG" | tail -2 | sed 's/.*hash: //' | tr '\n' ';')
tamper "$REC"
# an autostart persona that cannot start keeps the daemon from starting
# (as any other autostart failure does); one started by hand says why
start_daemon
err=$(grep "error: personal:" "$DLOG" | tail -1)
[ -z "$DPID" ] && has "fails its MAC check" "$err" && has "twofold exec seal personal" "$err"
ok $? "a record changed by one byte: personal (autostart) does not start, nor the daemon" "$err"
set_persona_conf personal autostart no
start_daemon || bail "daemon did not start without autostart"
out=$(tf persona start personal 2>&1)
rc=$?
[ $rc = 1 ] && has "fails its MAC check" "$out" && has "twofold exec seal personal" "$out" && [ "$(echo "$out" | wc -l)" = 1 ]
ok $? "... started by hand: refused, in one line that names the fix" "$out"
[ "$(persona_field personal state)" != running ]
ok $? "... and it is not running" "$(persona_field personal state)"
tf audit show --persona personal 2>&1 | grep exec.hashes | grep -q "record=bad"
ok $? "... audited (exec.hashes record=bad)"
rm -f "$REC"
out=$(tf persona start personal 2>&1)
ok $? "with the record removed (as the error says) it starts" "$out"
tf exec seal personal >/dev/null 2>&1
out=$(tf run personal -- /usr/bin/prog 2>&1)
ok $? "... and runs what was sealed again" "$out"

# ---- off: nothing is hashed; the rewritten file runs again
stop_daemon
set_persona_conf personal exec_hashes off
set_persona_conf personal autostart yes
start_daemon || bail "daemon (off) did not start"
out=$(tf run personal -- sh -c '/usr/bin/newprog; echo rc=$?' 2>&1)
[ "$out" = rc=1 ]
ok $? "off: base files are not checked by hash (the rewritten one runs)" "$out"
off_ns=$(per_exec)

diag "per exec of /usr/bin/true from sh (1000, timed from the host): pin ${pin_ns} us, sealed ${sealed_ns} us, off ${off_ns} us; the gate's hash check: ${cost}"
finish
