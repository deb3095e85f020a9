#!/usr/bin/env python3
"""Run a command under a fresh pseudo-terminal, as a user at a terminal
would, with scripted keystrokes; print what the terminal showed, then the
exit status on a last line "status N" (or "stopped" lines as they happen).

usage: ptyrun.py [--rows R --cols C] SCRIPT -- CMD...
SCRIPT: ';'-separated steps: 'wait:TEXT' (until TEXT was shown, 10 s max),
'send:TEXT' (\\n, \\x1a escapes), 'sleep:S', 'checkstop' (print whether
CMD is stopped), 'cont' (SIGCONT it, as a shell's fg does), 'hup' (close
the terminal's master side).
"""
import os, pty, select, signal, struct, sys, time, fcntl, termios

args = sys.argv[1:]
rows, cols = 24, 80
if args[:1] == ["--rows"]:
    rows, cols = int(args[1]), int(args[3])
    args = args[4:]
script, cmd = args[0], args[args.index("--") + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
out = b""
closed = False

def pump(t, until=None):
    global out, closed
    end = time.time() + t
    while time.time() < end and not closed:
        if until is not None and until in out:
            return
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                closed = True
                return
            if not d:
                closed = True
                return
            out += d

for step in filter(None, script.split(";")):
    k, _, v = step.partition(":")
    v = v.encode().decode("unicode_escape").encode("latin-1")
    if k == "wait":
        pump(10, v)
    elif k == "send":
        os.write(fd, v)
    elif k == "sleep":
        pump(float(v))
    elif k == "checkstop":
        pump(0.5)
        w = os.waitpid(pid, os.WUNTRACED | os.WNOHANG)
        out += b"\n[cli %s]\n" % (b"stopped" if w[0] and os.WIFSTOPPED(w[1])
                                  else b"running")
    elif k == "cont":
        os.kill(pid, signal.SIGCONT)
    elif k == "hup":
        os.close(fd)
        closed = True
pump(20)
# the terminal's EOF can come before the command's exit: give it 10 s
for _ in range(200):
    w = os.waitpid(pid, os.WNOHANG)
    if w[0] != 0:
        break
    time.sleep(0.05)
if w[0] == 0:
    os.kill(pid, signal.SIGKILL)  # stuck: say so instead of hanging
    out += b"\n[timeout]\n"
    w = os.waitpid(pid, 0)
st = w[1]
sys.stdout.write(out.decode(errors="replace"))
print("\nstatus %d" % os.waitstatus_to_exitcode(st))
