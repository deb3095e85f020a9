/* SPDX-License-Identifier: ISC */
/*
 * `twofold run PERSONA -- CMD`: start CMD inside the running persona with
 * the caller's stdio (passed as SCM_RIGHTS), then report its exit status on
 * the same connection. The app's environment is built here from scratch:
 * the persona profile's (profile.h), then what the request lists (the CLI
 * sends TERM, LANG and each --env), each checked by the profile's merge
 * rule (tf_profile_env_allowed); nothing of the daemon's or the caller's
 * environment leaks in.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "apps.h"
#include "daemon.h"

#define ENV_MAX 4096

static bool env_entry_ok(const char *e)
{
	const char *eq = strchr(e, '=');

	if (eq == NULL || eq == e)
		return false;
	for (const char *p = e; p < eq; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* Replace an entry with the same key, or append. */
static void env_set(const char **env, size_t *n, const char *entry)
{
	size_t klen = (size_t)(strchr(entry, '=') - entry);

	for (size_t i = 0; i < *n; i++)
		if (strncmp(env[i], entry, klen + 1) == 0) {
			env[i] = entry;
			return;
		}
	env[(*n)++] = entry;
}

/* A terminal (of the host: the CLI's) answers TCGETS. */
static bool is_terminal(int fd)
{
	struct termios t;

	return ioctl(fd, TCGETS, &t) == 0;
}

/* What may be an app's stdio: a regular file, a pipe, a socket, a
 * character device (/dev/null); not a directory (a handle on a host tree:
 * listing, stat of `..`), not a block device, not an O_PATH handle. */
static bool stdio_kind_ok(int fd)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (fl & O_PATH) || fstat(fd, &st) < 0)
		return false;
	return S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) ||
	       S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode);
}

