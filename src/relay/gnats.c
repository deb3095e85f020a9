/* SPDX-License-Identifier: ISC */
/*
 * Talk groups across relays over NATS core (--nats; docs/comms.md "Talk
 * groups across relays", message formats in gnmsg.h). Without --nats none
 * of this runs: group.c holds every group in-process.
 *
 * Ownership. Exactly one relay owns a group at a time, in the view of
 * each relay: relays announce themselves on twofold.relay.hello (a random
 * 64-bit node id, every second; a node silent 3 s is gone), and the owner
 * of a group is the live node with the highest H(node id || group id)
 * (rendezvous hashing: a node joining or leaving moves only the groups it
 * wins or held, and every relay computes the same owner from the same
 * view, with no election). The owner runs group.c for the group: its own
 * members by session, members on other relays as virtual sessions
 * (RELAY_VSESS | slot, mapped to (node, session) here).
 *
 * When a relay's view changes it sends its local members of every group
 * whose owner changed to the new owner, then publishes SYNC: relays that
 * noticed the change first sent theirs while the new owner did not own
 * the group yet (dropped), and send them again.
 *
 * A relay that is not the owner forwards its members' ops (the roster
 * it verified, floor requests and releases, talker frames, late-entry
 * JOIN_EPOCH, LEAVE, ROSTER_GET, its sessions leaving) to
 * twofold.g.HEX(gid).own; every relay subscribes to twofold.g.*.own and
 * acts only on the groups it owns in its view. The owner answers one
 * member on twofold.n.HEX(node) and fans out what every member hears
 * (floor events, frames) once on twofold.g.HEX(gid).fan, to which each
 * relay with local members of the group subscribes and delivers to them:
 * one NATS message per frame per relay. A relay still verifies a roster
 * before it routes by it (CA, deny-list, role, signature, epoch), both on
 * upload and when the owner fans out a newer one; the owner verifies
 * again and its verdict (membership, floor) is final.
 *
 * Floor leases. A grant lasts at most the maximum talk time (the
 * emergency one when longer): that is its lease. When ownership moves,
 * the new owner starts with the floor idle. If the old owner is alive (a
 * node joined and outranks it) it revokes its talker (TF_FLOOR_R_MOVED),
 * drops the group and says so with HANDOVER; the new owner may grant
 * once it has that. Otherwise (the old owner died, or the view changed
 * and no HANDOVER came) the new owner holds the floor (tf_floor_hold:
 * requests queue, nothing is granted, no emergency pre-empts) until one
 * lease plus one hello period after its view changed. The guarantee: as
 * long as NATS delivers between live relays within the 3 s a node may be
 * silent, two talkers are never granted at once across an ownership
 * change, since the old owner's last grant has run out (or was revoked)
 * before the new owner grants. Not guaranteed: a partition of the NATS
 * cluster longer than that, which leaves each side with its own owner
 * (relays have no quorum; core NATS offers none); and anyone who can
 * publish on the bus is as trusted as a relay (forge a member's session,
 * end a hold): NATS must be private to the relays (nats-server accounts
 * or TLS in a deployment). Content stays end to end: members open frames
 * only under the talker's key, and the owner grants only roster members.
 *
 * Learning the floor (ASK, SAW). The hold exists only so that a grant
 * the old owner made is not doubled, and the relays that could carry
 * that grant's talker saw it: a grant is fanned out on .fan, to which
 * every relay with members of the group subscribes. So each such relay
 * keeps, per group, what it last saw there (a talker with when it first
 * saw the grant, or idle) and since when it has been subscribed; this
 * record survives ownership moves. A new owner that holds (no HANDOVER)
 * publishes ASK on .own; every relay answers SAW on the asker's
 * twofold.n subject: NONE (no member of the group here), IDLE with how
 * long it has watched, or TAKEN with how long ago it saw the grant. The
 * hold ends early once every relay in the asker's current view gave a
 * safe answer: NONE; IDLE watched for at least a lease (a shorter watch
 * may have missed a grant made before it subscribed: "unknown"); TAKEN
 * (the hold then ends a lease after the latest such grant, measured on
 * the asker's clock from the answer's age, so transit only lengthens
 * it; never past the hold's own end). Any unsafe answer, or a relay
 * that does not answer within ASK_WAIT_MS, leaves the hold as it was. A
 * relay that holds the group in group.c (it owns it in its own view:
 * views differ) does not answer.
 * The asker's own record counts the same way, except that a record
 * younger than a lease is trusted when no relay has left the asker's
 * view since it opened: its members all joined since, and an owner that
 * could have granted one of them is alive (it answers or hands over).
 * Hence a relay that starts and sees no other relay within its first
 * NODE_GONE_MS (a live relay says hello every HELLO_MS) ends its holds
 * then: a grant made before it started belongs to a relay that is gone,
 * whose sessions, the talker's among them, went with it; a device that
 * moves to a live relay must join and request again from the owner.
 * Guaranteed, on top of the hold's guarantee: a grant whose talker is
 * on a live relay is not doubled while NATS delivers .fan to that relay
 * (the talker's relay sees the grant it forwards frames under). Not
 * guaranteed: a .fan message lost (a NATS slow consumer drops it, a
 * reconnect loses it) makes a relay answer from a stale record, and a
 * partition is as before (each side has its own owner). Relays that all
 * start together answer IDLE younger than a lease: their first owner
 * holds one lease, as before (a known cost, not a risk).
 *
 * Locking (relay.h): every callback and the ticker take w_mu, then tab
 * for reading, then group_mu, through relay_groups_enter; the state below
 * is group_mu's. Publishing to NATS under group_mu is fine (cnats' lock
 * is a leaf).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "gnmsg.h"
#include "group.h"
#include "relay.h"
#include "twofold/sframe.h"

#define NODES_MAX 64
#define VS_MAX 4096
#define HO_MAX 64
#define HELLO_MS 1000
#define NODE_GONE_MS 3000
#define TICK_MS 200
#define ASK_MAX 32
#define ASK_WAIT_MS 500
#define SUBJ_LEN (sizeof("twofold.g..own") + 2 * TF_CERT_ID_MAX + 1)

struct lg { /* a group with members on this relay */
	bool used;
	char gid[TF_CERT_ID_MAX + 1];
	struct tf_roster *roster; /* verified here; NULL until one came */
	/* the one before, for RELAY_GROUP_GRACE_MS after roster replaced it:
	 * the owner still fans out the talker's frames of that epoch under
	 * its index there (group.c) */
	struct tf_roster *prev;
	uint64_t prev_until_ms;
	uint8_t *wire;
	size_t wire_len;
	uint64_t owner; /* as last computed; 0: not yet */
	uint32_t mem[TF_ROSTER_MAX];
	size_t nmem;
	natsSubscription *fan;
	/* the floor as the owner's fan-out told it (frames are checked
	 * against it) */
	bool taken;
	char talker[TF_CERT_ID_MAX + 1];
	uint32_t burst;
	/* what this relay last saw of the floor, kept across ownership
	 * moves (taken above is reset then): the answer to an ASK */
	uint64_t sub_at; /* ms: subscribed to .fan since */
	bool saw_taken;
	uint64_t saw_at; /* ms: when that grant was first seen */
	char saw_talker[TF_CERT_ID_MAX + 1];
	uint32_t saw_burst;
};

