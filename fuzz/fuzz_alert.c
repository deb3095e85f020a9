/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: urgent alert records (src/lib/cert/alert.c), which the
 * daemon parses from every datagram reaching the secure persona's alert
 * port. Parse, then the full verify against a fixed signer of each suite.
 * Invariants: no read outside the input; what parses has NUL-terminated,
 * bounded fields; nothing forged verifies (the signers' private keys are
 * not in the input).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzkeys.h"
#include "twofold/alert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pks[2][TF_PK_MAX];
static const struct tf_suite *suites[2];
static bool ready;

static void init(void)
{
	fuzz_sign_keys(0x22, suites, pks);
	ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tf_alert a;

	if (!ready)
		init();
	if (tf_alert_parse(data, size, &a) == 0 &&
	    (a.tbs_len >= size || a.body_len > TF_ALERT_BODY_MAX ||
	     strlen(a.title) > TF_ALERT_TITLE_MAX ||
	     strlen(a.persona) > TF_ALERT_PERSONA_MAX ||
	     a.expires_at <= a.issued_at))
		abort();
	for (size_t i = 0; i < 2; i++)
		if (suites[i] &&
		    tf_alert_verify(data, size, suites[i], &pks[i], 1, "secure",
				    1800000000, NULL) == 0)
			abort();
	return 0;
}
