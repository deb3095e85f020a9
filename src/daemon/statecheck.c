/* SPDX-License-Identifier: ISC */
/*
 * Start-up checks that refuse to run on an unsafe host state
 * (docs/twofoldd.8.md "Refusals"):
 *
 * tfd_check_state_perms: the state directory, the image mount points
 * (mnt/, fs/ and fs/<persona>), the images in storage/ and every key
 * file must be owned by root (or the daemon's euid) and closed
 * to group and others. A 0755 state dir once let a host user read a
 * running persona's files under <state>/mnt; a 0644 device.secret would
 * hand every persona's keys to any local user. We refuse rather than
 * chmod: a wrong mode means someone changed it, and the operator should
 * know before the keys are used.
 *
 * tfd_check_uid_ranges: no other user namespace on the host may already
 * map a host uid of our personas' ranges. Two devices sharing a range
 * would share file ownership, signals and ptrace between their personas.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twofold/log.h"
#include "daemon.h"

/* One checked path: its lstat, how it must look, and where it is. */
static int check_one(const char *path, const struct stat *st, bool dir,
		     char *err, size_t errlen)
{
	uid_t me = geteuid();

	if (S_ISLNK(st->st_mode)) {
		snprintf(err, errlen,
			 "%s is a symlink; twofold state must be plain %s "
			 "(replace it with the file it points to)",
			 path, dir ? "directories" : "files");
		return -ELOOP;
	}
	if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s is not a %s", path,
			 dir ? "directory" : "regular file");
		return -EINVAL;
	}
	if (st->st_uid != 0 && st->st_uid != me) {
		snprintf(err, errlen,
			 "%s is owned by uid %u, not root; refusing to trust "
			 "it (fix with: chown root:root %s)",
			 path, (unsigned)st->st_uid, path);
		return -EPERM;
	}
	if (st->st_mode & 077) {
		snprintf(err, errlen,
			 "%s is accessible by group or others (mode %04o); "
			 "fix with: chmod %s %s",
			 path, (unsigned)(st->st_mode & 07777),
			 dir ? "700" : "600", path);
		return -EPERM;
	}
	return 0;
}

/* Check name under dfd (path is its full name for the message); a missing
 * entry is fine when optional. Returns 1 if it exists and is good. */
static int check_at(int dfd, const char *name, const char *path, bool dir,
		    bool optional, char *err, size_t errlen)
{
	struct stat st;
	int r;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT && optional)
			return 0;
		r = tf_negerrno();
		snprintf(err, errlen, "cannot check %s: %s", path,
			 strerror(-r));
		return r;
	}
	r = check_one(path, &st, dir, err, errlen);
	return r < 0 ? r : 1;
}

