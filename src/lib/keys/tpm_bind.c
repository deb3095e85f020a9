/* SPDX-License-Identifier: ISC */
/*
 * The key store's TPM glue (tpm.c is the TPM layer): the TPM object of a
 * credential persona (tpm.credential, tpm.credential.new) and the device
 * secret sealed in the TPM (device.secret.tpm, migrated from the plaintext
 * device.secret). docs/keys.md "TPM".
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"
#include "src/lib/keys/tpm.h"

#define TPM_AUTH_LABEL "twofold tpm auth"

/* userAuth of a persona's TPM object: HKDF over the Argon2id output, so
 * the TPM checks (and counts) every credential guess itself. */
int tf_ks_tpm_auth(struct tf_keystore *ks, const uint8_t *pw,
		   uint8_t auth[TF_TPM_AUTH_BYTES])
{
	return tf_kdf(ks->s, auth, TF_TPM_AUTH_BYTES, pw, TF_KEY_BYTES, NULL, 0,
		      (const uint8_t *)TPM_AUTH_LABEL,
		      sizeof(TPM_AUTH_LABEL) - 1);
}

/* Seal fresh random tpmsec (TF_TPM_SECRET_BYTES) in a DA-protected object
 * whose auth derives from pw, linked to the salt of the sp.credential it
 * goes with, and write it atomically as name. */
int tf_ks_tpm_cred_create(struct tf_keystore *ks, int dfd, const char *name,
			  const uint8_t salt[TF_SALT_BYTES], const uint8_t *pw,
			  uint8_t *tpmsec)
{
	_cleanup_(tf_tpm_closep) struct tf_tpm *t = NULL;
	_cleanup_secure_ uint8_t *auth = NULL;
	uint8_t file[TF_TPM_FILE_MAX];
	size_t flen;
	int r;

	auth = tf_secure_alloc(TF_TPM_AUTH_BYTES);
	if (auth == NULL)
		return -ENOMEM;
	r = tf_random(tpmsec, TF_TPM_SECRET_BYTES);
	if (r < 0)
		return r;
	r = tf_ks_tpm_auth(ks, pw, auth);
	if (r < 0)
		return r;
	r = tf_tpm_open(ks->cfg.tpm_tcti, &t);
	if (r < 0)
		return r;
	r = tf_tpm_seal(t, TF_TPM_KIND_CREDENTIAL, salt, tpmsec,
			TF_TPM_SECRET_BYTES, auth, TF_TPM_AUTH_BYTES, file,
			sizeof(file), &flen);
	if (r < 0)
		return r;
	return tf_atomic_write_at(dfd, name, file, flen, 0600);
}

static int tpm_file_read(int dfd, const char *name, uint8_t kind_want,
			 uint8_t *file, size_t cap, size_t *flen,
			 uint8_t link[TF_TPM_LINK_BYTES])
{
	uint8_t kind;
	int r;

	r = tf_ks_read_key_file(dfd, name, file, cap, flen);
	if (r < 0)
		return r;
	r = tf_tpm_file_parse(file, *flen, &kind, link);
	if (r < 0)
		return r;
	return kind == kind_want ? 0 : -EBADMSG;
}

/*
 * Find the TPM object that goes with sp.credential (its link is the
 * blob's salt); *flen = 0 when the persona has none (enrolled without a
 * TPM). A credential change writes tpm.credential.new, commits
 * sp.credential, then renames; the link says which side of the commit a
 * crash left us on: roll forward if .new matches, else discard it.
 */
int tf_ks_tpm_cred_find(int dfd, const uint8_t salt[TF_SALT_BYTES],
			uint8_t file[TF_TPM_FILE_MAX + 1], size_t *flen)
{
	uint8_t link[TF_TPM_LINK_BYTES];
	size_t len;
	int r;

	r = tpm_file_read(dfd, F_TPM_CRED_NEW, TF_TPM_KIND_CREDENTIAL, file,
			  TF_TPM_FILE_MAX + 1, &len, link);
	if (r == 0 && memcmp(link, salt, TF_SALT_BYTES) == 0) {
		if (renameat(dfd, F_TPM_CRED_NEW, dfd, F_TPM_CRED) < 0)
			return tf_negerrno();
		r = tf_fsync_dir_at(dfd, NULL);
		if (r < 0)
			return r;
	} else if (r != -ENOENT) {
		r = tf_ks_destroy_file(dfd, F_TPM_CRED_NEW);
		if (r < 0)
			return r;
		r = tf_fsync_dir_at(dfd, NULL);
		if (r < 0)
			return r;
	}
	r = tpm_file_read(dfd, F_TPM_CRED, TF_TPM_KIND_CREDENTIAL, file,
			  TF_TPM_FILE_MAX + 1, &len, link);
	if (r == -ENOENT) {
		*flen = 0;
		return 0;
	}
	if (r < 0)
		return r;
	if (memcmp(link, salt, TF_SALT_BYTES) != 0)
		return -EBADMSG; /* belongs to another wrapping of SP */
	*flen = len;
	return 0;
}
/* ------------------------------------------------ TPM (device secret) */

/* Unseal device.secret.tpm: the sealed data is the whole 40-byte
 * device.secret file, so the suite check stays the same. */
