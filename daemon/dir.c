/* SPDX-License-Identifier: MIT */
/*
 * daemon/dir.c — FUSE handlers for mknod, mkdir, symlink, readlink, link,
 * unlink and rmdir, plus the kernel's link-count rules for directories
 * (ext4_inc_count/ext4_dec_count, EXT4_DIR_LINK_MAX) shared with rename.c.
 *
 * Creation is daemon_new_inode() (newinode.c). Removal drops the link and
 * leaves the freeing to eviction (itable.c): the victim is referenced with
 * daemon_iget() before, so the daemon_iput() after frees it once neither
 * the kernel nor an open handle holds it. Permissions are checked by the
 * kernel (default_permissions), including the sticky bit.
 *
 * Each handler: decode, do_<op>() returning -errno with every lock dropped,
 * one reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dir.h"

/* ---- link counts and entry types (shared through dir.h) ---------------- */

int daemon_ftype(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return EXT2_FT_REG_FILE;
	case S_IFDIR:
		return EXT2_FT_DIR;
	case S_IFCHR:
		return EXT2_FT_CHRDEV;
	case S_IFBLK:
		return EXT2_FT_BLKDEV;
	case S_IFIFO:
		return EXT2_FT_FIFO;
	case S_IFSOCK:
		return EXT2_FT_SOCK;
	case S_IFLNK:
		return EXT2_FT_SYMLINK;
	default:
		return EXT2_FT_UNKNOWN;
	}
}

bool daemon_dir_is_dx(ext2_filsys fs, const struct ext2_inode_large *inode)
{
	return ext2fs_has_feature_dir_index(fs->super) &&
	       (inode->i_flags & EXT2_INDEX_FL);
}

bool daemon_dir_link_max(ext2_filsys fs, const struct ext2_inode_large *dir)
{
	return dir->i_links_count >= DAEMON_LINK_MAX &&
	       !(ext2fs_has_feature_dir_nlink(fs->super) &&
		 daemon_dir_is_dx(fs, dir));
}

/**
 * daemon_inc_count() - ext4_inc_count(): an indexed directory that passes
 * 65000 links (dir_nlink) counts 1, "unknown", and stays there.
 */
void daemon_inc_count(ext2_filsys fs, struct ext2_inode_large *inode)
{
	unsigned int n = inode->i_links_count + 1u;

	if (daemon_dir_is_dx(fs, inode) && (n > DAEMON_LINK_MAX || n == 2))
		n = 1;
	if (n > 0xffff)
		n = 1;
	inode->i_links_count = (__u16)n;
}

/**
 * daemon_dec_count() - ext4_dec_count(): a directory never drops below 2
 * this way (and an overflowed one stays at 1).
 */
void daemon_dec_count(struct ext2_inode_large *inode)
{
	if ((!LINUX_S_ISDIR(inode->i_mode) || inode->i_links_count > 2) &&
	    inode->i_links_count > 0)
		inode->i_links_count--;
}

/**
 * daemon_dir_ref() - see dir.h. Looks up, references without the lock
 * (daemon_iget may read the disk and must not be called under meta_lock),
 * then checks under the lock that the name still points there.
 */
int daemon_dir_ref(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		   ext2_ino_t *ino, struct daemon_inode **di)
{
	ext2_ino_t again;
	int tries, ret;

	for (tries = 0; tries < 1000; tries++) {
		extent_meta_lock(&dfs->efs);
		ret = daemon_dir_lookup(dfs, dir, name, ino);
		extent_meta_unlock(&dfs->efs);
		if (ret)
			return ret;
		ret = daemon_iget(dfs, *ino, di);
		if (ret)
			return ret;
		extent_meta_lock(&dfs->efs);
		ret = daemon_dir_lookup(dfs, dir, name, &again);
		if (ret == 0 && again == *ino)
			return 0;
		extent_meta_unlock(&dfs->efs);
		daemon_iput(dfs, *di);
		if (ret)
			return ret;
	}
	return -EAGAIN;
}

/** dir_touch() - read @ino, set @which times to now, write it back. */
static int dir_touch(struct daemon_fs *dfs, ext2_ino_t ino, unsigned int which)
{
	struct ext2_inode_large inode;
	int ret = daemon_read_inode(dfs, ino, &inode);

	if (ret)
		return ret;
	daemon_inode_touch(&inode, which);
	return daemon_write_inode(dfs, ino, &inode);
}

/* ---- mknod, mkdir, symlink --------------------------------------------- */

static void dir_reply_new(fuse_req_t req, mode_t mode, ext2_ino_t parent,
			  const char *name, dev_t rdev, const char *target)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct daemon_cred cred;
	ext2_ino_t ino = 0;
	int ret;

	daemon_cred_of(dfs, req, &cred);
	ret = daemon_new_inode(dfs, &cred, parent, name, mode, rdev, target,
			       &ino);
	if (ret)
		daemon_reply_err(req, ret);
	else
		daemon_reply_entry(dfs, req, ino);
}

