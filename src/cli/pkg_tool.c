/* SPDX-License-Identifier: ISC */
/*
 * twofold-pkg: the organisation-side package tools (`twofold pkg ...`
 * execs this). keygen, build (mkfs.erofs + sign), verify, catalog build,
 * catalog verify. Nothing here runs on a device's privileged path; the
 * device verifies with the same library (tf_pkg_open) in a helper.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twofold/alert.h"
#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/pkg.h"

static bool json;
static const char *cmd = "pkg";

static void fail(const char *reason, const char *fmt, ...) TF_PRINTF(2, 3);
static void fail(const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json) {
		/* messages are our own ASCII; escape the two that matter */
		printf("{\"error\": {\"reason\": \"%s\", \"message\": \"",
		       reason);
		for (const char *p = msg; *p; p++)
			printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		printf("\"}}\n");
	} else {
		fprintf(stderr, "twofold: pkg %s: %s\n", cmd, msg);
	}
}

static int usage_err(const char *fmt, ...) TF_PRINTF(1, 2);
static int usage_err(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail("cli.usage", "%s (see: twofold pkg --help)", msg);
	return 2;
}

static int pkg_fail(const struct tf_pkg_err *e, int r, const char *what)
{
	if (e->reason)
		fail(e->reason, "%s", e->msg);
	else
		fail("cli.failed", "%s: %s", what, strerror(-r));
	return 1;
}

#define KEYS_MAX TF_PKG_SLOTS_MAX
struct opts {
	const char *out, *manifest, *trust, *suite, *seq, *expires;
	const char *keys[KEYS_MAX];
	size_t n_keys;
	const char *pos[4];
	int n_pos;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"out", required_argument, NULL, 'o'},
		{"key", required_argument, NULL, 'k'},
		{"manifest", required_argument, NULL, 'm'},
		{"trust", required_argument, NULL, 't'},
		{"suite", required_argument, NULL, 's'},
		{"seq", required_argument, NULL, 'q'},
		{"expires", required_argument, NULL, 'e'},
		{"json", no_argument, NULL, 'j'},
		{0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:j", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'k':
			if (o->n_keys == KEYS_MAX)
				return usage_err("at most %d --key", KEYS_MAX);
			o->keys[o->n_keys++] = optarg;
			break;
		case 'm': o->manifest = optarg; break;
		case 't': o->trust = optarg; break;
		case 's': o->suite = optarg; break;
		case 'q': o->seq = optarg; break;
		case 'e': o->expires = optarg; break;
		case 'j': json = true; break;
		default: return usage_err("bad option");
		}
	}
	while (optind < argc) {
		if (o->n_pos == 4)
			return usage_err("too many arguments");
		o->pos[o->n_pos++] = argv[optind++];
	}
	return 0;
}

static int read_file(const char *path, size_t max, char **out, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return -ENOMEM;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	*len = (size_t)n;
	*out = steal_pointer(&buf);
	return 0;
}

/* Write via a temporary next to path, then rename: never a half file. */
struct outfile {
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd;
};

