/* SPDX-License-Identifier: ISC */
/*
 * The compositor proper: backend, output, scene, xdg-shell windows, the
 * seat, and what is on screen. The scene's root children, bottom to top:
 *
 *   persona trees (their windows) | host tree (never shown) |
 *   per persona: decor (trusted frame) + lock screen | bar tree
 *
 * Later siblings render above earlier ones, so the bar strip and the
 * frames are drawn over anything a client puts there (a subsurface at a
 * negative offset, a popup pushed upwards): no client pixel shows in the
 * reserved strip, and no client can paint over the frame or the badge.
 * A persona's tree is disabled whenever it must not be seen (phone layout
 * background, locked): wlroots then neither renders it nor finds it for
 * pointer input (wlr_scene_node_at skips disabled nodes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WLR_USE_UNSTABLE
#include <wlr/backend.h>
#include <wlr/backend/headless.h>
#include <wlr/backend/multi.h>
#include <wlr/render/allocator.h>
#include <wlr/render/wlr_renderer.h>
#include <wlr/interfaces/wlr_input_device.h>
#include <wlr/interfaces/wlr_keyboard.h>
#include <wlr/types/wlr_compositor.h>
#include <wlr/types/wlr_cursor.h>
#include <wlr/types/wlr_data_control_v1.h>
#include <wlr/types/wlr_data_device.h>
#include <wlr/types/wlr_input_device.h>
#include <wlr/types/wlr_keyboard.h>
#include <wlr/types/wlr_output.h>
#include <wlr/types/wlr_output_layout.h>
#include <wlr/types/wlr_pointer.h>
#include <wlr/types/wlr_presentation_time.h>
#include <wlr/types/wlr_scene.h>
#include <wlr/types/wlr_screencopy_v1.h>
#include <wlr/types/wlr_seat.h>
#include <wlr/types/wlr_touch.h>
#include <wlr/types/wlr_viewporter.h>
#include <wlr/types/wlr_virtual_keyboard_v1.h>
#include <wlr/types/wlr_virtual_pointer_v1.h>
#include <wlr/types/wlr_xdg_output_v1.h>
#include <wlr/types/wlr_xdg_shell.h>
#include <xkbcommon/xkbcommon.h>

#include "shell.h"

struct tf_shell_view {
	struct wl_list link; /* tf_shell_persona.views */
	struct tf_shell *shell;
	struct tf_shell_persona *persona; /* NULL: a host client's */
	struct wlr_xdg_surface *xdg;
	struct wlr_scene_node *node;
	bool mapped;
	struct wl_listener map, unmap, destroy;
};

struct tf_shell_keyboard {
	struct wl_list link;
	struct tf_shell *shell;
	struct wlr_input_device *dev;
	struct wl_listener modifiers, key, destroy;
	/* keys a binding consumed: their release is not sent either */
	uint8_t eaten[32];
};

/* The seat's keyboard when no real or virtual one is: clients (wl-copy,
 * wl-paste) wait for the keymap a seat keyboard sends before they map a
 * surface, and a headless device has no keyboard of its own. */
static struct {
	struct wlr_input_device dev;
	struct wlr_keyboard kb;
} base_kbd;
static const struct wlr_input_device_impl base_dev_impl;
static const struct wlr_keyboard_impl base_kb_impl;

static void base_keyboard_init(void)
{
	struct xkb_context *ctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	struct xkb_keymap *km =
		ctx ? xkb_keymap_new_from_names(ctx, NULL,
						XKB_KEYMAP_COMPILE_NO_FLAGS)
		    : NULL;

	wlr_input_device_init(&base_kbd.dev, WLR_INPUT_DEVICE_KEYBOARD,
			      &base_dev_impl, "twofold-shell", 0, 0);
	wlr_keyboard_init(&base_kbd.kb, &base_kb_impl);
	base_kbd.dev.keyboard = &base_kbd.kb;
	if (km)
		wlr_keyboard_set_keymap(&base_kbd.kb, km);
	xkb_keymap_unref(km);
	xkb_context_unref(ctx);
}

uint64_t tf_shell_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void rgb(float out[4], uint32_t c)
{
	out[0] = (float)((c >> 16) & 0xff) / 255.0f;
	out[1] = (float)((c >> 8) & 0xff) / 255.0f;
	out[2] = (float)(c & 0xff) / 255.0f;
	out[3] = 1.0f;
}

struct wlr_scene_rect *tf_shell_rect(struct wlr_scene_node *parent, uint32_t c)
{
	float col[4];

	rgb(col, c);
	return wlr_scene_rect_create(parent, 1, 1, col);
}

void tf_shell_place(struct wlr_scene_rect *r, int x, int y, int w, int h)
{
	wlr_scene_node_set_position(&r->node, x, y);
	wlr_scene_rect_set_size(r, w > 0 ? w : 0, h > 0 ? h : 0);
}

struct tf_shell_persona *tf_shell_persona_by_name(struct tf_shell *s,
						  const char *name)
{
	for (size_t i = 0; i < s->n_personas; i++)
		if (strcmp(s->personas[i].name, name) == 0)
			return &s->personas[i];
	return NULL;
}

static bool persona_visible(struct tf_shell *s, struct tf_shell_persona *p)
{
	/* the trusted pad takes the screen: no client is seen or touched */
	if (p->locked || s->pad_for || tf_shell_alert_shown(s))
		return false;
	return s->layout == TF_SHELL_DESKTOP || p == s->fg;
}

