/* SPDX-License-Identifier: ISC */
/*
 * The tunnel engine (engine.h): workers, batching, handshakes, timers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "engine.h"
#include "pkt.h"
#include "twofold/net.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define TX_BATCH 64u   /* datagrams per sendmmsg */
#define TX_GSO_MAX 64u /* segments per UDP_SEGMENT send (UDP_MAX_SEGMENTS) */
#define RX_BATCH 16u   /* messages per recvmmsg (each up to 64 KiB: GRO) */
#define RX_BUF 65536u
#define SLOT_MASK ((1u << TF_ENG_SLOT_BITS) - 1)
#define DEVICE_RETRY_NS (1 * TF_WG_NSEC)

uint64_t tf_eng_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * TF_WG_NSEC + (uint64_t)ts.tv_nsec;
}

static uint64_t now_realtime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * TF_WG_NSEC + (uint64_t)ts.tv_nsec;
}

const char *tf_eng_state_name(enum tf_tunnel_state s)
{
	switch (s) {
	case TF_TUNNEL_UP: return "up";
	case TF_TUNNEL_HANDSHAKING: return "handshaking";
	default: return "down";
	}
}

static const char *suite_name(uint8_t s)
{
	return s == TF_SUITE_GM ? "gm" : "intl";
}

static struct tf_wg_static *static_of(struct tf_eng *e, uint8_t suite)
{
	return e->cfg.st[suite == TF_SUITE_GM ? 1 : 0];
}

static void set_state(struct tf_eng *e, struct tf_eng_peer *p,
		      enum tf_tunnel_state s, int err, const char *reason)
{
	bool changed = p->state != s;

	if (reason && strcmp(reason, p->reason)) {
		snprintf(p->reason, sizeof(p->reason), "%s", reason);
		changed = true;
	}
	if (err)
		p->last_error = err;
	p->state = s;
	if (changed && e->cfg.on_state)
		e->cfg.on_state(e, p, e->cfg.ctx);
}

static void refuse(struct tf_eng *e, struct tf_eng_peer *p, const char *why)
{
	if (p) {
		atomic_fetch_add(&p->rejected, 1);
		snprintf(p->reason, sizeof(p->reason), "%s", why);
		p->last_error = -EPROTO;
	}
	if (e->cfg.on_refuse)
		e->cfg.on_refuse(e, p, why, e->cfg.ctx);
	if (p && e->cfg.on_state)
		e->cfg.on_state(e, p, e->cfg.ctx);
}

/* ---- inner address -> peer slot (the gateway's allowed-ips) ---- */

static size_t addr_hash(int family, const uint8_t *a, size_t cap)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;
	for (size_t i = 0; i < (family == AF_INET ? 4u : 16u); i++)
		h = (h ^ a[i]) * 16777619u;
	return h & (cap - 1);
}

static struct tf_eng_peer *route_lookup(struct tf_eng *e, int family,
					const uint8_t *a)
{
	if (!e->route_cap)
		return NULL;
	size_t alen = family == AF_INET ? 4 : 16;
	for (size_t i = addr_hash(family, a, e->route_cap), k = 0;
	     k < e->route_cap; k++, i = (i + 1) & (e->route_cap - 1)) {
		uint32_t v = e->route[i];
		if (!v)
			return NULL;
		struct tf_eng_peer *p = &e->peers[v - 1];
		for (size_t j = 0; j < p->n_addr; j++)
			if (p->addr[j].family == family &&
			    !memcmp(p->addr[j].addr, a, alen))
				return p;
	}
	return NULL;
}

int tf_eng_routes_rebuild(struct tf_eng *e)
{
	size_t n = 0, cap = 16;
	for (uint32_t s = 0; s < e->n_slots; s++)
		if (e->peers[s].used)
			n += e->peers[s].n_addr;
	while (cap < n * 2)
		cap *= 2;
	uint32_t *t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (uint32_t s = 0; s < e->n_slots; s++) {
		struct tf_eng_peer *p = &e->peers[s];
		if (!p->used)
			continue;
		for (size_t j = 0; j < p->n_addr; j++) {
			size_t i = addr_hash(p->addr[j].family, p->addr[j].addr,
					     cap);
			while (t[i])
				i = (i + 1) & (cap - 1);
			t[i] = s + 1;
		}
	}
	free(e->route);
	e->route = t;
	e->route_cap = cap;
	return 0;
}

/* ---- peers and keypairs ---- */

int tf_eng_init(struct tf_eng *e, const struct tf_eng_cfg *cfg)
{
	pthread_rwlockattr_t a;

	memset(e, 0, sizeof(*e));
	e->cfg = *cfg;
	e->peers = calloc(TF_ENG_MAX_PEERS, sizeof(*e->peers));
	if (!e->peers)
		return -ENOMEM;
	pthread_rwlockattr_init(&a);
	/* a writer (a handshake) must not starve behind the workers, which
	 * take the read lock back to back */
	pthread_rwlockattr_setkind_np(
		&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&e->lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&e->syn_lock, NULL);
	return 0;
}

