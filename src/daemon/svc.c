/* SPDX-License-Identifier: ISC */
/*
 * A daemon-chosen program kept running inside a persona (issue 15 item
 * 6: twofold-comms; generic so other services can use it). The daemon
 * picks the binary (a path the persona sees: the host's /usr is its
 * read-only base, so the exec gate lets it run) and the arguments; the
 * persona's launcher clones it, as s->uid (the persona's app uid unless
 * the caller says otherwise: twofold-comms has its own), into
 * keep-NAME (persona/keep.c) so a screen lock does not freeze it, with
 * a Landlock domain that writes only beneath the given paths. Its
 * stdout/stderr go to /dev/null: what it prints is the persona's text,
 * never the daemon's log.
 *
 * Supervision: its pidfd is on the loop; when it dies it is reaped and
 * started again from the 1 s tick after a backoff (1 s doubling to 60 s,
 * back to 1 s once one ran for a minute). A persona stop or evict kills
 * it with everything else (cgroup.kill of the root takes keep-*);
 * tfd_svc_stop only forgets it.
 *
 * A channel (s->chan): the service's stdin is a pipe whose write end
 * only the daemon holds, for lines the service must be able to trust
 * came from the daemon (twofold-comms: "foreground yes|no"). Its control
 * socket cannot tell: the persona's apps run as the same uid, and the
 * daemon's uid is unmapped in the persona's user namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "daemon.h"

#define SVC_BACKOFF_MAX_S 60u
#define SVC_STABLE_NS (60ull * 1000000000ull)

void tfd_svc_init(struct tfd_svc *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->pidfd = -1;
	s->src.fd = -1;
	s->chan_w = -1;
	s->uid = TF_APP_UID_DEFAULT;
}

static void chan_close(struct tfd_svc *s)
{
	if (s->chan_w >= 0)
		close(s->chan_w);
	s->chan_w = -1;
}

int tfd_svc_say(struct tfd_svc *s, const char *line)
{
	size_t n = strlen(line);
	ssize_t w;

	if (s->pidfd < 0 || s->chan_w < 0)
		return -ENOTCONN;
	/* a line below PIPE_BUF is written whole or not at all */
	w = write(s->chan_w, line, n);
	if (w < 0)
		return tf_negerrno();
	return (size_t)w == n ? 0 : -EIO;
}

bool tfd_svc_running(const struct tfd_svc *s)
{
	return s->pidfd >= 0;
}

static void svc_exited(struct tfd *d, struct tfd_source *src, uint32_t ev)
{
	struct tfd_svc *s = src->data;
	siginfo_t si = {0};
	uint64_t now = tf_now_ns();

	(void)ev;
	tfd_source_del(d, &s->src);
	if (waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED | WNOHANG) == 0 &&
	    si.si_pid != 0)
		snprintf(s->error, sizeof(s->error), "%s %d",
			 si.si_code == CLD_EXITED ? "exited"
						  : "killed by signal",
			 si.si_status);
	else
		snprintf(s->error, sizeof(s->error), "ended");
	close(s->pidfd);
	s->pidfd = -1;
	s->pid = 0;
	chan_close(s);
	if (s->restart_now) {
		/* asked for (new keys): at the next tick, no backoff */
		s->restart_now = false;
		s->backoff_s = 0;
		s->next_start_ns = now;
		tf_info("%s: %s ended for a restart", s->p_name, s->name);
		return;
	}
	if (now - s->started_ns > SVC_STABLE_NS || s->backoff_s == 0)
		s->backoff_s = 1;
	else
		s->backoff_s = TF_MIN(s->backoff_s * 2, SVC_BACKOFF_MAX_S);
	s->next_start_ns = now + (uint64_t)s->backoff_s * 1000000000ull;
	s->restarts++;
	tf_warn("%s: %s %s; again in %u s", s->p_name, s->name, s->error,
		s->backoff_s);
}

/* SIGKILL the service and close its pidfd. Never a blocking wait on the
 * loop: its zombie is reaped now if it is one already, else by the
 * persona's stop (persona.h contract). */
