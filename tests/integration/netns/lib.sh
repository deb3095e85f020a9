# SPDX-License-Identifier: ISC
# Shared by the persona network namespace tests (sourced, not run): the
# TAP primitives and the daemon helpers are ../tap.sh's; this adds a test
# world of network namespaces (removed on exit, also on failure) and two
# extra personas.
#
# Needs from meson: TWOFOLD, TWOFOLDD (program paths).

. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

NS_DEV=tfnn-dev-$$
NS_INET=tfnn-inet-$$
WORLD=0
WORLD_PIDS=
# the system python, not a shim that forks it (a kill must reach it)
PY=/usr/bin/python3
DAEMON_NS=
EXTRA_CLEANUP='world_down'

world_down() {
	[ "$WORLD" = 1 ] || return 0
	# the daemon first (tap.sh's cleanup stops it after us): its
	# personas keep the namespace's links alive
	stop_daemon
	# each server is the leader of its own process group (setsid)
	for p in $WORLD_PIDS; do kill -KILL -- "-$p" 2>/dev/null; done
	for p in $WORLD_PIDS; do wait "$p" 2>/dev/null; done
	WORLD_PIDS=
	ip netns del "$NS_DEV" 2>/dev/null
	ip netns del "$NS_INET" 2>/dev/null
	WORLD=0
}

# in_ns NS CMD...: CMD in namespace NS (nsenter: `ip netns exec` would
# remount /sys, and the daemon's cgroups with it)
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# world_up: dev (the daemon's: uplink up0 198.51.100.2/24, default via
# .1) <-> inet (198.51.100.1/24; an echo service on 203.0.113.10 port 7,
# dnsmasq on 203.0.113.53 answering shop.test -> 203.0.113.10), dnsmasq on
# dev's 127.0.0.53 answering local.test -> 203.0.113.10, and a
# TCP echo on every address of dev itself, port 8 (the device's own
# services, which no persona may reach).
world_up() {
	WORLD=1
	ip netns add "$NS_DEV" && ip netns add "$NS_INET" || return 1
	ip -n "$NS_DEV" link set lo up
	ip -n "$NS_INET" link set lo up
	ip link add up0 netns "$NS_DEV" type veth peer name down0 netns "$NS_INET" || return 1
	ip -n "$NS_DEV" addr add 198.51.100.2/24 dev up0
	ip -n "$NS_DEV" link set up0 up
	ip -n "$NS_DEV" route add default via 198.51.100.1
	ip -n "$NS_INET" addr add 198.51.100.1/24 dev down0
	ip -n "$NS_INET" link set down0 up
	ip -n "$NS_INET" addr add 203.0.113.10/32 dev lo
	ip -n "$NS_INET" addr add 203.0.113.53/32 dev lo
	# (not through in_ns: a function in the background is a subshell,
	# whose kill would leave the server running)
	setsid nsenter --net="/run/netns/$NS_INET" "$PY" "$HERE/echo.py" 203.0.113.10 7 \
		</dev/null >/dev/null 2>&1 &
	WORLD_PIDS="$WORLD_PIDS $!"
	setsid nsenter --net="/run/netns/$NS_DEV" "$PY" "$HERE/echo.py" 0.0.0.0 8 \
		</dev/null >/dev/null 2>&1 &
	WORLD_PIDS="$WORLD_PIDS $!"
	setsid nsenter --net="/run/netns/$NS_INET" dnsmasq --keep-in-foreground \
		--conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
		--listen-address=203.0.113.53 --address=/shop.test/203.0.113.10 \
		--pid-file= --user=root --group=root </dev/null >/dev/null 2>&1 &
	WORLD_PIDS="$WORLD_PIDS $!"
	# a resolver on the device's own loopback (as systemd-resolved's
	# 127.0.0.53): local.test -> 203.0.113.10
	setsid nsenter --net="/run/netns/$NS_DEV" dnsmasq --keep-in-foreground \
		--conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
		--listen-address=127.0.0.53 --address=/local.test/203.0.113.10 \
		--pid-file= --user=root --group=root </dev/null >/dev/null 2>&1 &
	WORLD_PIDS="$WORLD_PIDS $!"
	# up when both answer
	for _ in $(seq 100); do
		in_ns "$NS_INET" "$PY" "$HERE/client.py" 203.0.113.10 7 >/dev/null 2>&1 &&
			in_ns "$NS_DEV" "$PY" "$HERE/client.py" 198.51.100.2 8 >/dev/null 2>&1 &&
			return 0
		sleep 0.1
	done
	return 1
}

# start_daemon_in NS: start_daemon, with the daemon in namespace NS
start_daemon_in() { DAEMON_NETNS=$1 start_daemon; }

# add_personas: two more device-bound personas beside personal/secure:
# other (nat, slot 2) and quiet (none, slot 3), in a uid range above the
# slots init picks from (TF_UID_SLOT_*) derived from this state dir's
# own, so that two runs do not overlap; their images made.
add_personas() {
	local pb base
	pb=$(awk '/^\[persona personal\]/ { p = 1 } p && /^uid_base/ { print $3; exit }' "$S/device.conf")
	base=$((2147483648 + (pb - 1048576) / 2))
	printf '\n[persona other]\nuid_base = %s\nstorage_size = 24M\nnetwork = nat\n' \
		"$base" >>"$S/device.conf"
	printf '\n[persona quiet]\nuid_base = %s\nstorage_size = 24M\nnetwork = none\n' \
		"$((base + 65536))" >>"$S/device.conf"
	tf init --images >/dev/null
}

# dev_up: only the daemon's namespace (lo), for tests that need no uplink
dev_up() {
	WORLD=1
	ip netns add "$NS_DEV" || return 1
	ip -n "$NS_DEV" link set lo up
}

# jget PERSONA KEY: a field of status --json ("" if absent)
jget() {
	tf status --json | python3 -c 'import json, sys
p = [p for p in json.load(sys.stdin)["personas"] if p["name"] == sys.argv[1]][0]
v = p.get(sys.argv[2], "")
print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
}
