// SPDX-License-Identifier: MIT
/*
 * journal/meta_cache.c — the metadata block cache behind the io_manager:
 * block-sized entries ("granules") keyed by block number in a chained hash
 * table, a byte budget (entries × granule size), and two lists: clean
 * entries in LRU order, dirty entries in the order they became dirty.
 *
 * Write-back: a write lands in the cache and marks the entry dirty; the
 * io_manager writes dirty entries to the device later, in batches
 * (journal_meta_wb_begin/_end), at a flush, under budget pressure, or
 * once the oldest is older than the interval. Eviction frees clean
 * entries only; a write may overshoot the budget until the writeback
 * that the overshoot asks for has run.
 *
 * Entry states (the lock protects every transition):
 *
 *	          read miss, insert           write
 *	(absent) ------------------> CLEAN ----------> DIRTY <--+ write
 *	   ^  ^   write (whole)        |  ^               |  |   |
 *	   |  +------------------------|--|---------------+  +---+
 *	   |        evict, invalidate  |  |  wb_end (ok,   |
 *	   +---------------------------+  |  unchanged)    |
 *	   |                              +----------------+
 *	   +---- invalidate (dropped, never written) ------+
 *
 * A failed write keeps the entry DIRTY with a fresh age.
 *
 * It does no I/O and knows nothing of libext2fs. One mutex, a leaf lock:
 * never held across I/O or calls out of this file; the only wait is an
 * invalidation that overlaps the writeback in flight (wb_done).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define META_MIN_BUCKETS 64u

static uint64_t meta_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t meta_hash(const struct journal_meta_cache *mc, uint64_t blk)
{
	return (size_t)((blk * 0x9E3779B97F4A7C15ull) >> 32) &
	       (mc->nbuckets - 1);
}

int journal_meta_init(struct journal_meta_cache *mc, size_t budget,
		      unsigned int interval_ms)
{
	int ret;

	memset(mc, 0, sizeof(*mc));
	mc->budget = budget;
	mc->interval_ns = (uint64_t)(interval_ms ? interval_ms :
				     JOURNAL_IO_INTERVAL_DEFAULT_MS) * 1000000ull;
	mc->nbuckets = META_MIN_BUCKETS;
	mc->buckets = calloc(mc->nbuckets, sizeof(*mc->buckets));
	if (!mc->buckets)
		return -ENOMEM;
	ret = pthread_mutex_init(&mc->lock, NULL);
	if (ret)
		goto out_free_buckets;
	ret = pthread_cond_init(&mc->wb_done, NULL);
	if (ret)
		goto out_destroy_lock;
	return 0;

out_destroy_lock:
	pthread_mutex_destroy(&mc->lock);
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

static struct journal_meta_list *__list_of(struct journal_meta_cache *mc,
					   struct journal_meta_entry *e)
{
	return e->dirty ? &mc->dirty : &mc->lru;
}

/* Context: mc->lock held; @e is on the list its state names. */
static void __list_unlink(struct journal_meta_cache *mc,
			  struct journal_meta_entry *e)
{
	struct journal_meta_list *l = __list_of(mc, e);

	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

/* Context: mc->lock held; @e is on no list. */
static void __list_push_head(struct journal_meta_cache *mc,
			     struct journal_meta_entry *e)
{
	struct journal_meta_list *l = __list_of(mc, e);

	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	l->head = e;
	if (!l->tail)
		l->tail = e;
}

/* Clean → dirty, or a change to a dirty entry. Context: mc->lock held. */
static void __meta_dirty(struct journal_meta_cache *mc,
			 struct journal_meta_entry *e, uint64_t now)
{
	e->gen = ++mc->wgen;
	if (e->dirty)
		return;
	__list_unlink(mc, e);
	e->dirty = true;
	e->dirtied_ns = now;
	__list_push_head(mc, e);
	mc->nr_dirty++;
}

/* Dirty → clean, most recently used. Context: mc->lock held. */
static void __meta_clean(struct journal_meta_cache *mc,
			 struct journal_meta_entry *e)
{
	__list_unlink(mc, e);
	e->dirty = false;
	__list_push_head(mc, e);
	mc->nr_dirty--;
}

/* Unhash, unlink and free @e, dirty or not. Context: mc->lock held. */
static void __meta_remove(struct journal_meta_cache *mc,
			  struct journal_meta_entry *e)
{
	struct journal_meta_entry **pp = &mc->buckets[meta_hash(mc, e->blk)];

	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	__list_unlink(mc, e);
	if (e->dirty)
		mc->nr_dirty--;
	mc->nr--;
	mc->used -= mc->granule;
	free(e);
}

/* Context: mc->lock held. */
static void __meta_drop_all(struct journal_meta_cache *mc)
{
	while (mc->lru.tail)
		__meta_remove(mc, mc->lru.tail);
	while (mc->dirty.tail)
		__meta_remove(mc, mc->dirty.tail);
}

/*
 * Evict clean entries from the LRU tail until @extra more bytes fit.
 * Return: true if they fit. Context: mc->lock held.
 */
static bool __meta_shrink(struct journal_meta_cache *mc, size_t extra)
{
	while (mc->lru.tail && mc->used + extra > mc->budget) {
		__meta_remove(mc, mc->lru.tail);
		mc->evictions++;
	}
	return mc->used + extra <= mc->budget;
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
	pthread_cond_destroy(&mc->wb_done);
	pthread_mutex_destroy(&mc->lock);
}

static bool __meta_needs_adopt(const struct journal_meta_cache *mc,
			       unsigned int bytes)
{
	return bytes && bytes != mc->granule &&
	       (mc->granule == 0 || mc->nr == 0 || bytes > mc->granule);
}

bool journal_meta_needs_adopt(struct journal_meta_cache *mc,
			      unsigned int bytes)
{
	bool ret;

	pthread_mutex_lock(&mc->lock);
	ret = __meta_needs_adopt(mc, bytes) && mc->nr_dirty;
	pthread_mutex_unlock(&mc->lock);
	return ret;
}

unsigned int journal_meta_adopt_granule(struct journal_meta_cache *mc,
					unsigned int bytes)
{
	unsigned int g;

	pthread_mutex_lock(&mc->lock);
	if (__meta_needs_adopt(mc, bytes) && !mc->nr_dirty && !mc->wb_running) {
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
	/* dirty entries left by a failed writeback keep serving reads */
	g = mc->budget >= mc->granule || mc->nr_dirty ? mc->granule : 0;
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
		if (!e->dirty) {
			__list_unlink(mc, e);
			__list_push_head(mc, e);
		}
		mc->hits++;
	} else {
		mc->misses++;
	}
	pthread_mutex_unlock(&mc->lock);
	return e != NULL;
}

/*
 * A new clean entry for @blk (not cached), or NULL when there is no room
 * (unless @force: then the budget is overshot) or no memory.
 * Context: mc->lock held, granule == mc->granule.
 */
static struct journal_meta_entry *__meta_new(struct journal_meta_cache *mc,
					     uint64_t blk, const void *src,
					     bool force)
{
	struct journal_meta_entry *e;
	size_t h;

	if (mc->granule == 0 || mc->granule > mc->budget)
		return NULL;
	if (!__meta_shrink(mc, mc->granule) && !force)
		return NULL;
	e = malloc(sizeof(*e) + mc->granule);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->blk = blk;
	e->data = (unsigned char *)(e + 1);
	memcpy(e->data, src, mc->granule);
	h = meta_hash(mc, blk);
	e->hash_next = mc->buckets[h];
	mc->buckets[h] = e;
	__list_push_head(mc, e);
	mc->nr++;
	mc->used += mc->granule;
	mc->inserts++;
	__meta_grow(mc);
	return e;
}

void journal_meta_insert(struct journal_meta_cache *mc, unsigned int granule,
			 uint64_t seq, uint64_t blk, const void *src)
{
	struct journal_meta_entry *e;

	pthread_mutex_lock(&mc->lock);
	if (seq != mc->seq || granule != mc->granule)
		goto out_unlock;
	e = __meta_find(mc, blk);
	if (!e) {
		__meta_new(mc, blk, src, false);
	} else if (!e->dirty) {	/* never overwrite bytes not on disk */
		memcpy(e->data, src, mc->granule);
		__list_unlink(mc, e);
		__list_push_head(mc, e);
	}
out_unlock:
	pthread_mutex_unlock(&mc->lock);
}

bool journal_meta_write(struct journal_meta_cache *mc, unsigned int granule,
			uint64_t blk, const void *src, size_t off, size_t len)
{
	struct journal_meta_entry *e = NULL;
	uint64_t now = meta_now_ns();

	pthread_mutex_lock(&mc->lock);
	mc->seq++;
	if (granule != mc->granule)
		goto out_unlock;
	e = __meta_find(mc, blk);
	if (e)
		memcpy(e->data + off, src, len);
	else if (off == 0 && len == granule)
		e = __meta_new(mc, blk, src, true);
	if (e)
		__meta_dirty(mc, e, now);
out_unlock:
	pthread_mutex_unlock(&mc->lock);
	return e != NULL;
}

/*
 * Call @fn on each cached entry overlapping device bytes [@pos, @pos +
 * @len), with the overlap as [s, e). Context: mc->lock held, granule set.
 */
static void __meta_for_range(struct journal_meta_cache *mc, uint64_t pos,
			     uint64_t len,
			     void (*fn)(struct journal_meta_cache *,
					struct journal_meta_entry *, uint64_t,
					uint64_t, void *),
			     void *arg)
{
	struct journal_meta_entry *e, *prev;
	uint64_t g = mc->granule, first = pos / g, last = (pos + len - 1) / g;
	uint64_t end = pos + len, b;

	if (last - first < mc->nr) {
		for (b = first; b <= last; b++) {
			e = __meta_find(mc, b);
			if (e)
				fn(mc, e, b * g > pos ? b * g : pos,
				   (b + 1) * g < end ? (b + 1) * g : end, arg);
		}
		return;
	}
	/* A huge range: walk the entries instead of the blocks. */
	for (int l = 0; l < 2; l++) {
		e = l ? mc->dirty.tail : mc->lru.tail;
		for (; e; e = prev) {
			prev = e->prev;
			b = e->blk;
			if (b >= first && b <= last)
				fn(mc, e, b * g > pos ? b * g : pos,
				   (b + 1) * g < end ? (b + 1) * g : end, arg);
		}
	}
}

struct meta_update {
	uint64_t pos;
	const unsigned char *src;
	bool ok;
};

static void __meta_update_one(struct journal_meta_cache *mc,
			      struct journal_meta_entry *e, uint64_t s,
			      uint64_t end, void *arg)
{
	struct meta_update *u = arg;
	uint64_t g = mc->granule;

	if (u->ok) {
		memcpy(e->data + (s - e->blk * g), u->src + (s - u->pos),
		       (size_t)(end - s));
		if (e->dirty)
			e->gen = ++mc->wgen;
	} else if (!e->dirty) {
		__meta_remove(mc, e);
		mc->invalidated++;
	}
}

void journal_meta_update_bytes(struct journal_meta_cache *mc, uint64_t pos,
			       const void *src, size_t len, bool ok)
{
	struct meta_update u = { .pos = pos, .src = src, .ok = ok };

	if (!len)
		return;
	pthread_mutex_lock(&mc->lock);
	mc->seq++;
	if (mc->granule && mc->nr)
		__meta_for_range(mc, pos, len, __meta_update_one, &u);
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

/* Does the writeback in flight hold a granule in [first, last]? */
static bool __wb_overlaps(const struct journal_meta_cache *mc, uint64_t first,
			  uint64_t last)
{
	size_t lo = 0, hi = mc->wb_nr;

	if (!mc->wb_running)
		return false;
	while (lo < hi) {	/* first block number >= first */
		size_t mid = lo + (hi - lo) / 2;

		if (mc->wb_blks[mid] < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mc->wb_nr && mc->wb_blks[lo] <= last;
}

static void __meta_invalidate_one(struct journal_meta_cache *mc,
				  struct journal_meta_entry *e, uint64_t s,
				  uint64_t end, void *arg)
{
	(void)s;
	(void)end;
	(void)arg;
	if (e->dirty)
		mc->dropped_dirty++;
	__meta_remove(mc, e);
	mc->invalidated++;
}

void journal_meta_invalidate_bytes(struct journal_meta_cache *mc,
				   uint64_t pos, uint64_t len)
{
	uint64_t g;

	if (!len)
		return;
	pthread_mutex_lock(&mc->lock);
	while ((g = mc->granule) &&
	       __wb_overlaps(mc, pos / g, (pos + len - 1) / g))
		pthread_cond_wait(&mc->wb_done, &mc->lock);
	mc->seq++;
	if (mc->granule && mc->nr)
		__meta_for_range(mc, pos, len, __meta_invalidate_one, NULL);
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
	st->nr_dirty = mc->nr_dirty;
	st->dirty_bytes = mc->nr_dirty * mc->granule;
	st->writebacks = mc->writebacks;
	st->wb_batches = mc->wb_batches;
	st->wb_failed = mc->wb_failed;
	st->dropped_dirty = mc->dropped_dirty;
	pthread_mutex_unlock(&mc->lock);
}

/* ---- writeback ----------------------------------------------------------- */

/* How many of the oldest dirty entries @why asks for. mc->lock held. */
static size_t __wb_count(struct journal_meta_cache *mc,
			 enum journal_wb_reason why)
{
	size_t g = mc->granule, dirty = mc->nr_dirty * g, keep;

	if (!mc->nr_dirty)
		return 0;
	if (why == JOURNAL_WB_ALL ||
	    meta_now_ns() - mc->dirty.tail->dirtied_ns >= mc->interval_ns)
		return mc->nr_dirty;
	if (mc->used <= mc->budget && dirty <= mc->budget - mc->budget / 4)
		return 0;
	/* pressure: the oldest, down to half the budget */
	keep = mc->budget / 2 / g;
	return mc->nr_dirty > keep ? mc->nr_dirty - keep : 1;
}

static int meta_cmp_entry(const void *a, const void *b)
{
	const struct journal_meta_entry *x = *(const void *const *)a;
	const struct journal_meta_entry *y = *(const void *const *)b;

	return x->blk < y->blk ? -1 : x->blk > y->blk;
}

static void meta_batch_free(struct journal_meta_batch *b)
{
	free(b->blks);
	free(b->gens);
	free(b->data);
	free(b->failed);
	memset(b, 0, sizeof(*b));
}

int journal_meta_wb_begin(struct journal_meta_cache *mc,
			  enum journal_wb_reason why, size_t align,
			  struct journal_meta_batch *b)
{
	struct journal_meta_entry **v = NULL, *e;
	size_t n, i, g;
	void *data = NULL;
	int ret = 0;

	memset(b, 0, sizeof(*b));
	if (align < sizeof(void *))
		align = sizeof(void *);
	pthread_mutex_lock(&mc->lock);
	while (mc->wb_running)
		pthread_cond_wait(&mc->wb_done, &mc->lock);
	n = __wb_count(mc, why);
	if (!n)
		goto out_unlock;
	g = mc->granule;
	v = malloc(n * sizeof(*v));
	b->blks = malloc(n * sizeof(*b->blks));
	b->gens = malloc(n * sizeof(*b->gens));
	b->failed = calloc(n, sizeof(*b->failed));
	if (!v || !b->blks || !b->gens || !b->failed ||
	    posix_memalign(&data, align, n * g)) {
		ret = -ENOMEM;
		goto out_free;
	}
	b->data = data;
	for (i = 0, e = mc->dirty.tail; i < n && e; i++, e = e->prev)
		v[i] = e;
	n = i;
	qsort(v, n, sizeof(*v), meta_cmp_entry);
	for (i = 0; i < n; i++) {
		b->blks[i] = v[i]->blk;
		b->gens[i] = v[i]->gen;
		memcpy(b->data + i * g, v[i]->data, g);
	}
	b->nr = n;
	b->granule = (unsigned int)g;
	mc->wb_running = true;
	mc->wb_blks = b->blks;
	mc->wb_nr = n;
	mc->wb_batches++;
	free(v);
	goto out_unlock;

out_free:
	free(v);
	meta_batch_free(b);
out_unlock:
	pthread_mutex_unlock(&mc->lock);
	return ret;
}

void journal_meta_wb_end(struct journal_meta_cache *mc,
			 struct journal_meta_batch *b)
{
	uint64_t now = meta_now_ns();
	size_t i;

	if (!b->nr)
		return;
	pthread_mutex_lock(&mc->lock);
	for (i = 0; i < b->nr; i++) {
		struct journal_meta_entry *e = NULL;

		if (b->granule == mc->granule)
			e = __meta_find(mc, b->blks[i]);
		if (b->failed[i]) {
			mc->wb_failed++;
			if (e && e->dirty) {	/* retried one interval later */
				__list_unlink(mc, e);
				e->dirtied_ns = now;
				__list_push_head(mc, e);
			}
			continue;
		}
		mc->writebacks++;
		if (e && e->dirty && e->gen == b->gens[i])
			__meta_clean(mc, e);
	}
	mc->wb_running = false;
	mc->wb_blks = NULL;
	mc->wb_nr = 0;
	__meta_shrink(mc, 0);
	pthread_cond_broadcast(&mc->wb_done);
	pthread_mutex_unlock(&mc->lock);
	meta_batch_free(b);
}
