/* SPDX-License-Identifier: ISC */
/*
 * twofold pkg: the organisation-side package tools (keygen, build, verify,
 * catalog). They sign and hash, and the CLI links no crypto library (its
 * start-up is on every `twofold run`), so this executes `twofold-pkg`
 * (src/cli/pkg_tool.c) from next to this program, else from PATH.
 */
#include <limits.h>
#include <string.h>

#include "tf_config.h"
#include "cli.h"

void help_pkg(FILE *f)
{
	fprintf(f,
		"usage: twofold pkg keygen [--suite intl|gm] --out KEY\n"
		"       twofold pkg build DIR -o NAME.tfa --key KEY "
		"--manifest MANIFEST\n"
		"       twofold pkg verify FILE --trust PUBKEY\n"
		"       twofold pkg pubkey KEY\n"
		"       twofold pkg catalog build LIST -o CATALOG --key KEY "
		"--seq N\n"
		"                               --expires DATE\n"
		"       twofold pkg catalog verify CATALOG --trust PUBKEY\n"
		"       twofold pkg scandb DIR -o DB.tfdb --key KEY\n"
		"       twofold pkg alert --key KEY --title TEXT [--body TEXT]"
		"\n"
		"                         [--persona NAME] [--ttl S] -o "
		"FILE\n\n"
		"Make and check signed app packages (.tfa: a manifest and an "
		"erofs\n"
		"image, built reproducibly with mkfs.erofs) and catalogs "
		"(signed\n"
		"allowlists with a sequence number and an expiry). keygen "
		"writes a\n"
		"private key file (mode 0600) and prints the public key in "
		"base64:\n"
		"the value of device.conf app_trust. --key may be given up to "
		"4\n"
		"times. --json: verify prints the manifest as JSON. See\n"
		"docs/packages.md.\n");
}

int verb_pkg(struct cli *cli, int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	char *args[64];
	int n = 0;
	ssize_t len;
	char *slash;

	if (argc < 2)
		return cli_usage_err(cli, NULL,
				     "pkg needs a command: keygen, build, "
				     "verify or catalog");
	if (argc > 60)
		return cli_usage_err(cli, NULL, "too many arguments");
	/* the scanner database bundle is packed by twofold-scanner, which
	 * checks that libclamav loads it (verb_scandb.c) */
	if (strcmp(argv[1], "scandb") == 0)
		return verb_pkg_scandb(cli, argc - 1, argv + 1);
	args[n++] = "twofold-pkg";
	if (cli->json)
		args[n++] = "--json";
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(stdout);
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/twofold-pkg", self);
			if (access(path, X_OK) == 0)
				execv(path, args);
		}
	}
	execvp("twofold-pkg", args);
	cli_err(cli, "cannot find twofold-pkg (is it installed?)");
	return EXIT_FAIL;
}
