#!/bin/bash
# SPDX-License-Identifier: ISC
# No persona process holds a secret of the daemon: after an unlock with a
# known PIN, restarts, an evict + unlock and two credential changes
# (each a job on a worker thread: PIN -> PIN2 -> PIN), the memory of every persona
# init, launcher and app and of the spawner holds neither the PIN, nor the
# device secret, nor the PIN's Argon2id output (memscan.py).
#
# Before the spawner, inits and launchers were raw forks of the daemon and
# carried all three (the request's receive buffer on the stack, the KDF
# output, the loaded device secret).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PIN=7391046628155
PIN2=5820194736612
APPS=
EXTRA_CLEANUP='for a in $APPS; do kill -KILL $a; wait $a; done 2>/dev/null'

setup_state
start_daemon || {
	echo "Bail out! daemon did not start"
	exit 1
}

# Argon2id(PIN) as the keystore computes it (wrap.c tf_ks_pwhash, crypto.c
# tf_pwhash): libsodium crypto_pwhash ARGON2ID13, 32 bytes, with the
# opslimit, mem_kib and salt of the sp.credential header (docs/keys.md:
# "TFSP" ver prot suite kind | le32 opslimit | le32 mem_kib | salt[16]).
argon_of() {
	python3 - "$1" "$PIN" <<'EOF'
import ctypes, ctypes.util, struct, sys
h = open(sys.argv[1], "rb").read(36)
assert h[:4] == b"TFKP", "not an sp blob"
ops, mem_kib = struct.unpack_from("<II", h, 8)
salt = h[16:32]
na = ctypes.CDLL(ctypes.util.find_library("sodium"))
assert na.sodium_init() >= 0
na.crypto_pwhash.argtypes = [ctypes.c_char_p, ctypes.c_ulonglong,
    ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p,
    ctypes.c_ulonglong, ctypes.c_size_t, ctypes.c_int]
out = ctypes.create_string_buffer(32)
pw = sys.argv[2].encode()
alg = na.crypto_pwhash_alg_argon2id13()
assert na.crypto_pwhash(out, 32, pw, len(pw), salt, ops, mem_kib * 1024,
                        alg) == 0
print(out.raw.hex())
EOF
}

ARGONS=
note_argon() {
	local a
	a=$(argon_of "$S/keys/secure/sp.credential") || return 1
	case " $ARGONS " in *" $a "*) ;; *) ARGONS="$ARGONS $a" ;; esac
}

printf '%s\n' "$PIN" | tf enroll secure --pin-stdin >/dev/null
ok $? "enroll secure with a PIN"
printf '%s\n' "$PIN" | tf unlock secure --pin-stdin >/dev/null
ok $? "unlock secure"
note_argon
ok $? "Argon2id of the PIN computed from sp.credential"
out=$(tf persona restart personal 2>&1)
ok $? "persona restart personal" "$out"
out=$(tf persona restart secure 2>&1)
ok $? "persona restart secure" "$out"
out=$(tf lock secure --evict 2>&1)
ok $? "lock secure --evict" "$out"
printf '%s\n' "$PIN" | tf unlock secure --pin-stdin >/dev/null
ok $? "unlock secure again"
note_argon
out=$(printf '%s\n%s\n' "$PIN" "$PIN2" | tf enroll secure --pin-stdin 2>&1)
ok $? "change the credential to PIN2" "$out"
out=$(printf '%s\n%s\n' "$PIN2" "$PIN" | tf enroll secure --pin-stdin 2>&1)
ok $? "change it back to PIN" "$out"
note_argon

# an app in each persona
for p in personal secure; do
	tf run "$p" -- sleep 600 </dev/null >/dev/null 2>&1 &
	APPS="$APPS $!"
done

grp=$(cg_group_of "$S")
persona_procs() {
	for d in $(find /sys/fs/cgroup -type d -name "$grp" 2>/dev/null); do
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}
# the apps run (init + launcher + app in each persona)
for _ in $(seq 100); do
	[ "$(persona_procs | wc -l)" -ge 6 ] && break
	sleep 0.05
done
procs=$(persona_procs)
ok $([ "$(echo "$procs" | wc -l)" -ge 6 ]; echo $?) \
	"init, launcher and an app run in each persona" "$procs"
