#!/bin/bash
# SPDX-License-Identifier: ISC
# A call keeps its sound card (issue 15; docs/comms.md "In a persona, with
# a sound card"; src/daemon/callaudio.c). No sound card here: the "card"
# is a node made with mknod with /dev/net/tun's numbers (c 10 200:
# openable by anyone where the device cgroup allows, no basic device, as
# persona/test_foreground.sh does), configured as `[device audio]`. The
# daemon's comms service is a stand-in (a shell script below /usr, which
# the persona sees): it says what this test tells it on the daemon's
# channel (its stdin socket) and opens or closes the node, commands
# through a FIFO in secure's /tmp. Checked:
#   - the service is started with --audio-dev from comms_audio;
#   - no service, no claim: the status says no call holds the audio;
#   - call active in the foreground, then a switch away: the service
#     keeps its fd and survives, a normal app of secure holding the node
#     is killed, secure's apps cannot open it, the service can (again);
#   - personal (the new foreground) cannot open the node during the call;
#     `twofold status` says a background call holds the audio;
#   - garbage and an overlong line on the channel change nothing; a
#     flood is cut at the rate limit and fails closed (no call);
#   - call idle: personal can open it again; the service, which still
#     held it, is killed (fail closed) and restarted;
#   - a call going active while secure is in the background: personal's
#     holder is killed, personal refused, the service can open it;
#   - lock-down (evict): the service is killed anyway, personal gets the
#     node back.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../persona/lib.sh"

AUD=/dev/tf-test-aud-$$
BIN_DIR=$(mktemp -d /usr/local/lib/tfcomms-test.XXXXXX)
HOLD=
EXTRA_CLEANUP='rm -f "$AUD"; rm -rf "$BIN_DIR"; [ -n "$HOLD" ] && kill $HOLD 2>/dev/null'
# the stand-in: commands "say LINE", "open PATH", "close", "flood" from
# the FIFO /tmp/tfca.cmd; results into its state dir's "res", its errors
# into "err" (its Landlock domain writes only there and /dev/snd: not
# even /dev/null)
cat >"$BIN_DIR/twofold-comms" <<'EOF'
#!/bin/sh
dir=$2
exec 2>>"$dir/err"
echo "$*" >"$dir/argv"
printf 'call idle\n' >&0
while :; do
	read -r cmd arg </tmp/tfca.cmd || { sleep 0.1; continue; }
	case $cmd in
	say) printf '%s\n' "$arg" >&0 ;;
	open) if command exec 5<"$arg"; then r=open; else r=refused; fi
		echo "$r" >"$dir/res" ;;
	close) exec 5<&-; echo closed >"$dir/res" ;;
	flood) # one write of 2000 lines (2000 writes would block on the
		# socket's buffer while the daemon does not read them)
		i=0 f=
		while [ $i -lt 2000 ]; do f="${f}x$i
"; i=$((i + 1)); done
		printf '%s' "$f" >&0; echo flooded >"$dir/res" ;;
	esac
done
EOF
chmod 0755 "$BIN_DIR" "$BIN_DIR/twofold-comms"
export TWOFOLD_COMMS_BIN=$BIN_DIR/twofold-comms

setup_state
mknod -m 666 "$AUD" c 10 200 || bail "mknod $AUD failed"
printf '\n[device audio]\npath = %s\n' "$AUD" >>"$S/device.conf"
# comms = yes and comms_audio in secure's section only
sed -i '/^\[persona secure\]/,/^\[/{s/^comms = no/comms = yes/;s/^#comms_audio =.*/comms_audio = tfpcm/}' "$S/device.conf"
start_daemon && enroll_unlock_secure || bail "daemon or secure did not start"

