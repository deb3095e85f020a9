#!/bin/bash
# SPDX-License-Identifier: ISC
# The audit log through the daemon (docs/audit.md): the daemon's security
# events appear in `twofold audit show` with their caller; `twofold audit
# verify` passes on the intact log (with the key in the state dir or from
# --key FILE) and exits 1 naming the record for a flipped byte, a removed
# record, a torn tail and a log cut at a record boundary; a restart after
# a torn tail records log.recovered and verifies again.
. "$(dirname "$0")/lib.sh"
echo "1..31"

init_state 64M || { nok "init"; exit 1; }
set_conf pin_min_digits 6
ok "init"
check "daemon starts" start_daemon
pin enroll 111111 >/dev/null
pin unlock 999999 >/dev/null
pin unlock 111111 >/dev/null
tf lock secure --evict >/dev/null 2>&1
tf switch secure >/dev/null 2>&1 # refused: locked
stop_daemon
L=$S/audit.log
show=$(tf audit show)
diag "$(tail -n 4 <<<"$show")"
line() { grep -Eq "$1" <<<"$show"; }
check "log.created first, then its checkpoint" \
	eval '[ "$(head -n 2 <<<"$show" | cut -d" " -f3 | tr "\n" " ")" = "log.created checkpoint " ]'
check "daemon.start and config.load" \
	eval 'line " daemon\.start .*suite=intl" && line " config\.load .*personas=2"'
check "credential.enroll with the caller" \
	line '^[0-9]+ [0-9T:.Z-]+ credential\.enroll persona=secure uid=0 pid=[0-9]+( |$)'
check "unlock.failed with the caller and the tries left" \
	line ' unlock\.failed persona=secure uid=0 pid=[0-9]+ errno=13 failures=1 '
check "unlock.ok" line ' unlock\.ok persona=secure uid=0 '
check "evict with its duration" line ' evict\.done persona=secure duration_ms=[0-9.]+ '
check "the refused switch, with the caller and the reason" \
	line ' request\.refused persona=secure uid=0 pid=[0-9]+ request=switch errno=13 reason=persona.locked message="secure is locked; '
check "persona.start and persona.stop" \
	eval 'line " persona\.start persona=personal " && line " persona\.stop persona=personal "'
check "daemon.stop, then the shutdown checkpoint last" \
	eval '[ "$(tail -n 2 <<<"$show" | cut -d" " -f3 | tr "\n" " ")" = "daemon.stop checkpoint " ]'
check "show --persona: only that persona" \
	eval '[ -n "$(tf audit show --persona secure)" ] && ! tf audit show --persona secure | grep -vq " persona=secure"'
check "show --json: one object per line" \
	eval 'tf audit show --json | head -n 1 | grep -q "^{\"seq\":0,\"time\":\"[0-9T:.Z-]*\",.*\"type\":\"log.created\",.*\"fields\":{\"suite\":\"intl\",\"pk\":\"[0-9a-f]*\"}}$"'
check "show --since in the future: nothing" eval '[ -z "$(tf audit show --since 2999-01-01)" ]'
check "show --since 1h: everything" \
	eval '[ "$(tf audit show --since 1h | wc -l)" = "$(wc -l <<<"$show")" ]'

out=$(tf audit verify 2>&1)
rc=$?
diag "$out"
check "verify: intact log passes" \
	eval '[ $rc = 0 ] && has "audit log verified: $(wc -l <<<"$show") records, " "$out"'
mv "$S/audit.verify" "$S.key"
out=$(tf audit verify --key "$S.key" 2>&1)
check "verify --key FILE (off the device): passes, MACs checked" \
	eval '[ $? = 0 ] && has "audit log verified" "$out" && ! has "MACs were not" "$out"'
out=$(tf audit verify 2>&1)
check "verify without a key: passes, says the MACs were not checked" \
	eval '[ $? = 0 ] && has "the MACs were not" "$out"'

