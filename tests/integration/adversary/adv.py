#!/usr/bin/env python3
"""Attacks an app would run from inside a persona. The battery passes this
file's text to `python3 -c` through `twofold run` (the test tree is not in
the persona's mount namespace), so it imports only the standard library.
Each mode prints one line per attempt, "NAME RESULT", RESULT being OK (the
call succeeded) or the errno name; the shell scripts compare those with
what a protected system answers. The same modes run on the host as an
unprivileged user show what the kernel alone answers (the control that
proves a check can fail).

usage: python3 -c "$(cat adv.py)" MODE [ARGS...]
"""
import ctypes, errno, os, signal, socket, struct, sys, time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
BAD = 1  # an invalid user pointer: where the kernel reads it, it says EFAULT


def ename(e):
    return errno.errorcode.get(e, str(e))


def sc(nr, *a):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) for x in a])
    return "OK" if r >= 0 else ename(ctypes.get_errno())


def in_child(fn):
    """Run fn in a forked child (the call may succeed and change the
    process) and return what it returned."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, fn().encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    s = os.read(r, 200).decode() or "CHILD-DIED"
    os.close(r)
    return s


def clone_parent():
    # clone(CLONE_PARENT | SIGCHLD): a fork whose child would belong to
    # our parent; the child (if any) leaves at once
    def f():
        ctypes.set_errno(0)
        r = libc.syscall(ctypes.c_long(56), ctypes.c_long(0x8000 | 17),
                         ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0),
                         ctypes.c_long(0))
        if r == 0:
            os._exit(0)
        return "OK" if r > 0 else ename(ctypes.get_errno())
    return in_child(f)


# Each: name -> a call shaped so that the kernel itself (no filter) gives
# an answer other than the filter's: a success, or EFAULT/EBADF/EINVAL on
# an argument it reads before any permission check.
SYSCALLS = [
    ("open_tree_attr", lambda: sc(467, -100, BAD, 0, BAD, 32)),
    ("statmount", lambda: sc(457, BAD, BAD, 0, 0)),
    ("listmount", lambda: sc(458, BAD, BAD, 0, 0)),
    # FAN_CLASS_NOTIF | FAN_REPORT_FID: allowed unprivileged since 5.13
    ("fanotify_init", lambda: sc(300, 0x200, 0)),
    ("memfd_secret", lambda: sc(447, 0)),
    ("process_madvise", lambda: sc(440, -1, 0, 0, 0, 0)),
    ("modify_ldt", lambda: sc(154, 0, BAD, 16)),
    ("bpf", lambda: sc(321, 0, BAD, 8)),
    ("perf_event_open", lambda: sc(298, BAD, 0, -1, -1, 0)),
    ("io_uring_setup", lambda: sc(425, 1, BAD)),
    # UFFD_USER_MODE_ONLY: unprivileged even with the sysctl at 0
    ("userfaultfd", lambda: sc(323, 1)),
    # KEYCTL_GET_KEYRING_ID of the session keyring
    ("keyctl", lambda: sc(250, 0, -3, 0)),
    ("add_key", lambda: sc(248, BAD, BAD, 0, 0, -3)),
    ("request_key", lambda: sc(249, BAD, BAD, 0, 0)),
    ("unshare_0", lambda: in_child(lambda: sc(272, 0))),
    ("unshare_user", lambda: in_child(lambda: sc(272, 0x10000000))),
    ("setns", lambda: sc(308, -1, 0)),
    ("mount", lambda: sc(165, 0, BAD, BAD, 0, 0)),
    ("ptrace_traceme", lambda: in_child(lambda: sc(101, 0, 0, 0, 0))),
    ("process_vm_readv", lambda: sc(310, os.getpid(), BAD, 1, BAD, 1, 0)),
    ("pidfd_getfd", lambda: sc(438, -1, 0, 0)),
    ("open_by_handle_at", lambda: sc(304, -1, BAD, 0)),
    ("clone3", lambda: sc(435, BAD, 88)),
    ("clone_parent", clone_parent),
    # READ_IMPLIES_EXEC
    ("personality_rie", lambda: in_child(lambda: sc(135, 0x0400000))),
    # ADDR_NO_RANDOMIZE
    ("personality_norand", lambda: in_child(lambda: sc(135, 0x0040000))),
    # PR_SET_MM (35) PR_SET_MM_START_CODE: the kernel checks capability
    # after the option; EINVAL is the filter's answer for an unlisted one
    ("prctl_set_mm", lambda: sc(157, 35, 1, 0, 0, 0)),
    ("chroot", lambda: sc(161, BAD)),
    # getpid through the x32 ABI (__X32_SYSCALL_BIT): the filter kills
    # the caller (SIGSYS), so the child reports nothing
    ("x32_getpid", lambda: in_child(lambda: sc(0x40000000 | 39))),
]


def m_syscalls(args):
    for n, f in SYSCALLS:
        print(n, f(), flush=True)


# ioctls: _IOWR('f', 23, struct fscrypt_add_key_arg (80 bytes)) etc.
TIOCSTI, TIOCSETD, TIOCCONS, TIOCGWINSZ = 0x5412, 0x5423, 0x541D, 0x5413
FS_IOC_ADD_ENCRYPTION_KEY = 0xC0506617
FS_IOC_GET_ENCRYPTION_KEY_STATUS = 0xC080661A
FS_IOC_REMOVE_ENCRYPTION_KEY = 0xC0406618
FS_IOC_GET_ENCRYPTION_POLICY_EX = 0xC0096616


def ioc(fd, req, buf):
    ctypes.set_errno(0)
    r = libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(req), buf)
    return "OK" if r >= 0 else ename(ctypes.get_errno())


def m_ioctls(args):
    """ioctls on our own terminal (fd 0 must be one) and data dir ARGS[0]."""
    tty = 0
    ws = ctypes.create_string_buffer(8)
    print("TIOCGWINSZ", ioc(tty, TIOCGWINSZ, ws))
    c = ctypes.c_char(b"#")
    print("TIOCSTI", ioc(tty, TIOCSTI, ctypes.byref(c)))
    # the same request with high bits set: the kernel uses the low 32
    print("TIOCSTI_hibits", sc(16, tty, (1 << 32) | TIOCSTI,
                               ctypes.addressof(c)))
    ld = ctypes.c_int(0)  # N_TTY: the kernel lets the owner set it
    print("TIOCSETD", ioc(tty, TIOCSETD, ctypes.byref(ld)))
    # on /dev/null: the kernel says ENOTTY; the filter says EPERM first
    nul = os.open("/dev/null", os.O_RDONLY)
    print("TIOCCONS", ioc(nul, TIOCCONS, None))
    d = os.open(args[0], os.O_RDONLY | os.O_DIRECTORY)
    # read our own directory's policy (allowed): gives our key identifier
    pol = ctypes.create_string_buffer(8 + 24)
    struct.pack_into("<Q", pol, 0, 24)
    r = ioc(d, FS_IOC_GET_ENCRYPTION_POLICY_EX, pol)
    print("GET_POLICY_EX", r)
    ident = pol.raw[16:32] if r == "OK" else b"\0" * 16
    # the key status of that identifier: "is this persona unlocked?"
    st = ctypes.create_string_buffer(128)
    struct.pack_into("<II", st, 0, 2, 0)  # FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER
    st[8:24] = ident
    print("GET_KEY_STATUS", ioc(d, FS_IOC_GET_ENCRYPTION_KEY_STATUS, st))
    # add a key of our own: the kernel lets any user add a v2 key
    ak = ctypes.create_string_buffer(80 + 64)
    struct.pack_into("<II", ak, 0, 2, 0)
    struct.pack_into("<I", ak, 40, 64)
    ak[80:144] = os.urandom(64)
    r = ioc(d, FS_IOC_ADD_ENCRYPTION_KEY, ak)
    print("ADD_KEY", r)
    # remove the key just added (the kernel wrote its identifier back), or
    # else our own persona's key
    rk = ctypes.create_string_buffer(64)
    struct.pack_into("<II", rk, 0, 2, 0)
    rk[8:24] = ak.raw[8:24] if r == "OK" else ident
    print("REMOVE_KEY", ioc(d, FS_IOC_REMOVE_ENCRYPTION_KEY, rk))


FAMILIES = [
    ("vsock", 40, socket.SOCK_STREAM, 0),
    ("packet", 17, socket.SOCK_RAW, 0x0300),
    ("packet_dgram", 17, socket.SOCK_DGRAM, 0x0300),
    ("alg", 38, socket.SOCK_SEQPACKET, 0),
    ("key", 15, socket.SOCK_RAW, 2),
    ("xdp", 44, socket.SOCK_RAW, 0),
    ("nl_audit", 16, socket.SOCK_RAW, 9),
    ("nl_uevent", 16, socket.SOCK_DGRAM, 15),
    ("nl_sockdiag", 16, socket.SOCK_RAW, 4),
    ("nl_netfilter", 16, socket.SOCK_RAW, 12),
    ("nl_route", 16, socket.SOCK_RAW, 0),
    ("unix", 1, socket.SOCK_STREAM, 0),
    ("inet", 2, socket.SOCK_STREAM, 0),
    ("inet6", 10, socket.SOCK_DGRAM, 0),
]


def m_sockets(args):
    for n, fam, typ, proto in FAMILIES:
        try:
            socket.socket(fam, typ, proto).close()
            r = "OK"
        except OSError as e:
            r = ename(e.errno)
        print(n, r)
    # the family with high bits set: the kernel truncates to int (40)
    print("vsock_hibits", sc(41, (1 << 32) | 40, 1, 0))
    # socketpair: AF_UNIX only
    print("socketpair_inet", sc(53, 2, 1, 0, BAD))


def m_echo(args):
    """A TCP echo over the persona's loopback (v4 and v6) and a netlink
    route dump: what must keep working."""
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.bind((host, 0))
            s.listen(1)
            c = socket.create_connection(s.getsockname()[:2], timeout=5)
            a, _ = s.accept()
            c.sendall(b"ping")
            a.sendall(a.recv(4))
            print("echo_%s" % fam.name, "OK" if c.recv(4) == b"ping" else "BAD")
        except OSError as e:
            print("echo_%s" % fam.name, ename(e.errno))
    try:
        n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        # RTM_GETLINK dump
        n.send(struct.pack("=LHHLLBxxxiII", 32, 18, 0x301, 1, 0, 0, 0, 0, 0))
        d = n.recv(65536)
        print("nl_route_dump", "OK" if b"lo" in d else "BAD")
    except OSError as e:
        print("nl_route_dump", ename(e.errno))


# --- shared kernel objects -------------------------------------------------

KEY = 0x7F0CAFE  # a fixed SysV key both sides know
MQ = b"/tf-covert"
ABSTRACT = b"\0tf-covert"


def sysv(kind, create):
    fl = (0o1000 | 0o666) if create else 0  # IPC_CREAT
    ctypes.set_errno(0)
    if kind == "shm":
        r = libc.shmget(KEY, 4096, fl)
    elif kind == "sem":
        r = libc.semget(KEY, 1, fl)
    else:
        r = libc.msgget(KEY, fl)
    return r, ctypes.get_errno()


def mq(create):
    rt = libc
    rt.mq_open.restype = ctypes.c_int
    ctypes.set_errno(0)
    if create:
        r = rt.mq_open(MQ, os.O_RDWR | os.O_CREAT, 0o666, None)
    else:
        r = rt.mq_open(MQ, os.O_RDONLY)
    return r, ctypes.get_errno()


def m_plant(args):
    """Make every object, print 'planted ...', then hold them (sleep)."""
    out = []
    for k in ("shm", "sem", "msg"):
        r, e = sysv(k, True)
        out.append("%s=%s" % (k, "OK" if r >= 0 else ename(e)))
    r, e = mq(True)
    out.append("mq=%s" % ("OK" if r >= 0 else ename(e)))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(ABSTRACT)
        s.listen(4)
        out.append("abstract=OK")
    except OSError as e:
        out.append("abstract=%s" % ename(e.errno))
    try:
        with open("/dev/shm/tf-covert", "w") as f:
            f.write("x")
        with open("/tmp/tf-covert", "w") as f:
            f.write("x")
        out.append("files=OK")
    except OSError as e:
        out.append("files=%s" % ename(e.errno))
    print("planted", " ".join(out), flush=True)
    time.sleep(float(args[0]) if args else 60)
    for k in ("shm", "sem", "msg"):
        pass


def m_probe(args):
    """Look for the objects m_plant made (in this or another persona)."""
    for k in ("shm", "sem", "msg"):
        r, e = sysv(k, False)
        print(k, "FOUND" if r >= 0 else ename(e))
    r, e = mq(False)
    print("mq", "FOUND" if r >= 0 else ename(e))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(ABSTRACT)
        print("abstract FOUND")
    except OSError as e:
        print("abstract", ename(e.errno))
    for f in ("/dev/shm/tf-covert", "/tmp/tf-covert"):
        print(f, "FOUND" if os.path.exists(f) else "ENOENT")


def m_unplant(args):
    for k in ("shm", "sem", "msg"):
        r, e = sysv(k, False)
        if r >= 0:
            # IPC_RMID
            {"shm": lambda: libc.shmctl(r, 0, None),
             "sem": lambda: libc.semctl(r, 0, 0),
             "msg": lambda: libc.msgctl(r, 0, None)}[k]()
    libc.mq_unlink(MQ)
    for f in ("/dev/shm/tf-covert", "/tmp/tf-covert"):
        try:
            os.unlink(f)
        except OSError:
            pass


def m_udplisten(args):
    """UDP on 127.0.0.1:PORT: record every datagram until our own sentinel
    arrives (sent by this persona after the other one sent), no timing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(args[0])))
    s.settimeout(30)
    print("ready", flush=True)
    got = []
    while True:
        try:
            d = s.recv(100).decode(errors="replace")
        except socket.timeout:
            got.append("TIMEOUT")
            break
        got.append(d)
        if d == "sentinel":
            break
    print("got", " ".join(got), flush=True)


