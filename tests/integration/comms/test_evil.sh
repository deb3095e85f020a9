#!/usr/bin/env bash
# Integration: the evil relay (twofold-relay-evil, a test-only build of
# the relay whose forgeries TF_EVIL chooses: src/relay/evil.c), both
# suites. For each forgery a fresh world (CA, relay, alice, bob and carol,
# the relay's accomplice whose prekeys it holds): messages with a flipped
# bit, replayed under a new id, said to be from carol, with the other
# suite's byte; alice's request for bob's prekeys answered with carol's
# signed prekey or carol's whole bundle; the relay's handshake answer in
# the other suite; call set-ups said to be from carol or replayed; media
# frames flipped, replayed, reordered, with another SFrame key id;
# rosters with a flipped, stripped or zeroed signature, or re-signed by a
# valid officer certificate with a ghost member. Each
# time the device refuses it AND shows it (msg read REJECTED with a
# reason, prekeys refused in the log, relay_refused / call_refused /
# call_rejected in status) and nothing forged is shown as genuine (the
# inbox has no forged text, no forged frame is played). A control run
# with no forgery shows the harness delivers. The evil relay logs every
# forgery it made ("evil: ..."), so a forgery that silently did not
# happen fails the test. In a network namespace of its own. TAP.
if [ -z "${EVIL_NETNS:-}" ]; then
	# a network namespace of its own: no other test's relay can share
	# the port (the relay binds with SO_REUSEPORT, root to root)
	exec unshare --net env EVIL_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY_EVIL:?}" "${TWOFOLD_COMMS:?}" "${AUDIOTOOL:?}" "${TWOFOLD_GROUPD:?}"
PORT=51977
SHIPPED=$TWOFOLD_RELAY
TWOFOLD_RELAY=$TWOFOLD_RELAY_EVIL
. "$(dirname "$0")/commslib.sh"

# the forgeries are in the test build only
! grep -q "evil: forging" "$SHIPPED" && grep -q "evil: forging" "$TWOFOLD_RELAY_EVIL"
ok $? "the shipped twofold-relay has no forgery code (the evil build has)" "$SHIPPED"
ONLY=${EVIL_ONLY:-} # a test run of one forgery: EVIL_ONLY=frame-kid

