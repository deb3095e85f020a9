/* SPDX-License-Identifier: ISC */
/*
 * struct tf_profile: the default is what the persona code did before
 * profiles (device list, writable paths, environment), device.conf maps
 * onto it, the merge rule never widens, and the container's /dev nodes and
 * the cgroup device rules are two views of one list.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include <cmocka.h>

#include "twofold/profile.h"

static void test_default_is_today(void **state)
{
	/* the tables the persona and sandbox modules used to keep */
	static const struct {
		const char *path;
		char type;
		uint32_t major, minor;
		bool bound;
	} devs[] = {
		{"/dev/null", 'c', 1, 3, true},
		{"/dev/zero", 'c', 1, 5, true},
		{"/dev/full", 'c', 1, 7, true},
		{"/dev/random", 'c', 1, 8, true},
		{"/dev/urandom", 'c', 1, 9, true},
		{"/dev/tty", 'c', 5, 0, true},
		{"/dev/ptmx", 'c', 5, 2, false},
		{"/dev/pts", 'c', 136, TF_CG_DEV_ANY, false},
	};
	static const char *const writable[] = {"/home",	     "/tmp",	 "/var",
					       "/run",	     "/dev/shm", "/dev",
					       "/dev/mqueue"};
	static const char *const env[] = {
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:"
		"/sbin",
		"HOME=/home/app",
		"LANG=C.UTF-8",
	};
	static const char *const binds[] = {"home", "var", "tmp", "run"};
	struct tf_profile p;

	tf_profile_default(&p);
	assert_int_equal(tf_profile_check(&p, NULL, 0), 0);
	assert_int_equal(p.n_devs, TF_ARRAY_SIZE(devs));
	for (size_t i = 0; i < TF_ARRAY_SIZE(devs); i++) {
		assert_string_equal(p.devs[i].path, devs[i].path);
		assert_int_equal(p.devs[i].type, devs[i].type);
		assert_int_equal(p.devs[i].major, devs[i].major);
		assert_int_equal(p.devs[i].minor, devs[i].minor);
		assert_int_equal(!!(p.devs[i].flags & TF_PROF_DEV_BIND),
				 devs[i].bound);
		assert_false(p.devs[i].flags & TF_PROF_DEV_FOREGROUND);
	}
	assert_int_equal(p.n_writable, TF_ARRAY_SIZE(writable));
	for (size_t i = 0; i < TF_ARRAY_SIZE(writable); i++)
		assert_string_equal(p.writable[i].path, writable[i]);
	/* issue 13: every writable dir is noexec by default */
	for (size_t i = 0; i < TF_ARRAY_SIZE(writable); i++)
		assert_false(p.writable[i].flags & TF_PROF_EXEC);
	assert_int_equal(p.n_read, 1);
	assert_string_equal(p.read[0].path, "/");
	assert_int_equal(p.n_env, TF_ARRAY_SIZE(env));
	for (size_t i = 0; i < TF_ARRAY_SIZE(env); i++) {
		assert_string_equal(p.env[i].entry, env[i]);
		/* `twofold run --env HOME=...` works as before */
		assert_false(p.env[i].flags & TF_PROF_ENV_PROTECTED);
	}
	assert_int_equal(p.n_binds, TF_ARRAY_SIZE(binds));
	for (size_t i = 0; i < TF_ARRAY_SIZE(binds); i++) {
		assert_string_equal(p.binds[i].src, binds[i]);
		assert_true(p.binds[i].dst[0] == '/');
		assert_string_equal(p.binds[i].dst + 1, binds[i]);
	}
	assert_int_equal(p.sc.allowlist, TF_SC_APP);
	assert_true(p.sc.app_layer);
	assert_int_equal(p.sc.n_families, 4);
	assert_int_equal(p.sc.families[0], AF_UNIX);
	assert_int_equal(p.sc.families[1], AF_INET);
	assert_int_equal(p.sc.families[2], AF_INET6);
	assert_int_equal(p.sc.families[3], AF_NETLINK);
	assert_int_equal(p.sc.netlink_proto, NETLINK_ROUTE);
	assert_int_equal(p.sc.n_pair_families, 1);
	assert_int_equal(p.sc.pair_families[0], AF_UNIX);
	assert_int_equal(p.net, TF_NET_NONE);
	assert_int_equal(p.pty_max, TF_PTY_MAX_DEFAULT);
	assert_string_equal(p.base, "");
	assert_int_equal(p.perms, 0);
}

