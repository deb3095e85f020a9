/* SPDX-License-Identifier: ISC */
/*
 * A clipboard per persona. wlroots keeps one selection per seat and offers
 * it to whichever client has keyboard focus; a stock compositor thus hands
 * one persona's copy to the other (sway 1.7 did, FACTS.md). Here:
 *
 *  - a client's set_selection lands in its own persona's slot (the origin
 *    is found from the source's wl_resource, never from who has focus: a
 *    background client may set a selection too);
 *  - the seat's selection is a proxy of the focused persona's slot, swapped
 *    while no client has keyboard focus, so an offer never reaches a
 *    client of the other persona;
 *  - the only way across is the shell's gesture (Ctrl+Shift+C in the
 *    source, Ctrl+Shift+V in the target), allowed by
 *    twofoldd (--daemon: request CROSS_COPY_AUDIT before each half,
 *    which decides from device.conf clipboard_flows and audits it in
 *    its chain; no answer, no paste) or, without a daemon,
 *    tf_shell_cross_allowed; a line on stderr either way. Only text
 *    crosses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WLR_USE_UNSTABLE
#include <wlr/types/wlr_data_device.h>
#include <wlr/types/wlr_seat.h>

#include "twofold/common.h"

#include "shell.h"

static const char *const text_mimes[] = {
	"text/plain;charset=utf-8",
	"text/plain",
	"UTF8_STRING",
	"TEXT",
	"STRING",
};
#define N_TEXT_MIMES (sizeof(text_mimes) / sizeof(text_mimes[0]))

static int copy_mimes(struct wlr_data_source *dst,
		      const struct wlr_data_source *src)
{
	char **p;

	wl_array_for_each(p, &src->mime_types)
	{
		char **q = wl_array_add(&dst->mime_types, sizeof(*q));

		if (!q)
			return -ENOMEM;
		*q = strdup(*p);
		if (!*q) {
			dst->mime_types.size -= sizeof(*q);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- the seat's proxy of one persona's slot ---- */

struct selproxy {
	struct wlr_data_source base;
	struct tf_shell_persona *p;
};

static void proxy_send(struct wlr_data_source *src, const char *mime, int fd)
{
	struct selproxy *x = (struct selproxy *)src;

	if (x->p->selection)
		wlr_data_source_send(x->p->selection, mime, fd);
	else
		close(fd);
}

static void proxy_destroy(struct wlr_data_source *src)
{
	/* the persona's own source stays: only the proxy goes */
	free(src);
}

static const struct wlr_data_source_impl proxy_impl = {
	.send = proxy_send,
	.destroy = proxy_destroy,
};

static void seat_show(struct tf_shell *s)
{
	struct tf_shell_persona *p = s->sel_persona;
	struct selproxy *x;
	uint32_t serial = wl_display_next_serial(s->display);

	if (!p || !p->selection) {
		wlr_seat_set_selection(s->seat, NULL, serial);
		return;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		wlr_seat_set_selection(s->seat, NULL, serial);
		return;
	}
	wlr_data_source_init(&x->base, &proxy_impl);
	x->p = p;
	if (copy_mimes(&x->base, p->selection) < 0) {
		wlr_data_source_destroy(&x->base);
		wlr_seat_set_selection(s->seat, NULL, serial);
		return;
	}
	wlr_seat_set_selection(s->seat, &x->base, serial);
}

void tf_shell_clip_focus(struct tf_shell *s, struct tf_shell_persona *p)
{
	if (s->sel_persona == p)
		return;
	s->sel_persona = p;
	seat_show(s);
}

static void slot_source_gone(struct wl_listener *l, void *data)
{
	struct tf_shell_persona *p = wl_container_of(l, p, selection_destroy);

	wl_list_remove(&p->selection_destroy.link);
	p->selection = NULL;
	if (p->shell->sel_persona == p)
		seat_show(p->shell);
}

