/* SPDX-License-Identifier: ISC */
/*
 * The persona's launcher ("zygote"): one long-lived process per persona
 * that already stands where every app must be born, so that a launch is
 * one message and one clone():
 *
 *   twofoldd ─(spawner: clone3(CLONE_PARENT|CLONE_INTO_CGROUP))─> launcher:
 *      │                                    [v1 cgroup.procs
 *      │                                    writes by the daemon, once]
 *      │                                    setns(init, all ns), once;
 *      │                                    then, per launch message:
 *      └<──────────── clone(CLONE_PARENT) ── app (exec.c: tf_p_app_main)
 *
 * Why: entering the persona per launch cost a fork, a setns into seven
 * namespaces and, on hybrid hosts, cgroup v1 cgroup.procs writes. A v1
 * migration takes cgroup_threadgroup_rwsem for writing, and
 * percpu_down_write() waits for an RCU grace period (rcu_sync) the first
 * time after a quiet spell: ~11 ms of every launch on kernel 6.18.
 *
 * Where the launcher stands:
 *  - cgroups: the persona's, in every hierarchy; apps inherit them. Freeze
 *    and cgroup.kill take the launcher too (it counts one pid against
 *    pids.max; tf_persona_stats() leaves it out of nprocs).
 *  - namespaces: the persona's user, mount, ipc, uts, net and cgroup ns.
 *    For pid, setns() only sets pid_for_children: the launcher stays in the
 *    host's pid ns, invisible from the persona, while its children are born
 *    inside. clone() returns their pid in the launcher's, i.e. the host's,
 *    pid ns, which is what the daemon needs.
 *  - credentials: setns(CLONE_NEWUSER) gave it every capability in the
 *    persona's user ns and took those it had on the host; it then becomes
 *    the persona's root (host uid uid_base), so nothing of host uid 0 is
 *    left to it.
 *    Then it hardens itself as an app would (exec.c tf_p_launcher_harden:
 *    empty bounding set, locked securebits, only CAP_SETUID/SETGID left,
 *    no_new_privs, Landlock, the app seccomp filter), so apps inherit all
 *    that and a launch does not repeat it.
 *    Apps (host uid_base+1000, no capabilities) can neither see nor signal
 *    it, nor ptrace it: it is not dumpable, so ptrace would need
 *    CAP_SYS_PTRACE in its mm's user ns, the host's.
 *  - memory: a fork of the spawner (spawner.c), which never held a
 *    secret; only its pid and parent are the daemon's (CLONE_PARENT).
 *  - fds: its socket only (0-2 on the host's /dev/null, so that every fd
 *    it receives is >= 3).
 *  - lifetime: dies with the daemon (PR_SET_PDEATHSIG), on EOF of its
 *    socket, and with the persona (cgroup.kill). A dead launcher is
 *    respawned by the next tf_persona_exec().
 *
 * It runs in a raw clone3() child of the (single-threaded) spawner
 * (spawner.c), so malloc is safe here.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* Without CLONE_NEWNET: the persona's network namespace belongs to the
 * initial user namespace (the daemon made it), and a pidfd setns checks
 * every namespace against the credentials of the new user namespace, which
 * have no capability there. It is entered first, on its own, while we
 * are still host root. */
#define ENTER_FLAGS                                                            \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |           \
	 CLONE_NEWUTS | CLONE_NEWCGROUP)

/* How long the daemon waits for the launcher to enter the persona. */
#define GO_TIMEOUT_MS 10000

/* stdio fds, a run cgroup and the exec-error pipe */
#define LAUNCH_FDS 5

/* Errors that lose the message stream: the launcher replies, then exits
 * (the daemon respawns it). */
#define E_DESYNC (-EPROTO)

/* Close every fd but a and b (a < b). */
static void close_all_but(int a, int b)
{
	if (a > 0)
		(void)close_range(0, (unsigned)a - 1, 0);
	if (b > a + 1)
		(void)close_range((unsigned)a + 1, (unsigned)b - 1, 0);
	(void)close_range((unsigned)b + 1, ~0U, 0);
}

static void reply(int sock, int err, pid_t pid)
{
	struct tf_p_launch_reply r = {.err = err, .pid = pid};
	ssize_t n;

	do
		n = send(sock, &r, sizeof(r), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(r))
		_exit(0); /* the daemon is gone */
}

