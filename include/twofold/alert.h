/* SPDX-License-Identifier: ISC */
/*
 * Urgent incident alerts (issue 14 item 6, docs/shell.md "Urgent
 * alerts"): a small fixed record the organisation signs and the daemon
 * checks before the shell may show a card. No ASN.1: every field has a
 * fixed place or a length with a fixed maximum (fuzz/fuzz_alert.c).
 *
 * Record (integers big-endian):
 *   "TFAL" | u8 version (1) | u8 suite | u16 0
 *   | id (16 random bytes) | u64 issued_at | u64 expires_at (Unix s)
 *   | u8 len | persona (1..TF_NAME_MAX, a persona name)
 *   | u8 len | title   (1..TF_ALERT_TITLE_MAX, printable ASCII)
 *   | u16 len | body   (0..TF_ALERT_BODY_MAX, printable ASCII or '\n')
 *   | u8 len | signature over every byte before this length byte,
 *            tf_sign_id(signer, TF_ALERT_SIGN_ID). Nothing may follow.
 *
 * Errors (tf_alert_verify):
 *   -EBADMSG         malformed, truncated, trailing bytes, bad signature
 *   -EPROTONOSUPPORT another suite than the device's, another version
 *   -EXDEV           for another persona than the one asked
 *   -EKEYEXPIRED     at or past expires_at
 *   -ETIME           issued in the future (beyond TF_ALERT_SKEW)
 *   -EMSGSIZE        a lifetime over TF_ALERT_MAX_TTL
 * Replay (an id seen, an issued_at too old) is the holder's check: it
 * needs state (src/daemon/alert.c).
 */
#ifndef TWOFOLD_ALERT_H
#define TWOFOLD_ALERT_H

#include "twofold/common.h"
#include "twofold/crypto.h"

#define TF_ALERT_MAGIC "TFAL"
#define TF_ALERT_VERSION 1
#define TF_ALERT_ID_BYTES 16
#define TF_ALERT_TITLE_MAX 80
#define TF_ALERT_BODY_MAX 1024
#define TF_ALERT_PERSONA_MAX 31
#define TF_ALERT_FIXED_BYTES 40
#define TF_ALERT_MAX                                                           \
	(TF_ALERT_FIXED_BYTES + 1 + TF_ALERT_PERSONA_MAX + 1 +                 \
	 TF_ALERT_TITLE_MAX + 2 + TF_ALERT_BODY_MAX + 1 + TF_SIG_MAX)
/* An alert is short-lived: a captured one is worthless soon after, and
 * the seen-set only has to cover this long. */
#define TF_ALERT_MAX_TTL (24ull * 3600)
/* clock difference tolerated between the organisation and the device */
#define TF_ALERT_SKEW 300ull
#define TF_ALERT_SIGN_ID "twofold alert v1"

struct tf_alert {
	uint8_t suite;
	uint8_t id[TF_ALERT_ID_BYTES];
	uint64_t issued_at, expires_at;
	char persona[TF_ALERT_PERSONA_MAX + 1]; /* NUL-terminated */
	char title[TF_ALERT_TITLE_MAX + 1];
	char body[TF_ALERT_BODY_MAX + 1];
	size_t body_len;
	size_t tbs_len; /* the signed prefix */
};

/* Structure only (no signature, no clock). Writes *out only on success. */
TF_EXPORT TF_WUR int tf_alert_parse(const uint8_t *buf, size_t len,
				    struct tf_alert *out) TF_NONNULL(1, 3);

/* Encode a's fields (suite from sk) and sign; the length written
 * (cap >= TF_ALERT_MAX is enough). -EINVAL for a field out of range. */
TF_EXPORT TF_WUR int tf_alert_sign(const struct tf_alert *a,
				   const struct tf_key *sk, uint8_t *out,
				   size_t cap) TF_NONNULL(1, 2, 3);

/* The whole stateless check: parse, suite, the signature by one of the
 * n keys pks[i] (each s->pk_bytes long), the persona, the clock at now.
 * Writes *out (may be NULL) only on success. */
TF_EXPORT TF_WUR int tf_alert_verify(const uint8_t *buf, size_t len,
				     const struct tf_suite *s,
				     const uint8_t (*pks)[TF_PK_MAX], size_t n,
				     const char *persona, uint64_t now,
				     struct tf_alert *out) TF_NONNULL(1, 3, 6);

/* A sentence for one of the errors above ("alert expired"). */
TF_EXPORT const char *tf_alert_reason(int err);

/* id as 32 lowercase hex digits and a NUL */
TF_EXPORT void tf_alert_id_hex(const uint8_t id[static TF_ALERT_ID_BYTES],
			       char out[static 2 * TF_ALERT_ID_BYTES + 1]);

#endif
