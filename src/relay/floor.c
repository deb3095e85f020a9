/* SPDX-License-Identifier: ISC */
/*
 * Floor control of one talk group (floor.h). Pure: the relay calls it
 * under its group lock with its clock; tests drive it with a fake one.
 */
#include <errno.h>
#include <string.h>

#include "floor.h"

struct evs {
	struct tf_floor_ev *ev;
	int n;
};

static void emit(struct evs *e, uint8_t type, uint8_t reason, uint32_t member,
		 uint32_t burst, bool emergency, uint16_t position)
{
	/* callers size ev for TF_FLOOR_EVENTS_MAX, which bounds every path;
	 * the check keeps a miscount from writing past it */
	if (e->n >= TF_FLOOR_EVENTS_MAX)
		return;
	e->ev[e->n++] = (struct tf_floor_ev){
		.type = type,
		.reason = reason,
		.member = member,
		.burst = burst,
		.emergency = emergency,
		.position = position,
	};
}

void tf_floor_init(struct tf_floor *f, const struct tf_floor_cfg *cfg)
{
	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	if (f->cfg.queue_max > TF_FLOOR_QUEUE_MAX)
		f->cfg.queue_max = TF_FLOOR_QUEUE_MAX;
	f->talker = TF_FLOOR_NONE;
}

/* true when a outranks b: emergency, then priority, then earlier */
static bool outranks(bool a_em, uint8_t a_pri, uint64_t a_at, bool b_em,
		     uint8_t b_pri, uint64_t b_at)
{
	if (a_em != b_em)
		return a_em;
	if (a_pri != b_pri)
		return a_pri > b_pri;
	return a_at < b_at;
}

static bool preempts(const struct tf_floor *f, uint8_t priority, bool emergency)
{
	if (f->talker == TF_FLOOR_HELD)
		return false; /* someone elsewhere may still talk */
	if (emergency && !f->talker_emergency)
		return true;
	if (emergency != f->talker_emergency)
		return false;
	return f->cfg.preempt_priority != 0 &&
	       priority >= f->cfg.preempt_priority &&
	       priority > f->talker_priority;
}

static int queue_find(const struct tf_floor *f, uint32_t member)
{
	for (size_t i = 0; i < f->nq; i++)
		if (f->q[i].member == member)
			return (int)i;
	return -1;
}

static void queue_drop(struct tf_floor *f, size_t i)
{
	memmove(&f->q[i], &f->q[i + 1], (f->nq - i - 1) * sizeof(f->q[0]));
	f->nq--;
}

/* Insert in rank order; the position, or -1 when full. */
static int queue_insert(struct tf_floor *f, const struct tf_floor_req *r)
{
	size_t i = 0;

	if (f->nq >= f->cfg.queue_max)
		return -1;
	while (i < f->nq &&
	       !outranks(r->emergency, r->priority, r->at, f->q[i].emergency,
			 f->q[i].priority, f->q[i].at))
		i++;
	memmove(&f->q[i + 1], &f->q[i], (f->nq - i) * sizeof(f->q[0]));
	f->q[i] = *r;
	f->nq++;
	return (int)i;
}

static void grant(struct tf_floor *f, struct evs *e, uint64_t now,
		  uint32_t member, uint8_t priority, bool emergency)
{
	f->talker = member;
	f->talker_priority = priority;
	f->talker_emergency = emergency;
	f->granted_at = now;
	/* 0 means "any burst" to tf_floor_release: skip it on wrap */
	if (++f->burst == 0)
		f->burst = 1;
	emit(e, TF_FLOOR_GRANTED, TF_FLOOR_R_NONE, member, f->burst, emergency,
	     0);
}

