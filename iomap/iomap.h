/* SPDX-License-Identifier: MIT */
/*
 * iomap/ — the generic buffered-I/O engine of uext4, modelled on Linux
 * fs/iomap: buffered read with readahead, buffered write with per-block
 * read-modify-write, zeroing, writeback into ioends merged by physical
 * contiguity, and SEEK_DATA/SEEK_HOLE — all driven by ops tables that the
 * file system implements (extent/ for ext4).
 *
 * This layer knows nothing of ext4 or libext2fs: it sees files as a cache
 * mapping (cache/), a block device and the mappings its ops tables return.
 * It never changes a file's size: callers pass the current size in and
 * update it from the results.
 *
 * Lock order (DESIGN.md): inode rwlock → folio lock → journal handle →
 * metadata lock. iomap takes folio locks only; ops are called as each
 * member's comment says.
 */
#ifndef UEXT4_IOMAP_H
#define UEXT4_IOMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache.h"

/** IOMAP_NULL_ADDR - @addr of a mapping that has no disk location. */
#define IOMAP_NULL_ADDR UINT64_MAX

/** Mapping types (struct iomap.type). */
enum iomap_type {
	IOMAP_HOLE = 0,	   /* no blocks; reads as zeros; never for a write */
	IOMAP_DELALLOC,	   /* space reserved, blocks allocated at writeback */
	IOMAP_MAPPED,	   /* blocks hold file data */
	IOMAP_UNWRITTEN,   /* blocks allocated, read as zeros until written */
	IOMAP_INLINE,	   /* data lives in @inline_data (inode body) */
};

/** Mapping flags (struct iomap.flags). */
enum {
	IOMAP_F_NEW = 1u << 0,	 /* blocks just allocated for this write */
	IOMAP_F_DIRTY = 1u << 1, /* metadata must be written for fdatasync */
	IOMAP_F_SIZE_CHANGED = 1u << 8, /* set by the engine */
	IOMAP_F_STALE = 1u << 9,	 /* set by the engine: remap */
};

/** Operation flags passed to iomap_ops.iomap_begin(). */
enum {
	IOMAP_WRITE = 1u << 0,	/* buffered write */
	IOMAP_ZERO = 1u << 1,	/* zeroing a range */
	IOMAP_REPORT = 1u << 2, /* seek / fiemap: report only, allocate nothing */
};

/**
 * struct iomap - one contiguous file range and where it lives.
 * @addr:   byte address on the device of @offset, or IOMAP_NULL_ADDR for
 *          HOLE and DELALLOC (and INLINE).
 * @offset: file offset in bytes of the start of the range (block-aligned
 *          except for INLINE).
 * @length: bytes in the range (> 0).
 * @type:   enum iomap_type.
 * @flags:  IOMAP_F_* bits.
 * @inline_data: for INLINE: @length bytes of file data starting at
 *          @offset; owned by the file system until iomap_end().
 * @validity_cookie: value of the file system's mapping sequence number when
 *          this mapping was produced; checked by iomap_write_ops.iomap_valid.
 * @private: file system data carried from begin to end.
 */
struct iomap {
	uint64_t addr;
	uint64_t offset;
	uint64_t length;
	uint16_t type;
	uint16_t flags;
	void *inline_data;
	uint64_t validity_cookie;
	void *private;
};

/**
 * struct iomap_file - what the engine needs to know of one open file.
 * @mapping: the file's folio index in the cache.
 * @bdev:    device the mappings' @addr values refer to.
 * @blkbits: log2 of the file system block size.
 * @private: the file system's inode; ops receive the whole iomap_file.
 * The owner keeps it alive while any iomap call runs on it.
 */
struct iomap_file {
	struct cache_mapping *mapping;
	struct cache_bdev *bdev;
	unsigned int blkbits;
	void *private;
};

