#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 12, red team: attacks on the network separation that the other
# net tests do not make, each a regression test of a fix (docs/network.md):
#
#  - a hostile gateway injects packets whose inner source is outside
#    tunnel_routes (an "internet" address): secure must never see them
#    (WireGuard's allowed-ips on the device side: strict rp_filter in the
#    persona's namespace);
#  - the tunnel process must not share its uid with other host processes
#    (uid 65534 is every `nobody` daemon's: they could SIGKILL it, lower
#    its limits with prlimit, renice it);
#  - the tunnel process is not dumpable even where fs.suid_dumpable is not
#    0 (a uid change resets "dumpable" to that sysctl);
#  - an idle tunnel process sleeps (its rx thread spun on EAGAIN);
#  - personal cannot send to the secure tunnel's endpoint (its NAT'd
#    datagrams carry the device's own address: a handshake flood from it
#    is the device's, and a NAT mapping on the tunnel's port, made while
#    the tunnel process restarts, catches the gateway's packets for
#    secure);
#  - a compromised tunnel process cannot send anywhere but its endpoint:
#    the daemon marks the tunnel's UDP socket (SO_MARK, which the process
#    cannot change) and its firewall refuses that mark any other
#    destination.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

world_tunnel_up
ok "secure's tunnel is up against twofold-gateway"

# tunnel_pid: the daemon's child named tf-tunnel
tunnel_pid() {
	local p
	for p in $(ps -o pid= --ppid "$DPID"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = tf-tunnel ] && { echo "$p"; return 0; }
	done
	return 1
}

# ---- a hostile gateway: inner sources outside tunnel_routes
org ip addr add 203.0.113.99/32 dev lo
LISTEN='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
s.settimeout(6)
print("ready", flush=True)
try:
    while True:
        d, a = s.recvfrom(100)
        print("from", a[0], d.decode(), flush=True)
except socket.timeout:
    pass
'
tf run secure -- /usr/bin/python3 -c "$LISTEN" >"$W/listen.out" 2>&1 &
LPID=$!
wait_for 50 grep -q ready "$W/listen.out"
for i in 1 2 3 4 5; do
	org "$PY" -c '
import socket, sys
for src in ("10.77.0.1", "203.0.113.99"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(src.encode(), ("10.77.0.2", 9999))
'
	sleep 0.3
done
wait "$LPID"
r=$(cat "$W/listen.out")
ok $(grep -q '^from 10\.77\.0\.1 ' <<<"$r"; echo $?) \
	"control: secure receives the gateway's datagram from an inner address (10.77.0.1)" "$r"
ok $(! grep -q '^from 203\.0\.113\.99 ' <<<"$r"; echo $?) \
	"hostile gateway: a datagram with an inner source outside tunnel_routes (203.0.113.99) never reaches secure" "$r"
r=$(tf run secure -- cat /proc/sys/net/ipv4/conf/tun0/rp_filter /proc/sys/net/ipv4/conf/all/rp_filter 2>&1 | tr '\n' ' ')
diag "secure's rp_filter (tun0, all): $r"

# ---- the tunnel process's uid is its own
tp=$(tunnel_pid)
ok $? "the tunnel process runs (pid $tp)"
# an idle tunnel sleeps: every thread blocked in poll/recv, none runnable
# (the rx thread spun on EAGAIN of the daemon's non-blocking socket, a
# core's worth of CPU, while up or while a gateway kept refusing)
busy=0
for _ in $(seq 20); do
	grep -qs '^State:[[:space:]]*R' /proc/"$tp"/task/*/status && busy=$((busy + 1))
	sleep 0.1
done
ok $([ "$busy" -le 5 ]; echo $?) "an idle tunnel process does not spin (a thread runnable in $busy of 20 samples)" \
	"$(grep -H '^State' /proc/"$tp"/task/*/status)"
tu=$(awk '/^Uid:/ {print $2}' "/proc/$tp/status")
diag "tunnel process uid: $tu"
ok $([ -n "$tu" ] && [ "$tu" != 0 ] && [ "$tu" != 65534 ]; echo $?) \
	"the tunnel process runs as a uid of its own, not root and not nobody (65534)" "uid $tu"
