/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay's TCP fallback (relay.h, docs/comms-protocol.md "TCP
 * framing"): for networks that drop UDP, the same channel datagrams over
 * TCP on the same port number, each framed by a big-endian u16 length.
 * Nothing else changes: the connection id still names the flow, so a
 * device may move between UDP and TCP and keep its session.
 *
 * Hostile clients: at most max_tcp connections (more are closed at once);
 * a frame longer than a datagram closes the connection; a connection
 * that has not authenticated within RELAY_TCP_DEADLINE_S, or leaves a
 * frame half-sent that long (slowloris), or is silent for the idle
 * timeout, is shut down; output is a bounded buffer per connection and
 * every write is non-blocking, so a slow consumer only loses its own
 * frames.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "relay.h"

static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void relay_tcp_init(struct relay *r)
{
	pthread_mutex_init(&r->tcp_mu, NULL);
	for (size_t i = 0; i < RELAY_TCP_MAX; i++) {
		pthread_mutex_init(&r->tcp[i].mu, NULL);
		r->tcp[i].fd = -1;
	}
}

static void arm(struct tconn *c, int32_t i, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP |
					   (out ? EPOLLOUT : 0),
				 .data.u64 = RELAY_TAG_CONN | (uint32_t)i};

	if (c->want_out != out &&
	    epoll_ctl(c->owner->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = out;
}

void relay_tcp_accept(struct worker *w)
{
	struct relay *r = w->r;

	for (;;) {
		int fd = accept4(w->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		int32_t slot = -1;
		if (fd < 0)
			return; /* EAGAIN, or a connection reset meanwhile */
		pthread_mutex_lock(&r->tcp_mu);
		if (r->ntcp < r->max_tcp) {
			for (int32_t i = 0; i < RELAY_TCP_MAX; i++) {
				if (!r->tcp[i].busy) {
					r->tcp[i].busy = true;
					slot = i;
					break;
				}
			}
		}
		if (slot >= 0)
			r->ntcp++;
		pthread_mutex_unlock(&r->tcp_mu);
		if (slot < 0) {
			logv(r, "TCP connection cap (%u) reached: refused",
			     r->max_tcp);
			close(fd);
			continue;
		}
		struct tconn *c = &r->tcp[slot];
		uint8_t *out = malloc(RELAY_TCP_OUT);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
					 .data.u64 = RELAY_TAG_CONN |
						     (uint32_t)slot};
		pthread_mutex_lock(&c->mu);
		c->fd = fd;
		c->owner = w;
		c->out = out;
		c->out_len = 0;
		c->in_len = 0;
		c->want_out = false;
		atomic_store(&c->opened, mono());
		atomic_store(&c->last_rx, mono());
		atomic_store(&c->partial_since, 0);
		atomic_store(&c->authed, false);
		bool bad = out == NULL ||
			   epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0;
		pthread_mutex_unlock(&c->mu);
		if (bad) {
			relay_tcp_event(w, slot, EPOLLHUP); /* closes */
			continue;
		}
	}
}

static void conn_close(struct worker *w, int32_t i)
{
	struct relay *r = w->r;
	struct tconn *c = &r->tcp[i];

	pthread_mutex_lock(&c->mu);
	if (c->fd >= 0) {
		(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
		c->gen++; /* sessions still naming it: their frames drop */
		free(c->out);
		c->out = NULL;
		c->out_len = 0;
		pthread_mutex_lock(&r->tcp_mu);
		c->busy = false;
		r->ntcp--;
		pthread_mutex_unlock(&r->tcp_mu);
	}
	pthread_mutex_unlock(&c->mu);
}

/* c->mu held: write what is queued; false when the connection broke */
static bool flush_out(struct tconn *c, int32_t i)
{
	while (c->out_len > 0) {
		ssize_t n = send(c->fd, c->out, c->out_len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return false;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	arm(c, i, c->out_len > 0);
	return true;
}

int relay_tcp_send(struct relay *r, int32_t i, uint32_t gen, const uint8_t *p,
		   size_t len)
{
	struct tconn *c;
	int e = 0;

	if (i < 0 || i >= RELAY_TCP_MAX || len == 0 || len > 0xffff)
		return -EINVAL;
	c = &r->tcp[i];
	pthread_mutex_lock(&c->mu);
	if (c->fd < 0 || c->gen != gen) {
		e = -ENOTCONN;
	} else if (c->out_len + 2 + len > RELAY_TCP_OUT) {
		/* a whole frame or nothing: the stream stays framed */
		e = -EAGAIN;
	} else {
		c->out[c->out_len] = (uint8_t)(len >> 8);
		c->out[c->out_len + 1] = (uint8_t)len;
		memcpy(c->out + c->out_len + 2, p, len);
		c->out_len += 2 + len;
		if (!flush_out(c, i))
			(void)shutdown(c->fd, SHUT_RDWR); /* owner closes */
	}
	pthread_mutex_unlock(&c->mu);
	return e;
}

struct frame_arg {
	struct worker *w;
	const struct path *from;
};

static void on_frame(void *arg, const uint8_t *frame, size_t n)
{
	const struct frame_arg *a = arg;

	relay_on_datagram(a->w, frame, n, a->from);
}

/* The owner reads: frames go to relay_on_datagram as they complete. */
static bool conn_read(struct worker *w, int32_t i)
{
	struct tconn *c = &w->r->tcp[i];
	struct path from = {.tcp = i};

	pthread_mutex_lock(&c->mu);
	from.gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len,
				 sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false; /* closed, reset */
		c->in_len += (size_t)n;
		atomic_store(&c->last_rx, mono());
		struct frame_arg a = {w, &from};
		ssize_t off = relay_frames_split(c->in, c->in_len,
						 RELAY_DGRAM_MAX, on_frame, &a);
		if (off < 0)
			return false; /* not our framing */
		memmove(c->in, c->in + off, c->in_len - (size_t)off);
		c->in_len -= (size_t)off;
		atomic_store(&c->partial_since, c->in_len ? mono() : 0);
		/* the SENDs of this read share one commit */
		relay_gc_flush(w);
		relay_flush(w);
	}
}

void relay_tcp_event(struct worker *w, int32_t i, uint32_t events)
{
	struct tconn *c = &w->r->tcp[i];
	bool ok = true;

	if (events & EPOLLOUT) {
		pthread_mutex_lock(&c->mu);
		ok = c->fd >= 0 && flush_out(c, i);
		pthread_mutex_unlock(&c->mu);
	}
	if (ok && (events & (EPOLLIN | EPOLLRDHUP)))
		ok = conn_read(w, i);
	if (!ok || (events & (EPOLLHUP | EPOLLERR)))
		conn_close(w, i);
}

void relay_tcp_housekeep(struct relay *r, int64_t now)
{
	for (int32_t i = 0; i < RELAY_TCP_MAX; i++) {
		struct tconn *c = &r->tcp[i];
		int64_t ps = atomic_load(&c->partial_since);
		bool late;

		pthread_mutex_lock(&c->mu);
		late = c->fd >= 0 &&
		       ((!atomic_load(&c->authed) &&
			 now - atomic_load(&c->opened) >
				 RELAY_TCP_DEADLINE_S) ||
			(ps && now - ps > RELAY_TCP_DEADLINE_S) ||
			now - atomic_load(&c->last_rx) > r->idle_s);
		/* the owner sees the shutdown as end of stream and closes */
		if (late)
			(void)shutdown(c->fd, SHUT_RDWR);
		pthread_mutex_unlock(&c->mu);
		if (late)
			logv(r, "TCP connection %d past its deadline: closed",
			     i);
	}
}

void relay_tcp_close_all(struct relay *r)
{
	for (int32_t i = 0; i < RELAY_TCP_MAX; i++) {
		if (r->tcp[i].fd >= 0) {
			close(r->tcp[i].fd);
			free(r->tcp[i].out);
			r->tcp[i].fd = -1;
		}
	}
}
