/* SPDX-License-Identifier: ISC */
/*
 * Talk groups on the relay (group.h): membership from signed rosters,
 * floor control, fan-out of SFrame frames. The relay checks a roster
 * fully (CA, deny-list, role, signature, epoch) before it routes by it,
 * though members check it again themselves: a relay is not trusted to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "req.h"
#include "twofold/sframe.h"

#define OP_ERROR 0x7f
enum {
	GERR_BAD = 1,
	GERR_ROSTER = 5,
	GERR_MEMBER = 6,
	GERR_TALKER = 7,
	GERR_FULL = 3,
};
#define PT_MAX 1400

struct group {
	struct tf_roster *roster; /* NULL: slot free */
	uint8_t *wire;		  /* the roster as signed (ROSTER_GET) */
	size_t wire_len;
	struct tf_floor floor;
	uint32_t sess[TF_ROSTER_MAX]; /* by roster index, when online[] */
	bool online[TF_ROSTER_MAX];
	uint64_t kid; /* of the last frame forwarded (late entry) */
	/* The roster before this one, for RELAY_GROUP_GRACE_MS after it was
	 * replaced: a talker's frames sealed under the old epoch are still
	 * in flight, under its index in the old roster, which a join or
	 * leave before it in the sort order shifts. prev[i] is the old
	 * index of the member at index i now (PREV_NONE: it was not in the
	 * old roster). Only this one table: an epoch older than the previous
	 * one is refused, so memory stays bounded. */
	uint64_t prev_epoch; /* 0: none */
	uint64_t prev_until_ms;
	uint16_t prev[TF_ROSTER_MAX];
};
#define PREV_NONE UINT16_MAX
_Static_assert(TF_ROSTER_MAX < PREV_NONE, "roster index fits in prev[]");

/* A roster larger than one datagram arrives in pieces: one upload in
 * progress per session, bounded in size and in number. */
#define UPLOADS_MAX 64
struct upload {
	uint32_t sess;
	uint8_t *buf; /* NULL: slot free */
	size_t total, have;
};

struct relay_groups {
	struct upload up[UPLOADS_MAX];
	size_t evict; /* the next upload slot taken when all are in use */
	const struct tf_cert_anchor *ca;
	const struct tf_denylist *dl;
	struct tf_floor_cfg fcfg;
	relay_send_fn send;
	relay_fan_fn fan; /* NULL: one relay, every member is local */
	void *ctx;
	struct group g[RELAY_GROUPS_MAX];
};

int relay_groups_new(const struct tf_cert_anchor *ca,
		     const struct tf_floor_cfg *floor, relay_send_fn send,
		     void *ctx, struct relay_groups **out)
{
	struct relay_groups *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return -ENOMEM;
	g->ca = ca;
	g->fcfg = *floor;
	g->send = send;
	g->ctx = ctx;
	*out = g;
	return 0;
}

void relay_groups_free(struct relay_groups *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++) {
		free(g->g[i].roster);
		free(g->g[i].wire);
	}
	for (size_t i = 0; i < UPLOADS_MAX; i++)
		free(g->up[i].buf);
	free(g);
}

void relay_groups_set_denylist(struct relay_groups *g,
			       const struct tf_denylist *dl)
{
	g->dl = dl;
}

static void send_err(struct relay_groups *g, uint32_t sess, uint8_t code,
		     const char *what, const char *why)
{
	uint8_t b[160];
	int n = snprintf((char *)b + 2, sizeof(b) - 2, "%s: %s", what, why);

	b[0] = OP_ERROR;
	b[1] = code;
	if (n < 0)
		return;
	if ((size_t)n > sizeof(b) - 3)
		n = (int)sizeof(b) - 3;
	g->send(g->ctx, sess, b, (size_t)n + 2);
}

static size_t put_name(uint8_t *p, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	p[0] = (uint8_t)n;
	if (n)
		memcpy(p + 1, name, n);
	return 1 + n;
}

