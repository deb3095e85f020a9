#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# An installed app's own cgroup (issue 13, docs/packages.md "Sandbox"):
# every run --app lives in <persona>/app-NAME/run-N and cannot move
# itself out; `app remove` kills its processes (a service's too) before
# its image goes; a catalog that drops it disables it (killed, audited
# app.disabled, run refused); an update leaves the old version's processes
# running; camera and microphone only if declared and only while the
# persona is the foreground.
#
# No camera or sound hardware here: the nodes are made with mknod under
# the host's /dev with the real majors (81 V4L2, 116 ALSA) and minors no
# driver has, at paths the default profile picks up (/dev/video*,
# /dev/snd/*; no device.conf entry). Opening one where the device cgroup allows it reaches the
# kernel's char device lookup, which finds nothing: ENXIO (or ENODEV);
# where a cgroup refuses it the open fails earlier with EPERM. That
# difference is what is tested.
. "$(dirname "$0")/../persona/lib.sh"

command -v mkfs.erofs >/dev/null || {
	echo "1..0 # SKIP mkfs.erofs (erofs-utils) not installed"
	exit 0
}
CAM=/dev/video-tftest-$$
MIC=/dev/snd/tftest-$$
setup_state
W=$(mktemp -d /tmp/tfappcg.XXXXXX)
EXTRA_CLEANUP='rm -rf "$W" "$CAM" "$MIC"'
if [ ! -d /dev/snd ]; then
	mkdir /dev/snd || bail "mkdir /dev/snd failed"
	EXTRA_CLEANUP="$EXTRA_CLEANUP; rmdir /dev/snd"
fi
# and a device.conf camera (class camera) with the numbers of /dev/net/tun
# (c 10 200), a node that opens: an app can hold it across a switch
TUNCAM=/dev/tf-test-tuncam-$$
EXTRA_CLEANUP="$EXTRA_CLEANUP; rm -f $TUNCAM"
mknod -m 666 "$CAM" c 81 250 && mknod -m 666 "$MIC" c 116 250 &&
	mknod -m 666 "$TUNCAM" c 10 200 ||
	bail "mknod of the test's camera and microphone nodes failed"
printf '\n[device tuncam]\npath = %s\nclass = camera\n' "$TUNCAM" >>"$S/device.conf"
pkg() { "$TWOFOLD" pkg "$@"; }
set_persona_conf() {
	sed -i "/^\[persona $1\]/,/^\[/ s|^#\?$2 =.*|$2 = $3|" "$S/device.conf"
}

PK=$(pkg keygen --out "$W/org.key") || bail "pkg keygen failed"
# build NAME CODE PERMS: $W/NAME-CODE.tfa
build() {
	local t=$W/tree-$1-$2
	mkdir -p "$t/bin"
	cat >"$t/bin/main" <<'S'
#!/bin/sh
case "$1" in
cg) grep '^0::' /proc/self/cgroup ;;
escape)
	for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs \
		/sys/fs/cgroup/../cgroup.procs; do
		(echo $$ >"$f") 2>/dev/null && echo "MOVED via $f"
	done
	grep '^0::' /proc/self/cgroup ;;
hold) exec sleep "$2" ;;
holddev) exec python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
print("held", flush=True)
time.sleep(int(sys.argv[2]))' "$2" "$3" ;;
spawn) sleep "$2" >/dev/null 2>&1 & echo started ;;
open) python3 -c '
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_RDWR)); print("OPENED")
except OSError as e:
    print(errno.errorcode[e.errno])' "$2" ;;
*) echo "VERSION" ;;
esac
S
	sed -i "s/VERSION/$1 v$2/" "$t/bin/main"
	chmod 755 "$t/bin/main"
	printf 'name = %s\nversion_code = %s\nversion = 1.%s\npersonas = secure\npermissions = %s\nentry = main=/bin/main\n' \
		"$1" "$2" "$2" "$3" >"$W/mf-$1-$2"
	[ "$3" = "" ] && sed -i '/^permissions/d' "$W/mf-$1-$2"
	pkg build "$t" -o "$W/$1-$2.tfa" --key "$W/org.key" --manifest "$W/mf-$1-$2" >/dev/null
}
build org.x 1 "" || bail "pkg build failed"
build org.y 1 ""
build org.u 1 ""
build org.u 2 ""
build org.cam 1 camera
build org.mic 1 microphone
build org.none 1 network
printf 'org.x 1 9 * secure\norg.y 1 9 * secure\norg.u 1 9 * secure\norg.cam 1 9 * secure\norg.mic 1 9 * secure\norg.none 1 9 * secure\n' >"$W/list"
pkg catalog build "$W/list" -o "$W/catalog" --key "$W/org.key" --seq 1 --expires 2099-01-01 ||
	bail "catalog build failed"
set_persona_conf secure app_trust "$PK"
set_persona_conf secure app_catalog "$W/catalog"
# secure installs only what its scanner passed (scandb.sh)
. "$(dirname "$0")/scandb.sh"
make_scan_db "$W" && use_scan_db secure || bail "scanner database failed"

