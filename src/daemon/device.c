/* SPDX-License-Identifier: ISC */
/*
 * Device bring-up: each persona's storage (attached at start-up, detached
 * at exit), its fscrypt key in the kernel (added, checked against the
 * kernel, removed), what a killed predecessor left behind. The lifecycle
 * (start, stop, evict, the transition table) is lifecycle.c; the requests
 * are req_*.c.
 *
 * Data directory of persona P: an fscrypt v2 directory whose key is
 * derived from P's persona secret (keys.h). Each persona has a file system
 * of its own (<state>/storage/P.img mounted at <state>/fs/P, data dir
 * <state>/fs/P/data: fscrypt cannot encrypt a file system's root), so one
 * persona filling its blocks, inodes or journal leaves the others
 * untouched. storage_dir, and state directories made with one storage.img,
 * keep the older shape: one file system, <root>/personas/P on it.
 */
#include <dirent.h>
#include <ftw.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/keys.h"
#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "twofold/sandbox.h"
#include "twofold/secmem.h"
#include "twofold/storage.h"
#include "daemon.h"
#include "exechash.h"

/* At daemon exit nothing else waits on us: the key removal may retry
 * (and sleep) for this long. In the loop a removal is one try, and the
 * retries are timer-driven (lifecycle.c). */
#define EVICT_EXIT_BUDGET_MS 2000
#define EVICT_MAX_TRIES 200

/* 1 if dir exists and has entries, 0 if missing or empty, -errno. */
int tfd_dir_has_data(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	int r = 0;

	if (dir == NULL)
		return errno == ENOENT ? 0 : tf_negerrno();
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			r = 1;
			break;
		}
	closedir(dir);
	return r;
}

/* Any fd on p's own file system: its fscrypt keyring is the one to use. */
static int storage_fd(const struct tfd_persona *p)
{
	return tf_storage_root_fd(p->storage);
}

static size_t p_index(const struct tfd *d, const struct tfd_persona *p)
{
	return (size_t)(p - d->personas);
}

/* The guard's storage slot of p's file system (guard.c). */
static size_t guard_slot(const struct tfd *d, const struct tfd_persona *p)
{
	return p->storage_own ? p_index(d, p) : TFD_GUARD_SHARED;
}

/* Tell the guard p's key (it removes it if the daemon dies). */
static void guard_key(struct tfd *d, struct tfd_persona *p)
{
	if (p->key_id_known)
		tfd_guard_key(p_index(d, p), guard_slot(d, p), p->key_id);
}

int tfd_key_sync(struct tfd *d, struct tfd_persona *p, enum tf_key_status *out)
{
	enum tf_key_status st;
	int r;

	if (p->storage == NULL)
		return -ENODEV;
	if (!p->key_id_known) {
		/* never loaded by us: the data dir's policy names the key
		 * (readable without it) */
		_cleanup_close_ int dfd =
			open(p->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 && errno != ENOENT)
			return tf_negerrno();
		r = dfd < 0 ? -ENODATA
			    : tf_fscrypt_get_policy_id(dfd, p->key_id);
		if (r == -ENODATA) {
			/* no data dir or no policy: no key of ours exists */
			p->key_loaded = false;
			if (out)
				*out = TF_KEY_ABSENT;
			return 0;
		}
		if (r < 0)
			return r;
		p->key_id_known = true;
	}
	r = tf_fscrypt_key_status(storage_fd(p), p->key_id, &st);
	if (r < 0)
		return r;
	if (st == TF_KEY_ABSENT) {
		if (p->key_loaded || p->evict_pending) {
			tf_info("%s: its key is out of the kernel",
				p->cfg->name);
			tfd_guard_key_clear(p_index(d, p));
		}
		if (p->key_loaded)
			tfd_events_key(d, p, false);
		p->key_loaded = false;
		tfd_exec_key_drop(p);
		p->evict_pending = false;
		p->evict_err = 0;
	} else {
		/* present although we did not know: say so, make it
		 * removable (lock --evict) and tell the guard */
		if (!p->key_loaded) {
			tf_err("%s: its key is in the kernel although twofoldd "
			       "had not loaded it; remove it with: twofold "
			       "lock %s --evict",
			       p->cfg->name, p->cfg->name);
			guard_key(d, p);
		}
		p->key_loaded = true;
		/* half removed (files busy) but nobody retrying: retry */
		if (st == TF_KEY_INCOMPLETELY_REMOVED && !p->evict_pending) {
			p->evict_pending = true;
			p->evict_err = -EBUSY;
		}
	}
	if (out)
		*out = st;
	return 0;
}

