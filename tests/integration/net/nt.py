# SPDX-License-Identifier: ISC
# The network tool of the issue-12 tests: one file, run with the host's
# python3 (servers, sniffer, forged packets: through nsenter into a world
# namespace) or inside a persona as `python3 -c "$(cat nt.py)" ARGS` (the
# persona sees the host's /usr but not this source tree).
#
# Client verbs print one line: "ok ...", "err ENAME" (the errno of the
# failing call) or "timeout", then " t=SECONDS" (how long the attempt took:
# for the report only, never asserted). Exit status 0 always: the caller
# parses the line.
#
#   tcp HOST PORT              connect, send a line, expect it echoed
#   udp HOST PORT              connect(), send a datagram, expect it echoed
#                              (NT_RECVERR=1: with IP_RECVERR)
#   resolve NAME               getaddrinfo (the persona's resolv.conf)
#   dnsq SERVER NAME           one raw DNS A query to SERVER:53 over UDP
#   serve ADDR PORT            TCP + UDP echo server (foreground)
#   sniff IFNAME OUT           AF_PACKET on IFNAME: save the handshake
#                              initiation (type 1/0x11) that got a response
#                              and the response (2/0x12) as OUT.init and
#                              OUT.resp ("SRC SPORT HEX"), then exit
#   forge SRC SPORT DST DPORT HEX   one UDP datagram with a forged source
#                              (IP_HDRINCL raw socket)
#   send DST DPORT HEX         one UDP datagram from an ephemeral port
#   rawsock                    try a raw IP and a packet socket
#   rhex N                     N random bytes in hex
#   rtt HOST PORT N / conn HOST PORT N / hstime IFNAME N PORT: the
#                              benchmark's measurements (bench/net)
import errno
import os
import socket
import struct
import sys
import threading
import time

TIMEOUT = float(os.environ.get("NT_TIMEOUT", "3"))


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else "E?"


def report(fn):
    t0 = time.monotonic()
    try:
        line = fn()
    except socket.timeout:
        line = "timeout"
    except OSError as e:
        line = "err " + ename(e)
    print("%s t=%.4f" % (line, time.monotonic() - t0), flush=True)


def tcp(host, port):
    def go():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect((host, int(port)))
        s.sendall(b"twofold-echo\n")
        got = b""
        while not got.endswith(b"\n"):
            b = s.recv(100)
            if not b:
                break
            got += b
        s.close()
        return "ok echo" if got == b"twofold-echo\n" else "bad %r" % got
    report(go)


def udp(host, port):
    def go():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(TIMEOUT)
        if os.environ.get("NT_RECVERR") == "1":
            # ICMP net/host unreachable are soft errors for UDP: a plain
            # socket never sees them, one with IP_RECVERR does
            s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
        s.connect((host, int(port)))
        s.send(b"twofold-udp")
        got = s.recv(100)
        return "ok echo" if got == b"twofold-udp" else "bad %r" % got
    report(go)


def resolve(name):
    def go():
        try:
            r = socket.getaddrinfo(name, None, socket.AF_INET,
                                   socket.SOCK_STREAM)
        except socket.gaierror as e:
            return "err EAI%d" % e.errno
        return "ok " + ",".join(sorted({a[4][0] for a in r}))
    report(go)


def dnsq(server, name):
    def go():
        q = struct.pack(">HHHHHH", 0x2f2f, 0x0100, 1, 0, 0, 0)
        for label in name.split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\0" + struct.pack(">HH", 1, 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(TIMEOUT)
        s.connect((server, 53))
        s.send(q)
        r = s.recv(1500)
        an = struct.unpack(">H", r[6:8])[0]
        if an == 0:
            return "ok noanswer rcode=%d" % (r[3] & 15)
        # the answer's address: the last 4 bytes of a single A answer
        return "ok " + socket.inet_ntoa(r[-4:])
    report(go)


def serve(addr, port):
    port = int(port)
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(64)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, port))

    def udp_loop():
        while True:
            d, a = u.recvfrom(65535)
            print("udp from %s:%d" % a, flush=True)
            u.sendto(d, a)

    def conn(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    threading.Thread(target=udp_loop, daemon=True).start()
    print("serving %s:%d" % (addr, port), flush=True)
    while True:
        c, a = t.accept()
        print("tcp from %s:%d" % a, flush=True)
        threading.Thread(target=conn, args=(c,), daemon=True).start()


def sniff(ifname, out):
    """Save the initiation that got a response (OUT.init) and that
    response (OUT.resp): "SRC SPORT HEX" each; exit when both are there."""
    # ETH_P_ALL: a socket bound to ETH_P_IP sees only what arrives, the
    # kernel taps what leaves for ETH_P_ALL sockets only
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                      socket.htons(0x0003))
    s.bind((ifname, 0))
    init = None
    print("sniffing", flush=True)
    while True:
        p, a = s.recvfrom(65535)
        if a[1] != 0x0800 or len(p) < 28 or p[9] != 17:
            continue
        ihl = (p[0] & 15) * 4
        d = p[ihl + 8:]
        if len(d) < 4 or d[1:4] != b"\0\0\0":
            continue
        line = "%s %d %s\n" % (socket.inet_ntoa(p[12:16]),
                               struct.unpack(">H", p[ihl:ihl + 2])[0],
                               d.hex())
        if d[0] in (1, 0x11):
            init = line
        elif d[0] in (2, 0x12) and init:
            open(out + ".init", "w").write(init)
            open(out + ".resp", "w").write(line)
            return


