/* SPDX-License-Identifier: ISC */
/*
 * enroll, unlock, lock: the requests that carry or guard a credential.
 * Credentials arrive in the request buffer, are copied into secure memory
 * at once and the request buffer is wiped by the caller (server.c) after
 * dispatch. No credential byte is ever logged or echoed.
 */
#include <stdio.h>
#include <string.h>

#include "twofold/keys.h"
#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/sandbox.h"
#include "twofold/secmem.h"
#include "twofold/storage.h"
#include "daemon.h"

/*
 * Move a credential out of the request buffer into secure memory and wipe
 * the request's copy at once. This must happen before anything forks: a
 * persona's init and launcher are forks of the daemon, and plain heap is
 * copied into them (secure memory is MADV_WIPEONFORK).
 */
static char *take_secret(const struct tf_msg *m, uint16_t attr)
{
	const char *s = tf_msg_str(m, attr);
	size_t len;
	char *copy;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	copy = tf_secure_alloc(len + 1);
	if (copy != NULL)
		memcpy(copy, s, len + 1);
	tf_memzero((char *)s, len);
	return copy;
}

/* After a crypto-erase: nothing of the persona may run or stay readable;
 * its data, now ciphertext nobody can decrypt, is removed so a new
 * enrolment starts empty. */
static void erased(struct tfd *d, struct tfd_persona *p)
{
	int r;

	tfd_persona_evict(d, p, NULL);
	p->state = TFD_P_ERASED;
	r = tfd_persona_wipe_data(p);
	if (r < 0)
		tf_warn("%s: removing its erased data: %s", p->cfg->name,
			strerror(-r));
}

static void throttle_msg(struct tfd_reply *rep, int r, const char *what,
			 const char *name, const struct tf_throttle_info *ti)
{
	switch (r) {
	case -EACCES:
		if (ti->wait_seconds)
			tfd_reply_err(rep, r,
				      "%s %s: wrong credential; %u tries left; "
				      "wait %u s before the next",
				      what, name, ti->tries_left,
				      ti->wait_seconds);
		else
			tfd_reply_err(rep, r,
				      "%s %s: wrong credential; %u tries left",
				      what, name, ti->tries_left);
		break;
	case -EAGAIN:
		tfd_reply_err(rep, r,
			      "%s %s: too many failed attempts; wait %u s "
			      "(%u tries left)",
			      what, name, ti->wait_seconds, ti->tries_left);
		break;
	case -ENOKEY:
		tfd_reply_err(rep, r,
			      "%s %s: crypto-erased after too many failed "
			      "attempts; its data is gone",
			      what, name);
		break;
	case -ENOENT:
		tfd_reply_err(rep, r,
			      "%s %s: no credential set; set one with: twofold "
			      "enroll %s",
			      what, name, name);
		break;
	case -EBUSY:
		tfd_reply_err(rep, r,
			      "%s %s: the TPM is in dictionary-attack lockout; "
			      "wait and try again (this try was not counted)",
			      what, name);
		break;
	case -EHOSTUNREACH:
		tfd_reply_err(rep, r,
			      "%s %s: the TPM is not reachable; nothing was "
			      "checked or counted",
			      what, name);
		break;
	case -ENODEV:
		tfd_reply_err(
			rep, r,
			"%s %s: its key is bound to a TPM but device.conf "
			"names none (tpm_tcti)",
			what, name);
		break;
	case -EBADMSG:
		tfd_reply_err(rep, r,
			      "%s %s: wrapped key file damaged (keys/%s/); "
			      "refusing to create a new key over existing "
			      "data",
			      what, name, name);
		break;
	default: tfd_reply_err(rep, r, "%s %s: %s", what, name, strerror(-r));
	}
}

void tfd_req_enroll(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m,
		    struct tfd_persona *p, struct tfd_reply *rep)
{
	_cleanup_secure_ char *oldc = take_secret(m, TF_A_SECRET);
	_cleanup_secure_ char *newc = take_secret(m, TF_A_SECRET_NEW);
	struct tf_throttle_info ti = {0};
	char why[160] = "";
	int r;

