/* SPDX-License-Identifier: ISC */
/*
 * Urgent incident alerts (issue 14 item 6; docs/shell.md "Urgent alerts").
 *
 * An alert reaches the daemon as one signed record (twofold/alert.h):
 * from a UDP socket the daemon owns inside the persona's network
 * namespace (alert_port; the tunnel carries org traffic to the persona's
 * inner address whatever the persona's state, since the daemon owns that
 * namespace for its whole life), or from `twofold alert post` (root).
 * The daemon checks it (signature by an alert_trust key, suite, persona,
 * clock, replay), audits the verdict, keeps the one latest accepted
 * alert per persona and emits the event `alert PERSONA id HEX` — never
 * the title or body. The shell fetches the body with ALERT_BODY, which
 * the dispatch table allows only while the persona runs (unlocked).
 *
 * Replay: an id seen is refused, and so is anything issued before the
 * floor (the newest issued_at seen minus TFD_ALERT_WINDOW, or past an
 * entry dropped from the full seen-set). The set is written atomically
 * to STATE/alerts.seen before an alert is acted on, so a restart does
 * not reopen a replay.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "twofold/alert.h"
#include "twofold/atomicfile.h"
#include "twofold/log.h"
#include "twofold/pkg.h"
#include "twofold/secmem.h"
#include "daemon.h"

#define SEEN_FILE "alerts.seen"
#define SEEN_MAX 256
/* an alert issued this long before the newest one seen is refused: the
 * seen-set has to remember ids only for this long */
#define TFD_ALERT_WINDOW 600ull

struct seen {
	uint8_t id[TF_ALERT_ID_BYTES];
	uint64_t issued_at, expires_at;
};

struct tfd_alerts {
	uint64_t floor; /* issued_at below this: refused */
	uint64_t newest;
	size_t n;
	struct seen seen[SEEN_MAX];
	/* refusals on the ports not yet in a record, and when the last was */
	uint64_t udp_refused, udp_audit_ns;
	struct {
		int fd;
		struct tfd_source src;
		/* the latest accepted alert (body kept for ALERT_BODY) */
		bool have;
		struct tf_alert a;
	} per[TF_PERSONA_MAX];
};

static struct tfd_alerts *get(struct tfd *d)
{
	if (!d->alerts) {
		d->alerts = calloc(1, sizeof(*d->alerts));
		if (d->alerts)
			for (size_t i = 0; i < TF_PERSONA_MAX; i++)
				d->alerts->per[i].fd = -1;
	}
	return d->alerts;
}

static int seen_load(struct tfd *d, struct tfd_alerts *al)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char *line, *save = NULL;
	int r = tf_read_file_at(d->state_fd, SEEN_FILE, 64 * 1024, &buf, &len);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long a, b;
		char hex[2 * TF_ALERT_ID_BYTES + 1];
		struct seen *s;

		if (sscanf(line, "floor %llu newest %llu", &a, &b) == 2) {
			al->floor = a;
			al->newest = b;
			continue;
		}
		if (al->n == SEEN_MAX ||
		    sscanf(line, "%32s %llu %llu", hex, &a, &b) != 3 ||
		    strlen(hex) != 2 * TF_ALERT_ID_BYTES)
			return -EBADMSG;
		s = &al->seen[al->n++];
		for (size_t i = 0; i < TF_ALERT_ID_BYTES; i++) {
			unsigned v;
			if (sscanf(hex + 2 * i, "%2x", &v) != 1)
				return -EBADMSG;
			s->id[i] = (uint8_t)v;
		}
		s->issued_at = a;
		s->expires_at = b;
	}
	return 0;
}

