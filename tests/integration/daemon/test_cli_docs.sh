#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Docs agree with the code (issue 16 item 6): every device.conf key of the
# keys[] table in src/lib/common/config.c is documented in
# twofold-config(5), every verb of the verb table in src/cli/main.c has its
# section in twofold(1) and a line in `twofold help`; the man pages built
# from them (when the build made them) say the same; the user-facing docs
# point at no file the repository lacks. The lists come from the code, so
# a key or verb added later must be documented. TAP; needs no daemon.
. "$(dirname "$0")/../tap.sh"
SRC=${SOURCE_ROOT:?}
BUILD=${BUILD_ROOT:-}

keys=$(sed -n 's/^[[:space:]]*{SEC_[A-Z_]*, "\([a-z][a-z0-9_]*\)".*/\1/p' "$SRC/src/lib/common/config.c")
verbs=$(sed -n 's/^[[:space:]]*{"\([a-z][a-z-]*\)", verb_.*/\1/p' "$SRC/src/cli/main.c")
check "keys[] of config.c read (at least 20)" [ "$(wc -w <<<"$keys")" -ge 20 ]
check "the verb table of main.c read (at least 10)" [ "$(wc -w <<<"$verbs")" -ge 10 ]

conf5=$SRC/docs/twofold-config.5.md
cli1=$SRC/docs/twofold.1.md
for k in $keys; do
	check "device.conf key $k is in twofold-config(5)" grep -qF "\`$k\`" "$conf5"
done
helptext=$("$TWOFOLD" help 2>&1)
for v in $verbs; do
	check "verb $v has a section in twofold(1)" grep -qx "### $v" "$cli1"
	check "verb $v is listed by twofold help" eval 'grep -qE "^  $v( |\$)" <<<"$helptext"'
done

# the man pages, where the build made them (h-sys: go-md2man at build time)
if [ -n "$BUILD" ] && command -v man >/dev/null; then
	for page in twofold.1 twofold-config.5 twofoldd.8; do
		f=$(find "$BUILD" -name "$page" -type f 2>/dev/null | head -n 1)
		if [ -z "$f" ]; then
			ok 0 "man page $page # SKIP not built"
			continue
		fi
		text=$(MANWIDTH=200 man -l "$f" 2>/dev/null | col -b)
		case $page in
		twofold.1) for v in $verbs; do
				# "twofold VERB" or "twofold [--state DIR] VERB"
				check "$page names verb $v" grep -qE \
					"twofold( \[[^]]*\])* $v( |\$)" <<<"$text"
			done ;;
		twofold-config.5) for k in $keys; do check "$page names key $k" has "$k" "$text"; done ;;
		esac
	done
fi

# item 6's particular disagreements, kept from coming back
check "twofold-config(5): a missing device is skipped, as device.c does" \
	eval '! grep -q "refuses to start while" "$conf5" && grep -q "does not exist (yet); it is" "$conf5" && grep -q "does not exist (yet); it is" "$SRC/src/daemon/device.c"'
check "twofoldd(8) FILES has the tpm_tcti files (device.secret.tpm, tpm.name)" \
	eval 'sed -n "/^## FILES/,/^## /p" "$SRC/docs/twofoldd.8.md" | grep -q "device.secret.tpm" && sed -n "/^## FILES/,/^## /p" "$SRC/docs/twofoldd.8.md" | grep -q "tpm.name"'
check "twofold-config(5) tpm_tcti names tpm.name as twofoldd(8) does" grep -q "tpm_tcti.*tpm.name" "$conf5"
# every NAME.md the user-facing docs point at exists in the repository
for d in twofold.1.md twofoldd.8.md twofold-config.5.md threat-model.md seccomp.md cli.md; do
	[ -f "$SRC/docs/$d" ] || continue
	for ref in $(grep -oE '\b[A-Za-z][A-Za-z0-9_.-]*\.md\b' "$SRC/docs/$d" | sort -u); do
		b=${ref##*/}
		check "docs/$d points at $ref, which exists" \
			eval '[ -f "$SRC/docs/$b" ] || [ -f "$SRC/$b" ] || [ -f "$SRC/$ref" ]'
	done
done
finish
