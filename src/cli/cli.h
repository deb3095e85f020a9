/* SPDX-License-Identifier: ISC */
/* twofold CLI internals: one file per verb, a table in main.c. */
#ifndef TWOFOLD_CLI_H
#define TWOFOLD_CLI_H

#include <stdio.h>

#include "twofold/common.h"
#include "twofold/ipc.h"

/* Exit codes (README "Exit status"). */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct cli {
	const char *state_dir; /* NULL: /var/lib/twofold */
	bool state_given;      /* --state or TWOFOLD_STATE */
	bool json;
	const char *verb;
};

struct cli_verb {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *summary;
	void (*help)(FILE *f);
};

/* Errors: "twofold: VERB: what failed (what to do)". */
void cli_err(const struct cli *cli, const char *fmt, ...) TF_PRINTF(2, 3);
int cli_usage_err(const struct cli *cli, const struct cli_verb *v,
		  const char *fmt, ...) TF_PRINTF(3, 4);

/*
 * Structured errors (errors.c, twofold/error.h): a reason id, errno and
 * named parameters, rendered as "twofold: VERB: sentence; hint" on stderr
 * or, under --json, as {"error": {...}} on stdout. cli_fail is cli_err
 * with the reason and errno known.
 */
#define CLI_ERR_PARAMS 8
struct cli_error {
	int err; /* -errno, 0 unknown */
	const char *reason, *message;
	size_t n_params;
	char keys[CLI_ERR_PARAMS][24];
	const char *vals[CLI_ERR_PARAMS];
};
void cli_fail(const struct cli *cli, int err, const char *reason,
	      const char *fmt, ...) TF_PRINTF(4, 5);
void cli_error_init(struct cli_error *e, int err, const char *reason,
		    const char *message);
void cli_error_print(const struct cli *cli, const struct cli_error *e);
/* A verb's one-line answer: the line, or under --json {"message", "verb"} */
void cli_print_message(const struct cli *cli, const char *msg);
/* "twofold: VERB: WHAT..." on a terminal's stderr (never under --json or
 * when stderr is not a tty); _end adds how long it took. An error or an
 * answer printed meanwhile ends it first. */
void cli_progress_begin(const struct cli *cli, const char *what);
void cli_progress_end(void);
/* s as a JSON string (escaped) on f */
void cli_json_str(FILE *f, const char *s);
/* The sentence (and hint) for e: true if rendered from its reason, false
 * if it is the daemon's message (no template fits). */
bool cli_error_render(const struct cli *cli, const struct cli_error *e,
		      char *sentence, size_t scap, char *hint, size_t hcap);

/* Make the executable's PT_GNU_RELRO range read-only where the C
 * library's start-up does not (musl static-pie; relro.c). -errno. */
TF_WUR int cli_relro_protect(void);

/* Connect to the daemon; on failure prints the one-line error and returns
 * -errno. */
TF_WUR int cli_connect(const struct cli *cli);

/* Send b (and fds) and wait for the final TF_REP_RESULT. Prints the
 * daemon's message on failure. Returns the daemon's errno (0 ok). *reply
 * (optional) receives the parsed reply and its buffer (free with
 * cli_reply_free). */
struct cli_reply {
	struct tf_msg_reader rd;
	struct tf_msg msg;
	int32_t err;
	const char *message, *text, *json;
};
TF_WUR int cli_request(const struct cli *cli, struct tf_msgbuf *b,
		       struct cli_reply *reply);
/* The same with fds on the request (SCM_RIGHTS): app install's package */
TF_WUR int cli_request_fds(const struct cli *cli, struct tf_msgbuf *b,
			   const int *fds, size_t nfds,
			   struct cli_reply *reply);
void cli_reply_free(struct cli_reply *r);
/* Send b (with fds), free it, and print the answer: its JSON under --json,
 * else its text. EXIT_OK, or EXIT_FAIL after the error was printed. For
 * the verbs whose answer is all they print (status, net, tunnel, app). */
int cli_request_print(const struct cli *cli, struct tf_msgbuf *b,
		      const int *fds, size_t nfds);
/* Send b, free it, and print the daemon's message (if any). EXIT_OK, or
 * EXIT_FAIL after the error was printed. For the verbs that only act. */
int cli_request_message(const struct cli *cli, struct tf_msgbuf *b);
/* Print the error of a failed reply (its reason, parameters, message) */
void cli_error_from_reply(struct cli_error *e, const struct cli_reply *rep);
void cli_reply_error(const struct cli *cli, const struct cli_reply *rep);

/* A simple request naming one persona, printing the daemon's message. */
int cli_persona_request(const struct cli *cli, uint16_t type,
			const char *persona, uint32_t flags);

/* Credential input: from the terminal without echo, or one line of stdin.
 * Returns a tf_secure_alloc'd NUL-terminated string or NULL (error
 * printed). */
char *cli_read_secret(const struct cli *cli, const char *prompt,
		      bool from_stdin);

/* The state of one persona as the daemon reports it ("running", ...);
 * writes "" if unknown. */
TF_WUR int cli_persona_state(const struct cli *cli, const char *persona,
			     char *state, size_t cap);

/* Read the next reply on an open connection. */
TF_WUR int cli_read_reply(const struct cli *cli, int fd, struct cli_reply *rep);

#define TF_CRED_BUF 257 /* TF_CRED_MAX (keys.h) + NUL */

/* enroll/unlock: a request carrying credentials (buffer wiped). */
int cli_secret_request(struct cli *cli, uint16_t type, const char *persona,
		       const char *old, const char *new_);
/* The same with request flags (enroll --duress: TF_F_DURESS). */
int cli_secret_request_flags(struct cli *cli, uint16_t type,
			     const char *persona, const char *old,
			     const char *new_, uint32_t flags);

/* Parse "VERB PERSONA [FLAG]": 0, or the usage exit code (printed). */
int cli_parse_persona_args(const struct cli *cli, int argc, char **argv,
			   const char *flag, bool *flag_set,
			   const char **persona);

/* verbs */
#define VERB(n)                                                                \
	int verb_##n(struct cli *cli, int argc, char **argv);                  \
	void help_##n(FILE *f)
VERB(init);
VERB(status);
VERB(selftest);
VERB(pkg);
VERB(app);
VERB(exec);
VERB(persona);
VERB(run);
VERB(switch);
VERB(enroll);
VERB(unlock);
VERB(lock);
VERB(wipe);
VERB(audit);
VERB(copy);
/* `twofold pkg scandb`: called by verb_pkg's dispatcher, argv[0] "scandb" */
VERB(pkg_scandb);
VERB(help);
VERB(alert);
VERB(notify);
VERB(comms);
VERB(net);
VERB(tunnel);
#undef VERB

/* A verb's getopt_long returned '?' or ':' (optstring "+:..." or ":...";
 * main sets opterr = 0): "unknown option '--x'" or "option --x needs an
 * argument", printed; returns the usage exit code. */
int cli_getopt_err(const struct cli *cli, int c, int argc, char **argv);

/* true if argv has -h/--help before "--" */
bool cli_wants_help(int argc, char **argv);

#endif
