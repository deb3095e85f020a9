/* SPDX-License-Identifier: ISC */
/*
 * Private to src/lib/keys: TPM 2.0 sealing through libtss2 (ESYS + MU +
 * the TCTI loader). docs/keys.md "TPM" has the design and the file format.
 *
 * Every sealed object is a keyed-hash object (TPM2_ALG_KEYEDHASH, scheme
 * NULL) under a primary storage key created from a fixed template in the
 * owner hierarchy. The primary is re-created (deterministically, from the
 * owner seed) on every open, so no persistent handle is needed and nothing
 * is left in the TPM between operations. Commands run in an HMAC session
 * salted with that primary and with parameter encryption both ways, so the
 * sealed data and the auth value never cross the TPM bus in the clear.
 *
 * File ("TFTM"): magic | u8 version | u8 kind | u16 0 | link[16] |
 *   u16 publen | u16 privlen | TPM2B_PUBLIC | TPM2B_PRIVATE (MU-marshalled).
 * link ties a credential object to the salt of the sp.credential it belongs
 * to (zero for the device secret). All integers little-endian.
 */
#ifndef TWOFOLD_KEYS_TPM_H
#define TWOFOLD_KEYS_TPM_H

#include "twofold/common.h"

#define TF_TPM_MAGIC "TFTM"
#define TF_TPM_VERSION 1
#define TF_TPM_HDR 28
#define TF_TPM_LINK_BYTES 16
#define TF_TPM_FILE_MAX 2048
#define TF_TPM_DATA_MAX 128 /* TPM2 MAX_SYM_DATA */
#define TF_TPM_AUTH_BYTES 32
#define TF_TPM_SECRET_BYTES 32 /* random data of a credential object */

enum tf_tpm_kind {
	TF_TPM_KIND_DEVSECRET = 1,  /* no auth, TPMA_OBJECT_NODA */
	TF_TPM_KIND_CREDENTIAL = 2, /* auth from the credential, DA-protected */
};

struct tf_tpm;

/* Connect through Tss2_TctiLdr_Initialize(tcti), create the primary and the
 * salted session. -EHOSTUNREACH: the TPM cannot be reached (no such TCTI,
 * nothing listening); -EACCES: the owner hierarchy has an auth value;
 * -EIO: anything else the TPM refused. */
TF_WUR int tf_tpm_open(const char *tcti, struct tf_tpm **out);
void tf_tpm_close(struct tf_tpm *t);
static inline void tf_tpm_closep(struct tf_tpm **t)
{
	tf_tpm_close(*t);
	*t = NULL;
}

/* Seal len (<= TF_TPM_DATA_MAX) bytes; auth may be NULL for kind
 * DEVSECRET. Writes the whole file into file (cap >= TF_TPM_FILE_MAX). */
TF_WUR int tf_tpm_seal(struct tf_tpm *t, uint8_t kind,
		       const uint8_t link[TF_TPM_LINK_BYTES],
		       const uint8_t *data, size_t len, const uint8_t *auth,
		       size_t authlen, uint8_t *file, size_t cap,
		       size_t *filelen);

/* Parse a file (no TPM needed): -EBADMSG damaged, -EPROTONOSUPPORT newer
 * version. kind and link may be NULL. */
TF_WUR int tf_tpm_file_parse(const uint8_t *file, size_t len, uint8_t *kind,
			     uint8_t link[TF_TPM_LINK_BYTES]);

/* Load the object of a file into the TPM (needs no auth, so it is checked
 * before a credential try is counted). -EBADMSG: damaged, or sealed by
 * another TPM (its parent's seed differs: TPM_RC_INTEGRITY);
 * -EHOSTUNREACH: the TPM went away. One object at a time per tf_tpm. */
TF_WUR int tf_tpm_load(struct tf_tpm *t, const uint8_t *file, size_t len);

/* Unseal the loaded object (and flush it: load again for another try).
 * -EACCES wrong auth (TPM_RC_AUTH_FAIL /
 * TPM_RC_BAD_AUTH; counted by the TPM for DA-protected objects); -EBUSY
 * the TPM is in dictionary-attack lockout (nothing was checked). */
TF_WUR int tf_tpm_unseal(struct tf_tpm *t, const uint8_t *auth, size_t authlen,
			 uint8_t *data, size_t cap, size_t *len);

#endif
