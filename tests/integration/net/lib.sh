# SPDX-License-Identifier: ISC
# The test world of issue 12 (sourced, not run; bench/net sources it too).
# ../tap.sh gives the TAP primitives, the daemon helpers and the cleanup of
# the state dir; this adds three network namespaces made for this run and
# removed on exit, also on failure (docs: /work ISSUE12 "The test world"):
#
#   dev   the device: twofoldd runs here (nsenter --net, never `ip netns
#         exec`, which remounts /sys and hides the cgroups); up0
#         198.51.100.2/24, default via .1; a TCP/UDP echo on 0.0.0.0:7 (the
#         device's own service personal must not reach); the nft table
#         `inet tfworld` counting what leaves on up0.
#   inet  the "internet": router (198.51.100.1 <-> 192.0.2.1), the echo
#         service 203.0.113.10:7 (TCP and UDP), dnsmasq on 203.0.113.53
#         (shop.test -> 203.0.113.10). It also routes 10.77.0.0/16 to the
#         organisation, so a persona that could reach the org's inner
#         addresses over the underlay really would: the checks can fail.
#   org   twofold-gateway (or wireguard-go) on 192.0.2.2:51820, its TUN
#         10.77.0.1/24, the org service 10.77.100.10:7 on lo, dnsmasq on
#         10.77.0.1 (org.test -> 10.77.100.10).
#
# The counters on up0: secure_src (packets whose source is
# secure's inner address 10.77.0.2, either direction: must stay 0),
# to_inner (leaving for the org's inner 10.77.0.0/16 over the underlay:
# must stay 0), tunnel_out (UDP to 192.0.2.2:51820) and not_tunnel
# (everything else leaving: 0 while only secure sends).
#
# Names carry this shell's pid (tfn-dev-$$ ...) so parallel runs and a
# leftover of a killed run never collide. IPv6 is off in the three
# namespaces: router solicitations and MLD reports would otherwise leave on
# up0 by themselves and the "only tunnel packets" counter would mean
# nothing.
#
# Knobs (set before world_up): WORLD_GW = twofold | wg | none (default
# twofold), WORLD_SUITE = intl | gm (the secure persona's tunnel_suite),
# WORLD_GW_SUITES = "intl gm" (the keys the twofold-gateway has),
# WORLD_REG_SUITE (the suite the device is registered with; default
# WORLD_SUITE), WORLD_PEER_KEY (override the secure persona's
# tunnel_peer_key; "none" = leave it unset), WORLD_UNLOCK = 1 (enroll and
# unlock secure; default 1).
#
# Needs from meson: TWOFOLD, TWOFOLDD, BUILD_ROOT.

. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

NET_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
NT=$NET_HERE/nt.py
NT_SRC=$(cat "$NT")
GATEWAY=${TWOFOLD_GATEWAY:-${BUILD_ROOT:-}/src/gateway/twofold-gateway}
SUF=$$
NS_DEV=tfn-dev-$SUF
NS_INET=tfn-inet-$SUF
NS_ORG=tfn-org-$SUF
WGIF=tfwg$SUF # wireguard-go's UAPI socket is /var/run/wireguard/NAME.sock:
              # a host-wide path, hence a per-run name
W=
WORLD_NS=
GWPID=
WGPID=
GW_INTL_PUB=
GW_GM_PUB=
DEV_PUB=
DEV_PORT=51821
WORLD_GW=${WORLD_GW:-twofold}
WORLD_SUITE=${WORLD_SUITE:-intl}
WORLD_GW_SUITES=${WORLD_GW_SUITES:-intl gm}
WORLD_REG_SUITE=${WORLD_REG_SUITE:-$WORLD_SUITE}
WORLD_PEER_KEY=${WORLD_PEER_KEY:-}
WORLD_UNLOCK=${WORLD_UNLOCK:-1}
DAEMON_ARGS=${DAEMON_ARGS--v}

