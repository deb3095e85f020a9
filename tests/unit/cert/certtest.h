/* SPDX-License-Identifier: ISC */
/*
 * What the tests of src/lib/cert share: a fixed clock, and a CA made
 * from a seed byte (the same byte, the same CA: a test can make another
 * CA of the same suite with another byte). Include after <cmocka.h>.
 */
#ifndef TF_TEST_CERTTEST_H
#define TF_TEST_CERTTEST_H

#include <string.h>

#include "twofold/cert.h"

#define NOW 1800000000ull
#define DAY 86400ull

static inline int setup(void **state)
{
	(void)state;
	return tf_crypto_init() == 0 ? 0 : -1;
}

struct ca {
	const struct tf_suite *s;
	struct tf_key *sk;
	struct tf_cert_anchor anchor;
};

static inline void ca_make(struct ca *ca, const struct tf_suite *s,
			   uint8_t seedb)
{
	uint8_t seed[TF_KEY_BYTES], pk[TF_PK_MAX];

	memset(seed, seedb, sizeof(seed));
	ca->s = s;
	assert_int_equal(tf_key_sign_from_seed(s, seed, &ca->sk), 0);
	assert_int_equal(tf_key_public(ca->sk, pk, sizeof(pk)), 0);
	assert_int_equal(tf_cert_anchor_init(&ca->anchor, s, pk, s->pk_bytes),
			 0);
}

#endif
