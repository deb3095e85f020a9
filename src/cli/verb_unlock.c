/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "twofold/secmem.h"
#include "cli.h"

void help_unlock(FILE *f)
{
	fprintf(f, "usage: twofold unlock PERSONA [--pin-stdin]\n\n"
		   "Check the credential, load the persona's storage key and "
		   "start\n"
		   "(or thaw) it. Wrong tries are counted before they are "
		   "checked;\n"
		   "after throttle_free_tries the waits grow (30 s, doubling); "
		   "after\n"
		   "throttle_max_failures the persona is crypto-erased.\n\n"
		   "  --pin-stdin  read the credential as one line of standard "
		   "input\n");
}

int verb_unlock(struct cli *cli, int argc, char **argv)
{
	const char *persona = NULL;
	bool from_stdin = false;
	_cleanup_secure_ char *cred = NULL;
	int fd;

	int r = cli_parse_persona_args(cli, argc, argv, "--pin-stdin",
				       &from_stdin, &persona);

	if (r)
		return r;
	/* fail fast (daemon down) before asking for a secret */
	fd = cli_connect(cli);
	if (fd < 0)
		return EXIT_FAIL;
	close(fd);
	cred = cli_read_secret(cli, "PIN or passphrase: ", from_stdin);
	if (cred == NULL)
		return EXIT_FAIL;
	return cli_secret_request(cli, TF_REQ_UNLOCK, persona, cred, NULL);
}
