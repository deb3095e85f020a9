/* SPDX-License-Identifier: ISC */
/* End-to-end messages (src/lib/comms/e2e.c), both suites: X3DH with
 * signed and one-time prekeys, the Double Ratchet both ways, out-of-order
 * delivery, the skipped-key bound, replays, a flipped bit anywhere in a
 * message, a bad prekey signature, a certificate for another officer, a
 * relay that swaps the sender, state files, and that nothing a relay
 * carries contains the plaintext. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/crypto.h"
#include "twofold/e2e.h"
#include "twofold/wg.h"

#define NOW 1800000000ull
#define CANARY "CANARY-7f3a9c-secret-text"

static int setup(void **state)
{
	(void)state;
	return tf_crypto_init() == 0 ? 0 : -1;
}

struct dev {
	struct tf_key *sign;
	uint8_t dh_priv[32], dh_pub[TF_WG_PUB_MAX];
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
	struct tf_e2e_prekeys *pk;
	uint8_t bundle[TF_E2E_BUNDLE_MAX];
	size_t bundlelen;
};

struct world {
	uint8_t suite;
	const struct tf_suite *s;
	struct tf_key *ca_sk;
	struct tf_cert_anchor anchor;
	struct dev a, b, c;
};

static void dev_init(struct world *w, struct dev *d, const char *officer,
		     uint8_t seedbyte, uint64_t serial)
{
	uint8_t seed[32];
	struct tf_cert c = {0};
	size_t pl;
	int n;

	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(tf_key_sign_from_seed(w->s, seed, &d->sign), 0);
	assert_int_equal(tf_wg_keygen(w->suite, d->dh_priv, d->dh_pub, &pl), 0);
	c.suite = w->suite;
	c.role = TF_ROLE_OFFICER;
	c.serial = serial;
	c.not_before = NOW - 100;
	c.not_after = NOW + 86400;
	strcpy(c.officer, officer);
	strcpy(c.device, "dev");
	c.sign_pk_len = c.dh_pk_len = w->s->pk_bytes;
	assert_int_equal(tf_key_public(d->sign, c.sign_pk, sizeof(c.sign_pk)),
			 0);
	memcpy(c.dh_pk, d->dh_pub, c.dh_pk_len);
	n = tf_cert_sign(&c, w->ca_sk, d->cert, TF_CERT_MAX);
	assert_true(n > 0);
	d->certlen = (size_t)n;
	assert_int_equal(
		tf_e2e_prekeys_new(w->suite, d->sign, 1, 4, 100, &d->pk), 0);
	n = tf_e2e_prekeys_bundle(d->pk, d->cert, d->certlen, d->bundle,
				  sizeof(d->bundle));
	assert_true(n > 0);
	d->bundlelen = (size_t)n;
}

static void world_init(struct world *w, uint8_t suite)
{
	uint8_t seed[32] = {7}, pk[TF_PK_MAX];

	memset(w, 0, sizeof(*w));
	w->suite = suite;
	w->s = tf_suite_by_id(suite);
	assert_int_equal(tf_key_sign_from_seed(w->s, seed, &w->ca_sk), 0);
	assert_int_equal(tf_key_public(w->ca_sk, pk, sizeof(pk)), 0);
	assert_int_equal(
		tf_cert_anchor_init(&w->anchor, w->s, pk, w->s->pk_bytes), 0);
	dev_init(w, &w->a, "alice", 1, 11);
	dev_init(w, &w->b, "bob", 2, 12);
	dev_init(w, &w->c, "carol", 3, 13);
}

static void dev_free(struct dev *d)
{
	tf_key_free(d->sign);
	tf_e2e_prekeys_free(d->pk);
}

static void world_free(struct world *w)
{
	dev_free(&w->a);
	dev_free(&w->b);
	dev_free(&w->c);
	tf_key_free(w->ca_sk);
}

/* from -> to: what the relay hands out (one one-time prekey), verified. */
static struct tf_e2e_session *initiate(struct world *w, struct dev *from,
				       struct dev *to, const char *officer)
{
	struct tf_e2e_bundle all, one;
	uint8_t pick[TF_E2E_BUNDLE_MAX];
	struct tf_e2e_session *s = NULL;
	int n;

