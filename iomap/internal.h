/* SPDX-License-Identifier: MIT */
/*
 * iomap/internal.h — declarations shared by the files of the iomap engine
 * and private to it: folio geometry, per-block bitmap helpers, the read
 * batch (bios that fill missing blocks of locked folios, submitted as one
 * io_uring batch) and the writeback context with its ioends.
 *
 * Nothing here is visible outside iomap/; the public contract is iomap.h.
 */
#ifndef UEXT4_IOMAP_INTERNAL_H
#define UEXT4_IOMAP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "iomap.h"

/**
 * IOMAP_WARN_ONCE() - log a broken internal invariant once per call site;
 * evaluates to the condition so that callers can return -EIO.
 */
#define IOMAP_WARN_ONCE(cond, msg)                                          \
	({                                                                  \
		static int iomap_warned_;                                   \
		bool iomap_c_ = (cond);                                     \
		if (iomap_c_ && !__atomic_exchange_n(&iomap_warned_, 1,     \
						     __ATOMIC_RELAXED))     \
			fprintf(stderr, "uext4: iomap: %s (%s:%d)\n", msg,  \
				__FILE__, __LINE__);                        \
		iomap_c_;                                                   \
	})

/**
 * struct iomap_geom - block and folio sizes of one file, derived once per
 * call from the iomap_file and its mapping.
 * @blkbits:  log2 of the block size.
 * @fshift:   log2 of the folio size.
 * @bsize:    block size in bytes.
 * @fsize:    folio size in bytes.
 * @bpf:      blocks per folio (1..CACHE_MAX_FOLIO_BLOCKS).
 */
struct iomap_geom {
	unsigned int blkbits;
	unsigned int fshift;
	uint64_t bsize;
	uint64_t fsize;
	unsigned int bpf;
};

void iomap_geom_init(const struct iomap_file *file, struct iomap_geom *g);

/** iomap_bits() - mask of @nr bits starting at bit @first (nr ≥ 1). */
static inline uint64_t iomap_bits(unsigned int first, unsigned int nr)
{
	uint64_t m = nr >= 64 ? UINT64_MAX : ((UINT64_C(1) << nr) - 1);

	return m << first;
}

/** iomap_folio_pos() - file offset of the first byte of @folio. */
static inline uint64_t iomap_folio_pos(const struct iomap_geom *g,
				       const struct cache_folio *folio)
{
	return folio->index << g->fshift;
}

/**
 * iomap_block_needs_zeroing() - a block that is not uptodate must be
 * zero-filled rather than read when the mapping holds no data for it
 * (anything but MAPPED), the blocks were just allocated (NEW), or the
 * block starts at or past the file size.
 */
static inline bool iomap_block_needs_zeroing(const struct iomap *iomap,
					     uint64_t block_pos, uint64_t isize)
{
	return iomap->type != IOMAP_MAPPED || (iomap->flags & IOMAP_F_NEW) ||
	       block_pos >= isize;
}

/**
 * iomap_map_addr() - device address of file offset @pos inside @iomap.
 */
static inline uint64_t iomap_map_addr(const struct iomap *iomap, uint64_t pos)
{
	return iomap->addr + (pos - iomap->offset);
}

/** iomap_map_end() - first file offset past @iomap (saturating). */
static inline uint64_t iomap_map_end(const struct iomap *iomap)
{
	if (iomap->length > UINT64_MAX - iomap->offset)
		return UINT64_MAX;
	return iomap->offset + iomap->length;
}

/* ------------------------------------------------------------------------ */
/* Read batch (buffered_read.c): reads of missing blocks of locked folios.  */
/* ------------------------------------------------------------------------ */

/**
 * struct iomap_readbatch - bios that fill blocks of folios the caller holds
 * locked, coalesced while memory and disk are contiguous, submitted in one
 * cache_bdev_submit().
 * @bios:      the bios.
 * @folio:     folio of each bio.
 * @nr, @cap:  used and allocated entries.
 */
struct iomap_readbatch {
	struct cache_bio *bios;
	struct cache_folio **folio;
	unsigned int nr;
	unsigned int cap;
};

