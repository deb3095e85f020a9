#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 12: both suites against twofold-gateway, and no downgrade. The
# intl and the gm tunnel each carry secure's traffic when the device is
# registered with its suite; a gm device against an intl-only
# registration is refused, and an intl device against a gm-only gateway;
# a message of the other suite sent at the device's port is counted as
# rejected. A refused device never sends outside the tunnel.
here=$(cd "$(dirname "$0")" && pwd)
WORLD_SUITE=intl
. "$here/lib.sh"

world_up_or_bail
DEV_INTL=$DEV_PUB
wait_state up 300 || world_diag
ok $([ "$(tstate)" = up ]; echo $?) "intl device, intl registration: tunnel up"
expect_ok "intl: secure's TCP echo of the org service" secure tcp 10.77.100.10 7
r=$(tf tunnel key secure 2>&1)
ok $([ "${r%% *}" = intl ] && [ "$(echo "${r##* }" | base64 -d 2>/dev/null | wc -c)" = 32 ]; echo $?) \
	"twofold tunnel key: 'intl <base64 of 32 bytes>'" "$r"

# a gm message at the intl device's port, from the gateway's address
rej0=$(jget 'P["secure"]["tunnel"]["rejected"]')
port=$(jget 'P["secure"]["tunnel"]["local_port"]')
for m in "11000000$(rhex 210)" \
	"12000000$(rhex 121)"; do
	inet "$PY" "$NT" forge 192.0.2.2 51820 198.51.100.2 "${port:-$DEV_PORT}" "$m" >/dev/null
done
sleep 0.5
rej1=$(jget 'P["secure"]["tunnel"]["rejected"]')
ok $([ "${rej1:-0}" -ge $((${rej0:-0} + 2)) ]; echo $?) "intl device: two gm-suite messages counted as rejected ($rej0 -> $rej1)"
r=$(tf audit show 2>&1 | grep 'net\.refused')
ok $(grep -q 'handshake of the gm suite on an intl tunnel: refused' <<<"$r"; echo $?) \
	"intl device: audit net.refused names it ('handshake of the gm suite on an intl tunnel: refused')" "$r"
r=$(jget 'P["secure"]["tunnel"]["error"]')
ok $(grep -q 'handshake of the gm suite on an intl tunnel: refused' <<<"$r"; echo $?) \
	"intl device: net status reports it too (tunnel.error)" "tunnel.error: $r; $(jget 'P["secure"]["tunnel"]')"
ok $([ "$(tstate)" = up ]; echo $?) "intl device: the tunnel stays up after them"

# restart the device with the secure tunnel in SUITE and PEERKEY
redevice() {
	stop_daemon
	pconf secure tunnel_suite "$1" && pconf secure tunnel_peer_key "$2" &&
		start_daemon && unlock_secure
}

# ---- gm device, intl-only registration
gwl=$(wc -l <"$W/gw.log")
redevice gm "$GW_GM_PUB" || bail "daemon restart with tunnel_suite = gm failed"
DEV_GM=$(dev_key)
ok $([ "$(echo "$DEV_GM" | base64 -d 2>/dev/null | wc -c)" = 65 ]; echo $?) \
	"twofold tunnel key (gm): an SM2 point, 65 bytes" "$DEV_GM"
nt0=$(counter not_tunnel)
wait_state up 80
st=$(tstate)
ok $([ "$st" != up ]; echo $?) "gm device, intl-only registration: never up (state $st)" "$(jget 'P["secure"]["tunnel"]')"
expect_refused "gm device, intl-only registration: secure's connect fails with an errno" secure tcp 10.77.100.10 7
r=$(tail -n +$((gwl + 1)) "$W/gw.log")
ok $(grep -Eqi 'refus|unknown|not registered' <<<"$r"; echo $?) "gateway log: the gm handshake is refused" "$r"
ok $([ "$(counter secure_src)" = 0 ] && [ "$(counter not_tunnel)" = "$nt0" ]; echo $?) \
	"refused: nothing but tunnel UDP left on up0"

# ---- gm registration: up
register gm "$DEV_GM"
kill -HUP "$GWPID"
wait_state up 300 || world_diag
ok $([ "$(tstate)" = up ]; echo $?) "gm device, gm registration (SIGHUP): tunnel up"
expect_ok "gm: secure's TCP echo of the org service" secure tcp 10.77.100.10 7
expect_ok "gm: secure's UDP echo of the org service" secure udp 10.77.100.10 7
r=$(prun secure resolve org.test)
ok $([ "$(rword "$r")" = "ok 10.77.100.10" ]; echo $?) "gm: org.test resolves through the tunnel" "$r"
ok $([ "$(jget 'P["secure"]["tunnel"]["suite"]')" = gm ]; echo $?) "net status: suite gm"

# ---- removed from the device list: the session goes at once
register intl "$DEV_INTL"
kill -HUP "$GWPID"
sleep 1
r=$(NT_TIMEOUT=3 prun secure tcp 10.77.100.10 7)
ok $(is_ok "$r"; [ $? -ne 0 ]; echo $?) "gm device removed from the list (SIGHUP): its session is gone" "$r"

# ---- intl device against a gm-only gateway
gw_stop
WORLD_GW_SUITES=gm
gw_conf
register gm "$DEV_GM"
gw_start || nok "gm-only gateway started"
gwl=$(wc -l <"$W/gw.log")
redevice intl "$GW_INTL_PUB" || bail "daemon restart with tunnel_suite = intl failed"
nt0=$(counter not_tunnel)
wait_state up 80
st=$(tstate)
ok $([ "$st" != up ]; echo $?) "intl device, gm-only gateway: never up (state $st)" "$(jget 'P["secure"]["tunnel"]')"
expect_refused "intl device, gm-only gateway: secure's connect fails with an errno" secure tcp 10.77.100.10 7
r=$(tail -n +$((gwl + 1)) "$W/gw.log")
ok $(grep -Eqi 'intl suite.*refused|refus' <<<"$r"; echo $?) \
	"gateway log: 'handshake of the intl suite on a gm ...: refused'" "$r"
ok $([ "$(counter secure_src)" = 0 ] && [ "$(counter not_tunnel)" = "$nt0" ]; echo $?) \
	"refused: nothing but tunnel UDP left on up0"

world_finish
