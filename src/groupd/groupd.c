/* SPDX-License-Identifier: ISC */
/*
 * twofold-groupd: the group authority of talk groups (issue 15, like
 * MCPTT's group management server). Its own process with its own
 * group-authority certificate, separate from the relays: a relay that is
 * broken into cannot add a member, because members accept only rosters
 * this key signed, and epoch secrets only over an end-to-end session with
 * the holder of this certificate.
 *
 *   twofold-groupd --state DIR init --key KEY --cert CERT --ca CA.pub
 *   twofold-groupd --state DIR create GROUP
 *   twofold-groupd --state DIR add GROUP CERT [--dispatcher]
 *   twofold-groupd --state DIR remove GROUP OFFICER[/DEVICE]
 *   twofold-groupd --state DIR prune --denylist FILE
 *   twofold-groupd --state DIR list
 *   twofold-groupd --state DIR publish GROUP --relay ADDR:PORT
 *                  --relay-pub FILE --comms COMMS_STATE
 *
 * Every change signs a new roster (epoch + 1). A removal makes a fresh
 * random epoch secret (the leaver cannot compute it); a join ratchets it
 * forward, secret' = KDF(secret, join) (the joiner cannot compute the
 * old one). `publish` uploads the signed roster to the relay (which then
 * routes by it at once: a removed device gets nothing more) and sends
 * each member, over the pairwise end-to-end session of groupd's own
 * twofold-comms service (its control socket), one key message:
 *   twofold-group-key v1 GROUP EPOCH ROSTER-HASH SECRET   (hex)
 * The member fetches the roster from the relay, checks it is the one
 * hashed here and signed by the certificate whose key it has the session
 * with, and only then uses the secret.
 *
 * State, every file written atomically: DIR/key (0600), DIR/cert,
 * DIR/ca.pub; DIR/groups/GROUP/{roster, secret (0600), pending};
 * DIR/devices/HASH ("officer/device") and HASH.cert (the certificate
 * `add` verified: its serial is what a deny-list names).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/comms.h"
#include "twofold/roster.h"
#include "twofold/secmem.h"

#define PROG "twofold-groupd"
#define KEYMSG_PREFIX "twofold-group-key v1 "
/* a roster is re-signed on every change; it lives this long at most
 * (--validity changes it; `serve` re-signs it before it runs out) */
#define ROSTER_VALIDITY (TF_ROSTER_MAX_VALIDITY - 3600)
#define VALIDITY_MIN 3 /* seconds: what a test uses, no less */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 16000
#define DENYLIST_FILE_MAX (1u << 20) /* 65536 serials and a signature */

struct authority {
	const struct tf_suite *suite;
	struct tf_cert_anchor anchor;
	struct tf_privfile pf;
	struct tf_key *sign;
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
	struct tf_cert me;
};

static const char *D;
/* serve's signalfd: the relay's waits end early on SIGTERM (-1: none) */
static int stop_fd = -1;
static uint64_t validity = ROSTER_VALIDITY;
static bool serving; /* inside `serve`: no "publish it" hint */

static int fail(const char *fmt, ...) TF_PRINTF(1, 2);
static int usage(void);
static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static int readf(const char *path, size_t max, uint8_t **out, size_t *len)
{
	char *b = NULL;
	int r = tf_read_file_at(AT_FDCWD, path, max, &b, len);

	if (r == 0)
		*out = (uint8_t *)b;
	return r;
}

