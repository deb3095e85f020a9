/* SPDX-License-Identifier: ISC */
/* The relays' NATS messages (gnmsg.c) for learning the floor on a
 * takeover: ASK and SAW encode and parse back; a SAW with an unknown
 * state, a bad or missing group id, trailing bytes or a short fixed part,
 * and an ASK with a body of the wrong length, are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gnmsg.h"

static size_t saw(uint8_t *out, uint8_t state, const char *gid)
{
	struct gn_msg m = {.kind = GN_SAW,
			   .from = 0xa100,
			   .ask = 7,
			   .state = state,
			   .watched_ms = 70000,
			   .ago_ms = 1200,
			   .lease_ms = 61000};

	strcpy(m.gid, gid);
	return gn_put_head(&m, out);
}

static void test_roundtrip(void **state)
{
	uint8_t b[GN_HDR + GN_MEMBER_MAX + 12];
	struct gn_msg m = {.kind = GN_ASK, .from = 0xb102, .ask = 42};
	size_t n = gn_put_head(&m, b);

	(void)state;
	assert_int_equal(n, GN_HDR + 4);
	assert_int_equal(gn_parse(b, n, &m), 0);
	assert_int_equal(m.kind, GN_ASK);
	assert_int_equal(m.ask, 42);
	assert_int_equal(m.from, 0xb102);
	n = saw(b, GN_SAW_TAKEN, "north-1");
	assert_int_equal(gn_parse(b, n, &m), 0);
	assert_int_equal(m.kind, GN_SAW);
	assert_int_equal(m.ask, 7);
	assert_int_equal(m.state, GN_SAW_TAKEN);
	assert_int_equal(m.watched_ms, 70000);
	assert_int_equal(m.ago_ms, 1200);
	assert_int_equal(m.lease_ms, 61000);
	assert_string_equal(m.gid, "north-1");
	assert_int_equal(m.body_len, 0);
}

static void test_malformed(void **state)
{
	uint8_t b[GN_HDR + GN_MEMBER_MAX + 16];
	struct gn_msg m = {.kind = GN_ASK, .from = 1, .ask = 1};
	size_t n;

	(void)state;
	n = gn_put_head(&m, b);
	b[n] = 0;
	assert_int_equal(gn_parse(b, n + 1, &m), -EBADMSG); /* trailing */
	assert_int_equal(gn_parse(b, n - 1, &m), -EBADMSG); /* short */
	n = saw(b, GN_SAW_IDLE, "north-1");
	b[n] = 'x';
	assert_int_equal(gn_parse(b, n + 1, &m), -EBADMSG);
	assert_int_equal(gn_parse(b, n - 1, &m), -EBADMSG);
	assert_int_equal(gn_parse(b, GN_HDR + GN_SAW_FIXED, &m), -EBADMSG);
	n = saw(b, 3, "north-1"); /* no such state */
	assert_int_equal(gn_parse(b, n, &m), -EBADMSG);
	n = saw(b, GN_SAW_NONE, "north-1");
	b[n - 2] = 0x01; /* a control byte in the group id */
	assert_int_equal(gn_parse(b, n, &m), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
