/* SPDX-License-Identifier: ISC */
/*
 * The shell's link to twofoldd (--daemon PATH; docs/shell.md "Daemon
 * integration"). The shell runs as device.conf shell_uid, the daemon's
 * "shell" caller, and keeps two connections on the control socket:
 *
 *  - sub: SUBSCRIBE (TF_F_LIST): the answer is one "NAME STATE
 *    [foreground]" line per persona, then one EVENT per change. A persona
 *    is shown only while the daemon says it is "running"; the foreground
 *    is the daemon's. The daemon's state is the truth: the shell never
 *    switches or unlocks on its own.
 *  - req: the shell's own requests, one at a time (the daemon answers one
 *    outstanding request per connection), queued: STATUS once (for
 *    lock_idle_seconds), SWITCH (Super+Tab), UNLOCK (the pad), LOCK (the
 *    idle timer).
 *
 * Lost link: every credential persona is treated as locked (fail closed)
 * until a new subscription says otherwise; reconnects once a second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "twofold/common.h"
#include "twofold/ipc.h"

#include "shell.h"

#define QUEUE_MAX 8

enum req_kind {
	REQ_STATUS,
	REQ_SWITCH,
	REQ_UNLOCK,
	REQ_LOCK,
	REQ_ALERT_BODY,
	REQ_NOTIFY_GET,
	REQ_CROSS,
};

struct req {
	enum req_kind kind;
	struct tf_shell_persona *p;
	uint32_t id; /* NOTIFY_GET's */
	/* REQ_CROSS: the target (NULL: the copy half) and the byte count */
	struct tf_shell_persona *to;
	size_t len;
};

struct conn {
	struct tf_shell_daemon *dm;
	int fd;
	struct wl_event_source *src;
	struct tf_msg_reader rd;
};

struct tf_shell_daemon {
	struct tf_shell *shell;
	char path[108];
	struct conn sub, req;
	bool up; /* subscribed and its first answer read */
	/* req: the one in flight (busy) and the ones waiting */
	bool busy;
	struct req inflight;
	struct req queue[QUEUE_MAX];
	size_t n_queue;
	struct wl_event_source *retry, *idle;
	uint32_t idle_s; /* device.conf lock_idle_seconds, 0 = never */
};

static void conn_close(struct conn *c)
{
	if (c->src)
		wl_event_source_remove(c->src);
	c->src = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	tf_msg_reader_reset(&c->rd);
}

/* fail closed: no daemon, no credential persona on screen */
static void lose(struct tf_shell_daemon *dm, const char *why)
{
	struct tf_shell *s = dm->shell;

	if (dm->up || dm->sub.fd >= 0)
		fprintf(stderr,
			"twofold-shell: lost twofoldd (%s): secure personas "
			"locked until it is back\n",
			why);
	dm->up = false;
	/* a cross copy asked and never answered is refused (fail closed) */
	if (dm->busy && dm->inflight.kind == REQ_CROSS)
		tf_shell_clip_cross_answer(s, dm->inflight.p, dm->inflight.to,
					   false);
	for (size_t i = 0; i < dm->n_queue; i++)
		if (dm->queue[i].kind == REQ_CROSS)
			tf_shell_clip_cross_answer(s, dm->queue[i].p,
						   dm->queue[i].to, false);
	dm->busy = false;
	dm->n_queue = 0;
	conn_close(&dm->sub);
	conn_close(&dm->req);
	for (size_t i = 0; i < s->n_personas; i++)
		if (s->personas[i].secure)
			s->personas[i].locked = true;
	if (s->pad_for)
		tf_shell_pad_answer(s, -ENOTCONN, "twofoldd is not answering",
				    NULL, -1, -1);
	tf_shell_banner_update(s);
	if (s->fg && s->fg->locked)
		for (size_t i = 0; i < s->n_personas; i++)
			if (!s->personas[i].locked) {
				s->fg = &s->personas[i];
				break;
			}
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
	if (dm->retry)
		wl_event_source_timer_update(dm->retry, 1000);
}

