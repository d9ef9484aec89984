// SPDX-License-Identifier: MIT
/*
 * cache/flusher.c — the flusher thread and writer throttling.
 *
 * The flusher wakes every second, or at once when asked (dirty data over
 * the background threshold, a writer over the hard limit, a folio creator
 * short of memory). A *pass* visits every mapping once, round robin, and
 * calls cache_ops.writeback on those that qualify:
 *   - memory pressure or a throttled writer: every dirty mapping, sync_all;
 *   - dirty bytes over the background threshold: every dirty mapping;
 *   - otherwise: mappings whose oldest dirty data is older than expire_ms.
 * The callback runs with no cache lock held; the mapping is pinned by
 * mapping->wb_busy, which cache_mapping_destroy() waits on.
 *
 * Queued writeback (cache_mapping_start_writeback(), the last close of a
 * file, like the kernel's filemap_flush()): the mapping goes on
 * cache->wb_queue and the flusher is woken. Before each pass decision the
 * flusher takes up to FLUSHER_QUEUE_BATCH queued mappings, in queue
 * order, and calls ops->writeback on each that is still dirty (not
 * sync_all), pinned by wb_busy exactly as in a pass; the batch limit lets
 * a pass for throttled writers or memory waiters in between. A failed
 * queued writeback is not requeued: its data stays dirty and expires into
 * a later pass, and the owner records the error for its next fsync.
 *
 *   closer                            flusher
 *   ──────                            ───────
 *   start_writeback: queue, wake
 *   (returns at once)                 dequeue, wb_busy, unlock
 *                                     ops->writeback (owner serializes
 *                                     it with its own sync writeback)
 *                                     lock, wb_busy = false, broadcast
 *
 * Errors and stalls: a callback's error is logged (once per pass) and the
 * mapping is retried on a later pass. A pass that called writeback but
 * cleaned nothing while dirty data remains is a stall: the flusher backs
 * off (100 ms doubling to 4 s) before honouring further wake-ups, and the
 * waiters in cache_balance_dirty() / cache_reserve() stop waiting after a
 * pass that made no progress (and do not start waiting while the last pass
 * made none), so nobody deadlocks on a device that refuses writes. Every
 * tick runs a pass, so that state is never older than a tick or a backoff.
 *
 *   flusher                         writer (cache_balance_dirty)
 *   ───────                         ───────────────────────────
 *                                   dirty > limit: wake, wait dirty_cv
 *   pass: wb_busy, unlock
 *   ops->writeback(sync_all)
 *     → clear_dirty → dirty_dropped
 *                                   woken: dirty <= limit, return
 *   lock, wb_busy = false
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define FLUSHER_TICK_MS 1000
#define FLUSHER_BACKOFF_MIN_MS 100
#define FLUSHER_BACKOFF_MAX_MS 4000
#define FLUSHER_QUEUE_BATCH 64

void __cache_wake_flusher(struct cache *cache)
{
	cache_assert_held(&cache->lock);
	if (!cache->wake_pending) {
		cache->wake_pending = true;
		pthread_cond_signal(&cache->flusher_cv);
	}
}

void __cache_dirty_dropped(struct cache *cache)
{
	cache_assert_held(&cache->lock);
	if (cache->dirty_waiters && cache->dirty_bytes <= cache->limit_bytes)
		pthread_cond_broadcast(&cache->dirty_cv);
}

bool cache_in_flusher(struct cache *cache)
{
	return pthread_equal(pthread_self(), cache->flusher);
}

void cache_wake_flusher(struct cache *cache)
{
	pthread_mutex_lock(&cache->lock);
	__cache_wake_flusher(cache);
	pthread_mutex_unlock(&cache->lock);
}

/**
 * cache_mapping_start_writeback() - see cache.h.
 */
