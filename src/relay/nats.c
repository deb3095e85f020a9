/* SPDX-License-Identifier: ISC */
/*
 * twofold-relay between relays (relay.h, docs/comms.md): NATS core
 * (cnats), used only when --nats URL[,URL] is given. Several relays
 * share one durable store (SQLite in WAL mode on one host for a test or
 * a station; PostgreSQL for a distributed deployment); NATS carries only
 * what is real time:
 *
 *  - presence is NATS interest: a relay subscribes to
 *    twofold.o.HEX(officer) while it holds a session of that officer,
 *    and to twofold.d.HEX(officer).HEX(device) while it holds a session
 *    of that device (issue 15: several devices per officer), and
 *    unsubscribes when the last one leaves;
 *  - a FWD frame (FROM) or a stored message's MSG for an address is
 *    delivered to the local sessions and published on its subject: a
 *    bare officer's on the officer subject (the relays holding any of
 *    its devices), an officer/device's on the device subject (only the
 *    relays holding that device); no echo: a relay never gets its own
 *    publications back;
 *  - a FWD for an address with no session here is published with a
 *    reply subject (this relay's inbox . session id . serial): nobody
 *    ever replies, but when no relay is subscribed the server answers
 *    "no responders" (status 503, NATS 2.2+), and the sender gets
 *    ERROR 4 "recipient not connected", as from a single relay: per
 *    device for a device address.
 *  - the notice is u8 version | ...: version 0 (relays before issue 15,
 *    still understood) u8 0 | reply plaintext for the subject's officer;
 *    version 1 u8 1 | u8 n | to | reply plaintext, to the address the
 *    subject names.
 *
 * Nothing durable depends on NATS: a stored message is in the store
 * before its MSG is published, and after a reconnect (a NATS node died)
 * a relay redelivers every stored message to its local sessions, so a
 * notice lost in the outage costs nothing; devices drop a message id
 * they have already shown. Real-time frames lost during an outage stay
 * lost (as over UDP). The payload is the relay's reply plaintext, which
 * holds no key: content is end-to-end encrypted.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "natsauth.h"
#include "notice.h"
#include "relay.h"

#define URLS_MAX 8

/* a subscription: an officer's, or an officer/device's */
struct osub {
	char officer[TF_COMMS_ADDR_MAX + 1]; /* the address */
	natsSubscription *sub;
	struct osub *next;
};

struct relay_nats {
	natsConnection *nc;
	natsOptions *opts;
	/* the callbacks' own output batch (sends on worker 0's socket) */
	pthread_mutex_t w_mu;
	struct worker *w;
	struct osub *subs[RELAY_OFFICER_BUCKETS]; /* tab write-held */
	natsInbox *inbox; /* reply subjects of FWDs: inbox.SID.SERIAL */
	natsSubscription *isub;
	/* false from a disconnect until the redelivery after the
	 * reconnect (w_mu held): a MSG notice meanwhile is not pushed, so
	 * it cannot overtake the earlier messages whose notices the outage
	 * lost; the redelivery brings it from the store, in order */
	bool synced;
	/* TLS and credentials (natsauth.c); the .creds stay for
	 * reconnects */
	struct relay_nats_auth *auth;
};

static size_t bucket(const char *officer)
{
	uint32_t h = 2166136261u;

	for (const char *p = officer; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % RELAY_OFFICER_BUCKETS;
}

/* cnats' delivery thread: a notice (version 0 or 1, above) for the
 * address its subject names */
static void on_msg_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
		      void *closure)
{
	struct relay *r = closure;
	const char *subj = natsMsg_GetSubject(msg);
	const uint8_t *d = (const uint8_t *)natsMsg_GetData(msg), *pt;
	int len = natsMsg_GetDataLength(msg);
	char addr[TF_COMMS_ADDR_MAX + 1];
	size_t ptlen;

	(void)nc;
	(void)sub;
	if (subj == NULL || d == NULL || len < 0 ||
	    relay_notice_parse(subj, d, (size_t)len, addr, &pt, &ptlen) < 0)
		goto out;
	pthread_mutex_lock(&r->nats->w_mu);
	if (pt[0] == RELAY_OP_MSG && !r->nats->synced) {
		pthread_mutex_unlock(&r->nats->w_mu);
		goto out; /* stored: the redelivery brings it */
	}
	(void)relay_deliver_local(r->nats->w, addr, pt, ptlen);
	relay_flush(r->nats->w);
	pthread_mutex_unlock(&r->nats->w_mu);
out:
	natsMsg_Destroy(msg);
}

