#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Search the memory of processes for secrets (as root).

usage: memscan.py [--skip-secmem] [--hex NAME=HEX]... [--str NAME=TEXT]...
                  [--file NAME=PATH[@OFFSET[+LENGTH]]]... PID...

Reads every readable mapping of each PID (/proc/PID/maps, /proc/PID/mem;
root's CAP_SYS_PTRACE covers non-dumpable processes and those of other user
namespaces) and counts the occurrences of each needle. Prints one line per
process:

    PID COMM BYTES_SCANNED NAME=HITS ...

and exits 1 when any needle was found, 2 when a process could not be read
at all (a scan that read nothing proves nothing; a process that exited
meanwhile is reported as "gone" and does not count), 0 otherwise.

Needles shorter than 8 bytes are refused: they would match by chance.

--skip-secmem leaves out twofold's secure memory (tf_secure_alloc: a
mapping locked, not dumped and wiped on fork, VmFlags "lo", "dd" and "wf"
in /proc/PID/smaps) and scans everything else: where no secret may be.
"""
import re
import sys

CHUNK = 1 << 22


def parse_needle(kind, spec):
    name, sep, val = spec.partition("=")
    if not sep or not name:
        raise SystemExit("memscan: needle %r: want NAME=VALUE" % spec)
    if kind == "hex":
        data = bytes.fromhex(val)
    elif kind == "str":
        data = val.encode()
    else:
        path, _, rng = val.partition("@")
        with open(path, "rb") as f:
            data = f.read()
        if rng:
            off, _, ln = rng.partition("+")
            off = int(off, 0)
            data = data[off:off + int(ln, 0)] if ln else data[off:]
    if len(data) < 8:
        raise SystemExit("memscan: needle %s: %d bytes, want >= 8" %
                         (name, len(data)))
    return name, data


def secmem_ranges(pid):
    """The (lo, hi) of every mapping with the secure-memory VmFlags."""
    out, cur = set(), None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                cur = tuple(int(x, 16) for x in head.split("-"))
            elif head == "VmFlags:" and cur is not None:
                flags = line.split()[1:]
                if all(x in flags for x in ("lo", "dd", "wf")):
                    out.add(cur)
    return out


def ranges(pid, skip=frozenset()):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            perms = parts[1]
            path = parts[5] if len(parts) > 5 else ""
            if perms[0] != "r" or path == "[vsyscall]" or path == "[vvar]":
                continue
            if (lo, hi) in skip:
                continue
            yield lo, hi


def scan(pid, needles, skip_secmem=False):
    hits = {n: 0 for n, _ in needles}
    longest = max(len(d) for _, d in needles)
    total = 0
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        skip = secmem_ranges(pid) if skip_secmem else frozenset()
        for lo, hi in ranges(pid, skip):
            tail = b""
            addr = lo
            while addr < hi:
                n = min(CHUNK, hi - addr)
                try:
                    mem.seek(addr)
                    buf = mem.read(n)
                except OSError:
                    break  # e.g. a guard page or an unmapped hole
                if not buf:
                    break
                total += len(buf)
                blob = tail + buf
                for name, d in needles:
                    # count matches that end in the new part only
                    start = max(0, len(tail) - len(d) + 1)
                    hits[name] += sum(1 for m in re.finditer(re.escape(d),
                                                             blob)
                                      if m.start() >= start)
                tail = blob[-(longest - 1):] if longest > 1 else b""
                addr += len(buf)
    return total, hits


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def main(argv):
    needles, pids, skip_secmem = [], [], False
    it = iter(argv)
    for a in it:
        if a == "--skip-secmem":
            skip_secmem = True
        elif a in ("--hex", "--str", "--file"):
            needles.append(parse_needle(a[2:], next(it)))
        elif a.startswith("--"):
            raise SystemExit(__doc__)
        else:
            pids.append(int(a))
    if not needles or not pids:
        raise SystemExit(__doc__)
    found = unreadable = False
    for pid in pids:
        c = comm(pid)
        try:
            total, hits = scan(pid, needles, skip_secmem)
        except FileNotFoundError:
            print("%d %s gone" % (pid, c))
            continue
        except OSError as e:
            print("%d %s unreadable: %s" % (pid, c, e))
            unreadable = True
            continue
        if total == 0:
            print("%d %s unreadable: nothing read" % (pid, c))
            unreadable = True
            continue
        print("%d %s %d %s" % (pid, c, total,
                               " ".join("%s=%d" % kv for kv in hits.items())))
        found = found or any(hits.values())
    return 1 if found else 2 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
