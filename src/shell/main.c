/* SPDX-License-Identifier: ISC */
/*
 * twofold-shell: the persona-aware compositor (issue 14, docs/shell.md).
 *
 *   twofold-shell --persona NAME=SOCKET [--persona ...] --host-socket PATH
 *                 [--persona-uid NAME=UID] [--secure NAME]
 *                 [--layout phone|desktop] [--size WxH]
 *                 [--persona-uids NAME=FIRST-LAST] [--daemon PATH]
 *                 [--control PATH] [-v]
 *
 * Every socket is made by the shell itself (0600, chowned to the
 * persona's host uid when given); a client is tagged by the socket it
 * connected to and sees the globals globals.c allows for that origin.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WLR_USE_UNSTABLE
#include <wlr/backend.h>
#include <wlr/types/wlr_cursor.h>
#include <wlr/types/wlr_output_layout.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/util/log.h>

#include "tf_config.h"

#include "shell.h"

static void usage(FILE *f)
{
	fputs("usage: twofold-shell --persona NAME=SOCKET [--persona ...] "
	      "--host-socket PATH\n"
	      "         [--persona-uid NAME=UID] [--secure NAME] "
	      "[--layout phone|desktop]\n"
	      "         [--size WxH] [--persona-uids NAME=FIRST-LAST] "
	      "[--daemon PATH]\n"
	      "         [--control PATH] [--banner-seconds N] "
	      "[--ping-interval MS] [-v]\n",
	      f);
}

struct pending {
	const char *sock[TF_SHELL_MAX_PERSONAS];
};

/* NAME=VALUE into a copy of NAME and a pointer to VALUE: argv is left as
 * it was (ps shows what was asked) */