static void close_fdp(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

enum tfd_disp tfd_req_run(struct tfd *d, struct tfd_conn *c,
			  const struct tf_msg *m, struct tfd_persona *p,
			  struct tfd_reply *rep)
{
	_cleanup_close_ int master = -1, slave = -1, cgfd = -1;
	char cg[TF_PERSONA_CG_NAME_MAX] = "";
	uint32_t flags = 0;
	size_t npty = 0;
	size_t nargs = tf_msg_count(m, TF_A_ARG), nenv = 0, ai = 0, total = 0;
	_cleanup_free_ const char **argv = NULL;
	const char *env[ENV_MAX + TF_PROF_ENV_MAX + 1];
	/* built once at persona start, not per launch */
	const struct tf_profile *prof = tf_persona_profile(p->rt);
	struct tf_exec_spec x;
	uint32_t uid = TF_APP_UID_DEFAULT;
	enum tf_exec_stage stage = TF_EXEC_STAGE_EXEC;
	static struct tfd_app_run app;
	bool is_app;
	pid_t pid;
	int pidfd, r;

	if (c->app.pidfd >= 0) {
		tfd_reply_fail(rep, -EBUSY, TF_R_DAEMON_BUSY, NULL,
			       "this connection already runs an app");
		return TFD_REPLY_NOW;
	}
	if (nargs == 0) {
		tfd_reply_fail(rep, -EINVAL, TF_R_REQUEST_MALFORMED, NULL,
			       "run: no command given");
		return TFD_REPLY_NOW;
	}
	(void)tf_msg_u32(m, TF_A_FLAGS, &flags);
	if (flags & ~(TF_F_PTY_ANY | TF_F_SERVICE | TF_F_APP)) {
		tfd_reply_fail(rep, -EINVAL, TF_R_REQUEST_MALFORMED, NULL,
			       "run: unknown flags 0x%x", flags);
		return TFD_REPLY_NOW;
	}
	is_app = (flags & TF_F_APP) != 0;
	if (is_app &&
	    (tf_msg_count(m, TF_A_UID) || tf_msg_count(m, TF_A_CWD))) {
		tfd_reply_fail(rep, -EINVAL, TF_R_REQUEST_MALFORMED, NULL,
			       "run --app: an app runs as its own user in its "
			       "own directory (no --user, no --cwd)");
		return TFD_REPLY_NOW;
	}
	/* an installed app: its entry point, its uid, its data dir */
	if (is_app &&
	    tfd_app_resolve_run(d, p, tf_msg_str(m, TF_A_ARG), &app, rep) < 0)
		return TFD_REPLY_NOW;
	for (int i = 0; i < 3; i++)
		npty += !!(flags & TF_F_PTY(i));
	if (npty && (flags & TF_F_SERVICE)) {
		tfd_reply_fail(rep, -EINVAL, TF_R_REQUEST_MALFORMED, NULL,
			       "run: a background service has no terminal");
		return TFD_REPLY_NOW;
	}
	if (c->rd.nfds != 3 - npty) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: run needs the caller's "
			       "stdin, stdout and stderr (or a pty for them)");
		return TFD_REPLY_NOW;
	}
	/* A persona never gets a host terminal: whoever holds one can read
	 * the next keystrokes typed into it (a PIN) and TIOCSETD/TCSETS it,
	 * and a detached app keeps it after `run` returns. The CLI relays
	 * through a pty of the persona's own instead (-t). */
	for (size_t i = 0; i < c->rd.nfds; i++)
		if (!stdio_kind_ok(c->rd.fds[i])) {
			tfd_reply_fail(
				rep, -EINVAL, TF_R_REQUEST_DENIED, NULL,
				"run: stdin, stdout and stderr must be "
				"files, pipes, sockets or /dev/null (not "
				"a directory or a block device)");
			return TFD_REPLY_NOW;
		}
	for (size_t i = 0; i < c->rd.nfds; i++)
		if (is_terminal(c->rd.fds[i])) {
			tfd_reply_fail(rep, -ENOTTY, TF_R_REQUEST_DENIED,
				       p->cfg->name,
				       "run: refusing to hand a terminal to "
				       "an app in %s; use a pty: twofold run "
				       "-t",
				       p->cfg->name);
			return TFD_REPLY_NOW;
		}
	if (tf_msg_count(m, TF_A_ENV) > ENV_MAX) {
		tfd_reply_fail(rep, -E2BIG, TF_R_RUN_BAD_ENV, NULL,
			       "run: more than %d --env entries", ENV_MAX);
		return TFD_REPLY_NOW;
	}
	/* the app's gid is its uid: 0 would be the persona's root group, 5
	 * its tty group, which may write every pty of the persona (each
	 * run's, and so the terminal of the user behind it) */
	/* TF_COMMS_UID: whatever runs as it reads the comms service's
	 * keys (docs/comms.md), so nothing but that service does */
	if (tf_msg_u32(m, TF_A_UID, &uid) == 0 &&
	    (uid == 0 || uid == TF_PERSONA_TTY_GID || uid == TF_COMMS_UID)) {
		tfd_reply_fail(rep, -EINVAL, TF_R_RUN_BAD_USER, p->cfg->name,
			       "run: user %u is %s's %s, which no app runs as "
			       "(use an ordinary uid, 1 to %u, not %u or %u)",
			       uid, p->cfg->name,
			       uid == 0		     ? "root"
			       : uid == TF_COMMS_UID ? "comms service user"
						     : "tty group",
			       p->cfg->uid_count - 1, TF_PERSONA_TTY_GID,
			       TF_COMMS_UID);
		return TFD_REPLY_NOW;
	}
	if (uid >= p->cfg->uid_count) {
		tfd_reply_fail(rep, -EINVAL, TF_R_RUN_BAD_USER, p->cfg->name,
			       "run: user %u is outside %s's %u ids", uid,
			       p->cfg->name, p->cfg->uid_count);
		return TFD_REPLY_NOW;
	}
	argv = calloc(nargs + 1, sizeof(*argv));
	if (argv == NULL) {
		tfd_reply_fail(rep, -ENOMEM, TF_R_DAEMON_NOMEM, NULL,
			       "out of memory");
		return TFD_REPLY_NOW;
	}
	for (size_t i = 0; i < prof->n_env; i++)
		env[nenv++] = prof->env[i].entry;
	for (size_t i = 0; i < m->n_attrs; i++) {
		const struct tf_attr_ref *a = &m->attrs[i];
		total += a->len;
		if (a->type == TF_A_ARG) {
			argv[ai] = (const char *)a->val;
			if (is_app && ai == 0)
				argv[ai] = app.exe;
			ai++;
		} else if (a->type == TF_A_ENV) {
			if (!env_entry_ok((const char *)a->val)) {
				tfd_reply_fail(rep, -EINVAL, TF_R_RUN_BAD_ENV,
					       NULL,
					       "run: malformed environment "
					       "entry (want NAME=VALUE)");
				return TFD_REPLY_NOW;
			}
			if (!tf_profile_env_allowed(prof,
						    (const char *)a->val)) {
				/* the name only: a value may be secret */
				const char *v = (const char *)a->val;
				int k = (int)(strchr(v, '=') - v);
				tfd_reply_fail(rep, -EPERM, TF_R_RUN_BAD_ENV,
					       p->cfg->name,
					       "run: %.*s is fixed by %s's "
					       "profile",
					       k > 64 ? 64 : k, v,
					       p->cfg->name);
				return TFD_REPLY_NOW;
			}
			env_set(env, &nenv, (const char *)a->val);
		}
	}
	if (total > TF_ARGV_TOTAL_MAX) {
		tfd_reply_fail(rep, -E2BIG, TF_R_REQUEST_TOO_LARGE, NULL,
			       "run: arguments and environment exceed %u bytes",
			       TF_ARGV_TOTAL_MAX);
		return TFD_REPLY_NOW;
	}
	if (is_app) {
		env_set(env, &nenv, app.home_env);
		uid = app.uid;
	}
	env[nenv] = NULL;

	memset(&x, 0, sizeof(x));
	x.argv = (char *const *)argv;
	x.envp = (char *const *)env;
	x.cwd = is_app ? app.home : tf_msg_str(m, TF_A_CWD);
	if (is_app)
		x.ll_write = app.ll;
	x.uid = uid;
	x.gid = uid;
	x.stage_out = &stage;
	if (npty) {
		r = tf_persona_open_pty(p->rt, uid, &master, &slave);
		if (r < 0) {
			tfd_reply_fail(rep, r, TF_R_RUN_LAUNCH_FAILED,
				       p->cfg->name,
				       "run in %s: cannot allocate a terminal: "
				       "%s",
				       p->cfg->name,
				       r == -ENOSPC ? "the persona's pty limit "
						      "is reached"
						    : strerror(-r));
			return TFD_REPLY_NOW;
		}
	}
	for (int i = 0, j = 0; i < 3; i++) {
		if (flags & TF_F_PTY(i)) {
			x.fds[i] = slave;
			if (!(x.flags & TF_EXEC_CTTY)) {
				x.flags |= TF_EXEC_CTTY;
				x.ctty = i;
			}
		} else {
			x.fds[i] = c->rd.fds[j++];
		}
	}
	/* every process of this run lives in a cgroup of its own, killed
	 * when the run ends (no v2 hierarchy: the persona's, unkilled) */
	if (is_app) {
		/* an app's run: below its own cgroup, which carries its
		 * device policy and is what remove and disable kill */
		r = tf_persona_app_run_cgroup(p->rt, app.name, &cgfd, cg);
		if (r == -ENOENT) {
			struct tf_cg_dev rules[TF_PROF_DEV_MAX + 4];
			size_t nr = tf_profile_app_dev_rules(
				prof, app.perms, rules, TF_ARRAY_SIZE(rules));
			r = tf_persona_app_cgroup(p->rt, app.name, rules, nr);
			if (r == 0)
				r = tf_persona_app_run_cgroup(p->rt, app.name,
							      &cgfd, cg);
		}
		/* without v2 the persona's cgroup and no device program: an
		 * app that may not have the camera must not get one */
		if (r == -EOPNOTSUPP &&
		    (~app.perms &
		     (TF_PROF_PERM_CAMERA | TF_PROF_PERM_MICROPHONE))) {
			tfd_reply_fail(rep, r, TF_R_RUN_LAUNCH_FAILED,
				       p->cfg->name,
				       "run --app in %s: this host has no "
				       "cgroup v2 hierarchy for the app's "
				       "device policy",
				       p->cfg->name);
			return TFD_REPLY_NOW;
		}
	} else {
		r = tf_persona_run_cgroup(p->rt, &cgfd, cg);
	}
	if (r < 0 && r != -EOPNOTSUPP) {
		tfd_reply_fail(rep, r, TF_R_RUN_LAUNCH_FAILED, p->cfg->name,
			       "run in %s: cannot make its cgroup: %s",
			       p->cfg->name, strerror(-r));
		return TFD_REPLY_NOW;
	}
	if (cgfd >= 0) {
		x.flags |= TF_EXEC_CGROUP;
		x.cgroup_fd = cgfd;
	}
	if (master >= 0) {
		/* The CLI relays; we keep no copy, so once the CLI closes it
		 * the kernel hangs the slave up for every holder. Sent before
		 * the launch: the CLI sets up its relay while the app starts
		 * (a launch failure follows as the RESULT it waits for). */
		struct tfd_reply pr = {.exit_code = -1};
		if (tfd_send_reply_fds(c, TF_REP_PTY, &pr, &master, 1) < 0)
			tf_debug("run: the client left before its pty came");
		close_fdp(&master);
	}
	r = tf_persona_exec(p->rt, &x, &pid, &pidfd);
	/* the app has its own copies now */
	close_fdp(&slave);
	close_fdp(&cgfd);
	if (r < 0 && cg[0])
		(void)tf_persona_run_cgroup_end(p->rt, cg, true);
	if (r < 0 && stage == TF_EXEC_STAGE_CWD) {
		char esc[96];
		const char *cwd = x.cwd ? x.cwd : "/home/app";
		tf_escape(cwd, strlen(cwd), esc, sizeof(esc));
		tfd_reply_fail(rep, r, TF_R_RUN_BAD_CWD, p->cfg->name,
			       "cannot change to %s in persona %s: %s", esc,
			       p->cfg->name, strerror(-r));
		tfd_reply_param(rep, "cwd", "%s", esc);
		return TFD_REPLY_NOW;
	}
	if (r < 0 && stage == TF_EXEC_STAGE_SETUP) {
		tfd_reply_fail(rep, r, TF_R_RUN_LAUNCH_FAILED, p->cfg->name,
			       "run in %s: the app's sandbox setup "
			       "failed: %s",
			       p->cfg->name, strerror(-r));
		return TFD_REPLY_NOW;
	}
	if (r == -ENOENT) {
		char esc[96];
		tf_escape(argv[0], strlen(argv[0]), esc, sizeof(esc));
		tfd_reply_fail(rep, r, TF_R_RUN_NOT_FOUND, p->cfg->name,
			       "command not found: %s in persona %s", esc,
			       p->cfg->name);
		tfd_reply_param(rep, "command", "%s", esc);
		rep->exit_code = 127;
		return TFD_REPLY_NOW;
	}
	if (r == -EACCES || r == -ENOEXEC) {
		char esc[96];
		tf_escape(argv[0], strlen(argv[0]), esc, sizeof(esc));
		tfd_reply_fail(rep, r, TF_R_RUN_NOT_EXECUTABLE, p->cfg->name,
			       "cannot execute %s in persona %s: %s", esc,
			       p->cfg->name, strerror(-r));
		tfd_reply_param(rep, "command", "%s", esc);
		rep->exit_code = 126;
		return TFD_REPLY_NOW;
	}
	if (r < 0) {
		tfd_reply_fail(rep, r, TF_R_RUN_LAUNCH_FAILED, p->cfg->name,
			       "run in %s failed: %s", p->cfg->name,
			       strerror(-r));
		return TFD_REPLY_NOW;
	}
	c->app.pid = pid;
	c->app.pidfd = pidfd;
	c->app.conn = c;
	c->app.p = p;
	c->app.service = (flags & TF_F_SERVICE) != 0;
	memcpy(c->app.cg, cg, sizeof(cg));
	snprintf(c->app.name, sizeof(c->app.name), "%s",
		 is_app ? app.name : "");
	if (tfd_source_add(d, &c->app.src, pidfd, EPOLLIN, tfd_app_exited, c) <
	    0) {
		/* cannot watch it: do not leave an unsupervised app */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitid(P_PIDFD, (id_t)pidfd, NULL, WEXITED);
		close(pidfd);
		c->app.pidfd = -1;
		if (cg[0])
			(void)tf_persona_run_cgroup_end(p->rt, cg, true);
		c->app.cg[0] = '\0';
		tfd_reply_fail(rep, -ENOMEM, TF_R_DAEMON_NOMEM, NULL,
			       "run: cannot watch the app");
		return TFD_REPLY_NOW;
	}
	/* the app owns its copies of the stdio fds now; drop ours */
	tf_msg_reader_reset(&c->rd);

	/* the next run's cgroup, while this app starts on the other CPU */
	if (is_app)
		(void)tf_persona_app_run_cgroup_prepare(p->rt, app.name);
	else
		(void)tf_persona_run_cgroup_prepare(p->rt);
	/* No reply until it exits (EXITED): a "started" message would wake
	 * the client for nothing while the app starts. */
	return TFD_REPLY_LATER;
}