/* cnats' delivery thread: the server's "no responders" to a FWD
 * published by relay_nats_publish_fwd: its sender hears that nobody
 * holds the recipient */
static void on_noresp_cb(natsConnection *nc, natsSubscription *sub,
			 natsMsg *msg, void *closure)
{
	struct relay *r = closure;
	struct relay_nats *n = r->nats;
	const char *subj = natsMsg_GetSubject(msg);
	size_t il = strlen(n->inbox);
	unsigned sid;
	unsigned long long serial;
	char tail;
	struct sess *s;

	(void)nc;
	(void)sub;
	if (!natsMsg_IsNoResponders(msg) || subj == NULL ||
	    strncmp(subj, n->inbox, il) != 0 || subj[il] != '.' ||
	    sscanf(subj + il + 1, "%8x.%16llx%c", &sid, &serial, &tail) != 2)
		goto out;
	pthread_mutex_lock(&n->w_mu);
	pthread_rwlock_rdlock(&r->tab);
	s = relay_sess_by_id(r, sid);
	if (s != NULL && s->serial == serial)
		relay_send_error(n->w, s, ERR_OFFLINE,
				 "recipient not connected");
	pthread_rwlock_unlock(&r->tab);
	relay_flush(n->w);
	pthread_mutex_unlock(&n->w_mu);
out:
	natsMsg_Destroy(msg);
}

static void on_reconnected_cb(natsConnection *nc, void *closure)
{
	struct relay *r = closure;

	(void)nc;
	logv(r, "NATS reconnected: redelivering stored messages");
	pthread_mutex_lock(&r->nats->w_mu);
	relay_redeliver_stored(r->nats->w);
	relay_flush(r->nats->w);
	r->nats->synced = true;
	pthread_mutex_unlock(&r->nats->w_mu);
}

static void on_disconnected_cb(natsConnection *nc, void *closure)
{
	struct relay *r = closure;

	(void)nc;
	logv(r, "NATS disconnected: reconnecting");
	pthread_mutex_lock(&r->nats->w_mu);
	r->nats->synced = false;
	pthread_mutex_unlock(&r->nats->w_mu);
}

/*
 * Shutdown and cnats' threads. cnats runs message handlers on its own
 * threads and the connection handlers (disconnected, reconnected) on an
 * asynchronous one, which may still run after natsConnection_Close
 * returned: seen as a SIGSEGV at SIGTERM, "NATS disconnected" run after
 * relay_nats_close had freed r->nats. Every handler here and in gnats.c
 * enters through relay_nats_cb_enter: once relay_nats_quiesce has set
 * cb_quiet and waited for those inside to leave, a late handler only
 * touches these two statics (and its message) and returns. seq_cst: a
 * handler that counted itself in before the flag was seen is waited for.
 */
static atomic_bool cb_quiet, lib_used;
static atomic_uint cb_inflight;

void relay_nats_end(void)
{
	if (atomic_load(&lib_used))
		(void)nats_CloseAndWait(2000);
}

bool relay_nats_cb_enter(void)
{
	atomic_fetch_add(&cb_inflight, 1);
	if (atomic_load(&cb_quiet)) {
		atomic_fetch_sub(&cb_inflight, 1);
		return false;
	}
	return true;
}

void relay_nats_cb_leave(void)
{
	atomic_fetch_sub(&cb_inflight, 1);
}

