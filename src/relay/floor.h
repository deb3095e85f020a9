/* SPDX-License-Identifier: ISC */
/*
 * Floor control of one talk group (issue 15 "push-to-talk", 3GPP MCPTT's
 * floor control in miniature): who may talk, who waits, who is cut off.
 * A pure state machine: no I/O, no clock of its own (every call takes
 * `now` in milliseconds of a monotonic clock), no locking. The relay that
 * owns the group keeps one per group and calls it under whatever lock
 * guards that group; everything it must tell devices comes back as a list
 * of events. Members are small integers the caller chose (its index into
 * the signed roster the members registered).
 *
 *   IDLE --request--> TAKEN(talker)             (GRANTED)
 *   TAKEN --request, higher-ranked, pre-emptive--> TAKEN(new)
 *                                               (REVOKED old, GRANTED new)
 *   TAKEN --request--> TAKEN, requester queued  (QUEUED) or DENIED
 *   TAKEN --release / max talk time / remove--> next in queue or IDLE
 *                                               (RELEASED|REVOKED,
 *                                                GRANTED|IDLE)
 *
 * Rank: an emergency request outranks every ordinary one, then the
 * higher priority (0..255), then the earlier request. A request
 * pre-empts the talker when it is an emergency and the talker's is not,
 * or when its priority is >= cfg.preempt_priority and above the
 * talker's. A pre-empted talker is not re-queued: it must press again
 * (MCPTT does the same; a silently resumed burst surprises listeners).
 *
 * The invariant the contention test and fuzz/fuzz_floor.c check: at most
 * one talker at any moment, a GRANTED event only when the floor was free
 * or its talker was revoked in the same call, never a member both
 * talking and queued, the queue in rank order without duplicates.
 */
#ifndef TWOFOLD_RELAY_FLOOR_H
#define TWOFOLD_RELAY_FLOOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_FLOOR_QUEUE_MAX 32
#define TF_FLOOR_NONE UINT32_MAX
/* the floor is held by nobody known (tf_floor_hold): a relay that just
 * took over a group across relays (gnats.c) cannot know whether the old
 * owner's last grant still runs, so it grants nothing until the hold
 * ends; requests queue meanwhile and no emergency pre-empts it */
#define TF_FLOOR_HELD (UINT32_MAX - 1)
/* the most events one call can produce: revoke + grant + idle + a
 * denial or queueing of the caller + a queued one timing out per slot */
#define TF_FLOOR_EVENTS_MAX (4 + TF_FLOOR_QUEUE_MAX)

struct tf_floor_cfg {
	uint32_t max_talk_ms;	    /* ordinary burst; 0: no limit */
	uint32_t emergency_talk_ms; /* emergency burst; 0: no limit */
	uint32_t queue_ms; /* a queued request lapses after it; 0 never */
	uint8_t queue_max; /* 0: no queue, busy means denied */
	uint8_t preempt_priority; /* 0: only emergencies pre-empt */
};

enum tf_floor_ev_type {
	TF_FLOOR_GRANTED = 1,  /* member may talk, burst is its number */
	TF_FLOOR_QUEUED = 2,   /* member waits at position (0 = next) */
	TF_FLOOR_DENIED = 3,   /* request refused (reason) */
	TF_FLOOR_REVOKED = 4,  /* member's floor taken away (reason) */
	TF_FLOOR_RELEASED = 5, /* member let go */
	TF_FLOOR_IDLE = 6,     /* nobody talks, nobody waits */
};

enum tf_floor_reason {
	TF_FLOOR_R_NONE = 0,
	TF_FLOOR_R_BUSY = 1,	  /* taken and no queue (or queue full) */
	TF_FLOOR_R_PREEMPTED = 2, /* a higher-ranked request took it */
	TF_FLOOR_R_MAX_TIME = 3,  /* maximum talk time reached */
	TF_FLOOR_R_LEFT = 4,	  /* the member left (offline, removed) */
	TF_FLOOR_R_TIMEOUT = 5,	  /* queued too long */
	TF_FLOOR_R_CANCELLED = 6, /* member released while still queued */
	TF_FLOOR_R_MOVED = 7,	  /* the group moved to another relay */
};

struct tf_floor_ev {
	uint8_t type;	/* enum tf_floor_ev_type */
	uint8_t reason; /* enum tf_floor_reason */
	uint8_t emergency;
	uint16_t position; /* QUEUED */
	uint32_t member;   /* TF_FLOOR_NONE for IDLE */
	uint32_t burst;	   /* GRANTED, REVOKED, RELEASED */
};

struct tf_floor_req {
	uint32_t member;
	uint8_t priority;
	bool emergency;
	uint64_t at; /* ms, when requested */
};

struct tf_floor {
	struct tf_floor_cfg cfg;
	uint32_t talker; /* TF_FLOOR_NONE: idle */
	uint8_t talker_priority;
	bool talker_emergency;
	uint64_t granted_at;
	uint32_t burst;	     /* number of the last grant (0: none yet) */
	uint64_t held_until; /* talker TF_FLOOR_HELD: when the hold ends */
	size_t nq;
	struct tf_floor_req q[TF_FLOOR_QUEUE_MAX]; /* rank order */
};

/* Writes events into ev (room for TF_FLOOR_EVENTS_MAX always suffices);
 * each call returns how many it wrote (>= 0). */
void tf_floor_init(struct tf_floor *f, const struct tf_floor_cfg *cfg);
/* A press. A repeated request of the talker (a retransmission) answers
 * GRANTED again with the same burst; of a queued member, QUEUED again. */
int tf_floor_request(struct tf_floor *f, uint64_t now, uint32_t member,
		     uint8_t priority, bool emergency, struct tf_floor_ev *ev);
/* A release: of the talker (RELEASED, then the next grant or IDLE), of a
 * queued member (its request withdrawn: DENIED/CANCELLED), else nothing.
 * burst 0 matches any; otherwise a release of another burst than the
 * current one (a late retransmission) is ignored. */
int tf_floor_release(struct tf_floor *f, uint64_t now, uint32_t member,
		     uint32_t burst, struct tf_floor_ev *ev);
/* The member is gone (offline, removed from the roster): revoked if it
 * talks, dropped from the queue. */
int tf_floor_remove(struct tf_floor *f, uint64_t now, uint32_t member,
		    struct tf_floor_ev *ev);
/* The clock: maximum talk time, queue timeouts. Call at tf_floor_deadline
 * or later (calling early is harmless). */
int tf_floor_tick(struct tf_floor *f, uint64_t now, struct tf_floor_ev *ev);
/* Hold an idle floor until the clock reaches until (ms): the queue
 * fills, nothing is granted; then the head of the queue gets it, or IDLE.
 * until <= now on a held floor ends the hold at the next tick. Returns
 * -EBUSY when someone talks (nothing changed). */
int tf_floor_hold(struct tf_floor *f, uint64_t now, uint64_t until);
/* When tf_floor_tick next has something to do; UINT64_MAX: never. */
uint64_t tf_floor_deadline(const struct tf_floor *f);

static inline bool tf_floor_taken(const struct tf_floor *f)
{
	return f->talker != TF_FLOOR_NONE;
}

const char *tf_floor_ev_name(unsigned type);
const char *tf_floor_reason_name(unsigned reason);

#endif
