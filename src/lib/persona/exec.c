/* SPDX-License-Identifier: ISC */
/*
 * Launch an app into a running persona (DESIGN.md: enter, never build a
 * sandbox per launch), through the persona's launcher (launcher.c):
 *
 *   daemon:   one message (argv, env, cwd, ids; stdio fds and the write
 *             end of an exec-error pipe by SCM_RIGHTS)
 *   launcher: clone(CLONE_PARENT) -> app; reply with the app's host pid
 *   app:      (pid N in the persona, child of the daemon) setsid, fds,
 *             setgroups/setresgid/setresuid, chdir, execve; capabilities,
 *             nnp, Landlock and seccomp it inherits from the launcher
 *   daemon:   pidfd_open(app); read the pipe: EOF without an error means
 *             execve succeeded (the pipe is O_CLOEXEC in the app)
 *
 * The daemon reads the exec result itself (it holds the pipe's read end)
 * instead of having the launcher relay it: the launcher is free again as
 * soon as the app is cloned, and the daemon learns the app's pid before
 * anything else can go wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>

/* Linux 6.3; Debian 12's headers are 6.1 */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN (1UL << 0)
#endif
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* How long exec waits to reap a launcher that died under it. */
#define REAP_TIMEOUT_MS 1000

static TF_NORETURN void report_at(int fd, int err, enum tf_exec_stage st)
{
	struct tf_p_exec_msg m = {.err = err, .stage = (int32_t)st};

	if (tf_write_full(fd, &m, sizeof(m)) < 0) {
		/* nothing left to tell it with */
	}
	_exit(127);
}

static TF_NORETURN void report(int fd, int err)
{
	report_at(fd, err, TF_EXEC_STAGE_SETUP);
}

/*
 * What is the same for every app is done once, by the launcher to itself
 * (after it entered the persona), and every app inherits it through
 * clone(); per launch only the uid change, a Landlock domain and exec
 * remain:
 *  - capabilities: ambient set cleared, bounding set emptied, securebits
 *    locked (tf_caps_lock); of its sets in the persona's user ns only
 *    CAP_SETUID and CAP_SETGID stay (tf_caps_keep_setid): what an app
 *    needs to become its user;
 *  - no_new_privs;
 *  - Landlock, with the ruleset built here from the profile's read and
 *    writable paths, in the persona's mount ns. The
 *    launcher restricts itself with it, and each app restricts itself
 *    again with the same ruleset (one syscall): a domain of its own,
 *    nested in the launcher's. Landlock lets a process ptrace (and open
 *    /proc/PID/mem of) only processes in its own or a nested domain, so
 *    sibling domains keep one app out of another's memory even at the same
 *    uid; one shared domain would not;
 *  - the app seccomp filter of the profile's policy (docs/seccomp.md);
 *    each app adds the small second layer on top before exec.
 * The launcher loses nothing it needs: after setns it only receives
 * messages, clones, closes fds and replies. A compromised launcher is
 * confined by the same filter and Landlock rules, and is the persona's
 * root, not host root (launcher.c; docs/threat-model.md). Done per app,
 * this was ~170 syscalls and a BPF load on every launch.
 */
static struct tf_seccomp_prog app_filter;
/* the policy app_filter was compiled for */
static struct tf_seccomp_policy app_filter_pol;
/* the second layer each app loads before exec (clone(CLONE_PARENT) and
 * clone3, which the launcher needs, taken away); kept: apps run in our
 * memory (CLONE_VM) until they exec */
static struct tf_seccomp_prog app_layer;
/* the ruleset, kept (O_CLOEXEC: apps lose it at exec); -1 without
 * Landlock */
static int app_ruleset = -1;

/* field by field: the struct has padding */
static bool pol_same(const struct tf_seccomp_policy *a,
		     const struct tf_seccomp_policy *b)
{
	return a->allowlist == b->allowlist && a->no_execmem == b->no_execmem &&
	       a->n_families == b->n_families &&
	       a->n_pair_families == b->n_pair_families &&
	       a->netlink_proto == b->netlink_proto &&
	       a->n_families <= TF_SC_FAMILIES_MAX &&
	       a->n_pair_families <= TF_SC_FAMILIES_MAX &&
	       !memcmp(a->families, b->families,
		       a->n_families * sizeof(a->families[0])) &&
	       !memcmp(a->pair_families, b->pair_families,
		       a->n_pair_families * sizeof(a->pair_families[0]));
}