static void pathf(char *out, size_t cap, const char *fmt, ...) TF_PRINTF(3, 4);
static void pathf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = snprintf(out, cap, "%s/", D);
	vsnprintf(out + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool group_ok(const char *g)
{
	size_t n = strlen(g);

	if (n == 0 || n > TF_CERT_ID_MAX || g[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((g[i] >= 'a' && g[i] <= 'z') ||
		      (g[i] >= 'A' && g[i] <= 'Z') ||
		      (g[i] >= '0' && g[i] <= '9') || g[i] == '-' ||
		      g[i] == '_' || g[i] == '.' || g[i] == '@'))
			return false;
	return true;
}

static int load_authority(struct authority *a)
{
	char p[512];
	uint8_t *b = NULL;
	struct tf_pubfile pub;
	size_t len;
	int r;

	pathf(p, sizeof(p), "ca.pub");
	if (readf(p, TF_PUBFILE_MAX, &b, &len) < 0 ||
	    tf_pubfile_parse(b, len, &pub) < 0 ||
	    tf_cert_anchor_init(&a->anchor, pub.suite, pub.sign_pk,
				pub.sign_pk_len) < 0) {
		free(b);
		return fail("%s is not a CA public key; run `" PROG
			    " --state %s init` first",
			    p, D);
	}
	free(b);
	a->suite = pub.suite;
	pathf(p, sizeof(p), "key");
	if (readf(p, TF_PRIVFILE_BYTES, &b, &len) < 0 ||
	    tf_privfile_parse(b, len, &a->pf) < 0 ||
	    a->pf.kind != TF_KEYFILE_DEVICE || a->pf.suite != a->suite ||
	    tf_privfile_sign_key(&a->pf, &a->sign) < 0) {
		if (b)
			tf_memzero(b, len);
		free(b);
		return fail("%s is not a %s identity key", p, a->suite->name);
	}
	tf_memzero(b, len);
	free(b);
	pathf(p, sizeof(p), "cert");
	if (readf(p, TF_CERT_MAX, &b, &len) < 0)
		return fail("cannot read %s", p);
	memcpy(a->cert, b, len);
	a->certlen = len;
	free(b);
	r = tf_cert_verify(a->cert, a->certlen, &a->anchor,
			   (uint64_t)time(NULL),
			   TF_ROLE_BIT(TF_ROLE_GROUP_AUTHORITY), NULL, &a->me);
	if (r < 0)
		return fail("certificate %s refused: %s (issue one with "
			    "`twofold-ca issue --role group-authority`)",
			    p, tf_cert_reason(r));
	return 0;
}

static void authority_free(struct authority *a)
{
	tf_key_free(a->sign);
	tf_privfile_free(&a->pf);
}

static int copy_file(const char *from, const char *to, size_t max, mode_t mode)
{
	uint8_t *b = NULL;
	size_t len;
	int r = readf(from, max, &b, &len);

	if (r == 0)
		r = tf_atomic_write(to, b, len, mode);
	if (b)
		tf_memzero(b, len);
	free(b);
	return r;
}

static int cmd_init(int argc, char **argv)
{
	const char *key = NULL, *cert = NULL, *ca = NULL;
	struct authority a = {0};
	char p[512];
	int r;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--key"))
			key = argv[i + 1];
		else if (!strcmp(argv[i], "--cert"))
			cert = argv[i + 1];
		else if (!strcmp(argv[i], "--ca"))
			ca = argv[i + 1];
	}
	if (!key || !cert || !ca)
		return fail("init needs --key KEY --cert CERT --ca CA.pub");
	if ((mkdir(D, 0700) < 0 && errno != EEXIST))
		return fail("cannot create %s: %s", D, strerror(errno));
	pathf(p, sizeof(p), "groups");
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return fail("cannot create %s: %s", p, strerror(errno));
	pathf(p, sizeof(p), "key");
	if (copy_file(key, p, TF_PRIVFILE_BYTES, 0600) < 0)
		return fail("cannot copy the key %s", key);
	pathf(p, sizeof(p), "cert");
	if (copy_file(cert, p, TF_CERT_MAX, 0644) < 0)
		return fail("cannot copy the certificate %s", cert);
	pathf(p, sizeof(p), "ca.pub");
	if (copy_file(ca, p, TF_PUBFILE_MAX, 0644) < 0)
		return fail("cannot copy the CA key %s", ca);
	r = load_authority(&a);
	authority_free(&a);
	return r;
}

/* ---- groups ---- */

/* The current roster (NULL: none yet, the group has no member) and the
 * epoch secret, which lives in secure memory. */
struct group {
	char id[TF_CERT_ID_MAX + 1];
	struct tf_roster *r;
	uint8_t *secret;
};

static void group_free(struct group *g)
{
	free(g->r);
	tf_secure_free(g->secret);
	memset(g, 0, sizeof(*g));
}

static int group_load(const char *id, struct group *g)
{
	char p[512];
	uint8_t *b = NULL;
	size_t len;
	struct stat st;

	memset(g, 0, sizeof(*g));
	if (!group_ok(id))
		return fail("%s is not a group id (letters, digits, -_.@)", id);
	snprintf(g->id, sizeof(g->id), "%s", id);
	pathf(p, sizeof(p), "groups/%s", id);
	if (stat(p, &st) < 0)
		return fail("no group %s (make it with `" PROG " create %s`)",
			    id, id);
	g->secret = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (g->secret == NULL)
		return fail("out of secure memory");
	pathf(p, sizeof(p), "groups/%s/roster", id);
	if (readf(p, TF_ROSTER_WIRE_MAX, &b, &len) == 0) {
		/* our own file, but parsed as strictly as anyone's */
		int r = tf_roster_parse(b, len, &g->r);
		free(b);
		if (r < 0)
			return fail("%s is damaged", p);
		pathf(p, sizeof(p), "groups/%s/secret", id);
		if (readf(p, TF_GROUP_SECRET_BYTES, &b, &len) < 0 ||
		    len != TF_GROUP_SECRET_BYTES) {
			free(b);
			return fail("%s is missing or damaged", p);
		}
		memcpy(g->secret, b, len);
		tf_memzero(b, len);
		free(b);
	}
	return 0;
}

/* Sign and store the next epoch: the secret first, then the roster that
 * names its epoch, then the pending mark (a crash in between leaves an
 * old roster with a new secret, which `publish` never sends: the roster
 * hash in the key message would not match). */
static int group_commit(struct authority *a, struct group *g,
			struct tf_roster *next, const uint8_t *secret)
{
	_cleanup_free_ uint8_t *w = NULL;
	char p[512];
	size_t wl;
	int r;

	next->issued_at = (uint64_t)time(NULL);
	next->expires_at = next->issued_at + validity;
	if (next->expires_at > a->me.not_after)
		next->expires_at = a->me.not_after;
	snprintf(next->group, sizeof(next->group), "%s", g->id);
	r = tf_roster_sort(next);
	if (r == 0)
		r = tf_roster_sign(next, a->sign, a->cert, a->certlen, &w, &wl);
	if (r < 0)
		return fail("cannot sign the roster of %s: %s", g->id,
			    strerror(-r));
	pathf(p, sizeof(p), "groups/%s/secret", g->id);
	if (tf_atomic_write(p, secret, TF_GROUP_SECRET_BYTES, 0600) < 0)
		return fail("cannot write %s", p);
	pathf(p, sizeof(p), "groups/%s/roster", g->id);
	if (tf_atomic_write(p, w, wl, 0644) < 0)
		return fail("cannot write %s", p);
	pathf(p, sizeof(p), "groups/%s/pending", g->id);
	if (tf_atomic_write(p, "", 0, 0600) < 0)
		return fail("cannot write %s", p);
	if (serving)
		printf("%s: epoch %llu signed, %zu members, expires at %llu\n",
		       g->id, (unsigned long long)next->epoch, next->n,
		       (unsigned long long)next->expires_at);
	else
		printf("%s: epoch %llu, %zu members; publish it with `" PROG
		       " publish %s ...` (or let `" PROG " serve` do it)\n",
		       g->id, (unsigned long long)next->epoch, next->n, g->id);
	return 0;
}

/* Every read-modify-write of a group (add, remove, publish's "was it
 * still this epoch", serve's re-signing) holds DIR/lock, so the CLI and a
 * running `serve` never sign two rosters of the same epoch. Returns the
 * fd (close() unlocks) or -1 after printing why. */
static int state_lock(void)
{
	char p[512];
	int fd;

	pathf(p, sizeof(p), "lock");
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	/* no state dir yet: nothing to race with, and the command says
	 * "run init first" itself */
	if (fd < 0 && errno == ENOENT)
		return -2;
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		fail("cannot lock %s: %s", p, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int cmd_create(const char *id)
{
	char p[512];

	if (!group_ok(id))
		return fail("%s is not a group id (letters, digits, -_.@)", id);
	pathf(p, sizeof(p), "groups/%s", id);
	if (mkdir(p, 0700) < 0)
		return fail("cannot create group %s: %s", id,
			    errno == EEXIST ? "it exists" : strerror(errno));
	printf("%s: created, no members yet\n", id);
	return 0;
}

/* The end of a membership change (add, remove), committed or not: frees
 * what it loaded and made, returns rc. */
static int change_end(struct authority *a, struct group *g,
		      struct tf_roster *next, uint8_t *sec, int rc)
{
	tf_secure_free(sec);
	free(next);
	group_free(g);
	authority_free(a);
	return rc;
}

/* A member device's address for its key message (several devices per
 * officer, docs/comms.md): the roster names a device only by the hash of
 * its key, so `add` keeps the device id its certificate named in
 * DIR/devices/HASH ("officer/device", atomically). */
static void devhash_hex(const uint8_t *h,
			char out[static 2 * TF_ROSTER_DEVHASH_BYTES + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < TF_ROSTER_DEVHASH_BYTES; i++) {
		out[2 * i] = hx[h[i] >> 4];
		out[2 * i + 1] = hx[h[i] & 15];
	}
	out[2 * TF_ROSTER_DEVHASH_BYTES] = '\0';
}

static int device_remember(const struct tf_roster_member *m, const char *device)
{
	char p[512], hh[2 * TF_ROSTER_DEVHASH_BYTES + 1],
		a[2 * TF_CERT_ID_MAX + 2];
	int n = snprintf(a, sizeof(a), "%s/%s", m->officer, device);

	if (n < 0 || (size_t)n >= sizeof(a))
		return -ENAMETOOLONG;
	pathf(p, sizeof(p), "devices");
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	devhash_hex(m->device, hh);
	pathf(p, sizeof(p), "devices/%s", hh);
	return tf_atomic_write(p, a, (size_t)n, 0600);
}

/* DIR/devices/HASH.cert: the certificate `add` verified for the device
 * whose key hashes to h (the roster names a device by that hash only), so
 * that `prune` can tell its serial. */
static void device_cert_path(const uint8_t *h, char *p, size_t cap)
{
	char hh[2 * TF_ROSTER_DEVHASH_BYTES + 1];

	devhash_hex(h, hh);
	pathf(p, cap, "devices/%s.cert", hh);
}

static int device_cert_save(const uint8_t *h, const uint8_t *cert, size_t len)
{
	char p[512];

	pathf(p, sizeof(p), "devices");
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	device_cert_path(h, p, sizeof(p));
	return tf_atomic_write(p, cert, len, 0600);
}

/* The serial of the certificate recorded for device h: 0, -ENOENT when
 * none is (a member added before certificates were kept), or another
 * error. Our own file, parsed as strictly as anyone's; no clock and no
 * signature check (add verified it; it may have expired since, and a
 * revoked serial is still that device's). */
static int device_serial(const uint8_t *h, uint64_t *serial)
{
	char p[512];
	uint8_t *b = NULL;
	struct tf_cert c;
	size_t len;
	int r;

	device_cert_path(h, p, sizeof(p));
	r = readf(p, TF_CERT_MAX, &b, &len);
	if (r < 0)
		return r;
	r = tf_cert_parse(b, len, &c);
	free(b);
	if (r < 0)
		return r;
	*serial = c.serial;
	return 0;
}

/* Is the certificate recorded for device h these bytes? */
static bool device_cert_is(const uint8_t *h, const uint8_t *cert, size_t len)
{
	char p[512];
	uint8_t *b = NULL;
	size_t bl;
	bool same;

	device_cert_path(h, p, sizeof(p));
	if (readf(p, TF_CERT_MAX, &b, &bl) < 0)
		return false;
	same = bl == len && memcmp(b, cert, len) == 0;
	free(b);
	return same;
}

/* "officer/device" of member m when add kept it, else the bare officer
 * (a member added before: the service then sends it to every device of
 * the officer the relay lists) */
static void member_addr(const struct tf_roster_member *m, char *out, size_t cap)
{
	char p[512], hh[2 * TF_ROSTER_DEVHASH_BYTES + 1];
	uint8_t *b = NULL;
	size_t len, ol = strlen(m->officer);

	snprintf(out, cap, "%s", m->officer);
	devhash_hex(m->device, hh);
	pathf(p, sizeof(p), "devices/%s", hh);
	if (readf(p, 2 * TF_CERT_ID_MAX + 1, &b, &len) < 0)
		return;
	/* it must be this officer's, and a device id after the slash */
	if (len > ol + 1 && len < cap && !memcmp(b, m->officer, ol) &&
	    b[ol] == '/' && memchr(b + ol + 1, '/', len - ol - 1) == NULL) {
		bool ok = true;

		for (size_t i = ol + 1; i < len; i++)
			ok &= strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
				     "OPQRSTUVWXYZ0123456789-_.@",
				     b[i]) != NULL &&
			      b[i] != '\0';
		if (ok) {
			memcpy(out, b, len);
			out[len] = '\0';
		}
	}
	free(b);
}

static int cmd_add(const char *id, const char *certpath, bool dispatcher)
{
	struct authority a = {0};
	/* zeroed: the authority may fail to load before the group is */
	struct group g = {0};
	struct tf_roster *next = NULL;
	struct tf_cert c;
	_cleanup_free_ uint8_t *b = NULL;
	uint8_t *sec = NULL, dev[TF_ROSTER_DEVHASH_BYTES];
	size_t len, n;
	int r, rc = 1;

	if (load_authority(&a) || group_load(id, &g))
		goto out;
	if (readf(certpath, TF_CERT_MAX, &b, &len) < 0) {
		fail("cannot read the certificate %s", certpath);
		goto out;
	}
	/* only a device the CA certifies, as an officer or dispatcher */
	r = tf_cert_verify(b, len, &a.anchor, (uint64_t)time(NULL),
			   TF_ROLES_CLIENT, NULL, &c);
	if (r < 0) {
		fail("certificate %s refused: %s", certpath, tf_cert_reason(r));
		goto out;
	}
	if (tf_roster_device_hash(a.suite, c.dh_pk, c.dh_pk_len, dev) < 0)
		goto out;
	if (g.r && tf_roster_find(g.r, c.officer, dev) >= 0) {
		/* a renewed certificate of a member (the same key): kept,
		 * so prune knows its serial; the roster is unchanged */
		if (device_cert_is(dev, b, len)) {
			fail("%s/%s is already in %s", c.officer, c.device, id);
			goto out;
		}
		if (device_cert_save(dev, b, len) < 0) {
			fail("cannot record the certificate of %s/%s in %s",
			     c.officer, c.device, D);
			goto out;
		}
		printf("%s: %s/%s is a member; its certificate (serial "
		       "%llu) is recorded\n",
		       id, c.officer, c.device, (unsigned long long)c.serial);
		rc = 0;
		goto out;
	}
	n = g.r ? g.r->n : 0;
	if (n >= TF_ROSTER_MAX) {
		fail("%s has %u members, the most a roster holds", id,
		     TF_ROSTER_MAX);
		goto out;
	}
	if (tf_roster_new(n + 1, &next) < 0)
		goto out;
	if (g.r) {
		memcpy(next->m, g.r->m, n * sizeof(next->m[0]));
		next->epoch = g.r->epoch + 1;
	} else {
		next->epoch = 1;
	}
	next->n = n + 1;
	snprintf(next->m[n].officer, sizeof(next->m[n].officer), "%s",
		 c.officer);
	next->m[n].role = dispatcher ? TF_ROLE_DISPATCHER : TF_ROLE_OFFICER;
	memcpy(next->m[n].device, dev, sizeof(dev));
	if (device_remember(&next->m[n], c.device) < 0 ||
	    device_cert_save(dev, b, len) < 0) {
		fail("cannot record the device %s of %s in %s", c.device,
		     c.officer, D);
		goto out;
	}
	sec = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (sec == NULL)
		goto out;
	/* join: ratchet forward (the joiner cannot compute the past); the
	 * first member: a fresh secret */
	r = g.r ? tf_group_secret_join(a.suite, g.secret, id, next->epoch, sec)
		: tf_random(sec, TF_GROUP_SECRET_BYTES);
	if (r < 0) {
		fail("cannot make the epoch secret");
		goto out;
	}
	rc = group_commit(&a, &g, next, sec);
out:
	return change_end(&a, &g, next, sec, rc);
}

/* Does member m match who: an officer (every device of it), or
 * officer/device (that device, as `add` recorded it)? */
static bool member_is(const struct tf_roster_member *m, const char *who)
{
	char addr[2 * TF_CERT_ID_MAX + 2];

	if (strchr(who, '/') == NULL)
		return strcmp(m->officer, who) == 0;
	member_addr(m, addr, sizeof(addr));
	return strcmp(addr, who) == 0;
}

/* The roster of g without the members drop() picks, under a fresh
 * secret (nothing a leaver held derives it), signed and stored. 0, or 1
 * after saying why; *removed counts the members left out (none: nothing
 * is signed). */
static int remove_where(struct authority *a, struct group *g,
			bool (*drop)(const struct tf_roster_member *,
				     const void *),
			const void *arg, size_t *removed)
{
	struct tf_roster *next = NULL;
	uint8_t *sec = NULL;
	size_t k = 0;
	int rc = 1;

	*removed = 0;
	if (g->r == NULL)
		return 0;
	if (tf_roster_new(g->r->n, &next) < 0)
		return fail("out of memory");
	for (size_t i = 0; i < g->r->n; i++)
		if (!drop(&g->r->m[i], arg))
			next->m[k++] = g->r->m[i];
	*removed = g->r->n - k;
	if (*removed == 0) {
		rc = 0;
		goto out;
	}
	if (k == 0) {
		fail("%s would have no member left; a roster lists at least "
		     "one (delete the group instead)",
		     g->id);
		goto out;
	}
	next->n = k;
	next->epoch = g->r->epoch + 1;
	sec = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (sec == NULL || tf_random(sec, TF_GROUP_SECRET_BYTES) < 0) {
		fail("cannot make the epoch secret");
		goto out;
	}
	rc = group_commit(a, g, next, sec);
out:
	tf_secure_free(sec);
	free(next);
	return rc;
}

static bool drop_who(const struct tf_roster_member *m, const void *who)
{
	return member_is(m, who);
}

static int cmd_remove(const char *id, const char *who)
{
	struct authority a = {0};
	struct group g = {0};
	size_t removed;
	int rc = 1;

	if (load_authority(&a) || group_load(id, &g))
		goto out;
	rc = remove_where(&a, &g, drop_who, who, &removed);
	if (rc == 0 && removed == 0) {
		rc = fail("%s is not in %s%s", who, id,
			  strchr(who, '/') ? " (a device added before devices "
					     "were kept is removed by its "
					     "officer id)"
					   : "");
	}
out:
	return change_end(&a, &g, NULL, NULL, rc);
}

/* ---- prune: revoked devices leave every group ---- */

struct prune_ctx {
	const struct tf_denylist *dl;
	const char *group;
	size_t unknown; /* members with no recorded certificate */
};

static bool drop_denied(const struct tf_roster_member *m, const void *arg)
{
	struct prune_ctx *p = (struct prune_ctx *)arg;
	char addr[2 * TF_CERT_ID_MAX + 2];
	uint64_t serial;

	if (device_serial(m->device, &serial) < 0) {
		p->unknown++;
		return false;
	}
	if (!tf_denylist_contains(p->dl, serial))
		return false;
	member_addr(m, addr, sizeof(addr));
	printf("%s: %s (certificate serial %llu) is revoked: removed\n",
	       p->group, addr, (unsigned long long)serial);
	return true;
}

/* Read and verify the deny-list at path (signed by our CA). No freshness
 * check: pruning only removes, so an old list can do no more than what
 * it says, and its signature proves the CA revoked those serials (a
 * relay, which must not let an old list un-revoke, checks the order). */
static int denylist_load(const struct authority *a, const char *path,
			 struct tf_denylist **dl)
{
	uint8_t *b = NULL;
	size_t len;
	int r = readf(path, DENYLIST_FILE_MAX, &b, &len);

	if (r < 0)
		return fail("cannot read the deny-list %s: %s", path,
			    strerror(-r));
	r = tf_denylist_parse(b, len, &a->anchor, dl);
	free(b);
	if (r < 0)
		return fail("deny-list %s refused: %s (not one our CA "
			    "signed?)",
			    path, tf_cert_reason(r));
	return 0;
}

/* Every group, once: the members whose recorded certificate dl revokes
 * leave, under a fresh secret, so a stolen device that a hostile relay
 * still forwards frames to decrypts nothing said after. Holds DIR/lock
 * per group. Returns 0 or 1 (something failed; what could be done was). */
static int prune_all(struct authority *a, const struct tf_denylist *dl,
		     size_t *removed_total)
{
	char p[512];
	DIR *d;
	struct dirent *e;
	int rc = 0;

	*removed_total = 0;
	pathf(p, sizeof(p), "groups");
	d = opendir(p);
	if (d == NULL)
		return fail("no groups in %s (run init first)", D);
	while ((e = readdir(d)) != NULL) {
		struct group g = {0};
		struct prune_ctx pc = {.dl = dl};
		size_t removed = 0;
		int lk;

		if (e->d_name[0] == '.' || !group_ok(e->d_name))
			continue;
		lk = state_lock();
		if (lk == -1)
			return 1;
		if (group_load(e->d_name, &g) == 0) {
			pc.group = g.id;
			if (remove_where(a, &g, drop_denied, &pc, &removed))
				rc = 1;
			*removed_total += removed;
			if (pc.unknown)
				fail("%s: %zu member(s) added before "
				     "certificates were kept: add their "
				     "certificate again so prune can judge "
				     "them",
				     g.id, pc.unknown);
		} else {
			rc = 1;
		}
		group_free(&g);
		if (lk >= 0)
			close(lk);
	}
	closedir(d);
	return rc;
}

static int cmd_prune(int argc, char **argv)
{
	struct authority a = {0};
	struct tf_denylist *dl = NULL;
	size_t removed = 0;
	int rc = 1;

	if (argc != 2 || strcmp(argv[0], "--denylist") != 0)
		return usage();
	if (load_authority(&a) || denylist_load(&a, argv[1], &dl))
		goto out;
	rc = prune_all(&a, dl, &removed);
	if (removed == 0)
		printf("no member of any group is revoked\n");
out:
	tf_denylist_free(dl);
	authority_free(&a);
	return rc;
}

static int cmd_list(void)
{
	char p[512];
	DIR *d;
	struct dirent *e;

	pathf(p, sizeof(p), "groups");
	d = opendir(p);
	if (d == NULL)
		return fail("no groups in %s (run init first)", D);
	while ((e = readdir(d)) != NULL) {
		struct group g;
		char pend[600];

		if (e->d_name[0] == '.' || !group_ok(e->d_name))
			continue;
		if (group_load(e->d_name, &g))
			continue;
		pathf(pend, sizeof(pend), "groups/%s/pending", g.id);
		printf("%s epoch %llu members %zu%s\n", g.id,
		       g.r ? (unsigned long long)g.r->epoch : 0ull,
		       g.r ? g.r->n : 0,
		       access(pend, F_OK) == 0 ? " (not yet published)" : "");
		for (size_t i = 0; g.r && i < g.r->n; i++) {
			char addr[2 * TF_CERT_ID_MAX + 2];
			uint64_t serial;

			member_addr(&g.r->m[i], addr, sizeof(addr));
			if (device_serial(g.r->m[i].device, &serial) == 0)
				printf("  %s %s serial %llu\n", addr,
				       tf_cert_role_name(g.r->m[i].role),
				       (unsigned long long)serial);
			else
				printf("  %s %s\n", addr,
				       tf_cert_role_name(g.r->m[i].role));
		}
		group_free(&g);
	}
	closedir(d);
	return 0;
}

/* ---- publish ---- */

/* Wait for the relay's datagram on fd, at most ms; 1 when one is there,
 * 0 on timeout, -1 when serve is asked to stop (the signal stays queued
 * for its loop). */
static int relay_wait(int fd, int ms)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
			      {.fd = stop_fd, .events = POLLIN}};
	int r = poll(p, stop_fd >= 0 ? 2 : 1, ms);

	if (r > 0 && stop_fd >= 0 && (p[1].revents & POLLIN))
		return -1;
	return r > 0 && (p[0].revents & (POLLIN | POLLERR)) ? 1 : 0;
}