SD=$S/fs/secure/data/home/.twofold-comms
TMPD=$S/fs/secure/data/tmp
# try PERSONA: "ok" if an app there can open the node, else the error
try() { tf run "$1" -- sh -c "exec 3< $AUD && echo ok" 2>&1; }
svc_pid() { tf status | sed -n 's/.*comms running (pid \([0-9]*\)).*/\1/p'; }
# cmd LINE: one command to the stand-in (bounded: it may be dead)
cmd() { rm -f "$SD/res"; timeout 5 sh -c "echo '$1' >'$TMPD/tfca.cmd'"; }
res() { # res: the stand-in's answer to the last open/close/flood
	for _ in $(seq 50); do [ -s "$SD/res" ] && break; sleep 0.1; done
	cat "$SD/res" 2>/dev/null
}
# wait_status TEXT [NOT]: `twofold status` has (or, with NOT, lacks)
# TEXT within 5 s
wait_status() {
	for _ in $(seq 50); do
		if [ -n "${2:-}" ]; then ! tf status | grep -q "$1" && return 0
		else tf status | grep -q "$1" && return 0; fi
		sleep 0.1
	done
	return 1
}
wait_svc() { # wait_svc [NOT_PID]: a running service (other than NOT_PID)
	local p
	for _ in $(seq 100); do
		p=$(svc_pid)
		[ -n "$p" ] && [ "$p" != "${1:-}" ] && [ -e "$SD/argv" ] && return 0
		sleep 0.1
	done
	return 1
}
holds() { # holds PID: PID has the node open
	local f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "$AUD" ] && return 0
	done
	return 1
}
call_audio() { tf status --json | python3 -c 'import json, sys; print(json.load(sys.stdin).get("call_audio"))'; }

# ---- no service, no claim
ok $([ "$(call_audio)" = None ]; echo $?) "no comms service: no call holds the audio" "$(tf status)"
out=$(try secure)
has "Operation not permitted" "$out"
ok $? "background secure cannot open the audio node" "$out"
out=$(tf run secure --user 999 -- true 2>&1)
ok $([ $? -ne 0 ]; echo $?) "no app runs as the comms uid (run --user 999 refused)" "$out"

# ---- the service, with its default device
printf x >"$S.f"
out=$(tf comms provision secure --key "$S.f" --cert "$S.f" --ca "$S.f" \
	--relay 127.0.0.1:9 --relay-pub "$S.f" 2>&1)
ok $? "comms provision secure" "$out"
mkfifo -m 0666 "$TMPD/tfca.cmd"
wait_svc
ok $? "the daemon starts the (stand-in) service" "$(tail -5 "$DLOG")"
has "--audio-dev tfpcm" "$(cat "$SD/argv" 2>/dev/null)"
ok $? "... with --audio-dev from comms_audio" "$(cat "$SD/argv" 2>/dev/null)"
P1=$(svc_pid)

# ---- a call in the foreground, then a switch away
tf switch secure >/dev/null
cmd "open $AUD"
ok $([ "$(res)" = open ]; echo $?) "foreground secure: the service opens the node" "$(cat "$SD/res" 2>/dev/null; tail -3 "$SD/err")"
tf run secure -- sh -c "exec 3< $AUD; echo held; exec sleep 60" >"$S.hold" 2>&1 &
HOLD=$!
for _ in $(seq 100); do grep -q held "$S.hold" 2>/dev/null && break; sleep 0.05; done
APP=$(for p in $(pgrep -f "sleep 60"); do holds "$p" && echo "$p"; done | head -1)
ok $([ -n "$APP" ]; echo $?) "a normal app of secure holds the node too (pid $APP)"
cmd "say call active"
for _ in $(seq 50); do [ "$(call_audio)" = secure ] && break; sleep 0.1; done
ok $([ "$(call_audio)" = secure ]; echo $?) "call active: secure's call holds the audio" "$(tf status)"
tf switch personal >/dev/null
for _ in $(seq 40); do kill -0 "$APP" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$APP" 2>/dev/null
ok $? "switch away: the normal app holding the node is killed" "$(tail -5 "$DLOG")"
kill -0 "$P1" 2>/dev/null && holds "$P1" && [ "$(svc_pid)" = "$P1" ]
ok $? "... the comms service keeps its fd and runs on" "$(tail -5 "$DLOG")"
grep -q "secure: its comms service keeps 1 fd(s) of the sound devices" "$DLOG"
ok $? "... and the daemon says so" "$(tail -5 "$DLOG")"
wait $HOLD 2>/dev/null
HOLD=
out=$(try personal)
has "Operation not permitted" "$out"
ok $? "foreground personal cannot open the node during secure's call" "$out"
out=$(try secure)
has "Operation not permitted" "$out"
ok $? "secure's apps cannot open it either" "$out"
cmd "open $AUD"
ok $([ "$(res)" = open ]; echo $?) "the service (keep-comms, its uid) can open it again in the background" "$(cat "$SD/res" 2>/dev/null)"
out=$(tf status)
has "audio: held by secure's call in the background" "$out" &&
	has "call active in the background: holds the audio" "$out"
ok $? "twofold status says a background call holds the audio" "$out"

