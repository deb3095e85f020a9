#!/bin/bash
# SPDX-License-Identifier: ISC
# Officer-facing protections through the daemon (docs/keys.md "Wipe",
# "Re-authentication", "Duress credential"): `twofold wipe`, reauth_after,
# idle_evict_after and the duress PIN. No timing assertions: the timers
# are polled with a generous bound.
. "$(dirname "$0")/lib.sh"
echo "1..69"

# set_pconf PERSONA KEY VALUE: a key of one [persona] section
set_pconf() {
	sed -i "/^\[persona $1\]/,/^\[/ s/^$2 = .*/$2 = $3/" "$S/device.conf"
}
# state PERSONA: its state in `twofold status`
state() { tf status 2>/dev/null | awk -v p="$1" '$1 == p { print $2 }'; }
# wait_state PERSONA STATE [SECONDS]: poll until it has that state
wait_state() {
	local i
	for i in $(seq $((${3:-20} * 10))); do
		[ "$(state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

init_state 64M || { nok "init"; exit 1; }
set_conf throttle_free_tries 3
set_conf throttle_max_failures 6
set_conf throttle_base_delay 1
check "device.conf written by init names reauth_after (72 h) for secure" \
	grep -q '^reauth_after = 259200$' "$S/device.conf"
check "daemon starts" start_daemon
K=$S/keys/secure

# ---- wipe
out=$(pin enroll 111111)
check "enroll 111111" has "credential set" "$out"
out=$(pin unlock 111111)
check "unlock" has "secure unlocked" "$out"
tf run secure -- sh -c 'echo SECRET_DATA > /home/app/canary'
tf run personal -- sh -c 'echo PERSONAL_DATA > /home/app/keep'
st=$(tf status)
check "status shows the time left until re-authentication" \
	eval 'grep "^secure" <<<"$st" | grep -Eq "re-auth in (3d00h|2d23h)"'
ra=$(tf --json status | grep -o '"reauth_in_s":[0-9]*' | cut -d: -f2)
check "status --json: reauth_in_s ($ra) at most 72 h" \
	eval '[ -n "$ra" ] && [ "$ra" -le 259200 ] && [ "$ra" -gt 258000 ]'

# setsid: no controlling terminal even when the suite runs on one (the
# CLI would ask there)
out=$(setsid -w "$TWOFOLD" --state "$S" wipe secure </dev/null 2>&1)
rc=$?
check "wipe without --yes and no terminal: refused, clear error" \
	eval '[ $rc = 1 ] && has "no terminal to confirm on; nothing wiped (pass --yes" "$out"'
check "... secure still running" test "$(state secure)" = running
out=$(setsid -w "$TWOFOLD" --state "$S" wipe secure 2>&1 </dev/null)
rc=$?
check "... and again: nothing was wiped in between (exit 1)" \
	eval '[ $rc = 1 ] && has "no terminal" "$out" && [ "$(state secure)" = running ]'
out=$(tf wipe personal --yes 2>&1)
rc=$?
check "wipe personal: refused with a clear error" \
	eval '[ $rc = 1 ] && has "personal is not credential-bound; wipe refuses it" "$out"'
check "... personal still running" test "$(state personal)" = running

out=$(tf wipe secure --yes 2>&1)
rc=$?
diag "$out"
check "wipe secure --yes" eval '[ $rc = 0 ] && has "secure wiped" "$out"'
check "status: secure erased" test "$(state secure)" = erased
check "status --json: no key loaded" \
	eval 'tf --json status | grep -q "\"name\":\"secure\",\"state\":\"erased\",\"foreground\":[a-z]*,\"credential\":true,\"key_loaded\":false"'
check "keys/secure: no sp.* and no discardable left" \
	test -z "$(ls "$K" | grep -E '^(sp\.|discardable)')"
check "the audit log records the wipe" \
	grep -Eq '^[0-9]+ [0-9T:.Z-]+ erase\.wipe persona=secure detail="crypto-erased: wiped on request \(uid 0, pid [0-9]+\)"$' \
	<<<"$(tf audit show)"
check "no process of secure left" \
	eval '! tf run secure -- true 2>/dev/null'
out=$(pin unlock 111111)
check "the old PIN no longer unlocks (erased, cause not told)" \
	eval 'has "secure was crypto-erased; its data is gone" "$out" && ! has "too many" "$out"'
check "personal untouched: still running" test "$(state personal)" = running
got=$(tf run personal -- cat /home/app/keep 2>&1)
check "personal untouched: its data still there" test "$got" = PERSONAL_DATA
out=$(tf wipe secure --yes 2>&1)
check "wipe of an erased persona: fine (a remote wipe may retry)" \
	has "secure wiped" "$out"
out=$(pin enroll 222222)
check "after a wipe the persona can be enrolled again" \
	has "credential set" "$out"
out=$(pin unlock 222222)
check "new PIN unlocks" has "secure unlocked" "$out"
got=$(tf run secure -- sh -c 'ls -A /home/app' 2>&1)
check "secure starts empty after the wipe" test -z "$got"
check "status after re-enroll: running" test "$(state secure)" = running

# ---- reauth_after
stop_daemon
set_pconf secure reauth_after 2
set_pconf secure idle_evict_after 0
check "daemon restarts with reauth_after = 2" start_daemon
check "after the restart secure is locked" test "$(state secure)" = locked
out=$(pin unlock 222222)
check "unlock" has "secure unlocked" "$out"
check "reauth_after: secure evicted (polled up to 20 s)" \
	wait_state secure locked 20
check "reauth_after: key removed" \
	eval 'tf --json status | grep -q "\"name\":\"secure\",\"state\":\"locked\",\"foreground\":[a-z]*,\"credential\":true,\"key_loaded\":false"'
check "reauth_after: run refused" eval '! tf run secure -- true 2>/dev/null'
grep -q "secure: 2 s since its last credential unlock (reauth_after): evicting" "$S.log"
check "daemon log says why" test $? = 0
out=$(pin unlock 222222)
check "reauth_after: the credential unlocks again" has "secure unlocked" "$out"
tf lock secure --evict >/dev/null 2>&1

# ---- idle_evict_after
stop_daemon
set_pconf secure reauth_after 0
set_pconf secure idle_evict_after 3
check "daemon restarts with idle_evict_after = 3" start_daemon
out=$(pin unlock 222222)
check "unlock" has "secure unlocked" "$out"
out=$(tf switch secure 2>&1)
check "switch to secure" has "secure is now foreground" "$out"
# foreground: not idle however long it stays (5 s > 3 s)
sleep 5
check "idle_evict_after: the foreground persona stays running" \
	test "$(state secure)" = running
check "status: no reauth timer with reauth_after = 0" \
	eval '! tf --json status | grep -q reauth_in_s'
tf switch personal >/dev/null 2>&1
check "status --json: idle_evict_in_s in the background" \
	eval 'tf --json status | grep -q "\"idle_evict_in_s\":[0-3]"'
check "idle_evict_after: secure evicted in the background (polled up to 20 s)" \
	wait_state secure locked 20
grep -q "secure: not the foreground for 3 s (idle_evict_after): evicting" "$S.log"
check "daemon log says why" test $? = 0
check "personal still running" test "$(state personal)" = running
out=$(pin unlock 222222)
check "idle_evict_after: unlock works again" has "secure unlocked" "$out"
tf lock secure --evict >/dev/null 2>&1

# ---- duress credential
stop_daemon
set_pconf secure idle_evict_after 0
check "daemon restarts" start_daemon
# dpin CURRENT DURESS: enroll --duress through stdin (two lines)
dpin() { printf '%s\n%s\n' "$1" "$2" | tf enroll secure --duress --pin-stdin 2>&1; }
# every credential has a duress verifier (a decoy until one is set)
check "keys/secure/duress exists before any duress PIN is set (a decoy)" \
	test -s "$K/duress"
d0=$(cksum <"$K/duress")
out=$(dpin 222222 222222)
rc=$?
check "duress PIN equal to the PIN: refused, clear error" \
	eval '[ $rc = 1 ] && has "duress PIN must differ from the PIN" "$out"'
out=$(dpin 222222 12)
check "duress PIN of the wrong form: refused" has "PIN too short" "$out"
check "... nothing written" eval '[ "$(cksum <"$K/duress")" = "$d0" ]'
out=$(dpin 999999 55555555)
check "wrong current PIN: refused and counted" \
	has "wrong credential; 5 tries left" "$out"
out=$(dpin 222222 55555555)
check "enroll secure --duress" has "duress credential set" "$out"
check "keys/secure/duress written, 0600" \
	eval '[ "$(stat -c %a "$K/duress")" = 600 ]'
check "status does not tell that a duress PIN is set" \
	eval '! tf status | grep -qi duress && ! tf --json status | grep -qi duress'
# a change removes it, and says so
out=$(printf '222222\n333333\n' | tf enroll secure --pin-stdin 2>&1)
check "credential change: says a duress PIN no longer works (whether one was set or not)" \
	has "credential changed; a duress PIN, if one was set, no longer works: set it again with: twofold enroll secure --duress" "$out"
check "... keys/secure/duress replaced by a decoy (the same size: the files do not tell)" \
	eval '[ "$(stat -c %s "$K/duress")" = 56 ]'

out=$(pin unlock 55555555)
check "old duress PIN after the change: only a wrong PIN" \
	has "wrong credential" "$out"
check "... secure not erased" test "$(state secure)" = locked
out=$(dpin 333333 55555555)
check "duress set again under the new PIN" has "duress credential set" "$out"
out=$(pin unlock 333333)
check "the right PIN still unlocks" has "secure unlocked" "$out"
tf run secure -- sh -c 'echo DURESS_CANARY > /home/app/canary'
tf lock secure >/dev/null 2>&1
check "screen-locked (frozen, key loaded)" test "$(state secure)" = frozen
out_w=$(pin unlock 000000)
rc_w=$?
out_d=$(pin unlock 55555555)
rc_d=$?
diag "wrong:  $out_w"
diag "duress: $out_d"
# the wrong try left 5 tries, the duress try (counted as well) 4
check "duress PIN: answered exactly like a wrong PIN (message)" \
	eval '[ "${out_w/5 tries/4 tries}" = "$out_d" ]'
check "duress PIN: answered exactly like a wrong PIN (exit status 1)" \
	eval '[ $rc_w = 1 ] && [ $rc_d = 1 ]'
check "duress PIN: secure erased (polled)" wait_state secure erased 10
check "... its key out of the kernel" \
	eval 'tf --json status | grep -q "\"name\":\"secure\",\"state\":\"erased\",\"foreground\":[a-z]*,\"credential\":true,\"key_loaded\":false"'
check "... its key files gone" \
	test -z "$(ls "$K" | grep -E '^(sp\.|discardable|duress)')"
check "... its data gone" eval '! grep -rq DURESS_CANARY "$S/fs/secure" 2>/dev/null'
check "the audit log records the duress as such" \
	grep -Eq '^[0-9]+ [0-9T:.Z-]+ erase\.duress persona=secure detail="crypto-erased: duress credential entered"$' \
	<<<"$(tf audit show)"
out=$(pin unlock 333333)
check "after the duress: the right PIN fails; the reply does not tell the cause" \
	eval 'has "secure was crypto-erased; its data is gone" "$out" && ! has duress "$out" && ! has "too many" "$out"'
check "the daemon log does not tell the cause either" \
	eval '! grep -qi "duress credential entered" "$S.log"'
check "personal untouched" \
	eval '[ "$(tf run personal -- cat /home/app/keep 2>&1)" = PERSONAL_DATA ]'
