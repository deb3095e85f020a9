/* SPDX-License-Identifier: ISC */
/* The device <-> relay channel (src/lib/comms), both suites: handshake and
 * transport both ways, the certificate checks inside the handshake
 * (revoked, wrong role, a valid certificate for another key), the suite
 * byte bound in the prologue (no downgrade), a flipped bit anywhere in the
 * INIT, RESP and DATA, replays, and connection ids; mac1, mac2 and the
 * COOKIE of a relay under load. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/comms.h"
#include "twofold/wg.h"

#define NOW 1800000000ull

static int setup(void **state)
{
	return tf_crypto_init() == 0 ? 0 : -1;
}

struct world {
	uint8_t suite;
	const struct tf_suite *s;
	struct tf_key *ca_sk;
	struct tf_cert_anchor anchor;
	uint8_t relay_priv[32], relay_pub[TF_WG_PUB_MAX];
	uint8_t dev_priv[32], dev_pub[TF_WG_PUB_MAX];
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
	struct tf_comms_relay relay;
};

static size_t make_cert(struct world *w, unsigned role, uint64_t serial,
			const uint8_t *dh_pub, uint8_t *out)
{
	struct tf_cert c = {0};
	int n;

	c.suite = w->suite;
	c.role = (uint8_t)role;
	c.serial = serial;
	c.not_before = NOW - 100;
	c.not_after = NOW + 86400;
	strcpy(c.officer, "officer-1");
	strcpy(c.device, "dev-1");
	c.sign_pk_len = c.dh_pk_len = w->s->pk_bytes;
	memset(c.sign_pk, 4, c.sign_pk_len);
	memcpy(c.dh_pk, dh_pub, c.dh_pk_len);
	n = tf_cert_sign(&c, w->ca_sk, out, TF_CERT_MAX);
	assert_true(n > 0);
	return (size_t)n;
}

static void world_init(struct world *w, uint8_t suite)
{
	uint8_t seed[32] = {7}, pk[TF_PK_MAX];
	size_t pl;

	memset(w, 0, sizeof(*w));
	w->suite = suite;
	w->s = tf_suite_by_id(suite);
	assert_int_equal(tf_key_sign_from_seed(w->s, seed, &w->ca_sk), 0);
	assert_int_equal(tf_key_public(w->ca_sk, pk, sizeof(pk)), 0);
	assert_int_equal(
		tf_cert_anchor_init(&w->anchor, w->s, pk, w->s->pk_bytes), 0);
	assert_int_equal(tf_wg_keygen(suite, w->relay_priv, w->relay_pub, &pl),
			 0);
	assert_int_equal(tf_wg_keygen(suite, w->dev_priv, w->dev_pub, &pl), 0);
	w->certlen = make_cert(w, TF_ROLE_OFFICER, 5, w->dev_pub, w->cert);
	w->relay = (struct tf_comms_relay){
		.suite = suite,
		.priv = w->relay_priv,
		.pub = w->relay_pub,
		.ca = &w->anchor,
		.dl = NULL,
		.roles = TF_ROLES_CLIENT,
	};
}

static void world_free(struct world *w)
{
	tf_key_free(w->ca_sk);
}

static int start(struct world *w, const uint8_t *cert, size_t certlen,
		 struct tf_comms_client **c, uint8_t *init)
{
	int n = tf_comms_client_start(w->suite, w->dev_priv, w->relay_pub, cert,
				      certlen, 1000, 0x11111111, c, init,
				      TF_COMMS_INIT_MAX);
	assert_true(n > 0 && n <= (int)TF_COMMS_INIT_MAX);
	return n;
}

static void test_roundtrip(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_comms_client *c = NULL;
		struct tf_comms_session *cs = NULL, *rs = NULL;
		struct tf_comms_peer peer;
		uint8_t init[TF_COMMS_INIT_MAX], resp[TF_COMMS_RESP_MAX];
		uint8_t pkt[TF_COMMS_DATA_OVERHEAD + 64], back[64];
		uint32_t id;
		int n, m;

		world_init(&w, suite);
		n = start(&w, w.cert, w.certlen, &c, init);
		assert_int_equal(tf_comms_classify(suite, init, (size_t)n, &id),
				 TF_COMMS_MSG_INIT);
		assert_int_equal(id, 0x11111111);
		m = tf_comms_relay_accept(&w.relay, init, (size_t)n, NOW,
					  0x22222222, &peer, resp, sizeof(resp),
					  &rs);
		assert_true(m > 0);
		assert_string_equal(peer.cert.officer, "officer-1");
		assert_int_equal(peer.ts_ns, 1000);
		assert_int_equal(peer.remote_id, 0x11111111);
		assert_int_equal(
			tf_comms_client_finish(c, resp, (size_t)m, &cs), 0);
		assert_int_equal(tf_comms_session_remote_id(cs), 0x22222222);
		/* device -> relay, relay -> device */
		n = tf_comms_encrypt(cs, (const uint8_t *)"hello relay", 11,
				     pkt, sizeof(pkt));
		assert_int_equal(n, TF_COMMS_DATA_OVERHEAD + 11);
		assert_int_equal(tf_comms_classify(suite, pkt, (size_t)n, &id),
				 TF_COMMS_MSG_DATA);
		assert_int_equal(id, 0x22222222);
		assert_int_equal(tf_comms_decrypt(rs, pkt, (size_t)n, back,
						  sizeof(back)),
				 11);
		assert_memory_equal(back, "hello relay", 11);
		/* a replay is refused, whichever address it comes from */
		assert_int_equal(tf_comms_decrypt(rs, pkt, (size_t)n, back,
						  sizeof(back)),
				 -EALREADY);
		/* one flipped bit anywhere */
		for (int i = 0; i < n * 8; i++) {
			uint8_t t[sizeof(pkt)];
			memcpy(t, pkt, (size_t)n);
			t[i / 8] ^= (uint8_t)(1u << (i % 8));
			assert_true(tf_comms_decrypt(rs, t, (size_t)n, back,
						     sizeof(back)) < 0);
		}
		n = tf_comms_encrypt(rs, (const uint8_t *)"hi", 2, pkt,
				     sizeof(pkt));
		assert_int_equal(tf_comms_decrypt(cs, pkt, (size_t)n, back,
						  sizeof(back)),
				 2);
		/* a session's own packet is not accepted back by it */
		n = tf_comms_encrypt(cs, (const uint8_t *)"x", 1, pkt,
				     sizeof(pkt));
		assert_true(tf_comms_decrypt(cs, pkt, (size_t)n, back,
					     sizeof(back)) < 0);
		tf_comms_session_free(cs);
		tf_comms_session_free(rs);
		tf_comms_client_free(c);
		world_free(&w);
	}
}