static void test_for_persona(void **state)
{
	struct tf_config c;
	struct tf_profile p;
	const struct tf_persona_cfg *pc;
	char why[128];

	tf_config_default(&c);
	c.n_devices = 1;
	snprintf(c.devices[0].name, sizeof(c.devices[0].name), "camera");
	snprintf(c.devices[0].path, sizeof(c.devices[0].path), "/dev/video0");
	c.devices[0].cls = TF_DEV_CAMERA;
	c.personas[0].memory_max = 1u << 30;
	c.personas[0].pids_max = 512;
	c.personas[0].pty_max = 9;
	c.background_cpu_weight = 7;
	pc = &c.personas[0];
	assert_int_equal(tf_profile_for_persona(&c, pc, &p, why, sizeof(why)),
			 0);
	assert_int_equal(p.lim.memory_max, 1u << 30);
	assert_int_equal(p.lim.pids_max, 512);
	assert_int_equal(p.lim.cpu_weight, pc->cpu_weight);
	assert_int_equal(p.bg_cpu_weight, 7);
	assert_int_equal(p.pty_max, 9);
	assert_int_equal(p.n_devs, 11);
	assert_string_equal(p.devs[8].path, "/dev/video0");
	assert_int_equal(p.devs[8].flags, TF_PROF_DEV_BIND |
						  TF_PROF_DEV_FOREGROUND |
						  TF_PROF_DEV_RESOLVE);
	assert_int_equal(p.devs[8].perm, TF_PROF_PERM_CAMERA);
	/* the host's camera and sound nodes, found at start */
	assert_string_equal(p.devs[9].path, "/dev/video*");
	assert_int_equal(p.devs[9].flags,
			 TF_PROF_DEV_BIND | TF_PROF_DEV_FOREGROUND |
				 TF_PROF_DEV_RESOLVE | TF_PROF_DEV_GLOB);
	assert_int_equal(p.devs[9].perm, TF_PROF_PERM_CAMERA);
	assert_string_equal(p.devs[10].path, "/dev/snd/*");
	assert_int_equal(p.devs[10].perm, TF_PROF_PERM_MICROPHONE);
	/* sound is a call's: the comms service may keep it in a call */
	assert_true(p.devs[10].flags & TF_PROF_DEV_CALL);
	assert_false(p.devs[9].flags & TF_PROF_DEV_CALL);
	assert_false(p.devs[8].flags & TF_PROF_DEV_CALL);
	/* so is a configured audio or microphone device */
	c.devices[0].cls = TF_DEV_AUDIO;
	assert_int_equal(tf_profile_for_persona(&c, pc, &p, why, sizeof(why)),
			 0);
	assert_int_equal(p.devs[8].flags,
			 TF_PROF_DEV_BIND | TF_PROF_DEV_FOREGROUND |
				 TF_PROF_DEV_RESOLVE | TF_PROF_DEV_CALL);
	c.devices[0].cls = TF_DEV_MICROPHONE;
	assert_int_equal(tf_profile_for_persona(&c, pc, &p, why, sizeof(why)),
			 0);
	assert_true(p.devs[8].flags & TF_PROF_DEV_CALL);
	/* a device path outside /dev is refused, with the device's name */
	snprintf(c.devices[0].path, sizeof(c.devices[0].path), "/etc/shadow");
	assert_int_equal(tf_profile_for_persona(&c, pc, &p, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "camera"));
}

/* An app's own device rules: a camera (by class, at any numbers) and the
 * V4L2 / ALSA majors denied unless declared; the rest is the persona's. */
