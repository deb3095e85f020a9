/* SPDX-License-Identifier: ISC */
/*
 * Calls in twofold-comms (issue 15; docs/comms.md "Calls", wire format in
 * docs/comms-protocol.md "Calls"). One call at a time.
 *
 * Set-up: a Noise IK handshake between the two devices, carried through
 * the relay inside FWD/FROM (the relay forwards opaque bytes and holds no
 * key). The caller needs the callee's static key: it is the Noise DH key
 * of the callee's certificate, kept in DIR/certs/ once seen and otherwise
 * taken from the relay's prekey bundle (BUNDLE_GET; comms.c's own use of
 * the bundle starts the message session with it, so its one-time prekey
 * is not wasted). Both sides check the other's certificate (CA, validity,
 * role, deny-list, the officer the relay names, and that it certifies the
 * very key the handshake authenticated). The callee's reply (message 2)
 * is sent when it starts to ring: both sides then have the call's keys
 * (fresh ephemerals: fresh keys per call), so media can flow the moment
 * the callee answers.
 *
 * Keys: each direction's Split key gives an SFrame base key (HKDF with
 * "twofold call v1 base"); from it the sender's media (KID 1 caller, 2
 * callee) and control (KID 3 caller, 4 callee) keys (RFC 9605 §4.4.2).
 * Control (answer, hang up, decline) is SFrame-sealed too, so the relay
 * cannot end or answer a call. Media: one Opus frame per 20 ms
 * (twofold/media.h) per SFrame frame, CTR counting from 2^24 so every
 * frame of a call has the same header length (constant packet size).
 *
 * Receiving: a frame that fails authentication or is a replay is
 * counted and dropped; the others go into the jitter buffer (jitter.h),
 * indexed by CTR, and play out on call_tick's clock: frame k at
 * k x 20 ms + the reference transit + a playout delay adapted to the
 * measured jitter. A frame missing at its time is rebuilt from the next
 * frame's in-band FEC when that one is buffered, else concealed (PLC).
 * That is for a file (--audio-out: written by frame index). A sound card
 * plays by its own clock instead (devplay.h): each tick it gets the
 * frames it wants, a concealment when the next one is not there, and
 * the playout delay follows the jitter buffer's target by concealments
 * inserted and quiet frames dropped (playout.h), so it never runs dry.
 * The test-only TWOFOLD_COMMS_TEST_NO_JITTER_BUFFER=1 plays frames on
 * arrival instead (the comparison in test_call_jitter.sh).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twofold/atomicfile.h"
#include "twofold/media.h"
#include "twofold/sframe.h"

#include "audio.h"
#include "call.h"
#include "callkey.h"
#include "devplay.h"
#include "jitter.h"

enum {
	CALL_INIT = 0x20, /* u32 id | Noise message 1 */
	CALL_RING = 0x21, /* u32 id | Noise message 2 */
	CALL_CTL = 0x22,  /* u32 id | SFrame(u8 what) */
	CALL_MEDIA = 0x23 /* u32 id | SFrame(Opus packet) */
};
enum { CTL_ANSWER = 1, CTL_HANGUP = 2, CTL_DECLINE = 3, CTL_ELSEWHERE = 4 };
enum { RING_RINGING = 0, RING_BUSY = 1 };
enum { KID_MEDIA = 1, KID_CTL = 3 }; /* + 0 caller, + 1 callee */

#define CALL_PROLOGUE "twofold call v1"
#define CTR_BASE (1ull << 24)
#define SETUP_TIMEOUT_US (10ull * 1000000)
#define RING_TIMEOUT_US (60ull * 1000000)
#define RX_TIMEOUT_US (10ull * 1000000)
#define INIT_SKEW_NS (30ull * 1000000000)
#define MAX_GAP 3000	   /* frames (60 s) concealed at most in one gap */
#define REKEY_FRAMES 30000 /* a media epoch: 10 min of 20 ms frames */
#define SEEN_MAX 64
/* the relay's ERROR codes (docs/comms-protocol.md): 4 answers a FWD
 * whose recipient no relay holds; 8 a BUNDLE_GET for an officer without
 * prekeys (older relays answered that with 4 as well); 5..7 are talk
 * group errors, not ours */
#define ERR_OFFLINE 4
#define ERR_NO_PREKEYS 8

enum call_state {
	ST_IDLE,
	ST_FETCHING, /* caller: asking the relay for the callee's cert */
	ST_DIALING,  /* caller: INIT sent */
	ST_RINGING,  /* caller: the callee rings */
	ST_INCOMING, /* callee: ringing here */
	ST_ACTIVE,
};

static const char *const state_names[] = {"idle",    "fetching", "dialing",
					  "ringing", "incoming", "active"};

struct call {
	enum call_state st;
	bool outgoing;
	char peer[TF_COMMS_ADDR_MAX + 1];
	uint32_t id;
	struct tf_noise_hs *hs;
	/* media: a key chain per direction (callkey.h), stepped every
	 * rekey_frames frames by the sender; control: one key per call */
	struct tf_callkey_tx *tx_media;
	struct tf_callkey_rx *rx_media;
	struct tf_sframe_key *tx_ctl, *rx_ctl;
	uint64_t rekey_frames, tx_epoch_frames, rx_steps, no_key;
	struct tf_sframe_window win_media, win_ctl;
	uint64_t tx_ctl_ctr;
	struct tf_media_enc *enc;
	struct tf_media_dec *dec;
	/* audio (audio.h): files from the request are opened with it; a
	 * device only while the call is active (go_active .. call_end) */
	struct audio_in *ain;
	struct audio_out *aout;
	char in_path[512], out_path[512], dev[AUDIO_DEV_MAX];
	char audio_err[AUDIO_ERR_MAX]; /* the last device error (status) */
	int pending_fd;	  /* `call` waits for ringing or an error */
	bool cert_cached; /* the callee's key came from DIR/certs */
	/* monotonic µs */
	uint64_t t_dial, t_ring, t_answer, t_first_audio, t_state, t_last_rx,
		t_tx_start, next_tx;
	uint64_t tx_frames, rx_frames, lost, fec, late, rejected, rx_next;
	double rx_off_sum, play_off_sum;
	uint64_t rx_off_n, play_off_n;
	/* the jitter buffer, or frames played on arrival (test only) */
	bool on_arrival;
	struct tf_jb jb;
	struct devplay dp;  /* on a sound card */
	uint64_t dev_xruns; /* of the cards closed during this call */
	uint64_t t_first_play, last_played, misordered, rx_top, reordered;
	bool played_any;
	char ended[400];
	/* newest INIT timestamp per caller serial: a replayed INIT (the
	 * relay can replay message 1) does not ring */
	struct {
		uint64_t serial, ts;
	} seen[SEEN_MAX];
	size_t nseen;
	/* the last refused call set-up, kept across calls (from here on
	 * nothing is reset by a new call): a relay that replays an old
	 * INIT just before a real one must not have it hidden by the
	 * real call's ringing */
	char refused[400];
};

static struct call C = {.pending_fd = -1};

/* Several devices per officer (docs/comms.md "Calls"): a call to an
 * officer is one fork per device, each its own Noise IK handshake (the
 * same call id) against that device's certified key, so each device
 * rings with keys of its own; the first to answer wins, its keys become
 * the call's (C), and the others are told, sealed, that it was answered
 * elsewhere. A call to officer/device is one fork. */
