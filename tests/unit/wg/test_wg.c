/* SPDX-License-Identifier: ISC */
/* The tunnel protocol core (src/lib/wg): handshake and transport in both
 * suites, tampering, replay, cross-suite refusal, cookies, timers, and a
 * known-answer vector for intl computed independently (kat_intl.py). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "src/lib/wg/internal.h"
#include "twofold/crypto.h"
#include "twofold/wg.h"

#define SEC TF_WG_NSEC
#define T0 (1000 * SEC) /* a monotonic clock that is not near 0 */

/* kat_intl.py's output */
static const uint8_t kat_init[148] = {
	0x01, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11, 0xbb, 0x50, 0xff, 0x9e,
	0x82, 0xa5, 0x74, 0xcf, 0xbf, 0x82, 0x0e, 0x97, 0xf6, 0x0f, 0xb9, 0xc1,
	0x43, 0xec, 0x74, 0x15, 0xcf, 0x51, 0x4f, 0x8c, 0xfd, 0x98, 0xef, 0xf5,
	0x9e, 0x05, 0x96, 0x14, 0x9c, 0x80, 0x12, 0xd1, 0x93, 0xb4, 0xaa, 0x85,
	0x1a, 0xf4, 0x7c, 0xe3, 0x4a, 0x56, 0x18, 0xc7, 0xc0, 0x67, 0x3c, 0x2d,
	0xcc, 0xf0, 0x04, 0xae, 0x5a, 0x2c, 0x86, 0x3e, 0x7f, 0x8f, 0x91, 0x87,
	0xd0, 0xf0, 0x7e, 0xeb, 0xcb, 0x32, 0x29, 0x40, 0x99, 0x9d, 0xe3, 0xc5,
	0x69, 0x99, 0x04, 0x84, 0xd0, 0x8d, 0x25, 0xaf, 0xb2, 0xd9, 0x2d, 0x07,
	0x5d, 0x6c, 0x05, 0x48, 0x01, 0xef, 0xef, 0x66, 0x61, 0x62, 0xe2, 0x7e,
	0x70, 0x23, 0xa6, 0x58, 0xff, 0x54, 0x0c, 0x57, 0x17, 0xb8, 0xb8, 0x5b,
	0x3e, 0x40, 0xf0, 0x88, 0xc9, 0x16, 0xfc, 0x50, 0x0f, 0x04, 0x6a, 0x81,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00};
