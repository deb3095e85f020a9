/* SPDX-License-Identifier: ISC */
/*
 * twofold audit show | verify (docs/audit.md). `show` reads
 * <state>/audit.log itself (root; works while twofoldd is down) with the
 * bounded parser of src/lib/audit/format.c, which links no crypto library.
 * `verify` needs the suite's hash, MAC and signature: it runs `twofoldd
 * --audit-verify`, as `selftest` runs `twofoldd --selftest`.
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "tf_config.h"
#include "twofold/audit.h"
#include "cli.h"

void help_audit(FILE *f)
{
	fprintf(f,
		"usage: twofold audit show [--json] [--since TIME] [--persona "
		"P]\n"
		"       twofold audit verify [--key FILE]\n\n"
		"show: one line per record of STATE/audit.log (--json: one "
		"JSON\n"
		"object per line). TIME: YYYY-MM-DD[THH:MM[:SS]] (UTC), "
		"@SECONDS,\n"
		"or an age such as 30m, 2h, 7d.\n"
		"verify: check every chain hash, MAC and checkpoint signature "
		"and\n"
		"that the log was not cut short; the verification key K_0 "
		"comes\n"
		"from --key FILE (a copy of STATE/audit.verify kept off the "
		"device)\n"
		"or STATE/audit.verify. Exit 0 verified, 1 not (the first bad "
		"record\n"
		"is named), 2 usage.\n");
}

static const char *state_dir(const struct cli *cli)
{
	return cli->state_dir ? cli->state_dir : "/var/lib/twofold";
}

/* ---- --since ---- */

static int parse_since(const char *s, uint64_t *ns)
{
	struct tm tm = {0};
	uint64_t v;
	char *end;
	size_t n = strlen(s);
	struct timespec now;

	if (s[0] == '@')
		return tf_parse_u64(s + 1, UINT64_MAX / 1000000000ull, &v) < 0
			       ? -EINVAL
			       : (*ns = v * 1000000000ull, 0);
	if (n >= 2 && strchr("smhd", s[n - 1]) != NULL) {
		char num[24];
		uint64_t mul = s[n - 1] == 's'	 ? 1
			       : s[n - 1] == 'm' ? 60
			       : s[n - 1] == 'h' ? 3600
						 : 86400;
		if (n - 1 >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (tf_parse_u64(num, 1000000000ull, &v) < 0 ||
		    clock_gettime(CLOCK_REALTIME, &now) < 0)
			return -EINVAL;
		v *= mul;
		*ns = (uint64_t)now.tv_sec > v
			      ? ((uint64_t)now.tv_sec - v) * 1000000000ull
			      : 0;
		return 0;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end != NULL && *end == 'T')
		end = strptime(end + 1, "%H:%M", &tm);
	if (end != NULL && *end == ':')
		end = strptime(end + 1, "%S", &tm);
	if (end != NULL && *end == 'Z')
		end++;
	if (end == NULL || *end != '\0')
		return -EINVAL;
	*ns = (uint64_t)timegm(&tm) * 1000000000ull;
	return 0;
}

/* ---- output ---- */

static void fmt_time(uint64_t ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		snprintf(buf, cap, "%llu", (unsigned long long)t);
	else
		snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (unsigned)(ns % 1000000000ull / 1000000u));
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s); /* printable ASCII only (the parser checks) */
	}
	putchar('"');
}

static void show_json(const struct tf_audit_rec *r)
{
	char when[64], boot[33];
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		boot[2 * i] = hx[r->boot_id[i] >> 4];
		boot[2 * i + 1] = hx[r->boot_id[i] & 15];
	}
	boot[32] = '\0';
	fmt_time(r->realtime_ns, when, sizeof(when));
	printf("{\"seq\":%llu,\"time\":\"%s\",\"realtime_ns\":%llu,"
	       "\"boottime_ns\":%llu,\"boot_id\":\"%s\",\"epoch\":%u,"
	       "\"type\":",
	       (unsigned long long)r->seq, when,
	       (unsigned long long)r->realtime_ns,
	       (unsigned long long)r->boottime_ns, boot, r->epoch);
	json_str(r->type);
	if (r->persona[0]) {
		fputs(",\"persona\":", stdout);
		json_str(r->persona);
	}
	if (r->uid != TF_AUDIT_NO_UID)
		printf(",\"uid\":%u,\"pid\":%u", r->uid, r->pid);
	fputs(",\"fields\":{", stdout);
	for (size_t i = 0; i < r->n_fields; i++) {
		if (i)
			putchar(',');
		json_str(r->fields[i].key);
		putchar(':');
		json_str(r->fields[i].value);
	}
	fputs("}}\n", stdout);
}

