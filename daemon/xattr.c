/* SPDX-License-Identifier: MIT */
/*
 * daemon/xattr.c — extended attributes and POSIX ACLs: the getxattr,
 * setxattr, listxattr and removexattr handlers, and ACL inheritance for
 * new inodes (daemon_acl_inherit). The ACL update after chmod lives in
 * attr.c (daemon_acl_apply_mode).
 *
 * Storage is libext2fs's (ext2fs_xattrs_open → _read → get/set/remove/
 * iterate → _close): it chooses in-inode or block storage and translates
 * system.posix_acl_* between the kernel's user-space format (posix_acl_xattr
 * version 2, what FUSE sends) and ext4's on-disk format. Every libext2fs
 * call is made under the metadata lock.
 *
 * Namespaces, with the kernel's rules (fs/xattr.c xattr_permission(), the
 * capability LSM, fs/ext4/xattr*.c, fs/posix_acl.c):
 *   user.      regular files and directories only (others: get ENODATA,
 *              set EPERM); sticky directories writable by the owner only.
 *   trusted.   root only (get ENODATA, set EPERM); hidden from non-root
 *              in listxattr.
 *   security.  everyone reads, root writes.
 *   system.posix_acl_access / system.posix_acl_default
 *              validated; owner or root sets; the default ACL only on
 *              directories; an access ACL also sets the mode bits
 *              (posix_acl_update_mode), and one the mode expresses alone
 *              is not stored.
 *   anything else: EOPNOTSUPP (system.data, the inline-data attribute, is
 *              never shown).
 * With FUSE_CAP_POSIX_ACL the kernel checks permissions with the ACLs it
 * reads through getxattr, and leaves the mode update on ACL changes to the
 * file system (fs/fuse/acl.c), which is why it happens here.
 *
 * Not done here: permission checks the kernel makes before sending the
 * request (default_permissions); an xattr handle per inode (each request
 * reads the attributes afresh: they are small and cached by libext2fs's
 * I/O layer).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "internal.h"

#define XATTR_SIZE_LIMIT 65536		/* the VFS's XATTR_SIZE_MAX */
#define XATTR_ACL_ACCESS "system.posix_acl_access"
#define XATTR_ACL_DEFAULT "system.posix_acl_default"

/* ---- POSIX ACLs in the user-space format (posix_acl_xattr.h) ----------- */

#define ACL_XATTR_VERSION 2
#define ACL_TAG_USER_OBJ 0x01
#define ACL_TAG_USER 0x02
#define ACL_TAG_GROUP_OBJ 0x04
#define ACL_TAG_GROUP 0x08
#define ACL_TAG_MASK 0x10
#define ACL_TAG_OTHER 0x20
#define ACL_PERM_RWX 07
#define ACL_ID_UNDEFINED 0xffffffffu

/* on the wire: le32 version, then { le16 tag, le16 perm, le32 id } */
struct acl_xattr_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

/** struct acl - a decoded ACL (host byte order), entries in wire order. */
struct acl {
	size_t count;
	struct acl_xattr_entry *e;
};

static void acl_free(struct acl *acl)
{
	free(acl->e);
	acl->e = NULL;
	acl->count = 0;
}

/*
 * acl_decode() - decode and validate @value as posix_acl_valid() does:
 * USER_OBJ, USERs, GROUP_OBJ, GROUPs, MASK, OTHER in that order, exactly
 * one each of USER_OBJ, GROUP_OBJ and OTHER, a MASK when named entries
 * exist, defined ids, permissions within rwx. A header alone is an empty
 * ACL (count 0: "remove"). Return: 0 or -EINVAL, -EOPNOTSUPP (version),
 * -ENOMEM.
 */