void cache_mapping_start_writeback(struct cache_mapping *mapping)
{
	struct cache *cache = mapping->cache;

	pthread_mutex_lock(&cache->lock);
	if (!mapping->dying && !mapping->wb_queued &&
	    atomic_load(&mapping->dirty_bytes)) {
		cache_list_add_tail(&cache->wb_queue, &mapping->wb_node);
		mapping->wb_queued = true;
		pthread_cond_signal(&cache->flusher_cv);
	}
	pthread_mutex_unlock(&cache->lock);
}

/*
 * Write back up to FLUSHER_QUEUE_BATCH queued mappings (see the file
 * comment). Context: cache->lock held; dropped around each callback.
 */
static void flusher_run_queue(struct cache *cache)
{
	uint64_t cleaned0 = cache->cleaned_bytes;
	bool called = false, logged = false;

	for (unsigned int i = 0; i < FLUSHER_QUEUE_BATCH; i++) {
		struct cache_mapping *mapping;
		int ret;

		if (cache_list_empty(&cache->wb_queue) || cache->stop)
			break;
		mapping = cache_container_of(cache->wb_queue.next,
					     struct cache_mapping, wb_node);
		cache_list_del(&mapping->wb_node);
		mapping->wb_queued = false;
		if (mapping->dying || !mapping->dirty_bytes)
			continue;

		mapping->wb_busy = true;
		pthread_mutex_unlock(&cache->lock);
		ret = cache->cfg.ops->writeback(mapping, mapping->owner, false);
		pthread_mutex_lock(&cache->lock);
		mapping->wb_busy = false;
		pthread_cond_broadcast(&cache->wb_done_cv);
		called = true;
		if (ret && !logged) {
			fprintf(stderr, "uext4: cache: writeback failed: %s\n",
				strerror(-ret));
			logged = true;
		}
		if (mapping->dirty_bytes)
			mapping->dirty_since_ms = cache_now_ms();
	}
	if (called) {
		cache->flusher_runs++;
		if (cache->cleaned_bytes != cleaned0) {
			pthread_cond_broadcast(&cache->mem_cv);
			pthread_cond_broadcast(&cache->dirty_cv);
		}
	}
}

/*
 * One pass over all mappings. Context: cache->lock held; dropped around
 * each callback. Return: true if the pass stalled (see file comment).
 */
static bool flusher_pass(struct cache *cache)
{
	uint64_t mark = cache->pass_gen + 1;
	uint64_t cleaned0 = cache->cleaned_bytes;
	bool called = false, logged = false, progress;

	for (;;) {
		struct cache_mapping *mapping;
		bool pressure, over_bg, expired, sync_all;
		uint64_t now;
		int ret;

		if (cache_list_empty(&cache->mappings) || cache->stop)
			break;
		mapping = cache_container_of(cache->mappings.next,
					     struct cache_mapping, node);
		if (mapping->flush_gen == mark)
			break; /* every mapping visited */
		mapping->flush_gen = mark;
		cache_list_del(&mapping->node);
		cache_list_add_tail(&cache->mappings, &mapping->node);
		if (mapping->dying || !mapping->dirty_bytes)
			continue;

		now = cache_now_ms();
		/* Waiters keep asking for sync_all as long as they wait. */
		pressure = cache->mem_waiters || cache->dirty_waiters;
		over_bg = cache->dirty_bytes > cache->bg_bytes;
		expired = now - mapping->dirty_since_ms >=
			  cache->cfg.expire_ms;
		if (!pressure && !over_bg && !expired)
			continue;
		sync_all = pressure;

		mapping->wb_busy = true;
		pthread_mutex_unlock(&cache->lock);
		ret = cache->cfg.ops->writeback(mapping, mapping->owner,
						sync_all);
		pthread_mutex_lock(&cache->lock);
		mapping->wb_busy = false;
		pthread_cond_broadcast(&cache->wb_done_cv);
		called = true;
		if (ret && !logged) {
			fprintf(stderr, "uext4: cache: writeback failed: %s\n",
				strerror(-ret));
			logged = true;
		}
		/* Data left dirty (redirtied, or failed) expires anew. */
		if (mapping->dirty_bytes)
			mapping->dirty_since_ms = cache_now_ms();
	}

	if (called)
		cache->flusher_runs++;
	progress = !called || cache->cleaned_bytes != cleaned0 ||
		   !cache->dirty_bytes;
	cache->last_pass_progress = progress;
	cache->pass_gen++;
	pthread_cond_broadcast(&cache->mem_cv);
	pthread_cond_broadcast(&cache->dirty_cv);
	return !progress;
}

