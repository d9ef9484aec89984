/* SPDX-License-Identifier: MIT */
/*
 * extent/internal.h — what the files of extent/ share and nobody else sees:
 * the in-memory form of one mapping (struct extent_map), the lookup and
 * allocation primitives under the metadata lock, on-disk inode helpers and
 * the accessors of the static ops tables each file keeps.
 *
 * Files (one job each):
 *   fs.c        init, ops tables, errcode table, fs_error, sync_metadata
 *   inode.c     extent_inode init/destroy, on-disk inode read/write, size
 *   map.c       block map lookup (extents, bmap, inline) → struct iomap
 *   alloc.c     allocation of unwritten extents / block-mapped blocks
 *   convert.c   unwritten → written, i_disksize; writeback ops
 *   inline.c    inline-data read and conversion to a block-mapped body
 *   io.c        extent_read/write/writeback/fsync
 *   truncate.c, fallocate.c, seek.c
 *
 * Naming: a "__" prefix means "caller holds efs->meta_lock".
 */
#ifndef UEXT4_EXTENT_INTERNAL_H
#define UEXT4_EXTENT_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <stddef.h>

#include "extent.h"

/* extent_inode.iflags bits. */
#define EXTENT_IFLAG_EXTENTS (1u << 0)
#define EXTENT_IFLAG_INLINE (1u << 1)

/* Largest logical block + 1 an extent tree can address (ee_block is 32 bit). */
#define EXTENT_MAX_LBLK ((uint64_t)1 << 32)
/* Largest length of one written / unwritten extent. */
#define EXTENT_INIT_MAX_LEN 32768u
#define EXTENT_UNINIT_MAX_LEN 32767u
/* Cap of one allocation made by a write mapping (bytes). */
#define EXTENT_ALLOC_MAX_BYTES ((uint64_t)128 << 20)

/**
 * struct extent_map - one run of logical blocks and what backs it.
 * @lblk:  first logical block.
 * @len:   number of blocks (> 0).
 * @pblk:  first physical block (MAPPED/UNWRITTEN), else 0.
 * @type:  IOMAP_HOLE, IOMAP_MAPPED or IOMAP_UNWRITTEN.
 */
struct extent_map {
	uint64_t lblk;
	uint64_t len;
	uint64_t pblk;
	unsigned int type;
};

static inline struct extent_inode *extent_i(struct iomap_file *file)
{
	return file->private;
}

static inline uint64_t extent_round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static inline bool extent_i_has_extents(struct extent_inode *ei)
{
	return atomic_load(&ei->iflags) & EXTENT_IFLAG_EXTENTS;
}

static inline bool extent_i_inline(struct extent_inode *ei)
{
	return atomic_load(&ei->iflags) & EXTENT_IFLAG_INLINE;
}

/* ---- fs.c -------------------------------------------------------------- */


/** extent_assert_meta_locked() - debug check that meta_lock is held. */
void extent_assert_meta_locked(struct extent_fs *efs);

/* ---- inode.c ----------------------------------------------------------- */

/** __extent_read_inode()/__extent_write_inode() - full on-disk inode. */
int __extent_read_inode(struct extent_inode *ei,
			struct ext2_inode_large *inode);
int __extent_write_inode(struct extent_inode *ei,
			 struct ext2_inode_large *inode);

/**
 * __extent_set_disk_size() - read-modify-write i_size of the on-disk inode
 * to @size and set ei->disksize. Context: meta_lock held.
 */
int __extent_set_disk_size(struct extent_inode *ei, uint64_t size);

/**
 * __extent_add_blocks() - charge (@delta > 0) or credit data blocks to
 * i_blocks of the on-disk inode (read-modify-write). Context: meta_lock.
 */
int __extent_add_blocks(struct extent_inode *ei, int64_t delta);

/* ---- map.c ------------------------------------------------------------- */

/**
 * __extent_map() - what backs logical block @lblk: the extent (or the run
 * of contiguous block-mapped blocks) containing it, or the hole up to the
 * next mapped block. Every extent is validated (-EUCLEAN and the file
 * system marked in error when it points outside the file system or breaks
 * the logical order). Context: meta_lock held.
 */
