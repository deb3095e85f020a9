/* SPDX-License-Identifier: ISC */
/*
 * enroll, unlock, lock, wipe: the requests that carry or guard a
 * credential (cli/verb_enroll.c, verb_unlock.c, verb_lock.c,
 * verb_wipe.c). Credentials arrive in the daemon's secure receive buffer
 * (struct tfd rxbuf), are used where they lie, and the buffer is wiped by
 * the caller (server.c) after dispatch. An unlock's check and an
 * enroll's KDF outlive their request (jobs, jobs.c): each gets its own
 * copy of the credentials in secure memory, wiped when the job ends. No
 * credential byte is ever logged or echoed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/keys.h"
#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "twofold/sandbox.h"
#include "twofold/secmem.h"
#include "twofold/storage.h"
#include "daemon.h"

/*
 * The credential attr of m, used where it lies: the request was received
 * and parsed in the secure receive buffer (mlock'd, not dumped, wiped on
 * fork and after this request), so no copy of it is made. A request that
 * is not there (longer than one datagram, so in the heap) may not carry
 * one: its copy is wiped and -EMSGSIZE returned. *out = NULL if absent.
 */
static int get_secret(const struct tfd_conn *c, const struct tf_msg *m,
		      uint16_t attr, const char **out)
{
	*out = tf_msg_str(m, attr);
	if (*out != NULL && (c == NULL || !c->rd.secure)) {
		tf_memzero((char *)*out, strlen(*out));
		*out = NULL;
		return -EMSGSIZE;
	}
	return 0;
}

static bool secret_ok(struct tfd_reply *rep, int r)
{
	if (r < 0)
		tfd_reply_fail(rep, r, TF_R_REQUEST_TOO_LARGE, NULL,
			       "malformed request: a credential in a request "
			       "longer than %u bytes",
			       TF_FRAG_MAX);
	return r >= 0;
}

/* After a crypto-erase: nothing of the persona may run or stay readable;
 * its data, now ciphertext nobody can decrypt, is removed so a new
 * enrolment starts empty. */
static void erased(struct tfd *d, struct tfd_persona *p)
{
	int r;

	p->erased_by_failures = false; /* asked again when not busy */
	if (tfd_halt(d, p, true, NULL, &r) == TFD_PENDING) {
		/* the halt ends it erased, its data removed */
		p->halt.then = TFD_P_ERASED;
		p->halt.wipe_data = true;
		return;
	}
	(void)tfd_lc_fire(d, p, TFD_EV_ERASED, 0);
	r = tfd_persona_wipe_data(p);
	if (r < 0)
		tf_warn("%s: removing its erased data: %s", p->cfg->name,
			strerror(-r));
}

/* The erasing try keeps its count in the (erased) record: only the
 * counter's erase reaches throttle_max_failures; a wipe or the duress
 * credential leaves fewer. */
static bool by_failures(const struct tfd *d, const struct tf_throttle_info *ti)
{
	return ti->erased && ti->failures >= d->cfg.throttle_max_failures;
}

bool tfd_erased_by_failures(struct tfd *d, struct tfd_persona *p)
{
	struct tf_throttle_info ti = {0};

	/* the key store is a job's now: what it said last */
	if (tfd_keystore_busy(d))
		return p->erased_by_failures;
	p->erased_by_failures =
		tf_keys_throttle_info(d->ks, p->cfg->name, &ti) == 0 &&
		by_failures(d, &ti);
	return p->erased_by_failures;
}

/* The key store is a job's: the loop leaves it alone (jobs.c). */
static bool keystore_busy(struct tfd *d, struct tfd_reply *rep,
			  const char *what, const char *name)
{
	if (!tfd_keystore_busy(d))
		return false;
	tfd_reply_fail(rep, -EBUSY, TF_R_DAEMON_BUSY, name,
		       "%s %s: busy: an unlock of %s is in progress; try again "
		       "once it is answered",
		       what, name,
		       d->ks_job->p ? d->ks_job->p->cfg->name : "?");
	return true;
}

/*
 * The duress credential is answered like a wrong one (-EACCES, the same
 * message) and the keystore has erased the persona on disk already; the
 * daemon learns it only here. Every -EACCES asks, so a wrong credential
 * and the duress one cost the same before the answer. The rest (kill,
 * key removal, data) runs after the answer is sent (rep->after), so the
 * answer does not come later either.
 */
static bool erased_by_duress(struct tfd *d, struct tfd_persona *p, int r)
{
	enum tf_persona_keystate st;

	return r == -EACCES && tf_keys_state(d->ks, p->cfg->name, &st) == 0 &&
	       st == TF_KS_ERASED;
}

static void erased_after_answer(struct tfd *d, struct tfd_persona *p)
{
	/* the daemon log does not say why either: the audit log does */
	tf_warn("%s: crypto-erased", p->cfg->name);
	erased(d, p);
}