void tf_shell_arrange(struct tf_shell *s)
{
	int W = s->width, H = s->height, n = (int)s->n_personas;

	tf_shell_place(s->bar, 0, 0, W, TF_SHELL_BAR_H);
	for (int i = 0; i < n; i++) {
		struct tf_shell_persona *p = &s->personas[i];
		int x = 0, w = W, y = TF_SHELL_BAR_H, h = H - TF_SHELL_BAR_H;
		int f = p->secure ? TF_SHELL_FRAME : 0;
		bool vis = persona_visible(s, p);
		bool lock_shown = p->locked &&
				  (s->layout == TF_SHELL_DESKTOP || p == s->fg);
		struct tf_shell_view *v;

		if (s->layout == TF_SHELL_DESKTOP) {
			x = W * i / n;
			w = W * (i + 1) / n - x;
		}
		p->ax = x + f;
		p->ay = y + f;
		p->aw = w - 2 * f;
		p->ah = h - 2 * f;
		tf_shell_place(p->frame[0], x, y, w, f);
		tf_shell_place(p->frame[1], x, y + h - f, w, f);
		tf_shell_place(p->frame[2], x, y, f, h);
		tf_shell_place(p->frame[3], x + w - f, y, f, h);
		tf_shell_place(p->lockrect, x, y, w, h);
		tf_shell_place(p->bg, x, y, w, h);
		tf_shell_place(p->badge, x + 8, 8, 96, TF_SHELL_BAR_H - 16);
		wlr_scene_node_set_enabled(&p->tree->node, vis);
		wlr_scene_node_set_enabled(&p->decor->node, vis && p->secure);
		wlr_scene_node_set_enabled(&p->badge->node, vis && p->secure);
		wlr_scene_node_set_enabled(&p->lockrect->node, lock_shown);
		wl_list_for_each(v, &p->views, link)
		{
			wlr_scene_node_set_position(v->node, p->ax, p->ay);
			wlr_xdg_toplevel_set_size(v->xdg, (uint32_t)p->aw,
						  (uint32_t)p->ah);
		}
	}
	tf_shell_banner_arrange(s);
	tf_shell_pad_arrange(s);
	tf_shell_alert_arrange(s);
	tf_shell_render_soon(s);
}

static void touch_drop_hidden(struct tf_shell *s);

/* Keyboard focus: the top window of the foreground persona, or nobody.
 * The clipboard moves only while nobody has focus (clipboard.c). */
void tf_shell_focus_update(struct tf_shell *s)
{
	struct tf_shell_persona *p = s->fg;
	struct tf_shell_view *target = NULL, *v;
	struct wlr_surface *prev = s->seat->keyboard_state.focused_surface;
	struct wlr_keyboard *kb = wlr_seat_get_keyboard(s->seat);

	if (p && persona_visible(s, p))
		wl_list_for_each(v, &p->views, link)
		{
			if (v->mapped) {
				target = v;
				break;
			}
		}
	touch_drop_hidden(s);
	if (target && prev == target->xdg->surface) {
		tf_shell_clip_focus(s, p);
		return;
	}
	if (prev && wlr_surface_is_xdg_surface(prev)) {
		struct wlr_xdg_surface *x =
			wlr_xdg_surface_from_wlr_surface(prev);

		if (x && x->role == WLR_XDG_SURFACE_ROLE_TOPLEVEL)
			wlr_xdg_toplevel_set_activated(x, false);
	}
	/* a popup grab (xdg_popup.grab; wlroots 0.15 checks no serial)
	 * ignores every enter: focus would stay where it was across a
	 * switch, and what the officer types in secure would go to the
	 * window of before. Focus changes end every grab first. */
	wlr_seat_keyboard_end_grab(s->seat);
	wlr_seat_pointer_end_grab(s->seat);
	wlr_seat_keyboard_notify_clear_focus(s->seat);
	wlr_seat_pointer_notify_clear_focus(s->seat);
	tf_shell_clip_focus(s, target ? p : NULL);
	if (!target)
		return;
	wlr_xdg_toplevel_set_activated(target->xdg, true);
	if (kb)
		wlr_seat_keyboard_notify_enter(s->seat, target->xdg->surface,
					       kb->keycodes, kb->num_keycodes,
					       &kb->modifiers);
	else
		wlr_seat_keyboard_notify_enter(s->seat, target->xdg->surface,
					       NULL, 0, NULL);
}

int tf_shell_switch(struct tf_shell *s, const char *name)
{
	struct tf_shell_persona *p = tf_shell_persona_by_name(s, name);

	if (!p)
		return -ENOENT;
	s->fg = p;
	s->switch_t0 = tf_shell_now_us();
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
	fprintf(stderr, "twofold-shell: foreground %s\n", p->name);
	return 0;
}

int tf_shell_switch_next(struct tf_shell *s)
{
	size_t i = s->fg ? (size_t)(s->fg - s->personas) : 0;

	if (s->n_personas == 0)
		return -ENOENT;
	return tf_shell_switch(s, s->personas[(i + 1) % s->n_personas].name);
}

int tf_shell_set_locked(struct tf_shell *s, const char *name, bool locked)
{
	struct tf_shell_persona *p = tf_shell_persona_by_name(s, name);

	if (!p)
		return -ENOENT;
	p->locked = locked;
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
	return 0;
}

/* ---- windows ---- */

static void view_map(struct wl_listener *l, void *data)
{
	struct tf_shell_view *v = wl_container_of(l, v, map);

	v->mapped = true;
	if (!v->persona)
		return;
	wl_list_remove(&v->link);
	wl_list_insert(&v->persona->views, &v->link);
	wlr_scene_node_raise_to_top(v->node);
	tf_shell_focus_update(v->shell);
}

static void view_unmap(struct wl_listener *l, void *data)
{
	struct tf_shell_view *v = wl_container_of(l, v, unmap);

	v->mapped = false;
	if (v->persona)
		tf_shell_focus_update(v->shell);
}

static void view_destroy(struct wl_listener *l, void *data)
{
	struct tf_shell_view *v = wl_container_of(l, v, destroy);

	wl_list_remove(&v->map.link);
	wl_list_remove(&v->unmap.link);
	wl_list_remove(&v->destroy.link);
	wl_list_remove(&v->link);
	free(v);
}

