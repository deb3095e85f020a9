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
	{"pkg", verb_pkg, "build, sign and verify app packages and catalogs",
	 help_pkg},
	{"app", verb_app, "install, list or remove a persona's apps", help_app},
	{"copy", verb_copy, "copy a file into a persona's Inbox (scanned)",
	 help_copy},
	{"exec", verb_exec, "seal the hashes of a persona's base executables",
	 help_exec},
	{"alert", verb_alert, "post a signed urgent alert (root)", help_alert},
	{"notify", verb_notify, "list the notifications the daemon keeps",
	 help_notify},
	{"comms", verb_comms,
	 "provision twofold-comms in a persona (root), its status", help_comms},
	{"help", verb_help, "this text, or a verb's: twofold help VERB",
	 help_help},
};

/*
 * What main needs to know of a verb's own arguments to take the global
 * options from among them: its options that take a value (whose value may
 * look like a global option), and for run the word (PERSONA CMD: the 2nd)
 * from which on every word is the command's. A separate table, so a verb
 * row stays four fields.
 */
static const struct {
	const char *verb, *arg_opts;
	int cmd_after;
} verb_args[] = {
	{"init", "--suite --size --storage", 0},
	{"run", "-u --user -C --cwd -e --env --app", 2},
	{"audit", "--since --persona --key", 0},
	{"pkg", "-o --out --key --manifest --trust --suite --seq --expires", 0},
};

static const char *arg_opts_of(const char *verb, int *cmd_after)
{
	*cmd_after = 0;
	for (size_t i = 0; i < TF_ARRAY_SIZE(verb_args); i++)
		if (strcmp(verb_args[i].verb, verb) == 0) {
			*cmd_after = verb_args[i].cmd_after;
			return verb_args[i].arg_opts;
		}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: twofold [--state DIR] [--json] VERB [ARGS...]\n"
		   "       twofold help [VERB]\n\n"
		   "Verbs:\n");
	for (size_t i = 0; i < TF_ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nOptions (before or after the verb):\n"
		   "  -s, --state DIR  device state directory (default:\n"
		   "                   $TWOFOLD_STATE, else /var/lib/twofold)\n"
		   "  -j, --json       machine-readable output where output is "
		   "data,\n"
		   "                   and errors as one JSON object\n"
		   "  -h, --help       this text (after a verb: the verb's)\n"
		   "  -V, --version    print the version\n\n"
		   "Exit status: 0 ok, 1 the operation failed, 2 usage error.\n"
		   "See twofold(1) (docs/twofold.1.md) and docs/cli.md.\n");
}

static const struct cli_verb *find_verb(const char *name)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

void help_help(FILE *f)
{
	fprintf(f, "usage: twofold help [VERB]\n\n"
		   "Without VERB: the verbs and the global options. With "
		   "VERB: its\n"
		   "usage, as twofold VERB --help prints it.\n");
}

int verb_help(struct cli *cli, int argc, char **argv)
{
	const struct cli_verb *v;

	if (argc == 1) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc > 2)
		return cli_usage_err(cli, NULL, "unexpected argument '%s'",
				     argv[2]);
	v = find_verb(argv[1]);
	if (v == NULL)
		return cli_usage_err(cli, NULL, "unknown verb '%s'", argv[1]);
	v->help(stdout);
	return EXIT_OK;
}

/* Edit distance of a and b, capped: a typo's nearest verb. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

	if (la > 32 || lb > 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = TF_MIN(sub, TF_MIN(del, ins));
		}
		memcpy(prev, cur, sizeof(cur));
	}
	return prev[lb];
}

static const char *nearest_verb(const char *name)
{
	const char *best = NULL;
	size_t bd = 3; /* at most two edits away */

	for (size_t i = 0; i < TF_ARRAY_SIZE(verbs); i++) {
		size_t d = distance(name, verbs[i].name);
		if (strncmp(verbs[i].name, name, strlen(name)) == 0 &&
		    strlen(name) >= 2)
			d = 1; /* a prefix: "stat" */
		if (d < bd) {
			bd = d;
			best = verbs[i].name;
		}
	}
	return best;
}

/* Is word one of the space-separated names in list? */
static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *s = list; s && *s;) {
		size_t k = strcspn(s, " ");
		if (k == n && memcmp(s, word, n) == 0)
			return true;
		s += k + (s[k] == ' ');
	}
	return false;
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
	if (cli->verb == NULL || strcmp(cli->verb, "help") == 0)
		cli_fail(cli, -EINVAL, TF_R_CLI_USAGE, "%s (try: twofold help)",
			 msg);
	else
		cli_fail(cli, -EINVAL, TF_R_CLI_USAGE,
			 "%s (see: twofold %s --help)", msg, cli->verb);
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

