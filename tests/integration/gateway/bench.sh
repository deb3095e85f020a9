#!/bin/bash
# SPDX-License-Identifier: ISC
# Not a test (no assertions, not registered): a quick A/B of the tunnel's
# throughput on one path, for the data path's engineers. twofold intl and
# gm (tunharness <-> twofold-gateway) and wireguard-go <-> wireguard-go,
# iperf3 between the two namespaces of lib.sh over one veth, both
# directions. bench/net/run is the benchmark of record (bench/RESULTS.md).
#   sudo tests/integration/gateway/bench.sh [BUILD_DIR]   (SECS=5)
set -u
B=$(realpath "${1:-build}")
export TUNHARNESS=$B/tests/integration/gateway/tunharness
export TWOFOLD_GATEWAY=$B/src/gateway/twofold-gateway
diag() { printf '# %s\n' "$*"; }
BG_PIDS=
SECS=${SECS:-5}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'kill $BG_PIDS 2>/dev/null; gw_world_down' EXIT
gw_world_up || exit 1
for k in "intl gw_intl" "gm gw_gm" "intl dev_intl" "gm dev_gm"; do
	# shellcheck disable=SC2086
	gen_key $k || exit 1
done
ipf() { # [-R]: Mbit/s received
	nsenter --net=/run/netns/$NS_O iperf3 -s -B 10.77.100.10 -1 >/dev/null 2>&1 &
	local srv=$!
	sleep 0.3
	in_d iperf3 -c 10.77.100.10 -t "$SECS" ${1:+"$1"} -J 2>/dev/null | python3 -c '
import json, sys
print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))'
	wait "$srv"
}
printf '%-30s %10s %10s   (Mbit/s, %s s each, %s)\n' path "dev->org" "org->dev" "$SECS" "$(uptime | sed 's/.*load/load/')"
echo "phone intl $(cat "$W/dev_intl.pub") 10.77.0.2/32" >"$W/devices"
write_gw_conf
start_gw || exit 1
start_dev intl "$(cat "$W/gw_intl.pub")"
wait_for "$W/dev.log" "status up" 50
printf '%-30s %10s %10s\n' "twofold intl" "$(ipf)" "$(ipf -R)"
stop_dev
echo "phone gm $(cat "$W/dev_gm.pub") 10.77.0.2/32" >"$W/devices"
kill -HUP "$GW_PID"
sleep 0.3
start_dev gm "$(cat "$W/gw_gm.pub")"
wait_for "$W/dev.log" "status up" 50
printf '%-30s %10s %10s\n' "twofold gm" "$(ipf)" "$(ipf -R)"
stop_dev
stop_gw
wg_up "$NS_O" "wgo$GW_SUF" 10.77.0.1/24 "$W/gw_intl.key" 51820 \
	"$(cat "$W/dev_intl.pub")" 10.77.0.2/32
P1=$WG_PID
wg_up "$NS_D" "wgd$GW_SUF" 10.77.0.2/32 "$W/dev_intl.key" 40001 \
	"$(cat "$W/gw_intl.pub")" 10.77.0.0/16 192.0.2.2:51820
in_d ip route add 10.77.0.0/16 dev "wgd$GW_SUF"
sleep 1
printf '%-30s %10s %10s\n' "wireguard-go <-> wireguard-go" "$(ipf)" "$(ipf -R)"
kill "$P1" "$WG_PID"
