/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the catalog parsers (twofold/pkg.h): the whole-file
 * verifier (header, bounds, slots; it needs crypto for the signature
 * check, which random input fails) and the body parser directly, whose
 * results must respect every bound.
 */
#include <stdlib.h>
#include <string.h>

#include "twofold/pkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static struct tf_pkg_trust t;
	const struct tf_suite *s;
	struct tf_catalog *c = NULL;
	struct tf_pkg_err e;

	if (!init) {
		if (tf_crypto_init() < 0)
			abort();
		s = tf_suite_by_name("intl");
		/* an all-zero key id never matches a real key: the
		 * slots' checks and the untrusted path run */
		t.suite = s->id;
		t.n = 1;
		t.pk_len = s->pk_bytes;
		init = true;
	}
	s = tf_suite_by_name("intl");
	if (tf_catalog_verify(data, size, &t, s, &c, &e) == 0)
		tf_catalog_free(c);
	c = NULL;
	if (tf_catalog_parse_body((const char *)data, size, &c, &e) == 0) {
		if (c->n > TF_CAT_ENTRIES_MAX)
			abort();
		for (size_t i = 0; i < c->n; i++)
			if (c->entries[i].min_code == 0 ||
			    c->entries[i].min_code > c->entries[i].max_code ||
			    c->entries[i].personas == 0 ||
			    strlen(c->entries[i].name) > TF_PKG_NAME_MAX)
				abort();
		tf_catalog_free(c);
	}
	return 0;
}
