/* SPDX-License-Identifier: ISC */
/* twofold-relay's NATS options before the sandbox (natsauth.c): the
 * user:password and .creds parsers, and relay_nats_load's refusals (a
 * secret file others can read, a key without its certificate, a
 * password without TLS, TLS without a CA), and that TLS points
 * OpenSSL's default trust store nowhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "natsauth.h"
#include "relay.h"

/* natsauth.c's callbacks enter through nats.c's guard */
bool relay_nats_cb_enter(void)
{
	return true;
}

void relay_nats_cb_leave(void)
{
}

static char dir[64];

static const char *put(const char *name, const char *text, mode_t mode)
{
	static char path[8][128];
	static unsigned n;
	char *p = path[n++ % 8];
	FILE *f;

	snprintf(p, 128, "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

static int load(struct relay_nats_cfg *c, struct relay_nats_auth **a, char *why)
{
	return relay_nats_load(c, a, why, 256);
}

static void test_userpass(void **state)
{
	const char *u, *p;
	char ok[] = "relay:pa:ss\n", crlf[] = "relay:pw\r\n";
	char bad1[] = ":pw", bad2[] = "relay:", bad3[] = "relay",
	     bad4[] = "re\nlay:pw\n", bad5[] = "relay:p\"w";

	(void)state;
	assert_int_equal(relay_nats_parse_userpass(ok, strlen(ok), &u, &p), 0);
	assert_string_equal(u, "relay");
	assert_string_equal(p, "pa:ss"); /* the first colon splits */
	assert_int_equal(relay_nats_parse_userpass(crlf, strlen(crlf), &u, &p),
			 0);
	assert_string_equal(p, "pw");
	assert_int_equal(relay_nats_parse_userpass(bad1, 3, &u, &p), -EINVAL);
	assert_int_equal(relay_nats_parse_userpass(bad2, 6, &u, &p), -EINVAL);
	assert_int_equal(relay_nats_parse_userpass(bad3, 5, &u, &p), -EINVAL);
	assert_int_equal(relay_nats_parse_userpass(bad4, strlen(bad4), &u, &p),
			 -EINVAL); /* two lines */
	assert_int_equal(relay_nats_parse_userpass(bad5, strlen(bad5), &u, &p),
			 -EINVAL); /* would end CONNECT's JSON string */
}

#define JWT "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVQUJDIn0.c2ln-_"
#define SEED "SUAGMJH5XLGZKQQWAWKRZJIGMOU4HPFUYLXJMXOO5NLFEO2OOQJ5LPRDPM"

static void test_creds(void **state)
{
	const char *j, *s;
	char ok[] = "-----BEGIN NATS USER JWT-----\n" JWT
		    "\n------END NATS USER JWT------\n\n"
		    "*** IMPORTANT ***\n\n"
		    "-----BEGIN USER NKEY SEED-----\n" SEED
		    "\n------END USER NKEY SEED------\n";
	char noseed[] = "-----BEGIN NATS USER JWT-----\n" JWT "\n";
	char quote[] = "-----BEGIN NATS USER JWT-----\n" JWT "\"x\n"
		       "-----BEGIN USER NKEY SEED-----\n" SEED "\n";
	char account[] = "-----BEGIN NATS USER JWT-----\n" JWT "\n"
			 "-----BEGIN USER NKEY SEED-----\nSA" SEED "\n";

	(void)state;
	assert_int_equal(relay_nats_parse_creds(ok, strlen(ok), &j, &s), 0);
	assert_string_equal(j, JWT);
	assert_string_equal(s, SEED);
	assert_int_equal(relay_nats_parse_creds(noseed, strlen(noseed), &j, &s),
			 -EINVAL);
	assert_int_equal(relay_nats_parse_creds(quote, strlen(quote), &j, &s),
			 -EINVAL);
	assert_int_equal(
		relay_nats_parse_creds(account, strlen(account), &j, &s),
		-EINVAL); /* not a user's seed (SU...) */
}

static void test_load_refusals(void **state)
{
	struct relay_nats_auth *a = NULL;
	char why[256];
	const char *pem = put("ca.pem",
			      "-----BEGIN CERTIFICATE-----\nMIIB\n"
			      "-----END CERTIFICATE-----\n",
			      0644);
	const char *pw = put("pw", "relay:secret-pw\n", 0600);
	const char *wpw = put("wpw", "relay:secret-pw\n", 0644);
	const char *gpw = put("gpw", "relay:secret-pw\n", 0640);
	const char *key = put("key.pem",
			      "-----BEGIN PRIVATE KEY-----\nMIIB\n"
			      "-----END PRIVATE KEY-----\n",
			      0600);
	struct relay_nats_cfg c;

	(void)state;
	/* options without --nats */
	c = (struct relay_nats_cfg){.ca = pem};
	assert_int_equal(load(&c, &a, why), -EINVAL);
	assert_non_null(strstr(why, "need --nats"));
	/* nothing asked: no auth */
	c = (struct relay_nats_cfg){.urls = "nats://127.0.0.1:4222"};
	assert_int_equal(load(&c, &a, why), 0);
	assert_null(a);
	/* credentials in a URL: refused, and not echoed */
	c = (struct relay_nats_cfg){.urls = "tls://relay:secret-pw@a:1"};
	assert_int_equal(load(&c, &a, why), -EINVAL);
	assert_non_null(strstr(why, "--nats-user-file"));
	assert_null(strstr(why, "secret-pw"));
	/* tls:// turns TLS on, and TLS needs a CA */
	c = (struct relay_nats_cfg){.urls = "nats://a:1,tls://b:2"};
	assert_int_equal(load(&c, &a, why), -EINVAL);
	assert_non_null(strstr(why, "needs --nats-ca"));
	/* a password without TLS */
	c = (struct relay_nats_cfg){.urls = "nats://a:1", .user_file = pw};
	assert_int_equal(load(&c, &a, why), -EINVAL);
	assert_non_null(strstr(why, "in clear"));
	/* a key without its certificate */
	c = (struct relay_nats_cfg){.urls = "tls://a:1", .ca = pem, .key = key};
	assert_int_equal(load(&c, &a, why), -EINVAL);
	assert_non_null(strstr(why, "go together"));
	/* secret files others (or the group) can read */
	c = (struct relay_nats_cfg){
		.urls = "tls://a:1", .ca = pem, .user_file = wpw};
	assert_int_equal(load(&c, &a, why), -EACCES);
	assert_non_null(strstr(why, "mode 0644"));
	assert_null(strstr(why, "secret-pw"));
	c.user_file = gpw;
	assert_int_equal(load(&c, &a, why), -EACCES);
	/* both credentials */
	c = (struct relay_nats_cfg){
		.urls = "tls://a:1", .ca = pem, .user_file = pw, .creds = pw};
	assert_int_equal(load(&c, &a, why), -EINVAL);
	/* a key encrypted with a passphrase */
	c = (struct relay_nats_cfg){
		.urls = "tls://a:1",
		.ca = pem,
		.cert = pem,
		.key = put("enc.pem",
			   "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
			   "-----END ENCRYPTED PRIVATE KEY-----\n",
			   0600)};
	assert_int_equal(load(&c, &a, why), -EINVAL);
	assert_non_null(strstr(why, "passphrase"));
	/* a CA that is no PEM */
	c = (struct relay_nats_cfg){.urls = "tls://a:1", .ca = pw};
	assert_int_equal(load(&c, &a, why), -EINVAL);
	assert_non_null(strstr(why, "not a PEM"));
}

static void test_load_ok(void **state)
{
	struct relay_nats_auth *a = NULL;
	char why[256];
	const char *pem = put("ca2.pem",
			      "-----BEGIN CERTIFICATE-----\nMIIB\n"
			      "-----END CERTIFICATE-----\n",
			      0644);
	const char *pw = put("pw2", "relay:secret-pw\n", 0600);
	struct relay_nats_cfg c = {
		.urls = "nats://a:1", .ca = pem, .user_file = pw};

	(void)state;
	unsetenv("SSL_CERT_FILE");
	assert_int_equal(load(&c, &a, why), 0);
	assert_non_null(a);
	assert_true(a->tls); /* --nats-ca turns it on */
	assert_string_equal(a->user, "relay");
	assert_string_equal(a->pass, "secret-pw");
	assert_non_null(strstr(a->ca, "BEGIN CERTIFICATE"));
	/* only --nats-ca is trusted: OpenSSL's defaults point nowhere */
	assert_non_null(getenv("SSL_CERT_FILE"));
	assert_int_equal(access(getenv("SSL_CERT_FILE"), F_OK), -1);
	assert_int_equal(access(getenv("SSL_CERT_DIR"), F_OK), -1);
	relay_nats_auth_free(a);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tf_natsauth.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_userpass),
		cmocka_unit_test(test_creds),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_load_ok),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
