/* SPDX-License-Identifier: ISC */
/*
 * Test-only stand-in for twofoldd's tunnel set-up (issue 12): in the
 * network namespace it runs in, create TUN IFNAME (multi-queue, vnet
 * header), its address and routes, a UDP socket connected to the
 * endpoint, then fork the tunnel process (tf_tunnel_main) and hand it
 * CONFIG with the fds over a SOCK_SEQPACKET pair, as the daemon does.
 *
 *   tunharness --suite intl|gm --key PRIVFILE --peer BASE64PUB
 *              --endpoint ADDR:PORT --address CIDR [--route CIDR]...
 *              [--ifname tun0] [--mtu 1420] [--keepalive 25]
 *              [--queues N] [--uid 65534] [--listen-port N]
 *              [--vnet 0|1]
 *
 * Prints one line per STATUS received ("status up handshakes=1 ...:
 * reason") on stdout (line-buffered). SIGUSR1 sends a STATUS_REQ; SIGTERM
 * closes the control channel (the tunnel process exits) and waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <sodium.h>

#include "twofold/net.h"
#include "twofold/suite.h"
#include "twofold/tunnel.h"

static void die(const char *m, int r)
{
	fprintf(stderr, "tunharness: %s: %s\n", m, strerror(r < 0 ? -r : r));
	exit(1);
}

static void b64(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	if (sodium_base642bin(out, cap, s, strlen(s), " \n", len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		die("bad base64", EINVAL);
}

int main(int argc, char **argv)
{
	static struct tf_tunctl_config c;
	const char *ifname = "tun0", *keyfile = NULL, *peer = NULL;
	struct tf_cidr addr[2], routes[8];
	unsigned n_addr = 0, n_routes = 0, nq = 2, lport = 0;
	unsigned tflags = TF_TUN_VNET_HDR;
	socklen_t eplen = 0;
	int r;

	c.type = TF_TUNCTL_CONFIG;
	c.version = TF_TUNCTL_VERSION;
	c.mtu = 1420;
	c.keepalive_s = 25;
	c.uid = c.gid = 65534;
	snprintf(c.persona, sizeof(c.persona), "secure");
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--suite"))
			c.suite =
				!strcmp(v, "gm") ? TF_SUITE_GM : TF_SUITE_INTL;
		else if (!strcmp(k, "--key"))
			keyfile = v;
		else if (!strcmp(k, "--peer"))
			peer = v;
		else if (!strcmp(k, "--endpoint")) {
			if (tf_sockaddr_parse(v, &c.endpoint, &eplen) < 0)
				die("bad --endpoint", EINVAL);
		} else if (!strcmp(k, "--address") && n_addr < 2) {
			if (tf_cidr_parse(v, false, &addr[n_addr++]) < 0)
				die("bad --address", EINVAL);
		} else if (!strcmp(k, "--route") && n_routes < 8) {
			if (tf_cidr_parse(v, true, &routes[n_routes++]) < 0)
				die("bad --route", EINVAL);
		} else if (!strcmp(k, "--ifname"))
			ifname = v;
		else if (!strcmp(k, "--mtu"))
			c.mtu = (uint16_t)atoi(v);
		else if (!strcmp(k, "--keepalive"))
			c.keepalive_s = (uint16_t)atoi(v);
		else if (!strcmp(k, "--queues"))
			nq = (unsigned)atoi(v);
		else if (!strcmp(k, "--vnet"))
			tflags = atoi(v) ? TF_TUN_VNET_HDR : 0;
		else if (!strcmp(k, "--listen-port"))
			lport = (unsigned)atoi(v);
		else if (!strcmp(k, "--uid"))
			c.uid = c.gid = (uint32_t)atoi(v);
		else
			die(k, EINVAL);
	}
	if (!keyfile || !peer || !eplen || !c.suite || nq < 1 || nq > 8)
		die("usage: see the source", EINVAL);
	if (sodium_init() < 0)
		die("sodium_init", EIO);
	char kt[128] = {0};
	FILE *kf = fopen(keyfile, "re");
	if (!kf || !fgets(kt, sizeof(kt), kf))
		die("cannot read --key", errno);
	fclose(kf);
	size_t kl = 0, pl = 0;
	b64(kt, c.local_priv, sizeof(c.local_priv), &kl);
	sodium_memzero(kt, sizeof(kt));
	b64(peer, c.peer_pub, sizeof(c.peer_pub), &pl);
	c.peer_pub_len = (uint16_t)pl;

	int fds[TF_TUNCTL_MAX_QUEUES + 1];
	unsigned fl = 0;
	r = tf_net_tun_create(-1, ifname, nq, tflags, fds, &fl);
	if (r < 0)
		die("tun create", r);
	c.n_tun = (uint8_t)nq;
	if (fl & TF_TUN_VNET_HDR)
		c.flags |= TF_TUNCTL_F_VNET_HDR;
	if ((r = tf_net_link_up(-1, ifname, c.mtu)) < 0)
		die("link up", r);
	for (unsigned i = 0; i < n_addr; i++)
		if ((r = tf_net_addr_add(-1, ifname, &addr[i])) < 0)
			die("addr add", r);
	for (unsigned i = 0; i < n_routes; i++)
		if ((r = tf_net_route_add(-1, ifname, &routes[i], NULL)) < 0)
			die("route add", r);
	int udp = socket(c.endpoint.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (udp >= 0 && lport) {
		struct sockaddr_storage la = {0};
		la.ss_family = c.endpoint.ss_family;
		/* the port sits at the same offset in sin and sin6 */
		((struct sockaddr_in *)&la)->sin_port = htons((uint16_t)lport);
		if (bind(udp, (struct sockaddr *)&la, eplen) < 0)
			die("bind --listen-port", errno);
	}
	if (udp < 0 || connect(udp, (struct sockaddr *)&c.endpoint, eplen) < 0)
		die("udp socket", errno);
	int sz = 4 << 20;
	setsockopt(udp, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	setsockopt(udp, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	fds[nq] = udp;

	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		die("socketpair", errno);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &ss, NULL);
		close(sp[0]);
		for (unsigned i = 0; i <= nq; i++)
			close(fds[i]);
		sodium_memzero(&c, sizeof(c));
		tf_tunnel_main(sp[1]);
	}
	close(sp[1]);
	union {
		char buf[CMSG_SPACE(sizeof(int) * (TF_TUNCTL_MAX_QUEUES + 1))];
		struct cmsghdr a;
	} cm = {0};
	struct iovec iov = {&c, sizeof(c)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cm.buf,
			    .msg_controllen =
				    CMSG_SPACE(sizeof(int) * (nq + 1))};
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int) * (nq + 1));
	memcpy(CMSG_DATA(h), fds, sizeof(int) * (nq + 1));
	if (sendmsg(sp[0], &mh, 0) < 0)
		die("send CONFIG", errno);
	sodium_memzero(&c, sizeof(c));
	/* the daemon keeps no TUN fd: when the tunnel process dies, the
	 * device and its routes go with it */
	for (unsigned i = 0; i <= nq; i++)
		close(fds[i]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	static const char *names[] = {"down", "handshaking", "up"};
	for (;;) {
		struct pollfd pf[2] = {{sp[0], POLLIN, 0}, {sfd, POLLIN, 0}};
		if (poll(pf, 2, -1) < 0)
			continue;
		if (pf[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGUSR1) {
				uint32_t req[2] = {TF_TUNCTL_STATUS_REQ,
						   TF_TUNCTL_VERSION};
				send(sp[0], req, sizeof(req), MSG_NOSIGNAL);
				continue;
			}
			break;
		}
		if (pf[0].revents) {
			struct tf_tunctl_status s;
			ssize_t n = recv(sp[0], &s, sizeof(s), 0);
			if (n <= 0)
				break;
			if (n != sizeof(s) || s.type != TF_TUNCTL_STATUS)
				continue;
			printf("status %s handshakes=%llu rx=%llu tx=%llu "
			       "rejected=%llu err=%d: %s\n",
			       s.state < 3 ? names[s.state] : "?",
			       (unsigned long long)s.handshakes,
			       (unsigned long long)s.rx_packets,
			       (unsigned long long)s.tx_packets,
			       (unsigned long long)s.rejected, s.last_error,
			       s.reason);
		}
	}
	close(sp[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	printf("tunnel process exited: %d\n",
	       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}
