#!/bin/bash
# SPDX-License-Identifier: ISC
# The daemon owns each persona's network namespace (issue 12): the
# persona's init, launcher and apps are in it, it is not the daemon's,
# the persona's own root (its user namespace's uid 0, with every
# capability there) cannot change links, routes or the firewall (EPERM),
# and the namespace is the same one across persona restart and stop /
# start. TAP.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

new_state tfo
init_state 64M || { echo "Bail out! init failed"; exit 1; }
dev_up || { echo "Bail out! no namespace"; exit 1; }
start_daemon_in "$NS_DEV" || { echo "Bail out! daemon did not start"; exit 1; }

init=$(jget personal init_pid)
ns_init=$(readlink "/proc/$init/ns/net")
ns_daemon=$(readlink "/proc/$DPID/ns/net")
ns_app=$(tf run personal -- readlink /proc/self/ns/net 2>&1)
check "the init has a namespace of its own ($ns_init)" [ -n "$ns_init" -a "$ns_init" != "$ns_daemon" ]
check "an app is in the init's namespace" [ "$ns_app" = "$ns_init" ]
out=$(tf run personal -- ip -br link show lo 2>&1)
check "lo is up (the daemon brought it up)" grep -q "UP" <<<"$out"

# the persona's root: uid 0 of its user namespace, as its init is
# (nsenter gives every capability of that user namespace)
as_root() { nsenter --target "$init" --user --net --mount -- "$@" 2>&1; }
out=$(as_root id -u)
check "nsenter as the persona's root works (uid 0 in it)" [ "$out" = 0 ]
out=$(nsenter --target "$init" --user -- awk '/^CapEff/ { print $2 }' /proc/self/status 2>&1)
all=$(printf '%016x' $(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1)))
check "... with every capability of its user namespace ($out)" [ "$out" = "$all" ]
out=$(as_root ip link set lo down)
check "persona root: ip link set lo down: EPERM" grep -q "Operation not permitted" <<<"$out"
out=$(as_root ip route add 192.0.2.0/24 dev lo)
check "persona root: ip route add: EPERM" grep -q "Operation not permitted" <<<"$out"
out=$(as_root ip link add tfdummy0 type dummy)
check "persona root: ip link add: EPERM" grep -q "Operation not permitted" <<<"$out"
out=$(as_root nft list ruleset)
check "persona root: nft list ruleset: EPERM" grep -q "Operation not permitted" <<<"$out"
out=$(as_root sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward')
check "persona root: a net sysctl: refused" [ -n "$out" ]
out=$(tf run personal -- ip -br link show lo 2>&1)
check "lo is still up" grep -q "UP" <<<"$out"
out=$(tf run personal -- ip -br link 2>&1)
check "personal (nat) has lo and eth0" bash -c "grep -q '^lo ' <<<'$out' && grep -q '^eth0' <<<'$out'"
# an app (uid 1000, no capabilities) cannot either
out=$(tf run personal -- ip link set lo down 2>&1)
check "an app: ip link set lo down: EPERM" grep -q "Operation not permitted" <<<"$out"

# restart: a new init, the same namespace
out=$(tf persona restart personal 2>&1)
check "persona restart personal" [ $? = 0 ]
init2=$(jget personal init_pid)
ns2=$(readlink "/proc/$init2/ns/net")
ns_app2=$(tf run personal -- readlink /proc/self/ns/net 2>&1)
check "a new init after restart ($init -> $init2)" [ -n "$init2" -a "$init2" != "$init" ]
check "the same namespace after restart ($ns2)" [ "$ns2" = "$ns_init" -a "$ns_app2" = "$ns_init" ]
out=$(tf run personal -- ip -4 -br addr show dev eth0 2>&1)
check "eth0 keeps its address across the restart" grep -q "10.213.0.2/30" <<<"$out"
tf persona stop personal >/dev/null 2>&1 && tf persona start personal >/dev/null 2>&1
check "persona stop, start" [ $? = 0 ]
ns3=$(tf run personal -- readlink /proc/self/ns/net 2>&1)
check "the same namespace after stop and start" [ "$ns3" = "$ns_init" ]
# the two personas' namespaces differ (secure's exists while it never ran)
out=$(in_ns "$NS_DEV" ip -br link 2>&1)
check "dev: tfv0 for personal, none for secure (tunnel)" bash -c "grep -q '^tfv0' <<<'$out' && ! grep -q '^tfv1' <<<'$out'"
finish