struct ask { /* a takeover asking the other relays what they saw */
	bool used, published;
	bool self_young; /* this relay's own record is under a lease old */
	char gid[TF_CERT_ID_MAX + 1];
	uint32_t id;
	uint64_t sent, until; /* until: the latest grant's lease end */
	uint64_t cap;	      /* the hold's own end: answers only shorten it */
	uint64_t ok[NODES_MAX];
	size_t nok;
};

struct vs {
	bool used;
	uint64_t node;
	uint32_t sess;
};

struct relay_gnats {
	struct relay *r;
	natsConnection *nc;
	uint64_t self;
	uint64_t lease_ms;
	pthread_mutex_t w_mu;
	struct worker *w;
	natsSubscription *hello_sub, *own_sub, *node_sub;
	pthread_t th;
	_Atomic bool stop;
	bool started;
	/* group_mu */
	struct {
		uint64_t id, seen;
	} node[NODES_MAX];
	size_t nnode;
	uint64_t view_at; /* ms: the view last changed */
	struct lg lg[RELAY_GROUPS_MAX];
	struct vs vs[VS_MAX];
	struct {
		char gid[TF_CERT_ID_MAX + 1];
		uint64_t at;
	} ho[HO_MAX];
	size_t nho;
	uint64_t opened_at;
	bool lost_other; /* a relay left the view since this one opened */
	struct ask ask[ASK_MAX];
	uint32_t ask_seq;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void gsubj(const char *gid, const char *tail, char out[SUBJ_LEN])
{
	char h[2 * TF_CERT_ID_MAX + 1];

	hex((const uint8_t *)gid, strlen(gid), h);
	snprintf(out, SUBJ_LEN, "twofold.g.%s.%s", h, tail);
}

static void nsubj(uint64_t node, char out[SUBJ_LEN])
{
	snprintf(out, SUBJ_LEN, "twofold.n.%016llx", (unsigned long long)node);
}

/* twofold.g.HEX.TAIL -> the group id; false when malformed */
static bool subj_gid(const char *subj, const char *tail,
		     char out[TF_CERT_ID_MAX + 1])
{
	size_t tl = strlen(tail), n;
	const char *p;

	if (subj == NULL || strncmp(subj, "twofold.g.", 10) != 0)
		return false;
	p = subj + 10;
	n = strlen(p);
	if (n < tl + 1 || strcmp(p + n - tl, tail) != 0 || p[n - tl - 1] != '.')
		return false;
	n -= tl + 1;
	if (n == 0 || n % 2 || n / 2 > TF_CERT_ID_MAX)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(p + 2 * i, "%2x", &v) != 1 || v < 0x21 || v > 0x7e)
			return false;
		out[i] = (char)v;
	}
	out[n / 2] = '\0';
	return true;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* rendezvous hashing: the weight of node for group gid */
static uint64_t weight(uint64_t node, const char *gid)
{
	uint64_t h = 14695981039346656037ull ^ mix(node);

	for (const char *p = gid; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return mix(h ^ node);
}

static uint64_t owner_of(const struct relay_gnats *G, const char *gid)
{
	uint64_t best = G->self, bw = weight(G->self, gid);

	for (size_t i = 0; i < G->nnode; i++) {
		uint64_t w = weight(G->node[i].id, gid);
		if (w > bw || (w == bw && G->node[i].id > best)) {
			bw = w;
			best = G->node[i].id;
		}
	}
	return best;
}

static void pub(struct relay_gnats *G, const char *subj, const uint8_t *head,
		size_t hl, const uint8_t *body, size_t bl)
{
	_cleanup_free_ uint8_t *b = malloc(hl + bl);
	natsStatus st;

	if (b == NULL)
		return;
	memcpy(b, head, hl);
	if (bl)
		memcpy(b + hl, body, bl);
	st = natsConnection_Publish(G->nc, subj, b, (int)(hl + bl));
	if (st != NATS_OK)
		logv(G->r, "NATS publish %s: %s", subj, natsStatus_GetText(st));
}

/* one member's op (kind REQ/JOIN/GONE) to the group's owner */
static void to_owner(struct relay_gnats *G, uint8_t kind, const char *gid,
		     const struct sess *s, const uint8_t *body, size_t bl)
{
	struct gn_msg m = {
		.kind = kind, .from = G->self, .sess = s->id, .role = s->role};
	uint8_t h[GN_HDR + GN_MEMBER_MAX + 12];
	char subj[SUBJ_LEN];

	memcpy(m.device, s->device, sizeof(m.device));
	snprintf(m.officer, sizeof(m.officer), "%s", s->officer);
	gsubj(gid, "own", subj);
	pub(G, subj, h, gn_put_head(&m, h), body, bl);
}

/* ---- local groups (members on this relay) ---- */

static struct lg *lg_find(struct relay_gnats *G, const char *gid)
{
	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++)
		if (G->lg[i].used && !strcmp(G->lg[i].gid, gid))
			return &G->lg[i];
	return NULL;
}

static void lg_free(struct lg *l)
{
	if (l->fan) {
		(void)natsSubscription_Unsubscribe(l->fan);
		natsSubscription_Destroy(l->fan);
	}
	free(l->roster);
	free(l->prev);
	free(l->wire);
	memset(l, 0, sizeof(*l));
}

static void on_fan(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
		   void *closure);

static struct lg *lg_get(struct relay_gnats *G, const char *gid)
{
	struct lg *l = lg_find(G, gid);
	char subj[SUBJ_LEN];

	if (l != NULL)
		return l;
	for (size_t i = 0; i < RELAY_GROUPS_MAX && l == NULL; i++)
		if (!G->lg[i].used)
			l = &G->lg[i];
	if (l == NULL)
		return NULL;
	l->used = true;
	l->sub_at = mono_ms();
	snprintf(l->gid, sizeof(l->gid), "%s", gid);
	l->owner = owner_of(G, gid);
	gsubj(gid, "fan", subj);
	if (natsConnection_Subscribe(&l->fan, G->nc, subj, on_fan, G) !=
	    NATS_OK) {
		logv(G->r, "NATS: cannot subscribe to %s", subj);
		l->fan = NULL;
	}
	return l;
}

