/* SPDX-License-Identifier: ISC */
/*
 * Dropping identity and capabilities in a launched app, the last steps
 * before exec (STYLE.md 2): tf_privs_drop, tf_caps_drop_all, tf_nnp_set,
 * then tf_landlock_apply and tf_seccomp_apply_default. A persona's
 * launcher splits this: what is the same for every app (tf_caps_lock, nnp,
 * Landlock, seccomp) it does once to itself; each app it clones inherits
 * that and only changes its ids (tf_privs_drop_locked).
 */
#include <grp.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <linux/securebits.h>

#include "twofold/sandbox.h"

/* NOROOT: uid 0 gains no capabilities at exec (so a setuid-root binary or
 * an exec as root inside the persona gives nothing). NO_SETUID_FIXUP: the
 * kernel no longer adjusts capabilities on uid changes; with every set
 * empty that only means nothing can come back. NO_CAP_AMBIENT_RAISE: the
 * ambient set stays empty. KEEP_CAPS stays off. All locked, so no later
 * code (or exploit without CAP_SETPCAP, which is gone) can undo them. */
#define TF_SECBITS                                                             \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |       \
	 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |             \
	 SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

/* The steps that need CAP_SETPCAP: bounding set and securebits. Each is
 * skipped when already done, so a second call needs no privilege. */
static int caps_prepare(void)
{
	unsigned secbits;
	int last = (int)cap_max_bits();

	/* Raw prctl, one call per step: this runs on every app launch, and
	 * libcap's cap_reset_ambient() probes each capability first
	 * (PR_CAP_AMBIENT_IS_SET x 41). Clearing the ambient set is always
	 * allowed; EINVAL means a kernel without ambient capabilities. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return tf_negerrno();
	/* Drop first, ask only if that fails: without CAP_SETPCAP (the
	 * second call, after the uid change) a drop fails even for a bit
	 * that is already clear, which is fine; cap_max_bits() is what this
	 * kernel knows. */
	for (int c = 0; c < last; c++) {
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == 0 || errno == EINVAL)
			continue;
		if (errno == EPERM && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 0)
			continue;
		return tf_negerrno();
	}
	secbits = cap_get_secbits();
	if ((secbits & TF_SECBITS) != TF_SECBITS &&
	    cap_set_secbits(secbits | TF_SECBITS) < 0)
		return tf_negerrno();
	return 0;
}

static int caps_clear_sets(void)
{
	cap_t empty = cap_init();
	int r = 0;

	if (!empty)
		return -ENOMEM;
	if (cap_set_proc(empty) < 0)
		r = tf_negerrno();
	cap_free(empty);
	return r;
}

static bool caps_all_empty(void)
{
	cap_t cur = cap_get_proc(), empty = cap_init();
	bool ok = cur && empty && cap_compare(cur, empty) == 0;

	cap_free(cur);
	cap_free(empty);
	return ok;
}

int tf_caps_drop_all(void)
{
	int r = caps_prepare();

	if (r < 0)
		return r;
	r = caps_clear_sets();
	if (r < 0)
		return r;
	return caps_all_empty() ? 0 : -EPERM;
}

int tf_caps_lock(void)
{
	return caps_prepare();
}

int tf_caps_keep_setid(void)
{
	static const cap_value_t keep[] = {CAP_SETUID, CAP_SETGID};
	cap_t want = cap_init(), cur = NULL;
	int r = 0;

	if (!want)
		return -ENOMEM;
	if (cap_set_flag(want, CAP_PERMITTED, 2, keep, CAP_SET) < 0 ||
	    cap_set_flag(want, CAP_EFFECTIVE, 2, keep, CAP_SET) < 0 ||
	    cap_set_proc(want) < 0)
		r = tf_negerrno();
	if (r == 0) {
		cur = cap_get_proc();
		if (!cur || cap_compare(cur, want) != 0)
			r = -EPERM;
	}
	cap_free(cur);
	cap_free(want);
	return r;
}

static int privs_drop(uid_t uid, gid_t gid, bool locked)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	gid_t zero = 0;
	int r;

	/* dropping "to root" is no drop, and the proof below would abort */
	if (uid == 0 || gid == 0 || uid == (uid_t)-1 || gid == (gid_t)-1)
		return -EINVAL;
	/* supplementary groups first: they need CAP_SETGID, gone later */
	if (setgroups(0, NULL) < 0)
		return tf_negerrno();
	if (setresgid(gid, gid, gid) < 0)
		return tf_negerrno();
	if (locked) {
		/* An ancestor ran tf_caps_lock(): bounding and ambient sets
		 * are inherited empty. It sets the securebits last, only once
		 * the bounding set is empty, so they are the sign that it
		 * did; without them the caller is wrong: refuse. */
		int sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);

		if (sb < 0 || ((unsigned)sb & TF_SECBITS) != TF_SECBITS)
			return -EPERM;
	} else {
		/* bounding set and securebits need CAP_SETPCAP, which the uid
		 * change takes away; so they happen now (see sandbox.h) */
		r = caps_prepare();
		if (r < 0)
			return r;
	}
	if (setresuid(uid, uid, uid) < 0)
		return tf_negerrno();
	/* NO_SETUID_FIXUP kept the sets across setresuid; empty them */
	r = caps_clear_sets();
	if (r < 0)
		return r;

	/* Prove it (OpenSSH uidswap.c permanently_set_uid): if any way back
	 * to root works, the process is not what we think it is. Library
	 * code does not exit, except here: continuing would run an app with
	 * privileges it must not have, and there is no safe error path. */
	if (setresuid(0, 0, 0) == 0 || setuid(0) == 0 || seteuid(0) == 0)
		abort();
	if (setresgid(0, 0, 0) == 0 || setgid(0) == 0 || setegid(0) == 0)
		abort();
	if (setgroups(1, &zero) == 0)
		abort();
	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid)
		abort();
	if (getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid)
		abort();
	if (!caps_all_empty())
		abort();
	/* the bounding set limits what an exec can grant: spot-check the
	 * capabilities that matter most (all 41 would cost 41 syscalls) */
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0 ||
	    prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) != 0)
		abort();
	return 0;
}

int tf_privs_drop(uid_t uid, gid_t gid)
{
	return privs_drop(uid, gid, false);
}

int tf_privs_drop_locked(uid_t uid, gid_t gid)
{
	return privs_drop(uid, gid, true);
}

int tf_nnp_set(void)
{
	/* no_new_privs: exec can no longer grant privilege (setuid bits,
	 * file caps); also what lets an unprivileged process load seccomp
	 * and Landlock. It cannot be unset. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return tf_negerrno();
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return -EPERM;
	return 0;
}
