/* SPDX-License-Identifier: ISC */
/*
 * `twofold run PERSONA -- CMD`: start CMD inside the running persona with
 * the caller's stdio (passed as SCM_RIGHTS), then report its exit status on
 * the same connection. The app's environment is built here from scratch:
 * nothing of the daemon's or the caller's environment leaks in except what
 * the request lists (the CLI sends TERM, LANG and each --env).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "daemon.h"

#define ENV_MAX 4096

static const char *const default_env[] = {
	"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
	"HOME=/home/app",
	"LANG=C.UTF-8",
};

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

void tfd_req_run(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m,
		 struct tfd_persona *p, struct tfd_reply *rep)
{
	size_t nargs = tf_msg_count(m, TF_A_ARG), nenv = 0, ai = 0, total = 0;
	_cleanup_free_ const char **argv = NULL;
	const char *env[ENV_MAX + TF_ARRAY_SIZE(default_env) + 1];
	struct tf_exec_spec x;
	uint32_t uid = TF_APP_UID_DEFAULT;
	enum tf_exec_stage stage = TF_EXEC_STAGE_EXEC;
	pid_t pid;
	int pidfd, r;

	if (c->app.pidfd >= 0) {
		tfd_reply_err(rep, -EBUSY,
			      "this connection already runs an app");
		return;
	}
	if (nargs == 0) {
		tfd_reply_err(rep, -EINVAL, "run: no command given");
		return;
	}
	if (c->rd.nfds != 3) {
		tfd_reply_err(rep, -EBADMSG,
			      "malformed request: run needs the caller's "
			      "stdin, stdout and stderr");
		return;
	}
	if (tf_msg_count(m, TF_A_ENV) > ENV_MAX) {
		tfd_reply_err(rep, -E2BIG, "run: more than %d --env entries",
			      ENV_MAX);
		return;
	}
	if (tf_msg_u32(m, TF_A_UID, &uid) == 0 && uid >= p->cfg->uid_count) {
		tfd_reply_err(rep, -EINVAL,
			      "run: user %u is outside %s's %u ids", uid,
			      p->cfg->name, p->cfg->uid_count);
		return;
	}
	argv = calloc(nargs + 1, sizeof(*argv));
	if (argv == NULL) {
		tfd_reply_err(rep, -ENOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < TF_ARRAY_SIZE(default_env); i++)
		env[nenv++] = default_env[i];
	for (size_t i = 0; i < m->n_attrs; i++) {
		const struct tf_attr_ref *a = &m->attrs[i];
		total += a->len;
		if (a->type == TF_A_ARG) {
			argv[ai++] = (const char *)a->val;
		} else if (a->type == TF_A_ENV) {
			if (!env_entry_ok((const char *)a->val)) {
				tfd_reply_err(rep, -EINVAL,
					      "run: malformed environment "
					      "entry (want NAME=VALUE)");
				return;
			}
			env_set(env, &nenv, (const char *)a->val);
		}
	}
	if (total > TF_ARGV_TOTAL_MAX) {
		tfd_reply_err(rep, -E2BIG,
			      "run: arguments and environment exceed %u bytes",
			      TF_ARGV_TOTAL_MAX);
		return;
	}
	env[nenv] = NULL;

	memset(&x, 0, sizeof(x));
	x.argv = (char *const *)argv;
	x.envp = (char *const *)env;
	x.cwd = tf_msg_str(m, TF_A_CWD);
	x.uid = uid;
	x.gid = uid;
	x.stage_out = &stage;
	for (int i = 0; i < 3; i++)
		x.fds[i] = c->rd.fds[i];
	r = tf_persona_exec(p->rt, &x, &pid, &pidfd);
	if (r < 0 && stage == TF_EXEC_STAGE_CWD) {
		char esc[96];
		const char *cwd = x.cwd ? x.cwd : "/home/app";
		tf_escape(cwd, strlen(cwd), esc, sizeof(esc));
		tfd_reply_err(rep, r, "cannot change to %s in persona %s: %s",
			      esc, p->cfg->name, strerror(-r));
		return;
	}
	if (r < 0 && stage == TF_EXEC_STAGE_SETUP) {
		tfd_reply_err(rep, r,
			      "run in %s: the app's sandbox setup "
			      "failed: %s",
			      p->cfg->name, strerror(-r));
		return;
	}
	if (r == -ENOENT) {
		char esc[96];
		tf_escape(argv[0], strlen(argv[0]), esc, sizeof(esc));
		tfd_reply_err(rep, r, "command not found: %s in persona %s",
			      esc, p->cfg->name);
		rep->exit_code = 127;
		return;
	}
	if (r == -EACCES || r == -ENOEXEC) {
		char esc[96];
		tf_escape(argv[0], strlen(argv[0]), esc, sizeof(esc));
		tfd_reply_err(rep, r, "cannot execute %s in persona %s: %s",
			      esc, p->cfg->name, strerror(-r));
		rep->exit_code = 126;
		return;
	}
	if (r < 0) {
		tfd_reply_err(rep, r, "run in %s failed: %s", p->cfg->name,
			      strerror(-r));
		return;
	}
	c->app.pid = pid;
	c->app.pidfd = pidfd;
	c->app.conn = c;
	if (tfd_epoll_add(d, pidfd, &c->app.src) < 0) {
		/* cannot watch it: do not leave an unsupervised app */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitid(P_PIDFD, (id_t)pidfd, NULL, WEXITED);
		close(pidfd);
		c->app.pidfd = -1;
		tfd_reply_err(rep, -ENOMEM, "run: cannot watch the app");
		return;
	}
	/* the app owns its copies of the stdio fds now; drop ours */
	tf_msg_reader_reset(&c->rd);
	/* No reply until it exits (EXITED): a "started" message would wake
	 * the client for nothing while the app starts. */
	rep->err = 1;
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

void tfd_app_exited(struct tfd *d, struct tfd_conn *c)
{
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
	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->app.pidfd, NULL);
	close(c->app.pidfd);
	c->app.pidfd = -1;
	if (si.si_code == CLD_EXITED)
		rep.exit_code = si.si_status;
	else
		rep.exit_code = 128 + si.si_status;
	tf_debug("app %d exited: %d", c->app.pid, rep.exit_code);
	if (c->fd < 0) {
		free(c); /* the client left earlier */
		return;
	}
	tfd_send_reply(c, TF_REP_EXITED, &rep);
}

void tfd_req_signal(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m,
		    struct tfd_persona *p, struct tfd_reply *rep)
{
	uint32_t sig;

	if (tf_msg_u32(m, TF_A_SIGNAL, &sig) < 0) {
		tfd_reply_err(rep, -EBADMSG, "malformed request: no signal");
		return;
	}
	/* only what a terminal or a user at it would send */
	switch (sig) {
	case SIGINT:
	case SIGQUIT:
	case SIGTERM:
	case SIGHUP:
	case SIGTSTP:
	case SIGCONT:
	case SIGWINCH:
	case SIGUSR1:
	case SIGUSR2: break;
	default:
		tfd_reply_err(rep, -EINVAL, "signal %u is not forwarded", sig);
		return;
	}
	if (c->app.pidfd < 0) {
		tfd_reply_err(rep, -ESRCH,
			      "no app is running on this connection");
		return;
	}
	if (tfd_app_signal(c, (int)sig) < 0)
		tf_debug("signal %u: the app is gone", sig);
	rep->err = 1; /* no reply: the client is waiting for the exit */
}
