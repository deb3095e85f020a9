/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay, skeleton (issue 15, docs/comms.md): one UDP socket, one
 * epoll loop. It accepts the device <-> relay channel (src/lib/comms:
 * Noise IK, the device's certificate checked against the CA and the
 * deny-list), then serves requests inside the DATA payloads:
 *
 *   0x01 ECHO  any                  -> 0x01 ECHO the same bytes
 *   0x02 SEND  u8 n | to | id(16) | blob
 *                                   -> 0x03 STORED id(16) | u8 0 new / 1 dup
 *              (only after the store committed), then 0x04 MSG to the
 *              recipient if it is connected
 *   0x05 FETCH                      -> 0x04 MSG u8 n | from | id(16) | blob,
 *                                      for every message waiting
 *   0x06 ACK   u8 n | from | id(16) -> the message is deleted
 *   0x07 PREKEYS bundle             -> 0x07 PREKEYS u8 0 (stored): an
 *              end-to-end prekey bundle (twofold/e2e.h) with the sender's
 *              own certificate; its one-time prekeys are added
 *   0x08 BUNDLE_GET u8 n | whose    -> 0x09 BUNDLE u8 n | whose | bundle
 *              with the signed prekey and at most one one-time prekey,
 *              which is then deleted (handed out once)
 *   0x10 FWD   u8 n | to | bytes    -> 0x11 FROM u8 n | from | bytes to
 *              the recipient's sessions (real time, never stored)
 *   0x30..0x3f talk groups: JOIN with a signed roster, floor requests
 *              and releases, SFrame frames fanned out to the group's
 *              online members (group.h lists them; group.c, floor.c)
 *   0x7f ERROR u8 code | text       (relay -> device)
 * Blobs are end-to-end encrypted by the devices (next round); the relay
 * holds no key that opens them.
 *
 * A flow is named by the relay's connection id: an authenticated DATA from
 * a new address moves the session there (the device changed networks).
 *
 * Not yet (docs/comms.md): one worker per core, sendmmsg batching, TCP
 * fallback, cookies under load, NATS between relays, PostgreSQL.
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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "group.h"
#include "req.h"
#include "store.h"
#include "twofold/comms.h"
#include "twofold/e2e.h"
#include "twofold/secmem.h"

#define PROG "twofold-relay"
#define MAX_SESSIONS 4096
#define MAX_SEEN 4096
#define BATCH 32
#define DGRAM_MAX 2048

enum { ERR_BAD = 1, ERR_STORE = 2, ERR_FULL = 3, ERR_OFFLINE = 4 };

struct sess {
	bool used;
	uint32_t id;
	struct tf_comms_session *s;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char officer[TF_CERT_ID_MAX + 1];
	uint64_t serial;
	uint8_t device[TF_ROSTER_DEVHASH_BYTES]; /* roster identity */
	uint8_t role;
};

/* the newest INIT timestamp per certificate serial: a replayed INIT is
 * refused (Noise IK's message 1 is replayable by design) */
struct seen {
	uint64_t serial, ts;
};

struct relay {
	int fd;
	bool verbose;
	struct tf_comms_relay cfg;
	struct tf_cert_anchor anchor;
	struct tf_denylist *dl;
	const char *dl_path;
	uint8_t *priv; /* secure memory */
	struct tf_store *store;
	struct sess sess[MAX_SESSIONS];
	struct seen seen[MAX_SEEN];
	size_t nseen;
	struct relay_groups *groups; /* talk groups, floors (group.c) */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void logv(struct relay *r, const char *fmt, ...) TF_PRINTF(2, 3);
static void logv(struct relay *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static int read_all(const char *path, size_t max, uint8_t **out, size_t *len)
{
	char *b = NULL;
	int r = tf_read_file_at(AT_FDCWD, path, max, &b, len);

	if (r == 0)
		*out = (uint8_t *)b;
	return r;
}

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
	tf_denylist_free(r->dl);
	r->dl = dl;
	r->cfg.dl = dl;
	if (r->groups)
		relay_groups_set_denylist(r->groups, dl);
	logv(r, "deny-list loaded: %zu serials", tf_denylist_count(dl));
	return 0;
}

static struct sess *sess_by_id(struct relay *r, uint32_t id)
{
	struct sess *s = &r->sess[id % MAX_SESSIONS];