static int accept_one(struct world *w, const uint8_t *init, size_t n)
{
	struct tf_comms_session *rs = NULL;
	struct tf_comms_peer peer;
	uint8_t resp[TF_COMMS_RESP_MAX];
	int m = tf_comms_relay_accept(&w->relay, init, n, NOW, 2, &peer, resp,
				      sizeof(resp), &rs);

	tf_comms_session_free(rs);
	return m;
}

static void test_tampered_handshake(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_comms_client *c = NULL;
		struct tf_comms_session *cs = NULL, *rs = NULL;
		struct tf_comms_peer peer;
		uint8_t init[TF_COMMS_INIT_MAX], resp[TF_COMMS_RESP_MAX];
		int n, m;

		world_init(&w, suite);
		n = start(&w, w.cert, w.certlen, &c, init);
		/* every bit of the INIT, the suite byte and mac1 included
		 * (mac2 counts only under load: test_cookies) */
		for (int i = 0; i < (n - TF_COMMS_MAC_BYTES) * 8; i += 3) {
			init[i / 8] ^= (uint8_t)(1u << (i % 8));
			assert_true(accept_one(&w, init, (size_t)n) < 0);
			init[i / 8] ^= (uint8_t)(1u << (i % 8));
		}
		/* the other suite's relay does not take it */
		init[1] = suite == TF_SUITE_INTL ? TF_SUITE_GM : TF_SUITE_INTL;
		assert_int_equal(accept_one(&w, init, (size_t)n),
				 -EPROTONOSUPPORT);
		init[1] = suite;
		m = tf_comms_relay_accept(&w.relay, init, (size_t)n, NOW, 2,
					  &peer, resp, sizeof(resp), &rs);
		assert_true(m > 0);
		for (int i = 0; i < m * 8; i += 3) {
			struct tf_comms_client *c2 = NULL;
			uint8_t i2[TF_COMMS_INIT_MAX];
			/* a fresh client each time: a failed read spends the
			 * handshake */
			(void)start(&w, w.cert, w.certlen, &c2, i2);
			resp[i / 8] ^= (uint8_t)(1u << (i % 8));
			assert_true(tf_comms_client_finish(c2, resp, (size_t)m,
							   &cs) < 0);
			resp[i / 8] ^= (uint8_t)(1u << (i % 8));
			tf_comms_client_free(c2);
		}
		assert_int_equal(
			tf_comms_client_finish(c, resp, (size_t)m, &cs), 0);
		tf_comms_session_free(cs);
		tf_comms_session_free(rs);
		tf_comms_client_free(c);
		world_free(&w);
	}
}

