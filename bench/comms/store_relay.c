/* SPDX-License-Identifier: ISC */
/*
 * The load generator of bench/comms/relay_store.sh: N devices, each with
 * its own certificate and channel to twofold-relay, sending messages to
 * an offline officer through the real protocol (SEND -> STORED), one in
 * flight per device (a device's outbox), for DURATION seconds. So the
 * figure is the relay's: its loop, its group commit (or not) and the
 * store behind it, with N concurrent senders.
 *
 *   store_relay SUITE PORT RELAY.pub TO DURATION BODY KEY CERT [KEY CERT..]
 *
 * Prints one line: "stored N seconds T rate R p50_us A p99_us B retries
 * E timeouts O": R = STORED answers per second, A/B the SEND -> STORED
 * latency, E the ERROR answers (retried), O the SENDs resent after 1 s
 * without an answer. Bench code.
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

#define OP_SEND 0x02
#define OP_STORED 0x03
#define OP_ERROR 0x7f
#define MAX_DEV 256

struct dev {
	int fd;
	struct tf_comms_session *s;
	uint64_t seq;
	uint8_t id[16];
	double sent; /* when the SEND in flight went out */
};

static struct dev devs[MAX_DEV];
static struct sockaddr_in dst;
static uint32_t *lat; /* microseconds */
static size_t nlat, cap_lat;

