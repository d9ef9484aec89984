/* SPDX-License-Identifier: MIT */
/*
 * daemon/attr.c — getattr, setattr, access and statfs.
 *
 * setattr applies what the kernel sends as it sends it: with
 * default_permissions the kernel has already checked ownership, cleared
 * set-id bits where needed (HANDLE_KILLPRIV is off, so that arrives as a
 * mode change) and turned truncate's implicit time updates into
 * MTIME_NOW. The daemon changes the size through extent/ (which owns a
 * regular file's data and size), then the other fields in one inode write,
 * with ctime = now unless the kernel gave one. chmod also rewrites the
 * owner/mask/other entries of an access ACL, as posix_acl_chmod() does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "internal.h"

/* ---- getattr ------------------------------------------------------------ */

/* Fresh attributes of a referenced inode. Context: meta_lock NOT held. */
static int attr_stat(struct daemon_fs *dfs, struct daemon_inode *di,
		     struct stat *st)
{
	struct ext2_inode_large inode;
	int ret;

	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, di->ino, &inode);
	if (!ret)
		daemon_fill_stat(dfs, di->ino, &inode, di, st);
	extent_meta_unlock(&dfs->efs);
	return ret;
}

void daemon_op_getattr(fuse_req_t req, fuse_ino_t nodeid,
		       struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct daemon_inode *di;
	struct stat st;
	int ret;

	(void)fi;
	ret = daemon_iget(dfs, daemon_ino(nodeid), &di);
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	ret = attr_stat(dfs, di, &st);
	daemon_iput(dfs, di);
	if (ret)
		daemon_reply_err(req, ret);
	else
		fuse_reply_attr(req, &st, dfs->attr_timeout);
}

/* ---- setattr ------------------------------------------------------------ */

/* ACL xattr entry tags (Linux xattr format). */
#define ATTR_ACL_USER_OBJ 0x01
#define ATTR_ACL_GROUP_OBJ 0x04
#define ATTR_ACL_MASK 0x10
#define ATTR_ACL_OTHER 0x20

/**
 * daemon_acl_apply_mode() - rewrite an xattr-format access ACL for a new
 * @mode: USER_OBJ gets the owner bits, MASK (or GROUP_OBJ when there is no
 * mask) the group bits, OTHER the other bits (posix_acl_chmod()).
 * @buf/@len: the ACL value ("version" word + 8-byte entries).
 * Return: 0, or -EINVAL when the value is malformed.
 */
int daemon_acl_apply_mode(void *buf, size_t len, mode_t mode)
{
	unsigned char *p = buf;
	size_t n;
	bool has_mask = false;

	if (len < 4 || (len - 4) % 8)
		return -EINVAL;
	n = (len - 4) / 8;
	for (size_t i = 0; i < n; i++) {
		uint16_t tag;

		memcpy(&tag, p + 4 + 8 * i, 2);
		if (tag == ATTR_ACL_MASK)
			has_mask = true;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t tag, perm;
		bool set = true;

		memcpy(&tag, p + 4 + 8 * i, 2);
		switch (tag) {
		case ATTR_ACL_USER_OBJ:
			perm = (mode >> 6) & 7;
			break;
		case ATTR_ACL_MASK:
			perm = (mode >> 3) & 7;
			break;
		case ATTR_ACL_GROUP_OBJ:
			perm = (mode >> 3) & 7;
			set = !has_mask;
			break;
		case ATTR_ACL_OTHER:
			perm = mode & 7;
			break;
		default:
			set = false;
			perm = 0;
			break;
		}
		if (set)
			memcpy(p + 4 + 8 * i + 2, &perm, 2);
	}
	return 0;
}

/* chmod of an inode with an access ACL. Context: meta_lock held. */
static int attr_acl_chmod(struct daemon_fs *dfs, ext2_ino_t ino, mode_t mode)
{
	static const char name[] = "system.posix_acl_access";
	struct ext2_xattr_handle *h;
	void *val = NULL;
	size_t len = 0;
	errcode_t err;
	int ret = 0;

	if (!ext2fs_has_feature_xattr(dfs->efs.fs->super))
		return 0;
	err = ext2fs_xattrs_open(dfs->efs.fs, ino, &h);
	if (err)
		return extent_errcode(&dfs->efs, ino, err);
	err = ext2fs_xattrs_read(h);
	if (!err)
		err = ext2fs_xattr_get(h, name, &val, &len);
	if (err == EXT2_ET_EA_KEY_NOT_FOUND) {
		err = 0;
		goto out_close;
	}
	if (err)
		goto out_close;
	if (daemon_acl_apply_mode(val, len, mode) == 0)
		err = ext2fs_xattr_set(h, name, val, len);
	ext2fs_free_mem(&val);
out_close:
	ext2fs_xattrs_close(&h);
	if (err)
		ret = extent_errcode(&dfs->efs, ino, err);
	return ret;
}