	if (!p->cfg->credential) {
		tfd_reply_err(rep, -EINVAL,
			      "%s is bound to this device and takes no "
			      "credential (config: credential = no)",
			      p->cfg->name);
		return;
	}
	if (newc == NULL) {
		tfd_reply_err(rep, -EBADMSG,
			      "malformed request: no credential");
		return;
	}
	r = tf_credential_check_form(&d->cfg, (const uint8_t *)newc,
				     strlen(newc), why, sizeof(why));
	if (r < 0) {
		tfd_reply_err(rep, -EINVAL, "enroll %s: %s", p->cfg->name, why);
		return;
	}
	if (p->state != TFD_P_NOKEY && p->state != TFD_P_ERASED &&
	    oldc == NULL) {
		tfd_reply_err(rep, -EACCES,
			      "enroll %s: a credential is set; changing it "
			      "needs the old one",
			      p->cfg->name);
		return;
	}
	{
		int has = 0;
		if (p->state == TFD_P_NOKEY || p->state == TFD_P_ERASED) {
			/* first enrolment: never over data we can't read; an
			 * erased persona's leftovers are unreadable anyway */
			if (p->state == TFD_P_ERASED)
				tfd_persona_wipe_data(p);
			has = tfd_dir_has_data(p->data_dir);
			tf_secure_free(oldc);
			oldc = NULL;
		}
		r = tf_keys_enroll(d->ks, p->cfg->name,
				   has > 0 ? TF_KEYS_DATA_NONEMPTY : 0,
				   (const uint8_t *)oldc,
				   oldc ? strlen(oldc) : 0,
				   (const uint8_t *)newc, strlen(newc), &ti);
	}
	if (r == -EEXIST) {
		tfd_reply_err(rep, r,
			      "enroll %s: data exists in %s but no key for it; "
			      "refusing to create a new key over existing data",
			      p->cfg->name, p->data_dir);
		return;
	}
	if (r < 0) {
		throttle_msg(rep, r, "enroll", p->cfg->name, &ti);
		if (r == -ENOKEY)
			erased(d, p);
		return;
	}
	if (p->state == TFD_P_NOKEY || p->state == TFD_P_ERASED) {
		p->state = TFD_P_EVICTED;
		tfd_reply_err(rep, 0,
			      "%s: credential set; unlock it with: twofold "
			      "unlock %s",
			      p->cfg->name, p->cfg->name);
	} else {
		tfd_reply_err(rep, 0, "%s: credential changed", p->cfg->name);
	}
}

static void reset_failures(struct tfd *d, struct tfd_persona *p)
{
	int r = tf_keys_reset_failures(d->ks, p->cfg->name);

	if (r < 0)
		tf_warn("%s: resetting the failure counter: %s (the next "
			"unlock starts with one try counted)",
			p->cfg->name, strerror(-r));
}

struct precreate {
	struct tfd *d;
	struct tfd_persona *p;
};

/* keys.h during_kdf, on a helper thread while Argon2id runs: make the
 * persona's cgroup (~0.5 ms of mkdir and limit writes on a hybrid host),
 * which a right credential then starts the persona in. It touches only
 * p->pre_cg, which this thread leaves alone until the join. */
static void precreate_cgroup(void *arg)
{
	const struct precreate *a = arg;
	struct tf_persona_spec spec = {.cfg = a->p->cfg,
				       .cgroup_group = a->d->cg_group};

	if (tf_persona_cgroup_create(&spec, &a->p->pre_cg) < 0)
		a->p->pre_cg = NULL; /* the start makes it, and says why not */
}

static void drop_pre_cg(struct tfd_persona *p)
{
	if (p->pre_cg)
		(void)tf_cgroup_destroy(steal_pointer(&p->pre_cg));
}

void tfd_req_unlock(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m,
		    struct tfd_persona *p, struct tfd_reply *rep)
{
	struct precreate pre = {.d = d, .p = p};
	struct tf_keys_unlock_opts opts = {.flags = TF_KEYS_LATE_RESET};
	_cleanup_secure_ char *cred = take_secret(m, TF_A_SECRET);
	_cleanup_secure_ uint8_t *fskey = NULL;
	struct tf_throttle_info ti = {0};
	uint64_t t0 = tf_now_ns(), kdf_ns = 0, rest_ns;
	char err[256] = "";
	int r;

	if (!p->cfg->credential) {
		tfd_reply_err(rep, -EINVAL,
			      "%s is bound to this device and needs no unlock; "
			      "start it with: twofold persona start %s",
			      p->cfg->name, p->cfg->name);
		return;
	}
	if (cred == NULL) {
		tfd_reply_err(rep, -EBADMSG,
			      "malformed request: no credential");
		return;
	}
	fskey = tf_secure_alloc(TF_KEYS_FSKEY_BYTES);
	if (fskey == NULL) {
		tfd_reply_err(rep, -ENOMEM, "out of memory");
		return;
	}
	/* a frozen persona is only thawed; any other is started */
	drop_pre_cg(p);
	if (p->state != TFD_P_FROZEN && p->rt == NULL) {
		opts.during_kdf = precreate_cgroup;
		opts.arg = &pre;
	}
	r = tf_keys_unlock_ex(d->ks, p->cfg->name, (const uint8_t *)cred,
			      strlen(cred), fskey, &ti, &kdf_ns, &opts);
	if (r < 0) {
		drop_pre_cg(p);
		throttle_msg(rep, r, "unlock", p->cfg->name, &ti);
		if (r == -ENOKEY) {
			tf_warn("%s: crypto-erased after %u failed attempts",
				p->cfg->name, ti.failures);
			erased(d, p);
		}
		return;
	}
	/* the credential was right: reset the counter once answered */
	rep->after = reset_failures;
	rep->after_p = p;
	if (p->state == TFD_P_FROZEN) {
		/* screen lock: the keys stayed; thaw */
		r = tf_persona_freeze(p->rt, false);
		if (r < 0) {
			tfd_reply_err(rep, r, "unlock %s: cannot thaw: %s",
				      p->cfg->name, strerror(-r));
			return;
		}
		p->state = TFD_P_RUNNING;
	} else {
		uint64_t t1 = tf_now_ns(), t2;
		r = tfd_load_key_and_dir(d, p, fskey, err, sizeof(err));
		t2 = tf_now_ns();
		if (r == 0)
			r = tfd_persona_start(d, p, err, sizeof(err));
		drop_pre_cg(p); /* if the start was not reached */
		tf_debug("unlock %s: credential check %.1f ms besides the KDF, "
			 "key load %.1f ms, persona start %.1f ms",
			 p->cfg->name, (double)(t1 - t0 - kdf_ns) / 1e6,
			 (double)(t2 - t1) / 1e6,
			 (double)(tf_now_ns() - t2) / 1e6);
		if (r < 0) {
			tfd_reply_err(rep, r, "unlock %s: %s", p->cfg->name,
				      err[0] ? err : strerror(-r));
			/* fail closed: a key added for a persona that did
			 * not start leaves the kernel again */
			if (p->key_loaded && p->rt == NULL)
				(void)tfd_persona_evict(d, p, NULL);
			return;
		}
	}
	rest_ns = tf_now_ns() - t0 - kdf_ns;
	tfd_reply_err(
		rep, 0, "%s unlocked (key derivation %.0f ms, rest %.1f ms)",
		p->cfg->name, (double)kdf_ns / 1e6, (double)rest_ns / 1e6);
}