static const uint8_t kat_resp[92] = {
	0x02, 0x00, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	0xf7, 0x4e, 0x5b, 0xb7, 0x51, 0x5d, 0x56, 0x52, 0x74, 0x96, 0x7a, 0xf7,
	0x5d, 0x88, 0x49, 0x7d, 0xc6, 0xfc, 0x7f, 0xcd, 0x60, 0x7d, 0xa9, 0xdd,
	0x91, 0xa6, 0x17, 0xdb, 0x86, 0xad, 0x01, 0x10, 0xcd, 0x9f, 0x4c, 0x86,
	0xdf, 0x85, 0x0a, 0xc7, 0x42, 0x15, 0x53, 0x62, 0xda, 0x7b, 0x4d, 0x6c,
	0x2a, 0x83, 0x57, 0x4c, 0x20, 0xf0, 0xb7, 0x18, 0xc3, 0xce, 0x27, 0x35,
	0xf4, 0x94, 0x4b, 0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t kat_data[64] = {
	0x04, 0x00, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x77, 0xa3, 0x11, 0x1a, 0x73, 0x7d,
	0x32, 0xdc, 0x7d, 0x26, 0xe0, 0x4e, 0xab, 0x73, 0xc0, 0x72, 0xe5,
	0x6d, 0xba, 0x04, 0xe6, 0x00, 0xe3, 0xd7, 0xad, 0xe7, 0xa9, 0x67,
	0x8b, 0x44, 0x9e, 0x31, 0x26, 0xc5, 0xf8, 0xf7, 0x18, 0xa7, 0xe5,
	0xa4, 0x3e, 0xd4, 0xc5, 0xdb, 0x40, 0x1f, 0xe0, 0xd3};

struct pair {
	uint8_t suite;
	struct tf_wg_static *si, *sr; /* initiator's and responder's own */
	struct tf_wg_peer *pi;	      /* initiator's view of the responder */
	struct tf_wg_peer *pr;	      /* responder's view of the initiator */
	uint64_t ts;		      /* timestamp source */
};

static void seq(uint8_t *out, uint8_t start, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(start + 7 * i);
}

static void next_ts(struct pair *p, uint8_t ts[TF_WG_TAI64N_BYTES])
{
	p->ts++;
	memset(ts, 0, TF_WG_TAI64N_BYTES);
	ts[0] = 0x40;
	for (int i = 0; i < 8; i++)
		ts[4 + i] = (uint8_t)(p->ts >> (56 - 8 * i));
}

static void pair_keys(struct pair *p, uint8_t suite,
		      const uint8_t ipriv[TF_WG_PRIV_BYTES],
		      const uint8_t rpriv[TF_WG_PRIV_BYTES], const uint8_t *psk)
{
	const uint8_t *pub;
	size_t len;

	memset(p, 0, sizeof(*p));
	p->suite = suite;
	assert_int_equal(tf_wg_static_new(suite, ipriv, &p->si), 0);
	assert_int_equal(tf_wg_static_new(suite, rpriv, &p->sr), 0);
	pub = tf_wg_static_pub(p->sr, &len);
	assert_int_equal(len, tf_wg_pub_bytes(suite));
	assert_int_equal(tf_wg_peer_new(p->si, pub, len, psk, &p->pi), 0);
	pub = tf_wg_static_pub(p->si, &len);
	assert_int_equal(tf_wg_peer_new(p->sr, pub, len, psk, &p->pr), 0);
}

static void pair_new(struct pair *p, uint8_t suite)
{
	uint8_t a[TF_WG_PRIV_BYTES], b[TF_WG_PRIV_BYTES], pub[TF_WG_PUB_MAX];
	size_t len;

	assert_int_equal(tf_wg_keygen(suite, a, pub, &len), 0);
	assert_int_equal(tf_wg_keygen(suite, b, pub, &len), 0);
	pair_keys(p, suite, a, b, NULL);
}

static void pair_free(struct pair *p)
{
	tf_wg_peer_free(p->pi);
	tf_wg_peer_free(p->pr);
	tf_wg_static_free(p->si);
	tf_wg_static_free(p->sr);
}

static size_t init_len(uint8_t suite)
{
	return suite == TF_SUITE_GM ? TF_WG_GM_INITIATION_BYTES
				    : TF_WG_INTL_INITIATION_BYTES;
}

static size_t resp_len(uint8_t suite)
{
	return suite == TF_SUITE_GM ? TF_WG_GM_RESPONSE_BYTES
				    : TF_WG_INTL_RESPONSE_BYTES;
}

/* Full handshake; returns both keypairs. */
static void handshake(struct pair *p, uint64_t now, struct tf_wg_keypair **ki,
		      struct tf_wg_keypair **kr)
{
	uint8_t m[TF_WG_HANDSHAKE_MAX], ts[TF_WG_TAI64N_BYTES];
	struct tf_wg_initiation in;
	uint8_t suite = 0;
	int n;

	next_ts(p, ts);
	n = tf_wg_create_initiation(p->pi, 0x1001, ts, now, m, sizeof(m));
	assert_int_equal(n, init_len(p->suite));
	assert_int_equal(tf_wg_msg_type(m, (size_t)n, &suite),
			 TF_WG_MSG_INITIATION);
	assert_int_equal(suite, p->suite);
	assert_int_equal(tf_wg_msg_index(TF_WG_MSG_INITIATION, m), 0x1001);
	assert_int_equal(tf_wg_consume_initiation(p->sr, m, (size_t)n, &in), 0);
	assert_int_equal(in.sender_index, 0x1001);
	assert_int_equal(in.peer_pub_len, tf_wg_pub_bytes(p->suite));
	assert_memory_equal(in.peer_pub, tf_wg_static_pub(p->si, NULL),
			    in.peer_pub_len);
	assert_int_equal(tf_wg_consume_initiation_finish(p->pr, &in, now), 0);
	n = tf_wg_create_response(p->pr, 0x2002, now, m, sizeof(m));
	assert_int_equal(n, resp_len(p->suite));
	assert_int_equal(tf_wg_msg_type(m, (size_t)n, &suite),
			 TF_WG_MSG_RESPONSE);
	assert_int_equal(tf_wg_msg_index(TF_WG_MSG_RESPONSE, m), 0x1001);
	assert_int_equal(tf_wg_keypair_derive(p->pr, now, kr), 0);
	assert_int_equal(tf_wg_consume_response(p->pi, m, (size_t)n), 0);
	assert_int_equal(tf_wg_keypair_derive(p->pi, now, ki), 0);
}

static void roundtrip(struct tf_wg_keypair *a, struct tf_wg_keypair *b,
		      size_t len, uint64_t now)
{
	uint8_t pt[2000], ct[2100], back[2100];
	uint8_t suite;
	int n, m;

	for (size_t i = 0; i < len; i++)
		pt[i] = (uint8_t)(i * 13 + 1);
	n = tf_wg_encrypt(a, pt, len, 1420, now, ct, sizeof(ct));
	assert_true(n >= (int)(len + TF_WG_TRANSPORT_OVERHEAD));
	assert_int_equal((n - TF_WG_TRANSPORT_OVERHEAD) % TF_WG_PADDING == 0 ||
				 (size_t)(n - TF_WG_TRANSPORT_OVERHEAD) == 1420,
			 1);
	assert_int_equal(tf_wg_msg_type(ct, (size_t)n, &suite),
			 TF_WG_MSG_TRANSPORT);
	m = tf_wg_decrypt(b, ct, (size_t)n, now, back, sizeof(back));
	assert_int_equal(m, n - TF_WG_TRANSPORT_OVERHEAD);
	assert_memory_equal(back, pt, len);
	for (int i = (int)len; i < m; i++)
		assert_int_equal(back[i], 0);
	/* the same datagram again is a replay */
	assert_int_equal(
		tf_wg_decrypt(b, ct, (size_t)n, now, back, sizeof(back)),
		-EALREADY);
}

static int setup(void **state)
{
	return tf_crypto_init() == 0 ? 0 : -1;
}

/* ---- full handshake + transport, both suites ---- */

static void full_one(uint8_t suite)
{
	struct tf_wg_keypair *ki = NULL, *kr = NULL;
	struct tf_wg_keypair_info info;
	struct pair p;
	uint8_t buf[2100];
	int n;

	pair_new(&p, suite);
	handshake(&p, T0, &ki, &kr);
	tf_wg_keypair_info(ki, &info);
	assert_true(info.is_initiator);
	assert_int_equal(info.local_index, 0x1001);
	assert_int_equal(info.remote_index, 0x2002);
	assert_int_equal(info.suite, suite);
	tf_wg_keypair_info(kr, &info);
	assert_false(info.is_initiator);
	assert_int_equal(info.local_index, 0x2002);
	assert_int_equal(info.remote_index, 0x1001);
	for (size_t len = 0; len < 100; len += 7) {
		roundtrip(ki, kr, len, T0 + SEC);
		roundtrip(kr, ki, len, T0 + SEC);
	}
	roundtrip(ki, kr, 1420, T0 + 2 * SEC);
	roundtrip(kr, ki, 1419, T0 + 2 * SEC);
	/* in place */
	memset(buf, 0x5a, sizeof(buf));
	n = tf_wg_encrypt(ki, buf + 16, 100, 1420, T0, buf, sizeof(buf));
	assert_int_equal(n, 112 + 32);
	n = tf_wg_decrypt(kr, buf, (size_t)n, T0, buf + 16, sizeof(buf) - 16);
	assert_int_equal(n, 112);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf[16 + i], 0x5a);
	/* too old: REJECT_AFTER_TIME */
	assert_int_equal(tf_wg_encrypt(ki, buf, 10, 1420,
				       T0 + TF_WG_REJECT_AFTER_TIME * SEC, buf,
				       sizeof(buf)),
			 -ESTALE);
	/* a buffer too small */
	assert_int_equal(tf_wg_encrypt(ki, buf, 10, 1420, T0, buf, 40),
			 -ENOBUFS);
	tf_wg_keypair_free(ki);
	tf_wg_keypair_free(kr);
	pair_free(&p);
}

static void test_full_intl(void **state)
{
	full_one(TF_SUITE_INTL);
}

static void test_full_gm(void **state)
{
	full_one(TF_SUITE_GM);
}

