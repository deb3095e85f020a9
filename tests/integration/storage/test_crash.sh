#!/bin/bash
# SPDX-License-Identifier: ISC
# Crash safety by fault injection (TWOFOLD_FAULT=<point> makes twofoldd
# SIGKILL itself there): after each crash a plain restart comes back clean
# (old persona processes gone, one mount, one loop device), a credential
# still unlocks (the old or the new, never neither), no data is lost, an
# interrupted evict leaves the persona locked with its key absent, and a
# try is counted even when the daemon dies right after counting it.
. "$(dirname "$0")/lib.sh"
echo "1..43"

SEC=$S/fs/secure/data
OLD_PIDS=
fresh() {
	stop_daemon
	tf init --force --size 64M >/dev/null 2>&1 || return 1
	set_conf kdf_target_ms 20
	set_conf kdf_min_mem_mib 8
	set_conf allow_weak_credentials yes
	set_conf throttle_free_tries 10
	set_conf throttle_max_failures 50
	# the first start creates personal's device-bound key, which passes
	# the enroll fault points too: do it without a fault
	start_daemon && stop_daemon
}
init_pids() { tf status --json 2>/dev/null | grep -o '"init_pid":[0-9]*' | cut -d: -f2; }
sstate() { tf status 2>/dev/null | awk '$1 == "secure" { print $2 }'; }

# crash_at POINT CMD...: the daemon, started with the fault, must die of
# SIGKILL during CMD
crash_at() {
	local point=$1
	shift
	stop_daemon
	export TWOFOLD_FAULT=$point
	start_daemon
	local up=$?
	unset TWOFOLD_FAULT
	[ $up = 0 ] || return 1
	OLD_PIDS=$(init_pids)
	"$@" >/dev/null 2>&1
	wait_daemon_dead || return 1
	[ "$DRC" = 137 ]
}
restart_clean() {
	local p
	start_daemon || return 1
	for p in $OLD_PIDS; do
		# gone, or a zombie waiting for its new parent (pid 1) to reap it
		case $(ps -o stat= -p "$p") in
		'' | Z*) ;;
		*) diag "old persona pid $p still running"; return 1 ;;
		esac
	done
	for p in personal secure; do
		[ "$(grep -c " $S/fs/$p " /proc/self/mountinfo)" = 1 ] || return 1
		[ "$(losetup -j "$S/storage/$p.img" | wc -l)" = 1 ] || return 1
	done
}
unlocks() { has "secure unlocked" "$(pin unlock "$1")"; }

mkdir -p "$S" && init_state 64M || { nok "init"; exit 1; }
ok "init"

# ---- first enrolment
for point in enroll-before-commit enroll-after-commit; do
	fresh
	check "$point: daemon dies in enroll" crash_at $point pin enroll 111111
	check "$point: restart is clean" restart_clean
	st=$(sstate)
	diag "$point: after restart secure is '$st'"
	case $st in
	no-credential) check "$point: no credential (old state): enroll works" \
		has "credential set" "$(pin enroll 111111)" ;;
	locked) check "$point: new credential unlocks" unlocks 111111 ;;
	*) nok "$point: secure is '$st' after restart" ;;
	esac
	[ "$st" = no-credential ] && pin unlock 111111 >/dev/null
	check "$point: secure runs afterwards" test "$(sstate)" = running
done

# ---- change 111111 -> 222222
tf run secure -- sh -c 'echo BEFORE_CHANGE > /home/app/canary'
check "canary written before the changes" \
	test "$(tf run secure -- cat /home/app/canary)" = BEFORE_CHANGE
for point in change-before-commit change-after-commit; do
	check "$point: daemon dies in change" crash_at $point \
		sh -c "printf '111111\n222222\n' | '$TWOFOLD' --state '$S' enroll secure --pin-stdin"
	check "$point: restart is clean" restart_clean
	check "$point: secure locked after restart" test "$(sstate)" = locked
	if unlocks 111111; then
		cur=111111
	elif unlocks 222222; then
		cur=222222
	else
		cur=
	fi
	diag "$point: the credential that unlocks: ${cur:-none}"
	check "$point: the old or the new credential unlocks" test -n "$cur"
	check "$point: canary reads back" \
		test "$(tf run secure -- cat /home/app/canary 2>&1)" = BEFORE_CHANGE
	if [ "$cur" = 222222 ]; then
		out=$(printf '222222\n111111\n' | tf enroll secure --pin-stdin 2>&1)
		check "$point: change back to 111111" has "credential changed" "$out"
	else
		ok "$point: still 111111"
	fi
done

# ---- evict interrupted
for point in evict-after-kill evict-after-remove; do
	check "$point: daemon dies in evict" crash_at $point \
		sh -c "printf '111111\n' | '$TWOFOLD' --state '$S' unlock secure --pin-stdin && '$TWOFOLD' --state '$S' lock secure --evict"
	check "$point: restart is clean" restart_clean
	check "$point: secure locked (not running)" test "$(sstate)" = locked
	check "$point: key absent (host sees only encoded names)" \
		eval '[ -d "$SEC" ] && [ ! -e "$SEC/home" ] && [ -n "$(ls "$SEC")" ]'
	check "$point: unlock works" unlocks 111111
	check "$point: canary intact" \
		test "$(tf run secure -- cat /home/app/canary 2>&1)" = BEFORE_CHANGE
	tf lock secure --evict >/dev/null 2>&1
done

# ---- a try is counted before it is checked
left() { sed -n 's/.*wrong credential; \([0-9]*\) tries left.*/\1/p' <<<"$1"; }
stop_daemon
start_daemon
n0=$(left "$(pin unlock 999999)")
check "baseline: a wrong try reports tries left" test -n "$n0"
check "unlock-after-count: daemon dies after counting a wrong try" \
	crash_at unlock-after-count pin unlock 999999
check "unlock-after-count: restart is clean" restart_clean
n1=$(left "$(pin unlock 999999)")
diag "tries left: $n0 before, $n1 after the crashed try and one more"
check "unlock-after-count: the crashed try was counted" \
	test "${n1:-x}" = $((n0 - 2))
check "unlock-after-count: daemon dies after counting the right PIN" \
	crash_at unlock-after-count pin unlock 111111
check "unlock-after-count: restart is clean (2)" restart_clean
check "unlock-after-count: right PIN unlocks after the crash" unlocks 111111
check "unlock-after-count: canary intact" \
	test "$(tf run secure -- cat /home/app/canary 2>&1)" = BEFORE_CHANGE
tf lock secure --evict >/dev/null 2>&1
n2=$(left "$(pin unlock 999999)")
check "unlock-after-count: success reset the counter" test "${n2:-x}" = 49
