/* SPDX-License-Identifier: ISC */
/*
 * Jobs: slow work off the loop (an unlock's credential check, an
 * enroll's KDF; later package verification and scanning). Each job runs
 * on a thread of its own and posts its completion through an eventfd, an
 * event source like any other: done() then runs on the loop, which
 * meanwhile answered everything else.
 *
 * The key store is not thread-safe (its handle records the persona it
 * opened last, the TPM's lockoutAuth in transit) and a persona's key
 * directory is flock'd for the whole of an operation, KDF included: so at
 * most one job uses it (d->ks_job), and while one does the loop does not
 * call it at all (tfd_keystore_busy): status shows what it read last, and
 * a second unlock or enroll is answered "busy".
 *
 * Threads: signals stay blocked on them (the mask is inherited from the
 * loop, which takes every signal through its signalfd); they never fork
 * (the spawner forks persona processes, from its own clean image) and
 * PR_SET_PDEATHSIG, tied to a thread, is never set from one: persona
 * starts happen in done(), on the loop's thread.
 */
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "twofold/log.h"
#include "twofold/secmem.h"
#include "daemon.h"

/*
 * What a job's callees leave on its stack (libsodium's BLAKE2b final step
 * keeps the Argon2id output in a local it does not wipe) would stay there:
 * glibc caches a finished thread's stack unchanged, and no later call
 * overwrites it as one on the loop's stack would. So the stack a job used
 * is overwritten once it returned: a frame as deep as any job goes
 * (Argon2id, HKDF, AEAD and tss2 frames are far smaller), placed where
 * theirs were, below job_main's.
 */
#define JOB_STACK_BURN (256u * 1024u)

static __attribute__((noinline)) void burn_stack(void)
{
	volatile uint8_t area[JOB_STACK_BURN];

	tf_memzero((void *)area, sizeof(area));
	__asm__ volatile("" : : "r"(area) : "memory");
}

static void *job_main(void *arg)
{
	struct tfd_job *j = arg;
	uint64_t one = 1;

	j->run(j);
	burn_stack();
	/* the completion: the loop reads it and joins us */
	while (write(j->src.fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	return NULL;
}

static void job_complete(struct tfd *d, struct tfd_job *j)
{
	if (pthread_join(j->th, NULL) != 0)
		abort(); /* joining our own joinable thread cannot fail */
	tfd_source_del(d, &j->src);
	close(j->src.fd);
	j->src.fd = -1;
	if (j->uses_keystore && d->ks_job == j)
		d->ks_job = NULL;
	if (j->p && j->p->job == j)
		j->p->job = NULL;
	tf_debug("job %s%s%s done after %.1f ms%s", j->what ? j->what : "?",
		 j->p ? " " : "", j->p ? j->p->cfg->name : "",
		 (double)(tf_now_ns() - j->t0_ns) / 1e6,
		 j->cancelled ? " (cancelled)" : "");
	j->done(d, j); /* frees j */
}

static void job_event(struct tfd *d, struct tfd_source *s, uint32_t events)
{
	struct tfd_job *j = s->data;
	uint64_t v;

	(void)events;
	if (read(s->fd, &v, sizeof(v)) != sizeof(v))
		return; /* spurious: the worker has not finished */
	job_complete(d, j);
}

bool tfd_keystore_busy(const struct tfd *d)
{
	return d->ks_job != NULL;
}

int tfd_job_start(struct tfd *d, struct tfd_job *j)
{
	int efd, r;

	if (j->uses_keystore && d->ks_job != NULL)
		return -EBUSY;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return tf_negerrno();
	r = tfd_source_add(d, &j->src, efd, EPOLLIN, job_event, j);
	if (r < 0) {
		close(efd);
		return r;
	}
	j->t0_ns = tf_now_ns();
	r = pthread_create(&j->th, NULL, job_main, j);
	if (r != 0) {
		tfd_source_del(d, &j->src);
		close(efd);
		j->src.fd = -1;
		return -r;
	}
	if (j->uses_keystore)
		d->ks_job = j;
	if (j->p)
		j->p->job = j;
	/* after the source and the thread exist: a test waits for this
	 * line to know the job holds the key store */
	tf_debug("job %s%s%s started", j->what ? j->what : "?", j->p ? " " : "",
		 j->p ? j->p->cfg->name : "");
	return 0;
}

void tfd_jobs_shutdown(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_job *j = d->personas[i].job;
		if (j == NULL)
			continue;
		j->cancelled = true;
		job_complete(d, j);
	}
}
