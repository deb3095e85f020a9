/* SPDX-License-Identifier: ISC */
/*
 * Test harness for the device <-> relay channel (src/lib/comms): one side
 * of it over stdin/stdout, one datagram per line in hex, so an
 * independent Noise implementation (test_noise_interop.py, with
 * python3-dissononce) can be the other side.
 *
 *   commsharness setup SUITE DIR    make a CA, a relay key, a device key
 *                                    and its officer certificate in DIR
 *   commsharness relay SUITE DIR    read INIT, write RESP, read DATA
 *                                    "X", write DATA "pong:X"
 *   commsharness device SUITE DIR   write INIT, read RESP, write DATA
 *                                    "ping", read DATA, expect "pong:ping"
 * Exit 0 when its side of the exchange succeeded. Test code only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twofold/atomicfile.h"
#include "twofold/comms.h"
#include "twofold/wg.h"

static const struct tf_suite *S;
static const char *D;

static void die(const char *what, int r)
{
	fprintf(stderr, "commsharness: %s: %d (%s)\n", what, r,
		r < 0 ? tf_cert_reason(r) : "");
	exit(1);
}

static void put(const char *name, const void *p, size_t n)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", D, name);
	if (tf_atomic_write(path, p, n, 0600) < 0)
		die(name, -EIO);
}

static size_t get(const char *name, uint8_t *out, size_t cap)
{
	char path[512], *buf = NULL;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", D, name);
	if (tf_read_file_at(AT_FDCWD, path, cap, &buf, &n) < 0)
		die(name, -ENOENT);
	memcpy(out, buf, n);
	free(buf);
	return n;
}

static void send_line(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
	fflush(stdout);
}

static size_t recv_line(uint8_t *out, size_t cap)
{
	char line[8192];
	size_t n = 0;

	if (!fgets(line, sizeof(line), stdin))
		die("stdin closed", -EPIPE);
	for (char *p = line; p[0] && p[1] && p[0] != '\n'; p += 2) {
		unsigned v;
		if (n == cap || sscanf(p, "%2x", &v) != 1)
			die("bad hex line", -EINVAL);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void setup(void)
{
	uint8_t seed[32], pk[TF_PK_MAX], priv[32], pub[TF_WG_PUB_MAX];
	uint8_t cert[TF_CERT_MAX];
	struct tf_key *ca = NULL;
	struct tf_cert c = {0};
	size_t pl;
	int n;

	if (tf_random(seed, sizeof(seed)) < 0 ||
	    tf_key_sign_from_seed(S, seed, &ca) < 0 ||
	    tf_key_public(ca, pk, sizeof(pk)) < 0)
		die("ca", -EIO);
	put("ca.pk", pk, S->pk_bytes);
	if (tf_wg_keygen(S->id, priv, pub, &pl) < 0)
		die("relay key", -EIO);
	put("relay.priv", priv, 32);
	put("relay.pub", pub, pl);
	if (tf_wg_keygen(S->id, priv, pub, &pl) < 0)
		die("device key", -EIO);
	put("dev.priv", priv, 32);
	put("dev.pub", pub, pl);
	c.suite = S->id;
	c.role = TF_ROLE_OFFICER;
	c.serial = 1;
	c.not_before = (uint64_t)time(NULL) - 60;
	c.not_after = c.not_before + 3600;
	strcpy(c.officer, "interop-officer");
	strcpy(c.device, "interop-device");
	c.sign_pk_len = c.dh_pk_len = S->pk_bytes;
	memcpy(c.sign_pk, pk, S->pk_bytes); /* any valid key will do */
	memcpy(c.dh_pk, pub, pl);
	n = tf_cert_sign(&c, ca, cert, sizeof(cert));
	if (n < 0)
		die("cert", n);
	put("dev.cert", cert, (size_t)n);
	tf_key_free(ca);
}

static void relay(void)
{
	uint8_t priv[32], pk[TF_PK_MAX], msg[4096], out[4096], pt[2048];
	struct tf_cert_anchor a;
	struct tf_comms_relay rl = {.suite = S->id,
				    .priv = priv,
				    .ca = &a,
				    .roles = TF_ROLES_CLIENT};
	struct tf_comms_peer peer;
	struct tf_comms_session *s = NULL;
	size_t n;
	int r;

	get("relay.priv", priv, 32);
	n = get("ca.pk", pk, sizeof(pk));
	if (tf_cert_anchor_init(&a, S, pk, n) < 0)
		die("anchor", -EINVAL);
	n = recv_line(msg, sizeof(msg));
	r = tf_comms_relay_accept(&rl, msg, n, (uint64_t)time(NULL), 0x0badcafe,
				  &peer, out, sizeof(out), &s);
	if (r < 0)
		die("relay accept", r);
	fprintf(stderr, "commsharness: relay: accepted %s\n",
		peer.cert.officer);
	send_line(out, (size_t)r);
	n = recv_line(msg, sizeof(msg));
	r = tf_comms_decrypt(s, msg, n, pt + 5, sizeof(pt) - 5);
	if (r < 0)
		die("relay decrypt", r);
	memcpy(pt, "pong:", 5);
	r = tf_comms_encrypt(s, pt, (size_t)r + 5, out, sizeof(out));
	if (r < 0)
		die("relay encrypt", r);
	send_line(out, (size_t)r);
	tf_comms_session_free(s);
}

static void device(void)
{
	uint8_t priv[32], rpub[TF_WG_PUB_MAX], cert[TF_CERT_MAX], msg[4096],
		out[4096], pt[2048];
	struct tf_comms_client *c = NULL;
	struct tf_comms_session *s = NULL;
	struct timespec ts;
	size_t n, cl;
	int r;

	get("dev.priv", priv, 32);
	get("relay.pub", rpub, sizeof(rpub));
	cl = get("dev.cert", cert, sizeof(cert));
	clock_gettime(CLOCK_REALTIME, &ts);
	r = tf_comms_client_start(S->id, priv, rpub, cert, cl,
				  (uint64_t)ts.tv_sec * 1000000000ull +
					  (uint64_t)ts.tv_nsec,
				  0x12345678, &c, out, sizeof(out));
	if (r < 0)
		die("device start", r);
	send_line(out, (size_t)r);
	n = recv_line(msg, sizeof(msg));
	r = tf_comms_client_finish(c, msg, n, &s);
	if (r < 0)
		die("device finish", r);
	r = tf_comms_encrypt(s, (const uint8_t *)"ping", 4, out, sizeof(out));
	if (r < 0)
		die("device encrypt", r);
	send_line(out, (size_t)r);
	n = recv_line(msg, sizeof(msg));
	r = tf_comms_decrypt(s, msg, n, pt, sizeof(pt));
	if (r != 9 || memcmp(pt, "pong:ping", 9) != 0)
		die("device: wrong answer", r < 0 ? r : -EBADMSG);
	fprintf(stderr, "commsharness: device: got pong:ping\n");
	tf_comms_session_free(s);
	tf_comms_client_free(c);
}

int main(int argc, char **argv)
{
	if (argc != 4 || tf_crypto_init() < 0)
		return 2;
	S = tf_suite_by_name(argv[2]);
	D = argv[3];
	if (S == NULL)
		return 2;
	if (!strcmp(argv[1], "setup"))
		setup();
	else if (!strcmp(argv[1], "relay"))
		relay();
	else if (!strcmp(argv[1], "device"))
		device();
	else
		return 2;
	return 0;
}