read_some() { # read_some NAME SECONDS: everything shown within SECONDS
	: >"$W/$1.read"
	for _ in $(seq "$2"); do
		cm "$1" msg read >>"$W/$1.read" 2>/dev/null
		sleep 1
	done
}
# world SUITE MODE: a fresh CA and devices, the evil relay forging MODE
# (carol's prekeys published first), bob and alice connected
world() {
	comms_world "$1" carol
	free_port
	export TF_EVIL=$2
	relay_start && world_devices && unset TF_EVIL && return 0
	unset TF_EVIL
	for n in relay carol bob alice; do
		diag "$n: $(cat "$W/$n.log" 2>/dev/null | tail -5)"
	done
	diag "port $PORT: $(grep -i ":$(printf %04X "$PORT") " /proc/net/udp)"
	return 1
}
# "relay connected" comes at the handshake, "published" at the relay's
# answer to the prekeys (gm: eight datagrams, each verified and committed
# durably): under load it comes a while later
world_devices() {
	svc_start carol
	wait_status carol "relay connected" && wait_file "$W/carol/published" || return 1
	svc_stop carol
	svc_start bob
	wait_status bob "relay connected" && wait_file "$W/bob/published" || return 1
	svc_start alice
	wait_status alice "relay connected"
}
teardown() {
	for n in alice bob carol groupd; do
		[ -n "${SP[$n]:-}" ] && svc_stop $n
	done
	relay_stop TERM
}
forged() { # forged TEXT: the evil relay says it forged TEXT
	grep -q "evil: .*$1" "$W/relay.log"
}
# the relay binds with SO_REUSEPORT: a relay of another test on the same
# port would share its flows, so take one nobody listens on
free_port() {
	while grep -qi ":$(printf %04X "$PORT") " /proc/net/udp; do PORT=$((PORT - 1)); done
}
publish() {
	gd publish north --relay 127.0.0.1:$PORT --relay-pub "$W/relay.key.pub" \
		--comms "$W/groupd" >>"$W/gd.log" 2>&1
}
# ptt_world SUITE MODE: the evil relay, alice, bob and twofold-groupd
# (its group-authority certificate, its own service); north = alice,
# bob, published (epoch 2)
ptt_world() {
	comms_world "$1" carol
	free_port
	ca keygen --suite "$1" -o "$W/groupd.key"
	ca issue --ca "$W/ca" --officer groupd --role group-authority \
		--pubkey "$W/groupd.key.pub" --days 1 -o "$W/groupd.cert"
	export TF_EVIL=$2
	relay_start || return 1
	unset TF_EVIL
	for n in alice bob; do svc_start $n --audio-out "$W/$n.heard"; done
	svc_start groupd
	for n in alice bob groupd; do wait_status $n "relay connected" || return 1; done
	gd init --key "$W/groupd.key" --cert "$W/groupd.cert" \
		--ca "$W/ca/ca.pub" >>"$W/gd.log" 2>&1 &&
		gd create north >>"$W/gd.log" &&
		gd add north "$W/alice.cert" >>"$W/gd.log" &&
		gd add north "$W/bob.cert" >>"$W/gd.log" &&
		publish
}
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
# a call alice -> bob, bob answers; MIN frames of something at bob
call_up() {
	cm alice call bob --audio-in "$W/a.wav" --audio-out "$W/alice-got.wav" \
		>"$W/call.out" 2>&1 &&
		wait_status bob "call incoming" &&
		cm bob answer --audio-in "$W/b.wav" --audio-out "$W/bob-got.wav" \
			>/dev/null 2>&1 &&
		wait_status alice "call active"
}
call_down() {
	cm alice hangup >/dev/null 2>&1
	wait_status alice "call idle" && wait_status bob "call idle"
}

