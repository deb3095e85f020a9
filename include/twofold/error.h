/* SPDX-License-Identifier: ISC */
/*
 * Structured errors (docs/protocol.md "Errors"): what failed, as data.
 *
 * An error is an errno, a stable reason id, a one-line message for people
 * and named parameters (the object it concerns: persona=secure,
 * tries_left=4, ...). The daemon sends all four on its reply (TF_A_ERRNO,
 * TF_A_REASON, TF_A_PARAM, TF_A_MESSAGE); the CLI renders the sentence and
 * the hint from the reason and its parameters, and under --json prints
 * them as they are. A UI or an agent keys on the reason, never on the
 * message: the message's words may change, a reason id never does (a new
 * condition gets a new id). An error without a specific reason carries
 * "errno.NAME" (errno.EIO, ...), so every error has one.
 */
#ifndef TWOFOLD_ERROR_H
#define TWOFOLD_ERROR_H

/* The request itself */
#define TF_R_REQUEST_MALFORMED "request.malformed"
#define TF_R_REQUEST_UNKNOWN "request.unknown"	       /* no such type */
#define TF_R_REQUEST_DENIED "request.denied"	       /* caller may not */
#define TF_R_REQUEST_TOO_LARGE "request.too_large"     /* over a bound */
#define TF_R_REQUEST_UNSUPPORTED "request.unsupported" /* protocol version */
/* The daemon */
#define TF_R_DAEMON_BUSY "daemon.busy" /* another request is under way */
#define TF_R_DAEMON_STARTING "daemon.starting"
#define TF_R_DAEMON_STOPPING "daemon.stopping"
#define TF_R_DAEMON_NOMEM "daemon.out_of_memory"
/* A persona's state (the lifecycle table's refusals) */
#define TF_R_PERSONA_UNKNOWN "persona.unknown"
#define TF_R_PERSONA_NOT_RUNNING "persona.not_running" /* credential */
#define TF_R_PERSONA_STOPPED "persona.stopped"	       /* device-bound */
#define TF_R_PERSONA_RUNNING "persona.running"	       /* already */
#define TF_R_PERSONA_UNLOCKED "persona.unlocked"       /* already */
#define TF_R_PERSONA_LOCKED "persona.locked"
#define TF_R_PERSONA_EVICT_PENDING "persona.evict_pending"
#define TF_R_PERSONA_NO_CREDENTIAL "persona.no_credential"
#define TF_R_PERSONA_ERASED "persona.erased"
#define TF_R_PERSONA_UNLOCKING "persona.unlocking"	 /* busy */
#define TF_R_PERSONA_STOPPING "persona.stopping"	 /* busy */
#define TF_R_PERSONA_FREEZING "persona.freezing"	 /* busy */
#define TF_R_PERSONA_DEVICE_BOUND "persona.device_bound" /* no credential */
#define TF_R_PERSONA_NO_KEY "persona.no_key" /* lock --evict: no key */
#define TF_R_PERSONA_STOP_INCOMPLETE "persona.stop_incomplete"
#define TF_R_PERSONA_START_FAILED "persona.start_failed"
/* Credentials and keys */
#define TF_R_CREDENTIAL_WRONG "credential.wrong"
#define TF_R_CREDENTIAL_THROTTLED "credential.throttled"
#define TF_R_CREDENTIAL_WEAK "credential.weak"
#define TF_R_CREDENTIAL_NEEDED "credential.needed" /* the old/current one */
#define TF_R_CREDENTIAL_SAME "credential.same"	   /* duress == PIN */
#define TF_R_UNLOCK_CANCELLED "unlock.cancelled"
#define TF_R_TPM_LOCKOUT "tpm.lockout"
#define TF_R_TPM_UNREACHABLE "tpm.unreachable"
#define TF_R_TPM_PCR_MISMATCH "tpm.pcr_mismatch"
#define TF_R_TPM_NOT_CONFIGURED "tpm.not_configured"
#define TF_R_STORAGE_DAMAGED "storage.damaged"
#define TF_R_STORAGE_ORPHANED "storage.orphaned" /* data, but no key */
#define TF_R_MEMORY_LOCK "memory.lock"		 /* RLIMIT_MEMLOCK */
#define TF_R_WIPE_FAILED "wipe.failed"
#define TF_R_WIPE_PENDING "wipe.pending"
/* run */
#define TF_R_RUN_NOT_FOUND "run.not_found"	     /* 127 */
#define TF_R_RUN_NOT_EXECUTABLE "run.not_executable" /* 126 */
#define TF_R_RUN_BAD_USER "run.bad_user"
#define TF_R_RUN_BAD_CWD "run.bad_cwd"
#define TF_R_RUN_BAD_ENV "run.bad_env"
#define TF_R_RUN_TOO_MANY "run.too_many"
#define TF_R_RUN_LAUNCH_FAILED "run.launch_failed"
/* network (issue 12) */
#define TF_R_NET_NOT_TUNNEL "net.not_tunnel" /* no tunnel: no tunnel key */
#define TF_R_NET_NO_KEY "net.no_key"	     /* tunnel key not derived */
/* app packages and catalogs (twofold/pkg.h) */
#define TF_R_PKG_MALFORMED "pkg.malformed"	   /* header/slot bytes */
#define TF_R_PKG_TRUNCATED "pkg.truncated"	   /* shorter than it says */
#define TF_R_PKG_TOO_LARGE "pkg.too_large"	   /* over a bound */
#define TF_R_PKG_WRONG_SUITE "pkg.wrong_suite"	   /* another suite */
#define TF_R_PKG_UNTRUSTED "pkg.untrusted"	   /* no trusted signer */
#define TF_R_PKG_BAD_SIGNATURE "pkg.bad_signature" /* tampered */
#define TF_R_PKG_PAYLOAD_MISMATCH "pkg.payload_mismatch" /* hash */
#define TF_R_PKG_MANIFEST "pkg.manifest_invalid"
#define TF_R_PKG_ROLLBACK "pkg.rollback" /* version code not above */
#define TF_R_PKG_WRONG_PERSONA "pkg.wrong_persona"
#define TF_R_PKG_NOT_IN_CATALOG "pkg.not_in_catalog"
#define TF_R_PKG_KEY "pkg.key" /* a signing key file */
#define TF_R_CATALOG_MALFORMED "catalog.malformed"
#define TF_R_CATALOG_ROLLBACK "catalog.rollback" /* lower seq / fork */
#define TF_R_CATALOG_EXPIRED "catalog.expired"
/* installed apps (docs/packages.md "Installing") */
#define TF_R_APP_NOT_INSTALLED "app.not_installed"
#define TF_R_APP_DISABLED "app.disabled"       /* dropped from the catalog */
#define TF_R_APP_NO_ENTRY "app.no_entry"       /* no such entry point */
#define TF_R_APP_IO "app.io"		       /* the app store, a mount */
#define TF_R_APP_MALWARE "app.malware"	       /* the scan found or could not */
#define TF_R_APP_NOT_SCANNED "app.not_scanned" /* no scanner database */
#define TF_R_APP_BUSY "app.busy"	 /* an install runs in the persona */
#define TF_R_APP_TAMPERED "app.tampered" /* record or image changed on disk */
/* Urgent alerts (docs/shell.md "Urgent alerts"); param why: the check
 * that refused it */
