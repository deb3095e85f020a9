/* SPDX-License-Identifier: ISC */
/*
 * The key store: per-persona wrapped secrets, the credential throttle and
 * crypto-erase. docs/keys.md is the long form of the comments here.
 *
 * Files in <state>/keys/<persona>/ (dir 0700, files 0600, all written with
 * tf_atomic_write_at so a crash leaves the old or the new file):
 *   sp.device | sp.credential   wrapped SP (format in internal.h)
 *   discardable[.N]             4 KiB random, hashed into the KEK; the
 *                               wrapped SP's generation N names it (no
 *                               suffix for 0); a change makes N + 1
 *   discardable.new             only during creation (see tf_ks_create_sp)
 *   sp.credential.old           only during a change (protector_cred.c)
 *   throttle                    failure counter, last failure, erased flag
 *   tpm.slot                    which TPM NV slot holds the secret mixed
 *                               into the KEK (credential personas with a
 *                               TPM; tpm_bind.c, docs/keys.md "TPM")
 *   tpm.slot.new                only during a credential change
 *   tpm.credential[.new]        the same as a sealed TPM object (personas
 *                               enrolled before NV slots, until a change)
 * Every operation holds flock(LOCK_EX) on the persona directory, so two
 * daemons (or a daemon and a test) cannot interleave counter updates.
 *
 * This file opens the store, finds a persona's state and holds the public
 * entry points; the jobs behind them are in the files internal.h lists.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"

#define KEYS_DIR "keys"

/* ---------------------------------------------------------------- util */

int tf_ks_file_exists(int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : tf_negerrno();
}

/* Read a bounded key file into buf (cap must be max + 1): a larger file, a
 * symlink or a non-regular file is damage, not something to follow.
 * O_NONBLOCK: a FIFO planted in its place must not block the open (and
 * the daemon, holding the persona's lock) until a writer comes; it opens
 * at once and fstat calls it damage. Reads of a regular file ignore it. */
int tf_ks_read_key_file(int dfd, const char *name, uint8_t *buf, size_t cap,
			size_t *len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	fd = openat(dfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : tf_negerrno();
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	n = tf_read_full(fd, buf, cap);
	if (n < 0)
		return (int)n;
	if ((size_t)n >= cap)
		return -EBADMSG;
	*len = (size_t)n;
	return 0;
}

/* ------------------------------------------------------- persona dir */

int tf_ks_open_persona(struct tf_keystore *ks, const char *persona, bool create,
		       int *out)
{
	_cleanup_close_ int fd = -1;

	if (!tf_name_valid(persona))
		return -EINVAL;
	if (create && mkdirat(ks->keysfd, persona, 0700) < 0) {
		if (errno != EEXIST)
			return tf_negerrno();
	} else if (create) {
		int r = tf_fsync_dir_at(ks->keysfd, NULL);
		if (r < 0)
			return r;
	}
	fd = openat(ks->keysfd, persona,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return tf_negerrno();
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return tf_negerrno();
	snprintf(ks->persona, sizeof(ks->persona), "%s", persona);
	*out = steal_fd(&fd);
	return 0;
}

/* "discardable" (generation 0) or "discardable.<N>", N > 0 in canonical
 * decimal; not "discardable.new". */
static bool discard_gen_name(const char *name, uint32_t *gen)
{
	size_t fl = strlen(F_DISCARD);
	unsigned long long v = 0;
	const char *p;

	if (strncmp(name, F_DISCARD, fl) != 0)
		return false;
	if (name[fl] == '\0') {
		*gen = 0;
		return true;
	}
	if (name[fl] != '.' || name[fl + 1] < '1' || name[fl + 1] > '9')
		return false;
	for (p = name + fl + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*gen = (uint32_t)v;
	return true;
}

/* Which discardables are there: *any (of any generation), *has_gen (of gen). */
static int scan_discards(int dfd, uint32_t gen, bool *any, bool *has_gen)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	uint32_t g;
	int r;

	*any = *has_gen = false;
	r = tf_opendir_at(dfd, ".", false, &d);
	if (r < 0)
		return r;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!discard_gen_name(de->d_name, &g))
			continue;
		*any = true;
		if (g == gen)
			*has_gen = true;
	}
	return 0;
}