static ssize_t recv_msg(int sock, void *buf, size_t len, int *fds, int max,
			int *nfds, int *fd_err)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * LAUNCH_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.b,
			    .msg_controllen = sizeof(cbuf.b)};
	ssize_t n;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		_exit(1);
	if (n == 0)
		_exit(0); /* the daemon closed its end: stop */
	{
		size_t got = (size_t)*nfds;
		if (tf_cmsg_take_fds(&mh, fds, (size_t)max, &got) < 0 ||
		    (mh.msg_flags & MSG_TRUNC))
			*fd_err = E_DESYNC;
		*nfds = (int)got;
	}
	return n;
}

/* Split the payload (bounded by the header, checked by the caller) into
 * argv, envp and cwd. The payload must hold exactly argc + envc (+ 1)
 * NUL-terminated strings. */
static int parse(const struct tf_p_launch_hdr *h, char *buf, char ***argv_out,
		 char ***envp_out, const char **cwd_out, const char **ll)
{
	size_t ncwd = !!(h->flags & TF_P_L_CWD);
	size_t want = (size_t)h->argc + h->envc + ncwd + h->llc;
	_cleanup_free_ char **argv = NULL, **envp = NULL;
	const char *cwd = NULL;
	size_t k = 0;

	if (h->llc > TF_EXEC_LL_MAX || h->argc == 0 ||
	    h->argc > TF_P_LAUNCH_STRS_MAX ||
	    h->envc > TF_P_LAUNCH_STRS_MAX - h->argc || h->len == 0 ||
	    buf[h->len - 1] != '\0')
		return -EINVAL;
	argv = calloc((size_t)h->argc + 1, sizeof(*argv));
	envp = calloc((size_t)h->envc + 1, sizeof(*envp));
	if (!argv || !envp)
		return -ENOMEM;
	for (char *s = buf, *end = buf + h->len; s < end; k++) {
		char *z = memchr(s, '\0', (size_t)(end - s));

		if (k >= want)
			return -EINVAL;
		if (k < h->argc)
			argv[k] = s;
		else if (k < (size_t)h->argc + h->envc)
			envp[k - h->argc] = s;
		else if (ncwd && k == (size_t)h->argc + h->envc)
			cwd = s;
		else
			ll[k - h->argc - h->envc - ncwd] = s;
		s = z + 1; /* z != NULL: buf ends with a NUL */
	}
	if (k != want)
		return -EINVAL;
	*argv_out = steal_pointer(&argv);
	*envp_out = steal_pointer(&envp);
	*cwd_out = cwd;
	return 0;
}

struct app_arg {
	const struct tf_exec_spec *x;
	int err_fd;
	int sock;
};

#define APP_STACK_BYTES (256u * 1024u)
static void *app_stack_top;

static int app_entry(void *arg)
{
	const struct app_arg *a = arg;

	/* the fd table is our own (no CLONE_FILES): this closes only the
	 * app's copy of the launcher socket */
	close(a->sock);
	tf_p_app_main(a->x, a->err_fd);
}

/*
 * clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP ...) on our app stack.
 * glibc has no clone3 wrapper, and with CLONE_VM the child cannot return
 * through syscall() (it runs on a fresh stack with no frame to return
 * to), so the child's first instructions call fn(arg) here, as clone()
 * does for clone(2). Everything but rax, rcx and r11 survives the syscall
 * in the child, so fn and arg ride in callee-saved registers. Other
 * architectures take the fork-like path (no CLONE_VM: page tables are
 * copied, the vfork wait stays).
 */
#if defined(__x86_64__)
static long clone3_vm(struct clone_args *ca, int (*fn)(void *), void *arg)
{
	register void *r12 __asm__("r12") = (void *)fn;
	register void *r13 __asm__("r13") = arg;
	long ret;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 /* child: new stack (16-byte aligned top), no frame */
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "mov %%eax, %%edi\n\t"
			 "mov $60, %%eax\n\t" /* exit */
			 "syscall\n\t"
			 "hlt\n\t"
			 "1:\n\t"
			 : "=a"(ret)
			 : "0"((long)SYS_clone3), "D"(ca), "S"(sizeof(*ca)),
			   "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return ret;
}
#endif

