/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of src/lib/keys: device secret, wrapped SP, throttle schedule,
 * crypto-erase, credential change and crash safety at every fault point.
 * Each test gets its own temporary state directory and tiny Argon2id costs
 * (kdf_min_mem_mib = 1, kdf_target_ms = 1); the throttle clock is injected.
 */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "twofold/crypto.h"
#include "twofold/keys.h"
#include "src/lib/keys/internal.h"

#define PIN_A "123456"
#define PIN_B "987654321"
#define PASS_C "correct horse battery"

#include "fixture.h"

static void fx_reopen(struct fx *f)
{
	tf_keystore_close(f->ks);
	f->ks = NULL;
	fx_open(f);
}

static int setup(void **state)
{
	return fx_setup(state, "tf-keys-test");
}

static void advance(struct fx *f, uint64_t seconds)
{
	f->clk.boottime_ns += seconds * 1000000000ull;
	tf_keystore_set_clock(f->ks, &f->clk);
}

static int unlock(struct fx *f, const char *persona, const char *cred,
		  uint8_t key[64], struct tf_throttle_info *ti)
{
	uint64_t ns = 0;

	return tf_keys_unlock(f->ks, persona, (const uint8_t *)cred,
			      strlen(cred), key, ti, &ns);
}

static int enroll(struct fx *f, const char *persona, const char *old,
		  const char *neu, struct tf_throttle_info *ti)
{
	return tf_keys_enroll(f->ks, persona, 0, (const uint8_t *)old,
			      old ? strlen(old) : 0, (const uint8_t *)neu,
			      strlen(neu), ti);
}

static size_t file_read(struct fx *f, const char *rel, uint8_t *buf, size_t cap)
{
	char p[128];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return (size_t)-1;
	n = read(fd, buf, cap);
	close(fd);
	assert_true(n >= 0);
	return (size_t)n;
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

static bool file_exists_rel(struct fx *f, const char *rel)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	return access(p, F_OK) == 0;
}

static uint32_t disk_failures(struct fx *f, const char *persona)
{
	uint8_t buf[TF_THROTTLE_BYTES + 1];
	struct tf_throttle_rec t;
	char rel[64];
	size_t n;

	snprintf(rel, sizeof(rel), "keys/%s/throttle", persona);
	n = file_read(f, rel, buf, sizeof(buf));
	if (n == (size_t)-1)
		return 0;
	assert_int_equal(tf_keys_throttle_parse(buf, n, &t), 0);
	return t.failures;
}

/* ------------------------------------------------------------ tests */

static void test_devsecret_formats(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64], secret[TF_DEVSECRET_BYTES], sid;
	size_t n;

	assert_int_equal(tf_devsecret_create(f->statefd, 1, 0), -EEXIST);
	n = file_read(f, TF_DEVSECRET_FILE, buf, sizeof(buf));
	assert_int_equal(n, TF_DEVSECRET_FILE_BYTES);
	assert_memory_equal(buf, "TFDS\x01\x01\x00\x00", 8);
	assert_int_equal(tf_devsecret_load(f->statefd, &sid, secret), 0);
	assert_int_equal(sid, f->s->id);
	assert_memory_equal(secret, buf + 8, 32);

	/* perms wider than 0600 */
	assert_int_equal(fchmodat(f->statefd, TF_DEVSECRET_FILE, 0640, 0), 0);
	assert_int_equal(tf_devsecret_load(f->statefd, &sid, secret), -EPERM);
	assert_int_equal(fchmodat(f->statefd, TF_DEVSECRET_FILE, 0600, 0), 0);
	/* truncated, too long, wrong magic, newer version */
	file_write(f, TF_DEVSECRET_FILE, buf, 39);
	assert_int_equal(tf_devsecret_load(f->statefd, &sid, secret), -EBADMSG);
	file_write(f, TF_DEVSECRET_FILE, buf, 41);
	assert_int_equal(tf_devsecret_load(f->statefd, &sid, secret), -EBADMSG);
	buf[0] = 'X';
	file_write(f, TF_DEVSECRET_FILE, buf, 40);
	assert_int_equal(tf_devsecret_load(f->statefd, &sid, secret), -EBADMSG);
	buf[0] = 'T';
	buf[4] = 2;
	file_write(f, TF_DEVSECRET_FILE, buf, 40);
	assert_int_equal(tf_devsecret_load(f->statefd, &sid, secret),
			 -EPROTONOSUPPORT);
	/* force replaces; a suite mismatch refuses to open the keystore */
	assert_int_equal(tf_devsecret_create(f->statefd, TF_SUITE_GM,
					     TF_DEVSECRET_FORCE),
			 0);
	struct tf_keystore *ks2 = NULL;
	assert_int_equal(tf_keystore_open(f->statefd, f->s, &f->cfg, &ks2),
			 -EPROTO);
	assert_null(ks2);
	/* a TPM that is not there is refused, never silently ignored (port 1:
	 * nothing listens; test_tpm.c tests a real one) */
	snprintf(f->cfg.tpm_tcti, sizeof(f->cfg.tpm_tcti),
		 "swtpm:host=127.0.0.1,port=1");
	assert_int_equal(tf_keystore_open(f->statefd, f->s, &f->cfg, &ks2),
			 -EHOSTUNREACH);
	assert_int_equal(unlinkat(f->statefd, TF_DEVSECRET_FILE, 0), 0);
	assert_int_equal(tf_devsecret_load(f->statefd, &sid, secret), -ENOENT);
}