void relay_nats_quiesce(struct relay *r)
{
	struct timespec ms = {0, 1000000};

	if (r->nats == NULL)
		return;
	atomic_store(&cb_quiet, true);
	if (r->nats->nc)
		natsConnection_Close(r->nats->nc);
	/* a handler is short (a lock and a send); 5 s is a hang */
	for (unsigned i = 0; i < 5000 && atomic_load(&cb_inflight); i++)
		nanosleep(&ms, NULL);
}

RELAY_NATS_MSG_HANDLER(on_msg)

RELAY_NATS_MSG_HANDLER(on_noresp)

/* cnats gave the connection up: it retries forever, except after the
 * same authentication error twice in a row from a server (credentials
 * that stopped working after the start: a rotated password, a revoked
 * JWT). Not at our own close: relay_nats_quiesce turned the handlers
 * off first. */
static void on_closed(natsConnection *nc, void *closure)
{
	struct relay *r = closure;
	const char *t = NULL;

	if (!relay_nats_cb_enter())
		return;
	(void)natsConnection_GetLastError(nc, &t);
	logv(r,
	     "NATS: the connection is closed for good (%s): this relay no "
	     "longer reaches the others; check its NATS credentials and "
	     "restart it",
	     t && *t ? t : "no reason given");
	relay_nats_cb_leave();
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	if (!relay_nats_cb_enter())
		return;
	on_reconnected_cb(nc, closure);
	relay_nats_cb_leave();
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	if (!relay_nats_cb_enter())
		return;
	on_disconnected_cb(nc, closure);
	relay_nats_cb_leave();
}

/* cnats connected the first time, in the background (connect_first) */
static atomic_bool first_up;

static void on_first_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
	atomic_store(&first_up, true);
}

/*
 * The first connection decides: one that a server refuses (TLS: an
 * unknown CA, a certificate for another host, no TLS where it was asked
 * for; credentials) is a configuration error and ends the start with one
 * line (cnats' retry-on-failed-connect would retry it silently forever).
 * Only when no server answers at all does the relay keep trying, 200 ms
 * apart, as before: relays may come up before NATS. cnats retries in its
 * own threads (a connected callback: without one its connect blocks, and
 * SIGTERM, blocked for the signalfd, could not stop a relay whose NATS
 * never came); this thread waits for the callback or a SIGTERM / SIGINT
 * (-EINTR: the caller exits cleanly). The signals stay blocked, so
 * cnats' threads inherit the mask the workers have.
 */
static int connect_first(struct relay *r, struct relay_nats *n, natsStatus *out)
{
	natsStatus st =
		natsOptions_SetRetryOnFailedConnect(n->opts, false, NULL, NULL);
	sigset_t stop;
	bool said = false;
	int sfd;

	if (st == NATS_OK)
		st = natsConnection_Connect(&n->nc, n->opts);
	*out = st;
	if (st != NATS_NO_SERVER)
		return 0;
	atomic_store(&first_up, false);
	st = natsOptions_SetRetryOnFailedConnect(n->opts, true,
						 on_first_connected, NULL);
	if (st == NATS_OK)
		st = natsConnection_Connect(&n->nc, n->opts);
	if (st != NATS_NOT_YET_CONNECTED) {
		*out = st;
		return 0;
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	/* a signalfd of our own (the sandbox allows it and poll, not
	 * rt_sigtimedwait); the relay's loop makes its own later */
	sfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		*out = NATS_SYS_ERROR;
		return 0;
	}
	while (!atomic_load(&first_up) &&
	       natsConnection_Status(n->nc) != NATS_CONN_STATUS_CLOSED) {
		struct pollfd pfd = {.fd = sfd, .events = POLLIN};
		struct signalfd_siginfo si;

		if (!said) {
			logv(r, "NATS: no server answers yet; waiting for one");
			said = true;
		}
		if (poll(&pfd, 1, 200) > 0 &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			close(sfd);
			return -EINTR;
		}
	}
	close(sfd);
	*out = atomic_load(&first_up) ? NATS_OK : NATS_CONNECTION_CLOSED;
	return 0;
}

