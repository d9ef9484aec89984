/* SPDX-License-Identifier: MIT */
/*
 * iomap/buffered_read.c — buffered reads through the folio cache with
 * synchronous readahead (Linux fs/iomap/buffered-io.c, read side, and
 * mm/readahead.c for the window), plus the read batch that the write path
 * also uses for read-modify-write.
 *
 * A read first tries the cache folio by folio: a folio whose blocks in the
 * requested range are all uptodate is copied under its lock, and the file
 * system is not asked anything (no ->iomap_begin, so no metadata lock on a
 * hit). At the first miss, a batch of folios is set up from the missing one
 * onwards: the rest of the request plus a readahead window (128 KiB at the
 * start of the file, growing to 1 MiB while the folios before the miss are
 * cached, i.e. sequential access). The batch is mapped, and every missing
 * block of MAPPED ranges is read in one cache_bdev_submit(); other ranges
 * and blocks past the size are zero-filled. A random miss (no cached folio
 * just before it) reads only the blocks of the request: whole folios and
 * readahead would only cost device time and cache space.
 *
 * Why the batch takes folio references before mapping, and locks after:
 * ->iomap_begin must be called without folio locks, yet the mapping must not
 * go stale under us. Writers, truncate and punch hold the inode rwlock
 * exclusively, so only writeback changes mappings during a read, and only of
 * blocks that are dirty in the cache. Such blocks are uptodate and the read
 * never overwrites uptodate blocks; holding a reference keeps their folio
 * from being reclaimed between mapping and locking, so a block that is not
 * uptodate when we lock it was not written by writeback after we mapped it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Readahead window bounds and the most folios one batch may take. */
#define IOMAP_RA_MIN (UINT64_C(128) << 10)
#define IOMAP_RA_MAX (UINT64_C(1) << 20)
#define IOMAP_READ_BATCH_FOLIOS 512u
/* Mappings collected per batch before the folios are filled. */
#define IOMAP_READ_MAX_MAPS 32u

/**
 * iomap_readbatch_add() - queue a read of one block of a locked folio,
 * extending the previous bio when memory and disk are both contiguous.
 * @rb:    the batch.
 * @g:     geometry.
 * @folio: locked by the caller until iomap_readbatch_submit() returns.
 * @block: block index inside the folio.
 * @addr:  device address of the block.
 * Return: 0 or -ENOMEM.
 */
int iomap_readbatch_add(struct iomap_readbatch *rb,
			const struct iomap_geom *g, struct cache_folio *folio,
			unsigned int block, uint64_t addr)
{
	char *buf = (char *)folio->data + ((uint64_t)block << g->blkbits);
	struct cache_bio *bio;

	if (rb->nr) {
		bio = &rb->bios[rb->nr - 1];
		if (rb->folio[rb->nr - 1] == folio &&
		    (char *)bio->buf + bio->len == buf &&
		    bio->pos + bio->len == addr) {
			bio->len += g->bsize;
			return 0;
		}
	}
	if (rb->nr == rb->cap) {
		unsigned int cap = rb->cap ? rb->cap * 2 : 16;
		struct cache_bio *bios;
		struct cache_folio **folios;

		bios = realloc(rb->bios, cap * sizeof(*bios));
		if (!bios)
			return -ENOMEM;
		rb->bios = bios;
		folios = realloc(rb->folio, cap * sizeof(*folios));
		if (!folios)
			return -ENOMEM;
		rb->folio = folios;
		rb->cap = cap;
	}
	bio = &rb->bios[rb->nr];
	rb->folio[rb->nr] = folio;
	rb->nr++;
	*bio = (struct cache_bio){
		.pos = addr, .buf = buf, .len = g->bsize, .write = false,
	};
	return 0;
}

/*
 * Bytes of a freshly read block at or past the size are not file data:
 * zero them so the folio holds zeros past EOF (writeback relies on it).
 */
static void iomap_zero_post_eof(const struct iomap_geom *g,
				struct cache_folio *folio, uint64_t off,
				uint64_t len, uint64_t isize)
{
	uint64_t fpos = iomap_folio_pos(g, folio) + off;

	if (fpos + len <= isize)
		return;
	if (fpos < isize) {
		off += isize - fpos;
		len -= isize - fpos;
	}
	memset((char *)folio->data + off, 0, len);
}