/* mac1 / mac2 / COOKIE (docs/comms-protocol.md "Cookies") */
static void test_cookies(void **state)
{
	static const uint8_t src[6] = {0x1f, 0x90, 127, 0, 0, 1},
			     other_src[6] = {0x1f, 0x91, 127, 0, 0, 1};
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_comms_client *c = NULL, *c2 = NULL, *cx = NULL;
		uint8_t init[TF_COMMS_INIT_MAX], i2[TF_COMMS_INIT_MAX],
			ix[TF_COMMS_INIT_MAX];
		uint8_t ck[TF_COMMS_COOKIE_MAX], ck2[TF_COMMS_COOKIE_MAX];
		uint8_t secret[TF_COMMS_COOKIE_SECRET_BYTES],
			secret2[TF_COMMS_COOKIE_SECRET_BYTES];
		uint8_t other_priv[32], other_pub[TF_WG_PUB_MAX];
		size_t pl;
		uint32_t id;
		int n, n2, nx, k;

		world_init(&w, suite);
		memset(secret, 0x5a, sizeof(secret));
		memset(secret2, 0xa5, sizeof(secret2));
		n = start(&w, w.cert, w.certlen, &c, init);
		/* not under load: mac1 is enough, no round trip more */
		assert_int_equal(tf_comms_relay_check(&w.relay, init, (size_t)n,
						      NULL, src, sizeof(src)),
				 0);
		/* an INIT made for another relay's key: dropped before any
		 * DH, by check and by accept alike */
		assert_int_equal(
			tf_wg_keygen(suite, other_priv, other_pub, &pl), 0);
		nx = tf_comms_client_start(suite, w.dev_priv, other_pub, w.cert,
					   w.certlen, 1000, 7, &cx, ix,
					   sizeof(ix));
		assert_true(nx > 0);
		assert_int_equal(tf_comms_relay_check(&w.relay, ix, (size_t)nx,
						      NULL, src, sizeof(src)),
				 -EBADMSG);
		assert_int_equal(accept_one(&w, ix, (size_t)nx), -EBADMSG);
		/* under load: no mac2 -> a COOKIE, not a DH */
		assert_int_equal(tf_comms_relay_check(&w.relay, init, (size_t)n,
						      secret, src, sizeof(src)),
				 -EAGAIN);
		k = tf_comms_relay_cookie(&w.relay, init, (size_t)n, secret,
					  src, sizeof(src), ck, sizeof(ck));
		assert_int_equal(k, (int)tf_comms_cookie_bytes(suite));
		assert_int_equal(tf_comms_classify(suite, ck, (size_t)k, &id),
				 TF_COMMS_MSG_COOKIE);
		assert_int_equal(id, 0x11111111);
		/* a cookie opens only for the INIT it answers (its mac1 is
		 * the AD): another client, same connection id, cannot use
		 * it; nor can a flipped bit */
		n2 = start(&w, w.cert, w.certlen, &c2, i2);
		assert_int_equal(tf_comms_client_cookie(c2, ck, (size_t)k),
				 -EBADMSG);
		for (int i = 0; i < k * 8; i += 5) {
			memcpy(ck2, ck, (size_t)k);
			ck2[i / 8] ^= (uint8_t)(1u << (i % 8));
			assert_true(tf_comms_client_cookie(c, ck2, (size_t)k) <
				    0);
		}
		assert_int_equal(tf_comms_client_cookie(c, ck, (size_t)k), 0);
		n = tf_comms_client_init(c, init, sizeof(init));
		assert_true(n > 0);
		assert_int_equal(tf_comms_relay_check(&w.relay, init, (size_t)n,
						      secret, src, sizeof(src)),
				 0);
		/* from another address (port) the cookie is not valid */
		assert_int_equal(tf_comms_relay_check(&w.relay, init, (size_t)n,
						      secret, other_src,
						      sizeof(other_src)),
				 -EAGAIN);
		/* the secret rotated: the cookie is stale, a new one works */
		assert_int_equal(tf_comms_relay_check(&w.relay, init, (size_t)n,
						      secret2, src,
						      sizeof(src)),
				 -EAGAIN);
		k = tf_comms_relay_cookie(&w.relay, init, (size_t)n, secret2,
					  src, sizeof(src), ck, sizeof(ck));
		assert_true(k > 0);
		assert_int_equal(tf_comms_client_cookie(c, ck, (size_t)k), 0);
		n = tf_comms_client_init(c, init, sizeof(init));
		assert_int_equal(tf_comms_relay_check(&w.relay, init, (size_t)n,
						      secret2, src,
						      sizeof(src)),
				 0);
		/* and the handshake completes with the resent INIT */
		{
			struct tf_comms_session *cs = NULL, *rs = NULL;
			struct tf_comms_peer peer;
			uint8_t resp[TF_COMMS_RESP_MAX];
			int m = tf_comms_relay_accept(&w.relay, init, (size_t)n,
						      NOW, 2, &peer, resp,
						      sizeof(resp), &rs);
			assert_true(m > 0);
			assert_int_equal(
				tf_comms_client_finish(c, resp, (size_t)m, &cs),
				0);
			tf_comms_session_free(cs);
			tf_comms_session_free(rs);
		}
		(void)n2;
		tf_comms_client_free(c);
		tf_comms_client_free(c2);
		tf_comms_client_free(cx);
		world_free(&w);
	}
}

