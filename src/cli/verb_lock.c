/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "cli.h"

void help_lock(FILE *f)
{
	fprintf(f, "usage: twofold lock PERSONA [--evict]\n\n"
		   "Lock a credential-bound persona.\n"
		   "  (default)  screen lock: freeze every process; the keys "
		   "stay\n"
		   "             in the kernel; unlocking needs the "
		   "credential.\n"
		   "  --evict    full lock-down: kill every process, remove "
		   "the\n"
		   "             fscrypt key and wait until the kernel reports "
		   "it\n"
		   "             absent; the data is unreadable until "
		   "unlock.\n"
		   "A lock becomes an evict after the persona's "
		   "lock_evict_after.\n");
}

int verb_lock(struct cli *cli, int argc, char **argv)
{
	const char *persona = NULL;
	uint32_t flags = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--evict") == 0)
			flags |= TF_F_EVICT;
		else if (argv[i][0] == '-')
			return cli_usage_err(cli, NULL, "unknown option '%s'",
					     argv[i]);
		else if (persona == NULL)
			persona = argv[i];
		else
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
	}
	if (persona == NULL)
		return cli_usage_err(cli, NULL, "needs one persona");
	return cli_persona_request(cli, TF_REQ_LOCK, persona, flags);
}
