/* SPDX-License-Identifier: ISC */
/*
 * Load for the relay's durable store (test_killnine.sh): devices that
 * keep going while the relay is killed and restarted under them, through
 * the real relay protocol (Noise IK channel, SEND/STORED, FETCH/MSG/ACK)
 * and so the real store.
 *
 *   storeload send SUITE KEY RELAY.pub CERT PORT TO NAME COUNT
 *       sends COUNT messages "NAME:SEQ" (SEQ 1..COUNT) to TO, one at a
 *       time, each until the relay answers STORED for its id (the id is
 *       fixed by NAME and SEQ, so a retry is the same message, as a
 *       device's outbox does). No answer in 300 ms: the relay may be
 *       gone, so a new handshake, and the same message again. An ERROR
 *       answer (store down: "retry later"): "retry SEQ", again after
 *       50 ms. One line per stored message on stdout: "stored SEQ
 *       NEW|DUP"; at the end "done NAME COUNT". STORELOAD_GAP_MS: a
 *       pause after each stored message (a sender that does not
 *       outrun the kills of test_killnine_nats.sh).
 *   storeload drain SUITE KEY RELAY.pub CERT PORT
 *       the recipient comes online: FETCH, every MSG printed as "msg
 *       SENDER TEXT" and acknowledged, until a FETCH brings nothing.
 *       A message is acknowledged before the next FETCH, so one that
 *       comes back after its ACK is a duplicate the relay showed.
 *   storeload live SUITE KEY RELAY.pub CERT PORT FETCH_MS
 *       the recipient online (test_killnine_nats.sh), as twofold-comms
 *       is: a FETCH at every connect and every FETCH_MS, a keepalive
 *       ECHO every second, a new handshake after 3 s of silence (its
 *       relay was killed), every MSG acknowledged. Runs until killed.
 *       Prints "msg SENDER TEXT" the first time an id comes, "again
 *       SENDER TEXT" when it comes again (a device drops it by its id:
 *       its seen marker), and "acked SENDER SEQ" once the relay has
 *       handled the ACK (an ECHO sent after it came back on the same
 *       session), so a message that comes back from the store after
 *       that was kept or stored twice.
 * Exit 0 when done; 1 on a local error. Test code only.
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
#include "twofold/wg.h"

#define OP_ECHO 0x01
#define OP_SEND 0x02
#define OP_STORED 0x03
#define OP_MSG 0x04
#define OP_FETCH 0x05
#define OP_ACK 0x06
#define OP_ERROR 0x7f

static const struct tf_suite *S;
static int usock = -1;
static struct sockaddr_in relay_addr;
static struct tf_comms_session *us;
static struct tf_privfile pf;
static uint8_t relay_pub[TF_PUBFILE_MAX], cert[TF_CERT_MAX];
static size_t certlen;
static uint64_t last_ts;

static void die(const char *what, int r)
{
	fprintf(stderr, "storeload: %s: %d\n", what, r);
	exit(1);
}

static size_t get(const char *path, uint8_t *out, size_t cap)
{
	char *buf = NULL;
	size_t n;

	if (tf_read_file_at(AT_FDCWD, path, cap, &buf, &n) < 0)
		die(path, -ENOENT);
	memcpy(out, buf, n);
	free(buf);
	return n;
}

/* 0 on timeout */
static size_t recv_wait(uint8_t *out, size_t cap, int ms)
{
	struct pollfd p = {.fd = usock, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = recv(usock, out, cap, 0);
	return n > 0 ? (size_t)n : 0;
}

/* A fresh socket and a new handshake, until the relay answers (it may
 * be restarting). The drain's socket gets a large receive buffer: a
 * FETCH answers with every waiting message at once, and loopback drops
 * what does not fit. */
static void req(const uint8_t *pt, size_t n);

static void connect_relay(void)
{
	uint8_t out[TF_COMMS_INIT_MAX], msg[4096];
	struct tf_comms_client *c = NULL;
	struct timespec ts;
	int big = 64 << 20;
	uint64_t t;
	size_t n;
	int r;

	for (;;) {
		if (usock >= 0)
			close(usock);
		usock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (usock < 0)
			die("socket", -errno);
		(void)setsockopt(usock, SOL_SOCKET, SO_RCVBUFFORCE, &big,
				 sizeof(big));
		if (connect(usock, (struct sockaddr *)&relay_addr,
			    sizeof(relay_addr)) < 0)
			die("connect", -errno);
		clock_gettime(CLOCK_REALTIME, &ts);
		t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (t <= last_ts)
			t = last_ts + 1;
		last_ts = t;
		tf_comms_client_free(c);
		c = NULL;
		r = tf_comms_client_start(S->id, pf.secret + 32, relay_pub,
					  cert, certlen, t, 0x7e57c1e7, &c, out,
					  sizeof(out));
		if (r < 0)
			die("start", r);
		(void)send(usock, out, (size_t)r, 0);
		n = recv_wait(msg, sizeof(msg), 300);
		if (n == 0)
			continue; /* relay down or restarting */
		tf_comms_session_free(us);
		us = NULL;
		r = tf_comms_client_finish(c, msg, n, &us);
		if (r == 0) {
			/* confirms the session: the relay routes to it
			 * only after the device's first DATA */
			req((const uint8_t *)"", 0);
			break;
		}
		usleep(50 * 1000);
	}
	tf_comms_client_free(c);
}

static void req(const uint8_t *pt, size_t n)
{
	uint8_t out[4096];
	int m = tf_comms_encrypt(us, pt, n, out, sizeof(out));

	if (m < 0)
		die("encrypt", m);
	(void)send(usock, out, (size_t)m, 0);
}

/* One decrypted reply into pt, its length; 0 on timeout; -1 for a
 * datagram that is not ours (an old session's, a stray RESP). */
static int reply(uint8_t *pt, size_t cap, int ms)
{
	uint8_t msg[4096];
	size_t n = recv_wait(msg, sizeof(msg), ms);
	int m;

	if (n == 0)
		return 0;
	m = tf_comms_decrypt(us, msg, n, pt, cap);
	return m >= 1 ? m : -1;
}

static void msg_id(const char *name, unsigned seq, uint8_t id[16])
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a of the name */

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	for (int i = 0; i < 8; i++) {
		id[i] = (uint8_t)(h >> (8 * i));
		id[8 + i] = (uint8_t)((uint64_t)seq >> (8 * (7 - i)));
	}
}

