/* SPDX-License-Identifier: ISC */
/*
 * `twofold app install|list|remove` (requests 16..18) and the app side of
 * `twofold run --app` (docs/packages.md "Installing"; the work is in
 * apps.c).
 */
#include <stdio.h>
#include <string.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/pkg.h"
#include "apps.h"
#include "daemon.h"

enum tfd_disp tfd_req_app_install(struct tfd *d, struct tfd_conn *c,
				  const struct tf_msg *m, struct tfd_persona *p,
				  struct tfd_reply *rep)
{
	(void)m;
	if (c->rd.nfds != 1) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: app install needs the "
			       "package as its one fd");
		return TFD_REPLY_NOW;
	}
	return tfd_app_install(d, p, c, c->rd.fds[0], rep);
}

enum tfd_disp tfd_req_app_list(struct tfd *d, struct tfd_conn *c,
			       const struct tf_msg *m, struct tfd_persona *p,
			       struct tfd_reply *rep)
{
	const char *name = tf_msg_str(m, TF_A_PERSONA);

	(void)c;
	(void)p;
	/* any state: the list is the daemon's record, not the mounts */
	p = name && tf_name_valid(name) ? tfd_persona_find(d, name) : NULL;
	if (p == NULL) {
		tfd_reply_fail(rep, -ENOENT, TF_R_PERSONA_UNKNOWN, NULL,
			       "app list: unknown persona (see: twofold "
			       "persona list)");
		return TFD_REPLY_NOW;
	}
	tfd_app_list(d, p, rep);
	return TFD_REPLY_NOW;
}

enum tfd_disp tfd_req_app_remove(struct tfd *d, struct tfd_conn *c,
				 const struct tf_msg *m, struct tfd_persona *p,
				 struct tfd_reply *rep)
{
	const char *name = tf_msg_str(m, TF_A_ARG);

	if (name == NULL || tf_msg_count(m, TF_A_ARG) != 1) {
		tfd_reply_fail(rep, -EBADMSG, TF_R_REQUEST_MALFORMED, NULL,
			       "malformed request: app remove needs one name");
		return TFD_REPLY_NOW;
	}
	tfd_app_remove(d, p, c, name, rep);
	return TFD_REPLY_NOW;
}

_Static_assert(TF_PKG_FS_MAX + 2 <= TF_EXEC_LL_MAX,
	       "an app's Landlock paths fit the launch request");

int tfd_app_resolve_run(struct tfd *d, struct tfd_persona *p, const char *spec,
			struct tfd_app_run *out, struct tfd_reply *rep)
{
	static struct tfd_app a;
	char name[TF_PKG_NAME_MAX + 1], esc[96];
	const char *colon = strchr(spec, ':'), *entry;
	size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
	const struct tf_pkg_entry *e = NULL;

	tf_escape(spec, strlen(spec), esc, sizeof(esc));
	if (nlen == 0 || nlen > TF_PKG_NAME_MAX) {
		tfd_reply_fail(rep, -EINVAL, TF_R_APP_NOT_INSTALLED,
			       p->cfg->name, "run --app: bad app name %s", esc);
		return -EINVAL;
	}
	memcpy(name, spec, nlen);
	name[nlen] = '\0';
	if (!tfd_app_name_ok(name) || tfd_app_load(d, p, name, &a) < 0) {
		tfd_reply_fail(rep, -ENOENT, TF_R_APP_NOT_INSTALLED,
			       p->cfg->name,
			       "run --app: %s is not installed in %s (see: "
			       "twofold app list %s)",
			       esc, p->cfg->name, p->cfg->name);
		return -ENOENT;
	}
	{
		struct tf_pkg_err perr = {0};
		if (tfd_app_allowed(d, p, &a, &perr) < 0) {
			tfd_reply_fail(rep, -EPERM, TF_R_APP_DISABLED,
				       p->cfg->name,
				       "run --app: %s is disabled: %s", name,
				       perr.msg);
			return -EPERM;
		}
	}
	entry = colon ? colon + 1 : NULL;
	for (size_t i = 0; i < a.m.n_entries; i++)
		if (entry == NULL ? i == 0
				  : strcmp(a.m.entries[i].name, entry) == 0) {
			e = &a.m.entries[i];
			break;
		}
	if (e == NULL) {
		tfd_reply_fail(rep, -ENOENT, TF_R_APP_NO_ENTRY, p->cfg->name,
			       "run --app: %s has no entry point %s", name,
			       esc);
		return -ENOENT;
	}
	if (a.uid >= p->cfg->uid_count) {
		tfd_reply_fail(rep, -EINVAL, TF_R_RUN_BAD_USER, p->cfg->name,
			       "run --app: %s's uid %u is outside %s's ids",
			       name, a.uid, p->cfg->name);
		return -EINVAL;
	}
	memcpy(out->name, name, sizeof(out->name));
	out->uid = a.uid;
	out->perms = a.m.permissions;
	snprintf(out->exe, sizeof(out->exe), "/apps/%s%s", name, e->path);
	snprintf(out->home, sizeof(out->home), "/var/apps/%s", name);
	snprintf(out->home_env, sizeof(out->home_env), "HOME=/var/apps/%s",
		 name);
	/* reads go by DAC beneath / (the image, the base system); writes
	 * only to its own dir, the devices its cgroup allows, and what its
	 * manifest declares */
	{
		size_t n = 0;
		out->ll[n++] = out->home;
		out->ll[n++] = "/dev";
		for (size_t i = 0; i < a.m.n_fs; i++)
			if (a.m.fs[i].write) {
				snprintf(out->fs[i], sizeof(out->fs[i]), "%s",
					 a.m.fs[i].path);
				out->ll[n++] = out->fs[i];
			}
		out->ll[n] = NULL;
	}
	return 0;
}
