/* SPDX-License-Identifier: ISC */
#include "cli.h"

void help_switch(FILE *f)
{
	fprintf(f, "usage: twofold switch PERSONA\n\n"
		   "Make PERSONA the foreground persona: only it may open the\n"
		   "foreground devices (display, input, audio, camera,\n"
		   "microphone) and it gets the full CPU weight. The other\n"
		   "personas keep running in the background.\n");
}

int verb_switch(struct cli *cli, int argc, char **argv)
{
	const char *persona;
	/* as every verb naming a persona: "-x" is an unknown option, not a
	 * persona called "-x" */
	int r = cli_parse_persona_args(cli, argc, argv, NULL, NULL, &persona);

	if (r)
		return r;
	return cli_persona_request(cli, TF_REQ_SWITCH, persona, 0);
}