static int devsecret_unseal(struct tf_tpm *t, int sfd, uint8_t *plain,
			    uint8_t *suite_id, uint8_t *secret)
{
	uint8_t file[TF_TPM_FILE_MAX + 1];
	size_t flen, plen;
	int r;

	r = tpm_file_read(sfd, F_DEVSECRET_TPM, TF_TPM_KIND_DEVSECRET, file,
			  sizeof(file), &flen, NULL);
	if (r == -ENOENT)
		return -EBADMSG; /* it was there a moment ago */
	if (r < 0)
		return r;
	r = tf_tpm_load(t, file, flen);
	if (r < 0)
		return r;
	r = tf_tpm_unseal(t, NULL, 0, plain, TF_DEVSECRET_FILE_BYTES, &plen);
	if (r == -EACCES)
		return -EBADMSG; /* empty auth refused: not our object */
	if (r < 0)
		return r;
	return tf_keys_devsecret_parse(plain, plen, suite_id, secret);
}

/*
 * The device secret with a TPM: device.secret.tpm holds it sealed. The
 * first open after `twofold init` migrates the plaintext device.secret:
 * seal, prove the sealed copy unseals to the same bytes, commit it
 * atomically, then destroy the plaintext. A crash between the commit and
 * the unlink leaves both; the next open finishes the job if they agree.
 */
int tf_ks_devsecret_tpm(int sfd, const char *tcti, uint8_t *suite_id,
			uint8_t *secret)
{
	_cleanup_(tf_tpm_closep) struct tf_tpm *t = NULL;
	_cleanup_secure_ uint8_t *plain = NULL, *other = NULL;
	uint8_t file[TF_TPM_FILE_MAX];
	int has_tpm, has_plain, r;
	uint8_t sid, sid2;
	size_t flen;

	has_tpm = tf_ks_file_exists(sfd, F_DEVSECRET_TPM);
	if (has_tpm < 0)
		return has_tpm;
	has_plain = tf_ks_file_exists(sfd, TF_DEVSECRET_FILE);
	if (has_plain < 0)
		return has_plain;
	if (!has_tpm && !has_plain)
		return -ENOENT;
	plain = tf_secure_alloc(TF_DEVSECRET_FILE_BYTES);
	other = tf_secure_alloc(TF_DEVSECRET_BYTES);
	if (plain == NULL || other == NULL)
		return -ENOMEM;
	r = tf_tpm_open(tcti, &t);
	if (r < 0)
		return r;

	if (has_tpm) {
		r = devsecret_unseal(t, sfd, plain, &sid, secret);
		if (r < 0)
			return r;
		if (has_plain) {
			r = tf_devsecret_load(sfd, &sid2, other);
			if (r < 0)
				return r;
			/* two different secrets: refuse to guess which one
			 * the keys were made with */
			if (sid != sid2 ||
			    tf_memeq_ct(other, secret, TF_DEVSECRET_BYTES) != 0)
				return -EEXIST;
			r = tf_ks_destroy_file(sfd, TF_DEVSECRET_FILE);
			if (r == 0)
				r = tf_fsync_dir_at(sfd, NULL);
			if (r < 0)
				return r;
		}
		*suite_id = sid;
		return 0;
	}

	r = tf_devsecret_load(sfd, &sid, other);
	if (r < 0)
		return r;
	memcpy(plain, TF_DEVSECRET_MAGIC, 4);
	plain[4] = TF_DEVSECRET_VERSION;
	plain[5] = sid;
	plain[6] = plain[7] = 0;
	memcpy(plain + 8, other, TF_DEVSECRET_BYTES);
	r = tf_tpm_seal(t, TF_TPM_KIND_DEVSECRET, NULL, plain,
			TF_DEVSECRET_FILE_BYTES, NULL, 0, file, sizeof(file),
			&flen);
	if (r < 0)
		return r;
	/* never destroy the only copy on the word of a seal alone */
	r = tf_tpm_load(t, file, flen);
	if (r < 0)
		return r;
	{
		uint8_t check[TF_DEVSECRET_FILE_BYTES];
		size_t clen = 0;
		r = tf_tpm_unseal(t, NULL, 0, check, sizeof(check), &clen);
		if (r == 0 && (clen != TF_DEVSECRET_FILE_BYTES ||
			       tf_memeq_ct(check, plain, clen) != 0))
			r = -EIO;
		tf_memzero(check, sizeof(check));
		if (r < 0)
			return r;
	}
	/* nothing of ours stays loaded in the TPM across the commit */
	tf_tpm_close(steal_pointer(&t));
	tf_fault_point("tpm-migrate-before-commit");
	r = tf_atomic_write_at(sfd, F_DEVSECRET_TPM, file, flen, 0600);
	if (r < 0)
		return r;
	tf_fault_point("tpm-migrate-after-commit");
	r = tf_ks_destroy_file(sfd, TF_DEVSECRET_FILE);
	if (r == 0)
		r = tf_fsync_dir_at(sfd, NULL);
	if (r < 0)
		return r;
	memcpy(secret, other, TF_DEVSECRET_BYTES);
	*suite_id = sid;
	return 0;
}
