#!/bin/bash
# SPDX-License-Identifier: ISC
# The daemon never blocks (issue 11): while one unlock's Argon2id runs
# (a KDF set to take ~1.5 s), while a stop waits on a process that does
# not go away, and while a credential change runs (the old credential's
# check, a calibration, the new protector's Argon2id), `status`, `run
# personal -- true` and `lock secure --evict` are each answered (and
# during the change a second enroll and an unlock are answered busy).
# And while a screen lock waits for its freeze (TWOFOLD_FAULT=
# freeze-delay: the daemon writes cgroup.freeze 2 s late, so the lock is
# pending for a while; nothing else uses a plain lock here), `status` is
# answered and `run secure` is answered busy; a lock --evict overtakes it.
# What is checked is the order (the answer comes while the slow request
# is still pending), never a time; the latencies are printed as TAP
# comments.
#
# The stuck process: a process of secure's pid namespace (nsenter -p)
# outside secure's cgroups, frozen in a cgroup v1 freezer of the test's:
# a v1-frozen task does not die of SIGKILL until it is thawed, so secure's
# init cannot finish dying (zap_pid_ns_processes waits for every pid of
# the namespace) until the test thaws it. Without a v1 freezer (pure v2
# hosts) it is a zombie whose parent outside (nsenter) is stopped and
# does not reap it.
. "$(dirname "$0")/../storage/lib.sh"
echo "1..47"

PIN=314159
NEWPIN=271828
NS=
FRZ=

cleanup_resp() {
	[ -n "$FRZ" ] && [ -d "$FRZ" ] && echo THAWED >"$FRZ/freezer.state"
	if [ -n "$NS" ]; then
		kill -CONT "$NS" 2>/dev/null
		pkill -KILL -P "$NS" 2>/dev/null
		kill -KILL "$NS" 2>/dev/null
		wait "$NS" 2>/dev/null
	fi
	[ -n "$FRZ" ] && rmdir "$FRZ" 2>/dev/null
	cleanup
}
trap cleanup_resp EXIT

