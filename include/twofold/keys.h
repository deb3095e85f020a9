/* SPDX-License-Identifier: ISC */
/*
 * Key hierarchy, credentials and throttling (DESIGN.md "Storage and keys",
 * the shape of Android FBE + Gatekeeper). docs/keys.md has the file formats,
 * the throttle schedule and the crash-safety argument.
 *
 *   credential -> Argon2id(salt, cost) ----------------+
 *   device secret (<state>/device.secret) -------------+
 *   [TPM: NV_Read(slot named by keys/<persona>/tpm.slot, +-> HKDF -> KEK
 *         policy PCRs + auth = HKDF(Argon2id output)),  |
 *         32 bytes] -----------------------------------+
 *   hash(<state>/keys/<persona>/discardable) ----------+
 *   KEK -> open keys/<persona>/sp.{device,credential} -> SP (32 bytes)
 *   HKDF(SP, "fscrypt" || persona) -> 64-byte fscrypt master key
 *
 * Throttling: the failure counter is written and fsync'd BEFORE a credential
 * is checked; the first throttle_free_tries failures cost no wait, then
 * throttle_base_delay seconds doubling per failure (capped at one day);
 * after throttle_max_failures the persona is crypto-erased.
 *
 * Optional TPM 2.0 (config tpm_tcti, docs/keys.md "TPM"): the device secret
 * is sealed in <state>/device.secret.tpm (migrated from the plaintext file
 * on the first open), and a credential persona's KEK also needs 32 bytes
 * from a TPM NV slot that the TPM gives out only for the right credential,
 * counting wrong ones in its dictionary-attack counter, which twofold
 * provisions so that only the slot can reset it ("Weaver on TPM").
 */
#ifndef TWOFOLD_KEYS_H
#define TWOFOLD_KEYS_H

#include "twofold/common.h"
#include "twofold/config.h"

struct tf_suite;
struct tf_keystore;

#define TF_DEVSECRET_FILE "device.secret"
#define TF_DEVSECRET_BYTES 32
#define TF_DEVSECRET_FILE_BYTES 40 /* "TFDS" | ver | suite | u16 0 | 32 */
#define TF_KEYS_FSKEY_BYTES 64	   /* == TF_FSCRYPT_KEY_BYTES (storage.h) */
#define TF_CRED_MAX 256		   /* bytes of a PIN or passphrase */

/* ---- device secret (crypto-free: linked into the CLI for `init`) ---- */

/* Flags for tf_devsecret_create. */
#define TF_DEVSECRET_FORCE 1u /* replace an existing secret (destroys keys!) */

/* Create <state>/device.secret (0600) with 32 getrandom bytes. -EEXIST if
 * one exists and TF_DEVSECRET_FORCE is not given. */
TF_EXPORT TF_WUR int tf_devsecret_create(int statefd, uint8_t suite_id,
					 unsigned flags);
/* Load it: secret gets TF_DEVSECRET_BYTES (pass tf_secure_alloc memory).
 * -ENOENT missing; -EBADMSG wrong magic or size; -EPROTONOSUPPORT newer
 * format version; -EPERM group/other may access it (hint: chmod 0600). */
TF_EXPORT TF_WUR int
tf_devsecret_load(int statefd, uint8_t *suite_id,
		  uint8_t secret[static TF_DEVSECRET_BYTES]) TF_NONNULL(2);

/* ---- keystore ---- */

#define TF_DEVSECRET_TPM_FILE "device.secret.tpm"

/* Loads the device secret (its suite must be s: else -EPROTO), creates
 * <state>/keys (0700). cfg is copied.
 * With cfg->tpm_tcti set, the secret comes from TF_DEVSECRET_TPM_FILE
 * (unsealed by that TPM); a plaintext device.secret is sealed into it and
 * then wiped. Extra errors then:
 *   -EHOSTUNREACH  "TPM at <tcti> not reachable" (nothing changed)
 *   -EBADMSG       device.secret.tpm does not belong to this TPM (or is
 *                  damaged)
 *   -EEXIST        device.secret and device.secret.tpm both exist and
 *                  hold different secrets: remove the wrong one
 *   -EACCES        the TPM's owner hierarchy has an auth value
 *   -EIO           the TPM refused otherwise */