for s in ${EVIL_SUITES:-intl gm}; do
	# control: the evil build with no forgery delivers messages and calls
	if want none; then
		world $s ""
		ok $? "$s: control: the evil relay without a forgery lets devices connect" \
			"$(cat "$W/relay.log" "$W/alice.log" 2>/dev/null)"
		"$AUDIOTOOL" gen "$W/a.wav" 5 140
		"$AUDIOTOOL" gen "$W/b.wav" 5 210
		for i in 1 2 3; do cm alice msg send bob "plain-$s-$i" >/dev/null; done
		wait_read bob 3
		[ "$(grep -c "^from alice: plain-$s-" "$W/bob.read")" = 3 ] &&
			not_has REJECTED "$(cat "$W/bob.read")"
		ok $? "$s: control: three messages delivered, none rejected" "$(cat "$W/bob.read")"
		call_up && wait_frames bob call_rx_frames 150
		ok $? "$s: control: a call carries audio" "$(cm bob status)"
		[ "$(stat_of bob call_rejected)" = 0 ] && [ "$(stat_of alice call_rejected)" = 0 ]
		ok $? "$s: control: no frame rejected" "$(cm bob status)"
		call_down
		ab=$("$AUDIOTOOL" snr "$W/a.wav" "$W/bob-got.wav")
		awk -v a="${ab#snr }" 'BEGIN { split(a, x, " "); exit !(x[1] >= 4) }'
		ok $? "$s: control: bob heard alice (SNR >= 4 dB)" "$ab"
		teardown
	fi

	# ---- messages ----
	for m in msg-flip msg-replay msg-sender msg-suite; do
		want $m || continue
		world $s $m
		ok $? "$s $m: world up" "$(cat "$W/relay.log" "$W/bob.log" "$W/alice.log" 2>/dev/null)"
		for i in 1 2 3; do
			cm alice msg send bob "forged-$s-$m-$i" >/dev/null
		done
		wait_status alice "outbox 0"
		case $m in
		msg-replay) wait_read bob 6 ;;
		*) wait_read bob 3 ;;
		esac
		out=$(cat "$W/bob.read")
		rej=$(grep -c '^REJECTED' <<<"$out")
		case $m in
		msg-flip)
			[ "$rej" -ge 3 ] &&
				has "REJECTED message said to be from alice: failed authentication" "$out" &&
				not_has "forged-" "$out" && forged "msg-flip"
			;;
		msg-replay)
			# the genuine ones once each, every replay refused
			[ "$(grep -c "^from alice: forged-$s-$m-" <<<"$out")" = 3 ] &&
				[ "$(sort <<<"$out" | grep "^from" | uniq -d | wc -l)" = 0 ] &&
				[ "$rej" -ge 3 ] && has "REJECTED message said to be from alice: a replay" "$out" &&
				forged "replayed"
			;;
		msg-sender)
			[ "$rej" -ge 3 ] && has "REJECTED message said to be from carol" "$out" &&
				not_has "forged-" "$out" && not_has "^from carol" "$out" &&
				forged "said to be from carol"
			;;
		msg-suite)
			[ "$rej" -ge 3 ] && has "REJECTED message said to be from alice" "$out" &&
				not_has "forged-" "$out" && forged "msg-suite"
			;;
		esac
		ok $? "$s $m: every forged message rejected and shown, none shown as genuine" \
			"$out $(grep evil: "$W/relay.log" | tail -3)"
		teardown
	done

	# ---- prekeys: the relay's accomplice's key for bob's ----
	for m in bundle-spk bundle-other; do
		want $m || continue
		world $s $m
		ok $? "$s $m: world up" "$(cat "$W/relay.log" "$W/alice.log" 2>/dev/null)"
		cm alice msg send bob "forged-$s-$m" >/dev/null
		wait_for "$W/alice.log" "prekeys of bob[^ ]* refused"
		ok $? "$s $m: alice refuses the substituted prekeys and says so" \
			"$(cat "$W/alice.log")"
		read_some bob 2
		has "outbox 1" "$(cm alice status)" && [ ! -s "$W/bob.read" ] &&
			[ ! -e "$W/alice/sessions/bob" ] && forged "prekey"
		ok $? "$s $m: no session on them; the message waits, nothing reaches bob" \
			"$(cm alice status; ls "$W/alice/sessions" 2>&1; cat "$W/bob.read")"
		teardown
	done

	# ---- the relay handshake: a downgrade to the other suite ----
	if want resp-suite; then
		comms_world $s
		free_port
		export TF_EVIL=resp-suite
		relay_start
		unset TF_EVIL
		svc_start alice
		wait_status alice "relay_refused .*another suite"
		ok $? "$s resp-suite: the relay's answer in the other suite is refused and shown" \
			"$(cm alice status) $(cat "$W/alice.log")"
		has "relay unreachable" "$(cm alice status)" &&
			has "relay handshake refused" "$(cat "$W/alice.log")" && forged "suite"
		ok $? "$s resp-suite: not connected; the log says why" "$(cm alice status)"
		teardown
	fi

	# ---- calls ----
	if want from-sender; then
		world $s from-sender
		ok $? "$s from-sender: world up"
		cm alice call bob >"$W/call.out" 2>&1 &
		cpid=$!
		BG_PIDS="$BG_PIDS $cpid"
		wait_status bob "call_refused carol: "
		ok $? "$s from-sender: a call set-up said to be from carol is refused and shown" \
			"$(cm bob status) $(cat "$W/bob.log")"
		has "call idle" "$(cm bob status)" && forged "said to be from carol"
		ok $? "$s from-sender: bob's phone does not ring" "$(cm bob status)"
		cm alice hangup >/dev/null 2>&1
		wait "$cpid" 2>/dev/null
		teardown
	fi
	if want call-replay; then
		world $s call-replay
		ok $? "$s call-replay: world up"
		"$AUDIOTOOL" gen "$W/a.wav" 5 140
		"$AUDIOTOOL" gen "$W/b.wav" 5 210
		call_up && call_down
		ok $? "$s call-replay: a first call" "$(cm alice status) $(cm bob status)"
		cm alice call bob >/dev/null 2>&1 &&
			wait_status bob "call_refused alice: a replayed call set-up" &&
			wait_status bob "call incoming"
		ok $? "$s call-replay: the replayed set-up is refused and shown; the real one rings" \
			"$(cm bob status) $(grep evil: "$W/relay.log")"
		call_down
		teardown
	fi
	for m in frame-flip frame-replay frame-reorder frame-kid; do
		want $m || continue
		world $s $m
		ok $? "$s $m: world up"
		"$AUDIOTOOL" gen "$W/a.wav" 5 140
		"$AUDIOTOOL" gen "$W/b.wav" 5 210
		call_up
		ok $? "$s $m: the call is set up (set-up and control are not media)" \
			"$(cm alice status) $(cm bob status)"
		wait_for "$W/relay.log" "evil: $m of media frames"
		ok $? "$s $m: the relay forged media frames" "$(grep evil: "$W/relay.log")"
		case $m in
		frame-flip | frame-kid)
			wait_frames bob call_rejected 100 && wait_frames alice call_rejected 100
			ok $? "$s $m: every forged frame is rejected and counted" \
				"$(cm bob status)"
			[ "$(stat_of bob call_rx_frames)" = 0 ] && [ "$(stat_of alice call_rx_frames)" = 0 ]
			ok $? "$s $m: no forged frame is played" "$(cm bob status)"
			;;
		frame-replay)
			wait_frames bob call_rx_frames 200 && wait_frames bob call_rejected 150
			ok $? "$s $m: the replayed copies are rejected and counted" \
				"$(cm bob status)"
			rx=$(stat_of bob call_rx_frames)
			tx=$(stat_of alice call_tx_frames)
			[ "$rx" -le "$tx" ]
			ok $? "$s $m: no frame played twice" "rx $rx tx $tx"
			;;
		frame-reorder)
			# the jitter buffer puts each swapped pair back in
			# order (on arrival, the held-back frame was late)
			wait_frames bob call_rx_frames 100 && wait_frames bob call_reordered 50 &&
				[ "$(stat_of bob call_misordered)" = 0 ]
			ok $? "$s $m: frames held back are put back in order, none played out of order" \
				"$(cm bob status)"
			[ "$(stat_of bob call_rejected)" = 0 ]
			ok $? "$s $m: a reordered frame is not mistaken for a forgery" "$(cm bob status)"
			rx=$(stat_of bob call_rx_frames)
			lost=$(stat_of bob call_lost)
			tx=$(stat_of alice call_tx_frames)
			[ $((rx + lost)) -le $((tx + 1)) ]
			ok $? "$s $m: one played slot per frame: none played twice or out of order" \
				"rx $rx lost (rebuilt) $lost tx $tx"
			;;
		esac
		call_down
		if [ "$m" = frame-replay ]; then
			ab=$("$AUDIOTOOL" snr "$W/a.wav" "$W/bob-got.wav")
			awk -v a="${ab#snr }" 'BEGIN { split(a, x, " "); exit !(x[1] >= 1) }'
			ok $? "$s $m: bob still hears alice (frames in order, SNR >= 1 dB)" "$ab"
		fi
		teardown
	done

	# ---- talk groups ----
	if want roster-sig; then
		ptt_world $s roster-sig
		ok $? "$s roster-sig: world up, the group published" "$(cat "$W/gd.log" "$W/relay.log")"
		wait_status alice "group north .* refused: " && wait_status bob "group north .* refused: "
		ok $? "$s roster-sig: a roster with an altered signature is refused and shown" \
			"$(cm alice status | grep ^group) $(grep evil: "$W/relay.log" | head -2)"
		has "not-joined" "$(cm alice status | grep '^group north')" && forged "signature altered"
		ok $? "$s roster-sig: the members do not join on it" "$(cm alice status | grep ^group)"
		teardown
	fi
	# the signature stripped, zeroed, or the whole roster re-signed by a
	# valid officer certificate (carol's, the relay's accomplice) with
	# carol added as a ghost member: every member refuses, says why, and
	# carol is in no roster a member holds
	for m in roster-nosig roster-zerosig roster-cert; do
		want $m || continue
		case $m in
		roster-nosig) what="signature stripped" why="not signed by its authority" ;;
		roster-zerosig) what="signature zeroed" why="not signed by its authority" ;;
		roster-cert) what="re-signed by an officer with a ghost member" why="not a group authority" ;;
		esac
		export TF_EVIL_CERT="$W/carol.cert" TF_EVIL_KEY="$W/carol.key"
		ptt_world $s $m
		ok $? "$s $m: world up, the group published" "$(cat "$W/gd.log" "$W/relay.log")"
		unset TF_EVIL_CERT TF_EVIL_KEY
		wait_status alice "group north .* refused: .*$why" &&
			wait_status bob "group north .* refused: .*$why"
		ok $? "$s $m: every member refuses the roster and shows why" \
			"$(cm alice status | grep ^group) $(cm bob status | grep ^group) $(grep evil: "$W/relay.log" | head -2)"
		grep -q "talk group north: .*$why" "$W/alice.log" && grep -q "talk group north: .*$why" "$W/bob.log"
		ok $? "$s $m: the refusal is on each member's stderr" "$(grep 'talk group' "$W/alice.log" "$W/bob.log")"
		forged "$what"
		ok $? "$s $m: the relay did forge it" "$(grep evil: "$W/relay.log")"
		for n in alice bob; do
			has "epoch 0 members 0 not-joined" "$(cm $n status | grep '^group north')" || break
			has "heard 0 " "$(cm $n status | grep '^group north')" || break
			! grep -rqs carol "$W/$n"/group-north.roster || break
		done
		ok $? "$s $m: no member joins, hears or keeps a roster (no ghost accepted)" \
			"$(cm alice status | grep ^group) $(cm bob status | grep ^group)"
		teardown
	done
	if want roster-old; then
		ptt_world $s roster-old
		ok $? "$s roster-old: world up, the group published" "$(cat "$W/gd.log")"
		wait_status alice "group north epoch 2 members 2 joined"
		ok $? "$s roster-old: epoch 2 joined (the roster the relay keeps)" "$(cm alice status | grep ^group)"
		gd remove north bob >>"$W/gd.log" && publish
		ok $? "$s roster-old: groupd removes bob: epoch 3" "$(cat "$W/gd.log")"
		wait_status alice "group north epoch 2 .* refused: the relay's roster is not the one"
		ok $? "$s roster-old: the older roster served for epoch 3 is refused and shown" \
			"$(cm alice status | grep ^group) $(grep evil: "$W/relay.log" | head -2)"
		forged "an older roster"
		ok $? "$s roster-old: the relay did serve the old roster" "$(grep evil: "$W/relay.log")"
		teardown
	fi
	if want ptt-flip; then
		ptt_world $s ptt-flip
		ok $? "$s ptt-flip: world up, the group published" "$(cat "$W/gd.log")"
		"$AUDIOTOOL" gen "$W/speech.raw" 1 200
		wait_status alice "group north epoch 2 members 2 joined" &&
			wait_status bob "group north epoch 2 members 2 joined" &&
			cm alice ptt north --press --audio-in "$W/speech.raw" >/dev/null
		ok $? "$s ptt-flip: alice presses" "$(cm alice status | grep ^group)"
		wait_status bob "group north .* undecryptable [1-9][0-9]"
		ok $? "$s ptt-flip: every altered frame is counted undecryptable" "$(cm bob status | grep ^group)"
		cm bob status | grep -q "group north .* heard 0 " && forged "ptt-flip"
		ok $? "$s ptt-flip: none is played" "$(cm bob status | grep ^group)"
		teardown
	fi
done
finish
