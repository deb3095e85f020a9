#!/usr/bin/env bash
# Integration (issue 15): the periodic FETCH of twofold-comms. A stored
# message's new-message notice (the relay's MSG datagram to the online
# recipient) is lost: nftables drops exactly that one datagram. The
# message is in the store, and the recipient, who stays connected (no
# reconnect, whose FETCH would find it), must still get it: its periodic
# FETCH asks the store. The period is shortened for the test with
# TWOFOLD_COMMS_FETCH_MS (twofold-comms(1), ENVIRONMENT; 15 s on a
# device). First a control with the periodic FETCH off
# (TWOFOLD_COMMS_FETCH_MS=0): the message is still waiting after the
# window, so the notice really was lost and nothing else brings it;
# then with a 2 s period: it arrives within the window (3 periods, and
# a second), once, without a reconnect. The window is generous on
# purpose: the test tells "comes" from "never comes", not a latency.
# TAP. Cleans up its relay, services, nftables table and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
PORT=51989
. "$(dirname "$0")/commslib.sh"
EXTRA_CLEANUP='nft delete table inet tffetch 2>/dev/null; rm -rf "$W"'
PERIOD_MS=2000
WINDOW=$((3 * PERIOD_MS / 1000 + 1))

svc_port() { # svc_port NAME: the local UDP port of NAME's service
	ss -Huanp | awk -v p="pid=${SP[$1]}," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }'
}
# drop_one PORT: drop the next datagram of more than 100 bytes from the
# relay to that port, and only that one (the rate limit lets one packet
# match; the rule is removed once it has), on input: the relay's
# sendmmsg succeeds, as when a network loses it. Keepalive and PREKEYS
# answers are smaller; a MSG carries a ratchet header and a ciphertext.
drop_one() {
	nft delete table inet tffetch 2>/dev/null
	nft add table inet tffetch &&
		nft add chain inet tffetch in '{ type filter hook input priority 0; }' &&
		nft add rule inet tffetch in udp sport $PORT udp dport "$1" \
			meta length gt 100 limit rate 1/hour burst 1 packets counter drop
}
dropped() { nft list table inet tffetch 2>/dev/null | grep -o 'counter packets [0-9]*' | head -1 | cut -d' ' -f3; }
wait_dropped() { # at most 10 s, then the rule goes
	local i
	for i in $(seq 100); do
		[ "$(dropped)" = 1 ] && break
		sleep 0.1
	done
	[ "$(dropped)" = 1 ]
	i=$?
	nft delete table inet tffetch 2>/dev/null
	return $i
}
connects() { grep -c "connected to the relay" "$W/$1.log"; }

comms_world intl
relay_start
ok $? "relay starts" "$(cat "$W/relay.log")"
svc_start alice
wait_status alice "relay connected"
ok $? "alice connects" "$(cat "$W/alice.log")"

# phase OFF|ON: bob's service with the periodic FETCH off or every
# PERIOD_MS; one message alice -> bob whose notice is dropped
phase() {
	local name=$1 ms=$2 text=$3 c0 got
	TWOFOLD_COMMS_FETCH_MS=$ms svc_start bob
	wait_status bob "relay connected" && [ -f "$W/bob/published" ] &&
		cm alice msg send bob "warm-up $name" >/dev/null && wait_read bob 1
	ok $? "$name: bob online, a first message delivered live" \
		"$(cat "$W/bob.log") / $(cat "$W/bob.read")"
	sleep 1 # bob's prekey top-up after the first message is done
	c0=$(connects bob)
	drop_one "$(svc_port bob)" &&
		cm alice msg send bob "$text" >/dev/null &&
		wait_dropped
	ok $? "$name: the one notice datagram to bob is dropped" \
		"port $(svc_port bob) / $(nft list ruleset 2>&1 | tail -5)"
	wait_status alice "outbox 0"
	ok $? "$name: the message is stored (alice's outbox empties)" "$(cm alice status)"
	: >"$W/bob.win"
	for _ in $(seq $((WINDOW * 10))); do
		cm bob msg read >>"$W/bob.win" 2>/dev/null
		grep -q "$text" "$W/bob.win" && break
		sleep 0.1
	done
	sleep 0.5 # a second copy would be here by now
	cm bob msg read >>"$W/bob.win" 2>/dev/null
	got=$(grep -c "from alice: $text\$" "$W/bob.win")
	GOT=$got
	[ "$(connects bob)" = "$c0" ]
	ok $? "$name: bob stayed connected (no reconnect, whose FETCH would bring it)" \
		"$(tail -5 "$W/bob.log")"
}

phase "periodic FETCH off" 0 "lost notice, no fetch"
[ "$GOT" = 0 ]
ok $? "periodic FETCH off: after ${WINDOW} s the message still waits (the notice was really lost)" \
	"$(cat "$W/bob.win")"
svc_stop bob
# its next connect FETCHes it: nothing lost either way
svc_start bob
wait_read bob 1
has "from alice: lost notice, no fetch" "$(cat "$W/bob.read")"
ok $? "periodic FETCH off: a reconnect brings it" "$(cat "$W/bob.read")"
svc_stop bob

phase "periodic FETCH every ${PERIOD_MS} ms" $PERIOD_MS "lost notice, fetched"
[ "$GOT" = 1 ]
ok $? "periodic FETCH every ${PERIOD_MS} ms: the message arrives within ${WINDOW} s, once" \
	"$(cat "$W/bob.win") / $(tail -5 "$W/bob.log")"
svc_stop bob
svc_stop alice
relay_stop TERM
finish
