// SPDX-License-Identifier: MIT
/*
 * cache/folio.c — folios: lookup and creation, reference counts, the folio
 * lock, per-block uptodate/dirty bitmaps with dirty accounting, and the
 * writeback bit with its waiters.
 *
 * It does not decide what is written where (the mapping owner does, through
 * cache_ops.writeback) and does no I/O.
 *
 * Folio state machine (bits of one folio; "ref" = reference count):
 *
 *        get(CREAT)            mark_dirty             start_writeback
 *   [new, ref 1] ──▶ [clean] ─────────────▶ [dirty] ─clear_dirty─▶ [writeback]
 *                      ▲  │ put → ref 0                               │
 *                      │  ▼                                           │
 *                    [on LRU] ──reclaim──▶ freed       end_writeback ─┘
 *                                                     (→ clean, ref - 1)
 *
 * A dirty folio never sits on the LRU: it leaves the dirty state only
 * under its folio lock (so with a reference), and the put that drops the
 * last reference puts it on the LRU if it is clean by then.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint64_t folio_block_mask(const struct cache_folio *folio,
				 unsigned int first, unsigned int nr)
{
	assert(first + nr <= folio->mapping->blocks_per_folio);
	(void)folio;
	if (nr == 0)
		return 0;
	if (nr >= 64)
		return ~UINT64_C(0);
	return ((UINT64_C(1) << nr) - 1) << first;
}

/*
 * Make a folio for @index of @mapping: a recycled one (reclaimed from any
 * mapping, same size, unreachable by anyone) or a new allocation. Its data
 * is zeroed either way: never hand out another file's stale bytes, even by
 * mistake.
 */
static struct cache_folio_state *folio_alloc(struct cache_mapping *mapping,
					     uint64_t index, size_t size,
					     struct cache_folio_state *recycled)
{
	struct cache_folio_state *fs = recycled;

	if (fs) {
		assert(fs->size == size && !fs->refcount && !fs->locked &&
		       !fs->writeback && !fs->waiters && !fs->on_lru);
		memset(fs->folio.data, 0, size);
		fs->folio.mapping = mapping;
		fs->folio.index = index;
		fs->folio.uptodate = 0;
		fs->folio.dirty = 0;
		fs->folio.error = 0;
		return fs;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	if (posix_memalign(&fs->folio.data, 4096, size))
		goto out_free_state;
	memset(fs->folio.data, 0, size);
	if (pthread_mutex_init(&fs->mu, NULL))
		goto out_free_data;
	if (pthread_cond_init(&fs->cv, NULL))
		goto out_destroy_mu;
	fs->folio.mapping = mapping;
	fs->folio.index = index;
	fs->size = size;
	cache_list_init(&fs->lru);
	return fs;

out_destroy_mu:
	pthread_mutex_destroy(&fs->mu);
out_free_data:
	free(fs->folio.data);
out_free_state:
	free(fs);
	return NULL;
}

static void folio_free_memory(struct cache_folio_state *fs)
{
	pthread_cond_destroy(&fs->cv);
	pthread_mutex_destroy(&fs->mu);
	free(fs->folio.data);
	free(fs);
}

void __cache_folio_free(struct cache_mapping *mapping,
			struct cache_folio_state *fs)
{
	struct cache *cache = mapping->cache;

