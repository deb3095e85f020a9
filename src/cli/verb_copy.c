/* SPDX-License-Identifier: ISC */
/*
 * twofold copy SOURCE DEST (daemon/req_copy.c tfd_req_copy): a file into a
 * persona's Inbox through quarantine and the malware scanner.
 *   SOURCE  PERSONA:/PATH (in that persona's view) or /PATH (the host's;
 *           root only)
 *   DEST    PERSONA: or PERSONA:DIR (a directory in its /home/app/Inbox)
 */
#include <string.h>

#include "twofold/config.h"
#include "cli.h"

void help_copy(FILE *f)
{
	fprintf(f,
		"usage: twofold copy PERSONA:/PATH DEST:[DIR]\n"
		"       twofold copy /HOST/PATH DEST:[DIR]\n\n"
		"Copy one regular file into persona DEST's /home/app/Inbox "
		"(or the\n"
		"directory DIR in it). The file is copied into quarantine "
		"first,\n"
		"scanned for malware, and lands tagged with where it came "
		"from (the\n"
		"xattr user.twofold.origin). Symbolic links, FIFOs, devices, "
		"'..'\n"
		"and files over 256 MiB are refused; so is everything when "
		"DEST's\n"
		"scanner database is missing or not signed by a key its "
		"scan_trust\n"
		"names. Copies out of a credential persona (secure) are "
		"refused\n"
		"unless device.conf copy_flows names the flow. Every copy and "
		"verdict\n"
		"is audited. Root only.\n");
}

int verb_copy(struct cli *cli, int argc, char **argv)
{
	if (argc != 3)
		return cli_usage_err(cli, NULL,
				     "copy takes a SOURCE and a DEST:[DIR]");
	const char *src = argv[1], *dst = argv[2];
	const char *colon = strchr(dst, ':');
	char persona[TF_NAME_MAX + 1];
	if (colon == NULL || colon == dst ||
	    (size_t)(colon - dst) > TF_NAME_MAX)
		return cli_usage_err(cli, NULL,
				     "DEST must be PERSONA: or PERSONA:DIR, "
				     "not '%s'",
				     dst);
	memcpy(persona, dst, (size_t)(colon - dst));
	persona[colon - dst] = '\0';
	const char *dir = colon + 1;
	while (*dir == '/')
		dir++;

	struct tf_msgbuf b;
	tf_msgbuf_init(&b, TF_REQ_COPY);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, persona);
	tf_msgbuf_put_str(&b, TF_A_ARG, src);
	if (dir[0])
		tf_msgbuf_put_str(&b, TF_A_ARG, dir);
	return cli_request_message(cli, &b);
}