static void test_app_dev_rules(void **state)
{
	struct tf_profile p;
	struct tf_cg_dev r[TF_PROF_DEV_MAX + 4];
	size_t n;

	(void)state;
	tf_profile_default(&p);
	p.devs[p.n_devs++] = (struct tf_prof_dev){.path = "/dev/cam9",
						  .type = 'c',
						  .major = 10,
						  .minor = 200,
						  .flags = TF_PROF_DEV_BIND,
						  .perm = TF_PROF_PERM_CAMERA};
	n = tf_profile_app_dev_rules(&p, 0, r, TF_ARRAY_SIZE(r));
	assert_int_equal(n, 5);
	assert_true(r[0].type == 'c' && r[0].major == 10 && r[0].minor == 200 &&
		    !r[0].allow);
	assert_true(r[1].major == 81 && r[1].minor == TF_CG_DEV_ANY &&
		    !r[1].allow);
	assert_true(r[2].major == 116 && !r[2].allow);
	assert_true(r[3].type == 'c' && r[3].major == TF_CG_DEV_ANY &&
		    r[3].allow);
	assert_true(r[4].type == 'b' && r[4].allow);
	n = tf_profile_app_dev_rules(&p, TF_PROF_PERM_CAMERA, r,
				     TF_ARRAY_SIZE(r));
	assert_int_equal(n, 3);
	assert_true(r[0].major == 116 && !r[0].allow);
	n = tf_profile_app_dev_rules(
		&p, TF_PROF_PERM_CAMERA | TF_PROF_PERM_MICROPHONE, r,
		TF_ARRAY_SIZE(r));
	assert_int_equal(n, 2);
	assert_true(r[0].allow && r[1].allow);
}

/* allow_exec_writable: exec on the data dirs and /dev/shm of a
 * device-bound persona, never on /dev; refused for a credential one both
 * by the config check and by the profile. */
static void test_allow_exec_writable(void **state)
{
	struct tf_config c;
	struct tf_profile p;
	struct tf_persona_cfg *pc;
	char why[160] = "";

	(void)state;
	tf_config_default(&c);
	pc = &c.personas[0];
	assert_false(pc->credential);
	pc->allow_exec_writable = true;
	assert_int_equal(tf_profile_for_persona(&c, pc, &p, why, sizeof(why)),
			 0);
	for (uint32_t i = 0; i < p.n_writable; i++)
		assert_int_equal(
			!!(p.writable[i].flags & TF_PROF_EXEC),
			strncmp(p.writable[i].path, "/dev", 4) != 0 ||
				!strcmp(p.writable[i].path, "/dev/shm"));
	pc = &c.personas[1];
	assert_true(pc->credential);
	pc->allow_exec_writable = true;
	assert_int_equal(tf_profile_for_persona(&c, pc, &p, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "allow_exec_writable"));
	assert_int_equal(tf_config_validate(&c, false, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "credential-bound"));
}

/* display = shell: every app of the persona finds the shell's socket the
 * usual way (the daemon links /run/user/1000/wayland-0 at start); none
 * gets it with display = none (the default) */
static bool has_env(const struct tf_profile *p, const char *entry)
{
	for (uint32_t i = 0; i < p->n_env; i++)
		if (strcmp(p->env[i].entry, entry) == 0)
			return true;
	return false;
}

static void test_display_env(void **state)
{
	struct tf_config c;
	struct tf_profile p;
	char why[160] = "";

	(void)state;
	tf_config_default(&c);
	assert_string_equal(c.display, "none");
	assert_int_equal(tf_profile_for_persona(&c, &c.personas[0], &p, why,
						sizeof(why)),
			 0);
	assert_false(has_env(&p, "WAYLAND_DISPLAY=wayland-0"));
	assert_false(has_env(
		&p, "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus"));
	snprintf(c.display, sizeof(c.display), "shell");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tf_profile_for_persona(&c, &c.personas[i], &p,
							why, sizeof(why)),
				 0);
		assert_true(has_env(&p, "WAYLAND_DISPLAY=wayland-0"));
		assert_true(has_env(&p, "XDG_RUNTIME_DIR=/run/user/1000"));
		/* the session bus the daemon starts (src/daemon/notify.c) */
		assert_true(has_env(&p, "DBUS_SESSION_BUS_ADDRESS=unix:path=/"
					"run/user/1000/bus"));
		assert_int_equal(tf_profile_check(&p, why, sizeof(why)), 0);
	}
}

