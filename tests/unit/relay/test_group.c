/* SPDX-License-Identifier: ISC */
/* Talk-group fan-out across a rekey (src/relay/group.c, issue 15): a join
 * whose officer id sorts before the talker shifts the talker's roster
 * index; its frames sealed under the previous epoch, with its previous
 * index, still reach the other members for RELAY_GROUP_GRACE_MS, and
 * nothing else does: not another member's previous index (which is the
 * talker's index now), not after the window, not an epoch older than
 * the previous one. Driven through relay_groups_request with a send
 * callback: no sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "group.h"
#include "twofold/sframe.h"
#include "../cert/certtest.h"

#define GID "north-1"
#define T0 100000ull /* monotonic ms of the rekey */

enum { S_AUTH = 9, S_JOINER = 1, S_TALKER = 2, S_LISTENER = 3 };

static const struct tf_floor_cfg fcfg = {
	.max_talk_ms = 0,
	.queue_max = 4,
};

struct seen {
	unsigned frames[16]; /* RELAY_OP_FRAME by session */
	uint32_t burst;	     /* of the last GRANTED */
};

static void on_send(void *ctx, uint32_t sess, const uint8_t *pt, size_t n)
{
	struct seen *sn = ctx;
	size_t l;

	if (n < 1)
		return;
	if (pt[0] == RELAY_OP_FRAME && sess < 16)
		sn->frames[sess]++;
	/* FLOOR u8 n | group | type | reason | emergency | u16 | u32 burst */
	if (pt[0] == RELAY_OP_FLOOR && n > 2 && (l = 2 + pt[1]) + 9 <= n &&
	    pt[l] == TF_FLOOR_GRANTED)
		sn->burst = (uint32_t)pt[l + 5] << 24 |
			    (uint32_t)pt[l + 6] << 16 |
			    (uint32_t)pt[l + 7] << 8 | pt[l + 8];
}

struct dev {
	const char *officer;
	uint8_t hash[TF_ROSTER_DEVHASH_BYTES];
	uint32_t sess;
};

struct fixture {
	const struct tf_suite *s;
	struct ca ca;
	struct tf_key *ga;
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
	struct dev joiner, talker, listener;
	struct relay_groups *g;
	struct seen sn;
};

static void dev_make(const struct tf_suite *s, struct dev *d,
		     const char *officer, uint8_t b, uint32_t sess)
{
	uint8_t pk[TF_PK_MAX];

	memset(pk, b, sizeof(pk));
	d->officer = officer;
	d->sess = sess;
	assert_int_equal(tf_roster_device_hash(s, pk, s->pk_bytes, d->hash), 0);
}

static struct relay_member member_of(const struct dev *d)
{
	struct relay_member m = {.sess = d->sess,
				 .officer = d->officer,
				 .role = TF_ROLE_OFFICER};

	memcpy(m.device, d->hash, sizeof(m.device));
	return m;
}

/* the group authority's key and certificate */
static void authority_make(struct fixture *f)
{
	uint8_t seed[TF_KEY_BYTES];
	struct tf_cert c;
	int n;

	memset(seed, 0x21, sizeof(seed));
	assert_int_equal(tf_key_sign_from_seed(f->s, seed, &f->ga), 0);
	memset(&c, 0, sizeof(c));
	c.suite = f->s->id;
	c.role = TF_ROLE_GROUP_AUTHORITY;
	c.serial = 10;
	c.not_before = NOW - DAY;
	c.not_after = NOW + 30 * DAY;
	strcpy(c.officer, "groupd");
	strcpy(c.device, "groupd.1");
	c.sign_pk_len = c.dh_pk_len = f->s->pk_bytes;
	assert_int_equal(tf_key_public(f->ga, c.sign_pk, TF_PK_MAX), 0);
	memset(c.dh_pk, 0x05, f->s->pk_bytes);
	n = tf_cert_sign(&c, f->ca.sk, f->cert, sizeof(f->cert));
	assert_true(n > 0);
	f->certlen = (size_t)n;
}

/* the roster of epoch with the given members, as signed */
static uint8_t *roster_wire(struct fixture *f, uint64_t epoch,
			    const struct dev **m, size_t n, size_t *len)
{
	_cleanup_free_ struct tf_roster *r = NULL;
	uint8_t *w = NULL;

	assert_int_equal(tf_roster_new(n, &r), 0);
	strcpy(r->group, GID);
	r->epoch = epoch;
	r->issued_at = NOW - 60;
	r->expires_at = NOW + 3600;
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(r->m[i].officer, sizeof(r->m[i].officer), "%s",
			 m[i]->officer);
		memcpy(r->m[i].device, m[i]->hash, TF_ROSTER_DEVHASH_BYTES);
		r->m[i].role = TF_ROLE_OFFICER;
	}
	assert_int_equal(tf_roster_sort(r), 0);
	assert_int_equal(tf_roster_sign(r, f->ga, f->cert, f->certlen, &w, len),
			 0);
	return w;
}

