#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# tf-notifyd, a persona's org.freedesktop.Notifications server (issue 14
# item 5; docs/shell.md "Notifications"), on a private session bus in a
# temp dir, its fd 3 a file or a pipe standing in for the daemon's end:
#  - notify-send's summary and body arrive as one TFNT record, urgency
#    kept, UTF-8 and control bytes as '?', the body's newline kept;
#  - without fd 3 it refuses to start; a second one cannot own the name;
#  - a flood while the reader is stalled: every Notify() is still answered
#    (records dropped, counted), and the notifier exits once its reader is
#    gone; no notification text in its log.
. "$(dirname "$0")/../tap.sh"

: "${TF_NOTIFYD:?TF_NOTIFYD not set (run through meson test)}"
for t in notify-send dbus-daemon; do
	command -v "$t" >/dev/null || {
		echo "1..0 # SKIP $t not installed (tools/deps.sh)"
		exit 0
	}
done

D=$(mktemp -d /tmp/tfnotify.XXXXXX)
EXTRA_CLEANUP='rm -rf "$D"'
export DBUS_SESSION_BUS_ADDRESS=unix:path=$D/bus
dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork \
	--nopidfile 2>"$D/dbus.log" &
BG_PIDS=$!
for _ in $(seq 50); do [ -S "$D/bus" ] && break; sleep 0.1; done
[ -S "$D/bus" ] || bail "dbus-daemon did not start: $(cat "$D/dbus.log")"

# wait_owned: until the name has an owner (notify-send would else fail)
wait_owned() {
	for _ in $(seq 50); do
		dbus-send --session --print-reply --dest=org.freedesktop.DBus \
			/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
			string:org.freedesktop.Notifications 2>/dev/null |
			grep -q 'boolean true' && return 0
		sleep 0.1
	done
	return 1
}

out=$("$TF_NOTIFYD" 2>&1 3>&-)
[ $? -ne 0 ]
ok $? "without fd 3 it refuses to start"
check "it says why" has "fd 3 is not open" "$out"

"$TF_NOTIFYD" 3>"$D/rec" 2>"$D/n1.log" &
N1=$!
BG_PIDS="$BG_PIDS $N1"
wait_owned || bail "tf-notifyd did not own org.freedesktop.Notifications"

notify-send -u critical -a mailer "Hello $(printf '\xc3\xa9')x" \
	"$(printf 'line one\nline\033two')"
ok $? "notify-send is answered"
for _ in $(seq 50); do [ -s "$D/rec" ] && break; sleep 0.1; done
rec=$(od -An -c "$D/rec" | tr -s ' \n' ' ')
check "one record, urgency critical, the app name" \
	has 'T F N T 001 002 006 \0 \0 \b \0 021 m a i l e r' "$rec"
check "the summary, UTF-8 as '?'" has 'H e l l o ? x' "$rec"
check "the body, newline kept, ESC as '?'" \
	has 'l i n e o n e \n l i n e ? t w o' "$rec"

"$TF_NOTIFYD" 3>/dev/null 2>"$D/n2.log"
[ $? -ne 0 ]
ok $? "a second notifier cannot own the name"
check "it says why" has "cannot own org.freedesktop.Notifications" "$(cat "$D/n2.log")"
kill "$N1"
wait "$N1" 2>/dev/null

# the flood: a reader that never reads; 1000-byte bodies fill the 64 KiB
# pipe after about 60 records
mkfifo "$D/fifo"
(exec sleep 600) <"$D/fifo" &
RP=$!
BG_PIDS="$BG_PIDS $RP"
"$TF_NOTIFYD" 3>"$D/fifo" 2>"$D/n3.log" &
N3=$!
BG_PIDS="$BG_PIDS $N3"
wait_owned || bail "tf-notifyd (flood) did not own the name"
BIG=$(printf 'FLOODTEXT%.0s' $(seq 110))
fails=0
for i in $(seq 100); do
	notify-send "flood $i" "$BIG" || fails=$((fails + 1))
done
ok "$fails" "100 notifications to a stalled reader are all answered"
kill "$RP"
wait "$RP" 2>/dev/null
for _ in $(seq 50); do kill -0 "$N3" 2>/dev/null || break; sleep 0.1; done
wait "$N3"
ok $? "the notifier exits once its reader is gone"
check "it counted the dropped records" has "notifications dropped" "$(cat "$D/n3.log")"
logs=$(cat "$D"/n*.log "$D/dbus.log")
check "no body text in any log" not_has "FLOODTEXT" "$logs"
check "no body text in any log (2)" not_has "line one" "$logs"
finish
