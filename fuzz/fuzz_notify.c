/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: notification records (src/lib/common/notify.c), which the
 * daemon parses from every datagram a persona's notifier sends. Parse;
 * what parses must re-encode to the same bytes.
 * Invariants: no read outside the input; parsed fields are NUL-terminated,
 * bounded and in the allowed byte set (the re-encode checks the bounds).
 */
#include <stdlib.h>
#include <string.h>

#include "twofold/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[TF_NOTIFY_MAX];
	struct tf_notify n;
	ssize_t len;

	if (tf_notify_parse(data, size, &n) != 0)
		return 0;
	len = tf_notify_encode(&n, again, sizeof(again));
	if (len < 0 || (size_t)len != size || memcmp(again, data, size) != 0)
		abort();
	for (const char *p = n.summary; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	return 0;
}