static void new_xdg_surface(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, new_xdg_surface);
	struct wlr_xdg_surface *xdg = data;
	struct wl_client *client = wl_resource_get_client(xdg->resource);
	struct tf_shell_listener *origin = tf_shell_client_origin(client);
	struct tf_shell_persona *p = origin ? origin->persona : NULL;
	struct wlr_scene_node *parent;
	struct tf_shell_view *v;

	if (xdg->role == WLR_XDG_SURFACE_ROLE_POPUP) {
		/* a popup lives in its parent's tree: same client, so the
		 * same persona, shown and hidden with it */
		struct wlr_xdg_surface *par =
			wlr_xdg_surface_from_wlr_surface(xdg->popup->parent);

		if (!par || !par->data)
			return;
		xdg->data = wlr_scene_xdg_surface_create(par->data, xdg);
		return;
	}
	if (xdg->role != WLR_XDG_SURFACE_ROLE_TOPLEVEL)
		return;
	v = calloc(1, sizeof(*v));
	if (!v) {
		wl_resource_post_no_memory(xdg->resource);
		return;
	}
	/* host clients (trusted tools) get no place on screen */
	parent = p ? &p->tree->node : &s->host_tree->node;
	v->node = wlr_scene_xdg_surface_create(parent, xdg);
	if (!v->node) {
		free(v);
		wl_resource_post_no_memory(xdg->resource);
		return;
	}
	v->shell = s;
	v->persona = p;
	v->xdg = xdg;
	v->node->data = v;
	xdg->data = v->node;
	wl_list_init(&v->link);
	if (p) {
		wl_list_insert(p->views.prev, &v->link);
		wlr_scene_node_set_position(v->node, p->ax, p->ay);
		wlr_xdg_toplevel_set_size(xdg, (uint32_t)p->aw,
					  (uint32_t)p->ah);
		wlr_xdg_toplevel_set_maximized(xdg, true);
	}
	v->map.notify = view_map;
	wl_signal_add(&xdg->events.map, &v->map);
	v->unmap.notify = view_unmap;
	wl_signal_add(&xdg->events.unmap, &v->unmap);
	v->destroy.notify = view_destroy;
	wl_signal_add(&xdg->events.destroy, &v->destroy);
}

/* ---- output ---- */

/* A switch is timed from its request (the daemon's foreground event, a
 * control switch or Super+Tab without a daemon) to the output's present
 * event of the first frame committed after it: that frame shows the other
 * persona (its tree was enabled at the switch, its windows already have
 * buffers). switch_commit_us is the same to the commit (bench/shell). */
static void switch_report(struct tf_shell *s)
{
	if (s->verbose)
		fprintf(stderr,
			"twofold-shell: switch to %s presented after %llu us "
			"(committed after %llu us)\n",
			s->fg ? s->fg->name : "none",
			(unsigned long long)s->switch_us,
			(unsigned long long)s->switch_commit_us);
}

/* Render and commit what changed. The present event may come from inside
 * the commit (the headless backend sends it there), so a switch's wait
 * for it is set up before. A commit that did not happen (nothing damaged,
 * or refused) keeps the switch waiting for the next frame. */
static void output_render(struct tf_shell *s)
{
	uint64_t t0 = s->switch_t0;
	uint32_t seq = s->output->commit_seq;
	bool ok;

	if (t0) {
		s->switch_t1 = t0;
		s->switch_seq = seq;
		s->switch_committed = false;
		s->switch_wait_present = true;
	}
	ok = wlr_scene_output_commit(s->scene_output);
	if (!t0)
		return;
	if (!ok || s->output->commit_seq == seq) {
		s->switch_wait_present = false;
		return;
	}
	s->switch_commit_us = tf_shell_now_us() - t0;
	s->switch_committed = true;
	s->switch_t0 = 0;
	if (!s->switch_wait_present) /* presented inside the commit */
		switch_report(s);
}

static void output_frame(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, output_frame);
	struct timespec now;

	output_render(s);
	clock_gettime(CLOCK_MONOTONIC, &now);
	wlr_scene_output_send_frame_done(s->scene_output, &now);
}

static void render_idle(void *data)
{
	struct tf_shell *s = data;

	s->render_src = NULL;
	/* wlroots 0.15 refuses a buffer while a frame is pending (a page
	 * flip not done; headless: until its next tick): the next frame
	 * event renders it then, damage and all, as before */
	if (!s->output || !s->scene_output || s->output->frame_pending)
		return;
	output_render(s);
}

/* A switch, a lock or unlock, the pad, a card, a banner change what is on
 * screen: render it at once rather than at the output's next frame event,
 * which is up to a whole refresh period away (the first frame of the
 * other persona would wait for it). From an idle callback, so every change
 * of one dispatch (arrange, focus, the bar) lands in one commit. Client
 * frame callbacks are still only answered from frame events: a client's
 * pace stays the output's. Damage is the scene's own (wlr_output_damage
 * follows every commit and buffer age), so an extra commit draws only
 * what changed since the buffer was last shown. */
void tf_shell_render_soon(struct tf_shell *s)
{
	if (s->render_src || !s->output || !s->loop)
		return;
	s->render_src = wl_event_loop_add_idle(s->loop, render_idle, s);
}

static void output_present(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, output_present);
	struct wlr_output_event_present *ev = data;
	uint64_t when;

	/* the commit's own event, or (a backend counting otherwise) the
	 * first one after it */
	if (!s->switch_wait_present || !ev->presented ||
	    (int32_t)(ev->commit_seq - s->switch_seq) <= 0)
		return;
	when = ev->when ? (uint64_t)ev->when->tv_sec * 1000000u +
				  (uint64_t)ev->when->tv_nsec / 1000u
			: tf_shell_now_us();
	s->switch_us = when > s->switch_t1 ? when - s->switch_t1 : 0;
	s->switch_wait_present = false;
	if (s->switch_committed)
		switch_report(s);
}

