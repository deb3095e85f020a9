/* SPDX-License-Identifier: ISC */
/*
 * The guard: a small process that takes the keys out of the kernel when
 * twofoldd dies without doing it itself (kill -9, a crash, the OOM killer).
 *
 * Why: fscrypt keys live in the file system's keyring, not in the daemon.
 * A dead daemon leaves them there, with the images mounted, until the next
 * twofoldd starts: host root (or anyone who gets it) reads plaintext names
 * and files meanwhile. The persona processes die with the daemon
 * (PDEATHSIG), the keys do not.
 *
 *   twofoldd ──fork, first thing in main(), before any secret──> guard
 *      │  after every key add/remove, storage attach/detach and persona
 *      │  start/stop: "key K of persona P is on storage S", "storage S is
 *      │  mounted at M (fd)", "persona P's cgroup (fd)"; each message is
 *      │  answered, so the guard's table is current when the call returns
 *      │
 *   guard: poll(pidfd of twofoldd, the socket). On the daemon's death
 *      (socket EOF comes first, as the dying daemon's files are closed;
 *      the pidfd is the backstop): cgroup.kill every persona cgroup, wait
 *      until they are empty, remove every key (FS_IOC_REMOVE_ENCRYPTION_
 *      KEY_ALL_USERS, retried while files are busy, bounded), unmount
 *      every image (its autoclear loop device goes with the mount), exit.
 *
 * The guard holds no secret: it is forked before the daemon read one (the
 * spawner's rule, spawner.c), and what it is told is not secret either
 * (key identifiers are a hash of the key, fds give no key). It has no
 * PDEATHSIG (it must outlive the daemon), is not dumpable, ignores the
 * terminal's and the service manager's polite signals (it ends on its own
 * once the daemon is gone) and keeps three fds: stderr (the daemon's log),
 * its socket and the daemon's pidfd, plus the fds it is given.
 *
 * On a normal exit the daemon has removed the keys and unmounted, telling
 * the guard each step, so the guard finds nothing left and just exits; a
 * key the daemon could not remove (files busy) is still on the guard's
 * table and the guard keeps trying. Every step is idempotent.
 *
 * A dead guard is not forked again: a fork of the daemon after its first
 * secret would carry that secret. The daemon logs it and status says
 * "guard: dead" until twofoldd is restarted.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twofold/ipc.h"
#include "twofold/log.h"
#include "twofold/storage.h"
#include "daemon.h"

#define GUARD_MAGIC 0x74666764u /* "tfgd" */
/* bounded: a host process that holds a file open keeps a key
 * INCOMPLETELY_REMOVED for as long as it likes */
#define GUARD_KILL_WAIT_MS 2000
#define GUARD_EVICT_BUDGET_MS 5000
#define GUARD_EVICT_TRIES 400
#define GUARD_REPLY_MS 2000
#define GUARD_STOP_WAIT_MS 1000
/* a predecessor's guard: kill wait + key budget + a margin */
#define GUARD_OLD_WAIT_MS (GUARD_KILL_WAIT_MS + GUARD_EVICT_BUDGET_MS + 1000)

enum guard_op {
	G_STORAGE = 1,	 /* slot, path, fd, flags & G_MOUNTED */
	G_STORAGE_CLEAR, /* slot: close its fd (before the daemon unmounts) */
	G_KEY,		 /* slot = persona, storage, id */
	G_KEY_CLEAR,	 /* slot = persona */
	G_CGROUP,	 /* slot = persona, fd of its v2 cgroup */
	G_CGROUP_CLEAR,	 /* slot = persona */
	G_PING,		 /* tests: answered, nothing else */
	G_STATE,	 /* fd of the state dir, flock(LOCK_SH) held: the next
			  * twofoldd waits for it (tfd_guard_wait_old) */
};
#define G_MOUNTED 1u

struct guard_msg {
	uint32_t magic;
	uint16_t op;
	uint16_t slot;
	uint16_t storage;
	uint16_t flags;
	uint8_t id[TF_FSCRYPT_ID_BYTES];
	char path[PATH_MAX];
};