start_daemon && enroll_unlock_secure || bail "daemon or secure did not start"
for a in org.x-1 org.y-1 org.u-1 org.cam-1 org.mic-1 org.none-1; do
	tf app install secure "$W/$a.tfa" >/dev/null 2>&1 || bail "install $a failed"
done
audit_has() { tf audit show --persona secure 2>&1 | grep "$1" | grep -q "$2"; }
# pid_of ARG: the host pid of the `sleep ARG` an app runs
pid_of() {
	local p
	for _ in $(seq 100); do
		p=$(pgrep -f "^sleep $1\$" | head -1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	return 1
}
# gone PID [TRIES]: exited (a zombie not yet reaped counts: it runs
# nothing), waiting up to TRIES x 50 ms (5 s)
gone() {
	for _ in $(seq "${2:-100}"); do
		[ -e "/proc/$1" ] || return 0
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
v2_line() { grep '^0::' "/proc/$1/cgroup" | cut -d: -f3-; }
V2=/sys/fs/cgroup
[ -d /sys/fs/cgroup/unified ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] &&
	V2=/sys/fs/cgroup/unified

# --- its own cgroup, and no way out
out=$(tf run secure --app org.x -- cg 2>&1)
echo "$out" | grep -Eq '^0::/app-org\.x/run-[0-9]+$'
ok $? "run --app: the app is in app-org.x/run-N below its persona" "$out"
out=$(tf run secure --app org.x -- escape 2>&1)
not_has MOVED "$out" && echo "$out" | grep -Eq '^0::/app-org\.x/run-[0-9]+$'
ok $? "the app cannot move itself to its persona's cgroup" "$out"
out=$(tf run secure -- sh -c 'grep -E " - (cgroup2?|sysfs) " /proc/self/mountinfo' 2>&1)
[ -z "$out" ]
ok $? "  ... the persona has no cgroup or sysfs mount to try with" "$out"
tf run secure --app org.x -- hold 3101 >/dev/null 2>&1 &
HOLD=$!
EXTRA_CLEANUP="$EXTRA_CLEANUP; kill $HOLD 2>/dev/null"
pid=$(pid_of 3101)
ok $? "a held run of org.x is there (host pid $pid)"
cg=$(v2_line "$pid")
PCG=$V2${cg%/app-org.x/*}
has "/secure/app-org.x/run-" "$cg" && [ -f "$PCG/cgroup.procs" ]
ok $? "  ... in the host's view too: $cg" "$cg"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
for f in "$PCG/cgroup.procs" "$PCG/app-org.x/cgroup.procs" "$V2$cg/../../cgroup.procs"; do
	setpriv --reuid="$uid" --regid="$uid" --clear-groups sh -c "echo $pid >$f" 2>/dev/null
	ok $(($? == 0)) "  ... its host uid $uid may not write ${f#"$PCG"/}" "$(ls -l "$f")"
done
[ "$(v2_line "$pid")" = "$cg" ]
ok $? "  ... and it is still where it was" "$(v2_line "$pid")"

# --- remove kills it, a service's leftovers too, before the image goes
out=$(tf run secure --service --app org.x -- spawn 3102 2>&1)
spid=$(pid_of 3102)
ok $? "a service run of org.x left a child behind (pid $spid)" "$out"
out=$(tf app remove secure org.x 2>&1)
ok $? "remove org.x while it runs" "$out"
gone "$pid"
ok $? "  ... its running process is gone" "$(ps -o pid,stat,args -p "$pid")"
gone "$spid"
ok $? "  ... and the service's child" "$(ps -o pid,stat,args -p "$spid")"
# bounded: without the kill the run would hold the test for 3101 s
for _ in $(seq 100); do kill -0 $HOLD 2>/dev/null || break; sleep 0.05; done
if kill -0 $HOLD 2>/dev/null; then
	rc=running
	kill $HOLD
else
	wait $HOLD
	rc=$?
fi
ok $([ $rc = 137 ]; echo $?) "  ... the run ends killed (137)" "rc=$rc"
out=$(tf run secure -- sh -c 'ls /apps' 2>&1)
not_has org.x "$out"
ok $? "  ... and its image is unmounted" "$out"
[ ! -e "$PCG/app-org.x" ]
ok $? "  ... and its cgroup removed" "$(ls "$PCG")"

# --- an update leaves the old version's processes running
tf run secure --service --app org.u -- spawn 3201 >/dev/null 2>&1
upid=$(pid_of 3201)
ok $? "org.u 1 runs a service child (pid $upid)"
out=$(tf app install secure "$W/org.u-2.tfa" 2>&1)
ok $? "update org.u to 2 while it runs" "$out"
[ -e "/proc/$upid" ] && ! grep -q '^State:.*Z' "/proc/$upid/status"
ok $? "  ... the old version's process keeps running" "$(ps -o pid,stat,args -p "$upid")"
out=$(tf run secure --app org.u 2>&1)
[ "$out" = "org.u v2" ]
ok $? "  ... a new run gets version 2" "$out"

# --- a catalog that drops an app disables it: killed, audited, refused
tf run secure --service --app org.y -- spawn 3301 >/dev/null 2>&1
ypid=$(pid_of 3301)
ok $? "org.y runs a service child (pid $ypid)"
grep -v '^org.y ' "$W/list" >"$W/list2"
pkg catalog build "$W/list2" -o "$W/catalog.new" --key "$W/org.key" --seq 2 --expires 2099-01-01
mv "$W/catalog.new" "$W/catalog"
# the daemon's 1 s tick sees the new file
gone "$ypid" 300
ok $? "dropped from the catalog: org.y's process is killed" "$(ps -o pid,stat,args -p "$ypid"; tail -3 "$DLOG")"
audit_has app.disabled "name=org.y"
ok $? "  ... app.disabled audited" "$(tf audit show --persona secure | tail -3)"
out=$(tf run secure --app org.y 2>&1)
ok $(($? == 0)) "  ... and run --app refuses it" "$out"
has disabled "$out"
ok $? "  ... saying it is disabled" "$out"
[ -e "/proc/$upid" ] && ! grep -q '^State:.*Z' "/proc/$upid/status"
ok $? "  ... org.u (still in the catalog) runs on" "$(ps -o pid,stat,args -p "$upid")"
out=$(tf run secure -- sh -c 'ls /apps; /apps/org.y/bin/main 2>/dev/null; echo rc=$?' 2>&1)
not_has org.y "$out" && has "rc=127" "$out"
ok $? "  ... its image is gone from /apps: nothing else runs its code either" "$out"
pkg catalog build "$W/list" -o "$W/catalog.new" --key "$W/org.key" --seq 3 --expires 2099-01-01
mv "$W/catalog.new" "$W/catalog"
for _ in $(seq 50); do
	out=$(tf run secure --app org.y 2>&1) && break
	sleep 0.1
done
[ "$out" = "org.y v1" ]
ok $? "allowed again by a newer catalog: org.y is mounted and runs" "$out"

# --- camera and microphone: declared, and the persona in the foreground
tf run secure -- test -c "$CAM" && tf run secure -- test -c "$MIC"
ok $? "the host's camera and sound nodes are bound into the persona's /dev"
try() { tf run secure --app "$1" -- open "$2" 2>&1; }
nodev() { [ "$1" = ENXIO ] || [ "$1" = ENODEV ]; }
out=$(try org.cam "$CAM")
[ "$out" = EPERM ]
ok $? "background secure: org.cam (camera declared) gets EPERM" "$out"
out=$(try org.mic "$MIC")
[ "$out" = EPERM ]
ok $? "background secure: org.mic (microphone declared) gets EPERM" "$out"
tf switch secure >/dev/null || bail "switch secure failed"
out=$(try org.cam "$CAM")
nodev "$out"
ok $? "foreground: org.cam opens the camera (no driver: ENXIO)" "$out"
out=$(try org.none "$CAM")
[ "$out" = EPERM ]
ok $? "foreground: org.none (no camera declared) gets EPERM" "$out"
out=$(try org.mic "$CAM")
[ "$out" = EPERM ]
ok $? "foreground: org.mic (microphone only) gets EPERM for the camera" "$out"
out=$(try org.mic "$MIC")
nodev "$out"
ok $? "foreground: org.mic opens the microphone (ENXIO)" "$out"
out=$(try org.none "$MIC")
[ "$out" = EPERM ]
ok $? "foreground: org.none gets EPERM for the microphone" "$out"
out=$(try org.cam "$MIC")
[ "$out" = EPERM ]
ok $? "foreground: org.cam (camera only) gets EPERM for the microphone" "$out"
out=$(try org.none /dev/null)
[ "$out" = OPENED ]
ok $? "foreground: org.none still opens /dev/null" "$out"
out=$(try org.none "$TUNCAM")
[ "$out" = EPERM ]
ok $? "foreground: org.none gets EPERM for a device.conf camera (class, any numbers)" "$out"
out=$(try org.cam "$TUNCAM")
[ "$out" = OPENED ]
ok $? "foreground: org.cam opens it" "$out"
tf run secure --app org.cam -- holddev "$TUNCAM" 3401 >"$W/hold" 2>&1 &
HOLD2=$!
EXTRA_CLEANUP="$EXTRA_CLEANUP; kill $HOLD2 2>/dev/null"
for _ in $(seq 100); do grep -q held "$W/hold" && break; sleep 0.05; done
hpid=$(pgrep -f "time.sleep.* $TUNCAM 3401\$" | head -1)
ok $([ -n "$hpid" ]; echo $?) "org.cam holds the camera open (pid $hpid)" "$(cat "$W/hold")"
tf switch personal >/dev/null
gone "$hpid"
ok $? "switch away: the app holding the camera is killed (its cgroup is scanned)" "$(tail -3 "$DLOG")"
out=$(try org.cam "$CAM")
[ "$out" = EPERM ]
ok $? "back in the background: org.cam gets EPERM again" "$out"
out=$(try org.mic "$MIC")
[ "$out" = EPERM ]
ok $? "back in the background: org.mic gets EPERM again" "$out"
finish
