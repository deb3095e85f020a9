/* SPDX-License-Identifier: ISC */
/*
 * SFrame (RFC 9605) media frames on the tf_suite vtable: calls and talk
 * groups put one encoded media frame in each.
 *
 * Layout (RFC 9605 §4.3), every suite:
 *   config byte |X|K K K|Y|C C C| , KID bytes if X, CTR bytes if Y,
 *   ciphertext, tag
 * X=0: K is the KID (0..7); X=1: K+1 big-endian KID bytes follow (1..8).
 * Y=0: C is the CTR (0..7); Y=1: C+1 big-endian CTR bytes follow (1..8).
 * We write the minimal encoding; any valid encoding parses (the header is
 * the AEAD's associated data, so a re-encoded header fails to open).
 *
 * Keys (RFC 9605 §4.4.2) with the suite's HKDF (intl HKDF-SHA-512, gm
 * HKDF-SM3), empty extract salt:
 *   secret = HKDF-Extract("", base_key)
 *   key  = HKDF-Expand(secret, "SFrame 1.0 Secret key "  || KID || suite, Nk)
 *   salt = HKDF-Expand(secret, "SFrame 1.0 Secret salt " || KID || suite, Nn)
 * KID as 8 bytes and suite as 2 bytes, big-endian. The suite ids are from
 * RFC 9605's private-use range 0xF000..0xFFFF:
 *   0xF001 intl: XChaCha20-Poly1305 (Nk 32, Nn 24, Nt 16)
 *   0xF002 gm:   SM4-GCM (Nk 16, Nn 12, Nt 16)
 * (0xF000 | the twofold suite id). Nonce = salt XOR CTR, CTR as a
 * big-endian integer right-aligned in Nn bytes: for XChaCha's 24-byte
 * nonce the CTR lands in bytes 16..23 and bytes 0..15 are the salt's, so
 * the nonce is unique per (key, CTR) exactly as with a 12-byte one.
 *
 * The caller never reuses a CTR under one key (a sender counts up from
 * 0); a receiver keeps one tf_sframe_window per sender KID to refuse
 * replays.
 */
#ifndef TWOFOLD_SFRAME_H
#define TWOFOLD_SFRAME_H

#include "twofold/common.h"

struct tf_suite;

#define TF_SFRAME_SUITE_BASE 0xF000u
#define TF_SFRAME_HDR_MAX 17   /* config byte + 8 KID + 8 CTR */
#define TF_SFRAME_TAG_BYTES 16 /* both suites */
#define TF_SFRAME_OVERHEAD_MAX (TF_SFRAME_HDR_MAX + TF_SFRAME_TAG_BYTES)
#define TF_SFRAME_BASE_MIN 16 /* base keys shorter than this are refused */
#define TF_SFRAME_BASE_MAX 64

struct tf_sframe_key;

/* Derive the key and salt of KID from a base key (16..64 bytes) for the
 * suite s; the result lives in secure memory. */
TF_EXPORT TF_WUR int
tf_sframe_key_derive(const struct tf_suite *s, const uint8_t *base, size_t n,
		     uint64_t kid, struct tf_sframe_key **out)
	TF_NONNULL(1, 2, 5);
TF_EXPORT void tf_sframe_key_free(struct tf_sframe_key *k);
static inline void tf_sframe_key_freep(struct tf_sframe_key **k)
{
	tf_sframe_key_free(*k);
	*k = NULL;
}
#define _cleanup_sframe_key_ _cleanup_(tf_sframe_key_freep)

/* The KID a key was derived for, and its 16-bit SFrame suite id. */
TF_EXPORT uint64_t tf_sframe_key_kid(const struct tf_sframe_key *k)
	TF_NONNULL(1);
TF_EXPORT uint16_t tf_sframe_key_suite(const struct tf_sframe_key *k)
	TF_NONNULL(1);

/* The frame length for an n-byte payload with this key's KID and ctr. */
TF_EXPORT size_t tf_sframe_len(const struct tf_sframe_key *k, uint64_t ctr,
			       size_t n) TF_NONNULL(1);

/* Encrypt pt (n bytes) as the frame ctr: the frame's length, or -ENOBUFS
 * (cap too small), -EINVAL. */
TF_EXPORT TF_WUR int tf_sframe_seal(const struct tf_sframe_key *k, uint64_t ctr,
				    const uint8_t *pt, size_t n, uint8_t *out,
				    size_t cap) TF_NONNULL(1, 5);

/* Parse only the header (untrusted input, bounded): the header length, or
 * -EINVAL for a truncated header or a frame shorter than header + tag. */
TF_EXPORT TF_WUR int tf_sframe_peek(const uint8_t *in, size_t n, uint64_t *kid,
				    uint64_t *ctr) TF_NONNULL(1, 3, 4);

/* Decrypt a frame: the plaintext length, or -EINVAL (malformed),
 * -EKEYREJECTED (the frame names another KID than k's), -EBADMSG
 * (authentication failed; out is wiped), -ENOBUFS. The caller checks the
 * CTR against its replay window (tf_sframe_peek gives it) and updates the
 * window only after this succeeds. */
TF_EXPORT TF_WUR int tf_sframe_open(const struct tf_sframe_key *k,
				    const uint8_t *in, size_t n, uint8_t *out,
				    size_t cap) TF_NONNULL(1, 2);

/*
 * Replay window (RFC 6479's bitmap, sliding): accepts each CTR at most
 * once, and only CTRs no more than TF_SFRAME_WINDOW - 1 below the highest
 * one accepted (late frames within that bound are fine: jitter). One per
 * sender KID; zero-initialise or call tf_sframe_window_init.
 */
#define TF_SFRAME_WINDOW 1024
struct tf_sframe_window {
	uint64_t top; /* highest CTR accepted */
	bool any;     /* has accepted one */
	uint64_t bits[TF_SFRAME_WINDOW / 64];
};
TF_EXPORT void tf_sframe_window_init(struct tf_sframe_window *w) TF_NONNULL(1);
/* 0 if ctr would be accepted, -EALREADY (seen), -ESTALE (below the
 * window). Does not change w. */
TF_EXPORT TF_WUR int tf_sframe_window_check(const struct tf_sframe_window *w,
					    uint64_t ctr) TF_NONNULL(1);
/* Record ctr as accepted (call after tf_sframe_open succeeded); the same
 * result as check, and w changes only on 0. */
TF_EXPORT int tf_sframe_window_update(struct tf_sframe_window *w, uint64_t ctr)
	TF_NONNULL(1);

#endif
