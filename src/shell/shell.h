/* SPDX-License-Identifier: ISC */
/*
 * twofold-shell internals (issue 14): a wlroots 0.15 compositor that knows
 * which persona every client came from. docs/shell.md draws the design.
 */
#ifndef TF_SHELL_H
#define TF_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <wayland-server-core.h>

#define TF_SHELL_MAX_PERSONAS 4
#define TF_SHELL_NAME_MAX 32
/* a persona socket flood is cut off here; the other persona's socket and
 * the host socket are separate listeners and keep accepting */
#define TF_SHELL_MAX_CLIENTS 64
/* touch points followed at once (fingers) */
#define TF_SHELL_TOUCH_MAX 10
/* the most a cross-persona paste carries (Qubes' qrexec clipboard caps
 * at 64 KiB; text from a form or a message fits comfortably) */
#define TF_SHELL_CLIP_MAX (256u * 1024u)
#define TF_SHELL_CONTROL_MAX 256
/* ping.c: pings a client may leave unanswered in a row before it is
 * disconnected, and the default round (--ping-interval) */
#define TF_SHELL_PING_MISSES 3u
#define TF_SHELL_PING_MS 5000u

/* the reserved status bar strip and the trusted frame, in output pixels */
#define TF_SHELL_BAR_H 40
#define TF_SHELL_FRAME 8

/* 0xRRGGBB of what the shell draws; tests count these exact pixels */
#define TF_SHELL_RGB_BAR 0x202020u
#define TF_SHELL_RGB_BADGE 0xd01040u
#define TF_SHELL_RGB_LOCK 0x303848u
#define TF_SHELL_RGB_BG 0x000000u
/* the trusted PIN pad (pad.c): keys, their digits, the dots of what was
 * typed, and the strip that says a PIN was refused */
#define TF_SHELL_RGB_PAD_KEY 0x485068u
#define TF_SHELL_RGB_PAD_INK 0xf0f0f0u
#define TF_SHELL_RGB_PAD_WRONG 0xe02020u
#define TF_SHELL_RGB_PAD_BUSY 0xc0a000u
/* the urgent alert card (alert.c), its body's background and ink */
#define TF_SHELL_RGB_ALERT 0xff5000u
#define TF_SHELL_RGB_ALERT_BODY 0x281018u
#define TF_SHELL_RGB_ALERT_INK 0xfffff0u
/* a notification banner (banner.c), under the bar; its ink is the
 * alert's, a credential persona's has a band of the badge's colour */
#define TF_SHELL_RGB_BANNER 0x2050a0u
/* the pad's own words (what the daemon answered, the wait), in the block
 * font; a colour no other part of the shell draws, so tests can count it */
#define TF_SHELL_RGB_PAD_TEXT 0xfff8e0u
/* the longest PIN or passphrase the pad takes (config.h allows 64) */
#define TF_SHELL_PIN_MAX 64

enum tf_shell_layout { TF_SHELL_PHONE, TF_SHELL_DESKTOP };

/* where a client connected: its socket decides, nothing the client says */
enum tf_shell_origin { TF_SHELL_ORIGIN_PERSONA, TF_SHELL_ORIGIN_HOST };

/* globals.c: which globals a client of ORIGIN may see and bind (default
 * deny: a global not in the table is visible to nobody) */
bool tf_shell_global_allowed(enum tf_shell_origin origin,
			     const char *interface);
/* the policy of a cross-persona paste: from a persona of class
 * FROM_SECURE into one of TO_SECURE (personal -> secure only) */
bool tf_shell_cross_allowed(bool from_secure, bool to_secure);

struct wlr_data_source;
struct wlr_scene_tree;
struct wlr_scene_rect;
struct tf_shell;

/* one listening socket: a persona's or the host's */
struct tf_shell_listener {
	struct tf_shell *shell;
	struct tf_shell_persona *persona; /* NULL: the host socket */
	char path[108];
	int fd;
	struct wl_event_source *src;
	unsigned n_clients;
};

struct tf_shell_persona {
	struct tf_shell *shell;
	char name[TF_SHELL_NAME_MAX];
	bool secure; /* framed, badged, receives cross pastes */
	bool locked;
	uid_t uid;
	bool has_uid;
	/* the host uids its clients must have (SO_PEERCRED on accept) */
	uid_t uid_lo, uid_hi;
	bool has_range;
	struct tf_shell_listener listener;
	struct wlr_scene_tree *tree;  /* its windows */
	struct wlr_scene_rect *bg;    /* its area, under its windows */
	struct wlr_scene_tree *decor; /* the frame, above every client */
	struct wlr_scene_rect *frame[4];
	struct wlr_scene_rect *lockrect; /* the lock screen over its area */
	struct wlr_scene_rect *badge;	 /* in the bar */
	struct wl_list views;		 /* tf_shell_view.link, top first */
	/* this persona's clipboard: what its clients last set */
	struct wlr_data_source *selection;
	struct wl_listener selection_destroy;
	int ax, ay, aw, ah; /* where its windows go */
};