/* keys/<persona>/<file>: the directories 0700, the files 0600. */
static int check_keys(int statefd, const char *state, char *err, size_t errlen)
{
	_cleanup_close_ int kfd = -1;
	char path[PATH_MAX * 2];
	struct dirent *e;
	DIR *dk;
	int r = 0;

	snprintf(path, sizeof(path), "%s/keys", state);
	r = check_at(statefd, "keys", path, true, true, err, errlen);
	if (r <= 0)
		return r;
	kfd = openat(statefd, "keys",
		     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (kfd < 0)
		return tf_negerrno();
	dk = fdopendir(kfd);
	if (dk == NULL)
		return tf_negerrno();
	kfd = -1; /* dk owns it now */
	while (r >= 0 && (e = readdir(dk)) != NULL) {
		_cleanup_close_ int pfd = -1;
		struct dirent *f;
		DIR *dp;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/keys/%s", state, e->d_name);
		r = check_at(dirfd(dk), e->d_name, path, true, false, err,
			     errlen);
		if (r < 0)
			break;
		pfd = openat(dirfd(dk), e->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (pfd < 0) {
			r = tf_negerrno();
			break;
		}
		dp = fdopendir(pfd);
		if (dp == NULL) {
			r = tf_negerrno();
			break;
		}
		pfd = -1;
		while ((f = readdir(dp)) != NULL) {
			if (!strcmp(f->d_name, ".") || !strcmp(f->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/keys/%s/%s", state,
				 e->d_name, f->d_name);
			r = check_at(dirfd(dp), f->d_name, path, false, false,
				     err, errlen);
			if (r < 0)
				break;
		}
		closedir(dp);
	}
	closedir(dk);
	return r < 0 ? r : 0;
}

/* A mount point in the state dir: judged only while nothing is mounted
 * on it (st_dev is the state dir's); a killed predecessor's mount is
 * removed by the set-up, and a mounted image's root is made 0700. */
static int check_mount_point(const struct tfd *d, const struct stat *state,
			     const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", d->state_dir, name);
	if (fstatat(d->state_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISDIR(st.st_mode) && st.st_dev != state->st_dev)
		return 0;
	return check_one(path, &st, true, err, errlen);
}

/* The per-persona layout: storage/ and its images (ciphertext, but
 * nobody else's to read or replace), fs/ and each persona's mount point
 * under it. */
static int check_storage(const struct tfd *d, const struct stat *state,
			 char *err, size_t errlen)
{
	char path[PATH_MAX * 2], name[TF_NAME_MAX + 16];
	int r;

	if (d->cfg.storage_dir[0] != '\0')
		return 0;
	snprintf(path, sizeof(path), "%s/storage", d->state_dir);
	r = check_at(d->state_fd, "storage", path, true, true, err, errlen);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < d->cfg.n_personas; i++) {
		snprintf(name, sizeof(name), "storage/%s.img",
			 d->cfg.personas[i].name);
		snprintf(path, sizeof(path), "%s/%s", d->state_dir, name);
		/* a missing image is refused later, with the command that
		 * makes it */
		r = check_at(d->state_fd, name, path, false, true, err, errlen);
		if (r < 0)
			return r;
	}
	snprintf(path, sizeof(path), "%s/fs", d->state_dir);
	r = check_at(d->state_fd, "fs", path, true, true, err, errlen);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < d->cfg.n_personas; i++) {
		snprintf(name, sizeof(name), "fs/%s", d->cfg.personas[i].name);
		r = check_mount_point(d, state, name, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whoever can send the TPM commands can fail authorisations on an object
 * of its own until the dictionary-attack counter twofold set up (maxTries
 * = throttle_max_failures, no recovery) locks out for good, which erases
 * every credential persona; with the owner hierarchy's empty auth it can
 * also undefine the slots (docs/threat-model.md). So the TPM must be
 * root's alone: say so loudly when it is not (Debian's udev rule makes
 * /dev/tpmrm0 0660 root:tss). */
static void warn_tpm_access(const char *tcti)
{
	char path[256];
	struct stat st;

	if (tcti[0] == '\0')
		return;
	if (!strncmp(tcti, "swtpm", 5) || !strncmp(tcti, "mssim", 5)) {
		tf_warn("TPM at %s is reached over TCP: every local process "
			"can send it commands, exhaust its dictionary-attack "
			"counter and so erase the credential personas; for "
			"tests only",
			tcti);
		return;
	}
	if (strncmp(tcti, "device:", 7) != 0)
		return; /* tabrmd: its own access control (D-Bus policy) */
	snprintf(path, sizeof(path), "%s", tcti[7] ? tcti + 7 : "/dev/tpmrm0");
	path[strcspn(path, ",")] = '\0';
	if (stat(path, &st) == 0 && (st.st_mode & 0066) != 0)
		tf_warn("TPM device %s is mode %04o: group or other can send "
			"it commands, exhaust its dictionary-attack counter "
			"and so erase the credential personas; make it "
			"root-only (chmod 0600, or a udev rule)",
			path, (unsigned)(st.st_mode & 07777));
}

int tfd_check_state_perms(const struct tfd *d, char *err, size_t errlen)
{
	static const char *secrets[] = {"device.secret", "device.secret.tpm"};
	char path[PATH_MAX * 2];
	struct stat st, mst;
	int r;

	if (fstat(d->state_fd, &st) < 0)
		return tf_negerrno();
	/* with control_group the state dir may let that group enter (0710
	 * root:group, no more) to reach the socket in it: every entry is
	 * still checked to give the group nothing (twofoldd.8 "Callers") */
	if (d->has_group && S_ISDIR(st.st_mode) &&
	    st.st_gid == d->control_gid && (st.st_mode & 07777) == 0710) {
		struct stat closed = st;
		closed.st_mode &= ~(mode_t)0010;
		r = check_one(d->state_dir, &closed, true, err, errlen);
	} else {
		r = check_one(d->state_dir, &st, true, err, errlen);
	}
	if (r < 0)
		return r;
	/* The image mount point. A mount still on it (a killed predecessor:
	 * st_dev differs) is unmounted and remounted 0700 by the set-up, so
	 * only the directory itself is ours to judge. */
	snprintf(path, sizeof(path), "%s/mnt", d->state_dir);
	if (d->cfg.storage_dir[0] == '\0' &&
	    fstatat(d->state_fd, "mnt", &mst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (!S_ISDIR(mst.st_mode) || mst.st_dev == st.st_dev)) {
		r = check_one(path, &mst, true, err, errlen);
		if (r < 0)
			return r;
	}
	r = check_storage(d, &st, err, errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < TF_ARRAY_SIZE(secrets); i++) {
		snprintf(path, sizeof(path), "%s/%s", d->state_dir, secrets[i]);
		r = check_at(d->state_fd, secrets[i], path, false, true, err,
			     errlen);
		if (r < 0)
			return r;
	}
	warn_tpm_access(d->cfg.tpm_tcti);
	r = check_keys(d->state_fd, d->state_dir, err, errlen);
	if (r < 0 && err[0] == '\0')
		snprintf(err, errlen, "cannot check %s/keys: %s", d->state_dir,
			 strerror(-r));
	return r;
}

/* ------------------------------------------------------- uid ranges */

/* Is pid one of ours (in this daemon's cgroup tree, e.g. a persona a
 * killed predecessor left, which the set-up is about to remove)? */
static bool pid_is_ours(const struct tfd *d, const char *pid)
{
	_cleanup_free_ char *text = NULL;
	char path[300], needle[64];
	size_t len;

	snprintf(path, sizeof(path), "/proc/%s/cgroup", pid);
	if (tf_read_file_at(AT_FDCWD, path, 4096, &text, &len) < 0)
		return false;
	snprintf(needle, sizeof(needle), "/%s/", d->cg_group);
	return strstr(text, needle) != NULL;
}

/* The user namespaces seen so far: processes of one namespace share one
 * uid_map, so each is read once. Past the cap we just read again. */
#define SEEN_MAX 1024

int tfd_check_uid_ranges(const struct tfd *d, char *err, size_t errlen)
{
	static ino_t seen[SEEN_MAX];
	size_t n_seen = 0;
	struct stat self;
	struct dirent *e;
	DIR *proc;
	int r = 0;

	if (stat("/proc/self/ns/user", &self) < 0)
		return 0; /* no user namespaces: nothing can overlap */
	proc = opendir("/proc");
	if (proc == NULL)
		return tf_negerrno();
	while (r == 0 && (e = readdir(proc)) != NULL) {
		_cleanup_free_ char *map = NULL;
		char path[300], *line, *save = NULL;
		struct stat ns;
		size_t len;
		bool dup = false;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/user", e->d_name);
		if (stat(path, &ns) < 0 || ns.st_ino == self.st_ino)
			continue; /* gone, a kernel thread, or our namespace */
		for (size_t i = 0; i < n_seen && !dup; i++)
			dup = seen[i] == ns.st_ino;
		if (dup)
			continue;
		/* Read from our namespace, the second column is in our
		 * (the host's) uids, whichever namespace is the parent. */
		snprintf(path, sizeof(path), "/proc/%s/uid_map", e->d_name);
		if (tf_read_file_at(AT_FDCWD, path, 8192, &map, &len) < 0)
			continue; /* exited meanwhile */
		if (n_seen < SEEN_MAX)
			seen[n_seen++] = ns.st_ino;
		for (line = strtok_r(map, "\n", &save); line && r == 0;
		     line = strtok_r(NULL, "\n", &save)) {
			unsigned long long in, out, cnt;
			if (sscanf(line, "%llu %llu %llu", &in, &out, &cnt) !=
				    3 ||
			    cnt == 0)
				continue;
			if (in == 0 && out == 0 && cnt == 4294967295ull)
				continue; /* the identity map */
			for (size_t i = 0; i < d->cfg.n_personas; i++) {
				const struct tf_persona_cfg *p =
					&d->cfg.personas[i];
				unsigned long long b = p->uid_base,
						   end = b + p->uid_count;
				if (!(out < end && b < out + cnt))
					continue;
				if (pid_is_ours(d, e->d_name))
					break;
				snprintf(err, errlen,
					 "host uids %llu..%llu of persona %s "
					 "are already mapped by process %s "
					 "(uid_map %llu %llu %llu), another "
					 "device or container; give this "
					 "device other uid_base values in "
					 "%s/device.conf",
					 b, end - 1, p->name, e->d_name, in,
					 out, cnt, d->state_dir);
				r = -EADDRINUSE;
				break;
			}
		}
	}
	closedir(proc);
	return r;
}