def rawsock():
    def go():
        opened = []
        last = None
        for fam, typ, proto in ((socket.AF_INET, socket.SOCK_RAW,
                                 socket.IPPROTO_RAW),
                                (socket.AF_PACKET, socket.SOCK_RAW, 0x0300)):
            try:
                socket.socket(fam, typ, proto).close()
                opened.append(str(fam))
            except OSError as e:
                last = e
        if opened:
            return "ok opened " + ",".join(opened)
        raise last
    report(go)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def forge(src, sport, dst, dport, hexdata):
    data = bytes.fromhex(hexdata)
    sport, dport = int(sport), int(dport)
    ulen = 8 + len(data)
    sa, da = socket.inet_aton(src), socket.inet_aton(dst)
    pseudo = sa + da + struct.pack("!BBH", 0, 17, ulen)
    uh = struct.pack("!HHHH", sport, dport, ulen, 0)
    c = csum(pseudo + uh + data) or 0xffff
    uh = struct.pack("!HHHH", sport, dport, ulen, c)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0x1f2f, 0, 64, 17,
                     0, sa, da)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.sendto(ip + uh + data, (dst, 0))
    print("sent %d" % len(data))


def send(dst, dport, hexdata):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(bytes.fromhex(hexdata), (dst, int(dport)))
    print("sent")


def _stats(xs):
    xs.sort()
    return "median_us=%.1f p90_us=%.1f n=%d" % (
        xs[len(xs) // 2] * 1e6, xs[int(len(xs) * 0.9)] * 1e6, len(xs))


def rtt(host, port, n):
    """UDP echo round trips (for the benchmark)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.connect((host, int(port)))
    xs = []
    for i in range(int(n) + 10):
        t0 = time.perf_counter()
        s.send(b"x" * 64)
        s.recv(100)
        if i >= 10:
            xs.append(time.perf_counter() - t0)
    print(_stats(xs))


def conn(host, port, n):
    """TCP connect latency, connect to established (for the benchmark)."""
    xs = []
    for i in range(int(n) + 5):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(TIMEOUT)
        t0 = time.perf_counter()
        c.connect((host, int(port)))
        if i >= 5:
            xs.append(time.perf_counter() - t0)
        c.close()
    print(_stats(xs))


def hstime(ifname, n, port):
    """Initiation -> response on the wire at IFNAME (UDP port PORT), N
    times: the responder's handshake cost plus the link (benchmark)."""
    n, port = int(n), int(port)
    # ETH_P_ALL: a socket bound to ETH_P_IP sees only what arrives, the
    # kernel taps what leaves for ETH_P_ALL sockets only
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                      socket.htons(0x0003))
    s.bind((ifname, 0))
    # the kernel's receive timestamps (SO_TIMESTAMPNS): this loop's own
    # scheduling delays must not shorten or stretch the figure
    s.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
    t_init, out = None, []
    print("sniffing", flush=True)
    while len(out) < n:
        p, anc, _, a = s.recvmsg(65535, 64)
        t = None
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == 35 and len(data) >= 16:
                sec, nsec = struct.unpack("qq", data[:16])
                t = sec + nsec / 1e9
        if t is None:
            t = time.time()
        if a[1] != 0x0800 or len(p) < 28 or p[9] != 17:
            continue
        ihl = (p[0] & 15) * 4
        sp, dp = struct.unpack(">HH", p[ihl:ihl + 4])
        d = p[ihl + 8:]
        if port not in (sp, dp) or len(d) < 4 or d[1:4] != b"\0\0\0":
            continue
        if d[0] in (1, 0x11):
            t_init = t
        elif d[0] in (2, 0x12) and t_init is not None:
            out.append(t - t_init)
            print("handshake_us=%.1f" % ((t - t_init) * 1e6), flush=True)
            t_init = None


def rhex(n):
    print(os.urandom(int(n)).hex())


VERBS = {"tcp": tcp, "udp": udp, "resolve": resolve, "dnsq": dnsq,
         "serve": serve, "rawsock": rawsock, "sniff": sniff, "forge": forge, "send": send, "rhex": rhex,
         "rtt": rtt, "conn": conn, "hstime": hstime}
if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in VERBS:
        sys.exit("usage: nt.py " + "|".join(VERBS) + " ARGS")
    VERBS[sys.argv[1]](*sys.argv[2:])
