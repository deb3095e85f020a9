#!/bin/bash
# SPDX-License-Identifier: ISC
# End to end (issue 12): twofoldd's tunnel process against
# twofold-gateway. The daemon runs in a namespace made here (dev, uplink
# up0 192.0.2.1/24) whose only neighbour is the organisation's (org,
# 192.0.2.2/24): the gateway on 192.0.2.2:51820 with tfgw0 10.77.0.1/24 and
# an echo service on 10.77.100.10 port 7. secure's tunnel comes up with the
# device-bound key the gateway registered (`twofold tunnel key`), secure
# reaches the service through it, and after its tunnel process is killed
# the daemon restarts it and traffic resumes without restarting secure;
# then the same with the gm suite.
. "$(dirname "$0")/lib.sh"

: "${TWOFOLD_GATEWAY:?TWOFOLD_GATEWAY not set (run through meson test)}"
NS_ORG=tftorg$SUF
W=$S.gw
GW_PID=
ECHO_PID=
e2e_cleanup() {
	local p
	for p in $GW_PID $ECHO_PID; do kill -KILL "$p" 2>/dev/null; done
	ip netns pids "$NS_ORG" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS_ORG" 2>/dev/null
	rm -rf "$W"
	net_cleanup
}
EXTRA_CLEANUP=e2e_cleanup

# the world: dev <-> org, no other namespace
ip netns add "$NS_DEV" && ip netns add "$NS_ORG" || bail "cannot make namespaces"
ip -n "$NS_DEV" link set lo up
ip -n "$NS_ORG" link set lo up
ip -n "$NS_DEV" link add up0 type veth peer name go0 netns "$NS_ORG" || bail "veth"
ip -n "$NS_DEV" addr add 192.0.2.1/24 dev up0
ip -n "$NS_ORG" addr add 192.0.2.2/24 dev go0
ip -n "$NS_ORG" addr add 10.77.100.10/32 dev lo
ip -n "$NS_DEV" link set up0 up
ip -n "$NS_ORG" link set go0 up
printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s "%s" "$@"\n' \
	"$NS_DEV" "$REAL_TWOFOLDD" >"$S.nsd"
chmod 755 "$S.nsd"
TWOFOLDD=$S.nsd
mkdir -p "$W"
nsenter --net=/run/netns/"$NS_ORG" socat \
	TCP-LISTEN:7,bind=10.77.100.10,reuseaddr,fork EXEC:cat &
ECHO_PID=$!

"$TWOFOLD_GATEWAY" keygen --suite intl --out "$W/gw_intl.key" >"$W/gw_intl.pub" &&
	"$TWOFOLD_GATEWAY" keygen --suite gm --out "$W/gw_gm.key" >"$W/gw_gm.pub" ||
	bail "gateway keygen failed"
cat >"$W/gw.conf" <<EOC
listen = 192.0.2.2:51820
tun = tfgw0
address = 10.77.0.1/24
mtu = 1420
intl_key = $W/gw_intl.key
gm_key = $W/gw_gm.key
devices = $W/devices
EOC
: >"$W/devices"

init_state || bail "init failed"
pconf secure network tunnel
pconf secure tunnel_endpoint 192.0.2.2:51820
pconf secure tunnel_peer_key "$(cat "$W/gw_intl.pub")"
pconf secure tunnel_address 10.77.0.2/32
pconf secure tunnel_routes 10.77.0.0/16
pconf secure tunnel_dns 10.77.0.1
pconf secure tunnel_keepalive 5
start_daemon || bail "daemon did not start: $(tail -3 "$DLOG")"

# register the device's key, then start the gateway
k=$(tf tunnel key secure)
echo "phone1 intl ${k#intl } 10.77.0.2/32" >"$W/devices"
# not through the function: GW_PID must be the gateway (nsenter execs it)
nsenter --net=/run/netns/"$NS_ORG" "$TWOFOLD_GATEWAY" --config "$W/gw.conf" \
	--foreground >>"$W/gw.log" 2>&1 &
GW_PID=$!
check "the gateway runs" wait_for grep -q "listening on" "$W/gw.log"

# wait_long CMD...: as wait_for, 60 s (a retried handshake waits 5 s)
wait_long() {
	for _ in $(seq 1200); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
is_up() { [ "$(tjson secure state)" = up ]; }
check "the tunnel comes up" wait_long is_up || diag "$(tf net status; tail -5 "$W/gw.log")"
check "a handshake is recorded" test "$(tjson secure last_handshake)" != None
check "audit: net.tunnel.up" has "net.tunnel.up" "$(tf audit show 2>&1)"

out=$(printf '%s\n%s\n' "$PIN" "$PIN" | tf enroll secure --pin-stdin 2>&1)
check "enroll secure" has "credential set" "$out"
out=$(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure" has "unlocked" "$out"
echo_once() {
	timeout 10 "$TWOFOLD" --state "$S" run secure -- bash -c \
		'exec 3<>/dev/tcp/10.77.100.10/7 && echo "ping-$1" >&3 && read -r -t 5 l <&3 && echo "$l"' _ "$1" 2>&1
}
# echo_retry N: a few tries (a first packet may meet the handshake)
echo_retry() {
	for _ in 1 2 3 4 5; do
		[ "$(echo_once "$1")" = "ping-$1" ] && return 0
		sleep 1
	done
	return 1
}
check "secure reaches the org service through the tunnel" \
	test "$(echo_once 1)" = ping-1
counted() { [ "$(tjson secure tx_packets)" -gt 0 ] && [ "$(tjson secure rx_packets)" -gt 0 ]; }
check "net status counts the packets" wait_for counted

# kill the tunnel process: restarted, up again, the persona kept
ipid=$(tf status --json | python3 -c "import json,sys; print([p for p in json.load(sys.stdin)['personas'] if p['name']=='secure'][0]['init_pid'])")
pid1=$(tjson secure pid)
kill -KILL "$pid1"
restarted() { p=$(tjson secure pid) && [ "$p" != None ] && [ "$p" != "$pid1" ]; }
check "the daemon restarts the tunnel process" wait_for restarted
check "the tunnel comes up again" wait_long is_up
check "traffic resumes" echo_retry 2 ||
	diag "$(tf net status; tail -5 "$W/gw.log")"
check "one kill, one restart" test "$(tjson secure restarts)" = 1
check "secure was not restarted" test "$(tf status --json | python3 -c "import json,sys; print([p for p in json.load(sys.stdin)['personas'] if p['name']=='secure'][0]['init_pid'])")" = "$ipid"

# the gm suite: another key, the gateway's gm key
stop_daemon
pconf secure tunnel_suite gm
pconf secure tunnel_peer_key "$(cat "$W/gw_gm.pub")"
start_daemon || bail "daemon did not start (gm): $(tail -3 "$DLOG")"
k=$(tf tunnel key secure)
check "gm key" has "gm " "$k"
echo "phone1 gm ${k#gm } 10.77.0.2/32" >"$W/devices"
kill -HUP "$GW_PID"
check "the gateway re-read its device list" wait_for grep -q "device list reloaded" "$W/gw.log" ||
	diag "$(tail -3 "$W/gw.log")"
check "the gm tunnel comes up" wait_long is_up || diag "$(tf net status; tail -5 "$W/gw.log")"
out=$(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure" has "unlocked" "$out"
check "secure reaches the org service through the gm tunnel" echo_retry 3

finish