void tfd_req_lock(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m,
		  struct tfd_persona *p, struct tfd_reply *rep)
{
	uint32_t flags = 0;
	uint64_t ns = 0;
	int r;

	tf_msg_u32(m, TF_A_FLAGS, &flags);
	if (!p->cfg->credential) {
		tfd_reply_err(rep, -EINVAL,
			      "%s has no credential, so it cannot be unlocked "
			      "again; stop it with: twofold persona stop %s",
			      p->cfg->name, p->cfg->name);
		return;
	}
	/* ask the kernel, not our flag: a key that is in must be removable
	 * whatever the state says */
	(void)tfd_key_sync(d, p, NULL);
	if ((flags & TF_F_EVICT) &&
	    (p->key_loaded || p->evict_pending || p->rt != NULL)) {
		enum tfd_pstate was = p->state;

		r = tfd_persona_evict(d, p, &ns);
		/* an erased or never-enrolled persona stays what it was */
		if (was == TFD_P_ERASED || was == TFD_P_NOKEY)
			p->state = was;
		if (r < 0)
			tfd_reply_err(rep, r,
				      "%s is locked, but removing its key is "
				      "pending (%s); twofoldd keeps retrying "
				      "every second (see: twofold status)",
				      p->cfg->name, tfd_evict_reason(p));
		else if (p->evict_sync_err < 0)
			tfd_reply_err(rep, 0,
				      "%s locked down: processes killed and "
				      "key removed in %.1f ms (syncing its "
				      "files failed: %s; recent writes may be "
				      "lost)",
				      p->cfg->name, (double)ns / 1e6,
				      strerror(-p->evict_sync_err));
		else
			tfd_reply_err(rep, 0,
				      "%s locked down: processes killed and "
				      "key removed in %.1f ms",
				      p->cfg->name, (double)ns / 1e6);
		return;
	}
	/* no key in the kernel from here on */
	if (p->state == TFD_P_NOKEY || p->state == TFD_P_ERASED) {
		tfd_reply_err(rep, -ENOKEY,
			      "%s has no key in the kernel (%s); nothing to "
			      "lock",
			      p->cfg->name,
			      p->state == TFD_P_NOKEY ? "no credential yet"
						      : "crypto-erased");
		return;
	}
	if (p->state == TFD_P_EVICTED) {
		tfd_reply_err(rep, -EACCES,
			      "%s is locked; unlock it with: twofold unlock %s",
			      p->cfg->name, p->cfg->name);
		return;
	}
	if (flags & TF_F_EVICT) {
		/* stopped with no key: already as locked as evict makes it */
		p->state = TFD_P_EVICTED;
		tfd_reply_err(rep, 0, "%s locked down (its key was not loaded)",
			      p->cfg->name);
		return;
	}
	if (p->state == TFD_P_STOPPED) {
		tfd_reply_err(rep, -ESRCH,
			      "%s is not running, so there is nothing to "
			      "freeze; to remove its key: twofold lock %s "
			      "--evict",
			      p->cfg->name, p->cfg->name);
		return;
	}
	if (p->state == TFD_P_FROZEN) {
		tfd_reply_err(rep, 0, "%s is already locked", p->cfg->name);
		return;
	}
	r = tf_persona_freeze(p->rt, true);
	if (r < 0) {
		tfd_reply_err(rep, r, "lock %s: cannot freeze: %s",
			      p->cfg->name, strerror(-r));
		return;
	}
	p->state = TFD_P_FROZEN;
	p->locked_at_ns = tf_boottime_ns(); /* counts suspend */
	if (p->cfg->lock_evict_after)
		tfd_reply_err(rep, 0,
			      "%s locked (keys are removed after %u s locked)",
			      p->cfg->name, p->cfg->lock_evict_after);
	else
		tfd_reply_err(rep, 0, "%s locked", p->cfg->name);
}
