/* SPDX-License-Identifier: ISC */
/*
 * The persona's init: the child cloned by tf_persona_start() into fresh
 * user, mount, pid, ipc, uts and net namespaces. It assembles the root
 * filesystem, pivots into it, sets the hostname and loopback, drops every
 * capability and then only reaps children until told to stop.
 *
 * This runs in a raw clone3() child of the spawner (spawner.c; the
 * daemon's child by CLONE_PARENT): no malloc, no stdio
 * streams, no config reading; everything it needs is in struct tf_p_setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <sys/random.h>

#include "internal.h"

/* The new root is assembled on a tmpfs mounted over /tmp of the child's
 * private copy of the host mount tree (nothing propagates back, see below);
 * pivot_root then makes it "/". */
#define NEWROOT "/tmp"

/* What is mounted where is the profile's (struct tf_profile: its system
 * dirs, data-dir binds, device nodes and writable paths); this file is the
 * mechanism. Bounds for the stack arrays below: */
#define N_BASE TF_PROF_SYS_MAX
#define N_DATA TF_PROF_BIND_MAX
#define N_DEV TF_PROF_DEV_MAX

static int status_fd = -1;
/* the persona's /etc/resolv.conf (tf_profile.resolv_conf's content) */
static char resolv_text[4096];
static size_t resolv_len;

static TF_NORETURN TF_PRINTF(2, 3) void fail(int err, const char *fmt, ...)
{
	struct tf_p_status st = {.err = err > 0 ? -err : err};
	va_list ap;

	if (st.err == 0)
		st.err = -EIO;
	va_start(ap, fmt);
	(void)vsnprintf(st.msg, sizeof(st.msg), fmt, ap);
	va_end(ap);
	if (tf_write_full(status_fd, &st, sizeof(st)) < 0) {
		/* nothing left to tell it with */
	}
	_exit(1);
}

#define CHECK(expr, ...)                                                       \
	do {                                                                   \
		if ((expr) < 0)                                                \
			fail(errno, __VA_ARGS__);                              \
	} while (0)

static int clone_tree(const char *path)
{
	return open_tree(AT_FDCWD, path,
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
				 AT_SYMLINK_NOFOLLOW);
}

/* Attach a detached tree at dirfd/name and apply attrs to it and below. */
static void attach(int tree, int dirfd, const char *name, uint64_t attrs,
		   const char *what)
{
	struct mount_attr a = {.attr_set = attrs};

	CHECK(move_mount(tree, "", dirfd, name, MOVE_MOUNT_F_EMPTY_PATH),
	      "bind %s: %m", what);
	close(tree);
	if (attrs != 0)
		CHECK(mount_setattr(dirfd, name, AT_RECURSIVE, &a, sizeof(a)),
		      "make %s read-only/nosuid: %m", what);
}

static void mkdir_at(int dirfd, const char *name, mode_t mode)
{
	if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
		fail(errno, "mkdir %s: %m", name);
}

/* mkdir -p of the parents of rel (a path below dirfd). */
static void mkdir_parents_at(int dirfd, const char *rel)
{
	char buf[TF_CFG_PATH_MAX];

	if (tf_strlcpy(buf, rel, sizeof(buf)) < 0)
		fail(-ENAMETOOLONG, "device path too long");
	for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir_at(dirfd, buf, 0755);
		*s = '/';
	}
}

static void touch_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name,
			O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0 && errno != EEXIST)
		fail(errno, "create mount point /dev/%s: %m", name);
	if (fd >= 0)
		close(fd);
}

/* The persona's own layer over the host's /etc: its users and groups, not
 * the host's names; its host name; and whiteouts over the host's secrets
 * and host-user lists (unreadable anyway: host-root owned and unmapped,
 * but not even their names should show). */
static const char etc_passwd[] =
	"root:x:0:0:root:/:/bin/sh\n"
	"app:x:1000:1000:app:/home/app:/bin/sh\n"
	"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char etc_group[] = "root:x:0:\n"
				"tty:x:5:\n"
				"app:x:1000:\n"
				"nogroup:x:65534:\n";