void daemon_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	if ((mode & S_IFMT) == 0)
		mode |= S_IFREG;	/* mknod(2) with type 0 */
	dir_reply_new(req, mode, daemon_ino(parent), name, rdev, NULL);
}

void daemon_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	dir_reply_new(req, S_IFDIR | (mode & 07777), daemon_ino(parent), name,
		      0, NULL);
}

void daemon_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	dir_reply_new(req, S_IFLNK | 0777, daemon_ino(parent), name, 0, link);
}

/* ---- readlink ---------------------------------------------------------- */

static int dir_bad_symlink(struct daemon_fs *dfs, ext2_ino_t ino)
{
	extent_fs_error(&dfs->efs, ino, -EUCLEAN, "bad symlink");
	return -EUCLEAN;
}

/**
 * dir_readlink_locked() - the target of symlink @ino into a new string:
 * inline data, fast (in i_block: no data blocks, as the kernel's
 * ext4_inode_is_fast_symlink()) or slow (one block). i_size must match
 * the stored string. Updates atime as the mount's atime mode says.
 */
static int dir_readlink_locked(struct daemon_fs *dfs, ext2_ino_t ino,
			       char **out)
{
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_inode_large inode;
	uint64_t size;
	char *buf;
	int ret;

	ret = daemon_read_inode(dfs, ino, &inode);
	if (ret)
		return ret;
	if (!LINUX_S_ISLNK(inode.i_mode))
		return -EINVAL;
	size = inode.i_size | ((uint64_t)inode.i_size_high << 32);
	if (size == 0 || size >= fs->blocksize)
		return dir_bad_symlink(dfs, ino);
	buf = calloc(1, fs->blocksize + 1);
	if (!buf)
		return -ENOMEM;

	if (inode.i_flags & EXT4_INLINE_DATA_FL) {
		size_t isz = fs->blocksize;
		errcode_t err;

		err = ext2fs_inline_data_size(fs, ino, &isz);
		if (!err && isz < size)
			goto out_bad;
		if (!err && isz > fs->blocksize)
			goto out_bad;
		if (!err)
			err = ext2fs_inline_data_get(fs, ino,
						     (struct ext2_inode *)&inode,
						     buf, &isz);
		if (err) {
			ret = extent_errcode(&dfs->efs, ino, err);
			goto out_free;
		}
	} else if (ext2fs_inode_data_blocks2(fs, (struct ext2_inode *)&inode) ==
		   0) {
		/* as ext4_iget(): NUL right after i_size bytes */
		memcpy(buf, inode.i_block, sizeof(inode.i_block));
		if (size >= sizeof(inode.i_block) ||
		    strnlen(buf, size + 1) != size)
			goto out_bad;
	} else {
		blk64_t pblk = 0;
		errcode_t err;

		err = ext2fs_bmap2(fs, ino, (struct ext2_inode *)&inode, NULL,
				   0, 0, NULL, &pblk);
		if (!err && (pblk == 0 || pblk >= ext2fs_blocks_count(fs->super)))
			goto out_bad;
		if (!err)
			err = io_channel_read_blk64(fs->io, pblk, 1, buf);
		if (err) {
			ret = extent_errcode(&dfs->efs, ino, err);
			goto out_free;
		}
	}
	if (strnlen(buf, size) != size)
		goto out_bad;
	buf[size] = '\0';
	/* as touch_atime() in readlink(2); its failure fails nothing */
	(void)daemon_inode_accessed_locked(dfs, ino, &inode);
	*out = buf;
	return 0;

out_bad:
	ret = dir_bad_symlink(dfs, ino);
out_free:
	free(buf);
	return ret;
}

static int do_readlink(struct daemon_fs *dfs, ext2_ino_t ino, char **out)
{
	int ret;

	extent_meta_lock(&dfs->efs);
	ret = dir_readlink_locked(dfs, ino, out);
	extent_meta_unlock(&dfs->efs);
	return ret;
}

void daemon_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	char *target = NULL;
	int ret;

	ret = do_readlink(dfs, daemon_ino(ino), &target);
	if (ret)
		daemon_reply_err(req, ret);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

/* ---- link -------------------------------------------------------------- */

