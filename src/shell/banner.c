/* SPDX-License-Identifier: ISC */
/*
 * Notification banners (issue 14 item 5; docs/shell.md "Notifications").
 * On the daemon's event `notify NAME id N` (the id only) the shell draws
 * a banner under the bar from solid rectangles and its own block font
 * (alert.c), above every persona's surfaces, below the pad and the alert
 * card, so no client can draw one or cover it.
 *
 *  - A persona that is not credential-bound, or one unlocked and in
 *    front: the shell asks NOTIFY_GET NAME N and draws what the daemon
 *    gives (the daemon redacts; the shell draws only what it was given).
 *  - A credential persona locked or in the background: "SECURE: NEW
 *    MESSAGE" and nothing is fetched, with the trusted band (the badge's
 *    colour) at its left. Return (or a press on it) opens the trusted pad
 *    when the persona is locked (pad.c unlocks, then asks SWITCH), else
 *    asks SWITCH; once the daemon says it is in front the shell fetches
 *    that notification and shows it in full.
 *
 * A banner goes after --banner-seconds (5 by default), its text wiped; a
 * shown text also goes at once when its persona is locked or leaves the
 * front. The text is never printed and never reaches a client.
 *
 * More than one: the latest is on top (it replaces the one shown, as the
 * card does) and the banner counts those that came while one was up,
 * "+N" at its right ("N more"), so a redacted secure banner covered by a
 * later one is still counted. Only the latest's text is held: an earlier
 * one is the daemon's to keep (its last 16, `twofold notify list`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WLR_USE_UNSTABLE
#include <wlr/types/wlr_scene.h>
#include <xkbcommon/xkbcommon.h>

#include "twofold/common.h"

#include "shell.h"

/* what the banner draws of a full notification: the first lines */
#define BANNER_LINES 3
#define BANNER_PAD 12
#define BANNER_BAND 16

enum banner_state { B_NONE, B_FETCHING, B_SHOWN };

struct tf_shell_banner {
	struct wlr_scene_tree *tree;
	struct wlr_scene_rect *bg, *band;
	struct wlr_scene_tree *text; /* rebuilt at every arrange */
	struct wl_event_source *timer;
	enum banner_state state;
	struct tf_shell_persona *p;
	uint32_t id;
	bool redacted;
	unsigned count; /* since the banner was last empty, this one too */
	char *body;	/* the text shown (malloc'd, wiped when it goes) */
	size_t body_len;
	/* tapped while redacted: fetched in full once p is in front */
	struct tf_shell_persona *want_p;
	uint32_t want_id;
};

static void text_wipe(struct tf_shell_banner *b)
{
	if (b->body) {
		tf_memzero(b->body, b->body_len);
		free(b->body);
	}
	b->body = NULL;
	b->body_len = 0;
}

static void dismiss(struct tf_shell *s)
{
	struct tf_shell_banner *b = s->banner;

	text_wipe(b);
	b->state = B_NONE;
	b->count = 0;
	b->p = NULL;
	b->id = 0;
	b->redacted = false;
	if (b->timer)
		wl_event_source_timer_update(b->timer, 0);
	tf_shell_arrange(s);
}

static int on_timer(void *data)
{
	struct tf_shell *s = data;

	if (s->banner && s->banner->state == B_SHOWN)
		dismiss(s);
	return 0;
}

int tf_shell_banner_init(struct tf_shell *s)
{
	struct tf_shell_banner *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	s->banner = b;
	b->tree = wlr_scene_tree_create(&s->scene->node);
	if (!b->tree ||
	    !(b->bg = tf_shell_rect(&b->tree->node, TF_SHELL_RGB_BANNER)) ||
	    !(b->band = tf_shell_rect(&b->tree->node, TF_SHELL_RGB_BADGE)))
		return -ENOMEM;
	b->timer = wl_event_loop_add_timer(s->loop, on_timer, s);
	if (!b->timer)
		return -ENOMEM;
	wlr_scene_node_set_enabled(&b->tree->node, false);
	return 0;
}

void tf_shell_banner_fini(struct tf_shell *s)
{
	struct tf_shell_banner *b = s->banner;

	if (!b)
		return;
	text_wipe(b);
	if (b->timer)
		wl_event_source_remove(b->timer);
	free(b);
	s->banner = NULL;
}

