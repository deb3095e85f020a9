/* SPDX-License-Identifier: ISC */
/*
 * Urgent incident alerts on screen (issue 14 item 6; docs/shell.md
 * "Urgent alerts"). On the daemon's event `alert PERSONA id ID` (the id
 * only: twofoldd has checked the organisation's signature, the expiry and
 * replay) the shell draws a full-screen card "SECURE - URGENT" from solid
 * rectangles — whatever the persona's state, above every persona's
 * surfaces and the pad, below only the bar — so no client can imitate or
 * cover it. There is no do-not-disturb state in the shell yet; the card
 * would override it as it overrides everything else.
 *
 * Return on the card: if the persona is locked, the trusted pad opens;
 * after the right PIN (pad.c) or at once if it is unlocked, the shell
 * asks SWITCH and ALERT_BODY, which the daemon answers only while the
 * persona runs. The body is drawn by the shell (a 5x7 block font), kept
 * only while shown, wiped when dismissed (Escape or Return) or when the
 * persona is locked again (back to the card). It never reaches a client
 * and is never printed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WLR_USE_UNSTABLE
#include <wlr/types/wlr_scene.h>
#include <xkbcommon/xkbcommon.h>

#include "twofold/common.h"

#include "shell.h"

/* the most characters drawn (a rectangle per run of lit pixels: the
 * scene stays small even for the longest body) */
#define DRAW_MAX 1200

struct tf_shell_alert {
	struct wlr_scene_tree *tree;
	struct wlr_scene_rect *bg, *band;
	struct wlr_scene_tree *text; /* rebuilt at every arrange */
	char *body;		     /* "TITLE\nBODY" while shown */
	size_t body_len;
};

