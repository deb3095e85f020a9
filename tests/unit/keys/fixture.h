/* SPDX-License-Identifier: ISC */
/*
 * The key store fixture shared by the keys unit tests (test_keys.c,
 * test_duress.c): a state directory, a key store with an injected clock,
 * and its events written to a file the tests read. Included after cmocka
 * and the key store headers.
 */
#ifndef TWOFOLD_TEST_KEYS_FIXTURE_H
#define TWOFOLD_TEST_KEYS_FIXTURE_H

struct fx {
	char dir[64];
	int statefd;
	struct tf_config cfg;
	const struct tf_suite *s;
	struct tf_keystore *ks;
	struct tf_keys_clock clk;
};

static int rm_cb(const char *p, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* The key store's events, as twofoldd's audit log would get them: one
 * line "EVENT PERSONA DETAIL" per event (unprintable bytes as '?', as the
 * audit log stores them) in TF_EVENTS_LOG of the state dir. */
#define TF_EVENTS_LOG "events.test"
static int test_event(void *ctx, const char *persona, const char *event,
		      const char *detail)
{
	int *statefd = ctx;
	char line[512];
	int fd, n;

	n = snprintf(line, sizeof(line), "%s %s %s\n", event, persona, detail);
	for (int i = 0; i < n - 1; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] >= 0x7f)
			line[i] = '?';
	fd = openat(*statefd, TF_EVENTS_LOG,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

static void fx_open(struct fx *f)
{
	assert_int_equal(tf_keystore_open(f->statefd, f->s, &f->cfg, &f->ks),
			 0);
	tf_keystore_set_clock(f->ks, &f->clk);
	tf_keystore_set_audit(f->ks, test_event, &f->statefd);
}

/* A fresh state dir under /tmp/PREFIX.XXXXXX with a device secret and
 * a cheap KDF; teardown removes it. */
static int fx_setup(void **state, const char *prefix)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tf_crypto_init(), 0);
	f->s = tf_suite_by_name("intl");
	assert_non_null(f->s);
	snprintf(f->dir, sizeof(f->dir), "/tmp/%s.XXXXXX", prefix);
	assert_non_null(mkdtemp(f->dir));
	f->statefd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->statefd >= 0);
	tf_config_default(&f->cfg);
	f->cfg.kdf_min_mem_mib = 1;
	f->cfg.kdf_target_ms = 1;
	memset(f->clk.boot_id, 0xab, sizeof(f->clk.boot_id));
	f->clk.boottime_ns = 1000ull * 1000000000ull;
	assert_int_equal(tf_devsecret_create(f->statefd, f->s->id, 0), 0);
	fx_open(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tf_keystore_close(f->ks);
	close(f->statefd);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

#endif
