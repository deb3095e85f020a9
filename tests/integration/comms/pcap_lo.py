#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A packet capture without tcpdump (test code only; tcpdump is not
installed here): every frame on IFACE, read from an AF_PACKET socket,
written to FILE as a classic pcap (readable by tcpdump/wireshark), until
SIGTERM. Run it in the test's own network namespace: all it sees is the
test's traffic.

  pcap_lo.py IFACE FILE
"""
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def main():
    iface, path = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.2)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(path, "wb", buffering=0) as f:
        # magic, v2.4, tz 0, sigfigs 0, snaplen 65535, LINKTYPE_ETHERNET
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        print("capturing", flush=True)
        n = 0
        while not stop:
            try:
                d = s.recv(65535)
            except socket.timeout:
                continue
            t = time.time()
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(d), len(d)) + d)
            n += 1
    print(f"{n} frames", file=sys.stderr)


if __name__ == "__main__":
    main()
