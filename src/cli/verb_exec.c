/* SPDX-License-Identifier: ISC */
/*
 * twofold exec seal PERSONA (daemon/req_exec.c tfd_req_exec_seal): record
 * the hashes of the persona's base executables for its exec gate
 * (docs/exec.md "Base files by hash").
 */
#include <string.h>

#include "cli.h"

void help_exec(FILE *f)
{
	fprintf(f,
		"usage: twofold exec seal PERSONA\n\n"
		"Hash every executable file of the running persona's base "
		"system\n"
		"(its base root, or the host's /usr, /bin, /lib*, /sbin, /etc) "
		"and\n"
		"make that the record its exec gate checks: with exec_hashes "
		"=\n"
		"sealed only those files run; with pin (the default) they are "
		"the\n"
		"pins from now on (after a base update). The record is MAC'd "
		"with\n"
		"a key of the persona's own. Root only.\n");
}

int verb_exec(struct cli *cli, int argc, char **argv)
{
	struct tf_msgbuf b;

	if (argc != 3 || strcmp(argv[1], "seal") != 0)
		return cli_usage_err(cli, NULL, "exec seal PERSONA");
	tf_msgbuf_init(&b, TF_REQ_EXEC_SEAL);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, argv[2]);
	return cli_request_message(cli, &b);
}