/*
 * The leftovers of a credential change (protector_cred.c): the
 * discardables of other generations (the old one after the commit, the
 * unused new one of a change that crashed before it) and
 * sp.credential.old. Only called when gen's pair is intact, so what is
 * destroyed here can open nothing that still matters.
 */
int tf_ks_destroy_dead_generations(struct tf_keystore *ks, int dfd,
				   uint32_t gen)
{
	_cleanup_closedir_ DIR *d = NULL;
	enum tf_destroy_how how, acc = TF_DESTROY_NONE;
	struct stat cur, old;
	struct dirent *de;
	uint32_t g;
	int r, ret = 0;

	r = tf_opendir_at(dfd, ".", false, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d)) != NULL) {
		bool dead = discard_gen_name(de->d_name, &g) && g != gen;
		/* discardable.new belongs to generation 0's creation only */
		dead = dead || (gen != 0 && !strcmp(de->d_name, F_DISCARD_NEW));
		if (!dead)
			continue;
		r = tf_ks_destroy_file_how(dfd, de->d_name, &how);
		if (r < 0 && ret == 0)
			ret = r;
		if (how != TF_DESTROY_NONE &&
		    (acc == TF_DESTROY_NONE || how < acc))
			acc = how;
	}
	if (ret < 0)
		return ret;
	/* sp.credential.old: a second link to the live blob before the
	 * commit (only unlinked), the old blob itself after it (destroyed) */
	if (fstatat(dfd, F_SP_CRED_OLD, &old, AT_SYMLINK_NOFOLLOW) == 0) {
		if (fstatat(dfd, F_SP_CRED, &cur, AT_SYMLINK_NOFOLLOW) < 0)
			return tf_negerrno();
		if (cur.st_dev == old.st_dev && cur.st_ino == old.st_ino) {
			r = tf_unlink_durable_at(dfd, F_SP_CRED_OLD);
		} else {
			r = tf_ks_destroy_file_how(dfd, F_SP_CRED_OLD, &how);
			if (how != TF_DESTROY_NONE &&
			    (acc == TF_DESTROY_NONE || how < acc))
				acc = how;
		}
		if (r < 0)
			return r;
	} else if (errno != ENOENT) {
		return tf_negerrno();
	}
	if (acc != TF_DESTROY_NONE)
		ks->last_destroy = acc;
	return 0;
}

/* Determine the state, finishing an interrupted creation, change or
 * erase. */
int tf_ks_load_state(struct tf_keystore *ks, int dfd,
		     enum tf_persona_keystate *st, struct tf_throttle_rec *t)
{
	int has_dev, has_cred, has_new, r;
	bool any_disc, has_disc;
	struct tf_spblob b;
	uint32_t gen = 0;
	bool gen_known = false;

