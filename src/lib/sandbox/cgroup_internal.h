/* SPDX-License-Identifier: ISC */
/* Shared between cgroup.c and cgroup_dev.c; not installed. */
#ifndef TWOFOLD_SANDBOX_CGROUP_INTERNAL_H
#define TWOFOLD_SANDBOX_CGROUP_INTERNAL_H

#include <inttypes.h>

#include "twofold/sandbox.h"

/* Hierarchies a persona cgroup can live in. H_V2 is the cgroup2 one: the
 * whole tree on a unified host, /sys/fs/cgroup/unified on a hybrid one. */
enum { H_V2, H_MEMORY, H_PIDS, H_CPU, H_DEVICES, H_FREEZER, H_N };

struct tf_cgroup {
	enum tf_cg_layout layout; /* 0 on a pure v1 host */
	int fd[H_N];		  /* persona dir in each hierarchy, or -1 */
	int bpf_prog;		  /* device program we attached, or -1 */
	/* hybrid: bpf_prog holds only keep rules (tf_cgroup_device_set_keep)
	 * beside the v1 controller, and goes when they do */
	bool bpf_keep_only;
	char group[65];
	char persona[33];
};

/* One write() of val to dfd/file. */
int cg_write(int dfd, const char *file, const char *val);

#endif
