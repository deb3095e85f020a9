/* SPDX-License-Identifier: ISC */
/*
 * The exec gate (issue 13 item 5, docs/exec.md): the second check, after
 * the noexec writable mounts and vm.memfd_noexec = 2 the init sets up,
 * that only code of the read-only base system or of a mounted app image
 * (/apps/NAME, erofs, read-only) runs in a persona.
 *
 * One fanotify group per gated persona (a persona without
 * allow_exec_writable), marked on the persona's mounts from outside (the
 * marks are made through /proc/INIT/root; the persona, without
 * capabilities and with fanotify_init denied by its seccomp allowlist,
 * can neither see nor remove them), answered by a thread of the daemon:
 *
 *  - FAN_OPEN_EXEC_PERM on every mount: allowed only when the file is on
 *    a mount of the base system or an app image (by mount id, statx
 *    STATX_MNT_ID against the persona's mountinfo), FAN_DENY (EPERM)
 *    otherwise. noexec already refuses execve (EACCES) and PROT_EXEC
 *    mmaps (EPERM; the `ld.so /tmp/x` bypass) on the writable mounts
 *    before any event; this catches any executable mount that is not
 *    base or image.
 *  - FAN_OPEN_PERM on the writable mounts: an interpreter (sh, bash,
 *    python3, perl, ...: the basename of /proc/PID/exe, which a process
 *    cannot choose: only base files execute) opening a file of script
 *    shape there (a "#!" line, a script extension, or named in the
 *    interpreter's argv: `sh /tmp/x`, `python3 /tmp/x.py`, `. x.sh`,
 *    `import x` from /home) is denied. Data files stay readable.
 *
 * A thread, not the loop: a permission event blocks the opener until it
 * is answered, and the loop may be busy (a KDF job's reply, a stop).
 * The thread owns the group, its marks and its view of the mounts; the
 * loop talks to it through ctl (a byte: rescan; EOF: stop) and reads its
 * denials from rep (fixed records, written whole: a pipe write of at most
 * PIPE_BUF bytes is atomic) to audit them (exec.denied). New mounts
 * (an app image installed into the running persona) are seen through a
 * second group with FAN_MARK_MNTNS (Linux 6.14: FAN_MNT_ATTACH of the
 * persona's mount namespace) and marked when they appear; tfd_gate_rescan
 * does the same on demand. If the daemon dies, the groups close and the
 * kernel allows what is pending: the persona dies with the daemon anyway
 * (its init's PDEATHSIG, the guard's cgroup.kill).
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "apps.h"
#include "daemon.h"
#include "exechash.h"
#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"

/* Linux 6.14 (Debian 12's headers are 6.1) */
#ifndef FAN_MARK_MNTNS
#define FAN_MARK_MNTNS 0x00000110
#endif
#ifndef FAN_REPORT_MNT
#define FAN_REPORT_MNT 0x00004000
#endif
#ifndef FAN_MNT_ATTACH
#define FAN_MNT_ATTACH 0x01000000
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
/* Linux 6.8: the 64-bit mount id, never reused (the old one is) */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

#define GATE_MOUNTS_MAX 256

/* M_EXEC_OK: a base mount (its files' hashes are checked); M_APP: a
 * read-only erofs mount under /apps, allowed only if it is one the daemon
 * attached (tfd_gate_app_attach); M_FOREIGN: one it did not, of which
 * nothing may be opened (FAN_OPEN_PERM marked) */
enum { M_EXEC_OK = 0x1, M_WRITABLE = 0x2, M_APP = 0x4, M_FOREIGN = 0x8 };

/* verdict cache of the base-file hash check: (dev, ino, size, mtime,
 * ctime) of a file that passed. ctime cannot be set from userspace, so
 * any change of the content moves it; only a miss reads and hashes. */
#define VC_SLOTS 4096
struct vc_ent {
	uint64_t dev, ino, size, mtime_ns, ctime_ns;
};

struct gate_app {
	char name[TF_PKG_NAME_MAX + 1];
	uint64_t mnt; /* STATX_MNT_ID_UNIQUE: what exec is checked by */
	uint64_t id;  /* STATX_MNT_ID, as mountinfo shows it: for marking */
};

struct gate_mount {
	uint64_t id;
	unsigned flags;
};

/* one denial, loop-bound */
struct gate_rec {
	int32_t pid;
	char kind[8]; /* "exec", "script", "hash", "image"; "pin": none */
	char path[192];
	char exe[48];
};
_Static_assert(sizeof(struct gate_rec) <= PIPE_BUF, "record not atomic");