int tf_eng_peer_add(struct tf_eng *e, const char *name, uint8_t suite,
		    const uint8_t *pub, size_t publen, const uint8_t *psk,
		    const struct tf_eng_prefix *addr, size_t n_addr,
		    const struct sockaddr *ep, socklen_t eplen)
{
	struct tf_wg_static *st = static_of(e, suite);
	uint32_t s = 0;

	if (!st || n_addr > TF_ENG_PEER_ADDRS)
		return -EINVAL;
	while (s < e->n_slots && e->peers[s].used)
		s++;
	if (s == TF_ENG_MAX_PEERS)
		return -ENOSPC;
	struct tf_eng_peer *p = &e->peers[s];
	memset(p, 0, sizeof(*p));
	int r = tf_wg_peer_new(st, pub, publen, psk, &p->wg);
	if (r < 0)
		return r;
	p->used = true;
	p->slot = s;
	p->suite = suite;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->n_addr = (uint8_t)n_addr;
	if (n_addr)
		memcpy(p->addr, addr, n_addr * sizeof(*addr));
	if (ep && eplen <= sizeof(p->ep)) {
		memcpy(&p->ep, ep, eplen);
		p->eplen = eplen;
	}
	p->t.initiator = e->cfg.device;
	p->state = TF_TUNNEL_DOWN;
	if (s == e->n_slots)
		e->n_slots++;
	return (int)s;
}

static void kp_drop(struct tf_wg_keypair **kp)
{
	tf_wg_keypair_free(*kp);
	*kp = NULL;
}

static uint32_t kp_index(const struct tf_wg_keypair *kp)
{
	struct tf_wg_keypair_info i;
	if (!kp)
		return 0;
	tf_wg_keypair_info(kp, &i);
	return i.local_index;
}

void tf_eng_peer_down(struct tf_eng *e, struct tf_eng_peer *p, int err,
		      const char *reason)
{
	kp_drop(&p->cur);
	kp_drop(&p->prev);
	kp_drop(&p->next);
	p->t.session_birth = 0;
	set_state(e, p, p->hs_index ? TF_TUNNEL_HANDSHAKING : TF_TUNNEL_DOWN,
		  err, reason);
}

void tf_eng_peer_remove(struct tf_eng *e, struct tf_eng_peer *p)
{
	kp_drop(&p->cur);
	kp_drop(&p->prev);
	kp_drop(&p->next);
	tf_wg_peer_free(p->wg);
	memset(p, 0, sizeof(*p));
}

static uint32_t new_index(struct tf_eng_peer *p)
{
	/* the slot in the low bits finds the peer without a table; the
	 * rest is random (WireGuard's indexes are opaque to the peer) */
	uint32_t i;
	do
		i = (randombytes_random() & ~SLOT_MASK) | p->slot;
	while (i == 0 || i == kp_index(p->cur) || i == kp_index(p->prev) ||
	       i == kp_index(p->next) || i == p->hs_index);
	return i;
}

static void send_to_peer(struct tf_eng *e, struct tf_eng_peer *p,
			 const uint8_t *buf, size_t len)
{
	ssize_t n;
	if (e->cfg.device)
		n = send(e->cfg.udp, buf, len, MSG_DONTWAIT);
	else if (p->eplen)
		n = sendto(e->cfg.udp, buf, len, MSG_DONTWAIT,
			   (const struct sockaddr *)&p->ep, p->eplen);
	else
		return;
	(void)n; /* a lost handshake message is retransmitted by timer */
}

static void send_initiation(struct tf_eng *e, struct tf_eng_peer *p,
			    uint64_t now)
{
	uint8_t msg[TF_WG_HANDSHAKE_MAX], tai[TF_WG_TAI64N_BYTES];
	uint32_t idx = new_index(p);

	if (!p->eplen)
		return;
	tf_wg_tai64n_now(tai);
	int n = tf_wg_create_initiation(p->wg, idx, tai, now, msg, sizeof(msg));
	if (n < 0)
		return;
	p->hs_index = idx;
	if (!p->t.handshaking) {
		p->t.handshaking = true;
		p->t.handshake_started = now;
	}
	p->t.handshake_sent = now;
	p->t.jitter_ms = randombytes_uniform(334);
	send_to_peer(e, p, msg, (size_t)n);
	atomic_store(&p->last_tx, now);
	if (p->state == TF_TUNNEL_DOWN)
		set_state(e, p, TF_TUNNEL_HANDSHAKING, 0, NULL);
}

static void send_keepalive(struct tf_eng *e, struct tf_eng_peer *p,
			   uint64_t now)
{
	uint8_t msg[TF_WG_TRANSPORT_OVERHEAD];
	if (!p->cur)
		return;
	int n = tf_wg_encrypt(p->cur, NULL, 0, e->cfg.mtu, now, msg,
			      sizeof(msg));
	if (n > 0) {
		send_to_peer(e, p, msg, (size_t)n);
		atomic_store(&p->last_tx, now);
	}
}

static void session_up(struct tf_eng *e, struct tf_eng_peer *p,
		       struct tf_wg_keypair *kp, bool initiator, uint64_t now)
{
	kp_drop(&p->prev);
	p->prev = p->cur;
	p->cur = kp;
	p->t.session_birth = now;
	p->t.session_initiator = initiator;
	p->t.last_session = now;
	p->t.handshaking = false;
	p->handshakes++;
	p->last_handshake_rt = now_realtime();
	p->last_error = 0;
	atomic_store(&p->want_handshake, false);
	char ep[64] = "";
	if (p->eplen)
		tf_sockaddr_format((const struct sockaddr *)&p->ep, ep,
				   sizeof(ep));
	char why[160];
	snprintf(why, sizeof(why), "session with %s (%s suite)",
		 ep[0] ? ep : p->name, suite_name(p->suite));
	set_state(e, p, TF_TUNNEL_UP, 0, why);
}

/* ---- handshake messages (write lock held) ---- */

