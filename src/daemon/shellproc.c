/* SPDX-License-Identifier: ISC */
/*
 * twofoldd starts and supervises twofold-shell (device.conf display =
 * shell, shell_start = yes; docs/shell.md "Starting the shell"). The
 * daemon rather than a systemd unit: the shell's options are the
 * device's configuration (each persona's socket and host uid range, which
 * personas carry a credential, the control socket), which only the
 * daemon has validated, and a shell outliving a daemon restart would
 * hold the sockets the new daemon's shell needs.
 *
 * The child is made as posix_spawn makes one (clone CLONE_VM |
 * CLONE_VFORK): it shares the daemon's memory, suspended, until execve,
 * so no copy of the daemon's keys ever exists in another process; in it,
 * only async-signal-safe calls: groups, gid, uid (shell_uid), no new
 * privileges, the parent-death signal, stdin /dev/null, execve. stdout
 * and stderr are the daemon's (its journal). The environment is fixed
 * but for a short list of wlroots' and libseat's own variables, the
 * operator's choice of backend and renderer.
 *
 * It is watched by its pidfd. When it exits it is started again after a
 * backoff (1 s, doubled per quick exit up to 30 s; back to 1 s once it
 * ran 30 s), on the 1 s tick. At daemon stop: SIGTERM, 2 s, SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tf_config.h"
#include "twofold/log.h"
#include "daemon.h"

#define BACKOFF_MAX_S 30u
#define HEALTHY_S 30u
#define ARGS_MAX (8 + 6 * TF_PERSONA_MAX)

static const char *const pass_env[] = {
	"WLR_BACKENDS",		"WLR_RENDERER",
	"WLR_HEADLESS_OUTPUTS", "WLR_LIBINPUT_NO_DEVICES",
	"WLR_DRM_DEVICES",	"LIBSEAT_BACKEND",
	"XKB_DEFAULT_LAYOUT",
};

static struct {
	int pidfd;
	pid_t pid;
	struct tfd_source src;
	uint64_t started_ns, due_ns;
	unsigned backoff_s;
	unsigned starts;
} sh = {.pidfd = -1};

/* what the child needs, all made before the clone */
struct spawn {
	const char *path;
	char *argv[ARGS_MAX + 1];
	char *envp[TF_ARRAY_SIZE(pass_env) + 3];
	uid_t uid;
	gid_t gid;
	gid_t groups[2];
	size_t n_groups;
};

static int child(void *arg)
{
	const struct spawn *sp = arg;
	sigset_t none;
	int fd;

	/* the loop blocks every signal for its signalfd */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(126);
	signal(SIGPIPE, SIG_DFL); /* its own table: no CLONE_SIGHAND */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0)
		_exit(126);
	if (setgroups(sp->n_groups, sp->groups) < 0 ||
	    setresgid(sp->gid, sp->gid, sp->gid) < 0 ||
	    setresuid(sp->uid, sp->uid, sp->uid) < 0)
		_exit(126);
	/* after the uid change, which clears it: a daemon that dies takes
	 * its shell along (the next daemon starts its own) */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(126);
	execve(sp->path, sp->argv, sp->envp);
	_exit(127);
}

/* twofold-shell: in the build tree's src/shell, else TF_SBINDIR */
static int shell_path(char *out, size_t cap)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(out, cap, "%s/../shell/twofold-shell", self) <
		    cap &&
	    access(out, X_OK) == 0)
		return 0;
	if ((size_t)snprintf(out, cap, "%s", TF_SBINDIR "/twofold-shell") >=
	    cap)
		return -ENAMETOOLONG;
	return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

static void exited(struct tfd *d, struct tfd_source *s, uint32_t events);

/* argv strings: one buffer, cut into NUL-terminated pieces */
struct strs {
	char buf[ARGS_MAX * 160];
	size_t used;
};

static char *put(struct strs *st, const char *fmt, ...) TF_PRINTF(2, 3);
static char *put(struct strs *st, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p = st->buf + st->used;

	va_start(ap, fmt);
	n = vsnprintf(p, sizeof(st->buf) - st->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(st->buf) - st->used)
		return NULL;
	st->used += (size_t)n + 1;
	return p;
}