static int acl_decode(const void *value, size_t size, struct acl *acl)
{
	enum { WANT_USER_OBJ, IN_USERS, IN_GROUPS, AFTER_MASK, DONE } state;
	const unsigned char *p = value;
	bool needs_mask = false;
	uint32_t version;
	size_t i;

	acl->count = 0;
	acl->e = NULL;
	if (size < 4 || (size - 4) % 8)
		return -EINVAL;
	memcpy(&version, p, 4);
	if (le32toh(version) != ACL_XATTR_VERSION)
		return -EOPNOTSUPP;
	acl->count = (size - 4) / 8;
	if (!acl->count)
		return 0;
	acl->e = calloc(acl->count, sizeof(*acl->e));
	if (!acl->e)
		return -ENOMEM;
	state = WANT_USER_OBJ;
	for (i = 0; i < acl->count; i++) {
		struct acl_xattr_entry *e = &acl->e[i];

		memcpy(e, p + 4 + 8 * i, 8);
		e->tag = le16toh(e->tag);
		e->perm = le16toh(e->perm);
		e->id = le32toh(e->id);
		if (e->perm & ~ACL_PERM_RWX)
			goto out_invalid;
		switch (e->tag) {
		case ACL_TAG_USER_OBJ:
			if (state != WANT_USER_OBJ)
				goto out_invalid;
			state = IN_USERS;
			break;
		case ACL_TAG_USER:
			if (state != IN_USERS || e->id == ACL_ID_UNDEFINED)
				goto out_invalid;
			needs_mask = true;
			break;
		case ACL_TAG_GROUP_OBJ:
			if (state != IN_USERS)
				goto out_invalid;
			state = IN_GROUPS;
			break;
		case ACL_TAG_GROUP:
			if (state != IN_GROUPS || e->id == ACL_ID_UNDEFINED)
				goto out_invalid;
			needs_mask = true;
			break;
		case ACL_TAG_MASK:
			if (state != IN_GROUPS)
				goto out_invalid;
			state = AFTER_MASK;
			break;
		case ACL_TAG_OTHER:
			if (state != AFTER_MASK &&
			    (state != IN_GROUPS || needs_mask))
				goto out_invalid;
			state = DONE;
			break;
		default:
			goto out_invalid;
		}
	}
	if (state != DONE)
		goto out_invalid;
	return 0;

out_invalid:
	acl_free(acl);
	return -EINVAL;
}

/* acl_encode() - @acl in the user-space format; *@size its length. */
static void *acl_encode(const struct acl *acl, size_t *size)
{
	unsigned char *buf;
	uint32_t version = htole32(ACL_XATTR_VERSION);
	size_t i;

	*size = 4 + 8 * acl->count;
	buf = malloc(*size);
	if (!buf)
		return NULL;
	memcpy(buf, &version, 4);
	for (i = 0; i < acl->count; i++) {
		struct acl_xattr_entry e = {
			.tag = htole16(acl->e[i].tag),
			.perm = htole16(acl->e[i].perm),
			.id = htole32(acl->e[i].id),
		};

		memcpy(buf + 4 + 8 * i, &e, 8);
	}
	return buf;
}

/*
 * acl_equiv_mode() - posix_acl_equiv_mode(): the permission bits @acl
 * implies replace those of *@mode. Return: true when the ACL says more
 * than the mode can (named entries or a mask), false when the mode alone
 * expresses it.
 */
static bool acl_equiv_mode(const struct acl *acl, mode_t *mode)
{
	mode_t bits = 0;
	int mask = -1;
	bool not_equiv = false;
	size_t i;

	for (i = 0; i < acl->count; i++) {
		const struct acl_xattr_entry *e = &acl->e[i];

		switch (e->tag) {
		case ACL_TAG_USER_OBJ:
			bits |= (mode_t)e->perm << 6;
			break;
		case ACL_TAG_GROUP_OBJ:
			bits |= (mode_t)e->perm << 3;
			break;
		case ACL_TAG_OTHER:
			bits |= e->perm;
			break;
		case ACL_TAG_MASK:
			mask = e->perm;
			not_equiv = true;
			break;
		default:
			not_equiv = true;
			break;
		}
	}
	if (mask >= 0)
		bits = (bits & ~(mode_t)S_IRWXG) | ((mode_t)mask << 3);
	*mode = (*mode & ~(mode_t)(S_IRWXU | S_IRWXG | S_IRWXO)) | bits;
	return not_equiv;
}

