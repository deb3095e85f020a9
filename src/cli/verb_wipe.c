/* SPDX-License-Identifier: ISC */
/*
 * twofold wipe PERSONA [--yes]: crypto-erase a credential-bound persona
 * now (daemon/req_keys.c tfd_req_wipe). It cannot be undone, so without
 * --yes the persona's name must be typed on the terminal; with no
 * terminal and no --yes nothing is sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void help_wipe(FILE *f)
{
	fprintf(f, "usage: twofold wipe PERSONA [--yes]\n\n"
		   "Crypto-erase a credential-bound persona now: kill its "
		   "processes,\n"
		   "remove its key from the kernel, destroy its key material "
		   "(its data\n"
		   "can never be decrypted again) and remove its data. Root "
		   "only. A\n"
		   "device-bound persona (personal) is refused. Afterwards the "
		   "persona\n"
		   "can be enrolled again, empty: twofold enroll PERSONA.\n\n"
		   "  --yes  do not ask; without it the persona's name must be "
		   "typed\n"
		   "         on the terminal to confirm\n");
}

/* Ask on the controlling terminal; 0 if the answer is the name. */
static int confirm(const struct cli *cli, const char *persona)
{
	_cleanup_close_ int tty = -1;
	char line[64], ch; /* a persona name is at most 32 */
	size_t n = 0;
	bool over = false;
	ssize_t k;

	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		cli_err(cli, "no terminal to confirm on; nothing wiped (pass "
			     "--yes to wipe without asking)");
		return -ENOTTY;
	}
	dprintf(tty,
		"This crypto-erases %s: its data is gone for good.\n"
		"Type the persona name to confirm: ",
		persona);
	for (;;) {
		k = read(tty, &ch, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || ch == '\n')
			break;
		if (n + 1 < sizeof(line))
			line[n++] = ch;
		else
			over = true;
	}
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (over || strcmp(line, persona) != 0) {
		cli_err(cli, "the name typed is not '%s'; nothing wiped",
			persona);
		return -ECANCELED;
	}
	return 0;
}

int verb_wipe(struct cli *cli, int argc, char **argv)
{
	const char *persona = NULL;
	bool yes = false;
	int r = cli_parse_persona_args(cli, argc, argv, "--yes", &yes,
				       &persona);

	if (r)
		return r;
	if (!yes && confirm(cli, persona) < 0)
		return EXIT_FAIL;
	return cli_persona_request(cli, TF_REQ_WIPE, persona, 0);
}
