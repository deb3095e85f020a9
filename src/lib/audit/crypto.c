/* SPDX-License-Identifier: ISC */
/*
 * The audit log's cryptography, all through the suite API
 * (include/twofold/crypto.h): the chain hash is the suite hash (BLAKE2b-256
 * or SM3), the record MAC the suite MAC (keyed BLAKE2b-256 or HMAC-SM3),
 * the key advance the suite's HKDF, the checkpoint signature the suite's
 * (Ed25519 or SM2).
 */
#include <string.h>

#include "twofold/crypto.h"
#include "src/lib/audit/internal.h"

int tf_audit_chain0(const struct tf_suite *s, uint8_t suite_id, uint8_t out[32])
{
	uint8_t m[sizeof(TF_AUDIT_CHAIN_LABEL) - 1 + TF_AUDIT_HDR_BYTES];
	size_t l = sizeof(TF_AUDIT_CHAIN_LABEL) - 1;

	memcpy(m, TF_AUDIT_CHAIN_LABEL, l);
	memcpy(m + l, TF_AUDIT_MAGIC, 4);
	m[l + 4] = TF_AUDIT_VERSION;
	m[l + 5] = suite_id;
	m[l + 6] = m[l + 7] = 0;
	return tf_hash(s, out, m, sizeof(m));
}

int tf_audit_chain_next(const struct tf_suite *s, const uint8_t prev[32],
			const uint8_t *raw, size_t raw_len, uint8_t out[32])
{
	uint8_t m[32 + 4 + TF_AUDIT_BODY_MAX];

	if (raw_len > 4 + TF_AUDIT_BODY_MAX)
		return -EINVAL;
	memcpy(m, prev, 32);
	memcpy(m + 32, raw, raw_len);
	return tf_hash(s, out, m, 32 + raw_len);
}

int tf_audit_mac(const struct tf_suite *s, const uint8_t k[32],
		 const uint8_t *raw, size_t raw_len, const uint8_t chain[32],
		 uint8_t out[32])
{
	uint8_t m[4 + 4 + TF_AUDIT_BODY_MAX + 32];

	if (raw_len > 4 + TF_AUDIT_BODY_MAX)
		return -EINVAL;
	memcpy(m, TF_AUDIT_MAC_LABEL, 4);
	memcpy(m + 4, raw, raw_len);
	memcpy(m + 4 + raw_len, chain, 32);
	return tf_mac(s, out, k, m, 4 + raw_len + 32);
}

/* K_{i+1} = HKDF(K_i, info "twofold audit advance"), in place: one-way,
 * so K_{i+1} tells nothing about K_i. */
int tf_audit_advance(const struct tf_suite *s, uint8_t k[32])
{
	uint8_t next[32];
	int r;

	r = tf_kdf(s, next, sizeof(next), k, 32, NULL, 0,
		   (const uint8_t *)TF_AUDIT_ADVANCE_INFO,
		   sizeof(TF_AUDIT_ADVANCE_INFO) - 1);
	if (r == 0)
		memcpy(k, next, 32);
	tf_memzero(next, sizeof(next));
	return r;
}

void tf_audit_sigmsg(uint8_t suite_id, uint64_t upto, const uint8_t chain[32],
		     uint32_t epoch, uint8_t out[static TF_AUDIT_SIGMSG_BYTES])
{
	size_t l = sizeof(TF_AUDIT_SIG_LABEL) - 1;

	memcpy(out, TF_AUDIT_SIG_LABEL, l);
	out[l] = suite_id;
	tf_audit_put64(out + l + 1, upto);
	memcpy(out + l + 9, chain, 32);
	tf_audit_put32(out + l + 41, epoch);
}