/*
 * Put the fscrypt key into the kernel and make sure the data directory
 * exists with exactly this key's policy. A directory that exists without a
 * policy, or with another key's, is refused: never silently encrypt (or
 * re-key) existing data.
 */
static int load_key_and_dir(struct tfd *d, struct tfd_persona *p,
			    const uint8_t *fskey, char *err, size_t errlen)
{
	_cleanup_close_ int dfd = -1;
	uint8_t id[TF_FSCRYPT_ID_BYTES], have[TF_FSCRYPT_ID_BYTES];
	bool created = false;
	int r;

	/* the guard learns the key before it is added when we know its
	 * identifier already (a remove of an absent key is harmless), so a
	 * death right after the add leaves nothing behind */
	guard_key(d, p);
	r = tf_fscrypt_add_key(storage_fd(p), fskey, id);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot add the fscrypt key: %s",
			 p->cfg->name, strerror(-r));
		return r;
	}
	memcpy(p->key_id, id, sizeof(id));
	p->key_id_known = true;
	/* the exec hash record's key lives exactly as long as this one */
	tfd_exec_key_set(d, p, fskey);
	if (!p->key_loaded)
		tfd_events_key(d, p, true);
	p->key_loaded = true;
	guard_key(d, p);
	/* re-adding a key whose removal was pending (files busy) makes it
	 * fully present again (fscrypt.rst, FS_IOC_ADD_ENCRYPTION_KEY):
	 * nothing is left to retry */
	if (p->evict_pending) {
		tf_info("%s: key added again; its pending removal is cancelled",
			p->cfg->name);
		p->evict_pending = false;
		p->evict_err = 0;
	}
	if (mkdir(p->data_dir, 0711) == 0)
		created = true;
	else if (errno != EEXIST)
		return tf_negerrno();
	dfd = open(p->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return tf_negerrno();
	r = tf_fscrypt_get_policy_id(dfd, have);
	if (r == -ENODATA && (created || tfd_dir_has_data(p->data_dir) == 0)) {
		r = tf_fscrypt_set_policy(dfd, id);
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot encrypt %s: %s",
				 p->cfg->name, p->data_dir, strerror(-r));
			return r;
		}
		return tf_fsync_dir_at(dfd, NULL);
	}
	if (r == -ENODATA) {
		snprintf(err, errlen,
			 "%s: %s holds unencrypted data; refusing to use it",
			 p->cfg->name, p->data_dir);
		return -EEXIST;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read the policy of %s: %s",
			 p->cfg->name, p->data_dir, strerror(-r));
		return r;
	}
	if (tf_memeq_ct(have, id, sizeof(id)) != 0) {
		snprintf(err, errlen,
			 "%s: %s is encrypted with another key; refusing to "
			 "use it",
			 p->cfg->name, p->data_dir);
		return -EKEYREJECTED;
	}
	return 0;
}

int tfd_load_key_and_dir(struct tfd *d, struct tfd_persona *p,
			 const uint8_t *fskey, char *err, size_t errlen)
{
	int r = load_key_and_dir(d, p, fskey, err, errlen);

	if (r < 0 && err[0] == '\0')
		snprintf(err, errlen,
			 "%s: cannot prepare its data directory "
			 "%s: %s",
			 p->cfg->name, p->data_dir, strerror(-r));
	/* fail closed: a key added for a persona whose data dir is unusable
	 * leaves the kernel again at once, whichever caller this is; if the
	 * removal cannot finish, evict_pending shows it and the timer
	 * retries */
	if (r < 0 && p->key_loaded && tfd_evict_key_soon(d, p) < 0)
		tf_err("%s: the key added for it is still in the kernel after "
		       "the failure (%s); twofoldd retries every second",
		       p->cfg->name, tfd_evict_reason(p));
	return r;
}

