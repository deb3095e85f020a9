/* SPDX-License-Identifier: ISC */
/*
 * A small Wayland client for the twofold-shell tests, on WAYLAND_DISPLAY
 * (an absolute socket path):
 *
 *   shellclient globals            the globals this client is offered
 *   shellclient guess IFACE        try to bind IFACE under every global
 *                                  name 1..64 (exit 0 if one bound)
 *   shellclient window RRGGBB [--sub RRGGBB [X Y] | --size W H |
 *                              --copy-on-leave TEXT | --grab-on-leave]
 *                                  a toplevel filled with one colour (and a
 *                                  300x60 subsurface at X,Y, default 0,-60:
 *                                  pushed up into the bar strip);
 *                                  prints "configure W H", "enter",
 *                                  "leave", "key CODE STATE", "touch"
 *                                  (the seat has touch), "touch down ID X
 *                                  Y", "touch motion ID X Y", "touch up
 *                                  ID", "touch cancel" as they come;
 *                                  --copy-on-leave: on losing focus, set
 *                                  TEXT as the selection (with the serial
 *                                  of its last focus); --grab-on-leave: on
 *                                  losing focus, open a popup with a grab
 *   shellclient frames N           a toplevel committing N frames, each on
 *                                  the last one's frame callback; prints
 *                                  "frames N median_us p99_us" of commit to
 *                                  frame-done (bench/shell)
 *   shellclient tap W H X Y [X Y ...]
 *                                  on the host socket: a virtual pointer
 *                                  (zwlr_virtual_pointer_v1) pressing and
 *                                  releasing the left button at each X,Y
 *                                  of a W x H output
 *   shellclient badbuf [size|stride|pool]
 *                                  bad input (the shell drops this client
 *                                  and nothing else): size, a buffer larger
 *                                  than its 4 KiB pool; stride, a stride
 *                                  under width * 4; pool, a 2 GiB pool on a
 *                                  4 KiB file and a 64 MiB buffer in it,
 *                                  attached and committed (the reads past
 *                                  the file's end fault in the server)
 *   shellclient window ... --no-pong
 *                                  never answers xdg_wm_base.ping (prints
 *                                  "ping" for each)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

struct st {
	struct wl_data_device_manager *ddm;
	const char *copy_on_leave;
	bool grab_on_leave;
	bool copy_on_leave_done;
	uint32_t enter_serial;
	struct wl_compositor *comp;
	struct wl_subcompositor *subcomp;
	struct wl_shm *shm;
	struct wl_seat *seat;
	struct xdg_wm_base *wm;
	struct wl_keyboard *kbd;
	struct wl_touch *touch;
	struct wl_surface *surf, *subsurf_s;
	struct xdg_surface *xsurf;
	struct xdg_toplevel *top;
	uint32_t color, subcolor;
	int sub_x, sub_y;
	int fixed_w, fixed_h;
	bool sub;
	bool list;
	int frames, done;
	uint64_t t_commit;
	uint64_t *lat;
	struct wl_buffer *bufs[2];
	int w, h;
};

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* shared memory for a wl_shm pool: a memfd, else (a gated persona's W^X
 * answers memfd_create with ENOSYS) an unlinked file in XDG_RUNTIME_DIR,
 * as libwayland and GTK fall back */
static int anon_fd(const char *name)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	char path[512];
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd >= 0 || errno != ENOSYS)
		return fd;
	snprintf(path, sizeof(path), "%s/%s-XXXXXX", dir ? dir : "/tmp", name);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static struct wl_buffer *solid(struct st *s, int w, int h, uint32_t rgb)
{
	size_t size = (size_t)w * (size_t)h * 4;
	int fd = anon_fd("shellclient");
	uint32_t *px;
	struct wl_shm_pool *pool;
	struct wl_buffer *b;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		exit(3);
	px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (px == MAP_FAILED)
		exit(3);
	for (size_t i = 0; i < size / 4; i++)
		px[i] = 0xff000000u | rgb;
	munmap(px, size);
	pool = wl_shm_create_pool(s->shm, fd, (int32_t)size);
	b = wl_shm_pool_create_buffer(pool, 0, w, h, w * 4,
				      WL_SHM_FORMAT_XRGB8888);
	wl_shm_pool_destroy(pool);
	close(fd);
	return b;
}