int tf_p_launcher_prepare(const struct tf_seccomp_policy *pol)
{
	int r = 0;

	/* libseccomp's build and compile: normally done once by the spawner,
	 * whose forks the launchers are (spawner.c), for the default
	 * profile's policy; else (or for another policy) here, while the
	 * persona is still being built, before the launcher may enter it */
	if (app_filter.insns && !pol_same(&app_filter_pol, pol))
		tf_seccomp_prog_free(&app_filter);
	if (!app_filter.insns) {
		r = tf_seccomp_default_prog(pol, &app_filter);
		if (r == 0)
			app_filter_pol = *pol;
	}
	if (r == 0 && !app_layer.insns)
		r = tf_seccomp_app_layer_prog(&app_layer);
	return r;
}

int tf_p_launcher_harden(const struct tf_profile *prof)
{
	const char *rd[TF_PROF_READ_MAX], *wr[TF_PROF_WRITABLE_MAX];
	size_t nr = tf_profile_paths(prof->read, prof->n_read, rd,
				     TF_ARRAY_SIZE(rd));
	size_t nw = tf_profile_paths(prof->writable, prof->n_writable, wr,
				     TF_ARRAY_SIZE(wr));
	int abi, r;

	if (app_filter.insns == NULL || app_layer.insns == NULL)
		return -EINVAL; /* tf_p_launcher_prepare() first */
	if (!prof->sc.app_layer)
		tf_seccomp_prog_free(&app_layer);
	r = tf_landlock_prepare(rd, nr, wr, nw, &app_ruleset, &abi);
	if (r == 0)
		r = tf_caps_lock();
	if (r == 0)
		r = tf_caps_keep_setid();
	if (r == 0)
		r = tf_nnp_set();
	if (r == 0)
		r = tf_landlock_restrict(app_ruleset); /* -1: unavailable */
	/* W^X in the kernel too (Linux 6.3, inherited across fork and
	 * exec): seccomp sees mmap and mprotect, but not the mappings
	 * execve itself makes, so a (signed) program with a writable and
	 * executable segment could otherwise run whatever it writes there.
	 * An older kernel (EINVAL) keeps the seccomp layer alone. */
	if (r == 0 && prof->sc.no_execmem &&
	    prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0L, 0L, 0L) < 0 &&
	    errno != EINVAL)
		r = tf_negerrno();
	/* last: it may deny the above */
	if (r == 0)
		r = tf_seccomp_load_prog(&app_filter);
	tf_seccomp_prog_free(&app_filter);
	return r;
}

/* execvpe() searches the *caller's* PATH (environ); an app must be found
 * in the PATH of the environment the daemon built for it. */
static int exec_search(const char *file, char *const argv[], char *const envp[])
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	char buf[PATH_MAX];
	bool eacces = false;
	size_t flen = strlen(file);

	if (flen == 0)
		return -ENOENT;
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return tf_negerrno();
	}
	for (char *const *e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0) {
			path = *e + 5;
			break;
		}
	for (const char *s = path;; s++) {
		const char *end = strchrnul(s, ':');
		size_t dlen = (size_t)(end - s);

		if (dlen == 0) {
			buf[0] = '.';
			dlen = 1;
		} else if (dlen < sizeof(buf)) {
			memcpy(buf, s, dlen);
		}
		if (dlen + 1 + flen + 1 <= sizeof(buf)) {
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, argv, envp);
			switch (errno) {
			case EACCES: eacces = true; break;
			case ENOENT:
			case ENOTDIR:
			case ESTALE:
			case ENODEV:
			case ETIMEDOUT:
			case ELOOP:
			case ENAMETOOLONG: break;
			default: return tf_negerrno();
			}
		}
		s = end;
		if (*s == '\0')
			break;
	}
	return eacces ? -EACCES : -ENOENT;
}

