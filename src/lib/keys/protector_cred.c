/* SPDX-License-Identifier: ISC */
/*
 * The credential protector: a fresh one (calibrated costs, new salt, TPM
 * object), the throttled attempt, and the credential change.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"
#include "src/lib/keys/tpm.h"

/*
 * A fresh credential protector in b (its costs calibrated now, a new
 * salt) and pw = Argon2id(cred) under it; with a TPM also a new TPM object
 * (file tpm_file) whose secret goes to *tpmsec (secure memory). Shared by
 * the first enrolment and a credential change.
 */
int tf_ks_new_cred_protector(struct tf_keystore *ks, int dfd,
			     const uint8_t *cred, size_t len,
			     const char *tpm_file, struct tf_spblob *b,
			     uint8_t *pw, uint8_t **tpmsec)
{
	int r;

	r = tf_keys_calibrate(&ks->cfg, &b->opslimit, &b->mem_kib);
	if (r < 0)
		return r;
	r = tf_random(b->salt, sizeof(b->salt));
	if (r < 0)
		return r;
	r = tf_ks_pwhash(cred, len, b, pw, NULL);
	if (r < 0 || ks->cfg.tpm_tcti[0] == '\0')
		return r;
	*tpmsec = tf_secure_alloc(TF_TPM_SECRET_BYTES);
	if (*tpmsec == NULL)
		return -ENOMEM;
	return tf_ks_tpm_cred_create(ks, dfd, tpm_file, b->salt, pw, *tpmsec);
}
/* ------------------------------------------- throttled credential check */

/*
 * The Gatekeeper order: refuse during a wait (not counted); count the try
 * and make it durable; only then open SP (the verdict); reset on success.
 * Killing the daemon anywhere after the count leaves the try counted.
 *
 * The count-before-check write (temp file, fsync, rename, fsync of the
 * directory: ~1 ms here) runs on a helper thread while this thread runs the
 * KDF. The rule is that the count is durable before the *verdict*, and the
 * verdict (opening SP) comes only after the join; Argon2id alone tells
 * nothing, and a daemon killed during it has learnt nothing. The helper
 * touches no secret, and then runs the caller's during_kdf hook. The thread
 * is joined before this function returns, so the process is
 * single-threaded again before anything can fork. If no thread can be
 * made, the same work runs here, before the KDF (throttle.c).
 */