/* One list, two views: a device added to the profile is bound into the
 * container's /dev and allowed by the cgroup rules; a foreground one is
 * allowed only in the foreground (denied otherwise). */
static void test_devices_one_list(void **state)
{
	struct tf_profile p;
	const char *nodes[TF_PROF_DEV_MAX];
	struct tf_cg_dev rules[TF_PROF_DEV_MAX];
	size_t nn, nr, n0, r0;
	bool seen_node = false, seen_rule = false;

	tf_profile_default(&p);
	n0 = tf_profile_dev_nodes(&p, nodes, TF_PROF_DEV_MAX);
	r0 = tf_profile_dev_rules(&p, false, rules, TF_PROF_DEV_MAX);
	assert_int_equal(n0, 6);
	assert_int_equal(r0, 8);
	p.devs[p.n_devs++] = (struct tf_prof_dev){.path = "/dev/fuse",
						  .type = 'c',
						  .major = 10,
						  .minor = 229,
						  .flags = TF_PROF_DEV_BIND};
	assert_int_equal(tf_profile_check(&p, NULL, 0), 0);
	nn = tf_profile_dev_nodes(&p, nodes, TF_PROF_DEV_MAX);
	nr = tf_profile_dev_rules(&p, false, rules, TF_PROF_DEV_MAX);
	assert_int_equal(nn, n0 + 1);
	assert_int_equal(nr, r0 + 1);
	for (size_t i = 0; i < nn; i++)
		seen_node |= !strcmp(nodes[i], "/dev/fuse");
	for (size_t i = 0; i < nr; i++)
		seen_rule |= rules[i].type == 'c' && rules[i].major == 10 &&
			     rules[i].minor == 229 && rules[i].allow;
	assert_true(seen_node);
	assert_true(seen_rule);

	/* foreground: bound always, allowed only when fg */
	p.devs[p.n_devs - 1].flags |= TF_PROF_DEV_FOREGROUND;
	nr = tf_profile_dev_rules(&p, false, rules, TF_PROF_DEV_MAX);
	assert_false(rules[nr - 1].allow);
	nr = tf_profile_dev_rules(&p, true, rules, TF_PROF_DEV_MAX);
	assert_true(rules[nr - 1].allow);
	assert_int_equal(tf_profile_dev_nodes(&p, nodes, TF_PROF_DEV_MAX),
			 n0 + 1);
	/* a call device follows call, not fg; the others still follow fg */
	p.devs[p.n_devs - 1].flags |= TF_PROF_DEV_CALL;
	assert_int_equal(tf_profile_check(&p, NULL, 0), 0);
	nr = tf_profile_dev_rules_call(&p, true, false, rules, TF_PROF_DEV_MAX);
	assert_false(rules[nr - 1].allow);
	assert_true(rules[0].allow); /* /dev/null: no foreground device */
	nr = tf_profile_dev_rules_call(&p, false, true, rules, TF_PROF_DEV_MAX);
	assert_true(rules[nr - 1].allow);
	assert_int_equal(tf_profile_call_devs(&p, rules, TF_PROF_DEV_MAX), 1);
	assert_int_equal(rules[0].major, 10);
	assert_int_equal(rules[0].minor, 229);
	/* a call device that is no foreground device is refused */
	p.devs[p.n_devs - 1].flags &= ~TF_PROF_DEV_FOREGROUND;
	assert_int_equal(tf_profile_check(&p, NULL, 0), -EINVAL);
	p.devs[p.n_devs - 1].flags |= TF_PROF_DEV_FOREGROUND;
	/* unresolved: bound (the start resolves or drops it) but no rule */
	p.devs[p.n_devs - 1].flags |= TF_PROF_DEV_RESOLVE;
	assert_int_equal(tf_profile_dev_rules(&p, true, rules, TF_PROF_DEV_MAX),
			 r0);
}

