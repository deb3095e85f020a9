# SPDX-License-Identifier: ISC
# Shared by the daemon integration tests (sourced, not run): ../tap.sh
# (TAP primitives, daemon helpers, the cleanup) plus the daemon tests'
# habit of running a command into `out` and `rc` and checking both.
# The daemon runs without -v: these tests read its log for what a user
# sees.

. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

T=$TWOFOLD
D=$TWOFOLDD
DAEMON_ARGS=
new_state "${TEST_STATE_PREFIX:-tfd}"

# a failed check shows the last run's exit code and output
check_diag() { echo "rc=${rc:-} out=${out:-}"; }
# run CMD...: run, capture stdout+stderr in out and the exit code in rc
run() {
	out=$("$@" 2>&1)
	rc=$?
}
# expect NAME RC SUBSTRING: the last run's exit code and output
expect() { if [ "$rc" -eq "$2" ] && grep -qF -- "$3" <<<"$out"; then ok "$1"; else nok "$1" "rc=$rc out=$out"; fi; }