static void slot_set(struct tf_shell_persona *p, struct wlr_data_source *src)
{
	struct wlr_data_source *old = p->selection;

	if (old == src)
		return;
	if (old) {
		wl_list_remove(&p->selection_destroy.link);
		p->selection = NULL;
		/* tells the old owner it is no longer the selection */
		wlr_data_source_destroy(old);
	}
	p->selection = src;
	if (src) {
		p->selection_destroy.notify = slot_source_gone;
		wl_signal_add(&src->events.destroy, &p->selection_destroy);
	}
	if (p->shell->sel_persona == p)
		seat_show(p->shell);
}

/* ---- which client made a source ---- */

struct find_ctx {
	struct wlr_data_source *src;
	bool found;
};

static enum wl_iterator_result find_source(struct wl_resource *r, void *data)
{
	struct find_ctx *f = data;

	/* a client data source's user data is its wlr_client_data_source,
	 * whose first member is the wlr_data_source (wlroots 0.15
	 * types/data_device/wlr_data_source.c) */
	if (strcmp(wl_resource_get_class(r), "wl_data_source") == 0 &&
	    wl_resource_get_user_data(r) == (void *)f->src) {
		f->found = true;
		return WL_ITERATOR_STOP;
	}
	return WL_ITERATOR_CONTINUE;
}

/* The persona whose client owns SRC as a wl_data_source, or NULL. A
 * persona client can make a selection only that way (data-control and
 * primary selection are never offered to it), so a source no persona
 * client owns came from the host socket's data-control. */
static struct tf_shell_persona *source_persona(struct tf_shell *s,
					       struct wlr_data_source *src)
{
	struct tf_shell_client *c;

	wl_list_for_each(c, &s->clients, link)
	{
		struct find_ctx f = {.src = src};

		if (!c->listener->persona)
			continue;
		wl_client_for_each_resource(c->client, find_source, &f);
		if (f.found)
			return c->listener->persona;
	}
	return NULL;
}

void tf_shell_clip_request_set(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, request_set_selection);
	struct wlr_seat_request_set_selection_event *ev = data;
	struct tf_shell_persona *p;

	if (!ev->source)
		return; /* a clear: the slot empties when its source goes */
	p = source_persona(s, ev->source);
	if (!p)
		p = s->fg; /* the host's trusted tool: foreground's clipboard */
	if (!p) {
		wlr_data_source_destroy(ev->source);
		return;
	}
	slot_set(p, ev->source);
}

/* Drag and drop is refused for everyone this round: a drag carries data
 * to whatever surface is under the pointer, which in the desktop layout
 * may be the other persona's. Destroying the source tells the client. */
void tf_shell_clip_request_drag(struct wl_listener *l, void *data)
{
	struct wlr_seat_request_start_drag_event *ev = data;

	if (ev->drag && ev->drag->source)
		wlr_data_source_destroy(ev->drag->source);
}

/* ---- the cross-persona gesture ---- */

static void audit(const struct tf_shell_persona *from,
		  const struct tf_shell_persona *to, const char *verdict,
		  size_t len)
{
	/* never the content: only who, where, how much */
	fprintf(stderr,
		"twofold-shell: audit: cross-copy %s -> %s: %s (%zu bytes)\n",
		from ? from->name : "-", to ? to->name : "-", verdict, len);
}

static void xbuf_clear(struct tf_shell *s)
{
	if (s->xsrc)
		wl_event_source_remove(s->xsrc);
	s->xsrc = NULL;
	if (s->xfd >= 0)
		close(s->xfd);
	s->xfd = -1;
	if (s->xbuf) {
		explicit_bzero(s->xbuf, TF_SHELL_CLIP_MAX);
		free(s->xbuf);
	}
	s->xbuf = NULL;
	s->xlen = 0;
	s->xready = false;
	s->xfrom = NULL;
}

static int on_xread(int fd, uint32_t mask, void *data)
{
	struct tf_shell *s = data;
	ssize_t n;

	n = read(fd, s->xbuf + s->xlen, TF_SHELL_CLIP_MAX - s->xlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0) {
		s->xlen += (size_t)n;
		if (s->xlen < TF_SHELL_CLIP_MAX)
			return 0;
		/* too big: refuse whole rather than paste a truncation */
		audit(s->xfrom, NULL, "refused, larger than the limit",
		      s->xlen);
		xbuf_clear(s);
		return 0;
	}
	wl_event_source_remove(s->xsrc);
	s->xsrc = NULL;
	close(s->xfd);
	s->xfd = -1;
	if (n < 0) {
		xbuf_clear(s);
		return 0;
	}
	s->xready = true;
	return 0;
}

