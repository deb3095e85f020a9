#!/usr/bin/env bash
# Integration: long messages (in pieces, docs/comms.md "Long messages")
# through the evil relay (twofold-relay-evil, src/relay/evil.c), both
# suites. alice sends bob a long message A and then a short one, carol
# (a second sender) a long message B. The relay withholds piece 1 of
# each (piece-drop), delivers each piece twice, the second time under a
# new id (piece-dup), delivers pieces in swapped pairs (piece-reorder),
# or puts A's piece 1 data under B's piece 1 header (piece-swap, a
# splice between two messages of two senders), or delivers every piece
# of a message under another message id (piece-relabel: the envelope
# inside names the real one); and two forgeries of every message: a bit
# flipped in each piece (msg-flip), each piece said to be from carol
# (msg-sender). bob never shows a
# partial, spliced or doubled message: what is complete and authentic
# shows once and whole, what cannot complete shows as REJECTED with the
# reason (within TWOFOLD_COMMS_PIECE_AGE_MS, 4 s here). A control run
# with no forgery delivers all three. The relay logs every forgery it
# made, so one that silently did not happen fails. In a network
# namespace of its own. TAP.
if [ -z "${EVIL_NETNS:-}" ]; then
	exec unshare --net env EVIL_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY_EVIL:?}" "${TWOFOLD_COMMS:?}"
PORT=51957
TWOFOLD_RELAY=$TWOFOLD_RELAY_EVIL
. "$(dirname "$0")/commslib.sh"
export TWOFOLD_COMMS_PIECE_AGE_MS=4000

