/* SPDX-License-Identifier: ISC */
/*
 * `twofold exec seal PERSONA` (request 22, root only; docs/exec.md "Base
 * files by hash"): hash every executable file of the persona's base and
 * make that its exec gate's record, replacing what it had (pins
 * included). The walk and the hashing (all of /usr on a host without a
 * base root: seconds) run as a job; the record is saved on the loop,
 * which holds the key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/log.h"
#include "twofold/profile.h"
#include "daemon.h"
#include "exechash.h"

struct seal_job {
	struct tfd_job j;
	const struct tf_suite *suite;
	struct tf_profile prof;
	struct tfd_hashes hs;
	int r;
	char err[256];
	uint64_t ns;
};

static void seal_run(struct tfd_job *j)
{
	struct seal_job *sj = (struct seal_job *)j;
	uint64_t t0 = tf_now_ns();

	sj->r = tfd_eh_seal_walk(sj->suite, &sj->prof, &sj->hs, sj->err,
				 sizeof(sj->err));
	sj->hs.sealed = true;
	sj->ns = tf_now_ns() - t0;
}

static void seal_done(struct tfd *d, struct tfd_job *j)
{
	struct seal_job *sj = (struct seal_job *)j;
	struct tfd_persona *p = j->p;
	struct tfd_conn *c = j->c;
	struct tfd_reply rep = {.exit_code = -1};
	size_t n = sj->hs.n;
	int r = sj->r;

	if (r == 0 && j->cancelled)
		r = -ECANCELED;
	if (r == 0) {
		r = tfd_gate_seal(d, p, &sj->hs);
		if (r == -ENOTCONN)
			snprintf(sj->err, sizeof(sj->err),
				 "it stopped meanwhile; start it and seal "
				 "again");
		else if (r < 0)
			snprintf(sj->err, sizeof(sj->err),
				 "cannot save the record: %s", strerror(-r));
	}
	tfd_audit(d, TF_AUDIT_SYNC, r == 0 ? "exec.sealed" : "exec.seal_failed",
		  p, c, "entries=%zu\terrno=%d", n, -r);
	if (r == 0)
		tfd_reply_err(&rep, 0,
			      "%s: sealed %zu executable files of its base "
			      "(%.0f ms)",
			      p->cfg->name, n, (double)sj->ns / 1e6);
	else
		tfd_reply_err(&rep, r, "exec seal %s: %s", p->cfg->name,
			      sj->err[0] ? sj->err : strerror(-r));
	tfd_hashes_clear(&sj->hs);
	pthread_mutex_destroy(&sj->hs.mu);
	free(sj);
	tfd_conn_reply(d, c, &rep);
}

enum tfd_disp tfd_req_exec_seal(struct tfd *d, struct tfd_conn *c,
				const struct tf_msg *m, struct tfd_persona *p,
				struct tfd_reply *rep)
{
	struct seal_job *sj;
	char err[256];
	int r;

	(void)m;
	if (p->gate == NULL || tfd_eh_mode_of(p) == TFD_EH_OFF) {
		tfd_reply_err(rep, -EINVAL,
			      "exec seal %s: its exec gate checks no hashes "
			      "(%s in device.conf); set exec_hashes = sealed "
			      "or pin",
			      p->cfg->name,
			      p->gate ? "exec_hashes = off"
				      : "allow_exec_writable = yes");
		return TFD_REPLY_NOW;
	}
	if (p->job != NULL) {
		tfd_reply_err(rep, -EBUSY,
			      "exec seal %s: busy with another job; try again",
			      p->cfg->name);
		return TFD_REPLY_NOW;
	}
	sj = calloc(1, sizeof(*sj));
	if (sj == NULL || tfd_hashes_init(&sj->hs, d->suite) < 0) {
		free(sj);
		tfd_reply_err(rep, -ENOMEM, "exec seal: out of memory");
		return TFD_REPLY_NOW;
	}
	/* the base as the persona's start built it: the same profile */
	r = tf_profile_for_persona(&d->cfg, p->cfg, &sj->prof, err,
				   sizeof(err));
	if (r < 0) {
		pthread_mutex_destroy(&sj->hs.mu);
		free(sj);
		tfd_reply_err(rep, r, "exec seal %s: %s", p->cfg->name, err);
		return TFD_REPLY_NOW;
	}
	sj->suite = d->suite;
	sj->j.src.fd = -1;
	sj->j.run = seal_run;
	sj->j.done = seal_done;
	sj->j.p = p;
	sj->j.c = c;
	sj->j.what = "exec seal";
	r = tfd_job_start(d, &sj->j);
	if (r < 0) {
		pthread_mutex_destroy(&sj->hs.mu);
		free(sj);
		tfd_reply_err(rep, r, "exec seal: no worker thread; try again");
		return TFD_REPLY_NOW;
	}
	c->waiting = true;
	return TFD_REPLY_LATER;
}