static void test_device_bound(void **state)
{
	struct fx *f = *state;
	uint8_t k1[64], k2[64], k3[64];
	enum tf_persona_keystate st;

	assert_int_equal(tf_keys_state(f->ks, "personal", &st), 0);
	assert_int_equal(st, TF_KS_NONE);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "personal", k1),
			 -ENOENT);
	assert_int_equal(tf_keys_create_device_bound(f->ks, "personal", 0), 0);
	assert_int_equal(tf_keys_state(f->ks, "personal", &st), 0);
	assert_int_equal(st, TF_KS_DEVICE);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "personal", k1), 0);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "personal", k2), 0);
	assert_memory_equal(k1, k2, 64);
	fx_reopen(f);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "personal", k3), 0);
	assert_memory_equal(k1, k3, 64);
	assert_false(file_exists_rel(f, "keys/personal/discardable.new"));

	/* never over existing key material, never over existing data */
	assert_int_equal(tf_keys_create_device_bound(f->ks, "personal", 0),
			 -EEXIST);
	assert_int_equal(enroll(f, "personal", NULL, PIN_A, NULL), -EEXIST);
	assert_int_equal(tf_keys_create_device_bound(f->ks, "other",
						     TF_KEYS_DATA_NONEMPTY),
			 -EEXIST);
	assert_int_equal(tf_keys_state(f->ks, "other", &st), 0);
	assert_int_equal(st, TF_KS_NONE);
	/* a credential unlock of a device-bound persona is a usage error */
	assert_int_equal(unlock(f, "personal", PIN_A, k2, NULL), -EINVAL);
	assert_int_equal(tf_keys_create_device_bound(f->ks, "../x", 0),
			 -EINVAL);
}

static void test_enroll_unlock(void **state)
{
	struct fx *f = *state;
	uint8_t k1[64], k2[64], dev[64];
	struct tf_throttle_info ti;
	enum tf_persona_keystate st;

	assert_int_equal(unlock(f, "secure", PIN_A, k1, &ti), -ENOENT);
	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(tf_keys_state(f->ks, "secure", &st), 0);
	assert_int_equal(st, TF_KS_CREDENTIAL);
	assert_int_equal(unlock(f, "secure", PIN_A, k1, &ti), 0);
	assert_int_equal(ti.failures, 0);
	fx_reopen(f);
	assert_int_equal(unlock(f, "secure", PIN_A, k2, &ti), 0);
	assert_memory_equal(k1, k2, 64);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "secure", dev),
			 -EINVAL);
	assert_int_equal(enroll(f, "secure", NULL, PIN_B, NULL), -EEXIST);
	assert_int_equal(tf_keys_create_device_bound(f->ks, "secure", 0),
			 -EEXIST);

	/* the stored blob records kind and the calibrated costs */
	uint8_t buf[TF_SPBLOB_MAX + 1];
	struct tf_spblob b;
	size_t n = file_read(f, "keys/secure/sp.credential", buf, sizeof(buf));
	assert_int_equal(tf_keys_spblob_parse(buf, n, &b), 0);
	assert_int_equal(b.protector, TF_PROT_CREDENTIAL);
	assert_int_equal(b.kind, TF_CRED_PIN);
	assert_true(b.opslimit >= 1);
	assert_true(b.mem_kib >= 1024);
}

static void test_wrong_pin_counts(void **state)
{
	struct fx *f = *state;
	uint8_t k[64];
	struct tf_throttle_info ti;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(unlock(f, "secure", "000000", k, &ti), -EACCES);
	assert_int_equal(ti.failures, 1);
	assert_int_equal(ti.tries_left, f->cfg.throttle_max_failures - 1);
	assert_int_equal(ti.wait_seconds, 0);
	assert_int_equal(disk_failures(f, "secure"), 1);
	fx_reopen(f); /* the counter is on disk, not in the keystore */
	assert_int_equal(tf_keys_throttle_info(f->ks, "secure", &ti), 0);
	assert_int_equal(ti.failures, 1);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	assert_int_equal(disk_failures(f, "secure"), 0);
}

/* The count is durable before the check: a child killed right after the
 * count (written while Argon2id ran, before the verdict) with the RIGHT
 * PIN still leaves failures = 1. */
static void test_count_before_check(void **state)
{
	struct fx *f = *state;
	struct tf_throttle_info ti;
	int status;
	pid_t pid;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tf_keystore *ks = NULL;
		uint8_t k[64];
		setenv("TWOFOLD_FAULT", "unlock-after-count", 1);
		if (tf_keystore_open(f->statefd, f->s, &f->cfg, &ks) < 0)
			_exit(2);
		tf_keystore_set_clock(ks, &f->clk);
		int r = tf_keys_unlock(ks, "secure", (const uint8_t *)PIN_A,
				       strlen(PIN_A), k, NULL, NULL);
		_exit(r == 0 ? 3 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(disk_failures(f, "secure"), 1);
	assert_int_equal(tf_keys_throttle_info(f->ks, "secure", &ti), 0);
	assert_int_equal(ti.failures, 1);
}

struct hook_seen {
	struct fx *f;
	pthread_t caller;
	int calls;
	bool other_thread;
	uint32_t disk_count;
};

static void hook(void *arg)
{
	struct hook_seen *h = arg;

	h->calls++;
	h->other_thread = !pthread_equal(pthread_self(), h->caller);
	h->disk_count = disk_failures(h->f, "secure");
}

/* tf_keys_unlock_ex: the during_kdf hook runs once, on another thread,
 * after the try is counted on disk; LATE_RESET leaves the count for the
 * caller to reset. */
static void test_unlock_ex_hook(void **state)
{
	struct fx *f = *state;
	struct hook_seen h = {.f = f, .caller = pthread_self()};
	struct tf_keys_unlock_opts o = {
		.flags = TF_KEYS_LATE_RESET, .during_kdf = hook, .arg = &h};
	struct tf_throttle_info ti;
	uint8_t k[64], k2[64];

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(tf_keys_unlock_ex(f->ks, "secure",
					   (const uint8_t *)"000000", 6, k, &ti,
					   NULL, &o),
			 -EACCES);
	assert_int_equal(h.calls, 1);
	assert_true(h.other_thread);
	assert_int_equal(h.disk_count, 1);
	assert_int_equal(tf_keys_unlock_ex(f->ks, "secure",
					   (const uint8_t *)PIN_A,
					   strlen(PIN_A), k, &ti, NULL, &o),
			 0);
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.disk_count, 2);
	/* late reset: still counted until the caller resets */
	assert_int_equal(disk_failures(f, "secure"), 2);
	assert_int_equal(tf_keys_reset_failures(f->ks, "secure"), 0);
	assert_int_equal(disk_failures(f, "secure"), 0);
	/* same key as the plain call */
	assert_int_equal(unlock(f, "secure", PIN_A, k2, NULL), 0);
	assert_memory_equal(k, k2, sizeof(k));
}

