/* SPDX-License-Identifier: ISC */
/*
 * Test harness for talk groups and push-to-talk against a real
 * twofold-relay (issue 15): many lightweight simulated members in one
 * process, each with its own certificate, UDP socket and Noise channel
 * to the relay. The harness also stands in for the group authority (it
 * signs the rosters and makes the epoch secrets; twofold-groupd does this
 * for real devices), so a test can count exactly which frames each member
 * could decrypt.
 *
 *   pttharness SUITE DIR PORT TEST [N]
 * DIR holds ca/ca.key, ca/ca.pub and relay.key.pub (twofold-ca); PORT is
 * the relay's (or the delay proxy's) on 127.0.0.1. TEST:
 *   rekey N   N members (default 100): a removal, then a join; the
 *             removed device decrypts zero later frames, the joiner zero
 *             earlier ones; prints the time until the new epoch is active
 *   floor     1,000 contention trials (zero double grants), emergency
 *             pre-emption, maximum talk time (relay --max-talk-ms 400),
 *             capture from the key press (no clipped frame)
 *   ghost     forged rosters (signed by an officer, by another CA's
 *             authority, a dropped or flipped signature, an older epoch):
 *             every one refused by the relay and by a member, reason shown
 *   grace     a burst across a rekey: the frames still in flight under
 *             the previous epoch play (src/comms/wire.c's grace key, as
 *             twofold-comms plays them), the removed device opens none of
 *             the new epoch; then a join that sorts before the talker
 *             (its index shifts): no frame lost, the relay routes the
 *             in-flight ones by the previous roster (src/relay/group.c)
 *             and refuses another member's old index; after the window
 *             the relay forwards no old-epoch frame and a player opens
 *             none
 *   latency   press -> granted and late entry -> first played frame over
 *             $PTT_TRIALS trials (default 10), p50/p95 printed
 *   nats      PORT "A,B": two relays on NATS, even members on A, odd on
 *             B: bursts heard across, a join that sorts before a talker
 *             on B mid-burst (its epoch-1 frames in flight play on both
 *             relays), $PTT_NATS_TRIALS contention trials,
 *             late entry, forged NATS messages ($PTT_NATS_PORT), a third
 *             relay outranking the owner ($PTT_JOIN_CMD), kill -9 of the
 *             owner ($PTT_OWNER_CMD names it, $PTT_KILL_CMD kills it)
 *   takeover  PORT "A,B" as nats: kill -9 the owner with the floor idle
 *             ($PTT_TAKEOVER=idle: granted again before the old lease,
 *             $PTT_LEASE_MS, would have ended) or mid-burst (=burst: no
 *             grant to another member before that grant's lease ran out)
 * Prints TAP-ish "ok"/"not ok" lines and "# " figures; exit 0 when every
 * check passed. Test code only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "twofold/comms.h"
#include "twofold/roster.h"
#include "twofold/sframe.h"
#include "twofold/wg.h"
#include "wire.h" /* ptt_open_frame, ptt_grace: what twofold-comms plays with */

#define MAXM 128
#define GROUP "north-1"
#define FRAME_BYTES 60
#define CAP_MAX 512

enum {
	OP_JOIN = 0x30,
	OP_STATE,
	OP_FREQ,
	OP_FREL,
	OP_FLOOR,
	OP_MEDIA,
	OP_FRAME,
	OP_LEAVE,
	OP_ERROR = 0x7f
};
enum { EV_GRANTED = 1, EV_QUEUED, EV_DENIED, EV_REVOKED, EV_RELEASED, EV_IDLE };

struct frame {
	uint8_t b[256];
	size_t n;
};

struct mem {
	char officer[16];
	uint8_t dh_priv[32], dh_pub[TF_PK_MAX];
	size_t dh_len;
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
	uint8_t dev[TF_ROSTER_DEVHASH_BYTES];
	int fd;
	struct tf_comms_session *s;
	/* the epoch secrets this device was given */
	uint64_t ep[8];
	uint8_t sec[8][TF_GROUP_SECRET_BYTES];
	int nsec;
	/* what it saw */
	unsigned ok[8]; /* frames opened, by their epoch (1..7) */
	unsigned opened, refused;
	uint64_t last_ctr;
	int64_t first_ctr;
	bool state, granted, revoked, queued, idle;
	uint8_t last_reason, revoke_reason;
	uint32_t burst;
	uint64_t state_kid;
	char err[200];
	bool capture;
	struct frame cap[CAP_MAX];
	size_t ncap;
	/* `grace`: a player opens frames exactly as twofold-comms does
	 * (src/comms/wire.c): the epoch in force, the previous one for its
	 * grace window after a rekey */
	bool player;
	uint64_t pep;
	uint8_t psec[TF_GROUP_SECRET_BYTES];
	struct ptt_grace pg;
	struct ptt_hold ph; /* frames of a newer epoch, until its key */
	unsigned p_opened, p_refused, p_held;
	/* a monitor counts grants and double grants as it sees them */
	bool mon;
	int holder;
};

static const struct tf_suite *S;
static struct mem M[MAXM];
static struct mem A; /* the group authority's own connection */
static size_t NM;
static struct sockaddr_in relay_addr, relay_addr2;
static bool two_relays; /* PORT was "A,B": odd members on B */
static uint8_t relay_pub[TF_PK_MAX];
static struct tf_key *ca_sk, *auth_sk;
static uint8_t auth_cert[TF_CERT_MAX];
static size_t auth_certlen;
static uint64_t serial_next = 1000;
static int failures;
/* the floor as the monitors (member 0 in `floor`) see it */
static unsigned double_grants, grants_seen, foreign_grants;

static void die(const char *what, int r)
{
	fprintf(stderr, "pttharness: %s: %d\n", what, r);
	exit(1);
}

