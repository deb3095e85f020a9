/* SPDX-License-Identifier: ISC */
/*
 * Control socket and event loop. One thread, one epoll set, every entry an
 * event source with a callback (struct tfd_source): the listening socket,
 * a signalfd (SIGTERM/SIGINT/SIGHUP/SIGCHLD), a 1 s timerfd on
 * CLOCK_BOOTTIME (lock->evict timeouts, which count time suspended), every
 * client connection, the pidfd of every app started with `run`, of every
 * persona init and of the guard (guard.c), each job's completion (jobs.c),
 * and each stopping persona's cgroup.events and timer (lifecycle.c).
 * Nothing on this thread waits: slow work is a job or a source.
 */
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>

#include "twofold/log.h"
#include "daemon.h"

void tfd_server_close(struct tfd *d);
int tfd_server_open(struct tfd *d);
int tfd_serve(struct tfd *d);
int tfd_load_state(struct tfd *d, char *err, size_t errlen);

static void conn_event(struct tfd *d, struct tfd_source *s, uint32_t events);
void tfd_reply_err(struct tfd_reply *rep, int err, const char *fmt, ...)
{
	va_list ap;

	rep->err = err;
	rep->reason[0] = '\0';
	rep->n_params = 0;
	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
	va_end(ap);
}

void tfd_reply_fail(struct tfd_reply *rep, int err, const char *reason,
		    const char *persona, const char *fmt, ...)
{
	va_list ap;

	rep->err = err;
	snprintf(rep->reason, sizeof(rep->reason), "%s", reason);
	rep->n_params = 0;
	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
	va_end(ap);
	if (persona != NULL)
		tfd_reply_param(rep, "persona", "%s", persona);
}

