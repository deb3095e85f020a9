/* SPDX-License-Identifier: ISC */
/*
 * The crypto-free half of the suite registry (twofold/suite.h): names, ids
 * and descriptions, linked into tf_base for the CLI and the device.conf
 * parser. The vtables are found from the same rows in crypto.c.
 */
#include <stdio.h>
#include <string.h>

#include "twofold/suite.h"

#define ROW(tag, id, name, brief, desc) {id, #name, brief, desc},
static const struct tf_suite_info tf_suite_infos[] = {TF_SUITES(ROW)};
#undef ROW

const struct tf_suite_info *tf_suite_info_at(size_t i)
{
	return i < TF_ARRAY_SIZE(tf_suite_infos) ? &tf_suite_infos[i] : NULL;
}

const struct tf_suite_info *tf_suite_info_by_name(const char *name)
{
	const struct tf_suite_info *si;

	if (name == NULL)
		return NULL;
	tf_suite_info_foreach(i, si) if (strcmp(si->name, name) == 0) return si;
	return NULL;
}

const struct tf_suite_info *tf_suite_info_by_id(uint8_t id)
{
	const struct tf_suite_info *si;

	tf_suite_info_foreach(i, si) if (si->id == id) return si;
	return NULL;
}

void tf_suite_names(char *buf, size_t cap, const char *sep)
{
	const struct tf_suite_info *si;
	size_t n = 0;

	if (cap == 0)
		return;
	buf[0] = '\0';
	tf_suite_info_foreach(i, si)
	{
		int w = snprintf(buf + n, cap - n, "%s%s", i ? sep : "",
				 si->name);
		if (w < 0 || (size_t)w >= cap - n)
			return;
		n += (size_t)w;
	}
}