	r = tf_ks_throttle_load(dfd, t);
	if (r < 0)
		return r;
	if (t->erased) {
		/* resume: destroy what is left, then record it if that had
		 * not been done (erase.c says why in that order) */
		r = tf_ks_do_erase(ks, dfd, ks->persona, t, "erase.resumed",
				   "crypto-erased (finished after an "
				   "interruption)");
		if (r < 0)
			return r;
		*st = TF_KS_ERASED;
		return 0;
	}
	has_dev = tf_ks_file_exists(dfd, F_SP_DEVICE);
	has_cred = tf_ks_file_exists(dfd, F_SP_CRED);
	has_new = tf_ks_file_exists(dfd, F_DISCARD_NEW);
	if (has_dev < 0 || has_cred < 0 || has_new < 0)
		return TF_MIN(TF_MIN(has_dev, has_cred), has_new);
	if (has_dev && has_cred)
		return -EBADMSG;
	if (has_cred) {
		/* every creation writes the counter before the credential's
		 * blob, and it is only ever replaced by rename: a credential
		 * without one means somebody deleted it to reset the count
		 * (docs/keys.md "Throttle schedule"). Refuse; never restart
		 * the count at zero. */
		int has_thr = tf_ks_file_exists(dfd, F_THROTTLE);

		if (has_thr <= 0)
			return has_thr < 0 ? has_thr : -EBADMSG;
	}
	if (has_dev || has_cred) {
		/* the generation says which discardable goes with it; a
		 * blob that does not parse is reported by the unlock itself,
		 * and then nothing is rolled forward or destroyed */
		r = tf_ks_load_spblob(ks, dfd,
				      has_cred ? F_SP_CRED : F_SP_DEVICE, &b);
		if (r == 0) {
			gen = b.generation;
			gen_known = true;
		} else if (r != -EBADMSG && r != -EPROTONOSUPPORT) {
			return r;
		}
	}
	r = scan_discards(dfd, gen, &any_disc, &has_disc);
	if (r < 0)
		return r;
	if (!gen_known && (has_dev || has_cred)) {
		*st = has_cred ? TF_KS_CREDENTIAL : TF_KS_DEVICE;
		return 0;
	}
	if ((has_dev || has_cred) && gen == 0 && !has_disc && has_new) {
		/* crashed after the wrapped SP was committed, before the
		 * discardable file got its final name: roll forward */
		if (renameat(dfd, F_DISCARD_NEW, dfd, F_DISCARD) < 0)
			return tf_negerrno();
		r = tf_fsync_dir_at(dfd, NULL);
		if (r < 0)
			return r;
		has_disc = true;
	}
	if ((has_dev || has_cred) && !has_disc)
		return -EBADMSG; /* SP without its discardable: unrecoverable */
	if (any_disc && !has_dev && !has_cred)
		return -EBADMSG; /* the wrapped SP is gone: never replace it */
	if (has_dev || has_cred) {
		/* a change committed before a crash (the old generation) or
		 * not (the unused new one): either way, dead now */
		r = tf_ks_destroy_dead_generations(ks, dfd, gen);
		if (r < 0)
			return r;
	}
	*st = has_cred ? TF_KS_CREDENTIAL : has_dev ? TF_KS_DEVICE : TF_KS_NONE;
	return 0;
}
/* ---------------------------------------------------------- public API */

