#!/usr/bin/env bash
# The main job on the embedded default: install, build, create ./var on
# first run (device secret, config, 1 GiB sparse ext4 image), then run the
# daemon in the foreground with both personas. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "twofold: twofoldd creates namespaces, mounts and cgroups and" \
	     "must run as root (sudo bash tools/run.sh)" >&2
	exit 1
fi
bash tools/deps.sh
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null
STATE=${TWOFOLD_STATE:-$PWD/var}
T=$PWD/build/src/cli/twofold
[ -f "$STATE/device.conf" ] || "$T" --state "$STATE" init
cat <<HINT

twofoldd is starting on $STATE. In another terminal try:
  $T --state $STATE status
  $T --state $STATE run personal -- sh
  $T --state $STATE enroll secure
  $T --state $STATE unlock secure
  $T --state $STATE switch secure
  $T --state $STATE lock secure --evict
Ctrl-C here stops the daemon (personas stop, keys leave the kernel).

HINT
exec "$PWD/build/src/daemon/twofoldd" --state "$STATE"
