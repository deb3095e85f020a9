/* SPDX-License-Identifier: ISC */
/* TEMPORARY: stands for tf_tunnel_main() (src/lib/tunnel, h-engine) until
 * that lands; it runs no data path and exits at once. Deleted at the
 * merge. */
#include <unistd.h>

#include "twofold/tunnel.h"

void tf_tunnel_main(int ctl)
{
	(void)ctl;
	_exit(70);
}