#define FORKS_MAX TF_COMMS_DEVICES_MAX
enum fork_state { FK_FETCH, FK_DIAL, FK_RING, FK_GONE };
struct fork {
	char addr[TF_COMMS_ADDR_MAX + 1];
	enum fork_state st;
	bool cached; /* its certificate came from DIR/certs */
	struct tf_noise_hs *hs;
	struct tf_callkey_tx *tx_media;
	struct tf_callkey_rx *rx_media;
	struct tf_sframe_key *tx_ctl, *rx_ctl;
	struct tf_sframe_window win_ctl;
	uint64_t tx_ctl_ctr;
};
static struct fork F[FORKS_MAX];
static size_t NF;
static unsigned n_offline; /* ERROR 4s while dialing (no address in them) */
static bool asked_devices;

static void fork_free(struct fork *f)
{
	tf_noise_hs_free(f->hs);
	tf_callkey_tx_free(f->tx_media);
	tf_callkey_rx_free(f->rx_media);
	tf_sframe_key_free(f->tx_ctl);
	tf_sframe_key_free(f->rx_ctl);
	memset(f, 0, sizeof(*f));
}

static void forks_free(void)
{
	for (size_t i = 0; i < NF; i++)
		fork_free(&F[i]);
	NF = 0;
	n_offline = 0;
	asked_devices = false;
}

static struct fork *fork_find(const char *addr)
{
	for (size_t i = 0; i < NF; i++)
		if (!strcmp(F[i].addr, addr))
			return &F[i];
	return NULL;
}

static size_t forks_in(enum fork_state st)
{
	size_t n = 0;

	for (size_t i = 0; i < NF; i++)
		n += F[i].st == st;
	return n;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* the answer to a `call` that waits for ringing: "ok ..." or "error ..." */
static void pending_reply(const char *kind, const char *text)
{
	if (C.pending_fd < 0)
		return;
	comms_reply(C.pending_fd, "%s %s\n", kind, text);
	close(C.pending_fd);
	C.pending_fd = -1;
}

static void set_state(enum call_state st)
{
	C.st = st;
	C.t_state = now_us();
}

/* Free everything the call holds; the statistics stay for `status`. */
static void call_end(struct svc *s, const char *why)
{
	int r;

	comms_log(s, "call with %s ended: %s", C.peer, why);
	snprintf(C.ended, sizeof(C.ended), "%s", why);
	pending_reply("error", why);
	tf_noise_hs_free(C.hs);
	C.hs = NULL;
	tf_callkey_tx_free(C.tx_media);
	tf_callkey_rx_free(C.rx_media);
	C.tx_media = NULL;
	C.rx_media = NULL;
	tf_sframe_key_free(C.tx_ctl);
	tf_sframe_key_free(C.rx_ctl);
	C.tx_ctl = C.rx_ctl = NULL;
	tf_media_enc_free(C.enc);
	tf_media_dec_free(C.dec);
	C.enc = NULL;
	C.dec = NULL;
	/* the microphone is released the moment the call ends */
	audio_in_close(C.ain);
	C.ain = NULL;
	C.dev_xruns += audio_out_xruns(C.aout); /* status after the call */
	r = audio_out_close(C.aout);
	C.aout = NULL;
	if (r < 0)
		fprintf(stderr, PROG ": cannot finish the audio file %s: %s\n",
			C.out_path, strerror(-r));
	forks_free();
	set_state(ST_IDLE);
	/* after the devices are closed: twofoldd may kill a holder once
	 * told */
	comms_tell_call(s, false);
}

static void fwd_to(struct svc *s, const char *to, uint8_t type,
		   const uint8_t *body, size_t n)
{
	uint8_t b[TF_COMMS_PAYLOAD_MAX];

	if (5 + n > sizeof(b))
		return;
	b[0] = type;
	put_be32(b + 1, C.id);
	memcpy(b + 5, body, n);
	comms_relay_named(s, OP_FWD, to, NULL, b, 5 + n);
}

static void fwd(struct svc *s, uint8_t type, const uint8_t *body, size_t n)
{
	fwd_to(s, C.peer, type, body, n);
}

/* a sealed control byte to one fork that rings (its own key) */
static void fork_ctl(struct svc *s, struct fork *f, uint8_t what)
{
	uint8_t fr[TF_SFRAME_OVERHEAD_MAX + 1];
	int n;

	if (!f->tx_ctl)
		return;
	n = tf_sframe_seal(f->tx_ctl, f->tx_ctl_ctr++, &what, 1, fr,
			   sizeof(fr));
	if (n > 0)
		fwd_to(s, f->addr, CALL_CTL, fr, (size_t)n);
}

/* Before an answer: a hang-up (or a no-answer) to every fork that
 * rings, three times each (one lost datagram must not leave a device
 * ringing) */
static void forks_ctl(struct svc *s, uint8_t what, const struct fork *but)
{
	for (size_t i = 0; i < NF; i++)
		if (&F[i] != but && F[i].st == FK_RING)
			for (int k = 0; k < 3; k++)
				fork_ctl(s, &F[i], what);
}

static void send_ctl(struct svc *s, uint8_t what)
{
	uint8_t fr[TF_SFRAME_OVERHEAD_MAX + 1];
	int n;

	if (!C.tx_ctl)
		return;
	n = tf_sframe_seal(C.tx_ctl, C.tx_ctl_ctr++, &what, 1, fr, sizeof(fr));
	if (n > 0)
		fwd(s, CALL_CTL, fr, (size_t)n);
}

/* prologue: "twofold call v1" | u8 suite | u32 id | u8 n | caller | u8 n
 * | callee: both full addresses (officer/device) as the relay routes them
 * are bound into the handshake hash, so a fork answered by one device
 * cannot be passed off as another's */
static size_t prologue(struct svc *s, const char *caller, const char *callee,
		       uint8_t *out)
{
	size_t off = sizeof(CALL_PROLOGUE) - 1, l;

	memcpy(out, CALL_PROLOGUE, off);
	out[off++] = s->suite->id;
	put_be32(out + off, C.id);
	off += 4;
	l = strlen(caller);
	out[off++] = (uint8_t)l;
	memcpy(out + off, caller, l);
	off += l;
	l = strlen(callee);
	out[off++] = (uint8_t)l;
	memcpy(out + off, callee, l);
	return off + l;
}

/* Test hook (integration tests only): the base keys go to the file the
 * environment names, so a test can prove the relay never saw them. */
static void keylog(const uint8_t *tx, const uint8_t *rx)
{
	const char *p = secure_getenv("TWOFOLD_COMMS_TEST_KEYLOG");
	char h[2 * TF_KEY_BYTES + 1];
	FILE *f;

	if (!p || !(f = fopen(p, "ae")))
		return;
	comms_hex(tx, TF_KEY_BYTES, h);
	fprintf(f, "tx %s\n", h);
	comms_hex(rx, TF_KEY_BYTES, h);
	fprintf(f, "rx %s\n", h);
	fclose(f);
}

/* Frames per media epoch: 30,000 (10 min); the test-only
 * TWOFOLD_COMMS_TEST_REKEY_FRAMES makes it as small as 10. Only the
 * sender's setting matters: a receiver follows whatever KID comes. */
static uint64_t rekey_frames(void)
{
	const char *e = secure_getenv("TWOFOLD_COMMS_TEST_REKEY_FRAMES");
	char *end;
	unsigned long long v;

	if (!e || !*e)
		return REKEY_FRAMES;
	errno = 0;
	v = strtoull(e, &end, 10);
	if (errno || *end || v < 10 || v > (1ull << 24))
		return REKEY_FRAMES;
	return v;
}

/* After the handshake *hsp (spent and freed here): the SFrame keys of
 * one handshake (media chains, control). */
static int derive_into(struct svc *s, struct tf_noise_hs **hsp, bool outgoing,
		       struct tf_callkey_tx **txm, struct tf_callkey_rx **rxm,
		       struct tf_sframe_key **txc, struct tf_sframe_key **rxc)
{
	uint8_t send[TF_NOISE_KEY_BYTES], recv[TF_NOISE_KEY_BYTES];
	uint8_t h[TF_NOISE_HASH_MAX], btx[TF_KEY_BYTES], brx[TF_KEY_BYTES];
	static const char info[] = "twofold call v1 base";
	uint64_t me = outgoing ? 0 : 1, peer = 1 - me;
	size_t hl;
	int r;

	r = tf_noise_hs_split(*hsp, send, recv, h, &hl);
	tf_noise_hs_free(*hsp);
	*hsp = NULL;
	if (r < 0)
		return r;
	r = tf_kdf(s->suite, btx, sizeof(btx), send, sizeof(send), NULL, 0,
		   (const uint8_t *)info, sizeof(info) - 1);
	if (r == 0)
		r = tf_kdf(s->suite, brx, sizeof(brx), recv, sizeof(recv), NULL,
			   0, (const uint8_t *)info, sizeof(info) - 1);
	if (r == 0)
		r = tf_callkey_tx_new(s->suite, btx, KID_MEDIA + me, txm);
	if (r == 0)
		r = tf_sframe_key_derive(s->suite, btx, sizeof(btx),
					 KID_CTL + me, txc);
	if (r == 0)
		r = tf_callkey_rx_new(s->suite, brx, KID_MEDIA + peer, rxm);
	if (r == 0)
		r = tf_sframe_key_derive(s->suite, brx, sizeof(brx),
					 KID_CTL + peer, rxc);
	if (r == 0)
		keylog(btx, brx);
	tf_memzero(send, sizeof(send));
	tf_memzero(recv, sizeof(recv));
	tf_memzero(btx, sizeof(btx));
	tf_memzero(brx, sizeof(brx));
	return r;
}

/* After the handshake: the call's SFrame keys (media chains, control). */
static int derive_keys(struct svc *s)
{
	int r = derive_into(s, &C.hs, C.outgoing, &C.tx_media, &C.rx_media,
			    &C.tx_ctl, &C.rx_ctl);

	/* one media window across epochs: the CTR goes on counting */
	tf_sframe_window_init(&C.win_media);
	tf_sframe_window_init(&C.win_ctl);
	C.tx_ctl_ctr = 0;
	C.rekey_frames = rekey_frames();
	C.tx_epoch_frames = 0;
	return r;
}

/* The peer's certificate, checked for addr (officer/device): 0, or an
 * error tf_cert_reason names (-EKEYREJECTED: it certifies another
 * officer than the relay says; -EXDEV: another device). */
static int check_cert(struct svc *s, const uint8_t *b, size_t n,
		      const char *addr, struct tf_cert *out)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];

	if (!comms_addr_split(addr, o, d))
		return -EINVAL;
	return comms_cert_check(b, n, &s->anchor, (uint64_t)time(NULL), false,
				s->dl, o, d, out);
}

