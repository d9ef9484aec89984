/* SPDX-License-Identifier: MIT */
/*
 * extent/fallocate.c — fallocate(2) for regular files, with the kernel's
 * argument rules (vfs_fallocate + ext4_fallocate):
 *
 *   default / KEEP_SIZE: unwritten extents for the holes in the range;
 *	the size grows to offset + len unless KEEP_SIZE.
 *   PUNCH_HOLE | KEEP_SIZE: zero the partial blocks at the edges through
 *	the cache, drop the cached whole blocks, free them. Nothing past
 *	the page that holds EOF is punched (as ext4).
 *   ZERO_RANGE [| KEEP_SIZE]: preallocate the range (edges included),
 *	zero the partial blocks, replace the whole blocks by unwritten
 *	extents (free + allocate), size as default.
 *
 * Block-mapped files support PUNCH_HOLE only (-EOPNOTSUPP otherwise).
 */
#include "internal.h"

/* The kernel's page size, used where ext4 rounds to pages. */
#define EXTENT_PAGE_SIZE 4096u

#define EXTENT_FALLOC_MODES \
	(EXTENT_FALLOC_KEEP_SIZE | EXTENT_FALLOC_PUNCH_HOLE | \
	 EXTENT_FALLOC_ZERO_RANGE)

/*
 * Unwritten extents for every hole in blocks [first, end).
 * Context: rwlock held exclusively; takes meta_lock.
 */
static int alloc_holes(struct extent_inode *ei, uint64_t first, uint64_t end)
{
	struct extent_fs *efs = ei->efs;
	struct extent_map map;
	uint64_t want;
	int ret = 0;

	extent_meta_lock(efs);
	while (first < end) {
		ret = __extent_map(ei, first, &map);
		if (ret)
			break;
		if (map.type != IOMAP_HOLE) {
			first = map.lblk + map.len;
			continue;
		}
		want = end - first;
		if (want > map.len)
			want = map.len;
		ret = __extent_alloc(ei, first, want, &map);
		if (ret)
			break;
		first += map.len;
	}
	extent_meta_unlock(efs);
	return ret;
}

/*
 * Zero [start, end) through the cache where it covers partial blocks and
 * return the whole-block range inside it in @wfirst and @wend (bytes).
 * Context: rwlock held exclusively.
 */
static int zero_edges(struct extent_inode *ei, uint64_t start, uint64_t end,
		      uint64_t *wfirst, uint64_t *wend)
{
	struct extent_fs *efs = ei->efs;
	uint64_t bs = efs->blocksize, size = atomic_load(&ei->size);
	uint64_t a = extent_round_up(start, bs), b = end / bs * bs;
	int ret;

	if (a >= b) {
		/* No whole block inside: zero it all in the cache. */
		*wfirst = *wend = 0;
		return extent_zero_range(ei, start, end - start, size);
	}
	if (start < a) {
		ret = extent_zero_range(ei, start, a - start, size);
		if (ret)
			return ret;
	}
	if (b < end) {
		ret = extent_zero_range(ei, b, end - b, size);
		if (ret)
			return ret;
	}
	*wfirst = a;
	*wend = b;
	return 0;
}

/* Context: rwlock held exclusively. */
static int free_whole_blocks(struct extent_inode *ei, uint64_t a, uint64_t b)
{
	struct extent_fs *efs = ei->efs;
	int ret;

	if (a >= b)
		return 0;
	cache_mapping_remove_range(ei->file.mapping, a, b);
	extent_meta_lock(efs);
	ret = __extent_punch_blocks(ei, a >> efs->blkbits,
				    (b >> efs->blkbits) - 1);
	extent_meta_unlock(efs);
	return ret;
}

