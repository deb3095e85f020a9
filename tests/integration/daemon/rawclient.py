#!/usr/bin/env python3
"""Send raw bytes to twofoldd's control socket, print the reply's message.

usage: rawclient.py SOCKET MODE
  garbage     random bytes (malformed header)
  oversize    header announcing a 100 MiB body
  onemib      header announcing a 1 MiB body
  halfclose   header announcing 1000 bytes, 10 sent, then hang up
  badversion  valid ping with protocol version 2
  badtype     unknown request type 77
  badattr     status carrying a persona attribute it does not take
  ping        a valid ping
"""
import socket, struct, sys

def msg(t, body=b"", ver=1):
    return struct.pack("<HBBHHI", 0x4654, ver, 0, t, 0, len(body)) + body

def attr(t, v):
    return struct.pack("<HHI", t, 0, len(v)) + v

def reply(s):
    s.settimeout(5)
    data = s.recv(65536)
    if not data:
        return "<closed>"
    off, out = 12, []
    while off + 8 <= len(data):
        t, _, n = struct.unpack_from("<HHI", data, off)
        v = data[off + 8: off + 8 + n]
        if t in (11, 12):
            out.append(v.rstrip(b"\0").decode(errors="replace"))
        if t == 10:
            out.append("errno=%d" % struct.unpack("<i", v)[0])
        if t == 16:  # REASON
            out.append("reason=" + v.rstrip(b"\0").decode(errors="replace"))
        if t == 17:  # PARAM
            out.append("param=" + v.rstrip(b"\0").decode(errors="replace"))
        off += 8 + n
    return " | ".join(out)

path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
if mode == "garbage":
    s.send(b"\xde\xad\xbe\xef" * 8)
elif mode == "oversize":
    s.send(struct.pack("<HBBHHI", 0x4654, 1, 0, 2, 0, 100 << 20))
elif mode == "onemib":
    # a 1 MiB body announced (under TF_MSG_MAX, over a member's limit)
    s.send(struct.pack("<HBBHHI", 0x4654, 1, 0, 2, 0, 1 << 20))
elif mode == "halfclose":
    s.send(struct.pack("<HBBHHI", 0x4654, 1, 0, 2, 0, 1000))
    s.send(b"0123456789")
    s.close()
    print("<sent half>")
    sys.exit(0)
elif mode == "badversion":
    s.send(msg(1, ver=2))
elif mode == "badtype":
    s.send(msg(77))
elif mode == "badattr":
    s.send(msg(2, attr(1, b"personal\0")))
elif mode == "ping":
    s.send(msg(1))
print(reply(s))