static void new_output(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, new_output);
	struct wlr_output *o = data;

	if (s->output) /* one output this round (docs/shell.md) */
		return;
	if (!wlr_output_init_render(o, s->allocator, s->renderer))
		return;
	if (wlr_output_is_headless(o)) {
		wlr_output_set_custom_mode(o, s->width, s->height, 0);
	} else if (!wl_list_empty(&o->modes)) {
		struct wlr_output_mode *m = wlr_output_preferred_mode(o);

		wlr_output_set_mode(o, m);
		s->width = m->width;
		s->height = m->height;
	}
	wlr_output_enable(o, true);
	if (!wlr_output_commit(o))
		return;
	s->output = o;
	s->output_frame.notify = output_frame;
	wl_signal_add(&o->events.frame, &s->output_frame);
	s->output_present.notify = output_present;
	wl_signal_add(&o->events.present, &s->output_present);
	wlr_output_layout_add(s->layout_out, o, 0, 0);
	s->scene_output = wlr_scene_output_create(s->scene, o);
	wlr_output_create_global(o);
	tf_shell_arrange(s);
}

/* ---- keyboards ---- */

static bool keybinding(struct tf_shell *s, uint32_t mods, xkb_keysym_t sym)
{
	xkb_keysym_t low = xkb_keysym_to_lower(sym);

	if ((mods & WLR_MODIFIER_LOGO) && sym == XKB_KEY_Tab) {
		/* with twofoldd, it is asked (a locked secure target opens
		 * the trusted pad instead); its foreground event moves us */
		if (tf_shell_daemon_active(s) && s->n_personas) {
			size_t i =
				s->fg ? (size_t)(s->fg - s->personas) + 1 : 0;
			tf_shell_request_switch(
				s, &s->personas[i % s->n_personas]);
		} else
			tf_shell_switch_next(s);
		return true;
	}
	if ((mods & (WLR_MODIFIER_CTRL | WLR_MODIFIER_SHIFT)) ==
	    (WLR_MODIFIER_CTRL | WLR_MODIFIER_SHIFT)) {
		if (low == XKB_KEY_c) {
			tf_shell_clip_cross_copy(s);
			return true;
		}
		if (low == XKB_KEY_v) {
			tf_shell_clip_cross_paste(s);
			return true;
		}
	}
	return false;
}

static void kb_modifiers(struct wl_listener *l, void *data)
{
	struct tf_shell_keyboard *k = wl_container_of(l, k, modifiers);

	wlr_seat_set_keyboard(k->shell->seat, k->dev);
	wlr_seat_keyboard_notify_modifiers(k->shell->seat,
					   &k->dev->keyboard->modifiers);
}

static void kb_key(struct wl_listener *l, void *data)
{
	struct tf_shell_keyboard *k = wl_container_of(l, k, key);
	struct tf_shell *s = k->shell;
	struct wlr_event_keyboard_key *ev = data;
	struct wlr_keyboard *kb = k->dev->keyboard;
	bool handled = false;

	bool eaten = ev->keycode < 256 &&
		     (k->eaten[ev->keycode / 8] & (1u << (ev->keycode % 8)));

	tf_shell_activity(s);
	if (eaten && ev->state == WL_KEYBOARD_KEY_STATE_RELEASED) {
		k->eaten[ev->keycode / 8] &=
			(uint8_t) ~(1u << (ev->keycode % 8));
		return;
	}
	/* the alert card or body is shown: the same, its keys */
	if (tf_shell_alert_shown(s)) {
		if (ev->state == WL_KEYBOARD_KEY_STATE_PRESSED &&
		    kb->xkb_state) {
			const xkb_keysym_t *syms;
			int n = xkb_state_key_get_syms(kb->xkb_state,
						       ev->keycode + 8, &syms);
			for (int i = 0; i < n; i++)
				tf_shell_alert_key(s, syms[i]);
		}
		if (ev->keycode < 256 &&
		    ev->state == WL_KEYBOARD_KEY_STATE_PRESSED)
			k->eaten[ev->keycode / 8] |=
				(uint8_t)(1u << (ev->keycode % 8));
		return;
	}
	/* the pad is shown: every key is its own, none reaches a client
	 * (focus is nobody's; eaten, so no release goes out either) */
	if (s->pad_for) {
		if (ev->state == WL_KEYBOARD_KEY_STATE_PRESSED &&
		    kb->xkb_state) {
			const xkb_keysym_t *syms;
			int n = xkb_state_key_get_syms(kb->xkb_state,
						       ev->keycode + 8, &syms);
			for (int i = 0; i < n; i++)
				tf_shell_pad_key(s, syms[i]);
		}
		if (ev->keycode < 256 &&
		    ev->state == WL_KEYBOARD_KEY_STATE_PRESSED)
			k->eaten[ev->keycode / 8] |=
				(uint8_t)(1u << (ev->keycode % 8));
		return;
	}
	if (kb->xkb_state && ev->state == WL_KEYBOARD_KEY_STATE_PRESSED) {
		const xkb_keysym_t *syms;
		uint32_t mods = wlr_keyboard_get_modifiers(kb);
		int n = xkb_state_key_get_syms(kb->xkb_state, ev->keycode + 8,
					       &syms);

		for (int i = 0; i < n && !handled; i++)
			handled =
				keybinding(s, mods, syms[i]) ||
				(mods == 0 && tf_shell_banner_key(s, syms[i]));
	}
	if (handled) {
		if (ev->keycode < 256)
			k->eaten[ev->keycode / 8] |=
				(uint8_t)(1u << (ev->keycode % 8));
		return;
	}
	/* focus is only ever on the foreground persona's window
	 * (tf_shell_focus_update): nobody else gets the key */
	wlr_seat_set_keyboard(s->seat, k->dev);
	wlr_seat_keyboard_notify_key(s->seat, ev->time_msec, ev->keycode,
				     ev->state);
}

