/* SPDX-License-Identifier: ISC */
/*
 * struct tf_profile: the built-in policy, the persona's profile from
 * device.conf, the merge rule for an app, and the views the mechanisms
 * read. Its own module (not src/lib/persona) because both the persona and
 * the sandbox code consume it: under persona, sandbox would point back up.
 * It depends only on the header types of config and sandbox, does no I/O
 * and allocates nothing (a profile is a flat value).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "twofold/profile.h"

static TF_PRINTF(3, 4) int why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		(void)vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return 0;
}

/* ---- the built-in policy (what the persona code did before profiles) ---- */

/* The host's system dirs seen read-only; usr and etc through the persona's
 * own overlay (child.c mount_overlays explains why). */
static const struct tf_prof_sys default_sys[] = {
	{"usr", TF_PROF_SYS_OVERLAY},
	{"bin", 0},
	{"lib", 0},
	{"lib64", 0},
	{"lib32", 0},
	{"libx32", 0},
	{"sbin", 0},
	{"etc", TF_PROF_SYS_OVERLAY},
};

/* The persona-private writable dirs, bound from its data dir. */
static const struct tf_prof_bind default_binds[] = {
	{"home", "/home"},
	{"var", "/var"},
	{"tmp", "/tmp"},
	{"run", "/run"},
};

/* Made in the data dir on first start (owners as seen inside). */
static const struct tf_prof_dir default_dirs[] = {
	{"home", 0, 0755},
	{"home/app", TF_APP_UID_DEFAULT, 0700},
	{"var", TF_APP_UID_DEFAULT, 0755},
	{"tmp", 0, 01777},
	{"run", 0, 0755},
	{"run/user", 0, 0755},
	{"run/user/1000", TF_APP_UID_DEFAULT, 0700},
};

/* Where apps may write (Landlock); DAC and the read-only mounts decide the
 * rest. /dev for /dev/null, /dev/pts, /dev/shm. /dev/mqueue for POSIX
 * message queues: mq_open() works on the ipc namespace's internal mount of
 * the mqueue fs, beneath no other rule, but the persona's /dev/mqueue is
 * the same superblock, so a rule on its root covers the queues (the
 * persona's own: it has its own ipc namespace). Every writable dir is
 * mounted noexec (issue 13: only the base system and signed app images
 * hold code); device.conf allow_exec_writable gives a device-bound
 * persona TF_PROF_EXEC on the data dirs and /dev/shm
 * (tf_profile_for_persona). /dev/shm is listed for that flag: /dev
 * covers it for Landlock already. */
static const struct tf_prof_path default_writable[] = {
	{"/home", 0},	 {"/tmp", 0}, {"/var", 0},	  {"/run", 0},
	{"/dev/shm", 0}, {"/dev", 0}, {"/dev/mqueue", 0},
};

static const struct tf_prof_path default_read[] = {
	{"/", TF_PROF_EXEC},
};

/* The basic devices every persona may use (OCI runtime-spec "default
 * devices" plus the tty ones). Host nodes are bound into /dev like
 * bubblewrap does: mknod is not allowed in a user namespace, and mounts
 * made there are implicitly nodev anyway. ptmx and pts/N are the persona's
 * own devpts instance's, so only their cgroup rules are made. */
static const struct tf_prof_dev default_devs[] = {
	{"/dev/null", 'c', 1, 3, TF_PROF_DEV_BIND, 0},
	{"/dev/zero", 'c', 1, 5, TF_PROF_DEV_BIND, 0},
	{"/dev/full", 'c', 1, 7, TF_PROF_DEV_BIND, 0},
	{"/dev/random", 'c', 1, 8, TF_PROF_DEV_BIND, 0},
	{"/dev/urandom", 'c', 1, 9, TF_PROF_DEV_BIND, 0},
	{"/dev/tty", 'c', 5, 0, TF_PROF_DEV_BIND, 0},
	{"/dev/ptmx", 'c', 5, 2, 0, 0},
	{"/dev/pts", 'c', 136, TF_CG_DEV_ANY, 0, 0},
};

/* The environment every app starts with; `twofold run --env` may change
 * any of it (none is protected). */
