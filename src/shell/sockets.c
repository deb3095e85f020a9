/* SPDX-License-Identifier: ISC */
/*
 * One listening socket per persona plus the host's. We bind and accept
 * them ourselves and hand each accepted fd to wl_client_create, so the
 * listener a client came through is known for certain and tagged on the
 * client (wl_display_add_socket_fd would hide which socket accepted it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "twofold/common.h"

#include "shell.h"

static void client_destroyed(struct wl_listener *l, void *data)
{
	struct tf_shell_client *c = wl_container_of(l, c, destroy);

	c->listener->n_clients--;
	wl_list_remove(&c->link);
	wl_list_remove(&c->destroy.link);
	wl_list_remove(&c->res_created.link);
	free(c);
}

struct tf_shell_listener *tf_shell_client_origin(struct wl_client *client)
{
	struct wl_listener *l;
	struct tf_shell_client *c;

	if (!client)
		return NULL;
	l = wl_client_get_destroy_listener(client, client_destroyed);
	if (!l)
		return NULL;
	c = wl_container_of(l, c, destroy);
	return c->listener;
}

struct tf_shell_persona *tf_shell_client_persona(struct wl_client *client)
{
	struct tf_shell_listener *l = tf_shell_client_origin(client);

	return l ? l->persona : NULL;
}

static int on_accept(int fd, uint32_t mask, void *data)
{
	struct tf_shell_listener *l = data;
	_cleanup_close_ int cfd = -1;
	struct tf_shell_client *c;
	struct wl_client *wc;

	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	if (l->n_clients >= TF_SHELL_MAX_CLIENTS) {
		/* a flood of one persona: refuse it there, keep serving
		 * the others (each listener has its own budget) */
		return 0;
	}
	/* a persona's socket serves that persona's uids only: the kernel's
	 * word on who connected (SO_PEERCRED, fixed at connect), not
	 * anything the client says */
	if (l->persona && l->persona->has_range) {
		struct ucred uc;
		socklen_t len = sizeof(uc);

		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 ||
		    uc.uid < l->persona->uid_lo ||
		    uc.uid > l->persona->uid_hi) {
			fprintf(stderr,
				"twofold-shell: refused a client of uid %u "
				"on the socket of %s (not one of its uids)\n",
				len == sizeof(uc) ? (unsigned)uc.uid : 0u,
				l->persona->name);
			return 0;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return 0;
	wc = wl_client_create(l->shell->display, cfd);
	if (!wc) {
		free(c);
		return 0;
	}
	cfd = -1; /* wl_client_create owns it now */
	c->listener = l;
	c->client = wc;
	c->destroy.notify = client_destroyed;
	wl_client_add_destroy_listener(wc, &c->destroy);
	tf_shell_watch_buffers(c);
	wl_list_insert(&l->shell->clients, &c->link);
	l->n_clients++;
	return 0;
}

int tf_shell_unix_listen(const char *path, int type, int backlog, uid_t uid,
			 bool chown_to)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return tf_negerrno();
	/* a stale socket of an earlier run is replaced; anything else at
	 * that path is left alone (never unlink a file we did not make) */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0)
			return tf_negerrno();
	}
	/* bound with mode 0600 from the start: no window in which another
	 * user could connect before the chmod */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return tf_negerrno();
	if ((chown_to && chown(path, uid, (gid_t)-1) < 0) ||
	    listen(fd, backlog) < 0) {
		r = tf_negerrno();
		unlink(path);
		return r;
	}
	return steal_fd(&fd);
}

void tf_shell_unix_close(struct wl_event_source **src, int *fd,
			 const char *path)
{
	if (*src)
		wl_event_source_remove(*src);
	*src = NULL;
	if (*fd >= 0) {
		close(*fd);
		unlink(path);
	}
	*fd = -1;
}

int tf_shell_listen(struct tf_shell_listener *l, const char *path, uid_t uid,
		    bool chown_to)
{
	int fd;

	if (strlen(path) >= sizeof(l->path))
		return -ENAMETOOLONG;
	fd = tf_shell_unix_listen(path, SOCK_STREAM, 32, uid, chown_to);
	if (fd < 0)
		return fd;
	/* a persona with a uid range: the shell (an unprivileged user) cannot
	 * chown the socket to it, so anyone who reaches the path may connect
	 * and SO_PEERCRED decides; the daemon's directories keep everyone
	 * else from the path (docs/shell.md) */
	if (l->persona && l->persona->has_range && !chown_to &&
	    chmod(path, 0666) < 0) {
		int r = tf_negerrno();
		close(fd);
		unlink(path);
		return r;
	}
	l->src = wl_event_loop_add_fd(l->shell->loop, fd, WL_EVENT_READABLE,
				      on_accept, l);
	if (!l->src) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	memcpy(l->path, path, strlen(path) + 1);
	l->fd = fd;
	return 0;
}

void tf_shell_listener_close(struct tf_shell_listener *l)
{
	tf_shell_unix_close(&l->src, &l->fd, l->path);
}

/* wl_display's global filter: asked both when a client lists the registry
 * and when it binds, so a hidden global cannot be bound by a guessed name */
static bool global_filter(const struct wl_client *client,
			  const struct wl_global *global, void *data)
{
	const struct wl_interface *iface = wl_global_get_interface(global);
	struct tf_shell_listener *l =
		tf_shell_client_origin((struct wl_client *)client);

	if (!l)
		return false; /* not accepted by us: nothing */
	return tf_shell_global_allowed(l->persona ? TF_SHELL_ORIGIN_PERSONA
						  : TF_SHELL_ORIGIN_HOST,
				       iface->name);
}

void tf_shell_install_filter(struct tf_shell *s)
{
	wl_display_set_global_filter(s->display, global_filter, s);
}
