/* SPDX-License-Identifier: ISC */
/*
 * The trusted unlock (issue 14 item 3; docs/shell.md "Trusted unlock"):
 * a PIN pad drawn by the shell itself from solid rectangles (seven-segment
 * digits; no font, no client, nothing a persona can draw over: its tree
 * sits above every persona's and below only the bar). While it is shown
 * no client has keyboard focus and every key goes to the pad; Return
 * sends what was typed to twofoldd as UNLOCK of the persona (daemon.c),
 * from secure memory, and wipes it. A refusal (wrong, or throttled: the
 * daemon's throttle applies as to any unlock) turns the strip above the
 * dots red and says, in the shell's block font, what the daemon answered
 * (from its reason id and parameters, never its free text): wrong and how
 * many tries are left, the wait counting down each second, locked out.
 * A pointer press on a key is that key (DEL and OK are BackSpace and
 * Return). The PIN itself is never drawn, logged or sent anywhere else.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WLR_USE_UNSTABLE
#include <wlr/types/wlr_scene.h>
#include <xkbcommon/xkbcommon.h>

#include "twofold/common.h"
#include "twofold/secmem.h"

#include "shell.h"

#define PAD_DOTS 16
/* keys: 0..9, then DEL and OK in the bottom row beside 0 */
#define KEY_DEL 10
#define KEY_OK 11
#define N_KEYS 12

enum pad_word {
	WORD_NONE,
	WORD_WRONG,	 /* wrong credential (tries_left, maybe a wait) */
	WORD_WAIT,	 /* throttled: wait */
	WORD_LOCKED_OUT, /* the TPM's lockout, or erased */
	WORD_NOT_SENT,	 /* no daemon, a send error */
	WORD_FAILED,	 /* anything else the daemon refused */
};

struct tf_shell_pad {
	struct wlr_scene_tree *tree;
	struct wlr_scene_rect *bg, *title, *strip;
	struct wlr_scene_rect *key[N_KEYS];
	struct wlr_scene_rect *seg[10][7];
	struct wlr_scene_rect *dot[PAD_DOTS];
	struct wlr_scene_tree *text; /* the words, rebuilt at every arrange */
	int kx[N_KEYS], ky[N_KEYS], kw, kh; /* where the keys are, for taps */
	char *pin; /* secure memory, TF_SHELL_PIN_MAX bytes, NUL-ended */
	size_t len;
	/* the last answer, as the pad says it */
	enum pad_word word;
	int tries_left;		/* -1: not said */
	uint64_t wait_until_us; /* 0: no wait (tf_shell_now_us clock) */
	struct wl_event_source *tick;
};

/* segments a..g (top, top right, bottom right, bottom, bottom left, top
 * left, middle) of each digit */
static const uint8_t digit_segs[10] = {
	0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f,
};

/* seconds still to wait, rounded up; 0: none */
static unsigned wait_left(const struct tf_shell_pad *pd)
{
	uint64_t now = tf_shell_now_us();

	if (!pd->wait_until_us || now >= pd->wait_until_us)
		return 0;
	return (unsigned)((pd->wait_until_us - now + 999999) / 1000000);
}

void tf_shell_pad_text(const struct tf_shell *s, char *buf, size_t cap)
{
	const struct tf_shell_pad *pd = s->pad;
	unsigned w;

	buf[0] = '\0';
	if (!pd || !s->pad_for)
		return;
	if (s->pad_state == TF_SHELL_PAD_CHECKING) {
		snprintf(buf, cap, "CHECKING");
		return;
	}
	if (s->pad_state != TF_SHELL_PAD_WRONG)
		return;
	w = wait_left(pd);
	switch (pd->word) {
	case WORD_WRONG:
	case WORD_WAIT:
		if (w)
			snprintf(buf, cap, "%sWAIT %u S",
				 pd->word == WORD_WRONG ? "WRONG PIN - " : "",
				 w);
		else if (pd->word == WORD_WAIT || pd->wait_until_us)
			snprintf(buf, cap, "TRY AGAIN");
		else if (pd->tries_left >= 0)
			snprintf(buf, cap, "WRONG PIN - %d TR%s LEFT",
				 pd->tries_left,
				 pd->tries_left == 1 ? "Y" : "IES");
		else
			snprintf(buf, cap, "WRONG PIN");
		break;
	case WORD_LOCKED_OUT: snprintf(buf, cap, "LOCKED OUT"); break;
	case WORD_NOT_SENT: snprintf(buf, cap, "NO ANSWER - TRY AGAIN"); break;
	default: snprintf(buf, cap, "REFUSED"); break;
	}
}