/* one handshake on ids (dev 0x11111111, relay rid): device and relay
 * sessions */
static void handshake(struct world *w, uint32_t rid,
		      struct tf_comms_session **cs,
		      struct tf_comms_session **rs)
{
	struct tf_comms_client *c = NULL;
	struct tf_comms_peer peer;
	uint8_t init[TF_COMMS_INIT_MAX], resp[TF_COMMS_RESP_MAX];
	int n = start(w, w->cert, w->certlen, &c, init);
	int m = tf_comms_relay_accept(&w->relay, init, (size_t)n, NOW, rid,
				      &peer, resp, sizeof(resp), rs);

	assert_true(m > 0);
	assert_int_equal(tf_comms_client_finish(c, resp, (size_t)m, cs), 0);
	tf_comms_client_free(c);
}

static int seal(struct tf_comms_session *s, const char *t, uint8_t *pkt,
		uint64_t now)
{
	return tf_comms_encrypt_at(s, (const uint8_t *)t, strlen(t), pkt,
				   TF_COMMS_DATA_OVERHEAD + 64, now);
}

static int open_(struct tf_comms_session *s, const uint8_t *pkt, int n,
		 uint64_t now)
{
	uint8_t back[64];

	return tf_comms_decrypt_at(s, pkt, (size_t)n, back, sizeof(back), now);
}

