/* SPDX-License-Identifier: ISC */
/*
 * The load generator of bench/comms/forward.sh: one sender blasting
 * SFrame-sized frames at a forwarder, with sendmmsg, for DURATION
 * seconds; the receivers are UDP sockets the forwarder fans out to.
 *
 *   comms_load relay SUITE PORT RELAY.pub OFFICER DURATION BODY
 *              SENDER.key SENDER.cert RECEIVER.key RECEIVER.cert...
 *       every device does the channel handshake with twofold-relay on
 *       127.0.0.1:PORT; the sender then sends FWD OFFICER | BODY bytes
 *       (the receivers are devices of OFFICER, so each FWD fans out to
 *       all of them)
 *   comms_load bare PORT DURATION WIRE NRECEIVERS
 *       the same against udp_fwd: each receiver registers with one 'R'
 *       datagram, the sender sends WIRE-byte datagrams (the relay run's
 *       on-wire size)
 *
 * Prints one line: "sent N wire W seconds T received R forwarded F
 * fwd_cpu C": R what the receivers drained afterwards (a sanity check:
 * their buffers overflow), F the datagrams the forwarder sent in the
 * window (the namespace's UDP OutDatagrams minus ours: run it in a
 * network namespace of its own), C the CPU seconds the forwarder
 * (TF_FWD_PID) used meanwhile. Bench code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "twofold/comms.h"

#define BATCH 32
#define MAX_RX 16

static struct sockaddr_in dst;

static void die(const char *what, int e)
{
	fprintf(stderr, "comms_load: %s: %s\n", what, strerror(e < 0 ? -e : e));
	exit(1);
}

static int udp_sock(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in lo = {.sin_family = AF_INET};
	int buf = 8 << 20;

	if (fd < 0)
		die("socket", errno);
	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&lo, sizeof(lo)) < 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		die("bind/connect", errno);
	return fd;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* the channel handshake of one device; returns its session */
static struct tf_comms_session *connect_dev(int fd, uint8_t suite,
					    const uint8_t *relay_pub,
					    const char *keyf, const char *certf,
					    uint32_t id)
{
	uint8_t kb[TF_PRIVFILE_BYTES], cert[TF_CERT_MAX], out[4096];
	struct tf_privfile pf = {0};
	struct tf_comms_client *c = NULL;
	struct tf_comms_session *s = NULL;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t kl = slurp(keyf, kb, sizeof(kb)), cl;
	ssize_t n;
	int r;

	cl = slurp(certf, cert, sizeof(cert));
	if (tf_privfile_parse(kb, kl, &pf) < 0)
		die(keyf, EINVAL);
	r = tf_comms_client_start(suite, pf.secret + 32, relay_pub, cert, cl,
				  real_ns(), id, &c, out, sizeof(out));
	tf_privfile_free(&pf);
	if (r < 0)
		die("handshake start", r);
	if (send(fd, out, (size_t)r, 0) < 0)
		die("send INIT", errno);
	if (poll(&p, 1, 5000) != 1)
		die("no RESP from the relay", ETIMEDOUT);
	n = recv(fd, out, sizeof(out), 0);
	if (n < 0)
		die("recv RESP", errno);
	r = tf_comms_client_finish(c, out, (size_t)n, &s);
	tf_comms_client_free(c);
	if (r < 0)
		die("handshake", r);
	/* a keepalive confirms the session (the relay routes to it only
	 * after the device's first DATA) */
	r = tf_comms_encrypt(s, out, 0, out, sizeof(out));
	if (r < 0 || send(fd, out, (size_t)r, 0) < 0)
		die("keepalive", r < 0 ? -r : errno);
	return s;
}

static long drain(int fd)
{
	uint8_t b[2048];
	long n = 0;

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/* blast for `secs`: build BATCH datagrams (fill() encrypts each), one
 * sendmmsg; returns how many the kernel took */
typedef size_t (*fill_fn)(uint8_t *out, size_t cap, void *arg);

static long blast(int fd, double secs, fill_fn fill, void *arg, size_t *wire)
{
	static uint8_t bufs[BATCH][2048];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	double end = now_s() + secs;
	long sent = 0;

	while (now_s() < end) {
		for (int k = 0; k < 64; k++) { /* check the clock every 64 */
			for (int i = 0; i < BATCH; i++) {
				*wire = fill(bufs[i], sizeof(bufs[i]), arg);
				iov[i] = (struct iovec){bufs[i], *wire};
				mm[i] = (struct mmsghdr){
					.msg_hdr = {.msg_iov = &iov[i],
						    .msg_iovlen = 1}};
			}
			int n = sendmmsg(fd, mm, BATCH, 0);
			if (n > 0)
				sent += n;
		}
	}
	return sent;
}

struct relay_fill {
	struct tf_comms_session *s;
	uint8_t pt[1400];
	size_t ptlen;
};

static size_t fill_relay(uint8_t *out, size_t cap, void *arg)
{
	struct relay_fill *f = arg;
	int n = tf_comms_encrypt(f->s, f->pt, f->ptlen, out, cap);

	if (n < 0)
		die("encrypt", n);
	return (size_t)n;
}

static size_t fill_bare(uint8_t *out, size_t cap, void *arg)
{
	size_t wire = *(size_t *)arg;

	memset(out, 'D', wire);
	return wire;
}

/* the namespace's UDP OutDatagrams (/proc/net/snmp): the forwarder's
 * output is what was sent in the window minus what we sent */
static long udp_out(void)
{
	char line[1024], hdr[1024] = "";
	FILE *f = fopen("/proc/net/snmp", "r");
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Udp: ", 5) != 0)
			continue;
		if (hdr[0] == '\0') {
			memcpy(hdr, line, sizeof(hdr));
			continue;
		}
		/* the value under the "OutDatagrams" header */
		int col = 0, want = -1;
		for (char *t = strtok(hdr, " \n"); t; t = strtok(NULL, " \n"))
			if (col++, !strcmp(t, "OutDatagrams"))
				want = col;
		col = 0;
		for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
			if (++col == want)
				v = atol(t);
		break;
	}
	fclose(f);
	return v;
}

