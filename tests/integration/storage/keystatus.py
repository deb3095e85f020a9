#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The kernel's word on a persona's fscrypt key, whatever twofoldd says.

usage: keystatus.py DATA_DIR [FS_DIR]
Reads the key identifier from DATA_DIR's v2 policy (readable without the
key) and asks FS_DIR's file system (default: DATA_DIR's) for the status of
that key: prints absent, present or incompletely_removed, or "nodir" /
"nopolicy" when there is nothing to ask about. Exit 0 on an answer.
"""
import ctypes
import errno
import os
import struct
import sys

FS_IOC_GET_ENCRYPTION_POLICY_EX = 0xC0096616
FS_IOC_GET_ENCRYPTION_KEY_STATUS = 0xC080661A
NAMES = {1: "absent", 2: "present", 3: "incompletely_removed"}

libc = ctypes.CDLL(None, use_errno=True)


def ioctl(fd, req, buf):
    if libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(req), buf) < 0:
        return ctypes.get_errno()
    return 0


def main():
    data = sys.argv[1]
    fsdir = sys.argv[2] if len(sys.argv) > 2 else data
    try:
        d = os.open(data, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        print("nodir")
        return 0
    pol = ctypes.create_string_buffer(8 + 24)
    struct.pack_into("<Q", pol, 0, 24)
    e = ioctl(d, FS_IOC_GET_ENCRYPTION_POLICY_EX, pol)
    os.close(d)
    if e == errno.ENODATA:
        print("nopolicy")
        return 0
    if e:
        print("error " + os.strerror(e))
        return 1
    ident = pol.raw[8 + 8:8 + 24]  # v2 policy: 8 bytes, then the identifier
    f = os.open(fsdir, os.O_RDONLY | os.O_DIRECTORY)
    st = ctypes.create_string_buffer(128)
    struct.pack_into("<II", st, 0, 2, 0)  # FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER
    st[8:24] = ident
    e = ioctl(f, FS_IOC_GET_ENCRYPTION_KEY_STATUS, st)
    os.close(f)
    if e:
        print("error " + os.strerror(e))
        return 1
    print(NAMES.get(struct.unpack_from("<I", st, 64)[0], "unknown"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
