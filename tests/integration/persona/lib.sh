# SPDX-License-Identifier: ISC
# Shared by the persona (and adversary) integration tests (sourced, not
# run). The TAP primitives, the daemon helpers and the cleanup that leaves
# nothing behind are ../tap.sh's; this adds the persona tests' state
# (128 MiB images) and an enrolled, unlocked secure.
#
# Needs from meson: TWOFOLD, TWOFOLDD (program paths).

. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

# A fresh state dir with cheap KDF settings.
setup_state() {
	new_state tfp
	init_state 128M || bail "twofold init failed"
}

enroll_unlock_secure() {
	printf '123456\n' | tf enroll secure --pin-stdin >/dev/null &&
		printf '123456\n' | tf unlock secure --pin-stdin >/dev/null
}
