/* SPDX-License-Identifier: ISC */
/* Framing of messages over SOCK_SEQPACKET, with SCM_RIGHTS on the header. */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "twofold/ipc.h"

void tf_cmsg_put_fds(struct msghdr *mh, void *buf, const int *fds, size_t n)
{
	struct cmsghdr *c;

	memset(buf, 0, CMSG_SPACE(sizeof(int) * n));
	mh->msg_control = buf;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * n);
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
}

int tf_cmsg_take_fds(struct msghdr *mh, int *fds, size_t max, size_t *n)
{
	int err = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*n < max) {
				fds[(*n)++] = fd;
			} else {
				close(fd);
				err = -EPROTO;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		err = -EPROTO;
	return err;
}

int tf_msg_send(int sock, const struct tf_msgbuf *b, const int *fds,
		size_t nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * TF_MSG_FDS_MAX)];
	} ctl;
	size_t off = 0;

	if (b->err)
		return b->err;
	if (nfds > TF_MSG_FDS_MAX)
		return -EINVAL;
	while (off < b->len) {
		size_t chunk = TF_MIN(b->len - off, (size_t)TF_FRAG_MAX);
		struct iovec iov = {.iov_base = b->data + off,
				    .iov_len = chunk};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;

		if (off == 0 && nfds > 0)
			tf_cmsg_put_fds(&mh, ctl.buf, fds, nfds);
		do
			n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return tf_negerrno();
		if ((size_t)n != chunk)
			return -EIO; /* SEQPACKET sends whole records */
		off += chunk;
	}
	return 0;
}

void tf_msg_reader_init(struct tf_msg_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	for (size_t i = 0; i < TF_MSG_FDS_MAX; i++)
		r->fds[i] = -1;
}

void tf_msg_reader_reset(struct tf_msg_reader *r)
{
	size_t max = r->max;
	bool want = r->want_creds;
	uint8_t *sbuf = r->sbuf;

	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	/* a request may carry a credential (take_secret wipes its copy in
	 * place, but not every handler runs): no secret in freed heap */
	if (r->buf)
		tf_memzero(r->buf, r->total);
	if (!r->secure)
		free(r->buf);
	tf_msg_reader_init(r, max);
	r->want_creds = want;
	r->sbuf = sbuf;
}

/* One datagram's sender credentials: the first sets them, every later one
 * must carry the same uid and pid, or the message is not creds_ok. */
static void take_creds(struct tf_msg_reader *r, const struct cmsghdr *c,
		       bool first, bool *seen)
{
	struct ucred uc;

	if (c->cmsg_len != CMSG_LEN(sizeof(uc)))
		return;
	memcpy(&uc, CMSG_DATA(c), sizeof(uc));
	*seen = true;
	if (first) {
		r->cred_uid = uc.uid;
		r->cred_pid = uc.pid;
		r->creds_ok = true;
	} else if (uc.uid != r->cred_uid || uc.pid != r->cred_pid) {
		r->creds_ok = false;
	}
}

static void take_fds(struct tf_msg_reader *r, struct msghdr *mh, bool first,
		     bool *bad)
{
	bool seen = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS)
			take_creds(r, c, first, &seen);
	/* fds only on the first datagram, at most TF_MSG_FDS_MAX */
	if (tf_cmsg_take_fds(mh, r->fds, first ? TF_MSG_FDS_MAX : 0, &r->nfds) <
	    0)
		*bad = true;
	/* a datagram without credentials: nobody vouches for it */
	if (r->want_creds && !seen)
		r->creds_ok = false;
}

static int reader_step(int sock, struct tf_msg_reader *r, uint8_t *hdr,
		       size_t hdr_len, size_t *got)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * (TF_MSG_FDS_MAX + 1)) +
			 CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov;
	struct msghdr mh;
	bool first = r->buf == NULL, bad = false;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	if (first) {
		iov.iov_base = r->sbuf ? r->sbuf : hdr;
		iov.iov_len = hdr_len;
	} else {
		iov.iov_base = r->buf + r->have;
		iov.iov_len = r->total - r->have;
	}
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : tf_negerrno();
	if (first) {
		if (r->sbuf)
			hdr = r->sbuf;
		*got = TF_MIN((size_t)n, hdr_len);
	}
	take_fds(r, &mh, first, &bad);
	if (n == 0)
		return -ECONNRESET;
	if (bad || (mh.msg_flags & MSG_TRUNC))
		return -EBADMSG;
	if (first) {
		uint32_t body;
		size_t total;

		/* the magic and version first: a stray client's bytes are
		 * "malformed", not a (huge) length */
		if ((size_t)n < TF_MSG_HDR_BYTES ||
		    (hdr[0] | (hdr[1] << 8)) != TF_PROTO_MAGIC)
			return -EBADMSG;
		if (hdr[2] != TF_PROTO_VERSION)
			return -EPROTONOSUPPORT;
		body = tf_get_le32(hdr + 8);
		total = (size_t)body + TF_MSG_HDR_BYTES;
		if (body > r->max || total > r->max)
			return -EMSGSIZE;
		if ((size_t)n > total)
			return -EBADMSG;
		if (r->sbuf && (size_t)n == total) {
			/* the whole message: it stays in secure memory */
			r->buf = r->sbuf;
			r->secure = true;
			*got = 0; /* not to be wiped yet: it is the message */
			r->total = total;
			r->have = (size_t)n;
			return 1;
		}
		r->buf = malloc(total ? total : 1);
		if (r->buf == NULL)
			return -ENOMEM;
		memcpy(r->buf, hdr, (size_t)n);
		r->total = total;
		r->have = (size_t)n;
	} else {
		r->have += (size_t)n;
	}
	return r->have == r->total ? 1 : 0;
}

int tf_msg_reader_step(int sock, struct tf_msg_reader *r)
{
	uint8_t hdr[TF_FRAG_MAX];
	size_t got = 0;
	int rc = reader_step(sock, r, hdr, sizeof(hdr), &got);

	/* The first datagram lands here (or in r->sbuf): an unlock request
	 * carries the PIN. Wipe what was received unless it is the message
	 * itself (only that: keep it cheap). */
	tf_memzero(r->sbuf ? r->sbuf : hdr, got);
	return rc;
}

int tf_msg_recv(int sock, struct tf_msg_reader *r)
{
	for (;;) {
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		int rc = tf_msg_reader_step(sock, r);

		if (rc != 0)
			return rc;
		/* wait for the next datagram without busy-looping */
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return tf_negerrno();
	}
}
