/* SPDX-License-Identifier: MIT */
/*
 * extent/inode.c — the per-inode state of extent/ (struct extent_inode):
 * set-up and tear-down, and the read-modify-write helpers for the few
 * on-disk inode fields extent/ owns (i_size, i_blocks).
 *
 * The daemon writes the same on-disk inode for timestamps and attributes,
 * and libext2fs extent handles write it when the tree root changes, so
 * every change here re-reads the inode under meta_lock, changes only its
 * own fields and writes it back before dropping the lock.
 */
#include <string.h>

#include "internal.h"

int __extent_read_inode(struct extent_inode *ei,
			struct ext2_inode_large *inode)
{
	struct extent_fs *efs = ei->efs;
	errcode_t err;

	extent_assert_meta_locked(efs);
	memset(inode, 0, sizeof(*inode));
	err = ext2fs_read_inode_full(efs->fs, ei->ino,
				     (struct ext2_inode *)inode,
				     sizeof(*inode));
	return extent_errcode(efs, ei->ino, err);
}

int __extent_write_inode(struct extent_inode *ei,
			 struct ext2_inode_large *inode)
{
	struct extent_fs *efs = ei->efs;
	errcode_t err;

	extent_assert_meta_locked(efs);
	err = ext2fs_write_inode_full(efs->fs, ei->ino,
				      (struct ext2_inode *)inode,
				      sizeof(*inode));
	return extent_errcode(efs, ei->ino, err);
}

/**
 * __extent_set_disk_size() - see internal.h. Context: meta_lock held.
 */
int __extent_set_disk_size(struct extent_inode *ei, uint64_t size)
{
	struct ext2_inode_large inode;
	errcode_t err;
	int ret;

	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	if (EXT2_I_SIZE(&inode) != size) {
		err = ext2fs_inode_size_set(ei->efs->fs,
					    (struct ext2_inode *)&inode, size);
		if (err)
			return extent_errcode(ei->efs, ei->ino, err);
		ret = __extent_write_inode(ei, &inode);
		if (ret)
			return ret;
	}
	ei->disksize = size;
	return 0;
}

/**
 * __extent_add_blocks() - see internal.h. Context: meta_lock held.
 */
int __extent_add_blocks(struct extent_inode *ei, int64_t delta)
{
	struct ext2_inode_large inode;
	errcode_t err;
	int ret;

	if (delta == 0)
		return 0;
	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	if (delta > 0)
		err = ext2fs_iblk_add_blocks(ei->efs->fs,
					     (struct ext2_inode *)&inode,
					     (blk64_t)delta);
	else
		err = ext2fs_iblk_sub_blocks(ei->efs->fs,
					     (struct ext2_inode *)&inode,
					     (blk64_t)-delta);
	if (err)
		return extent_errcode(ei->efs, ei->ino, err);
	return __extent_write_inode(ei, &inode);
}

/**
 * extent_inode_init() - see extent.h.
 * Context: meta_lock NOT held.
 */
int extent_inode_init(struct extent_fs *efs, struct extent_inode *ei,
		      ext2_ino_t ino, const struct ext2_inode_large *inode)
{
	unsigned int iflags = 0;
	uint64_t size = EXT2_I_SIZE(inode);
	int ret;

	ei->efs = efs;
	ei->ino = ino;
	ret = pthread_rwlock_init(&ei->rwlock, NULL);
	if (ret)
		return -ret;
	ret = pthread_mutex_init(&ei->wb_lock, NULL);
	if (ret) {
		pthread_rwlock_destroy(&ei->rwlock);
		return -ret;
	}
	atomic_store(&ei->size, size);
	ei->disksize = size;
	atomic_store(&ei->map_seq, 0);
	atomic_store(&ei->wb_error, 0);
	if (inode->i_flags & EXT4_EXTENTS_FL)
		iflags |= EXTENT_IFLAG_EXTENTS;
	if (inode->i_flags & EXT4_INLINE_DATA_FL)
		iflags |= EXTENT_IFLAG_INLINE;
	atomic_store(&ei->iflags, iflags);

	memset(&ei->file, 0, sizeof(ei->file));
	ei->file.bdev = efs->bdev;
	ei->file.blkbits = efs->blkbits;
	ei->file.private = ei;
	if (LINUX_S_ISREG(inode->i_mode)) {
		ret = cache_mapping_create(efs->cache, efs->blkbits, ei,
					   &ei->file.mapping);
		if (ret)
			goto out_destroy_rwlock;
	}
	return 0;

out_destroy_rwlock:
	pthread_mutex_destroy(&ei->wb_lock);
	pthread_rwlock_destroy(&ei->rwlock);
	return ret;
}

/**
 * extent_inode_destroy() - see extent.h.
 * Context: no lock held; nobody else uses @ei any more.
 */
void extent_inode_destroy(struct extent_inode *ei)
{
	if (ei->file.mapping) {
		cache_mapping_destroy(ei->file.mapping);
		ei->file.mapping = NULL;
	}
	pthread_mutex_destroy(&ei->wb_lock);
	pthread_rwlock_destroy(&ei->rwlock);
}
