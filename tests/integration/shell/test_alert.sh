#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Urgent incident alerts (issue 14 item 6; docs/shell.md "Urgent alerts"),
# with twofoldd and twofold-shell as in test_daemon.sh:
#  - a signed alert while secure is locked: the shell's card is on screen,
#    no secure pixel otherwise; the event carries the id only;
#  - forged (another signer), expired, wrong persona, replayed: refused,
#    audited, no card; the seen-set survives a daemon restart;
#  - the UDP port inside secure's network namespace: garbage refused, a
#    signed alert accepted;
#  - Return on the card opens the trusted pad; the PIN (wtype on the host
#    socket) unlocks secure, brings it in front and shows the body; a lock
#    takes the body off screen; the body's bytes are in no log.
. "$(dirname "$0")/../persona/lib.sh"
. "$(dirname "$0")/lib.sh"

PIN=123456 # enroll_unlock_secure's
BLUE=0000ff
RGB_ALERT=ff5000
RGB_ALERT_BODY=281018
RGB_INK=fffff0
PORT=7399
BODY="Suspect vehicle REDKESTREL-4417 northbound"
SHUID=60142
pkg() { "$TWOFOLD" pkg "$@"; }

shell_group tfalert$$
setup_state
shell_conf
PK=$(pkg keygen --out "$SH_DIR/org.key") || bail "pkg keygen failed"
pkg keygen --out "$SH_DIR/other.key" >/dev/null || bail "pkg keygen failed"
set_persona_conf() {
	sed -i "/^\[persona $1\]/,/^\[/ s|^#\?$2 =.*|$2 = $3|" "$S/device.conf"
}
set_persona_conf secure alert_trust "$PK"
set_persona_conf secure alert_port $PORT
start_daemon || bail "daemon did not start"
enroll_unlock_secure || bail "enroll/unlock secure"
grep -q "alerts for secure on UDP port $PORT" "$DLOG"
ok $? "the daemon listens on the alert port inside secure's network namespace" "$(grep alert "$DLOG")"

shell_dirs
start_dshell || bail "shell did not start"
app_client secure sec window $BLUE

# secure's network namespace, as the daemon holds it (it stays while
# secure is locked): the daemon's fd of the namespace secure's app is in
NSINO=$(tf run secure -- readlink /proc/self/ns/net 2>/dev/null)
NSFD=
for f in /proc/"$DPID"/fd/*; do
	[ "$(readlink "$f" 2>/dev/null)" = "$NSINO" ] && NSFD=$f && break
done
[ -n "$NSFD" ]
ok $? "secure's network namespace is the daemon's to hold" "$NSINO $NSFD"

wait_st() { for _ in $(seq 100); do has "$1" "$(ctl status)" && return 0; sleep 0.05; done; return 1; }
tf lock secure >/dev/null || bail "lock secure"
wait_st "secure=locked" || bail "the shell did not see the lock"
# audited N TYPE WHY: the audit log has N records of TYPE with WHY
audited() { [ "$(tf audit show 2>&1 | grep "$2" | grep -c "$3")" -ge "$1" ]; }

# ---- refusals: no card
mk() { pkg alert --key "$SH_DIR/org.key" --title "Incident" --body "$BODY" -o "$SH_DIR/$1.tfal" "${@:2}" >/dev/null; }
mk good || bail "pkg alert failed"
pkg alert --key "$SH_DIR/other.key" --title "Incident" --body "$BODY" -o "$SH_DIR/forged.tfal" >/dev/null
mk expired --issued-at $(($(date +%s) - 1000)) --ttl 60
mk future --issued-at $(($(date +%s) + 3600)) --ttl 60
mk personal --persona personal
# a valid record with one bit of the body flipped
python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[60]^=1; open(sys.argv[2],'wb').write(d)" \
	"$SH_DIR/good.tfal" "$SH_DIR/flipped.tfal"
for f in forged expired future personal flipped; do
	out=$(tf alert post "$SH_DIR/$f.tfal" 2>&1)
	rc=$?
	[ $rc != 0 ] && has refused "$out"
	ok $? "a $f alert is refused" "rc=$rc $out"
done
audited 5 alert.refused "via=post"
ok $? "... each refusal audited (alert.refused)" "$(tf audit show 2>&1 | grep alert | tail -5)"
shot r1
st=$(ctl status)
has "alert=-" "$st" && [ "$(count r1 $RGB_ALERT)" = 0 ]
ok $? "... and no card on screen" "$st alert $(count r1 $RGB_ALERT)"

# ---- a signed alert while secure is locked
sub=$SH_DIR/events
timeout 20 "$TWOFOLD" --state "$S" status --watch >"$sub" 2>&1 &
WPID=$!
BG_PIDS="$BG_PIDS $WPID"
sleep 0.5
out=$(tf alert post "$SH_DIR/good.tfal" 2>&1)
ok $? "a signed alert for secure is accepted" "$out"
ID=$(echo "$out" | awk '{ print $2 }')
wait_st "alert=card:$ID"
ok $? "the shell shows the card for its id" "$(ctl status)"
shot c1
[ "$(count c1 $RGB_ALERT)" -gt 100000 ] && [ "$(count c1 $RGB_INK)" -gt 0 ] && [ "$(count c1 $BLUE)" = 0 ]
ok $? "the card covers the screen, with its text; no secure pixel" \
	"alert $(count c1 $RGB_ALERT) ink $(count c1 $RGB_INK) blue $(count c1 $BLUE)"
has "secure=locked" "$(ctl status)" && has "secure frozen" "$(tf persona list 2>&1)"
ok $? "secure is still locked" "$(tf persona list 2>&1)"
sleep 0.3
kill "$WPID" 2>/dev/null
grep -q "alert secure id $ID" "$sub" && ! grep -q -e "$BODY" -e Incident "$sub"
ok $? "the event names the id, never the title or body" "$(grep alert "$sub")"
audited 1 alert.accepted "$ID"
ok $? "... audited (alert.accepted)"

out=$(tf alert post "$SH_DIR/good.tfal" 2>&1)
rc=$?
[ $rc != 0 ] && has "already seen" "$out"
ok $? "the same alert again is refused as a replay" "rc=$rc $out"

# ALERT_BODY (24) by hand: ERRNO and TEXT of the answer, as uid $1
body_req() { daemon_req "$1" 24 1 secure; }
out=$(body_req 0)
case $out in -*) not_has "$BODY" "$out" ;; *) false ;; esac
ok $? "ALERT_BODY while secure is locked: refused, even to root" "$out"
out=$(body_req $SHUID 2>&1)
case $out in -*) not_has "$BODY" "$out" ;; *) false ;; esac
ok $? "... and to the shell" "$out"

# ---- the UDP port inside secure's namespace
udp() { nsenter --net="$NSFD" python3 -c "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.sendto(open(sys.argv[1],'rb').read() if sys.argv[1] != '-' else b'TFAL garbage', ('127.0.0.1', $PORT))" "$1"; }
udp -
for _ in $(seq 50); do tf audit show 2>&1 | grep alert.refused | grep -q via=udp && break; sleep 0.1; done
udp "$SH_DIR/forged.tfal"
sleep 0.3
tf audit show 2>&1 | grep alert.refused | grep -q via=udp && has "alert=card:$ID" "$(ctl status)"
ok $? "garbage and a forged alert on the UDP port: refused, audited, the card unchanged" "$(ctl status)"
mk udp || bail "pkg alert failed"
udp "$SH_DIR/udp.tfal"
for _ in $(seq 50); do tf audit show 2>&1 | grep alert.accepted | grep -q via=udp && break; sleep 0.1; done
ID2=$(tf audit show 2>&1 | grep alert.accepted | grep via=udp | sed 's/.*id=\([0-9a-f]*\).*/\1/' | tail -1)
[ -n "$ID2" ] && wait_st "alert=card:$ID2"
ok $? "a signed alert on the UDP port: accepted, the card shows it" "$ID2 $(ctl status)"

