/* SPDX-License-Identifier: ISC */
/*
 * Notifications (issue 14 item 5; docs/shell.md "Notifications"): with
 * display = shell, each running persona gets a session bus and a notifier
 * started by the daemon inside it, as its app uid (TF_APP_UID_DEFAULT),
 * through the same launcher as `twofold run`:
 *
 *   dbus-daemon --session --nofork --address unix:path=/run/user/1000/bus
 *       --print-address=1      stdout: a pipe; its first line says "ready"
 *   tf-notifyd --fd 1          stdout: one end of a SOCK_SEQPACKET pair
 *
 * The daemon never speaks D-Bus: it reads fixed records from its end of
 * the pair (tf_notify_parse), at most TFD_NOTIFY_BATCH a wakeup so a
 * flooding persona cannot hold the loop, keeps them in the persona's
 * store (rate limited), and tells subscribers "notify NAME id N", never
 * the text. The text goes out only on NOTIFY_GET, through the redaction
 * rule (tf_notify_render). The store is wiped whenever the persona leaves
 * "running" (a lock, an evict, a stop).
 *
 * A dead bus or notifier is started again from the 1 s tick with a
 * backoff (1 s doubling to 60 s, back to 1 s once one ran for a minute);
 * status says why it is down. Each process lives in a run cgroup of its
 * own, killed with everything it left when it goes.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tf_config.h"
#include "twofold/log.h"
#include "twofold/notify.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "daemon.h"

#define TFD_NOTIFY_BATCH 16
#define BACKOFF_MAX_S 60u
#define STABLE_NS (60ull * 1000000000ull)
#define DBUS_DAEMON "/usr/bin/dbus-daemon"
#define BUS_ADDRESS "unix:path=" TF_SHELL_RUNTIME_DIR "/bus"

struct proc {
	pid_t pid;
	int pidfd; /* -1: not running */
	struct tfd_source src;
	char cg[TF_PERSONA_CG_NAME_MAX]; /* its run cgroup, "" none */
	uint64_t started_ns;
	bool dying; /* killed, not yet reaped */
	int status; /* how it ended: its exit status, 128 + a signal */
};

struct tfd_notifier {
	struct tfd_persona *p;
	struct tf_notify_store store;
	struct proc bus, ntf;
	int ready_fd; /* the bus's stdout until it printed its address */
	struct tfd_source ready_src;
	int sock; /* the daemon's end of the notifier's pair */
	struct tfd_source sock_src;
	unsigned backoff_s, restarts;
	uint64_t next_start_ns; /* 0: start at the next chance */
	uint64_t bad_records;
	char error[160]; /* why it is down ("" fine) */
};

static const char *notifier_path(void)
{
	/* a path inside the persona (it sees the host's /usr read-only);
	 * tests point it at a copy of the build tree's */
	const char *e = secure_getenv("TWOFOLD_NOTIFYD");

	return e && e[0] == '/' ? e : TF_LIBEXECDIR "/tf-notifyd";
}

static bool wanted(const struct tfd_persona *p)
{
	return p->notify && p->rt && !p->halt.active &&
	       (p->state & (TFD_P_RUNNING | TFD_P_FROZEN | TFD_P_FREEZING));
}

static void proc_init(struct proc *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->pidfd = -1;
	pr->src.fd = -1;
}

static void close_ready(struct tfd *d, struct tfd_notifier *n)
{
	if (n->ready_fd < 0)
		return;
	tfd_source_del(d, &n->ready_src);
	close(n->ready_fd);
	n->ready_fd = -1;
}

static void close_sock(struct tfd *d, struct tfd_notifier *n)
{
	if (n->sock < 0)
		return;
	tfd_source_del(d, &n->sock_src);
	close(n->sock);
	n->sock = -1;
}

/* Reap pr if it is gone: true then (its pidfd closed), or when it was
 * reaped elsewhere (a persona stop reaps what is left of its apps) */
