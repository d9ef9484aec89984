/* SPDX-License-Identifier: MIT */
/*
 * iomap/ioend.c — ioends of writeback (Linux fs/iomap/ioend.c): building
 * them from dirty block runs, submitting a batch of them as one io_uring
 * batch, merging completed neighbours and completing them.
 *
 * An ioend grows while the next run continues it in the file and on the
 * device and has the same mapping type and flags, up to IOMAP_IOEND_MAX.
 * Each run also becomes (part of) a bio; a bio never crosses a folio, as
 * folios are separate memory.
 *
 * Completion order for a batch, after every bio finished:
 *
 *	merge adjacent ioends (same type, flags and result, file-contiguous)
 *	  → ->end_io once per merged ioend (folios still under writeback)
 *	  → cache_folio_end_writeback() on every folio of the batch
 *	  → lock each failed folio, record folio->error, unlock
 *	  → drop the batch's folio references
 *
 * Errors are recorded only after the writeback bit is gone: a writer may
 * sit on the folio lock waiting for the writeback to end, so taking the lock
 * before ending writeback would deadlock:
 *
 *	writer                          writeback completion
 *	lock(folio)
 *	wait_writeback(folio) ...       lock(folio)  <- would wait forever
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Grow *arr (of *cap elements of @size) so that it holds @need elements. */
static int iomap_grow(void **arr, unsigned int *cap, unsigned int need,
		      size_t size)
{
	unsigned int ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 32;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/**
 * iomap_wb_record_error() - remember the first error of the writeback call.
 */
void iomap_wb_record_error(struct iomap_wb_ctx *ctx, int err)
{
	if (err && !ctx->first_error)
		ctx->first_error = err;
}

/**
 * iomap_wb_add_folio() - take over the caller's reference to a locked folio
 * that is about to go under writeback in this batch.
 * @slot: set to the folio's index in the batch.
 * Return: 0 or -ENOMEM.
 */
int iomap_wb_add_folio(struct iomap_wb_ctx *ctx, struct cache_folio *folio,
		       unsigned int *slot)
{
	int ret;

	ret = iomap_grow((void **)&ctx->folios, &ctx->cap_folios,
			 ctx->nr_folios + 1, sizeof(*ctx->folios));
	if (ret)
		return ret;
	*slot = ctx->nr_folios;
	ctx->folios[ctx->nr_folios++] = (struct iomap_wb_folio){ folio, 0 };
	return 0;
}

static bool iomap_ioend_continues(const struct iomap_ioend *io,
				  const struct iomap *m, uint64_t pos,
				  uint64_t addr, uint64_t len)
{
	return io->type == m->type && io->flags == m->flags &&
	       io->pos + io->len == pos && io->addr + io->len == addr &&
	       io->len + len <= IOMAP_IOEND_MAX;
}

/**
 * iomap_ioend_add() - write [pos, pos + len) of the folio in @slot, which
 * starts at block @block of that folio and lies inside ctx->map.
 * Return: 0 or -ENOMEM (nothing queued).
 */
int iomap_ioend_add(struct iomap_wb_ctx *ctx, unsigned int slot,
		    unsigned int block, uint64_t pos, uint64_t len)
{
	const struct iomap *m = &ctx->map;
	struct cache_folio *folio = ctx->folios[slot].folio;
	uint64_t addr = iomap_map_addr(m, pos);
	char *buf = (char *)folio->data + ((uint64_t)block << ctx->g.blkbits);
	struct iomap_ioend *io = NULL;
	struct cache_bio *bio;
	int ret;

	/* Make room first so that a failure leaves the batch untouched. */
	ret = iomap_grow((void **)&ctx->ioends, &ctx->cap_ioends,
			 ctx->nr_ioends + 1, sizeof(*ctx->ioends));
	if (!ret)
		ret = iomap_grow((void **)&ctx->bios, &ctx->cap_bios,
				 ctx->nr_bios + 1, sizeof(*ctx->bios));
	if (!ret)
		ret = iomap_grow((void **)&ctx->bio_info, &ctx->cap_bio_info,
				 ctx->nr_bios + 1, sizeof(*ctx->bio_info));
	if (ret)
		return ret;

	if (ctx->nr_ioends)
		io = &ctx->ioends[ctx->nr_ioends - 1];
	if (!io || !iomap_ioend_continues(io, m, pos, addr, len)) {
		io = &ctx->ioends[ctx->nr_ioends++];
		*io = (struct iomap_ioend){
			.pos = pos, .len = 0, .addr = addr,
			.type = m->type, .flags = m->flags,
		};
	}
	io->len += len;
	ctx->batch_bytes += len;

	/* Extend the last bio when it is the same folio, memory and disk. */
	if (ctx->nr_bios) {
		struct iomap_wb_bio *info = &ctx->bio_info[ctx->nr_bios - 1];

		bio = &ctx->bios[ctx->nr_bios - 1];
		if (info->slot == slot && info->ioend == ctx->nr_ioends - 1 &&
		    (char *)bio->buf + bio->len == buf &&
		    bio->pos + bio->len == addr) {
			bio->len += len;
			return 0;
		}
	}
	ctx->bios[ctx->nr_bios] = (struct cache_bio){
		.pos = addr, .buf = buf, .len = len, .write = true,
	};
	ctx->bio_info[ctx->nr_bios] = (struct iomap_wb_bio){
		.ioend = ctx->nr_ioends - 1, .slot = slot,
	};
	ctx->nr_bios++;
	return 0;
}

static bool iomap_ioend_can_merge(const struct iomap_ioend *a,
				  const struct iomap_ioend *b)
{
	return a->type == b->type && a->flags == b->flags &&
	       a->error == b->error && a->pos + a->len == b->pos;
}

/* ->end_io for each run of mergeable ioends; returns the first error. */
static int iomap_ioend_complete(struct iomap_wb_ctx *ctx)
{
	int first = 0;
	unsigned int i = 0;

	while (i < ctx->nr_ioends) {
		struct iomap_ioend merged = ctx->ioends[i];
		unsigned int j = i + 1;
		int ret;

		while (j < ctx->nr_ioends &&
		       iomap_ioend_can_merge(&merged, &ctx->ioends[j])) {
			merged.len += ctx->ioends[j].len;
			j++;
		}
		ret = ctx->ops->end_io(ctx->file, merged.pos, merged.len,
				       merged.type, merged.flags, merged.error);
		if (merged.error && !first)
			first = merged.error;
		if (ret < 0) {
			if (!first)
				first = ret;
			/* The data is on disk but not reachable: fail it. */
			for (unsigned int k = 0; k < ctx->nr_bios; k++)
				if (ctx->bio_info[k].ioend >= i &&
				    ctx->bio_info[k].ioend < j &&
				    !ctx->folios[ctx->bio_info[k].slot].error)
					ctx->folios[ctx->bio_info[k].slot].error =
						ret;
		}
		i = j;
	}
	return first;
}

/**
 * iomap_wb_submit() - submit every bio of the batch in one
 * cache_bdev_submit(), complete the ioends, end writeback on the folios and
 * empty the batch.
 * Context: no folio lock held.
 * Return: the batch's first error, or 0.
 */
int iomap_wb_submit(struct iomap_wb_ctx *ctx)
{
	int ret;

	if (ctx->nr_bios)
		cache_bdev_submit(ctx->file->bdev, ctx->bios, ctx->nr_bios);
	for (unsigned int k = 0; k < ctx->nr_bios; k++) {
		struct cache_bio *bio = &ctx->bios[k];
		int err;

		if (bio->result == (ssize_t)bio->len)
			continue;
		err = bio->result < 0 ? (int)bio->result : -EIO;
		if (!ctx->ioends[ctx->bio_info[k].ioend].error)
			ctx->ioends[ctx->bio_info[k].ioend].error = err;
		if (!ctx->folios[ctx->bio_info[k].slot].error)
			ctx->folios[ctx->bio_info[k].slot].error = err;
	}
	ret = iomap_ioend_complete(ctx);
	for (unsigned int i = 0; i < ctx->nr_folios; i++)
		cache_folio_end_writeback(ctx->folios[i].folio);
	for (unsigned int i = 0; i < ctx->nr_folios; i++) {
		struct cache_folio *folio = ctx->folios[i].folio;

		if (ctx->folios[i].error) {
			cache_folio_lock(folio);
			folio->error = ctx->folios[i].error;
			cache_folio_unlock(folio);
		}
		cache_folio_put(folio);
	}
	ctx->nr_folios = 0;
	ctx->nr_bios = 0;
	ctx->nr_ioends = 0;
	ctx->batch_bytes = 0;
	iomap_wb_record_error(ctx, ret);
	return ret;
}

/** iomap_wb_release() - free the context's arrays (batch must be empty). */
void iomap_wb_release(struct iomap_wb_ctx *ctx)
{
	free(ctx->ioends);
	free(ctx->bios);
	free(ctx->bio_info);
	free(ctx->folios);
}
