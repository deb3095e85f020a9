/* SPDX-License-Identifier: ISC */
/*
 * Private to src/lib/comms: one suite's Noise primitives (DH, AEAD, HASH,
 * HMAC), shared by the Noise IK handshake (noise.c) and the end-to-end
 * message layer (e2e.c), so both run on the same reviewed code.
 */
#ifndef TWOFOLD_COMMS_INTERNAL_H
#define TWOFOLD_COMMS_INTERNAL_H

#include "src/lib/wg/internal.h"

struct nz_suite {
	uint8_t id;
	const char *name;
	size_t hashlen, dhlen;
	const struct wg_suite *w; /* DH, AEAD */
	int (*hash)(uint8_t *out, const void *p0, size_t n0, const void *p1,
		    size_t n1);
	/* out = HMAC-HASH(key, p0 || p1), HASHLEN bytes */
	int (*hmac)(uint8_t *out, const uint8_t *key, size_t keylen,
		    const void *p0, size_t n0, const void *p1, size_t n1);
};

/* NULL for an unknown suite id. */
const struct nz_suite *nz_get(uint8_t id);

#endif
