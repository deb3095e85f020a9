/* SPDX-License-Identifier: ISC */
/*
 * twofold selftest: the crypto known-answer tests run in twofoldd's binary
 * (the CLI links no crypto library), so this executes `twofoldd --selftest`
 * from next to this program, else from PATH.
 */
#include <limits.h>
#include <string.h>

#include "tf_config.h"
#include "cli.h"

void help_selftest(FILE *f)
{
	fprintf(f, "usage: twofold selftest\n\n"
		   "Run every crypto known-answer test of both suites "
		   "(official\n"
		   "vectors: SM3, SM4, SM4-GCM, SM2, Ed25519, X25519,\n"
		   "XChaCha20-Poly1305, HKDF, Argon2id). Exit 1 if any "
		   "fails.\n");
}

int verb_selftest(struct cli *cli, int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n;
	char *slash;

	if (argc > 1)
		return cli_usage_err(cli, NULL, "unexpected argument '%s'",
				     argv[1]);
	fflush(stdout);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			/* build tree: src/cli/twofold next to src/daemon */
			snprintf(path, sizeof(path), "%s/../daemon/twofoldd",
				 self);
			if (access(path, X_OK) == 0)
				execl(path, "twofoldd", "--selftest",
				      (char *)NULL);
			snprintf(path, sizeof(path), "%s/twofoldd", self);
			if (access(path, X_OK) == 0)
				execl(path, "twofoldd", "--selftest",
				      (char *)NULL);
		}
	}
	execlp("twofoldd", "twofoldd", "--selftest", (char *)NULL);
	/* installed: sbin is not on a user's PATH on Debian */
	execl(TF_SBINDIR "/twofoldd", "twofoldd", "--selftest", (char *)NULL);
	cli_err(cli,
		"cannot find twofoldd to run the tests (is it installed?)");
	return EXIT_FAIL;
}