/* a verified roster for l, if newer than the one it has */
static void lg_roster(struct lg *l, struct tf_roster *ro, const uint8_t *wire,
		      size_t n)
{
	uint8_t *w;

	if (l->roster && l->roster->epoch >= ro->epoch) {
		free(ro);
		return;
	}
	w = malloc(n);
	if (w == NULL) {
		free(ro);
		return;
	}
	memcpy(w, wire, n);
	free(l->prev);
	l->prev = l->roster;
	l->prev_until_ms = mono_ms() + RELAY_GROUP_GRACE_MS;
	free(l->wire);
	l->roster = ro;
	l->wire = w;
	l->wire_len = n;
}

static void lg_add(struct lg *l, uint32_t sess)
{
	for (size_t i = 0; i < l->nmem; i++)
		if (l->mem[i] == sess)
			return;
	if (l->nmem < TF_ROSTER_MAX)
		l->mem[l->nmem++] = sess;
}

static void lg_del(struct lg *l, uint32_t sess)
{
	for (size_t i = 0; i < l->nmem; i++)
		if (l->mem[i] == sess) {
			l->mem[i] = l->mem[--l->nmem];
			break;
		}
	if (l->nmem == 0)
		lg_free(l);
}

static uint64_t get_u(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The record an ASK is answered from: a grant keeps the time it was
 * first seen (a STATE for a late entrant repeats the same burst). Only a
 * floor event clears it: an idle STATE may be a new owner's, sent while
 * it holds the floor and before it asks, and must not erase the grant it
 * is about to ask for (a grant's end always comes as an event). */
static void saw_note(struct lg *l, bool state)
{
	if (!l->taken) {
		if (!state)
			l->saw_taken = false;
		return;
	}
	if (l->saw_taken && l->saw_burst == l->burst &&
	    !strcmp(l->saw_talker, l->talker))
		return;
	l->saw_taken = true;
	l->saw_at = mono_ms();
	l->saw_burst = l->burst;
	snprintf(l->saw_talker, sizeof(l->saw_talker), "%s", l->talker);
}

/* The floor as pt (a FLOOR event or a STATE, as group.c builds them)
 * tells it. */
static void floor_view(struct lg *l, const uint8_t *pt, size_t n)
{
	size_t gl, p, ml;

	if (n < 2)
		return;
	gl = pt[1];
	p = 2 + gl;
	if (pt[0] == RELAY_OP_FLOOR) {
		if (n < p + 10)
			return;
		uint8_t type = pt[p];
		ml = pt[p + 9];
		if (type == TF_FLOOR_GRANTED && ml && ml <= TF_CERT_ID_MAX &&
		    n >= p + 10 + ml) {
			l->taken = true;
			l->burst = (uint32_t)get_u(pt + p + 5, 4);
			memcpy(l->talker, pt + p + 10, ml);
			l->talker[ml] = '\0';
		} else if (type == TF_FLOOR_REVOKED ||
			   type == TF_FLOOR_RELEASED || type == TF_FLOOR_IDLE) {
			l->taken = false;
		} else {
			return; /* QUEUED, DENIED: the floor did not change */
		}
		saw_note(l, false);
	} else if (pt[0] == RELAY_OP_STATE) {
		if (n < p + 23)
			return;
		ml = pt[p + 22];
		l->taken = pt[p + 8] && ml && ml <= TF_CERT_ID_MAX &&
			   n >= p + 23 + ml;
		if (l->taken) {
			l->burst = (uint32_t)get_u(pt + p + 9, 4);
			memcpy(l->talker, pt + p + 23, ml);
			l->talker[ml] = '\0';
		}
		saw_note(l, true);
	}
}

/* A FRAME fanned out by the owner: only from the talker this relay
 * heard granted, of its burst, under its own key id (the roster index
 * of that officer, an epoch the roster has reached). */
static bool frame_ok(const struct lg *l, const uint8_t *pt, size_t n)
{
	char gid[TF_CERT_ID_MAX + 1], who[TF_CERT_ID_MAX + 1];
	size_t u, v;
	const struct tf_roster *ro;
	uint64_t kid, ctr;
	unsigned idx;

	if (n < 1 || pt[0] != RELAY_OP_FRAME || l->roster == NULL || !l->taken)
		return false;
	u = relay_name_get(pt + 1, n - 1, gid);
	if (u == 0 || strcmp(gid, l->gid) != 0)
		return false;
	v = relay_name_get(pt + 1 + u, n - 1 - u, who);
	if (v == 0 || strcmp(who, l->talker) != 0 || n < 1 + u + v + 4 ||
	    get_u(pt + 1 + u + v, 4) != l->burst)
		return false;
	if (tf_sframe_peek(pt + 1 + u + v + 4, n - 1 - u - v - 4, &kid, &ctr) <
	    0)
		return false;
	idx = tf_group_kid_index(kid);
	ro = l->roster;
	if (l->prev != NULL && tf_group_kid_epoch(kid) == l->prev->epoch &&
	    mono_ms() < l->prev_until_ms)
		ro = l->prev;
	return idx < ro->n && !strcmp(ro->m[idx].officer, who) &&
	       tf_group_kid_epoch(kid) == ro->epoch;
}

/* ---- virtual sessions (members on other relays, on the owner) ---- */

static uint32_t vs_get(struct relay_gnats *G, uint64_t node, uint32_t sess,
		       bool make)
{
	size_t fr = VS_MAX;

	for (size_t i = 0; i < VS_MAX; i++) {
		if (G->vs[i].used && G->vs[i].node == node &&
		    G->vs[i].sess == sess)
			return RELAY_VSESS | (uint32_t)(i + 1);
		if (!G->vs[i].used && fr == VS_MAX)
			fr = i;
	}
	if (!make || fr == VS_MAX)
		return 0;
	G->vs[fr] = (struct vs){.used = true, .node = node, .sess = sess};
	return RELAY_VSESS | (uint32_t)(fr + 1);
}

static struct vs *vs_at(struct relay_gnats *G, uint32_t vid)
{
	uint32_t i = (vid & ~RELAY_VSESS) - 1;

	return i < VS_MAX && G->vs[i].used ? &G->vs[i] : NULL;
}

/* ---- ownership ---- */

static void ho_note(struct relay_gnats *G, const char *gid, uint64_t now)
{
	size_t i;

	for (i = 0; i < G->nho && strcmp(G->ho[i].gid, gid); i++)
		;
	if (i == G->nho) {
		if (G->nho < HO_MAX)
			G->nho++;
		else
			i = (size_t)(now % HO_MAX); /* overwrite one */
	}
	snprintf(G->ho[i].gid, sizeof(G->ho[i].gid), "%s", gid);
	G->ho[i].at = now;
}

static bool ho_since(const struct relay_gnats *G, const char *gid,
		     uint64_t since)
{
	for (size_t i = 0; i < G->nho; i++)
		if (!strcmp(G->ho[i].gid, gid) && G->ho[i].at >= since)
			return true;
	return false;
}

/* ---- learning the floor from the other relays (ASK, SAW) ---- */

static uint32_t clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* What this relay saw of gid's floor, as an answer to an ASK. */
static void saw_of(struct relay_gnats *G, const char *gid, uint64_t now,
		   struct gn_msg *m)
{
	struct lg *l = lg_find(G, gid);

	m->lease_ms = clamp32(G->lease_ms);
	if (l == NULL) {
		m->state = GN_SAW_NONE;
		return;
	}
	m->watched_ms = clamp32(now - l->sub_at);
	m->state = l->saw_taken ? GN_SAW_TAKEN : GN_SAW_IDLE;
	if (l->saw_taken)
		m->ago_ms = clamp32(now - l->saw_at);
}

/* Whether an answer lets the hold end, and then until when at least. An
 * idle floor counts only when watched for a lease: a shorter watch may
 * have missed a grant made before this relay subscribed. */
static bool saw_safe(const struct relay_gnats *G, const struct gn_msg *m,
		     uint64_t now, uint64_t *until)
{
	uint64_t lease = G->lease_ms > m->lease_ms ? G->lease_ms : m->lease_ms;

	switch (m->state) {
	case GN_SAW_NONE: return true;
	case GN_SAW_IDLE: return m->watched_ms >= lease;
	case GN_SAW_TAKEN:
		/* the age is as the answer left: its transit only makes the
		 * grant look younger, the lease end later */
		if (now - (m->ago_ms < now ? m->ago_ms : now) + lease > *until)
			*until = now - (m->ago_ms < now ? m->ago_ms : now) +
				 lease;
		return true;
	}
	return false;
}

static void ask_free(struct ask *a)
{
	memset(a, 0, sizeof(*a));
}

static void ask_publish(struct relay_gnats *G, struct ask *a, uint64_t now)
{
	struct gn_msg m = {.kind = GN_ASK, .from = G->self, .ask = a->id};
	uint8_t h[GN_HDR + 4];
	char subj[SUBJ_LEN];

	gsubj(a->gid, "own", subj);
	pub(G, subj, h, gn_put_head(&m, h), NULL, 0);
	a->published = true;
	a->sent = now;
}

/* The hold ends once every relay in the current view gave a safe answer
 * (gnats.c's header: "Learning the floor"); it stays as it is when one
 * did not in ASK_WAIT_MS. */
static void ask_eval(struct relay_gnats *G, struct ask *a, uint64_t now)
{
	bool all = true;

	if (!a->published) {
		/* just started: a live relay says hello within a period;
		 * until then this relay does not know who is there */
		if (now < G->opened_at + NODE_GONE_MS)
			return;
		ask_publish(G, a, now);
	}
	for (size_t i = 0; i < G->nnode && all; i++) {
		bool got = false;
		for (size_t k = 0; k < a->nok && !got; k++)
			got = a->ok[k] == G->node[i].id;
		all = got;
	}
	/* a young record of this relay's own is enough only when no relay
	 * left its view since it opened: its members all joined since, and
	 * any owner that could have granted one of them is still alive, so
	 * it answers (or hands over) */
	if (all && a->self_young && G->lost_other)
		all = false;
	if (all) {
		uint64_t until = a->until > now ? a->until : now;
		if (until > a->cap)
			until = a->cap;
		if (relay_groups_hold(G->r->groups, a->gid, now, until) == 0) {
			logv(G->r,
			     "group %s: every relay answered; floor hold ends "
			     "in %llu ms",
			     a->gid, (unsigned long long)(until - now));
			relay_groups_tick(G->r->groups, now);
		}
		ask_free(a);
	} else if (now - a->sent >= ASK_WAIT_MS) {
		logv(G->r,
		     "group %s: not every relay answered as it must for the "
		     "hold to end early; the floor stays held",
		     a->gid);
		ask_free(a);
	}
}

static void ask_start(struct relay_gnats *G, const char *gid, uint64_t now,
		      uint64_t cap)
{
	struct gn_msg me = {0};
	struct ask *a = NULL;

	for (size_t i = 0; i < ASK_MAX && a == NULL; i++)
		if (G->ask[i].used && !strcmp(G->ask[i].gid, gid))
			a = &G->ask[i];
	for (size_t i = 0; i < ASK_MAX && a == NULL; i++)
		if (!G->ask[i].used)
			a = &G->ask[i];
	if (a == NULL)
		return; /* too many at once: those hold a whole lease */
	ask_free(a);
	a->used = true;
	a->id = ++G->ask_seq;
	a->cap = cap;
	snprintf(a->gid, sizeof(a->gid), "%s", gid);
	saw_of(G, gid, now, &me);
	a->until = now;
	a->self_young = !saw_safe(G, &me, now, &a->until);
	ask_eval(G, a, now);
}

/* SAW from m->from: one answer to one of this relay's asks. */
static void saw_msg(struct relay_gnats *G, const struct gn_msg *m, uint64_t now)
{
	bool live = false;
	struct ask *a = NULL;

	for (size_t i = 0; i < ASK_MAX && a == NULL; i++)
		if (G->ask[i].used && G->ask[i].published &&
		    G->ask[i].id == m->ask && !strcmp(G->ask[i].gid, m->gid))
			a = &G->ask[i];
	for (size_t i = 0; i < G->nnode && !live; i++)
		live = G->node[i].id == m->from;
	if (a == NULL || !live)
		return; /* late, or from a relay not in this view */
	if (!saw_safe(G, m, now, &a->until)) {
		logv(G->r,
		     "group %s: relay %016llx has not watched the floor for a "
		     "lease; the floor stays held",
		     a->gid, (unsigned long long)m->from);
		ask_free(a);
		return;
	}
	for (size_t k = 0; k < a->nok; k++)
		if (a->ok[k] == m->from)
			return;
	if (a->nok < NODES_MAX)
		a->ok[a->nok++] = m->from;
	ask_eval(G, a, now);
}

/* ASK from another relay: answer what this relay saw. A relay that holds
 * the group in group.c (it owns it in its own view) does not answer: its
 * floor is not on its .fan record, and no answer keeps the hold. */
static void ask_msg(struct relay_gnats *G, const char *gid,
		    const struct gn_msg *m, uint64_t now)
{
	struct gn_msg a = {.kind = GN_SAW, .from = G->self, .ask = m->ask};
	uint8_t h[GN_HDR + GN_MEMBER_MAX + 12];
	char subj[SUBJ_LEN];

	if (relay_groups_epoch(G->r->groups, gid, NULL, 0) != 0)
		return;
	saw_of(G, gid, now, &a);
	snprintf(a.gid, sizeof(a.gid), "%s", gid);
	nsubj(m->from, subj);
	pub(G, subj, h, gn_put_head(&a, h), NULL, 0);
}

/* The owner just created gid in group.c (a first member, or a resync
 * after ownership moved): within a lease of the last view change, and
 * with no HANDOVER since, an older owner's grant may still run. The
 * hold lasts that lease unless the other relays' answers end it. */
static void takeover(struct relay_gnats *G, const char *gid, uint64_t now)
{
	uint64_t until = G->view_at + G->lease_ms;

	if (now >= until || ho_since(G, gid, G->view_at))
		return;
	if (relay_groups_hold(G->r->groups, gid, now, until) == 0) {
		logv(G->r,
		     "group %s: taken over; floor held %llu ms (no handover "
		     "from the old owner) unless the other relays' answers "
		     "end it",
		     gid, (unsigned long long)(until - now));
		ask_start(G, gid, now, until);
	}
}

/* After group.c handled a join on the owner: a new group may need a
 * hold; a newer epoch goes to the other relays (they verify it and stop
 * routing to whom it drops). */
static void after_join(struct relay_gnats *G, const char *gid, uint64_t before,
		       uint64_t now)
{
	const uint8_t *wire = NULL;
	size_t len = 0;
	uint64_t after = relay_groups_epoch(G->r->groups, gid, &wire, &len);

	if (before == 0 && after != 0) {
		takeover(G, gid, now);
		logv(G->r, "group %s: owned by this relay (node %016llx)", gid,
		     (unsigned long long)G->self);
	}
	if (after > before && wire != NULL) {
		struct gn_msg m = {.kind = GN_ROSTER, .from = G->self};
		uint8_t h[GN_HDR];
		char subj[SUBJ_LEN];
		gsubj(gid, "fan", subj);
		pub(G, subj, h, gn_put_head(&m, h), wire, len);
	}
}

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

static struct relay_member member_of(const struct sess *s)
{
	struct relay_member m = {
		.sess = s->id, .officer = s->officer, .role = s->role};

	memcpy(m.device, s->device, sizeof(m.device));
	return m;
}

/* Local members of l to its (new) owner: the roster once, then each
 * member by epoch. The owner answers each with STATE (late entry). */
static void resync(struct relay_gnats *G, struct lg *l, uint64_t now)
{
	struct relay *r = G->r;
	bool first = true;
	uint8_t je[2 + TF_CERT_ID_MAX + 8];
	size_t jl = 0;

	if (l->roster) {
		je[jl++] = RELAY_OP_JOIN_EPOCH;
		je[jl++] = (uint8_t)strlen(l->gid);
		memcpy(je + jl, l->gid, strlen(l->gid));
		jl += strlen(l->gid);
		for (int i = 7; i >= 0; i--)
			je[jl++] = (uint8_t)(l->roster->epoch >> (8 * i));
	}
	for (size_t i = 0; i < l->nmem; i++) {
		struct sess *s = relay_sess_by_id(r, l->mem[i]);
		if (s == NULL || l->roster == NULL)
			continue;
		struct relay_member m = member_of(s);
		if (l->owner == G->self) {
			uint64_t before =
				relay_groups_epoch(r->groups, l->gid, NULL, 0);
			if (first || before == 0) {
				uint8_t *w = malloc(l->wire_len);
				if (w == NULL)
					continue;
				memcpy(w, l->wire, l->wire_len);
				relay_groups_join(r->groups, &m, &w,
						  l->wire_len, now_s(), now);
				free(w);
			} else {
				(void)relay_groups_request(r->groups, &m, je,
							   jl, now_s(), now);
			}
			after_join(G, l->gid, before, now);
		} else if (first) {
			to_owner(G, GN_JOIN, l->gid, s, l->wire, l->wire_len);
		} else {
			to_owner(G, GN_REQ, l->gid, s, je, jl);
		}
		first = false;
	}
}

static void handover(struct relay_gnats *G, const char *gid)
{
	struct gn_msg m = {.kind = GN_HANDOVER, .from = G->self};
	uint8_t h[GN_HDR];
	char subj[SUBJ_LEN];

	gsubj(gid, "own", subj);
	pub(G, subj, h, gn_put_head(&m, h), NULL, 0);
}

/* The view changed (or may have): drop the groups this relay no longer
 * owns (revoked, HANDOVER to the new owner), then send each moved local
 * group's members to its new owner. */
static void recompute(struct relay_gnats *G, uint64_t now)
{
	struct relay *r = G->r;

	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++) {
		const char *gid = relay_groups_id(r->groups, i);
		char id[TF_CERT_ID_MAX + 1];
		if (gid == NULL || owner_of(G, gid) == G->self)
			continue;
		snprintf(id, sizeof(id), "%s", gid);
		relay_groups_drop(r->groups, id, now);
		handover(G, id);
		logv(r, "group %s: now owned by node %016llx; handed over", id,
		     (unsigned long long)owner_of(G, id));
	}
	/* virtual sessions of nodes that are gone */
	for (size_t i = 0; i < VS_MAX; i++) {
		bool live = false;
		if (!G->vs[i].used)
			continue;
		for (size_t k = 0; k < G->nnode && !live; k++)
			live = G->node[k].id == G->vs[i].node;
		if (!live) {
			relay_groups_sess_gone(r->groups,
					       RELAY_VSESS | (uint32_t)(i + 1),
					       now);
			G->vs[i].used = false;
		}
	}
	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++) {
		struct lg *l = &G->lg[i];
		uint64_t o;
		if (!l->used)
			continue;
		o = owner_of(G, l->gid);
		if (o == l->owner)
			continue;
		l->owner = o;
		l->taken = false; /* the new owner starts idle */
		resync(G, l, now);
	}
	/* A relay that saw the change before this one sent its members to
	 * this relay while it did not own their groups yet, and they were
	 * dropped: ask everyone to send again what this relay owns now. */
	struct gn_msg m = {.kind = GN_SYNC, .from = G->self};
	uint8_t h[GN_HDR];
	pub(G, "twofold.relay.hello", h, gn_put_head(&m, h), NULL, 0);
}

