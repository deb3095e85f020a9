/* SPDX-License-Identifier: ISC */
/*
 * The dispatch table (OpenSSH monitor.c's mon_dispatch pattern): the daemon
 * answers only the request types listed here. Each entry says in which
 * daemon states it is allowed, whether it names a persona and in which
 * persona states, and which attributes it may carry. Everything else is
 * refused before any handler runs, with a message that says what to do.
 */
#include <stdio.h>
#include <string.h>

#include "twofold/log.h"
#include "daemon.h"

#define A(x) (1u << (x))

struct tfd_req_def {
	uint16_t type;
	const char *name;
	tfd_handler fn;
	unsigned daemon_states;
	bool persona;		 /* TF_A_PERSONA required */
	unsigned persona_states; /* allowed states of that persona */
	uint32_t attrs;		 /* allowed attributes */
};

static const struct tfd_req_def table[] = {
	{TF_REQ_PING, "ping", tfd_req_ping, TFD_READY, false, 0, 0},
	{TF_REQ_STATUS, "status", tfd_req_status, TFD_READY, false, 0,
	 A(TF_A_FLAGS)},
	{TF_REQ_PERSONA_START, "start", tfd_req_start, TFD_READY, true,
	 TFD_P_STOPPED, A(TF_A_PERSONA)},
	{TF_REQ_PERSONA_STOP, "stop", tfd_req_stop, TFD_READY, true,
	 TFD_P_RUNNING | TFD_P_FROZEN, A(TF_A_PERSONA)},
	/* not FROZEN: a restart must not turn a screen lock into a running
	 * persona; unlock first */
	{TF_REQ_PERSONA_RESTART, "restart", tfd_req_restart, TFD_READY, true,
	 TFD_P_RUNNING | TFD_P_STOPPED, A(TF_A_PERSONA)},
	{TF_REQ_RUN, "run", tfd_req_run, TFD_READY, true, TFD_P_RUNNING,
	 A(TF_A_PERSONA) | A(TF_A_ARG) | A(TF_A_ENV) | A(TF_A_CWD) |
		 A(TF_A_UID) | A(TF_A_FLAGS)},
	{TF_REQ_SIGNAL, "signal", tfd_req_signal, TFD_READY, false, 0,
	 A(TF_A_SIGNAL)},
	/* only RUNNING: a locked persona never gets the foreground devices
	 * (foreground.c); unlock it first */
	{TF_REQ_SWITCH, "switch", tfd_req_switch, TFD_READY, true,
	 TFD_P_RUNNING, A(TF_A_PERSONA)},
	{TF_REQ_ENROLL, "enroll", tfd_req_enroll, TFD_READY, true,
	 TFD_P_NOKEY | TFD_P_RUNNING | TFD_P_FROZEN | TFD_P_EVICTED |
		 TFD_P_STOPPED | TFD_P_ERASED,
	 A(TF_A_PERSONA) | A(TF_A_SECRET) | A(TF_A_SECRET_NEW) | A(TF_A_FLAGS)},
	{TF_REQ_UNLOCK, "unlock", tfd_req_unlock, TFD_READY, true,
	 TFD_P_FROZEN | TFD_P_EVICTED | TFD_P_STOPPED,
	 A(TF_A_PERSONA) | A(TF_A_SECRET)},
	/* every state: a lock-down must reach a key wherever the kernel
	 * has it (stopped with its key, a removal pending, an erase whose
	 * removal did not finish); the handler asks the kernel and refuses
	 * what has nothing to lock */
	{TF_REQ_LOCK, "lock", tfd_req_lock, TFD_READY, true, TFD_P_ANY,
	 A(TF_A_PERSONA) | A(TF_A_FLAGS)},
	/* every state: a wipe (and a remote wipe, which retries) must
	 * reach a persona whatever it is doing; the handler refuses a
	 * device-bound persona and anyone but root */
	{TF_REQ_WIPE, "wipe", tfd_req_wipe, TFD_READY, true, TFD_P_ANY,
	 A(TF_A_PERSONA)},
};

const char *tfd_pstate_name(enum tfd_pstate s)
{
	switch (s) {
	case TFD_P_STOPPED: return "stopped";
	case TFD_P_RUNNING: return "running";
	case TFD_P_FROZEN: return "frozen";
	case TFD_P_EVICTED: return "locked";
	case TFD_P_NOKEY: return "no-credential";
	case TFD_P_ERASED: return "erased";
	default: return "unknown";
	}
}

struct tfd_persona *tfd_persona_find(struct tfd *d, const char *name)
{
	for (size_t i = 0; i < d->n_personas; i++)
		if (strcmp(d->personas[i].cfg->name, name) == 0)
			return &d->personas[i];
	return NULL;
}

