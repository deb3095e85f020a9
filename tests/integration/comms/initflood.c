/* SPDX-License-Identifier: ISC */
/*
 * initflood: a flood of spoofed-source INITs at a relay, for
 * tests/integration/comms/test_cookie.sh and bench. Test tool only.
 *
 *   initflood RELAY.pub PORT COUNT [bad-mac1]
 *
 * One INIT (a fresh random device key, a certificate of garbage: what an
 * attacker who knows the relay's public key, which every device holds,
 * can make; its mac1 is valid unless bad-mac1) sent COUNT times to
 * 127.0.0.1:PORT, each from another source address in 127.1.0.0/16 (all
 * of 127/8 is local on lo: each bind is a different "spoofed" host, none
 * of which will ever answer a COOKIE). Prints "sent N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "twofold/cert.h"
#include "twofold/comms.h"
#include "twofold/crypto.h"
#include "twofold/wg.h"

static size_t slurp(const char *p, uint8_t *b, size_t cap)
{
	FILE *f = fopen(p, "rbe");
	size_t n;

	if (f == NULL) {
		perror(p);
		exit(2);
	}
	n = fread(b, 1, cap, f);
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	uint8_t pb[TF_PUBFILE_MAX], priv[32], pub[TF_WG_PUB_MAX];
	uint8_t cert[300], init[TF_COMMS_INIT_MAX];
	struct tf_comms_client *c = NULL;
	struct tf_pubfile rp;
	struct sockaddr_in to = {.sin_family = AF_INET};
	size_t pl, n;
	long count, sent = 0;
	int len;

	if (argc < 4) {
		fprintf(stderr,
			"usage: initflood RELAY.pub PORT COUNT [bad-mac1]\n");
		return 2;
	}
	count = atol(argv[3]);
	n = slurp(argv[1], pb, sizeof(pb));
	if (tf_crypto_init() < 0 || tf_pubfile_parse(pb, n, &rp) < 0 ||
	    rp.dh_pk_len == 0) {
		fprintf(stderr, "initflood: %s is not a public key\n", argv[1]);
		return 2;
	}
	if (tf_wg_keygen(rp.suite->id, priv, pub, &pl) < 0 ||
	    tf_random(cert, sizeof(cert)) < 0)
		return 1;
	len = tf_comms_client_start(rp.suite->id, priv, rp.dh_pk, cert,
				    sizeof(cert), 1, 0x666c6f6f, &c, init,
				    sizeof(init));
	if (len < 0) {
		fprintf(stderr, "initflood: cannot make an INIT: %s\n",
			strerror(-len));
		return 1;
	}
	if (argc > 4 && !strcmp(argv[4], "bad-mac1"))
		init[len - 2 * TF_COMMS_MAC_BYTES] ^= 1;
	to.sin_port = htons((uint16_t)atoi(argv[2]));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (long i = 0; i < count; i++) {
		struct sockaddr_in from = {.sin_family = AF_INET};
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return 1;
		from.sin_addr.s_addr =
			htonl(0x7f010000u | (uint32_t)((i % 65000) + 1));
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) == 0 &&
		    sendto(fd, init, (size_t)len, 0, (struct sockaddr *)&to,
			   sizeof(to)) == len)
			sent++;
		close(fd);
	}
	tf_comms_client_free(c);
	printf("sent %ld\n", sent);
	return sent == count ? 0 : 1;
}