static struct tf_eng_peer *peer_by_index(struct tf_eng *e, uint32_t idx)
{
	uint32_t s = idx & SLOT_MASK;
	if (s >= e->n_slots || !e->peers[s].used)
		return NULL;
	return &e->peers[s];
}

static void handle_handshake(struct tf_eng *e, enum tf_wg_msg kind,
			     uint8_t suite, const uint8_t *msg, size_t len,
			     const struct sockaddr_storage *src,
			     socklen_t srclen, uint64_t now)
{
	struct tf_wg_static *st = static_of(e, suite);
	struct tf_eng_peer *p = NULL;
	char why[160], from[64];

	tf_sockaddr_format((const struct sockaddr *)src, from, sizeof(from));
	if (!st) {
		if (e->cfg.device) {
			p = &e->peers[0];
			snprintf(why, sizeof(why),
				 "handshake of the %s suite on a%s %s tunnel: "
				 "refused",
				 suite_name(suite),
				 p->suite == TF_SUITE_INTL ? "n" : "",
				 suite_name(p->suite));
		} else {
			snprintf(why, sizeof(why),
				 "handshake of the %s suite from %s: this "
				 "gateway has no %s key: refused",
				 suite_name(suite), from, suite_name(suite));
		}
		atomic_fetch_add(&e->refused_suite, 1);
		refuse(e, p, why);
		return;
	}
	if (kind == TF_WG_MSG_INITIATION) {
		struct tf_wg_initiation in;
		int r = tf_wg_consume_initiation(st, msg, len, &in);
		if (r < 0) {
			atomic_fetch_add(&e->unknown, 1);
			return;
		}
		for (uint32_t s = 0; s < e->n_slots; s++) {
			struct tf_eng_peer *q = &e->peers[s];
			size_t pl;
			const uint8_t *pk;
			if (!q->used || q->suite != suite)
				continue;
			pk = tf_wg_peer_pub(q->wg, &pl);
			if (pl == in.peer_pub_len &&
			    !sodium_memcmp(pk, in.peer_pub, pl)) {
				p = q;
				break;
			}
		}
		if (!p) {
			tf_wg_initiation_wipe(&in);
			if (e->cfg.device) {
				p = &e->peers[0];
				snprintf(why, sizeof(why),
					 "handshake from %s with a key that "
					 "is not the peer's: refused",
					 from);
			} else {
				snprintf(why, sizeof(why),
					 "handshake of the %s suite from %s: "
					 "key not registered for %s: refused",
					 suite_name(suite), from,
					 suite_name(suite));
			}
			refuse(e, p, why);
			return;
		}
		r = tf_wg_consume_initiation_finish(p->wg, &in, now);
		if (r < 0) {
			atomic_fetch_add(&p->rejected, 1);
			return;
		}
		uint8_t out[TF_WG_HANDSHAKE_MAX];
		uint32_t idx = new_index(p);
		int n = tf_wg_create_response(p->wg, idx, now, out,
					      sizeof(out));
		struct tf_wg_keypair *kp = NULL;
		if (n < 0 || tf_wg_keypair_derive(p->wg, now, &kp) < 0)
			return;
		if (!e->cfg.device) {
			memcpy(&p->ep, src, srclen);
			p->eplen = srclen;
		}
		kp_drop(&p->next);
		p->next = kp;
		send_to_peer(e, p, out, (size_t)n);
		atomic_store(&p->last_tx, now);
		return;
	}
	uint32_t idx = tf_wg_msg_index(kind, msg);
	p = peer_by_index(e, idx);
	if (!p || p->suite != suite) {
		atomic_fetch_add(&e->unknown, 1);
		return;
	}
	if (kind == TF_WG_MSG_COOKIE_REPLY) {
		if (tf_wg_cookie_reply_consume(p->wg, msg, len, now) < 0)
			atomic_fetch_add(&p->rejected, 1);
		return;
	}
	/* a RESPONSE to our initiation */
	if (idx != p->hs_index || tf_wg_consume_response(p->wg, msg, len) < 0) {
		atomic_fetch_add(&p->rejected, 1);
		return;
	}
	struct tf_wg_keypair *kp = NULL;
	if (tf_wg_keypair_derive(p->wg, now, &kp) < 0)
		return;
	p->hs_index = 0;
	if (!e->cfg.device) {
		memcpy(&p->ep, src, srclen);
		p->eplen = srclen;
	}
	session_up(e, p, kp, true, now);
	/* confirm the session at once: the responder may not send before it
	 * has received with the new keys (whitepaper 6.1) */
	send_keepalive(e, p, now);
}

/* ---- tx: TUN -> UDP ---- */

struct txd {
	struct tf_eng_peer *peer;
	uint32_t off, len;
	uint32_t ep; /* index into tx_ctx.eps */
};