int relay_nats_open(struct relay *r, const char *urls,
		    struct relay_nats_auth *auth, char *why, size_t whylen)
{
	atomic_store(&lib_used, true);
	struct relay_nats *n = calloc(1, sizeof(*n));
	char *copy = strdup(urls), *save = NULL;
	const char *list[URLS_MAX];
	int nl = 0;
	natsStatus st;

	why[0] = '\0';
	if (n == NULL || copy == NULL) {
		free(n);
		free(copy);
		relay_nats_auth_free(auth);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	for (char *t = strtok_r(copy, ",", &save); t && nl < URLS_MAX;
	     t = strtok_r(NULL, ",", &save))
		list[nl++] = t;
	n->w = calloc(1, sizeof(*n->w));
	if (n->w == NULL || nl == 0) {
		free(n->w);
		free(n);
		free(copy);
		relay_nats_auth_free(auth);
		snprintf(why, whylen, nl == 0 ? "no URL" : "out of memory");
		return nl == 0 ? -EINVAL : -ENOMEM;
	}
	pthread_mutex_init(&n->w_mu, NULL);
	n->synced = true;
	n->w->r = r;
	n->w->idx = -1;
	n->w->fd = r->w[0]->fd; /* sendmmsg on a shared socket is safe */
	n->w->ep = n->w->lfd = -1;
	n->auth = auth; /* the .creds sign every reconnect's nonce */
	r->nats = n;
	/* one delivery thread for all subscriptions (the callbacks share
	 * one output batch); reconnect forever, quickly; keep publications
	 * made while disconnected (cnats' reconnect buffer) */
	st = natsOptions_Create(&n->opts);
	if (st == NATS_OK)
		st = natsOptions_SetServers(n->opts, list, nl);
	if (st == NATS_OK)
		st = natsOptions_SetNoRandomize(n->opts, true);
	if (st == NATS_OK)
		st = natsOptions_SetNoEcho(n->opts, true);
	if (st == NATS_OK)
		st = natsOptions_UseGlobalMessageDelivery(n->opts, true);
	if (st == NATS_OK)
		st = natsOptions_SetMaxReconnect(n->opts, -1);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectWait(n->opts, 200);
	if (st == NATS_OK)
		st = natsOptions_SetPingInterval(n->opts, 1000);
	if (st == NATS_OK)
		st = natsOptions_SetMaxPingsOut(n->opts, 2);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectedCB(n->opts, on_reconnected, r);
	if (st == NATS_OK)
		st = natsOptions_SetDisconnectedCB(n->opts, on_disconnected, r);
	if (st == NATS_OK)
		st = natsOptions_SetClosedCB(n->opts, on_closed, r);
	if (st == NATS_OK && auth != NULL) {
		st = relay_nats_auth_apply(n->opts, auth, why, whylen);
		if (st != NATS_OK) {
			free(copy);
			relay_nats_close(r);
			return -EINVAL;
		}
	}
	if (st == NATS_OK) {
		if (connect_first(r, n, &st) < 0) {
			free(copy);
			relay_nats_close(r);
			snprintf(why, whylen,
				 "stopped by a signal while waiting for NATS "
				 "(%s)",
				 urls);
			return -EINTR;
		}
		if (st != NATS_OK && why[0] == '\0')
			relay_nats_connect_why(st, urls, auth, why, whylen);
	}
	free(copy);
	if (st == NATS_OK)
		st = natsInbox_Create(&n->inbox);
	if (st == NATS_OK) {
		char isubj[128];
		snprintf(isubj, sizeof(isubj), "%s.>", n->inbox);
		st = natsConnection_Subscribe(&n->isub, n->nc, isubj, on_noresp,
					      r);
	}
	if (st != NATS_OK) {
		if (why[0] == '\0')
			snprintf(why, whylen, "NATS %s: %s", urls,
				 natsStatus_GetText(st));
		relay_nats_close(r);
		return -ECONNREFUSED;
	}
	return 0;
}

struct __natsConnection *relay_nats_conn(struct relay *r)
{
	return r->nats ? r->nats->nc : NULL;
}

void relay_nats_close(struct relay *r)
{
	struct relay_nats *n = r->nats;

	if (n == NULL)
		return;
	for (size_t b = 0; b < RELAY_OFFICER_BUCKETS; b++) {
		for (struct osub *o = n->subs[b], *next; o; o = next) {
			next = o->next;
			natsSubscription_Destroy(o->sub);
			free(o);
		}
	}
	natsSubscription_Destroy(n->isub);
	if (n->nc) {
		natsConnection_Close(n->nc);
		natsConnection_Destroy(n->nc);
	}
	natsOptions_Destroy(n->opts);
	natsInbox_Destroy(n->inbox);
	relay_nats_auth_free(n->auth); /* after the connection: it signs */
	free(n->w);
	free(n);
	r->nats = NULL;
}

void relay_nats_addr_up(struct relay *r, const char *officer)
{
	struct relay_nats *n = r->nats;
	char subj[RELAY_SUBJ_MAX];
	struct osub *o, **head;

	if (n == NULL || relay_subject(officer, subj) < 0)
		return;
	head = &n->subs[bucket(officer)];
	for (o = *head; o; o = o->next)
		if (!strcmp(o->officer, officer))
			return;
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return;
	snprintf(o->officer, sizeof(o->officer), "%s", officer);
	/* while disconnected cnats records the subscription and sends it
	 * on reconnect */
	if (natsConnection_Subscribe(&o->sub, n->nc, subj, on_msg, r) !=
	    NATS_OK) {
		logv(r, "NATS: cannot subscribe for %s", officer);
		free(o);
		return;
	}
	o->next = *head;
	*head = o;
}

void relay_nats_addr_down(struct relay *r, const char *officer)
{
	struct relay_nats *n = r->nats;
	struct osub **p;

	if (n == NULL)
		return;
	for (p = &n->subs[bucket(officer)]; *p; p = &(*p)->next) {
		if (!strcmp((*p)->officer, officer)) {
			struct osub *o = *p;
			*p = o->next;
			(void)natsSubscription_Unsubscribe(o->sub);
			natsSubscription_Destroy(o->sub);
			free(o);
			return;
		}
	}
}

/* a version 1 notice on addr's subject */
static void publish(struct relay *r, const char *addr, const uint8_t *pt,
		    size_t len, const char *reply)
{
	uint8_t b[2 + TF_COMMS_ADDR_MAX + TF_COMMS_PAYLOAD_MAX];
	char subj[RELAY_SUBJ_MAX];
	natsStatus st;
	int n;

	if (r->nats == NULL || relay_subject(addr, subj) < 0)
		return;
	n = relay_notice_build(addr, pt, len, b, sizeof(b));
	if (n < 0)
		return;
	st = reply == NULL ? natsConnection_Publish(r->nats->nc, subj, b, n)
			   : natsConnection_PublishRequest(r->nats->nc, subj,
							   reply, b, n);
	if (st != NATS_OK)
		logv(r, "NATS publish: %s", natsStatus_GetText(st));
}

void relay_nats_publish(struct relay *r, const char *addr, const uint8_t *pt,
			size_t len)
{
	publish(r, addr, pt, len, NULL);
}

void relay_nats_publish_fwd(struct relay *r, const char *addr,
			    const uint8_t *pt, size_t len,
			    const struct sess *from)
{
	char reply[128];

	if (r->nats == NULL)
		return;
	snprintf(reply, sizeof(reply), "%s.%08x.%016llx", r->nats->inbox,
		 from->id, (unsigned long long)from->serial);
	publish(r, addr, pt, len, reply);
}
