/* SPDX-License-Identifier: ISC */
/*
 * The evil relay: forgeries for tests/integration/comms/test_evil.sh.
 * Built only into twofold-relay-evil (-DTF_RELAY_EVIL, tests only, never
 * installed): the shipped twofold-relay has none of this. The relay
 * holds no end-to-end key, so every forgery here is what a relay that
 * was broken into can do with the bytes it carries; the devices must
 * refuse each one and say so.
 *
 * TF_EVIL chooses one forgery (unset: behave), TF_EVIL_NAME the officer
 * a swap names (default "carol"):
 *   msg-flip      flip a bit in the middle of each MSG's ciphertext
 *   msg-replay    each MSG delivered again under a new id
 *   msg-sender    each MSG said to be from TF_EVIL_NAME
 *   msg-suite     the suite byte of each MSG's end-to-end header
 *                 rewritten to the other suite
 *   bundle-spk    BUNDLE_GET answered with the asked officer's bundle
 *                 whose signed prekey is TF_EVIL_NAME's (a key the relay's
 *                 accomplice holds)
 *   bundle-other  BUNDLE_GET answered with TF_EVIL_NAME's whole bundle
 *   resp-suite    the relay's handshake answer (RESP) carries the other
 *                 suite byte
 *   from-sender   each FROM (call set-up, control, media) said to be
 *                 from TF_EVIL_NAME
 *   call-replay   the first call set-up (INIT) seen is delivered again
 *                 before every later one
 *   frame-flip    flip a bit in each media frame's ciphertext
 *   frame-replay  each media frame delivered twice
 *   frame-reorder media frames delivered in swapped pairs
 *   frame-kid     each media frame's SFrame key id moved to the sender's
 *                 control key id (media KID epoch << 3 | 1 or 2 -> 3 or
 *                 4, in the same one KID byte; 1 <-> 3, 2 <-> 4 for a
 *                 one-byte header)
 *   roster-sig    a bit of each roster's signature flipped (ROSTER)
 *   roster-nosig  each roster's signature stripped (length 0, no bytes)
 *   roster-zerosig each roster's signature bytes zeroed
 *   roster-cert   each roster rebuilt with a ghost member (the officer of
 *                 TF_EVIL_CERT, a valid officer certificate the relay's
 *                 accomplice holds) and re-signed with that officer's key
 *                 (TF_EVIL_KEY) and certificate in place of the
 *                 authority's: every signature in it verifies, only the
 *                 signer's role is wrong
 *   roster-old    the first roster the relay served for a group served
 *                 again in place of every later epoch's
 *   ptt-flip      flip a bit in each talk-group frame (FRAME)
 *   piece-drop    piece 1 of every long message withheld (never delivered)
 *   piece-dup     each piece of a long message delivered twice, the
 *                 second time under a new id
 *   piece-reorder the pieces of long messages delivered in swapped pairs
 *   piece-swap    piece 1 of every long message after the first carries
 *                 the first one's piece 1 data under its own header (a
 *                 splice between two messages, from any senders)
 *   piece-relabel every piece of a long message delivered under another
 *                 message id (the same one for all of its pieces)
 * Every forgery done is logged ("evil: ..."; media frames the first time
 * only), so a test can tell that it happened.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "group.h"
#include "relay_evil.h"
#include "twofold/e2e.h"
#include "twofold/roster.h"

enum evil {
	E_NONE,
	E_MSG_FLIP,
	E_MSG_REPLAY,
	E_MSG_SENDER,
	E_MSG_SUITE,
	E_BUNDLE_SPK,
	E_BUNDLE_OTHER,
	E_RESP_SUITE,
	E_FROM_SENDER,
	E_CALL_REPLAY,
	E_FRAME_FLIP,
	E_FRAME_REPLAY,
	E_FRAME_REORDER,
	E_FRAME_KID,
	E_ROSTER_SIG,
	E_ROSTER_OLD,
	E_PTT_FLIP,
	E_ROSTER_NOSIG,
	E_ROSTER_ZEROSIG,
	E_ROSTER_CERT,
	E_PIECE_DROP,
	E_PIECE_DUP,
	E_PIECE_REORDER,
	E_PIECE_SWAP,
	E_PIECE_RELABEL,
};

static const char *const names[] = {
	[E_MSG_FLIP] = "msg-flip",
	[E_MSG_REPLAY] = "msg-replay",
	[E_MSG_SENDER] = "msg-sender",
	[E_MSG_SUITE] = "msg-suite",
	[E_BUNDLE_SPK] = "bundle-spk",
	[E_BUNDLE_OTHER] = "bundle-other",
	[E_RESP_SUITE] = "resp-suite",
	[E_FROM_SENDER] = "from-sender",
	[E_CALL_REPLAY] = "call-replay",
	[E_FRAME_FLIP] = "frame-flip",
	[E_FRAME_REPLAY] = "frame-replay",
	[E_FRAME_REORDER] = "frame-reorder",
	[E_FRAME_KID] = "frame-kid",
	[E_ROSTER_SIG] = "roster-sig",
	[E_ROSTER_OLD] = "roster-old",
	[E_PTT_FLIP] = "ptt-flip",
	[E_ROSTER_NOSIG] = "roster-nosig",
	[E_ROSTER_ZEROSIG] = "roster-zerosig",
	[E_ROSTER_CERT] = "roster-cert",
	[E_PIECE_DROP] = "piece-drop",
	[E_PIECE_DUP] = "piece-dup",
	[E_PIECE_REORDER] = "piece-reorder",
	[E_PIECE_SWAP] = "piece-swap",
	[E_PIECE_RELABEL] = "piece-relabel",
};

static enum evil mode = E_NONE;
static char other[TF_CERT_ID_MAX + 1] = "carol";
/* set while evil.c sends through relay_send itself: no second forgery */
static _Thread_local bool inside;
static atomic_bool said_media;

