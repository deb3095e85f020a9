/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms (issue 15; docs/comms.md): the secure persona's messaging
 * service and its CLI, one binary.
 *
 *   twofold-comms --state DIR service --relay ADDR:PORT --relay-pub FILE
 *                 --key FILE --cert FILE --ca CA.pub [--denylist FILE] [-v]
 *       the process that holds the device's keys and end-to-end state
 *       (twofold/e2e.h), talks to twofold-relay over the device <-> relay
 *       channel (twofold/comms.h), and answers the CLI on DIR/control
 *       (AF_UNIX SOCK_SEQPACKET; only its own uid and, in a persona,
 *       the default app uid are answered: peer_allowed)
 *       [--audio-out FILE] [--audio-dev PCM] [--daemon-fd N]
 *   twofold-comms --state DIR msg send OFFICER[/DEVICE] TEXT
 *   twofold-comms --state DIR msg read
 *   twofold-comms --state DIR status
 *
 * Delivery: `msg send` puts the message in DIR/outbox (atomically, 0600)
 * with a random 16-byte id chosen here, and returns: the message goes out
 * when the relay is reachable and is deleted only when the relay says
 * STORED (after its durable commit). The first attempt replaces the
 * plaintext in the outbox by the end-to-end ciphertext, so every retry
 * sends the same bytes under the same id and the relay stores it once.
 * A relay that is down, or whose disk is full: the handshake (or the
 * SEND) is retried every second and the outbox waits; `status` says why.
 *
 * Prekeys: 100 one-time prekeys published at first, in as many PREKEYS
 * datagrams as they need; the relay's reply says how many it still holds
 * (asked again at every connect and after every first message), and below
 * 25 new ones up to 100 are made, saved, then published. The signed
 * prekey rotates weekly, the previous one kept for a grace
 * (docs/comms-protocol.md).
 *
 * Receiving: a message is written to DIR/inbox before the session state
 * that read it and before the ACK that lets the relay delete it, so a
 * crash in between re-reads it (a seen marker keeps it from showing
 * twice). Anything that fails authentication (a flipped bit, a replay, a
 * sender the relay swapped, a certificate for someone else) is shown in
 * `msg read` as REJECTED with the reason, never dropped silently.
 *
 * Several devices per officer (docs/comms-protocol.md "Several devices
 * per officer"): a message to OFFICER goes to every device the relay's
 * DEVICES names, one outbox item and one seal per device under the one
 * id; OFFICER/DEVICE to that device only. Sessions and certificates are
 * per device; what we send is copied to our officer's other devices.
 *
 * State in DIR (every file 0600 and written atomically, directories
 * 0700): prekeys, published, sessions/OFFICER/DEVICE (and DEVICE.prev;
 * OFFICER+legacy from before), certs/OFFICER/DEVICE, outbox/, inbox/,
 * read/, seen/.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/comms.h"
#include "twofold/config.h"
#include "twofold/crypto.h"
#include "twofold/e2e.h"
#include "twofold/secmem.h"

#include "audio.h"
#include "call.h"
#include "svc.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

uint64_t comms_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* the channel's clock (tf_comms_*_at): monotonic seconds, never 0 */
static uint64_t now_s(void)
{
	return comms_now_ms() / 1000 + 1;
}

uint64_t comms_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t comms_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void comms_log(struct svc *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void comms_hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* comms_unhex, comms_officer_ok, comms_get_name: wire.c */

int comms_path(struct svc *s, char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(out, cap, "%s/", s->dir);

	va_start(ap, fmt);
	n += vsnprintf(out + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

int comms_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	char *b = NULL;
	int r = tf_read_file_at(AT_FDCWD, path, max, &b, len);

	if (r == 0)
		*out = (uint8_t *)b;
	return r;
}

/* ---- state files ---- */

static int save_prekeys(struct svc *s)
{
	size_t n = tf_e2e_prekeys_encoded_bytes();
	uint8_t *b = tf_secure_alloc(n);
	char p[512];
	int r;

	if (b == NULL)
		return -ENOMEM;
	r = tf_e2e_prekeys_encode(s->pk, b, n);
	if (r > 0 && (r = comms_path(s, p, sizeof(p), "prekeys")) == 0)
		r = tf_atomic_write(p, b, n, 0600);
	tf_secure_free(b);
	return r < 0 ? r : 0;
}

int comms_load_session(struct svc *s, const char *who, const char *suffix,
		       struct tf_e2e_session **out)
{
	uint8_t *b = NULL;
	size_t n;
	char p[512];
	int r = comms_path(s, p, sizeof(p), "sessions/%s%s", who, suffix);

	if (r == 0)
		r = comms_read_file(p, tf_e2e_session_encoded_bytes(), &b, &n);
	if (r < 0)
		return r;
	r = tf_e2e_session_decode(b, n, out);
	tf_memzero(b, n);
	free(b);
	return r;
}

int comms_save_session(struct svc *s, const char *who, const char *suffix,
		       const struct tf_e2e_session *ss)
{
	size_t n = tf_e2e_session_encoded_bytes();
	uint8_t *b = tf_secure_alloc(n);
	char p[512];
	int r;

	if (b == NULL)
		return -ENOMEM;
	r = tf_e2e_session_encode(ss, b, n);
	if (r > 0)
		r = comms_mkdir_for(s, "sessions", who);
	if (r >= 0 && (r = comms_path(s, p, sizeof(p), "sessions/%s%s", who,
				      suffix)) == 0)
		r = tf_atomic_write(p, b, n, 0600);
	tf_secure_free(b);
	return r < 0 ? r : 0;
}

int comms_mkdir_for(struct svc *s, const char *sub, const char *who)
{
	const char *sl = strchr(who, '/');
	char p[512];
	int r;

	if (sl == NULL)
		return 0;
	r = comms_path(s, p, sizeof(p), "%s", sub);
	if (r == 0 && mkdir(p, 0700) < 0 && errno != EEXIST)
		r = -errno;
	if (r == 0)
		r = comms_path(s, p, sizeof(p), "%s/%.*s", sub, (int)(sl - who),
			       who);
	/* 0700 under the state dir, owned by the service's uid as every
	 * other directory there */
	if (r == 0 && mkdir(p, 0700) < 0 && errno != EEXIST)
		r = -errno;
	return r;
}

int comms_load_cert(struct svc *s, const char *who, uint8_t **out, size_t *len)
{
	char p[512];
	int r = comms_path(s, p, sizeof(p), "certs/%s", who);

	return r < 0 ? r : comms_read_file(p, TF_CERT_MAX, out, len);
}

void comms_save_cert(struct svc *s, const char *who, const uint8_t *b, size_t n)
{
	uint8_t *old = NULL;
	size_t ol;
	char p[512];
	bool same;

	/* the same certificate again (every call): no write, no fsync on
	 * the set-up path */
	if (comms_load_cert(s, who, &old, &ol) == 0) {
		same = ol == n && memcmp(old, b, n) == 0;
		free(old);
		if (same)
			return;
	}
	if (comms_mkdir_for(s, "certs", who) < 0 ||
	    comms_path(s, p, sizeof(p), "certs/%s", who) < 0 ||
	    tf_atomic_write(p, b, n, 0600) < 0)
		comms_log(s, "cannot keep the certificate of %s", who);
}

/* ---- state from before several devices per officer ---- */

/* DIR/certs/OFFICER (a file, from calls before this change) becomes
 * DIR/certs/OFFICER/DEVICE, the device its certificate names. Renamed
 * aside first (OFFICER+mig: '+' is never in an id), so a crash at any
 * step leaves a state the next start finishes. */
static void migrate_certs(struct svc *s)
{
	struct dirent **ents = NULL;
	char p[512], q[512];
	int n;

	if (comms_path(s, p, sizeof(p), "certs") < 0 ||
	    (n = scandir(p, &ents, NULL, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		char off[TF_CERT_ID_MAX + 1], *plus, dst[TF_COMMS_ADDR_MAX + 1];
		const char *e = ents[i]->d_name;
		uint8_t *b = NULL;
		size_t len;
		struct tf_cert c;
		struct stat st;

		if (strlen(e) >= sizeof(off))
			goto next;
		memcpy(off, e, strlen(e) + 1);
		plus = strchr(off, '+');
		if (plus && strcmp(plus, "+mig") == 0)
			*plus = '\0';
		else if (plus || e[0] == '.')
			goto next;
		if (!comms_officer_ok(off) ||
		    comms_path(s, p, sizeof(p), "certs/%s", e) < 0 ||
		    lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
			goto next;
		if (comms_read_file(p, TF_CERT_MAX, &b, &len) < 0 ||
		    tf_cert_parse(b, len, &c) < 0 || strcmp(c.officer, off)) {
			free(b);
			(void)unlink(p); /* not a certificate of off: asked
					    for again at the next call */
			goto next;
		}
		free(b);
		snprintf(dst, sizeof(dst), "%s/%s", off, c.device);
		if (plus == NULL) {
			if (comms_path(s, q, sizeof(q), "certs/%s+mig", off) <
				    0 ||
			    rename(p, q) < 0)
				goto next;
			snprintf(p, sizeof(p), "%s", q);
		}
		if (comms_mkdir_for(s, "certs", dst) == 0 &&
		    comms_path(s, q, sizeof(q), "certs/%s", dst) == 0 &&
		    rename(p, q) == 0)
			comms_log(s, "certificate of %s kept as %s", off, dst);
	next:
		free(ents[i]);
	}
	free(ents);
}

/* The device of officer whose certificate (DIR/certs/OFFICER/DEVICE)
 * certifies the identity key ik: dev, 0; -ENOENT when none does. */
static int device_of_key(struct svc *s, const char *officer, const uint8_t *ik,
			 size_t ikl, char *dev)
{
	struct dirent **ents = NULL;
	char p[512], a[TF_COMMS_ADDR_MAX + 1];
	int n, r = -ENOENT;

	if (comms_path(s, p, sizeof(p), "certs/%s", officer) < 0 ||
	    (n = scandir(p, &ents, NULL, alphasort)) < 0)
		return -ENOENT;
	for (int i = 0; i < n; i++) {
		uint8_t *b = NULL;
		size_t len;
		struct tf_cert c;

		if (r < 0 && comms_officer_ok(ents[i]->d_name) &&
		    (size_t)snprintf(a, sizeof(a), "%s/%s", officer,
				     ents[i]->d_name) < sizeof(a) &&
		    comms_load_cert(s, a, &b, &len) == 0 &&
		    tf_cert_parse(b, len, &c) == 0 && c.dh_pk_len == ikl &&
		    memcmp(c.dh_pk, ik, ikl) == 0 &&
		    !strcmp(c.device, ents[i]->d_name)) {
			snprintf(dev, TF_CERT_ID_MAX + 1, "%s", c.device);
			r = 0;
		}
		free(b);
		free(ents[i]);
	}
	free(ents);
	return r;
}

/* DIR/sessions/OFFICER (and .prev), one session per officer from before
 * this change, becomes DIR/sessions/OFFICER/DEVICE when a certificate of
 * ours names that officer's device with the session's identity key.
 * Otherwise it stays, renamed OFFICER+legacy (so that sessions/OFFICER
 * can become the officer's directory), and on_message tries it for a
 * message from any device of that officer: the one it opens for gets
 * it. Each step is a rename, and the next start finishes a crashed one. */
static void migrate_sessions(struct svc *s)
{
	struct dirent **ents = NULL;
	char p[512], q[512];
	int n;

	if (comms_path(s, p, sizeof(p), "sessions") < 0 ||
	    (n = scandir(p, &ents, NULL, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		const char *e = ents[i]->d_name;
		struct stat st;

		if (e[0] != '.' && strchr(e, '+') == NULL &&
		    comms_path(s, p, sizeof(p), "sessions/%s", e) == 0 &&
		    lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    comms_path(s, q, sizeof(q), "sessions/%s+legacy", e) == 0)
			(void)rename(p, q);
		free(ents[i]);
	}
	free(ents);
	if (comms_path(s, p, sizeof(p), "sessions") < 0 ||
	    (n = scandir(p, &ents, NULL, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		char off[TF_CERT_ID_MAX + 1], dev[TF_CERT_ID_MAX + 1],
			a[TF_COMMS_ADDR_MAX + 1];
		const char *e = ents[i]->d_name, *plus = strchr(e, '+');
		struct tf_e2e_session *ss = NULL;
		const uint8_t *ik;
		size_t ikl;

		if (plus == NULL || strcmp(plus, "+legacy") ||
		    (size_t)(plus - e) > TF_CERT_ID_MAX)
			goto next;
		snprintf(off, sizeof(off), "%.*s", (int)(plus - e), e);
		if (!comms_officer_ok(off) ||
		    (strlen(off) > 5 &&
		     !strcmp(off + strlen(off) - 5, ".prev")))
			goto next;
		if (comms_load_session(s, off, "+legacy", &ss) < 0)
			goto next;
		ik = tf_e2e_session_peer_ik(ss, &ikl);
		if (ik != NULL && device_of_key(s, off, ik, ikl, dev) == 0) {
			bool newer;

			snprintf(a, sizeof(a), "%s/%s", off, dev);
			/* a session with that device made since (a first
			 * message after a start that kept this one as
			 * legacy) is newer: the old one goes */
			newer = comms_path(s, q, sizeof(q), "sessions/%s", a) ==
					0 &&
				access(q, F_OK) == 0;
			if (comms_mkdir_for(s, "sessions", a) == 0 &&
			    comms_path(s, p, sizeof(p),
				       "sessions/%s.prev+legacy", off) == 0 &&
			    comms_path(s, q, sizeof(q), "sessions/%s.prev",
				       a) == 0) {
				if (newer)
					(void)unlink(p);
				else
					(void)rename(p, q);
			}
			if (comms_path(s, p, sizeof(p), "sessions/%s", e) ==
				    0 &&
			    comms_path(s, q, sizeof(q), "sessions/%s", a) ==
				    0) {
				if (newer)
					(void)unlink(p);
				else if (rename(p, q) == 0)
					comms_log(s,
						  "session with %s is now "
						  "%s's",
						  off, a);
			}
		}
		tf_e2e_session_free(ss);
	next:
		free(ents[i]);
	}
	free(ents);
}

/* ---- the relay channel ---- */

/* One channel datagram to the relay, over UDP or, after the fallback,
 * framed on the TCP connection (a big-endian u16 length first). */
static void relay_xmit(struct svc *s, const uint8_t *p, size_t n)
{
	uint8_t f[2 + 2048];

	if (!s->on_tcp) {
		(void)sendto(s->ufd, p, n, 0, (struct sockaddr *)&s->relay,
			     sizeof(s->relay));
		return;
	}
	if (s->tfd < 0 || n > sizeof(f) - 2)
		return;
	f[0] = (uint8_t)(n >> 8);
	f[1] = (uint8_t)n;
	memcpy(f + 2, p, n);
	/* blocking with SO_SNDTIMEO: a frame goes whole or the connection
	 * is given up (a partial frame would desynchronise the stream) */
	if (send(s->tfd, f, n + 2, MSG_NOSIGNAL) != (ssize_t)(n + 2)) {
		comms_log(s, "TCP connection to the relay lost");
		close(s->tfd);
		s->tfd = -1;
		s->connected = false;
	}
}

static int tcp_open(struct svc *s)
{
	struct timeval tv = {.tv_sec = 1};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* bounds connect() too, so a black-holed port costs 1 s */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&s->relay, sizeof(s->relay)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	s->tfd = fd;
	s->tin_len = 0;
	return 0;
}

/* Before each INIT: UDP first; after two unanswered INITs, TCP to the
 * same port; after two unanswered there (or a lost connection), UDP
 * again, so a network that lets UDP through again is used again. */
static void pick_transport(struct svc *s)
{
	if (s->on_tcp && (s->tfd < 0 || s->tries >= 2)) {
		if (s->tfd >= 0)
			close(s->tfd);
		s->tfd = -1;
		s->on_tcp = false;
		s->tries = 0;
	} else if (!s->on_tcp && s->tries >= 2) {
		int e = tcp_open(s);
		s->tries = 0;
		if (e == 0) {
			s->on_tcp = true;
			comms_log(s, "no answer over UDP; trying TCP");
		} else {
			comms_log(s, "no answer over UDP, TCP: %s",
				  strerror(-e));
		}
	}
	s->tries++;
}

void comms_relay_send(struct svc *s, const uint8_t *pt, size_t n)
{
	uint8_t out[TF_COMMS_PAYLOAD_MAX + TF_COMMS_DATA_OVERHEAD];
	int m;

	if (!s->connected)
		return;
	m = tf_comms_encrypt_at(s->cs, pt, n, out, sizeof(out), now_s());
	if (m == -EKEYEXPIRED) {
		/* no rekey went through in time: a new session */
		comms_log(s, "relay session keys expired; reconnecting");
		s->connected = false;
	}
	if (m < 0)
		return;
	relay_xmit(s, out, (size_t)m);
}

void comms_relay_named(struct svc *s, uint8_t op, const char *name,
		       const uint8_t *id, const uint8_t *body, size_t n)
{
	uint8_t b[TF_COMMS_PAYLOAD_MAX];
	size_t nl = strlen(name), off;

	if (2 + nl + (id ? ID_BYTES : 0) + n > sizeof(b))
		return;
	b[0] = op;
	b[1] = (uint8_t)nl;
	memcpy(b + 2, name, nl);
	off = 2 + nl;
	if (id) {
		memcpy(b + off, id, ID_BYTES);
		off += ID_BYTES;
	}
	if (n)
		memcpy(b + off, body, n);
	comms_relay_send(s, b, off + n);
}

static void start_handshake(struct svc *s)
{
	uint8_t out[TF_COMMS_INIT_MAX];
	uint32_t lid;
	int r;

	tf_comms_client_free(s->cl);
	s->cl = NULL;
	tf_comms_client_free(s->rk);
	s->rk = NULL;
	if (tf_random(&lid, sizeof(lid)) < 0)
		return;
	r = tf_comms_client_start(s->suite->id, s->pf.secret + TF_KEY_BYTES,
				  s->relay_pub, s->cert, s->certlen,
				  comms_real_ns(), lid, &s->cl, out,
				  sizeof(out));
	if (r < 0)
		return;
	pick_transport(s);
	relay_xmit(s, out, (size_t)r);
	s->last_init = comms_now_ms();
	s->init_us = comms_now_us();
	s->connect_us = 0;
	s->unanswered++;
}

static void on_connected(struct svc *s);

/* A new handshake on our session's connection ids (docs/comms-protocol.md
 * "Rekeying"): the relay answers it as a rekey, and the old keys keep
 * working until the new ones are in use. */
static void start_rekey(struct svc *s)
{
	uint8_t out[TF_COMMS_INIT_MAX];
	int r;

	tf_comms_client_free(s->rk);
	s->rk = NULL;
	r = tf_comms_client_rekey(s->cs, s->pf.secret + TF_KEY_BYTES,
				  s->relay_pub, s->cert, s->certlen,
				  comms_real_ns(), &s->rk, out, sizeof(out));
	if (r < 0)
		return;
	relay_xmit(s, out, (size_t)r);
	s->rk_sent = comms_now_ms();
}

/* The relay's answer to our rekey: true when it was that. */
static bool rekey_done(struct svc *s, const uint8_t *buf, size_t n)
{
	static const uint8_t ka[] = {OP_ECHO, 'k'};
	struct tf_comms_session *ns = NULL;
	int r;

	if (s->rk == NULL || s->cs == NULL)
		return false;
	r = tf_comms_client_finish(s->rk, buf, n, &ns);
	tf_comms_client_free(s->rk); /* spent either way */
	s->rk = NULL;
	if (r < 0)
		return false;
	tf_comms_session_set_birth(ns, now_s());
	if (tf_comms_session_rekey(s->cs, ns, now_s(), true) < 0) {
		/* the relay lost our session and made a new one: take it */
		tf_comms_session_free(s->cs);
		s->cs = ns;
		comms_log(s, "relay session replaced");
		on_connected(s);
		return true;
	}
	s->rekeys++;
	comms_log(s, "relay session rekeyed");
	/* our first DATA on the new keys tells the relay to use them */
	comms_relay_send(s, ka, sizeof(ka));
	return true;
}

/* The unused one-time prekeys [first, first + n) (oldest first) in as
 * many PREKEYS datagrams as they need, each a whole signed bundle (the
 * relay adds each one's keys); n 0: one bundle without any, which only
 * asks the relay how many of ours it holds. */
static void prekeys_send(struct svc *s, size_t first, size_t n)
{
	uint8_t b[TF_COMMS_PAYLOAD_MAX];
	size_t per, dl = tf_e2e_dh_bytes(s->suite->id);
	uint64_t now = comms_now_ms();
	int m;

	if (!s->connected)
		return;
	if (s->opk_inflight && now - s->opk_sent_ms > OPK_REPLY_WAIT_MS)
		s->opk_inflight = 0; /* lost on the way: do not wait forever */
	b[0] = OP_PREKEYS;
	/* how many fit next to the certificate and signed prekey */
	m = tf_e2e_prekeys_bundle_slice(s->pk, s->cert, s->certlen, 0, 0, b + 1,
					sizeof(b) - 1);
	if (m < 0)
		return;
	per = (sizeof(b) - 1 - (size_t)m) / (4 + dl);
	if (per == 0 && n > 0)
		return;
	if (per > TF_E2E_OPK_MAX)
		per = TF_E2E_OPK_MAX;
	do {
		size_t k = n < per ? n : per;

		m = tf_e2e_prekeys_bundle_slice(s->pk, s->cert, s->certlen,
						first, k, b + 1, sizeof(b) - 1);
		if (m < 0)
			return;
		comms_relay_send(s, b, (size_t)m + 1);
		s->opk_inflight++;
		s->opk_sent_ms = now;
		first += k;
		n -= k;
	} while (n > 0);
}

/* The first publication, and (force) again at every connect: all our
 * unused one-time prekeys, oldest first (the relay ignores known ones
 * and never brings back one it handed out, and hands out the oldest
 * first, so its order stays ours); the last reply's count says whether
 * to top up. */
static void publish_prekeys(struct svc *s, bool force)
{
	char p[512];

	if (comms_path(s, p, sizeof(p), "published") < 0 ||
	    (!force && (access(p, F_OK) == 0 || s->opk_inflight > 0)))
		return;
	prekeys_send(s, 0, tf_e2e_prekeys_opk_left(s->pk));
}

/* The relay holds left of our one-time prekeys: below OPK_LOW, new ones
 * up to OPK_TARGET, on disk before they are published (a crash between
 * loses nothing the relay could hand out). A full table drops its
 * oldest unused keys: those are the ones the relay handed out first, and
 * the count comes after the relay's stored messages for us (FETCH is
 * asked first), so what is dropped was handed out and its first message
 * never stored (e.g. a caller who never wrote); the OPK_OUT_KEEP handed
 * out last stay, for a sender between its BUNDLE_GET and its SEND. */
static void on_prekey_count(struct svc *s, unsigned left)
{
	size_t want, held, out, keep;
	int r;

	s->relay_opk_left = (int)left;
	if (s->opk_inflight > 0)
		s->opk_inflight--;
	if (s->opk_inflight > 0 || left >= OPK_LOW)
		return; /* the rest of a publication is still coming */
	/* the most recently handed out, maybe to a sender whose first
	 * message is on its way right now, are kept; older ones go */
	held = tf_e2e_prekeys_opk_left(s->pk);
	out = held > left ? held - left : 0;
	keep = out < OPK_OUT_KEEP ? out : OPK_OUT_KEEP;
	want = OPK_TARGET - left - keep;
	r = tf_e2e_prekeys_top_up(s->pk, want);
	if (r == 0)
		r = save_prekeys(s);
	if (r < 0) {
		comms_log(s, "cannot top up the one-time prekeys: %s",
			  strerror(-r));
		return;
	}
	comms_log(s, "the relay holds %u one-time prekeys: %zu new ones", left,
		  want);
	/* the new ones are the newest */
	prekeys_send(s, tf_e2e_prekeys_opk_left(s->pk) - want, want);
}

/* Weekly: a new signed prekey, published; the old one kept SPK_GRACE
 * for first messages sealed to it and still on the relay. */
static void rotate_prekeys(struct svc *s)
{
	int r = tf_e2e_prekeys_rotate(s->pk, s->sign, (uint64_t)time(NULL),
				      SPK_MAX_AGE, SPK_GRACE);

	if (r <= 0)
		return;
	if (save_prekeys(s) < 0) {
		comms_log(s, "cannot save the rotated signed prekey");
		return;
	}
	comms_log(s, "signed prekey %u", tf_e2e_prekeys_spk_id(s->pk));
	if (s->connected)
		publish_prekeys(s, true);
}

static void on_connected(struct svc *s)
{
	static const uint8_t fetch = OP_FETCH;

	comms_log(s, "connected to the relay");
	/* the stored messages first (the relay answers in order), so the
	 * first messages waiting for us have used their one-time prekeys
	 * before the count below decides a top-up; then publish (the first
	 * time) or publish again, which also says how many are left (the
	 * relay handed some out while we were away, or lost its store) */
	s->opk_inflight = 0; /* replies to the last session's are gone */
	/* and so are the STOREDs owed for the last session's SENDs */
	for (size_t i = 0; i < s->nout; i++)
		s->out[i].inflight = 0, s->out[i].last_ms = 0;
	memset(s->stale, 0, sizeof(s->stale));
	comms_relay_send(s, &fetch, 1);
	publish_prekeys(s, true);
	/* after our own publication: the relay lists us too */
	comms_relay_named(s, OP_DEVICES, s->me.officer, NULL, NULL, 0);
	s->own_asked_ms = comms_now_ms();
	s->last_fetch = comms_now_ms();
	ptt_on_connected(s);
}

/* ---- the outbox ---- */

/* outbox file: u8 state | u8 n | to | text, end-to-end message, or (a
 * failed one) the reason */
#define OUT_FILE_MAX (2 + TF_COMMS_ADDR_MAX + TF_E2E_MSG_MAX)

static const char *const out_state_names[] = {"sealing", "sent", "devices",
					      "failed", "pieces"};

/* STAMP+ID (a message as queued) or STAMP+ID+DEVICE (its copy for one
 * device of the officer): the id, false for another file */
static bool out_name_parse(const char *name, uint8_t *id)
{
	const char *p = strchr(name, '+'), *q;

	if (p == NULL)
		return false;
	q = strchr(p + 1, '+');
	if ((q ? (size_t)(q - p - 1) : strlen(p + 1)) != 2 * ID_BYTES ||
	    (q && !comms_officer_ok(q + 1)))
		return false;
	return comms_unhex(p + 1, id, ID_BYTES) == 0;
}

static int out_load(struct svc *s)
{
	struct dirent **ents = NULL;
	char p[512];
	int n, r = 0;

	if ((r = comms_path(s, p, sizeof(p), "outbox")) < 0)
		return r;
	n = scandir(p, &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	s->nout = 0;
	for (int i = 0; i < n; i++) {
		struct out_item *it = &s->out[s->nout];
		uint8_t *b = NULL;
		size_t len;

		if (ents[i]->d_name[0] == '.' || s->nout >= OUTBOX_MAX ||
		    strlen(ents[i]->d_name) >= sizeof(it->name) ||
		    !out_name_parse(ents[i]->d_name, it->id))
			goto next;
		memcpy(it->name, ents[i]->d_name, strlen(ents[i]->d_name) + 1);
		if (comms_path(s, p, sizeof(p), "outbox/%s", it->name) < 0 ||
		    comms_read_file(p, OUT_FILE_MAX, &b, &len) < 0)
			goto next;
		if (len >= 2 && b[0] <= OUT_PIECES && b[1] > 0 &&
		    b[1] <= TF_COMMS_ADDR_MAX && len >= 2u + b[1]) {
			size_t body = len - 2u - b[1];

			memcpy(it->to, b + 2, b[1]);
			it->to[b[1]] = '\0';
			it->state = (enum out_state)b[0];
			it->inflight = 0;
			it->last_ms = 0;
			it->refused[0] = '\0';
			it->piece = 0;
			it->npieces = it->state == OUT_PIECES
					      ? comms_piece_count(body)
					      : 0;
			it->is_long = it->state == OUT_PIECES ||
				      ((it->state == OUT_PLAIN ||
					it->state == OUT_FANOUT) &&
				       body > TEXT_MAX);
			if (comms_addr_ok(it->to) &&
			    (it->state != OUT_PIECES || it->npieces > 0) &&
			    (it->state == OUT_FANOUT) !=
				    comms_addr_full(it->to))
				s->nout++;
		}
		tf_memzero(b, len);
		free(b);
	next:
		free(ents[i]);
	}
	free(ents);
	return 0;
}

static int out_write(struct svc *s, const char *name, enum out_state st,
		     const char *to, const uint8_t *body, size_t n)
{
	uint8_t *b = tf_secure_alloc(OUT_FILE_MAX);
	size_t tl = strlen(to);
	char p[512];
	int r;

	if (b == NULL)
		return -ENOMEM;
	if (tl > TF_COMMS_ADDR_MAX || 2 + tl + n > OUT_FILE_MAX) {
		tf_secure_free(b);
		return -EMSGSIZE;
	}
	b[0] = (uint8_t)st;
	b[1] = (uint8_t)tl;
	memcpy(b + 2, to, tl);
	memcpy(b + 2 + tl, body, n);
	r = comms_path(s, p, sizeof(p), "outbox/%s", name);
	if (r == 0)
		r = tf_atomic_write(p, b, 2 + tl + n, 0600);
	tf_secure_free(b);
	return r;
}

/* the item's file (*len bytes; the caller wipes and frees), its body at
 * *body */
static int out_read(struct svc *s, const struct out_item *it, uint8_t **b,
		    size_t *len, size_t *body)
{
	char p[512];
	int r = comms_path(s, p, sizeof(p), "outbox/%s", it->name);

	if (r == 0)
		r = comms_read_file(p, OUT_FILE_MAX, b, len);
	if (r < 0)
		return r;
	if (*len < 2 || *len < 2u + (*b)[1]) {
		free(*b);
		return -EBADMSG;
	}
	*body = 2u + (*b)[1];
	return 0;
}

static void out_remove(struct svc *s, size_t i)
{
	char p[512];

	if (comms_path(s, p, sizeof(p), "outbox/%s", s->out[i].name) == 0)
		(void)unlink(p);
	memmove(&s->out[i], &s->out[i + 1],
		(s->nout - i - 1) * sizeof(s->out[0]));
	s->nout--;
}

/* Sent-message sync: a copy of the message (to, text) for each of our
 * other devices the relay last named, under the message's id (the same
 * id as the message: one SEND of it at a time, out_sibling_busy), files
 * STAMP+1+ID+DEVICE. Not for a message to our own officer (those
 * devices get it as such), nor for a group key (groupd's), nor when the
 * copy would not fit one message. */
static void queue_sync(struct svc *s, unsigned long long stamp,
		       const uint8_t *id, const char *idhex, const char *to,
		       const char *text)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	char *copy = NULL;
	int n;

	if (s->n_own == 0 || !comms_addr_split(to, o, d) ||
	    !strcmp(o, s->me.officer) ||
	    !strncmp(text, PTT_KEYMSG_PREFIX, strlen(PTT_KEYMSG_PREFIX)))
		return;
	n = asprintf(&copy, SYNC_PREFIX "%s %s", to, text);
	if (n < 0)
		return;
	if ((size_t)n > TF_E2E_PT_MAX - LONG_ENV_HDR) {
		comms_log(s, "message %s too long to copy to our other devices",
			  idhex);
		goto out;
	}
	for (size_t k = 0; k < s->n_own && s->nout < OUTBOX_MAX; k++) {
		struct out_item *c = &s->out[s->nout];

		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%016llx+%s+%s", stamp + 1,
			 idhex, s->own_dev[k]);
		snprintf(c->to, sizeof(c->to), "%s/%s", s->me.officer,
			 s->own_dev[k]);
		memcpy(c->id, id, ID_BYTES);
		c->state = OUT_PLAIN;
		c->is_long = (size_t)n > TEXT_MAX; /* the copy may be */
		if (out_write(s, c->name, OUT_PLAIN, c->to,
			      (const uint8_t *)copy, (size_t)n) == 0)
			s->nout++;
	}
out:
	tf_memzero(copy, (size_t)n);
	free(copy);
}

static int queue_message(struct svc *s, const char *to, const char *text,
			 char *idhex)
{
	struct out_item *it;
	uint8_t id[ID_BYTES];
	bool fan = !comms_addr_full(to);
	unsigned long long stamp = (unsigned long long)comms_real_ns();
	int r;

	if (s->nout >= OUTBOX_MAX)
		return -ENOSPC;
	if ((r = tf_random(id, sizeof(id))) < 0)
		return r;
	comms_hex(id, ID_BYTES, idhex);
	it = &s->out[s->nout];
	snprintf(it->name, sizeof(it->name), "%016llx+%s", stamp, idhex);
	r = out_write(s, it->name, fan ? OUT_FANOUT : OUT_PLAIN, to,
		      (const uint8_t *)text, strlen(text));
	if (r < 0)
		return r;
	memcpy(it->id, id, ID_BYTES);
	memcpy(it->to, to, strnlen(to, TF_COMMS_ADDR_MAX) + 1);
	it->state = fan ? OUT_FANOUT : OUT_PLAIN;
	it->inflight = 0;
	it->last_ms = 0;
	it->refused[0] = '\0';
	it->is_long = strlen(text) > TEXT_MAX;
	it->npieces = it->piece = 0;
	s->nout++;
	queue_sync(s, stamp, id, idhex, to, text);
	return 0;
}

/* One device will not get the message: kept in the outbox as failed
 * (status shows it with the reason), the other devices go on. */
static void out_fail(struct svc *s, struct out_item *it, const char *why)
{
	char idh[2 * ID_BYTES + 1];

	comms_hex(it->id, ID_BYTES, idh);
	fprintf(stderr, PROG ": message %s to %s not delivered: %s\n", idh,
		it->to, why);
	if (out_write(s, it->name, OUT_FAILED, it->to, (const uint8_t *)why,
		      strlen(why)) == 0)
		it->state = OUT_FAILED;
}

/* the id the item's SEND goes out under: the message's, or for a long
 * one its current piece's (comms_piece_id) */
static void out_cur_id(const struct out_item *it, uint8_t id[static ID_BYTES])
{
	if (it->state == OUT_PIECES)
		comms_piece_id(it->id, it->piece, id);
	else
		memcpy(id, it->id, ID_BYTES);
}

/* Another copy of it's message (the same id, another device) has a SEND
 * of the same id (the message's, or the same piece's) out, or STOREDs
 * owed for one already done: the relay's STORED would not say whose it
 * is. */
static bool out_sibling_busy(struct svc *s, const struct out_item *it)
{
	uint64_t now = comms_now_ms();
	uint8_t id[ID_BYTES], o[ID_BYTES];

	out_cur_id(it, id);
	for (size_t i = 0; i < OUT_STALE_MAX; i++)
		if (s->stale[i].left > 0 && now < s->stale[i].until_ms &&
		    !memcmp(s->stale[i].id, id, ID_BYTES))
			return true;
	for (size_t i = 0; i < s->nout; i++) {
		if (&s->out[i] == it || s->out[i].inflight == 0 ||
		    (s->out[i].state != OUT_SEALED &&
		     s->out[i].state != OUT_PIECES))
			continue;
		out_cur_id(&s->out[i], o);
		if (!memcmp(o, id, ID_BYTES))
			return true;
	}
	return false;
}

static void out_xmit(struct svc *s, struct out_item *it, const uint8_t *msg,
		     size_t n)
{
	uint64_t now = comms_now_ms();

	if (!s->connected || out_sibling_busy(s, it) || now < it->hold_ms ||
	    (it->inflight > 0 && now - it->last_ms < OUT_RESEND_MS))
		return;
	if (it->state == OUT_PIECES) {
		/* the current piece of the sealed message, under its id */
		uint8_t pc[PIECE_BYTES], pid[ID_BYTES];

		if (comms_piece_build(it->id, msg, n, it->piece, pc) < 0)
			return;
		comms_piece_id(it->id, it->piece, pid);
		comms_relay_named(s, OP_SEND, it->to, pid, pc, sizeof(pc));
	} else
		comms_relay_named(s, OP_SEND, it->to, it->id, msg, n);
	it->inflight++;
	it->last_ms = now;
}

/* Is the kept certificate of device `to` still good (not revoked on our
 * deny-list, not expired)? A device whose session we have but that was
 * revoked since gets nothing more. No certificate kept (a session from
 * before they were kept): yes. */
static int out_cert_ok(struct svc *s, const char *to)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	uint8_t *b = NULL;
	size_t n;
	int r;

	if (!comms_addr_split(to, o, d) || comms_load_cert(s, to, &b, &n) < 0)
		return 0;
	r = comms_cert_check(b, n, &s->anchor, (uint64_t)time(NULL), true,
			     s->dl, o, d, NULL);
	free(b);
	return r;
}

static const char *why(int r);

/* Seal (first time) and send one outbox item; true when it waits for
 * the recipient's prekeys. */
static bool out_send(struct svc *s, struct out_item *it)
{
	_cleanup_(tf_e2e_session_freep) struct tf_e2e_session *ss = NULL;
	uint8_t *b = NULL, *msg = NULL;
	uint64_t now = comms_now_ms();
	size_t len, body;
	bool waits = false;
	int n;

	if (it->state == OUT_FAILED)
		return false;
	if (it->state == OUT_FANOUT) {
		/* which devices the officer has: the relay's DEVICES */
		if (s->connected && now - it->last_ms >= OUT_RESEND_MS) {
			comms_relay_named(s, OP_DEVICES, it->to, NULL, NULL, 0);
			it->last_ms = now;
		}
		return false;
	}
	if ((it->state == OUT_SEALED || it->state == OUT_PIECES) &&
	    (!s->connected || out_sibling_busy(s, it) ||
	     (it->inflight > 0 && now - it->last_ms < OUT_RESEND_MS)))
		return false;
	if (out_read(s, it, &b, &len, &body) < 0)
		return false;
	if (it->state == OUT_SEALED || it->state == OUT_PIECES) {
		out_xmit(s, it, b + body, len - body);
		goto out;
	}
	if (comms_load_session(s, it->to, "", &ss) < 0) {
		/* no session yet: ask for the device's prekeys */
		waits = true;
		if (s->connected && now - it->last_ms >= OUT_RESEND_MS) {
			comms_relay_named(s, OP_BUNDLE_GET, it->to, NULL, NULL,
					  0);
			it->last_ms = now;
		}
		goto out;
	}
	if ((n = out_cert_ok(s, it->to)) < 0) {
		out_fail(s, it, why(n));
		goto out;
	}
	msg = tf_secure_alloc(TF_E2E_MSG_MAX);
	if (msg == NULL)
		goto out;
	if (it->is_long) {
		/* a long message: its id inside (the envelope), sealed
		 * once, sent in pieces */
		uint8_t *env = tf_secure_alloc(TF_E2E_PT_MAX);
		int m = env ? comms_long_wrap(it->id, (const char *)b + body,
					      len - body, env, TF_E2E_PT_MAX)
			    : -ENOMEM;

		n = m < 0 ? m
			  : tf_e2e_encrypt(ss, env, (size_t)m, msg,
					   TF_E2E_MSG_MAX);
		tf_secure_free(env);
		if (n >= 0 && comms_piece_count((size_t)n) == 0)
			n = -EMSGSIZE;
		if (n < 0) {
			out_fail(s, it, "the message is too long to seal");
			goto out;
		}
	} else
		n = tf_e2e_encrypt(ss, b + body, len - body, msg,
				   TF_E2E_MSG_MAX);
	if (n < 0)
		goto out;
	/* the ratchet moved: its state first, then the ciphertext replaces
	 * the text, then it leaves (a crash between costs one skipped key
	 * at the peer, never a reused one) */
	if (comms_save_session(s, it->to, "", ss) < 0 ||
	    out_write(s, it->name, it->is_long ? OUT_PIECES : OUT_SEALED,
		      it->to, msg, (size_t)n) < 0)
		goto out;
	it->state = it->is_long ? OUT_PIECES : OUT_SEALED;
	it->npieces = it->is_long ? comms_piece_count((size_t)n) : 0;
	it->piece = 0;
	it->inflight = 0;
	out_xmit(s, it, msg, (size_t)n);
out:
	tf_secure_free(msg);
	if (b) {
		tf_memzero(b, len);
		free(b);
	}
	return waits;
}

/* is addr one of the n in list */
static bool addr_in(char (*list)[TF_COMMS_ADDR_MAX + 1], size_t n,
		    const char *addr)
{
	for (size_t j = 0; j < n; j++)
		if (!strcmp(list[j], addr))
			return true;
	return false;
}

#define FLUSH_ADDRS 32
static void out_flush(struct svc *s)
{
	static char asked[8][TF_COMMS_ADDR_MAX + 1],
		held[FLUSH_ADDRS][TF_COMMS_ADDR_MAX + 1],
		busy[FLUSH_ADDRS][TF_COMMS_ADDR_MAX + 1];
	size_t nasked = 0, nheld = 0, nbusy = 0;

	for (size_t i = 0; i < s->nout && i < 256; i++) {
		struct out_item *it = &s->out[i];

		/* one device's messages in order: after one that waits
		 * for a bundle, the others to it wait too */
		if (addr_in(asked, nasked, it->to))
			continue;
		/* a long message takes several round trips (one piece at a
		 * time): what comes after it to the same device waits until
		 * its last piece is stored, and it waits for what came
		 * before, so the relay stores one device's messages whole
		 * and in order (a list that overflows holds back) */
		if (addr_in(held, nheld, it->to) ||
		    (it->is_long && it->state != OUT_FAILED &&
		     (addr_in(busy, nbusy, it->to) || nbusy == FLUSH_ADDRS))) {
			if (nheld < FLUSH_ADDRS &&
			    !addr_in(held, nheld, it->to))
				snprintf(held[nheld++], sizeof(held[0]), "%s",
					 it->to);
			continue;
		}
		if (out_send(s, it) && nasked < 8)
			snprintf(asked[nasked++], sizeof(asked[0]), "%s",
				 it->to);
		if (i < s->nout && &s->out[i] == it &&
		    it->state != OUT_FAILED && it->state != OUT_FANOUT) {
			if (nbusy < FLUSH_ADDRS &&
			    !addr_in(busy, nbusy, it->to))
				snprintf(busy[nbusy++], sizeof(busy[0]), "%s",
					 it->to);
			if (it->is_long && nheld < FLUSH_ADDRS &&
			    !addr_in(held, nheld, it->to))
				snprintf(held[nheld++], sizeof(held[0]), "%s",
					 it->to);
		}
	}
}

/* The relay's DEVICES answer for an officer: each message waiting for it
 * becomes one item per device (not ours), each written before the
 * message's own item goes; an item already made (a crash, a second
 * answer) is not made again. */
static void on_devices(struct svc *s, const uint8_t *p, size_t n)
{
	struct comms_devices dv;

	if (comms_parse_devices(p, n, &dv) < 0) {
		comms_log(s, "a malformed DEVICES answer ignored");
		return;
	}
	if (!strcmp(dv.officer, s->me.officer)) {
		/* our officer's: the other devices get copies of what we
		 * send (a hostile relay can add none: each copy is sealed
		 * only after that device's certificate is checked) */
		s->n_own = 0;
		for (size_t k = 0; k < dv.count; k++)
			if (strcmp(dv.dev[k], s->me.device) != 0)
				memcpy(s->own_dev[s->n_own++], dv.dev[k],
				       sizeof(dv.dev[k]));
		s->own_known = true;
	}
	for (size_t i = 0; i < s->nout;) {
		struct out_item *it = &s->out[i];
		uint8_t *b = NULL;
		size_t len, body;
		bool ok = true;

		if (it->state != OUT_FANOUT || strcmp(it->to, dv.officer) ||
		    out_read(s, it, &b, &len, &body) < 0) {
			i++;
			continue;
		}
		for (size_t k = 0; k < dv.count && ok; k++) {
			struct out_item c = {0};
			bool have = false;

			if (!strcmp(dv.officer, s->me.officer) &&
			    !strcmp(dv.dev[k], s->me.device))
				continue; /* ourselves */
			snprintf(c.name, sizeof(c.name), "%s+%s", it->name,
				 dv.dev[k]);
			snprintf(c.to, sizeof(c.to), "%s/%s", dv.officer,
				 dv.dev[k]);
			memcpy(c.id, it->id, ID_BYTES);
			c.state = OUT_PLAIN;
			c.is_long = it->is_long;
			for (size_t j = 0; j < s->nout; j++)
				have |= !strcmp(s->out[j].name, c.name);
			if (have)
				continue;
			if (s->nout >= OUTBOX_MAX ||
			    out_write(s, c.name, OUT_PLAIN, c.to, b + body,
				      len - body) < 0) {
				ok = false;
				break;
			}
			s->out[s->nout++] = c;
			it = &s->out[i]; /* (the array did not move) */
		}
		tf_memzero(b, len);
		free(b);
		if (ok)
			out_remove(s, i); /* every device has its copy */
		else
			i++;
	}
	out_flush(s);
}

static void on_stored(struct svc *s, const uint8_t *id)
{
	uint64_t now = comms_now_ms();

	for (size_t i = 0; i < OUT_STALE_MAX; i++) {
		struct out_stale *st = &s->stale[i];

		if (st->left > 0 && now < st->until_ms &&
		    !memcmp(st->id, id, ID_BYTES)) {
			st->left--; /* a repeat of a SEND already stored */
			return;
		}
	}
	for (size_t i = 0; i < s->nout; i++) {
		struct out_item *it = &s->out[i];
		unsigned left = it->inflight;
		uint8_t cur[ID_BYTES];

		if ((it->state != OUT_SEALED && it->state != OUT_PIECES) ||
		    left == 0)
			continue;
		out_cur_id(it, cur);
		if (memcmp(cur, id, ID_BYTES) != 0)
			continue;
		if (it->state == OUT_PIECES && it->piece + 1 < it->npieces) {
			/* the next piece; the item stays */
			it->piece++;
			it->inflight = 0;
			it->last_ms = 0;
			it->relay_err[0] = '\0';
		} else
			out_remove(s, i);
		s->relay_err[0] = '\0';
		if (left > 1) {
			/* sent more than once: the other answers may still
			 * come, and they are this device's */
			struct out_stale *st = &s->stale[0];

			for (size_t k = 0; k < OUT_STALE_MAX; k++)
				if (s->stale[k].left == 0 ||
				    now >= s->stale[k].until_ms)
					st = &s->stale[k];
			memcpy(st->id, id, ID_BYTES);
			st->left = left - 1;
			st->until_ms = now + 2 * OUT_RESEND_MS;
		}
		out_flush(s); /* the next device of this message */
		return;
	}
}

/* the messages not yet stored for every device, one line per device:
 * "out ID TO sealing|sent|devices|failed [REASON]" */
static int out_status(struct svc *s, char *b, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < s->nout && i < 24; i++) {
		const struct out_item *it = &s->out[i];
		char idh[2 * ID_BYTES + 1], reason[128] = "";
		int m;

		comms_hex(it->id, ID_BYTES, idh);
		if (it->state == OUT_FAILED) {
			uint8_t *f = NULL;
			size_t len, body;

			if (out_read(s, it, &f, &len, &body) == 0) {
				size_t j = 0;

				reason[j++] = ' ';
				for (size_t x = body;
				     x < len && j + 1 < sizeof(reason); x++)
					reason[j++] =
						f[x] >= 0x20 && f[x] < 0x7f
							? (char)f[x]
							: '?';
				reason[j] = '\0';
				free(f);
			}
		}
		if (it->state == OUT_PLAIN && it->refused[0])
			snprintf(reason, sizeof(reason), " prekeys refused: %s",
				 it->refused);
		if (it->state == OUT_PIECES) /* stored, of how many */
			snprintf(reason, sizeof(reason), " %u/%u%s%s",
				 it->piece, it->npieces,
				 it->relay_err[0] ? " relay: " : "",
				 it->relay_err);
		else if (it->state == OUT_SEALED && it->relay_err[0])
			snprintf(reason, sizeof(reason), " relay: %s",
				 it->relay_err);
		m = snprintf(b + k, cap - k, "out %s %s %s%s\n", idh, it->to,
			     out_state_names[it->state], reason);
		if (m < 0 || (size_t)m >= cap - k)
			break;
		k += (size_t)m;
	}
	return (int)k;
}

static size_t out_pending(const struct svc *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nout; i++)
		n += s->out[i].state != OUT_FAILED;
	return n;
}

/* ---- receiving ---- */

/* an address as part of a file name in inbox/ and seen/: '+' for '/'
 * ('+' is in no id) */
static void addr_file(const char *addr, char out[static TF_COMMS_ADDR_MAX + 1])
{
	size_t i = 0;

	for (; addr[i] && i < TF_COMMS_ADDR_MAX; i++)
		out[i] = addr[i] == '/' ? '+' : addr[i];
	out[i] = '\0';
}

static int inbox_put(struct svc *s, const char *from, const uint8_t *id,
		     const char *line, size_t n)
{
	char p[512], idh[2 * ID_BYTES + 1], f[TF_COMMS_ADDR_MAX + 1];
	int r;

	comms_hex(id, ID_BYTES, idh);
	addr_file(from, f);
	r = comms_path(s, p, sizeof(p), "inbox/%016llx+%s+%s",
		       (unsigned long long)comms_real_ns(), f, idh);
	if (r == 0)
		r = tf_atomic_write(p, line, n, 0600);
	if (r < 0)
		fprintf(stderr, PROG ": cannot write the inbox: %s\n",
			strerror(-r));
	return r;
}

static int reject(struct svc *s, const char *from, const uint8_t *id,
		  const char *why)
{
	char line[512];
	int n = snprintf(line, sizeof(line),
			 "REJECTED message said to be from %s: %s\n", from,
			 why);

	comms_log(s, "rejected a message said to be from %s: %s", from, why);
	return inbox_put(s, from, id, line, (size_t)n);
}

static const char *why(int r)
{
	switch (r) {
	case -EALREADY: return "a replay of a message already read";
	case -ENOKEY:
		return "a replayed first message (its one-time prekey is used)";
	case -ERANGE: return "too many messages skipped";
	case -EKEYREJECTED: return "the certificate names someone else";
	case -EXDEV: return "the certificate names another device";
	case -ENOENT:
		return "no session with this sender (forged, or from before a "
		       "reset)";
	case -EBADMSG:
		return "failed authentication (altered, forged, or from "
		       "another sender than claimed)";
	default: return tf_cert_reason(r);
	}
}

static int try_session(struct svc *s, const char *from, const char *suffix,
		       const uint8_t *blob, size_t len, uint8_t *pt,
		       struct tf_e2e_session **out)
{
	struct tf_e2e_session *ss = NULL;
	int r = comms_load_session(s, from, suffix, &ss);

	if (r < 0)
		return -ENOENT;
	r = tf_e2e_decrypt(ss, blob, len, pt, TF_E2E_PT_MAX);
	if (r < 0) {
		tf_e2e_session_free(ss);
		return r;
	}
	*out = ss;
	return r;
}

/* A session a message from officer[/device] may be on, best first: that
 * device's current and previous; for a bare officer (a relay from
 * before several devices) every device's of the officer; then the one
 * session of the officer from before (migrate_sessions). */
struct cand {
	char who[TF_COMMS_ADDR_MAX + 1];
	const char *suffix;
	bool legacy;
};
#define CANDS_MAX (2 * TF_COMMS_DEVICES_MAX + 2)

static size_t candidates(struct svc *s, const char *o, const char *d,
			 struct cand *c)
{
	size_t k = 0;

	if (d[0] != '\0') {
		snprintf(c[k].who, sizeof(c[k].who), "%s/%s", o, d);
		c[k++].suffix = "";
		c[k] = c[k - 1];
		c[k++].suffix = ".prev";
	} else {
		struct dirent **ents = NULL;
		char p[512];
		int n = comms_path(s, p, sizeof(p), "sessions/%s", o) == 0
				? scandir(p, &ents, NULL, alphasort)
				: -1;

		for (int i = 0; i < n; i++) {
			if (comms_officer_ok(ents[i]->d_name) &&
			    k + 2 <= CANDS_MAX - 2 &&
			    (strlen(ents[i]->d_name) < 5 ||
			     strcmp(ents[i]->d_name + strlen(ents[i]->d_name) -
					    5,
				    ".prev"))) {
				if ((size_t)snprintf(c[k].who, sizeof(c[k].who),
						     "%s/%s", o,
						     ents[i]->d_name) >=
				    sizeof(c[k].who)) {
					free(ents[i]);
					continue;
				}
				c[k++].suffix = "";
				c[k] = c[k - 1];
				c[k++].suffix = ".prev";
			}
			free(ents[i]);
		}
		free(ents);
	}
	for (size_t i = 0; i < k; i++)
		c[i].legacy = false;
	snprintf(c[k].who, sizeof(c[k].who), "%s", o);
	c[k].suffix = "+legacy";
	c[k++].legacy = true;
	snprintf(c[k].who, sizeof(c[k].who), "%s", o);
	c[k].suffix = ".prev+legacy";
	c[k++].legacy = true;
	return k;
}

/* A message's text as `msg read` shows it, after head: bytes below 0x20
 * (but tab and newline) and DEL as '?' (a peer must not drive the
 * officer's terminal), and every line after the first indented by two
 * spaces, so no line of a text looks like the start of another message
 * ("from ...", "REJECTED ..."). *out is malloc'd, NUL-terminated, ends
 * with a newline. */
static int render(const char *head, const uint8_t *t, size_t n, char **out)
{
	size_t hl = strlen(head), k = 0, nl = 0;
	char *b;

	for (size_t i = 0; i < n; i++)
		nl += t[i] == '\n';
	b = malloc(hl + n + 2 * nl + 2);
	if (b == NULL)
		return -ENOMEM;
	memcpy(b, head, hl);
	k = hl;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = t[i];

		if (c == '\n') {
			memcpy(b + k, "\n  ", 3);
			k += 3;
			continue;
		}
		b[k++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	b[k++] = '\n';
	b[k] = '\0';
	*out = b;
	return 0;
}

/* An end-to-end message from `from` (an address) under id: opened, shown
 * (inbox) or shown as REJECTED, then acknowledged. lng: the whole sealed
 * message reassembled from its pieces (id the message's: its pieces
 * were acknowledged each, nothing is acknowledged here) whose plaintext
 * must be the envelope naming that id. True when it was dealt with (shown
 * or refused); false when it must be tried again (the inbox could not be
 * written). */
static bool on_message(struct svc *s, const char *from, const uint8_t *id,
		       const uint8_t *blob, size_t len, bool lng)
{
	_cleanup_(tf_e2e_session_freep) struct tf_e2e_session *ss = NULL;
	struct tf_e2e_session *old = NULL;
	struct tf_e2e_msg m;
	struct tf_cert peer;
	struct cand c[CANDS_MAX];
	uint8_t *pt = tf_secure_alloc(TF_E2E_PT_MAX + 1);
	char p[512], idh[2 * ID_BYTES + 1], *line = NULL,
					    ff[TF_COMMS_ADDR_MAX + 1];
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1],
		addr[TF_COMMS_ADDR_MAX + 1];
	const struct cand *hit = NULL;
	const uint8_t *text;
	size_t tn;
	bool fresh = false, done = false;
	size_t nc;
	int r = -ENOENT, r2;

	if (pt == NULL)
		return false;
	if (!comms_addr_split(from, o, d))
		goto out;
	snprintf(addr, sizeof(addr), "%s", from);
	comms_hex(id, ID_BYTES, idh);
	addr_file(from, ff);
	if (comms_path(s, p, sizeof(p), "seen/%s+%s", ff, idh) == 0 &&
	    access(p, F_OK) == 0)
		goto ack; /* read and shown before our ACK was lost */
	r2 = tf_e2e_msg_parse(blob, len, &m);
	if (r2 < 0) {
		if (reject(s, from, id, "not an end-to-end message") < 0)
			goto out;
		goto ack;
	}
	nc = candidates(s, o, d, c);
	for (size_t i = 0; i < nc; i++) {
		r2 = try_session(s, c[i].who, c[i].suffix, blob, len, pt, &ss);
		if (r2 >= 0) {
			hit = &c[i];
			r = r2;
			break;
		}
		if (r == -ENOENT)
			r = r2; /* the best session's reason */
		if (r2 == -EALREADY && i == 0)
			break; /* a replay on the current session */
	}
	if (hit && !hit->legacy && d[0] == '\0')
		memcpy(addr, hit->who, sizeof(addr));
	if (r < 0 && m.type == TF_E2E_TYPE_PREKEY && r != -EALREADY) {
		/* a new session from the peer (its first message) */
		r = tf_e2e_session_accept(
			s->suite->id, s->pf.secret + TF_KEY_BYTES, s->pk,
			&s->anchor, (uint64_t)time(NULL), s->dl, blob, len,
			&peer, &ss, pt, TF_E2E_PT_MAX);
		if (r >= 0 && (strcmp(peer.officer, o) != 0 ||
			       (d[0] != '\0' && strcmp(peer.device, d) != 0))) {
			char w[400];

			snprintf(w, sizeof(w),
				 "the relay says %s, the certificate inside "
				 "says %s/%s",
				 from, peer.officer, peer.device);
			if (reject(s, from, id, w) < 0)
				goto out;
			goto ack; /* and the session is not kept */
		}
		fresh = r >= 0;
		if (fresh) {
			snprintf(addr, sizeof(addr), "%s/%s", peer.officer,
				 peer.device);
			comms_save_cert(s, addr, m.cert, m.certlen);
		}
	}
	if (r < 0) {
		if (reject(s, from, id, why(r)) < 0)
			goto out;
		goto ack;
	}
	pt[r] = '\0';
	text = pt;
	tn = (size_t)r;
	/* a long message names its id inside (a relay cannot relabel it
	 * as another); a short one never starts with the envelope's 0 */
	if (lng ? comms_long_unwrap(pt, (size_t)r, id, &text, &tn) < 0
		: r > 0 && pt[0] == 0) {
		if (reject(s, from, id,
			   lng ? "a long message without its own id inside "
				 "(relabelled)"
			       : "a long message outside its pieces") < 0)
			goto out;
		goto seen;
	}
	/* a talk group's key from the group authority: ptt.c takes it (and
	 * checks it came from the roster's authority); never the inbox */
	if (ptt_on_text(s, o, ss, (const char *)text, tn))
		goto seen;
	/* a copy of what our officer sent from another device (only a
	 * device of ours can seal it: the session's certificate names our
	 * officer): shown as sent, with the address it went to */
	if (!strcmp(o, s->me.officer) && tn > strlen(SYNC_PREFIX) &&
	    !strncmp((const char *)text, SYNC_PREFIX, strlen(SYNC_PREFIX))) {
		char *to = (char *)text + strlen(SYNC_PREFIX),
		     *sp = memchr(to, ' ', tn - strlen(SYNC_PREFIX)), head[400];

		if (sp == NULL || (*sp = '\0', !comms_addr_ok(to))) {
			if (reject(s, from, id,
				   "a malformed copy of a sent message") < 0)
				goto out;
			goto seen;
		}
		snprintf(head, sizeof(head), "sent to %s from %s: ", to, addr);
		if (render(head, (const uint8_t *)sp + 1,
			   tn - (size_t)(sp + 1 - (char *)text), &line) < 0)
			goto out;
	} else {
		char head[200];

		snprintf(head, sizeof(head), "from %s: ", addr);
		if (render(head, text, strnlen((const char *)text, tn), &line) <
		    0)
			goto out;
	}
	if (inbox_put(s, addr, id, line, strlen(line)) < 0)
		goto out; /* not acknowledged: the relay keeps it */
seen:
	if (comms_path(s, p, sizeof(p), "seen/%s+%s", ff, idh) == 0 &&
	    tf_atomic_write(p, "", 0, 0600) < 0)
		comms_log(s, "cannot mark a message from %s seen", from);
	if (fresh) {
		/* the one-time prekey is gone: persist that first, then ask
		 * the relay how many it still holds */
		(void)save_prekeys(s);
		if (m.opk_id != 0)
			s->x3dh_opk++;
		else
			s->x3dh_no_opk++;
		prekeys_send(s, 0, 0);
	}
	if (hit && hit->legacy && !comms_addr_full(addr)) {
		/* the device is not known (a bare sender): stays legacy */
		(void)comms_save_session(s, hit->who, hit->suffix, ss);
		goto ack;
	}
	if (fresh || (hit && (hit->legacy || strcmp(hit->suffix, "")))) {
		/* a new session, or the peer uses another one than our
		 * current: the current becomes the previous */
		if (comms_load_session(s, addr, "", &old) == 0) {
			(void)comms_save_session(s, addr, ".prev", old);
			tf_e2e_session_free(old);
		}
	}
	(void)comms_save_session(s, addr, "", ss);
	if (hit && hit->legacy) {
		/* the officer's session from before is this device's */
		if (comms_path(s, p, sizeof(p), "sessions/%s%s", hit->who,
			       hit->suffix) == 0)
			(void)unlink(p);
		comms_log(s, "session with %s from before is now %s's", o,
			  addr);
	}
	comms_log(s, "message from %s stored", addr);
ack:
	done = true;
	if (!lng)
		comms_relay_named(s, OP_ACK, from, id, NULL, 0);
out:
	if (line) {
		tf_memzero(line, strlen(line));
		free(line);
	}
	tf_secure_free(pt);
	return done;
}

/* ---- long messages coming in (piece.h) ----
 *
 * Each piece is kept as its own file, pieces/FROM+MSGID+II (FROM as in
 * inbox/, II the index in hex), written atomically before its ACK: the
 * relay deletes what we hold, and a crash loses nothing. When the last
 * one is there the sealed message is put together from the files and
 * opened as one message; only then is anything shown. One that cannot
 * complete (a piece that never came within the age, pieces that
 * disagree, two different copies of a piece, too many incomplete
 * messages) is shown as REJECTED, marked seen (its stragglers are
 * dropped) and its pieces deleted. */

static uint64_t real_ms(void)
{
	return comms_real_ns() / 1000000u;
}

static int piece_path(struct svc *s, char *p, size_t cap, const char *from,
		      const uint8_t *id, unsigned index)
{
	char f[TF_COMMS_ADDR_MAX + 1], idh[2 * ID_BYTES + 1];

	addr_file(from, f);
	comms_hex(id, ID_BYTES, idh);
	return comms_path(s, p, cap, "pieces/%s+%s+%02x", f, idh, index);
}

static void partial_unlink(struct svc *s, const struct comms_partial *pa)
{
	char p[512];

	for (unsigned i = 0; i < PIECES_MAX; i++)
		if (piece_path(s, p, sizeof(p), pa->from, pa->id, i) == 0)
			(void)unlink(p);
}

static void mark_seen(struct svc *s, const char *from, const uint8_t *id)
{
	char p[512], idh[2 * ID_BYTES + 1], ff[TF_COMMS_ADDR_MAX + 1];

	comms_hex(id, ID_BYTES, idh);
	addr_file(from, ff);
	if (comms_path(s, p, sizeof(p), "seen/%s+%s", ff, idh) == 0 &&
	    tf_atomic_write(p, "", 0, 0600) < 0)
		comms_log(s, "cannot mark a message from %s seen", from);
}

static bool is_seen(struct svc *s, const char *from, const uint8_t *id)
{
	char p[512], idh[2 * ID_BYTES + 1], ff[TF_COMMS_ADDR_MAX + 1];

	comms_hex(id, ID_BYTES, idh);
	addr_file(from, ff);
	return comms_path(s, p, sizeof(p), "seen/%s+%s", ff, idh) == 0 &&
	       access(p, F_OK) == 0;
}

/* the long message in slot k will never be shown: say so (the inbox),
 * then forget it */
static void partial_fail(struct svc *s, int k, const char *why)
{
	struct comms_partial *pa = &s->reasm.p[k];
	char line[640], idh[2 * ID_BYTES + 1];
	int n;

	comms_hex(pa->id, ID_BYTES, idh);
	n = snprintf(line, sizeof(line),
		     "REJECTED long message %s said to be from %s: %s (%u of "
		     "%u pieces came; nothing of it is shown)\n",
		     idh, pa->from, why, comms_reasm_have(pa), pa->count);
	comms_log(s, "long message %s from %s failed: %s", idh, pa->from, why);
	fprintf(stderr, PROG ": long message %s from %s not shown: %s\n", idh,
		pa->from, why);
	if (n > 0 && inbox_put(s, pa->from, pa->id, line, (size_t)n) < 0)
		return; /* tried again at the next look */
	mark_seen(s, pa->from, pa->id);
	partial_unlink(s, pa);
	comms_reasm_drop(&s->reasm, k);
}

/* every piece of slot k is kept: the sealed message from them, opened */
static void partial_complete(struct svc *s, int k)
{
	struct comms_partial *pa = &s->reasm.p[k];
	uint8_t *sealed = tf_secure_alloc((size_t)PIECES_MAX * PIECE_DATA);
	size_t n = 0;

	if (sealed == NULL)
		return;
	for (unsigned i = 0; i < pa->count; i++) {
		struct comms_piece pc;
		uint8_t *b = NULL;
		size_t len;
		char p[512];
		int r = piece_path(s, p, sizeof(p), pa->from, pa->id, i);

		if (r == 0)
			r = comms_read_file(p, PIECE_BYTES, &b, &len);
		if (r == 0)
			r = comms_piece_parse(b, len, &pc);
		if (r == 0 && (memcmp(pc.id, pa->id, ID_BYTES) ||
			       pc.index != i || pc.count != pa->count))
			r = -EBADMSG;
		if (r == 0) {
			memcpy(sealed + n, pc.data, pc.len);
			n += pc.len;
		}
		free(b); /* ciphertext */
		if (r < 0) {
			tf_secure_free(sealed);
			partial_fail(s, k, "a kept piece is damaged");
			return;
		}
	}
	if (on_message(s, pa->from, pa->id, sealed, n, true)) {
		partial_unlink(s, pa);
		comms_reasm_drop(&s->reasm, k);
	}
	tf_secure_free(sealed);
}

/* a piece from `from` under the relay id rid */
static void on_piece(struct svc *s, const char *from, const uint8_t *rid,
		     const uint8_t *blob, size_t len)
{
	struct comms_piece pc;
	char p[512];
	int v, k, ev;

	if (!comms_addr_ok(from))
		return;
	if (comms_piece_parse(blob, len, &pc) < 0) {
		if (reject(s, from, rid,
			   "a malformed piece of a long message") == 0)
			comms_relay_named(s, OP_ACK, from, rid, NULL, 0);
		return;
	}
	if (is_seen(s, from, pc.id))
		goto ack; /* shown (or refused) already: a late copy */
	v = comms_reasm_add(&s->reasm, from, &pc, real_ms(), &k, &ev);
	if (v >= 0 && ev >= 0) {
		partial_fail(s, ev,
			     "too many incomplete long messages at once; the "
			     "oldest is dropped");
		if (s->reasm.n >= PARTIALS_MAX)
			return; /* not acknowledged: the relay keeps it */
		v = comms_reasm_add(&s->reasm, from, &pc, real_ms(), &k, &ev);
	}
	if (v < 0 || k < 0)
		return;
	if (v == REASM_CONFLICT) {
		partial_fail(s, k,
			     "its pieces disagree on their count (forged or "
			     "spliced)");
		goto ack;
	}
	if (piece_path(s, p, sizeof(p), from, pc.id, pc.index) < 0)
		return;
	if (v == REASM_HAVE) {
		uint8_t *b = NULL;
		size_t n;
		bool same = comms_read_file(p, PIECE_BYTES, &b, &n) == 0 &&
			    n == len && !memcmp(b, blob, len);

		free(b);
		if (!same)
			partial_fail(s, k,
				     "two different copies of one piece "
				     "(forged or spliced)");
		goto ack; /* a copy of one we hold */
	}
	if (tf_atomic_write(p, blob, len, 0600) < 0) {
		/* not kept: not acknowledged, the relay sends it again */
		s->reasm.p[k].have &= ~(1u << pc.index);
		if (s->reasm.p[k].have == 0)
			comms_reasm_drop(&s->reasm, k);
		return;
	}
	if (v == REASM_COMPLETE)
		partial_complete(s, k);
ack:
	comms_relay_named(s, OP_ACK, from, rid, NULL, 0);
}

/* A message is written to the inbox before its seen marker (a crash
 * between must not lose it), so a crash right between leaves an inbox
 * file whose message the relay (or pieces/) will bring again, and it
 * would show twice. At the start, before anything arrives and before
 * any `msg read` can move a file to read/, every inbox file
 * STAMP+FROM+ID gets its marker seen/FROM+ID if it has none: the
 * interrupted step done. */
static void inbox_repair(struct svc *s)
{
	struct dirent **ents = NULL;
	char p[512];
	int n;

	if (comms_path(s, p, sizeof(p), "inbox") < 0 ||
	    (n = scandir(p, &ents, NULL, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		const char *rest = strchr(ents[i]->d_name, '+');

		if (ents[i]->d_name[0] != '.' && rest != NULL &&
		    strrchr(rest + 1, '+') != NULL &&
		    comms_path(s, p, sizeof(p), "seen/%s", rest + 1) == 0 &&
		    access(p, F_OK) != 0) {
			if (tf_atomic_write(p, "", 0, 0600) < 0)
				comms_log(s, "cannot mark a message seen");
			else
				comms_log(s, "an inbox entry from before a "
					     "crash marked seen");
		}
		free(ents[i]);
	}
	free(ents);
}

/* complete messages not opened yet (kept before a restart, or the inbox
 * could not be written): opened now */
static void pieces_retry(struct svc *s)
{
	for (size_t i = 0; i < s->reasm.n;)
		if (comms_reasm_have(&s->reasm.p[i]) == s->reasm.p[i].count) {
			size_t before = s->reasm.n;

			partial_complete(s, (int)i);
			if (s->reasm.n == before)
				i++;
		} else
			i++;
}

/* the pieces kept before a restart: back into the bookkeeping (the age
 * from the oldest file's time); a complete message is opened now */
static void pieces_load(struct svc *s)
{
	struct dirent **ents = NULL;
	char p[512];
	int n;

	if (comms_path(s, p, sizeof(p), "pieces") < 0 ||
	    (n = scandir(p, &ents, NULL, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		char name[256], *x, *y, from[TF_COMMS_ADDR_MAX + 1];
		uint8_t id[ID_BYTES], *b = NULL;
		struct comms_piece pc;
		struct stat st;
		uint64_t t;
		size_t len;
		int k, ev, v = -1;

		snprintf(name, sizeof(name), "%s", ents[i]->d_name);
		free(ents[i]);
		if (name[0] == '.' ||
		    comms_path(s, p, sizeof(p), "pieces/%s", name) < 0)
			continue;
		/* FROM+MSGID+II, FROM with '+' for '/' */
		x = strrchr(name, '+');
		if (x == NULL || strlen(x + 1) != 2)
			goto bad;
		*x = '\0';
		y = strrchr(name, '+');
		if (y == NULL || strlen(y + 1) != 2 * ID_BYTES ||
		    comms_unhex(y + 1, id, ID_BYTES) < 0)
			goto bad;
		*y = '\0';
		if (strlen(name) > TF_COMMS_ADDR_MAX)
			goto bad;
		for (size_t j = 0;; j++) {
			from[j] = name[j] == '+' ? '/' : name[j];
			if (name[j] == '\0')
				break;
		}
		if (!comms_addr_ok(from) ||
		    comms_read_file(p, PIECE_BYTES, &b, &len) < 0 ||
		    comms_piece_parse(b, len, &pc) < 0 ||
		    memcmp(pc.id, id, ID_BYTES) ||
		    strtoul(x + 1, NULL, 16) != pc.index ||
		    is_seen(s, from, id) || stat(p, &st) < 0) {
			free(b);
			goto bad;
		}
		t = (uint64_t)st.st_mtim.tv_sec * 1000u +
		    (uint64_t)st.st_mtim.tv_nsec / 1000000u;
		v = comms_reasm_add(&s->reasm, from, &pc, t, &k, &ev);
		free(b);
		if (ev >= 0 || v < 0 || v == REASM_CONFLICT) {
			if (v == REASM_CONFLICT)
				partial_fail(s, k,
					     "its pieces disagree on their "
					     "count (forged or spliced)");
			goto bad;
		}
		if (k >= 0 && t < s->reasm.p[k].first_ms)
			s->reasm.p[k].first_ms = t; /* the oldest piece's */
		continue;
	bad:
		(void)unlink(p); /* no piece of ours, or seen already */
	}
	free(ents);
	pieces_retry(s);
}

/* incomplete long messages older than the age: shown as failed */
static void pieces_expire(struct svc *s)
{
	int k;

	pieces_retry(s);

	while ((k = comms_reasm_expired(&s->reasm, real_ms(),
					s->piece_age_ms)) >= 0) {
		size_t before = s->reasm.n;

		partial_fail(s, k,
			     "it never completed (a piece was lost or withheld "
			     "by the relay); ask the sender to send it again");
		if (s->reasm.n == before)
			break; /* the inbox cannot be written: later */
	}
}

/* status: the long messages on their way in */
static int pieces_status(struct svc *s, char *b, size_t cap)
{
	size_t k = 0;
	int m = snprintf(b, cap, "pieces_incomplete %zu\n", s->reasm.n);

	if (m < 0 || (size_t)m >= cap)
		return 0;
	k = (size_t)m;
	for (size_t i = 0; i < s->reasm.n; i++) {
		char idh[2 * ID_BYTES + 1];

		comms_hex(s->reasm.p[i].id, ID_BYTES, idh);
		m = snprintf(b + k, cap - k, "in %s %s pieces %u/%u\n", idh,
			     s->reasm.p[i].from,
			     comms_reasm_have(&s->reasm.p[i]),
			     s->reasm.p[i].count);
		if (m < 0 || (size_t)m >= cap - k)
			break;
		k += (size_t)m;
	}
	return (int)k;
}

static void on_bundle(struct svc *s, const char *whose, const uint8_t *b,
		      size_t n)
{
	_cleanup_(tf_e2e_session_freep) struct tf_e2e_session *ss = NULL;
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	struct tf_e2e_bundle eb;
	struct tf_cert c;
	int r;

	if (!comms_addr_split(whose, o, d))
		return;
	r = tf_e2e_bundle_parse(b, n, &eb);
	if (r == 0)
		r = comms_bundle_check(&eb, &s->anchor, (uint64_t)time(NULL),
				       s->dl, o, d, &c);
	if (r < 0) {
		/* shown to the user: a forged bundle is an attack; only
		 * this device's messages wait (the others go on) */
		fprintf(stderr,
			PROG ": prekeys of %s refused (%s); messages to %s "
			     "wait\n",
			whose, why(r), whose);
		for (size_t i = 0; i < s->nout; i++)
			if (s->out[i].state == OUT_PLAIN &&
			    !strcmp(s->out[i].to, whose))
				snprintf(s->out[i].refused,
					 sizeof(s->out[i].refused), "%s",
					 why(r));
		return;
	}
	if (d[0] == '\0')
		return; /* a relay from before several devices */
	if (comms_load_session(s, whose, "", &ss) == 0)
		return; /* a second answer: keep the session we have */
	r = tf_e2e_session_initiate(s->suite->id, s->pf.secret + TF_KEY_BYTES,
				    s->cert, s->certlen, &eb, &ss);
	if (r == 0)
		r = comms_save_session(s, whose, "", ss);
	if (r < 0) {
		fprintf(stderr, PROG ": session to %s: %s\n", whose,
			strerror(-r));
		return;
	}
	comms_save_cert(s, whose, eb.cert, eb.certlen);
	out_flush(s);
}

/* The relay's ERROR for one of our SENDs (it named the address and the
 * id): that device's item, answered (not stored), waits OUT_RESEND_MS
 * and goes again; the others are not touched (STORED and ERROR name the
 * id, which all devices of a message share, but an ERROR names the
 * device too). */
static void on_send_error(struct svc *s, const struct comms_error *e,
			  const char *text)
{
	for (size_t i = 0; i < s->nout; i++) {
		struct out_item *it = &s->out[i];
		uint8_t cur[ID_BYTES];

		if ((it->state != OUT_SEALED && it->state != OUT_PIECES) ||
		    it->inflight == 0 || strcmp(it->to, e->name) != 0)
			continue;
		out_cur_id(it, cur); /* a long one's: the piece going out */
		if (memcmp(cur, e->id, ID_BYTES) != 0)
			continue;
		it->inflight--;
		it->hold_ms = comms_now_ms() + OUT_RESEND_MS;
		snprintf(it->relay_err, sizeof(it->relay_err), "error %u: %s",
			 e->code, text);
		return;
	}
}

static void on_reply(struct svc *s, const uint8_t *pt, size_t n)
{
	char name[TF_COMMS_ADDR_MAX + 1];
	size_t u;

	if (n < 1)
		return;
	switch (pt[0]) {
	case OP_STORED:
		if (n == 2 + ID_BYTES)
			on_stored(s, pt + 1);
		break;
	case OP_PREKEYS: {
		char p[512];

		if (comms_path(s, p, sizeof(p), "published") == 0 &&
		    tf_atomic_write(p, "", 0, 0600) < 0)
			comms_log(s, "cannot record the prekey publication");
		/* u8 0 | u16 left (a relay before the count sends u8 0) */
		if (n >= 4 && pt[1] == 0)
			on_prekey_count(s, (unsigned)pt[2] << 8 | pt[3]);
		break;
	}
	case OP_MSG:
		u = comms_get_addr(pt + 1, n - 1, name);
		if (u && n - 1 - u >= ID_BYTES &&
		    comms_is_piece(pt + 1 + u + ID_BYTES, n - 1 - u - ID_BYTES))
			on_piece(s, name, pt + 1 + u, pt + 1 + u + ID_BYTES,
				 n - 1 - u - ID_BYTES);
		else if (u && n - 1 - u >= ID_BYTES)
			(void)on_message(s, name, pt + 1 + u,
					 pt + 1 + u + ID_BYTES,
					 n - 1 - u - ID_BYTES, false);
		break;
	case OP_BUNDLE:
		u = comms_get_addr(pt + 1, n - 1, name);
		if (u) {
			call_on_bundle(s, name, pt + 1 + u, n - 1 - u);
			on_bundle(s, name, pt + 1 + u, n - 1 - u);
		}
		break;
	case OP_DEVICE_LIST:
		call_on_devices(s, pt + 1, n - 1);
		on_devices(s, pt + 1, n - 1);
		break;
	case OP_FROM:
		u = comms_get_addr(pt + 1, n - 1, name);
		if (u)
			(void)call_on_from(s, name, pt + 1 + u, n - 1 - u);
		break;
	case OP_ERROR:
		if (n >= 2) {
			struct comms_error e;
			size_t k = 0;

			/* a malformed tail (a hostile relay): the code
			 * stands, no request is named */
			if (comms_parse_error(pt + 1, n - 1, &e) < 0)
				e = (struct comms_error){.code = pt[1],
							 .text = pt + 2,
							 .textlen = n - 2};
			/* the relay's words, but only printable ones: a
			 * hostile relay must not write to the user's
			 * terminal */
			for (size_t j = 0;
			     j < e.textlen && k + 1 < sizeof(s->relay_err); j++)
				s->relay_err[k++] =
					e.text[j] >= 0x20 && e.text[j] < 0x7f
						? (char)e.text[j]
						: '?';
			s->relay_err[k] = '\0';
			comms_log(s, "relay: error %u: %s%s%s", e.code,
				  s->relay_err, e.op ? " for " : "",
				  e.op ? e.name : "");
			if (e.has_id)
				on_send_error(s, &e, s->relay_err);
			call_on_error(s, e.code, e.op, e.name);
		}
		break;
	default:
		if ((pt[0] & 0xf0) == 0x30)
			ptt_on_reply(s, pt, n);
		break;
	}
}

/* A relay handshake answer refused: shown in the log and `status`; the
 * handshake is retried as for a relay that is down. */
static void relay_refuse(struct svc *s, const char *why)
{
	if (s->relay_refused != why)
		fprintf(stderr, PROG ": relay handshake refused: %s\n", why);
	s->relay_refused = why;
}

static void on_datagram(struct svc *s, const uint8_t *buf, size_t n)
{
	uint8_t pt[TF_COMMS_PAYLOAD_MAX];
	uint32_t id;
	int m;

	switch (tf_comms_classify(s->suite->id, buf, n, &id)) {
	case TF_COMMS_MSG_RESP:
		if (rekey_done(s, buf, n))
			break;
		if (s->cl == NULL)
			break;
		tf_comms_session_free(s->cs);
		s->cs = NULL;
		if (tf_comms_client_finish(s->cl, buf, n, &s->cs) == 0) {
			s->connected = true;
			s->relay_refused = NULL;
			s->tries = 0;
			s->unanswered = 0;
			s->last_rx = comms_now_ms();
			s->connect_us = comms_now_us();
			tf_comms_session_set_birth(s->cs, now_s());
			tf_comms_client_free(s->cl);
			s->cl = NULL;
			on_connected(s);
		} else {
			relay_refuse(s, "its handshake answer failed "
					"authentication (forged or altered)");
		}
		break;
	case TF_COMMS_MSG_COOKIE: {
		/* the relay is under load (or flooded): it did no DH for
		 * our INIT and wants it again with mac2, proof that we
		 * receive at our address; one round trip more */
		uint8_t init[TF_COMMS_INIT_MAX];

		struct tf_comms_client *c = s->rk ? s->rk : s->cl;

		if (c == NULL || tf_comms_client_cookie(c, buf, n) < 0)
			break; /* not for our INIT: ignored */
		m = tf_comms_client_init(c, init, sizeof(init));
		if (m < 0)
			break;
		s->cookies++;
		comms_log(s, "relay under load: INIT again with its cookie");
		relay_xmit(s, init, (size_t)m);
		break;
	}
	case TF_COMMS_MSG_DATA:
		if (s->cs == NULL)
			break;
		m = tf_comms_decrypt_at(s->cs, buf, n, pt, sizeof(pt), now_s());
		if (m < 0)
			break;
		s->last_rx = comms_now_ms();
		on_reply(s, pt, (size_t)m);
		break;
	default:
		/* an answer to our handshake in another suite: the relay
		 * (or the path) tried a downgrade; nothing is negotiated,
		 * so it is refused, and said */
		if (s->cl != NULL && n >= TF_COMMS_HDR_BYTES &&
		    buf[0] == TF_COMMS_TYPE_RESP && buf[1] != s->suite->id)
			relay_refuse(s, "its handshake answer is in another "
					"suite (a downgrade)");
		break;
	}
}

static void on_udp(struct svc *s)
{
	uint8_t buf[2048];
	ssize_t n;

	while ((n = recv(s->ufd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		if (!s->on_tcp) /* late UDP answers after a switch: ignored */
			on_datagram(s, buf, (size_t)n);
}

/* Frames from the TCP connection; bounded by tin (a frame is at most one
 * datagram). */
static void on_tcp(struct svc *s)
{
	ssize_t n = recv(s->tfd, s->tin + s->tin_len,
			 sizeof(s->tin) - s->tin_len, MSG_DONTWAIT);
	size_t off = 0;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		comms_log(s, "TCP connection to the relay closed");
		close(s->tfd);
		s->tfd = -1;
		s->connected = false;
		return;
	}
	s->tin_len += (size_t)n;
	while (s->tin_len - off >= 2) {
		size_t fl = (size_t)s->tin[off] << 8 | s->tin[off + 1];
		if (fl == 0 || fl > 2048) {
			close(s->tfd);
			s->tfd = -1;
			s->connected = false;
			return;
		}
		if (s->tin_len - off < 2 + fl)
			break;
		on_datagram(s, s->tin + off + 2, fl);
		off += 2 + fl;
	}
	memmove(s->tin, s->tin + off, s->tin_len - off);
	s->tin_len -= off;
}

/* ---- the control socket ---- */

void comms_reply(int fd, const char *fmt, ...)
{
	char b[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)send(fd, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b),
			   MSG_NOSIGNAL);
}

static void ctl_read(struct svc *s, int fd)
{
	struct dirent **ents = NULL;
	char *out = malloc(REPLY_MAX), p[512], q[512];
	size_t used = 0;
	int n;

	if (out == NULL || comms_path(s, p, sizeof(p), "inbox") < 0) {
		comms_reply(fd, "error out of memory\n");
		free(out);
		return;
	}
	n = scandir(p, &ents, NULL, alphasort);
	used = (size_t)snprintf(out, REPLY_MAX, "ok\n");
	for (int i = 0; i < n; i++) {
		uint8_t *b = NULL;
		size_t len;

		if (ents[i]->d_name[0] != '.' &&
		    comms_path(s, p, sizeof(p), "inbox/%s", ents[i]->d_name) ==
			    0 &&
		    comms_read_file(p, REPLY_MAX - 8, &b, &len) == 0) {
			if (used + len < REPLY_MAX) {
				memcpy(out + used, b, len);
				used += len;
				/* read: moved, not deleted (the user may
				 * want it again; the file stays 0600) */
				if (comms_path(s, q, sizeof(q), "read/%s",
					       ents[i]->d_name) == 0)
					(void)rename(p, q);
			}
			tf_memzero(b, len);
			free(b);
		}
		free(ents[i]);
	}
	free(ents);
	(void)send(fd, out, used, MSG_NOSIGNAL);
	tf_memzero(out, used);
	free(out);
}

/* Why the relay does not take our messages, one line each, for `status`:
 * our own certificate (checked here, since a relay that refuses it says
 * nothing: it is no oracle), an unanswered handshake, the relay's last
 * error. */
static int status_why(struct svc *s, char *b, size_t cap)
{
	uint64_t now = (uint64_t)time(NULL);
	int k = 0;

	if (now > s->me.not_after && !s->connected)
		k = snprintf(b, cap,
			     "problem relay refused us: certificate expired; "
			     "get a new one (twofold-ca issue)\n");
	else if (now > s->me.not_after)
		k = snprintf(b, cap,
			     "problem our certificate expired: the relay "
			     "refuses us at the next handshake; get a new one "
			     "(twofold-ca issue)\n");
	else if (!s->connected && s->unanswered >= 3)
		k = snprintf(b, cap,
			     "problem relay does not answer our handshake: "
			     "check the certificate's validity and the relay "
			     "key\n");
	if (k < 0 || (size_t)k >= cap)
		return 0;
	if (s->relay_err[0] != '\0') {
		int m = snprintf(b + k, cap - (size_t)k, "relay_error %s\n",
				 s->relay_err);
		if (m > 0 && (size_t)m < cap - (size_t)k)
			k += m;
	}
	return k;
}

/* Who may use the control socket (docs/comms.md "In the secure
 * persona"): the service's own uid; inside a persona, where it runs as
 * TF_COMMS_UID, also the default app uid (the officer's terminal and
 * commands: they send and read messages but, another uid, cannot read
 * the keys); and a peer outside our pid namespace (its pid reads 0 here),
 * which is the daemon asking for `twofold comms status` through
 * /proc/INIT/root: from outside the persona the socket is reachable
 * only by host root. An installed app has a uid of its own and is
 * refused, as is any other uid. The socket is 0666 so that the kernel
 * lets those peers connect at all; this is the check. */
static bool peer_allowed(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);
	uid_t me = geteuid();

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0 ||
	    l != sizeof(cr))
		return false;
	*uid = cr.uid;
	return cr.uid == me || cr.pid == 0 ||
	       (me == TF_COMMS_UID && cr.uid == TF_APP_UID_DEFAULT);
}

int comms_take_fd(struct svc *s)
{
	if (s->ctl_fd_next >= s->n_ctl_fds)
		return -1;
	return s->ctl_fds[s->ctl_fd_next++];
}

static void ctl_fds_close(struct svc *s)
{
	while (s->ctl_fd_next < s->n_ctl_fds)
		close(s->ctl_fds[s->ctl_fd_next++]);
	s->n_ctl_fds = s->ctl_fd_next = 0;
}

/* One request and the descriptors it passed (at most CTL_FDS_MAX; a
 * request with more, or cut short, is refused whole) */
static ssize_t recv_req(struct svc *s, int fd, char *req, size_t cap)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * (CTL_FDS_MAX + 1))];
	} cb;
	struct iovec iov = {.iov_base = req, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cb.b,
			    .msg_controllen = sizeof(cb.b)};
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	bool bad = n > 0 && (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC));

	s->n_ctl_fds = s->ctl_fd_next = 0;
	if (n < 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
	     c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int x;

			memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(x));
			if (s->n_ctl_fds < CTL_FDS_MAX)
				s->ctl_fds[s->n_ctl_fds++] = x;
			else {
				close(x);
				bad = true;
			}
		}
	}
	if (bad) {
		ctl_fds_close(s);
		comms_reply(fd, "error bad request (too long, or too many "
				"descriptors)\n");
		return 0;
	}
	return n;
}

static void on_control(struct svc *s)
{
	char req[CTL_REQ_MAX], idh[2 * ID_BYTES + 1];
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC), k2;
	uid_t uid = (uid_t)-1;
	ssize_t n;

	if (fd < 0)
		return;
	if (!peer_allowed(fd, &uid)) {
		struct timeval tv = {.tv_sec = 1};

		/* its request is read first, so that it reads the answer
		 * rather than a reset; bounded, it may send nothing (a
		 * plain recv: descriptors it passed are dropped unopened) */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)recv(fd, req, sizeof(req), 0);
		comms_reply(fd,
			    "error refused: uid %u may not use this service "
			    "(only the persona's default user, uid %u, may; "
			    "an installed app has its own uid)\n",
			    (unsigned)uid, TF_APP_UID_DEFAULT);
		comms_log(s, "control: refused uid %u", (unsigned)uid);
		goto out;
	}
	n = recv_req(s, fd, req, sizeof(req) - 1);
	if (n <= 0)
		goto out;
	req[n] = '\0';
	if (!strncmp(req, "send\n", 5)) {
		char *to = req + 5, *text = strchr(to, '\n');
		int r;

		if (text == NULL) {
			comms_reply(fd, "error bad request\n");
			goto out;
		}
		*text++ = '\0';
		if (!comms_addr_ok(to)) {
			comms_reply(fd,
				    "error %s is not an officer id or "
				    "officer/device\n",
				    to);
			goto out;
		}
		if (strlen(text) == 0 || strlen(text) > LONG_TEXT_MAX) {
			comms_reply(fd,
				    "error a message is 1 to %d bytes (this "
				    "one is %zu)\n",
				    LONG_TEXT_MAX, strlen(text));
			goto out;
		}
		if (!strcmp(to, s->addr)) {
			comms_reply(fd, "error %s is this device\n", to);
			goto out;
		}
		r = queue_message(s, to, text, idh);
		tf_memzero(text, strlen(text));
		if (r < 0)
			comms_reply(fd, "error cannot queue the message: %s\n",
				    strerror(-r));
		else
			comms_reply(fd, "ok %s %s\n", idh,
				    s->connected ? "sending" : "queued");
		if (r == 0 && s->connected)
			out_flush(s);
	} else if (!strcmp(req, "read")) {
		ctl_read(s, fd);
	} else if (!strcmp(req, "status")) {
		char b[8192];
		int k = snprintf(
			b, sizeof(b),
			"ok\nofficer %s\naddress %s\nown_devices %s%zu\n"
			"relay %s\noutbox %zu\n"
			"prekeys_on_relay %d\nx3dh_with_opk %u\n"
			"x3dh_without_opk %u\nrelay_connect_us %llu\n"
			"foreground %s\naudio_dev %s%s\n"
			"relay_cookies %u\nrelay_rekeys %u\n%s%s%s",
			s->me.officer, s->addr, s->own_known ? "" : "unknown ",
			s->n_own, s->connected ? "connected" : "unreachable",
			out_pending(s), s->relay_opk_left, s->x3dh_opk,
			s->x3dh_no_opk,
			(unsigned long long)(s->connect_us ? s->connect_us -
								     s->init_us
							   : 0),
			s->foreground ? "yes" : "no",
			s->audio_dev[0] ? s->audio_dev : "-",
			audio_have_alsa() ? "" : " (built without ALSA)",
			s->cookies, s->rekeys,
			s->relay_refused ? "relay_refused " : "",
			s->relay_refused ? s->relay_refused : "",
			s->relay_refused ? "\n" : "");
		if (k > 0 && (size_t)k < sizeof(b))
			k += status_why(s, b + k, sizeof(b) - (size_t)k);
		if (k > 0 && (size_t)k < sizeof(b))
			k += pieces_status(s, b + k, sizeof(b) - (size_t)k);
		if (k > 0 && (size_t)k < sizeof(b))
			k += (int)call_status(s, b + k, sizeof(b) - (size_t)k);
		if (k > 0 && (size_t)k < sizeof(b)) {
			ptt_status(s, b + k, sizeof(b) - (size_t)k);
			k += (int)strlen(b + k);
		}
		/* last: a long outbox must not push the lines above out */
		if (k > 0 && (size_t)k < sizeof(b))
			k += out_status(s, b + k, sizeof(b) - (size_t)k);
		if (k > 0)
			(void)send(fd, b, TF_MIN((size_t)k, sizeof(b) - 1),
				   MSG_NOSIGNAL);
	} else if (!strncmp(req, "foreground", 10)) {
		/* see on_daemon: never over the control socket */
		comms_reply(fd, "error refused: only twofoldd sets the "
				"foreground, on its own channel\n");
	} else if (!strcmp(req, "reconnect")) {
		/* a new relay handshake now (tests measure connect time) */
		s->connected = false;
		start_handshake(s);
		comms_reply(fd, "ok\n");
	} else if (ptt_on_control(s, fd, req)) {
		/* answered */
	} else if ((k2 = call_control(s, fd, req)) != 0) {
		if (k2 == 2) {
			ctl_fds_close(s);
			return; /* call.c answers later and closes fd */
		}
	} else {
		comms_reply(fd, "error unknown request\n");
	}
out:
	ctl_fds_close(s);
	close(fd);
}

