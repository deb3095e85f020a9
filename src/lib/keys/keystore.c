/* SPDX-License-Identifier: ISC */
/*
 * The key store: per-persona wrapped secrets, the credential throttle and
 * crypto-erase. docs/keys.md is the long form of the comments here.
 *
 * Files in <state>/keys/<persona>/ (dir 0700, files 0600, all written with
 * tf_atomic_write_at so a crash leaves the old or the new file):
 *   sp.device | sp.credential   wrapped SP (format in internal.h)
 *   discardable                 4 KiB random, hashed into the KEK
 *   discardable.new             only during creation (see create_sp)
 *   throttle                    failure counter, last failure, erased flag
 *   tpm.credential              TPM object whose data is mixed into the KEK
 *                               (credential personas with a TPM; tpm.c)
 *   tpm.credential.new          only during a credential change
 * Every operation holds flock(LOCK_EX) on the persona directory, so two
 * daemons (or a daemon and a test) cannot interleave counter updates.
 */
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"
#include "src/lib/keys/tpm.h"

#define F_SP_DEVICE "sp.device"
#define F_SP_CRED "sp.credential"
#define F_DISCARD "discardable"
#define F_DISCARD_NEW "discardable.new"
#define F_THROTTLE "throttle"
#define F_TPM_CRED "tpm.credential"
#define F_TPM_CRED_NEW "tpm.credential.new"
#define F_DEVSECRET_TPM TF_DEVSECRET_TPM_FILE
#define TPM_AUTH_LABEL "twofold tpm auth"
#define KEYS_DIR "keys"
#define AD_LABEL "twofold-sp-v1"
#define KEK_LABEL "twofold kek"
#define FSCRYPT_LABEL "fscrypt"
#define KDF_MEM_MIB_CALIB_MAX 1024u /* calibration never goes above 1 GiB */

struct tf_keystore {
	int statefd;
	int keysfd;
	const struct tf_suite *s;
	struct tf_config cfg;
	uint8_t *devsecret; /* TF_DEVSECRET_BYTES, secmem */
	bool fixed_clock;
	struct tf_keys_clock clock;
};

/* ---------------------------------------------------------------- util */

static int file_exists(int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : tf_negerrno();
}

/* Read a bounded key file into buf (cap must be max + 1): a larger file, a
 * symlink or a non-regular file is damage, not something to follow. */
static int read_key_file(int dfd, const char *name, uint8_t *buf, size_t cap,
			 size_t *len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
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

static int read_boot_id(uint8_t id[16])
{
	_cleanup_free_ char *text = NULL;
	size_t len, j = 0;
	int r;

	r = tf_read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64,
			    &text, &len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < len && j < 32; i++) {
		char c = text[i];
		int v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			continue; /* dashes, newline */
		if (j % 2 == 0)
			id[j / 2] = (uint8_t)(v << 4);
		else
			id[j / 2] |= (uint8_t)v;
		j++;
	}
	return j == 32 ? 0 : -EIO;
}

static int get_clock(struct tf_keystore *ks, struct tf_keys_clock *c)
{
	struct timespec ts;
	int r;

	if (ks->fixed_clock) {
		*c = ks->clock;
		return 0;
	}
	r = read_boot_id(c->boot_id);
	if (r < 0)
		return r;
	/* CLOCK_BOOTTIME counts suspend and cannot be set (unlike REALTIME),
	 * so neither `date -s` nor a suspended phone shortens a wait */
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return tf_negerrno();
	c->boottime_ns =
		(uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return 0;
}

/* ------------------------------------------------------------ throttle */

static int throttle_load(int dfd, struct tf_throttle_rec *t)
{
	uint8_t buf[TF_THROTTLE_BYTES + 1];
	size_t len;
	int r;

	r = read_key_file(dfd, F_THROTTLE, buf, sizeof(buf), &len);
	if (r == -ENOENT) {
		memset(t, 0, sizeof(*t));
		return 0;
	}
	if (r < 0)
		return r;
	return tf_keys_throttle_parse(buf, len, t);
}

static int throttle_store(int dfd, const struct tf_throttle_rec *t)
{
	uint8_t buf[TF_THROTTLE_BYTES];

	tf_keys_throttle_format(t, buf);
	return tf_atomic_write_at(dfd, F_THROTTLE, buf, sizeof(buf), 0600);
}

/* Seconds since the last failure that we can prove have passed. */
static uint64_t elapsed_s(const struct tf_throttle_rec *t,
			  const struct tf_keys_clock *now)
{
	if (memcmp(t->boot_id, now->boot_id, sizeof(now->boot_id)) != 0)
		/* rebooted since: only the time since this boot is certain;
		 * rebooting never shortens a wait */
		return now->boottime_ns / 1000000000ull;
	if (now->boottime_ns < t->last_ns)
		return 0;
	return (now->boottime_ns - t->last_ns) / 1000000000ull;
}

static void throttle_info(const struct tf_keystore *ks,
			  const struct tf_throttle_rec *t,
			  const struct tf_keys_clock *now,
			  struct tf_throttle_info *ti)
{
	uint32_t max = ks->cfg.throttle_max_failures;
	uint64_t delay = 0, el;

	memset(ti, 0, sizeof(*ti));
	ti->failures = t->failures;
	ti->erased = t->erased;
	ti->tries_left =
		(!t->erased && max > t->failures) ? max - t->failures : 0;
	if (t->erased || t->failures == 0)
		return;
	delay = tf_keys_throttle_delay(t->failures, ks->cfg.throttle_free_tries,
				       ks->cfg.throttle_base_delay);
	el = elapsed_s(t, now);
	ti->wait_seconds = delay > el ? (uint32_t)(delay - el) : 0;
}

/* ------------------------------------------------------- crypto-erase */

/* Overwrite in place, fsync, unlink. On flash the overwrite may land
 * elsewhere (FTL); that is why the KEK also depends on the discardable file:
 * a stale copy of a wrapped SP is useless once any one input is gone. */
static int destroy_file(int dfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	uint8_t junk[4096];
	struct stat st;
	int r;

	fd = openat(dfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t off = 0;
		while (off < st.st_size) {
			size_t n = (size_t)TF_MIN((off_t)sizeof(junk),
						  st.st_size - off);
			if (tf_random(junk, n) < 0 ||
			    pwrite(fd, junk, n, off) != (ssize_t)n)
				break;
			off += (off_t)n;
		}
		(void)fsync(fd);
	}
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
		r = tf_negerrno();
		return r;
	}
	return 0;
}