/**
 * iomap_readbatch_submit() - perform the queued reads as one batch and mark
 * the blocks of successful bios uptodate; empties the batch.
 * @file:  the file (its bdev).
 * @g:     geometry.
 * @rb:    the batch; the folios are still locked by the caller.
 * @isize: file size: bytes past it in the blocks read are zeroed.
 * Return: 0 or the first bio's -errno (those blocks stay not uptodate).
 */
int iomap_readbatch_submit(struct iomap_file *file,
			   const struct iomap_geom *g,
			   struct iomap_readbatch *rb, uint64_t isize)
{
	int ret = 0;

	if (!rb->nr)
		return 0;
	cache_bdev_submit(file->bdev, rb->bios, rb->nr);
	for (unsigned int i = 0; i < rb->nr; i++) {
		struct cache_bio *bio = &rb->bios[i];
		struct cache_folio *folio = rb->folio[i];
		uint64_t off = (uint64_t)((char *)bio->buf - (char *)folio->data);

		if (bio->result != (ssize_t)bio->len) {
			if (!ret)
				ret = bio->result < 0 ? (int)bio->result : -EIO;
			continue;
		}
		iomap_zero_post_eof(g, folio, off, bio->len, isize);
		cache_folio_mark_uptodate(folio, (unsigned int)(off >> g->blkbits),
					  (unsigned int)(bio->len >> g->blkbits));
	}
	rb->nr = 0;
	return ret;
}

/** iomap_readbatch_release() - free the batch's arrays. */
void iomap_readbatch_release(struct iomap_readbatch *rb)
{
	free(rb->bios);
	free(rb->folio);
	memset(rb, 0, sizeof(*rb));
}

/* ------------------------------------------------------------------------ */

/**
 * struct iomap_read_ctx - one miss batch.
 * @folios:   referenced folios for indexes [first, first + nr).
 * @maps:     mappings covering [request block, @mapped_end).
 * @fill_start, @fill_end: blocks outside this byte range are left as they
 *            are (a random read fills only the blocks it needs).
 */
struct iomap_read_ctx {
	struct iomap_file *file;
	struct iomap_geom g;
	uint64_t isize;
	uint64_t first;
	unsigned int nr;
	struct cache_folio *folios[IOMAP_READ_BATCH_FOLIOS];
	struct iomap maps[IOMAP_READ_MAX_MAPS];
	unsigned int nr_maps;
	uint64_t mapped_end;
	uint64_t fill_start, fill_end;
};

/*
 * Readahead window for a miss at folio @index, from the page cache itself
 * as history (the kernel's context readahead, count_history_pages): twice
 * the run of cached folios just before @index, between 128 KiB and 1 MiB,
 * for sequential reading; 128 KiB for a first read at the start of the
 * file; nothing beyond the request for a random read (no cached folio just
 * before it), which would only waste device time and cache.
 */
static uint64_t iomap_ra_window(struct cache_mapping *mapping,
				const struct iomap_geom *g, uint64_t index)
{
	struct cache_folio *prev[64];
	uint64_t max_hist = (IOMAP_RA_MAX / 2) >> g->fshift;
	uint64_t hist = 0;

	while (hist < max_hist && hist < index) {
		uint64_t end = index - hist;
		uint64_t chunk = end < 64 ? end : 64;
		unsigned int n, run = 0;

		n = cache_mapping_lookup_range(mapping, end - chunk, end, prev,
					       (unsigned int)chunk);
		/* Count the run of present folios ending at end - 1. */
		for (unsigned int i = n; i > 0; i--) {
			if (prev[i - 1]->index != end - 1 - run)
				break;
			run++;
		}
		for (unsigned int i = 0; i < n; i++)
			cache_folio_put(prev[i]);
		hist += run;
		if (run < chunk)
			break;
	}
	if (hist == 0 && index > 0)
		return 0;
	hist = (hist << g->fshift) * 2;
	if (hist < IOMAP_RA_MIN)
		return IOMAP_RA_MIN;
	return hist > IOMAP_RA_MAX ? IOMAP_RA_MAX : hist;
}

