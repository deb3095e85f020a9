/* SPDX-License-Identifier: ISC */
/* Talk-group rosters and epoch keys (src/lib/cert/roster.c), both suites:
 * round trip with 1024 members, one-bit tamper anywhere, the ghost-member
 * forgeries a relay could try (unsigned, signed by an officer or by a
 * group authority of another CA, a revoked authority, an old epoch),
 * another group, expiry, bounds (1025 members, order, duplicates), and
 * the epoch key schedule (join ratchet one-way, talker keys distinct). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twofold/roster.h"
#include "certtest.h"

struct signer {
	struct tf_key *sk;
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
};

/* a key pair certified by ca with role */
static void signer_make(struct signer *g, struct ca *ca, unsigned role,
			uint64_t serial, uint8_t seedb)
{
	uint8_t seed[TF_KEY_BYTES];
	struct tf_cert c;
	int n;

	memset(seed, seedb, sizeof(seed));
	assert_int_equal(tf_key_sign_from_seed(ca->s, seed, &g->sk), 0);
	memset(&c, 0, sizeof(c));
	c.suite = ca->s->id;
	c.role = (uint8_t)role;
	c.serial = serial;
	c.not_before = NOW - DAY;
	c.not_after = NOW + 30 * DAY;
	strcpy(c.officer, "groupd");
	strcpy(c.device, "groupd.1");
	c.sign_pk_len = c.dh_pk_len = ca->s->pk_bytes;
	assert_int_equal(tf_key_public(g->sk, c.sign_pk, TF_PK_MAX), 0);
	memset(c.dh_pk, 0x05, ca->s->pk_bytes);
	n = tf_cert_sign(&c, ca->sk, g->cert, sizeof(g->cert));
	assert_true(n > 0);
	g->certlen = (size_t)n;
}

static struct tf_roster *roster_make(const struct tf_suite *s, size_t n,
				     uint64_t epoch)
{
	struct tf_roster *r = NULL;
	uint8_t pk[TF_PK_MAX];

	assert_int_equal(tf_roster_new(n, &r), 0);
	strcpy(r->group, "north-1");
	r->epoch = epoch;
	r->issued_at = NOW - 60;
	r->expires_at = NOW + 3600;
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		/* descending names: tf_roster_sort has work to do */
		snprintf(r->m[i].officer, sizeof(r->m[i].officer),
			 "officer-%04zu", n - i);
		memset(pk, (int)(i & 0xff), sizeof(pk));
		pk[1] = (uint8_t)(i >> 8);
		assert_int_equal(tf_roster_device_hash(s, pk, s->pk_bytes,
						       r->m[i].device),
				 0);
		r->m[i].role = i == 0 ? TF_ROLE_DISPATCHER : TF_ROLE_OFFICER;
	}
	assert_int_equal(tf_roster_sort(r), 0);
	return r;
}

