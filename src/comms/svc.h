/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' internals shared by its parts: the service's state and
 * the helpers every part uses (comms.c: the relay channel, messages, the
 * control socket; the next parts — calls, talk groups — each in its own
 * file, hooked into comms.c's on_reply, on_control and poll loop).
 */
#ifndef TWOFOLD_COMMS_SVC_H
#define TWOFOLD_COMMS_SVC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twofold/comms.h"
#include "twofold/crypto.h"
#include "twofold/e2e.h"
#include "piece.h" /* long messages: LONG_TEXT_MAX, struct comms_reasm */
#include "wire.h"  /* comms_unhex, comms_officer_ok, comms_get_name */

#define PROG "twofold-comms"
/* a longer text (up to LONG_TEXT_MAX) is sealed once and sent in pieces
 * (piece.h); up to this it is one datagram with the X3DH header and
 * certificate, as before long messages */
#define TEXT_MAX 768
#define OUTBOX_MAX 4096
#define REPLY_MAX 65536
#define ID_BYTES 16
#define FETCH_EVERY_MS 15000
#define OWN_DEVICES_EVERY_MS 30000
/* a copy of a sent message for our other devices: this prefix, the
 * address it was sent to, a space, the text */
#define SYNC_PREFIX "twofold-sent v1 "
/* one-time prekeys kept published on the relay (Signal's figure; our
 * table holds no more), sent in as many datagrams as they need */
#define OPK_TARGET TF_E2E_OPK_MAX
#define OPK_LOW 25 /* the relay holds fewer: top up to OPK_TARGET */
/* a top-up into a full table keeps this many of the keys handed out last
 * (a sender between BUNDLE_GET and SEND) and drops the older ones */
#define OPK_OUT_KEEP 10
/* a PREKEYS reply not back by then is taken as lost */
#define OPK_REPLY_WAIT_MS 5000
#define SPK_MAX_AGE (7 * 86400ull) /* the signed prekey rotates weekly */
#define SPK_GRACE (14 * 86400ull)  /* its predecessor still opens */
/* one control request: a long message's send (a call names two files) */
#define CTL_REQ_MAX (LONG_TEXT_MAX + 256)
#define CTL_FDS_MAX 2 /* and passes their descriptors */

/* relay requests (src/relay/req.h) */
enum {
	OP_ECHO = 0x01,
	OP_SEND = 0x02,
	OP_STORED = 0x03,
	OP_MSG = 0x04,
	OP_FETCH = 0x05,
	OP_ACK = 0x06,
	OP_PREKEYS = 0x07,
	OP_BUNDLE_GET = 0x08,
	OP_BUNDLE = 0x09,
	OP_DEVICES = 0x0a,     /* u8 n | officer */
	OP_DEVICE_LIST = 0x0b, /* u8 n | officer | u8 count | devices */
	OP_ERROR = 0x7f,
};

/* An outbox item is one message to one address (docs/comms.md
 * "Several devices"): a message to a bare officer waits as OUT_FANOUT
 * until the relay's DEVICES answer, then becomes one OUT_PLAIN item per
 * device (files NAME+DEVICE, all with the message's one id, written
 * before the parent goes, so a crash in between neither loses a device
 * nor makes a second copy: a device's item is made only once). */
enum out_state {
	OUT_PLAIN = 0,	/* text, not sealed yet (waits for a session) */
	OUT_SEALED = 1, /* ciphertext: sent until STORED */
	OUT_FANOUT = 2, /* text to an officer: waits for DEVICES */
	OUT_FAILED = 3, /* this device cannot get it: the reason */
	OUT_PIECES = 4, /* a long message sealed: sent piece by piece, each
			   until STORED (piece.h) */
};

/* the relay's STORED names only the id, which every device of one
 * recipient shares: one SEND of an id is out at a time, and a reply
 * not back by then is taken as lost (the SEND goes again) */
#define OUT_RESEND_MS 2000

struct out_item {
	char name[160]; /* file in outbox/: STAMP+ID[+DEVICE] */
	uint8_t id[ID_BYTES];
	char to[TF_COMMS_ADDR_MAX + 1];
	enum out_state state;
	unsigned inflight; /* SENDs not answered yet (this connection) */
	uint64_t last_ms;  /* the last SEND / DEVICES / BUNDLE_GET */
	/* why the device's prekeys were refused (status; the item waits:
	 * an honest relay may hand out the real ones) */
	char refused[96];
	/* OUT_SEALED: the relay's ERROR for its last SEND (a relay that
	 * names the SEND: docs/comms-protocol.md ERROR), shown in status;
	 * not sent again before hold_ms (no resend loop on a full disk) */
	char relay_err[96];
	uint64_t hold_ms;
	/* a long message (text over TEXT_MAX): sealed in an envelope, sent
	 * in npieces pieces, piece the one going out now (those before it
	 * were STORED on this run; a restart sends them again, answered
	 * DUPLICATE) */
	bool is_long;
	unsigned npieces, piece;
};

/* STOREDs still owed for an item already deleted (it was sent more than
 * once): they must not count for its sibling */
#define OUT_STALE_MAX 16
struct out_stale {
	uint8_t id[ID_BYTES];
	unsigned left;
	uint64_t until_ms;
};

struct svc {
	const char *dir;
	bool verbose;
	const struct tf_suite *suite;
	struct tf_privfile pf;
	struct tf_key *sign;
	uint8_t cert[TF_CERT_MAX];
	size_t certlen;
	struct tf_cert me;
	struct tf_cert_anchor anchor;
	struct tf_denylist *dl;
	uint8_t relay_pub[TF_PK_MAX];
	struct sockaddr_in relay;
	int ufd, lfd;
	/* TCP fallback (docs/comms-protocol.md): when UDP INITs go
	 * unanswered, the same datagrams u16-framed over TCP to the same
	 * port */
	int tfd;
	bool on_tcp;
	unsigned tries; /* unanswered INITs on the current transport */
	uint8_t tin[2 * (2 + 2048)];
	size_t tin_len;
	struct tf_comms_client *cl;
	struct tf_comms_session *cs;
	bool connected;
	/* why the relay's last handshake answer was refused (status): a
	 * relay that rewrites it, or answers in another suite, is shown */
	const char *relay_refused;
	uint64_t last_rx, last_init, last_tick;
	/* the last relay handshake: sent, answered (monotonic µs; status) */
	uint64_t init_us, connect_us;
	uint64_t last_fetch; /* the periodic FETCH (FETCH_EVERY_MS) */
	/* its period: FETCH_EVERY_MS, or TWOFOLD_COMMS_FETCH_MS (tests
	 * only; 0: never), read once at start */
	uint64_t fetch_every_ms;
	/* handshakes unanswered since the last connect (status: a relay
	 * that refuses our certificate says nothing, it is no oracle) */
	unsigned unanswered;
	/* COOKIEs the relay answered our INITs with (it was under load) */
	unsigned cookies;
	/* the rekey in progress (a handshake on our connection ids, sent
	 * at rk_sent ms), the seconds between rekeys, rekeys done */
	struct tf_comms_client *rk;
	uint64_t rk_sent;
	uint64_t rekey_s;
	unsigned rekeys;
	/* the relay's last ERROR text, printable only (status; cleared
	 * when a message is stored again) */
	char relay_err[96];
	struct tf_e2e_prekeys *pk;
	/* our unused one-time prekeys on the relay (its PREKEYS reply; -1:
	 * not told yet), and the first messages that used one or none
	 * (status; the tests check every X3DH had its DH4) */
	int relay_opk_left;
	unsigned x3dh_opk, x3dh_no_opk;
	/* PREKEYS datagrams not answered yet: every reply carries the count
	 * after its own datagram, and only the last one's is acted on */
	unsigned opk_inflight;
	uint64_t opk_sent_ms;
	struct out_item out[OUTBOX_MAX];
	size_t nout;
	struct out_stale stale[OUT_STALE_MAX];
	/* long messages coming in: which pieces are kept (pieces/), and how
	 * old an incomplete one may get before it is shown as failed
	 * (PARTIAL_AGE_MS, or TWOFOLD_COMMS_PIECE_AGE_MS in tests) */
	struct comms_reasm reasm;
	uint64_t piece_age_ms, last_pieces;
	/* our own address, officer/device (s->me's) */
	char addr[TF_COMMS_ADDR_MAX + 1];
	/* our officer's other devices, as the relay's DEVICES last named
	 * them (asked at every connect and every OWN_DEVICES_EVERY_MS):
	 * each gets a copy of what we send (Signal's sent-message sync);
	 * own_known false until the first answer */
	char own_dev[TF_COMMS_DEVICES_MAX][TF_CERT_ID_MAX + 1];
	size_t n_own;
	bool own_known;
	uint64_t own_asked_ms;
	/* audio (audio.h): the default device (--audio-dev; "" none) */
	char audio_dev[128];
	/* Does the secure persona hold the foreground? Told only by
	 * twofoldd over daemon_fd (--daemon-fd: a pipe whose other end only
	 * the daemon holds); false until it says so, and again when the
	 * daemon's end closes. PTT bursts play on a device only then or
	 * during a call (ptt.c). */
	bool foreground;
	int daemon_fd;
	char dbuf[128];
	size_t dlen;
	/* daemon_fd is a socket (twofoldd's channel is a socketpair): the
	 * service tells it its call state there, "call active" / "call
	 * idle" (comms_tell_call; a FIFO, as in tests, takes nothing back);
	 * the state last told, -1 none yet */
	bool daemon_sock;
	int told_call;
	/* the descriptors the current control request came with (the CLI
	 * opens --audio-in/--audio-out itself, with its own rights, and
	 * passes them: the service never opens a path for its caller, who
	 * in a persona is another uid). Taken in order by comms_take_fd;
	 * what is left is closed after the request. */
	int ctl_fds[CTL_FDS_MAX];
	unsigned n_ctl_fds, ctl_fd_next;
};

uint64_t comms_now_ms(void);
uint64_t comms_now_us(void);
uint64_t comms_real_ns(void);
/* only with -v; never with message text or key material */
void comms_log(struct svc *s, const char *fmt, ...) TF_PRINTF(2, 3);
/* Tell twofoldd whether a call is active (it decides who may use the
 * sound card from that: docs/comms.md "In a persona, with a sound
 * card"); said once per change. */
void comms_tell_call(struct svc *s, bool active);
void comms_hex(const uint8_t *p, size_t n, char *out);
/* the next descriptor the current control request passed (the caller
 * owns it), or -1: none left */
int comms_take_fd(struct svc *s);
int comms_path(struct svc *s, char *out, size_t cap, const char *fmt, ...)
	TF_PRINTF(4, 5);
int comms_read_file(const char *path, size_t max, uint8_t **out, size_t *len);
int comms_load_session(struct svc *s, const char *who, const char *suffix,
		       struct tf_e2e_session **out);
int comms_save_session(struct svc *s, const char *who, const char *suffix,
		       const struct tf_e2e_session *ss);
/* a peer device's certificate, DIR/certs/OFFICER/DEVICE (who an
 * address officer/device) */
int comms_load_cert(struct svc *s, const char *who, uint8_t **out, size_t *len);
void comms_save_cert(struct svc *s, const char *who, const uint8_t *b,
		     size_t n);
/* the mkdir of DIR/sub/OFFICER for who = OFFICER/DEVICE (0700) */
int comms_mkdir_for(struct svc *s, const char *sub, const char *who);
/* one request inside the relay channel (dropped while not connected) */
void comms_relay_send(struct svc *s, const uint8_t *pt, size_t n);
/* op | u8 n | name | [id] | body */
void comms_relay_named(struct svc *s, uint8_t op, const char *name,
		       const uint8_t *id, const uint8_t *body, size_t n);
/* one reply datagram on a control connection */
void comms_reply(int fd, const char *fmt, ...) TF_PRINTF(2, 3);

/* ---- talk groups and push-to-talk (ptt.c) ---- */
/* audio_out: where received frames are appended (NULL: nowhere) */
int ptt_init(struct svc *s, const char *audio_out);
void ptt_free(struct svc *s);
/* A decrypted end-to-end message: true when it was a group key (then
 * it is consumed, never shown as a message). */
bool ptt_on_text(struct svc *s, const char *from,
		 const struct tf_e2e_session *ss, const char *text, size_t n);
/* a relay reply with op 0x30..0x3f */
void ptt_on_reply(struct svc *s, const uint8_t *pt, size_t n);
/* a control request; true when it was one of ours (answered) */
bool ptt_on_control(struct svc *s, int fd, char *req);
void ptt_on_connected(struct svc *s);
/* the 20 ms frame clock, and the poll timeout it needs */
void ptt_tick(struct svc *s, uint64_t now_ms);
int ptt_poll_ms(void);
/* status lines, one per group */
void ptt_status(struct svc *s, char *out, size_t cap);

#endif
