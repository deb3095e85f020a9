/* SPDX-License-Identifier: ISC */
/* Unit tests: util, secure memory, atomic files, config parser. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "twofold/atomicfile.h"
#include "twofold/config.h"
#include "twofold/log.h"
#include "twofold/mountinfo.h"
#include "twofold/secmem.h"
#include "twofold/suite.h"

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tf-common-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_memeq_ct(void **state)
{
	assert_int_equal(tf_memeq_ct("abcd", "abcd", 4), 0);
	assert_int_equal(tf_memeq_ct("abcd", "abce", 4), -1);
	assert_int_equal(tf_memeq_ct("\x80", "\x00", 1), -1);
	assert_int_equal(tf_memeq_ct("", "", 0), 0);
}

static void test_parse(void **state)
{
	uint64_t v;
	assert_int_equal(tf_parse_u64("42", 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(tf_parse_u64("101", 100, &v), -ERANGE);
	assert_int_equal(tf_parse_u64("-1", 100, &v), -EINVAL);
	assert_int_equal(tf_parse_u64("1x", 100, &v), -EINVAL);
	assert_int_equal(tf_parse_u64("", 100, &v), -EINVAL);
	assert_int_equal(
		tf_parse_u64("99999999999999999999999", UINT64_MAX, &v),
		-ERANGE);
	assert_int_equal(tf_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(tf_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(tf_parse_size("G", &v), -EINVAL);
	assert_int_equal(tf_parse_size("99999999999T", &v), -ERANGE);
	assert_true(tf_name_valid("personal"));
	assert_true(tf_name_valid("a-b_9"));
	assert_false(tf_name_valid("9a"));
	assert_false(tf_name_valid("A"));
	assert_false(tf_name_valid("a/b"));
	assert_false(tf_name_valid(""));
	assert_false(tf_name_valid("abcdefghijabcdefghijabcdefghijabc"));
}

static void test_secmem(void **state)
{
	unsigned char *p = tf_secure_alloc(100);
	assert_non_null(p);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0xaa, 100);
	tf_secure_free(p);
	tf_secure_free(NULL);
	assert_null(tf_secure_alloc(0));
}

/* writing past the end of a secret lands on a guard page and faults */
static void test_secmem_guard(void **state)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		volatile unsigned char *p = tf_secure_alloc(4096);
		signal(SIGSEGV, SIG_DFL); /* not cmocka's handler */
		for (size_t i = 0; i < 2 * 4096; i++)
			p[i] = 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
}

/* Drop CAP_IPC_LOCK from the effective set (root bypasses RLIMIT_MEMLOCK
 * with it); raw capset, the test links no libcap. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	return (int)syscall(SYS_capset, &h, d);
}

/* Fails closed: with no memory it may lock, no secure memory at all
 * (before, the pages were handed out unlocked). */
