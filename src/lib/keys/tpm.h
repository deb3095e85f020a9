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

/* ---- TPM identity: the storage key's Name is pinned ----
 * TPM2B_NAME of the primary (nameAlg || SHA-256 of its public area). */
#define TF_TPM_NAME_MAX 68

/* tf_tpm_open, but refuses (-EBADMSG, before any session is started) a
 * primary whose Name differs from pin (pin == NULL: no check). The salted
 * session is then bound to the pinned key: an interposer that answers
 * with its own primary cannot decrypt the salt. */
TF_WUR int tf_tpm_open_pinned(const char *tcti, const uint8_t *pin,
			      size_t pinlen, struct tf_tpm **out);
TF_WUR int tf_tpm_primary_name(struct tf_tpm *t, uint8_t name[TF_TPM_NAME_MAX],
			       size_t *len);

/* ---- dictionary-attack state (TPM 2.0 Part 1, 19.8; Part 3, 25) ----
 * recoveryTime 0 would disable DA (libtpms DASelfHeal clears failedTries
 * at once), so "never heals" is the largest value: 2^32-1 s of powered
 * time, and the self-heal timer restarts at every TPM start.
 * lockoutRecovery 0: after a wrong lockoutAuth, lockoutAuth is usable
 * again only after the next TPM2_Startup (a reboot). */
#define TF_TPM_DA_RECOVERY_NEVER 0xffffffffu
#define TF_TPM_DA_LOCKOUT_RECOVERY 0u

struct tf_tpm_da {
	uint32_t failed;	   /* TPM_PT_LOCKOUT_COUNTER (failedTries) */
	uint32_t max_tries;	   /* TPM_PT_MAX_AUTH_FAIL */
	uint32_t recovery;	   /* TPM_PT_LOCKOUT_INTERVAL, s */
	uint32_t lockout_recovery; /* TPM_PT_LOCKOUT_RECOVERY, s */
	bool lockout_auth_set;	   /* TPMA_PERMANENT lockoutAuthSet */
	bool in_lockout;	   /* TPMA_PERMANENT inLockout */
};

TF_WUR int tf_tpm_da_info(struct tf_tpm *t, struct tf_tpm_da *out);

/* TPM2_DictionaryAttackParameters(max_tries, TF_TPM_DA_RECOVERY_NEVER,
 * TF_TPM_DA_LOCKOUT_RECOVERY) with lockoutAuth lauth (NULL/0: empty).
 * -EACCES wrong lockoutAuth (the TPM then refuses lockoutAuth until its
 * next start); -EBUSY lockoutAuth use is disabled. */
TF_WUR int tf_tpm_da_set(struct tf_tpm *t, const uint8_t *lauth, size_t llen,
			 uint32_t max_tries);
/* TPM2_HierarchyChangeAuth(LOCKOUT): old (NULL/0: empty) -> neu
 * (TF_TPM_AUTH_BYTES). Errors as tf_tpm_da_set. */
TF_WUR int tf_tpm_lockout_change(struct tf_tpm *t, const uint8_t *old,
				 size_t oldlen,
				 const uint8_t neu[TF_TPM_AUTH_BYTES]);
/* TPM2_DictionaryAttackLockReset: failedTries = 0. Errors as
 * tf_tpm_da_set. */
TF_WUR int tf_tpm_da_reset(struct tf_tpm *t, const uint8_t *lauth, size_t llen);

/* ---- credential slots in NV ("Weaver on TPM", docs/keys.md "TPM") ----
 * An ordinary NV index of TF_TPM_SLOT_BYTES in the owner range of the TCG
 * handle registry (0x01000000..0x013fffff): handles TF_TPM_NV_BASE +
 * 0..TF_TPM_NV_SLOTS-1. Attributes OWNERWRITE | POLICYREAD | WRITEDEFINE,
 * written once and write-locked; no NO_DA, so a wrong auth value counts in
 * the TPM's failedTries. authPolicy = [PolicyPCR(pcr_mask, SHA-256 bank,
 * values at definition)] then PolicyAuthValue: reading needs the boot
 * state and the credential, and the owner (whose auth is empty) cannot
 * read it. */
#define TF_TPM_NV_BASE 0x01354600u
#define TF_TPM_NV_SLOTS 256u
#define TF_TPM_SLOT_BYTES 64
#define TF_TPM_PCR_MAX 24