static void test_schedule(void **state)
{
	struct fx *f = *state;
	uint8_t k[64];
	struct tf_throttle_info ti;

	assert_int_equal(f->cfg.throttle_free_tries, 5);
	assert_int_equal(f->cfg.throttle_base_delay, 30);
	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	for (uint32_t i = 1; i <= 4; i++) {
		assert_int_equal(unlock(f, "secure", "111111", k, &ti),
				 -EACCES);
		assert_int_equal(ti.failures, i);
		assert_int_equal(ti.wait_seconds, 0);
	}
	assert_int_equal(unlock(f, "secure", "111111", k, &ti), -EACCES);
	assert_int_equal(ti.failures, 5);
	assert_int_equal(ti.wait_seconds, 30);
	/* during the wait: refused unchecked (even the right PIN), not
	 * counted */
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EAGAIN);
	assert_int_equal(ti.wait_seconds, 30);
	assert_int_equal(ti.failures, 5);
	assert_int_equal(disk_failures(f, "secure"), 5);
	advance(f, 29);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EAGAIN);
	assert_int_equal(ti.wait_seconds, 1);
	assert_int_equal(ti.tries_left, f->cfg.throttle_max_failures - 5);
	advance(f, 1);
	assert_int_equal(unlock(f, "secure", "111111", k, &ti), -EACCES);
	assert_int_equal(ti.wait_seconds, 60);
	advance(f, 60);
	assert_int_equal(unlock(f, "secure", "111111", k, &ti), -EACCES);
	assert_int_equal(ti.wait_seconds, 120);
	assert_int_equal(ti.failures, 7);
	/* survives a reopen of the keystore */
	fx_reopen(f);
	advance(f, 20);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EAGAIN);
	assert_int_equal(ti.wait_seconds, 100);
	/* after a reboot only the time since boot counts */
	f->clk.boot_id[0] ^= 1;
	f->clk.boottime_ns = 10ull * 1000000000ull;
	tf_keystore_set_clock(f->ks, &f->clk);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EAGAIN);
	assert_int_equal(ti.wait_seconds, 110);
	advance(f, 110);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	assert_int_equal(ti.failures, 0);
	/* cap */
	assert_int_equal(tf_keys_throttle_delay(5, 5, 30), 30);
	assert_int_equal(tf_keys_throttle_delay(6, 5, 30), 60);
	assert_int_equal(tf_keys_throttle_delay(4, 5, 30), 0);
	assert_int_equal(tf_keys_throttle_delay(19, 5, 30), 86400);
	assert_int_equal(tf_keys_throttle_delay(1000, 5, 30), 86400);
}

static void test_max_failures_erase(void **state)
{
	struct fx *f = *state;
	uint8_t k[64], log[4096];
	struct tf_throttle_info ti;
	enum tf_persona_keystate st;
	int r;

	f->cfg.throttle_max_failures = 7;
	f->cfg.throttle_base_delay = 1;
	fx_reopen(f);
	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	for (uint32_t i = 1; i <= 7; i++) {
		advance(f, 86400);
		r = unlock(f, "secure", "222222", k, &ti);
		if (i < 7) {
			assert_int_equal(r, -EACCES);
			assert_int_equal(ti.tries_left, 7 - i);
		} else {
			assert_int_equal(r, -ENOKEY);
			assert_true(ti.erased);
			assert_int_equal(ti.tries_left, 0);
		}
	}
	advance(f, 86400);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -ENOKEY);
	assert_true(ti.erased);
	assert_false(file_exists_rel(f, "keys/secure/sp.credential"));
	assert_false(file_exists_rel(f, "keys/secure/discardable"));
	assert_int_equal(tf_keys_state(f->ks, "secure", &st), 0);
	assert_int_equal(st, TF_KS_ERASED);
	size_t n = file_read(f, TF_EVENTS_LOG, log, sizeof(log) - 1);
	assert_true(n != (size_t)-1);
	log[n] = '\0';
	assert_non_null(
		strstr((char *)log,
		       " secure crypto-erased after 7 failed attempts\n"));
	/* a new persona key may be created afterwards (data wiped first) */
	assert_int_equal(tf_keys_enroll(f->ks, "secure", TF_KEYS_DATA_NONEMPTY,
					NULL, 0, (const uint8_t *)PIN_B,
					strlen(PIN_B), NULL),
			 -EEXIST);
	assert_int_equal(enroll(f, "secure", NULL, PIN_B, NULL), 0);
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), 0);
}

