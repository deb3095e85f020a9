/* SPDX-License-Identifier: ISC */
#ifndef TF_TUNNEL_INTERNAL_H
#define TF_TUNNEL_INTERNAL_H

#include "twofold/common.h"

/* Load the tunnel process's seccomp allowlist (after the privilege drop,
 * before the worker threads start: they inherit it). */
int tf_tunnel_seccomp(void);

#endif
