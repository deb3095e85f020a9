/* SPDX-License-Identifier: ISC */
/*
 * twofold pkg scandb DIR -o DB.tfdb --key KEY (org side): pack the ClamAV
 * signature files of DIR (.ndb .hdb .ldb .cvd ...) into a bundle signed
 * with KEY, which a device accepts when its device.conf scan_trust names
 * the key's public half (twofold/scan.h has the format).
 *
 * Signing needs the crypto libraries and checking that DIR loads needs
 * libclamav, neither of which the CLI links (it is on every launch's
 * path): so this executes `twofold-scanner scandb ...` from next to this
 * program (build tree: src/scanner), else from libexec/twofold, as
 * `twofold selftest` runs twofoldd. `twofold pkg` (verb_pkg.c) dispatches
 * its "scandb" subcommand here: verb_pkg_scandb(cli, argc, argv) with
 * argv[0] = "scandb".
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "tf_config.h"
#include "cli.h"

void help_pkg_scandb(FILE *f)
{
	fprintf(f, "usage: twofold pkg scandb DIR -o DB.tfdb --key KEY\n\n"
		   "Pack the ClamAV database files of DIR (.ndb .hdb .hsb "
		   ".ldb .cvd\n"
		   ".cld ...; nothing else may be there) into a bundle signed "
		   "with\n"
		   "KEY. DIR must load in libclamav first. A device accepts "
		   "the\n"
		   "bundle (device.conf scan_db) when its scan_trust names "
		   "the key.\n");
}

static void try_exec(const char *path, int argc, char **argv)
{
	char *args[64];
	int n = 0;
	if (access(path, X_OK) != 0 || argc > 60)
		return;
	args[n++] = "twofold-scanner";
	for (int i = 0; i < argc; i++)
		args[n++] = argv[i]; /* argv[0] is "scandb" */
	args[n] = NULL;
	execv(path, args);
}

int verb_pkg_scandb(struct cli *cli, int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n;

	if (argc < 1 || strcmp(argv[0], "scandb") != 0)
		return cli_usage_err(cli, NULL, "expected: pkg scandb ...");
	fflush(stdout);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path),
				 "%s/../scanner/twofold-scanner", self);
			try_exec(path, argc, argv);
		}
	}
	try_exec(TF_LIBEXECDIR "/twofold-scanner", argc, argv);
	cli_err(cli, "cannot find twofold-scanner to pack the database (is "
		     "it installed?)");
	return EXIT_FAIL;
}
