/* SPDX-License-Identifier: ISC */
/*
 * The dispatch table (OpenSSH monitor.c's mon_dispatch pattern): the daemon
 * answers only the request types listed here. Each entry says in which
 * daemon states it is allowed, whether it names a persona and which
 * lifecycle event it is for that persona (the lifecycle table in
 * lifecycle.c says in which persona states that event is allowed, and what
 * to type when it is not), which attributes it may carry, and who may
 * ask it (TFD_CALL_*, daemon.h; docs/twofoldd.8.md "Callers"). Everything
 * else is refused before any handler runs, with a message that says what
 * to do.
 */
#include <stdio.h>
#include <string.h>

#include "twofold/log.h"
#include "daemon.h"

/* Attribute sets are 64-bit: every attribute id the protocol defines must
 * fit (a new one past 63 widens this to a bitmap). */
_Static_assert(TF_A_ATTR_MAX < 64, "attribute masks hold ids 0..63");
#define A(x) (UINT64_C(1) << (x))

struct tfd_req_def {
	uint16_t type;
	const char *name;
	tfd_handler fn;
	unsigned daemon_states;
	bool persona;	   /* TF_A_PERSONA required */
	enum tfd_event ev; /* its event in the persona's lifecycle */
	uint64_t attrs;	   /* allowed attributes */
	/* who may ask: USER is what a user-level shell needs (read, switch,
	 * lock — always safe —, run apps in a running persona, never as its
	 * uid 0: req_run.c refuses that for everyone, and watch); ADMIN what
	 * changes keys, data or which personas run */
	unsigned callers;
};

#define USER TFD_CALL_USER
#define ADMIN TFD_CALL_ADMIN

