/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "cli.h"

void help_persona(FILE *f)
{
	fprintf(f, "usage: twofold persona list [--json]\n"
		   "       twofold persona start|stop|restart NAME\n\n"
		   "list     the configured personas and their state\n"
		   "start    start a stopped persona (a credential-bound one "
		   "starts\n"
		   "         through: twofold unlock NAME)\n"
		   "stop     kill every process of the persona and tear it "
		   "down\n"
		   "restart  stop, then start\n");
}

int verb_persona(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		uint16_t type;
	} subs[] = {{"start", TF_REQ_PERSONA_START},
		    {"stop", TF_REQ_PERSONA_STOP},
		    {"restart", TF_REQ_PERSONA_RESTART}};

	if (argc < 2)
		return cli_usage_err(cli, NULL,
				     "missing subcommand (list, start, stop, "
				     "restart)");
	if (strcmp(argv[1], "list") == 0) {
		struct cli_reply rep;
		struct tf_msgbuf b;
		int r;

		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0)
				cli->json = true;
			else
				return cli_usage_err(cli, NULL,
						     "unexpected argument '%s'",
						     argv[i]);
		}
		tf_msgbuf_init(&b, TF_REQ_STATUS);
		if (!cli->json)
			tf_msgbuf_put_u32(&b, TF_A_FLAGS, TF_F_LIST);
		r = cli_request(cli, &b, &rep);
		tf_msgbuf_free(&b);
		if (r < 0) {
			if (rep.rd.buf)
				cli_reply_free(&rep);
			return EXIT_FAIL;
		}
		fputs(cli->json ? (rep.json ? rep.json : "")
				: (rep.text ? rep.text : ""),
		      stdout);
		cli_reply_free(&rep);
		return EXIT_OK;
	}
	for (size_t i = 0; i < TF_ARRAY_SIZE(subs); i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		if (argc != 3)
			return cli_usage_err(cli, NULL, "%s needs one persona",
					     subs[i].name);
		return cli_persona_request(cli, subs[i].type, argv[2], 0);
	}
	return cli_usage_err(cli, NULL, "unknown subcommand '%s'", argv[1]);
}
