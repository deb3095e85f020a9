#!/usr/bin/env bash
# Integration: `twofold-groupd serve`, the group authority as a
# long-running process (issue 15), with real services, both suites:
#  - changes made by the CLI while serve runs are published without a
#    manual `publish`: a member added gets the key and hears the next
#    burst;
#  - the relay down during a change: the change stays pending (list says
#    so), serve retries with backoff, and it goes out when the relay is
#    back;
#  - a short roster validity (--validity): serve re-signs the roster
#    (a new epoch, same members) when a third of its validity is left, and
#    the members follow: each status shows a newer epoch and a later
#    expiry, never "(expired)", still joined;
#  - a 10 s burst spanning a re-sign is heard whole by the other members
#    (the previous epoch's key, frames of the next held for its key);
#  - no epoch secret in serve's output; SIGTERM: a clean exit, 0.
# TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${TWOFOLD_GROUPD:?}"
PORT=51961
. "$(dirname "$0")/commslib.sh"
epoch_of() { # epoch_of NAME: the epoch of north in NAME's status
	cm "$1" status 2>/dev/null | sed -n 's/^group north epoch \([0-9]*\) .*/\1/p'
}
expiry_of() {
	cm "$1" status 2>/dev/null | sed -n 's/^group north .* expires \([0-9]*\).*/\1/p'
}

for s in ${SERVE_SUITES:-intl gm}; do
	GP=
	comms_world $s carol
	ca keygen --suite $s -o "$W/groupd.key"
	ca issue --ca "$W/ca" --officer groupd --role group-authority \
		--pubkey "$W/groupd.key.pub" --days 1 -o "$W/groupd.cert"
	# 1 s of tones, 50 frames of 20 ms, s16le 16 kHz
	python3 -c "
import math, struct, sys
sys.stdout.buffer.write(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(16000)))" >"$W/speech.raw"
	relay_start
	for n in alice bob carol; do
		svc_start $n --audio-out "$W/$n.heard"
	done
	svc_start groupd
	wait_status alice "relay connected" && wait_status bob "relay connected" &&
		wait_status carol "relay connected" && wait_status groupd "relay connected"
	ok $? "$s: relay, groupd's and three members' services start" "$(cat "$W"/*.log)"

	gd init --key "$W/groupd.key" --cert "$W/groupd.cert" \
		--ca "$W/ca/ca.pub" >>"$W/gd.log" 2>&1 &&
		gd create north >>"$W/gd.log" &&
		gd add north "$W/alice.cert" >>"$W/gd.log"
	ok $? "$s: groupd creates north with alice (not published)" "$(cat "$W/gd.log")"
	serve_start --validity 21
	ok $? "$s: serve starts" "$(cat "$W/serve.log")"
	wait_status alice "group north epoch 1 members 1 joined"
	ok $? "$s: serve publishes the change made before it started" \
		"$(cm alice status; cat "$W/serve.out" "$W/serve.log")"

	# a member added while serve runs: no manual publish
	gd add north "$W/bob.cert" >>"$W/gd.log" &&
		wait_status bob "group north epoch 2 members 2 joined" &&
		wait_status alice "group north epoch 2 members 2 joined"
	ok $? "$s: add while serving: bob gets the key of epoch 2 and joins" \
		"$(cm bob status; cat "$W/serve.out" "$W/serve.log")"
	gd list | grep -q "north epoch 2 members 2$"
	ok $? "$s: nothing left pending" "$(gd list 2>&1)"
	cm alice ptt north --press --audio-in "$W/speech.raw" >/dev/null &&
		wait_status bob "group north .* heard 50 "
	ok $? "$s: bob hears alice's next burst (50 frames)" "$(cm bob status)"

	# the relay down during a change: pending, retried, out when back
	relay_stop TERM
	gd add north "$W/carol.cert" >>"$W/gd.log"
	wait_for "$W/serve.log" "north: publishing failed; retrying" 2
	ok $? "$s: relay down: serve's publish fails and is retried with backoff" \
		"$(cat "$W/serve.log")"
	gd list | grep -q "^north epoch 3 members 3 (not yet published)"
	ok $? "$s: the change stays pending" "$(gd list 2>&1)"
	rm -f "$W/store.db"*
	relay_start
	wait_status carol "group north epoch 3 members 3 joined" &&
		wait_status alice "group north epoch 3 members 3 joined" &&
		wait_status bob "group north epoch 3 members 3 joined"
	ok $? "$s: relay back: epoch 3 published, carol and the others joined" \
		"$(cm carol status; cm alice status; tail -n 5 "$W/serve.log" "$W/serve.out")"
	cm alice ptt north --press --audio-in "$W/speech.raw" >/dev/null &&
		wait_status carol "group north .* heard 50 "
	ok $? "$s: carol hears alice's next burst" "$(cm carol status)"

	# short validity: rosters signed for 21 s are re-signed with 7 s left
	# (a key message takes up to ~3 s here when the disk is busy, more
	# with the whole suite running: the relay delivers it after its
	# durable commit; 12 s with 4 s left lost that race in CI); the members' 7-day
	# rosters so far are left alone until the next change
	gd remove north carol >>"$W/gd.log" 2>&1 &&
		gd --validity 21 add north "$W/carol.cert" >>"$W/gd.log" 2>&1
	ok $? "$s: carol removed and added again with a 21 s roster" "$(cat "$W/gd.log")"
	wait_status alice "group north epoch 5 members 3 joined"
	ok $? "$s: epoch 5 in force" "$(cm alice status)"
	e0=5 x0=$(expiry_of alice) expired=0 e1=0
	: >"$W/trace"
	# until two re-signs reached every member (at most ~90 s), each
	# member's status checked all along: never past its expiry
	for _ in $(seq 600); do
		for n in alice bob carol; do
			line=$(cm $n status | grep "^group north ")
			echo "$(date +%s) $n: $line" >>"$W/trace"
			case $line in *"(expired)"*) expired=1 ;; esac
		done
		e1=$(epoch_of alice)
		[ "${e1:-0}" -ge $((e0 + 2)) ] && [ "$(epoch_of bob)" = "$e1" ] &&
			[ "$(epoch_of carol)" = "$e1" ] && break
		sleep 0.1
	done
	x1=$(expiry_of alice)
	[ "$expired" = 0 ] && [ "${e1:-0}" -ge $((e0 + 2)) ] && [ "${x1:-0}" -gt "${x0:-0}" ] &&
		wait_status bob "group north epoch $e1 members 3 joined" &&
		wait_status carol "group north epoch $e1 members 3 joined"
	ok $? "$s: serve re-signs before expiry: epoch $e0 -> $e1, expiry $x0 -> $x1, all members follow, none ever saw it expire" \
		"expired=$expired $(grep -m3 expired "$W/trace"); $(tail -n 3 "$W/trace"; tail -n 6 "$W/serve.out")"
	grep -q "north: epoch $e1 signed, 3 members" "$W/serve.out"
	ok $? "$s: serve says what it re-signed" "$(cat "$W/serve.out")"

	# a 16 s burst while serve keeps re-signing (every 14 s): it spans a
	# rekey, and bob and carol hear every frame of it, none concealed
	# (frames sent under the old epoch after they switched play with
	# the previous key; frames of the new epoch that came before their
	# key message are held until it does)
	python3 -c "
