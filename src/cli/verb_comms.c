/* SPDX-License-Identifier: ISC */
/*
 * twofold comms (daemon/req_comms.c): provision twofold-comms in a
 * persona (its keys go into the persona's encrypted storage) and ask the
 * service running there for its status.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "twofold/secmem.h"
#include "cli.h"

/* keys and certificates are a few hundred bytes; four as hex fit in one
 * fragment (TF_FRAG_MAX), the most a secret message may be */
#define COMMS_FILE_MAX 2048
#define COMMS_REQ_CAP TF_FRAG_MAX

void help_comms(FILE *f)
{
	fprintf(f,
		"usage: twofold comms provision PERSONA --key F --cert F "
		"--ca F\n"
		"                 --relay ADDR:PORT --relay-pub F\n"
		"       twofold comms status PERSONA\n\n"
		"provision: put twofold-comms's device key, its certificate, "
		"the\n"
		"CA's key and the relay's key and address into the persona's\n"
		"encrypted storage (files 0600, its app uid's); a lock-down\n"
		"evicts them with the persona's key. Root only; the persona "
		"must\n"
		"be running (unlocked). With comms = yes (device.conf(5)) the\n"
		"daemon then runs the service in it, also while it is "
		"locked.\n"
		"status: the service's own status (officer, relay, outbox).\n");
}

/* F's bytes as "NAME=HEX" into b; the key's copy is wiped */
static int put_file(struct cli *cli, struct tf_msgbuf *b, const char *name,
		    const char *path)
{
	static const char hx[] = "0123456789abcdef";
	_cleanup_free_ char *buf = NULL;
	size_t len, n;
	char *s;
	int r;

	r = tf_read_file_at(AT_FDCWD, path, COMMS_FILE_MAX, &buf, &len);
	if (r < 0) {
		cli_fail(cli, r, "cli.failed", "cannot read %s: %s", path,
			 strerror(-r));
		return r;
	}
	n = strlen(name);
	s = tf_secure_alloc(n + 2 * len + 2);
	if (s == NULL) {
		tf_memzero(buf, len);
		cli_err(cli, "out of memory");
		return -ENOMEM;
	}
	memcpy(s, name, n);
	s[n] = '=';
	for (size_t i = 0; i < len; i++) {
		s[n + 1 + 2 * i] = hx[(uint8_t)buf[i] >> 4];
		s[n + 2 + 2 * i] = hx[(uint8_t)buf[i] & 15];
	}
	s[n + 1 + 2 * len] = '\0';
	tf_msgbuf_put_str(b, TF_A_ARG, s);
	tf_memzero(buf, len);
	tf_memzero(s, n + 2 * len + 2);
	tf_secure_free(s);
	return 0;
}

static int provision(struct cli *cli, int argc, char **argv)
{
	static const char *const opt[] = {"--key", "--cert", "--ca",
					  "--relay-pub"};
	static const char *const item[] = {"key", "cert", "ca", "relay-pub"};
	const char *file[4] = {0}, *relay = NULL;
	struct tf_msgbuf b;
	_cleanup_free_ char *ra = NULL;

	for (int i = 3; i < argc; i += 2) {
		size_t k;
		if (i + 1 >= argc)
			return cli_usage_err(
				cli, NULL,
				"comms provision PERSONA --key F "
				"--cert F --ca F --relay ADDR:PORT "
				"--relay-pub F");
		if (!strcmp(argv[i], "--relay")) {
			relay = argv[i + 1];
			continue;
		}
		for (k = 0; k < 4 && strcmp(argv[i], opt[k]); k++)
			;
		if (k == 4)
			return cli_usage_err(cli, NULL,
					     "comms provision: unknown option");
		file[k] = argv[i + 1];
	}
	for (size_t k = 0; k < 4; k++)
		if (file[k] == NULL)
			return cli_usage_err(cli, NULL,
					     "comms provision: --key, --cert, "
					     "--ca, --relay and --relay-pub "
					     "are all needed");
	if (relay == NULL)
		return cli_usage_err(cli, NULL,
				     "comms provision: --relay ADDR:PORT "
				     "missing");
	/* the device key travels in it: secure memory, wiped */
	tf_msgbuf_init_secret(&b, TF_REQ_COMMS, COMMS_REQ_CAP);
	tf_msgbuf_put_str(&b, TF_A_PERSONA, argv[2]);
	for (size_t k = 0; k < 4; k++)
		if (put_file(cli, &b, item[k], file[k]) < 0) {
			tf_msgbuf_free(&b);
			return EXIT_FAIL;
		}
	if (asprintf(&ra, "relay=%s", relay) < 0) {
		tf_msgbuf_free(&b);
		cli_err(cli, "out of memory");
		return EXIT_FAIL;
	}
	tf_msgbuf_put_str(&b, TF_A_ARG, ra);
	return cli_request_message(cli, &b);
}

int verb_comms(struct cli *cli, int argc, char **argv)
{
	struct tf_msgbuf b;

	if (argc >= 3 && !strcmp(argv[1], "provision"))
		return provision(cli, argc, argv);
	if (argc == 3 && !strcmp(argv[1], "status")) {
		tf_msgbuf_init(&b, TF_REQ_COMMS);
		tf_msgbuf_put_str(&b, TF_A_PERSONA, argv[2]);
		tf_msgbuf_put_u32(&b, TF_A_FLAGS, TF_F_COMMS_STATUS);
		return cli_request_print(cli, &b, NULL, 0);
	}
	return cli_usage_err(cli, NULL,
			     "comms provision PERSONA ... | comms status "
			     "PERSONA");
}
