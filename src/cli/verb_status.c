/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "cli.h"

void help_status(FILE *f)
{
	fprintf(f, "usage: twofold [--state DIR] status [--json]\n\n"
		   "Show the daemon and, per persona: state (running, "
		   "frozen,\n"
		   "locked, stopped, no-credential, erased), whether it is "
		   "the\n"
		   "foreground persona, its number of processes and memory.\n");
}

int verb_status(struct cli *cli, int argc, char **argv)
{
	struct cli_reply rep;
	struct tf_msgbuf b;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0)
			cli->json = true;
		else
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
	}
	tf_msgbuf_init(&b, TF_REQ_STATUS);
	r = cli_request(cli, &b, &rep);
	tf_msgbuf_free(&b);
	if (r < 0) {
		if (rep.rd.buf)
			cli_reply_free(&rep);
		return EXIT_FAIL;
	}
	if (cli->json && rep.json)
		fputs(rep.json, stdout);
	else if (rep.text)
		fputs(rep.text, stdout);
	cli_reply_free(&rep);
	return EXIT_OK;
}