bool tf_shell_banner_shown(const struct tf_shell *s)
{
	/* the trusted screens own the whole screen while shown */
	return s->banner && s->banner->state == B_SHOWN && !s->pad_for &&
	       !tf_shell_alert_shown(s);
}

static int banner_h(const struct tf_shell *s, int *px)
{
	*px = s->width / 240 > 2 ? s->width / 240 : 2;
	return 2 * BANNER_PAD + BANNER_LINES * 9 * *px;
}

void tf_shell_banner_arrange(struct tf_shell *s)
{
	struct tf_shell_banner *b = s->banner;
	int px, h, x0, xr;
	static const char red[] = "SECURE: NEW MESSAGE\nENTER: UNLOCK AND OPEN";
	char more[16];
	int n_more = 0;

	if (!b)
		return;
	if (b->text) {
		wlr_scene_node_destroy(&b->text->node);
		b->text = NULL;
	}
	wlr_scene_node_set_enabled(&b->tree->node, tf_shell_banner_shown(s));
	if (!tf_shell_banner_shown(s))
		return;
	h = banner_h(s, &px);
	tf_shell_place(b->bg, 0, TF_SHELL_BAR_H, s->width, h);
	/* the trusted colour marks what a credential persona's banner is:
	 * no client can show it above the bar */
	tf_shell_place(b->band, 0, TF_SHELL_BAR_H,
		       b->p->secure ? BANNER_BAND : -1, h);
	b->text = wlr_scene_tree_create(&b->tree->node);
	if (!b->text)
		return;
	x0 = BANNER_BAND + BANNER_PAD;
	xr = s->width - BANNER_PAD; /* the text's right edge */
	if (b->count > 1) {
		/* "+N" at the right of the first line, the text left of it */
		n_more = snprintf(more, sizeof(more), "+%u", b->count - 1);
		if (n_more > 0 && (size_t)n_more < sizeof(more)) {
			xr -= n_more * 6 * px;
			tf_shell_text(b->text, more, (size_t)n_more, xr,
				      TF_SHELL_BAR_H + BANNER_PAD,
				      n_more * 6 * px,
				      TF_SHELL_BAR_H + BANNER_PAD + 9 * px, px,
				      TF_SHELL_RGB_ALERT_INK);
			xr -= BANNER_PAD;
		}
	}
	if (b->redacted)
		tf_shell_text(b->text, red, sizeof(red) - 1, x0,
			      TF_SHELL_BAR_H + BANNER_PAD, xr - x0,
			      TF_SHELL_BAR_H + h - BANNER_PAD / 2, px,
			      TF_SHELL_RGB_ALERT_INK);
	else if (b->body)
		tf_shell_text(b->text, b->body, b->body_len, x0,
			      TF_SHELL_BAR_H + BANNER_PAD, xr - x0,
			      TF_SHELL_BAR_H + h - BANNER_PAD / 2, px,
			      TF_SHELL_RGB_ALERT_INK);
}

static void show(struct tf_shell *s)
{
	struct tf_shell_banner *b = s->banner;

	b->state = B_SHOWN;
	wl_event_source_timer_update(b->timer, (int)(s->banner_s * 1000u));
	fprintf(stderr, "twofold-shell: notification %u of %s: banner (%s)\n",
		b->id, b->p->name, b->redacted ? "redacted" : "full");
	tf_shell_arrange(s);
}

static bool in_front(const struct tf_shell *s, const struct tf_shell_persona *p)
{
	return p == s->fg && !p->locked;
}

static void fetch(struct tf_shell *s, struct tf_shell_persona *p, uint32_t id)
{
	struct tf_shell_banner *b = s->banner;
	int r;

	if (b->state == B_SHOWN)
		text_wipe(b);
	b->state = B_FETCHING;
	b->p = p;
	b->id = id;
	b->redacted = false;
	r = tf_shell_request_notify(s, p, id);
	if (r < 0) {
		fprintf(stderr, "twofold-shell: notification %u of %s: %s\n",
			id, p->name, strerror(-r));
		dismiss(s);
	}
}

