/* SPDX-License-Identifier: ISC */
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "twofold/secmem.h"

struct secmem_hdr {
	unsigned char *base; /* start of the mapping (leading guard page) */
	size_t map_len;
	uint64_t canary;
};

#define SECMEM_CANARY 0x7466736563726574ull /* "tfsecret" */

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* mlock(2) itself: the sanitizers' runtime replaces the libc mlock with a
 * no-op that reports success, which would make an ASan build hand out
 * unlocked "secure" memory without a word. */
static int lock_pages(void *p, size_t len)
{
	return (int)syscall(SYS_mlock, p, len);
}

/*
 * Layout: [guard][ ... hdr | data ][guard]. data ends (16-byte aligned) just
 * before the trailing guard page so an overflow faults; the header sits
 * directly before data so free() finds the mapping without a search.
 */
void *tf_secure_alloc(size_t len)
{
	size_t ps = page_size();
	size_t inner, map_len;
	unsigned char *base, *data;
	struct secmem_hdr *h;

	if (len == 0 || len > (64u << 20)) {
		errno = EINVAL;
		return NULL;
	}
	inner = (sizeof(*h) + len + 15 + ps - 1) / ps * ps;
	map_len = inner + 2 * ps;
	base = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base, ps, PROT_NONE) < 0 ||
	    mprotect(base + ps + inner, ps, PROT_NONE) < 0) {
		munmap(base, map_len);
		return NULL;
	}
	/* Fail closed: memory that can be swapped out, dumped or inherited
	 * by a fork is not secure memory, so a secret is never put in it.
	 * mlock fails under RLIMIT_MEMLOCK without CAP_IPC_LOCK (EPERM at a
	 * limit of 0, else ENOMEM); MADV_WIPEONFORK needs Linux 4.14. The
	 * caller reports errno. */
	if (lock_pages(base + ps, inner) < 0 ||
	    madvise(base + ps, inner, MADV_DONTDUMP) < 0 ||
	    madvise(base + ps, inner, MADV_WIPEONFORK) < 0) {
		int e = errno;
		munmap(base, map_len); /* also unlocks */
		errno = e;
		return NULL;
	}
	data = (unsigned char *)(((uintptr_t)(base + ps + inner - len)) &
				 ~(uintptr_t)15);
	h = (struct secmem_hdr *)(data - sizeof(*h));
	h->base = base;
	h->map_len = map_len;
	h->canary = SECMEM_CANARY;
	return data;
}

void tf_secure_free(void *p)
{
	size_t ps = page_size();
	struct secmem_hdr *h;
	unsigned char *base;
	size_t map_len;

	if (p == NULL)
		return;
	h = (struct secmem_hdr *)((unsigned char *)p - sizeof(*h));
	if (h->canary != SECMEM_CANARY)
		abort(); /* corrupted or not ours: never continue with secrets */
	base = h->base;
	map_len = h->map_len;
	tf_memzero(base + ps, map_len - 2 * ps);
	munlock(base + ps, map_len - 2 * ps);
	munmap(base, map_len);
}

int tf_secmem_probe(void)
{
	void *p = tf_secure_alloc(1);

	if (p == NULL)
		return tf_negerrno();
	tf_secure_free(p);
	return 0;
}

int tf_secmem_harden_process(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return tf_negerrno();
	return 0;
}
