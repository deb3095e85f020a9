/* SPDX-License-Identifier: ISC */
/*
 * Clients that stop answering (docs/shell.md "Bad input"): every
 * --ping-interval (default 5 s) each client with an xdg surface gets an
 * xdg_wm_base.ping; one that has not answered the previous ping by the
 * next round is marked unresponsive (a line, and the control status's
 * unresponsive=N), and after TF_SHELL_PING_MISSES rounds in a row it is
 * disconnected; clients of a locked persona (frozen) are not asked. Its
 * persona's other clients, the other persona and the
 * shell's own pad and card are untouched: none of them waits for it.
 *
 * wlroots 0.15 keeps one outstanding ping per client (ping_serial, 0 once
 * answered) and times it out itself after xdg_shell->ping_timeout, which
 * would clear the serial; the shell sets that far beyond its own round,
 * so "ping_serial still set at the next round" is exactly "no pong since
 * the last round".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-server-protocol.h>

#define WLR_USE_UNSTABLE
#include <wlr/types/wlr_xdg_shell.h>

#include "shell.h"

static struct tf_shell_client *find(struct tf_shell *s, struct wl_client *wc)
{
	struct tf_shell_client *c;

	wl_list_for_each(c, &s->clients, link)
	{
		if (c->client == wc)
			return c;
	}
	return NULL;
}

static int on_round(void *data)
{
	struct tf_shell *s = data;
	struct wlr_xdg_client *xc, *tmp;
	unsigned n = 0;

	wl_list_for_each_safe(xc, tmp, &s->xdg_shell->clients, link)
	{
		struct tf_shell_client *c = find(s, xc->client);
		struct wlr_xdg_surface *xs;

		if (!c || wl_list_empty(&xc->surfaces))
			continue;
		/* a locked persona is frozen (twofold lock): its clients
		 * cannot answer and must not lose their windows for it; a
		 * ping still out is forgotten, a new one sent after unlock */
		if (c->listener->persona && c->listener->persona->locked) {
			c->ping_misses = 0;
			xc->ping_serial = 0;
			continue;
		}
		if (xc->ping_serial == 0) {
			c->ping_misses = 0;
		} else if (++c->ping_misses >= TF_SHELL_PING_MISSES) {
			pid_t pid = 0;

			wl_client_get_credentials(xc->client, &pid, NULL, NULL);
			fprintf(stderr,
				"twofold-shell: client pid %d of %s did not "
				"answer a ping in %u rounds: disconnected\n",
				(int)pid,
				c->listener->persona
					? c->listener->persona->name
					: "the host socket",
				c->ping_misses);
			/* removes xc from the list (the _safe walk) */
			wl_client_destroy(xc->client);
			continue;
		} else {
			pid_t pid = 0;

			wl_client_get_credentials(xc->client, &pid, NULL, NULL);
			if (c->ping_misses == 1)
				fprintf(stderr,
					"twofold-shell: client pid %d of %s "
					"is not answering pings: "
					"unresponsive\n",
					(int)pid,
					c->listener->persona
						? c->listener->persona->name
						: "the host socket");
			n++;
			continue; /* its ping is still out */
		}
		xs = wl_container_of(xc->surfaces.next, xs, link);
		wlr_xdg_surface_ping(xs);
	}
	s->n_unresponsive = n;
	wl_event_source_timer_update(s->ping_src, (int)s->ping_ms);
	return 0;
}

int tf_shell_ping_init(struct tf_shell *s)
{
	if (!s->ping_ms)
		return 0;
	/* wlroots' own timeout never first (see above) */
	s->xdg_shell->ping_timeout = s->ping_ms * 100u;
	s->ping_src = wl_event_loop_add_timer(s->loop, on_round, s);
	if (!s->ping_src)
		return -ENOMEM;
	wl_event_source_timer_update(s->ping_src, (int)s->ping_ms);
	return 0;
}

void tf_shell_ping_fini(struct tf_shell *s)
{
	if (s->ping_src)
		wl_event_source_remove(s->ping_src);
	s->ping_src = NULL;
}