static void check(bool ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	fflush(stdout);
	if (!ok)
		failures++;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static size_t readf(const char *path, uint8_t *out, size_t cap)
{
	char *b = NULL;
	size_t n;

	if (tf_read_file_at(AT_FDCWD, path, cap, &b, &n) < 0)
		die(path, -ENOENT);
	memcpy(out, b, n);
	tf_memzero(b, n);
	free(b);
	return n;
}

static size_t issue(const char *officer, unsigned role, struct tf_key *sign,
		    const uint8_t *dh, size_t dhlen, struct tf_key *ca,
		    uint8_t *out)
{
	struct tf_cert c = {0};
	int n;

	c.suite = S->id;
	c.role = (uint8_t)role;
	c.serial = serial_next++;
	c.not_before = (uint64_t)time(NULL) - 60;
	c.not_after = c.not_before + 86400;
	snprintf(c.officer, sizeof(c.officer), "%s", officer);
	snprintf(c.device, sizeof(c.device), "%s.dev", officer);
	c.sign_pk_len = S->pk_bytes;
	if (tf_key_public(sign, c.sign_pk, sizeof(c.sign_pk)) < 0)
		die("sign pk", -EIO);
	c.dh_pk_len = dhlen;
	memcpy(c.dh_pk, dh, dhlen);
	n = tf_cert_sign(&c, ca, out, TF_CERT_MAX);
	if (n < 0)
		die("cert", n);
	return (size_t)n;
}

static void mem_make(struct mem *m, const char *officer)
{
	struct tf_key *k = NULL;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->first_ctr = -1;
	m->holder = -1;
	snprintf(m->officer, sizeof(m->officer), "%s", officer);
	if (tf_wg_keygen(S->id, m->dh_priv, m->dh_pub, &m->dh_len) < 0 ||
	    tf_key_generate(S, TF_KEY_SIGN, &k) < 0)
		die("member keys", -EIO);
	m->certlen = issue(officer, TF_ROLE_OFFICER, k, m->dh_pub, m->dh_len,
			   ca_sk, m->cert);
	tf_key_free(k);
	if (tf_roster_device_hash(S, m->dh_pub, m->dh_len, m->dev) < 0)
		die("device hash", -EIO);
}

static void tx(struct mem *m, const uint8_t *pt, size_t n)
{
	uint8_t out[2048];
	int l = tf_comms_encrypt(m->s, pt, n, out, sizeof(out));

	if (l < 0)
		die("encrypt", l);
	if (send(m->fd, out, (size_t)l, 0) < 0)
		die("send", -errno);
}

static void mem_connect(struct mem *m)
{
	uint8_t out[TF_COMMS_INIT_MAX], in[2048];
	struct tf_comms_client *c = NULL;
	struct timespec ts;
	struct pollfd p;
	ssize_t n;
	int r;

	const struct sockaddr_in *ra = two_relays && m != &A && (m - M) % 2
					       ? &relay_addr2
					       : &relay_addr;

	m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->fd < 0 ||
	    connect(m->fd, (const struct sockaddr *)ra, sizeof(*ra)) < 0)
		die("socket", -errno);
	clock_gettime(CLOCK_REALTIME, &ts);
	r = tf_comms_client_start(
		S->id, m->dh_priv, relay_pub, m->cert, m->certlen,
		(uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
		(uint32_t)(m - M) + 1, &c, out, sizeof(out));
	if (r < 0)
		die("client start", r);
	for (int tries = 0; tries < 5; tries++) {
		if (send(m->fd, out, (size_t)r, 0) < 0)
			die("send init", -errno);
		p = (struct pollfd){.fd = m->fd, .events = POLLIN};
		if (poll(&p, 1, 2000) == 1)
			break;
	}
	n = recv(m->fd, in, sizeof(in), 0);
	if (n < 0)
		die("no handshake response from the relay", -errno);
	r = tf_comms_client_finish(c, in, (size_t)n, &m->s);
	tf_comms_client_free(c);
	if (r < 0)
		die("handshake", r);
	/* a keepalive confirms the session: the relay routes to it only
	 * after the device's first DATA */
	r = tf_comms_encrypt(m->s, in, 0, out, sizeof(out));
	if (r < 0 || send(m->fd, out, (size_t)r, 0) < 0)
		die("keepalive", r < 0 ? r : -errno);
}

static void give_secret(struct mem *m, uint64_t epoch, const uint8_t *sec)
{
	int i = m->nsec < 8 ? m->nsec++ : 7;

	m->ep[i] = epoch;
	memcpy(m->sec[i], sec, TF_GROUP_SECRET_BYTES);
}

/* The frame as this device would play it: the talker key of the kid's
 * (epoch, index) from the secret it holds for that epoch. A device that
 * holds none of that epoch tries what an attacker would: every secret it
 * has, also ratcheted forward (join) to the frame's epoch. A removal's
 * fresh secret defeats both; the KDF cannot be run backwards, so a
 * joiner's secret opens nothing older. */
static bool try_open(const uint8_t *sec, uint64_t kid, const uint8_t *f,
		     size_t n)
{
	uint8_t base[TF_KEY_BYTES], pt[256];
	struct tf_sframe_key *k = NULL;
	bool ok;

	if (tf_group_talker_key(S, sec, GROUP, tf_group_kid_epoch(kid),
				tf_group_kid_index(kid), base) < 0 ||
	    tf_sframe_key_derive(S, base, sizeof(base), kid, &k) < 0)
		return false;
	tf_memzero(base, sizeof(base));
	ok = tf_sframe_open(k, f, n, pt, sizeof(pt)) == FRAME_BYTES;
	tf_sframe_key_free(k);
	return ok;
}

static bool mem_open(struct mem *m, const uint8_t *f, size_t n, int *slot,
		     uint64_t *ctr_out)
{
	uint64_t kid, ctr;

	if (tf_sframe_peek(f, n, &kid, &ctr) < 0)
		return false;
	for (int i = 0; i < m->nsec; i++) {
		uint8_t s[TF_GROUP_SECRET_BYTES], t[TF_GROUP_SECRET_BYTES];
		bool ok = try_open(m->sec[i], kid, f, n);

		memcpy(s, m->sec[i], sizeof(s));
		for (uint64_t e = m->ep[i] + 1;
		     !ok && e <= tf_group_kid_epoch(kid) && e < m->ep[i] + 8;
		     e++) {
			if (tf_group_secret_join(S, s, GROUP, e, t) < 0)
				break;
			memcpy(s, t, sizeof(s));
			ok = try_open(s, kid, f, n);
		}
		tf_memzero(s, sizeof(s));
		tf_memzero(t, sizeof(t));
		if (ok) {
			*slot = (int)tf_group_kid_epoch(kid);
			*ctr_out = ctr;
			return true;
		}
	}
	return false;
}

static void on_floor(struct mem *m, const uint8_t *p, size_t n)
{
	size_t gl = p[0], ml;
	uint8_t type, reason;

	if (n < 1 + gl + 10)
		return;
	p += 1 + gl;
	type = p[0];
	reason = p[1];
	ml = p[9];
	m->last_reason = reason;
	switch (type) {
	case EV_GRANTED:
		if (ml == strlen(m->officer) &&
		    !memcmp(p + 10, m->officer, ml)) {
			m->granted = true;
			m->queued = false;
			m->burst = (uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 |
				   (uint32_t)p[7] << 8 | p[8];
		}
		m->idle = false;
		if (m->mon) {
			int who = -1;
			for (size_t i = 0; i < NM; i++)
				if (ml == strlen(M[i].officer) &&
				    !memcmp(p + 10, M[i].officer, ml))
					who = (int)i;
			if (who < 0)
				foreign_grants++;
			if (m->holder >= 0 && m->holder != who)
				double_grants++;
			m->holder = who;
			grants_seen++;
		}
		break;
	case EV_QUEUED: m->queued = true; break;
	case EV_DENIED: m->queued = false; break;
	case EV_REVOKED:
	case EV_RELEASED:
		if (ml == strlen(m->officer) &&
		    !memcmp(p + 10, m->officer, ml)) {
			m->granted = false;
			if (type == EV_REVOKED) {
				m->revoked = true;
				m->revoke_reason = reason;
			}
		}
		if (m->mon)
			m->holder = -1;
		break;
	case EV_IDLE:
		m->idle = true;
		if (m->mon)
			m->holder = -1;
		break;
	}
}

static void on_frame(struct mem *m, const uint8_t *p, size_t n)
{
	size_t gl = p[0], tl;
	uint64_t ctr;
	int slot;

	if (n < 2 + gl)
		return;
	tl = p[1 + gl];
	if (n < 2 + gl + tl + 4)
		return;
	p += 2 + gl + tl + 4;
	n -= 2 + gl + tl + 4;
	if (m->capture && m->ncap < CAP_MAX && n <= sizeof(m->cap[0].b)) {
		memcpy(m->cap[m->ncap].b, p, n);
		m->cap[m->ncap++].n = n;
	}
	if (m->player) {
		uint8_t pt[256];
		int r = ptt_rx_frame(S, GROUP, m->pep, m->psec, &m->pg, &m->ph,
				     0, p, n, now_us() / 1000, pt, sizeof(pt),
				     &ctr);
		if (r > 0)
			m->p_opened++;
		else if (r == 0)
			m->p_held++;
		else
			m->p_refused++;
		return;
	}
	if (mem_open(m, p, n, &slot, &ctr)) {
		m->opened++;
		m->ok[slot & 7]++;
		if (m->first_ctr < 0)
			m->first_ctr = (int64_t)ctr;
		m->last_ctr = ctr;
	} else {
		m->refused++;
	}
}

static void rx(struct mem *m)
{
	uint8_t in[2048], pt[2048];
	ssize_t n;

	while ((n = recv(m->fd, in, sizeof(in), 0)) > 0) {
		int l = tf_comms_decrypt(m->s, in, (size_t)n, pt, sizeof(pt));
		if (l < 1)
			continue;
		switch (pt[0]) {
		case OP_STATE:
			if (l >= 2 + pt[1] + 22) {
				const uint8_t *q =
					pt + 2 + pt[1] + 8 + 1 + 4 + 1;
				m->state_kid = 0;
				for (int i = 0; i < 8; i++)
					m->state_kid = m->state_kid << 8 | q[i];
				/* the floor as the relay that owns the group
				 * has it (after an ownership move: idle) */
				if (m->mon && !pt[2 + pt[1] + 8])
					m->holder = -1;
			}
			m->state = true;
			break;
		case OP_FLOOR: on_floor(m, pt + 1, (size_t)l - 1); break;
		case OP_FRAME: on_frame(m, pt + 1, (size_t)l - 1); break;
		case OP_ERROR:
			snprintf(m->err, sizeof(m->err), "%.*s", l - 2, pt + 2);
			break;
		}
	}
}

/* Receive on every member for at most ms, or until done() holds. */
static bool pump(bool (*done)(void *), void *arg, int ms)
{
	static struct pollfd p[MAXM];
	uint64_t end = now_us() + (uint64_t)ms * 1000;

	for (;;) {
		if (done && done(arg))
			return true;
		uint64_t t = now_us();
		if (t >= end)
			return done == NULL;
		for (size_t i = 0; i < NM; i++)
			p[i] = (struct pollfd){.fd = M[i].fd, .events = POLLIN};
		int w = (int)((end - t) / 1000) + 1;
		if (poll(p, NM, w > 20 ? 20 : w) < 0)
			die("poll", -errno);
		for (size_t i = 0; i < NM; i++)
			if (p[i].revents & POLLIN)
				rx(&M[i]);
	}
}

static size_t put_name(uint8_t *b, const char *s)
{
	b[0] = (uint8_t)strlen(s);
	memcpy(b + 1, s, b[0]);
	return 1 + b[0];
}

/* the roster in pieces: u32 total | u32 offset | bytes */
static void join(struct mem *m, const uint8_t *roster, size_t n)
{
	uint8_t b[1400];

	m->state = false;
	m->err[0] = '\0';
	for (size_t off = 0; off < n;) {
		size_t k = n - off > 1200 ? 1200 : n - off;
		b[0] = OP_JOIN;
		for (int i = 0; i < 4; i++) {
			b[1 + i] = (uint8_t)(n >> (24 - 8 * i));
			b[5 + i] = (uint8_t)(off >> (24 - 8 * i));
		}
		memcpy(b + 9, roster + off, k);
		tx(m, b, 9 + k);
		off += k;
	}
}

static void press(struct mem *m, uint8_t pri, bool emergency)
{
	uint8_t b[80];
	size_t l = 0;

	b[l++] = OP_FREQ;
	l += put_name(b + l, GROUP);
	b[l++] = pri;
	b[l++] = emergency;
	tx(m, b, l);
}

static void release(struct mem *m)
{
	uint8_t b[80];
	size_t l = 0;

	b[l++] = OP_FREL;
	l += put_name(b + l, GROUP);
	memset(b + l, 0, 4);
	l += 4;
	m->granted = false;
	tx(m, b, l);
}

static void leave(struct mem *m)
{
	uint8_t b[80];
	size_t l = 0;

	b[l++] = OP_LEAVE;
	l += put_name(b + l, GROUP);
	tx(m, b, l);
}

/* One 20 ms frame from talker m at roster index idx under epoch secret
 * sec, counter ctr: synthetic "speech" (opaque bytes, as Opus frames are
 * to the relay). */
static void talk(struct mem *m, const uint8_t *sec, uint64_t epoch,
		 unsigned idx, uint64_t ctr)
{
	uint8_t base[TF_KEY_BYTES], pt[FRAME_BYTES], b[300];
	struct tf_sframe_key *k = NULL;
	uint64_t kid = tf_group_kid(epoch, idx);
	size_t l = 0;
	int n;

	memset(pt, (int)(ctr & 0xff), sizeof(pt));
	memcpy(pt, "CANARY-PTT-SPEECH", 17);
	if (tf_group_talker_key(S, sec, GROUP, epoch, idx, base) < 0 ||
	    tf_sframe_key_derive(S, base, sizeof(base), kid, &k) < 0)
		die("talker key", -EIO);
	tf_memzero(base, sizeof(base));
	b[l++] = OP_MEDIA;
	l += put_name(b + l, GROUP);
	b[l++] = (uint8_t)(m->burst >> 24);
	b[l++] = (uint8_t)(m->burst >> 16);
	b[l++] = (uint8_t)(m->burst >> 8);
	b[l++] = (uint8_t)m->burst;
	n = tf_sframe_seal(k, ctr, pt, sizeof(pt), b + l, sizeof(b) - l);
	tf_sframe_key_free(k);
	if (n < 0)
		die("seal", n);
	tx(m, b, l + (size_t)n);
}

/* ---- the authority's side ---- */

static uint8_t *roster_sign(uint64_t epoch, const int *who, size_t n,
			    struct tf_key *sk, const uint8_t *cert,
			    size_t certlen, size_t *len)
{
	struct tf_roster *r = NULL;
	uint8_t *w = NULL;

	if (tf_roster_new(n, &r) < 0)
		die("roster", -ENOMEM);
	snprintf(r->group, sizeof(r->group), GROUP);
	r->epoch = epoch;
	r->issued_at = (uint64_t)time(NULL) - 5;
	r->expires_at = r->issued_at + 3600;
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		struct tf_roster_member *x = &r->m[i];
		snprintf(x->officer, sizeof(x->officer), "%s",
			 M[who[i]].officer);
		memcpy(x->device, M[who[i]].dev, sizeof(x->device));
		x->role = who[i] == 0 ? TF_ROLE_DISPATCHER : TF_ROLE_OFFICER;
	}
	if (tf_roster_sort(r) < 0 ||
	    tf_roster_sign(r, sk, cert, certlen, &w, len) < 0)
		die("roster sign", -EINVAL);
	free(r);
	return w;
}

/* the roster index of member i (rosters sort by officer id, and the
 * harness names members so that index order is name order) */
static unsigned index_of(const uint8_t *roster, size_t n, int i)
{
	struct tf_roster *r = NULL;
	int k;

	if (tf_roster_parse(roster, n, &r) < 0)
		die("parse own roster", -EBADMSG);
	k = tf_roster_find(r, M[i].officer, M[i].dev);
	free(r);
	if (k < 0)
		die("member not in roster", k);
	return (unsigned)k;
}

struct cnt {
	size_t from, to;
	unsigned slot_min;
	int epoch; /* all_opened: frames of this epoch */
	unsigned want;
};

static bool all_states(void *a)
{
	struct cnt *c = a;

	for (size_t i = c->from; i < c->to; i++)
		if (!M[i].state && !M[i].err[0])
			return false;
	return true;
}

static bool granted0(void *a)
{
	return ((struct mem *)a)->granted;
}

static bool all_opened(void *a)
{
	struct cnt *c = a;

	for (size_t i = c->from; i < c->to; i++)
		if (M[i].ok[c->epoch] < c->want)
			return false;
	return true;
}

static int port2; /* the second relay's, or 0 */
static void setup_world(const char *dir, int port, size_t n)
{
	uint8_t b[TF_PRIVFILE_BYTES], pb[TF_PUBFILE_MAX], pk[TF_PK_MAX];
	uint8_t seed[TF_KEY_BYTES];
	struct tf_privfile pf = {0};
	struct tf_pubfile pub;
	char path[512];
	size_t l;

	snprintf(path, sizeof(path), "%s/ca/ca.key", dir);
	l = readf(path, b, sizeof(b));
	if (tf_privfile_parse(b, l, &pf) < 0 || pf.suite != S ||
	    tf_privfile_sign_key(&pf, &ca_sk) < 0)
		die("CA key", -EINVAL);
	tf_memzero(b, sizeof(b));
	tf_privfile_free(&pf);
	snprintf(path, sizeof(path), "%s/relay.key.pub", dir);
	l = readf(path, pb, sizeof(pb));
	if (tf_pubfile_parse(pb, l, &pub) < 0 || pub.dh_pk_len == 0)
		die("relay public key", -EINVAL);
	memcpy(relay_pub, pub.dh_pk, pub.dh_pk_len);
	relay_addr = (struct sockaddr_in){.sin_family = AF_INET,
					  .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &relay_addr.sin_addr);
	relay_addr2 = relay_addr;
	if (port2 > 0) {
		two_relays = true;
		relay_addr2.sin_port = htons((uint16_t)port2);
	}
	/* the group authority: its own key and role certificate */
	if (tf_random(seed, sizeof(seed)) < 0 ||
	    tf_key_sign_from_seed(S, seed, &auth_sk) < 0 ||
	    tf_key_public(auth_sk, pk, sizeof(pk)) < 0)
		die("authority key", -EIO);
	memset(&A, 0, sizeof(A));
	A.fd = -1;
	snprintf(A.officer, sizeof(A.officer), "groupd");
	if (tf_wg_keygen(S->id, A.dh_priv, A.dh_pub, &A.dh_len) < 0)
		die("authority DH key", -EIO);
	auth_certlen = issue("groupd", TF_ROLE_GROUP_AUTHORITY, auth_sk,
			     A.dh_pub, A.dh_len, ca_sk, auth_cert);
	memcpy(A.cert, auth_cert, auth_certlen);
	A.certlen = auth_certlen;
	NM = n;
	for (size_t i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "m%03u", (unsigned)i);
		mem_make(&M[i], name);
	}
	M[0].mon = true;
}

