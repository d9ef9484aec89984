/* SPDX-License-Identifier: MIT */
/*
 * extent/map.c — lookup of a file's block map, turned into struct iomap
 * for the read and report (SEEK_DATA/SEEK_HOLE) paths.
 *
 *   extent files:      one extent → one MAPPED or UNWRITTEN mapping; a gap
 *                      between extents → one HOLE up to the next extent.
 *   block-mapped files: ext2fs_bmap2() per block, contiguous blocks (or
 *                      holes) coalesced up to EXTENT_BMAP_SCAN blocks.
 *   inline-data files: IOMAP_INLINE over a copy of the inode's data.
 *
 * Everything read from disk is checked before it is used: an extent that
 * points outside the file system, is empty or breaks the logical order
 * gives -EUCLEAN and marks the file system in error — never a wild I/O.
 * This file allocates nothing (alloc.c does).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Blocks examined per call for block-mapped files. */
#define EXTENT_BMAP_SCAN 1024u

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return blen && a < b + blen && b < a + alen;
}

/* Flex groups on hostile images are bounded; real ones are 16..1024. */
#define EXTENT_MAX_FLEX_CHECK 1024u

/*
 * Does [pblk, pblk + len) overlap file system metadata: superblock and
 * descriptor copies of the groups it touches, and block/inode bitmaps and
 * inode tables of every group in those groups' flex groups (where mke2fs
 * and resize2fs place them)? Like the kernel's block_validity, so that a
 * damaged extent never makes writeback overwrite metadata.
 * Context: meta_lock held.
 */
static bool hits_metadata(ext2_filsys fs, uint64_t pblk, uint64_t len)
{
	struct ext2_super_block *sb = fs->super;
	dgrp_t g, h, first = ext2fs_group_of_blk2(fs, pblk);
	dgrp_t last = ext2fs_group_of_blk2(fs, pblk + len - 1);
	unsigned int flex = 1;
	blk64_t sblk, old_desc, new_desc;
	blk_t used;

	if (ext2fs_has_feature_flex_bg(sb) && sb->s_log_groups_per_flex < 31)
		flex = 1u << sb->s_log_groups_per_flex;
	if (flex > EXTENT_MAX_FLEX_CHECK)
		flex = EXTENT_MAX_FLEX_CHECK;
	for (g = first; g <= last && g < fs->group_desc_count; g++) {
		dgrp_t fstart = g - g % flex;

		if (!ext2fs_super_and_bgd_loc2(fs, g, &sblk, &old_desc,
					       &new_desc, &used)) {
			if (overlaps(pblk, len, ext2fs_group_first_block2(fs, g),
				     used))
				return true;
			if (new_desc && overlaps(pblk, len, new_desc, 1))
				return true;
		}
		for (h = fstart; h < fstart + flex && h < fs->group_desc_count;
		     h++) {
			if (overlaps(pblk, len, ext2fs_block_bitmap_loc(fs, h), 1) ||
			    overlaps(pblk, len, ext2fs_inode_bitmap_loc(fs, h), 1) ||
			    overlaps(pblk, len, ext2fs_inode_table_loc(fs, h),
				     fs->inode_blocks_per_group))
				return true;
		}
	}
	return false;
}

/* Range check only (cheap): inside the file system, sane logical range. */
static bool range_ok(struct extent_inode *ei, uint64_t lblk, uint64_t pblk,
		     uint64_t len)
{
	struct ext2_super_block *sb = ei->efs->fs->super;
	uint64_t nblocks = ext2fs_blocks_count(sb);

	return len != 0 && pblk > sb->s_first_data_block && pblk < nblocks &&
	       len <= nblocks - pblk && lblk < EXTENT_MAX_LBLK &&
	       len <= EXTENT_MAX_LBLK - lblk;
}

/**
 * __extent_check_range() - see internal.h. Context: meta_lock held.
 */
int __extent_check_range(struct extent_inode *ei, uint64_t lblk,
			 uint64_t pblk, uint64_t len)
{
	struct extent_fs *efs = ei->efs;

	if (!range_ok(ei, lblk, pblk, len)) {
		extent_fs_error(efs, ei->ino, -EUCLEAN,
				"extent points outside the file system");
		return -EUCLEAN;
	}
	if (hits_metadata(efs->fs, pblk, len)) {
		extent_fs_error(efs, ei->ino, -EUCLEAN,
				"extent overlaps file system metadata");
		return -EUCLEAN;
	}
	return 0;
}

static bool not_found(errcode_t err)
{
	return err == EXT2_ET_EXTENT_NOT_FOUND ||
	       err == EXT2_ET_EXTENT_NO_NEXT ||
	       err == EXT2_ET_NO_CURRENT_NODE ||
	       err == EXT2_ET_EXTENT_NO_PREV;
}

/*
 * Move from the current leaf extent to the next one in logical order, in
 * this leaf or the first of the next leaf. EXT2_EXTENT_NEXT_LEAF is not
 * usable after a goto: it walks by "visit" state that goto does not set
 * and may descend into the same leaf again. Go up until a level has a next
 * sibling, then down along first entries.
 */