/* Size change of a referenced inode. Context: no lock held. */
static int attr_truncate(struct daemon_fs *dfs, struct daemon_inode *di,
			 uint64_t size)
{
	struct ext2_inode_large inode;
	int ret;

	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, di->ino, &inode);
	extent_meta_unlock(&dfs->efs);
	if (ret)
		return ret;
	if (LINUX_S_ISDIR(inode.i_mode))
		return -EISDIR;
	if (!LINUX_S_ISREG(inode.i_mode))
		return -EINVAL;
	if (size > extent_inode_maxbytes(&di->ei))
		return -EFBIG;
	return extent_truncate(&di->ei, size);
}

/*
 * attr_drop_sgid() - the part of the VFS's set-id clearing that FUSE's
 * kernel side leaves out (fuse_setattr() handles ATTR_KILL_SGID only for
 * group-executable files): since Linux 6.2 (setattr_should_drop_sgid()) a
 * set-group-ID file without group execute also loses S_ISGID when a caller
 * who is neither root nor in the file's group truncates or chowns it.
 * Context: meta_lock held; @before is the inode before the change.
 */
static void attr_drop_sgid(struct daemon_fs *dfs, fuse_req_t req,
			   const struct ext2_inode_large *before,
			   struct ext2_inode_large *inode, int to_set)
{
	struct daemon_cred cred;

	if (!(to_set & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_UID |
			FUSE_SET_ATTR_GID)) ||
	    (to_set & FUSE_SET_ATTR_MODE) || LINUX_S_ISDIR(before->i_mode) ||
	    (before->i_mode & (S_ISGID | S_IXGRP)) != S_ISGID)
		return;
	daemon_cred_of(dfs, req, &cred);
	if (cred.uid != 0 &&
	    !daemon_cred_in_group(&cred, daemon_inode_gid(before)))
		inode->i_mode &= ~S_ISGID;
}

static int do_setattr(fuse_req_t req, struct daemon_fs *dfs,
		      struct daemon_inode *di, const struct stat *attr,
		      int to_set, struct stat *st)
{
	struct ext2_inode_large inode, before;
	struct timespec now;
	int ret;

	ret = daemon_check_writable(dfs);
	if (ret)
		return ret;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0)
			return -EINVAL;
		ret = attr_truncate(dfs, di, (uint64_t)attr->st_size);
		if (ret)
			return ret;
	}

	daemon_now(&now);
	extent_meta_lock(&dfs->efs);
	if (to_set & FUSE_SET_ATTR_MODE) {
		ret = attr_acl_chmod(dfs, di->ino, attr->st_mode & 07777);
		if (ret)
			goto out_unlock;
	}
	/* read after the ACL update: it may have rewritten the inode */
	ret = daemon_read_inode(dfs, di->ino, &inode);
	if (ret)
		goto out_unlock;
	before = inode;
	attr_drop_sgid(dfs, req, &before, &inode, to_set);
	if (to_set & FUSE_SET_ATTR_MODE)
		inode.i_mode = (inode.i_mode & LINUX_S_IFMT) |
			       (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		daemon_inode_set_uid(&inode, attr->st_uid);
	if (to_set & FUSE_SET_ATTR_GID)
		daemon_inode_set_gid(&inode, attr->st_gid);
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		daemon_inode_set_time(&inode, DAEMON_ATIME, &now);
	else if (to_set & FUSE_SET_ATTR_ATIME)
		daemon_inode_set_time(&inode, DAEMON_ATIME, &attr->st_atim);
	/*
	 * truncate(2)/ftruncate(2) arrive as a bare size change (the kernel
	 * drops ATTR_MTIME for FUSE): like ext4, a size change sets mtime,
	 * unless the kernel owns mtime (writeback_cache) or gave one.
	 */
	if ((to_set & FUSE_SET_ATTR_SIZE) && !dfs->writeback_cache &&
	    !(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)))
		to_set |= FUSE_SET_ATTR_MTIME_NOW;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		daemon_inode_set_time(&inode, DAEMON_MTIME, &now);
	else if (to_set & FUSE_SET_ATTR_MTIME)
		daemon_inode_set_time(&inode, DAEMON_MTIME, &attr->st_mtim);
	if (to_set & FUSE_SET_ATTR_CTIME)
		daemon_inode_set_time(&inode, DAEMON_CTIME, &attr->st_ctim);
	else
		daemon_inode_set_time(&inode, DAEMON_CTIME, &now);
	ret = daemon_write_inode(dfs, di->ino, &inode);
	if (!ret)
		daemon_fill_stat(dfs, di->ino, &inode, di, st);