static const char *const etc_hidden[] = {
	"shadow",
	"shadow-",
	"gshadow",
	"gshadow-",
	"passwd-",
	"group-",
	"subuid",
	"subuid-",
	"subgid",
	"subgid-",
	"ssh/ssh_host_rsa_key",
	"ssh/ssh_host_ecdsa_key",
	"ssh/ssh_host_ed25519_key",
	"ssh/ssh_host_dsa_key",
};

static void write_at(int dirfd, const char *name, const char *data, size_t len)
{
	int fd = openat(dirfd, name,
			O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
			0644);

	CHECK(fd, "create /etc/%s: %m", name);
	if (tf_write_full(fd, data, len) < 0)
		fail(errno, "write /etc/%s: %m", name);
	close(fd);
}

static void fill_etc_layer(const struct tf_p_setup *s, int etc)
{
	char buf[160];
	int n;

	write_at(etc, "passwd", etc_passwd, sizeof(etc_passwd) - 1);
	write_at(etc, "group", etc_group, sizeof(etc_group) - 1);
	n = snprintf(buf, sizeof(buf), "%s\n", s->name);
	write_at(etc, "hostname", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf),
		     "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
		     "127.0.1.1\t%s\n",
		     s->name);
	write_at(etc, "hosts", buf, (size_t)n);
	/* the host's resolvers are the host's: a persona's are the ones its
	 * network mode gives it (the daemon's file, read before we left host
	 * root); none for a persona with loopback only */
	write_at(etc, "resolv.conf", resolv_text, resolv_len);
	/* the host's machine-id would tie both personas to one device */
	{
		uint8_t id[16];
		static const char hex[] = "0123456789abcdef";

		if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
			fail(errno, "getrandom: %m");
		for (size_t i = 0; i < sizeof(id); i++) {
			buf[2 * i] = hex[id[i] >> 4];
			buf[2 * i + 1] = hex[id[i] & 15];
		}
		buf[32] = '\n';
		write_at(etc, "machine-id", buf, 33);
	}
	mkdir_at(etc, "ssh", 0755);
	/* an overlayfs whiteout is a 0/0 char device; a user namespace may
	 * make those (Linux 5.8) */
	for (size_t i = 0; i < TF_ARRAY_SIZE(etc_hidden); i++)
		CHECK(mknodat(etc, etc_hidden[i], S_IFCHR | 0000, 0),
		      "whiteout /etc/%s: %m", etc_hidden[i]);
}

/*
 * /usr and /etc through a read-only overlayfs of this persona (mounted in
 * its user namespace, Linux 5.11): the files are the host's, but the
 * inodes the persona sees are the overlay's own. With a plain bind both
 * personas shared the host inodes, so inotify on /usr/bin/X told one
 * persona when the other ran X, and inotify or flock on any shared file
 * was a covert channel between them. fsnotify marks and flocks attach to
 * the overlay inode; kernel 6.18 shows neither the other persona's
 * accesses nor its locks (tests/integration/persona/test_shared.sh).
 * Read-only without an upper dir needs two lower layers: an empty dir
 * under /usr, the persona's layer (fill_etc_layer) over /etc. The layers
 * live on a staging tmpfs that is detached again: the overlay holds them.
 */