static const struct tfd_req_def table[] = {
	{TF_REQ_PING, "ping", tfd_req_ping, TFD_READY, false, 0, 0, USER},
	{TF_REQ_STATUS, "status", tfd_req_status, TFD_READY, false, 0,
	 A(TF_A_FLAGS), USER},
	{TF_REQ_PERSONA_START, "start", tfd_req_start, TFD_READY, true,
	 TFD_EV_START, A(TF_A_PERSONA), ADMIN},
	{TF_REQ_PERSONA_STOP, "stop", tfd_req_stop, TFD_READY, true,
	 TFD_EV_STOP, A(TF_A_PERSONA), ADMIN},
	{TF_REQ_PERSONA_RESTART, "restart", tfd_req_restart, TFD_READY, true,
	 TFD_EV_RESTART, A(TF_A_PERSONA), ADMIN},
	{TF_REQ_RUN, "run", tfd_req_run, TFD_READY, true, TFD_EV_RUN,
	 A(TF_A_PERSONA) | A(TF_A_ARG) | A(TF_A_ENV) | A(TF_A_CWD) |
		 A(TF_A_UID) | A(TF_A_FLAGS),
	 USER},
	{TF_REQ_SIGNAL, "signal", tfd_req_signal, TFD_READY, false, 0,
	 A(TF_A_SIGNAL), USER},
	{TF_REQ_SWITCH, "switch", tfd_req_switch, TFD_READY, true,
	 TFD_EV_SWITCH, A(TF_A_PERSONA), USER},
	{TF_REQ_ENROLL, "enroll", tfd_req_enroll, TFD_READY, true,
	 TFD_EV_ENROLL,
	 A(TF_A_PERSONA) | A(TF_A_SECRET) | A(TF_A_SECRET_NEW) | A(TF_A_FLAGS),
	 ADMIN},
	{TF_REQ_UNLOCK, "unlock", tfd_req_unlock, TFD_READY, true,
	 TFD_EV_UNLOCK, A(TF_A_PERSONA) | A(TF_A_SECRET), ADMIN},
	{TF_REQ_LOCK, "lock", tfd_req_lock, TFD_READY, true, TFD_EV_LOCK,
	 A(TF_A_PERSONA) | A(TF_A_FLAGS), USER},
	{TF_REQ_WIPE, "wipe", tfd_req_wipe, TFD_READY, true, TFD_EV_WIPE,
	 A(TF_A_PERSONA), ADMIN},
	{TF_REQ_SUBSCRIBE, "subscribe", tfd_req_subscribe, TFD_READY, false, 0,
	 A(TF_A_FLAGS), USER},
	/* read-only; the persona of tunnel key is optional (its handler
	 * picks the first tunnel persona), so not the table's column */
	{TF_REQ_NET_STATUS, "net status", tfd_req_net_status, TFD_READY, false,
	 0, 0, USER},
	{TF_REQ_TUNNEL_KEY, "tunnel key", tfd_req_tunnel_key, TFD_READY, false,
	 0, A(TF_A_PERSONA), USER},
	/* apps: mounted into the running persona (docs/packages.md) */
	{TF_REQ_APP_INSTALL, "app install", tfd_req_app_install, TFD_READY,
	 true, TFD_EV_RUN, A(TF_A_PERSONA), ADMIN},
	{TF_REQ_APP_LIST, "app list", tfd_req_app_list, TFD_READY, false, 0,
	 A(TF_A_PERSONA), USER},
	{TF_REQ_APP_REMOVE, "app remove", tfd_req_app_remove, TFD_READY, true,
	 TFD_EV_RUN, A(TF_A_PERSONA) | A(TF_A_ARG), ADMIN},
	/* the destination persona must be running (its Inbox is in its
	 * mounted storage): the run event's states */
	{TF_REQ_COPY, "copy", tfd_req_copy, TFD_READY, true, TFD_EV_RUN,
	 A(TF_A_PERSONA) | A(TF_A_ARG), ADMIN},
	/* what may run in it is root's to decide, not the shell's: the
	 * running persona's gate takes the record */
	{TF_REQ_EXEC_SEAL, "exec seal", tfd_req_exec_seal, TFD_READY, true,
	 TFD_EV_RUN, A(TF_A_PERSONA), TFD_CALL_ROOT},
	/* urgent alerts (alert.c): anyone who can post could make the
	 * shell draw a card, so root only (the UDP port checks the same
	 * signature); the body only for a running (unlocked) persona */
	{TF_REQ_ALERT_POST, "alert post", tfd_req_alert_post, TFD_READY, false,
	 0, A(TF_A_ARG), TFD_CALL_ROOT},
	{TF_REQ_ALERT_BODY, "alert body", tfd_req_alert_body, TFD_READY, true,
	 TFD_EV_RUN, A(TF_A_PERSONA), TFD_CALL_ADMIN},
	/* notifications (notify.c): the text is the shell's to draw; the
	 * handler finds the persona itself (a stopped one answers with
	 * nothing kept) and redacts a credential persona's unless it is
	 * unlocked and in front */
	{TF_REQ_NOTIFY_GET, "notify get", tfd_req_notify_get, TFD_READY, false,
	 0, A(TF_A_PERSONA) | A(TF_A_ARG), TFD_CALL_ADMIN},
	/* the shell's cross-persona paste: the shell alone makes the
	 * gesture (root has no clipboard to move), so only its uid */
	{TF_REQ_CROSS_COPY_AUDIT, "cross copy", tfd_req_cross_copy, TFD_READY,
	 false, 0, A(TF_A_PERSONA) | A(TF_A_ARG), TFD_CALL_SHELL},
	/* twofold-comms (req_comms.c): provisioning writes keys into the
	 * persona's storage, so root only and the handler wants it running;
	 * status also while it is locked (the service keeps running) */
	{TF_REQ_COMMS, "comms", tfd_req_comms, TFD_READY, false, 0,
	 A(TF_A_PERSONA) | A(TF_A_ARG) | A(TF_A_FLAGS), TFD_CALL_ROOT},
};

struct tfd_persona *tfd_persona_find(struct tfd *d, const char *name)
{
	for (size_t i = 0; i < d->n_personas; i++)
		if (strcmp(d->personas[i].cfg->name, name) == 0)
			return &d->personas[i];
	return NULL;
}

struct tfd_persona *tfd_persona_lookup(struct tfd *d, const char *name,
				       struct tfd_reply *rep)
{
	struct tfd_persona *p =
		tf_name_valid(name) ? tfd_persona_find(d, name) : NULL;
	char esc[80];

	if (p != NULL)
		return p;
	tf_escape(name, strlen(name), esc, sizeof(esc));
	tfd_reply_fail(rep, -ENOENT, TF_R_PERSONA_UNKNOWN, esc,
		       "unknown persona '%s' (see: twofold persona list)", esc);
	return NULL;
}

