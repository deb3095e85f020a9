#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 12, the secure persona (network = tunnel) against twofold-gateway:
# it reaches the organisation's service and DNS through the tunnel and
# nothing of the underlay; the nft counters on the device's uplink prove
# that no packet from its address left there and that, while only secure
# sends, every packet leaving is UDP to the gateway; `net status --json`
# has the schema's fields; its root cannot change its network; with the
# gateway killed its connects fail at once and nothing leaves on the
# underlay; with the gateway back, traffic resumes without a restart of
# the persona; a killed tunnel process is restarted by the daemon.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

world_tunnel_up
ok "secure's tunnel is up against twofold-gateway"

# ---- through the tunnel, with the underlay counted
src0=$(counter secure_src)
nt0=$(counter not_tunnel)
tu0=$(counter tunnel_out)
[ -n "$src0" ] && [ -n "$nt0" ] || bail "the nft counters on up0 are gone (table inet tfworld)"
expect_ok "secure: TCP echo of the org service 10.77.100.10:7 through the tunnel" secure tcp 10.77.100.10 7
expect_ok "secure: UDP echo of the org service 10.77.100.10:7 through the tunnel" secure udp 10.77.100.10 7
r=$(prun secure resolve org.test)
ok $([ "$(rword "$r")" = "ok 10.77.100.10" ]; echo $?) "secure: resolves org.test through the tunnel" "$r"
r=$(tf run secure -- cat /etc/resolv.conf 2>&1)
ok $([ "$(grep '^nameserver' <<<"$r")" = "nameserver 10.77.0.1" ]; echo $?) \
	"secure: resolv.conf names tunnel_dns 10.77.0.1 only" "$r"
r=$(prun secure dnsq 10.77.0.1 org.test)
ok $([ "$(rword "$r")" = "ok 10.77.100.10" ]; echo $?) "secure: DNS query to 10.77.0.1 answered through the tunnel" "$r"

# ---- nothing of the underlay
expect_refused "secure: TCP to the internet echo 203.0.113.10:7" secure tcp 203.0.113.10 7
expect_refused "secure: UDP to the internet echo 203.0.113.10:7" secure udp 203.0.113.10 7
expect_refused "secure: DNS to the internet resolver 203.0.113.53" secure dnsq 203.0.113.53 shop.test
r=$(prun secure resolve shop.test)
ok $(is_ok "$r"; [ $? -ne 0 ]; echo $?) "secure: shop.test does not resolve" "$r"
expect_refused "secure: TCP to the router 198.51.100.1:7" secure tcp 198.51.100.1 7
expect_refused "secure: TCP to the device's own uplink 198.51.100.2:7" secure tcp 198.51.100.2 7
expect_refused "secure: UDP to the device's own uplink 198.51.100.2:7" secure udp 198.51.100.2 7
expect_refused "secure: UDP straight to the gateway's endpoint 192.0.2.2:51820" secure udp 192.0.2.2 51820
expect_refused "secure: TCP straight to the gateway's underlay 192.0.2.2:22" secure tcp 192.0.2.2 22
expect_refused "secure: TCP to personal's host side 10.213.0.1:53" secure tcp 10.213.0.1 53
expect_refused "secure: TCP to personal 10.213.0.2:7" secure tcp 10.213.0.2 7
expect_refused "secure root: TCP to the internet echo 203.0.113.10:7" secure --root tcp 203.0.113.10 7
r=$(prun secure --root rawsock)
ok $([ "$(rword "$r")" = "err EPERM" ]; echo $?) "secure root: no raw IP or packet socket (EPERM)" "$r"
src1=$(counter secure_src)
nt1=$(counter not_tunnel)
tu1=$(counter tunnel_out)
ok $([ "$src1" = 0 ]; echo $?) "up0: zero packets from secure's address 10.77.0.2 (nft counter $src0 -> $src1)"
ok $([ "$nt1" = "$nt0" ]; echo $?) \
	"up0: while only secure sent, every packet leaving was UDP to 192.0.2.2:51820 (others $nt0 -> $nt1)"
