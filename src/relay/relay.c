/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay (issue 15, docs/comms.md): N workers (one per core), each
 * an epoll loop on its own SO_REUSEPORT UDP socket with recvmmsg in and
 * sendmmsg out. It accepts the device <-> relay channel (src/lib/comms:
 * Noise IK, the device's certificate checked against the CA and the
 * deny-list), then serves requests inside the DATA payloads
 * (relay_dispatch):
 *
 * Addresses (issue 15, several devices per officer): "officer" or
 * "officer/device", each half a certificate id (req.c relay_addr_get;
 * at most TF_COMMS_ADDR_MAX bytes). A session's own address is its
 * certificate's officer "/" device; a bare officer means every device of
 * that officer (old clients, rows stored before the change).
 *
 *   0x01 ECHO  any                  -> 0x01 ECHO the same bytes
 *   0x02 SEND  u8 n | to | id(16) | blob
 *                                   -> 0x03 STORED id(16) | u8 0 new / 1 dup
 *              (only after the store committed), then 0x04 MSG to the
 *              recipient's sessions if connected; to officer/device:
 *              stored for that device only; to a bare officer: for any
 *              of its devices. (sender, to, id) names a message: a retry
 *              is a duplicate, the same id to another device is not
 *   0x05 FETCH                      -> 0x04 MSG u8 n | from | id(16) | blob,
 *                                      for every message waiting for the
 *                                      session's officer/device and for
 *                                      its bare officer, in arrival order
 *   0x06 ACK   u8 n | from | id(16) -> the message is deleted for this
 *              device (its own row, else the bare officer's)
 *   0x07 PREKEYS bundle             -> 0x07 PREKEYS u8 0 (stored) |
 *              u16 unused one-time prekeys now held for this device: an
 *              end-to-end prekey bundle (twofold/e2e.h) with the
 *              sender's own certificate, kept per (officer, device); its
 *              one-time prekeys are added
 *   0x08 BUNDLE_GET u8 n | whose    -> 0x09 BUNDLE u8 n | officer/device |
 *              bundle with the signed prekey and at most one one-time
 *              prekey, which is then deleted (handed out once); whose
 *              officer/device: that device's; a bare officer: its most
 *              recently published device's. ERROR 8 when none
 *   0x0a DEVICES u8 n | officer     -> 0x0b DEVICES u8 n | officer |
 *              u8 count | count x (u8 n | device): the officer's devices
 *              with a bundle whose certificate is valid now and not
 *              denied, sorted, at most TF_COMMS_DEVICES_MAX (the most
 *              recently published). ERROR 8 when none
 *   0x10 FWD   u8 n | to | bytes    -> 0x11 FROM u8 n | from | bytes to
 *              the recipient's sessions (officer/device: that device's;
 *              a bare officer: every device of it; real time, never
 *              stored). ERROR 4 when no relay holds one
 *   0x30..0x3f talk groups: JOIN with a signed roster, floor requests
 *              and releases, SFrame frames fanned out to the group's
 *              online members (group.h lists them; group.c, floor.c)
 *   0x7f ERROR u8 code | text       (relay -> device); for SEND,
 *              BUNDLE_GET and DEVICES then 0x00 | u8 op | u8 n | address
 *              (| id(16) for a SEND): the request it answers
 * MSG's and FROM's `from` is always the sending session's officer/device.
 * Blobs are end-to-end encrypted by the devices; the relay holds no key
 * that opens them.
 *
 * A flow is named by the relay's connection id: an authenticated DATA from
 * a new address moves the session there (the device changed networks).
 * Threads and locks: relay.h (the LOCKING RULE handlers follow).
 *
 * Cookies under load and session rekey: docs/comms-protocol.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <pwd.h>

#include "devices.h"
#include "group.h"
#include "natsauth.h"
#include "relay.h"
#include "relay_evil.h"
#include "relay_sandbox.h"
#include "twofold/e2e.h"
#include "twofold/secmem.h"
#include "twofold/wg.h"

#define PROG "twofold-relay"
#define HOUSEKEEP_S 5
/* a session whose device sent no DATA this long after its handshake is
 * dropped (a replayed INIT: the device holds no keys for it) */
#define UNCONFIRMED_S 10
#define TOMBSTONE_S (30 * 86400) /* how long a device may retry a SEND */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void relay_log(struct relay *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->verbose)
		return;
	/* one line at a time from several workers */
	pthread_mutex_lock(&r->log_mu);
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	pthread_mutex_unlock(&r->log_mu);
}

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_all(const char *path, size_t max, uint8_t **out, size_t *len)
{
	char *b = NULL;
	int r = tf_read_file_at(AT_FDCWD, path, max, &b, len);

	if (r == 0)
		*out = (uint8_t *)b;
	return r;
}

/* dl_lock write-held, or before the workers start */
static int load_denylist(struct relay *r)
{
	_cleanup_free_ uint8_t *b = NULL;
	struct tf_denylist *dl = NULL;
	size_t len;
	int e;

	if (r->dl_path == NULL)
		return 0;
	e = read_all(r->dl_path, 1u << 20, &b, &len);
	if (e == 0)
		e = tf_denylist_parse(b, len, &r->anchor, &dl);
	if (e == 0)
		e = tf_denylist_check_fresh(
			dl, r->dl ? tf_denylist_issued_at(r->dl) : 0,
			(uint64_t)time(NULL));
	if (e < 0) {
		fprintf(stderr, PROG ": deny-list %s refused: %s\n", r->dl_path,
			tf_cert_reason(e));
		tf_denylist_free(dl);
		return e;
	}
	/* the groups check rosters against it: swapped before the old one
	 * is freed */
	if (r->groups) {
		pthread_mutex_lock(&r->group_mu);
		relay_groups_set_denylist(r->groups, dl);
		pthread_mutex_unlock(&r->group_mu);
	}
	tf_denylist_free(r->dl);
	r->dl = dl;
	r->cfg.dl = dl;
	logv(r, "deny-list loaded: %zu serials", tf_denylist_count(dl));
	return 0;
}

/* ---- the session table (tab held) ---- */

static size_t officer_bucket(const char *officer)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = officer; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % RELAY_OFFICER_BUCKETS;
}

struct sess *relay_sess_by_id(struct relay *r, uint32_t id)
{
	struct sess *s = &r->sess[id % RELAY_MAX_SESSIONS];

	return s->used && s->id == id ? s : NULL;
}

size_t relay_officer_each(struct relay *r, const char *officer,
			  void (*fn)(struct worker *, struct sess *, void *),
			  struct worker *w, void *arg)
{
	size_t n = 0;

	for (int32_t i = r->officer_head[officer_bucket(officer)]; i >= 0;) {
		struct sess *s = &r->sess[i];
		i = s->next_officer; /* fn may not unlink, but be safe */
		if (s->used && !strcmp(s->officer, officer)) {
			fn(w, s, arg);
			n++;
		}
	}
	return n;
}

size_t relay_addr_each(struct relay *r, const char *addr,
		       void (*fn)(struct worker *, struct sess *, void *),
		       struct worker *w, void *arg)
{
	char officer[TF_CERT_ID_MAX + 1], device[TF_CERT_ID_MAX + 1];
	size_t n = 0;

	if (relay_addr_split(addr, officer, device) < 0)
		return 0;
	/* the officer index finds the officer's sessions; a device address
	 * keeps those of its device (a handful per officer: no index of
	 * its own) */
	for (int32_t i = r->officer_head[officer_bucket(officer)]; i >= 0;) {
		struct sess *s = &r->sess[i];
		i = s->next_officer;
		if (s->used && !strcmp(s->officer, officer) &&
		    (device[0] == '\0' || !strcmp(s->devid, device))) {
			fn(w, s, arg);
			n++;
		}
	}
	return n;
}

/* tab write-held: a fresh id whose slot is free (the slot is the id
 * modulo the table), reserved for a handshake in progress */
static struct sess *sess_reserve(struct relay *r)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t id;
		if (tf_random(&id, sizeof(id)) < 0)
			return NULL;
		id &= ~RELAY_VSESS; /* that bit marks gnats.c's members */
		struct sess *s = &r->sess[id % RELAY_MAX_SESSIONS];
		if (!s->used && !s->reserved) {
			s->reserved = true;
			s->id = id;
			return s;
		}
	}
	return NULL;
}

static void count_each(struct worker *w, struct sess *s, void *n)
{
	(void)w;
	(void)s;
	(*(size_t *)n)++;
}

/* tab held: how many sessions an address (a bare officer, or
 * officer/device) has here */
static size_t addr_sessions(struct relay *r, const char *addr)
{
	size_t n = 0;

	relay_addr_each(r, addr, count_each, NULL, &n);
	return n;
}

/* tab write-held */
static void sess_link(struct relay *r, struct sess *s)
{
	int32_t *head = &r->officer_head[officer_bucket(s->officer)];

	s->next_officer = *head;
	*head = (int32_t)(s - r->sess);
	/* presence on both subjects: the officer's (bare addresses) and
	 * the device's */
	if (addr_sessions(r, s->officer) == 1)
		relay_nats_addr_up(r, s->officer);
	if (addr_sessions(r, s->addr) == 1)
		relay_nats_addr_up(r, s->addr);
}

/* tab write-held: nobody holds s->mu (every holder holds tab) */
static void sess_drop(struct relay *r, struct sess *s)
{
	int32_t idx = (int32_t)(s - r->sess);
	int32_t *p = &r->officer_head[officer_bucket(s->officer)];

	while (*p >= 0 && *p != idx)
		p = &r->sess[*p].next_officer;
	if (*p == idx)
		*p = s->next_officer;
	if (!s->linked && r->n_unconfirmed > 0)
		r->n_unconfirmed--;
	s->used = false;
	/* an unconfirmed one was never announced */
	if (s->linked && addr_sessions(r, s->officer) == 0)
		relay_nats_addr_down(r, s->officer);
	if (s->linked && addr_sessions(r, s->addr) == 0)
		relay_nats_addr_down(r, s->addr);
	s->linked = false;
	tf_comms_session_free(s->s);
	s->s = NULL;
	s->used = false;
	s->reserved = false;
	s->path = (struct path){.tcp = -1};
	s->officer[0] = '\0';
	s->devid[0] = '\0';
	s->addr[0] = '\0';
	s->serial = 0;
	s->next_officer = -1;
}