/* The authority publishes a roster to the relay (as twofold-groupd does
 * on every change); true when the relay took it. */
static bool auth_publish(const uint8_t *r, size_t n)
{
	uint64_t end = now_us() + 3000000;

	if (A.s == NULL)
		mem_connect(&A);
	join(&A, r, n);
	while (!A.state && !A.err[0] && now_us() < end) {
		struct pollfd p = {.fd = A.fd, .events = POLLIN};
		if (poll(&p, 1, 20) == 1)
			rx(&A);
	}
	return A.state;
}

/* JOIN everyone in [from, to), in batches, again for whoever got no
 * answer (a datagram lost: UDP) */
static bool join_all(const uint8_t *r, size_t n, size_t from, size_t to)
{
	bool all = true;

	for (size_t b = from; b < to; b += 16) {
		struct cnt c = {.from = b, .to = b + 16 < to ? b + 16 : to};
		bool ok = false;
		for (int tries = 0; tries < 4 && !ok; tries++) {
			for (size_t i = c.from; i < c.to; i++)
				if (!M[i].state)
					join(&M[i], r, n);
			ok = pump(all_states, &c, 2000);
		}
		all = all && ok;
	}
	return all;
}

static void connect_all(size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		mem_connect(&M[i]);
}

/* ---- rekey ---- */

static int test_rekey(size_t n)
{
	int who[MAXM] = {0};
	uint8_t s1[32], s2[32], s3[32];
	size_t rl, R = n - 1, J = n, k;
	uint8_t *r1, *r2, *r3;
	struct cnt c;
	uint64_t t0, ctr = 0;
	unsigned i0;

	/* n members in the roster, one more (the joiner) outside it */
	NM = n + 1;
	connect_all(0, NM);
	for (size_t i = 0; i < n; i++)
		who[i] = (int)i;
	if (tf_random(s1, sizeof(s1)) < 0)
		die("random", -EIO);
	r1 = roster_sign(1, who, n, auth_sk, auth_cert, auth_certlen, &rl);
	for (size_t i = 0; i < n; i++)
		give_secret(&M[i], 1, s1);
	check(auth_publish(r1, rl), "the authority published epoch 1");
	check(join_all(r1, rl, 0, n), "all members joined epoch 1");
	i0 = index_of(r1, rl, 0);
	press(&M[0], 10, false);
	check(pump(granted0, &M[0], 5000), "member 0 granted the floor");
	M[1].capture = true; /* what a hostile relay could hand anyone */
	for (k = 0; k < 5; k++)
		talk(&M[0], s1, 1, i0, ctr++);
	c = (struct cnt){.from = 1, .to = n, .epoch = 1, .want = 5};
	check(pump(all_opened, &c, 10000),
	      "every other member decrypted the epoch-1 frames");
	if (getenv("PTT_DEBUG"))
		for (size_t i = 0; i < n; i++)
			printf("# m%zu ok %u opened %u refused %u state %d err "
			       "%s\n",
			       i, M[i].ok[0], M[i].opened, M[i].refused,
			       M[i].state, M[i].err);

	/* removal: epoch 2 without R, a fresh secret */
	t0 = now_us();
	who[R] = -1;
	if (tf_random(s2, sizeof(s2)) < 0)
		die("random", -EIO);
	r2 = roster_sign(2, who, n - 1, auth_sk, auth_cert, auth_certlen, &rl);
	/* the relay stops routing to R at once; the members get the new
	 * roster and secret from the authority (here: in process) */
	check(auth_publish(r2, rl), "the authority published epoch 2");
	for (size_t i = 0; i < n - 1; i++)
		give_secret(&M[i], 2, s2);
	unsigned r_before = M[R].opened;
	for (k = 0; k < 5; k++)
		talk(&M[0], s2, 2, index_of(r2, rl, 0), ctr++);
	c = (struct cnt){.from = 1, .to = n - 1, .epoch = 2, .want = 1};
	check(pump(all_opened, &c, 10000),
	      "remaining members decrypted the epoch-2 frames");
	printf("# removal: new epoch active at all %zu remaining members "
	       "after %.1f ms\n",
	       n - 1, (double)(now_us() - t0) / 1000);
	c.want = 5;
	(void)pump(all_opened, &c, 3000);
	/* the removed device: what the relay still sent it, and every
	 * epoch-2 frame a hostile relay could hand it */
	for (k = 0; k < M[1].ncap; k++) {
		uint64_t kid, x;
		int slot;
		if (tf_sframe_peek(M[1].cap[k].b, M[1].cap[k].n, &kid, &x) >=
			    0 &&
		    tf_group_kid_epoch(kid) == 2 &&
		    mem_open(&M[R], M[1].cap[k].b, M[1].cap[k].n, &slot, &x))
			M[R].opened++;
	}
	printf("# removed device decrypted %u later frames\n",
	       M[R].opened - r_before);
	check(M[R].opened == r_before,
	      "the removed device decrypts zero later frames");

	/* join: epoch 3 = epoch 2 + J, the secret ratcheted forward */
	t0 = now_us();
	who[R] = (int)J; /* reuse the slot for J */
	if (tf_group_secret_join(S, s2, GROUP, 3, s3) < 0)
		die("join ratchet", -EIO);
	r3 = roster_sign(3, who, n, auth_sk, auth_cert, auth_certlen, &rl);
	for (size_t i = 0; i < n - 1; i++)
		give_secret(&M[i], 3, s3);
	give_secret(&M[J], 3, s3); /* the joiner: only the new secret */
	check(auth_publish(r3, rl), "the authority published epoch 3");
	check(join_all(r3, rl, J, J + 1), "the joiner joined");
	for (k = 0; k < 5; k++)
		talk(&M[0], s3, 3, index_of(r3, rl, 0), ctr++);
	c = (struct cnt){.from = J, .to = J + 1, .epoch = 3, .want = 1};
	check(pump(all_opened, &c, 10000), "the joiner decrypts new frames");
	printf("# join: new epoch active at the joiner after %.1f ms\n",
	       (double)(now_us() - t0) / 1000);
	unsigned j_new = M[J].opened, j_old = 0;
	for (k = 0; k < M[1].ncap; k++) {
		uint64_t kid, x;
		int slot;
		if (tf_sframe_peek(M[1].cap[k].b, M[1].cap[k].n, &kid, &x) >=
			    0 &&
		    tf_group_kid_epoch(kid) < 3 &&
		    mem_open(&M[J], M[1].cap[k].b, M[1].cap[k].n, &slot, &x))
			j_old++;
	}
	printf("# joiner decrypted %u earlier frames (of %zu captured), %u "
	       "new\n",
	       j_old, M[1].ncap, j_new);
	check(j_old == 0, "the joiner decrypts zero earlier frames");
	c = (struct cnt){.from = 1, .to = n - 1, .epoch = 3, .want = 5};
	check(pump(all_opened, &c, 10000),
	      "the other members decrypt the epoch-3 frames");
	free(r1);
	free(r2);
	free(r3);
	return 0;
}