/* held, init_pt, old_roster; relay_send may be called under it (a leaf
 * before a session's mu) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* frame-reorder: one frame held back per receiving session (a few
 * slots: a test has a call or two; a session whose slot is taken by
 * another is forwarded in order) */
#define HELD_SLOTS 16
static struct {
	uint8_t b[RELAY_DGRAM_MAX];
	size_t len;
	uint32_t sess;
} held[HELD_SLOTS];
static uint8_t init_pt[RELAY_DGRAM_MAX]; /* call-replay: the first INIT */
static size_t init_len;
static uint8_t old_roster[RELAY_DGRAM_MAX]; /* roster-old: one group's */
static size_t old_len;
/* roster-cert: the accomplice officer's certificate and signing key */
static uint8_t acc_cert[TF_CERT_MAX];
static size_t acc_certlen;
static struct tf_cert acc;
static struct tf_key *acc_sk;

static int read_small(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = path ? fopen(path, "rbe") : NULL;
	size_t n;

	if (f == NULL)
		return -ENOENT;
	n = fread(buf, 1, cap, f);
	fclose(f);
	if (n == 0 || n == cap)
		return -EINVAL;
	*len = n;
	return 0;
}

/* the officer's certificate (parsed, not verified: the members do that)
 * and its signing key, from TF_EVIL_CERT and TF_EVIL_KEY */
static int load_accomplice(void)
{
	uint8_t kb[TF_PRIVFILE_BYTES + 1];
	struct tf_privfile pf = {0};
	size_t kl;
	int r;

	r = read_small(getenv("TF_EVIL_CERT"), acc_cert, sizeof(acc_cert),
		       &acc_certlen);
	if (r == 0)
		r = tf_cert_parse(acc_cert, acc_certlen, &acc);
	if (r == 0)
		r = read_small(getenv("TF_EVIL_KEY"), kb, sizeof(kb), &kl);
	if (r == 0)
		r = tf_privfile_parse(kb, kl, &pf);
	tf_memzero(kb, sizeof(kb));
	if (r == 0) {
		r = tf_privfile_sign_key(&pf, &acc_sk);
		tf_privfile_free(&pf);
	}
	return r < 0 ? -EINVAL : 0;
}