static bool proc_reap(struct tfd *d, struct proc *pr)
{
	siginfo_t si = {0};

	if (pr->pidfd < 0)
		return true;
	if (waitid(P_PIDFD, (id_t)pr->pidfd, &si, WEXITED | WNOHANG) == 0 &&
	    si.si_pid == 0)
		return false;
	pr->status =
		si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	tfd_source_del(d, &pr->src);
	close(pr->pidfd);
	pr->pidfd = -1;
	pr->dying = false;
	return true;
}

/* Kill pr and what it left (its cgroup). Never waits: a process not yet
 * gone is reaped by its pidfd's callback (dying), and nothing is started
 * in its place before. */
static void proc_kill(struct tfd *d, struct tfd_persona *p, struct proc *pr)
{
	if (pr->pidfd >= 0) {
		(void)syscall(SYS_pidfd_send_signal, pr->pidfd, SIGKILL, NULL,
			      0);
		if (!proc_reap(d, pr))
			pr->dying = true;
	}
	if (pr->cg[0] && p->rt)
		(void)tf_persona_run_cgroup_end(p->rt, pr->cg, true);
	pr->cg[0] = '\0';
}

/* the persona stops: its processes are killed and reaped by
 * tf_persona_stop; only our watch goes */
static void proc_forget(struct tfd *d, struct proc *pr)
{
	if (pr->pidfd >= 0) {
		tfd_source_del(d, &pr->src);
		close(pr->pidfd);
	}
	pr->pidfd = -1;
	pr->dying = false;
	pr->cg[0] = '\0';
}

static void set_error(struct tfd_notifier *n, const char *fmt, ...)
	TF_PRINTF(2, 3);
static void set_error(struct tfd_notifier *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->error, sizeof(n->error), fmt, ap);
	va_end(ap);
}

/* Both go (a notifier without its bus is useless and vice versa: a new
 * bus needs a new notifier); the tick starts them again after the
 * backoff. */
static void take_down(struct tfd *d, struct tfd_notifier *n, bool retry)
{
	struct tfd_persona *p = n->p;
	uint64_t now = tf_now_ns();
	bool stable = n->bus.started_ns && now - n->bus.started_ns > STABLE_NS;

	close_ready(d, n);
	close_sock(d, n);
	proc_kill(d, p, &n->ntf);
	proc_kill(d, p, &n->bus);
	if (!retry)
		return;
	if (stable || n->backoff_s == 0)
		n->backoff_s = 1;
	else
		n->backoff_s = TF_MIN(n->backoff_s * 2, BACKOFF_MAX_S);
	n->next_start_ns = now + (uint64_t)n->backoff_s * 1000000000ull;
	n->restarts++;
}

static void proc_exited(struct tfd *d, struct tfd_source *s, uint32_t events);

static int spawn(struct tfd *d, struct tfd_notifier *n, struct proc *pr,
		 char *const argv[], int out_fd)
{
	struct tfd_persona *p = n->p;
	const struct tf_profile *prof = tf_persona_profile(p->rt);
	const char *env[TF_PROF_ENV_MAX + 1];
	_cleanup_close_ int cgfd = -1;
	struct tf_exec_spec x;
	size_t ne = 0;
	int r;

	for (size_t i = 0; i < prof->n_env && i < TF_PROF_ENV_MAX; i++)
		env[ne++] = prof->env[i].entry;
	env[ne] = NULL;
	memset(&x, 0, sizeof(x));
	x.argv = argv;
	x.envp = (char *const *)env;
	x.uid = TF_APP_UID_DEFAULT;
	x.gid = TF_APP_UID_DEFAULT;
	x.fds[0] = -1;
	x.fds[1] = out_fd;
	x.fds[2] = -1; /* never the daemon's log: it is the persona's text */
	r = tf_persona_run_cgroup(p->rt, &cgfd, pr->cg);
	if (r == 0) {
		x.flags |= TF_EXEC_CGROUP;
		x.cgroup_fd = cgfd;
	} else if (r != -EOPNOTSUPP) {
		return r;
	}
	r = tf_persona_exec(p->rt, &x, &pr->pid, &pr->pidfd);
	if (r < 0) {
		if (pr->cg[0])
			(void)tf_persona_run_cgroup_end(p->rt, pr->cg, true);
		pr->cg[0] = '\0';
		pr->pidfd = -1;
		return r;
	}
	pr->started_ns = tf_now_ns();
	r = tfd_source_add(d, &pr->src, pr->pidfd, EPOLLIN, proc_exited, n);
	if (r < 0) {
		/* unwatched: killed, and forgotten (the persona's stop reaps
		 * it) rather than left dying with nobody to reap it */
		proc_kill(d, p, pr);
		proc_forget(d, pr);
		return r;
	}
	return 0;
}