static bool any_target(struct tf_shell *s, const struct tf_shell_persona *f)
{
	for (size_t i = 0; i < s->n_personas; i++)
		if (&s->personas[i] != f &&
		    tf_shell_cross_allowed(f->secure, s->personas[i].secure))
			return true;
	return false;
}

static const char *pick_text_mime(const struct wlr_data_source *src)
{
	for (size_t i = 0; i < N_TEXT_MIMES; i++) {
		char **p;

		wl_array_for_each(p, &src->mime_types)
		{
			if (strcmp(*p, text_mimes[i]) == 0)
				return text_mimes[i];
		}
	}
	return NULL;
}

static int start_read(struct tf_shell *s, struct tf_shell_persona *f)
{
	const char *mime;
	int fds[2];

	if (!f || f != s->fg || f->locked || !f->selection)
		return -ENOENT;
	mime = pick_text_mime(f->selection);
	if (!mime) {
		audit(f, NULL, "refused, not text", 0);
		return -ENOTSUP;
	}
	xbuf_clear(s);
	s->xbuf = calloc(1, TF_SHELL_CLIP_MAX);
	if (!s->xbuf)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		int r = tf_negerrno();

		xbuf_clear(s);
		return r;
	}
	s->xfd = fds[0];
	s->xfrom = f;
	s->xsrc = wl_event_loop_add_fd(s->loop, fds[0], WL_EVENT_READABLE,
				       on_xread, s);
	if (!s->xsrc) {
		close(fds[1]);
		xbuf_clear(s);
		return -ENOMEM;
	}
	/* the source's owner writes into fds[1]; wlroots closes our end */
	wlr_data_source_send(f->selection, mime, fds[1]);
	return 0;
}

int tf_shell_clip_cross_copy(struct tf_shell *s)
{
	struct tf_shell_persona *f = s->fg;
	int r;

	if (!f || f->locked || !f->selection)
		return -ENOENT;
	/* decided before a byte is read: what may go nowhere never
	 * leaves its persona, not even into the shell's memory */
	if (tf_shell_daemon_active(s)) {
		xbuf_clear(s);
		r = tf_shell_request_cross(s, f, NULL, 0);
		if (r < 0)
			audit(f, NULL, "refused, twofoldd not answering", 0);
		return r;
	}
	if (!any_target(s, f)) {
		audit(f, NULL, "refused by policy", 0);
		return -EPERM;
	}
	return start_read(s, f);
}

/* ---- the shell's own source: a pasted cross copy ---- */

struct xsource {
	struct wlr_data_source base;
	struct wl_event_loop *loop;
	uint8_t *buf;
	size_t len;
};

struct xwriter {
	struct wl_event_source *src;
	int fd;
	uint8_t *buf;
	size_t len, off;
};

static void xwriter_free(struct xwriter *w)
{
	if (w->src)
		wl_event_source_remove(w->src);
	close(w->fd);
	if (w->buf)
		explicit_bzero(w->buf, w->len);
	free(w->buf);
	free(w);
}

static int on_xwrite(int fd, uint32_t mask, void *data)
{
	struct xwriter *w = data;
	ssize_t n;

	if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		xwriter_free(w);
		return 0;
	}
	n = write(fd, w->buf + w->off, w->len - w->off);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0)
		w->off += (size_t)n;
	if (n < 0 || w->off == w->len)
		xwriter_free(w);
	return 0;
}

