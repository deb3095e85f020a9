#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Notifications end to end (issue 14 item 5; docs/shell.md
# "Notifications"), with twofoldd (display = shell) and twofold-shell as in
# test_alert.sh: the daemon starts a session bus and tf-notifyd in each
# persona; `notify-send` under `twofold run` reaches the daemon's store;
#  - personal in front: the banner's pixels, its text in `notify list`;
#  - secure in the background: only the redacted banner and answer, its
#    text in no log, no audit record, no NOTIFY_GET answer; Return on the
#    banner switches to secure, whose text is then shown in full;
#  - two banners: the latest on top and counted ("+1" drawn);
#  - a flood from personal: secure's notification still arrives and the
#    daemon answers meanwhile;
#  - tf-notifyd or dbus-daemon killed inside the persona: the daemon runs
#    on, starts them again, notifications work again.
. "$(dirname "$0")/../persona/lib.sh"
. "$(dirname "$0")/lib.sh"
: "${TF_NOTIFYD:?TF_NOTIFYD not set (run through meson test)}"
command -v notify-send >/dev/null && command -v dbus-daemon >/dev/null || {
	echo "1..0 # SKIP notify-send or dbus-daemon not installed (tools/deps.sh)"
	exit 0
}

SHUID=60143
SECRET="Witness GOLDFINCH-7731 at the harbour"
RGB_BANNER=2050a0
RGB_INK=fffff0
# the notifier where every persona sees it (the host's /usr, read-only;
# a gated persona runs nothing from its writable dirs)
NDIR=/usr/local/lib/twofold-test-notify.$$
mkdir -p "$NDIR" && cp "$TF_NOTIFYD" "$NDIR/tf-notifyd" || bail "cannot copy tf-notifyd"
EXTRA_CLEANUP="$EXTRA_CLEANUP; rm -rf $NDIR"
export TWOFOLD_NOTIFYD=$NDIR/tf-notifyd

shell_group tfnotify$$
setup_state
shell_conf
start_daemon || bail "daemon did not start"
enroll_unlock_secure || bail "enroll/unlock secure"