r=$(setpriv --reuid=65534 --regid=65534 --clear-groups kill -0 "$tp" 2>&1)
ok $([ $? -ne 0 ]; echo $?) "a nobody process on the host cannot signal the tunnel process" "$r"
r=$(setpriv --reuid=65534 --regid=65534 --clear-groups prlimit --pid "$tp" --nofile=4:4 2>&1)
ok $([ $? -ne 0 ]; echo $?) "a nobody process on the host cannot lower the tunnel process's limits (prlimit)" "$r"
r=$(grep -i "^Max open files" "/proc/$tp/limits" 2>&1)
ok $(! grep -qE 'files +4 +4' <<<"$r"; echo $?) "the tunnel process's limits are unchanged" "$r"

# ---- not dumpable, also where fs.suid_dumpable is not 0
sd=$(cat /proc/sys/fs/suid_dumpable)
restore_sd() { echo "$sd" >/proc/sys/fs/suid_dumpable; }
trap 'restore_sd; world_down' EXIT
echo 1 >/proc/sys/fs/suid_dumpable
kill -KILL "$tp"
np=
for _ in $(seq 100); do
	np=$(tunnel_pid) && [ "$np" != "$tp" ] && wait_state up 1 && break
	np=
	sleep 0.1
done
sleep 0.5
o=$(stat -c %u "/proc/$np/mem" 2>&1)
restore_sd
trap world_down EXIT
ok $([ -n "$np" ]; echo $?) "the tunnel process was restarted (pid $np) with fs.suid_dumpable = 1"
# a process that is not dumpable has its /proc/PID files owned by root
ok $([ "$o" = 0 ]; echo $?) "the restarted tunnel process is not dumpable (/proc/$np/mem owned by uid $o)" "$o"
r=$(setpriv --reuid="${tu:-65534}" --regid="${tu:-65534}" --clear-groups cat "/proc/$np/environ" 2>&1 >/dev/null)
ok $([ $? -ne 0 ]; echo $?) "its own uid cannot read its /proc/PID/environ (nor mem)" "$r"
wait_state up 300 || diag "tunnel did not come back up: $(tstate)"

# ---- personal and the tunnel's endpoint
NT_RECVERR=1 expect_refused "personal: UDP to secure's tunnel endpoint 192.0.2.2:51820 rejected" personal udp 192.0.2.2 51820
expect_ok "control: personal still reaches the internet (TCP echo 203.0.113.10:7)" personal tcp 203.0.113.10 7

# ---- the inner-source filter for every family (rp_filter is IPv4's):
# the daemon's table in secure's namespace, which secure cannot change
ip_=$(init_pid secure)
r=$(nsenter -t "$ip_" -n nft list table inet twofold_tun 2>&1)
ok $(grep -q 'iifname "tun0" ip saddr != 10.77.0.0/16 drop' <<<"$r" &&
	grep -q 'iifname "tun0" meta nfproto ipv6 drop' <<<"$r"; echo $?) \
	"secure's namespace filters tun0's inner sources: IPv4 outside tunnel_routes and all IPv6 (none routed) dropped" "$r"

# ---- a compromised tunnel process: its socket's mark goes to the
# endpoint only (a socket made here with the same mark stands in for it)
MARKED='
import socket, sys
mark, host, port = int(sys.argv[1], 0), sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 36, mark)  # SO_MARK
s.settimeout(1.5)
try:
    s.connect((host, port))
    s.send(b"leak")
    print("answer", s.recv(100).decode())
except OSError as e:
    print("refused", e.errno)
'
# secure is persona slot 1: TFD_TUNNEL_MARK(1)
r=$(dev "$PY" -c "$MARKED" 0x74660001 203.0.113.10 7 2>&1)
ok $(! grep -q "^answer" <<<"$r"; echo $?) "a socket with the tunnel's mark cannot reach the internet echo (203.0.113.10:7)" "$r"
r=$(dev "$PY" -c "$MARKED" 0x74660001 192.0.2.2 7 2>&1)
ok $(! grep -q "^answer" <<<"$r"; echo $?) "... nor another port of the gateway's host" "$r"
r=$(dev "$PY" -c "$MARKED" 0 203.0.113.10 7 2>&1)
ok $(grep -q "^answer leak" <<<"$r"; echo $?) "control: the same without the mark is answered" "$r"
expect_ok "control: secure still reaches the org service through the tunnel" secure tcp 10.77.100.10 7

world_finish
