/* SPDX-License-Identifier: ISC */
/* Notification records (include/twofold/notify.h): round trip, bounds,
 * the closed byte set, and the notifier's sanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "twofold/notify.h"

static ssize_t enc(const char *app, const char *sum, const char *body,
		   uint8_t *buf)
{
	struct tf_notify n = {.urgency = 1};

	strcpy(n.app, app);
	strcpy(n.summary, sum);
	strcpy(n.body, body);
	return tf_notify_encode(&n, buf, TF_NOTIFY_MAX);
}

static void test_roundtrip(void **st)
{
	uint8_t buf[TF_NOTIFY_MAX];
	struct tf_notify n;
	ssize_t len;

	(void)st;
	len = enc("mail", "Hello", "line one\nline two", buf);
	assert_int_equal(len, TF_NOTIFY_HDR_BYTES + 4 + 5 + 17);
	assert_int_equal(tf_notify_parse(buf, (size_t)len, &n), 0);
	assert_string_equal(n.app, "mail");
	assert_string_equal(n.summary, "Hello");
	assert_string_equal(n.body, "line one\nline two");
	assert_int_equal(n.urgency, 1);
	/* truncated, trailing byte */
	assert_int_equal(tf_notify_parse(buf, (size_t)len - 1, &n), -EBADMSG);
	assert_string_equal(n.summary, "");
	assert_int_equal(tf_notify_parse(buf, (size_t)len + 1, &n), -EBADMSG);
	buf[4] = 2;
	assert_int_equal(tf_notify_parse(buf, (size_t)len, &n),
			 -EPROTONOSUPPORT);
}

static void test_bad_bytes(void **st)
{
	uint8_t buf[TF_NOTIFY_MAX];
	struct tf_notify n;
	ssize_t len;

	(void)st;
	len = enc("a", "Sum", "body", buf);
	assert_true(len > 0);
	buf[TF_NOTIFY_HDR_BYTES + 1] = '\n'; /* newline in the summary */
	assert_int_equal(tf_notify_parse(buf, (size_t)len, &n), -EBADMSG);
	buf[TF_NOTIFY_HDR_BYTES + 1] = 'S';
	buf[len - 1] = 0x1b; /* ESC in the body */
	assert_int_equal(tf_notify_parse(buf, (size_t)len, &n), -EBADMSG);
	buf[len - 1] = 'y';
	buf[5] = 3; /* urgency */
	assert_int_equal(tf_notify_parse(buf, (size_t)len, &n), -EBADMSG);
	buf[5] = 1;
	buf[9] = 0; /* empty summary, length then wrong too */
	assert_int_equal(tf_notify_parse(buf, (size_t)len, &n), -EBADMSG);
	assert_int_equal(enc("a", "", "b", buf), -EINVAL);
	assert_int_equal(tf_notify_parse(buf, 3, &n), -EBADMSG);
}

static void test_bounds(void **st)
{
	uint8_t buf[TF_NOTIFY_MAX + 8];
	struct tf_notify n = {0};
	ssize_t len;

	(void)st;
	memset(n.app, 'a', TF_NOTIFY_APP_MAX);
	memset(n.summary, 's', TF_NOTIFY_SUMMARY_MAX);
	memset(n.body, 'b', TF_NOTIFY_BODY_MAX);
	len = tf_notify_encode(&n, buf, sizeof(buf));
	assert_int_equal(len, TF_NOTIFY_MAX);
	assert_int_equal(tf_notify_encode(&n, buf, TF_NOTIFY_MAX - 1),
			 -ENOBUFS);
	assert_int_equal(tf_notify_parse(buf, (size_t)len, &n), 0);
	assert_int_equal(strlen(n.body), TF_NOTIFY_BODY_MAX);
	/* a body length one over the bound, the bytes present */
	buf[10] = (TF_NOTIFY_BODY_MAX + 1) >> 8;
	buf[11] = (TF_NOTIFY_BODY_MAX + 1) & 0xff;
	buf[len] = 'b';
	assert_int_equal(tf_notify_parse(buf, (size_t)len + 1, &n), -EBADMSG);
}

static void test_sanitize(void **st)
{
	char out[8];

	(void)st;
	tf_notify_sanitize(out, sizeof(out), "a\xc3\xa9z\x1b", false);
	assert_string_equal(out, "a?z?");
	tf_notify_sanitize(out, sizeof(out), "x\ny", true);
	assert_string_equal(out, "x\ny");
	tf_notify_sanitize(out, sizeof(out), "x\ny", false);
	assert_string_equal(out, "x?y");
	tf_notify_sanitize(out, sizeof(out), "0123456789", false);
	assert_string_equal(out, "0123456");
	tf_notify_sanitize(out, sizeof(out), "\xe2\x82", false);
	assert_string_equal(out, "?");
}