struct tfd_gate {
	pthread_t th;
	bool running;
	int fan;     /* permission events */
	int fan_mnt; /* mount attach events of the persona's namespace; -1 */
	int proc_fd; /* /proc/INIT: dies with the init, never another pid */
	int root_fd; /* /proc/INIT/root */
	int ctl[2];  /* loop -> thread */
	int rep[2];  /* thread -> loop */
	bool base;   /* the profile has a base root */
	uint32_t n_sys;
	char sys[TF_PROF_SYS_MAX][16];
	size_t n_mounts;
	struct gate_mount mounts[GATE_MOUNTS_MAX];
	uint32_t dropped; /* denials not reported (rep full) */
	/* base files by hash (exechash.c) */
	enum tfd_eh_mode mode;
	struct tfd_hashes hs;
	bool hs_init;
	uint32_t pinned_new; /* pins the loop has not saved yet (atomic) */
	uint32_t vc_gen;
	struct vc_ent vc[VC_SLOTS];
	uint64_t hits, misses, hit_ns, miss_ns;
	/* the app images the daemon attached */
	pthread_mutex_t amu;
	size_t n_apps;
	struct gate_app apps[TFD_APPS_MAX];
};

/* ---- decisions (pure) ---- */

static const char *const interpreters[] = {
	"sh",		"dash",	  "bash",   "rbash",   "zsh",	  "ksh",
	"mksh",		"yash",	  "fish",   "busybox", "perl",	  "python",
	"ruby",		"lua",	  "luajit", "tclsh",   "wish",	  "php",
	"node",		"nodejs", "awk",    "gawk",    "mawk",	  "nawk",
	"original-awk", "pypy",	  "guile",  "rscript", "Rscript", "expect",
	"osh",
};

/* "python3.11", "perl5.36.0", "lua5.4": name or name + version */
bool tfd_gate_is_interpreter(const char *base)
{
	for (size_t i = 0; i < TF_ARRAY_SIZE(interpreters); i++) {
		size_t n = strlen(interpreters[i]);

		if (strncmp(base, interpreters[i], n) != 0)
			continue;
		if (base[n] == '\0')
			return true;
		if (strspn(base + n, "0123456789.") == strlen(base + n))
			return true;
	}
	return false;
}

static const char *const script_ext[] = {
	"sh", "bash", "zsh", "ksh", "py",  "pyc", "pyo", "pyw", "pl",
	"pm", "rb",   "lua", "tcl", "php", "js",  "mjs", "cjs", "awk",
};

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* An argument that names a file: not an option, no blanks or shell
 * syntax (`sh -c 'cat >/tmp/notes.txt'` names no script) */
static bool path_like(const char *a)
{
	return a[0] != '-' && a[0] != '\0' &&
	       !strpbrk(a, " \t\n;&|<>$`'\"(){}*?");
}

/* Does the file look like a program for an interpreter: a "#!" first
 * line (head), a script extension, or is its name one of the
 * interpreter's file arguments (cmdline: NUL-separated, argv[0] first;
 * the argument of -c, -e and -m is code or a module, not a file)? */
bool tfd_gate_script_shape(const char *path, const char *head, size_t n_head,
			   const char *cmdline, size_t n_cmd)
{
	const char *b = base_of(path), *dot = strrchr(b, '.');
	bool skip = false;

	if (n_head >= 2 && head[0] == '#' && head[1] == '!')
		return true;
	if (dot && dot != b)
		for (size_t i = 0; i < TF_ARRAY_SIZE(script_ext); i++)
			if (!strcmp(dot + 1, script_ext[i]))
				return true;
	for (size_t off = strnlen(cmdline, n_cmd) + 1; off < n_cmd;) {
		const char *a = cmdline + off;
		size_t len = strnlen(a, n_cmd - off);

		if (!skip && path_like(a) && !strcmp(base_of(a), b))
			return true;
		skip = !strcmp(a, "-c") || !strcmp(a, "-e") || !strcmp(a, "-m");
		off += len + 1;
	}
	return false;
}

/* ---- the persona's mounts ---- */

/* mountinfo's octal escapes (\040 for a space) */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

static bool has_opt(const char *opts, const char *o)
{
	size_t n = strlen(o);

	for (const char *s = opts; s; s = strchr(s, ',')) {
		if (*s == ',')
			s++;
		if (!strncmp(s, o, n) && (s[n] == ',' || s[n] == '\0'))
			return true;
	}
	return false;
}

static bool under(const char *mp, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(mp, dir, n) && (mp[n] == '\0' || mp[n] == '/');
}

static unsigned classify(const struct tfd_gate *g, const char *mp,
			 const char *opts, const char *fstype)
{
	bool ro = has_opt(opts, "ro");
	char dir[24];

	if (!ro)
		return M_WRITABLE;
	if (under(mp, "/apps"))
		return strcmp(fstype, "erofs") == 0 && strcmp(mp, "/apps") != 0
			       ? M_APP
			       : 0;
	if (!strcmp(mp, "/"))
		return g->base ? M_EXEC_OK : 0;
	if (g->base)
		return 0; /* the writable dirs, /dev, /proc over the base */
	for (uint32_t i = 0; i < g->n_sys; i++) {
		snprintf(dir, sizeof(dir), "/%s", g->sys[i]);
		if (under(mp, dir))
			return M_EXEC_OK;
	}
	return 0;
}

/* one of the daemon's attached images, by mountinfo's id (reused ids:
 * only for marking; exec is checked by the unique id) */
