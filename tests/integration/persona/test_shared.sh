#!/bin/bash
# SPDX-License-Identifier: ISC
# The personas share no inode of the system tree and show no host
# identity, checked from inside with `twofold run`:
#  - inotify on /usr and /etc: one persona's watch sees nothing of what the
#    other opens or runs (it did when both bound the host's /usr and /etc);
#  - flock on a /usr or /etc file held in one persona does not block the
#    other (a covert channel before);
#  - /etc/passwd and /etc/group are the persona's (no host user names),
#    /etc/shadow & co. are hidden, /etc/hostname is the persona's;
#  - /proc/1/cmdline is "twofold-init NAME" (was the daemon's argv, with
#    the state dir), the launcher and the spawner have titles on the host;
#  - devpts max=: personal opening ptys until it fails leaves secure able
#    to open one (personal used up the host-wide pool before).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

BG=
EXTRA_CLEANUP='for a in $BG; do kill -KILL $a; wait $a; done 2>/dev/null'
PY=/usr/bin/python3

setup_state
start_daemon || {
	echo "Bail out! daemon did not start"
	exit 1
}
enroll_unlock_secure
ok $? "secure enrolled and unlocked"

T=$(mktemp -d /tmp/tfshared.XXXXXX)
EXTRA_CLEANUP="$EXTRA_CLEANUP; rm -rf $T"

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (10 s)
wait_for() {
	for _ in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# ---- inotify ----
# The watcher (in secure) watches DIR, prints "ready", then records the
# names of the events until it sees SENTINEL, which secure itself opens
# after the other persona acted: no timing, every event before the
# sentinel has been delivered by then.
WATCH='import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
d, sentinel = sys.argv[1], sys.argv[2]
# IN_ACCESS | IN_OPEN | IN_CLOSE_NOWRITE | IN_ATTRIB
if libc.inotify_add_watch(fd, d.encode(), 0x1 | 0x20 | 0x10 | 0x4) < 0:
    print("watch failed", ctypes.get_errno(), flush=True); sys.exit(1)
print("ready", flush=True)
names = set()
while sentinel not in names:
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        wd, mask, cookie, ln = __import__("struct").unpack_from("iIII", buf, i)
        names.add(buf[i + 16:i + 16 + ln].rstrip(b"\0").decode())
        i += 16 + ln
print("names", " ".join(sorted(names)), flush=True)'

inotify_case() { # DIR SENTINEL_CMD SENTINEL_NAME LEAK_NAME OTHER_CMD...
	local dir=$1 scmd=$2 sname=$3 leak=$4 out
	shift 4
	: >"$T/w"
	tf run secure -- $PY -c "$WATCH" "$dir" "$sname" >"$T/w" 2>&1 &
	local w=$!
	BG="$BG $w"
	wait_for "$T/w" '^ready' || {
		ok 1 "inotify on $dir: watcher ready" "$(cat "$T/w")"
		return
	}
	tf run personal -- "$@" >/dev/null 2>&1
	tf run secure -- $scmd >/dev/null 2>&1
	wait "$w"
	out=$(cat "$T/w")
	echo "$out" | grep -q "^names .*\b$sname\b"
	ok $? "inotify on $dir: the watch works (sees secure's own $sname)" "$out"
	echo "$out" | grep -qw -- "$leak"
	ok $([ $? != 0 ]; echo $?) \
		"inotify on $dir: secure sees nothing of personal's $leak" "$out"
}
inotify_case /usr/bin "/usr/bin/head -c1 /usr/bin/tail" tail true /usr/bin/true
inotify_case /usr/bin "/usr/bin/head -c1 /usr/bin/tail" tail dd \
	/usr/bin/cat /usr/bin/dd
inotify_case /etc "/usr/bin/cat /etc/issue" issue debian_version \
	/usr/bin/cat /etc/debian_version

# ---- flock ----
HOLD='import fcntl, os, sys, time
f = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)'
TRY='import fcntl, os, sys
f = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print("free")
except BlockingIOError:
    print("busy")'
for f in /usr/bin/true /etc/debian_version; do
	: >"$T/h"
	tf run secure -- $PY -c "$HOLD" "$f" >"$T/h" 2>&1 &
	BG="$BG $!"
	wait_for "$T/h" '^locked'
	ok $? "flock: secure holds a lock on $f" "$(cat "$T/h")"
	out=$(tf run secure -- $PY -c "$TRY" "$f" 2>&1)
	ok $([ "$out" = busy ]; echo $?) "flock: secure itself sees its lock on $f" "$out"
	out=$(tf run personal -- $PY -c "$TRY" "$f" 2>&1)
	ok $([ "$out" = free ]; echo $?) "flock: personal does not see secure's lock on $f" "$out"
