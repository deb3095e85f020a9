/* SPDX-License-Identifier: ISC */
/*
 * The credential throttle: the record on disk (format in internal.h), the
 * clock it is measured with, the wait it imposes, and the helper thread
 * that makes a try durable while the KDF runs (tf_ks_cred_attempt).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twofold/atomicfile.h"
#include "src/lib/keys/internal.h"

static int read_boot_id(uint8_t id[16])
{
	_cleanup_free_ char *text = NULL;
	size_t len, j = 0;
	int r;

	r = tf_read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64,
			    &text, &len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < len && j < 32; i++) {
		char c = text[i];
		int v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			continue; /* dashes, newline */
		if (j % 2 == 0)
			id[j / 2] = (uint8_t)(v << 4);
		else
			id[j / 2] |= (uint8_t)v;
		j++;
	}
	return j == 32 ? 0 : -EIO;
}

int tf_ks_get_clock(struct tf_keystore *ks, struct tf_keys_clock *c)
{
	struct timespec ts;
	int r;

	if (ks->fixed_clock) {
		*c = ks->clock;
		return 0;
	}
	r = read_boot_id(c->boot_id);
	if (r < 0)
		return r;
	/* CLOCK_BOOTTIME counts suspend and cannot be set (unlike REALTIME),
	 * so neither `date -s` nor a suspended phone shortens a wait */
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return tf_negerrno();
	c->boottime_ns =
		(uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return 0;
}

int tf_ks_throttle_load(int dfd, struct tf_throttle_rec *t)
{
	uint8_t buf[TF_THROTTLE_BYTES + 1];
	size_t len;
	int r;

	r = tf_ks_read_key_file(dfd, F_THROTTLE, buf, sizeof(buf), &len);
	if (r == -ENOENT) {
		memset(t, 0, sizeof(*t));
		return 0;
	}
	if (r < 0)
		return r;
	return tf_keys_throttle_parse(buf, len, t);
}

int tf_ks_throttle_store(int dfd, const struct tf_throttle_rec *t)
{
	uint8_t buf[TF_THROTTLE_BYTES];

	tf_keys_throttle_format(t, buf);
	return tf_atomic_write_at(dfd, F_THROTTLE, buf, sizeof(buf), 0600);
}

/* Seconds since the last failure that we can prove have passed. */
static uint64_t elapsed_s(const struct tf_throttle_rec *t,
			  const struct tf_keys_clock *now)
{
	if (memcmp(t->boot_id, now->boot_id, sizeof(now->boot_id)) != 0)
		/* rebooted since: only the time since this boot is certain;
		 * rebooting never shortens a wait */
		return now->boottime_ns / 1000000000ull;
	if (now->boottime_ns < t->last_ns)
		return 0;
	return (now->boottime_ns - t->last_ns) / 1000000000ull;
}

void tf_ks_throttle_info(const struct tf_keystore *ks,
			 const struct tf_throttle_rec *t,
			 const struct tf_keys_clock *now,
			 struct tf_throttle_info *ti)
{
	uint32_t max = ks->cfg.throttle_max_failures;
	uint64_t delay = 0, el;

	memset(ti, 0, sizeof(*ti));
	ti->failures = t->failures;
	ti->erased = t->erased;
	ti->tries_left =
		(!t->erased && max > t->failures) ? max - t->failures : 0;
	if (t->erased || t->failures == 0)
		return;
	delay = tf_keys_throttle_delay(t->failures, ks->cfg.throttle_free_tries,
				       ks->cfg.throttle_base_delay);
	el = elapsed_s(t, now);
	ti->wait_seconds = delay > el ? (uint32_t)(delay - el) : 0;
}
/* ---------------------------------------------- count before check */

static void *count_main(void *arg)
{
	struct tf_ks_count_job *j = arg;

	/* fsync'd file and directory */
	j->r = tf_ks_throttle_store(j->dfd, j->t);
	if (j->o && j->o->during_kdf)
		j->o->during_kdf(j->o->arg);
	return NULL;
}

void tf_ks_count_start(struct tf_ks_count_job *j)
{
	j->threaded = pthread_create(&j->th, NULL, count_main, j) == 0;
	if (!j->threaded)
		(void)count_main(j);
}

int tf_ks_count_finish(struct tf_ks_count_job *j)
{
	if (j->threaded && pthread_join(j->th, NULL) != 0)
		abort(); /* joining our own joinable thread cannot fail */
	j->threaded = false;
	return j->r;
}
