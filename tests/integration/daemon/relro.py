"""Exit 0 if the PT_GNU_RELRO range of a running executable is read-only.

usage: relro.py PID EXE. Reads EXE's program headers, finds its load base
in /proc/PID/maps (the mapping of EXE at file offset 0) and checks that
every whole page of the RELRO range is mapped without write permission.
"""
import os
import struct
import sys

PT_GNU_RELRO = 0x6474E552


def relro(exe):
    with open(exe, "rb") as f:
        h = f.read(64)
        if h[:4] != b"\x7fELF" or h[4] != 2:
            sys.exit("not a 64-bit ELF file")
        phoff, = struct.unpack_from("<Q", h, 32)
        phentsize, phnum = struct.unpack_from("<HH", h, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p = f.read(56)
            ptype, _, _, vaddr, _, _, memsz, _ = struct.unpack("<IIQQQQQQ", p)
            if ptype == PT_GNU_RELRO:
                return vaddr, memsz
    sys.exit("no PT_GNU_RELRO")


def main():
    pid, exe = sys.argv[1], os.path.realpath(sys.argv[2])
    vaddr, memsz = relro(exe)
    maps = []
    with open("/proc/%s/maps" % pid) as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            path = parts[5] if len(parts) > 5 else ""
            maps.append((lo, hi, parts[1], int(parts[2], 16), path))
    bases = [lo for lo, hi, perm, off, path in maps
             if path == exe and off == 0]
    if not bases:
        sys.exit("%s not mapped in %s" % (exe, pid))
    page = os.sysconf("SC_PAGE_SIZE")
    start = (bases[0] + vaddr) & ~(page - 1)
    end = (bases[0] + vaddr + memsz) & ~(page - 1)
    if end <= start:
        sys.exit("RELRO range is smaller than a page")
    for a in range(start, end, page):
        perm = [p for lo, hi, p, off, path in maps if lo <= a < hi]
        if not perm or "w" in perm[0]:
            sys.exit("page %#x of RELRO is %s" % (a, perm[0] if perm else "unmapped"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
