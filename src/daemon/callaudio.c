/* SPDX-License-Identifier: ISC */
/*
 * A call keeps its sound card (issue 15: twofold-comms uses the audio
 * devices "when the persona has the foreground or a call is active";
 * docs/comms.md "In a persona, with a sound card").
 *
 * The call devices are the profile's TF_PROF_DEV_CALL ones (device.conf
 * [device] classes audio and microphone, and the /dev/snd pattern): foreground
 * devices, except while a persona's comms service reports an active call
 * on its channel (req_comms.c, "call active" / "call idle"). Then that
 * persona *holds* them, and at most one does:
 *
 *   holder, in the foreground  FOLLOW: as any foreground device
 *   holder, in the background  KEEP: only its comms service (its
 *                              keep-comms cgroup and TF_COMMS_UID, both
 *                              checked by the BPF device program) may
 *                              open them; revoke.c spares that service's
 *                              fds of them and kills every other holder
 *   every other persona        NONE: nobody, even in the foreground (a
 *                              phone in a call: personal gets no
 *                              microphone, so it cannot record the
 *                              officer's call)
 *   no holder                  FOLLOW
 *
 * The first persona whose call goes active while no other holds takes
 * them; a call that goes active while another holds gets nothing (its
 * service's open fails, the call goes on without a device). Taking them
 * from the foreground persona kills its processes that hold one, as a
 * switch away does (ALSA has no revoke): a call is the officer's choice
 * and wins over a personal app; logged and audited.
 *
 * Fail closed: a holder stops holding when its service says "call idle",
 * ends (exit, kill, restart), or its persona stops, locks down or halts;
 * then its processes that still hold a call device in the background are
 * killed, the comms service too (it closes its devices before it says
 * idle). A lock-down kills everything anyway (cgroup.kill).
 */
#include <string.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "daemon.h"

static bool can_hold(const struct tfd_persona *p)
{
	return p->call_active && p->cfg->comms && p->rt != NULL &&
	       !p->halt.active && tfd_svc_running(&p->comms) &&
	       p->comms.cgroup_id != 0 &&
	       (p->state & (TFD_P_RUNNING | TFD_P_FROZEN | TFD_P_FREEZING));
}

struct tfd_persona *tfd_callaudio_holder(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++)
		if (d->personas[i].call_audio)
			return &d->personas[i];
	return NULL;
}

static enum tf_persona_call mode_of(struct tfd *d, const struct tfd_persona *q)
{
	const struct tfd_persona *h = tfd_callaudio_holder(d);

	if (h == NULL)
		return TF_PERSONA_CALL_FOLLOW;
	if (h != q)
		return TF_PERSONA_CALL_NONE;
	return q->foreground ? TF_PERSONA_CALL_FOLLOW : TF_PERSONA_CALL_KEEP;
}

int tfd_callaudio_apply(struct tfd *d, struct tfd_persona *q)
{
	if (q->rt == NULL)
		return 0;
	return tf_persona_set_call_devices(q->rt, q->foreground, mode_of(d, q),
					   q->comms.cgroup_id,
					   q->cfg->uid_base + TF_COMMS_UID);
}

static void apply_all(struct tfd *d)
{
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *q = &d->personas[i];
		int r = tfd_callaudio_apply(d, q);

		if (r < 0)
			tf_warn("%s: setting who may open the sound devices: "
				"%s",
				q->cfg->name, strerror(-r));
	}
}

void tfd_callaudio_update(struct tfd *d)
{
	struct tfd_persona *h = NULL, *released = NULL, *claimed = NULL;

	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];

		if (p->call_audio && !can_hold(p)) {
			p->call_audio = false;
			released = p;
		}
		if (p->call_audio)
			h = p;
	}
	for (size_t i = 0; i < d->n_personas && h == NULL; i++)
		if (can_hold(&d->personas[i])) {
			h = claimed = &d->personas[i];
			h->call_audio = true;
		}
	if (released == NULL && claimed == NULL)
		return;
	/* narrow before anyone is killed: a holder killed now cannot open
	 * the device again in the moment after */
	apply_all(d);
	if (released != NULL) {
		tf_info("%s: its call ended: the sound devices follow the "
			"foreground again",
			released->cfg->name);
		tfd_audit(d, 0, "comms.call_audio", released, NULL, "holds=0");
		tfd_events_call(d, released, false);
		if (!released->foreground && released->rt != NULL)
			(void)tfd_revoke_call_fds(d, released);
	}
	if (claimed != NULL) {
		tf_info("%s: a call is active: its comms service holds the "
			"sound devices%s",
			claimed->cfg->name,
			claimed->foreground ? "" : " in the background");
		tfd_audit(d, 0, "comms.call_audio", claimed, NULL, "holds=1");
		tfd_events_call(d, claimed, true);
		/* a device its answer could not open (background, or
		 * another call held it then) opens now */
		if (tfd_svc_say(&claimed->comms, "audio yes\n") < 0)
			tf_warn("%s: telling twofold-comms its call has the "
				"sound devices failed",
				claimed->cfg->name);
		for (size_t i = 0; i < d->n_personas; i++) {
			struct tfd_persona *q = &d->personas[i];
			int r;

			if (q == claimed || q->rt == NULL)
				continue;
			r = tfd_revoke_call_fds(d, q);
			if (r > 0)
				tf_warn("%s: %d holder(s) of the sound devices "
					"killed: %s's call takes them",
					q->cfg->name, r, claimed->cfg->name);
		}
	}
}

void tfd_callaudio_report(struct tfd *d, struct tfd_persona *p, bool active)
{
	const struct tfd_persona *h;

	if (p->call_active == active)
		return;
	p->call_active = active;
	tfd_callaudio_update(d);
	h = tfd_callaudio_holder(d);
	if (active && h != p)
		tf_warn("%s: a call is active but gets no sound device: %s",
			p->cfg->name,
			h ? "another persona's call holds them"
			  : "its service cannot hold them (no keep-comms "
			    "cgroup "
			    "or not running)");
}