	return s->used && s->id == id ? s : NULL;
}

/* A fresh id whose slot is free: the slot is the id modulo the table. */
static struct sess *sess_alloc(struct relay *r)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t id;
		if (tf_random(&id, sizeof(id)) < 0)
			return NULL;
		struct sess *s = &r->sess[id % MAX_SESSIONS];
		if (!s->used) {
			memset(s, 0, sizeof(*s));
			s->id = id;
			return s;
		}
	}
	return NULL;
}

static void sess_drop(struct sess *s)
{
	tf_comms_session_free(s->s);
	memset(s, 0, sizeof(*s));
}

static void send_to(struct relay *r, struct sess *s, const uint8_t *pt,
		    size_t len)
{
	uint8_t out[DGRAM_MAX];
	int n = tf_comms_encrypt(s->s, pt, len, out, sizeof(out));

	if (n < 0) {
		logv(r, "encrypt to %s failed: %d", s->officer, n);
		return;
	}
	if (sendto(r->fd, out, (size_t)n, MSG_DONTWAIT,
		   (struct sockaddr *)&s->addr, s->addrlen) < 0)
		logv(r, "send to %s: %s", s->officer, strerror(errno));
}

/* group.c's way out: by session id, which it keeps per roster member */
static void group_send(void *ctx, uint32_t id, const uint8_t *pt, size_t n)
{
	struct relay *r = ctx;
	struct sess *s = sess_by_id(r, id);

	if (s != NULL)
		send_to(r, s, pt, n);
}

static void send_error(struct relay *r, struct sess *s, uint8_t code,
		       const char *text)
{
	uint8_t b[128];
	size_t n = strlen(text) > 120 ? 120 : strlen(text);

	b[0] = RELAY_OP_ERROR;
	b[1] = code;
	memcpy(b + 2, text, n);
	send_to(r, s, b, n + 2);
}

static void deliver(struct relay *r, struct sess *to,
		    const struct tf_stored_msg *m)
{
	uint8_t b[TF_COMMS_PAYLOAD_MAX];
	int n = relay_reply_build(RELAY_OP_MSG, m->sender, m->id, m->blob,
				  m->len, b, sizeof(b));

	if (n > 0) /* always: SEND had to fit in one datagram */
		send_to(r, to, b, (size_t)n);
}

static void op_send(struct relay *r, struct sess *s, const struct relay_req *q)
{
	struct tf_stored_msg m = {0};
	uint8_t ack[2 + RELAY_ID_BYTES];
	int e;

	memcpy(m.id, q->id, RELAY_ID_BYTES);
	m.blob = (uint8_t *)q->body;
	m.len = q->body_len;
	snprintf(m.sender, sizeof(m.sender), "%s", s->officer);
	e = tf_store_put(r->store, s->officer, m.id, q->name, m.blob, m.len,
			 (int64_t)time(NULL));
	if (e < 0) {
		/* not stored: the device keeps the message and retries */
		send_error(r, s, e == -ENOSPC ? ERR_FULL : ERR_STORE,
			   e == -ENOSPC ? "relay storage full; retry later"
					: "relay could not store; retry later");
		logv(r, "store put from %s: %s", s->officer, strerror(-e));
		return;
	}
	ack[0] = RELAY_OP_STORED;
	memcpy(ack + 1, m.id, RELAY_ID_BYTES);
	ack[1 + RELAY_ID_BYTES] = (uint8_t)e;
	send_to(r, s, ack, sizeof(ack));
	if (e == TF_STORE_DUPLICATE)
		return;
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (r->sess[i].used && !strcmp(r->sess[i].officer, q->name))
			deliver(r, &r->sess[i], &m);
}

static void op_fetch(struct relay *r, struct sess *s)
{
	struct tf_stored_msg m;
	int64_t seq = 0;
	int e;

	while ((e = tf_store_next(r->store, s->officer, seq, &m)) == 1) {
		seq = m.seq;
		deliver(r, s, &m);
		tf_stored_msg_clear(&m);
	}
	if (e < 0)
		send_error(r, s, ERR_STORE, "relay could not read the store");
}

static void op_ack(struct relay *r, struct sess *s, const struct relay_req *q)
{
	int e = tf_store_ack(r->store, s->officer, q->name, q->id,
			     (int64_t)time(NULL));

	if (e < 0 && e != -ENOENT)
		logv(r, "store ack by %s: %s", s->officer, strerror(-e));
}

/* The relay checks only what is its business: the structure, and that a
 * device publishes under its own certificate (so nobody replaces another
 * officer's prekeys). The signature is the recipient's to check: a relay
 * is not trusted with it. */
