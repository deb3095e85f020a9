/* SPDX-License-Identifier: ISC */
/* src/lib/pkg internals: errors and the signature slots both formats use. */
#ifndef TF_PKG_INTERNAL_H
#define TF_PKG_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "twofold/error.h"
#include "twofold/pkg.h"

/* Record reason and message (if err) and return r (a -errno). */
int tf_pkg_fail(struct tf_pkg_err *err, int r, const char *reason,
		const char *fmt, ...) TF_PRINTF(4, 5);

/* The suite of a format's header against the device's: -EPROTONOSUPPORT
 * with "WHAT is signed for the gm suite; this device uses intl". */
int tf_pkg_check_suite(uint8_t id, const struct tf_suite *suite,
		       const char *what, struct tf_pkg_err *err);

/*
 * Slots: n x TF_PKG_SLOT_BYTES:
 *   u8 suite | u8 siglen | u16 0 | u32 0 | key id[8] | sig[72] | 8 x 0
 * Sign m with each key into slots; verify: every slot well-formed, and
 * at least one by a key of trust. A slot naming a trusted key whose
 * signature fails is tampering (bad_signature), not merely untrusted.
 */
int tf_pkg_slots_sign(uint8_t *slots, struct tf_key *const *keys, size_t n,
		      const uint8_t *m, size_t mlen);
int tf_pkg_slots_verify(const uint8_t *slots, size_t n,
			const struct tf_pkg_trust *trust,
			const struct tf_suite *suite, const uint8_t *m,
			size_t mlen, const char *what, unsigned *signer,
			struct tf_pkg_err *err);
int tf_pkg_keyid(const struct tf_suite *s, const uint8_t *pk, size_t pklen,
		 uint8_t id[static TF_PKG_KEYID_BYTES]);

/* write all of buf to fd (sequential) */
int tf_pkg_write_all(int fd, const void *buf, size_t len);
/* pread exactly len bytes at off; -ENODATA on a short file */
int tf_pkg_pread_all(int fd, void *buf, size_t len, uint64_t off);

bool tf_pkg_name_ok(const char *s, size_t len);
int tf_pkg_hex_decode(const char *s, size_t len, uint8_t *out, size_t n);
void tf_pkg_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
