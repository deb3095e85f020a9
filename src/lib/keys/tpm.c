/* SPDX-License-Identifier: ISC */
/*
 * TPM 2.0 sealing (tpm.h has the contract, docs/keys.md "TPM" the design).
 * libtss2 does the protocol, sessions and marshalling; what is ours is the
 * choice of templates, the file around the marshalled blobs and the mapping
 * of TPM response codes to errno values.
 */
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "src/lib/keys/tpm.h"

struct tf_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;
	ESYS_TR session;
	ESYS_TR object; /* loaded by tf_tpm_load, or ESYS_TR_NONE */
};

/* TPM 2.0 Part 2, 6.6 "TPM_RC": format-one codes carry the handle,
 * session or parameter number in bits 6 and 8..11; strip them so the
 * base code can be compared. */
static TSS2_RC rc_base(TSS2_RC rc)
{
	rc &= 0xfff;
	if (rc & TPM2_RC_FMT1)
		return rc & (TPM2_RC_FMT1 | 0x3f);
	return rc;
}

/* A TPM answer, directly or relayed by a resource manager (tabrmd). */
static bool rc_is_tpm(TSS2_RC rc)
{
	return (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER ||
	       (rc & TSS2_RC_LAYER_MASK) == TSS2_RESMGR_TPM_RC_LAYER;
}

/* Errors of the transport (TCTI layer, or ESYS reporting a lost
 * connection) mean "not reachable"; the caller names the TCTI. */
static int rc_errno(TSS2_RC rc)
{
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (!rc_is_tpm(rc)) {
		switch (rc & 0xffff) { /* the base code below the layer */
		case TSS2_BASE_RC_IO_ERROR:
		case TSS2_BASE_RC_NO_CONNECTION:
		case TSS2_BASE_RC_TRY_AGAIN: return -EHOSTUNREACH;
		default:
			return (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER
				       ? -EHOSTUNREACH
				       : -EIO;
		}
	}
	switch (rc_base(rc)) {
	case TPM2_RC_AUTH_FAIL: /* DA-protected object: counted */
	case TPM2_RC_BAD_AUTH: /* TPMA_OBJECT_NODA object */ return -EACCES;
	case TPM2_RC_LOCKOUT: return -EBUSY;
	case TPM2_RC_INTEGRITY:
	case TPM2_RC_BINDING:
	case TPM2_RC_SIZE:
	case TPM2_RC_KEY:
	case TPM2_RC_VALUE: return -EBADMSG;
	case TPM2_RC_RETRY:
	case TPM2_RC_YIELDED:
	case TPM2_RC_TESTING: return -EAGAIN;
	default: return -EIO;
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

void tf_tpm_close(struct tf_tpm *t)
{
	if (t == NULL)
		return;
	if (t->esys != NULL) {
		/* transient objects and sessions would otherwise fill the
		 * TPM's few slots (a hardware TPM has 3); errors are moot */
		if (t->object != ESYS_TR_NONE)
			(void)Esys_FlushContext(t->esys, t->object);
		if (t->session != ESYS_TR_NONE)
			(void)Esys_FlushContext(t->esys, t->session);
		if (t->primary != ESYS_TR_NONE)
			(void)Esys_FlushContext(t->esys, t->primary);
		Esys_Finalize(&t->esys);
	}
	if (t->tcti != NULL)
		Tss2_TctiLdr_Finalize(&t->tcti);
	free(t);
}

/*
 * The primary: an ECC NIST P-256 restricted decryption (storage) key with
 * AES-128-CFB, the shape of the TCG "TPM 2.0 Provisioning Guidance" SRK
 * template, with an empty unique field. The TPM derives it from the owner
 * seed, so the same template gives the same key every time; ECC because a
 * P-256 primary takes milliseconds where RSA-2048 takes seconds.
 */
static const TPM2B_PUBLIC primary_template = {
	.publicArea =
		{
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes =
				TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				TPMA_OBJECT_SENSITIVEDATAORIGIN |
				TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
				TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
			.parameters.eccDetail =
				{
					.symmetric =
						{
							.algorithm =
								TPM2_ALG_AES,
							.keyBits.aes = 128,
							.mode.aes =
								TPM2_ALG_CFB,
						},
					.scheme.scheme = TPM2_ALG_NULL,
					.curveID = TPM2_ECC_NIST_P256,
					.kdf.scheme = TPM2_ALG_NULL,
				},
		},
};

int tf_tpm_open(const char *tcti, struct tf_tpm **out)
{
	return tf_tpm_open_pinned(tcti, NULL, 0, out);
}

int tf_tpm_open_pinned(const char *tcti, const uint8_t *pin, size_t pinlen,
		       struct tf_tpm **out)
{
	static const TPMT_SYM_DEF sym = {
		.algorithm = TPM2_ALG_AES,
		.keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB,
	};
	const TPM2B_SENSITIVE_CREATE insens = {0};
	const TPM2B_DATA outside = {0};
	const TPML_PCR_SELECTION pcrs = {0};
	struct tf_tpm *t;
	TSS2_RC rc;
	int r;

	if (tcti == NULL || tcti[0] == '\0')
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->primary = t->session = t->object = ESYS_TR_NONE;
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		/* an unknown TCTI name and a refused connection look the same
		 * from here: both mean the configured TPM is not there */
		r = -EHOSTUNREACH;
		goto fail;
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		r = rc_errno(rc);
		goto fail;
	}
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
				ESYS_TR_NONE, ESYS_TR_NONE, &insens,
				&primary_template, &outside, &pcrs, &t->primary,
				NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		r = rc_errno(rc);
		if (r == -EBADMSG)
			r = -EIO;
		goto fail;
	}
	if (pin != NULL) {
		/* before the session: its salt must go to the pinned key */
		TPM2B_NAME *name = NULL;
		bool same;

		rc = Esys_TR_GetName(t->esys, t->primary, &name);
		if (rc != TSS2_RC_SUCCESS) {
			r = -EIO;
			goto fail;
		}
		same = name->size == pinlen &&
		       memcmp(name->name, pin, pinlen) == 0;
		Esys_Free(name);
		if (!same) {
			r = -EBADMSG;
			goto fail;
		}
	}
	/* TPM 2.0 Part 1, 19.6 "Salted sessions": the session key comes from
	 * a secret encrypted to the primary, so an observer of the bus learns
	 * neither the session key nor the encrypted parameters */
	rc = Esys_StartAuthSession(t->esys, t->primary, ESYS_TR_NONE,
				   ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256,
				   &t->session);
	if (rc != TSS2_RC_SUCCESS) {
		r = rc_errno(rc);
		goto fail;
	}
	rc = Esys_TRSess_SetAttributes(t->esys, t->session,
				       TPMA_SESSION_CONTINUESESSION |
					       TPMA_SESSION_DECRYPT |
					       TPMA_SESSION_ENCRYPT,
				       0xff);
	if (rc != TSS2_RC_SUCCESS) {
		r = rc_errno(rc);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tf_tpm_close(t);
	return r;
}

int tf_tpm_file_parse(const uint8_t *file, size_t len, uint8_t *kind,
		      uint8_t link[TF_TPM_LINK_BYTES])
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	size_t publen, privlen, off;

	if (len < TF_TPM_HDR || len > TF_TPM_FILE_MAX ||
	    memcmp(file, TF_TPM_MAGIC, 4) != 0)
		return -EBADMSG;
	if (file[4] > TF_TPM_VERSION)
		return -EPROTONOSUPPORT;
	if (file[4] != TF_TPM_VERSION || file[6] || file[7] ||
	    (file[5] != TF_TPM_KIND_DEVSECRET &&
	     file[5] != TF_TPM_KIND_CREDENTIAL))
		return -EBADMSG;
	publen = get16(file + 24);
	privlen = get16(file + 26);
	if (TF_TPM_HDR + publen + privlen != len)
		return -EBADMSG;
	/* the marshalled structures must fill their fields exactly; MU
	 * refuses to unmarshal into a TPM2B whose size is not zero */
	memset(&pub, 0, sizeof(pub));
	memset(&priv, 0, sizeof(priv));
	off = 0;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(file + TF_TPM_HDR, publen, &off,
					   &pub) != TSS2_RC_SUCCESS ||
	    off != publen)
		return -EBADMSG;
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(file + TF_TPM_HDR + publen, privlen,
					    &off, &priv) != TSS2_RC_SUCCESS ||
	    off != privlen)
		return -EBADMSG;
	if (pub.publicArea.type != TPM2_ALG_KEYEDHASH)
		return -EBADMSG;
	if (kind != NULL)
		*kind = file[5];
	if (link != NULL)
		memcpy(link, file + 8, TF_TPM_LINK_BYTES);
	return 0;
}

