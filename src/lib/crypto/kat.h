/* SPDX-License-Identifier: ISC */
/*
 * Known-answer test engine (private; unit tests include it to prove the
 * engine fails closed). A KAT is a row: a runner, up to five inputs and the
 * expected output. Inputs and expectation are hex (spaces ignored), or
 * ASCII text when the string starts with a single quote: "'abc".
 */
#ifndef TWOFOLD_CRYPTO_KAT_H
#define TWOFOLD_CRYPTO_KAT_H

#include "internal.h"

#define TF_KAT_INPUTS 5
#define TF_KAT_OUT_MAX 256

struct tf_kat_in {
	const uint8_t *b[TF_KAT_INPUTS];
	size_t len[TF_KAT_INPUTS];
};

struct tf_kat {
	const char *name; /* named in the failure reason */
	/* Writes the computed answer; a negative return fails the KAT. */
	int (*run)(const struct tf_kat_in *in, uint8_t *out, size_t outcap,
		   size_t *outlen);
	const char *in[TF_KAT_INPUTS];
	const char *expect;
	bool full_only; /* slow: only in tf_crypto_selftest_full */
};

/* A suite's rows (struct tf_suite's kats points at one). */
struct tf_kat_set {
	const struct tf_kat *rows;
	size_t n;
};

extern const struct tf_kat tf_kat_intl[];
extern const size_t tf_kat_intl_count;
extern const struct tf_kat tf_kat_gm[];
extern const size_t tf_kat_gm_count;
extern const struct tf_kat tf_kat_common[];
extern const size_t tf_kat_common_count;

/* Runs every row (skipping full_only rows unless full). 0 if all match;
 * otherwise -EBADMSG and "KAT <name>: <what>" in why. */
TF_WUR int tf_kat_run(const struct tf_kat *t, size_t n, bool full, char *why,
		      size_t whylen);

#endif