static void op_prekeys(struct relay *r, struct sess *s,
		       const struct relay_req *q)
{
	struct tf_e2e_bundle b;
	struct tf_cert c;
	uint8_t base[TF_E2E_BUNDLE_MAX], ok[2] = {RELAY_OP_PREKEYS, 0};
	int n, e;

	if (tf_e2e_bundle_parse(q->body, q->body_len, &b) < 0 ||
	    b.suite != r->cfg.suite ||
	    tf_cert_parse(b.cert, b.certlen, &c) < 0 ||
	    strcmp(c.officer, s->officer) != 0 || c.serial != s->serial) {
		send_error(r, s, ERR_BAD, "prekey bundle refused");
		return;
	}
	n = tf_e2e_bundle_pick(&b, SIZE_MAX, base, sizeof(base));
	if (n < 0) {
		send_error(r, s, ERR_BAD, "prekey bundle refused");
		return;
	}
	e = tf_store_prekey_put(r->store, s->officer, base, (size_t)n, b.opks,
				b.opk_count, 4 + tf_e2e_dh_bytes(b.suite));
	if (e < 0) {
		send_error(r, s, e == -ENOSPC ? ERR_FULL : ERR_STORE,
			   e == -ENOSPC ? "relay storage full; retry later"
					: "relay could not store; retry later");
		return;
	}
	send_to(r, s, ok, sizeof(ok));
}

static void op_bundle_get(struct relay *r, struct sess *s,
			  const struct relay_req *q)
{
	_cleanup_free_ uint8_t *base = NULL;
	struct tf_e2e_bundle b;
	uint8_t opk[4 + TF_E2E_DH_MAX], out[TF_E2E_BUNDLE_MAX];
	uint8_t reply[TF_COMMS_PAYLOAD_MAX];
	size_t bl, ol;
	int n, e;

	e = tf_store_prekey_take(r->store, q->name, &base, &bl, opk,
				 sizeof(opk), &ol);
	if (e <= 0) {
		send_error(r, s, e == 0 ? ERR_OFFLINE : ERR_STORE,
			   e == 0 ? "recipient has no prekeys on this relay"
				  : "relay could not read the store");
		return;
	}
	if (tf_e2e_bundle_parse(base, bl, &b) < 0) {
		send_error(r, s, ERR_STORE, "relay could not read the store");
		return;
	}
	if (ol > 0) {
		b.opks = opk;
		b.opk_count = 1;
	}
	n = tf_e2e_bundle_pick(&b, ol > 0 ? 0 : SIZE_MAX, out, sizeof(out));
	if (n > 0)
		n = relay_reply_build(RELAY_OP_BUNDLE, q->name, NULL, out,
				      (size_t)n, reply, sizeof(reply));
	if (n < 0) {
		send_error(r, s, ERR_STORE, "relay could not read the store");
		return;
	}
	send_to(r, s, reply, (size_t)n);
}

static void op_fwd(struct relay *r, struct sess *s, const struct relay_req *q)
{
	uint8_t b[TF_COMMS_PAYLOAD_MAX];
	int n = relay_reply_build(RELAY_OP_FROM, s->officer, NULL, q->body,
				  q->body_len, b, sizeof(b));
	bool sent = false;

	if (n < 0) {
		send_error(r, s, ERR_BAD, "FWD too long");
		return;
	}
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		if (r->sess[i].used && !strcmp(r->sess[i].officer, q->name)) {
			send_to(r, &r->sess[i], b, (size_t)n);
			sent = true;
		}
	}
	if (!sent)
		send_error(r, s, ERR_OFFLINE, "recipient not connected");
}

