/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the duress credential (src/lib/keys/duress.c,
 * docs/keys.md "Duress credential"): refused when equal to the PIN, erases
 * when entered and is answered like a wrong PIN, a wrong PIN does not
 * erase, the right PIN keeps working, a credential change removes it.
 * test_duress_timing prints the time of a wrong and of a duress attempt
 * (no assertion on it).
 */
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "twofold/crypto.h"
#include "twofold/keys.h"
#include "src/lib/keys/internal.h"

#define PIN_A "123456"
#define PIN_D "24680135" /* the duress PIN */
#define PASS_C "correct horse battery"

#include "fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "tf-duress-test");
}

static int unlock(struct fx *f, const char *persona, const char *cred,
		  uint8_t key[64], struct tf_throttle_info *ti)
{
	return tf_keys_unlock(f->ks, persona, (const uint8_t *)cred,
			      strlen(cred), key, ti, NULL);
}

static int enroll(struct fx *f, const char *persona, const char *old,
		  const char *neu, struct tf_throttle_info *ti)
{
	return tf_keys_enroll(f->ks, persona, 0, (const uint8_t *)old,
			      old ? strlen(old) : 0, (const uint8_t *)neu,
			      strlen(neu), ti);
}

static int set_duress(struct fx *f, const char *persona, const char *cur,
		      const char *dur, struct tf_throttle_info *ti)
{
	return tf_keys_set_duress(f->ks, persona, (const uint8_t *)cur,
				  strlen(cur), (const uint8_t *)dur,
				  strlen(dur), ti);
}

static bool exists(struct fx *f, const char *rel)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	return access(p, F_OK) == 0;
}

static size_t file_read(struct fx *f, const char *rel, uint8_t *buf, size_t cap)
{
	char p[128];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, cap);
	close(fd);
	return n < 0 ? 0 : (size_t)n;
}

static void file_write(struct fx *f, const char *rel, const uint8_t *buf,
		       size_t len)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static enum tf_persona_keystate kstate(struct fx *f, const char *persona)
{
	enum tf_persona_keystate st;

	assert_int_equal(tf_keys_state(f->ks, persona, &st), 0);
	return st;
}

/* ------------------------------------------------------------ tests */

static void test_duress_equal_refused(void **state)
{
	struct fx *f = *state;
	struct tf_throttle_info ti = {0};
	uint8_t d0[TF_DURESS_FILE_BYTES + 8], d1[sizeof(d0)];
	size_t n0;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	/* the decoy every credential gets (test_duress_not_visible) */
	n0 = file_read(f, "keys/secure/duress", d0, sizeof(d0));
	assert_int_equal(n0, TF_DURESS_FILE_BYTES);
	assert_int_equal(set_duress(f, "secure", PIN_A, PIN_A, &ti), -EEXIST);
	/* same form checks as any credential */
	assert_int_equal(set_duress(f, "secure", PIN_A, "12", &ti), -EINVAL);
	/* neither cost a try, nor wrote anything */
	assert_int_equal(tf_keys_throttle_info(f->ks, "secure", &ti), 0);
	assert_int_equal(ti.failures, 0);
	assert_int_equal(file_read(f, "keys/secure/duress", d1, sizeof(d1)),
			 n0);
	assert_memory_equal(d0, d1, n0);
	/* a wrong current credential: counted like an unlock, nothing set */
	assert_int_equal(set_duress(f, "secure", "000000", PIN_D, &ti),
			 -EACCES);
	assert_int_equal(ti.failures, 1);
	assert_int_equal(file_read(f, "keys/secure/duress", d1, sizeof(d1)),
			 n0);
	assert_memory_equal(d0, d1, n0);
	/* no credential yet */
	assert_int_equal(set_duress(f, "work", PIN_A, PIN_D, &ti), -ENOENT);
}