/* the countdown: redrawn every second while there is a wait */
static int on_tick(void *data)
{
	struct tf_shell *s = data;
	struct tf_shell_pad *pd = s->pad;

	if (!pd || !s->pad_for || !pd->wait_until_us)
		return 0;
	tf_shell_pad_arrange(s);
	if (wait_left(pd))
		wl_event_source_timer_update(pd->tick, 1000);
	return 0;
}

int tf_shell_pad_init(struct tf_shell *s)
{
	struct tf_shell_pad *pd = calloc(1, sizeof(*pd));

	if (!pd)
		return -ENOMEM;
	s->pad = pd;
	/* no secure memory (RLIMIT_MEMLOCK): the pad stays off and the
	 * display runs; unlocking is then `twofold unlock`'s alone */
	pd->pin = tf_secure_alloc(TF_SHELL_PIN_MAX);
	if (!pd->pin)
		fprintf(stderr,
			"twofold-shell: no locked memory for the PIN pad: %s; "
			"the pad is off (raise RLIMIT_MEMLOCK: ulimit -l)\n",
			strerror(errno));
	pd->tick = wl_event_loop_add_timer(s->loop, on_tick, s);
	if (!pd->tick)
		return -ENOMEM;
	pd->tree = wlr_scene_tree_create(&s->scene->node);
	if (!pd->tree)
		return -ENOMEM;
	if (!(pd->bg = tf_shell_rect(&pd->tree->node, TF_SHELL_RGB_LOCK)) ||
	    !(pd->title = tf_shell_rect(&pd->tree->node, TF_SHELL_RGB_BADGE)) ||
	    !(pd->strip = tf_shell_rect(&pd->tree->node, TF_SHELL_RGB_LOCK)))
		return -ENOMEM;
	for (int k = 0; k < N_KEYS; k++) {
		if (!(pd->key[k] = tf_shell_rect(&pd->tree->node,
						 TF_SHELL_RGB_PAD_KEY)))
			return -ENOMEM;
		for (int g = 0; k < 10 && g < 7; g++)
			if (!(pd->seg[k][g] = tf_shell_rect(
				      &pd->tree->node, TF_SHELL_RGB_PAD_INK)))
				return -ENOMEM;
	}
	for (int i = 0; i < PAD_DOTS; i++)
		if (!(pd->dot[i] = tf_shell_rect(&pd->tree->node,
						 TF_SHELL_RGB_PAD_INK)))
			return -ENOMEM;
	wlr_scene_node_set_enabled(&pd->tree->node, false);
	return 0;
}

void tf_shell_pad_fini(struct tf_shell *s)
{
	if (!s->pad)
		return;
	tf_secure_free(s->pad->pin); /* zeroes */
	if (s->pad->tick)
		wl_event_source_remove(s->pad->tick);
	free(s->pad);
	s->pad = NULL;
}

static void wipe(struct tf_shell_pad *pd)
{
	if (pd->pin)
		tf_memzero(pd->pin, TF_SHELL_PIN_MAX);
	pd->len = 0;
}