	assert_int_equal(tf_e2e_bundle_parse(to->bundle, to->bundlelen, &all),
			 0);
	assert_int_equal(all.opk_count, tf_e2e_prekeys_opk_left(to->pk));
	n = tf_e2e_bundle_pick(&all, 0, pick, sizeof(pick));
	assert_true(n > 0);
	assert_int_equal(tf_e2e_bundle_parse(pick, (size_t)n, &one), 0);
	assert_int_equal(one.opk_count, 1);
	assert_int_equal(tf_e2e_bundle_verify(&one, &w->anchor, NOW, NULL,
					      officer, NULL),
			 0);
	assert_int_equal(tf_e2e_session_initiate(w->suite, from->dh_priv,
						 from->cert, from->certlen,
						 &one, &s),
			 0);
	return s;
}

struct msg {
	uint8_t b[TF_E2E_MSG_MAX];
	size_t n;
};

static void enc(struct tf_e2e_session *s, const char *text, struct msg *m)
{
	int n = tf_e2e_encrypt(s, (const uint8_t *)text, strlen(text), m->b,
			       sizeof(m->b));
	assert_true(n > 0);
	m->n = (size_t)n;
	/* the relay sees only this: never the text */
	assert_null(memmem(m->b, m->n, CANARY, strlen(CANARY)));
}

static void dec_ok(struct tf_e2e_session *s, const struct msg *m,
		   const char *text)
{
	uint8_t pt[TF_E2E_PT_MAX];
	int n = tf_e2e_decrypt(s, m->b, m->n, pt, sizeof(pt));

	assert_int_equal(n, (int)strlen(text));
	assert_memory_equal(pt, text, strlen(text));
}

static struct tf_e2e_session *accept_ok(struct world *w, struct dev *d,
					const struct msg *m, const char *text,
					const char *from)
{
	uint8_t pt[TF_E2E_PT_MAX];
	struct tf_e2e_session *s = NULL;
	struct tf_cert peer;
	int n = tf_e2e_session_accept(w->suite, d->dh_priv, d->pk, &w->anchor,
				      NOW, NULL, m->b, m->n, &peer, &s, pt,
				      sizeof(pt));

	assert_int_equal(n, (int)strlen(text));
	assert_memory_equal(pt, text, strlen(text));
	assert_string_equal(peer.officer, from);
	return s;
}

/* TF_E2E_WRITE_CORPUS=DIR: the seeds of fuzz/corpus/fuzz_e2e (selector
 * byte, then a real message or bundle of each suite). */
static void seed(uint8_t sel, uint8_t suite, const char *name, const uint8_t *b,
		 size_t n)
{
	const char *dir = getenv("TF_E2E_WRITE_CORPUS");
	char path[512];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s-%s", dir, name,
		 suite == TF_SUITE_INTL ? "intl" : "gm");
	f = fopen(path, "wbe");
	assert_non_null(f);
	assert_int_equal(fwrite(&sel, 1, 1, f), 1);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_roundtrip(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_session *sa, *sb;
		struct msg m0, m1, r0, m2, r1;

		world_init(&w, suite);
		sa = initiate(&w, &w.a, &w.b, "bob");
		enc(sa, "hello " CANARY, &m0);
		enc(sa, "second " CANARY, &m1);
		assert_int_equal(m0.b[1], TF_E2E_TYPE_PREKEY);
		sb = accept_ok(&w, &w.b, &m0, "hello " CANARY, "alice");
		/* the one-time prekey is gone */
		assert_int_equal(tf_e2e_prekeys_opk_left(w.b.pk), 3);
		dec_ok(sb, &m1, "second " CANARY);
		enc(sb, "reply " CANARY, &r0);
		assert_int_equal(r0.b[1], TF_E2E_TYPE_RATCHET);
		dec_ok(sa, &r0, "reply " CANARY);
		seed(0, suite, "prekey-msg", m0.b, m0.n);
		seed(0, suite, "ratchet-msg", r0.b, r0.n);
		seed(1, suite, "bundle", w.b.bundle, w.b.bundlelen);
		/* answered: no more X3DH header */
		enc(sa, "third", &m2);
		assert_int_equal(m2.b[1], TF_E2E_TYPE_RATCHET);
		dec_ok(sb, &m2, "third");
		enc(sb, "fourth", &r1);
		dec_ok(sa, &r1, "fourth");
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sb);
		world_free(&w);
	}
}

