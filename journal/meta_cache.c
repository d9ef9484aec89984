// SPDX-License-Identifier: MIT
/*
 * journal/meta_cache.c — the metadata block cache behind the io_manager:
 * block-sized entries ("granules") keyed by block number in a chained hash
 * table, an LRU list, and a byte budget (entries × granule size).
 *
 * Write-through: io_manager.c writes the device first and only then
 * updates the cache, so the disk never lags the cache and durability needs
 * only a device flush. Nothing here is ever dirty; eviction just frees.
 *
 * It does no I/O and knows nothing of libext2fs. One mutex, a leaf lock:
 * never held across I/O or calls out of this file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define META_MIN_BUCKETS 64u

static size_t meta_hash(const struct journal_meta_cache *mc, uint64_t blk)
{
	return (size_t)((blk * 0x9E3779B97F4A7C15ull) >> 32) &
	       (mc->nbuckets - 1);
}

int journal_meta_init(struct journal_meta_cache *mc, size_t budget)
{
	int ret;

	memset(mc, 0, sizeof(*mc));
	mc->budget = budget;
	mc->nbuckets = META_MIN_BUCKETS;
	mc->buckets = calloc(mc->nbuckets, sizeof(*mc->buckets));
	if (!mc->buckets)
		return -ENOMEM;
	ret = pthread_mutex_init(&mc->lock, NULL);
	if (ret)
		goto out_free_buckets;
	return 0;

out_free_buckets:
	free(mc->buckets);
	return -ret;
}

/* Context: mc->lock held. */
static struct journal_meta_entry *__meta_find(struct journal_meta_cache *mc,
					      uint64_t blk)
{
	struct journal_meta_entry *e = mc->buckets[meta_hash(mc, blk)];

	while (e && e->blk != blk)
		e = e->hash_next;
	return e;
}

