/* SPDX-License-Identifier: ISC */
/* Unit tests: control protocol framing, parser bounds, fd passing. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "twofold/ipc.h"

static void pair(int sv[2])
{
	assert_int_equal(
		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_roundtrip(void **state)
{
	struct tf_msgbuf b;
	struct tf_msg m;
	uint32_t u;
	int32_t i;

	tf_msgbuf_init(&b, TF_REQ_RUN);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, "personal");
	tf_msgbuf_put_str(&b, TF_A_ARG, "sh");
	tf_msgbuf_put_str(&b, TF_A_ARG, "-c");
	tf_msgbuf_put_u32(&b, TF_A_UID, 1000);
	tf_msgbuf_put_i32(&b, TF_A_ERRNO, -2);
	assert_int_equal(tf_msgbuf_finish(&b), 0);
	assert_int_equal(tf_msg_parse(b.data, b.len, &m), 0);
	assert_int_equal(m.type, TF_REQ_RUN);
	assert_string_equal(tf_msg_str(&m, TF_A_PERSONA), "personal");
	assert_int_equal(tf_msg_count(&m, TF_A_ARG), 2);
	assert_int_equal(tf_msg_u32(&m, TF_A_UID, &u), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(tf_msg_i32(&m, TF_A_ERRNO, &i), 0);
	assert_int_equal(i, -2);
	assert_null(tf_msg_str(&m, TF_A_CWD));
	tf_msg_clear(&m);
	tf_msgbuf_free(&b);
}

/* Every truncation and every single-byte corruption of a valid message
 * either parses consistently or is rejected; never crashes. */
static void test_malformed(void **state)
{
	struct tf_msgbuf b;
	struct tf_msg m;

	tf_msgbuf_init(&b, TF_REQ_UNLOCK);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, "secure");
	tf_msgbuf_put_str(&b, TF_A_SECRET, "123456");
	assert_int_equal(tf_msgbuf_finish(&b), 0);
	for (size_t n = 0; n < b.len; n++)
		assert_true(tf_msg_parse(b.data, n, &m) < 0);
	for (size_t k = 0; k < b.len; k++) {
		uint8_t *c = malloc(b.len);
		memcpy(c, b.data, b.len);
		c[k] ^= 0x41;
		if (tf_msg_parse(c, b.len, &m) == 0)
			tf_msg_clear(&m);
		free(c);
	}
	/* wrong version */
	b.data[2] = 2;
	assert_int_equal(tf_msg_parse(b.data, b.len, &m), -EPROTONOSUPPORT);
	tf_msgbuf_free(&b);
	/* string without its NUL */
	tf_msgbuf_init(&b, TF_REQ_PERSONA_START);
	tf_msgbuf_put(&b, TF_A_PERSONA, "abc", 3);
	assert_int_equal(tf_msgbuf_finish(&b), 0);
	assert_int_equal(tf_msg_parse(b.data, b.len, &m), -EBADMSG);
	tf_msgbuf_free(&b);
	/* u32 of the wrong size */
	tf_msgbuf_init(&b, TF_REQ_STATUS);
	tf_msgbuf_put(&b, TF_A_FLAGS, "ab", 2);
	assert_int_equal(tf_msgbuf_finish(&b), 0);
	assert_int_equal(tf_msg_parse(b.data, b.len, &m), -EBADMSG);
	tf_msgbuf_free(&b);
	/* unknown message type */
	tf_msgbuf_init(&b, 999);
	assert_int_equal(tf_msgbuf_finish(&b), 0);
	assert_int_equal(tf_msg_parse(b.data, b.len, &m), -EBADMSG);
	tf_msgbuf_free(&b);
}

