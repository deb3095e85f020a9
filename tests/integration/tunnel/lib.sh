# SPDX-License-Identifier: ISC
# Shared by the tunnel integration tests (sourced, not run): ../tap.sh
# (TAP, the daemon helpers, the EXIT trap) plus a test-made network world.
#
# The daemon runs in a network namespace made here (NS_DEV), entered with
# `nsenter --net=/run/netns/NAME` (never `ip netns exec`, which remounts
# /sys), whose uplink `up0` (198.51.100.2/24) is a veth to NS_INET
# (198.51.100.1/24). Nothing of the host's network is touched; both
# namespaces go on exit, also on failure (EXTRA_CLEANUP).

. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

CLEAN_RESTART=1
new_state tft
SUF=$$
NS_DEV=tftdev$SUF
NS_INET=tftinet$SUF
REAL_TWOFOLDD=$TWOFOLDD
PIN=314159

net_cleanup() {
	ip netns del "$NS_DEV" 2>/dev/null
	ip netns del "$NS_INET" 2>/dev/null
	rm -f "$S.nsd"
}
EXTRA_CLEANUP=net_cleanup

# world_up: the two namespaces and their veth
world_up() {
	ip netns add "$NS_DEV" && ip netns add "$NS_INET" || return 1
	ip -n "$NS_DEV" link set lo up
	ip -n "$NS_INET" link set lo up
	ip -n "$NS_DEV" link add up0 type veth peer name down0 netns "$NS_INET" || return 1
	ip -n "$NS_DEV" addr add 198.51.100.2/24 dev up0
	ip -n "$NS_INET" addr add 198.51.100.1/24 dev down0
	ip -n "$NS_DEV" link set up0 up
	ip -n "$NS_INET" link set down0 up
	ip -n "$NS_DEV" route add default via 198.51.100.1
	# the daemon starts through this: exec keeps its pid (DPID)
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s "%s" "$@"\n' \
		"$NS_DEV" "$REAL_TWOFOLDD" >"$S.nsd"
	chmod 755 "$S.nsd"
	TWOFOLDD=$S.nsd
}

# pconf PERSONA KEY VALUE: set KEY in [persona PERSONA] (replacing a line
# or a commented-out default of it, else adding it at the section's end)
pconf() {
	python3 - "$S/device.conf" "$1" "$2" "$3" <<'PY'
import re, sys
path, persona, key, val = sys.argv[1:]
lines = open(path).read().split('\n')
out, sect, done = [], None, False
def flush():
    global done
    if sect == persona and not done:
        while out and out[-1] == '':
            out.pop()
        out.append(f'{key} = {val}')
        out.append('')
        done = True
for l in lines:
    m = re.match(r'^\[(\w+)(?: (\S+))?\]', l)
    if m:
        flush()
        sect = m.group(2) if m.group(1) == 'persona' else None
    elif sect == persona and re.match(rf'^#?\s*{key}\s*=', l):
        if not done:
            out.append(f'{key} = {val}')
            done = True
        continue
    out.append(l)
flush()
open(path, 'w').write('\n'.join(out))
PY
}

# jq-like: njson EXPR: evaluate a Python expression over `net status
# --json` (as j), print the result
njson() {
	tf net status --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}
# tunnel field of persona $1: tjson secure state
tjson() { njson "[p for p in j['personas'] if p['name']=='$1'][0]['tunnel']['$2']"; }
pjson() { njson "[p for p in j['personas'] if p['name']=='$1'][0]['$2']"; }

# wait_for CMD...: until CMD succeeds (20 s at most; polls, never a time
# assertion)
wait_for() {
	for _ in $(seq 400); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