static void die(const char *what, int e)
{
	fprintf(stderr, "store_relay: %s: %s\n", what,
		strerror(e < 0 ? -e : e));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t slurp(const char *path, uint8_t *out, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		die(path, errno);
	n = fread(out, 1, cap, f);
	fclose(f);
	return n;
}

static void handshake(struct dev *d, uint8_t suite, const uint8_t *relay_pk,
		      const char *keyf, const char *certf, uint32_t cid)
{
	uint8_t kb[TF_PRIVFILE_BYTES], cert[TF_CERT_MAX];
	uint8_t out[TF_COMMS_INIT_MAX], in[4096];
	struct tf_privfile pf = {0};
	struct tf_comms_client *c = NULL;
	struct pollfd p;
	struct timespec ts;
	size_t kl = slurp(keyf, kb, sizeof(kb));
	size_t cl = slurp(certf, cert, sizeof(cert));
	ssize_t n;
	int r;

	if (tf_privfile_parse(kb, kl, &pf) < 0)
		die(keyf, -EINVAL);
	d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (d->fd < 0 ||
	    connect(d->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		die("socket", errno);
	clock_gettime(CLOCK_REALTIME, &ts);
	r = tf_comms_client_start(suite, pf.secret + 32, relay_pk, cert, cl,
				  (uint64_t)ts.tv_sec * 1000000000ull +
					  (uint64_t)ts.tv_nsec,
				  cid, &c, out, sizeof(out));
	if (r < 0)
		die("handshake", r);
	if (send(d->fd, out, (size_t)r, 0) < 0)
		die("send", errno);
	p = (struct pollfd){.fd = d->fd, .events = POLLIN};
	if (poll(&p, 1, 3000) != 1)
		die("no answer from the relay", ETIMEDOUT);
	n = recv(d->fd, in, sizeof(in), 0);
	if (n <= 0 || tf_comms_client_finish(c, in, (size_t)n, &d->s) < 0)
		die("handshake refused (see the relay's log with -v)", EPERM);
	/* a keepalive confirms the session (the relay routes to it only
	 * after the device's first DATA) */
	r = tf_comms_encrypt(d->s, in, 0, out, sizeof(out));
	if (r < 0 || send(d->fd, out, (size_t)r, 0) < 0)
		die("keepalive", r < 0 ? -r : errno);
	tf_comms_client_free(c);
	tf_privfile_free(&pf);
	(void)fcntl(d->fd, F_SETFL, O_NONBLOCK);
}

static void send_one(struct dev *d, unsigned i, const char *to, size_t body)
{
	uint8_t b[1400], out[2048];
	size_t tl = strlen(to), n;
	int m;

	/* a fresh id per message: device index and sequence number */
	memset(d->id, 0, sizeof(d->id));
	memcpy(d->id, &i, sizeof(i));
	memcpy(d->id + 8, &d->seq, sizeof(d->seq));
	b[0] = OP_SEND;
	b[1] = (uint8_t)tl;
	memcpy(b + 2, to, tl);
	memcpy(b + 2 + tl, d->id, 16);
	n = 2 + tl + 16;
	memset(b + n, 'm', body);
	n += body;
	m = tf_comms_encrypt(d->s, b, n, out, sizeof(out));
	if (m < 0)
		die("encrypt", m);
	(void)send(d->fd, out, (size_t)m, 0);
	d->sent = now_s();
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_DEV];
	struct tf_pubfile pub;
	uint8_t pb[TF_PUBFILE_MAX];
	const struct tf_suite *suite;
	unsigned nd, retries = 0, timeouts = 0;
	double dur, t0, t;
	size_t body;

	if (argc < 9 || (argc - 7) % 2 || (argc - 7) / 2 > MAX_DEV) {
		fprintf(stderr, "usage: store_relay SUITE PORT RELAY.pub TO "
				"DURATION BODY KEY CERT [KEY CERT...]\n");
		return 2;
	}
	if (tf_crypto_init() < 0 || (suite = tf_suite_by_name(argv[1])) == NULL)
		die("suite", EINVAL);
	if (tf_pubfile_parse(pb, slurp(argv[3], pb, sizeof(pb)), &pub) < 0 ||
	    pub.dh_pk_len == 0)
		die(argv[3], EINVAL);
	dst = (struct sockaddr_in){.sin_family = AF_INET,
				   .sin_port = htons((uint16_t)atoi(argv[2]))};
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dur = atof(argv[5]);
	body = (size_t)atoi(argv[6]);
	if (body > 1000)
		die("BODY (at most 1000)", EINVAL);
	nd = (unsigned)(argc - 7) / 2;
	for (unsigned i = 0; i < nd; i++)
		handshake(&devs[i], suite->id, pub.dh_pk, argv[7 + 2 * i],
			  argv[8 + 2 * i], 0x51000000u + i);
	t0 = now_s();
	for (unsigned i = 0; i < nd; i++) {
		pfd[i] = (struct pollfd){.fd = devs[i].fd, .events = POLLIN};
		send_one(&devs[i], i, argv[4], body);
	}
	while ((t = now_s()) - t0 < dur) {
		if (poll(pfd, nd, 100) < 0 && errno != EINTR)
			die("poll", errno);
		t = now_s();
		for (unsigned i = 0; i < nd; i++) {
			struct dev *d = &devs[i];
			uint8_t in[4096], pt[2048];
			ssize_t n;
			int m;

			while ((n = recv(d->fd, in, sizeof(in), 0)) > 0) {
				m = tf_comms_decrypt(d->s, in, (size_t)n, pt,
						     sizeof(pt));
				if (m < 1)
					continue;
				if (pt[0] == OP_ERROR) {
					retries++;
					send_one(d, i, argv[4], body);
				} else if (pt[0] == OP_STORED && m == 18 &&
					   !memcmp(pt + 1, d->id, 16)) {
					if (nlat == cap_lat) {
						cap_lat = cap_lat ? 2 * cap_lat
								  : 65536;
						lat = realloc(
							lat,
							cap_lat * sizeof(*lat));
						if (lat == NULL)
							die("realloc", ENOMEM);
					}
					lat[nlat++] =
						(uint32_t)((now_s() - d->sent) *
							   1e6);
					d->seq++;
					send_one(d, i, argv[4], body);
				}
			}
			if (t - d->sent > 1.0) {
				timeouts++;
				send_one(d, i, argv[4], body);
			}
		}
	}
	t = now_s() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	printf("stored %zu seconds %.2f rate %.0f p50_us %u p99_us %u "
	       "retries %u timeouts %u\n",
	       nlat, t, (double)nlat / t, nlat ? lat[nlat / 2] : 0,
	       nlat ? lat[nlat * 99 / 100] : 0, retries, timeouts);
	for (unsigned i = 0; i < nd; i++) {
		tf_comms_session_free(devs[i].s);
		close(devs[i].fd);
	}
	free(lat);
	return 0;
}
