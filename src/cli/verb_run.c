/* SPDX-License-Identifier: ISC */
/*
 * twofold run PERSONA -- CMD: the app-launch path, kept lean (no crypto
 * library, no config parsing): build one request, pass our stdio to the
 * daemon, relay signals, exit with the app's status.
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>

#include "cli.h"

void help_run(FILE *f)
{
	fprintf(f,
		"usage: twofold run PERSONA [--user UID] [--cwd DIR] "
		"[--env K=V]...\n"
		"                   -- CMD [ARGS...]\n\n"
		"Run CMD inside the running PERSONA with this terminal's "
		"stdin,\n"
		"stdout and stderr. The app runs as UID inside the persona\n"
		"(default 1000), with no capabilities, no_new_privs, the "
		"seccomp\n"
		"filter and Landlock, and a clean environment: PATH, HOME,\n"
		"LANG, TERM (from here) and each --env, nothing else.\n"
		"Ctrl-C and other terminal signals are passed on to it.\n\n"
		"Exit status: the app's; 128+N if a signal N ended it; 127 "
		"if\n"
		"CMD is not found in the persona; 126 if it cannot be "
		"executed;\n"
		"1 if it could not start.\n"
		"Bounds: one argument or variable at most %u bytes; all of\n"
		"them together at most %u bytes.\n",
		TF_STR_MAX - 1, TF_ARGV_TOTAL_MAX);
}

static int send_signal(int fd, int sig)
{
	struct tf_msgbuf b;
	int r;

	tf_msgbuf_init(&b, TF_REQ_SIGNAL);
	tf_msgbuf_put_u32(&b, TF_A_SIGNAL, (uint32_t)sig);
	r = tf_msgbuf_finish(&b);
	if (r == 0)
		r = tf_msg_send(fd, &b, NULL, 0);
	tf_msgbuf_free(&b);
	return r;
}

/* Relay signals until the app's exit status arrives. */
static int wait_for_exit(struct cli *cli, int fd, const sigset_t *mask)
{
	_cleanup_close_ int sfd = signalfd(-1, mask, SFD_CLOEXEC);

	if (sfd < 0) {
		cli_err(cli, "signalfd: %s", strerror(errno));
		return EXIT_FAIL;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		struct cli_reply rep;
		int32_t code = EXIT_FAIL;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			cli_err(cli, "poll: %s", strerror(errno));
			return EXIT_FAIL;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				(void)send_signal(fd, (int)si.ssi_signo);
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		memset(&rep, 0, sizeof(rep));
		if (cli_read_reply(cli, fd, &rep) < 0)
			return EXIT_FAIL;
		if (rep.msg.type == TF_REP_EXITED) {
			tf_msg_i32(&rep.msg, TF_A_EXIT, &code);
			cli_reply_free(&rep);
			return code;
		}
		if (rep.msg.type == TF_REP_RESULT && rep.err < 0) {
			cli_err(cli, "%s",
				rep.message ? rep.message : strerror(-rep.err));
			if (tf_msg_i32(&rep.msg, TF_A_EXIT, &code) < 0)
				code = EXIT_FAIL;
			cli_reply_free(&rep);
			return code;
		}
		cli_reply_free(&rep); /* a stray reply */
	}
}