static int send_simple(int fd, uint16_t type, const char *persona,
		       uint32_t flags)
{
	struct tf_msgbuf b;
	int r;

	tf_msgbuf_init(&b, type);
	if (persona)
		tf_msgbuf_put_str(&b, TF_A_PERSONA, persona);
	if (flags)
		tf_msgbuf_put_u32(&b, TF_A_FLAGS, flags);
	r = tf_msgbuf_finish(&b);
	if (r == 0)
		r = tf_msg_send(fd, &b, NULL, 0);
	tf_msgbuf_free(&b);
	return r;
}

/* NOTIFY_GET PERSONA id: one notification, redacted by the daemon unless
 * the persona may show it */
static int send_notify_get(int fd, const struct req *q)
{
	struct tf_msgbuf b;
	char id[16];
	int r;

	snprintf(id, sizeof(id), "%u", q->id);
	tf_msgbuf_init(&b, TF_REQ_NOTIFY_GET);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, q->p->name);
	tf_msgbuf_put_str(&b, TF_A_ARG, id);
	r = tf_msgbuf_finish(&b);
	if (r == 0)
		r = tf_msg_send(fd, &b, NULL, 0);
	tf_msgbuf_free(&b);
	return r;
}

static void set_persona(struct tf_shell *s, const char *name, const char *st,
			bool fg)
{
	struct tf_shell_persona *p = tf_shell_persona_by_name(s, name);

	if (!p)
		return; /* a persona the shell has no socket for */
	p->locked = strcmp(st, "running") != 0;
	if (fg)
		s->fg = p;
}

/* the subscription's answer: "NAME STATE [foreground]" lines */
static void read_list(struct tf_shell *s, const char *text)
{
	char line[128];
	bool any_fg = false;

	for (size_t i = 0; i < s->n_personas; i++)
		s->personas[i].locked = true; /* unlisted: not running */
	while (text && *text) {
		size_t n = strcspn(text, "\n");
		char name[TF_SHELL_NAME_MAX], st[24], fg[16] = "";

		if (n < sizeof(line)) {
			memcpy(line, text, n);
			line[n] = '\0';
			if (sscanf(line, "%31s %23s %15s", name, st, fg) >= 2) {
				bool is_fg = strcmp(fg, "foreground") == 0;
				set_persona(s, name, st, is_fg);
				any_fg |= is_fg;
			}
		}
		text += n;
		if (*text == '\n')
			text++;
	}
	if (!any_fg)
		s->fg = NULL;
}

static void idle_arm(struct tf_shell_daemon *dm);

/* one EVENT's text: "state NAME STATE (was X)" or "foreground NAME" */
static void read_event(struct tf_shell *s, const char *text)
{
	char kind[16], name[TF_SHELL_NAME_MAX], st[24];
	int n = text ? sscanf(text, "%15s %31s %23s", kind, name, st) : 0;

	if (n >= 3 && strcmp(kind, "state") == 0) {
		struct tf_shell_persona *p = tf_shell_persona_by_name(s, name);
		if (!p)
			return;
		/* an unlock starts an idle period of its own: a persona
		 * unlocked with `twofold unlock` while nobody touches the
		 * screen is locked again lock_idle_seconds later */
		if (p->locked && strcmp(st, "running") == 0 && p->secure &&
		    s->daemon)
			idle_arm(s->daemon);
		p->locked = strcmp(st, "running") != 0;
		if (p->locked)
			tf_shell_alert_locked(s, p);
		/* it was unlocked elsewhere (`twofold unlock`): the pad
		 * for it has nothing left to do */
		if (!p->locked && s->pad_for == p &&
		    s->pad_state != TF_SHELL_PAD_CHECKING)
			tf_shell_pad_close(s);
	} else if (n >= 3 && strcmp(kind, "alert") == 0) {
		/* "alert NAME id ID": the daemon checked it; the id only */
		struct tf_shell_persona *p = tf_shell_persona_by_name(s, name);
		char id[40];
		if (!p || strcmp(st, "id") != 0 ||
		    sscanf(text, "%*s %*s %*s %39s", id) != 1)
			return;
		tf_shell_alert_show(s, p, id);
		return;
	} else if (n >= 3 && strcmp(kind, "notify") == 0) {
		/* "notify NAME id N": the id only; banner.c decides whether
		 * to fetch (never for a credential persona not in front) */
		struct tf_shell_persona *p = tf_shell_persona_by_name(s, name);
		unsigned id;
		if (p && strcmp(st, "id") == 0 &&
		    sscanf(text, "%*s %*s %*s %u", &id) == 1 && id > 0)
			tf_shell_banner_event(s, p, id);
		return;
	} else if (n >= 2 && strcmp(kind, "foreground") == 0) {
		s->fg = tf_shell_persona_by_name(s, name); /* "none": NULL */
		s->switch_t0 = tf_shell_now_us();
		fprintf(stderr, "twofold-shell: foreground %s (twofoldd)\n",
			s->fg ? s->fg->name : "none");
	} else
		return;
	tf_shell_banner_update(s);
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
}

