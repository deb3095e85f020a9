/* SPDX-License-Identifier: ISC */
/*
 * Installed apps (issue 13, docs/packages.md "Installing").
 *
 * State, per persona, in STATE/apps/PERSONA/ (root-only, 0700):
 *   NAME-CODE.tfa  the package as installed: the daemon's own copy of the
 *                  upload (an O_TMPFILE, fsync'ed, linked in only once the
 *                  checker accepted it), so the bytes mounted are the
 *                  bytes verified
 *   NAME.app       the index record (written atomically): uid, image,
 *                  payload offset, then the canonical manifest
 *   catalog.seq    the last catalog accepted: "SEQ HEXDIGEST"
 * A crash at any step leaves the old NAME.app, so the old version is what
 * the next persona start mounts; images no record names are removed then.
 *
 * Mounting: the payload is an erofs image at an offset of the .tfa; this
 * kernel (6.18) mounts a file directly with fsoffset=, so no loop device.
 * The mount is built detached (fsopen/fsconfig/fsmount, nodev, nosuid,
 * read-only) in the daemon's namespace and attached inside the persona's
 * mount namespace by a short-lived thread that unshare(CLONE_FS)s and
 * setns()es into it (move_mount wants the target in the caller's
 * namespace; a detached mount may move into any). An update mounts the
 * new image beneath the old one (MOVE_MOUNT_BENEATH, 6.5) and lazily
 * unmounts the old: a path lookup sees one or the other, never neither.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/log.h"
#include "twofold/net.h"
#include "twofold/persona.h"
#include "twofold/pkg.h"
#include "twofold/profile.h"
#include "twofold/sandbox.h"
#include "twofold/scan.h"
#include "apps.h"
#include "daemon.h"

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200
#endif
#define RECORD_MAX (TF_PKG_MANIFEST_MAX + 1024)

bool tfd_app_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TF_PKG_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '-'))
			return false;
	return strstr(s, "..") == NULL;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[b[i] >> 4];
		out[2 * i + 1] = h[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* STATE/apps/PERSONA, made (0700) when create */
static int apps_dir(const struct tfd *d, const struct tfd_persona *p,
		    bool create)
{
	_cleanup_close_ int top = -1;
	int fd;

	if (create && mkdirat(d->state_fd, "apps", 0700) < 0 && errno != EEXIST)
		return tf_negerrno();
	top = openat(d->state_fd, "apps",
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		return tf_negerrno();
	if (create && mkdirat(top, p->cfg->name, 0700) < 0 && errno != EEXIST)
		return tf_negerrno();
	fd = openat(top, p->cfg->name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? tf_negerrno() : fd;
}

/* ---- the index record ---- */

static int record_format(const struct tfd_app *a, char *buf, size_t cap,
			 size_t *len)
{
	size_t mlen;
	int n = snprintf(
		buf, cap,
		"uid = %u\nimage = %s\noffset = %" PRIu64 "\nscan = %s\n---\n",
		a->uid, a->image, a->off, a->unscanned ? "none" : "clean");
	int r;

	if (n < 0 || (size_t)n >= cap)
		return -ENOBUFS;
	r = tf_pkg_manifest_format(&a->m, buf + n, cap - (size_t)n, &mlen);
	if (r < 0)
		return r;
	*len = (size_t)n + mlen;
	return 0;
}

static int record_parse(const char *buf, size_t len, struct tfd_app *a)
{
	const char *sep = memmem(buf, len, "\n---\n", 5);
	char head[512], *save = NULL;
	unsigned long long off;
	unsigned uid;

	if (sep == NULL || (size_t)(sep - buf) >= sizeof(head))
		return -EBADMSG;
	memcpy(head, buf, (size_t)(sep - buf));
	head[sep - buf] = '\0';
	memset(a, 0, sizeof(*a));
	if (sscanf(strtok_r(head, "\n", &save) ?: "", "uid = %u", &uid) != 1)
		return -EBADMSG;
	{
		const char *l = strtok_r(NULL, "\n", &save);
		if (l == NULL || strncmp(l, "image = ", 8) != 0 ||
		    tf_strlcpy(a->image, l + 8, sizeof(a->image)) < 0 ||
		    strchr(a->image, '/'))
			return -EBADMSG;
		l = strtok_r(NULL, "\n", &save);
		if (l == NULL || sscanf(l, "offset = %llu", &off) != 1)
			return -EBADMSG;
		/* absent in records from before scanning: not scanned */
		l = strtok_r(NULL, "\n", &save);
		a->unscanned = l == NULL || strcmp(l, "scan = clean") != 0;
	}
	a->uid = uid;
	a->off = off;
	sep += 5;
	return tf_pkg_manifest_parse(sep, len - (size_t)(sep - buf), 0, &a->m,
				     NULL);
}

static int record_load_at(int dfd, const char *file, struct tfd_app *out)
{
	_cleanup_close_ int fd =
		openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	ssize_t n;

	if (fd < 0)
		return tf_negerrno();
	buf = malloc(RECORD_MAX);
	if (buf == NULL)
		return -ENOMEM;
	n = read(fd, buf, RECORD_MAX);
	if (n < 0)
		return tf_negerrno();
	if (n == RECORD_MAX)
		return -EFBIG;
	return record_parse(buf, (size_t)n, out);
}

int tfd_app_load(const struct tfd *d, const struct tfd_persona *p,
		 const char *name, struct tfd_app *out)
{
	_cleanup_close_ int dfd = -1;
	char file[TF_PKG_NAME_MAX + 8];

	if (!tfd_app_name_ok(name))
		return -EINVAL;
	dfd = apps_dir(d, p, false);
	if (dfd < 0)
		return dfd;
	snprintf(file, sizeof(file), "%s.app", name);
	return record_load_at(dfd, file, out);
}

static int record_save(int dfd, const struct tfd_app *a)
{
	_cleanup_free_ char *buf = malloc(RECORD_MAX);
	char file[TF_PKG_NAME_MAX + 8];
	size_t len;
	int r;

	if (buf == NULL)
		return -ENOMEM;
	r = record_format(a, buf, RECORD_MAX, &len);
	if (r < 0)
		return r;
	snprintf(file, sizeof(file), "%s.app", a->m.name);
	return tf_atomic_write_at(dfd, file, buf, len, 0600);
}

/* Every record of a persona (malloc'd array, sorted by readdir order). */
static int records_all(int dfd, struct tfd_app **out, size_t *n_out)
{
	_cleanup_close_ int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	struct tfd_app *v = NULL;
	size_t n = 0;
	struct dirent *e;
	DIR *dir;

	*out = NULL;
	*n_out = 0;
	if (dup < 0)
		return tf_negerrno();
	dir = fdopendir(dup);
	if (dir == NULL)
		return tf_negerrno();
	dup = -1;
	rewinddir(dir);
	while ((e = readdir(dir)) != NULL) {
		size_t l = strlen(e->d_name);
		struct tfd_app *nv;
		if (l < 5 || strcmp(e->d_name + l - 4, ".app") != 0 ||
		    n >= TFD_APPS_MAX)
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (nv == NULL)
			break;
		v = nv;
		if (record_load_at(dfd, e->d_name, &v[n]) == 0)
			n++;
		else
			tf_warn("app record %s is unreadable; ignored",
				e->d_name);
	}
	closedir(dir);
	*out = v;
	*n_out = n;
	return 0;
}

/* ---- inside the persona's mount namespace ---- */

enum ns_kind { NS_MOUNT, NS_REMOVE, NS_UNMOUNT };

struct ns_op {
	enum ns_kind kind;
	int nsfd; /* the persona init's mount namespace */
	int mfd;  /* NS_MOUNT: the detached erofs mount */
	const char *name;
	uid_t root_uid, app_uid; /* host uids of its root, of the app */
	int r;
	char what[128];
};

static uint64_t mnt_id(const char *path)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0)
		return 0;
	return sx.stx_mnt_id;
}

#define NS_FAIL(op, ...)                                                       \
	do {                                                                   \
		(op)->r = tf_negerrno();                                       \
		snprintf((op)->what, sizeof((op)->what), __VA_ARGS__);         \
		return NULL;                                                   \
	} while (0)

/* The app's data dir, /var/apps/NAME: 0700, its own uid. /var/apps is
 * the persona root's (0711), so the default user cannot rename or
 * replace an app's dir. */