/* one accepted client and the tag its socket gave it */
struct tf_shell_client {
	struct wl_listener destroy;
	struct wl_client *client;
	struct tf_shell_listener *listener;
	struct wl_list link;		/* tf_shell.clients */
	unsigned ping_misses;		/* ping.c: rounds without a pong */
	struct wl_listener res_created; /* ping.c: its buffers checked */
};

struct tf_shell_view;
struct tf_shell_daemon;
struct tf_shell_pad;

enum tf_shell_pad_state {
	TF_SHELL_PAD_TYPING,
	TF_SHELL_PAD_CHECKING, /* sent to twofoldd, no answer yet */
	TF_SHELL_PAD_WRONG,    /* refused: wrong, or throttled */
};

enum tf_shell_alert_state {
	TF_SHELL_ALERT_NONE,
	TF_SHELL_ALERT_CARD,	 /* "SECURE - URGENT", no body */
	TF_SHELL_ALERT_FETCHING, /* unlocked, ALERT_BODY asked */
	TF_SHELL_ALERT_BODY,	 /* the body on screen */
};
struct tf_shell_alert;
struct tf_shell_banner;

struct tf_shell {
	struct wl_display *display;
	struct wl_event_loop *loop;
	struct wlr_backend *backend;
	struct wlr_renderer *renderer;
	struct wlr_allocator *allocator;
	struct wlr_scene *scene;
	struct wlr_output_layout *layout_out;
	struct wlr_output *output;
	struct wlr_scene_output *scene_output;
	struct wlr_xdg_shell *xdg_shell;
	struct wlr_seat *seat;
	struct wlr_cursor *cursor;

	enum tf_shell_layout layout;
	/* a switch's request to the present event of the first frame
	 * committed after it, and to that commit, in µs (bench/shell; the
	 * control socket's status says both) */
	uint64_t switch_t0, switch_t1, switch_us, switch_commit_us;
	uint32_t switch_seq;
	bool switch_wait_present, switch_committed;
	/* view.c: touch points followed (the shell's, or a client's with
	 * its surface's origin), and the headless test touch device */
	struct tf_shell_touch {
		bool used, shell;
		int32_t id;
		double ox, oy;
	} touches[TF_SHELL_TOUCH_MAX];
	struct wlr_input_device *touch_dev;
	/* view.c: an idle render of what a shell decision changed */
	struct wl_event_source *render_src;
	bool verbose; /* -v: wlroots' debug log, and the switch times */
	int width, height;
	struct tf_shell_persona personas[TF_SHELL_MAX_PERSONAS];
	size_t n_personas;
	struct tf_shell_persona *fg;
	struct tf_shell_listener host;
	struct wl_list clients; /* tf_shell_client.link */

	struct wlr_scene_tree *host_tree; /* host toplevels: never shown */
	struct wlr_scene_tree *bar_tree;  /* last child: above everything */
	struct wlr_scene_rect *bar;

	/* clipboard.c */
	struct tf_shell_persona *sel_persona; /* whose selection the seat has */
	struct tf_shell_persona *xfrom;	      /* the cross buffer's source */
	uint8_t *xbuf;
	size_t xlen;
	bool xready;
	int xfd;
	struct wl_event_source *xsrc;

	/* control socket (the daemon's link, next round) */
	char control_path[108];
	int control_fd;
	struct wl_event_source *control_src;

	/* daemon.c: the link to twofoldd (NULL without --daemon) */
	struct tf_shell_daemon *daemon;
	/* pad.c: the trusted unlock, shown for pad_for (NULL: not shown) */
	struct tf_shell_persona *pad_for;
	struct tf_shell_pad *pad;
	enum tf_shell_pad_state pad_state;
	char pad_msg[128]; /* the daemon's answer to the last try */
	/* alert.c: the urgent alert card (id only) and, after unlock, its
	 * body */
	struct tf_shell_alert *alert;
	enum tf_shell_alert_state alert_state;
	struct tf_shell_persona *alert_for;
	char alert_id[40];
	/* banner.c: the notification banner; how long one stays */
	struct tf_shell_banner *banner;
	unsigned banner_s;
	bool banner_press; /* a press the banner took: its release too */

	/* ping.c */
	uint32_t ping_ms; /* 0: no pings */
	struct wl_event_source *ping_src;
	unsigned n_unresponsive;

