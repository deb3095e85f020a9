#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Installed apps (issue 13, docs/packages.md "Installing"): install of a
# package built here (twofold pkg build + mkfs.erofs), list, run of its
# entry point, update to a higher version code, rollback refused, catalog
# refusal, a tampered package refused with nothing installed, kill -9 of
# the daemon during an install and an update leaves the old version, app
# A cannot read app B's data, an app without `network` cannot connect
# while one with it can, remove. Scanning: secure without a scanner
# database refuses installs; with one, a package with EICAR inside its
# image is refused and audited with the signature, nothing installed; a
# clean one is scanned and installed (a file the scanner found clean
# before is answered from its cache, by the suite's hash, while a new
# file beside it is scanned); personal without a database
# installs, marked "not scanned". The install is a job: with the scanner
# SIGSTOPped mid-install, status and app list answer, a second install
# and a remove are "busy", and after SIGCONT it completes; kill -9 of the
# daemon while the job waits leaves the old version. The images are
# mounted inside the persona's mount namespace, which goes with the
# persona; cleanup stops the daemon and removes the state dir.
. "$(dirname "$0")/../persona/lib.sh"

command -v mkfs.erofs >/dev/null || {
	echo "1..0 # SKIP mkfs.erofs (erofs-utils) not installed"
	exit 0
}
setup_state
W=$(mktemp -d /tmp/tfapps.XXXXXX)
EXTRA_CLEANUP="rm -rf $W"
pkg() { "$TWOFOLD" pkg "$@"; }
set_persona_conf() {
	sed -i "/^\[persona $1\]/,/^\[/ s|^#\?$2 =.*|$2 = $3|" "$S/device.conf"
}

PK=$(pkg keygen --out "$W/org.key") || bail "pkg keygen failed"
# the scanner database (EICAR by its md5): scandb.sh
. "$(dirname "$0")/scandb.sh"
make_scan_db "$W" || bail "scanner database failed"
# build NAME CODE PERMS [MARK]: $W/NAME-CODE.tfa; its entry prints MARK
build() {
	local t=$W/tree-$1-$2
	mkdir -p "$t/bin"
	cat >"$t/bin/main" <<S
#!/bin/sh
case "\$1" in
write) echo "secret of $1" >"\$HOME/data" && echo WROTE ;;
read) cat "/var/apps/\$2/data" ;;
id) id -u; pwd ;;
bg) sleep 60 >/dev/null 2>&1 & echo \$! ;;
proc) cat "/proc/\$2/environ" >/dev/null && echo PROC-READ ;;
tmp) echo x >"/tmp/\$\$" && rm "/tmp/\$\$" && echo TMP-OK ;;
net) python3 -c '
import socket
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.socket()
try:
    c.connect(l.getsockname()); print("CONNECTED")
except OSError as e:
    print("REFUSED", e.errno)
' ;;
*) echo "$1 ${4:-v$2}" ;;
esac
S
	chmod 755 "$t/bin/main"
	printf 'name = %s\nversion_code = %s\nversion = 1.%s\npersonas = secure\npermissions = %s\nentry = main=/bin/main\n' \
		"$1" "$2" "$2" "$3" >"$W/mf-$1-$2"
	[ "$3" = "" ] && sed -i '/^permissions/d' "$W/mf-$1-$2"
	[ "$1" = org.b ] && echo 'fs = rw:/tmp' >>"$W/mf-$1-$2"
	pkg build "$t" -o "$W/$1-$2.tfa" --key "$W/org.key" --manifest "$W/mf-$1-$2" >/dev/null
}
build org.a 1 network || bail "pkg build failed"
build org.a 2 network
build org.a 3 network
build org.b 1 ""
build org.b 2 ""
build org.c 1 network
# org.e: org.b's tree with EICAR two directories down
cp -r "$W/tree-org.b-1" "$W/tree-org.e-1" && mkdir -p "$W/tree-org.e-1/share/doc" &&
	cp "$W/eicar.com" "$W/tree-org.e-1/share/doc/readme.com"
sed 's/^name = .*/name = org.e/' "$W/mf-org.b-1" >"$W/mf-org.e-1"
pkg build "$W/tree-org.e-1" -o "$W/org.e-1.tfa" --key "$W/org.key" --manifest "$W/mf-org.e-1" >/dev/null ||
	bail "pkg build failed"
