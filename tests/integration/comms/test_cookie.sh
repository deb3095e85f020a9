#!/usr/bin/env bash
# Integration: the relay under an INIT flood (docs/comms-protocol.md
# "Cookies"), both suites. initflood sends one INIT with a valid mac1
# (anyone who holds the relay's public key can make one) from hundreds of
# source addresses in 127.1/16, none of which answers. Control: a relay
# never under load (--cookie-load 1000000) does a DH for every flood INIT
# (its "handshakes: N DH" counter in the -v log), so the counter is seen
# to count. Then with the test-only --cookie-always (every INIT is "under
# load"): a real device connects (one COOKIE, one round trip more:
# relay_cookies 1 in its status) and delivers a message; the flood gets
# COOKIEs, not DHs (DH count = the real handshakes only); INITs with a bad
# mac1 cost nothing and get no answer. Then the load detector itself
# (--cookie-load 5, no switch): the same flood is mostly answered with
# cookies. In a network namespace of its own. TAP.
if [ -z "${COOKIE_NETNS:-}" ]; then
	exec unshare --net env COOKIE_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${INITFLOOD:?}"
PORT=51975
. "$(dirname "$0")/commslib.sh"
FLOOD=${COOKIE_FLOOD:-300}

# relay_with ARGS...: the relay with extra arguments, -v log in relay.log
relay_with() {
	"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" --store "$W/store.db" -v "$@" \
		>"$W/relay.out" 2>>"$W/relay.log" &
	RP=$!
	bg_update
	wait_for "$W/relay.out" ready
}
# counter NAME: the last value the relay logged ("handshakes: ...")
counter() {
	grep "handshakes:" "$W/relay.log" | tail -1 |
		sed -n "s/.* \([0-9]*\) $1.*/\1/p"
}

for s in intl gm; do
	comms_world $s
	: >"$W/relay.log"

	# control: never under load, every flood INIT costs a DH
	relay_with --cookie-load 1000000
	"$INITFLOOD" "$W/relay.key.pub" $PORT "$FLOOD" >/dev/null
	ok $? "$s: $FLOOD INITs sent from $FLOOD source addresses"
	relay_stop TERM
	dh=$(counter DH)
	[ "$dh" = "$FLOOD" ] && [ "$(counter cookies)" = 0 ]
	ok $? "$s: control, not under load: a DH for each flood INIT, no cookie" \
		"$(grep handshakes: "$W/relay.log" | tail -1)"

	# under load (forced): cookies, not DHs
	: >"$W/relay.log"
	relay_with --cookie-always
	svc_start alice
	svc_start bob
	wait_status alice "relay connected" && wait_status bob "relay connected"
	ok $? "$s: under load, real devices still connect" "$(tail -5 "$W/alice.log")"
	[ "$(stat_of alice relay_cookies)" -ge 1 ] && grep -q "INIT again with its cookie" "$W/alice.log"
	ok $? "$s: ... after one COOKIE (one round trip more)" "$(cm alice status)"
	"$INITFLOOD" "$W/relay.key.pub" $PORT "$FLOOD" >/dev/null &&
		"$INITFLOOD" "$W/relay.key.pub" $PORT 100 bad-mac1 >/dev/null
	ok $? "$s: the flood and 100 INITs with a bad mac1 sent"
	cm alice msg send bob "through the flood" >/dev/null &&
		wait_read bob 1 && grep -q "through the flood" "$W/bob.read"
	ok $? "$s: a message still goes through" "$(cat "$W/bob.read")"
	svc_stop alice
	svc_stop bob
	relay_stop TERM
	dh=$(counter DH)
	ck=$(counter cookies)
	bad=$(counter INITs)
	# the real handshakes only: alice's and bob's (and a retry or two)
	[ -n "$dh" ] && [ "$dh" -ge 2 ] && [ "$dh" -le 6 ]
	ok $? "$s: no DH for a flood INIT (DH $dh: the devices' own)" \
		"$(grep handshakes: "$W/relay.log" | tail -1)"
	[ -n "$ck" ] && [ "$ck" -ge "$((FLOOD + 2))" ]
	ok $? "$s: every flood INIT got a COOKIE instead ($ck)" \
		"$(grep handshakes: "$W/relay.log" | tail -1)"
	[ "$bad" = 100 ]
	ok $? "$s: INITs with a bad mac1 dropped before any DH ($bad), no answer" \
		"$(grep handshakes: "$W/relay.log" | tail -1)"

	# the load detector: more than 5 INITs a second is load
	: >"$W/relay.log"
	relay_with --cookie-load 5 --workers 1
	"$INITFLOOD" "$W/relay.key.pub" $PORT "$FLOOD" >/dev/null
	relay_stop TERM
	dh=$(counter DH)
	ck=$(counter cookies)
	[ -n "$dh" ] && [ "$dh" -lt "$FLOOD" ] && [ "$ck" -gt 0 ] && [ $((dh + ck)) = "$FLOOD" ]
	ok $? "$s: over --cookie-load the relay answers with cookies (DH $dh, cookies $ck)" \
		"$(grep handshakes: "$W/relay.log" | tail -1)"
done
finish