TF_EXPORT TF_WUR int tf_keystore_open(int state_dirfd, const struct tf_suite *s,
				      const struct tf_config *cfg,
				      struct tf_keystore **out)
	TF_NONNULL(3, 4);
TF_EXPORT void tf_keystore_close(struct tf_keystore *ks);

/* Where the key store records its events (a crypto-erase and its cause:
 * event ids "erase.failures", "erase.tpm_lockout", "erase.duress",
 * "erase.wipe", "erase.resumed"; detail is one line for people). twofoldd
 * points it at the audit log (include/twofold/audit.h); fn must make the
 * record durable before it returns 0. An erase whose record fails keeps
 * its "not yet recorded" flag and records it at the next access, as
 * before. Without a function the events are not recorded anywhere. */
typedef int (*tf_keystore_audit_fn)(void *ctx, const char *persona,
				    const char *event, const char *detail);
TF_EXPORT void tf_keystore_set_audit(struct tf_keystore *ks,
				     tf_keystore_audit_fn fn, void *ctx);
/* The seed of the audit log's checkpoint signing key:
 * HKDF(device secret, info "twofold audit signing"), so the signing key is
 * exactly as protected as the device secret (TPM-sealed with tpm_tcti). */
TF_EXPORT TF_WUR int tf_keystore_audit_seed(struct tf_keystore *ks,
					    uint8_t out[static 32]);
/* A sub-key of the device secret: HKDF of the key store's suite over the
 * device secret with info (a name saying what the key is for, e.g.
 * "twofold tunnel key v1 intl secure"), outlen bytes (1..64). The device
 * secret itself never leaves the key store; the sub-key is as protected
 * as it is (TPM-sealed with tpm_tcti) and is never stored. -EINVAL for an
 * empty info or a bad length. */
#define TF_KEYSTORE_DERIVE_MAX 64u
TF_EXPORT TF_WUR int tf_keystore_derive(struct tf_keystore *ks,
					const char *info, uint8_t *out,
					size_t outlen) TF_NONNULL(1, 2, 3);

/* Throttle clock. The wait is measured on CLOCK_BOOTTIME within one boot
 * (the wall clock can be set back or forward, BOOTTIME cannot); after a
 * reboot (boot_id changed) only the time since boot counts, which is never
 * more than the real time since the last failure. Tests inject a clock. */
struct tf_keys_clock {
	uint8_t boot_id[16];  /* /proc/sys/kernel/random/boot_id */
	uint64_t boottime_ns; /* CLOCK_BOOTTIME */
};
/* Use *c instead of the real clock from now on (NULL: real clock again). */
TF_EXPORT void tf_keystore_set_clock(struct tf_keystore *ks,
				     const struct tf_keys_clock *c);

enum tf_persona_keystate {
	TF_KS_NONE = 0,	  /* no key material: may be created */
	TF_KS_DEVICE,	  /* SP wrapped by the device secret (sp.device) */
	TF_KS_CREDENTIAL, /* SP wrapped by credential + device (sp.credential) */
	TF_KS_ERASED,	  /* crypto-erased; may be created again */
};
TF_EXPORT TF_WUR int tf_keys_state(struct tf_keystore *ks, const char *persona,
				   enum tf_persona_keystate *st);

/* Flags for creating key material. */
#define TF_KEYS_DATA_NONEMPTY                                                  \
	1u /* caller: the persona's data dir has data;
				    never create a new key over it (-EEXIST) */

/* -EEXIST if any key material exists (or TF_KEYS_DATA_NONEMPTY). */
TF_EXPORT TF_WUR int tf_keys_create_device_bound(struct tf_keystore *ks,
						 const char *persona,
						 unsigned flags);
TF_EXPORT TF_WUR int
tf_keys_unlock_device_bound(struct tf_keystore *ks, const char *persona,
			    uint8_t fskey[static TF_KEYS_FSKEY_BYTES])
	TF_NONNULL(1, 2);

