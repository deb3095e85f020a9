/* SPDX-License-Identifier: ISC */
/*
 * A call's media key chain (callkey.c; docs/comms-protocol.md "Calls",
 * "Rekeying a call"). Each direction's media starts from the SFrame base
 * key of the call (epoch 1) and moves on by a one-way step:
 *   base(e+1) = HKDF(base(e), info "twofold call v1 next")  (the suite's)
 *   key(e)    = the RFC 9605 key and salt of base(e), KID = e << 3 | role
 * (role 1 caller, 2 callee: the low three bits keep the call's roles, the
 * rest is the epoch, so the KID names both). A newer base gives no older
 * one (HKDF is one-way): a device seized during a call yields that
 * epoch's frames and later ones, not the earlier epochs'.
 *
 * The sender holds base(e) and key(e) only; tf_callkey_tx_next moves to
 * e + 1 and wipes both old ones. The receiver holds key(e), key(e + 1)
 * precomputed with base(e + 1), and for TF_CALLKEY_GRACE_US after a step
 * key(e - 1) for frames still in flight; a frame under any other KID
 * (two or more ahead, or a wiped old one) finds no key. All of it lives in
 * tf_secure_alloc memory, zeroed when freed or replaced.
 */
#ifndef TWOFOLD_COMMS_CALLKEY_H
#define TWOFOLD_COMMS_CALLKEY_H

#include <stdint.h>

#include "twofold/common.h"
#include "twofold/sframe.h"

struct tf_suite;

#define TF_CALLKEY_BASE_BYTES 32
#define TF_CALLKEY_GRACE_US 500000ull /* old key kept after a step */
#define TF_CALLKEY_EPOCH_FIRST 1      /* KIDs 9 / 10: one KID byte */

static inline uint64_t tf_callkey_kid(uint64_t epoch, unsigned role)
{
	return epoch << 3 | (role & 7);
}

struct tf_callkey_tx;
struct tf_callkey_rx;

/* The chain from base (epoch 1) for role (1..7); base is copied. */
TF_WUR int tf_callkey_tx_new(const struct tf_suite *s,
			     const uint8_t base[static TF_CALLKEY_BASE_BYTES],
			     unsigned role, struct tf_callkey_tx **out)
	TF_NONNULL(1, 2, 4);
/* Step to the next epoch; the old base and key are wiped. 0 or -errno
 * (then the chain is unchanged). */
TF_WUR int tf_callkey_tx_next(struct tf_callkey_tx *t) TF_NONNULL(1);
const struct tf_sframe_key *tf_callkey_tx_key(const struct tf_callkey_tx *t)
	TF_NONNULL(1);
uint64_t tf_callkey_tx_epoch(const struct tf_callkey_tx *t) TF_NONNULL(1);
void tf_callkey_tx_free(struct tf_callkey_tx *t);

TF_WUR int tf_callkey_rx_new(const struct tf_suite *s,
			     const uint8_t base[static TF_CALLKEY_BASE_BYTES],
			     unsigned role, struct tf_callkey_rx **out)
	TF_NONNULL(1, 2, 4);
/* The key that may open a frame under kid at now_us: the current one,
 * the next one, or the previous one within its grace; NULL otherwise
 * (refuse the frame). The previous key is wiped here once its grace has
 * passed. */
const struct tf_sframe_key *tf_callkey_rx_find(struct tf_callkey_rx *r,
					       uint64_t kid, uint64_t now_us)
	TF_NONNULL(1);
/* A frame under kid opened (authenticated): if kid is the next epoch's,
 * step: it becomes current, the current one is kept for the grace, the
 * one after is precomputed. 1 stepped, 0 nothing to do, -errno. */
TF_WUR int tf_callkey_rx_opened(struct tf_callkey_rx *r, uint64_t kid,
				uint64_t now_us) TF_NONNULL(1);
uint64_t tf_callkey_rx_epoch(const struct tf_callkey_rx *r) TF_NONNULL(1);
/* Whether a previous epoch's key is still held (tests). */
bool tf_callkey_rx_has_prev(const struct tf_callkey_rx *r) TF_NONNULL(1);
void tf_callkey_rx_free(struct tf_callkey_rx *r);

#endif
