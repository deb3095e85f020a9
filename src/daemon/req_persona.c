/* SPDX-License-Identifier: ISC */
/*
 * `twofold persona start|stop|restart P` (cli/verb_persona.c). A stop is
 * a halt (lifecycle.c): the processes are killed at once and the answer
 * comes when they are gone, from the loop, which answers everything else
 * meanwhile.
 */
#include <stdio.h>
#include <string.h>

#include "twofold/log.h"
#include "daemon.h"

/* Start p, or say why not: the reply for start, restart. */
static void start_reply(struct tfd *d, struct tfd_persona *p,
			struct tfd_reply *rep)
{
	char err[256] = "";
	int r;

	if (p->evict_pending) {
		tfd_reply_fail(
			rep, -EACCES, TF_R_PERSONA_EVICT_PENDING, p->cfg->name,
			"%s is locked (lock-down still removing its key: "
			"%s); unlock it with: twofold unlock %s",
			p->cfg->name, tfd_evict_reason(p), p->cfg->name);
		return;
	}
	if (p->cfg->credential && !p->key_loaded) {
		tfd_reply_fail(
			rep, -EACCES, TF_R_PERSONA_LOCKED, p->cfg->name,
			"%s is locked; unlock it with: twofold unlock %s",
			p->cfg->name, p->cfg->name);
		return;
	}
	r = tfd_persona_start(d, p, err, sizeof(err));
	if (r < 0)
		tfd_reply_fail(rep, r, TF_R_PERSONA_START_FAILED, p->cfg->name,
			       "%s", err[0] ? err : strerror(-r));
	else
		tfd_reply_err(rep, 0, "%s started", p->cfg->name);
}

enum tfd_disp tfd_req_start(struct tfd *d, struct tfd_conn *c,
			    const struct tf_msg *m, struct tfd_persona *p,
			    struct tfd_reply *rep)
{
	start_reply(d, p, rep);
	return TFD_REPLY_NOW;
}

static void stop_reply(struct tfd_persona *p, int r, struct tfd_reply *rep)
{
	if (r == -ETIMEDOUT)
		tfd_reply_fail(
			rep, r, TF_R_PERSONA_STOP_INCOMPLETE, p->cfg->name,
			"%s: stop incomplete: its processes were killed "
			"but have not exited (see: twofold status)%s",
			p->cfg->name,
			p->cfg->credential ? "; its key is removed" : "");
	else if (r < 0 && p->evict_pending)
		tfd_reply_fail(rep, r, TF_R_PERSONA_EVICT_PENDING, p->cfg->name,
			       "%s stopped and locked, but removing its key is "
			       "pending (%s); twofoldd keeps retrying every "
			       "second (see: twofold status)",
			       p->cfg->name, tfd_evict_reason(p));
	else if (r < 0)
		tfd_reply_fail(rep, r, TF_R_PERSONA_STOP_INCOMPLETE,
			       p->cfg->name, "%s: stop incomplete: %s",
			       p->cfg->name, strerror(-r));
	else if (p->cfg->credential)
		tfd_reply_err(rep, 0,
			      "%s stopped and locked (start it again with: "
			      "twofold unlock %s)",
			      p->cfg->name, p->cfg->name);
	else
		tfd_reply_err(rep, 0, "%s stopped", p->cfg->name);
}

static void stop_resume(struct tfd *d, struct tfd_persona *p,
			struct tfd_conn *c, int r, uint32_t flags)
{
	struct tfd_reply rep = {.exit_code = -1};

	(void)flags;
	stop_reply(p, r, &rep);
	tfd_conn_reply(d, c, &rep);
}

enum tfd_disp tfd_req_stop(struct tfd *d, struct tfd_conn *c,
			   const struct tf_msg *m, struct tfd_persona *p,
			   struct tfd_reply *rep)
{
	struct tfd_waiter w = {.c = c, .resume = stop_resume};
	int res = 0, r;

	r = tfd_halt_stop_or_evict(d, p, &w, &res);
	if (r == TFD_PENDING) {
		c->waiting = true;
		return TFD_REPLY_LATER;
	}
	stop_reply(p, r < 0 ? r : res, rep);
	return TFD_REPLY_NOW;
}

/* The stop of a restart is over: start, or (never "stopped with the key
 * loaded" for a credential persona) lock it down. */
static void restart_then(struct tfd *d, struct tfd_persona *p, int r,
			 struct tfd_reply *rep)
{
	int q;

	if (r < 0) {
		tfd_reply_fail(rep, r, TF_R_PERSONA_STOP_INCOMPLETE,
			       p->cfg->name, "%s: stop incomplete: %s",
			       p->cfg->name, strerror(-r));
		if (p->cfg->credential && p->state == TFD_P_STOPPED)
			(void)tfd_halt(d, p, true, NULL, &q);
		return;
	}
	if (p->state != TFD_P_STOPPED) {
		/* a lock-down came while it stopped */
		tfd_reply_fail(rep, -EACCES, TF_R_PERSONA_LOCKED, p->cfg->name,
			       "restart %s: interrupted by a lock-down; unlock "
			       "it with: twofold unlock %s",
			       p->cfg->name, p->cfg->name);
		tfd_reply_param(rep, "cause", "lockdown");
		return;
	}
	start_reply(d, p, rep);
	if (rep->err == 0)
		tfd_reply_err(rep, 0, "%s restarted", p->cfg->name);
	else if (p->cfg->credential)
		(void)tfd_halt(d, p, true, NULL, &q);
}

static void restart_resume(struct tfd *d, struct tfd_persona *p,
			   struct tfd_conn *c, int r, uint32_t flags)
{
	struct tfd_reply rep = {.exit_code = -1};

	(void)flags;
	restart_then(d, p, r, &rep);
	tfd_conn_reply(d, c, &rep);
}

enum tfd_disp tfd_req_restart(struct tfd *d, struct tfd_conn *c,
			      const struct tf_msg *m, struct tfd_persona *p,
			      struct tfd_reply *rep)
{
	struct tfd_waiter w = {.c = c, .resume = restart_resume};
	int res = 0, r;

	if (p->evict_pending) {
		start_reply(d, p, rep); /* refuses, saying why */
		return TFD_REPLY_NOW;
	}
	if (p->rt == NULL) {
		start_reply(d, p, rep);
		if (rep->err == 0)
			tfd_reply_err(rep, 0, "%s restarted", p->cfg->name);
		return TFD_REPLY_NOW;
	}
	r = tfd_halt(d, p, false, &w, &res);
	if (r == TFD_PENDING) {
		c->waiting = true;
		return TFD_REPLY_LATER;
	}
	restart_then(d, p, r < 0 ? r : res, rep);
	return TFD_REPLY_NOW;
}