/* the authority publishes a roster (a rekey on the relay) */
static void publish(struct fixture *f, uint64_t epoch, const struct dev **m,
		    size_t n, uint64_t now_ms)
{
	struct relay_member a = {.sess = S_AUTH,
				 .officer = "groupd",
				 .role = TF_ROLE_GROUP_AUTHORITY};
	size_t len;
	uint8_t *w = roster_wire(f, epoch, m, n, &len);

	relay_groups_join(f->g, &a, &w, len, NOW, now_ms);
	free(w); /* NULL when the relay kept it */
	assert_int_equal(relay_groups_epoch(f->g, GID, NULL, NULL), epoch);
}

static void join(struct fixture *f, const struct dev *d, uint64_t epoch)
{
	struct relay_member m = member_of(d);
	uint8_t b[64];
	size_t l = 0;

	b[l++] = RELAY_OP_JOIN_EPOCH;
	b[l++] = sizeof(GID) - 1;
	memcpy(b + l, GID, sizeof(GID) - 1);
	l += sizeof(GID) - 1;
	for (int i = 7; i >= 0; i--)
		b[l++] = (uint8_t)(epoch >> (8 * i));
	assert_int_equal(relay_groups_request(f->g, &m, b, l, NOW, T0 - 500),
			 0);
}

static void floor_req(struct fixture *f, const struct dev *d)
{
	struct relay_member m = member_of(d);
	uint8_t b[64];
	size_t l = 0;

	b[l++] = RELAY_OP_FLOOR_REQ;
	b[l++] = sizeof(GID) - 1;
	memcpy(b + l, GID, sizeof(GID) - 1);
	l += sizeof(GID) - 1;
	b[l++] = 50;
	b[l++] = 0;
	assert_int_equal(relay_groups_request(f->g, &m, b, l, NOW, T0 - 400),
			 0);
}

/* One MEDIA from d under key id (epoch, index) at now_ms: what
 * relay_groups_request returns. The key is any key: the relay opens
 * nothing, it only reads the key id. */
static int media(struct fixture *f, const struct dev *d, uint64_t epoch,
		 unsigned index, uint64_t now_ms)
{
	struct relay_member m = member_of(d);
	uint8_t base[TF_KEY_BYTES], b[256], opus[60];
	struct tf_sframe_key *k = NULL;
	uint64_t kid = tf_group_kid(epoch, index);
	size_t l = 0;
	int n;

	memset(base, 0x33, sizeof(base));
	memset(opus, 0x44, sizeof(opus));
	assert_int_equal(
		tf_sframe_key_derive(f->s, base, sizeof(base), kid, &k), 0);
	b[l++] = RELAY_OP_MEDIA;
	b[l++] = sizeof(GID) - 1;
	memcpy(b + l, GID, sizeof(GID) - 1);
	l += sizeof(GID) - 1;
	for (int i = 3; i >= 0; i--)
		b[l++] = (uint8_t)(f->sn.burst >> (8 * i));
	n = tf_sframe_seal(k, 1, opus, sizeof(opus), b + l, sizeof(b) - l);
	tf_sframe_key_free(k);
	assert_true(n > 0);
	return relay_groups_request(f->g, &m, b, l + (size_t)n, NOW, now_ms);
}

static void fixture_make(struct fixture *f, const struct tf_suite *s)
{
	memset(f, 0, sizeof(*f));
	f->s = s;
	ca_make(&f->ca, s, 0x11);
	authority_make(f);
	/* the joiner's officer id sorts before the talker's */
	dev_make(s, &f->joiner, "a-joiner", 0x61, S_JOINER);
	dev_make(s, &f->talker, "b-talker", 0x62, S_TALKER);
	dev_make(s, &f->listener, "c-listener", 0x63, S_LISTENER);
	assert_int_equal(
		relay_groups_new(&f->ca.anchor, &fcfg, on_send, &f->sn, &f->g),
		0);
}

static void fixture_free(struct fixture *f)
{
	relay_groups_free(f->g);
	tf_key_free(f->ga);
	tf_key_free(f->ca.sk);
}

/* epoch 5 {talker 0, listener 1}; the talker holds the floor; at T0
 * epoch 6 {joiner 0, talker 1, listener 2} */
static void start(struct fixture *f)
{
	const struct dev *e5[] = {&f->talker, &f->listener};
	const struct dev *e6[] = {&f->joiner, &f->talker, &f->listener};

	publish(f, 5, e5, 2, T0 - 600);
	join(f, &f->talker, 5);
	join(f, &f->listener, 5);
	floor_req(f, &f->talker);
	assert_int_not_equal(f->sn.burst, 0);
	assert_int_equal(media(f, &f->talker, 5, 0, T0 - 20), 0);
	assert_int_equal(f->sn.frames[S_LISTENER], 1);
	publish(f, 6, e6, 3, T0);
}