sstate() { tf status 2>/dev/null | awk '$1 == "secure" { print $2 }'; }
# json FIELD: secure's FIELD in status --json
json() { persona_field secure "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_state STATE: until secure is in STATE (5 s at most)
wait_state() {
	for _ in $(seq 250); do
		[ "$(sstate)" = "$1" ] && return 0
		sleep 0.02
	done
	return 1
}
# wait_log PATTERN N: until the daemon log has more than N lines with
# PATTERN (5 s at most)
wait_log() {
	for _ in $(seq 250); do
		[ "$(grep -c "$1" "$DLOG")" -gt "$2" ] && return 0
		sleep 0.02
	done
	return 1
}
# pending PID RCFILE: the background request has not been answered yet
pending() { kill -0 "$1" 2>/dev/null && ! [ -s "$2" ]; }
# answered NAME PID RCFILE WANT_RC CMD...: run CMD, print its latency,
# check its exit code (WANT_RC "any": an answer is enough) and that the
# slow request (PID) is still pending; the answer in ANS
answered() {
	local name=$1 bg=$2 rcf=$3 want=$4 t0 t1 out rc
	shift 4
	t0=$(now_ms)
	out=$("$@" 2>&1)
	rc=$?
	t1=$(now_ms)
	ANS=$out
	diag "$name: answered in $((t1 - t0)) ms (rc $rc): $out"
	if { [ "$want" = any ] || [ "$rc" -eq "$want" ]; } &&
		pending "$bg" "$rcf"; then
		ok "$name answered while the slow request is pending"
	else
		nok "$name answered while the slow request is pending"
	fi
}

tf init --size 64M >/dev/null || exit 1
# a credential check that takes long enough to ask things meanwhile
set_conf kdf_target_ms 1500
set_conf kdf_min_mem_mib 256
if TWOFOLD_FAULT=freeze-delay start_daemon; then ok "daemon starts"; else nok "daemon starts"; exit 1; fi
out=$(printf '%s\n%s\n' "$PIN" "$PIN" | tf enroll secure --pin-stdin 2>&1)
check "enroll secure (large KDF)" has "credential set" "$out"

# --- 1. while an unlock's KDF runs
t0=$(now_ms)
(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin >"$S.unlock" 2>&1
	echo $? >"$S.unlock.rc") &
UPID=$!
BG_PIDS="$BG_PIDS $UPID"
check "status shows secure unlocking while its KDF runs" wait_state unlocking
answered "status" "$UPID" "$S.unlock.rc" 0 tf status
answered "run personal -- true" "$UPID" "$S.unlock.rc" 0 \
	tf run personal -- true
answered "lock secure --evict" "$UPID" "$S.unlock.rc" 0 \
	tf lock secure --evict
wait "$UPID"
diag "unlock answered after $(($(now_ms) - t0)) ms: $(cat "$S.unlock")"
check "the unlock overtaken by the lock-down is cancelled" \
	grep -q "cancelled by a lock-down" "$S.unlock"
check "... and fails" [ "$(cat "$S.unlock.rc")" != 0 ]
check "secure stays locked, its key out of the kernel" \
	[ "$(sstate)" = locked -a "$(json key_loaded)" = false ]

# --- 2. while a stop waits on a process that does not go
out=$(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure" has "unlocked" "$out"
INIT=$(json init_pid)
nsenter -t "$INIT" -p -- sleep 1000 &
NS=$!
for _ in $(seq 100); do
	pgrep -P "$NS" sleep >/dev/null && break
	sleep 0.02
done
STUCK=$(pgrep -P "$NS" sleep)
if [ -d /sys/fs/cgroup/freezer ] && [ -n "$STUCK" ]; then
	FRZ=/sys/fs/cgroup/freezer/tfresp-$$
	mkdir "$FRZ"
	echo "$STUCK" >"$FRZ/cgroup.procs"
	echo FROZEN >"$FRZ/freezer.state"
	for _ in $(seq 100); do
		[ "$(cat "$FRZ/freezer.state")" = FROZEN ] && break
		sleep 0.02
	done
	diag "the stuck process $STUCK: $(cat "$FRZ/freezer.state") (v1 freezer)"
else
	kill -STOP "$NS"
	diag "the stuck process $STUCK: a zombie of a stopped parent"
fi
t0=$(now_ms)
(tf persona stop secure >"$S.stop" 2>&1
	echo $? >"$S.stop.rc") &
SPID=$!
BG_PIDS="$BG_PIDS $SPID"
check "status shows secure stopping while a process holds it" \
	wait_state stopping
answered "status" "$SPID" "$S.stop.rc" 0 tf status
answered "run personal -- true" "$SPID" "$S.stop.rc" 0 \
	tf run personal -- true
# its processes are killed but one is not gone: the key's removal may
# be "pending" (files busy) until it is; either is an answer
answered "lock secure --evict" "$SPID" "$S.stop.rc" any \
	tf lock secure --evict
# let the stuck one go: it dies, nsenter reaps it, init finishes dying
if [ -n "$FRZ" ]; then
	echo THAWED >"$FRZ/freezer.state"
else
	kill -CONT "$NS"
fi
wait "$NS" 2>/dev/null
NS=
[ -n "$FRZ" ] && rmdir "$FRZ" 2>/dev/null
FRZ=
wait "$SPID"
diag "stop answered after $(($(now_ms) - t0)) ms: $(cat "$S.stop")"
check "the stop completes once the process is gone" \
	[ "$(cat "$S.stop.rc")" = 0 ]
check "secure is locked, its key out of the kernel" \
	[ "$(sstate)" = locked -a "$(json key_loaded)" = false ]

# --- 3. while a credential change runs: the key store is the job's
out=$(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure" has "unlocked" "$out"
n=$(grep -c "job enroll secure started" "$DLOG")
t0=$(now_ms)
(printf '%s\n%s\n' "$PIN" "$NEWPIN" | tf enroll secure --pin-stdin \
	>"$S.enroll" 2>&1
	echo $? >"$S.enroll.rc") &
EPID=$!
BG_PIDS="$BG_PIDS $EPID"
check "the credential change runs as a job (daemon log)" \
	wait_log "job enroll secure started" "$n"
answered "status" "$EPID" "$S.enroll.rc" 0 tf status
answered "run personal -- true" "$EPID" "$S.enroll.rc" 0 \
	tf run personal -- true
answered "a second enroll" "$EPID" "$S.enroll.rc" any \
	sh -c "printf '%s\n%s\n' $NEWPIN $PIN | $TWOFOLD --state $S \
		enroll secure --pin-stdin"
check "... is answered busy" has "busy" "$ANS"
# a lock-down does not wait for the change: it loads no key
answered "lock secure --evict" "$EPID" "$S.enroll.rc" 0 \
	tf lock secure --evict
answered "unlock secure" "$EPID" "$S.enroll.rc" any \
	sh -c "printf '%s\n' $PIN | $TWOFOLD --state $S \
		unlock secure --pin-stdin"
check "... is answered busy" has "busy" "$ANS"
wait "$EPID"
diag "change answered after $(($(now_ms) - t0)) ms: $(cat "$S.enroll")"
check "the credential change completes" \
	[ "$(cat "$S.enroll.rc")" = 0 ]
check "... and says so" grep -q "credential changed" "$S.enroll"
check "secure is locked, its key out of the kernel" \
	[ "$(sstate)" = locked -a "$(json key_loaded)" = false ]
out=$(printf '%s\n' "$NEWPIN" | tf unlock secure --pin-stdin 2>&1)
check "the new credential unlocks secure" has "unlocked" "$out"

# --- 4. while a screen lock waits for its freeze
t0=$(now_ms)
(tf lock secure >"$S.lock" 2>&1
	echo $? >"$S.lock.rc") &
LPID=$!
BG_PIDS="$BG_PIDS $LPID"
check "status shows secure freezing while its lock is pending" \
	wait_state freezing
answered "status" "$LPID" "$S.lock.rc" 0 tf status
answered "run secure -- true" "$LPID" "$S.lock.rc" any \
	tf run secure -- true
check "... is answered busy" has "busy" "$ANS"
wait "$LPID"
diag "lock answered after $(($(now_ms) - t0)) ms: $(cat "$S.lock")"
check "the screen lock completes" [ "$(cat "$S.lock.rc")" = 0 ]
check "... and says so" grep -q "secure locked" "$S.lock"
check "secure is frozen" [ "$(sstate)" = frozen ]
out=$(printf '%s\n' "$NEWPIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure (thaw)" has "unlocked" "$out"
# a lock-down during the freeze overtakes it
(tf lock secure >"$S.lock2" 2>&1
	echo $? >"$S.lock2.rc") &
LPID=$!
BG_PIDS="$BG_PIDS $LPID"
check "secure freezing again" wait_state freezing
# (the pending lock is answered as the lock-down begins, so not the
# pending check here)
out=$(tf lock secure --evict 2>&1)
check "lock secure --evict during the freeze" has "locked down" "$out"
wait "$LPID"
diag "overtaken lock: $(cat "$S.lock2")"
check "the overtaken screen lock is answered" \
	grep -q "overtook the screen lock" "$S.lock2"
check "secure is locked down, its key out of the kernel" \
	[ "$(sstate)" = locked -a "$(json key_loaded)" = false ]
out=$(printf '%s\n' "$NEWPIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure" has "unlocked" "$out"

# --- 5. a wipe during a credential change waits for it, then erases
n=$(grep -c "job enroll secure started" "$DLOG")
(printf '%s\n%s\n' "$NEWPIN" "$PIN" | tf enroll secure --pin-stdin \
	>"$S.enroll2" 2>&1
	echo $? >"$S.enroll2.rc") &
EPID=$!
BG_PIDS="$BG_PIDS $EPID"
check "a second credential change runs as a job (daemon log)" \
	wait_log "job enroll secure started" "$n"
(tf wipe secure --yes >"$S.wipe" 2>&1
	echo $? >"$S.wipe.rc") &
WPID=$!
BG_PIDS="$BG_PIDS $WPID"
answered "status" "$EPID" "$S.enroll2.rc" 0 tf status
check "... while the wipe waits too" pending "$WPID" "$S.wipe.rc"
wait "$EPID"
wait "$WPID"
diag "change: $(cat "$S.enroll2"); wipe: $(cat "$S.wipe")"
diag "$(grep -E "job |request (wipe|status)" "$DLOG" | tail -6)"
check "the change completes first" grep -q "credential changed" "$S.enroll2"
check "then the wipe erases secure" \
	[ "$(cat "$S.wipe.rc")" = 0 -a "$(sstate)" = erased ]
