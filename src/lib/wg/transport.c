/* SPDX-License-Identifier: ISC */
/*
 * Transport data messages (whitepaper 5.4.6) and the replay window: the
 * per-packet path. No allocation (the gm handles are opened once per
 * slot), no lock but the replay window's short spin, thread-safe.
 */
#include <sodium.h>
#include <string.h>

#include "internal.h"
#include "twofold/secmem.h"

/* ---- replay window (RFC 6479; the kernel's counter_validate) ---- */

void wg_replay_init(struct wg_replay *r)
{
	atomic_flag_clear(&r->lock);
	r->greatest = 0;
	memset(r->bitmap, 0, sizeof(r->bitmap));
}

bool wg_replay_check(struct wg_replay *r, uint64_t counter)
{
	uint64_t index, index_current, top, bit;
	bool ok = false;

	if (counter >= TF_WG_REJECT_AFTER_MESSAGES)
		return false;
	while (atomic_flag_test_and_set_explicit(&r->lock,
						 memory_order_acquire))
		;
	/* stored +1 so that 0 means "nothing received yet" */
	counter++;
	if (counter + WG_REPLAY_WINDOW < r->greatest)
		goto out; /* too old */
	index = counter >> 6;
	if (counter > r->greatest) {
		/* slide: clear the words between the old top and the new */
		index_current = r->greatest >> 6;
		top = TF_MIN(index - index_current, (uint64_t)WG_REPLAY_WORDS);
		for (uint64_t i = 1; i <= top; i++)
			r->bitmap[(i + index_current) & (WG_REPLAY_WORDS - 1)] =
				0;
		r->greatest = counter;
	}
	index &= WG_REPLAY_WORDS - 1;
	bit = 1ull << (counter & 63);
	ok = !(r->bitmap[index] & bit);
	r->bitmap[index] |= bit;
out:
	atomic_flag_clear_explicit(&r->lock, memory_order_release);
	return ok;
}

/* ---- keypairs ---- */

void tf_wg_keypair_free(struct tf_wg_keypair *kp)
{
	if (kp == NULL)
		return;
	wg_gm_slots_close(kp->send_slot);
	wg_gm_slots_close(kp->recv_slot);
	tf_secure_free(kp);
}

void tf_wg_keypair_info(const struct tf_wg_keypair *kp,
			struct tf_wg_keypair_info *info)
{
	info->suite = kp->s->id;
	info->is_initiator = kp->is_initiator;
	info->local_index = kp->local_index;
	info->remote_index = kp->remote_index;
	info->birth = kp->birth;
	info->send_counter = atomic_load_explicit(
		(_Atomic uint64_t *)&kp->send_counter, memory_order_relaxed);
}

void tf_wg_test_set_send_counter(struct tf_wg_keypair *kp, uint64_t counter)
{
	atomic_store(&kp->send_counter, counter);
}

static bool too_old(const struct tf_wg_keypair *kp, uint64_t now)
{
	return now < kp->birth ||
	       now - kp->birth >=
		       (uint64_t)TF_WG_REJECT_AFTER_TIME * TF_WG_NSEC;
}

/* ---- encrypt / decrypt ---- */

int tf_wg_encrypt(struct tf_wg_keypair *kp, const uint8_t *pt, size_t len,
		  size_t mtu, uint64_t now, uint8_t *out, size_t cap)
{
	size_t padded;
	uint64_t counter;
	uint8_t *body = out + TF_WG_TRANSPORT_HEADER_BYTES;
	int r;

	if (len > 0 && pt == NULL)
		return -EINVAL;
	/* pad to a multiple of 16 (hides exact lengths), never beyond the
	 * MTU unless the packet itself already is */
	padded = (len + TF_WG_PADDING - 1) & ~(size_t)(TF_WG_PADDING - 1);
	if (padded > TF_MAX(len, mtu))
		padded = TF_MAX(len, mtu);
	if (padded > (size_t)INT32_MAX - TF_WG_TRANSPORT_OVERHEAD)
		return -EMSGSIZE;
	if (cap < padded + TF_WG_TRANSPORT_OVERHEAD)
		return -ENOBUFS;
	if (too_old(kp, now))
		return -ESTALE;
	counter = atomic_fetch_add_explicit(&kp->send_counter, 1,
					    memory_order_relaxed);
	if (counter >= TF_WG_REJECT_AFTER_MESSAGES) {
		/* keep it pinned past the limit (no wrap, ever) */
		atomic_store(&kp->send_counter, TF_WG_REJECT_AFTER_MESSAGES);
		return -ESTALE;
	}
	/* in place (pt == body) works: both AEADs allow c == m; memmove
	 * handles any other overlap */
	if (len > 0 && pt != body)
		memmove(body, pt, len);
	memset(body + len, 0, padded - len);
	tf_put_le32(out, kp->s->type_base + TF_WG_MSG_TRANSPORT);
	tf_put_le32(out + 4, kp->remote_index);
	tf_put_le64(out + 8, counter);
	if (kp->s->id == TF_SUITE_GM)
		r = wg_gm_transport_seal(kp->send_slot, kp->send_key, counter,
					 body, body, padded);
	else
		r = kp->s->aead_seal(body, kp->send_key, counter, body, padded,
				     NULL, 0);
	if (r < 0)
		return r;
	return (int)(padded + TF_WG_TRANSPORT_OVERHEAD);
}

int tf_wg_decrypt(struct tf_wg_keypair *kp, const uint8_t *msg, size_t len,
		  uint64_t now, uint8_t *out, size_t cap)
{
	uint8_t suite;
	uint64_t counter;
	size_t n;
	int r;

	if (tf_wg_msg_type(msg, len, &suite) != TF_WG_MSG_TRANSPORT)
		return -EBADMSG;
	if (suite != kp->s->id)
		return -EPROTO;
	if (tf_get_le32(msg + 4) != kp->local_index)
		return -EINVAL;
	n = len - TF_WG_TRANSPORT_OVERHEAD;
	if (n > (size_t)INT32_MAX)
		return -EMSGSIZE;
	if (cap < n)
		return -ENOBUFS;
	if (too_old(kp, now))
		return -ESTALE;
	counter = tf_get_le64(msg + 8);
	if (counter >= TF_WG_REJECT_AFTER_MESSAGES)
		return -EALREADY;
	if (kp->s->id == TF_SUITE_GM)
		r = wg_gm_transport_open(kp->recv_slot, kp->recv_key, counter,
					 out,
					 msg + TF_WG_TRANSPORT_HEADER_BYTES,
					 len - TF_WG_TRANSPORT_HEADER_BYTES);
	else
		r = kp->s->aead_open(out, kp->recv_key, counter,
				     msg + TF_WG_TRANSPORT_HEADER_BYTES,
				     len - TF_WG_TRANSPORT_HEADER_BYTES, NULL,
				     0);
	if (r < 0)
		return r;
	/* the window is updated only for authenticated packets, so a forged
	 * counter cannot slide it */
	if (!wg_replay_check(&kp->replay, counter)) {
		sodium_memzero(out, n);
		return -EALREADY;
	}
	return (int)n;
}