/*
 * Signal the app's process group (it leads its own session). Only while it
 * is still our unreaped child: until we reap it its pid cannot be reused,
 * but a persona stop reaps leftover apps itself, and after that kill(-pid)
 * could hit a stranger.
 */
int tfd_app_signal(struct tfd_conn *c, int sig)
{
	siginfo_t si;

	if (c->app.pidfd < 0)
		return -ESRCH;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)c->app.pidfd, &si,
		   WEXITED | WNOHANG | WNOWAIT) < 0)
		return -ESRCH; /* reaped elsewhere */
	if (kill(-c->app.pid, sig) < 0 &&
	    syscall(SYS_pidfd_send_signal, c->app.pidfd, sig, NULL, 0) < 0)
		return tf_negerrno();
	return 0;
}

static void orphan_forget(struct tfd *d, struct tfd_conn *c)
{
	for (size_t i = 0; i < TFD_ORPHAN_MAX; i++)
		if (d->orphans[i] == c)
			d->orphans[i] = NULL;
}

void tfd_app_exited(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_conn *c = s->data;
	siginfo_t si;
	struct tfd_reply rep = {.exit_code = -1};

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)c->app.pidfd, &si, WEXITED | WNOHANG) < 0) {
		/* ECHILD: already reaped by tf_persona_stop (a persona stop
		 * or evict kills every process and reaps leftover apps so
		 * init can finish); it died of that SIGKILL */
		if (errno != ECHILD)
			return;
		si.si_code = CLD_KILLED;
		si.si_status = SIGKILL;
	} else if (si.si_pid == 0) {
		return; /* not yet reapable */
	}
	(void)events;
	tfd_source_del(d, &c->app.src);
	close(c->app.pidfd);
	c->app.pidfd = -1;
	if (si.si_code == CLD_EXITED)
		rep.exit_code = si.si_status;
	else
		rep.exit_code = 128 + si.si_status;
	tf_debug("app %d exited: %d", c->app.pid, rep.exit_code);
	if (c->fd >= 0)
		tfd_send_reply(c, TF_REP_EXITED, &rep);
	/* The run is over: what it left behind (a detached child holding
	 * its terminal or its pipes) goes too, unless it is a service. */
	if (c->app.cg[0] && c->app.p && c->app.p->rt) {
		int r = tf_persona_run_cgroup_end(c->app.p->rt, c->app.cg,
						  !c->app.service);
		if (r < 0)
			tf_warn("%s: ending the run cgroup %s: %s",
				c->app.p->cfg->name, c->app.cg, strerror(-r));
	}
	c->app.cg[0] = '\0';
	if (c->fd < 0) {
		orphan_forget(d, c);
		free(c); /* the client left earlier */
	}
}

