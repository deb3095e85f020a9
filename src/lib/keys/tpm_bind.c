/* SPDX-License-Identifier: ISC */
/*
 * The key store's TPM glue (tpm.c is the TPM layer): the TPM object of a
 * credential persona (tpm.credential, tpm.credential.new) and the device
 * secret sealed in the TPM (device.secret.tpm, migrated from the plaintext
 * device.secret). docs/keys.md "TPM".
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"
#include "src/lib/keys/tpm.h"
#include <tss2/tss2_tpm2_types.h>

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
 * Legacy personas (enrolled before NV slots): find the TPM object that goes
 * with sp.credential (its link is the blob's salt); *flen = 0 when the
 * persona has none (enrolled without a TPM). A credential change writes tpm.credential.new, commits
 * sp.credential, then renames; the link says which side of the commit a
 * crash left us on: roll forward if .new matches, else discard it.
 */
static int tpm_cred_find(int dfd, const uint8_t salt[TF_SALT_BYTES],
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
 * The storage key's Name is pinned in <state>/tpm.name at the first open
 * with a TPM (trust on first use, as ssh's known_hosts) and compared on
 * every later one before any session is salted with it: a TPM that
 * answers with another primary (another TPM, a cleared one, an
 * interposer) is refused before a secret or an auth HMAC goes to it.
 */
static int tpm_open_pin(int sfd, const char *tcti, struct tf_tpm **t,
			uint8_t name[TF_TPM_NAME_MAX], size_t *namelen,
			bool *fresh)
{
	uint8_t buf[TF_TPM_SLOT_NAME_BYTES + 1];
	size_t len;
	int r;

	r = tf_ks_read_key_file(sfd, F_TPM_NAME, buf, sizeof(buf), &len);
	if (r == 0) {
		if (len != TF_TPM_SLOT_NAME_BYTES || buf[0] != 0 ||
		    buf[1] != TPM2_ALG_SHA256)
			return -EBADMSG;
		r = tf_tpm_open_pinned(tcti, buf, len, t);
		if (r < 0)
			return r;
		memcpy(name, buf, len);
		*namelen = len;
		*fresh = false;
		return 0;
	}
	if (r != -ENOENT)
		return r;
	*fresh = true; /* recorded by the caller once the TPM proved ours */
	r = tf_tpm_open(tcti, t);
	if (r == 0)
		r = tf_tpm_primary_name(*t, name, namelen);
	if (r == 0 && (*namelen != TF_TPM_SLOT_NAME_BYTES || name[0] != 0 ||
		       name[1] != TPM2_ALG_SHA256))
		r = -EIO;
	if (r < 0) {
		tf_tpm_close(*t);
		*t = NULL;
	}
	return r;
}

/*
 * The device secret with a TPM: device.secret.tpm holds it sealed. The
 * first open after `twofold init` migrates the plaintext device.secret:
 * seal, prove the sealed copy unseals to the same bytes, commit it
 * atomically, then destroy the plaintext. A crash between the commit and
 * the unlink leaves both; the next open finishes the job if they agree.
 */
static int devsecret_tpm(int sfd, const char *tcti, uint8_t *suite_id,
			 uint8_t *secret, uint8_t name[TF_TPM_NAME_MAX],
			 size_t *namelen, bool *fresh)
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
	r = tpm_open_pin(sfd, tcti, &t, name, namelen, fresh);
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

int tf_ks_devsecret_tpm(int sfd, const char *tcti, uint8_t *suite_id,
			uint8_t *secret, uint8_t name[TF_TPM_NAME_MAX],
			size_t *namelen)
{
	bool fresh = false;
	int r;

	r = devsecret_tpm(sfd, tcti, suite_id, secret, name, namelen, &fresh);
	if (r < 0 || !fresh)
		return r;
	/* the TPM unsealed our device secret: it is the one to pin */
	r = tf_atomic_write_at(sfd, F_TPM_NAME, name, *namelen, 0600);
	if (r < 0)
		tf_memzero(secret, TF_DEVSECRET_BYTES);
	return r;
}

/* ------------------------------------------ NV slots (Weaver on TPM) */

static int ks_tpm_open(struct tf_keystore *ks, struct tf_tpm **t)
{
	if (ks->cfg.tpm_tcti[0] == '\0')
		return -ENODEV;
	return tf_tpm_open_pinned(ks->cfg.tpm_tcti,
				  ks->tpm_namelen ? ks->tpm_name : NULL,
				  ks->tpm_namelen, t);
}

static int slotref_read(int dfd, const char *name, struct tf_tpm_slotref *ref)
{
	uint8_t buf[TF_TPM_SLOTREF_BYTES + 1];
	size_t len;
	int r;

	r = tf_ks_read_key_file(dfd, name, buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	return tf_tpm_slotref_parse(buf, len, ref);
}

/* Undefine a slot that is no longer wanted. A failure (the TPM went away)
 * leaves an orphan index: the sweep at the next open removes it. */
static void undefine_or_orphan(struct tf_tpm *t, uint32_t handle)
{
	int r = tf_tpm_nv_undefine(t, handle);

	(void)r;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int lauth_hold(struct tf_keystore *ks, const uint8_t *l)
{
	if (ks->tpm_lauth == NULL) {
		ks->tpm_lauth = tf_secure_alloc(TF_TPM_AUTH_BYTES);
		if (ks->tpm_lauth == NULL)
			return -ENOMEM;
	}
	memcpy(ks->tpm_lauth, l, TF_TPM_AUTH_BYTES);
	ks->tpm_lauth_held = true;
	return 0;
}

void tf_ks_tpm_lauth_drop(struct tf_keystore *ks)
{
	if (ks->tpm_lauth != NULL)
		tf_memzero(ks->tpm_lauth, TF_TPM_AUTH_BYTES);
	ks->tpm_lauth_held = ks->tpm_lauth_provision = false;
}

/* Locked out with no way back: our parameters (no self-healing) and a
 * lockoutAuth that is set (ours, kept only inside the slots that can no
 * longer be read). */
static bool lockout_for_good(const struct tf_tpm_da *d)
{
	return d->failed >= d->max_tries && d->lockout_auth_set &&
	       d->recovery == TF_TPM_DA_RECOVERY_NEVER;
}

int tf_ks_tpm_cred_create(struct tf_keystore *ks, int dfd, const char *name,
			  const uint8_t salt[TF_SALT_BYTES], const uint8_t *pw,
			  uint8_t *tpmsec)
{
	_cleanup_(tf_tpm_closep) struct tf_tpm *t = NULL;
	_cleanup_secure_ uint8_t *auth = NULL, *data = NULL;
	struct tf_tpm_slotref ref;
	uint8_t buf[TF_TPM_SLOTREF_BYTES], nm[TF_TPM_NAME_MAX];
	struct tf_tpm_da d;
	size_t nlen;
	int r;

	auth = tf_secure_alloc(TF_TPM_AUTH_BYTES);
	data = tf_secure_alloc(TF_TPM_SLOT_BYTES);
	if (auth == NULL || data == NULL)
		return -ENOMEM;
	r = tf_random(tpmsec, TF_TPM_SECRET_BYTES);
	if (r < 0)
		return r;
	r = tf_ks_tpm_auth(ks, pw, auth);
	if (r < 0)
		return r;
	r = ks_tpm_open(ks, &t);
	if (r < 0)
		return r;
	r = tf_tpm_da_info(t, &d);
	if (r < 0)
		return r;
	if (lockout_for_good(&d))
		return -EBUSY; /* a slot made now could never be read */
	memcpy(data, tpmsec, TF_TPM_SECRET_BYTES);
	if (ks->tpm_lauth_held) {
		/* a change: the lockoutAuth the old slot held */
		memcpy(data + TF_TPM_SECRET_BYTES, ks->tpm_lauth,
		       TF_TPM_AUTH_BYTES);
	} else if (!d.lockout_auth_set) {
		/* provisioning: a fresh lockoutAuth that only this slot will
		 * hold; made the TPM's after the commit (tf_ks_tpm_committed),
		 * so a crash before it loses nothing */
		r = tf_random(data + TF_TPM_SECRET_BYTES, TF_TPM_AUTH_BYTES);
		if (r == 0)
			r = lauth_hold(ks, data + TF_TPM_SECRET_BYTES);
		if (r < 0)
			return r;
		ks->tpm_lauth_provision = true;
		r = tf_tpm_da_set(t, NULL, 0, ks->cfg.throttle_max_failures);
		if (r < 0)
			return r;
	} else {
		/* set by someone (an erased persona's slot held it): this slot
		 * cannot refund the counter (docs/keys.md "TPM", limits) */
		memset(data + TF_TPM_SECRET_BYTES, 0, TF_TPM_AUTH_BYTES);
	}
	r = tf_tpm_nv_free(t, &ref.handle);
	if (r < 0)
		return r;
	r = tf_tpm_nv_define(t, ref.handle, ks->cfg.tpm_pcrs, auth, data, nm,
			     &nlen);
	if (r < 0)
		return r;
	if (nlen != TF_TPM_SLOT_NAME_BYTES) {
		r = -EIO;
		goto undefine;
	}
	memcpy(ref.link, salt, TF_TPM_LINK_BYTES);
	ref.pcr_mask = ks->cfg.tpm_pcrs;
	memcpy(ref.name, nm, TF_TPM_SLOT_NAME_BYTES);
	tf_tpm_slotref_format(&ref, buf);
	r = tf_atomic_write_at(dfd, name, buf, sizeof(buf), 0600);
	if (r == 0)
		return 0;
undefine:
	undefine_or_orphan(t, ref.handle);
	return r;
}

/* Make l the TPM's lockoutAuth if it has none yet (a provisioning whose
 * last step did not run), set our DA parameters, and reset the failure
 * counter: a right credential refunds the wrong tries before it. Best
 * effort: the unlock has succeeded, and the next one tries again. */
static void refund(struct tf_keystore *ks, struct tf_tpm *t, const uint8_t *l)
{
	uint32_t m = ks->cfg.throttle_max_failures;
	struct tf_tpm_da d;

	if (all_zero(l, TF_TPM_AUTH_BYTES) || tf_tpm_da_info(t, &d) < 0)
		return;
	if (!d.lockout_auth_set) {
		if (tf_tpm_da_set(t, NULL, 0, m) < 0 ||
		    tf_tpm_lockout_change(t, NULL, 0, l) < 0)
			return;
		d.failed = 1; /* reset below, whatever it was */
		d.max_tries = m;
		d.recovery = TF_TPM_DA_RECOVERY_NEVER;
		d.lockout_recovery = TF_TPM_DA_LOCKOUT_RECOVERY;
	}
	if (d.failed > 0 && tf_tpm_da_reset(t, l, TF_TPM_AUTH_BYTES) < 0)
		return;
	if (d.max_tries != m || d.recovery != TF_TPM_DA_RECOVERY_NEVER ||
	    d.lockout_recovery != TF_TPM_DA_LOCKOUT_RECOVERY)
		if (tf_tpm_da_set(t, l, TF_TPM_AUTH_BYTES, m) < 0)
			return; /* tried again at the next success */
}

/* tf_ks_tpm_committed on an open TPM (NULL: opened if needed); one
 * connection at a time, since a raw /dev/tpm0 allows only one */
static int committed_on(struct tf_keystore *ks, int dfd, struct tf_tpm *open)
{
	_cleanup_(tf_tpm_closep) struct tf_tpm *own = NULL;
	struct tf_tpm *t = open;
	struct tf_tpm_slotref old, neu;
	int r, ro;

	r = slotref_read(dfd, F_TPM_SLOT_NEW, &neu);
	if (r == 0) {
		ro = slotref_read(dfd, F_TPM_SLOT, &old);
		if (renameat(dfd, F_TPM_SLOT_NEW, dfd, F_TPM_SLOT) < 0) {
			r = tf_negerrno();
			goto out;
		}
		r = tf_fsync_dir_at(dfd, NULL);
		if (r < 0)
			goto out;
		tf_fault_point("change-before-undefine");
		/* the old credential's slot: without it the old PIN opens
		 * nothing, even with every old file restored. A failure
		 * leaves an orphan that the next open sweeps. */
		if (t == NULL && ks_tpm_open(ks, &own) == 0)
			t = own;
		if (ro == 0 && old.handle != neu.handle && t != NULL)
			undefine_or_orphan(t, old.handle);
	} else if (r != -ENOENT) {
		goto out;
	}
	r = 0;
	if (tf_ks_file_exists(dfd, F_TPM_SLOT) == 1) {
		/* a legacy object is replaced by the slot (migration) */
		r = tf_ks_destroy_file(dfd, F_TPM_CRED);
		if (r == 0)
			r = tf_ks_destroy_file(dfd, F_TPM_CRED_NEW);
		if (r < 0)
			goto out;
	}
	if (ks->tpm_lauth_provision && ks->tpm_lauth_held) {
		struct tf_tpm_da d;

		tf_fault_point("enroll-before-lockout");
		if (t == NULL && ks_tpm_open(ks, &own) == 0)
			t = own;
		/* failure: the first successful unlock finishes it */
		if (t != NULL && tf_tpm_da_info(t, &d) == 0 &&
		    !d.lockout_auth_set &&
		    tf_tpm_lockout_change(t, NULL, 0, ks->tpm_lauth) < 0)
			r = 0; /* not an error of the commit: see above */
	}
out:
	tf_ks_tpm_lauth_drop(ks);
	return r;
}

int tf_ks_tpm_committed(struct tf_keystore *ks, int dfd)
{
	return committed_on(ks, dfd, NULL);
}

int tf_ks_tpm_drop_slots(struct tf_keystore *ks, int dfd)
{
	static const char *const files[] = {F_TPM_SLOT_NEW, F_TPM_SLOT};
	_cleanup_(tf_tpm_closep) struct tf_tpm *t = NULL;
	struct tf_tpm_slotref ref;
	int r, ret = 0;

	for (size_t i = 0; i < TF_ARRAY_SIZE(files); i++) {
		r = slotref_read(dfd, files[i], &ref);
		if (r == -ENOENT)
			continue;
		/* the index first: it is what the credential opens. An
		 * unreachable TPM leaves an orphan the next open sweeps; the
		 * KEK's other inputs go with the files anyway */
		if (r == 0 && (t != NULL || ks_tpm_open(ks, &t) == 0))
			undefine_or_orphan(t, ref.handle);
		r = tf_ks_destroy_file(dfd, files[i]);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

int tf_ks_tpm_prepare(struct tf_keystore *ks, int dfd,
		      const uint8_t salt[TF_SALT_BYTES],
		      struct tf_ks_tpm_cred *c)
{
	struct tf_tpm_slotref cur, neu;
	struct tf_tpm_da d;
	int r, rn, rc;

	memset(c, 0, sizeof(*c));
	rn = slotref_read(dfd, F_TPM_SLOT_NEW, &neu);
	rc = slotref_read(dfd, F_TPM_SLOT, &cur);
	if (rn == -ENOENT && rc == -ENOENT)
		goto legacy;
	r = ks_tpm_open(ks, &c->t);
	if (r < 0)
		return r;
	if (rn == 0 && memcmp(neu.link, salt, TF_TPM_LINK_BYTES) == 0) {
		/* a change crashed after its commit: roll forward */
		r = committed_on(ks, dfd, c->t);
		if (r < 0)
			return r;
		rc = slotref_read(dfd, F_TPM_SLOT, &cur);
	} else if (rn != -ENOENT) {
		/* crashed before its commit (or damaged): roll back */
		if (rn == 0) {
			r = tf_tpm_nv_undefine(c->t, neu.handle);
			if (r < 0 && r != -ENOENT)
				return r;
		}
		r = tf_ks_destroy_file(dfd, F_TPM_SLOT_NEW);
		if (r == 0)
			r = tf_fsync_dir_at(dfd, NULL);
		if (r < 0)
			return r;
	}
	if (rc == -ENOENT) {
		tf_tpm_close(c->t);
		c->t = NULL;
		goto legacy; /* a legacy persona whose first change crashed */
	}
	if (rc < 0)
		return rc;
	if (memcmp(cur.link, salt, TF_TPM_LINK_BYTES) != 0)
		return -EBADMSG; /* belongs to another wrapping of SP */
	/* the lockout first: once it is for good, nothing else matters (also
	 * not files restored after the erase, whose slot is gone) */
	r = tf_tpm_da_info(c->t, &d);
	if (r < 0)
		return r;
	if (lockout_for_good(&d))
		return -ENOKEY;
	r = tf_tpm_nv_check(c->t, cur.handle, cur.name, sizeof(cur.name));
	if (r == -ENOENT)
		return -EBADMSG; /* undefined behind our back: nothing to try */
	if (r < 0)
		return r;
	r = tf_tpm_nv_policy_check(c->t, cur.handle, cur.pcr_mask);
	if (r < 0)
		return r;
	if (d.failed >= d.max_tries)
		return -EBUSY; /* a lockout that will end */
	c->kind = TF_KS_TPM_SLOT;
	c->ref = cur;
	return 0;

legacy:
	r = tpm_cred_find(dfd, salt, c->file, &c->flen);
	if (r < 0 || c->flen == 0)
		return r;
	/* reach the TPM and load the object (no auth needed) before the
	 * try is counted, so an absent or foreign TPM costs no try */
	r = ks_tpm_open(ks, &c->t);
	if (r < 0)
		return r;
	r = tf_tpm_load(c->t, c->file, c->flen);
	if (r < 0)
		return r;
	c->kind = TF_KS_TPM_OBJECT;
	return 0;
}

int tf_ks_tpm_verdict(struct tf_keystore *ks, struct tf_ks_tpm_cred *c,
		      const uint8_t *pw, uint8_t *tpmsec)
{
	_cleanup_secure_ uint8_t *auth = NULL, *data = NULL;
	struct tf_tpm_da d;
	size_t slen;
	int r;

	auth = tf_secure_alloc(TF_TPM_AUTH_BYTES);
	data = tf_secure_alloc(TF_TPM_SLOT_BYTES);
	if (auth == NULL || data == NULL)
		return -ENOMEM;
	r = tf_ks_tpm_auth(ks, pw, auth);
	if (r < 0)
		return r;
	if (c->kind == TF_KS_TPM_OBJECT) {
		r = tf_tpm_unseal(c->t, auth, TF_TPM_AUTH_BYTES, tpmsec,
				  TF_TPM_SECRET_BYTES, &slen);
		if (r == 0 && slen != TF_TPM_SECRET_BYTES)
			r = -EBADMSG;
		return r;
	}
	/* the TPM checks the auth value (PolicyAuthValue) and counts a
	 * wrong one in failedTries before it answers */
	r = tf_tpm_nv_read(c->t, c->ref.handle, c->ref.name,
			   sizeof(c->ref.name), c->ref.pcr_mask, auth, data);
	if (r == 0) {
		memcpy(tpmsec, data, TF_TPM_SECRET_BYTES);
		refund(ks, c->t, data + TF_TPM_SECRET_BYTES);
		if (ks->tpm_lauth_keep)
			r = lauth_hold(ks, data + TF_TPM_SECRET_BYTES);
		return r;
	}
	if ((r == -EACCES || r == -EBUSY) && tf_tpm_da_info(c->t, &d) == 0) {
		/* kept for the answer: a duress erase closes the TPM before
		 * it is given, and the answer must not differ (duress.c) */
		c->da = d;
		c->have_da = true;
		if (lockout_for_good(&d))
			return -ENOKEY;
	}
	return r;
}

void tf_ks_tpm_fold_info(struct tf_ks_tpm_cred *c, struct tf_throttle_info *ti)
{
	struct tf_tpm_da d;
	uint32_t left;

	if (c->kind != TF_KS_TPM_SLOT)
		return;
	if (c->have_da)
		d = c->da;
	else if (c->t == NULL || tf_tpm_da_info(c->t, &d) < 0)
		return;
	left = d.failed >= d.max_tries ? 0 : d.max_tries - d.failed;
	if (left < ti->tries_left)
		ti->tries_left = left;
	if (d.failed > ti->failures)
		ti->failures = d.failed;
}

void tf_ks_tpm_cred_close(struct tf_ks_tpm_cred *c)
{
	tf_tpm_close(c->t);
	c->t = NULL;
}

int tf_ks_tpm_status(struct tf_keystore *ks, int dfd,
		     struct tf_throttle_info *ti)
{
	struct tf_ks_tpm_cred c = {.kind = TF_KS_TPM_SLOT};

	if (ks->cfg.tpm_tcti[0] == '\0' ||
	    tf_ks_file_exists(dfd, F_TPM_SLOT) != 1)
		return 0;
	/* status must not fail for an absent TPM: it then shows the file's
	 * count */
	if (ks_tpm_open(ks, &c.t) == 0)
		tf_ks_tpm_fold_info(&c, ti);
	tf_ks_tpm_cred_close(&c);
	return 0;
}

/*
 * The orphan sweep, at open: a slot of our shape that no persona's
 * tpm.slot or tpm.slot.new names is left by a crash between defining it
 * and recording it, or between a change's commit and the undefine of the
 * old one (a dead generation). Each persona is read under its lock, after
 * the TPM's list was taken, so a slot being made right now is either not
 * in the list or already recorded. A reference that does not parse stops
 * the sweep: the slot it named may be one we must not lose.
 */
int tf_ks_tpm_sweep(struct tf_keystore *ks)
{
	_cleanup_(tf_tpm_closep) struct tf_tpm *t = NULL;
	_cleanup_closedir_ DIR *dir = NULL;
	uint32_t used[TF_TPM_NV_SLOTS];
	bool named[TF_TPM_NV_SLOTS] = {false};
	struct dirent *de;
	size_t n;
	int r = 0;

	r = ks_tpm_open(ks, &t);
	if (r < 0)
		return r;
	r = tf_tpm_nv_list(t, used, TF_ARRAY_SIZE(used), &n);
	if (r < 0 || n == 0)
		return r;
	r = tf_opendir_at(ks->keysfd, ".", false, &dir);
	if (r < 0)
		return r;
	while (r == 0 && (de = readdir(dir)) != NULL) {
		static const char *const files[] = {F_TPM_SLOT, F_TPM_SLOT_NEW};
		_cleanup_close_ int dfd = -1;

		if (de->d_name[0] == '.' || !tf_name_valid(de->d_name))
			continue;
		if (tf_ks_open_persona(ks, de->d_name, false, &dfd) < 0)
			continue; /* not a directory, or gone */
		for (size_t i = 0; i < TF_ARRAY_SIZE(files) && r == 0; i++) {
			struct tf_tpm_slotref ref;
			int rr = slotref_read(dfd, files[i], &ref);
			if (rr == 0)
				named[ref.handle - TF_TPM_NV_BASE] = true;
			else if (rr != -ENOENT)
				r = -EBADMSG;
		}
	}
	if (r < 0)
		return 0; /* a damaged reference: sweep nothing */
	for (size_t i = 0; i < n && i < TF_ARRAY_SIZE(used); i++) {
		if (named[used[i] - TF_TPM_NV_BASE] ||
		    tf_tpm_nv_ours(t, used[i]) != 1)
			continue;
		r = tf_tpm_nv_undefine(t, used[i]);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}
