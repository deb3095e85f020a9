#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 12, the personal persona (network = nat): it reaches the internet
# (TCP and UDP echo, DNS through its .1) and nothing else: not the
# organisation's inner network (which the test internet does route, so a
# leak would connect), not the device's own addresses and services, not
# the host side .1 except DNS, not secure. Its root cannot change its
# network. Each attempt is a real connection from inside the persona.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

world_up || {
	world_diag
	bail "the test world did not come up"
}

# ---- reaches the internet
expect_ok "personal: TCP echo at 203.0.113.10:7 through NAT" personal tcp 203.0.113.10 7
expect_ok "personal: UDP echo at 203.0.113.10:7 through NAT" personal udp 203.0.113.10 7
r=$(prun personal resolve shop.test)
ok $([ "$(rword "$r")" = "ok 203.0.113.10" ]; echo $?) \
	"personal: resolves shop.test (resolv.conf -> .1 -> dnsmasq at 203.0.113.53)" "$r"
r=$(tf run personal -- cat /etc/resolv.conf 2>&1)
ok $(grep -q '^nameserver 10\.213\.0\.1$' <<<"$r"; echo $?) \
	"personal: resolv.conf names its .1 (10.213.0.1)" "$r"
r=$(prun personal dnsq 10.213.0.1 shop.test)
ok $([ "$(rword "$r")" = "ok 203.0.113.10" ]; echo $?) "personal: DNS to .1:53 answers (DNAT to the persona's dns)" "$r"
# the echo logs its peers: the device's uplink address, never the persona's
peer=$(awk '/ from / && $3 !~ /^203\.0\.113\.10:/ {print $3}' "$W/echo-inet.log" | sed 's/:.*//' | sort -u | tr '\n' ' ')
ok $([ "$peer" = "198.51.100.2 " ]; echo $?) \
	"personal's connections leave masqueraded (the internet sees 198.51.100.2 only, never 10.213.x)" "peers: $peer"

# ---- never the organisation's inner network (routed by the internet!)
before=$(counter to_inner)
expect_refused "personal: TCP to the org service 10.77.100.10:7 rejected" personal tcp 10.77.100.10 7
expect_refused "personal: UDP to the org service 10.77.100.10:7 rejected" personal udp 10.77.100.10 7
expect_refused "personal: TCP to the org gateway TUN 10.77.0.1:53 rejected" personal tcp 10.77.0.1 53
r=$(prun personal dnsq 10.77.0.1 org.test)
ok $(is_ok "$r"; [ $? -ne 0 ]; echo $?) "personal: the org's DNS 10.77.0.1 does not answer it" "$r"
r=$(prun personal resolve org.test)
ok $([ "$(rword "$r")" != "ok 10.77.100.10" ]; echo $?) "personal: org.test does not resolve to the org service" "$r"
after=$(counter to_inner)
ok $([ -n "$after" ] && [ "$after" = "$before" ]; echo $?) \
	"personal: no packet for 10.77.0.0/16 left on up0 (nft counter $before -> $after)"

# ---- never secure
expect_refused "personal: TCP to secure's tunnel address 10.77.0.2:7007 rejected" personal tcp 10.77.0.2 7007
expect_refused "personal: UDP to secure's tunnel address 10.77.0.2:7007 rejected" personal udp 10.77.0.2 7007

# ---- never the device's own addresses and services (the echo on 0.0.0.0:7
# of the dev namespace answers the dev namespace itself: the control)
r=$(dev "$PY" "$NT" tcp 198.51.100.2 7)
ok $(is_ok "$r"; echo $?) "control: the device's own echo at 198.51.100.2:7 answers in dev" "$r"
expect_refused "personal: TCP to the device's uplink address 198.51.100.2:7 rejected" personal tcp 198.51.100.2 7
expect_refused "personal: UDP to the device's uplink address 198.51.100.2:7 rejected" personal udp 198.51.100.2 7
expect_refused "personal: TCP to its host side 10.213.0.1:7 rejected" personal tcp 10.213.0.1 7
expect_refused "personal: UDP to its host side 10.213.0.1:7 rejected" personal udp 10.213.0.1 7
expect_refused "personal: TCP to its host side 10.213.0.1:22" personal tcp 10.213.0.1 22
expect_refused "personal: TCP to the device's uplink 198.51.100.2:51821 (secure's tunnel port)" personal tcp 198.51.100.2 51821
expect_refused "personal: TCP to another persona's /30 (10.213.0.5:7)" personal tcp 10.213.0.5 7

# ---- its root cannot change its network
root_controls personal
root_eperm personal "personal root: ip link add (veth) -> EPERM" /usr/sbin/ip link add tfx0 type veth peer name tfx1
root_eperm personal "personal root: ip link set eth0 mtu 1400 -> EPERM" /usr/sbin/ip link set eth0 mtu 1400
root_eperm personal "personal root: ip link set eth0 down -> EPERM" /usr/sbin/ip link set eth0 down
root_eperm personal "personal root: ip route add 10.77.0.0/16 -> EPERM" /usr/sbin/ip route add 10.77.0.0/16 via 10.213.0.1
root_eperm personal "personal root: ip addr add -> EPERM" /usr/sbin/ip addr add 10.213.0.3/30 dev eth0
root_eperm personal "personal root: nft list ruleset -> EPERM" /usr/sbin/nft list ruleset
root_eperm personal "personal root: nft add table -> EPERM" /usr/sbin/nft add table inet evil
r=$(proot personal sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' 2>&1)
ok $([ $? -ne 0 ]; echo $?) "personal root: cannot write net.ipv4.ip_forward" "$r"
r=$(prun personal --root rawsock)
ok $([ "$(rword "$r")" = "err EPERM" ]; echo $?) "personal root: no raw IP or packet socket (EPERM)" "$r"
expect_refused "personal root: TCP to the org service 10.77.100.10:7 still rejected" personal --root tcp 10.77.100.10 7
r=$(tf run personal -- /usr/sbin/ip -o link 2>&1)
ok $([ "$(grep -c . <<<"$r")" = 2 ] && grep -q ' lo:' <<<"$r" && grep -q ' eth0@' <<<"$r"; echo $?) \
	"personal: its links are lo and eth0 only" "$r"

world_finish
