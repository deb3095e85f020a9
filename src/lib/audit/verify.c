/* SPDX-License-Identifier: ISC */
/*
 * `twofold audit verify` (docs/audit.md "Verifying"): walk the whole log
 * from its first record, recompute every chain hash, check every MAC under
 * K_epoch derived from K_0 (when the verification key is given), every
 * checkpoint's signature and fields, and at the end compare with audit.key
 * (the state after the last checkpoint): a log that ends before it was cut.
 * The first problem is reported, naming the record.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "twofold/crypto.h"
#include "twofold/secmem.h"
#include "src/lib/audit/internal.h"

static int bad(struct tf_audit_verify_result *res, uint64_t seq,
	       const char *fmt, ...) TF_PRINTF(3, 4);
static int bad(struct tf_audit_verify_result *res, uint64_t seq,
	       const char *fmt, ...)
{
	va_list ap;

	res->bad_record = seq;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int check_checkpoint(const struct tf_suite *s,
			    const struct tf_audit_rec *rec,
			    const uint8_t prev_chain[32], const uint8_t *pk,
			    struct tf_audit_verify_result *res)
{
	const char *upto = tf_audit_field(rec, "upto");
	const char *chain = tf_audit_field(rec, "chain");
	const char *sig = tf_audit_field(rec, "sig");
	uint8_t c[32], sg[TF_SIG_MAX], msg[TF_AUDIT_SIGMSG_BYTES];
	size_t cn, sn;
	uint64_t u;

	if (strcmp(rec->type, "checkpoint") != 0 || upto == NULL ||
	    chain == NULL || sig == NULL ||
	    tf_parse_u64(upto, UINT64_MAX, &u) < 0 ||
	    tf_audit_unhex(chain, c, sizeof(c), &cn) < 0 || cn != 32 ||
	    tf_audit_unhex(sig, sg, sizeof(sg), &sn) < 0)
		return bad(res, rec->seq, "record %llu: malformed checkpoint",
			   (unsigned long long)rec->seq);
	if (rec->seq == 0 || u != rec->seq - 1 || memcmp(c, prev_chain, 32))
		return bad(res, rec->seq,
			   "record %llu: checkpoint does not cover the "
			   "records before it (edited or removed record)",
			   (unsigned long long)rec->seq);
	if (pk == NULL)
		return bad(res, rec->seq,
			   "record %llu: no signing key to check the "
			   "checkpoint against (log.created is missing)",
			   (unsigned long long)rec->seq);
	tf_audit_sigmsg(s->id, u, c, rec->epoch, msg);
	if (tf_verify(s, pk, msg, sizeof(msg), sg, sn) != 0)
		return bad(res, rec->seq,
			   "record %llu: checkpoint signature invalid (not "
			   "signed by this device's audit key)",
			   (unsigned long long)rec->seq);
	return 0;
}

/* the public key log.created names */
static int log_pk(const struct tf_suite *s, const struct tf_audit_rec *rec,
		  uint8_t pk[TF_PK_MAX])
{
	const char *h = tf_audit_field(rec, "pk");
	size_t n;

	if (strcmp(rec->type, "log.created") != 0 || h == NULL ||
	    tf_audit_unhex(h, pk, TF_PK_MAX, &n) < 0 || n != s->pk_bytes)
		return -EBADMSG;
	return 0;
}