/*
 * acl_create_masq() - posix_acl_create_masq(): restrict the inherited
 * @acl by the create mode *@mode and the mode by the ACL. Return: true
 * when the ACL must be stored (it says more than the mode).
 */
static bool acl_create_masq(struct acl *acl, mode_t *mode_p)
{
	struct acl_xattr_entry *group_obj = NULL, *mask_obj = NULL;
	mode_t mode = *mode_p;
	bool not_equiv = false;
	size_t i;

	for (i = 0; i < acl->count; i++) {
		struct acl_xattr_entry *e = &acl->e[i];

		switch (e->tag) {
		case ACL_TAG_USER_OBJ:
			e->perm &= (mode >> 6) & ACL_PERM_RWX;
			mode &= ((mode_t)e->perm << 6) | ~(mode_t)S_IRWXU;
			break;
		case ACL_TAG_USER:
		case ACL_TAG_GROUP:
			not_equiv = true;
			break;
		case ACL_TAG_GROUP_OBJ:
			group_obj = e;
			break;
		case ACL_TAG_OTHER:
			e->perm &= mode & ACL_PERM_RWX;
			mode &= (mode_t)e->perm | ~(mode_t)S_IRWXO;
			break;
		case ACL_TAG_MASK:
			mask_obj = e;
			not_equiv = true;
			break;
		}
	}
	if (mask_obj) {
		mask_obj->perm &= (mode >> 3) & ACL_PERM_RWX;
		mode &= ((mode_t)mask_obj->perm << 3) | ~(mode_t)S_IRWXG;
	} else if (group_obj) {
		group_obj->perm &= (mode >> 3) & ACL_PERM_RWX;
		mode &= ((mode_t)group_obj->perm << 3) | ~(mode_t)S_IRWXG;
	}
	*mode_p = (*mode_p & ~(mode_t)(S_IRWXU | S_IRWXG | S_IRWXO)) |
		  (mode & (S_IRWXU | S_IRWXG | S_IRWXO));
	return not_equiv;
}

/* ---- libext2fs access -------------------------------------------------- */

/*
 * xattr_errcode() - libext2fs xattr errors as -errno; the rest through
 * extent_errcode(). Context: meta_lock held.
 */
static int xattr_errcode(struct daemon_fs *dfs, ext2_ino_t ino,
			 errcode_t err)
{
	switch (err) {
	case 0:
		return 0;
	case EXT2_ET_EA_KEY_NOT_FOUND:
		return -ENODATA;
	case EXT2_ET_EA_NO_SPACE:
		return -ENOSPC;
	case EXT2_ET_MISSING_EA_FEATURE:
		return -EOPNOTSUPP;
	default:
		return extent_errcode(&dfs->efs, ino, err);
	}
}

/*
 * xattr_open() - a handle holding @ino's attributes.
 * @create: the caller is about to store one. A file system without the
 * ext_attr feature has no attributes (-ENODATA); like the kernel
 * (ext4_xattr_update_super_block) the first attribute stored turns the
 * feature on. Context: meta_lock.
 */
static int xattr_open(struct daemon_fs *dfs, ext2_ino_t ino,
		      struct ext2_xattr_handle **h, bool create)
{
	ext2_filsys fs = dfs->efs.fs;
	errcode_t err;

	if (!ext2fs_has_feature_xattr(fs->super) &&
	    !ext2fs_has_feature_inline_data(fs->super)) {
		if (!create)
			return -ENODATA;
		ext2fs_set_feature_xattr(fs->super);
		ext2fs_mark_super_dirty(fs);
	}
	err = ext2fs_xattrs_open(fs, ino, h);
	if (err)
		return xattr_errcode(dfs, ino, err);
	err = ext2fs_xattrs_read(*h);
	if (err) {
		ext2fs_xattrs_close(h);
		return xattr_errcode(dfs, ino, err);
	}
	return 0;
}

static void xattr_close(struct ext2_xattr_handle **h)
{
	ext2fs_xattrs_close(h);
}

struct xattr_find {
	const char *name;
	bool found;
};

static int xattr_find_cb(char *name, char *value, size_t value_len,
			 void *data)
{
	struct xattr_find *f = data;

	(void)value;
	(void)value_len;
	if (strcmp(name, f->name) == 0) {
		f->found = true;
		return XATTR_ABORT;
	}
	return 0;
}

