#!/usr/bin/env bash
# Integration: one-time prekeys (issue 15). bob's service publishes 100
# one-time prekeys in several PREKEYS datagrams; the relay's reply tells
# it how many remain and it tops up below 25.
# 1. bob offline while 30 new senders each send a first message: when he
#    comes back every X3DH used a one-time prekey (his status counts
#    them) and he reads each message once (8 keys published in one
#    datagram, as before, leave 22 of them without DH4).
# 2. bob online while 50 more first messages come in: the relay's count
#    goes below 25 and bob tops up; every X3DH still had its one-time
#    prekey. TAP.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
PORT=${PORT:-51981}
. "$(dirname "$0")/commslib.sh"
OFF=30
ON=50
off=$(seq -f "o%02g" 1 $OFF)
on=$(seq -f "s%02g" 1 $ON)
# shellcheck disable=SC2086
comms_world intl $off $on
relay_start
ok $? "relay starts" "$(cat "$W/relay.log")"
svc_start bob
wait_status bob "prekeys_on_relay 100"
ok $? "bob publishes 100 one-time prekeys and the relay says it holds 100" \
	"$(cm bob status) $(grep -i prekey "$W/bob.log" | tail -3)"
st() { cm "$1" status | sed -n "s/^$2 //p"; }
send_first() { # send_first NAME: one first message to bob, stored
	svc_start "$1"
	wait_status "$1" "relay connected" || return 1
	cm "$1" msg send bob "first from $1" >/dev/null
	wait_status "$1" "outbox 0" || return 1
	svc_stop "$1"
}

# 1. offline burst
svc_stop bob
sent=0
for n in $off; do
	send_first "$n" || break
	sent=$((sent + 1))
done
[ $sent = $OFF ]
ok $? "$OFF senders stored a first message for bob while he was away" ""
svc_start bob
for _ in $(seq 200); do
	a=$(st bob x3dh_with_opk)
	b=$(st bob x3dh_without_opk)
	[ $((${a:-0} + ${b:-0})) -ge $OFF ] && break
	sleep 0.1
done
out=$(cm bob status)
has "x3dh_with_opk $OFF" "$out" && has "x3dh_without_opk 0" "$out"
ok $? "$OFF first messages while offline: every X3DH used a one-time prekey" \
	"$out $(grep -i prekey "$W/bob.log" | tail -5)"
wait_read bob $OFF
[ "$(grep -c '^from o[0-9]*: first from o' "$W/bob.read")" = $OFF ] &&
	[ "$(sort "$W/bob.read" | uniq -d | wc -l)" = 0 ] &&
	! grep -q REJECTED "$W/bob.read"
ok $? "bob reads each of the $OFF once, none rejected" "$(cat "$W/bob.read")"
wait_status bob "prekeys_on_relay $((100 - OFF))"
ok $? "the relay holds the other $((100 - OFF))" "$(cm bob status)"

# 2. online: down below 25, topped up
i=0
low=100
for n in $on; do
	i=$((i + 1))
	send_first "$n" || break
	# bob opened it, asked the relay for its count and topped up
	for _ in $(seq 100); do
		[ "$(st bob x3dh_with_opk)$(st bob x3dh_without_opk)" = \
			"$((OFF + i))0" ] && [ "$(st bob prekeys_on_relay)" -ge 1 ] &&
			break
		sleep 0.1
	done
	c=$(st bob prekeys_on_relay)
	[ "$c" -lt "$low" ] && low=$c
done
out=$(cm bob status)
has "x3dh_with_opk $((OFF + ON))" "$out" && has "x3dh_without_opk 0" "$out"
ok $? "$ON more from $ON senders: every X3DH used a one-time prekey" \
	"$out $(grep -i prekey "$W/bob.log" | tail -5)"
c=$(st bob prekeys_on_relay)
[ "$low" -ge 1 ] && [ "$c" -ge 25 ]
ok $? "the relay's count never ran out (lowest seen $low, now $c)" "$out"
# the top-up follows the reply that said fewer than 25 at once, so the
# status may never show it: bob's log does
t=$(sed -n 's/.*the relay holds \([0-9]*\) one-time prekeys: \([0-9]*\) new ones.*/\1 \2/p' \
	"$W/bob.log" | head -1)
[ -n "$t" ] && [ "${t% *}" -lt 25 ] && [ $((${t% *} + ${t#* })) = 100 ]
ok $? "bob topped up below 25, back to 100 (his log: '$t')" \
	"$(grep -i prekey "$W/bob.log" | tail -5)"
wait_read bob $ON
[ "$(grep -c '^from s[0-9]*: first from s' "$W/bob.read")" = $ON ] &&
	! grep -q REJECTED "$W/bob.read"
ok $? "bob reads all $ON, none rejected" "$(cat "$W/bob.read")"

# a restart keeps the topped-up keys (state written atomically)
svc_stop bob
svc_start bob
wait_status bob "relay connected"
for _ in $(seq 100); do
	c=$(st bob prekeys_on_relay)
	[ "$c" -ge 25 ] && break
	sleep 0.1
done
[ "$c" -ge 25 ] && [ "$(stat -c %a "$W/bob/prekeys")" = 600 ]
ok $? "after a restart the relay still holds $c of them; the state is 0600" \
	"$(cm bob status)"
svc_stop bob
relay_stop TERM
finish