# org.e 2: clean, but nested deeper than the scan walks (32): a limit
cp -r "$W/tree-org.b-1" "$W/tree-org.e-2" &&
	mkdir -p "$W/tree-org.e-2/$(printf 'd/%.0s' $(seq 40))"
sed 's/^version_code = .*/version_code = 2/' "$W/mf-org.e-1" >"$W/mf-org.e-2"
pkg build "$W/tree-org.e-2" -o "$W/org.e-2.tfa" --key "$W/org.key" --manifest "$W/mf-org.e-2" >/dev/null ||
	bail "pkg build failed"
# org.p: for personal (no scanner database there)
sed 's/^name = .*/name = org.p/; s/^personas = .*/personas = personal/' "$W/mf-org.b-1" >"$W/mf-org.p-1"
pkg build "$W/tree-org.b-1" -o "$W/org.p-1.tfa" --key "$W/org.key" --manifest "$W/mf-org.p-1" >/dev/null ||
	bail "pkg build failed"
printf 'org.a 1 9 * secure\norg.b 1 9 * secure\norg.e 1 9 * secure\norg.p 1 9 * personal\n' >"$W/list"
pkg catalog build "$W/list" -o "$W/catalog" --key "$W/org.key" --seq 1 --expires 2099-01-01 ||
	bail "catalog build failed"
set_persona_conf secure app_trust "$PK"
set_persona_conf secure app_catalog "$W/catalog"
set_persona_conf personal app_trust "$PK"
set_persona_conf personal app_catalog "$W/catalog"

start_daemon && enroll_unlock_secure || bail "daemon or secure did not start"
apps() { ls "$S/apps/secure" 2>/dev/null | tr '\n' ' '; }
audit_has() { tf audit show --persona "${3:-secure}" 2>&1 | grep "$1" | grep -q "$2"; }

# secure (a credential persona) without a scanner database: refused
out=$(tf app install secure "$W/org.a-1.tfa" 2>&1)
ok $(($? == 0)) "secure without a scanner database: install refused" "$out"
has "scanner database" "$out"; ok $? "  ... saying so" "$out"
audit_has app.refused "reason=app.not_scanned"
ok $? "  ... audited" "$(tf audit show --persona secure | grep app.refused)"
[ -z "$(apps | tr ' ' '\n' | grep '\.app$')" ] && not_has org.a "$(tf app list secure)"
ok $? "  ... nothing installed" "$(apps)"
# personal without one installs, saying it was not scanned
out=$(tf app install personal "$W/org.p-1.tfa" 2>&1)
ok $? "personal without a scanner database: installs" "$out"
has "not scanned" "$out" && has "not scanned" "$(tf app list personal)"
ok $? "  ... marked not scanned in its answer and in app list" "$(tf app list personal)"
audit_has app.installed "scan=none" personal
ok $? "  ... and scan=none in the audit" "$(tf audit show --persona personal | grep app.installed)"
stop_daemon
use_scan_db secure
start_daemon && printf '123456\n' | tf unlock secure --pin-stdin >/dev/null ||
	bail "daemon or secure did not start with a scanner database"

out=$(tf app install secure "$W/org.a-1.tfa" 2>&1)
ok $? "install org.a 1" "$out"
out=$(tf app list secure 2>&1)
has org.a "$out" && has "1.1" "$out"
ok $? "list shows it" "$out"
out=$(tf --json app list secure 2>&1)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); a=d["apps"][0]; assert a["name"]=="org.a" and a["version_code"]==1 and a["permissions"]==["network"] and a["uid"]==10000' 2>/dev/null
ok $? "list --json" "$out"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = "org.a v1" ]
ok $? "run --app runs the entry point" "$out"
out=$(tf run secure --app org.a:main -- id 2>&1)
[ "$out" = "$(printf '10000\n/var/apps/org.a')" ]
ok $? "it runs as its own uid in its data dir" "$out"
out=$(tf run secure --app org.a:nope 2>&1)
ok $(($? == 0)) "an unknown entry point: refused" "$out"
audit_has app.installed "name=org.a"
ok $? "app.installed audited"
audit_has app.installed "scan=clean"
ok $? "  ... as scanned clean" "$(tf audit show --persona secure | grep app.installed)"
out=$(tf --json app list secure 2>&1)
echo "$out" | python3 -c 'import json,sys; assert json.load(sys.stdin)["apps"][0]["scanned"] is True' 2>/dev/null
ok $? "  ... and list --json says scanned" "$out"

