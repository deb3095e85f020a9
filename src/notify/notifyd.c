/* SPDX-License-Identifier: ISC */
/*
 * tf-notifyd: a persona's org.freedesktop.Notifications server (issue 14
 * item 5, docs/shell.md "Notifications"). Runs inside the persona as its
 * uid, on the persona's session bus (DBUS_SESSION_BUS_ADDRESS), so
 * unmodified apps and notify-send work. Every Notify() becomes one
 * bounded record (include/twofold/notify.h) written to the fd the daemon
 * gave at spawn (3 unless --fd); it is the persona's only way to the
 * daemon, and the daemon never speaks D-Bus.
 *
 * Never blocks on the daemon: the fd is non-blocking and a record that
 * does not fit (the daemon is slow, a flood) is dropped, so an app's
 * Notify() call always gets its answer. Exits when the daemon closes its
 * end. Prints no notification text, ever (it may be secure's).
 */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "twofold/notify.h"

#define BUS_NAME "org.freedesktop.Notifications"
#define BUS_PATH "/org/freedesktop/Notifications"

static int out_fd = 3;
static uint32_t last_id;
static unsigned long dropped;
static bool daemon_gone;

static void send_record(const struct tf_notify *n)
{
	uint8_t buf[TF_NOTIFY_MAX];
	ssize_t len = tf_notify_encode(n, buf, sizeof(buf));
	ssize_t w;

	if (len < 0)
		return;
	/* send() keeps the record one datagram on the daemon's seqpacket
	 * socket; write() is the fallback for a pipe (records are shorter
	 * than PIPE_BUF, so each write is atomic) */
	w = send(out_fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w < 0 && errno == ENOTSOCK)
		w = write(out_fd, buf, (size_t)len);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		dropped++;
	else if (w < 0)
		daemon_gone = true;
}

/* the "urgency" hint (a byte in a variant) out of a{sv}; anything else
 * is skipped unread */
static int read_hints(sd_bus_message *m, uint8_t *urgency)
{
	const char *key;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		r = sd_bus_message_read(m, "s", &key);
		if (r < 0)
			return r;
		if (strcmp(key, "urgency") == 0 &&
		    sd_bus_message_verify_type(m, 'v', "y") > 0) {
			uint8_t u;

			r = sd_bus_message_read(m, "v", "y", &u);
			if (r < 0)
				return r;
			*urgency = u > TF_NOTIFY_URGENCY_MAX ? 1 : u;
		} else {
			r = sd_bus_message_skip(m, "v");
			if (r < 0)
				return r;
		}
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int method_notify(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	const char *app, *icon, *summary, *body;
	struct tf_notify n = {.urgency = 1};
	uint32_t replaces, id;
	int r;

	(void)ud;
	(void)err;
	r = sd_bus_message_read(m, "susss", &app, &replaces, &icon, &summary,
				&body);
	if (r < 0)
		return r;
	r = sd_bus_message_skip(m, "as");
	if (r < 0)
		return r;
	r = read_hints(m, &n.urgency);
	if (r < 0)
		return r;
	tf_notify_sanitize(n.app, sizeof(n.app), app, false);
	tf_notify_sanitize(n.summary, sizeof(n.summary), summary, false);
	tf_notify_sanitize(n.body, sizeof(n.body), body, true);
	if (!n.summary[0])
		strcpy(n.summary, "Notification");
	id = replaces ? replaces : ++last_id;
	if (!last_id)
		last_id =
			1; /* 0 means "no id" in the spec; never hand it out */
	send_record(&n);
	return sd_bus_reply_method_return(m, "u", id);
}

static int method_caps(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	(void)ud;
	(void)err;
	/* "body" only: no markup, actions, icons, sounds (the shell draws
	 * plain text in its own font) */
	return sd_bus_reply_method_return(m, "as", 1, "body");
}

static int method_info(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	(void)ud;
	(void)err;
	return sd_bus_reply_method_return(m, "ssss", "twofold", "twofold", "1",
					  "1.2");
}

static int method_close(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	uint32_t id;
	int r;

	(void)ud;
	(void)err;
	r = sd_bus_message_read(m, "u", &id);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", method_notify,
		      SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("GetCapabilities", "", "as", method_caps,
		      SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("GetServerInformation", "", "ssss", method_info,
		      SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("CloseNotification", "u", "", method_close,
		      SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL("NotificationClosed", "uu", 0),
	SD_BUS_VTABLE_END,
};

static int usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: tf-notifyd [--fd N]\n"
		"Own org.freedesktop.Notifications on $DBUS_SESSION_BUS_ADDRESS"
		" and forward each\nnotification to fd N (default 3), which"
		" twofoldd gave at spawn.\n");
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"fd", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	sd_bus_slot *slot = NULL;
	sd_bus *bus = NULL;
	int c, r, fl;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'f') {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 0 || v > 1024)
				return usage(2);
			out_fd = (int)v;
		} else {
			return usage(c == 'h' ? 0 : 2);
		}
	}
	if (optind != argc)
		return usage(2);
	fl = fcntl(out_fd, F_GETFL);
	if (fl < 0 || fcntl(out_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(out_fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr,
			"tf-notifyd: fd %d is not open: start it through "
			"twofoldd, which passes the daemon's end\n",
			out_fd);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	r = sd_bus_open_user(&bus);
	if (r < 0) {
		fprintf(stderr,
			"tf-notifyd: cannot connect to the session bus: %s "
			"(is DBUS_SESSION_BUS_ADDRESS set?)\n",
			strerror(-r));
		return 1;
	}
	r = sd_bus_add_object_vtable(bus, &slot, BUS_PATH, BUS_NAME, vtable,
				     NULL);
	if (r >= 0)
		r = sd_bus_request_name(bus, BUS_NAME, 0);
	if (r < 0) {
		fprintf(stderr,
			"tf-notifyd: cannot own %s: %s (another notification "
			"server runs on this bus?)\n",
			BUS_NAME, strerror(-r));
		sd_bus_flush_close_unref(bus);
		return 1;
	}
	while (!daemon_gone) {
		struct pollfd p[2];

		r = sd_bus_process(bus, NULL);
		if (r < 0) {
			fprintf(stderr,
				"tf-notifyd: the session bus failed: "
				"%s\n",
				strerror(-r));
			break;
		}
		if (r > 0)
			continue;
		p[0] = (struct pollfd){.fd = sd_bus_get_fd(bus),
				       .events = (short)sd_bus_get_events(bus)};
		/* no events asked: POLLHUP/POLLERR tell the daemon's end closed */
		p[1] = (struct pollfd){.fd = out_fd};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))
			daemon_gone = true;
	}
	if (dropped)
		fprintf(stderr,
			"tf-notifyd: %lu notifications dropped (the "
			"daemon did not keep up)\n",
			dropped);
	sd_bus_slot_unref(slot);
	sd_bus_flush_close_unref(bus);
	return 0;
}