static void test_out_of_order(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_session *sa, *sb;
		struct msg m[5], r[3];
		char t[32];

		world_init(&w, suite);
		sa = initiate(&w, &w.a, &w.b, "bob");
		for (int i = 0; i < 5; i++) {
			snprintf(t, sizeof(t), "a%d", i);
			enc(sa, t, &m[i]);
		}
		/* the first that arrives may be any PREKEY message */
		sb = accept_ok(&w, &w.b, &m[3], "a3", "alice");
		dec_ok(sb, &m[1], "a1");
		dec_ok(sb, &m[4], "a4");
		dec_ok(sb, &m[0], "a0");
		/* across a DH ratchet step: replies, then late a2 */
		enc(sb, "b0", &r[0]);
		enc(sb, "b1", &r[1]);
		dec_ok(sa, &r[1], "b1");
		enc(sa, "a5", &m[0]);
		dec_ok(sb, &m[0], "a5");
		dec_ok(sb, &m[2], "a2");
		enc(sb, "b2", &r[2]);
		dec_ok(sa, &r[2], "b2");
		dec_ok(sa, &r[0], "b0");
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sb);
		world_free(&w);
	}
}

static void test_skipped_bounded(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_session *sa, *sb;
		struct msg first, mid, last;
		uint8_t pt[TF_E2E_PT_MAX];

		world_init(&w, suite);
		sa = initiate(&w, &w.a, &w.b, "bob");
		enc(sa, "first", &first);
		sb = accept_ok(&w, &w.b, &first, "first", "alice");
		enc(sa, "mid", &mid);
		for (int i = 0; i < TF_E2E_MAX_SKIP; i++)
			enc(sa, "x", &last);
		enc(sa, "last", &last);
		/* one more than MAX_SKIP keys to derive: refused */
		assert_int_equal(
			tf_e2e_decrypt(sb, last.b, last.n, pt, sizeof(pt)),
			-ERANGE);
		/* and the session did not move */
		dec_ok(sb, &mid, "mid");
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sb);
		world_free(&w);
	}
}

static void test_replay(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_session *sa, *sb, *s2 = NULL;
		struct msg m0, m1, m2;
		uint8_t pt[TF_E2E_PT_MAX];
		struct tf_e2e_msg pm;

		world_init(&w, suite);
		sa = initiate(&w, &w.a, &w.b, "bob");
		enc(sa, "zero", &m0);
		enc(sa, "one", &m1);
		enc(sa, "two", &m2);
		sb = accept_ok(&w, &w.b, &m0, "zero", "alice");
		dec_ok(sb, &m2, "two");
		dec_ok(sb, &m1, "one");
		/* each again: refused, on the session */
		assert_int_equal(tf_e2e_decrypt(sb, m1.b, m1.n, pt, sizeof(pt)),
				 -EALREADY);
		assert_int_equal(tf_e2e_decrypt(sb, m2.b, m2.n, pt, sizeof(pt)),
				 -EALREADY);
		assert_int_equal(tf_e2e_msg_parse(m0.b, m0.n, &pm), 0);
		assert_true(tf_e2e_session_is_base(sb, &pm));
		assert_int_equal(tf_e2e_decrypt(sb, m0.b, m0.n, pt, sizeof(pt)),
				 -EALREADY);
		/* and as a new session: its one-time prekey is used */
		assert_int_equal(tf_e2e_session_accept(suite, w.b.dh_priv,
						       w.b.pk, &w.anchor, NOW,
						       NULL, m0.b, m0.n, NULL,
						       &s2, pt, sizeof(pt)),
				 -ENOKEY);
		assert_null(s2);
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sb);
		world_free(&w);
	}
}