/* SYNC from node from: its view changed; the groups it owns in this
 * relay's view get their members sent (again: a JOIN of a member the
 * owner holds only refreshes it and answers STATE). */
static void sync_to(struct relay_gnats *G, uint64_t from, uint64_t now)
{
	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++) {
		struct lg *l = &G->lg[i];
		if (l->used && l->owner == from && owner_of(G, l->gid) == from)
			resync(G, l, now);
	}
}

static void node_seen(struct relay_gnats *G, uint64_t id, uint64_t now)
{
	if (id == G->self)
		return;
	for (size_t i = 0; i < G->nnode; i++)
		if (G->node[i].id == id) {
			G->node[i].seen = now;
			return;
		}
	if (G->nnode == NODES_MAX)
		return;
	G->node[G->nnode].id = id;
	G->node[G->nnode].seen = now;
	G->nnode++;
	G->view_at = now;
	logv(G->r, "relay node %016llx joined (%zu live)",
	     (unsigned long long)id, G->nnode + 1);
	recompute(G, now);
}

/* ---- NATS callbacks ---- */

static void on_hello_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
			void *closure)
{
	struct relay_gnats *G = closure;
	struct gn_msg m;

	(void)nc;
	(void)sub;
	if (gn_parse((const uint8_t *)natsMsg_GetData(msg),
		     (size_t)natsMsg_GetDataLength(msg), &m) == 0 &&
	    (m.kind == GN_HELLO || m.kind == GN_SYNC)) {
		pthread_mutex_lock(&G->w_mu);
		relay_groups_enter(G->w);
		node_seen(G, m.from, mono_ms());
		if (m.kind == GN_SYNC && m.from != G->self)
			sync_to(G, m.from, mono_ms());
		relay_groups_leave(G->w);
		pthread_mutex_unlock(&G->w_mu);
	}
	natsMsg_Destroy(msg);
}

