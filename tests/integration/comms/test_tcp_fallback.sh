#!/usr/bin/env bash
# Integration: the channel's TCP fallback. With the relay's UDP port
# dropped by nftables in the test's own network namespace, twofold-comms
# gets no answer over UDP, falls back to TCP on the same port, and
# messages still go through (a stored one to an offline recipient, and
# both directions live); when UDP is let through again a new session
# uses UDP. The relay's TCP side against hostile clients: a frame longer
# than a datagram, a half-sent frame (slowloris) and a connection that
# never authenticates are closed by their deadlines while a device keeps
# being served; connections beyond --max-tcp are refused. TAP. Cleans up
# its processes, nftables table and temp dir.
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}"
PORT=51995
. "$(dirname "$0")/commslib.sh"
EXTRA_CLEANUP='nft delete table inet tftcpfb 2>/dev/null; rm -rf "$W"'

udp_block() {
	nft add table inet tftcpfb &&
		nft add chain inet tftcpfb in '{ type filter hook input priority 0; }' &&
		nft add rule inet tftcpfb in udp dport $PORT drop
}
udp_unblock() { nft delete table inet tftcpfb 2>/dev/null; }

comms_world intl
relay_start
ok $? "relay starts (UDP and TCP on port $PORT)" "$(cat "$W/relay.log")"

udp_block
ok $? "nftables drops UDP to the relay's port"

svc_start bob
wait_status bob "relay connected" && [ -f "$W/bob/published" ]
ok $? "bob connects over TCP (UDP unanswered) and publishes prekeys" \
	"$(cat "$W/bob.log")"
has "no answer over UDP; trying TCP" "$(cat "$W/bob.log")" &&
	grep -q "bob connected (serial [0-9]*, officer, TCP)" "$W/relay.log"
ok $? "it was the fallback: the service says so, the relay saw TCP" \
	"$(cat "$W/bob.log") / $(cat "$W/relay.log")"
svc_stop bob

svc_start alice
wait_status alice "relay connected"
ok $? "alice connects over TCP" "$(cat "$W/alice.log")"
for i in 1 2 3; do
	cm alice msg send bob "over tcp $i" >/dev/null || break
done
wait_status alice "outbox 0"
ok $? "three messages to offline bob stored through TCP" \
	"$(cm alice status) $(cat "$W/alice.log")"

svc_start bob
wait_read bob 3
[ "$(grep -c '^from alice: over tcp [123]$' <"$W/bob.read")" = 3 ]
ok $? "bob, back over TCP, reads all three, each once" "$(cat "$W/bob.read")"
echo "tcp reply" | cm bob msg send alice - >/dev/null
wait_read alice 1
has "from bob: tcp reply" "$(cat "$W/alice.read")"
ok $? "bob's live reply reaches alice over TCP" "$(cat "$W/alice.read")"

# hostile TCP clients while alice and bob stay connected
python3 - "$PORT" >"$W/hostile.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(30)
    return s
def closed(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return True
long_ = conn(); long_.sendall(b"\xff\xff" + b"x" * 64)     # > a datagram
half = conn(); half.sendall(b"\x00\x80" + b"y" * 10)       # never finished
mute = conn()                                              # never speaks
print("oversized closed", closed(long_), flush=True)
t = time.monotonic()
print("half-sent closed", closed(half), flush=True)
print("silent closed", closed(mute), flush=True)
print("waited", int(time.monotonic() - t), flush=True)
PY
hp=$!
BG_PIDS="$BG_PIDS $hp"
sleep 1
cm alice msg send bob "during the attack" >/dev/null
wait_read bob 1
has "from alice: during the attack" "$(cat "$W/bob.read")"
ok $? "while hostile connections hang on, devices are served" \
	"$(cat "$W/bob.read")"
wait $hp
out=$(cat "$W/hostile.out")
has "oversized closed True" "$out" && has "half-sent closed True" "$out" &&
	has "silent closed True" "$out"
ok $? "an oversized frame, a half-sent frame, a silent connection: closed" \
	"$out"

udp_unblock
svc_stop alice
svc_start alice
wait_status alice "relay connected"
[ "$(grep -c 'alice connected (serial .*, officer)$' "$W/relay.log")" -ge 1 ]
ok $? "with UDP let through again, a new session uses UDP" \
	"$(tail -5 "$W/relay.log")"
svc_stop alice
svc_stop bob
relay_stop TERM

# the connection cap
: >"$W/relay.out" # no stale "ready" from the relay before
"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
	--ca "$W/ca/ca.pub" --store "$W/store.db" --max-tcp 2 -v \
	>"$W/relay.out" 2>>"$W/relay.log" &
RP=$!
bg_update
wait_for "$W/relay.out" ready
out=$(python3 - "$PORT" <<'PY'
import select, socket, sys, time
port = int(sys.argv[1])
# two workers accept from two listeners (SO_REUSEPORT): which of three
# simultaneous connections is the one over the cap is not ordered
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
closed = set()
end = time.monotonic() + 5
while time.monotonic() < end and len(closed) < 3:
    r, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.5)
    for s in r:
        try:
            if s.recv(1) == b"":
                closed.add(s)
        except ConnectionResetError:
            closed.add(s)
    if closed and not r:
        break
print("closed", len(closed), "open", 3 - len(closed))
PY
)
has "closed 1 open 2" "$out" &&
	wait_for "$W/relay.log" "TCP connection cap (2) reached"
ok $? "--max-tcp 2: of three connections one is refused, two stay" "$out"
relay_stop TERM
finish