	struct wl_listener new_output, output_frame, output_present;
	struct wl_listener new_input, new_xdg_surface;
	struct wl_listener new_vkbd, new_vptr, request_set_selection;
	struct wl_listener request_start_drag;
	struct wl_listener cursor_motion, cursor_motion_abs, cursor_button;
	struct wl_listener cursor_axis, cursor_frame;
	struct wl_listener touch_down, touch_up, touch_motion, touch_cancel;
	struct wl_listener touch_frame;
	struct wl_listener kbd_grab_begin, ptr_grab_begin;
	struct wl_list keyboards;
};

struct wlr_scene_node;
/* view.c: a solid rectangle of colour 0xRRGGBB in parent (1x1 until
 * placed), and placing one (a negative size draws nothing) */
struct wlr_scene_rect *tf_shell_rect(struct wlr_scene_node *parent, uint32_t c);
void tf_shell_place(struct wlr_scene_rect *r, int x, int y, int w, int h);
/* sockets.c: a listening AF_UNIX socket (type SOCK_STREAM or
 * SOCK_SEQPACKET) at path, 0600 from its bind, chowned to uid if asked;
 * a stale socket there is replaced, anything else refused (-EEXIST).
 * The fd (non-blocking, close-on-exec) or -errno. */
int tf_shell_unix_listen(const char *path, int type, int backlog, uid_t uid,
			 bool chown_to);
/* remove src, close fd and unlink path (fd -1: nothing to do) */
void tf_shell_unix_close(struct wl_event_source **src, int *fd,
			 const char *path);
int tf_shell_listen(struct tf_shell_listener *l, const char *path, uid_t uid,
		    bool chown_to);
void tf_shell_listener_close(struct tf_shell_listener *l);
void tf_shell_install_filter(struct tf_shell *s);
/* the listener a client came through, NULL for one we did not accept */
struct tf_shell_listener *tf_shell_client_origin(struct wl_client *c);
struct tf_shell_persona *tf_shell_client_persona(struct wl_client *c);

/* clipboard.c */
void tf_shell_clip_request_set(struct wl_listener *l, void *data);
void tf_shell_clip_request_drag(struct wl_listener *l, void *data);
void tf_shell_clip_focus(struct tf_shell *s, struct tf_shell_persona *p);
int tf_shell_clip_cross_copy(struct tf_shell *s);
int tf_shell_clip_cross_paste(struct tf_shell *s);
/* twofoldd's answer to tf_shell_request_cross (to NULL: the copy half) */
void tf_shell_clip_cross_answer(struct tf_shell *s,
				struct tf_shell_persona *from,
				struct tf_shell_persona *to, bool allowed);
void tf_shell_clip_fini(struct tf_shell *s);

/* view.c */
uint64_t tf_shell_now_us(void);
int tf_shell_server_init(struct tf_shell *s);
void tf_shell_arrange(struct tf_shell *s);
/* render and commit at once (from an idle callback) unless a frame is
 * pending on the output; tf_shell_arrange calls it */
void tf_shell_render_soon(struct tf_shell *s);
/* control socket `touch down|motion|up ID X Y` (headless only: a touch
 * device of the headless backend, its events raised here); -EOPNOTSUPP
 * on another backend */
int tf_shell_touch_inject(struct tf_shell *s, const char *what, int32_t id,
			  int x, int y);
void tf_shell_focus_update(struct tf_shell *s);
int tf_shell_switch(struct tf_shell *s, const char *name);
int tf_shell_switch_next(struct tf_shell *s);
int tf_shell_set_locked(struct tf_shell *s, const char *name, bool locked);
struct tf_shell_persona *tf_shell_persona_by_name(struct tf_shell *s,
						  const char *name);

/* daemon.c: with --daemon, twofoldd's state is the truth: foreground and
 * lock follow its events; switch asks it (a locked target opens the pad
 * instead), unlock sends the pad's PIN, idle locks the credential
 * personas. Without it, the round-1 local behaviour. */
int tf_shell_daemon_init(struct tf_shell *s, const char *path);
void tf_shell_daemon_fini(struct tf_shell *s);
bool tf_shell_daemon_active(const struct tf_shell *s);
int tf_shell_request_switch(struct tf_shell *s, struct tf_shell_persona *p);
/* SWITCH p, asked of the daemon whatever the shell thinks of p */
int tf_shell_daemon_switch(struct tf_shell *s, struct tf_shell_persona *p);
/* sends pin[0..len) (NUL-terminated in secure memory) as UNLOCK of p */
int tf_shell_request_unlock(struct tf_shell *s, struct tf_shell_persona *p,
			    const char *pin);
void tf_shell_activity(struct tf_shell *s); /* input: the idle timer */
const char *tf_shell_daemon_state(const struct tf_shell *s);

/* pad.c: the PIN pad, drawn by the shell (no client is involved); keys
 * reach it, never a client, while it is shown */