static errcode_t next_leaf_extent(ext2_extent_handle_t h,
				  struct ext2fs_extent *ext)
{
	struct ext2_extent_info info;
	errcode_t err;

	for (;;) {
		err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT_SIB, ext);
		if (err != EXT2_ET_EXTENT_NO_NEXT)
			break;
		err = ext2fs_extent_get(h, EXT2_EXTENT_UP, ext);
		if (err == EXT2_ET_EXTENT_NO_UP)
			return EXT2_ET_EXTENT_NO_NEXT;
		if (err)
			return err;
	}
	if (err)
		return err;
	for (;;) {
		err = ext2fs_extent_get_info(h, &info);
		if (err)
			return err;
		if (info.curr_level >= info.max_depth)
			break;
		err = ext2fs_extent_get(h, EXT2_EXTENT_DOWN, ext);
		if (err)
			return err;
	}
	if (!(ext->e_flags & EXT2_EXTENT_FLAGS_LEAF) || info.num_entries == 0)
		return EXT2_ET_EXTENT_LEAF_BAD;
	return 0;
}

/*
 * Map @lblk in an extent tree. The handle is left wherever the lookup
 * ended. Context: meta_lock held.
 */
static int map_extents(struct extent_inode *ei, ext2_extent_handle_t h,
		       uint64_t lblk, struct extent_map *map)
{
	struct extent_fs *efs = ei->efs;
	struct ext2fs_extent ext;
	errcode_t err;
	int ret;

	err = ext2fs_extent_goto2(h, 0, lblk);
	if (err == 0) {
		err = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ext);
		if (err)
			return extent_errcode(efs, ei->ino, err);
		ret = __extent_check_range(ei, ext.e_lblk, ext.e_pblk,
					   ext.e_len);
		if (ret)
			return ret;
		map->lblk = ext.e_lblk;
		map->len = ext.e_len;
		map->pblk = ext.e_pblk;
		map->type = (ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT) ?
				    IOMAP_UNWRITTEN : IOMAP_MAPPED;
		return 0;
	}
	if (!not_found(err))
		return extent_errcode(efs, ei->ino, err);

	/* A hole: find where the next extent starts. */
	map->lblk = lblk;
	map->pblk = 0;
	map->type = IOMAP_HOLE;
	map->len = EXTENT_MAX_LBLK - lblk;

	err = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ext);
	if (not_found(err))
		return 0; /* empty tree */
	if (err)
		return extent_errcode(efs, ei->ino, err);
	if (!(ext.e_flags & EXT2_EXTENT_FLAGS_LEAF))
		goto out_corrupt;
	if (ext.e_lblk <= lblk) {
		/* The extent before @lblk; it must end at or before it. */
		if (ext.e_lblk + (uint64_t)ext.e_len > lblk)
			goto out_corrupt;
		err = next_leaf_extent(h, &ext);
		if (err == EXT2_ET_EXTENT_NO_NEXT)
			return 0; /* hole to the end */
		if (err)
			return extent_errcode(efs, ei->ino, err);
		if (ext.e_lblk <= lblk)
			goto out_corrupt;
	}
	map->len = ext.e_lblk - lblk;
	return 0;

out_corrupt:
	extent_fs_error(efs, ei->ino, -EUCLEAN, "extents out of order");
	return -EUCLEAN;
}

/* Map @lblk in a block-mapped (ext2/ext3) file. Context: meta_lock held. */
static int map_bmap(struct extent_inode *ei, struct ext2_inode_large *inode,
		    uint64_t lblk, struct extent_map *map)
{
	struct extent_fs *efs = ei->efs;
	uint64_t maxblk = extent_inode_maxbytes(ei) >> efs->blkbits;
	char *buf;
	uint64_t i;
	errcode_t err;
	int ret = 0;

	if (lblk >= maxblk) {
		map->lblk = lblk;
		map->len = EXTENT_MAX_LBLK > lblk ? EXTENT_MAX_LBLK - lblk : 1;
		map->pblk = 0;
		map->type = IOMAP_HOLE;
		return 0;
	}
	err = ext2fs_get_array(2, efs->blocksize, &buf);
	if (err)
		return -ENOMEM;
	map->lblk = lblk;
	map->len = 0;
	map->pblk = 0;
	map->type = IOMAP_HOLE;
	for (i = 0; i < EXTENT_BMAP_SCAN && lblk + i < maxblk; i++) {
		blk64_t pblk = 0;

		err = ext2fs_bmap2(efs->fs, ei->ino, (struct ext2_inode *)inode,
				   buf, 0, lblk + i, NULL, &pblk);
		if (err) {
			if (i > 0)
				break;
			ret = extent_errcode(efs, ei->ino, err);
			goto out_free;
		}
		if (pblk && !range_ok(ei, lblk + i, pblk, 1)) {
			ret = __extent_check_range(ei, lblk + i, pblk, 1);
			goto out_free;
		}
		if (i == 0) {
			map->type = pblk ? IOMAP_MAPPED : IOMAP_HOLE;
			map->pblk = pblk;
		} else if (map->type == IOMAP_HOLE ? pblk != 0 :
			   pblk != map->pblk + i) {
			break;
		}
		map->len++;
	}
	if (map->type == IOMAP_MAPPED)
		ret = __extent_check_range(ei, map->lblk, map->pblk, map->len);
out_free:
	ext2fs_free_mem(&buf);
	return ret;
}