/**
 * struct iomap_ops - mapping callbacks for reads, writes and reports.
 *
 * @iomap_begin: required. Map the range starting at @pos (@length is a
 *   hint: the mapping must cover @pos, may be shorter or longer). For
 *   IOMAP_WRITE it must return MAPPED, UNWRITTEN or DELALLOC (allocating
 *   or reserving as its policy says) or an error such as -ENOSPC; for
 *   reads and IOMAP_REPORT it may return any type and allocates nothing.
 *   Called with the inode rwlock held by the caller of the engine, no folio
 *   lock held. Return: 0 or -errno.
 * @iomap_end: optional. Called once per successful begin after the actor,
 *   with @written bytes actually processed (may be less than @length); a
 *   write policy releases here what it set up for bytes not written.
 *   Return: 0 or -errno.
 */
struct iomap_ops {
	int (*iomap_begin)(struct iomap_file *file, uint64_t pos,
			   uint64_t length, unsigned int flags,
			   struct iomap *iomap);
	int (*iomap_end)(struct iomap_file *file, uint64_t pos,
			 uint64_t length, ssize_t written, unsigned int flags,
			 struct iomap *iomap);
};

/**
 * struct iomap_write_ops - extra callbacks of the buffered write path.
 * @iomap_valid: optional. Called with the target folio locked: is @iomap
 *   still current (cookie equal to the inode's mapping sequence number)?
 *   On false the engine marks the mapping STALE, unlocks, and maps again.
 */
struct iomap_write_ops {
	bool (*iomap_valid)(struct iomap_file *file, const struct iomap *iomap);
};

/**
 * struct iomap_writeback_ops - callbacks of writeback.
 *
 * @map_range: required. Give the mapping for the dirty bytes at @pos
 *   (@length is the dirty run the engine wants to write). Must return
 *   MAPPED or UNWRITTEN with a disk address (a DELALLOC range is allocated
 *   here, as long as possible). May allocate; must not fail for lack of
 *   space if the range was reserved. Called with the folio containing @pos
 *   locked. Return: 0 or -errno (the folio then records the error and its
 *   blocks are cleaned, as the kernel does).
 * @end_io: required. Called after the device I/O of a merged ioend
 *   completed (successfully or not) — never from a completion callback, no
 *   folio locked, the folios still under writeback. @type is the ioend's
 *   mapping type (UNWRITTEN ranges must be converted to written) and
 *   @error its result. The file system converts extents and raises the
 *   on-disk size here. Return: 0 or -errno.
 */
struct iomap_writeback_ops {
	int (*map_range)(struct iomap_file *file, uint64_t pos,
			 uint64_t length, struct iomap *iomap);
	int (*end_io)(struct iomap_file *file, uint64_t pos, uint64_t length,
		      unsigned int type, unsigned int flags, int error);
};

/**
 * struct iomap_iter - iteration state, as in the kernel.
 * @file:      the file.
 * @pos:       current file position.
 * @len:       bytes left to process.
 * @processed: set by the actor: bytes done in this iteration (> 0), or
 *             -errno to stop.
 * @flags:     IOMAP_* operation flags.
 * @iomap:     the current mapping.
 */
struct iomap_iter {
	struct iomap_file *file;
	uint64_t pos;
	uint64_t len;
	int64_t processed;
	unsigned int flags;
	struct iomap iomap;
};

/**
 * iomap_iter() - advance the iteration and map the next range.
 *
 * Usage:
 *	struct iomap_iter it = { .file = f, .pos = pos, .len = len };
 *	while ((ret = iomap_iter(&it, ops)) > 0)
 *		it.processed = actor(&it);
 *
 * Calls ->iomap_end for the previous mapping, advances by processed, and
 * ->iomap_begin for the next one, trimming the mapping to the remaining
 * range. Return: 1 = a mapping is ready; 0 = done; -errno = stopped (the
 * actor's error, a begin/end error, or an invalid mapping such as zero
 * length or a range that does not cover @pos, which gives -EIO).
 */
int iomap_iter(struct iomap_iter *iter, const struct iomap_ops *ops);

