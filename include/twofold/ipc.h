/* SPDX-License-Identifier: ISC */
/*
 * Control protocol between `twofold` and `twofoldd` (docs/protocol.md).
 *
 * Transport: AF_UNIX SOCK_SEQPACKET. A message is one header datagram
 * followed by as many continuation datagrams as its length needs (each at
 * most TF_FRAG_MAX bytes), so a message can exceed the socket buffer while
 * datagram boundaries still delimit it. File descriptors (stdio for `run`)
 * ride on the header datagram as SCM_RIGHTS.
 *
 *   header (12 bytes, little endian):
 *     u16 magic 0x4654 ("TF") | u8 version (1) | u8 flags (0)
 *     u16 type | u16 reserved (0) | u32 body length
 *   body: attributes, each  u16 attr | u16 reserved (0) | u32 len | value
 *     strings carry their terminating NUL (checked: exactly one, at the end)
 *     u32/i32 values are exactly 4 bytes
 *
 * Every field is checked; anything unexpected is rejected with -EBADMSG
 * (malformed), -EMSGSIZE (over a bound) or -EPROTONOSUPPORT (version).
 */
#ifndef TWOFOLD_IPC_H
#define TWOFOLD_IPC_H

#include <sys/types.h>

#include "twofold/common.h"

#define TF_PROTO_MAGIC 0x4654u
#define TF_PROTO_VERSION 1
#define TF_MSG_HDR_BYTES 12
#define TF_FRAG_MAX (32u * 1024)
#define TF_MSG_MAX (4u << 20)	 /* one message, body included */
#define TF_ATTR_MAX 70000	 /* attributes in one message */
#define TF_STR_MAX (128u * 1024) /* one string (the kernel's MAX_ARG_STRLEN) */
#define TF_ARGV_TOTAL_MAX (2u << 20) /* argv + env of `run`, in all */
#define TF_MSG_FDS_MAX 3

enum tf_msg_type {
	/* requests (CLI -> daemon) */
	TF_REQ_PING = 1,
	TF_REQ_STATUS = 2,
	TF_REQ_PERSONA_START = 3,
	TF_REQ_PERSONA_STOP = 4,
	TF_REQ_PERSONA_RESTART = 5,
	TF_REQ_RUN = 6,
	TF_REQ_SIGNAL = 7, /* forward a signal to the app of this connection */
	TF_REQ_SWITCH = 8,
	TF_REQ_ENROLL = 9,
	TF_REQ_UNLOCK = 10,
	TF_REQ_LOCK = 11,
	/* crypto-erase a credential persona (root only): `twofold wipe`,
	 * and later the fleet's remote wipe */
	TF_REQ_WIPE = 12,
	/* the status now (the RESULT), then one EVENT per state change on
	 * the same connection until it closes: `twofold status --watch` */
	TF_REQ_SUBSCRIBE = 13,
	/* per persona: mode, links, addresses, routes, DNS, lockdown and
	 * the tunnel's state (docs/network.md "net status") */
	TF_REQ_NET_STATUS = 14,
	/* PERSONA (optional: the first tunnel persona): "<suite> <base64
	 * public key>" of its device-bound tunnel key */
	TF_REQ_TUNNEL_KEY = 15,
	/* PERSONA + the package as the one SCM_RIGHTS fd (the daemon never
	 * opens a caller's path): verify, check the catalog, mount at
	 * /apps/NAME of the running persona (docs/packages.md) */
	TF_REQ_APP_INSTALL = 16,
	/* PERSONA: the installed apps (TEXT, JSON) */
	TF_REQ_APP_LIST = 17,
	/* PERSONA, ARG = the app's name: unmount, delete image and data */
	TF_REQ_APP_REMOVE = 18,
	/* copy a file into a persona through quarantine and the scanner:
	 * PERSONA the destination, ARG the source ("NAME:/PATH" or a host
	 * "/PATH", root only), ARG (optional) a directory in its Inbox */
	TF_REQ_COPY = 19,
	/* PERSONA [ARG id] (root or the shell): its kept notifications as
	 * TEXT, each through the redaction rule (tf_notify_render): the
	 * full text only for a persona not credential-bound or one unlocked
	 * and in front (docs/shell.md "Notifications") */
	TF_REQ_NOTIFY_GET = 20,
	/* PERSONA = the source, ARG = the target ("-": the copy half), ARG =
	 * the byte count (the shell only; never the bytes): the daemon's
	 * clipboard_flows decides, audits, answers TEXT "allowed" or
	 * "refused" (docs/shell.md "Clipboard") */
	TF_REQ_CROSS_COPY_AUDIT = 21,
	/* PERSONA (running, root only): hash its base's executables into
	 * its exec gate's record (docs/exec.md "Base files by hash") */
	TF_REQ_EXEC_SEAL = 22,
	/* ARG: a signed alert record in hex (root only): checked, audited,
	 * kept, the event "alert" (docs/shell.md "Urgent alerts") */
	TF_REQ_ALERT_POST = 23,
	/* PERSONA (running, i.e. unlocked; the shell or root): the latest
	 * alert as TEXT "ID\nTITLE\nBODY" */
	TF_REQ_ALERT_BODY = 24,
	/* PERSONA, ARG "key=HEX" "cert=HEX" "ca=HEX" "relay-pub=HEX"
	 * "relay=ADDR:PORT" (root; running): twofold-comms's files into its
	 * storage; FLAGS TF_F_COMMS_STATUS: the service's status as TEXT
	 * (docs/comms.md "In the secure persona") */
	TF_REQ_COMMS = 25,
	TF_REQ_TYPE_MAX = 25,
	/* replies (daemon -> CLI) */
	TF_REP_RESULT = 0x8001, /* final answer: ERRNO, MESSAGE, TEXT, JSON */
	/* was STARTED ("the app is running"): no longer sent (it cost the
	 * client a wake-up per launch, and no client used it); still parsed,
	 * so that a new CLI ignores it from an older daemon */
	TF_REP_RESERVED_STARTED = 0x8002,
	TF_REP_EXITED = 0x8003, /* run: the app ended: EXIT */
	/* run with a pty: the pty's master as the one SCM_RIGHTS fd (the CLI
	 * relays between it and its terminal); sent just before the launch,
	 * so a RESULT with the launch's error may follow */
	TF_REP_PTY = 0x8004,
	/* run: the app was stopped (e.g. Ctrl-Z in its pty): the CLI stops
	 * itself and, once continued, sends SIGNAL SIGCONT */
	TF_REP_STOPPED = 0x8005,
	/* subscribe: one state change: TEXT (one line), JSON (one object),
	 * ERRNO 0, or -ENOBUFS on the last one, sent when the subscriber fell
	 * behind and is dropped */
	TF_REP_EVENT = 0x8006,
};

