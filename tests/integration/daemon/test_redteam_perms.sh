#!/bin/bash
# SPDX-License-Identifier: ISC
# Red team of issue 11's new surfaces (the control group, subscribe, the
# audit log): what a member of control_group must not be able to do.
#  - hold every connection slot, so that root cannot reach the daemon
#    (not even to unlock): E2 admits locking, not locking root out;
#  - make the daemon allocate 4 MiB per connection (a member's request is
#    bounded at 256 KiB);
#  - forge fields in `twofold audit show` with a '"' in a request
#    (an unknown persona's name is quoted into the refusal's message).
. "$(dirname "$0")/../storage/lib.sh"

GRP=tfred$$
groupadd "$GRP" || bail "groupadd $GRP failed"
GID=$(getent group "$GRP" | cut -d: -f3)
EXTRA_CLEANUP="groupdel $GRP"
MEMBER="setpriv --reuid=60001 --regid=60001 --groups=$GID --"

init_state || bail "init failed"
sed -i "s/^#control_group =.*/control_group = $GRP/" "$S/device.conf"
chgrp "$GRP" "$S" && chmod 0710 "$S"
start_daemon || bail "daemon did not start"

# --- a member holds as many connections as it can get
$MEMBER /usr/bin/python3 - "$S/control" >"$S.hold" 2>&1 <<'PY' &
import socket, sys, time
socks = []
for i in range(200):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sys.argv[1])
    except OSError as e:
        break
    socks.append(s)
print("held", len(socks), flush=True)
time.sleep(60)
PY
HOLD=$!
BG_PIDS="$HOLD"
for _ in $(seq 100); do grep -q held "$S.hold" && break; sleep 0.1; done
diag "$(cat "$S.hold")"
sleep 0.5 # the daemon accepts them all
out=$(tf status 2>&1)
rc=$?
check "a member holding connections: root's status is still answered" [ "$rc" = 0 ]
out=$($MEMBER "$TWOFOLD" --state "$S" status 2>&1)
diag "member, one more: $out"
kill -KILL "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
BG_PIDS=
sleep 0.3
check "after the member let go: status answered" tf status

# --- a member cannot make the daemon hold 4 MiB per connection: a
# request it announces is bounded at 256 KiB (root's at 4 MiB)
out=$($MEMBER /usr/bin/python3 "$(dirname "$0")/rawclient.py" "$S/control" onemib 2>&1)
diag "member, 1 MiB announced: $out"
check "a member's 1 MiB request is refused before it is allocated" \
	has "request larger than 262144 bytes" "$out"
check "root's status still answered after it" tf status

# --- a '"' in a refused request cannot forge fields in audit show
$MEMBER "$TWOFOLD" --state "$S" switch 'x" request=unlock errno=0 y="' >/dev/null 2>&1
$MEMBER "$TWOFOLD" --state "$S" lock 'q" forged=yes z="' >/dev/null 2>&1
out=$(tf audit show 2>&1 | grep request.refused | grep -F 'forged' | tail -1)
diag "$out"
check "the refusal is recorded" has "forged" "$out"
# the text form is KEY=VALUE separated by spaces, a value with a space or
# '"' in double quotes: a '"' inside must be escaped, or the line reads
# as carrying a field forged=yes
check "... and a '\"' in it is escaped (no forged field)" \
	has "message=\"unknown persona 'q\\\" forged=yes z=\\\"'" "$out"
out=$(tf audit show --json 2>&1 | grep request.refused | grep -F forged | tail -1)
diag "json: $out"
stop_daemon
finish