out=$(tf app install secure "$W/org.a-2.tfa" 2>&1)
ok $? "update to version code 2" "$out"
has updated "$out"; ok $? "  ... reported as an update" "$out"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = "org.a v2" ]
ok $? "the update runs" "$out"
check "the old image is gone" test ! -e "$S/apps/secure/org.a-1.tfa"
audit_has app.updated "name=org.a"
ok $? "app.updated audited"

out=$(tf app install secure "$W/org.a-1.tfa" 2>&1)
ok $(($? == 0)) "rollback to version code 1: refused" "$out"
has "version code" "$out"; ok $? "  ... saying why" "$out"
out=$(tf app install secure "$W/org.c-1.tfa" 2>&1)
ok $(($? == 0)) "an app not in the catalog: refused" "$out"
audit_has app.refused "name=org.c"
ok $? "app.refused audited" "$(tf audit show --persona secure | grep app.refused)"

cp "$W/org.b-1.tfa" "$W/bad.tfa"
SZ=$(stat -c %s "$W/bad.tfa")
B=$(dd if="$W/bad.tfa" bs=1 skip=$((SZ - 200)) count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf %o $(((B ^ 1) & 255)))" | dd of="$W/bad.tfa" bs=1 seek=$((SZ - 200)) conv=notrunc 2>/dev/null
before=$(apps)
out=$(tf app install secure "$W/bad.tfa" 2>&1)
ok $(($? == 0)) "a package with one flipped bit: refused" "$out"
has "payload" "$out"; ok $? "  ... as a payload mismatch" "$out"
[ "$(apps)" = "$before" ] && not_has org.b "$(tf app list secure)"
ok $? "  ... and nothing installed" "$(apps)"

"$TWOFOLD" pkg keygen --out "$W/other.key" >/dev/null
"$TWOFOLD" pkg build "$W/tree-org.b-1" -o "$W/other.tfa" --key "$W/other.key" --manifest "$W/mf-org.b-1" >/dev/null
out=$(tf app install secure "$W/other.tfa" 2>&1)
ok $(($? == 0)) "a package by a signer the persona does not trust: refused" "$out"
has "trust" "$out"; ok $? "  ... saying so" "$out"
sed 's/^personas = .*/personas = personal/' "$W/mf-org.b-1" >"$W/mf-personal"
"$TWOFOLD" pkg build "$W/tree-org.b-1" -o "$W/personal.tfa" --key "$W/org.key" --manifest "$W/mf-personal" >/dev/null
out=$(tf app install secure "$W/personal.tfa" 2>&1)
ok $(($? == 0)) "a package for another persona: refused" "$out"
[ "$(apps)" = "$before" ]
ok $? "  ... nothing installed by any refusal" "$(apps)"
out=$(tf app install secure "$W/org.e-1.tfa" 2>&1)
ok $(($? == 0)) "a package with EICAR inside its image: refused" "$out"
has "Tf.Test.Eicar" "$out" && has "share/doc/readme.com" "$out"
ok $? "  ... naming the signature and the file" "$out"
audit_has app.refused "reason=malware:Tf.Test.Eicar"
ok $? "  ... audited as malware:SIGNAME" "$(tf audit show --persona secure | grep app.refused | tail -1)"
[ "$(apps)" = "$before" ] && not_has org.e "$(tf app list secure)" &&
	not_has org.e "$(tf run secure -- ls /apps 2>&1)"
