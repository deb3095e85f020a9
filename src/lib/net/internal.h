/* SPDX-License-Identifier: ISC */
#ifndef TF_NET_INTERNAL_H
#define TF_NET_INTERNAL_H

#include "twofold/common.h"

/* tf_netns_enter unless nsfd < 0 (the caller's namespace: *oldfd = -1) */
int tf_net_enter_opt(int nsfd, int *oldfd);
/* back to *oldfd if entered; keeps errno */
void tf_net_leave_opt(int *oldfd);

#endif
