/* SPDX-License-Identifier: MIT */
/*
 * daemon/newinode.c — allocation and initialisation of new inodes for
 * mknod, mkdir, symlink (dir.c) and create (file.c), as the kernel's
 * __ext4_new_inode() + inode_init_owner() + ext4_init_new_dir() /
 * ext4_symlink() do: owner and setgid rules, the mode exactly as given
 * (umask or default ACL applied by daemon_acl_inherit()), inherited flags,
 * an empty extent tree, timestamps with crtime, the first directory block,
 * symlink targets, device numbers, and the entry in the parent.
 *
 * A failure at any step frees what the earlier steps took (blocks, xattr
 * block, inode), so nothing leaks and e2fsck stays clean.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/sysmacros.h>

#include "dir.h"

#include <ext2fs/ext3_extents.h>

#define NEWINODE_FAST_SYMLINK_MAX (EXT2_N_BLOCKS * 4)	/* incl. NUL */
#define NEWINODE_ENOSPC_RETRIES 5	/* waits of 10 ms for evictions */

/* Flags a new inode inherits from its parent (EXT4_FL_INHERITED) and which
 * of them each type keeps (ext4_mask_flags()). */
#define NEWINODE_FL_INHERITED                                                  \
	(EXT2_SECRM_FL | EXT2_UNRM_FL | EXT2_COMPR_FL | EXT2_SYNC_FL |        \
	 EXT2_NODUMP_FL | EXT2_NOATIME_FL | EXT2_NOCOMPR_FL |                  \
	 EXT3_JOURNAL_DATA_FL | EXT2_NOTAIL_FL | EXT2_DIRSYNC_FL |             \
	 EXT4_PROJINHERIT_FL | EXT4_CASEFOLD_FL)
#define NEWINODE_FL_REG_MASK                                                   \
	(~(EXT2_DIRSYNC_FL | EXT2_TOPDIR_FL | EXT4_CASEFOLD_FL |              \
	   EXT4_PROJINHERIT_FL))
#define NEWINODE_FL_OTHER_MASK (EXT2_NODUMP_FL | EXT2_NOATIME_FL)

static uint32_t newinode_flags(mode_t mode, uint32_t parent_flags)
{
	uint32_t flags = parent_flags & NEWINODE_FL_INHERITED;

	if (S_ISDIR(mode))
		return flags;
	if (S_ISREG(mode))
		return flags & NEWINODE_FL_REG_MASK;
	return flags & NEWINODE_FL_OTHER_MASK;
}

static uint32_t newinode_generation(void)
{
	uint32_t gen;
	struct timespec ts;

	if (getrandom(&gen, sizeof(gen), GRND_NONBLOCK) == sizeof(gen))
		return gen;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 10));
}

/** newinode_extent_root() - an empty extent tree in i_block. */
static void newinode_extent_root(struct ext2_inode_large *inode)
{
	struct ext3_extent_header *eh = (void *)inode->i_block;

	memset(inode->i_block, 0, sizeof(inode->i_block));
	eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
	eh->eh_entries = 0;
	eh->eh_max = ext2fs_cpu_to_le16((sizeof(inode->i_block) -
					 sizeof(*eh)) /
					sizeof(struct ext3_extent));
	eh->eh_depth = 0;
	inode->i_flags |= EXT4_EXTENTS_FL;
}

/**
 * newinode_map_block() - map logical block 0 of a new inode to @pblk in
 * i_block (one extent, or the first direct pointer) and count it.
 */
static int newinode_map_block(ext2_filsys fs, struct ext2_inode_large *inode,
			      blk64_t pblk)
{
	if (inode->i_flags & EXT4_EXTENTS_FL) {
		struct ext3_extent_header *eh = (void *)inode->i_block;
		struct ext3_extent *ex = (void *)(eh + 1);

		eh->eh_entries = ext2fs_cpu_to_le16(1);
		ex->ee_block = 0;
		ex->ee_len = ext2fs_cpu_to_le16(1);
		ex->ee_start = ext2fs_cpu_to_le32((uint32_t)pblk);
		ex->ee_start_hi = ext2fs_cpu_to_le16((uint16_t)(pblk >> 32));
	} else {
		inode->i_block[0] = (uint32_t)pblk;
	}
	return ext2fs_iblk_set(fs, (struct ext2_inode *)inode, 1) ? -EIO : 0;
}