static int split_eq(const char *arg, char name[static TF_SHELL_NAME_MAX],
		    const char **val)
{
	const char *eq = strchr(arg, '=');
	size_t n;

	if (!eq || eq == arg || !eq[1])
		return -EINVAL;
	n = (size_t)(eq - arg);
	if (n >= TF_SHELL_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(name, arg, n);
	name[n] = '\0';
	*val = eq + 1;
	return 0;
}

static int parse_persona(struct tf_shell *s, struct pending *pend,
			 const char *arg)
{
	char name[TF_SHELL_NAME_MAX];
	const char *path;
	struct tf_shell_persona *p;
	int r = split_eq(arg, name, &path);

	if (r < 0)
		return r;
	if (tf_shell_persona_by_name(s, name))
		return -EEXIST;
	if (s->n_personas == TF_SHELL_MAX_PERSONAS)
		return -E2BIG;
	p = &s->personas[s->n_personas];
	memcpy(p->name, name, strlen(name) + 1);
	/* the daemon's persona called "secure" is the framed one unless
	 * --secure names others */
	p->secure = strcmp(name, "secure") == 0;
	pend->sock[s->n_personas] = path;
	s->n_personas++;
	return 0;
}

static int parse_uid(struct tf_shell *s, const char *arg)
{
	char name[TF_SHELL_NAME_MAX], *end;
	const char *val;
	struct tf_shell_persona *p;
	unsigned long u;
	int r = split_eq(arg, name, &val);

	if (r < 0)
		return r;
	p = tf_shell_persona_by_name(s, name);
	if (!p)
		return -ENOENT;
	errno = 0;
	u = strtoul(val, &end, 10);
	if (errno || *end || u >= UINT_MAX)
		return -EINVAL;
	p->uid = (uid_t)u;
	p->has_uid = true;
	return 0;
}

/* NAME=FIRST-LAST: the host uids the persona's clients must have */
static int parse_range(struct tf_shell *s, const char *arg)
{
	char name[TF_SHELL_NAME_MAX], *end;
	const char *val;
	struct tf_shell_persona *p;
	unsigned long lo, hi;
	int r = split_eq(arg, name, &val);

	if (r < 0)
		return r;
	p = tf_shell_persona_by_name(s, name);
	if (!p)
		return -ENOENT;
	errno = 0;
	lo = strtoul(val, &end, 10);
	if (errno || *end != '-' || lo >= UINT_MAX)
		return -EINVAL;
	hi = strtoul(end + 1, &end, 10);
	if (errno || *end || hi >= UINT_MAX || hi < lo)
		return -EINVAL;
	p->uid_lo = (uid_t)lo;
	p->uid_hi = (uid_t)hi;
	p->has_range = true;
	return 0;
}

static int on_signal(int sig, void *data)
{
	wl_display_terminate(data);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"persona", required_argument, NULL, 'p'},
		{"persona-uid", required_argument, NULL, 'u'},
		{"secure", required_argument, NULL, 's'},
		{"host-socket", required_argument, NULL, 'H'},
		{"layout", required_argument, NULL, 'l'},
		{"size", required_argument, NULL, 'S'},
		{"control", required_argument, NULL, 'c'},
		{"ping-interval", required_argument, NULL, 'P'},
		{"persona-uids", required_argument, NULL, 'U'},
		{"daemon", required_argument, NULL, 'D'},
		{"banner-seconds", required_argument, NULL, 'B'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static struct tf_shell shell;
	struct tf_shell *s = &shell;
	struct pending pend = {0};
	char *secure_names[TF_SHELL_MAX_PERSONAS];
	size_t n_secure = 0;
	const char *host = NULL, *control = NULL, *daemon = NULL;
	bool verbose = false, explicit_secure = false;
	struct wl_event_source *sig[2];
	int c, r = 0, rc = 1;

	s->layout = TF_SHELL_PHONE;
	s->banner_s = 5;
	s->width = 720;
	s->height = 1440;
	s->ping_ms = TF_SHELL_PING_MS;
	s->xfd = -1;
	s->control_fd = -1;
	s->host.fd = -1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			/* --persona-uid and --secure may come before the
			 * --persona they name: they are read in a second
			 * pass */
			r = parse_persona(s, &pend, optarg);
			if (r < 0) {
				fprintf(stderr,
					"twofold-shell: --persona %s: %s; "
					"give NAME=SOCKET, each name once, "
					"at most %d\n",
					optarg, strerror(-r),
					TF_SHELL_MAX_PERSONAS);
				return 2;
			}
			break;
		}
		case 'u':
		case 'U':
		case 's': break; /* second pass */
		case 'D': daemon = optarg; break;
		case 'B': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > 3600) {
				fprintf(stderr,
					"twofold-shell: --banner-seconds "
					"%s: use 1..3600\n",
					optarg);
				return 2;
			}
			s->banner_s = (unsigned)v;
			break;
		}
		case 'H': host = optarg; break;
		case 'l':
			if (strcmp(optarg, "phone") == 0)
				s->layout = TF_SHELL_PHONE;
			else if (strcmp(optarg, "desktop") == 0)
				s->layout = TF_SHELL_DESKTOP;
			else {
				fprintf(stderr,
					"twofold-shell: --layout "
					"%s: use phone or desktop\n",
					optarg);
				return 2;
			}
			break;
		case 'S':
			if (sscanf(optarg, "%dx%d", &s->width, &s->height) !=
				    2 ||
			    s->width < 64 || s->height < 64 ||
			    s->width > 8192 || s->height > 8192) {
				fprintf(stderr,
					"twofold-shell: --size %s: "
					"use WxH, 64..8192 each\n",
					optarg);
				return 2;
			}
			break;
		case 'c': control = optarg; break;
		case 'P': {
			char *end = NULL;
			unsigned long v = strtoul(optarg, &end, 10);

			if (!end || *end || v > 600000) {
				fprintf(stderr,
					"twofold-shell: --ping-interval %s: "
					"milliseconds, 0..600000 (0: no "
					"pings)\n",
					optarg);
				return 2;
			}
			s->ping_ms = (uint32_t)v;
			break;
		}
		case 'v': verbose = true; break;
		case 'V': printf("twofold-shell %s\n", TF_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		if (c == 'u' && (r = parse_uid(s, optarg)) < 0) {
			fprintf(stderr,
				"twofold-shell: --persona-uid %s: %s; give "
				"NAME=UID for a persona named by --persona\n",
				optarg, strerror(-r));
			return 2;
		}
		if (c == 'U' && (r = parse_range(s, optarg)) < 0) {
			fprintf(stderr,
				"twofold-shell: --persona-uids %s: %s; give "
				"NAME=FIRST-LAST for a persona named by "
				"--persona\n",
				optarg, strerror(-r));
			return 2;
		}
		if (c == 's') {
			if (!tf_shell_persona_by_name(s, optarg)) {
				fprintf(stderr,
					"twofold-shell: --secure %s: no such "
					"persona; name one given by "
					"--persona\n",
					optarg);
				return 2;
			}
			if (n_secure < TF_SHELL_MAX_PERSONAS)
				secure_names[n_secure++] = optarg;
			explicit_secure = true;
		}
	}
	if (optind != argc || s->n_personas == 0 || !host) {
		usage(stderr);
		return 2;
	}
	if (explicit_secure) {
		for (size_t i = 0; i < s->n_personas; i++)
			s->personas[i].secure = false;
		for (size_t i = 0; i < n_secure; i++)
			tf_shell_persona_by_name(s, secure_names[i])->secure =
				true;
	}
	s->verbose = verbose;
	wlr_log_init(verbose ? WLR_DEBUG : WLR_ERROR, NULL);
	signal(SIGPIPE, SIG_IGN);

	s->display = wl_display_create();
	if (!s->display) {
		fputs("twofold-shell: cannot create the Wayland display\n",
		      stderr);
		return 1;
	}
	s->loop = wl_display_get_event_loop(s->display);
	wl_list_init(&s->clients);
	wl_list_init(&s->keyboards);
	for (size_t i = 0; i < s->n_personas; i++) {
		struct tf_shell_persona *p = &s->personas[i];

		p->shell = s;
		p->listener.shell = s;
		p->listener.persona = p;
		p->listener.fd = -1;
		wl_list_init(&p->views);
	}
	s->host.shell = s;
	s->fg = &s->personas[0];
	tf_shell_install_filter(s);
	r = tf_shell_server_init(s);
	if (r < 0) {
		fprintf(stderr,
			"twofold-shell: start the display backend: %s; for a "
			"device without a display set WLR_BACKENDS=headless\n",
			strerror(-r));
		goto out;
	}
	r = tf_shell_ping_init(s);
	if (r < 0)
		goto out;
	/* sockets last: once they exist the shell is ready (tests wait
	 * for them) */
	for (size_t i = 0; i < s->n_personas; i++) {
		struct tf_shell_persona *p = &s->personas[i];

		r = tf_shell_listen(&p->listener, pend.sock[i], p->uid,
				    p->has_uid);
		if (r < 0) {
			fprintf(stderr,
				"twofold-shell: socket of persona %s at %s: "
				"%s; check that its directory exists and "
				"nothing else is at that path\n",
				p->name, pend.sock[i], strerror(-r));
			goto out;
		}
	}
	r = tf_shell_listen(&s->host, host, 0, false);
	if (r < 0) {
		fprintf(stderr,
			"twofold-shell: host socket at %s: %s; check that its "
			"directory exists and nothing else is at that path\n",
			host, strerror(-r));
		goto out;
	}
	if (control && (r = tf_shell_control_listen(s, control)) < 0) {
		fprintf(stderr, "twofold-shell: control socket at %s: %s\n",
			control, strerror(-r));
		goto out;
	}
	if (daemon && (r = tf_shell_daemon_init(s, daemon)) < 0) {
		fprintf(stderr, "twofold-shell: --daemon %s: %s\n", daemon,
			strerror(-r));
		goto out;
	}
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
	sig[0] = wl_event_loop_add_signal(s->loop, SIGTERM, on_signal,
					  s->display);
	sig[1] = wl_event_loop_add_signal(s->loop, SIGINT, on_signal,
					  s->display);
	fprintf(stderr, "twofold-shell: ready: %zu personas, %dx%d %s\n",
		s->n_personas, s->width, s->height,
		s->layout == TF_SHELL_PHONE ? "phone" : "desktop");
	wl_display_run(s->display);
	wl_event_source_remove(sig[0]);
	wl_event_source_remove(sig[1]);
	rc = 0;
out:
	for (size_t i = 0; i < s->n_personas; i++)
		tf_shell_listener_close(&s->personas[i].listener);
	tf_shell_listener_close(&s->host);
	tf_shell_control_close(s);
	tf_shell_daemon_fini(s);
	tf_shell_pad_fini(s);
	tf_shell_alert_fini(s);
	tf_shell_banner_fini(s);
	tf_shell_ping_fini(s);
	tf_shell_clip_fini(s);
	if (s->render_src)
		wl_event_source_remove(s->render_src);
	wl_display_destroy_clients(s->display);
	wl_display_destroy(s->display);
	return rc;
}