# ---- a tap on the card (a headless touch device: control `touch`)
# opens the pad as Return does; Escape brings the card back
r=$(ctl touch down 1 360 700)$(ctl touch up 1)
wait_st "pad=typing"
ok $? "a touch on the card opens the trusted pad" "$r $(ctl status)"
on "$H_SOCK" wtype -k Escape
wait_st "pad=-" && wait_st "alert=card:$ID2"
ok $? "Escape on the pad: the card again" "$(ctl status)"

# ---- Return, the pad, the body
on "$H_SOCK" wtype -k Return
wait_st "pad=typing"
ok $? "Return on the card opens the trusted pad" "$(ctl status)"
on "$H_SOCK" wtype "$PIN"
on "$H_SOCK" wtype -k Return
wait_st "alert=body:$ID2"
st=$(ctl status)
has "fg=secure" "$st" && has "secure=open" "$st" && has "alert=body:$ID2:$((${#BODY} + 9))" "$st"
ok $? "after the PIN: secure unlocked and in front, the body shown" "$st"
shot b1
[ "$(count b1 $RGB_ALERT_BODY)" -gt 0 ] && [ "$(count b1 $RGB_INK)" -gt 0 ] && [ "$(count b1 $BLUE)" = 0 ]
ok $? "the body is drawn by the shell, over every client" \
	"bg $(count b1 $RGB_ALERT_BODY) ink $(count b1 $RGB_INK) blue $(count b1 $BLUE)"
tf lock secure >/dev/null
wait_st "alert=card:$ID2:0"
ok $? "secure locked again: the body is off screen, the card back" "$(ctl status)"
printf '%s\n' "$PIN" | tf unlock secure --pin-stdin >/dev/null
tf switch secure >/dev/null
wait_st "secure=open"
on "$H_SOCK" wtype -k Return
wait_st "alert=body:$ID2"
on "$H_SOCK" wtype -k Escape
wait_st "alert=-"
ok $? "unlocked: Return shows the body at once, Escape dismisses it" "$(ctl status)"
out=$(body_req 0)
has "0 $ID2|Incident|$BODY" "$out"
ok $? "ALERT_BODY while secure runs: root gets id, title, body" "$out"
out=$(body_req 60199 2>&1)
case $out in -*) not_has "$BODY" "$out" ;; *) false ;; esac
ok $? "... a member of control_group does not" "$out"
shot d1
[ "$(count d1 $BLUE)" -gt 0 ] && [ "$(count d1 $RGB_ALERT)" = 0 ]
ok $? "... and secure's window is back" "blue $(count d1 $BLUE)"

n=0
for f in "$SH_LOG" "$DLOG" "$S/audit.log"; do
	[ -e "$f" ] && grep -q -a -e "REDKESTREL" "$f" && n=$((n + 1))
done
[ $n = 0 ] && [ -s "$SH_LOG" ] && [ -s "$DLOG" ]
ok $? "the body's bytes are in no log (shell, daemon, audit)" "$n have it"

# ---- the seen-set outlives the daemon
stop_daemon
start_daemon || bail "daemon did not restart"
out=$(tf alert post "$SH_DIR/udp.tfal" 2>&1)
rc=$?
[ $rc != 0 ] && has "already seen" "$out"
ok $? "after a restart the UDP alert is still refused as a replay" "rc=$rc $out"
kill -0 "$SH_PID"
ok $? "the shell is still running"
finish
