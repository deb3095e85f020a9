/* SPDX-License-Identifier: ISC */
/*
 * twofold-ca: the organisation's certificate authority for secure
 * communications (issue 15, twofold-ca(1)), and the device-side key
 * generator. An offline tool: it reads and writes files in one CA
 * directory and talks to nothing.
 *
 * CA directory (made by `init`, mode 0700):
 *   ca.key    the CA's private key file (0600, TF_PRIVFILE_MAGIC)
 *   ca.pub    its public key file: the trust anchor relays and devices get
 *   serial    the next serial number (decimal), advanced before a
 *             certificate is written so a serial is never issued twice
 *   revoked   the revoked serials, one decimal per line
 *   issued/   a copy of every certificate, SERIAL.cert
 * Every file is written atomically (tf_atomic_write). Private keys are
 * read from and written to files only: never argv, never a log line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/cert.h"
#include "twofold/secmem.h"
#include "twofold/wg.h"

#define PROG "twofold-ca"
#define REVOKED_MAX (1u << 20) /* bytes of the revoked file */
#define DENYLIST_DAYS_DEFAULT 7

static void die_usage(const char *cmd)
{
	fprintf(stderr,
		"usage: " PROG " init --suite intl|gm -o DIR\n"
		"       " PROG " issue --ca DIR --officer ID --role ROLE "
		"--pubkey FILE --days N|--seconds N [--device ID] -o CERT\n"
		"       " PROG " revoke --ca DIR SERIAL\n"
		"       " PROG " denylist --ca DIR [--days N] -o FILE\n"
		"       " PROG " show FILE [--ca DIR]\n"
		"       " PROG " keygen --suite intl|gm -o KEYFILE\n"
		"ROLE: officer | dispatcher | group-authority | relay%s%s\n",
		cmd ? "\n" PROG ": bad arguments for " : "", cmd ? cmd : "");
	exit(2);
}

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(1);
	}
	return p;
}

static int read_bytes(const char *path, size_t max, uint8_t **out, size_t *len)
{
	char *buf = NULL;
	int r = tf_read_file_at(AT_FDCWD, path, max, &buf, len);

	if (r < 0)
		return r;
	*out = (uint8_t *)buf;
	return 0;
}

static void hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || (*end != '\0' && *end != '\n'))
		return false;
	*out = v;
	return true;
}

/* Load the CA's private key (and check it is one). */
static int load_ca(const char *dir, struct tf_key **sk,
		   struct tf_cert_anchor *anchor)
{
	_cleanup_free_ char *kp = path_in(dir, "ca.key");
	_cleanup_free_ uint8_t *buf = NULL;
	struct tf_privfile pf = {0};
	uint8_t pk[TF_PK_MAX];
	size_t len = 0;
	int r;

	r = read_bytes(kp, TF_PRIVFILE_BYTES, &buf, &len);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot read the CA key %s: %s\n", kp,
			strerror(-r));
		return r;
	}
	r = tf_privfile_parse(buf, len, &pf);
	tf_memzero(buf, len);
	if (r < 0 || pf.kind != TF_KEYFILE_CA) {
		fprintf(stderr, PROG ": %s is not a CA key file\n", kp);
		tf_privfile_free(&pf);
		return -EINVAL;
	}
	r = tf_privfile_sign_key(&pf, sk);
	tf_privfile_free(&pf);
	if (r == 0)
		r = tf_key_public(*sk, pk, sizeof(pk));
	if (r == 0)
		r = tf_cert_anchor_init(anchor, tf_key_suite(*sk), pk,
					tf_key_suite(*sk)->pk_bytes);
	if (r < 0)
		fprintf(stderr, PROG ": cannot load the CA key %s: %s\n", kp,
			strerror(-r));
	return r;
}