/* Context: mc->lock held. */
static void __lru_unlink(struct journal_meta_cache *mc,
			 struct journal_meta_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		mc->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		mc->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

/* Context: mc->lock held. */
static void __lru_push_head(struct journal_meta_cache *mc,
			    struct journal_meta_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = mc->lru_head;
	if (mc->lru_head)
		mc->lru_head->lru_prev = e;
	mc->lru_head = e;
	if (!mc->lru_tail)
		mc->lru_tail = e;
}

/* Unhash, unlink and free @e. Context: mc->lock held. */
static void __meta_remove(struct journal_meta_cache *mc,
			  struct journal_meta_entry *e)
{
	struct journal_meta_entry **pp = &mc->buckets[meta_hash(mc, e->blk)];

	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	__lru_unlink(mc, e);
	mc->nr--;
	mc->used -= mc->granule;
	free(e);
}

/* Context: mc->lock held. */
static void __meta_drop_all(struct journal_meta_cache *mc)
{
	while (mc->lru_tail)
		__meta_remove(mc, mc->lru_tail);
}

/* Evict from the LRU tail until @extra more bytes fit. mc->lock held. */
static void __meta_shrink(struct journal_meta_cache *mc, size_t extra)
{
	while (mc->lru_tail && mc->used + extra > mc->budget) {
		__meta_remove(mc, mc->lru_tail);
		mc->evictions++;
	}
}

/* Double the table when entries outnumber buckets. mc->lock held. */
static void __meta_grow(struct journal_meta_cache *mc)
{
	size_t i, n = mc->nbuckets * 2;
	struct journal_meta_entry **nb, **old = mc->buckets;
	size_t oldn = mc->nbuckets;

	if (mc->nr < mc->nbuckets)
		return;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;		/* longer chains, still correct */
	mc->buckets = nb;
	mc->nbuckets = n;
	for (i = 0; i < oldn; i++) {
		struct journal_meta_entry *e = old[i], *next;

		for (; e; e = next) {
			size_t h = meta_hash(mc, e->blk);

			next = e->hash_next;
			e->hash_next = nb[h];
			nb[h] = e;
		}
	}
	free(old);
}

void journal_meta_fini(struct journal_meta_cache *mc)
{
	pthread_mutex_lock(&mc->lock);
	__meta_drop_all(mc);
	pthread_mutex_unlock(&mc->lock);
	free(mc->buckets);
	mc->buckets = NULL;
	pthread_mutex_destroy(&mc->lock);
}

unsigned int journal_meta_adopt_granule(struct journal_meta_cache *mc,
					unsigned int bytes)
{
	unsigned int g;

	pthread_mutex_lock(&mc->lock);
	if (bytes && (mc->granule == 0 || mc->nr == 0 || bytes > mc->granule)) {
		__meta_drop_all(mc);
		mc->granule = bytes;
		mc->seq++;
	}
	g = mc->granule;
	pthread_mutex_unlock(&mc->lock);
	return g;
}

unsigned int journal_meta_begin(struct journal_meta_cache *mc, uint64_t *seq,
				size_t *budget)
{
	unsigned int g;

	pthread_mutex_lock(&mc->lock);
	g = mc->budget >= mc->granule ? mc->granule : 0;
	*seq = mc->seq;
	*budget = mc->budget;
	pthread_mutex_unlock(&mc->lock);
	return g;
}

bool journal_meta_lookup(struct journal_meta_cache *mc, unsigned int granule,
			 uint64_t blk, void *dst, size_t off, size_t len)
{
	struct journal_meta_entry *e = NULL;

	pthread_mutex_lock(&mc->lock);
	if (granule == mc->granule)
		e = __meta_find(mc, blk);
	if (e) {
		memcpy(dst, e->data + off, len);
		__lru_unlink(mc, e);
		__lru_push_head(mc, e);
		mc->hits++;
	} else {
		mc->misses++;
	}
	pthread_mutex_unlock(&mc->lock);
	return e != NULL;
}

/* Insert or replace; Context: mc->lock held, granule == mc->granule. */
static void __meta_store(struct journal_meta_cache *mc, uint64_t blk,
			 const void *src)
{
	struct journal_meta_entry *e = __meta_find(mc, blk);
	size_t h;

	if (e) {
		memcpy(e->data, src, mc->granule);
		__lru_unlink(mc, e);
		__lru_push_head(mc, e);
		return;
	}
	if (mc->granule == 0 || mc->granule > mc->budget)
		return;
	__meta_shrink(mc, mc->granule);
	e = malloc(sizeof(*e) + mc->granule);
	if (!e)
		return;		/* a cache: simply not cached */
	e->blk = blk;
	e->data = (unsigned char *)(e + 1);
	memcpy(e->data, src, mc->granule);
	h = meta_hash(mc, blk);
	e->hash_next = mc->buckets[h];
	mc->buckets[h] = e;
	__lru_push_head(mc, e);
	mc->nr++;
	mc->used += mc->granule;
	mc->inserts++;
	__meta_grow(mc);
}

void journal_meta_insert(struct journal_meta_cache *mc, unsigned int granule,
			 uint64_t seq, uint64_t blk, const void *src)
{
	pthread_mutex_lock(&mc->lock);
	if (seq == mc->seq && granule == mc->granule)
		__meta_store(mc, blk, src);
	pthread_mutex_unlock(&mc->lock);
}

void journal_meta_write(struct journal_meta_cache *mc, unsigned int granule,
			uint64_t blk, const void *src, size_t off, size_t len,
			bool may_insert)
{
	struct journal_meta_entry *e;

	pthread_mutex_lock(&mc->lock);
	mc->seq++;
	if (granule == mc->granule) {
		e = __meta_find(mc, blk);
		if (e) {
			memcpy(e->data + off, src, len);
			__lru_unlink(mc, e);
			__lru_push_head(mc, e);
		} else if (may_insert && off == 0 && len == granule) {
			__meta_store(mc, blk, src);
		}
	}
	pthread_mutex_unlock(&mc->lock);
}

bool journal_meta_unchanged(struct journal_meta_cache *mc, uint64_t pos,
			    const void *src, size_t len)
{
	const unsigned char *p = src;
	uint64_t b, end = pos + len;
	unsigned int g;
	bool same = len > 0;

	pthread_mutex_lock(&mc->lock);
	g = mc->granule;
	if (!g || !mc->nr)
		same = false;
	for (b = same ? pos / g : 0; same && b * g < end; b++) {
		struct journal_meta_entry *e = __meta_find(mc, b);
		uint64_t s = b * g > pos ? b * g : pos;
		uint64_t e_end = (b + 1) * g < end ? (b + 1) * g : end;

		same = e && memcmp(e->data + (s - b * g), p + (s - pos),
				   (size_t)(e_end - s)) == 0;
	}
	if (same)
		mc->unchanged++;
	pthread_mutex_unlock(&mc->lock);
	return same;
}

void journal_meta_invalidate_bytes(struct journal_meta_cache *mc,
				   uint64_t pos, uint64_t len)
{
	struct journal_meta_entry *e, *prev;
	uint64_t first, last, b;

	if (!len)
		return;
	pthread_mutex_lock(&mc->lock);
	mc->seq++;
	if (!mc->granule || !mc->nr)
		goto out_unlock;
	first = pos / mc->granule;
	last = (pos + len - 1) / mc->granule;
	if (last - first < mc->nr) {
		for (b = first; b <= last; b++) {
			e = __meta_find(mc, b);
			if (e) {
				__meta_remove(mc, e);
				mc->invalidated++;
			}
		}
	} else {
		/* A huge range: walk the entries instead of the blocks. */
		for (e = mc->lru_tail; e; e = prev) {
			prev = e->lru_prev;
			if (e->blk >= first && e->blk <= last) {
				__meta_remove(mc, e);
				mc->invalidated++;
			}
		}
	}
out_unlock:
	pthread_mutex_unlock(&mc->lock);
}

void journal_meta_set_budget(struct journal_meta_cache *mc, size_t budget)
{
	pthread_mutex_lock(&mc->lock);
	mc->budget = budget;
	__meta_shrink(mc, 0);
	pthread_mutex_unlock(&mc->lock);
}

void journal_meta_stats(struct journal_meta_cache *mc,
			struct journal_io_stats *st)
{
	pthread_mutex_lock(&mc->lock);
	st->budget = mc->budget;
	st->cached_bytes = mc->used;
	st->nr_blocks = mc->nr;
	st->granule = mc->granule;
	st->hits = mc->hits;
	st->misses = mc->misses;
	st->inserts = mc->inserts;
	st->evictions = mc->evictions;
	st->invalidated = mc->invalidated;
	st->unchanged = mc->unchanged;
	pthread_mutex_unlock(&mc->lock);
}