/* ---- shm buffers whose stride is under a row of pixels ----
 *
 * libwayland checks a buffer against its pool (offset + stride * height
 * inside it: the "size" case) and stride >= width, in bytes against
 * pixels; wlroots 0.15 and pixman then take a 100 px wide buffer with a
 * stride of 100 bytes. It stays inside the client's own pool, but it is
 * not a buffer: the client is told (invalid_stride) and so dropped, as
 * for the other bad buffers. wl_shm_buffer_get works only once the
 * resource has its implementation, after the created signal, so the
 * check runs from an idle callback. */

struct bufcheck {
	struct wl_resource *res;
	struct wl_listener destroy;
	struct wl_event_source *idle;
};

static void bufcheck_free(struct bufcheck *b)
{
	if (b->idle)
		wl_event_source_remove(b->idle);
	wl_list_remove(&b->destroy.link);
	free(b);
}

static void bufcheck_gone(struct wl_listener *l, void *data)
{
	struct bufcheck *b = wl_container_of(l, b, destroy);

	bufcheck_free(b);
}

static int bytes_per_pixel(uint32_t f)
{
	switch (f) {
	case WL_SHM_FORMAT_ARGB8888:
	case WL_SHM_FORMAT_XRGB8888:
	case WL_SHM_FORMAT_ABGR8888:
	case WL_SHM_FORMAT_XBGR8888:
	case WL_SHM_FORMAT_RGBA8888:
	case WL_SHM_FORMAT_RGBX8888:
	case WL_SHM_FORMAT_BGRA8888:
	case WL_SHM_FORMAT_BGRX8888:
	case WL_SHM_FORMAT_ARGB2101010:
	case WL_SHM_FORMAT_XRGB2101010:
	case WL_SHM_FORMAT_ABGR2101010:
	case WL_SHM_FORMAT_XBGR2101010: return 4;
	case WL_SHM_FORMAT_RGB565:
	case WL_SHM_FORMAT_BGR565: return 2;
	case WL_SHM_FORMAT_RGB888:
	case WL_SHM_FORMAT_BGR888: return 3;
	default: return 0; /* not checked */
	}
}

static void bufcheck_run(void *data)
{
	struct bufcheck *b = data;
	struct wl_shm_buffer *shm = wl_shm_buffer_get(b->res);
	int32_t w, stride;
	int bpp;

	b->idle = NULL;
	if (shm) {
		w = wl_shm_buffer_get_width(shm);
		stride = wl_shm_buffer_get_stride(shm);
		bpp = bytes_per_pixel(wl_shm_buffer_get_format(shm));
		if (bpp && (int64_t)stride < (int64_t)w * bpp) {
			pid_t pid = 0;

			wl_client_get_credentials(
				wl_resource_get_client(b->res), &pid, NULL,
				NULL);
			fprintf(stderr,
				"twofold-shell: client pid %d: a buffer of "
				"stride %d for %d pixels of %d bytes: "
				"disconnected\n",
				(int)pid, (int)stride, (int)w, bpp);
			wl_resource_post_error(b->res,
					       WL_SHM_ERROR_INVALID_STRIDE,
					       "stride %d under width %d * %d",
					       (int)stride, (int)w, bpp);
		}
	}
	bufcheck_free(b);
}

static void on_resource(struct wl_listener *l, void *data)
{
	struct tf_shell_client *c = wl_container_of(l, c, res_created);
	struct wl_resource *res = data;
	struct bufcheck *b;

	if (strcmp(wl_resource_get_class(res), "wl_buffer") != 0)
		return;
	b = calloc(1, sizeof(*b));
	if (!b) {
		wl_client_post_no_memory(c->client);
		return;
	}
	b->res = res;
	b->destroy.notify = bufcheck_gone;
	wl_resource_add_destroy_listener(res, &b->destroy);
	b->idle = wl_event_loop_add_idle(c->listener->shell->loop, bufcheck_run,
					 b);
	if (!b->idle) {
		bufcheck_free(b);
		wl_client_post_no_memory(c->client);
	}
}

void tf_shell_watch_buffers(struct tf_shell_client *c)
{
	c->res_created.notify = on_resource;
	wl_client_add_resource_created_listener(c->client, &c->res_created);
}