static void test_remote_erase(void **state)
{
	struct fx *f = *state;
	uint8_t k[64], log[4096];

	assert_int_equal(tf_keys_create_device_bound(f->ks, "personal", 0), 0);
	assert_int_equal(tf_keys_erase(f->ks, "personal", "remote wipe\nx"), 0);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "personal", k),
			 -ENOKEY);
	assert_false(file_exists_rel(f, "keys/personal/sp.device"));
	size_t n = file_read(f, TF_EVENTS_LOG, log, sizeof(log) - 1);
	log[n] = '\0';
	assert_non_null(strstr((char *)log,
			       " personal crypto-erased: remote wipe?x\n"));
}

static void test_change_credential(void **state)
{
	struct fx *f = *state;
	uint8_t k1[64], k2[64];
	struct tf_throttle_info ti;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k1, &ti), 0);
	/* without / with a wrong old credential */
	assert_int_equal(enroll(f, "secure", NULL, PASS_C, NULL), -EEXIST);
	assert_int_equal(enroll(f, "secure", "999999", PASS_C, &ti), -EACCES);
	assert_int_equal(ti.failures, 1);
	/* a new credential of the wrong form costs no try */
	assert_int_equal(enroll(f, "secure", PIN_A, "12", &ti), -EINVAL);
	assert_int_equal(disk_failures(f, "secure"), 1);
	assert_int_equal(enroll(f, "secure", PIN_A, PASS_C, &ti), 0);
	assert_int_equal(disk_failures(f, "secure"), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k2, &ti), -EACCES);
	assert_int_equal(unlock(f, "secure", PASS_C, k2, &ti), 0);
	assert_memory_equal(k1, k2, 64);
}

static void test_damaged(void **state)
{
	struct fx *f = *state;
	uint8_t orig[TF_SPBLOB_MAX + 1], now[TF_SPBLOB_MAX + 1], k[64];
	struct tf_throttle_info ti;
	enum tf_persona_keystate st;
	size_t n, m;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	n = file_read(f, "keys/secure/sp.credential", orig, sizeof(orig));
	/* truncated */
	file_write(f, "keys/secure/sp.credential", orig, n - 1);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EBADMSG);
	assert_int_equal(disk_failures(f, "secure"), 0);
	m = file_read(f, "keys/secure/sp.credential", now, sizeof(now));
	assert_int_equal(m, n - 1);
	assert_memory_equal(orig, now, m);
	/* refusing to create over it (a wrapped key file is there) */
	assert_int_equal(enroll(f, "secure", NULL, PIN_B, NULL), -EEXIST);
	m = file_read(f, "keys/secure/sp.credential", now, sizeof(now));
	assert_int_equal(m, n - 1);
	/* absurd Argon2id memory cost is refused, not allocated */
	memcpy(now, orig, n);
	now[15] = 0x7f;
	file_write(f, "keys/secure/sp.credential", now, n);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EBADMSG);
	/* wrapped key gone but discardable left: damaged, never recreated */
	assert_int_equal(unlinkat(f->statefd, "keys/secure/sp.credential", 0),
			 0);
	assert_int_equal(tf_keys_state(f->ks, "secure", &st), -EBADMSG);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EBADMSG);
	assert_int_equal(enroll(f, "secure", NULL, PIN_B, NULL), -EBADMSG);
	/* restore: unlocks again */
	file_write(f, "keys/secure/sp.credential", orig, n);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	/* the failure counter deleted next to a credential (to reset the
	 * count): damage, refused before anything is tried, never "zero" */
	uint8_t thr[TF_THROTTLE_BYTES + 1];
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), -EACCES);
	size_t tn = file_read(f, "keys/secure/throttle", thr, sizeof(thr));
	assert_int_equal(unlinkat(f->statefd, "keys/secure/throttle", 0), 0);
	assert_int_equal(tf_keys_state(f->ks, "secure", &st), -EBADMSG);
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), -EBADMSG);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EBADMSG);
	assert_int_equal(enroll(f, "secure", NULL, PIN_B, NULL), -EBADMSG);
	file_write(f, "keys/secure/throttle", thr, tn);
	assert_int_equal(disk_failures(f, "secure"), 1);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	/* discardable damaged */
	uint8_t d[16] = "TFDC";
	file_write(f, "keys/secure/discardable", d, sizeof(d));
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EBADMSG);
	assert_int_equal(disk_failures(f, "secure"), 0);

	/* device-bound: a flipped ciphertext bit is damage */
	assert_int_equal(tf_keys_create_device_bound(f->ks, "personal", 0), 0);
	n = file_read(f, "keys/personal/sp.device", orig, sizeof(orig));
	orig[n - 1] ^= 1;
	file_write(f, "keys/personal/sp.device", orig, n);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "personal", k),
			 -EBADMSG);
	/* a damaged throttle record refuses rather than resets */
	uint8_t t[8] = "TFTH";
	file_write(f, "keys/personal/throttle", t, sizeof(t));
	assert_int_equal(tf_keys_state(f->ks, "personal", &st), -EBADMSG);
}

/* Key files that are not regular files: a FIFO planted by someone with
 * the disk (in place of throttle, duress, sp.credential, discardable)
 * must be damage, not an open() that blocks the daemon for good while it
 * holds the persona's lock (no reader ever comes). alarm() turns a hang
 * into a failure; fails on an open without O_NONBLOCK. */