static long clone_into_cgroup(int cgfd, int (*fn)(void *), void *arg)
{
	struct clone_args ca;
	long r;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PARENT | CLONE_VFORK | CLONE_INTO_CGROUP;
	/* clone3 refuses an exit_signal with CLONE_PARENT: the child takes
	 * ours, SIGCHLD (the daemon made us with it) */
	ca.exit_signal = 0;
	ca.cgroup = (uint64_t)cgfd;
#if defined(__x86_64__)
	ca.flags |= CLONE_VM;
	ca.stack =
		(uint64_t)(uintptr_t)((char *)app_stack_top - APP_STACK_BYTES);
	ca.stack_size = APP_STACK_BYTES;
	r = clone3_vm(&ca, fn, arg);
	if (r < 0)
		return (errno = (int)-r, -1);
	return r;
#else
	r = syscall(SYS_clone3, &ca, sizeof(ca));
	if (r == 0)
		_exit(fn(arg));
	return r;
#endif
}

/* One launch: the first message (already received: msg, n bytes, fds) and
 * its continuation. Returns the app's pid or -errno. */
static int launch(int sock, const char *msg, size_t n, int *fds, int *nfds,
		  int fd_err)
{
	struct tf_p_launch_hdr h;
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ char **argv = NULL, **envp = NULL;
	struct tf_exec_spec x;
	const char *ll[TF_EXEC_LL_MAX + 1];
	size_t have, nstd = 0;
	long app;
	int r;

	if (n < sizeof(h))
		return E_DESYNC;
	memcpy(&h, msg, sizeof(h));
	have = n - sizeof(h);
	if (h.magic != TF_P_LAUNCH_MAGIC || h.len > TF_P_LAUNCH_MAX ||
	    have > h.len)
		return E_DESYNC;
	buf = malloc(h.len ? h.len : 1);
	if (!buf)
		return E_DESYNC; /* the rest of the message would be misread */
	memcpy(buf, msg + sizeof(h), have);
	while (have < h.len) {
		size_t want = h.len - have;
		ssize_t m;

		if (want > TF_P_LAUNCH_CHUNK)
			want = TF_P_LAUNCH_CHUNK;
		/* a longer continuation is cut (MSG_TRUNC): desync */
		m = recv_msg(sock, buf + have, want, fds, LAUNCH_FDS, nfds,
			     &fd_err);
		have += (size_t)m;
	}
	if (fd_err < 0)
		return fd_err;

	memset(&x, 0, sizeof(x));
	for (int i = 0; i < 3; i++)
		nstd += !!(h.flags & TF_P_L_FD(i));
	/* the stdio fds that are present, in order, a run cgroup, then the
	 * error pipe */
	if ((size_t)*nfds != nstd + 1 + !!(h.flags & TF_P_L_CG))
		return -EINVAL;
	for (int i = 0, j = 0; i < 3; i++)
		x.fds[i] = (h.flags & TF_P_L_FD(i)) ? fds[j++] : -1;
	if (h.flags & TF_P_L_CG) {
		x.flags |= TF_EXEC_CGROUP;
		x.cgroup_fd = fds[nstd];
	}
	for (int i = 0; i < 3; i++)
		if (h.flags & TF_P_L_CTTY(i)) {
			/* one terminal, and it must be a passed stdio fd */
			if ((x.flags & TF_EXEC_CTTY) || x.fds[i] < 0)
				return -EINVAL;
			x.flags |= TF_EXEC_CTTY;
			x.ctty = i;
		}
	memset(ll, 0, sizeof(ll));
	r = parse(&h, buf, &argv, &envp, &x.cwd, ll);
	if (r == 0 && h.llc)
		x.ll_write = ll;
	if (r < 0)
		return r;
	x.argv = argv;
	x.envp = envp;
	x.uid = h.uid;
	x.gid = h.gid;

	/* CLONE_PARENT: the app is the daemon's child (its pidfd, its exit
	 * status); born in our pid_for_children, i.e. the persona's pid ns,
	 * and in our cgroups. No setns, no cgroup write per launch.
	 * CLONE_VM|CLONE_VFORK (posix_spawn's way): no page tables copied and
	 * no copy-on-write faults; we are suspended until the app execs or
	 * exits, and we are single-threaded, so the app may use our heap
	 * (what it allocates it frees before exec). Its own stack: */
	{
		struct app_arg a = {
			.x = &x, .err_fd = fds[*nfds - 1], .sock = sock};
		app = -1;
		errno = ENOSYS;
		if (x.flags & TF_EXEC_CGROUP)
			app = clone_into_cgroup(x.cgroup_fd, app_entry, &a);
		/* no clone3 (a kernel before 5.7, or a filter that hides
		 * it): the app stays in the persona's cgroup; the daemon
		 * still reaps and signals it, only the run's leftovers are
		 * not killed at its end */
		if (app < 0 && errno == ENOSYS)
			app = clone(app_entry, app_stack_top,
				    CLONE_PARENT | CLONE_VM | CLONE_VFORK |
					    SIGCHLD,
				    &a);
	}
	if (app < 0)
		return tf_negerrno();
	return (int)app;
}

