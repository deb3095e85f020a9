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
 *   commsharness udp SUITE KEYFILE RELAY.pub CERT PORT
 *                                    a device talking to twofold-relay on
 *                                    127.0.0.1:PORT, driven by commands on
 *                                    stdin (see udp_client): echo, send,
 *                                    burst, fetch, ack, fwd, publish,
 *                                    bundle, devices, raw HEX, wait, ...
 * Exit 0 when its side of the exchange succeeded. Test code only.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twofold/atomicfile.h"
#include "twofold/comms.h"
#include "twofold/e2e.h"
#include "twofold/wg.h"
#include "wire.h" /* comms_parse_error */

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

	if (name[0] == '/')
		snprintf(path, sizeof(path), "%s", name);
	else
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
	uint8_t priv[32], rpub[TF_PK_MAX], pk[TF_PK_MAX], msg[4096], out[4096],
		pt[2048];
	struct tf_cert_anchor a;
	struct tf_comms_relay rl = {.suite = S->id,
				    .priv = priv,
				    .pub = rpub,
				    .ca = &a,
				    .roles = TF_ROLES_CLIENT};
	struct tf_comms_peer peer;
	struct tf_comms_session *s = NULL;
	size_t n;
	int r;

	get("relay.priv", priv, 32);
	get("relay.pub", rpub, sizeof(rpub));
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

/* ---- udp: a device against twofold-relay ---- */

static int usock = -1;
static int rsock = -1; /* the replayer's socket (replay-init) */
static struct sockaddr_in relay_addr;
static struct tf_comms_session *us;

static void udp_open(void)
{
	if (usock >= 0)
		close(usock);
	usock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (usock < 0)
		die("socket", -errno);
}

static void udp_send_raw(const uint8_t *p, size_t n)
{
	if (sendto(usock, p, n, 0, (struct sockaddr *)&relay_addr,
		   sizeof(relay_addr)) < 0)
		die("sendto", -errno);
}

/* Wait (at most 5 s: a relay that answers nothing is the failure we
 * report) for one datagram. */
static size_t udp_recv_raw(uint8_t *out, size_t cap)
{
	struct pollfd p = {.fd = usock, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 5000) != 1) {
		printf("timeout\n");
		fflush(stdout);
		exit(3);
	}
	n = recv(usock, out, cap, 0);
	if (n < 0)
		die("recv", -errno);
	return (size_t)n;
}

static void udp_req(const uint8_t *pt, size_t n)
{
	uint8_t out[4096];
	int m = tf_comms_encrypt(us, pt, n, out, sizeof(out));

	if (m < 0)
		die("encrypt", m);
	udp_send_raw(out, (size_t)m);
}

