/* SPDX-License-Identifier: ISC */
/*
 * twofold-scanner: the malware scanner helper (issue 13 item 6) and the
 * org-side database packer.
 *
 *   twofold-scanner serve --suite S --trust B64[,B64] --work DIR
 *       fd 3: SOCK_SEQPACKET to twofoldd; fd 4: the database bundle.
 *       Started by twofoldd (posix_spawn from its loop thread: the exec
 *       replaces the daemon's image, so nothing of its memory — keys —
 *       survives into this process). Steps, each narrowing what a bug in
 *       libclamav or the bundle parser could reach:
 *         1. unshare(CLONE_NEWNET): no network device but a down lo
 *         2. parse + verify the bundle (signed by a scan_trust key of the
 *            device's suite), unpack it into WORK/db, load the engine
 *         3. drop to nobody (setgroups/setresuid, proven), no caps,
 *            no_new_privs, Landlock (write only beneath WORK/tmp, where
 *            libclamav unpacks archives), seccomp (the app allowlist with
 *            no socket family at all)
 *         4. answer the daemon: the load's result, then one verdict per
 *            file fd received; exits on EOF.
 *   twofold-scanner scandb DIR -o OUT.tfdb --key KEY
 *       (`twofold pkg scandb`): check that DIR loads in libclamav, pack and
 *       sign it; OUT is written atomically.
 *   twofold-scanner keygen --out KEY [--suite intl|gm]
 *       a bundle signing key (stop-gap until `twofold pkg keygen`).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/ipc.h"
#include "twofold/sandbox.h"
#include "twofold/pkg.h"
#include "twofold/scan.h"

#define SOCK_FD 3
#define BUNDLE_FD 4
#define TRUST_MAX 4
#define NOBODY 65534

static int b64_decode(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	if (sodium_base642bin(out, cap, s, strlen(s), NULL, n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -EINVAL;
	return 0;
}

/* ---- serve ---- */