void tfd_reply_param(struct tfd_reply *rep, const char *key, const char *fmt,
		     ...)
{
	struct tf_err_param *pa = NULL;
	va_list ap;

	for (unsigned i = 0; i < rep->n_params; i++)
		if (strcmp(rep->params[i].key, key) == 0)
			pa = &rep->params[i];
	if (pa == NULL) {
		if (rep->n_params >= TF_ERR_PARAMS_MAX)
			return;
		pa = &rep->params[rep->n_params++];
	}
	snprintf(pa->key, sizeof(pa->key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(pa->val, sizeof(pa->val), fmt, ap);
	va_end(ap);
}

/* A failure's reason on the wire: its own, else "errno.NAME" from the
 * errno (a name, not a number: errno values differ between
 * architectures) */
void tfd_reply_reason(const struct tfd_reply *rep, char *buf, size_t cap)
{
	const char *n;

	if (rep->reason[0]) {
		snprintf(buf, cap, "%s", rep->reason);
		return;
	}
	n = strerrorname_np(-rep->err);
	if (n != NULL)
		snprintf(buf, cap, "errno.%s", n);
	else
		snprintf(buf, cap, "errno.%d", -rep->err);
}

int tfd_source_add(struct tfd *d, struct tfd_source *s, int fd, uint32_t events,
		   tfd_source_cb cb, void *data)
{
	struct epoll_event ev = {.events = events, .data.ptr = s};

	s->fd = fd;
	s->cb = cb;
	s->data = data;
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return tf_negerrno();
	s->added = true;
	return 0;
}

void tfd_source_del(struct tfd *d, struct tfd_source *s)
{
	if (s->added && s->fd >= 0)
		epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
	s->added = false;
}

int tfd_timer_arm(struct tfd *d, struct tfd_source *s, uint64_t ns,
		  tfd_source_cb cb, void *data)
{
	struct itimerspec its = {.it_value = {(time_t)(ns / 1000000000ull),
					      (long)(ns % 1000000000ull)}};
	int r;

	if (ns == 0)
		its.it_value.tv_nsec = 1; /* 0 would disarm */
	if (!s->added) {
		int fd = timerfd_create(CLOCK_BOOTTIME,
					TFD_CLOEXEC | TFD_NONBLOCK);
		if (fd < 0)
			return tf_negerrno();
		r = tfd_source_add(d, s, fd, EPOLLIN, cb, data);
		if (r < 0) {
			close(fd);
			s->fd = -1;
			return r;
		}
	}
	s->cb = cb;
	s->data = data;
	if (timerfd_settime(s->fd, 0, &its, NULL) < 0)
		return tf_negerrno();
	return 0;
}

void tfd_timer_disarm(struct tfd *d, struct tfd_source *s)
{
	struct itimerspec its = {0};

	(void)d;
	if (s->added)
		(void)timerfd_settime(s->fd, 0, &its, NULL);
}

void tfd_timer_close(struct tfd *d, struct tfd_source *s)
{
	if (!s->added)
		return;
	tfd_source_del(d, s);
	close(s->fd);
	s->fd = -1;
}

/* FNV-1a: only to give each state directory its own cgroup name. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* device.conf control_group: its gid, once at start (a group renamed
 * later keeps its gid; a restart picks up a new one). */
static int resolve_group(struct tfd *d, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int r;

	d->has_group = false;
	if (d->cfg.control_group[0] == '\0')
		return 0;
	r = getgrnam_r(d->cfg.control_group, &gr, buf, sizeof(buf), &res);
	if (r != 0 || res == NULL) {
		snprintf(err, errlen,
			 "%s/device.conf: control_group %s is not a group on "
			 "this host (create it with: groupadd %s, or remove "
			 "the line)",
			 d->state_dir, d->cfg.control_group,
			 d->cfg.control_group);
		return r ? -r : -ENOENT;
	}
	if (res->gr_gid == 0) {
		snprintf(err, errlen,
			 "%s/device.conf: control_group %s is gid 0; name a "
			 "group of its own (e.g. twofold)",
			 d->state_dir, d->cfg.control_group);
		return -EINVAL;
	}
	d->control_gid = res->gr_gid;
	d->has_group = true;
	return 0;
}

int tfd_load_state(struct tfd *d, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	char real[PATH_MAX], perr[256] = "";
	size_t len;
	int r;

	d->state_fd = open(d->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->state_fd < 0) {
		r = tf_negerrno();
		if (r == -ENOENT)
			snprintf(err, errlen,
				 "state directory %s does not exist (create "
				 "it with: twofold --state %s init)",
				 d->state_dir, d->state_dir);
		else
			snprintf(err, errlen,
				 "cannot open state directory "
				 "%s: %s",
				 d->state_dir, strerror(-r));
		return r;
	}
	if (realpath(d->state_dir, real) == NULL)
		return tf_negerrno();
	r = tf_read_file_at(d->state_fd, "device.conf", TF_CONFIG_MAX, &text,
			    &len);
	if (r == -ENOENT) {
		snprintf(err, errlen,
			 "%s has no device.conf (create it with: twofold "
			 "--state %s init)",
			 d->state_dir, d->state_dir);
		return r;
	}
	if (r == -EFBIG) {
		snprintf(err, errlen, "%s/device.conf is larger than %d bytes",
			 d->state_dir, TF_CONFIG_MAX);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s/device.conf: %s",
			 d->state_dir, strerror(-r));
		return r;
	}
	r = tf_config_parse(text, len, &d->cfg, perr, sizeof(perr));
	if (r < 0) {
		snprintf(err, errlen, "%s/device.conf: %s%s", d->state_dir,
			 perr,
			 r == -EPROTONOSUPPORT ? "; upgrade twofold" : "");
		return r;
	}
	r = tf_config_validate(&d->cfg, true, perr, sizeof(perr));
	if (r < 0) {
		snprintf(err, errlen, "%s/device.conf: %s", d->state_dir, perr);
		return r;
	}
	snprintf(d->cg_group, sizeof(d->cg_group), "twofold-%08x",
		 name_hash(real));
	d->owner_uid = geteuid();
	return resolve_group(d, err, errlen);
}

static bool default_state(const struct tfd *d)
{
	return !d->state_given;
}

/* Is a live daemon answering on this path? */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

static void accept_one(struct tfd *d);

static void listen_event(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	(void)s;
	(void)events;
	accept_one(d);
}

const char *tfd_signal_name(unsigned signo)
{
	static __thread char buf[32];
	const char *abbrev = sigabbrev_np((int)signo);

	if (abbrev == NULL) {
		snprintf(buf, sizeof(buf), "signal %u", signo);
		return buf;
	}
	snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	return buf;
}

/* SIGTERM and SIGINT end the loop (tfd_serve returns). */
static bool shutdown_asked;

static void signal_event(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct signalfd_siginfo si;
	bool chld = false;

	(void)s;
	(void)events;
	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			chld = true;
			continue;
		}
		/* SIGHUP is "reload" to a service manager (systemctl
		 * reload) and what a closed terminal sends: never a reason to
		 * stop every persona. Nothing is reloadable yet: device.conf
		 * is validated with the state as one, at start. */
		if (si.ssi_signo == SIGHUP) {
			tf_info("SIGHUP: ignored (device.conf is read at "
				"start; "
				"restart twofoldd to apply changes)");
			continue;
		}
		tf_info("%s: shutting down", tfd_signal_name(si.ssi_signo));
		shutdown_asked = true;
		return;
	}
	if (chld)
		tfd_apps_sigchld(d);
}

