/* SPDX-License-Identifier: ISC */
/*
 * Errors as the user sees them: the sentence and the hint rendered from
 * the daemon's reason id and parameters (twofold/error.h), the daemon's
 * own message where no template fits, and under --json one object on
 * stdout: {"error": {"reason", "message", "errno", "hint", <params>}}.
 * Exit codes are the verbs' business and do not depend on any of this.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "twofold/error.h"
#include "cli.h"

/*
 * One rendering: for reason (and, when set, only under that verb), used
 * when every parameter named in needs ("a,b") and every {placeholder} is
 * present; the first that fits wins. After '|' comes the hint, printed
 * after the sentence as "; hint".
 */
struct tmpl {
	const char *reason;
	const char *verb;
	const char *needs;
	const char *text;
};

static const struct tmpl tmpls[] = {
	{TF_R_PERSONA_UNKNOWN, NULL, NULL,
	 "unknown persona '{persona}' (see: twofold persona list)"},
	{TF_R_PERSONA_NOT_RUNNING, "lock", NULL,
	 "{persona} is not running, so there is nothing to freeze|to remove "
	 "its key: twofold lock {persona} --evict"},
	{TF_R_PERSONA_NOT_RUNNING, NULL, NULL,
	 "{persona} is not running|unlock it with: twofold unlock {persona}"},
	{TF_R_PERSONA_STOPPED, NULL, NULL,
	 "{persona} is stopped|start it with: twofold persona start "
	 "{persona}"},
	{TF_R_PERSONA_RUNNING, NULL, NULL, "{persona} is already running"},
	{TF_R_PERSONA_UNLOCKED, NULL, NULL, "{persona} is already unlocked"},
	{TF_R_PERSONA_LOCKED, "persona", "cause",
	 "restart {persona}: interrupted by a lock-down|unlock it with: "
	 "twofold unlock {persona}"},
	{TF_R_PERSONA_LOCKED, "switch", NULL,
	 "{persona} is locked|unlock it first: twofold unlock {persona}"},
	{TF_R_PERSONA_LOCKED, NULL, NULL,
	 "{persona} is locked|unlock it with: twofold unlock {persona}"},
	{TF_R_PERSONA_NO_CREDENTIAL, NULL, NULL,
	 "{op} {persona}: no credential set|set one with: twofold enroll "
	 "{persona}"},
	{TF_R_PERSONA_NO_CREDENTIAL, NULL, NULL,
	 "{persona} has no credential yet|set one with: twofold enroll "
	 "{persona}"},
	{TF_R_PERSONA_ERASED, NULL, "cause",
	 "{op} {persona}: crypto-erased after too many failed attempts; its "
	 "data is gone"},
	{TF_R_PERSONA_ERASED, NULL, NULL,
	 "{op} {persona}: crypto-erased; its data is gone"},
	{TF_R_PERSONA_ERASED, NULL, "cause",
	 "{persona} was crypto-erased after too many failed attempts; its "
	 "data is gone"},
	{TF_R_PERSONA_ERASED, NULL, NULL,
	 "{persona} was crypto-erased; its data is gone"},
	{TF_R_PERSONA_UNLOCKING, NULL, NULL,
	 "busy: an unlock of {persona} is in progress|try again once it is "
	 "answered"},
	{TF_R_PERSONA_STOPPING, NULL, NULL,
	 "busy: {persona} is stopping|try again once it has (see: twofold "
	 "status)"},
	{TF_R_PERSONA_FREEZING, NULL, NULL,
	 "busy: {persona} is being locked|try again once the lock is "
	 "answered"},
	{TF_R_PERSONA_DEVICE_BOUND, "unlock", NULL,
	 "{persona} is bound to this device and needs no unlock|start it "
	 "with: twofold persona start {persona}"},
	{TF_R_PERSONA_DEVICE_BOUND, "enroll", NULL,
	 "{persona} is bound to this device and takes no credential "
	 "(config: credential = no)"},
	{TF_R_PERSONA_DEVICE_BOUND, "lock", NULL,
	 "{persona} has no credential, so it cannot be unlocked again|stop it "
	 "with: twofold persona stop {persona}"},
	{TF_R_PERSONA_DEVICE_BOUND, "wipe", NULL,
	 "{persona} is not credential-bound; wipe refuses it"},
	{TF_R_CREDENTIAL_WRONG, NULL, NULL,
	 "{op} {persona}: wrong credential; {tries_left} tries left|wait "
	 "{wait_s} s before the next"},
	{TF_R_CREDENTIAL_WRONG, NULL, NULL,
	 "{op} {persona}: wrong credential; {tries_left} tries left"},
	{TF_R_CREDENTIAL_THROTTLED, NULL, NULL,
	 "{op} {persona}: too many failed attempts|wait {wait_s} s "
	 "({tries_left} tries left)"},
	{TF_R_TPM_LOCKOUT, NULL, NULL,
	 "{op} {persona}: the TPM is in dictionary-attack lockout|wait and "
	 "try again (this try was not counted)"},
	{TF_R_TPM_UNREACHABLE, NULL, NULL,
	 "{op} {persona}: the TPM is not reachable; nothing was checked or "
	 "counted"},
	{TF_R_TPM_PCR_MISMATCH, NULL, NULL,
	 "{op} {persona}: the boot state (TPM PCRs, tpm_pcrs) differs from "
	 "the one it was enrolled under; nothing was checked or counted"},
	{TF_R_TPM_NOT_CONFIGURED, NULL, NULL,
	 "{op} {persona}: its key is bound to a TPM but device.conf names "
	 "none (tpm_tcti)"},
	{TF_R_STORAGE_DAMAGED, NULL, NULL,
	 "{op} {persona}: wrapped key file damaged (keys/{persona}/); "
	 "refusing to create a new key over existing data"},
	{TF_R_MEMORY_LOCK, NULL, NULL,
	 "{op} {persona}: out of memory or of locked memory for secrets|raise "
	 "RLIMIT_MEMLOCK"},
	{TF_R_RUN_NOT_FOUND, NULL, NULL,
	 "command not found: {command} in persona {persona}"},
	{TF_R_NET_NOT_TUNNEL, NULL, "persona,mode",
	 "{persona} has network = {mode}, so it has no tunnel key|name a "
	 "persona with network = tunnel"},
	{TF_R_NET_NOT_TUNNEL, NULL, NULL,
	 "no persona has network = tunnel|set network = tunnel for one in "
	 "device.conf"},
	{TF_R_NET_NO_KEY, NULL, NULL,
	 "{persona}: the tunnel key could not be derived|see twofoldd's log"},
	{TF_R_DAEMON_STOPPING, NULL, NULL, "twofoldd is shutting down"},
	{TF_R_DAEMON_STARTING, NULL, NULL,
	 "twofoldd is starting|try again in a moment"},
};