int tf_keystore_open(int state_dirfd, const struct tf_suite *s,
		     const struct tf_config *cfg, struct tf_keystore **out)
{
	_cleanup_secure_ uint8_t *secret = NULL;
	_cleanup_close_ int sfd = -1, kfd = -1;
	struct tf_keystore *ks;
	uint8_t sid, tname[TF_TPM_NAME_MAX];
	size_t tnamelen = 0;
	int r;

	/* s comes from tf_suite_by_name, which may say NULL: not nonnull */
	if (s == NULL)
		return -EINVAL;
	sfd = fcntl(state_dirfd, F_DUPFD_CLOEXEC, 3);
	if (sfd < 0)
		return tf_negerrno();
	secret = tf_secure_alloc(TF_DEVSECRET_BYTES);
	if (secret == NULL)
		return -ENOMEM;
	if (cfg->tpm_tcti[0] != '\0')
		r = tf_ks_devsecret_tpm(sfd, cfg->tpm_tcti, &sid, secret, tname,
					&tnamelen);
	else
		r = tf_devsecret_load(sfd, &sid, secret);
	if (r < 0)
		return r;
	if (sid != s->id)
		return -EPROTO;
	if (mkdirat(sfd, KEYS_DIR, 0700) < 0 && errno != EEXIST)
		return tf_negerrno();
	kfd = openat(sfd, KEYS_DIR,
		     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (kfd < 0)
		return tf_negerrno();
	ks = calloc(1, sizeof(*ks));
	if (ks == NULL)
		return -ENOMEM;
	ks->statefd = steal_fd(&sfd);
	ks->keysfd = steal_fd(&kfd);
	ks->s = s;
	ks->cfg = *cfg;
	ks->devsecret = steal_pointer(&secret);
	memcpy(ks->tpm_name, tname, tnamelen);
	ks->tpm_namelen = tnamelen;
	if (cfg->tpm_tcti[0] != '\0') {
		/* slots of dead generations; a failure here costs nothing but
		 * NV space, and the next open tries again */
		(void)tf_ks_tpm_sweep(ks);
	}
	*out = ks;
	return 0;
}

void tf_keystore_close(struct tf_keystore *ks)
{
	if (ks == NULL)
		return;
	tf_secure_free(ks->devsecret);
	tf_secure_free(ks->tpm_lauth);
	tf_closep(&ks->keysfd);
	tf_closep(&ks->statefd);
	free(ks);
}

void tf_keystore_set_clock(struct tf_keystore *ks,
			   const struct tf_keys_clock *c)
{
	ks->fixed_clock = c != NULL;
	if (c != NULL)
		ks->clock = *c;
}

int tf_keys_state(struct tf_keystore *ks, const char *persona,
		  enum tf_persona_keystate *st)
{
	_cleanup_close_ int dfd = -1;
	struct tf_throttle_rec t;
	int r;

	r = tf_ks_open_persona(ks, persona, false, &dfd);
	if (r == -ENOENT) {
		*st = TF_KS_NONE;
		return 0;
	}
	if (r < 0)
		return r;
	return tf_ks_load_state(ks, dfd, st, &t);
}

int tf_keys_create_device_bound(struct tf_keystore *ks, const char *persona,
				unsigned flags)
{
	_cleanup_close_ int dfd = -1;
	int r;

	r = tf_ks_open_persona(ks, persona, true, &dfd);
	if (r < 0)
		return r;
	return tf_ks_create_sp(ks, dfd, persona, flags, TF_PROT_DEVICE, 0, NULL,
			       0);
}

int tf_keys_unlock_device_bound(struct tf_keystore *ks, const char *persona,
				uint8_t fskey[static TF_KEYS_FSKEY_BYTES])
{
	_cleanup_close_ int dfd = -1;
	int r;

	r = tf_ks_open_persona(ks, persona, false, &dfd);
	if (r < 0)
		return r;
	return tf_ks_device_unlock(ks, dfd, persona, fskey);
}

int tf_credential_check_form(const struct tf_config *cfg, const uint8_t *cred,
			     size_t len, char *why, size_t whylen)
{
	bool digits = len > 0;
	size_t chars = 0;

#define WHY(...)                                                               \
	do {                                                                   \
		if (why != NULL && whylen > 0)                                 \
			snprintf(why, whylen, __VA_ARGS__);                    \
		return -EINVAL;                                                \
	} while (0)

	if (len > TF_CRED_MAX)
		WHY("credential too long: at most %d bytes", TF_CRED_MAX);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = cred[i];
		if (c < 0x20 || c == 0x7f)
			WHY("credential contains a control character");
		if (c < '0' || c > '9')
			digits = false;
		if ((c & 0xc0) != 0x80) /* count UTF-8 characters, not bytes */
			chars++;
	}
	if (digits) {
		if (len < cfg->pin_min_digits)
			WHY("PIN too short: at least %u digits",
			    cfg->pin_min_digits);
		return TF_CRED_PIN;
	}
	if (chars < cfg->passphrase_min_chars)
		WHY("passphrase too short: at least %u characters (or a PIN "
		    "of at least %u digits)",
		    cfg->passphrase_min_chars, cfg->pin_min_digits);
	return TF_CRED_PASSPHRASE;
#undef WHY
}

int tf_keys_enroll(struct tf_keystore *ks, const char *persona, unsigned flags,
		   const uint8_t *old_cred, size_t old_len,
		   const uint8_t *new_cred, size_t new_len,
		   struct tf_throttle_info *ti)
{
	_cleanup_close_ int dfd = -1;
	int kind, r;

	if (new_cred == NULL)
		return -EINVAL;
	kind = tf_credential_check_form(&ks->cfg, new_cred, new_len, NULL, 0);
	if (kind < 0)
		return kind;
	r = tf_ks_open_persona(ks, persona, true, &dfd);
	if (r < 0)
		return r;
	if (old_cred == NULL)
		return tf_ks_create_sp(ks, dfd, persona, flags,
				       TF_PROT_CREDENTIAL, (uint8_t)kind,
				       new_cred, new_len);
	return tf_ks_cred_change(ks, dfd, persona, (uint8_t)kind, old_cred,
				 old_len, new_cred, new_len, ti);
}