static void tick_event(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	uint64_t ticks;

	(void)s;
	(void)events;
	if (read(d->timer_fd, &ticks, sizeof(ticks)) > 0) {
		tfd_timer_tick(d);
		tfd_run_tick(d);
		tfd_shellproc_tick(d);
	}
}

static void guard_event(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	(void)events;
	tfd_source_del(d, s);
	tfd_guard_exited(d);
}

/*
 * With control_group, the socket is 0660 root:group, and the group must
 * reach it. The default socket's directory, /run/twofold, holds only the
 * socket: it becomes 0710 root:group (enter, not list). A socket in a
 * state directory given with --state is reached through that directory:
 * we never open it ourselves (statecheck.c accepts 0710 root:group, which
 * lets the group enter it and nothing more, every entry inside staying
 * 0700/0600 root), so the operator decides, and is told how.
 */
static int open_to_group(struct tfd *d)
{
	struct stat st;

	if (!d->has_group)
		return 0;
	if (chown(d->sock_path, 0, d->control_gid) < 0 ||
	    chmod(d->sock_path, 0660) < 0)
		return tf_negerrno();
	if (default_state(d)) {
		if (chown("/run/twofold", 0, d->control_gid) < 0 ||
		    chmod("/run/twofold", 0710) < 0)
			return tf_negerrno();
		return 0;
	}
	if (stat(d->state_dir, &st) == 0 &&
	    !(st.st_gid == d->control_gid && (st.st_mode & 0010)))
		tf_warn("control_group %s cannot reach the socket in %s; let "
			"it with: chgrp %s %s && chmod 0710 %s",
			d->cfg.control_group, d->state_dir,
			d->cfg.control_group, d->state_dir, d->state_dir);
	return 0;
}

int tfd_server_open(struct tfd *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
	sigset_t mask;
	mode_t old;
	int r;

	r = tf_control_path(default_state(d) ? NULL : d->state_dir,
			    d->sock_path, sizeof(d->sock_path));
	if (r < 0)
		return r;
	if (default_state(d) && (r = tf_mkdir_p("/run/twofold", 0700)) < 0)
		return r;
	/* a directory left open to a group by an earlier configuration is
	 * closed again; open_to_group reopens it to this one */
	if (default_state(d) && chmod("/run/twofold", 0700) < 0)
		return tf_negerrno();
	if (socket_alive(d->sock_path)) {
		tf_err("another twofoldd is already serving %s", d->sock_path);
		return -EADDRINUSE;
	}
	unlink(d->sock_path); /* stale from a killed predecessor */
	d->listen_fd = socket(AF_UNIX,
			      SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->listen_fd < 0)
		return tf_negerrno();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock_path);
	/* umask makes the socket 0600 from the moment it exists */
	old = umask(0177);
	r = bind(d->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return tf_negerrno();
	if (chmod(d->sock_path, 0600) < 0)
		return tf_negerrno();
	if ((r = open_to_group(d)) < 0)
		return r;
	/* Accepted sockets inherit SO_PASSCRED at accept: set per connection
	 * after accept4() it would leave a window in which a datagram arrives
	 * without credentials (refused as unauthenticated). Datagrams queued
	 * before the accept carry them anyway (the kernel stamps them while
	 * the receiving socket is not accepted yet). */
	{
		int one = 1;
		if (setsockopt(d->listen_fd, SOL_SOCKET, SO_PASSCRED, &one,
			       sizeof(one)) < 0)
			return tf_negerrno();
	}
	if (listen(d->listen_fd, 64) < 0)
		return tf_negerrno();

	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epoll_fd < 0)
		return tf_negerrno();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* apps are our children (the launcher clones them CLONE_PARENT): a
	 * stopped one is told to its CLI (job control), see req_run.c */
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return tf_negerrno();
	d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->signal_fd < 0)
		return tf_negerrno();
	/* CLOCK_BOOTTIME: after a suspend the tick fires at once and counts
	 * the time slept toward lock_evict_after (tfd_timer_tick) */
	d->timer_fd =
		timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->timer_fd < 0)
		return tf_negerrno();
	if (timerfd_settime(d->timer_fd, 0, &its, NULL) < 0)
		return tf_negerrno();
	if ((r = tfd_source_add(d, &d->listen_src, d->listen_fd, EPOLLIN,
				listen_event, NULL)) < 0 ||
	    (r = tfd_source_add(d, &d->signal_src, d->signal_fd, EPOLLIN,
				signal_event, NULL)) < 0 ||
	    (r = tfd_source_add(d, &d->timer_src, d->timer_fd, EPOLLIN,
				tick_event, NULL)) < 0)
		return r;
	/* the guard's death is noticed at once (its pidfd), not at a tick */
	if (tfd_guard_pidfd() >= 0 &&
	    (r = tfd_source_add(d, &d->guard_src, tfd_guard_pidfd(), EPOLLIN,
				guard_event, NULL)) < 0)
		return r;
	return 0;
}