ok $? "  ... nothing installed, nothing mounted" "$(apps)"
out=$(tf app install secure "$W/org.e-2.tfa" 2>&1)
ok $(($? == 0)) "a package the scan cannot cover (nested 40 deep): refused" "$out"
has "not fully scanned" "$out" && audit_has app.refused "reason=malware:limit"
ok $? "  ... as not fully scanned, audited malware:limit" "$out"
[ "$(apps)" = "$before" ]
ok $? "  ... nothing installed" "$(apps)"
out=$(tf --json app install secure "$W/org.b-1.tfa" 2>&1)
ok $? "install org.b (no network permission)" "$out"
# its bin/main is org.e's, which the scanner found clean beside EICAR:
# answered from the helper's cache of clean files (by the suite's hash)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["files"]==1 and d["files_cached"]==1' 2>/dev/null
ok $? "  ... its file already found clean is answered from the scanner's cache" "$out"
out=$(tf run secure --app org.a -- write 2>&1)
[ "$out" = WROTE ]
ok $? "org.a writes its data" "$out"
out=$(tf run secure --app org.b -- read org.a 2>&1)
rc=$?
[ $rc != 0 ] && has "ermission denied" "$out"
ok $? "org.b cannot read org.a's data" "rc=$rc $out"
out=$(tf run secure --app org.a -- read org.a 2>&1)
[ "$out" = "secret of org.a" ]
ok $? "org.a reads its own" "$out"
bgpid=$(tf run secure --service --app org.a -- bg 2>&1)
out=$(tf run secure --app org.b -- proc "$bgpid" 2>&1)
rc=$?
[ $rc != 0 ] && has "ermission denied" "$out"
ok $? "org.b cannot read /proc of org.a's process" "pid=$bgpid rc=$rc $out"
out=$(tf run secure -- sh -c "test -d /proc/$bgpid && echo THERE" 2>&1)
[ "$out" = THERE ]
ok $? "  ... which is there (the denial is real)" "$out"
out=$(tf run secure --app org.a -- tmp 2>&1)
rc=$?
[ $rc != 0 ] && has "ermission denied" "$out"
ok $? "org.a (no fs rule) cannot write /tmp: its own Landlock domain" "rc=$rc $out"
out=$(tf run secure --app org.b -- tmp 2>&1)
[ "$out" = TMP-OK ]
ok $? "org.b (fs = rw:/tmp) can" "$out"
out=$(tf run secure --app org.b -- net 2>&1)
has "REFUSED 111" "$out"
ok $? "org.b (no network) cannot connect: ECONNREFUSED at once" "$out"
out=$(tf run secure --app org.a -- net 2>&1)
[ "$out" = CONNECTED ]
ok $? "org.a (network) connects" "$out"

# a newer catalog without org.b: org.b is disabled (not run, not mounted
# at the next start), org.a runs on
printf 'org.a 1 9 * secure\n' >"$W/list2"
pkg catalog build "$W/list2" -o "$W/catalog2" --key "$W/org.key" --seq 2 --expires 2099-01-01
cp "$W/catalog" "$W/catalog1" && cp "$W/catalog2" "$W/catalog"
out=$(tf run secure --app org.b 2>&1)
ok $(($? == 0)) "an app dropped from the catalog does not run" "$out"
has disabled "$out"; ok $? "  ... saying it is disabled" "$out"
has disabled "$(tf app list secure)"; ok $? "  ... and list says so" "$(tf app list secure)"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = "org.a v2" ]; ok $? "  ... while org.a still runs" "$out"
cp "$W/catalog1" "$W/catalog"
out=$(tf app install secure "$W/org.b-2.tfa" 2>&1)
ok $(($? == 0)) "the older catalog (seq 1 after seq 2) is refused" "$out"
has "catalog" "$out"; ok $? "  ... as a catalog rollback" "$out"
cp "$W/catalog2" "$W/catalog"
printf 'org.a 1 9 * secure\norg.b 1 9 * secure\n' >"$W/list3"
pkg catalog build "$W/list3" -o "$W/catalog" --key "$W/org.key" --seq 3 --expires 2099-01-01

