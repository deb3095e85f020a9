/* SPDX-License-Identifier: ISC */
/*
 * twofold alert post FILE (daemon/alert.c tfd_req_alert_post): hand a
 * signed urgent alert record to the daemon, as the secure persona's
 * alert port would (tests, or an integrator's other channel). The record
 * is made on the organisation's side: `twofold pkg alert`.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/alert.h"
#include "cli.h"

void help_alert(FILE *f)
{
	fprintf(f,
		"usage: twofold alert post FILE\n\n"
		"Give the daemon a signed urgent alert record (made with\n"
		"twofold pkg alert). It is checked as one from the persona's\n"
		"alert port: signed by a key of the persona's alert_trust, "
		"for\n"
		"that persona, not expired, never seen before; each verdict "
		"is\n"
		"audited. An accepted alert makes the shell show the card\n"
		"\"SECURE - URGENT\"; its body is shown only after unlock.\n"
		"Root only.\n");
}

int verb_alert(struct cli *cli, int argc, char **argv)
{
	static const char hx[] = "0123456789abcdef";
	_cleanup_free_ char *buf = NULL, *hex = NULL;
	struct tf_msgbuf b;
	size_t len;
	int r;

	if (argc != 3 || strcmp(argv[1], "post") != 0)
		return cli_usage_err(cli, NULL, "alert post FILE");
	r = tf_read_file_at(AT_FDCWD, argv[2], TF_ALERT_MAX, &buf, &len);
	if (r < 0) {
		cli_fail(cli, r, "cli.failed", "cannot read %s: %s%s", argv[2],
			 strerror(-r),
			 r == -EFBIG ? " (an alert record is small: not one)"
				     : "");
		return EXIT_FAIL;
	}
	hex = malloc(2 * len + 1);
	if (!hex) {
		cli_err(cli, "out of memory");
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = hx[(uint8_t)buf[i] >> 4];
		hex[2 * i + 1] = hx[(uint8_t)buf[i] & 15];
	}
	hex[2 * len] = '\0';
	tf_msgbuf_init(&b, TF_REQ_ALERT_POST);
	tf_msgbuf_put_str(&b, TF_A_ARG, hex);
	return cli_request_message(cli, &b);
}
