#!/usr/bin/env bash
# Integration: one-time prekey top-up (issue 15). bob's service publishes
# 8 one-time prekeys; the relay's PREKEYS reply tells it how many remain
# and it tops up below 4. 20 first messages from 20 different senders:
# every X3DH used a one-time prekey (bob's status counts them), the
# relay's count never ran out, and the prekey state stays bounded. TAP.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
PORT=${PORT:-51981}
. "$(dirname "$0")/commslib.sh"
N=20
senders=$(seq -f "s%02g" 1 $N)
# shellcheck disable=SC2086
comms_world intl $senders
relay_start
ok $? "relay starts" "$(cat "$W/relay.log")"
svc_start bob
wait_status bob "prekeys_on_relay 8"
ok $? "bob publishes 8 one-time prekeys and the relay says it holds 8" \
	"$(cm bob status)"
st() { cm "$1" status | sed -n "s/^$2 //p"; }
i=0
low=8
for n in $senders; do
	i=$((i + 1))
	svc_start "$n"
	wait_status "$n" "relay connected" || break
	cm "$n" msg send bob "first from $n" >/dev/null
	wait_status "$n" "outbox 0" || break
	svc_stop "$n"
	# bob opened it, asked the relay for its count and topped up
	for _ in $(seq 100); do
		[ "$(st bob x3dh_with_opk)$(st bob x3dh_without_opk)" = "${i}0" ] &&
			[ "$(st bob prekeys_on_relay)" -ge 4 ] && break
		sleep 0.1
	done
	c=$(st bob prekeys_on_relay)
	[ "$c" -lt "$low" ] && low=$c
done
out=$(cm bob status)
has "x3dh_with_opk $N" "$out" && has "x3dh_without_opk 0" "$out"
ok $? "$N first messages from $N senders: every X3DH used a one-time prekey" \
	"$out $(grep -i prekey "$W/bob.log" | tail -5)"
[ "$low" -ge 4 ]
ok $? "the relay's count went down and was topped up (lowest seen $low)" ""
grep -q "new ones" "$W/bob.log"
ok $? "bob topped up (his log says so)" "$(tail -5 "$W/bob.log")"
wait_read bob $N
[ "$(grep -c '^from s[0-9]*: first from s' "$W/bob.read")" = $N ] &&
	! grep -q REJECTED "$W/bob.read"
ok $? "bob reads all $N, none rejected" "$(cat "$W/bob.read")"

# a restart keeps the topped-up keys (state written atomically)
svc_stop bob
svc_start bob
wait_status bob "relay connected"
c=$(st bob prekeys_on_relay)
for _ in $(seq 100); do
	c=$(st bob prekeys_on_relay)
	[ "$c" -ge 4 ] && break
	sleep 0.1
done
[ "$c" -ge 4 ] && [ "$(stat -c %a "$W/bob/prekeys")" = 600 ]
ok $? "after a restart the relay still holds $c of them; the state is 0600" \
	"$(cm bob status)"
svc_stop bob
relay_stop TERM
finish