int verb_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},
		{"cwd", required_argument, NULL, 'C'},
		{"env", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	static const int relayed[] = {SIGINT,	SIGTERM, SIGHUP, SIGQUIT,
				      SIGWINCH, SIGUSR1, SIGUSR2};
	const char *persona = NULL, *cwd = NULL;
	const char *envs[4094]; /* + TERM, LANG: the daemon takes 4096 */
	size_t nenv = 0, total = 0;
	struct tf_msgbuf b;
	uint64_t uid = 0;
	bool have_uid = false;
	const int fds[3] = {0, 1, 2};
	sigset_t mask;
	int c, fd, r, cmd;

	/* "+": options end at the first non-option (PERSONA or CMD) */
	for (;;) {
		while ((c = getopt_long(argc, argv, "+u:C:e:", opts, NULL)) !=
		       -1) {
			switch (c) {
			case 'u':
				if (tf_parse_u64(optarg, UINT32_MAX, &uid) < 0)
					return cli_usage_err(cli, NULL,
							     "invalid --user "
							     "'%s' (a numeric "
							     "uid)",
							     optarg);
				have_uid = true;
				break;
			case 'C': cwd = optarg; break;
			case 'e':
				if (strchr(optarg, '=') == NULL ||
				    optarg[0] == '=')
					return cli_usage_err(
						cli, NULL,
						"--env wants NAME=VALUE, got "
						"'%s'",
						optarg);
				if (nenv >= TF_ARRAY_SIZE(envs))
					return cli_usage_err(
						cli, NULL,
						"too many --env (at most %zu)",
						TF_ARRAY_SIZE(envs));
				envs[nenv++] = optarg;
				break;
			default:
				return cli_usage_err(cli, NULL,
						     "unknown option");
			}
		}
		if (persona != NULL || optind >= argc ||
		    strcmp(argv[optind - 1], "--") == 0)
			break;
		persona = argv[optind++];
	}
	cmd = optind;
	if (persona == NULL)
		return cli_usage_err(cli, NULL,
				     "needs a persona and a command");
	if (cmd >= argc)
		return cli_usage_err(cli, NULL,
				     "no command given (twofold run "
				     "%s -- CMD)",
				     persona);

	tf_msgbuf_init(&b, TF_REQ_RUN);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, persona);
	if (have_uid)
		tf_msgbuf_put_u32(&b, TF_A_UID, (uint32_t)uid);
	if (cwd)
		tf_msgbuf_put_str(&b, TF_A_CWD, cwd);
	/* the only variables taken from our environment */
	{
		static const char *pass[] = {"TERM", "LANG"};
		static char buf[2][256];
		for (size_t i = 0; i < TF_ARRAY_SIZE(pass); i++) {
			const char *v = getenv(pass[i]);
			if (v && strlen(v) < 200) {
				snprintf(buf[i], sizeof(buf[i]), "%s=%s",
					 pass[i], v);
				tf_msgbuf_put_str(&b, TF_A_ENV, buf[i]);
			}
		}
	}
	for (size_t i = 0; i < nenv; i++) {
		size_t l = strlen(envs[i]);
		if (l >= TF_STR_MAX) {
			tf_msgbuf_free(&b);
			cli_err(cli, "--env %.20s... is longer than %u bytes",
				envs[i], TF_STR_MAX - 1);
			return EXIT_FAIL;
		}
		total += l + 1;
		tf_msgbuf_put_str(&b, TF_A_ENV, envs[i]);
	}
	for (int i = cmd; i < argc; i++) {
		size_t l = strlen(argv[i]);
		if (l >= TF_STR_MAX) {
			tf_msgbuf_free(&b);
			cli_err(cli, "argument %d is longer than %u bytes",
				i - cmd, TF_STR_MAX - 1);
			return EXIT_FAIL;
		}
		total += l + 1;
		tf_msgbuf_put_str(&b, TF_A_ARG, argv[i]);
	}
	if (total > TF_ARGV_TOTAL_MAX) {
		tf_msgbuf_free(&b);
		cli_err(cli, "arguments and environment exceed %u bytes",
			TF_ARGV_TOTAL_MAX);
		return EXIT_FAIL;
	}
	r = tf_msgbuf_finish(&b);
	if (r < 0) {
		tf_msgbuf_free(&b);
		cli_err(cli, "request too large: %s", strerror(-r));
		return EXIT_FAIL;
	}

	/* block the relayed signals before the app can start, so none is
	 * lost between its start and our signalfd */
	sigemptyset(&mask);
	for (size_t i = 0; i < TF_ARRAY_SIZE(relayed); i++)
		sigaddset(&mask, relayed[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	fd = cli_connect(cli);
	if (fd < 0) {
		tf_msgbuf_free(&b);
		return EXIT_FAIL;
	}
	r = tf_msg_send(fd, &b, fds, 3);
	tf_msgbuf_free(&b);
	if (r < 0) {
		cli_err(cli, "cannot send to twofoldd: %s", strerror(-r));
		close(fd);
		return EXIT_FAIL;
	}
	r = wait_for_exit(cli, fd, &mask);
	close(fd);
	return r;
}
