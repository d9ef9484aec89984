// SPDX-License-Identifier: MIT
/*
 * cache/cache.c — creation and teardown of the folio cache, statistics,
 * and the small time helpers shared by the component.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

/* Defaults for zero-valued knobs in struct cache_config. */
#define CACHE_DEFAULT_FOLIO_SIZE (64u * 1024)
#define CACHE_DEFAULT_BG_PCT 10
#define CACHE_DEFAULT_LIMIT_PCT 20
#define CACHE_DEFAULT_EXPIRE_MS 30000

uint64_t cache_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int cache_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t attr;
	int ret;

	ret = pthread_condattr_init(&attr);
	if (ret)
		return -ret;
	ret = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!ret)
		ret = pthread_cond_init(cv, &attr);
	pthread_condattr_destroy(&attr);
	return -ret;
}

void cache_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
			   uint64_t deadline_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ms / 1000),
		.tv_nsec = (long)(deadline_ms % 1000) * 1000000,
	};

	pthread_cond_timedwait(cv, mu, &ts);
}

static int cache_check_config(const struct cache_config *in,
			      struct cache_config *cfg)
{
	*cfg = *in;
	if (!cfg->ops || !cfg->ops->writeback || !cfg->budget_bytes)
		return -EINVAL;
	if (!cfg->folio_size)
		cfg->folio_size = CACHE_DEFAULT_FOLIO_SIZE;
	if (cfg->folio_size & (cfg->folio_size - 1) ||
	    cfg->folio_size < 4096 || cfg->folio_size > 256 * 1024)
		return -EINVAL;
	if (!cfg->dirty_background_pct)
		cfg->dirty_background_pct = CACHE_DEFAULT_BG_PCT;
	if (!cfg->dirty_limit_pct)
		cfg->dirty_limit_pct = CACHE_DEFAULT_LIMIT_PCT;
	if (cfg->dirty_limit_pct > 100 ||
	    cfg->dirty_background_pct > cfg->dirty_limit_pct)
		return -EINVAL;
	if (!cfg->expire_ms)
		cfg->expire_ms = CACHE_DEFAULT_EXPIRE_MS;
	return 0;
}

/**
 * cache_create() - see cache.h. Zero-valued knobs take defaults:
 * folio_size 64 KiB, dirty_background_pct 10, dirty_limit_pct 20,
 * expire_ms 30000. budget_bytes and ops->writeback are required.
 */
int cache_create(const struct cache_config *cfg, struct cache **out)
{
	struct cache *cache;
	int ret;

	if (!cfg)
		return -EINVAL;
	cache = calloc(1, sizeof(*cache));
	if (!cache)
		return -ENOMEM;
	ret = cache_check_config(cfg, &cache->cfg);
	if (ret)
		goto out_free;
	cache->bg_bytes = (size_t)((unsigned __int128)cache->cfg.budget_bytes *
				   cache->cfg.dirty_background_pct / 100);
	cache->limit_bytes = (size_t)((unsigned __int128)cache->cfg.budget_bytes *
				      cache->cfg.dirty_limit_pct / 100);
	cache_list_init(&cache->lru);
	cache_list_init(&cache->mappings);
	cache_list_init(&cache->wb_queue);
	atomic_init(&cache->hits, 0);
	atomic_init(&cache->misses, 0);
	cache->last_pass_progress = true;

	ret = -ENOMEM;
	if (pthread_mutex_init(&cache->lock, NULL))
		goto out_free;
	if (cache_cond_init(&cache->flusher_cv))
		goto out_destroy_lock;
	if (cache_cond_init(&cache->mem_cv))
		goto out_destroy_flusher_cv;
	if (cache_cond_init(&cache->dirty_cv))
		goto out_destroy_mem_cv;
	if (cache_cond_init(&cache->wb_done_cv))
		goto out_destroy_dirty_cv;
	ret = cache_flusher_start(cache);
	if (ret)
		goto out_destroy_wb_done_cv;
	*out = cache;
	return 0;

out_destroy_wb_done_cv:
	pthread_cond_destroy(&cache->wb_done_cv);
out_destroy_dirty_cv:
	pthread_cond_destroy(&cache->dirty_cv);
out_destroy_mem_cv:
	pthread_cond_destroy(&cache->mem_cv);
out_destroy_flusher_cv:
	pthread_cond_destroy(&cache->flusher_cv);
out_destroy_lock:
	pthread_mutex_destroy(&cache->lock);
out_free:
	free(cache);
	return ret;
}

void cache_destroy(struct cache *cache)
{
	if (!cache)
		return;
	cache_flusher_stop(cache);
	assert(cache_list_empty(&cache->mappings));
	assert(cache->used_bytes == 0 && cache->nr_folios == 0);
	pthread_cond_destroy(&cache->wb_done_cv);
	pthread_cond_destroy(&cache->dirty_cv);
	pthread_cond_destroy(&cache->mem_cv);
	pthread_cond_destroy(&cache->flusher_cv);
	pthread_mutex_destroy(&cache->lock);
	free(cache);
}

void cache_get_stats(struct cache *cache, struct cache_stats *st)
{
	pthread_mutex_lock(&cache->lock);
	st->budget_bytes = cache->cfg.budget_bytes;
	st->used_bytes = cache->used_bytes;
	st->dirty_bytes = cache->dirty_bytes;
	st->nr_folios = cache->nr_folios;
	st->reclaimed = cache->reclaimed;
	st->flusher_runs = cache->flusher_runs;
	pthread_mutex_unlock(&cache->lock);
	st->hits = atomic_load_explicit(&cache->hits, memory_order_relaxed);
	st->misses = atomic_load_explicit(&cache->misses,
					  memory_order_relaxed);
}