static const char *cert_why(int r)
{
	return r == -EKEYREJECTED ? "the certificate names someone else"
	       : r == -EXDEV	  ? "the certificate names another device"
				  : tf_cert_reason(r);
}

static void save_cert(struct svc *s, const char *who, const uint8_t *b,
		      size_t n)
{
	comms_save_cert(s, who, b, n);
}

/* The codec and the request's files. The files named in the request
 * come as descriptors the CLI opened (in that order: in, out); the names
 * only say WAV or raw. The service opens no path for its caller: in a
 * persona it is another uid, and could read its own keys as "audio". A
 * file is no microphone: opened at once, so a bad one is refused before
 * anyone rings. */
static int media_open(struct svc *s, const char *in, const char *out, char *err,
		      size_t cap)
{
	int r;

	tf_media_enc_free(C.enc); /* an `answer` again after a bad file */
	tf_media_dec_free(C.dec);
	C.enc = NULL;
	C.dec = NULL;
	r = tf_media_enc_new(TF_MEDIA_LOSS_PCT, true, &C.enc);
	if (r == 0)
		r = tf_media_dec_new(&C.dec);
	if (r < 0) {
		snprintf(err, cap, "cannot start the Opus codec: %s",
			 strerror(-r));
		return r;
	}
	if (in && *in &&
	    (r = audio_in_open_fd(comms_take_fd(s), in, &C.ain, err, cap)) < 0)
		return r;
	if (out && *out &&
	    (r = audio_out_open_fd(comms_take_fd(s), out, &C.aout, err, cap)) <
		    0)
		return r;
	return 0;
}

/* The device for what no file covers, opened as the call becomes active
 * and closed by call_end: the microphone is live only during an active
 * call (docs/comms.md "Audio devices": a compromised relay or peer must
 * not be able to turn a ringing or idle phone into a bug, so nothing
 * reads the mic before the user answered or after the call). A device
 * that fails leaves the call up (silence out, nothing played): the
 * other side still works, and the line says what to fix. */
static void devices_open(void)
{
	char err[AUDIO_ERR_MAX];

	if (C.dev[0] == '\0')
		return;
	if (C.ain == NULL &&
	    audio_in_open(NULL, C.dev, &C.ain, err, sizeof(err)) < 0) {
		snprintf(C.audio_err, sizeof(C.audio_err), "%s", err);
		fprintf(stderr, PROG ": %s\n", err);
	}
	if (C.aout == NULL &&
	    audio_out_open(NULL, C.dev, &C.aout, err, sizeof(err)) < 0) {
		snprintf(C.audio_err, sizeof(C.audio_err), "%s", err);
		fprintf(stderr, PROG ": %s\n", err);
	}
}

void call_devices_again(struct svc *s)
{
	if (C.st != ST_ACTIVE || C.dev[0] == '\0' ||
	    (C.ain != NULL && C.aout != NULL))
		return;
	C.audio_err[0] = '\0';
	devices_open();
	comms_log(s, "call devices %s after twofoldd's audio yes",
		  C.audio_err[0] ? "still refused" : "open");
}

bool call_active(void)
{
	return C.st == ST_ACTIVE;
}

static void go_active(struct svc *s)
{
	const char *e = secure_getenv("TWOFOLD_COMMS_TEST_NO_JITTER_BUFFER");

	C.on_arrival = e && !strcmp(e, "1");
	tf_jb_init(&C.jb);
	devplay_init(&C.dp);
	set_state(ST_ACTIVE);
	/* first: in the background the device opens only once twofoldd
	 * sets it aside for this call ("audio yes": call_devices_again) */
	comms_tell_call(s, true);
	devices_open();
	C.t_answer = C.t_state;
	C.t_tx_start = C.next_tx = C.t_state;
	C.t_last_rx = C.t_state;
	comms_log(s, "call with %s active", C.peer);
}

/* ---- the caller ---- */

/* One fork: message 1 to f->addr, against the key its certificate
 * certifies; false (the fork is gone, the reason in why) when the
 * certificate is refused. */
static bool dial_fork(struct svc *s, struct fork *f, const uint8_t *cert,
		      size_t certlen, char *why, size_t cap)
{
	uint8_t pro[64 + 2 * TF_COMMS_ADDR_MAX], pl[TF_COMMS_INIT_PAYLOAD_MAX];
	uint8_t msg[TF_COMMS_PAYLOAD_MAX];
	struct tf_cert c;
	size_t prl;
	int r;

	f->st = FK_GONE;
	r = check_cert(s, cert, certlen, f->addr, &c);
	if (r < 0) {
		snprintf(why, cap, "cannot call %s: %s", f->addr, cert_why(r));
		return false;
	}
	prl = prologue(s, s->addr, f->addr, pro);
	r = tf_noise_hs_new(s->suite->id, true, s->pf.secret + TF_KEY_BYTES,
			    c.dh_pk, pro, prl, &f->hs);
	if (r < 0) {
		snprintf(why, cap, "cannot start the call handshake");
		return false;
	}
	/* message 1's payload: u64 timestamp (ns) | u16 n | our cert */
	put_be64(pl, comms_real_ns());
	pl[8] = (uint8_t)(s->certlen >> 8);
	pl[9] = (uint8_t)s->certlen;
	memcpy(pl + 10, s->cert, s->certlen);
	r = tf_noise_hs_write(f->hs, pl, 10 + s->certlen, msg, sizeof(msg) - 5);
	if (r < 0) {
		snprintf(why, cap, "cannot start the call handshake");
		return false;
	}
	fwd_to(s, f->addr, CALL_INIT, msg, (size_t)r);
	f->st = FK_DIAL;
	if (C.st == ST_FETCHING)
		set_state(ST_DIALING);
	return true;
}

