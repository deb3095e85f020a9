/* SPDX-License-Identifier: ISC */
/*
 * A call's media key chain: the schedule and what each side holds are in
 * callkey.h. Every step derives the new state completely before the old
 * one is touched, so a failure leaves the chain as it was.
 */
#include <errno.h>
#include <string.h>

#include "twofold/crypto.h"
#include "twofold/secmem.h"

#include "callkey.h"

static const char next_info[] = "twofold call v1 next";

struct tf_callkey_tx {
	const struct tf_suite *s;
	unsigned role;
	uint64_t epoch;
	uint8_t base[TF_CALLKEY_BASE_BYTES]; /* base(epoch) */
	struct tf_sframe_key *key;	     /* key(epoch) */
};

struct tf_callkey_rx {
	const struct tf_suite *s;
	unsigned role;
	uint64_t epoch;				  /* of cur */
	uint8_t next_base[TF_CALLKEY_BASE_BYTES]; /* base(epoch + 1) */
	struct tf_sframe_key *cur, *next, *prev;
	uint64_t prev_until; /* µs: prev is wiped from then on */
};

/* the one-way step: out = base(e + 1) from in = base(e) */
static int step(const struct tf_suite *s, const uint8_t *in, uint8_t *out)
{
	return tf_kdf(s, out, TF_CALLKEY_BASE_BYTES, in, TF_CALLKEY_BASE_BYTES,
		      NULL, 0, (const uint8_t *)next_info,
		      sizeof(next_info) - 1);
}

static int key_of(const struct tf_suite *s, const uint8_t *base, uint64_t epoch,
		  unsigned role, struct tf_sframe_key **out)
{
	return tf_sframe_key_derive(s, base, TF_CALLKEY_BASE_BYTES,
				    tf_callkey_kid(epoch, role), out);
}

int tf_callkey_tx_new(const struct tf_suite *s,
		      const uint8_t base[static TF_CALLKEY_BASE_BYTES],
		      unsigned role, struct tf_callkey_tx **out)
{
	struct tf_callkey_tx *t;
	int r;

	if (role == 0 || role > 7)
		return -EINVAL;
	t = tf_secure_alloc(sizeof(*t));
	if (!t)
		return -errno;
	t->s = s;
	t->role = role;
	t->epoch = TF_CALLKEY_EPOCH_FIRST;
	memcpy(t->base, base, TF_CALLKEY_BASE_BYTES);
	r = key_of(s, t->base, t->epoch, role, &t->key);
	if (r < 0) {
		tf_secure_free(t);
		return r;
	}
	*out = t;
	return 0;
}

int tf_callkey_tx_next(struct tf_callkey_tx *t)
{
	uint8_t nb[TF_CALLKEY_BASE_BYTES];
	struct tf_sframe_key *nk = NULL;
	int r;

	if (t->epoch >= (UINT64_MAX >> 3))
		return -EOVERFLOW;
	r = step(t->s, t->base, nb);
	if (r == 0)
		r = key_of(t->s, nb, t->epoch + 1, t->role, &nk);
	if (r == 0) {
		tf_sframe_key_free(t->key);
		t->key = nk;
		memcpy(t->base, nb, sizeof(nb));
		t->epoch++;
	}
	tf_memzero(nb, sizeof(nb));
	return r;
}

const struct tf_sframe_key *tf_callkey_tx_key(const struct tf_callkey_tx *t)
{
	return t->key;
}

uint64_t tf_callkey_tx_epoch(const struct tf_callkey_tx *t)
{
	return t->epoch;
}

void tf_callkey_tx_free(struct tf_callkey_tx *t)
{
	if (!t)
		return;
	tf_sframe_key_free(t->key);
	tf_secure_free(t); /* zeroes the base */
}

/* key(e + 1) and base(e + 1) from base(e); nothing changes on failure */
static int precompute(struct tf_callkey_rx *r, const uint8_t *base_e,
		      uint64_t e, uint8_t *nb, struct tf_sframe_key **nk)
{
	int rc = step(r->s, base_e, nb);

	if (rc == 0)
		rc = key_of(r->s, nb, e + 1, r->role, nk);
	return rc;
}

int tf_callkey_rx_new(const struct tf_suite *s,
		      const uint8_t base[static TF_CALLKEY_BASE_BYTES],
		      unsigned role, struct tf_callkey_rx **out)
{
	struct tf_callkey_rx *r;
	int rc;

	if (role == 0 || role > 7)
		return -EINVAL;
	r = tf_secure_alloc(sizeof(*r));
	if (!r)
		return -errno;
	r->s = s;
	r->role = role;
	r->epoch = TF_CALLKEY_EPOCH_FIRST;
	rc = key_of(s, base, r->epoch, role, &r->cur);
	if (rc == 0)
		rc = precompute(r, base, r->epoch, r->next_base, &r->next);
	if (rc < 0) {
		tf_callkey_rx_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static void expire(struct tf_callkey_rx *r, uint64_t now_us)
{
	if (r->prev && now_us >= r->prev_until) {
		tf_sframe_key_free(r->prev);
		r->prev = NULL;
	}
}

const struct tf_sframe_key *tf_callkey_rx_find(struct tf_callkey_rx *r,
					       uint64_t kid, uint64_t now_us)
{
	expire(r, now_us);
	if (kid == tf_sframe_key_kid(r->cur))
		return r->cur;
	if (kid == tf_sframe_key_kid(r->next))
		return r->next;
	if (r->prev && kid == tf_sframe_key_kid(r->prev))
		return r->prev;
	return NULL;
}

int tf_callkey_rx_opened(struct tf_callkey_rx *r, uint64_t kid, uint64_t now_us)
{
	uint8_t nb[TF_CALLKEY_BASE_BYTES];
	struct tf_sframe_key *nk = NULL;
	int rc;

	if (kid != tf_sframe_key_kid(r->next))
		return 0;
	if (r->epoch + 1 >= (UINT64_MAX >> 3))
		return -EOVERFLOW;
	rc = precompute(r, r->next_base, r->epoch + 1, nb, &nk);
	if (rc == 0) {
		/* a step within the grace of the last one: the oldest goes
		 * now (one previous key at most) */
		tf_sframe_key_free(r->prev);
		r->prev = r->cur;
		r->prev_until = now_us + TF_CALLKEY_GRACE_US;
		r->cur = r->next;
		r->next = nk;
		memcpy(r->next_base, nb, sizeof(nb));
		r->epoch++;
		rc = 1;
	}
	tf_memzero(nb, sizeof(nb));
	return rc;
}

uint64_t tf_callkey_rx_epoch(const struct tf_callkey_rx *r)
{
	return r->epoch;
}

bool tf_callkey_rx_has_prev(const struct tf_callkey_rx *r)
{
	return r->prev != NULL;
}

void tf_callkey_rx_free(struct tf_callkey_rx *r)
{
	if (!r)
		return;
	tf_sframe_key_free(r->cur);
	tf_sframe_key_free(r->next);
	tf_sframe_key_free(r->prev);
	tf_secure_free(r);
}