RELAY_NATS_MSG_HANDLER(on_hello)

/* a forwarded op names the group of its subject (else it would reach
 * a group this relay owns through another group's subject) */
static bool body_group_is(const struct gn_msg *m, const char *gid)
{
	char id[TF_CERT_ID_MAX + 1];

	return m->body_len > 1 &&
	       relay_name_get(m->body + 1, m->body_len - 1, id) != 0 &&
	       !strcmp(id, gid);
}

static void own_msg(struct relay_gnats *G, const char *gid,
		    const struct gn_msg *m)
{
	struct relay *r = G->r;
	uint64_t now = mono_ms(), before;
	struct relay_member vm;
	uint32_t vid;

	if (m->from == G->self)
		return;
	if (m->kind == GN_ASK) {
		ask_msg(G, gid, m, now);
		return;
	}
	if (m->kind == GN_HANDOVER) {
		/* the old owner's floor is idle: a hold can end now */
		ho_note(G, gid, now);
		if (relay_groups_hold(r->groups, gid, now, now) == 0)
			relay_groups_tick(r->groups, now);
		return;
	}
	if (owner_of(G, gid) != G->self)
		return; /* another owner in this relay's view */
	vid = vs_get(G, m->from, m->sess, m->kind != GN_GONE);
	if (vid == 0)
		return;
	if (m->kind == GN_GONE) {
		relay_groups_sess_gone(r->groups, vid, now);
		vs_at(G, vid)->used = false;
		return;
	}
	vm = (struct relay_member){
		.sess = vid, .officer = m->officer, .role = m->role};
	memcpy(vm.device, m->device, sizeof(vm.device));
	before = relay_groups_epoch(r->groups, gid, NULL, 0);
	if (m->kind == GN_JOIN) {
		uint8_t *w = malloc(m->body_len);
		if (w == NULL)
			return;
		memcpy(w, m->body, m->body_len);
		relay_groups_join(r->groups, &vm, &w, m->body_len, now_s(),
				  now);
		free(w);
		after_join(G, gid, before, now);
	} else if (m->kind == GN_REQ && m->body[0] != RELAY_OP_JOIN &&
		   body_group_is(m, gid)) {
		/* a piece of an upload never crosses: the origin relay
		 * assembles and verifies the roster and sends JOIN */
		if (relay_groups_request(r->groups, &vm, m->body, m->body_len,
					 now_s(), now) == -EBADMSG) {
			/* what relay.c tells a local device */
			static const char why[] = "malformed group request";
			uint8_t b[2 + sizeof(why)];
			b[0] = 0x7f;
			b[1] = ERR_BAD;
			memcpy(b + 2, why, sizeof(why) - 1);
			relay_gnats_remote(r, vid, b, sizeof(b) - 1);
		}
	}
}