static void test_restrict_narrows(void **state)
{
	struct tf_profile p, o;
	const char *devs[] = {"/dev/null", "/dev/tty"};
	const struct tf_prof_path wr[] = {{"/home/app", TF_PROF_EXEC},
					  {"/tmp", 0}};
	const int fam[] = {AF_INET, AF_UNIX};
	const char *env[] = {"HOME=/tmp", "FOO=bar"};
	struct tf_app_request req = {.devices = devs,
				     .n_devices = 2,
				     .want_devices = true,
				     .writable = wr,
				     .n_writable = 2,
				     .want_writable = true,
				     .families = fam,
				     .n_families = 2,
				     .want_families = true,
				     .env = env,
				     .n_env = 2};
	char why[128] = "";

	tf_profile_default(&p);
	/* exec beneath /home/app where the persona has none: refused */
	assert_int_equal(tf_profile_restrict(&p, &req, &o, why, sizeof(why)),
			 -EPERM);
	p.writable[0].flags |= TF_PROF_EXEC; /* as allow_exec_writable */
	assert_int_equal(tf_profile_restrict(&p, &req, &o, why, sizeof(why)),
			 0);
	assert_int_equal(o.n_devs, 2);
	assert_string_equal(o.devs[1].path, "/dev/tty");
	assert_int_equal(o.n_writable, 2);
	assert_string_equal(o.writable[0].path, "/home/app");
	/* in the persona's (sorted) order; socketpair follows */
	assert_int_equal(o.sc.n_families, 2);
	assert_int_equal(o.sc.families[0], AF_UNIX);
	assert_int_equal(o.sc.families[1], AF_INET);
	assert_int_equal(o.sc.n_pair_families, 1);
	assert_int_equal(o.n_env, 4);
	assert_string_equal(o.env[1].entry, "HOME=/tmp");
	assert_string_equal(o.env[3].entry, "FOO=bar");
	assert_int_equal(tf_profile_check(&o, NULL, 0), 0);
	/* not asking: as the persona */
	memset(&req, 0, sizeof(req));
	assert_int_equal(tf_profile_restrict(&p, &req, &o, NULL, 0), 0);
	assert_int_equal(o.n_devs, p.n_devs);
	assert_int_equal(o.sc.n_families, p.sc.n_families);
	/* check only */
	assert_int_equal(tf_profile_restrict(&p, &req, NULL, NULL, 0), 0);
}

static void expect_eperm(const struct tf_profile *p,
			 const struct tf_app_request *req, const char *word)
{
	struct tf_profile o;
	char why[160] = "";

	memset(&o, 0x5a, sizeof(o));
	assert_int_equal(tf_profile_restrict(p, req, &o, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, word));
	/* out is written only on success */
	assert_int_equal(((unsigned char *)&o)[0], 0x5a);
}

