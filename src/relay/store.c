/* SPDX-License-Identifier: ISC */
/* Backend selection for the relay's --store argument (store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "twofold/cert.h"
#include "twofold/e2e.h"

bool tf_store_addr_officer(const char *addr,
			   char officer[static TF_STORE_NAME_MAX + 1])
{
	size_t n = strnlen(addr, TF_STORE_NAME_MAX);
	const char *slash = memchr(addr, '/', n);
	size_t on = slash ? (size_t)(slash - addr) : n;

	memcpy(officer, addr, on);
	officer[on] = '\0';
	return slash != NULL;
}

int tf_store_bundle_device(const uint8_t *b, size_t len,
			   char device[static TF_STORE_DEVICE_MAX + 1])
{
	struct tf_e2e_bundle eb;
	struct tf_cert c;

	if (tf_e2e_bundle_parse(b, len, &eb) < 0 ||
	    tf_cert_parse(eb.cert, eb.certlen, &c) < 0)
		return -EINVAL;
	snprintf(device, TF_STORE_DEVICE_MAX + 1, "%s", c.device);
	return 0;
}

void tf_store_bundle_clear(struct tf_store_bundle *b)
{
	free(b->bundle);
	b->bundle = NULL;
	b->len = 0;
}

int tf_store_open(const char *spec, struct tf_store **out, char *why,
		  size_t whylen)
{
	static const char *const pg[] = {"postgres:", "postgresql:"};

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	for (size_t i = 0; i < TF_ARRAY_SIZE(pg); i++)
		if (!strncmp(spec, pg[i], strlen(pg[i])))
			return tf_store_open_pg(spec + strlen(pg[i]), out, why,
						whylen);
	if (!strncmp(spec, "sqlite:", 7))
		spec += 7;
	if (*spec == '\0')
		return -EINVAL;
	return tf_store_open_sqlite(spec, out);
}