static TF_NORETURN void launcher_loop(int sock)
{
	const size_t cap = sizeof(struct tf_p_launch_hdr) + TF_P_LAUNCH_CHUNK;
	char *msg = malloc(cap);

	if (!msg)
		_exit(1);
	for (;;) {
		int fds[LAUNCH_FDS], nfds = 0, fd_err = 0, r;
		ssize_t n;

		n = recv_msg(sock, msg, cap, fds, LAUNCH_FDS, &nfds, &fd_err);
		r = launch(sock, msg, (size_t)n, fds, &nfds, fd_err);
		/* our copies: the app has its own (and closes the error
		 * pipe's write end at execve), the daemon sees EOF then */
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		reply(sock, r < 0 ? r : 0, r < 0 ? 0 : r);
		if (r == E_DESYNC)
			_exit(1);
	}
}

static TF_NORETURN void launcher_main(int sock, int init_pidfd, pid_t parent,
				      const struct tf_profile *prof)
{
	uint32_t go = 0;
	int s, ip, prep, err = 0;
	ssize_t n;

	tf_p_reset_signals();
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1); /* the daemon died before PDEATHSIG was set */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_NAME, (unsigned long)"tf-launcher", 0, 0, 0);
	s = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	ip = fcntl(init_pidfd, F_DUPFD_CLOEXEC, 3);
	if (s < 0 || ip < 0)
		_exit(1);
	/* failure is reported after the go message, like a setns failure */
	prep = tf_p_launcher_prepare(&prof->sc);
	{
		/* the apps' stack (they run in our memory until exec), with a
		 * guard page below it */
		char *st = mmap(NULL, APP_STACK_BYTES + 4096,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (st == MAP_FAILED || mprotect(st, 4096, PROT_NONE) < 0)
			_exit(1);
		app_stack_top = st + 4096 + APP_STACK_BYTES;
	}
	/* nothing of the daemon's: control socket, other personas', keys */
	close_all_but(s < ip ? s : ip, s < ip ? ip : s);
	if (open("/dev/null", O_RDWR | O_CLOEXEC) != 0 || dup2(0, 1) != 1 ||
	    dup2(0, 2) != 2)
		_exit(1);

	/* wait until the daemon attached us to the v1 controllers and init
	 * finished building the persona (setns(CLONE_NEWNS) takes init's
	 * root as it is now) */
	do
		n = recv(s, &go, sizeof(go), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(go) || go != TF_P_GO_MAGIC)
		_exit(0);
	/* one call, all namespaces, atomically (pidfd setns, Linux 5.8) */
	if (prep < 0)
		err = prep;
	else if (setns(ip, CLONE_NEWNET) < 0 || setns(ip, ENTER_FLAGS) < 0)
		err = tf_negerrno();
	/* Become the persona's root: host uid uid_base instead of host uid 0.
	 * Our capabilities are those setns gave us in the persona's user
	 * namespace, kept by the change (the new euid is that namespace's
	 * root); what goes is host root's identity: no more signalling host
	 * root's processes (we are in the host pid namespace) or owner access
	 * to host root's files in the read-only base. */
	if (err == 0 && (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 ||
			 setresuid(0, 0, 0) < 0))
		err = tf_negerrno();
	/* entering a user namespace and changing ids change our credentials,
	 * which clears the parent-death signal and the dumpable flag: set
	 * them again, and check the daemon did not die in between (we are
	 * still in the host pid namespace, so getppid() tells) */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1);
	close(ip);
	if (err == 0)
		err = tf_p_launcher_harden(prof);
	reply(s, err, 0);
	if (err)
		_exit(1);
	launcher_loop(s);
}

