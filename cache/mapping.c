// SPDX-License-Identifier: MIT
/*
 * cache/mapping.c — mappings: one folio index per file, with ordered
 * lookups (all folios or dirty ones, through the index's dirty tag), range
 * removal for truncate/punch, and teardown.
 *
 * It does not write anything back: cache_mapping_destroy() discards dirty
 * data, the owner writes back first if it wants it.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int cache_mapping_create(struct cache *cache, unsigned int blkbits,
			 void *owner, struct cache_mapping **out)
{
	struct cache_mapping *mapping;
	unsigned int shift;

	if (blkbits < 9 || blkbits > 16)
		return -EINVAL;
	mapping = calloc(1, sizeof(*mapping));
	if (!mapping)
		return -ENOMEM;
	if (pthread_mutex_init(&mapping->lock, NULL))
		goto out_free;
	if (pthread_cond_init(&mapping->orphan_cv, NULL))
		goto out_destroy_lock;

	shift = (unsigned int)__builtin_ctzll(cache->cfg.folio_size);
	if (shift < blkbits)
		shift = blkbits;
	if (shift > blkbits + 6)
		shift = blkbits + 6; /* CACHE_MAX_FOLIO_BLOCKS */
	mapping->cache = cache;
	mapping->owner = owner;
	mapping->blkbits = blkbits;
	mapping->folio_shift = shift;
	mapping->blocks_per_folio = 1u << (shift - blkbits);
	cache_index_init(&mapping->index);
	atomic_init(&mapping->nr_folios, 0);
	atomic_init(&mapping->dirty_bytes, 0);
	cache_list_init(&mapping->wb_node);

	pthread_mutex_lock(&cache->lock);
	cache_list_add_tail(&cache->mappings, &mapping->node);
	pthread_mutex_unlock(&cache->lock);
	*out = mapping;
	return 0;

out_destroy_lock:
	pthread_mutex_destroy(&mapping->lock);
out_free:
	free(mapping);
	return -ENOMEM;
}

void cache_mapping_destroy(struct cache_mapping *mapping)
{
	struct cache *cache = mapping->cache;
	struct cache_folio_state *fs;
	uint64_t key;

	/* Wait for a flusher callback on this mapping, then unlist it. */
	pthread_mutex_lock(&cache->lock);
	mapping->dying = true;
	if (mapping->wb_queued) {
		cache_list_del(&mapping->wb_node);
		mapping->wb_queued = false;
	}
	while (mapping->wb_busy)
		pthread_cond_wait(&cache->wb_done_cv, &cache->lock);
	cache_list_del(&mapping->node);
	pthread_mutex_unlock(&cache->lock);

	pthread_mutex_lock(&mapping->lock);
	while ((fs = cache_index_next(&mapping->index, 0, false, &key))) {
		cache_index_delete(&mapping->index, key);
		fs->in_index = false;
		atomic_fetch_sub_explicit(&mapping->nr_folios, 1,
					  memory_order_relaxed);
		if (fs->refcount == 0)
			__cache_folio_free(mapping, fs);
		else
			mapping->nr_orphans++; /* under I/O: freed by put */
	}
	while (mapping->nr_orphans)
		pthread_cond_wait(&mapping->orphan_cv, &mapping->lock);
	pthread_mutex_unlock(&mapping->lock);

	assert(atomic_load(&mapping->dirty_bytes) == 0);
	cache_index_fini(&mapping->index);
	pthread_cond_destroy(&mapping->orphan_cv);
	pthread_mutex_destroy(&mapping->lock);
	free(mapping);
}

unsigned int cache_folio_shift(const struct cache_mapping *mapping)
{
	return mapping->folio_shift;
}

unsigned int cache_mapping_blkbits(const struct cache_mapping *mapping)
{
	return mapping->blkbits;
}

static unsigned int mapping_gang_lookup(struct cache_mapping *mapping,
					uint64_t start, uint64_t end,
					bool dirty, struct cache_folio **folios,
					unsigned int max)
{
	struct cache_folio_state *fs;
	unsigned int n = 0;
	uint64_t key;

	pthread_mutex_lock(&mapping->lock);
	while (n < max && start < end) {
		fs = cache_index_next(&mapping->index, start, dirty, &key);
		if (!fs || key >= end)
			break;
		__cache_folio_get_ref(mapping, fs);
		folios[n++] = &fs->folio;
		if (key == UINT64_MAX)
			break;
		start = key + 1;
	}
	pthread_mutex_unlock(&mapping->lock);
	return n;
}