# ---- garbage on the channel changes nothing
# (read(1) in the stand-in strips blanks around: none of these has any)
cmd "say call idlex"
cmd "say CALL IDLE"
cmd "say call  idle"
cmd "say $(printf 'call idle%.0s' $(seq 12))"
cmd "say foreground yes"
sleep 0.5
out=$(try personal)
[ "$(call_audio)" = secure ] && has "Operation not permitted" "$out" && [ "$(svc_pid)" = "$P1" ]
ok $? "garbage and an overlong line: still secure's, personal still refused" "$out"
[ "$(grep -c "twofold-comms wrote a line the daemon does not know" "$DLOG")" = 1 ]
ok $? "unknown lines are logged once" "$(grep 'does not know' "$DLOG")"
# ---- call idle: back to the foreground; a holder left is killed
# (the flood's last line, read a second later, may already have said it)
cmd "say call idle"
for _ in $(seq 50); do [ "$(call_audio)" = None ] && break; sleep 0.1; done
ok $([ "$(call_audio)" = None ]; echo $?) "call idle: no call holds the audio" "$(tf status)"
out=$(try personal)
ok $([ "$out" = ok ]; echo $?) "foreground personal can open the node again" "$out"
for _ in $(seq 40); do kill -0 "$P1" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$P1" 2>/dev/null
ok $? "the service still holding it in the background is killed (fail closed)" "$(tail -5 "$DLOG")"
wait_svc "$P1"
ok $? "... and restarted" "$(tail -5 "$DLOG")"
P2=$(svc_pid)

# ---- a call going active while secure is in the background
tf run personal -- sh -c "exec 3< $AUD; echo held; exec sleep 61" >"$S.hold" 2>&1 &
HOLD=$!
for _ in $(seq 100); do grep -q held "$S.hold" 2>/dev/null && break; sleep 0.05; done
APP=$(for p in $(pgrep -f "sleep 61"); do holds "$p" && echo "$p"; done | head -1)
ok $([ -n "$APP" ]; echo $?) "personal's app holds the node (pid $APP)"
cmd "open $AUD"
ok $([ "$(res)" = refused ]; echo $?) "no call: secure's service cannot open it in the background" "$(cat "$SD/res" 2>/dev/null)"
cmd "say call active"
for _ in $(seq 40); do kill -0 "$APP" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$APP" 2>/dev/null && [ "$(call_audio)" = secure ]
ok $? "a background call goes active: personal's holder is killed" "$(tail -5 "$DLOG")"
grep -q "personal: 1 holder(s) of the sound devices killed: secure's call takes them" "$DLOG"
ok $? "... and the daemon says why" "$(tail -5 "$DLOG")"
wait $HOLD 2>/dev/null
HOLD=
out=$(try personal)
has "Operation not permitted" "$out"
ok $? "personal cannot open it meanwhile" "$out"
cmd "open $AUD"
ok $([ "$(res)" = open ]; echo $?) "secure's service can" "$(cat "$SD/res" 2>/dev/null)"

# ---- a flood: cut, and no call any more (fail closed). The service
# lets go of the node first (else the release kills it mid-flood).
cmd close
ok $([ "$(res)" = closed ]; echo $?) "the service closes the node"
cmd flood
ok $([ "$(res)" = flooded ]; echo $?) "the service floods its channel"
for _ in $(seq 50); do [ "$(call_audio)" = None ] && break; sleep 0.1; done
[ "$(call_audio)" = None ] && grep -q "writes more than 16 lines a second on its channel" "$DLOG"
ok $? "a flood is cut at the rate limit, and the call no longer holds the audio" "$(tail -3 "$DLOG")"
out=$(try personal)
ok $([ "$out" = ok ]; echo $?) "... personal can open the node again" "$out"
[ "$(svc_pid)" = "$P2" ]
ok $? "the service (holding nothing) runs on" "$(tail -5 "$DLOG")"
P3=$P2
sleep 1.2 # the next second: its channel is read again

# ---- lock-down: fail closed
cmd "say call active"
for _ in $(seq 50); do [ "$(call_audio)" = secure ] && break; sleep 0.1; done
cmd "open $AUD"
ok $([ "$(res)" = open ] && [ "$(call_audio)" = secure ]; echo $?) "a new call: the service holds the node again" "$(cat "$SD/res" 2>/dev/null)"
tf lock --evict secure >/dev/null
for _ in $(seq 40); do kill -0 "$P3" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$P3" 2>/dev/null && [ "$(call_audio)" = None ]
ok $? "lock-down: the comms holder is killed, no call holds the audio" "$(tf status)"
out=$(try personal)
ok $([ "$out" = ok ]; echo $?) "personal can open the node again" "$out"

rm -f "$S.f" "$S.hold"
finish
