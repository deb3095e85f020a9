/* SPDX-License-Identifier: ISC */
/*
 * The exec gate's allowlist of base files by content hash (issue 13 item
 * 5, docs/exec.md "Base files by hash"). The gate (execgate.c) lets a
 * base-system file execute only if its content hash is the one recorded
 * for its path: pinned at its first exec (exec_hashes = pin) or recorded
 * by `twofold exec seal` (sealed). The read-only mounts already keep the
 * persona from changing the base; this catches what changes it from
 * outside (the host, a disk taken out and written to).
 *
 * The record, STATE/exec/PERSONA.hashes (root, 0600, written atomically):
 *
 *   twofold exec hashes v1
 *   persona NAME
 *   suite intl|gm
 *   key ID|device     the fscrypt key identifier its MAC key came from
 *   origin seal|pin   made by `exec seal`, or pinned to since
 *   HEX PATH          one per file, sorted by path
 *   mac HEX           the suite's MAC of every byte above
 *
 * The MAC key is HKDF(the persona's fscrypt key, "twofold exec hashes v1
 * NAME"): it exists only while that key is loaded, so for a
 * credential-bound persona only while it is unlocked. Someone with the
 * disk can read the record (the hashes of a public base system) but not
 * forge one. A device-bound persona without a storage key of its own
 * falls back to a sub-key of the device secret (tf_keystore_derive).
 *
 * A record of another key (the persona was wiped or crypto-erased and
 * has a new one; its keys/ removed) is stale, not forged: it is set
 * aside as if there were none. Editing that line is no more than
 * removing the record, which pin mode already treats as a fresh start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/keys.h"
#include "twofold/log.h"
#include "twofold/profile.h"
#include "twofold/secmem.h"
#include "daemon.h"
#include "exechash.h"

#define EH_HEAD "twofold exec hashes v1\n"
#define EH_FILE_MAX                                                            \
	(TFD_EH_MAX * (2u * TF_HASH_BYTES + 2 + TFD_EH_PATH_MAX) + 4096u)
#define EH_DEPTH_MAX 24

enum tfd_eh_mode tfd_eh_mode_of(const struct tfd_persona *p)
{
	const char *m = p->cfg->exec_hashes;

	if (!strcmp(m, "off"))
		return TFD_EH_OFF;
	if (!strcmp(m, "sealed"))
		return TFD_EH_SEALED;
	return TFD_EH_PIN; /* the default, "" or "pin" */
}

/* ---- the table ---- */

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

int tfd_hashes_init(struct tfd_hashes *hs, const struct tf_suite *s)
{
	memset(hs, 0, sizeof(*hs));
	hs->s = s;
	return -pthread_mutex_init(&hs->mu, NULL);
}

void tfd_hashes_clear(struct tfd_hashes *hs)
{
	for (size_t i = 0; i < hs->n; i++)
		free(hs->v[i].path);
	free(hs->v);
	free(hs->slot);
	hs->v = NULL;
	hs->slot = NULL;
	hs->n = hs->cap = hs->nslot = 0;
}

static uint32_t *find_slot(const struct tfd_hashes *hs, const char *path)
{
	size_t mask = hs->nslot - 1;

	for (size_t i = fnv(path) & mask;; i = (i + 1) & mask) {
		uint32_t k = hs->slot[i];
		if (k == 0 || !strcmp(hs->v[k - 1].path, path))
			return &hs->slot[i];
	}
}

const uint8_t *tfd_hashes_get(const struct tfd_hashes *hs, const char *path)
{
	uint32_t *sl;

	if (hs->nslot == 0)
		return NULL;
	sl = find_slot(hs, path);
	return *sl ? hs->v[*sl - 1].h : NULL;
}

static int grow(struct tfd_hashes *hs)
{
	size_t ns = hs->nslot ? hs->nslot * 2 : 1024;
	uint32_t *old = hs->slot;
	size_t on = hs->nslot;

	hs->slot = calloc(ns, sizeof(*hs->slot));
	if (hs->slot == NULL) {
		hs->slot = old;
		return -ENOMEM;
	}
	hs->nslot = ns;
	for (size_t i = 0; i < on; i++)
		if (old[i])
			*find_slot(hs, hs->v[old[i] - 1].path) = old[i];
	free(old);
	return 0;
}