int tf_tpm_seal(struct tf_tpm *t, uint8_t kind,
		const uint8_t link[TF_TPM_LINK_BYTES], const uint8_t *data,
		size_t len, const uint8_t *auth, size_t authlen, uint8_t *file,
		size_t cap, size_t *filelen)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_PUBLIC tmpl;
	const TPM2B_DATA outside = {0};
	const TPML_PCR_SELECTION pcrs = {0};
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	size_t publen = 0, privlen = 0;
	TSS2_RC rc;
	int r;

	if (len == 0 || len > TF_TPM_DATA_MAX || cap < TF_TPM_FILE_MAX ||
	    authlen > sizeof(sens.sensitive.userAuth.buffer) ||
	    (kind != TF_TPM_KIND_DEVSECRET && kind != TF_TPM_KIND_CREDENTIAL))
		return -EINVAL;
	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	/* fixedTPM|fixedParent: cannot be duplicated to another TPM;
	 * userWithAuth: the auth value (not a policy) authorizes unseal.
	 * The device secret gets NODA: its auth is empty, and a lockout
	 * caused by PIN guesses must not stop the device-bound persona from
	 * starting. Credential objects are DA-protected (TPM 2.0 Part 1,
	 * 19.7 "Dictionary attack protection"): each wrong auth counts. */
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
					   TPMA_OBJECT_FIXEDPARENT |
					   TPMA_OBJECT_USERWITHAUTH;
	if (kind == TF_TPM_KIND_DEVSECRET)
		tmpl.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme =
		TPM2_ALG_NULL;

	memset(&sens, 0, sizeof(sens));
	memcpy(sens.sensitive.data.buffer, data, len);
	sens.sensitive.data.size = (uint16_t)len;
	if (auth != NULL && authlen > 0) {
		memcpy(sens.sensitive.userAuth.buffer, auth, authlen);
		sens.sensitive.userAuth.size = (uint16_t)authlen;
	}
	/* the primary's auth is empty; the session carries it (and encrypts
	 * inSensitive, the first parameter) */
	rc = Esys_Create(t->esys, t->primary, t->session, ESYS_TR_NONE,
			 ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &priv,
			 &pub, NULL, NULL, NULL);
	tf_memzero(&sens, sizeof(sens));
	if (rc != TSS2_RC_SUCCESS) {
		r = rc_errno(rc);
		goto out;
	}
	memset(file, 0, TF_TPM_HDR);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, file + TF_TPM_HDR,
					 cap - TF_TPM_HDR,
					 &publen) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, file + TF_TPM_HDR + publen,
					  cap - TF_TPM_HDR - publen,
					  &privlen) != TSS2_RC_SUCCESS ||
	    publen > UINT16_MAX || privlen > UINT16_MAX ||
	    TF_TPM_HDR + publen + privlen > TF_TPM_FILE_MAX) {
		r = -EOVERFLOW;
		goto out;
	}
	memcpy(file, TF_TPM_MAGIC, 4);
	file[4] = TF_TPM_VERSION;
	file[5] = kind;
	if (link != NULL)
		memcpy(file + 8, link, TF_TPM_LINK_BYTES);
	put16(file + 24, (uint16_t)publen);
	put16(file + 26, (uint16_t)privlen);
	*filelen = TF_TPM_HDR + publen + privlen;
	r = 0;