static void seg_place(struct wlr_scene_rect *seg[7], uint8_t on, int x, int y,
		      int w, int h, int t)
{
	const int hh = h / 2;
	const int box[7][4] = {
		{0, 0, w, t},		/* a */
		{w - t, 0, t, hh},	/* b */
		{w - t, hh, t, h - hh}, /* c */
		{0, h - t, w, t},	/* d */
		{0, hh, t, h - hh},	/* e */
		{0, 0, t, hh},		/* f */
		{0, hh - t / 2, w, t},	/* g */
	};

	for (int g = 0; g < 7; g++) {
		tf_shell_place(seg[g], x + box[g][0], y + box[g][1], box[g][2],
			       box[g][3]);
		wlr_scene_node_set_enabled(&seg[g]->node, (on >> g) & 1);
	}
}

/* px so that n glyphs fit in w and 7 px in h */
static int fit_px(size_t n, int w, int h)
{
	int px = n ? w / (6 * (int)n) : 2;

	if (px > h / 9)
		px = h / 9;
	return px < 2 ? 2 : px;
}

static void text_centered(struct wlr_scene_tree *t, const char *text, int x,
			  int y, int w, int h, uint32_t rgb)
{
	size_t n = strlen(text);
	int px = fit_px(n, w, h), tw = (int)n * 6 * px - px;

	tf_shell_text(t, text, n, x + (w - tw) / 2, y + (h - 7 * px) / 2,
		      tw + px, y + h, px, rgb);
}

/* the words: the persona's name above the strip, the daemon's answer in
 * it, DEL and OK on their keys */
static void draw_words(struct tf_shell *s, int x, int sy, int w, int sh)
{
	struct tf_shell_pad *pd = s->pad;
	int top = TF_SHELL_BAR_H + TF_SHELL_FRAME * 2;
	char buf[64];

	if (pd->text)
		wlr_scene_node_destroy(&pd->text->node);
	pd->text = wlr_scene_tree_create(&pd->tree->node);
	if (!pd->text)
		return;
	snprintf(buf, sizeof(buf), "UNLOCK %s", s->pad_for->name);
	for (char *q = buf; *q; q++)
		*q = (char)toupper((unsigned char)*q);
	if (sy - top > 8)
		text_centered(pd->text, buf, x, top, w, sy - top,
			      TF_SHELL_RGB_PAD_TEXT);
	tf_shell_pad_text(s, buf, sizeof(buf));
	if (buf[0])
		text_centered(pd->text, buf, x, sy, w, sh,
			      TF_SHELL_RGB_PAD_TEXT);
	text_centered(pd->text, "DEL", pd->kx[KEY_DEL], pd->ky[KEY_DEL], pd->kw,
		      pd->kh / 2, TF_SHELL_RGB_PAD_INK);
	text_centered(pd->text, "OK", pd->kx[KEY_OK], pd->ky[KEY_OK], pd->kw,
		      pd->kh / 2, TF_SHELL_RGB_PAD_INK);
}

bool tf_shell_pad_tap(struct tf_shell *s, double x, double y)
{
	struct tf_shell_pad *pd = s->pad;

	if (!pd || !s->pad_for)
		return false;
	for (int k = 0; k < N_KEYS; k++)
		if (x >= pd->kx[k] && x < pd->kx[k] + pd->kw &&
		    y >= pd->ky[k] && y < pd->ky[k] + pd->kh) {
			tf_shell_pad_key(
				s, k == KEY_DEL	 ? XKB_KEY_BackSpace
				   : k == KEY_OK ? XKB_KEY_Return
						 : (uint32_t)(XKB_KEY_0 + k));
			return true;
		}
	return false;
}

/* Everything proportional to the output: one layout for a phone and a
 * desktop screen; the whole area under the bar is the pad's. */