/* No fork is left that may still ring or answer: the call fails with
 * why (the last fork's reason). */
static void forks_check(struct svc *s, const char *why)
{
	if (C.st != ST_FETCHING && C.st != ST_DIALING && C.st != ST_RINGING)
		return;
	if (forks_in(FK_FETCH) + forks_in(FK_DIAL) + forks_in(FK_RING) > 0)
		return;
	if (C.st == ST_FETCHING && !C.cert_cached && asked_devices && NF == 0)
		return; /* the DEVICES answer is still to come */
	call_end(s, why);
}

/* A fork to addr (officer/device), dialled at once from a kept
 * certificate, else after the relay's bundle (BUNDLE_GET). */
static void fork_add(struct svc *s, const char *addr)
{
	struct fork *f;
	uint8_t *b = NULL;
	size_t n;
	char why[400];

	if (fork_find(addr) || NF >= FORKS_MAX || !strcmp(addr, s->addr))
		return;
	f = &F[NF++];
	memset(f, 0, sizeof(*f));
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	if (comms_load_cert(s, addr, &b, &n) == 0) {
		f->cached = true;
		C.cert_cached = true;
		if (!dial_fork(s, f, b, n, why, sizeof(why)))
			comms_log(s, "%s", why); /* asked anew below */
		free(b);
		if (f->st == FK_DIAL)
			return;
	}
	/* not seen yet (or the kept one refused): the relay's bundle
	 * carries the certificate */
	f->st = FK_FETCH;
	f->cached = false;
	comms_relay_named(s, OP_BUNDLE_GET, addr, NULL, NULL, 0);
}

static void start_call(struct svc *s)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	struct dirent **ents = NULL;
	char p[512], a[TF_COMMS_ADDR_MAX + 1];
	int n;

	if (tf_random(&C.id, sizeof(C.id)) < 0) {
		call_end(s, "no randomness");
		return;
	}
	set_state(ST_FETCHING);
	if (!comms_addr_split(C.peer, o, d)) {
		call_end(s, "not an address");
		return;
	}
	if (d[0] != '\0') {
		fork_add(s, C.peer);
		return;
	}
	/* every device of the officer: those we know ring at once (no
	 * round trip more than a call to one device), and DEVICES names
	 * the others (and any new one) */
	if (comms_path(s, p, sizeof(p), "certs/%s", o) == 0 &&
	    (n = scandir(p, &ents, NULL, alphasort)) > 0) {
		for (int i = 0; i < n; i++) {
			if (comms_officer_ok(ents[i]->d_name) &&
			    (size_t)snprintf(a, sizeof(a), "%s/%s", o,
					     ents[i]->d_name) < sizeof(a))
				fork_add(s, a);
			free(ents[i]);
		}
		free(ents);
	}
	asked_devices = true;
	comms_relay_named(s, OP_DEVICES, o, NULL, NULL, 0);
}

void call_on_devices(struct svc *s, const uint8_t *b, size_t n)
{
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	char a[TF_COMMS_ADDR_MAX + 1];
	struct comms_devices dv;

	if (!C.outgoing || !asked_devices ||
	    (C.st != ST_FETCHING && C.st != ST_DIALING && C.st != ST_RINGING) ||
	    comms_parse_devices(b, n, &dv) < 0 ||
	    !comms_addr_split(C.peer, o, d) || d[0] != '\0' ||
	    strcmp(dv.officer, o) != 0)
		return;
	asked_devices = false;
	for (size_t i = 0; i < dv.count; i++)
		if ((size_t)snprintf(a, sizeof(a), "%s/%s", o, dv.dev[i]) <
		    sizeof(a))
			fork_add(s, a);
	forks_check(s, "cannot call: no device to ring");
}

void call_on_bundle(struct svc *s, const char *whose, const uint8_t *b,
		    size_t n)
{
	struct tf_e2e_bundle eb;
	struct fork *f;
	char why[400];
	int r;

	if (!C.outgoing || C.st == ST_IDLE || C.st == ST_ACTIVE ||
	    (f = fork_find(whose)) == NULL || f->st != FK_FETCH)
		return;
	char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];

	r = tf_e2e_bundle_parse(b, n, &eb);
	if (r == 0)
		r = comms_addr_split(whose, o, d) ? 0 : -EINVAL;
	if (r == 0)
		r = comms_bundle_check(&eb, &s->anchor, (uint64_t)time(NULL),
				       s->dl, o, d, NULL);
	/* a call needs a client: a group authority's service takes no
	 * calls */
	if (r == 0)
		r = check_cert(s, eb.cert, eb.certlen, whose, NULL);
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot call %s: %s", whose,
			 r == -EKEYREJECTED || r == -EXDEV
				 ? "the relay's certificate for them is forged"
				 : cert_why(r));
		fprintf(stderr, PROG ": %s\n", why);
		f->st = FK_GONE;
		forks_check(s, why);
		return;
	}
	save_cert(s, whose, eb.cert, eb.certlen);
	if (!dial_fork(s, f, eb.cert, eb.certlen, why, sizeof(why)))
		forks_check(s, why);
}

void call_on_error(struct svc *s, uint8_t code, uint8_t op, const char *name)
{
	char why[400], o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];
	char po[TF_CERT_ID_MAX + 1], pd[TF_CERT_ID_MAX + 1];

	if (code != ERR_OFFLINE && code != ERR_NO_PREKEYS)
		return;
	/* a relay that names the request: an 8 for a message's BUNDLE_GET
	 * or DEVICES to another officer is not the call's */
	if ((op == OP_BUNDLE_GET || op == OP_DEVICES) &&
	    comms_addr_split(name, o, d) && comms_addr_split(C.peer, po, pd) &&
	    strcmp(o, po) != 0)
		return;
	switch (C.st) {
	case ST_FETCHING:
		/* our BUNDLE_GET or DEVICES: 8, or 4 from an older relay
		 * (no FWD is in flight yet) */
		if (forks_in(FK_DIAL) > 0)
			break;
		snprintf(why, sizeof(why),
			 "cannot call %s: no such officer on this relay (never "
			 "registered)",
			 C.peer);
		call_end(s, why);
		break;
	case ST_DIALING:
		/* 8 answers a message's BUNDLE_GET, not our INIT; a 4 names
		 * no device: the call fails when every INIT got one */
		if (code != ERR_OFFLINE || ++n_offline < forks_in(FK_DIAL) ||
		    forks_in(FK_FETCH) > 0)
			break;
		snprintf(why, sizeof(why),
			 "cannot call %s: %s is not online; try again later",
			 C.peer, C.peer);
		call_end(s, why);
		break;
	case ST_RINGING:
		/* a 4 for a fork that never rang (an offline device of the
		 * officer): the others ring on */
		if (NF > 1)
			break;
		/* fall through */
	case ST_INCOMING:
	case ST_ACTIVE:
		/* 4 is an error for our FWD (an older relay's 4 may answer
		 * a message's BUNDLE_GET): trust it only when the peer has
		 * been silent too (a reconnecting peer is briefly absent) */
		if (code == ERR_OFFLINE && now_us() - C.t_last_rx > 1000000) {
			snprintf(why, sizeof(why), "%s went offline", C.peer);
			call_end(s, why);
		}
		break;
	default: break;
	}
}

