#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Independent computation of a WireGuard (intl suite) handshake with fixed
keys, for test_wg.c's known-answer vector. Written from the whitepaper
(section 5.4) with Python's own BLAKE2s (hashlib) and OpenSSL's X25519 and
ChaCha20-Poly1305 (python3-cryptography): none of the libraries twofold's
tf_wg uses for these primitives (libgcrypt, libsodium).

Run: python3 tests/unit/wg/kat_intl.py  -> prints the C arrays test_wg.c
embeds."""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LABEL_MAC1 = b"mac1----"


def HASH(x):
    return hashlib.blake2s(x).digest()


def HMAC(k, x):
    return hmac.new(k, x, hashlib.blake2s).digest()


def MAC(k, x):
    return hashlib.blake2s(x, digest_size=16, key=k).digest()


def KDF(n, key, x):
    t0 = HMAC(key, x)
    out, t = [], b""
    for i in range(1, n + 1):
        t = HMAC(t0, t + bytes([i]))
        out.append(t)
    return out


def AEAD(k, counter, pt, ad):
    return ChaCha20Poly1305(k).encrypt(b"\0" * 4 + struct.pack("<Q", counter),
                                       pt, ad)


def pub(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def DH(priv, p):
    return X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(p))


def seq(start, n=32):
    return bytes((start + 7 * i) & 0xff for i in range(n))


# fixed inputs (test_wg.c uses the same)
Si_priv, Sr_priv = seq(1), seq(2)
Ei_priv, Er_priv = seq(3), seq(4)
PSK = seq(5)
TS = bytes.fromhex("400000006553f1000a0b0c0d")
I_IDX, R_IDX = 0x11223344, 0x55667788
Si_pub, Sr_pub = pub(Si_priv), pub(Sr_priv)

# initiation
C = HASH(CONSTRUCTION)
H = HASH(C + IDENTIFIER)
H = HASH(H + Sr_pub)
Ei_pub = pub(Ei_priv)
(C,) = KDF(1, C, Ei_pub)
H = HASH(H + Ei_pub)
C, k = KDF(2, C, DH(Ei_priv, Sr_pub))
enc_static = AEAD(k, 0, Si_pub, H)
H = HASH(H + enc_static)
C, k = KDF(2, C, DH(Si_priv, Sr_pub))
enc_ts = AEAD(k, 0, TS, H)
H = HASH(H + enc_ts)
init = struct.pack("<II", 1, I_IDX) + Ei_pub + enc_static + enc_ts
init += MAC(HASH(LABEL_MAC1 + Sr_pub), init) + b"\0" * 16
assert len(init) == 148

# response
Er_pub = pub(Er_priv)
(C,) = KDF(1, C, Er_pub)
H = HASH(H + Er_pub)
(C,) = KDF(1, C, DH(Er_priv, Ei_pub))
(C,) = KDF(1, C, DH(Er_priv, Si_pub))
C, tau, k = KDF(3, C, PSK)
H = HASH(H + tau)
enc_empty = AEAD(k, 0, b"", H)
H = HASH(H + enc_empty)
resp = struct.pack("<III", 2, R_IDX, I_IDX) + Er_pub + enc_empty
resp += MAC(HASH(LABEL_MAC1 + Si_pub), resp) + b"\0" * 16
assert len(resp) == 92

# transport: initiator -> responder, counter 0, 20 bytes padded to 32
T_send_i, T_recv_i = KDF(2, C, b"")
pkt = bytes(range(20))
padded = pkt + b"\0" * 12
data = struct.pack("<IIQ", 4, R_IDX, 0) + AEAD(T_send_i, 0, padded, b"")
assert len(data) == 16 + 32 + 16


def carr(name, b):
    s = "static const uint8_t %s[%d] = {" % (name, len(b))
    body = ", ".join("0x%02x" % x for x in b)
    return s + body + "};"


print(carr("kat_init", init))
print(carr("kat_resp", resp))
print(carr("kat_data", data))