static void test_redact(void **st)
{
	struct tf_notify n = {.urgency = 1};
	char out[TF_NOTIFY_MAX];

	(void)st;
	/* personal: full, in front or not */
	assert_int_equal(tf_notify_view_for(false, false, true),
			 TF_NOTIFY_FULL);
	assert_int_equal(tf_notify_view_for(false, true, true), TF_NOTIFY_FULL);
	/* secure: full only unlocked and in front */
	assert_int_equal(tf_notify_view_for(true, true, true), TF_NOTIFY_FULL);
	assert_int_equal(tf_notify_view_for(true, false, true),
			 TF_NOTIFY_REDACTED);
	assert_int_equal(tf_notify_view_for(true, true, false),
			 TF_NOTIFY_REDACTED);
	assert_int_equal(tf_notify_view_for(true, false, false),
			 TF_NOTIFY_REDACTED);

	strcpy(n.app, "radio");
	strcpy(n.summary, "Dispatch");
	strcpy(n.body, "Unit 7 to REDKESTREL");
	assert_int_equal(tf_notify_render(&n, "secure", TF_NOTIFY_FULL, out,
					  sizeof(out)),
			 0);
	assert_string_equal(out, "radio\nDispatch\nUnit 7 to REDKESTREL");
	assert_int_equal(tf_notify_render(&n, "secure", TF_NOTIFY_REDACTED, out,
					  sizeof(out)),
			 0);
	assert_string_equal(out, "Secure: new message");
	assert_null(strstr(out, "Dispatch"));
	assert_null(strstr(out, "REDKESTREL"));
	assert_null(strstr(out, "radio"));
	/* redacted needs no record at all */
	assert_int_equal(tf_notify_render(NULL, "secure", TF_NOTIFY_REDACTED,
					  out, sizeof(out)),
			 0);
	assert_int_equal(tf_notify_render(NULL, "secure", TF_NOTIFY_FULL, out,
					  sizeof(out)),
			 -EINVAL);
	assert_int_equal(
		tf_notify_render(&n, "", TF_NOTIFY_REDACTED, out, sizeof(out)),
		-EINVAL);
	assert_int_equal(tf_notify_render(&n, "secure", TF_NOTIFY_FULL, out, 8),
			 -ENOBUFS);
}

static void test_store(void **st)
{
	static struct tf_notify_store s;
	struct tf_notify n = {.urgency = 1}, got;
	uint64_t t = 5000000000ull;
	int64_t id;
	int i;

	(void)st;
	strcpy(n.summary, "first");
	assert_int_equal(tf_notify_store_push(&s, &n, t), 1);
	/* a burst of TF_NOTIFY_BURST at one instant, then refused */
	for (i = 1; i < TF_NOTIFY_BURST; i++) {
		snprintf(n.summary, sizeof(n.summary), "n%d", i + 1);
		assert_int_equal(tf_notify_store_push(&s, &n, t), i + 1);
	}
	assert_int_equal(tf_notify_store_push(&s, &n, t), -EBUSY);
	assert_int_equal(s.refused, 1);
	/* 100 ms later there is room for one more */
	t += 100000000ull;
	id = tf_notify_store_push(&s, &n, t);
	assert_int_equal(id, TF_NOTIFY_BURST + 1);
	assert_int_equal(tf_notify_store_push(&s, &n, t), -EBUSY);
	/* only the last TF_NOTIFY_KEEP are kept */
	assert_int_equal(s.n, TF_NOTIFY_KEEP);
	assert_int_equal(tf_notify_store_get(&s, 1, &got), -ENOENT);
	assert_int_equal(tf_notify_store_get(&s, 0, &got), -ENOENT);
	assert_int_equal(tf_notify_store_get(&s, TF_NOTIFY_BURST, &got), 0);
	assert_string_equal(got.summary, "n64");
	assert_int_equal(tf_notify_store_get(&s, (uint32_t)id, &got), 0);
	assert_int_equal(tf_notify_store_get(
				 &s, (uint32_t)id - TF_NOTIFY_KEEP + 1, &got),
			 0);
	assert_int_equal(
		tf_notify_store_get(&s, (uint32_t)id - TF_NOTIFY_KEEP, &got),
		-ENOENT);
	/* clear: nothing kept, the ids go on, the text wiped */
	tf_notify_store_clear(&s);
	assert_int_equal(tf_notify_store_get(&s, (uint32_t)id, &got), -ENOENT);
	for (size_t k = 0; k < TF_NOTIFY_KEEP; k++)
		assert_int_equal(s.e[k].n.summary[0], 0);
	t += 10ull * 1000000000ull;
	assert_int_equal(tf_notify_store_push(&s, &n, t), id + 1);
	/* the id wraps past 0 */
	s.last_id = UINT32_MAX;
	t += 1000000000ull;
	assert_int_equal(tf_notify_store_push(&s, &n, t), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
