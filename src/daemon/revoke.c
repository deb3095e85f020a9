/* SPDX-License-Identifier: ISC */
/*
 * Revoke what a persona going to the background still holds open of the
 * foreground devices. The device cgroup only checks open(): an fd opened
 * while in the foreground keeps working after `switch`, so a background
 * persona could keep reading the keyboard or the microphone.
 *
 * For every process of the persona (its cgroup tree's cgroup.procs) we walk
 * /proc/PID/fd, stat each target and compare st_rdev with the configured
 * foreground devices. A match is copied into the daemon with pidfd_getfd
 * (the same open file description, not a new open); for an evdev node
 * EVIOCREVOKE on the copy revokes that description for every fd that
 * shares it, so the app's reads fail with ENODEV from then on.
 *
 * Other character devices (ALSA, V4L2, DRM, hidraw) have no revoke ioctl,
 * and a process cannot be frozen alone (the freezer is per cgroup, and its
 * siblings could SIGCONT a SIGSTOP): the holder is killed, logged with
 * pid, fd and device. Fail closed: a background persona never keeps a
 * microphone or camera open; an app that wants one again opens it when
 * its persona is foreground.
 *
 * One exception (callaudio.c): while the persona's call holds the sound
 * devices (TF_PROF_DEV_CALL), its comms service keeps its fds of those:
 * a process found in keep-comms whose uids are all TF_COMMS_UID (the
 * daemon alone puts a process there, and `run --user` refuses that uid).
 * Every other holder of them, in keep-comms or not, is killed as before.
 * tfd_revoke_call_fds is the same scan for the call devices only: a
 * persona whose call devices another persona's call took, or whose own
 * call ended in the background.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/profile.h"
#include "twofold/sandbox.h"
#include "daemon.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef EVIOCREVOKE /* linux/input.h of Linux >= 3.12 */
#define EVIOCREVOKE _IOW('E', 0x91, int)
#endif
#define INPUT_MAJOR_NR 13 /* linux/major.h INPUT_MAJOR: evdev lives here */
#define CG_DEPTH_MAX 8	  /* the persona's cgroup has at most a few levels */

struct fgdev {
	dev_t rdev;
	const char *path;
	bool call; /* TF_PROF_DEV_CALL */
};

struct scan {
	struct tfd *d;
	struct tfd_persona *p;
	struct fgdev dev[TF_PROF_DEV_MAX];
	size_t n_dev;
	unsigned revoked, kept, spared;
	/* the persona's call holds the call devices: its comms service
	 * keeps them (comms_uid: its host uid) */
	bool spare_comms;
	uid_t comms_uid;
};

/* Are all of pid's uids (real, effective, saved, fs) uid? */
static bool uids_are(pid_t pid, uid_t uid)
{
	_cleanup_free_ char *st = NULL;
	unsigned u[4];
	char path[64];
	const char *l;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (tf_read_file_at(AT_FDCWD, path, 1 << 16, &st, NULL) < 0)
		return false;
	l = strstr(st, "\nUid:");
	if (l == NULL ||
	    sscanf(l + 5, "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]) != 4)
		return false;
	return u[0] == uid && u[1] == uid && u[2] == uid && u[3] == uid;
}

static const struct fgdev *match(const struct scan *s, dev_t rdev)
{
	for (size_t i = 0; i < s->n_dev; i++)
		if (s->dev[i].rdev == rdev)
			return &s->dev[i];
	return NULL;
}

/* One fd of pid whose target is a foreground device: revoke or report. */
static void handle_fd(struct scan *s, pid_t pid, int pidfd, int fd,
		      const struct fgdev *dev, bool in_keep_comms)
{
	_cleanup_close_ int copy = -1;
	struct stat st;
	int version;

	copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (copy < 0) {
		if (errno != ESRCH && errno != EBADF) /* exited, closed */
			tf_warn("%s: pid %d fd %d (%s): pidfd_getfd: %s",
				s->p->cfg->name, pid, fd, dev->path,
				strerror(errno));
		return;
	}
	/* the app may have closed and reused fd since we looked */
	if (fstat(copy, &st) < 0 || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != dev->rdev)
		return;
	if (major(st.st_rdev) == INPUT_MAJOR_NR &&
	    ioctl(copy, EVIOCGVERSION, &version) == 0) {
		if (ioctl(copy, EVIOCREVOKE, NULL) == 0) {
			s->revoked++;
			tf_info("%s: revoked pid %d's fd %d of %s (input)",
				s->p->cfg->name, pid, fd, dev->path);
			return;
		}
		tf_warn("%s: pid %d fd %d (%s): EVIOCREVOKE: %s",
			s->p->cfg->name, pid, fd, dev->path, strerror(errno));
	}
	if (dev->call && s->spare_comms && in_keep_comms &&
	    uids_are(pid, s->comms_uid)) {
		/* checked after the pidfd: the pid is still that process */
		s->spared++;
		return;
	}
	s->kept++;
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0)
		tf_warn("%s: killed pid %d: it held fd %d of %s into the "
			"background (no revoke for that device)",
			s->p->cfg->name, pid, fd, dev->path);
	else if (errno != ESRCH)
		tf_err("%s: pid %d keeps fd %d of %s in the background: "
		       "cannot kill it: %s",
		       s->p->cfg->name, pid, fd, dev->path, strerror(errno));
}

static void scan_pid(struct scan *s, pid_t pid, bool in_keep_comms)
{
	_cleanup_close_ int pidfd = -1;
	char path[64];
	struct dirent *e;
	DIR *fds;

	/* pin the process first: a pid reused after this fails getfd */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	fds = opendir(path);
	if (fds == NULL)
		return;
	while ((e = readdir(fds)) != NULL) {
		const struct fgdev *dev;
		struct stat st;
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end != '\0')
			continue;
		/* stat follows the magic link to the open file itself */
		if (fstatat(dirfd(fds), e->d_name, &st, 0) < 0 ||
		    !S_ISCHR(st.st_mode))
			continue;
		dev = match(s, st.st_rdev);
		if (dev != NULL)
			handle_fd(s, pid, pidfd, (int)fd, dev, in_keep_comms);
	}
	closedir(fds);
}

