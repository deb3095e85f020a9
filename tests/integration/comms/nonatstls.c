/* SPDX-License-Identifier: ISC */
/*
 * Tests only (LD_PRELOAD): a libnats built without TLS, as far as
 * twofold-relay can tell. cnats' natsOptions_SetSecure answers
 * NATS_ILLEGAL_STATE ("library built without TLS") when it was compiled
 * without OpenSSL; Debian's is built with it, so test_nats_tls.sh
 * interposes this one to see the relay refuse to start.
 */
#include <nats/nats.h>

natsStatus natsOptions_SetSecure(natsOptions *opts, bool secure)
{
	(void)opts;
	return secure ? NATS_ILLEGAL_STATE : NATS_OK;
}