static void test_duress_erases(void **state)
{
	struct fx *f = *state;
	struct tf_throttle_info tw = {0}, td = {0};
	uint8_t k[64], log[4096];
	size_t n;

	/* the same history on two personas: one gets a wrong PIN, the other
	 * the duress PIN; the answers must be the same */
	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(enroll(f, "work", NULL, PIN_A, NULL), 0);
	assert_int_equal(set_duress(f, "secure", PIN_A, PIN_D, NULL), 0);
	assert_int_equal(set_duress(f, "work", PIN_A, PIN_D, NULL), 0);
	assert_int_equal(tf_keys_has_duress(f->ks, "secure"), 1);
	assert_int_equal(unlock(f, "work", "000000", k, &tw), -EACCES);
	assert_int_equal(unlock(f, "secure", PIN_D, k, &td), -EACCES);
	assert_memory_equal(&tw, &td, sizeof(tw));
	assert_false(td.erased);
	assert_int_equal(td.failures, 1);
	/* ... but secure is erased, its key files gone */
	assert_int_equal(kstate(f, "secure"), TF_KS_ERASED);
	assert_int_equal(kstate(f, "work"), TF_KS_CREDENTIAL);
	assert_false(exists(f, "keys/secure/sp.credential"));
	assert_false(exists(f, "keys/secure/discardable"));
	assert_false(exists(f, "keys/secure/duress"));
	assert_int_equal(unlock(f, "secure", PIN_A, k, &td), -ENOKEY);
	assert_true(td.erased);
	n = file_read(f, TF_EVENTS_LOG, log, sizeof(log) - 1);
	log[n] = '\0';
	assert_non_null(strstr((char *)log, " secure crypto-erased: duress "
					    "credential entered\n"));
	assert_null(strstr((char *)log, " work "));
	/* the duress PIN as the old credential of a change erases too */
	assert_int_equal(enroll(f, "work", PIN_D, PASS_C, &tw), -EACCES);
	assert_int_equal(tw.failures, 2);
	assert_int_equal(kstate(f, "work"), TF_KS_ERASED);
	/* an erased persona can be enrolled again */
	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &td), 0);
	assert_int_equal(unlock(f, "secure", PIN_D, k, &td), -EACCES);
	assert_int_equal(kstate(f, "secure"), TF_KS_CREDENTIAL);
}

static void test_duress_last_try(void **state)
{
	struct fx *f = *state;
	struct tf_throttle_info tw = {0}, td = {0};
	uint8_t k[64];

	/* at the last try a wrong PIN erases too: the duress PIN is answered
	 * the same (-ENOKEY, "too many") */
	f->cfg.throttle_max_failures = 1;
	f->cfg.throttle_free_tries = 0;
	tf_keystore_close(f->ks);
	fx_open(f);
	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(enroll(f, "work", NULL, PIN_A, NULL), 0);
	assert_int_equal(set_duress(f, "secure", PIN_A, PIN_D, NULL), 0);
	assert_int_equal(unlock(f, "work", "000000", k, &tw), -ENOKEY);
	assert_int_equal(unlock(f, "secure", PIN_D, k, &td), -ENOKEY);
	assert_memory_equal(&tw, &td, sizeof(tw));
	assert_int_equal(kstate(f, "secure"), TF_KS_ERASED);
}

static void test_duress_wrong_and_right_pin(void **state)
{
	struct fx *f = *state;
	struct tf_throttle_info ti = {0};
	uint8_t k1[64], k2[64];

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k1, &ti), 0);
	assert_int_equal(set_duress(f, "secure", PIN_A, PIN_D, &ti), 0);
	/* a wrong PIN does not erase (nor does one close to the duress) */
	assert_int_equal(unlock(f, "secure", "000000", k2, &ti), -EACCES);
	assert_int_equal(unlock(f, "secure", "24680136", k2, &ti), -EACCES);
	assert_int_equal(kstate(f, "secure"), TF_KS_CREDENTIAL);
	assert_true(exists(f, "keys/secure/duress"));
	/* the right one works, with the same key */
	assert_int_equal(unlock(f, "secure", PIN_A, k2, &ti), 0);
	assert_memory_equal(k1, k2, 64);
	assert_int_equal(tf_keys_has_duress(f->ks, "secure"), 1);
	/* replacing the duress PIN: the old one is an ordinary wrong PIN */
	assert_int_equal(set_duress(f, "secure", PIN_A, "11223344", &ti), 0);
	assert_int_equal(unlock(f, "secure", PIN_D, k2, &ti), -EACCES);
	assert_int_equal(kstate(f, "secure"), TF_KS_CREDENTIAL);
	/* a damaged verifier: the credential check stands, nothing erased */
	file_write(f, "keys/secure/duress", (const uint8_t *)"TFDU\1junk", 9);
	assert_int_equal(unlock(f, "secure", "11223344", k2, &ti), -EACCES);
	assert_int_equal(unlock(f, "secure", PIN_A, k2, &ti), 0);
}