/* The floor just became free: the head of the queue gets it, else idle. */
static void next_or_idle(struct tf_floor *f, struct evs *e, uint64_t now)
{
	f->talker = TF_FLOOR_NONE;
	if (f->nq > 0) {
		struct tf_floor_req r = f->q[0];
		queue_drop(f, 0);
		grant(f, e, now, r.member, r.priority, r.emergency);
		return;
	}
	emit(e, TF_FLOOR_IDLE, TF_FLOOR_R_NONE, TF_FLOOR_NONE, 0, false, 0);
}

static void revoke(struct tf_floor *f, struct evs *e, uint8_t reason)
{
	if (f->talker == TF_FLOOR_HELD) {
		f->talker = TF_FLOOR_NONE; /* nobody here to tell */
		return;
	}
	emit(e, TF_FLOOR_REVOKED, reason, f->talker, f->burst,
	     f->talker_emergency, 0);
	f->talker = TF_FLOOR_NONE;
}

int tf_floor_request(struct tf_floor *f, uint64_t now, uint32_t member,
		     uint8_t priority, bool emergency, struct tf_floor_ev *ev)
{
	struct evs e = {.ev = ev};
	struct tf_floor_req r = {member, priority, emergency, now};
	int qi, pos;

	if (member == TF_FLOOR_NONE)
		return 0;
	if (f->talker == member) {
		/* a retransmitted press, or an escalation to emergency: the
		 * burst goes on, its limit now the emergency one */
		if (emergency && !f->talker_emergency)
			f->talker_emergency = true;
		emit(&e, TF_FLOOR_GRANTED, TF_FLOOR_R_NONE, member, f->burst,
		     f->talker_emergency, 0);
		return e.n;
	}
	qi = queue_find(f, member);
	if (qi >= 0) {
		/* re-rank only when the request got stronger; keep its
		 * original time so a repeat never loses its place */
		if (!emergency && priority <= f->q[qi].priority) {
			emit(&e, TF_FLOOR_QUEUED, TF_FLOOR_R_NONE, member, 0,
			     f->q[qi].emergency, (uint16_t)qi);
			return e.n;
		}
		r.at = f->q[qi].at;
		r.emergency = emergency || f->q[qi].emergency;
		r.priority = priority > f->q[qi].priority ? priority
							  : f->q[qi].priority;
		queue_drop(f, (size_t)qi);
	}
	if (f->talker == TF_FLOOR_NONE) {
		grant(f, &e, now, member, r.priority, r.emergency);
		return e.n;
	}
	if (preempts(f, r.priority, r.emergency)) {
		revoke(f, &e, TF_FLOOR_R_PREEMPTED);
		grant(f, &e, now, member, r.priority, r.emergency);
		return e.n;
	}
	pos = queue_insert(f, &r);
	if (pos < 0)
		emit(&e, TF_FLOOR_DENIED, TF_FLOOR_R_BUSY, member, 0,
		     r.emergency, 0);
	else
		emit(&e, TF_FLOOR_QUEUED, TF_FLOOR_R_NONE, member, 0,
		     r.emergency, (uint16_t)pos);
	return e.n;
}

int tf_floor_release(struct tf_floor *f, uint64_t now, uint32_t member,
		     uint32_t burst, struct tf_floor_ev *ev)
{
	struct evs e = {.ev = ev};
	int qi;

	if (member != TF_FLOOR_NONE && f->talker == member &&
	    (burst == 0 || burst == f->burst)) {
		emit(&e, TF_FLOOR_RELEASED, TF_FLOOR_R_NONE, member, f->burst,
		     f->talker_emergency, 0);
		next_or_idle(f, &e, now);
		return e.n;
	}
	qi = queue_find(f, member);
	if (qi >= 0) {
		emit(&e, TF_FLOOR_DENIED, TF_FLOOR_R_CANCELLED, member, 0,
		     f->q[qi].emergency, 0);
		queue_drop(f, (size_t)qi);
	}
	return e.n;
}

int tf_floor_remove(struct tf_floor *f, uint64_t now, uint32_t member,
		    struct tf_floor_ev *ev)
{
	struct evs e = {.ev = ev};
	int qi;

