/* SPDX-License-Identifier: MIT */
/*
 * extent/truncate.c — changing a regular file's size (truncate(2),
 * ftruncate(2), open with O_TRUNC, setattr of the size).
 *
 * Down:	zero the tail of the new last block (extent_zero_range),
 *		lower the in-memory size (writeback stops at it), drop the
 *		cached folios past the new last block (waits for writeback
 *		in flight), free the blocks (ext2fs_punch), write i_size.
 * Up:		zero the tail of the old last block, set i_size (a hole).
 *
 * i_disksize follows: after truncate it equals the new size on disk.
 */
#include <stdlib.h>

#include "internal.h"

/* Context: meta_lock held. */
static int punch_blocks(struct extent_inode *ei, uint64_t first,
			uint64_t last)
{
	struct extent_fs *efs = ei->efs;
	struct ext2_inode_large inode;
	errcode_t err;
	int ret;

	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	err = ext2fs_punch(efs->fs, ei->ino, (struct ext2_inode *)&inode, NULL,
			   first, last);
	atomic_fetch_add(&ei->map_seq, 1);
	return extent_errcode(efs, ei->ino, err);
}

/**
 * __extent_punch_blocks() - see internal.h. Context: meta_lock held.
 */
int __extent_punch_blocks(struct extent_inode *ei, uint64_t first,
			  uint64_t last)
{
	extent_assert_meta_locked(ei->efs);
	return punch_blocks(ei, first, last);
}

/*
 * What the cache holds for the block at @pos of an unwritten extent:
 * 0 nothing newer than the disk (absent, or clean: zeros), 1 dirty data,
 * -EAGAIN writeback was in flight — waited for; its completion may have
 * converted the extent, so the caller maps again.
 * Context: rwlock held exclusively; no folio locked.
 */
static int unwritten_block_state(struct extent_inode *ei, uint64_t pos)
{
	struct cache_mapping *mapping = ei->file.mapping;
	unsigned int fshift = cache_folio_shift(mapping);
	unsigned int blk = (unsigned int)((pos & ((1ull << fshift) - 1)) >>
					  ei->efs->blkbits);
	struct cache_folio *folio;
	int state;

	if (cache_folio_get(mapping, pos >> fshift, CACHE_FGP_LOCK, &folio))
		return 0;
	if (cache_folio_under_writeback(folio)) {
		cache_folio_unlock(folio);
		cache_folio_wait_writeback(folio);
		cache_folio_put(folio);
		return -EAGAIN;
	}
	state = (folio->dirty & (1ull << blk)) ? 1 : 0;
	cache_folio_unlock(folio);
	cache_folio_put(folio);
	return state;
}

/**
 * extent_zero_range() - see internal.h.
 */
int extent_zero_range(struct extent_inode *ei, uint64_t pos, uint64_t len,
		      uint64_t isize)
{
	struct extent_fs *efs = ei->efs;
	uint64_t bs = efs->blocksize, end = pos + len, n;
	struct extent_map map;
	ssize_t done;
	char *zeros;
	int ret = 0, state;

	if (len == 0)
		return 0;
	zeros = calloc(1, len < bs ? len : bs);
	if (!zeros)
		return -ENOMEM;
	while (pos < end) {
		n = bs - (pos & (bs - 1));
		if (n > end - pos)
			n = end - pos;
		extent_meta_lock(efs);
		ret = __extent_map(ei, pos >> efs->blkbits, &map);
		extent_meta_unlock(efs);
		if (ret)
			break;
		/*
		 * An unwritten block reads as zeros unless the cache holds
		 * dirty data for it; like ext4, leave it unwritten then.
		 */
		state = 1;
		if (map.type == IOMAP_UNWRITTEN) {
			state = unwritten_block_state(ei, pos);
			if (state == -EAGAIN)
				continue; /* map again */
		}
		if (map.type != IOMAP_HOLE && state) {
			done = iomap_file_buffered_write(&ei->file, pos, zeros,
							 (size_t)n, isize,
							 efs->ops.write,
							 efs->ops.write_ops);
			if (done < 0) {
				ret = (int)done;
				break;
			}
			if ((uint64_t)done != n) {
				ret = -EIO;
				break;
			}
		}
		pos += n;
	}
	free(zeros);
	return ret;
}

/* Zero from @pos to the end of its block. Context: as extent_zero_range. */
static int zero_block_tail(struct extent_inode *ei, uint64_t pos,
			   uint64_t isize)
{
	uint64_t bs = ei->efs->blocksize;

	if ((pos & (bs - 1)) == 0)
		return 0;
	return extent_zero_range(ei, pos, bs - (pos & (bs - 1)), isize);
}

/**
 * extent_truncate() - see extent.h.
 * Context: takes @ei->rwlock exclusively, then folio locks (engine) and
 * meta_lock.
 */
int extent_truncate(struct extent_inode *ei, uint64_t size)
{
	struct extent_fs *efs = ei->efs;
	uint64_t bs = efs->blocksize, old, boundary;
	int ret;

	if (!ei->file.mapping)
		return -EISDIR;
	if (atomic_load(&efs->readonly))
		return -EROFS;
	if (size > (uint64_t)INT64_MAX)
		return -EINVAL;
	pthread_rwlock_wrlock(&ei->rwlock);
	if (size > extent_inode_maxbytes(ei)) {
		ret = -EFBIG;
		goto out_unlock;
	}
	ret = extent_inline_expand(ei);
	if (ret)
		goto out_unlock;
	old = atomic_load(&ei->size);

	if (size < old) {
		ret = zero_block_tail(ei, size, old);
		if (ret)
			goto out_unlock;
		atomic_store(&ei->size, size);
		boundary = extent_round_up(size, bs);
		cache_mapping_remove_range(ei->file.mapping, boundary,
					   UINT64_MAX);
		extent_meta_lock(efs);
		ret = punch_blocks(ei, boundary >> efs->blkbits, ~0ULL);
		if (ret == 0)
			ret = __extent_set_disk_size(ei, size);
		extent_meta_unlock(efs);
	} else if (size > old) {
		ret = zero_block_tail(ei, old, old);
		if (ret)
			goto out_unlock;
		atomic_store(&ei->size, size);
		extent_meta_lock(efs);
		ret = __extent_set_disk_size(ei, size);
		extent_meta_unlock(efs);
	}
out_unlock:
	pthread_rwlock_unlock(&ei->rwlock);
	return ret;
}
