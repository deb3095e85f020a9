/* SPDX-License-Identifier: ISC */
/* NATS subjects and notices between relays (src/relay/notice.c): the
 * subject of a bare officer and of an officer/device, and back; version
 * 0 notices (older relays) and version 1 notices; a version 1 notice
 * naming another address than its subject, an unknown version, a
 * subject that is not ours, refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "notice.h"

static void test_subjects(void **state)
{
	char subj[RELAY_SUBJ_MAX], addr[TF_COMMS_ADDR_MAX + 1];
	char longa[TF_COMMS_ADDR_MAX + 1];

	(void)state;
	assert_int_equal(relay_subject("alice", subj), 0);
	assert_string_equal(subj, "twofold.o.616c696365");
	assert_int_equal(relay_subject("a.b/c@d", subj), 0);
	assert_string_equal(subj, "twofold.d.612e62.634064");
	assert_int_equal(relay_subject_addr(subj, addr), 0);
	assert_string_equal(addr, "a.b/c@d");
	/* the longest address fits */
	memset(longa, 'x', 64);
	longa[64] = '/';
	memset(longa + 65, 'y', 64);
	longa[129] = '\0';
	assert_int_equal(relay_subject(longa, subj), 0);
	assert_int_equal(strlen(subj), 10 + 128 + 1 + 128);
	assert_int_equal(relay_subject_addr(subj, addr), 0);
	assert_string_equal(addr, longa);
	assert_int_equal(relay_subject("a/b/c", subj), -EINVAL);
	assert_int_equal(relay_subject("", subj), -EINVAL);
	static const char *const bad[] = {
		"twofold.o.",
		"twofold.o.616c69636",		   /* odd */
		"twofold.o.616C696365",		   /* not ours: uppercase */
		"twofold.o.612f62",		   /* "a/b": not an id */
		"twofold.o.616c696365.70686f6e65", /* a device on o. */
		"twofold.d.616c696365",		   /* no device */
		"twofold.d.616c696365.",
		"twofold.d.616c696365.70686f6e65.",
		"twofold.x.616c696365",
		"twofold.g.616c696365",
	};
	for (size_t i = 0; i < TF_ARRAY_SIZE(bad); i++)
		assert_int_equal(relay_subject_addr(bad[i], addr), -EINVAL);
}

static void test_notices(void **state)
{
	static const uint8_t msg[] = "\x04\x09"
				     "bob/phone"
				     "0123456789abcdef"
				     "blob";
	const size_t ml = sizeof(msg) - 1;
	uint8_t b[2 + TF_COMMS_ADDR_MAX + TF_COMMS_PAYLOAD_MAX];
	char subj[RELAY_SUBJ_MAX], addr[TF_COMMS_ADDR_MAX + 1];
	const uint8_t *pt;
	size_t ptlen;
	int n;

	(void)state;
	/* version 1 for a device, on its subject */
	n = relay_notice_build("alice/phone", msg, ml, b, sizeof(b));
	assert_int_equal(n, 2 + 11 + (int)ml);
	assert_int_equal(b[0], RELAY_NOTICE_V1);
	assert_int_equal(relay_subject("alice/phone", subj), 0);
	assert_int_equal(
		relay_notice_parse(subj, b, (size_t)n, addr, &pt, &ptlen), 0);
	assert_string_equal(addr, "alice/phone");
	assert_int_equal(ptlen, ml);
	assert_memory_equal(pt, msg, ml);
	/* the same notice on another address's subject: refused */
	assert_int_equal(relay_subject("alice/tablet", subj), 0);
	assert_int_equal(
		relay_notice_parse(subj, b, (size_t)n, addr, &pt, &ptlen),
		-EBADMSG);
	assert_int_equal(relay_subject("alice", subj), 0);
	assert_int_equal(
		relay_notice_parse(subj, b, (size_t)n, addr, &pt, &ptlen),
		-EBADMSG);
	/* version 0, an older relay's: for the subject's officer */
	b[0] = RELAY_NOTICE_V0;
	memcpy(b + 1, msg, ml);
	assert_int_equal(relay_notice_parse(subj, b, 1 + ml, addr, &pt, &ptlen),
			 0);
	assert_string_equal(addr, "alice");
	assert_memory_equal(pt, msg, ml);
	/* an unknown version; nothing after the header; too long */
	b[0] = 2;
	assert_int_equal(relay_notice_parse(subj, b, 1 + ml, addr, &pt, &ptlen),
			 -EBADMSG);
	n = relay_notice_build("alice", msg, ml, b, sizeof(b));
	assert_true(n > 0);
	assert_int_equal(relay_notice_parse(subj, b, 7, addr, &pt, &ptlen),
			 -EBADMSG);
	assert_int_equal(relay_notice_build("alice", msg, 0, b, sizeof(b)),
			 -EINVAL);
	assert_int_equal(relay_notice_build("alice", b,
					    TF_COMMS_PAYLOAD_MAX + 1, b,
					    sizeof(b)),
			 -EINVAL);
	assert_int_equal(relay_notice_build("alice/", msg, ml, b, sizeof(b)),
			 -EINVAL);
	assert_int_equal(relay_notice_build("alice", msg, ml, b, 10), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subjects),
		cmocka_unit_test(test_notices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
