# SPDX-License-Identifier: ISC
# Shared helpers of the storage integration tests (sourced, not run).
# Each test gets its own state directory (S, made here) and its own
# daemon; the TAP primitives, the daemon helpers and the EXIT trap that
# kills what the test started, unmounts and removes the state even when
# the test fails half-way are ../tap.sh's.

. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

# a daemon SIGKILLed by a test leaves mounts: cleanup lets a clean start +
# stop remove them before it removes what is still there
CLEAN_RESTART=1
new_state tfi

pin() { printf '%s\n' "$2" | tf "$1" secure --pin-stdin 2>&1; }

# Run the daemon in the foreground, expecting it to refuse to start;
# its stderr goes to $OUT, its status to DRC.
daemon_fg() {
	OUT=$(timeout 30 "$TWOFOLDD" --state "$S" 2>&1)
	DRC=$?
}

# The image of persona $1 (storage/NAME.img).
img() { echo "$S/storage/$1.img"; }
