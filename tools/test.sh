#!/usr/bin/env bash
# The whole test suite: install, build, run every test (unit, integration,
# fuzz corpora) as root; the unit tests and corpora again under
# ASan+UBSan; the CLI-facing integration tests with the glibc CLI;
# clang-format. Last line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	# a minimal root system has no sudo; a user's system usually does
	if command -v sudo >/dev/null; then
		echo "twofold: not root: running again with sudo" >&2
		exec sudo bash "$0" "$@"
	fi
	echo "twofold: the tests exercise namespaces, fscrypt, cgroups and" \
	     "seccomp and must run as root (su -c 'bash tools/test.sh')" >&2
	exit 1
fi
bash tools/deps.sh || exit 1

passed=0; failed=0
count() { # count meson's JSON test log: one result per test program
	local log=$1 p f
	read -r p f < <(python3 - "$log" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": pass
    else: f += 1
print(p, f)
PY
)
	passed=$((passed + p)); failed=$((failed + f))
}

echo "== build"
[ -d build ] || meson setup build >/dev/null || exit 1
meson compile -C build || exit 1

echo "== tests (unit, integration, fuzz corpora)"
meson test -C build --print-errorlogs --num-processes 2
count build/meson-logs/testlog.json

echo "== unit tests and fuzz corpora under ASan+UBSan"
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined \
	-Db_lundef=false -Dbenchmarks=false >/dev/null || exit 1
meson compile -C build-asan || exit 1
# The persona container test re-runs its own binary as an app inside a
# persona, where our seccomp filter denies ptrace — which LeakSanitizer
# needs — and the app's clean environment drops ASAN_OPTIONS. It runs
# un-instrumented above; everything else runs here under ASan+UBSan.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	meson test -C build-asan --suite unit --suite fuzz --no-suite persona \
	--print-errorlogs --num-processes 2
count build-asan/meson-logs/testlog.json

echo "== the CLI-facing integration tests again with the glibc CLI"
# build/ links the CLI with musl when musl-gcc is there; clang, sanitizer
# and cross builds fall back to glibc (src/cli/meson.build): keep that
# variant tested end to end too
[ -d build-glibc ] || meson setup build-glibc -Dcli_libc=glibc \
	-Dbenchmarks=false >/dev/null || exit 1
meson compile -C build-glibc || exit 1
meson test -C build-glibc --print-errorlogs daemon persona_run \
	persona_badinput storage_badinput
count build-glibc/meson-logs/testlog.json

echo "== clang-format"
bad=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror 2>&1 | grep -c 'error:' || true)
if [ "$bad" -eq 0 ]; then
	passed=$((passed + 1)); echo "clang-format: ok"
else
	failed=$((failed + 1))
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror 2>&1 | head -20
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