static void test_tamper(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_session *sa, *sb, *s2;
		struct msg m0, r0, bad;
		uint8_t pt[TF_E2E_PT_MAX];

		world_init(&w, suite);
		sa = initiate(&w, &w.a, &w.b, "bob");
		enc(sa, "zero", &m0);
		/* a flipped bit anywhere in the PREKEY message (header,
		 * certificate, ratchet key, counters, body, tag) */
		for (size_t i = 0; i < m0.n; i++) {
			bad = m0;
			bad.b[i] ^= 0x04;
			s2 = NULL;
			assert_true(tf_e2e_session_accept(
					    suite, w.b.dh_priv, w.b.pk,
					    &w.anchor, NOW, NULL, bad.b, bad.n,
					    NULL, &s2, pt, sizeof(pt)) < 0);
			assert_null(s2);
		}
		/* no forgery burnt the one-time prekey */
		assert_int_equal(tf_e2e_prekeys_opk_left(w.b.pk), 4);
		sb = accept_ok(&w, &w.b, &m0, "zero", "alice");
		enc(sb, "reply", &r0);
		for (size_t i = 0; i < r0.n; i++) {
			bad = r0;
			bad.b[i] ^= 0x80;
			assert_true(tf_e2e_decrypt(sa, bad.b, bad.n, pt,
						   sizeof(pt)) < 0);
		}
		/* truncated */
		for (size_t i = 0; i < r0.n; i++)
			assert_true(tf_e2e_decrypt(sa, r0.b, i, pt,
						   sizeof(pt)) < 0);
		dec_ok(sa, &r0, "reply");
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sb);
		world_free(&w);
	}
}

static void test_wrong_identity(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_bundle b;
		struct tf_e2e_prekeys *forged = NULL;
		uint8_t fb[TF_E2E_BUNDLE_MAX], pt[TF_E2E_PT_MAX];
		struct tf_e2e_session *sa, *sc, *sb;
		struct msg ma, mc, mc2;
		int n;

		world_init(&w, suite);
		/* bob's certificate with a prekey signed by carol's key (what
		 * a relay holding a key of its own could try) */
		assert_int_equal(
			tf_e2e_prekeys_new(suite, w.c.sign, 1, 1, 100, &forged),
			0);
		n = tf_e2e_prekeys_bundle(forged, w.b.cert, w.b.certlen, fb,
					  sizeof(fb));
		assert_true(n > 0);
		assert_int_equal(tf_e2e_bundle_parse(fb, (size_t)n, &b), 0);
		assert_int_equal(tf_e2e_bundle_verify(&b, &w.anchor, NOW, NULL,
						      "bob", NULL),
				 -EKEYREJECTED);
		/* carol's genuine bundle handed out when bob was asked for */
		assert_int_equal(
			tf_e2e_bundle_parse(w.c.bundle, w.c.bundlelen, &b), 0);
		assert_int_equal(tf_e2e_bundle_verify(&b, &w.anchor, NOW, NULL,
						      "bob", NULL),
				 -EKEYREJECTED);
		/* an expired certificate */
		assert_true(tf_e2e_bundle_verify(&b, &w.anchor, NOW + 2 * 86400,
						 NULL, "carol", NULL) < 0);
		/* a relay swaps the sender: carol's message to bob presented
		 * as alice's, on bob's session with alice */
		sa = initiate(&w, &w.a, &w.b, "bob");
		sc = initiate(&w, &w.c, &w.b, "bob");
		enc(sa, "from alice", &ma);
		sb = accept_ok(&w, &w.b, &ma, "from alice", "alice");
		enc(sc, "from carol", &mc);
		enc(sc, "from carol 2", &mc2);
		assert_true(tf_e2e_decrypt(sb, mc.b, mc.n, pt, sizeof(pt)) < 0);
		assert_true(tf_e2e_decrypt(sb, mc2.b, mc2.n, pt, sizeof(pt)) <
			    0);
		tf_e2e_prekeys_free(forged);
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sb);
		tf_e2e_session_free(sc);
		world_free(&w);
	}
}