static void test_one_suite(const struct tf_suite *s)
{
	struct ca ca, other_ca;
	struct signer ga, officer, foreign, revoked;
	_cleanup_free_ struct tf_roster *r = NULL, *got = NULL;
	_cleanup_free_ uint8_t *w = NULL, *w2 = NULL;
	struct tf_denylist *dl = NULL;
	uint8_t *dlb = NULL;
	size_t wl, wl2, dll;
	uint64_t revoked_serial = 77;

	ca_make(&ca, s, 0x11);
	ca_make(&other_ca, s, 0x12);
	signer_make(&ga, &ca, TF_ROLE_GROUP_AUTHORITY, 10, 0x21);
	signer_make(&officer, &ca, TF_ROLE_OFFICER, 11, 0x22);
	signer_make(&foreign, &other_ca, TF_ROLE_GROUP_AUTHORITY, 12, 0x23);
	signer_make(&revoked, &ca, TF_ROLE_GROUP_AUTHORITY, revoked_serial,
		    0x24);
	assert_int_equal(tf_denylist_sign(ca.sk, NOW - 10, NOW + DAY,
					  &revoked_serial, 1, &dlb, &dll),
			 0);
	assert_int_equal(tf_denylist_parse(dlb, dll, &ca.anchor, &dl), 0);

	r = roster_make(s, TF_ROSTER_MAX, 5);
	assert_int_equal(tf_roster_sign(r, ga.sk, ga.cert, ga.certlen, &w, &wl),
			 0);
	assert_true(wl <= TF_ROSTER_WIRE_MAX);
	assert_int_equal(tf_roster_verify(w, wl, &ca.anchor, dl, NOW, "north-1",
					  4, &got),
			 0);
	assert_int_equal(got->n, TF_ROSTER_MAX);
	assert_int_equal(got->epoch, 5);
	assert_string_equal(got->group, "north-1");
	assert_string_equal(got->authority.officer, "groupd");
	for (size_t i = 0; i < got->n; i++) {
		assert_string_equal(got->m[i].officer, r->m[i].officer);
		assert_memory_equal(got->m[i].device, r->m[i].device,
				    TF_ROSTER_DEVHASH_BYTES);
		assert_int_equal(got->m[i].role, r->m[i].role);
	}
	assert_int_equal(tf_roster_find(got, "officer-0001", NULL), 0);
	assert_int_equal(tf_roster_find(got, "officer-9999", NULL), -ENOENT);
	assert_int_equal(tf_roster_find(got, r->m[3].officer, r->m[3].device),
			 3);

	/* an old epoch (a replay of a roster that still listed someone) */
	assert_int_equal(
		tf_roster_verify(w, wl, &ca.anchor, dl, NOW, NULL, 5, NULL),
		-ESTALE);
	assert_int_equal(
		tf_roster_verify(w, wl, &ca.anchor, dl, NOW, NULL, 9, NULL),
		-ESTALE);
	/* another group, the clock */
	assert_int_equal(
		tf_roster_verify(w, wl, &ca.anchor, dl, NOW, "south", 0, NULL),
		-EXDEV);
	assert_int_equal(tf_roster_verify(w, wl, &ca.anchor, dl, NOW + 3600,
					  NULL, 0, NULL),
			 -EKEYEXPIRED);
	assert_int_equal(tf_roster_verify(w, wl, &ca.anchor, dl,
					  NOW - 60 - TF_ROSTER_SKEW - 1, NULL,
					  0, NULL),
			 -ETIME);
	/* the other CA does not know this authority */
	assert_int_equal(tf_roster_verify(w, wl, &other_ca.anchor, NULL, NOW,
					  NULL, 0, NULL),
			 -ENOKEY);

	/* ghost members: signed by an officer, by another CA's authority,
	 * by a revoked authority, by a key that is not the embedded cert's */
	free(r);
	r = roster_make(s, 3, 6);
	assert_int_equal(tf_roster_sign(r, officer.sk, officer.cert,
					officer.certlen, &w2, &wl2),
			 0);
	assert_int_equal(
		tf_roster_verify(w2, wl2, &ca.anchor, dl, NOW, NULL, 0, NULL),
		-EPERM);
	free(w2);
	assert_int_equal(tf_roster_sign(r, foreign.sk, foreign.cert,
					foreign.certlen, &w2, &wl2),
			 0);
	assert_int_equal(
		tf_roster_verify(w2, wl2, &ca.anchor, dl, NOW, NULL, 0, NULL),
		-ENOKEY);
	free(w2);
	assert_int_equal(tf_roster_sign(r, revoked.sk, revoked.cert,
					revoked.certlen, &w2, &wl2),
			 0);
	assert_int_equal(
		tf_roster_verify(w2, wl2, &ca.anchor, dl, NOW, NULL, 0, NULL),
		-EKEYREVOKED);
	free(w2);
	assert_int_equal(
		tf_roster_sign(r, officer.sk, ga.cert, ga.certlen, &w2, &wl2),
		0);
	assert_int_equal(
		tf_roster_verify(w2, wl2, &ca.anchor, dl, NOW, NULL, 0, NULL),
		-EBADMSG);
	free(w2);
	w2 = NULL;

	/* every bit of a small roster matters */
	free(w);
	w = NULL;
	assert_int_equal(tf_roster_sign(r, ga.sk, ga.cert, ga.certlen, &w, &wl),
			 0);
	assert_int_equal(
		tf_roster_verify(w, wl, &ca.anchor, dl, NOW, NULL, 0, NULL), 0);
	for (size_t i = 0; i < wl; i++)
		for (int b = 0; b < 8; b++) {
			w[i] ^= (uint8_t)(1u << b);
			assert_int_not_equal(tf_roster_verify(w, wl, &ca.anchor,
							      dl, NOW, NULL, 0,
							      NULL),
					     0);
			w[i] ^= (uint8_t)(1u << b);
		}
	/* the signature stripped (length 0) or zeroed: what an evil relay
	 * can do without any key (evil.c roster-nosig, roster-zerosig) */
	{
		_cleanup_free_ struct tf_roster *pr = NULL;
		_cleanup_free_ uint8_t *z = malloc(wl);
		assert_non_null(z);
		assert_int_equal(tf_roster_parse(w, wl, &pr), 0);
		memcpy(z, w, pr->tbs_len);
		z[pr->tbs_len] = 0;
		assert_int_equal(tf_roster_verify(z, pr->tbs_len + 1,
						  &ca.anchor, dl, NOW, NULL, 0,
						  NULL),
				 -EBADMSG);
		memcpy(z, w, wl);
		memset(z + pr->tbs_len + 1, 0, wl - pr->tbs_len - 1);
		assert_int_equal(tf_roster_verify(z, wl, &ca.anchor, dl, NOW,
						  NULL, 0, NULL),
				 -EBADMSG);
	}
	/* truncated, trailing byte */
	for (size_t l = 0; l < wl; l++)
		assert_int_not_equal(tf_roster_parse(w, l, &got), 0);
	w2 = malloc(wl + 1);
	memcpy(w2, w, wl);
	w2[wl] = 0;
	assert_int_equal(tf_roster_parse(w2, wl + 1, &got), -EBADMSG);
	free(w2);
	w2 = NULL;
	/* a certificate-signed blob is not a roster signature */
	{
		uint8_t sig[TF_SIG_MAX];
		size_t sl;
		free(got);
		got = NULL;
		assert_int_equal(tf_roster_parse(w, wl, &got), 0);
		assert_int_equal(tf_sign_id(ga.sk, TF_CERT_SIGN_ID, w,
					    got->tbs_len, sig, sizeof(sig),
					    &sl),
				 0);
		w2 = malloc(got->tbs_len + 1 + sl);
		memcpy(w2, w, got->tbs_len);
		w2[got->tbs_len] = (uint8_t)sl;
		memcpy(w2 + got->tbs_len + 1, sig, sl);
		assert_int_equal(tf_roster_verify(w2, got->tbs_len + 1 + sl,
						  &ca.anchor, dl, NOW, NULL, 0,
						  NULL),
				 -EBADMSG);
	}

	/* bounds on the signing side */
	{
		struct tf_roster *big = NULL;
		assert_int_equal(tf_roster_new(TF_ROSTER_MAX + 1, &big),
				 -EINVAL);
		r->n = 0;
		free(w);
		w = NULL;
		assert_int_equal(
			tf_roster_sign(r, ga.sk, ga.cert, ga.certlen, &w, &wl),
			-EINVAL);
		r->n = 3;
		memcpy(&r->m[1], &r->m[0], sizeof(r->m[0]));
		assert_int_equal(
			tf_roster_sign(r, ga.sk, ga.cert, ga.certlen, &w, &wl),
			-EINVAL);
		assert_int_equal(tf_roster_sort(r), -EEXIST);
		free(r);
		r = roster_make(s, 3, 0);
		assert_int_equal(
			tf_roster_sign(r, ga.sk, ga.cert, ga.certlen, &w, &wl),
			-EINVAL);
		r->epoch = 1;
		r->expires_at = r->issued_at + TF_ROSTER_MAX_VALIDITY + 1;
		assert_int_equal(
			tf_roster_sign(r, ga.sk, ga.cert, ga.certlen, &w, &wl),
			-EINVAL);
	}

	tf_denylist_free(dl);
	free(dlb);
	tf_key_free(ca.sk);
	tf_key_free(other_ca.sk);
	tf_key_free(ga.sk);
	tf_key_free(officer.sk);
	tf_key_free(foreign.sk);
	tf_key_free(revoked.sk);
}

