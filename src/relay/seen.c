/* SPDX-License-Identifier: ISC */
/* twofold-relay's bounded INIT timestamp table (seen.h). */
#include <errno.h>
#include <stdlib.h>

#include "seen.h"

static size_t slot(const struct relay_seen *t, uint64_t serial)
{
	/* serials are CA-chosen, not attacker-chosen: a multiplicative hash
	 * spreads them well enough */
	return (size_t)((serial * 0x9e3779b97f4a7c15ull) >> 17) % t->nbucket;
}

int relay_seen_init(struct relay_seen *t, size_t cap)
{
	*t = (struct relay_seen){0};
	if (cap == 0 || cap > INT32_MAX / 2)
		return -EINVAL;
	t->cap = cap;
	t->nbucket = cap * 2;
	t->ent = calloc(cap, sizeof(*t->ent));
	t->bucket = malloc(t->nbucket * sizeof(*t->bucket));
	if (t->ent == NULL || t->bucket == NULL) {
		relay_seen_free(t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->nbucket; i++)
		t->bucket[i] = -1;
	for (size_t i = 0; i < cap; i++)
		t->ent[i].next = i + 1 < cap ? (int32_t)(i + 1) : -1;
	t->free_head = 0;
	t->window_ns = RELAY_SEEN_WINDOW_NS;
	return 0;
}

void relay_seen_free(struct relay_seen *t)
{
	free(t->ent);
	free(t->bucket);
	*t = (struct relay_seen){0};
}

static void unlink_ent(struct relay_seen *t, int32_t i)
{
	int32_t *p = &t->bucket[slot(t, t->ent[i].serial)];

	while (*p != i)
		p = &t->ent[*p].next;
	*p = t->ent[i].next;
	if (t->ent[i].ts > t->floor)
		t->floor = t->ent[i].ts;
	t->ent[i].next = t->free_head;
	t->free_head = i;
	t->n--;
}

/* Full: drop every entry the window already refuses (free: they can no
 * longer be replayed), or else the single oldest. One pass over the
 * table, only when it is full, so amortised over the INITs that filled
 * it; an INIT costs a DH and a signature check anyway. */
static void evict(struct relay_seen *t, uint64_t now_ns)
{
	uint64_t horizon = now_ns > t->window_ns ? now_ns - t->window_ns : 0;
	int32_t oldest = -1;
	size_t dropped = 0;

	for (size_t b = 0; b < t->nbucket; b++) {
		int32_t i = t->bucket[b];
		while (i >= 0) {
			int32_t next = t->ent[i].next;
			if (t->ent[i].ts < horizon) {
				uint64_t f = t->floor;
				unlink_ent(t, i);
				t->floor = f; /* refused by the window anyway */
				dropped++;
			} else if (oldest < 0 ||
				   t->ent[i].ts < t->ent[oldest].ts) {
				oldest = i;
			}
			i = next;
		}
	}
	if (dropped == 0 && oldest >= 0)
		unlink_ent(t, oldest);
}

bool relay_seen_fresh(struct relay_seen *t, uint64_t serial, uint64_t ts,
		      uint64_t now_ns)
{
	size_t b = slot(t, serial);
	int32_t i;

	if (now_ns > t->window_ns && ts < now_ns - t->window_ns)
		return false;
	for (i = t->bucket[b]; i >= 0; i = t->ent[i].next) {
		if (t->ent[i].serial == serial) {
			if (ts <= t->ent[i].ts)
				return false;
			t->ent[i].ts = ts;
			return true;
		}
	}
	/* unknown: it may have been evicted, so only a stamp newer than
	 * anything evicted is surely not a replay */
	if (ts <= t->floor)
		return false;
	if (t->n == t->cap)
		evict(t, now_ns);
	i = t->free_head;
	t->free_head = t->ent[i].next;
	t->ent[i] = (struct relay_seen_ent){serial, ts, t->bucket[b]};
	t->bucket[b] = i;
	t->n++;
	return true;
}
