/* SPDX-License-Identifier: MIT */
/*
 * extent/convert.c — the writeback side of the ext4 policy:
 *   ->map_range: the mapping of a dirty range (MAPPED or UNWRITTEN; a hole
 *                that still holds dirty data is allocated here);
 *   ->end_io:    after the data is on disk, convert the UNWRITTEN extents
 *                under it to written and raise i_disksize, so the on-disk
 *                size never covers data that is not there yet.
 *
 * Conversion of [a, b) inside unwritten extent [s, e):
 *
 *	[s ........................... e)     before (unwritten)
 *	[s .. a)[a ....... b)[b ...... e)     after: U | W | U
 *
 * with the empty pieces left out, and the written piece merged into a
 * physically contiguous written extent on its left when cheap.
 */
#include <string.h>

#include "internal.h"
#include "journal.h"

static bool cv_not_found(errcode_t err)
{
	return err == EXT2_ET_EXTENT_NOT_FOUND ||
	       err == EXT2_ET_EXTENT_NO_NEXT ||
	       err == EXT2_ET_NO_CURRENT_NODE;
}

/*
 * Merge the written extent at @lblk into its left sibling in the same
 * leaf when both are written and contiguous. Best effort: errors are
 * ignored (the tree is valid either way) unless the tree is left changed.
 */
static errcode_t merge_left(ext2_extent_handle_t h, uint64_t lblk)
{
	struct ext2fs_extent cur, prev;
	errcode_t err;

	if (ext2fs_extent_goto2(h, 0, lblk))
		return 0;
	if (ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &cur) ||
	    (cur.e_flags & EXT2_EXTENT_FLAGS_UNINIT) || cur.e_lblk != lblk)
		return 0;
	if (ext2fs_extent_get(h, EXT2_EXTENT_PREV_SIB, &prev))
		return 0;
	if ((prev.e_flags & EXT2_EXTENT_FLAGS_UNINIT) ||
	    prev.e_lblk + (uint64_t)prev.e_len != cur.e_lblk ||
	    prev.e_pblk + prev.e_len != cur.e_pblk ||
	    prev.e_len + (uint64_t)cur.e_len > EXTENT_INIT_MAX_LEN) {
		return 0;
	}
	prev.e_len += cur.e_len;
	err = ext2fs_extent_replace(h, 0, &prev);
	if (err)
		return err;
	err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT_SIB, &cur);
	if (err)
		return err;
	return ext2fs_extent_delete(h, 0);
}

/*
 * Convert the part [a, b) of the unwritten extent @ext (the handle's
 * current entry). Context: meta_lock held.
 */
static errcode_t convert_one(ext2_extent_handle_t h,
			     const struct ext2fs_extent *ext, uint64_t a,
			     uint64_t b)
{
	uint64_t s = ext->e_lblk, e = ext->e_lblk + (uint64_t)ext->e_len;
	struct ext2fs_extent left = *ext, mid = *ext, right = *ext;
	errcode_t err;

	left.e_len = (__u32)(a - s);
	mid.e_lblk = a;
	mid.e_pblk = ext->e_pblk + (a - s);
	mid.e_len = (__u32)(b - a);
	mid.e_flags &= ~EXT2_EXTENT_FLAGS_UNINIT;
	right.e_lblk = b;
	right.e_pblk = ext->e_pblk + (b - s);
	right.e_len = (__u32)(e - b);

	if (a == s) {
		err = ext2fs_extent_replace(h, 0, &mid);
		if (err)
			return err;
	} else {
		err = ext2fs_extent_replace(h, 0, &left);
		if (err)
			return err;
		err = ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, &mid);
		if (err)
			return err;
	}
	if (b < e) {
		err = ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, &right);
		if (err)
			return err;
	}
	return merge_left(h, a);
}

/**
 * __extent_convert() - see internal.h. Context: meta_lock held.
 */
int __extent_convert(struct extent_inode *ei, uint64_t lblk, uint64_t len)
{
	struct extent_fs *efs = ei->efs;
	ext2_filsys fs = efs->fs;
	struct ext2_inode_large inode;
	struct ext2_extent_info info;
	struct ext2fs_extent ext;
	ext2_extent_handle_t h;
	uint64_t end = lblk + len, e;
	struct extent_map map;
	bool changed = false;
	errcode_t err;
	int ret;

	extent_assert_meta_locked(efs);
	if (!extent_i_has_extents(ei))
		return 0;
	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	err = ext2fs_extent_open2(fs, ei->ino, (struct ext2_inode *)&inode, &h);
	if (err)
		return extent_errcode(efs, ei->ino, err);

	while (lblk < end) {
		err = ext2fs_extent_goto2(h, 0, lblk);
		if (cv_not_found(err)) {
			/* A hole: skip to the next extent, if any. */
			ext2fs_extent_free(h);
			h = NULL;
			ret = __extent_map(ei, lblk, &map);
			if (ret)
				goto out;
			if (map.type != IOMAP_HOLE) {
				ret = -EIO; /* lookups disagree */
				goto out;
			}
			lblk += map.len;
			if (lblk >= end)
				break;
			ret = __extent_read_inode(ei, &inode);
			if (ret)
				goto out;
			err = ext2fs_extent_open2(fs, ei->ino,
						  (struct ext2_inode *)&inode,
						  &h);
			if (err)
				goto out_err;
			continue;
		}
		if (err)
			goto out_err;
		err = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ext);
		if (err)
			goto out_err;
		ret = __extent_check_range(ei, ext.e_lblk, ext.e_pblk,
					   ext.e_len);
		if (ret)
			goto out;
		e = ext.e_lblk + (uint64_t)ext.e_len;
		if (!(ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT)) {
			lblk = e;
			continue;
		}
		/*
		 * Up to two inserts; a node split must not fail for lack of
		 * space inside libext2fs (see alloc.c), so check first.
		 */
		err = ext2fs_extent_get_info(h, &info);
		if (err)
			goto out_err;
		if (info.num_entries + 2 > info.max_entries &&
		    ext2fs_free_blocks_count(fs->super) <
			    (uint64_t)info.max_depth + 2) {
			ret = -ENOSPC;
			goto out;
		}
		err = convert_one(h, &ext, lblk, end < e ? end : e);
		if (err)
			goto out_err;
		changed = true;
		lblk = end < e ? end : e;
	}
	ret = 0;
	goto out;