static void put_u(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_u(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static struct group *group_find(struct relay_groups *g, const char *id)
{
	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++)
		if (g->g[i].roster && !strcmp(g->g[i].roster->group, id))
			return &g->g[i];
	return NULL;
}

static int member_index(const struct group *gr, const struct relay_member *m)
{
	int i = tf_roster_find(gr->roster, m->officer, m->device);

	return i >= 0 && gr->online[i] && gr->sess[i] == m->sess ? i : -1;
}

/* Local members one by one; the members on other relays (session ids
 * with RELAY_VSESS set, gnats.c) with one fan-out for all of them, which
 * each relay hands to its own members: one NATS message per frame and
 * relay, not per member. */
static void to_online(struct relay_groups *g, struct group *gr,
		      const uint8_t *b, size_t n, int except)
{
	bool remote = false;

	for (size_t i = 0; i < gr->roster->n; i++) {
		if (!gr->online[i] || (int)i == except)
			continue;
		if (g->fan != NULL && (gr->sess[i] & RELAY_VSESS))
			remote = true;
		else
			g->send(g->ctx, gr->sess[i], b, n);
	}
	if (remote)
		g->fan(g->ctx, gr->roster->group, b, n,
		       except >= 0 ? gr->sess[except] : 0);
}

/* Floor events to the devices: the ones about the floor as a whole to
 * every online member (so each shows who talks), a QUEUED/DENIED only
 * to the one who asked. */
static void floor_emit(struct relay_groups *g, struct group *gr,
		       const struct tf_floor_ev *ev, int n)
{
	for (int k = 0; k < n; k++) {
		uint8_t b[PT_MAX];
		size_t l = 0;
		const char *who = ev[k].member < gr->roster->n
					  ? gr->roster->m[ev[k].member].officer
					  : NULL;

		b[l++] = RELAY_OP_FLOOR;
		l += put_name(b + l, gr->roster->group);
		b[l++] = ev[k].type;
		b[l++] = ev[k].reason;
		b[l++] = ev[k].emergency;
		put_u(b + l, ev[k].position, 2);
		l += 2;
		put_u(b + l, ev[k].burst, 4);
		l += 4;
		l += put_name(b + l, who);
		if (ev[k].type == TF_FLOOR_QUEUED ||
		    ev[k].type == TF_FLOOR_DENIED) {
			if (who && gr->online[ev[k].member])
				g->send(g->ctx, gr->sess[ev[k].member], b, l);
		} else {
			to_online(g, gr, b, l, -1);
		}
		if (ev[k].type == TF_FLOOR_GRANTED)
			gr->kid = 0; /* a new burst: no frame yet */
	}
}

static void send_state(struct relay_groups *g, struct group *gr, uint32_t sess)
{
	uint8_t b[PT_MAX];
	size_t l = 0;
	/* a held floor (gnats.c) has no talker a member could hear */
	bool taken =
		tf_floor_taken(&gr->floor) && gr->floor.talker != TF_FLOOR_HELD;

	b[l++] = RELAY_OP_STATE;
	l += put_name(b + l, gr->roster->group);
	put_u(b + l, gr->roster->epoch, 8);
	l += 8;
	b[l++] = taken;
	put_u(b + l, taken ? gr->floor.burst : 0, 4);
	l += 4;
	b[l++] = taken && gr->floor.talker_emergency;
	put_u(b + l, taken ? gr->kid : 0, 8);
	l += 8;
	l += put_name(b + l,
		      taken ? gr->roster->m[gr->floor.talker].officer : NULL);
	g->send(g->ctx, sess, b, l);
}

/* A newer roster replaces the group's: members it no longer lists lose
 * the floor and their routing now, and the floor's member numbers (roster
 * indexes) move to the new list. */
static void group_replace(struct relay_groups *g, struct group *gr,
			  struct tf_roster *nr, uint64_t now_ms)
{
	struct tf_floor_ev ev[TF_FLOOR_EVENTS_MAX];
	static int map[TF_ROSTER_MAX];
	static uint32_t nsess[TF_ROSTER_MAX];
	static bool non[TF_ROSTER_MAX];
	struct tf_roster *old = gr->roster;

	for (size_t i = 0; i < old->n; i++) {
		map[i] =
			tf_roster_find(nr, old->m[i].officer, old->m[i].device);
		if (map[i] < 0) {
			int n = tf_floor_remove(&gr->floor, now_ms, (uint32_t)i,
						ev);
			floor_emit(g, gr, ev, n);
		}
	}
	memset(non, 0, sizeof(non));
	for (size_t i = 0; i < old->n; i++)
		if (map[i] >= 0 && gr->online[i]) {
			non[map[i]] = true;
			nsess[map[i]] = gr->sess[i];
		}
	if (tf_floor_taken(&gr->floor) && gr->floor.talker != TF_FLOOR_HELD)
		gr->floor.talker = (uint32_t)map[gr->floor.talker];
	for (size_t i = 0; i < gr->floor.nq; i++)
		gr->floor.q[i].member = (uint32_t)map[gr->floor.q[i].member];
	memcpy(gr->online, non, sizeof(non));
	memcpy(gr->sess, nsess, sizeof(nsess));
	/* an epoch older than old's is no longer routed at all (its grace,
	 * if still running, ends here: its index table is replaced) */
	for (size_t i = 0; i < TF_ROSTER_MAX; i++)
		gr->prev[i] = PREV_NONE;
	for (size_t i = 0; i < old->n; i++)
		if (map[i] >= 0)
			gr->prev[map[i]] = (uint16_t)i;
	gr->prev_epoch = old->epoch;
	gr->prev_until_ms = now_ms + RELAY_GROUP_GRACE_MS;
	gr->roster = nr;
	free(old);
}

/* Whether kid is the talker's own key id: (epoch in force, its index),
 * or, during the grace window after a new roster, (the previous epoch,
 * its index in the previous roster). Any other member's index, in either
 * epoch, is refused: every member holds the epoch secret and could seal
 * frames under anyone's key id, so this check is what keeps one member
 * from talking in another's name. 1 yes; 0 the talker's own previous
 * epoch after its window, or an older one (stale: dropped); -1 another
 * member's key id or a newer epoch than the relay's (malformed). */
static int kid_ok(const struct group *gr, int idx, uint64_t kid,
		  uint64_t now_ms)
{
	uint64_t ep = tf_group_kid_epoch(kid);
	unsigned ki = tf_group_kid_index(kid);

	if (ep == gr->roster->epoch)
		return ki == (unsigned)idx ? 1 : -1;
	if (ep > gr->roster->epoch)
		return -1;
	if (ep == 0 || ep != gr->prev_epoch)
		return 0;
	if (gr->prev[idx] == PREV_NONE || gr->prev[idx] != ki)
		return -1;
	return now_ms < gr->prev_until_ms ? 1 : 0;
}

static void op_join(struct relay_groups *g, const struct relay_member *m,
		    uint8_t **wire, size_t n, uint64_t now_s, uint64_t now_ms)
{
	struct tf_roster *r = NULL;
	const uint8_t *p = *wire;
	struct group *gr;
	int e, idx;

	e = tf_roster_verify(p, n, g->ca, g->dl, now_s, NULL, 0, &r);
	if (e < 0) {
		send_err(g, m->sess, GERR_ROSTER, "roster refused",
			 tf_roster_reason(e));
		return;
	}
	idx = tf_roster_find(r, m->officer, m->device);
	if (idx < 0 && m->role != TF_ROLE_GROUP_AUTHORITY) {
		send_err(g, m->sess, GERR_MEMBER, r->group,
			 "this device is not in the group's roster");
		free(r);
		return;
	}
	gr = group_find(g, r->group);
	if (gr != NULL && r->epoch < gr->roster->epoch) {
		send_err(g, m->sess, GERR_ROSTER, "roster refused",
			 tf_roster_reason(-ESTALE));
		free(r);
		return;
	}
	if (gr == NULL) {
		for (size_t i = 0; i < RELAY_GROUPS_MAX && gr == NULL; i++)
			if (g->g[i].roster == NULL)
				gr = &g->g[i];
		if (gr == NULL) {
			send_err(g, m->sess, GERR_FULL, r->group,
				 "relay serves too many groups");
			free(r);
			return;
		}
		memset(gr, 0, sizeof(*gr));
		tf_floor_init(&gr->floor, &g->fcfg);
		gr->roster = r;
		gr->wire = steal_pointer(wire);
		gr->wire_len = n;
	} else if (r->epoch > gr->roster->epoch) {
		group_replace(g, gr, r, now_ms);
		free(gr->wire);
		gr->wire = steal_pointer(wire);
		gr->wire_len = n;
	} else {
		free(r);
	}
	if (idx >= 0) {
		gr->online[idx] = true;
		gr->sess[idx] = m->sess;
	}
	send_state(g, gr, m->sess);
}

void relay_groups_join(struct relay_groups *g, const struct relay_member *m,
		       uint8_t **wire, size_t n, uint64_t now_s,
		       uint64_t now_ms)
{
	op_join(g, m, wire, n, now_s, now_ms);
}

static void upload_drop(struct upload *u)
{
	free(u->buf);
	memset(u, 0, sizeof(*u));
}

/* JOIN u32 total | u32 offset | bytes: pieces in order, offset 0 starts
 * over. Returns 1 with the whole roster in *u when the last piece came,
 * 0 while more are due, -EBADMSG for a piece out of order or bounds. */
static int upload_add(struct relay_groups *g, uint32_t sess, const uint8_t *p,
		      size_t n, struct upload **out)
{
	struct upload *u = NULL, *free_slot = NULL;
	size_t total, off;

	if (n < 8)
		return -EBADMSG;
	total = (size_t)get_u(p, 4);
	off = (size_t)get_u(p + 4, 4);
	p += 8;
	n -= 8;
	if (total == 0 || total > TF_ROSTER_WIRE_MAX || n > total - off ||
	    off > total)
		return -EBADMSG;
	for (size_t i = 0; i < UPLOADS_MAX; i++) {
		if (g->up[i].buf && g->up[i].sess == sess)
			u = &g->up[i];
		else if (!g->up[i].buf && !free_slot)
			free_slot = &g->up[i];
	}
	if (off == 0) {
		if (u)
			upload_drop(u);
		u = u ? u : free_slot;
		if (u == NULL) {
			/* all in use: take one in turn, so sessions that
			 * start uploads and never finish them cannot keep
			 * everyone else out */
			u = &g->up[g->evict++ % UPLOADS_MAX];
			upload_drop(u);
		}
		u->buf = malloc(total);
		if (u->buf == NULL)
			return -ENOMEM;
		u->sess = sess;
		u->total = total;
		u->have = 0;
	}
	if (u == NULL || u->total != total || u->have != off) {
		if (u)
			upload_drop(u);
		return -EBADMSG;
	}
	memcpy(u->buf + off, p, n);
	u->have += n;
	*out = u;
	return u->have == u->total;
}

int relay_groups_upload(struct relay_groups *g, uint32_t sess, const uint8_t *p,
			size_t n, uint8_t **wire, size_t *len)
{
	struct upload *u = NULL;
	int e = upload_add(g, sess, p, n, &u);

	if (e < 0) {
		send_err(g, sess, GERR_BAD, "roster upload",
			 e == -ENOMEM ? "relay out of memory, retry"
				      : "pieces out of order; send again from "
					"the start");
		return e;
	}
	if (e == 1) {
		*len = u->total;
		*wire = steal_pointer(&u->buf);
		upload_drop(u);
	}
	return e;
}

/* The group's roster as the authority signed it, in pieces: a member
 * that got a new epoch secret from the authority fetches it here and
 * checks it itself (the relay is only the courier). */
static void op_roster_get(struct relay_groups *g, const struct relay_member *m,
			  const uint8_t *p, size_t n)
{
	char id[TF_CERT_ID_MAX + 1];
	struct group *gr;

	if (relay_name_get(p, n, id) != n || (gr = group_find(g, id)) == NULL) {
		send_err(g, m->sess, GERR_MEMBER, n ? "roster" : "group",
			 "no such group on this relay");
		return;
	}
	for (size_t off = 0; off < gr->wire_len;) {
		uint8_t b[PT_MAX];
		size_t l = 0, k = gr->wire_len - off;
		b[l++] = RELAY_OP_ROSTER;
		l += put_name(b + l, id);
		put_u(b + l, gr->wire_len, 4);
		put_u(b + l + 4, off, 4);
		l += 8;
		k = k > sizeof(b) - l ? sizeof(b) - l : k;
		memcpy(b + l, gr->wire + off, k);
		g->send(g->ctx, m->sess, b, l + k);
		off += k;
	}
}

/* JOIN_EPOCH u8 n | group | u64 epoch: join by the roster the relay
 * holds (no upload), when it is the epoch the member verified. */
static void op_join_epoch(struct relay_groups *g, const struct relay_member *m,
			  const uint8_t *p, size_t n)
{
	char id[TF_CERT_ID_MAX + 1];
	struct group *gr;
	size_t u = relay_name_get(p, n, id);
	int idx;

	if (u == 0 || n - u != 8 || (gr = group_find(g, id)) == NULL ||
	    gr->roster->epoch != get_u(p + u, 8)) {
		send_err(g, m->sess, GERR_ROSTER, u ? id : "group",
			 "the relay holds another epoch; upload the roster");
		return;
	}
	idx = tf_roster_find(gr->roster, m->officer, m->device);
	if (idx < 0) {
		send_err(g, m->sess, GERR_MEMBER, id,
			 "this device is not in the group's roster");
		return;
	}
	gr->online[idx] = true;
	gr->sess[idx] = m->sess;
	send_state(g, gr, m->sess);
}

static struct group *member_group(struct relay_groups *g,
				  const struct relay_member *m,
				  const uint8_t *p, size_t n, size_t *used,
				  int *idx)
{
	char id[TF_CERT_ID_MAX + 1];
	struct group *gr;

	*used = relay_name_get(p, n, id);
	if (*used == 0)
		return NULL;
	gr = group_find(g, id);
	*idx = gr ? member_index(gr, m) : -1;
	if (*idx < 0) {
		send_err(g, m->sess, GERR_MEMBER, id,
			 "not joined to this group on this relay");
		return NULL;
	}
	return gr;
}

int relay_groups_request(struct relay_groups *g, const struct relay_member *m,
			 const uint8_t *pt, size_t n, uint64_t now_s,
			 uint64_t now_ms)
{
	struct tf_floor_ev ev[TF_FLOOR_EVENTS_MAX];
	struct group *gr;
	size_t used;
	int idx, k;
	uint8_t op;

	if (n < 1)
		return -EBADMSG;
	op = pt[0];
	if (op == RELAY_OP_JOIN) {
		struct upload *u = NULL;
		int e = upload_add(g, m->sess, pt + 1, n - 1, &u);
		if (e < 0) {
			send_err(g, m->sess, GERR_BAD, "roster upload",
				 e == -ENOMEM ? "relay out of memory, retry"
					      : "pieces out of order; send "
						"again from the start");
			return 0;
		}
		if (e == 1) {
			op_join(g, m, &u->buf, u->total, now_s, now_ms);
			upload_drop(u);
		}
		return 0;
	}
	if (op == RELAY_OP_ROSTER_GET) {
		op_roster_get(g, m, pt + 1, n - 1);
		return 0;
	}
	if (op == RELAY_OP_JOIN_EPOCH) {
		op_join_epoch(g, m, pt + 1, n - 1);
		return 0;
	}
	if (pt[0] != RELAY_OP_FLOOR_REQ && pt[0] != RELAY_OP_FLOOR_REL &&
	    pt[0] != RELAY_OP_MEDIA && pt[0] != RELAY_OP_LEAVE) {
		send_err(g, m->sess, GERR_BAD, "group request", "unknown");
		return -EOPNOTSUPP;
	}
	gr = member_group(g, m, pt + 1, n - 1, &used, &idx);
	if (gr == NULL)
		return used == 0 ? -EBADMSG : 0;
	pt += 1 + used;
	n -= 1 + used;
	switch (op) {
	case RELAY_OP_FLOOR_REQ: {
		uint8_t pri;
		if (n != 2)
			return -EBADMSG;
		/* the roster, not the device, says who outranks whom: an
		 * officer asks at most 127, so only a dispatcher reaches the
		 * pre-emptive levels; an emergency anyone may declare */
		pri = pt[0];
		if (gr->roster->m[idx].role != TF_ROLE_DISPATCHER && pri > 127)
			pri = 127;
		k = tf_floor_request(&gr->floor, now_ms, (uint32_t)idx, pri,
				     pt[1] & 1, ev);
		floor_emit(g, gr, ev, k);
		return 0;
	}
	case RELAY_OP_FLOOR_REL:
		if (n != 4)
			return -EBADMSG;
		k = tf_floor_release(&gr->floor, now_ms, (uint32_t)idx,
				     (uint32_t)get_u(pt, 4), ev);
		floor_emit(g, gr, ev, k);
		return 0;
	case RELAY_OP_LEAVE:
		k = tf_floor_remove(&gr->floor, now_ms, (uint32_t)idx, ev);
		floor_emit(g, gr, ev, k);
		gr->online[idx] = false;
		return 0;
	case RELAY_OP_MEDIA: {
		uint8_t b[PT_MAX];
		uint64_t kid, ctr;
		size_t l = 0, fl;
		int ok;
		if (n < 4)
			return -EBADMSG;
		fl = n - 4;
		/* only the talker of this burst, and only under its own key
		 * id (epoch, its roster index): a member cannot talk over
		 * the floor or in another member's name */
		if (gr->floor.talker != (uint32_t)idx ||
		    get_u(pt, 4) != gr->floor.burst) {
			send_err(g, m->sess, GERR_TALKER, gr->roster->group,
				 "you do not hold the floor");
			return 0;
		}
		if (tf_sframe_peek(pt + 4, fl, &kid, &ctr) < 0 ||
		    (ok = kid_ok(gr, idx, kid, now_ms)) < 0)
			return -EBADMSG;
		if (ok == 0)
			return -ESTALE;
		gr->kid = kid;
		b[l++] = RELAY_OP_FRAME;
		l += put_name(b + l, gr->roster->group);
		l += put_name(b + l, gr->roster->m[idx].officer);
		if (l + 4 + fl > sizeof(b))
			return -EBADMSG;
		memcpy(b + l, pt, 4 + fl);
		l += 4 + fl;
		to_online(g, gr, b, l, idx);
		return 0;
	}
	}
	return 0;
}

void relay_groups_sess_gone(struct relay_groups *g, uint32_t sess,
			    uint64_t now_ms)
{
	struct tf_floor_ev ev[TF_FLOOR_EVENTS_MAX];

	for (size_t i = 0; i < UPLOADS_MAX; i++)
		if (g->up[i].buf && g->up[i].sess == sess)
			upload_drop(&g->up[i]);
	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++) {
		struct group *gr = &g->g[i];
		if (gr->roster == NULL)
			continue;
		for (size_t j = 0; j < gr->roster->n; j++) {
			if (!gr->online[j] || gr->sess[j] != sess)
				continue;
			int k = tf_floor_remove(&gr->floor, now_ms, (uint32_t)j,
						ev);
			gr->online[j] = false;
			floor_emit(g, gr, ev, k);
		}
	}
}

