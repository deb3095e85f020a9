#!/bin/bash
# SPDX-License-Identifier: ISC
# twofold-gateway and the device's tunnel process (tf_tunnel_main through
# tunharness, as twofoldd runs it), in both suites, and interop with
# Debian's wireguard-go in both roles. Two namespaces made here, removed
# on exit (lib.sh).
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v wireguard-go >/dev/null && command -v wg >/dev/null &&
	command -v socat >/dev/null || {
	echo "1..0 # SKIP needs wireguard-go, wireguard-tools, socat (tools/deps.sh)"
	exit 0
}
gw_world_up || bail "cannot make the namespaces"
for k in "intl gw_intl" "gm gw_gm" "intl dev_intl" "gm dev_gm" "intl wgdev"; do
	# shellcheck disable=SC2086
	gen_key $k || bail "keygen $k"
done
GWI=$(cat "$W/gw_intl.pub")
GWG=$(cat "$W/gw_gm.pub")
DEVI=$(cat "$W/dev_intl.pub")
DEVG=$(cat "$W/dev_gm.pub")
WGDEV=$(cat "$W/wgdev.pub")
ok $? "keygen prints the public keys"
out=$("$TWOFOLD_GATEWAY" pubkey "$W/dev_intl.key")
has "intl $DEVI" "$out"
ok $? "pubkey prints the public key of a private key file"
chmod 644 "$W/gw_gm.key"
out=$("$TWOFOLD_GATEWAY" pubkey "$W/gw_gm.key" 2>&1)
has "chmod 600" "$out"
ok $? "a key file readable by others is refused" "$out"
chmod 600 "$W/gw_gm.key"
start_echo

# ---- intl: device <-> twofold-gateway ------------------------------------
echo "phone intl $DEVI 10.77.0.2/32,fd77::2/128" >"$W/devices"
write_gw_conf
start_gw
ok $? "twofold-gateway starts"
start_dev intl "$GWI"
wait_for "$W/dev.log" "status up"
ok $? "intl: the device's tunnel comes up" "$(cat "$W/dev.log")"
in_d ping -c 2 -i 0.2 -W 2 10.77.100.10 >/dev/null
ok $? "intl: ping device -> organisation service"
# least privilege: the tunnel process runs as the uid CONFIG named, with
# no capabilities, no_new_privs, a seccomp filter, not dumpable
TP=$(pgrep -P "$H_PID" | head -1)
st=$(cat "/proc/$TP/status" 2>/dev/null)
grep -q "^Uid:[[:space:]]65534[[:space:]]65534[[:space:]]65534" <<<"$st" &&
	grep -q "^Gid:[[:space:]]65534[[:space:]]65534[[:space:]]65534" <<<"$st" &&
	grep -q "^Groups:[[:space:]]*$" <<<"$st" &&
	grep -q "^CapEff:[[:space:]]0000000000000000" <<<"$st" &&
	grep -q "^CapPrm:[[:space:]]0000000000000000" <<<"$st" &&
	grep -q "^CapBnd:[[:space:]]0000000000000000" <<<"$st" &&
	grep -q "^NoNewPrivs:[[:space:]]1" <<<"$st" &&
	grep -q "^Seccomp:[[:space:]]2" <<<"$st"
