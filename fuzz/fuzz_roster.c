/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: talk-group rosters (src/lib/cert/roster.c), which a member
 * parses from whatever the relay hands it. The input is one roster: parse
 * it, check the parsed members are in strict order and in bounds, then
 * run the full verify against a fixed CA of each suite (the same CA seeds
 * as fuzz/corpus/fuzz_cert). Invariants: no read outside the input;
 * nothing forged verifies (the authority's key is not in the input, and a
 * corpus roster signed by the seed authority must still fail once
 * mutated, which the signature guarantees).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzkeys.h"
#include "twofold/roster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tf_cert_anchor *anchors = fuzz_ca_anchors();
	struct tf_roster *r = NULL;

	if (tf_roster_parse(data, size, &r) == 0) {
		if (r->n == 0 || r->n > TF_ROSTER_MAX || r->tbs_len >= size ||
		    r->epoch == 0 || r->epoch > TF_GROUP_EPOCH_MAX)
			abort();
		for (size_t i = 0; i < r->n; i++) {
			if (strlen(r->m[i].officer) == 0 ||
			    tf_roster_find(r, r->m[i].officer,
					   r->m[i].device) != (int)i)
				abort();
			if (i > 0 &&
			    strcmp(r->m[i - 1].officer, r->m[i].officer) > 0)
				abort();
		}
		free(r);
		r = NULL;
	}
	for (size_t i = 0; i < 2; i++) {
		if (tf_roster_verify(data, size, &anchors[i], NULL, 1800000000,
				     NULL, 0, &r) == 0) {
			/* only an unmutated corpus roster gets here */
			if (r == NULL || strcmp(r->authority.officer, "groupd"))
				abort();
			free(r);
			r = NULL;
		}
	}
	return 0;
}
