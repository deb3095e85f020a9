/* SPDX-License-Identifier: ISC */
/*
 * RELRO for the musl build of the CLI (src/cli/meson.build). The linker
 * marks the data that is written only by relocation (GOT, .data.rel.ro,
 * init/fini arrays, our function-pointer tables) as PT_GNU_RELRO, and
 * glibc's start-up makes it read-only once relocated, static-pie
 * included. musl's static start-up (rcrt1.o) relocates but leaves the
 * range writable, so main() does it first thing. dl_iterate_phdr() in a
 * static musl program reports the executable itself, with its load base.
 */
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"

#ifndef __GLIBC__
static int protect_relro(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	int *err = data;

	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start, end;

		if (ph->p_type != PT_GNU_RELRO)
			continue;
		/* as glibc does: whole pages, the last partial one stays
		 * writable (the linker pads RELRO to a page end) */
		start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) &
		      ~(page - 1);
		if (end > start &&
		    mprotect((void *)start, end - start, PROT_READ) < 0)
			*err = tf_negerrno();
	}
	return 1; /* the first object is the executable: done */
}
#endif

int cli_relro_protect(void)
{
#ifndef __GLIBC__
	int err = 0;

	dl_iterate_phdr(protect_relro, &err);
	return err;
#else
	return 0; /* glibc's start-up did it */
#endif
}