out:
	Esys_Free(priv);
	Esys_Free(pub);
	return r;
}

int tf_tpm_load(struct tf_tpm *t, const uint8_t *file, size_t len)
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	size_t publen, off = 0;
	TSS2_RC rc;
	int r;

	r = tf_tpm_file_parse(file, len, NULL, NULL);
	if (r < 0)
		return r;
	publen = get16(file + 24);
	memset(&pub, 0, sizeof(pub));
	memset(&priv, 0, sizeof(priv));
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(file + TF_TPM_HDR, publen, &off,
					   &pub) != TSS2_RC_SUCCESS)
		return -EBADMSG;
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(file + TF_TPM_HDR + publen,
					    len - TF_TPM_HDR - publen, &off,
					    &priv) != TSS2_RC_SUCCESS)
		return -EBADMSG;
	if (t->object != ESYS_TR_NONE) {
		(void)Esys_FlushContext(t->esys, t->object);
		t->object = ESYS_TR_NONE;
	}
	rc = Esys_Load(t->esys, t->primary, t->session, ESYS_TR_NONE,
		       ESYS_TR_NONE, &priv, &pub, &t->object);
	if (rc != TSS2_RC_SUCCESS) {
		t->object = ESYS_TR_NONE;
		/* the private part is encrypted and integrity-protected with
		 * keys from the parent's seed: a format-one error (about a
		 * handle or parameter) means the blob is not this TPM's or was
		 * altered; warnings (e.g. TPM_RC_OBJECT_MEMORY) are not */
		if (rc_is_tpm(rc) && (rc & TPM2_RC_FMT1))
			return -EBADMSG;
		r = rc_errno(rc);
		return r == -EBADMSG ? -EIO : r;
	}
	return 0;
}

int tf_tpm_unseal(struct tf_tpm *t, const uint8_t *auth, size_t authlen,
		  uint8_t *data, size_t cap, size_t *len)
{
	TPM2B_AUTH a;
	TPM2B_SENSITIVE_DATA *out = NULL;
	TSS2_RC rc;
	int r;

	if (t->object == ESYS_TR_NONE || authlen > sizeof(a.buffer))
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	if (auth != NULL && authlen > 0) {
		memcpy(a.buffer, auth, authlen);
		a.size = (uint16_t)authlen;
	}
	rc = Esys_TR_SetAuth(t->esys, t->object, &a);
	tf_memzero(&a, sizeof(a));
	if (rc != TSS2_RC_SUCCESS)
		return rc_errno(rc);
	/* TPMA_SESSION_ENCRYPT on the session: outData comes back encrypted */
	rc = Esys_Unseal(t->esys, t->object, t->session, ESYS_TR_NONE,
			 ESYS_TR_NONE, &out);
	/* one use per load: the TPM has few transient slots (3 on common
	 * hardware) and without a resource manager nothing frees them */
	(void)Esys_FlushContext(t->esys, t->object);
	t->object = ESYS_TR_NONE;
	if (rc != TSS2_RC_SUCCESS)
		return rc_errno(rc);
	if (out->size > cap) {
		r = -EBADMSG;
	} else {
		memcpy(data, out->buffer, out->size);
		*len = out->size;
		r = 0;
	}
	tf_memzero(out, sizeof(*out));
	Esys_Free(out);
	return r;
}

