/* SPDX-License-Identifier: ISC */
/*
 * The audit log writer (docs/audit.md "Writing"). One record = one pwrite
 * at the end of the last good record; a failed or short write is cut off
 * again, so the file never keeps half a record that a later append would
 * bury. K_i lives in secure memory and in audit.key, which changes only at
 * a checkpoint: appends cost a hash, a MAC and a write (and an fdatasync
 * for TF_AUDIT_SYNC).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "twofold/atomicfile.h"
#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/audit/internal.h"

struct tf_audit {
	/* appends come from the daemon's loop and from a job's thread (the
	 * key store's erase events during an unlock or enroll): one record
	 * at a time, or two would share an offset and a chain link */
	pthread_mutex_t lock;
	int statefd, logfd;
	const struct tf_suite *s;
	struct tf_key *sk;
	uint8_t pk[TF_PK_MAX];
	uint8_t *k; /* K_epoch, TF_KEY_BYTES of secure memory */
	uint32_t epoch;
	uint64_t seq;	 /* of the next record */
	uint64_t offset; /* end of the last good record */
	uint8_t chain[32];
	uint64_t since_ckpt;
	uint64_t ckpt_bt_ns;
	uint8_t boot_id[16];
	struct tf_audit_opts o;
	int last_err;
	uint64_t failed;
};

static void whyf(char *why, size_t whylen, const char *fmt, ...)
	TF_PRINTF(3, 4);