	if (member == TF_FLOOR_NONE)
		return 0;
	qi = queue_find(f, member);
	if (qi >= 0) {
		emit(&e, TF_FLOOR_DENIED, TF_FLOOR_R_LEFT, member, 0,
		     f->q[qi].emergency, 0);
		queue_drop(f, (size_t)qi);
	}
	if (f->talker == member) {
		revoke(f, &e, TF_FLOOR_R_LEFT);
		next_or_idle(f, &e, now);
	}
	return e.n;
}

int tf_floor_hold(struct tf_floor *f, uint64_t now, uint64_t until)
{
	if (f->talker != TF_FLOOR_NONE && f->talker != TF_FLOOR_HELD)
		return -EBUSY;
	f->talker = TF_FLOOR_HELD;
	f->talker_emergency = false;
	f->talker_priority = 0;
	f->granted_at = now;
	f->held_until = until;
	return 0;
}

static uint64_t talk_limit(const struct tf_floor *f)
{
	if (f->talker == TF_FLOOR_HELD)
		return f->held_until;
	uint32_t ms = f->talker_emergency ? f->cfg.emergency_talk_ms
					  : f->cfg.max_talk_ms;

	return ms == 0 ? UINT64_MAX : f->granted_at + ms;
}

uint64_t tf_floor_deadline(const struct tf_floor *f)
{
	uint64_t d = UINT64_MAX;

	if (f->talker != TF_FLOOR_NONE)
		d = talk_limit(f);
	for (size_t i = 0; f->cfg.queue_ms != 0 && i < f->nq; i++)
		if (f->q[i].at + f->cfg.queue_ms < d)
			d = f->q[i].at + f->cfg.queue_ms;
	return d;
}

int tf_floor_tick(struct tf_floor *f, uint64_t now, struct tf_floor_ev *ev)
{
	struct evs e = {.ev = ev};

	/* lapsed requests first, so the next grant goes to someone who is
	 * still waiting */
	for (size_t i = 0; f->cfg.queue_ms != 0 && i < f->nq;) {
		if (now >= f->q[i].at + f->cfg.queue_ms) {
			emit(&e, TF_FLOOR_DENIED, TF_FLOOR_R_TIMEOUT,
			     f->q[i].member, 0, f->q[i].emergency, 0);
			queue_drop(f, i);
			continue;
		}
		i++;
	}
	if (f->talker != TF_FLOOR_NONE && now >= talk_limit(f)) {
		revoke(f, &e, TF_FLOOR_R_MAX_TIME);
		next_or_idle(f, &e, now);
	}
	return e.n;
}

const char *tf_floor_ev_name(unsigned type)
{
	switch (type) {
	case TF_FLOOR_GRANTED: return "granted";
	case TF_FLOOR_QUEUED: return "queued";
	case TF_FLOOR_DENIED: return "denied";
	case TF_FLOOR_REVOKED: return "revoked";
	case TF_FLOOR_RELEASED: return "released";
	case TF_FLOOR_IDLE: return "idle";
	default: return "unknown";
	}
}

const char *tf_floor_reason_name(unsigned reason)
{
	switch (reason) {
	case TF_FLOOR_R_NONE: return "";
	case TF_FLOOR_R_BUSY: return "the floor is taken and the queue full";
	case TF_FLOOR_R_PREEMPTED:
		return "pre-empted by a higher-priority "
		       "talker";
	case TF_FLOOR_R_MAX_TIME: return "maximum talk time reached";
	case TF_FLOOR_R_LEFT: return "left the group";
	case TF_FLOOR_R_TIMEOUT: return "waited too long in the queue";
	case TF_FLOOR_R_CANCELLED: return "released while queued";
	case TF_FLOOR_R_MOVED:
		return "the group moved to another relay; press again";
	default: return "unknown";
	}
}
