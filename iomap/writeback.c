/* SPDX-License-Identifier: MIT */
/*
 * iomap/writeback.c — writeback of dirty folios (Linux
 * fs/iomap/buffered-io.c, iomap_writepages and iomap_writeback_folio).
 *
 * Dirty folios are taken in index order, a batch of lookups at a time. Each
 * one is locked; dirty blocks at or past the file size are skipped (see
 * below); every run of dirty blocks is mapped with ->map_range,
 * reusing the last mapping while the run stays inside it, and appended to
 * the ioends of the current batch (ioend.c). The folio's dirty bits are
 * cleared and it goes under writeback before it is unlocked. Batches are
 * submitted when they grow large, before waiting on a folio that another
 * writeback has in flight, and at the end.
 *
 * Only whole blocks are written. Bytes past the size inside the last block
 * are written as the folio holds them: the write, read and zero paths keep
 * them zero.
 *
 * Blocks past the size: they are not written and keep their dirty bits.
 * The size is sampled once by the caller, without the inode rwlock (the
 * flusher cannot take it), so it can be older than the folios we find:
 *
 *	writeback                       write extending the file
 *	isize = size (S)
 *	                                lock folio, copy at S, mark dirty,
 *	                                unlock; size = S + n
 *	lock folio: block at S is
 *	"past the size"
 *
 * Dropping the dirty bits there (as the kernel may, whose i_size changes
 * under the folio lock) would lose the write. They are written by a later
 * pass; blocks that really lie beyond a truncate are discarded by the
 * truncate itself (cache_mapping_remove_range()).
 *
 * Deadlock freedom: folios under writeback in our own unsubmitted batch
 * have lower indexes than the folio we are at. Before waiting for another
 * thread's writeback we submit our batch, so we never wait while holding
 * unsubmitted writeback that the other thread could be waiting for.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define IOMAP_WB_LOOKUP 16u

/* Is ctx->map usable for @pos? */
static bool iomap_wb_map_covers(const struct iomap_wb_ctx *ctx, uint64_t pos)
{
	return ctx->map_valid && pos >= ctx->map.offset &&
	       pos < iomap_map_end(&ctx->map);
}

/* Ask the file system for the mapping of the dirty run at @pos. */
static int iomap_wb_map(struct iomap_wb_ctx *ctx, uint64_t pos, uint64_t len)
{
	struct iomap *m = &ctx->map;
	int ret;

	ctx->map_valid = false;
	memset(m, 0, sizeof(*m));
	ret = ctx->ops->map_range(ctx->file, pos, len, m);
	if (ret < 0)
		return ret;
	if (IOMAP_WARN_ONCE((m->type != IOMAP_MAPPED &&
			     m->type != IOMAP_UNWRITTEN) ||
				    m->addr == IOMAP_NULL_ADDR ||
				    m->length == 0 || m->offset > pos ||
				    iomap_map_end(m) <= pos ||
				    ((m->offset | m->addr) & (ctx->g.bsize - 1)),
			    "invalid mapping from map_range"))
		return -EIO;
	ctx->map_valid = true;
	return 0;
}

/*
 * Queue the dirty blocks @mask of a locked folio. Returns true if any block
 * was queued (the folio then belongs to the batch). Blocks that could not be
 * mapped are dropped with the error recorded.
 */
static bool iomap_wb_queue_blocks(struct iomap_wb_ctx *ctx,
				  struct cache_folio *folio, uint64_t mask)
{
	const struct iomap_geom *g = &ctx->g;
	uint64_t fpos = iomap_folio_pos(g, folio);
	unsigned int slot = 0, b = 0;
	bool added = false;
	int err = 0;

	while (b < g->bpf && !err) {
		unsigned int e;
		uint64_t pos, end;

		if (!(mask & iomap_bits(b, 1))) {
			b++;
			continue;
		}
		for (e = b + 1; e < g->bpf && (mask & iomap_bits(e, 1)); e++)
			;
		pos = fpos + ((uint64_t)b << g->blkbits);
		end = fpos + ((uint64_t)e << g->blkbits);
		while (pos < end) {
			uint64_t n;

			if (!iomap_wb_map_covers(ctx, pos)) {
				err = iomap_wb_map(ctx, pos, end - pos);
				if (err)
					break;
			}
			n = iomap_map_end(&ctx->map) - pos;
			if (n > end - pos)
				n = end - pos;
			if (!added) {
				err = iomap_wb_add_folio(ctx, folio, &slot);
				if (err)
					break;
				added = true;
			}
			err = iomap_ioend_add(ctx, slot,
					      (unsigned int)((pos - fpos) >>
							     g->blkbits),
					      pos, n);
			if (err)
				break;
			pos += n;
		}
		b = e;
	}
	if (err) {
		folio->error = err;
		iomap_wb_record_error(ctx, err);
	}
	return added;
}

