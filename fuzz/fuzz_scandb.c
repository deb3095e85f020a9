/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the scanner database bundle parser (tf_scandb_parse), which
 * the scanner helper runs on a bundle before its signature is checked.
 * Invariants: whatever parses has every file inside the buffer, names that
 * pass tf_scandb_name_ok, sizes that add up to the body, and a verify
 * against a key that signed nothing fails.
 */
#include <stdlib.h>
#include <string.h>

#include "twofold/crypto.h"
#include "twofold/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct tf_scandb db;
	char why[256];

	if (!init) {
		if (tf_crypto_init() < 0)
			abort();
		init = true;
	}
	if (tf_scandb_parse(data, size, &db, why, sizeof(why)) < 0)
		return 0;
	uint64_t sum = 0;
	for (size_t i = 0; i < db.n_files; i++) {
		const struct tf_scandb_file *f = &db.files[i];
		if (!tf_scandb_name_ok(f->name) || f->data < data ||
		    f->data + f->size > data + size)
			abort();
		sum += TF_SCANDB_ENTRY_HDR + strlen(f->name) + f->size;
	}
	if (sum != db.body_len || db.sig + db.sig_len != data + size)
		abort();
	const struct tf_suite *s = tf_suite_by_id(db.suite_id);
	if (s != NULL) {
		uint8_t pk[TF_PK_MAX] = {0};
		const uint8_t *pks[] = {pk};
		if (tf_scandb_verify(&db, s, pks, 1, why, sizeof(why)) == 0)
			abort();
	}
	return 0;
}
