/* SPDX-License-Identifier: ISC */
/*
 * twofold: the command-line front end. It holds no keys and links no
 * crypto library; every privileged action is a request to twofoldd.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

#include "tf_config.h"
#include "twofold/error.h"
#include "cli.h"

static const struct cli_verb verbs[] = {
	{"init", verb_init, "create a device state directory", help_init},
	{"status", verb_status, "show the daemon and the personas",
	 help_status},
	{"selftest", verb_selftest, "run the crypto known-answer tests",
	 help_selftest},
	{"persona", verb_persona, "list, start, stop or restart personas",
	 help_persona},
	{"run", verb_run, "run a command inside a persona", help_run},
	{"switch", verb_switch, "make a persona the foreground one",
	 help_switch},
	{"enroll", verb_enroll, "set or change a persona's credential",
	 help_enroll},
	{"unlock", verb_unlock, "unlock a persona with its credential",
	 help_unlock},
	{"lock", verb_lock, "lock a persona (--evict: remove its keys)",
	 help_lock},
	{"wipe", verb_wipe, "crypto-erase a credential-bound persona now",
	 help_wipe},
	{"audit", verb_audit, "show or verify the audit log", help_audit},
	{"net", verb_net, "show each persona's network and tunnel", help_net},
	{"tunnel", verb_tunnel, "print a persona's tunnel public key",
	 help_tunnel},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: twofold [--state DIR] [--json] VERB [ARGS...]\n"
		   "       twofold VERB --help\n\n"
		   "Verbs:\n");
	for (size_t i = 0; i < TF_ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  -s, --state DIR  device state directory (default:\n"
		   "                   $TWOFOLD_STATE, else /var/lib/twofold)\n"
		   "  -j, --json       machine-readable output where output is "
		   "data\n"
		   "  -h, --help       this text\n"
		   "  -V, --version    print the version\n\n"
		   "Exit status: 0 ok, 1 the operation failed, 2 usage error.\n"
		   "See twofold(1) (docs/twofold.1.md).\n");
}

void cli_err(const struct cli *cli, const char *fmt, ...)
{
	struct cli_error e;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error_init(&e, 0, TF_R_CLI_FAILED, msg);
	cli_error_print(cli, &e);
}

int cli_usage_err(const struct cli *cli, const struct cli_verb *v,
		  const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_fail(cli, -EINVAL, TF_R_CLI_USAGE, "%s (see: twofold %s --help)",
		 msg, cli->verb);
	(void)v;
	return EXIT_USAGE;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct cli cli = {0};
	int c;

	/* Before anything opens a descriptor: a closed 0, 1 or 2
	 * (`twofold run ... <&-`, common in scripts and services) would be
	 * filled by our next open -- the control socket -- and `run` passes
	 * 0..2 to the app: an app holding root's connection to twofoldd. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			return EXIT_FAIL;
	c = cli_relro_protect();

	if (c < 0) {
		fprintf(stderr,
			"twofold: cannot make relocated data read-only: "
			"%s\n",
			strerror(-c));
		return EXIT_FAIL;
	}
	/* "+": stop at the verb; each verb parses its own options */
	while ((c = getopt_long(argc, argv, "+s:jhV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cli.state_dir = optarg;
			cli.state_given = true;
			break;
		case 'j': cli.json = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("twofold %s\n", TF_VERSION); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (cli.state_dir == NULL) {
		cli.state_dir = secure_getenv("TWOFOLD_STATE");
		cli.state_given = cli.state_dir != NULL && cli.state_dir[0];
		if (!cli.state_given)
			cli.state_dir = NULL;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cli.verb = argv[optind];
	for (size_t i = 0; i < TF_ARRAY_SIZE(verbs); i++) {
		if (strcmp(verbs[i].name, cli.verb) != 0)
			continue;
		if (cli_wants_help(argc - optind, argv + optind)) {
			verbs[i].help(stdout);
			return EXIT_OK;
		}
		{
			int vi = optind;
			/* getopt in the verb starts afresh on its own argv,
			 * whose argv[0] is the verb */
			optind = 0;
			return verbs[i].fn(&cli, argc - vi, argv + vi);
		}
	}
	cli.verb = NULL;
	cli_err(&cli, "unknown verb '%s' (see: twofold --help)", argv[optind]);
	return EXIT_USAGE;
}