#define TF_R_ALERT_REFUSED "alert.refused"
#define TF_R_ALERT_NONE "alert.none" /* no alert kept for the persona */
/* notify get: no such notification kept, or no notifications here */
#define TF_R_NOTIFY_NONE "notify.none"
/* The CLI's own (never on the wire) */
#define TF_R_DAEMON_NOT_RUNNING "daemon.not_running"
#define TF_R_DAEMON_DENIED "daemon.denied" /* the socket's permissions */
#define TF_R_DAEMON_GONE "daemon.gone"	   /* closed / bad reply */
/* no socket, and the state directory is not there / has no device.conf */
#define TF_R_STATE_MISSING "state.missing"
#define TF_R_STATE_UNINITIALISED "state.uninitialised"
#define TF_R_CLI_FAILED "cli.failed"
#define TF_R_CLI_USAGE "cli.usage"

#define TF_REASON_MAX 48    /* a reason id, NUL included */
#define TF_ERR_PARAMS_MAX 6 /* named parameters on one error */
#define TF_ERR_KEY_MAX 24   /* a parameter's name, NUL included */
#define TF_ERR_VAL_MAX 160  /* a parameter's value, NUL included */

struct tf_err_param {
	char key[TF_ERR_KEY_MAX];
	char val[TF_ERR_VAL_MAX];
};

#endif
