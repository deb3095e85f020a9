/* SPDX-License-Identifier: ISC */
/*
 * Argon2id calibration: the per-guess cost a new credential protector gets
 * on this machine.
 */
#include <time.h>

#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/keys/internal.h"

#define KDF_MEM_MIB_CALIB_MAX 1024u /* calibration never goes above 1 GiB */

/* CPU time of the calling thread. Calibration measures this, not the wall
 * clock: a busy personal persona (or any other load) would otherwise make
 * each pass look slower and calibrate cheaper costs (256 -> 128 MiB was
 * seen on a loaded enroll). libsodium's Argon2id runs with one lane on the
 * calling thread, page faults included, so the thread's CPU time is the
 * cost an attacker's core pays per guess. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return tf_now_ns(); /* cannot happen on Linux >= 2.6.12 */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Argon2id cost for this machine: memory from kdf_min_mem_mib, doubled
 * while one pass stays under a quarter of the target (more memory is the
 * better defence against GPUs), then as many passes as fit the target.
 * The floor is the configuration: memory never below kdf_min_mem_mib
 * (64 MiB by default; only a device.conf that says lower, as the tests'
 * does, goes lower) and never fewer than TF_KDF_OPS_MIN passes. */
int tf_keys_calibrate(const struct tf_config *cfg, uint32_t *ops,
		      uint32_t *mem_kib)
{
	static const uint8_t pw[] = "calibration", salt[TF_SALT_BYTES] = {0};
	_cleanup_secure_ uint8_t *out = NULL;
	uint64_t target = (uint64_t)TF_MAX(cfg->kdf_target_ms, 1u) * 1000000ull;
	uint32_t mib = TF_MAX(cfg->kdf_min_mem_mib, 1u);
	uint64_t t, p;
	int r;

	mib = TF_MIN(mib, TF_KDF_MEM_KIB_MAX / 1024u);
	out = tf_secure_alloc(TF_KEY_BYTES);
	if (out == NULL)
		return -ENOMEM;
	for (;;) {
		uint64_t t0 = thread_cpu_ns();
		r = tf_pwhash(out, TF_KEY_BYTES, pw, sizeof(pw) - 1, salt, 1,
			      (size_t)mib << 20);
		if (r < 0)
			return r;
		t = TF_MAX(thread_cpu_ns() - t0, 1ull);
		if (t * 4 > target || mib * 2 > KDF_MEM_MIB_CALIB_MAX ||
		    mib * 2 > TF_KDF_MEM_KIB_MAX / 1024u)
			break;
		mib *= 2;
	}
	/* The one-pass timing includes faulting the memory in, which a
	 * multi-pass run pays only once: round, then check the real cost
	 * once and scale the passes if it lands well short of the target. */
	p = (target + t / 2) / t;
	p = TF_MIN(TF_MAX(p, (uint64_t)TF_KDF_OPS_MIN),
		   (uint64_t)TF_KDF_OPS_MAX);
	if (p > 1 || t * 2 < target) {
		uint64_t t0 = thread_cpu_ns(), m;
		r = tf_pwhash(out, TF_KEY_BYTES, pw, sizeof(pw) - 1, salt, p,
			      (size_t)mib << 20);
		if (r < 0)
			return r;
		m = TF_MAX(thread_cpu_ns() - t0, 1ull);
		if (m * 5 < target * 4) /* under 80 % of the target */
			p = TF_MIN((p * target + m / 2) / m,
				   (uint64_t)TF_KDF_OPS_MAX);
	}
	*ops = (uint32_t)TF_MAX(p, (uint64_t)TF_KDF_OPS_MIN);
	*mem_kib = TF_MAX(mib, TF_MAX(cfg->kdf_min_mem_mib, 1u)) * 1024u;
	return 0;
}
