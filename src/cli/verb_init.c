/* SPDX-License-Identifier: ISC */
/*
 * twofold init: create a device state directory. Crash-safe by order: the
 * storage images first (storage/<persona>.img, one per persona, so one
 * cannot fill another's blocks, inodes or journal), then the device
 * secret, then device.conf last —
 * device.conf's presence is what "initialised" means, so a crash midway
 * leaves a directory that `init` (or `init --force`) simply redoes.
 */
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/config.h"
#include "twofold/keys.h"
#include "twofold/storage.h"
#include "twofold/suite.h"
#include "cli.h"

void help_init(FILE *f)
{
	const struct tf_suite_info *si;
	char names[64];

	tf_suite_names(names, sizeof(names), "|");
	fprintf(f,
		"usage: twofold [--state DIR] init [--suite %s] "
		"[--size SIZE]\n"
		"                                  [--storage DIR] [--force]\n"
		"       twofold [--state DIR] init --images\n"
		"\n"
		"Create the state directory: a random device secret (mode "
		"0600),\n"
		"device.conf describing the personas `personal` and `secure`, "
		"and\n"
		"one ext4 image with the encrypt feature per persona "
		"(storage/NAME.img;\n"
		"their whole size is allocated on the host now, so a full host "
		"cannot\n"
		"break them, and one persona cannot fill another's).\n"
		"\n",
		names);
	/* "  --suite intl|gm  crypto suite (default intl: libsodium; gm:
	 * SM2/SM3/SM4)": from the registry */
	fprintf(f, "  --suite %s  crypto suite (default", names);
	tf_suite_info_foreach(i, si)
		fprintf(f, "%s %s: %s", i ? ";" : "", si->name, si->brief);
	fprintf(f,
		")\n"
		"  --size SIZE      all images together, split equally, e.g. "
		"1G, 512M\n"
		"                   (default 1G; at least 16M per persona)\n"
		"  --storage DIR    use DIR on an fscrypt-capable ext4 instead "
		"of images\n"
		"                   (shared by the personas)\n"
		"  --force          erase an existing state directory and "
		"start over\n"
		"                   (destroys every persona's keys and "
		"data)\n"
		"  --images         create the missing image of each persona "
		"in\n"
		"                   device.conf (after adding a persona), "
		"sized by its\n"
		"                   storage_size\n");
}

static bool daemon_alive(const char *state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd =
		socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0 ||
	    tf_control_path(state, sa.sun_path, sizeof(sa.sun_path)) < 0)
		return false;
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/* storage/<persona>.img: remove every image (names init wrote) and the
 * directory. */
static int erase_images(int dfd)
{
	_cleanup_closedir_ DIR *ds = NULL;
	struct dirent *e;
	int r = tf_opendir_at(dfd, "storage", true, &ds);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	while ((e = readdir(ds)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 4 && !strcmp(e->d_name + len - 4, ".img") &&
		    unlinkat(dirfd(ds), e->d_name, 0) < 0 && errno != ENOENT)
			return tf_negerrno();
	}
	if (unlinkat(dfd, "storage", AT_REMOVEDIR) < 0 && errno != ENOENT)
		return tf_negerrno();
	return 0;
}

/* Remove what init creates, and what the daemon adds under keys/. */
static int erase_state(int dfd)
{
	/* storage.img: the one shared image of an older state directory */
	static const char *files[] = {"device.conf",	   "device.secret",
				      "device.secret.tpm", "storage.img",
				      "events.log",	   "audit.log",
				      "audit.key",	   "audit.verify"};
	_cleanup_closedir_ DIR *dk = NULL;
	int r;

	for (size_t i = 0; i < TF_ARRAY_SIZE(files); i++)
		if (unlinkat(dfd, files[i], 0) < 0 && errno != ENOENT)
			return tf_negerrno();
	r = erase_images(dfd);
	if (r < 0)
		return r;
	r = tf_opendir_at(dfd, "keys", false, &dk);
	if (r == 0) {
		/* keys/<persona>/<files>: two levels, names we wrote */
		struct dirent *e;

		while ((e = readdir(dk)) != NULL) {
			_cleanup_closedir_ DIR *dp = NULL;
			struct dirent *f;
			if (e->d_name[0] == '.')
				continue;
			if (tf_opendir_at(dirfd(dk), e->d_name, false, &dp) < 0)
				continue;
			while ((f = readdir(dp)) != NULL)
				if (strcmp(f->d_name, ".") &&
				    strcmp(f->d_name, ".."))
					unlinkat(dirfd(dp), f->d_name, 0);
			unlinkat(dirfd(dk), e->d_name, AT_REMOVEDIR);
		}
		unlinkat(dfd, "keys", AT_REMOVEDIR);
	}
	return tf_fsync_dir_at(dfd, NULL);
}

