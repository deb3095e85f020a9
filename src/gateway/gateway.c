/* SPDX-License-Identifier: ISC */
/*
 * twofold-gateway: the organisation's end of the devices' tunnels (issue
 * 12). Many devices, both suites on one UDP port (their message types are
 * disjoint), its own TUN in its own network namespace; the data path is
 * the device's engine (src/lib/tunnel/engine.c) with a peer per device.
 *
 *   twofold-gateway --config FILE [--foreground] [-v]
 *   twofold-gateway keygen --suite intl|gm --out PRIVFILE
 *   twofold-gateway pubkey PRIVFILE
 *
 * A device's packets are accepted only in its registered suite and only
 * from its registered inner addresses (both directions: packets to an
 * address no device has are dropped). SIGHUP re-reads the device list;
 * SIGTERM/SIGINT exit after wiping the keys.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <sodium.h>

#include "../lib/tunnel/engine.h"
#include "../lib/tunnel/pkt.h"
#include "gwconf.h"
#include "twofold/crypto.h"
#include "twofold/log.h"
#include "twofold/net.h"
#include "twofold/secmem.h"

struct gw {
	struct tf_gw_conf conf;
	struct tf_eng e;
	struct tf_gw_device *devs;
	size_t n_devs;
	uint64_t logged_bad_source[TF_ENG_MAX_PEERS];
};

static int read_small_file(const char *path, char **out, size_t *len,
			   bool secret)
{
	_cleanup_close_ int fd =
		open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		return tf_negerrno();
	if (fstat(fd, &st) < 0)
		return tf_negerrno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (secret && (st.st_mode & 077))
		return -EACCES;
	if (st.st_size > TF_GW_FILE_MAX)
		return -EFBIG;
	size_t n = (size_t)st.st_size;
	char *b = secret ? tf_secure_alloc(n + 1) : malloc(n + 1);
	if (!b)
		return -ENOMEM;
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, b + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	b[got] = 0;
	*out = b;
	*len = got;
	return 0;
}

/* A private key file: standard base64 of 32 bytes, mode 0600. */
static int load_key(const char *path, uint8_t key[static 32])
{
	char *text = NULL;
	size_t len = 0, got = 0;
	int r = read_small_file(path, &text, &len, true);
	if (r < 0)
		return r;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	if (sodium_base642bin(key, 32, text, len, NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != 32)
		r = -EINVAL;
	tf_secure_free(text);
	return r;
}

static const char *key_err(int r)
{
	switch (r) {
	case -EACCES: return "readable by group or others (chmod 600 it)";
	case -EINVAL: return "not 32 bytes of standard base64";
	default: return strerror(-r);
	}
}

/* ---- TUN addresses and routes (twofold/net.h, in our own namespace) ---- */

static struct tf_cidr to_cidr(const struct tf_gw_prefix *p)
{
	struct tf_cidr c = {.family = p->family, .len = p->len};
	memcpy(&c.addr, p->addr, p->family == AF_INET ? 4 : 16);
	return c;
}

static bool in_prefix(const struct tf_gw_prefix *p, const uint8_t *a, int fam)
{
	if (p->family != fam)
		return false;
	size_t full = p->len / 8, rest = p->len % 8;
	if (memcmp(p->addr, a, full))
		return false;
	return !rest || !((p->addr[full] ^ a[full]) & (0xff << (8 - rest)));
}

static bool in_own_prefixes(const struct tf_gw_conf *c,
			    const struct tf_gw_prefix *a)
{
	for (size_t i = 0; i < c->n_address; i++)
		if (in_prefix(&c->address[i], a->addr, a->family))
			return true;
	return false;
}

/* ---- devices ---- */

static void on_state(struct tf_eng *e, struct tf_eng_peer *p, void *ctx)
{
	tf_info("device %s (%s): %s%s%s", p->name,
		p->suite == TF_SUITE_GM ? "gm" : "intl",
		tf_eng_state_name(p->state), p->reason[0] ? ": " : "",
		p->reason);
}

static void on_refuse(struct tf_eng *e, struct tf_eng_peer *p, const char *why,
		      void *ctx)
{
	if (!p)
		tf_warn("%s", why);
}

static int devices_load(struct gw *g, struct tf_gw_device *devs, size_t *n)
{
	char *text = NULL, err[256];
	size_t len = 0;
	int r = read_small_file(g->conf.devices, &text, &len, false);
	if (r < 0) {
		tf_err("device list %s: %s", g->conf.devices, strerror(-r));
		return r;
	}
	r = tf_gw_devices_parse(text, len, devs, TF_GW_MAX_DEVICES, n, err,
				sizeof(err));
	free(text);
	if (r < 0)
		tf_err("device list %s: %s", g->conf.devices, err);
	return r;
}

static bool dev_same(const struct tf_gw_device *a, const struct tf_gw_device *b)
{
	return !strcmp(a->name, b->name) && a->suite == b->suite &&
	       a->pub_len == b->pub_len && !memcmp(a->pub, b->pub, a->pub_len);
}

static void dev_to_prefixes(const struct tf_gw_device *d,
			    struct tf_eng_prefix *out)
{
	for (size_t i = 0; i < d->n_addr; i++) {
		out[i].family = d->addr[i].family;
		memcpy(out[i].addr, d->addr[i].addr, 16);
	}
}

/* Apply a new device list (write lock held): removed or re-keyed devices
 * lose their sessions at once; the others keep theirs. */
static void devices_apply(struct gw *g, struct tf_gw_device *nd, size_t nn)
{
	struct tf_eng *e = &g->e;

	for (uint32_t s = 0; s < e->n_slots; s++) {
		struct tf_eng_peer *p = &e->peers[s];
		if (!p->used)
			continue;
		size_t pl;
		const uint8_t *pk = tf_wg_peer_pub(p->wg, &pl);
		bool keep = false;
		for (size_t i = 0; i < nn && !keep; i++)
			if (!strcmp(nd[i].name, p->name) &&
			    nd[i].suite == p->suite && nd[i].pub_len == pl &&
			    !memcmp(nd[i].pub, pk, pl)) {
				keep = true;
				p->n_addr = nd[i].n_addr;
				dev_to_prefixes(&nd[i], p->addr);
			}
		if (!keep) {
			tf_info("device %s: removed from the device list",
				p->name);
			tf_eng_peer_remove(e, p);
		}
	}
	for (size_t i = 0; i < nn; i++) {
		bool have = false;
		for (size_t j = 0; j < g->n_devs && !have; j++)
			have = dev_same(&nd[i], &g->devs[j]);
		if (have)
			continue;
		struct tf_eng_prefix pf[TF_ENG_PEER_ADDRS];
		dev_to_prefixes(&nd[i], pf);
		int r = tf_eng_peer_add(e, nd[i].name, nd[i].suite, nd[i].pub,
					nd[i].pub_len, NULL, pf, nd[i].n_addr,
					NULL, 0);
		if (r < 0) {
			tf_err("device %s: %s", nd[i].name,
			       r == -EINVAL
				       ? "no key of its suite on this gateway, "
					 "or not a valid public key: ignored"
				       : strerror(-r));
			continue;
		}
		tf_info("device %s (%s): registered", nd[i].name,
			nd[i].suite == TF_SUITE_GM ? "gm" : "intl");
	}
	if (tf_eng_routes_rebuild(e) < 0)
		tf_err("out of memory rebuilding the route table");
	/* a device address outside the TUN's own prefixes needs a host
	 * route (replaced if it exists); removed devices' routes stay,
	 * harmless: the engine drops packets no device owns */
	for (size_t i = 0; i < nn; i++)
		for (size_t a = 0; a < nd[i].n_addr; a++)
			if (!in_own_prefixes(&g->conf, &nd[i].addr[a])) {
				struct tf_cidr dst = to_cidr(&nd[i].addr[a]);
				int r = tf_net_route_add(-1, g->conf.tun, &dst,
							 NULL);
				if (r < 0)
					tf_warn("device %s: cannot route its "
						"address: %s",
						nd[i].name, strerror(-r));
			}
	free(g->devs);
	g->devs = nd;
	g->n_devs = nn;
}

static void devices_reload(struct gw *g)
{
	struct tf_gw_device *nd = calloc(TF_GW_MAX_DEVICES, sizeof(*nd));
	size_t nn = 0;
	if (!nd || devices_load(g, nd, &nn) < 0) {
		tf_err("device list not reloaded: the old one stays in force");
		free(nd);
		return;
	}
	pthread_rwlock_wrlock(&g->e.lock);
	devices_apply(g, nd, nn);
	pthread_rwlock_unlock(&g->e.lock);
	tf_info("device list reloaded: %zu devices", nn);
}

static void log_bad_sources(struct gw *g)
{
	for (uint32_t s = 0; s < g->e.n_slots; s++) {
		struct tf_eng_peer *p = &g->e.peers[s];
		if (!p->used)
			continue;
		uint64_t b = atomic_load(&p->bad_source);
		if (b != g->logged_bad_source[s]) {
			tf_warn("device %s: %llu packets dropped: source not "
				"among its registered addresses",
				p->name, (unsigned long long)b);
			g->logged_bad_source[s] = b;
		}
	}
}

/* ---- keygen, pubkey ---- */

static int cmd_keygen(int argc, char **argv)
{
	const char *suite = NULL, *out = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--suite") && i + 1 < argc)
			suite = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else {
			fprintf(stderr, "usage: twofold-gateway keygen --suite "
					"intl|gm --out PRIVFILE\n");
			return 2;
		}
	}
	if (!suite || !out ||
	    (strcmp(suite, "intl") != 0 && strcmp(suite, "gm") != 0)) {
		fprintf(stderr, "usage: twofold-gateway keygen --suite intl|gm "
				"--out PRIVFILE\n");
		return 2;
	}
	uint8_t s = !strcmp(suite, "gm") ? TF_SUITE_GM : TF_SUITE_INTL;
	uint8_t *priv = tf_secure_alloc(TF_WG_PRIV_BYTES);
	uint8_t pub[TF_WG_PUB_MAX];
	size_t pl = 0;
	char *b64 = tf_secure_alloc(64);
	char pb[128];
	if (!priv || !b64 || tf_wg_keygen(s, priv, pub, &pl) < 0) {
		fprintf(stderr, "twofold-gateway: keygen: key generation "
				"failed\n");
		return 1;
	}
	sodium_bin2base64(b64, 64, priv, TF_WG_PRIV_BYTES,
			  sodium_base64_VARIANT_ORIGINAL);
	int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd < 0) {
		fprintf(stderr,
			"twofold-gateway: keygen: cannot create %s: %s "
			"(it must not exist yet)\n",
			out, strerror(errno));
		return 1;
	}
	size_t bl = strlen(b64);
	b64[bl] = '\n';
	bool ok = write(fd, b64, bl + 1) == (ssize_t)(bl + 1) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	tf_secure_free(b64);
	tf_secure_free(priv);
	if (!ok) {
		fprintf(stderr, "twofold-gateway: keygen: cannot write %s\n",
			out);
		unlink(out);
		return 1;
	}
	sodium_bin2base64(pb, sizeof(pb), pub, pl,
			  sodium_base64_VARIANT_ORIGINAL);
	printf("%s\n", pb);
	return 0;
}