static void test_fifo_key_files(void **state)
{
	static const char *const names[] = {"throttle", "sp.credential",
					    "discardable"};
	struct fx *f = *state;
	uint8_t k[64], keep[8192];
	struct tf_throttle_info ti;
	enum tf_persona_keystate st;
	char rel[64];
	size_t n;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	alarm(60);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(rel, sizeof(rel), "keys/secure/%s", names[i]);
		n = file_read(f, rel, keep, sizeof(keep));
		assert_true(n > 0);
		assert_int_equal(unlinkat(f->statefd, rel, 0), 0);
		assert_int_equal(mkfifoat(f->statefd, rel, 0600), 0);
		if (i == 0)
			assert_int_equal(tf_keys_state(f->ks, "secure", &st),
					 -EBADMSG);
		assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EBADMSG);
		assert_int_equal(unlinkat(f->statefd, rel, 0), 0);
		file_write(f, rel, keep, n);
	}
	/* a FIFO for the duress verifier: ignored like a damaged one */
	(void)unlinkat(f->statefd, "keys/secure/" TF_DURESS_FILE, 0);
	assert_int_equal(
		mkfifoat(f->statefd, "keys/secure/" TF_DURESS_FILE, 0600), 0);
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), -EACCES);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	assert_int_equal(unlinkat(f->statefd, "keys/secure/" TF_DURESS_FILE, 0),
			 0);
	/* a FIFO among the files an erase destroys: unlinked, no hang */
	assert_int_equal(
		mkfifoat(f->statefd, "keys/secure/sp.credential.tmp", 0600), 0);
	assert_int_equal(tf_keys_erase(f->ks, "secure", "test"), 0);
	assert_int_equal(tf_keys_state(f->ks, "secure", &st), 0);
	assert_int_equal(st, TF_KS_ERASED);
	assert_int_equal(faccessat(f->statefd, "keys/secure/sp.credential.tmp",
				   F_OK, AT_SYMLINK_NOFOLLOW),
			 -1);
	alarm(0);
}

static void copy_rel(struct fx *f, const char *from, const char *to)
{
	uint8_t buf[TF_DISCARD_FILE_BYTES + 1];
	size_t n = file_read(f, from, buf, sizeof(buf));

	assert_true(n != (size_t)-1);
	file_write(f, to, buf, n);
}

static void test_persona_binding(void **state)
{
	struct fx *f = *state;
	uint8_t k[64];
	struct tf_throttle_info ti;

	assert_int_equal(tf_keys_create_device_bound(f->ks, "alpha", 0), 0);
	assert_int_equal(tf_keys_create_device_bound(f->ks, "beta", 0), 0);
	copy_rel(f, "keys/alpha/sp.device", "keys/beta/sp.device");
	copy_rel(f, "keys/alpha/discardable", "keys/beta/discardable");
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "beta", k),
			 -EBADMSG);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "alpha", k), 0);

	assert_int_equal(enroll(f, "gamma", NULL, PIN_A, NULL), 0);
	assert_int_equal(enroll(f, "delta", NULL, PIN_A, NULL), 0);
	copy_rel(f, "keys/gamma/sp.credential", "keys/delta/sp.credential");
	copy_rel(f, "keys/gamma/discardable", "keys/delta/discardable");
	assert_int_equal(unlock(f, "delta", PIN_A, k, &ti), -EACCES);
	assert_int_equal(unlock(f, "gamma", PIN_A, k, &ti), 0);
}