/* ---- output: one sendmmsg per batch ---- */

void relay_flush(struct worker *w)
{
	unsigned done = 0;

	while (done < w->on) {
		int n = sendmmsg(w->fd, w->om + done, w->on - done,
				 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* the socket buffer is full or the destination
			 * unreachable: this is UDP, the rest of the batch
			 * goes (the device retries what matters) */
			if (n < 0 && errno != EAGAIN)
				logv(w->r, "send: %s", strerror(errno));
			w->dropped += w->on - done;
			if (n == 0 || errno == EAGAIN)
				break;
			done++; /* skip the one that failed */
			continue;
		}
		done += (unsigned)n;
	}
	w->on = 0;
}

static uint8_t *out_slot(struct worker *w)
{
	if (w->on == RELAY_OUT_BATCH)
		relay_flush(w);
	return w->obuf[w->on];
}

static void out_commit(struct worker *w, size_t len,
		       const struct sockaddr_storage *to, socklen_t tolen)
{
	unsigned k = w->on++;

	memcpy(&w->oaddr[k], to, tolen);
	w->oiov[k] = (struct iovec){w->obuf[k], len};
	w->om[k].msg_hdr = (struct msghdr){
		.msg_name = &w->oaddr[k],
		.msg_namelen = tolen,
		.msg_iov = &w->oiov[k],
		.msg_iovlen = 1,
	};
}

void relay_send_raw(struct worker *w, const uint8_t *p, size_t len,
		    const struct path *to)
{
	uint8_t *b;

	if (len > RELAY_DGRAM_MAX)
		return;
	RELAY_EVIL_RAW(w->r, (uint8_t *)p, len);
	if (to->tcp >= 0) {
		(void)relay_tcp_send(w->r, to->tcp, to->gen, p, len);
		return;
	}
	b = out_slot(w);
	memcpy(b, p, len);
	out_commit(w, len, &to->addr, to->addrlen);
}

void relay_send(struct worker *w, struct sess *s, const uint8_t *pt, size_t len)
{
	uint8_t tb[RELAY_DGRAM_MAX], *b;
	struct path to;
	int n;
	RELAY_EVIL_BUF(eb);

	RELAY_EVIL_SEND(w, s, pt, len, eb);
	pthread_mutex_lock(&s->mu);
	to = s->path;
	/* UDP: straight into the output batch; TCP: framed after */
	b = to.tcp >= 0 ? tb : out_slot(w);
	n = tf_comms_encrypt_at(s->s, pt, len, b, RELAY_DGRAM_MAX,
				(uint64_t)mono_s());
	pthread_mutex_unlock(&s->mu);
	if (n < 0) {
		/* -EKEYEXPIRED: the device did not rekey in time; it
		 * reconnects when it hears nothing */
		if (n != -EKEYEXPIRED ||
		    !atomic_exchange(&s->expired_said, true))
			logv(w->r, "encrypt to %s failed: %s", s->officer,
			     n == -EKEYEXPIRED ? "its keys are too old (no "
						 "rekey), refused"
					       : strerror(-n));
		return;
	}
	if (to.tcp >= 0)
		(void)relay_tcp_send(w->r, to.tcp, to.gen, tb, (size_t)n);
	else
		out_commit(w, (size_t)n, &to.addr, to.addrlen);
}

void relay_send_error(struct worker *w, struct sess *s, uint8_t code,
		      const char *text)
{
	relay_send_error_req(w, s, code, text, 0, "", NULL);
}

void relay_send_error_req(struct worker *w, struct sess *s, uint8_t code,
			  const char *text, uint8_t op, const char *name,
			  const uint8_t *id)
{
	uint8_t b[2 + 120 + 3 + TF_COMMS_ADDR_MAX + RELAY_ID_BYTES];
	size_t n = strnlen(text, 120),
	       nl = strnlen(name, TF_COMMS_ADDR_MAX + 1);

	b[0] = RELAY_OP_ERROR;
	b[1] = code;
	memcpy(b + 2, text, n); /* the relay's own words: no NUL in them */
	n += 2;
	if (op != 0 && nl > 0 && nl <= TF_COMMS_ADDR_MAX) {
		b[n++] = 0;
		b[n++] = op;
		b[n++] = (uint8_t)nl;
		memcpy(b + n, name, nl);
		n += nl;
		if (op == RELAY_OP_SEND && id != NULL) {
			memcpy(b + n, id, RELAY_ID_BYTES);
			n += RELAY_ID_BYTES;
		}
	}
	relay_send(w, s, b, n);
}

/* ---- request handlers (tab read-held; relay.h's LOCKING RULE) ---- */

void relay_store_begin(struct worker *w, struct sess *s,
		       struct relay_store_ctx *c)
{
	c->id = s->id;
	c->serial = s->serial;
	pthread_rwlock_unlock(&w->r->tab);
	relay_store_lock(w->r);
}

struct sess *relay_store_end(struct worker *w, const struct relay_store_ctx *c)
{
	struct sess *s;

	/* store_mu first: taking tab while holding it inverts the order */
	relay_store_unlock(w->r);
	pthread_rwlock_rdlock(&w->r->tab);
	s = relay_sess_by_id(w->r, c->id);
	return s && s->serial == c->serial ? s : NULL;
}

static void deliver(struct worker *w, struct sess *to,
		    const struct tf_stored_msg *m)
{
	uint8_t b[TF_COMMS_PAYLOAD_MAX];
	int n = relay_reply_build(RELAY_OP_MSG, m->sender, m->id, m->blob,
				  m->len, b, sizeof(b));

	if (n > 0) /* always: SEND had to fit in one datagram */
		relay_send(w, to, b, (size_t)n);
}

struct fwd_arg {
	const uint8_t *b;
	size_t n;
};

static void fwd_each(struct worker *w, struct sess *to, void *arg)
{
	const struct fwd_arg *a = arg;

	relay_send(w, to, a->b, a->n);
}

/* a stored message's MSG: only to a session whose FETCH has walked the
 * store (struct sess, fetched); the others get it from that walk */
static void notice_each(struct worker *w, struct sess *to, void *arg)
{
	if (atomic_load(&to->fetched))
		fwd_each(w, to, arg);
}

/* tab read-held (a handler): a stored message's MSG to every device of
 * officer that has fetched, here, and (with --nats) to the other relays;
 * how many were here */
static size_t to_addr(struct worker *w, const char *addr, const uint8_t *b,
		      size_t n)
{
	struct fwd_arg a = {b, n};
	size_t here = relay_addr_each(w->r, addr, notice_each, w, &a);

	relay_nats_publish(w->r, addr, b, n);
	return here;
}

/* store_mu held: a NATS notice (arg: the MSG) to a session that has
 * fetched, as a walk of the store on from its cursor. A notice lost
 * between relays (a NATS node killed with it in its socket) leaves its
 * message in the store: the next notice's walk brings it first, so the
 * sender's order holds. The notice's own message is pushed as it came
 * only when the walk did not bring it (behind the cursor: delivered
 * already, or committed late: two relays' PostgreSQL transactions can
 * commit out of seq order). */
static bool walked(const struct sess *s, int64_t seq)
{
	unsigned n = s->npos < RELAY_RECENT ? s->npos : RELAY_RECENT;

	if (seq > s->walked_hi)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (s->recent[i] == seq)
			return true;
	return false;
}

/* a full ring forgets its oldest: from then on everything up to it
 * counts as given (a message committed behind it now waits for the
 * device's periodic FETCH) */
static void walked_add(struct sess *s, int64_t seq)
{
	int64_t *slot = &s->recent[s->npos % RELAY_RECENT];

	if (s->npos >= RELAY_RECENT && *slot > s->cursor)
		s->cursor = *slot;
	*slot = seq;
	s->npos++;
	if (seq > s->walked_hi)
		s->walked_hi = seq;
}

static void doorbell_each(struct worker *w, struct sess *to, void *arg)
{
	const struct fwd_arg *a = arg;
	const uint8_t *from = a->b + 2, *id = a->b + 2 + a->b[1];
	struct tf_stored_msg m;
	int64_t seq = to->cursor, own = -1;

	if (!atomic_load(&to->fetched))
		return;
	while (tf_store_next(w->r->store, to->addr, seq, &m) == 1) {
		seq = m.seq;
		if (!memcmp(m.id, id, RELAY_ID_BYTES) &&
		    strlen(m.sender) == a->b[1] &&
		    !memcmp(m.sender, from, a->b[1]))
			own = m.seq;
		/* given by an earlier walk: not again */
		if (!walked(to, m.seq)) {
			deliver(w, to, &m);
			walked_add(to, m.seq);
		}
		tf_stored_msg_clear(&m);
		if (w->on > RELAY_OUT_BATCH / 2)
			relay_flush(w);
	}
	/* the cursor goes to the notice's own message, not to the last
	 * one walked: a message after it in seq order may be committed
	 * while one before it is still in flight on the other relay; the
	 * next walk skips what this one gave (recent) and brings the late
	 * one in its place */
	if (own > to->cursor)
		to->cursor = own;
	else if (own < 0)
		fwd_each(w, to, arg);
}

size_t relay_deliver_local(struct worker *w, const char *addr,
			   const uint8_t *pt, size_t len)
{
	struct fwd_arg a = {pt, len};
	size_t n;

	pthread_rwlock_rdlock(&w->r->tab);
	if (len >= 2 + (size_t)pt[1] + RELAY_ID_BYTES &&
	    pt[0] == RELAY_OP_MSG) {
		/* under store_mu: a FETCH walks the store and sets fetched
		 * under it, so a notice skipped here came before the walk
		 * ended, its message (committed before it was published)
		 * in the walk; and sent before it is released, or a walk
		 * that starts meanwhile would overtake it on the wire */
		relay_store_lock(w->r);
		n = relay_addr_each(w->r, addr, doorbell_each, w, &a);
		relay_flush(w);
		relay_store_unlock(w->r);
	} else {
		n = relay_addr_each(w->r, addr, fwd_each, w, &a);
	}
	pthread_rwlock_unlock(&w->r->tab);
	return n;
}