void relay_groups_tick(struct relay_groups *g, uint64_t now_ms)
{
	struct tf_floor_ev ev[TF_FLOOR_EVENTS_MAX];

	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++) {
		if (g->g[i].roster == NULL ||
		    tf_floor_deadline(&g->g[i].floor) > now_ms)
			continue;
		int k = tf_floor_tick(&g->g[i].floor, now_ms, ev);
		floor_emit(g, &g->g[i], ev, k);
	}
}

int relay_groups_verify(const struct relay_groups *g, const uint8_t *wire,
			size_t n, uint64_t now_s, struct tf_roster **out)
{
	return tf_roster_verify(wire, n, g->ca, g->dl, now_s, NULL, 0, out);
}

void relay_groups_set_fan(struct relay_groups *g, relay_fan_fn fan)
{
	g->fan = fan;
}

uint64_t relay_groups_epoch(const struct relay_groups *g, const char *id,
			    const uint8_t **wire, size_t *len)
{
	const struct group *gr = group_find((struct relay_groups *)g, id);

	if (gr == NULL)
		return 0;
	if (wire) {
		*wire = gr->wire;
		*len = gr->wire_len;
	}
	return gr->roster->epoch;
}

const char *relay_groups_id(const struct relay_groups *g, size_t i)
{
	return i < RELAY_GROUPS_MAX && g->g[i].roster ? g->g[i].roster->group
						      : NULL;
}