/**
 * newinode_owner() - uid, gid and the setgid bit (inode_init_owner() with
 * the setgid stripping of mode_strip_sgid()).
 */
static mode_t newinode_owner(const struct daemon_cred *cred,
			     const struct ext2_inode_large *parent,
			     struct ext2_inode_large *inode, mode_t mode)
{
	gid_t gid = cred->gid;

	daemon_inode_set_uid(inode, cred->uid);
	if (parent->i_mode & LINUX_S_ISGID) {
		gid = daemon_inode_gid(parent);
		if (S_ISDIR(mode))
			mode |= S_ISGID;
		else if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
			 cred->uid != 0 && !daemon_cred_in_group(cred, gid))
			mode &= ~(mode_t)S_ISGID;
	}
	daemon_inode_set_gid(inode, gid);
	return mode;
}

/** newinode_set_rdev() - device number, old or new encoding (ext4). */
static void newinode_set_rdev(struct ext2_inode_large *inode, dev_t rdev)
{
	unsigned int maj = major(rdev), min = minor(rdev);

	if (maj < 256 && min < 256) {
		inode->i_block[0] = ext2fs_cpu_to_le32((maj << 8) | min);
		inode->i_block[1] = 0;
	} else {
		inode->i_block[0] = 0;
		inode->i_block[1] = ext2fs_cpu_to_le32((min & 0xff) |
						       (maj << 8) |
						       ((min & ~0xffu) << 12));
		inode->i_block[2] = 0;
	}
}

/**
 * newinode_write_fresh() - write @inode as the whole on-disk inode: the
 * bytes past struct ext2_inode_large (the in-inode xattr area) are zeroed,
 * so that nothing of a previous user of the inode number (xattrs) survives,
 * as ext4 zeroes the raw inode of an EXT4_STATE_NEW inode.
 */
static int newinode_write_fresh(struct daemon_fs *dfs, ext2_ino_t ino,
				const struct ext2_inode_large *inode)
{
	ext2_filsys fs = dfs->efs.fs;
	unsigned int isize = EXT2_INODE_SIZE(fs->super);
	errcode_t err;
	char *buf;

	buf = calloc(1, isize > sizeof(*inode) ? isize : sizeof(*inode));
	if (!buf)
		return -ENOMEM;
	memcpy(buf, inode, isize < sizeof(*inode) ? isize : sizeof(*inode));
	err = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)buf, isize);
	free(buf);
	return err ? extent_errcode(&dfs->efs, ino, err) : 0;
}

/** State of one creation, so that the unwinding knows what to free. */
struct newinode {
	struct daemon_fs *dfs;
	ext2_ino_t parent;
	ext2_ino_t ino;
	blk64_t blk;		/* first block (dir, slow symlink), or 0 */
	bool counted;		/* inode_alloc_stats2 done */
	struct ext2_inode_large inode;
};

/**
 * newinode_alloc_block() - one block near the inode for a directory or a
 * slow symlink, written with @data (len bytes, the rest zero) or, for a
 * directory, "." and "..".
 */
static int newinode_alloc_block(struct newinode *n, const char *data,
				size_t len)
{
	struct daemon_fs *dfs = n->dfs;
	ext2_filsys fs = dfs->efs.fs;
	blk64_t goal;
	errcode_t err;
	char *buf = NULL;
	int ret;

	goal = ext2fs_group_first_block2(fs, ext2fs_group_of_ino(fs, n->ino));
	err = ext2fs_new_block2(fs, goal, NULL, &n->blk);
	if (err)
		return extent_errcode(&dfs->efs, n->ino, err);
	ext2fs_block_alloc_stats2(fs, n->blk, +1);
	ret = newinode_map_block(fs, &n->inode, n->blk);
	if (ret)
		return ret;
	n->inode.i_size = S_ISDIR(n->inode.i_mode) ? fs->blocksize : len;
	/* the directory block checksum needs the inode (generation) on disk */
	ret = daemon_write_inode(dfs, n->ino, &n->inode);
	if (ret)
		return ret;
	if (data) {
		buf = calloc(1, fs->blocksize);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, data, len);
		err = io_channel_write_blk64(fs->io, n->blk, 1, buf);
	} else {
		err = ext2fs_new_dir_block(fs, n->ino, n->parent, &buf);
		if (!err)
			err = ext2fs_write_dir_block4(fs, n->blk, buf, 0, n->ino);
	}
	if (buf)
		ext2fs_free_mem(&buf);
	return err ? extent_errcode(&dfs->efs, n->ino, err) : 0;
}

