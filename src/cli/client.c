/* SPDX-License-Identifier: ISC */
/* Talking to twofoldd, and reading credentials. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>

#include "twofold/error.h"
#include "twofold/secmem.h"
#include "cli.h"

static const char *state_hint(const struct cli *cli)
{
	return cli->state_dir ? cli->state_dir : "/var/lib/twofold";
}

/*
 * No socket: say what is actually missing. A state directory that does
 * not exist, or has no device.conf, needs `init`, not a daemon start
 * (twofoldd would refuse it and say the same). Where we cannot look
 * (not root, a 0700 directory) the daemon is the likelier answer.
 */
static void no_daemon(const struct cli *cli, int r)
{
	const char *s = state_hint(cli);
	char conf[PATH_MAX];
	struct stat st;

	snprintf(conf, sizeof(conf), "%s/device.conf", s);
	if (stat(s, &st) < 0 && errno == ENOENT)
		cli_fail(cli, r, TF_R_STATE_MISSING,
			 "state directory %s does not exist (create it with: "
			 "twofold%s%s init)",
			 s, cli->state_given ? " --state " : "",
			 cli->state_given ? s : "");
	else if (stat(conf, &st) < 0 && errno == ENOENT)
		cli_fail(cli, r, TF_R_STATE_UNINITIALISED,
			 "%s is not initialised: no device.conf (create it "
			 "with: twofold%s%s init)",
			 s, cli->state_given ? " --state " : "",
			 cli->state_given ? s : "");
	else
		cli_fail(cli, r, TF_R_DAEMON_NOT_RUNNING,
			 "twofoldd is not running (start it with: twofoldd "
			 "--state %s)",
			 s);
}

int cli_connect(const struct cli *cli)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[sizeof(sa.sun_path)];
	int fd, r;

	r = tf_control_path(cli->state_given ? cli->state_dir : NULL, path,
			    sizeof(path));
	if (r < 0) {
		cli_err(cli, "state directory path too long for a socket "
			     "(at most 99 bytes)");
		return r;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = tf_negerrno();
		cli_err(cli, "cannot create a socket: %s", strerror(-r));
		return r;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = tf_negerrno();
		close(fd);
		if (r == -ENOENT || r == -ECONNREFUSED)
			no_daemon(cli, r);
		else if (r == -EACCES)
			cli_fail(cli, r, TF_R_DAEMON_DENIED,
				 "permission denied on %s (twofold needs "
				 "root, or a member of the device's "
				 "control_group)",
				 path);
		else
			cli_err(cli, "cannot connect to %s: %s", path,
				strerror(-r));
		return r;
	}
	return fd;
}

void cli_reply_free(struct cli_reply *r)
{
	tf_msg_clear(&r->msg);
	tf_msg_reader_reset(&r->rd);
}

/* Wait for a message of one of the reply types on fd. */
static int read_reply(const struct cli *cli, int fd, struct cli_reply *rep)
{
	int r;

	tf_msg_reader_init(&rep->rd, TF_MSG_MAX);
	r = tf_msg_recv(fd, &rep->rd);
	if (r == -ECONNRESET) {
		cli_fail(cli, r, TF_R_DAEMON_GONE,
			 "twofoldd closed the connection (see its log)");
		return r;
	}
	if (r < 0) {
		cli_err(cli, "bad reply from twofoldd: %s", strerror(-r));
		return r;
	}
	r = tf_msg_parse(rep->rd.buf, rep->rd.total, &rep->msg);
	if (r < 0) {
		cli_err(cli, "malformed reply from twofoldd");
		tf_msg_reader_reset(&rep->rd);
		return r;
	}
	rep->err = 0;
	tf_msg_i32(&rep->msg, TF_A_ERRNO, &rep->err);
	rep->message = tf_msg_str(&rep->msg, TF_A_MESSAGE);
	rep->text = tf_msg_str(&rep->msg, TF_A_TEXT);
	rep->json = tf_msg_str(&rep->msg, TF_A_JSON);
	return 0;
}