static void throttle_msg(const struct tfd *d, struct tfd_reply *rep, int r,
			 const char *what, const char *name,
			 const struct tf_throttle_info *ti)
{
	switch (r) {
	case -EACCES:
		if (ti->wait_seconds)
			tfd_reply_fail(rep, r, TF_R_CREDENTIAL_WRONG, name,
				       "%s %s: wrong credential; %u tr%s left; "
				       "wait %u s before the next",
				       what, name, ti->tries_left,
				       ti->tries_left == 1 ? "y" : "ies",
				       ti->wait_seconds);
		else
			tfd_reply_fail(rep, r, TF_R_CREDENTIAL_WRONG, name,
				       "%s %s: wrong credential; %u tr%s left",
				       what, name, ti->tries_left,
				       ti->tries_left == 1 ? "y" : "ies");
		break;
	case -EAGAIN:
		tfd_reply_fail(rep, r, TF_R_CREDENTIAL_THROTTLED, name,
			       "%s %s: too many failed attempts; wait %u s "
			       "(%u tr%s left)",
			       what, name, ti->wait_seconds, ti->tries_left,
			       ti->tries_left == 1 ? "y" : "ies");
		break;
	case -ENOKEY:
		/* the cause only when it is the counter: a wipe, a remote
		 * wipe and the duress credential look the same on screen
		 * (the audit log has the cause) */
		tfd_reply_fail(
			rep, r, TF_R_PERSONA_ERASED, name,
			"%s %s: crypto-erased%s; its data is gone", what, name,
			by_failures(d, ti) ? " after too many failed attempts"
					   : "");
		break;
	case -ENOENT:
		tfd_reply_fail(
			rep, r, TF_R_PERSONA_NO_CREDENTIAL, name,
			"%s %s: no credential set; set one with: twofold "
			"enroll %s",
			what, name, name);
		break;
	case -EBUSY:
		tfd_reply_fail(
			rep, r, TF_R_TPM_LOCKOUT, name,
			"%s %s: the TPM is in dictionary-attack lockout; "
			"wait and try again (this try was not counted)",
			what, name);
		break;
	case -EHOSTUNREACH:
		tfd_reply_fail(rep, r, TF_R_TPM_UNREACHABLE, name,
			       "%s %s: the TPM is not reachable; nothing was "
			       "checked or counted",
			       what, name);
		break;
	case -EPERM:
		tfd_reply_fail(rep, r, TF_R_TPM_PCR_MISMATCH, name,
			       "%s %s: the boot state (TPM PCRs, tpm_pcrs) "
			       "differs from the one it was enrolled under; "
			       "nothing was checked or counted",
			       what, name);
		break;
	case -ENODEV:
		tfd_reply_fail(
			rep, r, TF_R_TPM_NOT_CONFIGURED, name,
			"%s %s: its key is bound to a TPM but device.conf "
			"names none (tpm_tcti)",
			what, name);
		break;
	case -EBADMSG:
		tfd_reply_fail(rep, r, TF_R_STORAGE_DAMAGED, name,
			       "%s %s: wrapped key file damaged (keys/%s/); "
			       "refusing to create a new key over existing "
			       "data",
			       what, name, name);
		break;
	case -ENOMEM:
		tfd_reply_fail(rep, r, TF_R_MEMORY_LOCK, name,
			       "%s %s: out of memory or of locked memory for "
			       "secrets (raise RLIMIT_MEMLOCK)",
			       what, name);
		break;
	default: tfd_reply_err(rep, r, "%s %s: %s", what, name, strerror(-r));
	}
	/* the request it answers (unlock, enroll) and the counter's state */
	tfd_reply_param(rep, "persona", "%s", name);
	tfd_reply_param(rep, "op", "%s", what);
	if (r == -EACCES || r == -EAGAIN) {
		tfd_reply_param(rep, "tries_left", "%u", ti->tries_left);
		if (ti->wait_seconds) /* absent: the next try may come now */
			tfd_reply_param(rep, "wait_s", "%u", ti->wait_seconds);
	}
	if (r == -ENOKEY && by_failures(d, ti))
		tfd_reply_param(rep, "cause", "failed_attempts");
}

static void enroll_duress(struct tfd *d, struct tfd_conn *c,
			  struct tfd_persona *p, struct tfd_reply *rep,
			  const char *cur, const char *dur);

/* An enroll's key store work, a job (jobs.c): a first credential or a
 * change (the old one's check, a calibration, the new protector's
 * Argon2id: ~1.5 s) or a duress credential's set. Everything the worker
 * thread touches is here; oldc and newc are secure memory (oldc NULL on a
 * first enrolment), wiped and freed when the job ends. */
struct enroll_job {
	struct tfd_job job;
	struct tf_keystore *ks;
	const char *name;
	uint8_t *oldc, *newc;
	size_t oldlen, newlen;
	unsigned flags; /* tf_keys_enroll's */
	bool duress; /* tf_keys_set_duress: oldc the current, newc the duress */
	bool first;  /* a first enrolment (NOKEY or ERASED when asked) */
	struct tf_throttle_info ti;
	int r;
};

static void enroll_run(struct tfd_job *j)
{
	struct enroll_job *e = (struct enroll_job *)j;

	if (e->duress)
		e->r = tf_keys_set_duress(e->ks, e->name, e->oldc, e->oldlen,
					  e->newc, e->newlen, &e->ti);
	else
		e->r = tf_keys_enroll(e->ks, e->name, e->flags, e->oldc,
				      e->oldlen, e->newc, e->newlen, &e->ti);
	/* the credentials are not needed after it */
	if (e->oldc)
		tf_memzero(e->oldc, e->oldlen);
	tf_memzero(e->newc, e->newlen);
}

static void enroll_free(struct enroll_job *e)
{
	tf_secure_free(e->oldc);
	tf_secure_free(e->newc);
	free(e);
}

static void enroll_done(struct tfd *d, struct tfd_job *j);

/* Copy the credentials (the receive buffer is the next request's) and
 * start the job; the answer comes from enroll_done. c->waiting says so to
 * tfd_req_enroll. On a failure rep has the answer. */
static void enroll_start(struct tfd *d, struct tfd_conn *c,
			 struct tfd_persona *p, struct tfd_reply *rep,
			 const char *oldc, const char *newc, bool duress,
			 bool first, unsigned flags)
{
	struct enroll_job *e = calloc(1, sizeof(*e));
	int r;

	if (e != NULL) {
		e->oldlen = oldc ? strlen(oldc) : 0;
		e->newlen = strlen(newc);
		e->oldc = oldc ? tf_secure_alloc(e->oldlen + 1) : NULL;
		e->newc = tf_secure_alloc(e->newlen + 1);
	}
	if (e == NULL || (oldc && e->oldc == NULL) || e->newc == NULL) {
		r = e == NULL ? -ENOMEM : tf_negerrno();
		if (e)
			enroll_free(e);
		tfd_reply_fail(rep, r, TF_R_MEMORY_LOCK, NULL,
			       "cannot lock secret memory: %s (raise "
			       "RLIMIT_MEMLOCK)",
			       strerror(-r));
		return;
	}
	if (oldc)
		memcpy(e->oldc, oldc, e->oldlen);
	memcpy(e->newc, newc, e->newlen);
	e->ks = d->ks;
	e->name = p->cfg->name;
	e->flags = flags;
	e->duress = duress;
	e->first = first;
	e->job.run = enroll_run;
	e->job.done = enroll_done;
	e->job.p = p;
	e->job.c = c;
	e->job.uses_keystore = true;
	e->job.what = "enroll";
	r = tfd_job_start(d, &e->job);
	if (r < 0) {
		enroll_free(e);
		tfd_reply_err(rep, r, "enroll %s: cannot start the check: %s",
			      p->cfg->name, strerror(-r));
		return;
	}
	c->waiting = true;
}