ok $? "the tunnel process: uid/gid 65534, no groups, no capabilities, no_new_privs, seccomp" "$st"
# every thread has the filter (they start after it is loaded)
n_thr=$(grep -l "^Seccomp:[[:space:]]2" /proc/"$TP"/task/*/status | wc -l)
[ "$n_thr" -ge 3 ] && [ "$n_thr" = "$(ls /proc/"$TP"/task | wc -l)" ]
ok $? "... in all its threads ($n_thr)"
# (the files of a non-dumpable process are root's, whatever its uid)
stat -c %u "/proc/$TP/status" | grep -qx 0
ok $? "... and it is not dumpable (its /proc files are root's)"
out=$(tcp_try "$NS_D" 10.77.100.10 7)
[ "$out" = "ok hello through the tunnel" ]
ok $? "intl: TCP through the tunnel" "$out"
in_o ping -c 2 -i 0.2 -W 2 10.77.0.2 >/dev/null
ok $? "intl: ping organisation -> device"
in_d ping -6 -c 2 -i 0.2 -W 2 fd77::1 >/dev/null
ok $? "intl: IPv6 ping device -> gateway"
out=$(tcp_try "$NS_D" fd77:100::10 7)
[ "$out" = "ok hello through the tunnel" ]
ok $? "intl: TCP over IPv6 through the tunnel" "$out"
# a big transfer: TSO super-packets segmented by the engine, checksums
# checked by the receiving kernel
head -c 4000000 /dev/urandom >"$W/blob"
in_d python3 -c '
import socket, sys, hashlib
data = open(sys.argv[1], "rb").read()
s = socket.create_connection(("10.77.100.10", 7), timeout=10)
import threading
got = bytearray()
def rd():
    while len(got) < len(data):
        b = s.recv(65536)
        if not b: break
        got.extend(b)
t = threading.Thread(target=rd); t.start()
s.sendall(data); t.join(20)
sys.exit(0 if bytes(got) == data else 1)' "$W/blob"
ok $? "intl: 4 MB echoed intact through the tunnel (TSO segmentation)"

# a source address the device did not register: dropped and counted
in_d ip addr add 10.77.0.9/32 dev tun0
in_d ping -c 1 -W 1 -I 10.77.0.9 10.77.100.10 >/dev/null
[ $? -ne 0 ] && wait_for "$W/gw.log" "source not among its registered addresses" 30
ok $? "a packet from an unregistered inner source is dropped and logged"

# ---- the gateway dies: connects fail at once, then recover ---------------
stop_gw KILL
out=$(tcp_try "$NS_D" 10.77.100.10 7)
[ "$out" = ENETUNREACH ]
ok $? "gateway killed: the next connect fails with ENETUNREACH (not a timeout)" "$out"
diag "the connect failed after $(cat "$W/took")"
wait_for "$W/dev.log" "refused the connection" 30
ok $? "the device reports the refused endpoint"
out=$(tcp_try "$NS_D" fd77:100::10 7)
[ "$out" = ENETUNREACH ]
ok $? "while down an IPv6 connect fails at once too (ICMPv6 no route)" "$out"
out=$(tcp_try "$NS_D" 10.77.100.10 7)
[ "$out" = ENETUNREACH ]
ok $? "while down every connect fails at once" "$out"
start_gw
for _ in $(seq 50); do
	out=$(tcp_try "$NS_D" 10.77.100.10 7)
	[ "$out" = "ok hello through the tunnel" ] && break
	sleep 0.1
done
[ "$out" = "ok hello through the tunnel" ]
ok $? "gateway back: traffic resumes without restarting the tunnel process" "$out"

# ---- a gateway that drops everything: the device says so ----------------
stop_dev
in_o nft -f - <<'EON'
table inet tfgwtest {
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport 51820 drop
	}
}
EON
start_dev intl "$GWI"
wait_for "$W/dev.log" "no handshake response from 192.0.2.2:51820 for 5 s" 150
ok $? "silent gateway: 'no handshake response from 192.0.2.2:51820 for 5 s'" "$(tail -3 "$W/dev.log")"
out=$(tcp_try "$NS_D" 10.77.100.10 7)
[ "$out" = ENETUNREACH ]
ok $? "... and connects fail at once meanwhile" "$out"
in_o nft delete table inet tfgwtest
wait_for "$W/dev.log" "status up" 50
ok $? "... and up again once the gateway answers (1 s retries)"

# ---- SIGHUP: the device removed loses its session at once -----------------
: >"$W/devices"
kill -HUP "$GW_PID"
wait_for "$W/gw.log" "phone: removed from the device list" 30
ok $? "SIGHUP: a removed device is logged"
in_d ping -c 1 -W 1 10.77.100.10 >/dev/null
[ $? -ne 0 ]
ok $? "SIGHUP: a removed device's traffic stops at once"
stop_dev

# ---- gm: device <-> twofold-gateway --------------------------------------
echo "phone gm $DEVG 10.77.0.2/32,fd77::2/128" >"$W/devices"
kill -HUP "$GW_PID"
wait_for "$W/gw.log" "device list reloaded: 1 devices" 30
# this one without IFF_VNET_HDR and with one queue: the plain path
VNET=0 QUEUES=1 start_dev gm "$GWG"
wait_for "$W/dev.log" "status up"
ok $? "gm: the device's tunnel comes up (TUN without vnet header, 1 queue)" "$(cat "$W/dev.log")"
out=$(tcp_try "$NS_D" 10.77.100.10 7)
[ "$out" = "ok hello through the tunnel" ]
ok $? "gm: TCP through the tunnel" "$out"
out=$(tcp_try "$NS_D" fd77:100::10 7)
[ "$out" = "ok hello through the tunnel" ]
ok $? "gm: TCP over IPv6 through the tunnel" "$out"
in_o ping -c 2 -i 0.2 -W 2 10.77.0.2 >/dev/null
ok $? "gm: ping organisation -> device"
stop_dev

# ---- no downgrade: a device in the other suite than registered -----------
echo "phone intl $DEVI 10.77.0.2/32" >"$W/devices"
kill -HUP "$GW_PID"
sleep 0.3
: >"$W/gw.log.mark"
start_dev gm "$GWG"
wait_for "$W/gw.log" "handshake of the gm suite from 192.0.2.1:40001: key not registered for gm: refused" 50
ok $? "a gm device registered intl-only is refused and logged"
grep -q "status up" "$W/dev.log"
[ $? -ne 0 ]
ok $? "... and its tunnel never comes up"
stop_dev
echo "phone gm $DEVG 10.77.0.2/32" >"$W/devices"
kill -HUP "$GW_PID"
sleep 0.3
start_dev intl "$GWI"
wait_for "$W/gw.log" "handshake of the intl suite from 192.0.2.1:40001: key not registered for intl: refused" 50
ok $? "an intl device registered gm-only is refused and logged"
stop_dev
stop_gw TERM
[ "$GW_RC" = 0 ] && grep -q "keys wiped" "$W/gw.log"
ok $? "SIGTERM: the gateway exits cleanly" "rc=$GW_RC"

# ---- interop: our device <-> wireguard-go as the gateway -----------------
WGO=wgo$GW_SUF
wg_up "$NS_O" "$WGO" 10.77.0.1/24 "$W/gw_intl.key" 51820 "$DEVI" 10.77.0.2/32
ok $? "wireguard-go runs as the gateway"
start_dev intl "$GWI"
wait_for "$W/dev.log" "status up"
ok $? "interop: our device's handshake with wireguard-go" "$(cat "$W/dev.log" "$W/wg.log")"
out=$(tcp_try "$NS_D" 10.77.100.10 7)
[ "$out" = "ok hello through the tunnel" ]
ok $? "interop: TCP device -> wireguard-go" "$out"
in_o ping -c 2 -i 0.2 -W 2 10.77.0.2 >/dev/null
ok $? "interop: ping wireguard-go side -> device"
# wireguard-go initiates: it forgets the peer, gets it back with our
# endpoint, and sends first
in_o wg set "$WGO" peer "$DEVI" remove
in_o wg set "$WGO" peer "$DEVI" allowed-ips 10.77.0.2/32 endpoint 192.0.2.1:40001
in_o ping -c 3 -i 0.3 -W 2 10.77.0.2 >/dev/null
ok $? "interop: wireguard-go initiates to our device, traffic flows"
kill -USR1 "$H_PID"
wait_for "$W/dev.log" "status up handshakes=2" 30
ok $? "interop: our device answered wireguard-go's initiation (2 handshakes)"
stop_dev
wg_down

# ---- interop: wireguard-go as a device <-> twofold-gateway ---------------
echo "wgdev intl $WGDEV 10.77.0.3/32" >"$W/devices"
start_gw
WGD=wgd$GW_SUF
wg_up "$NS_D" "$WGD" 10.77.0.3/32 "$W/wgdev.key" 40002 "$GWI" 10.77.0.0/16 192.0.2.2:51820
in_d ip route add 10.77.0.0/16 dev "$WGD" 2>/dev/null
wait_for "$W/gw.log" "device wgdev (intl): up" 100
ok $? "interop: wireguard-go (device) handshakes with twofold-gateway" "$(tail -3 "$W/gw.log")"
out=$(tcp_try "$NS_D" 10.77.100.10 7)
[ "$out" = "ok hello through the tunnel" ]
ok $? "interop: TCP wireguard-go device -> twofold-gateway" "$out"
in_o ping -c 2 -i 0.2 -W 2 10.77.0.3 >/dev/null
ok $? "interop: ping twofold-gateway side -> wireguard-go device"
wg_down
stop_gw TERM

# ---- a gm device refuses wireguard-go's (intl) initiation ----------------
wg_up "$NS_O" "$WGO" 10.77.0.1/24 "$W/gw_intl.key" 51820 "$DEVI" 10.77.0.2/32 192.0.2.1:40001
start_dev gm "$GWG"
wait_for "$W/dev.log" "handshake of the intl suite on a gm tunnel: refused" 100
ok $? "a gm tunnel refuses an intl (wireguard-go) handshake, with the reason in STATUS" "$(tail -3 "$W/dev.log")"
grep -q "status up" "$W/dev.log"
[ $? -ne 0 ]
ok $? "... and never comes up"
stop_dev
wg_down
finish
