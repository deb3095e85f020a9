/* SPDX-License-Identifier: ISC */
/*
 * twofold-comms' talk groups and push-to-talk (issue 15; the protocol is
 * docs/comms-protocol.md "Talk groups"). Hooked into comms.c: key
 * messages from the group authority arrive as end-to-end messages
 * (ptt_on_text), the relay's group replies through ptt_on_reply, the CLI
 * through ptt_on_control, and the 20 ms frame clock through ptt_tick.
 *
 * Trust: an epoch secret is used only when (1) it came over the pairwise
 * session with the device whose key the roster's authority certificate
 * certifies, (2) the roster the relay hands out has the hash the key
 * message names, and (3) that roster verifies against the CA and the
 * deny-list as signed by a group authority, with an epoch newer than the
 * one held. A relay can therefore neither add a ghost member nor replay an
 * old epoch; a refusal is printed and shown in `status`.
 *
 * Media: Opus (twofold/media.h: 16 kHz mono, 20 ms, CBR 24 kbit/s with
 * in-band FEC, every packet padded to 60 bytes, so packet sizes say
 * nothing about the speech), one SFrame frame per datagram under the
 * talker key of (epoch, our roster index); a lost frame is rebuilt from
 * the next one's FEC, or concealed.
 * Capture starts at the key press: frames read while the floor is still
 * being asked for are buffered and sent the moment it is granted, so no
 * speech is clipped.
 *
 * Audio devices (audio.h; docs/comms.md "Audio devices"): the capture
 * (--audio-in file, else the press's or the service's --audio-dev) is
 * opened at the press and closed at the release, the floor's loss or the
 * file's end: the microphone is never open while the key is up, so
 * nothing that reaches the service (a relay, a forged floor grant, a
 * bug in the persona's apps that asks it) can listen in on an idle
 * officer. Received bursts are always decoded and written to
 * --audio-out as before; they play on the device only while the secure
 * persona holds the foreground (twofoldd says so, svc.h) or a call is
 * active, so a background persona does not speak over the foreground
 * one's apps (or in a room the officer has left it in); `status` counts
 * the frames not played for that reason. On the device a burst plays by
 * the card's clock (devplay.h): its packets go into a jitter buffer of
 * their own (with a decoder of its own), a frame missing while the floor
 * is taken is concealed so the card never runs dry, and silence follows
 * the burst until the device is closed 0.5 s after its last frame.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audio.h"
#include "call.h"
#include "devplay.h"
#include "svc.h"
#include "twofold/atomicfile.h"
#include "twofold/media.h"
#include "twofold/roster.h"
#include "twofold/secmem.h"
#include "twofold/sframe.h"

#define GROUPS_MAX 16
#define FRAME_BYTES TF_MEDIA_PKT_BYTES /* one Opus packet, 20 ms */
#define FRAME_MS TF_MEDIA_FRAME_MS
#define CONCEAL_MAX 5	  /* frames rebuilt for one gap; more is silence */
#define BUFFER_FRAMES 250 /* 5 s of speech captured before a grant */

enum {
	OP_JOIN = 0x30,
	OP_STATE = 0x31,
	OP_FLOOR_REQ = 0x32,
	OP_FLOOR_REL = 0x33,
	OP_FLOOR = 0x34,
	OP_MEDIA = 0x35,
	OP_FRAME = 0x36,
	OP_LEAVE = 0x37,
	OP_ROSTER_GET = 0x38,
	OP_ROSTER = 0x39,
	OP_JOIN_EPOCH = 0x3a,
};
enum { EV_GRANTED = 1, EV_QUEUED, EV_DENIED, EV_REVOKED, EV_RELEASED, EV_IDLE };

struct pgroup {
	char id[TF_CERT_ID_MAX + 1];
	/* the epoch in force */
	uint64_t epoch;
	uint8_t *secret;       /* secure memory; NULL: none yet */
	struct ptt_grace prev; /* the epoch before, for frames in flight */
	struct ptt_hold hold;  /* frames of a newer epoch, until its key */
	struct tf_roster *roster;
	uint8_t *wire; /* the roster as signed: uploaded when the relay
			  does not hold it (it restarted) */
	size_t wire_len;
	uint64_t join_ms; /* when we last asked to join */
	int me;		  /* our roster index */
	/* a key message waiting for its roster */
	bool pending;
	uint64_t p_epoch;
	uint8_t p_hash[TF_HASH_BYTES];
	uint8_t *p_secret;
	char p_from[TF_CERT_ID_MAX + 1];
	uint8_t p_ik[TF_PK_MAX];
	size_t p_iklen;
	uint8_t *rbuf;
	size_t rtotal, rhave;
	/* the floor as the relay tells it */
	bool joined, taken, emergency, queued;
	char talker[TF_CERT_ID_MAX + 1];
	uint32_t burst;
	/* our own burst */
	bool pressed, granted;
	uint32_t my_burst;
	struct audio_in *ain; /* open only while pressed */
	struct tf_media_enc *enc;
	uint64_t next_ms, ctr;
	uint8_t (*buf)[FRAME_BYTES];
	size_t nbuf;
	/* what we heard: one decoder per burst */
	struct tf_media_dec *dec;
	uint32_t dec_burst;
	uint64_t last_ctr;
	unsigned heard, concealed, undecryptable;
	/* frames played on the device, and not played because the persona
	 * was in the background (status) */
	unsigned played, muted;
	char refusal[200];
};