/* Does [base, base + n) meet a range in an /etc/subuid-style file (the
 * uids useradd hands to users for their own containers)? */
static bool subid_overlap(const char *file, uint64_t base, uint64_t n)
{
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;
	size_t len;

	if (tf_read_file_at(AT_FDCWD, file, 1 << 20, &text, &len) < 0)
		return false;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long start, count;
		char *c = strchr(line, ':');
		if (c == NULL ||
		    sscanf(c + 1, "%llu:%llu", &start, &count) != 2)
			continue;
		if (start < base + n && base < start + count)
			return true;
	}
	return false;
}

/* Give the new device's personas host uids no other device on this host
 * is likely to use: every device written with the same defaults would
 * map its personas onto the same host uids, and persona A of one device
 * could then signal, ptrace and own the files of persona A of the other.
 * The slot comes from a hash of the state directory's real path (two
 * state directories pick different slots but for a 1/16000 chance, which
 * twofoldd's start-up check catches); a slot that meets a user's subuid
 * range is skipped. */
static void pick_uid_ranges(struct tf_config *cfg, const char *real)
{
	uint32_t base = tf_config_uid_slot_base(real, 0);

	for (uint32_t probe = 1; probe < TF_UID_SLOTS; probe++) {
		if (!subid_overlap("/etc/subuid", base, TF_UID_SLOT_SPAN) &&
		    !subid_overlap("/etc/subgid", base, TF_UID_SLOT_SPAN))
			break;
		base = tf_config_uid_slot_base(real, probe);
	}
	for (size_t i = 0; i < cfg->n_personas && i < 2; i++)
		cfg->personas[i].uid_base =
			base + (uint32_t)i * TF_UID_COUNT_DEFAULT;
}

/* Create <state>/storage/<persona>.img of persona i (its storage_size
 * share), unless it exists and keep_existing. 1 if created, 0 if kept. */
static int create_image(struct cli *cli, int dfd, const char *state,
			const struct tf_config *cfg, size_t i,
			bool keep_existing)
{
	const struct tf_persona_cfg *p = &cfg->personas[i];
	uint64_t size = tf_config_storage_share(cfg, i);
	char img[PATH_MAX + 64], rel[TF_NAME_MAX + 16], err[512] = "";
	struct stat st;
	int r;

	snprintf(rel, sizeof(rel), "storage/%s.img", p->name);
	snprintf(img, sizeof(img), "%s/%s", state, rel);
	if (fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (keep_existing)
			return 0;
		/* an image left by a crash before device.conf was written */
		if (unlinkat(dfd, rel, 0) < 0) {
			cli_err(cli, "cannot replace %s: %s", img,
				strerror(errno));
			return -errno;
		}
	}
	if (size < TF_STORAGE_SHARE_MIN) {
		cli_err(cli,
			"persona %s: its storage image would be below 16 MiB; "
			"raise storage_size (the total) or set its own "
			"storage_size in %s/device.conf",
			p->name, state);
		return -EINVAL;
	}
	r = tf_storage_image_create(img, size, err, sizeof(err));
	if (r < 0) {
		cli_err(cli, "%s", err[0] ? err : strerror(-r));
		return r;
	}
	return 1;
}

static int mkdir_storage(struct cli *cli, int dfd, const char *state)
{
	if (mkdirat(dfd, "storage", 0700) < 0 && errno != EEXIST) {
		cli_err(cli, "cannot create %s/storage: %s", state,
			strerror(errno));
		return -errno;
	}
	return 0;
}

/* init --images: a persona added to device.conf gets its image; nothing
 * that exists is touched. */
