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
		"usage: twofold enroll PERSONA [--pin-stdin]\n"
		"       twofold enroll PERSONA --duress [--pin-stdin]\n\n"
		"Set the credential of a credential-bound persona (a PIN of "
		"at\n"
		"least pin_min_digits digits, or a passphrase of at least\n"
		"passphrase_min_chars characters). If one is set already, "
		"this\n"
		"changes it and asks for the old one first.\n\n"
		"  --pin-stdin  read from standard input instead of the "
		"terminal:\n"
		"               one line (new), or two lines (old, new) when\n"
		"               changing, or (current, duress) with "
		"--duress\n"
		"  --duress     set the duress credential: entered at unlock, "
		"it\n"
		"               crypto-erases the persona at once and is "
		"answered\n"
		"               like a wrong one. Asks for the current "
		"credential,\n"
		"               then the duress one twice; it must differ from "
		"the\n"
		"               credential. A credential change removes it.\n");
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

	bool duress = false;

	/* "--duress" is taken out first; the rest is PERSONA [--pin-stdin] */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--duress") == 0) {
			duress = true;
			for (int k = i; k + 1 < argc; k++)
				argv[k] = argv[k + 1];
			argc--;
			i--;
		}
	r = cli_parse_persona_args(cli, argc, argv, "--pin-stdin", &from_stdin,
				   &persona);
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
	if (duress && !change) {
		cli_err(cli,
			"%s has no credential to add a duress credential to; "
			"set one first with: twofold enroll %s",
			persona, persona);
		return EXIT_FAIL;
	}
	if (change) {
		old = cli_read_secret(
			cli, "current PIN or passphrase: ", from_stdin);
		if (old == NULL)
			return EXIT_FAIL;
	}
	new1 = cli_read_secret(cli,
			       duress ? "duress PIN or passphrase: "
				      : "new PIN or passphrase: ",
			       from_stdin);
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
	return cli_secret_request_flags(cli, TF_REQ_ENROLL, persona, old, new1,
					duress ? TF_F_DURESS : 0);
}