/* enroll: the checks, then the key store's work as a job (enroll_start) */
static void enroll(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m,
		   struct tfd_persona *p, struct tfd_reply *rep)
{
	const char *oldc = NULL, *newc = NULL;
	char why[160] = "";
	uint32_t flags = 0;
	int r;

	r = get_secret(c, m, TF_A_SECRET, &oldc);
	if (r == 0)
		r = get_secret(c, m, TF_A_SECRET_NEW, &newc);
	if (!secret_ok(rep, r))
		return;
	if (keystore_busy(d, rep, "enroll", p->cfg->name))
		return;
	if (!p->cfg->credential) {
		tfd_reply_fail(rep, -EINVAL, TF_R_PERSONA_DEVICE_BOUND,
			       p->cfg->name,
			       "%s is bound to this device and takes no "
			       "credential (config: credential = no)",
			       p->cfg->name);
		return;
	}
	if (newc == NULL) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: no credential");
		return;
	}
	(void)tf_msg_u32(m, TF_A_FLAGS, &flags);
	if (flags & ~TF_F_DURESS) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: enroll takes no flags "
			       "but duress");
		return;
	}
	if (flags & TF_F_DURESS) {
		enroll_duress(d, c, p, rep, oldc, newc);
		return;
	}
	r = tf_credential_check_form(&d->cfg, (const uint8_t *)newc,
				     strlen(newc), why, sizeof(why));
	if (r < 0) {
		tfd_reply_fail(rep, -EINVAL, TF_R_CREDENTIAL_WEAK, p->cfg->name,
			       "enroll %s: %s", p->cfg->name, why);
		return;
	}
	if (p->state != TFD_P_NOKEY && p->state != TFD_P_ERASED &&
	    oldc == NULL) {
		tfd_reply_fail(rep, -EACCES, TF_R_CREDENTIAL_NEEDED,
			       p->cfg->name,
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
			oldc = NULL;
		}
		enroll_start(d, c, p, rep, oldc, newc, false,
			     p->state == TFD_P_NOKEY ||
				     p->state == TFD_P_ERASED,
			     has > 0 ? TF_KEYS_DATA_NONEMPTY : 0);
	}
}

/* enroll's answer, on the loop once the job returned */
static void enroll_answer(struct tfd *d, struct tfd_conn *c,
			  struct tfd_persona *p, struct enroll_job *e,
			  struct tfd_reply *rep)
{
	struct tf_throttle_info ti = e->ti;
	int r = e->r;

	if (r == -EEXIST) {
		tfd_reply_fail(
			rep, r, TF_R_STORAGE_ORPHANED, p->cfg->name,
			"enroll %s: data exists in %s but no key for it; "
			"refusing to create a new key over existing data",
			p->cfg->name, p->data_dir);
		return;
	}
	if (r < 0) {
		throttle_msg(d, rep, r, "enroll", p->cfg->name, &ti);
		if (r == -ENOKEY)
			erased(d, p);
		else if (erased_by_duress(d, p, r)) {
			rep->after = erased_after_answer;
			rep->after_p = p;
		}
		return;
	}
	tfd_audit(d, TF_AUDIT_SYNC,
		  e->first ? "credential.enroll" : "credential.change", p, c,
		  NULL);
	if (e->first) {
		(void)tfd_lc_fire(d, p, TFD_EV_ENROLLED, 0);
		tfd_reply_err(rep, 0,
			      "%s: credential set; unlock it with: twofold "
			      "unlock %s",
			      p->cfg->name, p->cfg->name);
	} else {
		tf_info("%s: credential changed; the old one destroyed by %s",
			p->cfg->name, tf_keys_destroy_method(d->ks));
		/* a change removes the duress credential (bound to the old
		 * salt). Whether there was one is not said, to anyone: the
		 * files cannot tell either (a decoy stands in for none) */
		tfd_reply_err(rep, 0,
			      "%s: credential changed; a duress PIN, if one "
			      "was set, no longer works: set it again with: "
			      "twofold enroll %s --duress",
			      p->cfg->name, p->cfg->name);
	}
}

/* enroll --duress: SECRET the current credential, SECRET_NEW the duress
 * one (docs/keys.md "Duress credential"). */
static void enroll_duress(struct tfd *d, struct tfd_conn *c,
			  struct tfd_persona *p, struct tfd_reply *rep,
			  const char *cur, const char *dur)
{
	const char *n = p->cfg->name;
	char why[160] = "";
	int r;

	if (p->state == TFD_P_NOKEY || p->state == TFD_P_ERASED) {
		tfd_reply_fail(rep, -ENOKEY, TF_R_PERSONA_NO_CREDENTIAL, n,
			       "enroll %s --duress: %s has no credential; set "
			       "one first with: twofold enroll %s",
			       n, n, n);
		return;
	}
	if (cur == NULL) {
		tfd_reply_fail(rep, -EACCES, TF_R_CREDENTIAL_NEEDED, n,
			       "enroll %s --duress: needs the current "
			       "credential",
			       n);
		return;
	}
	r = tf_credential_check_form(&d->cfg, (const uint8_t *)dur, strlen(dur),
				     why, sizeof(why));
	if (r < 0) {
		tfd_reply_fail(rep, -EINVAL, TF_R_CREDENTIAL_WEAK, n,
			       "enroll %s --duress: %s", n, why);
		return;
	}
	enroll_start(d, c, p, rep, cur, dur, true, false, 0);
}

/* enroll --duress's answer, on the loop once the job returned */
static void duress_answer(struct tfd *d, struct tfd_persona *p,
			  struct enroll_job *e, struct tfd_reply *rep)
{
	const char *n = p->cfg->name;
	struct tf_throttle_info ti = e->ti;
	int r = e->r;