static bool app_id_known(struct tfd_gate *g, uint64_t id)
{
	bool known = false;

	pthread_mutex_lock(&g->amu);
	for (size_t i = 0; i < g->n_apps && !known; i++)
		known = g->apps[i].id == id;
	pthread_mutex_unlock(&g->amu);
	return known;
}

static void mark_one(struct tfd_gate *g, const char *mp, unsigned flags,
		     const char *fstype)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_SYMLINKS,
	};
	uint64_t mask = FAN_OPEN_EXEC_PERM;
	int fd;

	/* proc and devpts hold no programs and are noexec; mqueue neither */
	if (!strcmp(fstype, "proc") || !strcmp(fstype, "devpts") ||
	    !strcmp(fstype, "mqueue"))
		return;
	if (flags & (M_WRITABLE | M_FOREIGN))
		mask |= FAN_OPEN_PERM;
	fd = (int)syscall(SYS_openat2, g->root_fd, mp[1] ? mp + 1 : ".", &how,
			  sizeof(how));
	if (fd < 0)
		return; /* a file bind (/dev/null) or gone: nothing to run */
	if (fanotify_mark(g->fan, FAN_MARK_ADD | FAN_MARK_MOUNT, mask, fd,
			  NULL) < 0)
		tf_warn("exec gate: mark %s: %s", mp, strerror(errno));
	close(fd);
}

/* Read the persona's mountinfo anew, mark every mount (marking one twice
 * only ORs the mask) and remember which may hold code. */
static int rescan(struct tfd_gate *g)
{
	char line[4096];
	FILE *f;
	int fd = openat(g->proc_fd, "mountinfo", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "re");
	if (f == NULL) {
		close(fd);
		return -ENOMEM;
	}
	g->n_mounts = 0;
	while (fgets(line, sizeof(line), f)) {
		char *sv = NULL, *tok[6], *dash, *fstype;
		unsigned long long id;
		size_t n = 0;

		dash = strstr(line, " - ");
		if (dash == NULL)
			continue;
		*dash = '\0';
		fstype = strtok_r(dash + 3, " ", &sv);
		sv = NULL;
		for (char *t = strtok_r(line, " ", &sv); t && n < 6;
		     t = strtok_r(NULL, " ", &sv))
			tok[n++] = t;
		if (n < 6 || fstype == NULL)
			continue;
		id = strtoull(tok[0], NULL, 10);
		unescape(tok[4]);
		{
			unsigned fl = classify(g, tok[4], tok[5], fstype);

			if ((fl & M_APP) && !app_id_known(g, id))
				fl |= M_FOREIGN;

			mark_one(g, tok[4], fl, fstype);
			if (g->n_mounts < GATE_MOUNTS_MAX)
				g->mounts[g->n_mounts++] =
					(struct gate_mount){id, fl};
		}
	}
	fclose(f);
	return 0;
}

static const struct gate_mount *mount_of(const struct tfd_gate *g, uint64_t id)
{
	for (size_t i = 0; i < g->n_mounts; i++)
		if (g->mounts[i].id == id)
			return &g->mounts[i];
	return NULL;
}

/* ---- the thread ---- */

static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    *s == '\t')
			*s = '?';
}

static void report(struct tfd_gate *g, const char *kind, pid_t pid,
		   const char *path, const char *exe)
{
	struct gate_rec r = {.pid = pid};

	snprintf(r.kind, sizeof(r.kind), "%s", kind);
	snprintf(r.path, sizeof(r.path), "%s", path);
	snprintf(r.exe, sizeof(r.exe), "%s", exe);
	clean(r.path);
	clean(r.exe);
	if (write(g->rep[1], &r, sizeof(r)) != (ssize_t)sizeof(r) &&
	    strcmp(kind, "pin") != 0) /* a pin only wakes the loop */
		__atomic_add_fetch(&g->dropped, 1, __ATOMIC_RELAXED);
}

static void exe_of(pid_t pid, char *out, size_t cap)
{
	char p[48];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	n = readlink(p, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
}

static size_t cmdline_of(pid_t pid, char *out, size_t cap)
{
	char p[48];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0)
		n = 0;
	out[n] = '\0';
	return (size_t)n;
}

/* The fd an argument names in the opener's own fd table (`/dev/stdin`,
 * `/dev/fd/N`, `/proc/self/fd/N`), or -1. */
static int fd_arg(const char *a)
{
	static const char *const pre[] = {"/dev/fd/", "/proc/self/fd/",
					  "/proc/thread-self/fd/"};
	char *end;
	unsigned long n;

	if (!strcmp(a, "/dev/stdin"))
		return 0;
	for (size_t i = 0; i < TF_ARRAY_SIZE(pre); i++) {
		size_t l = strlen(pre[i]);
		if (strncmp(a, pre[i], l) != 0 || a[l] < '0' || a[l] > '9')
			continue;
		errno = 0;
		n = strtoul(a + l, &end, 10);
		return *end == '\0' && errno == 0 && n < 65536 ? (int)n : -1;
	}
	return -1;
}