/* ---- the daemon's channel (--daemon-fd) ---- */

/*
 * twofoldd's words to the service: "foreground yes\n" or "foreground
 * no\n", at the start and at every switch. They come only over the fd
 * twofoldd passed at exec (a pipe whose write end only the daemon
 * holds), never over DIR/control: every app of the persona runs as the
 * same uid as the service and can reach that socket, and SO_PEERCRED
 * cannot single out the daemon there (host root is unmapped in the
 * persona's user namespace and reads as the overflow uid). An app that
 * could claim the foreground could make PTT bursts play aloud while the
 * officer works in the other persona.
 */
static void daemon_line(struct svc *s, const char *l)
{
	if (!strcmp(l, "audio yes")) {
		/* this call holds the sound devices now (twofoldd set them
		 * aside for our cgroup): a device refused at the answer
		 * opens now */
		call_devices_again(s);
		return;
	}
	if (!strcmp(l, "foreground yes"))
		s->foreground = true;
	else if (!strcmp(l, "foreground no"))
		s->foreground = false;
	else
		return;
	comms_log(s, "foreground %s (twofoldd)", s->foreground ? "yes" : "no");
}

/*
 * The service's words to twofoldd, on the same channel when it is a
 * socket: "call active" when a call is answered, "call idle" when it
 * ends (after its devices are closed) and at the start. The daemon
 * lets the sound card stay with this service's cgroup while the
 * persona is in the background only during a call, and takes it from
 * the other persona meanwhile. Never a blocking write: the loop must
 * not wait on the daemon.
 */