int relay_groups_hold(struct relay_groups *g, const char *id, uint64_t now_ms,
		      uint64_t until_ms)
{
	struct group *gr = group_find(g, id);

	if (gr == NULL)
		return -ENOENT;
	return tf_floor_hold(&gr->floor, now_ms, until_ms);
}

void relay_groups_drop(struct relay_groups *g, const char *id, uint64_t now_ms)
{
	struct tf_floor_ev ev[TF_FLOOR_EVENTS_MAX];
	struct group *gr = group_find(g, id);

	if (gr == NULL)
		return;
	/* the members hear that the floor and their queued requests are
	 * gone; the new owner starts from idle */
	while (gr->floor.nq > 0) {
		struct tf_floor_ev d = {.type = TF_FLOOR_DENIED,
					.reason = TF_FLOOR_R_MOVED,
					.member = gr->floor.q[0].member,
					.emergency = gr->floor.q[0].emergency};
		gr->floor.nq--;
		memmove(&gr->floor.q[0], &gr->floor.q[1],
			gr->floor.nq * sizeof(gr->floor.q[0]));
		floor_emit(g, gr, &d, 1);
	}
	if (tf_floor_taken(&gr->floor) && gr->floor.talker != TF_FLOOR_HELD) {
		ev[0] = (struct tf_floor_ev){.type = TF_FLOOR_REVOKED,
					     .reason = TF_FLOOR_R_MOVED,
					     .member = gr->floor.talker,
					     .burst = gr->floor.burst};
		ev[1] = (struct tf_floor_ev){.type = TF_FLOOR_IDLE,
					     .member = TF_FLOOR_NONE};
		floor_emit(g, gr, ev, 2);
	}
	free(gr->roster);
	free(gr->wire);
	memset(gr, 0, sizeof(*gr));
	(void)now_ms;
}

uint64_t relay_groups_deadline(const struct relay_groups *g)
{
	uint64_t d = UINT64_MAX;

	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++)
		if (g->g[i].roster != NULL) {
			uint64_t x = tf_floor_deadline(&g->g[i].floor);
			d = x < d ? x : d;
		}
	return d;
}
