#!/usr/bin/env bash
# Integration: "any number of personas >= 2 works" (issue 3). A third,
# device-bound persona is declared in device.conf; it starts with the
# daemon, runs apps in its own uid range and namespaces, and can be made
# foreground. TAP; cleans up after itself.
TEST_STATE_PREFIX=tfm
. "$(dirname "$0")/lib.sh"

tf init --size 64M >/dev/null || { echo "Bail out! init failed"; exit 1; }
# above the slots init picks ranges from (TF_UID_SLOT_*), so no overlap
printf '\n[persona games]\nuid_base = 2200000000\nmemory_max = 256M\nstorage_size = 24M\n' >>"$S/device.conf"
# a persona added to device.conf needs its own image first
out=$("$D" --state "$S" 2>&1)
check "a new persona without its image: refused, naming the command" \
	grep -q "games: its storage image .*/storage/games.img is missing (create the missing images with: twofold --state $S init --images)" <<<"$out"
out=$(tf init --images 2>&1)
check "init --images creates only the missing one" \
	bash -c "[ \"\$(wc -l <<<'$out')\" = 1 ] && grep -q 'games.img (24 MiB' <<<'$out'"
check "... allocated, 24 MiB" [ "$(stat -c %s "$S/storage/games.img")" = $((24 << 20)) ]
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
check "nothing mounted afterwards" [ -z "$(state_mounts)" ]
finish