struct tf_throttle_info {
	uint32_t failures;     /* counted failures since the last success */
	uint32_t tries_left;   /* before the persona is crypto-erased */
	uint32_t wait_seconds; /* before the next try is accepted */
	bool erased;
};

enum tf_cred_kind {
	TF_CRED_PIN = 1,	/* digits only */
	TF_CRED_PASSPHRASE = 2, /* anything else (printable, UTF-8 ok) */
};
/* Returns the kind (> 0) or -EINVAL with a one-line reason in why, e.g.
 * "PIN too short: at least 6 digits". */
TF_EXPORT TF_WUR int tf_credential_check_form(const struct tf_config *cfg,
					      const uint8_t *cred, size_t len,
					      char *why, size_t whylen)
	TF_NONNULL(1);

/* First enrollment: old_cred NULL; creates SP (-EEXIST as for
 * create_device_bound). Change: old_cred required and checked through the
 * same throttle as unlock (-EACCES/-EAGAIN/-ENOKEY, ti filled); only SP's
 * wrapping changes, the fscrypt key stays the same. -EINVAL (with no try
 * counted) if new_cred has the wrong form: call tf_credential_check_form
 * first for the reason. */
TF_EXPORT TF_WUR int tf_keys_enroll(struct tf_keystore *ks, const char *persona,
				    unsigned flags, const uint8_t *old_cred,
				    size_t old_len, const uint8_t *new_cred,
				    size_t new_len,
				    struct tf_throttle_info *ti);

/* 0 and fskey on success (counter reset). Errors:
 *   -EACCES   wrong credential (ti: tries left, wait before the next)
 *   -EAGAIN   still waiting (ti->wait_seconds), nothing checked or counted
 *   -ENOKEY   crypto-erased (also returned by the try that erased it)
 *   -ENOENT   no credential enrolled; -EINVAL persona is device-bound
 *   -EBADMSG  a key file is damaged (nothing rewritten), or the TPM part
 *             is another TPM's, gone or redefined (no try counted)
 * With a TPM-bound persona (docs/keys.md "TPM"), also:
 *   -ENOKEY   also: the TPM is locked out for good (M failures it counted)
 *   -EBUSY    the TPM is in a dictionary-attack lockout that will end
 *             (not ours); nothing checked, no try counted
 *   -EPERM    the PCRs (tpm_pcrs) differ from those at enrolment; nothing
 *             checked, no try counted
 *   -EHOSTUNREACH  the TPM is not reachable (no try counted, unless it went
 *             away between the count and the check: then that one try)
 *   -ENODEV   the persona is TPM-bound but no tpm_tcti is configured
 * The same apply to tf_keys_enroll with old_cred (a change).
 * kdf_ns (may be NULL) gets the time spent in Argon2id. */
TF_EXPORT TF_WUR int tf_keys_unlock(struct tf_keystore *ks, const char *persona,
				    const uint8_t *cred, size_t len,
				    uint8_t fskey[static TF_KEYS_FSKEY_BYTES],
				    struct tf_throttle_info *ti,
				    uint64_t *kdf_ns) TF_NONNULL(1, 2, 3);

/* As tf_keys_unlock, with options (NULL: none).
 * TF_KEYS_LATE_RESET: a success leaves the failure counter as the
 * pre-check write left it (this try counted) and the caller resets it with
 * tf_keys_reset_failures() after answering, which takes an fsync'd write
 * off the unlock's critical path. A crash in between leaves one extra
 * counted try: the safe side.
 * during_kdf: called once while Argon2id runs, on a helper thread after
 * the pre-check count write (whether or not that write succeeded; if no
 * thread can be made, on the calling thread before the KDF), so the
 * caller can prepare what a success will need (twofoldd creates the
 * persona's cgroup, and removes it on any failure). It must not fork,
 * must not touch what the calling thread uses, and touches no secret; it
 * has returned when this does. */