static void test_check_form(void **state)
{
	struct fx *f = *state;
	char why[128];
	uint8_t big[TF_CRED_MAX + 1];

	assert_int_equal(tf_credential_check_form(&f->cfg,
						  (const uint8_t *)"12345", 5,
						  why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "PIN too short: at least 6 digits");
	assert_int_equal(tf_credential_check_form(&f->cfg,
						  (const uint8_t *)"123456", 6,
						  why, sizeof(why)),
			 TF_CRED_PIN);
	assert_int_equal(tf_credential_check_form(&f->cfg,
						  (const uint8_t *)"12345a", 6,
						  why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "passphrase too short"));
	assert_int_equal(
		tf_credential_check_form(&f->cfg, (const uint8_t *)PASS_C,
					 strlen(PASS_C), why, sizeof(why)),
		TF_CRED_PASSPHRASE);
	assert_int_equal(tf_credential_check_form(&f->cfg,
						  (const uint8_t *)"1234\n5678",
						  9, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "control character"));
	memset(big, '7', sizeof(big));
	assert_int_equal(tf_credential_check_form(&f->cfg, big, sizeof(big),
						  why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(tf_credential_check_form(&f->cfg, big, TF_CRED_MAX,
						  why, sizeof(why)),
			 TF_CRED_PIN);
	/* UTF-8: ten characters, twenty bytes */
	const char *u = "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
			"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4";
	assert_int_equal(tf_credential_check_form(&f->cfg, (const uint8_t *)u,
						  strlen(u), why, sizeof(why)),
			 TF_CRED_PASSPHRASE);
	assert_int_equal(tf_credential_check_form(&f->cfg, (const uint8_t *)u,
						  strlen(u) - 2, why,
						  sizeof(why)),
			 -EINVAL);
}

/* The whole hierarchy under the gm suite (SM4-GCM, SM3, HKDF-SM3). */
static void test_gm_suite(void **state)
{
	struct fx *f = *state;
	uint8_t k1[64], k2[64], k3[64];
	struct tf_throttle_info ti;

	tf_keystore_close(f->ks);
	f->ks = NULL;
	f->s = tf_suite_by_name("gm");
	assert_non_null(f->s);
	assert_int_equal(
		tf_devsecret_create(f->statefd, f->s->id, TF_DEVSECRET_FORCE),
		0);
	fx_open(f);
	assert_int_equal(tf_keys_create_device_bound(f->ks, "personal", 0), 0);
	assert_int_equal(tf_keys_unlock_device_bound(f->ks, "personal", k1), 0);
	assert_int_equal(enroll(f, "secure", NULL, PASS_C, NULL), 0);
	assert_int_equal(unlock(f, "secure", PASS_C, k2, &ti), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k3, &ti), -EACCES);
	assert_int_equal(enroll(f, "secure", PASS_C, PIN_B, &ti), 0);
	assert_int_equal(unlock(f, "secure", PIN_B, k3, &ti), 0);
	assert_memory_equal(k2, k3, 64);
	assert_memory_not_equal(k1, k2, 64);
}

/* Run op in a child with TWOFOLD_FAULT=point; it must die by SIGKILL. */
static void crash_child(struct fx *f, const char *point, const char *old,
			const char *neu)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct tf_keystore *ks = NULL;
		/* its own keystore: the parent's secrets are MADV_WIPEONFORK */
		setenv("TWOFOLD_FAULT", point, 1);
		if (tf_keystore_open(f->statefd, f->s, &f->cfg, &ks) < 0)
			_exit(2);
		tf_keystore_set_clock(ks, &f->clk);
		int r = tf_keys_enroll(ks, "secure", 0, (const uint8_t *)old,
				       old ? strlen(old) : 0,
				       (const uint8_t *)neu, strlen(neu), NULL);
		_exit(r == 0 ? 3 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_crash_enroll(void **state)
{
	struct fx *f = *state;
	uint8_t k[64];
	struct tf_throttle_info ti;
	enum tf_persona_keystate st;

	crash_child(f, "enroll-before-commit", NULL, PIN_A);
	/* nothing committed: no key, and creating one is allowed */
	assert_int_equal(tf_keys_state(f->ks, "secure", &st), 0);
	assert_int_equal(st, TF_KS_NONE);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -ENOENT);
	crash_child(f, "enroll-after-commit", NULL, PIN_A);
	/* committed: the new credential unlocks (rolled forward) */
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	assert_true(file_exists_rel(f, "keys/secure/discardable"));
	assert_false(file_exists_rel(f, "keys/secure/discardable.new"));
}

static void test_crash_change(void **state)
{
	struct fx *f = *state;
	uint8_t k0[64], k[64];
	struct tf_throttle_info ti;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k0, &ti), 0);
	crash_child(f, "change-before-commit", PIN_A, PIN_B);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	assert_memory_equal(k0, k, 64);
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), -EACCES);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	/* the unused new generation was destroyed by that access */
	assert_false(file_exists_rel(f, "keys/secure/discardable.1"));
	assert_false(file_exists_rel(f, "keys/secure/sp.credential.old"));
	assert_true(file_exists_rel(f, "keys/secure/discardable"));
	crash_child(f, "change-after-commit", PIN_A, PIN_B);
	/* committed, the old generation still on disk until the next access */
	assert_true(file_exists_rel(f, "keys/secure/discardable"));
	assert_true(file_exists_rel(f, "keys/secure/discardable.1"));
	assert_true(file_exists_rel(f, "keys/secure/sp.credential.old"));
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), 0);
	assert_memory_equal(k0, k, 64);
	assert_false(file_exists_rel(f, "keys/secure/discardable"));
	assert_false(file_exists_rel(f, "keys/secure/sp.credential.old"));
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EACCES);
	/* generation 1 -> 2, killed between the two destroy steps */
	crash_child(f, "change-after-destroy-discard", PIN_B, PIN_A);
	assert_false(file_exists_rel(f, "keys/secure/discardable.1"));
	assert_true(file_exists_rel(f, "keys/secure/sp.credential.old"));
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	assert_memory_equal(k0, k, 64);
	assert_false(file_exists_rel(f, "keys/secure/sp.credential.old"));
	assert_true(file_exists_rel(f, "keys/secure/discardable.2"));
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), -EACCES);
	/* and one that completes: only generation 3 is left */
	assert_int_equal(enroll(f, "secure", PIN_A, PIN_B, &ti), 0);
	assert_false(file_exists_rel(f, "keys/secure/discardable.2"));
	assert_true(file_exists_rel(f, "keys/secure/discardable.3"));
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), 0);
	assert_memory_equal(k0, k, 64);
}

/* A change revokes the old credential: the old discardable is gone, so
 * the old sp.credential (as a thief would carve it from the disk) opens
 * nothing with the old PIN, and putting it back destroys nothing. */
static void test_change_revokes(void **state)
{
	struct fx *f = *state;
	uint8_t oldsp[TF_SPBLOB_MAX + 1], newsp[TF_SPBLOB_MAX + 1];
	uint8_t k0[64], k[64];
	struct tf_throttle_info ti;
	struct tf_spblob b;
	size_t no, nn;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k0, &ti), 0);
	no = file_read(f, "keys/secure/sp.credential", oldsp, sizeof(oldsp));
	assert_int_equal(tf_keys_spblob_parse(oldsp, no, &b), 0);
	assert_int_equal(b.version, 2);
	assert_int_equal(b.generation, 0);
	assert_int_equal(enroll(f, "secure", PIN_A, PIN_B, &ti), 0);
	nn = file_read(f, "keys/secure/sp.credential", newsp, sizeof(newsp));
	assert_int_equal(tf_keys_spblob_parse(newsp, nn, &b), 0);
	assert_int_equal(b.generation, 1);
	assert_false(file_exists_rel(f, "keys/secure/discardable"));
	assert_false(file_exists_rel(f, "keys/secure/sp.credential.old"));
	assert_true(file_exists_rel(f, "keys/secure/discardable.1"));
	/* the old blob back: its discardable is gone (damage, not a guess) */
	file_write(f, "keys/secure/sp.credential", oldsp, no);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EBADMSG);
	assert_int_equal(disk_failures(f, "secure"), 0);
	file_write(f, "keys/secure/sp.credential", newsp, nn);
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), 0);
	assert_memory_equal(k0, k, 64);
	assert_true(strcmp(tf_keys_destroy_method(f->ks), "none") != 0);
	/* the old blob paired with the new discardable under the old
	 * generation's name: the KEK differs, a wrong credential (and the
	 * pair that is complete decides: generation 1 is now the dead one) */
	file_write(f, "keys/secure/sp.credential", oldsp, no);
	copy_rel(f, "keys/secure/discardable.1", "keys/secure/discardable");
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EACCES);
	assert_false(file_exists_rel(f, "keys/secure/discardable.1"));
}