int __extent_map(struct extent_inode *ei, uint64_t lblk,
		 struct extent_map *map);

/** extent_map_to_iomap() - fill @iomap from @map. */
void extent_map_to_iomap(struct extent_inode *ei, const struct extent_map *map,
			 struct iomap *iomap);

/**
 * __extent_check_range() - is [pblk, pblk + len) a valid data range?
 * Return: 0 or -EUCLEAN (file system marked in error).
 */
int __extent_check_range(struct extent_inode *ei, uint64_t lblk,
			 uint64_t pblk, uint64_t len);

const struct iomap_ops *extent_read_iomap_ops(void);
const struct iomap_ops *extent_report_iomap_ops(void);

/* ---- alloc.c ----------------------------------------------------------- */

/**
 * __extent_alloc() - allocate up to @len blocks for the hole starting at
 * @lblk (the caller guarantees [lblk, lblk + len) is a hole): an unwritten
 * extent near the previous extent for extent files, mapped blocks for
 * block-mapped files. Charges i_blocks, bumps map_seq. Fills @map with
 * what was allocated (possibly fewer blocks). Context: meta_lock held.
 * Return: 0, -ENOSPC when nothing could be allocated, or -errno.
 */
int __extent_alloc(struct extent_inode *ei, uint64_t lblk, uint64_t len,
		   struct extent_map *map);

const struct iomap_ops *extent_write_iomap_ops(void);
const struct iomap_write_ops *extent_write_ops(void);

/* ---- convert.c --------------------------------------------------------- */

/**
 * __extent_convert() - turn the unwritten extents in [lblk, lblk + len)
 * into written ones, splitting at the edges. Context: meta_lock held.
 */
int __extent_convert(struct extent_inode *ei, uint64_t lblk, uint64_t len);

const struct iomap_writeback_ops *extent_writeback_ops(void);

/* ---- truncate.c -------------------------------------------------------- */

/**
 * __extent_punch_blocks() - free logical blocks [first, last] (inclusive;
 * last = ~0 for "to the end") with ext2fs_punch; bumps map_seq.
 * The cached data must have been removed first. Context: meta_lock held.
 */
int __extent_punch_blocks(struct extent_inode *ei, uint64_t first,
			  uint64_t last);

/**
 * extent_zero_range() - make bytes [pos, pos + len) read as zeros through
 * the cache, as ext4 zeroes the partial blocks of truncate, punch and zero
 * range (ext4_block_zero_page_range): holes, and unwritten blocks without
 * dirty cached data, already read as zeros and are left alone;
 * mapped blocks and unwritten blocks with dirty cached data get zeros written
 * through the cache (so they become dirty data, the rest of the block
 * kept). Never allocates.
 * Context: rwlock held exclusively; meta_lock not held.
 */
int extent_zero_range(struct extent_inode *ei, uint64_t pos, uint64_t len,
		      uint64_t isize);

/* ---- inline.c ---------------------------------------------------------- */

/**
 * __extent_inline_get() - a malloc'd copy of inline-data file @ei's bytes
 * (*@sizep of them; free() it). Context: meta_lock held.
 * Return: 0 or -errno.
 */
int __extent_inline_get(struct extent_inode *ei, void **bufp, size_t *sizep);

/**
 * extent_inline_read() - read from an inline-data file's inode.
 * Context: rwlock held; takes meta_lock.
 */
ssize_t extent_inline_read(struct extent_inode *ei, uint64_t pos, void *buf,
			   size_t len);

/**
 * extent_inline_expand() - move an inline-data file's bytes into the cache
 * (allocating blocks like any write) and turn the inode into an extent
 * (or block-mapped) file. No-op for other files.
 * Context: rwlock held exclusively; meta_lock not held.
 */
int extent_inline_expand(struct extent_inode *ei);

#endif /* UEXT4_EXTENT_INTERNAL_H */