static int seen_save(struct tfd *d, const struct tfd_alerts *al)
{
	char buf[64 + SEEN_MAX * 80];
	size_t o;

	o = (size_t)snprintf(buf, sizeof(buf), "floor %llu newest %llu\n",
			     (unsigned long long)al->floor,
			     (unsigned long long)al->newest);
	for (size_t i = 0; i < al->n; i++) {
		char hex[2 * TF_ALERT_ID_BYTES + 1];
		tf_alert_id_hex(al->seen[i].id, hex);
		o += (size_t)snprintf(
			buf + o, sizeof(buf) - o, "%s %llu %llu\n", hex,
			(unsigned long long)al->seen[i].issued_at,
			(unsigned long long)al->seen[i].expires_at);
	}
	return tf_atomic_write_at(d->state_fd, SEEN_FILE, buf, o, 0600);
}

/* Forget what can no longer be replayed anyway (expired, or under the
 * floor); when still full, drop the oldest and raise the floor past it,
 * so that dropping an id never makes it acceptable again. */
static void seen_prune(struct tfd_alerts *al, uint64_t now)
{
	size_t w = 0;

	for (size_t i = 0; i < al->n; i++)
		if (al->seen[i].expires_at > now &&
		    al->seen[i].issued_at >= al->floor)
			al->seen[w++] = al->seen[i];
	al->n = w;
	while (al->n >= SEEN_MAX) {
		size_t old = 0;
		for (size_t i = 1; i < al->n; i++)
			if (al->seen[i].issued_at < al->seen[old].issued_at)
				old = i;
		if (al->seen[old].issued_at + 1 > al->floor)
			al->floor = al->seen[old].issued_at + 1;
		al->seen[old] = al->seen[--al->n];
	}
}

/* Check one record against p's trust and the seen-set; on success it
 * is recorded as seen (durably) and kept as p's current alert. */
static int accept_one(struct tfd *d, struct tfd_alerts *al,
		      struct tfd_persona *p, const uint8_t *buf, size_t len,
		      struct tf_alert *out)
{
	const struct tf_suite *s = d->suite;
	struct tf_pkg_trust trust;
	struct tf_pkg_err perr;
	struct tf_alert a;
	uint64_t now = (uint64_t)time(NULL);
	size_t i = (size_t)(p - d->personas);
	int r;

	if (p->cfg->alert_trust[0] == '\0' ||
	    tf_pkg_trust_parse(s, p->cfg->alert_trust, &trust, &perr) < 0)
		return -ENOKEY;
	r = tf_alert_verify(buf, len, s, (const uint8_t(*)[TF_PK_MAX])trust.pk,
			    trust.n, p->cfg->name, now, &a);
	if (r < 0)
		return r;
	for (size_t k = 0; k < al->n; k++)
		if (memcmp(al->seen[k].id, a.id, TF_ALERT_ID_BYTES) == 0)
			return -EALREADY;
	if (a.issued_at < al->floor)
		return -ESTALE;
	seen_prune(al, now);
	al->seen[al->n++] = (struct seen){.issued_at = a.issued_at,
					  .expires_at = a.expires_at};
	memcpy(al->seen[al->n - 1].id, a.id, TF_ALERT_ID_BYTES);
	if (a.issued_at > al->newest)
		al->newest = a.issued_at;
	if (al->newest > TFD_ALERT_WINDOW &&
	    al->newest - TFD_ALERT_WINDOW > al->floor)
		al->floor = al->newest - TFD_ALERT_WINDOW;
	/* durable before it is shown: after a crash here it is refused as
	 * a replay rather than shown twice */
	r = seen_save(d, al);
	if (r < 0) {
		al->n--;
		return r;
	}
	tf_memzero(&al->per[i].a, sizeof(al->per[i].a));
	al->per[i].a = a;
	al->per[i].have = true;
	*out = a;
	tf_memzero(&a, sizeof(a));
	return 0;
}

static bool udp_refusal_due(struct tfd_alerts *al)
{
	uint64_t now = tf_now_ns();

	al->udp_refused++;
	if (al->udp_audit_ns && now - al->udp_audit_ns < 1000000000ull)
		return false;
	al->udp_audit_ns = now;
	return true;
}

static uint64_t steal_count(struct tfd_alerts *al)
{
	uint64_t n = al->udp_refused;

	al->udp_refused = 0;
	return n;
}

