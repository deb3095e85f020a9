#!/bin/bash
# SPDX-License-Identifier: ISC
# twofold-comms runs as its own uid in the secure persona (TF_COMMS_UID,
# 999; docs/comms.md "In the secure persona"), the world of
# test_persona.sh (secure in tunnel mode, twofold-relay and bob in org):
#   - a symlink planted at /home/.twofold-comms makes provisioning fail,
#     and nothing outside is written or chowned;
#   - an older version's state dir (owned by the default uid 1000, with a
#     symlink and a hardlink to the default uid's own file planted in it)
#     is given to the comms uid at start, the planted names removed, the
#     file they pointed to untouched;
#   - the default uid can neither read device.key nor list the dir, and
#     `twofold run --user 999` is refused;
#   - the officer's CLI (default uid) still sends and reads messages;
#     another uid's gets the service's refusal line;
#   - audio files come as descriptors the CLI opened: a request naming
#     device.key makes the service read nothing;
#   - after a lock-down the files are ciphertext as before.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../net/lib.sh"

TWOFOLD_CA=${TWOFOLD_CA:-$BUILD_ROOT/src/ca/twofold-ca}
TWOFOLD_RELAY=${TWOFOLD_RELAY:-$BUILD_ROOT/src/relay/twofold-relay}
TWOFOLD_COMMS=${TWOFOLD_COMMS:-$BUILD_ROOT/src/comms/twofold-comms}
PORT=51997
# runnable inside the persona: a copy below /usr (test_persona.sh)
BIN_DIR=$(mktemp -d /usr/local/lib/tfcomms-test.XXXXXX)
cp "$TWOFOLD_COMMS" "$BIN_DIR/twofold-comms" && chmod 0755 "$BIN_DIR" "$BIN_DIR/twofold-comms"
export TWOFOLD_COMMS_BIN=$BIN_DIR/twofold-comms
BIN=$TWOFOLD_COMMS_BIN
EXTRA_CLEANUP="rm -rf '$BIN_DIR'"
eval "orig_$(declare -f device_conf)"
device_conf() { orig_device_conf "$@" && pconf secure comms yes; }

world_tunnel_up
ok "secure's tunnel is up"

ca() { "$TWOFOLD_CA" "$@" >/dev/null; }
ca init --suite intl -o "$W/ca" &&
	ca keygen --suite intl -o "$W/relay.key" &&
	for n in sec bob; do
		ca keygen --suite intl -o "$W/$n.key" &&
			ca issue --ca "$W/ca" --officer "$n" --role officer \
				--pubkey "$W/$n.key.pub" --days 1 -o "$W/$n.cert" || exit 1
	done || bail "twofold-ca failed"

bg "$NS_ORG" relay.log "$TWOFOLD_RELAY" --listen 10.77.100.10:$PORT \
	--key "$W/relay.key" --ca "$W/ca/ca.pub" --store "$W/store.db" -v
RELAY=$LASTPID

H=$S/fs/secure/data/home
SD=$H/.twofold-comms
BASE=$(($(stat -c %u "$H/app") - 1000))
CU=$((BASE + 999))
AU=$((BASE + 1000))
ok $([ "$BASE" -gt 0 ]; echo $?) "secure's uid_base is $BASE"
provision() {
	tf comms provision secure --key "$W/sec.key" --cert "$W/sec.cert" \
		--ca "$W/ca/ca.pub" --relay 10.77.100.10:$PORT \
		--relay-pub "$W/relay.key.pub" 2>&1
}
# as the persona's default uid (the officer's terminal), and as uid 2000
app() { timeout 10 "$TWOFOLD" --state "$S" run secure -- "$@" 2>&1; }
other() { timeout 10 "$TWOFOLD" --state "$S" run secure --user 2000 -- "$@" 2>&1; }