static int cmd_pubkey(int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "usage: twofold-gateway pubkey PRIVFILE\n");
		return 2;
	}
	uint8_t *priv = tf_secure_alloc(TF_WG_PRIV_BYTES);
	uint8_t pub[TF_WG_PUB_MAX];
	size_t pl = 0;
	char pb[128];
	int r = priv ? load_key(argv[0], priv) : -ENOMEM;
	if (r < 0) {
		fprintf(stderr, "twofold-gateway: pubkey: %s: %s\n", argv[0],
			key_err(r));
		return 1;
	}
	/* the file does not say its suite: an SM2 d is tried only when the
	 * X25519 reading is not wanted (--suite gm first in argv is not
	 * needed: print both when both are valid) */
	if (tf_wg_pubkey(TF_SUITE_INTL, priv, pub, &pl) == 0) {
		sodium_bin2base64(pb, sizeof(pb), pub, pl,
				  sodium_base64_VARIANT_ORIGINAL);
		printf("intl %s\n", pb);
	}
	if (tf_wg_pubkey(TF_SUITE_GM, priv, pub, &pl) == 0) {
		sodium_bin2base64(pb, sizeof(pb), pub, pl,
				  sodium_base64_VARIANT_ORIGINAL);
		printf("gm %s\n", pb);
	}
	tf_secure_free(priv);
	return 0;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: twofold-gateway --config FILE [--foreground] [-v]\n"
		"       twofold-gateway keygen --suite intl|gm --out PRIVFILE\n"
		"       twofold-gateway pubkey PRIVFILE\n");
}

