/* SPDX-License-Identifier: ISC */
/*
 * Private to src/lib/keys: the on-disk formats of the key files and their
 * bounded parsers (fuzzed by fuzz/more/fuzz_keyblob.c). docs/keys.md
 * describes every byte. All integers are little-endian.
 */
#ifndef TWOFOLD_KEYS_INTERNAL_H
#define TWOFOLD_KEYS_INTERNAL_H

#include "twofold/crypto.h"
#include "twofold/keys.h"

/* ---- device secret: "TFDS" | u8 ver | u8 suite | u16 0 | 32 bytes ---- */
#define TF_DEVSECRET_MAGIC "TFDS"
#define TF_DEVSECRET_VERSION 1

TF_WUR int tf_keys_devsecret_parse(const uint8_t *buf, size_t len,
				   uint8_t *suite_id, uint8_t *secret);

/* ---- wrapped SP: sp.device / sp.credential ----
 *   "TFKP" | u8 ver | u8 protector | u8 suite | u8 cred kind |
 *   u32 opslimit | u32 memlimit KiB | salt[16] | u32 sealed_len |
 *   sealed (tf_seal blob of the 32-byte SP)
 * The first TF_SPBLOB_HDR bytes are bound into the AEAD associated data. */
#define TF_SPBLOB_MAGIC "TFKP"
#define TF_SPBLOB_VERSION 1
#define TF_SPBLOB_HDR 36
#define TF_SP_BYTES 32
#define TF_SPBLOB_SEALED_MAX (TF_SP_BYTES + TF_SEAL_OVERHEAD_MAX)
#define TF_SPBLOB_MAX (TF_SPBLOB_HDR + TF_SPBLOB_SEALED_MAX)

/* Argon2id bounds accepted from a file: a crafted file must not make the
 * daemon allocate or spin without limit (config allows 1..4096 MiB). */
#define TF_KDF_OPS_MIN 1u
#define TF_KDF_OPS_MAX 64u
#define TF_KDF_MEM_KIB_MIN 1024u
#define TF_KDF_MEM_KIB_MAX (4096u * 1024u)

/* Argon2id costs for this machine from cfg's kdf_target_ms and
 * kdf_min_mem_mib, measured on the calling thread's CPU time so other load
 * does not lower them; never below kdf_min_mem_mib and TF_KDF_OPS_MIN.
 * (keystore.c; exposed for the unit tests.) */
TF_WUR int tf_keys_calibrate(const struct tf_config *cfg, uint32_t *ops,
			     uint32_t *mem_kib);

enum tf_protector {
	TF_PROT_DEVICE = 1,
	TF_PROT_CREDENTIAL = 2,
};

struct tf_spblob {
	uint8_t protector; /* enum tf_protector */
	uint8_t suite_id;
	uint8_t kind; /* 0 for device; enum tf_cred_kind */
	uint32_t opslimit;
	uint32_t mem_kib;
	uint8_t salt[TF_SALT_BYTES];
	uint8_t sealed[TF_SPBLOB_SEALED_MAX];
	size_t sealed_len;
};

TF_WUR int tf_keys_spblob_parse(const uint8_t *buf, size_t len,
				struct tf_spblob *out);
/* Writes the TF_SPBLOB_HDR header bytes (the AD part). */
void tf_keys_spblob_header(const struct tf_spblob *b, size_t sealed_len,
			   uint8_t hdr[static TF_SPBLOB_HDR]);

/* ---- discardable: "TFDC" | u8 ver | 3 x 0 | 4096 random bytes ---- */
#define TF_DISCARD_MAGIC "TFDC"
#define TF_DISCARD_VERSION 1
#define TF_DISCARD_RANDOM 4096
#define TF_DISCARD_FILE_BYTES (8 + TF_DISCARD_RANDOM)

TF_WUR int tf_keys_discard_parse(const uint8_t *buf, size_t len,
				 const uint8_t **random);

/* ---- throttle:
 *   "TFTH" | u8 ver | u8 flags (1 = erased) | u16 0 | u32 failures |
 *   u32 0 | u64 boottime_ns of the last failure | boot_id[16]  (40 bytes) */
#define TF_THROTTLE_MAGIC "TFTH"
#define TF_THROTTLE_VERSION 1
#define TF_THROTTLE_BYTES 40
#define TF_THROTTLE_ERASED 1u

struct tf_throttle_rec {
	uint32_t failures;
	bool erased;
	uint64_t last_ns;
	uint8_t boot_id[16];
};

TF_WUR int tf_keys_throttle_parse(const uint8_t *buf, size_t len,
				  struct tf_throttle_rec *out);
void tf_keys_throttle_format(const struct tf_throttle_rec *t,
			     uint8_t out[static TF_THROTTLE_BYTES]);

/* Seconds to wait after `failures` failures (0 while free tries remain;
 * base doubling per further failure, capped at TF_THROTTLE_CAP). */
#define TF_THROTTLE_CAP 86400u
uint32_t tf_keys_throttle_delay(uint32_t failures, uint32_t free_tries,
				uint32_t base);

#endif