/* rekeying: overlapping keys, the phase bit, confirmation, the grace of
 * the old keys, REJECT_AFTER */
static void test_rekey(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_comms_session *cs = NULL, *rs = NULL, *ncs = NULL,
					*nrs = NULL, *other = NULL;
		uint8_t old_up[TF_COMMS_DATA_OVERHEAD + 64],
			old_down[TF_COMMS_DATA_OVERHEAD + 64],
			pkt[TF_COMMS_DATA_OVERHEAD + 64];
		int on_up, on_down, n;
		uint64_t t = 1000;

		world_init(&w, suite);
		handshake(&w, 0x22222222, &cs, &rs);
		tf_comms_session_set_birth(cs, t);
		tf_comms_session_set_birth(rs, t);
		assert_false(tf_comms_session_rekey_due(cs, t + 119, 120));
		assert_true(tf_comms_session_rekey_due(cs, t + 120, 120));
		/* in flight when the rekey happens, both ways */
		on_up = seal(cs, "old up", old_up, t);
		on_down = seal(rs, "old down", old_down, t);
		assert_int_equal(old_up[2], 0);
		/* a second handshake on the same ids */
		t += 120;
		handshake(&w, 0x22222222, &ncs, &nrs);
		assert_int_equal(tf_comms_session_rekey(rs, nrs, t, false), 0);
		assert_int_equal(tf_comms_session_rekey(cs, ncs, t, true), 0);
		/* the relay still sends with the old keys until the device
		 * uses the new ones; the device reads both */
		n = seal(rs, "still old", pkt, t);
		assert_int_equal(pkt[2], 0);
		assert_true(open_(cs, pkt, n, t) > 0);
		assert_true(open_(cs, old_down, on_down, t) > 0);
		/* the device sends with the new keys (phase 1) */
		n = seal(cs, "new up", pkt, t);
		assert_int_equal(pkt[2], 1);
		assert_true(open_(rs, pkt, n, t) > 0); /* confirms */
		/* a straggler on the old keys still opens (grace) */
		assert_true(open_(rs, old_up, on_up, t + 1) > 0);
		n = seal(rs, "new down", pkt, t + 1);
		assert_int_equal(pkt[2], 1);
		assert_true(open_(cs, pkt, n, t + 1) > 0);
		/* a phase bit flipped: the AD changes, refused */
		n = seal(cs, "flip", pkt, t + 1);
		pkt[2] ^= 1;
		assert_true(open_(rs, pkt, n, t + 1) < 0);
		/* after the grace the old keys are wiped: an old datagram
		 * no longer opens (a fresh one: not a replay) */
		on_down = seal(cs, "x", old_down, t + 1); /* new keys */
		assert_true(open_(rs, old_down, on_down, t + 1) > 0);
		{
			/* an old-key datagram made before the rekey, never
			 * delivered: build one on a copy of the keys */
			struct tf_comms_session *c2 = NULL, *r2 = NULL;
			uint8_t op[TF_COMMS_DATA_OVERHEAD + 64];
			int on;
			handshake(&w, 0x33333333, &c2, &r2);
			tf_comms_session_set_birth(r2, t);
			tf_comms_session_set_birth(c2, t);
			on = seal(c2, "late", op, t);
			handshake(&w, 0x33333333, &ncs, &nrs);
			assert_int_equal(
				tf_comms_session_rekey(r2, nrs, t, false), 0);
			assert_int_equal(
				tf_comms_session_rekey(c2, ncs, t, true), 0);
			n = seal(c2, "new", pkt, t);
			assert_true(open_(r2, pkt, n, t) > 0);
			assert_int_equal(
				open_(r2, op, on, t + TF_COMMS_PREV_GRACE_S),
				-EBADMSG);
			tf_comms_session_free(c2);
			tf_comms_session_free(r2);
		}
		/* REJECT_AFTER: keys older than the limit are refused both
		 * ways, even in their phase */
		tf_comms_session_set_reject_after(rs, 30);
		n = seal(cs, "late", pkt, t + 29);
		assert_true(open_(rs, pkt, n, t + 29) > 0);
		n = seal(cs, "too late", pkt, t + 30);
		assert_int_equal(open_(rs, pkt, n, t + 30), -EKEYEXPIRED);
		assert_int_equal(seal(rs, "too late", pkt, t + 30),
				 -EKEYEXPIRED);
		/* a rekey INIT carries the flag in its header (in the
		 * prologue: flipping it fails the handshake) */
		{
			struct tf_comms_client *rc = NULL;
			uint8_t ri[TF_COMMS_INIT_MAX];
			uint32_t id;
			int rn = tf_comms_client_rekey(
				cs, w.dev_priv, w.relay_pub, w.cert, w.certlen,
				2000, &rc, ri, sizeof(ri));
			assert_true(rn > 0);
			assert_int_equal(
				tf_comms_classify(suite, ri, (size_t)rn, &id),
				TF_COMMS_MSG_INIT);
			assert_int_equal(id, 0x11111111);
			assert_true(tf_comms_init_is_rekey(ri));
			ri[2] = 0;
			assert_true(accept_one(&w, ri, (size_t)rn) < 0);
			tf_comms_client_free(rc);
			n = start(&w, w.cert, w.certlen, &rc, ri);
			assert_false(tf_comms_init_is_rekey(ri));
			tf_comms_client_free(rc);
		}
		/* a session of other ids is not a rekey */
		handshake(&w, 0x44444444, &other, &nrs);
		assert_int_equal(tf_comms_session_rekey(cs, other, t, true),
				 -EINVAL);
		tf_comms_session_free(other);
		tf_comms_session_free(nrs);
		tf_comms_session_free(cs);
		tf_comms_session_free(rs);
		world_free(&w);
	}
}

