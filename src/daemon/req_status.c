/* SPDX-License-Identifier: ISC */
/* ping and status. Status is built here in both forms (text and JSON) so
 * the CLI stays a thin printer. */
#include <stdio.h>
#include <string.h>

#include "tf_config.h"
#include "twofold/keys.h"
#include "twofold/persona.h"
#include "twofold/storage.h"
#include "daemon.h"

enum tfd_disp tfd_req_ping(struct tfd *d, struct tfd_conn *c,
			   const struct tf_msg *m, struct tfd_persona *p,
			   struct tfd_reply *rep)
{
	tfd_reply_err(rep, 0, "twofoldd %s is serving %s", TF_VERSION,
		      d->state_dir);
	return TFD_REPLY_NOW;
}

static void human_bytes(uint64_t b, char *buf, size_t cap)
{
	if (b >= (1ull << 30))
		snprintf(buf, cap, "%.1f GiB", (double)b / (1 << 30));
	else if (b >= (1ull << 20))
		snprintf(buf, cap, "%.1f MiB", (double)b / (1 << 20));
	else
		snprintf(buf, cap, "%.0f KiB", (double)b / 1024);
}

/* JSON string: persona names and paths are validated/ours, but escape
 * anyway so the output is always well-formed. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* status KEY column: what the kernel says of the persona's key */
static const char *key_word(bool asked, enum tf_key_status ks)
{
	if (!asked)
		return "?";
	switch (ks) {
	case TF_KEY_ABSENT: return "no";
	case TF_KEY_PRESENT: return "yes";
	case TF_KEY_INCOMPLETELY_REMOVED: return "busy";
	default: return "?";
	}
}

static const char *key_status_name(bool asked, enum tf_key_status ks)
{
	if (!asked)
		return "unknown";
	switch (ks) {
	case TF_KEY_ABSENT: return "absent";
	case TF_KEY_PRESENT: return "present";
	case TF_KEY_INCOMPLETELY_REMOVED: return "incompletely_removed";
	default: return "unknown";
	}
}

/* "2d03h", "5h07m", "4m10s", "9s" */
static void human_secs(int64_t s, char *buf, size_t cap)
{
	if (s >= 86400)
		snprintf(buf, cap, "%lldd%02lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, cap, "%lldh%02lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, cap, "%lldm%02llds", (long long)(s / 60),
			 (long long)(s % 60));
	else
		snprintf(buf, cap, "%llds", (long long)s);
}

/* "  re-auth in 2d23h, idle evict in 4m10s" where those timers run */
static void print_timers(FILE *t, const struct tfd_persona *p)
{
	int64_t ra = tfd_reauth_left_s(p), id = tfd_idle_left_s(p);
	char b[24];

	if (ra >= 0) {
		human_secs(ra, b, sizeof(b));
		fprintf(t, "  re-auth in %s", b);
	}
	if (id >= 0) {
		human_secs(id, b, sizeof(b));
		fprintf(t, "%sidle evict in %s", ra >= 0 ? ", " : "  ", b);
	}
}

/* The schema of the status JSON object ("version") */
#define TFD_STATUS_SCHEMA 2

/* "  2 failed tries, next in 30 s": only once a try failed */
static void throttle_text(FILE *t, const struct tf_throttle_info *ti, bool have)
{
	if (!have || ti->failures == 0 || ti->erased)
		return;
	fprintf(t, "  %u failed tr%s, %u left", ti->failures,
		ti->failures == 1 ? "y" : "ies", ti->tries_left);
	if (ti->wait_seconds)
		fprintf(t, ", next try in %u s", ti->wait_seconds);
}

enum tfd_disp tfd_req_status(struct tfd *d, struct tfd_conn *c,
			     const struct tf_msg *m, struct tfd_persona *unused,
			     struct tfd_reply *rep)
{
	char *text = NULL, *json = NULL;
	size_t tlen = 0, jlen = 0;
	FILE *t, *j;
	uint64_t freeb = 0;
	uint32_t flags = 0;

