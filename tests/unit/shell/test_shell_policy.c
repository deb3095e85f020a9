/* SPDX-License-Identifier: ISC */
/* twofold-shell's two policy tables (src/shell/globals.c): which globals a
 * client may bind by origin, and which way a cross paste may go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../src/shell/shell.h"

static const char *const forbidden[] = {
	"zwlr_screencopy_manager_v1",
	"zwlr_data_control_manager_v1",
	"zwp_virtual_keyboard_manager_v1",
	"zwlr_virtual_pointer_manager_v1",
	"zwlr_export_dmabuf_manager_v1",
	"zwp_input_method_manager_v2",
	"zwp_text_input_manager_v3",
	"zwlr_gamma_control_manager_v1",
	"zwlr_output_manager_v1",
	"zwlr_layer_shell_v1",
	"zwlr_foreign_toplevel_manager_v1",
	"zwp_primary_selection_device_manager_v1",
	"zwp_linux_dmabuf_v1",
	"wl_drm",
	"ext_session_lock_manager_v1",
	"zwlr_input_inhibit_manager_v1",
	"something_new_v1",
	"",
};

static void test_persona_gets_app_globals(void **state)
{
	static const char *const app[] = {
		"wl_compositor",
		"wl_subcompositor",
		"wl_shm",
		"wl_seat",
		"wl_output",
		"xdg_wm_base",
		"wl_data_device_manager",
	};

	for (size_t i = 0; i < sizeof(app) / sizeof(app[0]); i++) {
		assert_true(tf_shell_global_allowed(TF_SHELL_ORIGIN_PERSONA,
						    app[i]));
		assert_true(
			tf_shell_global_allowed(TF_SHELL_ORIGIN_HOST, app[i]));
	}
}

static void test_persona_denied_the_rest(void **state)
{
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		assert_false(tf_shell_global_allowed(TF_SHELL_ORIGIN_PERSONA,
						     forbidden[i]));
	assert_false(tf_shell_global_allowed(TF_SHELL_ORIGIN_PERSONA, NULL));
	/* a prefix or a longer name of an allowed one is not allowed */
	assert_false(
		tf_shell_global_allowed(TF_SHELL_ORIGIN_PERSONA, "wl_shm_x"));
	assert_false(tf_shell_global_allowed(TF_SHELL_ORIGIN_PERSONA, "wl_"));
}

static void test_host_gets_trusted_tools_only(void **state)
{
	assert_true(tf_shell_global_allowed(TF_SHELL_ORIGIN_HOST,
					    "zwlr_screencopy_manager_v1"));
	assert_true(tf_shell_global_allowed(TF_SHELL_ORIGIN_HOST,
					    "zwlr_data_control_manager_v1"));
	assert_true(tf_shell_global_allowed(TF_SHELL_ORIGIN_HOST,
					    "zwp_virtual_keyboard_manager_v1"));
	assert_true(tf_shell_global_allowed(TF_SHELL_ORIGIN_HOST,
					    "zwlr_virtual_pointer_manager_v1"));
	/* default deny holds for the host too */
	assert_false(tf_shell_global_allowed(TF_SHELL_ORIGIN_HOST,
					     "zwlr_layer_shell_v1"));
	assert_false(tf_shell_global_allowed(TF_SHELL_ORIGIN_HOST,
					     "something_new_v1"));
}

static void test_cross_policy(void **state)
{
	assert_true(tf_shell_cross_allowed(false, true));
	assert_false(tf_shell_cross_allowed(true, false));
	assert_false(tf_shell_cross_allowed(true, true));
	assert_false(tf_shell_cross_allowed(false, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_persona_gets_app_globals),
		cmocka_unit_test(test_persona_denied_the_rest),
		cmocka_unit_test(test_host_gets_trusted_tools_only),
		cmocka_unit_test(test_cross_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
