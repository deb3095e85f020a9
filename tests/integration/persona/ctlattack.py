#!/usr/bin/env python3
"""Attacks on twofoldd's control protocol that an app could try with a
connection or descriptor it got hold of. Prints the daemon's answer.

usage: ctlattack.py SOCKET MODE [UID]
  passself   RUN personal with our own control connection as stdin/out/err
  asuid      connect as root, then send RUN secure from a child that
             became UID (an app holding a leaked root connection)
  passtty    RUN personal with a terminal (a fresh host pty) as stdio
  ping       a valid ping (control)
"""
import os, pty, socket, struct, sys

def msg(t, body=b""):
    return struct.pack("<HBBHHI", 0x4654, 1, 0, t, 0, len(body)) + body

def attr(t, v):
    return struct.pack("<HHI", t, 0, len(v)) + v

def run_req(persona, *argv):
    body = attr(1, persona.encode() + b"\0")
    for a in argv:
        body += attr(2, a.encode() + b"\0")
    return msg(6, body)

def reply(s):
    s.settimeout(10)
    try:
        data = s.recv(65536)
    except (ConnectionResetError, socket.timeout) as e:
        return "<%s>" % e.__class__.__name__
    if not data:
        return "<closed>"
    off, out = 12, []
    while off + 8 <= len(data):
        t, _, n = struct.unpack_from("<HHI", data, off)
        v = data[off + 8: off + 8 + n]
        if t == 11:
            out.append(v.rstrip(b"\0").decode(errors="replace"))
        if t == 10:
            out.append("errno=%d" % struct.unpack("<i", v)[0])
        if t == 14:
            out.append("exit=%d" % struct.unpack("<i", v)[0])
        off += 8 + n
    return " | ".join(out)

path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
if mode == "passself":
    fd = s.fileno()
    s.sendmsg([run_req("personal", "true")],
              [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                struct.pack("3i", fd, fd, fd))])
    print(reply(s))
elif mode == "passtty":
    m, sl = pty.openpty()
    s.sendmsg([run_req("personal", "true")],
              [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                struct.pack("3i", sl, sl, sl))])
    print(reply(s))
elif mode == "asuid":
    uid = int(sys.argv[3])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        nul = os.open("/dev/null", os.O_RDWR)
        s.sendmsg([run_req("secure", "true")],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    struct.pack("3i", nul, nul, nul))])
        os.write(w, reply(s).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    print(os.read(r, 4096).decode())
elif mode == "ping":
    s.send(msg(1))
    print(reply(s))