/**
 * iomap_file_buffered_read() - read @len bytes at @pos into @buf.
 * @isize: the file size; bytes at and past it are not read (the caller
 *         clamps @len; blocks past EOF read as zeros).
 * Misses are read with io_uring in batches (readahead of whole folios
 * ahead of @pos). HOLE, DELALLOC and UNWRITTEN read as zeros.
 * Context: caller holds the inode rwlock shared (or exclusive).
 * Return: bytes read (short only at EOF), or -errno if nothing was read.
 */
ssize_t iomap_file_buffered_read(struct iomap_file *file, uint64_t pos,
				 void *buf, size_t len, uint64_t isize,
				 const struct iomap_ops *ops);

/**
 * iomap_file_buffered_write() - copy @len bytes of @buf into the cache at
 * @pos and mark them dirty.
 * @isize: the file size before the write (blocks at or past it are zeroed
 *         rather than read when partly written).
 * Partly written blocks that are not uptodate are read first, or zeroed if
 * the mapping is HOLE/DELALLOC/UNWRITTEN/NEW or past @isize.
 * Context: caller holds the inode rwlock exclusively and updates the size
 * to max(isize, pos + returned) afterwards.
 * Return: bytes written (short if an error came after some progress), or
 * -errno if nothing was written.
 */
ssize_t iomap_file_buffered_write(struct iomap_file *file, uint64_t pos,
				  const void *buf, size_t len, uint64_t isize,
				  const struct iomap_ops *ops,
				  const struct iomap_write_ops *wops);

/**
 * iomap_zero_range() - make bytes [pos, pos + len) read as zeros through
 * the cache: ranges mapped as HOLE or UNWRITTEN are skipped (already
 * zero), others are zeroed in their folios and marked dirty.
 * Used for the partial blocks around truncate, punch and zero-range.
 * Context: inode rwlock held exclusively.
 * Return: 0 or -errno.
 */
int iomap_zero_range(struct iomap_file *file, uint64_t pos, uint64_t len,
		     uint64_t isize, const struct iomap_ops *ops,
		     const struct iomap_write_ops *wops);

/**
 * iomap_truncate_page() - zero from @pos to the end of its block (the tail
 * of the new last block on truncate). No-op if @pos is block-aligned.
 */
int iomap_truncate_page(struct iomap_file *file, uint64_t pos, uint64_t isize,
			const struct iomap_ops *ops,
			const struct iomap_write_ops *wops);

/**
 * iomap_writeback_range() - write back dirty blocks in [start, end)
 * (end = UINT64_MAX: whole file) and wait for all of it.
 * @isize: blocks at or past the size are not written; they stay dirty
 *         (the size may be older than a write that is extending the
 *         file) until a later pass or a truncate's
 *         cache_mapping_remove_range() removes them.
 *
 * Walks dirty folios in file order, maps each dirty run with ->map_range,
 * builds ioends that grow while file-contiguous and disk-contiguous and of
 * one mapping type, submits them together through the bdev, and after
 * completion calls ->end_io once per merged ioend.
 * Context: no inode rwlock required (the flusher calls it without one);
 * takes folio locks.
 * Return: 0, or the first -errno (the data of failed folios is dropped
 * from the dirty set and the error recorded in folio->error).
 */
int iomap_writeback_range(struct iomap_file *file, uint64_t start,
			  uint64_t end, uint64_t isize,
			  const struct iomap_writeback_ops *wbops);

/**
 * iomap_seek_data() / iomap_seek_hole() - SEEK_DATA / SEEK_HOLE from @pos.
 * Ranges mapped MAPPED, DELALLOC or INLINE are data; HOLE is a hole;
 * UNWRITTEN is a hole except where the cache holds dirty or uptodate
 * blocks (as the kernel reports page-cache data in unwritten extents).
 * Return: the offset, -ENXIO (no data at or after @pos, or @pos >= isize),
 * or -errno.
 */
int64_t iomap_seek_data(struct iomap_file *file, uint64_t pos, uint64_t isize,
			const struct iomap_ops *ops);
int64_t iomap_seek_hole(struct iomap_file *file, uint64_t pos, uint64_t isize,
			const struct iomap_ops *ops);

#endif /* UEXT4_IOMAP_H */