void tfd_server_close(struct tfd *d)
{
	for (size_t i = 0; i < TFD_CONN_MAX; i++)
		if (d->conns[i])
			tfd_conn_close(d, d->conns[i]);
	tfd_timer_close(d, &d->ev_reaper); /* events.c */
	if (d->listen_fd > 0) {
		close(d->listen_fd);
		unlink(d->sock_path);
		d->listen_fd = -1;
	}
}

int tfd_send_reply(struct tfd_conn *c, uint16_t type,
		   const struct tfd_reply *rep)
{
	return tfd_send_reply_fds(c, type, rep, NULL, 0);
}

int tfd_send_reply_fds(struct tfd_conn *c, uint16_t type,
		       const struct tfd_reply *rep, const int *fds, size_t nfds)
{
	struct tf_msgbuf b;
	int r;

	tf_msgbuf_init(&b, type);
	tf_msgbuf_put_i32(&b, TF_A_ERRNO, rep->err);
	if (rep->msg[0])
		tf_msgbuf_put_str(&b, TF_A_MESSAGE, rep->msg);
	if (rep->err < 0) {
		char reason[TF_REASON_MAX], kv[TF_ERR_KEY_MAX + TF_ERR_VAL_MAX];

		tfd_reply_reason(rep, reason, sizeof(reason));
		tf_msgbuf_put_str(&b, TF_A_REASON, reason);
		for (unsigned i = 0; i < rep->n_params; i++) {
			snprintf(kv, sizeof(kv), "%s=%s", rep->params[i].key,
				 rep->params[i].val);
			tf_msgbuf_put_str(&b, TF_A_PARAM, kv);
		}
	}
	if (rep->text)
		tf_msgbuf_put_str(&b, TF_A_TEXT, rep->text);
	if (rep->json)
		tf_msgbuf_put_str(&b, TF_A_JSON, rep->json);
	if (rep->exit_code >= 0)
		tf_msgbuf_put_i32(&b, TF_A_EXIT, rep->exit_code);
	r = tf_msgbuf_finish(&b);
	if (r == 0)
		r = tf_msg_send(c->fd, &b, fds, nfds);
	tf_msgbuf_free(&b);
	return r;
}

void tfd_conn_reply(struct tfd *d, struct tfd_conn *c, struct tfd_reply *rep)
{
	if (c != NULL) {
		c->waiting = false;
		if (c->fd >= 0)
			tfd_send_reply(c, TF_REP_RESULT, rep);
	}
	if (rep->after != NULL)
		rep->after(d, rep->after_p);
	rep->after = NULL;
	free(rep->text);
	free(rep->json);
	rep->text = rep->json = NULL;
}

void tfd_conn_close(struct tfd *d, struct tfd_conn *c)
{
	for (size_t i = 0; i < TFD_CONN_MAX; i++)
		if (d->conns[i] == c)
			d->conns[i] = NULL;
	/* a job or a stop that would answer it answers nobody now */
	if (c->waiting)
		tfd_conn_forget(d, c);
	c->waiting = false;
	if (c->app.pidfd >= 0) {
		/* the caller went away (terminal closed, CLI killed): the app
		 * gets a hangup like any program whose terminal disappears */
		tf_debug("client gone, sending SIGHUP to app %d", c->app.pid);
		if (tfd_app_signal(c, SIGHUP) < 0)
			tf_debug("app %d already gone", c->app.pid);
		/* the run is over for its owner: unless it is a service, what
		 * is left is killed after a short grace for SIGHUP handlers
		 * (tfd_run_tick) */
		if (!c->app.service)
			tfd_orphan_add(d, c);
		/* keep watching the app so it is reaped; it has no conn now */
		c->app.conn = NULL;
		c->closing = true;
	}
	if (c->fd >= 0) {
		tfd_source_del(d, &c->src);
		close(c->fd);
		c->fd = -1;
	}
	if (c->rd.buf)
		tf_memzero(c->rd.buf, c->rd.total);
	tf_msg_reader_reset(&c->rd);
	if (c->app.pidfd < 0)
		free(c);
	/* else freed by tfd_app_exited once the app is reaped */
}