ok $([ "$tu1" -gt "$tu0" ]; echo $?) "up0: secure's traffic left as tunnel packets ($tu0 -> $tu1)"

# ---- its network, as it sees it, and its root
r=$(tf run secure -- /usr/sbin/ip -o link 2>&1)
ok $([ "$(grep -c . <<<"$r")" = 2 ] && grep -q ' lo:' <<<"$r" && grep -q ' tun0:' <<<"$r"; echo $?) \
	"secure: its links are lo and tun0 only (lockdown by construction)" "$r"
r=$(tf run secure -- /usr/sbin/ip -4 -o addr show dev tun0 2>&1)
ok $(grep -q 'inet 10\.77\.0\.2/32' <<<"$r"; echo $?) "secure: tun0 has tunnel_address 10.77.0.2/32" "$r"
r=$(tf run secure -- /usr/sbin/ip route 2>&1)
ok $([ "$(grep -c . <<<"$r")" = 1 ] && grep -q '^10\.77\.0\.0/16 dev tun0' <<<"$r"; echo $?) \
	"secure: its one route is tunnel_routes 10.77.0.0/16 via tun0 (no default)" "$r"
root_controls secure
root_eperm secure "secure root: ip link add (veth) -> EPERM" /usr/sbin/ip link add tfx0 type veth peer name tfx1
root_eperm secure "secure root: ip link set tun0 down -> EPERM" /usr/sbin/ip link set tun0 down
root_eperm secure "secure root: ip route add default dev tun0 -> EPERM" /usr/sbin/ip route add default dev tun0
root_eperm secure "secure root: ip route add 203.0.113.0/24 dev lo -> EPERM" /usr/sbin/ip route add 203.0.113.0/24 dev lo
root_eperm secure "secure root: ip addr add -> EPERM" /usr/sbin/ip addr add 10.77.0.9/32 dev tun0
root_eperm secure "secure root: nft list ruleset -> EPERM" /usr/sbin/nft list ruleset
root_eperm secure "secure root: nft add table -> EPERM" /usr/sbin/nft add table inet evil

