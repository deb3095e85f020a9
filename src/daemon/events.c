/* SPDX-License-Identifier: ISC */
/*
 * Events: the subscribe request and the state changes it streams
 * (docs/protocol.md "Events"). A subscriber gets the status as the answer
 * to its request, then one TF_REP_EVENT per change on the same connection:
 * a persona's state (which covers lock: frozen, locked), the foreground,
 * a key loaded into or removed from the kernel, and the throttle after a
 * wrong credential. Subscribing first and reading the status in the same
 * answer leaves no gap in which a change is missed.
 *
 * The daemon never waits on a subscriber: every send is non-blocking and
 * the bounded queue is the socket's own send queue. Before each event the
 * unread bytes are asked (SIOCOUTQ); past TFD_SUB_QUEUE_BYTES the
 * subscriber gets a last event saying it was dropped, and the connection
 * is closed at the next turn of the loop (never from inside the emitting
 * call: that may run within a handler of the same connection).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include "twofold/log.h"
#include "daemon.h"

static void reap_dropped(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	(void)events;
	(void)s;
	for (size_t i = 0; i < TFD_CONN_MAX; i++) {
		struct tfd_conn *c = d->conns[i];
		if (c != NULL && c->sub_dropped)
			tfd_conn_close(d, c);
	}
}

static void drop(struct tfd *d, struct tfd_conn *c, const char *why)
{
	c->sub_dropped = true;
	c->subscribed = false;
	tf_warn("subscriber pid %d (uid %u) dropped: %s", c->pid, c->uid, why);
	if (tfd_timer_arm(d, &d->ev_reaper, 0, reap_dropped, NULL) < 0)
		/* no timer: at least the client sees EOF at once; its own
		 * ECONNRESET path then closes the connection */
		shutdown(c->fd, SHUT_RDWR);
}

static void send_one(struct tfd *d, struct tfd_conn *c, const char *text,
		     const char *json)
{
	struct tf_msgbuf b;
	int queued = 0, r;
	bool over;

	over = ioctl(c->fd, SIOCOUTQ, &queued) == 0 &&
	       (unsigned)queued > TFD_SUB_QUEUE_BYTES;
	tf_msgbuf_init(&b, TF_REP_EVENT);
	if (over) {
		tf_msgbuf_put_i32(&b, TF_A_ERRNO, -ENOBUFS);
		tf_msgbuf_put_str(&b, TF_A_MESSAGE,
				  "dropped: more than 64 KiB of events were "
				  "left unread; watch again to resume");
	} else {
		tf_msgbuf_put_i32(&b, TF_A_ERRNO, 0);
		tf_msgbuf_put_str(&b, TF_A_TEXT, text);
		tf_msgbuf_put_str(&b, TF_A_JSON, json);
	}
	r = tf_msgbuf_finish(&b);
	if (r == 0)
		r = tf_msg_send(c->fd, &b, NULL, 0);
	tf_msgbuf_free(&b);
	if (over)
		drop(d, c, "it left 64 KiB of events unread");
	else if (r < 0)
		drop(d, c, strerror(-r));
}

/* One event: kind, the persona (NULL: none), then "key":value JSON
 * members (fmt; values are ours: state words, numbers, persona names
 * checked by tf_name_valid) and the human line after the kind. */
static void emit(struct tfd *d, const char *kind, const char *persona,
		 const char *line, const char *members)
{
	char text[256], json[512];
	bool any = false;

	for (size_t i = 0; i < TFD_CONN_MAX && !any; i++)
		any = d->conns[i] != NULL && d->conns[i]->subscribed;
	d->ev_seq++;
	if (!any)
		return;
	snprintf(text, sizeof(text), "%s%s%s%s%s", kind, persona ? " " : "",
		 persona ? persona : "", line[0] ? " " : "", line);
	snprintf(json, sizeof(json),
		 "{\"event\":\"%s\",\"seq\":%llu,\"time_ns\":%llu%s%s%s%s%s}",
		 kind, (unsigned long long)d->ev_seq,
		 (unsigned long long)tf_now_ns(),
		 persona ? ",\"persona\":\"" : "", persona ? persona : "",
		 persona ? "\"" : "", members[0] ? "," : "", members);
	for (size_t i = 0; i < TFD_CONN_MAX; i++) {
		struct tfd_conn *c = d->conns[i];
		if (c != NULL && c->subscribed && c->fd >= 0 && !c->sub_dropped)
			send_one(d, c, text, json);
	}
}