	if (r == -EEXIST) {
		tfd_reply_fail(
			rep, -EINVAL, TF_R_CREDENTIAL_SAME, n,
			"enroll %s --duress: duress PIN must differ from "
			"the PIN; nothing changed",
			n);
		return;
	}
	if (r < 0) {
		throttle_msg(d, rep, r, "enroll", n, &ti);
		if (r == -ENOKEY)
			erased(d, p);
		else if (erased_by_duress(d, p, r)) {
			rep->after = erased_after_answer;
			rep->after_p = p;
		}
		return;
	}
	tfd_audit(d, TF_AUDIT_SYNC, "credential.duress_set", p, NULL, NULL);
	tfd_reply_err(rep, 0,
		      "%s: duress credential set; entered at unlock it "
		      "crypto-erases %s at once",
		      n, n);
}

static void wipe_after_job(struct tfd *d, struct tfd_persona *p);

/* The key store's work is over (on the loop): answer the enroll. A
 * lock-down meanwhile did not stop it (it loads no key) and a wipe waited
 * for it (wipe_after_job); at the exit (cancelled) it finished all the
 * same, so the answer is what it did. */
static void enroll_done(struct tfd *d, struct tfd_job *j)
{
	struct enroll_job *e = (struct enroll_job *)j;
	struct tfd_persona *p = j->p;
	struct tfd_reply rep = {.exit_code = -1};

	if (e->duress)
		duress_answer(d, p, e, &rep);
	else
		enroll_answer(d, j->c, p, e, &rep);
	/* what dispatch does after a handler that answered at once */
	tfd_foreground_settle(d);
	if (rep.err < 0) {
		tf_info("enroll: %s", rep.msg);
		tfd_audit_refused(d, j->c, "enroll", p, &rep);
	}
	tfd_conn_reply(d, j->c, &rep);
	enroll_free(e);
	wipe_after_job(d, p);
}

/* The answer comes now, or from enroll_done once its job returned
 * (enroll_start set c->waiting: dispatch admits no request on a waiting
 * connection, so it was clear before). */
enum tfd_disp tfd_req_enroll(struct tfd *d, struct tfd_conn *c,
			     const struct tf_msg *m, struct tfd_persona *p,
			     struct tfd_reply *rep)
{
	/* a wipe's data removal runs: a new enrolment's data must not be
	 * what it deletes */
	if (p->wipe_job != NULL) {
		tfd_reply_fail(rep, -EBUSY, TF_R_WIPE_PENDING, p->cfg->name,
			       "enroll %s: busy: a wipe of %s is removing its "
			       "data; try again once it is answered",
			       p->cfg->name, p->cfg->name);
		return TFD_REPLY_NOW;
	}
	enroll(d, c, m, p, rep);
	return c->waiting ? TFD_REPLY_LATER : TFD_REPLY_NOW;
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
	struct tf_profile prof; /* its cgroup limits */
	struct tf_persona_spec spec = {.cfg = a->p->cfg,
				       .prof = &prof,
				       .cgroup_group = a->d->cg_group};

	if (tf_profile_for_persona(&a->d->cfg, a->p->cfg, &prof, NULL, 0) < 0 ||
	    tf_persona_cgroup_create(&spec, &a->p->pre_cg) < 0)
		a->p->pre_cg = NULL; /* the start makes it, and says why not */
}

static void drop_pre_cg(struct tfd_persona *p)
{
	if (p->pre_cg)
		(void)tf_cgroup_destroy(steal_pointer(&p->pre_cg));
}

/* An unlock's credential check, a job (jobs.c): everything the worker
 * thread touches is here; cred and fskey are secure memory, wiped and
 * freed when the job ends. */
struct unlock_job {
	struct tfd_job job;
	struct tfd_keystore_ref {
		struct tf_keystore *ks;
		const char *name;
	} ks;
	uint8_t *cred;
	size_t len;
	uint8_t *fskey;
	struct precreate pre;
	struct tf_keys_unlock_opts opts;
	struct tf_throttle_info ti;
	uint64_t kdf_ns;
	int r;
};

static void unlock_run(struct tfd_job *j)
{
	struct unlock_job *u = (struct unlock_job *)j;

	u->r = tf_keys_unlock_ex(u->ks.ks, u->ks.name, u->cred, u->len,
				 u->fskey, &u->ti, &u->kdf_ns, &u->opts);
	/* the credential is not needed after the check */
	tf_memzero(u->cred, u->len);
}

static void unlock_free(struct unlock_job *u)
{
	tf_secure_free(u->cred);
	tf_secure_free(u->fskey);
	free(u);
}

/* Back to the state the unlock came from (wrong credential, cancelled). */
static void unlock_back(struct tfd *d, struct tfd_persona *p)
{
	if (p->state == TFD_P_UNLOCKING)
		(void)tfd_lc_fire(d, p, TFD_EV_UNLOCK_FAILED, p->unlock_from);
}

/* The right credential: thaw, or load the key and start. */
static void unlock_finish(struct tfd *d, struct tfd_persona *p,
			  struct unlock_job *u, struct tfd_reply *rep)
{
	uint64_t t0 = u->job.t0_ns, rest_ns;
	char err[256] = "";
	int r;

	/* reset the counter once answered, and restart the reauth_after /
	 * idle_evict_after clocks */
	tfd_reauth_stamp(p);
	rep->after = reset_failures;
	rep->after_p = p;
	if (p->unlock_from == TFD_P_FROZEN) {
		/* screen lock: the keys stayed; thaw */
		r = p->rt ? tf_persona_freeze(p->rt, false) : -ESRCH;
		if (r < 0) {
			unlock_back(d, p);
			tfd_reply_err(rep, r, "unlock %s: cannot thaw: %s",
				      p->cfg->name, strerror(-r));
			if (p->rt == NULL) /* its init died meanwhile */
				(void)tfd_halt(d, p, true, NULL, &r);
			return;
		}
		(void)tfd_lc_fire(d, p, TFD_EV_UNLOCKED, 0);
	} else {
		uint64_t t1 = tf_now_ns(), t2;
		r = tfd_load_key_and_dir(d, p, u->fskey, err, sizeof(err));
		t2 = tf_now_ns();
		if (r == 0 && p->state == TFD_P_UNLOCKING)
			r = tfd_persona_start(d, p, err, sizeof(err));
		drop_pre_cg(p); /* if the start was not reached */
		tf_debug("unlock %s: credential check %.1f ms besides the KDF, "
			 "key load %.1f ms, persona start %.1f ms",
			 p->cfg->name, (double)(t1 - t0 - u->kdf_ns) / 1e6,
			 (double)(t2 - t1) / 1e6,
			 (double)(tf_now_ns() - t2) / 1e6);
		if (r < 0) {
			unlock_back(d, p);
			tfd_reply_err(rep, r, "unlock %s: %s", p->cfg->name,
				      err[0] ? err : strerror(-r));
			/* fail closed: a key added for a persona that did
			 * not start leaves the kernel again */
			if (p->key_loaded && p->rt == NULL)
				(void)tfd_evict_key_soon(d, p);
			return;
		}
	}
	rest_ns = tf_now_ns() - t0 - u->kdf_ns;
	tfd_reply_err(
		rep, 0, "%s unlocked (key derivation %.0f ms, rest %.1f ms)",
		p->cfg->name, (double)u->kdf_ns / 1e6, (double)rest_ns / 1e6);
}

