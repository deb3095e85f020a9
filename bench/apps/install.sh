#!/bin/bash
# SPDX-License-Identifier: ISC
#
# App install and launch (issue 13): `twofold app install` of a ~35 MB app
# (copy + verify in the package checker + catalog + mount into the running
# persona) next to `dpkg -i` of a .deb with the same files (built here with
# dpkg-deb), measured in the same run; and `twofold run --app` of an
# installed app next to `twofold run -- /bin/true`; and `flatpak install` of
# the same payload from a local repository (a minimal runtime and the app
# are built here with flatpak build-export: nothing is downloaded), in a
# private installation (FLATPAK_USER_DIR under the bench's temp dir), each
# round uninstalled again (flatpak prunes the objects, so every install
# pulls the whole payload).
#
# Usage (root): bench/apps/install.sh [BUILDDIR]   (default: build)
#   TF_BENCH_MB (default 35) payload size, TF_BENCH_RUNS (default 10)
#   installs each, TF_BENCH_LAUNCHES (default 200) launches each,
#   TF_BENCH_SCAN (default 1): personal gets a scanner database (a tiny
#   one, EICAR by hash), so every install scans the image's files; the
#   steps' times (copy, verify, mount, scan) come from
#   `twofold --json app install` and are printed apart (every version's
#   files differ: no install is answered from the scanner's cache).
# Needs: mkfs.erofs (erofs-utils), dpkg-deb, python3; flatpak (optional:
# its row is left out when it is missing).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${1:-$here/../../build}" && pwd)
T=$builddir/src/cli/twofold
D=$builddir/src/daemon/twofoldd
mb=${TF_BENCH_MB:-35}
runs=${TF_BENCH_RUNS:-10}
launches=${TF_BENCH_LAUNCHES:-200}

[ "$(id -u)" = 0 ] || { echo "bench/apps: needs root" >&2; exit 77; }
command -v mkfs.erofs >/dev/null || { echo "bench/apps: needs mkfs.erofs" >&2; exit 77; }