static void do_send(const char *to, const char *name, unsigned count)
{
	uint8_t b[512], pt[2048];
	size_t tl = strlen(to), n;
	const char *gap = getenv("STORELOAD_GAP_MS");
	unsigned gap_ms = gap ? (unsigned)strtoul(gap, NULL, 10) : 0;
	int m;

	connect_relay();
	for (unsigned seq = 1; seq <= count; seq++) {
		uint8_t id[16];
		bool done = false;

		msg_id(name, seq, id);
		b[0] = OP_SEND;
		b[1] = (uint8_t)tl;
		memcpy(b + 2, to, tl);
		memcpy(b + 2 + tl, id, 16);
		n = 2 + tl + 16;
		n += (size_t)snprintf((char *)b + n, sizeof(b) - n, "%s:%u",
				      name, seq);
		while (!done) {
			req(b, n);
			for (;;) {
				m = reply(pt, sizeof(pt), 300);
				if (m == 0) { /* the relay is gone */
					connect_relay();
					break;
				}
				if (m < 0)
					continue;
				if (pt[0] == OP_ERROR) { /* retry later */
					printf("retry %u\n", seq);
					usleep(50 * 1000);
					break;
				}
				if (pt[0] == OP_STORED && m == 18 &&
				    !memcmp(pt + 1, id, 16)) {
					printf("stored %u %s\n", seq,
					       pt[17] ? "DUP" : "NEW");
					fflush(stdout);
					done = true;
					if (gap_ms != 0)
						usleep(gap_ms * 1000);
					break;
				}
				/* a late answer to an earlier try: skip */
			}
		}
	}
	printf("done %s %u\n", name, count);
}

/* An ECHO after a batch: the relay handles one socket in order, so its
 * answer means everything before it was handled (and, for FETCH, sent). */
static bool sync_relay(void (*on_msg)(const uint8_t *, int))
{
	static const uint8_t e[] = {OP_ECHO, 's', 'y', 'n', 'c'};
	uint8_t pt[2048];
	int m;

	req(e, sizeof(e));
	for (;;) {
		m = reply(pt, sizeof(pt), 2000);
		if (m == 0)
			return false;
		if (m < 0)
			continue;
		if (pt[0] == OP_ECHO)
			return true;
		if (pt[0] == OP_MSG && on_msg)
			on_msg(pt, m);
	}
}