static int setup_device_bound(struct tfd *d, struct tfd_persona *p, char *err,
			      size_t errlen)
{
	_cleanup_secure_ uint8_t *fskey = NULL;
	enum tf_persona_keystate ks;
	int r;

	r = tf_keys_state(d->ks, p->cfg->name, &ks);
	if (r == -EBADMSG) {
		snprintf(err, errlen,
			 "%s: keys/%s/ is incomplete or damaged; refusing to "
			 "create a new key over existing data",
			 p->cfg->name, p->cfg->name);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read key state: %s",
			 p->cfg->name, strerror(-r));
		return r;
	}
	if (ks == TF_KS_NONE || ks == TF_KS_ERASED) {
		int has = tfd_dir_has_data(p->data_dir);
		r = tf_keys_create_device_bound(d->ks, p->cfg->name,
						has > 0 ? TF_KEYS_DATA_NONEMPTY
							: 0);
		if (r == -EEXIST) {
			snprintf(err, errlen,
				 "%s: data exists in %s but its key is "
				 "missing; refusing to create a new key over "
				 "existing data",
				 p->cfg->name, p->data_dir);
			return r;
		}
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot create its key: %s",
				 p->cfg->name, strerror(-r));
			return r;
		}
		tf_info("%s: new persona secret created", p->cfg->name);
	} else if (ks != TF_KS_DEVICE) {
		snprintf(err, errlen,
			 "%s: its key needs a credential but the config says "
			 "credential = no",
			 p->cfg->name);
		return -EINVAL;
	}
	fskey = tf_secure_alloc(TF_KEYS_FSKEY_BYTES);
	if (fskey == NULL) {
		r = tf_negerrno();
		snprintf(err, errlen,
			 "%s: cannot lock secret memory: %s (raise "
			 "RLIMIT_MEMLOCK)",
			 p->cfg->name, strerror(-r));
		return r;
	}
	r = tf_keys_unlock_device_bound(d->ks, p->cfg->name, fskey);
	if (r == -ENOMEM) {
		snprintf(err, errlen,
			 "%s: cannot unwrap its key: out of (locked) memory",
			 p->cfg->name);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen,
			 "%s: cannot unwrap its key (%s): device secret or "
			 "wrapped key file (keys/%s/) damaged",
			 p->cfg->name, strerror(-r), p->cfg->name);
		return r;
	}
	return tfd_load_key_and_dir(d, p, fskey, err, errlen);
}

/*
 * A killed predecessor may have left a credential-bound persona's key in
 * the kernel (with storage_dir there is no unmount to drop it). It must
 * not stay: the persona is "locked" until the next unlock.
 */
static void drop_stale_key(struct tfd *d, struct tfd_persona *p)
{
	_cleanup_close_ int dfd = -1;
	uint8_t id[TF_FSCRYPT_ID_BYTES];
	enum tf_key_status st;

	dfd = open(p->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || tf_fscrypt_get_policy_id(dfd, id) < 0)
		return;
	if (tf_fscrypt_key_status(storage_fd(p), id, &st) < 0 ||
	    st == TF_KEY_ABSENT)
		return;
	memcpy(p->key_id, id, sizeof(id));
	p->key_id_known = true;
	p->key_loaded = true;
	guard_key(d, p);
	if (tfd_evict_key_soon(d, p) < 0)
		tf_err("%s: a stale key is still in the kernel; retrying in "
		       "the background",
		       p->cfg->name);
	else
		tf_warn("%s: removed a key a previous twofoldd left in the "
			"kernel",
			p->cfg->name);
}