/* utime + stime of the forwarder (all its threads), in seconds */
static double fwd_cpu(void)
{
	const char *pid = getenv("TF_FWD_PID");
	char path[64], b[2048], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	if (pid == NULL)
		return 0;
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(b, sizeof(b), f) && (p = strrchr(b, ')')) != NULL)
		(void)sscanf(p + 2,
			     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			     "%*u %lu %lu",
			     &ut, &st);
	fclose(f);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long out0;
static double cpu0;

static void window_start(void)
{
	out0 = udp_out();
	cpu0 = fwd_cpu();
}

static void report(long sent, size_t wire, double secs, const int *rx, int nrx)
{
	long got = 0, fwd;
	double cpu;

	usleep(200000); /* the forwarder empties its queue */
	fwd = udp_out() - out0 - sent;
	cpu = fwd_cpu() - cpu0;
	for (int i = 0; i < nrx; i++)
		got += drain(rx[i]);
	printf("sent %ld wire %zu seconds %.3f received %ld forwarded %ld "
	       "fwd_cpu %.2f\n",
	       sent, wire, secs, got, fwd, cpu);
}

int main(int argc, char **argv)
{
	int rx[MAX_RX], nrx = 0, tx;
	double secs, t0;
	size_t wire = 0;
	long sent;

	if (argc >= 2 && !strcmp(argv[1], "relay") && argc >= 12 &&
	    (argc - 10) % 2 == 0) {
		const struct tf_suite *suite = tf_suite_by_name(argv[2]);
		uint8_t pb[TF_PUBFILE_MAX];
		struct tf_pubfile pub;
		struct relay_fill f;
		const char *officer = argv[5];
		size_t body = (size_t)atoi(argv[7]), pl;

		if (suite == NULL || tf_crypto_init() < 0)
			die("suite", EINVAL);
		dst = (struct sockaddr_in){
			.sin_family = AF_INET,
			.sin_port = htons((uint16_t)atoi(argv[3]))};
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		pl = slurp(argv[4], pb, sizeof(pb));
		if (tf_pubfile_parse(pb, pl, &pub) < 0 || pub.dh_pk_len == 0)
			die(argv[4], EINVAL);
		secs = atof(argv[6]);
		for (int i = 10; i + 1 < argc && nrx < MAX_RX; i += 2) {
			rx[nrx] = udp_sock();
			struct tf_comms_session *s = connect_dev(
				rx[nrx], suite->id, pub.dh_pk, argv[i],
				argv[i + 1], 0x100u + (uint32_t)nrx);
			(void)s; /* receivers only count datagrams */
			nrx++;
		}
		tx = udp_sock();
		f.s = connect_dev(tx, suite->id, pub.dh_pk, argv[8], argv[9],
				  0x1u);
		if (strlen(officer) > 64 || body + 2 + strlen(officer) > 1400)
			die("body", EINVAL);
		f.pt[0] = 0x10; /* FWD */
		f.pt[1] = (uint8_t)strlen(officer);
		memcpy(f.pt + 2, officer, f.pt[1]);
		memset(f.pt + 2 + f.pt[1], 0x5a, body);
		f.ptlen = 2 + f.pt[1] + body;
		printf("go\n");
		fflush(stdout);
		window_start();
		t0 = now_s();
		sent = blast(tx, secs, fill_relay, &f, &wire);
		report(sent, wire, now_s() - t0, rx, nrx);
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "bare")) {
		size_t w = (size_t)atoi(argv[4]);

		dst = (struct sockaddr_in){
			.sin_family = AF_INET,
			.sin_port = htons((uint16_t)atoi(argv[2]))};
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		secs = atof(argv[3]);
		nrx = atoi(argv[5]);
		if (nrx < 1 || nrx > MAX_RX || w < 1 || w > 1400)
			die("arguments", EINVAL);
		for (int i = 0; i < nrx; i++) {
			rx[i] = udp_sock();
			if (send(rx[i], "R", 1, 0) < 0)
				die("register", errno);
		}
		tx = udp_sock();
		usleep(100000);
		printf("go\n");
		fflush(stdout);
		window_start();
		t0 = now_s();
		sent = blast(tx, secs, fill_bare, &w, &wire);
		report(sent, wire, now_s() - t0, rx, nrx);
		return 0;
	}
	fprintf(stderr, "usage: see the head of bench/comms/comms_load.c\n");
	return 2;
}
