/* SPDX-License-Identifier: ISC */
/*
 * The relay's message store through its interface (store.h): put
 * throughput (messages/s, each durable on return, one transaction each)
 * and put latency (p50, p99) with C concurrent clients, each its own
 * store handle (what several relay workers or relays on one database
 * are), for D seconds. The anchor, measured in the same run and the same
 * directory by `anchor DIR`: write(256 B) + fdatasync() in a loop, the
 * cost of one durable commit on this disk.
 *
 *   tf-store-bench put SPEC CLIENTS SECONDS [BATCH]
 *       SPEC as twofold-relay's --store; BATCH > 1: tf_store_put_many,
 *       BATCH messages per transaction (a group commit)
 *   tf-store-bench anchor DIR SECONDS
 * Prints one line: "msgs_per_s P50_US P99_US COUNT".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define BLOB 256
#define LAT_MAX (1 << 20)

static const char *spec;
static double seconds;
static int batch = 1; /* >1: tf_store_put_many, a group commit */
static uint64_t t_end;

struct worker {
	pthread_t th;
	int idx, err;
	size_t n;
	uint32_t *lat_us; /* one per put */
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct tf_store *st = NULL;
	uint8_t id[TF_STORE_ID_BYTES] = {0}, blob[BLOB];
	char sender[32], why[256];
	uint64_t t0, t1;
	int r;

	w->err = tf_store_open(spec, &st, why, sizeof(why));
	if (w->err < 0) {
		fprintf(stderr, "tf-store-bench: open: %s\n",
			why[0] ? why : strerror(-w->err));
		return NULL;
	}
	snprintf(sender, sizeof(sender), "bench-%d-%d", (int)getpid(), w->idx);
	memset(blob, 0xa5, sizeof(blob));
	while (batch <= 1 && (t0 = now_ns()) < t_end && w->n < LAT_MAX) {
		memcpy(id, &w->n, sizeof(w->n));
		r = tf_store_put(st, sender, id, "bench-rcpt", blob,
				 sizeof(blob), (int64_t)time(NULL));
		t1 = now_ns();
		if (r != TF_STORE_STORED) {
			w->err = r < 0 ? r : -EEXIST;
			break;
		}
		w->lat_us[w->n++] = (uint32_t)((t1 - t0) / 1000);
	}
	/* group commit: each message of a batch is acknowledged when the
	 * batch commits, so each one's latency is the batch's */
	while (batch > 1 && (t0 = now_ns()) < t_end &&
	       w->n + (size_t)batch <= LAT_MAX) {
		struct tf_store_put_item it[256];
		uint8_t ids[256][TF_STORE_ID_BYTES] = {{0}};

		for (int i = 0; i < batch; i++) {
			size_t k = w->n + (size_t)i;

			memcpy(ids[i], &k, sizeof(k));
			it[i] = (struct tf_store_put_item){.sender = sender,
							   .recipient =
								   "bench-rcpt",
							   .id = ids[i],
							   .blob = blob,
							   .len = sizeof(blob)};
		}
		r = tf_store_put_many(st, it, (size_t)batch,
				      (int64_t)time(NULL));
		t1 = now_ns();
		for (int i = 0; r == 0 && i < batch; i++)
			if (it[i].result != TF_STORE_STORED)
				r = it[i].result < 0 ? it[i].result : -EEXIST;
		if (r != 0) {
			w->err = r;
			break;
		}
		for (int i = 0; i < batch; i++)
			w->lat_us[w->n++] = (uint32_t)((t1 - t0) / 1000);
	}
	tf_store_close(st);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void report(uint32_t *lat, size_t n, double secs)
{
	qsort(lat, n, sizeof(*lat), cmp_u32);
	printf("%.0f %u %u %zu\n", (double)n / secs, n ? lat[n / 2] : 0,
	       n ? lat[(n * 99) / 100] : 0, n);
}

static int bench_put(int clients)
{
	struct worker *w = calloc((size_t)clients, sizeof(*w));
	uint32_t *all;
	uint64_t t0;
	size_t total = 0;

	if (w == NULL)
		return 1;
	t0 = now_ns();
	t_end = t0 + (uint64_t)(seconds * 1e9);
	for (int i = 0; i < clients; i++) {
		w[i].idx = i;
		w[i].lat_us = malloc(LAT_MAX * sizeof(uint32_t));
		if (w[i].lat_us == NULL ||
		    pthread_create(&w[i].th, NULL, run, &w[i]) != 0)
			return 1;
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].err < 0) {
			fprintf(stderr, "tf-store-bench: put: %s\n",
				strerror(-w[i].err));
			return 1;
		}
		total += w[i].n;
	}
	all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL)
		return 1;
	total = 0;
	for (int i = 0; i < clients; i++) {
		memcpy(all + total, w[i].lat_us, w[i].n * sizeof(*all));
		total += w[i].n;
		free(w[i].lat_us);
	}
	report(all, total, (double)(now_ns() - t0) / 1e9);
	free(all);
	free(w);
	return 0;
}

static int bench_anchor(const char *dir)
{
	char path[4096], buf[BLOB];
	uint32_t *lat = malloc(LAT_MAX * sizeof(uint32_t));
	uint64_t t0 = now_ns(), a, b;
	size_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/anchor.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0 || lat == NULL)
		return 1;
	unlink(path);
	memset(buf, 0x5a, sizeof(buf));
	t_end = t0 + (uint64_t)(seconds * 1e9);
	while ((a = now_ns()) < t_end && n < LAT_MAX) {
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) < 0)
			return 1;
		b = now_ns();
		lat[n++] = (uint32_t)((b - a) / 1000);
	}
	close(fd);
	report(lat, n, (double)(now_ns() - t0) / 1e9);
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "put")) {
		spec = argv[2];
		seconds = atof(argv[4]);
		batch = argc == 6 ? atoi(argv[5]) : 1;
		if (batch < 1 || batch > 256)
			return 2;
		return bench_put(atoi(argv[3]));
	}
	if (argc == 4 && !strcmp(argv[1], "anchor")) {
		seconds = atof(argv[3]);
		return bench_anchor(argv[2]);
	}
	fprintf(stderr,
		"usage: tf-store-bench put SPEC CLIENTS SECONDS [BATCH] | "
		"anchor DIR SECONDS\n");
	return 2;
}