static void on_own_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
		      void *closure)
{
	struct relay_gnats *G = closure;
	char gid[TF_CERT_ID_MAX + 1];
	struct gn_msg m;

	(void)nc;
	(void)sub;
	if (subj_gid(natsMsg_GetSubject(msg), "own", gid) &&
	    gn_parse((const uint8_t *)natsMsg_GetData(msg),
		     (size_t)natsMsg_GetDataLength(msg), &m) == 0 &&
	    (m.kind == GN_REQ || m.kind == GN_JOIN || m.kind == GN_GONE ||
	     m.kind == GN_HANDOVER || m.kind == GN_ASK)) {
		pthread_mutex_lock(&G->w_mu);
		relay_groups_enter(G->w);
		own_msg(G, gid, &m);
		relay_groups_leave(G->w);
		pthread_mutex_unlock(&G->w_mu);
	}
	natsMsg_Destroy(msg);
}

RELAY_NATS_MSG_HANDLER(on_own)

static void fan_msg(struct relay_gnats *G, const char *gid,
		    const struct gn_msg *m)
{
	struct relay *r = G->r;
	struct lg *l = lg_find(G, gid);

	if (l == NULL || m->from == G->self)
		return;
	if (m->kind == GN_ROSTER) {
		struct tf_roster *ro = NULL;
		if (relay_groups_verify(r->groups, m->body, m->body_len,
					now_s(), &ro) < 0) {
			logv(r, "group %s: refused a fanned-out roster", gid);
			return;
		}
		if (strcmp(ro->group, gid) != 0) {
			free(ro);
			return;
		}
		lg_roster(l, ro, m->body, m->body_len);
		/* stop routing to the sessions the newest roster drops (the
		 * group stays: joins may be on their way to the owner) */
		for (size_t i = 0; i < l->nmem;) {
			struct sess *s = relay_sess_by_id(r, l->mem[i]);
			if (s == NULL || tf_roster_find(l->roster, s->officer,
							s->device) < 0)
				l->mem[i] = l->mem[--l->nmem];
			else
				i++;
		}
		return;
	}
	/* from another node than the owner only what takes a floor away
	 * (an old owner revoking as it hands over) */
	if (m->body_len >= 2 && m->body[0] == RELAY_OP_FLOOR &&
	    m->from != owner_of(G, gid)) {
		size_t p = 2 + (size_t)m->body[1];
		if (m->body_len <= p || m->body[p] == TF_FLOOR_GRANTED ||
		    m->body[p] == TF_FLOOR_QUEUED) {
			logv(r,
			     "group %s: a grant fanned out by node %016llx, "
			     "not the owner: dropped",
			     gid, (unsigned long long)m->from);
			return;
		}
	} else if (m->from != owner_of(G, gid) || m->body_len < 1) {
		logv(r,
		     "group %s: fan-out from node %016llx, not the owner: "
		     "dropped",
		     gid, (unsigned long long)m->from);
		return;
	}
	if (m->body[0] == RELAY_OP_FLOOR) {
		floor_view(l, m->body, m->body_len);
	} else if (!frame_ok(l, m->body, m->body_len)) {
		logv(r,
		     "group %s: a fanned-out frame not of the talker's "
		     "burst and key: dropped",
		     gid);
		return;
	}
	for (size_t i = 0; i < l->nmem; i++) {
		struct sess *s;
		if (m->except_node == G->self && m->except_sess == l->mem[i])
			continue;
		s = relay_sess_by_id(r, l->mem[i]);
		if (s != NULL)
			relay_send(G->w, s, m->body, m->body_len);
	}
}

