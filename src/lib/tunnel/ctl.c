/* SPDX-License-Identifier: ISC */
/*
 * Control channel helpers (ctl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "ctl.h"
#include "twofold/suite.h"

int tf_tunctl_config_check(const struct tf_tunctl_config *c, size_t len,
			   size_t nfds, char *why, size_t whycap)
{
	const char *w = NULL;

	if (len != sizeof(*c))
		w = "CONFIG of the wrong size";
	else if (c->type != TF_TUNCTL_CONFIG)
		w = "first message is not CONFIG";
	else if (c->version != TF_TUNCTL_VERSION)
		w = "CONFIG of another protocol version";
	else if (c->suite != TF_SUITE_INTL && c->suite != TF_SUITE_GM)
		w = "CONFIG names an unknown suite";
	else if (c->peer_pub_len != (c->suite == TF_SUITE_INTL ? 32 : 65))
		w = "peer key of the wrong length for the suite";
	else if (c->n_tun < 1 || c->n_tun > TF_TUNCTL_MAX_QUEUES)
		w = "CONFIG with no or too many TUN queues";
	else if (nfds != (size_t)c->n_tun + 1)
		w = "CONFIG without one fd per TUN queue plus the UDP socket";
	else if (c->mtu < 1280 || c->mtu > 9000)
		w = "MTU outside 1280..9000";
	else if (c->has_psk > 1)
		w = "CONFIG with a bad has_psk";
	else if (c->uid == 0 || c->gid == 0)
		w = "CONFIG asks to stay root";
	else if (c->endpoint.ss_family != AF_INET &&
		 c->endpoint.ss_family != AF_INET6)
		w = "CONFIG without an endpoint address";
	else if (memchr(c->persona, 0, sizeof(c->persona)) == NULL)
		w = "CONFIG with an unterminated persona name";
	if (w) {
		snprintf(why, whycap, "%s", w);
		return -EINVAL;
	}
	return 0;
}

int tf_tunctl_recv_config(int ctl, struct tf_tunctl_config *c, int *fds,
			  size_t *nfds, char *why, size_t whycap)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * (TF_TUNCTL_MAX_QUEUES + 1))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = {.iov_base = c, .iov_len = sizeof(*c)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cm.buf,
			    .msg_controllen = sizeof(cm.buf)};
	ssize_t n;
	size_t got = 0;

	do
		n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return tf_negerrno();
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h;
	     h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(fd));
			if (got < TF_TUNCTL_MAX_QUEUES + 1)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0) {
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		snprintf(why, whycap, "control channel closed before CONFIG");
		return -EIO;
	}
	int r = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			? (snprintf(why, whycap, "CONFIG truncated"), -EINVAL)
			: tf_tunctl_config_check(c, (size_t)n, got, why,
						 whycap);
	if (r < 0) {
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		sodium_memzero(c, sizeof(*c));
		return r;
	}
	*nfds = got;
	return 0;
}

int tf_tunctl_req_check(const void *msg, size_t len)
{
	uint32_t h[2];

	if (len != sizeof(h))
		return -EINVAL;
	memcpy(h, msg, sizeof(h));
	return h[0] == TF_TUNCTL_STATUS_REQ && h[1] == TF_TUNCTL_VERSION
		       ? 0
		       : -EINVAL;
}