void tf_shell_pad_arrange(struct tf_shell *s)
{
	struct tf_shell_pad *pd = s->pad;
	int W = s->width, H = s->height, top = TF_SHELL_BAR_H;
	int kw = W * 2 / 9, kh = kw * 3 / 4, gap = W / 18;
	int gx = (W - 3 * kw - 2 * gap) / 2, gy = top + (H - top) / 3;
	int dw = kw * 3 / 10, dh = kh * 2 / 3, t = kw / 20 > 2 ? kw / 20 : 2;
	int dot = W / 30 > 4 ? W / 30 : 4;
	uint32_t strip;

	if (!pd)
		return;
	wlr_scene_node_set_enabled(&pd->tree->node, s->pad_for != NULL);
	if (!s->pad_for)
		return;
	tf_shell_place(pd->bg, 0, top, W, H - top);
	/* the trusted colour: the pad is the shell's, as the badge is */
	tf_shell_place(pd->title, 0, top, W, TF_SHELL_FRAME * 2);
	strip = s->pad_state == TF_SHELL_PAD_WRONG	? TF_SHELL_RGB_PAD_WRONG
		: s->pad_state == TF_SHELL_PAD_CHECKING ? TF_SHELL_RGB_PAD_BUSY
							: TF_SHELL_RGB_LOCK;
	{
		float col[4] = {
			(float)((strip >> 16) & 0xff) / 255.0f,
			(float)((strip >> 8) & 0xff) / 255.0f,
			(float)(strip & 0xff) / 255.0f,
			1.0f,
		};
		wlr_scene_rect_set_color(pd->strip, col);
	}
	tf_shell_place(pd->strip, gx, top + (H - top) / 12, 3 * kw + 2 * gap,
		       dot * 2);
	for (int i = 0; i < PAD_DOTS; i++) {
		int n = (int)(pd->len < PAD_DOTS ? pd->len : PAD_DOTS);
		int x0 = (W - n * dot * 2 + dot) / 2;

		tf_shell_place(pd->dot[i], x0 + i * dot * 2,
			       top + (H - top) / 6, dot, dot);
		wlr_scene_node_set_enabled(&pd->dot[i]->node, i < n);
	}
	pd->kw = kw;
	pd->kh = kh;
	for (int k = 0; k < N_KEYS; k++) {
		/* 1..9 in three rows, DEL 0 OK under them */
		int col = k == 0	 ? 1
			  : k == KEY_DEL ? 0
			  : k == KEY_OK	 ? 2
					 : (k - 1) % 3,
		    row = k == 0 || k >= 10 ? 3 : (k - 1) / 3;
		int x = gx + col * (kw + gap), y = gy + row * (kh + gap / 2);

		pd->kx[k] = x;
		pd->ky[k] = y;
		tf_shell_place(pd->key[k], x, y, kw, kh);
		if (k < 10)
			seg_place(pd->seg[k], digit_segs[k], x + (kw - dw) / 2,
				  y + (kh - dh) / 2, dw, dh, t);
	}
	draw_words(s, gx, top + (H - top) / 12, 3 * kw + 2 * gap, dot * 2);
}

void tf_shell_pad_open(struct tf_shell *s, struct tf_shell_persona *p)
{
	if (!s->pad || !s->pad->pin) {
		fprintf(stderr,
			"twofold-shell: %s is locked and the pad is off: "
			"unlock it with twofold unlock %s\n",
			p->name, p->name);
		return;
	}
	wipe(s->pad);
	s->pad_for = p;
	s->pad_state = TF_SHELL_PAD_TYPING;
	s->pad_msg[0] = '\0';
	s->pad->word = WORD_NONE;
	s->pad->wait_until_us = 0;
	fprintf(stderr, "twofold-shell: unlock pad for %s\n", p->name);
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
}

void tf_shell_pad_close(struct tf_shell *s)
{
	if (!s->pad_for)
		return;
	wipe(s->pad);
	s->pad_for = NULL;
	s->pad_state = TF_SHELL_PAD_TYPING;
	tf_shell_arrange(s);
	tf_shell_focus_update(s);
}

