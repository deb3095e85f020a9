/* SPDX-License-Identifier: ISC */
/*
 * Device policy of a persona cgroup: default deny, plus the devices of the
 * caller's list: the persona profile's (struct tf_profile: the basic
 * devices, and the foreground devices while the persona is the
 * foreground). The list is the same one the persona's /dev nodes are bound
 * from (tf_profile_dev_nodes / tf_profile_dev_rules), so the two cannot
 * disagree. Two enforcement paths:
 *  - v1 devices controller (hybrid / v1 hosts): devices.deny "a" once at
 *    creation, then allow lines. Later changes are applied as a diff against
 *    devices.list, allowing new entries before denying old ones, so an entry
 *    that stays allowed is never denied for a moment (a plain "deny a, then
 *    allow all again" would let a concurrent open of /dev/null fail).
 *  - BPF_PROG_TYPE_CGROUP_DEVICE (cgroup v2): a program built here and
 *    attached with BPF_F_ALLOW_MULTI; a later policy replaces it in one
 *    BPF_PROG_ATTACH with BPF_F_REPLACE, which is atomic.
 *
 * Why hand-assembled BPF instead of libbpf: the program is a fixed pattern
 * of loads and compares (a few dozen instructions, no maps, no helpers, no
 * BTF), which is what crun and systemd also emit by hand; libbpf would pull
 * in libelf/zlib for no gain and is not needed for a program this small.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include <linux/bpf.h>

#include "twofold/sandbox.h"
#include "cgroup_internal.h"

static bool dev_same(const struct tf_cg_dev *a, const struct tf_cg_dev *b)
{
	return a->type == b->type && a->major == b->major &&
	       a->minor == b->minor;
}

static int dev_check(const struct tf_cg_dev *devs, size_t n)
{
	if (n > TF_CG_DEV_MAX || (n && !devs))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (devs[i].type != 'c' && devs[i].type != 'b')
			return -EINVAL;
		/* majors are 12 bits, minors 20 bits (kdev_t.h) */
		if ((devs[i].major != TF_CG_DEV_ANY && devs[i].major > 0xfff) ||
		    (devs[i].minor != TF_CG_DEV_ANY && devs[i].minor > 0xfffff))
			return -EINVAL;
	}
	return 0;
}

/* Is the device b overridden by a deny in devs? */
static bool denied(const struct tf_cg_dev *devs, size_t n,
		   const struct tf_cg_dev *b)
{
	for (size_t i = 0; i < n; i++)
		if (!devs[i].allow && dev_same(&devs[i], b))
			return true;
	return false;
}

/* ---- v1 ---- */

static void v1_entry(const struct tf_cg_dev *d, char *buf, size_t cap)
{
	char ma[12], mi[12];

	if (d->major == TF_CG_DEV_ANY)
		snprintf(ma, sizeof(ma), "*");
	else
		snprintf(ma, sizeof(ma), "%u", d->major);
	if (d->minor == TF_CG_DEV_ANY)
		snprintf(mi, sizeof(mi), "*");
	else
		snprintf(mi, sizeof(mi), "%u", d->minor);
	snprintf(buf, cap, "%c %s:%s", d->type, ma, mi);
}