static int init_images(struct cli *cli, const char *state)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ struct tf_config *cfg = calloc(1, sizeof(*cfg));
	_cleanup_close_ int dfd =
		open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char err[512] = "";
	struct stat st;
	size_t len;
	int made = 0, r;

	if (cfg == NULL)
		return EXIT_FAIL;
	if (dfd < 0 || tf_read_file_at(dfd, "device.conf", TF_CONFIG_MAX, &text,
				       &len) < 0) {
		cli_err(cli,
			"%s is not initialised (create it with: twofold "
			"--state %s init)",
			state, state);
		return EXIT_FAIL;
	}
	r = tf_config_parse(text, len, cfg, err, sizeof(err));
	if (r < 0) {
		cli_err(cli, "%s/device.conf: %s", state, err);
		return EXIT_FAIL;
	}
	if (cfg->storage_dir[0]) {
		cli_err(cli,
			"%s keeps persona data in storage_dir %s; it has no "
			"images",
			state, cfg->storage_dir);
		return EXIT_FAIL;
	}
	if (fstatat(dfd, "storage", &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    fstatat(dfd, "storage.img", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		cli_err(cli,
			"%s has one storage.img shared by all personas; "
			"re-create it with twofold --state %s init --force for "
			"separate storage (erases every persona)",
			state, state);
		return EXIT_FAIL;
	}
	if (mkdir_storage(cli, dfd, state) < 0)
		return EXIT_FAIL;
	for (size_t i = 0; i < cfg->n_personas; i++) {
		r = create_image(cli, dfd, state, cfg, i, true);
		if (r < 0)
			return EXIT_FAIL;
		if (r > 0) {
			made++;
			printf("created %s/storage/%s.img (%llu MiB, "
			       "allocated)\n",
			       state, cfg->personas[i].name,
			       (unsigned long long)(tf_config_storage_share(
							    cfg, i) >>
						    20));
		}
	}
	if (made == 0)
		printf("every persona of %s has its storage image\n", state);
	else if ((r = tf_fsync_dir_at(dfd, "storage")) < 0) {
		cli_err(cli, "cannot sync %s/storage: %s", state, strerror(-r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* The deepest existing directory of path (for its owner, its free space). */
static int existing_ancestor(const char *path, char *out, size_t cap,
			     struct stat *st)
{
	snprintf(out, cap, "%s", path);
	for (;;) {
		char *slash;
		if (stat(out, st) == 0)
			return 0;
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(out, '/');
		if (slash == NULL) {
			snprintf(out, cap, ".");
			return stat(out, st) == 0 ? 0 : -errno;
		}
		if (slash == out)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

/*
 * What init can tell before it changes anything: the control socket
 * (STATE/control) must fit sockaddr_un's 108 bytes, or twofoldd could never
 * listen there; an existing state directory of another user is not taken
 * over (init used to chown it silently); and images larger than the free
 * space would fail half-way (fallocate) after the directory was set up.
 * 0, or the exit code (printed).
 */
static int preflight(struct cli *cli, const char *state, uint64_t images)
{
	char sock[PATH_MAX + 16], dir[PATH_MAX];
	struct statvfs vfs;
	struct stat st;
	int r;

	if (tf_control_path(state, sock, sizeof(sock)) < 0) {
		cli_err(cli,
			"state directory path too long: its control socket "
			"%s/control would exceed the %zu bytes of a socket "
			"address (use a path of at most %zu bytes)",
			state, sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1 -
				strlen("/control"));
		return EXIT_FAIL;
	}
	r = existing_ancestor(state, dir, sizeof(dir), &st);
	if (r < 0) {
		cli_err(cli, "cannot look at %s: %s", state, strerror(-r));
		return EXIT_FAIL;
	}
	if (strcmp(dir, state) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid != geteuid()) {
		cli_err(cli,
			"%s is owned by uid %u, not by uid %u; refusing to "
			"take over another user's directory (chown it, or "
			"choose another --state)",
			state, (unsigned)st.st_uid, (unsigned)geteuid());
		return EXIT_FAIL;
	}
	if (images && statvfs(dir, &vfs) == 0) {
		uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		char sd[PATH_MAX + 16];
		_cleanup_closedir_ DIR *ds = NULL;
		struct dirent *e;

		/* images already there (a crashed init's, or what --force
		 * erases) are replaced: their blocks count as free */
		snprintf(sd, sizeof(sd), "%s/storage", state);
		ds = opendir(sd);
		while (ds && (e = readdir(ds)) != NULL) {
			struct stat is;
			size_t len = strlen(e->d_name);
			if (len > 4 && !strcmp(e->d_name + len - 4, ".img") &&
			    fstatat(dirfd(ds), e->d_name, &is,
				    AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(is.st_mode))
				avail += (uint64_t)is.st_blocks * 512;
		}
		if (images > avail) {
			cli_err(cli,
				"--size %llu MiB is more than the %llu MiB "
				"free on the file system of %s (choose a "
				"smaller --size)",
				(unsigned long long)(images >> 20),
				(unsigned long long)(avail >> 20), dir);
			return EXIT_FAIL;
		}
	}
	return 0;
}

int verb_init(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"suite", required_argument, NULL, 'S'},
		{"size", required_argument, NULL, 'z'},
		{"storage", required_argument, NULL, 'd'},
		{"force", no_argument, NULL, 'f'},
		{"images", no_argument, NULL, 'i'},
		{NULL, 0, NULL, 0},
	};
	const char *state =
		cli->state_dir ? cli->state_dir : "/var/lib/twofold";
	const char *suite = TF_SUITE_DEFAULT, *storage = NULL;
	const struct tf_suite_info *si;
	_cleanup_free_ char *conf = NULL;
	_cleanup_close_ int dfd = -1;
	struct tf_config cfg;
	char err[512] = "";
	uint64_t size = 1ull << 30;
	bool force = false, images = false, size_given = false;
	struct stat st;
	int c, r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'S': suite = optarg; break;
		case 'z':
			if (tf_parse_size(optarg, &size) < 0 ||
			    size < TF_STORAGE_IMAGE_MIN_BYTES ||
			    size > (1ull << 44))
				return cli_usage_err(cli, NULL,
						     "invalid --size '%s' "
						     "(e.g. 1G, 512M; at least "
						     "16M per persona)",
						     optarg);
			size_given = true;
			break;
		case 'd': storage = optarg; break;
		case 'f': force = true; break;
		case 'i': images = true; break;
		default: return cli_getopt_err(cli, c, argc, argv);
		}
	}
	if (optind != argc)
		return cli_usage_err(cli, NULL, "unexpected argument '%s'",
				     argv[optind]);
	si = tf_suite_info_by_name(suite);
	if (si == NULL) {
		char known[64];
		tf_suite_names(known, sizeof(known), ", ");
		return cli_usage_err(cli, NULL,
				     "unknown suite '%s' (known: %s)", suite,
				     known);
	}
	if (storage && storage[0] != '/')
		return cli_usage_err(cli, NULL,
				     "--storage needs an absolute path");
	if (images && (force || storage || size_given || optind != argc ||
		       strcmp(suite, TF_SUITE_DEFAULT) != 0))
		return cli_usage_err(cli, NULL,
				     "--images takes no other option (sizes "
				     "come from device.conf)");
	if (images)
		return init_images(cli, state);

	tf_config_default(&cfg);
	snprintf(cfg.suite, sizeof(cfg.suite), "%s", suite);
	cfg.storage_size = size;
	if (storage)
		snprintf(cfg.storage_dir, sizeof(cfg.storage_dir), "%s",
			 storage);
	/* --size is the total: each persona's share is written to
	 * device.conf, so the file says what each image is, and a persona
	 * added later gets what the total leaves (init --images) */
	for (size_t i = 0; storage == NULL && i < cfg.n_personas; i++) {
		uint64_t share = tf_config_storage_share(&cfg, i);
		if (share < TF_STORAGE_SHARE_MIN)
			return cli_usage_err(cli, NULL,
					     "--size is too small: each of the "
					     "%zu personas needs at least 16M",
					     cfg.n_personas);
		cfg.personas[i].storage_size = share;
	}
	r = tf_config_validate(&cfg, true, err, sizeof(err));
	if (r < 0) {
		cli_err(cli, "%s", err);
		return EXIT_FAIL;
	}

	r = preflight(cli, state, storage == NULL ? size : 0);
	if (r)
		return r;
	r = tf_mkdir_p(state, 0700);
	if (r < 0) {
		cli_err(cli, "cannot create %s: %s", state, strerror(-r));
		return EXIT_FAIL;
	}
	dfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cli_err(cli, "cannot open %s: %s", state, strerror(errno));
		return EXIT_FAIL;
	}
	/* tf_mkdir_p leaves an existing directory as it was; the daemon
	 * refuses one that is not root-only (statecheck.c), and a 0755 one
	 * once exposed a running persona's files. Also the mount point, if
	 * an earlier version left it open. */
	if (fchown(dfd, geteuid(), getegid()) < 0 || fchmod(dfd, 0700) < 0) {
		cli_err(cli, "cannot make %s root-only (chmod 700): %s", state,
			strerror(errno));
		return EXIT_FAIL;
	}
	if (fstatat(dfd, "mnt", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode) && (st.st_mode & 077) &&
	    fchmodat(dfd, "mnt", 0700, 0) < 0) {
		cli_err(cli, "cannot make %s/mnt root-only (chmod 700): %s",
			state, strerror(errno));
		return EXIT_FAIL;
	}
	{
		char real[PATH_MAX];
		if (realpath(state, real) == NULL) {
			cli_err(cli, "cannot resolve %s: %s", state,
				strerror(errno));
			return EXIT_FAIL;
		}
		pick_uid_ranges(&cfg, real);
	}
	if (fstatat(dfd, "device.conf", &st, 0) == 0) {
		if (!force) {
			cli_err(cli,
				"%s is already initialised (to erase it and "
				"start over: twofold --state %s init --force)",
				state, state);
			return EXIT_FAIL;
		}
		if (daemon_alive(cli->state_given ? state : NULL)) {
			cli_err(cli, "twofoldd is running on %s; stop it first",
				state);
			return EXIT_FAIL;
		}
	}
	/* no device.conf but keys: a state someone half-removed; the keys
	 * still protect data, so only --force may destroy them */
	if (!force && fstatat(dfd, "keys", &st, 0) == 0) {
		cli_err(cli,
			"%s has persona keys but no device.conf; refusing to "
			"replace them (to erase everything: twofold --state %s "
			"init --force)",
			state, state);
		return EXIT_FAIL;
	}
	if (force) {
		r = erase_state(dfd);
		if (r < 0) {
			cli_err(cli, "cannot erase %s: %s", state,
				strerror(-r));
			return EXIT_FAIL;
		}
	}
	if (storage == NULL) {
		/* a shared image left by an older init: the daemon would
		 * otherwise not know which layout is meant */
		if (unlinkat(dfd, "storage.img", 0) < 0 && errno != ENOENT) {
			cli_err(cli, "cannot remove %s/storage.img: %s", state,
				strerror(errno));
			return EXIT_FAIL;
		}
		if (mkdir_storage(cli, dfd, state) < 0)
			return EXIT_FAIL;
		for (size_t i = 0; i < cfg.n_personas; i++)
			if (create_image(cli, dfd, state, &cfg, i, false) < 0)
				return EXIT_FAIL;
		r = tf_fsync_dir_at(dfd, "storage");
		if (r < 0) {
			cli_err(cli, "cannot sync %s/storage: %s", state,
				strerror(-r));
			return EXIT_FAIL;
		}
	}
	r = tf_devsecret_create(dfd, si->id, TF_DEVSECRET_FORCE);
	if (r < 0) {
		cli_err(cli, "cannot create the device secret: %s",
			strerror(-r));
		return EXIT_FAIL;
	}
	/* a warning, not a refusal: the device works, only an erase of it
	 * is not dependable (docs/keys.md "Crypto-erase") */
	if (tf_keys_fs_journals_data(dfd) > 0)
		fprintf(stderr, "twofold: warning: %s\n",
			TF_KEYS_JOURNAL_WARNING);
	r = tf_config_format(&cfg, &conf);
	if (r == 0)
		r = tf_atomic_write_at(dfd, "device.conf", conf, strlen(conf),
				       0644);
	if (r < 0) {
		cli_err(cli, "cannot write %s/device.conf: %s", state,
			strerror(-r));
		return EXIT_FAIL;
	}
	if (cli->json) {
		fputs("{\"state_dir\":", stdout);
		cli_json_str(stdout, state);
		fputs(",\"suite\":", stdout);
		cli_json_str(stdout, suite);
		fputs(",\"storage\":", stdout);
		cli_json_str(stdout, storage ? storage : "image");
		printf(",\"storage_size\":%llu}\n", (unsigned long long)size);
	} else {
		printf("initialised %s: suite %s, personas personal and "
		       "secure, ",
		       state, suite);
		if (storage)
			printf("storage in %s (shared)\n", storage);
		else
			printf("storage %.1f %s in one allocated image per "
			       "persona\n",
			       size >= (1ull << 30) ? (double)size / (1 << 30)
						    : (double)size / (1 << 20),
			       size >= (1ull << 30) ? "GiB" : "MiB");
		printf("next: twofoldd --state %s\n", state);
	}
	return EXIT_OK;
}