static int data_dir(struct ns_op *op)
{
	char path[TF_PKG_NAME_MAX + 16];
	_cleanup_close_ int top = -1, fd = -1;
	struct stat st;

	if (mkdir("/var/apps", 0711) < 0 && errno != EEXIST)
		return tf_negerrno();
	top = open("/var/apps",
		   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0 || fstat(top, &st) < 0)
		return tf_negerrno();
	if (st.st_uid != op->root_uid &&
	    (fchown(top, op->root_uid, op->root_uid) < 0 ||
	     fchmod(top, 0711) < 0))
		return tf_negerrno();
	snprintf(path, sizeof(path), "%s", op->name);
	if (mkdirat(top, path, 0700) < 0 && errno != EEXIST)
		return tf_negerrno();
	fd = openat(top, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return tf_negerrno();
	if (fchown(fd, op->app_uid, op->app_uid) < 0 || fchmod(fd, 0700) < 0)
		return tf_negerrno();
	return 0;
}

static void *ns_thread(void *arg)
{
	struct ns_op *op = arg;
	char path[TF_PKG_NAME_MAX + 16];

	/* our own fs struct: setns(CLONE_NEWNS) moves only this thread */
	if (unshare(CLONE_FS) < 0)
		NS_FAIL(op, "unshare");
	if (setns(op->nsfd, CLONE_NEWNS) < 0)
		NS_FAIL(op, "enter the persona's mount namespace");
	snprintf(path, sizeof(path), "/apps/%s", op->name);
	if (op->kind == NS_REMOVE || op->kind == NS_UNMOUNT) {
		uint64_t parent = mnt_id("/apps");
		for (int i = 0; i < 8 && mnt_id(path) != parent; i++)
			if (umount2(path, MNT_DETACH) < 0)
				NS_FAIL(op, "unmount %s", path);
		if (rmdir(path) < 0 && errno != ENOENT)
			NS_FAIL(op, "remove %s", path);
		if (op->kind == NS_UNMOUNT)
			return NULL; /* disabled: its data stays */
		snprintf(path, sizeof(path), "/var/apps/%s", op->name);
		/* The app may still run and rename its tree while we walk
		 * it: walk it with the app's own file rights (fsuid is per
		 * thread; a nonzero one drops the file capabilities), so a
		 * directory swapped for a symlink leads only where the app
		 * could delete anyway. Then its top dir, as root. */
		(void)setfsgid(op->app_uid);
		(void)setfsuid(op->app_uid);
		(void)tfd_wipe_dir(path); /* all but the top: not its own */
		(void)setfsuid(0);
		(void)setfsgid(0);
		if (rmdir(path) < 0 && errno != ENOENT)
			NS_FAIL(op, "remove %s", path);
		return NULL;
	}
	/* /apps is a directory of the read-only root: a small tmpfs of ours
	 * over it holds the mount points (noexec: only the erofs images
	 * under it run) */
	if (mnt_id("/apps") == mnt_id("/") &&
	    mount("tfapps", "/apps", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=256k") < 0)
		NS_FAIL(op, "mount a tmpfs on /apps");
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		NS_FAIL(op, "make %s", path);
	if (mnt_id(path) != mnt_id("/apps")) {
		/* an update: beneath the old one, then the old one goes */
		if (move_mount(op->mfd, "", AT_FDCWD, path,
			       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH) ==
		    0) {
			if (umount2(path, MNT_DETACH) < 0)
				NS_FAIL(op, "unmount the old %s", path);
			goto data;
		}
		tf_warn("mount beneath %s: %s; swapping with a gap", path,
			strerror(errno));
		if (umount2(path, MNT_DETACH) < 0)
			NS_FAIL(op, "unmount the old %s", path);
	}
	if (move_mount(op->mfd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) <
	    0)
		NS_FAIL(op, "attach the image at %s", path);
data:
	op->r = data_dir(op);
	if (op->r < 0)
		snprintf(op->what, sizeof(op->what), "make /var/apps/%s",
			 op->name);
	return NULL;
}

static int ns_run(struct tfd_persona *p, struct ns_op *op, char *err,
		  size_t errlen)
{
	char path[64];
	pthread_t t;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt",
		 (int)tf_persona_init_pid(p->rt));
	op->nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (op->nsfd < 0) {
		r = tf_negerrno();
		snprintf(err, errlen, "cannot open %s's mount namespace: %s",
			 p->cfg->name, strerror(-r));
		return r;
	}
	op->root_uid = p->cfg->uid_base;
	op->r = 0;
	r = -pthread_create(&t, NULL, ns_thread, op);
	if (r == 0)
		(void)pthread_join(t, NULL);
	close(op->nsfd);
	if (r == 0)
		r = op->r;
	if (r < 0)
		snprintf(err, errlen, "%s: cannot %s: %s", p->cfg->name,
			 op->r < 0 ? op->what : "start a thread", strerror(-r));
	return r;
}

/* The detached read-only mount of the erofs payload of the package fd. */
static int image_mount_fd(int fd, const struct tfd_app *a, char *err,
			  size_t errlen)
{
	_cleanup_close_ int fs = -1;
	char src[64], off[24];
	int m;

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	snprintf(off, sizeof(off), "%" PRIu64, a->off);
	fs = fsopen("erofs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "source", src, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "fsoffset", off, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		m = tf_negerrno();
		snprintf(err, errlen,
			 "cannot mount the image of %s (erofs at offset %s): "
			 "%s",
			 a->m.name, off, strerror(-m));
		return m;
	}
	m = fsmount(fs, FSMOUNT_CLOEXEC,
		    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
	if (m < 0) {
		m = tf_negerrno();
		snprintf(err, errlen, "cannot mount the image of %s: %s",
			 a->m.name, strerror(-m));
	}
	return m;
}

/* Attach a detached mount of a's image at /apps/NAME in p. */
static int attach_mfd(struct tfd_persona *p, int mfd, const struct tfd_app *a,
		      char *err, size_t errlen)
{
	struct ns_op op = {.kind = NS_MOUNT, .name = a->m.name, .mfd = mfd};
	int r;

	op.app_uid = p->cfg->uid_base + a->uid;
	/* only the mounts attached here run (a is verified, in the index
	 * and allowed by the catalog: every caller checked it); the gate
	 * knows it before the persona can see it */
	tfd_gate_app_attach(p, a->m.name, mfd);
	r = ns_run(p, &op, err, errlen);
	tfd_gate_app_settle(p, a->m.name, mfd, r == 0);
	if (r == 0 && tfd_gate_wanted(p))
		(void)tfd_gate_rescan(p);
	return r;
}

/* Does the record say what its signed image says? The record and the
 * image are files on the disk: someone with the disk (the daemon down)
 * could have edited the record (permissions, fs rules, the image it
 * names, its uid) or swapped the image. So what a start or a re-enable
 * mounts is checked again as an install checks it: the package checker
 * verifies the image against the persona's app_trust (signature, payload
 * hash), and the record must hold the verified manifest and offset; the
 * mount is made from the fd that was verified. */
static int image_check(struct tfd *d, struct tfd_persona *p, int fd,
		       const struct tfd_app *a, char *err, size_t errlen)
{
	_cleanup_free_ struct tfd_app_verdict *v = calloc(1, sizeof(*v));
	_cleanup_free_ char *b1 = malloc(RECORD_MAX), *b2 = malloc(RECORD_MAX);
	struct tfd_appcheck ck;
	size_t l1, l2;
	int r;

	if (v == NULL || b1 == NULL || b2 == NULL)
		return -ENOMEM;
	if (a->uid < TFD_APP_UID_FIRST ||
	    a->uid >= TFD_APP_UID_FIRST + TFD_APPS_MAX ||
	    a->uid >= p->cfg->uid_count) {
		snprintf(err, errlen,
			 "the record of %s names uid %u, which no app has "
			 "(changed outside twofoldd); reinstall it",
			 a->m.name, a->uid);
		return -EBADMSG;
	}
	r = tfd_appcheck_spawn(p, &ck);
	if (r < 0) {
		snprintf(err, errlen, "cannot start the package checker: %s",
			 strerror(-r));
		return r;
	}
	r = tfd_appcheck_run(&ck, ((const struct tf_suite *)d->suite)->id,
			     p->cfg->app_trust, fd, v);
	if (r < 0) {
		snprintf(err, errlen, "the image %s fails its check: %s",
			 a->image, v->msg);
		/* a verdict (not a checker that could not run): tampering */
		return v->reason[0] ? -EBADMSG : r;
	}
	if (tf_pkg_manifest_format(&v->m, b1, RECORD_MAX, &l1) < 0 ||
	    tf_pkg_manifest_format(&a->m, b2, RECORD_MAX, &l2) < 0 ||
	    l1 != l2 || memcmp(b1, b2, l1) != 0 || v->off != a->off) {
		snprintf(err, errlen,
			 "the record of %s does not match its signed image %s "
			 "(changed outside twofoldd); reinstall it",
			 a->m.name, a->image);
		return -EBADMSG;
	}
	return 0;
}

static int app_attach(struct tfd *d, struct tfd_persona *p, int dfd,
		      const struct tfd_app *a, char *err, size_t errlen)
{
	_cleanup_close_ int fd =
		openat(dfd, a->image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int mfd, r;

	if (fd < 0) {
		r = tf_negerrno();
		snprintf(err, errlen, "cannot open the image of %s: %s",
			 a->m.name, strerror(-r));
		return r;
	}
	r = image_check(d, p, fd, a, err, errlen);
	if (r < 0)
		return r;
	mfd = image_mount_fd(fd, a, err, errlen);
	if (mfd < 0)
		return mfd;
	r = attach_mfd(p, mfd, a, err, errlen);
	close(mfd);
	return r;
}

/* A disabled app's image leaves the persona (its record and data stay,
 * so a later catalog that allows it again mounts it again): nothing
 * else may run its code either, not even through ld.so, which the gate
 * checks only at exec. */
static void app_unmount(struct tfd_persona *p, const struct tfd_app *a)
{
	struct ns_op op = {.kind = NS_UNMOUNT, .name = a->m.name, .mfd = -1};
	char err[512];

	tfd_gate_app_detached(p, a->m.name);
	if (p->rt == NULL)
		return;
	op.app_uid = p->cfg->uid_base + a->uid;
	if (ns_run(p, &op, err, sizeof(err)) < 0)
		tf_warn("%s: app %s: %s", p->cfg->name, a->m.name, err);
}

/* ---- network: an nft table in the persona's (daemon-owned) netns ---- */

/* Sockets of apps without `network` are refused at once (a TCP reset,
 * else an ICMP unreachable): meta skuid is the socket's uid as the
 * namespace's owner (the initial user namespace) sees it, the host uid. */
static void apps_firewall(struct tfd *d, struct tfd_persona *p, int dfd)
{
	_cleanup_free_ struct tfd_app *v = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t n = 0, len = 0, cap = 4096 + TFD_APPS_MAX * 16, k = 0;
	char err[256];
	int r;

	(void)d;
	if (!p->has_netns)
		return;
	if (records_all(dfd, &v, &n) < 0)
		return;
	buf = malloc(cap);
	if (buf == NULL)
		return;
	len = (size_t)snprintf(buf, cap,
			       "table inet twofold_apps\n"
			       "delete table inet twofold_apps\n"
			       "table inet twofold_apps {\n"
			       " chain out {\n"
			       "  type filter hook output priority 0;\n");
	for (size_t i = 0; i < n; i++)
		if (!(v[i].m.permissions & TF_PERM_NETWORK))
			k++;
	if (k) {
		for (int pass = 0; pass < 2; pass++) {
			len += (size_t)snprintf(buf + len, cap - len,
						"  meta skuid { ");
			for (size_t i = 0, j = 0; i < n; i++)
				if (!(v[i].m.permissions & TF_PERM_NETWORK))
					len += (size_t)snprintf(
						buf + len, cap - len, "%s%u",
						j++ ? ", " : "",
						p->cfg->uid_base + v[i].uid);
			len += (size_t)snprintf(
				buf + len, cap - len, " } %s\n",
				pass == 0 ? "meta l4proto tcp reject with tcp "
					    "reset"
					  : "reject");
		}
	}
	len += (size_t)snprintf(buf + len, cap - len, " }\n}\n");
	if (len >= cap)
		return;
	r = tf_nft_apply(p->netns_fd, buf, err, sizeof(err));
	if (r < 0)
		tf_warn("%s: app network rules: %s", p->cfg->name, err);
}

/* ---- catalog ---- */

static int catalog_allows(struct tfd *d, struct tfd_persona *p, int dfd,
			  const struct tf_pkg_manifest *m, const uint8_t *hash,
			  struct tf_pkg_err *perr)
{
	const struct tf_suite *suite = d->suite;
	_cleanup_catalog_ struct tf_catalog *cat = NULL;
	_cleanup_close_ int fd = -1;
	struct tf_pkg_trust trust;
	uint32_t bit = tf_pkg_persona_by_name(p->cfg->name);
	uint64_t old_seq = 0;
	uint8_t old_digest[TF_HASH_BYTES];
	bool have_old = false;
	int64_t now = (int64_t)time(NULL);
	char line[16 + 2 * TF_HASH_BYTES + 8];
	int r;

	perr->reason = TF_R_PKG_NOT_IN_CATALOG;
	if (p->cfg->app_catalog[0] == '\0') {
		snprintf(perr->msg, sizeof(perr->msg),
			 "persona %s has no app_catalog in device.conf: no app "
			 "may be installed",
			 p->cfg->name);
		return -EPERM;
	}
	r = tf_pkg_trust_parse(suite, p->cfg->app_trust, &trust, perr);
	if (r < 0)
		return r;
	fd = open(p->cfg->app_catalog, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = tf_negerrno();
		perr->reason = TF_R_CATALOG_MALFORMED;
		snprintf(perr->msg, sizeof(perr->msg),
			 "cannot read the catalog %.160s: %s",
			 p->cfg->app_catalog, strerror(-r));
		return r;
	}
	r = tf_catalog_load(fd, &trust, suite, &cat, perr);
	if (r < 0)
		return r;
	{
		_cleanup_close_ int sfd = openat(
			dfd, "catalog.seq", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t n = sfd >= 0 ? read(sfd, line, sizeof(line) - 1) : -1;
		char hx[2 * TF_HASH_BYTES + 1];
		unsigned long long s;
		if (n > 0) {
			line[n] = '\0';
			if (sscanf(line, "%llu %64s", &s, hx) == 2 &&
			    strlen(hx) == 2 * TF_HASH_BYTES) {
				old_seq = s;
				for (size_t i = 0; i < TF_HASH_BYTES; i++) {
					unsigned b;
					sscanf(hx + 2 * i, "%2x", &b);
					old_digest[i] = (uint8_t)b;
				}
				have_old = true;
			}
		}
	}
	r = tf_catalog_check(old_seq, have_old ? old_digest : NULL, cat, now,
			     perr);
	if (r < 0)
		return r;
	/* a newer catalog, once verified, is the one the next must not go
	 * below (whichever check saw it first) */
	if (!have_old || cat->seq != old_seq) {
		char hx[2 * TF_HASH_BYTES + 1];
		int k;
		hex(cat->digest, TF_HASH_BYTES, hx);
		k = snprintf(line, sizeof(line), "%" PRIu64 " %s\n", cat->seq,
			     hx);
		if (tf_atomic_write_at(dfd, "catalog.seq", line, (size_t)k,
				       0600) < 0)
			tf_warn("%s: cannot record the catalog's sequence",
				p->cfg->name);
	}
	r = tf_pkg_check_persona(m, bit, perr);
	if (r < 0)
		return r;
	return tf_catalog_allows(cat, m, hash, bit, now, perr);
}

int tfd_app_allowed(struct tfd *d, struct tfd_persona *p,
		    const struct tfd_app *a, struct tf_pkg_err *perr)
{
	_cleanup_close_ int dfd = apps_dir(d, p, false);

	if (dfd < 0) {
		perr->reason = TF_R_APP_IO;
		snprintf(perr->msg, sizeof(perr->msg), "no app store: %s",
			 strerror(-dfd));
		return dfd;
	}
	return catalog_allows(d, p, dfd, &a->m, a->m.payload_hash, perr);
}

static bool slot_bit(struct tfd_persona *p, uint32_t uid, bool *was, bool set);

/* Two records with one uid: one of them was edited on the disk (an
 * install never gives a uid twice), and which cannot be told; neither
 * runs, or one app would own the other's data. */
static bool uid_shared(const struct tfd_app *v, size_t n, size_t i)
{
	for (size_t j = 0; j < n; j++)
		if (j != i && v[j].uid == v[i].uid)
			return true;
	return false;
}

/* ---- persona start ---- */

void tfd_apps_persona_started(struct tfd *d, struct tfd_persona *p)
{
	_cleanup_close_ int dfd = apps_dir(d, p, false);
	_cleanup_free_ struct tfd_app *v = NULL;
	size_t n = 0;
	DIR *dir;

	if (dfd < 0 || p->rt == NULL)
		return;
	if (records_all(dfd, &v, &n) < 0)
		return;
	/* a new persona, new cgroups: what tfd_apps_tick saw is history;
	 * the apps found disabled here are audited here, not again there */
	memset(&p->appcat, 0, sizeof(p->appcat));
	for (size_t i = 0; i < n; i++) {
		struct tf_pkg_err perr = {0};
		char err[512];
		bool was;
		int r;
		if (catalog_allows(d, p, dfd, &v[i].m, v[i].m.payload_hash,
				   &perr) < 0) {
			(void)slot_bit(p, v[i].uid, &was, true);
			tf_warn("%s: app %s disabled: %s", p->cfg->name,
				v[i].m.name, perr.msg);
			tfd_audit(d, 0, "app.disabled", p, NULL,
				  "name=%s\tversion_code=%" PRIu64
				  "\treason=%s",
				  v[i].m.name, v[i].m.version_code,
				  perr.reason ? perr.reason : "");
			continue;
		}
		r = uid_shared(v, n, i)
			    ? -EBADMSG
			    : app_attach(d, p, dfd, &v[i], err, sizeof(err));
		if (r == -EBADMSG && uid_shared(v, n, i))
			snprintf(err, sizeof(err),
				 "its record shares uid %u with another app's "
				 "(changed outside twofoldd); reinstall it",
				 v[i].uid);
		if (r < 0)
			tf_warn("%s: app %s not mounted: %s", p->cfg->name,
				v[i].m.name, err);
		if (r == -EBADMSG)
			tfd_audit(d, 0, "app.disabled", p, NULL,
				  "name=%s\tversion_code=%" PRIu64
				  "\treason=%s",
				  v[i].m.name, v[i].m.version_code,
				  TF_R_APP_TAMPERED);
	}
	/* images no record names: an install or update a crash cut short */
	{
		int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
		struct dirent *e;
		dir = dup >= 0 ? fdopendir(dup) : NULL;
		if (dir == NULL && dup >= 0)
			close(dup);
		/* a dup shares the offset records_all left at the end */
		if (dir)
			rewinddir(dir);
		while (dir && (e = readdir(dir)) != NULL) {
			size_t l = strlen(e->d_name);
			bool used = false;
			if (l < 5 || strcmp(e->d_name + l - 4, ".tfa") != 0)
				continue;
			for (size_t i = 0; i < n; i++)
				used |= strcmp(v[i].image, e->d_name) == 0;
			if (!used) {
				tf_info("%s: removing %s (no app uses it)",
					p->cfg->name, e->d_name);
				(void)unlinkat(dfd, e->d_name, 0);
			}
		}
		if (dir)
			closedir(dir);
	}
	apps_firewall(d, p, dfd);
}

/* ---- install ---- */

static void refuse(struct tfd *d, struct tfd_persona *p,
		   const struct tfd_conn *c, struct tfd_reply *rep, int err,
		   const char *reason, const char *name, const char *msg)
{
	tfd_reply_fail(rep, err, reason, p->cfg->name, "app install in %s: %s",
		       p->cfg->name, msg);
	tfd_audit(d, TF_AUDIT_SYNC, "app.refused", p, c, "name=%s\treason=%s",
		  name ? name : "", reason);
}

/* Copy the caller's file into an unnamed root-only file of dfd: in the
 * kernel (copy_file_range, which ext4 and tmpfs do between files of the
 * same kind; sendfile between any two), never through our buffers. Its
 * writeback starts now and is waited for (fdatasync) only after the
 * check and the scan, before it is named: the disk works while the
 * checker hashes, and a power loss still cannot leave a record naming
 * an image of holes. */
static int copy_in(int dfd, int src, int *out)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	off_t off = 0;
	bool cfr = true;

	if (fstat(src, &st) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size >
	    TF_PKG_PAYLOAD_MAX + TF_PKG_ALIGN + TF_PKG_MANIFEST_MAX + 4096)
		return -EFBIG;
	fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return tf_negerrno();
	for (;;) {
		off_t in = off;
		ssize_t n;
		if (cfr) {
			n = copy_file_range(src, &in, fd, NULL, 16u << 20, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == EOPNOTSUPP || errno == ENOSYS)) {
				cfr = false;
				continue;
			}
		} else {
			n = sendfile(fd, src, &in, 16u << 20);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tf_negerrno();
		if (n == 0)
			break;
		off += n;
		if ((uint64_t)off > (uint64_t)st.st_size + (1u << 20))
			return -EFBIG; /* it grows while we copy */
	}
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	*out = fd;
	fd = -1;
	return 0;
}

static int link_in(int dfd, int fd, const char *name)
{
	char src[64];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	(void)unlinkat(dfd, name, 0); /* a stale one of a cut-short try */
	if (linkat(AT_FDCWD, src, dfd, name, AT_SYMLINK_FOLLOW) < 0)
		return tf_negerrno();
	return tf_fsync_dir_at(dfd, NULL);
}

static uint32_t pick_uid(int dfd, const char *name)
{
	_cleanup_free_ struct tfd_app *v = NULL;
	size_t n = 0;

	if (records_all(dfd, &v, &n) < 0)
		return 0;
	for (uint32_t slot = 0; slot < TFD_APPS_MAX; slot++) {
		bool used = false;
		for (size_t i = 0; i < n; i++)
			used |= v[i].uid == TFD_APP_UID_FIRST + slot &&
				strcmp(v[i].m.name, name) != 0;
		if (!used)
			return TFD_APP_UID_FIRST + slot;
	}
	return 0;
}

/* uid is an app uid that no record but NAME's names */
static bool uid_own(int dfd, uint32_t uid, const char *name)
{
	_cleanup_free_ struct tfd_app *v = NULL;
	size_t n = 0;

	if (uid < TFD_APP_UID_FIRST ||
	    uid >= TFD_APP_UID_FIRST + TFD_APPS_MAX ||
	    records_all(dfd, &v, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i].uid == uid && strcmp(v[i].m.name, name) != 0)
			return false;
	return true;
}

/* ---- install: a job (docs/packages.md "Installing") ----
 *
 * On the loop (tfd_app_install): the policy checks that need no package,
 * the checker spawned (the spawner's socket is the loop's), the scanner
 * claimed (started on the loop: PDEATHSIG is per thread). On the job's
 * thread (install_run): the copy, the checker's verdict, the catalog and
 * rollback checks, the detached read-only mount of the verified bytes
 * and the scan of every file in it. Back on the loop (install_done): the
 * image linked in, attached, the record written, the audit, the answer.
 * Naming the image stays on the loop: a persona start there removes
 * images no record names. While a job runs, a second install or a remove
 * in the same persona is answered "busy". */

/* the walk's bounds: a package beyond them is refused, not half scanned */
#define SCAN_DEPTH_MAX 32
#define SCAN_FILES_MAX 65536
/* files in flight to the scanner: its TF_SCAN_THREADS busy, and the next
 * ones queued so none waits for the walk */
#define SCAN_WINDOW (2 * TF_SCAN_THREADS)

struct install_job {
	struct tfd_job j;
	struct tfd *d;
	struct tfd_persona *p;
	struct tfd_appcheck ck;
	uint8_t suite_id;
	int src, dfd, fd, mfd;
	bool scan, update;
	struct tfd_app_verdict v;
	struct tfd_app old, a;
	/* the outcome: err < 0 refused (reason, msg, the name if known) */
	int err;
	char reason[TF_REASON_MAX + 128];
	char msg[512];
	char sig[128];
	/* what the scan covered (entries walked, files and bytes scanned);
	 * the steps' times (ns), for the reply */
	uint64_t n_entries, n_files, n_bytes, n_cached;
	/* files with the scanner: their tags and paths (for the verdict) */
	struct {
		uint32_t tag;
		uint64_t size;
		char path[PATH_MAX];
	} fly[SCAN_WINDOW];
	size_t n_fly;
	uint32_t next_tag;
	uint64_t t_copy, t_check, t_mount, t_scan;
};

static struct install_job *installing[TF_PERSONA_MAX];

static struct install_job **slot_of(struct tfd *d, struct tfd_persona *p)
{
	return &installing[p - d->personas];
}

#define JOB_FAIL(ij, e, rsn, ...)                                              \
	do {                                                                   \
		(ij)->err = (e);                                               \
		snprintf((ij)->reason, sizeof((ij)->reason), "%s", (rsn));     \
		snprintf((ij)->msg, sizeof((ij)->msg), __VA_ARGS__);           \
	} while (0)

/* Take one verdict off the scanner and settle its file. Only the first
 * failure is kept (the drain after it still reads what was in flight). */
static int scan_collect(struct install_job *ij)
{
	bool first = ij->err == 0;
	struct tf_scan_wire w;
	char why[320], path[PATH_MAX];
	size_t i;
	int r;

	r = tfd_scanner_recv(&w, why, sizeof(why));
	if (r < 0) {
		ij->n_fly = 0; /* the helper is gone: nothing will answer */
		if (first)
			JOB_FAIL(ij, r, "malware:error", "%s", why);
		return r;
	}
	for (i = 0; i < ij->n_fly && ij->fly[i].tag != w.tag; i++)
		;
	if (i == ij->n_fly) {
		if (first)
			JOB_FAIL(ij, -EPROTO, "malware:error",
				 "the scanner answered for a file never sent");
		return -EPROTO;
	}
	snprintf(path, sizeof(path), "%s", ij->fly[i].path);
	ij->n_bytes += ij->fly[i].size;
	ij->fly[i] = ij->fly[--ij->n_fly];
	if (w.err < 0) {
		if (first)
			JOB_FAIL(ij, w.err, "malware:error",
				 "scan failed: %s (at %.200s)", w.why, path);
		return w.err > -4096 ? w.err : -EIO;
	}
	ij->n_files++;
	ij->n_cached += w.cached != 0;
	if (w.result != TF_SCAN_CLEAN) {
		bool inf = w.result == TF_SCAN_INFECTED;
		if (first) {
			snprintf(ij->sig, sizeof(ij->sig), "%s", w.name);
			JOB_FAIL(ij, -EACCES, inf ? "malware" : "malware:limit",
				 "%s in %.300s: %s",
				 inf ? "malware found" : "not fully scanned",
				 path, w.name);
		}
		return -EACCES;
	}
	return 0;
}

/* Hand one file to the scanner, first settling one in flight if the
 * window is full. */
static int scan_submit(struct install_job *ij, int fd, const char *path,
		       uint64_t size)
{
	char why[320];
	int r;

	if (ij->n_fly == SCAN_WINDOW && (r = scan_collect(ij)) < 0)
		return r;
	r = tfd_scanner_send(fd, ++ij->next_tag, why, sizeof(why));
	if (r < 0) {
		JOB_FAIL(ij, r, "malware:error", "%s (at %s)", why, path);
		return r;
	}
	ij->fly[ij->n_fly].tag = ij->next_tag;
	ij->fly[ij->n_fly].size = size;
	snprintf(ij->fly[ij->n_fly].path, sizeof(ij->fly[0].path), "%s", path);
	ij->n_fly++;
	return 0;
}

/* Scan every regular file beneath dir (an fd of the detached image's
 * root). The daemon walks, the helper only reads the fds it is given:
 * the image's files keep their owners and modes, which nobody (the
 * helper) could not open; and the walk is getdents and openat on a
 * read-only, nodev, nosuid erofs mount of verified bytes, with
 * O_NOFOLLOW: a symlink is never followed, a device never opened. */
static int scan_tree(struct install_job *ij, int dir, unsigned depth,
		     char *path, size_t plen)
{
	_cleanup_close_ int dup = fcntl(dir, F_DUPFD_CLOEXEC, 3);
	struct dirent *e;
	DIR *dd;
	int r = 0;

	if (depth > SCAN_DEPTH_MAX) {
		JOB_FAIL(ij, -ELOOP, "malware:limit",
			 "not fully scanned: directories nested deeper than "
			 "%d at %s",
			 SCAN_DEPTH_MAX, path);
		return -ELOOP;
	}
	if (dup < 0 || (dd = fdopendir(dup)) == NULL) {
		r = tf_negerrno();
		JOB_FAIL(ij, r, TF_R_APP_IO, "cannot read %s in the image: %s",
			 path[0] ? path : "/", strerror(-r));
		return r;
	}
	dup = -1;
	while (r == 0 && (e = readdir(dd)) != NULL) {
		size_t l = plen;
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (++ij->n_entries > SCAN_FILES_MAX) {
			JOB_FAIL(ij, -EMLINK, "malware:limit",
				 "not fully scanned: more than %d files",
				 SCAN_FILES_MAX);
			r = -EMLINK;
			break;
		}
		l += (size_t)snprintf(path + plen, PATH_MAX - plen, "/%s",
				      e->d_name);
		if (l >= PATH_MAX) {
			JOB_FAIL(ij, -ENAMETOOLONG, "malware:limit",
				 "not fully scanned: a path longer than %d",
				 PATH_MAX);
			r = -ENAMETOOLONG;
			break;
		}
		if (fstatat(dirfd(dd), e->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			r = tf_negerrno();
			JOB_FAIL(ij, r, TF_R_APP_IO, "cannot stat %s: %s", path,
				 strerror(-r));
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub =
				openat(dirfd(dd), e->d_name,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC);
			if (sub < 0) {
				r = tf_negerrno();
				JOB_FAIL(ij, r, TF_R_APP_IO,
					 "cannot open %s: %s", path,
					 strerror(-r));
				break;
			}
			r = scan_tree(ij, sub, depth + 1, path, l);
		} else if (S_ISREG(st.st_mode)) {
			_cleanup_close_ int f =
				openat(dirfd(dd), e->d_name,
				       O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
					       O_NOCTTY | O_CLOEXEC);
			if (f < 0) {
				r = tf_negerrno();
				JOB_FAIL(ij, r, TF_R_APP_IO,
					 "cannot open %s: %s", path,
					 strerror(-r));
				break;
			}
			r = scan_submit(ij, f, path, (uint64_t)st.st_size);
		}
		/* symlinks are data; devices, FIFOs and sockets do nothing on
		 * a nodev mount: neither is code to scan */
		path[plen] = '\0';
	}
	closedir(dd);
	return r;
}

static void install_run(struct tfd_job *j)
{
	struct install_job *ij = (struct install_job *)j;
	struct tfd_persona *p = ij->p;
	struct tf_pkg_err perr = {0};
	uint64_t t = tf_now_ns();
	char err[512];
	int r;

	r = copy_in(ij->dfd, ij->src, &ij->fd);
	ij->t_copy = tf_now_ns() - t;
	if (r < 0) {
		tfd_appcheck_end(&ij->ck);
		JOB_FAIL(ij, r, r == -EFBIG ? TF_R_PKG_TOO_LARGE : TF_R_APP_IO,
			 "%s",
			 r == -EINVAL  ? "the package must be a regular file"
			 : r == -EFBIG ? "the package is too large"
			 : r == -ENOSPC
				 ? "no space left for the package (nothing "
				   "was installed)"
				 : strerror(-r));
		return;
	}
	t = tf_now_ns();
	r = tfd_appcheck_run(&ij->ck, ij->suite_id, p->cfg->app_trust, ij->fd,
			     &ij->v);
	ij->t_check = tf_now_ns() - t;
	if (r < 0) {
		JOB_FAIL(ij, r, ij->v.reason[0] ? ij->v.reason : "pkg.check",
			 "%s", ij->v.msg);
		return;
	}
	r = catalog_allows(ij->d, p, ij->dfd, &ij->v.m, ij->v.hash, &perr);
	if (r < 0) {
		JOB_FAIL(ij, r, perr.reason ? perr.reason : "", "%s", perr.msg);
		return;
	}
	ij->update = tfd_app_load(ij->d, p, ij->v.m.name, &ij->old) == 0;
	if (ij->update &&
	    tf_pkg_check_update(&ij->old.m, &ij->v.m, &perr) < 0) {
		JOB_FAIL(ij, -ESTALE, TF_R_PKG_ROLLBACK, "%s", perr.msg);
		return;
	}
	ij->a.m = ij->v.m;
	ij->a.off = ij->v.off;
	ij->a.unscanned = !ij->scan;
	/* the bytes verified, mounted (detached: nothing sees it yet) */
	t = tf_now_ns();
	ij->mfd = image_mount_fd(ij->fd, &ij->a, err, sizeof(err));
	ij->t_mount = tf_now_ns() - t;
	if (ij->mfd < 0) {
		JOB_FAIL(ij, ij->mfd, TF_R_APP_IO, "%s", err);
		return;
	}
	if (ij->scan) {
		_cleanup_close_ int root = -1;
		char path[PATH_MAX] = "";
		t = tf_now_ns();
		root = openat(ij->mfd, ".",
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (root < 0) {
			r = tf_negerrno();
			JOB_FAIL(ij, r, TF_R_APP_IO,
				 "cannot open the image's root: %s",
				 strerror(-r));
			return;
		}
		r = scan_tree(ij, root, 0, path, 0);
		/* every verdict in flight, also after a refusal: the helper's
		 * next user must not read this install's answers */
		while (ij->n_fly > 0) {
			int k = scan_collect(ij);
			if (r == 0)
				r = k;
		}
		ij->t_scan = tf_now_ns() - t;
		if (r < 0)
			return;
	}
	/* durable before the loop names it (copy_in started the writeback) */
	t = tf_now_ns();
	if (fdatasync(ij->fd) < 0) {
		r = tf_negerrno();
		JOB_FAIL(ij, r, TF_R_APP_IO, "%s",
			 r == -ENOSPC
				 ? "no space left for the package (nothing "
				   "was installed)"
				 : strerror(-r));
		return;
	}
	ij->t_copy += tf_now_ns() - t;
	ij->err = 0;
}

/* the loop's side of the end: link, attach, record (install_done) */
static int install_commit(struct install_job *ij)
{
	struct tfd_persona *p = ij->p;
	struct tfd_app *a = &ij->a;
	char err[512];
	int r;

	/* an update keeps its uid (its data's files are that uid's), unless
	 * the old record's is no app uid or another record's too: edited on
	 * the disk (image_check refused it at the start), so a fresh one */
	a->uid = ij->update && uid_own(ij->dfd, ij->old.uid, a->m.name)
			 ? ij->old.uid
			 : pick_uid(ij->dfd, a->m.name);
	snprintf(a->image, sizeof(a->image), "%s-%" PRIu64 ".tfa", a->m.name,
		 a->m.version_code);
	if (a->uid == 0 || a->uid >= p->cfg->uid_count) {
		JOB_FAIL(ij, -ENOSPC, TF_R_APP_IO,
			 "no free app uid in the persona's uid range");
		return -ENOSPC;
	}
	r = link_in(ij->dfd, ij->fd, a->image);
	if (r < 0) {
		JOB_FAIL(ij, r, TF_R_APP_IO, "%s",
			 r == -ENOSPC ? "no space left (nothing was installed)"
				      : strerror(-r));
		return r;
	}
	if (tf_fault_injected("app-crash-linked"))
		raise(SIGKILL);
	/* a persona stopped meanwhile mounts it at its next start */
	if (p->rt != NULL) {
		r = attach_mfd(p, ij->mfd, a, err, sizeof(err));
		if (r < 0) {
			(void)unlinkat(ij->dfd, a->image, 0);
			JOB_FAIL(ij, r, TF_R_APP_IO, "%s", err);
			return r;
		}
	}
	if (tf_fault_injected("app-crash-mounted"))
		raise(SIGKILL);
	r = record_save(ij->dfd, a);
	if (r < 0) {
		/* the old record stays: the next start mounts the old one */
		(void)unlinkat(ij->dfd, a->image, 0);
		JOB_FAIL(ij, r, TF_R_APP_IO, "%s",
			 r == -ENOSPC ? "no space left for the app's record"
				      : strerror(-r));
		return r;
	}
	/* an update's permissions apply to its running processes too */
	tfd_app_cgroup_refresh(p, &a->m);
	if (ij->update && strcmp(ij->old.image, a->image) != 0)
		if (tf_unlink_durable_at(ij->dfd, ij->old.image) < 0)
			tf_warn("%s: cannot remove %s", p->cfg->name,
				ij->old.image);
	apps_firewall(ij->d, p, ij->dfd);
	return 0;
}

static void install_done(struct tfd *d, struct tfd_job *j)
{
	struct install_job *ij = (struct install_job *)j;
	struct tfd_persona *p = ij->p;
	struct tfd_reply rep = {.exit_code = -1};
	const struct tfd_app *a = &ij->a;
	const char *name = ij->v.m.name[0] ? ij->v.m.name : "";
	const char *lname = name[0] ? name : "(not verified)";
	char scan[96];

	*slot_of(d, p) = NULL;
	if (ij->scan)
		tfd_scanner_release();
	if (ij->err == 0 && !j->cancelled)
		(void)install_commit(ij);
	else if (ij->err == 0)
		JOB_FAIL(ij, -ECANCELED, TF_R_APP_IO,
			 "the daemon is shutting down");
	if (ij->scan)
		snprintf(scan, sizeof(scan), "clean (%" PRIu64 " files)",
			 ij->n_files);
	else
		snprintf(scan, sizeof(scan), "none");
	if (ij->err < 0) {
		/* malware:SIGNAME; a limit or an error: malware:limit|error */
		if (strcmp(ij->reason, "malware") == 0)
			snprintf(ij->reason, sizeof(ij->reason), "malware:%s",
				 ij->sig);
		tfd_audit(d, TF_AUDIT_SYNC, "app.refused", p, j->c,
			  "name=%s\treason=%s", name, ij->reason);
		tfd_reply_fail(&rep, ij->err,
			       strncmp(ij->reason, "malware", 7) == 0
				       ? TF_R_APP_MALWARE
				       : ij->reason,
			       p->cfg->name, "app install in %s: %s",
			       p->cfg->name, ij->msg);
	} else {
		tfd_audit(d, TF_AUDIT_SYNC,
			  ij->update ? "app.updated" : "app.installed", p, j->c,
			  "name=%s\tversion=%s\tversion_code=%" PRIu64
			  "\tuid=%u\tscan=%s",
			  a->m.name, a->m.version, a->m.version_code, a->uid,
			  ij->scan ? "clean" : "none");
		if (asprintf(&rep.text,
			     "%s %s %s (version code %" PRIu64 ") in %s%s\n",
			     ij->update ? "updated" : "installed", a->m.name,
			     a->m.version, a->m.version_code, p->cfg->name,
			     ij->scan ? ""
				      : " (not scanned: no scan_db for this "
					"persona)") < 0)
			rep.text = NULL;
	}
	/* the steps' times, for bench/apps/install.sh (--json) */
	if (asprintf(&rep.json,
		     "{\"ok\":%s,\"name\":\"%s\",\"scan\":\"%s\","
		     "\"files\":%" PRIu64 ",\"files_cached\":%" PRIu64
		     ",\"scanned_bytes\":%" PRIu64 ","
		     "\"copy_ms\":%.3f,\"verify_ms\":%.3f,\"mount_ms\":%.3f,"
		     "\"scan_ms\":%.3f}\n",
		     ij->err < 0 ? "false" : "true", name,
		     ij->scan ? "clamav" : "none", ij->n_files, ij->n_cached,
		     ij->n_bytes, (double)ij->t_copy / 1e6,
		     (double)ij->t_check / 1e6, (double)ij->t_mount / 1e6,
		     (double)ij->t_scan / 1e6) < 0)
		rep.json = NULL;
	tf_info("%s: app install %s: copy %.1f ms, verify %.1f ms, mount "
		"%.1f ms, scan %.1f ms (%" PRIu64 " files): %s",
		p->cfg->name, lname, (double)ij->t_copy / 1e6,
		(double)ij->t_check / 1e6, (double)ij->t_mount / 1e6,
		(double)ij->t_scan / 1e6, ij->n_files,
		ij->err < 0 ? ij->msg : scan);
	if (ij->mfd >= 0)
		close(ij->mfd);
	if (ij->fd >= 0)
		close(ij->fd);
	close(ij->src);
	close(ij->dfd);
	tfd_appcheck_end(&ij->ck);
	{
		struct tfd_conn *c = j->c;
		free(ij);
		tfd_conn_reply(d, c, &rep);
	}
}

void tfd_app_forget(struct tfd_conn *c)
{
	for (size_t i = 0; i < TF_PERSONA_MAX; i++)
		if (installing[i] != NULL && installing[i]->j.c == c)
			installing[i]->j.c = NULL;
}

bool tfd_app_installing(struct tfd *d, struct tfd_persona *p)
{
	return *slot_of(d, p) != NULL;
}

enum tfd_disp tfd_app_install(struct tfd *d, struct tfd_persona *p,
			      struct tfd_conn *c, int src,
			      struct tfd_reply *rep)
{
	_cleanup_close_ int dfd = -1, sfd = -1;
	struct install_job *ij;
	char why[320];
	bool scan;
	int r;

	if (p->cfg->app_trust[0] == '\0') {
		refuse(d, p, c, rep, -EKEYREJECTED, TF_R_PKG_UNTRUSTED, NULL,
		       "no app_trust in device.conf: no signer is trusted");
		return TFD_REPLY_NOW;
	}
	if (*slot_of(d, p) != NULL) {
		tfd_reply_fail(rep, -EBUSY, TF_R_APP_BUSY, p->cfg->name,
			       "app install in %s: busy: another install is "
			       "running there; try again when it is done",
			       p->cfg->name);
		return TFD_REPLY_NOW;
	}
	/* every package is scanned (issue 13 item 6) where the persona has a
	 * database; a credential persona (secure) without one refuses, as
	 * its imports do; a device-bound one installs, said in the audit,
	 * the answer and app list (docs/packages.md "Scanning") */
	scan = p->cfg->credential || p->cfg->scan_db[0] ||
	       p->cfg->scan_trust[0];
	if (scan && (!p->cfg->scan_db[0] || !p->cfg->scan_trust[0])) {
		refuse(d, p, c, rep, -ENOENT, TF_R_APP_NOT_SCANNED, NULL,
		       "no scanner database for this persona (device.conf "
		       "scan_db and scan_trust): installs are refused until "
		       "one is set (twofold pkg scandb)");
		return TFD_REPLY_NOW;
	}
	dfd = apps_dir(d, p, true);
	if (dfd < 0) {
		tfd_reply_fail(rep, dfd, TF_R_APP_IO, p->cfg->name,
			       "app install: cannot make the app store: %s",
			       strerror(-dfd));
		return TFD_REPLY_NOW;
	}
	/* the request's fds are closed when the handler returns */
	sfd = fcntl(src, F_DUPFD_CLOEXEC, 3);
	ij = sfd < 0 ? NULL : calloc(1, sizeof(*ij));
	if (ij == NULL) {
		tfd_reply_fail(rep, -ENOMEM, TF_R_DAEMON_NOMEM, NULL,
			       "app install: out of memory");
		return TFD_REPLY_NOW;
	}
	ij->fd = ij->mfd = -1;
	r = tfd_appcheck_spawn(p, &ij->ck);
	if (r < 0) {
		free(ij);
		snprintf(why, sizeof(why),
			 "cannot start the package checker: %s", strerror(-r));
		refuse(d, p, c, rep, r, TF_R_APP_IO, NULL, why);
		return TFD_REPLY_NOW;
	}
	if (scan) {
		r = tfd_scanner_claim(d, p, why, sizeof(why));
		if (r < 0) {
			tfd_appcheck_end(&ij->ck);
			free(ij);
			refuse(d, p, c, rep, r,
			       r == -EBUSY ? TF_R_APP_BUSY
					   : TF_R_APP_NOT_SCANNED,
			       NULL, why);
			return TFD_REPLY_NOW;
		}
	}
	ij->d = d;
	ij->p = p;
	ij->scan = scan;
	ij->suite_id = ((const struct tf_suite *)d->suite)->id;
	ij->j.src.fd = -1;
	ij->j.run = install_run;
	ij->j.done = install_done;
	ij->j.c = c;
	ij->j.what = "app install";
	ij->src = sfd;
	ij->dfd = dfd;
	r = tfd_job_start(d, &ij->j);
	if (r < 0) {
		if (scan)
			tfd_scanner_release();
		tfd_appcheck_end(&ij->ck);
		free(ij);
		tfd_reply_fail(rep, -EAGAIN, TF_R_APP_IO, p->cfg->name,
			       "app install: no worker thread; try again");
		return TFD_REPLY_NOW;
	}
	sfd = dfd = -1; /* the job's now */
	*slot_of(d, p) = ij;
	c->waiting = true;
	return TFD_REPLY_LATER;
}

/* ---- list ---- */

static void perms_text(uint32_t perms, char *buf, size_t cap, bool json)
{
	size_t len = 0;

	buf[0] = '\0';
	for (uint32_t b = 0; b < 32; b++) {
		const char *nm =
			(perms & (1u << b)) ? tf_pkg_perm_name(1u << b) : NULL;
		if (nm == NULL)
			continue;
		len += (size_t)snprintf(buf + len, cap - len,
					json ? "%s\"%s\"" : "%s%s",
					len ? "," : "", nm);
		if (len >= cap)
			break;
	}
}

void tfd_app_list(struct tfd *d, struct tfd_persona *p, struct tfd_reply *rep)
{
	_cleanup_close_ int dfd = apps_dir(d, p, false);
	_cleanup_free_ struct tfd_app *v = NULL;
	size_t n = 0, tlen = 0, jlen = 0;
	FILE *t, *j;

	if (dfd >= 0)
		(void)records_all(dfd, &v, &n);
	if (!tfd_streams_open(&t, &rep->text, &tlen, &j, &rep->json, &jlen)) {
		tfd_reply_fail(rep, -ENOMEM, TF_R_DAEMON_NOMEM, NULL,
			       "out of memory");
		return;
	}
	fprintf(j, "{\"persona\":\"%s\",\"apps\":[", p->cfg->name);
	for (size_t i = 0; i < n; i++) {
		char pt[256], pj[320], hx[2 * TF_HASH_BYTES + 1];
		const struct tf_pkg_manifest *m = &v[i].m;
		perms_text(m->permissions, pt, sizeof(pt), false);
		perms_text(m->permissions, pj, sizeof(pj), true);
		hex(m->payload_hash, TF_HASH_BYTES, hx);
		struct tf_pkg_err perr = {0};
		bool off = catalog_allows(d, p, dfd, m, m->payload_hash,
					  &perr) < 0;
		fprintf(t, "%-24s %-12s code %-6" PRIu64 " uid %-6u %s%s%s\n",
			m->name, m->version, m->version_code, v[i].uid,
			pt[0] ? pt : "-",
			v[i].unscanned ? " (not scanned)" : "",
			off ? " (disabled by the catalog)" : "");
		/* name and version are [a-z0-9.-] and printable ASCII
		 * without quotes (the manifest parser's rules) */
		fprintf(j,
			"%s{\"name\":\"%s\",\"version\":\"%s\","
			"\"version_code\":%" PRIu64 ",\"uid\":%u,"
			"\"permissions\":[%s],\"payload_hash\":\"%s\","
			"\"disabled\":%s,\"scanned\":%s,\"entries\":[",
			i ? "," : "", m->name, m->version, m->version_code,
			v[i].uid, pj, hx, off ? "true" : "false",
			v[i].unscanned ? "false" : "true");
		for (size_t e = 0; e < m->n_entries; e++)
			fprintf(j, "%s\"%s\"", e ? "," : "",
				m->entries[e].name);
		fprintf(j, "]}");
	}
	fprintf(j, "]}\n");
	if (n == 0)
		fprintf(t, "no apps installed in %s\n", p->cfg->name);
	fclose(t);
	fclose(j);
}

/* ---- remove ---- */

void tfd_app_remove(struct tfd *d, struct tfd_persona *p,
		    const struct tfd_conn *c, const char *name,
		    struct tfd_reply *rep)
{
	_cleanup_close_ int dfd = -1;
	static struct tfd_app a;
	struct ns_op op = {.kind = NS_REMOVE, .mfd = -1};
	char file[TF_PKG_NAME_MAX + 8], err[512];
	int r;

	if (tfd_app_installing(d, p)) {
		tfd_reply_fail(rep, -EBUSY, TF_R_APP_BUSY, p->cfg->name,
			       "app remove: busy: an install is running in %s; "
			       "try again when it is done",
			       p->cfg->name);
		return;
	}
	if (!tfd_app_name_ok(name) || tfd_app_load(d, p, name, &a) < 0) {
		char esc[80];
		tf_escape(name, strlen(name), esc, sizeof(esc));
		tfd_reply_fail(rep, -ENOENT, TF_R_APP_NOT_INSTALLED,
			       p->cfg->name,
			       "app remove: %s is not installed in %s (see: "
			       "twofold app list %s)",
			       esc, p->cfg->name, p->cfg->name);
		return;
	}
	dfd = apps_dir(d, p, false);
	if (dfd < 0) {
		tfd_reply_fail(rep, dfd, TF_R_APP_IO, p->cfg->name,
			       "app remove: %s", strerror(-dfd));
		return;
	}
	/* the record first: after a crash the app is gone, and the next
	 * start removes its image */
	snprintf(file, sizeof(file), "%s.app", name);
	r = tf_unlink_durable_at(dfd, file);
	if (r < 0) {
		tfd_reply_fail(rep, r, TF_R_APP_IO, p->cfg->name,
			       "app remove: cannot remove %s's record: %s",
			       name, strerror(-r));
		return;
	}
	/* its processes go before its image: none keeps running code that
	 * is no longer installed */
	tfd_app_stop(d, p, a.m.name, "removed");
	if (tf_unlink_durable_at(dfd, a.image) < 0)
		tf_warn("%s: cannot remove %s", p->cfg->name, a.image);
	/* the gate stops allowing its mount before it goes */
	tfd_gate_app_detached(p, a.m.name);
	if (p->rt) {
		op.name = a.m.name;
		op.app_uid = p->cfg->uid_base + a.uid;
		r = ns_run(p, &op, err, sizeof(err));
		if (r < 0)
			tf_warn("app remove: %s", err);
	}
	apps_firewall(d, p, dfd);
	tfd_audit(d, TF_AUDIT_SYNC, "app.removed", p, c,
		  "name=%s\tversion=%s\tversion_code=%" PRIu64, a.m.name,
		  a.m.version, a.m.version_code);
	if (asprintf(&rep->text, "removed %s from %s\n", a.m.name,
		     p->cfg->name) < 0)
		rep->text = NULL;
}

/* ---- running apps: their cgroups, stop, disable ---- */

_Static_assert(TF_PERM_CAMERA == TF_PROF_PERM_CAMERA &&
		       TF_PERM_MICROPHONE == TF_PROF_PERM_MICROPHONE,
	       "profile.h and pkg.h agree on the device permissions");

int tfd_app_cgroup(struct tfd_persona *p, const struct tf_pkg_manifest *m)
{
	struct tf_cg_dev rules[TF_PROF_DEV_MAX + 4];
	size_t n;

	if (p->rt == NULL)
		return -ESRCH;
	n = tf_profile_app_dev_rules(tf_persona_profile(p->rt), m->permissions,
				     rules, TF_ARRAY_SIZE(rules));
	return tf_persona_app_cgroup(p->rt, m->name, rules, n);
}

void tfd_app_cgroup_refresh(struct tfd_persona *p,
			    const struct tf_pkg_manifest *m)
{
	int r;

	if (p->rt == NULL)
		return;
	r = tfd_app_cgroup(p, m);
	if (r < 0 && r != -EOPNOTSUPP)
		tf_warn("%s: app %s: cannot set its device policy: %s",
			p->cfg->name, m->name, strerror(-r));
}

/* How long remove and disable wait for an app's processes to be gone
 * after cgroup.kill (they get SIGKILL; this is only the exit path) */
#define APP_KILL_WAIT_MS 2000

int tfd_app_stop(struct tfd *d, struct tfd_persona *p, const char *name,
		 const char *why)
{
	int r;

	if (p->rt == NULL)
		return 0;
	r = tf_persona_app_kill(p->rt, name, APP_KILL_WAIT_MS);
	if (r == -EOPNOTSUPP) {
		/* no v2 hierarchy: its runs are in the persona's cgroup; kill
		 * the runs the daemon tracks (their process groups) */
		for (size_t i = 0; i < TFD_CONN_MAX; i++) {
			struct tfd_conn *c = d->conns[i];
			if (c && c->app.pidfd >= 0 && c->app.p == p &&
			    strcmp(c->app.name, name) == 0)
				(void)tfd_app_signal(c, SIGKILL);
		}
		r = 0;
	}
	if (r < 0)
		tf_warn("%s: app %s (%s): stopping its processes: %s",
			p->cfg->name, name, why, strerror(-r));
	return r;
}

static bool slot_bit(struct tfd_persona *p, uint32_t uid, bool *was, bool set)
{
	uint32_t s = uid - TFD_APP_UID_FIRST;
	uint64_t m;

	if (uid < TFD_APP_UID_FIRST || s >= 64 * TF_ARRAY_SIZE(p->appcat.off))
		return false;
	m = 1ull << (s % 64);
	*was = (p->appcat.off[s / 64] & m) != 0;
	if (set)
		p->appcat.off[s / 64] |= m;
	else
		p->appcat.off[s / 64] &= ~m;
	return true;
}

/* Re-check every installed app of a running persona against the catalog:
 * one no longer allowed is disabled (its processes killed, audited once
 * per transition), one allowed again is enabled (run --app works). */
static void apps_recheck(struct tfd *d, struct tfd_persona *p)
{
	_cleanup_close_ int dfd = apps_dir(d, p, false);
	_cleanup_free_ struct tfd_app *v = NULL;
	size_t n = 0;

	if (dfd < 0 || records_all(dfd, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct tf_pkg_err perr = {0};
		bool off = catalog_allows(d, p, dfd, &v[i].m,
					  v[i].m.payload_hash, &perr) < 0;
		bool was = false;

		if (!slot_bit(p, v[i].uid, &was, off) || was == off)
			continue;
		if (!off) {
			char err[512];
			tf_info("%s: app %s is allowed again", p->cfg->name,
				v[i].m.name);
			if (p->rt && (uid_shared(v, n, i) ||
				      app_attach(d, p, dfd, &v[i], err,
						 sizeof(err)) < 0))
				tf_warn("%s: app %s not mounted: %s",
					p->cfg->name, v[i].m.name, err);
			continue;
		}
		tf_warn("%s: app %s disabled: %s", p->cfg->name, v[i].m.name,
			perr.msg);
		tfd_audit(d, TF_AUDIT_SYNC, "app.disabled", p, NULL,
			  "name=%s\tversion_code=%" PRIu64 "\treason=%s",
			  v[i].m.name, v[i].m.version_code,
			  perr.reason ? perr.reason : "");
		(void)tfd_app_stop(d, p, v[i].m.name, "disabled");
		app_unmount(p, &v[i]);
	}
}

/* A catalog is re-read when its file changed, else once a minute (its
 * expiry passes without a change). */
#define CATALOG_RECHECK_NS (60ull * 1000000000ull)

void tfd_apps_tick(struct tfd *d)
{
	uint64_t now = tf_now_ns();

	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		struct stat st;
		int64_t mt;
		bool same;

		if (p->rt == NULL || p->cfg->app_catalog[0] == '\0')
			continue;
		if (stat(p->cfg->app_catalog, &st) < 0)
			memset(&st, 0, sizeof(st)); /* gone: every app off */
		mt = (int64_t)st.st_mtim.tv_sec * 1000000000 +
		     st.st_mtim.tv_nsec;
		same = p->appcat.seen && p->appcat.dev == st.st_dev &&
		       p->appcat.ino == st.st_ino &&
		       p->appcat.size == st.st_size && p->appcat.mtime_ns == mt;
		if (same && now - p->appcat.checked_ns < CATALOG_RECHECK_NS)
			continue;
		/* written within the last second: maybe still being written
		 * (cp truncates, then writes); a half-written catalog fails
		 * its signature and would disable every app for a moment.
		 * Looked at again at the next tick. */
		if (!same && st.st_ino != 0 &&
		    st.st_mtim.tv_sec >= time(NULL) - 1 &&
		    st.st_mtim.tv_sec <= time(NULL) + 1)
			continue;
		p->appcat.seen = true;
		p->appcat.dev = st.st_dev;
		p->appcat.ino = st.st_ino;
		p->appcat.size = st.st_size;
		p->appcat.mtime_ns = mt;
		p->appcat.checked_ns = now;
		apps_recheck(d, p);
	}
}