/* Is the file an interpreter opens one that a file argument names through
 * an fd (`python3 /dev/fd/3 3</tmp/x`, `awk -f /dev/stdin </tmp/x`): the
 * argument's name is not the file's, so tfd_gate_script_shape cannot
 * match it; the fd is, when it is open on the same file (dev, inode). */
static bool fd_arg_names(pid_t pid, int fd, const char *cmdline, size_t n_cmd)
{
	struct stat f, a;
	bool skip = false;

	if (fstat(fd, &f) < 0)
		return false;
	for (size_t off = strnlen(cmdline, n_cmd) + 1; off < n_cmd;) {
		const char *s = cmdline + off;
		size_t len = strnlen(s, n_cmd - off);
		int k = skip ? -1 : fd_arg(s);
		char p[64];

		if (k >= 0) {
			snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)pid, k);
			if (stat(p, &a) == 0 && a.st_dev == f.st_dev &&
			    a.st_ino == f.st_ino)
				return true;
		}
		skip = !strcmp(s, "-c") || !strcmp(s, "-e") || !strcmp(s, "-m");
		off += len + 1;
	}
	return false;
}

/* Does a startup file the opener's environment names (`BASH_ENV`, `ENV`,
 * `PYTHONSTARTUP`: read and run by bash, sh -i and python3 -i) have the
 * file's name? Such a file is a file argument the argv does not show. */
static bool env_names(pid_t pid, const char *path)
{
	static const char *const vars[] = {
		"BASH_ENV=", "ENV=", "PYTHONSTARTUP="};
	const char *b = base_of(path);
	char p[48], env[8192];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/environ", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, env, sizeof(env) - 1);
	close(fd);
	if (n <= 0)
		return false;
	env[n] = '\0';
	for (size_t off = 0; off < (size_t)n;) {
		const char *e = env + off;
		size_t len = strnlen(e, (size_t)n - off);

		for (size_t i = 0; i < TF_ARRAY_SIZE(vars); i++) {
			size_t l = strlen(vars[i]);
			if (!strncmp(e, vars[i], l) && e[l] != '\0' &&
			    !strcmp(base_of(e + l), b))
				return true;
		}
		off += len + 1;
	}
	return false;
}

/* the event's file as the persona names it (d_path stops at the root of
 * its mount namespace) */
static void fd_path(int fd, char *out, size_t cap)
{
	char p[32];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* Is the file behind fd on an app image the daemon attached? By the
 * unique mount id: an erofs image anyone else mounted under /apps (host
 * root through nsenter, a bind of a real one) has another. */
static bool app_mount_ok(struct tfd_gate *g, int fd)
{
	struct statx u;
	bool ok = false;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &u) < 0 ||
	    !(u.stx_mask & STATX_MNT_ID_UNIQUE))
		return false;
	pthread_mutex_lock(&g->amu);
	for (size_t i = 0; i < g->n_apps && !ok; i++)
		ok = g->apps[i].mnt == u.stx_mnt_id;
	pthread_mutex_unlock(&g->amu);
	return ok;
}

static size_t vc_slot(const struct vc_ent *k)
{
	return (size_t)((k->dev * 0x9e3779b97f4a7c15ull) ^ k->ino) % VC_SLOTS;
}

/* A base file: its content hash must be the one recorded for its path
 * (pin: recorded now if none is). A hit in the verdict cache costs a
 * compare; a miss reads the whole file once. */
/* Does the program behind fd ask execve for memory that is writable and
 * executable: a PT_LOAD with PF_W | PF_X, or a PT_GNU_STACK with PF_X (an
 * executable stack)? execve maps those itself, where seccomp sees no
 * mmap, and the kernel's MDWE does not cover the stack: W^X holds only if
 * such a program never starts. Read with pread from the event's fd (the
 * file the kernel is about to run). Not an ELF of this machine's byte
 * order (a script: its interpreter's own open is checked): false. A
 * program header table past the bound, or cut short: true (refused). */
#define GATE_PHDRS_MAX 128
static bool elf_wants_wx(int fd)
{
	union {
		Elf64_Ehdr e64;
		Elf32_Ehdr e32;
	} h;
	unsigned char ph[GATE_PHDRS_MAX * sizeof(Elf64_Phdr)];
	ssize_t n = pread(fd, &h, sizeof(h), 0);
	uint64_t off;
	size_t num, ent;
	bool is64;

	if (n < (ssize_t)sizeof(Elf32_Ehdr) ||
	    memcmp(h.e64.e_ident, ELFMAG, SELFMAG) != 0 ||
	    h.e64.e_ident[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
					       ? ELFDATA2LSB
					       : ELFDATA2MSB))
		return false;
	is64 = h.e64.e_ident[EI_CLASS] == ELFCLASS64;
	if (is64 && n < (ssize_t)sizeof(Elf64_Ehdr))
		return true;
	off = is64 ? h.e64.e_phoff : h.e32.e_phoff;
	num = is64 ? h.e64.e_phnum : h.e32.e_phnum;
	ent = is64 ? h.e64.e_phentsize : h.e32.e_phentsize;
	if (ent != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
	    num > GATE_PHDRS_MAX)
		return num != 0;
	if (num == 0)
		return false;
	n = pread(fd, ph, num * ent, (off_t)off);
	if (n != (ssize_t)(num * ent))
		return true;
	for (size_t i = 0; i < num; i++) {
		uint32_t type, flags;
		if (is64) {
			Elf64_Phdr p;
			memcpy(&p, ph + i * ent, sizeof(p));
			type = p.p_type;
			flags = p.p_flags;
		} else {
			Elf32_Phdr p;
			memcpy(&p, ph + i * ent, sizeof(p));
			type = p.p_type;
			flags = p.p_flags;
		}
		if (type == PT_LOAD && (flags & (PF_W | PF_X)) == (PF_W | PF_X))
			return true;
		if (type == PT_GNU_STACK && (flags & PF_X))
			return true;
	}
	return false;
}