/* The whole path of one record: which persona it names, the checks, the
 * audit record, the event. via: "udp" or "post". */
static int take(struct tfd *d, const struct tfd_conn *c,
		struct tfd_persona *only, const uint8_t *buf, size_t len,
		const char *via, char *idhex)
{
	struct tfd_alerts *al = get(d);
	struct tf_alert a, peek;
	struct tfd_persona *p = only;
	int r;

	idhex[0] = '\0';
	if (!al)
		return -ENOMEM;
	/* the id and persona before the signature only to say what was
	 * refused in the audit record; nothing else is taken from it */
	r = tf_alert_parse(buf, len, &peek);
	if (r == 0) {
		tf_alert_id_hex(peek.id, idhex);
		if (!p)
			p = tfd_persona_find(d, peek.persona);
		if (!p)
			r = -EXDEV;
	}
	if (r == 0)
		r = accept_one(d, al, p, buf, len, &a);
	if (r == 0)
		/* durable before the card is asked for */
		tfd_audit(d, TF_AUDIT_SYNC, "alert.accepted", p, c,
			  "id=%s\tvia=%s", idhex, via);
	else if (c || udp_refusal_due(al)) {
		/* a refusal changes nothing: unsynced; from the port (anyone
		 * on the path may send) at most one a second, with the count
		 * of those since the last one */
		tfd_audit(d, 0, "alert.refused", p, c,
			  "id=%s\tvia=%s\treason=%s\tcount=%llu",
			  idhex[0] ? idhex : "-", via, tf_alert_reason(r),
			  c ? 1ull : (unsigned long long)al->udp_refused);
		if (!c)
			tf_warn("alerts refused on %s's port: %s (%llu since "
				"the last report)",
				p ? p->cfg->name : "?", tf_alert_reason(r),
				(unsigned long long)steal_count(al));
	}
	tf_memzero(&peek, sizeof(peek));
	if (r < 0)
		return r;
	tf_info("alert %s for %s accepted (%s)", idhex, p->cfg->name, via);
	tfd_events_alert(d, p, idhex);
	tf_memzero(&a, sizeof(a));
	return 0;
}

static void on_udp(struct tfd *d, struct tfd_source *src, uint32_t events)
{
	struct tfd_persona *p = src->data;
	uint8_t buf[TF_ALERT_MAX + 1];
	char idhex[2 * TF_ALERT_ID_BYTES + 1];

	(void)events;
	/* a bounded number per wakeup: a flood costs a turn of the loop */
	for (int k = 0; k < 16; k++) {
		ssize_t n = recv(src->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return;
		(void)take(d, NULL, p, buf, (size_t)n, "udp", idhex);
	}
}

/* A UDP socket made inside the persona's namespace stays in it after
 * the thread goes back to the daemon's (a socket belongs to the
 * namespace it was created in). */
static int udp_open(struct tfd *d, struct tfd_persona *p, int *out)
{
	_cleanup_close_ int self = -1, fd = -1;
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
				  .sin6_port =
					  htons((uint16_t)p->cfg->alert_port),
				  .sin6_addr = IN6ADDR_ANY_INIT};
	int off = 0, r = 0;

	(void)d;
	if (tfd_netns_fd(p) < 0)
		return -ENODEV;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return tf_negerrno();
	if (setns(tfd_netns_fd(p), CLONE_NEWNET) < 0)
		return tf_negerrno();
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		r = tf_negerrno();
	else if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) <
			 0 ||
		 bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = tf_negerrno();
	if (setns(self, CLONE_NEWNET) < 0) {
		/* every later socket would be made in the persona's */
		tf_err("cannot return to the daemon's network namespace: %s",
		       strerror(errno));
		abort();
	}
	if (r < 0)
		return r;
	*out = steal_fd(&fd);
	return 0;
}