int iomap_readbatch_add(struct iomap_readbatch *rb,
			const struct iomap_geom *g, struct cache_folio *folio,
			unsigned int block, uint64_t addr);
int iomap_readbatch_submit(struct iomap_file *file,
			   const struct iomap_geom *g,
			   struct iomap_readbatch *rb, uint64_t isize);
void iomap_readbatch_release(struct iomap_readbatch *rb);

/* Buffered write (buffered_write.c), also used by zero.c. */
int64_t iomap_write_iter(struct iomap_iter *iter, const void *src,
			 uint64_t isize, const struct iomap_write_ops *wops);

/* ------------------------------------------------------------------------ */
/* Writeback (writeback.c, ioend.c).                                        */
/* ------------------------------------------------------------------------ */

/** IOMAP_IOEND_MAX - an ioend stops growing at this many bytes. */
#define IOMAP_IOEND_MAX (UINT64_C(8) << 20)
/** A batch of ioends is submitted once it holds this many bytes or bios. */
#define IOMAP_WB_BATCH_BYTES (UINT64_C(64) << 20)
#define IOMAP_WB_BATCH_BIOS 1024u

/**
 * struct iomap_ioend - a file range written by contiguous device I/O.
 * @pos, @len: file range.
 * @addr:      device address of @pos.
 * @type:      IOMAP_MAPPED or IOMAP_UNWRITTEN.
 * @flags:     mapping flags (IOMAP_F_NEW, IOMAP_F_DIRTY).
 * @error:     first bio error, or 0.
 */
struct iomap_ioend {
	uint64_t pos;
	uint64_t len;
	uint64_t addr;
	uint16_t type;
	uint16_t flags;
	int error;
};

/**
 * struct iomap_wb_bio - which ioend and which folio slot a bio belongs to.
 */
struct iomap_wb_bio {
	unsigned int ioend;
	unsigned int slot;
};

/**
 * struct iomap_wb_folio - a folio under writeback in the current batch.
 * @folio: referenced; the reference is dropped when the batch completes.
 * @error: the folio's I/O result (recorded in folio->error if non-zero).
 */
struct iomap_wb_folio {
	struct cache_folio *folio;
	int error;
};

/**
 * struct iomap_wb_ctx - state of one iomap_writeback_range() call. Owned
 * by the calling thread; nothing in it is shared.
 * @file, @ops, @g, @isize: the call's arguments.
 * @map, @map_valid:   the last mapping from ->map_range, reused while
 *                     dirty runs fall inside it.
 * @ioends:            ioends of the current batch, in file order.
 * @bios:              bios of the batch (one array, as submitted);
 *                     @bio_info gives each bio's ioend and folio slot.
 * @folios:            folios under writeback in the batch.
 * @batch_bytes:       bytes queued in the batch.
 * @first_error:       first error of the whole call.
 */
struct iomap_wb_ctx {
	struct iomap_file *file;
	const struct iomap_writeback_ops *ops;
	struct iomap_geom g;
	uint64_t isize;

	struct iomap map;
	bool map_valid;

	struct iomap_ioend *ioends;
	unsigned int nr_ioends, cap_ioends;

	struct cache_bio *bios;
	unsigned int nr_bios, cap_bios;
	struct iomap_wb_bio *bio_info;
	unsigned int cap_bio_info;

	struct iomap_wb_folio *folios;
	unsigned int nr_folios, cap_folios;

	uint64_t batch_bytes;
	int first_error;
};

int iomap_wb_add_folio(struct iomap_wb_ctx *ctx, struct cache_folio *folio,
		       unsigned int *slot);
int iomap_ioend_add(struct iomap_wb_ctx *ctx, unsigned int slot,
		    unsigned int block, uint64_t pos, uint64_t len);
int iomap_wb_submit(struct iomap_wb_ctx *ctx);
void iomap_wb_release(struct iomap_wb_ctx *ctx);
void iomap_wb_record_error(struct iomap_wb_ctx *ctx, int err);

#endif /* UEXT4_IOMAP_INTERNAL_H */
