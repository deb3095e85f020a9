#!/bin/bash
# SPDX-License-Identifier: ISC
# The daemon's side of `network = tunnel` (issue 12; docs/network.md),
# with the daemon in a namespace made here and no gateway answering at
# the endpoint:
#  - secure (tunnel): `net status --json` shows lockdown, only lo and
#    tun0, its address, routes and DNS, and a tunnel that is down or
#    handshaking with a reason; a connect to anything outside the tunnel
#    fails at once with "Network is unreachable", never a timeout;
#  - `tunnel key` is stable across daemon restarts and differs between
#    personas and suites;
#  - killing the tunnel process (its pid from net status) makes the
#    daemon restart it: tun0 is back, the persona was not restarted, the
#    audit log has net.tunnel.down and net.tunnel.restart;
#  - personal (tunnel, no endpoint): not-configured with the hint, runs
#    with lo only;
#  - a gm peer key that is not a curve point: one-line error, the
#    persona still runs;
#  - the tunnel process ends when the daemon is killed.
# TUNNEL_STUB=1 runs the test-only tunnel body (TWOFOLD_FAULT=tunnel-stub)
# instead of the engine: the supervision alone (no ICMP answers inside
# the tunnel's routes then, so those destinations are left out).
. "$(dirname "$0")/lib.sh"

if [ "${TUNNEL_STUB:-0}" = 1 ]; then
	export TWOFOLD_FAULT=tunnel-stub
fi

world_up || bail "cannot make the test's network namespaces"
init_state || bail "init failed"
PEER=$(head -c 32 /dev/urandom | base64)
pconf secure network tunnel
pconf secure tunnel_endpoint 192.0.2.2:51820
pconf secure tunnel_peer_key "$PEER"
pconf secure tunnel_address 10.77.0.2/32
pconf secure tunnel_routes 10.77.0.0/16
pconf secure tunnel_dns 10.77.0.1
pconf personal network tunnel
start_daemon || bail "daemon did not start: $(tail -3 "$DLOG")"

# ---- secure: lockdown, lo + tun0, address, routes, DNS, state ----
check "secure is in tunnel mode" test "$(pjson secure mode)" = tunnel
check "secure: lockdown in force" test "$(pjson secure lockdown)" = True
links=$(njson "' '.join(sorted(l['name'] for p in j['personas'] if p['name']=='secure' for l in p['links']))")
check "secure has only lo and tun0 ($links)" test "$links" = "lo tun0"
check "secure has its tunnel address" has "10.77.0.2/32" "$(pjson secure addresses)"
check "secure's route goes through tun0" has "10.77.0.0/16 dev tun0" "$(pjson secure routes)"
check "secure's DNS is tunnel_dns" test "$(pjson secure dns)" = "['10.77.0.1']"
st=$(tjson secure state)
check "the tunnel is down or handshaking ($st)" \
	bash -c "[ '$st' = down ] || [ '$st' = handshaking ]"
check "with a reason ($(tjson secure error))" test "$(tjson secure error)" != None
check "the tunnel is configured" test "$(tjson secure configured)" = True
check "the text form has the block" has "secure: tunnel" "$(tf net status)"

# ---- personal: not configured, lo only ----
check "personal's tunnel is not-configured" \
	test "$(tjson personal state)" = not-configured
check "with the hint" has "set tunnel_endpoint and tunnel_peer_key" \
	"$(tjson personal error)"
tf persona start personal >/dev/null 2>&1
check "personal runs" test "$(pjson personal running)" = True
pl=$(njson "' '.join(l['name'] for p in j['personas'] if p['name']=='personal' for l in p['links'])")
check "personal has lo only ($pl)" test "$pl" = lo
out=$(tf run personal -- cat /proc/net/dev 2>&1)
check "inside personal too: no interface but lo" \
	bash -c "! grep -vE '^ *(lo:|Inter|face)' <<<'$out' | grep -q :"