/* ---- grace: a burst across a rekey ---- */

struct pcnt {
	size_t from, to;
	unsigned want; /* p_opened + p_refused */
};

static bool all_got(void *a)
{
	struct pcnt *c = a;

	for (size_t i = c->from; i < c->to; i++)
		if (M[i].p_opened + M[i].p_refused + M[i].p_held < c->want)
			return false;
	return true;
}

static bool has_err(void *a)
{
	return ((struct mem *)a)->err[0] != '\0';
}

/* n members: 0 talks one burst of 30 frames; 1..n-2 play them as
 * twofold-comms does (wire.c's ptt_rx_frame); n-1 is removed in the
 * middle of it. The rekey (epoch 2, a fresh secret) reaches the players
 * 1..n-3 before the talker, so frames 10..19 are still sealed under
 * epoch 1 when they already have epoch 2 in force: with the grace key
 * they play, and the burst has no gap. Player n-2 is late: its key comes
 * after the talker's epoch-2 frames, which it holds and plays then. The
 * removed device opens none of epoch 2. Then epoch 3, a join (M[n],
 * "j-joiner") that sorts before the talker and moves its index up by
 * one: the talker's 10 frames still under epoch 2 and its epoch-2 index
 * are forwarded by the relay (group.c keeps the previous roster's
 * indexes for RELAY_GROUP_GRACE_MS) and played by every player; the
 * joiner opens none of them. After the window the relay forwards no
 * epoch-2 frame, and a player handed an epoch-1 or -2 frame anyway
 * refuses it. */
static int test_grace(size_t n)
{
	int who[MAXM] = {0};
	uint8_t s1[32], s2[32], s3[32], *r1, *r2;
	unsigned i3;
	size_t rl, R = n - 1, L = n - 2, J = n;
	struct pcnt c = {.from = 1, .to = n - 1};
	uint64_t ctr = 1, kid, x;
	unsigned i0, lost = 0, refused = 0, opened = 0, r_opened = 0, n2 = 0;
	struct ptt_grace none = {0};

	connect_all(0, n);
	for (size_t i = 0; i < n; i++)
		who[i] = (int)i;
	if (tf_random(s1, sizeof(s1)) < 0 || tf_random(s2, sizeof(s2)) < 0)
		die("random", -EIO);
	r1 = roster_sign(1, who, n, auth_sk, auth_cert, auth_certlen, &rl);
	for (size_t i = 1; i < n; i++) {
		M[i].player = true;
		M[i].pep = 1;
		memcpy(M[i].psec, s1, sizeof(s1));
	}
	check(auth_publish(r1, rl), "grace: the authority published epoch 1");
	check(join_all(r1, rl, 0, n), "grace: all members joined epoch 1");
	i0 = index_of(r1, rl, 0);
	press(&M[0], 10, false);
	check(pump(granted0, &M[0], 5000), "grace: member 0 granted the floor");
	M[1].capture = true;
	for (int k = 0; k < 10; k++)
		talk(&M[0], s1, 1, i0, ctr++);
	c.want = 10;
	(void)pump(all_got, &c, 5000);

	/* the rekey reaches the players (and the relay) first */
	who[R] = -1;
	r2 = roster_sign(2, who, n - 1, auth_sk, auth_cert, auth_certlen, &rl);
	check(auth_publish(r2, rl), "grace: the authority published epoch 2");
	if (index_of(r2, rl, 0) != i0)
		die("the talker's index moved", -EINVAL);
	for (size_t i = 1; i < L; i++) {
		if (ptt_grace_keep(&M[i].pg, 1, M[i].psec, now_us() / 1000) < 0)
			die("grace", -ENOMEM);
		M[i].pep = 2;
		memcpy(M[i].psec, s2, sizeof(s2));
	}
	/* the talker has not switched yet: 10 frames of epoch 1 in flight */
	for (int k = 0; k < 10; k++)
		talk(&M[0], s1, 1, i0, ctr++);
	/* now it has */
	for (int k = 0; k < 10; k++)
		talk(&M[0], s2, 2, i0, ctr++);
	c.want = 30;
	(void)pump(all_got, &c, 5000);
	/* the late player's key comes now: what it held plays */
	{
		struct ptt_held h;
		uint8_t pt[256];
		uint64_t cx;
		size_t k = M[L].ph.count;
		printf("# grace: the late player held %u frames\n",
		       M[L].p_held);
		if (ptt_grace_keep(&M[L].pg, 1, M[L].psec, now_us() / 1000) < 0)
			die("grace", -ENOMEM);
		M[L].pep = 2;
		memcpy(M[L].psec, s2, sizeof(s2));
		while (k-- > 0 && ptt_hold_next(&M[L].ph, now_us() / 1000, &h))
			if (ptt_rx_frame(S, GROUP, M[L].pep, M[L].psec,
					 &M[L].pg, &M[L].ph, h.burst, h.b, h.n,
					 h.at_ms, pt, sizeof(pt), &cx) > 0) {
				M[L].p_opened++;
				M[L].p_held--;
			}
		check(M[L].p_held == 0 && M[L].p_opened == 30,
		      "grace: the late player plays the 10 frames it held "
		      "once its key came (30 of 30)");
	}
	for (size_t i = 1; i < n - 1; i++) {
		opened += M[i].p_opened;
		refused += M[i].p_refused;
		lost += 30 - TF_MIN(30u, M[i].p_opened + M[i].p_refused);
	}
	printf("# grace: %zu players: %u frames played, %u refused, %u never "
	       "arrived (of %zu)\n",
	       n - 2, opened, refused, lost, 30 * (n - 2));
	check(refused == 0,
	      "grace: the burst across the rekey plays without a gap (every "
	      "frame that arrived played, the 10 in flight under epoch 1 "
	      "too)");

	/* the removed device: every epoch-2 frame a hostile relay could
	 * hand it, opened as twofold-comms would and as an attacker would
	 * (its epoch-1 secret, also ratcheted forward) */
	M[R].nsec = 0;
	give_secret(&M[R], 1, s1);
	for (size_t k = 0; k < M[1].ncap; k++) {
		uint8_t pt[256];
		int slot;
		if (tf_sframe_peek(M[1].cap[k].b, M[1].cap[k].n, &kid, &x) <
			    0 ||
		    tf_group_kid_epoch(kid) != 2)
			continue;
		n2++;
		if (ptt_open_frame(S, GROUP, 1, s1, &none, M[1].cap[k].b,
				   M[1].cap[k].n, now_us() / 1000, pt,
				   sizeof(pt), &x) >= 0)
			r_opened++;
		if (mem_open(&M[R], M[1].cap[k].b, M[1].cap[k].n, &slot, &x))
			r_opened++;
	}
	check(r_opened == 0 && n2 == 10,
	      "grace: the removed device decrypts zero frames of epoch 2 (10 "
	      "tried)");

	/* a join mid-burst whose officer id sorts before the talker's
	 * (epoch 3): the talker's index moves up by one, and the 10 frames
	 * it sealed under epoch 2 before its key came are in flight under
	 * its epoch-2 index; the relay still routes them by the previous
	 * roster (group.c), so every player plays all 20 and the joiner
	 * opens only the 10 of epoch 3 */
	{
		uint8_t *r3;
		unsigned i2 = i0, lost3 = 0, ref3 = 0;

		mem_make(&M[J], "j-joiner");
		mem_connect(&M[J]);
		who[J] = (int)J;
		{
			int w3[MAXM], k3 = 0;
			for (size_t i = 0; i <= J; i++)
				if (who[i] >= 0)
					w3[k3++] = who[i];
			r3 = roster_sign(3, w3, (size_t)k3, auth_sk, auth_cert,
					 auth_certlen, &rl);
		}
		i3 = index_of(r3, rl, 0);
		if (i3 != i2 + 1)
			die("the joiner does not shift the talker", -EINVAL);
		if (tf_group_secret_join(S, s2, GROUP, 3, s3) < 0)
			die("join secret", -EIO);
		for (size_t i = 1; i < n - 1; i++)
			M[i].p_opened = M[i].p_refused = M[i].p_held = 0;
		M[0].err[0] = '\0';
		check(auth_publish(r3, rl),
		      "grace: the authority published epoch 3 (a join before "
		      "the talker)");
		for (size_t i = 1; i < n - 1; i++) {
			if (ptt_grace_keep(&M[i].pg, 2, M[i].psec,
					   now_us() / 1000) < 0)
				die("grace", -ENOMEM);
			M[i].pep = 3;
			memcpy(M[i].psec, s3, sizeof(s3));
		}
		M[J].player = true;
		M[J].pep = 3;
		memcpy(M[J].psec, s3, sizeof(s3));
		check(join_all(r3, rl, J, J + 1),
		      "grace: the joiner joined epoch 3");
		for (int k = 0; k < 10; k++)
			talk(&M[0], s2, 2, i2, ctr++);
		for (int k = 0; k < 10; k++)
			talk(&M[0], s3, 3, i3, ctr++);
		c.want = 20;
		(void)pump(all_got, &c, 5000);
		{
			struct pcnt cj = {.from = J, .to = J + 1, .want = 20};
			(void)pump(all_got, &cj, 2000);
		}
		for (size_t i = 1; i < n - 1; i++) {
			ref3 += M[i].p_refused + M[i].p_held;
			lost3 += 20 - TF_MIN(20u, M[i].p_opened);
		}
		printf("# grace: join: %u frames lost, %u refused (of %zu); "
		       "the talker saw %s\n",
		       lost3, ref3, 20 * (n - 2),
		       M[0].err[0] ? M[0].err : "no error");
		check(lost3 == 0 && ref3 == 0 && M[0].err[0] == '\0',
		      "grace: a join that shifts the talker's index loses no "
		      "frame (the 10 in flight under its epoch-2 index "
		      "forwarded and played)");
		check(M[J].p_opened == 10 && M[J].p_refused == 10,
		      "grace: the joiner opens the 10 frames of epoch 3 and "
		      "none of epoch 2");
		/* under epoch 2 the index the talker has now (i3) was
		 * another member's: the relay refuses it */
		for (size_t i = 1; i < n - 1; i++)
			M[i].p_opened = M[i].p_refused = M[i].p_held = 0;
		talk(&M[0], s2, 2, i3, ctr++);
		talk(&M[0], s3, 3, i3, ctr++); /* in order behind it */
		c.want = 1;
		(void)pump(all_got, &c, 3000);
		(void)pump(has_err, &M[0], 2000);
		ref3 = 0;
		for (size_t i = 1; i < n - 1; i++)
			ref3 += M[i].p_refused + M[i].p_held +
				(M[i].p_opened != 1);
		check(ref3 == 0 && M[0].err[0] != '\0',
		      "grace: a frame under another member's epoch-2 index is "
		      "refused by the relay");
		free(r3);
	}

	/* after the window: the relay forwards no frame of the previous
	 * epoch (sent again: the replay of a captured one) */
	usleep((6000 /* RELAY_GROUP_GRACE_MS */ + 100) * 1000);
	for (size_t i = 1; i < n - 1; i++)
		M[i].p_opened = M[i].p_refused = M[i].p_held = 0;
	for (size_t k = 0; k < M[1].ncap; k++)
		if (tf_sframe_peek(M[1].cap[k].b, M[1].cap[k].n, &kid, &x) >=
			    0 &&
		    tf_group_kid_epoch(kid) == 2) {
			uint8_t b[300];
			size_t l = 0;
			b[l++] = OP_MEDIA;
			l += put_name(b + l, GROUP);
			for (int i = 3; i >= 0; i--)
				b[l++] = (uint8_t)(M[0].burst >> (8 * i));
			memcpy(b + l, M[1].cap[k].b, M[1].cap[k].n);
			tx(&M[0], b, l + M[1].cap[k].n);
			break;
		}
	/* an epoch-3 frame behind it on the same flow: once it is played,
	 * the replay would have come before it */
	talk(&M[0], s3, 3, i3, ctr++);
	c.want = 1;
	(void)pump(all_got, &c, 3000);
	opened = refused = 0;
	for (size_t i = 1; i < n - 1; i++) {
		opened += M[i].p_opened;
		refused += M[i].p_refused + M[i].p_held;
	}
	printf("# grace: after the window: %u played, %u refused (of %zu "
	       "players)\n",
	       opened, refused, n - 2);
	check(opened == n - 2 && refused == 0,
	      "grace: the relay forwards no epoch-2 frame after the window");
	/* and a hostile relay that hands the players a frame of epoch 2 or
	 * epoch 1 anyway: every player refuses it, its key is gone */
	opened = refused = 0;
	n2 = 0;
	for (size_t k = 0; k < M[1].ncap; k++) {
		uint64_t ep;
		if (tf_sframe_peek(M[1].cap[k].b, M[1].cap[k].n, &kid, &x) < 0)
			continue;
		ep = tf_group_kid_epoch(kid);
		if (ep != 1 && ep != 2)
			continue;
		n2++;
		for (size_t i = 1; i < n - 1; i++) {
			uint8_t pt[256];
			uint64_t cx;
			int e = ptt_rx_frame(
				S, GROUP, M[i].pep, M[i].psec, &M[i].pg,
				&M[i].ph, 0, M[1].cap[k].b, M[1].cap[k].n,
				now_us() / 1000, pt, sizeof(pt), &cx);
			if (e < 0)
				refused++;
			else
				opened++;
		}
	}
	check(opened == 0 && n2 == 40 && refused == n2 * (n - 2),
	      "grace: an epoch-1 or epoch-2 frame handed over after the "
	      "window is refused by every player");
	{
		bool wiped = true;
		for (size_t i = 1; i < n - 1; i++) {
			wiped = wiped && M[i].pg.secret == NULL;
			ptt_grace_wipe(&M[i].pg);
			ptt_hold_free(&M[i].ph);
		}
		check(wiped,
		      "grace: the previous key is wiped after the window");
	}
	free(r1);
	free(r2);
	return 0;
}