static void test_in_flight(const struct tf_suite *s)
{
	struct fixture f;

	fixture_make(&f, s);
	start(&f);
	/* the talker's frames sealed before it had epoch 6: all forwarded */
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(media(&f, &f.talker, 5, 0, T0 + 20 * i), 0);
	assert_int_equal(f.sn.frames[S_LISTENER], 11);
	/* then under epoch 6, its new index */
	assert_int_equal(media(&f, &f.talker, 6, 1, T0 + 200), 0);
	assert_int_equal(f.sn.frames[S_LISTENER], 12);
	/* and an old one overtaken in the network, still in the window */
	assert_int_equal(media(&f, &f.talker, 5, 0, T0 + 220), 0);
	assert_int_equal(f.sn.frames[S_LISTENER], 13);
	assert_int_equal(f.sn.frames[S_TALKER], 0);
	fixture_free(&f);
}

static void test_refused(const struct tf_suite *s)
{
	struct fixture f;

	fixture_make(&f, s);
	start(&f);
	/* epoch 5 index 1 was the listener's (and 1 is the talker's index
	 * in epoch 6): another member's name */
	assert_int_equal(media(&f, &f.talker, 5, 1, T0 + 10), -EBADMSG);
	/* epoch 6 index 0 is the joiner's */
	assert_int_equal(media(&f, &f.talker, 6, 0, T0 + 10), -EBADMSG);
	assert_int_equal(media(&f, &f.talker, 6, 2, T0 + 10), -EBADMSG);
	/* a newer epoch than the relay's */
	assert_int_equal(media(&f, &f.talker, 7, 1, T0 + 10), -EBADMSG);
	/* epoch 4 never was the talker's previous one here */
	assert_int_equal(media(&f, &f.talker, 4, 0, T0 + 10), -ESTALE);
	/* the listener does not hold the floor, in either epoch */
	assert_int_equal(media(&f, &f.listener, 5, 1, T0 + 10), 0);
	assert_int_equal(media(&f, &f.listener, 6, 2, T0 + 10), 0);
	assert_int_equal(f.sn.frames[S_LISTENER], 1);
	assert_int_equal(f.sn.frames[S_TALKER], 0);
	/* after the window the previous epoch is over */
	assert_int_equal(
		media(&f, &f.talker, 5, 0, T0 + RELAY_GROUP_GRACE_MS - 1), 0);
	assert_int_equal(f.sn.frames[S_LISTENER], 2);
	assert_int_equal(media(&f, &f.talker, 5, 0, T0 + RELAY_GROUP_GRACE_MS),
			 -ESTALE);
	assert_int_equal(media(&f, &f.talker, 5, 0, T0 + 60000), -ESTALE);
	assert_int_equal(f.sn.frames[S_LISTENER], 2);
	assert_int_equal(media(&f, &f.talker, 6, 1, T0 + 60000), 0);
	assert_int_equal(f.sn.frames[S_LISTENER], 3);
	fixture_free(&f);
}

/* two rekeys in a row: only the one before the epoch in force is routed */
static void test_two_rekeys(const struct tf_suite *s)
{
	struct fixture f;
	const struct dev *e7[] = {&f.talker, &f.listener};

	fixture_make(&f, s);
	start(&f);
	/* epoch 7 drops the joiner: the talker is back at 0 */
	publish(&f, 7, e7, 2, T0 + 300);
	assert_int_equal(media(&f, &f.talker, 5, 0, T0 + 310), -ESTALE);
	assert_int_equal(media(&f, &f.talker, 6, 0, T0 + 310), -EBADMSG);
	assert_int_equal(f.sn.frames[S_LISTENER], 1);
	assert_int_equal(media(&f, &f.talker, 6, 1, T0 + 310), 0);
	assert_int_equal(media(&f, &f.talker, 7, 0, T0 + 320), 0);
	assert_int_equal(f.sn.frames[S_LISTENER], 3);
	assert_int_equal(
		media(&f, &f.talker, 6, 1, T0 + 300 + RELAY_GROUP_GRACE_MS),
		-ESTALE);
	assert_int_equal(f.sn.frames[S_LISTENER], 3);
	fixture_free(&f);
}

#define BOTH(fn)                                                               \
	static void fn##_intl(void **st)                                       \
	{                                                                      \
		(void)st;                                                      \
		fn(tf_suite_by_name("intl"));                                  \
	}                                                                      \
	static void fn##_gm(void **st)                                         \
	{                                                                      \
		(void)st;                                                      \
		fn(tf_suite_by_name("gm"));                                    \
	}
BOTH(test_in_flight)
BOTH(test_refused)
BOTH(test_two_rekeys)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_flight_intl),
		cmocka_unit_test(test_in_flight_gm),
		cmocka_unit_test(test_refused_intl),
		cmocka_unit_test(test_refused_gm),
		cmocka_unit_test(test_two_rekeys_intl),
		cmocka_unit_test(test_two_rekeys_gm),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