# ---- secure's connects fail at once, never time out ----
out=$(printf '%s\n%s\n' "$PIN" "$PIN" | tf enroll secure --pin-stdin 2>&1)
check "enroll secure" has "credential set" "$out"
out=$(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure" has "unlocked" "$out"
DSTS="198.51.100.1/7 203.0.113.10/7 192.0.2.2/51820"
# inside tunnel_routes: the tunnel process answers ICMP unreachable
[ "${TUNNEL_STUB:-0}" = 1 ] || DSTS="$DSTS 10.77.100.10/7 10.77.0.1/53"
for dst in $DSTS; do
	out=$(timeout 20 "$TWOFOLD" --state "$S" run secure -- bash -c \
		"exec 3<>/dev/tcp/${dst%/*}/${dst#*/}" 2>&1)
	rc=$?
	check "secure -> $dst: refused at once (rc $rc)" \
		bash -c "[ $rc != 124 ] && [ $rc != 0 ]"
	check "secure -> $dst: Network is unreachable" \
		has "Network is unreachable" "$out"
done

# ---- tunnel key ----
k1=$(tf tunnel key secure)
check "tunnel key: intl and 32 bytes of base64 ($k1)" \
	bash -c "grep -qE '^intl [A-Za-z0-9+/]{43}=$' <<<'$k1'"
kp=$(tf tunnel key personal)
check "another persona has another key" test "$kp" != "$k1"
check "without a persona: the first tunnel persona's" \
	test "$(tf tunnel key)" = "$kp"
check "--json" has "\"public_key\":\"${k1#intl }\"" \
	"$(tf tunnel key secure --json)"
out=$(tf tunnel key nosuch 2>&1)
check "an unknown persona is refused" has "unknown persona" "$out"
check "the key is in net status" test "$(tjson secure public_key)" = "${k1#intl }"

# ---- kill the tunnel process: restarted, tun0 back, persona kept ----
pid1=$(tjson secure pid)
ipid=$(tf status --json | python3 -c "import json,sys; print([p for p in json.load(sys.stdin)['personas'] if p['name']=='secure'][0]['init_pid'])")
check "the tunnel process runs ($pid1)" kill -0 "$pid1"
# its own uid (65533 - slot, Debian's reserved range), not root, not
# nobody's 65534 (which other host daemons share)
check "as the unprivileged tunnel uid" \
	wait_for bash -c "awk '/^Uid:/ { exit !(\$2 >= 65000 && \$2 <= 65533 && \$2 == \$3 && \$2 == \$4 && \$2 == \$5) }' /proc/$pid1/status"
kill -KILL "$pid1"
newpid() {
	local p
	p=$(tjson secure pid) && [ "$p" != None ] && [ "$p" != "$pid1" ] &&
		has tun0 "$(njson "[l['name'] for p in j['personas'] if p['name']=='secure' for l in p['links']]")"
}
check "the daemon restarts it and tun0 is back" wait_for newpid
check "restarts counted" test "$(tjson secure restarts)" -ge 1
check "the persona was not restarted" test "$(tf status --json | python3 -c "import json,sys; print([p for p in json.load(sys.stdin)['personas'] if p['name']=='secure'][0]['init_pid'])")" = "$ipid"
check "its route is back" has "10.77.0.0/16 dev tun0" "$(pjson secure routes)"
aud=$(tf audit show 2>&1)
check "audit: net.link of tun0" has "net.link" "$aud"
check "audit: net.tunnel.down" has "net.tunnel.down" "$aud"
check "audit: net.tunnel.restart" has "net.tunnel.restart" "$aud"
check "one kill, one restart (no spurious ones)" test "$(tjson secure restarts)" = 1

# ---- the key across a daemon restart; another suite ----
stop_daemon
start_daemon || bail "daemon did not restart"
check "the same key after a daemon restart" test "$(tf tunnel key secure)" = "$k1"
check "the tunnel runs while secure is locked" \
	test "$(tjson secure pid)" != None
stop_daemon
GMPUB=$(openssl genpkey -algorithm SM2 2>/dev/null |
	openssl pkey -pubout -outform DER 2>/dev/null | tail -c 65 | base64 -w0)
pconf secure tunnel_suite gm
pconf secure tunnel_peer_key "$GMPUB"
start_daemon || bail "daemon did not start with the gm suite: $(tail -3 "$DLOG")"
kg=$(tf tunnel key secure)
check "gm: a 65-byte SM2 point ($kg)" \
	bash -c "grep -qE '^gm [A-Za-z0-9+/]{87}=$' <<<'$kg' && [ \"\$(echo ${kg#gm } | base64 -d | head -c1 | od -An -tx1 | tr -d ' ')\" = 04 ]"
check "another suite has another key" test "${kg#gm }" != "${k1#intl }"
check "the gm tunnel runs" test "$(tjson secure pid)" != None
stop_daemon

# ---- a gm peer key that is no curve point ----
BAD=$( (printf '\004'; head -c 64 /dev/zero | tr '\0' '\001') | base64 -w0)
pconf secure tunnel_peer_key "$BAD"
start_daemon || bail "daemon refused a bad peer key: $(tail -3 "$DLOG")"
check "a bad peer key: a one-line error in net status" \
	has "tunnel_peer_key of secure" "$(tjson secure error)"
check "and in the log" grep -q "tunnel_peer_key of secure" "$DLOG"
check "no tunnel process runs for it" test "$(tjson secure pid)" = None
check "still locked down" test "$(pjson secure lockdown)" = True

# ---- the tunnel process does not outlive a killed daemon ----
stop_daemon
pconf secure tunnel_suite intl
pconf secure tunnel_peer_key "$PEER"
start_daemon || bail "daemon did not restart: $(tail -3 "$DLOG")"
tpid=$(tjson secure pid)
check "a tunnel process runs ($tpid)" kill -0 "$tpid"
kill9_daemon
check "it ends with the daemon (kill -9)" wait_for bash -c "! kill -0 $tpid"

finish