static void idle_arm(struct tf_shell_daemon *dm)
{
	if (dm->idle)
		wl_event_source_timer_update(
			dm->idle, dm->idle_s ? (int)(dm->idle_s * 1000u) : 0);
}

static void pump(struct tf_shell_daemon *dm);

/* a reply's PARAM "name=N" as a number, -1 if absent */
static int param_int(const struct tf_msg *m, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < m->n_attrs; i++) {
		const char *v = (const char *)m->attrs[i].val;

		if (m->attrs[i].type == TF_A_PARAM && m->attrs[i].len > n + 1 &&
		    strncmp(v, name, n) == 0 && v[n] == '=')
			return (int)strtol(v + n + 1, NULL, 10);
	}
	return -1;
}

static void answered(struct tf_shell_daemon *dm, const struct tf_msg *m)
{
	struct tf_shell *s = dm->shell;
	struct req q = dm->inflight;
	int32_t err = -EPROTO;
	const char *msg = tf_msg_str(m, TF_A_MESSAGE);

	(void)tf_msg_i32(m, TF_A_ERRNO, &err);
	dm->busy = false;
	switch (q.kind) {
	case REQ_STATUS: {
		const char *j = tf_msg_str(m, TF_A_JSON);
		const char *k = j ? strstr(j, "\"lock_idle_seconds\":") : NULL;
		if (k) {
			dm->idle_s = (uint32_t)strtoul(k + 20, NULL, 10);
			idle_arm(dm);
		}
		break;
	}
	case REQ_SWITCH:
		if (err < 0)
			fprintf(stderr,
				"twofold-shell: switch to %s refused: %s\n",
				q.p->name, msg ? msg : strerror(-err));
		break;
	case REQ_UNLOCK:
		tf_shell_pad_answer(s, err, msg, tf_msg_str(m, TF_A_REASON),
				    param_int(m, "wait_s"),
				    param_int(m, "tries_left"));
		break;
	case REQ_ALERT_BODY:
		tf_shell_alert_answer(s, err, tf_msg_str(m, TF_A_TEXT));
		break;
	case REQ_NOTIFY_GET:
		tf_shell_banner_answer(s, q.p, q.id, err,
				       tf_msg_str(m, TF_A_TEXT));
		break;
	case REQ_CROSS: {
		/* only an explicit "allowed" lets text across */
		const char *v = tf_msg_str(m, TF_A_TEXT);
		bool yes = err == 0 && v && strcmp(v, "allowed") == 0;

		if (err < 0)
			fprintf(stderr, "twofold-shell: cross copy: %s\n",
				msg ? msg : strerror(-err));
		tf_shell_clip_cross_answer(s, q.p, q.to, yes);
		break;
	}
	case REQ_LOCK:
		if (err < 0)
			fprintf(stderr, "twofold-shell: lock %s: %s\n",
				q.p->name, msg ? msg : strerror(-err));
		break;
	}
	pump(dm);
}

