/* SPDX-License-Identifier: ISC */
/*
 * A stand-in tunnel process body, for tests of the daemon's supervision
 * only (TWOFOLD_FAULT=tunnel-stub, main.c): it speaks the control
 * protocol of twofold/tunnel.h, holds the TUN queues and the UDP socket
 * it is given (so tun0 lives exactly as long as it does), answers every
 * STATUS_REQ with "down", and moves no packet. The real body is
 * tf_tunnel_main() (src/lib/tunnel).
 */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"

static void stub_status(int ctl)
{
	struct tf_tunctl_status st;

	memset(&st, 0, sizeof(st));
	st.type = TF_TUNCTL_STATUS;
	st.version = TF_TUNCTL_VERSION;
	st.state = TF_TUNNEL_DOWN;
	st.last_error = -ENOSYS;
	snprintf(st.reason, sizeof(st.reason),
		 "test stub: no data path (TWOFOLD_FAULT=tunnel-stub)");
	(void)send(ctl, &st, sizeof(st), MSG_NOSIGNAL);
}

void tfd_tunnel_stub_main(int ctl)
{
	static struct tf_tunctl_config cf;
	union {
		char b[CMSG_SPACE(sizeof(int) * (TF_TUNCTL_MAX_QUEUES + 1))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = &cf, .iov_len = sizeof(cf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.b,
			    .msg_controllen = sizeof(cbuf.b)};
	int fds[TF_TUNCTL_MAX_QUEUES + 1];
	size_t nfds = 0;
	ssize_t n;

	n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)sizeof(cf) || cf.type != TF_TUNCTL_CONFIG ||
	    cf.version != TF_TUNCTL_VERSION ||
	    tf_cmsg_take_fds(&mh, fds, TF_ARRAY_SIZE(fds), &nfds) < 0 ||
	    nfds != (size_t)cf.n_tun + 1u)
		_exit(2);
	tf_memzero(cf.local_priv, sizeof(cf.local_priv));
	/* as the real one: the fds taken, nothing else is needed */
	if (setgroups(0, NULL) < 0 || setresgid(cf.gid, cf.gid, cf.gid) < 0 ||
	    setresuid(cf.uid, cf.uid, cf.uid) < 0)
		_exit(3);
	stub_status(ctl);
	for (;;) {
		uint32_t q[2];

		n = recv(ctl, q, sizeof(q), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* the daemon closed its end */
		if (n == (ssize_t)sizeof(q) && q[0] == TF_TUNCTL_STATUS_REQ)
			stub_status(ctl);
	}
}