int cli_read_reply(const struct cli *cli, int fd, struct cli_reply *rep)
{
	return read_reply(cli, fd, rep);
}

int cli_request_print(const struct cli *cli, struct tf_msgbuf *b,
		      const int *fds, size_t nfds)
{
	struct cli_reply rep;
	int r = cli_request_fds(cli, b, fds, nfds, &rep);

	tf_msgbuf_free(b);
	if (r < 0) {
		if (rep.rd.buf)
			cli_reply_free(&rep);
		return EXIT_FAIL;
	}
	if (cli->json && rep.json)
		fputs(rep.json, stdout);
	else if (rep.text)
		fputs(rep.text, stdout);
	cli_reply_free(&rep);
	return EXIT_OK;
}

int cli_request_message(const struct cli *cli, struct tf_msgbuf *b)
{
	struct cli_reply rep;
	int r = cli_request(cli, b, &rep);

	tf_msgbuf_free(b);
	if (r == 0 && rep.message)
		cli_print_message(cli, rep.message);
	if (r == 0 || rep.rd.buf)
		cli_reply_free(&rep);
	return r == 0 ? EXIT_OK : EXIT_FAIL;
}

int cli_request(const struct cli *cli, struct tf_msgbuf *b,
		struct cli_reply *reply)
{
	return cli_request_fds(cli, b, NULL, 0, reply);
}

int cli_request_fds(const struct cli *cli, struct tf_msgbuf *b, const int *fds,
		    size_t nfds, struct cli_reply *reply)
{
	struct cli_reply local;
	struct cli_reply *rep = reply ? reply : &local;
	_cleanup_close_ int fd = -1;
	int r;

	memset(rep, 0, sizeof(*rep));
	r = tf_msgbuf_finish(b);
	if (r < 0) {
		cli_err(cli, "request too large: %s", strerror(-r));
		return r;
	}
	fd = cli_connect(cli);
	if (fd < 0)
		return fd;
	r = tf_msg_send(fd, b, fds, nfds);
	if (r < 0) {
		cli_err(cli, "cannot send to twofoldd: %s", strerror(-r));
		return r;
	}
	r = read_reply(cli, fd, rep);
	if (r < 0)
		return r;
	if (rep->err < 0)
		cli_reply_error(cli, rep);
	r = rep->err;
	if (rep == &local)
		cli_reply_free(&local);
	return r;
}

int cli_persona_request(const struct cli *cli, uint16_t type,
			const char *persona, uint32_t flags)
{
	struct tf_msgbuf b;

	tf_msgbuf_init(&b, type);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, persona);
	if (flags)
		tf_msgbuf_put_u32(&b, TF_A_FLAGS, flags);
	return cli_request_message(cli, &b);
}

