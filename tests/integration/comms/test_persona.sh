#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 15 item 6: twofold-comms inside the secure persona. The net test
# world (../net/lib.sh: secure in tunnel mode behind twofold-gateway),
# twofold-relay on the organisation's side (org namespace, 10.77.100.10),
# a second device "bob" there too (host-side, as commslib.sh does).
# The daemon starts secure's service once provisioned (comms = yes):
#   - messages both ways, secure's reaching the relay from its tunnel
#     address 10.77.0.2 (an nft counter in org) and none from it on the
#     device's uplink;
#   - `twofold lock secure`: the persona is frozen (its app too) but the
#     service still receives (its inbox, read through its control socket)
#     and answers; unlock: it still works;
#   - `twofold lock --evict secure`: the service is gone and its files
#     are ciphertext on the host (no plaintext name is left);
#   - personal cannot see the service's state or control socket.
# Reading secure's service from the host goes through
# /proc/INIT/root/home/.twofold-comms (root), as the daemon does.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../net/lib.sh"

TWOFOLD_CA=${TWOFOLD_CA:-$BUILD_ROOT/src/ca/twofold-ca}
TWOFOLD_RELAY=${TWOFOLD_RELAY:-$BUILD_ROOT/src/relay/twofold-relay}
TWOFOLD_COMMS=${TWOFOLD_COMMS:-$BUILD_ROOT/src/comms/twofold-comms}
PORT=51998
# The binary must be runnable inside the persona: the build tree is not
# visible there, the host's /usr is (its read-only base, which the exec
# gate allows). A copy of this run, removed at exit.
BIN_DIR=$(mktemp -d /usr/local/lib/tfcomms-test.XXXXXX)
cp "$TWOFOLD_COMMS" "$BIN_DIR/twofold-comms" && chmod 0755 "$BIN_DIR" "$BIN_DIR/twofold-comms"
export TWOFOLD_COMMS_BIN=$BIN_DIR/twofold-comms
EXTRA_CLEANUP="rm -rf '$BIN_DIR'"
# comms = yes in secure's section, with the rest of the issue's config
eval "orig_$(declare -f device_conf)"
device_conf() { orig_device_conf "$@" && pconf secure comms yes; }

world_tunnel_up
ok "secure's tunnel is up"

ca() { "$TWOFOLD_CA" "$@" >/dev/null; }
ca init --suite intl -o "$W/ca" &&
	ca keygen --suite intl -o "$W/relay.key" &&
	for n in sec bob; do
		ca keygen --suite intl -o "$W/$n.key" &&
			ca issue --ca "$W/ca" --officer "$n" --role officer \
				--pubkey "$W/$n.key.pub" --days 1 -o "$W/$n.cert" || exit 1
	done || bail "twofold-ca failed"

# what arrives at the relay from secure's tunnel address
org nft -f - <<EOF || bail "nft in org failed"
table inet tfcomms {
	counter from_secure {}
	chain input {
		type filter hook input priority 0;
		ip saddr 10.77.0.2 udp dport $PORT counter name from_secure
	}
}
EOF
from_secure() { org nft list counter inet tfcomms from_secure | awk '/packets/ {print $2}'; }

bg "$NS_ORG" relay.log "$TWOFOLD_RELAY" --listen 10.77.100.10:$PORT \
	--key "$W/relay.key" --ca "$W/ca/ca.pub" --store "$W/store.db" -v
RELAY=$LASTPID

# ---- provisioning
SD=$S/fs/secure/data/home/.twofold-comms
r=$(tf comms provision secure --key "$W/sec.key" --cert "$W/sec.cert" \
	--ca "$W/ca/ca.pub" --relay 10.77.100.10:$PORT --relay-pub "$W/relay.key.pub" 2>&1)
ok $? "comms provision secure" "$r"
st=$(stat -c '%a %u' "$SD/device.key" 2>&1)
ok $([ "${st%% *}" = 600 ]; echo $?) "the device key is 0600 in secure's storage" "$st"
cmp -s "$W/sec.key" "$SD/device.key"
ok $? "the device key is the one given"

# host-side view of secure's service (root through its init's root)
# bounded: a frozen service would leave the client waiting for its answer
sec() { timeout 5 "$TWOFOLD_COMMS" --state "/proc/$(init_pid secure)/root/home/.twofold-comms" "$@"; }
bob() { timeout 5 "$TWOFOLD_COMMS" --state "$W/bob" "$@"; }
wait_for 200 sh -c "'$TWOFOLD' --state '$S' comms status secure 2>/dev/null | grep -q 'relay connected'"
r=$(tf comms status secure 2>&1)
ok $(has "relay connected" "$r"; echo $?) "the daemon started secure's service; it reached the relay through the tunnel" "$r"
has "officer sec" "$r"
ok $? "comms status secure: officer sec" "$r"
r=$(tf status 2>&1)
ok $(has "comms running" "$r"; echo $?) "status shows comms running" "$(grep secure <<<"$r")"
r=$(persona_field secure comms)
ok $(has "'running': True" "$r"; echo $?) "status --json: comms running" "$r"