static int walk(int fd, const struct tf_suite *s, uint8_t *k,
		const uint8_t *given_pk, struct tf_audit_verify_result *res,
		uint64_t *end_offset, uint32_t *epoch_out)
{
	static struct tf_audit_rec rec;
	_cleanup_free_ struct tf_audit_reader *rd = NULL;
	uint8_t chain[32], next[32], mac[32], pk[TF_PK_MAX];
	bool have_pk = false;
	uint32_t epoch = 0;
	uint64_t seq = 0, torn = 0;
	int r;

	rd = malloc(sizeof(*rd));
	if (rd == NULL)
		return -ENOMEM;
	r = tf_audit_reader_init(rd, fd);
	if (r == -ENODATA || r == -EBADMSG)
		return bad(res, 0, "not an audit log (bad or missing header)");
	if (r < 0)
		return r;
	if (rd->suite_id != s->id)
		return bad(res, 0, "the log names another crypto suite");
	r = tf_audit_chain0(s, s->id, chain);
	if (r < 0)
		return r;
	if (given_pk != NULL) {
		memcpy(pk, given_pk, s->pk_bytes);
		have_pk = true;
	}
	for (;;) {
		r = tf_audit_reader_next(rd, &rec, &torn);
		if (r == 0)
			break;
		if (r == -EAGAIN) {
			if (seq == 0)
				return bad(res, 0,
					   "torn tail before the first record "
					   "(crash?): %llu bytes",
					   (unsigned long long)torn);
			return bad(res, seq,
				   "torn tail after record %llu (crash?): "
				   "%llu bytes of a partial record",
				   (unsigned long long)(seq - 1),
				   (unsigned long long)torn);
		}
		if (r == -EBADMSG)
			return bad(res, seq,
				   "record %llu (byte %llu): malformed record",
				   (unsigned long long)seq,
				   (unsigned long long)rd->offset);
		if (r < 0)
			return r;
		if (rec.seq != seq)
			return bad(res, seq,
				   "record %llu: sequence number %llu where "
				   "%llu was expected (removed or reordered "
				   "record)",
				   (unsigned long long)seq,
				   (unsigned long long)rec.seq,
				   (unsigned long long)seq);
		r = tf_audit_chain_next(s, chain, rec.raw, rec.raw_len, next);
		if (r < 0)
			return r;
		if (memcmp(next, rec.chain, 32) != 0)
			return bad(res, seq,
				   "record %llu: chain hash mismatch (edited "
				   "or removed record)",
				   (unsigned long long)seq);
		if (rec.epoch != epoch)
			return bad(res, seq,
				   "record %llu: key epoch %u where %u was "
				   "expected (a checkpoint was removed)",
				   (unsigned long long)seq, rec.epoch, epoch);
		if (k != NULL) {
			r = tf_audit_mac(s, k, rec.raw, rec.raw_len, next, mac);
			if (r < 0)
				return r;
			if (tf_memeq_ct(mac, rec.mac, 32) != 0)
				return bad(res, seq,
					   "record %llu: MAC mismatch (edited "
					   "and re-hashed, or written with "
					   "another key)",
					   (unsigned long long)seq);
		}
		if (seq == 0) {
			uint8_t lpk[TF_PK_MAX];
			if (log_pk(s, &rec, lpk) < 0)
				return bad(res, 0,
					   "record 0: not log.created (the "
					   "start of the log was removed?)");
			if (have_pk && memcmp(lpk, pk, s->pk_bytes) != 0)
				return bad(res, 0,
					   "record 0: the log names another "
					   "signing key than the verification "
					   "file");
			memcpy(pk, lpk, s->pk_bytes);
			have_pk = true;
		}
		if (rec.kind == TF_AUDIT_CHECKPOINT) {
			r = check_checkpoint(s, &rec, chain,
					     have_pk ? pk : NULL, res);
			if (r < 0)
				return r;
			if (k != NULL) {
				r = tf_audit_advance(s, k);
				if (r < 0)
					return r;
			}
			epoch++;
			res->checkpoints++;
			res->last_checkpoint_seq = seq;
			res->last_checkpoint_realtime_ns = rec.realtime_ns;
		}
		memcpy(chain, next, 32);
		seq++;
		res->records = seq;
	}
	*end_offset = rd->offset;
	*epoch_out = epoch;
	return 0;
}

int tf_audit_verify(int statefd, const uint8_t *k0, const uint8_t *pk,
		    size_t pklen, struct tf_audit_verify_result *res)
{
	_cleanup_close_ int fd = -1;
	_cleanup_secure_ uint8_t *k = NULL;
	_cleanup_free_ char *kbuf = NULL;
	struct tf_audit_keystate ks;
	struct stat st;
	const struct tf_suite *s;
	uint8_t hdr[TF_AUDIT_HDR_BYTES], sid;
	uint64_t end = 0;
	uint32_t epoch = 0;
	size_t klen;
	int r;

	memset(res, 0, sizeof(*res));
	fd = openat(statefd, TF_AUDIT_LOG,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return tf_negerrno();
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode))
		return bad(res, 0, "%s is not a regular file", TF_AUDIT_LOG);
	if (tf_read_full(fd, hdr, sizeof(hdr)) != sizeof(hdr) ||
	    tf_audit_header_parse(hdr, sizeof(hdr), &sid) < 0)
		return bad(res, 0, "not an audit log (bad or missing header)");
	if (lseek(fd, 0, SEEK_SET) < 0)
		return tf_negerrno();
	s = tf_suite_by_id(sid);
	if (s == NULL)
		return bad(res, 0, "the log names an unknown crypto suite %u",
			   sid);
	if (pk != NULL && pklen != s->pk_bytes)
		return bad(res, 0,
			   "the verification file is for another crypto suite");
	if (k0 != NULL) {
		k = tf_secure_alloc(TF_KEY_BYTES);
		if (k == NULL)
			return -ENOMEM;
		memcpy(k, k0, TF_KEY_BYTES);
		res->have_key = true;
	}
	r = walk(fd, s, k, pk, res, &end, &epoch);
	if (r < 0)
		return r;

	/* the tail: audit.key says where the last checkpoint ended */
	r = tf_read_file_at(statefd, TF_AUDIT_KEY, 4096, &kbuf, &klen);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	res->have_state = true;
	r = tf_audit_keystate_parse((const uint8_t *)kbuf, klen, &ks);
	tf_memzero(kbuf, klen);
	if (r < 0)
		return bad(res, res->records, "audit.key is damaged");
	if (ks.epoch > epoch || ks.offset > end || ks.next_seq > res->records)
		return bad(res, res->records,
			   "truncated after checkpoint %u (record %llu): "
			   "audit.key says checkpoint %u ended at record %llu",
			   epoch, (unsigned long long)res->last_checkpoint_seq,
			   ks.epoch, (unsigned long long)(ks.next_seq - 1));
	if (ks.epoch < epoch)
		return bad(res, res->records,
			   "audit.key is older than the log (checkpoint %u of "
			   "%u): restored from a copy?",
			   ks.epoch, epoch);
	if (k != NULL && tf_memeq_ct(k, ks.k, TF_KEY_BYTES) != 0) {
		tf_memzero(ks.k, sizeof(ks.k));
		return bad(res, res->records,
			   "audit.key holds another key than this log's "
			   "verification key leads to");
	}
	tf_memzero(ks.k, sizeof(ks.k));
	return 0;
}
