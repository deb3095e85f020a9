/* SPDX-License-Identifier: ISC */
/*
 * CROSS_COPY_AUDIT (docs/shell.md "Clipboard"): the shell asks before each
 * half of its cross-persona gesture, and the daemon decides from
 * device.conf clipboard_flows and records the decision in its audit
 * chain. The daemon never sees the bytes: only who, where and how many.
 * The policy is the daemon's (it is the device's, like copy_flows), so a
 * shell cannot widen it, and a shell that gets no answer pastes nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/log.h"
#include "daemon.h"

bool tfd_clip_allowed(const struct tfd *d, const struct tfd_persona *from,
		      const struct tfd_persona *to)
{
	char want[2 * TF_NAME_MAX + 2], buf[TF_COPY_FLOWS_MAX];

	if (from == to)
		return false;
	/* unset: text may go into a credential persona from one without
	 * (an address, a case number), never out of one */
	if (d->cfg.clipboard_flows[0] == '\0')
		return !from->cfg->credential && to->cfg->credential;
	snprintf(want, sizeof(want), "%s:%s", from->cfg->name, to->cfg->name);
	snprintf(buf, sizeof(buf), "%s", d->cfg.clipboard_flows);
	for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save))
		if (strcmp(t, want) == 0)
			return true;
	return false;
}

/* PERSONA = the source, ARG[0] = the target ("-": the copy half, before
 * the shell reads a byte: may the source paste anywhere?), ARG[1] = the
 * byte count. TEXT "allowed" or "refused" (ERRNO 0 either way: a refusal
 * is the policy answering, not a failed request). */
enum tfd_disp tfd_req_cross_copy(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep)
{
	const char *from = tf_msg_str(m, TF_A_PERSONA);
	const char *to = NULL, *n = NULL;
	struct tfd_persona *fp, *tp = NULL;
	unsigned long long bytes;
	bool ok = false;
	char *end = NULL;

	(void)p;
	size_t k = 0;

	for (size_t i = 0; i < m->n_attrs; i++) {
		if (m->attrs[i].type != TF_A_ARG)
			continue;
		if (k == 0)
			to = (const char *)m->attrs[i].val;
		else if (k == 1)
			n = (const char *)m->attrs[i].val;
		k++;
	}
	fp = from && tf_name_valid(from) ? tfd_persona_find(d, from) : NULL;
	if (to && strcmp(to, "-") != 0)
		tp = tf_name_valid(to) ? tfd_persona_find(d, to) : NULL;
	bytes = n ? strtoull(n, &end, 10) : 0;
	if (k != 2 || !fp || !to || (strcmp(to, "-") != 0 && !tp) || !n ||
	    *n == '\0' || *end != '\0' || bytes > TF_MSG_MAX) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: cross copy needs a known "
			       "source persona, a target (or -) and a byte "
			       "count");
		return TFD_REPLY_NOW;
	}
	if (tp)
		ok = tfd_clip_allowed(d, fp, tp);
	else
		for (size_t i = 0; i < d->n_personas && !ok; i++)
			ok = tfd_clip_allowed(d, fp, &d->personas[i]);
	/* an allowed paste is synced before the shell acts on it (the
	 * text moves then); refusals and the copy half change nothing */
	tfd_audit(d, ok && tp ? TF_AUDIT_SYNC : 0, "clipboard.cross", fp, c,
		  "to=%s\tstep=%s\tverdict=%s\tbytes=%llu",
		  tp ? tp->cfg->name : "-", tp ? "paste" : "copy",
		  ok ? "allowed" : "refused", bytes);
	tf_info("cross copy %s -> %s: %s (%llu bytes)", fp->cfg->name,
		tp ? tp->cfg->name : "-", ok ? "allowed" : "refused", bytes);
	rep->text = strdup(ok ? "allowed" : "refused");
	if (!rep->text) {
		tfd_reply_err(rep, -ENOMEM, "cross copy: out of memory");
		return TFD_REPLY_NOW;
	}
	tfd_reply_err(rep, 0, "cross copy %s -> %s %s", fp->cfg->name,
		      tp ? tp->cfg->name : "-",
		      ok ? "allowed"
			 : "refused by device.conf clipboard_flows");
	return TFD_REPLY_NOW;
}
