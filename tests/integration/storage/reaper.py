#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Run a command as the child of a subreaper that reaps at once.

usage: reaper.py PIDFILE CMD [ARG...]
Models what systemd (or any init that reaps promptly) does for twofoldd:
when the daemon dies, its orphans (persona inits, launchers, apps, the
guard) are reparented here and reaped immediately. Until a dead task is
reaped its last files may keep an fscrypt key INCOMPLETELY_REMOVED, and the
test machine's pid 1 reaps only every few seconds. Writes CMD's pid to
PIDFILE; exits once every child is gone.
"""
import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("reaper.py: PR_SET_CHILD_SUBREAPER failed")
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % pid)
os.rename(tmp, sys.argv[1])
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
    except InterruptedError:
        continue