static int load_anchor(const char *dir, struct tf_cert_anchor *anchor)
{
	_cleanup_free_ char *pp = path_in(dir, "ca.pub");
	_cleanup_free_ uint8_t *buf = NULL;
	struct tf_pubfile pf;
	size_t len = 0;
	int r;

	r = read_bytes(pp, TF_PUBFILE_MAX, &buf, &len);
	if (r == 0)
		r = tf_pubfile_parse(buf, len, &pf);
	if (r == 0)
		r = tf_cert_anchor_init(anchor, pf.suite, pf.sign_pk,
					pf.sign_pk_len);
	if (r < 0)
		fprintf(stderr, PROG ": cannot read the CA public key %s: %s\n",
			pp, strerror(-r));
	return r;
}

static const struct tf_suite *suite_arg(const char *name)
{
	const struct tf_suite *s = name ? tf_suite_by_name(name) : NULL;

	if (s == NULL) {
		fprintf(stderr, PROG ": unknown suite '%s': use intl or gm\n",
			name ? name : "");
		exit(2);
	}
	return s;
}

/* ---- init ---- */

static int cmd_init(int argc, char **argv)
{
	const char *suite = NULL, *dir = NULL;
	_cleanup_free_ char *kp = NULL, *pp = NULL, *sp = NULL, *rp = NULL,
			    *ip = NULL;
	_cleanup_key_ struct tf_key *sk = NULL;
	struct tf_privfile pf = {0};
	struct tf_pubfile pub = {0};
	uint8_t priv[TF_PRIVFILE_BYTES], pubb[TF_PUBFILE_MAX];
	struct tf_cert_anchor a;
	int r, n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--suite") && i + 1 < argc)
			suite = argv[++i];
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			dir = argv[++i];
		else
			die_usage("init");
	}
	if (dir == NULL)
		die_usage("init");
	pf.suite = suite_arg(suite);
	pf.kind = TF_KEYFILE_CA;
	if (mkdir(dir, 0700) < 0) {
		fprintf(stderr,
			PROG ": init: cannot create %s: %s (it must not exist "
			     "yet)\n",
			dir, strerror(errno));
		return 1;
	}
	kp = path_in(dir, "ca.key");
	pp = path_in(dir, "ca.pub");
	sp = path_in(dir, "serial");
	rp = path_in(dir, "revoked");
	ip = path_in(dir, "issued");
	pf.secret = tf_secure_alloc(2 * TF_KEY_BYTES);
	if (pf.secret == NULL)
		return 1;
	r = tf_random(pf.secret, TF_KEY_BYTES);
	if (r == 0)
		r = tf_privfile_encode(&pf, priv);
	if (r == 0)
		r = tf_privfile_sign_key(&pf, &sk);
	tf_privfile_free(&pf);
	pub.suite = tf_key_suite(sk);
	if (r == 0)
		r = tf_key_public(sk, pub.sign_pk, sizeof(pub.sign_pk));
	pub.sign_pk_len = pub.suite ? pub.suite->pk_bytes : 0;
	if (r == 0)
		r = tf_atomic_write(kp, priv, sizeof(priv), 0600);
	tf_memzero(priv, sizeof(priv));
	n = r == 0 ? tf_pubfile_encode(&pub, pubb, sizeof(pubb)) : r;
	r = n < 0 ? n : tf_atomic_write(pp, pubb, (size_t)n, 0644);
	if (r == 0)
		r = tf_atomic_write(sp, "1\n", 2, 0600);
	if (r == 0)
		r = tf_atomic_write(rp, "", 0, 0600);
	if (r == 0 && mkdir(ip, 0700) < 0)
		r = -errno;
	if (r == 0)
		r = tf_cert_anchor_init(&a, pub.suite, pub.sign_pk,
					pub.sign_pk_len);
	if (r < 0) {
		fprintf(stderr, PROG ": init: cannot create the CA in %s: %s\n",
			dir, strerror(-r));
		return 1;
	}
	printf("CA created in %s (suite %s); trust anchor %s, key id ", dir,
	       pub.suite->name, pp);
	hex(a.keyid, sizeof(a.keyid));
	printf("\n");
	return 0;
}

