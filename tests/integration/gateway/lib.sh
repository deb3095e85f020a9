# SPDX-License-Identifier: ISC
# The gateway area's helpers (sourced after ../tap.sh): a two-namespace
# world made per run and removed on exit, even on failure:
#   D (device)  veth gd0 192.0.2.1/24  <->  O (org) veth go0 192.0.2.2/24
# The organisation's service lives in O on 10.77.100.10 (lo), behind the
# gateway's TUN 10.77.0.1/24; the device's inner address is 10.77.0.2.
# Needs: TUNHARNESS, TWOFOLD_GATEWAY (meson).

: "${TUNHARNESS:?TUNHARNESS not set (run through meson test)}"
: "${TWOFOLD_GATEWAY:?TWOFOLD_GATEWAY not set (run through meson test)}"

GW_SUF=$$
NS_D=tgd$GW_SUF
NS_O=tgo$GW_SUF
W=$(mktemp -d /tmp/tfgw.XXXXXX)
GW_PID=
H_PID=
WG_PID=

# run CMD in a namespace (nsenter, not ip netns exec: see FACTS.md)
in_d() { nsenter --net=/run/netns/$NS_D "$@"; }
in_o() { nsenter --net=/run/netns/$NS_O "$@"; }

gw_world_up() {
	ip netns add "$NS_D" && ip netns add "$NS_O" || return 1
	ip link add gd0 netns "$NS_D" type veth peer name go0 netns "$NS_O" || return 1
	in_d ip link set lo up && in_o ip link set lo up &&
		in_d ip addr add 192.0.2.1/24 dev gd0 && in_d ip link set gd0 up &&
		in_o ip addr add 192.0.2.2/24 dev go0 && in_o ip link set go0 up &&
		in_o ip addr add 10.77.100.10/32 dev lo &&
		in_o ip addr add fd77:100::10/128 dev lo nodad
}

gw_world_down() {
	local p
	for p in $H_PID $GW_PID $WG_PID; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in $H_PID $GW_PID $WG_PID; do kill -KILL "$p" 2>/dev/null; done
	ip netns pids "$NS_D" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns pids "$NS_O" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS_D" 2>/dev/null
	ip netns del "$NS_O" 2>/dev/null
	rm -rf "$W"
}
EXTRA_CLEANUP=gw_world_down

# keys: gen_key SUITE NAME -> $W/NAME.key (0600), $W/NAME.pub
gen_key() {
	"$TWOFOLD_GATEWAY" keygen --suite "$1" --out "$W/$2.key" >"$W/$2.pub"
}

# write_gw_conf [extra lines]: the gateway's config with both keys
write_gw_conf() {
	cat >"$W/gw.conf" <<EOC
listen = 192.0.2.2:51820
tun = tfgw0
address = 10.77.0.1/24, fd77::1/64
mtu = 1420
intl_key = $W/gw_intl.key
gm_key = $W/gw_gm.key
devices = $W/devices
queues = 2
EOC
}

start_gw() {
	# nsenter itself, not the in_o function: $! must be the gateway (a
	# backgrounded function is a subshell, and killing it kills nothing)
	nsenter --net=/run/netns/$NS_O "$TWOFOLD_GATEWAY" --config "$W/gw.conf" \
		--foreground >>"$W/gw.log" 2>&1 &
	GW_PID=$!
	for _ in $(seq 50); do
		grep -q "listening on" "$W/gw.log" 2>/dev/null && return 0
		kill -0 "$GW_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "$(tail -5 "$W/gw.log")"
	return 1
}
stop_gw() {
	[ -n "$GW_PID" ] || return 0
	kill -"${1:-TERM}" "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	GW_RC=$?
	GW_PID=
}