static void kb_keymap(void *d, struct wl_keyboard *k, uint32_t f, int32_t fd,
		      uint32_t sz)
{
	close(fd);
}
static void kb_enter(void *d, struct wl_keyboard *k, uint32_t serial,
		     struct wl_surface *surf, struct wl_array *keys)
{
	struct st *s = d;

	s->enter_serial = serial;
	out("enter\n");
}

static void src_target(void *d, struct wl_data_source *src, const char *mime)
{
}
static void src_send(void *d, struct wl_data_source *src, const char *mime,
		     int32_t fd)
{
	struct st *s = d;

	if (write(fd, s->copy_on_leave, strlen(s->copy_on_leave)) < 0)
		out("send failed\n");
	close(fd);
}
static void src_cancelled(void *d, struct wl_data_source *src)
{
	wl_data_source_destroy(src);
	out("cancelled\n");
}
static const struct wl_data_source_listener src_l = {
	.target = src_target,
	.send = src_send,
	.cancelled = src_cancelled,
};

/* set a selection just after losing focus, with the serial of the focus
 * it had: a background client trying to fill the clipboard of whoever is
 * in front now */
static void copy_in_background(struct st *s)
{
	struct wl_data_device *dev;
	struct wl_data_source *src;

	if (!s->copy_on_leave || !s->ddm || !s->seat)
		return;
	dev = wl_data_device_manager_get_data_device(s->ddm, s->seat);
	src = wl_data_device_manager_create_data_source(s->ddm);
	wl_data_source_add_listener(src, &src_l, s);
	wl_data_source_offer(src, "text/plain;charset=utf-8");
	wl_data_source_offer(src, "text/plain");
	wl_data_device_set_selection(dev, src, s->enter_serial);
	out("copied in background\n");
	s->copy_on_leave_done = true;
}
/* a popup with a grab, from a client that just lost focus: xdg_popup.grab
 * takes a serial that wlroots 0.15 does not check */
static void grab_in_background(struct st *s)
{
	struct xdg_positioner *pos = xdg_wm_base_create_positioner(s->wm);
	struct wl_surface *ps = wl_compositor_create_surface(s->comp);
	struct xdg_surface *pxs = xdg_wm_base_get_xdg_surface(s->wm, ps);
	struct xdg_popup *popup;

	s->grab_on_leave = false;
	xdg_positioner_set_size(pos, 10, 10);
	xdg_positioner_set_anchor_rect(pos, 0, 0, 1, 1);
	popup = xdg_surface_get_popup(pxs, s->xsurf, pos);
	xdg_popup_grab(popup, s->seat, s->enter_serial);
	wl_surface_commit(ps);
	out("grabbed in background\n");
}

static void kb_leave(void *d, struct wl_keyboard *k, uint32_t serial,
		     struct wl_surface *surf)
{
	struct st *s = d;

	out("leave\n");
	if (!s->copy_on_leave_done)
		copy_in_background(s);
	if (s->grab_on_leave)
		grab_in_background(s);
}
static void kb_key(void *d, struct wl_keyboard *k, uint32_t serial,
		   uint32_t time, uint32_t key, uint32_t state)
{
	out("key %u %u\n", key, state);
}
static void kb_mods(void *d, struct wl_keyboard *k, uint32_t serial,
		    uint32_t dep, uint32_t lat, uint32_t lock, uint32_t grp)
{
}
static void kb_repeat(void *d, struct wl_keyboard *k, int32_t r, int32_t del)
{
}
static const struct wl_keyboard_listener kb_l = {
	kb_keymap, kb_enter, kb_leave, kb_key, kb_mods, kb_repeat,
};

static void t_down(void *d, struct wl_touch *t, uint32_t serial, uint32_t time,
		   struct wl_surface *surf, int32_t id, wl_fixed_t x,
		   wl_fixed_t y)
{
	out("touch down %d %d %d\n", id, wl_fixed_to_int(x),
	    wl_fixed_to_int(y));
}
static void t_up(void *d, struct wl_touch *t, uint32_t serial, uint32_t time,
		 int32_t id)
{
	out("touch up %d\n", id);
}
static void t_motion(void *d, struct wl_touch *t, uint32_t time, int32_t id,
		     wl_fixed_t x, wl_fixed_t y)
{
	out("touch motion %d %d %d\n", id, wl_fixed_to_int(x),
	    wl_fixed_to_int(y));
}
static void t_frame(void *d, struct wl_touch *t)
{
}
static void t_cancel(void *d, struct wl_touch *t)
{
	out("touch cancel\n");
}
static void t_shape(void *d, struct wl_touch *t, int32_t id, wl_fixed_t a,
		    wl_fixed_t b)
{
}
static void t_orient(void *d, struct wl_touch *t, int32_t id, wl_fixed_t o)
{
}
static const struct wl_touch_listener touch_l = {
	t_down, t_up, t_motion, t_frame, t_cancel, t_shape, t_orient,
};