static void mount_overlays(const struct tf_p_setup *s, int rootfd,
			   const bool *ov)
{
	static const char stage[] = NEWROOT "/.tf-layers";
	char opts[PATH_MAX + 64];
	int sfd, etc;

	mkdir_at(rootfd, ".tf-layers", 0700);
	CHECK(mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		    "mode=0755,size=64k"),
	      "overlay layers tmpfs: %m");
	sfd = open(stage, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(sfd, "open overlay layers: %m");
	mkdir_at(sfd, "empty", 0755);
	mkdir_at(sfd, "etc", 0755);
	etc = openat(sfd, "etc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(etc, "open /etc layer: %m");
	fill_etc_layer(s, etc);
	close(etc);
	close(sfd);
	for (size_t i = 0; i < s->prof->n_sys; i++) {
		const char *name = s->prof->sys[i].name;
		char dst[64];

		if (!ov[i])
			continue;
		if (!strcmp(name, "etc"))
			snprintf(opts, sizeof(opts), "ro,lowerdir=%s/etc:/etc",
				 stage);
		else
			snprintf(opts, sizeof(opts), "ro,lowerdir=/%s:%s/empty",
				 name, stage);
		snprintf(dst, sizeof(dst), NEWROOT "/%s", name);
		CHECK(mount("overlay", dst, "overlay",
			    MS_RDONLY | MS_NOSUID | MS_NODEV, opts),
		      "overlay /%s: %m", name);
	}
	CHECK(umount2(stage, MNT_DETACH), "detach overlay layers: %m");
	CHECK(unlinkat(rootfd, ".tf-layers", AT_REMOVEDIR),
	      "remove overlay layers dir: %m");
}

/* Default dispositions and an empty mask for every signal: a fork of the
 * daemon inherits its blocked mask (signalfd) and any SIG_IGN, and so would
 * every process started from it. Shared with the launcher. */
void tf_p_reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Drop every capability: the init only reaps children and, on SIGTERM,
 * exits; the kernel then SIGKILLs the rest of the pid namespace
 * (zap_pid_ns_processes), so it needs no CAP_KILL either. */
static void drop_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	for (unsigned long c = 0; c < 64; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			fail(errno, "drop bounding cap %lu: %m", c);
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0),
	      "clear ambient caps: %m");
	memset(data, 0, sizeof(data));
	CHECK(syscall(SYS_capset, &hdr, data), "capset: %m");
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs: %m");
}

static TF_NORETURN void init_loop(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked signals are queued even for a pid-1 (SIGNAL_UNKILLABLE)
	 * task, which otherwise drops signals with the default action. */
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
	{
		struct tf_p_status ok = {.err = 0};
		if (tf_write_full(status_fd, &ok, sizeof(ok)) < 0) {
			/* nothing left to tell it with */
		}
		close(status_fd);
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);

		if (sig == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		} else if (sig > 0) {
			/* Everything of the persona's uid; the kernel kills
			 * the rest when pid 1 exits. */
			(void)kill(-1, SIGKILL);
			while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
				;
			_exit(0);
		}
	}
}

/* The bind at dst is noexec unless the writable path there says exec. */
static uint64_t bind_attrs(const struct tf_profile *pr, const char *dst)
{
	uint64_t a = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

	for (uint32_t i = 0; i < pr->n_writable; i++)
		if (!strcmp(pr->writable[i].path, dst) &&
		    (pr->writable[i].flags & TF_PROF_EXEC))
			a &= ~(uint64_t)MOUNT_ATTR_NOEXEC;
	return a;
}