static int on_req(int fd, uint32_t mask, void *data)
{
	struct tf_shell_daemon *dm = data;
	struct tf_msg m = {0};
	int r;

	(void)fd;
	if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		lose(dm, "connection closed");
		return 0;
	}
	for (;;) {
		r = tf_msg_reader_step(dm->req.fd, &dm->req.rd);
		if (r == 0)
			return 0;
		if (r < 0) {
			lose(dm, strerror(-r));
			return 0;
		}
		r = tf_msg_parse(dm->req.rd.buf, dm->req.rd.total, &m);
		if (r == 0 && m.type == TF_REP_RESULT && dm->busy)
			answered(dm, &m);
		tf_msg_clear(&m);
		tf_msg_reader_reset(&dm->req.rd);
		if (dm->req.fd < 0)
			return 0;
	}
}

static int on_sub(int fd, uint32_t mask, void *data)
{
	struct tf_shell_daemon *dm = data;
	struct tf_shell *s = dm->shell;
	struct tf_msg m = {0};
	int r;

	(void)fd;
	if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		lose(dm, "connection closed");
		return 0;
	}
	for (;;) {
		r = tf_msg_reader_step(dm->sub.fd, &dm->sub.rd);
		if (r == 0)
			return 0;
		if (r < 0) {
			lose(dm, strerror(-r));
			return 0;
		}
		r = tf_msg_parse(dm->sub.rd.buf, dm->sub.rd.total, &m);
		if (r == 0) {
			int32_t err = -EPROTO;
			(void)tf_msg_i32(&m, TF_A_ERRNO, &err);
			if (m.type == TF_REP_RESULT && err == 0) {
				read_list(s, tf_msg_str(&m, TF_A_TEXT));
				dm->up = true;
				fprintf(stderr,
					"twofold-shell: following twofoldd "
					"(foreground %s)\n",
					s->fg ? s->fg->name : "none");
				tf_shell_arrange(s);
				tf_shell_focus_update(s);
			} else if (m.type == TF_REP_EVENT && err == 0)
				read_event(s, tf_msg_str(&m, TF_A_TEXT));
			else {
				/* refused (not the shell_uid?), or dropped
				 * for lagging: the daemon's own words */
				char why[160];
				const char *msg = tf_msg_str(&m, TF_A_MESSAGE);

				snprintf(why, sizeof(why), "%s",
					 msg ? msg : "subscription refused");
				tf_msg_clear(&m);
				lose(dm, why);
				return 0;
			}
		}
		tf_msg_clear(&m);
		tf_msg_reader_reset(&dm->sub.rd);
	}
}