/* ---- issue ---- */

/* Take the next serial and advance the counter on disk first: a crash
 * after this leaves a gap, never a serial issued twice. */
static int next_serial(const char *dir, uint64_t *out)
{
	_cleanup_free_ char *sp = path_in(dir, "serial");
	_cleanup_free_ char *buf = NULL;
	char nb[32];
	size_t len;
	uint64_t v;
	int r;

	r = tf_read_file_at(AT_FDCWD, sp, 32, &buf, &len);
	if (r < 0)
		return r;
	if (!parse_u64(buf, &v) || v == 0 || v == UINT64_MAX)
		return -EBADMSG;
	snprintf(nb, sizeof(nb), "%" PRIu64 "\n", v + 1);
	r = tf_atomic_write(sp, nb, strlen(nb), 0600);
	if (r < 0)
		return r;
	*out = v;
	return 0;
}

static int cmd_issue(int argc, char **argv)
{
	const char *dir = NULL, *officer = NULL, *role = NULL, *pubf = NULL,
		   *days = NULL, *secs = NULL, *device = NULL, *out = NULL;
	_cleanup_key_ struct tf_key *sk = NULL;
	_cleanup_free_ uint8_t *pb = NULL;
	_cleanup_free_ char *copy = NULL;
	struct tf_cert_anchor a;
	struct tf_pubfile pf;
	struct tf_cert c = {0};
	uint8_t cert[TF_CERT_MAX], keyid[TF_CERT_KEYID_BYTES];
	uint64_t nd = 0, ns = 0;
	size_t pl;
	char name[64];
	int r, n;

	for (int i = 1; i < argc; i++) {
		const char **slot = NULL;
		if (!strcmp(argv[i], "--ca"))
			slot = &dir;
		else if (!strcmp(argv[i], "--officer"))
			slot = &officer;
		else if (!strcmp(argv[i], "--role"))
			slot = &role;
		else if (!strcmp(argv[i], "--pubkey"))
			slot = &pubf;
		else if (!strcmp(argv[i], "--days"))
			slot = &days;
		else if (!strcmp(argv[i], "--seconds"))
			slot = &secs;
		else if (!strcmp(argv[i], "--device"))
			slot = &device;
		else if (!strcmp(argv[i], "-o"))
			slot = &out;
		if (slot == NULL || i + 1 >= argc)
			die_usage("issue");
		*slot = argv[++i];
	}
	if (!dir || !officer || !role || !pubf || !out || !days == !secs)
		die_usage("issue");
	c.role = (uint8_t)tf_cert_role_by_name(role);
	if (c.role == 0) {
		fprintf(stderr,
			PROG ": issue: unknown role '%s': use officer, "
			     "dispatcher, group-authority or relay\n",
			role);
		return 2;
	}
	/* --seconds: a certificate that expires within minutes, for drills
	 * and tests of what an expired one does (counted from now, not from
	 * the clock slack below) */
	if (secs &&
	    (!parse_u64(secs, &ns) || ns == 0 || ns > TF_CERT_MAX_VALIDITY)) {
		fprintf(stderr, PROG ": issue: --seconds must be 1..%llu\n",
			(unsigned long long)TF_CERT_MAX_VALIDITY);
		return 2;
	}
	if (days && (!parse_u64(days, &nd) || nd == 0 ||
		     nd * 86400 > TF_CERT_MAX_VALIDITY)) {
		fprintf(stderr,
			PROG ": issue: --days must be 1..%llu (certificates "
			     "are short-lived; re-issue instead)\n",
			(unsigned long long)(TF_CERT_MAX_VALIDITY / 86400));
		return 2;
	}
	if (strlen(officer) > TF_CERT_ID_MAX ||
	    (device && strlen(device) > TF_CERT_ID_MAX)) {
		fprintf(stderr, PROG ": issue: ids are at most %d bytes\n",
			TF_CERT_ID_MAX);
		return 2;
	}
	if (load_ca(dir, &sk, &a) < 0)
		return 1;
	r = read_bytes(pubf, TF_PUBFILE_MAX, &pb, &pl);
	if (r == 0)
		r = tf_pubfile_parse(pb, pl, &pf);
	if (r < 0 || pf.dh_pk_len == 0) {
		fprintf(stderr,
			PROG ": issue: %s is not a device public key file "
			     "(make one with `" PROG " keygen`)\n",
			pubf);
		return 1;
	}
	if (pf.suite != a.suite) {
		fprintf(stderr,
			PROG ": issue: %s is a %s key but this CA is %s\n",
			pubf, pf.suite->name, a.suite->name);
		return 1;
	}
	c.suite = a.suite->id;
	strcpy(c.officer, officer);
	if (device) {
		strcpy(c.device, device);
	} else {
		/* default device id: the device key's own id, so two
		 * devices of one officer never share one */
		r = tf_cert_keyid(pf.suite, pf.sign_pk, pf.sign_pk_len, keyid);
		if (r < 0)
			return 1;
		for (size_t i = 0; i < 8; i++)
			snprintf(c.device + 2 * i, 3, "%02x", keyid[i]);
	}
	memcpy(c.sign_pk, pf.sign_pk, pf.sign_pk_len);
	c.sign_pk_len = pf.sign_pk_len;
	memcpy(c.dh_pk, pf.dh_pk, pf.dh_pk_len);
	c.dh_pk_len = pf.dh_pk_len;
	/* a few minutes of slack for devices whose clocks run behind */
	c.not_before = now_s() - 300;
	c.not_after = secs ? now_s() + ns : c.not_before + nd * 86400;
	r = next_serial(dir, &c.serial);
	if (r < 0) {
		fprintf(stderr, PROG ": issue: cannot advance %s/serial: %s\n",
			dir, strerror(-r));
		return 1;
	}
	n = tf_cert_sign(&c, sk, cert, sizeof(cert));
	if (n < 0) {
		fprintf(stderr,
			PROG ": issue: cannot sign: %s (check the ids: "
			     "letters, digits, - _ . @ only)\n",
			strerror(-n));
		return 1;
	}
	snprintf(name, sizeof(name), "issued/%" PRIu64 ".cert", c.serial);
	copy = path_in(dir, name);
	r = tf_atomic_write(copy, cert, (size_t)n, 0644);
	if (r == 0)
		r = tf_atomic_write(out, cert, (size_t)n, 0644);
	if (r < 0) {
		fprintf(stderr, PROG ": issue: cannot write %s: %s\n", out,
			strerror(-r));
		return 1;
	}
	printf("issued serial %" PRIu64 " to %s (%s, device %s), valid %" PRIu64
	       " days: %s\n",
	       c.serial, c.officer, role, c.device, nd, out);
	return 0;
}

