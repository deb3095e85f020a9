/* SPDX-License-Identifier: ISC */
/*
 * Measurement, not a test (no timing assertions): persona cold start,
 * exec-to-exit of /bin/true through tf_persona_exec, idle memory. Prints a
 * table. Run as root: bench_persona [N] (build dir, tests/unit/persona).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twofold/persona.h"
#include "twofold/profile.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s;
	(void)f;
	(void)w;
	(void)remove(p);
	return 0;
}

static void row(const char *what, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%-34s %9.3f %9.3f %9.3f  (n=%zu)\n", what, v[0] / 1e6,
	       v[n / 2] / 1e6, v[n * 9 / 10] / 1e6, n);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atoi(argv[1]) : 200;
	char dir[] = "/tmp/tf-persona-bench-XXXXXX", data[128], group[64];
	char err[TF_PERSONA_ERR_MAX];
	char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	char *const targv[] = {"/bin/true", NULL};
	struct tf_persona_cfg cfg = {.name = "bench",
				     .uid_base = 0x50000000u,
				     .uid_count = 65536,
				     .cpu_weight = 100};
	struct tf_profile prof;
	struct tf_persona_spec spec = {.cfg = &cfg,
				       .prof = &prof,
				       .data_dir = data,
				       .cgroup_group = group,
				       .foreground = true};
	struct tf_persona *p = NULL;
	uint64_t *t = calloc(n, sizeof(*t));
	size_t nstart = n < 50 ? n : 50;
	int r = 0;

	if (tf_persona_spawner_start() < 0)
		return 1;
	tf_profile_default(&prof);
	prof.lim.cpu_weight = 100;

	if (!t || !mkdtemp(dir))
		return 1;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(group, sizeof(group), "tfbench-%d", (int)getpid());
	mkdir(data, 0700);
	printf("%-34s %9s %9s %9s\n", "ms", "min", "median", "p90");
	for (size_t i = 0; i < nstart; i++) {
		uint64_t t0 = tf_now_ns();
		r = tf_persona_start(&spec, &p, err, sizeof(err));
		t[i] = tf_now_ns() - t0;
		if (r < 0) {
			fprintf(stderr, "start: %s\n", err);
			goto out;
		}
		if (i + 1 < nstart) {
			(void)tf_persona_stop(p);
			p = NULL;
		}
	}
	row("persona cold start", t, nstart);
	for (size_t i = 0; i < n; i++) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC), pidfd;
		struct tf_exec_spec x = {.argv = targv,
					 .envp = env,
					 .uid = 1000,
					 .gid = 1000,
					 .fds = {nul, nul, nul}};
		siginfo_t si;
		pid_t pid;
		uint64_t t0 = tf_now_ns();

		r = tf_persona_exec(p, &x, &pid, &pidfd);
		if (r == 0)
			(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
		t[i] = tf_now_ns() - t0;
		close(nul);
		if (r < 0) {
			fprintf(stderr, "exec: %d\n", r);
			goto out;
		}
		close(pidfd);
	}
	row("exec /bin/true to exit", t, n);
	/* Launches spaced out like real use: on hybrid hosts a cgroup v1
	 * cgroup.procs write after a quiet spell waits for an RCU grace period
	 * (rcu_sync of cgroup_threadgroup_rwsem); back to back it does not. */
	for (size_t i = 0; i < nstart; i++) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC), pidfd;
		struct tf_exec_spec x = {.argv = targv,
					 .envp = env,
					 .uid = 1000,
					 .gid = 1000,
					 .fds = {nul, nul, nul}};
		siginfo_t si;
		pid_t pid;
		uint64_t t0;

		usleep(50000);
		t0 = tf_now_ns();
		r = tf_persona_exec(p, &x, &pid, &pidfd);
		if (r == 0)
			(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
		t[i] = tf_now_ns() - t0;
		close(nul);
		if (r < 0) {
			fprintf(stderr, "exec: %d\n", r);
			goto out;
		}
		close(pidfd);
	}
	row("exec to exit, 50 ms idle before", t, nstart);
	{
		char path[64], *txt = NULL, *l;
		size_t len;
		struct tf_persona_stats st;

		snprintf(path, sizeof(path), "/proc/%d/status",
			 (int)tf_persona_init_pid(p));
		if (tf_read_file_at(AT_FDCWD, path, 65536, &txt, &len) == 0 &&
		    (l = strstr(txt, "VmRSS:")))
			printf("init %.*s", (int)strcspn(l, "\n") + 1, l);
		free(txt);
		if (tf_persona_stats(p, &st) == 0)
			printf("idle persona: %d procs, cgroup memory %llu "
			       "KiB\n",
			       st.nprocs,
			       (unsigned long long)st.memory_bytes / 1024);
	}
out:
	(void)tf_persona_stop(p);
	if (tf_persona_cleanup_stale(group) < 0)
		fprintf(stderr, "cleanup of %s failed\n", group);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	free(t);
	return r < 0 ? 1 : 0;
}