void comms_tell_call(struct svc *s, bool active)
{
	const char *l = active ? "call active\n" : "call idle\n";

	if (s->daemon_fd < 0 || !s->daemon_sock || s->told_call == active)
		return;
	if (send(s->daemon_fd, l, strlen(l), MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)strlen(l)) {
		comms_log(s, "cannot tell twofoldd the call is %s: %s",
			  active ? "active" : "idle", strerror(errno));
		return;
	}
	s->told_call = active;
}

static void on_daemon(struct svc *s)
{
	ssize_t n = read(s->daemon_fd, s->dbuf + s->dlen,
			 sizeof(s->dbuf) - 1 - s->dlen);
	char *nl;

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		/* the daemon is gone: nobody says we are in front */
		close(s->daemon_fd);
		s->daemon_fd = -1;
		s->foreground = false;
		comms_log(s, "twofoldd's channel closed: background");
		return;
	}
	s->dlen += (size_t)n;
	s->dbuf[s->dlen] = '\0';
	while ((nl = strchr(s->dbuf, '\n')) != NULL) {
		*nl = '\0';
		daemon_line(s, s->dbuf);
		s->dlen -= (size_t)(nl + 1 - s->dbuf);
		memmove(s->dbuf, nl + 1, s->dlen + 1);
	}
	if (s->dlen == sizeof(s->dbuf) - 1)
		s->dlen = 0; /* no line that long is ours */
}