/* Remove every file of the persona but the throttle record. */
static int destroy_key_files(int dfd)
{
	_cleanup_close_ int dup_fd = -1;
	DIR *d;
	struct dirent *de;
	int r, ret = 0;

	/* discardable first: once it is gone, SP is unrecoverable */
	r = destroy_file(dfd, F_DISCARD);
	if (r < 0)
		ret = r;
	dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return tf_negerrno();
	d = fdopendir(dup_fd);
	if (d == NULL)
		return tf_negerrno();
	dup_fd = -1; /* owned by d now */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, F_THROTTLE))
			continue;
		r = destroy_file(dfd, de->d_name);
		if (r < 0 && ret == 0)
			ret = r;
	}
	closedir(d);
	r = tf_fsync_dir_at(dfd, NULL);
	return ret < 0 ? ret : r;
}

static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static int log_event(struct tf_keystore *ks, const char *persona,
		     const char *what)
{
	_cleanup_close_ int fd = -1;
	char line[512], stamp[32], safe[256];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	snprintf(safe, sizeof(safe), "%s", what);
	sanitize(safe);
	n = snprintf(line, sizeof(line), "%s %s %s\n", stamp, persona, safe);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	fd = openat(ks->statefd, TF_EVENTS_LOG,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
			    O_NOCTTY,
		    0600);
	if (fd < 0)
		return tf_negerrno();
	if (tf_write_full(fd, line, (size_t)n) < 0 || fsync(fd) < 0)
		return tf_negerrno();
	return tf_fsync_dir_at(ks->statefd, NULL);
}

/* Order: the erased flag is durable first (from then on nothing unlocks
 * and the next access finishes the job), then the event, then the files. */
static int do_erase(struct tf_keystore *ks, int dfd, const char *persona,
		    struct tf_throttle_rec *t, const char *what)
{
	int r;

	if (!t->erased) {
		t->erased = true;
		r = throttle_store(dfd, t);
		if (r < 0)
			return r;
		r = log_event(ks, persona, what);
		if (r < 0)
			return r;
	}
	return destroy_key_files(dfd);
}

/* ------------------------------------------------------- persona dir */

static int open_persona(struct tf_keystore *ks, const char *persona,
			bool create, int *out)
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
	*out = steal_fd(&fd);
	return 0;
}

/* Determine the state, finishing an interrupted creation or erase. */
static int load_state(struct tf_keystore *ks, int dfd,
		      enum tf_persona_keystate *st, struct tf_throttle_rec *t)
{
	int has_dev, has_cred, has_disc, has_new, r;

	r = throttle_load(dfd, t);
	if (r < 0)
		return r;
	if (t->erased) {
		r = destroy_key_files(dfd);
		if (r < 0)
			return r;
		*st = TF_KS_ERASED;
		return 0;
	}
	has_dev = file_exists(dfd, F_SP_DEVICE);
	has_cred = file_exists(dfd, F_SP_CRED);
	has_disc = file_exists(dfd, F_DISCARD);
	has_new = file_exists(dfd, F_DISCARD_NEW);
	if (has_dev < 0 || has_cred < 0 || has_disc < 0 || has_new < 0)
		return TF_MIN(TF_MIN(has_dev, has_cred),
			      TF_MIN(has_disc, has_new));
	if ((has_dev || has_cred) && !has_disc && has_new) {
		/* crashed after the wrapped SP was committed, before the
		 * discardable file got its final name: roll forward */
		if (renameat(dfd, F_DISCARD_NEW, dfd, F_DISCARD) < 0)
			return tf_negerrno();
		r = tf_fsync_dir_at(dfd, NULL);
		if (r < 0)
			return r;
		has_disc = 1;
	}
	if (has_dev && has_cred)
		return -EBADMSG;
	if ((has_dev || has_cred) && !has_disc)
		return -EBADMSG; /* SP without its discardable: unrecoverable */
	if (has_disc && !has_dev && !has_cred)
		return -EBADMSG; /* the wrapped SP is gone: never replace it */
	*st = has_cred ? TF_KS_CREDENTIAL : has_dev ? TF_KS_DEVICE : TF_KS_NONE;
	return 0;
}

/* ------------------------------------------------------ wrap / unwrap */