/* The check is over (on the loop): answer the unlock. */
static void unlock_done(struct tfd *d, struct tfd_job *j)
{
	struct unlock_job *u = (struct unlock_job *)j;
	struct tfd_persona *p = j->p;
	struct tfd_reply rep = {.exit_code = -1};
	int r = u->r;

	/* durable before the key goes in (or the refusal is answered) */
	tfd_audit(d, TF_AUDIT_SYNC,
		  j->cancelled && r == 0 ? "unlock.cancelled"
		  : r == 0		 ? "unlock.ok"
		  : r == -EAGAIN	 ? "unlock.throttled"
					 : "unlock.failed",
		  p, j->c, "errno=%d\tfailures=%u\ttries_left=%u\twait_s=%u",
		  -r, u->ti.failures, u->ti.tries_left, u->ti.wait_seconds);
	if (r < 0) {
		drop_pre_cg(p);
		unlock_back(d, p);
		if (r == -EACCES || r == -EAGAIN)
			tfd_events_throttle(d, p, r, u->ti.failures,
					    u->ti.tries_left,
					    u->ti.wait_seconds);
		throttle_msg(d, &rep, r, "unlock", p->cfg->name, &u->ti);
		if (r == -ENOKEY) {
			if (tfd_erased_by_failures(d, p))
				tf_warn("%s: crypto-erased after %u failed "
					"attempts (key files destroyed by %s)",
					p->cfg->name, u->ti.failures,
					tf_keys_destroy_method(d->ks));
			else
				tf_warn("%s: unlock refused: crypto-erased",
					p->cfg->name);
			erased(d, p);
		} else if (erased_by_duress(d, p, r)) {
			rep.after = erased_after_answer;
			rep.after_p = p;
		}
	} else if (j->cancelled) {
		/* a lock-down (or a wipe, or the exit) overtook it: the key
		 * never reaches the kernel; the try counts as right */
		drop_pre_cg(p);
		unlock_back(d, p);
		rep.after = reset_failures;
		rep.after_p = p;
		if (d->state == TFD_STOPPING)
			tfd_reply_fail(&rep, -ECANCELED, TF_R_UNLOCK_CANCELLED,
				       p->cfg->name,
				       "unlock %s: cancelled: twofoldd is "
				       "shutting down",
				       p->cfg->name);
		else
			tfd_reply_fail(&rep, -ECANCELED, TF_R_UNLOCK_CANCELLED,
				       p->cfg->name,
				       "unlock %s: cancelled by a lock-down "
				       "that came while the credential was "
				       "checked; %s stays locked",
				       p->cfg->name, p->cfg->name);
	} else {
		unlock_finish(d, p, u, &rep);
	}
	if (rep.err < 0)
		tf_info("unlock: %s", rep.msg);
	tfd_conn_reply(d, j->c, &rep);
	tfd_foreground_settle(d);
	unlock_free(u);
	wipe_after_job(d, p);
}

enum tfd_disp tfd_req_unlock(struct tfd *d, struct tfd_conn *c,
			     const struct tf_msg *m, struct tfd_persona *p,
			     struct tfd_reply *rep)
{
	struct unlock_job *u = NULL;
	const char *cred = NULL;
	int r;

	r = get_secret(c, m, TF_A_SECRET, &cred);
	if (!secret_ok(rep, r))
		return TFD_REPLY_NOW;
	if (!p->cfg->credential) {
		tfd_reply_fail(
			rep, -EINVAL, TF_R_PERSONA_DEVICE_BOUND, p->cfg->name,
			"%s is bound to this device and needs no unlock; "
			"start it with: twofold persona start %s",
			p->cfg->name, p->cfg->name);
		return TFD_REPLY_NOW;
	}
	if (cred == NULL) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: no credential");
		return TFD_REPLY_NOW;
	}
	if (keystore_busy(d, rep, "unlock", p->cfg->name))
		return TFD_REPLY_NOW;
	/* what status shows of its KDF while the job holds the key store */
	p->kdf_known = tf_keys_kdf_cost(d->ks, p->cfg->name, &p->kdf_passes,
					&p->kdf_mem_kib) == 0;
	u = calloc(1, sizeof(*u));
	if (u != NULL) {
		u->len = strlen(cred);
		/* its own copy: the receive buffer is the next request's */
		u->cred = tf_secure_alloc(u->len + 1);
		u->fskey = tf_secure_alloc(TF_KEYS_FSKEY_BYTES);
	}
	if (u == NULL || u->cred == NULL || u->fskey == NULL) {
		r = u == NULL ? -ENOMEM : tf_negerrno();
		if (u)
			unlock_free(u);
		tfd_reply_fail(rep, r, TF_R_MEMORY_LOCK, NULL,
			       "cannot lock secret memory: %s (raise "
			       "RLIMIT_MEMLOCK)",
			       strerror(-r));
		return TFD_REPLY_NOW;
	}
	memcpy(u->cred, cred, u->len);
	u->ks.ks = d->ks;
	u->ks.name = p->cfg->name;
	u->opts.flags = TF_KEYS_LATE_RESET;
	u->pre.d = d;
	u->pre.p = p;
	/* a frozen persona is only thawed; any other is started */
	drop_pre_cg(p);
	if (p->state != TFD_P_FROZEN && p->rt == NULL) {
		u->opts.during_kdf = precreate_cgroup;
		u->opts.arg = &u->pre;
	}
	u->job.run = unlock_run;
	u->job.done = unlock_done;
	u->job.p = p;
	u->job.c = c;
	u->job.uses_keystore = true;
	u->job.what = "unlock";
	p->unlock_from = p->state;
	(void)tfd_lc_fire(d, p, TFD_EV_UNLOCK, 0);
	r = tfd_job_start(d, &u->job);
	if (r < 0) {
		unlock_back(d, p);
		unlock_free(u);
		tfd_reply_err(rep, r, "unlock %s: cannot start the check: %s",
			      p->cfg->name, strerror(-r));
		return TFD_REPLY_NOW;
	}
	c->waiting = true;
	return TFD_REPLY_LATER;
}