static int out_open(struct outfile *f, const char *path)
{
	if (snprintf(f->path, sizeof(f->path), "%s", path) >=
		    (int)sizeof(f->path) ||
	    snprintf(f->tmp, sizeof(f->tmp), "%s.XXXXXX", path) >=
		    (int)sizeof(f->tmp))
		return -ENAMETOOLONG;
	f->fd = mkostemp(f->tmp, O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	(void)fchmod(f->fd, 0644);
	return 0;
}

static int out_commit(struct outfile *f)
{
	int r = 0;

	if (fsync(f->fd) < 0 || close(f->fd) < 0)
		r = -errno;
	f->fd = -1;
	if (r == 0 && rename(f->tmp, f->path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(f->tmp);
	return r;
}

static void out_abort(struct outfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	(void)unlink(f->tmp);
}

static int load_keys(const struct opts *o, struct tf_key **keys)
{
	struct tf_pkg_err e = {0};

	if (o->n_keys == 0)
		return usage_err("--key KEY is required");
	for (size_t i = 0; i < o->n_keys; i++) {
		int r = tf_pkg_key_load(o->keys[i], &keys[i], &e);
		if (r < 0)
			return pkg_fail(&e, r, o->keys[i]);
	}
	return 0;
}

static void free_keys(struct tf_key **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tf_key_free(keys[i]);
}

/* The trust list's suite: --suite, else by the key length (32 bytes is
 * Ed25519, 65 an SM2 point). */
static const struct tf_suite *trust_suite(const struct opts *o)
{
	uint8_t pk[TF_PK_MAX];
	size_t n = 0, k;

	if (o->suite)
		return tf_suite_by_name(o->suite);
	k = strcspn(o->trust, ", ");
	if (tf_pkg_b64_decode(o->trust, k, pk, sizeof(pk), &n) < 0)
		return tf_suite_by_name(TF_SUITE_DEFAULT);
	return tf_suite_by_id(n == 65 ? TF_SUITE_GM : TF_SUITE_INTL);
}

static int cmd_keygen(int argc, char **argv)
{
	_cleanup_key_ struct tf_key *k = NULL;
	const struct tf_suite *s;
	uint8_t pk[TF_PK_MAX];
	char b64[2 * TF_PK_MAX + 4];
	struct opts o;
	int r;

	if ((r = parse_opts(argc, argv, &o)) != 0)
		return r;
	if (o.out == NULL || o.n_pos)
		return usage_err("usage: keygen [--suite intl|gm] --out KEY");
	s = tf_suite_by_name(o.suite ? o.suite : TF_SUITE_DEFAULT);
	if (s == NULL)
		return usage_err("unknown suite '%s' (intl, gm)", o.suite);
	r = tf_pkg_key_generate(s, o.out, &k);
	if (r == -EEXIST) {
		fail("cli.failed",
		     "%s exists; a signing key is never overwritten (move it "
		     "away first)",
		     o.out);
		return 1;
	}
	if (r < 0) {
		fail("cli.failed", "cannot write %s: %s", o.out, strerror(-r));
		return 1;
	}
	if (tf_key_public(k, pk, sizeof(pk)) < 0 ||
	    tf_pkg_b64_encode(pk, s->pk_bytes, b64, sizeof(b64)) < 0)
		return 1;
	if (json)
		printf("{\"suite\": \"%s\", \"public_key\": \"%s\"}\n", s->name,
		       b64);
	else
		printf("%s\n", b64);
	return 0;
}

/* The public key of a key file again (keygen printed it once). */
static int cmd_pubkey(int argc, char **argv)
{
	struct tf_key *keys[KEYS_MAX] = {0};
	uint8_t pk[TF_PK_MAX];
	char b64[2 * TF_PK_MAX + 4];
	struct opts o;
	int r;

	if ((r = parse_opts(argc, argv, &o)) != 0)
		return r;
	if (o.n_pos != 1)
		return usage_err("usage: pubkey KEY");
	o.keys[0] = o.pos[0];
	o.n_keys = 1;
	if ((r = load_keys(&o, keys)) != 0)
		return r;
	r = tf_key_public(keys[0], pk, sizeof(pk));
	if (r == 0)
		r = tf_pkg_b64_encode(pk, tf_key_suite(keys[0])->pk_bytes, b64,
				      sizeof(b64));
	if (r == 0)
		printf("%s\n", b64);
	free_keys(keys, 1);
	return r < 0 ? 1 : 0;
}

/* mkfs.erofs with everything that varies between builds pinned: no
 * xattrs (the host's SELinux labels, file capabilities), every file
 * owned by root, every timestamp 0, the UUID derived from the manifest.
 * erofs-utils sorts directory entries itself. */
static int run_mkfs(const char *img, const char *dir, const char *uuid)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (nul >= 0)
			dup2(nul, STDOUT_FILENO);
		execlp("mkfs.erofs", "mkfs.erofs", "--quiet", "-x-1", "-T0",
		       "--all-root", "-U", uuid, img, dir, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return -ENOENT;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static int cmd_build(int argc, char **argv)
{
	struct tf_key *keys[KEYS_MAX] = {0};
	struct tf_pkg_manifest m;
	struct tf_pkg_err e = {0};
	_cleanup_free_ char *text = NULL;
	struct outfile img = {.fd = -1}, out = {.fd = -1};
	char uuid[37];
	struct stat st;
	size_t len;
	struct opts o;
	int r, rc = 1;

	if ((r = parse_opts(argc, argv, &o)) != 0)
		return r;
	if (o.n_pos != 1 || o.out == NULL || o.manifest == NULL)
		return usage_err("usage: build DIR -o NAME.tfa --key KEY "
				 "--manifest MANIFEST");
	if (stat(o.pos[0], &st) < 0 || !S_ISDIR(st.st_mode)) {
		fail("cli.failed", "%s is not a directory", o.pos[0]);
		return 1;
	}
	r = read_file(o.manifest, TF_PKG_MANIFEST_MAX, &text, &len);
	if (r < 0) {
		fail("cli.failed", "cannot read manifest %s: %s", o.manifest,
		     r == -EFBIG ? "over 16 KiB" : strerror(-r));
		return 1;
	}
	r = tf_pkg_manifest_parse(text, len, TF_PKG_MF_SOURCE, &m, &e);
	if (r < 0)
		return pkg_fail(&e, r, o.manifest);
	if ((r = load_keys(&o, keys)) != 0)
		goto done;
	r = tf_pkg_image_uuid(tf_key_suite(keys[0]), &m, uuid);
	if (r == 0)
		r = out_open(&img, o.out);
	if (r < 0) {
		fail("cli.failed", "cannot create a file next to %s: %s", o.out,
		     strerror(-r));
		goto done;
	}
	close(img.fd);
	img.fd = -1;
	r = run_mkfs(img.tmp, o.pos[0], uuid);
	if (r < 0) {
		fail("cli.failed",
		     r == -ENOENT ? "mkfs.erofs not found (apt-get install "
				    "erofs-utils)"
				  : "mkfs.erofs failed on %s",
		     o.pos[0]);
		goto done;
	}
	img.fd = open(img.tmp, O_RDONLY | O_CLOEXEC);
	r = img.fd < 0 ? -errno : out_open(&out, o.out);
	if (r < 0) {
		fail("cli.failed", "cannot write %s: %s", o.out, strerror(-r));
		goto done;
	}
	r = tf_pkg_build(out.fd, &m, img.fd, keys, o.n_keys, &e);
	if (r < 0) {
		pkg_fail(&e, r, o.out);
		goto done;
	}
	r = out_commit(&out);
	if (r < 0) {
		fail("cli.failed", "cannot write %s: %s", o.out, strerror(-r));
		goto done;
	}
	rc = 0;
done:
	out_abort(&img);
	if (rc)
		out_abort(&out);
	free_keys(keys, o.n_keys);
	return rc;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++)
		printf(*s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
	putchar('"');
}

static void print_manifest(const struct tf_pkg *p, const struct tf_pkg_trust *t)
{
	const struct tf_pkg_manifest *m = tf_pkg_manifest(p);
	char hex[2 * TF_HASH_BYTES + 1], kid[17];
	const char *sep = "";

	for (size_t i = 0; i < TF_HASH_BYTES; i++)
		sprintf(hex + 2 * i, "%02x", tf_pkg_payload_hash(p)[i]);
	tf_pkg_keyid_hex(t->id[tf_pkg_signer(p)], kid);
	if (!json) {
		printf("%s %s (version code %" PRIu64 "): signature OK by "
		       "key %s\n",
		       m->name, m->version, m->version_code, kid);
		printf("personas:%s%s\npermissions:",
		       m->personas & TF_PKG_PERSONA_PERSONAL ? " personal" : "",
		       m->personas & TF_PKG_PERSONA_SECURE ? " secure" : "");
		for (unsigned b = 0; b < 32; b++)
			if (m->permissions & (1u << b))
				printf(" %s", tf_pkg_perm_name(1u << b));
		printf("%s\n", m->permissions ? "" : " none");
		for (unsigned i = 0; i < m->n_entries; i++)
			printf("entry: %s=%s\n", m->entries[i].name,
			       m->entries[i].path);
		printf("payload: %" PRIu64 " bytes at %" PRIu64 ", hash %s\n",
		       tf_pkg_payload_length(p), tf_pkg_payload_offset(p), hex);
		return;
	}
	printf("{\"name\": ");
	json_str(m->name);
	printf(", \"version\": ");
	json_str(m->version);
	printf(", \"version_code\": %" PRIu64 ", \"personas\": [",
	       m->version_code);
	if (m->personas & TF_PKG_PERSONA_PERSONAL) {
		printf("\"personal\"");
		sep = ", ";
	}
	if (m->personas & TF_PKG_PERSONA_SECURE)
		printf("%s\"secure\"", sep);
	printf("], \"permissions\": [");
	sep = "";
	for (unsigned b = 0; b < 32; b++)
		if (m->permissions & (1u << b)) {
			printf("%s\"%s\"", sep, tf_pkg_perm_name(1u << b));
			sep = ", ";
		}
	printf("], \"entries\": {");
	for (unsigned i = 0; i < m->n_entries; i++) {
		printf("%s", i ? ", " : "");
		json_str(m->entries[i].name);
		printf(": ");
		json_str(m->entries[i].path);
	}
	printf("}, \"fs\": [");
	for (unsigned i = 0; i < m->n_fs; i++) {
		printf("%s{\"write\": %s, \"path\": ", i ? ", " : "",
		       m->fs[i].write ? "true" : "false");
		json_str(m->fs[i].path);
		printf("}");
	}
	printf("], \"payload_offset\": %" PRIu64
	       ", \"payload_length\": %" PRIu64
	       ", \"payload_hash\": \"%s\", \"signer\": \"%s\"}\n",
	       tf_pkg_payload_offset(p), tf_pkg_payload_length(p), hex, kid);
}

static int get_trust(const struct opts *o, const struct tf_suite **s,
		     struct tf_pkg_trust *t)
{
	struct tf_pkg_err e = {0};
	int r;

	if (o->trust == NULL)
		return usage_err("--trust PUBKEY is required");
	*s = trust_suite(o);
	if (*s == NULL)
		return usage_err("unknown suite '%s' (intl, gm)", o->suite);
	r = tf_pkg_trust_parse(*s, o->trust, t, &e);
	if (r < 0)
		return pkg_fail(&e, r, "--trust");
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	_cleanup_pkg_ struct tf_pkg *p = NULL;
	_cleanup_close_ int fd = -1;
	const struct tf_suite *s;
	struct tf_pkg_trust t;
	struct tf_pkg_err e = {0};
	struct opts o;
	int r;

	if ((r = parse_opts(argc, argv, &o)) != 0)
		return r;
	if (o.n_pos != 1)
		return usage_err("usage: verify FILE --trust PUBKEY");
	if ((r = get_trust(&o, &s, &t)) != 0)
		return r;
	fd = open(o.pos[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("cli.failed", "cannot open %s: %s", o.pos[0],
		     strerror(errno));
		return 1;
	}
	r = tf_pkg_open(fd, &t, s, &p, &e);
	if (r < 0)
		return pkg_fail(&e, r, o.pos[0]);
	print_manifest(p, &t);
	return 0;
}

/* LIST: one "NAME MIN MAX HASH|* PERSONAS" a line; # comments. */
static int cmd_catalog_build(int argc, char **argv)
{
	struct tf_key *keys[KEYS_MAX] = {0};
	struct outfile out = {.fd = -1};
	struct tf_pkg_err e = {0};
	_cleanup_free_ char *list = NULL, *body = NULL;
	size_t len, cap, blen = 0;
	int64_t exp;
	uint64_t seq;
	char *end, t[21];
	struct opts o;
	int r, rc = 1;

	if ((r = parse_opts(argc, argv, &o)) != 0)
		return r;
	if (o.n_pos != 1 || o.out == NULL || o.seq == NULL || o.expires == NULL)
		return usage_err("usage: catalog build LIST -o CATALOG --key "
				 "KEY --seq N --expires DATE");
	errno = 0;
	seq = strtoull(o.seq, &end, 10);
	if (errno || *end || o.seq[0] < '0' || o.seq[0] > '9')
		return usage_err("--seq must be a number");
	if (tf_catalog_parse_time(o.expires, &exp) < 0)
		return usage_err("--expires must be YYYY-MM-DD or "
				 "YYYY-MM-DDTHH:MM:SSZ (UTC)");
	r = read_file(o.pos[0], TF_CAT_BODY_MAX, &list, &len);
	if (r < 0) {
		fail("cli.failed", "cannot read %s: %s", o.pos[0],
		     strerror(-r));
		return 1;
	}
	cap = len * 2 + 128;
	body = malloc(cap);
	if (body == NULL)
		return 1;
	tf_catalog_format_time(exp, t);
	blen = (size_t)snprintf(body, cap, "seq = %" PRIu64 "\nexpires = %s\n",
				seq, t);
	for (char *l = list, *nl; l && *l; l = nl) {
		nl = strchr(l, '\n');
		if (nl)
			*nl++ = '\0';
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l == '\0' || *l == '#')
			continue;
		blen += (size_t)snprintf(body + blen, cap - blen, "app = %s\n",
					 l);
		if (blen >= cap)
			return usage_err("%s is too long", o.pos[0]);
	}
	if ((r = load_keys(&o, keys)) != 0)
		goto done;
	r = out_open(&out, o.out);
	if (r == 0)
		r = tf_catalog_build(out.fd, body, blen, keys, o.n_keys, &e);
	if (r < 0) {
		pkg_fail(&e, r, o.out);
		goto done;
	}
	r = out_commit(&out);
	if (r < 0) {
		fail("cli.failed", "cannot write %s: %s", o.out, strerror(-r));
		goto done;
	}
	rc = 0;
done:
	if (rc)
		out_abort(&out);
	free_keys(keys, o.n_keys);
	return rc;
}

static int cmd_catalog_verify(int argc, char **argv)
{
	_cleanup_catalog_ struct tf_catalog *c = NULL;
	_cleanup_close_ int fd = -1;
	const struct tf_suite *s;
	struct tf_pkg_trust t;
	struct tf_pkg_err e = {0};
	struct opts o;
	char exp[21];
	int r;

	if ((r = parse_opts(argc, argv, &o)) != 0)
		return r;
	if (o.n_pos != 1)
		return usage_err("usage: catalog verify CATALOG --trust "
				 "PUBKEY");
	if ((r = get_trust(&o, &s, &t)) != 0)
		return r;
	fd = open(o.pos[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("cli.failed", "cannot open %s: %s", o.pos[0],
		     strerror(errno));
		return 1;
	}
	r = tf_catalog_load(fd, &t, s, &c, &e);
	if (r < 0)
		return pkg_fail(&e, r, o.pos[0]);
	/* the signature is fine; an expired catalog is still an error */
	r = tf_catalog_check(0, NULL, c, (int64_t)time(NULL), &e);
	tf_catalog_format_time(c->expires, exp);
	if (json) {
		printf("{\"seq\": %" PRIu64 ", \"expires\": \"%s\", "
		       "\"expired\": %s, \"apps\": [",
		       c->seq, exp, r < 0 ? "true" : "false");
		for (size_t i = 0; i < c->n; i++) {
			printf("%s{\"name\": \"%s\", \"min\": %" PRIu64
			       ", \"max\": %" PRIu64 "}",
			       i ? ", " : "", c->entries[i].name,
			       c->entries[i].min_code, c->entries[i].max_code);
		}
		printf("]}\n");
		return r < 0 ? 1 : 0;
	}
	if (r < 0)
		return pkg_fail(&e, r, o.pos[0]);
	printf("catalog %" PRIu64 ": signature OK, %zu apps, expires %s\n",
	       c->seq, c->n, exp);
	return 0;
}

/* An urgent alert record for the device (twofold/alert.h): the
 * organisation signs it with a key whose public half is the persona's
 * alert_trust; it is sent to the persona's alert port over the tunnel
 * (or given to `twofold alert post`). --issued-at is for tests (an
 * expired or future record). */
static int cmd_alert(int argc, char **argv)
{
	static const struct option lo[] = {
		{"key", required_argument, NULL, 'k'},
		{"out", required_argument, NULL, 'o'},
		{"persona", required_argument, NULL, 'p'},
		{"title", required_argument, NULL, 't'},
		{"body", required_argument, NULL, 'b'},
		{"ttl", required_argument, NULL, 'l'},
		{"issued-at", required_argument, NULL, 'i'},
		{0},
	};
	const char *key = NULL, *out = NULL, *persona = "secure";
	const char *title = NULL, *body = "";
	unsigned long long ttl = 600, at = (unsigned long long)time(NULL);
	struct tf_key *keys[1] = {0};
	struct opts o = {0};
	struct tf_alert a;
	uint8_t rec[TF_ALERT_MAX];
	char hex[2 * TF_ALERT_ID_BYTES + 1], *end;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'o': out = optarg; break;
		case 'p': persona = optarg; break;
		case 't': title = optarg; break;
		case 'b': body = optarg; break;
		case 'l':
			ttl = strtoull(optarg, &end, 10);
			if (*end || ttl == 0 || ttl > TF_ALERT_MAX_TTL)
				return usage_err(
					"--ttl must be 1..%llu seconds",
					TF_ALERT_MAX_TTL);
			break;
		case 'i':
			at = strtoull(optarg, &end, 10);
			if (*end)
				return usage_err("--issued-at: Unix seconds");
			break;
		default: return usage_err("bad option");
		}
	}
	if (!key || !out || !title || optind != argc)
		return usage_err("usage: alert --key KEY --title TEXT [--body "
				 "TEXT] [--persona NAME] [--ttl S] -o FILE");
	memset(&a, 0, sizeof(a));
	if (strlen(persona) > TF_ALERT_PERSONA_MAX ||
	    strlen(title) > TF_ALERT_TITLE_MAX ||
	    strlen(body) > TF_ALERT_BODY_MAX)
		return usage_err("persona, title (%d) or body (%d bytes) too "
				 "long",
				 TF_ALERT_TITLE_MAX, TF_ALERT_BODY_MAX);
	memcpy(a.persona, persona, strlen(persona));
	memcpy(a.title, title, strlen(title));
	memcpy(a.body, body, strlen(body));
	a.body_len = strlen(body);
	a.issued_at = at;
	a.expires_at = at + ttl;
	o.keys[0] = key;
	o.n_keys = 1;
	if ((r = load_keys(&o, keys)) != 0)
		return r;
	r = tf_random(a.id, sizeof(a.id));
	if (r == 0)
		r = tf_alert_sign(&a, keys[0], rec, sizeof(rec));
	free_keys(keys, 1);
	if (r == -EINVAL) {
		fail("cli.failed", "alert: a field is out of range (persona "
				   "a name; title and body printable ASCII)");
		return 1;
	}
	if (r >= 0)
		r = tf_atomic_write(out, rec, (size_t)r, 0644);
	if (r < 0) {
		fail("cli.failed", "alert: cannot make %s: %s", out,
		     strerror(-r));
		return 1;
	}
	tf_alert_id_hex(a.id, hex);
	printf("alert %s for %s, valid %llu s: %s\n", hex, persona, ttl, out);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: twofold pkg keygen [--suite intl|gm] --out KEY\n"
		   "       twofold pkg build DIR -o NAME.tfa --key KEY "
		   "--manifest MANIFEST\n"
		   "       twofold pkg verify FILE --trust PUBKEY [--json]\n"
		   "       twofold pkg pubkey KEY\n"
		   "       twofold pkg catalog build LIST -o CATALOG --key KEY "
		   "--seq N --expires DATE\n"
		   "       twofold pkg catalog verify CATALOG --trust "
		   "PUBKEY\n"
		   "       twofold pkg alert --key KEY --title TEXT [--body "
		   "TEXT] [--persona NAME] [--ttl S] -o FILE\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && strcmp(argv[i], "--json") == 0) {
		json = true;
		i++;
	}
	if (i >= argc || strcmp(argv[i], "--help") == 0 ||
	    strcmp(argv[i], "-h") == 0) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	if (tf_crypto_init() < 0) {
		fail("cli.failed", "the crypto libraries did not start");
		return 1;
	}
	cmd = argv[i];
	if (strcmp(argv[i], "keygen") == 0)
		return cmd_keygen(argc - i, argv + i);
	if (strcmp(argv[i], "build") == 0)
		return cmd_build(argc - i, argv + i);
	if (strcmp(argv[i], "verify") == 0)
		return cmd_verify(argc - i, argv + i);
	if (strcmp(argv[i], "pubkey") == 0)
		return cmd_pubkey(argc - i, argv + i);
	if (strcmp(argv[i], "alert") == 0)
		return cmd_alert(argc - i, argv + i);
	if (strcmp(argv[i], "catalog") == 0 && i + 1 < argc) {
		cmd = strcmp(argv[i + 1], "build") == 0 ? "catalog build"
							: "catalog verify";
		if (strcmp(argv[i + 1], "build") == 0)
			return cmd_catalog_build(argc - i - 1, argv + i + 1);
		if (strcmp(argv[i + 1], "verify") == 0)
			return cmd_catalog_verify(argc - i - 1, argv + i + 1);
	}
	return usage_err("unknown command '%s'", argv[i]);
}