/**
 * __extent_map() - see internal.h. Context: meta_lock held.
 */
int __extent_map(struct extent_inode *ei, uint64_t lblk,
		 struct extent_map *map)
{
	struct extent_fs *efs = ei->efs;
	struct ext2_inode_large inode;
	ext2_extent_handle_t h;
	errcode_t err;
	int ret;

	extent_assert_meta_locked(efs);
	if (lblk >= EXTENT_MAX_LBLK)
		return -EFBIG;
	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	if (!(inode.i_flags & EXT4_EXTENTS_FL))
		return map_bmap(ei, &inode, lblk, map);

	err = ext2fs_extent_open2(efs->fs, ei->ino, (struct ext2_inode *)&inode,
				  &h);
	if (err)
		return extent_errcode(efs, ei->ino, err);
	ret = map_extents(ei, h, lblk, map);
	ext2fs_extent_free(h);
	return ret;
}

/**
 * extent_map_to_iomap() - see internal.h.
 */
void extent_map_to_iomap(struct extent_inode *ei, const struct extent_map *map,
			 struct iomap *iomap)
{
	unsigned int bits = ei->efs->blkbits;

	memset(iomap, 0, sizeof(*iomap));
	iomap->offset = map->lblk << bits;
	iomap->length = map->len << bits;
	iomap->type = map->type;
	if (map->type == IOMAP_MAPPED || map->type == IOMAP_UNWRITTEN)
		iomap->addr = map->pblk << bits;
	else
		iomap->addr = IOMAP_NULL_ADDR;
	iomap->validity_cookie = atomic_load(&ei->map_seq);
}

/*
 * Inline data: a copy of the inode's bytes, owned by the mapping until
 * ->iomap_end frees it (iomap->private). Context: meta_lock held.
 */
static int map_inline(struct extent_inode *ei, uint64_t pos,
		      struct iomap *iomap)
{
	struct extent_fs *efs = ei->efs;
	size_t size = 0;
	void *buf;
	int ret;

	ret = __extent_inline_get(ei, &buf, &size);
	if (ret)
		return ret;
	memset(iomap, 0, sizeof(*iomap));
	iomap->validity_cookie = atomic_load(&ei->map_seq);
	if (pos >= size) {
		free(buf);
		iomap->offset = pos & ~((uint64_t)efs->blocksize - 1);
		iomap->length = (EXTENT_MAX_LBLK << efs->blkbits) -
				iomap->offset;
		iomap->type = IOMAP_HOLE;
		iomap->addr = IOMAP_NULL_ADDR;
		return 0;
	}
	iomap->offset = 0;
	iomap->length = size;
	iomap->type = IOMAP_INLINE;
	iomap->addr = IOMAP_NULL_ADDR;
	iomap->inline_data = buf;
	iomap->private = buf;
	return 0;
}

/*
 * ->iomap_begin for reads and reports: never allocates.
 * Context: caller holds the inode rwlock; takes meta_lock.
 */
static int read_iomap_begin(struct iomap_file *file, uint64_t pos,
			    uint64_t length, unsigned int flags,
			    struct iomap *iomap)
{
	struct extent_inode *ei = extent_i(file);
	struct extent_fs *efs = ei->efs;
	struct extent_map map;
	int ret;

	(void)length;
	(void)flags;
	extent_meta_lock(efs);
	if (extent_i_inline(ei)) {
		ret = map_inline(ei, pos, iomap);
		goto out_unlock;
	}
	ret = __extent_map(ei, pos >> efs->blkbits, &map);
	if (ret == 0)
		extent_map_to_iomap(ei, &map, iomap);
out_unlock:
	extent_meta_unlock(efs);
	return ret;
}

static int read_iomap_end(struct iomap_file *file, uint64_t pos,
			  uint64_t length, ssize_t written, unsigned int flags,
			  struct iomap *iomap)
{
	(void)file;
	(void)pos;
	(void)length;
	(void)written;
	(void)flags;
	if (iomap->type == IOMAP_INLINE) {
		free(iomap->private);
		iomap->private = NULL;
		iomap->inline_data = NULL;
	}
	return 0;
}

static const struct iomap_ops read_iomap_ops = {
	.iomap_begin = read_iomap_begin,
	.iomap_end = read_iomap_end,
};

static const struct iomap_ops report_iomap_ops = {
	.iomap_begin = read_iomap_begin,
	.iomap_end = read_iomap_end,
};

const struct iomap_ops *extent_read_iomap_ops(void)
{
	return &read_iomap_ops;
}

const struct iomap_ops *extent_report_iomap_ops(void)
{
	return &report_iomap_ops;
}