	cache_assert_held(&mapping->lock);
	assert(fs->refcount == 0 && !fs->in_index);
	pthread_mutex_lock(&cache->lock);
	if (fs->on_lru)
		__cache_lru_del(cache, fs);
	if (fs->folio.dirty) {
		size_t bytes = (size_t)__builtin_popcountll(fs->folio.dirty)
			       << mapping->blkbits;

		cache->dirty_bytes -= bytes;
		mapping->dirty_bytes -= bytes;
		if (!mapping->dirty_bytes)
			mapping->dirty_since_ms = 0;
		__cache_dirty_dropped(cache);
	}
	cache->used_bytes -= fs->size;
	cache->nr_folios--;
	if (cache->mem_waiters)
		pthread_cond_broadcast(&cache->mem_cv);
	pthread_mutex_unlock(&cache->lock);
	folio_free_memory(fs);
}

void __cache_folio_get_ref(struct cache_mapping *mapping,
			   struct cache_folio_state *fs)
{
	cache_assert_held(&mapping->lock);
	if (fs->refcount++ == 0) {
		pthread_mutex_lock(&mapping->cache->lock);
		if (fs->on_lru)
			__cache_lru_del(mapping->cache, fs);
		pthread_mutex_unlock(&mapping->cache->lock);
	}
}

/* Reclaim's half of freeing: the folio is already out of every list. */
void cache_folio_free_reclaimed(struct cache_folio_state *fs)
{
	folio_free_memory(fs);
}

/**
 * cache_folio_get() - see cache.h.
 *
 * A miss allocates outside every lock (the budget is reserved first) and
 * then inserts under the index lock; if another thread inserted the same
 * index meanwhile, its folio wins and ours is given back.
 */
int cache_folio_get(struct cache_mapping *mapping, uint64_t index,
		    unsigned int fgp_flags, struct cache_folio **out)
{
	struct cache *cache = mapping->cache;
	size_t size = (size_t)1 << mapping->folio_shift;
	struct cache_folio_state *fs, *other, *recycled;
	int ret;

	pthread_mutex_lock(&mapping->lock);
	fs = cache_index_lookup(&mapping->index, index);
	if (fs) {
		__cache_folio_get_ref(mapping, fs);
		pthread_mutex_unlock(&mapping->lock);
		atomic_fetch_add_explicit(&cache->hits, 1,
					  memory_order_relaxed);
		goto out_found;
	}
	pthread_mutex_unlock(&mapping->lock);
	atomic_fetch_add_explicit(&cache->misses, 1, memory_order_relaxed);
	if (!(fgp_flags & CACHE_FGP_CREAT))
		return -ENOENT;

	ret = cache_reserve(cache, size, fgp_flags & CACHE_FGP_NOWAIT,
			    &recycled);
	if (ret)
		return ret;
	fs = folio_alloc(mapping, index, size, recycled);
	if (!fs) {
		ret = -ENOMEM;
		goto out_unreserve;
	}
	fs->refcount = 1;
	fs->in_index = true;
	fs->locked = fgp_flags & CACHE_FGP_LOCK;

	pthread_mutex_lock(&mapping->lock);
	other = cache_index_lookup(&mapping->index, index);
	if (other) {
		__cache_folio_get_ref(mapping, other);
		pthread_mutex_unlock(&mapping->lock);
		folio_free_memory(fs);
		cache_unreserve(cache, size);
		fs = other;
		goto out_found;
	}
	ret = cache_index_insert(&mapping->index, index, fs);
	if (ret) {
		pthread_mutex_unlock(&mapping->lock);
		folio_free_memory(fs);
		goto out_unreserve;
	}
	atomic_fetch_add_explicit(&mapping->nr_folios, 1,
				  memory_order_relaxed);
	pthread_mutex_lock(&cache->lock);
	cache->nr_folios++;
	pthread_mutex_unlock(&cache->lock);
	pthread_mutex_unlock(&mapping->lock);
	*out = &fs->folio;
	return 0;

out_found:
	if (fgp_flags & CACHE_FGP_LOCK)
		cache_folio_lock(&fs->folio);
	*out = &fs->folio;
	return 0;

out_unreserve:
	cache_unreserve(cache, size);
	return ret;
}

void cache_folio_put(struct cache_folio *folio)
{
	struct cache_folio_state *fs = cache_fs(folio);
	struct cache_mapping *mapping = folio->mapping;

	pthread_mutex_lock(&mapping->lock);
	assert(fs->refcount > 0);
	if (--fs->refcount == 0) {
		if (!fs->in_index) {
			/* An orphan: removed from the index while in use. */
			__cache_folio_free(mapping, fs);
			if (--mapping->nr_orphans == 0)
				pthread_cond_broadcast(&mapping->orphan_cv);
		} else if (!folio->dirty) {
			/*
			 * Nobody holds the folio lock (that needs a
			 * reference), so ->dirty is stable here.
			 */
			pthread_mutex_lock(&mapping->cache->lock);
			__cache_lru_add(mapping->cache, fs);
			pthread_mutex_unlock(&mapping->cache->lock);
		}
	}
	pthread_mutex_unlock(&mapping->lock);
}

void cache_folio_lock(struct cache_folio *folio)
{
	struct cache_folio_state *fs = cache_fs(folio);

	pthread_mutex_lock(&fs->mu);
	while (fs->locked) {
		fs->waiters++;
		pthread_cond_wait(&fs->cv, &fs->mu);
		fs->waiters--;
	}
	fs->locked = true;
	pthread_mutex_unlock(&fs->mu);
}

bool cache_folio_trylock(struct cache_folio *folio)
{
	struct cache_folio_state *fs = cache_fs(folio);
	bool taken = false;

	pthread_mutex_lock(&fs->mu);
	if (!fs->locked)
		taken = fs->locked = true;
	pthread_mutex_unlock(&fs->mu);
	return taken;
}

void cache_folio_unlock(struct cache_folio *folio)
{
	struct cache_folio_state *fs = cache_fs(folio);

	pthread_mutex_lock(&fs->mu);
	assert(fs->locked);
	fs->locked = false;
	if (fs->waiters)
		pthread_cond_broadcast(&fs->cv);
	pthread_mutex_unlock(&fs->mu);
}

void cache_folio_mark_uptodate(struct cache_folio *folio, unsigned int first,
			       unsigned int nr)
{
	folio->uptodate |= folio_block_mask(folio, first, nr);
}

void cache_folio_mark_dirty(struct cache_folio *folio, unsigned int first,
			    unsigned int nr)
{
	struct cache_folio_state *fs = cache_fs(folio);
	struct cache_mapping *mapping = folio->mapping;
	struct cache *cache = mapping->cache;
	uint64_t mask = folio_block_mask(folio, first, nr);
	uint64_t newly = mask & ~folio->dirty;
	bool was_clean = folio->dirty == 0;
	size_t bytes;

	folio->uptodate |= mask;
	if (!newly)
		return;
	folio->dirty |= mask;
	bytes = (size_t)__builtin_popcountll(newly) << mapping->blkbits;

	pthread_mutex_lock(&mapping->lock);
	if (was_clean && fs->in_index)
		cache_index_set_tag(&mapping->index, folio->index, true);
	pthread_mutex_lock(&cache->lock);
	cache->dirty_bytes += bytes;
	if (!mapping->dirty_bytes)
		mapping->dirty_since_ms = cache_now_ms();
	mapping->dirty_bytes += bytes;
	pthread_mutex_unlock(&cache->lock);
	pthread_mutex_unlock(&mapping->lock);
}

void cache_folio_clear_dirty(struct cache_folio *folio, unsigned int first,
			     unsigned int nr)
{
	struct cache_folio_state *fs = cache_fs(folio);
	struct cache_mapping *mapping = folio->mapping;
	struct cache *cache = mapping->cache;
	uint64_t cleared = folio_block_mask(folio, first, nr) & folio->dirty;
	size_t bytes;

	if (!cleared)
		return;
	folio->dirty &= ~cleared;
	bytes = (size_t)__builtin_popcountll(cleared) << mapping->blkbits;

	pthread_mutex_lock(&mapping->lock);
	if (!folio->dirty && fs->in_index)
		cache_index_set_tag(&mapping->index, folio->index, false);
	pthread_mutex_lock(&cache->lock);
	cache->dirty_bytes -= bytes;
	mapping->dirty_bytes -= bytes;
	if (!mapping->dirty_bytes)
		mapping->dirty_since_ms = 0;
	cache->cleaned_bytes += bytes;
	__cache_dirty_dropped(cache);
	pthread_mutex_unlock(&cache->lock);
	pthread_mutex_unlock(&mapping->lock);
}

/*
 * The writeback bit holds a reference of its own, so a folio under I/O
 * is neither reclaimed nor freed (an orphan waits for end_writeback), and
 * cache_mapping_destroy() waits for the I/O through its orphan wait.
 */
void cache_folio_start_writeback(struct cache_folio *folio)
{
	struct cache_folio_state *fs = cache_fs(folio);
	struct cache_mapping *mapping = folio->mapping;

	pthread_mutex_lock(&mapping->lock);
	__cache_folio_get_ref(mapping, fs);
	pthread_mutex_unlock(&mapping->lock);

	pthread_mutex_lock(&fs->mu);
	assert(fs->locked && !fs->writeback);
	fs->writeback = true;
	pthread_mutex_unlock(&fs->mu);
}

void cache_folio_end_writeback(struct cache_folio *folio)
{
	struct cache_folio_state *fs = cache_fs(folio);

	pthread_mutex_lock(&fs->mu);
	assert(fs->writeback);
	fs->writeback = false;
	if (fs->waiters)
		pthread_cond_broadcast(&fs->cv);
	pthread_mutex_unlock(&fs->mu);
	cache_folio_put(folio);
}

void cache_folio_wait_writeback(struct cache_folio *folio)
{
	struct cache_folio_state *fs = cache_fs(folio);

	pthread_mutex_lock(&fs->mu);
	while (fs->writeback) {
		fs->waiters++;
		pthread_cond_wait(&fs->cv, &fs->mu);
		fs->waiters--;
	}
	pthread_mutex_unlock(&fs->mu);
}

bool cache_folio_under_writeback(const struct cache_folio *folio)
{
	/* Locking a mutex is not a logical modification of the folio. */
	struct cache_folio_state *fs = cache_fs((struct cache_folio *)folio);
	bool wb;

	pthread_mutex_lock(&fs->mu);
	wb = fs->writeback;
	pthread_mutex_unlock(&fs->mu);
	return wb;
}