S=$(mktemp -d /tmp/tfbench-apps.XXXXXX)
W=$(mktemp -d /tmp/tfbench-apps-w.XXXXXX)
DPID=
cleanup() {
	set +e
	dpkg -r tfbench-app >/dev/null 2>&1
	if [ -n "$DPID" ]; then
		kill -TERM "$DPID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	[ -n "${TF_BENCH_KEEPLOG:-}" ] && cp "$S/daemon.log" /tmp/tfbench-apps.log
	rm -rf "$S" "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tf() { "$T" --state "$S" "$@"; }
now() { date +%s%N; }

# the payload: ~mb MB in 64 files of incompressible bytes, and an entry
mkdir -p "$W/tree/bin" "$W/tree/share"
for i in $(seq 64); do
	head -c $((mb * 1024 * 1024 / 64)) /dev/urandom >"$W/tree/share/f$i"
done
cp /bin/true "$W/tree/bin/main" # the same program as the anchor
PK=$(tf pkg keygen --out "$W/org.key")
for c in $(seq "$runs"); do
	# every version's files differ (a first byte each): each install is
	# a new app's full scan, not answered from the scanner's cache of
	# files it found clean
	for i in $(seq 64); do
		printf '%02x' "$c" | dd of="$W/tree/share/f$i" bs=1 seek=0 conv=notrunc status=none
	done
	printf 'name = org.bench\nversion_code = %s\nversion = %s\npersonas = personal\nentry = main=/bin/main\n' \
		"$c" "$c" >"$W/mf"
	tf pkg build "$W/tree" -o "$W/b-$c.tfa" --key "$W/org.key" --manifest "$W/mf" >/dev/null
done
printf 'org.bench 1 1000000 * personal\n' >"$W/list"
tf pkg catalog build "$W/list" -o "$W/cat" --key "$W/org.key" --seq 1 --expires 2099-01-01

# the same files as a .deb (no compression: dpkg's work, not xz's)
mkdir -p "$W/deb/DEBIAN" "$W/deb/opt/tfbench"
cp -r "$W/tree/." "$W/deb/opt/tfbench/"
printf 'Package: tfbench-app\nVersion: 1\nArchitecture: all\nMaintainer: bench <b@example.org>\nDescription: bench\n' \
	>"$W/deb/DEBIAN/control"
dpkg-deb -Znone --build "$W/deb" "$W/b.deb" >/dev/null

# the same files as a flatpak app on a minimal local runtime
fp=
if command -v flatpak >/dev/null; then
	fp=1
	export FLATPAK_USER_DIR=$W/flatpak
	mkdir -p "$W/fprt/files/bin" "$W/fprt/var"
	cp /bin/true "$W/fprt/files/bin/"
	printf '[Runtime]\nname=org.tfbench.Platform\nruntime=org.tfbench.Platform/x86_64/1\nsdk=org.tfbench.Platform/x86_64/1\n' \
		>"$W/fprt/metadata"
	flatpak build-export --runtime --files=files --disable-sandbox "$W/fprepo" "$W/fprt" 1 >/dev/null 2>&1
	flatpak build-update-repo "$W/fprepo" >/dev/null 2>&1
	flatpak --user remote-add --no-gpg-verify tfbench "file://$W/fprepo"
	flatpak --user install -y --noninteractive tfbench org.tfbench.Platform >/dev/null 2>&1
	flatpak build-init "$W/fpapp" org.tfbench.App org.tfbench.Platform org.tfbench.Platform 1 >/dev/null
	cp -r "$W/tree/." "$W/fpapp/files/"
	flatpak build-finish "$W/fpapp" --command=main >/dev/null 2>&1
	flatpak build-export --disable-sandbox "$W/fprepo" "$W/fpapp" 1 >/dev/null 2>&1
	flatpak build-update-repo "$W/fprepo" >/dev/null 2>&1
fi

tf init --size 512M >/dev/null
sed -i 's/^kdf_target_ms = .*/kdf_target_ms = 20/;
	s/^kdf_min_mem_mib = .*/kdf_min_mem_mib = 8/;
	s/^allow_weak_credentials = .*/allow_weak_credentials = yes/' "$S/device.conf"
sed -i "/^\[persona personal\]/,/^\[/ s|^#\?app_trust =.*|app_trust = $PK|;
	/^\[persona personal\]/,/^\[/ s|^#\?app_catalog =.*|app_catalog = $W/cat|" "$S/device.conf"
if [ "${TF_BENCH_SCAN:-1}" = 1 ]; then
	mkdir -p "$W/db"
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-' \
		'ANTIVIRUS-TEST-FILE!$H+H*' | md5sum | sed 's/ .*/:68:Tf.Bench.Eicar/' >"$W/db/b.hdb"
	DBPK=$("$builddir/src/scanner/twofold-scanner" keygen --out "$W/db.key")
	tf pkg scandb "$W/db" -o "$W/db.tfdb" --key "$W/db.key" >/dev/null
	sed -i "/^\[persona personal\]/a scan_db = $W/db.tfdb\nscan_trust = $DBPK" "$S/device.conf"
fi
"$D" --state "$S" 2>"$S/daemon.log" &
DPID=$!
for _ in $(seq 100); do tf status >/dev/null 2>&1 && break; sleep 0.05; done

echo "apps bench: ${mb} MB payload, $runs installs, $launches launches, $(uname -r), $(nproc) cores" >&2
ti=0 td=0 tfp=0
for c in $(seq "$runs"); do
	if [ -n "$fp" ]; then
		t0=$(now)
		flatpak --user install -y --noninteractive tfbench org.tfbench.App >/dev/null 2>&1
		t1=$(now)
		tfp=$((tfp + t1 - t0))
		flatpak --user uninstall -y --noninteractive org.tfbench.App >/dev/null 2>&1
	fi
	t0=$(now); tf --json app install personal "$W/b-$c.tfa" >>"$W/steps"; t1=$(now)
	ti=$((ti + t1 - t0))
	t0=$(now); dpkg -i "$W/b.deb" >/dev/null 2>&1; t1=$(now)
	td=$((td + t1 - t0))
	dpkg -r tfbench-app >/dev/null 2>&1
done
tr=0 ta=0
for _ in $(seq "$launches"); do
	t0=$(now); tf run personal -- /bin/true; t1=$(now); tr=$((tr + t1 - t0))
	t0=$(now); tf run personal --app org.bench; t1=$(now); ta=$((ta + t1 - t0))
done
python3 - "$ti" "$td" "$runs" "$tr" "$ta" "$launches" "$W/steps" "$tfp" <<'P'
import json, sys
ti, td, n, tr, ta, l = map(int, sys.argv[1:7])
st = [json.loads(x) for x in open(sys.argv[7]) if x.strip()]
tfp = int(sys.argv[8])
def mean(k): return sum(x[k] for x in st) / max(len(st), 1)
print("| what | mean |")
print("|---|---|")
print(f"| twofold app install (copy, verify, catalog, mount; warm cache) | {ti/n/1e6:.1f} ms |")
print(f"| dpkg -i, same files (warm cache) | {td/n/1e6:.1f} ms ({td/ti:.2f}x twofold) |")
if tfp:
    print(f"| flatpak install, same files, local repo (warm cache) | {tfp/n/1e6:.1f} ms ({tfp/ti:.2f}x twofold) |")
for k, what in (("copy_ms", "copy in + fdatasync"), ("verify_ms", "verify (checker: spawn, parse, hash)"),
                ("mount_ms", "detached erofs mount"), ("scan_ms", "scan (libclamav, every file)")):
    print(f"| ... of which {what} | {mean(k):.1f} ms |")
sc = mean("scan_ms") * 1e6
if sc > 0:
    print(f"| twofold app install without the scan | {(ti/n - sc)/1e6:.1f} ms ({td/(ti - sc*n):.2f}x faster than dpkg -i) |")
    if tfp:
        print(f"| ... vs flatpak install | {tfp/(ti - sc*n):.2f}x |")
    print(f"| scan throughput in the install | {mean('scanned_bytes')/1e6/(mean('scan_ms')/1e3):.0f} MB/s over {mean('files'):.0f} files |")
print(f"| twofold run -- /bin/true | {tr/l/1e6:.2f} ms |")
print(f"| twofold run --app (entry: a copy of /bin/true) | {ta/l/1e6:.2f} ms (+{(ta-tr)/l/1e6:.2f} ms) |")
P