enum tf_attr {
	TF_A_PERSONA = 1, /* str */
	TF_A_ARG = 2,	  /* str, repeated, in order */
	TF_A_ENV = 3,	  /* str "KEY=VALUE", repeated */
	TF_A_CWD = 4,	  /* str */
	TF_A_UID = 5,	  /* u32 */
	TF_A_FLAGS = 6,	  /* u32, request-specific TF_F_* */
	TF_A_SECRET = 7, /* str: credential (old, or only) — wiped after use */
	TF_A_SECRET_NEW = 8, /* str: new credential */
	TF_A_SIGNAL = 9,     /* u32 */
	TF_A_ERRNO = 10,     /* i32, 0 or -errno */
	TF_A_MESSAGE = 11,   /* str: one-line error */
	TF_A_TEXT = 12,	     /* str: human output */
	TF_A_JSON = 13,	     /* str: machine output */
	TF_A_EXIT = 14,	     /* i32: exit code (128+N for a signal) */
	TF_A_PID = 15,	     /* u32 */
	/* a failure's stable reason id (twofold/error.h: "persona.locked",
	 * "errno.EIO"); on every reply whose ERRNO is < 0 */
	TF_A_REASON = 16, /* str */
	/* str "name=value", repeated: the reason's named parameters
	 * (persona, tries_left, wait_s, ...) */
	TF_A_PARAM = 17,
	TF_A_ATTR_MAX = 17,
};

/* request flags */
#define TF_F_EVICT 0x2u /* lock: evict the keys too */
#define TF_F_LIST 0x8u	/* status: one "NAME STATE [foreground]" line each */
/* run: stdio slot i is not passed but is the slave of a pty the daemon
 * makes in the persona (TF_REP_PTY); the other slots are passed, in order */
#define TF_F_PTY(i) (0x10u << (i))
#define TF_F_PTY_ANY (TF_F_PTY(0) | TF_F_PTY(1) | TF_F_PTY(2))
/* run: a background service: what the app leaves running is not killed
 * when it exits (its run cgroup stays until empty or the persona stops) */
#define TF_F_SERVICE 0x80u
/* enroll: SECRET_NEW is the duress credential (SECRET the current one) */
#define TF_F_DURESS 0x100u
/* run: the first ARG is "NAME" or "NAME:ENTRY", an installed app's entry
 * point (its manifest); it runs as the app's uid in its sandbox, the
 * other ARGs follow as its arguments (no UID, no CWD) */
#define TF_F_APP 0x200u
/* comms: the service's status instead of a provisioning */
#define TF_F_COMMS_STATUS 0x4000u

/* ---- building ---- */
struct tf_msgbuf {
	uint8_t *data;
	size_t len, cap;
	int err;     /* first error; checked once at the end */
	bool secret; /* wipe on free: the body holds a credential */
	bool secmem; /* data is tf_secure_alloc'd, cap fixed (no growth) */
};

void tf_msgbuf_init(struct tf_msgbuf *b, uint16_t type);
/* A message that will hold a credential: built in secure memory of a fixed
 * cap (<= TF_FRAG_MAX, so it is sent as one datagram), never grown (no
 * copy is left behind in the heap); b->err = -errno if no secure memory,
 * -EMSGSIZE if it would exceed cap. */