static int start(struct tfd *d)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	static struct strs st;
	struct spawn sp = {.uid = d->cfg.shell_uid};
	char path[PATH_MAX], dir[PATH_MAX];
	size_t a = 0, e = 0;
	int pidfd = -1, r;
	pid_t pid;

	r = shell_path(path, sizeof(path));
	if (r < 0) {
		tf_err("shell_start: twofold-shell not found (%s): %s; "
		       "install it or set shell_start = no",
		       TF_SBINDIR "/twofold-shell", strerror(-r));
		return r;
	}
	r = tfd_display_dir(d, dir, sizeof(dir));
	if (r < 0)
		return r;
	st.used = 0;
	sp.path = path;
	sp.gid = tfd_display_shell_gid(d);
	sp.groups[sp.n_groups++] = sp.gid;
	if (d->has_group && d->control_gid != sp.gid)
		sp.groups[sp.n_groups++] = d->control_gid;
	sp.argv[a++] = "twofold-shell";
	sp.argv[a++] = "--daemon";
	sp.argv[a++] = d->sock_path;
	for (size_t i = 0; i < d->cfg.n_personas; i++) {
		const struct tf_persona_cfg *pc = &d->cfg.personas[i];

		sp.argv[a++] = "--persona";
		sp.argv[a++] =
			put(&st, "%s=%s/%s/wayland-0", pc->name, dir, pc->name);
		sp.argv[a++] = "--persona-uids";
		sp.argv[a++] =
			put(&st, "%s=%u-%u", pc->name, (unsigned)pc->uid_base,
			    (unsigned)(pc->uid_base + pc->uid_count - 1));
		if (pc->credential) {
			/* framed and badged: the personas with a credential */
			sp.argv[a++] = "--secure";
			sp.argv[a++] = (char *)pc->name;
		}
	}
	sp.argv[a++] = "--host-socket";
	sp.argv[a++] = put(&st, "%s/host/wayland-host", dir);
	sp.argv[a++] = "--control";
	sp.argv[a++] = put(&st, "%s/host/control", dir);
	sp.argv[a] = NULL;
	for (size_t i = 0; i < a; i++)
		if (sp.argv[i] == NULL)
			return -ENAMETOOLONG;
	sp.envp[e++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	sp.envp[e++] = "HOME=/";
	for (size_t i = 0; i < TF_ARRAY_SIZE(pass_env); i++) {
		const char *v = getenv(pass_env[i]);
		char *kv;

		if (!v)
			continue;
		kv = put(&st, "%s=%s", pass_env[i], v);
		if (kv)
			sp.envp[e++] = kv;
	}
	sp.envp[e] = NULL;

	pid = clone(child, stack + sizeof(stack),
		    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &sp,
		    &pidfd);
	if (pid < 0) {
		r = tf_negerrno();
		tf_err("shell_start: cannot start twofold-shell: %s",
		       strerror(-r));
		return r;
	}
	sh.pid = pid;
	sh.pidfd = pidfd;
	sh.started_ns = tf_boottime_ns();
	sh.starts++;
	r = tfd_source_add(d, &sh.src, pidfd, EPOLLIN, exited, NULL);
	if (r < 0)
		tf_warn("shell_start: cannot watch twofold-shell %d: %s; it "
			"will not be restarted",
			(int)pid, strerror(-r));
	tf_info("twofold-shell started (pid %d, uid %u)", (int)pid,
		(unsigned)sp.uid);
	return 0;
}

static void reap(int *status_out, int *code_out)
{
	siginfo_t si = {0};

	(void)waitid(P_PIDFD, (id_t)sh.pidfd, &si, WEXITED);
	*status_out = si.si_code;
	*code_out = si.si_status;
	close(sh.pidfd);
	sh.pidfd = -1;
	sh.pid = 0;
}

static void exited(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	uint64_t now = tf_boottime_ns();
	int how, code;

	(void)events;
	tfd_source_del(d, s);
	reap(&how, &code);
	if (now - sh.started_ns >= HEALTHY_S * 1000000000ull)
		sh.backoff_s = 1;
	else
		sh.backoff_s = sh.backoff_s ? sh.backoff_s * 2 : 1;
	if (sh.backoff_s > BACKOFF_MAX_S)
		sh.backoff_s = BACKOFF_MAX_S;
	sh.due_ns = now + (uint64_t)sh.backoff_s * 1000000000ull;
	if (d->state == TFD_STOPPING)
		return;
	if (how == CLD_EXITED)
		tf_warn("twofold-shell exited with status %d; restarting it "
			"in %u s",
			code, sh.backoff_s);
	else
		tf_warn("twofold-shell killed by signal %d; restarting it in "
			"%u s",
			code, sh.backoff_s);
}

bool tfd_shellproc_on(const struct tfd *d)
{
	return tfd_display_on(d) && d->cfg.shell_start && d->cfg.shell_uid;
}

void tfd_shellproc_setup(struct tfd *d)
{
	if (!tfd_shellproc_on(d))
		return;
	if (start(d) < 0) {
		sh.backoff_s = BACKOFF_MAX_S;
		sh.due_ns = tf_boottime_ns() + BACKOFF_MAX_S * 1000000000ull;
	}
}

void tfd_shellproc_tick(struct tfd *d)
{
	if (!tfd_shellproc_on(d) || sh.pidfd >= 0 || d->state != TFD_READY)
		return;
	if (tf_boottime_ns() < sh.due_ns)
		return;
	if (start(d) < 0) {
		sh.backoff_s = BACKOFF_MAX_S;
		sh.due_ns = tf_boottime_ns() + BACKOFF_MAX_S * 1000000000ull;
	}
}

pid_t tfd_shellproc_pid(void)
{
	return sh.pid;
}

void tfd_shellproc_shutdown(struct tfd *d)
{
	struct pollfd pfd;
	int how, code;

	if (sh.pidfd < 0)
		return;
	tfd_source_del(d, &sh.src);
	(void)syscall(SYS_pidfd_send_signal, sh.pidfd, SIGTERM, NULL, 0);
	pfd = (struct pollfd){.fd = sh.pidfd, .events = POLLIN};
	if (poll(&pfd, 1, 2000) <= 0)
		(void)syscall(SYS_pidfd_send_signal, sh.pidfd, SIGKILL, NULL,
			      0);
	reap(&how, &code);
	tf_info("twofold-shell stopped");
}
