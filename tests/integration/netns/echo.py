# SPDX-License-Identifier: ISC
# echo.py ADDR PORT: a TCP echo service: one line per connection, sent
# back with " from PEER-ADDRESS" (who the service saw).
import socket
import sys
import threading

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)


def serve(c, peer):
    with c:
        c.settimeout(10)
        try:
            data = c.recv(4096)
            c.sendall(data.strip() + b" from " + peer.encode() + b"\n")
        except OSError:
            pass


while True:
    c, peer = s.accept()
    threading.Thread(target=serve, args=(c, peer[0]), daemon=True).start()
