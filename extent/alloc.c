/* SPDX-License-Identifier: MIT */
/*
 * extent/alloc.c — block allocation for writes (the allocation seam).
 *
 * This version allocates when a buffered write maps a hole (ops.write):
 *   extent files:       one run of free blocks near the previous extent
 *                       (ext2fs_find_inode_goal + ext2fs_new_range), added
 *                       to the tree as an UNWRITTEN extent (merged into the
 *                       unwritten extent before it when contiguous), so a
 *                       crash before the data is written reads zeros;
 *   block-mapped files: a contiguous run set with ext2fs_bmap2(BMAP_SET),
 *                       MAPPED (ext2/3 have no unwritten state).
 * Delayed allocation will replace ops.write with a reserving DELALLOC
 * policy and call __extent_alloc() from writeback's map_range instead.
 */
#include <string.h>

#include "internal.h"
#include "journal.h"

static bool ext_not_found(errcode_t err)
{
	return err == EXT2_ET_EXTENT_NOT_FOUND ||
	       err == EXT2_ET_EXTENT_NO_NEXT ||
	       err == EXT2_ET_NO_CURRENT_NODE;
}

/*
 * Insert the unwritten extent [lblk, lblk + len) → pblk into the tree,
 * extending a physically contiguous unwritten neighbour when possible.
 * The range is known to be a hole. Context: meta_lock held.
 */
static errcode_t insert_unwritten(ext2_extent_handle_t h, uint64_t lblk,
				  uint64_t pblk, uint64_t len)
{
	struct ext2fs_extent cur, ext = {
		.e_lblk = lblk,
		.e_pblk = pblk,
		.e_len = (__u32)len,
		.e_flags = EXT2_EXTENT_FLAGS_UNINIT,
	};
	errcode_t err;

	err = ext2fs_extent_goto2(h, 0, lblk);
	if (err == 0)
		return EXT2_ET_EXTENT_LEAF_BAD; /* not a hole after all */
	if (!ext_not_found(err))
		return err;
	err = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &cur);
	if (ext_not_found(err))
		return ext2fs_extent_insert(h, 0, &ext); /* empty tree */
	if (err)
		return err;

	if (cur.e_lblk < lblk) {
		if ((cur.e_flags & EXT2_EXTENT_FLAGS_UNINIT) &&
		    cur.e_lblk + (uint64_t)cur.e_len == lblk &&
		    cur.e_pblk + cur.e_len == pblk &&
		    cur.e_len + len <= EXTENT_UNINIT_MAX_LEN) {
			cur.e_len += (__u32)len;
			return ext2fs_extent_replace(h, 0, &cur);
		}
		return ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, &ext);
	}
	/* @cur is the first extent of the leaf and lies after @lblk. */
	if ((cur.e_flags & EXT2_EXTENT_FLAGS_UNINIT) &&
	    lblk + len == cur.e_lblk && pblk + len == cur.e_pblk &&
	    cur.e_len + len <= EXTENT_UNINIT_MAX_LEN) {
		cur.e_lblk = lblk;
		cur.e_pblk = pblk;
		cur.e_len += (__u32)len;
		err = ext2fs_extent_replace(h, 0, &cur);
	} else {
		err = ext2fs_extent_insert(h, 0, &ext);
	}
	if (err)
		return err;
	/* The leaf's first logical block changed: fix the index above. */
	return ext2fs_extent_fix_parents(h);
}

/*
 * alloc_claim_range() - find up to @len free blocks near the file's goal
 * for logical block @lblk, check them (a damaged bitmap must not hand out
 * metadata blocks), mark them in use and drop any metadata-cache copy
 * (they hold file data from now on). Return: 0 with *@pblk and *@plen set,
 * -ENOSPC, -EUCLEAN or -errno. Context: meta_lock held.
 */