static void on_fan_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
		      void *closure)
{
	struct relay_gnats *G = closure;
	char gid[TF_CERT_ID_MAX + 1];
	struct gn_msg m;

	(void)nc;
	(void)sub;
	if (subj_gid(natsMsg_GetSubject(msg), "fan", gid) &&
	    gn_parse((const uint8_t *)natsMsg_GetData(msg),
		     (size_t)natsMsg_GetDataLength(msg), &m) == 0 &&
	    (m.kind == GN_FAN || m.kind == GN_ROSTER)) {
		pthread_mutex_lock(&G->w_mu);
		relay_groups_enter(G->w);
		fan_msg(G, gid, &m);
		relay_groups_leave(G->w);
		pthread_mutex_unlock(&G->w_mu);
	}
	natsMsg_Destroy(msg);
}

RELAY_NATS_MSG_HANDLER(on_fan)

/* group_mu held: a plaintext for local session sess just went out (or
 * is about to): a STATE makes it a member here (it joined on the
 * owner), and tells the floor. */
static void local_sent(struct relay_gnats *G, struct sess *s, const uint8_t *pt,
		       size_t n)
{
	char gid[TF_CERT_ID_MAX + 1];
	struct lg *l;
	size_t u;

	if (n < 2 || (pt[0] != RELAY_OP_STATE && pt[0] != RELAY_OP_FLOOR))
		return;
	u = relay_name_get(pt + 1, n - 1, gid);
	if (u == 0)
		return;
	l = pt[0] == RELAY_OP_STATE ? lg_get(G, gid) : lg_find(G, gid);
	if (l == NULL)
		return;
	if (l->roster == NULL) {
		/* the owner holds the roster it verified (a member that
		 * joined by epoch here never uploaded one) */
		const uint8_t *w = NULL;
		size_t wl = 0;
		struct tf_roster *ro = NULL;
		if (relay_groups_epoch(G->r->groups, gid, &w, &wl) != 0 &&
		    relay_groups_verify(G->r->groups, w, wl, now_s(), &ro) == 0)
			lg_roster(l, ro, w, wl);
	}
	if (pt[0] == RELAY_OP_STATE && l->roster &&
	    tf_roster_find(l->roster, s->officer, s->device) >= 0)
		lg_add(l, s->id);
	floor_view(l, pt, n);
}

static void on_node_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
		       void *closure)
{
	struct relay_gnats *G = closure;
	struct gn_msg m;
	int e;

	(void)nc;
	(void)sub;
	e = gn_parse((const uint8_t *)natsMsg_GetData(msg),
		     (size_t)natsMsg_GetDataLength(msg), &m);
	if (e == 0 && m.kind == GN_SAW && m.from != G->self) {
		pthread_mutex_lock(&G->w_mu);
		relay_groups_enter(G->w);
		saw_msg(G, &m, mono_ms());
		relay_groups_leave(G->w);
		pthread_mutex_unlock(&G->w_mu);
	} else if (e == 0 && m.kind == GN_TO && !(m.sess & RELAY_VSESS)) {
		pthread_mutex_lock(&G->w_mu);
		relay_groups_enter(G->w);
		struct sess *s = relay_sess_by_id(G->r, m.sess);
		if (s != NULL) {
			local_sent(G, s, m.body, m.body_len);
			relay_send(G->w, s, m.body, m.body_len);
		}
		relay_groups_leave(G->w);
		pthread_mutex_unlock(&G->w_mu);
	}
	natsMsg_Destroy(msg);
}

RELAY_NATS_MSG_HANDLER(on_node)

/* ---- the ticker: hello, expiry ---- */