/* Upload the roster to the relay over our own channel (the relay knows
 * us by our group-authority certificate) and wait for its answer. */
static int relay_publish(struct authority *a, const char *relay,
			 const char *rpub, const uint8_t *w, size_t wl)
{
	uint8_t *b = NULL, out[2048], in[2048], pt[2048];
	struct tf_comms_client *c = NULL;
	struct tf_comms_session *s = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct tf_pubfile pub;
	struct timespec ts;
	char host[64];
	unsigned port;
	size_t len;
	ssize_t n;
	int fd, r, rc = 1;

	if (readf(rpub, TF_PUBFILE_MAX, &b, &len) < 0 ||
	    tf_pubfile_parse(b, len, &pub) < 0 || pub.suite != a->suite ||
	    pub.dh_pk_len == 0) {
		free(b);
		return fail("%s is not the relay's %s public key", rpub,
			    a->suite->name);
	}
	free(b);
	if (sscanf(relay, "%63[^:]:%u", host, &port) != 2 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return fail("--relay wants ADDR:PORT, not %s", relay);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("cannot reach the relay %s: %s", relay,
			    strerror(errno));
	clock_gettime(CLOCK_REALTIME, &ts);
	r = tf_comms_client_start(a->suite->id, a->pf.secret + TF_KEY_BYTES,
				  pub.dh_pk, a->cert, a->certlen,
				  (uint64_t)ts.tv_sec * 1000000000ull +
					  (uint64_t)ts.tv_nsec,
				  0x67726f75, &c, out, sizeof(out));
	if (r < 0)
		goto out;
	int cookies = 0;

	for (int tries = 0; tries < 3 && s == NULL; tries++) {
		int ready;
		if (send(fd, out, (size_t)r, 0) < 0)
			break;
		ready = relay_wait(fd, 2000);
		if (ready < 0)
			goto out;
		if (ready == 0)
			continue;
		n = recv(fd, in, sizeof(in), 0);
		/* a relay under load answers with a COOKIE: the INIT again,
		 * with mac2 (one round trip more, not a try) */
		if (n > 0 && tf_comms_client_cookie(c, in, (size_t)n) == 0) {
			r = tf_comms_client_init(c, out, sizeof(out));
			if (r < 0)
				break;
			if (cookies++ < 3)
				tries--;
			continue;
		}
		if (n > 0 && tf_comms_client_finish(c, in, (size_t)n, &s) < 0)
			break;
	}
	if (s == NULL) {
		fail("the relay %s did not accept our handshake", relay);
		goto out;
	}
	for (size_t off = 0; off < wl;) {
		size_t k = wl - off > 1200 ? 1200 : wl - off;
		pt[0] = 0x30; /* JOIN: a piece of the roster */
		for (int i = 0; i < 4; i++) {
			pt[1 + i] = (uint8_t)(wl >> (24 - 8 * i));
			pt[5 + i] = (uint8_t)(off >> (24 - 8 * i));
		}
		memcpy(pt + 9, w + off, k);
		r = tf_comms_encrypt(s, pt, 9 + k, out, sizeof(out));
		if (r < 0 || send(fd, out, (size_t)r, 0) < 0)
			goto out;
		off += k;
	}
	for (;;) {
		int m;
		if (relay_wait(fd, 3000) != 1) {
			fail("the relay %s did not answer the roster", relay);
			goto out;
		}
		n = recv(fd, in, sizeof(in), 0);
		if (n <= 0)
			continue;
		m = tf_comms_decrypt(s, in, (size_t)n, pt, sizeof(pt));
		if (m >= 1 && pt[0] == 0x31) {
			rc = 0;
			break;
		}
		if (m >= 2 && pt[0] == 0x7f) {
			fail("the relay refused the roster: %.*s", m - 2,
			     pt + 2);
			break;
		}
	}
out:
	tf_comms_session_free(s);
	tf_comms_client_free(c);
	close(fd);
	return rc;
}

/* One request to our twofold-comms service's control socket. */
static int comms_send(const char *dir, const char *to, const char *text)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char req[1024], rep[256];
	int fd, n, rc = -EIO;
	ssize_t m;

	n = snprintf(req, sizeof(req), "send\n%s\n%s", to, text);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control",
			     dir) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) == n &&
	    (m = recv(fd, rep, sizeof(rep) - 1, 0)) > 0) {
		rep[m] = '\0';
		rc = strncmp(rep, "ok", 2) == 0 ? 0 : -EPROTO;
	}
	tf_memzero(req, sizeof(req));
	if (fd >= 0)
		close(fd);
	return rc;
}