def m_udpsend(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(args[1].encode(), ("127.0.0.1", int(args[0])))
        print("sent")
    except OSError as e:
        print("send", ename(e.errno))


def m_marker(args):
    """A process with a recognisable argv: python3 -c ... marker TAG."""
    print("marker up", flush=True)
    time.sleep(float(args[1]) if len(args) > 1 else 60)


def m_procs(args):
    """The pids of this pid namespace (/proc) and their cmdlines; then the
    pids 1..N that kill(0) finds (exist: OK or EPERM) outside that list."""
    seen = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    # a long argument (this script's text): abbreviated
                    a = [x if len(x) < 200 else b"<script>"
                         for x in f.read().split(b"\0")]
                    seen[int(p)] = b" ".join(a).decode(errors="replace").strip()
            except OSError:
                seen[int(p)] = "?"
    for p, c in sorted(seen.items()):
        print("proc", p, c.replace("\n", " "))
    hidden = []
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            top = min(int(f.read()), int(args[0]))
    except OSError:
        top = int(args[0])
    for p in range(1, top + 1):
        try:
            os.kill(p, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if alive and p not in seen:
            # a pid we can signal but not see: a foreign process (or one
            # born after the listing; the caller rechecks)
            hidden.append(p)
    print("hidden", " ".join(map(str, hidden)) or "none")
    for p in (int(x) for x in args[1:]):
        try:
            os.kill(p, 0)
            r = "OK"
        except OSError as e:
            r = ename(e.errno)
        print("killpid", p, r)


def m_killinit(args):
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL):
        try:
            os.kill(1, sig)
            r = "OK"
        except OSError as e:
            r = ename(e.errno)
        print("kill1_" + sig.name, r)


def m_procwrite(args):
    """Open system-wide /proc files for writing (classic escapes and global
    knobs); each must fail."""
    for p in ("/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger",
              "/proc/sys/vm/drop_caches", "/proc/sys/kernel/hostname",
              "/proc/sys/kernel/random/boot_id", "/proc/sys/kernel/modprobe",
              "/proc/sys/fs/file-max", "/proc/sys/kernel/randomize_va_space",
              "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/ns_last_pid",
              "/proc/stat", "/proc/loadavg", "/proc/meminfo", "/proc/uptime",
              "/proc/1/oom_score_adj", "/proc/self/attr/current"):
        try:
            fd = os.open(p, os.O_WRONLY)
            os.close(fd)
            r = "OK"
        except OSError as e:
            r = ename(e.errno)
        print(p, r)


def m_residual(args):
    """Counters shared by every persona (one kernel): print them."""
    def rd(p):
        try:
            with open(p) as f:
                return f.read().split("\n")[0][:60]
        except OSError as e:
            return ename(e.errno)
    for p in ("/proc/sys/kernel/random/boot_id", "/proc/uptime",
              "/proc/loadavg", "/proc/stat", "/proc/meminfo"):
        print(p, rd(p))
    st = os.statvfs("/home")
    print("statvfs_free_blocks", st.f_bfree)


def m_fds(args):
    """Our descriptors (listdir opens one of its own: excluded)."""
    import fcntl
    listed = [int(x) for x in os.listdir("/proc/self/fd")]
    names = []
    for n in sorted(listed):
        try:
            fcntl.fcntl(n, fcntl.F_GETFD)  # the listing's own fd is closed
            names.append(n)
        except OSError:
            pass
    print("fds", " ".join(map(str, names)))
    for n in names:
        try:
            print("fd", n, os.readlink("/proc/self/fd/%d" % n))
        except OSError:
            pass


def m_findctl(args):
    """Every unix socket path this app can find (walk /, bounded), the
    paths in /proc/net/unix of its netns, and connect attempts to those
    named control and to the paths given."""
    found, n = [], 0
    for root, dirs, files in os.walk("/", topdown=True):
        if root == "/" and "proc" in dirs:
            dirs.remove("proc")
        if root == "/" and "sys" in dirs:
            dirs.remove("sys")
        for f in files + dirs:
            n += 1
            if n > 200000:
                break
            p = os.path.join(root, f)
            try:
                if (os.lstat(p).st_mode & 0o170000) == 0o140000:
                    found.append(p)
            except OSError:
                pass
    print("sockets", " ".join(found) or "none")
    try:
        with open("/proc/net/unix") as f:
            paths = [l.split()[7] for l in f.read().splitlines()[1:]
                     if len(l.split()) > 7]
    except OSError as e:
        paths = ["ERR-" + ename(e.errno)]
    print("netunix", " ".join(p for p in paths if not p.startswith("@")) or "none")
    for p in [x for x in found + paths if x.endswith("control")] + args:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(p)
            print("connect", p, "OK")
        except OSError as e:
            print("connect", p, ename(e.errno))


def m_forkbomb(args):
    """Fork (children pause) until the kernel refuses, at most N; print
    how many, then hold them for S seconds (the run's end kills them)."""
    n, err = 0, "none"
    kids = []
    while n < int(args[0]):
        try:
            pid = os.fork()
        except OSError as e:
            err = ename(e.errno)
            break
        if pid == 0:
            signal.pause()
            os._exit(0)
        kids.append(pid)
        n += 1
    print("forked", n, err, flush=True)
    time.sleep(float(args[1]))


def m_memhog(args):
    """Allocate and touch 4 MiB at a time, up to N MiB."""
    held = []
    for i in range(int(args[0]) // 4):
        b = bytearray(4 << 20)
        for j in range(0, len(b), 4096):
            b[j] = 1
        held.append(b)
        if i % 8 == 0:
            print("mib", (i + 1) * 4, flush=True)
    print("survived", len(held) * 4, flush=True)


def m_shmfill(args):
    """Fill /dev/shm (a tmpfs: RAM) with up to N MiB."""
    n = 0
    try:
        with open("/dev/shm/fill", "wb") as f:
            for n in range(1, int(args[0]) + 1):
                f.write(b"\1" * (1 << 20))
                f.flush()
        print("shm", n, "none", flush=True)
    except OSError as e:
        print("shm", n, ename(e.errno), flush=True)


def m_fsync(args):
    """N fsyncs of a small write in /home/app; prints the seconds taken."""
    p = "/home/app/fsync.%d" % os.getpid()
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
    t = time.monotonic()
    for i in range(int(args[0])):
        os.pwrite(fd, os.urandom(4096), (i % 64) * 4096)
        os.fsync(fd)
    print("fsync", int(args[0]), "%.4f" % (time.monotonic() - t), flush=True)
    os.close(fd)
    os.unlink(p)


def m_fsyncstorm(args):
    """fsync in a loop for S seconds (bounded)."""
    p = "/home/app/storm.%d" % os.getpid()
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
    end, n = time.monotonic() + float(args[0]), 0
    print("storming", flush=True)
    while time.monotonic() < end:
        os.pwrite(fd, os.urandom(65536), (n % 64) * 65536)
        os.fsync(fd)
        n += 1
    print("storm", n, flush=True)
    os.close(fd)
    os.unlink(p)


def m_devices(args):
    """Open terminal and kernel devices an app should not have."""
    names = ["/dev/console", "/dev/tty0", "/dev/ttyS0", "/dev/vcs",
             "/dev/vcsa", "/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg",
             "/dev/loop0", "/dev/loop-control", "/dev/fuse", "/dev/net/tun",
             "/dev/uinput", "/dev/vsock", "/dev/vhost-vsock", "/dev/sda",
             "/dev/vda", "/dev/nvme0n1", "/dev/input/event0", "/dev/cpu/0/msr"]
    names += ["/dev/tty%d" % i for i in range(1, 64)]
    bad = []
    for p in names:
        try:
            fd = os.open(p, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            os.close(fd)
            bad.append(p + "=OK")
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.EACCES, errno.EPERM):
                bad.append(p + "=" + ename(e.errno))
    print("devices", " ".join(bad) or "none-opened")
    # make the node ourselves: mknod (no CAP_MKNOD) in every writable dir
    for d in ("/tmp", "/home/app", "/dev/shm", "/run", "/var"):
        p = d + "/tf-tty0"
        try:
            os.mknod(p, 0o020666, os.makedev(4, 0))
            try:
                fd = os.open(p, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
                os.close(fd)
                r = "OPENED"
            except OSError as e:
                r = "made-" + ename(e.errno)
            os.unlink(p)
        except OSError as e:
            r = ename(e.errno)
        print("mknod", d, r)


def m_ptys(args):
    """Open every /dev/pts/N but our own terminal's."""
    mine = os.path.realpath("/proc/self/fd/0")
    for n in sorted(os.listdir("/dev/pts")):
        p = "/dev/pts/" + n
        if n == "ptmx" or p == mine:
            continue
        try:
            fd = os.open(p, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            os.close(fd)
            r = "OK"
        except OSError as e:
            r = ename(e.errno)
        print("pts", p, r)
    print("ptys-done")


def m_ttydaemon(args):
    """Double-fork a daemon that keeps our terminal open (it opened
    /dev/tty first, then left the session), ignores SIGHUP and SIGTERM,
    and for S seconds tries to read it and appends a byte to FILE: if the
    file still grows after the run ended, the daemon outlived it."""
    path, secs = args[0], float(args[1])
    if os.fork() == 0:
        try:
            tty = os.open("/dev/tty", os.O_RDWR | os.O_NONBLOCK)
        except OSError:
            tty = -1
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for fd in (0, 1, 2):
                os.close(fd)
            end = time.monotonic() + secs
            while time.monotonic() < end:
                if tty >= 0:
                    try:
                        os.read(tty, 100)
                    except OSError:
                        pass
                with open(path, "a") as f:
                    f.write("x")
                time.sleep(0.05)
        os._exit(0)
    os.wait()
    print("daemonized", flush=True)


MODES = {k[2:]: v for k, v in globals().items() if k.startswith("m_")}
if __name__ == "__main__":
    MODES[sys.argv[1]](sys.argv[2:])
