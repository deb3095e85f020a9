/* SPDX-License-Identifier: ISC */
/*
 * The shell's control socket (SOCK_SEQPACKET, 0600, one request per
 * message): how tests and, next round, twofoldd tell the shell what is in
 * front and what is locked. Requests: "switch NAME", "lock NAME",
 * "unlock NAME", "layout phone|desktop", "status". Answers: "ok ..." or
 * "error: WHAT".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "twofold/common.h"

#include "shell.h"

struct conn {
	struct tf_shell *shell;
	int fd;
	struct wl_event_source *src;
};

static void answer(int fd, const char *msg)
{
	(void)send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void status(struct tf_shell *s, char *out, size_t cap)
{
	size_t off = 0;
	int n;

	n = snprintf(out, cap,
		     "ok fg=%s layout=%s switch_us=%llu switch_commit_us=%llu",
		     s->fg ? s->fg->name : "-",
		     s->layout == TF_SHELL_PHONE ? "phone" : "desktop",
		     (unsigned long long)s->switch_us,
		     (unsigned long long)s->switch_commit_us);
	off = n > 0 ? (size_t)n : 0;
	if (off < cap) {
		n = snprintf(out + off, cap - off, " daemon=%s pad=%s",
			     tf_shell_daemon_state(s),
			     !s->pad_for			  ? "-"
			     : s->pad_state == TF_SHELL_PAD_WRONG ? "wrong"
			     : s->pad_state == TF_SHELL_PAD_CHECKING
				     ? "checking"
				     : "typing");
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < cap && s->pad_for) {
		char t[64];

		tf_shell_pad_text(s, t, sizeof(t));
		for (char *q = t; *q; q++)
			if (*q == ' ')
				*q = '_';
		n = snprintf(out + off, cap - off, " pad_text=%s",
			     t[0] ? t : "-");
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < cap) {
		static const char *const st[] = {"-", "card", "fetching",
						 "body"};
		if (s->alert_state == TF_SHELL_ALERT_NONE)
			n = snprintf(out + off, cap - off, " alert=-");
		else
			n = snprintf(out + off, cap - off, " alert=%s:%s:%zu",
				     st[s->alert_state], s->alert_id,
				     tf_shell_alert_body_len(s));
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < cap) {
		n = tf_shell_banner_status(s, out + off, cap - off);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < cap && s->n_unresponsive) {
		n = snprintf(out + off, cap - off, " unresponsive=%u",
			     s->n_unresponsive);
		off += n > 0 ? (size_t)n : 0;
	}
	for (size_t i = 0; i < s->n_personas && off < cap; i++) {
		n = snprintf(out + off, cap - off, " %s=%s",
			     s->personas[i].name,
			     s->personas[i].locked ? "locked" : "open");
		off += n > 0 ? (size_t)n : 0;
	}
}

static void handle(struct tf_shell *s, int fd, char *req)
{
	char out[TF_SHELL_CONTROL_MAX];
	char *arg = strchr(req, ' ');
	int r;

	if (arg)
		*arg++ = '\0';
	if (strcmp(req, "status") == 0) {
		status(s, out, sizeof(out));
		answer(fd, out);
		return;
	}
	if (!arg) {
		answer(fd, "error: missing argument");
		return;
	}
	/* with twofoldd the daemon's foreground and lock are the truth:
	 * `twofold switch`, `twofold lock` change them, not this socket */
	if (tf_shell_daemon_active(s) &&
	    (strcmp(req, "switch") == 0 || strcmp(req, "lock") == 0 ||
	     strcmp(req, "unlock") == 0)) {
		answer(fd, "error: twofoldd decides: use twofold switch, lock "
			   "or unlock");
		return;
	}
	if (strcmp(req, "switch") == 0)
		r = tf_shell_switch(s, arg);
	else if (strcmp(req, "lock") == 0)
		r = tf_shell_set_locked(s, arg, true);
	else if (strcmp(req, "unlock") == 0)
		r = tf_shell_set_locked(s, arg, false);
	else if (strcmp(req, "touch") == 0) {
		/* test input, headless only: "down|motion ID X Y", "up ID" */
		char what[8];
		int id, x = 0, y = 0, n;

		n = sscanf(arg, "%7s %d %d %d", what, &id, &x, &y);
		if (n == 2 && strcmp(what, "up") == 0)
			n = 4;
		r = n == 4 ? tf_shell_touch_inject(s, what, id, x, y) : -EINVAL;
		if (r == -EOPNOTSUPP) {
			answer(fd, "error: touch: a headless backend only");
			return;
		}
	} else if (strcmp(req, "layout") == 0) {
		r = 0;
		if (strcmp(arg, "phone") == 0)
			s->layout = TF_SHELL_PHONE;
		else if (strcmp(arg, "desktop") == 0)
			s->layout = TF_SHELL_DESKTOP;
		else
			r = -EINVAL;
		if (r == 0) {
			tf_shell_arrange(s);
			tf_shell_focus_update(s);
		}
	} else {
		answer(fd, "error: unknown request");
		return;
	}
	if (r == -ENOENT)
		answer(fd, "error: no such persona");
	else if (r < 0)
		answer(fd, "error: bad argument");
	else
		answer(fd, "ok");
}

static int on_conn(int fd, uint32_t mask, void *data)
{
	struct conn *c = data;
	char buf[TF_SHELL_CONTROL_MAX];
	ssize_t n = 0;

	if (mask & WL_EVENT_READABLE)
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		wl_event_source_remove(c->src);
		close(c->fd);
		free(c);
		return 0;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	handle(c->shell, fd, buf);
	return 0;
}

static int on_accept(int fd, uint32_t mask, void *data)
{
	struct tf_shell *s = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct conn *c;

	if (cfd < 0)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->shell = s;
	c->fd = cfd;
	c->src = wl_event_loop_add_fd(s->loop, cfd, WL_EVENT_READABLE, on_conn,
				      c);
	if (!c->src) {
		close(cfd);
		free(c);
	}
	return 0;
}

int tf_shell_control_listen(struct tf_shell *s, const char *path)
{
	int fd;

	if (strlen(path) >= sizeof(s->control_path))
		return -ENAMETOOLONG;
	fd = tf_shell_unix_listen(path, SOCK_SEQPACKET, 8, 0, false);
	if (fd < 0)
		return fd;
	s->control_src = wl_event_loop_add_fd(s->loop, fd, WL_EVENT_READABLE,
					      on_accept, s);
	if (!s->control_src) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	memcpy(s->control_path, path, strlen(path) + 1);
	s->control_fd = fd;
	return 0;
}

void tf_shell_control_close(struct tf_shell *s)
{
	tf_shell_unix_close(&s->control_src, &s->control_fd, s->control_path);
}
