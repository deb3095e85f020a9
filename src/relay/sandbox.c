/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay's least privilege (relay_sandbox.h), like the tunnel
 * process (src/lib/tunnel/sandbox.c): once the sockets are bound, the
 * store open and the keys read, the relay drops to an unprivileged uid
 * with no capabilities, sets no_new_privs and loads a whole-process
 * syscall allowlist (tf_seccomp_helper: default ENOSYS, memory never
 * executable, clone only for threads). It runs before the worker threads
 * start, so they inherit all of it (capabilities are per thread).
 *
 * What stays allowed is what the relay does after start: datagram and
 * stream I/O on its sockets, epoll, the SQLite store (which may open its
 * -wal, -shm and temporary files, so openat, the stat family, unlink and
 * ftruncate stay: the uid, not the filter, confines which files), the
 * deny-list re-read on SIGHUP. Not allowed: exec, ptrace, mount, setuid
 * and the other id changes, new namespaces, module loading, new
 * sockets (every socket is made before the drop; only with --nats or the
 * PostgreSQL store may the process make sockets, for the NATS client's
 * and libpq's reconnects). libpq's over TCP to the hosts of a
 * multi-host string (socket, connect, the keepalive and
 * TCP_USER_TIMEOUT setsockopts, getsockopt SO_ERROR, poll) need nothing
 * more: test_patroni.sh runs them as nobody under this filter across
 * two Patroni failovers. There is no Landlock ruleset in the relay; the
 * uid and this filter confine it.
 *
 * TLS to NATS (natsauth.c) needs nothing more: its CA, key and
 * credentials are read before the drop, and OpenSSL's handshakes on
 * cnats' reconnect threads use only the calls above (checked with
 * strace -f across a reconnect: no ENOSYS but clone3, which glibc falls
 * back from to clone). OpenSSL's one file, openssl.cnf, is read at the
 * first TLS context, after the drop: openat stays, and the file is
 * world-readable. The system trust store it would also list is turned
 * off (natsauth.c: only --nats-ca is trusted).
 */
#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <seccomp.h>

#include "relay_sandbox.h"
#include "twofold/sandbox.h"

static int relay_seccomp(bool net)
{
	static const int allow[] = {
		/* sockets: the data path, TCP fallback */
		SCMP_SYS(read),
		SCMP_SYS(write),
		SCMP_SYS(readv),
		SCMP_SYS(writev),
		SCMP_SYS(recvmmsg),
		SCMP_SYS(sendmmsg),
		SCMP_SYS(recvmsg),
		SCMP_SYS(sendmsg),
		SCMP_SYS(sendto),
		SCMP_SYS(recvfrom),
		SCMP_SYS(accept4),
		SCMP_SYS(connect),
		SCMP_SYS(shutdown),
		SCMP_SYS(getsockname),
		SCMP_SYS(getpeername),
		SCMP_SYS(setsockopt),
		SCMP_SYS(getsockopt),
		SCMP_SYS(epoll_wait),
		SCMP_SYS(epoll_pwait),
		SCMP_SYS(epoll_ctl),
		SCMP_SYS(epoll_create1),
		SCMP_SYS(poll),
		SCMP_SYS(ppoll),
		SCMP_SYS(pipe2),
		SCMP_SYS(eventfd2),
		SCMP_SYS(timerfd_create),
		SCMP_SYS(timerfd_settime),
		SCMP_SYS(signalfd4),
		SCMP_SYS(fcntl),
		SCMP_SYS(close),
		SCMP_SYS(dup),
		/* the store (SQLite) and the deny-list file */
		SCMP_SYS(openat),
		SCMP_SYS(pread64),
		SCMP_SYS(pwrite64),
		SCMP_SYS(lseek),
		SCMP_SYS(fsync),
		SCMP_SYS(fdatasync),
		SCMP_SYS(ftruncate),
		SCMP_SYS(fstat),
		SCMP_SYS(newfstatat),
		SCMP_SYS(statx),
		SCMP_SYS(faccessat),
		SCMP_SYS(faccessat2),
		SCMP_SYS(unlinkat),
		SCMP_SYS(getcwd),
		SCMP_SYS(readlinkat),
		SCMP_SYS(fchown), /* SQLite, only when euid is 0 */
		SCMP_SYS(geteuid),
		SCMP_SYS(getuid),
		SCMP_SYS(getegid),
		SCMP_SYS(getgid),
		/* threads, locks, time, randomness */
		SCMP_SYS(futex),
		SCMP_SYS(set_robust_list),
		SCMP_SYS(rseq),
		SCMP_SYS(clock_gettime),
		SCMP_SYS(clock_nanosleep),
		SCMP_SYS(nanosleep),
		SCMP_SYS(sched_yield),
		SCMP_SYS(getrandom),
		SCMP_SYS(gettid),
		SCMP_SYS(getpid),
		SCMP_SYS(madvise),
		/* memory: malloc, thread stacks, secure memory's guard pages
		 * and mlock */
		SCMP_SYS(munmap),
		SCMP_SYS(brk),
		SCMP_SYS(mremap),
		SCMP_SYS(mlock),
		SCMP_SYS(munlock),
		/* signals and exit */
		SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(rt_sigaction),
		SCMP_SYS(sigaltstack),
		SCMP_SYS(rt_sigreturn),
		SCMP_SYS(restart_syscall),
		SCMP_SYS(exit),
		SCMP_SYS(exit_group),
	};
#if defined(__x86_64__) || defined(__i386__)
	/* older glibc paths some libraries still take */
	static const int legacy[] = {SCMP_SYS(open),   SCMP_SYS(stat),
				     SCMP_SYS(lstat),  SCMP_SYS(access),
				     SCMP_SYS(unlink), SCMP_SYS(readlink)};
#endif
	/* --nats: the NATS client (re)connects on its own threads; libpq
	 * reconnects to PostgreSQL */
	static const int nats[] = {SCMP_SYS(socket), SCMP_SYS(pselect6),
				   SCMP_SYS(uname), SCMP_SYS(sysinfo),
				   SCMP_SYS(sched_getaffinity)};
	int list[TF_ARRAY_SIZE(allow) + TF_ARRAY_SIZE(nats) + 8];
	size_t n = 0;

	for (size_t i = 0; i < TF_ARRAY_SIZE(allow); i++)
		list[n++] = allow[i];
	for (size_t i = 0; net && i < TF_ARRAY_SIZE(nats); i++)
		list[n++] = nats[i];
#if defined(__x86_64__) || defined(__i386__)
	for (size_t i = 0; i < TF_ARRAY_SIZE(legacy); i++)
		list[n++] = legacy[i];
#endif
	return tf_seccomp_helper(list, n, true);
}

int relay_sandbox(bool drop, uid_t uid, gid_t gid, bool nats)
{
	int r = 0;

	if (drop) {
		r = tf_privs_drop(uid, gid);
		if (r == 0)
			r = tf_caps_drop_all();
	}
	if (r == 0)
		r = tf_nnp_set();
	/* a uid change resets "dumpable" to fs.suid_dumpable: the relay's
	 * own uid must not be able to ptrace it (its static key) */
	if (r == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		r = -errno;
	if (r < 0)
		return r;
	return relay_seccomp(nats);
}