struct ptt {
	struct pgroup g[GROUPS_MAX];
	struct tf_audio_writer *out; /* --audio-out, NULL none */
	/* the service's --audio-dev while a burst plays on it */
	struct audio_out *dev;
	uint64_t dev_last_ms; /* the last frame received for it */
	char dev_err[AUDIO_ERR_MAX];
	/* the burst on the device: its own jitter buffer and decoder */
	struct pgroup *dg;
	uint32_t dburst;
	struct tf_jb jb;
	struct tf_media_dec *ddec;
	struct devplay dp;
	uint64_t xruns; /* of the devices closed */
};

static struct ptt P;

static struct pgroup *group_get(struct svc *s, const char *id, bool make)
{
	struct pgroup *free_slot = NULL;

	(void)s;
	for (size_t i = 0; i < GROUPS_MAX; i++) {
		if (P.g[i].id[0] && !strcmp(P.g[i].id, id))
			return &P.g[i];
		if (!P.g[i].id[0] && !free_slot)
			free_slot = &P.g[i];
	}
	if (!make || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	snprintf(free_slot->id, sizeof(free_slot->id), "%s", id);
	free_slot->me = -1;
	return free_slot;
}

static size_t put_name(uint8_t *b, const char *n)
{
	size_t l = strlen(n);

	b[0] = (uint8_t)l;
	memcpy(b + 1, n, l);
	return 1 + l;
}

static void put_u(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void refuse(struct svc *s, struct pgroup *g, const char *why)
{
	/* shown to the user: a refused roster or key is an attack or a
	 * broken authority, never silently ignored */
	snprintf(g->refusal, sizeof(g->refusal), "%s", why);
	fprintf(stderr, PROG ": talk group %s: %s\n", g->id, why);
	comms_log(s, "group %s refused: %s", g->id, why);
}

static void persist(struct svc *s, struct pgroup *g)
{
	char p[512];

	if (comms_path(s, p, sizeof(p), "group-%s.roster", g->id) == 0 &&
	    tf_atomic_write(p, g->wire, g->wire_len, 0600) < 0)
		comms_log(s, "cannot save the roster of group %s", g->id);
	/* the secret in the state dir, which lives in the secure persona's
	 * encrypted storage (a lock-down evicts it) */
	if (comms_path(s, p, sizeof(p), "group-%s.secret", g->id) == 0 &&
	    tf_atomic_write(p, g->secret, TF_GROUP_SECRET_BYTES, 0600) < 0)
		comms_log(s, "cannot save the key of group %s", g->id);
}

static void send_join(struct svc *s, struct pgroup *g)
{
	uint8_t b[80];
	size_t l = 0;

	g->join_ms = comms_now_ms();
	b[l++] = OP_JOIN_EPOCH;
	l += put_name(b + l, g->id);
	put_u(b + l, g->epoch, 8);
	comms_relay_send(s, b, l + 8);
}

/* "twofold-group-key v1 GROUP EPOCH HASH SECRET" from the authority */
bool ptt_on_text(struct svc *s, const char *from,
		 const struct tf_e2e_session *ss, const char *text, size_t n)
{
	struct ptt_keymsg km;
	struct pgroup *g;
	const uint8_t *ik;
	size_t ikl;
	uint8_t b[80], h[TF_HASH_BYTES];
	uint8_t *sec = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	int r;

	if (sec == NULL)
		return false;
	r = ptt_parse_keymsg(text, n, &km, sec);
	if (r == -ENOENT) {
		tf_secure_free(sec);
		return false;
	}
	/* consumed from here on: a key message never reaches the inbox */
	if (r < 0) {
		fprintf(stderr, PROG ": malformed group key from %s ignored\n",
			from);
		goto out;
	}
	g = group_get(s, km.group, true);
	ik = tf_e2e_session_peer_ik(ss, &ikl);
	if (g == NULL || ik == NULL || ikl > TF_PK_MAX)
		goto out;
	/* the key of the epoch in force again (the authority retried a
	 * publish that failed half way): nothing new, not an attack */
	if (km.epoch == g->epoch && g->wire != NULL &&
	    tf_hash(s->suite, h, g->wire, g->wire_len) == 0 &&
	    memcmp(h, km.hash, sizeof(h)) == 0) {
		comms_log(s, "group %s: key for epoch %llu again, ignored",
			  km.group, (unsigned long long)km.epoch);
		goto out;
	}
	if (km.epoch <= g->epoch) {
		refuse(s, g, "a key for an old epoch (a replay) refused");
		goto out;
	}
	if (g->p_secret == NULL)
		g->p_secret = steal_pointer(&sec);
	else
		memcpy(g->p_secret, sec, TF_GROUP_SECRET_BYTES);
	memcpy(g->p_hash, km.hash, sizeof(g->p_hash));
	g->pending = true;
	g->p_epoch = km.epoch;
	snprintf(g->p_from, sizeof(g->p_from), "%s", from);
	memcpy(g->p_ik, ik, ikl);
	g->p_iklen = ikl;
	free(g->rbuf);
	g->rbuf = NULL;
	g->rtotal = g->rhave = 0;
	/* the roster itself comes from the relay, checked below */
	b[0] = OP_ROSTER_GET;
	comms_relay_send(s, b, 1 + put_name(b + 1, km.group));
	comms_log(s, "group %s: key for epoch %llu from %s", km.group,
		  (unsigned long long)km.epoch, from);
out:
	tf_secure_free(sec);
	return true;
}

static void release_held(struct svc *s, struct pgroup *g);

static void roster_done(struct svc *s, struct pgroup *g)
{
	struct tf_roster *r = NULL;
	uint8_t h[TF_HASH_BYTES], mine[TF_ROSTER_DEVHASH_BYTES];
	int e, idx;

	if (tf_hash(s->suite, h, g->rbuf, g->rtotal) < 0 ||
	    memcmp(h, g->p_hash, sizeof(h)) != 0) {
		char why[sizeof(g->refusal)];

		/* refused on the hash alone; what is wrong with it too,
		 * so the user sees a stripped signature or a ghost
		 * member's signer for what it is */
		e = tf_roster_verify(g->rbuf, g->rtotal, &s->anchor, s->dl,
				     (uint64_t)time(NULL), g->id, g->epoch, &r);
		free(r);
		snprintf(why, sizeof(why),
			 "the relay's roster is not the one the authority "
			 "signed for this key%s%s",
			 e < 0 ? ": " : "", e < 0 ? tf_roster_reason(e) : "");
		refuse(s, g, why);
		return;
	}
	e = tf_roster_verify(g->rbuf, g->rtotal, &s->anchor, s->dl,
			     (uint64_t)time(NULL), g->id, g->epoch, &r);
	if (e < 0) {
		refuse(s, g, tf_roster_reason(e));
		return;
	}
	/* the key came over our session with this very authority */
	if (r->epoch != g->p_epoch || strcmp(r->authority.officer, g->p_from) ||
	    r->authority.dh_pk_len != g->p_iklen ||
	    memcmp(r->authority.dh_pk, g->p_ik, g->p_iklen) != 0) {
		refuse(s, g,
		       "the group key did not come from the roster's "
		       "authority");
		free(r);
		return;
	}
	if (tf_roster_device_hash(s->suite, s->me.dh_pk, s->me.dh_pk_len,
				  mine) < 0)
		idx = -1;
	else
		idx = tf_roster_find(r, s->me.officer, mine);
	/* the epoch being replaced stays for frames still in flight, but
	 * only if we held it as a member (a joiner never had it; after a
	 * restart without the secret file me is -1) */
	if (g->secret != NULL && g->me >= 0 && g->epoch > 0 &&
	    g->epoch < r->epoch &&
	    ptt_grace_keep(&g->prev, g->epoch, g->secret, comms_now_ms()) < 0)
		comms_log(s, "group %s: no memory for the previous key", g->id);
	free(g->roster);
	g->roster = r;
	g->me = idx;
	if (g->secret == NULL)
		g->secret = tf_secure_alloc(TF_GROUP_SECRET_BYTES);
	if (g->secret == NULL)
		return;
	memcpy(g->secret, g->p_secret, TF_GROUP_SECRET_BYTES);
	tf_memzero(g->p_secret, TF_GROUP_SECRET_BYTES);
	g->epoch = r->epoch;
	g->pending = false;
	g->refusal[0] = '\0';
	free(g->wire);
	g->wire = steal_pointer(&g->rbuf);
	g->wire_len = g->rtotal;
	persist(s, g);
	if (idx < 0) {
		refuse(s, g, "we are no longer in this group");
		g->joined = false;
		return;
	}
	send_join(s, g);
	release_held(s, g);
	comms_log(s, "group %s: epoch %llu in force (%zu members)", g->id,
		  (unsigned long long)g->epoch, r->n);
}

static void on_roster_piece(struct svc *s, const uint8_t *p, size_t n)
{
	struct ptt_piece pc;
	struct pgroup *g;

	if (ptt_parse_piece(p, n, &pc) < 0 ||
	    (g = group_get(s, pc.group, false)) == NULL || !g->pending)
		return;
	if (pc.off == 0) {
		free(g->rbuf);
		g->rbuf = malloc(pc.total);
		g->rtotal = pc.total;
		g->rhave = 0;
	}
	if (g->rbuf == NULL || g->rtotal != pc.total || g->rhave != pc.off)
		return;
	memcpy(g->rbuf + pc.off, pc.data, pc.len);
	g->rhave += pc.len;
	if (g->rhave == g->rtotal) {
		roster_done(s, g);
		free(g->rbuf);
		g->rbuf = NULL;
	}
}

/* The relay does not hold our roster (it restarted, or never saw this
 * epoch): upload it as the authority signed it, in pieces. */
static void upload_roster(struct svc *s, struct pgroup *g)
{
	uint8_t b[TF_COMMS_PAYLOAD_MAX];

	g->join_ms = comms_now_ms();
	for (size_t off = 0; g->wire && off < g->wire_len;) {
		size_t k = g->wire_len - off > 1200 ? 1200 : g->wire_len - off;
		b[0] = OP_JOIN;
		put_u(b + 1, g->wire_len, 4);
		put_u(b + 5, off, 4);
		memcpy(b + 9, g->wire + off, k);
		comms_relay_send(s, b, 9 + k);
		off += k;
	}
}

static void send_frame(struct svc *s, struct pgroup *g, const uint8_t *f)
{
	uint8_t base[TF_KEY_BYTES], b[TF_COMMS_PAYLOAD_MAX];
	struct tf_sframe_key *k = NULL;
	uint64_t kid = tf_group_kid(g->epoch, (unsigned)g->me);
	size_t l = 0;
	int n;

	if (g->secret == NULL || g->me < 0)
		return;
	if (tf_group_talker_key(s->suite, g->secret, g->id, g->epoch,
				(unsigned)g->me, base) < 0 ||
	    tf_sframe_key_derive(s->suite, base, sizeof(base), kid, &k) < 0) {
		tf_memzero(base, sizeof(base));
		return;
	}
	tf_memzero(base, sizeof(base));
	b[l++] = OP_MEDIA;
	l += put_name(b + l, g->id);
	put_u(b + l, g->my_burst, 4);
	l += 4;
	n = tf_sframe_seal(k, g->ctr++, f, FRAME_BYTES, b + l, sizeof(b) - l);
	tf_sframe_key_free(k);
	if (n > 0)
		comms_relay_send(s, b, l + (size_t)n);
}

static void stop_talking(struct svc *s, struct pgroup *g, bool tell)
{
	if (tell && g->pressed) {
		uint8_t b[80];
		size_t l = 0;
		b[l++] = OP_FLOOR_REL;
		l += put_name(b + l, g->id);
		put_u(b + l, g->granted ? g->my_burst : 0, 4);
		comms_relay_send(s, b, l + 4);
	}
	g->pressed = g->granted = false;
	/* the key is up: the microphone is closed now */
	audio_in_close(g->ain);
	g->ain = NULL;
	tf_media_enc_free(g->enc);
	g->enc = NULL;
	if (g->buf)
		tf_memzero(g->buf, BUFFER_FRAMES * FRAME_BYTES);
	free(g->buf);
	g->buf = NULL;
	g->nbuf = 0;
}

static void on_floor(struct svc *s, const uint8_t *p, size_t n)
{
	struct ptt_floor f;
	struct pgroup *g;
	bool me;

	if (ptt_parse_floor(p, n, &f) < 0 ||
	    (g = group_get(s, f.group, false)) == NULL)
		return;
	me = !strcmp(f.who, s->me.officer);
	switch (f.type) {
	case EV_GRANTED:
		g->taken = true;
		g->emergency = f.emergency;
		g->burst = f.burst;
		snprintf(g->talker, sizeof(g->talker), "%s", f.who);
		if (me && g->pressed) {
			g->granted = true;
			g->queued = false;
			g->my_burst = g->burst;
			/* a counter never reused under this key: the clock
			 * in microseconds, past the last one we used */
			uint64_t us = comms_real_ns() / 1000;
			g->ctr = us > g->ctr ? us : g->ctr;
			/* what was said since the press, at once */
			for (size_t i = 0; i < g->nbuf; i++)
				send_frame(s, g, g->buf[i]);
			g->nbuf = 0;
		}
		break;
	case EV_QUEUED:
		if (me)
			g->queued = true;
		break;
	case EV_DENIED:
	case EV_REVOKED:
		if (me) {
			fprintf(stderr,
				PROG ": talk group %s: floor %s (reason %u)\n",
				f.group,
				f.type == EV_DENIED ? "denied" : "revoked",
				f.reason);
			g->queued = false;
			stop_talking(s, g, false);
		}
		if (f.type == EV_REVOKED)
			g->taken = false;
		break;
	case EV_RELEASED: g->taken = false; break;
	case EV_IDLE:
		g->taken = false;
		g->talker[0] = '\0';
		break;
	}
}

static bool may_play(struct svc *s)
{
	return s->foreground || call_active();
}

static void dev_close(void)
{
	P.xruns += audio_out_xruns(P.dev);
	(void)audio_out_close(P.dev);
	P.dev = NULL;
	P.dg = NULL;
	tf_media_dec_free(P.ddec);
	P.ddec = NULL;
	tf_memzero(&P.jb, sizeof(P.jb)); /* the burst's packets */
}

/* A decoded frame: to the file always; counted when the device may not
 * play it (the device gets the packet: dev_put) */
static void out_write(struct svc *s, struct pgroup *g, const int16_t *pcm)
{
	if (P.out != NULL && tf_audio_write(P.out, pcm, TF_MEDIA_FRAME) < 0)
		comms_log(s, "audio out: write failed");
	if (s->audio_dev[0] != '\0' && !may_play(s))
		g->muted++;
}

/* A received packet of burst/ctr for the device, when it may play */
static void dev_put(struct svc *s, struct pgroup *g, uint32_t burst,
		    uint64_t ctr, const uint8_t *pkt, size_t n)
{
	char err[AUDIO_ERR_MAX];

	if (s->audio_dev[0] == '\0' || !may_play(s))
		return;
	/* during a call the call's own playback may hold the device: a
	 * card without a mixer (dmix, PipeWire) refuses this second open
	 * with EBUSY, said once in ptt_audio_error */
	if (P.dev == NULL) {
		if (audio_out_open(NULL, s->audio_dev, &P.dev, err,
				   sizeof(err)) < 0) {
			/* once per burst, not per frame */
			if (strcmp(err, P.dev_err) != 0)
				fprintf(stderr, PROG ": %s\n", err);
			snprintf(P.dev_err, sizeof(P.dev_err), "%s", err);
			P.dev = NULL;
			return;
		}
		P.dev_err[0] = '\0';
		devplay_init(&P.dp);
	}
	if (P.dg != g || P.dburst != burst || P.ddec == NULL) {
		/* a new burst: a new timeline (the card goes on) */
		tf_media_dec_free(P.ddec);
		P.ddec = NULL;
		if (tf_media_dec_new(&P.ddec) < 0)
			return;
		P.dg = g;
		P.dburst = burst;
		tf_jb_init(&P.jb);
		devplay_restart(&P.dp);
	}
	(void)tf_jb_put(&P.jb, ctr, pkt, n, comms_now_us());
	P.dev_last_ms = comms_now_ms();
}

static void dev_played(uint64_t idx, void *arg)
{
	struct pgroup *g = arg;

	(void)idx;
	g->played++;
}

/* the card's frames (ptt_tick): concealed while the floor is taken */
static void dev_tick(void)
{
	char err[AUDIO_ERR_MAX];
	bool live;

	if (P.dev == NULL || P.dg == NULL)
		return;
	live = P.dg->taken || tf_jb_any(&P.jb);
	if (devplay_tick(&P.dp, P.dev, &P.jb, P.ddec, live, comms_now_us(),
			 dev_played, P.dg, err, sizeof(err)) < 0) {
		snprintf(P.dev_err, sizeof(P.dev_err), "%s", err);
		fprintf(stderr, PROG ": %s\n", err);
		dev_close();
	}
}

/* Decode one Opus packet of burst/ctr; a gap since the last one is
 * rebuilt (the packet before this one from its FEC, older ones by PLC). */
static void play(struct svc *s, struct pgroup *g, uint32_t burst, uint64_t ctr,
		 const uint8_t *pkt, size_t n)
{
	int16_t pcm[TF_MEDIA_FRAME];

	if (g->dec == NULL || burst != g->dec_burst) {
		tf_media_dec_free(g->dec);
		g->dec = NULL;
		if (tf_media_dec_new(&g->dec) < 0)
			return;
		g->dec_burst = burst;
		g->last_ctr = ctr - 1;
	}
	dev_put(s, g, burst, ctr, pkt, n); /* its own buffer orders it */
	if (ctr <= g->last_ctr)
		return; /* late or repeated: already played or concealed */
	if (ctr - g->last_ctr - 1 <= CONCEAL_MAX) {
		for (uint64_t c = g->last_ctr + 1; c + 1 < ctr; c++)
			if (tf_media_decode(g->dec, NULL, 0, pcm) > 0) {
				out_write(s, g, pcm);
				g->concealed++;
			}
		if (ctr - g->last_ctr > 1 &&
		    tf_media_decode_fec(g->dec, pkt, n, pcm) > 0) {
			out_write(s, g, pcm);
			g->concealed++;
		}
	}
	g->last_ctr = ctr;
	if (tf_media_decode(g->dec, pkt, n, pcm) < 0) {
		g->undecryptable++;
		return;
	}
	g->heard++;
	out_write(s, g, pcm);
	tf_memzero(pcm, sizeof(pcm));
}

/* Open and play one frame (wire.c: the epoch in force, or the one
 * before it during its grace window; one of a newer epoch is held until
 * its roster is checked and its key in force). held: the frame came out
 * of g->hold (its time of arrival is at_ms). */
static void rx_play(struct svc *s, struct pgroup *g, uint32_t burst,
		    const uint8_t *sf, size_t n, uint64_t at_ms)
{
	uint8_t pt[TF_COMMS_PAYLOAD_MAX];
	uint64_t ctr;
	int m;

	m = ptt_rx_frame(s->suite, g->id, g->epoch, g->secret, &g->prev,
			 &g->hold, burst, sf, n, at_ms, pt, sizeof(pt), &ctr);
	if (m < 0) {
		g->undecryptable++;
		return;
	}
	if (m > 0)
		play(s, g, burst, ctr, pt, (size_t)m);
	tf_memzero(pt, sizeof(pt));
}

static void on_frame(struct svc *s, const uint8_t *p, size_t n)
{
	struct ptt_frame fr;
	struct pgroup *g;

	if (ptt_parse_frame(p, n, &fr) < 0 ||
	    (g = group_get(s, fr.group, false)) == NULL || g->secret == NULL)
		return;
	rx_play(s, g, fr.burst, fr.sf, fr.sflen, comms_now_ms());
}

/* A new epoch is in force: what was held for it plays now (in arrival
 * order); frames of a still newer epoch are held again (with their
 * time of arrival); expired ones go. */
static void release_held(struct svc *s, struct pgroup *g)
{
	struct ptt_held x;
	size_t k = g->hold.count;

	while (k-- > 0 && ptt_hold_next(&g->hold, comms_now_ms(), &x))
		rx_play(s, g, x.burst, x.b, x.n, x.at_ms);
}

void ptt_on_reply(struct svc *s, const uint8_t *pt, size_t n)
{
	struct ptt_state st;
	struct pgroup *g;

	if (n < 1)
		return;
	switch (pt[0]) {
	case OP_STATE:
		if (ptt_parse_state(pt + 1, n - 1, &st) == 0 &&
		    (g = group_get(s, st.group, false)) != NULL) {
			g->joined = true;
			g->taken = st.taken;
			g->burst = st.burst;
			g->emergency = st.emergency;
			snprintf(g->talker, sizeof(g->talker), "%s", st.talker);
		}
		break;
	case OP_FLOOR: on_floor(s, pt + 1, n - 1); break;
	case OP_FRAME: on_frame(s, pt + 1, n - 1); break;
	case OP_ROSTER: on_roster_piece(s, pt + 1, n - 1); break;
	default: break;
	}
}

void ptt_on_connected(struct svc *s)
{
	for (size_t i = 0; i < GROUPS_MAX; i++) {
		P.g[i].joined = false;
		if (P.g[i].id[0] && P.g[i].secret && P.g[i].me >= 0)
			send_join(s, &P.g[i]);
	}
}

/* one 20 ms frame from the capture, encoded (no input, or a device
 * with no period ready: silence); -1 at a file's end or a device's
 * failure */
static int capture(struct pgroup *g, uint8_t *f)
{
	int16_t pcm[TF_MEDIA_FRAME] = {0};
	char err[AUDIO_ERR_MAX];
	int k;

	if (g->ain != NULL) {
		k = audio_in_read(g->ain, pcm, err, sizeof(err));
		if (k < 0) {
			if (k != -ENODATA)
				fprintf(stderr, PROG ": %s\n", err);
			return -1;
		}
	}
	k = tf_media_encode(g->enc, pcm, f);
	tf_memzero(pcm, sizeof(pcm));
	return k == FRAME_BYTES ? 0 : -1;
}

void ptt_tick(struct svc *s, uint64_t now)
{
	/* the device is held only while a burst plays, and given up the
	 * moment the persona goes to the background */
	if (P.dev && (!may_play(s) || now - P.dev_last_ms > 500))
		dev_close();
	dev_tick();
	for (size_t i = 0; i < GROUPS_MAX; i++) {
		struct pgroup *g = &P.g[i];
		uint8_t f[FRAME_BYTES];

		ptt_grace_tick(&g->prev, now);

		/* no STATE a second after JOIN_EPOCH: the relay lacks the
		 * roster; hand it ours */
		if (s->connected && g->secret && g->me >= 0 && !g->joined &&
		    now - g->join_ms > 1000)
			upload_roster(s, g);
		while (g->pressed && now >= g->next_ms) {
			g->next_ms += FRAME_MS;
			if (capture(g, f) < 0) {
				stop_talking(s, g, true); /* end of input */
				break;
			}
			if (g->granted)
				send_frame(s, g, f);
			else if (g->nbuf < BUFFER_FRAMES)
				memcpy(g->buf[g->nbuf++], f, FRAME_BYTES);
		}
		tf_memzero(f, sizeof(f));
	}
}

int ptt_poll_ms(void)
{
	for (size_t i = 0; i < GROUPS_MAX; i++)
		if (P.g[i].pressed)
			return 5;
	return P.dev ? 10 : 200; /* a burst on the card: fed every tick */
}

/* "GROUP EMERGENCY PATH[\nDEV]" */
static void ctl_press(struct svc *s, int fd, char *args)
{
	char id[TF_CERT_ID_MAX + 1], path[400] = "-", err[AUDIO_ERR_MAX];
	const char *dev = s->audio_dev;
	char *nl = strchr(args, '\n');
	int emergency = 0;
	struct pgroup *g;
	uint8_t b[80];
	size_t l = 0;

	if (nl != NULL) {
		*nl++ = '\0';
		if (*nl && !audio_dev_ok(nl)) {
			comms_reply(fd, "error audio device name refused\n");
			return;
		}
		if (*nl)
			dev = nl;
	}
	if (sscanf(args, "%64s %d %399[^\n]", id, &emergency, path) < 2) {
		comms_reply(fd, "error bad request\n");
		return;
	}
	g = group_get(s, id, false);
	if (g == NULL || g->secret == NULL || g->me < 0) {
		comms_reply(fd,
			    "error no key for talk group %s yet (the group "
			    "authority has not added this device)\n",
			    id);
		return;
	}
	if (g->pressed) {
		comms_reply(fd, "ok already pressed\n");
		return;
	}
	g->buf = calloc(BUFFER_FRAMES, FRAME_BYTES);
	if (g->buf == NULL) {
		comms_reply(fd, "error out of memory\n");
		return;
	}
	if (tf_media_enc_new(TF_MEDIA_LOSS_PCT, true, &g->enc) < 0) {
		comms_reply(fd, "error cannot start the Opus encoder\n");
		stop_talking(s, g, false);
		return;
	}
	/* the microphone opens with the key press, not before; a file
	 * comes as the fd the CLI opened with its rights (call.c
	 * media_open): the service opens no path for its caller */
	if ((strcmp(path, "-") != 0
		     ? audio_in_open_fd(comms_take_fd(s), path, &g->ain, err,
					sizeof(err))
		     : audio_in_open(NULL, dev, &g->ain, err, sizeof(err))) <
	    0) {
		comms_reply(fd, "error %s\n", err);
		stop_talking(s, g, false);
		return;
	}
	/* capture from the press on */
	g->pressed = true;
	g->next_ms = comms_now_ms();
	b[l++] = OP_FLOOR_REQ;
	l += put_name(b + l, id);
	b[l++] = s->me.role == TF_ROLE_DISPATCHER ? 200 : 100;
	b[l++] = emergency ? 1 : 0;
	comms_relay_send(s, b, l);
	comms_reply(fd, "ok pressed %s%s\n", id,
		    s->connected ? "" : " (relay unreachable: buffering)");
}

bool ptt_on_control(struct svc *s, int fd, char *req)
{
	if (!strncmp(req, "ptt-press ", 10)) {
		ctl_press(s, fd, req + 10);
		return true;
	}
	if (!strncmp(req, "ptt-release ", 12)) {
		struct pgroup *g = group_get(s, req + 12, false);
		if (g == NULL || !g->pressed) {
			comms_reply(fd, "ok not pressed\n");
			return true;
		}
		stop_talking(s, g, true);
		comms_reply(fd, "ok released %s\n", g->id);
		return true;
	}
	if (!strcmp(req, "groups")) {
		char out[4096];
		size_t l = (size_t)snprintf(out, sizeof(out), "ok\n");
		ptt_status(s, out + l, sizeof(out) - l);
		comms_reply(fd, "%s", out);
		return true;
	}
	return false;
}

void ptt_status(struct svc *s, char *out, size_t cap)
{
	size_t l = 0;

	(void)s;
	out[0] = '\0';
	for (size_t i = 0; i < GROUPS_MAX && l < cap; i++) {
		struct pgroup *g = &P.g[i];
		int n;
		if (!g->id[0])
			continue;
		n = snprintf(
			out + l, cap - l,
			"group %s epoch %llu members %zu %s floor %s%s%s "
			"heard %u concealed %u undecryptable %u played %u "
			"not-played-background %u expires %llu%s%s%s\n",
			g->id, (unsigned long long)g->epoch,
			g->roster ? g->roster->n : 0,
			g->joined ? "joined" : "not-joined",
			g->granted  ? "granted-to-me"
			: g->queued ? "queued"
			: g->taken  ? "talker "
				    : "idle",
			g->taken && !g->granted && !g->queued ? g->talker : "",
			g->emergency && g->taken ? " (emergency)" : "",
			g->heard, g->concealed, g->undecryptable, g->played,
			g->muted,
			g->roster ? (unsigned long long)g->roster->expires_at
				  : 0ull,
			/* the authority stopped re-signing it (groupd
			 * serve is down or cut off): say so */
			g->roster && (uint64_t)time(NULL) >=
						g->roster->expires_at
				? " (expired)"
				: "",
			g->refusal[0] ? " refused: " : "", g->refusal);
		if (n < 0)
			break;
		l += (size_t)n;
		if (g->muted && l < cap) {
			n = snprintf(out + l, cap - l,
				     "ptt_not_played %s %u frames: the secure "
				     "persona is in the background\n",
				     g->id, g->muted);
			if (n < 0)
				break;
			l += (size_t)n;
		}
	}
	if (l < cap) {
		int n = snprintf(
			out + l, cap - l,
			"ptt_dev_frames %llu\nptt_dev_concealed %llu\n"
			"ptt_dev_dropped %llu\nptt_dev_xruns %llu\n",
			(unsigned long long)P.dp.frames,
			(unsigned long long)P.dp.concealed,
			(unsigned long long)P.dp.dropped,
			(unsigned long long)(P.xruns + audio_out_xruns(P.dev)));
		if (n > 0)
			l += (size_t)n;
	}
	if (P.dev_err[0] && l < cap)
		(void)snprintf(out + l, cap - l, "ptt_audio_error %s\n",
			       P.dev_err);
}

/* After a restart: the groups saved in the state dir, each roster checked
 * again (it may have expired, or its authority been revoked since). */
static void load_groups(struct svc *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char id[TF_CERT_ID_MAX + 1], p[512];
		uint8_t *b = NULL, mine[TF_ROSTER_DEVHASH_BYTES];
		size_t len, n = strlen(e->d_name);
		struct tf_roster *r = NULL;
		struct pgroup *g;

		if (n <= 13 || strncmp(e->d_name, "group-", 6) ||
		    strcmp(e->d_name + n - 7, ".roster") ||
		    n - 13 > TF_CERT_ID_MAX)
			continue;
		memcpy(id, e->d_name + 6, n - 13);
		id[n - 13] = '\0';
		if (!comms_officer_ok(id) ||
		    comms_path(s, p, sizeof(p), "group-%s.roster", id) < 0 ||
		    comms_read_file(p, TF_ROSTER_WIRE_MAX, &b, &len) < 0)
			continue;
		if (tf_roster_verify(b, len, &s->anchor, s->dl,
				     (uint64_t)time(NULL), id, 0, &r) < 0 ||
		    (g = group_get(s, id, true)) == NULL ||
		    (g->secret = tf_secure_alloc(TF_GROUP_SECRET_BYTES)) ==
			    NULL) {
			free(b);
			free(r);
			continue;
		}
		g->wire = b;
		g->wire_len = len;
		g->roster = r;
		g->epoch = r->epoch;
		if (tf_roster_device_hash(s->suite, s->me.dh_pk,
					  s->me.dh_pk_len, mine) == 0)
			g->me = tf_roster_find(r, s->me.officer, mine);
		b = NULL;
		if (comms_path(s, p, sizeof(p), "group-%s.secret", id) < 0 ||
		    comms_read_file(p, TF_GROUP_SECRET_BYTES, &b, &len) < 0 ||
		    len != TF_GROUP_SECRET_BYTES) {
			g->me = -1; /* no key: wait for the next one */
		} else {
			memcpy(g->secret, b, len);
		}
		if (b)
			tf_memzero(b, len);
		free(b);
	}
	if (d)
		closedir(d);
}

int ptt_init(struct svc *s, const char *audio_out)
{
	load_groups(s);
	if (audio_out != NULL)
		return tf_audio_writer_open(audio_out, &P.out);
	return 0;
}

void ptt_free(struct svc *s)
{
	for (size_t i = 0; i < GROUPS_MAX; i++) {
		struct pgroup *g = &P.g[i];
		stop_talking(s, g, false);
		tf_secure_free(g->secret);
		tf_secure_free(g->p_secret);
		ptt_grace_wipe(&g->prev);
		ptt_hold_free(&g->hold);
		free(g->roster);
		free(g->rbuf);
		free(g->wire);
		tf_media_dec_free(g->dec);
	}
	memset(P.g, 0, sizeof(P.g));
	dev_close();
	(void)tf_audio_writer_close(P.out);
	P.out = NULL;
}