static void kb_destroy(struct wl_listener *l, void *data)
{
	struct tf_shell_keyboard *k = wl_container_of(l, k, destroy);
	struct wlr_keyboard *cur = wlr_seat_get_keyboard(k->shell->seat);

	if (!cur || cur == k->dev->keyboard)
		wlr_seat_set_keyboard(k->shell->seat, &base_kbd.dev);
	wl_list_remove(&k->modifiers.link);
	wl_list_remove(&k->key.link);
	wl_list_remove(&k->destroy.link);
	wl_list_remove(&k->link);
	free(k);
}

static void add_keyboard(struct tf_shell *s, struct wlr_input_device *dev,
			 bool set_keymap)
{
	struct tf_shell_keyboard *k = calloc(1, sizeof(*k));

	if (!k)
		return;
	k->shell = s;
	k->dev = dev;
	if (set_keymap) {
		struct xkb_context *ctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
		struct xkb_keymap *km =
			ctx ? xkb_keymap_new_from_names(
				      ctx, NULL, XKB_KEYMAP_COMPILE_NO_FLAGS)
			    : NULL;

		if (km)
			wlr_keyboard_set_keymap(dev->keyboard, km);
		xkb_keymap_unref(km);
		xkb_context_unref(ctx);
		wlr_keyboard_set_repeat_info(dev->keyboard, 25, 600);
	}
	k->modifiers.notify = kb_modifiers;
	wl_signal_add(&dev->keyboard->events.modifiers, &k->modifiers);
	k->key.notify = kb_key;
	wl_signal_add(&dev->keyboard->events.key, &k->key);
	k->destroy.notify = kb_destroy;
	wl_signal_add(&dev->events.destroy, &k->destroy);
	wl_list_insert(&s->keyboards, &k->link);
}

static void new_vkbd(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, new_vkbd);
	struct wlr_virtual_keyboard_v1 *vk = data;

	/* only the host socket sees the manager (globals.c): a trusted
	 * tool, typing as the officer would; its client sends a keymap */
	add_keyboard(s, &vk->input_device, false);
}

/* ---- pointer ---- */

/* The surface of the foreground persona at layout lx,ly (its local
 * coordinates in sx,sy), or NULL: the only one a pointer or a touch may
 * reach. A visible window of a background persona (desktop layout) is
 * seen, not touched; a hidden tree is not found at all. */
static struct wlr_surface *fg_surface_at(struct tf_shell *s, double lx,
					 double ly, double *sx, double *sy)
{
	struct wlr_scene_node *n =
		wlr_scene_node_at(&s->scene->node, lx, ly, sx, sy);
	struct wlr_surface *cand;

	if (!n || n->type != WLR_SCENE_NODE_SURFACE)
		return NULL;
	cand = wlr_scene_surface_from_node(n)->surface;
	if (tf_shell_client_persona(wl_resource_get_client(cand->resource)) !=
	    s->fg)
		return NULL;
	return s->fg ? cand : NULL;
}

static void pointer_at(struct tf_shell *s, uint32_t time)
{
	double sx, sy;
	struct wlr_surface *surf =
		fg_surface_at(s, s->cursor->x, s->cursor->y, &sx, &sy);

	if (!surf) {
		wlr_seat_pointer_notify_clear_focus(s->seat);
		return;
	}
	wlr_seat_pointer_notify_enter(s->seat, surf, sx, sy);
	wlr_seat_pointer_notify_motion(s->seat, time, sx, sy);
}

static void cursor_motion(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, cursor_motion);
	struct wlr_event_pointer_motion *ev = data;

	tf_shell_activity(s);
	wlr_cursor_move(s->cursor, ev->device, ev->delta_x, ev->delta_y);
	pointer_at(s, ev->time_msec);
}

static void cursor_motion_abs(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, cursor_motion_abs);
	struct wlr_event_pointer_motion_absolute *ev = data;

	tf_shell_activity(s);
	wlr_cursor_warp_absolute(s->cursor, ev->device, ev->x, ev->y);
	pointer_at(s, ev->time_msec);
}

static void cursor_button(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, cursor_button);
	struct wlr_event_pointer_button *ev = data;

	/* the alert card: one tap (any press) does what Return does; no
	 * client is under the pointer while it is shown */
	if (tf_shell_alert_shown(s)) {
		if (ev->state == WLR_BUTTON_PRESSED)
			tf_shell_alert_tap(s);
		return;
	}
	/* the pad: a press on a key is that key; nothing reaches a client
	 * (none is shown while the pad is) */
	if (s->pad_for) {
		tf_shell_activity(s);
		if (ev->state == WLR_BUTTON_PRESSED)
			(void)tf_shell_pad_tap(s, s->cursor->x, s->cursor->y);
		return;
	}
	/* a press on a banner is the shell's (its release too: no client
	 * got the press) */
	if (ev->state == WLR_BUTTON_PRESSED &&
	    tf_shell_banner_tap(s, s->cursor->x, s->cursor->y)) {
		s->banner_press = true;
		return;
	}
	if (ev->state == WLR_BUTTON_RELEASED && s->banner_press) {
		s->banner_press = false;
		return;
	}
	wlr_seat_pointer_notify_button(s->seat, ev->time_msec, ev->button,
				       ev->state);
}

static void cursor_axis(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, cursor_axis);
	struct wlr_event_pointer_axis *ev = data;

	wlr_seat_pointer_notify_axis(s->seat, ev->time_msec, ev->orientation,
				     ev->delta, ev->delta_discrete, ev->source);
}