# the install is a job: the scanner stopped mid-install, the daemon
# answers; the stopped install is still pending when it has; it
# completes once the scanner runs again
scanner_pid() {
	local c
	for c in /proc/[0-9]*; do
		case $(cat "$c/comm" 2>/dev/null) in twofold-scanne*) ;; *) continue ;; esac
		[ "$(awk '{print $4}' "$c/stat" 2>/dev/null)" = "$DPID" ] &&
			echo "${c#/proc/}"
	done
}
# bg_install FILE: an install in the background (its pid in BGI) that
# the daemon has taken as a job when this returns
bg_install() {
	local n
	n=$(grep -c "job app install started" "$DLOG")
	tf app install secure "$1" >"$W/bg.out" 2>&1 &
	BGI=$!
	BG_PIDS="$BG_PIDS $BGI"
	for _ in $(seq 200); do
		[ "$(grep -c "job app install started" "$DLOG")" -gt "$n" ] && return 0
		sleep 0.05
	done
	return 1
}
SCP=$(scanner_pid)
BG_PIDS="$BG_PIDS $SCP"
[ -n "$SCP" ]
ok $? "the scanner helper runs (a child of the daemon)" "$(ps -o pid,comm --ppid "$DPID")"
th=$(awk '/^Threads:/ {print $2}' "/proc/$SCP/status" 2>/dev/null)
conf=$(cat /proc/$SCP/task/*/status 2>/dev/null | awk '/^(Seccomp|NoNewPrivs|Uid):/ {printf "%s%s ", $1, $2}')
[ "${th:-0}" -ge 2 ] && [ "$(echo "$conf" | grep -o 'Seccomp:2' | wc -l)" = "$th" ] &&
	[ "$(echo "$conf" | grep -o 'NoNewPrivs:1' | wc -l)" = "$th" ] &&
	[ "$(echo "$conf" | grep -o 'Uid:65534' | wc -l)" = "$th" ]
ok $? "  ... scanning with two threads, each confined (seccomp, no_new_privs, nobody)" "threads=$th $conf"
kill -STOP "$SCP"
bg_install "$W/org.b-2.tfa"
ok $? "an install with the scanner stopped: taken as a job"
tf status >/dev/null 2>&1
ok $? "  ... status answers meanwhile"
has org.b "$(tf app list secure 2>&1)"
ok $? "  ... app list answers meanwhile" "$(tf app list secure 2>&1)"
out=$(tf app install secure "$W/org.b-2.tfa" 2>&1)
ok $(($? == 0)) "  ... a second install is refused" "$out"
has busy "$out"; ok $? "  ... as busy" "$out"
out=$(tf app remove secure org.b 2>&1)
ok $(($? == 0)) "  ... a remove is busy too" "$out"
kill -0 "$BGI" 2>/dev/null
ok $? "  ... and the install is still waiting for the scanner"
kill -CONT "$SCP"
wait "$BGI"
ok $? "after SIGCONT the install completes" "$(cat "$W/bg.out")"
has "updated org.b" "$(cat "$W/bg.out")" && has "1.2" "$(tf app list secure)"
ok $? "  ... as the update to version code 2" "$(cat "$W/bg.out"; tf app list secure)"

# kill -9 mid-update (image mounted, record not yet written) and
# mid-install (image linked in): the old state after a restart
restart_with() {
	stop_daemon
	TWOFOLD_FAULT=$1 start_daemon &&
		printf '123456\n' | tf unlock secure --pin-stdin >/dev/null
}
restart_with app-crash-mounted || bail "restart failed"
tf app install secure "$W/org.a-3.tfa" >/dev/null 2>&1
wait_daemon_dead
ok $? "the daemon dies (kill -9) in the middle of an update" "rc=${DRC:-}"
restart_with app-crash-linked || bail "restart failed"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = "org.a v2" ]
ok $? "after the restart the old version runs" "$out"
check "  ... and the cut-short image is gone" test ! -e "$S/apps/secure/org.a-3.tfa"
tf app remove secure org.b >/dev/null 2>&1
tf app install secure "$W/org.b-2.tfa" >/dev/null 2>&1
wait_daemon_dead
ok $? "the daemon dies (kill -9) in the middle of an install" "rc=${DRC:-}"
restart_with "" || bail "restart failed"
out=$(tf app list secure 2>&1)
not_has org.b "$out" && has org.a "$out"
ok $? "after the restart the app is not installed, the other still is" "$out"
check "  ... and its image is gone" test ! -e "$S/apps/secure/org.b-2.tfa"

# kill -9 while the job waits for the (stopped) scanner: the old version
tf app install secure "$W/org.e-1.tfa" >/dev/null 2>&1 # (re)starts the scanner
SCP=$(scanner_pid)
BG_PIDS="$BG_PIDS $SCP"
[ -n "$SCP" ] && kill -STOP "$SCP" && bg_install "$W/org.a-3.tfa"
ok $? "an update waits for the stopped scanner" "scanner=$SCP"
kill9_daemon
wait "$BGI" 2>/dev/null
restart_with "" || bail "restart failed"
out=$(tf run secure --app org.a 2>&1)
[ "$out" = "org.a v2" ]
ok $? "kill -9 of the daemon during the install job: the old version runs" "$out"
check "  ... and no image of the cut-short update" test ! -e "$S/apps/secure/org.a-3.tfa"

out=$(tf app install secure "$W/org.a-3.tfa" 2>&1)
ok $? "the update installs after all" "$out"
out=$(tf app remove secure org.a 2>&1)
ok $? "remove org.a" "$out"
out=$(tf run secure -- sh -c 'ls /apps; ls /var/apps' 2>&1)
not_has org.a "$out"
ok $? "  ... unmounted, its data gone" "$out"
[ -z "$(apps | tr ' ' '\n' | grep org.a)" ]
ok $? "  ... its image and record gone" "$(apps)"
audit_has app.removed "name=org.a"
ok $? "app.removed audited"
finish