int cli_getopt_err(const struct cli *cli, int c, int argc, char **argv)
{
	const char *a = optind - 1 < argc && optind > 0 ? argv[optind - 1] : "";
	char name[64];

	if (strncmp(a, "--", 2) == 0)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(a, "="), a);
	else if (optopt > 0 && optopt < 128)
		snprintf(name, sizeof(name), "-%c", optopt);
	else
		snprintf(name, sizeof(name), "%s", a);
	if (c == ':')
		return cli_usage_err(cli, NULL, "option %s needs an argument",
				     name);
	return cli_usage_err(cli, NULL, "unknown option '%s'", name);
}

/*
 * The global options (--state, --json) are taken wherever they are before
 * the verb's own "--" (for run: before its command too, which has options
 * of its own) and removed from argv, so `twofold status --state DIR` is
 * `twofold --state DIR status`. An option of the verb that takes a value
 * (arg_opts) keeps its value even if that looks like a global option.
 * Returns -1 to go on, else the exit code; *vi the verb's index in the
 * compacted argv (0: none), *help a -h/--help for the verb.
 */
static int parse_global(struct cli *cli, int *argc, char **argv, int *vi,
			bool *help)
{
	const struct cli_verb *v = NULL;
	const char *arg_opts = NULL;
	int o = 1, positional = 0, cmd_after = 0;
	bool ended = false;

	*vi = 0;
	*help = false;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (ended) {
			argv[o++] = argv[i];
			continue;
		}
		if (strcmp(a, "--state") == 0 || strcmp(a, "-s") == 0) {
			if (i + 1 >= *argc || argv[i + 1][0] == '\0') {
				cli->verb = NULL;
				cli_fail(cli, -EINVAL, TF_R_CLI_USAGE,
					 "option %s needs an argument (a state "
					 "directory)",
					 a);
				return EXIT_USAGE;
			}
			cli->state_dir = argv[++i];
			cli->state_given = true;
			continue;
		}
		if (strncmp(a, "--state=", 8) == 0 ||
		    (strncmp(a, "-s", 2) == 0 && a[2] != '\0' && a[1] != '-')) {
			cli->state_dir = a + (a[1] == '-' ? 8 : 2);
			cli->state_given = true;
			continue;
		}
		if (strcmp(a, "--json") == 0 || strcmp(a, "-j") == 0) {
			cli->json = true;
			continue;
		}
		if (v == NULL) {
			if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
				usage(stdout);
				return EXIT_OK;
			}
			if (strcmp(a, "-V") == 0 ||
			    strcmp(a, "--version") == 0) {
				printf("twofold %s\n", TF_VERSION);
				return EXIT_OK;
			}
			if (a[0] == '-') {
				cli_fail(cli, -EINVAL, TF_R_CLI_USAGE,
					 "unknown option '%s' (try: twofold "
					 "help)",
					 a);
				return EXIT_USAGE;
			}
			v = find_verb(a);
			if (v == NULL) {
				const char *near = nearest_verb(a);
				if (near)
					cli_fail(cli, -EINVAL, TF_R_CLI_USAGE,
						 "unknown verb '%s'; did you "
						 "mean '%s'? (try: twofold "
						 "help)",
						 a, near);
				else
					cli_fail(cli, -EINVAL, TF_R_CLI_USAGE,
						 "unknown verb '%s' (try: "
						 "twofold help)",
						 a);
				return EXIT_USAGE;
			}
			cli->verb = v->name;
			arg_opts = arg_opts_of(v->name, &cmd_after);
			*vi = o;
			argv[o++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			ended = true;
			argv[o++] = argv[i];
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			*help = true;
		if (a[0] == '-' && a[1] != '\0') {
			argv[o++] = argv[i];
			if (arg_opts && in_list(arg_opts, a) && i + 1 < *argc)
				argv[o++] = argv[++i];
			continue;
		}
		/* run PERSONA CMD...: from CMD on, the words are CMD's */
		if (cmd_after && ++positional >= cmd_after)
			ended = true;
		argv[o++] = argv[i];
	}
	argv[o] = NULL;
	*argc = o;
	return -1;
}

int main(int argc, char **argv)
{
	struct cli cli = {0};
	const struct cli_verb *v;
	bool help;
	int c, vi;

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
	/* the verbs' getopt: our messages (cli_getopt_err), not libc's */
	opterr = 0;
	c = parse_global(&cli, &argc, argv, &vi, &help);
	if (c >= 0)
		return c;
	if (cli.state_dir == NULL) {
		cli.state_dir = secure_getenv("TWOFOLD_STATE");
		cli.state_given = cli.state_dir != NULL && cli.state_dir[0];
		if (!cli.state_given)
			cli.state_dir = NULL;
	}
	if (vi == 0) {
		cli_fail(&cli, -EINVAL, TF_R_CLI_USAGE,
			 "no verb given (try: twofold help)");
		return EXIT_USAGE;
	}
	v = find_verb(argv[vi]);
	if (help) {
		v->help(stdout);
		return EXIT_OK;
	}
	/* getopt in the verb starts afresh on its own argv, whose argv[0]
	 * is the verb */
	optind = 0;
	return v->fn(&cli, argc - vi, argv + vi);
}