/* g: the SEND it answers (its address and id go with it), or NULL */
static void send_store_error(struct worker *w, struct sess *s, int e,
			     const struct relay_gc_item *g)
{
	relay_send_error_req(w, s, e == -ENOSPC ? ERR_FULL : ERR_STORE,
			     e == -ENOSPC ? "relay storage full; retry later"
					  : "relay could not store; retry "
					    "later",
			     g ? RELAY_OP_SEND : 0, g ? g->to : "",
			     g ? g->id : NULL);
}

/* tab read-held, after the commit: the answer to one gathered SEND */
static void gc_answer(struct worker *w, const struct relay_gc_item *g, int e)
{
	struct sess *s = relay_sess_by_id(w->r, g->sid);
	uint8_t ack[2 + RELAY_ID_BYTES];

	if (s != NULL && s->serial != g->serial)
		s = NULL; /* the slot went to another device meanwhile */
	if (e < 0) {
		/* not stored: the device keeps the message and retries */
		if (s != NULL)
			send_store_error(w, s, e, g);
		return;
	}
	/* s gone: stored; the sender's retry will be a duplicate */
	if (s != NULL) {
		ack[0] = RELAY_OP_STORED;
		memcpy(ack + 1, g->id, RELAY_ID_BYTES);
		ack[1 + RELAY_ID_BYTES] = (uint8_t)e;
		relay_send(w, s, ack, sizeof(ack));
	}
	/* stored first: the notice below may be lost (NATS), the message
	 * is not. A duplicate is notified too: the relay that stored it
	 * may have been killed before its notice went out, and without
	 * one the sender's next message would be pushed before it (the
	 * device drops an id it has shown; one already acknowledged
	 * costs a datagram) */
	uint8_t b[TF_COMMS_PAYLOAD_MAX];
	int n = relay_reply_build(RELAY_OP_MSG, g->sender, g->id, g->blob,
				  g->len, b, sizeof(b));
	if (n > 0)
		(void)to_addr(w, g->to, b, (size_t)n);
}

void relay_gc_flush(struct worker *w)
{
	struct relay *r = w->r;
	unsigned n = w->gcn;
	int e;

	if (n == 0)
		return;
	for (unsigned i = 0; i < n; i++)
		w->gput[i] = (struct tf_store_put_item){
			.sender = w->gc[i].sender,
			.recipient = w->gc[i].to,
			.id = w->gc[i].id,
			.blob = w->gc[i].blob,
			.len = w->gc[i].len,
		};
	/* one transaction, one fsync for the whole batch; tab is not held
	 * meanwhile (a handshake's write lock must not wait on the disk) */
	relay_store_lock(r);
	e = tf_store_put_many(r->store, w->gput, n, (int64_t)time(NULL));
	relay_store_unlock(r);
	atomic_fetch_add_explicit(&r->gc_sends, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->gc_commits, 1, memory_order_relaxed);
	for (unsigned l = atomic_load(&r->gc_largest);
	     n > l && !atomic_compare_exchange_weak(&r->gc_largest, &l, n);)
		;
	if (e < 0)
		logv(r, "store put of %u message%s: %s", n, n == 1 ? "" : "s",
		     strerror(-e));
	/* the senders' sessions are looked up again by id: any of them may
	 * have been dropped or replaced during the commit */
	pthread_rwlock_rdlock(&r->tab);
	for (unsigned i = 0; i < n; i++) {
		int ei = e < 0 ? e : w->gput[i].result;
		if (ei < 0 && e >= 0)
			logv(r, "store put from %s: %s", w->gc[i].sender,
			     strerror(-ei));
		gc_answer(w, &w->gc[i], ei);
		if (w->on > RELAY_OUT_BATCH / 2)
			relay_flush(w);
	}
	pthread_rwlock_unlock(&r->tab);
	w->gcn = 0;
}

/* A SEND is answered only after the commit (relay_gc_flush): here it
 * joins the worker's batch. A full batch is committed at once, with tab
 * released around it like relay_store_begin/end: s is stale after. */
static void op_send(struct worker *w, struct sess *s, const struct relay_req *q)
{
	struct relay_gc_item *g;

	if (q->body_len > sizeof(g->blob)) {
		relay_send_error_req(w, s, ERR_BAD, "SEND too long",
				     RELAY_OP_SEND, q->name, q->id);
		return;
	}
	g = &w->gc[w->gcn++];
	g->sid = s->id;
	g->serial = s->serial;
	snprintf(g->sender, sizeof(g->sender), "%s", s->addr);
	snprintf(g->to, sizeof(g->to), "%s", q->name);
	memcpy(g->id, q->id, RELAY_ID_BYTES);
	memcpy(g->blob, q->body, q->body_len);
	g->len = q->body_len;
	if (w->gcn < w->r->gc_max)
		return;
	pthread_rwlock_unlock(&w->r->tab);
	relay_gc_flush(w);
	pthread_rwlock_rdlock(&w->r->tab);
}

static void op_fetch(struct worker *w, struct sess *s)
{
	struct relay *r = w->r;
	struct tf_stored_msg m;
	int64_t seq = 0;
	int e;

	/* store_mu across the walk: relay_send under it is in lock order */
	relay_store_lock(r);
	while ((e = tf_store_next(r->store, s->addr, seq, &m)) == 1) {
		seq = m.seq;
		deliver(w, s, &m);
		tf_stored_msg_clear(&m);
	}
	if (e == 0) { /* walked: new messages may be pushed now */
		s->cursor = s->walked_hi = seq;
		s->npos = 0;
		atomic_store(&s->fetched, true);
	}
	/* on the wire before store_mu goes: a notice's push after it
	 * (nats.c's thread) must not overtake the walk's last batch */
	relay_flush(w);
	relay_store_unlock(r);
	if (e < 0)
		relay_send_error(w, s, ERR_STORE,
				 "relay could not read the store");
}

static void op_ack(struct worker *w, struct sess *s, const struct relay_req *q)
{
	struct relay *r = w->r;
	struct relay_store_ctx sc;
	char me[TF_COMMS_ADDR_MAX + 1];
	int e;

	/* this device's copy, or the officer's bare row (store.h) */
	snprintf(me, sizeof(me), "%s", s->addr);
	relay_store_begin(w, s, &sc);
	e = tf_store_ack(r->store, me, q->name, q->id, (int64_t)time(NULL));
	(void)relay_store_end(w, &sc);
	if (e < 0 && e != -ENOENT)
		logv(r, "store ack by %s: %s", me, strerror(-e));
}

/* The relay checks only what is its business: the structure, and that a
 * device publishes under its own certificate (so nobody replaces another
 * officer's prekeys): the one of its session (officer, device, serial),
 * signed by the CA (the serial is the CA's: a CA-signed certificate with
 * the session's serial is the session's). That signature is checked
 * here, once per publication, so DEVICES can list the stored bundles
 * without checking any (devices.c); the deny-list and the clock are
 * DEVICES' to apply then. The bundle's signed prekey is the recipient's
 * to check: a relay is not trusted with it. */
static void op_prekeys(struct worker *w, struct sess *s,
		       const struct relay_req *q)
{
	struct relay *r = w->r;
	struct tf_e2e_bundle b;
	struct tf_cert c;
	struct relay_store_ctx sc;
	uint8_t base[TF_E2E_BUNDLE_MAX], ok[4] = {RELAY_OP_PREKEYS, 0};
	int n, e;

	if (tf_e2e_bundle_parse(q->body, q->body_len, &b) < 0 ||
	    b.suite != r->cfg.suite ||
	    tf_cert_verify(b.cert, b.certlen, &r->anchor, (uint64_t)time(NULL),
			   TF_ROLES_E2E, NULL, &c) < 0 ||
	    strcmp(c.officer, s->officer) != 0 ||
	    strcmp(c.device, s->devid) != 0 || c.serial != s->serial) {
		relay_send_error(w, s, ERR_BAD, "prekey bundle refused");
		return;
	}
	n = tf_e2e_bundle_pick(&b, SIZE_MAX, base, sizeof(base));
	if (n < 0) {
		relay_send_error(w, s, ERR_BAD, "prekey bundle refused");
		return;
	}
	relay_store_begin(w, s, &sc);
	e = tf_store_prekey_put(r->store, c.officer, c.device, base, (size_t)n,
				b.opks, b.opk_count,
				4 + tf_e2e_dh_bytes(b.suite));
	s = relay_store_end(w, &sc);
	if (s == NULL)
		return;
	if (e < 0) {
		send_store_error(w, s, e, NULL);
		return;
	}
	/* the one-time prekeys still unused here, so the device tops up
	 * (a device that reads only ok[1] ignores it) */
	ok[2] = (uint8_t)((unsigned)e >> 8);
	ok[3] = (uint8_t)e;
	relay_send(w, s, ok, sizeof(ok));
}

static void op_bundle_get(struct worker *w, struct sess *s,
			  const struct relay_req *q)
{
	struct relay *r = w->r;
	_cleanup_free_ uint8_t *base = NULL;
	struct tf_e2e_bundle b;
	uint8_t opk[4 + TF_E2E_DH_MAX], out[TF_E2E_BUNDLE_MAX];
	uint8_t reply[TF_COMMS_PAYLOAD_MAX];
	char officer[TF_CERT_ID_MAX + 1], device[TF_CERT_ID_MAX + 1];
	char got[TF_STORE_DEVICE_MAX + 1], whose[TF_COMMS_ADDR_MAX + 1] = "";
	size_t bl, ol;
	int n, e;

	struct relay_store_ctx sc;

	if (relay_addr_split(q->name, officer, device) < 0) {
		relay_send_error(w, s, ERR_BAD, "malformed request");
		return;
	}
	/* officer/device: that device's bundle; a bare officer (an old
	 * client): its most recently published device's */
	relay_store_begin(w, s, &sc);
	e = tf_store_prekey_take(r->store, officer, device, got, &base, &bl,
				 opk, sizeof(opk), &ol);
	if (e > 0)
		snprintf(whose, sizeof(whose), "%s/%s", officer, got);
	RELAY_EVIL_BUNDLE(r, whose, &base, &bl, &ol);
	s = relay_store_end(w, &sc);
	if (s == NULL)
		return; /* the one-time prekey is spent: the asker asks again */
	if (e <= 0) {
		relay_send_error_req(w, s, e == 0 ? ERR_NO_PREKEYS : ERR_STORE,
				     e == 0 ? "recipient has no prekeys on "
					      "this relay"
					    : "relay could not read the store",
				     RELAY_OP_BUNDLE_GET, q->name, NULL);
		return;
	}
	if (tf_e2e_bundle_parse(base, bl, &b) < 0) {
		relay_send_error_req(w, s, ERR_STORE,
				     "relay could not read the store",
				     RELAY_OP_BUNDLE_GET, q->name, NULL);
		return;
	}
	if (ol > 0) {
		b.opks = opk;
		b.opk_count = 1;
	}
	n = tf_e2e_bundle_pick(&b, ol > 0 ? 0 : SIZE_MAX, out, sizeof(out));
	if (n > 0)
		n = relay_reply_build(RELAY_OP_BUNDLE, whose, NULL, out,
				      (size_t)n, reply, sizeof(reply));
	if (n < 0) {
		relay_send_error_req(w, s, ERR_STORE,
				     "relay could not read the store",
				     RELAY_OP_BUNDLE_GET, q->name, NULL);
		return;
	}
	relay_send(w, s, reply, (size_t)n);
}

