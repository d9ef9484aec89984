// SPDX-License-Identifier: MIT
/*
 * cache/reclaim.c — the memory budget: reservations for new folios, the LRU
 * of clean unreferenced folios, and reclaim from its cold end.
 *
 * The LRU holds exactly the folios that can be freed at once: in the index,
 * unreferenced, clean (and therefore not under writeback, which holds a
 * reference). So reclaim never scans past dirty or busy folios: it takes the
 * oldest entry whose mapping lock it can get.
 *
 * When nothing is reclaimable, a creator wakes the flusher (memory pressure:
 * sync_all writeback) and waits. The wait is bounded so that it can never
 * deadlock: the creator gives up and allocates over budget when
 *   - it is the flusher thread itself (writeback must not wait for itself);
 *   - the last flusher pass made no progress (the flusher is backing off);
 *   - a flusher pass that ended after its request made no progress (the
 *     owner's writeback fails or finds nothing to clean), or two passes
 *     ended (the second began after the request) and still nothing is
 *     reclaimable (all memory is held by references).
 * Going over budget is therefore transient and bounded by the number of
 * folios that threads hold referenced at one time.
 */
#include <assert.h>
#include <errno.h>

#include "internal.h"

/* Bound on the LRU entries one reclaim attempt skips for busy mappings. */
#define RECLAIM_SCAN_MAX 64

void __cache_lru_add(struct cache *cache, struct cache_folio_state *fs)
{
	cache_assert_held(&cache->lock);
	assert(!fs->on_lru);
	cache_list_add_tail(&cache->lru, &fs->lru);
	fs->on_lru = true;
	if (cache->mem_waiters)
		pthread_cond_signal(&cache->mem_cv);
}

void __cache_lru_del(struct cache *cache, struct cache_folio_state *fs)
{
	cache_assert_held(&cache->lock);
	assert(fs->on_lru);
	cache_list_del(&fs->lru);
	fs->on_lru = false;
}

/*
 * Take the coldest reclaimable folio out of the index and the LRU and give
 * back its budget; the caller frees or recycles it. Context: cache->lock
 * held. The victim's mapping lock ranks above cache->lock, so it is only
 * tried; the mapping cannot go away meanwhile because
 * cache_mapping_destroy() takes each folio off the LRU under cache->lock
 * before freeing the mapping.
 */
static struct cache_folio_state *reclaim_one(struct cache *cache)
{
	struct cache_list *it = cache->lru.next;
	unsigned int scanned = 0;

	cache_assert_held(&cache->lock);
	while (it != &cache->lru && scanned++ < RECLAIM_SCAN_MAX) {
		struct cache_folio_state *fs =
			cache_container_of(it, struct cache_folio_state, lru);
		struct cache_mapping *mapping = fs->folio.mapping;

		it = it->next;
		if (pthread_mutex_trylock(&mapping->lock))
			continue;
		assert(fs->refcount == 0 && fs->in_index && !fs->folio.dirty);
		cache_index_delete(&mapping->index, fs->folio.index);
		fs->in_index = false;
		atomic_fetch_sub_explicit(&mapping->nr_folios, 1,
					  memory_order_relaxed);
		__cache_lru_del(cache, fs);
		cache->used_bytes -= fs->size;
		cache->nr_folios--;
		cache->reclaimed++;
		pthread_mutex_unlock(&mapping->lock);
		return fs;
	}
	return NULL;
}

/**
 * cache_reserve() - see internal.h.
 *
 * A reclaimed folio of the requested size is handed back in *@recycled
 * (its memory is already faulted in, which saves the allocator and page
 * faults on the hot path of streaming through a full cache); others are
 * freed.
 */
int cache_reserve(struct cache *cache, size_t size, bool nowait,
		  struct cache_folio_state **recycled)
{
	struct cache_folio_state *victim;
	bool waited = false;
	uint64_t gen0 = 0;

	*recycled = NULL;
	pthread_mutex_lock(&cache->lock);
	while (cache->used_bytes + size > cache->cfg.budget_bytes) {
		victim = reclaim_one(cache);
		if (victim) {
			if (!*recycled && victim->size == size)
				*recycled = victim;
			else
				cache_folio_free_reclaimed(victim);
			continue;
		}
		if (nowait) {
			pthread_mutex_unlock(&cache->lock);
			if (*recycled)
				cache_folio_free_reclaimed(*recycled);
			*recycled = NULL;
			return -EAGAIN;
		}
		if (cache_in_flusher(cache) || cache->stop ||
		    !cache->last_pass_progress)
			break;
		if (!waited) {
			waited = true;
			gen0 = cache->pass_gen;
		} else if ((cache->pass_gen > gen0 &&
			    !cache->last_pass_progress) ||
			   cache->pass_gen >= gen0 + 2) {
			break; /* over budget rather than deadlock */
		}
		__cache_wake_flusher(cache);
		cache->mem_waiters++;
		/* The timeout is only a safety net; passes broadcast. */
		cache_cond_wait_until(&cache->mem_cv, &cache->lock,
				      cache_now_ms() + 1000);
		cache->mem_waiters--;
	}
	cache->used_bytes += size;
	pthread_mutex_unlock(&cache->lock);
	return 0;
}

void cache_unreserve(struct cache *cache, size_t size)
{
	pthread_mutex_lock(&cache->lock);
	cache->used_bytes -= size;
	if (cache->mem_waiters)
		pthread_cond_broadcast(&cache->mem_cv);
	pthread_mutex_unlock(&cache->lock);
}