# record N's start and end offsets (u32 length-prefixed records after an
# 8-byte header, each followed by 64 bytes of chain hash and MAC)
rec() {
	python3 - "$L" "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
off, offs = 8, []
while off + 4 <= len(d):
    n = struct.unpack('<I', d[off:off + 4])[0]
    offs.append((off, off + 4 + n + 64))
    off += 4 + n + 64
print(*offs[int(sys.argv[2])])
PY
}
verify() { tf audit verify --key "$S.key" 2>&1; }
cp "$L" "$S.orig"
N=$(grep -m1 -n ' unlock\.ok ' <<<"$show" | cut -d: -f1)
N=$((N - 1)) # its sequence number
read -r a b < <(rec "$N")
# flip one byte of its body (a bit of the type string)
printf "$(printf '\\%03o' $(( $(od -An -tu1 -j $((a + 62)) -N1 "$L") ^ 1 )))" |
	dd of="$L" bs=1 seek=$((a + 62)) conv=notrunc status=none
out=$(verify)
rc=$?
diag "$out"
check "flipped byte: exit 1, names the record" \
	eval '[ $rc = 1 ] && has "record $N: chain hash mismatch (edited or removed record)" "$out"'
cp "$S.orig" "$L"
# remove record N
{ head -c "$a" "$S.orig"; tail -c +$((b + 1)) "$S.orig"; } >"$L"
out=$(verify)
rc=$?
diag "$out"
check "removed record: exit 1, names the record" \
	eval '[ $rc = 1 ] && has "record $N: " "$out"'
# cut in the middle of the last record
size=$(stat -c %s "$S.orig")
head -c $((size - 10)) "$S.orig" >"$L"
out=$(verify)
rc=$?
diag "$out"
last=$(($(wc -l <<<"$show") - 1))
check "torn tail: exit 1, after the record before it" \
	eval '[ $rc = 1 ] && has "torn tail after record $((last - 1)) (crash?)" "$out"'
# cut at a record boundary: drop the shutdown checkpoint
read -r a b < <(rec "$last")
head -c "$a" "$S.orig" >"$L"
out=$(verify)
rc=$?
diag "$out"
check "cut at a record boundary: exit 1, truncated after a checkpoint" \
	eval '[ $rc = 1 ] && has "truncated after checkpoint" "$out"'
cp "$S.orig" "$L"
check "restored: verifies again (the checks above saw the edits only)" \
	eval 'verify | grep -q "audit log verified"'

# a crash mid-append: half a record at the end
printf '\xc8\x00\x00\x00partial' >>"$L"
out=$(verify)
check "half a record at the end: torn tail" has "torn tail after record $last" "$out"
check "daemon restarts over a torn tail" start_daemon
stop_daemon
out=$(verify)
diag "$out"
check "after the restart: verifies" has "audit log verified" "$out"
check "log.recovered says how many bytes were dropped" \
	grep -Eq '^[0-9]+ [0-9T:.Z-]+ log\.recovered dropped_bytes=11 reason=torn$' <<<"$(tf audit show)"
check "the daemon log does not carry audit errors" eval '! grep -q "audit log:" "$S.log"'

# a FIFO planted in place of the log or its key: refused, never a hang
cp "$L" "$S.orig"
rm -f "$L" && mkfifo "$L"
out=$(timeout 20 "$TWOFOLD" --state "$S" audit verify 2>&1)
rc=$?
diag "FIFO log, verify: $out"
check "audit verify on a FIFO: exit 1 at once, says so" \
	eval '[ $rc = 1 ] && has "not a regular file" "$out"'
timeout 20 "$TWOFOLDD" --state "$S" --audit-verify >/dev/null 2>&1
check "twofoldd --audit-verify on a FIFO: no hang" [ $? != 124 ]
rm -f "$L" && cp "$S.orig" "$L"
K=$S/audit.key
cp "$K" "$S.key.orig"
rm -f "$K" && mkfifo "$K"
start_daemon
check "daemon with a FIFO audit.key: starts (audit not recording), no hang" \
	tf status
stop_daemon
rm -f "$K" && cp "$S.key.orig" "$K"
rm -f "$S.orig" "$S.key.orig"