int relay_evil_init(struct relay *r)
{
	const char *m = getenv("TF_EVIL"), *n = getenv("TF_EVIL_NAME");

	if (n != NULL && *n != '\0')
		snprintf(other, sizeof(other), "%s", n);
	if (m == NULL || *m == '\0')
		return 0;
	for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(m, names[i])) {
			mode = (enum evil)i;
			if (mode == E_ROSTER_CERT && load_accomplice() < 0)
				return -EINVAL;
			logv(r, "evil: forging %s (TF_EVIL)", m);
			return 0;
		}
	return -EINVAL;
}

/* MSG: op | u8 n | sender | id (16) | blob.  FROM: op | u8 n | from |
 * body, the body of a call message: u8 type | u32 call id | .... */
struct parsed {
	char name[TF_COMMS_ADDR_MAX + 1]; /* an address */
	const uint8_t *rest;		  /* MSG: the id; FROM: the body */
	size_t rest_len;
};

static bool parse(const uint8_t *pt, size_t len, struct parsed *p)
{
	if (len < 2 || pt[1] == 0 || pt[1] > TF_COMMS_ADDR_MAX ||
	    len < 2u + pt[1])
		return false;
	memcpy(p->name, pt + 2, pt[1]);
	p->name[pt[1]] = '\0';
	p->rest = pt + 2 + pt[1];
	p->rest_len = len - 2 - pt[1];
	return true;
}

/* rebuild pt under another name into buf */
static size_t rename_to(const uint8_t *pt, const struct parsed *p,
			const char *name, uint8_t *buf)
{
	size_t n = strlen(name);

	if (2 + n + p->rest_len > RELAY_DGRAM_MAX)
		return 0;
	buf[0] = pt[0];
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, name, n);
	memcpy(buf + 2 + n, p->rest, p->rest_len);
	return 2 + n + p->rest_len;
}

enum { CALL_INIT = 0x20, CALL_MEDIA = 0x23, CALL_HDR = 5 };

static bool is_media(const struct parsed *p)
{
	return p->rest_len > CALL_HDR + 1 && p->rest[0] == CALL_MEDIA;
}

/* A piece of a long message (src/comms/piece.h, docs/comms-protocol.md
 * "Long messages"): u8 0xF1 | u8 1 | message id (16) | u16 index | u16
 * count | u16 len | data, 1,024 bytes in all. */
enum { PIECE_MARK = 0xF1, PIECE_BYTES = 1024, PIECE_HDR = 24 };
static uint8_t swap_data[PIECE_BYTES - PIECE_HDR + 2]; /* len | data */
static uint8_t swap_id[16];
static bool swap_have;