/* ---- floor ---- */

static bool resolved(void *a)
{
	struct cnt *c = a;
	unsigned g = 0;

	for (size_t i = c->from; i < c->to; i++) {
		if (M[i].granted)
			g++;
		else if (!M[i].queued)
			return false;
	}
	return g == 1;
}

static bool any_granted(void *a)
{
	struct cnt *c = a;

	for (size_t i = c->from; i < c->to; i++)
		if (M[i].granted)
			return true;
	return false;
}

static bool idle0(void *a)
{
	(void)a;
	return M[0].idle;
}

static bool revoked_m(void *a)
{
	return ((struct mem *)a)->revoked;
}

static int test_floor(void)
{
	int who[MAXM] = {0};
	size_t rl;
	uint8_t *r, s1[32];
	struct cnt c = {.from = 0, .to = NM};
	unsigned trials = 1000, bad = 0;

	connect_all(0, NM);
	for (size_t i = 0; i < NM; i++)
		who[i] = (int)i;
	r = roster_sign(1, who, NM, auth_sk, auth_cert, auth_certlen, &rl);
	for (size_t i = 0; i < NM; i++)
		join(&M[i], r, rl);
	check(pump(all_states, &c, 10000), "all members joined");
	/* contention: members 1..3 press in the same instant; then each
	 * holder lets go in turn until the floor is idle */
	for (unsigned t = 0; t < trials; t++) {
		struct cnt q = {.from = 1, .to = 4};
		for (size_t i = 1; i < 4; i++)
			press(&M[(t + i) % 3 + 1], 10, false);
		if (!pump(resolved, &q, 3000)) {
			bad++;
			continue;
		}
		M[0].idle = false;
		for (int round = 0; round < 3; round++) {
			for (size_t i = 1; i < 4; i++)
				if (M[i].granted) {
					release(&M[i]);
					M[i].queued = false;
				}
			if (round < 2 && !pump(any_granted, &q, 3000))
				bad++;
		}
		(void)pump(idle0, NULL, 3000);
		for (size_t i = 1; i < 4; i++)
			M[i].granted = M[i].queued = false;
	}
	printf("# floor contention: %u trials, %u grants seen, %u double "
	       "grants, %u unresolved\n",
	       trials, grants_seen, double_grants, bad);
	check(double_grants == 0 && bad == 0 && grants_seen >= 3 * trials,
	      "1000 contention trials: zero double grants");

	/* emergency pre-emption */
	M[1].revoked = false;
	press(&M[1], 10, false);
	check(pump(granted0, &M[1], 3000), "member 1 granted");
	press(&M[2], 0, true);
	check(pump(granted0, &M[2], 3000) && pump(revoked_m, &M[1], 3000) &&
		      M[1].revoke_reason == 2,
	      "an emergency pre-empts the talker");
	release(&M[2]);
	(void)pump(idle0, NULL, 3000);

	/* maximum talk time (the relay runs with --max-talk-ms 400) */
	M[3].revoked = false;
	press(&M[3], 10, false);
	check(pump(granted0, &M[3], 3000), "member 3 granted");
	check(pump(revoked_m, &M[3], 5000) && M[3].revoke_reason == 3,
	      "maximum talk time revokes the floor");
	(void)pump(idle0, NULL, 3000);

	/* capture from the key press: 2 presses while 1 talks; its frames
	 * from the press are buffered and sent once granted */
	if (tf_random(s1, sizeof(s1)) < 0)
		die("random", -EIO);
	for (size_t i = 0; i < NM; i++)
		give_secret(&M[i], 1, s1);
	press(&M[1], 10, false);
	(void)pump(granted0, &M[1], 3000);
	press(&M[2], 10, false);
	uint64_t pressed = now_us();
	unsigned buffered = 0;
	/* 200 ms of speech captured while waiting */
	while (now_us() - pressed < 200000) {
		(void)pump(NULL, NULL, 20);
		buffered++;
	}
	release(&M[1]);
	check(pump(granted0, &M[2], 3000), "member 2 granted after release");
	unsigned idx2 = index_of(r, rl, 2);
	for (unsigned k = 0; k < buffered + 5; k++)
		talk(&M[2], s1, 1, idx2, k);
	c = (struct cnt){.from = 3, .to = 4, .epoch = 1, .want = buffered + 5};
	check(pump(all_opened, &c, 5000) && M[3].first_ctr == 0,
	      "capture from the press: the first frame played is the first "
	      "spoken");
	printf("# capture: %u frames buffered before the grant, first played "
	       "ctr %lld\n",
	       buffered, (long long)M[3].first_ctr);
	release(&M[2]);
	free(r);
	return 0;
}

/* ---- ghost members ---- */

struct forgery {
	const char *what;
	uint8_t *b;
	size_t n;
	uint64_t held;
};