static void cursor_frame(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, cursor_frame);

	wlr_seat_pointer_notify_frame(s->seat);
}

/* ---- touch ---- */

/* A touch point the shell took (on the card, the pad, a banner: its up
 * and motion are the shell's too), or one given to a client with its
 * surface's origin in layout coordinates (motion comes in layout
 * coordinates, the client wants its own). */
static struct tf_shell_touch *touch_find(struct tf_shell *s, int32_t id)
{
	for (size_t i = 0; i < TF_SHELL_TOUCH_MAX; i++)
		if (s->touches[i].used && s->touches[i].id == id)
			return &s->touches[i];
	return NULL;
}

static struct tf_shell_touch *touch_add(struct tf_shell *s, int32_t id)
{
	struct tf_shell_touch *t = touch_find(s, id);

	for (size_t i = 0; !t && i < TF_SHELL_TOUCH_MAX; i++)
		if (!s->touches[i].used)
			t = &s->touches[i];
	if (t) {
		memset(t, 0, sizeof(*t));
		t->used = true;
		t->id = id;
	}
	return t;
}

static bool touch_point_hidden(struct tf_shell *s, struct wlr_touch_point *pt)
{
	struct tf_shell_persona *p;

	if (!pt->surface)
		return false;
	p = tf_shell_client_persona(
		wl_resource_get_client(pt->surface->resource));
	return !(p == s->fg && persona_visible(s, p));
}

/* Touch points of a surface no longer shown in front (a switch, a lock,
 * the pad or the card): the client gets wl_touch.cancel, and wlroots
 * (0.15, wlr_seat_touch_send_cancel) drops that client's points with it,
 * so neither the finger's motion nor its up reaches that client. The
 * list changes under each cancel: look again from its start. */
static void touch_drop_hidden(struct tf_shell *s)
{
	for (int round = 0; round < TF_SHELL_TOUCH_MAX; round++) {
		struct wlr_touch_point *pt, *hit = NULL;
		struct tf_shell_touch *t;
		int32_t id;

		wl_list_for_each(pt, &s->seat->touch_state.touch_points, link)
		{
			if (touch_point_hidden(s, pt)) {
				hit = pt;
				break;
			}
		}
		if (!hit)
			return;
		id = hit->touch_id;
		wlr_seat_touch_notify_cancel(s->seat, hit->surface);
		/* should a point outlive its cancel, its events stop here */
		if (wlr_seat_touch_get_point(s->seat, id) &&
		    (t = touch_find(s, id)))
			t->shell = true;
		if (wlr_seat_touch_get_point(s->seat, id))
			return;
	}
}

static void touch_down(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, touch_down);
	struct wlr_event_touch_down *ev = data;
	struct tf_shell_touch *t;
	struct wlr_surface *surf;
	double lx, ly, sx, sy;

	tf_shell_activity(s);
	wlr_cursor_absolute_to_layout_coords(s->cursor, ev->device, ev->x,
					     ev->y, &lx, &ly);
	if (!(t = touch_add(s, ev->touch_id)))
		return; /* more fingers than we follow: ignored */
	/* the shell's own surfaces first, as a pointer press (cursor_button):
	 * the card (any tap), the pad's keys, a banner */
	t->shell = true;
	if (tf_shell_alert_shown(s)) {
		tf_shell_alert_tap(s);
		return;
	}
	if (s->pad_for) {
		(void)tf_shell_pad_tap(s, lx, ly);
		return;
	}
	if (tf_shell_banner_tap(s, lx, ly))
		return;
	t->shell = false;
	surf = fg_surface_at(s, lx, ly, &sx, &sy);
	if (!surf) {
		t->used = false;
		return;
	}
	t->ox = lx - sx;
	t->oy = ly - sy;
	wlr_seat_touch_notify_down(s->seat, surf, ev->time_msec, ev->touch_id,
				   sx, sy);
}

static void touch_up(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, touch_up);
	struct wlr_event_touch_up *ev = data;
	struct tf_shell_touch *t = touch_find(s, ev->touch_id);

	if (!t)
		return;
	t->used = false;
	if (!t->shell)
		wlr_seat_touch_notify_up(s->seat, ev->time_msec, ev->touch_id);
}

static void touch_motion(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, touch_motion);
	struct wlr_event_touch_motion *ev = data;
	struct tf_shell_touch *t = touch_find(s, ev->touch_id);
	struct wlr_touch_point *pt =
		wlr_seat_touch_get_point(s->seat, ev->touch_id);
	double lx, ly;

	tf_shell_activity(s);
	if (!t || t->shell || !pt || !pt->client)
		return;
	wlr_cursor_absolute_to_layout_coords(s->cursor, ev->device, ev->x,
					     ev->y, &lx, &ly);
	wlr_seat_touch_notify_motion(s->seat, ev->time_msec, ev->touch_id,
				     lx - t->ox, ly - t->oy);
}

static void touch_cancel(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, touch_cancel);
	struct wlr_event_touch_cancel *ev = data;
	struct tf_shell_touch *t = touch_find(s, ev->touch_id);
	struct wlr_touch_point *pt =
		wlr_seat_touch_get_point(s->seat, ev->touch_id);

	if (!t)
		return;
	t->used = false;
	/* the cancel drops the client's points (wlroots 0.15); an up ends
	 * one that would remain */
	if (!t->shell && pt && pt->surface)
		wlr_seat_touch_notify_cancel(s->seat, pt->surface);
	if (wlr_seat_touch_get_point(s->seat, ev->touch_id))
		wlr_seat_touch_notify_up(s->seat, ev->time_msec, ev->touch_id);
}

static void touch_frame(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, touch_frame);

	wlr_seat_touch_notify_frame(s->seat);
}