static int alloc_claim_range(struct extent_inode *ei,
			     struct ext2_inode_large *inode, blk64_t lblk,
			     blk64_t len, blk64_t *pblk, blk64_t *plen)
{
	struct extent_fs *efs = ei->efs;
	ext2_filsys fs = efs->fs;
	blk64_t goal;
	errcode_t err;
	int ret;

	goal = ext2fs_find_inode_goal(fs, ei->ino, (struct ext2_inode *)inode,
				      lblk);
	err = ext2fs_new_range(fs, 0, goal, len, NULL, pblk, plen);
	if (err)
		return err == EXT2_ET_BLOCK_ALLOC_FAIL ?
			       -ENOSPC : extent_errcode(efs, ei->ino, err);
	if (*plen > len)
		*plen = len;
	ret = __extent_check_range(ei, lblk, *pblk, *plen);
	if (ret)
		return ret;
	ext2fs_block_alloc_stats_range(fs, *pblk, (blk_t)*plen, +1);
	journal_io_invalidate(fs->io, *pblk, *plen);
	return 0;
}

/* Context: meta_lock held. */
static int alloc_extents(struct extent_inode *ei, uint64_t lblk, uint64_t len,
			 struct extent_map *map)
{
	struct extent_fs *efs = ei->efs;
	ext2_filsys fs = efs->fs;
	struct ext2_inode_large inode;
	struct ext2_extent_info info;
	ext2_extent_handle_t h;
	blk64_t pblk = 0, plen = 0;
	uint64_t avail, reserve;
	errcode_t err;
	int ret;

	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	err = ext2fs_extent_open2(fs, ei->ino, (struct ext2_inode *)&inode, &h);
	if (err)
		return extent_errcode(efs, ei->ino, err);
	err = ext2fs_extent_get_info(h, &info);
	if (err) {
		ret = extent_errcode(efs, ei->ino, err);
		goto out_free_handle;
	}
	/*
	 * Keep blocks back for tree growth: a node split that fails inside
	 * ext2fs_extent_insert() deletes the current entry on its error
	 * path, so it must not run out of space.
	 */
	reserve = (uint64_t)info.max_depth + 2;
	avail = ext2fs_free_blocks_count(fs->super);
	if (avail <= reserve) {
		ret = -ENOSPC;
		goto out_free_handle;
	}
	if (len > avail - reserve)
		len = avail - reserve;
	if (len > EXTENT_UNINIT_MAX_LEN)
		len = EXTENT_UNINIT_MAX_LEN;

	ret = alloc_claim_range(ei, &inode, lblk, len, &pblk, &plen);
	if (ret)
		goto out_free_handle;

	err = insert_unwritten(h, lblk, pblk, plen);
	if (err) {
		ext2fs_block_alloc_stats_range(fs, pblk, (blk_t)plen, -1);
		ret = extent_errcode(efs, ei->ino, err);
		goto out_free_handle;
	}
	ext2fs_extent_free(h);
	h = NULL;

	/* The handle may have written the inode: charge on a fresh copy. */
	ret = __extent_add_blocks(ei, (int64_t)plen);
	atomic_fetch_add(&ei->map_seq, 1);
	if (ret)
		return ret;
	map->lblk = lblk;
	map->len = plen;
	map->pblk = pblk;
	map->type = IOMAP_UNWRITTEN;
	return 0;

out_free_handle:
	if (h)
		ext2fs_extent_free(h);
	return ret;
}

/* Context: meta_lock held. */
static int alloc_bmap(struct extent_inode *ei, uint64_t lblk, uint64_t len,
		      struct extent_map *map)
{
	struct extent_fs *efs = ei->efs;
	ext2_filsys fs = efs->fs;
	struct ext2_inode_large inode;
	blk64_t pblk = 0, plen = 0;
	uint64_t i, maxblk = extent_inode_maxbytes(ei) >> efs->blkbits;
	char *buf;
	errcode_t err;
	int ret;

	if (lblk >= maxblk)
		return -EFBIG;
	if (len > maxblk - lblk)
		len = maxblk - lblk;
	if (len > 1024)
		len = 1024;
	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	err = ext2fs_get_array(2, efs->blocksize, &buf);
	if (err)
		return -ENOMEM;

	ret = alloc_claim_range(ei, &inode, lblk, len, &pblk, &plen);
	if (ret)
		goto out_free_buf;

