/* SPDX-License-Identifier: ISC */
/*
 * Secure memory for secrets (STYLE.md 5). Pages are mmap'd, mlock'd,
 * excluded from core dumps (MADV_DONTDUMP) and from fork children
 * (MADV_WIPEONFORK), guarded by PROT_NONE pages, and zeroed on free.
 * It fails closed: if any of mlock or the two madvise calls fails, the
 * allocation fails (NULL, errno from that call), so a secret never lands in
 * swappable, dumpable or inheritable memory.
 * This is small enough to own: it lives in tf_base so the CLI can hold a PIN
 * without linking libsodium (whose sodium_malloc does the same).
 */
#ifndef TWOFOLD_SECMEM_H
#define TWOFOLD_SECMEM_H

#include "twofold/common.h"

/* Returns NULL (errno set) on failure: EINVAL for len 0 or > 64 MiB,
 * ENOMEM/EAGAIN/EPERM when pages cannot be mapped or locked (RLIMIT_MEMLOCK).
 * Memory is zero-filled. */
void *tf_secure_alloc(size_t len) __attribute__((malloc));
/* Zeroes and unmaps; accepts NULL. */
void tf_secure_free(void *p);

static inline void tf_secure_freep(void *p)
{
	tf_secure_free(*(void **)p);
	*(void **)p = NULL;
}
#define _cleanup_secure_ _cleanup_(tf_secure_freep)

/* One trial allocation: 0, or -errno when secure memory cannot be had
 * (checked at start, so a program with too low an RLIMIT_MEMLOCK says so
 * at once instead of failing at the first secret). */
TF_WUR int tf_secmem_probe(void);

/* Process-wide: no core dumps, not ptrace-attachable by same uid. */
TF_WUR int tf_secmem_harden_process(void);

#endif
