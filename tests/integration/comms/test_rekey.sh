#!/usr/bin/env bash
# Integration: the device <-> relay channel rekeys (docs/comms-protocol.md
# "Rekeying"), both suites. The relay refuses keys older than 6 s (the
# test-only --reject-after 6; the default is 180 s); alice and bob rekey
# every 2 s (the test-only TF_COMMS_TEST_REKEY_S=2; the default is 120 s):
# a stream of messages across several rekeys all arrives, once each, on
# one session (no reconnect). carol never rekeys in time
# (TF_COMMS_TEST_REKEY_S=1000): after 6 s the relay refuses her old keys
# (its log says so) and she gets through only with a new session. In a
# network namespace of its own. TAP.
if [ -z "${REKEY_NETNS:-}" ]; then
	exec unshare --net env REKEY_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
PORT=51973
. "$(dirname "$0")/commslib.sh"
N=${REKEY_MSGS:-50}


for s in ${REKEY_SUITES:-intl gm}; do
	comms_world $s carol
	"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" --store "$W/store.db" -v --reject-after 6 \
		>"$W/relay.out" 2>>"$W/relay.log" &
	RP=$!
	bg_update
	wait_for "$W/relay.out" ready
	ok $? "$s: relay up (keys refused after 6 s)" "$(cat "$W/relay.log")"
	export TF_COMMS_TEST_REKEY_S=2
	svc_start alice
	svc_start bob
	export TF_COMMS_TEST_REKEY_S=1000
	svc_start carol
	unset TF_COMMS_TEST_REKEY_S
	wait_status alice "relay connected" && wait_status bob "relay connected" &&
		wait_status carol "relay connected"
	ok $? "$s: alice, bob, carol connected" "$(tail -3 "$W/alice.log")"

	# the stream: a message every 0.25 s, past the 6 s limit several times
	sent=0
	for i in $(seq "$N"); do
		cm alice msg send bob "stream $i" >/dev/null && sent=$((sent + 1))
		sleep 0.25
	done
	[ "$sent" = "$N" ]
	ok $? "$s: $N messages queued at alice over ~$((N / 4)) s" "$sent"
	wait_read bob "$N"
	out=$(cat "$W/bob.read")
	[ "$(grep -c '^from alice: stream ' <<<"$out")" = "$N" ] &&
		[ "$(sort -u <<<"$out" | grep -c '^from alice: stream ')" = "$N" ]
	ok $? "$s: all $N arrive, none twice" "$(wc -l <<<"$out") lines"
	ra=$(stat_of alice relay_rekeys)
	rb=$(stat_of bob relay_rekeys)
	[ "${ra:-0}" -ge 3 ] && [ "${rb:-0}" -ge 3 ] &&
		[ "$(grep -c 'alice rekeyed' "$W/relay.log")" -ge 3 ]
	ok $? "$s: across several rekeys (alice $ra, bob $rb)" "$(grep rekey "$W/relay.log" | tail -3)"
	[ "$(grep -c 'alice connected' "$W/relay.log")" = 1 ] &&
		! grep -q "unreachable\|expired" "$W/alice.log"
	ok $? "$s: on one session: alice never reconnected" \
		"$(grep 'alice connected' "$W/relay.log") $(grep 'unreachable\|expired' "$W/alice.log")"
	! grep -q "older than 6 s refused" <(grep -v carol "$W/relay.log")
	ok $? "$s: no key of a rekeying device was refused" "$(grep 'older than' "$W/relay.log")"

	# carol did not rekey: her keys are older than 6 s by now
	wait_for "$W/relay.log" "carol: .*keys older than 6 s refused"
	ok $? "$s: the relay refuses carol's keys after the limit" "$(grep carol "$W/relay.log" | tail -3)"
	for _ in $(seq 100); do
		[ "$(grep -c 'carol connected' "$W/relay.log")" -ge 2 ] && break
		sleep 0.1
	done
	[ "$(grep -c 'carol connected' "$W/relay.log")" -ge 2 ] &&
		wait_status carol "relay connected"
	ok $? "$s: carol gets back only with a new session" "$(grep carol "$W/relay.log" | tail -3)"
	cm carol msg send alice "after the limit" >/dev/null && wait_read alice 1 &&
		grep -q "after the limit" "$W/alice.read"
	ok $? "$s: ... which works" "$(cat "$W/alice.read")"

	for n in alice bob carol; do svc_stop $n; done
	relay_stop TERM
done
finish
