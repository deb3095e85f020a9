#!/bin/bash
# SPDX-License-Identifier: ISC
# Isolation between the personas and from the host as apps see it, each a
# real attempt from inside through `twofold run`: namespaces, hostname,
# files, loopback TCP, the host's loopback, kill -9 -1.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PORT=$((20000 + $$ % 20000))
HPORT=$((PORT + 1))
HOST_SLEEP=
HOST_SRV=
SEC_BG=
EXTRA_CLEANUP='for p in $HOST_SLEEP $HOST_SRV $SEC_BG; do kill -KILL $p 2>/dev/null; wait $p 2>/dev/null; done'

setup_state
start_daemon && enroll_unlock_secure || {
	echo "Bail out! daemon or secure did not start"
	exit 1
}
st=$(tf persona list)
echo "$st" | grep -q "^secure running" && echo "$st" | grep -q "^personal running"
ok $? "both personas running" "$st"

# namespaces: all six differ between personal, secure and the host
nsl() { for n in pid mnt ipc uts net user; do readlink "/proc/self/ns/$n"; done; }
host_ns=$(nsl)
p_ns=$(tf run personal -- sh -c 'for n in pid mnt ipc uts net user; do readlink /proc/self/ns/$n; done')
s_ns=$(tf run secure -- sh -c 'for n in pid mnt ipc uts net user; do readlink /proc/self/ns/$n; done')
for i in 1 2 3 4 5 6; do
	h=$(echo "$host_ns" | sed -n ${i}p)
	p=$(echo "$p_ns" | sed -n ${i}p)
	s=$(echo "$s_ns" | sed -n ${i}p)
	[ -n "$p" ] && [ -n "$s" ] && [ "$p" != "$h" ] && [ "$s" != "$h" ] && [ "$p" != "$s" ]
	ok $? "${h%%:*} namespace differs: personal, secure, host" "host $h personal $p secure $s"
done

# hostname is the persona's name
out=$(tf run personal -- hostname)
ok $([ "$out" = personal ]; echo $?) "hostname in personal is 'personal'" "got '$out'"
out=$(tf run secure -- hostname)
ok $([ "$out" = secure ]; echo $?) "hostname in secure is 'secure'" "got '$out'"

# files: personal's /home/app is not secure's
tf run personal -- sh -c 'echo private > /home/app/only-personal'
out=$(tf run personal -- cat /home/app/only-personal)
ok $([ "$out" = private ]; echo $?) "personal writes and reads /home/app/only-personal"
tf run secure -- test -e /home/app/only-personal
ok $((!$?)) "secure does not see personal's file"
tf run secure -- sh -c 'echo s > /tmp/only-secure'
tf run personal -- test -e /tmp/only-secure
ok $((!$?)) "personal does not see secure's /tmp"
[ -d "$S/fs/secure/data" ] && [ -d "$S/mnt/personas/secure" ]
ok $? "host: secure's data dir exists at $S/fs/secure/data (and at the old path)"
tf run personal -- sh -c "ls $S/fs/secure/data || ls $S/mnt/personas/secure" >/dev/null 2>&1
ok $((!$?)) "secure's host data dir is not reachable from personal"
tf run personal -- ls "$S" >/dev/null 2>&1
ok $((!$?)) "the host state dir is not reachable from personal"

# loopback TCP: a server in secure is reachable in secure only
srv='import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"hello-from-server\n"); c.close()'
cli='import socket, sys
try:
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
    print(c.recv(100).decode().strip())
except OSError as e:
    print("refused:", e.strerror); sys.exit(1)'
fifo=$S.fifo
mkfifo "$fifo"
tf run secure -- python3 -c "$srv" "$PORT" >"$fifo" 2>&1 &
SEC_BG=$!
read -r -t 10 line <"$fifo"
ok $([ "$line" = listening ]; echo $?) "python3 TCP server listening in secure" "got '$line'"
out=$(tf run secure -- python3 -c "$cli" "$PORT" 2>&1)
ok $([ "$out" = hello-from-server ]; echo $?) "secure reaches its own loopback server" "got '$out'"
out=$(tf run personal -- python3 -c "$cli" "$PORT" 2>&1)
r=$?
ok $([ $r != 0 ] && echo "$out" | grep -q refused; echo $?) \
	"personal cannot reach secure's loopback server" "got $r '$out'"
out=$(python3 -c "$cli" "$PORT" 2>&1)
ok $([ $? != 0 ]; echo $?) "the host cannot reach secure's loopback server" "got '$out'"

# a host listener on 127.0.0.1 is unreachable from a persona
python3 -c "$srv" "$HPORT" >"$fifo" 2>&1 &
HOST_SRV=$!
read -r -t 10 line <"$fifo"
out=$(python3 -c "$cli" "$HPORT" 2>&1)
ok $([ "$out" = hello-from-server ]; echo $?) "host reaches its own 127.0.0.1 listener" "got '$out'"
out=$(tf run personal -- python3 -c "$cli" "$HPORT" 2>&1)
ok $([ $? != 0 ]; echo $?) "personal cannot reach the host's 127.0.0.1 listener" "got '$out'"
out=$(tf run secure -- python3 -c "$cli" "$HPORT" 2>&1)
ok $([ $? != 0 ]; echo $?) "secure cannot reach the host's 127.0.0.1 listener" "got '$out'"

# kill -9 -1 as the app in personal: the host's and secure's processes live
# positive control: another app of personal, which kill -1 must reach
sleep 300 &
HOST_SLEEP=$!
tf run personal -- sleep 300 &
P_BG=$!
EXTRA_CLEANUP="kill -KILL \$P_BG 2>/dev/null; $EXTRA_CLEANUP"
sleep 0.3
tf run personal -- sh -c 'kill -9 -1; exit 0' 2>/dev/null
r=$?
ok $r "kill -9 -1 in personal: the app itself survives (kill -1 spares the caller)" "got $r"
for _ in $(seq 50); do kill -0 "$P_BG" 2>/dev/null || break; sleep 0.1; done
wait "$P_BG"
r=$?
ok $((r != 137)) "control: personal's other app was killed by it (exit 137)" "got $r"
kill -0 "$HOST_SLEEP" 2>/dev/null
ok $? "host sleep survives kill -9 -1 from personal"
kill -0 "$SEC_BG" 2>/dev/null
ok $? "secure's server app (its CLI) survives"
out=$(tf run secure -- python3 -c "$cli" "$PORT" 2>&1)
ok $([ "$out" = hello-from-server ]; echo $?) "secure's server still answers" "got '$out'"
st=$(tf persona list)
echo "$st" | grep -q "^personal running"
ok $? "personal itself is still running (its init is out of the app's reach)" "$st"
out=$(tf run personal -- echo alive)
ok $([ "$out" = alive ]; echo $?) "personal still runs apps after kill -1"

rm -f "$fifo"
finish