import math, struct, sys
sys.stdout.buffer.write(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(256000)))" >"$W/long.raw"
	hb=$(group_stat bob heard) hc=$(group_stat carol heard) cb=$(group_stat bob concealed) cc=$(group_stat carol concealed)
	eb=$(epoch_of alice)
	cm alice ptt north --press --audio-in "$W/long.raw" >/dev/null
	for _ in $(seq 300); do
		[ "$(group_stat bob heard)" -ge $((hb + 800)) ] && [ "$(group_stat carol heard)" -ge $((hc + 800)) ] && break
		sleep 0.1
	done
	ea=$(epoch_of alice)
	[ "$ea" -gt "$eb" ] && [ "$(group_stat bob heard)" = $((hb + 800)) ] &&
		[ "$(group_stat carol heard)" = $((hc + 800)) ] &&
		[ "$(group_stat bob concealed)" = "$cb" ] && [ "$(group_stat carol concealed)" = "$cc" ]
	ok $? "$s: a 16 s burst across a re-sign (epoch $eb -> $ea): bob and carol hear all 800 frames, none concealed" \
		"$(cm bob status | grep ^group; cm carol status | grep ^group)"
	wait_status alice "group north .* floor idle"

	secret=$(od -An -tx1 -v "$W/gd/groups/north/secret" | tr -d ' \n')
	[ ${#secret} = 64 ] && ! grep -qi "$secret" "$W/serve.out" "$W/serve.log" "$W/gd.log"
	ok $? "$s: no epoch secret in serve's or the CLI's output"
	kill -TERM "$GP"
	wait "$GP"
	rc=$?
	GP=
	bg_update
	[ $rc = 0 ] && grep -q "signal 15, stopping" "$W/serve.out"
	ok $? "$s: SIGTERM: serve exits cleanly (0)" "rc=$rc $(tail -n 3 "$W/serve.out")"

	for n in alice bob carol groupd; do svc_stop $n; done
	relay_stop TERM
done
finish
