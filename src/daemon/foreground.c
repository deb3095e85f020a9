/* SPDX-License-Identifier: ISC */
/*
 * Who holds the foreground (device access + cpu_weight), as one rule:
 * the foreground is always a RUNNING persona, or none when none runs.
 *
 *  - `switch P` to a persona that is not running (locked, stopped, no
 *    credential) is refused by the dispatch table; unlock or start it
 *    first. A locked persona therefore never gets the foreground devices.
 *  - When the foreground persona stops running (screen lock = freeze,
 *    evict, stop, its init dies), tfd_foreground_settle moves the
 *    foreground to another running persona: the configured `foreground`
 *    one (personal by default) if it runs, else the first that does.
 *    Unlocking does not take the foreground back; `switch` does.
 *
 * Every move puts the old foreground in the background first (so no
 * instant has two), then revokes what its processes still hold open of
 * the foreground devices (revoke.c): the device cgroup only checks opens.
 * A persona whose call holds the sound devices (callaudio.c) keeps them
 * for its comms service alone; the new foreground gets none of them
 * while that call lasts.
 */
#include <string.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "daemon.h"

int tfd_foreground_move(struct tfd *d, struct tfd_persona *to)
{
	const struct tfd_persona *before = NULL;
	int r, first = 0;

	for (size_t i = 0; i < d->n_personas && before == NULL; i++)
		if (d->personas[i].foreground)
			before = &d->personas[i];
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < d->n_personas; i++) {
			struct tfd_persona *q = &d->personas[i];
			bool fg = q == to, was = q->foreground;
			if (fg != (pass == 1))
				continue;
			q->foreground = fg;
			if (q->rt == NULL)
				continue;
			/* with who may open the sound devices: a call
			 * holding them keeps them in the background */
			r = tfd_callaudio_apply(d, q);
			if (r < 0 && first == 0)
				first = r;
			if (!fg && was) {
				r = tfd_revoke_foreground_fds(d, q);
				if (r < 0)
					tf_warn("%s: revoking its foreground "
						"device fds: %s",
						q->cfg->name, strerror(-r));
			}
		}
	if (before != to) {
		tfd_events_foreground(d, to);
		tfd_comms_foreground(d);
	}
	return first;
}

static bool runs(const struct tfd_persona *p)
{
	return p->state == TFD_P_RUNNING && p->rt != NULL;
}

void tfd_foreground_settle(struct tfd *d)
{
	struct tfd_persona *fg = NULL, *to = NULL;
	int r;

	for (size_t i = 0; i < d->n_personas; i++)
		if (d->personas[i].foreground && fg == NULL)
			fg = &d->personas[i];
	if (fg != NULL && runs(fg))
		return;
	for (size_t i = 0; i < d->n_personas && to == NULL; i++)
		if (runs(&d->personas[i]) &&
		    strcmp(d->personas[i].cfg->name, d->cfg.foreground) == 0)
			to = &d->personas[i];
	for (size_t i = 0; i < d->n_personas && to == NULL; i++)
		if (runs(&d->personas[i]))
			to = &d->personas[i];
	if (fg == NULL && to == NULL)
		return;
	r = tfd_foreground_move(d, to);
	if (r < 0)
		tf_warn("moving the foreground%s%s: %s", to ? " to " : "",
			to ? to->cfg->name : "", strerror(-r));
	if (fg != NULL)
		tf_info("%s is %s: the foreground moved to %s", fg->cfg->name,
			tfd_pstate_name(fg->state),
			to ? to->cfg->name : "none");
}