/* A free handle in our range: -ENOSPC if all are taken. */
TF_WUR int tf_tpm_nv_free(struct tf_tpm *t, uint32_t *handle);
/* Our handles that are defined, ascending; *n may exceed cap (then only
 * cap are stored). */
TF_WUR int tf_tpm_nv_list(struct tf_tpm *t, uint32_t *handles, size_t cap,
			  size_t *n);
/* Define handle with auth (TF_TPM_AUTH_BYTES) and the policy above, write
 * data, write-lock it; *name = its Name as the TPM reports it (store it:
 * tf_tpm_nv_read refuses any other). -EEXIST handle taken; -ENOSPC the
 * TPM's NV is full. On failure after the definition, it is undefined. */
TF_WUR int tf_tpm_nv_define(struct tf_tpm *t, uint32_t handle,
			    uint32_t pcr_mask,
			    const uint8_t auth[TF_TPM_AUTH_BYTES],
			    const uint8_t data[TF_TPM_SLOT_BYTES],
			    uint8_t name[TF_TPM_NAME_MAX], size_t *namelen);
/* Is handle there with this Name? 0, -ENOENT gone, -EBADMSG someone
 * redefined it (different Name). Needs no auth: checked before a try is
 * counted. */
TF_WUR int tf_tpm_nv_check(struct tf_tpm *t, uint32_t handle,
			   const uint8_t *name, size_t namelen);
/* Read the slot through a salted policy session (encrypted response):
 * -EACCES wrong auth (TPM_RC_AUTH_FAIL: counted in failedTries); -EBUSY
 * DA lockout (nothing checked); -EPERM the PCR values differ from those at
 * definition (not counted); -ENOENT / -EBADMSG as tf_tpm_nv_check. */
TF_WUR int tf_tpm_nv_read(struct tf_tpm *t, uint32_t handle,
			  const uint8_t *name, size_t namelen,
			  uint32_t pcr_mask,
			  const uint8_t auth[TF_TPM_AUTH_BYTES],
			  uint8_t data[TF_TPM_SLOT_BYTES]);
/* Would the slot's policy be satisfied now (its PCRs as at definition)?
 * 0 yes, -EPERM no; needs no auth, so an attempt checks it before a try
 * is counted. */
TF_WUR int tf_tpm_nv_policy_check(struct tf_tpm *t, uint32_t handle,
				  uint32_t pcr_mask);
/* TPM2_NV_UndefineSpace with owner auth; -ENOENT if not defined. */
TF_WUR int tf_tpm_nv_undefine(struct tf_tpm *t, uint32_t handle);

/* Is the index at handle shaped like one of our slots (attributes, size,
 * nameAlg)? 1 yes, 0 no (someone else's: never touched), -ENOENT. */
TF_WUR int tf_tpm_nv_ours(struct tf_tpm *t, uint32_t handle);

/* ---- keys/<persona>/tpm.slot[.new]: which NV slot goes with which
 * sp.credential (no TPM needed to parse; fuzzed by fuzz_keyblob):
 *   "TFNS" | u8 version 1 | u8 0 | u16 namelen (34) | link[16] (salt of
 *   the paired sp.credential) | u32 handle | u32 pcr_mask |
 *   name[namelen] (TPM2B_NAME of the index: 0x000b || SHA-256)
 * little-endian except the name, which is the TPM's bytes. */
#define TF_TPM_SLOTREF_MAGIC "TFNS"
#define TF_TPM_SLOTREF_VERSION 1
#define TF_TPM_SLOTREF_HDR 32
#define TF_TPM_SLOT_NAME_BYTES 34
#define TF_TPM_SLOTREF_BYTES (TF_TPM_SLOTREF_HDR + TF_TPM_SLOT_NAME_BYTES)

struct tf_tpm_slotref {
	uint8_t link[TF_TPM_LINK_BYTES];
	uint32_t handle;
	uint32_t pcr_mask;
	uint8_t name[TF_TPM_SLOT_NAME_BYTES];
};

/* -EBADMSG damaged (also a handle outside our range, PCRs above 23, a
 * name not SHA-256), -EPROTONOSUPPORT newer version. */
TF_WUR int tf_tpm_slotref_parse(const uint8_t *buf, size_t len,
				struct tf_tpm_slotref *out);
void tf_tpm_slotref_format(const struct tf_tpm_slotref *r,
			   uint8_t out[static TF_TPM_SLOTREF_BYTES]);

#endif
