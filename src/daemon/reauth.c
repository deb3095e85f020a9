/* SPDX-License-Identifier: ISC */
/*
 * Re-authentication and inactivity (docs/keys.md "Re-authentication"):
 *
 *  - reauth_after: that long after the last successful credential unlock
 *    (a thaw with the credential counts), a credential persona that still
 *    holds its key is evicted (processes killed, key removed), so the
 *    credential is needed again. Android requires the primary credential
 *    every 72 h for the same reason: a phone taken unlocked, or kept
 *    screen-locked with its key in memory, does not stay openable by the
 *    key-in-memory attacks forever.
 *  - idle_evict_after: a running (or frozen) credential persona that has
 *    not been the foreground for that long is evicted: a secure persona
 *    nobody looked at since the morning has no business keeping its key.
 *
 * Both are measured on CLOCK_BOOTTIME, which counts time suspended
 * (CLOCK_MONOTONIC stops during suspend: a phone suspended for three days
 * would wake with its key and three days still to go). The 1 s timer
 * (tfd_timer_tick) checks; the resolution is that second.
 */
#include <time.h>

#include "twofold/log.h"
#include "daemon.h"

void tfd_reauth_stamp(struct tfd_persona *p)
{
	p->auth_bt_ns = p->active_bt_ns = tf_boottime_ns();
}

/* Its key may be in the kernel: what an eviction would take away. */
static bool holds_key(const struct tfd_persona *p)
{
	return p->key_loaded || p->rt != NULL;
}

static bool reauth_runs(const struct tfd_persona *p)
{
	return p->cfg->credential && p->cfg->reauth_after != 0 &&
	       holds_key(p) && !p->evict_pending;
}

static bool idle_runs(const struct tfd_persona *p)
{
	return p->cfg->credential && p->cfg->idle_evict_after != 0 &&
	       p->rt != NULL && !p->foreground && !p->evict_pending;
}

static int64_t left_s(uint64_t since_ns, uint32_t after_s, uint64_t now)
{
	uint64_t end = since_ns + (uint64_t)after_s * 1000000000ull;

	return end > now ? (int64_t)((end - now + 999999999ull) / 1000000000ull)
			 : 0;
}

int64_t tfd_reauth_left_s(const struct tfd_persona *p)
{
	if (!reauth_runs(p) || p->auth_bt_ns == 0)
		return -1;
	return left_s(p->auth_bt_ns, p->cfg->reauth_after, tf_boottime_ns());
}

int64_t tfd_idle_left_s(const struct tfd_persona *p)
{
	if (!idle_runs(p) || p->active_bt_ns == 0)
		return -1;
	return left_s(p->active_bt_ns, p->cfg->idle_evict_after,
		      tf_boottime_ns());
}

bool tfd_reauth_tick(struct tfd *d, struct tfd_persona *p)
{
	uint64_t now = tf_boottime_ns();

	if (!p->cfg->credential)
		return false;
	if (p->foreground && p->rt != NULL)
		p->active_bt_ns = now;
	/* a key loaded by a path that did not stamp (none today): its
	 * clocks start now rather than never */
	if (holds_key(p) && p->auth_bt_ns == 0)
		tfd_reauth_stamp(p);
	if (reauth_runs(p) &&
	    left_s(p->auth_bt_ns, p->cfg->reauth_after, now) == 0) {
		tf_info("%s: %u s since its last credential unlock "
			"(reauth_after): evicting; the credential is needed "
			"again",
			p->cfg->name, p->cfg->reauth_after);
		{
			int r;
			(void)tfd_halt(d, p, true, NULL, &r);
		}
		return true;
	}
	if (idle_runs(p) &&
	    left_s(p->active_bt_ns, p->cfg->idle_evict_after, now) == 0) {
		tf_info("%s: not the foreground for %u s (idle_evict_after): "
			"evicting",
			p->cfg->name, p->cfg->idle_evict_after);
		{
			int r;
			(void)tfd_halt(d, p, true, NULL, &r);
		}
		return true;
	}
	return false;
}
