#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Integration: docs/cli.md's verb table against the real binary (issue 16).
# The verbs come from the verb table of src/cli/main.c, so a verb added
# there without a row in docs/cli.md fails here. Per row: --help (and
# `help VERB`), --json (data: JSON output; note: a {"message"} object;
# every verb: a usage error as a JSON object, exit 2), idempotent (run
# twice: exit 0 both times, the note says nothing to do), exit codes (2 and,
# where listed, 1). The data/note/idempotence/failure probes are per verb
# below; a verb without one is reported as a SKIP (add its probe).
# TAP; root; cleans up after itself.
TEST_STATE_PREFIX=tftab
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SRC=${SOURCE_ROOT:?}
TABLE=$SRC/docs/cli.md

code_verbs=$(sed -n 's/^[[:space:]]*{"\([a-z][a-z-]*\)", verb_.*/\1/p' "$SRC/src/cli/main.c")
[ -n "$code_verbs" ] || bail "no verbs found in src/cli/main.c"
# row VERB: the table's row of VERB as "help|json|idem|exits" ("" if none)
row() {
	awk -F'|' -v v="\`$1\`" '{ gsub(/^ +| +$/, "", $2) } $2 == v {
		for (i = 3; i <= 6; i++) gsub(/^ +| +$/, "", $i)
		print $3 "|" $4 "|" $5 "|" $6 }' "$TABLE"
}
table_verbs=$(sed -n 's/^| `\([a-z][a-z-]*\)` |.*/\1/p' "$TABLE")
is_json() { $PY -c 'import json,sys
lines = [l for l in sys.stdin.read().splitlines() if l.strip()]
assert lines
for l in lines: json.loads(l)' 2>/dev/null; }
json_has() { $PY -c 'import json,sys; o=json.loads(sys.stdin.read()); sys.exit(0 if sys.argv[1] in o else 1)' "$1" 2>/dev/null; }
pin() { printf '%s\n' "$@" | tf "${PIN_ARGS[@]}" --pin-stdin; }

for v in $table_verbs; do
	has " $v " " $(echo $code_verbs) " || nok "docs/cli.md row '$v' is a verb of src/cli/main.c"
done

# init's probe makes a second state dir; removed even on a failure
EXTRA_CLEANUP='rm -rf "$S.new"'
init_state || bail "init"
check "daemon starts" start_daemon
out=$(printf '111111\n' | tf enroll secure --pin-stdin 2>&1)
check "enroll secure (for the probes)" has "credential set" "$out"

# ---- probes: each runs `tf` (with --json where it is about JSON)
probe_data_init() { "$T" --json --state "$S.new" init --size 64M; }
probe_data_status() { tf --json status; }
probe_data_persona() { tf --json persona list; }
probe_data_audit() { tf --json audit show; }
probe_data_net() { tf --json net status; }
probe_data_tunnel() { tf --json tunnel key secure; }
probe_data_app() { tf --json app list personal; }
probe_note_switch() { tf --json switch personal; }
probe_note_unlock() { printf '111111\n' | tf --json unlock secure --pin-stdin; }
probe_note_lock() { tf --json lock secure --evict; }
probe_note_enroll() { printf '111111\n222222\n' | tf --json enroll secure --pin-stdin; }
probe_note_wipe() { tf --json wipe secure --yes; }
probe_idem_persona() { tf persona start personal; }
probe_idem_switch() { tf switch personal; }
probe_idem_unlock() { printf '222222\n' | tf unlock secure --pin-stdin; }
probe_idem_lock() { tf lock secure --evict; }
probe_fail_init() { tf init; } # initialised already
probe_fail_status() { "$T" --state "$S.none" status; }
probe_fail_persona() { tf persona start nosuch; }
probe_fail_run() { tf run nosuch -- true; }
probe_fail_switch() { tf switch nosuch; }
probe_fail_enroll() { printf '1\n' | tf enroll nosuch --pin-stdin; }
probe_fail_unlock() { printf '1\n' | tf unlock nosuch --pin-stdin; }
probe_fail_lock() { tf lock nosuch; }
probe_fail_wipe() { tf wipe nosuch --yes; }
probe_fail_audit() { "$T" --state "$S.none" audit show; }
probe_fail_net() { "$T" --state "$S.none" net status; }
probe_fail_tunnel() { tf tunnel key personal; } # not a tunnel persona
probe_fail_app() { tf app list nosuch; }
probe_fail_exec() { tf exec seal nosuch; }
probe_data_notify() { tf --json notify list; } # display is not shell: []
probe_fail_notify() { tf notify list nosuch; }
probe_fail_alert() { tf alert post "$SRC/README.md"; } # not an alert record
probe_fail_comms() { tf comms status nosuch; }
# the order matters for the secure persona: unlock, then lock, then wipe
order="init status selftest persona run switch unlock lock enroll wipe audit help"
for v in $code_verbs; do has " $v " " $order " || order="$order $v"; done

for v in $order; do
	has " $v " " $(echo $code_verbs) " || continue
	r=$(row "$v")
	if [ -z "$r" ]; then
		nok "$v: has a row in docs/cli.md"
		continue
	fi
	IFS='|' read -r c_help c_json c_idem c_exit <<<"$r"
	if [ "$c_help" = yes ]; then
		h=$("$T" "$v" --help 2>&1)
		rc=$?
		check "$v --help: exit 0, its usage" eval '[ $rc -eq 0 ] && has "usage: twofold" "$h" && has "$v" "$h"'
		check "help $v: the same text" eval '[ "$("$T" help "$v" 2>&1)" = "$h" ]'
	fi
	# every verb: a usage error is exit 2, and under --json an error object
	j=$("$T" --state "$S" --json "$v" --no-such-option 2>/dev/null)
	rc=$?
	check "$v: a usage error exits 2 (table: $c_exit)" eval '[ $rc -eq 2 ] && has 2 "$c_exit"'
	check "$v --json: the usage error is a JSON error object" eval 'is_json <<<"$j" && json_has error <<<"$j"'
	if has 1 "$c_exit"; then
		if declare -F "probe_fail_$v" >/dev/null; then
			"probe_fail_$v" >/dev/null 2>&1
			rc=$?
			check "$v: a failure exits 1" [ $rc -eq 1 ]
		else
			ok 0 "$v: a failure exits 1 # SKIP no probe_fail_$v in this test"
		fi
	fi
	case $c_json in
	data | note)
		if declare -F "probe_${c_json}_$v" >/dev/null; then
			j=$("probe_${c_json}_$v" 2>/dev/null)
			rc=$?
			if [ "$c_json" = data ]; then
				check "$v --json: data (JSON)" eval '[ $rc -eq 0 ] && is_json <<<"$j"'
			else
				check "$v --json: a note object" eval '[ $rc -eq 0 ] && json_has message <<<"$j"'
			fi
		else
			ok 0 "$v --json ($c_json) # SKIP no probe_${c_json}_$v in this test"
		fi
		;;
	errors) ;;
	*) nok "$v: --json column is data, note or errors (got '$c_json')" ;;
	esac
	if [ "$c_idem" = yes ]; then
		if declare -F "probe_idem_$v" >/dev/null; then
			"probe_idem_$v" >/dev/null 2>&1
			r1=$?
			o=$("probe_idem_$v" 2>&1)
			r2=$?
			check "$v: idempotent (twice: exit 0 both)" eval '[ $r1 -eq 0 ] && [ $r2 -eq 0 ]'
			diag "$v again: $o"
		else
			ok 0 "$v: idempotent # SKIP no probe_idem_$v in this test"
		fi
	fi
done

stop_daemon
finish