static int test_ghost(void)
{
	int who[3] = {0, 1, 2};
	struct tf_cert_anchor anchor;
	struct tf_key *other_ca = NULL, *x_sk = NULL, *fake_auth = NULL;
	uint8_t pk[TF_PK_MAX], xcert[TF_CERT_MAX], fcert[TF_CERT_MAX];
	size_t l1, l2, lx, lf, xcl, fcl;
	uint8_t *r1, *r2, *rx_, *rf;
	struct cnt c = {.from = 0, .to = 4};
	struct forgery forged[5];

	/* member 3 is the attacker's device: certified officer, not listed */
	connect_all(0, 4);
	if (tf_key_public(ca_sk, pk, sizeof(pk)) < 0 ||
	    tf_cert_anchor_init(&anchor, S, pk, S->pk_bytes) < 0)
		die("anchor", -EIO);
	r1 = roster_sign(1, who, 3, auth_sk, auth_cert, auth_certlen, &l1);
	for (size_t i = 0; i < 3; i++)
		join(&M[i], r1, l1);
	join(&M[3], r1, l1);
	check(pump(all_states, &c, 5000) && M[3].err[0] && !M[0].err[0],
	      "a device not in the roster cannot join");
	printf("# relay to m003: %s\n", M[3].err);
	r2 = roster_sign(2, who, 3, auth_sk, auth_cert, auth_certlen, &l2);
	for (size_t i = 0; i < 3; i++)
		join(&M[i], r2, l2);
	/* the forgeries, each adding the ghost m003 */
	int ghost[4] = {0, 1, 2, 3};
	if (tf_key_generate(S, TF_KEY_SIGN, &x_sk) < 0)
		die("key", -EIO);
	xcl = issue("m003", TF_ROLE_OFFICER, x_sk, M[3].dh_pub, M[3].dh_len,
		    ca_sk, xcert);
	rx_ = roster_sign(3, ghost, 4, x_sk, xcert, xcl, &lx);
	if (tf_key_generate(S, TF_KEY_SIGN, &other_ca) < 0 ||
	    tf_key_generate(S, TF_KEY_SIGN, &fake_auth) < 0)
		die("key", -EIO);
	fcl = issue("groupd", TF_ROLE_GROUP_AUTHORITY, fake_auth, pk,
		    S->pk_bytes, other_ca, fcert);
	rf = roster_sign(3, ghost, 4, fake_auth, fcert, fcl, &lf);
	forged[0] = (struct forgery){"signed by an officer", rx_, lx, 2};
	forged[1] =
		(struct forgery){"signed by another CA's authority", rf, lf, 2};
	/* the real authority's roster with the ghost, signature flipped */
	size_t lg;
	uint8_t *rg =
		roster_sign(3, ghost, 4, auth_sk, auth_cert, auth_certlen, &lg);
	uint8_t *rflip = malloc(lg), *rdrop = malloc(lg);
	memcpy(rflip, rg, lg);
	rflip[lg - 3] ^= 0x40;
	memcpy(rdrop, rg, lg);
	struct tf_roster *pr = NULL;
	if (tf_roster_parse(rg, lg, &pr) < 0)
		die("parse", -EBADMSG);
	size_t tbs = pr->tbs_len;
	free(pr);
	forged[2] = (struct forgery){"signature flipped", rflip, lg, 2};
	forged[3] = (struct forgery){"signature dropped", rdrop, tbs, 2};
	forged[4] = (struct forgery){"an older epoch (replay)", r1, l1, 2};
	for (size_t f = 0; f < 5; f++) {
		int e = tf_roster_verify(forged[f].b, forged[f].n, &anchor,
					 NULL, (uint64_t)time(NULL), GROUP,
					 forged[f].held, NULL);
		M[0].err[0] = '\0';
		join(&M[0], forged[f].b, forged[f].n);
		(void)pump(NULL, NULL, 300);
		char what[400];
		snprintf(what, sizeof(what),
			 "ghost roster %s: refused by a member (%s) and by "
			 "the relay (%s)",
			 forged[f].what, tf_roster_reason(e),
			 M[0].err[0] ? M[0].err : "accepted!");
		check(e < 0 && M[0].err[0] != '\0', what);
	}
	/* and the relay still routes by the real roster: m003 is not in */
	M[3].err[0] = '\0';
	press(&M[3], 10, false);
	(void)pump(NULL, NULL, 300);
	check(M[3].err[0] && !M[3].granted, "the ghost cannot take the floor");
	free(r1);
	free(r2);
	free(rx_);
	free(rf);
	free(rg);
	free(rflip);
	free(rdrop);
	tf_key_free(other_ca);
	tf_key_free(x_sk);
	tf_key_free(fake_auth);
	return 0;
}

/* ---- latency ---- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void pctl(const char *what, double *v, size_t n)
{
	qsort(v, n, sizeof(v[0]), cmp_d);
	printf("# %s over %zu trials: p50 %.1f ms, p95 %.1f ms\n", what, n,
	       v[n / 2], v[(n * 95 + 99) / 100 - 1]);
}

static bool late_played(void *a)
{
	return ((struct mem *)a)->opened > 0;
}

static int test_latency(void)
{
	const char *e = getenv("PTT_TRIALS");
	size_t trials = e ? (size_t)atoi(e) : 10, rl;
	int who[3] = {0, 1, 2};
	uint8_t *r, s1[32];
	struct cnt c = {.from = 0, .to = 3};
	double *grant = calloc(trials, sizeof(double)),
	       *late = calloc(trials, sizeof(double));
	uint64_t ctr = 0;

	if (trials == 0 || trials > 10000 || !grant || !late)
		die("PTT_TRIALS", -EINVAL);
	NM = 3;
	connect_all(0, 3);
	r = roster_sign(1, who, 3, auth_sk, auth_cert, auth_certlen, &rl);
	if (tf_random(s1, sizeof(s1)) < 0)
		die("random", -EIO);
	for (size_t i = 0; i < 3; i++) {
		give_secret(&M[i], 1, s1);
		join(&M[i], r, rl);
	}
	check(pump(all_states, &c, 10000), "members joined through the proxy");
	unsigned i1 = index_of(r, rl, 1);
	size_t ok_g = 0, ok_l = 0;
	for (size_t t = 0; t < trials; t++) {
		uint64_t t0 = now_us();
		press(&M[1], 10, false);
		if (pump(granted0, &M[1], 5000))
			grant[ok_g++] = (double)(now_us() - t0) / 1000;
		/* late entry: member 2 leaves and comes back mid-burst */
		leave(&M[2]);
		(void)pump(NULL, NULL, 40);
		M[2].opened = 0;
		M[2].state = false;
		t0 = now_us();
		join(&M[2], r, rl);
		uint64_t next = now_us();
		while (now_us() - t0 < 3000000 && !M[2].opened) {
			if (now_us() >= next) {
				talk(&M[1], s1, 1, i1, ctr++);
				next += 20000;
			}
			(void)pump(late_played, &M[2], 5);
		}
		if (M[2].opened)
			late[ok_l++] = (double)(now_us() - t0) / 1000;
		release(&M[1]);
		M[0].idle = false;
		(void)pump(idle0, NULL, 3000);
	}
	check(ok_g == trials && ok_l == trials,
	      "every press granted and every late entry played");
	if (ok_g)
		pctl("PTT press -> floor granted", grant, ok_g);
	if (ok_l)
		pctl("late entry -> first played frame", late, ok_l);
	free(grant);
	free(late);
	free(r);
	return 0;
}

/* ---- across two relays (NATS) ---- */

/* Publish raw bytes on the NATS bus as anyone with access to it could
 * (the text protocol: CONNECT, PUB, PING; wait for PONG) */
static bool nats_pub(const char *subj, const uint8_t *d, size_t n)
{
	const char *e = getenv("PTT_NATS_PORT");
	struct sockaddr_in a = {.sin_family = AF_INET};
	char hdr[256], in[4096];
	size_t got = 0;
	bool ok = false;
	int fd;

	if (e == NULL)
		return false;
	a.sin_port = htons((uint16_t)atoi(e));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	int hl = snprintf(hdr, sizeof(hdr),
			  "CONNECT {\"verbose\":false}\r\nPUB %s %zu\r\n", subj,
			  n);
	if (write(fd, hdr, (size_t)hl) == hl && write(fd, d, n) == (ssize_t)n &&
	    write(fd, "\r\nPING\r\n", 8) == 8) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		while (got < sizeof(in) - 1 && poll(&p, 1, 2000) == 1) {
			ssize_t k = read(fd, in + got, sizeof(in) - 1 - got);
			if (k <= 0)
				break;
			got += (size_t)k;
			in[got] = '\0';
			if (strstr(in, "PONG")) {
				ok = true;
				break;
			}
		}
	}
	close(fd);
	return ok;
}