static void on_ring(struct svc *s, struct fork *f, const uint8_t *msg, size_t n)
{
	uint8_t pl[16];
	char why[400];
	int r;

	if (f->st != FK_DIAL || !f->hs)
		return;
	r = tf_noise_hs_read(f->hs, msg, n, pl, sizeof(pl));
	if (r < 1) {
		/* forged or damaged: the handshake state is spent, so this
		 * fork fails */
		C.rejected++;
		f->st = FK_GONE;
		forks_check(s, "the call answer failed authentication (forged "
			       "by the relay or damaged)");
		return;
	}
	/* the keys now, while it rings: media flows the moment it answers */
	if (derive_into(s, &f->hs, true, &f->tx_media, &f->rx_media, &f->tx_ctl,
			&f->rx_ctl) < 0) {
		f->st = FK_GONE;
		forks_check(s, "cannot derive the call keys");
		return;
	}
	tf_sframe_window_init(&f->win_ctl);
	f->tx_ctl_ctr = 0;
	if (pl[0] == RING_BUSY) {
		f->st = FK_GONE;
		snprintf(why, sizeof(why), "%s is busy", C.peer);
		forks_check(s, why);
		return;
	}
	f->st = FK_RING;
	if (C.st == ST_RINGING)
		return; /* another device rings as well */
	set_state(ST_RINGING);
	C.t_ring = C.t_state;
	C.t_last_rx = C.t_state;
	snprintf(why, sizeof(why), "ringing %s", C.peer);
	pending_reply("ok", why);
}

/* The fork that answered: its keys become the call's, the others are
 * told (sealed, each under its own key) that it was answered elsewhere
 * and stop ringing. */
static void fork_won(struct svc *s, struct fork *f)
{
	forks_ctl(s, CTL_ELSEWHERE, f);
	snprintf(C.peer, sizeof(C.peer), "%s", f->addr);
	C.tx_media = steal_pointer(&f->tx_media);
	C.rx_media = steal_pointer(&f->rx_media);
	C.tx_ctl = steal_pointer(&f->tx_ctl);
	C.rx_ctl = steal_pointer(&f->rx_ctl);
	C.win_ctl = f->win_ctl;
	C.tx_ctl_ctr = f->tx_ctl_ctr;
	tf_sframe_window_init(&C.win_media);
	C.rekey_frames = rekey_frames();
	C.tx_epoch_frames = 0;
	forks_free();
	go_active(s);
}

/* An SFrame frame from fork f before any answer: its ANSWER (or its
 * first media frame, when the ANSWER was lost) makes it the call; a
 * DECLINE ends only that fork. */
static void fork_sframe(struct svc *s, struct fork *f, const uint8_t *fr,
			size_t n)
{
	uint8_t pt[8];
	uint64_t kid, ctr;
	int r;

	if (f->st != FK_RING || tf_sframe_peek(fr, n, &kid, &ctr) < 0) {
		C.rejected++;
		return;
	}
	if (kid != tf_sframe_key_kid(f->rx_ctl)) {
		const struct tf_sframe_key *k =
			tf_callkey_rx_find(f->rx_media, kid, now_us());
		uint8_t m[TF_MEDIA_PKT_BYTES + 64];

		/* media that opens under this fork's key: it was answered
		 * (its ANSWER was lost). Opened here only to know; on_sframe
		 * takes the frame under the call's keys next. */
		if (k == NULL || tf_sframe_open(k, fr, n, m, sizeof(m)) < 0) {
			C.rejected++;
			return;
		}
		tf_memzero(m, sizeof(m));
		fork_won(s, f);
		return;
	}
	if (tf_sframe_window_check(&f->win_ctl, ctr) < 0 ||
	    (r = tf_sframe_open(f->rx_ctl, fr, n, pt, sizeof(pt))) < 0) {
		C.rejected++;
		return;
	}
	(void)tf_sframe_window_update(&f->win_ctl, ctr);
	C.t_last_rx = now_us();
	if (r != 1)
		return;
	if (pt[0] == CTL_ANSWER) {
		fork_won(s, f);
	} else if (pt[0] == CTL_DECLINE || pt[0] == CTL_HANGUP) {
		char why[400];

		snprintf(why, sizeof(why), "%s declined", f->addr);
		f->st = FK_GONE;
		forks_check(s, why);
	}
}

/* ---- the callee ---- */

static bool ts_fresh(uint64_t serial, uint64_t ts)
{
	uint64_t now = comms_real_ns();

	if (ts + INIT_SKEW_NS < now || ts > now + INIT_SKEW_NS)
		return false;
	for (size_t i = 0; i < C.nseen; i++) {
		if (C.seen[i].serial != serial)
			continue;
		if (ts <= C.seen[i].ts)
			return false;
		C.seen[i].ts = ts;
		return true;
	}
	if (C.nseen == SEEN_MAX)
		C.nseen = 0; /* the skew bound still refuses old ones */
	C.seen[C.nseen].serial = serial;
	C.seen[C.nseen++].ts = ts;
	return true;
}

static void refuse(struct svc *s, const char *from, const char *why)
{
	/* shown to the user: a forged call is an attack */
	snprintf(C.refused, sizeof(C.refused), "%s: %s", from, why);
	fprintf(stderr, PROG ": call said to be from %s refused: %s\n", from,
		why);
}

static void on_init(struct svc *s, const char *from, uint32_t id,
		    const uint8_t *msg, size_t n)
{
	_cleanup_noise_hs_ struct tf_noise_hs *hs = NULL;
	uint8_t pro[64 + 2 * TF_COMMS_ADDR_MAX], pl[TF_COMMS_INIT_PAYLOAD_MAX];
	uint8_t out[TF_COMMS_PAYLOAD_MAX], st;
	const uint8_t *rs;
	struct tf_cert c;
	uint32_t saved = C.id;
	size_t cl, rsl, prl;
	bool busy = C.st != ST_IDLE;
	int r, m;

	C.id = id; /* the prologue names the caller's id */
	prl = prologue(s, from, s->addr, pro);
	C.id = saved;
	if (tf_noise_hs_new(s->suite->id, false, s->pf.secret + TF_KEY_BYTES,
			    NULL, pro, prl, &hs) < 0)
		return;
	r = tf_noise_hs_read(hs, msg, n, pl, sizeof(pl));
	if (r < 10) {
		refuse(s, from, "the call set-up failed authentication");
		return;
	}
	cl = (size_t)pl[8] << 8 | pl[9];
	if (cl != (size_t)r - 10) {
		refuse(s, from, "a malformed call set-up");
		return;
	}
	r = check_cert(s, pl + 10, cl, from, &c);
	rs = tf_noise_hs_remote_static(hs, &rsl);
	if (r == 0 &&
	    (rs == NULL || rsl != c.dh_pk_len || memcmp(rs, c.dh_pk, rsl) != 0))
		r = -EKEYREJECTED;
	if (r < 0) {
		refuse(s, from, cert_why(r));
		return;
	}
	if (!ts_fresh(c.serial, get_be64(pl))) {
		refuse(s, from, "a replayed call set-up");
		return;
	}
	save_cert(s, from, pl + 10, cl);
	st = busy ? RING_BUSY : RING_RINGING;
	m = tf_noise_hs_write(hs, &st, 1, out, sizeof(out));
	if (m < 0)
		return;
	if (busy) {
		/* authenticated "busy" in message 2; our call goes on */
		uint8_t b[TF_COMMS_PAYLOAD_MAX];
		b[0] = CALL_RING;
		put_be32(b + 1, id);
		memcpy(b + 5, out, (size_t)m);
		comms_relay_named(s, OP_FWD, from, NULL, b, 5 + (size_t)m);
		fprintf(stderr, PROG ": missed a call from %s (busy)\n", from);
		return;
	}
	memset(&C, 0, offsetof(struct call, seen));
	C.pending_fd = -1;
	C.id = id;
	C.outgoing = false;
	snprintf(C.peer, sizeof(C.peer), "%s", from);
	C.hs = steal_pointer(&hs);
	C.t_dial = now_us();
	if (derive_keys(s) < 0) {
		call_end(s, "cannot derive the call keys");
		return;
	}
	fwd(s, CALL_RING, out, (size_t)m);
	set_state(ST_INCOMING);
	C.t_ring = C.t_last_rx = C.t_state;
	fprintf(stderr, PROG ": incoming call from %s\n", from);
}

