/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of src/lib/scan: a bundle packed and verified in both suites;
 * one flipped bit anywhere, a truncated or extended file, the wrong signer,
 * the wrong suite, huge counts and lengths, names that would leave the
 * unpack dir are each refused; unpack refuses to overwrite; the engine
 * finds EICAR by .hdb and .ndb signatures, passes a clean file, refuses a
 * file over the size limit and an empty database; a file whose MD5
 * equals that of a file already found clean is still scanned (libclamav's
 * clean-file cache, keyed by MD5, is off).
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "twofold/crypto.h"
#include "twofold/scan.h"

/* the standard 68-byte EICAR test string, built in pieces so that this
 * source file is not itself detected */
static void eicar(char out[69])
{
	snprintf(out, 69, "%s%s%s", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
		 "EICAR-STANDARD-ANTIVIRUS-", "TEST-FILE!$H+H*");
}

static int rm_cb(const char *p, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

struct fx {
	char dir[64];
	int dbdir, outfd;
	uint8_t *buf;
	size_t len;
	uint8_t pk[TF_PK_MAX];
	const struct tf_suite *s;
};

static void write_at(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);
	assert_true(fd >= 0);
	assert_int_equal(tf_write_full(fd, text, strlen(text)), 0);
	close(fd);
}

/* md5 of the EICAR string (the public test vector) */
#define EICAR_MD5 "44d88612fea8a8f36de82e1278abb02f"

static void pack(struct fx *f, const char *suite)
{
	f->s = tf_suite_by_name(suite);
	assert_non_null(f->s);
	struct tf_key *k = NULL;
	assert_int_equal(tf_key_generate(f->s, TF_KEY_SIGN, &k), 0);
	assert_int_equal(tf_key_public(k, f->pk, sizeof(f->pk)), 0);
	char why[256] = "";
	char out[96];
	snprintf(out, sizeof(out), "%s/db.tfdb", f->dir);
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	int r = tf_scandb_pack(k, f->dbdir, 1764547200, fd, why, sizeof(why));
	if (r != 0)
		fail_msg("pack: %d %s", r, why);
	tf_key_free(k);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	f->len = (size_t)st.st_size;
	f->buf = malloc(f->len);
	assert_int_equal(pread(fd, f->buf, f->len, 0), (ssize_t)f->len);
	close(fd);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/tf-scan-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	char p[96];
	snprintf(p, sizeof(p), "%s/db", f->dir);
	mkdir(p, 0700);
	f->dbdir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	write_at(f->dbdir, "test.hdb", EICAR_MD5 ":68:Tf.Test.Eicar-Hdb\n");
	/* hex of "TWOFOLD-TEST-MALWARE-MARKER" anywhere in any file */
	write_at(f->dbdir, "test.ndb",
		 "Tf.Test.Marker-Ndb:0:*:54574f464f4c442d544553542d4d414c5741"
		 "52452d4d41524b4552\n");
	*state = f;
	return tf_crypto_init();
}