# the foreground, told by the daemon over the service's stdin pipe
# (--daemon-fd 0), never taken from the control socket
sec_wait() { # sec_wait TEXT: secure's status has TEXT (at most 10 s)
	for _ in $(seq 100); do
		sec status 2>/dev/null | grep -q "$1" && return 0
		sleep 0.1
	done
	return 1
}
sec_wait "foreground no"
ok $? "secure's service: foreground no while personal holds it" "$(sec status 2>&1)"
tf switch secure >/dev/null && sec_wait "foreground yes"
ok $? "switch secure: the daemon tells the service foreground yes" "$(sec status 2>&1)"
r=$(tf run secure -- /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("/home/.twofold-comms/control")
s.send(b"foreground no")
print(s.recv(512).decode().strip())' 2>&1)
has "error refused" "$r" && sec_wait "foreground yes"
ok $? "a secure app's foreground request on the control socket is refused" "$r"
tf switch personal >/dev/null && sec_wait "foreground no"
ok $? "switch personal: foreground no" "$(sec status 2>&1)"

mkdir -p "$W/bob"
bg "$NS_ORG" bob.log "$TWOFOLD_COMMS" --state "$W/bob" service \
	--relay 10.77.100.10:$PORT --relay-pub "$W/relay.key.pub" \
	--key "$W/bob.key" --cert "$W/bob.cert" --ca "$W/ca/ca.pub" -v
wait_for 100 sh -c "'$TWOFOLD_COMMS' --state '$W/bob' status 2>/dev/null | grep -q 'relay connected'"
ok $? "bob's service on the org side is connected"

# wait_msg WHO TEXT: WHO's inbox gets TEXT (at most 20 s in all: a frozen
# service makes each try last its client's timeout)
wait_msg() {
	local who=$1 text=$2 end=$((SECONDS + 20))
	: >"$W/$who.read"
	while [ $SECONDS -lt $end ]; do
		"$who" msg read >>"$W/$who.read" 2>/dev/null
		grep -q "$text" "$W/$who.read" && return 0
		sleep 0.1
	done
	return 1
}

n0=$(from_secure)
src0=$(counter secure_src)
bob msg send sec "hello-secure-1" >/dev/null
wait_msg sec hello-secure-1
ok $? "bob -> secure: delivered into the service in the persona" "$(cat "$W/sec.read")"
sec msg send bob "hello-bob-1" >/dev/null
wait_msg bob hello-bob-1
ok $? "secure -> bob: delivered" "$(cat "$W/bob.read")"
n1=$(from_secure)
ok $([ "${n1:-0}" -gt "${n0:-0}" ]; echo $?) "the relay got secure's packets from its tunnel address 10.77.0.2 ($n0 -> $n1)"
ok $([ "$(counter secure_src)" = "${src0:-0}" ]; echo $?) "none of them left on the device's uplink with secure's address"

# ---- screen lock: the persona freezes, the service does not
tf run secure -- sleep "999.$$" >/dev/null 2>&1 &
APP=$!
BG_PIDS="$BG_PIDS $APP"
sleep 0.5
SPID=$(pgrep -f "^$BIN_DIR/twofold-comms --state /home" | head -1)
r=$(tf lock secure 2>&1)
ok $? "lock secure" "$r"
ok $([ "$(persona_field secure state)" = frozen ]; echo $?) "secure's state is frozen" "$(persona_field secure state)"
# cgroup paths as the host's cgroupfs has them (this test may run in a
# cgroup namespace of its own: /proc/PID/cgroup is relative to it)
CGB=$(cg_dirs | head -1)
cgof() { awk -F: '$1=="0"{print $3}' "/proc/$1/cgroup" 2>/dev/null | sed 's|.*/secure/|secure/|'; }
cg=$CGB/$(cgof "$SPID")
ok $(has "/keep-comms" "$cg"; echo $?) "the service lives in keep-comms" "$cg"
sleeper=$(pgrep -f "^sleep 999.$$\$" | head -1)
scg=$CGB/$(cgof "$sleeper")
fz=$(grep frozen "$scg/cgroup.events" 2>/dev/null)
ok $([ "$fz" = "frozen 1" ]; echo $?) "the persona's app is frozen ($scg)" "$fz"
kfz=$(grep frozen "$cg/cgroup.events" 2>/dev/null)
ok $([ "$kfz" = "frozen 0" ]; echo $?) "keep-comms is not" "$kfz"
bob msg send sec "while-locked-2" >/dev/null
wait_msg sec while-locked-2
ok $? "locked: the service still receives" "$(cat "$W/sec.read")"
r=$(tf comms status secure 2>&1)
ok $(has "relay connected" "$r"; echo $?) "locked: the service still answers its status" "$r"
sec msg send bob "from-locked-2" >/dev/null
wait_msg bob from-locked-2
ok $? "locked: the service still sends" "$(cat "$W/bob.read")"

unlock_secure
ok $([ "$(persona_field secure state)" = running ]; echo $?) "unlock: running"
fz=$(grep frozen "$scg/cgroup.events" 2>/dev/null)
ok $([ "$fz" = "frozen 0" ]; echo $?) "unlock: the app is thawed" "$fz"
bob msg send sec "after-unlock-3" >/dev/null
wait_msg sec after-unlock-3
ok $? "unlocked: the service receives" "$(cat "$W/sec.read")"

# ---- a service that dies is started again (backoff 1 s first)
kill -KILL "$SPID" 2>/dev/null
wait_for 100 sh -c "pgrep -f '^$BIN_DIR/twofold-comms --state /home' | grep -vx '$SPID' >/dev/null"
SPID2=$(pgrep -f "^$BIN_DIR/twofold-comms --state /home" | head -1)
ok $([ -n "$SPID2" ] && [ "$SPID2" != "$SPID" ]; echo $?) "killed, the service is started again (pid $SPID -> $SPID2)"
SPID=$SPID2
wait_for 200 sh -c "'$TWOFOLD' --state '$S' comms status secure 2>/dev/null | grep -q 'relay connected'"
bob msg send sec "after-restart-4" >/dev/null
wait_msg sec after-restart-4
ok $? "the restarted service receives" "$(cat "$W/sec.read")"

# ---- provisioning again restarts it on the new files; no zombie stays
r=$(tf comms provision secure --key "$W/sec.key" --cert "$W/sec.cert" \
	--ca "$W/ca/ca.pub" --relay 10.77.100.10:$PORT --relay-pub "$W/relay.key.pub" 2>&1)
ok $? "comms provision secure again, while it runs" "$r"
wait_for 100 sh -c "pgrep -f '^$BIN_DIR/twofold-comms --state /home' | grep -vx '$SPID' >/dev/null"
SPID2=$(pgrep -f "^$BIN_DIR/twofold-comms --state /home" | head -1)
ok $([ -n "$SPID2" ] && [ "$SPID2" != "$SPID" ]; echo $?) "the service was restarted for its new files (pid $SPID -> $SPID2)"
z=$(ps -o stat= -p "$SPID" 2>/dev/null)
ok $([ -z "$z" ]; echo $?) "the old one is reaped, not a zombie" "$z"
SPID=$SPID2
wait_for 200 sh -c "'$TWOFOLD' --state '$S' comms status secure 2>/dev/null | grep -q 'relay connected'"

# ---- no app can move itself next to the service (or out of the lock)
r=$(tf run secure -- sh -c 'echo $$ >/sys/fs/cgroup/keep-comms/cgroup.procs && echo moved' 2>&1)
ok $(not_has moved "$r"; echo $?) "a secure app cannot put itself in keep-comms" "$r"
pids=$(cat "$CGB/secure/keep-comms/cgroup.procs" 2>/dev/null | tr '\n' ' ')
ok $([ "$pids" = "$SPID " ]; echo $?) "keep-comms holds the service alone" "$pids"

# ---- personal sees nothing of it
r=$(tf run personal -- ls -a /home 2>&1)
ok $(not_has ".twofold-comms" "$r"; echo $?) "personal: no .twofold-comms in its /home" "$r"
r=$(tf run personal -- sh -c "ls /proc/*/root/home/.twofold-comms/control" 2>&1)
ok $(grep -q '^/proc/.*/control$' <<<"$r"; [ $? -ne 0 ]; echo $?) "personal: no way to secure's control socket" "$r"

# ---- lock-down: the service dies, its keys are ciphertext
kill "$APP" 2>/dev/null
r=$(tf lock --evict secure 2>&1)
ok $? "lock --evict secure" "$r"
ok $(kill -0 "$SPID" 2>/dev/null; [ $? -ne 0 ]; echo $?) "the service (pid $SPID) is gone"
r=$(ls -a "$S/fs/secure/data/home" 2>&1)
ok $(not_has ".twofold-comms" "$r"; echo $?) "its directory's name is ciphertext on the host" "$r"
leak=$(grep -rl "hello-secure-1" "$S/fs/secure/data" 2>/dev/null
	find "$S/fs/secure/data" -type f -size -4k -exec cmp -s "$W/sec.key" {} \; -print 2>/dev/null)
ok $([ -z "$leak" ]; echo $?) "no plaintext message or device key in secure's storage" "$leak"
r=$(tf comms status secure 2>&1)
ok $(has "not running" "$r"; echo $?) "comms status: not running" "$r"
r=$(tf comms provision secure --key "$W/sec.key" --cert "$W/sec.cert" \
	--ca "$W/ca/ca.pub" --relay 10.77.100.10:$PORT --relay-pub "$W/relay.key.pub" 2>&1)
ok $([ $? -ne 0 ] && has "unlock" "$r"; echo $?) "provision is refused while locked" "$r"


# ---- unlock after the lock-down: the keys come back with the storage
unlock_secure
wait_for 200 sh -c "'$TWOFOLD' --state '$S' comms status secure 2>/dev/null | grep -q 'relay connected'"
r=$(tf comms status secure 2>&1)
ok $(has "relay connected" "$r"; echo $?) "unlocked again: the daemon started the service with its kept keys" "$r"
bob msg send sec "after-evict-5" >/dev/null
wait_msg sec after-evict-5
ok $? "it receives again" "$(cat "$W/sec.read")"

bg_stop "$RELAY"
world_finish
