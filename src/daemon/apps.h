/* SPDX-License-Identifier: ISC */
/* Installed apps of a persona (issue 13, docs/packages.md "Installing"). */
#ifndef TWOFOLDD_APPS_H
#define TWOFOLDD_APPS_H

#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>

#include "twofold/error.h"
#include "twofold/pkg.h"
#include "daemon.h"

struct tfd;
struct tfd_persona;
struct tfd_conn;
struct tfd_reply;

/* apps run as TFD_APP_UID_FIRST + their slot (kept in the index) */
#define TFD_APP_UID_FIRST 10000u
#define TFD_APPS_MAX 256

/* What the package checker answered (appcheck.c). */
struct tfd_app_verdict {
	char reason[TF_REASON_MAX];
	char msg[256];
	struct tf_pkg_manifest m;
	uint64_t off, len;
	uint8_t hash[TF_HASH_BYTES];
	uint8_t digest[TF_HASH_BYTES];
};

/* One installed app: STATE/apps/PERSONA/NAME.app (written atomically),
 * its image STATE/apps/PERSONA/NAME-CODE.tfa. */
struct tfd_app {
	struct tf_pkg_manifest m;
	uint32_t uid; /* inside the persona */
	uint64_t off; /* the payload's offset in the image file */
	char image[TF_PKG_NAME_MAX + 32];
	bool disabled;	/* no longer allowed by the catalog */
	bool unscanned; /* installed without a scan (no scan_db) */
};

bool tfd_app_name_ok(const char *name);

/* The checker's body (a fork of the spawner) and the daemon's side: spawn
 * it on the loop (the spawner's socket is the loop's), then, on an
 * install job's thread, hand it a read-only fd of pkgfd and wait for its
 * verdict; run ends the checker whatever happens (end alone: a job that
 * never ran). */
struct tfd_appcheck {
	int sock, pidfd;
	pid_t pid;
};
void tfd_appcheck_main(int ctl);
TF_WUR int tfd_appcheck_spawn(const struct tfd_persona *p,
			      struct tfd_appcheck *ck);
TF_WUR int tfd_appcheck_run(struct tfd_appcheck *ck, uint8_t suite_id,
			    const char *trust, int pkgfd,
			    struct tfd_app_verdict *v);
void tfd_appcheck_end(struct tfd_appcheck *ck);

/* apps.c */
TF_WUR int tfd_app_load(const struct tfd *d, const struct tfd_persona *p,
			const char *name, struct tfd_app *out);
/* Does the catalog (read now) still allow the installed app? 0, or
 * -errno with the reason in perr. */
TF_WUR int tfd_app_allowed(struct tfd *d, struct tfd_persona *p,
			   const struct tfd_app *a, struct tf_pkg_err *perr);
/* Persona start: mount every installed (and still allowed) app, make the
 * network rules. Failures are logged, never fatal. */
void tfd_apps_persona_started(struct tfd *d, struct tfd_persona *p);
/* The request handlers' bodies (req_app.c calls them). */
/* install: a job (TFD_REPLY_LATER), or refused at once (rep filled) */
enum tfd_disp tfd_app_install(struct tfd *d, struct tfd_persona *p,
			      struct tfd_conn *c, int fd,
			      struct tfd_reply *rep);
/* an install job runs in p (a second install or a remove is "busy") */
bool tfd_app_installing(struct tfd *d, struct tfd_persona *p);
void tfd_app_forget(struct tfd_conn *c); /* the client left */
void tfd_app_list(struct tfd *d, struct tfd_persona *p, struct tfd_reply *rep);
void tfd_app_remove(struct tfd *d, struct tfd_persona *p,
		    const struct tfd_conn *c, const char *name,
		    struct tfd_reply *rep);

/* An app's own cgroup below its persona's (app-NAME, every run of it
 * inside): made, or its device policy set again from the manifest's
 * permissions (camera, microphone). tfd_app_cgroup_refresh logs instead
 * of failing (install and update call it). */
TF_WUR int tfd_app_cgroup(struct tfd_persona *p,
			  const struct tf_pkg_manifest *m);
void tfd_app_cgroup_refresh(struct tfd_persona *p,
			    const struct tf_pkg_manifest *m);
/* Kill every process of the app (remove, disable): cgroup.kill of its
 * cgroup, then a bounded wait until they are gone. why goes to the log. */
int tfd_app_stop(struct tfd *d, struct tfd_persona *p, const char *name,
		 const char *why);
/* The 1 s tick: re-check installed apps when a catalog changes (or once
 * a minute); an app it dropped is disabled: killed, audited app.disabled.
 */
void tfd_apps_tick(struct tfd *d);

/* run --app NAME[:ENTRY]: what to run and as whom (req_app.c); on a
 * failure rep is filled */
struct tfd_app_run {
	char name[TF_PKG_NAME_MAX + 1];
	uint32_t uid;
	uint32_t perms;
	char exe[TF_PKG_NAME_MAX + TF_PKG_PATH_MAX + 8];
	char home[TF_PKG_NAME_MAX + 16];
	char home_env[TF_PKG_NAME_MAX + 24];
	/* its Landlock write paths (tf_exec_spec ll_write): its data dir,
	 * /dev, the manifest's writable fs entries; NULL-terminated */
	char fs[TF_PKG_FS_MAX][TF_PKG_PATH_MAX + 1];
	const char *ll[TF_PKG_FS_MAX + 3];
};
TF_WUR int tfd_app_resolve_run(struct tfd *d, struct tfd_persona *p,
			       const char *spec, struct tfd_app_run *out,
			       struct tfd_reply *rep);

#endif