static void reply(const struct tf_scan_wire *w)
{
	while (send(SOCK_FD, w, sizeof(*w), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static TF_NORETURN void die_load(int err, const char *why)
{
	struct tf_scan_wire w = {.err = err};
	snprintf(w.why, sizeof(w.why), "%s", why);
	reply(&w);
	_exit(1);
}

static int load_bundle(const char *suite, const char *trust, const char *work,
		       struct tf_scan_engine **eng, unsigned *n_sigs, char *why,
		       size_t whylen)
{
	const struct tf_suite *s = tf_suite_by_name(suite);
	if (s == NULL) {
		snprintf(why, whylen, "unknown suite %s", suite);
		return -EINVAL;
	}
	uint8_t pk[TRUST_MAX][TF_PK_MAX];
	const uint8_t *pks[TRUST_MAX];
	size_t n_pk = 0;
	char tb[1024];
	if (tf_strlcpy(tb, trust, sizeof(tb)) < 0)
		return -EINVAL;
	for (char *save = NULL, *t = strtok_r(tb, ",", &save);
	     t && n_pk < TRUST_MAX; t = strtok_r(NULL, ",", &save)) {
		size_t n = 0;
		if (b64_decode(t, pk[n_pk], sizeof(pk[0]), &n) < 0 ||
		    n != s->pk_bytes) {
			snprintf(why, whylen,
				 "scan_trust: not a %s public key (base64)",
				 s->name);
			return -EINVAL;
		}
		pks[n_pk] = pk[n_pk];
		n_pk++;
	}
	struct stat st;
	if (fstat(BUNDLE_FD, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "the database bundle is not a file");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size >
	    TF_SCANDB_HDR_BYTES + TF_SCANDB_BODY_MAX + TF_SIG_MAX) {
		snprintf(why, whylen, "the database bundle is too large");
		return -EMSGSIZE;
	}
	if (st.st_size == 0) {
		snprintf(why, whylen, "the database bundle is empty");
		return -EBADMSG;
	}
	/* a private copy: the file could change under a shared mapping */
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
		       BUNDLE_FD, 0);
	if (m == MAP_FAILED) {
		snprintf(why, whylen, "cannot map the database bundle: %s",
			 strerror(errno));
		return -errno;
	}
	struct tf_scandb db;
	int r = tf_scandb_parse(m, (size_t)st.st_size, &db, why, whylen);
	if (r == 0)
		r = tf_scandb_verify(&db, s, pks, n_pk, why, whylen);
	char dbdir[PATH_MAX], tmp[PATH_MAX];
	snprintf(dbdir, sizeof(dbdir), "%s/db", work);
	snprintf(tmp, sizeof(tmp), "%s/tmp", work);
	if (r == 0) {
		/* WORK stays root's; nobody may only pass through it to
		 * tmp (the database is read before the drop) */
		if (chmod(work, 0711) < 0 || mkdir(dbdir, 0700) < 0 ||
		    mkdir(tmp, 0700) < 0 || chown(tmp, NOBODY, NOBODY) < 0) {
			r = -errno;
			snprintf(why, whylen, "cannot make %s: %s", work,
				 strerror(errno));
		}
	}
	if (r == 0) {
		_cleanup_close_ int dfd =
			open(dbdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = dfd < 0 ? -errno : tf_scandb_unpack(&db, dfd);
		if (r < 0)
			snprintf(why, whylen, "unpacking the database: %s",
				 strerror(-r));
	}
	munmap(m, (size_t)st.st_size);
	if (r < 0)
		return r;
	struct tf_scan_limits lim = TF_SCAN_LIMITS_DEFAULT;
	return tf_scan_engine_load(dbdir, tmp, &lim, eng, n_sigs, why, whylen);
}

static int confine(const char *work, const char **step)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/tmp", work);
	*step = "setresuid";
	int r = tf_privs_drop(NOBODY, NOBODY);
	if (r == 0 && (*step = "capabilities"))
		r = tf_caps_drop_all();
	if (r == 0 && (*step = "no_new_privs"))
		r = tf_nnp_set();
	if (r == 0 && (*step = "landlock")) {
		const char *rd[] = {"/"};
		const char *wr[] = {tmp};
		r = tf_landlock_apply(rd, 1, wr, 1);
		r = r > 0 ? 0 : r;
	}
	if (r == 0 && (*step = "seccomp")) {
		/* no socket family at all: the daemon's socketpair is
		 * already open */
		struct tf_seccomp_policy pol = {.allowlist = TF_SC_APP};
		r = tf_seccomp_apply(&pol);
	}
	return r;
}

/* Files found clean, by the device suite's hash (BLAKE2b-256 / SM3) of
 * their bytes and their size: a file seen clean before (an update's
 * unchanged files) is answered from here without libclamav. Never by MD5:
 * libclamav's own cache, keyed by MD5, is off because an MD5 collision
 * pair walked through it. The cache lives as long as the helper, i.e.
 * one persona's one database: a new database or another persona is a
 * new helper. Only clean verdicts are kept; a full cache keeps its
 * oldest entries' places for the newest (a ring). */
#define CLEAN_CACHE_MAX 8192
static struct {
	pthread_mutex_t mu;
	size_t n, next;
	struct {
		uint64_t size;
		uint8_t h[TF_HASH_BYTES];
	} e[CLEAN_CACHE_MAX];
} clean_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};
static const struct tf_suite *cache_suite;

/* the suite's hash of an open regular file, read from offset 0 (as
 * libclamav reads it); -errno: not known, so not looked up */
static int file_hash(int fd, uint64_t *size, uint8_t h[TF_HASH_BYTES])
{
	struct tf_scan_limits lim = TF_SCAN_LIMITS_DEFAULT;
	struct stat st;

	if (cache_suite == NULL)
		return -ENOSYS;
	/* one the engine refuses by its size is not worth reading twice */
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > lim.max_file)
		return -EFBIG;
	return tf_hash_fd(cache_suite, fd, h, size);
}

static bool cache_has(uint64_t size, const uint8_t h[TF_HASH_BYTES])
{
	bool hit = false;

	pthread_mutex_lock(&clean_cache.mu);
	for (size_t i = 0; i < clean_cache.n && !hit; i++)
		hit = clean_cache.e[i].size == size &&
		      memcmp(clean_cache.e[i].h, h, TF_HASH_BYTES) == 0;
	pthread_mutex_unlock(&clean_cache.mu);
	return hit;
}

static void cache_add(uint64_t size, const uint8_t h[TF_HASH_BYTES])
{
	pthread_mutex_lock(&clean_cache.mu);
	clean_cache.e[clean_cache.next].size = size;
	memcpy(clean_cache.e[clean_cache.next].h, h, TF_HASH_BYTES);
	clean_cache.next = (clean_cache.next + 1) % CLEAN_CACHE_MAX;
	if (clean_cache.n < CLEAN_CACHE_MAX)
		clean_cache.n++;
	pthread_mutex_unlock(&clean_cache.mu);
}

