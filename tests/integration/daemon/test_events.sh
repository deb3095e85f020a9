#!/bin/bash
# SPDX-License-Identifier: ISC
# Events (issue 11 item 5): `twofold status --watch` prints the status,
# then one line per state change in the order they happen (unlock, key
# loaded, switch, lock, evict, key removed, a wrong credential's
# throttle); --json gives one JSON object per line. A subscriber that
# never reads does not stall the daemon: status is answered for others
# meanwhile, and once the subscriber has left enough unread it is
# dropped with a last event that says so. Order is checked, never time.
. "$(dirname "$0")/../storage/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

PIN=314159
W=$S.watch
WJ=$S.watchj
sstate() { tf status 2>/dev/null | awk '$1 == "secure" { print $2 }'; }
# wait_line FILE PATTERN: until FILE has a line with PATTERN (10 s at most)
wait_line() {
	for _ in $(seq 500); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}
# in_order FILE PATTERN...: each PATTERN on a later line than the one before
in_order() {
	local f=$1 last=0 n
	shift
	for p in "$@"; do
		n=$(grep -nF -- "$p" "$f" | cut -d: -f1 |
			awk -v l="$last" '$1 > l { print; exit }')
		[ -n "$n" ] || {
			diag "not after line $last: $p"
			return 1
		}
		last=$n
	done
}

init_state || bail "init failed"
start_daemon || bail "daemon did not start"
out=$(printf '%s\n%s\n' "$PIN" "$PIN" | tf enroll secure --pin-stdin 2>&1)
check "enroll secure" has "credential set" "$out"

tf status --watch >"$W" 2>&1 &
WPID=$!
tf status --watch --json >"$WJ" 2>&1 &
WJPID=$!
BG_PIDS="$WPID $WJPID"
check "watch prints the status first" wait_line "$W" "PERSONA"
check "json watch prints the status first" wait_line "$WJ" '"personas"'

out=$(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure" has "unlocked" "$out"
tf switch secure >/dev/null
tf lock secure >/dev/null
tf lock secure --evict >/dev/null
printf '000000\n' | tf unlock secure --pin-stdin >/dev/null 2>&1
check "the last event arrives" wait_line "$W" "throttle secure"
check "events in order" in_order "$W" \
	"state secure unlocking (was locked)" "key secure loaded" \
	"state secure running (was unlocking)" "foreground secure" \
	"state secure freezing (was running)" \
	"state secure frozen (was freezing)" \
	"state secure stopping (was frozen)" "key secure removed" \
	"state secure locked (was stopping)" \
	"state secure unlocking (was locked)" \
	"state secure locked (was unlocking)" \
	"throttle secure wrong credential: 1 failed"
# the foreground leaves as the lock begins; "frozen" may come before or
# after that move (a persona with few processes freezes at once)
check "... the foreground goes to personal after the lock began" \
	in_order "$W" "state secure freezing (was running)" "foreground personal"
check "json watch: the last event arrives" wait_line "$WJ" '"event":"throttle"'
out=$(tail -n +2 "$WJ" | python3 -c 'import json, sys
evs = [json.loads(l) for l in sys.stdin]
seqs = [e["seq"] for e in evs]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
print(" ".join(e["event"] + ":" + str(e.get("state", e.get("key", e.get("foreground", "")))) for e in evs))' 2>&1)
check "json watch: one object per line, seq increasing" [ $? = 0 ]
check "... with the state, key and foreground events" \
	eval 'has "state:unlocking key:loaded state:running foreground:secure state:freezing foreground:personal state:frozen" "$out" ||
		has "state:unlocking key:loaded state:running foreground:secure state:freezing state:frozen foreground:personal" "$out"'
check "status is one JSON object on one line" \
	python3 -c 'import json, sys; json.loads(open(sys.argv[1]).readline())' "$WJ"

# --- a subscriber that never reads
out=$(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin 2>&1)
check "unlock secure again" has "unlocked" "$out"
python3 "$HERE/stallsub.py" "$S/control" "$S.go" >"$S.stall" 2>&1 &
SPID=$!
BG_PIDS="$BG_PIDS $SPID"
check "the stalled subscriber subscribed" wait_line "$S.stall" subscribed
answered=0
dropped=no
for i in $(seq 400); do
	if [ $((i % 2)) = 0 ]; then tf switch secure >/dev/null; else tf switch personal >/dev/null; fi
	tf status >/dev/null && answered=$((answered + 1))
	if grep -q "subscriber pid $SPID .*dropped" "$DLOG"; then
		dropped=yes
		break
	fi
done
diag "switches until the stalled subscriber was dropped: $i"
check "status answered all along the stall" [ "$answered" = "$i" ]
check "the stalled subscriber is dropped" [ "$dropped" = yes ]
touch "$S.go"
wait "$SPID"
out=$(cat "$S.stall")
diag "$out"
check "... its last event says so (ENOBUFS), then EOF" \
	has "last_errno=-105 eof=yes" "$out"
check "the reading watch is still there" kill -0 "$WPID"
tf switch secure >/dev/null
check "... and still gets events" wait_line "$W" "foreground secure"
kill "$WPID" "$WJPID"
wait "$WPID" "$WJPID" 2>/dev/null
BG_PIDS=
finish