/* a psk on both sides works; a psk on one side only does not */
static void test_psk(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct tf_wg_keypair *ki = NULL, *kr = NULL;
		uint8_t a[32], b[32], pub[TF_WG_PUB_MAX], psk[32];
		uint8_t m[TF_WG_HANDSHAKE_MAX], ts[TF_WG_TAI64N_BYTES];
		struct tf_wg_initiation in;
		struct tf_wg_peer *nopsk;
		struct pair p;
		size_t len;
		int n;

		assert_int_equal(tf_wg_keygen(suite, a, pub, &len), 0);
		assert_int_equal(tf_wg_keygen(suite, b, pub, &len), 0);
		seq(psk, 9, sizeof(psk));
		pair_keys(&p, suite, a, b, psk);
		handshake(&p, T0, &ki, &kr);
		roundtrip(ki, kr, 64, T0);
		tf_wg_keypair_free(ki);
		tf_wg_keypair_free(kr);

		/* the responder without the psk: the response fails */
		assert_int_equal(tf_wg_peer_new(p.sr,
						tf_wg_static_pub(p.si, NULL),
						len, NULL, &nopsk),
				 0);
		next_ts(&p, ts);
		n = tf_wg_create_initiation(p.pi, 7, ts, T0 + SEC, m,
					    sizeof(m));
		assert_true(n > 0);
		assert_int_equal(
			tf_wg_consume_initiation(p.sr, m, (size_t)n, &in), 0);
		assert_int_equal(
			tf_wg_consume_initiation_finish(nopsk, &in, T0 + SEC),
			0);
		n = tf_wg_create_response(nopsk, 8, T0 + SEC, m, sizeof(m));
		assert_true(n > 0);
		assert_int_equal(tf_wg_consume_response(p.pi, m, (size_t)n),
				 -EBADMSG);
		tf_wg_peer_free(nopsk);
		pair_free(&p);
	}
}

/* ---- tampering ---- */

/* recompute mac1 as an attacker can (it only needs the public key) */
static void restamp(const struct tf_wg_static *to, uint8_t *m, size_t len)
{
	assert_int_equal(
		to->s->mac(m + len - 32, to->mac1_key, 32, m, len - 32), 0);
}

static void flip_one(uint8_t suite)
{
	struct tf_wg_keypair *ki = NULL, *kr = NULL;
	uint8_t m[TF_WG_HANDSHAKE_MAX], r[TF_WG_HANDSHAKE_MAX],
		c[TF_WG_HANDSHAKE_MAX], x[TF_WG_HANDSHAKE_MAX];
	uint8_t ts[TF_WG_TAI64N_BYTES];
	struct sockaddr_in src = {.sin_family = AF_INET,
				  .sin_port = htons(51820),
				  .sin_addr.s_addr = htonl(0xc0000202)};
	struct tf_wg_initiation in;
	struct pair p;
	size_t il = init_len(suite), rl = resp_len(suite), cl;
	int n;

	pair_new(&p, suite);
	next_ts(&p, ts);
	n = tf_wg_create_initiation(p.pi, 0x1001, ts, T0, m, sizeof(m));
	assert_int_equal(n, il);

	/* every byte of the initiation flipped: refused (mac2 only under
	 * load, by tf_wg_check_mac2) */
	for (size_t i = 0; i < il; i++) {
		memcpy(x, m, il);
		x[i] ^= 0xff;
		if (i >= il - 16) {
			assert_int_equal(tf_wg_check_mac2(p.sr, x, il,
							  (void *)&src,
							  sizeof(src), T0),
					 -EAGAIN);
			continue;
		}
		n = tf_wg_consume_initiation(p.sr, x, il, &in);
		if (n == 0)
			n = tf_wg_consume_initiation_finish(p.pr, &in, T0);
		assert_int_not_equal(n, 0);
	}
	/* and with mac1 recomputed (everything the AEADs cover: ephemeral,
	 * static, timestamp; the sender index is covered by mac1 only) */
	for (size_t i = 8; i < il - 32; i++) {
		memcpy(x, m, il);
		x[i] ^= 0xff;
		restamp(p.sr, x, il);
		n = tf_wg_consume_initiation(p.sr, x, il, &in);
		if (n == 0)
			n = tf_wg_consume_initiation_finish(p.pr, &in, T0);
		assert_int_not_equal(n, 0);
	}
	/* the untouched one still works */
	assert_int_equal(tf_wg_consume_initiation(p.sr, m, il, &in), 0);
	assert_int_equal(tf_wg_consume_initiation_finish(p.pr, &in, T0), 0);
	n = tf_wg_create_response(p.pr, 0x2002, T0, r, sizeof(r));
	assert_int_equal(n, rl);

	/* every byte of the response flipped, with and without restamped
	 * mac1: refused, and the pending handshake survives */
	for (size_t i = 0; i < rl; i++) {
		memcpy(x, r, rl);
		x[i] ^= 0xff;
		if (i >= rl - 16) {
			assert_int_equal(tf_wg_check_mac2(p.si, x, rl,
							  (void *)&src,
							  sizeof(src), T0),
					 -EAGAIN);
			continue;
		}
		assert_int_not_equal(tf_wg_consume_response(p.pi, x, rl), 0);
		if (i >= 12 && i < rl - 32) {
			restamp(p.si, x, rl);
			assert_int_not_equal(
				tf_wg_consume_response(p.pi, x, rl), 0);
		}
	}
	/* a cookie reply to our initiation, every byte flipped */
	n = tf_wg_cookie_reply_create(p.sr, m, il, (void *)&src, sizeof(src),
				      T0, c, sizeof(c));
	cl = suite == TF_SUITE_GM ? TF_WG_GM_COOKIE_REPLY_BYTES
				  : TF_WG_INTL_COOKIE_REPLY_BYTES;
	assert_int_equal(n, cl);
	for (size_t i = 0; i < cl; i++) {
		memcpy(x, c, cl);
		x[i] ^= 0xff;
		assert_int_not_equal(
			tf_wg_cookie_reply_consume(p.pi, x, cl, T0), 0);
	}
	assert_int_equal(tf_wg_cookie_reply_consume(p.pi, c, cl, T0), 0);

	/* the response is still good after all that */
	assert_int_equal(tf_wg_consume_response(p.pi, r, rl), 0);
	assert_int_equal(tf_wg_keypair_derive(p.pi, T0, &ki), 0);
	assert_int_equal(tf_wg_keypair_derive(p.pr, T0, &kr), 0);
	/* a transport packet, every byte flipped */
	{
		uint8_t pt[40], ct[100], out[100];

		memset(pt, 0x33, sizeof(pt));
		n = tf_wg_encrypt(ki, pt, sizeof(pt), 1420, T0, ct, sizeof(ct));
		assert_int_equal(n, 48 + 32);
		for (int i = 0; i < n; i++) {
			memcpy(x, ct, (size_t)n);
			x[i] ^= 0xff;
			assert_true(tf_wg_decrypt(kr, x, (size_t)n, T0, out,
						  sizeof(out)) < 0);
		}
		/* truncated */
		assert_true(tf_wg_decrypt(kr, ct, (size_t)n - 1, T0, out,
					  sizeof(out)) < 0);
		assert_int_equal(
			tf_wg_decrypt(kr, ct, (size_t)n, T0, out, sizeof(out)),
			48);
	}
	tf_wg_keypair_free(ki);
	tf_wg_keypair_free(kr);
	pair_free(&p);
}