static bool out_piece(struct worker *w, struct sess *s, const uint8_t **pt,
		      size_t *len, uint8_t *buf, const struct parsed *p)
{
	const uint8_t *pc = p->rest + RELAY_ID_BYTES;
	unsigned index = (unsigned)pc[18] << 8 | pc[19],
		 count = (unsigned)pc[20] << 8 | pc[21];
	size_t at = *len - PIECE_BYTES; /* the piece's start in *pt */
	bool sent = false;

	switch (mode) {
	case E_PIECE_DROP:
		if (index != 1)
			return false;
		logv(w->r,
		     "evil: piece 1 of a long message from %s to %s "
		     "withheld",
		     p->name, s->officer);
		return true;
	case E_PIECE_DUP:
		inside = true;
		relay_send(w, s, *pt, *len);
		memcpy(buf, *pt, *len);
		for (size_t i = 0; i < RELAY_ID_BYTES; i++)
			buf[*len - p->rest_len + i] ^= 0x5a; /* a new id */
		relay_send(w, s, buf, *len);
		inside = false;
		logv(w->r,
		     "evil: piece %u of a long message from %s to %s "
		     "duplicated",
		     index, p->name, s->officer);
		return true;
	case E_PIECE_REORDER:
		/* hold an even piece (not the last) back, send it after
		 * the next one of the session */
		pthread_mutex_lock(&mu);
		for (size_t i = 0; i < HELD_SLOTS && !sent; i++)
			if (held[i].len > 0 && held[i].sess == s->id) {
				inside = true;
				relay_send(w, s, *pt, *len);
				relay_send(w, s, held[i].b, held[i].len);
				inside = false;
				held[i].len = 0;
				sent = true;
				logv(w->r,
				     "evil: pieces of a long message "
				     "from %s to %s swapped",
				     p->name, s->officer);
			}
		if (!sent && index % 2 == 0 && index + 1 < count)
			for (size_t i = 0; i < HELD_SLOTS && !sent; i++)
				if (held[i].len == 0) {
					memcpy(held[i].b, *pt, *len);
					held[i].len = *len;
					held[i].sess = s->id;
					sent = true;
				}
		pthread_mutex_unlock(&mu);
		return sent;
	case E_PIECE_RELABEL:
		memcpy(buf, *pt, *len);
		for (size_t i = 0; i < 16; i++)
			buf[at + 2 + i] ^= 0x33;
		*pt = buf;
		logv(w->r,
		     "evil: piece %u of a long message from %s to %s "
		     "relabelled",
		     index, p->name, s->officer);
		return false;
	case E_PIECE_SWAP:
		if (index != 1 || count < 3)
			return false;
		pthread_mutex_lock(&mu);
		if (!swap_have) {
			memcpy(swap_id, pc + 2, sizeof(swap_id));
			memcpy(swap_data, pc + PIECE_HDR - 2,
			       sizeof(swap_data));
			swap_have = true;
		} else if (memcmp(swap_id, pc + 2, sizeof(swap_id)) != 0) {
			memcpy(buf, *pt, *len);
			memcpy(buf + at + PIECE_HDR - 2, swap_data,
			       sizeof(swap_data));
			*pt = buf;
			logv(w->r,
			     "evil: piece 1 of a long message from %s "
			     "to %s spliced from another message",
			     p->name, s->officer);
		}
		pthread_mutex_unlock(&mu);
		return false;
	default: return false;
	}
}

static bool out_msg(struct worker *w, struct sess *s, const uint8_t **pt,
		    size_t *len, uint8_t *buf)
{
	struct parsed p;
	size_t n;

	if (!parse(*pt, *len, &p) || p.rest_len < RELAY_ID_BYTES + 4)
		return false;
	if (mode >= E_PIECE_DROP) {
		if (p.rest_len == RELAY_ID_BYTES + PIECE_BYTES &&
		    p.rest[RELAY_ID_BYTES] == PIECE_MARK)
			return out_piece(w, s, pt, len, buf, &p);
		return false;
	}
	switch (mode) {
	case E_MSG_FLIP:
	case E_MSG_SUITE:
		memcpy(buf, *pt, *len);
		n = *len - p.rest_len + RELAY_ID_BYTES; /* the blob's start */
		if (mode == E_MSG_FLIP)
			buf[n + (*len - n) / 2] ^= 0x10;
		else
			buf[n + 2] = buf[n + 2] == TF_SUITE_GM ? TF_SUITE_INTL
							       : TF_SUITE_GM;
		*pt = buf;
		logv(w->r, "evil: %s of a message from %s to %s", names[mode],
		     p.name, s->officer);
		return false;
	case E_MSG_SENDER:
		n = rename_to(*pt, &p, other, buf);
		if (n == 0)
			return false;
		*pt = buf;
		*len = n;
		logv(w->r, "evil: a message from %s to %s said to be from %s",
		     p.name, s->officer, other);
		return false;
	case E_MSG_REPLAY:
		inside = true;
		relay_send(w, s, *pt, *len);
		memcpy(buf, *pt, *len);
		for (size_t i = 0; i < RELAY_ID_BYTES; i++)
			buf[*len - p.rest_len + i] ^= 0xa5; /* a new id */
		relay_send(w, s, buf, *len);
		inside = false;
		logv(w->r, "evil: a message from %s to %s replayed", p.name,
		     s->officer);
		return true;
	default: return false;
	}
}

