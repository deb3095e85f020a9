/* SPDX-License-Identifier: ISC */
/*
 * twofold run PERSONA -- CMD: the app-launch path, kept lean (no crypto
 * library, no config parsing): build one request, pass our stdio to the
 * daemon, relay signals, exit with the app's status.
 */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>

#include "cli.h"

void help_run(FILE *f)
{
	fprintf(f,
		"usage: twofold run PERSONA [-t|-T] [--service] [--user UID]\n"
		"                   [--app NAME[:ENTRY]]\n"
		"                   [--cwd DIR] [--env K=V]... -- CMD "
		"[ARGS...]\n\n"
		"Run CMD inside the running PERSONA. The app runs as UID "
		"inside\n"
		"the persona (default 1000), with no capabilities, "
		"no_new_privs,\n"
		"the seccomp filter and Landlock, and a clean environment: "
		"PATH,\n"
		"HOME, LANG, TERM (from here) and each --env, nothing else.\n\n"
		"A persona never gets this terminal. When stdin, stdout or "
		"stderr\n"
		"is a terminal (or with -t), the app gets a pseudo-terminal of "
		"the\n"
		"persona's own as its controlling terminal, and twofold "
		"relays\n"
		"keystrokes, output and window size (the app's job control "
		"works\n"
		"there; Ctrl-Z of the app suspends this command, fg resumes "
		"it).\n"
		"Non-terminal stdio (files, pipes) is passed as it is.\n\n"
		"  -t, --tty       a pty even when no stdio is a terminal\n"
		"  -T, --no-tty    no pty: terminals are relayed through "
		"pipes\n"
		"      --service   a background service: what CMD leaves "
		"running\n"
		"                  is not killed when it exits (otherwise "
		"every\n"
		"                  process of the run is killed then)\n"
		"  -u, --user UID  the uid inside the persona, 1 to its "
		"uid_count-1\n"
		"                  (0, its root, and 5, its tty group, are "
		"refused)\n"
		"  -C, --cwd DIR  -e, --env NAME=VALUE\n"
		"      --app NAME[:ENTRY]  an installed app's entry point "
		"(twofold\n"
		"                  app): as its own uid in /var/apps/NAME, "
		"with\n"
		"                  the ARGS after --\n\n"
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

/*
 * The relay: byte channels between our stdio (or our terminal) and the
 * app's pty master or pipes. Each channel has one buffer; we read from its
 * source only when the buffer is empty and write when the target is
 * writable, so a slow reader never blocks the loop (signals, the exit).
 */
#define RELAY_BUF 4096
#define RELAY_MAX 4

struct chan {
	int from, to;
	bool eof_to_pty; /* stdin -> pty master: EOF becomes VEOF */
	bool to_pty;	 /* keystrokes into the app's pty (job control) */
	bool closed;
	size_t len, off;
	char buf[RELAY_BUF];
};

struct run_io {
	struct chan ch[RELAY_MAX];
	size_t n;
	int master;	      /* pty master, or -1 */
	int term;	      /* our terminal in raw mode, or -1 */
	int winsz_from;	      /* a terminal of ours to copy the size of */
	struct termios saved; /* term's modes, restored at the end */
	int close_after[3];   /* our ends of pipes the app got */
};

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void raw_on(struct run_io *io)
{
	struct termios raw = io->saved;

	if (io->term < 0)
		return;
	cfmakeraw(&raw);
	(void)tcsetattr(io->term, TCSADRAIN, &raw);
}

static void raw_off(const struct run_io *io)
{
	if (io->term >= 0)
		(void)tcsetattr(io->term, TCSADRAIN, &io->saved);
}

static void copy_winsize(const struct run_io *io)
{
	struct winsize ws;

	if (io->master >= 0 && io->winsz_from >= 0 &&
	    ioctl(io->winsz_from, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(io->master, TIOCSWINSZ, &ws);
}

static void add_chan(struct run_io *io, int from, int to, bool eof_to_pty)
{
	struct chan *c = &io->ch[io->n++];

	memset(c, 0, sizeof(*c));
	c->from = from;
	c->to = to;
	c->eof_to_pty = eof_to_pty;
}

/* the daemon connection, for SIGNAL requests out of the relay */
static int ctl_fd = -1;

/*
 * A suspend key (VSUSP, with ISIG on) typed while the app itself is the
 * foreground of its pty: the kernel would drop the SIGTSTP, since the app
 * leads its own session with a parent (the daemon) outside it, i.e. an
 * orphaned process group. Ask for SIGSTOP instead, which job control then
 * reports (STOPPED): Ctrl-Z suspends `twofold run -- cat` as it would
 * `cat`. With a shell in the pty, its job is the foreground and the key
 * goes through for the shell to handle. Returns true when consumed.
 */
static bool suspend_key(const struct chan *c)
{
	struct termios t;
	pid_t fg, sid;

	if (!c->to_pty || c->len != 1 || tcgetattr(c->to, &t) < 0 ||
	    !(t.c_lflag & ISIG) || t.c_cc[VSUSP] == _POSIX_VDISABLE ||
	    (unsigned char)c->buf[0] != t.c_cc[VSUSP])
		return false;
	/* the foreground group is the session's leader's own: the app's
	 * (on the master, both ioctls answer for the slave) */
	if (ioctl(c->to, TIOCGPGRP, &fg) < 0 ||
	    ioctl(c->to, TIOCGSID, &sid) < 0 || fg != sid)
		return false;
	(void)send_signal(ctl_fd, SIGSTOP);
	return true;
}

/* One step of a channel after poll; false once it is finished. */
static void chan_step(struct chan *c, short rev_from, short rev_to)
{
	ssize_t n;

	if (c->closed)
		return;
	if (c->len == 0 && (rev_from & (POLLIN | POLLHUP | POLLERR))) {
		n = read(c->from, c->buf, sizeof(c->buf));
		if (n > 0) {
			c->len = (size_t)n;
			c->off = 0;
			if (suspend_key(c))
				c->len = 0;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			/* EOF, or EIO: the pty's slave side is gone */
			if (c->eof_to_pty) {
				/* the app sees end of input as at a
				 * terminal: the EOF character */
				c->buf[0] = 4; /* VEOF default, ^D */
				c->len = 1;
				c->off = 0;
				c->eof_to_pty = false;
				c->from = -1;
				return;
			}
			c->closed = true;
			return;
		}
	}
	if (c->len && (rev_to & (POLLOUT | POLLERR | POLLHUP))) {
		n = write(c->to, c->buf + c->off, c->len - c->off);
		if (n > 0) {
			c->off += (size_t)n;
			if (c->off == c->len)
				c->len = 0;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			c->closed = true; /* reader gone: drop the rest */
		}
	}
	if (c->from < 0 && c->len == 0)
		c->closed = true;
}

/* Run the channels once with a poll of timeout ms, plus the daemon and
 * signal fds (their revents returned). */
static int relay_poll(struct run_io *io, int fd, int sfd, int ms, short *rev_fd,
		      short *rev_sfd)
{
	struct pollfd p[2 + 2 * RELAY_MAX];
	size_t k = 2;
	int r;

	p[0] = (struct pollfd){.fd = fd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	for (size_t i = 0; i < io->n; i++) {
		struct chan *c = &io->ch[i];
		bool rd = !c->closed && c->len == 0 && c->from >= 0;
		bool wr = !c->closed && c->len > 0;
		p[k++] = (struct pollfd){.fd = rd ? c->from : -1,
					 .events = POLLIN};
		p[k++] = (struct pollfd){.fd = wr ? c->to : -1,
					 .events = POLLOUT};
	}
	r = poll(p, k, ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	for (size_t i = 0; i < io->n; i++)
		chan_step(&io->ch[i], p[2 + 2 * i].revents,
			  p[3 + 2 * i].revents);
	*rev_fd = p[0].revents;
	*rev_sfd = p[1].revents;
	return r;
}

/* After the exit: what the app wrote before it ended is still in the pty
 * or the pipes; copy it out (bounded: a service may keep a pipe open). */
static void drain(struct run_io *io, int sfd)
{
	uint64_t end = tf_now_ns() + 500000000ull;

	for (size_t i = 0; i < io->n; i++)
		if (io->ch[i].eof_to_pty || io->ch[i].to == io->master ||
		    (io->ch[i].from >= 0 && io->ch[i].from <= 2))
			io->ch[i].closed = true; /* no more input */
	for (;;) {
		bool open = false;
		short a, b;

		for (size_t i = 0; i < io->n; i++)
			open |= !io->ch[i].closed;
		if (!open || tf_now_ns() >= end)
			break;
		if (relay_poll(io, -1, -1, 50, &a, &b) == 0)
			break; /* nothing more within 50 ms */
	}
}

/* Is there job control to give the terminal back to: one of our stdio is
 * a terminal whose foreground process group is ours? */
static bool job_control(void)
{
	for (int i = 0; i < 3; i++)
		if (isatty(i) && tcgetpgrp(i) == getpgrp())
			return true;
	return false;
}

/* Relay until the app's exit status arrives. */
static int wait_for_exit(struct cli *cli, int fd, const sigset_t *mask,
			 struct run_io *io)
{
	_cleanup_close_ int sfd = signalfd(-1, mask, SFD_CLOEXEC);

	if (sfd < 0) {
		cli_err(cli, "signalfd: %s", strerror(errno));
		return EXIT_FAIL;
	}
	for (;;) {
		struct cli_reply rep;
		int32_t code = EXIT_FAIL;
		short rfd = 0, rsig = 0;
		int r = relay_poll(io, fd, sfd, -1, &rfd, &rsig);

		if (r < 0) {
			cli_err(cli, "poll: %s", strerror(-r));
			return EXIT_FAIL;
		}
		if (rsig & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				int sig = (int)si.ssi_signo;
				if (sig == SIGWINCH && io->master >= 0)
					copy_winsize(io); /* the pty tells */
				else if (sig == SIGTSTP) {
					/* we were asked to stop: give the
					 * terminal back first */
					raw_off(io);
					raise(SIGSTOP);
					raw_on(io);
					copy_winsize(io);
				} else
					(void)send_signal(fd, sig);
			}
		}
		if (!(rfd & (POLLIN | POLLHUP | POLLERR)))
			continue;
		memset(&rep, 0, sizeof(rep));
		if (cli_read_reply(cli, fd, &rep) < 0)
			return EXIT_FAIL;
		if (rep.msg.type == TF_REP_STOPPED) {
			/* the app stopped (Ctrl-Z in it): stop too, so the
			 * shell that ran us gets its terminal back; `fg`
			 * continues us, and we continue the app. Only with a
			 * user at a terminal whose foreground we are: without
			 * job control (a script, a service) nobody would ever
			 * continue us, and an app could freeze its caller;
			 * then the app is simply continued. */
			cli_reply_free(&rep);
			if (job_control()) {
				raw_off(io);
				raise(SIGSTOP);
				raw_on(io);
				copy_winsize(io);
			}
			(void)send_signal(fd, SIGCONT);
			continue;
		}
		if (rep.msg.type == TF_REP_EXITED) {
			tf_msg_i32(&rep.msg, TF_A_EXIT, &code);
			cli_reply_free(&rep);
			drain(io, sfd);
			return code;
		}
		if (rep.msg.type == TF_REP_RESULT && rep.err < 0) {
			raw_off(io);
			cli_reply_error(cli, &rep);
			if (tf_msg_i32(&rep.msg, TF_A_EXIT, &code) < 0)
				code = EXIT_FAIL;
			cli_reply_free(&rep);
			return code;
		}
		cli_reply_free(&rep); /* a stray reply */
	}
}

/* Wait for the daemon's TF_REP_PTY (the app started) and take its fd. */
static int take_pty(struct cli *cli, int fd, int *master)
{
	struct cli_reply rep;
	int32_t code = EXIT_FAIL;

	memset(&rep, 0, sizeof(rep));
	if (cli_read_reply(cli, fd, &rep) < 0)
		return EXIT_FAIL;
	if (rep.msg.type == TF_REP_PTY && rep.rd.nfds == 1) {
		*master = rep.rd.fds[0];
		rep.rd.fds[0] = -1; /* ours now */
		cli_reply_free(&rep);
		return 0;
	}
	if (rep.msg.type == TF_REP_RESULT && rep.err < 0) {
		cli_reply_error(cli, &rep);
		if (tf_msg_i32(&rep.msg, TF_A_EXIT, &code) < 0)
			code = EXIT_FAIL;
	} else {
		cli_err(cli, "unexpected reply from twofoldd");
	}
	cli_reply_free(&rep);
	return code;
}

int verb_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},
		{"cwd", required_argument, NULL, 'C'},
		{"env", required_argument, NULL, 'e'},
		{"tty", no_argument, NULL, 't'},
		{"no-tty", no_argument, NULL, 'T'},
		{"service", no_argument, NULL, 'S'},
		{"app", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	static const int relayed[] = {SIGINT,	SIGTERM, SIGHUP,  SIGQUIT,
				      SIGWINCH, SIGUSR1, SIGUSR2, SIGTSTP};
	const char *persona = NULL, *cwd = NULL, *app = NULL;
	const char *envs[4094]; /* + TERM, LANG: the daemon takes 4096 */
	size_t nenv = 0, total = 0;
	struct tf_msgbuf b;
	uint64_t uid = 0;
	bool have_uid = false, service = false;
	int tty_mode = -1; /* -1: when a stdio fd is a terminal */
	struct run_io io = {.master = -1,
			    .term = -1,
			    .winsz_from = -1,
			    .close_after = {-1, -1, -1}};
	int fds[3], nfds = 0, devnull = -1;
	uint32_t flags = 0;
	bool tty[3];
	sigset_t mask;
	int c, fd, r, cmd;

	/* "+": options end at the first non-option (PERSONA or CMD) */
	for (;;) {
		while ((c = getopt_long(argc, argv, "+:u:C:e:tT", opts,
					NULL)) != -1) {
			switch (c) {
			case 't': tty_mode = 1; break;
			case 'T': tty_mode = 0; break;
			case 'S': service = true; break;
			case 'A': app = optarg; break;
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
			default: return cli_getopt_err(cli, c, argc, argv);
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
	if (app && (have_uid || cwd))
		return cli_usage_err(cli, NULL,
				     "--app runs as the app's own user in its "
				     "own directory: no --user, no --cwd");
	if (cmd >= argc && app == NULL)
		return cli_usage_err(cli, NULL,
				     "no command given (twofold run "
				     "%s -- CMD)",
				     persona);

	if (service && tty_mode == 1)
		return cli_usage_err(cli, NULL,
				     "--service and --tty: a background "
				     "service has no terminal");

	/* Which stdio slots get what. A terminal is never passed: it
	 * becomes the app's pty (relayed), or with -T a pipe (relayed), or
	 * for a service /dev/null (nobody relays after we return). */
	for (int i = 0; i < 3; i++)
		tty[i] = isatty(i);
	if (tty_mode == -1)
		tty_mode = !service && (tty[0] || tty[1] || tty[2]);
	for (int i = 0; i < 3; i++) {
		int p[2];

		if (tty_mode == 1 &&
		    (tty[i] || !(tty[0] || tty[1] || tty[2]))) {
			flags |= TF_F_PTY(i);
			continue;
		}
		if (!tty[i]) {
			fds[nfds++] = i;
			continue;
		}
		if (service) {
			if (devnull < 0)
				devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (devnull < 0) {
				cli_err(cli, "/dev/null: %s", strerror(errno));
				return EXIT_FAIL;
			}
			fds[nfds++] = devnull;
			continue;
		}
		if (pipe2(p, O_CLOEXEC) < 0) {
			cli_err(cli, "pipe: %s", strerror(errno));
			return EXIT_FAIL;
		}
		/* the app's end goes to the daemon, ours is relayed */
		fds[nfds++] = i == 0 ? p[0] : p[1];
		io.close_after[i] = i == 0 ? p[0] : p[1];
		set_nonblock(i == 0 ? p[1] : p[0]);
		if (i == 0)
			add_chan(&io, 0, p[1], false);
		else
			add_chan(&io, p[0], i, false);
	}
	if (service)
		flags |= TF_F_SERVICE;
	if (app)
		flags |= TF_F_APP;

	tf_msgbuf_init(&b, TF_REQ_RUN);
	if (flags)
		tf_msgbuf_put_u32(&b, TF_A_FLAGS, flags);
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
	/* an app: its name (and entry) first, then its arguments */
	if (app) {
		total += strlen(app) + 1;
		tf_msgbuf_put_str(&b, TF_A_ARG, app);
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
	r = tf_msg_send(fd, &b, fds, (size_t)nfds);
	tf_msgbuf_free(&b);
	/* the app has the pipes' other ends now */
	for (int i = 0; i < 3; i++)
		if (io.close_after[i] >= 0)
			close(io.close_after[i]);
	if (devnull >= 0)
		close(devnull);
	if (r < 0) {
		cli_err(cli, "cannot send to twofoldd: %s", strerror(-r));
		close(fd);
		return EXIT_FAIL;
	}
	if (flags & TF_F_PTY_ANY) {
		int out;

		r = take_pty(cli, fd, &io.master);
		if (r != 0) {
			close(fd);
			return r;
		}
		set_nonblock(io.master);
		for (int i = 0; i < 3; i++)
			if (tty[i] && io.winsz_from < 0)
				io.winsz_from = i;
		if ((flags & TF_F_PTY(0)) && tty[0] &&
		    tcgetattr(0, &io.saved) == 0) {
			/* the app's terminal starts with the user's modes;
			 * ours goes raw, so that every key (Ctrl-C, Ctrl-Z)
			 * reaches the app's pty and acts there */
			(void)tcsetattr(io.master, TCSANOW, &io.saved);
			io.term = 0;
		}
		copy_winsize(&io);
		raw_on(&io);
		if (flags & TF_F_PTY(0)) {
			add_chan(&io, 0, io.master, true);
			io.ch[io.n - 1].to_pty = true;
		}
		ctl_fd = fd;
		out = (flags & TF_F_PTY(1))   ? 1
		      : (flags & TF_F_PTY(2)) ? 2
		      : tty[0]		      ? 0
					      : 1;
		add_chan(&io, io.master, out, false);
	}
	r = wait_for_exit(cli, fd, &mask, &io);
	raw_off(&io);
	if (io.master >= 0)
		close(io.master); /* hangs up whatever still holds the slave */
	close(fd);
	return r;
}