static int teardown(void **state)
{
	struct fx *f = *state;
	close(f->dbdir);
	free(f->buf);
	nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int verify(struct fx *f, const uint8_t *buf, size_t len)
{
	struct tf_scandb db;
	char why[256];
	int r = tf_scandb_parse(buf, len, &db, why, sizeof(why));
	if (r < 0)
		return r;
	const uint8_t *pks[] = {f->pk};
	return tf_scandb_verify(&db, f->s, pks, 1, why, sizeof(why));
}

static void roundtrip(void **state, const char *suite)
{
	struct fx *f = *state;
	pack(f, suite);
	struct tf_scandb db;
	char why[256];
	assert_int_equal(tf_scandb_parse(f->buf, f->len, &db, why, sizeof(why)),
			 0);
	assert_int_equal(db.n_files, 2);
	assert_string_equal(db.files[0].name, "test.hdb"); /* sorted */
	assert_int_equal(verify(f, f->buf, f->len), 0);
	/* one bit flipped anywhere: refused (parse or signature) */
	for (size_t i = 0; i < f->len; i++)
		for (int bit = 0; bit < 8; bit += 3) {
			f->buf[i] ^= (uint8_t)(1u << bit);
			int r = verify(f, f->buf, f->len);
			if (r == 0)
				fail_msg("bit %d of byte %zu flipped: accepted",
					 bit, i);
			f->buf[i] ^= (uint8_t)(1u << bit);
		}
	/* truncated / extended */
	for (size_t n = 0; n < f->len; n += 7)
		assert_true(verify(f, f->buf, n) < 0);
	uint8_t *big = malloc(f->len + 1);
	memcpy(big, f->buf, f->len);
	big[f->len] = 0;
	assert_int_equal(verify(f, big, f->len + 1), -EBADMSG);
	free(big);
	/* wrong signer */
	uint8_t pk[TF_PK_MAX];
	memcpy(pk, f->pk, sizeof(pk));
	struct tf_key *k = NULL;
	assert_int_equal(tf_key_generate(f->s, TF_KEY_SIGN, &k), 0);
	assert_int_equal(tf_key_public(k, f->pk, sizeof(f->pk)), 0);
	tf_key_free(k);
	assert_int_equal(verify(f, f->buf, f->len), -EKEYREJECTED);
	memcpy(f->pk, pk, sizeof(pk));
	/* wrong suite: one clear line naming both */
	const struct tf_suite *other =
		tf_suite_by_name(strcmp(suite, "intl") == 0 ? "gm" : "intl");
	const uint8_t *pks[] = {f->pk};
	assert_int_equal(tf_scandb_verify(&db, other, pks, 1, why, sizeof(why)),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(why, suite));
	/* no trusted key at all */
	assert_int_equal(tf_scandb_verify(&db, f->s, NULL, 0, why, sizeof(why)),
			 -EKEYREJECTED);
}

static void test_roundtrip_intl(void **state)
{
	roundtrip(state, "intl");
}
static void test_roundtrip_gm(void **state)
{
	roundtrip(state, "gm");
}

static void test_hostile(void **state)
{
	struct fx *f = *state;
	pack(f, "intl");
	struct tf_scandb db;
	char why[256];
	uint8_t *b = malloc(f->len);
	/* huge file count, signature length, body length, entry size */
	struct {
		size_t off, width;
		uint64_t v;
		int err;
	} cases[] = {
		{10, 2, 0xffff, -EMSGSIZE},  {10, 2, 0, -EBADMSG},
		{12, 2, 0xffff, -EMSGSIZE},  {16, 8, UINT64_MAX, -EMSGSIZE},
		{16, 8, 1u << 20, -EBADMSG}, {32 + 8, 8, UINT64_MAX, -EBADMSG},
		{32, 2, 0xffff, -EBADMSG},   {8, 1, 2, -EPROTONOSUPPORT},
	};
	for (size_t i = 0; i < TF_ARRAY_SIZE(cases); i++) {
		memcpy(b, f->buf, f->len);
		if (cases[i].width == 1)
			b[cases[i].off] = (uint8_t)cases[i].v;
		else if (cases[i].width == 2)
			tf_put_le16(b + cases[i].off, (uint16_t)cases[i].v);
		else
			tf_put_le64(b + cases[i].off, cases[i].v);
		assert_int_equal(
			tf_scandb_parse(b, f->len, &db, why, sizeof(why)),
			cases[i].err);
	}
	/* a name that would leave the directory: "../x.ndb" same length as
	 * "test.hdb" */
	memcpy(b, f->buf, f->len);
	memcpy(b + 32 + 16, "../x.ndb", 8);
	assert_int_equal(tf_scandb_parse(b, f->len, &db, why, sizeof(why)),
			 -EBADMSG);
	free(b);
	assert_false(tf_scandb_name_ok("a/b.ndb"));
	assert_false(tf_scandb_name_ok(".hdb"));
	assert_false(tf_scandb_name_ok("x.exe"));
	assert_true(tf_scandb_name_ok("main.cvd"));
	/* the packer refuses a foreign file in the tree */
	write_at(f->dbdir, "notes.txt", "x");
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct tf_key *k = NULL;
	assert_int_equal(tf_key_generate(f->s, TF_KEY_SIGN, &k), 0);
	assert_int_equal(tf_scandb_pack(k, f->dbdir, 0, fd, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "notes.txt"));
	tf_key_free(k);
	close(fd);
	unlinkat(f->dbdir, "notes.txt", 0);
}

static void test_engine(void **state)
{
	struct fx *f = *state;
	pack(f, "intl");
	struct tf_scandb db;
	char why[256];
	assert_int_equal(tf_scandb_parse(f->buf, f->len, &db, why, sizeof(why)),
			 0);
	char p[128], tmp[128];
	snprintf(p, sizeof(p), "%s/unpacked", f->dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
	mkdir(p, 0700);
	mkdir(tmp, 0700);
	int ufd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(tf_scandb_unpack(&db, ufd), 0);
	assert_int_equal(tf_scandb_unpack(&db, ufd), -EEXIST);

	struct tf_scan_limits lim = TF_SCAN_LIMITS_DEFAULT;
	lim.max_file = 4096;
	struct tf_scan_engine *e = NULL;
	unsigned n = 0;
	int r = tf_scan_engine_load(p, tmp, &lim, &e, &n, why, sizeof(why));
	if (r != 0)
		fail_msg("load: %d %s", r, why);
	assert_int_equal(n, 2);

	char ec[69];
	eicar(ec);
	struct {
		const char *name, *text;
		enum tf_scan_result want;
		const char *sig;
	} files[] = {
		{"eicar.com", ec, TF_SCAN_INFECTED, "Tf.Test.Eicar-Hdb"},
		{"marker.txt", "hello TWOFOLD-TEST-MALWARE-MARKER bye",
		 TF_SCAN_INFECTED, "Tf.Test.Marker-Ndb"},
		{"clean.txt", "an ordinary report\n", TF_SCAN_CLEAN, ""},
	};
	for (size_t i = 0; i < TF_ARRAY_SIZE(files); i++) {
		write_at(ufd, files[i].name, files[i].text);
		int fd = openat(ufd, files[i].name, O_RDONLY | O_CLOEXEC);
		struct tf_scan_verdict v;
		assert_int_equal(tf_scan_fd(e, fd, &v, why, sizeof(why)), 0);
		assert_int_equal(v.result, files[i].want);
		if (files[i].sig[0])
			assert_non_null(strstr(v.name, files[i].sig));
		close(fd);
	}
	/* over the size limit: refused, not skipped as clean */
	char *huge = malloc(8192);
	memset(huge, 'a', 8191);
	huge[8191] = 0;
	write_at(ufd, "huge.txt", huge);
	free(huge);
	int fd = openat(ufd, "huge.txt", O_RDONLY | O_CLOEXEC);
	struct tf_scan_verdict v;
	assert_int_equal(tf_scan_fd(e, fd, &v, why, sizeof(why)), 0);
	assert_int_equal(v.result, TF_SCAN_LIMIT);
	close(fd);
	tf_scan_engine_free(e);
	close(ufd);

	/* a directory without signatures is no engine */
	char empty[128];
	snprintf(empty, sizeof(empty), "%s/empty", f->dir);
	mkdir(empty, 0700);
	assert_true(tf_scan_engine_load(empty, tmp, &lim, &e, NULL, why,
					sizeof(why)) < 0);
}

/* Wang and Yu's MD5 collision (EUROCRYPT 2005): two 128-byte blocks with
 * the same MD5 (79054025255fb1a26e4bc422aef54eb4), differing in 6 bytes */
static const char twin_a[] =
	"d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f89"
	"55ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5b"
	"d8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0"
	"e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70";
static const char twin_b[] =
	"d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f89"
	"55ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5b"
	"d8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0"
	"e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70";

static void write_hex(int dfd, const char *name, const char *hx)
{
	uint8_t b[128];
	for (size_t i = 0; i < sizeof(b); i++) {
		unsigned v;
		assert_int_equal(sscanf(hx + 2 * i, "%2x", &v), 1);
		b[i] = (uint8_t)v;
	}
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);
	assert_true(fd >= 0);
	assert_int_equal(tf_write_full(fd, b, sizeof(b)), 0);
	close(fd);
}

/* The attack: import the clean twin, then the malicious one with the same
 * MD5. With libclamav's clean-file cache (keyed by MD5 in 1.4) the second
 * is answered clean from the cache without being scanned. */
static void test_md5_twins(void **state)
{
	struct fx *f = *state;
	char p[128], tmp[128], why[256];
	snprintf(p, sizeof(p), "%s/twins", f->dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
	mkdir(p, 0700);
	mkdir(tmp, 0700);
	int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	/* bytes only twin b has */
	write_at(dfd, "twin.ndb",
		 "Tf.Test.Twin:0:*:2fcab50712467eab4004583e\n");
	write_hex(dfd, "a.bin", twin_a);
	write_hex(dfd, "b.bin", twin_b);
	struct tf_scan_limits lim = TF_SCAN_LIMITS_DEFAULT;
	struct tf_scan_engine *e = NULL;
	int r = tf_scan_engine_load(p, tmp, &lim, &e, NULL, why, sizeof(why));
	if (r != 0)
		fail_msg("load: %d %s", r, why);
	const char *order[] = {"a.bin", "b.bin"};
	enum tf_scan_result want[] = {TF_SCAN_CLEAN, TF_SCAN_INFECTED};
	for (size_t i = 0; i < 2; i++) {
		int fd = openat(dfd, order[i], O_RDONLY | O_CLOEXEC);
		struct tf_scan_verdict v;
		assert_int_equal(tf_scan_fd(e, fd, &v, why, sizeof(why)), 0);
		assert_int_equal(v.result, want[i]);
		close(fd);
	}
	tf_scan_engine_free(e);
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_intl, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_gm, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_md5_twins, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
