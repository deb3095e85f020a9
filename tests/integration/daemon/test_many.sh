#!/usr/bin/env bash
# Integration: "any number of personas >= 2 works" (issue 3). A third,
# device-bound persona is declared in device.conf; it starts with the
# daemon, runs apps in its own uid range and namespaces, and can be made
# foreground. TAP; cleans up after itself.
set -u
T=${TWOFOLD:?}; D=${TWOFOLDD:?}
S=$(mktemp -d /tmp/tfm.XXXXXX)
DPID=
n=0; fails=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); fails=$((fails+1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name" "${out:-}"; fi; }
cleanup() {
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		kill "$DPID"; wait "$DPID" 2>/dev/null
	fi
	mountpoint -q "$S/mnt" 2>/dev/null && umount -l "$S/mnt"
	rm -rf "$S" "$S.log"
}
trap cleanup EXIT
tf() { "$T" --state "$S" "$@"; }

tf init --size 64M >/dev/null || { echo "Bail out! init failed"; exit 1; }
# above the slots init picks ranges from (TF_UID_SLOT_*), so no overlap
printf '\n[persona games]\nuid_base = 2200000000\nmemory_max = 256M\n' >>"$S/device.conf"
"$D" --state "$S" 2>"$S.log" & DPID=$!
for _ in $(seq 100); do tf status >/dev/null 2>&1 && break; sleep 0.05; done

out=$(tf persona list 2>&1)
check "three personas listed" [ "$(wc -l <<<"$out")" -eq 3 ]
check "the third one starts with the daemon" grep -q "^games running" <<<"$out"
out=$(tf run games -- hostname 2>&1)
check "its hostname is its name" [ "$out" = games ]
out=$(tf run games -- cat /proc/self/uid_map 2>&1)
check "its own host uid range" grep -Eq "^ +0 +2200000000 +65536$" <<<"$out"
a=$(tf run games -- readlink /proc/self/ns/pid)
b=$(tf run personal -- readlink /proc/self/ns/pid)
check "its own pid namespace" [ -n "$a" -a "$a" != "$b" ]
tf run games -- sh -c 'echo g > /home/app/mine'
out=$(tf run personal -- cat /home/app/mine 2>&1)
check "its files are not personal's" [ $? -ne 0 ]
out=$(tf switch games 2>&1)
check "switch to it" grep -q "games is now foreground" <<<"$out"
out=$(tf persona list)
check "it is foreground, personal is not" \
	bash -c "grep -q '^games running foreground' <<<'$out' && ! grep -q '^personal .*foreground' <<<'$out'"
kill "$DPID"; wait "$DPID"; r=$?; DPID=
check "clean exit" [ $r -eq 0 ]
check "nothing mounted afterwards" bash -c "! mountpoint -q $S/mnt"
echo "1..$n"
exit $((fails > 0))
