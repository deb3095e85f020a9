#!/usr/bin/env bash
# Integration: twofold-comms on ALSA devices (issue 15: "audio devices
# when present and the persona has the foreground or a call is active").
# No sound card here: the real libasound code path runs on the file
# plugin over the null one, from an ALSA_CONFIG_PATH file this test
# writes (each officer's device an asym pcm: capture from a generated
# speech file through `infile`, playback into a raw file).
#  - a call with both ends on devices: each side's playback file decodes
#    to the other's speech (audiotool snr);
#  - the microphone (the capture infile) is open in the service only while
#    the call is active: not when idle, not while ringing, not after the
#    hang-up (checked in /proc/PID/fd, no strace); a PTT press opens it,
#    the release closes it;
#  - a received PTT burst plays on the device only with "foreground yes"
#    from the daemon's channel (--daemon-fd, a FIFO here), and with
#    "foreground no" is still heard (--audio-out) but not played, and
#    `status` says so;
#  - `foreground` on the control socket is refused (root or not);
#  - the daemon's "audio yes" opens a device the answer could not (and
#    nothing without a call);
#  - the service tells the daemon on that channel (a socketpair here too,
#    chanpair.py) "call idle" at its start, "call active" at the answer
#    and "call idle" after the hang-up;
#  - a bad device name: one clear line, and the call still works for the
#    other side.
# TAP. Cleans up its processes and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${TWOFOLD_GROUPD:?}" "${AUDIOTOOL:?}"
PORT=51993
. "$(dirname "$0")/commslib.sh"
SNR_MIN=${SNR_MIN:-4}

if ! grep -qa snd_pcm_open "$TWOFOLD_COMMS"; then
	echo "1..0 # SKIP twofold-comms built without ALSA (-Dalsa=disabled)"
	exit 0
fi