struct relay_cfg {
	const char *relay, *rpub, *comms;
};

static int relay_cfg_parse(struct relay_cfg *c, int argc, char **argv)
{
	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--relay"))
			c->relay = argv[i + 1];
		else if (!strcmp(argv[i], "--relay-pub"))
			c->rpub = argv[i + 1];
		else if (!strcmp(argv[i], "--comms"))
			c->comms = argv[i + 1];
	}
	return c->relay && c->rpub && c->comms ? 0 : -EINVAL;
}

/* Publish the current epoch of group id: the roster to the relay, then
 * one key message per member to our comms service. The pending mark goes
 * only when all of it went out and the epoch is still the current one
 * (a change signed meanwhile stays pending). The lock is not held over
 * the network, so the CLI is never kept waiting for a relay that is down.
 * Returns 0, or 1 after printing what failed. */
static int publish_group(struct authority *a, const char *id,
			 const struct relay_cfg *c)
{
	struct group g = {0};
	uint8_t *w = NULL, h[TF_HASH_BYTES];
	char p[512], hh[2 * TF_HASH_BYTES + 1], sh[2 * TF_KEY_BYTES + 1];
	char text[512];
	uint64_t epoch;
	size_t wl;
	int rc = 1, bad = 0, lk = state_lock();

	if (lk == -1)
		return 1;
	if (group_load(id, &g))
		goto out;
	if (g.r == NULL) {
		fail("%s has no members yet", id);
		goto out;
	}
	pathf(p, sizeof(p), "groups/%s/roster", id);
	if (readf(p, TF_ROSTER_WIRE_MAX, &w, &wl) < 0 ||
	    tf_hash(a->suite, h, w, wl) < 0)
		goto out;
	if (lk >= 0)
		close(lk);
	lk = -2;
	if (relay_publish(a, c->relay, c->rpub, w, wl))
		goto out;
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < TF_HASH_BYTES; i++) {
		hh[2 * i] = hx[h[i] >> 4];
		hh[2 * i + 1] = hx[h[i] & 15];
		sh[2 * i] = hx[g.secret[i] >> 4];
		sh[2 * i + 1] = hx[g.secret[i] & 15];
	}
	hh[2 * TF_HASH_BYTES] = sh[2 * TF_KEY_BYTES] = '\0';
	snprintf(text, sizeof(text), KEYMSG_PREFIX "%s %llu %s %s", id,
		 (unsigned long long)g.r->epoch, hh, sh);
	for (size_t i = 0; i < g.r->n; i++) {
		char to[2 * TF_CERT_ID_MAX + 2];

		/* to that very device (officer/device): another device of
		 * the same officer not in the roster gets no key */
		member_addr(&g.r->m[i], to, sizeof(to));
		if (comms_send(c->comms, to, text) < 0) {
			fail("cannot queue the key for %s on the comms service "
			     "%s",
			     to, c->comms);
			bad++;
		}
	}
	tf_memzero(text, sizeof(text));
	tf_memzero(sh, sizeof(sh));
	if (bad)
		goto out;
	epoch = g.r->epoch;
	group_free(&g);
	lk = state_lock();
	if (lk == -1)
		goto out;
	if (group_load(id, &g) == 0 && g.r && g.r->epoch == epoch) {
		pathf(p, sizeof(p), "groups/%s/pending", id);
		(void)unlink(p);
	}
	printf("%s: epoch %llu published to the relay and queued for "
	       "%zu members\n",
	       id, (unsigned long long)epoch, g.r ? g.r->n : 0);
	rc = 0;