/* <state>/dir[/name[suffix]]; ENAMETOOLONG past cap. */
static int state_path(const struct tfd *d, char *out, size_t cap,
		      const char *dir, const char *name, const char *suffix)
{
	int n = snprintf(out, cap, "%s/%s%s%s%s", d->state_dir, dir,
			 name ? "/" : "", name ? name : "",
			 name && suffix ? suffix : "");

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static void cleanup_stale(const struct tfd *d, const char *dir,
			  const char *name)
{
	char path[PATH_MAX];
	int r;

	if (state_path(d, path, sizeof(path), dir, name, NULL) < 0)
		return;
	r = tf_storage_cleanup_stale(path);
	if (r < 0)
		tf_warn("cleaning up stale mount %s: %s", path, strerror(-r));
}

/* A killed predecessor's mounts: each persona's image, and the shared
 * image of the older layout. A mount that is busy is detached lazily; its
 * autoclear loop device goes with the last user. */
static void cleanup_stale_mounts(struct tfd *d)
{
	cleanup_stale(d, "mnt", NULL);
	for (size_t i = 0; i < d->cfg.n_personas; i++)
		cleanup_stale(d, "fs", d->cfg.personas[i].name);
}

/* An image made sparse (before twofold allocated it) would fail with EIO
 * once the host fills up: allocate it, or refuse to start while the host
 * lacks the space. */
static int allocate_image(const char *img, char *err, size_t errlen)
{
	int r = tf_storage_image_allocate(img, err, errlen);

	if (r > 0)
		tf_info("%s was sparse; its blocks are now allocated on the "
			"host",
			img);
	return r < 0 ? r : 0;
}

static int mkdir_state(const struct tfd *d, const char *dir, const char *name,
		       mode_t mode)
{
	char path[PATH_MAX];
	int r = state_path(d, path, sizeof(path), dir, name, NULL);

	if (r < 0)
		return r;
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return tf_negerrno();
	return 0;
}

/*
 * <state>/mnt/personas/P -> ../../fs/P/data, where the data dir was in
 * the shared layout, so tools and scripts that know that path keep
 * working. twofoldd never follows it. Not a bind mount: a mount whose
 * root is the encrypted directory pins its inode, and the key's removal
 * would stay INCOMPLETELY_REMOVED forever (seen on 6.18).
 */
static void link_old_path(const struct tfd *d, const char *name)
{
	char link[PATH_MAX], target[TF_NAME_MAX + 16];

	if (state_path(d, link, sizeof(link), "mnt/personas", name, NULL) < 0)
		return;
	snprintf(target, sizeof(target), "../../fs/%s/data", name);
	if (symlink(target, link) < 0 && errno != EEXIST)
		tf_warn("cannot link %s to %s: %s", link, target,
			strerror(errno));
}

/* Persona p's own image: <state>/storage/P.img mounted at <state>/fs/P. */
static int attach_own_image(struct tfd *d, struct tfd_persona *p, char *err,
			    size_t errlen)
{
	const char *name = p->cfg->name;
	char img[PATH_MAX], fs[PATH_MAX];
	int r;

	if (state_path(d, img, sizeof(img), "storage", name, ".img") < 0 ||
	    state_path(d, fs, sizeof(fs), "fs", name, NULL) < 0 ||
	    snprintf(p->data_dir, sizeof(p->data_dir), "%s/data", fs) >=
		    (int)sizeof(p->data_dir)) {
		snprintf(err, errlen, "%s: storage path too long", name);
		return -ENAMETOOLONG;
	}
	if (access(img, F_OK) < 0) {
		snprintf(err, errlen,
			 "%s: its storage image %s is missing (create the "
			 "missing images with: twofold --state %s init "
			 "--images)",
			 name, img, d->state_dir);
		return -ENOENT;
	}
	r = mkdir_state(d, "fs", name, 0700);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot create its mount point: %s",
			 name, strerror(-r));
		return r;
	}
	r = allocate_image(img, err, errlen);
	if (r < 0)
		return r;
	r = tf_storage_attach(img, fs, &p->storage, err, errlen);
	if (r < 0)
		return r;
	p->storage_own = true;
	tfd_guard_storage(guard_slot(d, p), tf_storage_root_fd(p->storage),
			  tf_storage_root(p->storage), true);
	link_old_path(d, name);
	return 0;
}

/* One file system for every persona: storage_dir, or the single
 * storage.img of a state directory made before images were per persona. */
static int attach_shared(struct tfd *d, const char *img, char *err,
			 size_t errlen)
{
	char mnt[PATH_MAX], dir[PATH_MAX - 64];
	int r;

	if (img == NULL) {
		r = tf_storage_attach_dir(d->cfg.storage_dir, &d->storage, err,
					  errlen);
	} else {
		if (state_path(d, mnt, sizeof(mnt), "mnt", NULL, NULL) < 0)
			return -ENAMETOOLONG;
		if (mkdir(mnt, 0700) < 0 && errno != EEXIST)
			return tf_negerrno();
		r = allocate_image(img, err, errlen);
		if (r < 0)
			return r;
		r = tf_storage_attach(img, mnt, &d->storage, err, errlen);
	}
	if (r < 0)
		return r;
	/* storage_dir is not ours to unmount; its keys still are */
	tfd_guard_storage(TFD_GUARD_SHARED, tf_storage_root_fd(d->storage),
			  tf_storage_root(d->storage), img != NULL);
	if (snprintf(dir, sizeof(dir), "%s/personas",
		     tf_storage_root(d->storage)) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "storage path too long");
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0711) < 0 && errno != EEXIST)
		return tf_negerrno();
	for (size_t i = 0; i < d->cfg.n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		p->storage = d->storage;
		p->storage_own = false;
		snprintf(p->data_dir, sizeof(p->data_dir), "%s/%s", dir,
			 p->cfg->name);
	}
	return 0;
}