static enum tfd_caller uid_class(const struct tfd *d, uid_t uid)
{
	if (uid == 0 || uid == d->owner_uid)
		return TFD_CALL_ROOT;
	if (d->cfg.shell_uid != 0 && uid == d->cfg.shell_uid)
		return TFD_CALL_SHELL;
	return TFD_CALL_NONE;
}

/* The class of who connected: by uid, else by the groups it had at
 * connect (SO_PEERGROUPS: the kernel's copy, not /proc, which a caller
 * could change between connect and the check). */
static enum tfd_caller peer_class(const struct tfd *d, int fd,
				  const struct ucred *cred)
{
	enum tfd_caller k = uid_class(d, cred->uid);
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (k != TFD_CALL_NONE || !d->has_group)
		return k;
	if (cred->gid == d->control_gid)
		return TFD_CALL_GROUP;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return TFD_CALL_NONE; /* more than 256 groups: not trusted */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == d->control_gid)
			return TFD_CALL_GROUP;
	return TFD_CALL_NONE;
}

static void accept_one(struct tfd *d)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct tfd_conn *c;
	size_t slot = TFD_CONN_MAX, others = 0;
	int fd;

	fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		tf_warn("refusing a client: no peer credentials");
		close(fd);
		return;
	}
	/* The last TFD_CONN_ROOT_RESERVE slots are root's: a member of
	 * control_group holding every connection must not keep root from
	 * unlocking, wiping or stopping (E2 admits locking, not that). */
	for (size_t i = 0; i < TFD_CONN_MAX; i++) {
		if (d->conns[i] == NULL)
			slot = slot < TFD_CONN_MAX ? slot : i;
		else if (d->conns[i]->peer_class != TFD_CALL_ROOT)
			others++;
	}
	if (slot == TFD_CONN_MAX ||
	    (others >= TFD_CONN_MAX - TFD_CONN_ROOT_RESERVE &&
	     uid_class(d, cred.uid) != TFD_CALL_ROOT)) {
		tf_warn("refusing a client (uid %u): too many connections",
			cred.uid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->peer_class = peer_class(d, fd, &cred);
	c->app.pidfd = -1;
	c->app.conn = c;
	tf_msg_reader_init(&c->rd, c->peer_class == TFD_CALL_ROOT
					   ? TF_MSG_MAX
					   : TFD_MSG_MAX_USER);
	c->rd.sbuf = d->rxbuf; /* see struct tfd */
	/* every request is authorised by the credentials stamped on its own
	 * datagrams (peer_allowed); datagrams queued before this call carry
	 * them too (the kernel adds them while the socket is not accepted) */
	{
		int one = 1;
		if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) <
		    0) {
			tf_warn("refusing a client: SO_PASSCRED: %s",
				strerror(errno));
			close(fd);
			free(c);
			return;
		}
	}
	c->rd.want_creds = true;
	if (tfd_source_add(d, &c->src, fd, EPOLLIN, conn_event, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	d->conns[slot] = c;
}

/*
 * Who may ask: the socket is 0600, or 0660 to control_group (the first
 * wall). Then every request is authorised by the credentials of whoever
 * *sent* it (SCM_CREDENTIALS, stamped by the kernel on each datagram at
 * send time), not only by who connected (SO_PEERCRED, fixed at connect):
 * a root CLI's connection that leaked into an app — an inherited fd, one
 * passed as stdio — speaks with the app's identity (a uid of the
 * persona's range) and is refused. The request gets the lesser class of
 * the two: the sender's by its uid, or, when it is the uid that
 * connected, the groups that one had (the sender's groups are not on the
 * datagram). The dispatch table's caller column then decides.
 */
static bool peer_allowed(struct tfd *d, struct tfd_conn *c)
{
	enum tfd_caller snd;

	c->caller = TFD_CALL_NONE;
	if (c->peer_class == TFD_CALL_NONE || !c->rd.creds_ok)
		return false;
	snd = uid_class(d, c->rd.cred_uid);
	if (snd == TFD_CALL_NONE && c->rd.cred_uid == c->uid)
		snd = c->peer_class;
	/* the classes are ordered GROUP < SHELL < ROOT */
	c->caller = TF_MIN(snd, c->peer_class);
	return c->caller != TFD_CALL_NONE;
}

/* Is fd a socket connected to (or bound at) our control socket? Such an
 * fd must never be handed to an app: it would be a line to the daemon
 * from inside a persona. */
static bool is_our_socket(const struct tfd *d, int fd)
{
	struct sockaddr_un sa;
	socklen_t len;
	int domain;
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    domain != AF_UNIX)
		return false;
	for (int peer = 0; peer < 2; peer++) {
		memset(&sa, 0, sizeof(sa));
		len = sizeof(sa);
		if ((peer ? getpeername(fd, (struct sockaddr *)&sa, &len)
			  : getsockname(fd, (struct sockaddr *)&sa, &len)) < 0)
			continue;
		if (len > offsetof(struct sockaddr_un, sun_path) &&
		    strncmp(sa.sun_path, d->sock_path, sizeof(sa.sun_path)) ==
			    0)
			return true;
	}
	return false;
}