static void headless_find(struct wlr_backend *b, void *data)
{
	struct wlr_backend **out = data;

	if (wlr_backend_is_headless(b))
		*out = b;
}

/* Test input (control socket `touch`, headless only): a touch device of
 * the headless backend whose events the shell raises itself. They enter
 * wlr_cursor where a libinput touch screen's do; this kernel has no
 * uinput to make a real one. */
int tf_shell_touch_inject(struct tf_shell *s, const char *what, int32_t id,
			  int x, int y)
{
	uint32_t ms = (uint32_t)(tf_shell_now_us() / 1000u);
	double nx, ny;

	if (!s->touch_dev) {
		struct wlr_backend *hb = NULL;

		if (wlr_backend_is_multi(s->backend))
			wlr_multi_for_each_backend(s->backend, headless_find,
						   &hb);
		else if (wlr_backend_is_headless(s->backend))
			hb = s->backend;
		if (!hb)
			return -EOPNOTSUPP;
		s->touch_dev = wlr_headless_add_input_device(
			hb, WLR_INPUT_DEVICE_TOUCH);
		if (!s->touch_dev)
			return -ENOMEM;
	}
	if (x < 0 || y < 0 || x >= s->width || y >= s->height)
		return -EINVAL;
	nx = ((double)x + 0.5) / s->width;
	ny = ((double)y + 0.5) / s->height;
	if (strcmp(what, "down") == 0) {
		struct wlr_event_touch_down ev = {s->touch_dev, ms, id, nx, ny};

		wl_signal_emit(&s->touch_dev->touch->events.down, &ev);
	} else if (strcmp(what, "motion") == 0) {
		struct wlr_event_touch_motion ev = {s->touch_dev, ms, id, nx,
						    ny};

		wl_signal_emit(&s->touch_dev->touch->events.motion, &ev);
	} else if (strcmp(what, "up") == 0) {
		struct wlr_event_touch_up ev = {s->touch_dev, ms, id};

		wl_signal_emit(&s->touch_dev->touch->events.up, &ev);
	} else {
		return -EINVAL;
	}
	wl_signal_emit(&s->touch_dev->touch->events.frame, NULL);
	return 0;
}

/* a trusted tool's pointer (host socket only: globals.c), as a real one */
static void new_vptr(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, new_vptr);
	struct wlr_virtual_pointer_v1_new_pointer_event *ev = data;

	wlr_cursor_attach_input_device(s->cursor,
				       &ev->new_pointer->input_device);
}

static void new_input(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, new_input);
	struct wlr_input_device *dev = data;

	if (dev->type == WLR_INPUT_DEVICE_KEYBOARD)
		add_keyboard(s, dev, true);
	else if (dev->type == WLR_INPUT_DEVICE_POINTER)
		wlr_cursor_attach_input_device(s->cursor, dev);
	else if (dev->type == WLR_INPUT_DEVICE_TOUCH) {
		/* wlr_cursor maps it to the output and raises touch_* */
		wlr_cursor_attach_input_device(s->cursor, dev);
		wlr_seat_set_capabilities(s->seat,
					  s->seat->capabilities |
						  WL_SEAT_CAPABILITY_TOUCH);
	}
}

/* The client of an xdg popup grab, NULL for any other grab. */
static struct wl_client *popup_grab_client(struct tf_shell *s, const void *grab,
					   bool keyboard)
{
	struct wlr_xdg_popup_grab *xg;

	wl_list_for_each(xg, &s->xdg_shell->popup_grabs, link)
	{
		if (keyboard ? grab == (const void *)&xg->keyboard_grab
			     : grab == (const void *)&xg->pointer_grab)
			return xg->client;
	}
	return NULL;
}

/* Only a shown foreground persona's client may grab: a background one
 * could otherwise pin the focus (see tf_shell_focus_update) or keep the
 * pointer from the foreground's windows. */
static bool grab_allowed(struct tf_shell *s, struct wl_client *c)
{
	struct tf_shell_persona *p = tf_shell_client_persona(c);

	return p && p == s->fg && persona_visible(s, p);
}

static void kbd_grab_begin(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, kbd_grab_begin);
	struct wl_client *c = popup_grab_client(s, data, true);

	if (!grab_allowed(s, c))
		wlr_seat_keyboard_end_grab(s->seat);
}

static void ptr_grab_begin(struct wl_listener *l, void *data)
{
	struct tf_shell *s = wl_container_of(l, s, ptr_grab_begin);
	struct wl_client *c = popup_grab_client(s, data, false);

	if (!grab_allowed(s, c))
		wlr_seat_pointer_end_grab(s->seat);
}

#define LISTEN(sig, field, fn)                                                 \
	do {                                                                   \
		s->field.notify = fn;                                          \
		wl_signal_add(sig, &s->field);                                 \
	} while (0)