enum tfd_disp tfd_req_signal(struct tfd *d, struct tfd_conn *c,
			     const struct tf_msg *m, struct tfd_persona *p,
			     struct tfd_reply *rep)
{
	uint32_t sig;

	if (tf_msg_u32(m, TF_A_SIGNAL, &sig) < 0) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: no signal");
		return TFD_REPLY_NOW;
	}
	/* only what a terminal or a user at it would send */
	switch (sig) {
	case SIGINT:
	case SIGQUIT:
	case SIGTERM:
	case SIGHUP:
	case SIGTSTP:
	/* Ctrl-Z at a pty whose foreground is the app itself: the app
	 * leads its own session and its parent (we) is outside it, so its
	 * process group is orphaned and the kernel drops SIGTSTP for it;
	 * the CLI asks for SIGSTOP instead (job control as at a shell) */
	case SIGSTOP:
	case SIGCONT:
	case SIGWINCH:
	case SIGUSR1:
	case SIGUSR2: break;
	default:
		tfd_reply_fail(rep, -EINVAL, TF_R_REQUEST_DENIED, NULL,
			       "signal %u is not forwarded", sig);
		return TFD_REPLY_NOW;
	}
	if (c->app.pidfd < 0) {
		tfd_reply_fail(rep, -ESRCH, TF_R_PERSONA_NOT_RUNNING, NULL,
			       "no app is running on this connection");
		return TFD_REPLY_NOW;
	}
	if (tfd_app_signal(c, (int)sig) < 0)
		tf_debug("%s: the app is gone", tfd_signal_name(sig));
	/* no reply: the client is waiting for the exit */
	return TFD_REPLY_LATER;
}

