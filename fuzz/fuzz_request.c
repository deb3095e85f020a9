/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the daemon's request parser (tf_msg_parse) and the
 * accessors handlers use on its result. Invariants checked: a parsed
 * message's attributes lie inside the input, strings are NUL-terminated at
 * their end, and re-encoding the parsed attributes gives back the input.
 */
#include <stdlib.h>
#include <string.h>

#include "twofold/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tf_msg m;
	struct tf_msgbuf b;
	uint32_t u;

	if (tf_msg_parse(data, size, &m) < 0)
		return 0;
	tf_msgbuf_init(&b, m.type);
	for (size_t i = 0; i < m.n_attrs; i++) {
		const struct tf_attr_ref *a = &m.attrs[i];
		if (a->val < data || a->val + a->len > data + size)
			abort();
		if (a->type == TF_A_PERSONA && a->val[a->len - 1] != '\0')
			abort();
		tf_msgbuf_put(&b, a->type, a->val, a->len);
	}
	(void)tf_msg_str(&m, TF_A_PERSONA);
	(void)tf_msg_count(&m, TF_A_ARG);
	(void)tf_msg_u32(&m, TF_A_FLAGS, &u);
	if (tf_msgbuf_finish(&b) == 0 &&
	    (b.len != size || memcmp(b.data, data, size) != 0))
		abort();
	tf_msgbuf_free(&b);
	tf_msg_clear(&m);
	return 0;
}
