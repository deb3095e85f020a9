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
 *   (version 2:) u32 generation |
 *   sealed (tf_seal blob of the 32-byte SP)
 * The header (36 bytes in version 1, 40 in version 2) is bound into the
 * AEAD associated data. The generation names the discardable file the
 * blob is paired with (tf_ks_discard_name); version 1 is generation 0. */
#define TF_SPBLOB_MAGIC "TFKP"
#define TF_SPBLOB_VERSION 2
#define TF_SPBLOB_HDR_V1 36
#define TF_SPBLOB_HDR 40 /* the largest (current) header */
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
 * (calibrate.c; exposed for the unit tests.) */
TF_WUR int tf_keys_calibrate(const struct tf_config *cfg, uint32_t *ops,
			     uint32_t *mem_kib);

enum tf_protector {
	TF_PROT_DEVICE = 1,
	TF_PROT_CREDENTIAL = 2,
};

struct tf_spblob {
	uint8_t version; /* 1 or 2; tf_ks_seal_sp writes TF_SPBLOB_VERSION */
	uint32_t generation;
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
/* Writes the header bytes of b->version (the AD part); returns their
 * number (TF_SPBLOB_HDR_V1 or TF_SPBLOB_HDR). */
size_t tf_keys_spblob_header(const struct tf_spblob *b, size_t sealed_len,
			     uint8_t hdr[static TF_SPBLOB_HDR]);

/* ---- discardable: "TFDC" | u8 ver | 3 x 0 | 4096 random bytes ---- */
#define TF_DISCARD_MAGIC "TFDC"
#define TF_DISCARD_VERSION 1
#define TF_DISCARD_RANDOM 4096
#define TF_DISCARD_FILE_BYTES (8 + TF_DISCARD_RANDOM)

TF_WUR int tf_keys_discard_parse(const uint8_t *buf, size_t len,
				 const uint8_t **random);

/* ---- throttle:
 *   "TFTH" | u8 ver | u8 flags (1 = erased, 2 = erase not yet recorded) |
 *   u16 0 | u32 failures |
 *   u32 0 | u64 boottime_ns of the last failure | boot_id[16]  (40 bytes) */
#define TF_THROTTLE_MAGIC "TFTH"
#define TF_THROTTLE_VERSION 1
#define TF_THROTTLE_BYTES 40
#define TF_THROTTLE_ERASED 1u
#define TF_THROTTLE_UNRECORDED 2u /* only with ERASED: the event is due */

struct tf_throttle_rec {
	uint32_t failures;
	bool erased;
	bool unrecorded; /* erased, the event not yet in the audit log */
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

/* ==================================================================
 * The key store's shared internals (keystore.c and the files it is split
 * into by job; all hidden by -fvisibility=hidden, none exported):
 *   keystore.c         open/close, persona directory and state, public API
 *   wrap.c             KEK derivation, AD, seal/open of SP, fscrypt key
 *   create.c           SP creation and its first wrapping, discardable
 *   protector_device.c device-bound unlock
 *   protector_cred.c   credential protector: new, throttled attempt, change
 *   tpm_bind.c         the key store's TPM glue (tpm.c is the TPM layer)
 *   throttle.c         throttle record, clock, count-before-check thread
 *   erase.c            destroying key files, crypto-erase
 *   events.c           erase events to the audit log (a callback)
 *   calibrate.c        Argon2id calibration
 * ================================================================== */

#include <pthread.h>

#include "src/lib/keys/tpm.h"

/* Files in <state>/keys/<persona>/ (keystore.c says what each is for). */
#define F_SP_DEVICE "sp.device"
#define F_SP_CRED "sp.credential"
#define F_DISCARD "discardable" /* generation 0; N > 0: "discardable.N" */
#define F_DISCARD_NEW "discardable.new"
#define F_SP_CRED_OLD "sp.credential.old" /* only during a change */
#define F_THROTTLE "throttle"
#define F_TPM_CRED "tpm.credential"
#define F_TPM_CRED_NEW "tpm.credential.new"
#define F_TPM_SLOT "tpm.slot"
#define F_TPM_SLOT_NEW "tpm.slot.new"
#define F_TPM_NAME "tpm.name" /* in <state>: the pinned primary's Name */
#define F_DEVSECRET_TPM TF_DEVSECRET_TPM_FILE
#define F_DURESS TF_DURESS_FILE

/* ---- duress: "TFDU" | u8 ver | 3 x 0 | link: salt of the sp.credential
 * it was made under [16] | tag [32]  (56 bytes; duress.c) ---- */
#define TF_DURESS_MAGIC "TFDU"
#define TF_DURESS_VERSION 1
#define TF_DURESS_TAG_BYTES 32
#define TF_DURESS_FILE_BYTES (8 + TF_SALT_BYTES + TF_DURESS_TAG_BYTES)
#define TF_KS_DURESS_EVENT "crypto-erased: duress credential entered"

TF_WUR int tf_keys_duress_parse(const uint8_t *buf, size_t len,
				uint8_t link[static TF_SALT_BYTES],
				uint8_t tag[static TF_DURESS_TAG_BYTES]);

/* How a file's blocks were destroyed (erase.c), weakest first. */
enum tf_destroy_how {
	TF_DESTROY_NONE = 0, /* nothing to destroy */
	TF_DESTROY_OVERWRITE,
	TF_DESTROY_DISCARD,
	TF_DESTROY_SECDISCARD,
};

struct tf_keystore {
	int statefd;
	int keysfd;
	const struct tf_suite *s;
	struct tf_config cfg;
	uint8_t *devsecret; /* TF_DEVSECRET_BYTES, secmem */
	bool fixed_clock;
	struct tf_keys_clock clock;
	/* the persona tf_ks_open_persona opened last (for the event of an
	 * erase that tf_ks_load_state resumes) */
	char persona[TF_NAME_MAX + 1];
	enum tf_destroy_how last_destroy; /* of the last erase or change */
	/* tpm_bind.c: the pinned storage key (tpm_namelen 0 = no TPM), and
	 * a lockoutAuth in transit (secmem): from the old slot to the new
	 * one during a credential change (tpm_lauth_keep), or to be made the
	 * TPM's lockoutAuth after an enrolment's commit (_provision) */
	uint8_t tpm_name[TF_TPM_NAME_MAX];
	size_t tpm_namelen;
	uint8_t *tpm_lauth;
	bool tpm_lauth_held, tpm_lauth_keep, tpm_lauth_provision;
	/* events.c: where erase events go (the audit log) */
	tf_keystore_audit_fn audit_fn;
	void *audit_ctx;
};

/* keystore.c: files and the persona directory */
TF_WUR int tf_ks_file_exists(int dfd, const char *name);
TF_WUR int tf_ks_read_key_file(int dfd, const char *name, uint8_t *buf,
			       size_t cap, size_t *len);
TF_WUR int tf_ks_open_persona(struct tf_keystore *ks, const char *persona,
			      bool create, int *out);
TF_WUR int tf_ks_load_state(struct tf_keystore *ks, int dfd,
			    enum tf_persona_keystate *st,
			    struct tf_throttle_rec *t);

/* wrap.c; the discardable of generation gen: F_DISCARD for 0, else
 * "discardable.<gen>" (name: at least TF_DISCARD_NAME_MAX bytes) */
#define TF_DISCARD_NAME_MAX 32
void tf_ks_discard_name(uint32_t gen, char name[TF_DISCARD_NAME_MAX]);
TF_WUR int tf_ks_discard_hash(struct tf_keystore *ks, int dfd, uint32_t gen,
			      uint8_t out[TF_HASH_BYTES]);
TF_WUR int tf_ks_pwhash(const uint8_t *cred, size_t len,
			const struct tf_spblob *b, uint8_t out[TF_KEY_BYTES],
			uint64_t *ns);
TF_WUR int tf_ks_seal_sp(struct tf_keystore *ks, const char *persona,
			 struct tf_spblob *b, const uint8_t *pw,
			 const uint8_t *tpmsec,
			 const uint8_t dhash[TF_HASH_BYTES], const uint8_t *sp,
			 uint8_t out[TF_SPBLOB_MAX], size_t *outlen);
TF_WUR int tf_ks_open_sp(struct tf_keystore *ks, const char *persona,
			 const struct tf_spblob *b, const uint8_t *pw,
			 const uint8_t *tpmsec,
			 const uint8_t dhash[TF_HASH_BYTES], uint8_t *sp);
TF_WUR int tf_ks_load_spblob(struct tf_keystore *ks, int dfd, const char *name,
			     struct tf_spblob *b);
TF_WUR int tf_ks_fskey_from_sp(struct tf_keystore *ks, const char *persona,
			       const uint8_t *sp, uint8_t *fskey);

/* create.c; write_discard: 4 KiB fresh random as name, its hash to dhash */
TF_WUR int tf_ks_write_discard(struct tf_keystore *ks, int dfd,
			       const char *name, uint8_t dhash[TF_HASH_BYTES]);
/* create.c */
TF_WUR int tf_ks_create_sp(struct tf_keystore *ks, int dfd, const char *persona,
			   unsigned flags, uint8_t protector, uint8_t kind,
			   const uint8_t *cred, size_t credlen);

/* protector_device.c */
TF_WUR int tf_ks_device_unlock(struct tf_keystore *ks, int dfd,
			       const char *persona,
			       uint8_t fskey[static TF_KEYS_FSKEY_BYTES]);

/* protector_cred.c */
TF_WUR int tf_ks_new_cred_protector(struct tf_keystore *ks, int dfd,
				    const uint8_t *cred, size_t len,
				    const char *tpm_file, struct tf_spblob *b,
				    uint8_t *pw, uint8_t **tpmsec);
TF_WUR int tf_ks_cred_attempt(struct tf_keystore *ks, int dfd,
			      const char *persona, const uint8_t *cred,
			      size_t len, uint8_t *sp,
			      struct tf_throttle_info *ti, uint64_t *kdf_ns,
			      const struct tf_keys_unlock_opts *o);
TF_WUR int tf_ks_cred_change(struct tf_keystore *ks, int dfd,
			     const char *persona, uint8_t kind,
			     const uint8_t *old_cred, size_t old_len,
			     const uint8_t *new_cred, size_t new_len,
			     struct tf_throttle_info *ti);

/* tpm_bind.c */
TF_WUR int tf_ks_tpm_auth(struct tf_keystore *ks, const uint8_t *pw,
			  uint8_t auth[TF_TPM_AUTH_BYTES]);
/* A new NV slot holding fresh tpmsec (and the lockoutAuth, see
 * docs/keys.md "TPM"), and its reference file name (F_TPM_SLOT[_NEW])
 * linked to salt. */
TF_WUR int tf_ks_tpm_cred_create(struct tf_keystore *ks, int dfd,
				 const char *name,
				 const uint8_t salt[TF_SALT_BYTES],
				 const uint8_t *pw, uint8_t *tpmsec);
/* After the commit of sp.credential: the new slot replaces the old one
 * (whose index is undefined), a legacy tpm.credential goes, and a
 * lockoutAuth waiting for the commit is set. */
TF_WUR int tf_ks_tpm_committed(struct tf_keystore *ks, int dfd);
/* Undefine the persona's slots and destroy their files (erase, and the
 * leftovers of a creation that crashed). */
TF_WUR int tf_ks_tpm_drop_slots(struct tf_keystore *ks, int dfd);
void tf_ks_tpm_lauth_drop(struct tf_keystore *ks);

/* The TPM part of one credential attempt */
enum tf_ks_tpm_kind {
	TF_KS_TPM_NONE = 0,   /* enrolled without a TPM */
	TF_KS_TPM_OBJECT = 1, /* legacy tpm.credential sealed object */
	TF_KS_TPM_SLOT = 2,   /* NV slot (tpm.slot) */
};
struct tf_ks_tpm_cred {
	enum tf_ks_tpm_kind kind;
	struct tf_tpm *t;
	struct tf_tpm_slotref ref;
	uint8_t file[TF_TPM_FILE_MAX + 1];
	size_t flen;
	bool have_da; /* da: the TPM's count after a wrong verdict */
	struct tf_tpm_da da;
};
/* Before the try is counted: find the TPM part that goes with salt
 * (rolling a crashed change forward or back), reach the TPM, check the
 * object/slot. -ENODEV no tpm_tcti; -EHOSTUNREACH; -EBADMSG damaged,
 * foreign, redefined or gone; -EPERM PCRs differ; -EBUSY DA lockout that
 * will end; -ENOKEY DA lockout for good (the caller erases). */
TF_WUR int tf_ks_tpm_prepare(struct tf_keystore *ks, int dfd,
			     const uint8_t salt[TF_SALT_BYTES],
			     struct tf_ks_tpm_cred *c);
/* The TPM's verdict on pw: 0 and tpmsec (and the refund of the TPM's
 * failure counter), -EACCES wrong (counted by the TPM), -EBUSY / -EPERM
 * nothing checked, -ENOKEY the TPM is now locked out for good. */
TF_WUR int tf_ks_tpm_verdict(struct tf_keystore *ks, struct tf_ks_tpm_cred *c,
			     const uint8_t *pw, uint8_t *tpmsec);
/* The TPM's own count in ti (tries_left no more than it allows). */
void tf_ks_tpm_fold_info(struct tf_ks_tpm_cred *c, struct tf_throttle_info *ti);
void tf_ks_tpm_cred_close(struct tf_ks_tpm_cred *c);
TF_WUR int tf_ks_devsecret_tpm(int sfd, const char *tcti, uint8_t *suite_id,
			       uint8_t *secret, uint8_t name[TF_TPM_NAME_MAX],
			       size_t *namelen);
/* Remove slots of our shape that no persona's files name (a crash
 * between defining and recording, or between commit and undefine). */
int tf_ks_tpm_sweep(struct tf_keystore *ks);
/* Status: the TPM's failure count for a persona with an NV slot. */
int tf_ks_tpm_status(struct tf_keystore *ks, int dfd,
		     struct tf_throttle_info *ti);

/* throttle.c */
TF_WUR int tf_ks_get_clock(struct tf_keystore *ks, struct tf_keys_clock *c);
TF_WUR int tf_ks_throttle_load(int dfd, struct tf_throttle_rec *t);
TF_WUR int tf_ks_throttle_store(int dfd, const struct tf_throttle_rec *t);
void tf_ks_throttle_info(const struct tf_keystore *ks,
			 const struct tf_throttle_rec *t,
			 const struct tf_keys_clock *now,
			 struct tf_throttle_info *ti);

/* The count-before-check write of tf_ks_cred_attempt (protector_cred.c
 * says why it may overlap the KDF): stores t durably on a helper thread,
 * then runs o->during_kdf; finish joins and returns the store's result. */
struct tf_ks_count_job {
	pthread_t th;
	bool threaded;
	int dfd;
	const struct tf_throttle_rec *t;
	const struct tf_keys_unlock_opts *o;
	int r;
};
void tf_ks_count_start(struct tf_ks_count_job *j);
TF_WUR int tf_ks_count_finish(struct tf_ks_count_job *j);

/* erase.c */
TF_WUR int tf_ks_destroy_file(int dfd, const char *name);
TF_WUR int tf_ks_destroy_file_how(int dfd, const char *name,
				  enum tf_destroy_how *how);
TF_WUR int tf_ks_destroy_key_files(int dfd);
TF_WUR int tf_ks_destroy_key_files_how(int dfd, enum tf_destroy_how *how);
/* keystore.c: destroy every file of a generation other than gen (other
 * discardables, sp.credential.old); only called with gen's pair intact */
TF_WUR int tf_ks_destroy_dead_generations(struct tf_keystore *ks, int dfd,
					  uint32_t gen);
/* event: the audit event id (tf_keystore_set_audit), what: its detail */
TF_WUR int tf_ks_do_erase(struct tf_keystore *ks, int dfd, const char *persona,
			  struct tf_throttle_rec *t, const char *event,
			  const char *what);

/* duress.c: 1 if pw (Argon2id of the credential tried, under b) is the
 * duress credential's, 0 if not; the same work either way */
TF_WUR int tf_ks_duress_match(struct tf_keystore *ks, int dfd,
			      const char *persona, const struct tf_spblob *b,
			      const uint8_t *pw,
			      const uint8_t dhash[TF_HASH_BYTES]);

/* duress.c: a verifier of no duress credential, linked to salt (every
 * credential gets one, so the file's presence says nothing) */
TF_WUR int tf_ks_duress_decoy(int dfd, const uint8_t salt[TF_SALT_BYTES]);

/* events.c */
TF_WUR int tf_ks_log_event(struct tf_keystore *ks, const char *persona,
			   const char *event, const char *what);

#endif