static void set_memfd_noexec(void)
{
	char got[4] = {0};
	int fd = open("/proc/sys/vm/memfd_noexec",
		      O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	CHECK(fd, "open /proc/sys/vm/memfd_noexec: %m");
	if (write(fd, "2\n", 2) != 2)
		fail(errno, "set vm.memfd_noexec = 2: %m");
	if (pread(fd, got, sizeof(got) - 1, 0) < 1 || got[0] != '2')
		fail(EIO, "vm.memfd_noexec did not stick (reads %s)", got);
	close(fd);
}

void tf_p_child_main(const struct tf_p_setup *s)
{
	const struct tf_profile *pr = s->prof;
	const char *base = pr->base[0] ? pr->base : NULL;
	int base_fd[N_BASE], data_fd[N_DATA], dev_fd[N_DEV];
	const char *dev_nodes[N_DEV];
	size_t n_dev = tf_profile_dev_nodes(pr, dev_nodes, N_DEV);
	char link[N_BASE][PATH_MAX];
	bool ov[N_BASE];
	char path[PATH_MAX];
	int rootfd, devfd, basefd = -1;
	char go;

	status_fd = s->status_fd;
	tf_p_reset_signals();
	/* The persona dies with the daemon (documented: apps do not survive
	 * a daemon restart). Set before "go", so a parent that died before
	 * this point is noticed as EOF on the sync pipe. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_NAME, (unsigned long)"tf-init", 0, 0, 0);
	if (read(s->sync_fd, &go, 1) != 1)
		_exit(1);
	close(s->sync_fd);

	/* Now in the persona's cgroups (CLONE_INTO_CGROUP / attach by the
	 * parent): a cgroup namespace made here is rooted at them, so the
	 * persona sees "/" and not the host's cgroup paths. */
	CHECK(unshare(CLONE_NEWCGROUP), "cgroup namespace: %m");

	/* vm.memfd_noexec = 2 for this pid namespace (Linux 6.3): no memfd
	 * may ever be executable (MFD_EXEC refused, every memfd sealed
	 * noexec), so code cannot be run from memory either. It is per pid
	 * namespace and inherited by the ones made inside, which cannot
	 * lower it; written here, before any other process of the persona
	 * exists, while we are still host root (the sysctl file is host
	 * root's 0644) and already pid 1 of the new namespace (the handler
	 * acts on the writer's). Not for a persona whose writable dirs are
	 * executable anyway (allow_exec_writable). */
	if (bind_attrs(pr, "/dev/shm") & MOUNT_ATTR_NOEXEC)
		set_memfd_noexec();

	/* Clone the host trees we bind while our fsuid is still host root:
	 * the mount namespace is owned by the new user namespace, where our
	 * capabilities do not cover host-root-owned 0700 dirs on the way to
	 * the data dir, but owner permission does. open_tree(OPEN_TREE_CLONE)
	 * needs the source in our own mount namespace, so it is done here,
	 * not in the parent. */
	if (base) {
		basefd = clone_tree(base);
		CHECK(basefd, "base %s: %m", base);
	}
	/* The daemon's resolv.conf for this persona: copied into the /etc
	 * layer, not bound (a bind would show the daemon's path in the
	 * persona's mountinfo) */
	if (pr->resolv_conf[0]) {
		int fd = open(pr->resolv_conf,
			      O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		ssize_t n;
		CHECK(fd, "resolv.conf %s: %m", pr->resolv_conf);
		n = read(fd, resolv_text, sizeof(resolv_text));
		CHECK(n, "read resolv.conf %s: %m", pr->resolv_conf);
		if ((size_t)n == sizeof(resolv_text))
			fail(EFBIG, "resolv.conf %s: larger than %zu bytes",
			     pr->resolv_conf, sizeof(resolv_text) - 1);
		resolv_len = (size_t)n;
		close(fd);
	}
	for (size_t i = 0; i < pr->n_sys; i++) {
		struct stat st;

		base_fd[i] = -1;
		ov[i] = false;
		link[i][0] = '\0';
		if (base)
			continue;
		snprintf(path, sizeof(path), "/%s", pr->sys[i].name);
		if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* this host does not have it */
		if (S_ISLNK(st.st_mode)) {
			ssize_t n =
				readlink(path, link[i], sizeof(link[i]) - 1);
			CHECK(n, "readlink %s: %m", path);
			link[i][n] = '\0';
		} else if (S_ISDIR(st.st_mode) &&
			   (pr->sys[i].flags & TF_PROF_SYS_OVERLAY)) {
			ov[i] = true;
		} else if (S_ISDIR(st.st_mode)) {
			base_fd[i] = clone_tree(path);
			CHECK(base_fd[i], "bind %s: %m", path);
		}
	}
	for (size_t i = 0; i < pr->n_binds; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->data_dir,
			 pr->binds[i].src);
		data_fd[i] = clone_tree(path);
		CHECK(data_fd[i], "bind %s: %m", path);
	}
	for (size_t i = 0; i < n_dev; i++) {
		dev_fd[i] = clone_tree(dev_nodes[i]);
		/* a hot-pluggable device may be absent right now: skip */
		if (dev_fd[i] < 0 && errno != ENOENT && errno != ENXIO)
			fail(errno, "bind %s: %m", dev_nodes[i]);
	}

	/* Become the persona's root (host uid_base). The parent (host root)
	 * wrote the maps, so /proc/PID/setgroups stays "allow": that lets us
	 * drop the daemon's supplementary groups here, which would otherwise
	 * keep host group access (kgid 0!) in the persona. setgroups in the
	 * namespace needs CAP_SETGID there and can only pick gids of the
	 * persona's own range, so "deny" would protect nothing (the "deny"
	 * rule is for maps written by unprivileged users, who could drop a
	 * group used as a negative ACL). */
	CHECK(setgroups(0, NULL), "setgroups: %m");
	CHECK(setresgid(0, 0, 0), "setresgid: %m");
	CHECK(setresuid(0, 0, 0), "setresuid: %m");
	/* The kernel clears the parent-death signal whenever the euid or
	 * fsuid changes (commit_creds): we just went from host uid 0 to
	 * uid_base, so arm it again, or a SIGKILLed daemon would leave this
	 * persona running. (Its parent is outside our pid namespace, so
	 * getppid() cannot tell whether it died in between; the sync pipe
	 * read above already proved it was alive a few syscalls ago, and
	 * the ready message on status_fd below fails with EPIPE if not.) */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

	/* Copied mounts of a namespace made in a new user namespace are
	 * already slaves; make them private so not even host events reach
	 * us, and nothing of ours could ever propagate back. */
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
	      "make / private: %m");

	if (basefd >= 0) {
		CHECK(move_mount(basefd, "", AT_FDCWD, NEWROOT,
				 MOVE_MOUNT_F_EMPTY_PATH),
		      "mount base %s: %m", base);
		close(basefd);
	} else {
		CHECK(mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV,
			    "mode=0755,size=256k"),
		      "root tmpfs: %m");
	}
	rootfd = open(NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(rootfd, "open new root: %m");
	if (base) {
		/* read-only even for the persona's root; the writable dirs
		 * are mounted on top below */
		struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY |
						   MOUNT_ATTR_NOSUID |
						   MOUNT_ATTR_NODEV};
		CHECK(mount_setattr(rootfd, "", AT_EMPTY_PATH | AT_RECURSIVE,
				    &a, sizeof(a)),
		      "make base read-only: %m");
	}

	for (size_t i = 0; i < pr->n_sys; i++) {
		const char *name = pr->sys[i].name;

		if (link[i][0]) {
			CHECK(symlinkat(link[i], rootfd, name),
			      "symlink /%s: %m", name);
		} else if (ov[i]) {
			mkdir_at(rootfd, name, 0755);
		} else if (base_fd[i] >= 0) {
			mkdir_at(rootfd, name, 0755);
			attach(base_fd[i], rootfd, name,
			       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
				       MOUNT_ATTR_NODEV,
			       name);
		}
	}
	if (!base)
		mount_overlays(s, rootfd, ov);
	for (size_t i = 0; i < pr->n_binds; i++) {
		const char *dst = pr->binds[i].dst + 1; /* below the root */

		if (!base)
			mkdir_at(rootfd, dst, 0755);
		attach(data_fd[i], rootfd, dst,
		       bind_attrs(pr, pr->binds[i].dst), dst);
	}

	/* /dev: a small tmpfs with the bound host nodes */
	if (!base)
		mkdir_at(rootfd, "dev", 0755);
	CHECK(mount("tmpfs", NEWROOT "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
		    "mode=0755,size=64k"),
	      "/dev tmpfs: %m");
	devfd = open(NEWROOT "/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(devfd, "open /dev: %m");
	for (size_t i = 0; i < n_dev; i++) {
		/* under /dev/ (tf_profile_check) */
		const char *rel = dev_nodes[i] + strlen("/dev/");

		if (dev_fd[i] < 0)
			continue;
		mkdir_parents_at(devfd, rel);
		touch_at(devfd, rel);
		/* a bind keeps the host /dev's attributes, exec included: a
		 * device's mapping (/dev/zero's pages, a sound or video
		 * buffer the app filled through a writable mapping of the
		 * same fd) would map PROT_EXEC, past W^X */
		attach(dev_fd[i], devfd, rel,
		       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, dev_nodes[i]);
	}
	{
		static const char *const links[][2] = {
			{"pts/ptmx", "ptmx"},
			{"/proc/self/fd", "fd"},
			{"/proc/self/fd/0", "stdin"},
			{"/proc/self/fd/1", "stdout"},
			{"/proc/self/fd/2", "stderr"},
		};
		for (size_t i = 0; i < TF_ARRAY_SIZE(links); i++)
			CHECK(symlinkat(links[i][0], devfd, links[i][1]),
			      "symlink /dev/%s: %m", links[i][1]);
	}
	mkdir_at(devfd, "pts", 0755);
	mkdir_at(devfd, "shm", 01777);
	mkdir_at(devfd, "mqueue", 0755);
	/* A new devpts instance: the persona's ptys are invisible to the host
	 * and the other persona. gid=5 (tty) is in the persona's gid map
	 * (uid_count > 5 is checked by start). */
	{
		/* max=: a persona cannot exhaust the host-wide pty pool
		 * (kernel.pty.max) and leave the other without a terminal */
		char opts[96];

		snprintf(opts, sizeof(opts),
			 "newinstance,ptmxmode=0666,mode=620,gid=5,max=%u",
			 pr->pty_max ? pr->pty_max : TF_PTY_MAX_DEFAULT);
		CHECK(mount("devpts", NEWROOT "/dev/pts", "devpts",
			    MS_NOSUID | MS_NOEXEC, opts),
		      "devpts: %m");
	}
	/* noexec like every writable mount (bind_attrs): a file written to
	 * /dev/shm is no program unless the profile says exec there */
	CHECK(mount("tmpfs", NEWROOT "/dev/shm", "tmpfs",
		    MS_NOSUID | MS_NODEV |
			    ((bind_attrs(pr, "/dev/shm") & MOUNT_ATTR_NOEXEC)
				     ? MS_NOEXEC
				     : 0),
		    "mode=1777"),
	      "/dev/shm: %m");
	/* mqueue of the new ipc namespace (mounting binds the caller's) */
	CHECK(mount("mqueue", NEWROOT "/dev/mqueue", "mqueue",
		    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
	      "/dev/mqueue: %m");
	{
		struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
		CHECK(mount_setattr(devfd, "", AT_EMPTY_PATH, &a, sizeof(a)),
		      "make /dev read-only: %m");
	}
	close(devfd);

	/* A fresh /proc of the new pid namespace: we are its pid 1. It must
	 * be mounted while the host's /proc is still visible in this mount
	 * namespace: the kernel only lets a user namespace mount proc when a
	 * fully visible one exists (mount_too_revealing()). */
	if (!base)
		mkdir_at(rootfd, "proc", 0555);
	CHECK(mount("proc", NEWROOT "/proc", "proc",
		    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
	      "/proc: %m");
	/* No host /sys: an empty dir for programs that stat it. */
	if (!base)
		mkdir_at(rootfd, "sys", 0555);
	/* where the daemon mounts app images (read-only erofs, issue 13):
	 * the one place besides the base system the exec gate lets code
	 * run from (src/daemon/execgate.c) */
	if (!base)
		mkdir_at(rootfd, "apps", 0755);

	if (!base) {
		struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
		CHECK(mount_setattr(rootfd, "", AT_EMPTY_PATH, &a, sizeof(a)),
		      "make / read-only: %m");
	}

	/* pivot_root(".", ".") stacks the old root on top of the new one;
	 * the lazy umount then drops the whole host tree from this
	 * namespace (no old-root dir needed in a read-only root). */
	CHECK(fchdir(rootfd), "chdir new root: %m");
	close(rootfd);
	CHECK(syscall(SYS_pivot_root, ".", "."), "pivot_root: %m");
	CHECK(umount2(".", MNT_DETACH), "umount old root: %m");
	CHECK(chdir("/"), "chdir /: %m");

	CHECK(sethostname(s->name, strlen(s->name)), "sethostname: %m");
	/* No network set-up here: the init was born in the namespace the
	 * daemon made (lo up, and the persona's links, addresses and routes
	 * for its mode); the persona's root has no capability over it. */

	/* stdio to /dev/null; close everything inherited but the status
	 * pipe (the parent moved it to fd >= 3). */
	{
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		CHECK(nul, "open /dev/null: %m");
		for (int fd = 0; fd < 3; fd++)
			CHECK(dup2(nul, fd), "dup2: %m");
		if (status_fd > 3)
			(void)close_range(3, (unsigned)status_fd - 1, 0);
		(void)close_range((unsigned)status_fd + 1, ~0U, 0);
	}
	drop_caps();
	init_loop();
}