static const struct tf_prof_env default_env[] = {
	{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
	 0},
	{"HOME=/home/app", 0},
	{"LANG=C.UTF-8", 0},
};

void tf_profile_default(struct tf_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->version = TF_PROFILE_VERSION;
#define COPY(field, n, table)                                                  \
	do {                                                                   \
		_Static_assert(TF_ARRAY_SIZE(table) <= TF_ARRAY_SIZE(field),   \
			       #table " does not fit");                        \
		memcpy(field, table, sizeof(table));                           \
		n = TF_ARRAY_SIZE(table);                                      \
	} while (0)
	COPY(p->sys, p->n_sys, default_sys);
	COPY(p->binds, p->n_binds, default_binds);
	COPY(p->dirs, p->n_dirs, default_dirs);
	COPY(p->writable, p->n_writable, default_writable);
	COPY(p->read, p->n_read, default_read);
	COPY(p->devs, p->n_devs, default_devs);
	COPY(p->env, p->n_env, default_env);
#undef COPY
	p->pty_max = TF_PTY_MAX_DEFAULT;
	/* docs/seccomp.md: UNIX, IPv4, IPv6, and netlink for routes and
	 * addresses only (ip, getifaddrs); socketpair UNIX only. Sorted. */
	p->sc = (struct tf_seccomp_policy){
		.allowlist = TF_SC_APP,
		.app_layer = true,
		.no_execmem = true,
		.n_families = 4,
		.families = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK},
		.netlink_proto = NETLINK_ROUTE,
		.n_pair_families = 1,
		.pair_families = {AF_UNIX},
	};
	p->net = TF_NET_NONE;
	p->perms = 0;
}

/* ---- checks ---- */