static int dial(struct tf_shell_daemon *dm, struct conn *c,
		int (*fn)(int, uint32_t, void *))
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	memcpy(sa.sun_path, dm->path, strlen(dm->path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return tf_negerrno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return tf_negerrno();
	tf_msg_reader_init(&c->rd, TF_MSG_MAX);
	c->src = wl_event_loop_add_fd(dm->shell->loop, fd, WL_EVENT_READABLE,
				      fn, dm);
	if (!c->src)
		return -ENOMEM;
	c->fd = steal_fd(&fd);
	return 0;
}

static int queue_id(struct tf_shell_daemon *dm, enum req_kind k,
		    struct tf_shell_persona *p, uint32_t id)
{
	if (dm->req.fd < 0)
		return -ENOTCONN;
	if (dm->n_queue == QUEUE_MAX)
		return -EBUSY;
	dm->queue[dm->n_queue++] = (struct req){.kind = k, .p = p, .id = id};
	pump(dm);
	return 0;
}

static int queue(struct tf_shell_daemon *dm, enum req_kind k,
		 struct tf_shell_persona *p)
{
	return queue_id(dm, k, p, 0);
}

static int connect_all(struct tf_shell_daemon *dm)
{
	int r = dial(dm, &dm->sub, on_sub);

	if (r == 0)
		r = send_simple(dm->sub.fd, TF_REQ_SUBSCRIBE, NULL, TF_F_LIST);
	if (r == 0)
		r = dial(dm, &dm->req, on_req);
	if (r == 0)
		r = queue(dm, REQ_STATUS, NULL);
	if (r < 0) {
		conn_close(&dm->sub);
		conn_close(&dm->req);
	}
	return r;
}

static int on_retry(void *data)
{
	struct tf_shell_daemon *dm = data;

	if (dm->sub.fd >= 0)
		return 0;
	if (connect_all(dm) < 0)
		wl_event_source_timer_update(dm->retry, 1000);
	return 0;
}

static int on_idle(void *data)
{
	struct tf_shell_daemon *dm = data;
	struct tf_shell *s = dm->shell;

	if (!dm->up || !dm->idle_s)
		return 0;
	/* still idle: the next period starts now */
	idle_arm(dm);
	fprintf(stderr,
		"twofold-shell: idle %u s: locking the secure "
		"personas\n",
		dm->idle_s);
	for (size_t i = 0; i < s->n_personas; i++)
		if (s->personas[i].secure && !s->personas[i].locked)
			(void)queue(dm, REQ_LOCK, &s->personas[i]);
	return 0;
}

void tf_shell_activity(struct tf_shell *s)
{
	if (s->daemon)
		idle_arm(s->daemon);
}

int tf_shell_daemon_init(struct tf_shell *s, const char *path)
{
	struct tf_shell_daemon *dm;

	if (strlen(path) >= sizeof(dm->path))
		return -ENAMETOOLONG;
	dm = calloc(1, sizeof(*dm));
	if (!dm)
		return -ENOMEM;
	dm->shell = s;
	dm->sub.fd = dm->req.fd = -1;
	memcpy(dm->path, path, strlen(path) + 1);
	dm->retry = wl_event_loop_add_timer(s->loop, on_retry, dm);
	dm->idle = wl_event_loop_add_timer(s->loop, on_idle, dm);
	s->daemon = dm;
	if (!dm->retry || !dm->idle)
		return -ENOMEM;
	/* until the first answer: fail closed */
	for (size_t i = 0; i < s->n_personas; i++)
		if (s->personas[i].secure)
			s->personas[i].locked = true;
	if (connect_all(dm) < 0) {
		fprintf(stderr,
			"twofold-shell: twofoldd at %s is not answering; "
			"retrying every second (secure stays locked)\n",
			path);
		wl_event_source_timer_update(dm->retry, 1000);
	}
	return 0;
}

void tf_shell_daemon_fini(struct tf_shell *s)
{
	struct tf_shell_daemon *dm = s->daemon;

	if (!dm)
		return;
	conn_close(&dm->sub);
	conn_close(&dm->req);
	if (dm->retry)
		wl_event_source_remove(dm->retry);
	if (dm->idle)
		wl_event_source_remove(dm->idle);
	free(dm);
	s->daemon = NULL;
}

bool tf_shell_daemon_active(const struct tf_shell *s)
{
	return s->daemon != NULL;
}

const char *tf_shell_daemon_state(const struct tf_shell *s)
{
	if (!s->daemon)
		return "none";
	return s->daemon->up ? "up" : "down";
}

int tf_shell_request_switch(struct tf_shell *s, struct tf_shell_persona *p)
{
	if (!s->daemon)
		return tf_shell_switch(s, p->name);
	/* the daemon refuses a switch to a persona that does not run; one
	 * with a credential is unlocked on the trusted pad first */
	if (p->locked && p->secure) {
		tf_shell_pad_open(s, p);
		return 0;
	}
	return queue(s->daemon, REQ_SWITCH, p);
}

int tf_shell_daemon_switch(struct tf_shell *s, struct tf_shell_persona *p)
{
	return s->daemon ? queue(s->daemon, REQ_SWITCH, p) : -ENOTCONN;
}

/* The PIN goes out from secure memory in one datagram (the daemon takes
 * a credential only so) and the message is wiped when freed. */
int tf_shell_request_unlock(struct tf_shell *s, struct tf_shell_persona *p,
			    const char *pin)
{
	struct tf_shell_daemon *dm = s->daemon;
	struct tf_msgbuf b;
	int r;

	if (!dm || dm->req.fd < 0)
		return -ENOTCONN;
	if (dm->busy || dm->n_queue)
		return -EBUSY;
	tf_msgbuf_init_secret(&b, TF_REQ_UNLOCK, TF_FRAG_MAX);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, p->name);
	tf_msgbuf_put_str(&b, TF_A_SECRET, pin);
	r = tf_msgbuf_finish(&b);
	if (r == 0)
		r = tf_msg_send(dm->req.fd, &b, NULL, 0);
	tf_msgbuf_free(&b);
	if (r < 0)
		return r;
	dm->busy = true;
	dm->inflight = (struct req){.kind = REQ_UNLOCK, .p = p};
	return 0;
}