int tf_tpm_primary_name(struct tf_tpm *t, uint8_t name[TF_TPM_NAME_MAX],
			size_t *len)
{
	TPM2B_NAME *n = NULL;

	if (Esys_TR_GetName(t->esys, t->primary, &n) != TSS2_RC_SUCCESS)
		return -EIO;
	if (n->size > TF_TPM_NAME_MAX) {
		Esys_Free(n);
		return -EIO;
	}
	memcpy(name, n->name, n->size);
	*len = n->size;
	Esys_Free(n);
	return 0;
}

/* ------------------------------------------------ dictionary attack */

int tf_tpm_da_info(struct tf_tpm *t, struct tf_tpm_da *out)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	struct tf_tpm_da d = {0};
	unsigned seen = 0;
	TSS2_RC rc;

	/* PT_PERMANENT .. PT_LOCKOUT_RECOVERY are one run of properties */
	rc = Esys_GetCapability(
		t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
		TPM2_CAP_TPM_PROPERTIES, TPM2_PT_PERMANENT,
		TPM2_PT_LOCKOUT_RECOVERY - TPM2_PT_PERMANENT + 1, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return rc_errno(rc);
	for (uint32_t i = 0;
	     i < cap->data.tpmProperties.count && i < TPM2_MAX_TPM_PROPERTIES;
	     i++) {
		const TPMS_TAGGED_PROPERTY *p =
			&cap->data.tpmProperties.tpmProperty[i];
		switch (p->property) {
		case TPM2_PT_PERMANENT:
			d.lockout_auth_set =
				p->value & TPMA_PERMANENT_LOCKOUTAUTHSET;
			d.in_lockout = p->value & TPMA_PERMANENT_INLOCKOUT;
			seen |= 1;
			break;
		case TPM2_PT_LOCKOUT_COUNTER:
			d.failed = p->value;
			seen |= 2;
			break;
		case TPM2_PT_MAX_AUTH_FAIL:
			d.max_tries = p->value;
			seen |= 4;
			break;
		case TPM2_PT_LOCKOUT_INTERVAL:
			d.recovery = p->value;
			seen |= 8;
			break;
		case TPM2_PT_LOCKOUT_RECOVERY:
			d.lockout_recovery = p->value;
			seen |= 16;
			break;
		default: break;
		}
	}
	Esys_Free(cap);
	if (seen != 31)
		return -EIO; /* every TPM 2.0 reports these five */
	*out = d;
	return 0;
}

static int set_auth(struct tf_tpm *t, ESYS_TR h, const uint8_t *a, size_t n)
{
	TPM2B_AUTH v;
	TSS2_RC rc;

	if (n > sizeof(v.buffer))
		return -EINVAL;
	memset(&v, 0, sizeof(v));
	if (a != NULL && n > 0) {
		memcpy(v.buffer, a, n);
		v.size = (uint16_t)n;
	}
	rc = Esys_TR_SetAuth(t->esys, h, &v);
	tf_memzero(&v, sizeof(v));
	return rc == TSS2_RC_SUCCESS ? 0 : -EIO;
}

/* lockoutAuth answers: a wrong value is TPM_RC_AUTH_FAIL (the TPM then
 * disables lockoutAuth, libtpms IncrementLockout), a disabled one
 * TPM_RC_LOCKOUT */
static int lockout_errno(TSS2_RC rc)
{
	return rc_errno(rc);
}

int tf_tpm_da_set(struct tf_tpm *t, const uint8_t *lauth, size_t llen,
		  uint32_t max_tries)
{
	TSS2_RC rc;
	int r;

	if (max_tries == 0) /* 0 would mean "always locked out" */
		return -EINVAL;
	r = set_auth(t, ESYS_TR_RH_LOCKOUT, lauth, llen);
	if (r < 0)
		return r;
	/* the salted session carries the HMAC: lockoutAuth never crosses
	 * the bus (it has no parameter to encrypt) */
	rc = Esys_DictionaryAttackParameters(
		t->esys, ESYS_TR_RH_LOCKOUT, t->session, ESYS_TR_NONE,
		ESYS_TR_NONE, max_tries, TF_TPM_DA_RECOVERY_NEVER,
		TF_TPM_DA_LOCKOUT_RECOVERY);
	(void)set_auth(t, ESYS_TR_RH_LOCKOUT, NULL, 0);
	return lockout_errno(rc);
}