# ---- net status --json: the schema's fields (the counters are the
# tunnel process's last STATUS, asked for once a second: a few tries)
for try in 1 2 3 4 5 6 7 8 9 10; do
js=$(tf net status --json 2>&1)
r=$("$PY" - "$js" <<-'EOF'
	import json, sys
	d = json.loads(sys.argv[1])
	bad = []
	def need(o, keys, where):
	    for k in keys:
	        if k not in o:
	            bad.append("%s.%s missing" % (where, k))
	if d.get("version") != 1:
	    bad.append("version != 1")
	P = {p["name"]: p for p in d["personas"]}
	for n in ("personal", "secure"):
	    need(P[n], ["name", "mode", "running", "links", "addresses", "routes",
	                "dns", "lockdown", "error"], n)
	pe, se = P["personal"], P["secure"]
	if pe["mode"] != "nat": bad.append("personal mode %r" % pe["mode"])
	if pe["lockdown"] is not False: bad.append("personal lockdown %r" % pe["lockdown"])
	if "10.213.0.2/30" not in pe["addresses"]: bad.append("personal addresses %r" % pe["addresses"])
	if not any(l["name"] == "eth0" and l["up"] and l["mtu"] == 1500 for l in pe["links"]):
	    bad.append("personal links %r" % pe["links"])
	if not any(r.startswith("default via 10.213.0.1") for r in pe["routes"]):
	    bad.append("personal routes %r" % pe["routes"])
	if pe["dns"] != ["10.213.0.1"]: bad.append("personal dns %r" % pe["dns"])
	if se["mode"] != "tunnel": bad.append("secure mode %r" % se["mode"])
	if se["lockdown"] is not True: bad.append("secure lockdown %r" % se["lockdown"])
	if se["running"] is not True: bad.append("secure running %r" % se["running"])
	if "10.77.0.2/32" not in se["addresses"]: bad.append("secure addresses %r" % se["addresses"])
	if not any(l["name"] == "tun0" and l["mtu"] == 1420 for l in se["links"]):
	    bad.append("secure links %r" % se["links"])
	if se["dns"] != ["10.77.0.1"]: bad.append("secure dns %r" % se["dns"])
	t = se.get("tunnel") or {}
	need(t, ["suite", "state", "configured", "endpoint", "local_port", "public_key",
	         "last_handshake", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets",
	         "handshakes", "rejected", "restarts", "error"], "secure.tunnel")
	if t.get("suite") != "intl": bad.append("suite %r" % t.get("suite"))
	if t.get("state") != "up": bad.append("state %r" % t.get("state"))
	if t.get("configured") is not True: bad.append("configured %r" % t.get("configured"))
	if t.get("endpoint") != "192.0.2.2:51820": bad.append("endpoint %r" % t.get("endpoint"))
	if t.get("local_port") != 51821: bad.append("local_port %r" % t.get("local_port"))
	if not (t.get("handshakes", 0) >= 1 and t.get("tx_packets", 0) > 0 and t.get("rx_bytes", 0) > 0):
	    bad.append("counters %r" % t)
	if not t.get("last_handshake", 0) > 1700000000: bad.append("last_handshake %r" % t.get("last_handshake"))
	if "tunnel" in pe and pe["tunnel"] is not None: bad.append("personal has a tunnel")
	print("; ".join(bad) if bad else "ok")
	EOF
)
[ "$r" = ok ] && break
sleep 0.5
done
[ "$try" -gt 1 ] && diag "net status --json: ok after $try tries"
ok $([ "$r" = ok ]; echo $?) "net status --json: the schema's fields, lockdown true for secure only" "$r :: $js"
pub=$(jget 'P["secure"]["tunnel"]["public_key"]')
ok $([ -n "$pub" ] && [ "$pub" = "$DEV_PUB" ]; echo $?) "net status: public_key = twofold tunnel key's" "$pub vs $DEV_PUB"
r=$(tf net status 2>&1)
ok $(grep -q secure <<<"$r" && grep -q personal <<<"$r" && grep -qi lockdown <<<"$r"; echo $?) \
	"net status (text): a block per persona, lockdown shown" "$r"

# ---- kill the gateway: immediate errors, nothing on the underlay
spid=$(init_pid secure)
src0=$(counter secure_src)
nt0=$(counter not_tunnel)
gw_stop KILL
# the first packet after the kill may still be sealed for the dead peer
# (the org's kernel answers ICMP port unreachable); the contract is that
# the next connects fail with an errno, never hang
first=
res=
for i in $(seq 10); do
	r=$(NT_TIMEOUT=2 prun secure tcp 10.77.100.10 7)
	[ -z "$first" ] && first=$r
	if is_err "$r"; then
		res=$r
		break
	fi
	sleep 0.5
done
diag "after the gateway's kill: first connect: $first; failing connect ($i tries): $res"
case $(rword "$res") in "err ENETUNREACH" | "err ECONNREFUSED" | "err EHOSTUNREACH") e=0 ;; *) e=1 ;; esac
ok $e "gateway killed: secure's connect fails with an errno ($(rword "$res")), no hang" "first=$first last=$r"
r=$(prun secure tcp 10.77.100.10 7)
case $(rword "$r") in "err ENETUNREACH" | "err ECONNREFUSED" | "err EHOSTUNREACH") e=0 ;; *) e=1 ;; esac
ok $e "gateway killed: the next connect fails too ($r)" "$r"
# UDP: the ICMP "network unreachable" of a down tunnel is a soft error
# (kernel icmp_err_convert: not fatal), reported only to a socket with
# IP_RECVERR; a plain UDP socket waits for its own timeout
r=$(NT_RECVERR=1 prun secure udp 10.77.100.10 7)
ok $(is_err "$r"; echo $?) "gateway killed: a UDP socket with IP_RECVERR gets an errno at once ($(rword "$r"))" "$r; state $(tstate)"
r=$(NT_TIMEOUT=2 prun secure udp 10.77.100.10 7)
diag "gateway killed: a plain UDP socket: $r (no errno unless the ICMP is a hard error, e.g. admin-prohibited)"
st=$(tstate)
ok $(case $st in down | handshaking) echo 0 ;; *) echo 1 ;; esac) "gateway killed: net status says $st" \
	"$(jget 'P["secure"]["tunnel"]')"
