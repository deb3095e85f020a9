/* SPDX-License-Identifier: ISC */
/*
 * keys_try STATE PERSONA PIN: one tf_keys_unlock of PERSONA in the state
 * directory STATE (its device.conf and device secret) through the library,
 * without the daemon, which refuses to start over damaged key files. Used
 * by test_secdiscard.sh to try an old PIN against a carved old
 * sp.credential. Prints "unlock: <return value>" (0 or -errno).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/common.h"
#include "twofold/config.h"
#include "twofold/crypto.h"
#include "twofold/keys.h"

int main(int argc, char **argv)
{
	_cleanup_free_ char *text = NULL;
	struct tf_keystore *ks = NULL;
	struct tf_throttle_info ti;
	struct tf_config cfg;
	uint8_t key[TF_KEYS_FSKEY_BYTES];
	char err[256];
	uint64_t ns = 0;
	size_t len;
	int sfd, r;

	if (argc != 4)
		return 2;
	sfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || tf_crypto_init() < 0)
		return 2;
	tf_config_default(&cfg);
	r = tf_read_file_at(sfd, "device.conf", 1 << 20, &text, &len);
	if (r == 0)
		r = tf_config_parse(text, len, &cfg, err, sizeof(err));
	if (r < 0) {
		printf("device.conf: %d\n", r);
		return 1;
	}
	r = tf_keystore_open(sfd, tf_suite_by_name(cfg.suite), &cfg, &ks);
	if (r < 0) {
		printf("keystore: %d\n", r);
		return 1;
	}
	r = tf_keys_unlock(ks, argv[2], (const uint8_t *)argv[3],
			   strlen(argv[3]), key, &ti, &ns);
	printf("unlock: %d\n", r);
	tf_keystore_close(ks);
	return 0;
}
