/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: certificates and deny-lists (src/lib/cert), which a relay
 * parses from every client's handshake payload and a device from every
 * deny-list it fetches. Input: one selector byte, then the bytes. Even:
 * a certificate: parse, then the full verify against a fixed CA of each
 * suite (so the fuzzer reaches signature decoding behind the issuer
 * check when it copies a key id from the corpus). Odd: a deny-list:
 * parse unverified, walk it, then verify against both CAs.
 * Invariants: no read outside the input; nothing forged verifies (the
 * CAs' private keys are not in the input).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzkeys.h"
#include "twofold/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tf_cert_anchor *anchors = fuzz_ca_anchors();
	struct tf_cert c;
	struct tf_denylist *dl = NULL;

	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		if (tf_cert_parse(data + 1, size - 1, &c) == 0 &&
		    (c.sign_pk_len > TF_PK_MAX || c.tbs_len >= size))
			abort();
		for (size_t i = 0; i < 2; i++)
			if (tf_cert_verify(data + 1, size - 1, &anchors[i],
					   1800000000, ~0u, NULL, NULL) == 0)
				abort();
		return 0;
	}
	if (tf_denylist_parse_unverified(data + 1, size - 1, &dl) == 0) {
		uint64_t prev = 0;
		for (size_t i = 0; i < tf_denylist_count(dl); i++) {
			uint64_t v = tf_denylist_at(dl, i);
			if (i > 0 && v <= prev)
				abort();
			if (!tf_denylist_contains(dl, v))
				abort();
			prev = v;
		}
		tf_denylist_free(dl);
		dl = NULL;
	}
	for (size_t i = 0; i < 2; i++)
		if (tf_denylist_parse(data + 1, size - 1, &anchors[i], &dl) ==
		    0)
			abort();
	return 0;
}