/* the guard's table; slot TFD_GUARD_SHARED is the shared storage */
static struct {
	int fd;
	bool mounted;
	char path[PATH_MAX];
} g_storage[TFD_GUARD_SLOTS];
static struct {
	bool set;
	uint16_t storage;
	uint8_t id[TF_FSCRYPT_ID_BYTES];
} g_key[TF_PERSONA_MAX];
static int g_cgroup[TF_PERSONA_MAX];
static int g_state = -1;

/* the daemon's side */
static int guard_sock = -1;
static int guard_pidfd = -1;
static pid_t guard_pid = -1;
static bool guard_lost;

static void close_slot(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- the guard ---- */

/* setproctitle(3)'s way, as the spawner does (spawner.c title_set): its
 * cmdline would otherwise be the daemon's argv. The environment strings
 * follow the argument strings and are used too (the guard needs none). */
static void guard_title(char **argv)
{
	static const char title[] = "twofold-guard";
	char *start, *end, *arg_end;

	if (argv == NULL || argv[0] == NULL)
		return;
	start = argv[0];
	end = start;
	for (char **a = argv; *a; a++)
		if (*a == end || a == argv)
			end = *a + strlen(*a) + 1;
	arg_end = end;
	for (char **e = environ; e && *e; e++)
		if (*e == end)
			end = *e + strlen(*e) + 1;
	if ((size_t)(end - start) < sizeof(title) + 1)
		return;
	clearenv();
	memset(start, 0, (size_t)(end - start));
	memcpy(start, title, sizeof(title));
	/* a non-NUL last argv byte makes the kernel show the area up to
	 * the first NUL (get_mm_proctitle): the title without padding */
	if (arg_end - start > (ptrdiff_t)sizeof(title))
		arg_end[-1] = ' ';
}

/* Close every fd from 3 on but a and b. */
static void keep_only(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		(void)close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		(void)close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	(void)close_range((unsigned)hi + 1, ~0U, 0);
}

static int cg_populated(int cgfd)
{
	char buf[256];
	ssize_t n;
	int fd = openat(cgfd, "cgroup.events", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0; /* removed: nothing lives there */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "populated 1") != NULL;
}

/* The daemon is gone: end what it left, in the order that lets each step
 * finish (processes hold files, files keep a key busy, a mounted key's
 * files keep the mount busy). */
static void guard_cleanup(uint64_t t_dead)
{
	unsigned keys = 0, left = 0, umounted = 0;
	uint64_t t_keys;

	for (size_t i = 0; i < TF_PERSONA_MAX; i++) {
		int fd;

		if (g_cgroup[i] < 0)
			continue;
		/* cgroup.kill (5.14): the whole subtree, frozen tasks too */
		fd = openat(g_cgroup[i], "cgroup.kill", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				tf_warn("cgroup.kill: %s", strerror(errno));
			close(fd);
		}
	}
	for (unsigned ms = 0; ms < GUARD_KILL_WAIT_MS; ms++) {
		bool busy = false;

		for (size_t i = 0; i < TF_PERSONA_MAX; i++)
			if (g_cgroup[i] >= 0 && cg_populated(g_cgroup[i]))
				busy = true;
		if (!busy)
			break;
		tf_sleep_ms(1);
	}
	for (size_t i = 0; i < TF_PERSONA_MAX; i++)
		close_slot(&g_cgroup[i]);
	tf_debug("persona cgroups empty after %.1f ms",
		 (double)(tf_now_ns() - t_dead) / 1e6);

	/* one removal of each key first (a busy one must not hold up the
	 * others), then the retries, within one budget */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < TF_PERSONA_MAX; i++) {
			struct tf_fscrypt_evict_info info = {0};
			uint64_t now = tf_now_ns(), end;
			unsigned budget = 0;
			int fd, r;

			if (!g_key[i].set)
				continue;
			fd = g_storage[g_key[i].storage].fd;
			if (fd < 0)
				continue;
			end = t_dead + GUARD_EVICT_BUDGET_MS * 1000000ull;
			if (round == 1)
				budget = now < end ? (unsigned)((end - now) /
								1000000ull)
						   : 0;
			if (round == 1 && budget == 0)
				continue;
			r = tf_fscrypt_evict_ex(fd, g_key[i].id,
						round ? GUARD_EVICT_TRIES : 1,
						budget, &info);
			tf_debug("key %zu: round %d, %u tries, status %d, %.1f "
				 "ms",
				 i, round, info.tries, (int)info.status,
				 (double)(tf_now_ns() - t_dead) / 1e6);
			if (info.status == TF_KEY_ABSENT) {
				keys++;
				g_key[i].set = false;
			} else if (round == 1) {
				left++;
				tf_err("a key is still in the kernel: %s",
				       strerror(r < 0 ? -r : EBUSY));
			}
		}
	}
	t_keys = tf_now_ns();

	for (size_t i = 0; i < TFD_GUARD_SLOTS; i++) {
		char self[64];

		if (g_storage[i].fd < 0)
			continue;
		/* exactly the mount our fd is on, never whatever is mounted at
		 * that path by now (a new twofoldd may have mounted there):
		 * /proc/self/fd/N resolves to our fd's own mount. Lazily, as
		 * our fd holds it; closing the fd lets it go (and the
		 * autoclear loop device with it). */
		snprintf(self, sizeof(self), "/proc/self/fd/%d",
			 g_storage[i].fd);
		if (g_storage[i].mounted && umount2(self, MNT_DETACH) == 0)
			umounted++;
		else if (g_storage[i].mounted)
			tf_warn("unmounting %s: %s", g_storage[i].path,
				strerror(errno));
		close_slot(&g_storage[i].fd);
	}
	if (keys || left || umounted)
		tf_warn("twofoldd died: removed %u key(s) in %.1f ms, %u "
			"still in the kernel (files busy), unmounted %u "
			"image(s) after %.1f ms",
			keys, (double)(t_keys - t_dead) / 1e6, left, umounted,
			(double)(tf_now_ns() - t_dead) / 1e6);
}