void cli_error_init(struct cli_error *e, int err, const char *reason,
		    const char *message)
{
	memset(e, 0, sizeof(*e));
	e->err = err;
	e->reason = reason;
	e->message = message;
}

void cli_error_from_reply(struct cli_error *e, const struct cli_reply *rep)
{
	const struct tf_msg *m = &rep->msg;

	cli_error_init(e, rep->err, tf_msg_str(m, TF_A_REASON), rep->message);
	for (size_t i = 0; i < m->n_attrs && e->n_params < CLI_ERR_PARAMS;
	     i++) {
		const struct tf_attr_ref *a = &m->attrs[i];
		const char *kv, *eq;
		if (a->type != TF_A_PARAM)
			continue;
		kv = (const char *)a->val; /* NUL-terminated (proto.c) */
		eq = strchr(kv, '=');
		if (eq == NULL || eq == kv ||
		    (size_t)(eq - kv) >= sizeof(e->keys[0]))
			continue;
		memcpy(e->keys[e->n_params], kv, (size_t)(eq - kv));
		e->keys[e->n_params][eq - kv] = '\0';
		e->vals[e->n_params++] = eq + 1;
	}
}

static const char *param(const struct cli_error *e, const char *key,
			 size_t klen)
{
	for (size_t i = 0; i < e->n_params; i++)
		if (strlen(e->keys[i]) == klen &&
		    memcmp(e->keys[i], key, klen) == 0)
			return e->vals[i];
	return NULL;
}