static int ctl_path(const char *dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/control",
			     dir) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

/* ---- service setup ---- */

static int mkdirs(const char *dir)
{
	static const char *const sub[] = {"",	    "/sessions", "/outbox",
					  "/inbox", "/read",	 "/seen",
					  "/certs", "/pieces"};
	char p[512];

	for (size_t i = 0; i < TF_ARRAY_SIZE(sub); i++) {
		snprintf(p, sizeof(p), "%s%s", dir, sub[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static int service(const char *dir, int argc, char **argv)
{
	static struct svc s;
	const char *relay = NULL, *rpub = NULL, *key = NULL, *cert = NULL,
		   *ca = NULL, *dlp = NULL, *audio_out = NULL, *fe;
	uint8_t *b = NULL;
	size_t len;
	int daemon_fd = -1;
	struct tf_pubfile pub;
	struct sockaddr_un sa;
	char p[512], host[64];
	unsigned port;
	int r;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			s.verbose = true;
		else if (i + 1 >= argc)
			return fail("%s needs a value", argv[i]);
		else if (!strcmp(argv[i], "--relay"))
			relay = argv[++i];
		else if (!strcmp(argv[i], "--relay-pub"))
			rpub = argv[++i];
		else if (!strcmp(argv[i], "--key"))
			key = argv[++i];
		else if (!strcmp(argv[i], "--cert"))
			cert = argv[++i];
		else if (!strcmp(argv[i], "--ca"))
			ca = argv[++i];
		else if (!strcmp(argv[i], "--audio-out"))
			audio_out = argv[++i];
		else if (!strcmp(argv[i], "--denylist"))
			dlp = argv[++i];
		else if (!strcmp(argv[i], "--audio-dev")) {
			if (!audio_dev_ok(argv[++i]) ||
			    strlen(argv[i]) >= sizeof(s.audio_dev))
				return fail("--audio-dev: %s is not an ALSA "
					    "device name",
					    argv[i]);
			snprintf(s.audio_dev, sizeof(s.audio_dev), "%s",
				 argv[i]);
		} else if (!strcmp(argv[i], "--daemon-fd")) {
			char *e;
			long v = strtol(argv[++i], &e, 10);
			struct stat st;
			if (*e || v < 0 || v > 1023 || fstat((int)v, &st) < 0 ||
			    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
				return fail("--daemon-fd %s is not an open "
					    "pipe or socket",
					    argv[i]);
			daemon_fd = (int)v;
		} else
			return fail("unknown option %s", argv[i]);
	}
	if (!relay || !rpub || !key || !cert || !ca)
		return fail("service needs --relay, --relay-pub, --key, --cert "
			    "and --ca (see twofold-comms(1))");
	s.dir = dir;
	s.ufd = s.lfd = s.tfd = -1;
	s.daemon_fd = daemon_fd;
	s.told_call = -1;
	if (daemon_fd >= 0) {
		struct stat dst;

		(void)fcntl(daemon_fd, F_SETFD, FD_CLOEXEC);
		s.daemon_sock =
			fstat(daemon_fd, &dst) == 0 && S_ISSOCK(dst.st_mode);
		/* a new run: no call (the daemon forgets an old one) */
		comms_tell_call(&s, false);
	}
	s.relay_opk_left = -1;
	/* tests only (twofold-comms(1), ENVIRONMENT): the lost-notice test
	 * waits two periods, not 30 s, and shows that without the periodic
	 * FETCH the message stays waiting; read once, before any key */
	s.fetch_every_ms = FETCH_EVERY_MS;
	fe = secure_getenv("TWOFOLD_COMMS_FETCH_MS");
	if (fe != NULL) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(fe, &end, 10);
		if (errno != 0 || end == fe || *end != '\0' || v > 86400000ul)
			return fail("TWOFOLD_COMMS_FETCH_MS wants milliseconds "
				    "(0 for no periodic FETCH), not %s",
				    fe);
		s.fetch_every_ms = v;
	}
	if (tf_crypto_init() < 0)
		return fail("crypto libraries failed to initialise");
	umask(077);
	if ((r = mkdirs(dir)) < 0)
		return fail("cannot create the state directory %s: %s", dir,
			    strerror(-r));
	/* the CA, our key and certificate, the relay's key */
	if (comms_read_file(ca, TF_PUBFILE_MAX, &b, &len) < 0 ||
	    tf_pubfile_parse(b, len, &pub) < 0 ||
	    tf_cert_anchor_init(&s.anchor, pub.suite, pub.sign_pk,
				pub.sign_pk_len) < 0)
		return fail("%s is not a CA public key (ca.pub)", ca);
	free(b);
	s.suite = pub.suite;
	if (comms_read_file(key, TF_PRIVFILE_BYTES, &b, &len) < 0 ||
	    tf_privfile_parse(b, len, &s.pf) < 0 ||
	    s.pf.kind != TF_KEYFILE_DEVICE || s.pf.suite != s.suite ||
	    tf_privfile_sign_key(&s.pf, &s.sign) < 0)
		return fail("%s is not a %s device key (make one with "
			    "`twofold-ca keygen --suite %s`)",
			    key, s.suite->name, s.suite->name);
	tf_memzero(b, len);
	free(b);
	if (comms_read_file(cert, TF_CERT_MAX, &b, &len) < 0)
		return fail("cannot read the certificate %s", cert);
	memcpy(s.cert, b, len);
	s.certlen = len;
	free(b);
	/* a group authority (twofold-groupd) sends its keys through a
	 * service of its own */
	r = tf_cert_verify(s.cert, s.certlen, &s.anchor, (uint64_t)time(NULL),
			   TF_ROLES_E2E, NULL, &s.me);
	if (r < 0)
		return fail("certificate %s refused: %s", cert,
			    tf_cert_reason(r));
	if (comms_read_file(rpub, TF_PUBFILE_MAX, &b, &len) < 0 ||
	    tf_pubfile_parse(b, len, &pub) < 0 || pub.suite != s.suite ||
	    pub.dh_pk_len == 0)
		return fail("%s is not the relay's %s public key", rpub,
			    s.suite->name);
	memcpy(s.relay_pub, pub.dh_pk, pub.dh_pk_len);
	free(b);
	if (dlp != NULL) {
		b = NULL;
		r = comms_read_file(dlp, 1u << 20, &b, &len);
		if (r == 0)
			r = tf_denylist_parse(b, len, &s.anchor, &s.dl);
		free(b); /* the parsed list is a copy */
		if (r < 0)
			return fail("deny-list %s refused", dlp);
	}
	if (sscanf(relay, "%63[^:]:%u", host, &port) != 2 || port > 65535)
		return fail("--relay wants ADDR:PORT, not %s", relay);
	s.relay = (struct sockaddr_in){.sin_family = AF_INET,
				       .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &s.relay.sin_addr) != 1)
		return fail("--relay: %s is not an IPv4 address", host);
	/* our prekeys: made once, kept in the state dir */
	if (comms_path(&s, p, sizeof(p), "prekeys") == 0 &&
	    comms_read_file(p, tf_e2e_prekeys_encoded_bytes(), &b, &len) == 0) {
		r = tf_e2e_prekeys_decode(b, len, &s.pk);
		tf_memzero(b, len);
		free(b);
		if (r < 0)
			return fail("%s is damaged; move it away to start "
				    "with new prekeys",
				    p);
	} else {
		if (tf_e2e_prekeys_new(s.suite->id, s.sign, 1, OPK_TARGET, 1,
				       &s.pk) < 0 ||
		    save_prekeys(&s) < 0)
			return fail("cannot make prekeys in %s", dir);
	}
	snprintf(s.addr, sizeof(s.addr), "%s/%s", s.me.officer, s.me.device);
	/* one session per officer before several devices: per device now */
	migrate_certs(&s);
	migrate_sessions(&s);
	if ((r = out_load(&s)) < 0)
		return fail("cannot read the outbox: %s", strerror(-r));
	s.piece_age_ms = PARTIAL_AGE_MS;
	{
		/* tests only (docs/twofold-comms.1.md): a long message not
		 * complete after N ms is shown as failed */
		const char *e = secure_getenv("TWOFOLD_COMMS_PIECE_AGE_MS");
		if (e != NULL && atoll(e) > 0)
			s.piece_age_ms = (uint64_t)atoll(e);
	}
	inbox_repair(&s);
	pieces_load(&s);
	if ((r = ptt_init(&s, audio_out)) < 0)
		return fail("cannot open the audio output %s: %s", audio_out,
			    strerror(-r));
	s.rekey_s = TF_COMMS_REKEY_AFTER_S;
	{
		/* tests only (docs/twofold-comms.1.md): rekey every N s */
		const char *e = secure_getenv("TF_COMMS_TEST_REKEY_S");
		if (e != NULL && atoi(e) > 0)
			s.rekey_s = (uint64_t)atoi(e);
	}
	s.ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	s.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s.ufd < 0 || s.lfd < 0 || ctl_path(dir, &sa) < 0)
		return fail("cannot make sockets: %s", strerror(errno));
	(void)unlink(sa.sun_path);
	{
		/* 0666: the directory (0711 in a persona, 0700 made
		 * here) decides who reaches it, peer_allowed who is
		 * answered */
		mode_t old = umask(0111);
		int br = bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
		if (br < 0 || chmod(sa.sun_path, 0666) < 0 ||
		    listen(s.lfd, 16) < 0)
			return fail("cannot listen on %s: %s", sa.sun_path,
				    strerror(errno));
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("ready\n");
	fflush(stdout);
	start_handshake(&s);
	while (!stop) {
		struct pollfd pf[4] = {{.fd = s.ufd, .events = POLLIN},
				       {.fd = s.lfd, .events = POLLIN},
				       {.fd = s.tfd, .events = POLLIN},
				       {.fd = s.daemon_fd, .events = POLLIN}};
		uint64_t t;

		if (poll(pf, 4, call_poll_timeout(&s, ptt_poll_ms())) < 0 &&
		    errno != EINTR)
			break;
		if (s.daemon_fd >= 0 && (pf[3].revents & (POLLIN | POLLHUP)))
			on_daemon(&s);
		if (pf[0].revents & POLLIN)
			on_udp(&s);
		if (s.tfd >= 0 &&
		    (pf[2].revents & (POLLIN | POLLHUP | POLLERR)))
			on_tcp(&s);
		if (pf[1].revents & POLLIN)
			on_control(&s);
		call_tick(&s);
		t = comms_now_ms();
		ptt_tick(&s, t);
		if (t - s.last_pieces >= 1000) {
			s.last_pieces = t;
			pieces_expire(&s);
		}
		/* a relay that answers nothing for 3 s is down (a restarted
		 * one does not know our session): handshake again */
		if (s.connected && t - s.last_rx > 3000) {
			comms_log(&s, "relay unreachable; retrying");
			s.connected = false;
		}
		if (!s.connected && t - s.last_init >= 1000)
			start_handshake(&s);
		/* rekey every rekey_s; an unanswered one again after 2 s */
		if (s.connected &&
		    ((s.rk == NULL &&
		      tf_comms_session_rekey_due(s.cs, now_s(), s.rekey_s)) ||
		     (s.rk != NULL && t - s.rk_sent >= 2000)))
			start_rekey(&s);
		if (s.connected && t - s.last_tick >= 1000) {
			static const uint8_t ka[] = {OP_ECHO, 'k'};

			s.last_tick = t;
			comms_relay_send(&s, ka, sizeof(ka));
			/* a new-message notice can be lost between relays
			 * (a NATS node that died with it in flight): the
			 * store is the truth, so ask it now and then; what
			 * was shown already is dropped by its id */
			if (s.fetch_every_ms != 0 &&
			    t - s.last_fetch >= s.fetch_every_ms) {
				static const uint8_t f = OP_FETCH;

				s.last_fetch = t;
				comms_relay_send(&s, &f, 1);
			}
			publish_prekeys(&s, false);
			rotate_prekeys(&s);
			if (t - s.own_asked_ms >= OWN_DEVICES_EVERY_MS) {
				comms_relay_named(&s, OP_DEVICES, s.me.officer,
						  NULL, NULL, 0);
				s.own_asked_ms = t;
			}
			out_flush(&s);
		}
	}
	call_shutdown(&s);
	(void)unlink(sa.sun_path);
	if (s.tfd >= 0)
		close(s.tfd);
	ptt_free(&s);
	tf_comms_session_free(s.cs);
	tf_comms_client_free(s.cl);
	tf_comms_client_free(s.rk);
	tf_e2e_prekeys_free(s.pk);
	tf_key_free(s.sign);
	tf_privfile_free(&s.pf);
	tf_denylist_free(s.dl);
	return 0;
}

/* ---- the CLI ---- */

/* send req with nfds descriptors (SCM_RIGHTS) */
static ssize_t send_req(int fd, const char *req, size_t n, const int *fds,
			size_t nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * CTL_FDS_MAX)];
	} cb;
	struct iovec iov = {.iov_base = (void *)req, .iov_len = n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds > CTL_FDS_MAX)
		return -1;
	if (nfds > 0) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL);
}

