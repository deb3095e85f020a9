#!/bin/bash
# SPDX-License-Identifier: ISC
# Who may ask what (issue 11 item 5): with device.conf control_group set,
# a member of that group may ask status, switch, lock (and --evict) and
# run, and is refused unlock, enroll, wipe and persona start/stop; a user
# outside the group is refused at connect (the socket is 0660 to the
# group); root may do everything; with no group configured a non-root
# user is refused as before. The users are numeric (setpriv), the group
# is made here and removed at the end.
. "$(dirname "$0")/../storage/lib.sh"

PIN=314159
GRP=tfperm$$
groupadd "$GRP" || bail "groupadd $GRP failed"
GID=$(getent group "$GRP" | cut -d: -f3)
EXTRA_CLEANUP="groupdel $GRP"
# a member of the group, and a user outside it (no accounts: numeric ids)
MEMBER="setpriv --reuid=60001 --regid=60001 --groups=$GID --"
OTHER="setpriv --reuid=60002 --regid=60002 --clear-groups --"
um() { $MEMBER "$TWOFOLD" --state "$S" "$@" 2>&1; }
uo() { $OTHER "$TWOFOLD" --state "$S" "$@" 2>&1; }
sstate() { tf status 2>/dev/null | awk '$1 == "secure" { print $2 }'; }
# expect_rc WANT DESC CMD...: CMD's exit code is WANT; its output in out
expect_rc() {
	local want=$1 d=$2
	shift 2
	out=$("$@" </dev/null)
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$d"; else nok "$d" "rc=$rc out=$out"; fi
}

init_state || bail "init failed"

# --- no group configured: today's behaviour
start_daemon || bail "daemon did not start"
expect_rc 1 "no control_group: a non-root user is refused" um status
check "... with permission denied" has "permission denied" "$out"
check "socket is 0600 root" [ "$(stat -c %a:%U "$S/control")" = 600:root ]
stop_daemon

# --- control_group set: the socket is the group's, the state dir 0710
sed -i "s/^#control_group =.*/control_group = $GRP/" "$S/device.conf"
chgrp "$GRP" "$S" && chmod 0710 "$S"
start_daemon || bail "daemon did not start with control_group"
check "socket is 0660 root:$GRP" \
	[ "$(stat -c %a:%U:%G "$S/control")" = "660:root:$GRP" ]
out=$(printf '%s\n%s\n' "$PIN" "$PIN" | tf enroll secure --pin-stdin 2>&1)
check "root: enroll secure" has "credential set" "$out"

expect_rc 0 "member: status" um status
check "... shows the personas" has "personal" "$out"
# net status and tunnel key are read-only (issue 12): members may ask
expect_rc 0 "member: net status" um net status --json
check "... shows the personas" has '"personas"' "$out"
expect_rc 0 "member: tunnel key" um tunnel key secure
check "... prints the suite and the key" has "intl " "$out"
expect_rc 1 "other: net status refused" uo net status
out=$(printf '%s\n' "$PIN" | um unlock secure --pin-stdin)
rc=$?
check "member: unlock refused" [ "$rc" = 1 ]
check "... permission denied" has "permission denied: only root" "$out"
check "... secure still locked" [ "$(sstate)" = no-credential -o "$(sstate)" = locked ]
out=$(printf '%s\n%s\n%s\n' "$PIN" 111111 111111 | um enroll secure --pin-stdin)
rc=$?
check "member: enroll (credential change) refused" [ "$rc" = 1 ]
check "... permission denied" has "permission denied" "$out"

out=$(printf '%s\n' "$PIN" | tf unlock secure --pin-stdin 2>&1)
check "root: unlock secure" has "unlocked" "$out"
expect_rc 0 "member: switch secure" um switch secure
expect_rc 0 "member: switch personal" um switch personal
expect_rc 0 "member: run an app in a running persona" um run personal -- true
expect_rc 1 "member: run as the persona's uid 0 refused" \
	um run --user 0 personal -- true
expect_rc 0 "member: lock secure (freeze)" um lock secure
check "... secure frozen" [ "$(sstate)" = frozen ]
expect_rc 0 "member: lock secure --evict" um lock secure --evict
check "... secure locked" [ "$(sstate)" = locked ]
expect_rc 1 "member: persona stop refused" um persona stop personal
check "... permission denied" has "permission denied" "$out"
expect_rc 1 "member: persona start refused" um persona start secure
expect_rc 1 "member: wipe refused" um wipe secure --yes
check "... permission denied" has "permission denied" "$out"
check "... secure not erased" [ "$(sstate)" = locked ]

expect_rc 1 "outside the group: refused at connect" uo status
check "... by the socket's mode" has "permission denied on" "$out"

# a root connection that leaked to another uid speaks with no more than
# that uid's rights, and as the datagrams do not carry its groups, with
# none: root connects, then the process becomes uid 60001 (a member) and
# asks UNLOCK (type 10) on it: refused, and the connection is closed
leaked() {
	python3 - "$S/control" "$GID" <<'PY'
import os, socket, struct, sys
def msg(t, body=b""):
    return struct.pack("<HBBHHI", 0x4654, 1, 0, t, 0, len(body)) + body
def text(data):
    off, out = 12, []
    while off + 8 <= len(data):
        a, _, n = struct.unpack_from("<HHI", data, off)
        if a == 11:
            out.append(data[off + 8:off + 8 + n].rstrip(b"\0").decode())
        if a == 10:
            out.append("errno=%d" % struct.unpack_from("<i", data, off + 8)[0])
        off += 8 + n
    return " | ".join(out)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
os.setgroups([int(sys.argv[2])])
os.setresgid(60001, 60001, 60001)
os.setresuid(60001, 60001, 60001)
s.send(msg(10, struct.pack("<HHI", 1, 0, 7) + b"secure\0"))
print("unlock:", text(s.recv(65536)))
print("then:", "closed" if s.recv(65536) == b"" else "open")
PY
}
out=$(leaked 2>&1)
diag "$out"
check "a root connection leaked to a member: refused" \
	has "unlock: errno=-1 | permission denied: only root and the members" "$out"
check "... and closed" has "then: closed" "$out"

# the refusals above are audited with the caller
out=$(tf audit show 2>&1)
check "the refusals are in the audit log with the caller" has "60001" "$out"

# root may do everything
expect_rc 0 "root: persona stop personal" tf persona stop personal
expect_rc 0 "root: persona start personal" tf persona start personal
expect_rc 0 "root: wipe secure" tf wipe secure --yes
check "... secure erased" [ "$(sstate)" = erased ]
stop_daemon

# a state dir open to the group for more than entering is refused
chmod 0750 "$S"
daemon_fg
check "state dir 0750 root:group refused" [ "$DRC" != 0 ]
check "... naming the mode" has "accessible by group" "$OUT"
chmod 0700 "$S"
finish
