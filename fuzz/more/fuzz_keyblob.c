/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the key-file parsers of src/lib/keys: device.secret,
 * sp.device / sp.credential, discardable, throttle, duress, the TPM object
 * files (device.secret.tpm, tpm.credential) and NV slot references
 * (tpm.slot). Every parser gets the
 * same input; a file that parses must serialize back to the same bytes
 * (the formats have no slack), which catches a parser that accepts more
 * than the writer can produce.
 */
#include <stdlib.h>
#include <string.h>

#include "src/lib/keys/internal.h"
#include "src/lib/keys/tpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t secret[TF_DEVSECRET_BYTES], sid;
	struct tf_spblob b;
	struct tf_throttle_rec t;
	const uint8_t *rnd;

	if (tf_keys_devsecret_parse(data, size, &sid, secret) == 0) {
		if (size != TF_DEVSECRET_FILE_BYTES ||
		    memcmp(secret, data + 8, sizeof(secret)) != 0)
			abort();
	}
	if (tf_keys_spblob_parse(data, size, &b) == 0) {
		uint8_t hdr[TF_SPBLOB_HDR];
		size_t hl = tf_keys_spblob_header(&b, b.sealed_len, hdr);
		if (size != hl + b.sealed_len || memcmp(hdr, data, hl) != 0 ||
		    memcmp(b.sealed, data + hl, b.sealed_len) != 0)
			abort();
	}
	if (tf_keys_discard_parse(data, size, &rnd) == 0) {
		if (rnd != data + 8 || size != TF_DISCARD_FILE_BYTES)
			abort();
	}
	if (tf_keys_throttle_parse(data, size, &t) == 0) {
		uint8_t out[TF_THROTTLE_BYTES];
		tf_keys_throttle_format(&t, out);
		if (size != TF_THROTTLE_BYTES || memcmp(out, data, size) != 0)
			abort();
	}
	{
		/* duress: fixed size, no slack; link and tag are the bytes */
		uint8_t link[TF_SALT_BYTES], tag[TF_DURESS_TAG_BYTES];
		if (tf_keys_duress_parse(data, size, link, tag) == 0 &&
		    (size != TF_DURESS_FILE_BYTES ||
		     memcmp(data, TF_DURESS_MAGIC, 4) != 0 ||
		     memcmp(link, data + 8, sizeof(link)) != 0 ||
		     memcmp(tag, data + 8 + sizeof(link), sizeof(tag)) != 0))
			abort();
	}
	{
		uint8_t kind, link[TF_TPM_LINK_BYTES];
		/* parse only: the TPM checks the marshalled parts it loads */
		if (tf_tpm_file_parse(data, size, &kind, link) == 0 &&
		    kind != 1 && kind != 2)
			abort(); /* only the two kinds we write may parse */
	}
	{
		struct tf_tpm_slotref r;
		uint8_t out[TF_TPM_SLOTREF_BYTES];
		if (tf_tpm_slotref_parse(data, size, &r) == 0) {
			tf_tpm_slotref_format(&r, out);
			if (size != sizeof(out) || memcmp(out, data, size) != 0)
				abort();
		}
	}
	return 0;
}
