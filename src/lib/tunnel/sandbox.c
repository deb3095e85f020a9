/* SPDX-License-Identifier: ISC */
/*
 * The tunnel process's seccomp allowlist: what the data path needs once it
 * holds its fds, and nothing to open, connect, bind, exec or change ids.
 * Default ENOSYS (as the app filter: a syscall a libc update starts using
 * fails visibly rather than kill the tunnel; the persona's lockdown does
 * not depend on this process staying alive).
 */
#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <seccomp.h>

#include "tunnel_internal.h"
#include "twofold/sandbox.h"

int tf_tunnel_seccomp(void)
{
	static const int allow[] = {
		/* the data path */
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
		SCMP_SYS(poll),
		SCMP_SYS(ppoll),
		SCMP_SYS(setsockopt),
		SCMP_SYS(getsockopt),
		SCMP_SYS(fcntl),
		SCMP_SYS(close),
		/* threads, locks, time, randomness (libsodium, libgcrypt,
		 * OpenSSL: getrandom) */
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
		/* memory: malloc, thread stacks, sodium_malloc's guard pages
		 * and mlock */
		SCMP_SYS(munmap),
		SCMP_SYS(brk),
		SCMP_SYS(mremap),
		SCMP_SYS(mlock),
		SCMP_SYS(munlock),
		/* signals and exit */
		SCMP_SYS(rt_sigprocmask),
		/* a sanitizer runtime gives every new thread one (CI runs
		 * the tests under ASan) */
		SCMP_SYS(sigaltstack),
		SCMP_SYS(rt_sigreturn),
		SCMP_SYS(restart_syscall),
		SCMP_SYS(exit),
		SCMP_SYS(exit_group),
	};
	/* memory never becomes executable: no code is loaded after start;
	 * clone only for threads (pthread_create): never a new process */
	return tf_seccomp_helper(allow, TF_ARRAY_SIZE(allow), true);
}