/* Kill everything of a run (its cgroup; without one, its process group).
 * Its app's pidfd then fires and tfd_app_exited reaps it. */
static void kill_run(struct tfd_conn *c)
{
	if (c->app.cg[0] && c->app.p && c->app.p->rt &&
	    tf_persona_run_cgroup_end(c->app.p->rt, c->app.cg, true) == 0)
		return;
	(void)tfd_app_signal(c, SIGKILL);
}

void tfd_orphan_add(struct tfd *d, struct tfd_conn *c)
{
	c->app.kill_at_ns = tf_now_ns() + TFD_ORPHAN_GRACE_NS;
	for (size_t i = 0; i < TFD_ORPHAN_MAX; i++)
		if (d->orphans[i] == NULL) {
			d->orphans[i] = c;
			return;
		}
	kill_run(c); /* no room to wait: no grace */
}

static void orphans_tick(struct tfd *d)
{
	uint64_t now = tf_now_ns();

	for (size_t i = 0; i < TFD_ORPHAN_MAX; i++) {
		struct tfd_conn *c = d->orphans[i];
		if (c == NULL || now < c->app.kill_at_ns)
			continue;
		tf_info("run of app %d: its client left %.0f s ago; killing "
			"what is left of it",
			c->app.pid, (double)TFD_ORPHAN_GRACE_NS / 1e9);
		d->orphans[i] = NULL;
		kill_run(c);
	}
}