/* xattr_exists() - does @h hold @name (without decoding the value)? */
static int xattr_exists(struct daemon_fs *dfs, ext2_ino_t ino,
			struct ext2_xattr_handle *h, const char *name,
			bool *found)
{
	struct xattr_find f = { .name = name };
	errcode_t err;

	err = ext2fs_xattrs_iterate(h, xattr_find_cb, &f);
	*found = f.found;
	return xattr_errcode(dfs, ino, err);
}

/*
 * xattr_get_value() - the value of @name on @ino (ACLs in the user-space
 * format), malloc'd in *@value (free with ext2fs_free_mem).
 * Context: meta_lock held. Return: 0, -ENODATA or -errno.
 */
static int xattr_get_value(struct daemon_fs *dfs, ext2_ino_t ino,
			   const char *name, void **value, size_t *len)
{
	struct ext2_xattr_handle *h;
	errcode_t err;
	int ret;

	*value = NULL;
	*len = 0;
	ret = xattr_open(dfs, ino, &h, false);
	if (ret)
		return ret;
	err = ext2fs_xattr_get(h, name, value, len);
	ret = xattr_errcode(dfs, ino, err);
	xattr_close(&h);
	return ret;
}

/*
 * xattr_store() - set (@value non-NULL) or remove @name on @ino.
 * Removing an absent attribute is -ENODATA. libext2fs rewrites the
 * on-disk inode; re-read it afterwards. Context: meta_lock held.
 */
static int xattr_store(struct daemon_fs *dfs, ext2_ino_t ino,
		       const char *name, const void *value, size_t len)
{
	struct ext2_xattr_handle *h;
	bool found = true;
	errcode_t err;
	int ret;

	ret = xattr_open(dfs, ino, &h, value != NULL);
	if (ret)
		return ret;
	if (value) {
		err = ext2fs_xattr_set(h, name, value, len);
	} else {
		ret = xattr_exists(dfs, ino, h, name, &found);
		err = 0;
		if (!ret && found)
			err = ext2fs_xattr_remove(h, name);
	}
	if (!ret)
		ret = xattr_errcode(dfs, ino, err);
	if (!ret && !found)
		ret = -ENODATA;
	xattr_close(&h);
	return ret;
}

/* ---- namespaces and permissions ---------------------------------------- */

enum xattr_ns {
	XATTR_NS_NONE,		/* not supported: EOPNOTSUPP */
	XATTR_NS_USER,
	XATTR_NS_TRUSTED,
	XATTR_NS_SECURITY,
	XATTR_NS_ACL_ACCESS,
	XATTR_NS_ACL_DEFAULT,
};