/* A version-1 sp.credential (no generation field) is generation 0, paired
 * with discardable; it unlocks, and a change moves it to version 2. */
static void test_spblob_v1(void **state)
{
	struct fx *f = *state;
	uint8_t k0[64], k[64], dhash[TF_HASH_BYTES], blob[TF_SPBLOB_MAX];
	uint8_t pw[TF_KEY_BYTES], sp[TF_SP_BYTES], buf[TF_SPBLOB_MAX + 1];
	struct tf_throttle_info ti;
	struct tf_spblob b;
	size_t len, n;
	int dfd;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	assert_int_equal(unlock(f, "secure", PIN_A, k0, &ti), 0);
	/* rewrap the same SP as version 1 with the internals */
	assert_int_equal(tf_ks_open_persona(f->ks, "secure", false, &dfd), 0);
	assert_int_equal(tf_ks_load_spblob(f->ks, dfd, F_SP_CRED, &b), 0);
	assert_int_equal(tf_ks_discard_hash(f->ks, dfd, 0, dhash), 0);
	assert_int_equal(tf_ks_pwhash((const uint8_t *)PIN_A, strlen(PIN_A), &b,
				      pw, NULL),
			 0);
	assert_int_equal(
		tf_ks_open_sp(f->ks, "secure", &b, pw, NULL, dhash, sp), 0);
	b.version = 1;
	assert_int_equal(tf_ks_seal_sp(f->ks, "secure", &b, pw, NULL, dhash, sp,
				       blob, &len),
			 0);
	close(dfd);
	assert_int_equal(blob[4], 1);
	assert_int_equal(len, TF_SPBLOB_HDR_V1 + b.sealed_len);
	file_write(f, "keys/secure/sp.credential", blob, len);
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), 0);
	assert_memory_equal(k0, k, 64);
	assert_int_equal(enroll(f, "secure", PIN_A, PIN_B, &ti), 0);
	n = file_read(f, "keys/secure/sp.credential", buf, sizeof(buf));
	assert_int_equal(tf_keys_spblob_parse(buf, n, &b), 0);
	assert_int_equal(b.version, 2);
	assert_int_equal(b.generation, 1);
	assert_false(file_exists_rel(f, "keys/secure/discardable"));
	assert_int_equal(unlock(f, "secure", PIN_B, k, &ti), 0);
	assert_memory_equal(k0, k, 64);
}

static bool log_has(struct fx *f, const char *what)
{
	uint8_t log[4096];
	size_t n = file_read(f, TF_EVENTS_LOG, log, sizeof(log) - 1);

	if (n == (size_t)-1)
		return false;
	log[n] = '\0';
	return strstr((char *)log, what) != NULL;
}

/* A write error while destroying is reported, never ignored: the persona
 * is erased from the first step (nothing unlocks), the event is recorded
 * only once the files are gone, and the next access finishes the job. */
static void test_erase_write_error(void **state)
{
	struct fx *f = *state;
	uint8_t k[64];
	struct tf_throttle_info ti;
	enum tf_persona_keystate st;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	setenv("TWOFOLD_FAULT", "erase-write-eio", 1);
	assert_int_equal(tf_keys_erase(f->ks, "secure", "test wipe"), -EIO);
	assert_true(file_exists_rel(f, "keys/secure/discardable"));
	assert_false(log_has(f, "crypto-erased"));
	/* still failing: the unlock is refused with the error, no key */
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -EIO);
	unsetenv("TWOFOLD_FAULT");
	assert_int_equal(tf_keys_erase(f->ks, "secure", "test wipe"), 0);
	assert_false(file_exists_rel(f, "keys/secure/discardable"));
	assert_false(file_exists_rel(f, "keys/secure/sp.credential"));
	assert_true(log_has(f, " secure crypto-erased: test wipe\n"));
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -ENOKEY);
	assert_int_equal(tf_keys_state(f->ks, "secure", &st), 0);
	assert_int_equal(st, TF_KS_ERASED);
}

/* Killed after the erased flag, before any file is destroyed: the next
 * access destroys them and records the event. */