static void show_text(const struct tf_audit_rec *r)
{
	char when[64];

	fmt_time(r->realtime_ns, when, sizeof(when));
	printf("%llu %s %s", (unsigned long long)r->seq, when, r->type);
	if (r->persona[0])
		printf(" persona=%s", r->persona);
	if (r->uid != TF_AUDIT_NO_UID)
		printf(" uid=%u pid=%u", r->uid, r->pid);
	for (size_t i = 0; i < r->n_fields; i++) {
		const char *v = r->fields[i].value;
		bool quote = v[0] == '\0' || strpbrk(v, " \"=\\") != NULL;
		/* chain hashes and signatures: the start is enough here */
		size_t n = r->kind == TF_AUDIT_CHECKPOINT && strlen(v) > 16
				   ? 16
				   : strlen(v);

		printf(" %s=%s", r->fields[i].key, quote ? "\"" : "");
		/* a value may quote a caller's words (a refused request's
		 * message): a '"' or '\\' in it is escaped, or it could end
		 * the quotes and read as fields of its own */
		for (size_t k = 0; k < n; k++) {
			if (quote && (v[k] == '"' || v[k] == '\\'))
				putchar('\\');
			putchar(v[k]);
		}
		printf("%s%s", n < strlen(v) ? "..." : "", quote ? "\"" : "");
	}
	putchar('\n');
}

static int audit_show(struct cli *cli, int argc, char **argv)
{
	static struct tf_audit_reader rd;
	static struct tf_audit_rec rec;
	const char *persona = NULL;
	uint64_t since = 0, torn = 0;
	_cleanup_close_ int dfd = -1, fd = -1;
	bool json = cli->json;
	int r;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if ((strcmp(argv[i], "--since") == 0 ||
			  strcmp(argv[i], "--persona") == 0) &&
			 i + 1 >= argc)
			return cli_usage_err(cli, NULL,
					     "option %s needs an argument",
					     argv[i]);
		else if (strcmp(argv[i], "--since") == 0) {
			if (parse_since(argv[++i], &since) < 0)
				return cli_usage_err(cli, NULL,
						     "--since: cannot read "
						     "time '%s'",
						     argv[i]);
		} else if (strcmp(argv[i], "--persona") == 0)
			persona = argv[++i];
		else
			return cli_usage_err(cli, NULL,
					     "show: unexpected argument "
					     "'%s'",
					     argv[i]);
	}
	dfd = open(state_dir(cli), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fd = openat(dfd, TF_AUDIT_LOG,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		cli_err(cli, "cannot open %s/%s: %s%s", state_dir(cli),
			TF_AUDIT_LOG, strerror(errno),
			errno == ENOENT	  ? " (twofoldd creates it when it "
					    "starts)"
			: errno == EACCES ? " (run as root)"
					  : "");
		return EXIT_FAIL;
	}
	r = tf_audit_reader_init(&rd, fd);
	if (r < 0) {
		cli_err(cli, "%s/%s is not an audit log%s", state_dir(cli),
			TF_AUDIT_LOG,
			r == -EPROTONOSUPPORT ? " this twofold can read "
						"(upgrade twofold)"
					      : "");
		return EXIT_FAIL;
	}
	for (;;) {
		r = tf_audit_reader_next(&rd, &rec, &torn);
		if (r == 0)
			return EXIT_OK;
		if (r == -EAGAIN) {
			fflush(stdout);
			cli_err(cli,
				"torn tail after record %llu (crash?): %llu "
				"bytes of a partial record",
				(unsigned long long)rec.seq,
				(unsigned long long)torn);
			return EXIT_OK;
		}
		if (r < 0) {
			fflush(stdout);
			cli_err(cli,
				"malformed record at byte %llu of %s/%s (see: "
				"twofold audit verify)",
				(unsigned long long)rd.offset, state_dir(cli),
				TF_AUDIT_LOG);
			return EXIT_FAIL;
		}
		if (rec.realtime_ns < since ||
		    (persona && strcmp(rec.persona, persona) != 0))
			continue;
		if (json)
			show_json(&rec);
		else
			show_text(&rec);
	}
}

/* ---- verify: twofoldd --audit-verify ---- */

static int audit_verify(struct cli *cli, int argc, char **argv)
{
	const char *key = NULL;
	char self[PATH_MAX], path[PATH_MAX + 32], *slash;
	const char *args[8];
	size_t n = 0;
	ssize_t len;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 >= argc)
			return cli_usage_err(cli, NULL,
					     "option --key needs an argument");
		else if (strcmp(argv[i], "--key") == 0)
			key = argv[++i];
		else
			return cli_usage_err(cli, NULL,
					     "verify: unexpected "
					     "argument '%s'",
					     argv[i]);
	}
	args[n++] = "twofoldd";
	args[n++] = "--audit-verify";
	args[n++] = "--state";
	args[n++] = state_dir(cli);
	if (key) {
		args[n++] = "--key";
		args[n++] = key;
	}
	args[n] = NULL;
	fflush(stdout);
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			/* build tree: src/cli/twofold next to src/daemon */
			snprintf(path, sizeof(path), "%s/../daemon/twofoldd",
				 self);
			if (access(path, X_OK) == 0)
				execv(path, (char *const *)args);
			snprintf(path, sizeof(path), "%s/twofoldd", self);
			if (access(path, X_OK) == 0)
				execv(path, (char *const *)args);
		}
	}
	execvp("twofoldd", (char *const *)args);
	execv(TF_SBINDIR "/twofoldd", (char *const *)args);
	cli_err(cli, "cannot find twofoldd to verify the log (is it "
		     "installed?)");
	return EXIT_FAIL;
}

int verb_audit(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_err(cli, NULL,
				     "missing subcommand (show, verify)");
	if (strcmp(argv[1], "show") == 0)
		return audit_show(cli, argc, argv);
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify(cli, argc, argv);
	return cli_usage_err(cli, NULL,
			     "unknown subcommand '%s' (show, verify)", argv[1]);
}