out:
	if (lk >= 0)
		close(lk);
	free(w);
	group_free(&g);
	return rc;
}

static int cmd_publish(const char *id, int argc, char **argv)
{
	struct relay_cfg c = {0};
	struct authority a = {0};
	int rc = 1;

	if (relay_cfg_parse(&c, argc, argv) < 0)
		return fail("publish needs --relay ADDR:PORT --relay-pub FILE "
			    "--comms COMMS_STATE");
	if (load_authority(&a) == 0)
		rc = publish_group(&a, id, &c);
	authority_free(&a);
	return rc;
}

/* ---- serve ---- */

static int validity_parse(const char *a)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(a, &end, 10);
	if (errno || *end || end == a || v < VALIDITY_MIN ||
	    v > TF_ROSTER_MAX_VALIDITY) {
		fail("--validity wants %d..%llu seconds, not %s", VALIDITY_MIN,
		     (unsigned long long)TF_ROSTER_MAX_VALIDITY, a);
		return -EINVAL;
	}
	validity = v;
	return 0;
}

/* What serve remembers of a group between passes; the durable state is
 * the files (pending), so a restart of serve loses nothing. */
struct sgroup {
	char id[TF_CERT_ID_MAX + 1];
	uint64_t next_try_ms; /* 0: publish as soon as pending */
	unsigned backoff_ms;
	bool warned; /* the authority's certificate caps the expiry */
	bool seen;   /* in this pass's directory listing */
};