static void test_bounds(void **state)
{
	struct tf_msgbuf b;
	char *big = malloc(TF_STR_MAX + 1);

	memset(big, 'x', TF_STR_MAX);
	big[TF_STR_MAX] = '\0';
	tf_msgbuf_init(&b, TF_REQ_RUN);
	tf_msgbuf_put_str(&b, TF_A_ARG, big); /* one byte too long */
	assert_int_equal(tf_msgbuf_finish(&b), -E2BIG);
	tf_msgbuf_free(&b);
	big[TF_STR_MAX - 1] = '\0'; /* exactly the bound: fine */
	tf_msgbuf_init(&b, TF_REQ_RUN);
	tf_msgbuf_put_str(&b, TF_A_ARG, big);
	assert_int_equal(tf_msgbuf_finish(&b), 0);
	tf_msgbuf_free(&b);
	free(big);
}

/* A message spanning many datagrams, with fds on the first. */
static void test_transport(void **state)
{
	int sv[2], fds[3], p[2];
	struct tf_msgbuf b;
	struct tf_msg_reader r;
	struct tf_msg m;
	char *arg = malloc(100000);

	pair(sv);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = p[1];
	memset(arg, 'y', 99999);
	arg[99999] = '\0';
	tf_msgbuf_init(&b, TF_REQ_RUN);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, "personal");
	tf_msgbuf_put_str(&b, TF_A_ARG, arg);
	assert_int_equal(tf_msgbuf_finish(&b), 0);
	assert_true(b.len > 3 * TF_FRAG_MAX);
	assert_int_equal(tf_msg_send(sv[0], &b, fds, 3), 0);
	tf_msg_reader_init(&r, TF_MSG_MAX);
	assert_int_equal(tf_msg_recv(sv[1], &r), 1);
	assert_int_equal(r.nfds, 3);
	assert_int_equal(r.total, b.len);
	assert_int_equal(tf_msg_parse(r.buf, r.total, &m), 0);
	assert_string_equal(tf_msg_str(&m, TF_A_ARG), arg);
	/* the passed pipe works */
	assert_int_equal(write(r.fds[1], "z", 1), 1);
	{
		char ch;
		assert_int_equal(read(p[0], &ch, 1), 1);
		assert_int_equal(ch, 'z');
	}
	tf_msg_clear(&m);
	tf_msg_reader_reset(&r);
	tf_msgbuf_free(&b);
	free(arg);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* A header announcing more than the bound is refused before allocating;
 * a peer that disconnects mid-message gives -ECONNRESET. */
static void test_oversize_and_disconnect(void **state)
{
	int sv[2];
	uint8_t hdr[12] = {0x54, 0x46, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0x7f};
	struct tf_msg_reader r;

	pair(sv);
	assert_int_equal(send(sv[0], hdr, sizeof(hdr), 0), 12);
	tf_msg_reader_init(&r, TF_MSG_MAX);
	assert_int_equal(tf_msg_recv(sv[1], &r), -EMSGSIZE);
	tf_msg_reader_reset(&r);
	/* announce 100 bytes, send 10, hang up */
	hdr[11] = 0;
	hdr[8] = 100;
	assert_int_equal(send(sv[0], hdr, sizeof(hdr), 0), 12);
	assert_int_equal(send(sv[0], "0123456789", 10, 0), 10);
	close(sv[0]);
	assert_int_equal(tf_msg_recv(sv[1], &r), -ECONNRESET);
	tf_msg_reader_reset(&r);
	close(sv[1]);
}

/* More than TF_MSG_FDS_MAX fds: all closed, message refused. */
static void test_too_many_fds(void **state)
{
	int sv[2], fds[4];
	struct tf_msgbuf b;
	struct tf_msg_reader r;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec iov;
	struct msghdr mh = {0};
	struct cmsghdr *c;

	pair(sv);
	for (int i = 0; i < 4; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	tf_msgbuf_init(&b, TF_REQ_PING);
	assert_int_equal(tf_msgbuf_finish(&b), 0);
	iov.iov_base = b.data;
	iov.iov_len = b.len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * 4);
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	assert_true(sendmsg(sv[0], &mh, 0) > 0);
	tf_msg_reader_init(&r, TF_MSG_MAX);
	assert_int_equal(tf_msg_recv(sv[1], &r), -EBADMSG);
	tf_msg_reader_reset(&r);
	tf_msgbuf_free(&b);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_oversize_and_disconnect),
		cmocka_unit_test(test_too_many_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