static void *flusher_main(void *arg)
{
	struct cache *cache = arg;
	uint64_t backoff = 0, not_before = 0, next_tick;

	pthread_mutex_lock(&cache->lock);
	next_tick = cache_now_ms() + FLUSHER_TICK_MS;
	while (!cache->stop) {
		uint64_t now, until;

		flusher_run_queue(cache);
		if (cache->stop)
			break;
		now = cache_now_ms();
		until = cache->wake_pending ? 0 : next_tick;
		if (until < not_before)
			until = not_before;
		if (now < until) {
			if (!cache_list_empty(&cache->wb_queue))
				continue; /* no pass due: next queue batch */
			cache_cond_wait_until(&cache->flusher_cv, &cache->lock,
					      until);
			continue;
		}
		cache->wake_pending = false;
		if (now >= next_tick)
			next_tick = now + FLUSHER_TICK_MS;
		if (flusher_pass(cache)) {
			backoff = backoff ? backoff * 2 : FLUSHER_BACKOFF_MIN_MS;
			if (backoff > FLUSHER_BACKOFF_MAX_MS)
				backoff = FLUSHER_BACKOFF_MAX_MS;
			not_before = cache_now_ms() + backoff;
		} else {
			backoff = 0;
			not_before = 0;
		}
	}
	pthread_mutex_unlock(&cache->lock);
	return NULL;
}

int cache_flusher_start(struct cache *cache)
{
	int ret;

	/*
	 * cache->flusher is written by pthread_create before the thread can
	 * compare against it under cache->lock (taken here around create).
	 */
	pthread_mutex_lock(&cache->lock);
	ret = pthread_create(&cache->flusher, NULL, flusher_main, cache);
	pthread_mutex_unlock(&cache->lock);
	return -ret;
}

void cache_flusher_stop(struct cache *cache)
{
	pthread_mutex_lock(&cache->lock);
	cache->stop = true;
	pthread_cond_broadcast(&cache->flusher_cv);
	pthread_cond_broadcast(&cache->mem_cv);
	pthread_cond_broadcast(&cache->dirty_cv);
	pthread_mutex_unlock(&cache->lock);
	pthread_join(cache->flusher, NULL);
}

/**
 * cache_balance_dirty() - see cache.h.
 *
 * The wait ends when dirty bytes drop to the limit, when a flusher pass
 * that ended after we started waiting made no progress (writeback is
 * failing: throttling would then deadlock, so the writer proceeds), or at
 * cache_destroy(). No wait at all while the last pass made no progress
 * (the flusher is backing off). The flusher itself is never throttled.
 */
void cache_balance_dirty(struct cache *cache)
{
	uint64_t gen0;

	pthread_mutex_lock(&cache->lock);
	if (cache->dirty_bytes > cache->bg_bytes)
		__cache_wake_flusher(cache);
	if (cache->dirty_bytes <= cache->limit_bytes || cache_in_flusher(cache))
		goto out_unlock;
	if (!cache->last_pass_progress)
		goto out_unlock; /* the flusher is backing off: waiting is futile */
	gen0 = cache->pass_gen;
	cache->dirty_waiters++;
	while (cache->dirty_bytes > cache->limit_bytes && !cache->stop) {
		if (cache->pass_gen > gen0 && !cache->last_pass_progress)
			break;
		__cache_wake_flusher(cache);
		cache_cond_wait_until(&cache->dirty_cv, &cache->lock,
				      cache_now_ms() + FLUSHER_TICK_MS);
	}
	cache->dirty_waiters--;
out_unlock:
	pthread_mutex_unlock(&cache->lock);
}
