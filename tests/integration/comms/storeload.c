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
 *       NEW|DUP"; at the end "done NAME COUNT".
 *   storeload drain SUITE KEY RELAY.pub CERT PORT
 *       the recipient comes online: FETCH, every MSG printed as "msg
 *       SENDER TEXT" and acknowledged, until a FETCH brings nothing.
 *       A message is acknowledged before the next FETCH, so one that
 *       comes back after its ACK is a duplicate the relay showed.
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
		if (r == 0)
			break;
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

int main(int argc, char **argv)
{
	struct tf_pubfile pub;
	uint8_t kb[TF_PRIVFILE_BYTES], pb[TF_PUBFILE_MAX];
	size_t kl, pl;
	bool send_mode = argc == 10 && !strcmp(argv[1], "send");

	if (!send_mode && !(argc == 7 && !strcmp(argv[1], "drain"))) {
		fprintf(stderr, "usage: storeload send SUITE KEY RELAY.pub "
				"CERT PORT TO NAME COUNT | drain SUITE KEY "
				"RELAY.pub CERT PORT\n");
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
	else
		do_drain();
	tf_comms_session_free(us);
	tf_privfile_free(&pf);
	free(acks);
	return 0;
}
