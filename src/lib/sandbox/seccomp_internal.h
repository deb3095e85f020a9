/* SPDX-License-Identifier: ISC */
/* The syscall tables of the app seccomp filter (seccomp.c), for the unit
 * test that checks them against docs/seccomp.md; not installed. */
#ifndef TWOFOLD_SANDBOX_SECCOMP_INTERNAL_H
#define TWOFOLD_SANDBOX_SECCOMP_INTERNAL_H

#include <stddef.h>

struct tf_seccomp_sys {
	const char *name;
	/* SCMP_SYS() value (a negative pseudo number for a syscall newer than
	 * the kernel headers), or a raw number; tf_seccomp_sys_nr() resolves */
	int nr;
};

enum tf_seccomp_list {
	TF_SC_ALLOW,	/* allowed with any arguments */
	TF_SC_FILTERED, /* allowed or denied by argument, or by layer */
	TF_SC_EPERM,	/* denied with EPERM */
	TF_SC_ENOSYS,	/* named denials that get the default ENOSYS */
};

const struct tf_seccomp_sys *tf_seccomp_list(enum tf_seccomp_list which,
					     size_t *n);
/* Argument values with a name: ioctl requests denied, prctl options
 * allowed. */
struct tf_seccomp_val {
	const char *name;
	unsigned long val;
};

enum tf_seccomp_vals {
	TF_SC_IOCTL_EPERM,
	TF_SC_PRCTL_OK,
};

const struct tf_seccomp_val *tf_seccomp_vals(enum tf_seccomp_vals which,
					     size_t *n);
/* The native syscall number, or -1 when this arch has no such syscall. */
int tf_seccomp_sys_nr(const struct tf_seccomp_sys *s);

#endif