/** newinode_undo() - free the inode, its block and xattr block. */
static void newinode_undo(struct newinode *n)
{
	struct daemon_fs *dfs = n->dfs;
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_inode_large inode;

	if (n->blk)
		ext2fs_block_alloc_stats2(fs, n->blk, -1);
	if (daemon_read_inode(dfs, n->ino, &inode) == 0 &&
	    ext2fs_file_acl_block(fs, (struct ext2_inode *)&inode))
		ext2fs_free_ext_attr(fs, n->ino, &inode);
	memset(&inode, 0, sizeof(inode));
	newinode_write_fresh(dfs, n->ino, &inode);
	if (n->counted)
		ext2fs_inode_alloc_stats2(fs, n->ino, -1,
					  S_ISDIR(n->inode.i_mode));
}

/**
 * newinode_init() - fill n->inode: mode, owner, flags, times, generation,
 * extra size, extent root, device number, fast symlink.
 */
static mode_t newinode_init(struct newinode *n, const struct daemon_cred *cred,
			    const struct ext2_inode_large *parent, mode_t mode,
			    dev_t rdev, const char *target, size_t tlen)
{
	ext2_filsys fs = n->dfs->efs.fs;
	struct ext2_inode_large *inode = &n->inode;
	unsigned int isize = EXT2_INODE_SIZE(fs->super);
	struct timespec now;
	bool extents = ext2fs_has_feature_extents(fs->super);

	memset(inode, 0, sizeof(*inode));
	if (isize > EXT2_GOOD_OLD_INODE_SIZE) {
		unsigned int extra = sizeof(struct ext2_inode_large) -
				     EXT2_GOOD_OLD_INODE_SIZE;

		if (extra > isize - EXT2_GOOD_OLD_INODE_SIZE)
			extra = isize - EXT2_GOOD_OLD_INODE_SIZE;
		inode->i_extra_isize = (__u16)extra;
	}
	mode = newinode_owner(cred, parent, inode, mode);
	inode->i_mode = (__u16)mode;
	inode->i_links_count = S_ISDIR(mode) ? 2 : 1;
	inode->i_flags = newinode_flags(mode, parent->i_flags);
	if ((parent->i_flags & EXT4_PROJINHERIT_FL) &&
	    inode->i_extra_isize >= 32)
		inode->i_projid = parent->i_projid;
	inode->i_generation = newinode_generation();
	daemon_now(&now);
	daemon_inode_set_time(inode, DAEMON_ATIME, &now);
	daemon_inode_set_time(inode, DAEMON_MTIME, &now);
	daemon_inode_set_time(inode, DAEMON_CTIME, &now);
	daemon_inode_set_time(inode, DAEMON_CRTIME, &now);

	if (S_ISCHR(mode) || S_ISBLK(mode))
		newinode_set_rdev(inode, rdev);
	else if (S_ISLNK(mode) && tlen < NEWINODE_FAST_SYMLINK_MAX) {
		memcpy(inode->i_block, target, tlen);
		inode->i_size = (__u32)tlen;
	} else if ((S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode)) &&
		   extents)
		newinode_extent_root(inode);
	return mode;
}

/**
 * newinode_create() - the body of daemon_new_inode(), under meta_lock.
 */