# ---- a symlink planted at /home/.twofold-comms: no write or chown outside
mkdir -p "$W/victim" && echo victim >"$W/victim/f" && chmod 0755 "$W/victim"
v0=$(stat -c '%u %g %a' "$W/victim" "$W/victim/f")
ln -s "$W/victim" "$SD"
r=$(provision)
ok $([ $? -ne 0 ]; echo $?) "provision through a symlinked state dir is refused" "$r"
ok $([ "$(stat -c '%u %g %a' "$W/victim" "$W/victim/f")" = "$v0" ] &&
	[ "$(ls -A "$W/victim")" = f ]; echo $?) "the symlink's target is untouched" \
	"$(ls -la "$W/victim")"
rm -f "$SD"

# ---- an older version's state dir: the default uid's, with planted links
r=$(app sh -c 'echo mine >/home/app/victim.txt && chmod 0644 /home/app/victim.txt && echo made')
ok $(has made "$r"; echo $?) "the default uid has a file of its own" "$r"
mkdir -m 0700 "$SD" "$SD/sessions" "$SD/inbox" &&
	echo old >"$SD/published" && chmod 0600 "$SD/published" &&
	chown -R "$AU:$AU" "$SD" || bail "cannot make the old state dir"
r=$(app sh -c 'ln -s /home/app/victim.txt /home/.twofold-comms/prekeys &&
	ln -s /home/app/victim.txt /home/.twofold-comms/sessions/bob &&
	ln /home/app/victim.txt /home/.twofold-comms/inbox/hl && echo planted')
ok $(has planted "$r"; echo $?) "the default uid planted two symlinks and a hardlink in the old dir" "$r"
t0=$(stat -c '%u %g %a' "$H/app/victim.txt")

r=$(provision)
ok $? "comms provision secure over the old dir" "$r"
wait_for 200 sh -c "'$TWOFOLD' --state '$S' comms status secure 2>/dev/null | grep -q 'relay connected'"
r=$(tf comms status secure 2>&1)
ok $(has "relay connected" "$r"; echo $?) "the service started and reached the relay" "$r"
SPID=$(pgrep -f "^$BIN --state /home" | head -1)
su=$(awk '/^Uid:/ {print $2}' "/proc/$SPID/status" 2>/dev/null)
ok $([ "$su" = "$CU" ]; echo $?) "the service runs as the comms uid ($CU on the host)" "uid $su"
st=$(stat -c '%u %a' "$SD")
ok $([ "$st" = "$CU 711" ]; echo $?) "its state dir is the comms uid's, 0711" "$st"
bad=$(find "$SD" -mindepth 1 ! -type s \( ! -uid "$CU" -o -perm /077 -type f -o -perm /077 -type d \) 2>&1)
ok $([ -z "$bad" ] && [ "$(stat -c %u "$SD/published")" = "$CU" ]; echo $?) \
	"everything in it, the old files too, is the comms uid's, files 0600, dirs 0700" "$bad"
links=$(find "$SD" -type l -o -type f -links +1)
ok $([ -z "$links" ]; echo $?) "the planted symlinks and the hardlink are gone" "$links"
ok $([ "$(stat -c '%u %g %a' "$H/app/victim.txt")" = "$t0" ] &&
	[ "$(cat "$H/app/victim.txt")" = mine ]; echo $?) \
	"the file they pointed to is still the default uid's, as it was" \
	"$t0 -> $(stat -c '%u %g %a' "$H/app/victim.txt")"

# ---- the default uid: no key, no listing; its CLI works
r=$(app sh -c 'cat /home/.twofold-comms/device.key >/dev/null')
ok $(has "Permission denied" "$r"; echo $?) "the default uid cannot read device.key" "$r"
r=$(app ls /home/.twofold-comms)
ok $(has "Permission denied" "$r"; echo $?) "the default uid cannot list the state dir" "$r"
r=$(app cat /home/.twofold-comms/sessions/bob)
ok $(has "Permission denied" "$r"; echo $?) "nor reach its sessions" "$r"
r=$(tf run secure --user 999 -- true 2>&1)
ok $([ $? -ne 0 ] && has "comms service" "$r"; echo $?) "twofold run --user 999 is refused" "$r"

mkdir -p "$W/bob"
bg "$NS_ORG" bob.log "$TWOFOLD_COMMS" --state "$W/bob" service \
	--relay 10.77.100.10:$PORT --relay-pub "$W/relay.key.pub" \
	--key "$W/bob.key" --cert "$W/bob.cert" --ca "$W/ca/ca.pub" -v
wait_for 100 sh -c "'$TWOFOLD_COMMS' --state '$W/bob' status 2>/dev/null | grep -q 'relay connected'"
ok $? "bob's service on the org side is connected"
bob() { timeout 5 "$TWOFOLD_COMMS" --state "$W/bob" "$@"; }
# wait_read CMD... TEXT: CMD's msg read shows TEXT within 20 s
wait_read() {
	local text=${*: -1} end=$((SECONDS + 20))
	set -- "${@:1:$#-1}"
	: >"$W/read"
	while [ $SECONDS -lt $end ]; do
		"$@" msg read >>"$W/read" 2>&1
		grep -q "$text" "$W/read" && return 0
		sleep 0.2
	done
	return 1
}
secapp() { app "$BIN" --state /home/.twofold-comms "$@"; }
r=$(secapp msg send bob "uid-hello-bob")
ok $(has "sending" "$r" || has "queued" "$r"; echo $?) "the officer's CLI (default uid) sends" "$r"
wait_read bob uid-hello-bob
ok $? "bob got it" "$(cat "$W/read")"
bob msg send sec "uid-hello-sec" >/dev/null
wait_read secapp uid-hello-sec
ok $? "the officer's CLI reads bob's answer" "$(cat "$W/read")"

# ---- the service opens no file for its caller: audio comes as an fd
r=$(secapp call bob --audio-in /home/.twofold-comms/device.key)
ok $(has "Permission denied" "$r"; echo $?) "call --audio-in device.key: the CLI (default uid) cannot open it" "$r"
r=$(app /usr/bin/python3 -c 'import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("/home/.twofold-comms/control")
s.send(b"call\nbob\n/home/.twofold-comms/device.key\n")
print(s.recv(1024).decode())')
ok $(has "cannot open the audio files" "$r"; echo $?) \
	"a raw call request naming device.key, no fd: refused, the service opens no path" "$r"
r=$(secapp status)
ok $(has "call idle" "$r"; echo $?) "no call was started" "$r"

# ---- another uid of the persona (an installed app has one of its own)
r=$(other "$BIN" --state /home/.twofold-comms msg send bob "uid-forged")
ok $(has "refused: uid 2000" "$r"; echo $?) "uid 2000: the service refuses it with a clear line" "$r"
r=$(other "$BIN" --state /home/.twofold-comms msg read)
ok $(has "refused" "$r" && not_has "uid-hello" "$r"; echo $?) "uid 2000 reads nothing" "$r"
r=$(other sh -c 'cat /home/.twofold-comms/device.key >/dev/null')
ok $(has "Permission denied" "$r"; echo $?) "uid 2000 cannot read device.key" "$r"
sleep 1
ok $(bob msg read 2>&1 | grep -q uid-forged; [ $? -ne 0 ]; echo $?) "nothing from uid 2000 reached bob"

# ---- lock-down: ciphertext as before
r=$(tf lock --evict secure 2>&1)
ok $? "lock --evict secure" "$r"
ok $(kill -0 "$SPID" 2>/dev/null; [ $? -ne 0 ]; echo $?) "the service (pid $SPID) is gone"
r=$(ls -a "$H" 2>&1)
ok $(not_has ".twofold-comms" "$r"; echo $?) "its directory's name is ciphertext on the host" "$r"
leak=$(grep -rl "uid-hello-sec" "$S/fs/secure/data" 2>/dev/null
	find "$S/fs/secure/data" -type f -size -4k -exec cmp -s "$W/sec.key" {} \; -print 2>/dev/null)
ok $([ -z "$leak" ]; echo $?) "no plaintext message or device key in secure's storage" "$leak"

bg_stop "$RELAY"
world_finish