static void xsource_send(struct wlr_data_source *src, const char *mime, int fd)
{
	struct xsource *x = (struct xsource *)src;
	struct xwriter *w = calloc(1, sizeof(*w));

	if (!w) {
		close(fd);
		return;
	}
	w->fd = fd;
	w->len = x->len;
	w->buf = malloc(x->len ? x->len : 1);
	if (!w->buf) {
		xwriter_free(w);
		return;
	}
	memcpy(w->buf, x->buf, x->len);
	if (x->len == 0) {
		xwriter_free(w);
		return;
	}
	/* written from the event loop: a reader that stalls costs a
	 * pipe's worth of buffer, never the shell's responsiveness */
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		xwriter_free(w);
		return;
	}
	w->src = wl_event_loop_add_fd(x->loop, fd, WL_EVENT_WRITABLE, on_xwrite,
				      w);
	if (!w->src)
		xwriter_free(w);
}

static void xsource_destroy(struct wlr_data_source *src)
{
	struct xsource *x = (struct xsource *)src;

	explicit_bzero(x->buf, x->len);
	free(x->buf);
	free(x);
}

static const struct wlr_data_source_impl xsource_impl = {
	.send = xsource_send,
	.destroy = xsource_destroy,
};

static int do_paste(struct tf_shell *s, struct tf_shell_persona *t)
{
	struct xsource *x;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	wlr_data_source_init(&x->base, &xsource_impl);
	x->loop = s->loop;
	x->len = s->xlen;
	x->buf = malloc(s->xlen ? s->xlen : 1);
	if (!x->buf) {
		free(x);
		return -ENOMEM;
	}
	memcpy(x->buf, s->xbuf, s->xlen);
	for (size_t i = 0; i < N_TEXT_MIMES; i++) {
		char **q = wl_array_add(&x->base.mime_types, sizeof(*q));

		if (!q || !(*q = strdup(text_mimes[i]))) {
			if (q)
				x->base.mime_types.size -= sizeof(*q);
			wlr_data_source_destroy(&x->base);
			return -ENOMEM;
		}
	}
	audit(s->xfrom, t, "allowed", s->xlen);
	/* one paste per copy (as Qubes): the shell keeps nothing after */
	xbuf_clear(s);
	slot_set(t, &x->base);
	return 0;
}

int tf_shell_clip_cross_paste(struct tf_shell *s)
{
	struct tf_shell_persona *t = s->fg;
	int r;

	if (!t || t->locked || !s->xready || !s->xfrom)
		return -ENOENT;
	if (s->xfrom == t)
		return -EINVAL; /* same persona: its own clipboard does it */
	if (tf_shell_daemon_active(s)) {
		r = tf_shell_request_cross(s, s->xfrom, t, s->xlen);
		if (r < 0) {
			audit(s->xfrom, t, "refused, twofoldd not answering",
			      s->xlen);
			xbuf_clear(s);
		}
		return r;
	}
	if (!tf_shell_cross_allowed(s->xfrom->secure, t->secure)) {
		audit(s->xfrom, t, "refused by policy", s->xlen);
		xbuf_clear(s);
		return -EPERM;
	}
	return do_paste(s, t);
}

/* twofoldd's verdict on a half of the gesture (allowed false: refused,
 * or no answer). What changed meanwhile counts: the copy reads the
 * foreground's selection only if its source is still in front, the
 * paste goes only into the persona it was asked for, still in front. */
void tf_shell_clip_cross_answer(struct tf_shell *s,
				struct tf_shell_persona *from,
				struct tf_shell_persona *to, bool allowed)
{
	if (!to) {
		if (!allowed) {
			audit(from, NULL, "refused by twofoldd", 0);
			return;
		}
		if (start_read(s, from) < 0)
			audit(from, NULL, "dropped, no longer in front", 0);
		return;
	}
	if (!s->xready || s->xfrom != from) {
		audit(from, to, "dropped, the copy is gone", 0);
		return;
	}
	if (!allowed || to != s->fg || to->locked) {
		audit(from, to,
		      allowed ? "dropped, no longer in front"
			      : "refused by twofoldd",
		      s->xlen);
		xbuf_clear(s);
		return;
	}
	(void)do_paste(s, to);
}

void tf_shell_clip_fini(struct tf_shell *s)
{
	xbuf_clear(s);
	for (size_t i = 0; i < s->n_personas; i++)
		slot_set(&s->personas[i], NULL);
}