	if (!tfd_streams_open(&t, &text, &tlen, &j, &json, &jlen)) {
		tfd_reply_fail(rep, -ENOMEM, TF_R_DAEMON_NOMEM, NULL,
			       "out of memory");
		return TFD_REPLY_NOW;
	}
	/* shared storage: its free bytes; an image per persona: the sum
	 * (each persona's own is in its entry) */
	if (d->storage && tf_storage_free_bytes(d->storage, &freeb) < 0)
		freeb = 0;
	for (size_t i = 0; d->storage == NULL && i < d->n_personas; i++) {
		uint64_t f = 0;
		if (d->personas[i].storage_own &&
		    tf_storage_free_bytes(d->personas[i].storage, &f) == 0)
			freeb += f;
	}
	if (tf_msg_u32(m, TF_A_FLAGS, &flags) == 0 && (flags & TF_F_LIST)) {
		for (size_t i = 0; i < d->n_personas; i++)
			fprintf(t, "%s %s%s\n", d->personas[i].cfg->name,
				tfd_pstate_name(d->personas[i].state),
				d->personas[i].foreground ? " foreground" : "");
		fclose(t);
		fclose(j);
		free(json);
		rep->text = text;
		rep->err = 0;
		return TFD_REPLY_NOW;
	}
	fprintf(t, "twofoldd %s  state %s  suite %s  up %.0f s\n", TF_VERSION,
		d->state_dir, d->cfg.suite,
		(double)(tf_now_ns() - d->started_ns) / 1e9);
	if (!tfd_guard_alive())
		fprintf(t, "key guard: DEAD; if twofoldd dies the keys stay in "
			   "the kernel (restart twofoldd)\n");
	fprintf(t, "%-12s %-14s %-4s %6s %10s %-4s\n", "PERSONA", "STATE", "FG",
		"PROCS", "MEMORY", "KEY");
	/* "version": the schema of this object (docs/twofold.1.md), bumped
	 * when a member changes meaning or goes; members are only added
	 * within one version */
	fprintf(j,
		"{\"version\":%d,\"twofoldd_version\":\"%s\","
		"\"state_dir\":",
		TFD_STATUS_SCHEMA, TF_VERSION);
	json_str(j, d->state_dir);
	fprintf(j,
		",\"suite\":\"%s\",\"uptime_s\":%.0f,"
		"\"storage_free_bytes\":%llu,\"guard\":%s,\"guard_pid\":%d,"
		"\"display\":\"%s\",\"lock_idle_seconds\":%u,"
		"\"personas\":[",
		d->cfg.suite, (double)(tf_now_ns() - d->started_ns) / 1e9,
		(unsigned long long)freeb, tfd_guard_alive() ? "true" : "false",
		(int)tfd_guard_pid(), d->cfg.display, d->cfg.lock_idle_seconds);
	for (size_t i = 0; i < d->n_personas; i++) {
		struct tfd_persona *p = &d->personas[i];
		struct tf_persona_stats st = {0};
		char procs[16] = "-", mem[24] = "-";
		enum tf_key_status ks = 0;
		/* the kernel's word, not our flag: a key we lost track of
		 * shows (and lock --evict can then remove it) */
		bool asked = tfd_key_sync(d, p, &ks) == 0;
		/* the lifecycle table's hint (lifecycle.c) */
		const char *h = tfd_lc_hint(p);
		bool have = p->rt && tf_persona_stats(p->rt, &st) == 0;
		struct tf_throttle_info ti = {0};
		/* the key store is a job's while an unlock runs: then the
		 * counter is not read (it is being changed anyway) */
		bool have_ti =
			p->cfg->credential && !tfd_keystore_busy(d) &&
			tf_keys_throttle_info(d->ks, p->cfg->name, &ti) == 0;

		if (have) {
			snprintf(procs, sizeof(procs), "%d", st.nprocs);
			human_bytes(st.memory_bytes, mem, sizeof(mem));
		}
		fprintf(t, "%-12s %-14s %-4s %6s %10s %-4s", p->cfg->name,
			tfd_pstate_name(p->state), p->foreground ? "*" : "",
			procs, mem, key_word(asked, ks));
		if (h)
			fprintf(t, "  (%s %s)", h, p->cfg->name);
		print_timers(t, p);
		tfd_notify_status(p, t, NULL);
		tfd_comms_status(p, t, NULL);
		throttle_text(t, &ti, have_ti);
		fputc('\n', t);
		fprintf(j, "%s{\"name\":", i ? "," : "");
		json_str(j, p->cfg->name);
		fprintf(j,
			",\"state\":\"%s\",\"foreground\":%s,"
			"\"credential\":%s,\"key_loaded\":%s",
			tfd_pstate_name(p->state),
			p->foreground ? "true" : "false",
			p->cfg->credential ? "true" : "false",
			p->key_loaded ? "true" : "false");
		fprintf(j, ",\"key_status\":\"%s\",\"evict_pending\":%s",
			key_status_name(asked, ks),
			p->evict_pending ? "true" : "false");
		if (h) {
			char hb[160];
			snprintf(hb, sizeof(hb), "%s %s", h, p->cfg->name);
			fputs(",\"hint\":", j);
			json_str(j, hb);
		}
		if (have_ti)
			fprintf(j,
				",\"throttle\":{\"failures\":%u,"
				"\"tries_left\":%u,\"wait_s\":%u}",
				ti.failures, ti.tries_left, ti.wait_seconds);
		if (p->evict_pending) {
			fputs(",\"evict_error\":", j);
			json_str(j, tfd_evict_reason(p));
		}
		{
			uint64_t f = 0;
			if (p->storage &&
			    tf_storage_free_bytes(p->storage, &f) == 0)
				fprintf(j,
					",\"storage_free_bytes\":%llu,"
					"\"storage_shared\":%s",
					(unsigned long long)f,
					p->storage_own ? "false" : "true");
		}
		if (have)
			fprintf(j, ",\"processes\":%d,\"memory_bytes\":%llu",
				st.nprocs, (unsigned long long)st.memory_bytes);
		if (p->rt)
			fprintf(j, ",\"init_pid\":%d",
				tf_persona_init_pid(p->rt));
		/* seconds until reauth_after / idle_evict_after evict it;
		 * absent when that timer does not run for it now */
		if (tfd_reauth_left_s(p) >= 0)
			fprintf(j, ",\"reauth_in_s\":%lld",
				(long long)tfd_reauth_left_s(p));
		if (tfd_idle_left_s(p) >= 0)
			fprintf(j, ",\"idle_evict_in_s\":%lld",
				(long long)tfd_idle_left_s(p));
		tfd_notify_status(p, NULL, j);
		tfd_comms_status(p, NULL, j);
		fputc('}', j);
	}
	fputc(']', j);
	{
		/* a call in the background holds the sound devices: the
		 * foreground persona has none of them meanwhile */
		const struct tfd_persona *ca = tfd_callaudio_holder(d);

		if (ca && !ca->foreground)
			fprintf(t,
				"audio: held by %s's call in the background "
				"(the foreground persona gets no sound "
				"device until it ends)\n",
				ca->cfg->name);
		fputs(",\"call_audio\":", j);
		if (ca)
			json_str(j, ca->cfg->name);
		else
			fputs("null", j);
	}
	tfd_status_guessing(d, t, j);
	tfd_audit_status(d, t, j);
	fputs("}\n", j);
	fclose(t);
	fclose(j);
	rep->text = text;
	rep->json = json;
	rep->err = 0;
	return TFD_REPLY_NOW;
}