out_unlock:
	extent_meta_unlock(&dfs->efs);
	return ret;
}

void daemon_op_setattr(fuse_req_t req, fuse_ino_t nodeid, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct daemon_inode *di;
	struct stat st;
	int ret;

	(void)fi;
	if (dfs->opts.debug)
		fprintf(stderr, "uext4: setattr ino %u valid 0x%x\n",
			daemon_ino(nodeid), (unsigned int)to_set);
	ret = daemon_iget(dfs, daemon_ino(nodeid), &di);
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	ret = do_setattr(req, dfs, di, attr, to_set, &st);
	daemon_iput(dfs, di);
	if (ret)
		daemon_reply_err(req, ret);
	else
		fuse_reply_attr(req, &st, dfs->attr_timeout);
}

/* ---- access ------------------------------------------------------------- */

static int do_access(struct daemon_fs *dfs, fuse_req_t req, ext2_ino_t ino,
		     int mask)
{
	struct ext2_inode_large inode;
	struct daemon_cred cred;
	struct daemon_inode *di;
	int ret;

	daemon_cred_of(dfs, req, &cred);
	ret = daemon_iget(dfs, ino, &di);
	if (ret)
		return ret;
	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, ino, &inode);
	if (!ret && (mask & W_OK) && daemon_check_writable(dfs) &&
	    (LINUX_S_ISREG(inode.i_mode) || LINUX_S_ISDIR(inode.i_mode) ||
	     LINUX_S_ISLNK(inode.i_mode)))
		ret = -EROFS;
	if (!ret)
		ret = daemon_permission(dfs, &cred, ino, &inode, mask);
	extent_meta_unlock(&dfs->efs);
	daemon_iput(dfs, di);
	return ret;
}

void daemon_op_access(fuse_req_t req, fuse_ino_t nodeid, int mask)
{
	struct daemon_fs *dfs = daemon_fs_of(req);

	daemon_reply_err(req, do_access(dfs, req, daemon_ino(nodeid), mask));
}

/* ---- statfs ------------------------------------------------------------- */

/**
 * daemon_fill_statvfs() - statfs of the mounted file system: sizes in
 * file system blocks, metadata overhead left out of f_blocks, the
 * reserved blocks left out of f_bavail. Context: meta_lock held.
 */
void daemon_fill_statvfs(struct daemon_fs *dfs, struct statvfs *sv)
{
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_super_block *sb = fs->super;
	uint64_t total = ext2fs_blocks_count(sb);
	uint64_t free_blocks = ext2fs_free_blocks_count(sb);
	uint64_t reserved = ext2fs_r_blocks_count(sb);
	uint64_t overhead;
	uint64_t fsid = 0;

	if (sb->s_overhead_clusters)
		overhead = EXT2FS_C2B(fs, (uint64_t)sb->s_overhead_clusters);
	else
		overhead = sb->s_first_data_block + fs->desc_blocks +
			   (uint64_t)fs->group_desc_count *
			   (fs->inode_blocks_per_group + 2);
	if (overhead > total)
		overhead = 0;
	if (free_blocks > total - overhead)
		free_blocks = total - overhead;

	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = fs->blocksize;
	sv->f_frsize = fs->blocksize;
	sv->f_blocks = total - overhead;
	sv->f_bfree = free_blocks;
	sv->f_bavail = free_blocks > reserved ? free_blocks - reserved : 0;
	sv->f_files = sb->s_inodes_count;
	sv->f_ffree = sb->s_free_inodes_count;
	sv->f_favail = sb->s_free_inodes_count;
	for (int i = 0; i < 16; i++)
		fsid ^= (uint64_t)sb->s_uuid[i] << (8 * (i % 8));
	sv->f_fsid = (unsigned long)fsid;
	sv->f_namemax = DAEMON_NAME_MAX;
}

void daemon_op_statfs(fuse_req_t req, fuse_ino_t nodeid)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct statvfs sv;

	(void)nodeid;
	extent_meta_lock(&dfs->efs);
	daemon_fill_statvfs(dfs, &sv);
	extent_meta_unlock(&dfs->efs);
	fuse_reply_statfs(req, &sv);
}