static bool xattr_has_prefix(const char *name, const char *prefix)
{
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

static enum xattr_ns xattr_classify(const char *name)
{
	if (xattr_has_prefix(name, "user."))
		return XATTR_NS_USER;
	if (xattr_has_prefix(name, "trusted."))
		return XATTR_NS_TRUSTED;
	if (xattr_has_prefix(name, "security."))
		return XATTR_NS_SECURITY;
	if (strcmp(name, XATTR_ACL_ACCESS) == 0)
		return XATTR_NS_ACL_ACCESS;
	if (strcmp(name, XATTR_ACL_DEFAULT) == 0)
		return XATTR_NS_ACL_DEFAULT;
	return XATTR_NS_NONE;
}

/*
 * xattr_check_name() - the namespace of @name, or -EOPNOTSUPP, -ERANGE for
 * names over 255 bytes, -EINVAL for a bare prefix ("user.").
 */
static int xattr_check_name(const char *name, enum xattr_ns *ns)
{
	size_t len = strlen(name);

	if (len == 0 || len > DAEMON_NAME_MAX)
		return -ERANGE;
	*ns = xattr_classify(name);
	if (*ns == XATTR_NS_NONE)
		return -EOPNOTSUPP;
	if (name[len - 1] == '.' && strchr(name, '.') == name + len - 1)
		return -EINVAL;
	return 0;
}

/*
 * xattr_permission() - may @cred read (@write false) or change @ns on the
 * inode @inode? The VFS's xattr_permission() and the capability LSM's
 * rules; the file-permission part only when the kernel does not check it
 * (no default_permissions). Context: meta_lock held.
 */
static int xattr_permission(struct daemon_fs *dfs,
			    const struct daemon_cred *cred, ext2_ino_t ino,
			    const struct ext2_inode_large *inode,
			    enum xattr_ns ns, bool write)
{
	mode_t mode = inode->i_mode;
	bool root = cred->uid == 0;
	bool owner = root || cred->uid == daemon_inode_uid(inode);

	switch (ns) {
	case XATTR_NS_TRUSTED:
		if (!root)
			return write ? -EPERM : -ENODATA;
		return 0;
	case XATTR_NS_SECURITY:
		return write && !root ? -EPERM : 0;
	case XATTR_NS_ACL_ACCESS:
	case XATTR_NS_ACL_DEFAULT:
		return write && !owner ? -EPERM : 0;
	case XATTR_NS_USER:
		if (!S_ISREG(mode) && !S_ISDIR(mode))
			return write ? -EPERM : -ENODATA;
		if (write && S_ISDIR(mode) && (mode & S_ISVTX) && !owner)
			return -EPERM;
		if (!dfs->opts.default_permissions)
			return daemon_permission(dfs, cred, ino, inode,
						 write ? W_OK : R_OK);
		return 0;
	case XATTR_NS_NONE:
		break;
	}
	return -EOPNOTSUPP;
}

/*
 * xattr_begin() - common start of a request on @nodeid: the inode
 * reference, the metadata lock, the on-disk inode and the permission
 * check. On success the caller holds the lock and the reference.
 */
static int xattr_begin(struct daemon_fs *dfs, const struct daemon_cred *cred,
		       fuse_ino_t nodeid, enum xattr_ns ns, bool write,
		       struct daemon_inode **di,
		       struct ext2_inode_large *inode)
{
	int ret;

	if (write) {
		ret = daemon_check_writable(dfs);
		if (ret)
			return ret;
	}
	ret = daemon_iget(dfs, daemon_ino(nodeid), di);
	if (ret)
		return ret;
	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, (*di)->ei.ino, inode);
	if (!ret)
		ret = xattr_permission(dfs, cred, (*di)->ei.ino, inode, ns,
				       write);
	if (ret) {
		extent_meta_unlock(&dfs->efs);
		daemon_iput(dfs, *di);
	}
	return ret;
}

static void xattr_end(struct daemon_fs *dfs, struct daemon_inode *di)
{
	extent_meta_unlock(&dfs->efs);
	daemon_iput(dfs, di);
}

/*
 * xattr_finish_change() - ctime = now, and the permission bits of @mode
 * when @set_mode (after an access ACL). Re-reads the inode libext2fs just
 * rewrote. Context: meta_lock held.
 */
static int xattr_finish_change(struct daemon_fs *dfs, ext2_ino_t ino,
			       bool set_mode, mode_t mode)
{
	struct ext2_inode_large inode;
	int ret;

	ret = daemon_read_inode(dfs, ino, &inode);
	if (ret)
		return ret;
	if (set_mode)
		inode.i_mode = (inode.i_mode & S_IFMT) | (mode & ~S_IFMT);
	daemon_inode_touch(&inode, DAEMON_CTIME);
	return daemon_write_inode(dfs, ino, &inode);
}

/* ---- getxattr, listxattr ----------------------------------------------- */

static int do_getxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name,
		       void **value, size_t *len)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct ext2_inode_large inode;
	struct daemon_inode *di;
	struct daemon_cred cred;
	enum xattr_ns ns;
	int ret;

	*value = NULL;
	ret = xattr_check_name(name, &ns);
	if (ret)
		return ret;
	daemon_cred_of(dfs, req, &cred);
	ret = xattr_begin(dfs, &cred, nodeid, ns, false, &di, &inode);
	if (ret)
		return ret;
	ret = xattr_get_value(dfs, di->ei.ino, name, value, len);
	xattr_end(dfs, di);
	return ret;
}

