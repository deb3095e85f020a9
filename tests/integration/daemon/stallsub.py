#!/usr/bin/env python3
"""A subscriber that does not read: subscribe, then wait until GO exists
(the test made many events meanwhile), then read everything and print
"events=N last_errno=E eof=yes|no".

usage: stallsub.py SOCKET GO
"""
import os, socket, struct, sys, time

path, go = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
# TF_REQ_SUBSCRIBE (13), no attributes
s.send(struct.pack("<HBBHHI", 0x4654, 1, 0, 13, 0, 0))
print("subscribed", flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
s.settimeout(5)
n, last, eof = 0, None, "no"
while True:
    try:
        data = s.recv(65536)
    except socket.timeout:
        break
    if not data:
        eof = "yes"
        break
    t = struct.unpack_from("<H", data, 4)[0]
    off = 12
    while off + 8 <= len(data):
        a, _, ln = struct.unpack_from("<HHI", data, off)
        if a == 10 and t == 0x8006:
            last = struct.unpack_from("<i", data, off + 8)[0]
        off += 8 + ln
    if t == 0x8006:
        n += 1
print("events=%d last_errno=%s eof=%s" % (n, last, eof), flush=True)