/* One scanner thread: a request at a time off the shared socket (a
 * SEQPACKET recvmsg takes one whole message), its reply with its tag.
 * The daemon's end closing (EOF) ends the process. */
static void *serve_loop(void *arg)
{
	struct tf_scan_engine *eng = arg;
	char why[256];

	for (;;) {
		char b[8];
		uint32_t tag = 0;
		int fds[1];
		size_t nfds = 0;
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {b, sizeof(b)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		struct tf_scan_wire w;
		ssize_t n = recvmsg(SOCK_FD, &mh, MSG_CMSG_CLOEXEC);
		if (n == 0)
			_exit(0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		memset(&w, 0, sizeof(w));
		if (n == 1 + (ssize_t)sizeof(tag))
			memcpy(&tag, b + 1, sizeof(tag));
		w.tag = tag;
		if (tf_cmsg_take_fds(&mh, fds, 1, &nfds) < 0 || nfds != 1 ||
		    b[0] != 'S' || (n != 1 && n != 1 + (ssize_t)sizeof(tag))) {
			w.err = -EBADMSG;
			snprintf(w.why, sizeof(w.why), "malformed request");
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
			reply(&w);
			continue;
		}
		struct tf_scan_verdict v;
		uint8_t h[TF_HASH_BYTES];
		uint64_t size = 0;
		bool hashed = file_hash(fds[0], &size, h) == 0;
		if (hashed && cache_has(size, h)) {
			close(fds[0]);
			w.result = TF_SCAN_CLEAN;
			w.cached = 1;
			reply(&w);
			continue;
		}
		why[0] = '\0';
		w.err = tf_scan_fd(eng, fds[0], &v, why, sizeof(why));
		close(fds[0]);
		if (w.err == 0 && v.result == TF_SCAN_CLEAN && hashed)
			cache_add(size, h);
		w.result = v.result;
		w.scanned = v.scanned;
		snprintf(w.name, sizeof(w.name), "%s", v.name);
		snprintf(w.why, sizeof(w.why), "%s", why);
		reply(&w);
	}
	return NULL;
}

static int serve(int argc, char **argv)
{
	const char *suite = NULL, *trust = "", *work = NULL;
	static const struct option lo[] = {{"suite", 1, 0, 's'},
					   {"trust", 1, 0, 't'},
					   {"work", 1, 0, 'w'},
					   {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 's')
			suite = optarg;
		else if (c == 't')
			trust = optarg;
		else if (c == 'w')
			work = optarg;
		else
			return 2;
	}
	if (suite == NULL || work == NULL)
		return 2;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
	if (getppid() == 1)
		_exit(1);
	char why[256] = "";
	if (tf_crypto_init() < 0)
		die_load(-EIO, "crypto initialisation failed");
	if (unshare(CLONE_NEWNET) < 0)
		die_load(-errno, "cannot leave the network namespace");
	struct tf_scan_engine *eng = NULL;
	unsigned n_sigs = 0;
	int r = load_bundle(suite, trust, work, &eng, &n_sigs, why,
			    sizeof(why));
	close(BUNDLE_FD);
	if (r < 0)
		die_load(r, why);
	const char *step = "";
	r = confine(work, &step);
	if (r < 0) {
		snprintf(why, sizeof(why),
			 "cannot confine the scanner (%s): %s", step,
			 strerror(-r));
		die_load(r, why);
	}
	cache_suite = tf_suite_by_name(suite);
	struct tf_scan_wire w = {.n_sigs = n_sigs};
	reply(&w);
	/* TF_SCAN_THREADS scanners on the one engine (libclamav's compiled
	 * engine is shared between threads, as clamd does): started after
	 * confine(), so each inherits the Landlock domain, the seccomp filter
	 * and the dropped ids (a thread made earlier would keep its own) */
	for (int i = 1; i < TF_SCAN_THREADS; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, serve_loop, eng) != 0)
			break; /* fewer threads: slower, not wrong */
		pthread_detach(t);
	}
	serve_loop(eng);
	return 0;
}

/* ---- org side ---- */

/* Key file: one line "twofold-sign-key SUITE BASE64(seed)" (0600). The
 * seed makes the key through tf_key_sign_from_seed. */