int tf_tpm_lockout_change(struct tf_tpm *t, const uint8_t *old, size_t oldlen,
			  const uint8_t neu[TF_TPM_AUTH_BYTES])
{
	TPM2B_AUTH n;
	TSS2_RC rc;
	int r;

	r = set_auth(t, ESYS_TR_RH_LOCKOUT, old, oldlen);
	if (r < 0)
		return r;
	memset(&n, 0, sizeof(n));
	memcpy(n.buffer, neu, TF_TPM_AUTH_BYTES);
	n.size = TF_TPM_AUTH_BYTES;
	/* newAuth is the first parameter: encrypted by the session */
	rc = Esys_HierarchyChangeAuth(t->esys, ESYS_TR_RH_LOCKOUT, t->session,
				      ESYS_TR_NONE, ESYS_TR_NONE, &n);
	tf_memzero(&n, sizeof(n));
	(void)set_auth(t, ESYS_TR_RH_LOCKOUT, NULL, 0);
	return lockout_errno(rc);
}

int tf_tpm_da_reset(struct tf_tpm *t, const uint8_t *lauth, size_t llen)
{
	TSS2_RC rc;
	int r;

	r = set_auth(t, ESYS_TR_RH_LOCKOUT, lauth, llen);
	if (r < 0)
		return r;
	rc = Esys_DictionaryAttackLockReset(t->esys, ESYS_TR_RH_LOCKOUT,
					    t->session, ESYS_TR_NONE,
					    ESYS_TR_NONE);
	(void)set_auth(t, ESYS_TR_RH_LOCKOUT, NULL, 0);
	return lockout_errno(rc);
}

/* ------------------------------------------------------- NV slots */

static const TPMA_NV slot_attrs = TPMA_NV_OWNERWRITE | TPMA_NV_POLICYREAD |
				  TPMA_NV_WRITEDEFINE |
				  (TPM2_NT_ORDINARY << TPMA_NV_TPM2_NT_SHIFT);

static bool our_handle(uint32_t h)
{
	return h >= TF_TPM_NV_BASE && h - TF_TPM_NV_BASE < TF_TPM_NV_SLOTS;
}

int tf_tpm_nv_list(struct tf_tpm *t, uint32_t *handles, size_t cap, size_t *n)
{
	TPMS_CAPABILITY_DATA *c = NULL;
	TPMI_YES_NO more;
	size_t k = 0;
	TSS2_RC rc;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
				ESYS_TR_NONE, TPM2_CAP_HANDLES, TF_TPM_NV_BASE,
				TF_TPM_NV_SLOTS, &more, &c);
	if (rc != TSS2_RC_SUCCESS)
		return rc_errno(rc);
	for (uint32_t i = 0;
	     i < c->data.handles.count && i < TPM2_MAX_CAP_HANDLES; i++) {
		uint32_t h = c->data.handles.handle[i];
		if (!our_handle(h))
			continue;
		if (k < cap)
			handles[k] = h;
		k++;
	}
	Esys_Free(c);
	*n = k;
	return 0;
}

int tf_tpm_nv_free(struct tf_tpm *t, uint32_t *handle)
{
	uint32_t used[TF_TPM_NV_SLOTS];
	size_t n, j = 0;
	int r;

	r = tf_tpm_nv_list(t, used, TF_TPM_NV_SLOTS, &n);
	if (r < 0)
		return r;
	/* the list is ascending (Part 3, 30.2 TPM2_GetCapability) */
	for (uint32_t h = TF_TPM_NV_BASE; h < TF_TPM_NV_BASE + TF_TPM_NV_SLOTS;
	     h++) {
		while (j < n && used[j] < h)
			j++;
		if (j < n && used[j] == h)
			continue;
		*handle = h;
		return 0;
	}
	return -ENOSPC;
}

static void pcr_selection(uint32_t mask, TPML_PCR_SELECTION *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	for (unsigned i = 0; i < TF_TPM_PCR_MAX; i++)
		if (mask & (1u << i))
			sel->pcrSelections[0].pcrSelect[i / 8] |=
				(uint8_t)(1u << (i % 8));
}

/* The slot policy, run in session s (a trial session to compute the
 * digest, a policy session to satisfy it): PolicyPCR with the current
 * values (empty pcrDigest: the TPM takes them itself), then
 * PolicyAuthValue, so the HMAC of the command proves the auth value. */
static TSS2_RC run_policy(struct tf_tpm *t, ESYS_TR s, uint32_t pcr_mask)
{
	TSS2_RC rc;

	if (pcr_mask != 0) {
		TPML_PCR_SELECTION sel;
		const TPM2B_DIGEST none = {0};

		pcr_selection(pcr_mask, &sel);
		rc = Esys_PolicyPCR(t->esys, s, ESYS_TR_NONE, ESYS_TR_NONE,
				    ESYS_TR_NONE, &none, &sel);
		if (rc != TSS2_RC_SUCCESS)
			return rc;
	}
	return Esys_PolicyAuthValue(t->esys, s, ESYS_TR_NONE, ESYS_TR_NONE,
				    ESYS_TR_NONE);
}

