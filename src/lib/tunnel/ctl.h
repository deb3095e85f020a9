/* SPDX-License-Identifier: ISC */
/*
 * The tunnel process's end of the control protocol (twofold/tunnel.h):
 * receiving CONFIG with its fds, checking it, sending STATUS. Internal;
 * tests/unit/tunnel checks the validation.
 */
#ifndef TF_TUNNEL_CTL_H
#define TF_TUNNEL_CTL_H

#include "twofold/tunnel.h"

/* Check a received CONFIG: exact size, type, version, suite, key length
 * for the suite, queue count, MTU, and nfds == n_tun + 1. On -EINVAL a
 * one-line reason (no key material) in why. */
int tf_tunctl_config_check(const struct tf_tunctl_config *c, size_t len,
			   size_t nfds, char *why, size_t whycap);

/* recvmsg one CONFIG from ctl into *c (blocking) with its SCM_RIGHTS fds
 * (O_CLOEXEC) in fds (cap TF_TUNCTL_MAX_QUEUES + 1), their count in
 * *nfds. Every fd received is closed again on failure. Returns 0, -EIO
 * (closed), -EINVAL (checked as above; why says why). */
int tf_tunctl_recv_config(int ctl, struct tf_tunctl_config *c, int *fds,
			  size_t *nfds, char *why, size_t whycap);

/* A STATUS_REQ: exact size 8 (type, version). */
int tf_tunctl_req_check(const void *msg, size_t len);

#endif