static int key_load(const char *path, struct tf_key **out, char *why,
		    size_t whylen)
{
	_cleanup_free_ char *text = NULL;
	struct tf_pkg_err perr = {0};
	/* a key of `twofold pkg keygen` (the organisation's one signing
	 * key file format, twofold/pkg.h), else the older text form */
	int r = tf_pkg_key_load(path, out, &perr);
	if (r == 0)
		return 0;
	r = tf_read_file_at(AT_FDCWD, path, 4096, &text, NULL);
	if (r < 0) {
		snprintf(why, whylen, "cannot read the key %s: %s", path,
			 strerror(-r));
		return r;
	}
	char suite[16], b64[128];
	uint8_t seed[TF_KEY_BYTES];
	size_t n = 0;
	const struct tf_suite *s = NULL;
	if (sscanf(text, "twofold-sign-key %15s %127s", suite, b64) != 2 ||
	    (s = tf_suite_by_name(suite)) == NULL ||
	    b64_decode(b64, seed, sizeof(seed), &n) < 0 || n != sizeof(seed)) {
		tf_memzero(text, strlen(text));
		snprintf(why, whylen, "%s is not a twofold signing key", path);
		return -EINVAL;
	}
	tf_memzero(text, strlen(text));
	r = tf_key_sign_from_seed(s, seed, out);
	tf_memzero(seed, sizeof(seed));
	tf_memzero(b64, sizeof(b64));
	return r;
}

static int keygen(int argc, char **argv)
{
	const char *out = NULL, *suite = TF_SUITE_DEFAULT;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--out") == 0)
			out = argv[i + 1];
		else if (strcmp(argv[i], "--suite") == 0)
			suite = argv[i + 1];
	}
	const struct tf_suite *s = tf_suite_by_name(suite);
	if (out == NULL || s == NULL) {
		fprintf(stderr, "usage: twofold-scanner keygen --out KEY "
				"[--suite intl|gm]\n");
		return 2;
	}
	uint8_t seed[TF_KEY_BYTES], pk[TF_PK_MAX];
	char b64[128], pkb[128], line[192];
	struct tf_key *k = NULL;
	if (tf_random(seed, sizeof(seed)) < 0 ||
	    tf_key_sign_from_seed(s, seed, &k) < 0 ||
	    tf_key_public(k, pk, sizeof(pk)) < 0) {
		fprintf(stderr, "twofold: pkg keygen: key generation failed\n");
		return 1;
	}
	tf_key_free(k);
	sodium_bin2base64(b64, sizeof(b64), seed, sizeof(seed),
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(pkb, sizeof(pkb), pk, s->pk_bytes,
			  sodium_base64_VARIANT_ORIGINAL);
	int n = snprintf(line, sizeof(line), "twofold-sign-key %s %s\n",
			 s->name, b64);
	int r = tf_atomic_write(out, line, (size_t)n, 0600);
	tf_memzero(seed, sizeof(seed));
	tf_memzero(b64, sizeof(b64));
	tf_memzero(line, sizeof(line));
	if (r < 0) {
		fprintf(stderr, "twofold: pkg keygen: cannot write %s: %s\n",
			out, strerror(-r));
		return 1;
	}
	printf("%s\n", pkb);
	return 0;
}

static int scandb(int argc, char **argv)
{
	const char *dir = NULL, *out = NULL, *key = NULL;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-o") == 0 ||
		     strcmp(argv[i], "--out") == 0) &&
		    i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (argv[i][0] != '-' && dir == NULL)
			dir = argv[i];
		else {
			fprintf(stderr,
				"twofold: pkg scandb: unexpected argument "
				"'%s'\n",
				argv[i]);
			return 2;
		}
	}
	if (dir == NULL || out == NULL || key == NULL) {
		fprintf(stderr, "usage: twofold pkg scandb DIR -o DB.tfdb "
				"--key KEY\n");
		return 2;
	}
	char why[256] = "";
	struct tf_key *k = NULL;
	int r = key_load(key, &k, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "twofold: pkg scandb: %s\n", why);
		return 1;
	}
	/* refuse at the source a database libclamav cannot load: the
	 * device would refuse every import with it */
	char tmp[] = "/tmp/twofold-scandb-XXXXXX";
	struct tf_scan_limits lim = TF_SCAN_LIMITS_DEFAULT;
	struct tf_scan_engine *e = NULL;
	unsigned n_sigs = 0;
	if (mkdtemp(tmp) == NULL) {
		tf_key_free(k);
		fprintf(stderr, "twofold: pkg scandb: no temporary dir\n");
		return 1;
	}
	r = tf_scan_engine_load(dir, tmp, &lim, &e, &n_sigs, why, sizeof(why));
	rmdir(tmp);
	tf_scan_engine_free(e);
	if (r < 0) {
		tf_key_free(k);
		fprintf(stderr, "twofold: pkg scandb: %s: %s\n", dir, why);
		return 1;
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char part[PATH_MAX];
	snprintf(part, sizeof(part), "%s.part", out);
	_cleanup_close_ int ofd = open(
		part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		0644);
	if (dfd < 0 || ofd < 0) {
		tf_key_free(k);
		fprintf(stderr, "twofold: pkg scandb: cannot open %s: %s\n",
			dfd < 0 ? dir : part, strerror(errno));
		return 1;
	}
	r = tf_scandb_pack(k, dfd, (uint64_t)time(NULL), ofd, why, sizeof(why));
	tf_key_free(k);
	if (r == 0 && fsync(ofd) < 0)
		r = -errno;
	if (r == 0 && rename(part, out) < 0)
		r = -errno;
	if (r < 0) {
		unlink(part);
		fprintf(stderr, "twofold: pkg scandb: %s\n",
			why[0] ? why : strerror(-r));
		return 1;
	}
	printf("%s: %u signatures\n", out, n_sigs);
	return 0;
}

