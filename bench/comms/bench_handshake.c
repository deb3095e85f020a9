/* SPDX-License-Identifier: ISC */
/*
 * Handshake CPU cost of the device <-> relay channel (src/lib/comms), one
 * suite per run, in process (no sockets): the relay's side
 * (tf_comms_relay_accept: Noise IK message 1 with two DH, the
 * certificate's signature check, message 2 with two more DH) and the
 * device's (start + finish), in microseconds per handshake. Then the
 * "INIT flood" line: what one flood INIT costs the relay under load
 * (mac1 check, mac2 refused, a COOKIE written: docs/comms-protocol.md
 * "Cookies") against the handshake it would otherwise start.
 *
 *   bench_handshake SUITE CA.pub RELAY.key DEVICE.key DEVICE.cert N
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "twofold/comms.h"

int main(int argc, char **argv)
{
	uint8_t cab[TF_PUBFILE_MAX], rk[TF_PRIVFILE_BYTES],
		dk[TF_PRIVFILE_BYTES];
	uint8_t cert[TF_CERT_MAX], init[TF_COMMS_INIT_MAX],
		resp[TF_COMMS_RESP_MAX];
	struct tf_pubfile ca;
	struct tf_privfile rpf = {0}, dpf = {0};
	struct tf_cert_anchor anchor;
	struct tf_comms_relay cfg;
	uint8_t relay_pub[TF_NOISE_DH_MAX];
	size_t cl, n;
	double t_dev = 0, t_relay = 0, t;
	long iters;

	if (argc != 7 || tf_crypto_init() < 0)
		return 2;
	n = slurp(argv[2], cab, sizeof(cab));
	if (tf_pubfile_parse(cab, n, &ca) < 0 ||
	    tf_cert_anchor_init(&anchor, ca.suite, ca.sign_pk, ca.sign_pk_len) <
		    0)
		return 1;
	n = slurp(argv[3], rk, sizeof(rk));
	if (tf_privfile_parse(rk, n, &rpf) < 0)
		return 1;
	n = slurp(argv[4], dk, sizeof(dk));
	if (tf_privfile_parse(dk, n, &dpf) < 0)
		return 1;
	cl = slurp(argv[5], cert, sizeof(cert));
	iters = atol(argv[6]);
	{
		/* the relay's public key: its .pub file next to the key */
		char path[4096];
		uint8_t pb[TF_PUBFILE_MAX];
		struct tf_pubfile rp;
		snprintf(path, sizeof(path), "%s.pub", argv[3]);
		n = slurp(path, pb, sizeof(pb));
		if (tf_pubfile_parse(pb, n, &rp) < 0 || rp.dh_pk_len == 0)
			return 1;
		memcpy(relay_pub, rp.dh_pk, rp.dh_pk_len);
	}
	cfg = (struct tf_comms_relay){.suite = ca.suite->id,
				      .priv = rpf.secret + TF_KEY_BYTES,
				      .pub = relay_pub,
				      .ca = &anchor,
				      .roles = TF_ROLES_CLIENT};
	for (long i = 0; i < iters; i++) {
		struct tf_comms_client *c = NULL;
		struct tf_comms_session *ds = NULL, *rs = NULL;
		struct tf_comms_peer peer;
		int a, b;

		t = now_s();
		a = tf_comms_client_start(
			ca.suite->id, dpf.secret + 32, relay_pub, cert, cl,
			1000 + (uint64_t)i, 1, &c, init, sizeof(init));
		t_dev += now_s() - t;
		if (a < 0) {
			fprintf(stderr, "start: %d\n", a);
			return 1;
		}
		t = now_s();
		b = tf_comms_relay_accept(&cfg, init, (size_t)a,
					  (uint64_t)time(NULL), 2, &peer, resp,
					  sizeof(resp), &rs);
		t_relay += now_s() - t;
		if (b < 0) {
			fprintf(stderr, "accept: %d\n", b);
			return 1;
		}
		t = now_s();
		a = tf_comms_client_finish(c, resp, (size_t)b, &ds);
		t_dev += now_s() - t;
		if (a < 0) {
			fprintf(stderr, "finish: %d\n", a);
			return 1;
		}
		tf_comms_client_free(c);
		tf_comms_session_free(ds);
		tf_comms_session_free(rs);
	}
	printf("%s: relay %.1f us/handshake (%.0f/s on one core), device "
	       "%.1f us\n",
	       ca.suite->name, t_relay * 1e6 / (double)iters,
	       (double)iters / t_relay, t_dev * 1e6 / (double)iters);
	{
		/* the last INIT, replayed as a flood from one address: the
		 * relay under load answers each with a COOKIE, no DH */
		static const uint8_t secret[TF_COMMS_COOKIE_SECRET_BYTES] = {1},
				     src[6] = {0x1f, 0x90, 127, 1, 0, 1};
		struct tf_comms_client *c = NULL;
		uint8_t ck[TF_COMMS_COOKIE_MAX];
		long flood = iters * 20;
		double t_ck;
		int a = tf_comms_client_start(ca.suite->id, dpf.secret + 32,
					      relay_pub, cert, cl, 1, 1, &c,
					      init, sizeof(init));

		if (a < 0)
			return 1;
		t = now_s();
		for (long i = 0; i < flood; i++)
			if (tf_comms_relay_check(&cfg, init, (size_t)a, secret,
						 src, sizeof(src)) != -EAGAIN ||
			    tf_comms_relay_cookie(&cfg, init, (size_t)a, secret,
						  src, sizeof(src), ck,
						  sizeof(ck)) <= 0)
				return 1;
		t_ck = (now_s() - t) / (double)flood;
		tf_comms_client_free(c);
		printf("%s: INIT flood under load: %.2f us per INIT (mac1 + "
		       "COOKIE, %.0f/s on one core) vs %.1f us with the DH; "
		       "%.0fx cheaper\n",
		       ca.suite->name, t_ck * 1e6, 1 / t_ck,
		       t_relay * 1e6 / (double)iters,
		       t_relay / (double)iters / t_ck);
	}
	tf_privfile_free(&rpf);
	tf_privfile_free(&dpf);
	return 0;
}