static void sock_ready(struct tfd *d, struct tfd_source *s, uint32_t events);

static void start_notifier(struct tfd *d, struct tfd_notifier *n)
{
	static char *const argv_t[] = {NULL, "--fd", "1", NULL};
	char *argv[4];
	int sv[2], r, sz = 32 * TF_NOTIFY_MAX;

	memcpy(argv, argv_t, sizeof(argv));
	argv[0] = (char *)notifier_path();
	/* the notifier's end blocks (it makes it non-blocking itself); ours
	 * never does. Its send buffer bounds what a flood parks in the
	 * kernel for us: a few dozen records, the rest it drops. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		set_error(n, "socketpair: %s", strerror(errno));
		take_down(d, n, true);
		return;
	}
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	n->sock = sv[0];
	r = spawn(d, n, &n->ntf, argv, sv[1]);
	close(sv[1]);
	if (r == 0)
		r = tfd_source_add(d, &n->sock_src, n->sock, EPOLLIN,
				   sock_ready, n);
	if (r < 0) {
		set_error(n, "cannot start %s: %s", argv[0], strerror(-r));
		tf_warn("%s: notifications: %s", n->p->cfg->name, n->error);
		take_down(d, n, true);
		return;
	}
	n->error[0] = '\0';
	tf_debug("%s: notifier pid %d", n->p->cfg->name, (int)n->ntf.pid);
}

/* The bus printed its address: it listens, the notifier may connect. */
static void bus_ready(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_notifier *n = s->data;
	char buf[256];
	ssize_t k = read(n->ready_fd, buf, sizeof(buf));

	(void)events;
	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close_ready(d, n);
	if (k <= 0 || memchr(buf, '\n', (size_t)k) == NULL) {
		set_error(n, "dbus-daemon did not start (no address)");
		take_down(d, n, true);
		return;
	}
	start_notifier(d, n);
}

static void start_all(struct tfd *d, struct tfd_notifier *n)
{
	static char *const argv[] = {
		DBUS_DAEMON, "--session",	  "--nofork",	 "--address",
		BUS_ADDRESS, "--print-address=1", "--nopidfile", NULL,
	};
	const char *ntf = notifier_path();
	int pp[2], r;

	n->next_start_ns = 0;
	/* a device without them has no notifications, and says so */
	if (access(DBUS_DAEMON, X_OK) < 0 || access(ntf, X_OK) < 0) {
		set_error(n, "%s not installed",
			  access(DBUS_DAEMON, X_OK) < 0 ? DBUS_DAEMON : ntf);
		n->next_start_ns = tf_now_ns() + 60ull * 1000000000ull;
		return;
	}
	if (pipe2(pp, O_CLOEXEC) < 0) {
		set_error(n, "pipe: %s", strerror(errno));
		take_down(d, n, true);
		return;
	}
	(void)fcntl(pp[0], F_SETFL, O_NONBLOCK);
	n->ready_fd = pp[0];
	r = spawn(d, n, &n->bus, argv, pp[1]);
	close(pp[1]);
	if (r == 0)
		r = tfd_source_add(d, &n->ready_src, n->ready_fd, EPOLLIN,
				   bus_ready, n);
	if (r < 0) {
		set_error(n, "cannot start dbus-daemon: %s", strerror(-r));
		tf_warn("%s: notifications: %s", n->p->cfg->name, n->error);
		take_down(d, n, true);
		return;
	}
	set_error(n, "starting");
}

static void proc_exited(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_notifier *n = s->data;
	struct proc *pr = s == &n->bus.src ? &n->bus : &n->ntf;
	bool is_bus = pr == &n->bus, was_dying = pr->dying;

	(void)events;
	if (!proc_reap(d, pr))
		return; /* not yet */
	if (was_dying)
		return; /* we killed it: take_down did the rest */
	if (!wanted(n->p)) {
		take_down(d, n, false);
		return;
	}
	set_error(n, "%s exited (status %d); restarting",
		  is_bus ? "dbus-daemon" : "tf-notifyd", pr->status);
	tf_warn("%s: notifications: %s", n->p->cfg->name, n->error);
	take_down(d, n, true);
}

static void sock_ready(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_notifier *n = s->data;
	struct tfd_persona *p = n->p;
	/* one byte more than a record can be: a longer one is refused */
	uint8_t buf[TF_NOTIFY_MAX + 1];
	struct tf_notify rec;

	for (int i = 0; i < TFD_NOTIFY_BATCH; i++) {
		/* recv, not recvmsg: descriptors sent along are discarded
		 * by the kernel, never installed in the daemon */
		ssize_t k = recv(n->sock, buf, sizeof(buf), MSG_DONTWAIT);
		int64_t id;

		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return; /* drained; the level-triggered loop calls again */
		if (k <= 0) {
			/* the notifier closed its end (it died: its pidfd
			 * tells the rest) */
			close_sock(d, n);
			return;
		}
		if (tf_notify_parse(buf, (size_t)k, &rec) < 0) {
			n->bad_records++;
			explicit_bzero(buf, sizeof(buf));
			continue;
		}
		explicit_bzero(buf, sizeof(buf));
		/* a locked persona's apps are frozen; a record still queued
		 * from before the lock is dropped, not kept */
		if (p->state != TFD_P_RUNNING) {
			explicit_bzero(&rec, sizeof(rec));
			continue;
		}
		id = tf_notify_store_push(&n->store, &rec, tf_now_ns());
		explicit_bzero(&rec, sizeof(rec));
		if (id > 0)
			tfd_events_notify(d, p, (uint32_t)id);
	}
	(void)events;
}

void tfd_notify_setup(struct tfd *d)
{
	if (!tfd_display_on(d))
		return;
	for (size_t i = 0; i < d->cfg.n_personas && i < TF_PERSONA_MAX; i++) {
		struct tfd_notifier *n = calloc(1, sizeof(*n));

		if (n == NULL) {
			tf_warn("notifications: out of memory");
			return;
		}
		n->p = &d->personas[i];
		proc_init(&n->bus);
		proc_init(&n->ntf);
		n->ready_fd = -1;
		n->sock = -1;
		n->ready_src.fd = n->sock_src.fd = -1;
		d->personas[i].notify = n;
	}
}

void tfd_notify_persona_started(struct tfd *d, struct tfd_persona *p)
{
	if (p->notify == NULL)
		return;
	take_down(d, p->notify, false);
	p->notify->backoff_s = 0;
	start_all(d, p->notify);
}

void tfd_notify_persona_stopping(struct tfd *d, struct tfd_persona *p)
{
	if (p->notify == NULL)
		return;
	take_down(d, p->notify, false);
	proc_forget(d, &p->notify->ntf);
	proc_forget(d, &p->notify->bus);
	tf_notify_store_clear(&p->notify->store);
	p->notify->error[0] = '\0';
}

void tfd_notify_state(struct tfd *d, struct tfd_persona *p)
{
	(void)d;
	/* locked, frozen, evicted, stopped: the text leaves our memory */
	if (p->notify && p->state != TFD_P_RUNNING)
		tf_notify_store_clear(&p->notify->store);
}

void tfd_notify_tick(struct tfd *d)
{
	uint64_t now = tf_now_ns();

	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		struct tfd_notifier *n = p->notify;

		/* one still dying is reaped first (its pidfd) */
		if (n == NULL || !wanted(p) || n->bus.pidfd >= 0 ||
		    n->ntf.pidfd >= 0 || n->ready_fd >= 0)
			continue;
		/* frozen: its processes could not start anyway */
		if (p->state != TFD_P_RUNNING || now < n->next_start_ns)
			continue;
		start_all(d, n);
	}
}