static void test_state_files(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_session *sa, *sb, *sb2 = NULL;
		struct tf_e2e_prekeys *pk2 = NULL;
		struct msg m0, m1;
		uint8_t *buf = malloc(tf_e2e_session_encoded_bytes());
		size_t cap = tf_e2e_session_encoded_bytes();
		int n;

		assert_non_null(buf);
		world_init(&w, suite);
		n = tf_e2e_prekeys_encode(w.b.pk, buf, cap);
		assert_int_equal(n, (int)tf_e2e_prekeys_encoded_bytes());
		assert_int_equal(tf_e2e_prekeys_decode(buf, (size_t)n, &pk2),
				 0);
		buf[0] ^= 1;
		assert_int_equal(tf_e2e_prekeys_decode(buf, (size_t)n, &pk2),
				 -EBADMSG);
		tf_e2e_prekeys_free(w.b.pk);
		w.b.pk = pk2;
		sa = initiate(&w, &w.a, &w.b, "bob");
		enc(sa, "zero", &m0);
		enc(sa, "one", &m1);
		sb = accept_ok(&w, &w.b, &m0, "zero", "alice");
		n = tf_e2e_session_encode(sb, buf, cap);
		assert_int_equal(n, (int)cap);
		assert_int_equal(
			tf_e2e_session_decode(buf, (size_t)n - 1, &sb2),
			-EBADMSG);
		assert_int_equal(tf_e2e_session_decode(buf, (size_t)n, &sb2),
				 0);
		dec_ok(sb2, &m1, "one");
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sb);
		tf_e2e_session_free(sb2);
		free(buf);
		world_free(&w);
	}
}

/* Top-up: new ids, the old private halves still open their messages, a
 * bundle of the newest N, the table bounded. */
static void test_top_up(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_session *sa, *sb;
		struct tf_e2e_bundle b;
		struct msg m0;
		uint8_t out[TF_E2E_BUNDLE_MAX];
		int n;

		world_init(&w, suite);
		sa = initiate(&w, &w.a, &w.b, "bob"); /* opk 100 */
		enc(sa, "before the top-up", &m0);
		assert_int_equal(tf_e2e_prekeys_top_up(w.b.pk, 4), 0);
		assert_int_equal(tf_e2e_prekeys_opk_left(w.b.pk), 8);
		sb = accept_ok(&w, &w.b, &m0, "before the top-up", "alice");
		assert_int_equal(tf_e2e_prekeys_opk_left(w.b.pk), 7);
		n = tf_e2e_prekeys_bundle_newest(w.b.pk, w.b.cert, w.b.certlen,
						 2, out, sizeof(out));
		assert_true(n > 0);
		assert_int_equal(tf_e2e_bundle_parse(out, (size_t)n, &b), 0);
		assert_int_equal(b.opk_count, 2);
		/* the newest are the new ids: 106, 107 (100..103, then 104..) */
		assert_int_equal((b.opks[0] << 24 | b.opks[1] << 16 |
				  b.opks[2] << 8 | b.opks[3]),
				 106);
		/* slices of the unused ones, oldest first: a publication in
		 * several datagrams (5 skipped of 7: the same 106, 107) */
		n = tf_e2e_prekeys_bundle_slice(w.b.pk, w.b.cert, w.b.certlen,
						5, 10, out, sizeof(out));
		assert_true(n > 0);
		assert_int_equal(tf_e2e_bundle_parse(out, (size_t)n, &b), 0);
		assert_int_equal(b.opk_count, 2);
		assert_int_equal((b.opks[0] << 24 | b.opks[1] << 16 |
				  b.opks[2] << 8 | b.opks[3]),
				 106);
		n = tf_e2e_prekeys_bundle_slice(w.b.pk, w.b.cert, w.b.certlen,
						0, 3, out, sizeof(out));
		assert_int_equal(tf_e2e_bundle_parse(out, (size_t)n, &b), 0);
		assert_int_equal(b.opk_count, 3);
		/* none: the bundle that only asks the relay for its count */
		n = tf_e2e_prekeys_bundle_slice(w.b.pk, w.b.cert, w.b.certlen,
						0, 0, out, sizeof(out));
		assert_int_equal(tf_e2e_bundle_parse(out, (size_t)n, &b), 0);
		assert_int_equal(b.opk_count, 0);
		n = tf_e2e_prekeys_bundle_slice(w.b.pk, w.b.cert, w.b.certlen,
						7, 5, out, sizeof(out));
		assert_int_equal(tf_e2e_bundle_parse(out, (size_t)n, &b), 0);
		assert_int_equal(b.opk_count, 0);
		/* bounded however often it tops up */
		for (int i = 0; i < 30; i++)
			assert_int_equal(tf_e2e_prekeys_top_up(w.b.pk, 8), 0);
		assert_int_equal(tf_e2e_prekeys_opk_left(w.b.pk),
				 TF_E2E_OPK_MAX);
		assert_int_equal(
			tf_e2e_prekeys_top_up(w.b.pk, TF_E2E_OPK_MAX + 1),
			-EINVAL);
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sb);
		world_free(&w);
	}
}