static int guard_apply(const struct guard_msg *m, size_t n, int fd)
{
	if (n != sizeof(*m) || m->magic != GUARD_MAGIC)
		return -EBADMSG;
	switch (m->op) {
	case G_STORAGE:
		if (m->slot >= TFD_GUARD_SLOTS || fd < 0 ||
		    memchr(m->path, '\0', sizeof(m->path)) == NULL)
			return -EINVAL;
		close_slot(&g_storage[m->slot].fd);
		g_storage[m->slot].fd = fd;
		g_storage[m->slot].mounted = m->flags & G_MOUNTED;
		memcpy(g_storage[m->slot].path, m->path, sizeof(m->path));
		return 0;
	case G_STORAGE_CLEAR:
		if (m->slot >= TFD_GUARD_SLOTS)
			return -EINVAL;
		close_slot(&g_storage[m->slot].fd);
		g_storage[m->slot].mounted = false;
		return 0;
	case G_KEY:
		if (m->slot >= TF_PERSONA_MAX || m->storage >= TFD_GUARD_SLOTS)
			return -EINVAL;
		g_key[m->slot].set = true;
		g_key[m->slot].storage = m->storage;
		memcpy(g_key[m->slot].id, m->id, sizeof(m->id));
		return 0;
	case G_KEY_CLEAR:
		if (m->slot >= TF_PERSONA_MAX)
			return -EINVAL;
		g_key[m->slot].set = false;
		return 0;
	case G_CGROUP:
		if (m->slot >= TF_PERSONA_MAX || fd < 0)
			return -EINVAL;
		close_slot(&g_cgroup[m->slot]);
		g_cgroup[m->slot] = fd;
		return 0;
	case G_CGROUP_CLEAR:
		if (m->slot >= TF_PERSONA_MAX)
			return -EINVAL;
		close_slot(&g_cgroup[m->slot]);
		return 0;
	case G_PING: return 0;
	case G_STATE:
		if (fd < 0)
			return -EINVAL;
		close_slot(&g_state);
		g_state = fd;
		return 0;
	default: return -EOPNOTSUPP;
	}
}

