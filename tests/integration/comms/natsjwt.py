#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""NATS decentralised auth for a test, without nsc (not packaged here):
an operator, an account and a user as nkeys (Ed25519, nkeys' base32
encoding with a CRC-16) and JWTs (nats-io/jwt v2 claims, alg
"ed25519-nkey"), written to DIR:

  op.jwt        the operator's JWT (nats-server's `operator:`)
  account.pub   the account's public nkey (A...)
  account.jwt   its JWT, signed by the operator (`resolver_preload`)
  user.creds    the user's JWT, signed by the account, and its seed
  other.creds   a user of an account the server does not know

Test code only (python3-cryptography).

  natsjwt.py DIR
"""
import base64
import json
import os
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PREFIX = {"seed": 18 << 3, "operator": 14 << 3, "account": 0, "user": 20 << 3}


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def b32(raw):
    return base64.b32encode(raw).decode().rstrip("=")


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class NKey:
    def __init__(self, kind):
        self.kind = kind
        self.sk = Ed25519PrivateKey.generate()
        pub = self.sk.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        raw = bytes([PREFIX[kind]]) + pub
        self.public = b32(raw + crc16(raw).to_bytes(2, "little"))
        seed = self.sk.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        p = PREFIX[kind]
        raw = bytes([PREFIX["seed"] | (p >> 5), (p & 31) << 3]) + seed
        self.seed = b32(raw + crc16(raw).to_bytes(2, "little"))


def jwt(issuer, subject, name, nats):
    head = b64url(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    claims = {
        "jti": b32(os.urandom(32)),
        "iat": int(time.time()),
        "iss": issuer.public,
        "name": name,
        "sub": subject.public,
        "nats": nats,
    }
    body = b64url(json.dumps(claims).encode())
    sig = issuer.sk.sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{b64url(sig)}"


def creds(user_jwt, seed):
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


def user_of(account, name):
    u = NKey("user")
    t = jwt(account, u, name, {"pub": {}, "sub": {}, "subs": -1, "data": -1,
                               "payload": -1, "type": "user", "version": 2})
    return creds(t, u.seed)


def write(path, text, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def main():
    d = sys.argv[1]
    op = NKey("operator")
    acc = NKey("account")
    stray = NKey("account")
    limits = {"subs": -1, "data": -1, "payload": -1, "imports": -1,
              "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}
    write(f"{d}/op.jwt", jwt(op, op, "twofold-test", {"type": "operator",
                                                      "version": 2}), 0o644)
    write(f"{d}/account.pub", acc.public + "\n", 0o644)
    write(f"{d}/account.jwt", jwt(op, acc, "relays", {
        "limits": limits, "default_permissions": {"pub": {}, "sub": {}},
        "type": "account", "version": 2}), 0o644)
    write(f"{d}/user.creds", user_of(acc, "relay"), 0o600)
    write(f"{d}/other.creds", user_of(stray, "stray"), 0o600)


if __name__ == "__main__":
    main()