/* Copy INLINE data into the (non-uptodate) blocks it covers. */
static int iomap_read_inline(struct iomap_read_ctx *ctx,
			     const struct iomap *m)
{
	const struct iomap_geom *g = &ctx->g;
	uint64_t pos = m->offset, end = iomap_map_end(m);

	while (pos < end) {
		uint64_t idx = pos >> g->fshift;
		struct cache_folio *folio;
		uint64_t fpos;

		if (idx < ctx->first || idx >= ctx->first + ctx->nr)
			break;
		folio = ctx->folios[idx - ctx->first];
		fpos = iomap_folio_pos(g, folio);
		cache_folio_lock(folio);
		while (pos < end && pos < fpos + g->fsize) {
			unsigned int b = (unsigned int)((pos - fpos) >> g->blkbits);
			uint64_t bpos = fpos + ((uint64_t)b << g->blkbits);
			uint64_t bend = bpos + g->bsize;
			uint64_t cend = end < bend ? end : bend;
			char *dst = (char *)folio->data + (bpos - fpos);

			if (!(folio->uptodate & iomap_bits(b, 1))) {
				memset(dst, 0, g->bsize);
				memcpy(dst + (pos - bpos),
				       (const char *)m->inline_data +
					       (pos - m->offset),
				       cend - pos);
				iomap_zero_post_eof(g, folio, bpos - fpos,
						    g->bsize, ctx->isize);
				cache_folio_mark_uptodate(folio, b, 1);
			}
			pos = bend;
		}
		cache_folio_unlock(folio);
	}
	return 0;
}

/*
 * Map [@start, batch end): record mappings; handle INLINE at once. @start is
 * the block of the request, not the folio start: a folio may hold more
 * mappings before the request than IOMAP_READ_MAX_MAPS, and the first
 * mapping recorded must cover the request so that every batch progresses.
 */
static int iomap_read_map(struct iomap_read_ctx *ctx,
			  const struct iomap_ops *ops, uint64_t start,
			  uint64_t end)
{
	struct iomap_iter it = {
		.file = ctx->file, .pos = start, .len = end - start,
	};
	int ret;

	ctx->nr_maps = 0;
	ctx->mapped_end = start;
	while ((ret = iomap_iter(&it, ops)) > 0) {
		struct iomap *m = &it.iomap;
		int err = 0;

		if (m->type == IOMAP_INLINE)
			err = iomap_read_inline(ctx, m);
		if (err) {
			it.processed = err;
			continue;
		}
		ctx->maps[ctx->nr_maps++] = *m;
		ctx->maps[ctx->nr_maps - 1].inline_data = NULL;
		ctx->mapped_end = iomap_map_end(m);
		it.processed = (int64_t)m->length;
		if (ctx->nr_maps == IOMAP_READ_MAX_MAPS)
			it.len = m->length;	/* stop after this one */
	}
	if (ret < 0 && ctx->nr_maps == 0)
		return ret;
	/* A later error only shortens the batch. */
	return 0;
}

static const struct iomap *iomap_read_find_map(struct iomap_read_ctx *ctx,
					       uint64_t pos, unsigned int *hint)
{
	for (unsigned int i = *hint; i < ctx->nr_maps; i++) {
		if (pos >= ctx->maps[i].offset &&
		    pos < iomap_map_end(&ctx->maps[i])) {
			*hint = i;
			return &ctx->maps[i];
		}
	}
	return NULL;
}

/*
 * Fill every non-uptodate block of a locked folio: zero what needs no read,
 * queue reads for the rest.
 */
static int iomap_read_fill_folio(struct iomap_read_ctx *ctx,
				 struct iomap_readbatch *rb,
				 struct cache_folio *folio, unsigned int *hint)
{
	const struct iomap_geom *g = &ctx->g;
	uint64_t fpos = iomap_folio_pos(g, folio);