static int dir_link_locked(struct daemon_fs *dfs, ext2_ino_t ino,
			   ext2_ino_t newparent, const char *newname)
{
	struct ext2_inode_large inode, parent;
	ext2_ino_t found;
	int ret;

	ret = daemon_read_inode(dfs, ino, &inode);
	if (ret)
		return ret;
	if (LINUX_S_ISDIR(inode.i_mode))
		return -EPERM;
	if (inode.i_links_count == 0)
		return -ENOENT;
	if (inode.i_links_count >= DAEMON_LINK_MAX)
		return -EMLINK;
	ret = daemon_dir_get(dfs, newparent, &parent);
	if (ret)
		return ret;
	ret = daemon_dir_lookup(dfs, newparent, newname, &found);
	if (ret != -ENOENT)
		return ret ? ret : -EEXIST;
	ret = daemon_dir_add(dfs, newparent, newname, ino,
			     daemon_ftype(inode.i_mode));
	if (ret)
		return ret;
	inode.i_links_count++;
	daemon_inode_touch(&inode, DAEMON_CTIME);
	ret = daemon_write_inode(dfs, ino, &inode);
	if (ret) {
		daemon_dir_remove(dfs, newparent, newname, ino);
		return ret;
	}
	return dir_touch(dfs, newparent, DAEMON_MTIME | DAEMON_CTIME);
}

static int do_link(struct daemon_fs *dfs, ext2_ino_t ino, ext2_ino_t newparent,
		   const char *newname)
{
	int ret = daemon_check_name(newname);

	if (ret)
		return ret;
	ret = daemon_check_writable(dfs);
	if (ret)
		return ret;
	extent_meta_lock(&dfs->efs);
	ret = dir_link_locked(dfs, ino, newparent, newname);
	extent_meta_unlock(&dfs->efs);
	return ret;
}

void daemon_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	int ret;

	ret = do_link(dfs, daemon_ino(ino), daemon_ino(newparent), newname);
	if (ret)
		daemon_reply_err(req, ret);
	else
		daemon_reply_entry(dfs, req, daemon_ino(ino));
}

/* ---- unlink, rmdir ----------------------------------------------------- */

/**
 * dir_remove_locked() - remove @name (inode @ino) from @parent: unlink
 * (@rmdir false: not for directories, EISDIR as Linux) or rmdir (only empty
 * directories). The inode loses a link (a directory all of them) and gets
 * a new ctime; the parent gets mtime and ctime (and loses the ".." link).
 */
static int dir_remove_locked(struct daemon_fs *dfs, ext2_ino_t parent,
			     const char *name, ext2_ino_t ino, bool rmdir)
{
	struct ext2_inode_large inode, pinode;
	int ret;

	ret = daemon_read_inode(dfs, ino, &inode);
	if (ret)
		return ret;
	if (!rmdir && LINUX_S_ISDIR(inode.i_mode))
		return -EISDIR;
	if (rmdir) {
		if (!LINUX_S_ISDIR(inode.i_mode))
			return -ENOTDIR;
		if (ino == parent || ino == EXT2_ROOT_INO)
			return -EBUSY;
		ret = daemon_dir_empty(dfs, ino);
		if (ret)
			return ret;
	}
	ret = daemon_dir_remove(dfs, parent, name, ino);
	if (ret)
		return ret;
	if (rmdir)
		inode.i_links_count = 0;
	else if (inode.i_links_count > 0)
		inode.i_links_count--;
	daemon_inode_touch(&inode, DAEMON_CTIME);
	ret = daemon_write_inode(dfs, ino, &inode);
	if (ret)
		return ret;
	ret = daemon_read_inode(dfs, parent, &pinode);
	if (ret)
		return ret;
	if (rmdir)
		daemon_dec_count(&pinode);
	daemon_inode_touch(&pinode, DAEMON_MTIME | DAEMON_CTIME);
	return daemon_write_inode(dfs, parent, &pinode);
}

static int do_remove(struct daemon_fs *dfs, ext2_ino_t parent,
		     const char *name, bool rmdir)
{
	struct daemon_inode *di;
	ext2_ino_t ino;
	int ret;

	ret = daemon_check_name(name);
	if (ret)
		return ret;
	if (rmdir && strcmp(name, ".") == 0)
		return -EINVAL;
	if (rmdir && strcmp(name, "..") == 0)
		return -ENOTEMPTY;
	ret = daemon_check_writable(dfs);
	if (ret)
		return ret;
	ret = daemon_dir_ref(dfs, parent, name, &ino, &di);
	if (ret)
		return ret;
	ret = dir_remove_locked(dfs, parent, name, ino, rmdir);
	extent_meta_unlock(&dfs->efs);
	daemon_iput(dfs, di);
	return ret;
}

void daemon_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct daemon_fs *dfs = daemon_fs_of(req);

	daemon_reply_err(req, do_remove(dfs, daemon_ino(parent), name, false));
}

void daemon_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct daemon_fs *dfs = daemon_fs_of(req);

	daemon_reply_err(req, do_remove(dfs, daemon_ino(parent), name, true));
}