expect_refused "gateway killed: secure still cannot reach the internet echo" secure tcp 203.0.113.10 7
src1=$(counter secure_src)
nt1=$(counter not_tunnel)
ok $([ "$src1" = 0 ]; echo $?) "gateway killed: zero packets from 10.77.0.2 on up0 ($src0 -> $src1)"
ok $([ "$nt1" = "$nt0" ]; echo $?) "gateway killed: no packet but tunnel UDP left on up0 ($nt0 -> $nt1)"

# ---- gateway back: traffic resumes, same persona
gw_start || nok "gateway restarted"
resumed=
for i in $(seq 40); do
	r=$(NT_TIMEOUT=2 prun secure tcp 10.77.100.10 7)
	if is_ok "$r"; then
		resumed=1
		break
	fi
	sleep 0.5
done
ok $([ -n "$resumed" ]; echo $?) "gateway back: secure reaches the org service again (try $i)" "$r; $(jget 'P["secure"]["tunnel"]')"
r=$(init_pid secure)
ok $([ -n "$spid" ] && [ "$r" = "$spid" ]; echo $?) "gateway back: the same persona (init pid $spid), not restarted" "$r"
ok $([ "$(tstate)" = up ]; echo $?) "gateway back: net status says up"

# ---- the tunnel process killed: the daemon restarts it, tun0 comes back
# its pid from the daemon's log line ("secure: tunnel process PID started"),
# checked against the process title the spawner gives it
tpid=$(grep -o 'secure: tunnel process [0-9]*' "$DLOG" | tail -1 | awk '{print $NF}')
case $(tr '\0' ' ' <"/proc/${tpid:-0}/cmdline" 2>/dev/null) in *tunnel*) ;; *) tpid= ;; esac
if [ -z "$tpid" ]; then
	nok "found the tunnel process (the daemon's log names its pid)" "$(grep 'tunnel process' "$DLOG" | tail -3)"
else
	restarts0=$(jget 'P["secure"]["tunnel"]["restarts"]')
	kill -KILL "$tpid"
	r=$(prun secure tcp 10.77.100.10 7)
	case $(rword "$r") in "err ENETUNREACH" | "err ECONNREFUSED" | "err EHOSTUNREACH") e=0 ;; ok*) e=2 ;; *) e=1 ;; esac
	# ok* is possible when the daemon's restart won the race: say so
	[ $e = 2 ] && diag "the restart came before the connect" && e=0
	ok $e "tunnel process killed: secure's connect fails at once or is already served again ($r)" "$r"
	src1=$(counter secure_src)
	ok $([ "$src1" = 0 ]; echo $?) "tunnel process killed: zero packets from 10.77.0.2 on up0"
	resumed=
	for i in $(seq 60); do
		r=$(NT_TIMEOUT=2 prun secure tcp 10.77.100.10 7)
		if is_ok "$r"; then
			resumed=1
			break
		fi
		sleep 0.5
	done
	ok $([ -n "$resumed" ]; echo $?) "tunnel process restarted by the daemon: traffic resumes" "$r; $(jget 'P["secure"]["tunnel"]')"
	r=$(jget 'P["secure"]["tunnel"]["restarts"]')
	ok $([ "$r" -gt "${restarts0:-0}" ] 2>/dev/null; echo $?) "net status counts the restart ($restarts0 -> $r)"
	r=$(init_pid secure)
	ok $([ "$r" = "$spid" ]; echo $?) "tunnel process restarted: the persona was not" "$r"
