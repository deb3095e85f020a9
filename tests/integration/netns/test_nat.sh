#!/bin/bash
# SPDX-License-Identifier: ISC
# network = nat (issue 12): the daemon runs in a test-made namespace whose
# uplink is a veth to an "internet" one. personal reaches the internet's
# echo service and resolves names through the DNS there (DNAT of its .1);
# it reaches neither the device's own addresses (the uplink's, the tfv
# .1 but DNS), nor another persona's subnet, and each refusal is an
# immediate error (reject, not drop). A `none` persona has lo only. At
# daemon exit the table and the links are gone. TAP.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

command -v dnsmasq >/dev/null || { echo "1..0 # SKIP dnsmasq missing (tools/deps.sh)"; exit 0; }
new_state tfn
init_state 64M || { echo "Bail out! init failed"; exit 1; }
add_personas || { echo "Bail out! init --images failed"; exit 1; }
sed -i '/^\[persona personal\]/a dns = 203.0.113.53' "$S/device.conf"
sed -i '/^\[persona other\]/a dns = 127.0.0.53' "$S/device.conf"
world_up || { echo "Bail out! test world did not come up"; exit 1; }
# a new namespace copies the host's IPv4 settings: start from "not
# forwarding", as a device that never forwarded does
in_ns "$NS_DEV" sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
start_daemon_in "$NS_DEV" || { echo "Bail out! daemon did not start"; exit 1; }

CLIENT=$(cat "$HERE/client.py")
# conn PERSONA HOST PORT: client.py inside the persona (its file system
# has no test tree: the program goes as -c)
conn() { tf run "$1" -- "$PY" -c "$CLIENT" "$2" "$3" 2>&1; }

out=$(tf run personal -- ip -4 -br addr show dev eth0 2>&1)
check "personal: eth0 10.213.0.2/30" grep -q "10.213.0.2/30" <<<"$out"
out=$(tf run personal -- ip route 2>&1)
check "personal: default via 10.213.0.1" grep -q "^default via 10.213.0.1 dev eth0" <<<"$out"
out=$(tf run personal -- ip -6 addr 2>&1)
check "personal: no IPv6 address but lo's" bash -c "! grep -q 'scope global\|scope link' <<<'$out'"
out=$(tf run personal -- cat /etc/resolv.conf 2>&1)
check "personal: resolv.conf names its .1 only" \
	bash -c "[ \"\$(grep -c ^nameserver <<<'$out')\" = 1 ] && grep -q '^nameserver 10.213.0.1$' <<<'$out'"
out=$(in_ns "$NS_DEV" ip -4 -br addr show dev tfv0 2>&1)
check "dev: tfv0 10.213.0.1/30" grep -q "10.213.0.1/30" <<<"$out"
out=$(in_ns "$NS_DEV" cat /proc/sys/net/ipv4/ip_forward)
check "dev: ip_forward = 1" [ "$out" = 1 ]
check "the host's own namespace is untouched (no tfv0 here)" bash -c "! ip link show tfv0 2>/dev/null"

out=$(conn personal 203.0.113.10 7)
check "personal reaches the internet's echo service" grep -q "^ok 203.0.113.10 twofold from " <<<"$out"
out=$(conn personal shop.test 7)
check "personal resolves shop.test through the DNS of the internet" grep -q "^ok 203.0.113.10 twofold from " <<<"$out"
out=$(conn personal 203.0.113.10 7)
check "personal is masqueraded: the internet sees the uplink address" grep -q "from 198.51.100.2$" <<<"$out"

# the device's own services: refused at once (a TCP reset), though a
# listener is there (the uplink connects to it)
out=$(in_ns "$NS_DEV" "$PY" "$HERE/client.py" 198.51.100.2 8)
check "dev itself reaches its port-8 service" grep -q "^ok" <<<"$out"
out=$(conn personal 198.51.100.2 8)
check "personal: the device's uplink address is refused (ECONNREFUSED)" grep -q "^error ECONNREFUSED$" <<<"$out"
out=$(conn personal 10.213.0.1 8)
check "personal: its tfv0 .1 is refused but for DNS (ECONNREFUSED)" grep -q "^error ECONNREFUSED$" <<<"$out"
out=$(conn personal 127.0.0.1 8)
check "personal: its own lo has no such service (ECONNREFUSED)" grep -q "^error ECONNREFUSED$" <<<"$out"

# the other persona: a listener in it, refused from personal
# (--service: what the shell leaves running stays; a port above 1023:
# apps have no capability)
tf run other --service -- sh -c 'python3 -c "$0" 0.0.0.0 9009 >/dev/null 2>&1 &' "$(cat "$HERE/echo.py")"
for _ in $(seq 50); do
	tf run other -- python3 -c "$CLIENT" 127.0.0.1 9009 2>/dev/null | grep -q ^ok && break
	sleep 0.1
done
out=$(tf run other -- python3 -c "$CLIENT" 127.0.0.1 9009 2>&1)
check "other: its own listener on port 9009 answers" grep -q "^ok" <<<"$out"
out=$(tf run other -- ip -4 -br addr show dev eth0 2>&1)
check "other: eth0 10.213.0.10/30 (slot 2)" grep -q "10.213.0.10/30" <<<"$out"
out=$(conn personal 10.213.0.10 9009)
check "personal: the other persona is refused (ECONNREFUSED)" grep -q "^error ECONNREFUSED$" <<<"$out"
out=$(conn personal 10.213.0.9 9009)
check "personal: the other persona's tfv .1 is refused" grep -q "^error ECONNREFUSED$" <<<"$out"
out=$(conn other 10.213.0.2 9009)
check "other: personal is refused" grep -q "^error ECONNREFUSED$" <<<"$out"
out=$(conn other 203.0.113.10 7)
check "other reaches the internet too" grep -q "^ok" <<<"$out"
out=$(conn other local.test 7)
check "other resolves through a loopback resolver of the device (route_localnet)" grep -q "^ok 203.0.113.10 " <<<"$out"
out=$(conn other shop.test 7)
check "... and only through it (shop.test is not known there)" grep -q "^error resolve" <<<"$out"

# none: lo only
out=$(tf run quiet -- ip -br link 2>&1)
check "quiet (network = none): lo only" bash -c "[ \"\$(wc -l <<<'$out')\" = 1 ] && grep -q '^lo ' <<<'$out'"
out=$(tf run quiet -- python3 -c "$CLIENT" 203.0.113.10 7 2>&1)
check "quiet: the internet is unreachable (ENETUNREACH)" grep -q "^error ENETUNREACH$" <<<"$out"
out=$(tf run quiet -- cat /etc/resolv.conf 2>&1)
check "quiet: an empty resolv.conf" [ -z "$out" ]
# secure (tunnel, not configured): lo only, and its namespace exists
# though it never ran
out=$(in_ns "$NS_DEV" nft list table inet twofold 2>&1)
check "dev: the inet twofold table is there" grep -q "masquerade" <<<"$out"

stop_daemon
check "the daemon stopped cleanly" [ "$DSTATUS" = 0 ]
out=$(in_ns "$NS_DEV" nft list tables 2>&1)
check "daemon exit: the inet twofold table is gone" bash -c "! grep -q twofold <<<'$out'"
out=$(in_ns "$NS_DEV" ip -br link 2>&1)
check "daemon exit: no tfv link left" bash -c "! grep -q '^tfv' <<<'$out'"
out=$(in_ns "$NS_DEV" cat /proc/sys/net/ipv4/ip_forward)
check "daemon exit: ip_forward is 0 again, as before it started" [ "$out" = 0 ]
finish