/* ---- media ---- */

static void play(const int16_t *pcm)
{
	char err[AUDIO_ERR_MAX];

	if (!C.aout || audio_out_write(C.aout, pcm, err, sizeof(err)) >= 0)
		return;
	snprintf(C.audio_err, sizeof(C.audio_err), "%s", err);
	fprintf(stderr, PROG ": %s\n", err);
	(void)audio_out_close(C.aout);
	C.aout = NULL;
}

/* the order frames are played in: strictly increasing (the test checks
 * call_misordered stays 0 through a reordering link) */
static void played(uint64_t k)
{
	if (C.played_any && k <= C.last_played)
		C.misordered++;
	C.played_any = true;
	C.last_played = k;
}

/* Without the jitter buffer (test only): frame k plays when it arrives;
 * a frame behind the play-out point is dropped, a gap is filled from the
 * revealing packet's FEC (the frame just before it) and concealment. */
static void on_arrival(uint64_t k, const uint8_t *pkt, size_t n, uint64_t t)
{
	int16_t pcm[TF_MEDIA_FRAME];

	if (k < C.rx_next) {
		C.late++; /* past its play-out time */
		return;
	}
	if (k - C.rx_next > MAX_GAP) {
		/* more than a minute missing: start a new timeline */
		C.lost += k - C.rx_next;
		C.rx_next = k;
	}
	while (C.rx_next < k) {
		/* the frame just before this packet comes back from its
		 * in-band FEC; earlier ones are concealed */
		if (C.rx_next + 1 == k) {
			if (tf_media_decode_fec(C.dec, pkt, n, pcm) < 0)
				memset(pcm, 0, sizeof(pcm));
			C.fec++;
		} else if (tf_media_decode(C.dec, NULL, 0, pcm) < 0) {
			memset(pcm, 0, sizeof(pcm));
		}
		C.lost++;
		play(pcm);
		played(C.rx_next);
		C.rx_next++;
	}
	if (tf_media_decode(C.dec, pkt, n, pcm) < 0) {
		C.rejected++;
		if (tf_media_decode(C.dec, NULL, 0, pcm) < 0)
			memset(pcm, 0, sizeof(pcm));
	} else if (!C.t_first_audio) {
		C.t_first_audio = t;
	}
	if (!C.t_first_play)
		C.t_first_play = t;
	play(pcm);
	played(k);
	C.play_off_sum += (double)t - (double)k * TF_MEDIA_FRAME_MS * 1000;
	C.play_off_n++;
	C.rx_next = k + 1;
	C.rx_frames++;
}

static void on_media(struct svc *s, uint64_t ctr, const uint8_t *pkt, size_t n)
{
	uint64_t k, t = now_us();
	int r;

	if (C.st == ST_RINGING && C.outgoing)
		go_active(s); /* media before the ANSWER: it was answered */
	if (C.st != ST_ACTIVE || ctr < CTR_BASE)
		return;
	k = ctr - CTR_BASE;
	C.rx_off_sum += (double)t - (double)k * TF_MEDIA_FRAME_MS * 1000;
	C.rx_off_n++;
	if (C.rx_off_n > 1 && k < C.rx_top)
		C.reordered++; /* behind one that arrived before it */
	else
		C.rx_top = k;
	if (C.on_arrival) {
		on_arrival(k, pkt, n, t);
		return;
	}
	r = tf_jb_put(&C.jb, k, pkt, n, t);
	if (r < 0)
		return; /* late, a duplicate, beyond the buffer: counted there */
	C.rx_frames++;
	if (!C.t_first_audio)
		C.t_first_audio = t; /* decrypted; it plays after the delay */
}

static void played_cb(uint64_t k, void *arg)
{
	(void)arg;
	played(k);
}

/* On a sound card: what it wants now (devplay.h) */
static void playout_dev(uint64_t t)
{
	char err[AUDIO_ERR_MAX];

	if (devplay_tick(&C.dp, C.aout, &C.jb, C.dec, true, t, played_cb, NULL,
			 err, sizeof(err)) < 0) {
		snprintf(C.audio_err, sizeof(C.audio_err), "%s", err);
		fprintf(stderr, PROG ": %s\n", err);
		C.dev_xruns += audio_out_xruns(C.aout);
		(void)audio_out_close(C.aout);
		C.aout = NULL;
	}
	if (C.dp.started && !C.t_first_play)
		C.t_first_play = t;
	C.rejected += C.dp.bad;
	C.dp.bad = 0;
}

/* Play every frame the jitter buffer has due (call_tick, every 20 ms). */
static void playout(uint64_t t)
{
	int16_t pcm[TF_MEDIA_FRAME];
	struct tf_jb_out o;
	enum tf_jb_what w;

	if (audio_out_is_dev(C.aout)) {
		playout_dev(t);
		goto counts;
	}
	while ((w = tf_jb_pop(&C.jb, t, &o)) != TF_JB_WAIT) {
		switch (w) {
		case TF_JB_PLAY:
			if (tf_media_decode(C.dec, o.pkt, o.len, pcm) < 0) {
				C.rejected++;
				if (tf_media_decode(C.dec, NULL, 0, pcm) < 0)
					memset(pcm, 0, sizeof(pcm));
			}
			C.play_off_sum +=
				(double)t -
				(double)o.idx * TF_MEDIA_FRAME_MS * 1000;
			C.play_off_n++;
			if (!C.t_first_play)
				C.t_first_play = t;
			break;
		case TF_JB_FEC:
			/* the next frame is buffered and plays next */
			if (tf_media_decode_fec(C.dec, o.pkt, o.len, pcm) < 0)
				memset(pcm, 0, sizeof(pcm));
			break;
		default:
			if (tf_media_decode(C.dec, NULL, 0, pcm) < 0)
				memset(pcm, 0, sizeof(pcm));
			break;
		}
		play(pcm);
		played(o.idx);
	}
	tf_memzero(pcm, sizeof(pcm));
counts:
	C.lost = C.jb.fec + C.jb.concealed + C.jb.skipped;
	C.fec = C.jb.fec;
	C.late = C.jb.late;
}