static void seat_caps(void *d, struct wl_seat *seat, uint32_t caps)
{
	struct st *s = d;

	if ((caps & WL_SEAT_CAPABILITY_TOUCH) && !s->touch) {
		s->touch = wl_seat_get_touch(seat);
		wl_touch_add_listener(s->touch, &touch_l, s);
		out("touch\n");
	}

	if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && !s->kbd) {
		s->kbd = wl_seat_get_keyboard(seat);
		wl_keyboard_add_listener(s->kbd, &kb_l, s);
	}
}
static void seat_name(void *d, struct wl_seat *seat, const char *n)
{
}
static const struct wl_seat_listener seat_l = {seat_caps, seat_name};

static bool no_pong;
static void wm_ping(void *d, struct xdg_wm_base *wm, uint32_t serial)
{
	if (no_pong) {
		out("ping\n");
		return;
	}
	xdg_wm_base_pong(wm, serial);
}
static const struct xdg_wm_base_listener wm_l = {wm_ping};

static void reg_global(void *d, struct wl_registry *r, uint32_t name,
		       const char *iface, uint32_t ver)
{
	struct st *s = d;

	if (s->list)
		out("%s\n", iface);
	if (strcmp(iface, "wl_compositor") == 0)
		s->comp =
			wl_registry_bind(r, name, &wl_compositor_interface, 4);
	else if (strcmp(iface, "wl_subcompositor") == 0)
		s->subcomp = wl_registry_bind(r, name,
					      &wl_subcompositor_interface, 1);
	else if (strcmp(iface, "wl_data_device_manager") == 0)
		s->ddm = wl_registry_bind(r, name,
					  &wl_data_device_manager_interface, 1);
	else if (strcmp(iface, "wl_shm") == 0)
		s->shm = wl_registry_bind(r, name, &wl_shm_interface, 1);
	else if (strcmp(iface, "wl_seat") == 0) {
		s->seat = wl_registry_bind(r, name, &wl_seat_interface, 5);
		wl_seat_add_listener(s->seat, &seat_l, s);
	} else if (strcmp(iface, "xdg_wm_base") == 0) {
		s->wm = wl_registry_bind(r, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(s->wm, &wm_l, s);
	}
}
static void reg_remove(void *d, struct wl_registry *r, uint32_t name)
{
}
static const struct wl_registry_listener reg_l = {reg_global, reg_remove};

static void top_configure(void *d, struct xdg_toplevel *t, int32_t w, int32_t h,
			  struct wl_array *states)
{
	struct st *s = d;

	if (s->fixed_w > 0) {
		s->w = s->fixed_w;
		s->h = s->fixed_h;
	} else if (w > 0 && h > 0) {
		s->w = w;
		s->h = h;
	}
}
static void top_close(void *d, struct xdg_toplevel *t)
{
	exit(0);
}
static const struct xdg_toplevel_listener top_l = {
	.configure = top_configure,
	.close = top_close,
};

static void xs_configure(void *d, struct xdg_surface *xs, uint32_t serial)
{
	struct st *s = d;

	xdg_surface_ack_configure(xs, serial);
	/* the window is the main surface alone: without this wlroots takes
	 * the subsurfaces' bounding box and shifts the fake badge back down */
	if (s->sub)
		xdg_surface_set_window_geometry(xs, 0, 0, s->w, s->h);
	out("configure %d %d\n", s->w, s->h);
	wl_surface_attach(s->surf, solid(s, s->w, s->h, s->color), 0, 0);
	wl_surface_damage(s->surf, 0, 0, s->w, s->h);
	wl_surface_commit(s->surf);
}
static const struct xdg_surface_listener xs_l = {xs_configure};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void frame_commit(struct st *s);

static void frame_done(void *d, struct wl_callback *cb, uint32_t t)
{
	struct st *s = d;

	wl_callback_destroy(cb);
	s->lat[s->done++] = now_us() - s->t_commit;
	if (s->done < s->frames)
		frame_commit(s);
}
static const struct wl_callback_listener frame_l = {frame_done};

static void frame_commit(struct st *s)
{
	struct wl_callback *cb = wl_surface_frame(s->surf);

	wl_callback_add_listener(cb, &frame_l, s);
	wl_surface_attach(s->surf, s->bufs[s->done & 1], 0, 0);
	wl_surface_damage(s->surf, 0, 0, s->w, s->h);
	s->t_commit = now_us();
	wl_surface_commit(s->surf);
}

static void fr_configure(void *d, struct xdg_surface *xs, uint32_t serial)
{
	struct st *s = d;

	xdg_surface_ack_configure(xs, serial);
	if (s->bufs[0])
		return; /* one size for the whole run */
	s->bufs[0] = solid(s, s->w, s->h, 0x336699);
	s->bufs[1] = solid(s, s->w, s->h, 0x996633);
	frame_commit(s);
}
static const struct xdg_surface_listener fr_l = {fr_configure};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* try to bind IFACE as global NAME on a fresh connection: 0 if the
 * server accepted it (the filter failed to hide it) */
static int try_bind(const char *iface, uint32_t name)
{
	const struct wl_interface fake = {iface, 1, 0, NULL, 0, NULL};
	struct wl_display *d = wl_display_connect(NULL);
	struct wl_registry *r;
	int rc;

	if (!d)
		return -1;
	r = wl_display_get_registry(d);
	wl_registry_bind(r, name, &fake, 1);
	rc = wl_display_roundtrip(d) < 0 ? -1 : 0;
	wl_display_disconnect(d);
	return rc;
}

static void bad_configure(void *d, struct xdg_surface *xs, uint32_t serial)
{
	*(uint32_t *)d = serial;
}
static const struct xdg_surface_listener bad_xs_l = {bad_configure};

static int badbuf(const char *mode)
{
	uint32_t bad_serial = 0;
	struct st s = {0};
	struct wl_display *d = wl_display_connect(NULL);
	struct wl_registry *reg;
	struct wl_shm_pool *pool;
	struct wl_surface *surf;
	int fd = anon_fd("badbuf");

	if (!d || fd < 0 || ftruncate(fd, 4096) < 0)
		return 2;
	reg = wl_display_get_registry(d);
	wl_registry_add_listener(reg, &reg_l, &s);
	if (wl_display_roundtrip(d) < 0 || !s.shm || !s.comp)
		return 2;
	surf = wl_compositor_create_surface(s.comp);
	if (strcmp(mode, "stride") == 0) {
		/* 100 px wide, 100 bytes a row: under 4 bytes a pixel */
		if (ftruncate(fd, 65536) < 0)
			return 2;
		pool = wl_shm_create_pool(s.shm, fd, 65536);
		wl_surface_attach(
			surf,
			wl_shm_pool_create_buffer(pool, 0, 100, 100, 100,
						  WL_SHM_FORMAT_XRGB8888),
			0, 0);
	} else if (strcmp(mode, "pool") == 0) {
		/* a toplevel, configured first (the shell must draw it,
		 * so read its pixels), then a 2 GiB pool on a 4 KiB file
		 * and a 64 MiB buffer in it */
		struct xdg_surface *xs;

		if (!s.wm)
			return 2;
		xs = xdg_wm_base_get_xdg_surface(s.wm, surf);
		xdg_surface_add_listener(xs, &bad_xs_l, &bad_serial);
		xdg_surface_get_toplevel(xs);
		wl_surface_commit(surf);
		while (!bad_serial && wl_display_dispatch(d) >= 0)
			;
		xdg_surface_ack_configure(xs, bad_serial);
		pool = wl_shm_create_pool(s.shm, fd, 0x7fffffff);
		wl_surface_attach(
			surf,
			wl_shm_pool_create_buffer(pool, 0, 4096, 4096, 4096 * 4,
						  WL_SHM_FORMAT_XRGB8888),
			0, 0);
		wl_surface_damage(surf, 0, 0, 4096, 4096);
	} else {
		/* a 4 KiB pool and a 16384x16384 buffer in it */
		pool = wl_shm_create_pool(s.shm, fd, 4096);
		wl_surface_attach(surf,
				  wl_shm_pool_create_buffer(
					  pool, 0, 16384, 16384, 16384 * 4,
					  WL_SHM_FORMAT_XRGB8888),
				  0, 0);
	}
	wl_surface_commit(surf);
	/* twice: the frame that reads it comes after the first commit */
	if (wl_display_roundtrip(d) >= 0) {
		usleep(300000);
		wl_surface_commit(surf);
	}
	/* the server must answer with a protocol error, not crash */
	if (wl_display_roundtrip(d) >= 0)
		return 1;
	out("error %d\n", wl_display_get_error(d));
	return 0;
}

/* zwlr_virtual_pointer_manager_v1 and zwlr_virtual_pointer_v1, the
 * requests used here only, described by hand (no XML of wlr-protocols on
 * Debian 12): the manager's create_virtual_pointer (0: seat, new id), the
 * pointer's motion_absolute (1), button (2), frame (4), destroy (8). */
static const struct wl_interface vptr_iface;
static const struct wl_interface *vpm_create_types[] = {&wl_seat_interface,
							&vptr_iface};
static const struct wl_message vpm_requests[] = {
	{"create_virtual_pointer", "?on", vpm_create_types},
	{"destroy", "", NULL},
};
static const struct wl_interface vpm_iface = {
	"zwlr_virtual_pointer_manager_v1", 1, 2, vpm_requests, 0, NULL};
static const struct wl_interface *no_types[] = {NULL, NULL, NULL,
						NULL, NULL, NULL};
static const struct wl_message vptr_requests[] = {
	{"motion", "uff", no_types},   {"motion_absolute", "uuuuu", no_types},
	{"button", "uuu", no_types},   {"axis", "uuf", no_types},
	{"frame", "", NULL},	       {"axis_source", "u", no_types},
	{"axis_stop", "uu", no_types}, {"axis_discrete", "uufi", no_types},
	{"destroy", "", NULL},
};
static const struct wl_interface vptr_iface = {
	"zwlr_virtual_pointer_v1", 1, 9, vptr_requests, 0, NULL};

static struct wl_proxy *vpm;
static void tap_global(void *d, struct wl_registry *r, uint32_t name,
		       const char *iface, uint32_t ver)
{
	struct st *s = d;

	if (strcmp(iface, vpm_iface.name) == 0)
		vpm = wl_registry_bind(r, name, &vpm_iface, 1);
	else if (strcmp(iface, "wl_seat") == 0)
		s->seat = wl_registry_bind(r, name, &wl_seat_interface, 1);
}
static const struct wl_registry_listener tap_l = {tap_global, reg_remove};

static int tap(int argc, char **argv)
{
	struct st s = {0};
	struct wl_display *d = wl_display_connect(NULL);
	struct wl_proxy *p;
	uint32_t w, h, t = 1;

	if (!d || argc < 6 || (argc - 4) % 2) {
		fprintf(stderr, "shellclient: tap: %s\n",
			d ? "usage: tap W H X Y [X Y ...]" : strerror(errno));
		return 2;
	}
	w = (uint32_t)atoi(argv[2]);
	h = (uint32_t)atoi(argv[3]);
	wl_registry_add_listener(wl_display_get_registry(d), &tap_l, &s);
	if (wl_display_roundtrip(d) < 0 || !vpm || !s.seat) {
		fprintf(stderr, "shellclient: no virtual pointer here\n");
		return 1;
	}
	p = wl_proxy_marshal_constructor(vpm, 0, &vptr_iface, s.seat, NULL);
	for (int i = 4; i + 1 < argc; i += 2) {
		wl_proxy_marshal(p, 1, t++, (uint32_t)atoi(argv[i]),
				 (uint32_t)atoi(argv[i + 1]), w, h);
		wl_proxy_marshal(p, 4);
		wl_proxy_marshal(p, 2, t++, 0x110 /* BTN_LEFT */, 1);
		wl_proxy_marshal(p, 4);
		wl_proxy_marshal(p, 2, t++, 0x110, 0);
		wl_proxy_marshal(p, 4);
		if (wl_display_roundtrip(d) < 0)
			return 1;
		out("tap %s %s\n", argv[i], argv[i + 1]);
	}
	wl_proxy_marshal(p, 8);
	wl_proxy_destroy(p);
	return wl_display_roundtrip(d) < 0;
}

int main(int argc, char **argv)
{
	struct st s = {.w = 200, .h = 200};
	struct wl_display *d;
	struct wl_registry *reg;

	if (argc >= 3 && strcmp(argv[1], "guess") == 0) {
		for (uint32_t n = 1; n <= 64; n++)
			if (try_bind(argv[2], n) == 0) {
				out("bound %s as %u\n", argv[2], n);
				return 0;
			}
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "badbuf") == 0)
		return badbuf(argc >= 3 ? argv[2] : "size");
	for (int i = 3; i < argc; i++)
		if (strcmp(argv[i], "--no-pong") == 0)
			no_pong = true;
	if (argc >= 2 && strcmp(argv[1], "tap") == 0)
		return tap(argc, argv);
	d = wl_display_connect(NULL);
	if (!d) {
		fprintf(stderr, "shellclient: connect: %s\n", strerror(errno));
		return 2;
	}
	s.list = argc >= 2 && strcmp(argv[1], "globals") == 0;
	reg = wl_display_get_registry(d);
	wl_registry_add_listener(reg, &reg_l, &s);
	if (wl_display_roundtrip(d) < 0)
		return 2;
	if (s.list)
		return 0;
	if (argc >= 3 && strcmp(argv[1], "frames") == 0) {
		s.frames = atoi(argv[2]);
		if (s.frames < 1 || s.frames > 100000 || !s.comp || !s.shm ||
		    !s.wm)
			return 2;
		s.lat = calloc((size_t)s.frames, sizeof(*s.lat));
		if (!s.lat)
			return 2;
		s.surf = wl_compositor_create_surface(s.comp);
		s.xsurf = xdg_wm_base_get_xdg_surface(s.wm, s.surf);
		xdg_surface_add_listener(s.xsurf, &fr_l, &s);
		s.top = xdg_surface_get_toplevel(s.xsurf);
		xdg_toplevel_add_listener(s.top, &top_l, &s);
		wl_surface_commit(s.surf);
		while (s.done < s.frames && wl_display_dispatch(d) >= 0)
			;
		if (s.done < s.frames)
			return 1;
		qsort(s.lat, (size_t)s.frames, sizeof(*s.lat), cmp_u64);
		out("frames %d %llu %llu\n", s.frames,
		    (unsigned long long)s.lat[s.frames / 2],
		    (unsigned long long)s.lat[(size_t)s.frames * 99 / 100]);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "window") != 0) {
		fputs("usage: shellclient globals | guess IFACE | window "
		      "RRGGBB [--sub RRGGBB]\n",
		      stderr);
		return 2;
	}
	s.color = (uint32_t)strtoul(argv[2], NULL, 16);
	if (argc >= 5 && strcmp(argv[3], "--copy-on-leave") == 0)
		s.copy_on_leave = argv[4];
	if (argc >= 4 && strcmp(argv[3], "--grab-on-leave") == 0)
		s.grab_on_leave = true;
	if (argc >= 6 && strcmp(argv[3], "--size") == 0) {
		/* smaller than the shell asks: xdg-shell allows it */
		s.fixed_w = atoi(argv[4]);
		s.fixed_h = atoi(argv[5]);
		if (s.fixed_w < 1 || s.fixed_h < 1 || s.fixed_w > 4096 ||
		    s.fixed_h > 4096)
			return 2;
	}
	if (argc >= 5 && strcmp(argv[3], "--sub") == 0) {
		s.sub = true;
		s.subcolor = (uint32_t)strtoul(argv[4], NULL, 16);
		s.sub_y = -60;
		if (argc >= 7) {
			s.sub_x = atoi(argv[5]);
			s.sub_y = atoi(argv[6]);
		}
	}
	if (!s.comp || !s.shm || !s.wm)
		return 2;
	s.surf = wl_compositor_create_surface(s.comp);
	s.xsurf = xdg_wm_base_get_xdg_surface(s.wm, s.surf);
	xdg_surface_add_listener(s.xsurf, &xs_l, &s);
	s.top = xdg_surface_get_toplevel(s.xsurf);
	xdg_toplevel_add_listener(s.top, &top_l, &s);
	xdg_toplevel_set_title(s.top, "shellclient");
	if (s.sub && s.subcomp) {
		/* a fake badge: pushed up over the top edge, into where
		 * the shell's bar is */
		struct wl_subsurface *ss;

		s.subsurf_s = wl_compositor_create_surface(s.comp);
		ss = wl_subcompositor_get_subsurface(s.subcomp, s.subsurf_s,
						     s.surf);
		wl_subsurface_set_position(ss, s.sub_x, s.sub_y);
		wl_subsurface_set_desync(ss);
		wl_surface_attach(s.subsurf_s, solid(&s, 300, 60, s.subcolor),
				  0, 0);
		wl_surface_damage(s.subsurf_s, 0, 0, 300, 60);
		wl_surface_commit(s.subsurf_s);
	}
	wl_surface_commit(s.surf);
	while (wl_display_dispatch(d) >= 0)
		;
	return 0;
}
