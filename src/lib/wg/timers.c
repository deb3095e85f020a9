/* SPDX-License-Identifier: ISC */
/*
 * WireGuard's timer rules (whitepaper 6.2-6.5, and the kernel's timers.c /
 * send.c keep_key_fresh) as one pure function of the events the engine
 * records: what is due now, and when to look again.
 */
#include "internal.h"

#define S(x) ((uint64_t)(x)*TF_WG_NSEC)

/* t0 + d, saturating (0 + d when t0 is "never" is not used by callers) */
static uint64_t at(uint64_t t0, uint64_t d)
{
	return t0 > UINT64_MAX - d ? UINT64_MAX : t0 + d;
}

static void consider(uint64_t *next, uint64_t when, uint64_t now)
{
	if (when > now && when < *next)
		*next = when;
}

unsigned tf_wg_timers_due(const struct tf_wg_timers *t, uint64_t now,
			  uint64_t *next)
{
	const uint64_t retry = S(TF_WG_REKEY_TIMEOUT) +
			       (uint64_t)TF_MIN(t->jitter_ms, 333u) * 1000000u;
	bool usable, may_initiate;
	unsigned due = 0;

	*next = UINT64_MAX;

	/* 3 * REJECT_AFTER_TIME without a new session: forget all keys */
	if (t->last_session != 0) {
		if (now >= at(t->last_session, S(3 * TF_WG_REJECT_AFTER_TIME)))
			due |= TF_WG_DO_WIPE;
		consider(next,
			 at(t->last_session, S(3 * TF_WG_REJECT_AFTER_TIME)),
			 now);
	}

	usable = t->session_birth != 0 &&
		 now < at(t->session_birth, S(TF_WG_REJECT_AFTER_TIME)) &&
		 t->session_sent < TF_WG_REJECT_AFTER_MESSAGES;
	if (t->session_birth != 0) {
		if (!usable)
			due |= TF_WG_DO_EXPIRE;
		consider(next, at(t->session_birth, S(TF_WG_REJECT_AFTER_TIME)),
			 now);
	}

	/* a handshake attempt in progress: retransmit every REKEY_TIMEOUT
	 * (+ jitter), give up after REKEY_ATTEMPT_TIME */
	if (t->handshaking) {
		uint64_t give_up =
			at(t->handshake_started, S(TF_WG_REKEY_ATTEMPT_TIME));

		if (now >= give_up) {
			due |= TF_WG_DO_GIVE_UP;
		} else {
			if (now >= at(t->handshake_sent, retry))
				due |= TF_WG_DO_INITIATE;
			consider(next, at(t->handshake_sent, retry), now);
			consider(next, give_up, now);
		}
	} else if (t->initiator) {
		/* never two initiations within REKEY_TIMEOUT */
		uint64_t rate = t->handshake_sent ? at(t->handshake_sent,
						       S(TF_WG_REKEY_TIMEOUT))
						  : 0;
		bool want = false;
		uint64_t when = UINT64_MAX;

		may_initiate = now >= rate;
		/* data waiting and no session to carry it */
		if (t->pending && !usable)
			want = true;
		if (t->session_birth != 0 &&
		    t->last_tx_data > t->handshake_sent) {
			/* keep_key_fresh on send: the counter is high, or we
			 * made this session and it is REKEY_AFTER_TIME old */
			if (t->session_sent >= TF_WG_REKEY_AFTER_MESSAGES)
				want = true;
			if (t->session_initiator &&
			    t->last_tx_data >= at(t->session_birth,
						  S(TF_WG_REKEY_AFTER_TIME)))
				want = true;
		}
		/* keep_key_fresh on receive: our session is about to be
		 * rejected (REJECT - KEEPALIVE - REKEY_TIMEOUT = 165 s) and the
		 * peer still talks */
		if (t->session_birth != 0 && t->session_initiator &&
		    t->last_rx_data > t->handshake_sent &&
		    t->last_rx_data >=
			    at(t->session_birth, S(TF_WG_REJECT_AFTER_TIME -
						   TF_WG_KEEPALIVE_TIMEOUT -
						   TF_WG_REKEY_TIMEOUT)))
			want = true;
		/* we sent data and heard nothing back within
		 * KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: the session may be dead */
		if (t->last_tx_data != 0 && t->last_tx_data > t->last_rx &&
		    t->last_tx_data > t->handshake_sent) {
			uint64_t d =
				at(t->last_tx_data, S(TF_WG_KEEPALIVE_TIMEOUT +
						      TF_WG_REKEY_TIMEOUT));

			if (now >= d)
				want = true;
			else
				when = d;
		}
		if (want) {
			if (may_initiate)
				due |= TF_WG_DO_INITIATE;
			else
				consider(next, rate, now);
		}
		consider(next, when, now);
	}

	if (usable) {
		/* passive keepalive: we received data and sent nothing back
		 * for KEEPALIVE_TIMEOUT */
		if (t->last_rx_data != 0 && t->last_rx_data > t->last_tx) {
			uint64_t d =
				at(t->last_rx_data, S(TF_WG_KEEPALIVE_TIMEOUT));

			if (now >= d)
				due |= TF_WG_DO_KEEPALIVE;
			consider(next, d, now);
		}
		/* persistent keepalive: persistent_keepalive seconds after
		 * the last authenticated packet in either direction */
		if (t->persistent_keepalive != 0) {
			uint64_t last = TF_MAX(TF_MAX(t->last_tx, t->last_rx),
					       t->session_birth);
			uint64_t d = at(last, S(t->persistent_keepalive));

			if (now >= d)
				due |= TF_WG_DO_KEEPALIVE;
			consider(next, d, now);
		}
	}
	return due;
}