void tfd_alerts_setup(struct tfd *d)
{
	struct tfd_alerts *al = get(d);
	int r;

	if (!al) {
		tf_warn("alerts: out of memory; no alert will be accepted");
		return;
	}
	r = seen_load(d, al);
	if (r < 0) {
		/* fail closed: nothing older than now is taken again */
		tf_warn("alerts: %s unreadable (%s): refusing every alert "
			"issued before now",
			SEEN_FILE, strerror(-r));
		al->n = 0;
		al->floor = al->newest = (uint64_t)time(NULL);
	}
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		int fd;

		if (!p->cfg->alert_port || !p->cfg->alert_trust[0])
			continue;
		r = udp_open(d, p, &fd);
		if (r == 0) {
			al->per[i].fd = fd;
			r = tfd_source_add(d, &al->per[i].src, fd, EPOLLIN,
					   on_udp, p);
		}
		if (r < 0)
			tf_warn("alerts: no UDP port %u in %s's network "
				"namespace: %s (twofold alert post still "
				"works)",
				p->cfg->alert_port, p->cfg->name, strerror(-r));
		else
			tf_info("alerts for %s on UDP port %u in its network "
				"namespace",
				p->cfg->name, p->cfg->alert_port);
	}
}

void tfd_alerts_shutdown(struct tfd *d)
{
	struct tfd_alerts *al = d->alerts;

	if (!al)
		return;
	for (size_t i = 0; i < TF_PERSONA_MAX; i++)
		if (al->per[i].fd >= 0) {
			tfd_source_del(d, &al->per[i].src);
			close(al->per[i].fd);
		}
	tf_memzero(al, sizeof(*al));
	free(al);
	d->alerts = NULL;
}

static int unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > cap)
		return -EMSGSIZE;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EBADMSG;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

/* `twofold alert post FILE` (root): ARG = the record in hex */
enum tfd_disp tfd_req_alert_post(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep)
{
	const char *hex = tf_msg_str(m, TF_A_ARG);
	uint8_t buf[TF_ALERT_MAX];
	char idhex[2 * TF_ALERT_ID_BYTES + 1];
	size_t len;
	int r;

	(void)p;
	if (!hex || unhex(hex, buf, sizeof(buf), &len) < 0) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_ALERT_REFUSED, NULL,
			       "alert post: not an alert record (over %u "
			       "bytes, or not hex)",
			       TF_ALERT_MAX);
		return TFD_REPLY_NOW;
	}
	r = take(d, c, NULL, buf, len, "post", idhex);
	if (r < 0) {
		tfd_reply_fail(rep, r, TF_R_ALERT_REFUSED, NULL,
			       "alert %s refused: %s", idhex[0] ? idhex : "-",
			       tf_alert_reason(r));
		tfd_reply_param(rep, "why", "%s", tf_alert_reason(r));
		return TFD_REPLY_NOW;
	}
	tfd_reply_err(rep, 0, "alert %s accepted", idhex);
	return TFD_REPLY_NOW;
}

/* The shell, once the persona runs (unlocked: the table's event): the
 * latest alert's id, title and body. Never to a persona's client, never
 * to a log. */
enum tfd_disp tfd_req_alert_body(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep)
{
	struct tfd_alerts *al = d->alerts;
	size_t i = (size_t)(p - d->personas);
	char idhex[2 * TF_ALERT_ID_BYTES + 1];
	char *t = NULL;

	(void)m;
	if (!al || !al->per[i].have) {
		tfd_reply_fail(rep, -ENOENT, TF_R_ALERT_NONE, p->cfg->name,
			       "no alert for %s", p->cfg->name);
		return TFD_REPLY_NOW;
	}
	tf_alert_id_hex(al->per[i].a.id, idhex);
	if (asprintf(&t, "%s\n%s\n%s", idhex, al->per[i].a.title,
		     al->per[i].a.body) < 0) {
		tfd_reply_err(rep, -ENOMEM, "alert body: out of memory");
		return TFD_REPLY_NOW;
	}
	rep->text = t;
	tfd_audit(d, 0, "alert.shown", p, c, "id=%s", idhex);
	tfd_reply_err(rep, 0, "alert %s", idhex);
	return TFD_REPLY_NOW;
}
