/* SPDX-License-Identifier: MIT */
/*
 * iomap/iter.c — the mapping iterator (Linux fs/iomap/iter.c): calls
 * ->iomap_end for the mapping just processed, advances by what the actor
 * did, asks ->iomap_begin for the next mapping, checks it and trims it to
 * the remaining range. Also the folio geometry helper shared by the engine.
 *
 * State of one iteration step:
 *
 *	first call ──► begin ──► check/trim ──► return 1 ──► actor
 *	                 ▲                                     │
 *	                 │ processed > 0, or 0 with F_STALE    ▼
 *	                 └────────── advance ◄──────────── iomap_end
 *	                               │
 *	     processed == 0 / len == 0 └──► return 0;  processed < 0 ──► -errno
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/**
 * iomap_geom_init() - derive block and folio sizes for @file.
 * @file: the file; its mapping's folio shift is authoritative.
 * @g:    filled in.
 */
void iomap_geom_init(const struct iomap_file *file, struct iomap_geom *g)
{
	g->blkbits = file->blkbits;
	g->fshift = cache_folio_shift(file->mapping);
	g->bsize = UINT64_C(1) << g->blkbits;
	g->fsize = UINT64_C(1) << g->fshift;
	g->bpf = 1u << (g->fshift - g->blkbits);
}

/* A mapping from ->iomap_begin that the engine cannot use. */
static bool iomap_mapping_invalid(const struct iomap_iter *iter)
{
	const struct iomap *m = &iter->iomap;

	if (m->length == 0 || m->offset > iter->pos ||
	    iomap_map_end(m) <= iter->pos)
		return true;
	if (m->type > IOMAP_INLINE)
		return true;
	if ((iter->flags & IOMAP_WRITE) &&
	    (m->type == IOMAP_HOLE || m->type == IOMAP_INLINE))
		return true;
	if ((m->type == IOMAP_MAPPED || m->type == IOMAP_UNWRITTEN) &&
	    m->addr == IOMAP_NULL_ADDR)
		return true;
	if (m->type == IOMAP_INLINE && !m->inline_data)
		return true;
	return false;
}

/* Cut the mapping down to [pos, pos + len). */
static void iomap_trim(struct iomap_iter *iter)
{
	struct iomap *m = &iter->iomap;
	uint64_t delta = iter->pos - m->offset;
	uint64_t end = iomap_map_end(m);

	if (delta) {
		if (m->addr != IOMAP_NULL_ADDR)
			m->addr += delta;
		if (m->inline_data)
			m->inline_data = (char *)m->inline_data + delta;
		m->offset = iter->pos;
	}
	m->length = end - m->offset;
	if (m->length > iter->len)
		m->length = iter->len;
}

/**
 * iomap_iter() - see iomap.h.
 * @iter: iteration state; @iter->iomap must be zeroed before the first call.
 * @ops:  the file system's mapping callbacks.
 * Return: 1 when a mapping is ready, 0 when done, -errno when stopped.
 */
int iomap_iter(struct iomap_iter *iter, const struct iomap_ops *ops)
{
	int ret;

	if (iter->iomap.length) {
		int64_t processed = iter->processed;
		uint64_t len = iter->iomap.length;
		bool stale = iter->iomap.flags & IOMAP_F_STALE;
		int end_ret = 0;

		if (IOMAP_WARN_ONCE(processed > 0 && (uint64_t)processed > len,
				    "actor processed more than mapped"))
			processed = -EIO;
		if (ops->iomap_end)
			end_ret = ops->iomap_end(iter->file, iter->pos, len,
						 processed > 0 ? processed : 0,
						 iter->flags, &iter->iomap);
		memset(&iter->iomap, 0, sizeof(iter->iomap));
		iter->processed = 0;
		if (processed < 0)
			return (int)processed;
		iter->pos += (uint64_t)processed;
		iter->len -= (uint64_t)processed;
		if (end_ret < 0)
			return end_ret;
		if (processed == 0 && !stale)
			return 0;
	}
	if (iter->len == 0)
		return 0;

	memset(&iter->iomap, 0, sizeof(iter->iomap));
	iter->processed = 0;
	ret = ops->iomap_begin(iter->file, iter->pos, iter->len, iter->flags,
			       &iter->iomap);
	if (ret < 0) {
		memset(&iter->iomap, 0, sizeof(iter->iomap));
		return ret;
	}
	if (IOMAP_WARN_ONCE(iomap_mapping_invalid(iter),
			    "invalid mapping from iomap_begin")) {
		if (ops->iomap_end)
			ops->iomap_end(iter->file, iter->pos, iter->len, 0,
				       iter->flags, &iter->iomap);
		memset(&iter->iomap, 0, sizeof(iter->iomap));
		return -EIO;
	}
	iomap_trim(iter);
	return 1;
}
