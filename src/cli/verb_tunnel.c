/* SPDX-License-Identifier: ISC */
/* `twofold tunnel key`: the daemon derives and renders it (req_net.c). */
#include <string.h>

#include "cli.h"

void help_tunnel(FILE *f)
{
	fprintf(f, "usage: twofold [--state DIR] tunnel key [PERSONA] "
		   "[--json]\n\n"
		   "Print the public key of PERSONA's tunnel (default: the "
		   "first\n"
		   "persona with network = tunnel) as \"SUITE BASE64\": what "
		   "the\n"
		   "organisation registers for this device on its gateway.\n"
		   "The key is bound to the device: derived from the device\n"
		   "secret, never stored, the same across restarts, "
		   "different\n"
		   "for each persona and suite. Its private half never "
		   "enters\n"
		   "the persona. --json: {\"persona\", \"suite\", "
		   "\"public_key\"}.\n");
}

int verb_tunnel(struct cli *cli, int argc, char **argv)
{
	const char *persona = NULL;
	struct tf_msgbuf b;

	if (argc < 2 || strcmp(argv[1], "key") != 0)
		return cli_usage_err(cli, NULL, "%s",
				     argc < 2 ? "missing subcommand 'key'"
					      : "unknown subcommand");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0)
			cli->json = true;
		else if (argv[i][0] == '-' || persona != NULL)
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
		else
			persona = argv[i];
	}
	tf_msgbuf_init(&b, TF_REQ_TUNNEL_KEY);
	if (persona)
		tf_msgbuf_put_str(&b, TF_A_PERSONA, persona);
	return cli_request_print(cli, &b, NULL, 0);
}