/* Expand t's placeholders into out[cap]; false if one has no value */
static bool expand(const struct cli_error *e, const char *t, size_t tlen,
		   char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < tlen; i++) {
		const char *s = &t[i], *v = NULL, *end;
		size_t vl;
		if (*s == '{' && (end = memchr(s, '}', tlen - i)) != NULL) {
			v = param(e, s + 1, (size_t)(end - s - 1));
			if (v == NULL)
				return false;
			i += (size_t)(end - s);
		}
		vl = v ? strlen(v) : 1;
		if (o + vl >= cap)
			return false;
		memcpy(out + o, v ? v : s, vl);
		o += vl;
	}
	out[o] = '\0';
	return true;
}

static bool needs_met(const struct cli_error *e, const char *needs)
{
	while (needs && *needs) {
		size_t n = strcspn(needs, ",");
		if (param(e, needs, n) == NULL)
			return false;
		needs += n + (needs[n] == ',');
	}
	return true;
}

bool cli_error_render(const struct cli *cli, const struct cli_error *e,
		      char *sentence, size_t scap, char *hint, size_t hcap)
{
	hint[0] = '\0';
	for (size_t i = 0; e->reason && i < TF_ARRAY_SIZE(tmpls); i++) {
		const struct tmpl *t = &tmpls[i];
		const char *bar = strchr(t->text, '|');
		size_t sl = bar ? (size_t)(bar - t->text) : strlen(t->text);
		if (strcmp(t->reason, e->reason) != 0 ||
		    (t->verb && (!cli->verb || strcmp(t->verb, cli->verb))) ||
		    !needs_met(e, t->needs))
			continue;
		hint[0] = '\0'; /* a template that did not fit left some */
		if (!expand(e, t->text, sl, sentence, scap))
			continue;
		if (bar && !expand(e, bar + 1, strlen(bar + 1), hint, hcap))
			continue;
		return true;
	}
	snprintf(sentence, scap, "%s",
		 e->message ? e->message
		 : e->err   ? strerror(-e->err)
			    : "failed");
	return false;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* a parameter that is a plain count prints as a JSON number */
static bool is_count(const char *v)
{
	size_t n = strspn(v, "0123456789");

	return n > 0 && n < 10 && v[n] == '\0' && (v[0] != '0' || n == 1);
}

void cli_error_print(const struct cli *cli, const struct cli_error *e)
{
	char sentence[1024], hint[512], line[1600];
	const char *reason = e->reason;

	cli_error_render(cli, e, sentence, sizeof(sentence), hint,
			 sizeof(hint));
	snprintf(line, sizeof(line), "%s%s%s", sentence, hint[0] ? "; " : "",
		 hint);
	if (reason == NULL) /* an older twofoldd: no reason on the wire */
		reason = e->err ? "errno.unknown" : TF_R_CLI_FAILED;
	if (!cli->json) {
		fprintf(stderr, "twofold: %s%s%s\n", cli->verb ? cli->verb : "",
			cli->verb ? ": " : "", line);
		return;
	}
	fputs("{\"error\": {\"reason\": ", stdout);
	json_str(stdout, reason);
	/* the whole line, as a person reads it; the hint also on its own */
	fputs(", \"message\": ", stdout);
	json_str(stdout, line);
	if (hint[0]) {
		fputs(", \"hint\": ", stdout);
		json_str(stdout, hint);
	}
	printf(", \"errno\": %d", e->err < 0 ? -e->err : e->err);
	if (cli->verb) {
		fputs(", \"verb\": ", stdout);
		json_str(stdout, cli->verb);
	}
	for (size_t i = 0; i < e->n_params; i++) {
		const char *k = e->keys[i];
		/* the object's own members are not parameters */
		if (!strcmp(k, "reason") || !strcmp(k, "message") ||
		    !strcmp(k, "hint") || !strcmp(k, "errno") ||
		    !strcmp(k, "verb"))
			continue;
		fputs(", ", stdout);
		json_str(stdout, k);
		fputs(": ", stdout);
		if (is_count(e->vals[i]))
			fputs(e->vals[i], stdout);
		else
			json_str(stdout, e->vals[i]);
	}
	fputs("}}\n", stdout);
	fflush(stdout);
}

void cli_reply_error(const struct cli *cli, const struct cli_reply *rep)
{
	struct cli_error e;

	cli_error_from_reply(&e, rep);
	cli_error_print(cli, &e);
}

void cli_fail(const struct cli *cli, int err, const char *reason,
	      const char *fmt, ...)
{
	struct cli_error e;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error_init(&e, err, reason, msg);
	cli_error_print(cli, &e);
}