out_err:
	ret = extent_errcode(efs, ei->ino, err);
out:
	if (h)
		ext2fs_extent_free(h);
	if (changed)
		atomic_fetch_add(&ei->map_seq, 1);
	return ret;
}

/*
 * wb_forget_metadata() - the blocks about to receive file data bypass the
 * metadata cache (journal/), which may still hold a copy from when they
 * were metadata (an extent or directory block freed since). Drop it, so
 * that neither a stale read nor a skipped "unchanged" write can come of it
 * when a block cycles from metadata to data and back. Context: meta_lock.
 */
static void wb_forget_metadata(struct extent_fs *efs,
			       const struct iomap *iomap, uint64_t pos,
			       uint64_t length)
{
	uint64_t end = iomap->offset + iomap->length, first, last;

	if (iomap->addr == IOMAP_NULL_ADDR || pos >= end)
		return;
	if (!length || length > end - pos)
		length = end - pos;
	first = (iomap->addr + (pos - iomap->offset)) >> efs->blkbits;
	last = (iomap->addr + (pos - iomap->offset) + length - 1) >>
	       efs->blkbits;
	journal_io_invalidate(efs->fs->io, first, last - first + 1);
}

/*
 * ->map_range: mapping of the dirty bytes at @pos for writeback.
 * Context: folio at @pos locked by the engine; takes meta_lock.
 */
static int wb_map_range(struct iomap_file *file, uint64_t pos,
			uint64_t length, struct iomap *iomap)
{
	struct extent_inode *ei = extent_i(file);
	struct extent_fs *efs = ei->efs;
	uint64_t lblk = pos >> efs->blkbits, want;
	struct extent_map map;
	int ret;

	extent_meta_lock(efs);
	if (extent_i_inline(ei)) {
		ret = -EIO;
		goto out_unlock;
	}
	ret = __extent_map(ei, lblk, &map);
	if (ret)
		goto out_unlock;
	if (map.type == IOMAP_HOLE) {
		/* Dirty data over a hole: allocate it now (unwritten). */
		want = (extent_round_up(pos + (length ? length : 1),
					efs->blocksize) >> efs->blkbits) - lblk;
		if (want > map.len)
			want = map.len;
		ret = __extent_alloc(ei, lblk, want, &map);
		if (ret)
			goto out_unlock;
	}
	extent_map_to_iomap(ei, &map, iomap);
	wb_forget_metadata(efs, iomap, pos, length);
out_unlock:
	extent_meta_unlock(efs);
	return ret;
}

/*
 * ->end_io: the data of [pos, pos + length) reached the disk (or failed).
 * Convert unwritten extents, then raise i_disksize to cover the data,
 * bounded by the in-memory size (a truncate may have lowered it).
 * Context: no folio locked, folios under writeback; takes meta_lock.
 */
static int wb_end_io(struct iomap_file *file, uint64_t pos, uint64_t length,
		     unsigned int type, unsigned int flags, int error)
{
	struct extent_inode *ei = extent_i(file);
	struct extent_fs *efs = ei->efs;
	uint64_t bs = efs->blocksize, first, last, newsize, size;
	int ret = 0;

	(void)flags;
	if (error || length == 0)
		return 0;
	extent_meta_lock(efs);
	if (type == IOMAP_UNWRITTEN) {
		first = pos >> efs->blkbits;
		last = extent_round_up(pos + length, bs) >> efs->blkbits;
		ret = __extent_convert(ei, first, last - first);
		if (ret)
			goto out_unlock;
	}
	size = atomic_load(&ei->size);
	newsize = pos + length;
	if (newsize < ei->disksize)
		newsize = ei->disksize;
	if (newsize > size)
		newsize = size;
	if (newsize > ei->disksize)
		ret = __extent_set_disk_size(ei, newsize);
out_unlock:
	extent_meta_unlock(efs);
	return ret;
}

static const struct iomap_writeback_ops writeback_ops = {
	.map_range = wb_map_range,
	.end_io = wb_end_io,
};

const struct iomap_writeback_ops *extent_writeback_ops(void)
{
	return &writeback_ops;
}