static int policy_digest(struct tf_tpm *t, uint32_t pcr_mask, TPM2B_DIGEST *d)
{
	static const TPMT_SYM_DEF none = {.algorithm = TPM2_ALG_NULL};
	TPM2B_DIGEST *got = NULL;
	ESYS_TR s = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_StartAuthSession(
		t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
		ESYS_TR_NONE, NULL, TPM2_SE_TRIAL, &none, TPM2_ALG_SHA256, &s);
	if (rc == TSS2_RC_SUCCESS)
		rc = run_policy(t, s, pcr_mask);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_PolicyGetDigest(t->esys, s, ESYS_TR_NONE,
					  ESYS_TR_NONE, ESYS_TR_NONE, &got);
	if (s != ESYS_TR_NONE)
		(void)Esys_FlushContext(t->esys, s);
	if (rc != TSS2_RC_SUCCESS)
		return rc_errno(rc) == -EBADMSG ? -EINVAL : rc_errno(rc);
	*d = *got;
	Esys_Free(got);
	return 0;
}

/* ESYS handle of NV index h, checked against the stored Name */
static int nv_handle(struct tf_tpm *t, uint32_t h, const uint8_t *name,
		     size_t namelen, ESYS_TR *out)
{
	TPM2B_NAME *n = NULL;
	ESYS_TR e = ESYS_TR_NONE;
	TSS2_RC rc;
	bool same;

	if (!our_handle(h))
		return -EINVAL;
	rc = Esys_TR_FromTPMPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, &e);
	if (rc != TSS2_RC_SUCCESS) {
		if (rc_is_tpm(rc) && rc_base(rc) == TPM2_RC_HANDLE)
			return -ENOENT;
		return rc_errno(rc) == -EBADMSG ? -EIO : rc_errno(rc);
	}
	if (name != NULL) {
		if (Esys_TR_GetName(t->esys, e, &n) != TSS2_RC_SUCCESS) {
			(void)Esys_TR_Close(t->esys, &e);
			return -EIO;
		}
		same = n->size == namelen &&
		       memcmp(n->name, name, namelen) == 0;
		Esys_Free(n);
		if (!same) {
			(void)Esys_TR_Close(t->esys, &e);
			return -EBADMSG;
		}
	}
	*out = e;
	return 0;
}

int tf_tpm_nv_check(struct tf_tpm *t, uint32_t handle, const uint8_t *name,
		    size_t namelen)
{
	ESYS_TR e;
	int r;

	r = nv_handle(t, handle, name, namelen, &e);
	if (r == 0)
		(void)Esys_TR_Close(t->esys, &e);
	return r;
}

int tf_tpm_nv_policy_check(struct tf_tpm *t, uint32_t handle, uint32_t pcr_mask)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	TPM2B_DIGEST now;
	ESYS_TR e;
	TSS2_RC rc;
	int r;

	if (pcr_mask >> TF_TPM_PCR_MAX)
		return -EINVAL;
	r = policy_digest(t, pcr_mask, &now);
	if (r < 0)
		return r;
	r = nv_handle(t, handle, NULL, 0, &e);
	if (r < 0)
		return r;
	rc = Esys_NV_ReadPublic(t->esys, e, ESYS_TR_NONE, ESYS_TR_NONE,
				ESYS_TR_NONE, &pub, NULL);
	(void)Esys_TR_Close(t->esys, &e);
	if (rc != TSS2_RC_SUCCESS)
		return rc_errno(rc) == -EBADMSG ? -EIO : rc_errno(rc);
	r = pub->nvPublic.authPolicy.size == now.size &&
			    memcmp(pub->nvPublic.authPolicy.buffer, now.buffer,
				   now.size) == 0
		    ? 0
		    : -EPERM;
	Esys_Free(pub);
	return r;
}

int tf_tpm_nv_undefine(struct tf_tpm *t, uint32_t handle)
{
	ESYS_TR e;
	TSS2_RC rc;
	int r;

	r = nv_handle(t, handle, NULL, 0, &e);
	if (r < 0)
		return r;
	rc = Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, e, t->session,
				   ESYS_TR_NONE, ESYS_TR_NONE);
	if (rc != TSS2_RC_SUCCESS) {
		(void)Esys_TR_Close(t->esys, &e);
		r = rc_errno(rc);
		return r == -EBADMSG ? -EIO : r;
	}
	return 0; /* ESYS released e with the index */
}