/**
 * daemon_op_getxattr() - GETXATTR: @size 0 asks for the length; a
 * smaller buffer than the value is ERANGE; ENODATA when absent.
 */
void daemon_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	void *value;
	size_t len;
	int ret;

	ret = do_getxattr(req, ino, name, &value, &len);
	if (ret)
		daemon_reply_err(req, ret);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		daemon_reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, value, len);
	if (value)
		ext2fs_free_mem(&value);
}

struct xattr_list {
	char *buf;
	size_t len;
	size_t cap;
	bool root;
	int error;
};

static int xattr_list_cb(char *name, char *value, size_t value_len,
			 void *data)
{
	struct xattr_list *l = data;
	size_t n = strlen(name) + 1;

	(void)value;
	(void)value_len;
	switch (xattr_classify(name)) {
	case XATTR_NS_NONE:
		return 0;
	case XATTR_NS_TRUSTED:
		if (!l->root)
			return 0;
		break;
	default:
		break;
	}
	if (l->len + n > l->cap) {
		size_t cap = (l->cap ? l->cap * 2 : 256) + n;
		char *buf = realloc(l->buf, cap);

		if (!buf) {
			l->error = -ENOMEM;
			return XATTR_ABORT;
		}
		l->buf = buf;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, name, n);
	l->len += n;
	return 0;
}

static int do_listxattr(fuse_req_t req, fuse_ino_t nodeid,
			struct xattr_list *l)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct ext2_xattr_handle *h;
	struct ext2_inode_large inode;
	struct daemon_inode *di;
	struct daemon_cred cred;
	errcode_t err;
	int ret;

	daemon_cred_of(dfs, req, &cred);
	l->root = cred.uid == 0;
	/* listing needs no permission: check as a harmless namespace */
	ret = xattr_begin(dfs, &cred, nodeid, XATTR_NS_SECURITY, false, &di,
			  &inode);
	if (ret)
		return ret;
	ret = xattr_open(dfs, di->ei.ino, &h, false);
	if (!ret) {
		err = ext2fs_xattrs_iterate(h, xattr_list_cb, l);
		ret = l->error ? l->error : xattr_errcode(dfs, di->ei.ino, err);
		xattr_close(&h);
	} else if (ret == -ENODATA) {
		ret = 0;	/* no ext_attr feature: an empty list */
	}
	xattr_end(dfs, di);
	return ret;
}

/**
 * daemon_op_listxattr() - LISTXATTR: the names the caller may see, each
 * NUL-terminated; @size 0 asks for the length, a short buffer is ERANGE.
 */
void daemon_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct xattr_list l = { 0 };
	int ret;

	ret = do_listxattr(req, ino, &l);
	if (ret)
		daemon_reply_err(req, ret);
	else if (size == 0)
		fuse_reply_xattr(req, l.len);
	else if (size < l.len)
		daemon_reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, l.buf, l.len);
	free(l.buf);
}

/* ---- setxattr, removexattr --------------------------------------------- */

/*
 * xattr_set_acl() - store ACL @ns from the user-space @value (NULL or an
 * empty ACL: remove it) as ext4_set_acl() does. Context: meta_lock held,
 * permission checked.
 */
