/* SPDX-License-Identifier: ISC */
/*
 * What bounds offline guessing when no TPM holds a credential persona's
 * secret: status says it in numbers (docs/keys.md "What bounds guessing
 * without a TPM"). With a copy of the disk a thief skips the throttle
 * file entirely, so each guess costs one Argon2id evaluation and nothing
 * else; the figures are an estimate of that cost on a GPU, not a
 * measurement.
 */
#include <stdio.h>

#include "twofold/keys.h"

#include "daemon.h"

/*
 * Argon2id is bound by memory bandwidth on a GPU: every pass after the
 * first reads two blocks and writes one per block, the first pass one
 * read fewer, so one guess moves (3 t - 1) * m bytes (Steve Thomas,
 * "Minimum Password Settings", tobtu.com, 2022). The bandwidth is an
 * RTX 5090's 1.79 TB/s, the fastest consumer GPU at the time of writing:
 * the estimate errs on the attacker's side.
 */
#define GPU_BYTES_PER_S 1.79e12

double tfd_gpu_guesses_per_s(uint32_t passes, uint64_t mem_kib)
{
	double moved = (3.0 * (passes ? passes : 1) - 1.0) * 1024.0 *
		       (double)(mem_kib ? mem_kib : 1);

	return GPU_BYTES_PER_S / moved;
}

void tfd_human_duration(double s, char *buf, size_t cap)
{
	if (s < 120)
		snprintf(buf, cap, "%.0f s", s);
	else if (s < 2 * 3600)
		snprintf(buf, cap, "%.0f min", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, cap, "%.0f h", s / 3600);
	else if (s < 2 * 365.25 * 86400)
		snprintf(buf, cap, "%.0f days", s / 86400);
	else
		snprintf(buf, cap, "%.0f years", s / (365.25 * 86400));
}

/* Text lines after the persona table, and ",\"offline_guessing\":[...]"
 * and ",\"allow_weak_credentials\":..." inside the top-level JSON object.
 * The costs are those stored in the persona's sp.credential (what a guess
 * against a copy of the disk really costs); before enrolment, the floor the
 * configuration allows (kdf_min_mem_mib, one pass): calibration never
 * stores less, so the rate printed is then an upper bound. */
void tfd_status_guessing(struct tfd *d, FILE *t, FILE *j)
{
	const struct tf_config *cfg = &d->cfg;
	uint32_t digits = cfg->pin_min_digits;
	double space = 1;
	bool first = true;
	char when[32];

	for (uint32_t i = 0; i < digits; i++)
		space *= 10;
	fputs(",\"offline_guessing\":[", j);
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = (struct tfd_persona *)&d->personas[i];
		uint32_t passes = 1, mem_kib = cfg->kdf_min_mem_mib * 1024u;
		const char *src = "the configured floor";
		double rate;

		if (!p->cfg->credential || cfg->tpm_tcti[0] != '\0')
			continue;
		/* while a job holds the key store, what it said last */
		if (d->ks && !tfd_keystore_busy(d))
			p->kdf_known = tf_keys_kdf_cost(d->ks, p->cfg->name,
							&p->kdf_passes,
							&p->kdf_mem_kib) == 0;
		if (p->kdf_known) {
			passes = p->kdf_passes;
			mem_kib = p->kdf_mem_kib;
			src = "as enrolled";
		}
		rate = tfd_gpu_guesses_per_s(passes, mem_kib);
		tfd_human_duration(space / rate, when, sizeof(when));
		fprintf(t,
			"%s: no TPM: a copy of the disk allows offline "
			"guessing at up to ~%.0f guesses/s per GPU (Argon2id "
			"%u MiB, %u pass%s, %s); a %u-digit PIN falls in at "
			"most ~%s\n",
			p->cfg->name, rate, mem_kib / 1024u, passes,
			passes == 1 ? "" : "es", src, digits, when);
		fprintf(j,
			"%s{\"persona\":\"%s\",\"tpm\":false,"
			"\"kdf_mem_kib\":%u,\"kdf_passes\":%u,"
			"\"kdf_enrolled\":%s,"
			"\"gpu_guesses_per_s\":%.0f,\"pin_digits\":%u,"
			"\"pin_exhausted_s\":%.0f}",
			first ? "" : ",", p->cfg->name, mem_kib, passes,
			src[0] == 'a' ? "true" : "false", rate, digits,
			space / rate);
		first = false;
	}
	fputc(']', j);
	if (cfg->allow_weak_credentials)
		fprintf(t,
			"WARNING: allow_weak_credentials = yes in device.conf: "
			"kdf_min_mem_mib = %u, pin_min_digits = %u accepted; "
			"for tests only, never on a device in use\n",
			cfg->kdf_min_mem_mib, cfg->pin_min_digits);
	fprintf(j, ",\"allow_weak_credentials\":%s",
		cfg->allow_weak_credentials ? "true" : "false");
}