int tf_ks_cred_attempt(struct tf_keystore *ks, int dfd, const char *persona,
		       const uint8_t *cred, size_t len, uint8_t *sp,
		       struct tf_throttle_info *ti, uint64_t *kdf_ns,
		       const struct tf_keys_unlock_opts *o)
{
	bool late_reset = o && (o->flags & TF_KEYS_LATE_RESET);
	struct tf_ks_count_job job;
	_cleanup_secure_ uint8_t *pw = NULL, *tpmsec = NULL;
	_cleanup_(tf_ks_tpm_cred_close) struct tf_ks_tpm_cred tc = {0};
	struct tf_throttle_rec t, before;
	struct tf_keys_clock now;
	enum tf_persona_keystate st;
	struct tf_throttle_info info;
	struct tf_spblob b;
	uint8_t dhash[TF_HASH_BYTES];
	int r, ro, dur;

	if (len > TF_CRED_MAX)
		return -EINVAL;
	r = tf_ks_load_state(ks, dfd, &st, &t);
	if (r < 0)
		return r;
	r = tf_ks_get_clock(ks, &now);
	if (r < 0)
		return r;
	if (st == TF_KS_ERASED) {
		tf_ks_throttle_info(ks, &t, &now, &info);
		if (ti)
			*ti = info;
		return -ENOKEY;
	}
	if (st == TF_KS_NONE)
		return -ENOENT;
	if (st == TF_KS_DEVICE)
		return -EINVAL;
	if (t.failures >= ks->cfg.throttle_max_failures) {
		/* a try was counted, then the daemon died before erasing */
		r = tf_ks_do_erase(
			ks, dfd, persona, &t, "erase.failures",
			"crypto-erased after too many failed attempts");
		if (r < 0)
			return r;
		tf_ks_throttle_info(ks, &t, &now, &info);
		if (ti)
			*ti = info;
		return -ENOKEY;
	}
	tf_ks_throttle_info(ks, &t, &now, &info);
	if (info.wait_seconds > 0) {
		if (ti)
			*ti = info;
		return -EAGAIN;
	}
	/* damage is reported before counting: it cannot be guessed against */
	r = tf_ks_load_spblob(ks, dfd, F_SP_CRED, &b);
	if (r < 0)
		return r;
	r = tf_ks_discard_hash(ks, dfd, b.generation, dhash);
	if (r < 0)
		return r;
	pw = tf_secure_alloc(TF_KEY_BYTES);
	if (pw == NULL)
		return -ENOMEM;
	/* TPM-bound: reach the TPM and check the slot (or load the legacy
	 * object) before counting, so an absent, foreign or locked-out TPM
	 * costs no try (tpm_bind.c) */
	r = tf_ks_tpm_prepare(ks, dfd, b.salt, &tc);
	if (r == -ENOKEY) {
		tf_ks_tpm_cred_close(&tc); /* the erase opens it again */
		/* the TPM is locked out for good: nothing can read the slot
		 * again, so the persona is gone; say so and clean up */
		r = tf_ks_do_erase(ks, dfd, persona, &t, "erase.tpm_lockout",
				   "crypto-erased: the TPM locked out after "
				   "too many failed attempts");
		if (r < 0)
			return r;
		tf_ks_throttle_info(ks, &t, &now, &info);
		if (ti)
			*ti = info;
		return -ENOKEY;
	}
	if (r < 0)
		return r;
	if (tc.kind != TF_KS_TPM_NONE) {
		tpmsec = tf_secure_alloc(TF_TPM_SECRET_BYTES);
		if (tpmsec == NULL)
			return -ENOMEM;
	}

	before = t;
	t.failures++;
	t.last_ns = now.boottime_ns;
	memcpy(t.boot_id, now.boot_id, sizeof(t.boot_id));
	job = (struct tf_ks_count_job){.dfd = dfd, .t = &t, .o = o};
	tf_ks_count_start(&job);
	r = tf_ks_pwhash(cred, len, &b, pw, kdf_ns);
	ro = tf_ks_count_finish(&job);
	if (ro < 0)
		return ro; /* not counted: no verdict */
	tf_fault_point("unlock-after-count");
	if (r < 0)
		return r;
	ro = 0;
	if (tc.kind != TF_KS_TPM_NONE) {
		/* the TPM checks the auth and counts a wrong one in its own
		 * dictionary-attack counter (TPM_RC_AUTH_FAIL) */
		ro = tf_ks_tpm_verdict(ks, &tc, pw, tpmsec);
		if (ro == -EACCES)
			ro = -EBADMSG; /* wrong credential: the verdict below */
		else if (ro == -ENOKEY) {
			/* wrong, and the TPM is now locked out for good */
			t.failures = TF_MAX(t.failures,
					    ks->cfg.throttle_max_failures);
			ro = -EBADMSG;
		} else if (ro == -EBUSY || ro == -EPERM) {
			/* TPM lockout, or the boot state (PCRs) changed
			 * since the check: nothing was checked, so the try
			 * is not held against the user (undo the count) */
			r = tf_ks_throttle_store(dfd, &before);
			if (r < 0)
				return r;
			tf_ks_throttle_info(ks, &before, &now, &info);
			if (ti)
				*ti = info;
			return ro;
		} else if (ro < 0)
			return ro; /* not a verdict: the try stays counted */
	}
	if (ro == 0)
		ro = tf_ks_open_sp(ks, persona, &b, pw, tpmsec, dhash, sp);
	if (ro == 0) {
		memset(&t, 0, sizeof(t));
		/* late_reset: the caller resets the counter with
		 * tf_keys_reset_failures() once it has answered; until then
		 * the try stays counted on disk (the safe side) */
		r = late_reset ? 0 : tf_ks_throttle_store(dfd, &t);
		if (r < 0) {
			tf_memzero(sp, TF_SP_BYTES);
			return r;
		}
		tf_ks_throttle_info(ks, &t, &now, &info);
		if (ti)
			*ti = info;
		return 0;
	}
	if (ro != -EBADMSG)
		return ro; /* not a verdict (ENOMEM...): the try stays counted */
	/* wrong, or the duress credential (duress.c): that erases now and
	 * is answered below exactly as a wrong credential */
	dur = tf_ks_duress_match(ks, dfd, persona, &b, pw, dhash);
	if (dur < 0)
		return dur;
	if (dur > 0) {
		struct tf_throttle_rec e = t;
		tf_ks_tpm_cred_close(&tc); /* the erase opens it again */
		r = tf_ks_do_erase(ks, dfd, persona, &e, "erase.duress",
				   TF_KS_DURESS_EVENT);
		/* a failed erase must not give the duress away: the answer
		 * stays that of a wrong credential. The erased flag is the
		 * erase's first step, so once it is down the next access
		 * finishes the job (tf_ks_load_state); the caller reads the
		 * state after every -EACCES and evicts an erased persona. */
		(void)r;
		if (t.failures >= ks->cfg.throttle_max_failures) {
			/* the last try: a wrong one would have erased too */
			tf_ks_throttle_info(ks, &e, &now, &info);
			if (ti)
				*ti = info;
			return -ENOKEY;
		}
	}
	if (dur == 0 && t.failures >= ks->cfg.throttle_max_failures) {
		tf_ks_tpm_cred_close(&tc); /* the erase opens it again */
		char what[96];
		snprintf(what, sizeof(what),
			 "crypto-erased after %u failed attempts", t.failures);
		r = tf_ks_do_erase(ks, dfd, persona, &t, "erase.failures",
				   what);
		if (r < 0)
			return r;
		tf_ks_throttle_info(ks, &t, &now, &info);
		if (ti)
			*ti = info;
		return -ENOKEY;
	}
	tf_ks_throttle_info(ks, &t, &now, &info);
	tf_ks_tpm_fold_info(&tc, &info);
	if (ti)
		*ti = info;
	return -EACCES;
}