static bool str_ok(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* absolute, terminated, no "..", no "//" */
static bool abs_path_ok(const char *s, size_t cap)
{
	return str_ok(s, cap) && s[0] == '/' && !strstr(s, "/..") &&
	       !strstr(s, "//");
}

static bool dev_path_ok(const char *s)
{
	return abs_path_ok(s, TF_CFG_PATH_MAX) && !strncmp(s, "/dev/", 5) &&
	       s[5] != '\0';
}

/* foreground device nodes every persona gets when the host has them,
 * and the app permission each needs */
static const struct {
	const char *path;
	tf_perms_t perm;
	uint32_t flags;
} fg_patterns[] = {
	{"/dev/video*", TF_PROF_PERM_CAMERA, 0},
	{"/dev/snd/*", TF_PROF_PERM_MICROPHONE, TF_PROF_DEV_CALL},
};

/* the app permission a device.conf device class needs: sound nodes serve
 * playback and capture alike, so audio is the microphone's too */
static tf_perms_t class_perm(enum tf_device_class c)
{
	switch (c) {
	case TF_DEV_CAMERA: return TF_PROF_PERM_CAMERA;
	case TF_DEV_MICROPHONE:
	case TF_DEV_AUDIO: return TF_PROF_PERM_MICROPHONE;
	default: return 0;
	}
}

/* the classes a call needs (speaker and microphone): the ones the comms
 * service may keep during a call in the background (TF_PROF_DEV_CALL) */
static bool class_call(enum tf_device_class c)
{
	return c == TF_DEV_AUDIO || c == TF_DEV_MICROPHONE;
}

int tf_profile_check(const struct tf_profile *p, char *why, size_t whylen)
{
#define BAD(...)                                                               \
	do {                                                                   \
		why_set(why, whylen, __VA_ARGS__);                             \
		return -EINVAL;                                                \
	} while (0)
	if (p->version != TF_PROFILE_VERSION)
		BAD("profile version %u, this build knows %u", p->version,
		    TF_PROFILE_VERSION);
	if (p->n_sys > TF_PROF_SYS_MAX || p->n_binds > TF_PROF_BIND_MAX ||
	    p->n_dirs > TF_PROF_DIR_MAX ||
	    p->n_writable > TF_PROF_WRITABLE_MAX ||
	    p->n_read > TF_PROF_READ_MAX || p->n_devs > TF_PROF_DEV_MAX ||
	    p->n_env > TF_PROF_ENV_MAX)
		BAD("profile: a list is longer than its table");
	if (!str_ok(p->base, sizeof(p->base)) ||
	    (p->base[0] && !abs_path_ok(p->base, sizeof(p->base))))
		BAD("profile: base is not an absolute path");
	for (uint32_t i = 0; i < p->n_sys; i++)
		if (!str_ok(p->sys[i].name, sizeof(p->sys[i].name)) ||
		    !p->sys[i].name[0] || strchr(p->sys[i].name, '/') ||
		    !strcmp(p->sys[i].name, "..") ||
		    !strcmp(p->sys[i].name, "."))
			BAD("profile: system dir %u is not a plain name", i);
	for (uint32_t i = 0; i < p->n_binds; i++) {
		const struct tf_prof_bind *b = &p->binds[i];

		if (!str_ok(b->src, sizeof(b->src)) || !b->src[0] ||
		    b->src[0] == '/' || strstr(b->src, ".."))
			BAD("profile: bind %u: source must be a path below "
			    "the data dir",
			    i);
		/* one level below /: the init mounts it on the root tmpfs */
		if (!abs_path_ok(b->dst, sizeof(b->dst)) ||
		    strchr(b->dst + 1, '/') || !b->dst[1])
			BAD("profile: bind %u: target must be /NAME", i);
	}
	for (uint32_t i = 0; i < p->n_dirs; i++)
		if (!str_ok(p->dirs[i].rel, sizeof(p->dirs[i].rel)) ||
		    !p->dirs[i].rel[0] || p->dirs[i].rel[0] == '/' ||
		    strstr(p->dirs[i].rel, "..") || p->dirs[i].mode > 07777)
			BAD("profile: data dir entry %u is malformed", i);
	for (uint32_t i = 0; i < p->n_writable; i++)
		if (!abs_path_ok(p->writable[i].path,
				 sizeof(p->writable[i].path)))
			BAD("profile: writable path %u is not absolute", i);
	for (uint32_t i = 0; i < p->n_read; i++)
		if (!abs_path_ok(p->read[i].path, sizeof(p->read[i].path)))
			BAD("profile: read path %u is not absolute", i);
	for (uint32_t i = 0; i < p->n_devs; i++) {
		const struct tf_prof_dev *d = &p->devs[i];

		if (!dev_path_ok(d->path))
			BAD("profile: device %u: path not under /dev", i);
		if (d->flags & ~(TF_PROF_DEV_BIND | TF_PROF_DEV_FOREGROUND |
				 TF_PROF_DEV_RESOLVE | TF_PROF_DEV_GLOB |
				 TF_PROF_DEV_CALL))
			BAD("profile: device %s: unknown flags", d->path);
		if ((d->flags & TF_PROF_DEV_CALL) &&
		    !(d->flags & TF_PROF_DEV_FOREGROUND))
			BAD("profile: device %s: a call device is a foreground "
			    "device",
			    d->path);
		if ((d->flags & TF_PROF_DEV_GLOB) &&
		    !(d->flags & TF_PROF_DEV_RESOLVE))
			BAD("profile: device %s: a pattern is resolved at "
			    "start",
			    d->path);
		if (!(d->flags & TF_PROF_DEV_RESOLVE) && d->type != 'c' &&
		    d->type != 'b')
			BAD("profile: device %s: type must be c or b", d->path);
	}
	for (uint32_t i = 0; i < p->n_env; i++) {
		const char *e = p->env[i].entry;

		if (!str_ok(e, sizeof(p->env[i].entry)) || !strchr(e, '=') ||
		    e[0] == '=')
			BAD("profile: env entry %u is not NAME=VALUE", i);
	}
	if (p->sc.allowlist != TF_SC_APP)
		BAD("profile: unknown syscall allowlist %u", p->sc.allowlist);
	if (p->sc.n_families > TF_SC_FAMILIES_MAX ||
	    p->sc.n_pair_families > TF_SC_FAMILIES_MAX)
		BAD("profile: too many socket families");
	for (uint32_t i = 0; i < p->sc.n_families; i++)
		if (p->sc.families[i] < 0 || p->sc.families[i] >= 64 ||
		    (i && p->sc.families[i - 1] >= p->sc.families[i]))
			BAD("profile: socket families must be sorted, < 64");
	for (uint32_t i = 0; i < p->sc.n_pair_families; i++)
		if (p->sc.pair_families[i] < 0 ||
		    p->sc.pair_families[i] >= 64 ||
		    (i && p->sc.pair_families[i - 1] >= p->sc.pair_families[i]))
			BAD("profile: socketpair families must be sorted, "
			    "< 64");
	if (p->net != TF_NET_NONE && p->net != TF_NET_NAT &&
	    p->net != TF_NET_TUNNEL)
		BAD("profile: unknown network mode %d", (int)p->net);
	if (!str_ok(p->resolv_conf, sizeof(p->resolv_conf)) ||
	    (p->resolv_conf[0] &&
	     !abs_path_ok(p->resolv_conf, sizeof(p->resolv_conf))))
		BAD("profile: resolv_conf is not an absolute path");
#undef BAD
	return 0;
}

/* ---- from device.conf ---- */

int tf_profile_for_persona(const struct tf_config *cfg,
			   const struct tf_persona_cfg *pcfg,
			   struct tf_profile *out, char *why, size_t whylen)
{
	struct tf_profile p;
	int r;

	tf_profile_default(&p);
	if (tf_strlcpy(p.base, pcfg->base, sizeof(p.base)) < 0) {
		why_set(why, whylen, "persona %s: base path too long",
			pcfg->name);
		return -EINVAL;
	}
	if (pcfg->pty_max)
		p.pty_max = pcfg->pty_max;
	/* config validation refuses it for a credential persona; checked
	 * again here so no caller can build an executable secure profile */
	if (pcfg->allow_exec_writable) {
		if (pcfg->credential) {
			why_set(why, whylen,
				"persona %s: allow_exec_writable is refused "
				"for a credential-bound persona",
				pcfg->name);
			return -EPERM;
		}
		p.sc.no_execmem = false; /* JITs, with the rest */
		for (uint32_t i = 0; i < p.n_writable; i++)
			if (strcmp(p.writable[i].path, "/dev") != 0 &&
			    strcmp(p.writable[i].path, "/dev/mqueue") != 0)
				p.writable[i].flags |= TF_PROF_EXEC;
	}
	/* the daemon made the namespace for this mode; it adds the
	 * resolv_conf it wrote */
	if (pcfg->network)
		p.net = pcfg->network;
	p.lim = (struct tf_cg_limits){.memory_max = pcfg->memory_max,
				      .pids_max = pcfg->pids_max,
				      .cpu_weight = pcfg->cpu_weight};
	p.bg_cpu_weight = cfg->background_cpu_weight;
	/* display = shell: the daemon links /run/user/1000/wayland-0 to the
	 * shell's socket of this persona at start (src/daemon/display.c);
	 * apps find it the usual way. Not protected: an app that unsets it
	 * only loses its own display. */
	if (strcmp(cfg->display, "shell") == 0) {
		static const char *const wl_env[] = {
			"XDG_RUNTIME_DIR=" TF_SHELL_RUNTIME_DIR,
			"WAYLAND_DISPLAY=" TF_SHELL_WAYLAND_NAME,
			/* the persona's own session bus, which the daemon
			 * starts in it (src/daemon/notify.c) */
			"DBUS_SESSION_BUS_ADDRESS=unix:"
			"path=" TF_SHELL_RUNTIME_DIR "/bus",
		};

		if (p.n_env + TF_ARRAY_SIZE(wl_env) > TF_PROF_ENV_MAX) {
			why_set(why, whylen, "too many environment entries");
			return -E2BIG;
		}
		for (size_t i = 0; i < TF_ARRAY_SIZE(wl_env); i++) {
			memset(&p.env[p.n_env], 0, sizeof(p.env[p.n_env]));
			memcpy(p.env[p.n_env].entry, wl_env[i],
			       strlen(wl_env[i]) + 1);
			p.n_env++;
		}
	}
	if (cfg->n_devices > TF_DEVICE_MAX ||
	    p.n_devs + cfg->n_devices > TF_PROF_DEV_MAX) {
		why_set(why, whylen, "too many devices");
		return -E2BIG;
	}
	/* the foreground devices: bound at the same path, allowed only in
	 * the foreground, numbers from the host node at start */
	for (size_t i = 0; i < cfg->n_devices; i++) {
		struct tf_prof_dev *d = &p.devs[p.n_devs];

		if (!dev_path_ok(cfg->devices[i].path)) {
			why_set(why, whylen,
				"device %s: path %s not under /dev",
				cfg->devices[i].name, cfg->devices[i].path);
			return -EINVAL;
		}
		memset(d, 0, sizeof(*d));
		memcpy(d->path, cfg->devices[i].path, sizeof(d->path));
		d->flags = TF_PROF_DEV_BIND | TF_PROF_DEV_FOREGROUND |
			   TF_PROF_DEV_RESOLVE;
		d->perm = class_perm(cfg->devices[i].cls);
		if (class_call(cfg->devices[i].cls))
			d->flags |= TF_PROF_DEV_CALL;
		p.n_devs++;
	}
	/* the host's camera and sound nodes, whichever exist at start: bound,
	 * allowed only in the foreground, and per app only if its manifest
	 * declares camera / microphone (tf_profile_app_dev_rules) */
	for (size_t i = 0; i < TF_ARRAY_SIZE(fg_patterns); i++) {
		struct tf_prof_dev *d = &p.devs[p.n_devs];

		if (p.n_devs >= TF_PROF_DEV_MAX) {
			why_set(why, whylen, "too many devices");
			return -E2BIG;
		}
		memset(d, 0, sizeof(*d));
		snprintf(d->path, sizeof(d->path), "%s", fg_patterns[i].path);
		d->flags = TF_PROF_DEV_BIND | TF_PROF_DEV_FOREGROUND |
			   TF_PROF_DEV_RESOLVE | TF_PROF_DEV_GLOB |
			   fg_patterns[i].flags;
		d->perm = fg_patterns[i].perm;
		p.n_devs++;
	}
	r = tf_profile_check(&p, why, whylen);
	if (r < 0)
		return r;
	*out = p;
	return 0;
}

/* ---- the merge rule ---- */

static size_t env_key_len(const char *e)
{
	const char *eq = strchr(e, '=');

	return eq ? (size_t)(eq - e) : strlen(e);
}

static const struct tf_prof_env *env_find(const struct tf_profile *p,
					  const char *entry)
{
	size_t k = env_key_len(entry);

	for (uint32_t i = 0; i < p->n_env; i++)
		if (env_key_len(p->env[i].entry) == k &&
		    !strncmp(p->env[i].entry, entry, k))
			return &p->env[i];
	return NULL;
}

bool tf_profile_env_allowed(const struct tf_profile *p, const char *entry)
{
	const struct tf_prof_env *e = env_find(p, entry);

	/* setting a protected one to its own value changes nothing */
	return !e || !(e->flags & TF_PROF_ENV_PROTECTED) ||
	       !strcmp(e->entry, entry);
}

/* Is path at or beneath base? */
static bool beneath(const char *path, const char *base)
{
	size_t n = strlen(base);

	if (!strcmp(base, "/"))
		return path[0] == '/';
	return !strncmp(path, base, n) && (path[n] == '\0' || path[n] == '/');
}

/* The persona's writable path that covers path, the innermost one. */
static const struct tf_prof_path *covering(const struct tf_profile *p,
					   const char *path)
{
	const struct tf_prof_path *best = NULL;

	for (uint32_t i = 0; i < p->n_writable; i++)
		if (beneath(path, p->writable[i].path) &&
		    (!best || strlen(p->writable[i].path) > strlen(best->path)))
			best = &p->writable[i];
	return best;
}

static bool has_family(const int32_t *f, uint32_t n, int fam)
{
	for (uint32_t i = 0; i < n; i++)
		if (f[i] == fam)
			return true;
	return false;
}

int tf_profile_restrict(const struct tf_profile *persona,
			const struct tf_app_request *req,
			struct tf_profile *out, char *why, size_t whylen)
{
	/* built in a local copy: out is written only on success */
	struct tf_profile o;
	bool env_full = false;

	o = *persona;
#define REFUSE(...)                                                            \
	do {                                                                   \
		why_set(why, whylen, __VA_ARGS__);                             \
		return -EPERM;                                                 \
	} while (0)
	if (req->want_devices) {
		o.n_devs = 0;
		if (req->n_devices > TF_PROF_DEV_MAX ||
		    (req->n_devices && !req->devices))
			return -EINVAL;
		for (size_t i = 0; i < req->n_devices; i++) {
			const struct tf_prof_dev *d = NULL;

			for (uint32_t j = 0; j < persona->n_devs && !d; j++)
				if (!strcmp(persona->devs[j].path,
					    req->devices[i]))
					d = &persona->devs[j];
			if (!d)
				REFUSE("device %s is not in the persona's "
				       "profile",
				       req->devices[i]);
			o.devs[o.n_devs++] = *d;
		}
	}
	if (req->want_writable) {
		o.n_writable = 0;
		if (req->n_writable > TF_PROF_WRITABLE_MAX ||
		    (req->n_writable && !req->writable))
			return -EINVAL;
		for (size_t i = 0; i < req->n_writable; i++) {
			const struct tf_prof_path *w = &req->writable[i];
			const struct tf_prof_path *c;

			if (!abs_path_ok(w->path, sizeof(w->path)))
				return -EINVAL;
			c = covering(persona, w->path);
			if (!c)
				REFUSE("%s is not writable in the persona's "
				       "profile",
				       w->path);
			if ((w->flags & TF_PROF_EXEC) &&
			    !(c->flags & TF_PROF_EXEC))
				REFUSE("%s is noexec in the persona's profile",
				       w->path);
			o.writable[o.n_writable++] = *w;
		}
	}
	if (req->want_families) {
		uint32_t np = 0;

		o.sc.n_families = 0;
		if (req->n_families > TF_SC_FAMILIES_MAX ||
		    (req->n_families && !req->families))
			return -EINVAL;
		/* in the persona's (sorted) order */
		for (size_t i = 0; i < req->n_families; i++)
			if (!has_family(persona->sc.families,
					persona->sc.n_families,
					req->families[i]))
				REFUSE("socket family %d is not in the "
				       "persona's profile",
				       req->families[i]);
		for (uint32_t j = 0; j < persona->sc.n_families; j++)
			for (size_t i = 0; i < req->n_families; i++)
				if (req->families[i] ==
				    persona->sc.families[j]) {
					o.sc.families[o.sc.n_families++] =
						persona->sc.families[j];
					break;
				}
		/* socketpair: only what stays allowed for socket */
		for (uint32_t j = 0; j < persona->sc.n_pair_families; j++)
			if (has_family(o.sc.families, o.sc.n_families,
				       persona->sc.pair_families[j]))
				o.sc.pair_families[np++] =
					persona->sc.pair_families[j];
		o.sc.n_pair_families = np;
	}
	if (req->perms & ~persona->perms)
		REFUSE("permissions 0x%llx are not in the persona's profile",
		       (unsigned long long)(req->perms & ~persona->perms));
	o.perms = req->perms;
	if (req->n_env && !req->env)
		return -EINVAL;
	for (size_t i = 0; i < req->n_env; i++) {
		const char *e = req->env[i];
		struct tf_prof_env *slot;
		size_t k = env_key_len(e);

		if (!strchr(e, '=') || k == 0)
			return -EINVAL;
		if (!tf_profile_env_allowed(persona, e))
			REFUSE("%.*s is set by the persona's profile and "
			       "cannot be changed",
			       (int)(k > 64 ? 64 : k), e);
		if (!out)
			continue;
		if (strlen(e) >= sizeof(slot->entry)) {
			env_full = true;
			continue;
		}
		slot = (struct tf_prof_env *)env_find(&o, e);
		if (!slot) {
			if (o.n_env == TF_PROF_ENV_MAX) {
				env_full = true;
				continue;
			}
			slot = &o.env[o.n_env++];
		}
		memcpy(slot->entry, e, strlen(e) + 1);
		slot->flags = 0;
	}
#undef REFUSE
	if (env_full) {
		why_set(why, whylen, "the environment does not fit a profile");
		return -E2BIG;
	}
	if (out)
		*out = o;
	return 0;
}

/* ---- views ---- */

size_t tf_profile_dev_nodes(const struct tf_profile *p, const char **out,
			    size_t cap)
{
	size_t n = 0;

	for (uint32_t i = 0; i < p->n_devs && n < cap; i++)
		if (p->devs[i].flags & TF_PROF_DEV_BIND)
			out[n++] = p->devs[i].path;
	return n;
}

size_t tf_profile_dev_rules_call(const struct tf_profile *p, bool fg, bool call,
				 struct tf_cg_dev *out, size_t cap)
{
	size_t n = 0;

	for (uint32_t i = 0; i < p->n_devs && n < cap; i++) {
		const struct tf_prof_dev *d = &p->devs[i];
		bool on = d->flags & TF_PROF_DEV_CALL ? call : fg;

		/* unresolved: no numbers to allow (the start resolves or
		 * drops every such entry before it asks) */
		if (d->flags & TF_PROF_DEV_RESOLVE)
			continue;
		out[n++] = (struct tf_cg_dev){
			.type = d->type,
			.major = d->major,
			.minor = d->minor,
			.allow = on || !(d->flags & TF_PROF_DEV_FOREGROUND)};
	}
	return n;
}

size_t tf_profile_dev_rules(const struct tf_profile *p, bool fg,
			    struct tf_cg_dev *out, size_t cap)
{
	return tf_profile_dev_rules_call(p, fg, fg, out, cap);
}

size_t tf_profile_call_devs(const struct tf_profile *p, struct tf_cg_dev *out,
			    size_t cap)
{
	size_t n = 0;

	for (uint32_t i = 0; i < p->n_devs && n < cap; i++) {
		const struct tf_prof_dev *d = &p->devs[i];

		if ((d->flags & TF_PROF_DEV_CALL) &&
		    !(d->flags & TF_PROF_DEV_RESOLVE))
			out[n++] = (struct tf_cg_dev){.type = d->type,
						      .major = d->major,
						      .minor = d->minor,
						      .allow = true};
	}
	return n;
}

/* Device classes a permission gates: policy as data (one row each). */
static const struct {
	tf_perms_t perm;
	uint32_t major; /* char devices, every minor */
} app_dev_gates[] = {
	{TF_PROF_PERM_CAMERA, 81},	/* VIDEO_MAJOR: V4L2 /dev/video* */
	{TF_PROF_PERM_MICROPHONE, 116}, /* ALSA: the nodes in /dev/snd */
};

size_t tf_profile_app_dev_rules(const struct tf_profile *p, tf_perms_t perms,
				struct tf_cg_dev *out, size_t cap)
{
	size_t n = 0;

	/* a configured device of a gated class, whatever its numbers */
	for (uint32_t i = 0; i < p->n_devs && n < cap; i++) {
		const struct tf_prof_dev *d = &p->devs[i];
		if (!d->perm || (perms & d->perm) ||
		    (d->flags & TF_PROF_DEV_RESOLVE))
			continue;
		out[n++] = (struct tf_cg_dev){.type = d->type,
					      .major = d->major,
					      .minor = d->minor,
					      .allow = false};
	}

	for (size_t i = 0; i < TF_ARRAY_SIZE(app_dev_gates) && n < cap; i++)
		if (!(perms & app_dev_gates[i].perm))
			out[n++] = (struct tf_cg_dev){
				.type = 'c',
				.major = app_dev_gates[i].major,
				.minor = TF_CG_DEV_ANY,
				.allow = false};
	/* the rest is the persona's to decide */
	if (n < cap)
		out[n++] = (struct tf_cg_dev){.type = 'c',
					      .major = TF_CG_DEV_ANY,
					      .minor = TF_CG_DEV_ANY,
					      .allow = true};
	if (n < cap)
		out[n++] = (struct tf_cg_dev){.type = 'b',
					      .major = TF_CG_DEV_ANY,
					      .minor = TF_CG_DEV_ANY,
					      .allow = true};
	return n;
}

size_t tf_profile_paths(const struct tf_prof_path *paths, uint32_t n,
			const char **out, size_t cap)
{
	size_t k = 0;

	for (uint32_t i = 0; i < n && k < cap; i++)
		out[k++] = paths[i].path;
	return k;
}