static void *ticker(void *arg)
{
	struct relay_gnats *G = arg;
	uint64_t last_hello = 0;

	while (!atomic_load(&G->stop)) {
		uint64_t now = mono_ms();
		if (now - last_hello >= HELLO_MS) {
			struct gn_msg m = {.kind = GN_HELLO, .from = G->self};
			uint8_t h[GN_HDR];
			pub(G, "twofold.relay.hello", h, gn_put_head(&m, h),
			    NULL, 0);
			last_hello = now;
		}
		pthread_mutex_lock(&G->w_mu);
		relay_groups_enter(G->w);
		bool gone = false;
		for (size_t i = 0; i < G->nnode;) {
			if (now - G->node[i].seen > NODE_GONE_MS) {
				logv(G->r,
				     "relay node %016llx silent %d s: gone",
				     (unsigned long long)G->node[i].id,
				     NODE_GONE_MS / 1000);
				G->node[i] = G->node[--G->nnode];
				gone = G->lost_other = true;
				continue;
			}
			i++;
		}
		if (gone) {
			G->view_at = now;
			recompute(G, now);
		}
		for (size_t i = 0; i < ASK_MAX; i++)
			if (G->ask[i].used)
				ask_eval(G, &G->ask[i], now);
		/* the floors' clocks too: a hold, or a grant made from a NATS
		 * callback, sets a deadline the main thread (asleep without
		 * one) does not know of */
		relay_groups_tick(G->r->groups, now);
		relay_groups_leave(G->w);
		pthread_mutex_unlock(&G->w_mu);
		struct timespec ts = {0, TICK_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---- relay.c's hooks ---- */

int relay_gnats_request(struct worker *w, struct sess *s, const uint8_t *pt,
			size_t n)
{
	struct relay *r = w->r;
	struct relay_gnats *G = r->gnats;
	struct relay_member m = member_of(s);
	char gid[TF_CERT_ID_MAX + 1];
	uint64_t now = mono_ms();
	size_t u;

	if (n < 1)
		return -EBADMSG;
	if (pt[0] == RELAY_OP_JOIN) {
		_cleanup_free_ uint8_t *wire = NULL;
		struct tf_roster *ro = NULL;
		size_t len = 0;
		struct lg *l;
		int e = relay_groups_upload(r->groups, s->id, pt + 1, n - 1,
					    &wire, &len);
		if (e <= 0)
			return 0;
		/* this relay checks what it routes by, then the owner
		 * again (its verdict is final) */
		e = relay_groups_verify(r->groups, wire, len, now_s(), &ro);
		if (e < 0) {
			uint8_t b[160];
			int k = snprintf((char *)b + 2, sizeof(b) - 2,
					 "roster refused: %s",
					 tf_roster_reason(e));
			b[0] = 0x7f;
			b[1] = 5;
			relay_send(w, s, b,
				   2 + (size_t)TF_MIN(k, (int)sizeof(b) - 3));
			return 0;
		}
		snprintf(gid, sizeof(gid), "%s", ro->group);
		l = lg_get(G, gid);
		if (l != NULL)
			lg_roster(l, ro, wire, len);
		else
			free(ro);
		if (owner_of(G, gid) == G->self) {
			uint64_t before =
				relay_groups_epoch(r->groups, gid, NULL, 0);
			relay_groups_join(r->groups, &m, &wire, len, now_s(),
					  now);
			after_join(G, gid, before, now);
		} else {
			to_owner(G, GN_JOIN, gid, s, wire, len);
		}
		/* membership here comes with the owner's STATE (local_sent) */
		return 0;
	}
	u = relay_name_get(pt + 1, n - 1, gid);
	if (u == 0)
		return -EBADMSG;
	if (pt[0] == RELAY_OP_LEAVE) {
		struct lg *l = lg_find(G, gid);
		if (l != NULL)
			lg_del(l, s->id);
	}
	if (owner_of(G, gid) == G->self)
		return relay_groups_request(r->groups, &m, pt, n, now_s(), now);
	to_owner(G, GN_REQ, gid, s, pt, n);
	return 0;
}

void relay_gnats_sent(struct relay *r, struct sess *s, const uint8_t *pt,
		      size_t n)
{
	local_sent(r->gnats, s, pt, n);
}

void relay_gnats_remote(struct relay *r, uint32_t vid, const uint8_t *pt,
			size_t n)
{
	struct relay_gnats *G = r->gnats;
	struct vs *v = vs_at(G, vid);
	struct gn_msg m = {.kind = GN_TO, .from = G->self};
	uint8_t h[GN_HDR + 4];
	char subj[SUBJ_LEN];

	if (v == NULL)
		return;
	m.sess = v->sess;
	nsubj(v->node, subj);
	pub(G, subj, h, gn_put_head(&m, h), pt, n);
}

static void relay_gnats_fan(void *ctx, const char *gid, const uint8_t *pt,
			    size_t n, uint32_t except)
{
	struct relay *r = ctx;
	struct relay_gnats *G = r->gnats;
	struct gn_msg m = {.kind = GN_FAN, .from = G->self};
	struct vs *v = (except & RELAY_VSESS) ? vs_at(G, except) : NULL;
	uint8_t h[GN_HDR + 12];
	char subj[SUBJ_LEN];

	if (v != NULL) {
		m.except_node = v->node;
		m.except_sess = v->sess;
	}
	gsubj(gid, "fan", subj);
	pub(G, subj, h, gn_put_head(&m, h), pt, n);
}

void relay_gnats_sess_gone(struct relay *r, struct sess *s)
{
	struct relay_gnats *G = r->gnats;

	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++) {
		struct lg *l = &G->lg[i];
		bool in = false;
		if (!l->used)
			continue;
		for (size_t k = 0; k < l->nmem && !in; k++)
			in = l->mem[k] == s->id;
		if (!in)
			continue;
		if (owner_of(G, l->gid) != G->self)
			to_owner(G, GN_GONE, l->gid, s, NULL, 0);
		lg_del(l, s->id);
	}
}

int relay_gnats_open(struct relay *r, uint64_t lease_ms, uint64_t node_id)
{
	struct relay_gnats *G = calloc(1, sizeof(*G));
	char subj[SUBJ_LEN];
	natsStatus st;

	if (G == NULL)
		return -ENOMEM;
	G->r = r;
	G->nc = relay_nats_conn(r);
	/* a view change waits out one lease and one hello period: the
	 * old owner may not have heard the change for that long */
	G->lease_ms = lease_ms + HELLO_MS;
	G->w = calloc(1, sizeof(*G->w));
	G->self = node_id;
	if (G->w == NULL ||
	    (node_id == 0 && tf_random(&G->self, sizeof(G->self)) < 0)) {
		free(G->w);
		free(G);
		return -ENOMEM;
	}
	pthread_mutex_init(&G->w_mu, NULL);
	G->w->r = r;
	G->w->idx = -1;
	G->w->fd = r->w[0]->fd;
	G->w->ep = G->w->lfd = -1;
	/* just started: whoever owned a group before this relay was seen
	 * may still have a grant running */
	G->view_at = G->opened_at = mono_ms();
	r->gnats = G;
	relay_groups_set_fan(r->groups, relay_gnats_fan);
	nsubj(G->self, subj);
	st = natsConnection_Subscribe(&G->hello_sub, G->nc,
				      "twofold.relay.hello", on_hello, G);
	if (st == NATS_OK)
		st = natsConnection_Subscribe(&G->own_sub, G->nc,
					      "twofold.g.*.own", on_own, G);
	if (st == NATS_OK)
		st = natsConnection_Subscribe(&G->node_sub, G->nc, subj,
					      on_node, G);
	if (st == NATS_OK && pthread_create(&G->th, NULL, ticker, G) == 0)
		G->started = true;
	if (!G->started) {
		logv(r, "NATS (talk groups): %s", natsStatus_GetText(st));
		relay_gnats_close(r);
		return -ECONNREFUSED;
	}
	logv(r, "talk groups over NATS: node %016llx",
	     (unsigned long long)G->self);
	return 0;
}

void relay_gnats_stop(struct relay *r)
{
	struct relay_gnats *G = r->gnats;

	if (G == NULL || !G->started)
		return;
	atomic_store(&G->stop, true);
	pthread_join(G->th, NULL);
	G->started = false;
}

void relay_gnats_close(struct relay *r)
{
	struct relay_gnats *G = r->gnats;

	if (G == NULL)
		return;
	relay_gnats_stop(r);
	natsSubscription_Destroy(G->hello_sub);
	natsSubscription_Destroy(G->own_sub);
	natsSubscription_Destroy(G->node_sub);
	for (size_t i = 0; i < RELAY_GROUPS_MAX; i++)
		if (G->lg[i].used)
			lg_free(&G->lg[i]);
	relay_groups_set_fan(r->groups, NULL);
	free(G->w);
	free(G);
	r->gnats = NULL;
}
