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
	const char *persona;
	bool evict = false;
	int r = cli_parse_persona_args(cli, argc, argv, "--evict", &evict,
				       &persona);

	if (r)
		return r;
	return cli_persona_request(cli, TF_REQ_LOCK, persona,
				   evict ? TF_F_EVICT : 0);
}