static int xattr_set_acl(struct daemon_fs *dfs, const struct daemon_cred *cred,
			 ext2_ino_t ino, const struct ext2_inode_large *inode,
			 enum xattr_ns ns, const void *value, size_t size,
			 int flags)
{
	const char *acl_name = ns == XATTR_NS_ACL_ACCESS ? XATTR_ACL_ACCESS :
			       XATTR_ACL_DEFAULT;
	mode_t mode = inode->i_mode;
	bool set_mode = false;
	void *buf = NULL;
	struct acl acl = { 0 };
	size_t len = 0;
	int ret;

	if (value) {
		ret = acl_decode(value, size, &acl);
		if (ret)
			return ret;
	}
	if (ns == XATTR_NS_ACL_DEFAULT && !S_ISDIR(inode->i_mode)) {
		ret = acl.count ? -EACCES : 0;
		goto out_free;
	}
	if (acl.count && (flags & (XATTR_CREATE | XATTR_REPLACE))) {
		void *old;
		size_t old_len;

		ret = xattr_get_value(dfs, ino, acl_name, &old, &old_len);
		if (old)
			ext2fs_free_mem(&old);
		if (ret && ret != -ENODATA)
			goto out_free;
		if ((flags & XATTR_CREATE) && ret == 0) {
			ret = -EEXIST;
			goto out_free;
		}
		if ((flags & XATTR_REPLACE) && ret == -ENODATA)
			goto out_free;
	}
	if (acl.count && ns == XATTR_NS_ACL_ACCESS) {
		/* posix_acl_update_mode() */
		set_mode = true;
		if (!acl_equiv_mode(&acl, &mode))
			acl_free(&acl);
		if (cred->uid != 0 &&
		    !daemon_cred_in_group(cred, daemon_inode_gid(inode)))
			mode &= ~(mode_t)S_ISGID;
	}
	if (acl.count) {
		buf = acl_encode(&acl, &len);
		if (!buf) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	ret = xattr_store(dfs, ino, acl_name, buf, len);
	if (ret == -ENODATA) {
		/* removing an absent ACL succeeds and changes nothing */
		ret = 0;
		if (!set_mode)
			goto out_free;
	}
	if (!ret)
		ret = xattr_finish_change(dfs, ino, set_mode, mode);
out_free:
	free(buf);
	acl_free(&acl);
	return ret;
}

static int do_setxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name,
		       const char *value, size_t size, int flags)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct ext2_inode_large inode;
	struct daemon_inode *di;
	struct daemon_cred cred;
	enum xattr_ns ns;
	bool found = false;
	int ret;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	ret = xattr_check_name(name, &ns);
	if (ret)
		return ret;
	if (size > XATTR_SIZE_LIMIT)
		return -E2BIG;
	daemon_cred_of(dfs, req, &cred);
	ret = xattr_begin(dfs, &cred, nodeid, ns, true, &di, &inode);
	if (ret)
		return ret;

	if (ns == XATTR_NS_ACL_ACCESS || ns == XATTR_NS_ACL_DEFAULT) {
		ret = xattr_set_acl(dfs, &cred, di->ei.ino, &inode, ns,
				    value ? value : "", size, flags);
		goto out_end;
	}
	if (flags) {
		struct ext2_xattr_handle *h;

		ret = xattr_open(dfs, di->ei.ino, &h, false);
		if (ret == -ENODATA) {
			ret = 0;	/* no ext_attr feature: nothing exists */
		} else if (ret) {
			goto out_end;
		} else {
			ret = xattr_exists(dfs, di->ei.ino, h, name, &found);
			xattr_close(&h);
			if (ret)
				goto out_end;
		}
		if ((flags & XATTR_CREATE) && found) {
			ret = -EEXIST;
			goto out_end;
		}
		if ((flags & XATTR_REPLACE) && !found) {
			ret = -ENODATA;
			goto out_end;
		}
	}
	ret = xattr_store(dfs, di->ei.ino, name, value ? value : "", size);
	if (!ret)
		ret = xattr_finish_change(dfs, di->ei.ino, false, 0);
out_end:
	xattr_end(dfs, di);
	return ret;
}

/**
 * daemon_op_setxattr() - SETXATTR with XATTR_CREATE (EEXIST when present)
 * or XATTR_REPLACE (ENODATA when absent); ENOSPC when the value fits
 * neither in the inode nor in the attribute block; ctime = now.
 */
void daemon_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	daemon_reply_err(req, do_setxattr(req, ino, name, value, size, flags));
}