/* what the drain got in one FETCH: the acks to send */
static uint8_t (*acks)[2 + 255 + 16];
static size_t nacks, cap_acks;

static void got_msg(const uint8_t *pt, int m)
{
	size_t nl = pt[1];

	if ((size_t)m < 2 + nl + 16)
		die("short MSG", -EBADMSG);
	printf("msg %.*s %.*s\n", (int)nl, pt + 2, (int)((size_t)m - 18 - nl),
	       pt + 2 + nl + 16);
	if (nacks == cap_acks) {
		cap_acks = cap_acks ? 2 * cap_acks : 1024;
		acks = realloc(acks, cap_acks * sizeof(*acks));
		if (acks == NULL)
			die("realloc", -ENOMEM);
	}
	acks[nacks][0] = OP_ACK;
	memcpy(&acks[nacks][1], pt + 1, 1 + nl + 16);
	nacks++;
}

static void do_drain(void)
{
	static const uint8_t f[] = {OP_FETCH};

	connect_relay();
	for (;;) {
		nacks = 0;
		req(f, sizeof(f));
		if (!sync_relay(got_msg))
			die("no answer to FETCH", -ETIMEDOUT);
		if (nacks == 0)
			break;
		/* in batches, each confirmed, so the relay's socket never
		 * overflows (a dropped ACK would come back as a false
		 * duplicate) */
		for (size_t i = 0; i < nacks; i++) {
			req(acks[i], 2 + acks[i][1] + 16);
			if (i % 32 == 31 && !sync_relay(NULL))
				die("no answer to ACK", -ETIMEDOUT);
		}
		if (!sync_relay(NULL))
			die("no answer to ACK", -ETIMEDOUT);
		fflush(stdout);
	}
	fflush(stdout);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* the ids shown so far (a device's seen markers): open addressing */
#define SEEN_SLOTS (1u << 17)
static uint8_t (*seen)[16];
static bool *seen_used;

static bool seen_add(const uint8_t id[16])
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (int k = 0; k < 16; k++)
		h = (h ^ id[k]) * 1099511628211ull;
	for (i = h % SEEN_SLOTS; seen_used[i]; i = (i + 1) % SEEN_SLOTS)
		if (!memcmp(seen[i], id, 16))
			return false;
	seen_used[i] = true;
	memcpy(seen[i], id, 16);
	return true;
}

#define LIVE_EVERY 32	 /* ACKs per confirming ECHO */
#define LIVE_QUEUE 65536 /* ACKs sent on one session */
#define LIVE_TOKENS 4096 /* ECHOs in flight */
struct live_ack {
	char name[256];
	unsigned seq;
};

static unsigned id_seq(const uint8_t *id)
{
	uint64_t v = 0;

	for (int i = 8; i < 16; i++)
		v = v << 8 | id[i];
	return (unsigned)v;
}

/* As a device: every MSG acknowledged at once. The ACKs sent since the
 * last token are covered by the next ECHO (every LIVE_EVERY ACKs, or
 * when the socket goes quiet); its answer on the same session means the
 * relay handled them (one socket, in order), and they are printed as
 * "acked". A new session forgets what the old one had in flight. */
static void do_live(unsigned fetch_ms)
{
	static const uint8_t f[] = {OP_FETCH}, ka[] = {OP_ECHO, 'k'};
	struct live_ack *q = calloc(LIVE_QUEUE, sizeof(*q));
	size_t *tok_end = calloc(LIVE_TOKENS, sizeof(*tok_end));
	size_t nq = 0, covered = 0, done = 0; /* printed [0, done) */
	uint32_t tok_first = 0, tok_next = 0; /* in flight [first, next) */
	uint64_t last_rx, last_ka = 0, last_fetch, t;
	uint8_t pt[2048], b[2 + 255 + 16];
	int m;

	seen = calloc(SEEN_SLOTS, sizeof(*seen));
	seen_used = calloc(SEEN_SLOTS, sizeof(*seen_used));
	if (q == NULL || tok_end == NULL || seen == NULL || seen_used == NULL)
		die("calloc", -ENOMEM);
	setvbuf(stdout, NULL, _IOLBF, 0); /* killed, not stopped */
	connect_relay();
	req(f, sizeof(f));
	last_rx = last_fetch = now_ms();
	for (;;) {
		t = now_ms();
		if (t - last_rx > 3000) {
			/* the relay is gone: what was in flight is not known
			 * to be handled, and the FETCH brings it back */
			connect_relay();
			nq = covered = done = 0;
			tok_first = tok_next;
			req(f, sizeof(f));
			last_rx = last_fetch = now_ms();
			continue;
		}
		if (t - last_ka >= 1000) {
			req(ka, sizeof(ka));
			last_ka = t;
		}
		if (fetch_ms != 0 && t - last_fetch >= fetch_ms) {
			req(f, sizeof(f));
			last_fetch = t;
		}
		m = reply(pt, sizeof(pt), 50);
		if (m > 0)
			last_rx = now_ms();
		if (m > 0 && pt[0] == OP_ECHO && m == 6 && pt[1] == 't') {
			uint32_t k;

			memcpy(&k, pt + 2, 4);
			if (k - tok_first < tok_next - tok_first) {
				size_t e = tok_end[k % LIVE_TOKENS];

				for (; done < e; done++)
					printf("acked %s %u\n", q[done].name,
					       q[done].seq);
				tok_first = k + 1;
				if (done ==
				    nq) { /* all confirmed: start over */
					nq = covered = done = 0;
					tok_first = tok_next;
				}
			}
		} else if (m > 0 && pt[0] == OP_MSG && m >= 2 &&
			   (size_t)m >= 2u + pt[1] + 16u) {
			size_t nl = pt[1];

			printf("%s %.*s %.*s\n",
			       seen_add(pt + 2 + nl) ? "msg" : "again", (int)nl,
			       pt + 2, (int)((size_t)m - 18 - nl),
			       pt + 2 + nl + 16);
			b[0] = OP_ACK;
			memcpy(b + 1, pt + 1, 1 + nl + 16);
			req(b, 2 + nl + 16);
			if (nq == LIVE_QUEUE)
				die("too many ACKs on one session", -ENOBUFS);
			snprintf(q[nq].name, sizeof(q[nq].name), "%.*s",
				 (int)nl, (const char *)pt + 2);
			q[nq].seq = id_seq(pt + 2 + nl);
			nq++;
		}
		/* a token for the ACKs not yet covered: every LIVE_EVERY, or
		 * once the socket is quiet */
		if (nq > covered && (nq - covered >= LIVE_EVERY || m == 0) &&
		    tok_next - tok_first < LIVE_TOKENS) {
			uint8_t e[6] = {OP_ECHO, 't'};

			memcpy(e + 2, &tok_next, 4);
			req(e, sizeof(e));
			tok_end[tok_next % LIVE_TOKENS] = nq;
			tok_next++;
			covered = nq;
		}
	}
}

int main(int argc, char **argv)
{
	struct tf_pubfile pub;
	uint8_t kb[TF_PRIVFILE_BYTES], pb[TF_PUBFILE_MAX];
	size_t kl, pl;
	bool send_mode = argc == 10 && !strcmp(argv[1], "send");
	bool live_mode = argc == 8 && !strcmp(argv[1], "live");

	if (!send_mode && !live_mode &&
	    !(argc == 7 && !strcmp(argv[1], "drain"))) {
		fprintf(stderr,
			"usage: storeload send SUITE KEY RELAY.pub "
			"CERT PORT TO NAME COUNT | drain SUITE KEY "
			"RELAY.pub CERT PORT | live SUITE KEY RELAY.pub "
			"CERT PORT FETCH_MS\n");
		return 2;
	}
	if (tf_crypto_init() < 0 || (S = tf_suite_by_name(argv[2])) == NULL)
		die("suite", -EINVAL);
	kl = get(argv[3], kb, sizeof(kb));
	pl = get(argv[4], pb, sizeof(pb));
	certlen = get(argv[5], cert, sizeof(cert));
	if (tf_privfile_parse(kb, kl, &pf) < 0 ||
	    tf_pubfile_parse(pb, pl, &pub) < 0 || pub.dh_pk_len == 0)
		die("key files", -EINVAL);
	memcpy(relay_pub, pub.dh_pk, pub.dh_pk_len);
	relay_addr = (struct sockaddr_in){
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)atoi(argv[6]))};
	inet_pton(AF_INET, "127.0.0.1", &relay_addr.sin_addr);
	if (send_mode)
		do_send(argv[7], argv[8], (unsigned)strtoul(argv[9], NULL, 10));
	else if (live_mode)
		do_live((unsigned)strtoul(argv[7], NULL, 10));
	else
		do_drain();
	tf_comms_session_free(us);
	tf_privfile_free(&pf);
	free(acks);
	return 0;
}