static uint32_t base_check(struct tfd_gate *g,
			   const struct fanotify_event_metadata *m,
			   const struct statx *stx)
{
	struct vc_ent k = {
		.dev = ((uint64_t)stx->stx_dev_major << 32) |
		       stx->stx_dev_minor,
		.ino = stx->stx_ino,
		.size = stx->stx_size,
		.mtime_ns = (uint64_t)stx->stx_mtime.tv_sec * 1000000000u +
			    stx->stx_mtime.tv_nsec,
		.ctime_ns = (uint64_t)stx->stx_ctime.tv_sec * 1000000000u +
			    stx->stx_ctime.tv_nsec,
	};
	uint32_t gen = __atomic_load_n(&g->hs.gen, __ATOMIC_ACQUIRE);
	size_t i = vc_slot(&k);
	uint64_t t0 = tf_now_ns();
	uint8_t h[TF_HASH_BYTES];
	char path[PATH_MAX], exe[PATH_MAX];
	const uint8_t *want;
	bool ok = false, pinned = false;

	if (gen != g->vc_gen) { /* sealed anew: every verdict goes */
		memset(g->vc, 0, sizeof(g->vc));
		g->vc_gen = gen;
	}
	if (k.ino != 0 && memcmp(&g->vc[i], &k, sizeof(k)) == 0) {
		g->hits++;
		g->hit_ns += tf_now_ns() - t0;
		return FAN_ALLOW;
	}
	fd_path(m->fd, path, sizeof(path));
	/* a path the record cannot hold (a control character: a line
	 * break would forge a line) is never pinned, so never runs */
	for (const char *c = path; *c && path[0] == '/'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			path[0] = '\0';
	if (path[0] == '/' && tf_hash_fd(g->hs.s, m->fd, h, NULL) == 0) {
		pthread_mutex_lock(&g->hs.mu);
		want = tfd_hashes_get(&g->hs, path);
		if (want)
			ok = tf_memeq_ct(want, h, sizeof(h)) == 0;
		else if (g->mode == TFD_EH_PIN)
			ok = pinned = tfd_hashes_put(&g->hs, path, h) == 0;
		if (pinned)
			g->hs.sealed = false;
		pthread_mutex_unlock(&g->hs.mu);
	}
	g->misses++;
	g->miss_ns += tf_now_ns() - t0;
	if (pinned) {
		__atomic_add_fetch(&g->pinned_new, 1, __ATOMIC_RELAXED);
		report(g, "pin", m->pid, path, ""); /* wakes the loop */
	}
	if (ok) {
		g->vc[i] = k;
		return FAN_ALLOW;
	}
	exe_of(m->pid, exe, sizeof(exe));
	report(g, "hash", m->pid, path, exe);
	return FAN_DENY;
}

/* FAN_ALLOW or FAN_DENY for one event */
static uint32_t decide(struct tfd_gate *g,
		       const struct fanotify_event_metadata *m)
{
	struct statx stx;
	const struct gate_mount *gm;
	char path[PATH_MAX], exe[PATH_MAX];

	if (m->pid == getpid())
		return FAN_ALLOW; /* the daemon's own (copy in, audit) */
	if (statx(m->fd, "", AT_EMPTY_PATH, STATX_MNT_ID | STATX_BASIC_STATS,
		  &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID))
		return FAN_DENY;
	gm = mount_of(g, stx.stx_mnt_id);
	if (gm == NULL) {
		(void)rescan(g); /* mounted since the last scan */
		gm = mount_of(g, stx.stx_mnt_id);
	}
	if (m->mask & FAN_OPEN_EXEC_PERM) {
		uint32_t v = FAN_DENY;
		if (gm && (gm->flags & M_EXEC_OK))
			v = g->mode == TFD_EH_OFF ? FAN_ALLOW
						  : base_check(g, m, &stx);
		else if (gm && (gm->flags & M_APP) && app_mount_ok(g, m->fd))
			v = FAN_ALLOW;
		if (v == FAN_ALLOW && elf_wants_wx(m->fd)) {
			fd_path(m->fd, path, sizeof(path));
			exe_of(m->pid, exe, sizeof(exe));
			report(g, "wx", m->pid, path, exe);
			return FAN_DENY;
		}
		if (gm && (gm->flags & M_EXEC_OK))
			return v;
		if (gm && (gm->flags & M_APP)) {
			if (v == FAN_ALLOW)
				return FAN_ALLOW;
			fd_path(m->fd, path, sizeof(path));
			exe_of(m->pid, exe, sizeof(exe));
			report(g, "image", m->pid, path, exe);
			return FAN_DENY;
		}
		fd_path(m->fd, path, sizeof(path));
		exe_of(m->pid, exe, sizeof(exe));
		report(g, "exec", m->pid, path, exe);
		return FAN_DENY;
	}
	/* FAN_OPEN_PERM: marked on writable mounts and foreign images only.
	 * An empty file is no program (and is what `sh -c 'echo >x.sh'`
	 * opens: the open's flags are not in the event) */
	if (!S_ISREG(stx.stx_mode) || stx.stx_size == 0)
		return FAN_ALLOW;
	if (gm && (gm->flags & M_FOREIGN)) {
		/* an image the daemon did not attach: nothing of it is
		 * opened, so neither `ld.so /apps/x/prog` (the loader's
		 * open, then mmap) nor `sh /apps/x/s` runs it */
		if (app_mount_ok(g, m->fd))
			return FAN_ALLOW; /* ours after all (attached since) */
		fd_path(m->fd, path, sizeof(path));
		exe_of(m->pid, exe, sizeof(exe));
		report(g, "image", m->pid, path, exe);
		return FAN_DENY;
	}
	exe_of(m->pid, exe, sizeof(exe));
	if (tfd_gate_is_interpreter(base_of(exe))) {
		char head[2], cmd[4096];
		ssize_t h = pread(m->fd, head, sizeof(head), 0);
		size_t nc = cmdline_of(m->pid, cmd, sizeof(cmd));

		fd_path(m->fd, path, sizeof(path));
		if (tfd_gate_script_shape(path, head, h > 0 ? (size_t)h : 0,
					  cmd, nc) ||
		    fd_arg_names(m->pid, m->fd, cmd, nc) ||
		    env_names(m->pid, path)) {
			report(g, "script", m->pid, path, exe);
			return FAN_DENY;
		}
	}
	return FAN_ALLOW;
}

static void handle_events(struct tfd_gate *g)
{
	char buf[8192] __attribute__((aligned(8)));
	ssize_t len = read(g->fan, buf, sizeof(buf));
	const struct fanotify_event_metadata *m = (const void *)buf;

	for (; len > 0 && FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
		struct fanotify_response resp = {.fd = m->fd,
						 .response = FAN_DENY};

		if (m->vers != FANOTIFY_METADATA_VERSION || m->fd < 0)
			continue;
		resp.response = decide(g, m);
		if (write(g->fan, &resp, sizeof(resp)) < 0)
			tf_warn("exec gate: answer: %s", strerror(errno));
		close(m->fd);
	}
}

static void *gate_main(void *arg)
{
	struct tfd_gate *g = arg;

	for (;;) {
		struct pollfd pf[3] = {{.fd = g->fan, .events = POLLIN},
				       {.fd = g->ctl[0], .events = POLLIN},
				       {.fd = g->fan_mnt, .events = POLLIN}};
		char c, drain[4096];

		if (poll(pf, g->fan_mnt >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents & POLLIN)
			handle_events(g);
		if (pf[1].revents) {
			if (read(g->ctl[0], &c, 1) != 1)
				break; /* EOF: stop */
			(void)rescan(g);
		}
		if (g->fan_mnt >= 0 && (pf[2].revents & POLLIN)) {
			/* which mount does not matter: rescan marks all */
			if (read(g->fan_mnt, drain, sizeof(drain)) < 0) {
				/* nothing to drain */
			}
			(void)rescan(g);
		}
	}
	return NULL;
}

/* ---- the loop's side ---- */

static void gate_free(struct tfd_gate *g)
{
	int *fds[] = {&g->fan,	  &g->fan_mnt, &g->proc_fd, &g->root_fd,
		      &g->ctl[0], &g->ctl[1],  &g->rep[0],  &g->rep[1]};

	for (size_t i = 0; i < TF_ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	if (g->hs_init) {
		tfd_hashes_clear(&g->hs);
		pthread_mutex_destroy(&g->hs.mu);
		pthread_mutex_destroy(&g->amu);
	}
	free(g);
}

/* pin mode: what the gate pinned since the last save goes to the record
 * (atomically, MAC'd); on the loop, as it holds the key */
static void save_pins(struct tfd *d, struct tfd_persona *p)
{
	uint32_t n;
	int r;

	if (p->gate == NULL)
		return;
	n = __atomic_exchange_n(&p->gate->pinned_new, 0, __ATOMIC_RELAXED);
	if (n == 0)
		return;
	r = tfd_hashes_save(d, p, &p->gate->hs);
	if (r < 0)
		tf_warn("%s: cannot save its exec hash record: %s (the pins "
			"hold until it stops)",
			p->cfg->name, strerror(-r));
	tfd_audit(d, 0, "exec.pinned", p, NULL, "count=%u\tsaved=%s", n,
		  r < 0 ? "no" : "yes");
}

static void gate_reports(struct tfd *d, struct tfd_source *s, uint32_t ev)
{
	struct tfd_persona *p = s->data;
	struct gate_rec r;
	uint32_t lost;

	(void)ev;
	while (p->gate &&
	       read(p->gate->rep[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		r.path[sizeof(r.path) - 1] = r.exe[sizeof(r.exe) - 1] = '\0';
		r.kind[sizeof(r.kind) - 1] = '\0';
		if (!strcmp(r.kind, "pin"))
			continue; /* saved below */
		tfd_audit(d, 0, "exec.denied", p, NULL,
			  "kind=%s\tpath=%s\tby=%s\tpid=%d", r.kind, r.path,
			  r.exe, (int)r.pid);
	}
	lost = p->gate ? __atomic_exchange_n(&p->gate->dropped, 0,
					     __ATOMIC_RELAXED)
		       : 0;
	if (lost)
		tfd_audit(d, 0, "exec.denied", p, NULL, "unreported=%u", lost);
	save_pins(d, p);
}

bool tfd_gate_wanted(const struct tfd_persona *p)
{
	return !p->cfg->allow_exec_writable;
}

int tfd_gate_start(struct tfd *d, struct tfd_persona *p,
		   const struct tf_profile *prof, char *err, size_t errlen)
{
	struct tfd_gate *g;
	char path[64];
	pid_t init = tf_persona_init_pid(p->rt);
	int r;

	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	g->fan_mnt = g->proc_fd = g->root_fd = -1;
	g->ctl[0] = g->ctl[1] = g->rep[0] = g->rep[1] = -1;
	r = tfd_hashes_init(&g->hs, d->suite);
	if (r == 0)
		r = -pthread_mutex_init(&g->amu, NULL);
	if (r < 0) {
		free(g);
		return r;
	}
	g->hs_init = true;
	/* base files by hash: a record whose MAC fails stops the start */
	g->mode = tfd_eh_mode_of(p);
	if (g->mode != TFD_EH_OFF) {
		enum tfd_eh_rec rec;
		bool found;

		r = tfd_hashes_load(d, p, &g->hs, &rec, err, errlen);
		if (r < 0) {
			tfd_audit(d, TF_AUDIT_SYNC, "exec.hashes", p, NULL,
				  "mode=%s\trecord=bad\terrno=%d",
				  p->cfg->exec_hashes, -r);
			gate_free(g);
			return r;
		}
		found = rec == TFD_EH_REC_OK;
		if (rec == TFD_EH_REC_STALE)
			tf_info("%s: its exec hash record is of an earlier key "
				"(wiped or erased since): set aside",
				p->cfg->name);
		/* sealed: pins are not a seal (first execs decided them) */
		if (found && g->mode == TFD_EH_SEALED && !g->hs.sealed) {
			tfd_hashes_clear(&g->hs);
			found = false;
		}
		tfd_audit(d, 0, "exec.hashes", p, NULL,
			  "mode=%s\trecord=%s\tentries=%zu",
			  g->mode == TFD_EH_PIN ? "pin" : "sealed",
			  found			    ? "ok"
			  : rec == TFD_EH_REC_STALE ? "stale"
						    : "none",
			  g->hs.n);
		if (!found && g->mode == TFD_EH_SEALED)
			tf_warn("%s: exec_hashes = sealed but no record: no "
				"base file may run until `twofold exec seal "
				"%s`",
				p->cfg->name, p->cfg->name);
	}
	g->base = prof->base[0] != '\0';
	g->n_sys = prof->n_sys;
	for (uint32_t i = 0; i < prof->n_sys; i++)
		memcpy(g->sys[i], prof->sys[i].name, sizeof(g->sys[i]));
	g->fan =
		fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC |
				      FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
			      O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	if (g->fan < 0) {
		r = -errno;
		snprintf(
			err, errlen,
			"%s: exec gate: fanotify_init: %s (a kernel with "
			"fanotify permission events is needed; or set "
			"allow_exec_writable = yes for a device-bound persona)",
			p->cfg->name, strerror(-r));
		gate_free(g);
		return r;
	}
	snprintf(path, sizeof(path), "/proc/%d", (int)init);
	g->proc_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (g->proc_fd >= 0)
		g->root_fd = openat(g->proc_fd, "root",
				    O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (g->root_fd < 0 || pipe2(g->ctl, O_CLOEXEC) < 0 ||
	    pipe2(g->rep, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: exec gate: %s", p->cfg->name,
			 strerror(-r));
		gate_free(g);
		return r;
	}
	r = rescan(g);
	if (r < 0 || g->n_mounts == 0) {
		snprintf(err, errlen, "%s: exec gate: read its mounts: %s",
			 p->cfg->name, strerror(r < 0 ? -r : ENOENT));
		gate_free(g);
		return r < 0 ? r : -ENOENT;
	}
	/* new mounts (app images): optional, rescan on demand without it */
	g->fan_mnt = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC |
					   FAN_NONBLOCK | FAN_REPORT_MNT,
				   O_RDONLY | O_CLOEXEC);
	if (g->fan_mnt >= 0) {
		int nsfd;

		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)init);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 ||
		    fanotify_mark(g->fan_mnt, FAN_MARK_ADD | FAN_MARK_MNTNS,
				  FAN_MNT_ATTACH, nsfd, NULL) < 0) {
			close(g->fan_mnt);
			g->fan_mnt = -1;
		}
		if (nsfd >= 0)
			close(nsfd);
	}
	r = tfd_source_add(d, &p->gate_src, g->rep[0], EPOLLIN, gate_reports,
			   p);
	if (r == 0) {
		(void)fcntl(g->rep[0], F_SETFL, O_NONBLOCK);
		r = -pthread_create(&g->th, NULL, gate_main, g);
		if (r < 0)
			tfd_source_del(d, &p->gate_src);
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: exec gate thread: %s", p->cfg->name,
			 strerror(-r));
		gate_free(g);
		return r;
	}
	g->running = true;
	p->gate = g;
	return 0;
}

int tfd_gate_rescan(struct tfd_persona *p)
{
	if (p->gate == NULL)
		return 0;
	return write(p->gate->ctl[1], "r", 1) == 1 ? 0 : -errno;
}

void tfd_gate_stop(struct tfd *d, struct tfd_persona *p)
{
	struct tfd_gate *g = p->gate;

	if (g == NULL)
		return;
	gate_reports(d, &p->gate_src, 0); /* the last denials */
	tfd_source_del(d, &p->gate_src);
	close(g->ctl[1]); /* EOF: the thread returns */
	g->ctl[1] = -1;
	if (g->running)
		(void)pthread_join(g->th, NULL);
	save_pins(d, p);
	if (g->mode != TFD_EH_OFF)
		tf_info("%s: exec gate: base files by hash: %" PRIu64
			" hits %.1f us each, %" PRIu64 " misses %.1f us each",
			p->cfg->name, g->hits,
			g->hits ? (double)g->hit_ns / (double)g->hits / 1e3 : 0,
			g->misses,
			g->misses ? (double)g->miss_ns / (double)g->misses / 1e3
				  : 0);
	p->gate = NULL;
	gate_free(g);
}

void tfd_gate_app_attach(struct tfd_persona *p, const char *name, int mfd)
{
	struct tfd_gate *g = p->gate;
	struct statx u, o;

	if (g == NULL)
		return;
	if (statx(mfd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &u) < 0 ||
	    !(u.stx_mask & STATX_MNT_ID_UNIQUE) ||
	    statx(mfd, "", AT_EMPTY_PATH, STATX_MNT_ID, &o) < 0 ||
	    !(o.stx_mask & STATX_MNT_ID)) {
		tf_warn("%s: app %s: its mount has no id (%s): it will not run",
			p->cfg->name, name, strerror(errno ? errno : ENOSYS));
		return;
	}
	pthread_mutex_lock(&g->amu);
	if (g->n_apps < TF_ARRAY_SIZE(g->apps)) {
		struct gate_app *a = &g->apps[g->n_apps++];
		snprintf(a->name, sizeof(a->name), "%s", name);
		a->mnt = u.stx_mnt_id;
		a->id = o.stx_mnt_id;
	}
	pthread_mutex_unlock(&g->amu);
}

/* keep: drop name's other mounts (the image an update replaced); else
 * drop this one (its attach failed) */
void tfd_gate_app_settle(struct tfd_persona *p, const char *name, int mfd,
			 bool attached)
{
	struct tfd_gate *g = p->gate;
	struct statx u;

	if (g == NULL ||
	    statx(mfd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &u) < 0)
		return;
	pthread_mutex_lock(&g->amu);
	for (size_t i = 0; i < g->n_apps;) {
		struct gate_app *a = &g->apps[i];
		bool self = a->mnt == u.stx_mnt_id;
		if (strcmp(a->name, name) == 0 && self != attached)
			*a = g->apps[--g->n_apps];
		else
			i++;
	}
	pthread_mutex_unlock(&g->amu);
}

void tfd_gate_app_detached(struct tfd_persona *p, const char *name)
{
	struct tfd_gate *g = p->gate;

	if (g == NULL)
		return;
	pthread_mutex_lock(&g->amu);
	for (size_t i = 0; i < g->n_apps;)
		if (!strcmp(g->apps[i].name, name))
			g->apps[i] = g->apps[--g->n_apps];
		else
			i++;
	pthread_mutex_unlock(&g->amu);
}

int tfd_gate_seal(struct tfd *d, struct tfd_persona *p, void *hsv)
{
	struct tfd_gate *g = p->gate;

	if (g == NULL)
		return -ENOTCONN;
	tfd_hashes_take(&g->hs, hsv);
	__atomic_store_n(&g->pinned_new, 0, __ATOMIC_RELAXED);
	return tfd_hashes_save(d, p, &g->hs);
}