static int discard_hash(struct tf_keystore *ks, int dfd,
			uint8_t out[TF_HASH_BYTES])
{
	_cleanup_secure_ uint8_t *buf = NULL;
	const uint8_t *rnd;
	size_t len = 0; /* -O3 cannot see read_key_file sets it */
	int r;

	buf = tf_secure_alloc(TF_DISCARD_FILE_BYTES + 1);
	if (buf == NULL)
		return -ENOMEM;
	r = read_key_file(dfd, F_DISCARD, buf, TF_DISCARD_FILE_BYTES + 1, &len);
	if (r == -ENOENT)
		return -EBADMSG;
	if (r < 0)
		return r;
	r = tf_keys_discard_parse(buf, len, &rnd);
	if (r < 0)
		return r;
	return tf_hash(ks->s, out, rnd, TF_DISCARD_RANDOM);
}

/* KEK = HKDF(devsecret || pwhash-or-empty || tpm-secret-or-empty ||
 *            hash(discardable),
 *            info = "twofold kek" 0 persona 0 protector) */
static int derive_kek(struct tf_keystore *ks, const char *persona,
		      uint8_t protector, const uint8_t *pw,
		      const uint8_t *tpmsec, const uint8_t dhash[TF_HASH_BYTES],
		      struct tf_key **kek)
{
	_cleanup_secure_ uint8_t *ikm = NULL;
	uint8_t info[64];
	size_t ilen = 0, plen = strlen(persona);

	ikm = tf_secure_alloc(TF_DEVSECRET_BYTES + TF_KEY_BYTES +
			      TF_TPM_SECRET_BYTES + TF_HASH_BYTES);
	if (ikm == NULL)
		return -ENOMEM;
	memcpy(ikm + ilen, ks->devsecret, TF_DEVSECRET_BYTES);
	ilen += TF_DEVSECRET_BYTES;
	if (pw != NULL) {
		memcpy(ikm + ilen, pw, TF_KEY_BYTES);
		ilen += TF_KEY_BYTES;
	}
	/* the TPM-held secret of a credential persona: without the TPM (and
	 * its dictionary-attack counter) the KEK cannot be computed */
	if (tpmsec != NULL) {
		memcpy(ikm + ilen, tpmsec, TF_TPM_SECRET_BYTES);
		ilen += TF_TPM_SECRET_BYTES;
	}
	memcpy(ikm + ilen, dhash, TF_HASH_BYTES);
	ilen += TF_HASH_BYTES;

	memcpy(info, KEK_LABEL, sizeof(KEK_LABEL)); /* with its NUL */
	memcpy(info + sizeof(KEK_LABEL), persona, plen + 1);
	info[sizeof(KEK_LABEL) + plen + 1] = protector;
	return tf_kdf_key(ks->s, ikm, ilen, info, sizeof(KEK_LABEL) + plen + 2,
			  kek);
}

/* AD = "twofold-sp-v1" 0 persona 0 protector || file header (kind, salt,
 * Argon2id costs, lengths): editing any of them fails authentication. */
static size_t build_ad(uint8_t ad[128], const char *persona, uint8_t prot,
		       const uint8_t hdr[TF_SPBLOB_HDR])
{
	size_t plen = strlen(persona), n = 0;

	memcpy(ad, AD_LABEL, sizeof(AD_LABEL));
	n += sizeof(AD_LABEL);
	memcpy(ad + n, persona, plen + 1);
	n += plen + 1;
	ad[n++] = prot;
	memcpy(ad + n, hdr, TF_SPBLOB_HDR);
	return n + TF_SPBLOB_HDR;
}

static int pwhash(const uint8_t *cred, size_t len, const struct tf_spblob *b,
		  uint8_t out[TF_KEY_BYTES], uint64_t *ns)
{
	uint64_t t0 = tf_now_ns();
	int r;

	r = tf_pwhash(out, TF_KEY_BYTES, cred, len, b->salt, b->opslimit,
		      (size_t)b->mem_kib * 1024u);
	if (ns)
		*ns += tf_now_ns() - t0;
	return r;
}

static int seal_sp(struct tf_keystore *ks, const char *persona,
		   struct tf_spblob *b, const uint8_t *pw,
		   const uint8_t *tpmsec, const uint8_t dhash[TF_HASH_BYTES],
		   const uint8_t *sp, uint8_t out[TF_SPBLOB_MAX],
		   size_t *outlen)
{
	_cleanup_key_ struct tf_key *kek = NULL;
	size_t sealed_len = TF_SP_BYTES + tf_seal_overhead(ks->s), n;
	uint8_t ad[128];
	size_t adlen;
	int r;

	if (sealed_len > TF_SPBLOB_SEALED_MAX)
		return -EINVAL;
	b->suite_id = ks->s->id;
	tf_keys_spblob_header(b, sealed_len, out);
	adlen = build_ad(ad, persona, b->protector, out);
	r = derive_kek(ks, persona, b->protector, pw, tpmsec, dhash, &kek);
	if (r < 0)
		return r;
	r = tf_seal(kek, ad, adlen, sp, TF_SP_BYTES, out + TF_SPBLOB_HDR,
		    TF_SPBLOB_SEALED_MAX, &n);
	if (r < 0)
		return r;
	if (n != sealed_len)
		return -EINVAL;
	*outlen = TF_SPBLOB_HDR + n;
	return 0;
}

/* Always the full AEAD open: a wrong key costs the same as a right one
 * (the Argon2id before it dominates anyway). */