void tf_shell_banner_event(struct tf_shell *s, struct tf_shell_persona *p,
			   uint32_t id)
{
	struct tf_shell_banner *b = s->banner;

	if (!b)
		return;
	b->count = b->state == B_NONE ? 1 : b->count + 1;
	/* background or locked secure: never fetched, whatever it says */
	if (p->secure && !in_front(s, p)) {
		text_wipe(b);
		b->p = p;
		b->id = id;
		b->redacted = true;
		show(s);
		return;
	}
	fetch(s, p, id);
}

void tf_shell_banner_answer(struct tf_shell *s, struct tf_shell_persona *p,
			    uint32_t id, int err, const char *text)
{
	struct tf_shell_banner *b = s->banner;

	if (!b || b->state != B_FETCHING || b->p != p || b->id != id)
		return;
	if (err < 0 || !text) {
		fprintf(stderr,
			"twofold-shell: notification %u of %s: the daemon "
			"gave no text (%s)\n",
			id, p->name, err < 0 ? strerror(-err) : "empty");
		dismiss(s);
		return;
	}
	/* it went to the background or was locked meanwhile: the daemon
	 * redacted it then, and the shell shows no more than that */
	b->redacted = p->secure && (!in_front(s, p) || !strchr(text, '\n'));
	if (!b->redacted) {
		b->body = strdup(text);
		if (!b->body) {
			dismiss(s);
			return;
		}
		b->body_len = strlen(b->body);
	}
	show(s);
}

/* Return or a press on a redacted banner: unlock (the pad) or switch,
 * and its text once the persona is in front */
static void open_it(struct tf_shell *s)
{
	struct tf_shell_banner *b = s->banner;
	struct tf_shell_persona *p = b->p;

	b->want_p = p;
	b->want_id = b->id;
	if (p->locked)
		tf_shell_pad_open(s, p); /* it asks SWITCH after the unlock */
	else
		(void)tf_shell_daemon_switch(s, p);
	tf_shell_arrange(s);
}

bool tf_shell_banner_key(struct tf_shell *s, uint32_t sym)
{
	struct tf_shell_banner *b = s->banner;

	/* only a redacted banner takes Return: a full one is for reading,
	 * and the persona in front keeps its keys */
	if (!tf_shell_banner_shown(s) || !b->redacted ||
	    (sym != XKB_KEY_Return && sym != XKB_KEY_KP_Enter))
		return false;
	open_it(s);
	return true;
}

bool tf_shell_banner_tap(struct tf_shell *s, double x, double y)
{
	struct tf_shell_banner *b = s->banner;
	int px, h;

	if (!tf_shell_banner_shown(s))
		return false;
	h = banner_h(s, &px);
	if (y < TF_SHELL_BAR_H || y >= TF_SHELL_BAR_H + h || x < 0 ||
	    x >= s->width)
		return false;
	if (b->redacted)
		open_it(s);
	else
		dismiss(s);
	return true;
}

/* the foreground or a lock changed (daemon.c, after its event) */
void tf_shell_banner_update(struct tf_shell *s)
{
	struct tf_shell_banner *b = s->banner;

	if (!b)
		return;
	/* a credential persona's text only while it is in front */
	if (b->state != B_NONE && !b->redacted && b->p && b->p->secure &&
	    !in_front(s, b->p)) {
		dismiss(s);
		return;
	}
	if (b->want_p && in_front(s, b->want_p)) {
		struct tf_shell_persona *p = b->want_p;

		b->want_p = NULL;
		fetch(s, p, b->want_id);
	}
}

int tf_shell_banner_status(const struct tf_shell *s, char *out, size_t cap)
{
	const struct tf_shell_banner *b = s->banner;

	if (!b || b->state == B_NONE)
		return snprintf(out, cap, " banner=- banners=0");
	if (b->state == B_FETCHING)
		return snprintf(out, cap, " banner=fetching:%s:%u banners=%u",
				b->p->name, b->id, b->count);
	return snprintf(out, cap, " banner=%s:%s:%u:%zu banners=%u",
			b->redacted ? "redacted" : "full", b->p->name, b->id,
			b->body_len, b->count);
}
