/* SPDX-License-Identifier: MIT */
/*
 * iomap/seek.c — SEEK_DATA and SEEK_HOLE (Linux fs/iomap/seek.c): walk the
 * mappings from the offset with IOMAP_REPORT. MAPPED, DELALLOC and INLINE
 * are data, HOLE is a hole; inside UNWRITTEN ranges the cache decides per
 * block — uptodate or dirty blocks are data (written, not yet converted),
 * the rest is a hole. Positions are block-granular inside unwritten ranges.
 */
#include <errno.h>

#include "internal.h"

/*
 * First position in [pos, end) of an unwritten range whose block state in
 * the cache is @want_data (true: uptodate/dirty; false: neither), or @end.
 */
static uint64_t iomap_seek_cached(struct iomap_file *file, uint64_t pos,
				  uint64_t end, bool want_data)
{
	struct iomap_geom g;
	uint64_t idx, last, expect;

	iomap_geom_init(file, &g);
	idx = pos >> g.fshift;
	last = (end - 1) >> g.fshift;
	expect = idx;
	while (idx <= last) {
		struct cache_folio *folios[16];
		uint64_t found = UINT64_MAX;
		unsigned int n;

		n = cache_mapping_lookup_range(file->mapping, idx, last + 1,
					       folios, 16);
		for (unsigned int i = 0; i < n; i++) {
			struct cache_folio *folio = folios[i];
			uint64_t fpos = iomap_folio_pos(&g, folio);
			uint64_t bits;

			if (found != UINT64_MAX)
				goto next;
			/* An absent folio before this one is a hole. */
			if (!want_data && folio->index != expect) {
				found = expect << g.fshift;
				goto next;
			}
			expect = folio->index + 1;
			cache_folio_lock(folio);
			bits = folio->uptodate | folio->dirty;
			cache_folio_unlock(folio);
			for (unsigned int b = 0; b < g.bpf; b++) {
				uint64_t bpos = fpos + ((uint64_t)b << g.blkbits);

				if (bpos + g.bsize <= pos || bpos >= end)
					continue;
				if (!!(bits & iomap_bits(b, 1)) == want_data) {
					found = bpos;
					break;
				}
			}
next:
			idx = folio->index + 1;
			cache_folio_put(folio);
		}
		if (found != UINT64_MAX)
			return found > pos ? (found < end ? found : end) : pos;
		if (!n)
			break;
	}
	if (!want_data && expect <= last)
		return (expect << g.fshift) > pos ? expect << g.fshift : pos;
	return end;
}

static int64_t iomap_seek(struct iomap_file *file, uint64_t pos,
			  uint64_t isize, const struct iomap_ops *ops,
			  bool data)
{
	struct iomap_iter it = {
		.file = file, .pos = pos, .len = isize - pos,
		.flags = IOMAP_REPORT,
	};
	int ret;

	if (pos >= isize)
		return -ENXIO;
	while ((ret = iomap_iter(&it, ops)) > 0) {
		uint64_t end = it.pos + it.iomap.length;
		uint64_t found = end;

		switch (it.iomap.type) {
		case IOMAP_HOLE:
			if (!data)
				found = it.pos;
			break;
		case IOMAP_UNWRITTEN:
			found = iomap_seek_cached(file, it.pos, end, data);
			break;
		default:
			if (data)
				found = it.pos;
			break;
		}
		if (found < end) {
			it.processed = 0;	/* stop; ->iomap_end runs */
			iomap_iter(&it, ops);
			return (int64_t)found;
		}
		it.processed = (int64_t)it.iomap.length;
	}
	if (ret < 0)
		return ret;
	return data ? -ENXIO : (int64_t)isize;
}

/**
 * iomap_seek_data() - see iomap.h.
 */
int64_t iomap_seek_data(struct iomap_file *file, uint64_t pos, uint64_t isize,
			const struct iomap_ops *ops)
{
	return iomap_seek(file, pos, isize, ops, true);
}

/**
 * iomap_seek_hole() - see iomap.h.
 */
int64_t iomap_seek_hole(struct iomap_file *file, uint64_t pos, uint64_t isize,
			const struct iomap_ops *ops)
{
	return iomap_seek(file, pos, isize, ops, false);
}
