/* SPDX-License-Identifier: MIT */
/*
 * extent/io.c — the file data entry points the daemon calls: buffered
 * read and write through the iomap engine with the ext4 policy, writeback
 * of a whole file, and fsync. Size rules (EFBIG at the kernel's limits,
 * O_APPEND) are applied here under the inode rwlock.
 */
#include "internal.h"

/**
 * extent_read() - see extent.h.
 * Context: takes @ei->rwlock shared; meta_lock only inside mappings.
 */
ssize_t extent_read(struct extent_inode *ei, uint64_t pos, void *buf,
		    size_t len)
{
	uint64_t size;
	ssize_t ret;

	if (!ei->file.mapping)
		return -EISDIR;
	pthread_rwlock_rdlock(&ei->rwlock);
	size = atomic_load(&ei->size);
	if (pos >= size || len == 0) {
		ret = 0;
		goto out_unlock;
	}
	if (len > size - pos)
		len = (size_t)(size - pos);
	if (extent_i_inline(ei))
		ret = extent_inline_read(ei, pos, buf, len);
	else
		ret = iomap_file_buffered_read(&ei->file, pos, buf, len, size,
					       ei->efs->ops.read);
out_unlock:
	pthread_rwlock_unlock(&ei->rwlock);
	return ret;
}

/**
 * extent_write() - see extent.h.
 * Context: takes @ei->rwlock exclusively; throttles after dropping it.
 */
ssize_t extent_write(struct extent_inode *ei, uint64_t pos, const void *buf,
		     size_t len, bool append, uint64_t *pos_out)
{
	struct extent_fs *efs = ei->efs;
	uint64_t size, maxbytes;
	ssize_t ret;

	if (!ei->file.mapping)
		return -EISDIR;
	if (atomic_load(&efs->readonly))
		return -EROFS;
	pthread_rwlock_wrlock(&ei->rwlock);
	size = atomic_load(&ei->size);
	if (append)
		pos = size;
	if (pos_out)
		*pos_out = pos;
	if (len == 0) {
		ret = 0;
		goto out_unlock;
	}
	maxbytes = extent_inode_maxbytes(ei);
	if (pos >= maxbytes) {
		ret = -EFBIG;
		goto out_unlock;
	}
	if (len > maxbytes - pos)
		len = (size_t)(maxbytes - pos);
	ret = extent_inline_expand(ei);
	if (ret)
		goto out_unlock;
	ret = iomap_file_buffered_write(&ei->file, pos, buf, len, size,
					efs->ops.write, efs->ops.write_ops);
	if (ret > 0 && pos + (uint64_t)ret > size)
		atomic_store(&ei->size, pos + (uint64_t)ret);
out_unlock:
	pthread_rwlock_unlock(&ei->rwlock);
	if (ret > 0)
		cache_balance_dirty(efs->cache);
	return ret;
}

/*
 * Raise i_disksize to the size once no dirty data is left: everything
 * below the size is then on disk and converted (iomap_writeback_range()
 * waited for it), or a hole, or an unwritten extent that reads as zeros.
 * This covers data that a flusher pass wrote while an appending writer had
 * not yet raised the size (end_io bounds i_disksize by the size it sees).
 * Context: no lock held; takes meta_lock.
 */
static int writeback_settle_disksize(struct extent_inode *ei)
{
	struct extent_fs *efs = ei->efs;
	uint64_t size;
	int ret = 0;

	if (cache_mapping_has_dirty(ei->file.mapping))
		return 0;
	extent_meta_lock(efs);
	size = atomic_load(&ei->size);
	if (ei->disksize < size && (efs->fs->flags & EXT2_FLAG_RW) &&
	    !atomic_load(&efs->readonly))
		ret = __extent_set_disk_size(ei, size);
	extent_meta_unlock(efs);
	return ret;
}

/**
 * extent_writeback() - see extent.h.
 *
 * The engine is given no size limit (UINT64_MAX): a writer copies data
 * into the cache before it raises the size (iomap contract), so a flusher
 * pass that snapshotted the size would drop the dirty blocks of an append
 * in progress. Blocks past a truncate never reach writeback: truncate
 * removes them from the cache itself (cache_mapping_remove_range).
 * Context: no inode rwlock (the flusher calls it); takes folio locks and
 * meta_lock inside the writeback ops.
 */
int extent_writeback(struct extent_inode *ei)
{
	int ret, expected = 0;

	if (!ei->file.mapping)
		return 0;
	if (extent_i_inline(ei))
		return 0;
	pthread_mutex_lock(&ei->wb_lock);
	ret = iomap_writeback_range(&ei->file, 0, UINT64_MAX, UINT64_MAX,
				    ei->efs->ops.writeback);
	if (ret == 0)
		ret = writeback_settle_disksize(ei);
	if (ret < 0)
		atomic_compare_exchange_strong(&ei->wb_error, &expected, ret);
	pthread_mutex_unlock(&ei->wb_lock);
	return ret;
}

/**
 * extent_writeback_start() - see extent.h.
 */
void extent_writeback_start(struct extent_inode *ei)
{
	if (!ei->file.mapping || extent_i_inline(ei))
		return;
	cache_mapping_start_writeback(ei->file.mapping);
}

/**
 * extent_fsync() - see extent.h. A writeback error is reported by one
 * fsync only (the first after it happened).
 * Context: no lock held; takes meta_lock after writeback.
 */
int extent_fsync(struct extent_inode *ei, bool datasync)
{
	struct extent_fs *efs = ei->efs;
	struct ext2_inode_large inode;
	int ret, wb_err, err;

	(void)datasync;
	ret = extent_writeback(ei);
	wb_err = atomic_exchange(&ei->wb_error, 0);
	if (wb_err)
		ret = wb_err;

	extent_meta_lock(efs);
	if (efs->fs->flags & EXT2_FLAG_RW) {
		/* Rewrite the inode so its table block is dirty for sure. */
		err = __extent_read_inode(ei, &inode);
		if (!err)
			err = __extent_write_inode(ei, &inode);
		if (err && !ret)
			ret = err;
	}
	err = extent_sync_metadata(efs);
	if (err && !ret)
		ret = err;
	extent_meta_unlock(efs);
	return ret;
}