int tf_shell_request_notify(struct tf_shell *s, struct tf_shell_persona *p,
			    uint32_t id)
{
	return s->daemon ? queue_id(s->daemon, REQ_NOTIFY_GET, p, id)
			 : -ENOTCONN;
}

int tf_shell_request_cross(struct tf_shell *s, struct tf_shell_persona *from,
			   struct tf_shell_persona *to, size_t len)
{
	struct tf_shell_daemon *dm = s->daemon;

	if (!dm || dm->req.fd < 0)
		return -ENOTCONN;
	if (dm->n_queue == QUEUE_MAX)
		return -EBUSY;
	dm->queue[dm->n_queue++] = (struct req){
		.kind = REQ_CROSS, .p = from, .to = to, .len = len};
	pump(dm);
	return 0;
}

static int send_cross(int fd, const struct req *q)
{
	struct tf_msgbuf b;
	char n[24];
	int r;

	snprintf(n, sizeof(n), "%zu", q->len);
	tf_msgbuf_init(&b, TF_REQ_CROSS_COPY_AUDIT);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, q->p->name);
	tf_msgbuf_put_str(&b, TF_A_ARG, q->to ? q->to->name : "-");
	tf_msgbuf_put_str(&b, TF_A_ARG, n);
	r = tf_msgbuf_finish(&b);
	if (r == 0)
		r = tf_msg_send(fd, &b, NULL, 0);
	tf_msgbuf_free(&b);
	return r;
}

int tf_shell_request_alert_body(struct tf_shell *s, struct tf_shell_persona *p)
{
	return s->daemon ? queue(s->daemon, REQ_ALERT_BODY, p) : -ENOTCONN;
}

/* send the next queued request, if none is in flight */
static void pump(struct tf_shell_daemon *dm)
{
	struct req q;
	int r;

	while (!dm->busy && dm->n_queue && dm->req.fd >= 0) {
		q = dm->queue[0];
		memmove(dm->queue, dm->queue + 1,
			(dm->n_queue - 1) * sizeof(dm->queue[0]));
		dm->n_queue--;
		switch (q.kind) {
		case REQ_STATUS:
			r = send_simple(dm->req.fd, TF_REQ_STATUS, NULL, 0);
			break;
		case REQ_SWITCH:
			r = send_simple(dm->req.fd, TF_REQ_SWITCH, q.p->name,
					0);
			break;
		case REQ_LOCK:
			r = send_simple(dm->req.fd, TF_REQ_LOCK, q.p->name, 0);
			break;
		case REQ_ALERT_BODY:
			r = send_simple(dm->req.fd, TF_REQ_ALERT_BODY,
					q.p->name, 0);
			break;
		case REQ_NOTIFY_GET: r = send_notify_get(dm->req.fd, &q); break;
		case REQ_CROSS: r = send_cross(dm->req.fd, &q); break;
		default: r = -EINVAL; break;
		}
		if (r < 0) {
			if (q.kind == REQ_CROSS)
				tf_shell_clip_cross_answer(dm->shell, q.p, q.to,
							   false);
			fprintf(stderr,
				"twofold-shell: a request to twofoldd: %s\n",
				strerror(-r));
			continue;
		}
		dm->busy = true;
		dm->inflight = q;
	}
}
