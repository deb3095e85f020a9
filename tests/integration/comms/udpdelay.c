/* SPDX-License-Identifier: ISC */
/*
 * udpdelay: a UDP proxy that adds a fixed one-way delay in each direction
 * (the kernel here has no sch_netem, FACTS.md). Test tool only.
 *
 *   udpdelay [-j JITTER_MS] [-s SPIKE_MS] LISTEN_IP:PORT TARGET_IP:PORT
 *            DELAY_MS [BACK_DELAY_MS]
 *
 * Each client address gets its own upstream socket connected to the
 * target, so the server sees one distinct source per client (the relay
 * keys sessions on it) and replies find their way back. Packets wait in
 * one FIFO per direction: the delay is fixed, so release times are
 * monotonic within each and order is kept. With -j each datagram gets its
 * own delay, uniform in DELAY +- JITTER_MS (at least 0): datagrams then
 * overtake each other (a jittery radio link reorders); the queue is then
 * searched for due packets instead of read in order. With -s each
 * SIGUSR1 stalls the link for SPIKE_MS: nothing is delivered in either
 * direction until then, and what came meanwhile follows in a burst (a
 * delay spike: a radio fade, a handover). PORT 0 picks a free port; the bound port is printed as
 * "udpdelay: listening on PORT" on stdout once ready. SIGTERM/SIGINT end
 * it; it never sends anywhere but the target and the clients it heard.
 */
#include <stdbool.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_PKT 2048
#define QUEUE_LEN 8192 /* packets in flight: ~1.6 s of 5k packets/s */

struct client {
	struct sockaddr_in addr;
	int up; /* connected to the target */
};

struct pkt {
	uint64_t due_us;
	int fd;			 /* send on */
	struct sockaddr_in dest; /* for the listening socket; unused for up */
	bool to_client;
	uint16_t len;
	uint8_t data[MAX_PKT];
};

static struct client clients[MAX_CLIENTS];
static size_t nclients;
struct fifo {
	struct pkt *p;
	size_t head, len;
};

static struct fifo fifos[2]; /* 0 towards the target, 1 back */
static uint64_t jitter_us;   /* -j: per-datagram delay spread */
static uint64_t spike_us;    /* -s: a stall's length */
static uint64_t hold_until;  /* nothing leaves before this */
static volatile sig_atomic_t stop, spike;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	spike = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static struct client *client_for(const struct sockaddr_in *from,
				 const struct sockaddr_in *target)
{
	for (size_t i = 0; i < nclients; i++)
		if (clients[i].addr.sin_port == from->sin_port &&
		    clients[i].addr.sin_addr.s_addr == from->sin_addr.s_addr)
			return &clients[i];
	if (nclients == MAX_CLIENTS)
		return NULL;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (const struct sockaddr *)target, sizeof(*target)) < 0) {
		close(fd);
		return NULL;
	}
	clients[nclients].addr = *from;
	clients[nclients].up = fd;
	return &clients[nclients++];
}

/* uniform in [-jitter, +jitter] (xorshift; a test tool, not crypto) */
static int64_t jitter(void)
{
	static uint64_t x;

	if (!x)
		x = now_us() ^ ((uint64_t)getpid() << 32) ^
		    0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (int64_t)(x % (2 * jitter_us + 1)) - (int64_t)jitter_us;
}

static void enqueue(uint64_t due, int fd, const struct sockaddr_in *dest,
		    bool to_client, const uint8_t *data, size_t len)
{
	struct fifo *q = &fifos[to_client];
	struct pkt *p;

	if (q->len == QUEUE_LEN)
		return; /* full: drop, as a congested link would */
	if (jitter_us) {
		int64_t d = (int64_t)due + jitter();
		uint64_t t = now_us();
		due = d < (int64_t)t ? t : (uint64_t)d;
	}
	p = &q->p[(q->head + q->len) % QUEUE_LEN];
	p->due_us = due;
	p->fd = fd;
	if (dest)
		p->dest = *dest;
	p->to_client = to_client;
	p->len = (uint16_t)len;
	memcpy(p->data, data, len);
	q->len++;
}

static void send_pkt(const struct pkt *p)
{
	if (p->to_client)
		(void)sendto(p->fd, p->data, p->len, 0,
			     (const struct sockaddr *)&p->dest,
			     sizeof(p->dest));
	else
		(void)send(p->fd, p->data, p->len, 0);
}

/* -j: release times are not in queue order; send every due one, the
 * last queued packet filling each hole (order among the waiting ones
 * does not matter: each carries its own time) */
static void flush_due_any(struct fifo *q)
{
	uint64_t t = now_us();

	for (size_t i = 0; i < q->len;) {
		struct pkt *p = &q->p[(q->head + i) % QUEUE_LEN];

		if (p->due_us > t) {
			i++;
			continue;
		}
		send_pkt(p);
		q->len--;
		if (i != q->len)
			*p = q->p[(q->head + q->len) % QUEUE_LEN];
	}
}