static TF_NORETURN void guard_main(int sock, pid_t parent, char **argv)
{
	static struct guard_msg m;
	struct pollfd pfd[2];
	int pidfd, s;

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_NAME, (unsigned long)"tf-guard", 0, 0, 0);
	/* it ends by itself once the daemon is gone; a SIGINT from the
	 * terminal or a SIGTERM to the group must not end it first */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	{
		sigset_t none;
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
	}
	tf_log_init("twofold-guard", TF_LOG_INFO);
	pidfd = pidfd_open(parent, 0);
	if (pidfd < 0 || getppid() != parent)
		_exit(0); /* the daemon died before it told us anything */
	s = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
	if (s < 0 || pidfd < 0)
		_exit(1);
	keep_only(s, pidfd);
	/* stderr stays: it is the daemon's log */
	{
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul < 0 || dup2(nul, 0) != 0 || dup2(nul, 1) != 1)
			_exit(1);
		if (nul > 2)
			close(nul);
	}
	guard_title(argv);
	for (size_t i = 0; i < TFD_GUARD_SLOTS; i++)
		g_storage[i].fd = -1;
	for (size_t i = 0; i < TF_PERSONA_MAX; i++)
		g_cgroup[i] = -1;

	pfd[0] = (struct pollfd){.fd = s, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = pidfd, .events = POLLIN};
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} cbuf;
		struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf.b,
				    .msg_controllen = sizeof(cbuf.b)};
		int fds[1] = {-1}, err;
		size_t nfds = 0;
		int32_t reply;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break; /* the daemon exited */
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break; /* EOF: the daemon's files are being closed */
		err = tf_cmsg_take_fds(&mh, fds, 1, &nfds);
		if (err == 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
			err = -EMSGSIZE;
		if (err == 0)
			err = guard_apply(&m, (size_t)n, nfds ? fds[0] : -1);
		/* an fd not taken into the table is closed */
		if (err < 0 && nfds)
			close(fds[0]);
		reply = err;
		if (send(s, &reply, sizeof(reply), MSG_NOSIGNAL) < 0)
			break;
	}
	guard_cleanup(tf_now_ns());
	close_slot(&g_state); /* the next twofoldd may go on */
	_exit(0);
}

/* ---- the daemon's side ---- */

int tfd_guard_start(char **argv)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	if (guard_sock >= 0 || guard_lost)
		return -EALREADY;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return tf_negerrno();
	/* single-threaded here (first thing in main), so fork is safe */
	pid = fork();
	if (pid < 0) {
		int r = tf_negerrno();
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		close(sv[0]);
		guard_main(sv[1], parent, argv);
	}
	close(sv[1]);
	guard_sock = sv[0];
	guard_pid = pid;
	/* our unreaped child: its pid cannot be reused under us */
	guard_pidfd = pidfd_open(pid, 0);
	if (guard_pidfd < 0) {
		int r = tf_negerrno();
		kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		close(guard_sock);
		guard_sock = -1;
		return r;
	}
	return 0;
}

int tfd_guard_pidfd(void)
{
	return guard_pidfd;
}

pid_t tfd_guard_pid(void)
{
	return guard_sock >= 0 ? guard_pid : -1;
}

bool tfd_guard_alive(void)
{
	return guard_sock >= 0;
}

/* The guard exited (its pidfd is readable, or it stopped answering):
 * reap it, say so loudly, and never fork another (see above). */
void tfd_guard_lost(const char *why)
{
	siginfo_t si;

	if (guard_lost)
		return;
	guard_lost = true;
	if (guard_sock >= 0)
		close(guard_sock);
	guard_sock = -1;
	if (guard_pidfd >= 0) {
		(void)pidfd_send_signal(guard_pidfd, SIGKILL, NULL, 0);
		memset(&si, 0, sizeof(si));
		(void)waitid(P_PIDFD, (id_t)guard_pidfd, &si, WEXITED);
	}
	tf_err("the key guard (pid %d) %s: if twofoldd dies now, the keys "
	       "stay in the kernel until it is restarted; restart twofoldd "
	       "to get a guard again",
	       (int)guard_pid, why);
}

void tfd_guard_exited(struct tfd *d)
{
	tfd_guard_lost("died");
	if (guard_pidfd >= 0) {
		epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, guard_pidfd, NULL);
		close(guard_pidfd);
		guard_pidfd = -1;
	}
}

static int guard_send(struct guard_msg *m, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct pollfd pfd;
	int32_t reply;
	ssize_t n;

	if (guard_sock < 0)
		return -ENOTCONN;
	m->magic = GUARD_MAGIC;
	if (fd >= 0)
		tf_cmsg_put_fds(&mh, cbuf.b, &fd, 1);
	do
		n = sendmsg(guard_sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*m)) {
		tfd_guard_lost("stopped taking messages");
		return -EPIPE;
	}
	/* answered at once (a table update); waiting makes the guard's table
	 * current when this returns, e.g. its fd closed before an unmount */
	pfd = (struct pollfd){.fd = guard_sock, .events = POLLIN};
	while ((n = poll(&pfd, 1, GUARD_REPLY_MS)) < 0 && errno == EINTR)
		;
	if (n <= 0 || recv(guard_sock, &reply, sizeof(reply), 0) !=
			      (ssize_t)sizeof(reply)) {
		tfd_guard_lost("stopped answering");
		return -EPIPE;
	}
	return reply;
}