static void subj_of(const char *tail, char *out, size_t cap)
{
	static const char hx[] = "0123456789abcdef";
	char h[2 * sizeof(GROUP)];
	size_t i;

	for (i = 0; GROUP[i]; i++) {
		h[2 * i] = hx[(uint8_t)GROUP[i] >> 4];
		h[2 * i + 1] = hx[(uint8_t)GROUP[i] & 15];
	}
	h[2 * i] = '\0';
	snprintf(out, cap, "twofold.g.%s.%s", h, tail);
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* "A 0123..." from PTT_OWNER_CMD: which relay owns the group, its node */
static bool owner_is(char *which, uint64_t *node)
{
	const char *cmd = getenv("PTT_OWNER_CMD");
	char line[128] = "";
	unsigned long long x = 0;
	FILE *f;

	if (cmd == NULL || (f = popen(cmd, "r")) == NULL)
		return false;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	pclose(f);
	if (sscanf(line, "%c %llx", which, &x) != 2)
		return false;
	*node = x;
	return true;
}

static bool granted_any(void *a)
{
	const int *w = a;

	for (; *w >= 0; w++)
		if (M[*w].granted)
			return true;
	return false;
}

static unsigned opened_sum(const int *w)
{
	unsigned n = 0;

	for (; *w >= 0; w++)
		n += M[*w].opened;
	return n;
}

struct want {
	const int *who;
	unsigned n;
};

static bool nats_all_opened(void *a)
{
	const struct want *x = a;

	for (const int *w = x->who; *w >= 0; w++)
		if (M[*w].opened < x->n)
			return false;
	return true;
}

static int test_nats(void)
{
	const char *e = getenv("PTT_NATS_TRIALS");
	unsigned trials = e ? (unsigned)atoi(e) : 200, bad = 0;
	int who[MAXM];
	size_t rl;
	uint8_t *r, s1[32];
	uint64_t ctr = 0, onode = 0, ep = 1;
	char which = '?', subj[128];

	/* members alternate: even ones on relay A, odd ones on relay B;
	 * M[0] (A) and M[5] (B) count grants */
	connect_all(0, NM);
	M[5].mon = true;
	for (size_t i = 0; i < NM; i++)
		who[i] = (int)i;
	r = roster_sign(1, who, NM, auth_sk, auth_cert, auth_certlen, &rl);
	if (tf_random(s1, sizeof(s1)) < 0)
		die("random", -EIO);
	for (size_t i = 0; i < NM; i++)
		give_secret(&M[i], 1, s1);
	check(join_all(r, rl, 0, NM), "members on both relays joined");
	check(owner_is(&which, &onode),
	      "one relay owns the group (its log says so)");
	printf("# owner: relay %c, node %016llx\n", which,
	       (unsigned long long)onode);

	/* a burst from B heard on A and B, and one from A heard on both */
	for (int t = 1; t <= 2; t++) {
		int listeners[] = {t == 1 ? 0 : 1, t == 1 ? 2 : 3, 4, 5, -1};
		unsigned before[4];
		for (int k = 0; k < 4; k++)
			before[k] = M[listeners[k]].opened;
		press(&M[t], 10, false);
		check(pump(granted0, &M[t], 8000), t == 1 ? "a talker on relay "
							    "B granted"
							  : "a talker on relay "
							    "A granted");
		for (int k = 0; k < 5; k++)
			talk(&M[t], s1, ep, index_of(r, rl, t), ctr++);
		bool heard = true;
		for (int k = 0; k < 4; k++) {
			struct want w = {.who = (int[]){listeners[k], -1},
					 .n = before[k] + 5};
			heard = pump(nats_all_opened, &w, 5000) && heard;
		}
		if (!heard)
			for (size_t i = 0; i < NM; i++)
				printf("# m%zu opened %u refused %u err %s\n",
				       i, M[i].opened, M[i].refused, M[i].err);
		check(heard, t == 1 ? "a burst from relay B: every member on "
				      "A and B decrypts its frames"
				    : "a burst from relay A: every member on "
				      "A and B decrypts its frames");
		release(&M[t]);
		(void)pump(idle0, NULL, 3000);
	}

	/* a join that sorts before a talker on relay B, mid-burst (epoch
	 * 2): the talker's index moves up by one, and its frames still in
	 * flight under epoch 1 and its epoch-1 index are routed by the
	 * owner and passed on by the other relay by the previous roster
	 * (group.c, gnats.c): every member on A and B plays them. From
	 * here on the group is at epoch 2 (r, s1, ep). */
	{
		uint8_t s2[32], *r2;
		size_t rl2;
		unsigned before[6], i1 = index_of(r, rl, 1), i2;
		int lis[] = {0, 2, 3, 4, 5};
		bool heard = true, heard2 = true;

		/* between m000 and m001; never connects (the relay routes by
		 * the roster, online or not) */
		mem_make(&M[NM], "m000a");
		for (size_t i = 0; i <= NM; i++)
			who[i] = (int)i;
		r2 = roster_sign(2, who, NM + 1, auth_sk, auth_cert,
				 auth_certlen, &rl2);
		i2 = index_of(r2, rl2, 1);
		if (i2 != i1 + 1)
			die("the joiner does not shift the talker", -EINVAL);
		if (tf_random(s2, sizeof(s2)) < 0)
			die("random", -EIO);
		press(&M[1], 10, false);
		check(pump(granted0, &M[1], 8000),
		      "a talker on relay B granted (before a join)");
		for (int k = 0; k < 3; k++)
			talk(&M[1], s1, 1, i1, ctr++);
		(void)pump(NULL, NULL, 200);
		for (int k = 0; k < 5; k++)
			before[k] = M[lis[k]].opened;
		M[1].err[0] = '\0';
		check(auth_publish(r2, rl2),
		      "the authority published epoch 2 (a join that sorts "
		      "before the talker)");
		/* the owner fans the roster out to the other relay */
		(void)pump(NULL, NULL, 300);
		for (int k = 0; k < 5; k++)
			talk(&M[1], s1, 1, i1, ctr++);
		for (int k = 0; k < 5; k++) {
			struct want w = {.who = (int[]){lis[k], -1},
					 .n = before[k] + 5};
			heard = pump(nats_all_opened, &w, 5000) && heard;
		}
		if (!heard)
			for (size_t i = 0; i < NM; i++)
				printf("# m%zu opened %u refused %u err %s\n",
				       i, M[i].opened, M[i].refused, M[i].err);
		check(heard && M[1].err[0] == '\0',
		      "across a join that shifts the talker's index: every "
		      "member on A and B plays its 5 frames in flight under "
		      "epoch 1");
		for (size_t i = 0; i < NM; i++)
			give_secret(&M[i], 2, s2);
		for (int k = 0; k < 5; k++)
			talk(&M[1], s2, 2, i2, ctr++);
		for (int k = 0; k < 5; k++) {
			struct want w = {.who = (int[]){lis[k], -1},
					 .n = before[k] + 10};
			heard2 = pump(nats_all_opened, &w, 5000) && heard2;
		}
		check(heard2, "then its epoch-2 frames under its new index");
		release(&M[1]);
		(void)pump(idle0, NULL, 3000);
		free(r);
		r = r2;
		rl = rl2;
		memcpy(s1, s2, sizeof(s1));
		ep = 2;
	}

	/* contention: talkers on both relays press at once */
	for (unsigned t = 0; t < trials; t++) {
		struct cnt q = {.from = 1, .to = 4};
		for (size_t i = 1; i < 4; i++)
			press(&M[(t + i) % 3 + 1], 10, false);
		if (!pump(resolved, &q, 5000)) {
			bad++;
			for (size_t i = 1; i < 4; i++) {
				release(&M[i]);
				M[i].queued = false;
			}
			(void)pump(idle0, NULL, 3000);
			continue;
		}
		M[0].idle = false;
		for (int round = 0; round < 3; round++) {
			for (size_t i = 1; i < 4; i++)
				if (M[i].granted) {
					release(&M[i]);
					M[i].queued = false;
				}
			if (round < 2 && !pump(any_granted, &q, 5000))
				bad++;
		}
		(void)pump(idle0, NULL, 3000);
		for (size_t i = 1; i < 4; i++)
			M[i].granted = M[i].queued = false;
	}
	printf("# contention across relays: %u trials, %u grants seen by two "
	       "monitors, %u double grants, %u unresolved\n",
	       trials, grants_seen, double_grants, bad);
	check(double_grants == 0 && bad == 0 && grants_seen >= 6 * trials,
	      "contention trials across two relays: zero double grants");

	/* late entry on the other relay than the talker's */
	press(&M[1], 10, false);
	check(pump(granted0, &M[1], 5000), "member 1 (relay B) granted");
	for (int k = 0; k < 3; k++)
		talk(&M[1], s1, ep, index_of(r, rl, 1), ctr++);
	(void)pump(NULL, NULL, 100);
	leave(&M[4]);
	(void)pump(NULL, NULL, 100);
	M[4].opened = 0;
	M[4].state = false;
	M[4].state_kid = 0;
	join(&M[4], r, rl);
	for (int k = 0; k < 100 && !M[4].opened; k++) {
		talk(&M[1], s1, ep, index_of(r, rl, 1), ctr++);
		(void)pump(late_played, &M[4], 20);
	}
	check(M[4].state && M[4].state_kid != 0 && M[4].opened > 0,
	      "late entry on relay A into a burst from relay B: STATE names "
	      "the running key, frames play");

	/* forged NATS messages (anyone on the bus): a fanned-out frame
	 * under another member's key id in the running burst; and floor
	 * requests to the owner for a ghost officer and for a member with
	 * a session it does not have */
	{
		int far[] = {which == 'A' ? 3 : 2, which == 'A' ? 5 : 4, -1};
		(void)pump(NULL, NULL, 300); /* the burst's last frames */
		unsigned before = opened_sum(far);
		uint8_t b[512], base[TF_KEY_BYTES], pt[FRAME_BYTES];
		struct tf_sframe_key *k = NULL;
		unsigned i2 = index_of(r, rl, 2);
		uint64_t kid = tf_group_kid(ep, i2);
		size_t l = 0;
		int n;
		b[l++] = 1;
		b[l++] = 6; /* FAN */
		put_be(b + l, onode, 8);
		l += 8;
		memset(b + l, 0, 12);
		l += 12;
		b[l++] = OP_FRAME;
		l += put_name(b + l, GROUP);
		l += put_name(b + l, M[1].officer);
		put_be(b + l, M[1].burst, 4);
		l += 4;
		memset(pt, 0x55, sizeof(pt));
		if (tf_group_talker_key(S, s1, GROUP, ep, i2, base) < 0 ||
		    tf_sframe_key_derive(S, base, sizeof(base), kid, &k) < 0)
			die("forged key", -EIO);
		n = tf_sframe_seal(k, 9999, pt, sizeof(pt), b + l,
				   sizeof(b) - l);
		tf_sframe_key_free(k);
		if (n < 0)
			die("seal", n);
		l += (size_t)n;
		subj_of("fan", subj, sizeof(subj));
		bool sent = nats_pub(subj, b, l);
		(void)pump(NULL, NULL, 500);
		printf("# forged fan-out frame under m002's key: %u frames "
		       "opened by members of the other relay\n",
		       opened_sum(far) - before);
		check(sent && opened_sum(far) == before,
		      "a forged .fan frame with a key id not the talker's is "
		      "refused by the relay");
	}
	release(&M[1]);
	(void)pump(idle0, NULL, 3000);
	{
		const char *names[2] = {"ghost", M[3].officer};
		unsigned g0 = grants_seen;
		bool sent = true;
		for (int f = 0; f < 2; f++) {
			uint8_t b[256];
			size_t l = 0;
			b[l++] = 1;
			b[l++] = 2; /* REQ */
			put_be(b + l, 0x1122334455667788ull, 8);
			l += 8;
			put_be(b + l, 0x0badf00d, 4);
			l += 4;
			b[l++] = 1; /* officer */
			memcpy(b + l, f ? M[3].dev : M[0].dev,
			       TF_ROSTER_DEVHASH_BYTES);
			l += TF_ROSTER_DEVHASH_BYTES;
			l += put_name(b + l, names[f]);
			b[l++] = OP_FREQ;
			l += put_name(b + l, GROUP);
			b[l++] = 250;
			b[l++] = 1; /* emergency */
			subj_of("own", subj, sizeof(subj));
			sent = nats_pub(subj, b, l) && sent;
		}
		(void)pump(NULL, NULL, 500);
		check(sent && grants_seen == g0 && foreign_grants == 0,
		      "forged .own floor requests (a ghost officer, a member "
		      "on a session it does not hold) are not granted");
	}

	/* a relay joins and outranks the owner (PTT_JOIN_CMD starts relay
	 * C, which has no members): the old owner revokes and hands over,
	 * the members' state moves, the group works through C */
	if (getenv("PTT_JOIN_CMD") != NULL) {
		unsigned dg = double_grants;
		char w2 = '?';
		uint64_t n2 = 0;
		/* m002 (relay A) talks when the group moves */
		M[2].revoked = false;
		press(&M[2], 10, false);
		check(pump(granted0, &M[2], 5000),
		      "member 2 (relay A) granted");
		check(system(getenv("PTT_JOIN_CMD")) == 0,
		      "relay C joins the cluster and the owner hands over");
		for (int k = 0; k < 100 && !(owner_is(&w2, &n2) && w2 == 'C');
		     k++)
			(void)pump(NULL, NULL, 100);
		check(w2 == 'C', "relay C owns the group now");
		check(pump(revoked_m, &M[2], 5000) && M[2].revoke_reason == 7,
		      "the old owner revoked the talker's floor (moved)");
		M[2].granted = false;
		which = w2;
		onode = n2;
		unsigned b0 = M[0].opened, b3 = M[3].opened;
		press(&M[1], 10, false);
		check(pump(granted0, &M[1], 8000),
		      "a talker on relay B granted by relay C");
		for (int k = 0; k < 5; k++)
			talk(&M[1], s1, ep, index_of(r, rl, 1), ctr++);
		struct want w0 = {.who = (int[]){0, -1}, .n = b0 + 5};
		struct want w3 = {.who = (int[]){3, -1}, .n = b3 + 5};
		check(pump(nats_all_opened, &w0, 5000) &&
			      pump(nats_all_opened, &w3, 5000),
		      "its burst is heard on relays A and B through C");
		check(double_grants == dg && foreign_grants == 0,
		      "no double grant across the handover");
		release(&M[1]);
		(void)pump(idle0, NULL, 3000);
	}

	/* kill -9 the owner mid-burst: the survivor takes the group over
	 * (floor held one lease), and its members talk again */
	{
		int sv[3], k0 = which == 'A' ? 1 : 0;
		for (int i = 0; i < 3; i++)
			sv[i] = which == 'C' ? i : k0 + 2 * i;
		int talkers[] = {sv[1], sv[2], -1};
		M[sv[0]].mon = true;
		M[sv[0]].holder = -1;
		press(&M[sv[1]], 10, false);
		check(pump(granted0, &M[sv[1]], 5000), "a survivor-side talker "
						       "granted");
		for (int k = 0; k < 5; k++)
			talk(&M[sv[1]], s1, ep, index_of(r, rl, sv[1]), ctr++);
		unsigned dg = double_grants;
		const char *kill = getenv("PTT_KILL_CMD");
		check(kill && system(kill) == 0,
		      "the owner relay killed with -9");
		uint64_t t0 = now_us();
		/* the burst goes on into nothing; then both press until one
		 * holds the floor from the new owner */
		M[sv[1]].granted = M[sv[2]].granted = false;
		bool got = false;
		while (!got && now_us() - t0 < 20000000) {
			talk(&M[sv[1]], s1, ep, index_of(r, rl, sv[1]), ctr++);
			if ((now_us() - t0) / 1000 % 500 < 25) {
				press(&M[sv[1]], 10, false);
				press(&M[sv[2]], 10, false);
			}
			got = pump(granted_any, talkers, 20);
		}
		printf("# after the kill: a grant from the new owner after "
		       "%.0f "
		       "ms\n",
		       (double)(now_us() - t0) / 1000);
		check(got, "the group works again on the survivor");
		int t = M[sv[1]].granted ? sv[1] : sv[2];
		int o = t == sv[1] ? sv[2] : sv[1];
		(void)pump(NULL, NULL, 200);
		check(!(M[sv[1]].granted && M[sv[2]].granted) &&
			      double_grants == dg,
		      "no double grant across the ownership move");
		unsigned b0 = M[o].opened, b1 = M[sv[0]].opened;
		for (int k = 0; k < 5; k++)
			talk(&M[t], s1, ep, index_of(r, rl, t), ctr++);
		struct want w1 = {.who = (int[]){o, -1}, .n = b0 + 5};
		struct want w2 = {.who = (int[]){sv[0], -1}, .n = b1 + 5};
		check(pump(nats_all_opened, &w1, 5000) &&
			      pump(nats_all_opened, &w2, 5000),
		      "the survivor's members decrypt the new burst");
		release(&M[t]);
	}
	free(r);
	return 0;
}

/* kill -9 the owner (PTT_KILL_CMD) with the floor idle (PTT_TAKEOVER
 * "idle", after every relay watched the floor for a lease) or during a
 * burst ("burst"); PTT_LEASE_MS is the relays' longest talk time. Idle:
 * the new owner grants before that lease would have ended (it learned
 * the floor from the other relays). Burst: no grant to another member
 * before the running grant's lease ran out. */
static int test_takeover(void)
{
	const char *mode = getenv("PTT_TAKEOVER"), *le = getenv("PTT_LEASE_MS");
	const char *kill = getenv("PTT_KILL_CMD");
	uint64_t lease = le ? (uint64_t)atoll(le) : 20000, onode = 0;
	bool idle = mode == NULL || strcmp(mode, "burst") != 0;
	int who[MAXM], sv[3];
	size_t rl;
	uint8_t *r, s1[32];
	uint64_t ctr = 0, tg = 0, t0;
	char which = '?';

	connect_all(0, NM);
	for (size_t i = 0; i < NM; i++)
		who[i] = (int)i;
	r = roster_sign(1, who, NM, auth_sk, auth_cert, auth_certlen, &rl);
	if (tf_random(s1, sizeof(s1)) < 0)
		die("random", -EIO);
	for (size_t i = 0; i < NM; i++)
		give_secret(&M[i], 1, s1);
	check(join_all(r, rl, 0, NM), "members on both relays joined");
	check(owner_is(&which, &onode), "one relay owns the group");
	printf("# owner: relay %c, node %016llx\n", which,
	       (unsigned long long)onode);
	/* the survivors: the members on the other relay */
	for (int i = 0; i < 3; i++)
		sv[i] = (which == 'A' ? 1 : 0) + 2 * i;
	M[sv[0]].mon = true;
	M[sv[0]].holder = -1;
	/* every relay has watched the group's .fan for a lease (and the
	 * hold of two relays starting at once is over) */
	(void)pump(NULL, NULL, (int)lease + 1500);
	if (!idle) {
		press(&M[sv[1]], 10, false);
		check(pump(granted0, &M[sv[1]], 5000),
		      "a survivor-side talker granted");
		tg = now_us();
		for (int k = 0; k < 5; k++)
			talk(&M[sv[1]], s1, 1, index_of(r, rl, sv[1]), ctr++);
		M[sv[1]].granted = false;
	}
	unsigned dg = double_grants;
	check(kill && system(kill) == 0, "the owner relay killed with -9");
	t0 = now_us();
	bool got = false;
	uint64_t last = 0;
	while (!got && now_us() - t0 < (lease + 15000) * 1000) {
		if (!idle)
			talk(&M[sv[1]], s1, 1, index_of(r, rl, sv[1]), ctr++);
		if (now_us() - last >= 1000000) {
			press(&M[sv[2]], 10, false);
			last = now_us();
		}
		got = pump(granted0, &M[sv[2]], 20);
	}
	uint64_t t1 = now_us();
	printf("# %s kill: member %d granted by the new owner %.0f ms after "
	       "the kill (lease %llu ms)\n",
	       idle ? "idle" : "mid-burst", sv[2], (double)(t1 - t0) / 1000,
	       (unsigned long long)lease);
	if (!idle)
		printf("# mid-burst kill: that is %.0f ms after the old "
		       "grant\n",
		       (double)(t1 - tg) / 1000);
	check(got, "the group works again on the survivor");
	if (idle)
		check(got && (t1 - t0) / 1000 < lease,
		      "idle floor: granted before the old lease would have "
		      "ended");
	else
		check(got && (t1 - tg) / 1000 >= lease,
		      "mid-burst: no other member granted before the running "
		      "grant's lease ran out");
	check(double_grants == dg, "no double grant across the takeover");
	release(&M[sv[2]]);
	free(r);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 5 ? (size_t)atoi(argv[5]) : 100;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 5 || tf_crypto_init() < 0 ||
	    (S = tf_suite_by_name(argv[1])) == NULL) {
		fprintf(stderr, "usage: pttharness SUITE DIR PORT TEST [N]\n");
		return 2;
	}
	{
		const char *comma = strchr(argv[3], ',');
		port2 = comma ? atoi(comma + 1) : 0;
	}
	if (!strcmp(argv[4], "nats")) {
		setup_world(argv[2], atoi(argv[3]), 6);
		test_nats();
	} else if (!strcmp(argv[4], "takeover")) {
		setup_world(argv[2], atoi(argv[3]), 6);
		test_takeover();
	} else if (!strcmp(argv[4], "rekey")) {
		if (n < 3 || n + 1 > MAXM)
			die("N", -EINVAL);
		setup_world(argv[2], atoi(argv[3]), n + 1);
		test_rekey(n);
	} else if (!strcmp(argv[4], "grace")) {
		setup_world(argv[2], atoi(argv[3]), 9); /* 8: the joiner */
		test_grace(8);
	} else if (!strcmp(argv[4], "floor")) {
		setup_world(argv[2], atoi(argv[3]), 4);
		test_floor();
	} else if (!strcmp(argv[4], "ghost")) {
		setup_world(argv[2], atoi(argv[3]), 4);
		test_ghost();
	} else if (!strcmp(argv[4], "latency")) {
		setup_world(argv[2], atoi(argv[3]), 3);
		test_latency();
	} else {
		return 2;
	}
	for (size_t i = 0; i < NM; i++) {
		if (M[i].s)
			tf_comms_session_free(M[i].s);
		if (M[i].fd >= 0)
			close(M[i].fd);
	}
	tf_key_free(ca_sk);
	tf_key_free(auth_sk);
	return failures ? 1 : 0;
}
