#!/bin/bash
# SPDX-License-Identifier: ISC
# Persona lifecycle through the CLI: list, stop, start, restart; after a
# stop no process and no cgroup of the persona remains; status --json.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

APP_BG=
EXTRA_CLEANUP='[ -n "$APP_BG" ] && { kill -KILL $APP_BG; wait $APP_BG; } 2>/dev/null'

setup_state
start_daemon || {
	echo "Bail out! daemon did not start"
	exit 1
}

jget() { # jget PERSONA KEY: a field of status --json ("" if absent)
	tf status --json | python3 -c 'import json, sys
p = [p for p in json.load(sys.stdin)["personas"] if p["name"] == sys.argv[1]][0]
v = p.get(sys.argv[2], "")
print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
}
persona_cg() { for d in $(cg_dirs); do [ -d "$d/$1" ] && echo "$d/$1"; done; }
persona_pids() { for d in $(persona_cg "$1"); do find "$d" -name cgroup.procs -exec cat {} +; done | sort -un; }

out=$(tf persona list)
ok $([ "$out" = "personal running foreground
secure no-credential" ]; echo $?) "persona list after start" "$out"

# status --json: valid JSON, with the documented fields
tf status --json | python3 -m json.tool >/dev/null
ok $? "status --json is valid JSON"
ok $([ "$(jget personal state)" = running ]; echo $?) "json: personal state running"
ok $([ "$(jget personal foreground)" = true ]; echo $?) "json: personal foreground true"
ok $([ "$(jget secure foreground)" = false ]; echo $?) "json: secure foreground false"
n=$(jget personal processes)
ok $([ "$n" = 1 ]; echo $?) "json: personal has 1 process (init) when idle" "got '$n'"
m=$(jget personal memory_bytes)
ok $([ -n "$m" ] && [ "$m" -gt 0 ]; echo $?) "json: memory_bytes > 0" "got '$m'"
diag "idle personal: memory_bytes $m"

# an app running: processes counts it
tf run personal -- sleep 300 &
APP_BG=$!
for _ in $(seq 50); do [ "$(jget personal processes)" = 2 ] && break; sleep 0.05; done
ok $([ "$(jget personal processes)" = 2 ]; echo $?) "json: processes = 2 with one app"

# the persona's cgroup exists in every hierarchy we find it in, with pids
cgs=$(persona_cg personal)
ok $([ -n "$cgs" ]; echo $?) "personal has cgroup dirs" "$(cg_dirs)"
diag "cgroups: $(echo $cgs)"
pids=$(persona_pids personal)
init=$(jget personal init_pid)
echo "$pids" | grep -qx "$init"
ok $? "init pid $init is in personal's cgroup" "$pids"

# stop: no process, no cgroup dir left; the app's CLI gets an exit status
out=$(tf persona stop personal)
ok $? "persona stop personal" "$out"
for _ in $(seq 50); do kill -0 "$APP_BG" 2>/dev/null || break; sleep 0.1; done
kill -0 "$APP_BG" 2>/dev/null && kill -KILL "$APP_BG"
wait "$APP_BG"
r=$?
ok $((r != 137)) "the running app's 'twofold run' returns 137 at stop" "got $r"
APP_BG=
alive=
for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
ok $([ -z "$alive" ]; echo $?) "no process of personal remains" "alive:$alive"
left=$(persona_cg personal)
ok $([ -z "$left" ]; echo $?) "personal's cgroup dirs are gone from every hierarchy" "$left"
ok $([ "$(jget personal state)" = stopped ]; echo $?) "json: state stopped"
ok $([ -z "$(jget personal processes)" ]; echo $?) "json: no process count when stopped"
out=$(tf persona list)
# the foreground is a running persona or none (twofold(1) switch)
ok $([ "$out" = "personal stopped
secure no-credential" ]; echo $?) "persona list after stop: no foreground" "$out"

# stop again: done already (idempotent, issue 16), one line
err=$(tf persona stop personal 2>&1)
r=$?
ok $([ $r = 0 ] && echo "$err" | grep -q "personal is already stopped"; echo $?) \
	"stopping a stopped persona: exit 0, says it is stopped already" "got $r: $err"

# start
out=$(tf persona start personal)
ok $([ "$out" = "personal started" ]; echo $?) "persona start personal" "$out"
ok $([ "$(jget personal foreground)" = true ]; echo $?) "started again, personal gets the foreground back"
init2=$(jget personal init_pid)
ok $([ -n "$init2" ] && [ "$init2" != "$init" ]; echo $?) "a new init ($init -> $init2)"
out=$(tf run personal -- echo back)
ok $([ "$out" = back ]; echo $?) "apps run after start"
err=$(tf persona start personal 2>&1)
ok $([ $? = 0 ] && echo "$err" | grep -q "already running"; echo $?) \
	"starting a running persona: exit 0, 'already running' (idempotent)" "$err"

# data survives stop/start (same encrypted dir, key still loaded)
tf run personal -- sh -c 'echo kept > /home/app/f'
# restart
out=$(tf persona restart personal)
ok $([ "$out" = "personal restarted" ]; echo $?) "persona restart personal" "$out"
init3=$(jget personal init_pid)
ok $([ -n "$init3" ] && [ "$init3" != "$init2" ]; echo $?) "restart: a new init ($init2 -> $init3)"
kill -0 "$init2" 2>/dev/null
ok $((!$?)) "restart: the old init is gone"
out=$(tf run personal -- cat /home/app/f)
ok $([ "$out" = kept ]; echo $?) "restart: /home/app data kept" "got '$out'"
ok $([ "$(jget personal state)" = running ]; echo $?) "json: running after restart"

# restart of a stopped persona starts it
tf persona stop personal >/dev/null
out=$(tf persona restart personal)
ok $([ "$out" = "personal restarted" ] && [ "$(jget personal state)" = running ]; echo $?) \
	"restart of a stopped persona starts it" "$out"

# a locked credential persona cannot be started by persona start
err=$(tf persona start secure 2>&1)
ok $([ $? = 1 ] && echo "$err" | grep -q "enroll"; echo $?) \
	"start secure without a credential: exit 1, says to enroll" "$err"

finish