void tf_p_app_main(const struct tf_exec_spec *x, int msg_fd)
{
	int t[3];
	int r;

	if (setsid() < 0)
		report(msg_fd, tf_negerrno());
	/* dup first, then onto 0..2: a given fd may itself be 0, 1 or 2 */
	for (int i = 0; i < 3; i++) {
		t[i] = x->fds[i] >= 0 ? fcntl(x->fds[i], F_DUPFD_CLOEXEC, 3)
				      : open("/dev/null", O_RDWR | O_CLOEXEC);
		if (t[i] < 0)
			report(msg_fd, tf_negerrno());
	}
	for (int i = 0; i < 3; i++)
		if (dup2(t[i], i) < 0)
			report(msg_fd, tf_negerrno());
	/* our session's controlling terminal: a pty of the persona's own
	 * devpts (run.c), so job control works inside and nothing reaches a
	 * host terminal */
	if ((x->flags & TF_EXEC_CTTY) && ioctl(x->ctty, TIOCSCTTY, 0) < 0)
		report(msg_fd, tf_negerrno());
	/* Every other fd is closed by execve: CLOSE_RANGE_CLOEXEC instead of
	 * closing now keeps msg_fd usable to report an exec failure. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		report(msg_fd, tf_negerrno());

	/* capabilities, nnp, Landlock and seccomp come from the launcher
	 * (tf_p_launcher_harden); check the two a mistake there would leave
	 * silently missing, then a Landlock domain of our own and the uid
	 * change */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 ||
	    prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2)
		report(msg_fd, -EPERM);
	if (x->ll_write && x->ll_write[0] && app_ruleset >= 0) {
		/* an installed app: a domain of its own paths, nested in
		 * the launcher's like every app's (its writes narrowed to
		 * them); opened before the uid change, O_PATH needs only
		 * search rights on the way */
		static const char *const root[] = {"/"};
		size_t n = 0;
		while (x->ll_write[n])
			n++;
		r = tf_landlock_apply_app(root, 1, x->ll_write, n);
	} else {
		r = tf_landlock_restrict(app_ruleset);
	}
	if (r < 0)
		report(msg_fd, r);
	r = tf_privs_drop_locked(x->uid, x->gid);
	if (r < 0)
		report(msg_fd, r);
	/* after the drop: the app may only start where it could go itself;
	 * /home/app belongs to the app user (0700), others start in / */
	if (chdir(x->cwd			 ? x->cwd
		  : x->uid == TF_APP_UID_DEFAULT ? "/home/app"
						 : "/") < 0)
		report_at(msg_fd, tf_negerrno(), TF_EXEC_STAGE_CWD);
	/* last: the second seccomp layer (precompiled: one syscall), unless
	 * the profile has none */
	r = app_layer.insns ? tf_seccomp_load_prog(&app_layer) : 0;
	if (r < 0)
		report(msg_fd, r);
	r = exec_search(x->argv[0], x->argv, x->envp);
	report_at(msg_fd, r, TF_EXEC_STAGE_EXEC);
}

static void reap_pid(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* argv, envp and cwd as NUL-terminated strings in one buffer; bounded
 * like the launcher checks it. */
static int serialize(const struct tf_exec_spec *x, struct tf_p_launch_hdr *h,
		     char **out)
{
	size_t len = 0, argc = 0, envc = 0, llc = 0;
	char *buf, *w;

	for (char *const *a = x->argv; *a; a++, argc++)
		len += strlen(*a) + 1;
	for (char *const *e = x->envp; *e; e++, envc++)
		len += strlen(*e) + 1;
	if (x->cwd)
		len += strlen(x->cwd) + 1;
	for (const char *const *l = x->ll_write; l && *l; l++, llc++)
		len += strlen(*l) + 1;
	if (llc > TF_EXEC_LL_MAX)
		return -E2BIG;
	if (len > TF_P_LAUNCH_MAX || argc + envc > TF_P_LAUNCH_STRS_MAX)
		return -E2BIG;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	w = buf;
	for (char *const *a = x->argv; *a; a++)
		w = stpcpy(w, *a) + 1;
	for (char *const *e = x->envp; *e; e++)
		w = stpcpy(w, *e) + 1;
	if (x->cwd)
		w = stpcpy(w, x->cwd) + 1;
	for (const char *const *l = x->ll_write; l && *l; l++)
		w = stpcpy(w, *l) + 1;
	*h = (struct tf_p_launch_hdr){.magic = TF_P_LAUNCH_MAGIC,
				      .len = (uint32_t)len,
				      .argc = (uint32_t)argc,
				      .envc = (uint32_t)envc,
				      .uid = x->uid,
				      .gid = x->gid,
				      .flags = x->cwd ? TF_P_L_CWD : 0,
				      .llc = (uint32_t)llc};
	*out = buf;
	return 0;
}

static int send_all(int sock, struct msghdr *mh)
{
	ssize_t n;

	do
		n = sendmsg(sock, mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	/* SOCK_SEQPACKET: a message goes whole or not at all */
	return n < 0 ? tf_negerrno() : 0;
}

/* The launch request: header + first chunk + fds, then the rest. */
static int send_launch(int sock, const struct tf_p_launch_hdr *h,
		       const char *buf, const int *fds, size_t nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 5)];
		struct cmsghdr align;
	} cbuf;
	size_t first = h->len < TF_P_LAUNCH_CHUNK ? h->len : TF_P_LAUNCH_CHUNK;
	struct iovec iov[2] = {{.iov_base = (void *)h, .iov_len = sizeof(*h)},
			       {.iov_base = (void *)buf, .iov_len = first}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	int r;

	tf_cmsg_put_fds(&mh, cbuf.b, fds, nfds);
	r = send_all(sock, &mh);
	for (size_t off = first; r == 0 && off < h->len;) {
		size_t n = h->len - off;

		if (n > TF_P_LAUNCH_CHUNK)
			n = TF_P_LAUNCH_CHUNK;
		iov[0] = (struct iovec){.iov_base = (void *)(buf + off),
					.iov_len = n};
		mh = (struct msghdr){.msg_iov = iov, .msg_iovlen = 1};
		r = send_all(sock, &mh);
		off += n;
	}
	return r;
}