/* ---- revoke and the deny-list ---- */

static int read_revoked(const char *dir, uint64_t **out, size_t *n)
{
	_cleanup_free_ char *rp = path_in(dir, "revoked");
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ uint64_t *v = NULL;
	size_t len, cap = 0, m = 0;
	char *save = NULL;
	int r;

	r = tf_read_file_at(AT_FDCWD, rp, REVOKED_MAX, &buf, &len);
	if (r < 0)
		return r;
	for (char *t = strtok_r(buf, "\n", &save); t;
	     t = strtok_r(NULL, "\n", &save)) {
		uint64_t s;
		if (!parse_u64(t, &s))
			return -EBADMSG;
		if (m == cap) {
			cap = cap ? 2 * cap : 64;
			uint64_t *nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				return -ENOMEM;
			v = nv;
		}
		v[m++] = s;
	}
	if (m > TF_DENYLIST_MAX)
		return -E2BIG;
	*out = steal_pointer(&v);
	*n = m;
	return 0;
}

static int cmd_revoke(int argc, char **argv)
{
	const char *dir = NULL, *serial = NULL;
	_cleanup_free_ char *rp = NULL, *sp = NULL, *nextb = NULL, *buf = NULL;
	_cleanup_free_ uint64_t *v = NULL;
	uint64_t s, next;
	size_t n = 0, len, off = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ca") && i + 1 < argc)
			dir = argv[++i];
		else if (serial == NULL && argv[i][0] != '-')
			serial = argv[i];
		else
			die_usage("revoke");
	}
	if (!dir || !serial)
		die_usage("revoke");
	sp = path_in(dir, "serial");
	r = tf_read_file_at(AT_FDCWD, sp, 32, &nextb, &len);
	if (r < 0 || !parse_u64(nextb, &next)) {
		fprintf(stderr, PROG ": revoke: %s is not a CA directory\n",
			dir);
		return 1;
	}
	if (!parse_u64(serial, &s) || s == 0 || s >= next) {
		fprintf(stderr,
			PROG ": revoke: '%s' is not a serial this CA issued "
			     "(1..%" PRIu64 ")\n",
			serial, next - 1);
		return 2;
	}
	r = read_revoked(dir, &v, &n);
	if (r < 0) {
		fprintf(stderr, PROG ": revoke: cannot read %s/revoked: %s\n",
			dir, strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] == s) {
			printf("serial %" PRIu64 " was already revoked\n", s);
			return 0;
		}
	}
	buf = malloc((n + 1) * 21 + 1);
	if (buf == NULL)
		return 1;
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(buf + off, "%" PRIu64 "\n", v[i]);
	off += (size_t)sprintf(buf + off, "%" PRIu64 "\n", s);
	rp = path_in(dir, "revoked");
	r = tf_atomic_write(rp, buf, off, 0600);
	if (r < 0) {
		fprintf(stderr, PROG ": revoke: cannot write %s: %s\n", rp,
			strerror(-r));
		return 1;
	}
	printf("revoked serial %" PRIu64 "; publish a new deny-list: " PROG
	       " denylist --ca %s -o FILE\n",
	       s, dir);
	return 0;
}

