/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay's message store (issue 15): one interface, backends behind
 * a vtable (SQLite in WAL mode, store_sqlite.c; PostgreSQL 15,
 * store_pg.c). The relay stores
 * end-to-end encrypted blobs it cannot read, for recipients that are
 * offline.
 *
 * Contract, every backend:
 *  - tf_store_put returns only after the message is durable (committed
 *    and synced): only then may the relay acknowledge it to the sender.
 *  - a message is named by (sender, client-chosen 16-byte id): a retry of
 *    one already stored, or already delivered and acknowledged, returns
 *    TF_STORE_DUPLICATE and stores nothing (the recipient never sees it
 *    twice).
 *  - tf_store_next gives a recipient's messages in arrival order (so one
 *    sender's order is kept); tf_store_ack deletes one after the
 *    recipient acknowledged it, keeping a tombstone of its id until
 *    tf_store_expire drops tombstones older than the retry horizon.
 * Ids (officer ids) are at most TF_CERT_ID_MAX bytes; blobs at most
 * TF_STORE_BLOB_MAX. Errors -errno: -ENOSPC for a full disk (the sender
 * is told to retry later), -EIO for anything else the backend reports.
 */
#ifndef TWOFOLD_RELAY_STORE_H
#define TWOFOLD_RELAY_STORE_H

#include "twofold/common.h"

#define TF_STORE_ID_BYTES 16
#define TF_STORE_BLOB_MAX 65536
#define TF_STORE_NAME_MAX 64
#define TF_STORE_OPK_MAX 200	/* unused one-time prekeys per officer */
#define TF_STORE_OPK_TOMBS 1000 /* handed-out ones remembered */
#define TF_STORE_STORED 0
#define TF_STORE_DUPLICATE 1

struct tf_store;

struct tf_stored_msg {
	int64_t seq; /* arrival order */
	uint8_t id[TF_STORE_ID_BYTES];
	char sender[TF_STORE_NAME_MAX + 1];
	uint8_t *blob; /* malloc'ed; tf_stored_msg_clear frees it */
	size_t len;
};

/* One message of a group commit (tf_store_put_many). */
struct tf_store_put_item {
	const char *sender, *recipient;
	const uint8_t *id; /* TF_STORE_ID_BYTES */
	const uint8_t *blob;
	size_t len;
	int result; /* out: TF_STORE_STORED, TF_STORE_DUPLICATE or -EINVAL */
};

struct tf_store_ops {
	const char *name;
	int (*put_many)(struct tf_store *st, struct tf_store_put_item *items,
			size_t n, int64_t now);
	int (*put)(struct tf_store *st, const char *sender,
		   const uint8_t id[TF_STORE_ID_BYTES], const char *recipient,
		   const uint8_t *blob, size_t len, int64_t now);
	int (*next)(struct tf_store *st, const char *recipient,
		    int64_t after_seq, struct tf_stored_msg *out);
	int (*ack)(struct tf_store *st, const char *recipient,
		   const char *sender, const uint8_t id[TF_STORE_ID_BYTES],
		   int64_t now);
	int (*expire)(struct tf_store *st, int64_t before);
	int (*count)(struct tf_store *st, const char *recipient);
	int (*prekey_put)(struct tf_store *st, const char *officer,
			  const uint8_t *base, size_t baselen,
			  const uint8_t *opks, size_t n, size_t opklen);
	int (*prekey_take)(struct tf_store *st, const char *officer,
			   uint8_t **base, size_t *baselen, uint8_t *opk,
			   size_t opkcap, size_t *opklen);
	void (*close)(struct tf_store *st);
};

struct tf_store {
	const struct tf_store_ops *ops;
};

/* SQLite in WAL mode, synchronous=FULL: one file (and its -wal, -shm). */
TF_WUR int tf_store_open_sqlite(const char *path, struct tf_store **out)
	TF_NONNULL(1, 2);
/* PostgreSQL 15 through libpq: conninfo is a libpq connection string or
 * URI (it may hold a password: it is copied, zeroed on close, never put
 * in why). On failure why (when not NULL) gets one line saying what the
 * server or libpq reported. Synchronous commit; fsync=off refused. */
