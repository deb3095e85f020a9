/* SPDX-License-Identifier: ISC */
/*
 * The anchor of bench/comms/forward.sh: the barest UDP forwarder, the
 * same I/O shape as twofold-relay's worker (epoll, recvmmsg in batches of
 * 32, one sendmmsg per batch for the whole fan-out) with nothing else: no
 * crypto, no session table, no locks. A datagram starting with 'R'
 * registers its sender as a receiver (at most 16); every other one is
 * sent to all receivers.
 *
 *   udp_fwd PORT       (127.0.0.1; prints "ready"; SIGTERM ends it)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define MAX_RX 16

int main(int argc, char **argv)
{
	static uint8_t bufs[BATCH][2048];
	static struct mmsghdr om[BATCH * MAX_RX];
	static struct iovec oiov[BATCH * MAX_RX];
	struct sockaddr_in sa = {.sin_family = AF_INET}, rxa[MAX_RX];
	struct sockaddr_in from[BATCH];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct epoll_event ev = {.events = EPOLLIN};
	int fd, ep, nrx = 0, buf = 4 << 20;

	if (argc != 2)
		return 2;
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udp_fwd: bind");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = fd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("udp_fwd: epoll");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event e;
		if (epoll_wait(ep, &e, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (;;) {
			int got, on = 0;
			for (int k = 0; k < BATCH; k++) {
				iov[k] = (struct iovec){bufs[k],
							sizeof(bufs[k])};
				mm[k].msg_hdr = (struct msghdr){
					.msg_name = &from[k],
					.msg_namelen = sizeof(from[k]),
					.msg_iov = &iov[k],
					.msg_iovlen = 1};
			}
			got = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT, NULL);
			if (got <= 0)
				break;
			for (int k = 0; k < got; k++) {
				if (mm[k].msg_len == 1 && bufs[k][0] == 'R') {
					if (nrx < MAX_RX)
						rxa[nrx++] = from[k];
					continue;
				}
				for (int i = 0; i < nrx; i++) {
					oiov[on] = (struct iovec){
						bufs[k], mm[k].msg_len};
					om[on].msg_hdr = (struct msghdr){
						.msg_name = &rxa[i],
						.msg_namelen = sizeof(rxa[i]),
						.msg_iov = &oiov[on],
						.msg_iovlen = 1};
					on++;
				}
			}
			for (int done = 0; done < on;) {
				int n = sendmmsg(fd, om + done,
						 (unsigned)(on - done),
						 MSG_DONTWAIT);
				if (n <= 0)
					break; /* full: UDP, dropped */
				done += n;
			}
			if (got < BATCH)
				break;
		}
	}
}