#define TF_KEYS_LATE_RESET 1u
struct tf_keys_unlock_opts {
	unsigned flags;
	void (*during_kdf)(void *arg);
	void *arg;
};
TF_EXPORT TF_WUR int
tf_keys_unlock_ex(struct tf_keystore *ks, const char *persona,
		  const uint8_t *cred, size_t len,
		  uint8_t fskey[static TF_KEYS_FSKEY_BYTES],
		  struct tf_throttle_info *ti, uint64_t *kdf_ns,
		  const struct tf_keys_unlock_opts *opts) TF_NONNULL(1, 2, 3);
TF_EXPORT TF_WUR int tf_keys_reset_failures(struct tf_keystore *ks,
					    const char *persona);

/* ---- duress credential (docs/keys.md "Duress credential") ---- */

#define TF_DURESS_FILE "duress" /* keys/<persona>/duress */

/* Set (or replace) the duress credential of persona. cred is the current
 * credential, checked through the same throttle as an unlock (-EACCES,
 * -EAGAIN, -ENOKEY, ..., ti filled); duress must have a credential's form
 * (-EINVAL) and differ from cred (-EEXIST: "duress PIN must differ from
 * the PIN"); neither of those two costs a try. The verifier is bound to
 * the salt and Argon2id costs of the current sp.credential, so a later
 * credential change removes it (tf_keys_enroll: a decoy replaces it).
 *
 * Entered at tf_keys_unlock* (or as the old credential of tf_keys_enroll),
 * the duress credential crypto-erases the persona at once
 * ("erase.duress" in the audit log) and the
 * answer is exactly that of a wrong credential: -EACCES with ti as for a
 * wrong try (-ENOKEY if that try was the last anyway). The caller learns
 * of the erase only from tf_keys_state (TF_KS_ERASED) afterwards. */
TF_EXPORT TF_WUR int tf_keys_set_duress(struct tf_keystore *ks,
					const char *persona,
					const uint8_t *cred, size_t len,
					const uint8_t *duress, size_t dlen,
					struct tf_throttle_info *ti);
/* 1 if persona has a duress verifier bound to its current credential, 0
 * if not, -errno. Every credential has one (a random decoy until a duress
 * credential is set), so that nobody can tell from the files whether a
 * duress credential is set: 1 does not mean one is. */
TF_EXPORT TF_WUR int tf_keys_has_duress(struct tf_keystore *ks,
					const char *persona);

/* The Argon2id costs stored in the persona's sp.credential (what one
 * offline guess costs a thief with a copy of the disk). -ENOENT: no
 * credential enrolled; -EBADMSG: the blob is damaged. */
TF_EXPORT TF_WUR int tf_keys_kdf_cost(struct tf_keystore *ks,
				      const char *persona, uint32_t *opslimit,
				      uint32_t *mem_kib);

/* Crypto-erase now (remote wipe): set the erased flag, destroy the key
 * files, then record it in the audit log with why. An error (a failed write,
 * fsync or discard) is returned; the persona stays erased (nothing
 * unlocks) and the next access of it resumes the destroy. */
TF_EXPORT TF_WUR int tf_keys_erase(struct tf_keystore *ks, const char *persona,
				   const char *why);

/* How the last erase or credential change destroyed key files:
 * "overwrite+secdiscard", "overwrite+discard" (the device has no secure
 * discard: loop, most VMs), "overwrite" (no discard: tmpfs, no block
 * device, an extent shared with other data) or "none" (nothing yet). For
 * logs; never an error. */
TF_EXPORT const char *tf_keys_destroy_method(const struct tf_keystore *ks);

/* 1 if the file system of dirfd is ext3/ext4 mounted data=journal (file
 * data goes through the journal, so an overwritten key file survives
 * there and crypto-erase is not dependable), 0 if not, -errno if
 * /proc/self/mountinfo cannot be read. Crypto-free (tf_base: `twofold
 * init` uses it). */
TF_EXPORT TF_WUR int tf_keys_fs_journals_data(int dirfd);
#define TF_KEYS_JOURNAL_WARNING                                                \
	"state directory is on ext4 data=journal: overwritten key files "      \
	"survive in the journal; crypto-erase is not dependable there"

TF_EXPORT TF_WUR int tf_keys_throttle_info(struct tf_keystore *ks,
					   const char *persona,
					   struct tf_throttle_info *ti);

#endif