static int cmd_denylist(int argc, char **argv)
{
	const char *dir = NULL, *days = NULL, *out = NULL;
	_cleanup_key_ struct tf_key *sk = NULL;
	_cleanup_free_ uint64_t *v = NULL;
	_cleanup_free_ uint8_t *dl = NULL;
	struct tf_cert_anchor a;
	uint64_t nd = DENYLIST_DAYS_DEFAULT, now = now_s();
	size_t n = 0, len;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ca") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--days") && i + 1 < argc)
			days = argv[++i];
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else
			die_usage("denylist");
	}
	if (!dir || !out)
		die_usage("denylist");
	if (days && (!parse_u64(days, &nd) || nd == 0 || nd > 90)) {
		fprintf(stderr, PROG ": denylist: --days must be 1..90\n");
		return 2;
	}
	if (load_ca(dir, &sk, &a) < 0)
		return 1;
	r = read_revoked(dir, &v, &n);
	if (r == 0)
		r = tf_denylist_sign(sk, now, now + nd * 86400, v, n, &dl,
				     &len);
	if (r == 0)
		r = tf_atomic_write(out, dl, len, 0644);
	if (r < 0) {
		fprintf(stderr, PROG ": denylist: cannot make %s: %s\n", out,
			strerror(-r));
		return 1;
	}
	printf("deny-list of %zu serials, next update due in %" PRIu64
	       " days: %s\n",
	       n, nd, out);
	return 0;
}

/* ---- show ---- */

static void show_time(const char *label, uint64_t t)
{
	char b[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) && strftime(b, sizeof(b), "%F %T UTC", &tm))
		printf("%s: %s\n", label, b);
	else
		printf("%s: %" PRIu64 "\n", label, t);
}