static void test_duress_after_change(void **state)
{
	struct fx *f = *state;
	struct tf_throttle_info ti = {0};
	uint8_t k1[64], k2[64], old[TF_DURESS_FILE_BYTES + 8];
	size_t n;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k1, &ti), 0);
	assert_int_equal(set_duress(f, "secure", PIN_A, PIN_D, &ti), 0);
	n = file_read(f, "keys/secure/duress", old, sizeof(old));
	assert_int_equal(n, TF_DURESS_FILE_BYTES);
	/* the rule (docs/keys.md): a change removes the duress credential */
	assert_int_equal(enroll(f, "secure", PIN_A, PASS_C, &ti), 0);
	/* ... and puts a decoy under the new salt in its place */
	{
		uint8_t now[sizeof(old)];
		assert_int_equal(
			file_read(f, "keys/secure/duress", now, sizeof(now)),
			TF_DURESS_FILE_BYTES);
		assert_memory_not_equal(now + 8, old + 8, TF_SALT_BYTES);
	}
	assert_int_equal(unlock(f, "secure", PIN_D, k2, &ti), -EACCES);
	assert_int_equal(kstate(f, "secure"), TF_KS_CREDENTIAL);
	/* a verifier left behind by a crash (or restored from a copy) is
	 * bound to the old salt and matches nothing */
	file_write(f, "keys/secure/duress", old, n);
	assert_int_equal(tf_keys_has_duress(f->ks, "secure"), 0);
	assert_int_equal(unlock(f, "secure", PIN_D, k2, &ti), -EACCES);
	assert_int_equal(kstate(f, "secure"), TF_KS_CREDENTIAL);
	assert_int_equal(unlock(f, "secure", PASS_C, k2, &ti), 0);
	assert_memory_equal(k1, k2, 64);
	/* and set again under the new credential, it works */
	assert_int_equal(set_duress(f, "secure", PASS_C, PIN_D, &ti), 0);
	assert_int_equal(unlock(f, "secure", PIN_D, k2, &ti), -EACCES);
	assert_int_equal(kstate(f, "secure"), TF_KS_ERASED);
}

static ino_t ino(struct fx *f, const char *rel)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_ino;
}

/* A thief with a copy of the disk must not be able to tell whether a
 * duress credential is set (docs/keys.md "What is shown"): same files,
 * same sizes, same header, the link = the salt of sp.credential, and
 * setting it does not leave the verifier the one file newer than the
 * rest (the other key files are written again with it). Fails where only
 * a persona with a duress credential has keys/<persona>/duress. */