/* twofold-scanner scanfiles DBDIR FILE...: the library path on plain
 * files, for bench/apps/scan.sh (against clamscan with the same DBDIR),
 * with as many threads on the one engine as `serve` runs
 * (TF_SCAN_THREADS); one "FILE: OK|NAME" line each, in argument order,
 * exit 1 if any was not clean */
struct scanfiles_ctx {
	struct tf_scan_engine *e;
	char **files;
	int n;
	_Atomic int next;
	char (*res)[sizeof(((struct tf_scan_verdict *)0)->name)];
};

static void *scanfiles_worker(void *arg)
{
	struct scanfiles_ctx *x = arg;
	char why[256];

	for (int i; (i = atomic_fetch_add(&x->next, 1)) < x->n;) {
		_cleanup_close_ int fd =
			open(x->files[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct tf_scan_verdict v;
		if (fd < 0 || tf_scan_fd(x->e, fd, &v, why, sizeof(why)) < 0)
			snprintf(x->res[i], sizeof(x->res[i]), "ERROR");
		else
			snprintf(x->res[i], sizeof(x->res[i]), "%s",
				 v.result == TF_SCAN_CLEAN ? "OK" : v.name);
	}
	return NULL;
}

static int scanfiles(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: twofold-scanner scanfiles DBDIR "
				"FILE...\n");
		return 2;
	}
	char tmp[] = "/tmp/twofold-scanfiles-XXXXXX", why[256] = "";
	struct tf_scan_limits lim = TF_SCAN_LIMITS_DEFAULT;
	struct scanfiles_ctx x = {.files = argv + 2, .n = argc - 2};
	pthread_t t[TF_SCAN_THREADS];
	int nt = 0, bad = 0;

	x.res = calloc((size_t)x.n, sizeof(*x.res));
	if (x.res == NULL || mkdtemp(tmp) == NULL)
		return 1;
	int r = tf_scan_engine_load(argv[1], tmp, &lim, &x.e, NULL, why,
				    sizeof(why));
	if (r < 0) {
		rmdir(tmp);
		fprintf(stderr, "twofold-scanner: %s\n", why);
		return 1;
	}
	for (; nt < TF_SCAN_THREADS - 1; nt++)
		if (pthread_create(&t[nt], NULL, scanfiles_worker, &x) != 0)
			break;
	scanfiles_worker(&x);
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < x.n; i++) {
		printf("%s: %s\n", x.files[i], x.res[i]);
		bad |= strcmp(x.res[i], "OK") != 0;
	}
	tf_scan_engine_free(x.e);
	rmdir(tmp);
	free(x.res);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: twofold-scanner serve|scandb|keygen "
				"...\n");
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "scanfiles") == 0)
		return scanfiles(argc - 1, argv + 1);
	if (tf_crypto_init() < 0) {
		fprintf(stderr, "twofold: crypto initialisation failed\n");
		return 1;
	}
	if (strcmp(argv[1], "scandb") == 0)
		return scandb(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return keygen(argc - 1, argv + 1);
	fprintf(stderr, "twofold-scanner: unknown mode '%s'\n", argv[1]);
	return 2;
}