#define SGROUPS_MAX 256

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Re-sign g's roster (same members) when less than a third of its
 * validity is left. Returns the wall-clock second at which it is next
 * due (UINT64_MAX: no roster).
 *
 * Why a re-signed roster is a new epoch with a fresh random secret,
 * although nobody joined or left: members and the relay refuse a roster
 * whose epoch is not newer than the one they hold (that is what stops a
 * relay replaying an old list that still named a removed member), so the
 * number must grow; and since every member must receive a key message
 * for the new epoch anyway (it names the roster's hash), a fresh secret
 * costs nothing more than ratcheting or keeping the old one, while it
 * also ends the use of a secret that may have leaked in the past week
 * (post-compromise security, which neither keeping nor ratcheting gives:
 * a stolen secret ratchets forward as well as the authority does). */
static uint64_t maybe_resign(struct authority *a, struct sgroup *sg)
{
	struct group g = {0};
	struct tf_roster *next = NULL;
	uint8_t *sec = NULL;
	uint64_t now = (uint64_t)time(NULL), due = UINT64_MAX, life;
	int lk = state_lock();

	if (lk == -1)
		return now + 1;
	if (group_load(sg->id, &g) || g.r == NULL)
		goto out;
	life = g.r->expires_at > g.r->issued_at
		       ? g.r->expires_at - g.r->issued_at
		       : 0;
	due = g.r->expires_at - life / 3;
	if (now < due)
		goto out;
	/* the new expiry must be later than the old one, else (the
	 * authority's certificate runs out first) re-signing would loop */
	if (TF_MIN(now + validity, a->me.not_after) <= g.r->expires_at) {
		if (!sg->warned)
			fail("%s: cannot re-sign: the group authority's "
			     "certificate expires at %llu, before a new roster "
			     "would; renew it (twofold-ca issue --role "
			     "group-authority) and run `" PROG " init` again",
			     sg->id, (unsigned long long)a->me.not_after);
		sg->warned = true;
		due = now + 60;
		goto out;
	}
	sg->warned = false;
	due = now + 1; /* unless it works: try again in a second */
	if (tf_roster_new(g.r->n, &next) < 0)
		goto out;
	memcpy(next->m, g.r->m, g.r->n * sizeof(next->m[0]));
	next->n = g.r->n;
	next->epoch = g.r->epoch + 1;
	sec = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (sec == NULL || tf_random(sec, TF_GROUP_SECRET_BYTES) < 0) {
		fail("%s: cannot make the epoch secret", sg->id);
		due = now + 1;
		goto out;
	}
	if (group_commit(a, &g, next, sec) == 0) {
		due = next->expires_at -
		      (next->expires_at - next->issued_at) / 3;
		sg->next_try_ms = 0; /* publish it now */
		sg->backoff_ms = 0;
	} else {
		due = now + 1;
	}
out:
	tf_secure_free(sec);
	free(next);
	group_free(&g);
	if (lk >= 0)
		close(lk);
	return due;
}

static struct sgroup *sgroup_get(struct sgroup *t, const char *id)
{
	struct sgroup *free_slot = NULL;

	for (size_t i = 0; i < SGROUPS_MAX; i++) {
		if (t[i].id[0] && !strcmp(t[i].id, id))
			return &t[i];
		if (!t[i].id[0] && free_slot == NULL)
			free_slot = &t[i];
	}
	if (free_slot != NULL && strlen(id) < sizeof(free_slot->id)) {
		memset(free_slot, 0, sizeof(*free_slot));
		memcpy(free_slot->id, id, strlen(id) + 1);
	} else {
		free_slot = NULL;
	}
	return free_slot;
}

/* One pass over every group: re-sign what is due, publish what is
 * pending and not backing off. Returns the poll timeout in ms until the
 * next thing is due. */
static int serve_pass(struct authority *a, const struct relay_cfg *c,
		      struct sgroup *t, int ino)
{
	char p[512];
	uint64_t wake = mono_ms() + 60000;
	DIR *d;
	struct dirent *e;

	for (size_t i = 0; i < SGROUPS_MAX; i++)
		t[i].seen = false;
	pathf(p, sizeof(p), "groups");
	d = opendir(p);
	if (d == NULL) {
		fail("cannot read %s: %s", p, strerror(errno));
		return 5000;
	}
	while ((e = readdir(d)) != NULL) {
		struct sgroup *sg;
		uint64_t due, now_s, now;

		if (e->d_name[0] == '.' || !group_ok(e->d_name))
			continue;
		sg = sgroup_get(t, e->d_name);
		if (sg == NULL) {
			fail("more than %d groups: %s is not served",
			     SGROUPS_MAX, e->d_name);
			continue;
		}
		sg->seen = true;
		pathf(p, sizeof(p), "groups/%s", sg->id);
		/* idempotent: the same watch when it exists */
		(void)inotify_add_watch(ino, p,
					IN_MOVED_TO | IN_CLOSE_WRITE |
						IN_DELETE | IN_ONLYDIR);
		due = maybe_resign(a, sg);
		now_s = (uint64_t)time(NULL);
		now = mono_ms();
		if (due != UINT64_MAX) {
			uint64_t in = due > now_s ? (due - now_s) * 1000 : 0;
			wake = TF_MIN(wake, now + in);
		}
		pathf(p, sizeof(p), "groups/%s/pending", sg->id);
		if (access(p, F_OK) != 0) {
			sg->next_try_ms = 0;
			sg->backoff_ms = 0;
			continue;
		}
		if (now < sg->next_try_ms) {
			wake = TF_MIN(wake, sg->next_try_ms);
			continue;
		}
		if (publish_group(a, sg->id, c) == 0) {
			sg->next_try_ms = 0;
			sg->backoff_ms = 0;
		} else {
			/* the relay or our comms service is down: the change
			 * stays pending (on disk) and goes out when it is back */
			sg->backoff_ms =
				sg->backoff_ms
					? TF_MIN(2 * sg->backoff_ms,
						 (unsigned)BACKOFF_MAX_MS)
					: BACKOFF_MIN_MS;
			sg->next_try_ms = mono_ms() + sg->backoff_ms;
			fprintf(stderr,
				PROG ": %s: publishing failed; retrying in "
				     "%u ms\n",
				sg->id, sg->backoff_ms);
			wake = TF_MIN(wake, sg->next_try_ms);
		}
	}
	closedir(d);
	for (size_t i = 0; i < SGROUPS_MAX; i++)
		if (t[i].id[0] && !t[i].seen)
			memset(&t[i], 0, sizeof(t[i])); /* deleted */
	{
		uint64_t now = mono_ms();
		return wake > now ? (int)TF_MIN(wake - now, 60000u) : 0;
	}
}

/* serve --denylist FILE: pruned again whenever the file changes (a new
 * list from twofold-ca denylist, renamed into place), checked every pass */
struct dlwatch {
	const char *path;
	struct stat st; /* of the last list looked at */
	bool seen;
};

static void dl_check(struct authority *a, struct dlwatch *w)
{
	struct tf_denylist *dl = NULL;
	struct stat st;
	size_t removed = 0;

	if (w->path == NULL)
		return;
	if (stat(w->path, &st) < 0) {
		if (!w->seen || w->st.st_ino != 0)
			fail("cannot read the deny-list %s: %s", w->path,
			     strerror(errno));
		memset(&w->st, 0, sizeof(w->st));
		w->seen = true;
		return;
	}
	if (w->seen && st.st_ino == w->st.st_ino &&
	    st.st_size == w->st.st_size &&
	    st.st_mtim.tv_sec == w->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == w->st.st_mtim.tv_nsec)
		return;
	w->st = st;
	w->seen = true;
	if (denylist_load(a, w->path, &dl))
		return; /* said why; looked at again when it changes */
	(void)prune_all(a, dl, &removed);
	printf(PROG ": deny-list %s (%zu serials): %zu member device(s) "
		    "removed\n",
	       w->path, tf_denylist_count(dl), removed);
	tf_denylist_free(dl);
}

/* Why inotify and not a control socket: every change the CLI makes is
 * already a file (the roster, then the pending mark, each renamed into
 * place), and `pending` is the durable record of what is still to go
 * out. Watching the state dir needs no change to the CLI, no second
 * interface with its own permissions, and a change made while serve was
 * not running is found by the first pass anyway. The events only wake
 * the loop; each pass rereads the files, so a lost or overflowed event
 * costs at most the next timer (60 s). */
static int cmd_serve(int argc, char **argv)
{
	struct relay_cfg c = {0};
	struct authority a = {0};
	struct sgroup *t = NULL;
	struct dlwatch dw = {0};
	sigset_t ss;
	char p[512];
	int sfd = -1, ino = -1, timeout, rc = 1;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--validity") &&
		    validity_parse(argv[i + 1]) < 0)
			return 2;
		if (!strcmp(argv[i], "--denylist"))
			dw.path = argv[i + 1];
	}
	if (relay_cfg_parse(&c, argc, argv) < 0)
		return fail("serve needs --relay ADDR:PORT --relay-pub FILE "
			    "--comms COMMS_STATE [--validity SECONDS] "
			    "[--denylist FILE]");
	serving = true;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0 ||
	    (sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return fail("cannot set up signals: %s", strerror(errno));
	stop_fd = sfd;
	(void)signal(SIGPIPE, SIG_IGN);
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	pathf(p, sizeof(p), "groups");
	if (ino < 0 || inotify_add_watch(ino, p,
					 IN_CREATE | IN_MOVED_TO | IN_DELETE |
						 IN_ONLYDIR) < 0) {
		fail("cannot watch %s: %s (run init first)", p,
		     strerror(errno));
		goto out;
	}
	/* DIR itself: `init` again (a renewed certificate) renames files
	 * into it. Only renames: DIR/lock is opened for writing on every
	 * pass, and a close-write watch would wake the loop forever. */
	if (inotify_add_watch(ino, D, IN_MOVED_TO | IN_ONLYDIR) < 0) {
		fail("cannot watch %s: %s", D, strerror(errno));
		goto out;
	}
	/* the deny-list's directory: a new list renamed into place wakes
	 * the loop (each pass looks at the file itself) */
	if (dw.path != NULL) {
		char dir[512];
		const char *sl = strrchr(dw.path, '/');
		size_t dl = sl ? (size_t)(sl - dw.path) : 1;

		snprintf(dir, sizeof(dir), "%.*s", (int)dl,
			 sl ? (sl == dw.path ? "/" : dw.path) : ".");
		if (inotify_add_watch(ino, dir,
				      IN_MOVED_TO | IN_CLOSE_WRITE |
					      IN_ONLYDIR) < 0) {
			fail("cannot watch %s: %s", dir, strerror(errno));
			goto out;
		}
	}
	t = calloc(SGROUPS_MAX, sizeof(*t));
	if (t == NULL || load_authority(&a))
		goto out;
	printf(PROG ": serving %s (rosters valid %llu s)\n", D,
	       (unsigned long long)validity);
	for (;;) {
		struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN},
				       {.fd = ino, .events = POLLIN}};
		struct signalfd_siginfo si;
		char ev[4096];

		dl_check(&a, &dw);
		timeout = serve_pass(&a, &c, t, ino);
		if (poll(pf, 2, timeout) < 0 && errno != EINTR) {
			fail("poll: %s", strerror(errno));
			goto out;
		}
		if (pf[0].revents & POLLIN &&
		    read(sfd, &si, sizeof(si)) == sizeof(si)) {
			printf(PROG ": signal %u, stopping\n", si.ssi_signo);
			rc = 0;
			goto out;
		}
		/* drain: the events only say "look again" */
		while (read(ino, ev, sizeof(ev)) > 0)
			;
		/* a renewed certificate (init again) is picked up */
		if (pf[1].revents & POLLIN) {
			struct authority b = {0};
			if (load_authority(&b) == 0) {
				authority_free(&a);
				a = b;
			} else {
				authority_free(&b);
			}
		}
	}
