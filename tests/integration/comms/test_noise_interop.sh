#!/usr/bin/env bash
# Integration: the intl channel handshake (Noise_IK_25519_ChaChaPoly_BLAKE2b
# with twofold's framing and prologue) against an independent Noise
# implementation, Debian's python3-dissononce, in both directions, then
# one transport datagram each way. In-memory over pipes (no network).
# Also the gm suite between two twofold ends through the same harness.
# TAP. Works in a temp dir it removes.
. "$(dirname "$0")/../tap.sh"
: "${COMMSHARNESS:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/tfnoise.XXXXXX)
EXTRA_CLEANUP='rm -rf "$W"'
PY=/usr/bin/python3 # Debian's, where python3-dissononce is installed

"$COMMSHARNESS" setup intl "$W"
ok $? "setup: CA, relay key, device key and certificate"
if ! "$PY" -c 'import dissononce' 2>/dev/null; then
	nok "python3-dissononce importable" "tools/deps.sh installs it"
	finish
fi
for role in relay device; do
	out=$("$PY" "$HERE/noise_peer.py" "$COMMSHARNESS" "$W" $role 2>&1)
	ok $? "intl: dissononce as $role, twofold as the other end" "$out"
done
# a relay key the device does not know: the handshake must fail
mv "$W/relay.pub" "$W/relay.pub.good"
mkdir "$W/other" && "$COMMSHARNESS" setup intl "$W/other" &&
	cp "$W/other/relay.pub" "$W/relay.pub"
ok $? "setup: another relay's key"
out=$("$PY" "$HERE/noise_peer.py" "$COMMSHARNESS" "$W" device 2>&1)
[ $? -ne 0 ] && has "commsharness: relay accept" "$out"
ok $? "intl: a handshake to another relay's key is refused by the relay" "$out"
mv "$W/relay.pub.good" "$W/relay.pub"

# gm: twofold on both ends (no independent SM2/SM3/SM4 Noise exists)
G="$W/gm"
mkdir "$G" && "$COMMSHARNESS" setup gm "$G"
ok $? "gm setup"
mkfifo "$W/a" "$W/b"
"$COMMSHARNESS" relay gm "$G" <"$W/a" >"$W/b" 2>"$W/relay.log" &
rp=$!
BG_PIDS="$rp"
"$COMMSHARNESS" device gm "$G" >"$W/a" <"$W/b" 2>"$W/device.log"
drc=$?
wait "$rp"
rrc=$?
[ $drc = 0 ] && [ $rrc = 0 ]
ok $? "gm: twofold device <-> twofold relay" "$(cat "$W/relay.log" "$W/device.log")"
finish