int cli_persona_state(const struct cli *cli, const char *persona, char *state,
		      size_t cap)
{
	struct cli_reply rep;
	struct tf_msgbuf b;
	const char *line;
	size_t plen = strlen(persona);
	int r;

	state[0] = '\0';
	tf_msgbuf_init(&b, TF_REQ_STATUS);
	tf_msgbuf_put_u32(&b, TF_A_FLAGS, TF_F_LIST);
	r = cli_request(cli, &b, &rep);
	tf_msgbuf_free(&b);
	if (r < 0)
		return r;
	/* list form: one "NAME STATE [foreground]" line per persona */
	for (line = rep.text; line && *line;) {
		const char *nl = strchr(line, '\n');
		if (strncmp(line, persona, plen) == 0 && line[plen] == ' ') {
			const char *s = line + plen + 1;
			size_t n = strcspn(s, " \n");
			snprintf(state, cap, "%.*s", (int)n, s);
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	cli_reply_free(&rep);
	return 0;
}

char *cli_read_secret(const struct cli *cli, const char *prompt,
		      bool from_stdin)
{
	char *buf = tf_secure_alloc(TF_CRED_BUF);
	struct termios old, noecho;
	bool restore = false;
	_cleanup_close_ int tty = -1;
	int in = STDIN_FILENO;
	size_t n = 0;

	if (buf == NULL) {
		cli_err(cli,
			"cannot lock memory for the credential: %s (raise "
			"RLIMIT_MEMLOCK: ulimit -l)",
			strerror(errno));
		return NULL;
	}
	if (!from_stdin) {
		tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (tty < 0) {
			cli_err(cli, "no terminal to read the credential from "
				     "(use --pin-stdin)");
			tf_secure_free(buf);
			return NULL;
		}
		in = tty;
		if (tcgetattr(tty, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			noecho.c_lflag |= ICANON;
			restore = tcsetattr(tty, TCSAFLUSH, &noecho) == 0;
		}
		(void)!write(tty, prompt, strlen(prompt));
	}
	/* byte by byte, so nothing past the line is consumed from stdin */
	/* straight into the secure buffer (n < TF_CRED_BUF here), so no
	 * byte of the credential is left on the stack */
	for (;;) {
		ssize_t k = read(in, &buf[n], 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || buf[n] == '\n')
			break;
		if (n + 1 >= TF_CRED_BUF) {
			n = TF_CRED_BUF; /* too long: rejected below */
			break;
		}
		n++;
	}
	if (restore) {
		tcsetattr(tty, TCSAFLUSH, &old);
		(void)!write(tty, "\n", 1);
	}
	if (n >= TF_CRED_BUF) {
		cli_err(cli, "credential longer than %d bytes",
			TF_CRED_BUF - 1);
		tf_secure_free(buf);
		return NULL;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0) {
		cli_err(cli, "empty credential");
		tf_secure_free(buf);
		return NULL;
	}
	return buf;
}

int cli_parse_persona_args(const struct cli *cli, int argc, char **argv,
			   const char *flag, bool *flag_set,
			   const char **persona)
{
	*persona = NULL;
	for (int i = 1; i < argc; i++) {
		if (flag != NULL && strcmp(argv[i], flag) == 0)
			*flag_set = true;
		else if (argv[i][0] == '-')
			return cli_usage_err(cli, NULL, "unknown option '%s'",
					     argv[i]);
		else if (*persona == NULL)
			*persona = argv[i];
		else
			return cli_usage_err(
				cli, NULL, "unexpected argument '%s'", argv[i]);
	}
	if (*persona == NULL)
		return cli_usage_err(cli, NULL, "needs one persona");
	return 0;
}

int cli_secret_request(struct cli *cli, uint16_t type, const char *persona,
		       const char *old, const char *new_)
{
	return cli_secret_request_flags(cli, type, persona, old, new_, 0);
}

int cli_secret_request_flags(struct cli *cli, uint16_t type,
			     const char *persona, const char *old,
			     const char *new_, uint32_t flags)
{
	struct tf_msgbuf b;
	struct cli_reply rep;
	int r;

	/* in secure memory, one datagram, never grown: the only copy of the
	 * credential besides the one cli_read_secret read it into (the
	 * daemon accepts a credential only in a one-datagram request) */
	tf_msgbuf_init_secret(&b, type, TF_FRAG_MAX);
	if (b.err < 0) {
		cli_err(cli,
			"cannot lock memory for the credential: %s (raise "
			"RLIMIT_MEMLOCK: ulimit -l)",
			strerror(-b.err));
		return EXIT_FAIL;
	}
	tf_msgbuf_put_str(&b, TF_A_PERSONA, persona);
	if (old)
		tf_msgbuf_put_str(&b, TF_A_SECRET, old);
	/* the KDF takes a second or more (kdf_target_ms): say so */
	cli_progress_begin(cli, "deriving key");
	if (new_)
		tf_msgbuf_put_str(&b, TF_A_SECRET_NEW, new_);
	if (flags)
		tf_msgbuf_put_u32(&b, TF_A_FLAGS, flags);
	r = cli_request(cli, &b, &rep);
	tf_msgbuf_free(&b);
	if (r == 0 && rep.message)
		cli_print_message(cli, rep.message);
	if (rep.rd.buf)
		cli_reply_free(&rep);
	return r == 0 ? EXIT_OK : EXIT_FAIL;
}