static int client_fds(const char *dir, const char *req, size_t n,
		      const int *fds, size_t nfds);

static int client(const char *dir, const char *req, size_t n)
{
	return client_fds(dir, req, n, NULL, 0);
}

/* --audio-in/--audio-out: opened here, as the caller, and passed to the
 * service (svc.h ctl_fds); *fd -1 when the name is empty */
static int open_audio(const char *path, bool out, int *fd)
{
	*fd = -1;
	if (path[0] == '\0')
		return 0;
	*fd = out ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
		  : open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return fail("cannot open the audio file %s: %s", path,
			    strerror(errno));
	return 0;
}

static int client_fds(const char *dir, const char *req, size_t n,
		      const int *fds, size_t nfds)
{
	struct sockaddr_un sa;
	char *b = malloc(REPLY_MAX + 1);
	int fd, rc = 1;
	ssize_t m;

	if (b == NULL || ctl_path(dir, &sa) < 0) {
		free(b);
		return fail("state directory path too long");
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EACCES || errno == EPERM)
			rc = fail("cannot reach the service on %s: %s (in a "
				  "persona only its default user may use it)",
				  dir, strerror(errno));
		else
			rc = fail("the service is not running on %s (start "
				  "it with `twofold-comms --state %s service "
				  "...`)",
				  dir, dir);
		goto out;
	}
	if (send_req(fd, req, n, fds, nfds) < 0 ||
	    (m = recv(fd, b, REPLY_MAX, 0)) <= 0) {
		rc = fail("the service did not answer");
		goto out;
	}
	b[m] = '\0';
	if (!strncmp(b, "ok", 2)) {
		char *rest = strchr(b, '\n');

		/* "ok ID sending" for send, the lines after "ok" otherwise */
		if (b[2] == ' ')
			printf("%s", b + 3);
		else if (rest)
			printf("%s", rest + 1);
		rc = 0;
	} else {
		fprintf(stderr, PROG ": %s",
			!strncmp(b, "error ", 6) ? b + 6 : b);
	}