/*
 * Which layout: storage_dir (shared), <state>/storage/ (an image per
 * persona), or an older <state>/storage.img (shared, with a warning: one
 * persona can fill it for the others). A missing image is refused with
 * the command that makes it; nothing here creates or formats one.
 */
static int setup_storage(struct tfd *d, char *err, size_t errlen)
{
	char img[PATH_MAX];
	struct stat st;
	int r;

	if (d->cfg.storage_dir[0] != '\0')
		return attach_shared(d, NULL, err, errlen);
	if (fstatat(d->state_fd, "storage", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (state_path(d, img, sizeof(img), "storage.img", NULL, NULL) <
		    0)
			return -ENAMETOOLONG;
		if (access(img, F_OK) < 0) {
			snprintf(err, errlen,
				 "%s has no storage images (create them with: "
				 "twofold --state %s init)",
				 d->state_dir, d->state_dir);
			return -ENOENT;
		}
		tf_warn("storage is shared by all personas (%s): one can "
			"fill it for the others; re-create with twofold "
			"--state %s init --force for separate storage",
			img, d->state_dir);
		return attach_shared(d, img, err, errlen);
	}
	r = mkdir_state(d, "fs", NULL, 0700);
	if (r == 0)
		r = mkdir_state(d, "mnt", NULL, 0700);
	if (r == 0)
		r = mkdir_state(d, "mnt/personas", NULL, 0700);
	if (r < 0) {
		snprintf(err, errlen,
			 "cannot create the mount points in %s: %s",
			 d->state_dir, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < d->cfg.n_personas; i++) {
		r = attach_own_image(d, &d->personas[i], err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

int tfd_personas_setup(struct tfd *d, char *err, size_t errlen)
{
	const struct tf_suite *suite = tf_suite_by_name(d->cfg.suite);
	int r;

	d->suite = suite;
	/* 1. what a killed predecessor left behind, once its guard is done */
	tfd_guard_wait_old(d->state_dir);
	r = tf_persona_cleanup_stale(d->cg_group);
	if (r < 0)
		tf_warn("cleaning up stale cgroups of %s: %s", d->cg_group,
			strerror(-r));
	if (d->cfg.storage_dir[0] == '\0')
		cleanup_stale_mounts(d);

	if (d->cfg.cgroup_favor_dynmods) {
		r = tf_cgroup_favor_dynmods();
		if (r < 0)
			tf_warn("cannot set cgroup favordynmods: %s",
				strerror(-r));
		else if (r > 0)
			tf_info("cgroup2 remounted with favordynmods "
				"(cgroup_favor_dynmods = yes)");
	}

	/* 2. storage; n_personas is set from here on, so that a failure
	 * half-way detaches what was attached (tfd_personas_shutdown) */
	d->n_personas = d->cfg.n_personas;
	for (size_t i = 0; i < d->n_personas; i++)
		d->personas[i].cfg = &d->cfg.personas[i];
	r = setup_storage(d, err, errlen);
	if (r < 0)
		return r;

	/* 3. keys */
	r = tf_keystore_open(d->state_fd, suite, &d->cfg, &d->ks);
	if (r < 0) {
		switch (r) {
		case -ENOENT:
			snprintf(err, errlen,
				 "%s/device.secret is missing; the keys cannot "
				 "be opened (if this is a new device: twofold "
				 "--state %s init --force)",
				 d->state_dir, d->state_dir);
			break;
		case -EPERM:
			snprintf(err, errlen,
				 "%s/device.secret is readable by others; fix "
				 "with: chmod 600 %s/device.secret",
				 d->state_dir, d->state_dir);
			break;
		case -EPROTO:
			snprintf(err, errlen,
				 "%s/device.secret belongs to another suite "
				 "than device.conf (%s)",
				 d->state_dir, d->cfg.suite);
			break;
		case -EPROTONOSUPPORT:
			snprintf(err, errlen,
				 "%s/device.secret was written by a newer "
				 "twofold; upgrade twofold",
				 d->state_dir);
			break;
		case -EHOSTUNREACH:
			snprintf(err, errlen,
				 "TPM at %s not reachable (tpm_tcti in "
				 "device.conf)",
				 d->cfg.tpm_tcti);
			break;
		case -EEXIST:
			snprintf(err, errlen,
				 "%s has both device.secret and "
				 "device.secret.tpm and they differ; refusing "
				 "to guess which one protects the keys",
				 d->state_dir);
			break;
		case -EACCES:
			snprintf(err, errlen,
				 "the TPM's owner hierarchy has a password; "
				 "twofold needs it empty");
			break;
		case -EBADMSG:
			if (d->cfg.tpm_tcti[0])
				snprintf(err, errlen,
					 "TPM at %s: its storage key changed, "
					 "or %s/device.secret.tpm is damaged: "
					 "not the TPM this device was set up "
					 "with (cleared or replaced?)",
					 d->cfg.tpm_tcti, d->state_dir);
			else
				snprintf(err, errlen,
					 "%s/device.secret is damaged",
					 d->state_dir);
			break;
		default:
			snprintf(err, errlen,
				 "%s/device.secret%s is damaged or unreadable "
				 "(%s)%s",
				 d->state_dir, d->cfg.tpm_tcti[0] ? ".tpm" : "",
				 strerror(-r),
				 d->cfg.tpm_tcti[0]
					 ? ", or sealed by another TPM"
					 : "");
		}
		return r;
	}
	tfd_audit_open(d); /* its signing key needs the device secret */
	r = tf_keys_fs_journals_data(d->state_fd);
	if (r > 0)
		tf_warn("%s", TF_KEYS_JOURNAL_WARNING);

	/* 4. each persona's network namespace, made once and kept until we
	 * exit (netns.c) */
	r = tfd_netns_setup(d, err, errlen);
	if (r < 0)
		return r;

	/* 5. personas; foreground devices may be hot-plugged later */
	for (size_t i = 0; i < d->cfg.n_devices; i++)
		if (access(d->cfg.devices[i].path, F_OK) < 0)
			tf_warn("device %s: %s does not exist (yet); it is "
				"skipped until a persona restarts",
				d->cfg.devices[i].name, d->cfg.devices[i].path);
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		enum tf_persona_keystate ks;

		p->foreground = strcmp(p->cfg->name, d->cfg.foreground) == 0;
		p->init_src.fd = p->timer.fd = p->halt.events.fd = -1;
		p->gate_src.fd = -1;
		p->freeze.events.fd = p->freeze.recheck.fd = -1;
		if (!p->cfg->credential) {
			r = setup_device_bound(d, p, err, errlen);
			if (r < 0)
				return r;
			p->state = TFD_P_STOPPED;
			continue;
		}
		r = tf_keys_state(d->ks, p->cfg->name, &ks);
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot read key state: %s",
				 p->cfg->name, strerror(-r));
			return r;
		}
		p->state = ks == TF_KS_CREDENTIAL ? TFD_P_EVICTED
			   : ks == TF_KS_ERASED	  ? TFD_P_ERASED
			   : ks == TF_KS_NONE	  ? TFD_P_NOKEY
						  : TFD_P_STOPPED;
		if (ks == TF_KS_DEVICE) {
			snprintf(err, errlen,
				 "%s: its key is bound to the device but the "
				 "config says credential = yes; set credential "
				 "= no for it in device.conf (changing a "
				 "persona's protection is not supported)",
				 p->cfg->name);
			return -EINVAL;
		}
		drop_stale_key(d, p);
	}
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		if (p->state == TFD_P_STOPPED && p->cfg->autostart) {
			r = tfd_persona_start(d, p, err, errlen);
			if (r < 0)
				return r;
		}
	}
	tfd_foreground_settle(d); /* `foreground =` may name a locked one */
	return 0;
}

const char *tfd_evict_reason(const struct tfd_persona *p)
{
	if (p->evict_err == -EBUSY || p->evict_err == 0)
		return "files busy";
	return strerror(-p->evict_err);
}

/*
 * Remove p's fscrypt key, retrying for up to budget_ms (0: one removal, no
 * wait; only at exit does anything here wait). Fail closed: 0 only when the kernel says ABSENT (key_loaded and
 * evict_pending cleared); anything else sets evict_pending, with the
 * reason in evict_err, and tfd_timer_tick retries every second until the
 * key is gone or an unlock adds it again.
 */
static int evict_key_ex(struct tfd *d, struct tfd_persona *p,
			unsigned budget_ms, bool report, unsigned *tries)
{
	struct tf_fscrypt_evict_info info = {0};
	bool was_pending = p->evict_pending;
	int r;

	if (!p->key_loaded && !p->evict_pending)
		return 0;
	if (p->storage == NULL)
		return -ENODEV;
	r = tf_fscrypt_evict_ex(storage_fd(p), p->key_id,
				budget_ms ? EVICT_MAX_TRIES : 1, budget_ms,
				&info);
	if (tries)
		*tries = info.tries;
	p->evict_sync_err = info.sync_err;
	if (info.sync_err < 0)
		tf_warn("%s: syncing its files before the key removal failed: "
			"%s; writes not yet on disk may be lost",
			p->cfg->name, strerror(-info.sync_err));
	if (info.status == TF_KEY_ABSENT) {
		if (was_pending)
			tf_info("%s: its key removal finished: the key is out "
				"of the kernel",
				p->cfg->name);
		if (p->key_loaded)
			tfd_events_key(d, p, false);
		p->key_loaded = false;
		tfd_exec_key_drop(p);
		p->evict_pending = false;
		p->evict_err = 0;
		tfd_guard_key_clear(p_index(d, p));
		return 0;
	}
	/* INCOMPLETELY_REMOVED (a file is held open, most likely from
	 * outside the persona), PRESENT after a failed removal, or
	 * unreadable: the key may still decrypt, so the persona stays
	 * locked and the removal is retried */
	p->evict_pending = true;
	p->evict_err = r < 0 ? r : -EBUSY;
	if (!was_pending && report)
		tf_err("%s: key still in the kernel after %u removals (%s); "
		       "the persona stays locked and twofoldd retries every "
		       "second",
		       p->cfg->name, info.tries, tfd_evict_reason(p));
	return p->evict_err;
}

int tfd_storage_fd(const struct tfd_persona *p)
{
	return p->storage ? storage_fd(p) : -ENODEV;
}

int tfd_evict_key(struct tfd *d, struct tfd_persona *p, bool report,
		  unsigned *tries)
{
	return evict_key_ex(d, p, 0, report, tries);
}

static int wipe_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* names are ciphertext without the key; removal still works */
	if (remove(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int tfd_wipe_dir(const char *dir)
{
	if (access(dir, F_OK) < 0)
		return 0;
	if (nftw(dir, wipe_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return tf_negerrno();
	return 0;
}

int tfd_persona_wipe_data(struct tfd_persona *p)
{
	return tfd_wipe_dir(p->data_dir);
}

void tfd_personas_shutdown(struct tfd *d)
{
	bool shared_busy = false;

	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		bool busy;

		/* a failing stop never keeps the key in */
		(void)tfd_persona_stop_sync(d, p);
		/* the keys leave the kernel with the daemon: after a restart
		 * the credential is needed again */
		if (p->storage &&
		    evict_key_ex(d, p, EVICT_EXIT_BUDGET_MS, true, NULL) < 0)
			tf_err("%s: fscrypt key still in the kernel at exit "
			       "(%s); the key guard keeps trying after us",
			       p->cfg->name, tfd_evict_reason(p));
		/* a key still in: the guard keeps it and its storage's fd,
		 * and retries once we are gone (the unmount below is then a
		 * lazy one, finished when the guard lets go) */
		busy = p->key_loaded || p->evict_pending;
		if (!p->storage_own)
			shared_busy |= busy && p->storage != NULL;
		p->key_loaded = false;
		tfd_exec_key_drop(p);
		p->evict_pending = false;
		if (p->storage_own) {
			int r;
			if (!busy)
				tfd_guard_storage_clear(i);
			r = tf_storage_detach(p->storage);
			if (r < 0)
				tf_warn("%s: detaching its storage: %s",
					p->cfg->name, strerror(-r));
		}
		p->storage = NULL;
		p->storage_own = false;
	}
	if (d->storage) {
		int r;
		if (!shared_busy)
			tfd_guard_storage_clear(TFD_GUARD_SHARED);
		r = tf_storage_detach(d->storage);
		if (r < 0)
			tf_warn("detaching storage: %s", strerror(-r));
		d->storage = NULL;
	}
	tfd_netns_shutdown(d);
	tfd_audit_close(d);
	tf_keystore_close(d->ks);
	d->ks = NULL;
}