/* Rotation: the previous signed prekey opens first messages during the
 * grace, not after; the state file keeps both. */
static void test_rotate(void **state)
{
	(void)state;
	for (uint8_t suite = TF_SUITE_INTL; suite <= TF_SUITE_GM; suite++) {
		struct world w;
		struct tf_e2e_session *sa, *sc, *sb = NULL;
		struct tf_e2e_prekeys *back = NULL;
		struct tf_cert peer;
		struct msg m0, m1;
		uint8_t pt[TF_E2E_PT_MAX], *enc_b;
		size_t el = tf_e2e_prekeys_encoded_bytes();

		world_init(&w, suite);
		sa = initiate(&w, &w.a, &w.b, "bob");
		sc = initiate(&w, &w.c, &w.b, "bob");
		enc(sa, "sealed to spk 1", &m0);
		enc(sc, "late, sealed to spk 1", &m1);
		/* its age starts at the first look; not due before max_age */
		assert_int_equal(
			tf_e2e_prekeys_rotate(w.b.pk, w.b.sign, NOW, 100, 200),
			1);
		assert_int_equal(tf_e2e_prekeys_rotate(w.b.pk, w.b.sign,
						       NOW + 99, 100, 200),
				 0);
		assert_int_equal(tf_e2e_prekeys_spk_id(w.b.pk), 1);
		assert_int_equal(tf_e2e_prekeys_rotate(w.b.pk, w.b.sign,
						       NOW + 100, 100, 200),
				 1);
		assert_int_equal(tf_e2e_prekeys_spk_id(w.b.pk), 2);
		/* the state file keeps the previous one */
		enc_b = malloc(el);
		assert_non_null(enc_b);
		assert_int_equal(tf_e2e_prekeys_encode(w.b.pk, enc_b, el),
				 (int)el);
		assert_int_equal(tf_e2e_prekeys_decode(enc_b, el, &back), 0);
		free(enc_b);
		tf_e2e_prekeys_free(w.b.pk);
		w.b.pk = back;
		/* after it: refused, never opened (its one-time prekey, the
		 * same as m0's, is still unused: the signed prekey is why) */
		assert_int_equal(
			tf_e2e_session_accept(suite, w.b.dh_priv, w.b.pk,
					      &w.anchor, NOW + 300, NULL, m1.b,
					      m1.n, &peer, &sb, pt, sizeof(pt)),
			-ENOKEY);
		assert_null(sb);
		/* in the grace: opens */
		assert_int_equal(
			tf_e2e_session_accept(suite, w.b.dh_priv, w.b.pk,
					      &w.anchor, NOW + 150, NULL, m0.b,
					      m0.n, &peer, &sb, pt, sizeof(pt)),
			(int)strlen("sealed to spk 1"));
		tf_e2e_session_free(sb);
		sb = NULL;
		tf_e2e_session_free(sa);
		tf_e2e_session_free(sc);
		world_free(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_skipped_bounded),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_wrong_identity),
		cmocka_unit_test(test_state_files),
		cmocka_unit_test(test_top_up),
		cmocka_unit_test(test_rotate),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