void tf_msgbuf_init_secret(struct tf_msgbuf *b, uint16_t type, size_t cap);
void tf_msgbuf_put(struct tf_msgbuf *b, uint16_t attr, const void *v,
		   size_t len);
void tf_msgbuf_put_str(struct tf_msgbuf *b, uint16_t attr, const char *s);
void tf_msgbuf_put_u32(struct tf_msgbuf *b, uint16_t attr, uint32_t v);
void tf_msgbuf_put_i32(struct tf_msgbuf *b, uint16_t attr, int32_t v);
/* Finalise the header; returns b->err or 0. */
TF_WUR int tf_msgbuf_finish(struct tf_msgbuf *b);
void tf_msgbuf_free(struct tf_msgbuf *b);

/* ---- parsing ---- */
struct tf_attr_ref {
	uint16_t type;
	uint32_t len;
	const uint8_t *val;
};

struct tf_msg {
	uint16_t type;
	size_t n_attrs;
	struct tf_attr_ref *attrs; /* malloc'd, points into the buffer */
};

/* Parse a complete message (header + body). On success msg->attrs must be
 * released with tf_msg_clear. */
TF_WUR int tf_msg_parse(const uint8_t *buf, size_t len, struct tf_msg *msg)
	TF_NONNULL(3);
void tf_msg_clear(struct tf_msg *msg);

const char *tf_msg_str(const struct tf_msg *m, uint16_t attr);
int tf_msg_u32(const struct tf_msg *m, uint16_t attr, uint32_t *out);
int tf_msg_i32(const struct tf_msg *m, uint16_t attr, int32_t *out);
size_t tf_msg_count(const struct tf_msg *m, uint16_t attr);

/* ---- transport ---- */
/* Send a finished message, with fds (may be NULL/0) on the first datagram. */
TF_WUR int tf_msg_send(int sock, const struct tf_msgbuf *b, const int *fds,
		       size_t nfds);

/* SCM_RIGHTS, the one place (the control protocol, the launcher and the
 * spawner use them; async-signal-safe, so usable in raw clone children).
 * tf_cmsg_put_fds: attach n fds to mh as one control message in buf, which
 * must hold CMSG_SPACE(n * sizeof(int)) bytes. tf_cmsg_take_fds: append
 * every SCM_RIGHTS fd of a received mh to fds[*n..max); one beyond max is
 * closed, and that or cut control data (MSG_CTRUNC) gives -EPROTO. */
struct msghdr;
void tf_cmsg_put_fds(struct msghdr *mh, void *buf, const int *fds, size_t n);
TF_WUR int tf_cmsg_take_fds(struct msghdr *mh, int *fds, size_t max, size_t *n);

/* Incremental receiver for non-blocking sockets. */
struct tf_msg_reader {
	uint8_t *buf;
	size_t have, total;
	int fds[TF_MSG_FDS_MAX];
	size_t nfds;
	size_t max; /* bound for this side: TF_MSG_MAX */
	/* Credentials of the sender of every datagram of this message
	 * (SCM_CREDENTIALS; the receiving socket needs SO_PASSCRED and
	 * want_creds set). The kernel stamps them at send time, so they
	 * name whoever wrote the message, not whoever made the connection
	 * (SO_PEERCRED): an fd passed on to another process speaks with
	 * that process's identity. creds_ok: every datagram carried them
	 * and all agree. */
	bool want_creds;
	bool creds_ok;
	uid_t cred_uid;
	pid_t cred_pid;
	/* Optional secure receive area (the owner's, tf_secure_alloc'd, at
	 * least TF_FRAG_MAX bytes; kept across reset): the first datagram is
	 * received straight into it, and a message that is that one datagram
	 * stays there (buf == sbuf, secure = true) — so a credential in a
	 * request never touches the stack or the heap. A longer message is
	 * copied to the heap and sbuf wiped. reset wipes, never frees it. */
	uint8_t *sbuf;
	bool secure;
};
void tf_msg_reader_init(struct tf_msg_reader *r, size_t max);
/* Reads at most one datagram. Returns 1 when a whole message is in
 * r->buf[0..r->total), 0 when more is needed (EAGAIN), -ECONNRESET when
 * the peer closed, other -errno on a malformed/oversized message. */
TF_WUR int tf_msg_reader_step(int sock, struct tf_msg_reader *r) TF_NONNULL(2);
/* Forget the current message (closes fds not taken), ready for the next. */
void tf_msg_reader_reset(struct tf_msg_reader *r);

/* Blocking receive of one whole message (CLI side). */
TF_WUR int tf_msg_recv(int sock, struct tf_msg_reader *r);

/* The control socket path for a state dir (NULL = /run/twofold/control). */
TF_WUR int tf_control_path(const char *state_dir, char *buf, size_t cap);

#endif