static int open_sp(struct tf_keystore *ks, const char *persona,
		   const struct tf_spblob *b, const uint8_t *pw,
		   const uint8_t *tpmsec, const uint8_t dhash[TF_HASH_BYTES],
		   uint8_t *sp)
{
	_cleanup_key_ struct tf_key *kek = NULL;
	uint8_t hdr[TF_SPBLOB_HDR], ad[128];
	size_t adlen, n;
	int r;

	tf_keys_spblob_header(b, b->sealed_len, hdr);
	adlen = build_ad(ad, persona, b->protector, hdr);
	r = derive_kek(ks, persona, b->protector, pw, tpmsec, dhash, &kek);
	if (r < 0)
		return r;
	r = tf_open(kek, ad, adlen, b->sealed, b->sealed_len, sp, TF_SP_BYTES,
		    &n);
	if (r == -EINVAL || r == -EPROTONOSUPPORT)
		return -EBADMSG; /* malformed inner blob: damage */
	if (r < 0)
		return r; /* -EBADMSG: authentication failed */
	if (n != TF_SP_BYTES)
		return -EBADMSG;
	return 0;
}

static int load_spblob(struct tf_keystore *ks, int dfd, const char *name,
		       struct tf_spblob *b)
{
	uint8_t buf[TF_SPBLOB_MAX + 1];
	size_t len;
	int r;

	r = read_key_file(dfd, name, buf, sizeof(buf), &len);
	if (r == -ENOENT)
		return -EBADMSG; /* load_state saw it: it vanished since */
	if (r < 0)
		return r;
	r = tf_keys_spblob_parse(buf, len, b);
	if (r < 0)
		return r;
	if (b->suite_id != ks->s->id)
		return -EBADMSG;
	return 0;
}

static int fskey_from_sp(struct tf_keystore *ks, const char *persona,
			 const uint8_t *sp, uint8_t *fskey)
{
	_cleanup_secure_ uint8_t *tmp = NULL;
	uint8_t info[sizeof(FSCRYPT_LABEL) + TF_NAME_MAX];
	size_t plen = strlen(persona);
	int r;

	tmp = tf_secure_alloc(TF_KEYS_FSKEY_BYTES);
	if (tmp == NULL)
		return -ENOMEM;
	/* info = "fscrypt" || persona (DESIGN.md key hierarchy) */
	memcpy(info, FSCRYPT_LABEL, sizeof(FSCRYPT_LABEL) - 1);
	memcpy(info + sizeof(FSCRYPT_LABEL) - 1, persona, plen);
	r = tf_kdf(ks->s, tmp, TF_KEYS_FSKEY_BYTES, sp, TF_SP_BYTES, NULL, 0,
		   info, sizeof(FSCRYPT_LABEL) - 1 + plen);
	if (r < 0)
		return r;
	memcpy(fskey, tmp, TF_KEYS_FSKEY_BYTES);
	return 0;
}

/* CPU time of the calling thread. Calibration measures this, not the wall
 * clock: a busy personal persona (or any other load) would otherwise make
 * each pass look slower and calibrate cheaper costs (256 -> 128 MiB was
 * seen on a loaded enroll). libsodium's Argon2id runs with one lane on the
 * calling thread, page faults included, so the thread's CPU time is the
 * cost an attacker's core pays per guess. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return tf_now_ns(); /* cannot happen on Linux >= 2.6.12 */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Argon2id cost for this machine: memory from kdf_min_mem_mib, doubled
 * while one pass stays under a quarter of the target (more memory is the
 * better defence against GPUs), then as many passes as fit the target.
 * The floor is the configuration: memory never below kdf_min_mem_mib
 * (64 MiB by default; only a device.conf that says lower, as the tests'
 * does, goes lower) and never fewer than TF_KDF_OPS_MIN passes. */
int tf_keys_calibrate(const struct tf_config *cfg, uint32_t *ops,
		      uint32_t *mem_kib)
{
	static const uint8_t pw[] = "calibration", salt[TF_SALT_BYTES] = {0};
	_cleanup_secure_ uint8_t *out = NULL;
	uint64_t target = (uint64_t)TF_MAX(cfg->kdf_target_ms, 1u) * 1000000ull;
	uint32_t mib = TF_MAX(cfg->kdf_min_mem_mib, 1u);
	uint64_t t, p;
	int r;

	mib = TF_MIN(mib, TF_KDF_MEM_KIB_MAX / 1024u);
	out = tf_secure_alloc(TF_KEY_BYTES);
	if (out == NULL)
		return -ENOMEM;
	for (;;) {
		uint64_t t0 = thread_cpu_ns();
		r = tf_pwhash(out, TF_KEY_BYTES, pw, sizeof(pw) - 1, salt, 1,
			      (size_t)mib << 20);
		if (r < 0)
			return r;
		t = TF_MAX(thread_cpu_ns() - t0, 1ull);
		if (t * 4 > target || mib * 2 > KDF_MEM_MIB_CALIB_MAX ||
		    mib * 2 > TF_KDF_MEM_KIB_MAX / 1024u)
			break;
		mib *= 2;
	}
	/* The one-pass timing includes faulting the memory in, which a
	 * multi-pass run pays only once: round, then check the real cost
	 * once and scale the passes if it lands well short of the target. */
	p = (target + t / 2) / t;
	p = TF_MIN(TF_MAX(p, (uint64_t)TF_KDF_OPS_MIN),
		   (uint64_t)TF_KDF_OPS_MAX);
	if (p > 1 || t * 2 < target) {
		uint64_t t0 = thread_cpu_ns(), m;
		r = tf_pwhash(out, TF_KEY_BYTES, pw, sizeof(pw) - 1, salt, p,
			      (size_t)mib << 20);
		if (r < 0)
			return r;
		m = TF_MAX(thread_cpu_ns() - t0, 1ull);
		if (m * 5 < target * 4) /* under 80 % of the target */
			p = TF_MIN((p * target + m / 2) / m,
				   (uint64_t)TF_KDF_OPS_MAX);
	}
	*ops = (uint32_t)TF_MAX(p, (uint64_t)TF_KDF_OPS_MIN);
	*mem_kib = TF_MAX(mib, TF_MAX(cfg->kdf_min_mem_mib, 1u)) * 1024u;
	return 0;
}