static void test_flip_intl(void **state)
{
	flip_one(TF_SUITE_INTL);
}

static void test_flip_gm(void **state)
{
	flip_one(TF_SUITE_GM);
}

/* ---- replayed initiation ---- */

static void test_replay_initiation(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		uint8_t m[TF_WG_HANDSHAKE_MAX], m2[TF_WG_HANDSHAKE_MAX];
		uint8_t ts[TF_WG_TAI64N_BYTES], old[TF_WG_TAI64N_BYTES];
		struct tf_wg_initiation in;
		struct pair p;
		size_t il = init_len(suite);

		pair_new(&p, suite);
		next_ts(&p, old);
		next_ts(&p, ts);
		assert_int_equal(
			tf_wg_create_initiation(p.pi, 1, ts, T0, m, sizeof(m)),
			il);
		assert_int_equal(tf_wg_consume_initiation(p.sr, m, il, &in), 0);
		assert_int_equal(tf_wg_consume_initiation_finish(p.pr, &in, T0),
				 0);
		/* the same message a second later: replay */
		assert_int_equal(tf_wg_consume_initiation(p.sr, m, il, &in), 0);
		assert_int_equal(
			tf_wg_consume_initiation_finish(p.pr, &in, T0 + SEC),
			-EALREADY);
		/* a fresh initiation with the same or an older timestamp */
		assert_int_equal(tf_wg_create_initiation(p.pi, 2, ts, T0, m2,
							 sizeof(m2)),
				 il);
		assert_int_equal(tf_wg_consume_initiation(p.sr, m2, il, &in),
				 0);
		assert_int_equal(
			tf_wg_consume_initiation_finish(p.pr, &in, T0 + SEC),
			-EALREADY);
		assert_int_equal(tf_wg_create_initiation(p.pi, 3, old, T0, m2,
							 sizeof(m2)),
				 il);
		assert_int_equal(tf_wg_consume_initiation(p.sr, m2, il, &in),
				 0);
		assert_int_equal(
			tf_wg_consume_initiation_finish(p.pr, &in, T0 + SEC),
			-EALREADY);
		/* newer, but within the flood limit (1/50 s) */
		next_ts(&p, ts);
		assert_int_equal(tf_wg_create_initiation(p.pi, 4, ts, T0, m2,
							 sizeof(m2)),
				 il);
		assert_int_equal(tf_wg_consume_initiation(p.sr, m2, il, &in),
				 0);
		assert_int_equal(
			tf_wg_consume_initiation_finish(p.pr, &in, T0 + 1000),
			-EALREADY);
		/* newer and later: fine */
		assert_int_equal(tf_wg_consume_initiation(p.sr, m2, il, &in),
				 0);
		assert_int_equal(
			tf_wg_consume_initiation_finish(p.pr, &in, T0 + SEC),
			0);
		pair_free(&p);
	}
}

/* ---- replay window ---- */

static void test_replay_window(void **state)
{
	struct wg_replay r;

	wg_replay_init(&r);
	/* in order */
	for (uint64_t c = 0; c < 20000; c++)
		assert_true(wg_replay_check(&r, c));
	/* duplicates */
	assert_false(wg_replay_check(&r, 19999));
	assert_false(wg_replay_check(&r, 19000));
	/* out of order within the window */
	assert_true(wg_replay_check(&r, 20100));
	for (uint64_t c = 20000; c < 20100; c++)
		assert_true(wg_replay_check(&r, c));
	assert_false(wg_replay_check(&r, 20050));
	/* the window's edge: greatest 20100 */
	assert_false(wg_replay_check(&r, 20100 - WG_REPLAY_WINDOW - 1));
	wg_replay_init(&r);
	assert_true(wg_replay_check(&r, 30000));
	assert_true(wg_replay_check(&r, 30000 - WG_REPLAY_WINDOW));
	assert_false(wg_replay_check(&r, 30000 - WG_REPLAY_WINDOW));
	assert_false(wg_replay_check(&r, 30000 - WG_REPLAY_WINDOW - 1));
	assert_false(wg_replay_check(&r, 0));
	/* a jump beyond the whole ring clears it: old bits do not alias */
	assert_true(wg_replay_check(&r, 30000 + 3 * WG_REPLAY_BITS));
	assert_true(wg_replay_check(&r, 30000 + 3 * WG_REPLAY_BITS - 1));
	assert_true(wg_replay_check(&r, 30000 + 2 * WG_REPLAY_BITS + 100));
	assert_false(wg_replay_check(&r, 30000 + 3 * WG_REPLAY_BITS));
	/* the top: REJECT_AFTER_MESSAGES is never accepted */
	wg_replay_init(&r);
	assert_true(wg_replay_check(&r, TF_WG_REJECT_AFTER_MESSAGES - 1));
	assert_false(wg_replay_check(&r, TF_WG_REJECT_AFTER_MESSAGES - 1));
	assert_false(wg_replay_check(&r, TF_WG_REJECT_AFTER_MESSAGES));
	assert_false(wg_replay_check(&r, UINT64_MAX));
	assert_true(wg_replay_check(&r, TF_WG_REJECT_AFTER_MESSAGES - 2));
}

/* the sender stops at REJECT_AFTER_MESSAGES; out-of-order delivery
 * through the real transport */
static void test_counter_limit(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct tf_wg_keypair *ki = NULL, *kr = NULL;
		uint8_t ct[8][64], out[64];
		int n[8];
		struct pair p;

		pair_new(&p, suite);
		handshake(&p, T0, &ki, &kr);
		for (int i = 0; i < 8; i++) {
			n[i] = tf_wg_encrypt(ki, NULL, 0, 1420, T0, ct[i], 64);
			assert_int_equal(n[i], 32);
		}
		for (int i = 7; i >= 0; i--)
			assert_int_equal(tf_wg_decrypt(kr, ct[i], 32, T0, out,
						       sizeof(out)),
					 0);
		for (int i = 0; i < 8; i++)
			assert_int_equal(tf_wg_decrypt(kr, ct[i], 32, T0, out,
						       sizeof(out)),
					 -EALREADY);
		tf_wg_test_set_send_counter(ki,
					    TF_WG_REJECT_AFTER_MESSAGES - 1);
		n[0] = tf_wg_encrypt(ki, NULL, 0, 1420, T0, ct[0], 64);
		assert_int_equal(n[0], 32);
		assert_int_equal(tf_get_le64(ct[0] + 8),
				 TF_WG_REJECT_AFTER_MESSAGES - 1);
		assert_int_equal(
			tf_wg_decrypt(kr, ct[0], 32, T0, out, sizeof(out)), 0);
		assert_int_equal(
			tf_wg_encrypt(ki, NULL, 0, 1420, T0, ct[1], 64),
			-ESTALE);
		assert_int_equal(
			tf_wg_encrypt(ki, NULL, 0, 1420, T0, ct[1], 64),
			-ESTALE);
		tf_wg_keypair_free(ki);
		tf_wg_keypair_free(kr);
		pair_free(&p);
	}
}

