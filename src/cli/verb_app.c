/* SPDX-License-Identifier: ISC */
/*
 * `twofold app install|list|remove` (docs/packages.md "Installing"): the
 * daemon does the work (req_app.c); install passes the package as an open
 * fd, never a path the daemon would open.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void help_app(FILE *f)
{
	fprintf(f,
		"usage: twofold app install PERSONA FILE\n"
		"       twofold app list PERSONA [--json]\n"
		"       twofold app remove PERSONA NAME\n\n"
		"install: verify the signed package FILE (.tfa) against the\n"
		"persona's app_trust and app_catalog, then mount its image\n"
		"read-only at /apps/NAME of the running persona. A package of\n"
		"an installed app with a higher version code updates it (the\n"
		"image is swapped atomically); a lower or equal one is\n"
		"refused. Each app runs as its own uid with its own data\n"
		"directory /var/apps/NAME: twofold run PERSONA --app NAME.\n"
		"list: the installed apps (--json: {\"persona\", \"apps\"}).\n"
		"remove: unmount the app, delete its image and its data.\n");
}

static int simple(struct cli *cli, uint16_t type, const char *persona,
		  const char *name, const int *fds, size_t nfds)
{
	struct tf_msgbuf b;

	tf_msgbuf_init(&b, type);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, persona);
	if (name)
		tf_msgbuf_put_str(&b, TF_A_ARG, name);
	return cli_request_print(cli, &b, fds, nfds);
}

int verb_app(struct cli *cli, int argc, char **argv)
{
	const char *pos[3] = {NULL, NULL, NULL};
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0)
			cli->json = true;
		else if (argv[i][0] == '-' || npos == 3)
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
		else
			pos[npos++] = argv[i];
	}
	if (npos == 0)
		return cli_usage_err(cli, NULL,
				     "missing subcommand (install, list, "
				     "remove)");
	if (strcmp(pos[0], "list") == 0) {
		if (npos != 2)
			return cli_usage_err(cli, NULL, "app list PERSONA");
		return simple(cli, TF_REQ_APP_LIST, pos[1], NULL, NULL, 0);
	}
	if (strcmp(pos[0], "remove") == 0) {
		if (npos != 3)
			return cli_usage_err(cli, NULL,
					     "app remove PERSONA NAME");
		return simple(cli, TF_REQ_APP_REMOVE, pos[1], pos[2], NULL, 0);
	}
	if (strcmp(pos[0], "install") == 0) {
		_cleanup_close_ int fd = -1;
		if (npos != 3)
			return cli_usage_err(cli, NULL,
					     "app install PERSONA FILE");
		/* opened as the caller: the daemon reads only this fd */
		fd = open(pos[2], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			cli_err(cli, "cannot open %s: %s", pos[2],
				strerror(errno));
			return EXIT_FAIL;
		}
		return simple(cli, TF_REQ_APP_INSTALL, pos[1], NULL, &fd, 1);
	}
	return cli_usage_err(cli, NULL, "unknown subcommand '%s'", pos[0]);
}