static void test_certificate_checks(void **state)
{
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_comms_client *c = NULL;
		uint8_t init[TF_COMMS_INIT_MAX], cert[TF_CERT_MAX];
		uint8_t other_priv[32], other_pub[TF_WG_PUB_MAX];
		uint64_t revoked[] = {5};
		uint8_t *dlb = NULL;
		size_t dllen, pl, cl;
		struct tf_denylist *dl = NULL;
		int n;

		world_init(&w, suite);
		/* a relay's certificate is not a client's */
		cl = make_cert(&w, TF_ROLE_RELAY, 6, w.dev_pub, cert);
		n = start(&w, cert, cl, &c, init);
		assert_int_equal(accept_one(&w, init, (size_t)n), -EPERM);
		tf_comms_client_free(c);
		/* a valid certificate, but for another key: someone who stole
		 * a certificate without its key */
		assert_int_equal(
			tf_wg_keygen(suite, other_priv, other_pub, &pl), 0);
		cl = make_cert(&w, TF_ROLE_OFFICER, 7, other_pub, cert);
		n = start(&w, cert, cl, &c, init);
		assert_int_equal(accept_one(&w, init, (size_t)n),
				 -EKEYREJECTED);
		tf_comms_client_free(c);
		/* revoked */
		assert_int_equal(tf_denylist_sign(w.ca_sk, NOW - 10, NOW + 3600,
						  revoked, 1, &dlb, &dllen),
				 0);
		assert_int_equal(tf_denylist_parse(dlb, dllen, &w.anchor, &dl),
				 0);
		w.relay.dl = dl;
		n = start(&w, w.cert, w.certlen, &c, init);
		assert_int_equal(accept_one(&w, init, (size_t)n), -EKEYREVOKED);
		tf_comms_client_free(c);
		/* and once not revoked, accepted */
		w.relay.dl = NULL;
		n = start(&w, w.cert, w.certlen, &c, init);
		assert_true(accept_one(&w, init, (size_t)n) > 0);
		tf_comms_client_free(c);
		tf_denylist_free(dl);
		free(dlb);
		world_free(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tampered_handshake),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_rekey),
		cmocka_unit_test(test_certificate_checks),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
