#!/usr/bin/env python3
"""Keystroke round trip through a terminal: write one byte to the master
of a fresh pty (what a terminal emulator does on a key press), wait until
its echo comes back. Under `twofold run -t` the byte goes terminal -> CLI
-> the persona's pty -> cat -> back the same way.

usage: pty_rtt.py N CMD...   prints the median and p90 in microseconds
"""
import os, pty, select, signal, statistics, sys, time

n, cmd = int(sys.argv[1]), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)

def read_until(want, limit=5.0):
    got, end = b"", time.monotonic() + limit
    while want not in got:
        r, _, _ = select.select([fd], [], [], max(0, end - time.monotonic()))
        if not r:
            raise SystemExit("pty_rtt: no echo from %s" % cmd)
        got += os.read(fd, 4096)
    return got

# the app prints READY once it runs, then echoes what it reads
read_until(b"READY")
samples = []
for i in range(n + 20):
    c = bytes([97 + i % 26])
    t0 = time.perf_counter_ns()
    os.write(fd, c)
    read_until(c)
    if i >= 20:  # warm-up
        samples.append((time.perf_counter_ns() - t0) / 1e3)
# the app's terminal is raw (^D is data there): hang up and end it
os.close(fd)
os.kill(pid, signal.SIGTERM)
for _ in range(100):
    if os.waitpid(pid, os.WNOHANG)[0]:
        break
    time.sleep(0.02)
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
samples.sort()
print("%.1f %.1f" % (statistics.median(samples), samples[int(0.9 * len(samples))]))
