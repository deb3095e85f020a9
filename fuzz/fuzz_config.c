/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: device.conf parser. Invariant: whatever parses also
 * validates, formats, and re-parses to the same configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "twofold/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tf_config a, b;
	char err[256];
	char *text = NULL;

	if (tf_config_parse((const char *)data, size, &a, err, sizeof(err)) < 0)
		return 0;
	if (tf_config_validate(&a, false, err, sizeof(err)) < 0)
		abort();
	if (tf_config_format(&a, &text) < 0)
		abort();
	if (tf_config_parse(text, strlen(text), &b, err, sizeof(err)) < 0)
		abort();
	if (a.n_personas != b.n_personas || a.n_devices != b.n_devices ||
	    memcmp(a.personas, b.personas, sizeof(a.personas)) != 0 ||
	    strcmp(a.suite, b.suite) != 0)
		abort();
	free(text);
	return 0;
}