shell_dirs
# njson NAME FIELD: the persona's status "notify" member FIELD
njson() {
	tf --json status | python3 -c 'import json,sys
o = json.load(sys.stdin)
p = [p for p in o["personas"] if p["name"] == sys.argv[1]][0]
print(p.get("notify", {}).get(sys.argv[2], ""))' "$1" "$2"
}
wait_notifier() { for _ in $(seq 200); do [ "$(njson "$1" notifier)" = running ] && return 0; sleep 0.05; done; return 1; }
wait_kept() { for _ in $(seq 200); do [ "$(njson "$1" last_id)" -ge "$2" ] 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# the notifier owns its name on the bus (it connects after the bus is up)
wait_name() {
	for _ in $(seq 100); do
		tf run "$1" -- dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
			org.freedesktop.DBus.NameHasOwner string:org.freedesktop.Notifications 2>/dev/null |
			grep -q "boolean true" && return 0
		sleep 0.1
	done
	return 1
}
wait_notifier personal && wait_notifier secure
ok $? "the daemon started a bus and a notifier in each persona" "$(tf status 2>&1; tail -5 "$DLOG")"
wait_name personal && wait_name secure
ok $? "... each owns org.freedesktop.Notifications on its persona's bus"
env_out=$(tf run personal -- env 2>&1)
has "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus" "$env_out"
ok $? "apps get DBUS_SESSION_BUS_ADDRESS" "$env_out"

# ---- the shell, following the daemon (as test_alert.sh)
start_dshell --banner-seconds 120 || bail "shell did not start"
wait_st() { for _ in $(seq 200); do has "$1" "$(ctl status)" && return 0; sleep 0.05; done; return 1; }
# the banner's rows: under the bar, 2 x 12 + 3 lines of 9 x 3 px (720 wide)
BROWS="40 145"

tf switch personal >/dev/null || bail "switch personal"
wait_st "fg=personal" || bail "the shell did not follow the switch"
shot n0
[ "$(count n0 $RGB_BANNER)" = 0 ]
ok $? "no banner before any notification" "$(count n0 $RGB_BANNER)"
out=$(tf run personal -- notify-send "Lunch" "Pizza at noon" 2>&1)
ok $? "notify-send works under twofold run personal" "$out"
wait_kept personal 1
ok $? "... the daemon kept it" "$(tf status)"
has "notify=personal:1" "$(tf status)"
ok $? "... status says notify=personal:1" "$(tf status)"
out=$(tf notify list personal 2>&1)
has "Pizza at noon" "$out" && has "notify-send" "$out"
ok $? "notify list personal shows its text" "$out"
wait_st "banner=full:personal:1:"
ok $? "personal in front: the shell shows its banner in full" "$(ctl status)"
shot n1
[ "$(count n1 $RGB_BANNER $BROWS)" -gt 10000 ] && [ "$(count n1 $RGB_INK $BROWS)" -gt 100 ] &&
	[ "$(count n1 $RGB_BADGE $BROWS 0 16)" = 0 ]
ok $? "... its pixels under the bar: background and text, no trusted band" \
	"banner $(count n1 $RGB_BANNER $BROWS) ink $(count n1 $RGB_INK $BROWS) band $(count n1 $RGB_BADGE $BROWS 0 16)"

# the shell's NOTIFY_GETs so far (the daemon logs each request)
NGETS=$(grep -c "request notify get from uid $SHUID" "$DLOG")

# ---- secure in the background
out=$(tf run secure -- notify-send "Case" "$SECRET" 2>&1)
ok $? "notify-send works under twofold run secure" "$out"
wait_kept secure 1
ok $? "... the daemon kept it" "$(tf status)"
out=$(tf notify list secure 2>&1)
has "Secure: new message" "$out" && not_has "GOLDFINCH" "$out"
ok $? "notify list secure in the background: redacted only" "$out"
out=$(tf --json notify list 2>&1)
not_has "GOLDFINCH" "$out" && has '"view":"redacted"' "$out"
ok $? "... and in the JSON of every persona's" "$out"
wait_st "banner=redacted:secure:1:0"
ok $? "the shell shows secure's banner redacted, nothing fetched" "$(ctl status)"
shot n2
[ "$(count n2 $RGB_BANNER $BROWS)" -gt 10000 ] && [ "$(count n2 $RGB_INK $BROWS)" -gt 100 ] &&
	[ "$(count n2 $RGB_BADGE $BROWS 0 16)" -gt 1000 ]
ok $? "... its pixels: background, text and the trusted band" \
	"banner $(count n2 $RGB_BANNER $BROWS) ink $(count n2 $RGB_INK $BROWS) band $(count n2 $RGB_BADGE $BROWS 0 16)"
[ "$(grep -c "request notify get from uid $SHUID" "$DLOG")" = "$NGETS" ]
ok $? "... the shell did not ask for secure's text" "$(grep "notify get" "$DLOG")"
# two banners: the latest on top, "+1" at the banner's right (the 5x7
# font at 3 px a dot: columns 672..707), none there with one banner
has "banners=2" "$(ctl status)"
ok $? "... the latest on top, two counted" "$(ctl status)"
[ "$(count n2 $RGB_INK $BROWS 660 710)" -gt 0 ] && [ "$(count n1 $RGB_INK $BROWS 660 710)" = 0 ]
ok $? "... \"+1\" drawn at the banner's right" \
	"ink there $(count n2 $RGB_INK $BROWS 660 710), with one banner $(count n1 $RGB_INK $BROWS 660 710)"
# Return on the redacted banner: secure in front, then its text
on "$H_SOCK" wtype -k Return
wait_st "fg=secure" && wait_st "banner=full:secure:1:"
ok $? "Return on it: secure in front and its banner in full" "$(ctl status)"
out=$(tf notify list secure 2>&1)
has "GOLDFINCH" "$out"
ok $? "... notify list secure in front: the full text" "$out"
shot n3
[ "$(count n3 $RGB_INK $BROWS)" -gt "$(count n2 $RGB_INK $BROWS)" ]
ok $? "... more text on screen than the redacted line" "ink $(count n3 $RGB_INK $BROWS) was $(count n2 $RGB_INK $BROWS)"
tf switch personal >/dev/null
wait_st "fg=personal" && ! has "banner=full:secure" "$(ctl status)"
ok $? "secure to the background: its text leaves the screen" "$(ctl status)"

# ---- a flood from personal does not hold secure's back
tf run personal -- sh -c 'i=0; while [ $i -lt 500 ]; do notify-send "flood" "n $i" || exit 1; i=$((i+1)); done' >"$SH_DIR/flood.out" 2>&1 &
FPID=$!
BG_PIDS="$BG_PIDS $FPID"
sleep 1
before=$(njson secure last_id)
tf run secure -- notify-send "Case" "second" >/dev/null 2>&1
wait_kept secure $((before + 1))
ok $? "during a flood from personal, secure's notification arrives" "$(tf status)"
tf status >/dev/null
ok $? "... and the daemon answers" 
wait "$FPID"
rc=$?
ok $rc "... the flood's 500 notify-send were all answered" "$(tail -3 "$SH_DIR/flood.out")"
diag "personal after the flood: kept $(njson personal kept), last $(njson personal last_id), refused $(njson personal refused)"

# ---- a dead notifier or bus: the daemon goes on and starts them again
npid=$(pgrep -f "^$NDIR/tf-notifyd" -u $((PB + 1000)) | head -1)
[ -n "$npid" ] && kill -KILL "$npid"
ok $? "tf-notifyd in personal killed" "pid=$npid"
r0=$(njson personal restarts)
for _ in $(seq 100); do [ "$(njson personal restarts)" -gt "$r0" ] 2>/dev/null && break; sleep 0.05; done
tf status >/dev/null && wait_notifier personal && wait_name personal
ok $? "... the daemon answers and starts it again" "$(tf status)"
n0=$(njson personal last_id)
tf run personal -- notify-send "After" "restart" >/dev/null 2>&1 && wait_kept personal $((n0 + 1))
ok $? "... and notifications work again" "$(tf status)"
# a touch on a full banner (control `touch`, a headless touch device)
# dismisses it, as a pointer press does
wait_st "banner=full:personal:$((n0 + 1)):"
ok $? "... its banner in full" "$(ctl status)"
r=$(ctl touch down 1 360 90)$(ctl touch up 1)
wait_st "banner=- banners=0"
ok $? "a touch on the full banner dismisses it" "$r $(ctl status)"
bpid=$(pgrep -f "dbus-daemon --session --nofork --address unix:path=/run/user/1000/bus" -u $((SB + 1000)) | head -1)
[ -n "$bpid" ] && kill -KILL "$bpid"
ok $? "dbus-daemon in secure killed" "pid=$bpid"
sleep 0.5
tf status >/dev/null && wait_notifier secure && wait_name secure
ok $? "... the daemon answers and starts the bus and the notifier again" "$(tf status)"

zombies=$(ps -o stat= --ppid "$DPID" | grep -c '^Z')
[ "$zombies" = 0 ]
ok $? "... and it left no zombie behind" "$(ps -o pid,stat,args --ppid "$DPID")"

# ---- a lock wipes what was kept
tf lock secure >/dev/null
[ "$(njson secure kept)" = 0 ]
ok $? "a lock of secure clears its notifications" "$(tf status)"

# ---- the secret in no log
for f in "$DLOG" "$SH_LOG"; do
	! grep -q GOLDFINCH "$f"
	ok $? "the secure text is not in $(basename "$f")"
done
! tf audit show 2>&1 | grep -q GOLDFINCH
ok $? "... nor in the audit log"
finish