static void test_rosters(void **state)
{
	const struct tf_suite *s;

	(void)state;
	tf_suite_foreach(i, s) test_one_suite(s);
}

static void test_epoch_keys(void **state)
{
	const struct tf_suite *s;

	(void)state;
	tf_suite_foreach(i, s)
	{
		uint8_t sec[TF_GROUP_SECRET_BYTES], j1[TF_GROUP_SECRET_BYTES],
			j2[TF_GROUP_SECRET_BYTES], t[4][TF_KEY_BYTES];

		memset(sec, 0x42, sizeof(sec));
		assert_int_equal(tf_group_secret_join(s, sec, "north-1", 2, j1),
				 0);
		assert_int_equal(tf_group_secret_join(s, sec, "north-1", 2, j2),
				 0);
		assert_memory_equal(j1, j2, sizeof(j1));
		assert_memory_not_equal(j1, sec, sizeof(j1));
		/* the epoch and the group are bound */
		assert_int_equal(tf_group_secret_join(s, sec, "north-1", 3, j2),
				 0);
		assert_memory_not_equal(j1, j2, sizeof(j1));
		assert_int_equal(tf_group_secret_join(s, sec, "north-2", 2, j2),
				 0);
		assert_memory_not_equal(j1, j2, sizeof(j1));
		assert_int_equal(
			tf_group_talker_key(s, j1, "north-1", 2, 0, t[0]), 0);
		assert_int_equal(
			tf_group_talker_key(s, j1, "north-1", 2, 1, t[1]), 0);
		assert_int_equal(
			tf_group_talker_key(s, sec, "north-1", 2, 0, t[2]), 0);
		assert_int_equal(
			tf_group_talker_key(s, j1, "north-1", 3, 0, t[3]), 0);
		for (int a = 0; a < 4; a++)
			for (int b = a + 1; b < 4; b++)
				assert_memory_not_equal(t[a], t[b],
							TF_KEY_BYTES);
		assert_int_equal(tf_group_talker_key(s, j1, "north-1", 2,
						     TF_ROSTER_MAX, t[0]),
				 -EINVAL);
		assert_int_equal(
			tf_group_talker_key(s, j1, "bad id", 2, 0, t[0]),
			-EINVAL);
		assert_int_equal(tf_group_secret_join(s, sec, "north-1",
						      TF_GROUP_EPOCH_MAX + 1,
						      j2),
				 -EINVAL);
	}
	assert_int_equal(tf_group_kid_epoch(tf_group_kid(0x123456789aull, 7)),
			 0x123456789aull);
	assert_int_equal(tf_group_kid_index(tf_group_kid(0x123456789aull, 7)),
			 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rosters),
		cmocka_unit_test(test_epoch_keys),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