int tf_tpm_nv_define(struct tf_tpm *t, uint32_t handle, uint32_t pcr_mask,
		     const uint8_t auth[TF_TPM_AUTH_BYTES],
		     const uint8_t data[TF_TPM_SLOT_BYTES],
		     uint8_t name[TF_TPM_NAME_MAX], size_t *namelen)
{
	TPM2B_NV_PUBLIC pub;
	TPM2B_AUTH a;
	TPM2B_MAX_NV_BUFFER buf;
	TPM2B_NV_PUBLIC *rpub = NULL;
	TPM2B_NAME *rname = NULL;
	ESYS_TR e = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	if (!our_handle(handle) || pcr_mask >> TF_TPM_PCR_MAX)
		return -EINVAL;
	memset(&pub, 0, sizeof(pub));
	pub.nvPublic.nvIndex = handle;
	pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
	pub.nvPublic.attributes = slot_attrs;
	pub.nvPublic.dataSize = TF_TPM_SLOT_BYTES;
	r = policy_digest(t, pcr_mask, &pub.nvPublic.authPolicy);
	if (r < 0)
		return r;
	memset(&a, 0, sizeof(a));
	memcpy(a.buffer, auth, TF_TPM_AUTH_BYTES);
	a.size = TF_TPM_AUTH_BYTES;
	/* auth is the first parameter: encrypted by the salted session */
	rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, t->session,
				 ESYS_TR_NONE, ESYS_TR_NONE, &a, &pub, &e);
	tf_memzero(&a, sizeof(a));
	if (rc != TSS2_RC_SUCCESS) {
		if (rc_is_tpm(rc) && rc_base(rc) == TPM2_RC_NV_DEFINED)
			return -EEXIST;
		if (rc_is_tpm(rc) && rc_base(rc) == TPM2_RC_NV_SPACE)
			return -ENOSPC;
		r = rc_errno(rc);
		return r == -EBADMSG ? -EIO : r;
	}
	memset(&buf, 0, sizeof(buf));
	memcpy(buf.buffer, data, TF_TPM_SLOT_BYTES);
	buf.size = TF_TPM_SLOT_BYTES;
	rc = Esys_NV_Write(t->esys, ESYS_TR_RH_OWNER, e, t->session,
			   ESYS_TR_NONE, ESYS_TR_NONE, &buf, 0);
	tf_memzero(&buf, sizeof(buf));
	if (rc == TSS2_RC_SUCCESS)
		/* WRITEDEFINE: locked until the index is undefined */
		rc = Esys_NV_WriteLock(t->esys, ESYS_TR_RH_OWNER, e, t->session,
				       ESYS_TR_NONE, ESYS_TR_NONE);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_NV_ReadPublic(t->esys, e, ESYS_TR_NONE, ESYS_TR_NONE,
					ESYS_TR_NONE, &rpub, &rname);
	if (rc != TSS2_RC_SUCCESS) {
		r = rc_errno(rc);
		goto undefine;
	}
	if (rname->size > TF_TPM_NAME_MAX ||
	    !(rpub->nvPublic.attributes & TPMA_NV_WRITELOCKED) ||
	    !(rpub->nvPublic.attributes & TPMA_NV_WRITTEN)) {
		r = -EIO;
		goto undefine;
	}
	memcpy(name, rname->name, rname->size);
	*namelen = rname->size;
	Esys_Free(rpub);
	Esys_Free(rname);
	(void)Esys_TR_Close(t->esys, &e);
	return 0;
undefine:
	Esys_Free(rpub);
	Esys_Free(rname);
	/* never leave a half-made slot behind */
	if (Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, e, t->session,
				  ESYS_TR_NONE,
				  ESYS_TR_NONE) != TSS2_RC_SUCCESS)
		(void)Esys_TR_Close(t->esys, &e);
	return r == -EBADMSG ? -EIO : r;
}