text() { # text N TAG: N printable bytes starting with TAG
	local t="$2-"
	while [ ${#t} -lt "$1" ]; do t="$t$2 lorem ipsum dolor 0123456789 "; done
	printf '%s' "${t:0:$1}"
}
A=$(text 5000 Along)
B=$(text 5000 Blong)
read_some() { # read_some NAME SECONDS
	: >"$W/$1.read"
	for _ in $(seq "$2"); do
		cm "$1" msg read >>"$W/$1.read" 2>/dev/null
		sleep 1
	done
}
cnt() { grep -Fxc -- "$1" "$W/bob.read"; }
forged() { grep -q "evil: .*$1" "$W/relay.log"; }

for s in ${EVIL_SUITES:-intl gm}; do
	for mode in none piece-drop piece-dup piece-reorder piece-swap piece-relabel msg-flip msg-sender; do
		[ -n "${EVIL_ONLY:-}" ] && [ "$mode" != "$EVIL_ONLY" ] && continue
		comms_world "$s" carol
		[ "$mode" = none ] || export TF_EVIL=$mode
		relay_start
		r=$?
		unset TF_EVIL
		for n in bob alice carol; do
			[ $r = 0 ] && svc_start $n && wait_status $n "relay connected" &&
				wait_published $n || r=1
		done
		ok $r "$s $mode: relay and three devices up" "$(tail -3 "$W"/*.log)"
		cm alice msg send bob "$A" >/dev/null
		cm alice msg send bob "after A" >/dev/null
		wait_status alice "outbox 0"
		cm carol msg send bob "$B" >/dev/null
		wait_status carol "outbox 0"
		ok $? "$s $mode: every piece stored by the relay" \
			"$(cm alice status | grep ^out) $(cm carol status | grep ^out)"
		read_some bob 8
		inc=$(cm bob status | grep '^in ' | sed -E "$CM_SED")
		diag "$s $mode: bob reads $(wc -l <"$W/bob.read") lines; incomplete now: ${inc:-none}"
		# never partial, never spliced, never twice
		[ "$(grep -c 'Along' "$W/bob.read")" -le 1 ] &&
			[ "$(grep -c 'Blong' "$W/bob.read")" -le 1 ] &&
			! grep -v -Fx -e "from alice: $A" -e "from carol: $B" "$W/bob.read" | grep -q 'Along\|Blong'
		ok $? "$s $mode: nothing shown partial, spliced or twice" \
			"$(cut -c1-100 "$W/bob.read")"
		if [ "$mode" = msg-flip ] || [ "$mode" = msg-sender ]; then
			[ "$(cnt "from alice: after A")" = 0 ]
		else
			[ "$(cnt "from alice: after A")" = 1 ]
		fi
		ok $? "$s $mode: alice's short message after it shows once (not at all when every message is forged)" \
			"$(cut -c1-100 "$W/bob.read")"
		case $mode in
		none | piece-dup | piece-reorder)
			[ "$(cnt "from alice: $A")" = 1 ] && [ "$(cnt "from carol: $B")" = 1 ] &&
				! grep -q REJECTED "$W/bob.read"
			ok $? "$s $mode: both long messages shown whole, once" \
				"$(cut -c1-100 "$W/bob.read")"
			;;
		piece-drop)
			[ "$(grep -c '^REJECTED long message .* from alice: it never completed' "$W/bob.read")" = 1 ] &&
				[ "$(grep -c '^REJECTED long message .* from carol: it never completed' "$W/bob.read")" = 1 ]
			ok $? "$s $mode: both shown to bob as failed (never completed), nothing of them shown" \
				"$(cut -c1-160 "$W/bob.read")"
			;;
		piece-relabel)
			[ "$(grep -c '^REJECTED message said to be from alice: a long message without its own id inside' "$W/bob.read")" = 1 ] &&
				[ "$(grep -c '^REJECTED message said to be from carol: a long message without its own id inside' "$W/bob.read")" = 1 ]
			ok $? "$s $mode: both REJECTED (relabelled as another message), nothing of them shown" \
				"$(cut -c1-160 "$W/bob.read")"
			;;
		msg-flip)
			[ "$(cnt "from alice: $A")" = 0 ] && [ "$(cnt "from carol: $B")" = 0 ] &&
				grep -q '^REJECTED .*from alice' "$W/bob.read" &&
				grep -q '^REJECTED .*from carol' "$W/bob.read"
			ok $? "$s $mode: every piece with a flipped bit: both REJECTED, nothing of them shown" \
				"$(cut -c1-160 "$W/bob.read" | sort | uniq -c)"
			;;
		msg-sender)
			[ "$(cnt "from alice: $A")" = 0 ] && [ "$(cnt "from carol: $B")" = 1 ] &&
				grep -q '^REJECTED .*from carol' "$W/bob.read"
			ok $? "$s $mode: alice's pieces said to be from carol: REJECTED, never shown as carol's; carol's own whole" \
				"$(cut -c1-160 "$W/bob.read" | sort | uniq -c)"
			;;
		piece-swap)
			[ "$(cnt "from alice: $A")" = 1 ] && [ "$(cnt "from carol: $B")" = 0 ] &&
				grep -q '^REJECTED long message said to be from carol: failed authentication\|^REJECTED message said to be from carol: failed authentication' "$W/bob.read"
			ok $? "$s $mode: A whole; B (spliced) REJECTED as failed authentication" \
				"$(cut -c1-160 "$W/bob.read")"
			;;
		esac
		case $mode in
		none) ! grep -q "evil:" "$W/relay.log" ;;
		piece-drop) forged withheld ;;
		piece-dup) forged duplicated ;;
		piece-reorder) forged "long message .* swapped" ;;
		piece-swap) forged spliced ;;
		piece-relabel) forged relabelled ;;
		msg-flip) forged msg-flip ;;
		msg-sender) forged "said to be from carol" ;;
		esac
		ok $? "$s $mode: the relay did (or did not) forge" "$(grep evil: "$W/relay.log" | head -3)"
		[ "$(stat_of bob pieces_incomplete)" = 0 ] && [ -z "$(ls -A "$W/bob/pieces")" ]
		ok $? "$s $mode: nothing left in bob's reassembly" "$(cm bob status | grep '^in ') $(ls "$W/bob/pieces")"
		for n in alice bob carol; do svc_stop $n; done
		relay_stop TERM
	done
done
finish