bool tfd_streams_open(FILE **t, char **text, size_t *tlen, FILE **j,
		      char **json, size_t *jlen)
{
	*t = open_memstream(text, tlen);
	*j = open_memstream(json, jlen);
	if (*t && *j)
		return true;
	if (*t)
		fclose(*t);
	if (*j)
		fclose(*j);
	free(*text);
	free(*json);
	*text = *json = NULL;
	return false;
}

void tfd_dispatch(struct tfd *d, struct tfd_conn *c, const struct tf_msg *m)
{
	const struct tfd_req_def *def = NULL;
	struct tfd_reply rep = {.exit_code = -1};
	struct tfd_persona *p = NULL;
	enum tfd_disp disp;

	for (size_t i = 0; i < TF_ARRAY_SIZE(table); i++)
		if (table[i].type == m->type) {
			def = &table[i];
			break;
		}
	if (def == NULL) {
		tfd_reply_fail(&rep, -EOPNOTSUPP, TF_R_REQUEST_UNKNOWN, NULL,
			       "unknown request type %u", m->type);
		goto reply;
	}
	/* who may ask: the sender's class (server.c peer_allowed) */
	if (!(def->callers & c->caller)) {
		tfd_reply_fail(&rep, -EPERM, TF_R_REQUEST_DENIED, NULL,
			       "%s: permission denied: only root%s may ask "
			       "this (members of group %s may ask status, "
			       "net status, tunnel key, "
			       "switch, lock and run)",
			       def->name,
			       d->cfg.shell_uid ? " or the shell" : "",
			       d->cfg.control_group);
		goto reply;
	}
	/* one outstanding request per connection (the CLI sends one and
	 * waits); signal goes to a running app, which has none */
	if (c->waiting) {
		tfd_reply_fail(&rep, -EBUSY, TF_R_DAEMON_BUSY, NULL,
			       "%s: busy: this connection's previous request "
			       "is still being answered",
			       def->name);
		goto reply;
	}
	if (!(def->daemon_states & d->state)) {
		tfd_reply_fail(&rep, -EAGAIN,
			       d->state == TFD_STOPPING ? TF_R_DAEMON_STOPPING
							: TF_R_DAEMON_STARTING,
			       NULL, "%s: twofoldd is %s", def->name,
			       d->state == TFD_STOPPING ? "shutting down"
							: "starting");
		goto reply;
	}
	for (size_t i = 0; i < m->n_attrs; i++) {
		uint16_t t = m->attrs[i].type;
		if (t >= 64 || !(def->attrs & A(t))) {
			tfd_reply_fail(&rep, -EBADMSG, TF_R_REQUEST_MALFORMED,
				       NULL,
				       "malformed request: %s does not take "
				       "attribute %u",
				       def->name, t);
			goto reply;
		}
	}
	if (def->persona) {
		const char *name = tf_msg_str(m, TF_A_PERSONA);
		if (name == NULL || tf_msg_count(m, TF_A_PERSONA) != 1) {
			tfd_reply_fail(
				&rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
				"malformed request: %s needs one persona",
				def->name);
			goto reply;
		}
		p = tfd_persona_lookup(d, name, &rep);
		if (p == NULL)
			goto reply;
		if (!tfd_lc_allowed(p, def->ev)) {
			tfd_lc_refuse(d, p, def->ev, &rep);
			goto reply;
		}
	}
	tf_debug("request %s from uid %u pid %d%s%s", def->name, c->uid, c->pid,
		 p ? " persona " : "", p ? p->cfg->name : "");
	disp = def->fn(d, c, m, p, &rep);
	/* a lock, evict or stop may have taken the foreground's persona */
	tfd_foreground_settle(d);
	/* the handler keeps the connection: it answers from the completion
	 * of its job or stop (or, for run, at the app's exit) */
	if (disp == TFD_REPLY_LATER) {
		free(rep.text);
		free(rep.json);
		return;
	}
reply:
	if (rep.err < 0 && def != NULL)
		tf_info("%s: %s", def->name, rep.msg);
	if (rep.err < 0)
		tfd_audit_refused(d, c, def ? def->name : NULL, p, &rep);
	tfd_conn_reply(d, c, &rep);
}
