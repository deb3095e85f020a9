#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Drive `twofold run PERSONA -- sh` on a pseudo-terminal like a user would:
type a command, check its output, start `sleep 100`, press Ctrl-C, then
type `exit 7`. Prints one line per step: "ok STEP" or "fail STEP: why", and
exits with the CLI's exit status (or 200 on a timeout).

Usage: pty_ctrlc.py TWOFOLD STATE PERSONA [sleep]
With "sleep": run `sleep 100` directly, press Ctrl-C, and exit with the
CLI's status (130 expected: the app was ended by SIGINT).
"""
import os
import pty
import select
import sys
import time


def main():
    twofold, state, persona = sys.argv[1:4]
    mode = sys.argv[4] if len(sys.argv) > 4 else "shell"
    cmd = ["sleep", "100"] if mode == "sleep" else ["sh", "-i"]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["PS1"] = "$ "
        os.execv(twofold, [twofold, "--state", state, "run", persona,
                           "--"] + cmd)
    buf = b""

    def expect(token, timeout=10.0):
        nonlocal buf
        end = time.monotonic() + timeout
        while token not in buf:
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                return token in buf
            if not data:
                return token in buf
            buf += data
        return True

    def step(name, ok, why=""):
        print(("ok " if ok else "fail ") + name + ("" if ok else ": " + why),
              flush=True)

    if mode == "sleep":
        time.sleep(1.0)
        os.write(fd, b"\x03")
        sys.exit(wait_exit(pid, fd, step))
    # 1. a command typed at the terminal runs and its output comes back
    os.write(fd, b"echo MARK$((6*7))\n")
    step("typed command runs", expect(b"MARK42"), repr(buf[-200:]))
    # 2. Ctrl-C interrupts a foreground sleep; the shell survives
    os.write(fd, b"sleep 100; echo AFTER$((1+1))\n")
    time.sleep(0.5)
    t0 = time.monotonic()
    buf = b""
    os.write(fd, b"\x03")
    # sh -i: SIGINT kills sleep and abandons the rest of the list; the
    # prompt comes back well before 100 s
    os.write(fd, b"echo BACK$((2+3))\n")
    got = expect(b"BACK5", 15.0)
    step("ctrl-c interrupts sleep", got and time.monotonic() - t0 < 15,
         repr(buf[-200:]))
    step("list after interrupted sleep abandoned", b"AFTER2" not in buf,
         repr(buf[-200:]))
    # 3. exit status of the shell comes back through the CLI
    os.write(fd, b"exit 7\n")
    sys.exit(wait_exit(pid, fd, step))


def wait_exit(pid, fd, step):
    """The CLI's exit status within 10 s (200 on a timeout)."""
    end = time.monotonic() + 10
    status = None
    while time.monotonic() < end:
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            status = st
            break
        try:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                os.read(fd, 4096)
        except OSError:
            time.sleep(0.1)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        step("cli exits", False, "timeout")
        return 200
    code = os.waitstatus_to_exitcode(status)
    step("cli exits", True)
    return code if code >= 0 else 128 - code


main()
