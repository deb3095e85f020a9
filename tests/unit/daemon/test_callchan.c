/* SPDX-License-Identifier: ISC */
/* The comms service's lines to the daemon (src/daemon/callchan.c): exact
 * words, the 64-byte bound, lines split across reads, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "callchan.h"

struct seen {
	enum tfd_chan_word w[32];
	size_t n, overlong;
};

static void on_line(void *ud, const char *line, size_t len)
{
	struct seen *s = ud;

	if (line == NULL)
		s->overlong++;
	if (s->n < 32)
		s->w[s->n++] = tfd_chan_parse(line, len);
}

static size_t feed(struct tfd_linebuf *lb, struct seen *s, const char *txt)
{
	return tfd_linebuf_feed(lb, txt, strlen(txt), on_line, s);
}

static void test_words(void **st)
{
	(void)st;
	assert_int_equal(tfd_chan_parse("call active", 11),
			 TFD_CHAN_CALL_ACTIVE);
	assert_int_equal(tfd_chan_parse("call idle", 9), TFD_CHAN_CALL_IDLE);
	/* nothing near them counts */
	assert_int_equal(tfd_chan_parse("call active ", 12), TFD_CHAN_UNKNOWN);
	assert_int_equal(tfd_chan_parse(" call idle", 10), TFD_CHAN_UNKNOWN);
	assert_int_equal(tfd_chan_parse("Call Active", 11), TFD_CHAN_UNKNOWN);
	assert_int_equal(tfd_chan_parse("call activ", 10), TFD_CHAN_UNKNOWN);
	assert_int_equal(tfd_chan_parse("call idle\r", 10), TFD_CHAN_UNKNOWN);
	assert_int_equal(tfd_chan_parse("call active\0x", 13),
			 TFD_CHAN_UNKNOWN);
	assert_int_equal(tfd_chan_parse("foreground yes", 14),
			 TFD_CHAN_UNKNOWN);
	assert_int_equal(tfd_chan_parse("", 0), TFD_CHAN_UNKNOWN);
	assert_int_equal(tfd_chan_parse(NULL, 0), TFD_CHAN_UNKNOWN);
}

static void test_lines(void **st)
{
	struct tfd_linebuf lb = {0};
	struct seen s = {0};

	(void)st;
	assert_int_equal(feed(&lb, &s, "call active\ncall idle\n"), 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.w[0], TFD_CHAN_CALL_ACTIVE);
	assert_int_equal(s.w[1], TFD_CHAN_CALL_IDLE);
	/* split across reads */
	assert_int_equal(feed(&lb, &s, "call ac"), 0);
	assert_int_equal(feed(&lb, &s, "tive"), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(feed(&lb, &s, "\n"), 1);
	assert_int_equal(s.w[2], TFD_CHAN_CALL_ACTIVE);
	/* garbage, an empty line, binary */
	assert_int_equal(feed(&lb, &s, "rm -rf /\n\n\x01\xff\n"), 3);
	assert_int_equal(s.w[3], TFD_CHAN_UNKNOWN);
	assert_int_equal(s.w[4], TFD_CHAN_UNKNOWN);
	assert_int_equal(s.w[5], TFD_CHAN_UNKNOWN);
	assert_int_equal(s.overlong, 0);
}

static void test_bound(void **st)
{
	struct tfd_linebuf lb = {0};
	struct seen s = {0};
	char big[300];

	(void)st;
	/* 64 bytes: still a line */
	memset(big, 'x', 64);
	big[64] = '\n';
	assert_int_equal(tfd_linebuf_feed(&lb, big, 65, on_line, &s), 1);
	assert_int_equal(s.overlong, 0);
	/* a long line ending in a word is not cut into that word */
	memset(big, ' ', 200);
	memcpy(big + 200 - 11, "call active", 11);
	big[200] = '\n';
	assert_int_equal(tfd_linebuf_feed(&lb, big, 201, on_line, &s), 1);
	assert_int_equal(s.overlong, 1);
	assert_int_equal(s.w[1], TFD_CHAN_UNKNOWN);
	/* 65 bytes "call active" + padding, in pieces */
	memset(big, 'y', 65);
	assert_int_equal(tfd_linebuf_feed(&lb, big, 40, on_line, &s), 0);
	assert_int_equal(tfd_linebuf_feed(&lb, big, 25, on_line, &s), 0);
	assert_int_equal(feed(&lb, &s, "call idle\n"), 1);
	assert_int_equal(s.overlong, 2);
	assert_int_equal(s.w[2], TFD_CHAN_UNKNOWN);
	/* and the next line is read normally */
	assert_int_equal(feed(&lb, &s, "call idle\n"), 1);
	assert_int_equal(s.w[3], TFD_CHAN_CALL_IDLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
