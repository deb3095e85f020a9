/* SPDX-License-Identifier: ISC */
/*
 * Bounded parsers and writers for the per-persona key files. No crypto
 * here: everything is fixed-size fields checked before use, so this file is
 * what fuzz/more/fuzz_keyblob.c exercises.
 */
#include <string.h>

#include "src/lib/keys/internal.h"

int tf_keys_spblob_parse(const uint8_t *buf, size_t len, struct tf_spblob *out)
{
	struct tf_spblob b;
	size_t sealed_len, hlen;

	if (len < TF_SPBLOB_HDR_V1 || len > TF_SPBLOB_MAX ||
	    memcmp(buf, TF_SPBLOB_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] > TF_SPBLOB_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[4] != 1 && buf[4] != 2)
		return -EBADMSG;
	/* version 1 has no generation: it is generation 0 (discardable) */
	hlen = buf[4] == 1 ? TF_SPBLOB_HDR_V1 : TF_SPBLOB_HDR;
	if (len < hlen)
		return -EBADMSG;
	memset(&b, 0, sizeof(b));
	b.version = buf[4];
	b.generation = buf[4] == 1 ? 0 : tf_get_le32(buf + 36);
	b.protector = buf[5];
	b.suite_id = buf[6];
	b.kind = buf[7];
	b.opslimit = tf_get_le32(buf + 8);
	b.mem_kib = tf_get_le32(buf + 12);
	memcpy(b.salt, buf + 16, TF_SALT_BYTES);
	sealed_len = tf_get_le32(buf + 32);
	if (sealed_len != len - hlen)
		return -EBADMSG;
	/* the sealed part must at least hold the tf_seal header + SP */
	if (sealed_len < TF_BLOB_FIXED_HDR + TF_SP_BYTES ||
	    memcmp(buf + hlen, TF_BLOB_MAGIC, 4) != 0 ||
	    buf[hlen + 5] != b.suite_id)
		return -EBADMSG;
	switch (b.protector) {
	case TF_PROT_DEVICE:
		/* a device protector is never rotated: generation 0 */
		if (b.kind != 0 || b.opslimit != 0 || b.mem_kib != 0 ||
		    b.generation != 0)
			return -EBADMSG;
		break;
	case TF_PROT_CREDENTIAL:
		if (b.kind != TF_CRED_PIN && b.kind != TF_CRED_PASSPHRASE)
			return -EBADMSG;
		if (b.opslimit < TF_KDF_OPS_MIN ||
		    b.opslimit > TF_KDF_OPS_MAX ||
		    b.mem_kib < TF_KDF_MEM_KIB_MIN ||
		    b.mem_kib > TF_KDF_MEM_KIB_MAX)
			return -EBADMSG;
		break;
	default: return -EBADMSG;
	}
	memcpy(b.sealed, buf + hlen, sealed_len);
	b.sealed_len = sealed_len;
	*out = b;
	return 0;
}

size_t tf_keys_spblob_header(const struct tf_spblob *b, size_t sealed_len,
			     uint8_t hdr[static TF_SPBLOB_HDR])
{
	memcpy(hdr, TF_SPBLOB_MAGIC, 4);
	hdr[4] = b->version;
	hdr[5] = b->protector;
	hdr[6] = b->suite_id;
	hdr[7] = b->kind;
	tf_put_le32(hdr + 8, b->opslimit);
	tf_put_le32(hdr + 12, b->mem_kib);
	memcpy(hdr + 16, b->salt, TF_SALT_BYTES);
	tf_put_le32(hdr + 32, (uint32_t)sealed_len);
	if (b->version == 1)
		return TF_SPBLOB_HDR_V1;
	tf_put_le32(hdr + 36, b->generation);
	return TF_SPBLOB_HDR;
}

int tf_keys_discard_parse(const uint8_t *buf, size_t len,
			  const uint8_t **random)
{
	if (len != TF_DISCARD_FILE_BYTES || memcmp(buf, TF_DISCARD_MAGIC, 4))
		return -EBADMSG;
	if (buf[4] > TF_DISCARD_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[4] != TF_DISCARD_VERSION || buf[5] || buf[6] || buf[7])
		return -EBADMSG;
	*random = buf + 8;
	return 0;
}

int tf_keys_throttle_parse(const uint8_t *buf, size_t len,
			   struct tf_throttle_rec *out)
{
	struct tf_throttle_rec t;

	if (len != TF_THROTTLE_BYTES || memcmp(buf, TF_THROTTLE_MAGIC, 4))
		return -EBADMSG;
	if (buf[4] > TF_THROTTLE_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[4] != TF_THROTTLE_VERSION ||
	    (buf[5] & ~(TF_THROTTLE_ERASED | TF_THROTTLE_UNRECORDED)) ||
	    buf[5] == TF_THROTTLE_UNRECORDED || buf[6] || buf[7] ||
	    tf_get_le32(buf + 12) != 0)
		return -EBADMSG;
	t.erased = buf[5] & TF_THROTTLE_ERASED;
	t.unrecorded = buf[5] & TF_THROTTLE_UNRECORDED;
	t.failures = tf_get_le32(buf + 8);
	t.last_ns = tf_get_le64(buf + 16);
	memcpy(t.boot_id, buf + 24, sizeof(t.boot_id));
	*out = t;
	return 0;
}

void tf_keys_throttle_format(const struct tf_throttle_rec *t,
			     uint8_t out[static TF_THROTTLE_BYTES])
{
	memset(out, 0, TF_THROTTLE_BYTES);
	memcpy(out, TF_THROTTLE_MAGIC, 4);
	out[4] = TF_THROTTLE_VERSION;
	out[5] = t->erased ? TF_THROTTLE_ERASED : 0;
	if (t->erased && t->unrecorded)
		out[5] |= TF_THROTTLE_UNRECORDED;
	tf_put_le32(out + 8, t->failures);
	tf_put_le64(out + 16, t->last_ns);
	memcpy(out + 24, t->boot_id, sizeof(t->boot_id));
}

uint32_t tf_keys_throttle_delay(uint32_t failures, uint32_t free_tries,
				uint32_t base)
{
	uint64_t d = base;

	if (failures < free_tries)
		return 0;
	/* base after the free tries are used up, doubling per further one */
	for (uint32_t i = free_tries; i < failures && d < TF_THROTTLE_CAP; i++)
		d *= 2;
	return (uint32_t)TF_MIN(d, (uint64_t)TF_THROTTLE_CAP);
}
