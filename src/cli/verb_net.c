/* SPDX-License-Identifier: ISC */
/* `twofold net status`: the daemon builds both forms (req_net.c). */
#include <string.h>

#include "cli.h"

void help_net(FILE *f)
{
	fprintf(f, "usage: twofold [--state DIR] net status [--json]\n\n"
		   "Show, per persona, its network as the kernel has it now:\n"
		   "the mode (none, nat, tunnel), links, addresses, routes, "
		   "DNS\n"
		   "servers and whether lockdown is in force (a tunnel "
		   "persona\n"
		   "with no interface but lo and tun0). For a tunnel "
		   "persona\n"
		   "also the tunnel: suite, state (not-configured, down,\n"
		   "handshaking, up, restarting), endpoint, local port, the\n"
		   "tunnel process's pid, last handshake, bytes and packets "
		   "in\n"
		   "and out, handshakes, rejected packets, restarts, the "
		   "public\n"
		   "key and the last error. Members of control_group may "
		   "ask.\n"
		   "See docs/network.md.\n");
}

int verb_net(struct cli *cli, int argc, char **argv)
{
	struct tf_msgbuf b;

	if (argc < 2 || strcmp(argv[1], "status") != 0)
		return cli_usage_err(cli, NULL, "%s",
				     argc < 2 ? "missing subcommand 'status'"
					      : "unknown subcommand");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0)
			cli->json = true;
		else
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
	}
	tf_msgbuf_init(&b, TF_REQ_NET_STATUS);
	return cli_request_print(cli, &b, NULL, 0);
}
