/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: SFrame frames (src/lib/comms/sframe.c), which a device
 * parses on every media packet a relay forwards. Input: a selector byte
 * (even intl, odd gm; bit 1 picks KID 0 or the frame's own KID), then a
 * frame. Invariants: peek's header lies inside the input and matches the
 * RFC 9605 lengths; nothing forged opens (the key is fixed and not in the
 * input, so every open must fail); a frame sealed with the peeked KID/CTR
 * and the same length re-parses to the same KID/CTR; the replay window
 * accepts the CTR once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/crypto.h"
#include "twofold/sframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t base[32] = "fuzz sframe base key, 32 bytes!";
static bool ready;
static uint8_t out[4096], again[4096 + TF_SFRAME_OVERHEAD_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tf_suite *s;
	struct tf_sframe_key *k = NULL;
	struct tf_sframe_window w;
	uint64_t kid, ctr, kid2, ctr2;
	int h, n;

	if (!ready) {
		if (tf_crypto_init() < 0)
			abort();
		ready = true;
	}
	if (size < 1)
		return 0;
	s = tf_suite_by_name((data[0] & 1) ? "gm" : "intl");
	h = tf_sframe_peek(data + 1, size - 1, &kid, &ctr);
	if (h < 0)
		return 0;
	if ((size_t)h > size - 1 || (size_t)h > TF_SFRAME_HDR_MAX ||
	    size - 1 - (size_t)h < TF_SFRAME_TAG_BYTES)
		abort();
	if (tf_sframe_key_derive(s, base, sizeof(base), (data[0] & 2) ? kid : 0,
				 &k) < 0)
		abort();
	n = tf_sframe_open(k, data + 1, size - 1, out, sizeof(out));
	if (n >= 0)
		abort(); /* a forgery opened */
	/* re-seal the same length with the peeked header values */
	if (size - 1 - (size_t)h - TF_SFRAME_TAG_BYTES <= sizeof(out)) {
		size_t pl = size - 1 - (size_t)h - TF_SFRAME_TAG_BYTES;
		struct tf_sframe_key *k2 = NULL;

		if (tf_sframe_key_derive(s, base, sizeof(base), kid, &k2) < 0)
			abort();
		memset(out, 0x5a, pl);
		n = tf_sframe_seal(k2, ctr, out, pl, again, sizeof(again));
		if (n < 0 ||
		    tf_sframe_peek(again, (size_t)n, &kid2, &ctr2) < 0 ||
		    kid2 != kid || ctr2 != ctr)
			abort();
		if (tf_sframe_open(k2, again, (size_t)n, out, sizeof(out)) !=
		    (int)pl)
			abort();
		tf_sframe_key_free(k2);
	}
	tf_sframe_window_init(&w);
	if (tf_sframe_window_update(&w, ctr) != 0 ||
	    tf_sframe_window_update(&w, ctr) != -EALREADY)
		abort();
	tf_sframe_key_free(k);
	return 0;
}