/* Is "c 1:3" (without the access part) in the devices.list text? */
static bool list_has(const char *list, const char *entry)
{
	size_t el = strlen(entry);
	const char *p = list;

	while (p && *p) {
		if (strncmp(p, entry, el) == 0 && p[el] == ' ')
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static bool want_has(const struct tf_cg_dev *want, size_t nwant,
		     const char *entry)
{
	char buf[40];

	for (size_t i = 0; i < nwant; i++) {
		v1_entry(&want[i], buf, sizeof(buf));
		if (strcmp(buf, entry) == 0)
			return true;
	}
	return false;
}

static int v1_device_set(int dfd, const struct tf_cg_dev *want, size_t nwant)
{
	_cleanup_free_ char *list = NULL;
	char buf[48];
	int r;

	r = tf_read_file_at(dfd, "devices.list", 1024 * 1024, &list, NULL);
	if (r < 0)
		return r;
	if (list_has(list, "a *:*")) {
		/* still default-allow (fresh cgroup): switch to default
		 * deny. The kernel takes "a" only while the cgroup has no
		 * children, i.e. at creation. */
		r = cg_write(dfd, "devices.deny", "a");
		if (r < 0)
			return r;
		free(list);
		list = strdup("");
		if (!list)
			return -ENOMEM;
	}
	/* allow the new entries first ... */
	for (size_t i = 0; i < nwant; i++) {
		v1_entry(&want[i], buf, sizeof(buf));
		if (list_has(list, buf))
			continue;
		strcat(buf, " rwm");
		r = cg_write(dfd, "devices.allow", buf);
		if (r < 0)
			return r;
	}
	/* ... then remove the ones no longer wanted */
	for (char *line = list; line && *line;) {
		char *nl = strchr(line, '\n');
		char *sp;
		if (nl)
			*nl = '\0';
		sp = strrchr(line, ' ');
		if (sp && sp != line) {
			*sp = '\0';
			if (!want_has(want, nwant, line)) {
				snprintf(buf, sizeof(buf), "%s rwm", line);
				r = cg_write(dfd, "devices.deny", buf);
				if (r < 0)
					return r;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* ---- BPF ---- */

static struct bpf_insn ins(uint8_t code, uint8_t dst, uint8_t src, int16_t off,
			   int32_t imm)
{
	struct bpf_insn i = {.code = code,
			     .dst_reg = dst & 0xf,
			     .src_reg = src & 0xf,
			     .off = off,
			     .imm = imm};
	return i;
}

/* The match part of a rule: type, then major and minor unless they are
 * wildcards; a mismatch jumps to the rule's end (len instructions from
 * its start: offsets count from the next instruction). Returns how many
 * instructions it wrote. */
static int16_t emit_match(struct bpf_insn *p, const struct tf_cg_dev *d,
			  int16_t len)
{
	uint8_t jne = BPF_JMP32 | BPF_JNE | BPF_K;
	bool cmp_ma = d->major != TF_CG_DEV_ANY;
	bool cmp_mi = d->minor != TF_CG_DEV_ANY;
	int16_t k = 0;

	p[k] = ins(jne, BPF_REG_2, 0, (int16_t)(len - k - 1),
		   d->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
	k++;
	if (cmp_ma) {
		p[k] = ins(jne, BPF_REG_3, 0, (int16_t)(len - k - 1),
			   (int32_t)d->major);
		k++;
	}
	if (cmp_mi) {
		p[k] = ins(jne, BPF_REG_4, 0, (int16_t)(len - k - 1),
			   (int32_t)d->minor);
		k++;
	}
	return k;
}

/* One rule: if type/major/minor match (wildcards skip their compare)
 * return verdict, else fall through to the next rule. */
static size_t emit_rule(struct bpf_insn *p, const struct tf_cg_dev *d,
			bool verdict)
{
	bool cmp_ma = d->major != TF_CG_DEV_ANY;
	bool cmp_mi = d->minor != TF_CG_DEV_ANY;
	int16_t len = (int16_t)(1 + cmp_ma + cmp_mi + 2);
	int16_t k = emit_match(p, d, len);

	p[k++] = ins(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0,
		     verdict ? 1 : 0);
	p[k++] = ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return (size_t)k;
}

static int bpf_sys(int cmd, union bpf_attr *attr)
{
	long r = syscall(__NR_bpf, cmd, attr, sizeof(*attr));

	return r < 0 ? tf_negerrno() : (int)r;
}

/* A keep rule (tf_cgroup_device_set_keep): if the device matches, allow
 * it only when the opening task runs as keep->uid in the cgroup
 * keep->cgroup_id, deny it to everyone else; else fall through. Needs
 * the prologue's r7 (cgroup id) and r8 (uid). */
static size_t emit_keep_rule(struct bpf_insn *p, const struct tf_cg_dev *d,
			     const struct tf_cg_keep *keep)
{
	bool cmp_ma = d->major != TF_CG_DEV_ANY;
	bool cmp_mi = d->minor != TF_CG_DEV_ANY;
	/* match part, uid test, id load (2), id test, allow (2), deny (2) */
	int16_t len = (int16_t)(1 + cmp_ma + cmp_mi + 1 + 2 + 1 + 2 + 2);
	int16_t deny = (int16_t)(len - 2), k = emit_match(p, d, len);
	uint8_t jne = BPF_JMP32 | BPF_JNE | BPF_K;

	p[k] = ins(jne, BPF_REG_8, 0, (int16_t)(deny - k - 1),
		   (int32_t)keep->uid);
	k++;
	/* r9 = the 64-bit cgroup id (BPF_LD_IMM64: two slots) */
	p[k++] = ins(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_9, 0, 0,
		     (int32_t)(uint32_t)keep->cgroup_id);
	p[k++] = ins(0, 0, 0, 0, (int32_t)(uint32_t)(keep->cgroup_id >> 32));
	p[k] = ins(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_7, BPF_REG_9,
		   (int16_t)(deny - k - 1), 0);
	k++;
	p[k++] = ins(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
	p[k++] = ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	p[k++] = ins(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	p[k++] = ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return (size_t)k;
}

/* Load the program for: keep rules, denies (in order), then allows, then
 * dflt (false: default deny; true: allow what no rule decided, for a
 * keep-only program next to the v1 controller). */
static int bpf_load(const struct tf_cg_keep *keep, const struct tf_cg_dev *deny,
		    size_t ndeny, const struct tf_cg_dev *allow, size_t nallow,
		    bool dflt)
{
	_cleanup_free_ struct bpf_insn *prog = NULL;
	size_t nkeep = keep ? keep->n : 0;
	size_t cap = 10 + nkeep * 12 + (ndeny + nallow) * 5 + 2, k = 0;
	union bpf_attr attr;
	int fd;

	prog = calloc(cap, sizeof(*prog));
	if (!prog)
		return -ENOMEM;
	if (nkeep) {
		/* who opens: the task's cgroup v2 id and host uid, asked
		 * before the context is read (a helper call clobbers r1-r5;
		 * r6-r9 survive it). The kernel runs the program in the
		 * opening task (devcgroup_check_permission). */
		prog[k++] = ins(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6,
				BPF_REG_1, 0, 0);
		prog[k++] = ins(BPF_JMP | BPF_CALL, 0, 0, 0,
				BPF_FUNC_get_current_cgroup_id);
		prog[k++] = ins(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_7,
				BPF_REG_0, 0, 0);
		prog[k++] = ins(BPF_JMP | BPF_CALL, 0, 0, 0,
				BPF_FUNC_get_current_uid_gid);
		/* the uid is the low half; a 32-bit move zero-extends */
		prog[k++] = ins(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_8, BPF_REG_0,
				0, 0);
		prog[k++] = ins(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1,
				BPF_REG_6, 0, 0);
	}
	/* struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor }
	 * access_type = (access << 16) | type; access is not looked at: an
	 * allowed device gets read, write and mknod, like "rwm" in v1. */
	prog[k++] = ins(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
	prog[k++] = ins(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
	prog[k++] = ins(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 4, 0);
	prog[k++] = ins(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 8, 0);
	for (size_t i = 0; i < nkeep; i++)
		k += emit_keep_rule(prog + k, &keep->devs[i], keep);
	for (size_t i = 0; i < ndeny; i++)
		k += emit_rule(prog + k, &deny[i], false);
	for (size_t i = 0; i < nallow; i++)
		k += emit_rule(prog + k, &allow[i], true);
	prog[k++] =
		ins(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, dflt ? 1 : 0);
	prog[k++] = ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = (uint32_t)k;
	/* the helpers called (cgroup id, uid) are not GPL-only, so the
	 * licence string has no effect */
	attr.license = (uint64_t)(uintptr_t) "ISC";
	/* the kernel hands out bpf fds with O_CLOEXEC (bpf_prog_new_fd) */
	fd = bpf_sys(BPF_PROG_LOAD, &attr);
	return fd;
}

static int bpf_load_policy(const struct tf_cg_dev *deny, size_t ndeny,
			   const struct tf_cg_dev *allow, size_t nallow)
{
	return bpf_load(NULL, deny, ndeny, allow, nallow, false);
}

static int bpf_attach(int cgfd, int prog, int old)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgfd;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (old >= 0) {
		attr.attach_flags |= BPF_F_REPLACE;
		attr.replace_bpf_fd = (uint32_t)old;
	}
	return bpf_sys(BPF_PROG_ATTACH, &attr);
}

/* Split the policy into deny rules and allow rules (those no deny
 * overrides). */
static int build_lists(const struct tf_cg_dev *devs, size_t n,
		       struct tf_cg_dev **deny, size_t *ndeny,
		       struct tf_cg_dev **allow, size_t *nallow)
{
	_cleanup_free_ struct tf_cg_dev *d = calloc(n + 1, sizeof(*d));
	_cleanup_free_ struct tf_cg_dev *a = calloc(n + 1, sizeof(*a));
	size_t nd = 0, na = 0, i;

	if (!d || !a)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (!devs[i].allow)
			d[nd++] = devs[i];
	for (i = 0; i < n; i++)
		if (devs[i].allow && !denied(devs, n, &devs[i]))
			a[na++] = devs[i];
	*deny = steal_pointer(&d);
	*allow = steal_pointer(&a);
	*ndeny = nd;
	*nallow = na;
	return 0;
}

static int keep_check(const struct tf_cg_keep *keep)
{
	if (keep == NULL || keep->n == 0)
		return 0;
	if (keep->n > TF_CG_DEV_MAX || keep->cgroup_id == 0 ||
	    keep->uid > INT32_MAX)
		return -EINVAL;
	return dev_check(keep->devs, keep->n);
}

/* The whole policy as one program on cg's v2 dir (unified hosts). */
/* Attach prog (a loaded program fd, or -errno from bpf_load) to the v2
 * dir in place of the one attached before, and keep our reference to it
 * for the next BPF_F_REPLACE (the cgroup holds its own). keep_only: a
 * keep-only program next to the v1 controller. */
static int attach_prog(struct tf_cgroup *cg, int fd, bool keep_only)
{
	_cleanup_close_ int prog = fd;
	int r;

	if (prog < 0)
		return prog;
	r = bpf_attach(cg->fd[H_V2], prog, cg->bpf_prog);
	if (r < 0)
		return r;
	if (cg->bpf_prog >= 0)
		close(cg->bpf_prog);
	cg->bpf_prog = steal_fd(&prog);
	cg->bpf_keep_only = keep_only;
	return 0;
}

static int set_bpf(struct tf_cgroup *cg, const struct tf_cg_dev *devs, size_t n,
		   const struct tf_cg_keep *keep)
{
	_cleanup_free_ struct tf_cg_dev *deny = NULL, *allow = NULL;
	size_t nd, na;
	int r;

	if (cg->fd[H_V2] < 0)
		return -EOPNOTSUPP;
	r = build_lists(devs, n, &deny, &nd, &allow, &na);
	if (r < 0)
		return r;
	return attach_prog(cg, bpf_load(keep, deny, nd, allow, na, false),
			   false);
}

int tf_cgroup_device_set_bpf(struct tf_cgroup *cg, const struct tf_cg_dev *devs,
			     size_t n)
{
	int r;

	if (!cg)
		return -EINVAL;
	r = dev_check(devs, n);
	if (r < 0)
		return r;
	return set_bpf(cg, devs, n, NULL);
}

/* Hybrid host: the keep rules alone as a program on the v2 dir (default
 * allow: the v1 controller decides the rest), or that program detached
 * (keep NULL). */
static int set_keep_prog(struct tf_cgroup *cg, const struct tf_cg_keep *keep)
{
	union bpf_attr attr;
	int r;

	if (keep == NULL || keep->n == 0) {
		if (cg->bpf_prog < 0 || !cg->bpf_keep_only)
			return 0;
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = (uint32_t)cg->fd[H_V2];
		attr.attach_bpf_fd = (uint32_t)cg->bpf_prog;
		attr.attach_type = BPF_CGROUP_DEVICE;
		r = bpf_sys(BPF_PROG_DETACH, &attr);
		if (r < 0 && r != -ENOENT)
			return r;
		close(cg->bpf_prog);
		cg->bpf_prog = -1;
		cg->bpf_keep_only = false;
		return 0;
	}
	if (cg->fd[H_V2] < 0)
		return -EOPNOTSUPP;
	return attach_prog(cg, bpf_load(keep, NULL, 0, NULL, 0, true), true);
}

/* v1: the allow list plus the keep devices (the v1 controller cannot
 * tell tasks apart: the v2 program narrows those to the keep cgroup) */
static int set_v1(struct tf_cgroup *cg, const struct tf_cg_dev *devs, size_t n,
		  const struct tf_cg_keep *keep)
{
	_cleanup_free_ struct tf_cg_dev *deny = NULL, *allow = NULL,
					*all = NULL;
	size_t nd, na, nk = keep ? keep->n : 0;
	int r;

	r = build_lists(devs, n, &deny, &nd, &allow, &na);
	if (r < 0)
		return r;
	all = calloc(na + nk + 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	memcpy(all, allow, na * sizeof(*all));
	for (size_t i = 0; i < nk; i++) {
		all[na + i] = keep->devs[i];
		all[na + i].allow = true;
	}
	return v1_device_set(cg->fd[H_DEVICES], all, na + nk);
}

int tf_cgroup_device_set_keep(struct tf_cgroup *cg,
			      const struct tf_cg_dev *devs, size_t n,
			      const struct tf_cg_keep *keep)
{
	bool widen = keep && keep->n;
	int r;

	if (!cg)
		return -EINVAL;
	r = dev_check(devs, n);
	if (r == 0)
		r = keep_check(keep);
	if (r < 0)
		return r;
	if (cg->fd[H_DEVICES] >= 0) {
		/* hybrid / v1: the v1 controller is what the kernel
		 * enforces for this hierarchy; denies are expressed by
		 * leaving the entry out of the allow list (an exact-match
		 * deny only; v1 cannot carve one minor out of a wildcard).
		 * Keep devices need the v2 program beside it, and the
		 * narrower side goes first so no open sees a policy wider
		 * than the old or the new one: the program before the v1
		 * allow when keeping, the v1 deny before the program goes
		 * when not. */
		if (widen && cg->fd[H_V2] < 0)
			return -EOPNOTSUPP;
		if (widen) {
			r = set_keep_prog(cg, keep);
			return r < 0 ? r : set_v1(cg, devs, n, keep);
		}
		r = set_v1(cg, devs, n, NULL);
		return r < 0 ? r : set_keep_prog(cg, NULL);
	}
	if (cg->layout == TF_CG_UNIFIED)
		return set_bpf(cg, devs, n, keep);
	return -EOPNOTSUPP;
}

int tf_cgroup_device_set(struct tf_cgroup *cg, const struct tf_cg_dev *devs,
			 size_t n)
{
	return tf_cgroup_device_set_keep(cg, devs, n, NULL);
}

int tf_cgroup_id(int dirfd, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh = {.handle_bytes = sizeof(uint64_t)}};
	int mnt;

	if (dirfd < 0 || !id)
		return -EINVAL;
	/* cgroupfs's file handle is the 64-bit cgroup id (kernfs node id),
	 * what bpf_get_current_cgroup_id() returns */
	if (name_to_handle_at(dirfd, "", &h.fh, &mnt, AT_EMPTY_PATH) < 0)
		return tf_negerrno();
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EPROTO;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

/* The ids of the device programs attached to dirfd itself (not inherited
 * ones): at most cap; their count, or -errno. */
static int bpf_attached(int dirfd, uint32_t *ids, uint32_t cap)
{
	union bpf_attr attr;
	int r;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)dirfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = cap;
	r = bpf_sys(BPF_PROG_QUERY, &attr);
	if (r < 0)
		return r;
	return (int)attr.query.prog_cnt;
}

static void bpf_detach_id(int dirfd, uint32_t id)
{
	union bpf_attr attr;
	_cleanup_close_ int fd = -1;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	fd = bpf_sys(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return; /* gone already */
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)dirfd;
	attr.attach_bpf_fd = (uint32_t)fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	(void)bpf_sys(BPF_PROG_DETACH, &attr);
}

int tf_cgroup_dir_device_set_bpf(int dirfd, const struct tf_cg_dev *devs,
				 size_t n)
{
	_cleanup_free_ struct tf_cg_dev *deny = NULL, *allow = NULL;
	_cleanup_close_ int prog = -1;
	uint32_t old[8];
	size_t nd, na;
	int r, nold;

	if (dirfd < 0)
		return -EINVAL;
	r = dev_check(devs, n);
	if (r < 0)
		return r;
	r = build_lists(devs, n, &deny, &nd, &allow, &na);
	if (r < 0)
		return r;
	/* no handle keeps the old program's fd: it is found by query */
	nold = bpf_attached(dirfd, old, TF_ARRAY_SIZE(old));
	if (nold < 0)
		return nold;
	prog = bpf_load_policy(deny, nd, allow, na);
	if (prog < 0)
		return prog;
	/* The new program first, then the old ones go: meanwhile both run
	 * and a device needs both to allow it, so no open ever sees a policy
	 * wider than either. */
	r = bpf_attach(dirfd, prog, -1);
	if (r < 0)
		return r;
	for (int i = 0; i < nold; i++)
		bpf_detach_id(dirfd, old[i]);
	return 0;
}
