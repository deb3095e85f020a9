#!/bin/bash
# SPDX-License-Identifier: ISC
# Scan throughput: twofold's library path (libclamav behind src/lib/scan,
# `twofold-scanner scanfiles`) against `clamscan`, same database, same
# files, one run each after a warm-up read (page cache hot for both).
# Both times include the engine load (tiny database: ~3 ms). clamscan gets
# the same limits and the same "a limit reached is an alert" rule
# (--alert-exceeds-max) as src/lib/scan (twofold/scan.h TF_SCAN_LIMITS):
# the same work, or the ratio compares two different scans.
# usage: TWOFOLD_SCANNER=build/src/scanner/twofold-scanner bench/apps/scan.sh [MB]
# Files: MB (default 64) of mixed content: /usr/bin ELF binaries, a few
# clamav-testfiles archives, text and random data, 1 MB each file at most.
set -u
SC=${TWOFOLD_SCANNER:?set TWOFOLD_SCANNER to twofold-scanner}
MB=${1:-64}
command -v clamscan >/dev/null || { echo "clamscan not installed" >&2; exit 1; }
T=$(mktemp -d /tmp/tfscanbench.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/db" "$T/f"
printf '%s\n' "44d88612fea8a8f36de82e1278abb02f:68:Tf.Bench.Eicar" >"$T/db/b.hdb"
echo "Tf.Bench.Marker:0:*:54574f464f4c442d4d41524b4552" >"$T/db/b.ndb"
n=0 tot=0
for f in /usr/bin/* /usr/share/clamav-testfiles/*.zip /usr/share/common-licenses/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	s=$(stat -c %s "$f")
	[ "$s" -le 1048576 ] || continue
	cp "$f" "$T/f/$n.bin"
	n=$((n + 1)) tot=$((tot + s))
	[ $tot -ge $((MB * 3 / 4 * 1048576)) ] && break
done
while [ $tot -lt $((MB * 1048576)) ]; do
	head -c 1048576 /dev/urandom >"$T/f/$n.rnd"
	n=$((n + 1)) tot=$((tot + 1048576))
done
cat "$T"/f/* >/dev/null
now() { date +%s.%N; }
"$SC" scanfiles "$T/db" "$T"/f/* >/dev/null # warm-up: both binaries and libclamav in the page cache
CS_OPTS=(--no-summary --alert-exceeds-max=yes --max-filesize=256M
	--max-scansize=1024M --max-recursion=16 --max-files=10000
	--max-scantime=120000)
clamscan "${CS_OPTS[@]}" -d "$T/db" "$T"/f/* >/dev/null 2>&1
# 5 rounds, alternating, medians: one run each swung 0.6x..2.1x on this
# shared 2-core machine
lt=() ct=()
for _ in 1 2 3 4 5; do
	t0=$(now); "$SC" scanfiles "$T/db" "$T"/f/* >"$T/lib.out"; t1=$(now)
	t2=$(now); clamscan "${CS_OPTS[@]}" -d "$T/db" "$T"/f/* >"$T/cs.out" 2>/dev/null; t3=$(now)
	lt+=("$(echo "$t1 - $t0" | bc -l)") ct+=("$(echo "$t3 - $t2" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
lib=$(median "${lt[@]}") cs=$(median "${ct[@]}")
mbs() { echo "scale=1; $tot / 1048576 / $1" | bc -l; }
printf '%-28s %8s %10s\n' "path ($n files, $((tot / 1048576)) MB)" "s" "MB/s"
printf '%-28s %8.3f %10s\n' "twofold (libclamav via lib)" "$lib" "$(mbs "$lib")"
printf '%-28s %8.3f %10s\n' "clamscan (anchor)" "$cs" "$(mbs "$cs")"
printf 'ratio (clamscan time / twofold time): %s\n' "$(echo "scale=2; $cs / $lib" | bc -l)"