	for (unsigned int b = 0; b < g->bpf; b++) {
		uint64_t bpos = fpos + ((uint64_t)b << g->blkbits);
		const struct iomap *m;
		int ret;

		if (folio->uptodate & iomap_bits(b, 1))
			continue;
		if (bpos + g->bsize <= ctx->fill_start || bpos >= ctx->fill_end)
			continue;
		if (bpos >= ctx->isize) {
			memset((char *)folio->data + (bpos - fpos), 0, g->bsize);
			cache_folio_mark_uptodate(folio, b, 1);
			continue;
		}
		if (bpos >= ctx->mapped_end)
			break;
		m = iomap_read_find_map(ctx, bpos, hint);
		if (!m || m->type == IOMAP_INLINE)
			continue;	/* inline copy failed or not mapped */
		if (iomap_block_needs_zeroing(m, bpos, ctx->isize)) {
			memset((char *)folio->data + (bpos - fpos), 0, g->bsize);
			cache_folio_mark_uptodate(folio, b, 1);
			continue;
		}
		ret = iomap_readbatch_add(rb, g, folio, b,
					  iomap_map_addr(m, bpos));
		if (ret)
			return ret;
	}
	return 0;
}

/* Copy [pos, pos + len) out of a locked folio while its blocks are uptodate. */
static size_t iomap_copy_from_folio(const struct iomap_geom *g,
				    struct cache_folio *folio, uint64_t pos,
				    char *dst, size_t len)
{
	uint64_t fpos = iomap_folio_pos(g, folio);
	size_t done = 0;

	while (done < len) {
		uint64_t p = pos + done;
		unsigned int b = (unsigned int)((p - fpos) >> g->blkbits);
		uint64_t bend = fpos + ((uint64_t)(b + 1) << g->blkbits);
		size_t n = (size_t)(bend - p);

		if (n > len - done)
			n = len - done;
		if (!(folio->uptodate & iomap_bits(b, 1)))
			break;
		memcpy(dst + done, (char *)folio->data + (p - fpos), n);
		done += n;
	}
	return done;
}

/*
 * Handle a miss at @pos: set up a batch (request + readahead), map it, fill
 * and read, and copy out as much of [pos, pos + len) as the batch covers.
 * Return: bytes copied (> 0) or -errno.
 */
static ssize_t iomap_read_batch(struct iomap_read_ctx *ctx,
				const struct iomap_ops *ops, uint64_t pos,
				char *dst, size_t len)
{
	const struct iomap_geom *g = &ctx->g;
	struct cache_mapping *mapping = ctx->file->mapping;
	struct iomap_readbatch rb = { 0 };
	uint64_t window, end, eof_end, want;
	unsigned int hint = 0;
	size_t done = 0;
	int ret, io_err;

	ctx->first = pos >> g->fshift;
	window = iomap_ra_window(mapping, g, ctx->first);
	ctx->fill_start = 0;
	ctx->fill_end = UINT64_MAX;
	if (!window) {
		/* Random read: only the blocks of the request. */
		ctx->fill_start = pos;
		ctx->fill_end = pos + len;
	}
	want = (uint64_t)len > window ? len : window;
	end = pos + want;
	eof_end = (ctx->isize + g->bsize - 1) & ~(g->bsize - 1);
	if (end > eof_end)
		end = eof_end;
	want = ((end - 1) >> g->fshift) - ctx->first + 1;
	if (want > IOMAP_READ_BATCH_FOLIOS)
		want = IOMAP_READ_BATCH_FOLIOS;

	/*
	 * References first. Only the first folio may wait for memory: we hold
	 * references on the others, which the reclaim we would wait for
	 * cannot free.
	 */
	ctx->nr = 0;
	for (uint64_t i = 0; i < want; i++) {
		unsigned int fl = CACHE_FGP_CREAT | (i ? CACHE_FGP_NOWAIT : 0);

		ret = cache_folio_get(mapping, ctx->first + i, fl,
				      &ctx->folios[i]);
		if (ret) {
			if (i == 0)
				return ret;
			break;
		}
		ctx->nr++;
	}
	end = (ctx->first + ctx->nr) << g->fshift;
	if (end > eof_end)
		end = eof_end;

	ret = iomap_read_map(ctx, ops, pos & ~((uint64_t)g->bsize - 1), end);
	if (ret)
		goto out_put_folios;

	/* Lock in index order (the order every multi-folio locker uses). */
	for (unsigned int i = 0; i < ctx->nr; i++) {
		cache_folio_lock(ctx->folios[i]);
		ret = iomap_read_fill_folio(ctx, &rb, ctx->folios[i], &hint);
		if (ret) {
			/* Out of memory for bios: read what is queued. */
			ctx->nr_maps = 0;
			ret = 0;
		}
	}
	io_err = iomap_readbatch_submit(ctx->file, g, &rb, ctx->isize);

	for (unsigned int i = 0; i < ctx->nr && done < len; i++) {
		struct cache_folio *folio = ctx->folios[i];
		uint64_t p = pos + done;
		uint64_t fend = iomap_folio_pos(g, folio) + g->fsize;
		size_t n = (size_t)(fend - p), got;

		if (n > len - done)
			n = len - done;
		got = iomap_copy_from_folio(g, folio, p, dst + done, n);
		done += got;
		if (got < n)
			break;
	}
	for (unsigned int i = 0; i < ctx->nr; i++)
		cache_folio_unlock(ctx->folios[i]);
	if (!done)
		ret = io_err ? io_err : -EIO;
out_put_folios:
	for (unsigned int i = 0; i < ctx->nr; i++)
		cache_folio_put(ctx->folios[i]);
	iomap_readbatch_release(&rb);
	return done ? (ssize_t)done : ret;
}

