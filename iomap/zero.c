/* SPDX-License-Identifier: MIT */
/*
 * iomap/zero.c — zeroing file ranges through the cache (Linux
 * iomap_zero_range / iomap_truncate_page): the partial blocks around
 * truncate, punch hole and zero range.
 *
 * MAPPED and DELALLOC ranges are zeroed like a write of zeros (folios
 * created, partial blocks read first, blocks marked dirty). HOLE and
 * UNWRITTEN ranges already read as zeros on disk, so only blocks that the
 * cache holds as uptodate are zeroed in place — they may hold data written
 * into an unwritten extent and not yet written back; their dirty state is
 * kept as it is (a clean block over a hole or unwritten extent matches the
 * zeros on disk once zeroed).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Zero the cached, uptodate bytes of [pos, pos + len) without creating. */
static int64_t iomap_zero_cached(struct iomap_iter *iter)
{
	struct iomap_file *file = iter->file;
	struct iomap_geom g;
	uint64_t pos = iter->pos, end = pos + iter->iomap.length;
	uint64_t idx, last;

	iomap_geom_init(file, &g);
	idx = pos >> g.fshift;
	last = (end - 1) >> g.fshift;
	while (idx <= last) {
		struct cache_folio *folios[16];
		unsigned int n;

		n = cache_mapping_lookup_range(file->mapping, idx, last + 1,
					       folios, 16);
		if (!n)
			break;
		for (unsigned int i = 0; i < n; i++) {
			struct cache_folio *folio = folios[i];
			uint64_t fpos = iomap_folio_pos(&g, folio);
			uint64_t s = pos > fpos ? pos : fpos;
			uint64_t e = end < fpos + g.fsize ? end : fpos + g.fsize;

			cache_folio_lock(folio);
			cache_folio_wait_writeback(folio);
			while (s < e) {
				unsigned int b = (unsigned int)((s - fpos) >>
								g.blkbits);
				uint64_t bend = fpos +
						((uint64_t)(b + 1) << g.blkbits);
				uint64_t ce = e < bend ? e : bend;

				if (folio->uptodate & iomap_bits(b, 1))
					memset((char *)folio->data + (s - fpos),
					       0, ce - s);
				s = ce;
			}
			cache_folio_unlock(folio);
			idx = folio->index + 1;
			cache_folio_put(folio);
		}
	}
	return (int64_t)iter->iomap.length;
}

/**
 * iomap_zero_range() - see iomap.h.
 */
int iomap_zero_range(struct iomap_file *file, uint64_t pos, uint64_t len,
		     uint64_t isize, const struct iomap_ops *ops,
		     const struct iomap_write_ops *wops)
{
	struct iomap_iter it = {
		.file = file, .pos = pos, .len = len, .flags = IOMAP_ZERO,
	};
	int ret;

	if (len == 0)
		return 0;
	if (pos > UINT64_MAX - len)
		return -EINVAL;
	while ((ret = iomap_iter(&it, ops)) > 0) {
		switch (it.iomap.type) {
		case IOMAP_HOLE:
		case IOMAP_UNWRITTEN:
			it.processed = iomap_zero_cached(&it);
			break;
		case IOMAP_MAPPED:
		case IOMAP_DELALLOC:
			it.processed = iomap_write_iter(&it, NULL, isize, wops);
			break;
		default:
			/* Inline data is the file system's to zero. */
			it.processed = -EOPNOTSUPP;
			break;
		}
	}
	return ret;
}

/**
 * iomap_truncate_page() - see iomap.h.
 */
int iomap_truncate_page(struct iomap_file *file, uint64_t pos, uint64_t isize,
			const struct iomap_ops *ops,
			const struct iomap_write_ops *wops)
{
	uint64_t bsize = UINT64_C(1) << file->blkbits;
	uint64_t off = pos & (bsize - 1);

	if (!off)
		return 0;
	return iomap_zero_range(file, pos, bsize - off, isize, ops, wops);
}