out:
	authority_free(&a);
	free(t);
	if (ino >= 0)
		close(ino);
	if (sfd >= 0)
		close(sfd);
	return rc;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: " PROG " --state DIR init --key KEY --cert CERT --ca "
		"CA.pub\n"
		"       " PROG " --state DIR create GROUP\n"
		"       " PROG " --state DIR add GROUP CERT [--dispatcher]\n"
		"       " PROG " --state DIR remove GROUP OFFICER[/DEVICE]\n"
		"       " PROG " --state DIR prune --denylist FILE\n"
		"       " PROG " --state DIR list\n"
		"       " PROG " --state DIR publish GROUP --relay ADDR:PORT "
		"--relay-pub FILE --comms COMMS_STATE\n"
		"       " PROG " --state DIR serve --relay ADDR:PORT "
		"--relay-pub FILE --comms COMMS_STATE [--validity SECONDS] "
		"[--denylist FILE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int i = 1;

	D = secure_getenv("TWOFOLD_GROUPD_STATE");
	if (argc > 2 && !strcmp(argv[1], "--state")) {
		D = argv[2];
		i = 3;
	}
	/* the validity of the rosters this command signs (add, remove) */
	if (argc > i + 1 && !strcmp(argv[i], "--validity")) {
		if (validity_parse(argv[i + 1]) < 0)
			return 2;
		i += 2;
	}
	if (D == NULL)
		D = "/var/lib/twofold-groupd";
	if (i >= argc)
		return usage();
	umask(0077);
	if (tf_crypto_init() < 0)
		return fail("crypto libraries failed to initialise");
	if (!strcmp(argv[i], "init"))
		return cmd_init(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "create") && argc == i + 2)
		return cmd_create(argv[i + 1]);
	if (!strcmp(argv[i], "add") && (argc == i + 3 || argc == i + 4)) {
		int lk = state_lock(), r;
		if (lk == -1)
			return 1;
		r = cmd_add(argv[i + 1], argv[i + 2],
			    argc == i + 4 &&
				    !strcmp(argv[i + 3], "--dispatcher"));
		if (lk >= 0)
			close(lk);
		return r;
	}
	if (!strcmp(argv[i], "remove") && argc == i + 3) {
		int lk = state_lock(), r;
		if (lk == -1)
			return 1;
		r = cmd_remove(argv[i + 1], argv[i + 2]);
		if (lk >= 0)
			close(lk);
		return r;
	}
	if (!strcmp(argv[i], "serve"))
		return cmd_serve(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "prune"))
		return cmd_prune(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "list") && argc == i + 1)
		return cmd_list();
	if (!strcmp(argv[i], "publish") && argc >= i + 2)
		return cmd_publish(argv[i + 1], argc - i - 2, argv + i + 2);
	return usage();
}
