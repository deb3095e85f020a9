/* SPDX-License-Identifier: ISC */
/*
 * Audit log cost per event (tf_audit_append), unsynced and TF_AUDIT_SYNC,
 * in both suites, next to the anchor measured in the same run: a plain
 * write() of the same number of bytes (unsynced) and write()+fdatasync()
 * (synced) to a file in the same directory. Median ns per append over
 * SAMPLES samples. Checkpoints are pushed out of the way (one per 100000
 * records) so the numbers are the per-event cost; a checkpoint (one
 * signature + audit.key rewrite) is measured on its own.
 *
 * usage: bench_audit [DIR]   (default: a fresh directory under /var/tmp,
 * a real disk: /tmp may be tmpfs, where fdatasync is free)
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twofold/audit.h"
#include "twofold/crypto.h"

#define SAMPLES 7

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t median(uint64_t *s)
{
	qsort(s, SAMPLES, sizeof(*s), cmp_u64);
	return s[SAMPLES / 2];
}

static int rm_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st;
	(void)f;
	(void)w;
	return remove(p);
}

static const struct tf_audit_kv kv[] = {{"errno", "13"},
					{"failures", "1"},
					{"tries_left", "4"},
					{"wait_s", "0"}};
static const struct tf_audit_event ev = {.type = "unlock.failed",
					 .persona = "secure",
					 .uid = 0,
					 .pid = 4242,
					 .n_fields = 4,
					 .fields = kv};

static void die(const char *what)
{
	fprintf(stderr, "bench_audit: %s failed\n", what);
	exit(1);
}

/* ns per append, median of SAMPLES samples of n appends */
static uint64_t bench_append(struct tf_audit *a, unsigned flags, unsigned n)
{
	uint64_t s[SAMPLES];

	for (int i = 0; i < SAMPLES; i++) {
		uint64_t t0 = now_ns();
		for (unsigned j = 0; j < n; j++)
			if (tf_audit_append(a, &ev, flags) < 0)
				die("tf_audit_append");
		s[i] = (now_ns() - t0) / n;
	}
	return median(s);
}

static uint64_t bench_plain(int fd, size_t len, bool sync, unsigned n)
{
	uint8_t buf[256];
	uint64_t s[SAMPLES];

	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < SAMPLES; i++) {
		uint64_t t0 = now_ns();
		for (unsigned j = 0; j < n; j++)
			if (write(fd, buf, len) != (ssize_t)len ||
			    (sync && fdatasync(fd) < 0))
				die("write");
		s[i] = (now_ns() - t0) / n;
	}
	return median(s);
}

int main(int argc, char **argv)
{
	static const char *suites[] = {"intl", "gm"};
	char dir[256];
	uint8_t seed[32] = {1};
	size_t reclen = 0;

	if (tf_crypto_init() < 0)
		die("tf_crypto_init");
	printf("%-6s %-22s %12s %12s %8s\n", "suite", "what", "audit ns",
	       "anchor ns", "ratio");
	for (size_t si = 0; si < 2; si++) {
		const struct tf_suite *s = tf_suite_by_name(suites[si]);
		struct tf_audit_opts o = {.checkpoint_records = 100000,
					  .checkpoint_seconds = 100000};
		struct tf_audit *a = NULL;
		char why[256];
		int dfd, pfd;
		uint64_t au, as, pu, ps, ck, t0;
		off_t before;

		snprintf(dir, sizeof(dir), "%s/tf-bench-audit-XXXXXX",
			 argc > 1 ? argv[1] : "/var/tmp");
		if (mkdtemp(dir) == NULL)
			die("mkdtemp");
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 ||
		    tf_audit_open(dfd, s, seed, &o, &a, why, sizeof(why)) < 0)
			die("tf_audit_open");
		/* the size of one record, for the anchor */
		{
			int lfd = openat(dfd, TF_AUDIT_LOG, O_RDONLY);
			before = lseek(lfd, 0, SEEK_END);
			if (tf_audit_append(a, &ev, 0) < 0)
				die("append");
			reclen = (size_t)(lseek(lfd, 0, SEEK_END) - before);
			close(lfd);
		}
		pfd = openat(dfd, "plain",
			     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (pfd < 0)
			die("open plain");
		au = bench_append(a, 0, 2000);
		pu = bench_plain(pfd, reclen, false, 2000);
		as = bench_append(a, TF_AUDIT_SYNC, 50);
		ps = bench_plain(pfd, reclen, true, 50);
		if (tf_audit_append(a, &ev, 0) < 0)
			die("append");
		t0 = now_ns();
		if (tf_audit_checkpoint(a) < 0)
			die("checkpoint");
		ck = now_ns() - t0;
		printf("%-6s %-22s %12llu %12llu %8.2f\n", s->name,
		       "append (unsynced)", (unsigned long long)au,
		       (unsigned long long)pu, (double)au / (double)pu);
		printf("%-6s %-22s %12llu %12llu %8.2f\n", s->name,
		       "append TF_AUDIT_SYNC", (unsigned long long)as,
		       (unsigned long long)ps, (double)as / (double)ps);
		printf("%-6s %-22s %12llu %12s %8s\n", s->name,
		       "checkpoint (one)", (unsigned long long)ck, "-", "-");
		tf_audit_close(a);
		close(pfd);
		close(dfd);
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	}
	printf("record size %zu bytes (the anchor writes as many); median "
	       "of %d samples\n",
	       reclen, SAMPLES);
	return 0;
}