/* DEVICES looks at the DEVICES_SCAN most recently published bundles of
 * the officer (devices.c lists at most TF_COMMS_DEVICES_MAX of them) */
#define DEVICES_SCAN (4 * TF_COMMS_DEVICES_MAX)

/* DEVICES u8 n | officer -> DEVICES u8 n | officer | u8 count | count x
 * (u8 n | device); ERROR 8 when none. No signature check (verified at
 * PREKEYS): the store read and up to DEVICES_SCAN bundle parses and
 * deny-list lookups, with tab released (like relay_store_begin/end);
 * s is looked up again after. */
static void op_devices(struct worker *w, struct sess *s,
		       const struct relay_req *q)
{
	struct relay *r = w->r;
	struct tf_store_bundle sb[DEVICES_SCAN];
	struct relay_store_ctx sc = {s->id, s->serial};
	uint8_t reply[TF_COMMS_PAYLOAD_MAX];
	int n, e;

	pthread_rwlock_unlock(&r->tab);
	relay_store_lock(r);
	n = tf_store_prekey_list(r->store, q->name, sb, DEVICES_SCAN);
	relay_store_unlock(r);
	e = n;
	if (n >= 0) {
		pthread_rwlock_rdlock(&r->dl_lock);
		e = relay_devices_reply(
			q->name, sb, (size_t)n, r->cfg.suite, &r->anchor,
			r->cfg.dl, (uint64_t)time(NULL), reply, sizeof(reply));
		pthread_rwlock_unlock(&r->dl_lock);
	}
	for (int i = 0; i < n; i++)
		tf_store_bundle_clear(&sb[i]);
	pthread_rwlock_rdlock(&r->tab);
	s = relay_sess_by_id(r, sc.id);
	if (s == NULL || s->serial != sc.serial)
		return; /* gone meanwhile */
	if (e == -ENOENT)
		relay_send_error_req(w, s, ERR_NO_PREKEYS,
				     "officer has no devices with prekeys on "
				     "this relay",
				     RELAY_OP_DEVICES, q->name, NULL);
	else if (e < 0)
		relay_send_error_req(w, s, ERR_STORE,
				     "relay could not read the store",
				     RELAY_OP_DEVICES, q->name, NULL);
	else
		relay_send(w, s, reply, (size_t)e);
}

static void op_fwd(struct worker *w, struct sess *s, const struct relay_req *q)
{
	uint8_t b[TF_COMMS_PAYLOAD_MAX];
	int n = relay_reply_build(RELAY_OP_FROM, s->addr, NULL, q->body,
				  q->body_len, b, sizeof(b));

	if (n < 0) {
		relay_send_error(w, s, ERR_BAD, "FWD too long");
		return;
	}
	struct fwd_arg a = {b, (size_t)n};
	if (relay_addr_each(w->r, q->name, fwd_each, w, &a) > 0)
		relay_nats_publish(w->r, q->name, b, (size_t)n);
	else if (w->r->nats != NULL)
		/* absent here: another relay may hold them; if none does,
		 * NATS says so and the error comes from nats.c */
		relay_nats_publish_fwd(w->r, q->name, b, (size_t)n, s);
	else
		relay_send_error(w, s, ERR_OFFLINE, "recipient not connected");
}

/* ---- talk groups (group.c; group_mu, after tab) ---- */

/* The worker whose output batch group.c's sends go to: set by whoever
 * holds group_mu (a worker, or the main thread with its own batch). */
static _Thread_local struct worker *group_w;

/* group.c's way out, by session id (it keeps one per online member);
 * tab is held by the caller */
static void group_send(void *ctx, uint32_t id, const uint8_t *pt, size_t n)
{
	struct relay *r = ctx;
	struct sess *s;

	if (id & RELAY_VSESS) { /* a member on another relay */
		if (r->gnats != NULL)
			relay_gnats_remote(r, id, pt, n);
		return;
	}
	s = relay_sess_by_id(r, id);
	if (s != NULL && r->gnats != NULL)
		relay_gnats_sent(r, s, pt, n);
	if (s != NULL && group_w != NULL)
		relay_send(group_w, s, pt, n);
}

void relay_groups_enter(struct worker *w)
{
	pthread_rwlock_rdlock(&w->r->tab);
	pthread_mutex_lock(&w->r->group_mu);
	group_w = w;
}

void relay_groups_leave(struct worker *w)
{
	relay_flush(w); /* under group_mu: see group_request */
	group_w = NULL;
	pthread_mutex_unlock(&w->r->group_mu);
	pthread_rwlock_unlock(&w->r->tab);
}

static void group_request(struct worker *w, struct sess *s, const uint8_t *pt,
			  size_t n)
{
	struct relay *r = w->r;
	struct relay_member m = {
		.sess = s->id, .officer = s->officer, .role = s->role};
	int e;

	memcpy(m.device, s->device, sizeof(m.device));
	pthread_mutex_lock(&r->group_mu);
	group_w = w;
	e = r->gnats != NULL
		    ? relay_gnats_request(w, s, pt, n)
		    : relay_groups_request(r->groups, &m, pt, n,
					   (uint64_t)time(NULL), mono_ms());
	/* floor events leave in the order the floor made them: each thread
	 * holding group_mu (workers, the main thread, NATS callbacks) has
	 * its own output batch, and a batch flushed after the unlock could
	 * overtake another's (a member would see GRANTED for B before the
	 * RELEASED of A). Frames keep their batching: one talker's come in
	 * order from one flow, on one worker. */
	if (pt[0] != RELAY_OP_MEDIA)
		relay_flush(w);
	group_w = NULL;
	pthread_mutex_unlock(&r->group_mu);
	if (e == -EBADMSG)
		relay_send_error(w, s, ERR_BAD, "malformed group request");
}

/* tab write-held: s leaves (replaced, idle, gone); its floor and
 * memberships go, the others are told through w */
static void group_sess_gone(struct worker *w, struct sess *s)
{
	struct relay *r = w->r;

	if (r->groups == NULL)
		return;
	pthread_mutex_lock(&r->group_mu);
	group_w = w;
	relay_groups_sess_gone(r->groups, s->id, mono_ms());
	if (r->gnats != NULL)
		relay_gnats_sess_gone(r, s);
	relay_flush(w); /* under group_mu: see group_request */
	group_w = NULL;
	pthread_mutex_unlock(&r->group_mu);
}

/* The main thread, every few ms while a floor has a deadline: maximum
 * talk time, queue timeouts. Returns the next deadline (UINT64_MAX: none). */
static uint64_t group_tick(struct relay *r)
{
	uint64_t dl;

	pthread_rwlock_rdlock(&r->tab);
	pthread_mutex_lock(&r->group_mu);
	group_w = r->ctl_w;
	relay_groups_tick(r->groups, mono_ms());
	dl = relay_groups_deadline(r->groups);
	relay_flush(r->ctl_w); /* under group_mu: see group_request */
	group_w = NULL;
	pthread_mutex_unlock(&r->group_mu);
	pthread_rwlock_unlock(&r->tab);
	return dl;
}

/* One authenticated request of session s. New ops (floor control 0x18..,
 * calls 0x20..0x2f) add their case here and a handler that follows
 * relay.h's LOCKING RULE; replies go through relay_send(w, ...). */
static void relay_dispatch(struct worker *w, struct sess *s, const uint8_t *pt,
			   size_t n)
{
	struct relay_req q;
	int e;

	if (n > 0 && (pt[0] & 0xf0) == 0x30) {
		group_request(w, s, pt, n);
		return;
	}
	e = relay_req_parse(pt, n, &q);
	if (e < 0) {
		relay_send_error(w, s, ERR_BAD,
				 e == -EOPNOTSUPP ? "unknown request"
						  : "malformed request");
		return;
	}
	switch (q.op) {
	case RELAY_OP_ECHO: relay_send(w, s, pt, n); break;
	case RELAY_OP_SEND: op_send(w, s, &q); break;
	case RELAY_OP_FETCH: op_fetch(w, s); break;
	case RELAY_OP_ACK: op_ack(w, s, &q); break;
	case RELAY_OP_PREKEYS: op_prekeys(w, s, &q); break;
	case RELAY_OP_BUNDLE_GET: op_bundle_get(w, s, &q); break;
	case RELAY_OP_FWD: op_fwd(w, s, &q); break;
	case RELAY_OP_DEVICES: op_devices(w, s, &q); break;
	}
}

static void redeliver_each(struct worker *w, struct sess *s)
{
	struct relay *r = w->r;
	struct tf_stored_msg m;
	int64_t seq = 0;
	int e;

	relay_store_lock(r);
	while ((e = tf_store_next(r->store, s->addr, seq, &m)) == 1) {
		seq = m.seq;
		deliver(w, s, &m);
		tf_stored_msg_clear(&m);
	}
	if (e == 0) {
		s->cursor = s->walked_hi = seq;
		s->npos = 0;
		atomic_store(&s->fetched, true);
	}
	relay_flush(w); /* as op_fetch */
	relay_store_unlock(r);
}

