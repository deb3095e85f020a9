/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of src/lib/audit: append and verify in both suites; a flipped
 * byte, a removed record, a truncated log and a torn tail are each found
 * and named; a torn tail is recovered with a log.recovered record; the
 * forward-secure key advance (K_0, which audit.verify keeps, cannot MAC a
 * record that verifies after a checkpoint); a full disk.
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "twofold/audit.h"
#include "twofold/crypto.h"
#include "src/lib/audit/internal.h"

struct fx {
	char dir[64];
	int statefd;
	const struct tf_suite *s;
	uint8_t seed[32];
};

static int rm_cb(const char *p, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup_suite(void **state, const char *suite)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tf-audit-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->statefd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->s = tf_suite_by_name(suite);
	memset(f->seed, 7, sizeof(f->seed));
	*state = f;
	return f->statefd >= 0 && f->s != NULL ? 0 : -1;
}

static int setup(void **state)
{
	return setup_suite(state, "intl");
}

static int setup_gm(void **state)
{
	return setup_suite(state, "gm");
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->statefd);
	nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct tf_audit *open_log(struct fx *f, uint32_t every)
{
	struct tf_audit_opts o = {.checkpoint_records = every};
	struct tf_audit *a = NULL;
	char why[256] = "";
	int r = tf_audit_open(f->statefd, f->s, f->seed, &o, &a, why,
			      sizeof(why));

	if (r < 0)
		fail_msg("tf_audit_open: %s (%s)", strerror(-r), why);
	return a;
}

static void append_n(struct tf_audit *a, int n, unsigned flags)
{
	for (int i = 0; i < n; i++) {
		char v[16];
		const struct tf_audit_kv kv[] = {
			{"n", v}, {"reason", "wrong\ncredential"}};
		const struct tf_audit_event ev = {.type = "unlock.failed",
						  .persona = "secure",
						  .uid = 0,
						  .pid = 42,
						  .n_fields = 2,
						  .fields = kv};
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(tf_audit_append(a, &ev, flags), 0);
	}
}

/* K_0 and the public key from audit.verify */
struct vkey {
	uint8_t k0[32], pk[65];
	size_t pklen;
};

static void load_vkey(struct fx *f, struct vkey *v)
{
	char *buf = NULL;
	size_t len;
	uint8_t sid;

	assert_int_equal(
		tf_read_file_at(f->statefd, TF_AUDIT_VERIFY, 4096, &buf, &len),
		0);
	v->pklen = sizeof(v->pk);
	assert_int_equal(tf_audit_verify_file_parse((uint8_t *)buf, len, &sid,
						    v->k0, v->pk, &v->pklen),
			 0);
	assert_int_equal(sid, f->s->id);
	free(buf);
}

static int verify(struct fx *f, struct tf_audit_verify_result *res)
{
	struct vkey v;

	load_vkey(f, &v);
	return tf_audit_verify(f->statefd, v.k0, v.pk, v.pklen, res);
}

