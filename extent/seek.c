/* SPDX-License-Identifier: MIT */
/*
 * extent/seek.c — lseek(2) SEEK_DATA / SEEK_HOLE over the block map (the
 * report ops) and the cache (the engine treats cached data in unwritten
 * extents as data, as the kernel does). Inline-data files are all data.
 */
#include <unistd.h>

#include "internal.h"

/**
 * extent_seek() - see extent.h.
 * Context: takes @ei->rwlock shared; meta_lock inside the report ops.
 */
int64_t extent_seek(struct extent_inode *ei, int64_t offset, int whence)
{
	uint64_t size;
	int64_t ret;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (!ei->file.mapping)
		return -EINVAL;
	pthread_rwlock_rdlock(&ei->rwlock);
	size = atomic_load(&ei->size);
	if (offset < 0 || (uint64_t)offset >= size) {
		ret = -ENXIO;
		goto out_unlock;
	}
	if (extent_i_inline(ei))
		ret = whence == SEEK_DATA ? offset : (int64_t)size;
	else if (whence == SEEK_DATA)
		ret = iomap_seek_data(&ei->file, (uint64_t)offset, size,
				      ei->efs->ops.report);
	else
		ret = iomap_seek_hole(&ei->file, (uint64_t)offset, size,
				      ei->efs->ops.report);
out_unlock:
	pthread_rwlock_unlock(&ei->rwlock);
	return ret;
}