void tfd_events_state(struct tfd *d, const struct tfd_persona *p,
		      enum tfd_pstate was)
{
	char line[96], members[160];

	snprintf(line, sizeof(line), "%s (was %s)", tfd_pstate_name(p->state),
		 tfd_pstate_name(was));
	snprintf(members, sizeof(members), "\"state\":\"%s\",\"was\":\"%s\"",
		 tfd_pstate_name(p->state), tfd_pstate_name(was));
	emit(d, "state", p->cfg->name, line, members);
}

void tfd_events_foreground(struct tfd *d, const struct tfd_persona *to)
{
	char members[64];

	snprintf(members, sizeof(members), "\"foreground\":%s%s%s",
		 to ? "\"" : "", to ? to->cfg->name : "null", to ? "\"" : "");
	emit(d, "foreground", to ? to->cfg->name : "none", "", members);
}

void tfd_events_key(struct tfd *d, const struct tfd_persona *p, bool loaded)
{
	emit(d, "key", p->cfg->name, loaded ? "loaded" : "removed",
	     loaded ? "\"key\":\"loaded\"" : "\"key\":\"removed\"");
}

void tfd_events_call(struct tfd *d, const struct tfd_persona *p, bool holds)
{
	emit(d, "call", p->cfg->name,
	     holds ? "holds the audio" : "released the audio",
	     holds ? "\"call_audio\":true" : "\"call_audio\":false");
}

void tfd_events_throttle(struct tfd *d, const struct tfd_persona *p, int err,
			 unsigned failures, unsigned tries_left,
			 unsigned wait_s)
{
	char line[128], members[160];

	snprintf(line, sizeof(line), "%s: %u failed, %u tries left, wait %u s",
		 err == -EAGAIN ? "throttled" : "wrong credential", failures,
		 tries_left, wait_s);
	snprintf(members, sizeof(members),
		 "\"throttled\":%s,\"failures\":%u,\"tries_left\":%u,"
		 "\"wait_s\":%u",
		 err == -EAGAIN ? "true" : "false", failures, tries_left,
		 wait_s);
	emit(d, "throttle", p->cfg->name, line, members);
}

/* The id only: the title and body reach the shell by ALERT_BODY once
 * the persona is unlocked, never an event (subscribers include the
 * control group's users) */
void tfd_events_alert(struct tfd *d, const struct tfd_persona *p,
		      const char *idhex)
{
	char line[64], members[80];

	snprintf(line, sizeof(line), "id %s", idhex);
	snprintf(members, sizeof(members), "\"id\":\"%s\"", idhex);
	emit(d, "alert", p->cfg->name, line, members);
}

/* The id only: the text reaches the shell by NOTIFY_GET, redacted there
 * for a credential persona in the background (notify.c) */
void tfd_events_notify(struct tfd *d, const struct tfd_persona *p, uint32_t id)
{
	char line[32], members[32];

	snprintf(line, sizeof(line), "id %u", id);
	snprintf(members, sizeof(members), "\"id\":%u", id);
	emit(d, "notify", p->cfg->name, line, members);
}

/* The answer is the status (the same flags); from then on the
 * connection gets the events. */
enum tfd_disp tfd_req_subscribe(struct tfd *d, struct tfd_conn *c,
				const struct tf_msg *m, struct tfd_persona *p,
				struct tfd_reply *rep)
{
	enum tfd_disp disp = tfd_req_status(d, c, m, p, rep);

	if (rep->err == 0)
		c->subscribed = true;
	return disp;
}