/* ---- wrong keys ---- */

static void test_wrong_key(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		uint8_t m[TF_WG_HANDSHAKE_MAX], ts[TF_WG_TAI64N_BYTES];
		uint8_t priv[32], pub[TF_WG_PUB_MAX];
		struct tf_wg_peer *other, *to_x;
		struct tf_wg_static *x;
		struct tf_wg_initiation in;
		struct pair p;
		size_t il = init_len(suite), len;

		pair_new(&p, suite);
		assert_int_equal(tf_wg_keygen(suite, priv, pub, &len), 0);
		assert_int_equal(tf_wg_static_new(suite, priv, &x), 0);
		/* the initiator thinks the responder is x */
		assert_int_equal(tf_wg_peer_new(p.si, tf_wg_static_pub(x, NULL),
						len, NULL, &to_x),
				 0);
		next_ts(&p, ts);
		assert_int_equal(
			tf_wg_create_initiation(to_x, 1, ts, T0, m, sizeof(m)),
			il);
		assert_int_equal(tf_wg_consume_initiation(p.sr, m, il, &in),
				 -EBADMSG);
		restamp(p.sr, m, il);
		assert_int_equal(tf_wg_consume_initiation(p.sr, m, il, &in),
				 -EBADMSG);
		/* a good initiation finished against the wrong peer */
		next_ts(&p, ts);
		assert_int_equal(
			tf_wg_create_initiation(p.pi, 1, ts, T0, m, sizeof(m)),
			il);
		assert_int_equal(tf_wg_consume_initiation(p.sr, m, il, &in), 0);
		assert_int_equal(tf_wg_peer_new(p.sr, tf_wg_static_pub(x, NULL),
						len, NULL, &other),
				 0);
		assert_int_equal(
			tf_wg_consume_initiation_finish(other, &in, T0),
			-EINVAL);
		/* a response from the wrong state */
		assert_int_equal(
			tf_wg_create_response(other, 1, T0, m, sizeof(m)),
			-EINVAL);
		tf_wg_peer_free(other);
		tf_wg_peer_free(to_x);
		tf_wg_static_free(x);
		pair_free(&p);
	}
}

/* low-order / invalid public keys */
static void test_bad_points(void **state)
{
	uint8_t zero[TF_WG_PUB_MAX] = {0}, m[TF_WG_HANDSHAKE_MAX];
	uint8_t ts[TF_WG_TAI64N_BYTES];
	/* an X25519 point of order 8 (from the libsodium blacklist) */
	static const uint8_t order8[32] = {
		0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae,
		0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
		0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd,
		0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00};
	struct tf_wg_initiation in;
	struct tf_wg_peer *bad;
	struct pair p;

	pair_new(&p, TF_SUITE_INTL);
	assert_int_equal(tf_wg_peer_new(p.si, zero, 32, NULL, &bad), -EINVAL);
	assert_int_equal(tf_wg_peer_new(p.si, order8, 32, NULL, &bad), -EINVAL);
	assert_int_equal(tf_wg_peer_new(p.si, zero, 31, NULL, &bad), -EINVAL);
	/* a low-order ephemeral in an initiation */
	next_ts(&p, ts);
	assert_int_equal(tf_wg_create_initiation(p.pi, 1, ts, T0, m, sizeof(m)),
			 148);
	memcpy(m + 8, order8, 32);
	restamp(p.sr, m, 148);
	assert_int_equal(tf_wg_consume_initiation(p.sr, m, 148, &in), -EBADMSG);
	pair_free(&p);

	pair_new(&p, TF_SUITE_GM);
	zero[0] = 0x04;
	assert_int_equal(tf_wg_peer_new(p.si, zero, 65, NULL, &bad), -EINVAL);
	next_ts(&p, ts);
	assert_int_equal(tf_wg_create_initiation(p.pi, 1, ts, T0, m, sizeof(m)),
			 TF_WG_GM_INITIATION_BYTES);
	m[8 + 64] ^= 1; /* ephemeral off the curve */
	restamp(p.sr, m, TF_WG_GM_INITIATION_BYTES);
	assert_int_equal(tf_wg_consume_initiation(
				 p.sr, m, TF_WG_GM_INITIATION_BYTES, &in),
			 -EBADMSG);
	pair_free(&p);
	/* SM2 private keys out of range */
	{
		uint8_t d[32], pub[TF_WG_PUB_MAX];
		size_t len;

		memset(d, 0, sizeof(d));
		assert_int_equal(tf_wg_pubkey(TF_SUITE_GM, d, pub, &len),
				 -EINVAL);
		memset(d, 0xff, sizeof(d));
		assert_int_equal(tf_wg_pubkey(TF_SUITE_GM, d, pub, &len),
				 -EINVAL);
		d[0] = 0x01;
		assert_int_equal(tf_wg_pubkey(TF_SUITE_GM, d, pub, &len), 0);
		assert_int_equal(len, 65);
		assert_int_equal(pub[0], 0x04);
	}
}

/* ---- the other suite's messages ---- */