void relay_redeliver_stored(struct worker *w)
{
	struct relay *r = w->r;

	pthread_rwlock_rdlock(&r->tab);
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++) {
		/* confirmed sessions only: an unconfirmed one may be a
		 * replayed INIT's, at an address the device is not at */
		if (r->sess[i].used && r->sess[i].linked)
			redeliver_each(w, &r->sess[i]);
		if (w->on > RELAY_OUT_BATCH / 2)
			relay_flush(w);
	}
	pthread_rwlock_unlock(&r->tab);
}

/* ---- the channel ---- */

static bool same_path(const struct path *a, const struct path *b)
{
	if (a->tcp >= 0 || b->tcp >= 0)
		return a->tcp == b->tcp && a->gen == b->gen;
	return a->addrlen == b->addrlen &&
	       memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* an authenticated datagram arrived on a TCP connection: it is a
 * device's, no longer subject to the unauthenticated deadline */
static void path_authed(struct relay *r, const struct path *p)
{
	if (p->tcp >= 0)
		atomic_store(&r->tcp[p->tcp].authed, true);
}

static void sess_confirm(struct worker *w, uint32_t id);

static void on_data(struct worker *w, const uint8_t *msg, size_t len,
		    uint32_t id, const struct path *from)
{
	struct relay *r = w->r;
	uint8_t pt[TF_COMMS_PAYLOAD_MAX];
	struct sess *s;
	bool moved = false;
	int n;

	pthread_rwlock_rdlock(&r->tab);
	s = relay_sess_by_id(r, id);
	if (s == NULL)
		goto out;
	pthread_mutex_lock(&s->mu);
	n = tf_comms_decrypt_at(s->s, msg, len, pt, sizeof(pt),
				(uint64_t)mono_s());
	/* authenticated: this is where the device is now */
	if (n >= 0 && !same_path(from, &s->path)) {
		s->path = *from;
		moved = true;
	}
	pthread_mutex_unlock(&s->mu);
	if (n >= 0 && !s->linked) {
		/* its first DATA: only the device holds these keys */
		pthread_rwlock_unlock(&r->tab);
		sess_confirm(w, id);
		pthread_rwlock_rdlock(&r->tab);
		s = relay_sess_by_id(r, id);
		if (s == NULL || !s->linked)
			goto out;
	}
	if (n == -EKEYEXPIRED && !atomic_exchange(&s->expired_said, true))
		logv(r, "%s: DATA on keys older than %u s refused (no rekey)",
		     s->officer,
		     r->reject_after_s ? r->reject_after_s
				       : TF_COMMS_REJECT_AFTER_S);
	if (n < 0)
		goto out; /* forged, replayed, too old: silently dropped */
	atomic_store_explicit(&s->last_rx, mono_s(), memory_order_relaxed);
	path_authed(r, from);
	if (moved)
		logv(r, "%s moved%s", s->officer,
		     from->tcp >= 0 ? " (TCP)" : "");
	if (n > 0) /* 0: a keepalive */
		relay_dispatch(w, s, pt, (size_t)n);
out:
	pthread_rwlock_unlock(&r->tab);
}

/* one session per device: a confirmed handshake replaces the old one */
static void drop_serial(struct worker *w, struct sess *s, void *serial)
{
	if (s->serial == *(uint64_t *)serial) {
		group_sess_gone(w, s);
		sess_drop(w->r, s);
	}
}

/* The first authenticated DATA of session id: the device holds its keys,
 * so the handshake was no replay (Noise IK's message 1 is replayable by
 * design; the INIT timestamp table, seen.h, forgets on a restart and is
 * per relay). Only now does it replace the device's earlier session and
 * become routable and present on NATS — WireGuard's rule that a
 * responder uses a session only once the initiator has sent on it. */
static void sess_confirm(struct worker *w, uint32_t id)
{
	struct relay *r = w->r;
	struct sess *s;

	pthread_rwlock_wrlock(&r->tab);
	s = relay_sess_by_id(r, id);
	if (s != NULL && !s->linked) {
		relay_officer_each(r, s->officer, drop_serial, w, &s->serial);
		s->linked = true;
		if (r->n_unconfirmed > 0)
			r->n_unconfirmed--;
		sess_link(r, s);
		logv(r, "%s confirmed its session (serial %" PRIu64 ")",
		     s->officer, s->serial);
	}
	pthread_rwlock_unlock(&r->tab);
}

/* The bytes a cookie is made of: the UDP source address and port (what
 * an off-path attacker cannot receive at) */
static size_t addr_bytes(const struct path *p, uint8_t out[18])
{
	if (p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&p->addr;
		memcpy(out, &a->sin_port, 2);
		memcpy(out + 2, &a->sin_addr, 4);
		return 6;
	}
	if (p->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&p->addr;
		memcpy(out, &a->sin6_port, 2);
		memcpy(out + 2, &a->sin6_addr, 16);
		return 18;
	}
	return 0;
}

/* Is w under load? Counts this INIT. Over TCP never: its handshake
 * already proved the address, and a flood of connections is bounded by
 * --max-tcp. */
static bool under_load(struct worker *w, const struct path *from)
{
	int64_t now = mono_s();

	if (from->tcp >= 0)
		return false;
	if (now != w->init_sec) {
		w->init_sec = now;
		w->init_n = 0;
	}
	w->init_n++;
	return w->r->cookie_always || w->init_n > w->r->cookie_load;
}

/* The current cookie secret into out, replaced every
 * TF_COMMS_COOKIE_SECRET_S: a cookie stops working within that time. */
static int cookie_secret(struct relay *r,
			 uint8_t out[TF_COMMS_COOKIE_SECRET_BYTES])
{
	int64_t now = mono_s();
	int e = 0;

	pthread_mutex_lock(&r->cookie_mu);
	if (r->cookie_birth == 0 ||
	    now - r->cookie_birth >= TF_COMMS_COOKIE_SECRET_S) {
		e = tf_random(r->cookie_secret, TF_COMMS_COOKIE_SECRET_BYTES);
		r->cookie_birth = now;
	}
	memcpy(out, r->cookie_secret, TF_COMMS_COOKIE_SECRET_BYTES);
	pthread_mutex_unlock(&r->cookie_mu);
	return e;
}

/* Before any DH: mac1 (for us?), and under load mac2 (a cookie of this
 * address?). true: go on with the handshake. */
static bool init_gate(struct worker *w, const uint8_t *msg, size_t len,
		      const struct path *from)
{
	struct relay *r = w->r;
	uint8_t secret[TF_COMMS_COOKIE_SECRET_BYTES], src[18],
		ck[TF_COMMS_COOKIE_MAX];
	bool load = under_load(w, from);
	size_t sl = addr_bytes(from, src);
	int e, n;

	if (load && cookie_secret(r, secret) < 0)
		return false;
	e = tf_comms_relay_check(&r->cfg, msg, len, load ? secret : NULL, src,
				 sl);
	if (e == -EAGAIN) {
		n = tf_comms_relay_cookie(&r->cfg, msg, len, secret, src, sl,
					  ck, sizeof(ck));
		if (n > 0) {
			relay_send_raw(w, ck, (size_t)n, from);
			atomic_fetch_add_explicit(&r->n_cookies, 1,
						  memory_order_relaxed);
		}
	} else if (e < 0) {
		atomic_fetch_add_explicit(&r->n_mac1_bad, 1,
					  memory_order_relaxed);
	}
	tf_memzero(secret, sizeof(secret));
	return e == 0;
}

/* tab held: the session of the device whose connection id is remote (a
 * rekey names its session by it), or NULL */
static struct sess *sess_by_remote(struct relay *r, uint32_t remote)
{
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++)
		if (r->sess[i].used &&
		    tf_comms_session_remote_id(r->sess[i].s) == remote)
			return &r->sess[i];
	return NULL;
}

static bool init_fresh(struct relay *r, const struct tf_comms_peer *peer)
{
	bool fresh;

	pthread_mutex_lock(&r->seen_mu);
	fresh = relay_seen_fresh(&r->seen, peer->cert.serial, peer->ts_ns,
				 real_ns());
	pthread_mutex_unlock(&r->seen_mu);
	if (!fresh) /* a replay, or stamped before the window (seen.h) */
		logv(r, "replayed handshake of serial %" PRIu64 " refused",
		     peer->cert.serial);
	return fresh;
}

/* A handshake on the connection id of a session of the same device: the
 * new keys go into that session as "next" (docs/comms-protocol.md
 * "Rekeying"); the old ones keep working until the device uses them. */
static void rekey(struct worker *w, uint32_t sid, uint64_t serial,
		  const struct tf_comms_peer *peer, struct tf_comms_session *cs,
		  const uint8_t *resp, size_t rlen, const struct path *from)
{
	struct relay *r = w->r;
	uint64_t now = (uint64_t)mono_s();
	struct sess *s;
	int e = -ENOENT;

	if (peer->cert.serial != serial) {
		/* someone else's handshake on that device's connection id
		 * (it is on the wire): refused, the session is untouched */
		logv(r,
		     "handshake of %s on another device's connection id "
		     "refused",
		     peer->cert.officer);
		tf_comms_session_free(cs);
		return;
	}
	if (!init_fresh(r, peer)) {
		tf_comms_session_free(cs);
		return;
	}
	pthread_rwlock_rdlock(&r->tab);
	s = relay_sess_by_id(r, sid);
	if (s != NULL && s->used && s->serial == serial) {
		pthread_mutex_lock(&s->mu);
		tf_comms_session_set_birth(cs, now);
		e = tf_comms_session_rekey(s->s, cs, now, false);
		if (e == 0)
			s->path = *from;
		pthread_mutex_unlock(&s->mu);
	}
	pthread_rwlock_unlock(&r->tab);
	if (e < 0) {
		tf_comms_session_free(cs);
		return;
	}
	atomic_fetch_add_explicit(&r->n_rekeys, 1, memory_order_relaxed);
	path_authed(r, from);
	relay_send_raw(w, resp, rlen, from);
	logv(r, "%s rekeyed (serial %" PRIu64 ")", peer->cert.officer, serial);
}