/* A lock-down overtakes an unlock under way: its key never comes in. */
static void cancel_unlock(struct tfd *d, struct tfd_persona *p)
{
	if (p->job == NULL)
		return;
	p->job->cancelled = true;
	unlock_back(d, p);
}

static void lock_evict_reply(struct tfd_persona *p, int r,
			     struct tfd_reply *rep)
{
	double ms = (double)(tf_now_ns() - p->halt.t0_ns) / 1e6;

	if (r == -ETIMEDOUT)
		tfd_reply_fail(
			rep, r, TF_R_PERSONA_STOP_INCOMPLETE, p->cfg->name,
			"%s is locked down: its processes were killed but "
			"have not exited; its key is removed%s (see: "
			"twofold status)",
			p->cfg->name,
			p->evict_pending ? " once they let go" : "");
	else if (r < 0)
		tfd_reply_fail(
			rep, r, TF_R_PERSONA_EVICT_PENDING, p->cfg->name,
			"%s is locked, but removing its key is pending "
			"(%s); twofoldd keeps retrying every second (see: "
			"twofold status)",
			p->cfg->name, tfd_evict_reason(p));
	else if (p->evict_sync_err < 0)
		tfd_reply_err(rep, 0,
			      "%s locked down: processes killed and key "
			      "removed in %.1f ms (syncing its files failed: "
			      "%s; recent writes may be lost)",
			      p->cfg->name, ms, strerror(-p->evict_sync_err));
	else
		tfd_reply_err(
			rep, 0,
			"%s locked down: processes killed and key removed "
			"in %.1f ms",
			p->cfg->name, ms);
}

static void lock_resume(struct tfd *d, struct tfd_persona *p,
			struct tfd_conn *c, int r, uint32_t flags)
{
	struct tfd_reply rep = {.exit_code = -1};

	(void)flags;
	lock_evict_reply(p, r, &rep);
	tfd_conn_reply(d, c, &rep);
}

/* A screen lock's answer (now, or when "frozen 1" is seen) */
static void lock_freeze_reply(struct tfd *d, struct tfd_persona *p,
			      struct tfd_conn *c, int r, struct tfd_reply *rep)
{
	if (r == -ECANCELED) {
		/* a lock --evict or a wipe began meanwhile: more locked
		 * than a screen lock */
		tfd_reply_err(rep, 0,
			      "%s is being locked down (a lock-down overtook "
			      "the screen lock; see: twofold status)",
			      p->cfg->name);
		return;
	}
	if (r < 0) {
		tfd_reply_err(rep, r, "lock %s: cannot freeze: %s",
			      p->cfg->name, strerror(-r));
		return;
	}
	tfd_audit(d, 0, "persona.lock", p, c, "mode=freeze");
	if (p->cfg->lock_evict_after)
		tfd_reply_err(rep, 0,
			      "%s locked (keys are removed after %u s locked)",
			      p->cfg->name, p->cfg->lock_evict_after);
	else
		tfd_reply_err(rep, 0, "%s locked", p->cfg->name);
}

static void lock_freeze_resume(struct tfd *d, struct tfd_persona *p,
			       struct tfd_conn *c, int r, uint32_t flags)
{
	struct tfd_reply rep = {.exit_code = -1};

	(void)flags;
	lock_freeze_reply(d, p, c, r, &rep);
	tfd_conn_reply(d, c, &rep);
}

enum tfd_disp tfd_req_lock(struct tfd *d, struct tfd_conn *c,
			   const struct tf_msg *m, struct tfd_persona *p,
			   struct tfd_reply *rep)
{
	uint32_t flags = 0;
	bool cancelled = false;
	int r;