out:
	if (fd >= 0)
		close(fd);
	free(b);
	return rc;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: " PROG " --state DIR service --relay ADDR:PORT "
		"--relay-pub FILE --key FILE --cert FILE --ca CA.pub "
		"[--denylist FILE] [--audio-out FILE] [--audio-dev PCM] "
		"[--daemon-fd N] [-v]\n"
		"       " PROG " --state DIR msg send OFFICER[/DEVICE] TEXT|-\n"
		"       " PROG " --state DIR msg read\n"
		"       " PROG
		" --state DIR call OFFICER[/DEVICE] [--audio-in F] "
		"[--audio-out F] [--audio-dev PCM]\n"
		"       " PROG " --state DIR answer [--audio-in F] "
		"[--audio-out F] [--audio-dev PCM]\n"
		"       " PROG " --state DIR hangup\n"
		"       " PROG " --state DIR ptt GROUP --press "
		"[--audio-in FILE | --audio-dev PCM] [--emergency]\n"
		"       " PROG " --state DIR ptt GROUP --release\n"
		"       " PROG " --state DIR group list\n"
		"       " PROG " --state DIR status\n");
	return 2;
}

/* An audio file for the service, which runs elsewhere (cwd "/"): made
 * absolute here. */
static int abs_path(const char *p, char *out, size_t cap)
{
	char cwd[512];

	if (p[0] == '/')
		return (size_t)snprintf(out, cap, "%s", p) < cap ? 0 : -1;
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	return (size_t)snprintf(out, cap, "%s/%s", cwd, p) < cap ? 0 : -1;
}