size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# holds NAME FILE: NAME's service has FILE open
holds() {
	local f
	for f in /proc/"${SP[$1]}"/fd/*; do
		[ "$(readlink "$f")" = "$2" ] && return 0
	done
	return 1
}
alsa_conf() { # one asym device per officer: DEV = NAME
	local n
	for n in "$@"; do
		cat <<-EOF
		pcm.$n {
			type asym
			capture.pcm { type file; slave.pcm { type null }; file "/dev/null"; infile "$W/$n.mic"; format raw }
			playback.pcm { type file; slave.pcm { type null }; file "$W/$n.spk"; format raw }
		}
		pcm.${n}_mic { type file; slave.pcm { type null }; file "/dev/null"; infile "$W/$n.mic"; format raw }
		EOF
	done
}

comms_world intl carol
ca keygen --suite intl -o "$W/groupd.key"
ca issue --ca "$W/ca" --officer groupd --role group-authority \
	--pubkey "$W/groupd.key.pub" --days 1 -o "$W/groupd.cert"
"$AUDIOTOOL" gen "$W/alice.mic" 20 140
"$AUDIOTOOL" gen "$W/bob.mic" 20 210
: >"$W/carol.mic"
{
	alsa_conf alice bob carol
	# bob's device for a call while his PTT bursts use "bob"
	cat <<-EOF
	pcm.boblate {
		type asym
		capture.pcm { type file; slave.pcm { type null }; file "/dev/null"; infile "$W/late.mic"; format raw }
		playback.pcm { type file; slave.pcm { type null }; file "$W/late.spk"; format raw }
	}
	pcm.bobcall {
		type asym
		capture.pcm { type file; slave.pcm { type null }; file "/dev/null"; infile "$W/bob.mic"; format raw }
		playback.pcm { type file; slave.pcm { type null }; file "$W/bobcall.spk"; format raw }
	}
	EOF
} >"$W/asound.conf"
export ALSA_CONFIG_PATH=$W/asound.conf
# bob's daemon channel, as twofoldd makes it: a socketpair whose other
# end only "the daemon" holds. Here that end is chanpair.py's, which
# copies a FIFO this script alone opens for writing (fd 8, after every
# service started, so none inherits it) into it, and what the service
# says into bob.said: closing fd 8 closes the channel.
mkfifo "$W/bob.fg"
: >"$W/bob.said"
bob_start() {
	python3 "$(dirname "$0")/chanpair.py" "$W/bob.fg" "$W/bob.said" 7 \
		"$TWOFOLD_COMMS" --state "$W/bob" service --relay 127.0.0.1:$PORT \
		--relay-pub "$W/relay.key.pub" --key "$W/bob.key" \
		--cert "$W/bob.cert" --ca "$W/ca/ca.pub" -v --audio-dev bob \
		--daemon-fd 7 --audio-out "$W/bob.heard" \
		>"$W/bob.out" 2>>"$W/bob.log" &
	SP[bob]=$!
	bg_update
	wait_for "$W/bob.out" ready
}

relay_start
svc_start alice --audio-dev alice
svc_start groupd
bob_start
exec 8>"$W/bob.fg"
wait_status alice "relay connected" && wait_status bob "relay connected" &&
	wait_status groupd "relay connected"
ok $? "relay and services on ALSA devices start" "$(cat "$W"/*.log)"
has "audio_dev bob" "$(cm bob status)" && has "foreground no" "$(cm bob status)"
ok $? "status: the device, and background until the daemon says otherwise" "$(cm bob status)"
said() { tr '\n' '|' <"$W/bob.said"; }
ok $([ "$(said)" = "call idle|" ]; echo $?) "the service tells the daemon: call idle at its start" "$(said)"

# idle: nobody's microphone is open
! holds alice "$W/alice.mic" && ! holds bob "$W/bob.mic"
ok $? "idle: no service holds its capture device open"

out=$(cm alice call bob 2>&1)
has "ringing bob" "$out" && wait_status bob "call incoming"
ok $? "alice calls bob (devices from the service's --audio-dev)" "$out"
! holds alice "$W/alice.mic" && ! holds bob "$W/bob.mic"
ok $? "ringing: the capture is not open on either side"
out=$(cm bob answer 2>&1)
ok $? "bob answers" "$out"
wait_status alice "call active" && wait_frames bob call_rx_frames 300 &&
	wait_frames alice call_rx_frames 300
ok $? "6 s of audio each way" "$(cm alice status) $(cm bob status)"
holds alice "$W/alice.mic" && holds bob "$W/bob.mic"
ok $? "active: both capture devices are open" "$(ls -l /proc/"${SP[alice]}"/fd)"
ok $([ "$(said)" = "call idle|call active|" ]; echo $?) "... and call active at the answer" "$(said)"
cm alice hangup >/dev/null && wait_status bob "call idle" && wait_status alice "call idle"
ok $? "alice hangs up"
for _ in $(seq 50); do [ "$(said)" = "call idle|call active|call idle|" ] && break; sleep 0.1; done
ok $([ "$(said)" = "call idle|call active|call idle|" ]; echo $?) "... and call idle after the hang-up" "$(said)"
! holds alice "$W/alice.mic" && ! holds bob "$W/bob.mic"
ok $? "after the call: the capture is closed again on both sides"
ab=$("$AUDIOTOOL" snr "$W/alice.mic" "$W/bob.spk")
ba=$("$AUDIOTOOL" snr "$W/bob.mic" "$W/alice.spk")
wrong=$("$AUDIOTOOL" snr "$W/alice.mic" "$W/alice.spk")
diag "alice->bob $ab; bob->alice $ba; wrong file $wrong"
awk -v a="${ab#snr }" -v b="${ba#snr }" -v w="${wrong#snr }" -v m="$SNR_MIN" \
	'BEGIN { split(a, x, " "); split(b, y, " "); split(w, z, " ");
		exit !(x[1] >= m && y[1] >= m && z[1] < 2) }'
ok $? "each side's device played the other's speech (SNR >= $SNR_MIN dB), not its own" \
	"$ab / $ba / $wrong"

# a bad device on bob's side: one clear line; alice still hears him
# (silence) and bob's side still receives
rm -f "$W/alice.spk"
cm alice call bob >/dev/null && wait_status bob "call incoming"
out=$(cm bob answer --audio-dev nosuchpcm 2>&1)
rc=$?
[ $rc = 0 ] && has "cannot open the audio device nosuchpcm for" "$out"
ok $? "a bad device: answered, with a one-line warning naming it" "$out"
grep -q "cannot open the audio device nosuchpcm for capture: .*--audio-dev" "$W/bob.log" &&
	has "call_audio_error cannot open the audio device nosuchpcm" "$(cm bob status)"
ok $? "the service's log and status name the device and what to check" \
	"$(tail -3 "$W/bob.log")"
r0=$(stat_of bob call_rx_frames)
wait_frames alice call_rx_frames 100 && wait_frames bob call_rx_frames $((r0 + 100)) &&
	[ "$(size "$W/alice.spk")" -gt 0 ]
ok $? "the call works all the same: frames both ways, alice's device plays" \
	"$(cm alice status | grep rx_frames) $(size "$W/alice.spk")"
cm alice hangup >/dev/null && wait_status bob "call idle"

# a device refused at the answer (in a persona: the background, before
# the daemon set the card aside for the call) opens on the daemon's
# "audio yes"; here its capture file appears only later
cm alice call bob >/dev/null && wait_status bob "call incoming"
cm bob answer --audio-dev boblate >/dev/null 2>&1 && wait_status alice "call active"
ok $? "bob answers on a device whose capture cannot open yet" "$(cm bob status)"
! holds bob "$W/late.mic"
ok $? "... its capture is not open" "$(ls -l /proc/"${SP[bob]}"/fd)"
cp "$W/bob.mic" "$W/late.mic"
echo "audio yes" >&8
for _ in $(seq 50); do holds bob "$W/late.mic" && break; sleep 0.1; done
holds bob "$W/late.mic" && grep -q "call devices open after twofoldd's audio yes" "$W/bob.log"
ok $? "the daemon's audio yes: the service opens it during the call" "$(tail -3 "$W/bob.log")"
cm alice hangup >/dev/null && wait_status bob "call idle"
! holds bob "$W/late.mic"
ok $? "... and closes it at the hang-up" "$(ls -l /proc/"${SP[bob]}"/fd)"
echo "audio yes" >&8
sleep 0.3
! holds bob "$W/late.mic"
ok $? "audio yes without a call opens nothing" "$(ls -l /proc/"${SP[bob]}"/fd)"

# the foreground comes from the daemon's channel only
out=$(python3 - "$W/bob/control" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	s.connect(sys.argv[1])
	s.send(b"foreground yes")
	print(s.recv(512).decode().strip())
	EOF
)
has "error refused" "$out" && has "foreground no" "$(cm bob status)"
ok $? "foreground on the control socket (root here): refused" "$out"
chmod 0755 "$W" "$W/bob" 2>/dev/null
chown nobody "$W/bob/control"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 - "$W/bob/control" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	s.connect(sys.argv[1])
	s.send(b"foreground yes")
	print(s.recv(512).decode().strip())
	EOF
)
chown root "$W/bob/control"
chmod 0700 "$W/bob"
has "error refused" "$out" && has "foreground no" "$(cm bob status)"
ok $? "foreground on the control socket from another uid: refused" "$out"

# push-to-talk: a group of alice and bob
gd init --key "$W/groupd.key" --cert "$W/groupd.cert" --ca "$W/ca/ca.pub" >>"$W/gd.log" 2>&1 &&
	gd create north >>"$W/gd.log" && gd add north "$W/alice.cert" >>"$W/gd.log" &&
	gd add north "$W/bob.cert" >>"$W/gd.log" &&
	gd publish north --relay 127.0.0.1:$PORT --relay-pub "$W/relay.key.pub" \
		--comms "$W/groupd" >>"$W/gd.log" 2>&1 &&
	wait_status alice "group north .* joined" && wait_status bob "group north .* joined"
ok $? "a talk group of alice and bob" "$(cat "$W/gd.log"; cm bob status)"
"$AUDIOTOOL" gen "$W/burst.raw" 1 180
rm -f "$W/bob.spk"
cm alice ptt north --press --audio-in "$W/burst.raw" >/dev/null &&
	wait_status bob "group north .* heard 50 "
ok $? "background: bob hears alice's burst (decoded, --audio-out)" "$(cm bob status)"
sleep 1
st=$(cm bob status)
has "played 0 not-played-background 50" "$st" &&
	has "ptt_not_played north 50 frames: the secure persona is in the background" "$st" &&
	[ ! -e "$W/bob.spk" ]
ok $? "background: not played on the device, and status says why" "$st $(size "$W/bob.spk")"
echo "foreground yes" >&8
wait_status bob "foreground yes"
ok $? "the daemon's channel says foreground yes" "$(cm bob status)"
cm alice ptt north --press --audio-in "$W/burst.raw" >/dev/null &&
	wait_status bob "group north .* heard 100 .* played 50 not-played-background 50"
ok $? "foreground: the next burst plays on the device" "$(cm bob status)"
sleep 1 # the device is closed 0.5 s after the burst's last frame
[ "$(size "$W/bob.spk")" -ge $((50 * 640)) ] && ! holds bob "$W/bob.spk"
ok $? "bob's device got the whole burst, and was closed after it" "$(size "$W/bob.spk") bytes"
echo "foreground no" >&8
wait_status bob "foreground no"
ok $? "and foreground no again" "$(cm bob status)"

# in the background but in a call: bursts play (the officer is on the
# device already)
rm -f "$W/bob.spk"
cm alice call bob >/dev/null && wait_status bob "call incoming" &&
	cm bob answer --audio-dev bobcall >/dev/null && wait_status alice "call active"
ok $? "background: bob in a call with alice (on another device)" "$(cm bob status)"
cm alice ptt north --press --audio-in "$W/burst.raw" >/dev/null &&
	wait_status bob "group north .* heard 150 .* played 100 not-played-background 50"
ok $? "background, call active: the burst plays on the device" "$(cm bob status)"
cm alice hangup >/dev/null && wait_status bob "call idle"
sleep 1
[ "$(size "$W/bob.spk")" -ge $((50 * 640)) ]
ok $? "bob's PTT device got the burst" "$(size "$W/bob.spk") bytes"

# a press with a device: the mic opens at the press, closes at the release
cm alice ptt north --press --audio-dev alice_mic >/dev/null && sleep 0.3 &&
	holds alice "$W/alice.mic"
ok $? "ptt --press --audio-dev: the capture opens with the key" "$(ls -l /proc/"${SP[alice]}"/fd)"
wait_status bob "group north .* heard 1[7-9][0-9] "
ok $? "bob hears alice's device" "$(cm bob status)"
cm alice ptt north --release >/dev/null && sleep 0.2
! holds alice "$W/alice.mic"
ok $? "ptt --release: the capture is closed" "$(ls -l /proc/"${SP[alice]}"/fd)"

# the daemon's end closes: background (nobody says otherwise)
echo "foreground yes" >&8
wait_status bob "foreground yes"
exec 8>&-
wait_status bob "foreground no"
ok $? "the daemon's channel closed: background again" "$(cm bob status)"

for n in alice bob groupd; do svc_stop $n; done
relay_stop TERM
finish