int tfd_hashes_put(struct tfd_hashes *hs, const char *path,
		   const uint8_t h[static TF_HASH_BYTES])
{
	uint32_t *sl;

	/* load factor below 1/2 */
	if ((hs->n + 1) * 2 > hs->nslot && grow(hs) < 0)
		return -ENOMEM;
	sl = find_slot(hs, path);
	if (*sl) {
		memcpy(hs->v[*sl - 1].h, h, TF_HASH_BYTES);
		return 0;
	}
	if (hs->n >= TFD_EH_MAX || strlen(path) > TFD_EH_PATH_MAX)
		return -ENOSPC;
	if (hs->n == hs->cap) {
		size_t nc = hs->cap ? hs->cap * 2 : 256;
		struct tfd_eh_ent *nv = realloc(hs->v, nc * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		hs->v = nv;
		hs->cap = nc;
	}
	hs->v[hs->n].path = strdup(path);
	if (hs->v[hs->n].path == NULL)
		return -ENOMEM;
	memcpy(hs->v[hs->n].h, h, TF_HASH_BYTES);
	*sl = (uint32_t)++hs->n;
	return 0;
}

void tfd_hashes_take(struct tfd_hashes *hs, struct tfd_hashes *from)
{
	pthread_mutex_lock(&hs->mu);
	tfd_hashes_clear(hs);
	hs->v = from->v;
	hs->n = from->n;
	hs->cap = from->cap;
	hs->slot = from->slot;
	hs->nslot = from->nslot;
	hs->sealed = from->sealed;
	hs->gen++;
	pthread_mutex_unlock(&hs->mu);
	from->v = NULL;
	from->slot = NULL;
	from->n = from->cap = from->nslot = 0;
}

/* ---- the key ---- */

static void key_info(const struct tfd_persona *p, char *info, size_t cap)
{
	snprintf(info, cap, "twofold exec hashes v1 %s", p->cfg->name);
}

void tfd_exec_key_set(struct tfd *d, struct tfd_persona *p,
		      const uint8_t *fskey)
{
	char info[64];

	key_info(p, info, sizeof(info));
	if (p->exec_key == NULL)
		p->exec_key = tf_secure_alloc(TF_KEY_BYTES);
	if (p->exec_key == NULL)
		return; /* the manifest cannot be read or saved: said then */
	if (tf_kdf(d->suite, p->exec_key, TF_KEY_BYTES, fskey,
		   TF_KEYS_FSKEY_BYTES, NULL, 0, (const uint8_t *)info,
		   strlen(info)) < 0)
		tfd_exec_key_drop(p);
}

void tfd_exec_key_drop(struct tfd_persona *p)
{
	tf_secure_free(p->exec_key); /* wipes */
	p->exec_key = NULL;
}

/* the key into k: the persona's, or for a device-bound persona that has
 * none a sub-key of the device secret */
static int get_key(struct tfd *d, struct tfd_persona *p,
		   uint8_t k[static TF_KEY_BYTES])
{
	char info[64];

	if (p->exec_key) {
		memcpy(k, p->exec_key, TF_KEY_BYTES);
		return 0;
	}
	if (p->cfg->credential || d->ks == NULL || tfd_keystore_busy(d))
		return -ENOKEY;
	key_info(p, info, sizeof(info));
	return tf_keystore_derive(d->ks, info, k, TF_KEY_BYTES);
}

/* ---- the record ---- */

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = x[b[i] >> 4];
		out[2 * i + 1] = x[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		int v = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
			: s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
						     : -1;
		if (v < 0)
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

static const char *suite_word(const struct tf_suite *s)
{
	return s->id == TF_SUITE_GM ? "gm" : "intl";
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct tfd_eh_ent *)a)->path,
		      ((const struct tfd_eh_ent *)b)->path);
}

/* the header every record of p starts with (up to its origin line) */
static void head_of(const struct tfd_persona *p, const struct tf_suite *s,
		    char *out, size_t cap)
{
	char id[2 * sizeof(p->key_id) + 1] = "device";

	if (p->exec_key && p->key_id_known)
		hex(p->key_id, sizeof(p->key_id), id);
	snprintf(out, cap, EH_HEAD "persona %s\nsuite %s\nkey %s\n",
		 p->cfg->name, suite_word(s), id);
}