int tf_shell_server_init(struct tf_shell *s)
{
	struct wlr_virtual_keyboard_manager_v1 *vkm;
	struct wlr_virtual_pointer_manager_v1 *vpm;

	s->backend = wlr_backend_autocreate(s->display);
	if (!s->backend)
		return -ENODEV;
	/* no GPU on this kernel (no DRM): autocreate falls back to pixman,
	 * as WLR_RENDERER=pixman asks */
	s->renderer = wlr_renderer_autocreate(s->backend);
	if (!s->renderer)
		return -ENODEV;
	if (!wlr_renderer_init_wl_display(s->renderer, s->display))
		return -ENODEV;
	s->allocator = wlr_allocator_autocreate(s->backend, s->renderer);
	if (!s->allocator)
		return -ENODEV;
	if (!wlr_compositor_create(s->display, s->renderer))
		return -ENOMEM;
	if (!wlr_data_device_manager_create(s->display))
		return -ENOMEM;
	s->layout_out = wlr_output_layout_create();
	s->scene = wlr_scene_create();
	if (!s->layout_out || !s->scene)
		return -ENOMEM;
	wlr_xdg_output_manager_v1_create(s->display, s->layout_out);
	wlr_viewporter_create(s->display);
	wlr_presentation_create(s->display, s->backend);
	/* host-only (globals.c): the trusted tools' protocols */
	wlr_screencopy_manager_v1_create(s->display);
	wlr_data_control_manager_v1_create(s->display);
	vkm = wlr_virtual_keyboard_manager_v1_create(s->display);
	if (!vkm)
		return -ENOMEM;
	LISTEN(&vkm->events.new_virtual_keyboard, new_vkbd, new_vkbd);
	vpm = wlr_virtual_pointer_manager_v1_create(s->display);
	if (!vpm)
		return -ENOMEM;
	LISTEN(&vpm->events.new_virtual_pointer, new_vptr, new_vptr);

	/* secure trees above the others, each opening with an opaque
	 * background of its whole area: in the desktop layout a personal
	 * surface reaching into a secure column (a subsurface, a popup:
	 * wlroots 0.15's scene does not clip) is covered there, so inside a
	 * trusted frame only that persona's pixels show */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->n_personas; i++) {
			struct tf_shell_persona *p = &s->personas[i];

			if (p->secure != (pass == 1))
				continue;
			p->tree = wlr_scene_tree_create(&s->scene->node);
			if (!p->tree ||
			    !(p->bg = tf_shell_rect(&p->tree->node,
						    TF_SHELL_RGB_BG)))
				return -ENOMEM;
		}
	s->host_tree = wlr_scene_tree_create(&s->scene->node);
	if (!s->host_tree)
		return -ENOMEM;
	wlr_scene_node_set_enabled(&s->host_tree->node, false);
	for (size_t i = 0; i < s->n_personas; i++) {
		struct tf_shell_persona *p = &s->personas[i];

		p->decor = wlr_scene_tree_create(&s->scene->node);
		if (!p->decor)
			return -ENOMEM;
		for (int j = 0; j < 4; j++)
			if (!(p->frame[j] = tf_shell_rect(&p->decor->node,
							  TF_SHELL_RGB_BADGE)))
				return -ENOMEM;
		if (!(p->lockrect = tf_shell_rect(&s->scene->node,
						  TF_SHELL_RGB_LOCK)))
			return -ENOMEM;
	}
	/* notification banners: above every persona and lock screen, under
	 * the pad, the alert card and the bar */
	if (tf_shell_banner_init(s) < 0)
		return -ENOMEM;
	/* the pad: above every persona and lock screen, under the bar */
	if (tf_shell_pad_init(s) < 0)
		return -ENOMEM;
	/* the alert card: above the pad too (the pad hides it while open) */
	if (tf_shell_alert_init(s) < 0)
		return -ENOMEM;
	s->bar_tree = wlr_scene_tree_create(&s->scene->node);
	if (!s->bar_tree ||
	    !(s->bar = tf_shell_rect(&s->bar_tree->node, TF_SHELL_RGB_BAR)))
		return -ENOMEM;
	for (size_t i = 0; i < s->n_personas; i++)
		if (!(s->personas[i].badge = tf_shell_rect(&s->bar_tree->node,
							   TF_SHELL_RGB_BADGE)))
			return -ENOMEM;

	s->xdg_shell = wlr_xdg_shell_create(s->display);
	if (!s->xdg_shell)
		return -ENOMEM;
	LISTEN(&s->xdg_shell->events.new_surface, new_xdg_surface,
	       new_xdg_surface);
	LISTEN(&s->backend->events.new_output, new_output, new_output);
	LISTEN(&s->backend->events.new_input, new_input, new_input);

	s->cursor = wlr_cursor_create();
	if (!s->cursor)
		return -ENOMEM;
	wlr_cursor_attach_output_layout(s->cursor, s->layout_out);
	LISTEN(&s->cursor->events.motion, cursor_motion, cursor_motion);
	LISTEN(&s->cursor->events.motion_absolute, cursor_motion_abs,
	       cursor_motion_abs);
	LISTEN(&s->cursor->events.button, cursor_button, cursor_button);
	LISTEN(&s->cursor->events.axis, cursor_axis, cursor_axis);
	LISTEN(&s->cursor->events.frame, cursor_frame, cursor_frame);
	LISTEN(&s->cursor->events.touch_down, touch_down, touch_down);
	LISTEN(&s->cursor->events.touch_up, touch_up, touch_up);
	LISTEN(&s->cursor->events.touch_motion, touch_motion, touch_motion);
	LISTEN(&s->cursor->events.touch_cancel, touch_cancel, touch_cancel);
	LISTEN(&s->cursor->events.touch_frame, touch_frame, touch_frame);

	s->seat = wlr_seat_create(s->display, "seat0");
	if (!s->seat)
		return -ENOMEM;
	/* both capabilities from the start: a headless device has no
	 * keyboard until a trusted tool makes a virtual one */
	wlr_seat_set_capabilities(s->seat, WL_SEAT_CAPABILITY_KEYBOARD |
						   WL_SEAT_CAPABILITY_POINTER);
	base_keyboard_init();
	wlr_seat_set_keyboard(s->seat, &base_kbd.dev);
	LISTEN(&s->seat->events.request_set_selection, request_set_selection,
	       tf_shell_clip_request_set);
	LISTEN(&s->seat->events.keyboard_grab_begin, kbd_grab_begin,
	       kbd_grab_begin);
	LISTEN(&s->seat->events.pointer_grab_begin, ptr_grab_begin,
	       ptr_grab_begin);
	LISTEN(&s->seat->events.request_start_drag, request_start_drag,
	       tf_shell_clip_request_drag);
	tf_shell_arrange(s);
	if (!wlr_backend_start(s->backend))
		return -EIO;
	return 0;
}