# ---- namespaces ------------------------------------------------------------

in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}
dev() { in_ns "$NS_DEV" "$@"; }
inet() { in_ns "$NS_INET" "$@"; }
org() { in_ns "$NS_ORG" "$@"; }

# bg NS LOG CMD...: CMD in the background in namespace NS (nsenter execs
# it: $! is CMD's own pid), output appended to $W/LOG; its pid in LASTPID
# and BG_PIDS (cleanup SIGKILLs those).
bg() {
	local ns=$1 log=$2
	shift 2
	nsenter --net="/run/netns/$ns" "$@" >>"$W/$log" 2>&1 &
	LASTPID=$!
	BG_PIDS="$BG_PIDS $LASTPID"
}
# bg_stop PID [SIG]: end one of our background processes and forget it
bg_stop() {
	local p=$1 np=
	kill -"${2:-TERM}" "$p" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	for q in $BG_PIDS; do [ "$q" = "$p" ] || np="$np $q"; done
	BG_PIDS=$np
}

# wait_for TENTHS CMD...: poll CMD every 0.1 s, at most TENTHS times
wait_for() {
	local n=$1
	shift
	for _ in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

ns_add() {
	ip netns add "$1" || return 1
	WORLD_NS="$WORLD_NS $1"
	in_ns "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	in_ns "$1" ip link set lo up
}

world_net() {
	ns_add "$NS_DEV" && ns_add "$NS_INET" && ns_add "$NS_ORG" || return 1
	ip link add up0 netns "$NS_DEV" type veth peer name d0 netns "$NS_INET" &&
		ip link add o0 netns "$NS_INET" type veth peer name i0 netns "$NS_ORG" ||
		return 1
	dev ip addr add 198.51.100.2/24 dev up0 &&
		dev ip link set up0 up &&
		dev ip route add default via 198.51.100.1 &&
		inet ip addr add 198.51.100.1/24 dev d0 &&
		inet ip addr add 192.0.2.1/24 dev o0 &&
		inet ip addr add 203.0.113.10/32 dev lo &&
		inet ip addr add 203.0.113.53/32 dev lo &&
		inet ip link set d0 up && inet ip link set o0 up &&
		inet ip route add 10.77.0.0/16 via 192.0.2.2 &&
		inet sysctl -q -w net.ipv4.ip_forward=1 >/dev/null &&
		org ip addr add 192.0.2.2/24 dev i0 &&
		org ip addr add 10.77.100.10/32 dev lo &&
		org ip link set i0 up &&
		org ip route add default via 192.0.2.1 &&
		org sysctl -q -w net.ipv4.ip_forward=1 >/dev/null || return 1
	# the counters on the device's uplink (priority -300: before any NAT,
	# so a source address is seen as the persona wrote it)
	dev nft -f - <<-'EOF' || return 1
	table inet tfworld {
		counter secure_src { }
		counter tunnel_out { }
		counter not_tunnel { }
		counter to_inner { }
		chain post {
			type filter hook postrouting priority -300; policy accept;
			oifname "up0" ip saddr 10.77.0.2 counter name "secure_src"
			oifname "up0" ip daddr 10.77.0.0/16 counter name "to_inner"
			oifname "up0" ip daddr 192.0.2.2 udp dport 51820 counter name "tunnel_out" accept
			oifname "up0" counter name "not_tunnel"
		}
		chain pre {
			type filter hook prerouting priority -300; policy accept;
			iifname "up0" ip saddr 10.77.0.2 counter name "secure_src"
		}
	}
	EOF
}

# counter NAME: packets of the counter on dev's up0
counter() {
	dev nft list counter inet tfworld "$1" 2>/dev/null |
		awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

world_services() {
	bg "$NS_INET" echo-inet.log "$PY" "$NT" serve 203.0.113.10 7
	bg "$NS_DEV" echo-dev.log "$PY" "$NT" serve 0.0.0.0 7
	bg "$NS_ORG" echo-org.log "$PY" "$NT" serve 10.77.100.10 7
	bg "$NS_INET" dns-inet.log dnsmasq -k -C /dev/null --no-resolv --no-hosts \
		--bind-interfaces --listen-address=203.0.113.53 --port=53 \
		--address=/shop.test/203.0.113.10 --pid-file="$W/dns-inet.pid" \
		--log-facility=- --user=root
	# the org's resolver listens on the gateway TUN's address, which comes
	# and goes with the gateway: --bind-dynamic follows it
	bg "$NS_ORG" dns-org.log dnsmasq -k -C /dev/null --no-resolv --no-hosts \
		--bind-dynamic --listen-address=10.77.0.1 --port=53 \
		--address=/org.test/10.77.100.10 --pid-file="$W/dns-org.pid" \
		--log-facility=- --user=root
	wait_for 50 inet "$PY" -c 'import socket; socket.create_connection(("203.0.113.10", 7), 1)' &&
		wait_for 50 org "$PY" -c 'import socket; socket.create_connection(("10.77.100.10", 7), 1)'
}

# ---- the gateway -----------------------------------------------------------

# gw_keygen SUITE: a key of twofold-gateway's; its public key printed
gw_keygen() {
	local out
	out=$("$GATEWAY" keygen --suite "$1" --out "$W/gw-$1.key" 2>&1) || {
		diag "twofold-gateway keygen --suite $1: $out" >&2
		return 1
	}
	chmod 600 "$W/gw-$1.key"
	echo "${out##* }"
}

# gw_conf: the gateway's config for WORLD_GW_SUITES
gw_conf() {
	{
		echo "listen = 192.0.2.2:51820"
		echo "tun = tfgw0"
		echo "address = 10.77.0.1/24"
		echo "mtu = 1420"
		for s in $WORLD_GW_SUITES; do echo "${s}_key = $W/gw-$s.key"; done
		echo "devices = $W/devices"
	} >"$W/gw.conf"
}

# gw_start: twofold-gateway in org, until its TUN is there
gw_start() {
	bg "$NS_ORG" gw.log "$GATEWAY" --config "$W/gw.conf" --foreground -v
	GWPID=$LASTPID
	wait_for 50 org ip link show tfgw0 || {
		diag "twofold-gateway did not make tfgw0: $(tail -3 "$W/gw.log")"
		return 1
	}
}
gw_stop() {
	[ -n "$GWPID" ] && bg_stop "$GWPID" "${1:-TERM}"
	GWPID=
}

# wg_start [ENDPOINT]: wireguard-go as the organisation's gateway, the
# device registered as its peer (ENDPOINT: the device's underlay address,
# so wireguard-go can initiate too)
wg_start() {
	bg "$NS_ORG" wg.log env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$WGIF"
	WGPID=$LASTPID
	wait_for 50 test -S "/var/run/wireguard/$WGIF.sock" || {
		diag "wireguard-go did not start: $(tail -3 "$W/wg.log")"
		return 1
	}
	org wg set "$WGIF" private-key "$W/wg.key" listen-port 51820 \
		peer "$DEV_PUB" allowed-ips 10.77.0.2/32 ${1:+endpoint "$1"} &&
		org ip addr add 10.77.0.1/24 dev "$WGIF" &&
		org ip link set "$WGIF" mtu 1420 up
}
wg_stop() {
	# TERM: wireguard-go removes its UAPI socket only on a clean exit
	[ -n "$WGPID" ] && bg_stop "$WGPID" TERM
	WGPID=
	rm -f "/var/run/wireguard/$WGIF.sock"
}

# ---- the device ------------------------------------------------------------

# pconf PERSONA KEY VALUE: set KEY in [persona PERSONA] of device.conf
# (replaces `KEY = ...` or `#KEY = ...` there, or appends to the section)
pconf() {
	"$PY" - "$S/device.conf" "$@" <<-'EOF'
	import sys
	path, persona, key, value = sys.argv[1:5]
	lines = open(path).read().split("\n")
	out, sect, done = [], None, False
	def flush():
	    global done
	    if sect == persona and not done:
	        while out and out[-1] == "":
	            out.pop()
	        out.append("%s = %s" % (key, value))
	        out.append("")
	        done = True
	for l in lines:
	    s = l.strip()
	    if s.startswith("["):
	        flush()
	        sect = s[1:-1].split()[-1] if s.startswith("[persona ") else None
	    elif sect == persona and not done and \
	            s.lstrip("#").split("=")[0].strip() == key:
	        out.append("%s = %s" % (key, value))
	        done = True
	        continue
	    out.append(l)
	flush()
	open(path + ".new", "w").write("\n".join(out))
	import os
	os.rename(path + ".new", path)
	EOF
}
# pconf_del PERSONA KEY: unset KEY there (comment it out)
pconf_del() {
	"$PY" - "$S/device.conf" "$@" <<-'EOF'
	import os, sys
	path, persona, key = sys.argv[1:4]
	out, sect = [], None
	for l in open(path).read().split("\n"):
	    s = l.strip()
	    if s.startswith("["):
	        sect = s[1:-1].split()[-1] if s.startswith("[persona ") else None
	    elif sect == persona and s.split("=")[0].strip() == key:
	        l = "#" + l
	    out.append(l)
	open(path + ".new", "w").write("\n".join(out))
	os.rename(path + ".new", path)
	EOF
}

# device_conf PEERKEY: the issue's device.conf for the two personas
device_conf() {
	pconf personal network nat &&
		pconf personal dns 203.0.113.53 &&
		pconf secure network tunnel &&
		pconf secure tunnel_suite "$WORLD_SUITE" &&
		pconf secure tunnel_endpoint 192.0.2.2:51820 &&
		pconf secure tunnel_address 10.77.0.2/32 &&
		pconf secure tunnel_routes 10.77.0.0/16 &&
		pconf secure tunnel_dns 10.77.0.1 &&
		pconf secure tunnel_listen_port "$DEV_PORT" || return 1
	if [ "$1" = none ]; then
		pconf_del secure tunnel_peer_key
	else
		pconf secure tunnel_peer_key "$1"
	fi
}

# the daemon runs in the dev namespace (tap.sh start_daemon)
DAEMON_NETNS=$NS_DEV

unlock_secure() {
	printf '123456\n' | tf unlock secure --pin-stdin >/dev/null
}
enroll_unlock_secure() {
	printf '123456\n' | tf enroll secure --pin-stdin >/dev/null && unlock_secure
}

# dev_key: the device's tunnel public key (`twofold tunnel key secure`)
dev_key() {
	local out
	out=$(tf tunnel key secure 2>&1) || {
		diag "twofold tunnel key secure: $out" >&2
		return 1
	}
	echo "${out##* }"
}

# register SUITE PUB: the device's line in the gateway's device list
register() {
	echo "phone1 $1 $2 10.77.0.2/32" >"$W/devices"
}

# ---- net status --------------------------------------------------------------

# jget EXPR: a value of `twofold net status --json` (P = the personas by
# name, D = the whole document); strings bare, the rest as JSON
jget() {
	tf net status --json 2>/dev/null | "$PY" -c '
import json, sys
D = json.load(sys.stdin)
P = {p["name"]: p for p in D["personas"]}
try:
    v = eval(sys.argv[1])
except (KeyError, IndexError, TypeError):
    sys.exit(3)
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}
tstate() { jget 'P["secure"]["tunnel"]["state"]'; }
# wait_state STATE [TENTHS]: the secure tunnel reaches STATE
wait_state() {
	local n=${2:-300}
	for _ in $(seq "$n"); do
		[ "$(tstate)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- in the personas -----------------------------------------------------

# init_pid PERSONA: the host pid of the persona's init (status --json)
init_pid() {
	tf status --json 2>/dev/null | "$PY" -c '
import json, sys
print([p for p in json.load(sys.stdin)["personas"] if p["name"] == sys.argv[1]][0]["init_pid"])' "$1"
}
# proot PERSONA CMD...: CMD as the persona's root at its strongest: uid 0
# with every capability in the persona's user namespace, in its network
# namespace (`twofold run --user 0` is refused: no app runs as root, so
# the test enters the init's namespaces itself). The files are the host's.
proot() {
	local ip
	ip=$(init_pid "$1") || return 1
	shift
	nsenter -t "$ip" -U -n -S 0 -G 0 -- "$@"
}
# prun PERSONA [--root] VERB ARGS...: nt.py inside the persona (an app,
# uid 1000; --root: as proot)
prun() {
	local p=$1
	shift
	if [ "$1" = --root ]; then
		shift
		proot "$p" /usr/bin/python3 -c "$NT_SRC" "$@" 2>&1
		return
	fi
	# the app's environment is clean: nt.py's knobs go in as --env
	local e=()
	[ -n "${NT_TIMEOUT:-}" ] && e+=(--env "NT_TIMEOUT=$NT_TIMEOUT")
	[ -n "${NT_RECVERR:-}" ] && e+=(--env "NT_RECVERR=$NT_RECVERR")
	tf run "$p" "${e[@]}" -- /usr/bin/python3 -c "$NT_SRC" "$@" 2>&1
}
# root_eperm PERSONA DESC CMD...: CMD as the persona's root fails with
# "Operation not permitted"
root_eperm() {
	local p=$1 d=$2 r
	shift 2
	r=$(proot "$p" "$@" 2>&1)
	if [ $? -ne 0 ] && grep -qi "operation not permitted" <<<"$r"; then ok "$d"; else nok "$d" "$* -> $r"; fi
}
# root_controls PERSONA: the persona's root as proot makes it is real: uid
# 0, full capabilities in its user namespace, and able to use them on a
# network namespace of its own
root_controls() {
	local r
	r=$(tf run "$1" --user 0 -- id -u 2>&1)
	ok $([ $? -ne 0 ] && grep -q "root, which no app runs as" <<<"$r"; echo $?) \
		"$1: twofold run --user 0 is refused (no app runs as the persona's root)" "$r"
	r=$(proot "$1" sh -c 'id -u; grep CapEff /proc/self/status' 2>&1)
	ok $(grep -qx 0 <<<"$r" && grep -q 'CapEff:.*1ffffffffff' <<<"$r"; echo $?) \
		"control: $1's root (nsenter into its user namespace) is uid 0 with every capability there" "$r"
	r=$(proot "$1" unshare -n /usr/sbin/ip link add tfx0 type veth peer name tfx1 2>&1)
	ok $? "control: $1's root may make links in a netns of its own (nothing to route to)" "$r"
}
# rhex N: N random bytes in hex
rhex() { "$PY" "$NT" rhex "$1"; }
# result word of an nt.py line: "ok", "err", "timeout" (and ERRNO etc.)
rword() { echo "${1%% t=*}"; }
# is_ok LINE / is_refused LINE: reached / failed with an errno (a
# reject, an unreachable route: not a silent drop, not a timeout)
is_ok() { case $1 in "ok "*) return 0 ;; esac; return 1; }
is_err() { case $1 in "err "*) return 0 ;; esac; return 1; }

# expect_ok DESC PERSONA VERB ARGS... / expect_refused DESC ...
expect_ok() {
	local d=$1 r
	shift
	r=$(prun "$@")
	if is_ok "$r"; then ok "$d"; else nok "$d" "$* -> $r"; fi
}
expect_refused() {
	local d=$1 r
	shift
	r=$(prun "$@")
	if is_err "$r"; then ok "$d ($(rword "$r"))"; else nok "$d" "$* -> $r"; fi
}

# ---- the whole world -----------------------------------------------------

# world_up: namespaces, services, keys, the device's state and daemon,
# secure enrolled and unlocked, the gateway (WORLD_GW) with the device
# registered. Returns 1 (with a diag) on the first failure.
world_up() {
	W=$(mktemp -d /tmp/tfnw.XXXXXX)
	world_net || { diag "world: namespaces/links failed"; return 1; }
	world_services || { diag "world: services did not come up: $(tail -3 "$W"/*.log)"; return 1; }
	local peer=
	case $WORLD_GW in
	twofold)
		[ -x "$GATEWAY" ] || { diag "no twofold-gateway at $GATEWAY"; return 1; }
		for s in $WORLD_GW_SUITES; do
			eval "GW_$(echo "$s" | tr a-z A-Z)_PUB=\$(gw_keygen $s)" || return 1
		done
		[ "$WORLD_SUITE" = gm ] && peer=$GW_GM_PUB || peer=$GW_INTL_PUB
		gw_conf
		;;
	wg)
		(umask 077 && wg genkey >"$W/wg.key")
		peer=$(wg pubkey <"$W/wg.key")
		;;
	esac
	[ -n "$WORLD_PEER_KEY" ] && peer=$WORLD_PEER_KEY
	[ -n "$peer" ] || peer=none
	new_state tfn
	init_state 64M || { diag "twofold init failed"; return 1; }
	device_conf "$peer" || { diag "device.conf edit failed"; return 1; }
	start_daemon || return 1
	if [ "$WORLD_UNLOCK" = 1 ]; then
		enroll_unlock_secure || { diag "enroll/unlock secure failed"; return 1; }
	fi
	[ "$peer" = none ] && return 0
	DEV_PUB=$(dev_key) || return 1
	case $WORLD_GW in
	twofold)
		register "$WORLD_REG_SUITE" "$DEV_PUB"
		gw_start || return 1
		;;
	wg)
		wg_start || return 1
		;;
	esac
}