static void flush_due(struct fifo *q)
{
	uint64_t t = now_us();

	if (t < hold_until)
		return; /* a stall (-s) */
	if (jitter_us) {
		flush_due_any(q);
		return;
	}

	while (q->len > 0 && q->p[q->head].due_us <= t) {
		send_pkt(&q->p[q->head]);
		q->head = (q->head + 1) % QUEUE_LEN;
		q->len--;
	}
}

/* ms until the earliest due packet, -1 if none */
static int next_timeout(void)
{
	uint64_t t = now_us(), best = UINT64_MAX;

	for (int i = 0; i < 2; i++) {
		/* in order: the head is the earliest; with -j, any one */
		size_t n = jitter_us ? fifos[i].len : fifos[i].len > 0;
		for (size_t j = 0; j < n; j++) {
			const struct pkt *p =
				&fifos[i].p[(fifos[i].head + j) % QUEUE_LEN];
			if (p->due_us < best)
				best = p->due_us;
		}
	}
	if (best == UINT64_MAX)
		return -1;
	if (best < hold_until)
		best = hold_until;
	return best <= t ? 0 : (int)((best - t + 999) / 1000);
}

int main(int argc, char **argv)
{
	struct sockaddr_in listen_a, target;
	struct pollfd pfd[MAX_CLIENTS + 1];
	uint64_t fwd_us, back_us;
	uint8_t buf[MAX_PKT];
	socklen_t sl;
	int lfd;

	while (argc > 2 && (!strcmp(argv[1], "-j") || !strcmp(argv[1], "-s"))) {
		uint64_t v = (uint64_t)strtoull(argv[2], NULL, 10) * 1000u;

		if (argv[1][1] == 'j')
			jitter_us = v;
		else
			spike_us = v;
		argc -= 2;
		argv += 2;
	}
	if (argc < 4 || argc > 5 || parse_addr(argv[1], &listen_a) < 0 ||
	    parse_addr(argv[2], &target) < 0) {
		fprintf(stderr, "usage: udpdelay [-j JITTER_MS] [-s SPIKE_MS] "
				"LISTEN_IP:PORT TARGET_IP:PORT DELAY_MS "
				"[BACK_DELAY_MS]\n");
		return 2;
	}
	fwd_us = (uint64_t)strtoull(argv[3], NULL, 10) * 1000u;
	back_us = argc == 5 ? (uint64_t)strtoull(argv[4], NULL, 10) * 1000u
			    : fwd_us;
	fifos[0].p = calloc(QUEUE_LEN, sizeof(struct pkt));
	fifos[1].p = calloc(QUEUE_LEN, sizeof(struct pkt));
	if (!fifos[0].p || !fifos[1].p)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGUSR1, on_usr1);
	lfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (const struct sockaddr *)&listen_a,
			    sizeof(listen_a)) < 0) {
		fprintf(stderr, "udpdelay: bind %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	sl = sizeof(listen_a);
	getsockname(lfd, (struct sockaddr *)&listen_a, &sl);
	printf("udpdelay: listening on %u\n", ntohs(listen_a.sin_port));
	fflush(stdout);

	while (!stop) {
		int timeout;
		size_t n = 0;

		if (spike) {
			spike = 0;
			hold_until = now_us() + spike_us;
			printf("udpdelay: stalled for %llu ms\n",
			       (unsigned long long)(spike_us / 1000));
			fflush(stdout);
		}
		timeout = next_timeout();
		pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (size_t i = 0; i < nclients; i++)
			pfd[n++] = (struct pollfd){.fd = clients[i].up,
						   .events = POLLIN};
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			return 1;
		/* client -> target */
		for (;;) {
			struct sockaddr_in from;
			struct client *c;
			ssize_t r;

			sl = sizeof(from);
			r = recvfrom(lfd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &sl);
			if (r < 0)
				break;
			c = client_for(&from, &target);
			if (c)
				enqueue(now_us() + fwd_us, c->up, NULL, false,
					buf, (size_t)r);
		}
		/* target -> client */
		for (size_t i = 0; i < nclients; i++) {
			ssize_t r;

			while ((r = recv(clients[i].up, buf, sizeof(buf), 0)) >=
			       0)
				enqueue(now_us() + back_us, lfd,
					&clients[i].addr, true, buf, (size_t)r);
		}
		flush_due(&fifos[0]);
		flush_due(&fifos[1]);
	}
	for (size_t i = 0; i < nclients; i++)
		close(clients[i].up);
	close(lfd);
	free(fifos[0].p);
	free(fifos[1].p);
	return 0;
}