void tfd_apps_sigchld(struct tfd *d)
{
	for (size_t i = 0; i < TFD_CONN_MAX; i++) {
		struct tfd_conn *c = d->conns[i];
		siginfo_t si;

		if (c == NULL || c->app.pidfd < 0 || c->fd < 0)
			continue;
		memset(&si, 0, sizeof(si));
		/* consumes the stop report; exits stay for tfd_app_exited */
		if (waitid(P_PIDFD, (id_t)c->app.pidfd, &si,
			   WSTOPPED | WNOHANG) < 0 ||
		    si.si_pid == 0 || si.si_code != CLD_STOPPED)
			continue;
		{
			struct tfd_reply rep = {.exit_code = -1};
			tf_debug("app %d stopped by %s", c->app.pid,
				 tfd_signal_name((unsigned)si.si_status));
			(void)tfd_send_reply(c, TF_REP_STOPPED, &rep);
		}
	}
}

static bool pid_is_ours(const struct tfd *d, pid_t pid)
{
	/* a running request's app: reaped by its own pidfd event, which
	 * must get its status (the tick can come first in one batch) */
	for (size_t i = 0; i < TFD_CONN_MAX; i++)
		if (d->conns[i] && d->conns[i]->app.pidfd >= 0 &&
		    d->conns[i]->app.pid == pid)
			return true;
	for (size_t i = 0; i < TFD_ORPHAN_MAX; i++)
		if (d->orphans[i] && d->orphans[i]->app.pid == pid)
			return true;
	for (size_t i = 0; i < d->n_personas; i++) {
		const struct tf_persona *rt = d->personas[i].rt;
		if (rt && (tf_persona_init_pid(rt) == pid ||
			   tf_persona_launcher_pid(rt) == pid))
			return true;
		/* reaped by its pidfd event, which reports how it ended */
		if (d->personas[i].tun.pid == pid)
			return true;
	}
	return false;
}