static void on_sframe(struct svc *s, const uint8_t *fr, size_t n)
{
	uint8_t pt[TF_MEDIA_PKT_BYTES + 64];
	const struct tf_sframe_key *k;
	struct tf_sframe_window *w;
	uint64_t kid, ctr, t = now_us();
	bool media = false;
	int r;

	if (!C.rx_media || tf_sframe_peek(fr, n, &kid, &ctr) < 0) {
		C.rejected++;
		return;
	}
	if (kid == tf_sframe_key_kid(C.rx_ctl)) {
		k = C.rx_ctl;
		w = &C.win_ctl;
	} else if ((k = tf_callkey_rx_find(C.rx_media, kid, t))) {
		/* this epoch's, the next one's, or the last one's within
		 * its grace */
		w = &C.win_media;
		media = true;
	} else {
		/* two or more epochs ahead, a wiped old one, or no KID of
		 * ours */
		C.no_key++;
		C.rejected++;
		return;
	}
	if (tf_sframe_window_check(w, ctr) < 0) {
		C.rejected++; /* a replay */
		return;
	}
	r = tf_sframe_open(k, fr, n, pt, sizeof(pt));
	if (r < 0) {
		C.rejected++;
		return;
	}
	(void)tf_sframe_window_update(w, ctr);
	C.t_last_rx = t;
	if (media) {
		/* authenticated under the next epoch's key: the sender
		 * stepped; follow (and precompute the one after) */
		int st = tf_callkey_rx_opened(C.rx_media, kid, t);

		if (st > 0)
			C.rx_steps++;
		else if (st < 0)
			comms_log(s, "cannot derive the next media key: %s",
				  strerror(-st));
		on_media(s, ctr, pt, (size_t)r);
		return;
	}
	if (r != 1)
		return;
	switch (pt[0]) {
	case CTL_ANSWER:
		if (C.st == ST_RINGING && C.outgoing)
			go_active(s);
		break;
	case CTL_HANGUP:
	case CTL_DECLINE: {
		char why[400];
		snprintf(why, sizeof(why), "%s %s", C.peer,
			 pt[0] == CTL_HANGUP ? "hung up" : "declined");
		call_end(s, why);
		break;
	}
	case CTL_ELSEWHERE:
		/* the caller's other fork won: another device of ours
		 * answered; this one stops ringing */
		if (!C.outgoing) { /* ringing, or answered a moment late */
			fprintf(stderr,
				PROG ": the call from %s was answered on "
				     "another device\n",
				C.peer);
			call_end(s, "answered elsewhere");
		}
		break;
	default: break;
	}
}

bool call_on_from(struct svc *s, const char *from, const uint8_t *b, size_t n)
{
	uint32_t id;

	if (n < 1 || b[0] < CALL_FWD_FIRST || b[0] > CALL_FWD_LAST)
		return false;
	if (n < 5)
		return true;
	id = get_be32(b + 1);
	if (b[0] == CALL_INIT) {
		on_init(s, from, id, b + 5, n - 5);
		return true;
	}
	/* everything else belongs to the current call and its peer (a
	 * fork of ours before the answer) */
	if (C.st == ST_IDLE || id != C.id)
		return true;
	if (C.outgoing && C.st != ST_ACTIVE) {
		struct fork *f = fork_find(from);

		if (f == NULL)
			return true;
		if (b[0] == CALL_RING)
			on_ring(s, f, b + 5, n - 5);
		else if (b[0] == CALL_CTL || b[0] == CALL_MEDIA)
			fork_sframe(s, f, b + 5, n - 5);
		if (C.st == ST_ACTIVE && b[0] == CALL_MEDIA &&
		    !strcmp(from, C.peer))
			on_sframe(s, b + 5, n - 5); /* the frame that won */
		return true;
	}
	if (strcmp(from, C.peer) != 0)
		return true;
	if (b[0] == CALL_CTL || b[0] == CALL_MEDIA)
		on_sframe(s, b + 5, n - 5);
	return true;
}

static void send_media(struct svc *s)
{
	int16_t pcm[TF_MEDIA_FRAME] = {0};
	uint8_t pkt[TF_MEDIA_PKT_BYTES], fr[TF_MEDIA_PKT_BYTES + 64];
	char err[AUDIO_ERR_MAX];
	int n;

	/* a file that ended: silence from then on; a device with no period
	 * ready: silence this once */
	if (C.ain && (n = audio_in_read(C.ain, pcm, err, sizeof(err))) < 0 &&
	    n != -ENODATA) {
		snprintf(C.audio_err, sizeof(C.audio_err), "%s", err);
		fprintf(stderr, PROG ": %s\n", err);
		audio_in_close(C.ain);
		C.ain = NULL;
	}
	if (tf_media_encode(C.enc, pcm, pkt) < 0)
		return;
	if (C.tx_epoch_frames >= C.rekey_frames) {
		/* the next epoch: the old key and base are wiped; frames
		 * already sent under it stay readable for the receiver's
		 * grace */
		if (tf_callkey_tx_next(C.tx_media) == 0)
			C.tx_epoch_frames = 0;
		else
			comms_log(s, "cannot step the media key; the call "
				     "goes on under the current one");
	}
	n = tf_sframe_seal(tf_callkey_tx_key(C.tx_media),
			   CTR_BASE + C.tx_frames, pkt, sizeof(pkt), fr,
			   sizeof(fr));
	tf_memzero(pcm, sizeof(pcm));
	if (n < 0)
		return;
	C.tx_frames++;
	C.tx_epoch_frames++;
	fwd(s, CALL_MEDIA, fr, (size_t)n);
}

int call_poll_timeout(struct svc *s, int dflt)
{
	uint64_t t, due;

	(void)s;
	if (C.st != ST_ACTIVE)
		return dflt;
	t = now_us();
	due = C.next_tx;
	/* a sound card is fed on the 20 ms clock (its queue holds 60 ms);
	 * its lag behind the jitter buffer's time is the sink's business */
	if (!C.on_arrival && !audio_out_is_dev(C.aout) &&
	    tf_jb_due_us(&C.jb) < due)
		due = tf_jb_due_us(&C.jb);
	if (due <= t)
		return 0;
	return (int)((due - t) / 1000) < dflt ? (int)((due - t + 999) / 1000)
					      : dflt;
}

void call_tick(struct svc *s)
{
	uint64_t t = now_us();
	char why[400];

	switch (C.st) {
	case ST_FETCHING:
	case ST_DIALING:
		if (t - C.t_state > SETUP_TIMEOUT_US) {
			char p[512];

			/* a kept certificate may be outdated (the peer was
			 * issued a new key): the next call asks the relay */
			for (size_t i = 0; i < NF; i++)
				if (F[i].cached &&
				    comms_path(s, p, sizeof(p), "certs/%s",
					       F[i].addr) == 0)
					(void)unlink(p);
			snprintf(why, sizeof(why),
				 "cannot call %s: %s did not respond (offline "
				 "or unreachable); try again later",
				 C.peer, C.peer);
			call_end(s, why);
		}
		break;
	case ST_RINGING:
	case ST_INCOMING:
		if (t - C.t_state > RING_TIMEOUT_US) {
			if (C.outgoing)
				forks_ctl(s, CTL_HANGUP, NULL);
			snprintf(why, sizeof(why), "%s from %s",
				 C.outgoing ? "no answer" : "missed call",
				 C.peer);
			call_end(s, why);
		}
		break;
	case ST_ACTIVE:
		/* paced by the clock; a late wake-up sends what is due (at
		 * most 5 frames), a longer stall skips ahead */
		for (int i = 0; i < 5 && C.next_tx <= t; i++) {
			send_media(s);
			C.next_tx += TF_MEDIA_FRAME_MS * 1000;
		}
		if (C.next_tx <= t)
			C.next_tx = t + TF_MEDIA_FRAME_MS * 1000;
		if (!C.on_arrival)
			playout(t);
		if (t - C.t_last_rx > RX_TIMEOUT_US) {
			snprintf(why, sizeof(why),
				 "connection to %s lost (nothing for 10 s)",
				 C.peer);
			call_end(s, why);
		}
		break;
	default: break;
	}
}

/* ---- the CLI's requests ---- */

/* the request's device, else the service's --audio-dev ("" none) */
static int pick_dev(struct svc *s, int fd, const char *dev)
{
	if (dev && *dev && !audio_dev_ok(dev)) {
		comms_reply(fd, "error audio device name refused\n");
		return -EINVAL;
	}
	snprintf(C.dev, sizeof(C.dev), "%s", dev && *dev ? dev : s->audio_dev);
	return 0;
}