static int eh_dir(struct tfd *d, bool create)
{
	int fd;

	if (create && mkdirat(d->state_fd, "exec", 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(d->state_fd, "exec",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int tfd_hashes_save(struct tfd *d, struct tfd_persona *p, struct tfd_hashes *hs)
{
	_cleanup_free_ struct tfd_eh_ent *v = NULL;
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int dfd = -1;
	uint8_t key[TF_KEY_BYTES], mac[TF_HASH_BYTES];
	char name[TF_NAME_MAX + 8], mhex[2 * TF_HASH_BYTES + 1], head[160];
	size_t len = 0, n;
	FILE *f;
	int r = get_key(d, p, key);

	if (r < 0)
		return r;
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		tf_memzero(key, sizeof(key));
		return -ENOMEM;
	}
	/* a sorted copy, so the lock is held only for the copy (the gate
	 * waits on it); the paths stay the table's until we are done, as
	 * only the loop ever frees them (take, clear) */
	pthread_mutex_lock(&hs->mu);
	n = hs->n;
	v = n ? malloc(n * sizeof(*v)) : NULL;
	if (v)
		memcpy(v, hs->v, n * sizeof(*v));
	pthread_mutex_unlock(&hs->mu);
	if (n && v == NULL) {
		fclose(f);
		tf_memzero(key, sizeof(key));
		return -ENOMEM;
	}
	qsort(v, n, sizeof(*v), by_path);
	head_of(p, hs->s, head, sizeof(head));
	fprintf(f, "%sorigin %s\n", head, hs->sealed ? "seal" : "pin");
	for (size_t i = 0; i < n; i++) {
		char h[2 * TF_HASH_BYTES + 1];
		hex(v[i].h, TF_HASH_BYTES, h);
		fprintf(f, "%s %s\n", h, v[i].path);
	}
	if (fclose(f) != 0) {
		tf_memzero(key, sizeof(key));
		return -ENOMEM;
	}
	r = tf_mac(hs->s, mac, key, (const uint8_t *)buf, len);
	tf_memzero(key, sizeof(key));
	if (r < 0)
		return r;
	hex(mac, sizeof(mac), mhex);
	{
		char *nb = realloc(buf, len + sizeof(mhex) + 8);
		if (nb == NULL)
			return -ENOMEM;
		buf = nb;
		len += (size_t)sprintf(buf + len, "mac %s\n", mhex);
	}
	dfd = eh_dir(d, true);
	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), "%s.hashes", p->cfg->name);
	return tf_atomic_write_at(dfd, name, buf, len, 0600);
}

/* one "HEX PATH" line (NUL-terminated, without its newline) */
static int parse_line(struct tfd_hashes *hs, char *l)
{
	uint8_t h[TF_HASH_BYTES];

	if (strlen(l) < 2 * TF_HASH_BYTES + 3 || l[2 * TF_HASH_BYTES] != ' ' ||
	    l[2 * TF_HASH_BYTES + 1] != '/' || unhex(l, h, TF_HASH_BYTES) < 0)
		return -EBADMSG;
	return tfd_hashes_put(hs, l + 2 * TF_HASH_BYTES + 1, h);
}

int tfd_hashes_load(struct tfd *d, struct tfd_persona *p, struct tfd_hashes *hs,
		    enum tfd_eh_rec *rec, char *err, size_t errlen)
{
	_cleanup_close_ int dfd = eh_dir(d, false), fd = -1;
	_cleanup_free_ char *buf = NULL;
	uint8_t key[TF_KEY_BYTES], mac[TF_HASH_BYTES], want[TF_HASH_BYTES];
	char name[TF_NAME_MAX + 8], head[160];
	struct stat st;
	size_t body;
	char *m, *l, *nl;
	int r;

	*rec = TFD_EH_REC_NONE;
	snprintf(name, sizeof(name), "%s.hashes", p->cfg->name);
	if (dfd >= 0)
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (dfd == -ENOENT || errno == ENOENT))
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = dfd < 0 ? dfd : -errno;
		snprintf(err, errlen, "%s: cannot read exec/%s: %s",
			 p->cfg->name, name, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)EH_FILE_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		snprintf(err, errlen,
			 "%s: exec/%s is not a readable record of at most "
			 "%u bytes; remove it as root, then seal again "
			 "(twofold exec seal %s)",
			 p->cfg->name, name, EH_FILE_MAX, p->cfg->name);
		return -EBADMSG;
	}
	buf[st.st_size] = '\0';
	head_of(p, hs->s, head, sizeof(head));
	if (strncmp(buf, head, strlen(head)) != 0) {
		*rec = TFD_EH_REC_STALE; /* another key's, persona's, suite's */
		return 0;
	}
	*rec = TFD_EH_REC_OK;
	/* the MAC line is the last; everything before it is covered */
	m = (size_t)st.st_size > 6 ? strstr(buf, "\nmac ") : NULL;
	r = get_key(d, p, key);
	if (r < 0) {
		snprintf(err, errlen,
			 "%s: no key to check exec/%s with (%s); unlock it "
			 "first",
			 p->cfg->name, name, strerror(-r));
		return r;
	}
	if (m == NULL || strlen(m) != 5 + 2 * TF_HASH_BYTES + 1 ||
	    m[5 + 2 * TF_HASH_BYTES] != '\n' ||
	    unhex(m + 5, want, TF_HASH_BYTES) < 0 ||
	    tf_mac(hs->s, mac, key, (const uint8_t *)buf,
		   body = (size_t)(m - buf) + 1) < 0 ||
	    tf_memeq_ct(mac, want, sizeof(mac)) != 0) {
		tf_memzero(key, sizeof(key));
		snprintf(err, errlen,
			 "%s: exec/%s fails its MAC check (changed outside "
			 "twofoldd); remove it as root, start (or unlock) %s "
			 "and run `twofold exec seal %s`",
			 p->cfg->name, name, p->cfg->name, p->cfg->name);
		return -EBADMSG;
	}
	tf_memzero(key, sizeof(key));
	buf[body] = '\0';
	l = buf + strlen(head);
	if (!strncmp(l, "origin seal\n", 12) ||
	    !strncmp(l, "origin pin\n", 11)) {
		hs->sealed = l[7] == 's';
		l += hs->sealed ? 12 : 11;
	} else {
		snprintf(err, errlen, "%s: exec/%s: no origin line",
			 p->cfg->name, name);
		return -EBADMSG;
	}
	for (; *l; l = nl + 1) {
		nl = strchr(l, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		r = parse_line(hs, l);
		if (r < 0) {
			snprintf(err, errlen, "%s: exec/%s: a bad line (%s)",
				 p->cfg->name, name, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* ---- the seal's walk ---- */

struct walk {
	const struct tf_suite *s;
	struct tfd_hashes *out;
	dev_t dev;
	char path[4096];
	/* the last file hashed by (dev, ino): /bin and /usr/bin are one
	 * dir on a merged-/usr host, hashed once */
	struct tfd_hashes *seen;
	int r;
	char *err;
	size_t errlen;
};

static bool name_ok(const char *n)
{
	for (; *n; n++)
		if ((unsigned char)*n < 0x20 || *n == 0x7f)
			return false;
	return true;
}

static void walk_dir(struct walk *w, int dfd, size_t plen, int depth)
{
	DIR *dir;
	struct dirent *e;

	if (depth > EH_DEPTH_MAX)
		return;
	dir = fdopendir(dfd);
	if (dir == NULL) {
		close(dfd);
		return;
	}
	while (w->r == 0 && (e = readdir(dir)) != NULL) {
		struct stat st;
		size_t n = strlen(e->d_name);
		int fd;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!name_ok(e->d_name) || plen + 1 + n > TFD_EH_PATH_MAX)
			continue; /* a name the record cannot hold */
		if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    st.st_dev != w->dev)
			continue; /* gone, or another mount */
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, e->d_name, n + 1);
		if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd(dir), e->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					    O_CLOEXEC);
			if (fd >= 0)
				walk_dir(w, fd, plen + 1 + n, depth + 1);
		} else if (S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
			uint8_t h[TF_HASH_BYTES];
			char id[48];
			const uint8_t *had;

			snprintf(id, sizeof(id), "/%llx:%llx",
				 (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
			had = tfd_hashes_get(w->seen, id);
			if (had) {
				memcpy(h, had, sizeof(h));
			} else {
				fd = openat(dirfd(dir), e->d_name,
					    O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
						    O_NONBLOCK);
				if (fd < 0)
					continue;
				w->r = tf_hash_fd(w->s, fd, h, NULL);
				close(fd);
				if (w->r == 0)
					w->r = tfd_hashes_put(w->seen, id, h);
			}
			if (w->r == 0)
				w->r = tfd_hashes_put(w->out, w->path, h);
			if (w->r < 0)
				snprintf(w->err, w->errlen, "hash %s: %s",
					 w->path, strerror(-w->r));
		}
		w->path[plen] = '\0';
	}
	closedir(dir);
}

/* host dir root, named in the persona as prefix ("" or "/usr") */
static int walk_root(struct walk *w, const char *root, const char *prefix)
{
	struct stat st;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* no /lib32 here */
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	w->dev = st.st_dev;
	snprintf(w->path, sizeof(w->path), "%s", prefix);
	walk_dir(w, fd, strlen(w->path), 0);
	return w->r;
}

int tfd_eh_seal_walk(const struct tf_suite *s, const struct tf_profile *prof,
		     struct tfd_hashes *out, char *err, size_t errlen)
{
	struct tfd_hashes seen;
	struct walk w = {.s = s, .out = out, .err = err, .errlen = errlen};
	char root[TF_CFG_PATH_MAX + 24], prefix[24];
	int r = tfd_hashes_init(&seen, s);

	if (r < 0)
		return r;
	w.seen = &seen;
	if (prof->base[0]) {
		/* the base root is the persona's "/", all of it system */
		r = walk_root(&w, prof->base, "");
	} else {
		/* the host's system dirs, each as the persona names it
		 * (a top-level symlink such as /bin -> usr/bin followed) */
		for (uint32_t i = 0; i < prof->n_sys && r == 0; i++) {
			snprintf(root, sizeof(root), "/%s/", prof->sys[i].name);
			snprintf(prefix, sizeof(prefix), "/%s",
				 prof->sys[i].name);
			r = walk_root(&w, root, prefix);
		}
	}
	tfd_hashes_clear(&seen);
	pthread_mutex_destroy(&seen.mu);
	if (r < 0 && err[0] == '\0')
		snprintf(err, errlen, "%s", strerror(-r));
	return r;
}
