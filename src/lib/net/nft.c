/* SPDX-License-Identifier: ISC */
/*
 * Firewall rulesets through libnftables (include/twofold/net.h). The nft
 * context opens its netlink socket in the namespace it is created in, so
 * it is made, used and freed while inside nsfd. One ruleset text is one
 * netlink batch: the kernel applies all of it or none.
 */
#include <nftables/libnftables.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"
#include "twofold/net.h"

/* libnftables 1.0.6 keeps some state process-wide (its parser's symbol
 * tables, the gmp allocator hooks): one context at a time. */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

static void first_line(const char *s, char *err, size_t errlen)
{
	size_t n;
	if (!err || errlen == 0)
		return;
	if (!s)
		s = "";
	/* nft starts with "Error: ..."; the lines after it quote the
	 * ruleset and point at the column */
	n = strcspn(s, "\n");
	if (n >= errlen)
		n = errlen - 1;
	memcpy(err, s, n);
	err[n] = '\0';
	if (n == 0)
		snprintf(err, errlen, "nft refused the ruleset");
}

static int run(int nsfd, const char *text, bool json, char *err, size_t errlen,
	       char **out)
{
	struct nft_ctx *ctx;
	int old = -1, r;
	pthread_mutex_lock(&nft_lock);
	r = tf_net_enter_opt(nsfd, &old);
	if (r < 0)
		goto unlock;
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		r = -ENOMEM;
		goto leave;
	}
	nft_ctx_buffer_error(ctx);
	nft_ctx_buffer_output(ctx);
	if (json)
		nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	if (nft_run_cmd_from_buffer(ctx, text) != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		/* the kernel's answer (EPERM outside our namespace) comes
		 * back as text only */
		r = e && strstr(e, "Operation not permitted") ? -EPERM
							      : -EINVAL;
		first_line(e, err, errlen);
	} else if (out) {
		const char *o = nft_ctx_get_output_buffer(ctx);
		*out = strdup(o ? o : "");
		if (!*out)
			r = -ENOMEM;
	}
	nft_ctx_free(ctx);
leave:
	tf_net_leave_opt(&old);
unlock:
	pthread_mutex_unlock(&nft_lock);
	return r;
}

int tf_nft_apply(int nsfd, const char *ruleset, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	return run(nsfd, ruleset, false, err, errlen, NULL);
}

int tf_nft_json(int nsfd, const char *cmd, char **out)
{
	char *o = NULL;
	char err[256];
	int r = run(nsfd, cmd, true, err, sizeof(err), &o);
	if (r < 0)
		return r;
	*out = o;
	return 0;
}