static bool out_from(struct worker *w, struct sess *s, const uint8_t **pt,
		     size_t *len, uint8_t *buf)
{
	struct parsed p;
	size_t n;

	if (!parse(*pt, *len, &p) || p.rest_len < CALL_HDR)
		return false;
	switch (mode) {
	case E_FROM_SENDER:
		n = rename_to(*pt, &p, other, buf);
		if (n == 0)
			return false;
		*pt = buf;
		*len = n;
		if (p.rest[0] == CALL_INIT)
			logv(w->r,
			     "evil: a call set-up from %s to %s said to "
			     "be from %s",
			     p.name, s->officer, other);
		return false;
	case E_CALL_REPLAY:
		if (p.rest[0] != CALL_INIT)
			return false;
		pthread_mutex_lock(&mu);
		if (init_len == 0) {
			memcpy(init_pt, *pt, *len);
			init_len = *len;
		} else {
			inside = true;
			relay_send(w, s, init_pt, init_len);
			inside = false;
			logv(w->r, "evil: an old call set-up replayed to %s",
			     s->officer);
		}
		pthread_mutex_unlock(&mu);
		return false;
	default: break;
	}
	if (!is_media(&p))
		return false;
	if (!atomic_exchange(&said_media, true))
		logv(w->r, "evil: %s of media frames from %s to %s",
		     names[mode], p.name, s->officer);
	n = *len - p.rest_len + CALL_HDR; /* the SFrame's start */
	switch (mode) {
	case E_FRAME_FLIP:
		memcpy(buf, *pt, *len);
		buf[*len - 20] ^= 0x01; /* the ciphertext, before the tag */
		*pt = buf;
		return false;
	case E_FRAME_KID:
		/* config byte |X|KKK|Y|CCC|: media KIDs are epoch << 3 |
		 * role (X=1, one KID byte, from epoch 1 on); the control
		 * KIDs 3 and 4 in the same byte (a valid, non-minimal
		 * encoding) keep the frame's length */
		if (((*pt)[n] & 0xf0) == 0x80 && *len > n + 1) {
			memcpy(buf, *pt, *len);
			buf[n + 1] = (uint8_t)((buf[n + 1] & 7) + 2);
			*pt = buf;
			return false;
		}
		if (((*pt)[n] & 0x80) != 0)
			return false;
		memcpy(buf, *pt, *len);
		{
			unsigned kid = (buf[n] >> 4) & 7;

			kid = kid == 1 || kid == 2   ? kid + 2
			      : kid == 3 || kid == 4 ? kid - 2
						     : kid;
			buf[n] = (uint8_t)((buf[n] & 0x8f) | (kid << 4));
		}
		*pt = buf;
		return false;
	case E_FRAME_REPLAY:
		inside = true;
		relay_send(w, s, *pt, *len);
		relay_send(w, s, *pt, *len);
		inside = false;
		return true;
	case E_FRAME_REORDER: {
		/* a frame held back and sent after the next one */
		unsigned k = s->id % HELD_SLOTS;

		pthread_mutex_lock(&mu);
		if (held[k].len == 0) {
			memcpy(held[k].b, *pt, *len);
			held[k].len = *len;
			held[k].sess = s->id;
			pthread_mutex_unlock(&mu);
			return true;
		}
		if (held[k].sess != s->id) {
			pthread_mutex_unlock(&mu);
			return false;
		}
		inside = true;
		relay_send(w, s, *pt, *len);
		relay_send(w, s, held[k].b, held[k].len);
		inside = false;
		held[k].len = 0;
		pthread_mutex_unlock(&mu);
		return true;
	}
	default: return false;
	}
}

static uint32_t get_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* The roster re-signed by the accomplice officer with itself added as a
 * member (a ghost): *out malloc'ed. */