static void on_data(struct relay *r, const uint8_t *msg, size_t len,
		    uint32_t id, const struct sockaddr_storage *from,
		    socklen_t fromlen)
{
	struct sess *s = sess_by_id(r, id);
	uint8_t pt[TF_COMMS_PAYLOAD_MAX];
	struct relay_req q;
	int n, e;

	if (s == NULL)
		return;
	n = tf_comms_decrypt(s->s, msg, len, pt, sizeof(pt));
	if (n < 0)
		return; /* forged, replayed: silently dropped */
	/* authenticated: this is where the device is now */
	if (fromlen != s->addrlen || memcmp(from, &s->addr, fromlen) != 0) {
		logv(r, "%s moved", s->officer);
		memcpy(&s->addr, from, fromlen);
		s->addrlen = fromlen;
	}
	if (n == 0)
		return; /* keepalive */
	if ((pt[0] & 0xf0) == 0x30) {
		struct relay_member m = {
			.sess = s->id, .officer = s->officer, .role = s->role};
		memcpy(m.device, s->device, sizeof(m.device));
		e = relay_groups_request(r->groups, &m, pt, (size_t)n,
					 (uint64_t)time(NULL), mono_ms());
		if (e == -EBADMSG)
			send_error(r, s, ERR_BAD, "malformed group request");
		return;
	}
	e = relay_req_parse(pt, (size_t)n, &q);
	if (e < 0) {
		send_error(r, s, ERR_BAD,
			   e == -EOPNOTSUPP ? "unknown request"
					    : "malformed request");
		return;
	}
	switch (q.op) {
	case RELAY_OP_ECHO: send_to(r, s, pt, (size_t)n); break;
	case RELAY_OP_SEND: op_send(r, s, &q); break;
	case RELAY_OP_FETCH: op_fetch(r, s); break;
	case RELAY_OP_ACK: op_ack(r, s, &q); break;
	case RELAY_OP_PREKEYS: op_prekeys(r, s, &q); break;
	case RELAY_OP_BUNDLE_GET: op_bundle_get(r, s, &q); break;
	case RELAY_OP_FWD: op_fwd(r, s, &q); break;
	}
}

static bool ts_fresh(struct relay *r, uint64_t serial, uint64_t ts)
{
	for (size_t i = 0; i < r->nseen; i++) {
		if (r->seen[i].serial == serial) {
			if (ts <= r->seen[i].ts)
				return false;
			r->seen[i].ts = ts;
			return true;
		}
	}
	if (r->nseen == MAX_SEEN)
		r->nseen = 0; /* skeleton: a real table evicts the oldest */
	r->seen[r->nseen++] = (struct seen){serial, ts};
	return true;
}

static void on_init(struct relay *r, const uint8_t *msg, size_t len,
		    const struct sockaddr_storage *from, socklen_t fromlen)
{
	uint8_t resp[TF_COMMS_RESP_MAX];
	struct tf_comms_peer peer;
	struct tf_comms_session *cs = NULL;
	struct sess *s = sess_alloc(r);
	int n;

	if (s == NULL) {
		logv(r, "session table full");
		return;
	}
	n = tf_comms_relay_accept(&r->cfg, msg, len, (uint64_t)time(NULL),
				  s->id, &peer, resp, sizeof(resp), &cs);
	if (n < 0) {
		/* silent to the device: the relay is no oracle of who is
		 * certified; the reason goes to the relay's own log */
		logv(r, "handshake refused: %s",
		     n == -EKEYREJECTED ? "certificate for another key"
					: tf_cert_reason(n));
		return;
	}
	if (!ts_fresh(r, peer.cert.serial, peer.ts_ns)) {
		logv(r, "replayed handshake of serial %" PRIu64 " refused",
		     peer.cert.serial);
		tf_comms_session_free(cs);
		return;
	}
	/* one session per device: a new handshake replaces the old one */
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (r->sess[i].used && r->sess[i].serial == peer.cert.serial) {
			relay_groups_sess_gone(r->groups, r->sess[i].id,
					       mono_ms());
			sess_drop(&r->sess[i]);
		}
	if (tf_roster_device_hash(tf_suite_by_id(r->cfg.suite), peer.cert.dh_pk,
				  peer.cert.dh_pk_len, s->device) < 0) {
		tf_comms_session_free(cs);
		return;
	}
	s->used = true;
	s->s = cs;
	s->serial = peer.cert.serial;
	s->role = peer.cert.role;
	snprintf(s->officer, sizeof(s->officer), "%s", peer.cert.officer);
	memcpy(&s->addr, from, fromlen);
	s->addrlen = fromlen;
	if (sendto(r->fd, resp, (size_t)n, MSG_DONTWAIT,
		   (const struct sockaddr *)from, fromlen) < 0)
		logv(r, "send response: %s", strerror(errno));
	logv(r, "%s connected (serial %" PRIu64 ", %s)", s->officer, s->serial,
	     tf_cert_role_name(peer.cert.role));
}

static void on_datagram(struct relay *r, const uint8_t *buf, size_t len,
			const struct sockaddr_storage *from, socklen_t fromlen)
{
	uint32_t id;

	switch (tf_comms_classify(r->cfg.suite, buf, len, &id)) {
	case TF_COMMS_MSG_INIT: on_init(r, buf, len, from, fromlen); break;
	case TF_COMMS_MSG_DATA: on_data(r, buf, len, id, from, fromlen); break;
	default: break; /* a RESP, another suite, noise: dropped */
	}
}