	tf_msg_u32(m, TF_A_FLAGS, &flags);
	if (!p->cfg->credential) {
		tfd_reply_fail(rep, -EINVAL, TF_R_PERSONA_DEVICE_BOUND,
			       p->cfg->name,
			       "%s has no credential, so it cannot be unlocked "
			       "again; stop it with: twofold persona stop %s",
			       p->cfg->name, p->cfg->name);
		return TFD_REPLY_NOW;
	}
	/* an unlock under way is overtaken (its answer says so) */
	if (p->state == TFD_P_UNLOCKING) {
		cancel_unlock(d, p);
		cancelled = true;
	}
	/* ask the kernel, not our flag: a key that is in must be removable
	 * whatever the state says */
	(void)tfd_key_sync(d, p, NULL);
	if (p->state == TFD_P_STOPPING) {
		if (!(flags & TF_F_EVICT)) {
			tfd_lc_refuse(d, p, TFD_EV_NONE, rep);
			return TFD_REPLY_NOW;
		}
		/* its processes are killed already but not gone: the key
		 * need not wait for them (its secret is wiped now; a file
		 * still open keeps the removal pending, and the halt and the
		 * timer retry) */
		(void)tfd_halt(d, p, true, NULL, &r);
		r = tfd_evict_key(d, p, false, NULL);
		if (r < 0)
			tfd_reply_fail(rep, r, TF_R_PERSONA_EVICT_PENDING,
				       p->cfg->name,
				       "%s is locked, but removing its key is "
				       "pending (%s): its processes are killed "
				       "and still exiting; twofoldd keeps "
				       "retrying (see: twofold status)",
				       p->cfg->name, tfd_evict_reason(p));
		else
			tfd_reply_err(rep, 0,
				      "%s locked down: its key is removed; its "
				      "processes are killed and still exiting",
				      p->cfg->name);
		return TFD_REPLY_NOW;
	}
	if ((flags & TF_F_EVICT) &&
	    (p->key_loaded || p->evict_pending || p->rt != NULL)) {
		struct tfd_waiter w = {.c = c, .resume = lock_resume};
		int res = 0;

		tfd_audit(d, 0, "persona.lock", p, c, "mode=evict");
		r = tfd_halt(d, p, true, &w, &res);
		if (r == TFD_PENDING) {
			c->waiting = true;
			return TFD_REPLY_LATER;
		}
		lock_evict_reply(p, r < 0 ? r : res, rep);
		return TFD_REPLY_NOW;
	}
	/* no key in the kernel from here on */
	if (cancelled &&
	    (p->state == TFD_P_EVICTED || p->state == TFD_P_STOPPED)) {
		if (p->state == TFD_P_STOPPED)
			(void)tfd_lc_fire(d, p, TFD_EV_LOCKED_DOWN, 0);
		tfd_reply_err(rep, 0,
			      "%s locked down: the unlock under way is "
			      "cancelled; its key never reaches the kernel",
			      p->cfg->name);
		return TFD_REPLY_NOW;
	}
	/* lock-down of a persona whose key is out already: done (a panic
	 * button must never fail because the phone is locked down) */
	if ((flags & TF_F_EVICT) &&
	    (p->state == TFD_P_NOKEY || p->state == TFD_P_ERASED ||
	     p->state == TFD_P_EVICTED)) {
		tfd_reply_err(rep, 0,
			      "%s is already locked down: no key in the kernel "
			      "(nothing to do)",
			      p->cfg->name);
		return TFD_REPLY_NOW;
	}
	if (p->state == TFD_P_EVICTED) {
		tfd_reply_err(rep, 0,
			      "%s is already locked: its key is not in the "
			      "kernel (nothing to do)",
			      p->cfg->name);
		return TFD_REPLY_NOW;
	}
	if (p->state == TFD_P_NOKEY || p->state == TFD_P_ERASED) {
		tfd_reply_fail(rep, -ENOKEY, TF_R_PERSONA_NO_KEY, p->cfg->name,
			       "%s has no key in the kernel (%s); nothing to "
			       "lock",
			       p->cfg->name,
			       p->state == TFD_P_NOKEY ? "no credential yet"
						       : "crypto-erased");
		return TFD_REPLY_NOW;
	}
	if (flags & TF_F_EVICT) {
		/* stopped with no key: already as locked as evict makes it */
		(void)tfd_lc_fire(d, p, TFD_EV_LOCKED_DOWN, 0);
		tfd_reply_err(rep, 0, "%s locked down (its key was not loaded)",
			      p->cfg->name);
		return TFD_REPLY_NOW;
	}
	if (p->state == TFD_P_STOPPED) {
		tfd_reply_fail(rep, -ESRCH, TF_R_PERSONA_NOT_RUNNING,
			       p->cfg->name,
			       "%s is not running, so there is nothing to "
			       "freeze; to remove its key: twofold lock %s "
			       "--evict",
			       p->cfg->name, p->cfg->name);
		return TFD_REPLY_NOW;
	}
	if (p->state == TFD_P_FROZEN) {
		tfd_reply_err(rep, 0, "%s is already locked", p->cfg->name);
		return TFD_REPLY_NOW;
	}
	{
		struct tfd_waiter w = {.c = c, .resume = lock_freeze_resume};
		int res = 0;

		/* FREEZING: a second lock waits for the same freeze */
		r = tfd_freeze(d, p, &w, &res);
		if (r == TFD_PENDING) {
			c->waiting = true;
			return TFD_REPLY_LATER;
		}
		lock_freeze_reply(d, p, c, r < 0 ? r : res, rep);
		return TFD_REPLY_NOW;
	}
}

/*
 * wipe PERSONA: crypto-erase a credential persona on demand (`twofold
 * wipe`; the fleet's remote wipe will send the same request). Order:
 * nothing of the persona may run or keep its key while its key material
 * goes (kill, remove the fscrypt key: a halt), then the keystore's erase
 * (which makes the erase durable and records it in the audit log), then its
 * data, now ciphertext nobody can read, so a new enrolment starts empty.
 * Never a device-bound persona: personal's key is the device's, not the
 * officer's, and wiping it is not what an officer's panic button is for.
 * An unlock under way is overtaken, and the erase waits for its check to
 * let go of the key store. `pid` is the requester's (the audit log).
 */
/* The wipe's answer once its data removal (rd) ended. */
static void wipe_reply(struct tfd_persona *p, int re, int rd,
		       struct tfd_reply *rep)
{
	const char *n = p->cfg->name;

	if (rd < 0) {
		tf_warn("%s: removing its erased data: %s", n, strerror(-rd));
		tfd_reply_err(rep, 0,
			      "%s wiped: its key material is crypto-erased "
			      "(removing its unreadable data failed: %s; the "
			      "next enroll retries); set a new credential "
			      "with: twofold enroll %s",
			      n, strerror(-rd), n);
		return;
	}
	if (re < 0)
		tfd_reply_err(rep, 0,
			      "%s wiped: its key material is crypto-erased "
			      "and its data removed; the kernel key's removal "
			      "is still pending (%s), twofoldd keeps retrying",
			      n, tfd_evict_reason(p));
	else
		tfd_reply_err(rep, 0,
			      "%s wiped: processes killed, key removed, key "
			      "material crypto-erased and data removed; set a "
			      "new credential with: twofold enroll %s",
			      n, n);
}

/*
 * The data removal (an nftw delete of every file: seconds for a large
 * persona) runs as a job: it owns a copy of the path and touches nothing
 * else (not the key store, not the persona). Meanwhile the persona is
 * erased, and an enroll or a second wipe is answered busy (an enroll
 * must not create data the removal would delete).
 */
struct wipe_job {
	struct tfd_job j; /* j.c: the wipe; j.p unset (an unlock's slot) */
	struct tfd_persona *p;
	int re, rd;
	char dir[PATH_MAX];
};

static void wipe_job_run(struct tfd_job *j)
{
	struct wipe_job *w = (struct wipe_job *)j;

	w->rd = tfd_wipe_dir(w->dir);
}

