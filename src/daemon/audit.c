/* SPDX-License-Identifier: ISC */
/*
 * twofoldd's side of the audit log (docs/audit.md, include/twofold/audit.h):
 * open it once the key store is open (its checkpoint signing key comes from
 * the device secret), the one-line tfd_audit() the handlers call, the
 * key store's erase events, the 1 s checkpoint timer, and `twofoldd
 * --audit-verify` for `twofold audit verify`.
 *
 * A record that cannot be written (a full disk, an I/O error) never stops
 * the action it records: refusing an unlock or a lock-down because the
 * disk is full would turn a full disk into a lost phone or a key left in
 * the kernel. The daemon says so instead: once in its log when the log
 * starts failing (and once when it works again), and in `twofold status`
 * (an "audit:" line, "audit" in --json) for as long as it fails.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tf_config.h"
#include "twofold/audit.h"
#include "twofold/crypto.h"
#include "twofold/keys.h"
#include "twofold/log.h"
#include "daemon.h"

static void note_result(struct tfd *d, int r)
{
	if (r < 0 && d->audit_err == 0)
		tf_err("audit log: cannot write %s/%s: %s; security events "
		       "are not being recorded (see: twofold status)",
		       d->state_dir, TF_AUDIT_LOG, strerror(-r));
	else if (r == 0 && d->audit_err < 0)
		tf_info("audit log: writing again");
	d->audit_err = r;
}

/* fmt: "key=value" fields separated by tabs (values never hold a tab:
 * they are the daemon's own words, names and numbers) */
void tfd_audit(struct tfd *d, unsigned flags, const char *type,
	       const struct tfd_persona *p, const struct tfd_conn *c,
	       const char *fmt, ...)
{
	struct tf_audit_kv kv[TF_AUDIT_FIELDS_MAX];
	struct tf_audit_event ev = {.type = type,
				    .persona = p ? p->cfg->name : NULL,
				    .uid = TF_AUDIT_NO_UID,
				    .fields = kv};
	char buf[1536], *s, *save = NULL;
	va_list ap;

	if (d->audit == NULL)
		return;
	if (c != NULL) {
		/* the sender of the datagram (SCM_CREDENTIALS), which is
		 * what was authorised (server.c peer_allowed) */
		ev.uid = c->rd.creds_ok ? (uint32_t)c->rd.cred_uid
					: (uint32_t)c->uid;
		ev.pid = (uint32_t)c->pid;
	}
	buf[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
	}
	for (s = strtok_r(buf, "\t", &save);
	     s != NULL && ev.n_fields < TF_AUDIT_FIELDS_MAX;
	     s = strtok_r(NULL, "\t", &save)) {
		char *eq = strchr(s, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		kv[ev.n_fields].key = s;
		kv[ev.n_fields].value = eq + 1;
		ev.n_fields++;
	}
	note_result(d, tf_audit_append(d->audit, &ev, flags));
}

void tfd_audit_refused(struct tfd *d, const struct tfd_conn *c,
		       const char *request, const struct tfd_persona *p,
		       const struct tfd_reply *rep)
{
	/* unsynced: refusing changes nothing, and a client in a loop must
	 * not make the daemon fsync-bound */
	char reason[TF_REASON_MAX];

	tfd_reply_reason(rep, reason, sizeof(reason));
	tfd_audit(d, 0, "request.refused", p, c,
		  "request=%s\terrno=%d\treason=%s\tmessage=%s",
		  request ? request : "?", -rep->err, reason, rep->msg);
}

/* the key store's crypto-erase events: durable before the erase counts
 * as recorded (keys.h tf_keystore_set_audit) */
static int keystore_event(void *ctx, const char *persona, const char *event,
			  const char *detail)
{
	struct tfd *d = ctx;
	const struct tfd_persona *p = tfd_persona_find(d, persona);
	const struct tf_audit_kv kv[] = {{"detail", detail}};
	const struct tf_audit_event ev = {.type = event,
					  .persona = persona,
					  .uid = TF_AUDIT_NO_UID,
					  .n_fields = 1,
					  .fields = kv};
	int r;

	(void)p;
	if (d->audit == NULL)
		return 0; /* said at start-up; the erase must not wait */
	r = tf_audit_append(d->audit, &ev, TF_AUDIT_SYNC);
	note_result(d, r);
	return r;
}

void tfd_audit_open(struct tfd *d)
{
	uint8_t seed[32];
	char why[384] = "";
	int r;

	r = tf_keystore_audit_seed(d->ks, seed);
	if (r == 0)
		r = tf_audit_open(d->state_fd, d->suite, seed, NULL, &d->audit,
				  why, sizeof(why));
	tf_memzero(seed, sizeof(seed));
	if (r < 0) {
		d->audit = NULL;
		d->audit_err = r;
		tf_err("audit log: %s; security events are not being recorded "
		       "(see: twofold audit verify)",
		       why[0] ? why : strerror(-r));
		return;
	}
	tf_keystore_set_audit(d->ks, keystore_event, d);
	tfd_audit(d, TF_AUDIT_SYNC, "daemon.start", NULL, NULL,
		  "version=%s\tpid=%d\tsuite=%s", TF_VERSION, (int)getpid(),
		  d->cfg.suite);
	tfd_audit(d, TF_AUDIT_SYNC, "config.load", NULL, NULL,
		  "file=%s/device.conf\tpersonas=%zu\ttpm=%s", d->state_dir,
		  d->cfg.n_personas, d->cfg.tpm_tcti[0] ? "yes" : "no");
}

void tfd_audit_close(struct tfd *d)
{
	if (d->audit == NULL)
		return;
	tfd_audit(d, TF_AUDIT_SYNC, "daemon.stop", NULL, NULL, "pid=%d",
		  (int)getpid());
	if (d->ks)
		tf_keystore_set_audit(d->ks, NULL, NULL);
	tf_audit_close(d->audit); /* the clean-shutdown checkpoint */
	d->audit = NULL;
}

void tfd_audit_tick(struct tfd *d)
{
	if (d->audit != NULL && tf_audit_tick(d->audit) < 0)
		note_result(d, tf_audit_last_error(d->audit, NULL));
}

void tfd_audit_status(const struct tfd *d, FILE *t, FILE *j)
{
	uint64_t failed = 0;

	if (d->audit != NULL)
		(void)tf_audit_last_error(d->audit, &failed);
	/* the text line only when something is wrong: status stays as it
	 * was while the log works */
	if (d->audit == NULL)
		fprintf(t, "audit: NOT RECORDING: %s (see the daemon log)\n",
			strerror(-d->audit_err));
	else if (d->audit_err < 0)
		fprintf(t, "audit: FAILING: %s; %llu event(s) not recorded\n",
			strerror(-d->audit_err), (unsigned long long)failed);
	fprintf(j,
		",\"audit\":{\"recording\":%s,\"error\":%d,"
		"\"failed_events\":%llu,\"next_seq\":%llu}",
		d->audit != NULL && d->audit_err == 0 ? "true" : "false",
		-d->audit_err, (unsigned long long)failed,
		(unsigned long long)tf_audit_next_seq(d->audit));
}

/* ---- twofoldd --audit-verify [--key FILE] ---- */

static void fmt_time(uint64_t ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "%llu", (unsigned long long)t);
}

