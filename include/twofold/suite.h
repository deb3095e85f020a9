/* SPDX-License-Identifier: ISC */
/*
 * The crypto suite registry (DESIGN.md "Crypto suites"): one row per suite.
 * This header needs no crypto library, so the CLI and the device.conf
 * parser (tf_base) can name and check suites; the implementations (the
 * struct tf_suite vtables and their known-answer tests, twofold/crypto.h)
 * live in tf_core.
 *
 * A row is X(TAG, id, name, brief, description):
 *   TAG          enum tf_suite_id gets TF_SUITE_<TAG>
 *   id           the wire id in sealed blobs, key files and device.secret;
 *                never reused
 *   name         what device.conf `suite` and `twofold init --suite` say;
 *                the implementation defines `const struct tf_suite
 *                tf_suite_<name>` (src/lib/crypto/<name>.c)
 *   brief        a few words for `twofold init --help`
 *   description  one line for status and docs
 * The first row is the default suite.
 */
#ifndef TWOFOLD_SUITE_H
#define TWOFOLD_SUITE_H

#include "twofold/common.h"

#define TF_SUITES(X)                                                           \
	X(INTL, 1, intl, "libsodium",                                          \
	  "XChaCha20-Poly1305, BLAKE2b-256, HKDF-SHA-512, Ed25519, X25519, "   \
	  "Argon2id (libsodium)")                                              \
	X(GM, 2, gm, "SM2/SM3/SM4",                                            \
	  "SM4-GCM, SM3, HKDF-SM3 (libgcrypt); SM2 signatures with ID, ECDH "  \
	  "on the SM2 curve + HKDF-SM3 (OpenSSL); Argon2id (libsodium)")

#define TF_SUITE_DEFAULT "intl"

#define TF_SUITE_ENUM_(tag, id, name, brief, desc) TF_SUITE_##tag = id,
enum tf_suite_id { TF_SUITES(TF_SUITE_ENUM_) };
#undef TF_SUITE_ENUM_

struct tf_suite_info {
	uint8_t id;
	const char *name;
	const char *brief;
	const char *description;
};

/* NULL for an unknown name/id, or i past the last row. */
TF_EXPORT const struct tf_suite_info *tf_suite_info_by_name(const char *name);
TF_EXPORT const struct tf_suite_info *tf_suite_info_by_id(uint8_t id);
TF_EXPORT const struct tf_suite_info *tf_suite_info_at(size_t i);

/* Every row, in registry order: tf_suite_info_foreach(i, si) { ... } */
#define tf_suite_info_foreach(i, si)                                           \
	for (size_t i = 0; ((si) = tf_suite_info_at(i)) != NULL; i++)

/* "intl, gm" (sep ", "): the known names joined by sep, for messages and
 * help texts. Truncates to cap. */
TF_EXPORT void tf_suite_names(char *buf, size_t cap, const char *sep);

#endif
