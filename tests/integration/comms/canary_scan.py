#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Count a needle in a process's memory and in files (test code only).

  canary_scan.py NEEDLE mem PID     every readable mapping of PID, read
                                    through /proc/PID/mem
  canary_scan.py NEEDLE files F...  the bytes of each file (missing: 0)
  canary_scan.py NEEDLE self        this process (the positive control:
                                    the needle is in its own memory)
NEEDLE "hex:0a1b..." is those bytes (PCM samples, key bytes).
Prints the count.
"""
import os
import sys


CHUNK = 1 << 20
HUGE = 4 << 30  # a sanitizer's shadow (terabytes, never touched): skipped


def scan_mem(pid, needle):
    n = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if "r" not in parts[1] or (len(parts) > 5 and parts[5] == "[vvar]"):
                continue
            if hi - lo > HUGE:
                print(f"skipped {parts[0]}", file=sys.stderr)
                continue
            tail = b""
            for off in range(lo, hi, CHUNK):
                try:
                    mem.seek(off)
                    d = mem.read(min(CHUNK, hi - off))
                except (OSError, OverflowError, ValueError):
                    break  # guard pages, vsyscall
                # the tail of the last chunk, so a needle across the
                # boundary is counted once
                n += (tail + d).count(needle)
                tail = d[-(len(needle) - 1):]
    return n


def main():
    arg = sys.argv[1]
    needle = bytes.fromhex(arg[4:]) if arg.startswith("hex:") else arg.encode()
    what = sys.argv[2]
    if what == "mem":
        print(scan_mem(int(sys.argv[3]), needle))
    elif what == "self":
        keep = needle * 3  # noqa: F841 (kept alive on purpose)
        print(scan_mem(os.getpid(), needle))
    else:
        n = 0
        for f in sys.argv[3:]:
            try:
                with open(f, "rb") as fh:
                    n += fh.read().count(needle)
            except FileNotFoundError:
                pass
        print(n)


main()