static void test_cross_suite(void **state)
{
	struct tf_wg_keypair *ki[2], *kr[2];
	uint8_t m[2][TF_WG_HANDSHAKE_MAX], r[2][TF_WG_HANDSHAKE_MAX];
	uint8_t ct[2][64], out[64], ts[TF_WG_TAI64N_BYTES];
	struct tf_wg_initiation in;
	struct pair p[2];
	int il[2], rl[2], cl[2];

	for (int s = 0; s < 2; s++) {
		uint8_t suite = s ? TF_SUITE_GM : TF_SUITE_INTL;

		pair_new(&p[s], suite);
		next_ts(&p[s], ts);
		il[s] = tf_wg_create_initiation(p[s].pi, 1, ts, T0, m[s],
						sizeof(m[s]));
		assert_int_equal(tf_wg_consume_initiation(p[s].sr, m[s],
							  (size_t)il[s], &in),
				 0);
		assert_int_equal(
			tf_wg_consume_initiation_finish(p[s].pr, &in, T0), 0);
		rl[s] = tf_wg_create_response(p[s].pr, 2, T0, r[s],
					      sizeof(r[s]));
		assert_true(rl[s] > 0);
		assert_int_equal(tf_wg_keypair_derive(p[s].pr, T0, &kr[s]), 0);
	}
	for (int s = 0; s < 2; s++) {
		uint8_t want = s ? TF_SUITE_GM : TF_SUITE_INTL, got = 0;
		int o = !s;

		/* classified as its own suite */
		assert_int_equal(tf_wg_msg_type(m[s], (size_t)il[s], &got),
				 TF_WG_MSG_INITIATION);
		assert_int_equal(got, want);
		assert_int_equal(tf_wg_msg_type(r[s], (size_t)rl[s], &got),
				 TF_WG_MSG_RESPONSE);
		assert_int_equal(got, want);
		/* and refused by the other suite's peer */
		assert_int_equal(tf_wg_consume_initiation(p[o].sr, m[s],
							  (size_t)il[s], &in),
				 -EPROTO);
		assert_int_equal(
			tf_wg_consume_response(p[o].pi, r[s], (size_t)rl[s]),
			-EPROTO);
	}
	for (int s = 0; s < 2; s++) {
		assert_int_equal(
			tf_wg_consume_response(p[s].pi, r[s], (size_t)rl[s]),
			0);
		assert_int_equal(tf_wg_keypair_derive(p[s].pi, T0, &ki[s]), 0);
		cl[s] = tf_wg_encrypt(ki[s], NULL, 0, 1420, T0, ct[s], 64);
		assert_int_equal(cl[s], 32);
	}
	for (int s = 0; s < 2; s++) {
		uint8_t got = 0;

		assert_int_equal(tf_wg_msg_type(ct[s], 32, &got),
				 TF_WG_MSG_TRANSPORT);
		assert_int_equal(got, s ? TF_SUITE_GM : TF_SUITE_INTL);
		assert_int_equal(
			tf_wg_decrypt(kr[!s], ct[s], 32, T0, out, sizeof(out)),
			-EPROTO);
		assert_int_equal(
			tf_wg_decrypt(kr[s], ct[s], 32, T0, out, sizeof(out)),
			0);
	}
	for (int s = 0; s < 2; s++) {
		tf_wg_keypair_free(ki[s]);
		tf_wg_keypair_free(kr[s]);
		pair_free(&p[s]);
	}
}

/* classification by exact size and the reserved bytes */
static void test_classify(void **state)
{
	uint8_t b[300] = {0}, suite = 0xaa;
	static const struct {
		uint32_t type;
		size_t len;
		enum tf_wg_msg kind;
		uint8_t suite;
	} ok[] = {
		{1, 148, TF_WG_MSG_INITIATION, TF_SUITE_INTL},
		{2, 92, TF_WG_MSG_RESPONSE, TF_SUITE_INTL},
		{3, 64, TF_WG_MSG_COOKIE_REPLY, TF_SUITE_INTL},
		{4, 32, TF_WG_MSG_TRANSPORT, TF_SUITE_INTL},
		{4, 299, TF_WG_MSG_TRANSPORT, TF_SUITE_INTL},
		{0x11, 214, TF_WG_MSG_INITIATION, TF_SUITE_GM},
		{0x12, 125, TF_WG_MSG_RESPONSE, TF_SUITE_GM},
		{0x13, 52, TF_WG_MSG_COOKIE_REPLY, TF_SUITE_GM},
		{0x14, 32, TF_WG_MSG_TRANSPORT, TF_SUITE_GM},
	};

	for (size_t i = 0; i < TF_ARRAY_SIZE(ok); i++) {
		tf_put_le32(b, ok[i].type);
		assert_int_equal(tf_wg_msg_type(b, ok[i].len, &suite),
				 ok[i].kind);
		assert_int_equal(suite, ok[i].suite);
		if (ok[i].kind != TF_WG_MSG_TRANSPORT) {
			assert_int_equal(
				tf_wg_msg_type(b, ok[i].len + 1, &suite),
				TF_WG_MSG_INVALID);
			assert_int_equal(
				tf_wg_msg_type(b, ok[i].len - 1, &suite),
				TF_WG_MSG_INVALID);
		} else {
			assert_int_equal(tf_wg_msg_type(b, 31, &suite),
					 TF_WG_MSG_INVALID);
		}
		b[1] = 1; /* reserved must be zero */
		assert_int_equal(tf_wg_msg_type(b, ok[i].len, &suite),
				 TF_WG_MSG_INVALID);
		b[1] = 0;
	}
	for (uint32_t t = 0; t < 256; t++) {
		if ((t >= 1 && t <= 4) || (t >= 0x11 && t <= 0x14))
			continue;
		tf_put_le32(b, t);
		for (size_t len = 0; len < sizeof(b); len++)
			assert_int_equal(tf_wg_msg_type(b, len, &suite),
					 TF_WG_MSG_INVALID);
	}
	assert_int_equal(tf_wg_msg_type(b, 3, &suite), TF_WG_MSG_INVALID);
	assert_int_equal(tf_wg_pub_bytes(TF_SUITE_INTL), 32);
	assert_int_equal(tf_wg_pub_bytes(TF_SUITE_GM), 65);
	assert_int_equal(tf_wg_pub_bytes(99), 0);
}

/* ---- cookies ---- */

