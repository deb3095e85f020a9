#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 12: the device's intl tunnel against Debian's wireguard-go as the
# organisation's gateway, in both directions: the device initiates and
# secure reaches the org service; the org reaches a service in secure;
# then a fresh wireguard-go (no session) initiates the handshake itself to
# the device's listen port and the device answers as the responder.
here=$(cd "$(dirname "$0")" && pwd)
WORLD_GW=wg
. "$here/lib.sh"
command -v wireguard-go >/dev/null && command -v wg >/dev/null || {
	echo "1..0 # SKIP wireguard-go or wg missing (tools/deps.sh)"
	exit 0
}

world_up_or_bail
wait_state up 300 || {
	world_diag
	diag "wg show: $(org wg show "$WGIF" 2>&1)"
	bail "the tunnel to wireguard-go did not come up (state $(tstate))"
}
ok "device -> wireguard-go: handshake completed (net status up)"
hs=$(org wg show "$WGIF" latest-handshakes | awk '{print $2}')
ok $([ "${hs:-0}" -gt 0 ]; echo $?) "wireguard-go saw the handshake (latest-handshakes $hs)"

expect_ok "device -> wireguard-go: secure's TCP echo of 10.77.100.10:7" secure tcp 10.77.100.10 7
expect_ok "device -> wireguard-go: secure's UDP echo of 10.77.100.10:7" secure udp 10.77.100.10 7
r=$(prun secure resolve org.test)
ok $([ "$(rword "$r")" = "ok 10.77.100.10" ]; echo $?) "device -> wireguard-go: org.test resolves through it" "$r"

# a service in secure (port 7007: the persona has no privileged ports)
tf run secure -- /usr/bin/python3 -c "$NT_SRC" serve 10.77.0.2 7007 >>"$W/echo-secure.log" 2>&1 &
SECPID=$!
BG_PIDS="$BG_PIDS $SECPID"
wait_for 50 grep -q serving "$W/echo-secure.log"
r=$(org "$PY" "$NT" tcp 10.77.0.2 7007)
ok $(is_ok "$r"; echo $?) "wireguard-go -> device: the org reaches secure's TCP service at 10.77.0.2:7007" "$r"
r=$(org "$PY" "$NT" udp 10.77.0.2 7007)
ok $(is_ok "$r"; echo $?) "wireguard-go -> device: the org reaches secure's UDP service" "$r"
rx=$(org wg show "$WGIF" transfer | awk '{print $2}')
ok $([ "${rx:-0}" -gt 0 ]; echo $?) "wireguard-go counts bytes from the device ($rx)"

# wireguard-go initiates: a new instance knows the device's endpoint, has
# no session, and the org speaks first
hs0=$(jget 'P["secure"]["tunnel"]["handshakes"]')
wg_stop
wg_start 198.51.100.2:$DEV_PORT || nok "wireguard-go restarted with the device's endpoint"
r=
for _ in $(seq 20); do
	r=$(NT_TIMEOUT=2 org "$PY" "$NT" tcp 10.77.0.2 7007)
	is_ok "$r" && break
	sleep 0.5
done
ok $(is_ok "$r"; echo $?) "wireguard-go initiates: the org reaches secure through a handshake it started" "$r; $(org wg show "$WGIF" 2>&1 | tr '\n' ' ')"
hs=$(org wg show "$WGIF" latest-handshakes | awk '{print $2}')
ok $([ "${hs:-0}" -gt 0 ]; echo $?) "the new wireguard-go completed a handshake with the device ($hs)"
# net status may lag the tunnel process by a status round: poll a little
for _ in $(seq 30); do
	hs1=$(jget 'P["secure"]["tunnel"]["handshakes"]')
	[ "${hs1:-0}" -gt "${hs0:-0}" ] && break
	sleep 0.1
done
ok $([ "${hs1:-0}" -gt "${hs0:-0}" ]; echo $?) "net status counts the handshake the device answered ($hs0 -> $hs1)" "$(jget 'P["secure"]["tunnel"]')"
expect_ok "after wireguard-go's handshake: secure's TCP echo of the org service" secure tcp 10.77.100.10 7
ok $([ "$(counter secure_src)" = 0 ]; echo $?) "up0: zero packets from 10.77.0.2 the whole time"
ok $([ "$(counter to_inner)" = 0 ]; echo $?) "up0: zero packets for 10.77.0.0/16 outside the tunnel"

bg_stop "$SECPID"
world_finish