static void test_restrict_refuses_widening(void **state)
{
	struct tf_profile p;
	const char *dev[] = {"/dev/null", "/dev/kmsg"};
	const struct tf_prof_path wr_out[] = {{"/etc", 0}};
	const struct tf_prof_path wr_prefix[] = {{"/homework", 0}};
	const struct tf_prof_path wr_exec[] = {{"/dev/shm", TF_PROF_EXEC}};
	const int fam[] = {AF_UNIX, AF_PACKET};
	const char *env[] = {"SSL_CERT_FILE=/home/app/evil.pem"};
	const char *env_same[] = {"SSL_CERT_FILE=/etc/ssl/certs/ca.pem"};

	tf_profile_default(&p);
	expect_eperm(&p,
		     &(struct tf_app_request){.devices = dev,
					      .n_devices = 2,
					      .want_devices = true},
		     "/dev/kmsg");
	expect_eperm(&p,
		     &(struct tf_app_request){.writable = wr_out,
					      .n_writable = 1,
					      .want_writable = true},
		     "/etc");
	/* beneath means a path component, not a string prefix */
	expect_eperm(&p,
		     &(struct tf_app_request){.writable = wr_prefix,
					      .n_writable = 1,
					      .want_writable = true},
		     "/homework");
	/* exec where the persona has none (beneath /dev: noexec) */
	expect_eperm(&p,
		     &(struct tf_app_request){.writable = wr_exec,
					      .n_writable = 1,
					      .want_writable = true},
		     "noexec");
	expect_eperm(&p,
		     &(struct tf_app_request){.families = fam,
					      .n_families = 2,
					      .want_families = true},
		     "family 17");
	expect_eperm(&p, &(struct tf_app_request){.perms = 1}, "permissions");
	/* a protected variable: not to another value, but to its own */
	snprintf(p.env[p.n_env].entry, sizeof(p.env[0].entry), "%s",
		 env_same[0]);
	p.env[p.n_env++].flags = TF_PROF_ENV_PROTECTED;
	expect_eperm(&p, &(struct tf_app_request){.env = env, .n_env = 1},
		     "SSL_CERT_FILE");
	assert_false(tf_profile_env_allowed(&p, env[0]));
	assert_true(tf_profile_env_allowed(&p, env_same[0]));
	assert_true(tf_profile_env_allowed(&p, "HOME=/tmp"));
	assert_int_equal(
		tf_profile_restrict(
			&p,
			&(struct tf_app_request){.env = env_same, .n_env = 1},
			NULL, NULL, 0),
		0);
	/* and an app profile restricted again stays within */
	{
		struct tf_profile app, again;
		const char *one[] = {"/dev/null"};

		assert_int_equal(
			tf_profile_restrict(
				&p,
				&(struct tf_app_request){.devices = one,
							 .n_devices = 1,
							 .want_devices = true},
				&app, NULL, 0),
			0);
		expect_eperm(&app,
			     &(struct tf_app_request){.devices = dev,
						      .n_devices = 1 + 0,
						      .want_devices = false,
						      .perms = 2},
			     "permissions");
		assert_int_equal(
			tf_profile_restrict(
				&app,
				&(struct tf_app_request){.devices = dev + 1,
							 .n_devices = 1,
							 .want_devices = true},
				&again, NULL, 0),
			-EPERM);
	}
}

static void test_check_rejects(void **state)
{
	struct tf_profile p;
	char why[128];

	tf_profile_default(&p);
	p.n_devs = TF_PROF_DEV_MAX + 1;
	assert_int_equal(tf_profile_check(&p, why, sizeof(why)), -EINVAL);
	tf_profile_default(&p);
	snprintf(p.devs[0].path, sizeof(p.devs[0].path), "/dev/../etc/x");
	assert_int_equal(tf_profile_check(&p, why, sizeof(why)), -EINVAL);
	tf_profile_default(&p);
	snprintf(p.binds[0].src, sizeof(p.binds[0].src), "../../etc");
	assert_int_equal(tf_profile_check(&p, why, sizeof(why)), -EINVAL);
	tf_profile_default(&p);
	p.sc.families[0] = AF_INET6; /* unsorted now */
	assert_int_equal(tf_profile_check(&p, why, sizeof(why)), -EINVAL);
	tf_profile_default(&p);
	memset(p.env[0].entry, 'A', sizeof(p.env[0].entry));
	assert_int_equal(tf_profile_check(&p, why, sizeof(why)), -EINVAL);
	tf_profile_default(&p);
	p.net = 0;
	assert_int_equal(tf_profile_check(&p, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_today),
		cmocka_unit_test(test_for_persona),
		cmocka_unit_test(test_app_dev_rules),
		cmocka_unit_test(test_allow_exec_writable),
		cmocka_unit_test(test_display_env),
		cmocka_unit_test(test_devices_one_list),
		cmocka_unit_test(test_restrict_narrows),
		cmocka_unit_test(test_restrict_refuses_widening),
		cmocka_unit_test(test_check_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
