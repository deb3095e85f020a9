/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: twofold-relay's parsers of its NATS credential files
 * (src/relay/natsauth.c): --nats-user-file's user:password line and a
 * --nats-creds .creds file. The files are the operator's (0600), but
 * what they hold goes into CONNECT's JSON unescaped by cnats, so the
 * parsers must never hand on a quote, a backslash or a control
 * character. Input: byte 0 picks the parser, the rest is the file.
 * Checked: on success the parts are non-empty, inside the buffer, and
 * of their alphabets.
 */
#include <stdlib.h>
#include <string.h>

#include "natsauth.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* natsauth.c's callbacks enter through nats.c's guard (not linked) */
bool relay_nats_cb_enter(void)
{
	return true;
}

void relay_nats_cb_leave(void)
{
}

static void inside(const char *p, const char *b, size_t len)
{
	if (p < b || p >= b + len || *p == '\0')
		abort();
}

static void only(const char *p, const char *alphabet)
{
	if (p[strspn(p, alphabet)] != '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *x, *y;
	char *b;
	size_t len;

	if (size < 1 || size > RELAY_NATS_SECRET_MAX + 1)
		return 0;
	len = size - 1;
	b = malloc(len + 1); /* the parsers write b[len] */
	if (b == NULL)
		return 0;
	memcpy(b, data + 1, len);
	if (data[0] & 1) {
		if (relay_nats_parse_creds(b, len, &x, &y) == 0) {
			inside(x, b, len);
			inside(y, b, len);
			only(x, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
				"uvwxyz"
				"0123456789-_.");
			only(y, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
			if (strncmp(y, "SU", 2) != 0 || x > y)
				abort();
		}
	} else if (relay_nats_parse_userpass(b, len, &x, &y) == 0) {
		inside(x, b, len);
		inside(y, b, len);
		for (const char *p = x; p < y; p++)
			if (*p == '"' || *p == '\\' ||
			    ((unsigned char)*p < 0x20 && *p != '\0'))
				abort();
		if (strpbrk(x, "\"\\:") || strpbrk(y, "\"\\"))
			abort();
		for (const char *p = y; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
	}
	free(b);
	return 0;
}
