#!/bin/bash
# SPDX-License-Identifier: ISC
# The TPM end to end through the daemon (docs/keys.md "TPM"), against a
# swtpm on loopback that this test starts and kills: the device secret
# sealed at the first start, a credential slot at enroll, the TPM's own
# count in every answer, and the thief who holds the device: rolling the
# key files back to an earlier copy between guesses gives no extra tries,
# and after throttle_max_failures counted failures the right PIN opens
# nothing, even with every file restored. A TPM that goes away mid-way
# costs no try.
. "$(dirname "$0")/lib.sh"
if [ ! -x /usr/bin/swtpm ]; then
	echo "1..0 # SKIP swtpm not installed"
	exit 0
fi
echo "1..24"

# below the ephemeral range: TIME_WAIT clients there make swtpm's bind fail
PORT=$((20000 + RANDOM % 6000 * 2))
TPMDIR=$S.swtpm
TPID=
mkdir -p "$TPMDIR"
start_swtpm() {
	swtpm socket --tpm2 \
		--server type=tcp,port=$PORT,bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((PORT + 1)),bindaddr=127.0.0.1 \
		--tpmstate dir="$TPMDIR" \
		--flags not-need-init,startup-clear >/dev/null 2>&1 &
	TPID=$!
	BG_PIDS="$BG_PIDS $TPID"
	for _ in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0
		kill -0 "$TPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop_swtpm() {
	[ -n "$TPID" ] || return 0
	kill "$TPID" 2>/dev/null
	wait "$TPID" 2>/dev/null
	TPID=
}
# the lib's EXIT trap (cleanup) runs after swtpm is gone
trap 'stop_swtpm; rm -rf "$TPMDIR" "$S.keys.copy"; cleanup' EXIT
not_has() { ! has "$1" "$2"; }
not_has_wrong() { ! has "wrong credential" "$1"; }
export TSS2_LOG=all+NONE

check "swtpm starts on loopback" start_swtpm
init_state 64M || { nok "init"; exit 1; }
set_conf throttle_free_tries 3
set_conf throttle_max_failures 5
set_conf throttle_base_delay 1
sed -i "/^kdf_min_mem_mib = /a tpm_tcti = swtpm:host=127.0.0.1,port=$PORT" \
	"$S/device.conf"
check "daemon starts with tpm_tcti" start_daemon
check "the device secret is sealed in the TPM, the plaintext one wiped" \
	eval '[ -s "$S/device.secret.tpm" ] && [ ! -e "$S/device.secret" ]'
check "a TPM reached over TCP: twofoldd warns that it is for tests" \
	grep -q "reached over TCP" "$S.log"
tf run personal -- sh -c 'echo MINE > /home/app/p' >/dev/null 2>&1
out=$(pin enroll 111111)
check "enroll binds a TPM slot" eval 'has "credential set" "$out" && [ -s "$S/keys/secure/tpm.slot" ]'
out=$(pin unlock 111111)
check "unlock with the TPM" has "secure unlocked" "$out"
tf lock secure --evict >/dev/null 2>&1

# one wrong guess, then the thief's copy of every key file
out=$(pin unlock 999999)
check "wrong PIN: counted (4 tries left)" has "4 tries left" "$out"
stop_daemon
cp -a "$S/keys" "$S.keys.copy"
check "daemon restarts: the sealed device secret unseals" start_daemon
check "personal's data survives the restart" \
	eval '[ "$(tf run personal -- cat /home/app/p 2>/dev/null)" = MINE ]'
out=$(pin unlock 999998)
check "second wrong PIN: 3 tries left" has "3 tries left" "$out"

# the thief rolls the files back to the copy: the TPM still counts 2
stop_daemon
rm -rf "$S/keys" && cp -a "$S.keys.copy" "$S/keys"
start_daemon
out=$(pin unlock 999997)
diag "after a rollback: $out"
check "rollback of the key files gives no try back (2 tries left, not 3)" \
	has "2 tries left" "$out"

# the TPM goes away: a clear error, nothing counted
stop_swtpm
out=$(pin unlock 999996)
diag "TPM gone: $out"
check "TPM unreachable: a clear error naming it" has "TPM" "$out"
check "TPM unreachable: not answered as a wrong PIN" not_has_wrong "$out"
# the same as data (docs/protocol.md "Errors"): not counted either
out=$(printf '999996\n' | tf --json unlock secure --pin-stdin 2>/dev/null)
check "TPM unreachable: --json reason tpm.unreachable, errno EHOSTUNREACH" \
	python3 -c 'import json, sys
e = json.loads(sys.argv[1])["error"]
sys.exit(not (e["reason"] == "tpm.unreachable" and e["errno"] == 113 and e["persona"] == "secure"))' "$out"
check "swtpm back with the same state" start_swtpm
# killing swtpm was a power cut for the TPM: TPM 2.0 then adds one to the
# count (a power cut can only cost tries), so 4 failures are counted now;
# the right PIN still opens, and its success refunds every one
sleep 1.2 # the software throttle's wait after the free tries
out=$(pin unlock 111111)
diag "TPM back, right PIN: $out"
check "TPM back: the right PIN opens (the unreachable try lost nothing)" \
	has "secure unlocked" "$out"
tf lock secure --evict >/dev/null 2>&1
out=$(pin unlock 999996)
check "a success refunds the TPM's count (4 tries left again)" \
	has "4 tries left" "$out"

# the last counted failure erases; the right PIN opens nothing
for _ in $(seq 40); do
	out=$(pin unlock 999995)
	has "crypto-erased" "$out" && break
	sleep 1
done
diag "last wrong try: $out"
check "the last counted failure crypto-erases" has "crypto-erased" "$out"
out=$(pin unlock 111111)
check "right PIN after the erase: nothing" has "crypto-erased" "$out"
check "status: secure erased" grep -Eq '^secure +erased' <<<"$(tf status)"

# restore every file from before the guesses: the slot is gone from the TPM
stop_daemon
rm -rf "$S/keys" && cp -a "$S.keys.copy" "$S/keys"
start_daemon
out=$(pin unlock 111111)
diag "right PIN with the files restored: $out"
check "right PIN with every key file restored: still nothing" \
	not_has "unlocked" "$out"
check "... the key is not in the kernel" \
	grep -Eq '^secure +(erased|locked)' <<<"$(tf status)"
check "personal still runs with its data" \
	eval '[ "$(tf run personal -- cat /home/app/p 2>/dev/null)" = MINE ]'
stop_daemon
check "daemon stopped cleanly" test -z "$DPID"
rm -rf "$S.keys.copy"