int tf_keys_unlock(struct tf_keystore *ks, const char *persona,
		   const uint8_t *cred, size_t len,
		   uint8_t fskey[static TF_KEYS_FSKEY_BYTES],
		   struct tf_throttle_info *ti, uint64_t *kdf_ns)
{
	return tf_keys_unlock_ex(ks, persona, cred, len, fskey, ti, kdf_ns,
				 NULL);
}

int tf_keys_reset_failures(struct tf_keystore *ks, const char *persona)
{
	_cleanup_close_ int dfd = -1;
	struct tf_throttle_rec t;
	int r;

	r = tf_ks_open_persona(ks, persona, false, &dfd);
	if (r < 0)
		return r;
	r = tf_ks_throttle_load(dfd, &t);
	if (r < 0)
		return r;
	if (t.failures == 0)
		return 0;
	memset(&t, 0, sizeof(t));
	return tf_ks_throttle_store(dfd, &t);
}

int tf_keys_unlock_ex(struct tf_keystore *ks, const char *persona,
		      const uint8_t *cred, size_t len,
		      uint8_t fskey[static TF_KEYS_FSKEY_BYTES],
		      struct tf_throttle_info *ti, uint64_t *kdf_ns,
		      const struct tf_keys_unlock_opts *o)
{
	_cleanup_secure_ uint8_t *sp = NULL;
	_cleanup_close_ int dfd = -1;
	uint64_t ns = 0;
	int r;

	r = tf_ks_open_persona(ks, persona, false, &dfd);
	if (r < 0)
		return r;
	sp = tf_secure_alloc(TF_SP_BYTES);
	if (sp == NULL)
		return -ENOMEM;
	r = tf_ks_cred_attempt(ks, dfd, persona, cred, len, sp, ti, &ns, o);
	if (kdf_ns)
		*kdf_ns = ns;
	if (r < 0)
		return r;
	return tf_ks_fskey_from_sp(ks, persona, sp, fskey);
}

int tf_keys_erase(struct tf_keystore *ks, const char *persona, const char *why)
{
	_cleanup_close_ int dfd = -1;
	struct tf_throttle_rec t;
	char what[160];
	int r;

	r = tf_ks_open_persona(ks, persona, true, &dfd);
	if (r < 0)
		return r;
	r = tf_ks_throttle_load(dfd, &t);
	if (r < 0)
		memset(&t, 0, sizeof(t)); /* erase even over a damaged record */
	snprintf(what, sizeof(what), "crypto-erased: %s",
		 why != NULL ? why : "requested");
	return tf_ks_do_erase(ks, dfd, persona, &t, "erase.wipe", what);
}

int tf_keys_kdf_cost(struct tf_keystore *ks, const char *persona,
		     uint32_t *opslimit, uint32_t *mem_kib)
{
	_cleanup_close_ int dfd = -1;
	struct tf_spblob b;
	int r;

	r = tf_ks_open_persona(ks, persona, false, &dfd);
	if (r < 0)
		return r;
	if (tf_ks_file_exists(dfd, F_SP_CRED) <= 0)
		return -ENOENT;
	r = tf_ks_load_spblob(ks, dfd, F_SP_CRED, &b);
	if (r < 0)
		return r;
	*opslimit = b.opslimit;
	*mem_kib = b.mem_kib;
	tf_memzero(&b, sizeof(b));
	return 0;
}

int tf_keys_throttle_info(struct tf_keystore *ks, const char *persona,
			  struct tf_throttle_info *ti)
{
	_cleanup_close_ int dfd = -1;
	struct tf_throttle_rec t;
	struct tf_keys_clock now;
	int r;

	r = tf_ks_open_persona(ks, persona, false, &dfd);
	if (r == -ENOENT) {
		memset(&t, 0, sizeof(t));
		memset(&now, 0, sizeof(now));
	} else if (r < 0) {
		return r;
	} else {
		r = tf_ks_throttle_load(dfd, &t);
		if (r < 0)
			return r;
		r = tf_ks_get_clock(ks, &now);
		if (r < 0)
			return r;
	}
	tf_ks_throttle_info(ks, &t, &now, ti);
	/* with an NV slot the TPM's count is the one that binds */
	return dfd >= 0 ? tf_ks_tpm_status(ks, dfd, ti) : 0;
}
