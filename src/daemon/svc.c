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
 * A channel (s->chan): the service's stdin is one end of a socketpair
 * whose other end only the daemon holds, for lines the service must be
 * able to trust came from the daemon (twofold-comms: "foreground
 * yes|no"). Its control socket cannot tell: the persona's apps run as
 * the same uid, and the daemon's uid is unmapped in the persona's user
 * namespace. The service answers on the same socket (twofold-comms:
 * "call active|idle", req_comms.c): lines from inside the persona, so
 * bounded (callchan.c: 64 bytes, longer ones dropped whole), at most
 * TFD_SVC_CHAN_LINES_PER_S a second, handed to s->on_line. Past that
 * rate the rest is dropped, s->on_flood told (twofold-comms: as if the
 * call were idle: fail closed) and the channel not read until the next
 * second, when what waited is dropped too: a flood costs the daemon a
 * few reads a second, and never delays the daemon's loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "twofold/sandbox.h"
#include "daemon.h"

#define SVC_BACKOFF_MAX_S 60u
#define SVC_STABLE_NS (60ull * 1000000000ull)

void tfd_svc_init(struct tfd_svc *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->pidfd = -1;
	s->src.fd = -1;
	s->chan_fd = -1;
	s->chan_src.fd = -1;
	s->uid = TF_APP_UID_DEFAULT;
}

static void chan_close(struct tfd *d, struct tfd_svc *s)
{
	tfd_source_del(d, &s->chan_src);
	if (s->chan_fd >= 0)
		close(s->chan_fd);
	s->chan_fd = -1;
	s->chan_paused = false;
	memset(&s->chan_lb, 0, sizeof(s->chan_lb));
}

struct chan_read {
	struct tfd *d;
	struct tfd_svc *s;
	bool over; /* this second's lines are used up */
};

static void chan_line(void *ud, const char *line, size_t len)
{
	struct chan_read *cr = ud;
	struct tfd_svc *s = cr->s;

	if (cr->over || ++s->chan_lines > TFD_SVC_CHAN_LINES_PER_S) {
		cr->over = true;
		return;
	}
	if (s->on_line)
		s->on_line(cr->d, s, line, len);
}

static void chan_readable(struct tfd *d, struct tfd_source *src, uint32_t ev)
{
	struct tfd_svc *s = src->data;
	struct chan_read cr = {.d = d, .s = s};
	uint64_t now = tf_now_ns();
	char buf[512];
	ssize_t n;

	(void)ev;
	if (now - s->chan_win_ns >= 1000000000ull) {
		s->chan_win_ns = now;
		s->chan_lines = 0;
	}
	/* one read a wakeup: the loop stays fair to everyone else */
	n = recv(s->chan_fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* it closed its end (or died: svc_exited follows) */
		tfd_source_del(d, &s->chan_src);
		return;
	}
	(void)tfd_linebuf_feed(&s->chan_lb, buf, (size_t)n, chan_line, &cr);
	if (cr.over) {
		/* not read again until the next second, and what waited
		 * then is dropped (the service's own sends fail with EAGAIN
		 * when the socket is full, never block us) */
		tfd_source_del(d, &s->chan_src);
		s->chan_paused = true;
		tf_warn("%s: %s writes more than %u lines a second on its "
			"channel; dropped, not read until the next second",
			s->p_name, s->name, TFD_SVC_CHAN_LINES_PER_S);
		if (s->on_flood)
			s->on_flood(d, s);
	}
}

void tfd_svc_chan_tick(struct tfd *d, struct tfd_svc *s)
{
	char buf[512];
	size_t dropped = 0;
	ssize_t n;

	if (!s->chan_paused || s->chan_fd < 0)
		return;
	/* a flood's backlog is junk: dropped, at most 64 KiB a second */
	while (dropped < 65536 &&
	       (n = recv(s->chan_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		dropped += (size_t)n;
	/* a new start: what follows is the service's own next words (a
	 * line cut here joins them, which only the service could make into
	 * a word, and it can say any word anyway) */
	memset(&s->chan_lb, 0, sizeof(s->chan_lb));
	if (dropped >= 65536)
		return; /* still flooding: paused another second */
	s->chan_paused = false;
	s->chan_win_ns = tf_now_ns();
	s->chan_lines = 0;
	if (tfd_source_add(d, &s->chan_src, s->chan_fd, EPOLLIN, chan_readable,
			   s) < 0)
		tf_warn("%s: %s: cannot watch its channel again", s->p_name,
			s->name);
}

static void svc_ended(struct tfd *d, struct tfd_svc *s)
{
	chan_close(d, s);
	s->cgroup_id = 0;
	if (s->on_end)
		s->on_end(d, s);
}

int tfd_svc_say(struct tfd_svc *s, const char *line)
{
	size_t n = strlen(line);
	ssize_t w;

	if (s->pidfd < 0 || s->chan_fd < 0)
		return -ENOTCONN;
	/* a short line into an AF_UNIX stream socket with room goes whole;
	 * no room (a service that does not read): EAGAIN, never a block */
	w = send(s->chan_fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
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
	svc_ended(d, s);
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
static void svc_kill(struct tfd *d, struct tfd_svc *s)
{
	(void)syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
	(void)waitid(P_PIDFD, (id_t)s->pidfd, &(siginfo_t){0},
		     WEXITED | WNOHANG);
	close(s->pidfd);
	s->pidfd = -1;
	svc_ended(d, s);
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
		int sp[2];

		chan_close(d, s);
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) <
		    0) {
			r = tf_negerrno();
			snprintf(s->error, sizeof(s->error),
				 "cannot make its channel: %s", strerror(-r));
			return r;
		}
		chan_r = sp[1];
		s->chan_fd = sp[0];
		/* never block the loop on a service that does not read */
		(void)fcntl(s->chan_fd, F_SETFL, O_NONBLOCK);
		/* and nothing it says but lines (no fds: SCM_RIGHTS is
		 * never read, recv() without a control buffer drops them) */
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
		chan_close(d, s);
		return r;
	}
	r = tfd_source_add(d, &s->src, s->pidfd, EPOLLIN, svc_exited, s);
	if (r == 0 && s->chan_fd >= 0)
		r = tfd_source_add(d, &s->chan_src, s->chan_fd, EPOLLIN,
				   chan_readable, s);
	if (r < 0) {
		tfd_source_del(d, &s->src);
		svc_kill(d, s);
		return r;
	}
	s->chan_win_ns = tf_now_ns();
	s->chan_lines = 0;
	/* which cgroup is its: the device policy may set a sound card
	 * aside for it alone during a call (callaudio.c) */
	if (tf_cgroup_id(cgfd, &s->cgroup_id) < 0)
		s->cgroup_id = 0;
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
		svc_kill(d, s);
		s->pid = 0;
	}
	chan_close(d, s);
	if (p->rt)
		(void)tf_persona_keep_end(p->rt, s->name);
	s->backoff_s = 0;
	s->next_start_ns = 0;
}
