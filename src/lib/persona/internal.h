/* SPDX-License-Identifier: ISC */
/* Internal to src/lib/persona. */
#ifndef TWOFOLD_PERSONA_INTERNAL_H
#define TWOFOLD_PERSONA_INTERNAL_H

#include <sys/types.h>

#include "twofold/common.h"
#include "twofold/config.h"
#include "twofold/persona.h"
#include "twofold/sandbox.h"

/* A foreground device node, resolved on the host at start. */
struct tf_p_dev {
	char path[TF_CFG_PATH_MAX]; /* "/dev/..." */
	char type;		    /* 'c' or 'b' */
	uint32_t major, minor;
};

struct tf_persona {
	char name[TF_NAME_MAX + 1];
	pid_t init_pid;
	int pidfd;
	struct tf_cgroup *cg;
	bool hybrid; /* v1 controllers: children must be attached by pid */
	bool foreground;
	uint32_t cpu_weight, bg_weight;
	size_t n_devs;
	struct tf_p_dev devs[TF_DEVICE_MAX];
	/* dups of the pidfds of launched apps, to reap their zombies at stop
	 * (see persona.h); pruned as apps exit */
	int *apps;
	size_t n_apps, cap_apps;
};

/* What the init child needs; filled by the parent before clone3 so the
 * child does no allocation and reads no config. */
struct tf_p_setup {
	const char *name;
	const char *base; /* NULL = the host's /usr, /bin, /lib*, /etc */
	const char *data_dir;
	const struct tf_persona *p; /* devs */
	int sync_fd;   /* parent -> child: 1 byte "go" after uid map + attach */
	int status_fd; /* child -> parent: struct tf_p_status */
};

struct tf_p_status {
	int err; /* 0 = init is running */
	char msg[TF_PERSONA_ERR_MAX];
};

/* Entry of the cloned child: builds the container and becomes its init.
 * Never returns. */
TF_NORETURN void tf_p_child_main(const struct tf_p_setup *s);

/* raw clone3 (glibc 2.36 has no wrapper); fork-like when stack is 0 */
pid_t tf_p_clone3(uint64_t flags, int cgroup_fd, int *pidfd_out);

/* Remember an app's pidfd (dup) for stop; prunes exited ones. */
int tf_p_track_app(struct tf_persona *p, int pidfd);

#endif
