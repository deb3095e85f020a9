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

#endif