/* Every pid in cgroup dir cgfd and below; keep: cgfd is (in) the
 * persona's keep-comms */
static void scan_cgroup(struct scan *s, int cgfd, int depth, bool keep)
{
	_cleanup_free_ char *procs = NULL;
	char *line, *save = NULL;
	struct dirent *e;
	size_t len;
	DIR *dir;
	int fd;

	if (tf_read_file_at(cgfd, "cgroup.procs", 1 << 20, &procs, &len) == 0)
		for (line = strtok_r(procs, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			long pid = strtol(line, NULL, 10);
			if (pid > 0)
				scan_pid(s, (pid_t)pid, keep);
		}
	if (depth >= CG_DEPTH_MAX)
		return;
	fd = openat(cgfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(dir)) != NULL) {
		_cleanup_close_ int sub = -1;
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		sub = openat(dirfd(dir), e->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub >= 0)
			scan_cgroup(s, sub, depth + 1,
				    keep || (depth == 0 &&
					     !strcmp(e->d_name, "keep-comms")));
	}
	closedir(dir);
}

static int revoke_scan(struct tfd *d, struct tfd_persona *p, bool call_only)
{
	struct scan s = {.d = d, .p = p};
	const struct tf_profile *prof;
	int cgfd;

	if (p->rt == NULL)
		return 0; /* no processes */
	s.spare_comms = p->call_audio;
	s.comms_uid = p->cfg->uid_base + TF_COMMS_UID;
	/* the persona's foreground devices as its start resolved them: the
	 * configured ones and the camera and sound nodes the profile's
	 * patterns found (one list with what the cgroup allows). Apps'
	 * cgroups are below the persona's: the scan walks them too. */
	prof = tf_persona_profile(p->rt);
	for (uint32_t i = 0; prof && i < prof->n_devs; i++) {
		const struct tf_prof_dev *pd = &prof->devs[i];
		if (!(pd->flags & TF_PROF_DEV_FOREGROUND) ||
		    (pd->flags & TF_PROF_DEV_RESOLVE) || pd->type != 'c' ||
		    pd->minor == TF_CG_DEV_ANY ||
		    (call_only && !(pd->flags & TF_PROF_DEV_CALL)) ||
		    s.n_dev >= TF_ARRAY_SIZE(s.dev))
			continue;
		s.dev[s.n_dev].rdev = makedev(pd->major, pd->minor);
		s.dev[s.n_dev].path = pd->path;
		s.dev[s.n_dev].call = pd->flags & TF_PROF_DEV_CALL;
		s.n_dev++;
	}
	if (s.n_dev == 0)
		return 0;
	cgfd = tf_persona_cgroup_fd(p->rt);
	if (cgfd < 0)
		return -ENOENT;
	scan_cgroup(&s, cgfd, 0, false);
	if (s.spared)
		tf_info("%s: its comms service keeps %u fd(s) of the sound "
			"devices for its call",
			p->cfg->name, s.spared);
	if (call_only)
		return (int)s.kept;
	if (s.revoked || s.kept)
		tf_info("%s went to the background: %u device fd(s) revoked, "
			"%u holder(s) of devices without a revoke killed",
			p->cfg->name, s.revoked, s.kept);
	return (int)s.revoked;
}

int tfd_revoke_foreground_fds(struct tfd *d, struct tfd_persona *p)
{
	return revoke_scan(d, p, false);
}

int tfd_revoke_call_fds(struct tfd *d, struct tfd_persona *p)
{
	return revoke_scan(d, p, true);
}