static void cookie_one(uint8_t suite)
{
	uint8_t m[TF_WG_HANDSHAKE_MAX], c[TF_WG_HANDSHAKE_MAX];
	uint8_t ts[TF_WG_TAI64N_BYTES];
	struct sockaddr_in src = {.sin_family = AF_INET,
				  .sin_port = htons(40001),
				  .sin_addr.s_addr = htonl(0xc6336402)};
	struct sockaddr_in other = src;
	struct sockaddr_in6 src6 = {.sin6_family = AF_INET6,
				    .sin6_port = htons(40001)};
	struct tf_wg_initiation in;
	struct pair p;
	size_t il = init_len(suite);
	int n;

	other.sin_port = htons(40002);
	pair_new(&p, suite);
	next_ts(&p, ts);
	assert_int_equal(tf_wg_create_initiation(p.pi, 9, ts, T0, m, sizeof(m)),
			 il);
	/* under load: no mac2 yet */
	assert_int_equal(
		tf_wg_check_mac2(p.sr, m, il, (void *)&src, sizeof(src), T0),
		-EAGAIN);
	n = tf_wg_cookie_reply_create(p.sr, m, il, (void *)&src, sizeof(src),
				      T0, c, sizeof(c));
	assert_true(n > 0);
	assert_int_equal(tf_wg_msg_index(TF_WG_MSG_COOKIE_REPLY, c), 9);
	assert_int_equal(tf_wg_cookie_reply_consume(p.pi, c, (size_t)n, T0), 0);
	/* the same reply again does nothing */
	assert_int_equal(tf_wg_cookie_reply_consume(p.pi, c, (size_t)n, T0),
			 -EINVAL);
	/* the retransmission carries mac2 */
	next_ts(&p, ts);
	assert_int_equal(tf_wg_create_initiation(p.pi, 10, ts,
						 T0 + TF_WG_REKEY_TIMEOUT * SEC,
						 m, sizeof(m)),
			 il);
	assert_int_equal(tf_wg_check_mac2(p.sr, m, il, (void *)&src,
					  sizeof(src),
					  T0 + TF_WG_REKEY_TIMEOUT * SEC),
			 0);
	/* from another port it is not valid */
	assert_int_equal(tf_wg_check_mac2(p.sr, m, il, (void *)&other,
					  sizeof(other),
					  T0 + TF_WG_REKEY_TIMEOUT * SEC),
			 -EAGAIN);
	assert_int_equal(tf_wg_check_mac2(p.sr, m, il, (void *)&src6,
					  sizeof(src6),
					  T0 + TF_WG_REKEY_TIMEOUT * SEC),
			 -EAGAIN);
	/* a bad address family */
	src.sin_family = AF_UNIX;
	assert_int_equal(
		tf_wg_check_mac2(p.sr, m, il, (void *)&src, sizeof(src), T0),
		-EINVAL);
	src.sin_family = AF_INET;
	/* and the handshake proceeds */
	assert_int_equal(tf_wg_consume_initiation(p.sr, m, il, &in), 0);
	assert_int_equal(tf_wg_consume_initiation_finish(
				 p.pr, &in, T0 + TF_WG_REKEY_TIMEOUT * SEC),
			 0);
	/* the secret rotates after 120 s: the old cookie is no good */
	assert_int_equal(tf_wg_check_mac2(p.sr, m, il, (void *)&src,
					  sizeof(src), T0 + 121 * SEC),
			 -EAGAIN);
	/* the initiator stops using a cookie older than 115 s */
	next_ts(&p, ts);
	assert_int_equal(tf_wg_create_initiation(p.pi, 11, ts, T0 + 116 * SEC,
						 m, sizeof(m)),
			 il);
	for (size_t i = il - 16; i < il; i++)
		assert_int_equal(m[i], 0);
	/* a cookie reply to a message we did not send (other index) */
	n = tf_wg_cookie_reply_create(p.sr, m, il, (void *)&src, sizeof(src),
				      T0 + 116 * SEC, c, sizeof(c));
	assert_true(n > 0);
	c[4] ^= 1;
	assert_int_equal(
		tf_wg_cookie_reply_consume(p.pi, c, (size_t)n, T0 + 116 * SEC),
		-EINVAL);
	pair_free(&p);
}

static void test_cookie_intl(void **state)
{
	cookie_one(TF_SUITE_INTL);
}

static void test_cookie_gm(void **state)
{
	cookie_one(TF_SUITE_GM);
}

/* ---- known answer (intl), computed by kat_intl.py ---- */

static void test_kat_intl(void **state)
{
	uint8_t si[32], sr[32], ei[32], er[32], psk[32];
	static const uint8_t ts[12] = {0x40, 0, 0,    0,    0x65, 0x53,
				       0xf1, 0, 0x0a, 0x0b, 0x0c, 0x0d};
	uint8_t m[TF_WG_HANDSHAKE_MAX], pkt[20], ct[100], out[100];
	struct tf_wg_keypair *ki = NULL, *kr = NULL;
	struct tf_wg_initiation in;
	struct pair p;
	int n;

	seq(si, 1, 32);
	seq(sr, 2, 32);
	seq(ei, 3, 32);
	seq(er, 4, 32);
	seq(psk, 5, 32);
	pair_keys(&p, TF_SUITE_INTL, si, sr, psk);
	tf_wg_test_fix_ephemeral(p.pi, ei);
	n = tf_wg_create_initiation(p.pi, 0x11223344, ts, T0, m, sizeof(m));
	assert_int_equal(n, sizeof(kat_init));
	assert_memory_equal(m, kat_init, sizeof(kat_init));
	assert_int_equal(
		tf_wg_consume_initiation(p.sr, kat_init, sizeof(kat_init), &in),
		0);
	assert_int_equal(tf_wg_consume_initiation_finish(p.pr, &in, T0), 0);
	tf_wg_test_fix_ephemeral(p.pr, er);
	n = tf_wg_create_response(p.pr, 0x55667788, T0, m, sizeof(m));
	assert_int_equal(n, sizeof(kat_resp));
	assert_memory_equal(m, kat_resp, sizeof(kat_resp));
	assert_int_equal(
		tf_wg_consume_response(p.pi, kat_resp, sizeof(kat_resp)), 0);
	assert_int_equal(tf_wg_keypair_derive(p.pi, T0, &ki), 0);
	assert_int_equal(tf_wg_keypair_derive(p.pr, T0, &kr), 0);
	for (int i = 0; i < 20; i++)
		pkt[i] = (uint8_t)i;
	n = tf_wg_encrypt(ki, pkt, sizeof(pkt), 1420, T0, ct, sizeof(ct));
	assert_int_equal(n, sizeof(kat_data));
	assert_memory_equal(ct, kat_data, sizeof(kat_data));
	assert_int_equal(tf_wg_decrypt(kr, kat_data, sizeof(kat_data), T0, out,
				       sizeof(out)),
			 32);
	assert_memory_equal(out, pkt, sizeof(pkt));
	tf_wg_keypair_free(ki);
	tf_wg_keypair_free(kr);
	pair_free(&p);
}

/* ---- concurrent senders ---- */

#define THREADS 4
#define PER_THREAD 500

struct sender {
	struct tf_wg_keypair *kp;
	uint8_t (*ct)[96];
	int rc;
};

static void *send_many(void *arg)
{
	struct sender *s = arg;
	uint8_t pt[40];

	memset(pt, 0x77, sizeof(pt));
	for (int i = 0; i < PER_THREAD; i++)
		if (tf_wg_encrypt(s->kp, pt, sizeof(pt), 1420, T0, s->ct[i],
				  96) != 80)
			s->rc = -1;
	return NULL;
}