static int ghost_roster(const struct tf_roster *r, uint8_t **out,
			size_t *outlen)
{
	_cleanup_free_ struct tf_roster *g = NULL;
	int e;

	if (r->n >= TF_ROSTER_MAX || tf_roster_new(r->n + 1, &g) < 0)
		return -ENOMEM;
	g->version = r->version;
	g->suite = r->suite;
	memcpy(g->group, r->group, sizeof(g->group));
	g->epoch = r->epoch;
	g->issued_at = r->issued_at;
	g->expires_at = r->expires_at;
	g->n = r->n + 1;
	memcpy(g->m, r->m, r->n * sizeof(r->m[0]));
	snprintf(g->m[r->n].officer, sizeof(g->m[r->n].officer), "%s",
		 acc.officer);
	g->m[r->n].role = TF_ROLE_OFFICER;
	e = tf_roster_device_hash(tf_suite_by_id(r->suite), acc.dh_pk,
				  acc.dh_pk_len, g->m[r->n].device);
	if (e == 0)
		e = tf_roster_sort(g);
	if (e == 0)
		e = tf_roster_sign(g, acc_sk, acc_cert, acc_certlen, out,
				   outlen);
	return e;
}

/* roster-nosig, roster-zerosig, roster-cert on a roster of one piece */
static bool forge_roster(struct worker *w, struct sess *s, const uint8_t **pt,
			 size_t *len, uint8_t *buf, const struct parsed *p)
{
	_cleanup_free_ struct tf_roster *r = NULL;
	_cleanup_free_ uint8_t *ghost = NULL;
	const uint8_t *wire = p->rest + 8;
	size_t head = *len - p->rest_len, wl = p->rest_len - 8, nl, gl = 0;
	const char *what;

	if (tf_roster_parse(wire, wl, &r) < 0)
		return false;
	memcpy(buf, *pt, head);
	switch (mode) {
	case E_ROSTER_NOSIG:
		/* the signed part, then a zero-length signature */
		nl = r->tbs_len + 1;
		memcpy(buf + head + 8, wire, r->tbs_len);
		buf[head + 8 + r->tbs_len] = 0;
		what = "signature stripped";
		break;
	case E_ROSTER_ZEROSIG:
		nl = wl;
		memcpy(buf + head + 8, wire, wl);
		memset(buf + head + 8 + r->tbs_len + 1, 0, wl - r->tbs_len - 1);
		what = "signature zeroed";
		break;
	case E_ROSTER_CERT:
		if (ghost_roster(r, &ghost, &gl) < 0 ||
		    head + 8 + gl > TF_COMMS_PAYLOAD_MAX)
			return false;
		nl = gl;
		memcpy(buf + head + 8, ghost, gl);
		what = "re-signed by an officer with a ghost member";
		break;
	default: return false;
	}
	put_be32(buf + head, (uint32_t)nl);
	put_be32(buf + head + 4, 0);
	*pt = buf;
	*len = head + 8 + nl;
	logv(w->r, "evil: the roster of group %s to %s: %s", p->name,
	     s->officer, what);
	return false;
}

/* ROSTER: op | u8 n | group | u32 total | u32 offset | piece.
 * FRAME: op | u8 n | group | u8 n | talker | u32 burst | SFrame frame. */