static void test_duress_not_visible(void **state)
{
	struct fx *f = *state;
	const char *names[] = {"secure", "work"};
	uint8_t d[2][TF_DURESS_FILE_BYTES + 8], sp[2][TF_SPBLOB_MAX + 8];
	ino_t before_sp, before_dc;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(enroll(f, "work", NULL, PIN_A, NULL), 0);
	before_sp = ino(f, "keys/secure/sp.credential");
	before_dc = ino(f, "keys/secure/discardable");
	assert_int_equal(set_duress(f, "secure", PIN_A, PIN_D, NULL), 0);
	for (int i = 0; i < 2; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "keys/%s/duress", names[i]);
		assert_true(exists(f, rel));
		assert_int_equal(file_read(f, rel, d[i], sizeof(d[i])),
				 TF_DURESS_FILE_BYTES);
		snprintf(rel, sizeof(rel), "keys/%s/sp.credential", names[i]);
		assert_true(file_read(f, rel, sp[i], sizeof(sp[i])) > 32);
		/* header, then the link: the salt at offset 16 of the blob */
		assert_memory_equal(d[i], TF_DURESS_MAGIC "\1\0\0\0", 8);
		assert_memory_equal(d[i] + 8, sp[i] + 16, TF_SALT_BYTES);
	}
	/* both verifiers are bound to the current credential */
	assert_int_equal(tf_keys_has_duress(f->ks, "secure"), 1);
	assert_int_equal(tf_keys_has_duress(f->ks, "work"), 1);
	/* setting the verifier wrote the persona's other key files again */
	assert_true(ino(f, "keys/secure/sp.credential") != before_sp);
	assert_true(ino(f, "keys/secure/discardable") != before_dc);
	/* and both still behave: the decoy matches nothing */
	{
		uint8_t k[64];
		struct tf_throttle_info ti = {0};
		assert_int_equal(unlock(f, "work", PIN_D, k, &ti), -EACCES);
		assert_int_equal(kstate(f, "work"), TF_KS_CREDENTIAL);
		assert_int_equal(unlock(f, "work", PIN_A, k, &ti), 0);
		assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
		assert_int_equal(unlock(f, "secure", PIN_D, k, &ti), -EACCES);
		assert_int_equal(kstate(f, "secure"), TF_KS_ERASED);
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void stats(const char *what, const double *v, int n)
{
	double sum = 0, sq = 0, mean;

	for (int i = 0; i < n; i++)
		sum += v[i];
	mean = sum / n;
	for (int i = 0; i < n; i++)
		sq += (v[i] - mean) * (v[i] - mean);
	print_message("# %s: %d tries, mean %.2f ms, sd %.2f ms\n", what, n,
		      mean, sqrt(sq / (n > 1 ? n - 1 : 1)));
}

/* One Argon2id either way: the time of a wrong attempt and of a duress
 * attempt (which then erases). Printed, not asserted (no timing
 * assertions); 16 MiB Argon2id to make the KDF's share realistic. */
static void test_duress_timing(void **state)
{
	struct fx *f = *state;
	struct tf_throttle_info ti = {0};
	enum { N = 20 };
	double wrong[N], dur[N], t0;
	uint8_t k[64];

	f->cfg.kdf_min_mem_mib = 16;
	f->cfg.throttle_max_failures = 200;
	f->cfg.throttle_free_tries = 199;
	tf_keystore_close(f->ks);
	fx_open(f);
	assert_int_equal(enroll(f, "work", NULL, PIN_A, NULL), 0);
	assert_int_equal(set_duress(f, "work", PIN_A, PIN_D, NULL), 0);
	for (int i = 0; i < N; i++) {
		t0 = now_ms();
		assert_int_equal(unlock(f, "work", "000000", k, &ti), -EACCES);
		wrong[i] = now_ms() - t0;
		/* secure is erased by each duress try: enroll again */
		assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
		assert_int_equal(set_duress(f, "secure", PIN_A, PIN_D, NULL),
				 0);
		t0 = now_ms();
		assert_int_equal(unlock(f, "secure", PIN_D, k, &ti), -EACCES);
		dur[i] = now_ms() - t0;
		assert_int_equal(kstate(f, "secure"), TF_KS_ERASED);
	}
	stats("wrong PIN ", wrong, N);
	stats("duress PIN", dur, N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_duress_equal_refused),
		T(test_duress_erases),
		T(test_duress_last_try),
		T(test_duress_wrong_and_right_pin),
		T(test_duress_after_change),
		T(test_duress_not_visible),
		T(test_duress_timing),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
