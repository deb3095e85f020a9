#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The other side of the device <-> relay channel, written on Debian's
python3-dissononce (an independent Noise implementation), for the intl
suite: Noise_IK_25519_ChaChaPoly_BLAKE2b with twofold's framing
(docs/comms-protocol.md). Spawns commsharness in the opposite role and
talks to it over pipes, one datagram per hex line.

    noise_peer.py HARNESS DIR relay|device

Exits 0 when the handshake and one transport round trip both ways
succeeded and the certificate arrived intact. The INIT's mac1 is
computed and checked here from the documented construction (Python's
hashlib and hmac, not twofold's code): HMAC-BLAKE2b keyed by
BLAKE2b("twofold comms mac1 v1" || relay static)[:32], first 16 bytes."""
import hashlib
import hmac
import struct
import subprocess
import sys

from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.x25519.private import PrivateKey
from dissononce.dh.x25519.public import PublicKey
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.blake2b import Blake2bHash
from dissononce.processing.handshakepatterns.interactive.IK import \
    IKHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState

PROLOGUE = b"twofold comms v1"
SUITE = 1  # intl
T_INIT, T_RESP, T_DATA = 1, 2, 3
MAC = 16


def mac1(relay_pub, msg):
    key = hashlib.blake2b(b"twofold comms mac1 v1" + relay_pub).digest()[:32]
    return hmac.new(key, msg, hashlib.blake2b).digest()[:MAC]


def rd(d, name):
    with open(f"{d}/{name}", "rb") as f:
        return f.read()


def new_hs():
    return HandshakeState(
        SymmetricState(CipherState(ChaChaPolyCipher()), Blake2bHash()),
        X25519DH())


def data(cs, receiver_id, counter, pt):
    hdr = struct.pack("<BBHIQ", T_DATA, SUITE, 0, receiver_id, counter)
    cs.set_nonce(counter)
    return hdr + cs.encrypt_with_ad(hdr, pt)


def undata(cs, msg, local_id):
    t, s, z, rid, ctr = struct.unpack("<BBHIQ", msg[:16])
    assert (t, s, z, rid) == (T_DATA, SUITE, 0, local_id), "DATA header"
    cs.set_nonce(ctr)
    return cs.decrypt_with_ad(msg[:16], msg[16:])


def main():
    harness, d, role = sys.argv[1:4]
    other = "device" if role == "relay" else "relay"
    p = subprocess.Popen([harness, other, "intl", d], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    send = lambda b: (p.stdin.write(b.hex() + "\n"), p.stdin.flush())
    recv = lambda: bytes.fromhex(p.stdout.readline().strip())
    dh = X25519DH()
    cert = rd(d, "dev.cert")
    if role == "relay":
        s = dh.generate_keypair(PrivateKey(rd(d, "relay.priv")))
        init = recv()
        t, suite, z, remote = struct.unpack("<BBHI", init[:8])
        assert (t, suite, z) == (T_INIT, SUITE, 0), "INIT header"
        m1 = len(init) - 2 * MAC
        assert init[m1:m1 + MAC] == mac1(rd(d, "relay.pub"), init[:m1]), \
            "mac1"
        assert init[m1 + MAC:] == bytes(MAC), "mac2 (no cookie asked for)"
        hs = new_hs()
        hs.initialize(IKHandshakePattern(), False, PROLOGUE + init[:8], s=s)
        payload = bytearray()
        hs.read_message(init[8:m1], payload)
        assert hs.rs.data == rd(d, "dev.pub"), "device static key"
        ts, clen = struct.unpack("<QH", payload[:10])
        assert bytes(payload[10:]) == cert and clen == len(cert), "cert"
        local = 0x5eed5eed
        ids = struct.pack("<II", local, remote)
        msg2 = bytearray()
        cs_recv, cs_send = hs.write_message(ids, msg2)
        send(struct.pack("<BBH", T_RESP, SUITE, 0) + ids + bytes(msg2))
        pt = undata(cs_recv, recv(), local)
        assert pt == b"ping", pt
        send(data(cs_send, remote, 0, b"pong:" + pt))
    else:
        s = dh.generate_keypair(PrivateKey(rd(d, "dev.priv")))
        rs = PublicKey(rd(d, "relay.pub"))
        local = 0x0d0d0d0d
        hdr = struct.pack("<BBHI", T_INIT, SUITE, 0, local)
        hs = new_hs()
        hs.initialize(IKHandshakePattern(), True, PROLOGUE + hdr, s=s, rs=rs)
        msg1 = bytearray()
        hs.write_message(struct.pack("<QH", 1, len(cert)) + cert, msg1)
        init = hdr + bytes(msg1)
        send(init + mac1(rd(d, "relay.pub"), init) + bytes(MAC))
        resp = recv()
        t, suite, z, remote, me = struct.unpack("<BBHII", resp[:12])
        assert (t, suite, z, me) == (T_RESP, SUITE, 0, local), "RESP hdr"
        payload = bytearray()
        cs_send, cs_recv = hs.read_message(resp[12:], payload)
        assert bytes(payload) == resp[4:12], "RESP ids"
        send(data(cs_send, remote, 0, b"hello"))
        pt = undata(cs_recv, recv(), local)
        assert pt == b"pong:hello", pt
    p.stdin.close()
    rc = p.wait()
    assert rc == 0, f"commsharness {other} exited {rc}"
    print(f"interop ok: dissononce {role} <-> twofold {other}")


if __name__ == "__main__":
    main()