# world_up_or_bail: world_up, else bail with the world's diagnostics
world_up_or_bail() {
	world_up || {
		world_diag
		bail "the test world did not come up"
	}
}

# world_tunnel_up: world_up_or_bail, then secure's tunnel up (bail if not)
world_tunnel_up() {
	world_up_or_bail
	wait_state up 300 || {
		world_diag
		bail "the secure tunnel did not come up (state $(tstate))"
	}
}

# world_down: our processes (TERM first: wireguard-go), the daemon and its
# state (tap.sh's cleanup), then the namespaces and the world's files.
world_down() {
	set +e
	wg_stop
	gw_stop
	cleanup
	for ns in $WORLD_NS; do ip netns del "$ns" 2>/dev/null; done
	WORLD_NS=
	if [ -n "$W" ] && [ "${KEEP_STATE:-0}" != 1 ]; then rm -rf "$W"; fi
}
trap world_down EXIT

# world_finish: tear down now and check that nothing of ours is left
# (namespaces, processes), then the TAP plan.
world_finish() {
	local pids=$BG_PIDS left
	world_down
	left=$(ip netns list | grep -E -- "-$SUF( |\$)")
	ok $([ -z "$left" ]; echo $?) "teardown: no namespace of this run is left" "$left"
	left=
	for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
	ok $([ -z "$left" ]; echo $?) "teardown: no process of this run is left" "$left"
	finish
}

# world_diag: the logs a failed world should show
world_diag() {
	diag "daemon log tail: $(tail -15 "$DLOG" 2>/dev/null)"
	[ -f "$W/gw.log" ] && diag "gateway log tail: $(tail -10 "$W/gw.log")"
	diag "net status: $(tf net status 2>&1 | head -30)"
}