static void whyf(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static void read_boot_id(uint8_t id[16])
{
	_cleanup_free_ char *text = NULL;
	size_t len, j = 0;

	memset(id, 0, 16);
	if (tf_read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64,
			    &text, &len) < 0)
		return; /* all zero: "unknown boot" */
	for (size_t i = 0; i < len && j < 32; i++) {
		char c = text[i];
		int v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			continue;
		id[j / 2] = (uint8_t)(j % 2 ? id[j / 2] | v : v << 4);
		j++;
	}
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Write audit.key for the current epoch, then overwrite the previous
 * file's bytes (its inode, through an fd kept open across the rename) so
 * the old K does not stay readable in a file: forward security is only
 * as good as this wipe (docs/audit.md "What a root attacker can do"). */
static int store_key(struct tf_audit *a)
{
	struct tf_audit_keystate ks = {.suite_id = a->s->id,
				       .epoch = a->epoch,
				       .next_seq = a->seq,
				       .offset = a->offset};
	uint8_t buf[TF_AUDIT_KEY_BYTES], zero[TF_AUDIT_KEY_BYTES] = {0};
	_cleanup_close_ int old = -1;
	int r;

	memcpy(ks.chain, a->chain, 32);
	memcpy(ks.k, a->k, 32);
	tf_audit_keystate_format(&ks, buf);
	tf_memzero(ks.k, sizeof(ks.k));
	old = openat(a->statefd, TF_AUDIT_KEY,
		     O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	r = tf_atomic_write_at(a->statefd, TF_AUDIT_KEY, buf, sizeof(buf),
			       0600);
	tf_memzero(buf, sizeof(buf));
	if (r < 0)
		return r;
	if (old >= 0 && (pwrite(old, zero, sizeof(zero), 0) != sizeof(zero) ||
			 fdatasync(old) < 0))
		return tf_negerrno();
	return 0;
}

/* One record at a->offset: chain, MAC, pwrite (cut off again on error). */
static int put_record(struct tf_audit *a, uint8_t kind,
		      const struct tf_audit_event *ev, bool sync)
{
	struct tf_audit_meta m = {.kind = kind,
				  .epoch = a->epoch,
				  .seq = a->seq,
				  .realtime_ns = realtime_ns(),
				  .boottime_ns = tf_boottime_ns()};
	uint8_t buf[TF_AUDIT_REC_MAX], chain[32];
	size_t len;
	ssize_t n;
	int r;

	memcpy(m.boot_id, a->boot_id, 16);
	r = tf_audit_encode(&m, ev, buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	r = tf_audit_chain_next(a->s, a->chain, buf, len, chain);
	if (r < 0)
		return r;
	memcpy(buf + len, chain, 32);
	r = tf_audit_mac(a->s, a->k, buf, len, chain, buf + len + 32);
	if (r < 0)
		return r;
	len += TF_AUDIT_TRAILER;
	if (tf_fault_injected("audit-enospc"))
		return -ENOSPC;
	n = pwrite(a->logfd, buf, len, (off_t)a->offset);
	if (n != (ssize_t)len) {
		r = n < 0 ? tf_negerrno() : -ENOSPC;
		(void)!ftruncate(a->logfd, (off_t)a->offset);
		return r;
	}
	if (sync && fdatasync(a->logfd) < 0) {
		r = tf_negerrno();
		(void)!ftruncate(a->logfd, (off_t)a->offset);
		return r;
	}
	a->offset += len;
	a->seq++;
	memcpy(a->chain, chain, 32);
	return 0;
}

static int checkpoint(struct tf_audit *a)
{
	uint8_t msg[TF_AUDIT_SIGMSG_BYTES], sig[TF_SIG_MAX];
	char upto[24], chainhex[65], sighex[2 * TF_SIG_MAX + 1];
	size_t siglen;
	int r;

	if (a->since_ckpt == 0)
		return 0;
	tf_audit_sigmsg(a->s->id, a->seq - 1, a->chain, a->epoch, msg);
	r = tf_sign(a->sk, msg, sizeof(msg), sig, sizeof(sig), &siglen);
	if (r < 0)
		return r;
	snprintf(upto, sizeof(upto), "%llu", (unsigned long long)(a->seq - 1));
	tf_audit_hex(a->chain, 32, chainhex);
	tf_audit_hex(sig, siglen, sighex);
	{
		const struct tf_audit_kv f[] = {
			{"upto", upto}, {"chain", chainhex}, {"sig", sighex}};
		const struct tf_audit_event ev = {.type = "checkpoint",
						  .uid = TF_AUDIT_NO_UID,
						  .n_fields = TF_ARRAY_SIZE(f),
						  .fields = f};
		r = put_record(a, TF_AUDIT_CHECKPOINT, &ev, true);
		if (r < 0)
			return r;
	}
	/* the checkpoint is durable under K_i: only now K_{i+1}, and K_i
	 * leaves memory and audit.key */
	r = tf_audit_advance(a->s, a->k);
	if (r < 0)
		return r;
	a->epoch++;
	a->since_ckpt = 0;
	a->ckpt_bt_ns = tf_boottime_ns();
	return store_key(a);
}

int tf_audit_checkpoint(struct tf_audit *a)
{
	int r;

	pthread_mutex_lock(&a->lock);
	r = checkpoint(a);
	pthread_mutex_unlock(&a->lock);
	return r;
}

int tf_audit_append(struct tf_audit *a, const struct tf_audit_event *ev,
		    unsigned flags)
{
	int r;

	pthread_mutex_lock(&a->lock);
	r = put_record(a, TF_AUDIT_EVENT, ev, flags & TF_AUDIT_SYNC);
	if (r < 0) {
		a->last_err = r;
		a->failed++;
		pthread_mutex_unlock(&a->lock);
		return r;
	}
	a->last_err = 0;
	a->since_ckpt++;
	if (a->since_ckpt >= a->o.checkpoint_records) {
		r = checkpoint(a);
		if (r < 0)
			a->last_err = r; /* the record is in; say it anyway */
	}
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int tf_audit_tick(struct tf_audit *a)
{
	int r = 0;

	pthread_mutex_lock(&a->lock);
	if (a->since_ckpt != 0 &&
	    tf_boottime_ns() - a->ckpt_bt_ns >=
		    (uint64_t)a->o.checkpoint_seconds * 1000000000ull)
		r = checkpoint(a);
	pthread_mutex_unlock(&a->lock);
	return r;
}

int tf_audit_last_error(const struct tf_audit *a, uint64_t *failed)
{
	if (a == NULL)
		return -ENODEV;
	if (failed)
		*failed = a->failed;
	return a->last_err;
}

uint64_t tf_audit_next_seq(const struct tf_audit *a)
{
	return a ? a->seq : 0;
}

void tf_audit_close(struct tf_audit *a)
{
	if (a == NULL)
		return;
	if (a->logfd >= 0 && a->k != NULL && checkpoint(a) < 0)
		a->failed++; /* nobody left to tell: the next open resumes */
	if (a->logfd >= 0)
		close(a->logfd);
	tf_secure_free(a->k);
	tf_key_free(a->sk);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static void audit_freep(struct tf_audit **a)
{
	if (*a == NULL)
		return;
	/* a half-open log: no checkpoint on the way out */
	if ((*a)->logfd >= 0)
		close((*a)->logfd);
	(*a)->logfd = -1;
	tf_secure_free((*a)->k);
	tf_key_free((*a)->sk);
	pthread_mutex_destroy(&(*a)->lock);
	free(*a);
	*a = NULL;
}

/* ---- creating ---- */

static int create_log(struct tf_audit *a, char *why, size_t whylen)
{
	uint8_t hdr[TF_AUDIT_HDR_BYTES] = {
		'T', 'F', 'A', 'L', TF_AUDIT_VERSION, a->s->id, 0, 0};
	uint8_t vf[TF_AUDIT_VERIFY_MAX];
	size_t pkl = a->s->pk_bytes;
	char pkhex[2 * TF_PK_MAX + 1];
	int r;

	r = tf_random(a->k, TF_KEY_BYTES);
	if (r < 0)
		return r;
	/* the verification file first: K_0 is never anywhere else once the
	 * first checkpoint advanced it */
	memcpy(vf, TF_AUDIT_VERIFY_MAGIC, 4);
	vf[4] = TF_AUDIT_VERSION;
	vf[5] = a->s->id;
	vf[6] = (uint8_t)pkl;
	vf[7] = 0;
	memcpy(vf + 8, a->k, 32);
	memcpy(vf + 40, a->pk, pkl);
	r = tf_atomic_write_at(a->statefd, TF_AUDIT_VERIFY, vf, 40 + pkl, 0600);
	tf_memzero(vf, sizeof(vf));
	if (r < 0) {
		whyf(why, whylen, "cannot write %s: %s", TF_AUDIT_VERIFY,
		     strerror(-r));
		return r;
	}
	a->epoch = 0;
	a->seq = 0;
	a->offset = TF_AUDIT_HDR_BYTES;
	r = tf_audit_chain0(a->s, a->s->id, a->chain);
	if (r < 0)
		return r;
	/* audit.key before audit.log: a crash between leaves a key state
	 * at "nothing written yet", which the next open recreates from */
	r = store_key(a);
	if (r == 0)
		r = tf_atomic_write_at(a->statefd, TF_AUDIT_LOG, hdr,
				       sizeof(hdr), 0600);
	if (r < 0) {
		whyf(why, whylen, "cannot create %s: %s", TF_AUDIT_LOG,
		     strerror(-r));
		return r;
	}
	a->logfd = openat(a->statefd, TF_AUDIT_LOG,
			  O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (a->logfd < 0)
		return tf_negerrno();
	tf_audit_hex(a->pk, pkl, pkhex);
	{
		const struct tf_audit_kv f[] = {{"suite", a->s->name},
						{"pk", pkhex}};
		const struct tf_audit_event ev = {.type = "log.created",
						  .uid = TF_AUDIT_NO_UID,
						  .n_fields = TF_ARRAY_SIZE(f),
						  .fields = f};
		r = put_record(a, TF_AUDIT_EVENT, &ev, true);
	}
	if (r < 0)
		return r;
	a->since_ckpt = 1;
	return checkpoint(a); /* K_0 leaves audit.key (not shared yet) */
}

/* ---- reopening ---- */

/* Walk the records after the last checkpoint with K_epoch; stop at the
 * first that is torn or does not check. *dropped: the bytes after it. */
static int resume(struct tf_audit *a, const struct tf_audit_keystate *ks,
		  uint64_t size, uint64_t *dropped, const char **reason)
{
	static struct tf_audit_rec rec; /* 9 KiB: not on the stack */
	struct tf_audit_reader *rd;
	uint8_t chain[32], mac[32];
	uint64_t torn = 0;
	int r;

	rd = malloc(sizeof(*rd));
	if (rd == NULL)
		return -ENOMEM;
	memset(rd, 0, sizeof(*rd));
	rd->fd = a->logfd;
	rd->suite_id = a->s->id;
	rd->offset = ks->offset;
	if (lseek(a->logfd, (off_t)ks->offset, SEEK_SET) < 0) {
		r = tf_negerrno();
		goto out;
	}
	*reason = "torn";
	for (;;) {
		r = tf_audit_reader_next(rd, &rec, &torn);
		if (r == 0 || r == -EAGAIN)
			break;
		if (r == -EBADMSG) {
			*reason = "malformed";
			break;
		}
		if (r < 0)
			goto out;
		if (rec.seq != a->seq || rec.epoch != a->epoch ||
		    rec.kind != TF_AUDIT_EVENT ||
		    tf_audit_chain_next(a->s, a->chain, rec.raw, rec.raw_len,
					chain) < 0 ||
		    memcmp(chain, rec.chain, 32) != 0 ||
		    tf_audit_mac(a->s, a->k, rec.raw, rec.raw_len, chain, mac) <
			    0 ||
		    tf_memeq_ct(mac, rec.mac, 32) != 0) {
			*reason = "bad";
			break;
		}
		a->seq++;
		a->since_ckpt++;
		memcpy(a->chain, chain, 32);
		a->offset = rd->offset;
	}
	*dropped = size - a->offset;
	r = 0;
out:
	free(rd);
	return r;
}

static int load_key(int statefd, struct tf_audit_keystate *ks)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = tf_read_file_at(statefd, TF_AUDIT_KEY, 4096, &buf, &len);
	if (r < 0)
		return r;
	r = tf_audit_keystate_parse((const uint8_t *)buf, len, ks);
	tf_memzero(buf, len);
	return r;
}

int tf_audit_open(int statefd, const struct tf_suite *s,
		  const uint8_t sign_seed[static 32],
		  const struct tf_audit_opts *o, struct tf_audit **out,
		  char *why, size_t whylen)
{
	_cleanup_(audit_freep) struct tf_audit *a = NULL;
	struct tf_audit_keystate ks = {0};
	uint8_t hdr[TF_AUDIT_HDR_BYTES], sid;
	uint64_t dropped = 0;
	const char *reason = "torn";
	struct stat st;
	int rk, r;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->logfd = -1;
	a->statefd = statefd;
	a->s = s;
	a->o.checkpoint_records =
		o && o->checkpoint_records ? o->checkpoint_records : 64;
	a->o.checkpoint_seconds =
		o && o->checkpoint_seconds ? o->checkpoint_seconds : 60;
	a->ckpt_bt_ns = tf_boottime_ns();
	read_boot_id(a->boot_id);
	a->k = tf_secure_alloc(TF_KEY_BYTES);
	if (a->k == NULL)
		return -ENOMEM;
	r = tf_key_sign_from_seed(s, sign_seed, &a->sk);
	if (r == 0)
		r = tf_key_public(a->sk, a->pk, sizeof(a->pk));
	if (r < 0) {
		whyf(why, whylen, "cannot derive the audit signing key: %s",
		     strerror(-r));
		return r;
	}

	rk = load_key(statefd, &ks);
	a->logfd =
		openat(statefd, TF_AUDIT_LOG,
		       O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (a->logfd < 0 && errno != ENOENT)
		return tf_negerrno();
	if (a->logfd >= 0) {
		struct stat lst;
		if (fstat(a->logfd, &lst) < 0)
			return tf_negerrno();
		if (!S_ISREG(lst.st_mode)) {
			whyf(why, whylen, "%s is not a regular file",
			     TF_AUDIT_LOG);
			return -EBADMSG;
		}
	}
	if (a->logfd < 0 &&
	    (rk == -ENOENT || (rk == 0 && ks.epoch == 0 && ks.next_seq == 0 &&
			       ks.offset == TF_AUDIT_HDR_BYTES))) {
		r = create_log(a, why, whylen);
		if (r < 0)
			return r;
		*out = steal_pointer(&a);
		return 0;
	}
	if (a->logfd < 0) {
		whyf(why, whylen,
		     "%s is missing but %s exists (removed?); move %s aside to "
		     "start a new log",
		     TF_AUDIT_LOG, TF_AUDIT_KEY, TF_AUDIT_KEY);
		return -EBADMSG;
	}
	if (rk < 0) {
		whyf(why, whylen,
		     rk == -ENOENT
			     ? "%s exists but %s is missing (removed?); "
			       "move %s aside to start a new log"
			     : "%s: %s is damaged; move %s aside to start "
			       "a new log",
		     TF_AUDIT_LOG, TF_AUDIT_KEY, TF_AUDIT_LOG);
		return rk == -ENOENT ? -EBADMSG : rk;
	}
	if (fstat(a->logfd, &st) < 0)
		return tf_negerrno();
	if (tf_read_full(a->logfd, hdr, sizeof(hdr)) != sizeof(hdr) ||
	    tf_audit_header_parse(hdr, sizeof(hdr), &sid) < 0) {
		whyf(why, whylen, "%s: not an audit log (bad header)",
		     TF_AUDIT_LOG);
		return -EBADMSG;
	}
	if (sid != s->id || ks.suite_id != s->id) {
		whyf(why, whylen, "%s belongs to another crypto suite",
		     TF_AUDIT_LOG);
		return -EPROTO;
	}
	if ((uint64_t)st.st_size < ks.offset) {
		whyf(why, whylen,
		     "%s ends at byte %llu, before its last checkpoint "
		     "(checkpoint %u, byte %llu): truncated; run `twofold "
		     "audit verify`, then move %s and %s aside",
		     TF_AUDIT_LOG, (unsigned long long)st.st_size, ks.epoch,
		     (unsigned long long)ks.offset, TF_AUDIT_LOG, TF_AUDIT_KEY);
		return -EBADMSG;
	}
	a->epoch = ks.epoch;
	a->seq = ks.next_seq;
	a->offset = ks.offset;
	memcpy(a->chain, ks.chain, 32);
	memcpy(a->k, ks.k, 32);
	tf_memzero(ks.k, sizeof(ks.k));
	r = resume(a, &ks, (uint64_t)st.st_size, &dropped, &reason);
	if (r < 0) {
		whyf(why, whylen, "cannot read %s: %s", TF_AUDIT_LOG,
		     strerror(-r));
		return r;
	}
	if (dropped > 0) {
		/* record first, then cut: the record overwrites the start of
		 * the dropped bytes, the truncate removes the rest; a crash
		 * in between leaves junk after it, recovered next time */
		char n[24];
		const struct tf_audit_kv f[] = {{"dropped_bytes", n},
						{"reason", reason}};
		const struct tf_audit_event ev = {.type = "log.recovered",
						  .uid = TF_AUDIT_NO_UID,
						  .n_fields = TF_ARRAY_SIZE(f),
						  .fields = f};
		snprintf(n, sizeof(n), "%llu", (unsigned long long)dropped);
		r = put_record(a, TF_AUDIT_EVENT, &ev, true);
		if (r == 0 && ftruncate(a->logfd, (off_t)a->offset) < 0)
			r = tf_negerrno();
		if (r == 0 && fdatasync(a->logfd) < 0)
			r = tf_negerrno();
		if (r < 0) {
			whyf(why, whylen, "cannot recover %s: %s", TF_AUDIT_LOG,
			     strerror(-r));
			return r;
		}
		a->since_ckpt++;
	}
	*out = steal_pointer(&a);
	return 0;
}