/* Why a request is not allowed in the persona's state, and what to type. */
static void explain_state(struct tfd *d, const struct tfd_req_def *def,
			  const struct tfd_persona *p, struct tfd_reply *rep)
{
	const char *n = p->cfg->name;

	switch (p->state) {
	case TFD_P_STOPPED:
		if (p->cfg->credential)
			tfd_reply_err(rep, -ESRCH,
				      "%s is not running; unlock it with: "
				      "twofold unlock %s",
				      n, n);
		else
			tfd_reply_err(rep, -ESRCH,
				      "%s is stopped; start it with: twofold "
				      "persona start %s",
				      n, n);
		break;
	case TFD_P_RUNNING:
		if (def->type == TF_REQ_UNLOCK)
			tfd_reply_err(rep, -EALREADY, "%s is already unlocked",
				      n);
		else
			tfd_reply_err(rep, -EALREADY, "%s is already running",
				      n);
		break;
	case TFD_P_FROZEN:
	case TFD_P_EVICTED:
		if (def->type == TF_REQ_SWITCH) {
			tfd_reply_err(rep, -EACCES,
				      "%s is locked; unlock it first: twofold "
				      "unlock %s",
				      n, n);
			break;
		}
		if (p->evict_pending) {
			tfd_reply_err(rep, -EACCES,
				      "%s is locked (lock-down still removing "
				      "its key: %s); unlock it with: twofold "
				      "unlock %s",
				      n, tfd_evict_reason(p), n);
			break;
		}
		tfd_reply_err(rep, -EACCES,
			      "%s is locked; unlock it with: twofold unlock %s",
			      n, n);
		break;
	case TFD_P_NOKEY:
		tfd_reply_err(rep, -ENOKEY,
			      "%s has no credential yet; set one with: twofold "
			      "enroll %s",
			      n, n);
		break;
	case TFD_P_ERASED:
		/* the cause only when it was the counter (see
		 * tfd_erased_by_failures) */
		tfd_reply_err(rep, -ENOKEY,
			      "%s was crypto-erased%s; its data is gone", n,
			      tfd_erased_by_failures(d, p)
				      ? " after too many failed attempts"
				      : "");
		break;
	default:
		tfd_reply_err(rep, -EINVAL, "%s: %s not allowed now", n,
			      def->name);
	}
}

void tfd_dispatch(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m)
{
	const struct tfd_req_def *def = NULL;
	struct tfd_reply rep = {.exit_code = -1};
	struct tfd_persona *p = NULL;

	for (size_t i = 0; i < TF_ARRAY_SIZE(table); i++)
		if (table[i].type == m->type) {
			def = &table[i];
			break;
		}
	if (def == NULL) {
		tfd_reply_err(&rep, -EOPNOTSUPP, "unknown request type %u",
			      m->type);
		goto reply;
	}
	if (!(def->daemon_states & d->state)) {
		tfd_reply_err(&rep, -EAGAIN, "%s: twofoldd is %s", def->name,
			      d->state == TFD_STOPPING ? "shutting down"
						       : "starting");
		goto reply;
	}
	for (size_t i = 0; i < m->n_attrs; i++) {
		uint16_t t = m->attrs[i].type;
		if (t > 31 || !(def->attrs & A(t))) {
			tfd_reply_err(&rep, -EBADMSG,
				      "malformed request: %s does not take "
				      "attribute %u",
				      def->name, t);
			goto reply;
		}
	}
	if (def->persona) {
		const char *name = tf_msg_str(m, TF_A_PERSONA);
		if (name == NULL || tf_msg_count(m, TF_A_PERSONA) != 1) {
			tfd_reply_err(&rep, -EBADMSG,
				      "malformed request: %s needs one persona",
				      def->name);
			goto reply;
		}
		p = tf_name_valid(name) ? tfd_persona_find(d, name) : NULL;
		if (p == NULL) {
			char esc[80];
			tf_escape(name, strlen(name), esc, sizeof(esc));
			tfd_reply_err(&rep, -ENOENT,
				      "unknown persona '%s' (see: twofold "
				      "persona list)",
				      esc);
			goto reply;
		}
		if (!(def->persona_states & p->state)) {
			explain_state(d, def, p, &rep);
			goto reply;
		}
	}
	tf_debug("request %s from uid %u pid %d%s%s", def->name, c->uid, c->pid,
		 p ? " persona " : "", p ? p->cfg->name : "");
	def->fn(d, c, m, p, &rep);
	/* a lock, evict or stop may have taken the foreground's persona */
	tfd_foreground_settle(d);
	/* a handler that took over the connection (run) replies itself */
	if (rep.err == 1)
		goto out;
reply:
	if (rep.err < 0 && def != NULL)
		tf_info("%s: %s", def->name, rep.msg);
	if (rep.err < 0)
		tfd_audit_refused(d, c, def ? def->name : NULL, p, &rep);
	tfd_send_reply(c, TF_REP_RESULT, &rep);
	if (rep.after != NULL)
		rep.after(d, rep.after_p);
out:
	free(rep.text);
	free(rep.json);
}