static int calibrate(struct tf_keystore *ks, uint32_t *ops, uint32_t *mem_kib)
{
	return tf_keys_calibrate(&ks->cfg, ops, mem_kib);
}

/* ------------------------------------------------- TPM (credential) */

/* userAuth of a persona's TPM object: HKDF over the Argon2id output, so
 * the TPM checks (and counts) every credential guess itself. */
static int tpm_auth(struct tf_keystore *ks, const uint8_t *pw,
		    uint8_t auth[TF_TPM_AUTH_BYTES])
{
	return tf_kdf(ks->s, auth, TF_TPM_AUTH_BYTES, pw, TF_KEY_BYTES, NULL, 0,
		      (const uint8_t *)TPM_AUTH_LABEL,
		      sizeof(TPM_AUTH_LABEL) - 1);
}

/* Seal fresh random tpmsec (TF_TPM_SECRET_BYTES) in a DA-protected object
 * whose auth derives from pw, linked to the salt of the sp.credential it
 * goes with, and write it atomically as name. */
static int tpm_cred_create(struct tf_keystore *ks, int dfd, const char *name,
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
	r = tpm_auth(ks, pw, auth);
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

	r = read_key_file(dfd, name, file, cap, flen);
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
		r = destroy_file(dfd, F_TPM_CRED_NEW);
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

/* ------------------------------------------------------------ creation */

static int write_discard_new(struct tf_keystore *ks, int dfd,
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
	return tf_atomic_write_at(dfd, F_DISCARD_NEW, buf,
				  TF_DISCARD_FILE_BYTES, 0600);
}

/*
 * A fresh credential protector in b (its costs calibrated now, a new
 * salt) and pw = Argon2id(cred) under it; with a TPM also a new TPM object
 * (file tpm_file) whose secret goes to *tpmsec (secure memory). Shared by
 * the first enrolment and a credential change.
 */
static int new_cred_protector(struct tf_keystore *ks, int dfd,
			      const uint8_t *cred, size_t len,
			      const char *tpm_file, struct tf_spblob *b,
			      uint8_t *pw, uint8_t **tpmsec)
{
	int r;

	r = calibrate(ks, &b->opslimit, &b->mem_kib);
	if (r < 0)
		return r;
	r = tf_random(b->salt, sizeof(b->salt));
	if (r < 0)
		return r;
	r = pwhash(cred, len, b, pw, NULL);
	if (r < 0 || ks->cfg.tpm_tcti[0] == '\0')
		return r;
	*tpmsec = tf_secure_alloc(TF_TPM_SECRET_BYTES);
	if (*tpmsec == NULL)
		return -ENOMEM;
	return tpm_cred_create(ks, dfd, tpm_file, b->salt, pw, *tpmsec);
}

/*
 * Create SP and its first wrapping. Commit point: the atomic appearance of
 * sp.<protector>. Before it, nothing can have been encrypted under the new
 * key, so a leftover discardable.new is garbage; after it, load_state rolls
 * discardable.new forward to discardable.
 */
static int create_sp(struct tf_keystore *ks, int dfd, const char *persona,
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
	r = load_state(ks, dfd, &st, &t);
	if (r < 0)
		return r;
	if (st == TF_KS_DEVICE || st == TF_KS_CREDENTIAL)
		return -EEXIST;
	if (flags & TF_KEYS_DATA_NONEMPTY)
		return -EEXIST;
	/* leftovers of a creation that crashed before its commit */
	r = destroy_file(dfd, F_DISCARD_NEW);
	if (r == 0)
		r = destroy_file(dfd, F_TPM_CRED_NEW);
	if (r == 0)
		r = destroy_file(dfd, F_TPM_CRED);
	if (r < 0)
		return r;
	/* a fresh persona starts with a fresh counter (and not erased) */
	memset(&t, 0, sizeof(t));
	r = throttle_store(dfd, &t);
	if (r < 0)
		return r;

	sp = tf_secure_alloc(TF_SP_BYTES);
	pw = tf_secure_alloc(TF_KEY_BYTES);
	if (sp == NULL || pw == NULL)
		return -ENOMEM;
	r = tf_random(sp, TF_SP_BYTES);
	if (r < 0)
		return r;
	r = write_discard_new(ks, dfd, dhash);
	if (r < 0)
		return r;

	memset(&b, 0, sizeof(b));
	b.protector = protector;
	b.kind = kind;
	if (protector == TF_PROT_CREDENTIAL) {
		/* before the commit: sp.credential needs the TPM object */
		r = new_cred_protector(ks, dfd, cred, credlen, F_TPM_CRED, &b,
				       pw, &tpmsec);
		if (r < 0)
			return r;
	}
	r = seal_sp(ks, persona, &b,
		    protector == TF_PROT_CREDENTIAL ? pw : NULL, tpmsec, dhash,
		    sp, blob, &bloblen);
	if (r < 0)
		return r;
	tf_fault_point("enroll-before-commit");
	r = tf_atomic_write_at(
		dfd, protector == TF_PROT_CREDENTIAL ? F_SP_CRED : F_SP_DEVICE,
		blob, bloblen, 0600);
	if (r < 0)
		return r;
	tf_fault_point("enroll-after-commit");
	if (renameat(dfd, F_DISCARD_NEW, dfd, F_DISCARD) < 0)
		return tf_negerrno();
	return tf_fsync_dir_at(dfd, NULL);
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
 * is joined before cred_attempt returns, so the process is single-threaded
 * again before anything can fork. If no thread can be made, the same work
 * runs here, before the KDF.
 */
struct count_job {
	pthread_t th;
	bool threaded;
	int dfd;
	const struct tf_throttle_rec *t;
	const struct tf_keys_unlock_opts *o;
	int r;
};

static void *count_main(void *arg)
{
	struct count_job *j = arg;

	j->r = throttle_store(j->dfd, j->t); /* fsync'd file and directory */
	if (j->o && j->o->during_kdf)
		j->o->during_kdf(j->o->arg);
	return NULL;
}

static void count_start(struct count_job *j)
{
	j->threaded = pthread_create(&j->th, NULL, count_main, j) == 0;
	if (!j->threaded)
		(void)count_main(j);
}

static int count_finish(struct count_job *j)
{
	if (j->threaded && pthread_join(j->th, NULL) != 0)
		abort(); /* joining our own joinable thread cannot fail */
	j->threaded = false;
	return j->r;
}

static int cred_attempt(struct tf_keystore *ks, int dfd, const char *persona,
			const uint8_t *cred, size_t len, uint8_t *sp,
			struct tf_throttle_info *ti, uint64_t *kdf_ns,
			const struct tf_keys_unlock_opts *o)
{
	bool late_reset = o && (o->flags & TF_KEYS_LATE_RESET);
	struct count_job job;
	_cleanup_secure_ uint8_t *pw = NULL, *tpmsec = NULL, *auth = NULL;
	_cleanup_(tf_tpm_closep) struct tf_tpm *tpm = NULL;
	struct tf_throttle_rec t, before;
	struct tf_keys_clock now;
	enum tf_persona_keystate st;
	struct tf_throttle_info info;
	struct tf_spblob b;
	uint8_t dhash[TF_HASH_BYTES], tfile[TF_TPM_FILE_MAX + 1];
	size_t tlen, slen;
	int r, ro;

	if (len > TF_CRED_MAX)
		return -EINVAL;
	r = load_state(ks, dfd, &st, &t);
	if (r < 0)
		return r;
	r = get_clock(ks, &now);
	if (r < 0)
		return r;
	if (st == TF_KS_ERASED) {
		throttle_info(ks, &t, &now, &info);
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
		r = do_erase(ks, dfd, persona, &t,
			     "crypto-erased after too many failed attempts");
		if (r < 0)
			return r;
		throttle_info(ks, &t, &now, &info);
		if (ti)
			*ti = info;
		return -ENOKEY;
	}
	throttle_info(ks, &t, &now, &info);
	if (info.wait_seconds > 0) {
		if (ti)
			*ti = info;
		return -EAGAIN;
	}
	/* damage is reported before counting: it cannot be guessed against */
	r = load_spblob(ks, dfd, F_SP_CRED, &b);
	if (r < 0)
		return r;
	r = discard_hash(ks, dfd, dhash);
	if (r < 0)
		return r;
	pw = tf_secure_alloc(TF_KEY_BYTES);
	if (pw == NULL)
		return -ENOMEM;
	r = tpm_cred_find(dfd, b.salt, tfile, &tlen);
	if (r < 0)
		return r;
	if (tlen > 0) {
		/* TPM-bound: reach the TPM and load the object (no auth
		 * needed) before counting, so an absent or foreign TPM is
		 * reported without costing a try */
		if (ks->cfg.tpm_tcti[0] == '\0')
			return -ENODEV;
		tpmsec = tf_secure_alloc(TF_TPM_SECRET_BYTES);
		auth = tf_secure_alloc(TF_TPM_AUTH_BYTES);
		if (tpmsec == NULL || auth == NULL)
			return -ENOMEM;
		r = tf_tpm_open(ks->cfg.tpm_tcti, &tpm);
		if (r < 0)
			return r;
		r = tf_tpm_load(tpm, tfile, tlen);
		if (r < 0)
			return r;
	}

	before = t;
	t.failures++;
	t.last_ns = now.boottime_ns;
	memcpy(t.boot_id, now.boot_id, sizeof(t.boot_id));
	job = (struct count_job){.dfd = dfd, .t = &t, .o = o};
	count_start(&job);
	r = pwhash(cred, len, &b, pw, kdf_ns);
	ro = count_finish(&job);
	if (ro < 0)
		return ro; /* not counted: no verdict */
	tf_fault_point("unlock-after-count");
	if (r < 0)
		return r;
	ro = 0;
	if (tpm != NULL) {
		r = tpm_auth(ks, pw, auth);
		if (r < 0)
			return r;
		/* the TPM checks the auth and counts a wrong one in its own
		 * dictionary-attack counter (TPM_RC_AUTH_FAIL) */
		ro = tf_tpm_unseal(tpm, auth, TF_TPM_AUTH_BYTES, tpmsec,
				   TF_TPM_SECRET_BYTES, &slen);
		if (ro == 0 && slen != TF_TPM_SECRET_BYTES)
			ro = -EBADMSG;
		else if (ro == -EACCES)
			ro = -EBADMSG; /* wrong credential: the verdict below */
		else if (ro == -EBUSY) {
			/* TPM lockout: nothing was checked, so the try is not
			 * held against the user (undo the count) */
			r = throttle_store(dfd, &before);
			if (r < 0)
				return r;
			throttle_info(ks, &before, &now, &info);
			if (ti)
				*ti = info;
			return -EBUSY;
		} else if (ro < 0)
			return ro; /* not a verdict: the try stays counted */
	}
	if (ro == 0)
		ro = open_sp(ks, persona, &b, pw, tpmsec, dhash, sp);
	if (ro == 0) {
		memset(&t, 0, sizeof(t));
		/* late_reset: the caller resets the counter with
		 * tf_keys_reset_failures() once it has answered; until then
		 * the try stays counted on disk (the safe side) */
		r = late_reset ? 0 : throttle_store(dfd, &t);
		if (r < 0) {
			tf_memzero(sp, TF_SP_BYTES);
			return r;
		}
		throttle_info(ks, &t, &now, &info);
		if (ti)
			*ti = info;
		return 0;
	}
	if (ro != -EBADMSG)
		return ro; /* not a verdict (ENOMEM...): the try stays counted */
	if (t.failures >= ks->cfg.throttle_max_failures) {
		char what[96];
		snprintf(what, sizeof(what),
			 "crypto-erased after %u failed attempts", t.failures);
		r = do_erase(ks, dfd, persona, &t, what);
		if (r < 0)
			return r;
		throttle_info(ks, &t, &now, &info);
		if (ti)
			*ti = info;
		return -ENOKEY;
	}
	throttle_info(ks, &t, &now, &info);
	if (ti)
		*ti = info;
	return -EACCES;
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
static int devsecret_tpm(int sfd, const char *tcti, uint8_t *suite_id,
			 uint8_t *secret)
{
	_cleanup_(tf_tpm_closep) struct tf_tpm *t = NULL;
	_cleanup_secure_ uint8_t *plain = NULL, *other = NULL;
	uint8_t file[TF_TPM_FILE_MAX];
	int has_tpm, has_plain, r;
	uint8_t sid, sid2;
	size_t flen;

	has_tpm = file_exists(sfd, F_DEVSECRET_TPM);
	if (has_tpm < 0)
		return has_tpm;
	has_plain = file_exists(sfd, TF_DEVSECRET_FILE);
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
			r = destroy_file(sfd, TF_DEVSECRET_FILE);
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
	r = destroy_file(sfd, TF_DEVSECRET_FILE);
	if (r == 0)
		r = tf_fsync_dir_at(sfd, NULL);
	if (r < 0)
		return r;
	memcpy(secret, other, TF_DEVSECRET_BYTES);
	*suite_id = sid;
	return 0;
}

/* ---------------------------------------------------------- public API */

int tf_keystore_open(int state_dirfd, const struct tf_suite *s,
		     const struct tf_config *cfg, struct tf_keystore **out)
{
	_cleanup_secure_ uint8_t *secret = NULL;
	_cleanup_close_ int sfd = -1, kfd = -1;
	struct tf_keystore *ks;
	uint8_t sid;
	int r;

	if (s == NULL || cfg == NULL)
		return -EINVAL;
	sfd = fcntl(state_dirfd, F_DUPFD_CLOEXEC, 3);
	if (sfd < 0)
		return tf_negerrno();
	secret = tf_secure_alloc(TF_DEVSECRET_BYTES);
	if (secret == NULL)
		return -ENOMEM;
	if (cfg->tpm_tcti[0] != '\0')
		r = devsecret_tpm(sfd, cfg->tpm_tcti, &sid, secret);
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
	*out = ks;
	return 0;
}

void tf_keystore_close(struct tf_keystore *ks)
{
	if (ks == NULL)
		return;
	tf_secure_free(ks->devsecret);
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

	r = open_persona(ks, persona, false, &dfd);
	if (r == -ENOENT) {
		*st = TF_KS_NONE;
		return 0;
	}
	if (r < 0)
		return r;
	return load_state(ks, dfd, st, &t);
}

int tf_keys_create_device_bound(struct tf_keystore *ks, const char *persona,
				unsigned flags)
{
	_cleanup_close_ int dfd = -1;
	int r;

	r = open_persona(ks, persona, true, &dfd);
	if (r < 0)
		return r;
	return create_sp(ks, dfd, persona, flags, TF_PROT_DEVICE, 0, NULL, 0);
}

int tf_keys_unlock_device_bound(struct tf_keystore *ks, const char *persona,
				uint8_t fskey[static TF_KEYS_FSKEY_BYTES])
{
	_cleanup_secure_ uint8_t *sp = NULL;
	_cleanup_close_ int dfd = -1;
	enum tf_persona_keystate st;
	struct tf_throttle_rec t;
	struct tf_spblob b;
	uint8_t dhash[TF_HASH_BYTES];
	int r;

	r = open_persona(ks, persona, false, &dfd);
	if (r < 0)
		return r;
	r = load_state(ks, dfd, &st, &t);
	if (r < 0)
		return r;
	switch (st) {
	case TF_KS_NONE: return -ENOENT;
	case TF_KS_ERASED: return -ENOKEY;
	case TF_KS_CREDENTIAL: return -EINVAL;
	case TF_KS_DEVICE: break;
	}
	r = load_spblob(ks, dfd, F_SP_DEVICE, &b);
	if (r < 0)
		return r;
	if (b.protector != TF_PROT_DEVICE)
		return -EBADMSG;
	r = discard_hash(ks, dfd, dhash);
	if (r < 0)
		return r;
	sp = tf_secure_alloc(TF_SP_BYTES);
	if (sp == NULL)
		return -ENOMEM;
	r = open_sp(ks, persona, &b, NULL, NULL, dhash, sp);
	if (r < 0)
		return r;
	return fskey_from_sp(ks, persona, sp, fskey);
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
	_cleanup_secure_ uint8_t *sp = NULL, *pw = NULL, *tpmsec = NULL;
	_cleanup_close_ int dfd = -1;
	struct tf_spblob b;
	uint8_t dhash[TF_HASH_BYTES], blob[TF_SPBLOB_MAX];
	size_t bloblen;
	int kind, r;

	if (new_cred == NULL)
		return -EINVAL;
	kind = tf_credential_check_form(&ks->cfg, new_cred, new_len, NULL, 0);
	if (kind < 0)
		return kind;
	r = open_persona(ks, persona, true, &dfd);
	if (r < 0)
		return r;
	if (old_cred == NULL)
		return create_sp(ks, dfd, persona, flags, TF_PROT_CREDENTIAL,
				 (uint8_t)kind, new_cred, new_len);

	sp = tf_secure_alloc(TF_SP_BYTES);
	pw = tf_secure_alloc(TF_KEY_BYTES);
	if (sp == NULL || pw == NULL)
		return -ENOMEM;
	r = cred_attempt(ks, dfd, persona, old_cred, old_len, sp, ti, NULL,
			 NULL);
	if (r < 0)
		return r;
	/* same SP (so the same fscrypt key), same discardable; new salt and
	 * costs under the new credential */
	r = discard_hash(ks, dfd, dhash);
	if (r < 0)
		return r;
	memset(&b, 0, sizeof(b));
	b.protector = TF_PROT_CREDENTIAL;
	b.kind = (uint8_t)kind;
	/* a new TPM object under the new credential, linked to the new
	 * salt; tpm_cred_find rolls it forward once the commit below has
	 * happened, and discards it otherwise */
	r = new_cred_protector(ks, dfd, new_cred, new_len, F_TPM_CRED_NEW, &b,
			       pw, &tpmsec);
	if (r < 0)
		return r;
	r = seal_sp(ks, persona, &b, pw, tpmsec, dhash, sp, blob, &bloblen);
	if (r < 0)
		return r;
	tf_fault_point("change-before-commit");
	/* the rename inside is the commit: old or new, never neither */
	r = tf_atomic_write_at(dfd, F_SP_CRED, blob, bloblen, 0600);
	if (r < 0)
		return r;
	tf_fault_point("change-after-commit");
	if (tpmsec != NULL) {
		if (renameat(dfd, F_TPM_CRED_NEW, dfd, F_TPM_CRED) < 0)
			return tf_negerrno();
		return tf_fsync_dir_at(dfd, NULL);
	}
	/* enrolled with a TPM, changed without one (cred_attempt refuses
	 * that, -ENODEV): nothing to do */
	return 0;
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

	r = open_persona(ks, persona, false, &dfd);
	if (r < 0)
		return r;
	r = throttle_load(dfd, &t);
	if (r < 0)
		return r;
	if (t.failures == 0)
		return 0;
	memset(&t, 0, sizeof(t));
	return throttle_store(dfd, &t);
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

	if (cred == NULL)
		return -EINVAL;
	r = open_persona(ks, persona, false, &dfd);
	if (r < 0)
		return r;
	sp = tf_secure_alloc(TF_SP_BYTES);
	if (sp == NULL)
		return -ENOMEM;
	r = cred_attempt(ks, dfd, persona, cred, len, sp, ti, &ns, o);
	if (kdf_ns)
		*kdf_ns = ns;
	if (r < 0)
		return r;
	return fskey_from_sp(ks, persona, sp, fskey);
}

int tf_keys_erase(struct tf_keystore *ks, const char *persona, const char *why)
{
	_cleanup_close_ int dfd = -1;
	struct tf_throttle_rec t;
	char what[160];
	int r;

	r = open_persona(ks, persona, true, &dfd);
	if (r < 0)
		return r;
	r = throttle_load(dfd, &t);
	if (r < 0)
		memset(&t, 0, sizeof(t)); /* erase even over a damaged record */
	snprintf(what, sizeof(what), "crypto-erased: %s",
		 why != NULL ? why : "requested");
	return do_erase(ks, dfd, persona, &t, what);
}

int tf_keys_throttle_info(struct tf_keystore *ks, const char *persona,
			  struct tf_throttle_info *ti)
{
	_cleanup_close_ int dfd = -1;
	struct tf_throttle_rec t;
	struct tf_keys_clock now;
	int r;

	r = open_persona(ks, persona, false, &dfd);
	if (r == -ENOENT) {
		memset(&t, 0, sizeof(t));
		memset(&now, 0, sizeof(now));
	} else if (r < 0) {
		return r;
	} else {
		r = throttle_load(dfd, &t);
		if (r < 0)
			return r;
		r = get_clock(ks, &now);
		if (r < 0)
			return r;
	}
	throttle_info(ks, &t, &now, ti);
	return 0;
}