TF_WUR int tf_store_open_pg(const char *conninfo, struct tf_store **out,
			    char *why, size_t whylen) TF_NONNULL(1, 2);
/* The relay's --store argument: "sqlite:PATH", "postgres:CONNINFO" (or
 * "postgresql:"), or a bare PATH (SQLite, the embedded default). */
TF_WUR int tf_store_open(const char *spec, struct tf_store **out, char *why,
			 size_t whylen) TF_NONNULL(1, 2);

/* TF_STORE_STORED or TF_STORE_DUPLICATE, durable on return. */
static inline TF_WUR int tf_store_put(struct tf_store *st, const char *sender,
				      const uint8_t id[TF_STORE_ID_BYTES],
				      const char *recipient,
				      const uint8_t *blob, size_t len,
				      int64_t now)
{
	return st->ops->put(st, sender, id, recipient, blob, len, now);
}
/* Group commit: n puts in one transaction, durable on return (one fsync
 * for all: several SENDs of one event-loop wakeup may share it, each
 * acknowledged only after this returns 0). 0: each item's result says
 * STORED or DUPLICATE (a second copy in the same batch is a duplicate
 * too), or -EINVAL for an item out of bounds (skipped, the others go
 * on). -errno: nothing of the batch is stored, every item is to be
 * retried (-ENOSPC: disk full). */
static inline TF_WUR int tf_store_put_many(struct tf_store *st,
					   struct tf_store_put_item *items,
					   size_t n, int64_t now)
{
	return st->ops->put_many(st, items, n, now);
}
/* 1 and *out filled: the first message after after_seq; 0: none. */
static inline TF_WUR int tf_store_next(struct tf_store *st,
				       const char *recipient, int64_t after_seq,
				       struct tf_stored_msg *out)
{
	return st->ops->next(st, recipient, after_seq, out);
}
/* 0 deleted; -ENOENT when no such message waits for recipient. */
static inline TF_WUR int tf_store_ack(struct tf_store *st,
				      const char *recipient, const char *sender,
				      const uint8_t id[TF_STORE_ID_BYTES],
				      int64_t now)
{
	return st->ops->ack(st, recipient, sender, id, now);
}
/* Drop tombstones of messages acknowledged before `before`; returns how
 * many. */
static inline TF_WUR int tf_store_expire(struct tf_store *st, int64_t before)
{
	return st->ops->expire(st, before);
}
/* Messages waiting for recipient. */
static inline TF_WUR int tf_store_count(struct tf_store *st,
					const char *recipient)
{
	return st->ops->count(st, recipient);
}
/* End-to-end prekeys (twofold/e2e.h), opaque to the store: an officer's
 * base bundle (certificate and signed prekey, no one-time prekey) replaces
 * the previous one; the n one-time prekeys (opklen bytes each, u32 id
 * first) are added, a known one is ignored, and no more than
 * TF_STORE_OPK_MAX are kept per officer. Durable on return; returns how
 * many of officer's one-time prekeys are unused after it (>= 0: the
 * device tops up from it). */
static inline TF_WUR int
tf_store_prekey_put(struct tf_store *st, const char *officer,
		    const uint8_t *base, size_t baselen, const uint8_t *opks,
		    size_t n, size_t opklen)
{
	return st->ops->prekey_put(st, officer, base, baselen, opks, n, opklen);
}
/* 1: *base (malloc'ed) is officer's base bundle and, when *opklen > 0,
 * opk the oldest unused one-time prekey, marked used in the same durable
 * transaction (each one is handed out once, and publishing it again does
 * not bring it back); 0: officer published nothing. */
static inline TF_WUR int tf_store_prekey_take(struct tf_store *st,
					      const char *officer,
					      uint8_t **base, size_t *baselen,
					      uint8_t *opk, size_t opkcap,
					      size_t *opklen)
{
	return st->ops->prekey_take(st, officer, base, baselen, opk, opkcap,
				    opklen);
}
static inline void tf_store_close(struct tf_store *st)
{
	if (st != NULL)
		st->ops->close(st);
}
void tf_stored_msg_clear(struct tf_stored_msg *m);

#endif