static int do_removexattr(fuse_req_t req, fuse_ino_t nodeid, const char *name)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct ext2_inode_large inode;
	struct daemon_inode *di;
	struct daemon_cred cred;
	enum xattr_ns ns;
	int ret;

	ret = xattr_check_name(name, &ns);
	if (ret)
		return ret;
	daemon_cred_of(dfs, req, &cred);
	ret = xattr_begin(dfs, &cred, nodeid, ns, true, &di, &inode);
	if (ret)
		return ret;
	if (ns == XATTR_NS_ACL_ACCESS || ns == XATTR_NS_ACL_DEFAULT) {
		/* as ext4_set_acl(NULL): absent is fine, the mode stays */
		ret = xattr_set_acl(dfs, &cred, di->ei.ino, &inode, ns, NULL,
				    0, 0);
	} else {
		ret = xattr_store(dfs, di->ei.ino, name, NULL, 0);
		if (!ret)
			ret = xattr_finish_change(dfs, di->ei.ino, false, 0);
	}
	xattr_end(dfs, di);
	return ret;
}

/**
 * daemon_op_removexattr() - REMOVEXATTR: ENODATA when absent (ACLs
 * excepted, as ext4); ctime = now.
 */
void daemon_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	daemon_reply_err(req, do_removexattr(req, ino, name));
}

/* ---- ACL inheritance --------------------------------------------------- */

/**
 * daemon_acl_inherit() - posix_acl_create() for new inode @ino in @parent.
 * @mode: in: the create mode including the file type (S_IFDIR...), as the
 *        caller received it (FUSE_CAP_DONT_MASK: no umask applied); out:
 *        the mode to store.
 *
 * Without a default ACL on @parent, applies @cred->umask and touches
 * nothing on disk. With one, *@mode is masked by it, the new inode gets the
 * masked ACL as its access ACL (unless the mode expresses it alone) and, for
 * a directory, the parent's default ACL as its own default ACL. Symlinks
 * take neither umask nor ACL.
 *
 * When ACLs are stored, @ino must already be a written, in-use inode:
 * libext2fs stores the attributes in it and rewrites it; on return the
 * on-disk inode also holds the final mode. A caller keeping a copy of the
 * inode must re-read it (or at least take i_mode, i_file_acl, i_blocks
 * and the in-inode attribute area from disk) before writing it again.
 *
 * Context: meta_lock held. Return: 0 or -errno (-ENOSPC, -EIO...).
 */
int daemon_acl_inherit(struct daemon_fs *dfs, const struct daemon_cred *cred,
		       ext2_ino_t parent, ext2_ino_t ino, mode_t *mode)
{
	struct ext2_inode_large inode;
	struct acl acl = { 0 };
	void *def = NULL, *buf = NULL;
	size_t def_len = 0, len;
	mode_t new_mode = *mode;
	int ret;

	if (S_ISLNK(*mode))
		return 0;
	ret = xattr_get_value(dfs, parent, XATTR_ACL_DEFAULT, &def, &def_len);
	if (ret == -ENODATA || ret == -EOPNOTSUPP) {
		*mode &= ~(cred->umask & 0777);
		return 0;
	}
	if (ret)
		return ret;
	ret = acl_decode(def, def_len, &acl);
	if (ret) {
		ret = -EIO;
		goto out_free;
	}
	if (!acl.count) {
		*mode &= ~(cred->umask & 0777);
		goto out_free;
	}

	ret = daemon_read_inode(dfs, ino, &inode);
	if (ret)
		goto out_free;
	if (inode.i_links_count == 0) {
		/* the contract above was broken: do not write a free inode */
		ret = -EINVAL;
		goto out_free;
	}
	if (S_ISDIR(*mode)) {
		ret = xattr_store(dfs, ino, XATTR_ACL_DEFAULT, def, def_len);
		if (ret)
			goto out_free;
	}
	if (acl_create_masq(&acl, &new_mode)) {
		buf = acl_encode(&acl, &len);
		if (!buf) {
			ret = -ENOMEM;
			goto out_free;
		}
		ret = xattr_store(dfs, ino, XATTR_ACL_ACCESS, buf, len);
		if (ret)
			goto out_free;
	}
	ret = daemon_read_inode(dfs, ino, &inode);
	if (ret)
		goto out_free;
	inode.i_mode = (inode.i_mode & S_IFMT) | (new_mode & ~S_IFMT);
	ret = daemon_write_inode(dfs, ino, &inode);
	if (!ret)
		*mode = new_mode;
out_free:
	free(buf);
	acl_free(&acl);
	if (def)
		ext2fs_free_mem(&def);
	return ret;
}