static int serve(struct relay *r)
{
	static uint8_t bufs[BATCH][DGRAM_MAX];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage addrs[BATCH];
	struct epoll_event ev;
	sigset_t mask;
	int ep, sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0)
		return -errno;
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = r->fd};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, r->fd, &ev) < 0)
		return -errno;
	ev.data.fd = sfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
		return -errno;
	for (;;) {
		struct epoll_event evs[2];
		uint64_t dl = relay_groups_deadline(r->groups), now = mono_ms();
		/* the floors' clocks (maximum talk time, queue timeouts) */
		int tmo = dl == UINT64_MAX ? -1
			  : dl <= now	   ? 0
					   : (int)TF_MIN(dl - now, 60000u);
		int n = epoll_wait(ep, evs, 2, tmo);
		relay_groups_tick(r->groups, mono_ms());
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					(void)load_denylist(r);
					continue;
				}
				close(ep);
				close(sfd);
				return 0;
			}
			/* a batch per wake-up (recvmmsg): one syscall for
			 * up to BATCH datagrams under load */
			for (int k = 0; k < BATCH; k++) {
				iov[k] = (struct iovec){bufs[k], DGRAM_MAX};
				mm[k].msg_hdr = (struct msghdr){
					.msg_name = &addrs[k],
					.msg_namelen = sizeof(addrs[k]),
					.msg_iov = &iov[k],
					.msg_iovlen = 1,
				};
			}
			int got =
				recvmmsg(r->fd, mm, BATCH, MSG_DONTWAIT, NULL);
			for (int k = 0; k < got; k++)
				on_datagram(r, bufs[k], mm[k].msg_len,
					    &addrs[k],
					    mm[k].msg_hdr.msg_namelen);
		}
	}
}

static int open_socket(const char *listen_arg)
{
	char host[64] = "127.0.0.1";
	const char *colon = strrchr(listen_arg, ':');
	struct sockaddr_in sa = {.sin_family = AF_INET};
	long port;
	char *end;
	int fd;

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
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a talk group's members all come back at once (a rekey, a relay
	 * restart): room for a burst of roster uploads; the kernel caps it
	 * at net.core.rmem_max, which is fine */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){4 << 20},
			 sizeof(int));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: " PROG " --listen [ADDR:]PORT --key KEYFILE --ca "
		"CA.pub --store DB [--denylist FILE] [--max-talk-ms MS] "
		"[-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct relay r;
	const char *listen_arg = NULL, *key = NULL, *ca = NULL, *db = NULL;
	_cleanup_free_ uint8_t *kb = NULL, *cb = NULL;
	struct tf_privfile pf = {0};
	struct tf_pubfile pub;
	/* MCPTT-like defaults: 30 s a burst, 2 min in an emergency */
	struct tf_floor_cfg fcfg = {.max_talk_ms = 30000,
				    .emergency_talk_ms = 120000,
				    .queue_ms = 30000,
				    .queue_max = 16,
				    .preempt_priority = 200};
	size_t len;
	int e;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			r.verbose = true;
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
		else if (!strcmp(argv[i], "--denylist"))
			r.dl_path = argv[++i];
		else if (!strcmp(argv[i], "--max-talk-ms"))
			fcfg.max_talk_ms =
				(uint32_t)strtoul(argv[++i], NULL, 10);
		else
			usage();
	}
	if (!listen_arg || !key || !ca || !db)
		usage();
	if (tf_crypto_init() < 0) {
		fprintf(stderr,
			PROG ": crypto libraries failed to initialise\n");
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
	r.cfg = (struct tf_comms_relay){.suite = pub.suite->id,
					.priv = r.priv,
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
	e = tf_store_open_sqlite(db, &r.store);
	if (e < 0) {
		fprintf(stderr, PROG ": cannot open the message store %s: %s\n",
			db, strerror(-e));
		return 1;
	}
	r.fd = open_socket(listen_arg);
	if (r.fd < 0) {
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", listen_arg,
			strerror(-r.fd));
		return 1;
	}
	logv(&r, "listening on %s (suite %s)", listen_arg, pub.suite->name);
	/* one line for scripts: the relay is ready */
	printf("ready\n");
	fflush(stdout);
	e = serve(&r);
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (r.sess[i].used)
			sess_drop(&r.sess[i]);
	tf_store_close(r.store);
	relay_groups_free(r.groups);
	tf_denylist_free(r.dl);
	tf_privfile_free(&pf);
	if (e < 0) {
		fprintf(stderr, PROG ": event loop failed: %s\n", strerror(-e));
		return 1;
	}
	return 0;
}
