/* SPDX-License-Identifier: MIT */
/*
 * iomap/buffered_write.c — buffered writes into the folio cache (Linux
 * fs/iomap/buffered-io.c, write side): one ->iomap_begin per mapping, then
 * for each folio of the mapping: lock, wait for writeback (stable pages),
 * check the mapping is still valid, read or zero the partly written blocks
 * that are not uptodate, copy, mark the written blocks dirty.
 *
 * It allocates nothing and never changes the file size: the policy
 * allocates or reserves in ->iomap_begin, and the caller raises the size
 * from the returned byte count. A short write is reported to ->iomap_end
 * through the written count so that the policy can release what it set up
 * for the rest.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/*
 * Make the partly written blocks of [off, off + len) in a locked folio
 * uptodate before the copy: read them, or zero them when the mapping holds
 * no data for them. Fully written blocks are left alone.
 */
static int iomap_write_prepare(struct iomap_file *file,
			       const struct iomap_geom *g,
			       struct cache_folio *folio, uint64_t off,
			       uint64_t len, const struct iomap *iomap,
			       uint64_t isize)
{
	struct iomap_readbatch rb = { 0 };
	uint64_t fpos = iomap_folio_pos(g, folio);
	unsigned int edge[2], nr_edge = 0;
	int ret = 0;

	if (off & (g->bsize - 1))
		edge[nr_edge++] = (unsigned int)(off >> g->blkbits);
	if ((off + len) & (g->bsize - 1)) {
		unsigned int b = (unsigned int)((off + len) >> g->blkbits);

		if (!nr_edge || edge[0] != b)
			edge[nr_edge++] = b;
	}
	for (unsigned int i = 0; i < nr_edge; i++) {
		unsigned int b = edge[i];
		uint64_t bpos = fpos + ((uint64_t)b << g->blkbits);

		if (folio->uptodate & iomap_bits(b, 1))
			continue;
		if (iomap_block_needs_zeroing(iomap, bpos, isize)) {
			memset((char *)folio->data + (bpos - fpos), 0, g->bsize);
			continue;	/* becomes uptodate when marked dirty */
		}
		ret = iomap_readbatch_add(&rb, g, folio, b,
					  iomap_map_addr(iomap, bpos));
		if (ret)
			goto out_release;
	}
	ret = iomap_readbatch_submit(file, g, &rb, isize);
out_release:
	iomap_readbatch_release(&rb);
	return ret;
}

/**
 * iomap_write_iter() - the write actor: copy the part of the request that
 * the current mapping covers, folio by folio.
 * @iter:  iteration state; @iter->iomap is MAPPED, UNWRITTEN or DELALLOC.
 * @src:   bytes for [iter->pos, iter->pos + mapping length), or NULL to
 *         write zeros (iomap_zero_range()).
 * @isize: file size before the write.
 * @wops:  optional validity check.
 * Context: no folio lock held on entry or exit.
 * Return: bytes written (0 with IOMAP_F_STALE set: remap), or -errno if
 * nothing was written.
 */
int64_t iomap_write_iter(struct iomap_iter *iter, const void *src,
			 uint64_t isize, const struct iomap_write_ops *wops)
{
	struct iomap_file *file = iter->file;
	const struct iomap *m = &iter->iomap;
	struct iomap_geom g;
	uint64_t length = m->length;
	uint64_t written = 0;
	int ret = 0;

	if (m->type != IOMAP_MAPPED && m->type != IOMAP_UNWRITTEN &&
	    m->type != IOMAP_DELALLOC)
		return -EIO;
	iomap_geom_init(file, &g);

	while (written < length) {
		uint64_t p = iter->pos + written;
		uint64_t off = p & (g.fsize - 1);
		uint64_t n = g.fsize - off;
		struct cache_folio *folio;
		unsigned int b0, b1;

		if (n > length - written)
			n = length - written;
		ret = cache_folio_get(file->mapping, p >> g.fshift,
				      CACHE_FGP_CREAT | CACHE_FGP_LOCK, &folio);
		if (ret)
			break;
		cache_folio_wait_writeback(folio);
		if (wops && wops->iomap_valid &&
		    !wops->iomap_valid(file, m)) {
			iter->iomap.flags |= IOMAP_F_STALE;
			cache_folio_unlock(folio);
			cache_folio_put(folio);
			break;
		}
		ret = iomap_write_prepare(file, &g, folio, off, n, m, isize);
		if (ret) {
			cache_folio_unlock(folio);
			cache_folio_put(folio);
			break;
		}
		if (src)
			memcpy((char *)folio->data + off,
			       (const char *)src + written, n);
		else
			memset((char *)folio->data + off, 0, n);
		b0 = (unsigned int)(off >> g.blkbits);
		b1 = (unsigned int)((off + n - 1) >> g.blkbits);
		cache_folio_mark_dirty(folio, b0, b1 - b0 + 1);
		cache_folio_unlock(folio);
		cache_folio_put(folio);
		written += n;
	}
	if (written || (iter->iomap.flags & IOMAP_F_STALE))
		return (int64_t)written;
	return ret;
}

/**
 * iomap_file_buffered_write() - see iomap.h.
 */
ssize_t iomap_file_buffered_write(struct iomap_file *file, uint64_t pos,
				  const void *buf, size_t len, uint64_t isize,
				  const struct iomap_ops *ops,
				  const struct iomap_write_ops *wops)
{
	struct iomap_iter it = {
		.file = file, .pos = pos, .len = len, .flags = IOMAP_WRITE,
	};
	int ret;

	if (len == 0)
		return 0;
	if (pos > UINT64_MAX - len)
		return -EFBIG;
	while ((ret = iomap_iter(&it, ops)) > 0)
		it.processed = iomap_write_iter(
			&it, (const char *)buf + (it.pos - pos), isize, wops);
	if (it.pos > pos)
		return (ssize_t)(it.pos - pos);
	return ret;
}