int tf_shell_pad_init(struct tf_shell *s);
void tf_shell_pad_fini(struct tf_shell *s);
void tf_shell_pad_open(struct tf_shell *s, struct tf_shell_persona *p);
void tf_shell_pad_close(struct tf_shell *s);
void tf_shell_pad_arrange(struct tf_shell *s);
/* a key while the pad is shown (consumed, whatever it is) */
void tf_shell_pad_key(struct tf_shell *s, uint32_t sym);
/* the daemon's answer to the pad's UNLOCK (err 0: unlocked): its message
 * (for the log), its reason id and its wait_s and tries_left parameters
 * (-1: absent), which are what the pad draws */
void tf_shell_pad_answer(struct tf_shell *s, int err, const char *msg,
			 const char *reason, int wait_s, int tries_left);
/* a pointer press at output (x, y) while the pad is shown: the key there,
 * as if typed (false: no key there) */
bool tf_shell_pad_tap(struct tf_shell *s, double x, double y);
/* what the pad says now ("" while typing), for the control status */
void tf_shell_pad_text(const struct tf_shell *s, char *buf, size_t cap);

/* alert.c: the urgent alert card and body, drawn by the shell above
 * every persona and the pad; keys reach it, never a client, while shown */
int tf_shell_alert_init(struct tf_shell *s);
void tf_shell_alert_fini(struct tf_shell *s);
void tf_shell_alert_arrange(struct tf_shell *s);
bool tf_shell_alert_shown(const struct tf_shell *s);
void tf_shell_alert_show(struct tf_shell *s, struct tf_shell_persona *p,
			 const char *id);
void tf_shell_alert_key(struct tf_shell *s, uint32_t sym);
void tf_shell_alert_tap(struct tf_shell *s); /* a pointer press */
/* p was unlocked on the pad / locked again (the body goes) */
void tf_shell_alert_unlocked(struct tf_shell *s, struct tf_shell_persona *p);
void tf_shell_alert_locked(struct tf_shell *s, struct tf_shell_persona *p);
/* the daemon's answer to ALERT_BODY: TEXT "ID\nTITLE\nBODY" */
void tf_shell_alert_answer(struct tf_shell *s, int err, const char *text);
size_t tf_shell_alert_body_len(const struct tf_shell *s);
/* daemon.c: CROSS_COPY_AUDIT from -> to (NULL: the copy half, may from
 * paste anywhere), len bytes; the verdict comes back through
 * tf_shell_clip_cross_answer (refused if the link is lost meanwhile) */
int tf_shell_request_cross(struct tf_shell *s, struct tf_shell_persona *from,
			   struct tf_shell_persona *to, size_t len);
/* daemon.c: ALERT_BODY of p (answered only while p runs) */
int tf_shell_request_alert_body(struct tf_shell *s, struct tf_shell_persona *p);

/* alert.c: text in the shell's 5x7 block font of solid rectangles of
 * colour ink, px screen pixels a font pixel, at (x, y), wrapped at width
 * w, cut at bottom; the height used */
int tf_shell_text(struct wlr_scene_tree *t, const char *text, size_t len, int x,
		  int y, int w, int bottom, int px, uint32_t ink);

/* banner.c: notification banners, drawn by the shell under the bar. event:
 * the daemon's "notify NAME id N"; answer: its NOTIFY_GET reply; key and
 * tap: true when the banner took them; update after a foreground or lock
 * change; status: " banner=..." for the control socket */
int tf_shell_banner_init(struct tf_shell *s);
void tf_shell_banner_fini(struct tf_shell *s);
void tf_shell_banner_arrange(struct tf_shell *s);
bool tf_shell_banner_shown(const struct tf_shell *s);
void tf_shell_banner_event(struct tf_shell *s, struct tf_shell_persona *p,
			   uint32_t id);
void tf_shell_banner_answer(struct tf_shell *s, struct tf_shell_persona *p,
			    uint32_t id, int err, const char *text);
bool tf_shell_banner_key(struct tf_shell *s, uint32_t sym);
bool tf_shell_banner_tap(struct tf_shell *s, double x, double y);
void tf_shell_banner_update(struct tf_shell *s);
int tf_shell_banner_status(const struct tf_shell *s, char *out, size_t cap);
/* daemon.c: NOTIFY_GET of p's notification id */
int tf_shell_request_notify(struct tf_shell *s, struct tf_shell_persona *p,
			    uint32_t id);

/* ping.c: the ping rounds (after tf_shell_server_init) */
int tf_shell_ping_init(struct tf_shell *s);
void tf_shell_ping_fini(struct tf_shell *s);
/* every shm buffer c makes is checked (a stride under a row: dropped) */
void tf_shell_watch_buffers(struct tf_shell_client *c);

/* control.c */
int tf_shell_control_listen(struct tf_shell *s, const char *path);
void tf_shell_control_close(struct tf_shell *s);

#endif