int tf_tpm_nv_read(struct tf_tpm *t, uint32_t handle, const uint8_t *name,
		   size_t namelen, uint32_t pcr_mask,
		   const uint8_t auth[TF_TPM_AUTH_BYTES],
		   uint8_t data[TF_TPM_SLOT_BYTES])
{
	static const TPMT_SYM_DEF sym = {
		.algorithm = TPM2_ALG_AES,
		.keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB,
	};
	TPM2B_MAX_NV_BUFFER *out = NULL;
	ESYS_TR e = ESYS_TR_NONE, s = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	if (pcr_mask >> TF_TPM_PCR_MAX)
		return -EINVAL;
	r = nv_handle(t, handle, name, namelen, &e);
	if (r < 0)
		return r;
	r = set_auth(t, e, auth, TF_TPM_AUTH_BYTES);
	if (r < 0)
		goto out;
	/* a policy session salted with the primary: the response (the
	 * slot's data) comes back encrypted under a key that also needs the
	 * index's auth value */
	rc = Esys_StartAuthSession(
		t->esys, t->primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
		ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &s);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_TRSess_SetAttributes(t->esys, s,
					       TPMA_SESSION_CONTINUESESSION |
						       TPMA_SESSION_ENCRYPT,
					       0xff);
	if (rc == TSS2_RC_SUCCESS)
		rc = run_policy(t, s, pcr_mask);
	if (rc != TSS2_RC_SUCCESS) {
		r = rc_errno(rc);
		if (r == -EBADMSG)
			r = -EIO;
		goto out;
	}
	rc = Esys_NV_Read(t->esys, e, e, s, ESYS_TR_NONE, ESYS_TR_NONE,
			  TF_TPM_SLOT_BYTES, 0, &out);
	if (rc != TSS2_RC_SUCCESS) {
		/* libtpms CheckPolicyAuthSession: the policy digest is
		 * compared before the HMAC, so a PCR mismatch is refused
		 * without counting a DA failure */
		if (rc_is_tpm(rc) && (rc_base(rc) == TPM2_RC_POLICY_FAIL ||
				      rc_base(rc) == TPM2_RC_PCR_CHANGED))
			r = -EPERM;
		else if (rc_is_tpm(rc) &&
			 rc_base(rc) == TPM2_RC_NV_UNINITIALIZED)
			r = -EBADMSG;
		else {
			r = rc_errno(rc);
			if (r == -EBADMSG)
				r = -EIO;
		}
		goto out;
	}
	if (out->size != TF_TPM_SLOT_BYTES) {
		r = -EBADMSG;
	} else {
		memcpy(data, out->buffer, TF_TPM_SLOT_BYTES);
		r = 0;
	}
out:
	if (out != NULL) {
		tf_memzero(out, sizeof(*out));
		Esys_Free(out);
	}
	if (s != ESYS_TR_NONE)
		(void)Esys_FlushContext(t->esys, s);
	if (e != ESYS_TR_NONE) {
		(void)set_auth(t, e, NULL, 0);
		(void)Esys_TR_Close(t->esys, &e);
	}
	return r;
}

int tf_tpm_nv_ours(struct tf_tpm *t, uint32_t handle)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	ESYS_TR e;
	TSS2_RC rc;
	int r;

	r = nv_handle(t, handle, NULL, 0, &e);
	if (r < 0)
		return r;
	rc = Esys_NV_ReadPublic(t->esys, e, ESYS_TR_NONE, ESYS_TR_NONE,
				ESYS_TR_NONE, &pub, NULL);
	(void)Esys_TR_Close(t->esys, &e);
	if (rc != TSS2_RC_SUCCESS)
		return rc_errno(rc) == -EBADMSG ? -EIO : rc_errno(rc);
	/* the state bits (WRITTEN, WRITELOCKED) do not matter here: a slot
	 * whose definition crashed before the write is ours too */
	r = pub->nvPublic.nameAlg == TPM2_ALG_SHA256 &&
	    pub->nvPublic.dataSize == TF_TPM_SLOT_BYTES &&
	    (pub->nvPublic.attributes &
	     ~(TPMA_NV_WRITTEN | TPMA_NV_WRITELOCKED)) == slot_attrs;
	Esys_Free(pub);
	return r;
}

/* ------------------------------------------------ the slot reference */

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

int tf_tpm_slotref_parse(const uint8_t *buf, size_t len,
			 struct tf_tpm_slotref *out)
{
	struct tf_tpm_slotref r;

	if (len < 8 || memcmp(buf, TF_TPM_SLOTREF_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] > TF_TPM_SLOTREF_VERSION)
		return -EPROTONOSUPPORT;
	if (len != TF_TPM_SLOTREF_BYTES || buf[4] != TF_TPM_SLOTREF_VERSION ||
	    buf[5] != 0 || get16(buf + 6) != TF_TPM_SLOT_NAME_BYTES)
		return -EBADMSG;
	memcpy(r.link, buf + 8, TF_TPM_LINK_BYTES);
	r.handle = get32(buf + 24);
	r.pcr_mask = get32(buf + 28);
	memcpy(r.name, buf + TF_TPM_SLOTREF_HDR, TF_TPM_SLOT_NAME_BYTES);
	/* TPM2B_NAME of an SHA-256 entity: the algorithm id, big-endian */
	if (!our_handle(r.handle) || r.pcr_mask >> TF_TPM_PCR_MAX ||
	    r.name[0] != 0x00 || r.name[1] != TPM2_ALG_SHA256)
		return -EBADMSG;
	*out = r;
	return 0;
}

void tf_tpm_slotref_format(const struct tf_tpm_slotref *r,
			   uint8_t out[static TF_TPM_SLOTREF_BYTES])
{
	memcpy(out, TF_TPM_SLOTREF_MAGIC, 4);
	out[4] = TF_TPM_SLOTREF_VERSION;
	out[5] = 0;
	put16(out + 6, TF_TPM_SLOT_NAME_BYTES);
	memcpy(out + 8, r->link, TF_TPM_LINK_BYTES);
	put32(out + 24, r->handle);
	put32(out + 28, r->pcr_mask);
	memcpy(out + TF_TPM_SLOTREF_HDR, r->name, TF_TPM_SLOT_NAME_BYTES);
}