static void on_init(struct worker *w, const uint8_t *msg, size_t len,
		    uint32_t remote, const struct path *from)
{
	struct relay *r = w->r;
	uint8_t resp[TF_COMMS_RESP_MAX];
	struct tf_comms_peer peer;
	struct tf_comms_session *cs = NULL;
	struct sess *s = NULL, *old;
	uint32_t sid = 0;
	uint64_t old_serial = 0;
	int n;

	if (!init_gate(w, msg, len, from))
		return;
	atomic_fetch_add_explicit(&r->n_dh, 1, memory_order_relaxed);
	pthread_rwlock_wrlock(&r->tab);
	/* a rekey names its session by the device's connection id; a
	 * relay that no longer has it treats it as a new session */
	old = tf_comms_init_is_rekey(msg) ? sess_by_remote(r, remote) : NULL;
	if (old != NULL) {
		sid = old->id;
		old_serial = old->serial;
	} else if ((s = sess_reserve(r)) != NULL) {
		sid = s->id;
	}
	pthread_rwlock_unlock(&r->tab);
	if (old == NULL && s == NULL) {
		logv(r, "session table full");
		return;
	}
	/* the handshake (DH, certificate signature) runs outside the table
	 * lock: other workers keep forwarding meanwhile */
	pthread_rwlock_rdlock(&r->dl_lock);
	n = tf_comms_relay_accept(&r->cfg, msg, len, (uint64_t)time(NULL), sid,
				  &peer, resp, sizeof(resp), &cs);
	pthread_rwlock_unlock(&r->dl_lock);
	if (n >= 0 && r->reject_after_s)
		tf_comms_session_set_reject_after(cs, r->reject_after_s);
	if (old != NULL) {
		if (n >= 0)
			rekey(w, sid, old_serial, &peer, cs, resp, (size_t)n,
			      from);
		else
			logv(r, "rekey refused: %s",
			     n == -EKEYREJECTED ? "certificate for another key"
						: tf_cert_reason(n));
		return;
	}
	if (n < 0) {
		/* silent to the device: the relay is no oracle of who is
		 * certified; the reason goes to the relay's own log */
		logv(r, "handshake refused: %s",
		     n == -EKEYREJECTED ? "certificate for another key"
					: tf_cert_reason(n));
		goto unreserve;
	}
	if (!init_fresh(r, &peer)) {
		tf_comms_session_free(cs);
		goto unreserve;
	}
	tf_comms_session_set_birth(cs, (uint64_t)mono_s());
	/* the identity a roster names: the hash of the certified key */
	if (tf_roster_device_hash(tf_suite_by_id(r->cfg.suite), peer.cert.dh_pk,
				  peer.cert.dh_pk_len, s->device) < 0) {
		tf_comms_session_free(cs);
		goto unreserve;
	}
	/* unconfirmed: it replaces the device's earlier session, is
	 * routable and announced only after the device's first DATA
	 * (sess_confirm): a replayed INIT gets a RESP nobody can use and
	 * nothing else */
	pthread_rwlock_wrlock(&r->tab);
	/* one unconfirmed session per device (the newest: an older stamp
	 * never got past init_fresh), and at most half the table: a
	 * device with its keys (or many recordings) cannot fill the table
	 * with handshakes it never sends on */
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++)
		if (r->sess[i].used && !r->sess[i].linked &&
		    r->sess[i].serial == peer.cert.serial && &r->sess[i] != s)
			sess_drop(r, &r->sess[i]);
	if (r->n_unconfirmed >= RELAY_MAX_SESSIONS / 2) {
		s->reserved = false;
		pthread_rwlock_unlock(&r->tab);
		tf_comms_session_free(cs);
		logv(r,
		     "too many unconfirmed sessions: handshake of %s refused",
		     peer.cert.officer);
		return;
	}
	r->n_unconfirmed++;
	s->reserved = false;
	s->used = true;
	s->linked = false;
	s->born = mono_s();
	s->s = cs;
	s->serial = peer.cert.serial;
	s->role = peer.cert.role;
	atomic_store(&s->expired_said, false);
	snprintf(s->officer, sizeof(s->officer), "%s", peer.cert.officer);
	snprintf(s->devid, sizeof(s->devid), "%s", peer.cert.device);
	snprintf(s->addr, sizeof(s->addr), "%s/%s", peer.cert.officer,
		 peer.cert.device);
	s->path = *from;
	atomic_store_explicit(&s->last_rx, mono_s(), memory_order_relaxed);
	atomic_store(&s->fetched, false); /* pushes after its FETCH */
	s->cursor = s->walked_hi = 0;
	s->npos = 0;
	pthread_rwlock_unlock(&r->tab);
	/* no path_authed: a TCP connection counts as a device's from its
	 * first authenticated DATA (on_data), not from a handshake a
	 * recording can make */
	relay_send_raw(w, resp, (size_t)n, from);
	logv(r, "%s connected (serial %" PRIu64 ", %s%s)", peer.cert.officer,
	     peer.cert.serial, tf_cert_role_name(peer.cert.role),
	     from->tcp >= 0 ? ", TCP" : "");
	return;
unreserve:
	pthread_rwlock_wrlock(&r->tab);
	s->reserved = false;
	pthread_rwlock_unlock(&r->tab);
}

void relay_on_datagram(struct worker *w, const uint8_t *buf, size_t len,
		       const struct path *from)
{
	uint32_t id;

	switch (tf_comms_classify(w->r->cfg.suite, buf, len, &id)) {
	case TF_COMMS_MSG_INIT: on_init(w, buf, len, id, from); break;
	case TF_COMMS_MSG_DATA: on_data(w, buf, len, id, from); break;
	default: break; /* a RESP, another suite, noise: dropped */
	}
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	static _Thread_local uint8_t bufs[RELAY_BATCH][RELAY_DGRAM_MAX];
	struct mmsghdr mm[RELAY_BATCH];
	struct iovec iov[RELAY_BATCH];
	struct sockaddr_storage addrs[RELAY_BATCH];

	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(w->ep, evs, 16, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			logv(w->r, "worker %d: epoll: %s", w->idx,
			     strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == RELAY_TAG_STOP)
				return NULL; /* shutting down */
			if (tag == RELAY_TAG_LISTEN) {
				relay_tcp_accept(w);
				continue;
			}
			if (tag & RELAY_TAG_CONN) {
				relay_tcp_event(w, (int32_t)(tag & 0xffffffffu),
						evs[i].events);
				continue;
			}
			/* drain: a batch per recvmmsg, until empty, so one
			 * wake-up serves a burst */
			for (;;) {
				for (int k = 0; k < RELAY_BATCH; k++) {
					iov[k] = (struct iovec){
						bufs[k], RELAY_DGRAM_MAX};
					mm[k].msg_hdr = (struct msghdr){
						.msg_name = &addrs[k],
						.msg_namelen = sizeof(addrs[k]),
						.msg_iov = &iov[k],
						.msg_iovlen = 1,
					};
				}
				int got = recvmmsg(w->fd, mm, RELAY_BATCH,
						   MSG_DONTWAIT, NULL);
				if (got <= 0)
					break;
				for (int k = 0; k < got; k++) {
					struct path from = {
						.tcp = -1,
						.addrlen =
							mm[k].msg_hdr
								.msg_namelen};
					memcpy(&from.addr, &addrs[k],
					       from.addrlen);
					relay_on_datagram(w, bufs[k],
							  mm[k].msg_len, &from);
				}
				relay_gc_flush(w);
				relay_flush(w);
				if (got < RELAY_BATCH)
					break;
			}
		}
		/* nothing waits across epoll_wait (a TCP connection closed
		 * for bad framing after some SENDs leaves them here) */
		relay_gc_flush(w);
		relay_flush(w);
	}
}

static int parse_listen(const char *listen_arg, struct sockaddr_in *sa)
{
	char host[64] = "127.0.0.1";
	const char *colon = strrchr(listen_arg, ':');
	long port;
	char *end;

	*sa = (struct sockaddr_in){.sin_family = AF_INET};
	if (colon != NULL) {
		size_t hl = (size_t)(colon - listen_arg);
		if (hl == 0 || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, listen_arg, hl);
		host[hl] = '\0';
		listen_arg = colon + 1;
	}
	port = strtol(listen_arg, &end, 10);
	if (*end || port <= 0 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

/* One UDP socket per worker on the same address: SO_REUSEPORT lets the
 * kernel hash flows over them (a device's flow stays on one worker). */
static int open_udp(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, buf = 4 << 20;

	if (fd < 0)
		return -errno;
	/* bigger buffers absorb a fan-out burst; the kernel caps them at
	 * net.core.[rw]mem_max */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* --store or --store-conninfo-file (a PostgreSQL connection string kept
 * out of argv, where any local user can read it): the message in *why
 * never repeats the connection string, it may hold a password */
static int open_store(struct relay *r, const char *spec, const char *cfile,
		      char *why, size_t whylen)
{
	_cleanup_free_ char *b = NULL;
	size_t n;
	int e;

	if (cfile == NULL)
		return tf_store_open(spec, &r->store, why, whylen);
	e = tf_read_file_at(AT_FDCWD, cfile, 4096, &b, &n);
	if (e < 0) {
		snprintf(why, whylen, "cannot read %s", cfile);
		return e;
	}
	while (n > 0 &&
	       (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
		n--;
	b[n] = '\0';
	e = tf_store_open_pg(strncmp(b, "postgres:", 9) ? b : b + 9, &r->store,
			     why, whylen);
	tf_memzero(b, n);
	return e;
}

/* The TCP fallback's listener, one per worker on the same port number
 * (SO_REUSEPORT spreads the connections). */
static int open_tcp(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    listen(fd, 128) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* SO_REUSEPORT would let a second relay of the same uid share the port
 * and silently take half the flows: bind once without it first, so a
 * port in use is an error. */
static int probe_port(const struct sockaddr_in *sa)
{
	static const int types[] = {SOCK_DGRAM, SOCK_STREAM};

	for (size_t i = 0; i < TF_ARRAY_SIZE(types); i++) {
		int fd = socket(AF_INET, types[i] | SOCK_CLOEXEC, 0), e = 0;
		int one = 1;
		if (fd < 0)
			return -errno;
		/* TCP: a TIME_WAIT left by a previous relay is no conflict */
		if ((types[i] == SOCK_STREAM &&
		     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				sizeof(one)) < 0) ||
		    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
			e = -errno;
		close(fd);
		if (e < 0)
			return e;
	}
	return 0;
}

static int worker_new(struct relay *r, int idx, const struct sockaddr_in *sa,
		      struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct epoll_event ev = {.events = EPOLLIN};
	int e;

	if (w == NULL)
		return -ENOMEM;
	w->r = r;
	w->idx = idx;
	w->fd = open_udp(sa);
	w->lfd = open_tcp(sa);
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->fd < 0 || w->lfd < 0 || w->ep < 0) {
		e = w->fd < 0 ? w->fd : w->lfd < 0 ? w->lfd : -errno;
		goto fail;
	}
	ev.data.u64 = RELAY_TAG_UDP;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
		e = -errno;
		goto fail;
	}
	ev.data.u64 = RELAY_TAG_LISTEN;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &ev) < 0) {
		e = -errno;
		goto fail;
	}
	ev.data.u64 = RELAY_TAG_STOP;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, r->stop_fd, &ev) < 0) {
		e = -errno;
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w->fd >= 0)
		close(w->fd);
	if (w->lfd >= 0)
		close(w->lfd);
	if (w->ep >= 0)
		close(w->ep);
	free(w);
	return e;
}