static void test_crash_erase(void **state)
{
	struct fx *f = *state;
	uint8_t k[64];
	struct tf_throttle_info ti;
	int status;
	pid_t pid;

	assert_int_equal(enroll(f, "secure", NULL, PIN_A, NULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tf_keystore *ks = NULL;
		setenv("TWOFOLD_FAULT", "erase-after-flag", 1);
		if (tf_keystore_open(f->statefd, f->s, &f->cfg, &ks) < 0)
			_exit(2);
		_exit(tf_keys_erase(ks, "secure", "crash") == 0 ? 3 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_true(file_exists_rel(f, "keys/secure/discardable"));
	assert_false(log_has(f, "crypto-erased"));
	assert_int_equal(unlock(f, "secure", PIN_A, k, &ti), -ENOKEY);
	assert_false(file_exists_rel(f, "keys/secure/discardable"));
	assert_false(file_exists_rel(f, "keys/secure/sp.credential"));
	assert_true(log_has(f, " secure crypto-erased (finished after an "
			       "interruption)\n"));
	assert_int_equal(disk_failures(f, "secure"), 0);
}

/* ---- calibration measures CPU time, not wall time ---- */

/* Pin this process to one CPU it may use and start n children that spin
 * on that CPU too: a calibration on the wall clock would see each pass
 * take about n + 1 times longer. Returns the old affinity in *old. */
static void burn_start(pid_t *pids, int n, cpu_set_t *old)
{
	cpu_set_t one;
	int cpu = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(*old), old), 0);
	while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, old))
		cpu++;
	assert_true(cpu < CPU_SETSIZE);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			volatile unsigned long x = 0;
			alarm(120); /* never outlive a crashed test */
			for (;;)
				x++;
		}
	}
}

static void burn_stop(pid_t *pids, int n, const cpu_set_t *old)
{
	for (int i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	assert_int_equal(sched_setaffinity(0, sizeof(*old), old), 0);
}

static void test_calibrate_under_load(void **state)
{
	struct tf_config cfg;
	uint32_t ops0, mem0, ops1, mem1;
	uint64_t cost0, cost1;
	pid_t pids[3];
	cpu_set_t old;

	(void)state;
	tf_config_default(&cfg);
	cfg.kdf_min_mem_mib = 4;
	cfg.kdf_target_ms = 160;
	assert_int_equal(tf_keys_calibrate(&cfg, &ops0, &mem0), 0);
	burn_start(pids, 3, &old);
	int r = tf_keys_calibrate(&cfg, &ops1, &mem1);
	burn_stop(pids, 3, &old);
	assert_int_equal(r, 0);
	/* Granularity: memory moves in doublings and the passes are rounded,
	 * so allow a factor 2 either way; wall-clock calibration under three
	 * spinners on the same CPU lands at about a quarter. */
	cost0 = (uint64_t)ops0 * mem0;
	cost1 = (uint64_t)ops1 * mem1;
	print_message("calibrated: idle %u x %u KiB, loaded %u x %u KiB\n",
		      ops0, mem0, ops1, mem1);
	assert_true(mem1 * 2 >= mem0 && mem1 <= mem0 * 2);
	assert_true(cost1 * 2 >= cost0 && cost1 <= cost0 * 2);
}

static void test_calibrate_floor(void **state)
{
	struct tf_config cfg;
	uint32_t ops, mem;
	pid_t pids[2];
	cpu_set_t old;

	(void)state;
	tf_config_default(&cfg);
	assert_int_equal(cfg.kdf_min_mem_mib, 64); /* the shipped floor */
	/* A target far below one pass: the floor decides, load or not. */
	cfg.kdf_min_mem_mib = 8;
	cfg.kdf_target_ms = 1;
	burn_start(pids, 2, &old);
	int r = tf_keys_calibrate(&cfg, &ops, &mem);
	burn_stop(pids, 2, &old);
	assert_int_equal(r, 0);
	assert_int_equal(mem, 8u * 1024u);
	assert_true(ops >= TF_KDF_OPS_MIN);
}

/* tf_keystore_derive: a sub-key of the device secret, the same for the
 * same info across key store openings (the tunnel key is never stored),
 * another for another info, and never the audit seed's */
static void test_derive(void **state)
{
	struct fx *f = *state;
	uint8_t a[32], b[32], c[32], seed[32], wide[64];

	assert_int_equal(tf_keystore_derive(f->ks,
					    "twofold tunnel key v1 intl "
					    "secure",
					    a, sizeof(a)),
			 0);
	assert_int_equal(tf_keystore_derive(f->ks,
					    "twofold tunnel key v1 gm "
					    "secure",
					    b, sizeof(b)),
			 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(tf_keystore_audit_seed(f->ks, seed), 0);
	assert_memory_not_equal(a, seed, sizeof(a));
	tf_keystore_close(f->ks);
	fx_open(f);
	assert_int_equal(tf_keystore_derive(f->ks,
					    "twofold tunnel key v1 intl "
					    "secure",
					    c, sizeof(c)),
			 0);
	assert_memory_equal(a, c, sizeof(a));
	assert_int_equal(tf_keystore_derive(f->ks, "x", wide, sizeof(wide)), 0);
	assert_int_equal(tf_keystore_derive(f->ks, "", a, sizeof(a)), -EINVAL);
	assert_int_equal(tf_keystore_derive(f->ks, "x", a, 0), -EINVAL);
	assert_int_equal(tf_keystore_derive(f->ks, "x", wide, 65), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_devsecret_formats),
		T(test_device_bound),
		T(test_enroll_unlock),
		T(test_wrong_pin_counts),
		T(test_count_before_check),
		T(test_unlock_ex_hook),
		T(test_schedule),
		T(test_max_failures_erase),
		T(test_remote_erase),
		T(test_change_credential),
		T(test_damaged),
		T(test_fifo_key_files),
		T(test_persona_binding),
		T(test_check_form),
		T(test_gm_suite),
		T(test_crash_enroll),
		T(test_crash_change),
		T(test_change_revokes),
		T(test_spblob_v1),
		T(test_erase_write_error),
		T(test_crash_erase),
		T(test_derive),
#undef T
		cmocka_unit_test(test_calibrate_under_load),
		cmocka_unit_test(test_calibrate_floor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
