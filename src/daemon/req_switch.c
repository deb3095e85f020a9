/* SPDX-License-Identifier: ISC */
/* `twofold switch P` (cli/verb_switch.c): give P the foreground. */
#include <string.h>

#include "twofold/log.h"
#include "daemon.h"

enum tfd_disp tfd_req_switch(struct tfd *d, struct tfd_conn *c,
			     const struct tf_msg *m, struct tfd_persona *p,
			     struct tfd_reply *rep)
{
	/* the lifecycle table lets only a running persona get here: a
	 * locked one must never hold the foreground devices (foreground.c) */
	int r = tfd_foreground_move(d, p);

	if (r < 0) {
		tfd_reply_err(rep, r, "switch to %s incomplete: %s",
			      p->cfg->name, strerror(-r));
		return TFD_REPLY_NOW;
	}
	tfd_audit(d, 0, "persona.switch", p, c, NULL);
	tfd_reply_err(rep, 0, "%s is now foreground", p->cfg->name);
	return TFD_REPLY_NOW;
}