# start_dev SUITE PEERPUB [ENDPOINT]: the tunnel process in D through the
# harness (tun0 10.77.0.2/32, route 10.77.0.0/16)
start_dev() {
	: >"$W/dev.log"
	nsenter --net=/run/netns/$NS_D "$TUNHARNESS" --suite "$1" --key "$W/dev_$1.key" --peer "$2" \
		--endpoint "${3:-192.0.2.2:51820}" --address 10.77.0.2/32 \
		--address fd77::2/128 --route 10.77.0.0/16 --route fd77::/16 \
		--vnet "${VNET:-1}" --queues "${QUEUES:-2}" --keepalive "${KEEPALIVE:-25}" \
		--listen-port "${DEV_PORT:-40001}" \
		>>"$W/dev.log" 2>&1 &
	H_PID=$!
}
stop_dev() {
	[ -n "$H_PID" ] || return 0
	kill -TERM "$H_PID" 2>/dev/null
	wait "$H_PID" 2>/dev/null
	H_PID=
}

# wait_for FILE PATTERN [TRIES x 0.1 s]
wait_for() {
	for _ in $(seq "${3:-100}"); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

pub_of() { sed -n "s/^$2 //p" "$W/$1.pub"; }

# tcp_try NS HOST PORT: connect (5 s at most), send a line, print "ok
# REPLY" or the errno name (ENETUNREACH, ECONNREFUSED, ...) or "timeout";
# how long it took in $W/took (for a diag line, never asserted)
tcp_try() {
	nsenter --net=/run/netns/$1 python3 -c '
import errno, socket, sys, time
t0 = time.monotonic()
def took():
    open(sys.argv[3], "w").write("%d ms" % ((time.monotonic() - t0) * 1000))
s = socket.socket()
s.settimeout(5)
try:
    if ":" in sys.argv[1]:
        s = socket.socket(socket.AF_INET6)
        s.settimeout(5)
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"hello through the tunnel\n")
    print("ok", s.recv(100).decode().strip())
except socket.timeout:
    print("timeout")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
took()' "$2" "$3" "$W/took"
}

# echo service (TCP port 7) on the organisation's address; EXEC:cat, not
# PIPE: a socat PIPE echo stops reading when its one pipe fills (seen
# with 4 MB echoed at 1 Gbit/s: 1.2 MB left unread in its Recv-Q)
start_echo() {
	nsenter --net=/run/netns/$NS_O socat TCP-LISTEN:7,bind=10.77.100.10,reuseaddr,fork EXEC:cat &
	BG_PIDS="$BG_PIDS $!"
	nsenter --net=/run/netns/$NS_O socat TCP6-LISTEN:7,bind=[fd77:100::10],reuseaddr,fork EXEC:cat &
	BG_PIDS="$BG_PIDS $!"
	sleep 0.2
}

# wg_up NS IFNAME ADDR KEYFILE LISTENPORT PEERPUB ALLOWED [ENDPOINT]:
# Debian's wireguard-go on IFNAME in NS, configured with wg(8)
wg_up() {
	local ns=$1 ifn=$2
	WG_PROCESS_FOREGROUND=1 nsenter --net=/run/netns/$ns wireguard-go -f "$ifn" \
		>>"$W/wg.log" 2>&1 &
	WG_PID=$!
	for _ in $(seq 50); do
		[ -S "/var/run/wireguard/$ifn.sock" ] && break
		sleep 0.1
	done
	nsenter --net=/run/netns/$ns wg set "$ifn" private-key "$4" listen-port "$5" \
		peer "$6" allowed-ips "$7" ${8:+endpoint "$8"} persistent-keepalive 25 || return 1
	nsenter --net=/run/netns/$ns ip addr add "$3" dev "$ifn" &&
		nsenter --net=/run/netns/$ns ip link set "$ifn" mtu 1420 up
}
wg_down() {
	[ -n "$WG_PID" ] || return 0
	kill -TERM "$WG_PID" 2>/dev/null
	wait "$WG_PID" 2>/dev/null
	WG_PID=
}
