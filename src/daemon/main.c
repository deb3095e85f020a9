/* SPDX-License-Identifier: ISC */
/*
 * twofoldd: the one root daemon per device. It holds every secret, owns the
 * personas and answers a fixed table of requests on the control socket
 * (dispatch.c). Start-up order matters and is fail-closed:
 *   0. fork the persona spawner and the key guard, while the process
 *      holds no secret
 *   1. harden the process (no core dumps, SIGPIPE ignored)
 *   2. crypto known-answer tests; any failure refuses to start
 *   3. load and validate the state directory; refuse unsafe modes and
 *      owners (statecheck.c) and host uid ranges another namespace maps
 *   4. clean up what a killed predecessor left (cgroups, mounts)
 *   5. storage, keys, personas
 *   6. serve
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tf_config.h"
#if TF_HAVE_SD_NOTIFY
#include <systemd/sd-daemon.h>
#endif
#include "twofold/crypto.h"
#include "twofold/log.h"
#include "twofold/persona.h"
#include "twofold/sandbox.h"
#include "twofold/secmem.h"
#include "apps.h"
#include "daemon.h"

int tfd_serve(struct tfd *d);
TF_WUR int tfd_server_open(struct tfd *d);
void tfd_server_close(struct tfd *d);
TF_WUR int tfd_load_state(struct tfd *d, char *err, size_t errlen);

static void usage(FILE *f)
{
	fprintf(f,
		"usage: twofoldd [--state DIR] [--verbose]\n"
		"       twofoldd --selftest\n"
		"       twofoldd --audit-verify [--key FILE] [--state DIR]\n"
		"\n"
		"The twofold daemon: owns the personas and every key, serves\n"
		"the control socket, runs in the foreground (log to stderr).\n"
		"\n"
		"  -s, --state DIR   state directory made by `twofold init`\n"
		"                    (default: $TWOFOLD_STATE, else\n"
		"                    /var/lib/twofold; the socket is then\n"
		"                    /run/twofold/control, else DIR/control)\n"
		"  -v, --verbose     debug logging\n"
		"      --selftest    run the crypto known-answer tests, exit\n"
		"      --audit-verify  verify DIR/audit.log (`twofold audit\n"
		"                    verify`), with K_0 from --key FILE or\n"
		"                    DIR/audit.verify; exit 0 verified, 1 not\n"
		"  -h, --help        this text\n"
		"  -V, --version     print the version\n");
}

/* Type=notify (dist/systemd/twofoldd.service): "ready" once the socket
 * answers and the autostart personas run, "stopping" as the shutdown
 * begins. Without NOTIFY_SOCKET (not under systemd) sd_notify does
 * nothing; built without libsystemd, neither do we. */
static void notify(const char *state)
{
#if TF_HAVE_SD_NOTIFY
	int r = sd_notify(0, state);
	if (r < 0)
		tf_warn("cannot notify the service manager: %s", strerror(-r));
#else
	(void)state;
#endif
}

