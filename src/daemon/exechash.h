/* SPDX-License-Identifier: ISC */
/* The exec gate's base-file hashes (exechash.c; docs/exec.md "Base files
 * by hash"). */
#ifndef TWOFOLDD_EXECHASH_H
#define TWOFOLDD_EXECHASH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "twofold/crypto.h"

struct tfd;
struct tfd_persona;

enum tfd_eh_mode { TFD_EH_OFF = 0, TFD_EH_PIN, TFD_EH_SEALED };
enum tfd_eh_mode tfd_eh_mode_of(const struct tfd_persona *p);

/* STATE/exec/PERSONA.hashes as text, at most this many entries */
#define TFD_EH_MAX (1u << 16)
/* and paths of at most this many bytes (longer ones are never recorded:
 * pin denies them, seal skips them) */
#define TFD_EH_PATH_MAX 512u

struct tfd_eh_ent {
	uint8_t h[TF_HASH_BYTES];
	char *path;
};

/* path -> content hash. mu guards everything: the gate's thread looks up
 * and pins, the loop saves and a seal replaces the whole table (gen then
 * changes, so the gate drops its verdict cache). */
struct tfd_hashes {
	pthread_mutex_t mu;
	const struct tf_suite *s;
	struct tfd_eh_ent *v;
	size_t n, cap;
	uint32_t *slot; /* open addressing: index + 1, 0 empty */
	size_t nslot;
	_Atomic uint32_t gen;
	/* made by `exec seal` (and not pinned to since): what sealed mode
	 * accepts; a record of pins is not a seal */
	bool sealed;
};

TF_WUR int tfd_hashes_init(struct tfd_hashes *hs, const struct tf_suite *s);
void tfd_hashes_clear(struct tfd_hashes *hs); /* frees the entries */
/* unlocked: the caller holds mu (or owns hs alone) */
const uint8_t *tfd_hashes_get(const struct tfd_hashes *hs, const char *path);
/* add or replace; -ENOSPC past TFD_EH_MAX */
TF_WUR int tfd_hashes_put(struct tfd_hashes *hs, const char *path,
			  const uint8_t h[static TF_HASH_BYTES]);
/* a seal's result takes hs's place (under hs->mu); from is left empty */
void tfd_hashes_take(struct tfd_hashes *hs, struct tfd_hashes *from);

/* STATE/exec/PERSONA.hashes: load (MAC checked: -EBADMSG with err set
 * if its MAC or format is bad; 0 and *rec NONE if there is none, STALE if
 * it is of another key of the persona's, OK) and save (atomically,
 * MAC'd). Both need the persona's key (tfd_exec_key_set). */
enum tfd_eh_rec { TFD_EH_REC_NONE, TFD_EH_REC_OK, TFD_EH_REC_STALE };
TF_WUR int tfd_hashes_load(struct tfd *d, struct tfd_persona *p,
			   struct tfd_hashes *hs, enum tfd_eh_rec *rec,
			   char *err, size_t errlen);
TF_WUR int tfd_hashes_save(struct tfd *d, struct tfd_persona *p,
			   struct tfd_hashes *hs);

/* The manifest's MAC key, derived from the persona's fscrypt key when it
 * is loaded (a credential-bound persona's exists only while unlocked) and
 * wiped when that key leaves. */
void tfd_exec_key_set(struct tfd *d, struct tfd_persona *p,
		      const uint8_t *fskey);
void tfd_exec_key_drop(struct tfd_persona *p);

/* The seal's walk (a job's body): hash every executable regular file of
 * the profile's base into out, named as the persona sees it: its base
 * root, or without one the host's system dirs (prof->sys). */
struct tf_profile;
TF_WUR int tfd_eh_seal_walk(const struct tf_suite *s,
			    const struct tf_profile *prof,
			    struct tfd_hashes *out, char *err, size_t errlen);

#endif
