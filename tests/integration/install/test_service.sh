#!/usr/bin/env bash
# Integration: twofoldd as systemd runs it (dist/systemd/twofoldd.service),
# without systemd: readiness through NOTIFY_SOCKET (READY=1, STOPPING=1),
# "<N>" syslog priorities when stderr is the journal stream
# (JOURNAL_STREAM), the unit's bounding set and NoNewPrivileges (setpriv),
# SIGHUP logged and ignored, signals by name, and the ExecStop helper
# evicting every credential-bound persona. TAP. Cleans up (tap.sh).
. "$(dirname "$0")/../tap.sh"
: "${SOURCE_ROOT:?}" "${BUILD_ROOT:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
UNIT=$SOURCE_ROOT/dist/systemd/twofoldd.service.in
EVICT=$BUILD_ROOT/dist/twofoldd-evict
new_state tfsvc
NS=$S.notify
NPID=
EXTRA_CLEANUP='[ -n "$NPID" ] && kill "$NPID" 2>/dev/null; rm -f "$NS" "$NS.log" "$S.2"'
init_state || bail "twofold init failed"

# a stand-in for systemd's notify socket: each datagram one line
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n")
        f.flush()
' "$NS" "$NS.log" &
NPID=$!
for _ in $(seq 100); do [ -S "$NS" ] && break; sleep 0.05; done

# the unit's CapabilityBoundingSet=~... as setpriv's drop list
drop=$(sed -n 's/^CapabilityBoundingSet=~//p' "$UNIT" | tr ' ' '\n' |
	sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/-/' | paste -sd,)
[ -n "$drop" ]
ok $? "the unit drops capabilities from the bounding set" "$drop"
grep -qx 'NoNewPrivileges=yes' "$UNIT"
ok $? "the unit sets NoNewPrivileges"

: >"$S.log"
DLOG=$S.log
NOTIFY_SOCKET=$NS JOURNAL_STREAM=$(stat -c %d:%i "$DLOG") \
	setpriv --no-new-privs --bounding-set="$drop" \
	"$TWOFOLDD" --state "$S" 2>>"$DLOG" &
DPID=$!
for _ in $(seq 200); do
	grep -q READY=1 "$NS.log" 2>/dev/null && break
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.05
done
if [ "$TF_SD_NOTIFY" = 1 ]; then
	grep -q 'READY=1' "$NS.log" 2>/dev/null
	ok $? "READY=1 on NOTIFY_SOCKET" "$(cat "$NS.log" 2>/dev/null; tail -3 "$DLOG")"
else
	ok 0 "READY=1 # SKIP built without libsystemd"
	sleep 2
fi
out=$(tf status 2>&1)
has "personal" "$out" && has "running" "$out"
ok $? "under the unit's bounding set and no_new_privs: personal runs" "$out $(tail -3 "$DLOG")"
out=$(tf run personal -- sh -c 'echo hi' 2>&1)
[ "$out" = hi ]
ok $? "an app runs" "$out"
grep -q '^<6>twofoldd: ready: ' "$DLOG"
ok $? "journal stream: info lines start <6>" "$(head -3 "$DLOG")"
! grep -v '^<[0-7]>' "$DLOG" | grep -q .
ok $? "journal stream: every line has a priority" "$(grep -v '^<[0-7]>' "$DLOG" | head -3)"

# an error is filed as an error: a second daemon on the same state
: >"$S.2"
JOURNAL_STREAM=$(stat -c %d:%i "$S.2") "$TWOFOLDD" --state "$S" 2>>"$S.2"
grep -q '^<3>twofoldd: error: another twofoldd is already serving' "$S.2"
ok $? "journal stream: an error line starts <3>" "$(cat "$S.2")"
# JOURNAL_STREAM inherited but stderr elsewhere: the plain format
: >"$S.2"
JOURNAL_STREAM=$(stat -c %d:%i "$DLOG") "$TWOFOLDD" --state "$S" 2>>"$S.2"
grep -q '^twofoldd: error: another twofoldd' "$S.2"
ok $? "stderr not the journal stream named: no prefix" "$(cat "$S.2")"

# --- SIGHUP: logged, ignored; nothing stops
kill -HUP "$DPID"
for _ in $(seq 100); do grep -q 'SIGHUP' "$DLOG" && break; sleep 0.05; done
grep -qF '<6>twofoldd: SIGHUP: ignored (device.conf is read at start; restart twofoldd to apply changes)' "$DLOG"
ok $? "SIGHUP: logged as ignored" "$(tail -3 "$DLOG")"
out=$(tf status 2>&1)
kill -0 "$DPID" 2>/dev/null && has running "$out"
ok $? "SIGHUP: the daemon and its personas keep running" "$out"

# --- ExecStop helper: every credential persona evicted
out=$(printf '111111\n111111\n' | tf enroll secure --pin-stdin 2>&1) &&
	out=$(printf '111111\n' | tf unlock secure --pin-stdin 2>&1)
ok $? "secure enrolled and unlocked" "$out"
sstate() { tf status 2>/dev/null | awk '$1 == "secure" { print $2 }'; }
[ "$(sstate)" = running ]
ok $? "secure running before the stop" "$(tf status 2>&1)"
out=$(TWOFOLD_STATE=$S TWOFOLD_CLI=$TWOFOLD sh "$EVICT" 2>&1)
rc=$?
[ $rc = 0 ] && has "secure: evicted" "$out" && [ "$(sstate)" = locked ] && not_has personal "$out"
ok $? "ExecStop helper: secure (credential = yes) evicted, personal left" "rc=$rc $out; $(tf status 2>&1)"
out=$(TWOFOLD_STATE=$S TWOFOLD_CLI=$TWOFOLD sh "$EVICT" 2>&1)
ok $? "ExecStop helper again: an evicted persona is no failure" "$out"
out=$(TWOFOLD_STATE=$S.nosuch TWOFOLD_CLI=$TWOFOLD sh "$EVICT" 2>&1)
ok $? "ExecStop helper without a state: nothing to do, exit 0" "$out"

# --- SIGTERM: named, STOPPING=1, clean exit
kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=
grep -q '^<6>twofoldd: SIGTERM: shutting down' "$DLOG"
ok $? "SIGTERM by name in the log" "$(tail -4 "$DLOG")"
[ $rc = 0 ]
ok $? "clean exit 0" "rc=$rc"
if [ "$TF_SD_NOTIFY" = 1 ]; then
	grep -q 'STOPPING=1' "$NS.log"
	ok $? "STOPPING=1 on NOTIFY_SOCKET" "$(cat "$NS.log")"
fi
finish