static void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	close(w->fd);
	close(w->lfd);
	close(w->ep);
	free(w);
}

/* -v: the handshake counters, when they moved (or always) */
static void log_handshakes(struct relay *r, bool always)
{
	uint64_t dh = atomic_load(&r->n_dh), ck = atomic_load(&r->n_cookies),
		 bad = atomic_load(&r->n_mac1_bad);

	if (!always && dh == r->logged_dh && ck == r->logged_cookies &&
	    bad == r->logged_mac1_bad)
		return;
	r->logged_dh = dh;
	r->logged_cookies = ck;
	r->logged_mac1_bad = bad;
	logv(r,
	     "handshakes: %" PRIu64 " DH, %" PRIu64 " cookies sent, %" PRIu64
	     " INITs not for us (mac1)",
	     dh, ck, bad);
}

/* Every HOUSEKEEP_S: sessions silent for idle_s are dropped (a device
 * keeps its session alive with keepalives; twofold-comms sends one after
 * 3 s of silence), and old delivery tombstones leave the store. */
static void housekeep(struct relay *r)
{
	int64_t now = mono_s();
	size_t dropped = 0;
	int e;

	pthread_rwlock_wrlock(&r->tab);
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++) {
		struct sess *s = &r->sess[i];
		if (s->used && !s->linked && now - s->born > UNCONFIRMED_S) {
			logv(r,
			     "%s sent nothing on its new session in %d s: "
			     "dropped (a replayed handshake?)",
			     s->officer, UNCONFIRMED_S);
			sess_drop(r, s);
			dropped++;
		} else if (s->used &&
			   now - atomic_load(&s->last_rx) > r->idle_s) {
			logv(r, "%s idle for %" PRId64 " s: session dropped",
			     s->officer, now - atomic_load(&s->last_rx));
			group_sess_gone(r->ctl_w, s);
			sess_drop(r, s);
			dropped++;
		}
	}
	pthread_rwlock_unlock(&r->tab);
	relay_flush(r->ctl_w);
	relay_tcp_housekeep(r, now);
	log_handshakes(r, false);
	/* tombstones: once at start, then hourly (a commit is an fsync) */
	if (r->expire_ticks++ % (3600 / HOUSEKEEP_S) == 0) {
		relay_store_lock(r);
		e = tf_store_expire(r->store,
				    (int64_t)time(NULL) - TOMBSTONE_S);
		relay_store_unlock(r);
		if (e < 0)
			logv(r, "store expire: %s", strerror(-e));
	}
	(void)dropped;
}

/* The main thread: signals (TERM/INT stop, HUP reloads the deny-list)
 * and the housekeeping timer; the workers do the I/O. */
static int control_loop(struct relay *r)
{
	struct itimerspec it = {{HOUSEKEEP_S, 0}, {HOUSEKEEP_S, 0}};
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t mask;
	int ep, sfd, tfd, e = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &it, NULL))
		return -errno;
	ev.data.fd = sfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
		return -errno;
	ev.data.fd = tfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0)
		return -errno;
	for (;;) {
		struct epoll_event evs[2];
		/* the floors' clocks: a request on a worker may set a nearer
		 * deadline meanwhile, so wait at most 20 ms while any is set */
		uint64_t dl = group_tick(r), now = mono_ms();
		int tmo = dl == UINT64_MAX ? -1
			  : dl <= now	   ? 0
					   : (int)TF_MIN(dl - now, 20u);
		int n = epoll_wait(ep, evs, 2, tmo);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == tfd) {
				uint64_t x;
				if (read(tfd, &x, sizeof(x)) == sizeof(x))
					housekeep(r);
				continue;
			}
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				pthread_rwlock_wrlock(&r->dl_lock);
				(void)load_denylist(r);
				pthread_rwlock_unlock(&r->dl_lock);
				continue;
			}
			goto out;
		}
	}
out:
	close(ep);
	close(sfd);
	close(tfd);
	return e;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1		       ? 1
	       : n > RELAY_WORKERS_MAX ? RELAY_WORKERS_MAX
				       : (unsigned)n;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: " PROG " --listen [ADDR:]PORT --key KEYFILE --ca "
		"CA.pub {--store [sqlite:]PATH|postgres:CONNINFO | "
		"--store-conninfo-file FILE} [--denylist FILE] [--workers N] "
		"[--idle-timeout SECONDS] [--max-tcp N] [--user USER] "
		"[--group-commit N | --no-group-commit] "
		"[--nats URL[,URL...] [--nats-ca CA.pem] [--nats-cert CERT.pem "
		"--nats-key KEY.pem] [--nats-user-file FILE | --nats-creds "
		"FILE]] [--max-talk-ms MS] [--emergency-talk-ms "
		"MS] [--cookie-load N] [-v]\n");
	exit(2);
}

static long num_arg(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v < lo || v > hi)
		usage();
	return v;
}

/* After the drop: can we (the --user) create files beside the store? */
static int store_dir_writable(const char *db)
{
	char dir[4096];
	const char *slash = strrchr(db, '/');
	size_t n = slash ? (size_t)(slash - db) : 0;

	if (slash == NULL)
		return access(".", W_OK | X_OK) < 0 ? -errno : 0;
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, db, n);
	dir[n] = '\0';
	return access(n ? dir : "/", W_OK | X_OK) < 0 ? -errno : 0;
}

static void relay_init_state(struct relay *r)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	/* a handshake's write lock must not starve behind a stream of
	 * forwarding readers */
	pthread_rwlockattr_setkind_np(
		&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->tab, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_rwlock_init(&r->dl_lock, NULL);
	pthread_mutex_init(&r->store_mu, NULL);
	pthread_mutex_init(&r->seen_mu, NULL);
	pthread_mutex_init(&r->log_mu, NULL);
	pthread_mutex_init(&r->group_mu, NULL);
	pthread_mutex_init(&r->cookie_mu, NULL);
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++) {
		pthread_mutex_init(&r->sess[i].mu, NULL);
		r->sess[i].next_officer = -1;
	}
	for (size_t i = 0; i < RELAY_OFFICER_BUCKETS; i++)
		r->officer_head[i] = -1;
	relay_tcp_init(r);
}