/*
 * Cache hit path: copy [pos, pos + len) of folio @index if every block it
 * touches is uptodate. Return: 1 copied, 0 miss, -errno.
 */
static int iomap_read_hit(struct iomap_file *file, const struct iomap_geom *g,
			  uint64_t pos, char *dst, size_t len)
{
	struct cache_folio *folio;
	uint64_t fpos, off;
	unsigned int b0, b1;
	int ret;

	ret = cache_folio_get(file->mapping, pos >> g->fshift, 0, &folio);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	fpos = iomap_folio_pos(g, folio);
	off = pos - fpos;
	b0 = (unsigned int)(off >> g->blkbits);
	b1 = (unsigned int)((off + len - 1) >> g->blkbits);
	cache_folio_lock(folio);
	if ((folio->uptodate & iomap_bits(b0, b1 - b0 + 1)) ==
	    iomap_bits(b0, b1 - b0 + 1)) {
		memcpy(dst, (char *)folio->data + off, len);
		ret = 1;
	}
	cache_folio_unlock(folio);
	cache_folio_put(folio);
	return ret;
}

/**
 * iomap_file_buffered_read() - see iomap.h.
 */
ssize_t iomap_file_buffered_read(struct iomap_file *file, uint64_t pos,
				 void *buf, size_t len, uint64_t isize,
				 const struct iomap_ops *ops)
{
	struct iomap_read_ctx *ctx = NULL;
	struct iomap_geom g;
	char *dst = buf;
	size_t done = 0;
	ssize_t ret = 0;

	if (pos >= isize || len == 0)
		return 0;
	if (len > isize - pos)
		len = (size_t)(isize - pos);
	iomap_geom_init(file, &g);

	while (done < len) {
		uint64_t p = pos + done;
		uint64_t fend = ((p >> g.fshift) + 1) << g.fshift;
		size_t n = (size_t)(fend - p);
		int hit;

		if (n > len - done)
			n = len - done;
		hit = iomap_read_hit(file, &g, p, dst + done, n);
		if (hit < 0) {
			ret = hit;
			break;
		}
		if (hit) {
			done += n;
			continue;
		}
		if (!ctx) {
			ctx = calloc(1, sizeof(*ctx));
			if (!ctx) {
				ret = -ENOMEM;
				break;
			}
			ctx->file = file;
			ctx->g = g;
			ctx->isize = isize;
		}
		ret = iomap_read_batch(ctx, ops, p, dst + done, len - done);
		if (ret < 0)
			break;
		done += (size_t)ret;
	}
	free(ctx);
	return done ? (ssize_t)done : ret;
}
