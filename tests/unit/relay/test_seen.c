/* SPDX-License-Identifier: ISC */
/* The relay's bounded INIT timestamp table (seen.c): a replay per serial
 * is refused, stamps older than the window are refused, a full table
 * evicts (expired entries first, else the oldest) and an evicted serial's
 * old INIT is still refused (the floor). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "seen.h"

#define S 1000000000ull
#define NOW (1800000000ull * S)

static void test_replay(void **state)
{
	struct relay_seen t;

	assert_int_equal(relay_seen_init(&t, 8), 0);
	assert_true(relay_seen_fresh(&t, 1, NOW - 5, NOW));
	assert_false(relay_seen_fresh(&t, 1, NOW - 5, NOW)); /* replay */
	assert_false(relay_seen_fresh(&t, 1, NOW - 6, NOW)); /* older */
	assert_true(relay_seen_fresh(&t, 1, NOW - 4, NOW));
	assert_true(relay_seen_fresh(&t, 2, NOW - 5, NOW)); /* other serial */
	relay_seen_free(&t);
}

static void test_window(void **state)
{
	struct relay_seen t;

	assert_int_equal(relay_seen_init(&t, 8), 0);
	/* a recording older than the window: refused even by a table that
	 * never saw it (a restarted relay) */
	assert_false(
		relay_seen_fresh(&t, 1, NOW - RELAY_SEEN_WINDOW_NS - 1, NOW));
	assert_true(
		relay_seen_fresh(&t, 1, NOW - RELAY_SEEN_WINDOW_NS + S, NOW));
	relay_seen_free(&t);
}

static void test_evict_oldest(void **state)
{
	struct relay_seen t;

	assert_int_equal(relay_seen_init(&t, 4), 0);
	for (uint64_t i = 1; i <= 4; i++)
		assert_true(relay_seen_fresh(&t, i, NOW + i, NOW + 10));
	assert_int_equal(t.n, 4);
	/* full: serial 5 evicts the oldest (serial 1, stamp NOW+1) */
	assert_true(relay_seen_fresh(&t, 5, NOW + 5, NOW + 10));
	assert_int_equal(t.n, 4);
	/* serial 1's recorded INIT is still refused: below the floor */
	assert_false(relay_seen_fresh(&t, 1, NOW + 1, NOW + 10));
	/* and the others are still known exactly */
	assert_false(relay_seen_fresh(&t, 3, NOW + 3, NOW + 10));
	assert_true(relay_seen_fresh(&t, 3, NOW + 6, NOW + 10));
	/* serial 1 connects again with a new stamp */
	assert_true(relay_seen_fresh(&t, 1, NOW + 7, NOW + 10));
	assert_int_equal(t.n, 4);
	/* serial 2 (NOW+2) was evicted for it */
	assert_false(relay_seen_fresh(&t, 2, NOW + 2, NOW + 10));
	relay_seen_free(&t);
}

static void test_evict_expired(void **state)
{
	struct relay_seen t;
	uint64_t later = NOW + RELAY_SEEN_WINDOW_NS + 100 * S;

	assert_int_equal(relay_seen_init(&t, 4), 0);
	for (uint64_t i = 1; i <= 4; i++)
		assert_true(relay_seen_fresh(&t, i, NOW + i, NOW + 10));
	/* all four are past the window by now: all go, the floor stays
	 * (the window refuses them) */
	assert_true(relay_seen_fresh(&t, 9, later, later));
	assert_int_equal(t.n, 1);
	assert_int_equal(t.floor, 0);
	relay_seen_free(&t);
}

static void test_many(void **state)
{
	struct relay_seen t;

	/* a full table stays consistent under churn */
	assert_int_equal(relay_seen_init(&t, 64), 0);
	for (uint64_t i = 1; i <= 10000; i++)
		assert_true(relay_seen_fresh(&t, i % 200, NOW + i, NOW + i));
	assert_int_equal(t.n, 64);
	assert_false(relay_seen_fresh(&t, 10000 % 200, NOW + 10000, NOW));
	relay_seen_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_evict_oldest),
		cmocka_unit_test(test_evict_expired),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