static void guard_call(struct guard_msg *m, int fd, const char *what)
{
	int r;

	if (guard_sock < 0)
		return; /* lost: said once, loudly */
	r = guard_send(m, fd);
	if (r < 0 && r != -EPIPE)
		tf_warn("telling the key guard about %s: %s", what,
			strerror(-r));
}

void tfd_guard_storage(size_t slot, int fd, const char *mountpoint,
		       bool mounted)
{
	struct guard_msg m = {.op = G_STORAGE,
			      .slot = (uint16_t)slot,
			      .flags = mounted ? G_MOUNTED : 0};

	if (tf_strlcpy(m.path, mountpoint, sizeof(m.path)) < 0)
		return;
	guard_call(&m, fd, "a storage");
}

void tfd_guard_storage_clear(size_t slot)
{
	struct guard_msg m = {.op = G_STORAGE_CLEAR, .slot = (uint16_t)slot};

	guard_call(&m, -1, "a storage");
}

void tfd_guard_key(size_t persona, size_t slot,
		   const uint8_t id[static TF_FSCRYPT_ID_BYTES])
{
	struct guard_msg m = {.op = G_KEY,
			      .slot = (uint16_t)persona,
			      .storage = (uint16_t)slot};

	memcpy(m.id, id, sizeof(m.id));
	guard_call(&m, -1, "a key");
}

void tfd_guard_key_clear(size_t persona)
{
	struct guard_msg m = {.op = G_KEY_CLEAR, .slot = (uint16_t)persona};

	guard_call(&m, -1, "a key");
}

void tfd_guard_cgroup(size_t persona, int cgfd)
{
	struct guard_msg m = {.op = G_CGROUP, .slot = (uint16_t)persona};

	if (cgfd >= 0)
		guard_call(&m, cgfd, "a persona cgroup");
}

void tfd_guard_cgroup_clear(size_t persona)
{
	struct guard_msg m = {.op = G_CGROUP_CLEAR, .slot = (uint16_t)persona};

	guard_call(&m, -1, "a persona cgroup");
}

/* Normal exit: every key and mount was handed back already; closing the
 * socket ends the guard, which finds its table empty (or retries what the
 * daemon could not remove). Wait a moment so it is gone with us. */
void tfd_guard_stop(void)
{
	siginfo_t si;
	struct pollfd pfd;

	if (guard_sock >= 0)
		close(guard_sock);
	guard_sock = -1;
	if (guard_pidfd < 0)
		return;
	pfd = (struct pollfd){.fd = guard_pidfd, .events = POLLIN};
	if (poll(&pfd, 1, GUARD_STOP_WAIT_MS) == 1) {
		memset(&si, 0, sizeof(si));
		(void)waitid(P_PIDFD, (id_t)guard_pidfd, &si, WEXITED);
	}
	close(guard_pidfd);
	guard_pidfd = -1;
}

/*
 * A guard of a dead predecessor may still be at work on this state dir
 * (retrying a busy key, with an fd on the old mount). Starting over it
 * would mount the image a second time while the old superblock lives:
 * wait (bounded) for its shared lock on the state dir to go, then hand our
 * own guard such a lock. The lock is on a description of our own, so the
 * daemon's state_fd is not entangled with it.
 */
void tfd_guard_wait_old(const char *state_dir)
{
	_cleanup_close_ int fd =
		open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct guard_msg m = {.op = G_STATE};
	bool said = false;

	if (fd < 0)
		return;
	for (unsigned ms = 0; ms < GUARD_OLD_WAIT_MS; ms += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (!said)
			tf_info("waiting for the key guard of a previous "
				"twofoldd to finish");
		said = true;
		tf_sleep_ms(10);
	}
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		tf_warn("the key guard of a previous twofoldd is still at work "
			"on %s",
			state_dir);
	guard_call(&m, fd, "the state directory");
}