static void test_secmem_fails_closed(void **state)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		void *p;
		if (drop_ipc_lock() < 0 || setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
			_exit(2);
		errno = 0;
		p = tf_secure_alloc(100);
		if (p != NULL)
			_exit(3);
		if (errno != EPERM && errno != ENOMEM)
			_exit(4);
		if (tf_secmem_probe() >= 0)
			_exit(5);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* The VmFlags of the mapping holding p (/proc/self/smaps), or "". */
static void vmflags_of(const void *p, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;

	out[0] = '\0';
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, cap, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

/* The kernel took every request: locked (lo), not in core dumps (dd),
 * wiped in a fork child (wf); and a child does read zeros. */
static void test_secmem_flags(void **state)
{
	unsigned char *p = tf_secure_alloc(64);
	char flags[512];
	pid_t pid;
	int st;

	assert_non_null(p);
	memset(p, 0xaa, 64);
	vmflags_of(p, flags, sizeof(flags));
	assert_non_null(strstr(flags, " lo"));
	assert_non_null(strstr(flags, " dd"));
	assert_non_null(strstr(flags, " wf"));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < 64; i++)
			if (p[i] != 0)
				_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(p[0], 0xaa); /* the parent keeps its copy */
	tf_secure_free(p);
}

static void test_atomic_write(void **state)
{
	char path[128], *out = NULL;
	size_t len;
	struct stat st;
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dfd >= 0);
	assert_int_equal(tf_atomic_write_at(dfd, "f", "one", 3, 0600), 0);
	assert_int_equal(tf_atomic_write_at(dfd, "f", "second", 6, 0640), 0);
	assert_int_equal(tf_read_file_at(dfd, "f", 100, &out, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(out, "second");
	free(out);
	assert_int_equal(fstatat(dfd, "f", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* no temp files left */
	snprintf(path, sizeof(path), "ls %s | wc -l | grep -qx 1", tmpdir);
	assert_int_equal(system(path), 0);
	assert_int_equal(tf_read_file_at(dfd, "f", 3, &out, &len), -EFBIG);
	assert_int_equal(tf_read_file_at(dfd, "nope", 3, &out, &len), -ENOENT);
	assert_int_equal(tf_unlink_durable_at(dfd, "f"), 0);
	close(dfd);
}

/* A crash between temp write and rename must leave the old content. */
static void test_atomic_crash(void **state)
{
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *out = NULL;
	size_t len;
	pid_t pid;
	int st;

	assert_int_equal(tf_atomic_write_at(dfd, "g", "old", 3, 0600), 0);
	pid = fork();
	if (pid == 0) {
		/* child: write a temp like tf_atomic_write does, then die */
		int fd =
			openat(dfd, "g.tmp.deadbeef", O_WRONLY | O_CREAT, 0600);
		(void)!write(fd, "new-partial", 11);
		kill(getpid(), SIGKILL);
	}
	waitpid(pid, &st, 0);
	assert_int_equal(tf_read_file_at(dfd, "g", 100, &out, &len), 0);
	assert_string_equal(out, "old");
	free(out);
	close(dfd);
}

static const char good_conf[] = "version = 1\n"
				"suite = gm\n"
				"# comment\n"
				"foreground = b\n"
				"[persona a]\n"
				"uid_base = 100000\n"
				"memory_max = 1G\n"
				"[persona b]\n"
				"uid_base = 200000\n"
				"credential = yes\n"
				"[device camera]\n"
				"path = /dev/null\n";

static void test_config_good(void **state)
{
	struct tf_config c;
	char err[256] = "", *text = NULL;

	assert_int_equal(tf_config_parse(good_conf, strlen(good_conf), &c, err,
					 sizeof(err)),
			 0);
	assert_string_equal(c.suite, "gm");
	assert_int_equal(c.n_personas, 2);
	assert_int_equal(c.personas[0].memory_max, 1ull << 30);
	assert_true(c.personas[1].credential);
	/* reauth_after: 72 h for a credential persona not naming it, off
	 * for a device-bound one; idle_evict_after off */
	assert_int_equal(c.personas[0].reauth_after, 0);
	assert_int_equal(c.personas[1].reauth_after, 72u * 3600);
	assert_int_equal(c.personas[1].idle_evict_after, 0);
	assert_int_equal(c.n_devices, 1);
	assert_int_equal(c.devices[0].cls, TF_DEV_CAMERA);
	assert_int_equal(tf_config_validate(&c, true, err, sizeof(err)), 0);
	/* round trip */
	assert_int_equal(tf_config_format(&c, &text), 0);
	{
		struct tf_config c2;
		assert_int_equal(tf_config_parse(text, strlen(text), &c2, err,
						 sizeof(err)),
				 0);
		assert_memory_equal(c.personas, c2.personas,
				    sizeof(c.personas));
	}
	free(text);
	/* defaults validate and format/parse too */
	tf_config_default(&c);
	assert_int_equal(tf_config_validate(&c, true, err, sizeof(err)), 0);
}

/* The network keys of issue 12: defaults, lists, the rules between them,
 * and a round trip through format. */
#define NET_CONF(top, a, b)                                                    \
	"version = 1\n" top "[persona a]\nuid_base = 100000\n" a               \
	"[persona b]\nuid_base = 200000\ncredential = yes\n" b

static void test_config_net(void **state)
{
	struct tf_config c, c2;
	char err[256] = "", *text = NULL, buf[64];
	const char *t;

	t = NET_CONF("", "", "");
	assert_int_equal(tf_config_parse(t, strlen(t), &c, err, sizeof(err)),
			 0);
	/* defaults: device-bound nat, credential tunnel, 10.213.0.0/16 */
	assert_int_equal(c.personas[0].network, TF_NET_NAT);
	assert_int_equal(c.personas[1].network, TF_NET_TUNNEL);
	tf_cidr_format(&c.nat_subnet, buf, sizeof(buf));
	assert_string_equal(buf, "10.213.0.0/16");
	assert_int_equal(c.personas[1].tunnel.suite, TF_SUITE_INTL);
	assert_int_equal(c.personas[1].tunnel.mtu, 1420);
	assert_int_equal(c.personas[1].tunnel.keepalive, 25);
	assert_int_equal(c.personas[1].tunnel.listen_port, 0);
	assert_int_equal(c.personas[1].tunnel.n_routes, 1);
	assert_false(c.personas[1].tunnel.has_endpoint);
	assert_int_equal(c.personas[0].n_dns, 0);
	tf_config_default(&c);
	assert_int_equal(c.personas[0].network, TF_NET_NAT);
	assert_int_equal(c.personas[1].network, TF_NET_TUNNEL);
	/* what init writes */
	assert_int_equal(tf_config_format(&c, &text), 0);
	assert_non_null(strstr(text, "\nnetwork = nat\n"));
	assert_non_null(strstr(text, "\nnetwork = tunnel\n"));
	assert_non_null(strstr(text, "\nnat_subnet = 10.213.0.0/16\n"));
	free(text);

	t = NET_CONF(
		"suite = gm\nnat_subnet = 10.50.0.0/24\n",
		"network = nat\ndns = 203.0.113.53, 127.0.0.53\n",
		"tunnel_endpoint = [fd00::2]:51820\n"
		"tunnel_peer_key = "
		"BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
		"tunnel_address = 10.77.0.2/32, fd77::2/128\n"
		"tunnel_routes = 10.77.0.0/16,fd77::/16\n"
		"tunnel_dns = 10.77.0.1\ntunnel_mtu = 1280\n"
		"tunnel_keepalive = 0\ntunnel_listen_port = 51821\n");
	if (tf_config_parse(t, strlen(t), &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	tf_cidr_format(&c.nat_subnet, buf, sizeof(buf));
	assert_string_equal(buf, "10.50.0.0/24");
	assert_int_equal(c.personas[0].n_dns, 2);
	tf_cidr_format(&c.personas[0].dns[1], buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.53/32");
	assert_int_equal(c.personas[1].tunnel.suite, TF_SUITE_GM);
	assert_true(c.personas[1].tunnel.has_endpoint);
	assert_int_equal(c.personas[1].tunnel.endpoint.ss_family, AF_INET6);
	assert_int_equal(c.personas[1].tunnel.n_addr, 2);
	assert_int_equal(c.personas[1].tunnel.n_routes, 2);
	assert_int_equal(c.personas[1].tunnel.n_dns, 1);
	assert_int_equal(c.personas[1].tunnel.mtu, 1280);
	assert_int_equal(c.personas[1].tunnel.listen_port, 51821);
	assert_int_equal(tf_config_format(&c, &text), 0);
	assert_int_equal(
		tf_config_parse(text, strlen(text), &c2, err, sizeof(err)), 0);
	free(text);
	assert_memory_equal(c.personas, c2.personas, sizeof(c.personas));
	assert_memory_equal(&c.nat_subnet, &c2.nat_subnet,
			    sizeof(c.nat_subnet));

	static const struct {
		const char *top, *a, *b, *msg;
	} bad[] = {
		{"nat_subnet = 10.0.0.0/25\n", "", "", "line 2: invalid"},
		{"nat_subnet = 10.0.0.1/16\n", "", "", "line 2: invalid"},
		{"nat_subnet = fd00::/16\n", "", "", "line 2: invalid"},
		{"", "network = bridge\n", "", "invalid value for network"},
		{"", "dns = 1.1.1.1,\n", "", "invalid value for dns"},
		{"", "dns = 1.1.1.1,,8.8.8.8\n", "", "invalid value for dns"},
		{"", "dns = 1.1.1.0/24\n", "", "invalid value for dns"},
		{"", "dns = 1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5\n", "",
		 "invalid value for dns"},
		{"", "dns = fd00::53\n", "", "dns must be IPv4"},
		{"", "", "dns = 1.1.1.1\n", "dns applies to network = nat"},
		{"", "", "tunnel_endpoint = gw.example:51820\n",
		 "invalid value for tunnel_endpoint"},
		{"", "", "tunnel_endpoint = 192.0.2.2\n",
		 "invalid value for tunnel_endpoint"},
		{"", "", "tunnel_peer_key = AAAA\n", "32-byte X25519"},
		{"", "", "tunnel_address = 10.0.0.2/32,10.0.0.3/32\n",
		 "one IPv4 and one IPv6"},
		{"", "", "tunnel_routes = 10.77.0.1/16\n",
		 "invalid value for tunnel_routes"},
		{"", "", "tunnel_routes =\n", "tunnel_routes is empty"},
		{"", "", "tunnel_routes = 10.77.0.0/16\ntunnel_dns = 8.8.8.8\n",
		 "outside tunnel_routes"},
		{"", "", "tunnel_mtu = 1279\n", "invalid value for tunnel_mtu"},
		{"", "", "tunnel_listen_port = 65536\n",
		 "invalid value for tunnel_listen_port"},
		{"", "", "tunnel_suite = rot13\n",
		 "invalid value for tunnel_suite"},
	};
	for (size_t i = 0; i < TF_ARRAY_SIZE(bad); i++) {
		char conf[1024];
		snprintf(conf, sizeof(conf),
			 "version = 1\n%s[persona a]\nuid_base = 100000\n%s"
			 "[persona b]\nuid_base = 200000\ncredential = "
			 "yes\n%s",
			 bad[i].top, bad[i].a, bad[i].b);
		err[0] = '\0';
		assert_int_equal(tf_config_parse(conf, strlen(conf), &c, err,
						 sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
				 bad[i].msg);
	}
	/* a tunnel persona without endpoint or key is fine (never up);
	 * the tunnel keys of a nat persona are only parsed */
	t = NET_CONF("", "tunnel_mtu = 9000\n", "network = tunnel\n");
	assert_int_equal(tf_config_parse(t, strlen(t), &c, err, sizeof(err)),
			 0);
}

/* tpm_pcrs: a list of PCR numbers or "none", formatted back the same */
#define PCRS_CONF                                                              \
	"version = 1\ntpm_pcrs = %s\n[persona a]\nuid_base = 100000\n"         \
	"[persona b]\nuid_base = 200000\n"

static void test_config_tpm_pcrs(void **state)
{
	static const char *bad[] = {"24", "7,7", "", "7,", ",7", "a", "1000"};
	struct tf_config c, c2;
	char err[256] = "", text[256], *out = NULL;

	(void)state;
	tf_config_default(&c);
	assert_int_equal(c.tpm_pcrs, 1u << 7);
	snprintf(text, sizeof(text), PCRS_CONF, "0,2,7");
	assert_int_equal(
		tf_config_parse(text, strlen(text), &c, err, sizeof(err)), 0);
	assert_int_equal(c.tpm_pcrs, 0x85u);
	assert_int_equal(tf_config_format(&c, &out), 0);
	assert_non_null(strstr(out, "tpm_pcrs = 0,2,7\n"));
	assert_int_equal(
		tf_config_parse(out, strlen(out), &c2, err, sizeof(err)), 0);
	assert_int_equal(c2.tpm_pcrs, 0x85u);
	free(out);
	snprintf(text, sizeof(text), PCRS_CONF, "none");
	assert_int_equal(
		tf_config_parse(text, strlen(text), &c, err, sizeof(err)), 0);
	assert_int_equal(c.tpm_pcrs, 0);
	assert_int_equal(tf_config_format(&c, &out), 0);
	assert_non_null(strstr(out, "tpm_pcrs = none\n"));
	free(out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), PCRS_CONF, bad[i]);
		if (tf_config_parse(text, strlen(text), &c, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("tpm_pcrs = '%s' accepted", bad[i]);
	}
}

struct bad {
	const char *text, *want;
	int err;
};

static void test_config_bad(void **state)
{
	static const struct bad cases[] = {
		{"version = 2\nwhatever = 1\n", "newer twofold",
		 -EPROTONOSUPPORT},
		{"suite = intl\n[persona a]\nuid_base=100000\n[persona "
		 "b]\nuid_base=200000\n",
		 "missing 'version", -EINVAL},
		{"version = 1\nsuite = rot13\n[persona a]\nuid_base=100000\n"
		 "[persona b]\nuid_base=200000\n",
		 "unknown suite", -EINVAL},
		{"version = 1\n[persona a]\nuid_base=100000\n[persona "
		 "b]\nuid_base=150000\n",
		 "overlapping uid ranges", -EINVAL},
		{"version = 1\n[persona a]\nuid_base=100000\n", "at least two",
		 -EINVAL},
		{"version = 1\nbogus = 1\n", "line 2: unknown key", -EINVAL},
		{"version = 1\n[persona A]\n", "line 2: invalid name", -EINVAL},
		{"version = 1\n[persona a\n", "line 2: malformed section",
		 -EINVAL},
		{"version = 1\nnoequals\n", "line 2: expected key = value",
		 -EINVAL},
		{"version = 1\nbackground_cpu_weight = 0\n",
		 "line 2: invalid value", -EINVAL},
		/* weak credential settings: refused, unless forced */
		{"version = 1\nkdf_min_mem_mib = 1\n[persona a]\n"
		 "uid_base=100000\n[persona b]\nuid_base=200000\n",
		 "kdf_min_mem_mib = 1 is below 64 MiB: offline guessing "
		 "becomes "
		 "cheap; set allow_weak_credentials = yes to force (tests "
		 "only)",
		 -EINVAL},
		{"version = 1\npin_min_digits = 4\n[persona a]\n"
		 "uid_base=100000\n[persona b]\nuid_base=200000\n",
		 "pin_min_digits = 4 is below 6", -EINVAL},
		/* the passphrase floor cannot sneak under the PIN floor */
		{"version = 1\npassphrase_min_chars = 4\n[persona a]\n"
		 "uid_base=100000\n[persona b]\nuid_base=200000\n",
		 "passphrase_min_chars = 4 is below 6", -EINVAL},
		{"version = 1\nallow_weak_credentials = maybe\n",
		 "line 2: invalid value for allow_weak_credentials", -EINVAL},
		{"version = 1\n[persona a]\nuid_base=100\n[persona "
		 "b]\nuid_base=200000\n",
		 "at least 65536", -EINVAL},
		{"version = 1\n[persona a]\nuid_base=100000\nreauth_after = "
		 "60\n[persona b]\nuid_base=200000\n",
		 "reauth_after and idle_evict_after need credential = yes",
		 -EINVAL},
		{"version = 1\n[persona a]\nuid_base=100000\ncredential = "
		 "yes\nreauth_after = 2592001\n[persona b]\nuid_base=200000\n",
		 "line 5: invalid value for reauth_after", -EINVAL},
		{"version = 1\n[persona a]\nuid_base=100000\n[persona b]\n"
		 "uid_base=200000\ncredential = yes\nidle_evict_after = "
		 "604801\n",
		 "line 7: invalid value for idle_evict_after", -EINVAL},
		/* the display path: two words; a shell needs its uid */
		{"version = 1\ndisplay = x11\n[persona a]\nuid_base=100000\n"
		 "[persona b]\nuid_base=200000\n",
		 "display = x11: use none or shell", -EINVAL},
		{"version = 1\ndisplay = shell\n[persona a]\nuid_base=100000\n"
		 "[persona b]\nuid_base=200000\n",
		 "display = shell needs shell_uid", -EINVAL},
		/* the shell owns input and display: no persona gets them */
		{"version = 1\ndisplay = shell\nshell_uid = 5000\n"
		 "[persona a]\nuid_base=100000\n[persona b]\n"
		 "uid_base=200000\n[device kbd]\nclass = input\npath = "
		 "/dev/input/event0\n",
		 "device kbd: class input with display = shell", -EINVAL},
		{"version = 1\ndisplay = shell\nshell_uid = 5000\n"
		 "[persona a]\nuid_base=100000\n[persona b]\n"
		 "uid_base=200000\n[device gpu]\nclass = display\npath = "
		 "/dev/dri/card0\n",
		 "device gpu: class display with display = shell", -EINVAL},
		{"version = 1\nclipboard_flows = a:c\n[persona a]\n"
		 "uid_base=100000\n[persona b]\nuid_base=200000\n",
		 "clipboard_flows: 'a:c' is not FROM:TO of two personas",
		 -EINVAL},
		{"version = 1\nclipboard_flows = a:a\n[persona a]\n"
		 "uid_base=100000\n[persona b]\nuid_base=200000\n",
		 "clipboard_flows: 'a:a' is not FROM:TO", -EINVAL},
		{"version = 1\nshell_start = yes\n[persona a]\n"
		 "uid_base=100000\n[persona b]\nuid_base=200000\n",
		 "shell_start = yes needs display = shell", -EINVAL},
		{"version = 1\nlock_idle_seconds = 86401\n",
		 "line 2: invalid value for lock_idle_seconds", -EINVAL},
		{"version = 1\n[persona a]\nuid_base=100000\nbase = "
		 "/nonexistent-x\n"
		 "[persona b]\nuid_base=200000\n",
		 NULL, 0 /* parses; validate with paths fails, below */},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tf_config c;
		char err[256] = "";
		int r = tf_config_parse(cases[i].text, strlen(cases[i].text),
					&c, err, sizeof(err));
		if (cases[i].want == NULL) {
			assert_int_equal(r, 0);
			assert_int_equal(
				tf_config_validate(&c, true, err, sizeof(err)),
				-EINVAL);
			assert_non_null(strstr(err, "does not exist"));
			continue;
		}
		if (r != cases[i].err || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: r=%d err='%s'", i, r, err);
	}
}

/* allow_weak_credentials = yes lets the tests' cheap KDF and short PIN
 * through, and survives a format/parse round trip; the shipped defaults
 * are at the floors and need no forcing. */
static void test_config_weak_forced(void **state)
{
	static const char text[] = "version = 1\n"
				   "kdf_min_mem_mib = 8\n"
				   "pin_min_digits = 4\n"
				   "allow_weak_credentials = yes\n"
				   "[persona a]\nuid_base = 100000\n"
				   "[persona b]\nuid_base = 200000\n";
	struct tf_config c, c2;
	char err[256] = "", *out = NULL;

	(void)state;
	tf_config_default(&c);
	assert_false(c.allow_weak_credentials);
	assert_true(c.kdf_min_mem_mib >= TF_KDF_MEM_MIB_SAFE);
	assert_true(c.pin_min_digits >= TF_PIN_DIGITS_SAFE);
	if (tf_config_parse(text, strlen(text), &c, err, sizeof(err)) != 0)
		fail_msg("forced weak config refused: %s", err);
	assert_true(c.allow_weak_credentials);
	assert_int_equal(c.kdf_min_mem_mib, 8);
	assert_int_equal(tf_config_format(&c, &out), 0);
	assert_non_null(strstr(out, "allow_weak_credentials = yes\n"));
	assert_int_equal(
		tf_config_parse(out, strlen(out), &c2, err, sizeof(err)), 0);
	assert_true(c2.allow_weak_credentials);
	free(out);
	/* validate (the daemon's second check) refuses the same in memory */
	c.allow_weak_credentials = false;
	assert_int_equal(tf_config_validate(&c, false, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "kdf_min_mem_mib = 8 is below 64 MiB"));
}

/* init's per-device uid slots: aligned, inside 2^20..2^31, valid for the
 * config check, and different for different state directories. */
static void test_uid_slots(void **state)
{
	static const char *dirs[] = {"/var/lib/twofold", "/tmp/tfp.AAAAAA",
				     "/tmp/tfp.AAAAAB", "/srv/dev2"};
	uint32_t base[4];
	char err[256];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct tf_config c;
		base[i] = tf_config_uid_slot_base(dirs[i], 0);
		assert_int_equal(
			(base[i] - TF_UID_SLOT_FIRST) % TF_UID_SLOT_SPAN, 0);
		assert_true(base[i] >= TF_UID_SLOT_FIRST);
		assert_true((uint64_t)base[i] + TF_UID_SLOT_SPAN <= 1ull << 31);
		tf_config_default(&c);
		c.personas[0].uid_base = base[i];
		c.personas[1].uid_base = base[i] + TF_UID_COUNT_DEFAULT;
		assert_int_equal(
			tf_config_validate(&c, false, err, sizeof(err)), 0);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(base[i], base[j]);
	}
	/* probing walks to the next slot, wrapping at the end */
	assert_int_not_equal(tf_config_uid_slot_base(dirs[0], 1), base[0]);
	assert_int_equal(tf_config_uid_slot_base(dirs[0], TF_UID_SLOTS),
			 base[0]);
}

/* Each persona's image: its own storage_size, or an equal share (1 MiB
 * granules) of what the total leaves; a round trip keeps the sizes. */
static void test_storage_share(void **state)
{
	static const char conf[] = "version = 1\n"
				   "storage_size = 100M\n"
				   "[persona a]\nuid_base = 100000\n"
				   "[persona b]\nuid_base = 200000\n"
				   "storage_size = 40M\n"
				   "[persona c]\nuid_base = 300000\n";
	struct tf_config c;
	char err[256] = "", *text = NULL;

	(void)state;
	tf_config_default(&c);
	assert_int_equal(tf_config_storage_share(&c, 0), 512ull << 20);
	assert_int_equal(tf_config_storage_share(&c, 1), 512ull << 20);
	assert_int_equal(tf_config_storage_share(&c, 2), 0);
	c.storage_size = (64ull << 20) + 5; /* rounded down to 1 MiB */
	assert_int_equal(tf_config_storage_share(&c, 0), 32ull << 20);

	assert_int_equal(
		tf_config_parse(conf, strlen(conf), &c, err, sizeof(err)), 0);
	assert_int_equal(tf_config_storage_share(&c, 1), 40ull << 20);
	assert_int_equal(tf_config_storage_share(&c, 0), 30ull << 20);
	assert_int_equal(tf_config_storage_share(&c, 2), 30ull << 20);
	c.personas[0].storage_size = 60ull << 20; /* nothing left for c */
	assert_int_equal(tf_config_storage_share(&c, 2), 0);
	assert_int_equal(tf_config_format(&c, &text), 0);
	assert_non_null(strstr(text, "\n[persona a]\n"));
	assert_non_null(strstr(text, "storage_size = 62914560\n"));
	{
		struct tf_config c2;
		assert_int_equal(tf_config_parse(text, strlen(text), &c2, err,
						 sizeof(err)),
				 0);
		assert_int_equal(c2.personas[0].storage_size, 60ull << 20);
		assert_int_equal(c2.personas[2].storage_size, 0);
	}
	free(text);
	/* below 16 MiB (0 means "a share") is refused */
	{
		static const char small[] = "version = 1\n[persona a]\n"
					    "storage_size = 8M\n";
		assert_int_equal(tf_config_parse(small, strlen(small), &c, err,
						 sizeof(err)),
				 -EINVAL);
	}
	assert_non_null(strstr(err, "line 3: invalid value for storage_size"));
}

/* The schema table is sound, and validate applies each row's bounds to
 * values in memory (what init and the daemon built, not only parsed). */
static void test_config_schema(void **state)
{
	struct tf_config c;
	char err[256] = "";

	(void)state;
	if (tf_config_schema_check(err, sizeof(err)) != 0)
		fail_msg("schema: %s", err);
	tf_config_default(&c);
	c.background_cpu_weight = 0;
	assert_int_equal(tf_config_validate(&c, false, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "background_cpu_weight = 0 is out of range "
				 "(1..10000)");
	tf_config_default(&c);
	c.personas[1].memory_max = 4096;
	assert_int_equal(tf_config_validate(&c, false, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(
		err, "persona secure: memory_max = 4096 is out of range"));
	/* unset uid_base (no default): the rule between keys says so */
	tf_config_default(&c);
	c.personas[0].uid_base = 0;
	assert_int_equal(tf_config_validate(&c, false, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "uid_base must be set"));
}

/* docs/twofold-config.5.md documents every key of the schema, in the
 * table of its section, and documents no key the schema lacks. */
static void test_config_doc(void **state)
{
	static const struct {
		const char *heading, *section;
	} sections[] = {
		{"## GLOBAL KEYS", "top"},
		{"## [persona NAME]", "persona"},
		{"## [device NAME]", "device"},
	};
	char doc[128][48]; /* "section key" */
	size_t ndoc = 0;
	const char *cur = NULL;
	char line[2048];
	FILE *f = fopen(TF_SOURCE_ROOT "/docs/twofold-config.5.md", "re");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *k, *e;

		if (strncmp(line, "## ", 3) == 0) {
			cur = NULL;
			line[strcspn(line, "\n")] = '\0';
			for (size_t i = 0; i < TF_ARRAY_SIZE(sections); i++)
				if (strcmp(line, sections[i].heading) == 0)
					cur = sections[i].section;
			continue;
		}
		if (cur == NULL || strncmp(line, "| `", 3) != 0)
			continue;
		k = line + 3;
		e = strchr(k, '`');
		assert_non_null(e);
		*e = '\0';
		assert_true(ndoc < TF_ARRAY_SIZE(doc));
		snprintf(doc[ndoc++], sizeof(doc[0]), "%s %.40s", cur, k);
	}
	fclose(f);
	/* every key in the table is documented ... */
	for (size_t i = 0;; i++) {
		const char *sec, *name = tf_config_key_at(i, &sec, NULL);
		char want[48];
		bool found = false;

		if (name == NULL)
			break;
		snprintf(want, sizeof(want), "%s %s", sec, name);
		for (size_t j = 0; j < ndoc; j++)
			found |= strcmp(doc[j], want) == 0;
		if (!found)
			fail_msg("%s key %s is not in docs/twofold-config.5.md",
				 sec, name);
	}
	/* ... and every documented key exists */
	for (size_t j = 0; j < ndoc; j++) {
		bool found = false;

		for (size_t i = 0;; i++) {
			const char *sec,
				*name = tf_config_key_at(i, &sec, NULL);
			char have[48];

			if (name == NULL)
				break;
			snprintf(have, sizeof(have), "%s %s", sec, name);
			found |= strcmp(doc[j], have) == 0;
		}
		if (!found)
			fail_msg("docs/twofold-config.5.md documents %s, which "
				 "device.conf does not have",
				 doc[j]);
	}
	assert_true(ndoc >= 30);
}

static void test_config_bounds(void **state)
{
	struct tf_config c;
	char err[256];
	size_t n = TF_CONFIG_MAX + 10;
	char *big = malloc(n);

	memset(big, '#', n);
	assert_int_equal(tf_config_parse(big, n, &c, err, sizeof(err)),
			 -EINVAL);
	memset(big, 'a', 1000);
	assert_int_equal(tf_config_parse(big, 1000, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	memcpy(big, "version = 1\n\0\n", 14);
	assert_int_equal(tf_config_parse(big, 14, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	free(big);
}

static void test_escape(void **state)
{
	char out[64];
	tf_escape("a\nb\x1b[31m\\", 9, out, sizeof(out));
	assert_string_equal(out, "a\\x0ab\\x1b[31m\\x5c");
}

/* tf_boottime_ns reads CLOCK_BOOTTIME, not CLOCK_MONOTONIC: in a time
 * namespace whose boot clock is 100000 s ahead of its monotonic clock (as
 * after a long suspend), the helper is that far ahead of tf_now_ns. A
 * helper on CLOCK_MONOTONIC would be ~0 s ahead. Needs root (CLONE_NEWTIME,
 * Linux 5.6); skipped without. */
static void test_boottime_clock(void **state)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t g;
		int fd;

		if (unshare(CLONE_NEWTIME) < 0)
			_exit(77);
		fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "boottime 100000 0\n", 18) != 18)
			_exit(77);
		close(fd);
		g = fork(); /* the new namespace's clocks are its children's */
		if (g == 0) {
			uint64_t mono = tf_now_ns(), boot = tf_boottime_ns();
			struct timespec ts;

			clock_gettime(CLOCK_BOOTTIME, &ts);
			if (boot < mono + 99999ull * 1000000000ull)
				_exit(1);
			if ((uint64_t)ts.tv_sec + 1 < boot / 1000000000ull)
				_exit(2);
			_exit(0);
		}
		if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st))
			_exit(3);
		_exit(WEXITSTATUS(st));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* The mountinfo parser: proc(5)'s example, an empty source, no optional
 * fields, and lines that are not mountinfo. */
static void test_mountinfo_line(void **state)
{
	char l1[] =
		"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 "
		"/dev/root rw,errors=continue\n";
	char l2[] = "40 1 0:33 / /sys/fs/cgroup rw,nosuid - cgroup2  "
		    "rw,nsdelegate";
	char bad1[] = "36 35 98:0 /mnt1 /mnt2 rw,noatime ext3 /dev/root rw";
	char bad2[] = "36 35 98 /mnt1 /mnt2 rw - ext3 /dev/root rw";
	char bad3[] = "36 35 98:0 /mnt1 /mnt2 rw -";
	char bad4[] = "";
	struct tf_mountinfo m;

	(void)state;
	assert_int_equal(tf_mountinfo_parse_line(l1, &m), 0);
	assert_int_equal(m.id, 36);
	assert_int_equal(m.parent, 35);
	assert_int_equal(m.major, 98);
	assert_int_equal(m.minor, 0);
	assert_string_equal(m.root, "/mnt1");
	assert_string_equal(m.mount_point, "/mnt2");
	assert_string_equal(m.mount_opts, "rw,noatime");
	assert_string_equal(m.fstype, "ext3");
	assert_string_equal(m.source, "/dev/root");
	assert_string_equal(m.super_opts, "rw,errors=continue");
	assert_true(tf_opt_has(m.super_opts, "errors=continue"));
	assert_false(tf_opt_has(m.super_opts, "errors"));
	assert_int_equal(tf_mountinfo_parse_line(l2, &m), 0);
	assert_string_equal(m.fstype, "cgroup2");
	assert_string_equal(m.source, "");
	assert_string_equal(m.super_opts, "rw,nsdelegate");
	assert_int_equal(tf_mountinfo_parse_line(bad1, &m), -EINVAL);
	assert_int_equal(tf_mountinfo_parse_line(bad2, &m), -EINVAL);
	assert_int_equal(tf_mountinfo_parse_line(bad3, &m), -EINVAL);
	assert_int_equal(tf_mountinfo_parse_line(bad4, &m), -EINVAL);
}

static int find_root_cb(const struct tf_mountinfo *m, void *ud)
{
	(void)ud;
	return strcmp(m->mount_point, "/") == 0 ? 7 : 0;
}

/* The walk over this process's real mountinfo finds / and stops there. */
static void test_mountinfo_foreach(void **state)
{
	(void)state;
	assert_int_equal(tf_mountinfo_foreach(find_root_cb, NULL), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memeq_ct),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_secmem),
		cmocka_unit_test(test_secmem_guard),
		cmocka_unit_test(test_secmem_fails_closed),
		cmocka_unit_test(test_secmem_flags),
		cmocka_unit_test_setup_teardown(test_atomic_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_atomic_crash, setup,
						teardown),
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_config_tpm_pcrs),
		cmocka_unit_test(test_config_net),
		cmocka_unit_test(test_config_bad),
		cmocka_unit_test(test_config_weak_forced),
		cmocka_unit_test(test_config_bounds),
		cmocka_unit_test(test_config_schema),
		cmocka_unit_test(test_config_doc),
		cmocka_unit_test(test_storage_share),
		cmocka_unit_test(test_uid_slots),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_boottime_clock),
		cmocka_unit_test(test_mountinfo_line),
		cmocka_unit_test(test_mountinfo_foreach),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
