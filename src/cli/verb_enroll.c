/* SPDX-License-Identifier: ISC */
/*
 * twofold enroll PERSONA: set the credential, or change it (the old one is
 * asked first and checked under the same throttling as unlock). Secrets
 * stay in locked, non-dumpable memory and go only into the request, which
 * is wiped after sending.
 */
#include <string.h>

#include "twofold/secmem.h"
#include "cli.h"

void help_enroll(FILE *f)
{
	fprintf(f,
		"usage: twofold enroll PERSONA [--pin-stdin]\n\n"
		"Set the credential of a credential-bound persona (a PIN of "
		"at\n"
		"least pin_min_digits digits, or a passphrase of at least\n"
		"passphrase_min_chars characters). If one is set already, "
		"this\n"
		"changes it and asks for the old one first.\n\n"
		"  --pin-stdin  read from standard input instead of the "
		"terminal:\n"
		"               one line (new), or two lines (old, new) when\n"
		"               changing\n");
}

static int parse_args(struct cli *cli, int argc, char **argv,
		      const char **persona, bool *from_stdin)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pin-stdin") == 0)
			*from_stdin = true;
		else if (argv[i][0] == '-')
			return cli_usage_err(cli, NULL, "unknown option '%s'",
					     argv[i]);
		else if (*persona == NULL)
			*persona = argv[i];
		else
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
	}
	if (*persona == NULL)
		return cli_usage_err(cli, NULL, "needs one persona");
	return 0;
}

int cli_secret_request(struct cli *cli, uint16_t type, const char *persona,
		       const char *old, const char *new_)
{
	struct tf_msgbuf b;
	struct cli_reply rep;
	int r;

	tf_msgbuf_init(&b, type);
	b.secret = true; /* wiped on free, and on every growth */
	tf_msgbuf_put_str(&b, TF_A_PERSONA, persona);
	if (old)
		tf_msgbuf_put_str(&b, TF_A_SECRET, old);
	if (new_)
		tf_msgbuf_put_str(&b, TF_A_SECRET_NEW, new_);
	r = cli_request(cli, &b, &rep);
	tf_msgbuf_free(&b);
	if (r == 0 && rep.message)
		printf("%s\n", rep.message);
	if (rep.rd.buf)
		cli_reply_free(&rep);
	return r == 0 ? EXIT_OK : EXIT_FAIL;
}

int verb_enroll(struct cli *cli, int argc, char **argv)
{
	const char *persona = NULL;
	bool from_stdin = false, change;
	_cleanup_secure_ char *old = NULL;
	_cleanup_secure_ char *new1 = NULL;
	_cleanup_secure_ char *new2 = NULL;
	char state[32];
	int r;

	r = parse_args(cli, argc, argv, &persona, &from_stdin);
	if (r)
		return r;
	/* ask the daemon first: unknown persona, daemon down, or a change */
	if (cli_persona_state(cli, persona, state, sizeof(state)) < 0)
		return EXIT_FAIL;
	if (state[0] == '\0') {
		cli_err(cli, "unknown persona '%s' (see: twofold persona list)",
			persona);
		return EXIT_FAIL;
	}
	change = strcmp(state, "no-credential") != 0 &&
		 strcmp(state, "erased") != 0;
	if (change) {
		old = cli_read_secret(
			cli, "current PIN or passphrase: ", from_stdin);
		if (old == NULL)
			return EXIT_FAIL;
	}
	new1 = cli_read_secret(cli, "new PIN or passphrase: ", from_stdin);
	if (new1 == NULL)
		return EXIT_FAIL;
	if (!from_stdin) {
		new2 = cli_read_secret(cli, "repeat it: ", false);
		if (new2 == NULL)
			return EXIT_FAIL;
		if (strlen(new1) != strlen(new2) ||
		    tf_memeq_ct(new1, new2, strlen(new1)) != 0) {
			cli_err(cli, "the two entries differ; nothing changed");
			return EXIT_FAIL;
		}
	}
	return cli_secret_request(cli, TF_REQ_ENROLL, persona, old, new1);
}