/* the file offset of record seq (and of the end of it) */
static void record_at(struct fx *f, uint64_t seq, uint64_t *off, uint64_t *end)
{
	static struct tf_audit_reader rd;
	static struct tf_audit_rec rec;
	uint64_t torn;
	int fd = openat(f->statefd, TF_AUDIT_LOG, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(tf_audit_reader_init(&rd, fd), 0);
	for (;;) {
		uint64_t o = rd.offset;
		assert_int_equal(tf_audit_reader_next(&rd, &rec, &torn), 1);
		if (rec.seq == seq) {
			*off = o;
			*end = rd.offset;
			break;
		}
	}
	close(fd);
}

static size_t log_read(struct fx *f, uint8_t **buf)
{
	size_t len;

	assert_int_equal(tf_read_file_at(f->statefd, TF_AUDIT_LOG, 1 << 24,
					 (char **)buf, &len),
			 0);
	return len;
}

static void log_write(struct fx *f, const uint8_t *buf, size_t len)
{
	int fd = openat(f->statefd, TF_AUDIT_LOG,
			O_WRONLY | O_TRUNC | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(tf_write_full(fd, buf, len), 0);
	close(fd);
}

static void test_append_verify(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit *a = open_log(f, 4);

	append_n(a, 10, TF_AUDIT_SYNC);
	append_n(a, 3, 0);
	tf_audit_close(a);
	assert_int_equal(verify(f, &res), 0);
	/* log.created, its checkpoint, 13 events, a checkpoint every 4 (3)
	 * and the one at close */
	assert_int_equal(res.records, 1 + 1 + 13 + 3 + 1);
	assert_int_equal(res.checkpoints, 5);
	assert_true(res.have_key && res.have_state);
	/* and again after a reopen: the chain goes on */
	a = open_log(f, 4);
	append_n(a, 2, 0);
	tf_audit_close(a);
	assert_int_equal(verify(f, &res), 0);
	assert_int_equal(res.records, 19 + 2 + 1);
	/* without the key: chain and signatures only */
	assert_int_equal(tf_audit_verify(f->statefd, NULL, NULL, 0, &res), 0);
	assert_false(res.have_key);
}

static void test_fields_sanitised(void **state)
{
	struct fx *f = *state;
	static struct tf_audit_reader rd;
	static struct tf_audit_rec rec;
	struct tf_audit *a = open_log(f, 100);
	uint64_t torn;
	int fd;

	append_n(a, 1, 0);
	tf_audit_close(a);
	fd = openat(f->statefd, TF_AUDIT_LOG, O_RDONLY | O_CLOEXEC);
	assert_int_equal(tf_audit_reader_init(&rd, fd), 0);
	do
		assert_int_equal(tf_audit_reader_next(&rd, &rec, &torn), 1);
	while (strcmp(rec.type, "unlock.failed") != 0);
	assert_string_equal(rec.persona, "secure");
	assert_string_equal(tf_audit_field(&rec, "reason"), "wrong?credential");
	assert_int_equal(rec.pid, 42);
	assert_true(rec.realtime_ns > 0 && rec.boottime_ns > 0);
	close(fd);
}

static void test_flipped_byte(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit *a = open_log(f, 100);
	uint64_t off, end;
	uint8_t *buf;
	size_t len;

	append_n(a, 8, 0);
	tf_audit_close(a);
	record_at(f, 5, &off, &end);
	len = log_read(f, &buf);
	buf[off + 70] ^= 1; /* inside the body (the type string) */
	log_write(f, buf, len);
	assert_int_equal(verify(f, &res), -EBADMSG);
	assert_int_equal(res.bad_record, 5);
	assert_non_null(strstr(res.why, "record 5"));
	free(buf);
}

/* a root attacker re-hashes the chain after an edit: the MAC catches it */
static void test_rehashed_edit(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit *a = open_log(f, 100);
	static struct tf_audit_rec rec;
	uint64_t off, end;
	uint8_t *buf, chain[32];
	size_t len, used;

	append_n(a, 4, 0);
	tf_audit_close(a);
	/* edit the last event (record 5) and recompute its chain hash, as
	 * anyone can: the MAC under K_1 (gone from the device) tells */
	record_at(f, 5, &off, &end);
	len = log_read(f, &buf);
	buf[off + 4 + 56 + 3] = 'x'; /* "unlock.failed" -> "unxock.failed" */
	assert_int_equal(tf_audit_parse(buf + off, len - off, &rec, &used), 0);
	{
		/* the previous record's stored chain */
		uint64_t po, pe;
		record_at(f, 4, &po, &pe);
		assert_int_equal(tf_audit_chain_next(f->s, buf + pe - 64,
						     rec.raw, rec.raw_len,
						     chain),
				 0);
		memcpy(buf + off + rec.raw_len, chain, 32);
	}
	log_write(f, buf, len);
	assert_int_equal(verify(f, &res), -EBADMSG);
	assert_int_equal(res.bad_record, 5);
	assert_non_null(strstr(res.why, "MAC mismatch"));
	free(buf);
}

static void test_removed_record(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit *a = open_log(f, 100);
	uint64_t off, end;
	uint8_t *buf;
	size_t len;

	append_n(a, 8, 0);
	tf_audit_close(a);
	record_at(f, 4, &off, &end);
	len = log_read(f, &buf);
	memmove(buf + off, buf + end, len - end);
	log_write(f, buf, len - (end - off));
	assert_int_equal(verify(f, &res), -EBADMSG);
	assert_int_equal(res.bad_record, 4);
	assert_non_null(strstr(res.why, "record 4"));
	free(buf);
}

static void test_truncated(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit *a = open_log(f, 100);
	uint64_t off, end;
	uint8_t *buf;
	size_t len;
	char why[256];

	append_n(a, 8, 0);
	tf_audit_close(a);
	/* cut at a record boundary: every record left is fine, but the
	 * last checkpoint audit.key names is gone */
	record_at(f, 6, &off, &end);
	len = log_read(f, &buf);
	log_write(f, buf, off);
	assert_int_equal(verify(f, &res), -EBADMSG);
	assert_non_null(strstr(res.why, "truncated after checkpoint 1"));
	/* and the writer refuses to append to it */
	assert_int_equal(tf_audit_open(f->statefd, f->s, f->seed, NULL, &a, why,
				       sizeof(why)),
			 -EBADMSG);
	assert_non_null(strstr(why, "truncated"));
	free(buf);
	(void)len;
}

static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit *a = open_log(f, 100);
	static struct tf_audit_reader rd;
	static struct tf_audit_rec rec;
	uint64_t torn, n_before;
	uint8_t *buf, partial[40];
	size_t len;
	int fd;

	append_n(a, 3, 0);
	tf_audit_close(a);
	assert_int_equal(verify(f, &res), 0);
	n_before = res.records;
	/* a crash in the middle of the next append: a length prefix and a
	 * part of a body */
	memset(partial, 0x41, sizeof(partial));
	tf_audit_put32(partial, 200);
	len = log_read(f, &buf);
	buf = realloc(buf, len + sizeof(partial));
	memcpy(buf + len, partial, sizeof(partial));
	log_write(f, buf, len + sizeof(partial));
	free(buf);
	assert_int_equal(verify(f, &res), -EBADMSG);
	assert_non_null(strstr(res.why, "torn tail after record"));
	assert_int_equal(res.bad_record, n_before);
	/* the writer records what it drops, then cuts it */
	a = open_log(f, 100);
	tf_audit_close(a);
	assert_int_equal(verify(f, &res), 0);
	assert_int_equal(res.records, n_before + 2);
	fd = openat(f->statefd, TF_AUDIT_LOG, O_RDONLY | O_CLOEXEC);
	assert_int_equal(tf_audit_reader_init(&rd, fd), 0);
	for (uint64_t i = 0; i <= n_before; i++)
		assert_int_equal(tf_audit_reader_next(&rd, &rec, &torn), 1);
	assert_string_equal(rec.type, "log.recovered");
	assert_string_equal(tf_audit_field(&rec, "dropped_bytes"), "40");
	assert_string_equal(tf_audit_field(&rec, "reason"), "torn");
	close(fd);
}

/* After a checkpoint K_0 (still in audit.verify) and every earlier K are
 * useless for new records: one forged with the right chain under K_0
 * fails, and audit.key no longer holds K_0. */
static void test_forward_secure(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit_keystate ks;
	struct tf_audit_meta m = {0};
	uint8_t rec[TF_AUDIT_REC_MAX], *buf, *kbuf;
	struct vkey v;
	size_t len, rl, kl;
	struct tf_audit *a = open_log(f, 100);
	const struct tf_audit_event ev = {.type = "unlock.ok",
					  .persona = "secure",
					  .uid = TF_AUDIT_NO_UID};

	append_n(a, 2, 0);
	tf_audit_close(a);
	assert_int_equal(verify(f, &res), 0);
	load_vkey(f, &v);
	assert_int_equal(tf_read_file_at(f->statefd, TF_AUDIT_KEY, 4096,
					 (char **)&kbuf, &kl),
			 0);
	assert_int_equal(tf_audit_keystate_parse(kbuf, kl, &ks), 0);
	assert_int_equal(ks.epoch, 2);
	assert_memory_not_equal(ks.k, v.k0, 32);
	/* forge record N under K_0 but in the current epoch, chained
	 * right: the MAC does not verify */
	m.seq = res.records;
	m.epoch = ks.epoch;
	assert_int_equal(tf_audit_encode(&m, &ev, rec, sizeof(rec), &rl), 0);
	assert_int_equal(tf_audit_chain_next(f->s, ks.chain, rec, rl, rec + rl),
			 0);
	assert_int_equal(
		tf_audit_mac(f->s, v.k0, rec, rl, rec + rl, rec + rl + 32), 0);
	len = log_read(f, &buf);
	buf = realloc(buf, len + rl + 64);
	memcpy(buf + len, rec, rl + 64);
	log_write(f, buf, len + rl + 64);
	assert_int_equal(verify(f, &res), -EBADMSG);
	assert_non_null(strstr(res.why, "MAC mismatch"));
	/* the same record under the current K does verify (the test of the
	 * test: only the key made the difference) */
	assert_int_equal(
		tf_audit_mac(f->s, ks.k, rec, rl, rec + rl, rec + rl + 32), 0);
	memcpy(buf + len, rec, rl + 64);
	log_write(f, buf, len + rl + 64);
	assert_int_equal(verify(f, &res), 0);
	free(buf);
	free(kbuf);
}

static void test_enospc(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit *a = open_log(f, 100);
	const struct tf_audit_event ev = {.type = "unlock.ok",
					  .uid = TF_AUDIT_NO_UID};
	uint64_t failed = 0;

	setenv("TWOFOLD_FAULT", "audit-enospc", 1);
	assert_int_equal(tf_audit_append(a, &ev, TF_AUDIT_SYNC), -ENOSPC);
	assert_int_equal(tf_audit_last_error(a, &failed), -ENOSPC);
	assert_int_equal(failed, 1);
	unsetenv("TWOFOLD_FAULT");
	assert_int_equal(tf_audit_append(a, &ev, TF_AUDIT_SYNC), 0);
	assert_int_equal(tf_audit_last_error(a, NULL), 0);
	tf_audit_close(a);
	assert_int_equal(verify(f, &res), 0);
}

static void test_parse_bounds(void **state)
{
	struct tf_audit_rec rec;
	uint8_t buf[TF_AUDIT_REC_MAX] = {0};
	size_t used;

	(void)state;
	assert_int_equal(tf_audit_parse(buf, 3, &rec, &used), -EAGAIN);
	tf_audit_put32(buf, TF_AUDIT_BODY_MAX + 1);
	assert_int_equal(tf_audit_parse(buf, sizeof(buf), &rec, &used),
			 -EBADMSG);
	tf_audit_put32(buf, 10);
	assert_int_equal(tf_audit_parse(buf, sizeof(buf), &rec, &used),
			 -EBADMSG);
	tf_audit_put32(buf, 100);
	assert_int_equal(tf_audit_parse(buf, 50, &rec, &used), -EAGAIN);
	assert_int_equal(tf_audit_parse(buf, sizeof(buf), &rec, &used),
			 -EBADMSG); /* version 0 */
}

/* The daemon appends from its loop and from a job's thread (the key
 * store's erase events): two threads appending at once must still give a
 * chain that verifies, with every record in it. */
static void *append_thread(void *arg)
{
	append_n(arg, 300, 0);
	return NULL;
}

static void test_concurrent_appends(void **state)
{
	struct fx *f = *state;
	struct tf_audit_verify_result res;
	struct tf_audit *a = open_log(f, 16);
	pthread_t t1, t2;

	assert_int_equal(pthread_create(&t1, NULL, append_thread, a), 0);
	assert_int_equal(pthread_create(&t2, NULL, append_thread, a), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	tf_audit_close(a);
	assert_int_equal(verify(f, &res), 0);
	/* log.created + its checkpoint, 600 events, a checkpoint every 16
	 * (37, the last one at 592) and the one at close */
	assert_int_equal(res.records, 2 + 600 + 37 + 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_append_verify),
		cmocka_unit_test_setup_teardown(test_append_verify, setup_gm,
						teardown),
		T(test_fields_sanitised),
		T(test_flipped_byte),
		T(test_rehashed_edit),
		T(test_removed_record),
		T(test_truncated),
		T(test_torn_tail),
		T(test_forward_secure),
		cmocka_unit_test_setup_teardown(test_forward_secure, setup_gm,
						teardown),
		T(test_enospc),
		T(test_concurrent_appends),
		cmocka_unit_test(test_parse_bounds),
	};
#undef T
	if (tf_crypto_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
