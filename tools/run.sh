#!/usr/bin/env bash
# The main job on the embedded default: install what is missing, build,
# create ./var on first run (device secret, config, 1 GiB sparse ext4
# image), then run the daemon in the foreground with both personas.
# Ctrl-C stops it cleanly. Each step says what it does; a failing step
# shows its output.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	# twofoldd creates namespaces, mounts and cgroups: root only. A
	# minimal root system has no sudo; a user's system usually does.
	if command -v sudo >/dev/null; then
		echo "twofold: not root: running again with sudo" >&2
		exec sudo TWOFOLD_STATE="${TWOFOLD_STATE:-}" bash "$0" "$@"
	fi
	echo "twofold: twofoldd creates namespaces, mounts and cgroups and" \
	     "must run as root (su -c 'bash tools/run.sh')" >&2
	exit 1
fi
# step TEXT CMD...: say what is done, run CMD quietly, show its output
# only when it fails
step() {
	local what=$1 log
	shift
	printf '== %s ... ' "$what"
	log=$(mktemp)
	if "$@" >"$log" 2>&1; then
		echo done
		rm -f "$log"
	else
		echo FAILED
		cat "$log" >&2
		rm -f "$log"
		exit 1
	fi
}
step "installing missing packages (tools/deps.sh)" bash tools/deps.sh
[ -d build ] || step "configuring the build (meson setup build)" meson setup build
step "building (meson compile -C build)" meson compile -C build
STATE=${TWOFOLD_STATE:-$PWD/var}
T=$PWD/build/src/cli/twofold
if [ -f "$STATE/device.conf" ]; then
	echo "== state $STATE exists (device.conf): using it"
else
	echo "== creating the state $STATE (twofold init)"
	# init's own "next:" hint names the daemon, which is started below
	"$T" --state "$STATE" init | grep -v '^next: '
fi
cat <<HINT
== starting twofoldd on $STATE (in the foreground; it logs here)

In another terminal try:
  $T --state $STATE status
  $T --state $STATE run personal -- sh
  $T --state $STATE enroll secure
  $T --state $STATE unlock secure
  $T --state $STATE switch secure
  $T --state $STATE lock secure --evict
Ctrl-C here stops the daemon (personas stop, keys leave the kernel).

HINT
exec "$PWD/build/src/daemon/twofoldd" --state "$STATE"