int tfd_audit_verify_main(const char *state, const char *keyfile)
{
	_cleanup_close_ int sfd = -1;
	_cleanup_free_ char *kbuf = NULL;
	struct tf_audit_verify_result res;
	uint8_t k0[32], pk[65], sid = 0;
	size_t klen = 0, pklen = sizeof(pk);
	bool have = false;
	char when[40];
	int r;

	sfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "twofold: audit verify: cannot open %s: %s\n",
			state, strerror(errno));
		return 2;
	}
	r = tf_read_file_at(keyfile ? AT_FDCWD : sfd,
			    keyfile ? keyfile : TF_AUDIT_VERIFY, 4096, &kbuf,
			    &klen);
	if (r == 0) {
		r = tf_audit_verify_file_parse((const uint8_t *)kbuf, klen,
					       &sid, k0, pk, &pklen);
		tf_memzero(kbuf, klen);
		if (r < 0) {
			fprintf(stderr,
				"twofold: audit verify: %s is not an audit "
				"verification key\n",
				keyfile ? keyfile : TF_AUDIT_VERIFY);
			return 2;
		}
		have = true;
	} else if (keyfile != NULL || r != -ENOENT) {
		fprintf(stderr, "twofold: audit verify: cannot read %s: %s\n",
			keyfile ? keyfile : TF_AUDIT_VERIFY, strerror(-r));
		return 2;
	}
	r = tf_audit_verify(sfd, have ? k0 : NULL, have ? pk : NULL,
			    have ? pklen : 0, &res);
	tf_memzero(k0, sizeof(k0));
	if (r == -ENOENT) {
		fprintf(stderr,
			"twofold: audit verify: %s/%s does not exist (twofoldd "
			"creates it when it starts)\n",
			state, TF_AUDIT_LOG);
		return 1;
	}
	if (r == -EBADMSG) {
		printf("audit log NOT verified: %s\n", res.why);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr,
			"twofold: audit verify: cannot read %s/%s: %s\n", state,
			TF_AUDIT_LOG, strerror(-r));
		return 1;
	}
	fmt_time(res.last_checkpoint_realtime_ns, when, sizeof(when));
	printf("audit log verified: %llu records, %llu checkpoints, last "
	       "checkpoint at record %llu (%s)\n",
	       (unsigned long long)res.records,
	       (unsigned long long)res.checkpoints,
	       (unsigned long long)res.last_checkpoint_seq, when);
	if (!have)
		printf("note: no verification key (%s or --key FILE): chain "
		       "hashes and checkpoint signatures were checked, the "
		       "MACs were not\n",
		       TF_AUDIT_VERIFY);
	if (res.records > 0 && res.last_checkpoint_seq + 1 < res.records)
		printf("note: the %llu record(s) after the last checkpoint "
		       "are protected by the chain and the MAC only\n",
		       (unsigned long long)(res.records - 1 -
					    res.last_checkpoint_seq));
	return 0;
}