static int punch_hole(struct extent_inode *ei, uint64_t offset, uint64_t len)
{
	uint64_t size = atomic_load(&ei->size), end = offset + len, a, b;
	int ret;

	if (offset >= size)
		return 0;
	if (end > size)
		end = size + EXTENT_PAGE_SIZE - (size & (EXTENT_PAGE_SIZE - 1));
	ret = zero_edges(ei, offset, end, &a, &b);
	if (ret)
		return ret;
	return free_whole_blocks(ei, a, b);
}

static int set_size_after(struct extent_inode *ei, int mode, uint64_t end)
{
	struct extent_fs *efs = ei->efs;
	int ret;

	if ((mode & EXTENT_FALLOC_KEEP_SIZE) || end <= atomic_load(&ei->size))
		return 0;
	atomic_store(&ei->size, end);
	extent_meta_lock(efs);
	ret = __extent_set_disk_size(ei, end);
	extent_meta_unlock(efs);
	return ret;
}

static int zero_range(struct extent_inode *ei, int mode, uint64_t offset,
		      uint64_t len)
{
	unsigned int bits = ei->efs->blkbits;
	uint64_t bs = ei->efs->blocksize, end = offset + len, a, b;
	int ret;

	/*
	 * As ext4_zero_range(): with unaligned edges the whole range,
	 * edges included, is preallocated first, so the zeroed partial
	 * blocks become allocated data even where they were holes.
	 */
	if ((offset | end) & (bs - 1)) {
		ret = alloc_holes(ei, offset >> bits,
				  extent_round_up(end, bs) >> bits);
		if (ret)
			return ret;
	}
	ret = zero_edges(ei, offset, end, &a, &b);
	if (ret)
		return ret;
	ret = free_whole_blocks(ei, a, b);
	if (ret)
		return ret;
	if (a < b) {
		ret = alloc_holes(ei, a >> bits, b >> bits);
		if (ret)
			return ret;
	}
	return set_size_after(ei, mode, end);
}

static int allocate_range(struct extent_inode *ei, int mode, uint64_t offset,
			  uint64_t len)
{
	struct extent_fs *efs = ei->efs;
	uint64_t end = offset + len;
	int ret;

	ret = alloc_holes(ei, offset >> efs->blkbits,
			  extent_round_up(end, efs->blocksize) >> efs->blkbits);
	if (ret)
		return ret;
	return set_size_after(ei, mode, end);
}

/**
 * extent_fallocate() - see extent.h.
 * Context: takes @ei->rwlock exclusively, then folio locks and meta_lock.
 */
int extent_fallocate(struct extent_inode *ei, int mode, uint64_t offset,
		     uint64_t len)
{
	struct extent_fs *efs = ei->efs;
	int ret;

	if ((int64_t)offset < 0 || (int64_t)len <= 0)
		return -EINVAL;
	if (mode & ~EXTENT_FALLOC_MODES)
		return -EOPNOTSUPP;
	if ((mode & EXTENT_FALLOC_PUNCH_HOLE) &&
	    (!(mode & EXTENT_FALLOC_KEEP_SIZE) ||
	     (mode & EXTENT_FALLOC_ZERO_RANGE)))
		return -EOPNOTSUPP;
	if (!ei->file.mapping)
		return -ENODEV;
	if (atomic_load(&efs->readonly))
		return -EROFS;
	if (offset + len > efs->max_file_size ||
	    (int64_t)(offset + len) < 0)
		return -EFBIG;

	pthread_rwlock_wrlock(&ei->rwlock);
	ret = extent_inline_expand(ei);
	if (ret)
		goto out_unlock;
	if (mode & EXTENT_FALLOC_PUNCH_HOLE) {
		ret = punch_hole(ei, offset, len);
		goto out_unlock;
	}
	if (!extent_i_has_extents(ei)) {
		ret = -EOPNOTSUPP;
		goto out_unlock;
	}
	if (mode & EXTENT_FALLOC_ZERO_RANGE)
		ret = zero_range(ei, mode, offset, len);
	else
		ret = allocate_range(ei, mode, offset, len);
out_unlock:
	pthread_rwlock_unlock(&ei->rwlock);
	return ret;
}