int main(int argc, char **argv)
{
	static struct gw g;
	const char *conf_path = NULL;
	bool verbose = false;
	char err[256];

	tf_log_init("twofold-gateway", TF_LOG_INFO);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (tf_crypto_init() < 0) {
		fprintf(stderr, "twofold-gateway: crypto libraries failed to "
				"initialise\n");
		return 1;
	}
	if (argc >= 2 && !strcmp(argv[1], "keygen"))
		return cmd_keygen(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "pubkey"))
		return cmd_pubkey(argc - 2, argv + 2);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			conf_path = argv[++i];
		else if (!strcmp(argv[i], "--foreground"))
			; /* the only mode: a supervisor runs it */
		else if (!strcmp(argv[i], "-v"))
			verbose = true;
		else {
			usage();
			return 2;
		}
	}
	if (!conf_path) {
		usage();
		return 2;
	}
	if (verbose)
		tf_log_init("twofold-gateway", TF_LOG_DEBUG);

	char *text = NULL;
	size_t len = 0;
	int r = read_small_file(conf_path, &text, &len, false);
	if (r < 0) {
		tf_err("config %s: %s", conf_path, strerror(-r));
		return 1;
	}
	r = tf_gw_conf_parse(text, len, &g.conf, err, sizeof(err));
	free(text);
	if (r < 0) {
		tf_err("config %s: %s", conf_path, err);
		return 1;
	}

	struct tf_eng_cfg ec = {.device = false,
				.mtu = g.conf.mtu,
				.on_state = on_state,
				.on_refuse = on_refuse,
				.ctx = &g};
	const char *kp[2] = {g.conf.intl_key, g.conf.gm_key};
	for (int s = 0; s < 2; s++) {
		if (!kp[s][0])
			continue;
		uint8_t *k = tf_secure_alloc(32);
		r = k ? load_key(kp[s], k) : -ENOMEM;
		if (r == 0)
			r = tf_wg_static_new(s ? TF_SUITE_GM : TF_SUITE_INTL, k,
					     &ec.st[s]);
		tf_secure_free(k);
		if (r < 0) {
			tf_err("%s key %s: %s", s ? "gm" : "intl", kp[s],
			       r == -EINVAL && !ec.st[s] ? key_err(r)
							 : strerror(-r));
			goto fail;
		}
	}

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned nq = g.conf.queues ? g.conf.queues
				    : (unsigned)TF_MAX(1, TF_MIN(ncpu, 8));
	unsigned tfl = 0;
	r = tf_net_tun_create(-1, g.conf.tun, nq, TF_TUN_VNET_HDR, ec.tun,
			      &tfl);
	if (r < 0) {
		tf_err("cannot create TUN %s: %s (needs CAP_NET_ADMIN and "
		       "/dev/net/tun)",
		       g.conf.tun, strerror(-r));
		goto fail;
	}
	ec.vnet = tfl & TF_TUN_VNET_HDR;
	ec.n_tun = nq;
	r = tf_net_link_up(-1, g.conf.tun, g.conf.mtu);
	for (size_t i = 0; r == 0 && i < g.conf.n_address; i++) {
		struct tf_cidr c = to_cidr(&g.conf.address[i]);
		r = tf_net_addr_add(-1, g.conf.tun, &c);
	}
	if (r < 0) {
		tf_err("cannot configure %s: %s", g.conf.tun, strerror(-r));
		goto fail;
	}
	ec.udp = socket(g.conf.listen.ss_family, SOCK_DGRAM | SOCK_CLOEXEC,
			IPPROTO_UDP);
	int sz = 4 << 20;
	if (ec.udp < 0 || bind(ec.udp, (struct sockaddr *)&g.conf.listen,
			       g.conf.listen_len) < 0) {
		char a[64];
		tf_sockaddr_format((struct sockaddr *)&g.conf.listen, a,
				   sizeof(a));
		tf_err("cannot listen on %s: %s", a, strerror(errno));
		goto fail;
	}
	(void)setsockopt(ec.udp, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	(void)setsockopt(ec.udp, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));

	if (tf_eng_init(&g.e, &ec) < 0)
		goto fail;
	struct tf_gw_device *devs = calloc(TF_GW_MAX_DEVICES, sizeof(*devs));
	size_t nd = 0;
	if (!devs || devices_load(&g, devs, &nd) < 0)
		goto fail;
	devices_apply(&g, devs, nd);

	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGPIPE);
	/* blocked before the workers start, so they inherit the mask and
	 * only the signalfd sees the signals */
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	if (sfd < 0 || tf_eng_start(&g.e) < 0) {
		tf_err("cannot start: %s", strerror(errno));
		goto fail;
	}
	char la[64];
	tf_sockaddr_format((struct sockaddr *)&g.conf.listen, la, sizeof(la));
	tf_info("listening on %s, %s with %u queue(s)%s, %zu devices", la,
		g.conf.tun, nq, ec.vnet ? " (TSO)" : "", nd);

	int next_ms = 0;
	for (;;) {
		struct pollfd pf = {sfd, POLLIN, 0};
		if (poll(&pf, 1, next_ms) > 0) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					devices_reload(&g);
				else if (si.ssi_signo != SIGPIPE)
					break;
			}
		}
		tf_eng_tick(&g.e, &next_ms);
		log_bad_sources(&g);
	}
	tf_info("exiting (signal): keys wiped");
	tf_eng_wipe(&g.e);
	fflush(stderr);
	_exit(0);
fail:
	/* the keys loaded so far are wiped (secure memory) before exiting */
	for (int s = 0; s < 2; s++)
		tf_wg_static_free(ec.st[s]);
	return 1;
}