void tf_p_launcher_child(int sock, int init_pidfd, pid_t parent,
			 const struct tf_profile *prof)
{
	launcher_main(sock, init_pidfd, parent, prof);
}

int tf_p_launcher_spawn(struct tf_persona *p, int init_pidfd)
{
	_cleanup_close_ int s0 = -1, s1 = -1;
	struct tf_p_spawn_req q;
	pid_t pid;
	int sv[2], cgfd, pidfd = -1, r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return tf_negerrno();
	s0 = sv[0];
	s1 = sv[1];
	r = tf_p_fill_spawn_req(&q, TF_P_SPAWN_LAUNCHER, p, NULL);
	if (r < 0)
		return r;
	cgfd = tf_cgroup_v2_fd(p->cg);
	if (cgfd >= 0)
		q.flags |= CLONE_INTO_CGROUP;
	/* cloned by the spawner (spawner.c) as our child: launcher_main's
	 * parent is us */
	pid = tf_p_spawn(&q, s1, init_pidfd, cgfd, -1, &pidfd);
	if (pid < 0)
		return pid;
	p->launcher_pid = pid;
	p->launcher_pidfd = pidfd;
	p->launcher_sock = steal_fd(&s0);
	/* hybrid hosts: CLONE_INTO_CGROUP placed it in the v2 cgroup only.
	 * This is the slow v1 write, paid once per persona, not per launch. */
	if (p->hybrid || cgfd < 0) {
		r = tf_cgroup_attach(p->cg, pid);
		if (r < 0) {
			tf_p_launcher_stop(p, GO_TIMEOUT_MS);
			return r;
		}
	}
	return 0;
}

int tf_p_launcher_go(struct tf_persona *p)
{
	const uint32_t go = TF_P_GO_MAGIC;
	struct tf_p_launch_reply rep;
	ssize_t n;
	int r;

	if (send(p->launcher_sock, &go, sizeof(go), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(go)) {
		r = tf_negerrno();
		goto fail;
	}
	r = tf_p_wait_readable(p->launcher_sock, GO_TIMEOUT_MS);
	if (r < 0)
		goto fail;
	do
		n = recv(p->launcher_sock, &rep, sizeof(rep), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = tf_negerrno();
	else if (n != (ssize_t)sizeof(rep))
		r = -ECONNRESET; /* it died before it reported */
	else
		r = rep.err < 0 ? rep.err : 0;
	if (r == 0)
		return 0;
fail:
	tf_p_launcher_stop(p, GO_TIMEOUT_MS);
	return r;
}

bool tf_p_launcher_alive(const struct tf_persona *p)
{
	struct pollfd pfd = {.fd = p->launcher_pidfd, .events = POLLIN};

	/* a pidfd turns readable when the process exits */
	return p->launcher_pidfd >= 0 && poll(&pfd, 1, 0) == 0;
}

void tf_p_launcher_stop(struct tf_persona *p, int ms)
{
	siginfo_t si;

	if (p->launcher_sock >= 0)
		close(p->launcher_sock);
	if (p->launcher_pidfd >= 0) {
		(void)pidfd_send_signal(p->launcher_pidfd, SIGKILL, NULL, 0);
		/* our own child, reaped by its pidfd, never waitpid(-1) */
		if (tf_p_wait_readable(p->launcher_pidfd, ms) == 0)
			(void)waitid(P_PIDFD, (id_t)p->launcher_pidfd, &si,
				     WEXITED | WNOHANG);
		close(p->launcher_pidfd);
	}
	p->launcher_sock = -1;
	p->launcher_pidfd = -1;
	p->launcher_pid = -1;
}

pid_t tf_persona_launcher_pid(const struct tf_persona *p)
{
	return p ? p->launcher_pid : -1;
}
