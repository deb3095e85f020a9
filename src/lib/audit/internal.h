/* SPDX-License-Identifier: ISC */
/*
 * Private to src/lib/audit. docs/audit.md has the formats:
 *
 *   audit.log   "TFAL" | u8 1 | u8 suite | u16 0, then records:
 *               u32 body_len | body | chain[32] | mac[32]
 *   body        u8 1 | u8 kind | u16 0 | u32 epoch | u64 seq |
 *               u64 realtime_ns | u64 boottime_ns | boot_id[16] | u32 uid |
 *               u32 pid | u8 n, type | u8 n, persona | u8 nfields |
 *               nfields x (u8 n, key | u16 n, value)        (little-endian)
 *   chain_n     H(chain_{n-1} || u32 body_len || body), chain_{-1} =
 *               H("twofold audit log v1" || file header)
 *   mac_n       MAC(K_epoch, "TFAR" || u32 body_len || body || chain_n)
 *   checkpoint  kind 1, type "checkpoint", fields upto (seq of the record
 *               before it), chain (hex of that record's chain), sig (hex of
 *               Sign(sk, "twofold audit checkpoint v1" || u8 suite ||
 *               u64 upto || chain[32] || u32 epoch)); MAC'd under K_epoch;
 *               the records after it are in epoch + 1
 *   audit.key   "TFAK" | u8 1 | u8 suite | u16 0 | u32 epoch | u32 0 |
 *               u64 next_seq | u64 offset | chain[32] | K_epoch[32]
 *               (the state right after the last checkpoint; 96 bytes)
 */
#ifndef TWOFOLD_AUDIT_INTERNAL_H
#define TWOFOLD_AUDIT_INTERNAL_H

#include "twofold/audit.h"

#define TF_AUDIT_MAGIC "TFAL"
#define TF_AUDIT_VERSION 1
#define TF_AUDIT_BODY_FIXED 56
#define TF_AUDIT_REC_MAX (4 + TF_AUDIT_BODY_MAX + TF_AUDIT_TRAILER)
#define TF_AUDIT_KEY_MAGIC "TFAK"
#define TF_AUDIT_KEY_BYTES 96
#define TF_AUDIT_VERIFY_MAGIC "TFAV"
#define TF_AUDIT_CHAIN_LABEL "twofold audit log v1"
#define TF_AUDIT_MAC_LABEL "TFAR"
#define TF_AUDIT_SIG_LABEL "twofold audit checkpoint v1"
#define TF_AUDIT_ADVANCE_INFO "twofold audit advance"

struct tf_audit_meta {
	uint8_t kind;
	uint32_t epoch;
	uint64_t seq, realtime_ns, boottime_ns;
	uint8_t boot_id[16];
};

/* Encode u32 len | body into out (cap >= 4 + TF_AUDIT_BODY_MAX), every
 * string sanitised and cut at its bound. *len: bytes written. */
TF_WUR int tf_audit_encode(const struct tf_audit_meta *m,
			   const struct tf_audit_event *ev, uint8_t *out,
			   size_t cap, size_t *len);

struct tf_audit_keystate {
	uint8_t suite_id;
	uint32_t epoch;
	uint64_t next_seq;
	uint64_t offset;
	uint8_t chain[32];
	uint8_t k[32];
};
void tf_audit_keystate_format(const struct tf_audit_keystate *ks,
			      uint8_t out[static TF_AUDIT_KEY_BYTES]);
TF_WUR int tf_audit_keystate_parse(const uint8_t *buf, size_t len,
				   struct tf_audit_keystate *out);

/* crypto half (crypto.c of this module) */
struct tf_suite;
struct tf_key;
TF_WUR int tf_audit_chain0(const struct tf_suite *s, uint8_t suite_id,
			   uint8_t out[32]);
TF_WUR int tf_audit_chain_next(const struct tf_suite *s, const uint8_t prev[32],
			       const uint8_t *raw, size_t raw_len,
			       uint8_t out[32]);
TF_WUR int tf_audit_mac(const struct tf_suite *s, const uint8_t k[32],
			const uint8_t *raw, size_t raw_len,
			const uint8_t chain[32], uint8_t out[32]);
TF_WUR int tf_audit_advance(const struct tf_suite *s, uint8_t k[32]);
/* the signed message of a checkpoint */
#define TF_AUDIT_SIGMSG_BYTES (sizeof(TF_AUDIT_SIG_LABEL) - 1 + 1 + 8 + 32 + 4)
void tf_audit_sigmsg(uint8_t suite_id, uint64_t upto, const uint8_t chain[32],
		     uint32_t epoch, uint8_t out[static TF_AUDIT_SIGMSG_BYTES]);

/* little-endian helpers */
static inline void tf_audit_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void tf_audit_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void tf_audit_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t tf_audit_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t tf_audit_get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static inline uint64_t tf_audit_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* hex of n bytes into out (2n + 1); and back: 0, or -EBADMSG */
void tf_audit_hex(const uint8_t *b, size_t n, char *out);
TF_WUR int tf_audit_unhex(const char *s, uint8_t *out, size_t cap, size_t *n);

#endif