/*
 * A credential change: the old credential is a throttled attempt like an
 * unlock; then SP is wrapped afresh under the new one (kind: enum
 * tf_cred_kind, checked by the caller) as a new protector of the next
 * generation: a new discardable (discardable.<gen + 1>), new salt and
 * costs, a new TPM object. Commit point: the atomic write of sp.credential
 * (it names the new generation). Before it the old pair is intact (old
 * credential unlocks); after it the new pair is (new credential unlocks);
 * then the old generation is destroyed, and what a crash leaves of it is
 * destroyed at the next access (tf_ks_destroy_dead_generations). The old
 * blob is kept as a second link, sp.credential.old, across the commit, so
 * that its blocks are destroyed too instead of only freed by the rename.
 * dfd as for tf_ks_cred_attempt.
 */
static int change_rewrap(struct tf_keystore *ks, int dfd, const char *persona,
			 uint8_t kind, const uint8_t *new_cred, size_t new_len,
			 const uint8_t *sp)
{
	_cleanup_secure_ uint8_t *pw = NULL, *tpmsec = NULL;
	struct tf_spblob b, old;
	uint8_t dhash[TF_HASH_BYTES], blob[TF_SPBLOB_MAX];
	char dname[TF_DISCARD_NAME_MAX], oldname[TF_DISCARD_NAME_MAX];
	enum tf_destroy_how how;
	size_t bloblen;
	int r;

	pw = tf_secure_alloc(TF_KEY_BYTES);
	if (pw == NULL)
		return -ENOMEM;
	/* same SP (so the same fscrypt key); everything else new */
	r = tf_ks_load_spblob(ks, dfd, F_SP_CRED, &old);
	if (r < 0)
		return r;
	if (old.generation == UINT32_MAX)
		return -EOVERFLOW;
	memset(&b, 0, sizeof(b));
	b.protector = TF_PROT_CREDENTIAL;
	b.kind = kind;
	b.generation = old.generation + 1;
	tf_ks_discard_name(b.generation, dname);
	tf_ks_discard_name(old.generation, oldname);
	/* tf_ks_cred_attempt's load_state destroyed the leftovers of an
	 * earlier crashed change, so dname is fresh */
	r = tf_ks_write_discard(ks, dfd, dname, dhash);
	if (r < 0)
		return r;
	/* a new NV slot under the new credential, linked to the new salt;
	 * tf_ks_tpm_prepare rolls it forward once the commit below has
	 * happened, and undefines it otherwise */
	r = tf_ks_new_cred_protector(ks, dfd, new_cred, new_len, F_TPM_SLOT_NEW,
				     &b, pw, &tpmsec);
	if (r < 0)
		return r;
	r = tf_ks_seal_sp(ks, persona, &b, pw, tpmsec, dhash, sp, blob,
			  &bloblen);
	if (r < 0)
		return r;
	/* the old blob's second name: after the rename it is the only one,
	 * and the old bytes can be overwritten in place */
	if (linkat(dfd, F_SP_CRED, dfd, F_SP_CRED_OLD, 0) < 0)
		return tf_negerrno();
	tf_fault_point("change-before-commit");
	/* the rename inside is the commit: old or new, never neither */
	r = tf_atomic_write_at(dfd, F_SP_CRED, blob, bloblen, 0600);
	if (r < 0)
		return r;
	tf_fault_point("change-after-commit");
	/* destroy the old generation: its discardable first (without it
	 * the old blob, wherever a copy survives, opens nothing) */
	r = tf_ks_destroy_file_how(dfd, oldname, &how);
	if (r < 0)
		return r;
	ks->last_destroy = how;
	tf_fault_point("change-after-destroy-discard");
	r = tf_ks_destroy_dead_generations(ks, dfd, b.generation);
	if (r < 0)
		return r;
	/* the duress verifier was made under the old salt: a decoy under
	 * the new one replaces it, so that a persona with a duress
	 * credential and one without look the same on disk (duress.c); if
	 * that fails the old one stays, linked to the old salt: it matches
	 * nothing */
	r = tf_ks_duress_decoy(dfd, b.salt);
	(void)r;
	/* the new slot replaces the old, whose index is undefined: the old
	 * credential then opens nothing, whatever files are restored */
	if (tpmsec != NULL)
		return tf_ks_tpm_committed(ks, dfd);
	/* enrolled with a TPM, changed without one (tf_ks_cred_attempt refuses
	 * that, -ENODEV): nothing to do but the duress file's unlink */
	return tf_fsync_dir_at(dfd, NULL);
}

int tf_ks_cred_change(struct tf_keystore *ks, int dfd, const char *persona,
		      uint8_t kind, const uint8_t *old_cred, size_t old_len,
		      const uint8_t *new_cred, size_t new_len,
		      struct tf_throttle_info *ti)
{
	_cleanup_secure_ uint8_t *sp = NULL;
	int r;

	sp = tf_secure_alloc(TF_SP_BYTES);
	if (sp == NULL)
		return -ENOMEM;
	/* the old slot's lockoutAuth goes into the new one (tpm_bind.c) */
	ks->tpm_lauth_keep = true;
	r = tf_ks_cred_attempt(ks, dfd, persona, old_cred, old_len, sp, ti,
			       NULL, NULL);
	ks->tpm_lauth_keep = false;
	if (r == 0)
		r = change_rewrap(ks, dfd, persona, kind, new_cred, new_len,
				  sp);
	tf_ks_tpm_lauth_drop(ks);
	return r;
}