/* A child that has exited as a whole and waits to be reaped. Not 'Z' in
 * /proc/PID/stat: that shows as soon as the main thread has exited while
 * other threads still run (kernel 6.18). */
static bool is_zombie(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
		       0 &&
	       si.si_pid == pid;
}

/*
 * Defence in depth against children nobody reaps. Every app is our child
 * (CLONE_PARENT from the launcher) and is reaped through its pidfd the
 * moment it exits; an app cannot make more children of ours (the app
 * seccomp layer denies CLONE_PARENT). Should an unknown child ever exist,
 * its zombie would keep a dying persona's init in zap_pid_ns_processes()
 * and stop/evict would hang. So: a zombie that was already a zombie one
 * tick ago, and is no init or launcher (reaped by their own code), is
 * reaped here. Tracked apps never wait that long: their pidfd event comes
 * first.
 */
static void reap_untracked(struct tfd *d)
{
	static pid_t seen[64];
	static size_t n_seen;
	pid_t now[64];
	size_t n_now = 0;
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *t;

	if (tasks == NULL)
		return;
	while ((t = readdir(tasks)) != NULL) {
		char path[64], buf[4096];
		_cleanup_close_ int fd = -1;
		ssize_t n;

		if (t->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.16s/children",
			 t->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
			continue;
		buf[n] = '\0';
		for (char *s = buf, *e; *s; s = e) {
			long pid = strtol(s, &e, 10);
			bool was = false;

			if (e == s)
				break;
			if (pid <= 0 || !is_zombie((pid_t)pid) ||
			    pid_is_ours(d, (pid_t)pid))
				continue;
			for (size_t i = 0; i < n_seen; i++)
				was |= seen[i] == (pid_t)pid;
			if (was) {
				siginfo_t si;
				memset(&si, 0, sizeof(si));
				if (waitid(P_PID, (id_t)pid, &si,
					   WEXITED | WNOHANG) == 0 &&
				    si.si_pid)
					tf_warn("reaped child %ld that no "
						"request tracked",
						pid);
			} else if (n_now < TF_ARRAY_SIZE(now)) {
				now[n_now++] = (pid_t)pid;
			}
		}
	}
	closedir(tasks);
	memcpy(seen, now, n_now * sizeof(now[0]));
	n_seen = n_now;
}

void tfd_run_tick(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++)
		if (d->personas[i].rt)
			tf_persona_sweep_run_cgroups(d->personas[i].rt);
	orphans_tick(d);
	tfd_apps_tick(d);
	reap_untracked(d);
}
