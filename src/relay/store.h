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
 *  - senders and recipients are addresses (issue 15): "officer/device",
 *    or a bare "officer" (old clients, and every row stored before
 *    several devices per officer: any device of that officer gets it).
 *  - a message is named by (sender, recipient, client-chosen 16-byte id):
 *    a retry of one already stored, or already delivered and
 *    acknowledged, returns TF_STORE_DUPLICATE and stores nothing (the
 *    recipient never sees it twice); the same id to another device of
 *    the recipient is another message (a sender uses one id for all the
 *    recipient's devices).
 *  - tf_store_next gives the messages an officer/device address gets
 *    (its own and its officer's bare rows) in arrival order (so one
 *    sender's order is kept); tf_store_ack deletes one after the
 *    recipient acknowledged it, keeping a tombstone of its name until
 *    tf_store_expire drops tombstones older than the retry horizon.
 *  - prekeys are kept per (officer, device).
 *  - a database of an older schema is migrated when opened (the schema
 *    version is in it: PRAGMA user_version, PostgreSQL's relay_schema):
 *    its rows for bare officers stay and reach every device, its
 *    tombstones (which named no recipient) keep every retry a
 *    duplicate, also one from the sender's device now named
 *    officer/device (its rows had the bare officer as sender), its one
 *    bundle per officer moves to the device its certificate names.
 *    Only a migrated store (or one made by a relay from before the
 *    mark) pays for those checks: a store made at the current schema is
 *    marked so (PostgreSQL: a comment on seen; SQLite: a relay_fresh
 *    table), has no such rows, and a put there looks for its own
 *    (sender, recipient, id) alone (a bare sender and a device of it
 *    are two senders; the relay names every sender by its session's
 *    officer/device).
 * Addresses are at most TF_STORE_NAME_MAX bytes; blobs at most
 * TF_STORE_BLOB_MAX. Errors -errno: -ENOSPC for a full disk (the sender
 * is told to retry later), -EIO for anything else the backend reports,
 * -EPROTO for a database of a newer schema than this relay knows.
 */
#ifndef TWOFOLD_RELAY_STORE_H
#define TWOFOLD_RELAY_STORE_H

#include "twofold/common.h"

#define TF_STORE_ID_BYTES 16
#define TF_STORE_BLOB_MAX 65536
#define TF_STORE_NAME_MAX 129	/* an address: TF_COMMS_ADDR_MAX */
#define TF_STORE_DEVICE_MAX 64	/* a device id: TF_CERT_ID_MAX */
#define TF_STORE_OPK_MAX 200	/* unused one-time prekeys per device */
#define TF_STORE_OPK_TOMBS 1000 /* handed-out ones remembered */
#define TF_STORE_STORED 0
#define TF_STORE_DUPLICATE 1

struct tf_store;

struct tf_stored_msg {
	int64_t seq; /* arrival order */
	uint8_t id[TF_STORE_ID_BYTES];
	char sender[TF_STORE_NAME_MAX + 1];
	char recipient[TF_STORE_NAME_MAX + 1]; /* the row's: maybe bare */
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

/* One device's prekey bundle (tf_store_prekey_list). */
struct tf_store_bundle {
	char device[TF_STORE_DEVICE_MAX + 1];
	uint8_t *bundle; /* malloc'ed; tf_store_bundle_clear frees it */
	size_t len;
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
			  const char *device, const uint8_t *base,
			  size_t baselen, const uint8_t *opks, size_t n,
			  size_t opklen);
	int (*prekey_take)(struct tf_store *st, const char *officer,
			   const char *device,
			   char devout[TF_STORE_DEVICE_MAX + 1], uint8_t **base,
			   size_t *baselen, uint8_t *opk, size_t opkcap,
			   size_t *opklen);
	int (*prekey_list)(struct tf_store *st, const char *officer,
			   struct tf_store_bundle *out, size_t max);
	void (*close)(struct tf_store *st);
};

struct tf_store {
	const struct tf_store_ops *ops;
	/* sessions the backend opened again after losing one (PostgreSQL;
	 * 0 for SQLite): written by the backend inside a call, read by the
	 * caller under the same lock */
	unsigned reconnects;
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
/* 1 and *out filled: the first message after after_seq for recipient
 * (an address: for officer/device, its rows and the officer's bare ones;
 * out->recipient says which); 0: none. */
static inline TF_WUR int tf_store_next(struct tf_store *st,
				       const char *recipient, int64_t after_seq,
				       struct tf_stored_msg *out)
{
	return st->ops->next(st, recipient, after_seq, out);
}
/* 0 deleted; -ENOENT when no such message waits for recipient. For an
 * officer/device recipient, its own row (sender, recipient, id) goes, or
 * when it has none the officer's bare row: a device's ACK never deletes
 * another device's copy. */
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
/* Messages waiting for recipient (the ones tf_store_next gives). */
static inline TF_WUR int tf_store_count(struct tf_store *st,
					const char *recipient)
{
	return st->ops->count(st, recipient);
}
/* End-to-end prekeys (twofold/e2e.h), opaque to the store (but for the
 * migration of an old database), per (officer, device): a device's base
 * bundle (certificate and signed prekey, no one-time prekey) replaces its
 * previous one and makes it the officer's most recently published
 * device; the n one-time prekeys (opklen bytes each, u32 id first) are
 * added, a known one is ignored, and no more than TF_STORE_OPK_MAX are
 * kept per device. Durable on return; returns how many of the device's
 * one-time prekeys are unused after it (>= 0: the device tops up from
 * it). */
static inline TF_WUR int
tf_store_prekey_put(struct tf_store *st, const char *officer,
		    const char *device, const uint8_t *base, size_t baselen,
		    const uint8_t *opks, size_t n, size_t opklen)
{
	return st->ops->prekey_put(st, officer, device, base, baselen, opks, n,
				   opklen);
}
/* 1: *base (malloc'ed) is the base bundle of officer's device (device
 * "": of its most recently published device), devout its device id,
 * and, when *opklen > 0, opk that device's oldest unused one-time
 * prekey, marked used in the same durable transaction (each one is
 * handed out once, and publishing it again does not bring it back); 0:
 * no such bundle. */
static inline TF_WUR int
tf_store_prekey_take(struct tf_store *st, const char *officer,
		     const char *device, char devout[TF_STORE_DEVICE_MAX + 1],
		     uint8_t **base, size_t *baselen, uint8_t *opk,
		     size_t opkcap, size_t *opklen)
{
	return st->ops->prekey_take(st, officer, device, devout, base, baselen,
				    opk, opkcap, opklen);
}
/* The base bundles of officer's devices, the most recently published
 * first, at most max (bounded: the caller's array); returns how many
 * (each to be cleared with tf_store_bundle_clear). No one-time prekey
 * is taken. */
static inline TF_WUR int tf_store_prekey_list(struct tf_store *st,
					      const char *officer,
					      struct tf_store_bundle *out,
					      size_t max)
{
	return st->ops->prekey_list(st, officer, out, max);
}
static inline void tf_store_close(struct tf_store *st)
{
	if (st != NULL)
		st->ops->close(st);
}
void tf_stored_msg_clear(struct tf_stored_msg *m);
void tf_store_bundle_clear(struct tf_store_bundle *b);

/* store.c, for the backends */
/* The officer half of an address into officer; true when it has a
 * device half (the bare officer's rows are the address's too). */
bool tf_store_addr_officer(const char *addr,
			   char officer[static TF_STORE_NAME_MAX + 1]);
/* The migration of an old database: the device its bundle's certificate
 * names (the bundle is untrusted data: parsed, bounded). -EINVAL when it
 * does not parse. */
int tf_store_bundle_device(const uint8_t *b, size_t len,
			   char device[static TF_STORE_DEVICE_MAX + 1]);

#endif
