/* SPDX-License-Identifier: ISC */
/* Backend selection for the relay's --store argument (store.h). */
#include <errno.h>
#include <string.h>

#include "store.h"

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
