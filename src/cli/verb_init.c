/* SPDX-License-Identifier: ISC */
/*
 * twofold init: create a device state directory. Crash-safe by order: the
 * storage image first, then the device secret, then device.conf last —
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
#include <sys/un.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/config.h"
#include "twofold/keys.h"
#include "twofold/storage.h"
#include "cli.h"

void help_init(FILE *f)
{
	fprintf(f,
		"usage: twofold [--state DIR] init [--suite intl|gm] "
		"[--size SIZE]\n"
		"                                  [--storage DIR] [--force]\n"
		"\n"
		"Create the state directory: a random device secret (mode "
		"0600),\n"
		"device.conf describing the personas `personal` and `secure`, "
		"and\n"
		"an ext4 image with the encrypt feature for their data (its "
		"whole\n"
		"size is allocated on the host now, so a full host cannot "
		"break it).\n"
		"\n"
		"  --suite intl|gm  crypto suite (default intl: libsodium; gm: "
		"SM2/SM3/SM4)\n"
		"  --size SIZE      storage image size, e.g. 1G, 512M (default "
		"1G)\n"
		"  --storage DIR    use DIR on an fscrypt-capable ext4 instead "
		"of an image\n"
		"  --force          erase an existing state directory and "
		"start over\n"
		"                   (destroys every persona's keys and "
		"data)\n");
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

/* Remove what init creates, and what the daemon adds under keys/. */
static int erase_state(int dfd)
{
	static const char *files[] = {"device.conf", "device.secret",
				      "device.secret.tpm", "storage.img",
				      "events.log"};
	_cleanup_close_ int kfd = -1;

	for (size_t i = 0; i < TF_ARRAY_SIZE(files); i++)
		if (unlinkat(dfd, files[i], 0) < 0 && errno != ENOENT)
			return tf_negerrno();
	kfd = openat(dfd, "keys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (kfd >= 0) {
		/* keys/<persona>/<files>: two levels, names we wrote */
		DIR *dk = fdopendir(dup(kfd));
		struct dirent *e;
		if (dk == NULL)
			return tf_negerrno();
		while ((e = readdir(dk)) != NULL) {
			_cleanup_close_ int pfd = -1;
			DIR *dp;
			struct dirent *f;
			if (e->d_name[0] == '.')
				continue;
			pfd = openat(kfd, e->d_name,
				     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (pfd < 0)
				continue;
			dp = fdopendir(dup(pfd));
			if (dp == NULL)
				continue;
			while ((f = readdir(dp)) != NULL)
				if (strcmp(f->d_name, ".") &&
				    strcmp(f->d_name, ".."))
					unlinkat(pfd, f->d_name, 0);
			closedir(dp);
			unlinkat(kfd, e->d_name, AT_REMOVEDIR);
		}
		closedir(dk);
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

int verb_init(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"suite", required_argument, NULL, 'S'},
		{"size", required_argument, NULL, 'z'},
		{"storage", required_argument, NULL, 'd'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	const char *state =
		cli->state_dir ? cli->state_dir : "/var/lib/twofold";
	const char *suite = "intl", *storage = NULL;
	_cleanup_free_ char *conf = NULL;
	_cleanup_close_ int dfd = -1;
	struct tf_config cfg;
	char err[512] = "", img[4200];
	uint64_t size = 1ull << 30;
	bool force = false;
	struct stat st;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'S': suite = optarg; break;
		case 'z':
			if (tf_parse_size(optarg, &size) < 0 ||
			    size < TF_STORAGE_IMAGE_MIN_BYTES)
				return cli_usage_err(cli, NULL,
						     "invalid --size '%s' "
						     "(e.g. 1G, 512M; at least "
						     "16M)",
						     optarg);
			break;
		case 'd': storage = optarg; break;
		case 'f': force = true; break;
		default: return cli_usage_err(cli, NULL, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_err(cli, NULL, "unexpected argument '%s'",
				     argv[optind]);
	if (strcmp(suite, "intl") != 0 && strcmp(suite, "gm") != 0)
		return cli_usage_err(cli, NULL,
				     "unknown suite '%s' (known: intl, gm)",
				     suite);
	if (storage && storage[0] != '/')
		return cli_usage_err(cli, NULL,
				     "--storage needs an absolute path");

	tf_config_default(&cfg);
	snprintf(cfg.suite, sizeof(cfg.suite), "%s", suite);
	cfg.storage_size = size;
	if (storage)
		snprintf(cfg.storage_dir, sizeof(cfg.storage_dir), "%s",
			 storage);
	r = tf_config_validate(&cfg, true, err, sizeof(err));
	if (r < 0) {
		cli_err(cli, "%s", err);
		return EXIT_FAIL;
	}

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
		snprintf(img, sizeof(img), "%s/storage.img", state);
		/* an image left by a crash before device.conf was written */
		if (unlinkat(dfd, "storage.img", 0) < 0 && errno != ENOENT) {
			cli_err(cli, "cannot replace %s: %s", img,
				strerror(errno));
			return EXIT_FAIL;
		}
		r = tf_storage_image_create(img, size, err, sizeof(err));
		if (r < 0) {
			cli_err(cli, "%s", err[0] ? err : strerror(-r));
			return EXIT_FAIL;
		}
	}
	r = tf_devsecret_create(dfd, strcmp(suite, "gm") == 0 ? 2 : 1,
				TF_DEVSECRET_FORCE);
	if (r < 0) {
		cli_err(cli, "cannot create the device secret: %s",
			strerror(-r));
		return EXIT_FAIL;
	}
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
		printf("{\"state_dir\":\"%s\",\"suite\":\"%s\","
		       "\"storage\":\"%s\",\"storage_size\":%llu}\n",
		       state, suite, storage ? storage : "image",
		       (unsigned long long)size);
	} else {
		printf("initialised %s: suite %s, personas personal and "
		       "secure, ",
		       state, suite);
		if (storage)
			printf("storage in %s\n", storage);
		else
			printf("storage %.1f %s image (allocated)\n",
			       size >= (1ull << 30) ? (double)size / (1 << 30)
						    : (double)size / (1 << 20),
			       size >= (1ull << 30) ? "GiB" : "MiB");
		printf("next: twofoldd --state %s\n", state);
	}
	return EXIT_OK;
}