void tfd_notify_shutdown(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_notifier *n = d->personas[i].notify;

		if (n == NULL)
			continue;
		take_down(d, n, false);
		proc_forget(d, &n->ntf);
		proc_forget(d, &n->bus);
		tf_notify_store_clear(&n->store);
		explicit_bzero(n, sizeof(*n));
		free(n);
		d->personas[i].notify = NULL;
	}
}

/* t: the text line's part, j: the JSON object's members (either NULL) */
void tfd_notify_status(const struct tfd_persona *p, FILE *t, FILE *j)
{
	const struct tfd_notifier *n = p->notify;
	const char *st;

	if (n == NULL)
		return;
	st = n->ntf.pidfd >= 0 && n->sock >= 0 ? "running"
	     : (n->bus.pidfd >= 0 && !n->bus.dying) || n->ready_fd >= 0
		     ? "starting"
	     : p->rt ? "down"
		     : "stopped";
	if (t) {
		fprintf(t, "  notify=%s:%zu", p->cfg->name, n->store.n);
		if (strcmp(st, "down") == 0 && n->error[0])
			fprintf(t, " (notifications down: %s)", n->error);
	}
	if (j == NULL)
		return;
	fprintf(j,
		",\"notify\":{\"kept\":%zu,\"last_id\":%u,\"refused\":%llu,"
		"\"bad\":%llu,\"notifier\":\"%s\",\"restarts\":%u",
		n->store.n, n->store.last_id,
		(unsigned long long)n->store.refused,
		(unsigned long long)n->bad_records, st, n->restarts);
	if (n->error[0] && strcmp(st, "running") != 0) {
		/* our own words, no persona bytes: plain JSON */
		fprintf(j, ",\"error\":\"");
		for (const char *c = n->error; *c; c++)
			if (*c != '"' && *c != '\\' && (unsigned char)*c >= 32)
				fputc(*c, j);
		fputc('"', j);
	}
	fputc('}', j);
}