/* Clear the dirty bits of @mask, one run of blocks at a time. */
static void iomap_clear_dirty_mask(struct cache_folio *folio, uint64_t mask)
{
	unsigned int b = 0;

	while (mask >> b) {
		unsigned int e;

		if (!(mask & iomap_bits(b, 1))) {
			b++;
			continue;
		}
		for (e = b + 1; e < 64 && (mask & iomap_bits(e, 1)); e++)
			;
		cache_folio_clear_dirty(folio, b, e - b);
		b = e;
		if (b >= 64)
			break;
	}
}

/*
 * Write back one folio. Takes over the caller's reference.
 * Context: no folio lock held.
 */
static void iomap_wb_folio(struct iomap_wb_ctx *ctx, struct cache_folio *folio)
{
	const struct iomap_geom *g = &ctx->g;
	uint64_t fpos = iomap_folio_pos(g, folio);
	uint64_t dirty;

	cache_folio_lock(folio);
	if (cache_folio_under_writeback(folio)) {
		cache_folio_unlock(folio);
		iomap_wb_submit(ctx);
		cache_folio_lock(folio);
		cache_folio_wait_writeback(folio);
	}
	/*
	 * Blocks starting at or past the size are not written, and stay dirty:
	 * see "Blocks past the size" above.
	 */
	dirty = folio->dirty;
	if (fpos + g->fsize > ctx->isize) {
		unsigned int first = 0;

		if (ctx->isize > fpos)
			first = (unsigned int)((ctx->isize - fpos + g->bsize - 1) >>
					       g->blkbits);
		if (first < g->bpf)
			dirty &= ~iomap_bits(first, g->bpf - first);
	}
	if (!dirty) {
		cache_folio_unlock(folio);
		cache_folio_put(folio);
		return;
	}
	if (iomap_wb_queue_blocks(ctx, folio, dirty)) {
		iomap_clear_dirty_mask(folio, dirty);
		cache_folio_start_writeback(folio);
		cache_folio_unlock(folio);
		/* The batch holds the reference now. */
	} else {
		iomap_clear_dirty_mask(folio, dirty);
		cache_folio_unlock(folio);
		cache_folio_put(folio);
	}
	if (ctx->batch_bytes >= IOMAP_WB_BATCH_BYTES ||
	    ctx->nr_bios >= IOMAP_WB_BATCH_BIOS)
		iomap_wb_submit(ctx);
}

/**
 * iomap_writeback_range() - see iomap.h.
 */
int iomap_writeback_range(struct iomap_file *file, uint64_t start,
			  uint64_t end, uint64_t isize,
			  const struct iomap_writeback_ops *wbops)
{
	struct iomap_wb_ctx ctx = {
		.file = file, .ops = wbops, .isize = isize,
	};
	struct cache_folio *folios[IOMAP_WB_LOOKUP];
	uint64_t idx, end_idx;

	if (start >= end)
		return 0;
	iomap_geom_init(file, &ctx.g);
	idx = start >> ctx.g.fshift;
	if (end == UINT64_MAX)
		end_idx = UINT64_MAX;
	else
		end_idx = ((end - 1) >> ctx.g.fshift) + 1;

	for (;;) {
		unsigned int n;

		n = cache_mapping_dirty_lookup(file->mapping, idx, end_idx,
					       folios, IOMAP_WB_LOOKUP);
		if (!n)
			break;
		idx = folios[n - 1]->index + 1;
		for (unsigned int i = 0; i < n; i++)
			iomap_wb_folio(&ctx, folios[i]);
		if (idx == 0 || idx >= end_idx)
			break;
	}
	iomap_wb_submit(&ctx);
	iomap_wb_release(&ctx);
	return ctx.first_error;
}
