#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# chanpair.py FIFO OUT FD CMD...: run CMD with fd FD one end of a
# socketpair, as twofoldd's channel to twofold-comms is (svc.c): lines
# written to FIFO go to CMD there, what CMD writes there is appended to
# OUT. CMD gets this process's pid (exec); a forked child relays and
# ends when CMD's end closes. FIFO reaching EOF (its writer closed)
# shuts the channel's sending side, as the daemon's end closing would.
import os
import socket
import sys
import threading

fifo, out, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
cmd = sys.argv[4:]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
if os.fork() == 0:
    b.close()

    def down():
        with open(fifo, "rb", buffering=0) as f:  # waits for a writer
            while True:
                d = f.read(512)
                if not d:
                    break
                a.sendall(d)
        a.shutdown(socket.SHUT_WR)

    threading.Thread(target=down, daemon=True).start()
    with open(out, "ab", buffering=0) as o:
        while True:
            d = a.recv(512)
            if not d:
                break
            o.write(d)
    os._exit(0)
a.close()
os.dup2(b.fileno(), fd)
os.set_inheritable(fd, True)
os.execv(cmd[0], cmd)