spawner=$(ps -o pid= --ppid "$DPID" -o comm= | awk '$2 == "tf-spawner" {print $1}')
ok $([ -n "$spawner" ]; echo $?) "the spawner is the daemon's child" \
	"$(ps -o pid,comm --ppid "$DPID")"
kids=$(ps -o pid= --ppid "$DPID" | tr -d ' ')
targets=$(printf '%s\n' $procs $spawner $kids | sort -un | grep -vx "$DPID")

needles=(--str "pin=$PIN" --str "pin2=$PIN2" --file "devsecret=$S/device.secret@8+32")
i=0
for a in $ARGONS; do
	i=$((i + 1))
	needles+=(--hex "argon$i=$a")
done
diag "scanning: $(ps -o pid=,comm= -p "$(echo $targets | tr ' ' ,)" | tr '\n' ';')"

for pid in $targets; do
	c=$(cat "/proc/$pid/comm" 2>/dev/null)
	out=$(python3 "$here/memscan.py" "${needles[@]}" "$pid" 2>&1)
	ok $? "no secret in the memory of $pid ($c)" "$out"
done

# The needles are right: the daemon itself holds the device secret (it
# needs it), so a scan of it must find that one. (The PIN and the
# Argon2id output it wipes after use; they were found in the forks of it
# before the spawner.)
out=$(python3 "$here/memscan.py" "${needles[@]}" "$DPID" 2>&1)
diag "daemon: $out"
echo "$out" | grep -q 'devsecret=[1-9]'
ok $? "the scan finds the device secret in the daemon (needle check)" "$out"

# The credential goes straight into secure memory (the receive buffer of
# requests, the CLI's PIN and request buffers): in the daemon, every
# mapping but the secure-memory ones holds no PIN, no Argon2id output and
# no device secret after the unlocks.
out=$(python3 "$here/memscan.py" --skip-secmem "${needles[@]}" "$DPID" 2>&1)
ok $? "no secret in the daemon outside its secure memory" "$out"

# A dead spawner is not re-forked from the (secret-holding) daemon: the
# next persona start fails with a clear error; the daemon keeps serving.
kill -KILL "$spawner"
out=$(tf persona restart personal 2>&1)
r=$?
ok $([ $r != 0 ]; echo $?) "after the spawner died, persona restart fails" "$out"
echo "$out" | grep -q "spawner died; restart twofoldd"
ok $? "... saying the spawner died" "$out"
ps -o comm= --ppid "$DPID" | grep -qx tf-spawner
ok $([ $? != 0 ]; echo $?) "no new spawner was forked" "$(ps -o pid,comm --ppid "$DPID")"
tf status >/dev/null 2>&1
ok $? "the daemon still answers"

# With an unlock request received and parsed, before it is handled (the
# PIN in hand): the PIN is in the daemon's secure memory only. Before the
# receive buffer was secure memory, it lay in the heap (the request
# buffer) and on the stack until the handler copied and wiped it.
stop_daemon
export TWOFOLD_FAULT=stop:credential-parsed
start_daemon
ok $? "daemon restarted with a stop point in the unlock"
unset TWOFOLD_FAULT
printf '%s\n' "$PIN" | tf unlock secure --pin-stdin >/dev/null 2>&1 &
UPID=$!
EXTRA_CLEANUP="$EXTRA_CLEANUP; kill -CONT \$DPID 2>/dev/null"
stopped=1
for _ in $(seq 200); do
	[ "$(awk '{print $3}' "/proc/$DPID/stat" 2>/dev/null)" = T ] &&
		{ stopped=0; break; }
	sleep 0.05
done
ok $stopped "the daemon stopped inside the unlock"
out=$(python3 "$here/memscan.py" --str "pin=$PIN" "$DPID" 2>&1)
echo "$out" | grep -q 'pin=[1-9]'
ok $? "mid-unlock, the PIN is in the daemon (needle check)" "$out"
out=$(python3 "$here/memscan.py" --skip-secmem --str "pin=$PIN" "$DPID" 2>&1)
ok $? "mid-unlock, no PIN in the daemon outside its secure memory" "$out"
kill -CONT "$DPID"
wait "$UPID"
ok $? "the unlock completes after CONT"

finish
