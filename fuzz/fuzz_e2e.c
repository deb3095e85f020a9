/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the end-to-end layer's parsers (src/lib/comms/e2e.c),
 * which a device runs on every message and bundle a relay hands it and a
 * relay runs on every bundle a device publishes. Input: one selector
 * byte, then the bytes: 0 a message (tf_e2e_msg_parse), 1 a prekey
 * bundle (tf_e2e_bundle_parse, then what a relay derives from it:
 * tf_e2e_bundle_pick of each one-time prekey, parsed again), 2 a session
 * state file, 3 a prekeys state file.
 * Invariants: a parsed message's fields lie inside the input and add up
 * to it; a picked bundle parses with one one-time prekey; no read outside
 * the input.
 */
#include <stdlib.h>
#include <string.h>

#include "twofold/e2e.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[TF_E2E_BUNDLE_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tf_e2e_msg m;
	struct tf_e2e_bundle b, one;
	struct tf_e2e_session *s = NULL;
	struct tf_e2e_prekeys *p = NULL;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		if (tf_e2e_msg_parse(data + 1, size - 1, &m) == 0 &&
		    (m.hdr_len + m.ctlen != size - 1 ||
		     m.ct != data + 1 + m.hdr_len ||
		     m.ctlen < TF_E2E_TAG_BYTES))
			abort();
		break;
	case 1:
		if (tf_e2e_bundle_parse(data + 1, size - 1, &b) != 0)
			break;
		for (size_t i = 0; i < b.opk_count; i++) {
			int n = tf_e2e_bundle_pick(&b, i, out, sizeof(out));

			if (n <= 0 ||
			    tf_e2e_bundle_parse(out, (size_t)n, &one) ||
			    one.opk_count != 1)
				abort();
		}
		break;
	case 2:
		if (tf_e2e_session_decode(data + 1, size - 1, &s) == 0)
			tf_e2e_session_free(s);
		break;
	default:
		if (tf_e2e_prekeys_decode(data + 1, size - 1, &p) == 0)
			tf_e2e_prekeys_free(p);
		break;
	}
	return 0;
}