	/* BMAP_SET places our block; BMAP_ALLOC adds indirect blocks. */
	for (i = 0; i < plen; i++) {
		blk64_t b = pblk + i;

		err = ext2fs_bmap2(fs, ei->ino, (struct ext2_inode *)&inode,
				   buf, BMAP_ALLOC | BMAP_SET, lblk + i, NULL,
				   &b);
		if (err)
			break;
	}
	if (i < plen)
		ext2fs_block_alloc_stats_range(fs, pblk + i, (blk_t)(plen - i),
					       -1);
	if (i == 0) {
		ret = err == EXT2_ET_BLOCK_ALLOC_FAIL ?
			      -ENOSPC : extent_errcode(efs, ei->ino, err);
		goto out_free_buf;
	}
	ret = __extent_add_blocks(ei, (int64_t)i);
	atomic_fetch_add(&ei->map_seq, 1);
	if (ret)
		goto out_free_buf;
	map->lblk = lblk;
	map->len = i;
	map->pblk = pblk;
	map->type = IOMAP_MAPPED;
out_free_buf:
	ext2fs_free_mem(&buf);
	return ret;
}

/**
 * __extent_alloc() - see internal.h. Context: meta_lock held.
 */
int __extent_alloc(struct extent_inode *ei, uint64_t lblk, uint64_t len,
		   struct extent_map *map)
{
	extent_assert_meta_locked(ei->efs);
	if (!(ei->efs->fs->flags & EXT2_FLAG_RW) ||
	    atomic_load(&ei->efs->readonly))
		return -EROFS;
	if (len == 0)
		return -EINVAL;
	if (extent_i_has_extents(ei))
		return alloc_extents(ei, lblk, len, map);
	return alloc_bmap(ei, lblk, len, map);
}

/*
 * ->iomap_begin for buffered writes and zeroing. A hole is allocated
 * (up to the requested length, at most EXTENT_ALLOC_MAX_BYTES) and
 * returned with IOMAP_F_NEW; for IOMAP_ZERO a hole is returned as is.
 * Context: caller holds the inode rwlock exclusively; takes meta_lock.
 */
static int write_iomap_begin(struct iomap_file *file, uint64_t pos,
			     uint64_t length, unsigned int flags,
			     struct iomap *iomap)
{
	struct extent_inode *ei = extent_i(file);
	struct extent_fs *efs = ei->efs;
	uint64_t lblk = pos >> efs->blkbits;
	uint64_t want, cap = EXTENT_ALLOC_MAX_BYTES >> efs->blkbits;
	struct extent_map map;
	bool isnew = false;
	int ret;

	if (length == 0)
		length = 1;
	extent_meta_lock(efs);
	if (extent_i_inline(ei)) {
		/* Callers expand inline data before writing. */
		ret = -EIO;
		goto out_unlock;
	}
	ret = __extent_map(ei, lblk, &map);
	if (ret)
		goto out_unlock;
	if (map.type == IOMAP_HOLE && !(flags & (IOMAP_ZERO | IOMAP_REPORT))) {
		want = (extent_round_up(pos + length, efs->blocksize) >>
			efs->blkbits) - lblk;
		if (want > map.len)
			want = map.len;
		if (want > cap)
			want = cap;
		ret = __extent_alloc(ei, lblk, want, &map);
		if (ret)
			goto out_unlock;
		isnew = true;
	}
	extent_map_to_iomap(ei, &map, iomap);
	if (isnew)
		iomap->flags |= IOMAP_F_NEW;
out_unlock:
	extent_meta_unlock(efs);
	return ret;
}

/*
 * ->iomap_valid: the mapping is current if no block map change happened
 * since it was produced. Context: folio locked; lock-free (atomic load).
 */
static bool write_iomap_valid(struct iomap_file *file,
			      const struct iomap *iomap)
{
	struct extent_inode *ei = extent_i(file);

	return iomap->validity_cookie == atomic_load(&ei->map_seq);
}

static const struct iomap_ops write_iomap_ops = {
	.iomap_begin = write_iomap_begin,
};

static const struct iomap_write_ops write_ops = {
	.iomap_valid = write_iomap_valid,
};

const struct iomap_ops *extent_write_iomap_ops(void)
{
	return &write_iomap_ops;
}

const struct iomap_write_ops *extent_write_ops(void)
{
	return &write_ops;
}