static void json_text(FILE *j, const char *s)
{
	/* printable ASCII and '\n' only (tf_notify_parse), or our words */
	fputc('"', j);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(j, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", j);
		else if ((unsigned char)*s >= 32 && (unsigned char)*s < 127)
			fputc(*s, j);
	}
	fputc('"', j);
}

/* p's kept notifications (only id's if want) through the redaction rule,
 * onto t (and j); the count */
static size_t list_one(const struct tfd_persona *p, uint32_t want, FILE *t,
		       FILE *j, size_t *nj)
{
	const struct tfd_notifier *n = p->notify;
	enum tf_notify_view view = tf_notify_view_for(
		p->cfg->credential, p->foreground, p->state == TFD_P_RUNNING);
	size_t shown = 0;

	for (size_t k = 0; n && k < n->store.n; k++) {
		size_t slot = (n->store.head + k) % TF_NOTIFY_KEEP;
		/* a full entry: the three fields and two newlines */
		char out[TF_NOTIFY_APP_MAX + TF_NOTIFY_SUMMARY_MAX +
			 TF_NOTIFY_BODY_MAX + 8];
		uint32_t id = n->store.e[slot].id;

		if (want && id != want)
			continue;
		/* redacted: made without reading the entry at all */
		if (tf_notify_render(
			    view == TF_NOTIFY_FULL ? &n->store.e[slot].n : NULL,
			    p->cfg->name, view, out, sizeof(out)) < 0)
			continue;
		if (want)
			fputs(out, t);
		else
			fprintf(t, "%s #%u%s\n%s\n\n", p->cfg->name, id,
				view == TF_NOTIFY_FULL ? "" : " (redacted)",
				out);
		fprintf(j,
			"%s{\"persona\":\"%s\",\"id\":%u,\"view\":\"%s\","
			"\"text\":",
			(*nj)++ ? "," : "", p->cfg->name, id,
			view == TF_NOTIFY_FULL ? "full" : "redacted");
		json_text(j, out);
		fputc('}', j);
		explicit_bzero(out, sizeof(out));
		shown++;
	}
	return shown;
}