static int cmd_show(int argc, char **argv)
{
	const char *file = NULL, *dir = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct tf_cert_anchor a;
	size_t len;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ca") && i + 1 < argc)
			dir = argv[++i];
		else if (file == NULL && argv[i][0] != '-')
			file = argv[i];
		else
			die_usage("show");
	}
	if (!file)
		die_usage("show");
	if (dir && load_anchor(dir, &a) < 0)
		return 1;
	r = read_bytes(file, 1u << 20, &buf, &len);
	if (r < 0) {
		fprintf(stderr, PROG ": show: cannot read %s: %s\n", file,
			strerror(-r));
		return 1;
	}
	if (len >= 4 && memcmp(buf, TF_CERT_MAGIC, 4) == 0) {
		struct tf_cert c;
		r = tf_cert_parse(buf, len, &c);
		if (r < 0) {
			fprintf(stderr, PROG ": show: %s: %s\n", file,
				tf_cert_reason(r));
			return 1;
		}
		printf("certificate\nsuite: %s\nserial: %" PRIu64
		       "\nrole: %s\nofficer: %s\ndevice: %s\n",
		       tf_suite_by_id(c.suite)->name, c.serial,
		       tf_cert_role_name(c.role), c.officer, c.device);
		show_time("not before", c.not_before);
		show_time("not after", c.not_after);
		printf("issuer key id: ");
		hex(c.issuer, sizeof(c.issuer));
		printf("\nsign key: ");
		hex(c.sign_pk, c.sign_pk_len);
		printf("\ndh key: ");
		hex(c.dh_pk, c.dh_pk_len);
		printf("\n");
		if (dir) {
			r = tf_cert_verify(buf, len, &a, now_s(), ~0u, NULL,
					   NULL);
			printf("check against %s: %s\n", dir,
			       tf_cert_reason(r));
			return r < 0 ? 1 : 0;
		}
		return 0;
	}
	if (len >= 4 && memcmp(buf, TF_DENYLIST_MAGIC, 4) == 0) {
		_cleanup_denylist_ struct tf_denylist *dl = NULL;
		r = dir ? tf_denylist_parse(buf, len, &a, &dl)
			: tf_denylist_parse_unverified(buf, len, &dl);
		if (r < 0) {
			fprintf(stderr, PROG ": show: %s: deny-list %s\n", file,
				r == -ENOKEY		? "of another CA"
				: r == -EPROTONOSUPPORT ? "of another suite"
							: "malformed or badly "
							  "signed");
			return 1;
		}
		printf("deny-list%s\n", dir ? " (signature valid)" : "");
		show_time("issued at", tf_denylist_issued_at(dl));
		show_time("next update", tf_denylist_next_update(dl));
		printf("revoked serials: %zu\n", tf_denylist_count(dl));
		for (size_t i = 0; i < tf_denylist_count(dl); i++)
			printf("  %" PRIu64 "\n", tf_denylist_at(dl, i));
		return 0;
	}
	if (len >= 4 && memcmp(buf, TF_PUBFILE_MAGIC, 4) == 0) {
		struct tf_pubfile pf;
		uint8_t keyid[TF_CERT_KEYID_BYTES];
		r = tf_pubfile_parse(buf, len, &pf);
		if (r == 0)
			r = tf_cert_keyid(pf.suite, pf.sign_pk, pf.sign_pk_len,
					  keyid);
		if (r < 0) {
			fprintf(stderr,
				PROG ": show: %s: malformed public key file\n",
				file);
			return 1;
		}
		printf("public key file\nsuite: %s\nkey id: ", pf.suite->name);
		hex(keyid, sizeof(keyid));
		printf("\nsign key: ");
		hex(pf.sign_pk, pf.sign_pk_len);
		printf("\n");
		if (pf.dh_pk_len) {
			printf("dh key: ");
			hex(pf.dh_pk, pf.dh_pk_len);
			printf("\n");
		}
		return 0;
	}
	/* a private key file is never shown, not even its public half:
	 * `show` is run on files users paste into tickets */
	fprintf(stderr,
		PROG ": show: %s is not a certificate, deny-list or public "
		     "key file\n",
		file);
	return 1;
}