/* call PEER / answer, with [--audio-in F] [--audio-out F] [--audio-dev
 * PCM] */
static int call_cli(const char *dir, const char *verb, const char *peer,
		    int argc, char **argv)
{
	char in[512] = "", out[512] = "", dev[AUDIO_DEV_MAX] = "",
	     req[CTL_REQ_MAX];
	int n;

	for (int i = 0; i < argc; i++) {
		char *dst = NULL;

		if (!strcmp(argv[i], "--audio-dev") && i + 1 < argc) {
			if (!audio_dev_ok(argv[++i]))
				return fail("--audio-dev: %s is not an ALSA "
					    "device name",
					    argv[i]);
			snprintf(dev, sizeof(dev), "%s", argv[i]);
			continue;
		}
		if (!strcmp(argv[i], "--audio-in"))
			dst = in;
		else if (!strcmp(argv[i], "--audio-out"))
			dst = out;
		if (dst == NULL || i + 1 >= argc)
			return usage();
		if (abs_path(argv[++i], dst, 512) < 0)
			return fail("audio file path too long: %s", argv[i]);
	}
	if (peer)
		n = snprintf(req, sizeof(req), "%s\n%s\n%s\n%s\n%s", verb, peer,
			     in, out, dev);
	else
		n = snprintf(req, sizeof(req), "%s\n%s\n%s\n%s", verb, in, out,
			     dev);
	if (n < 0 || (size_t)n >= sizeof(req))
		return fail("request too long");
	{
		int fds[2], k = 0, fi, fo, rc;

		if (open_audio(in, false, &fi) != 0)
			return 1;
		if (open_audio(out, true, &fo) != 0) {
			if (fi >= 0)
				close(fi);
			return 1;
		}
		if (fi >= 0)
			fds[k++] = fi;
		if (fo >= 0)
			fds[k++] = fo;
		rc = client_fds(dir, req, (size_t)n, fds, (size_t)k);
		while (k > 0)
			close(fds[--k]);
		return rc;
	}
}

