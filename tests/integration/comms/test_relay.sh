#!/usr/bin/env bash
# Integration: twofold-relay (skeleton) on loopback in the test's own
# network namespace, both suites: devices certified by twofold-ca connect
# (Noise IK + certificate), echo survives a change of source address (the
# connection id names the flow), a replayed INIT is refused, a stored
# message is acknowledged once and
# a retry is a duplicate, the recipient fetches, acks, and it is gone; a
# message stored before a kill -9 is there after the restart; real-time
# forwarding between two connected devices; a revoked device and a forged
# deny-list are refused; a burst of SENDs is one group commit. TAP. Cleans up its relay and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${COMMSHARNESS:?}"
W=$(mktemp -d /tmp/tfrelay.XXXXXX)
EXTRA_CLEANUP='rm -rf "$W"'
PORT=51999
RP=
ca() { "$TWOFOLD_CA" "$@" >/dev/null; }
dev() { # dev SUITE NAME: a client session driven by stdin
	"$COMMSHARNESS" udp "$1" "$W/$2.key" "$W/relay.key.pub" \
		"$W/$2.cert" $PORT
}
wait_for() { # wait_for FILE TEXT: at most 5 s, for a line to appear
	for _ in $(seq 50); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
stopped() { # stopped PID: kill -STOP has taken effect on every thread
	local t st
	for _ in $(seq 100); do
		st=0
		for t in /proc/"$1"/task/*/stat; do
			# the state follows the ")" closing the comm field
			[ "$(sed 's/.*) //' "$t" 2>/dev/null | cut -c1)" = T ] || st=1
		done
		[ $st = 0 ] && return 0
		sleep 0.05
	done
	return 1
}
relay_start() {
	: >"$W/relay.out"
	"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" --store "$W/store.db" \
		--denylist "$W/dl" -v >"$W/relay.out" 2>>"$W/relay.log" &
	RP=$!
	BG_PIDS="$RP"
	wait_for "$W/relay.out" ready
}
relay_stop() { # relay_stop SIGNAL
	kill -"$1" "$RP" 2>/dev/null
	wait "$RP" 2>/dev/null
	RP=
	BG_PIDS=
}
# dev_fifo SUITE NAME TAG: NAME's device, its commands from W/TAG.in
# (our fd 7), its output in W/TAG.out, its pid in bp; dev_fifo_end: EOF
# to it, wait for it
dev_fifo() {
	mkfifo "$W/$3.in"
	dev "$1" "$2" <"$W/$3.in" >"$W/$3.out" 2>&1 &
	bp=$!
	BG_PIDS="$RP $bp"
	exec 7>"$W/$3.in"
	wait_for "$W/$3.out" connected
}
dev_fifo_end() {
	exec 7>&-
	wait $bp
	BG_PIDS="$RP"
	rm -f "$W"/*.in
}
# fwd_wait SUITE TO FROM TEXT: TO's device waits, FROM's forwards TEXT
# to TO once TO is connected (and, with CONFIRMED set, the relay logged
# its session confirmed); FROM's output in out, TO's in W/TO.out
fwd_wait() {
	printf 'wait\n' | dev "$1" "$2" >"$W/$2.out" 2>&1 &
	bp=$!
	BG_PIDS="$RP $bp"
	wait_for "$W/$2.out" connected &&
		{ [ -z "${CONFIRMED:-}" ] ||
			wait_for "$W/relay.log" "$2 confirmed its session"; }
	out=$(printf 'fwd %s %s\n' "$2" "$4" | dev "$1" "$3" 2>&1)
	wait $bp
	BG_PIDS="$RP"
}
ID1=000102030405060708090a0b0c0d0e0f
ID2=101112131415161718191a1b1c1d1e1f

for s in intl gm; do
	rm -rf "$W/ca" "$W"/*.key* "$W"/*.cert "$W/store.db"* "$W/dl"
	ca init --suite $s -o "$W/ca"
	for n in relay alice bob mallory; do
		ca keygen --suite $s -o "$W/$n.key"
	done
	for n in alice bob mallory; do
		ca issue --ca "$W/ca" --officer $n --device phone \
			--role officer --pubkey "$W/$n.key.pub" --days 1 \
			-o "$W/$n.cert"
	done
	ca revoke --ca "$W/ca" 3 # mallory
	ca denylist --ca "$W/ca" -o "$W/dl"
	relay_start
	ok $? "$s: relay starts" "$(cat "$W/relay.log")"

	out=$(printf 'echo hi\nrebind\necho again\n' | dev $s alice 2>&1)
	[ "$out" = "$(printf 'connected\necho hi\nrebound\necho again')" ]
	ok $? "$s: handshake, echo, echo again from a new address" "$out"

	out=$(printf 'replay-init\necho still here\n' | dev $s alice 2>&1)
	has "echo still here" "$out" &&
		wait_for "$W/relay.log" "replayed handshake of serial 1 refused"
	ok $? "$s: a replayed INIT is refused and the session it copied lives on" \
		"$out / $(tail -3 "$W/relay.log")"

	out=$(printf 'send bob %s hello bob\nsend bob %s hello bob\n' \
		$ID1 $ID1 | dev $s alice 2>&1)
	has "stored $ID1 0" "$out" && has "stored $ID1 1" "$out"
	ok $? "$s: stored once, the retry is a duplicate" "$out"

	# requests name bare officers (as before several devices per
	# officer); replies name the sender's officer/device
	out=$(printf 'fetch\nack alice/phone %s\nfetch\n' $ID1 | dev $s bob 2>&1)
	[ "$(grep -c "^msg alice/phone $ID1 hello bob" <<<"$out")" = 1 ]
	ok $? "$s: the recipient fetches it once, and after its ack it is gone" "$out"

	out=$(printf 'send bob %s hello bob\n' $ID1 | dev $s alice 2>&1)
	has "stored $ID1 1" "$out"
	ok $? "$s: a late retry after delivery is still a duplicate" "$out"

	out=$(printf 'send bob %s survives\n' $ID2 | dev $s alice 2>&1)
	has "stored $ID2 0" "$out"
	ok $? "$s: stored before the crash" "$out"
	relay_stop 9
	relay_start
	ok $? "$s: relay restarts after kill -9"
	out=$(printf 'fetch\n' | dev $s bob 2>&1)
	has "msg alice/phone $ID2 survives" "$out"
	ok $? "$s: an acknowledged message survives kill -9" "$out"

	# real time: bob waits, alice forwards
	fwd_wait $s bob alice ptt-frame-1
	has "from alice/phone ptt-frame-1" "$(cat "$W/bob.out")"
	ok $? "$s: forwarded to a connected device by officer id" \
		"$out / $(cat "$W/bob.out")"
	out=$(printf 'fwd nobody x\n' | dev $s alice 2>&1)
	has "error 4 recipient not connected" "$out"
	ok $? "$s: forwarding to an absent officer says so" "$out"

	# A recorded INIT replayed where the relay's timestamp table cannot
	# refuse it (after a restart; the table is in memory and per relay):
	# the relay answers, but until the device sends on the new session
	# (which only the device can) it is not routable, replaces nothing
	# and is dropped after 10 s. alice's recording is replayed to the
	# restarted relay; bob's FWD to alice must say "not connected", not
	# go to the replayer.
	dev_fifo $s alice rp
	relay_stop 9
	relay_start 7>&- # the fifo's writer stays ours alone
	BG_PIDS="$RP $bp"
	n0=$(grep -c "alice connected (serial" "$W/relay.log")
	echo replay-init >&7
	wait_for "$W/rp.out" replayed
	for _ in $(seq 50); do
		[ "$(grep -c "alice connected (serial" "$W/relay.log")" -gt "$n0" ] && break
		sleep 0.1
	done
	[ "$(grep -c "alice connected (serial" "$W/relay.log")" -gt "$n0" ]
	ok $? "$s: the restarted relay accepts the replayed INIT's handshake" \
		"$(tail -3 "$W/relay.log")"
	out=$(printf 'fwd alice replayed-to-nobody\n' | dev $s bob 2>&1)
	has "error 4 recipient not connected" "$out"
	ok $? "$s: a replayed INIT's session gets nothing routed to it" "$out"
	out=$(printf 'fwd alice/phone replayed-to-nobody\n' | dev $s bob 2>&1)
	has "error 4 recipient not connected" "$out"
	ok $? "$s: ... nor by device address" "$out"
	if [ $s = intl ]; then
		# the replayed one never confirms: gone after 10 s (the
		# housekeeping runs every 5 s)
		for _ in $(seq 250); do
			grep -q "alice sent nothing on its new session" \
				"$W/relay.log" && break
			sleep 0.1
		done
		has "alice sent nothing on its new session in 10 s: dropped" \
			"$(cat "$W/relay.log")"
		ok $? "$s: an unconfirmed session is dropped" \
			"$(tail -5 "$W/relay.log")"
	fi
	dev_fifo_end
	# the device itself, reconnecting, confirms at once (its first DATA)
	CONFIRMED=1 fwd_wait $s alice bob after-confirm
	has "from bob/phone after-confirm" "$(cat "$W/alice.out")"
	ok $? "$s: the real device's new session is routed to at once" \
		"$out / $(cat "$W/alice.out")"

	# end-to-end prekeys: each one-time prekey handed out once
	out=$(printf 'publish\n' | dev $s alice 2>&1)
	has "reply 0x07" "$out"
	ok $? "$s: a device publishes its prekey bundle" "$out"
	out=$(printf 'bundle alice\nbundle alice\nbundle alice\nbundle nobody\n' |
		dev $s bob 2>&1)
	[ "$(grep -c '^bundle alice/phone opks=1' <<<"$out")" = 2 ] &&
		has "bundle alice/phone opks=0" "$out" &&
		has "error 8 recipient has no prekeys" "$out"
	ok $? "$s: bundles hand out each one-time prekey once, then none" "$out"
	out=$(printf 'publish-as %s\nbundle alice\n' "$W/alice.cert" |
		dev $s bob 2>&1)
	has "error 1 prekey bundle refused" "$out" &&
		has "bundle alice/phone opks=0" "$out"
	ok $? "$s: nobody publishes prekeys under another officer's certificate" \
		"$out"

	# group commit: 20 SENDs queued while the relay is stopped reach
	# one worker's recvmmsg together and share one commit; each is
	# answered, the in-batch copy as a duplicate
	dev_fifo $s alice burst
	kill -STOP "$RP"
	stopped "$RP"
	echo "burst carol 20" >&7
	wait_for "$W/burst.out" "burst sent"
	kill -CONT "$RP"
	dev_fifo_end
	[ "$(grep -c '^stored b5b5.* 0$' "$W/burst.out")" = 19 ] &&
		[ "$(grep -c '^stored b5b5.* 1$' "$W/burst.out")" = 1 ]
	ok $? "$s: a burst of 20 SENDs: 19 stored, the copy a duplicate" \
		"$(cat "$W/burst.out")"

	out=$(printf 'echo hi\n' | dev $s mallory 2>&1)
	[ "$out" = timeout ] && wait_for "$W/relay.log" "certificate revoked"
	ok $? "$s: a revoked device gets no answer; the relay logs why" "$out"
	relay_stop TERM
	has "(largest 20)" "$(cat "$W/relay.log")"
	ok $? "$s: the burst was one group commit" "$(grep commits "$W/relay.log")"
	: >"$W/relay.log"
done

# a deny-list that fails its signature stops the relay (fail closed):
# next_update's low bytes changed, as someone extending an old list would
ca denylist --ca "$W/ca" --days 1 -o "$W/dl"
printf '\xff\xff\xff\xff' | dd of="$W/dl" bs=1 seek=36 conv=notrunc 2>/dev/null
timeout 10 "$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "$W/store.db" --denylist "$W/dl" \
	>/dev/null 2>"$W/err"
[ $? -ne 0 ] && has "deny-list" "$(cat "$W/err")"
ok $? "a tampered deny-list stops the relay from starting" "$(cat "$W/err")"
finish