unsigned int cache_mapping_dirty_lookup(struct cache_mapping *mapping,
					uint64_t start_index,
					uint64_t end_index,
					struct cache_folio **folios,
					unsigned int max)
{
	return mapping_gang_lookup(mapping, start_index, end_index, true,
				   folios, max);
}

unsigned int cache_mapping_lookup_range(struct cache_mapping *mapping,
					uint64_t start_index,
					uint64_t end_index,
					struct cache_folio **folios,
					unsigned int max)
{
	return mapping_gang_lookup(mapping, start_index, end_index, false,
				   folios, max);
}

/*
 * Lock-free read: dirty_bytes is only written under cache->lock, and a
 * snapshot is all the caller can use anyway (it may change right after).
 */
bool cache_mapping_has_dirty(const struct cache_mapping *mapping)
{
	return atomic_load_explicit(&mapping->dirty_bytes,
				    memory_order_acquire) != 0;
}

size_t cache_mapping_nr_folios(const struct cache_mapping *mapping)
{
	return atomic_load_explicit(&mapping->nr_folios,
				    memory_order_relaxed);
}

/* Take a locked folio out of the index; the caller's put frees it. */
static void mapping_evict(struct cache_mapping *mapping,
			  struct cache_folio_state *fs)
{
	pthread_mutex_lock(&mapping->lock);
	if (fs->in_index) {
		cache_index_delete(&mapping->index, fs->folio.index);
		fs->in_index = false;
		atomic_fetch_sub_explicit(&mapping->nr_folios, 1,
					  memory_order_relaxed);
		mapping->nr_orphans++;
	}
	pthread_mutex_unlock(&mapping->lock);
}

/* Forget bytes [start, end) of @folio, which overlaps them. Folio locked. */
static void mapping_remove_in_folio(struct cache_folio *folio, uint64_t start,
				    uint64_t end)
{
	struct cache_mapping *mapping = folio->mapping;
	unsigned int shift = mapping->folio_shift;
	uint64_t fstart = folio->index << shift;
	uint64_t fend = fstart + ((uint64_t)1 << shift);
	uint64_t s = start > fstart ? start : fstart;
	uint64_t e = end < fend ? end : fend;
	unsigned int first = (unsigned int)((s - fstart) >> mapping->blkbits);
	unsigned int nr = (unsigned int)((e - s) >> mapping->blkbits);

	if (s == fstart && e == fend) {
		cache_folio_clear_dirty(folio, 0, mapping->blocks_per_folio);
		folio->uptodate = 0;
		mapping_evict(mapping, cache_fs(folio));
		return;
	}
	cache_folio_clear_dirty(folio, first, nr);
	if (nr)
		folio->uptodate &= ~(((nr >= 64) ? ~UINT64_C(0) :
				      (UINT64_C(1) << nr) - 1) << first);
	memset((char *)folio->data + (s - fstart), 0, e - s);
}

#define REMOVE_BATCH 16

void cache_mapping_remove_range(struct cache_mapping *mapping, uint64_t start,
				uint64_t end)
{
	struct cache_folio *batch[REMOVE_BATCH];
	unsigned int shift = mapping->folio_shift;
	uint64_t first, last;
	unsigned int n, i;

	assert(!(start & (((uint64_t)1 << mapping->blkbits) - 1)));
	assert(end == UINT64_MAX ||
	       !(end & (((uint64_t)1 << mapping->blkbits) - 1)));
	if (end <= start)
		return;
	first = start >> shift;
	last = end == UINT64_MAX ? UINT64_MAX : ((end - 1) >> shift) + 1;

	while (first < last &&
	       (n = cache_mapping_lookup_range(mapping, first, last, batch,
					       REMOVE_BATCH))) {
		for (i = 0; i < n; i++) {
			cache_folio_lock(batch[i]);
			cache_folio_wait_writeback(batch[i]);
			mapping_remove_in_folio(batch[i], start, end);
			cache_folio_unlock(batch[i]);
		}
		if (batch[n - 1]->index == UINT64_MAX)
			first = UINT64_MAX;
		else
			first = batch[n - 1]->index + 1;
		for (i = 0; i < n; i++)
			cache_folio_put(batch[i]);
	}
}
