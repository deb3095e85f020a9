/* SPDX-License-Identifier: ISC */
/*
 * Creating a persona's SP and its first wrapping (device-bound or under a
 * credential), with its discardable file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"

int tf_ks_write_discard(struct tf_keystore *ks, int dfd, const char *name,
			uint8_t dhash[TF_HASH_BYTES])
{
	_cleanup_secure_ uint8_t *buf = NULL;
	int r;

	buf = tf_secure_alloc(TF_DISCARD_FILE_BYTES);
	if (buf == NULL)
		return -ENOMEM;
	memcpy(buf, TF_DISCARD_MAGIC, 4);
	buf[4] = TF_DISCARD_VERSION;
	r = tf_random(buf + 8, TF_DISCARD_RANDOM);
	if (r < 0)
		return r;
	r = tf_hash(ks->s, dhash, buf + 8, TF_DISCARD_RANDOM);
	if (r < 0)
		return r;
	return tf_atomic_write_at(dfd, name, buf, TF_DISCARD_FILE_BYTES, 0600);
}
/*
 * Create SP and its first wrapping. Commit point: the atomic appearance of
 * sp.<protector>. Before it, nothing can have been encrypted under the new
 * key, so a leftover discardable.new is garbage; after it,
 * tf_ks_load_state rolls discardable.new forward to discardable.
 */
int tf_ks_create_sp(struct tf_keystore *ks, int dfd, const char *persona,
		    unsigned flags, uint8_t protector, uint8_t kind,
		    const uint8_t *cred, size_t credlen)
{
	_cleanup_secure_ uint8_t *sp = NULL, *pw = NULL, *tpmsec = NULL;
	struct tf_throttle_rec t;
	enum tf_persona_keystate st;
	struct tf_spblob b;
	uint8_t dhash[TF_HASH_BYTES], blob[TF_SPBLOB_MAX];
	size_t bloblen;
	int r;

	if (flags & ~TF_KEYS_DATA_NONEMPTY)
		return -EINVAL;
	/* damaged key material (-EBADMSG) is never replaced either */
	r = tf_ks_load_state(ks, dfd, &st, &t);
	if (r < 0)
		return r;
	if (st == TF_KS_DEVICE || st == TF_KS_CREDENTIAL)
		return -EEXIST;
	if (flags & TF_KEYS_DATA_NONEMPTY)
		return -EEXIST;
	/* leftovers of a creation that crashed before its commit */
	r = tf_ks_destroy_file(dfd, F_DISCARD_NEW);
	if (r == 0)
		r = tf_ks_tpm_drop_slots(ks, dfd);
	if (r == 0)
		r = tf_ks_destroy_file(dfd, F_TPM_CRED_NEW);
	if (r == 0)
		r = tf_ks_destroy_file(dfd, F_TPM_CRED);
	if (r == 0)
		r = tf_ks_destroy_file(dfd, F_DURESS);
	if (r < 0)
		return r;
	/* a fresh persona starts with a fresh counter (and not erased) */
	memset(&t, 0, sizeof(t));
	r = tf_ks_throttle_store(dfd, &t);
	if (r < 0)
		return r;

	sp = tf_secure_alloc(TF_SP_BYTES);
	pw = tf_secure_alloc(TF_KEY_BYTES);
	if (sp == NULL || pw == NULL)
		return -ENOMEM;
	r = tf_random(sp, TF_SP_BYTES);
	if (r < 0)
		return r;
	r = tf_ks_write_discard(ks, dfd, F_DISCARD_NEW, dhash);
	if (r < 0)
		return r;

	memset(&b, 0, sizeof(b)); /* generation 0: discardable */
	b.protector = protector;
	b.kind = kind;
	if (protector == TF_PROT_CREDENTIAL) {
		/* before the commit: sp.credential needs the TPM object */
		r = tf_ks_new_cred_protector(ks, dfd, cred, credlen, F_TPM_SLOT,
					     &b, pw, &tpmsec);
		if (r < 0) {
			tf_ks_tpm_lauth_drop(ks);
			return r;
		}
	}
	/* every credential has a duress verifier, a decoy until one is set
	 * (duress.c); before the commit, so a leftover is destroyed above */
	r = protector == TF_PROT_CREDENTIAL ? tf_ks_duress_decoy(dfd, b.salt)
					    : 0;
	if (r == 0)
		r = tf_ks_seal_sp(ks, persona, &b,
				  protector == TF_PROT_CREDENTIAL ? pw : NULL,
				  tpmsec, dhash, sp, blob, &bloblen);
	if (r == 0) {
		tf_fault_point("enroll-before-commit");
		r = tf_atomic_write_at(dfd,
				       protector == TF_PROT_CREDENTIAL
					       ? F_SP_CRED
					       : F_SP_DEVICE,
				       blob, bloblen, 0600);
	}
	if (r < 0) {
		tf_ks_tpm_lauth_drop(ks);
		return r;
	}
	tf_fault_point("enroll-after-commit");
	/* a provisioning's lockoutAuth becomes the TPM's only now */
	if (tpmsec != NULL) {
		r = tf_ks_tpm_committed(ks, dfd);
		if (r < 0)
			return r;
	}
	if (renameat(dfd, F_DISCARD_NEW, dfd, F_DISCARD) < 0)
		return tf_negerrno();
	return tf_fsync_dir_at(dfd, NULL);
}