done

# ---- host identities ----
pw=$(tf run personal -- /usr/bin/cat /etc/passwd)
ok $? "personal: read /etc/passwd"
leaked=
for u in $(cut -d: -f1 /etc/passwd); do
	case $u in root | nobody | app) continue ;; esac
	echo "$pw" | cut -d: -f1 | grep -qx -- "$u" && leaked="$leaked $u"
done
ok $([ -z "$leaked" ]; echo $?) "/etc/passwd in the persona has no host user names" \
	"host names seen:$leaked"
echo "$pw" | grep -q '^app:x:1000:1000:'
ok $? "/etc/passwd has the app user 1000" "$pw"
gr=$(tf run secure -- /usr/bin/cat /etc/group)
leaked=
for g in $(cut -d: -f1 /etc/group); do
	case $g in root | tty | nogroup | app) continue ;; esac
	echo "$gr" | cut -d: -f1 | grep -qx -- "$g" && leaked="$leaked $g"
done
ok $([ -z "$leaked" ]; echo $?) "/etc/group in the persona has no host group names" \
	"host names seen:$leaked"
echo "$gr" | grep -q '^tty:x:5:'
ok $? "/etc/group has tty (5)" "$gr"
out=$(tf run personal -- /bin/sh -c 'for f in /etc/shadow /etc/gshadow /etc/subuid; do [ -e $f ] && echo $f; done' 2>&1)
ok $([ -z "$out" ]; echo $?) "/etc/shadow, /etc/gshadow, /etc/subuid are hidden" "$out"
out=$(tf run secure -- /usr/bin/cat /etc/hostname 2>&1)
ok $([ "$out" = secure ]; echo $?) "/etc/hostname is the persona's name" "$out"
out=$(tf run personal -- /usr/bin/cat /etc/machine-id 2>&1)
ok $([ -n "$out" ] && ! grep -qx -- "$out" /etc/machine-id 2>/dev/null; echo $?) \
	"/etc/machine-id is not the host's" "$out"

for p in personal secure; do
	out=$(tf run "$p" -- $PY -c 'import sys; sys.stdout.write(open("/proc/1/cmdline","rb").read().decode().replace(chr(0), "|"))' 2>&1)
	ok $([ "$out" = "twofold-init $p|" ]; echo $?) "$p: /proc/1/cmdline is the init's title" \
		"$out"
	case $out in *"$S"*) r=1 ;; *) r=0 ;; esac
	ok $r "$p: /proc/1/cmdline does not show the state dir"
done
lp=$(ps -o pid=,comm= --ppid "$DPID" | awk '$2 == "tf-launcher" {print $1}' | head -1)
out=$(tr '\0' '|' <"/proc/$lp/cmdline" 2>/dev/null)
case $out in "twofold-launcher personal|" | "twofold-launcher secure|") r=0 ;; *) r=1 ;; esac
ok $r "host: the launcher's cmdline is its title" "$out"
sp=$(ps -o pid=,comm= --ppid "$DPID" | awk '$2 == "tf-spawner" {print $1}')
out=$(tr '\0' '|' <"/proc/$sp/cmdline" 2>/dev/null)
ok $([ "$out" = "twofold-spawner|" ]; echo $?) "host: the spawner's cmdline is its title" "$out"
out=$(ps -o cgroup= -p "$lp")
case $out in */personal* | */secure*) r=0 ;; *) r=1 ;; esac
ok $r "host: ps -o cgroup names the launcher's persona" "$out"

# ---- ptys ----
EXHAUST='import os, resource, sys, time
s, h = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
held = []
err = "none"
while len(held) < 5000:
    try:
        held.append(os.openpty())
    except OSError as e:
        err = e.strerror
        break
print("opened", len(held), err, flush=True)
time.sleep(600)'
: >"$T/p"
tf run personal -- $PY -c "$EXHAUST" >"$T/p" 2>&1 &
BG="$BG $!"
wait_for "$T/p" '^opened'
ok $? "personal opened ptys until it failed" "$(cat "$T/p")"
n=$(awk '/^opened/ {print $2}' "$T/p")
diag "personal: $(cat "$T/p")"
ok $([ -n "$n" ] && [ "$n" -le 256 ]; echo $?) "personal's ptys are bounded by pty_max (256)" "opened $n"
out=$(tf run secure -- $PY -c 'import os; os.openpty(); print("ok")' 2>&1)
ok $([ "$out" = ok ]; echo $?) "secure can still open a pty" "$out"

finish