static void test_concurrent(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		static uint8_t ct[THREADS][PER_THREAD][96];
		struct tf_wg_keypair *ki = NULL, *kr = NULL;
		struct sender s[THREADS];
		pthread_t th[THREADS];
		uint8_t out[96];
		struct pair p;

		pair_new(&p, suite);
		handshake(&p, T0, &ki, &kr);
		for (int i = 0; i < THREADS; i++) {
			s[i] = (struct sender){.kp = ki, .ct = ct[i]};
			assert_int_equal(
				pthread_create(&th[i], NULL, send_many, &s[i]),
				0);
		}
		for (int i = 0; i < THREADS; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(s[i].rc, 0);
		}
		/* every packet decrypts exactly once: the counters were
		 * unique and each AEAD context was used by one thread at a
		 * time */
		for (int i = 0; i < THREADS; i++)
			for (int j = 0; j < PER_THREAD; j++)
				assert_int_equal(tf_wg_decrypt(kr, ct[i][j], 80,
							       T0, out,
							       sizeof(out)),
						 48);
		tf_wg_keypair_free(ki);
		tf_wg_keypair_free(kr);
		pair_free(&p);
	}
}

/* ---- timers ---- */

static void test_timers(void **state)
{
	struct tf_wg_timers t = {.initiator = true};
	uint64_t next;

	/* nothing at all */
	assert_int_equal(tf_wg_timers_due(&t, T0, &next), 0);
	assert_true(next == UINT64_MAX);
	/* data waiting, no session: initiate; a gateway does not */
	t.pending = true;
	assert_int_equal(tf_wg_timers_due(&t, T0, &next), TF_WG_DO_INITIATE);
	t.initiator = false;
	assert_int_equal(tf_wg_timers_due(&t, T0, &next), 0);
	t.initiator = true;
	/* handshaking: retransmit after REKEY_TIMEOUT + jitter, give up after
	 * REKEY_ATTEMPT_TIME */
	t.handshaking = true;
	t.handshake_started = t.handshake_sent = T0;
	t.jitter_ms = 100;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 4 * SEC, &next), 0);
	assert_true(next == T0 + 5 * SEC + 100000000ull);
	assert_int_equal(tf_wg_timers_due(&t, next, &next), TF_WG_DO_INITIATE);
	t.handshake_sent = T0 + 85 * SEC;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 89 * SEC, &next), 0);
	assert_true(next == T0 + 90 * SEC);
	assert_int_equal(tf_wg_timers_due(&t, T0 + 90 * SEC, &next),
			 TF_WG_DO_GIVE_UP);
	/* a session: nothing due while fresh */
	t = (struct tf_wg_timers){.initiator = true};
	t.session_birth = t.last_session = T0;
	t.session_initiator = true;
	t.handshake_sent = T0 - SEC;
	t.last_rx = T0;
	assert_int_equal(tf_wg_timers_due(&t, T0 + SEC, &next), 0);
	assert_true(next == T0 + 180 * SEC);
	/* data sent at 121 s: rekey */
	t.last_tx = t.last_tx_data = T0 + 121 * SEC;
	t.last_rx = t.last_tx_data;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 121 * SEC, &next),
			 TF_WG_DO_INITIATE);
	/* the responder of a session does not rekey on time */
	t.session_initiator = false;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 121 * SEC, &next), 0);
	/* but on the message count */
	t.session_sent = TF_WG_REKEY_AFTER_MESSAGES;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 121 * SEC, &next),
			 TF_WG_DO_INITIATE);
	t.session_sent = 0;
	/* too old: expire; 540 s without a session: wipe */
	assert_int_equal(tf_wg_timers_due(&t, T0 + 180 * SEC, &next) &
				 TF_WG_DO_EXPIRE,
			 TF_WG_DO_EXPIRE);
	assert_int_equal(tf_wg_timers_due(&t, T0 + 540 * SEC, &next) &
				 TF_WG_DO_WIPE,
			 TF_WG_DO_WIPE);
	/* received data, sent nothing for 10 s: keepalive */
	t = (struct tf_wg_timers){.initiator = true};
	t.session_birth = t.last_session = T0;
	t.last_tx = T0;
	t.last_rx = t.last_rx_data = T0 + SEC;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 5 * SEC, &next), 0);
	assert_true(next == T0 + 11 * SEC);
	assert_int_equal(tf_wg_timers_due(&t, T0 + 11 * SEC, &next),
			 TF_WG_DO_KEEPALIVE);
	t.last_tx = T0 + 11 * SEC;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 12 * SEC, &next), 0);
	/* sent data, heard nothing for 15 s: new handshake */
	t.last_tx = t.last_tx_data = T0 + 20 * SEC;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 34 * SEC, &next), 0);
	assert_true(next == T0 + 35 * SEC);
	assert_int_equal(tf_wg_timers_due(&t, T0 + 35 * SEC, &next),
			 TF_WG_DO_INITIATE);
	/* ... but not within REKEY_TIMEOUT of the last initiation */
	t.handshake_sent = T0 + 34 * SEC;
	t.last_tx_data = T0 + 34 * SEC + 1;
	t.last_tx = t.last_tx_data;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 50 * SEC, &next),
			 TF_WG_DO_INITIATE);
	/* persistent keepalive */
	t = (struct tf_wg_timers){.initiator = true};
	t.session_birth = t.last_session = T0;
	t.persistent_keepalive = 25;
	t.last_tx = t.last_rx = T0 + SEC;
	assert_int_equal(tf_wg_timers_due(&t, T0 + 25 * SEC, &next), 0);
	assert_true(next == T0 + 26 * SEC);
	assert_int_equal(tf_wg_timers_due(&t, T0 + 26 * SEC, &next),
			 TF_WG_DO_KEEPALIVE);
}

/* the TAI64N clock grows and has the right epoch */
static void test_tai64n(void **state)
{
	uint8_t a[12];

	tf_wg_tai64n_now(a);
	assert_int_equal(a[0], 0x40);
	assert_int_equal(a[11], 0); /* rounded to 2^24 ns */
	assert_int_equal(a[10] & 0xf0, a[10]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_full_intl),
		cmocka_unit_test(test_full_gm),
		cmocka_unit_test(test_psk),
		cmocka_unit_test(test_kat_intl),
		cmocka_unit_test(test_flip_intl),
		cmocka_unit_test(test_flip_gm),
		cmocka_unit_test(test_replay_initiation),
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_counter_limit),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_bad_points),
		cmocka_unit_test(test_cross_suite),
		cmocka_unit_test(test_cookie_intl),
		cmocka_unit_test(test_cookie_gm),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_tai64n),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