static bool out_group(struct worker *w, struct sess *s, const uint8_t **pt,
		      size_t *len, uint8_t *buf)
{
	struct parsed p;
	uint32_t total, off;

	if (!parse(*pt, *len, &p))
		return false;
	if ((*pt)[0] == RELAY_OP_FRAME) {
		if (mode != E_PTT_FLIP || *len < 40)
			return false;
		memcpy(buf, *pt, *len);
		buf[*len - 20] ^= 0x01; /* the ciphertext, before the tag */
		*pt = buf;
		if (!atomic_exchange(&said_media, true))
			logv(w->r, "evil: ptt-flip of group %s frames to %s",
			     p.name, s->officer);
		return false;
	}
	if (p.rest_len < 9)
		return false;
	total = get_be32(p.rest);
	off = get_be32(p.rest + 4);
	if (mode == E_ROSTER_SIG) {
		if (off + (p.rest_len - 8) != total)
			return false; /* not the last piece */
		memcpy(buf, *pt, *len);
		buf[*len - 1] ^= 0x01; /* the signature's last byte */
		*pt = buf;
		logv(w->r,
		     "evil: the roster of group %s to %s: signature "
		     "altered",
		     p.name, s->officer);
		return false;
	}
	/* the others, for a roster of one piece */
	if (off != 0 || p.rest_len - 8 != total)
		return false;
	if (mode != E_ROSTER_OLD)
		return forge_roster(w, s, pt, len, buf, &p);
	pthread_mutex_lock(&mu);
	if (old_len == 0) {
		memcpy(old_roster, *pt, *len);
		old_len = *len;
	} else if (old_len != *len || memcmp(old_roster, *pt, *len) != 0) {
		memcpy(buf, old_roster, old_len);
		*pt = buf;
		*len = old_len;
		logv(w->r, "evil: an older roster of group %s served to %s",
		     p.name, s->officer);
	}
	pthread_mutex_unlock(&mu);
	return false;
}

bool relay_evil_send(struct worker *w, struct sess *s, const uint8_t **pt,
		     size_t *len, uint8_t *buf)
{
	if (mode == E_NONE || inside || *len < 1)
		return false;
	if ((*pt)[0] == RELAY_OP_MSG)
		return out_msg(w, s, pt, len, buf);
	if ((*pt)[0] == RELAY_OP_FROM)
		return out_from(w, s, pt, len, buf);
	if (((*pt)[0] == RELAY_OP_ROSTER &&
	     (mode == E_ROSTER_SIG || mode == E_ROSTER_OLD ||
	      mode == E_ROSTER_NOSIG || mode == E_ROSTER_ZEROSIG ||
	      mode == E_ROSTER_CERT)) ||
	    (*pt)[0] == RELAY_OP_FRAME)
		return out_group(w, s, pt, len, buf);
	return false;
}

void relay_evil_raw(struct relay *r, uint8_t *p, size_t len)
{
	if (mode != E_RESP_SUITE || len < 8)
		return;
	p[1] = p[1] == TF_SUITE_GM ? TF_SUITE_INTL : TF_SUITE_GM;
	logv(r, "evil: the handshake answer sent as suite %u", p[1]);
}

/* store_mu held (between relay_store_begin and _end) */
void relay_evil_bundle(struct relay *r, const char *whose, uint8_t **base,
		       size_t *bl, size_t *ol)
{
	uint8_t *ob = NULL, opk[4 + TF_E2E_DH_MAX];
	char dev[TF_STORE_DEVICE_MAX + 1];
	size_t obl, ool;
	struct tf_e2e_bundle mine, theirs;

	if ((mode != E_BUNDLE_SPK && mode != E_BUNDLE_OTHER) || *base == NULL ||
	    (strcspn(whose, "/") == strlen(other) &&
	     !strncmp(whose, other, strlen(other))))
		return;
	/* other's most recently published device: whose is an address,
	 * other a bare officer */
	if (tf_store_prekey_take(r->store, other, "", dev, &ob, &obl, opk,
				 sizeof(opk), &ool) <= 0)
		return;
	if (mode == E_BUNDLE_OTHER) {
		free(*base);
		*base = ob;
		*bl = obl;
		*ol = 0;
		logv(r, "evil: %s's prekeys handed out as %s's", other, whose);
		return;
	}
	if (tf_e2e_bundle_parse(*base, *bl, &mine) == 0 &&
	    tf_e2e_bundle_parse(ob, obl, &theirs) == 0 &&
	    mine.suite == theirs.suite) {
		/* the signature is left as it was: it signs the real SPK */
		memcpy((uint8_t *)mine.spk, theirs.spk,
		       tf_e2e_dh_bytes(mine.suite));
		*ol = 0;
		logv(r, "evil: %s's signed prekey replaced by %s's", whose,
		     other);
	}
	free(ob);
}