static int run_selftest(bool verbose)
{
	const struct tf_suite *s;
	int failed = 0;

	tf_suite_foreach(i, s)
	{
		char why[256] = "";
		uint64_t t0 = tf_now_ns();
		int r = tf_crypto_selftest_full(s, why, sizeof(why));
		uint64_t dt = tf_now_ns() - t0;

		if (r < 0) {
			printf("FAIL %-5s %s\n", s->name,
			       why[0] ? why : strerror(-r));
			failed++;
		} else {
			printf("ok   %-5s known-answer tests passed (%.1f "
			       "ms)\n",
			       s->name, (double)dt / 1e6);
		}
	}
	if (verbose)
		printf("%d suite(s) failed\n", failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state", required_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"selftest", no_argument, NULL, 'T'},
		{"audit-verify", no_argument, NULL, 'A'},
		{"key", required_argument, NULL, 'K'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static struct tfd d;
	const char *state = NULL;
	bool verbose = false, selftest = false, audit_verify = false;
	const char *audit_key = NULL;
	char err[512] = "";
	int c, r;

	while ((c = getopt_long(argc, argv, "s:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'v': verbose = true; break;
		case 'T': selftest = true; break;
		case 'A': audit_verify = true; break;
		case 'K': audit_key = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("twofoldd %s\n", TF_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "twofoldd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	tf_log_init("twofoldd", verbose ? TF_LOG_DEBUG : TF_LOG_INFO);
	/* a reader of the log only: no spawner, no guard, no secret */
	if (audit_verify) {
		if (state == NULL)
			state = secure_getenv("TWOFOLD_STATE");
		if (tf_crypto_init() < 0)
			return 2;
		return tfd_audit_verify_main(
			state && state[0] ? state : "/var/lib/twofold",
			audit_key);
	}

	/* Before anything secret is read (keys, device secret, requests):
	 * persona inits and launchers are cloned from this clean fork, never
	 * from the daemon's memory (persona.h). */
	if (!selftest) {
		/* pure v2: out of the cgroup the personas' cgroups go
		 * under, before anything is forked (sandbox.h) */
		r = tf_cgroup_enter_leaf();
		if (r < 0) {
			tf_err("cannot move into cgroup leaf %s: %s",
			       TF_CG_SELF_LEAF, strerror(-r));
			return 1;
		}
		if (r > 0)
			tf_info("moved into cgroup leaf %s (pure cgroup v2)",
				TF_CG_SELF_LEAF);
		/* the tunnel process is a fork of the spawner too, which
		 * takes its body along; the stub only for tests of its
		 * supervision (tunnel_stub.c) */
		tf_persona_spawner_tunnel_main(tf_fault_injected("tunnel-stub")
						       ? tfd_tunnel_stub_main
						       : tf_tunnel_main);
		/* the package checker likewise (appcheck.c) */
		tf_persona_spawner_pkgcheck_main(tfd_appcheck_main);
		r = tf_persona_spawner_start();
		if (r < 0) {
			tf_err("cannot fork the persona spawner: %s",
			       strerror(-r));
			return 1;
		}
		/* the guard removes the keys if we die (guard.c); no key is
		 * ever loaded without one */
		r = tfd_guard_start(argv);
		if (r < 0) {
			tf_err("cannot fork the key guard: %s", strerror(-r));
			return 1;
		}
	}

	/* Secrets live here: no core dumps, no ptrace by same-uid peers. */
	if (tf_secmem_harden_process() < 0) {
		tf_err("cannot disable core dumps: %s", strerror(errno));
		return 1;
	}
	/* secure memory fails closed (secmem.h): find out now, not at the
	 * first unlock, when the memlock limit leaves us none */
	d.rxbuf = tf_secure_alloc(TF_FRAG_MAX);
	r = d.rxbuf != NULL ? tf_secmem_probe() : tf_negerrno();
	if (r < 0) {
		tf_err("cannot lock secret memory: %s (raise RLIMIT_MEMLOCK)",
		       strerror(-r));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* libtss2 logs to stderr by itself; twofoldd reports TPM errors in
	 * its own words (and never lets a library print around it) */
	setenv("TSS2_LOG", "all+NONE", 1);

	r = tf_crypto_init();
	if (r < 0) {
		tf_err("crypto libraries failed to initialise: %s",
		       strerror(-r));
		return 1;
	}
	if (selftest)
		return run_selftest(true);

	/* Fail closed: a suite whose known answers are wrong never runs. */
	{
		const struct tf_suite *s;
		tf_suite_foreach(i, s)
		{
			char why[256] = "";
			if (tf_crypto_selftest(s, why, sizeof(why)) < 0) {
				tf_err("crypto self-test failed, refusing to "
				       "start: %s",
				       why[0] ? why : "suite missing");
				return 1;
			}
		}
	}

	if (state == NULL) {
		state = secure_getenv("TWOFOLD_STATE");
		if (state != NULL && state[0] == '\0')
			state = NULL;
	}
	d.state_given = state != NULL;
	r = tf_strlcpy(d.state_dir, state ? state : "/var/lib/twofold",
		       sizeof(d.state_dir));
	if (r < 0) {
		tf_err("state directory path too long");
		return 1;
	}
	d.started_ns = tf_now_ns();
	d.state = TFD_STARTING;
	r = tfd_load_state(&d, err, sizeof(err));
	if (r == 0)
		r = tfd_check_state_perms(&d, err, sizeof(err));
	if (r < 0) {
		tf_err("%s", err);
		return 1;
	}
	r = tfd_server_open(&d);
	if (r < 0) {
		tf_err("cannot listen on the control socket of %s: %s",
		       d.state_dir, strerror(-r));
		return 1;
	}
	/* after the socket: a second daemon on this state dir has been
	 * turned away there, with the better message */
	r = tfd_check_uid_ranges(&d, err, sizeof(err));
	if (r < 0) {
		tf_err("%s", err);
		tfd_server_close(&d);
		return 1;
	}
	r = tfd_display_setup(&d, err, sizeof(err));
	if (r < 0) {
		tf_err("%s", err);
		tfd_server_close(&d);
		return 1;
	}
	/* before any persona starts: each start spawns its bus */
	tfd_notify_setup(&d);
	r = tfd_personas_setup(&d, err, sizeof(err));
	if (r < 0) {
		tf_err("%s", err);
		tfd_personas_shutdown(&d);
		tfd_server_close(&d);
		return 1;
	}
	tfd_tunnels_setup(&d);
	tfd_alerts_setup(&d);
	d.state = TFD_READY;
	tfd_shellproc_setup(&d);
	tf_info("ready: state %s, suite %s, socket %s", d.state_dir,
		d.cfg.suite, d.sock_path);
	notify("READY=1\nSTATUS=serving the control socket");
	r = tfd_serve(&d);
	d.state = TFD_STOPPING;
	notify("STOPPING=1\nSTATUS=stopping the personas");
	/* an unlock's check under way ends first (its key never comes in) */
	tfd_jobs_shutdown(&d);
	tfd_tunnels_shutdown(&d);
	tfd_alerts_shutdown(&d);
	tfd_shellproc_shutdown(&d);
	tfd_copy_shutdown();
	tfd_personas_shutdown(&d);
	tfd_notify_shutdown(&d);
	tfd_server_close(&d);
	tfd_guard_stop();
	tf_info("stopped");
	return r < 0 ? 1 : 0;
}