struct tx_ctx {
	struct tf_eng *e;
	int tun;
	uint64_t now;
	uint8_t *arena;
	size_t arena_cap, arena_used, slot;
	struct txd d[TX_BATCH];
	unsigned n;
	/* the gateway's destinations, copied under the read lock: a
	 * handshake may change a peer's endpoint while a batch is sent */
	struct sockaddr_storage eps[TX_BATCH];
	socklen_t eplens[TX_BATCH];
	unsigned n_eps;
	struct mmsghdr mm[TX_BATCH];
	struct iovec iov[TX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm[TX_BATCH];
	uint8_t icmp[TF_VNET_HDR_LEN + 1280];
	int lost_session; /* errno of an underlay ICMP error, 0 = none */
	size_t too_big;	  /* a datagram of this size got EMSGSIZE, 0 = none */
};

static void tx_flush(struct tx_ctx *c)
{
	struct tf_eng *e = c->e;
	unsigned m = 0;

	for (unsigned i = 0; i < c->n;) {
		unsigned j = i + 1;
		/* a run: same peer, same size, contiguous; the last may be
		 * shorter (UDP_SEGMENT's rule) */
		while (j < c->n && j - i < TX_GSO_MAX &&
		       c->d[j].peer == c->d[i].peer &&
		       c->d[j].ep == c->d[i].ep &&
		       c->d[j - 1].len == c->d[i].len &&
		       c->d[j].len <= c->d[i].len &&
		       (size_t)(j - i + 1) * c->d[i].len <= 65000)
			j++;
		struct msghdr *h = &c->mm[m].msg_hdr;
		memset(h, 0, sizeof(*h));
		c->iov[m].iov_base = c->arena + c->d[i].off;
		c->iov[m].iov_len =
			c->d[j - 1].off + c->d[j - 1].len - c->d[i].off;
		h->msg_iov = &c->iov[m];
		h->msg_iovlen = 1;
		if (!e->cfg.device) {
			h->msg_name = &c->eps[c->d[i].ep];
			h->msg_namelen = c->eplens[c->d[i].ep];
		}
		if (j - i > 1) {
			h->msg_control = c->cm[m].buf;
			h->msg_controllen = sizeof(c->cm[m].buf);
			struct cmsghdr *cm = CMSG_FIRSTHDR(h);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			uint16_t gso = (uint16_t)c->d[i].len;
			memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
		}
		m++;
		i = j;
	}
	for (unsigned done = 0; done < m;) {
		int r = sendmmsg(e->cfg.udp, c->mm + done, m - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (e->cfg.device &&
			    (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			     errno == ENETUNREACH))
				c->lost_session = errno;
			/* the underlay's MTU is below our datagrams: a run
			 * with UDP_SEGMENT is refused (EINVAL), a single one
			 * with PMTU "do" too (EMSGSIZE). Said in STATUS
			 * (outside the lock): `net status` says to lower
			 * tunnel_mtu instead of large packets vanishing */
			struct msghdr *h = &c->mm[done].msg_hdr;
			if (errno == EMSGSIZE ||
			    (errno == EINVAL && h->msg_controllen))
				c->too_big = h->msg_iov[0].iov_len;
			/* ENOBUFS & co: the datagram is lost, as on a
			 * congested link; TCP retransmits */
			done++;
			continue;
		}
		done += (unsigned)r;
	}
	c->n = 0;
	c->n_eps = 0;
	c->arena_used = 0;
}

/* A datagram was refused as too big for the underlay (EMSGSIZE: the
 * interface's or the learnt path MTU). The session stays; the reason (and
 * -EMSGSIZE) goes to STATUS, so `net status` and the log say what to do
 * instead of large packets vanishing. Once a second at most. */
static void device_too_big(struct tf_eng *e, size_t len)
{
	struct tf_eng_peer *p = &e->peers[0];
	static _Atomic uint64_t last;
	uint64_t now = tf_eng_now(), l = atomic_load(&last);
	char why[160];

	if (!e->cfg.device || (l && now - l < TF_WG_NSEC))
		return;
	atomic_store(&last, now);
	snprintf(why, sizeof(why),
		 "datagrams of %zu bytes exceed the underlay's MTU: lower "
		 "tunnel_mtu (now %u)",
		 len, e->cfg.mtu);
	pthread_rwlock_wrlock(&e->lock);
	set_state(e, p, p->state, -EMSGSIZE, why);
	pthread_rwlock_unlock(&e->lock);
}

static void tun_write_icmp(struct tx_ctx *c, const uint8_t *pkt, size_t len)
{
	size_t vh = c->e->cfg.vnet ? TF_VNET_HDR_LEN : 0;
	memset(c->icmp, 0, vh);
	size_t n = tf_pkt_unreachable(pkt, len, c->icmp + vh,
				      sizeof(c->icmp) - vh);
	if (n)
		(void)!write(c->tun, c->icmp, vh + n);
}

/* A TCP SYN (no ACK): remembered by the device (see engine.h syn[]). */
static void syn_remember(struct tf_eng *e, const uint8_t *pkt, size_t len,
			 uint64_t now)
{
	size_t l4;
	uint8_t proto;

	if ((pkt[0] >> 4) == 4) {
		l4 = (size_t)(pkt[0] & 15) * 4;
		proto = len >= 20 ? pkt[9] : 0;
	} else {
		l4 = 40;
		proto = len >= 40 ? pkt[6] : 0;
	}
	if (proto != IPPROTO_TCP || len < l4 + 14 ||
	    (pkt[l4 + 13] & 0x12) != 0x02)
		return;
	pthread_mutex_lock(&e->syn_lock);
	unsigned i = e->syn_next++ % TF_ARRAY_SIZE(e->syn);
	e->syn[i].sent = now;
	e->syn[i].len = (uint16_t)TF_MIN(len, sizeof(e->syn[i].hdr));
	memcpy(e->syn[i].hdr, pkt, e->syn[i].len);
	pthread_mutex_unlock(&e->syn_lock);
}

/* The gateway refused: answer the SYNs of the last 3 s (they went into
 * the void) as if the tunnel had been down when they were sent. */
static void syn_answer(struct tf_eng *e)
{
	uint8_t out[TF_VNET_HDR_LEN + 1280];
	size_t vh = e->cfg.vnet ? TF_VNET_HDR_LEN : 0;
	uint64_t now = tf_eng_now();

	memset(out, 0, vh);
	pthread_mutex_lock(&e->syn_lock);
	for (size_t i = 0; i < TF_ARRAY_SIZE(e->syn); i++) {
		if (!e->syn[i].sent || now - e->syn[i].sent > 3 * TF_WG_NSEC)
			continue;
		/* the quote is of the header we kept: fix its length so
		 * the answer is built from a well-formed packet */
		uint8_t *h = e->syn[i].hdr;
		if ((h[0] >> 4) == 4) {
			h[2] = (uint8_t)(e->syn[i].len >> 8);
			h[3] = (uint8_t)e->syn[i].len;
		} else {
			h[4] = (uint8_t)((e->syn[i].len - 40) >> 8);
			h[5] = (uint8_t)(e->syn[i].len - 40);
		}
		size_t n = tf_pkt_unreachable(h, e->syn[i].len, out + vh,
					      sizeof(out) - vh);
		if (n)
			(void)!write(e->cfg.tun[0], out, vh + n);
		e->syn[i].sent = 0;
	}
	pthread_mutex_unlock(&e->syn_lock);
}

static int tx_emit(void *ctx, uint8_t *pkt, size_t len)
{
	struct tx_ctx *c = ctx;
	struct tf_eng *e = c->e;
	struct tf_eng_peer *p;

	if (e->cfg.device) {
		p = &e->peers[0];
	} else {
		struct tf_pkt_addrs a;
		if (tf_pkt_addrs(pkt, len, &a) < 0 ||
		    !(p = route_lookup(e, a.family, a.dst))) {
			atomic_fetch_add(&e->unknown, 1);
			return 0;
		}
	}
	if (!p->cur || (e->cfg.device && p->state != TF_TUNNEL_UP)) {
		atomic_store(&p->want_handshake, true);
		if (e->cfg.device)
			tun_write_icmp(c, pkt, len);
		return 0;
	}
	size_t need = len + TF_WG_TRANSPORT_OVERHEAD + TF_WG_PADDING;
	if (c->n == TX_BATCH || c->arena_used + need > c->arena_cap)
		return 1; /* caller flushes and retries */
	int n = tf_wg_encrypt(p->cur, pkt, len, e->cfg.mtu, c->now,
			      c->arena + c->arena_used, need);
	if (n < 0) {
		if (n == -ESTALE)
			atomic_store(&p->want_handshake, true);
		return 0;
	}
	if (e->cfg.device && len <= 128)
		syn_remember(e, pkt, len, c->now);
	if (!e->cfg.device && (c->n == 0 || c->d[c->n - 1].peer != p)) {
		memcpy(&c->eps[c->n_eps], &p->ep, sizeof(p->ep));
		c->eplens[c->n_eps++] = p->eplen;
	}
	c->d[c->n++] = (struct txd){p, (uint32_t)c->arena_used, (uint32_t)n,
				    c->n_eps ? c->n_eps - 1 : 0};
	c->arena_used += (size_t)n;
	atomic_fetch_add_explicit(&p->tx_bytes, len, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->tx_packets, 1, memory_order_relaxed);
	atomic_store_explicit(&p->last_tx, c->now, memory_order_relaxed);
	atomic_store_explicit(&p->last_tx_data, c->now, memory_order_relaxed);
	{
		/* the first send since the peer was last heard: the
		 * liveness deadline counts from it (later sends must not
		 * push it back) */
		uint64_t f = atomic_load_explicit(&p->first_tx_data,
						  memory_order_relaxed);
		if (f == 0 || f <= atomic_load_explicit(&p->last_rx,
							memory_order_relaxed))
			atomic_compare_exchange_strong(&p->first_tx_data, &f,
						       c->now);
	}
	return 0;
}

/* the segment callback: a full batch is sent before the packet is taken
 * (the read lock is held throughout: the keypairs stay alive) */
static int tx_seg(void *ctx, uint8_t *pkt, size_t len)
{
	struct tx_ctx *c = ctx;
	if (tx_emit(c, pkt, len) == 1) {
		tx_flush(c);
		(void)tx_emit(c, pkt, len);
	}
	return 0;
}

/* The connected socket reported an ICMP error from the underlay (err:
 * ECONNREFUSED, EHOSTUNREACH, ENETUNREACH): the gateway is not there, so
 * the session is down at once (a stale one would swallow traffic). */
static void device_refused(struct tf_eng *e, int err)
{
	struct tf_eng_peer *p = &e->peers[0];
	char ep[64], why[160];

	pthread_rwlock_wrlock(&e->lock);
	tf_sockaddr_format((const struct sockaddr *)&p->ep, ep, sizeof(ep));
	if (err == ECONNREFUSED)
		snprintf(why, sizeof(why),
			 "%s refused the connection (ICMP port unreachable): "
			 "is the gateway running?",
			 ep);
	else
		snprintf(why, sizeof(why), "%s is unreachable (%s)", ep,
			 err == EHOSTUNREACH ? "host unreachable"
					     : "network unreachable");
	if (p->cur || p->state == TF_TUNNEL_UP)
		tf_eng_peer_down(e, p, -err, why);
	else
		set_state(e, p, p->state, -err, why);
	pthread_rwlock_unlock(&e->lock);
	syn_answer(e);
}

struct worker {
	struct tf_eng *e;
	unsigned q;
};
static struct worker workers[TF_TUNCTL_MAX_QUEUES + 1];

static void *tx_main(void *arg)
{
	struct worker *w = arg;
	struct tf_eng *e = w->e;
	size_t vh = e->cfg.vnet ? TF_VNET_HDR_LEN : 0;
	/* heap, not _Thread_local: static TLS would grow every thread of
	 * the program that links this (twofoldd) by 128 KiB */
	const size_t rcap = TF_VNET_HDR_LEN + TF_PKT_MAX;
	uint8_t *rbuf = malloc(rcap), *scratch = malloc(TF_PKT_MAX);
	struct tx_ctx *c = calloc(1, sizeof(*c));
	if (!c || !rbuf || !scratch)
		return NULL;
	c->e = e;
	c->tun = e->cfg.tun[w->q];
	c->arena_cap = TX_BATCH *
		       (e->cfg.mtu + TF_WG_TRANSPORT_OVERHEAD + TF_WG_PADDING);
	c->arena = malloc(c->arena_cap);
	if (!c->arena)
		return NULL;
	fcntl(c->tun, F_SETFL, fcntl(c->tun, F_GETFL) | O_NONBLOCK);

	while (!atomic_load(&e->stop)) {
		ssize_t n = read(c->tun, rbuf, rcap);
		if (n < 0) {
			/* saved first: the flush below fails sendmmsg on an
			 * MTU problem (EINVAL), and a clobbered errno read as
			 * "the TUN is gone" ended this queue's worker for
			 * good (net_badinput's MTU test) */
			int err = errno;
			if (c->n)
				tx_flush(c);
			if (c->lost_session) {
				device_refused(e, c->lost_session);
				c->lost_session = 0;
			}
			if (c->too_big) {
				device_too_big(e, c->too_big);
				c->too_big = 0;
			}
			if (err == EAGAIN) {
				struct pollfd pf = {c->tun, POLLIN, 0};
				poll(&pf, 1, -1);
			} else if (err != EINTR) {
				return NULL; /* the TUN is gone */
			}
			continue;
		}
		if ((size_t)n <= vh)
			continue;
		struct virtio_net_hdr h = {0};
		if (vh)
			memcpy(&h, rbuf, sizeof(h));
		c->now = tf_eng_now();
		pthread_rwlock_rdlock(&e->lock);
		(void)tf_pkt_segment(&h, rbuf + vh, (size_t)n - vh, scratch,
				     TF_PKT_MAX, tx_seg, c);
		pthread_rwlock_unlock(&e->lock);
		/* the lock is released before sending: the arena holds only
		 * ciphertext, and the peer's endpoint is stable while it is
		 * used (a removed peer's slot is wiped under the write lock,
		 * after which a stale pointer only reads zeros) */
		if (c->n >= TX_BATCH / 2)
			tx_flush(c);
	}
	return NULL;
}

/* ---- rx: UDP -> TUN ---- */

static bool sa_eq(const struct sockaddr_storage *a, socklen_t al,
		  const struct sockaddr_storage *b, socklen_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

static void gro_write(struct tf_gro *g, int tun)
{
	size_t n = tf_gro_flush(g);
	if (n)
		(void)!write(tun, g->buf, n);
}

static void *rx_main(void *arg)
{
	struct worker *w = arg;
	struct tf_eng *e = w->e;
	int tun = e->cfg.tun[0];
	size_t vh = e->cfg.vnet ? TF_VNET_HDR_LEN : 0;
	uint8_t *bufs = malloc((size_t)RX_BATCH * RX_BUF);
	struct mmsghdr mm[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage src[RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm[RX_BATCH];
	int one = 1;
	/* coalescing: a burst of one flow's segments is one TUN write */
	struct tf_gro *gro = calloc(1, sizeof(*gro));

	if (!bufs || !gro)
		return NULL;
	/* GRO: a burst of one peer's datagrams arrives as one buffer */
	(void)setsockopt(e->cfg.udp, SOL_UDP, UDP_GRO, &one, sizeof(one));
	while (!atomic_load(&e->stop)) {
		for (unsigned i = 0; i < RX_BATCH; i++) {
			iov[i].iov_base = bufs + (size_t)i * RX_BUF;
			iov[i].iov_len = RX_BUF;
			mm[i].msg_hdr = (struct msghdr){
				.msg_name = &src[i],
				.msg_namelen = sizeof(src[i]),
				.msg_iov = &iov[i],
				.msg_iovlen = 1,
				.msg_control = cm[i].buf,
				.msg_controllen = sizeof(cm[i].buf)};
		}
		int n = recvmmsg(e->cfg.udp, mm, RX_BATCH, MSG_WAITFORONE,
				 NULL);
		if (n < 0) {
			if (e->cfg.device &&
			    (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			     errno == ENETUNREACH)) {
				device_refused(e, errno);
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* the daemon's socket is non-blocking
				 * (MSG_WAITFORONE waits only with a
				 * blocking one): without this the thread
				 * spins on EAGAIN, a core's worth while
				 * idle */
				struct pollfd pf = {e->cfg.udp, POLLIN, 0};
				(void)poll(&pf, 1, -1);
			} else if (errno == EBADF || errno == ENOTSOCK) {
				return NULL;
			}
			continue;
		}
		uint64_t now = tf_eng_now();
		int held = 0; /* 0 none, 1 read, 2 write */
		/* peers whose responder session is confirmed, or that
		 * roamed: done under the write lock after the batch */
		struct {
			struct tf_eng_peer *p;
			int src;
		} confirm[RX_BATCH];
		unsigned n_confirm = 0;
		for (int i = 0; i < n; i++) {
			size_t tot = mm[i].msg_len, seg = tot;
			struct msghdr *h = &mm[i].msg_hdr;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c;
			     c = CMSG_NXTHDR(h, c))
				if (c->cmsg_level == SOL_UDP &&
				    c->cmsg_type == UDP_GRO) {
					int g;
					memcpy(&g, CMSG_DATA(c), sizeof(g));
					if (g > 0)
						seg = (size_t)g;
				}
			uint8_t *base = iov[i].iov_base;
			for (size_t off = 0; off < tot; off += seg) {
				uint8_t *dg = base + off;
				size_t len = TF_MIN(seg, tot - off);
				uint8_t suite;
				enum tf_wg_msg k =
					tf_wg_msg_type(dg, len, &suite);
				if (k == TF_WG_MSG_INVALID) {
					atomic_fetch_add(&e->unknown, 1);
					continue;
				}
				if (k != TF_WG_MSG_TRANSPORT) {
					if (held != 2) {
						if (held)
							pthread_rwlock_unlock(
								&e->lock);
						pthread_rwlock_wrlock(&e->lock);
						held = 2;
					}
					handle_handshake(e, k, suite, dg, len,
							 &src[i],
							 h->msg_namelen, now);
					continue;
				}
				if (!held) {
					pthread_rwlock_rdlock(&e->lock);
					held = 1;
				}
				uint32_t idx = tf_wg_msg_index(k, dg);
				struct tf_eng_peer *p = peer_by_index(e, idx);
				struct tf_wg_keypair *kp = NULL;
				bool is_next = false;
				if (p && p->suite == suite) {
					if (idx == kp_index(p->cur))
						kp = p->cur;
					else if (idx == kp_index(p->next))
						kp = p->next, is_next = true;
					else if (idx == kp_index(p->prev))
						kp = p->prev;
				}
				if (!kp) {
					if (p && p->suite != suite)
						atomic_fetch_add(&p->rejected,
								 1);
					else
						atomic_fetch_add(&e->unknown,
								 1);
					continue;
				}
				uint8_t *pt = dg + TF_WG_TRANSPORT_HEADER_BYTES;
				int r = tf_wg_decrypt(
					kp, dg, len, now, pt,
					len - TF_WG_TRANSPORT_HEADER_BYTES);
				if (r < 0) {
					atomic_fetch_add(&p->rejected, 1);
					continue;
				}
				atomic_store_explicit(&p->last_rx, now,
						      memory_order_relaxed);
				if ((is_next || (!e->cfg.device &&
						 !sa_eq(&src[i], h->msg_namelen,
							&p->ep, p->eplen))) &&
				    n_confirm < RX_BATCH &&
				    (n_confirm == 0 ||
				     confirm[n_confirm - 1].p != p))
					confirm[n_confirm++] =
						(__typeof__(confirm[0])){p, i};
				if (r == 0)
					continue; /* keepalive */
				struct tf_pkt_addrs a;
				if (tf_pkt_addrs(pt, (size_t)r, &a) < 0) {
					atomic_fetch_add(&p->rejected, 1);
					continue;
				}
				if (!e->cfg.device &&
				    route_lookup(e, a.family, a.src) != p) {
					/* allowed-ips: a device may only
					 * send from its own addresses */
					atomic_fetch_add(&p->bad_source, 1);
					continue;
				}
				atomic_store_explicit(&p->last_rx_data, now,
						      memory_order_relaxed);
				atomic_fetch_add_explicit(&p->rx_bytes, a.iplen,
							  memory_order_relaxed);
				atomic_fetch_add_explicit(&p->rx_packets, 1,
							  memory_order_relaxed);
				if (!vh) {
					(void)!write(tun, pt, a.iplen);
				} else if (!tf_gro_add(gro, pt, a.iplen)) {
					gro_write(gro, tun);
					(void)tf_gro_add(gro, pt, a.iplen);
				}
			}
		}
		gro_write(gro, tun);
		if (held)
			pthread_rwlock_unlock(&e->lock);
		if (n_confirm) {
			pthread_rwlock_wrlock(&e->lock);
			for (unsigned i = 0; i < n_confirm; i++) {
				struct tf_eng_peer *p = confirm[i].p;
				int k = confirm[i].src;
				if (!p->used)
					continue;
				/* an authenticated packet from a new
				 * address: the device roamed (whitepaper
				 * 6.5, endpoint update) */
				if (!e->cfg.device &&
				    mm[k].msg_hdr.msg_namelen <=
					    sizeof(p->ep)) {
					memcpy(&p->ep, &src[k],
					       mm[k].msg_hdr.msg_namelen);
					p->eplen = mm[k].msg_hdr.msg_namelen;
				}
				if (p->next) {
					/* the initiator used the new keys:
					 * the responder's session is
					 * confirmed */
					struct tf_wg_keypair *kp = p->next;
					p->next = NULL;
					session_up(e, p, kp, false, now);
				}
			}
			pthread_rwlock_unlock(&e->lock);
		}
	}
	return NULL;
}

int tf_eng_start(struct tf_eng *e)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 1u << 20);
	workers[0] = (struct worker){e, 0};
	if (pthread_create(&e->threads[e->n_threads++], &a, rx_main,
			   &workers[0]))
		return -EAGAIN;
	for (unsigned q = 0; q < e->cfg.n_tun; q++) {
		workers[q + 1] = (struct worker){e, q};
		if (pthread_create(&e->threads[e->n_threads++], &a, tx_main,
				   &workers[q + 1]))
			return -EAGAIN;
	}
	pthread_attr_destroy(&a);
	return 0;
}

/* ---- timers (write lock) ---- */

static void peer_tick(struct tf_eng *e, struct tf_eng_peer *p, uint64_t now,
		      uint64_t *next)
{
	struct tf_wg_timers *t = &p->t;
	uint64_t nx = UINT64_MAX;

	t->last_tx = atomic_load(&p->last_tx);
	t->last_rx = atomic_load(&p->last_rx);
	t->last_tx_data = atomic_load(&p->last_tx_data);
	t->first_tx_data = atomic_load(&p->first_tx_data);
	t->last_rx_data = atomic_load(&p->last_rx_data);
	t->pending = atomic_load(&p->want_handshake);
	if (p->cur) {
		struct tf_wg_keypair_info i;
		tf_wg_keypair_info(p->cur, &i);
		t->session_sent = i.send_counter;
	}
	if (e->cfg.device && p->state != TF_TUNNEL_UP) {
		/* the device keeps trying every second while down, so
		 * traffic resumes within a second of the gateway's return
		 * (WireGuard's 5 s REKEY_TIMEOUT is for a live session) */
		if (!t->handshaking ||
		    now - t->handshake_sent >= DEVICE_RETRY_NS) {
			if (t->handshaking &&
			    now - t->handshake_started >=
				    TF_WG_REKEY_TIMEOUT * TF_WG_NSEC &&
			    p->last_error != -ECONNREFUSED &&
			    p->last_error != -EHOSTUNREACH &&
			    p->last_error != -ENETUNREACH &&
			    p->last_error != -EPROTO) {
				char ep[64], why[160];
				tf_sockaddr_format(
					(const struct sockaddr *)&p->ep, ep,
					sizeof(ep));
				snprintf(why, sizeof(why),
					 "no handshake response from %s for "
					 "%u s",
					 ep, TF_WG_REKEY_TIMEOUT);
				set_state(e, p, p->state, -ETIMEDOUT, why);
			}
			send_initiation(e, p, now);
		}
		*next = TF_MIN(*next, t->handshake_sent + DEVICE_RETRY_NS);
		return;
	}
	if (e->cfg.device && t->handshaking &&
	    now - t->handshake_started >= TF_WG_REKEY_TIMEOUT * TF_WG_NSEC) {
		/* the gateway stopped answering: rather than send into the
		 * void until the session expires (3 minutes), the device
		 * goes down, answers with ICMP and retries every second */
		char ep[64], why[160];
		tf_sockaddr_format((const struct sockaddr *)&p->ep, ep,
				   sizeof(ep));
		snprintf(why, sizeof(why),
			 "no handshake response from %s for %u s", ep,
			 TF_WG_REKEY_TIMEOUT);
		tf_eng_peer_down(e, p, -ETIMEDOUT, why);
		*next = TF_MIN(*next, now + DEVICE_RETRY_NS);
		return;
	}
	unsigned due = tf_wg_timers_due(t, now, &nx);
	if (due & TF_WG_DO_WIPE) {
		kp_drop(&p->cur);
		kp_drop(&p->prev);
		kp_drop(&p->next);
		tf_wg_peer_clear_handshake(p->wg);
		p->hs_index = 0;
		t->session_birth = 0;
		t->handshaking = false;
		set_state(e, p, TF_TUNNEL_DOWN, 0, "no session for 9 minutes");
	} else if (due & TF_WG_DO_EXPIRE) {
		t->session_birth = 0;
		tf_eng_peer_down(e, p, -ETIMEDOUT,
				 "session expired without a new handshake");
	}
	if (due & TF_WG_DO_GIVE_UP) {
		tf_wg_peer_clear_handshake(p->wg);
		p->hs_index = 0;
		t->handshaking = false;
		atomic_store(&p->want_handshake, false);
	}
	if ((due & TF_WG_DO_INITIATE) && (e->cfg.device || p->eplen))
		send_initiation(e, p, now);
	if (due & TF_WG_DO_KEEPALIVE) {
		send_keepalive(e, p, now);
	}
	*next = TF_MIN(*next, nx);
}

void tf_eng_tick(struct tf_eng *e, int *next_ms)
{
	uint64_t now = tf_eng_now(), next = now + TF_WG_NSEC;

	pthread_rwlock_wrlock(&e->lock);
	for (uint32_t s = 0; s < e->n_slots; s++)
		if (e->peers[s].used)
			peer_tick(e, &e->peers[s], now, &next);
	pthread_rwlock_unlock(&e->lock);
	uint64_t d = next > now ? next - now : 0;
	*next_ms = (int)TF_MIN(d / 1000000 + 1, 1000);
}

void tf_eng_wipe(struct tf_eng *e)
{
	atomic_store(&e->stop, true);
	pthread_rwlock_wrlock(&e->lock);
	for (uint32_t s = 0; s < e->n_slots; s++)
		if (e->peers[s].used)
			tf_eng_peer_remove(e, &e->peers[s]);
	for (size_t i = 0; i < 2; i++) {
		tf_wg_static_free(e->cfg.st[i]);
		e->cfg.st[i] = NULL;
	}
	/* the lock stays taken: a worker that wakes now blocks on it until
	 * the process exits */
}
