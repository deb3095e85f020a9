/* SPDX-License-Identifier: ISC */
/*
 * Fixed signing keys for the fuzz targets of signed records (certificates,
 * deny-lists, rosters, alerts). The keys come from fixed seeds, the same
 * ones the corpus under fuzz/corpus was made with, so a corpus record
 * verifies and the fuzzer reaches the code behind the signature; the
 * private keys are never in the input, so nothing mutated may verify.
 */
#ifndef TF_FUZZKEYS_H
#define TF_FUZZKEYS_H

#include <stdlib.h>
#include <string.h>

#include "twofold/cert.h"

/* The public keys of the first two suites' signers seeded with seedbyte
 * (0x11: the CA of fuzz/corpus/fuzz_cert; 0x22: the alert signer). A
 * suite not built leaves its slot NULL. Aborts on any failure: a target
 * with no keys fuzzes nothing. */
static inline void fuzz_sign_keys(uint8_t seedbyte,
				  const struct tf_suite *suites[2],
				  uint8_t pks[2][TF_PK_MAX])
{
	const struct tf_suite *s;
	uint8_t seed[TF_KEY_BYTES];

	if (tf_crypto_init() < 0)
		abort();
	tf_suite_foreach(i, s)
	{
		struct tf_key *k = NULL;

		if (i >= 2)
			break;
		memset(seed, seedbyte, sizeof(seed));
		if (tf_key_sign_from_seed(s, seed, &k) < 0 ||
		    tf_key_public(k, pks[i], TF_PK_MAX) < 0)
			abort();
		suites[i] = s;
		tf_key_free(k);
	}
}

/* The fixed CA of fuzz/corpus/fuzz_cert as an anchor of each suite,
 * made on the first call (a suite not built: a zeroed anchor) */
static inline const struct tf_cert_anchor *fuzz_ca_anchors(void)
{
	static struct tf_cert_anchor anchors[2];
	static bool ready;
	const struct tf_suite *suites[2] = {NULL, NULL};
	uint8_t pks[2][TF_PK_MAX];

	if (ready)
		return anchors;
	fuzz_sign_keys(0x11, suites, pks);
	for (size_t i = 0; i < 2; i++)
		if (suites[i] != NULL &&
		    tf_cert_anchor_init(&anchors[i], suites[i], pks[i],
					suites[i]->pk_bytes) < 0)
			abort();
	ready = true;
	return anchors;
}

#endif
