/* SPDX-License-Identifier: ISC */
/*
 * twofold notify list [PERSONA] (daemon/notify.c tfd_req_notify_get): the
 * notifications the daemon keeps, each as the shell would be given it: a
 * credential persona's text only while it is unlocked and in front, else
 * "Secure: new message". Root (or the shell's user) only.
 */
#include <string.h>

#include "cli.h"

void help_notify(FILE *f)
{
	fprintf(f,
		"usage: twofold notify list [PERSONA] [--json]\n\n"
		"The notifications the daemon keeps (the last 16 of each\n"
		"persona, since its last lock or start), oldest first, as the\n"
		"shell shows them: a credential-bound persona's text only\n"
		"while it is unlocked and in front, otherwise \"Secure: new\n"
		"message\" (--json: {\"notifications\": [{\"persona\", "
		"\"id\",\n"
		"\"view\", \"text\"}]}). Apps in a persona notify through its\n"
		"session bus (notify-send works); needs display = shell.\n"
		"Root or the shell only.\n");
}

int verb_notify(struct cli *cli, int argc, char **argv)
{
	const char *pos[2] = {NULL, NULL};
	struct tf_msgbuf b;
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0)
			cli->json = true;
		else if (argv[i][0] == '-' || npos == 2)
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
		else
			pos[npos++] = argv[i];
	}
	if (npos == 0 || strcmp(pos[0], "list") != 0)
		return cli_usage_err(cli, NULL, "notify list [PERSONA]");
	tf_msgbuf_init(&b, TF_REQ_NOTIFY_GET);
	if (pos[1])
		tf_msgbuf_put_str(&b, TF_A_PERSONA, pos[1]);
	return cli_request_print(cli, &b, NULL, 0);
}
