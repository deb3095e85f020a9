# SPDX-License-Identifier: ISC
# client.py HOST PORT: connect (HOST may be a name: resolved through the
# caller's /etc/resolv.conf), send a line, print "ok LINE" or "error
# ERRNO-NAME" (e.g. ECONNREFUSED: a reject; "timeout": a silent drop).
import errno
import socket
import sys

try:
    addr = socket.getaddrinfo(sys.argv[1], int(sys.argv[2]), socket.AF_INET,
                              socket.SOCK_STREAM)[0][4]
except socket.gaierror as e:
    print("error resolve %s" % e)
    sys.exit(1)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(addr)
    s.sendall(b"twofold\n")
    print("ok %s %s" % (addr[0], s.recv(100).decode().strip()))
except socket.timeout:
    print("error timeout")
    sys.exit(1)
except OSError as e:
    print("error %s" % errno.errorcode.get(e.errno, e.errno))
    sys.exit(1)