int main(int argc, char **argv)
{
	const char *dir = secure_getenv("TWOFOLD_COMMS_STATE");
	char req[CTL_REQ_MAX];
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "--state")) {
		dir = argv[2];
		i = 3;
	}
	if (dir == NULL)
		dir = "/run/twofold-comms";
	if (i >= argc)
		return usage();
	if (!strcmp(argv[i], "service"))
		return service(dir, argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "status") && argc == i + 1)
		return client(dir, "status", 6);
	if (!strcmp(argv[i], "reconnect") && argc == i + 1)
		return client(dir, "reconnect", 9);
	if (!strcmp(argv[i], "call") && argc >= i + 2)
		return call_cli(dir, "call", argv[i + 1], argc - i - 2,
				argv + i + 2);
	if (!strcmp(argv[i], "answer"))
		return call_cli(dir, "answer", NULL, argc - i - 1,
				argv + i + 1);
	if (!strcmp(argv[i], "hangup") && argc == i + 1)
		return client(dir, "hangup", 6);
	if (!strcmp(argv[i], "msg") && argc == i + 2 &&
	    !strcmp(argv[i + 1], "read"))
		return client(dir, "read", 4);
	if (!strcmp(argv[i], "group") && argc == i + 2 &&
	    !strcmp(argv[i + 1], "list"))
		return client(dir, "groups", 6);
	if (!strcmp(argv[i], "ptt") && argc >= i + 3) {
		const char *g = argv[i + 1], *in = "-", *dev = "";
		bool press = false, release = false, em = false;
		char ain[400];
		int n;

		for (int k = i + 2; k < argc; k++) {
			if (!strcmp(argv[k], "--press"))
				press = true;
			else if (!strcmp(argv[k], "--release"))
				release = true;
			else if (!strcmp(argv[k], "--emergency"))
				em = true;
			else if (!strcmp(argv[k], "--audio-in") && k + 1 < argc)
				in = argv[++k];
			else if (!strcmp(argv[k], "--audio-dev") &&
				 k + 1 < argc && audio_dev_ok(argv[k + 1]))
				dev = argv[++k];
			else
				return usage();
		}
		if (press == release || !comms_officer_ok(g))
			return usage();
		/* the path is for the service's messages; the file is
		 * opened here and passed (open_audio) */
		if (strcmp(in, "-") && in[0] != '/' &&
		    realpath(in, ain) != NULL)
			in = ain;
		if (release)
			n = snprintf(req, sizeof(req), "ptt-release %s", g);
		else
			n = snprintf(req, sizeof(req), "ptt-press %s %d %s\n%s",
				     g, em, in, dev);
		if (n < 0 || (size_t)n >= sizeof(req))
			return fail("arguments too long");
		if (!release && strcmp(in, "-")) {
			int afd, rc;

			if (open_audio(in, false, &afd) != 0)
				return 1;
			rc = client_fds(dir, req, (size_t)n, &afd, 1);
			close(afd);
			return rc;
		}
		return client(dir, req, (size_t)n);
	}
	if (!strcmp(argv[i], "msg") && argc == i + 4 &&
	    !strcmp(argv[i + 1], "send")) {
		/* TEXT "-": the text from stdin (all of it, a file's
		 * contents with `< FILE`; one trailing newline dropped), so
		 * the text need not sit in argv (/proc/PID/cmdline is
		 * readable by the same uid) */
		static char line[LONG_TEXT_MAX + 2];
		const char *text = argv[i + 3];
		size_t k = 0;
		int n;

		if (!strcmp(text, "-")) {
			size_t m;

			while (k < sizeof(line) - 1 &&
			       (m = fread(line + k, 1, sizeof(line) - 1 - k,
					  stdin)) > 0)
				k += m;
			if (ferror(stdin))
				return fail("cannot read the message from "
					    "stdin: %s",
					    strerror(errno));
			if (k > 0 && line[k - 1] == '\n')
				k--;
			if (k > LONG_TEXT_MAX)
				return fail("a message is at most %d bytes; "
					    "stdin has more",
					    LONG_TEXT_MAX);
			if (memchr(line, '\0', k) != NULL)
				return fail("a message is text: stdin has a "
					    "NUL byte");
			line[k] = '\0';
			text = line;
		}
		if (strlen(text) == 0)
			return fail("an empty message");
		if (strlen(text) > LONG_TEXT_MAX)
			return fail("a message is at most %d bytes (this one "
				    "is %zu)",
				    LONG_TEXT_MAX, strlen(text));
		n = snprintf(req, sizeof(req), "send\n%s\n%s", argv[i + 2],
			     text);
		if (n < 0 || (size_t)n >= sizeof(req))
			return fail("officer id too long");
		tf_memzero(line, k);
		return client(dir, req, (size_t)n);
	}
	return usage();
}