/* ---- keygen (device side) ---- */

static int cmd_keygen(int argc, char **argv)
{
	const char *suite = NULL, *out = NULL;
	_cleanup_free_ char *pubpath = NULL;
	_cleanup_key_ struct tf_key *sk = NULL;
	struct tf_privfile pf = {.kind = TF_KEYFILE_DEVICE};
	struct tf_pubfile pub = {0};
	uint8_t priv[TF_PRIVFILE_BYTES], pubb[TF_PUBFILE_MAX];
	uint8_t keyid[TF_CERT_KEYID_BYTES];
	size_t dhlen = 0;
	int r, n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--suite") && i + 1 < argc)
			suite = argv[++i];
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else
			die_usage("keygen");
	}
	if (!out)
		die_usage("keygen");
	pf.suite = pub.suite = suite_arg(suite);
	if (asprintf(&pubpath, "%s.pub", out) < 0)
		return 1;
	if (access(out, F_OK) == 0) {
		fprintf(stderr,
			PROG ": keygen: %s exists; refusing to replace an "
			     "identity key\n",
			out);
		return 1;
	}
	pf.secret = tf_secure_alloc(2 * TF_KEY_BYTES);
	if (pf.secret == NULL)
		return 1;
	/* sign seed, then the Noise static DH key (X25519 / SM2), made by
	 * the tunnel's keygen so both protocols clamp and range-check the
	 * same way */
	r = tf_random(pf.secret, TF_KEY_BYTES);
	if (r == 0)
		r = tf_wg_keygen(pf.suite->id, pf.secret + TF_KEY_BYTES,
				 pub.dh_pk, &dhlen);
	pub.dh_pk_len = dhlen;
	if (r == 0)
		r = tf_privfile_encode(&pf, priv);
	if (r == 0)
		r = tf_privfile_sign_key(&pf, &sk);
	tf_privfile_free(&pf);
	if (r == 0)
		r = tf_key_public(sk, pub.sign_pk, sizeof(pub.sign_pk));
	pub.sign_pk_len = pub.suite->pk_bytes;
	if (r == 0)
		r = tf_atomic_write(out, priv, sizeof(priv), 0600);
	tf_memzero(priv, sizeof(priv));
	n = r == 0 ? tf_pubfile_encode(&pub, pubb, sizeof(pubb)) : r;
	r = n < 0 ? n : tf_atomic_write(pubpath, pubb, (size_t)n, 0644);
	if (r == 0)
		r = tf_cert_keyid(pub.suite, pub.sign_pk, pub.sign_pk_len,
				  keyid);
	if (r < 0) {
		fprintf(stderr, PROG ": keygen: cannot make %s: %s\n", out,
			strerror(-r));
		return 1;
	}
	printf("identity key %s (suite %s); public key %s\nkey id: ", out,
	       pub.suite->name, pubpath);
	hex(keyid, sizeof(keyid));
	printf("\nsign key: ");
	hex(pub.sign_pk, pub.sign_pk_len);
	printf("\ndh key: ");
	hex(pub.dh_pk, pub.dh_pk_len);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"init", cmd_init},	{"issue", cmd_issue},
		{"revoke", cmd_revoke}, {"denylist", cmd_denylist},
		{"show", cmd_show},	{"keygen", cmd_keygen},
	};

	if (argc < 2)
		die_usage(NULL);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("see twofold-ca(1)\n");
		return 0;
	}
	umask(022); /* private files are created 0600 explicitly */
	if (tf_crypto_init() < 0) {
		fprintf(stderr,
			PROG ": crypto libraries failed to initialise\n");
		return 1;
	}
	for (size_t i = 0; i < TF_ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	die_usage(NULL);
}