fi
r=$(tf audit show 2>&1)
ok $(grep -q 'net\.tunnel\.up' <<<"$r" && grep -q 'net\.tunnel\.down' <<<"$r"; echo $?) \
	"audit: net.tunnel.up and net.tunnel.down recorded" "$(grep 'net\.' <<<"$r" | tail -8)"
ok $(grep -q 'net\.link' <<<"$r"; echo $?) "audit: net.link recorded" "$(grep 'net\.' <<<"$r" | head -4)"

# ---- the org's DNS down: no fallback to any other resolver
nt0=$(counter not_tunnel)
for p in $BG_PIDS; do [ "$p" = "$(cat "$W/dns-org.pid" 2>/dev/null)" ] && bg_stop "$p"; done
r=$(prun secure resolve org.test)
ok $(is_ok "$r"; [ $? -ne 0 ]; echo $?) "org DNS down: secure's lookup fails" "$r"
ok $([ "$(counter not_tunnel)" = "$nt0" ]; echo $?) "org DNS down: no query left outside the tunnel"
expect_ok "org DNS down: secure still reaches the org service by address" secure tcp 10.77.100.10 7

# ---- a gateway that silently drops (the internet eats its UDP): the
# device notices (no answer to a rekey), connects fail with an errno
inet nft -f - <<-'EOF2'
	table inet tfblackhole {
		chain drop_tunnel {
			type filter hook forward priority 0; policy accept;
			udp dport 51820 drop
			udp sport 51820 drop
		}
	}
	EOF2
nt0=$(counter not_tunnel)
first=
res=
for i in $(seq 40); do
	r=$(NT_TIMEOUT=1 prun secure tcp 10.77.100.10 7)
	[ -z "$first" ] && first=$r
	if is_err "$r"; then
		res=$r
		break
	fi
	sleep 0.5
done
diag "silent gateway: first connect $first; the first errno after $i tries: $res; $(jget 'P["secure"]["tunnel"]')"
ok $(is_err "$res"; echo $?) "silent gateway: the device goes down and connects fail with an errno ($(rword "$res"))" "$r"
ok $([ "$(counter secure_src)" = 0 ] && [ "$(counter not_tunnel)" = "$nt0" ]; echo $?) \
	"silent gateway: nothing but tunnel UDP left on up0, nothing from 10.77.0.2"
inet nft delete table inet tfblackhole
resumed=
for i in $(seq 60); do
	r=$(NT_TIMEOUT=2 prun secure tcp 10.77.100.10 7)
	if is_ok "$r"; then
		resumed=1
		break
	fi
	sleep 0.5
done
ok $([ -n "$resumed" ]; echo $?) "silent gateway heard again: traffic resumes" "$r; $(jget 'P["secure"]["tunnel"]')"

# ---- controls: the counters do count (so their zeros above mean something)
nt0=$(counter not_tunnel)
dev "$PY" "$NT" udp 203.0.113.10 7 >/dev/null
nt1=$(counter not_tunnel)
ok $([ "$nt1" -gt "$nt0" ]; echo $?) "control: a packet from dev to the internet counts in not_tunnel ($nt0 -> $nt1)"
dev ip addr add 10.77.0.2/32 dev lo
dev "$PY" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.77.0.2", 0)); s.sendto(b"x", ("203.0.113.10", 7))'
dev ip addr del 10.77.0.2/32 dev lo
ok $([ "$(counter secure_src)" -gt 0 ]; echo $?) "control: a packet from 10.77.0.2 leaving on up0 counts in secure_src"

world_finish