static void submit(struct tf_shell *s)
{
	struct tf_shell_pad *pd = s->pad;
	int r;

	if (pd->len == 0)
		return;
	pd->pin[pd->len] = '\0';
	r = tf_shell_request_unlock(s, s->pad_for, pd->pin);
	wipe(pd);
	if (r < 0) {
		s->pad_state = TF_SHELL_PAD_WRONG;
		pd->word = WORD_NOT_SENT;
		pd->wait_until_us = 0;
		snprintf(s->pad_msg, sizeof(s->pad_msg), "not sent: %s",
			 strerror(-r));
		return;
	}
	s->pad_state = TF_SHELL_PAD_CHECKING;
}

void tf_shell_pad_key(struct tf_shell *s, uint32_t sym)
{
	struct tf_shell_pad *pd = s->pad;

	if (!s->pad_for || s->pad_state == TF_SHELL_PAD_CHECKING)
		return;
	if (sym >= XKB_KEY_KP_0 && sym <= XKB_KEY_KP_9)
		sym = XKB_KEY_0 + (sym - XKB_KEY_KP_0);
	if (sym == XKB_KEY_Escape) {
		fprintf(stderr, "twofold-shell: unlock pad closed\n");
		tf_shell_pad_close(s);
		return;
	}
	if (sym == XKB_KEY_Return || sym == XKB_KEY_KP_Enter)
		submit(s);
	else if (sym == XKB_KEY_BackSpace && pd->len > 0)
		pd->pin[--pd->len] = '\0';
	else if (sym >= 0x20 && sym <= 0x7e && pd->len + 1 < TF_SHELL_PIN_MAX) {
		/* printable ASCII keysyms are their own code: a passphrase
		 * works as a PIN does */
		/* a wait still running stays on screen while typing */
		if (s->pad_state == TF_SHELL_PAD_WRONG && !wait_left(pd)) {
			s->pad_state = TF_SHELL_PAD_TYPING;
			s->pad_msg[0] = '\0';
		}
		pd->pin[pd->len++] = (char)sym;
	}
	tf_shell_pad_arrange(s);
}

void tf_shell_pad_answer(struct tf_shell *s, int err, const char *msg,
			 const char *reason, int wait_s, int tries_left)
{
	struct tf_shell_persona *p = s->pad_for;
	struct tf_shell_pad *pd = s->pad;

	if (!p)
		return;
	if (err == 0) {
		fprintf(stderr, "twofold-shell: %s unlocked on the pad\n",
			p->name);
		tf_shell_pad_close(s);
		/* in front now: the daemon decides, asked at once */
		(void)tf_shell_daemon_switch(s, p);
		/* an urgent alert waiting for this unlock: its body next */
		tf_shell_alert_unlocked(s, p);
		return;
	}
	s->pad_state = TF_SHELL_PAD_WRONG;
	/* drawn from the reason id and the numbers, not the message: the
	 * block font draws every byte of its own words */
	reason = reason ? reason : "";
	pd->word = err == -ENOTCONN				 ? WORD_NOT_SENT
		   : strcmp(reason, "credential.wrong") == 0	 ? WORD_WRONG
		   : strcmp(reason, "credential.throttled") == 0 ? WORD_WAIT
		   : strcmp(reason, "tpm.lockout") == 0 ||
				   strcmp(reason, "persona.erased") == 0
			   ? WORD_LOCKED_OUT
			   : WORD_FAILED;
	pd->tries_left = tries_left;
	pd->wait_until_us =
		wait_s > 0 ? tf_shell_now_us() + (uint64_t)wait_s * 1000000u
			   : 0;
	if (pd->wait_until_us)
		wl_event_source_timer_update(pd->tick, 1000);
	/* the daemon's message: what failed and the wait, never the PIN */
	snprintf(s->pad_msg, sizeof(s->pad_msg), "%s",
		 msg ? msg : strerror(-err));
	fprintf(stderr, "twofold-shell: unlock of %s on the pad refused: %s\n",
		p->name, s->pad_msg);
	tf_shell_pad_arrange(s);
}