static void svc_kill(struct tfd_svc *s)
{
	(void)syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
	(void)waitid(P_PIDFD, (id_t)s->pidfd, &(siginfo_t){0},
		     WEXITED | WNOHANG);
	close(s->pidfd);
	s->pidfd = -1;
	chan_close(s);
}

int tfd_svc_start(struct tfd *d, struct tfd_persona *p, struct tfd_svc *s,
		  char *const argv[], const char *const *ll_write)
{
	const struct tf_profile *prof;
	const char *env[TF_PROF_ENV_MAX + 1];
	_cleanup_close_ int cgfd = -1, chan_r = -1;
	struct tf_exec_spec x;
	enum tf_exec_stage stage = TF_EXEC_STAGE_EXEC;
	size_t ne = 0;
	int r;

	if (s->pidfd >= 0)
		return 0;
	if (p->rt == NULL)
		return -ESRCH;
	snprintf(s->p_name, sizeof(s->p_name), "%s", p->cfg->name);
	prof = tf_persona_profile(p->rt);
	for (size_t i = 0; i < prof->n_env && i < TF_PROF_ENV_MAX; i++)
		env[ne++] = prof->env[i].entry;
	env[ne] = NULL;
	r = tf_persona_keep_cgroup(p->rt, s->name, &cgfd);
	if (r < 0) {
		/* no v2 hierarchy: it could only live in the root, which a
		 * lock freezes; better not at all than frozen unnoticed */
		snprintf(s->error, sizeof(s->error),
			 "cannot make its cgroup keep-%s: %s", s->name,
			 strerror(-r));
		return r;
	}
	memset(&x, 0, sizeof(x));
	x.argv = argv;
	x.envp = (char *const *)env;
	x.uid = s->uid;
	x.gid = s->uid;
	x.fds[0] = x.fds[1] = x.fds[2] = -1;
	if (s->chan) {
		int pp[2];

		chan_close(s);
		if (pipe2(pp, O_CLOEXEC) < 0) {
			r = tf_negerrno();
			snprintf(s->error, sizeof(s->error),
				 "cannot make its channel: %s", strerror(-r));
			return r;
		}
		chan_r = pp[0];
		s->chan_w = pp[1];
		/* never block the loop on a service that does not read */
		(void)fcntl(s->chan_w, F_SETFL, O_NONBLOCK);
		x.fds[0] = chan_r;
	}
	x.flags = TF_EXEC_CGROUP;
	x.cgroup_fd = cgfd;
	x.ll_write = ll_write;
	x.stage_out = &stage;
	r = tf_persona_exec(p->rt, &x, &s->pid, &s->pidfd);
	if (r < 0) {
		snprintf(s->error, sizeof(s->error), "cannot start %s: %s",
			 argv[0], strerror(-r));
		s->pidfd = -1;
		chan_close(s);
		return r;
	}
	r = tfd_source_add(d, &s->src, s->pidfd, EPOLLIN, svc_exited, s);
	if (r < 0) {
		svc_kill(s);
		return r;
	}
	s->started_ns = tf_now_ns();
	s->next_start_ns = 0;
	s->error[0] = '\0';
	tf_info("%s: %s started (pid %d) in keep-%s", p->cfg->name, argv[0],
		(int)s->pid, s->name);
	return 0;
}

bool tfd_svc_due(const struct tfd_svc *s)
{
	return s->pidfd < 0 && tf_now_ns() >= s->next_start_ns;
}

void tfd_svc_restart(struct tfd_svc *s)
{
	if (s->pidfd < 0) {
		s->backoff_s = 0;
		s->next_start_ns = 0;
		return;
	}
	/* its exit is reaped from the pidfd on the loop (svc_exited), so no
	 * zombie is left while the persona keeps running */
	s->restart_now = true;
	(void)syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
}

void tfd_svc_stop(struct tfd *d, struct tfd_persona *p, struct tfd_svc *s)
{
	if (s->pidfd >= 0) {
		tfd_source_del(d, &s->src);
		svc_kill(s);
		s->pid = 0;
	}
	chan_close(s);
	if (p->rt)
		(void)tf_persona_keep_end(p->rt, s->name);
	s->backoff_s = 0;
	s->next_start_ns = 0;
}