static void hexs(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* Receive and print one reply; returns its op. */
static int udp_reply(void)
{
	uint8_t msg[4096], pt[2048];
	size_t n = udp_recv_raw(msg, sizeof(msg)), nl;
	int m = tf_comms_decrypt(us, msg, n, pt, sizeof(pt));

	if (m < 1)
		die("decrypt reply", m < 0 ? m : -EBADMSG);
	switch (pt[0]) {
	case 0x01: printf("echo %.*s\n", m - 1, pt + 1); break;
	case 0x03:
		printf("stored ");
		hexs(pt + 1, 16);
		printf(" %u\n", pt[17]);
		break;
	case 0x04:
	case 0x11:
		nl = pt[1];
		printf("%s %.*s ", pt[0] == 0x04 ? "msg" : "from", (int)nl,
		       pt + 2);
		if (pt[0] == 0x04) {
			hexs(pt + 2 + nl, 16);
			printf(" %.*s\n", (int)(m - 2 - (int)nl - 16),
			       pt + 2 + nl + 16);
		} else {
			printf("%.*s\n", (int)(m - 2 - (int)nl), pt + 2 + nl);
		}
		break;
	case 0x09: {
		struct tf_e2e_bundle eb;

		nl = pt[1];
		if (tf_e2e_bundle_parse(pt + 2 + nl, (size_t)m - 2 - nl, &eb))
			die("bundle", -EBADMSG);
		printf("bundle %.*s opks=%zu\n", (int)nl, pt + 2, eb.opk_count);
		break;
	}
	case 0x0b: { /* DEVICES u8 n | officer | u8 count | (u8 n | id)... */
		size_t off;

		nl = pt[1];
		if ((size_t)m < 3 + nl)
			die("devices", -EBADMSG);
		printf("devices %.*s %u", (int)nl, pt + 2, pt[2 + nl]);
		off = 3 + nl;
		for (unsigned i = 0; i < pt[2 + nl]; i++) {
			if (off >= (size_t)m || off + 1 + pt[off] > (size_t)m)
				die("devices", -EBADMSG);
			printf(" %.*s", pt[off], pt + off + 1);
			off += 1 + pt[off];
		}
		printf("\n");
		break;
	}
	case 0x7f: { /* twofold-comms' parser (wire.c): the request named */
		struct comms_error e;

		if (comms_parse_error(pt + 1, (size_t)m - 1, &e) < 0) {
			printf("error %u (malformed)\n", pt[1]);
			break;
		}
		printf("error %u %.*s", e.code, (int)e.textlen, e.text);
		if (e.op != 0)
			printf(" for 0x%02x %s", e.op, e.name);
		for (size_t i = 0; e.has_id && i < sizeof(e.id); i++)
			printf("%s%02x", i ? "" : " ", e.id[i]);
		printf("\n");
		break;
	}
	default: printf("reply 0x%02x\n", pt[0]);
	}
	fflush(stdout);
	return pt[0];
}

static size_t unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			die("bad hex", -EINVAL);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* echo marker: everything the relay sent before it has arrived (one
 * socket, one loop, loopback keeps order) */
static void udp_sync(void)
{
	static const uint8_t e[] = "\x01sync";

	udp_req(e, sizeof(e) - 1);
	while (udp_reply() != 0x01)
		;
}

static void udp_client(int argc, char **argv)
{
	uint8_t kb[TF_PRIVFILE_BYTES], pb[TF_PUBFILE_MAX], cert[TF_CERT_MAX];
	uint8_t out[4096], msg[4096], b[2048], init[TF_COMMS_INIT_MAX];
	size_t initlen = 0;
	struct tf_privfile pf = {0};
	struct tf_pubfile pub;
	struct tf_comms_client *c = NULL;
	struct timespec ts;
	char line[1024];
	size_t kl, pl, cl, n;
	int r;

	if (argc != 7)
		exit(2);
	D = ".";
	kl = get(argv[3], kb, sizeof(kb));
	pl = get(argv[4], pb, sizeof(pb));
	cl = get(argv[5], cert, sizeof(cert));
	if (tf_privfile_parse(kb, kl, &pf) < 0 ||
	    tf_pubfile_parse(pb, pl, &pub) < 0 || pub.dh_pk_len == 0)
		die("key files", -EINVAL);
	relay_addr = (struct sockaddr_in){
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)atoi(argv[6]))};
	inet_pton(AF_INET, "127.0.0.1", &relay_addr.sin_addr);
	udp_open();
	clock_gettime(CLOCK_REALTIME, &ts);
	r = tf_comms_client_start(S->id, pf.secret + 32, pub.dh_pk, cert, cl,
				  (uint64_t)ts.tv_sec * 1000000000ull +
					  (uint64_t)ts.tv_nsec,
				  0x7e57c1e7, &c, out, sizeof(out));
	if (r < 0)
		die("start", r);
	udp_send_raw(out, (size_t)r);
	memcpy(init, out, (size_t)r);
	initlen = (size_t)r;
	n = udp_recv_raw(msg, sizeof(msg));
	r = tf_comms_client_finish(c, msg, n, &us);
	if (r < 0)
		die("handshake", r);
	/* a keepalive confirms the session (the relay routes to it only
	 * after the device's first DATA) */
	udp_req((const uint8_t *)"", 0);
	printf("connected\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char a[128], id[64], *text;
		unsigned burst;
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "echo ", 5)) {
			b[0] = 0x01;
			n = strlen(line + 5);
			memcpy(b + 1, line + 5, n);
			udp_req(b, n + 1);
			udp_reply();
		} else if (sscanf(line, "send %127s %32s", a, id) == 2) {
			text = strchr(strchr(line + 5, ' ') + 1, ' ');
			text = text ? text + 1 : (char *)"";
			b[0] = 0x02;
			b[1] = (uint8_t)strlen(a);
			memcpy(b + 2, a, b[1]);
			n = 2 + b[1];
			n += unhex(id, b + n, 16);
			memcpy(b + n, text, strlen(text));
			udp_req(b, n + strlen(text));
			udp_reply();
		} else if (sscanf(line, "burst %127s %u", a, &burst) == 2 &&
			   burst >= 2 && burst <= 64) {
			/* burst SENDs without waiting (the relay may be
			 * stopped: they queue in its socket), the last a
			 * copy of the first; then their answers */
			for (unsigned k = 0; k < burst; k++) {
				b[0] = 0x02;
				b[1] = (uint8_t)strlen(a);
				memcpy(b + 2, a, b[1]);
				n = 2 + b[1];
				memset(b + n, 0xb5, 16);
				b[n + 15] = (uint8_t)(k + 1 < burst ? k : 0);
				n += 16;
				n += (size_t)snprintf((char *)b + n, 32,
						      "burst %u", k);
				udp_req(b, n);
			}
			printf("burst sent\n");
			fflush(stdout);
			for (unsigned k = 0; k < burst;)
				k += udp_reply() == 0x03;
		} else if (!strcmp(line, "fetch")) {
			b[0] = 0x05;
			udp_req(b, 1);
			udp_sync();
		} else if (sscanf(line, "ack %127s %32s", a, id) == 2) {
			b[0] = 0x06;
			b[1] = (uint8_t)strlen(a);
			memcpy(b + 2, a, b[1]);
			n = 2 + b[1];
			n += unhex(id, b + n, 16);
			udp_req(b, n);
			udp_sync();
		} else if (sscanf(line, "fwd %127s", a) == 1) {
			text = strchr(line + 4, ' ');
			text = text ? text + 1 : (char *)"";
			b[0] = 0x10;
			b[1] = (uint8_t)strlen(a);
			memcpy(b + 2, a, b[1]);
			n = 2 + b[1];
			memcpy(b + n, text, strlen(text));
			udp_req(b, n + strlen(text));
			udp_sync();
		} else if (!strcmp(line, "publish") ||
			   sscanf(line, "publish-as %127s", a) == 1) {
			/* end-to-end prekeys: a signed prekey and two
			 * one-time prekeys, under our own certificate (or,
			 * publish-as, another officer's, which the relay
			 * must refuse) */
			struct tf_key *sk = NULL;
			struct tf_e2e_prekeys *pk = NULL;
			uint8_t other[TF_CERT_MAX];
			size_t ol = 0;

			if (line[7] == '-')
				ol = get(a, other, sizeof(other));

			if (tf_privfile_sign_key(&pf, &sk) < 0 ||
			    tf_e2e_prekeys_new(S->id, sk, 1, 2, 100, &pk) < 0)
				die("prekeys", -EINVAL);
			b[0] = 0x07;
			r = tf_e2e_prekeys_bundle(pk, ol ? other : cert,
						  ol ? ol : cl, b + 1,
						  sizeof(b) - 1);
			if (r < 0)
				die("bundle", r);
			udp_req(b, (size_t)r + 1);
			udp_reply();
			tf_e2e_prekeys_free(pk);
			tf_key_free(sk);
		} else if (sscanf(line, "bundle %127s", a) == 1) {
			b[0] = 0x08;
			b[1] = (uint8_t)strlen(a);
			memcpy(b + 2, a, b[1]);
			udp_req(b, 2 + (size_t)b[1]);
			udp_reply();
		} else if (sscanf(line, "devices %127s", a) == 1) {
			b[0] = 0x0a;
			b[1] = (uint8_t)strlen(a);
			memcpy(b + 2, a, b[1]);
			udp_req(b, 2 + (size_t)b[1]);
			udp_reply();
		} else if (!strncmp(line, "raw ", 4)) {
			/* any request, in hex (malformed ones too) */
			n = strlen(line + 4) / 2;
			if (n == 0 || n > sizeof(b))
				die("raw", -EINVAL);
			udp_req(b, unhex(line + 4, b, n));
			udp_reply();
		} else if (!strcmp(line, "wait")) {
			udp_reply();
		} else if (!strcmp(line, "replay-init") ||
			   sscanf(line, "replay-init-at %u", &burst) == 1) {
			/* what an eavesdropper recorded, sent again from
			 * elsewhere (replay-init-at: to another relay, on
			 * PORT): the relay must refuse it, or at least give
			 * it nothing, and keep our session */
			int keep = usock;
			struct sockaddr_in home = relay_addr;

			if (line[11] == '-')
				relay_addr.sin_port = htons((uint16_t)burst);
			usock = -1;
			udp_open();
			udp_send_raw(init, initlen);
			if (rsock >= 0)
				close(rsock);
			rsock = usock; /* replay-count reads it */
			usock = keep;
			relay_addr = home;
			printf("replayed\n");
			fflush(stdout);
		} else if (!strcmp(line, "replay-count") && rsock >= 0) {
			/* what came to the replayer's address in 1 s: the
			 * RESP (nobody can use it) and, if the relay routed
			 * to that session, more */
			struct pollfd p = {.fd = rsock, .events = POLLIN};
			unsigned got = 0;

			while (poll(&p, 1, 1000) == 1 &&
			       recv(rsock, msg, sizeof(msg), 0) >= 0)
				got++;
			printf("replay got %u\n", got);
			fflush(stdout);
		} else if (!strcmp(line, "rebind")) {
			udp_open(); /* a new source port: "changed networks" */
			printf("rebound\n");
			fflush(stdout);
		} else {
			die("unknown command", -EINVAL);
		}
	}
	tf_comms_session_free(us);
	tf_comms_client_free(c);
	tf_privfile_free(&pf);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "udp")) {
		if (argc < 3 || tf_crypto_init() < 0 ||
		    (S = tf_suite_by_name(argv[2])) == NULL)
			return 2;
		udp_client(argc, argv);
		return 0;
	}
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