int main(int argc, char **argv)
{
	static struct relay r;
	const char *listen_arg = NULL, *key = NULL, *ca = NULL, *db = NULL;
	const char *cfile = NULL;
	char why[512]; /* a TLS failure names the URLs, the certificate and a hint */
	const char *user = NULL, *nats_urls = NULL;
	struct relay_nats_cfg ncfg = {0};
	_cleanup_(relay_nats_auth_freep) struct relay_nats_auth *nauth = NULL;
	unsigned long long node_id = 0; /* --node-id; 0: random */
	uid_t uid = 0;
	gid_t gid = 0;
	_cleanup_free_ uint8_t *kb = NULL, *cb = NULL;
	struct tf_privfile pf = {0};
	struct tf_pubfile pub;
	struct sockaddr_in sa;
	sigset_t mask;
	unsigned started = 0;
	/* MCPTT-like defaults: 30 s a burst, 2 min in an emergency */
	struct tf_floor_cfg fcfg = {.max_talk_ms = 30000,
				    .emergency_talk_ms = 120000,
				    .queue_ms = 30000,
				    .queue_max = 16,
				    .preempt_priority = 200};
	size_t len;
	int e;

	r.nworkers = online_cpus();
	r.idle_s = 120;
	r.max_tcp = RELAY_TCP_MAX;
	r.gc_max = RELAY_GC_MAX;
	r.cookie_load = RELAY_COOKIE_LOAD;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			r.verbose = true;
		else if (!strcmp(argv[i], "--cookie-always"))
			r.cookie_always = true; /* tests only */
		else if (!strcmp(argv[i], "--no-group-commit"))
			r.gc_max = 1; /* each SEND its own commit */
		else if (i + 1 >= argc)
			usage();
		else if (!strcmp(argv[i], "--listen"))
			listen_arg = argv[++i];
		else if (!strcmp(argv[i], "--key"))
			key = argv[++i];
		else if (!strcmp(argv[i], "--ca"))
			ca = argv[++i];
		else if (!strcmp(argv[i], "--store"))
			db = argv[++i];
		else if (!strcmp(argv[i], "--store-conninfo-file"))
			cfile = argv[++i];
		else if (!strcmp(argv[i], "--denylist"))
			r.dl_path = argv[++i];
		else if (!strcmp(argv[i], "--workers"))
			r.nworkers = (unsigned)num_arg(argv[++i], 1,
						       RELAY_WORKERS_MAX);
		else if (!strcmp(argv[i], "--group-commit"))
			r.gc_max =
				(unsigned)num_arg(argv[++i], 1, RELAY_GC_MAX);
		else if (!strcmp(argv[i], "--nats"))
			nats_urls = argv[++i];
		else if (!strcmp(argv[i], "--nats-ca"))
			ncfg.ca = argv[++i];
		else if (!strcmp(argv[i], "--nats-cert"))
			ncfg.cert = argv[++i];
		else if (!strcmp(argv[i], "--nats-key"))
			ncfg.key = argv[++i];
		else if (!strcmp(argv[i], "--nats-creds"))
			ncfg.creds = argv[++i];
		else if (!strcmp(argv[i], "--nats-user-file"))
			ncfg.user_file = argv[++i];
		else if (!strcmp(argv[i], "--node-id")) {
			char *end;
			node_id = strtoull(argv[++i], &end, 16);
			if (*end || node_id == 0)
				usage();
		} else if (!strcmp(argv[i], "--max-tcp"))
			r.max_tcp =
				(unsigned)num_arg(argv[++i], 0, RELAY_TCP_MAX);
		else if (!strcmp(argv[i], "--user"))
			user = argv[++i];
		else if (!strcmp(argv[i], "--idle-timeout"))
			r.idle_s = num_arg(argv[++i], 1, 86400);
		else if (!strcmp(argv[i], "--reject-after"))
			r.reject_after_s = /* tests only */
				(unsigned)num_arg(argv[++i], 2, 86400);
		else if (!strcmp(argv[i], "--cookie-load"))
			r.cookie_load =
				(unsigned)num_arg(argv[++i], 1, 1000000);
		else if (!strcmp(argv[i], "--max-talk-ms"))
			fcfg.max_talk_ms =
				(uint32_t)num_arg(argv[++i], 50, 3600000);
		else if (!strcmp(argv[i], "--emergency-talk-ms"))
			fcfg.emergency_talk_ms =
				(uint32_t)num_arg(argv[++i], 50, 3600000);
		else
			usage();
	}
	if (!listen_arg || !key || !ca || !db == !cfile)
		usage();
	if (parse_listen(listen_arg, &sa) < 0) {
		fprintf(stderr, PROG ": --listen %s: expected [ADDR:]PORT\n",
			listen_arg);
		return 1;
	}
	if (user != NULL) {
		/* resolved now: after the drop there is no NSS */
		struct passwd *pw = getpwnam(user);
		if (pw == NULL || pw->pw_uid == 0) {
			fprintf(stderr,
				PROG ": --user %s: no such unprivileged user\n",
				user);
			return 1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	/* the NATS CA, client key and credentials: read now, while the
	 * files are readable (they may be root's alone) */
	ncfg.urls = nats_urls;
	if (relay_nats_load(&ncfg, &nauth, why, sizeof(why)) < 0) {
		fprintf(stderr, PROG ": %s\n", why);
		return 1;
	}
	relay_init_state(&r);
	r.cookie_secret = tf_secure_alloc(TF_COMMS_COOKIE_SECRET_BYTES);
	if (r.cookie_secret == NULL ||
	    relay_seen_init(&r.seen, RELAY_SEEN_MAX) < 0 ||
	    tf_crypto_init() < 0) {
		fprintf(stderr, PROG ": out of memory or crypto libraries "
				     "failed to initialise\n");
		return 1;
	}
	e = read_all(ca, TF_PUBFILE_MAX, &cb, &len);
	if (e == 0)
		e = tf_pubfile_parse(cb, len, &pub);
	if (e == 0)
		e = tf_cert_anchor_init(&r.anchor, pub.suite, pub.sign_pk,
					pub.sign_pk_len);
	if (e < 0) {
		fprintf(stderr, PROG ": %s is not a CA public key (ca.pub)\n",
			ca);
		return 1;
	}
	e = read_all(key, TF_PRIVFILE_BYTES, &kb, &len);
	if (e == 0)
		e = tf_privfile_parse(kb, len, &pf);
	if (kb)
		tf_memzero(kb, len);
	if (e < 0 || pf.kind != TF_KEYFILE_DEVICE || pf.suite != pub.suite) {
		fprintf(stderr,
			PROG ": %s is not a %s identity key (make one with "
			     "`twofold-ca keygen --suite %s`)\n",
			key, pub.suite->name, pub.suite->name);
		tf_privfile_free(&pf);
		return 1;
	}
	r.priv = pf.secret + TF_KEY_BYTES; /* the DH half, in secure memory */
	if (tf_wg_pubkey(pub.suite->id, r.priv, r.pub, &len) < 0) {
		fprintf(stderr, PROG ": %s: not a valid DH key\n", key);
		tf_privfile_free(&pf);
		return 1;
	}
	r.cfg = (struct tf_comms_relay){.suite = pub.suite->id,
					.priv = r.priv,
					.pub = r.pub,
					.ca = &r.anchor,
					.roles = TF_ROLES_E2E};
	if (fcfg.emergency_talk_ms < fcfg.max_talk_ms)
		fcfg.emergency_talk_ms = fcfg.max_talk_ms;
	if (relay_groups_new(&r.anchor, &fcfg, group_send, &r, &r.groups) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (load_denylist(&r) < 0)
		return 1;
	e = open_store(&r, db, cfile, why, sizeof(why));
	if (e < 0) {
		/* the backend's name only: a connection string may hold a
		 * password */
		bool pg = cfile != NULL || !strncmp(db, "postgres", 8);

		fprintf(stderr,
			PROG ": cannot open the message store %s: %s%s\n",
			pg ? "(postgres)" : db, why[0] ? why : strerror(-e),
			pg ? " (check the connection string and that the "
			     "server is up)"
			   : "");
		return 1;
	}
	logv(&r, "message store: %s", r.store->ops->name);
	RELAY_EVIL_INIT(&r);
	r.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r.stop_fd < 0) {
		fprintf(stderr, PROG ": eventfd: %s\n", strerror(errno));
		return 1;
	}
	e = probe_port(&sa);
	for (unsigned i = 0; e == 0 && i < r.nworkers; i++)
		e = worker_new(&r, (int)i, &sa, &r.w[i]);
	if (e < 0) {
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", listen_arg,
			strerror(-e));
		return 1;
	}
	/* the main thread's own output batch (floor deadlines, idle
	 * sessions leaving their groups), on worker 0's socket */
	r.ctl_w = calloc(1, sizeof(*r.ctl_w));
	if (r.ctl_w == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	r.ctl_w->r = &r;
	r.ctl_w->idx = -1;
	r.ctl_w->fd = r.w[0]->fd;
	r.ctl_w->ep = r.ctl_w->lfd = -1;
	/* everything is open: from here on the relay needs no privilege,
	 * and the threads started next inherit the drop and the filter */
	/* sockets after the drop: NATS reconnects on its own threads, and
	 * libpq reconnects after a lost PostgreSQL connection (a primary
	 * restart or failover) */
	e = relay_sandbox(user != NULL, uid, gid,
			  nats_urls != NULL ||
				  !strcmp(r.store->ops->name, "postgres"));
	if (e < 0) {
		fprintf(stderr,
			PROG ": cannot drop privileges or load the seccomp "
			     "filter: %s\n",
			strerror(-e));
		return 1;
	}
	/* SQLite only: db is NULL with --store-conninfo-file, and a
	 * postgres: string is no path (and may hold a password, which must
	 * not reach this message) */
	if (user != NULL && !strcmp(r.store->ops->name, "sqlite")) {
		const char *path = strncmp(db, "sqlite:", 7) ? db : db + 7;

		if (store_dir_writable(path) < 0) {
			fprintf(stderr,
				PROG ": --user %s cannot write the directory "
				     "of %s (SQLite keeps its -wal and -shm "
				     "there): chown it to %s\n",
				user, path, user);
			return 1;
		}
	}
	if (user == NULL && geteuid() == 0)
		logv(&r, "running as root: give --user to drop privileges");
	/* the workers inherit a blocked mask: signals go to signalfd */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return 1;
	/* after the drop and the mask: cnats' threads inherit both */
	if (nats_urls != NULL &&
	    (e = relay_nats_open(&r, nats_urls, steal_pointer(&nauth), why,
				 sizeof(why))) < 0) {
		fprintf(stderr, PROG ": %s\n", why);
		return e == -EINTR ? 0 : 1; /* a SIGTERM is no failure */
	}
	/* a grant's lease is its longest talk time (emergency_talk_ms is
	 * at least max_talk_ms) */
	if (nats_urls != NULL &&
	    relay_gnats_open(&r, fcfg.emergency_talk_ms, node_id) < 0) {
		fprintf(stderr,
			PROG ": --nats %s: cannot subscribe for talk groups\n",
			nats_urls);
		return 1;
	}
	for (; started < r.nworkers; started++) {
		e = pthread_create(&r.w[started]->th, NULL, worker_main,
				   r.w[started]);
		if (e != 0) {
			fprintf(stderr, PROG ": cannot start worker: %s\n",
				strerror(e));
			break;
		}
	}
	if (started == r.nworkers) {
		logv(&r, "listening on %s (suite %s, %u workers)", listen_arg,
		     pub.suite->name, r.nworkers);
		/* one line for scripts: the relay is ready */
		printf("ready\n");
		fflush(stdout);
		e = control_loop(&r);
	}
	uint64_t one = 1;
	if (write(r.stop_fd, &one, sizeof(one)) < 0)
		e = -errno;
	for (unsigned i = 0; i < started; i++)
		pthread_join(r.w[i]->th, NULL);
	log_handshakes(&r, true);
	logv(&r, "%" PRIu64 " rekeys", atomic_load(&r.n_rekeys));
	logv(&r, "%" PRIu64 " SENDs in %" PRIu64 " commits (largest %u)",
	     atomic_load(&r.gc_sends), atomic_load(&r.gc_commits),
	     atomic_load(&r.gc_largest));
	relay_gnats_stop(&r);	/* its ticker publishes on the connection */
	relay_nats_quiesce(&r); /* no cnats handler runs from here on */
	relay_nats_close(&r);	/* before the sessions its callbacks use */
	relay_gnats_close(&r);
	relay_nats_end(); /* cnats' own threads end (if it was used) */
	for (unsigned i = 0; i < r.nworkers; i++)
		worker_free(r.w[i]);
	relay_tcp_close_all(&r);
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++)
		if (r.sess[i].used)
			sess_drop(&r, &r.sess[i]);
	tf_store_close(r.store);
	relay_groups_free(r.groups);
	free(r.ctl_w);
	tf_denylist_free(r.dl);
	tf_privfile_free(&pf);
	relay_seen_free(&r.seen);
	tf_secure_free(r.cookie_secret);
	if (e < 0 || started != r.nworkers) {
		fprintf(stderr, PROG ": event loop failed: %s\n",
			strerror(e < 0 ? -e : EAGAIN));
		return 1;
	}
	return 0;
}