static void wipe_job_done(struct tfd *d, struct tfd_job *j)
{
	struct wipe_job *w = (struct wipe_job *)j;
	struct tfd_reply rep = {.exit_code = -1};
	struct tfd_conn *c = j->c;

	w->p->wipe_job = NULL;
	wipe_reply(w->p, w->re, w->rd, &rep);
	free(w);
	tfd_conn_reply(d, c, &rep);
}

static enum tfd_disp wipe_finish(struct tfd *d, struct tfd_persona *p,
				 struct tfd_conn *c, int re, uint32_t pid,
				 struct tfd_reply *rep)
{
	const char *n = p->cfg->name;
	struct wipe_job *w;
	char why[96];
	int r;

	snprintf(why, sizeof(why), "wiped on request (uid %u, pid %d)", 0u,
		 (int)pid);
	r = tf_keys_erase(d->ks, n, why);
	if (r < 0) {
		/* the erased flag may be durable already (then the next access
		 * finishes the job); say what failed, never "wiped" */
		enum tf_persona_keystate st;
		if (tf_keys_state(d->ks, n, &st) == 0 && st == TF_KS_ERASED)
			(void)tfd_lc_fire(d, p, TFD_EV_ERASED, 0);
		tfd_reply_fail(rep, r, TF_R_WIPE_FAILED, n,
			       "wipe %s: crypto-erase failed: %s; its key is "
			       "out of the kernel%s; run the wipe again",
			       n, strerror(-r),
			       re < 0 ? " only once its removal finishes" : "");
		return TFD_REPLY_NOW;
	}
	(void)tfd_lc_fire(d, p, TFD_EV_ERASED, 0);
	p->erased_by_failures = false;
	tf_warn("%s: crypto-erased: %s", n, why);
	w = calloc(1, sizeof(*w));
	if (w != NULL && tf_strlcpy(w->dir, p->data_dir, sizeof(w->dir)) == 0) {
		w->p = p;
		w->re = re;
		w->j.src.fd = -1;
		w->j.run = wipe_job_run;
		w->j.done = wipe_job_done;
		w->j.c = c;
		w->j.what = "wipe-data";
		if (tfd_job_start(d, &w->j) == 0) {
			p->wipe_job = &w->j;
			if (c)
				c->waiting = true;
			return TFD_REPLY_LATER;
		}
	}
	/* no thread for it: here, as before */
	free(w);
	wipe_reply(p, re, tfd_persona_wipe_data(p), rep);
	return TFD_REPLY_NOW;
}

static void wipe_resume(struct tfd *d, struct tfd_persona *p,
			struct tfd_conn *c, int r, uint32_t pid)
{
	struct tfd_reply rep = {.exit_code = -1};

	if (wipe_finish(d, p, c, r, pid, &rep) == TFD_REPLY_NOW)
		tfd_conn_reply(d, c, &rep);
}

/* Halt (kill, remove the key), then erase. */
static enum tfd_disp wipe_begin(struct tfd *d, struct tfd_persona *p,
				struct tfd_conn *c, uint32_t pid,
				struct tfd_reply *rep)
{
	int re = 0;

	if (p->rt != NULL || p->key_loaded || p->evict_pending ||
	    p->halt.active) {
		struct tfd_waiter w = {
			.c = c, .resume = wipe_resume, .flags = pid};
		int r = tfd_halt(d, p, true, &w, &re);

		if (r == TFD_PENDING) {
			if (c)
				c->waiting = true;
			return TFD_REPLY_LATER;
		}
		if (r < 0)
			re = r;
	}
	return wipe_finish(d, p, c, re, pid, rep);
}

/* A job let go of the key store: the wipes that waited for it go on. */
static void wipe_after_job(struct tfd *d, struct tfd_persona *unused)
{
	(void)unused;
	for (size_t i = 0; i < d->n_personas && !tfd_keystore_busy(d); i++) {
		struct tfd_persona *p = &d->personas[i];
		struct tfd_waiter w = p->after_job;
		struct tfd_reply rep = {.exit_code = -1};

		if (w.resume == NULL)
			continue;
		memset(&p->after_job, 0, sizeof(p->after_job));
		if (wipe_begin(d, p, w.c, w.flags, &rep) == TFD_REPLY_NOW)
			tfd_conn_reply(d, w.c, &rep);
	}
}

enum tfd_disp tfd_req_wipe(struct tfd *d, struct tfd_conn *c,
			   const struct tf_msg *m, struct tfd_persona *p,
			   struct tfd_reply *rep)
{
	const char *n = p->cfg->name;

	/* root only (the socket also admits the daemon's owner uid): the
	 * sender of this datagram and the connection's creator */
	if (c->uid != 0 || !c->rd.creds_ok || c->rd.cred_uid != 0) {
		tfd_reply_fail(rep, -EPERM, TF_R_REQUEST_DENIED, n,
			       "wipe %s: only root may wipe a persona", n);
		return TFD_REPLY_NOW;
	}
	if (!p->cfg->credential) {
		tfd_reply_fail(rep, -EINVAL, TF_R_PERSONA_DEVICE_BOUND, n,
			       "%s is not credential-bound; wipe refuses it",
			       n);
		return TFD_REPLY_NOW;
	}
	tfd_audit(d, TF_AUDIT_SYNC, "wipe.requested", p, c, NULL);
	if (p->wipe_job != NULL) {
		tfd_reply_fail(rep, -EBUSY, TF_R_WIPE_PENDING, n,
			       "wipe %s: a wipe of %s is removing its data; "
			       "try again once it is answered",
			       n, n);
		return TFD_REPLY_NOW;
	}
	if (p->state == TFD_P_UNLOCKING)
		cancel_unlock(d, p);
	if (tfd_keystore_busy(d)) {
		/* the erase needs the key store: after the check ends */
		if (p->after_job.resume != NULL) {
			tfd_reply_fail(rep, -EBUSY, TF_R_WIPE_PENDING, n,
				       "wipe %s: a wipe of %s is already "
				       "waiting",
				       n, n);
			return TFD_REPLY_NOW;
		}
		p->after_job = (struct tfd_waiter){.c = c,
						   .resume = wipe_resume,
						   .flags = (uint32_t)c->pid};
		c->waiting = true;
		return TFD_REPLY_LATER;
	}
	return wipe_begin(d, p, c, (uint32_t)c->pid, rep);
}
