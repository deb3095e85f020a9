#!/usr/bin/env bash
# Integration: twofold-comms end to end over twofold-relay on loopback,
# both suites. Two devices (alice, bob) each run the service with their
# own state dir: bob publishes his prekeys and goes offline; alice's
# messages are stored by the relay and bob reads them when he is back;
# a relay that is down: the message queues on alice's device and goes out
# when the relay is back; a retry is never shown twice; the state files
# are 0600. TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
. "$(dirname "$0")/commslib.sh"

for s in intl gm; do
	comms_world $s
	relay_start
	ok $? "$s: relay starts" "$(cat "$W/relay.log")"

	svc_start bob
	ok $? "$s: bob's service starts" "$(cat "$W/bob.log")"
	wait_status bob "relay connected" && [ -f "$W/bob/published" ]
	ok $? "$s: bob connects and publishes his prekeys" "$(cat "$W/bob.log")"
	svc_stop bob

	svc_start alice
	wait_status alice "relay connected"
	ok $? "$s: alice connects" "$(cat "$W/alice.log")"
	for i in 1 2 3; do
		cm alice msg send bob "hello bob $i" >/dev/null || break
	done
	wait_status alice "outbox 0"
	ok $? "$s: three messages to offline bob stored by the relay" \
		"$(cm alice status) $(cat "$W/alice.log")"

	svc_start bob
	wait_read bob 3
	out=$(cat "$W/bob.read")
	[ "$(grep -c '^from alice: hello bob [123]$' <<<"$out")" = 3 ]
	ok $? "$s: bob reads all three when back, each once" "$out"

	echo "hi alice" | cm bob msg send alice - >/dev/null
	wait_read alice 1
	has "from bob: hi alice" "$(cat "$W/alice.read")"
	ok $? "$s: bob's reply (its text from stdin, not argv), on the same session" "$(cat "$W/alice.read")"

	# the relay is down: the message waits on alice's device
	relay_stop 9
	wait_status alice "relay unreachable"
	out=$(cm alice msg send bob "while the relay was down")
	has queued "$out" && wait_status alice "outbox 1"
	ok $? "$s: relay down: the message is queued on the device" "$out"
	relay_start
	wait_read bob 1
	has "from alice: while the relay was down" "$(cat "$W/bob.read")"
	ok $? "$s: it goes out when the relay is back" \
		"$(cat "$W/bob.read") / $(cm alice status)"

	# kill -9 of the relay while 30 messages are in flight: every one
	# arrives, none twice (client-chosen ids, the ciphertext kept for
	# the retry)
	for i in $(seq 30); do
		cm alice msg send bob "burst $i" >/dev/null
		[ "$i" = 10 ] && relay_stop 9 && relay_start
	done
	wait_read bob 30
	out=$(cat "$W/bob.read")
	[ "$(grep -c '^from alice: burst ' <<<"$out")" = 30 ] &&
		[ "$(sort -u <<<"$out" | grep -c '^from alice: burst ')" = 30 ]
	ok $? "$s: relay killed mid-burst: 30 delivered, none twice" \
		"$(wc -l <<<"$out") lines / $(cm alice status)"

	bad=$(find "$W/alice" "$W/bob" -type f ! -perm 0600 | head -5)
	[ -z "$bad" ]
	ok $? "$s: every state file is 0600" "$bad"

	out=$(cm alice msg send "../etc" "x" 2>&1)
	[ $? -ne 0 ] && has "not an officer id" "$out"
	ok $? "$s: a bad recipient id is refused" "$out"

	svc_stop alice
	svc_stop bob
	relay_stop TERM
done
finish