/* NOTIFY_GET: [PERSONA [ARG id]]. With an id: that one notification, TEXT
 * exactly what tf_notify_render made (the shell's banner). Without: every
 * kept one (of every persona without PERSONA), oldest first, "NAME #ID"
 * then its text then an empty line; JSON {"notifications": [...]}. The
 * redaction is decided here and nowhere else: the full text only for a
 * persona that is not credential-bound, or one running (unlocked) and in
 * front. Nothing kept (or display is not shell): an empty list. */
enum tfd_disp tfd_req_notify_get(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep)
{
	const char *name = tf_msg_str(m, TF_A_PERSONA);
	const char *ids = tf_msg_str(m, TF_A_ARG);
	char *text = NULL, *json = NULL;
	size_t tlen = 0, jlen = 0, shown = 0, nj = 0;
	FILE *t, *j;
	uint32_t want = 0;

	(void)c;
	if (tf_msg_count(m, TF_A_PERSONA) > 1 ||
	    tf_msg_count(m, TF_A_ARG) > 1 || (ids && !name)) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: notify get takes at most "
			       "one persona and, with it, one id");
		return TFD_REPLY_NOW;
	}
	p = name ? tfd_persona_lookup(d, name, rep) : NULL;
	if (name && p == NULL)
		return TFD_REPLY_NOW;
	if (ids) {
		char *end;
		unsigned long v = strtoul(ids, &end, 10);

		if (*ids < '1' || *ids > '9' || *end || v > UINT32_MAX) {
			tfd_reply_fail(rep, -EINVAL, TF_R_REQUEST_MALFORMED,
				       NULL,
				       "notify get: the id must be a number "
				       "(from the event \"notify %s id N\")",
				       p->cfg->name);
			return TFD_REPLY_NOW;
		}
		want = (uint32_t)v;
	}
	if (!tfd_streams_open(&t, &text, &tlen, &j, &json, &jlen)) {
		tfd_reply_err(rep, -ENOMEM, "notify get: out of memory");
		return TFD_REPLY_NOW;
	}
	fputs("{\"notifications\":[", j);
	for (size_t i = 0; i < d->n_personas; i++)
		if (p == NULL || p == &d->personas[i])
			shown += list_one(&d->personas[i], want, t, j, &nj);
	fputs("]}\n", j);
	if ((fclose(t) | fclose(j)) != 0) {
		free(text);
		free(json);
		tfd_reply_err(rep, -ENOMEM, "notify get: out of memory");
		return TFD_REPLY_NOW;
	}
	if (want && shown == 0) {
		free(text);
		free(json);
		tfd_reply_fail(rep, -ENOENT, TF_R_NOTIFY_NONE, p->cfg->name,
			       "no notification %u of %s kept (dropped, or "
			       "cleared at a lock)",
			       want, p->cfg->name);
		return TFD_REPLY_NOW;
	}
	rep->text = text;
	rep->json = json;
	tfd_reply_err(rep, 0, "%zu notification%s", shown,
		      shown == 1 ? "" : "s");
	return TFD_REPLY_NOW;
}
