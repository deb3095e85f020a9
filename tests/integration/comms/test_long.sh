#!/usr/bin/env bash
# Integration: messages longer than one datagram (docs/comms.md "Long
# messages"), both suites, over twofold-relay on loopback. alice (two
# devices: the default one and alice/tab) sends to bob (two devices: the
# default one and bob/tab): texts of 768 bytes (the old limit, one
# datagram), 769, 5,000 and 16,000 (the new maximum) arrive whole and
# once on each of bob's devices, and as sent copies on alice/tab; 16,001
# is refused with one line (argv and stdin); a text from stdin with
# several lines is shown with its later lines indented; a long message
# between two short ones shows between them; bob offline, then delivery;
# the relay killed (kill -9) mid-way through a long message's pieces,
# then alice's service, then bob/tab's (the recipient's) killed mid-way:
# shown once and whole each time;
# the relay stores only pieces of one size. TAP. Cleans up after itself.
if [ -z "${LONG_NETNS:-}" ]; then
	# a network namespace of its own: no other test's relay shares
	# the port
	exec unshare --net env LONG_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
PORT=51961
. "$(dirname "$0")/commslib.sh"

# text N TAG: N bytes, starting with TAG, printable, no newline
text() {
	local t="$2-"
	while [ ${#t} -lt "$1" ]; do t="$t$(printf '%s' "$2 the quick brown fox 0123456789 ")"; done
	printf '%s' "${t:0:$1}"
}
# once NAME TEXT: the read file of NAME holds TEXT exactly once as a line
once() { [ "$(grep -Fxc -- "$2" "$W/$1.read")" = 1 ]; }
read_until() { # read_until NAME PATTERN N: read until N lines match
	: >"$W/$1.read"
	for _ in $(seq 300); do
		cm "$1" msg read >>"$W/$1.read" 2>/dev/null
		[ "$(grep -c -- "$2" "$W/$1.read")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
pieces_of() { # pieces_of NAME: "K/N" of the first long message going out
	cm "$1" status 2>/dev/null | awk '$1 == "out" && $4 == "pieces" { print $5; exit }'
}

for s in ${LONG_SUITES:-intl gm}; do
	comms_world $s
	comms_device alicetab alice tab
	comms_device bobtab bob tab
	relay_start
	ok $? "$s: relay starts" "$(cat "$W/relay.log")"
	for n in bob bobtab alicetab alice; do
		svc_start $n && wait_status $n "relay connected" && wait_published $n || break
	done
	ok $? "$s: four devices connect and publish" "$(tail -3 "$W"/*.log)"
	wait_status alice "own_devices 1"
	ok $? "$s: alice knows her other device" "$(cm alice status)"

	# the sizes, each to both of bob's devices
	for n in 768 769 5000 16000; do
		cm alice msg send bob "$(text $n L$n)" >/dev/null || break
	done
	ok $? "$s: 768, 769, 5,000 and 16,000 bytes are accepted" ""
	for d in bob bobtab; do
		read_until $d '^from alice' 4
		once $d "from alice: $(text 768 L768)" &&
			once $d "from alice: $(text 769 L769)" &&
			once $d "from alice: $(text 5000 L5000)" &&
			once $d "from alice: $(text 16000 L16000)" &&
			! grep -q REJECTED "$W/$d.read"
		ok $? "$s: $d reads each size whole, once" \
			"$(cut -c1-80 "$W/$d.read") / $(cm alice status | grep ^out)"
	done
	read_until alicetab '^sent to bob' 4
	once alicetab "sent to bob from alice: $(text 16000 L16000)" &&
		once alicetab "sent to bob from alice: $(text 5000 L5000)"
	ok $? "$s: alice/tab shows the long ones as sent (sent-message sync)" \
		"$(cut -c1-80 "$W/alicetab.read")"
	wait_status alice "outbox 0"
	ok $? "$s: alice's outbox is empty" "$(cm alice status | grep ^out)"

	# figures (printed, not asserted): send -> shown on bob/tab
	for n in 700 16000; do
		t0=$(date +%s%N)
		cm alice msg send bob/tab "$(text $n T$n)" >/dev/null
		read_until bobtab "^from alice: T$n" 1
		diag "$s: $n bytes: $((($(date +%s%N) - t0) / 1000000)) ms from msg send to msg read (polled every 0.1 s)"
	done

	# over the limit: one line, refused, nothing queued
	out=$(cm alice msg send bob "$(text 16001 over)" 2>&1)
	[ $? -ne 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && has "at most 16000 bytes" "$out"
	ok $? "$s: 16,001 bytes in argv refused in one line" "$out"
	out=$(text 16001 over | cm alice msg send bob - 2>&1)
	[ $? -ne 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && has "at most 16000 bytes" "$out"
	ok $? "$s: 16,001 bytes on stdin refused in one line" "$out"
	out=$(printf '' | cm alice msg send bob - 2>&1)
	[ $? -ne 0 ] && has "empty" "$out"
	ok $? "$s: an empty stdin refused" "$out"

	# a report from a file on stdin, several lines, shown indented
	{
		for i in $(seq 40); do echo "line $i of the report: $(text 60 r$i)"; done
		printf 'from bob: not a real header\n\033[31mred\n'
	} >"$W/report.txt"
	cm alice msg send bob/tab - <"$W/report.txt" >/dev/null
	read_until bobtab '^from alice: line 1 of' 1
	{
		printf 'from alice: '
		sed -e '1!s/^/  /' -e 's/\x1b/?/g' "$W/report.txt"
	} >"$W/report.want"
	diff <(grep -v '^from alice: L\|^$' "$W/bobtab.read") "$W/report.want" >/dev/null &&
		! grep -q '^from bob' "$W/bobtab.read" && ! grep -q $'\033' "$W/bobtab.read"
	ok $? "$s: a multi-line text from stdin: its later lines indented, no escape byte" \
		"$(diff <(grep -v '^from alice: L' "$W/bobtab.read") "$W/report.want" | head -8)"

	# order: short, long, short from one sender
	cm alice msg send bob/tab "order one" >/dev/null
	cm alice msg send bob/tab "$(text 9000 order-two)" >/dev/null
	cm alice msg send bob/tab "order three" >/dev/null
	read_until bobtab '^from alice: order' 3
	grep '^from alice: order' "$W/bobtab.read" | cut -c1-25 >"$W/order"
	[ "$(cat "$W/order")" = "$(printf '%s\n' "from alice: order one" "from alice: order-two-ord" "from alice: order three")" ]
	ok $? "$s: a long message between two short ones shows between them" "$(cat "$W/order")"

	# bob offline: stored by the relay, delivered whole when he is back
	svc_stop bob
	cm alice msg send bob "$(text 12000 offline)" >/dev/null
	wait_status alice "outbox 0"
	ok $? "$s: to offline bob: every piece stored by the relay" "$(cm alice status | grep ^out)"
	sizes=$(python3 -c '
import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(" ".join(sorted(set("%d" % r[0] for r in c.execute(
    "select length(blob) from msgs where recipient not like \"%/tab\"")))))
' "$W/store.db" 2>&1)
	[ "$sizes" = 1024 ]
	ok $? "$s: the relay holds only pieces of 1,024 bytes for bob" "$sizes"
	svc_start bob
	read_until bob '^from alice: offline' 1
	once bob "from alice: $(text 12000 offline)"
	ok $? "$s: bob back: the long message whole, once" "$(cut -c1-80 "$W/bob.read")"

	# the relay killed mid-way through the pieces
	cm alice msg send bob/tab "$(text 16000 killed)" >/dev/null
	for _ in $(seq 200); do
		k=$(pieces_of alice)
		[ -n "$k" ] && [ "${k%/*}" -ge 2 ] && break
		sleep 0.02
	done
	relay_stop 9
	diag "$s: relay killed with alice at pieces ${k:-?}"
	sleep 1
	relay_start
	read_until bobtab '^from alice: killed' 1
	sleep 2
	cm bobtab msg read >>"$W/bobtab.read"
	once bobtab "from alice: $(text 16000 killed)" && ! grep -q REJECTED "$W/bobtab.read"
	ok $? "$s: relay killed mid-way (at ${k:-?}): shown whole, once" \
		"$(cut -c1-80 "$W/bobtab.read") / $(cm alice status | grep ^out)"

	# alice's service killed mid-way: the outbox has the sealed message
	cm alice msg send bob/tab "$(text 16000 crashed)" >/dev/null
	for _ in $(seq 200); do
		k=$(pieces_of alice)
		[ -n "$k" ] && [ "${k%/*}" -ge 2 ] && break
		sleep 0.02
	done
	kill -9 "${SP[alice]}"
	wait "${SP[alice]}" 2>/dev/null
	unset "SP[alice]"
	svc_start alice
	read_until bobtab '^from alice: crashed' 1
	sleep 2
	cm bobtab msg read >>"$W/bobtab.read"
	once bobtab "from alice: $(text 16000 crashed)" && ! grep -q REJECTED "$W/bobtab.read"
	ok $? "$s: alice's service killed mid-way (at ${k:-?}): shown whole, once" \
		"$(cut -c1-80 "$W/bobtab.read") / $(cm alice status | grep ^out)"
	# bob/tab's service killed while the pieces come in: those kept
	# (acknowledged) are read back at the start, the rest arrive
	cm alice msg send bob/tab "$(text 16000 recipient)" >/dev/null
	for _ in $(seq 500); do
		k=$(ls "$W/bobtab/pieces" 2>/dev/null | wc -l)
		[ "$k" -ge 2 ] && break
		sleep 0.01
	done
	kill -9 "${SP[bobtab]}"
	wait "${SP[bobtab]}" 2>/dev/null
	unset "SP[bobtab]"
	k=$(ls "$W/bobtab/pieces" | wc -l)
	diag "$s: bob/tab killed with $k pieces kept"
	svc_start bobtab
	read_until bobtab '^from alice: recipient' 1
	sleep 2
	cm bobtab msg read >>"$W/bobtab.read"
	once bobtab "from alice: $(text 16000 recipient)" && ! grep -q REJECTED "$W/bobtab.read"
	ok $? "$s: bob/tab's service killed mid-way ($k pieces kept): shown whole, once" \
		"$(cut -c1-80 "$W/bobtab.read") / $(cm bobtab status | grep pieces)"
	# the crash between the inbox write and the seen marker, made by
	# hand: bob/tab's state as it was before a long message arrived
	# (sessions), the message's pieces as the relay held them, and the
	# inbox file of it written; at the start it must not show twice
	svc_stop bobtab
	cm alice msg send bob/tab "$(text 3000 window)" >/dev/null
	wait_status alice "outbox 0"
	rm -rf "$W/snap" && mkdir -p "$W/snap/pieces" && cp -a "$W/bobtab/sessions" "$W/snap/"
	python3 -c '
import os, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for snd, b in c.execute("select sender, blob from msgs where recipient like \"%/tab\" and sender like \"alice/%\""):
    name = "%s+%s+%02x" % (snd.replace("/", "+"), b[2:18].hex(), b[18] << 8 | b[19])
    fd = os.open(os.path.join(sys.argv[2], name), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b)
    os.close(fd)
' "$W/store.db" "$W/snap/pieces"
	svc_start bobtab
	for _ in $(seq 100); do
		ls "$W/bobtab/inbox" | grep -q . && [ -z "$(ls -A "$W/bobtab/pieces")" ] && break
		sleep 0.1
	done
	svc_stop bobtab
	k=$(ls "$W/snap/pieces" | wc -l)
	rm -f "$W"/bobtab/seen/alice+*"$(ls "$W/snap/pieces" | head -1 | awk -F+ '{ print $3 }')"
	rm -rf "$W/bobtab/sessions" && cp -a "$W/snap/sessions" "$W/bobtab/" &&
		cp -a "$W/snap/pieces/." "$W/bobtab/pieces/"
	svc_start bobtab
	read_until bobtab '^from alice: window' 1
	sleep 2
	cm bobtab msg read >>"$W/bobtab.read"
	[ "$k" -ge 3 ] && once bobtab "from alice: $(text 3000 window)" && ! grep -q REJECTED "$W/bobtab.read"
	ok $? "$s: a crash between the inbox and the seen marker ($k pieces): shown once" \
		"$(cut -c1-80 "$W/bobtab.read")"
	[ "$(stat_of bobtab pieces_incomplete)" = 0 ] && [ -z "$(ls -A "$W/bobtab/pieces")" ]
	ok $? "$s: nothing left in bob/tab's reassembly" "$(ls "$W/bobtab/pieces")"

	bad=$(find "$W/alice" "$W/bob" "$W/bobtab" -type f ! -perm 0600 | head -5)
	[ -z "$bad" ]
	ok $? "$s: every state file is 0600" "$bad"
	for n in alice alicetab bob bobtab; do svc_stop $n; done
	relay_stop TERM
done
finish