static void conn_event(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_conn *c = s->data;

	(void)events;
	struct tfd_reply rep = {.exit_code = -1};
	struct tf_msg m;
	int r;

	r = tf_msg_reader_step(c->fd, &c->rd);
	if (r == 0)
		return;
	if (r == -ECONNRESET) {
		tfd_conn_close(d, c);
		return;
	}
	if (r < 0)
		goto refuse;
	if (!peer_allowed(d, c)) {
		r = -EPERM;
		goto refuse;
	}
	for (size_t i = 0; i < c->rd.nfds; i++)
		if (is_our_socket(d, c->rd.fds[i])) {
			r = -ELOOP;
			goto refuse;
		}
	r = tf_msg_parse(c->rd.buf, c->rd.total, &m);
	if (r < 0)
		goto refuse;
	if (tf_msg_str(&m, TF_A_SECRET) != NULL) /* test_secrets.sh */
		tf_fault_point("credential-parsed");
	tfd_dispatch(d, c, &m);
	tf_msg_clear(&m);
	/* the request may have carried a credential: wipe it now */
	if (c->rd.buf)
		tf_memzero(c->rd.buf, c->rd.total);
	if (c->closing) {
		tfd_conn_close(d, c);
		return;
	}
	tf_msg_reader_reset(&c->rd);
	return;

refuse:
	/* one answer, then the connection goes: its framing is not trusted */
	switch (r) {
	case -EMSGSIZE:
		tfd_reply_fail(&rep, r, TF_R_REQUEST_TOO_LARGE, NULL,
			       "request larger than %zu bytes", c->rd.max);
		break;
	case -EPROTONOSUPPORT:
		tfd_reply_fail(&rep, r, TF_R_REQUEST_UNSUPPORTED, NULL,
			       "unsupported protocol version (this twofoldd "
			       "speaks %d)",
			       TF_PROTO_VERSION);
		break;
	case -EPERM:
		if (d->has_group)
			tfd_reply_fail(&rep, r, TF_R_REQUEST_DENIED, NULL,
				       "permission denied: only root and the "
				       "members of group %s may control "
				       "twofoldd",
				       d->cfg.control_group);
		else
			tfd_reply_fail(&rep, r, TF_R_REQUEST_DENIED, NULL,
				       "permission denied: only root may "
				       "control twofoldd");
		break;
	case -ELOOP:
		tfd_reply_fail(
			&rep, r, TF_R_REQUEST_DENIED, NULL,
			"refused: a passed descriptor is a connection to "
			"twofoldd itself");
		break;
	default:
		tfd_reply_fail(&rep, r, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request");
		break;
	}
	tf_warn("client pid %d: %s", c->pid, rep.msg);
	tfd_audit_refused(d, c, NULL, NULL, &rep);
	tfd_send_reply(c, TF_REP_RESULT, &rep);
	tfd_conn_close(d, c);
}

int tfd_serve(struct tfd *d)
{
	struct epoll_event ev;

	/* One event per wakeup: a callback may free any source (a
	 * connection, its app), and no stale pointer from the same batch
	 * can then be called. The cost is one epoll_wait per event. */
	while (!shutdown_asked) {
		int n = epoll_wait(d->epoll_fd, &ev, 1, -1);
		struct tfd_source *s;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return tf_negerrno();
		}
		if (n == 0)
			continue;
		s = ev.data.ptr;
		s->cb(d, s, ev.events);
	}
	return 0;
}
