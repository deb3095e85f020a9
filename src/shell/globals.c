/* SPDX-License-Identifier: ISC */
/*
 * Which Wayland globals a client may see, by the socket it came through.
 * Default deny: a global missing here is hidden from every client, so a
 * protocol wlroots adds later (or one a library creates behind our back,
 * e.g. linux-dmabuf once a GPU renderer is used) never reaches a persona
 * app by accident. docs/shell.md has the same table with the reasons.
 */
#include <string.h>

#include "shell.h"

/* what an ordinary app needs to show a window, take input and use its
 * own persona's clipboard */
static const char *const persona_globals[] = {
	"wl_compositor",
	"wl_subcompositor",
	"wl_shm",
	"wl_seat",
	"wl_output",
	"xdg_wm_base",
	"wl_data_device_manager", /* per persona: clipboard.c */
	"zxdg_output_manager_v1",
	"wp_viewporter",
	"wp_presentation",
};

/* the trusted tools of the host socket (grim, wl-paste, wtype): they read
 * every client's pixels and clipboard and inject input, which is exactly
 * why no persona client may bind them */
static const char *const host_only_globals[] = {
	"zwlr_screencopy_manager_v1",
	"zwlr_data_control_manager_v1",
	"zwp_virtual_keyboard_manager_v1",
	"zwlr_virtual_pointer_manager_v1",
};

static bool in_table(const char *const *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i], name) == 0)
			return true;
	return false;
}

bool tf_shell_global_allowed(enum tf_shell_origin origin, const char *interface)
{
	if (!interface)
		return false;
	if (in_table(persona_globals,
		     sizeof(persona_globals) / sizeof(persona_globals[0]),
		     interface))
		return true;
	return origin == TF_SHELL_ORIGIN_HOST &&
	       in_table(host_only_globals,
			sizeof(host_only_globals) /
				sizeof(host_only_globals[0]),
			interface);
}

bool tf_shell_cross_allowed(bool from_secure, bool to_secure)
{
	/* personal -> secure only: what enters secure is the officer's
	 * choice; what leaves it would be a leak (Qubes asks the same
	 * question per direction) */
	return !from_secure && to_secure;
}