/* 5x7 glyphs, one byte per row, bit 4 the leftmost pixel */
static const struct {
	char c;
	uint8_t row[7];
} font[] = {
	{'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
	{'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
	{'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
	{'D', {0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E}},
	{'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
	{'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
	{'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
	{'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
	{'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
	{'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
	{'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
	{'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
	{'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
	{'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
	{'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
	{'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
	{'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
	{'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
	{'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
	{'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
	{'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
	{'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
	{'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
	{'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
	{'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
	{'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
	{'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
	{'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
	{'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
	{'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
	{'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
	{'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
	{'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
	{'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
	{'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
	{'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
	{'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
	{'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
	{',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
	{':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
	{'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}},
	{'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
	{'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
};

static const uint8_t *glyph(char c)
{
	c = (char)toupper((unsigned char)c);
	for (size_t i = 0; i < TF_ARRAY_SIZE(font); i++)
		if (font[i].c == c)
			return font[i].row;
	return c == ' ' ? NULL : font[TF_ARRAY_SIZE(font) - 1].row;
}

int tf_shell_text(struct wlr_scene_tree *t, const char *text, size_t len, int x,
		  int y, int w, int bottom, int px, uint32_t rgb)
{
	int cx = x, cy = y, adv = 6 * px, line = 9 * px;

	for (size_t i = 0; i < len && i < DRAW_MAX; i++) {
		const uint8_t *g;

		if (text[i] == '\n' || cx + 5 * px > x + w) {
			cx = x;
			cy += line;
			if (text[i] == '\n')
				continue;
		}
		if (cy + 7 * px > bottom)
			break;
		g = glyph(text[i]);
		for (int r = 0; g && r < 7; r++)
			for (int b = 0; b < 5;) {
				int run = 0;
				while (b + run < 5 &&
				       (g[r] >> (4 - b - run)) & 1)
					run++;
				if (run) {
					struct wlr_scene_rect *q =
						tf_shell_rect(&t->node, rgb);
					if (q)
						tf_shell_place(q, cx + b * px,
							       cy + r * px,
							       run * px, px);
					b += run;
				} else
					b++;
			}
		cx += adv;
	}
	return cy + line - y;
}

int tf_shell_alert_init(struct tf_shell *s)
{
	struct tf_shell_alert *al = calloc(1, sizeof(*al));

	if (!al)
		return -ENOMEM;
	s->alert = al;
	al->tree = wlr_scene_tree_create(&s->scene->node);
	if (!al->tree ||
	    !(al->bg = tf_shell_rect(&al->tree->node, TF_SHELL_RGB_ALERT)) ||
	    !(al->band = tf_shell_rect(&al->tree->node, TF_SHELL_RGB_BADGE)))
		return -ENOMEM;
	wlr_scene_node_set_enabled(&al->tree->node, false);
	return 0;
}

static void body_wipe(struct tf_shell_alert *al)
{
	if (al->body) {
		tf_memzero(al->body, al->body_len);
		free(al->body);
	}
	al->body = NULL;
	al->body_len = 0;
}

void tf_shell_alert_fini(struct tf_shell *s)
{
	if (!s->alert)
		return;
	body_wipe(s->alert);
	free(s->alert);
	s->alert = NULL;
}

bool tf_shell_alert_shown(const struct tf_shell *s)
{
	return s->alert_state != TF_SHELL_ALERT_NONE && !s->pad_for;
}

void tf_shell_alert_arrange(struct tf_shell *s)
{
	struct tf_shell_alert *al = s->alert;
	int W = s->width, H = s->height, top = TF_SHELL_BAR_H;
	int px, m, y;
	bool body;

	if (!al)
		return;
	if (al->text) {
		wlr_scene_node_destroy(&al->text->node);
		al->text = NULL;
	}
	wlr_scene_node_set_enabled(&al->tree->node, tf_shell_alert_shown(s));
	if (!tf_shell_alert_shown(s))
		return;
	body = s->alert_state == TF_SHELL_ALERT_BODY && al->body;
	{
		uint32_t c =
			body ? TF_SHELL_RGB_ALERT_BODY : TF_SHELL_RGB_ALERT;
		float col[4] = {
			(float)((c >> 16) & 0xff) / 255.0f,
			(float)((c >> 8) & 0xff) / 255.0f,
			(float)(c & 0xff) / 255.0f,
			1.0f,
		};
		wlr_scene_rect_set_color(al->bg, col);
	}
	tf_shell_place(al->bg, 0, top, W, H - top);
	tf_shell_place(al->band, 0, top, W, TF_SHELL_FRAME * 2);
	al->text = wlr_scene_tree_create(&al->tree->node);
	if (!al->text)
		return;
	m = W / 20;
	y = top + TF_SHELL_FRAME * 4;
	if (!body) {
		/* the heading as large as fits one line */
		static const char head[] = "SECURE - URGENT";
		px = (W - 2 * m) / (6 * (int)(sizeof(head) - 1));
		px = px < 2 ? 2 : px;
		y += tf_shell_text(al->text, head, sizeof(head) - 1, m,
				   y + H / 6, W - 2 * m, H, px,
				   TF_SHELL_RGB_ALERT_INK);
		tf_shell_text(al->text, "PRESS ENTER TO UNLOCK", 21, m,
			      y + H / 4, W - 2 * m, H, px / 3 > 1 ? px / 3 : 2,
			      TF_SHELL_RGB_ALERT_INK);
		return;
	}
	px = W / 320 > 2 ? W / 320 : 2;
	tf_shell_text(al->text, al->body, al->body_len, m, y, W - 2 * m, H - m,
		      px, TF_SHELL_RGB_ALERT_INK);
}

void tf_shell_alert_show(struct tf_shell *s, struct tf_shell_persona *p,
			 const char *id)
{
	if (!s->alert)
		return;
	body_wipe(s->alert);
	s->alert_for = p;
	snprintf(s->alert_id, sizeof(s->alert_id), "%s", id);
	s->alert_state = TF_SHELL_ALERT_CARD;
	fprintf(stderr, "twofold-shell: urgent alert %s for %s: card shown\n",
		id, p->name);
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
}

static void dismiss(struct tf_shell *s)
{
	body_wipe(s->alert);
	fprintf(stderr, "twofold-shell: urgent alert %s dismissed\n",
		s->alert_id);
	s->alert_state = TF_SHELL_ALERT_NONE;
	s->alert_for = NULL;
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
}

/* the persona runs (unlocked): in front, then the body */
static void fetch(struct tf_shell *s)
{
	struct tf_shell_persona *p = s->alert_for;
	int r;

	(void)tf_shell_daemon_switch(s, p);
	r = tf_shell_request_alert_body(s, p);
	if (r < 0) {
		fprintf(stderr, "twofold-shell: alert body of %s: %s\n",
			p->name, strerror(-r));
		return;
	}
	s->alert_state = TF_SHELL_ALERT_FETCHING;
}

void tf_shell_alert_key(struct tf_shell *s, uint32_t sym)
{
	bool enter = sym == XKB_KEY_Return || sym == XKB_KEY_KP_Enter;

	switch (s->alert_state) {
	case TF_SHELL_ALERT_CARD:
		if (!enter)
			return;
		if (s->alert_for->locked)
			tf_shell_pad_open(s, s->alert_for);
		else
			fetch(s);
		break;
	case TF_SHELL_ALERT_BODY:
		if (enter || sym == XKB_KEY_Escape)
			dismiss(s);
		break;
	default: break;
	}
}

/* A tap on the card is its Return; on the body it does nothing (a stray
 * touch must not dismiss what the officer is reading) */
void tf_shell_alert_tap(struct tf_shell *s)
{
	if (s->alert_state == TF_SHELL_ALERT_CARD)
		tf_shell_alert_key(s, XKB_KEY_Return);
}

void tf_shell_alert_unlocked(struct tf_shell *s, struct tf_shell_persona *p)
{
	if (s->alert_state == TF_SHELL_ALERT_CARD && s->alert_for == p)
		fetch(s);
}

void tf_shell_alert_locked(struct tf_shell *s, struct tf_shell_persona *p)
{
	if (s->alert_for != p || s->alert_state == TF_SHELL_ALERT_NONE ||
	    s->alert_state == TF_SHELL_ALERT_CARD)
		return;
	/* the body never stays on screen for a locked persona */
	body_wipe(s->alert);
	s->alert_state = TF_SHELL_ALERT_CARD;
	tf_shell_arrange(s);
}

/* the daemon's ALERT_BODY answer: "ID\nTITLE\nBODY" */
void tf_shell_alert_answer(struct tf_shell *s, int err, const char *text)
{
	struct tf_shell_alert *al = s->alert;
	const char *nl = text ? strchr(text, '\n') : NULL;

	if (!al || s->alert_state != TF_SHELL_ALERT_FETCHING)
		return;
	if (err < 0 || !nl || (size_t)(nl - text) != strlen(s->alert_id) ||
	    memcmp(text, s->alert_id, strlen(s->alert_id)) != 0) {
		fprintf(stderr,
			"twofold-shell: alert %s: the daemon gave no body "
			"(%s)\n",
			s->alert_id,
			err < 0 ? strerror(-err) : "another alert");
		s->alert_state = TF_SHELL_ALERT_CARD;
		tf_shell_arrange(s);
		return;
	}
	body_wipe(al);
	al->body = strdup(nl + 1);
	if (!al->body) {
		s->alert_state = TF_SHELL_ALERT_CARD;
		return;
	}
	al->body_len = strlen(al->body);
	s->alert_state = TF_SHELL_ALERT_BODY;
	fprintf(stderr, "twofold-shell: urgent alert %s shown\n", s->alert_id);
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
}

size_t tf_shell_alert_body_len(const struct tf_shell *s)
{
	return s->alert ? s->alert->body_len : 0;
}
