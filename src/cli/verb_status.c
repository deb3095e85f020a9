/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "cli.h"

void help_status(FILE *f)
{
	fprintf(f, "usage: twofold [--state DIR] status [--json] [--watch]\n\n"
		   "Show the daemon and, per persona: state (running, "
		   "frozen,\n"
		   "locked, stopped, no-credential, erased), whether it is "
		   "the\n"
		   "foreground persona, its number of processes and memory.\n"
		   "--watch: then one line (with --json one JSON object) per\n"
		   "state change as it happens, until interrupted.\n");
}

/* One JSON object per line: the status object is written over several
 * lines; JSON strings never hold a raw newline, so dropping them all
 * leaves the same object. */
static void put_json_line(const char *json)
{
	for (const char *s = json; *s; s++)
		if (*s != '\n')
			putchar(*s);
	putchar('\n');
}

/*
 * --watch: subscribe (the answer is the status now), then print each
 * TF_REP_EVENT as it comes. The daemon drops a watch that leaves too
 * much unread (its last event says so): that ends this one with an error.
 */
static int watch(struct cli *cli)
{
	_cleanup_close_ int fd = -1;
	struct cli_reply rep;
	struct tf_msgbuf b;
	int r;

	memset(&rep, 0, sizeof(rep));
	tf_msgbuf_init(&b, TF_REQ_SUBSCRIBE);
	r = tf_msgbuf_finish(&b);
	if (r == 0 && (fd = cli_connect(cli)) < 0)
		r = fd;
	else if (r == 0 && (r = tf_msg_send(fd, &b, NULL, 0)) < 0)
		cli_err(cli, "cannot send to twofoldd: %s", strerror(-r));
	tf_msgbuf_free(&b);
	if (r < 0)
		return EXIT_FAIL;
	for (bool first = true;; first = false) {
		if (cli_read_reply(cli, fd, &rep) < 0)
			return EXIT_FAIL;
		if (rep.msg.type != (first ? TF_REP_RESULT : TF_REP_EVENT)) {
			cli_reply_free(&rep);
			continue; /* a type this CLI does not know */
		}
		if (rep.err < 0) {
			cli_err(cli, "%s",
				rep.message ? rep.message : strerror(-rep.err));
			cli_reply_free(&rep);
			return EXIT_FAIL;
		}
		if (cli->json && rep.json)
			put_json_line(rep.json);
		else if (rep.text)
			printf("%s%s", rep.text,
			       first || rep.text[0] == '\0' ||
					       rep.text[strlen(rep.text) - 1] ==
						       '\n'
				       ? ""
				       : "\n");
		fflush(stdout);
		cli_reply_free(&rep);
	}
}

int verb_status(struct cli *cli, int argc, char **argv)
{
	struct tf_msgbuf b;
	bool watching = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0)
			cli->json = true;
		else if (strcmp(argv[i], "--watch") == 0 ||
			 strcmp(argv[i], "-w") == 0)
			watching = true;
		else
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
	}
	if (watching)
		return watch(cli);
	tf_msgbuf_init(&b, TF_REQ_STATUS);
	return cli_request_print(cli, &b, NULL, 0);
}