static int newinode_create(struct newinode *n, const struct daemon_cred *cred,
			   const char *name, mode_t mode, dev_t rdev,
			   const char *target)
{
	struct daemon_fs *dfs = n->dfs;
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_inode_large parent;
	size_t tlen = target ? strlen(target) : 0;
	ext2_ino_t found;
	errcode_t err;
	mode_t acl_mode;
	int ret;

	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return -EINVAL;
	}
	ret = daemon_check_writable(dfs);
	if (ret)
		return ret;
	ret = daemon_dir_get(dfs, n->parent, &parent);
	if (ret)
		return ret;
	ret = daemon_dir_lookup(dfs, n->parent, name, &found);
	if (ret != -ENOENT)
		return ret ? ret : -EEXIST;
	if (S_ISDIR(mode) && daemon_dir_link_max(fs, &parent))
		return -EMLINK;
	if (S_ISLNK(mode) && (!target || tlen + 1 > fs->blocksize))
		return target ? -ENAMETOOLONG : -EINVAL;

	err = ext2fs_new_inode(fs, n->parent, (int)(mode & 0xffff), NULL,
			       &n->ino);
	if (err)
		return extent_errcode(&dfs->efs, 0, err);
	mode = newinode_init(n, cred, &parent, mode, rdev, target, tlen);
	ext2fs_inode_alloc_stats2(fs, n->ino, +1, S_ISDIR(mode));
	n->counted = true;
	ret = newinode_write_fresh(dfs, n->ino, &n->inode);
	if (ret)
		return ret;

	if (S_ISDIR(mode))
		ret = newinode_alloc_block(n, NULL, 0);
	else if (S_ISLNK(mode) && tlen >= NEWINODE_FAST_SYMLINK_MAX)
		ret = newinode_alloc_block(n, target, tlen);
	if (ret)
		return ret;

	/* default ACL or umask (not for symlinks, as posix_acl_create()) */
	if (!S_ISLNK(mode)) {
		acl_mode = mode;
		ret = daemon_acl_inherit(dfs, cred, n->parent, n->ino,
					 &acl_mode);
		if (ret)
			return ret;
		ret = daemon_read_inode(dfs, n->ino, &n->inode);
		if (ret)
			return ret;
		n->inode.i_mode = (__u16)((mode & S_IFMT) |
					  (acl_mode & ~(mode_t)S_IFMT));
		ret = daemon_write_inode(dfs, n->ino, &n->inode);
		if (ret)
			return ret;
	}

	ret = daemon_dir_add(dfs, n->parent, name, n->ino, daemon_ftype(mode));
	if (ret)
		return ret;

	/* the parent: read again, ext2fs_link() may have grown it */
	ret = daemon_read_inode(dfs, n->parent, &parent);
	if (!ret) {
		if (S_ISDIR(mode))
			daemon_inc_count(fs, &parent);
		daemon_inode_touch(&parent, DAEMON_MTIME | DAEMON_CTIME);
		ret = daemon_write_inode(dfs, n->parent, &parent);
	}
	if (ret)
		daemon_dir_remove(dfs, n->parent, name, n->ino);
	return ret;
}

/**
 * newinode_wait_eviction() - wait (at most @ms milliseconds) for an inode
 * eviction to finish (itable.c broadcasts itable_cond after each).
 *
 * Why: unlink(2) only drops the link; the inode and its blocks are freed
 * when the kernel's FORGET arrives, which it sends right after the unlink
 * reply but which another daemon thread may still be handling when the
 * next create comes in:
 *
 *   thread A                      thread B
 *   unlink "x" → reply
 *   read FORGET x                 read MKDIR "y"
 *   evict x: free inode, blocks   new inode: none free → ENOSPC?
 *
 * Kernel ext4 has freed "x" by then, so a create that finds the file
 * system full waits for such an eviction and retries, as ext4 retries an
 * allocation after a journal commit (ext4_should_retry_alloc()).
 * Context: no lock held.
 */
static void newinode_wait_eviction(struct daemon_fs *dfs, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&dfs->itable_lock);
	pthread_cond_timedwait(&dfs->itable_cond, &dfs->itable_lock, &ts);
	pthread_mutex_unlock(&dfs->itable_lock);
}

/**
 * daemon_new_inode() - see internal.h. The name is checked before anything
 * else; the whole creation is one meta_lock section, so that two creators
 * of one name cannot both succeed. ENOSPC is retried a few times while
 * evictions of unlinked inodes may still free space.
 */
int daemon_new_inode(struct daemon_fs *dfs, const struct daemon_cred *cred,
		     ext2_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev, const char *symlink_target, ext2_ino_t *ino)
{
	struct newinode *n;
	int tries, ret;

	ret = daemon_check_name(name);
	if (ret)
		return ret;
	n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (tries = 0;; tries++) {
		memset(n, 0, sizeof(*n));
		n->dfs = dfs;
		n->parent = parent;
		extent_meta_lock(&dfs->efs);
		ret = newinode_create(n, cred, name, mode, rdev,
				      symlink_target);
		if (ret && n->ino)
			newinode_undo(n);
		extent_meta_unlock(&dfs->efs);
		if (ret != -ENOSPC || tries == NEWINODE_ENOSPC_RETRIES)
			break;
		newinode_wait_eviction(dfs, 10);
	}
	if (!ret)
		*ino = n->ino;
	free(n);
	return ret;
}