static int recv_reply(int sock, struct tf_p_launch_reply *rep)
{
	ssize_t n;

	do
		n = recv(sock, rep, sizeof(*rep), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return tf_negerrno();
	if (n == 0)
		return -ECONNRESET; /* the launcher died */
	return n == (ssize_t)sizeof(*rep) ? 0 : -EPROTO;
}

/* A dead launcher is reaped and replaced: one fork, the slow v1 cgroup
 * attach and a setns, as at start. */
static int respawn(struct tf_persona *p)
{
	int r;

	tf_p_launcher_stop(p, REAP_TIMEOUT_MS);
	r = tf_p_launcher_spawn(p, p->pidfd);
	if (r < 0)
		return r;
	return tf_p_launcher_go(p);
}

static bool launcher_gone(int err)
{
	return err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN ||
	       err == -ECONNREFUSED;
}

int tf_persona_exec(struct tf_persona *p, const struct tf_exec_spec *x,
		    pid_t *pid_out, int *pidfd_out)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int err_r = -1, err_w = -1;
	struct tf_p_launch_hdr h;
	struct tf_p_launch_reply rep;
	struct tf_p_exec_msg m;
	int fds[5], pfd[2], err = 0, pidfd, r;
	size_t nfds = 0;
	ssize_t n;
	pid_t app;

	if (!p || !x || !x->argv || !x->argv[0] || !x->envp || !pid_out ||
	    !pidfd_out)
		return -EINVAL;
	r = serialize(x, &h, &buf);
	if (r < 0)
		return r;
	for (int i = 0; i < 3; i++)
		if (x->fds[i] >= 0) {
			h.flags |= TF_P_L_FD(i);
			fds[nfds++] = x->fds[i];
		}
	if (x->flags & TF_EXEC_CTTY) {
		if (x->ctty < 0 || x->ctty > 2 || x->fds[x->ctty] < 0)
			return -EINVAL;
		h.flags |= TF_P_L_CTTY(x->ctty);
	}
	if (x->flags & TF_EXEC_CGROUP) {
		h.flags |= TF_P_L_CG;
		fds[nfds++] = x->cgroup_fd;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return tf_negerrno();
	err_r = pfd[0];
	err_w = pfd[1];
	fds[nfds++] = err_w;

	if (!tf_p_launcher_alive(p) && (r = respawn(p)) < 0)
		return r;
	r = send_launch(p->launcher_sock, &h, buf, fds, nfds);
	if (launcher_gone(r)) {
		/* it died while idle (nothing was cloned: it clones only
		 * after the whole request): replace it, once */
		r = respawn(p);
		if (r == 0)
			r = send_launch(p->launcher_sock, &h, buf, fds, nfds);
	}
	if (r < 0)
		return r;
	close(steal_fd(&err_w));
	r = recv_reply(p->launcher_sock, &rep);
	if (r < 0) {
		/* It died during the launch: an app it may have cloned is
		 * lost to us (the next exec respawns the launcher; stop's
		 * cgroup.kill ends such an app). */
		tf_p_launcher_stop(p, REAP_TIMEOUT_MS);
		return r;
	}
	if (rep.err < 0)
		return rep.err;
	if (rep.pid <= 0)
		return -EPROTO;
	app = rep.pid;

	n = tf_read_full(err_r, &m, sizeof(m));
	if (n == (ssize_t)sizeof(m)) {
		err = m.err < 0 ? m.err : -EIO;
		if (x->stage_out)
			*x->stage_out = (enum tf_exec_stage)m.stage;
	} else if (n != 0)
		err = n < 0 ? (int)n : -EIO;
	if (err) {
		reap_pid(app);
		return err;
	}
	/* race-free: the app is our child and nobody reaped it yet. Opened
	 * here, not by the app and passed up: a file keeps its opener's
	 * credentials, an app's hold its Landlock domain, and that pins the
	 * persona's data directories (an evict would find them busy while
	 * we keep the pidfd). */
	pidfd = pidfd_open(app, 0);
	if (pidfd < 0) {
		r = tf_negerrno();
		(void)kill(app, SIGKILL);
		reap_pid(app);
		return r;
	}
	r = tf_p_track_app(p, pidfd);
	if (r < 0) {
		(void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		reap_pid(app);
		close(pidfd);
		return r;
	}
	*pid_out = app;
	*pidfd_out = pidfd;
	return 0;
}
