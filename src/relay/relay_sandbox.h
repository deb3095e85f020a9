/* SPDX-License-Identifier: ISC */
/* twofold-relay's privilege drop and syscall filter (sandbox.c). */
#ifndef TWOFOLD_RELAY_SANDBOX_H
#define TWOFOLD_RELAY_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "twofold/common.h"

/* Before any thread starts: when drop, become uid/gid with no
 * capabilities (tf_privs_drop + tf_caps_drop_all, which prove the change
 * cannot be undone); always no_new_privs, not dumpable, and the relay's
 * seccomp allowlist (with nats, also socket() for the NATS client). 0 or
 * -errno. */
TF_WUR int relay_sandbox(bool drop, uid_t uid, gid_t gid, bool nats);

#endif