/* "call\nPEER\nIN\nOUT[\nDEV]", "answer\nIN\nOUT[\nDEV]", "hangup" */
int call_control(struct svc *s, int fd, char *req)
{
	char *f[5] = {0}, *p = req, err[AUDIO_ERR_MAX];
	int nf = 0, r;

	if (strncmp(req, "call\n", 5) && strncmp(req, "answer\n", 7) &&
	    strcmp(req, "hangup") && strcmp(req, "answer"))
		return 0;
	while (nf < 5 && p) {
		f[nf++] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	if (!strcmp(f[0], "call")) {
		char o[TF_CERT_ID_MAX + 1], d[TF_CERT_ID_MAX + 1];

		if (nf < 4 || !comms_addr_split(f[1], o, d)) {
			comms_reply(fd, "error call wants an officer id or "
					"officer/device\n");
			return 1;
		}
		if (C.st != ST_IDLE) {
			comms_reply(fd,
				    "error a call with %s is in progress; hang "
				    "up first\n",
				    C.peer);
			return 1;
		}
		if (!strcmp(o, s->me.officer)) {
			comms_reply(fd, "error you cannot call yourself\n");
			return 1;
		}
		if (!s->connected) {
			comms_reply(fd, "error the relay is unreachable; try "
					"again when `status` says connected\n");
			return 1;
		}
		memset(&C, 0, offsetof(struct call, seen));
		C.pending_fd = -1;
		C.outgoing = true;
		snprintf(C.peer, sizeof(C.peer), "%s", f[1]);
		snprintf(C.in_path, sizeof(C.in_path), "%s", f[2]);
		snprintf(C.out_path, sizeof(C.out_path), "%s", f[3]);
		if (pick_dev(s, fd, f[4]) < 0) {
			call_end(s, "audio device refused");
			return 1;
		}
		r = media_open(s, f[2], f[3], err, sizeof(err));
		if (r < 0) {
			comms_reply(fd, "error %s\n", err);
			call_end(s, "audio files refused");
			return 1;
		}
		C.t_dial = now_us();
		C.pending_fd = fd;
		start_call(s);
		return 2;
	}
	if (!strcmp(f[0], "answer")) {
		if (C.st != ST_INCOMING) {
			comms_reply(fd, "error no incoming call to answer\n");
			return 1;
		}
		snprintf(C.in_path, sizeof(C.in_path), "%s",
			 nf > 1 ? f[1] : "");
		snprintf(C.out_path, sizeof(C.out_path), "%s",
			 nf > 2 ? f[2] : "");
		if (pick_dev(s, fd, nf > 3 ? f[3] : NULL) < 0)
			return 1;
		audio_in_close(C.ain);
		(void)audio_out_close(C.aout);
		C.ain = NULL;
		C.aout = NULL;
		C.audio_err[0] = '\0';
		r = media_open(s, C.in_path, C.out_path, err, sizeof(err));
		if (r < 0) {
			comms_reply(fd, "error %s\n", err);
			return 1;
		}
		send_ctl(s, CTL_ANSWER);
		go_active(s);
		/* a device that failed: answered all the same (the caller
		 * hears our silence), and told on a second line */
		comms_reply(fd, "ok answered %s\n%s%s%s", C.peer,
			    C.audio_err[0] ? "warning: " : "", C.audio_err,
			    C.audio_err[0] ? "\n" : "");
		return 1;
	}
	/* hangup */
	if (C.st == ST_IDLE) {
		comms_reply(fd, "error no call to hang up\n");
		return 1;
	}
	{
		char why[400];
		uint8_t what = C.st == ST_INCOMING ? CTL_DECLINE : CTL_HANGUP;

		/* three times: one lost datagram must not leave the peer's
		 * call open (the peer ignores the repeats); before an
		 * answer, to every device that rings */
		if (C.outgoing && C.st != ST_ACTIVE)
			forks_ctl(s, what, NULL);
		else
			for (int i = 0; i < 3; i++)
				send_ctl(s, what);
		snprintf(why, sizeof(why), "hung up (%s)",
			 what == CTL_DECLINE ? "declined" : "by us");
		comms_reply(fd, "ok hung up %s\n", C.peer);
		call_end(s, why);
	}
	return 1;
}

size_t call_status(struct svc *s, char *out, size_t cap)
{
	int n;

	(void)s;
	n = snprintf(
		out, cap,
		"call %s\n"
		"call_peer %s\n"
		"call_direction %s\n"
		"call_dial_us %llu\ncall_ring_us %llu\ncall_answer_us %llu\n"
		"call_first_audio_us %llu\ncall_tx_start_us %llu\n"
		"call_rx_offset_us %.0f\ncall_play_offset_us %.0f\n"
		"call_first_play_us %llu\ncall_jitter_delay_us %lld\n"
		"call_reordered %llu\ncall_misordered %llu\n"
		"call_duplicates %llu\n"
		"call_tx_epoch %llu\ncall_rx_epoch %llu\ncall_rx_rekeys %llu\n"
		"call_no_key %llu\n"
		"call_tx_frames %llu\ncall_rx_frames %llu\ncall_lost %llu\n"
		"call_fec %llu\ncall_late %llu\ncall_rejected %llu\n"
		"call_forks %zu\ncall_forks_ringing %zu\n"
		"call_ended %s\ncall_refused %s\n"
		"call_audio_dev %s\ncall_audio_error %s\n"
		"call_dev_frames %llu\ncall_dev_concealed %llu\n"
		"call_dev_inserted %llu\ncall_dev_dropped %llu\n"
		"call_dev_xruns %llu\ncall_play_lag_us %lld\n"
		"call_play_lag_max_us %lld\n",
		state_names[C.st], C.peer[0] ? C.peer : "-",
		C.outgoing ? "out" : "in", (unsigned long long)C.t_dial,
		(unsigned long long)C.t_ring, (unsigned long long)C.t_answer,
		(unsigned long long)C.t_first_audio,
		(unsigned long long)C.t_tx_start,
		C.rx_off_n ? C.rx_off_sum / (double)C.rx_off_n : 0.0,
		C.play_off_n ? C.play_off_sum / (double)C.play_off_n : 0.0,
		(unsigned long long)C.t_first_play,
		(long long)(C.on_arrival ? 0 : C.jb.delay_us),
		(unsigned long long)C.reordered,
		(unsigned long long)C.misordered, (unsigned long long)C.jb.dups,
		(unsigned long long)(C.tx_media
					     ? tf_callkey_tx_epoch(C.tx_media)
					     : 0),
		(unsigned long long)(C.rx_media
					     ? tf_callkey_rx_epoch(C.rx_media)
					     : 0),
		(unsigned long long)C.rx_steps, (unsigned long long)C.no_key,
		(unsigned long long)C.tx_frames,
		(unsigned long long)C.rx_frames, (unsigned long long)C.lost,
		(unsigned long long)C.fec, (unsigned long long)C.late,
		(unsigned long long)C.rejected, NF, forks_in(FK_RING),
		C.ended[0] ? C.ended : "-", C.refused[0] ? C.refused : "-",
		C.dev[0] ? C.dev : "-", C.audio_err[0] ? C.audio_err : "-",
		(unsigned long long)C.dp.frames,
		(unsigned long long)C.dp.concealed,
		(unsigned long long)C.dp.po.inserted,
		(unsigned long long)C.dp.dropped,
		(unsigned long long)(C.dev_xruns + audio_out_xruns(C.aout)),
		(long long)C.dp.po.lag_us, (long long)C.dp.po.lag_max_us);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

void call_shutdown(struct svc *s)
{
	if (C.st != ST_IDLE) {
		if (C.outgoing && C.st != ST_ACTIVE)
			forks_ctl(s, CTL_HANGUP, NULL);
		else
			send_ctl(s, CTL_HANGUP);
		call_end(s, "the service stopped");
	}
}
