/* SPDX-License-Identifier: MIT */
/*
 * cache/internal.h — private structures of the cache component: the block
 * engine, the folio index (a radix tree), folios, mappings and the cache.
 * Nothing here is visible outside cache/.
 *
 * Locks of this component, outermost first. All of them are leaf locks with
 * respect to the rest of uext4: none is held while calling
 * cache_ops.writeback, while sleeping on a folio lock or while doing I/O.
 *
 *	mapping->lock   (index lock: the mapping's radix tree, folio
 *	                 reference counts, the in_index flags, orphans)
 *	  → cache->lock (LRU list, memory and dirty accounting, mapping list,
 *	                 flusher state)
 *	    → fs->mu    (per-folio state mutex: lock bit, writeback bit)
 *
 * The folio *lock* (cache_folio_lock()) is a sleeping lock built from fs->mu
 * and fs->cv; it sits above all three in the order (callers hold it while
 * calling into the cache, e.g. cache_folio_mark_dirty() takes mapping->lock
 * and cache->lock under it). Reclaim, which holds cache->lock and wants a
 * victim's mapping->lock, uses trylock to respect the order.
 */
#ifndef UEXT4_CACHE_INTERNAL_H
#define UEXT4_CACHE_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

#define cache_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------------ */
/* Intrusive doubly linked list.                                            */
/* ------------------------------------------------------------------------ */

struct cache_list {
	struct cache_list *prev, *next;
};

static inline void cache_list_init(struct cache_list *l)
{
	l->prev = l->next = l;
}

static inline bool cache_list_empty(const struct cache_list *l)
{
	return l->next == l;
}

static inline void cache_list_add_tail(struct cache_list *head,
				       struct cache_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void cache_list_del(struct cache_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

/*
 * cache_assert_held() - debug check for "__" functions that the caller holds
 * @mu. A default mutex held by anyone reports EBUSY to trylock; it cannot
 * tell who holds it, but catches the common bug of holding nothing.
 */
#ifdef NDEBUG
#define cache_assert_held(mu) ((void)(mu))
#else
#define cache_assert_held(mu) assert(pthread_mutex_trylock(mu) == EBUSY)
#endif

/* ------------------------------------------------------------------------ */
/* Time.                                                                    */
/* ------------------------------------------------------------------------ */

/* Monotonic milliseconds. */
uint64_t cache_now_ms(void);
/* Initialise a condition variable on CLOCK_MONOTONIC. */
int cache_cond_init(pthread_cond_t *cv);
/* Wait on @cv (with @mu held) until CLOCK_MONOTONIC reaches @deadline_ms. */
void cache_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
			   uint64_t deadline_ms);

/* ------------------------------------------------------------------------ */
/* Block engine.                                                            */
/* ------------------------------------------------------------------------ */

/*
 * struct cache_bdev_ring - one io_uring and its per-batch scratch space.
 * Owned by exactly one submitting thread between cache_bdev_ring_get() and
 * cache_bdev_ring_put(); on the bdev's free list otherwise.
 */
struct cache_bdev_ring {
	struct io_uring *ring;
	struct cache_bdev_ring *next;	/* free list; protected by bdev->lock */
	bool broken;			/* a fatal submit error: do not reuse */
	struct cache_bdev_op *ops;	/* scratch, @ops_cap entries */
	unsigned int ops_cap;
	unsigned int *queue;		/* scratch ring of op numbers */
};

struct cache_bdev {
	/* Constant after open. */
	int fd;			/* primary: O_DIRECT when @direct */
	int buffered_fd;	/* for unaligned bios; == @fd when !@direct */
	bool direct;
	bool readonly;
	bool blockdev;
	bool uring;		/* false: io_uring unavailable, use pread */
	uint64_t offset;
	uint64_t size;
	size_t align;		/* logical block size when direct, else 1 */
	unsigned char *mem;	/* memory backend, or NULL */

	/*
	 * @lock protects the ring pool, the fault hook and the read
	 * overlay. Leaf lock: never
	 * held during I/O.
	 */
	pthread_mutex_t lock;
	pthread_cond_t ring_cv;		 /* a ring was returned to the pool */
	struct cache_bdev_ring *free_rings; /* protected by lock */
	unsigned int nr_rings;		 /* protected by lock */
	unsigned int ring_waiters;	 /* protected by lock */
	cache_bdev_fault_fn fault;	 /* protected by lock */
	void *fault_ctx;		 /* protected by lock */
	cache_bdev_overlay_fn overlay;	 /* protected by lock */
	void *overlay_ctx;		 /* protected by lock */
};

/*
 * The descriptor for a transfer of @len bytes at @buf to/from absolute
 * device offset @devoff: the O_DIRECT one if it is aligned for it.
 */
static inline int cache_bdev_pick_fd(const struct cache_bdev *bdev,
				     const void *buf, uint64_t devoff,
				     size_t len)
{
	if (!bdev->direct ||
	    (((uintptr_t)buf | devoff | len) & (bdev->align - 1)))
		return bdev->buffered_fd;
	return bdev->fd;
}

/*
 * uring.c: the ring pool. pool_init creates the first ring and sets
 * bdev->uring (false when io_uring is unavailable, e.g. disabled by
 * sysctl or seccomp). ring_get hands a ring to one thread, with scratch
 * room for @nr ops (0 or -errno); add records bio number @k; run queues all
 * ops, submits them together and reaps every completion, resubmitting the
 * remainder of short transfers.
 */
void cache_uring_pool_init(struct cache_bdev *bdev);
void cache_uring_pool_fini(struct cache_bdev *bdev);
int cache_uring_ring_get(struct cache_bdev *bdev, unsigned int nr,
			 struct cache_bdev_ring **out);
void cache_uring_ring_put(struct cache_bdev *bdev,
			  struct cache_bdev_ring *ring);
void cache_uring_add(struct cache_bdev_ring *ring, struct cache_bio *bio,
		     unsigned int k);
void cache_uring_run(struct cache_bdev *bdev, struct cache_bdev_ring *ring,
		     unsigned int nops);
/* IORING_OP_FSYNC (DATASYNC unless a block device); -ENOSYS: no ring. */
int cache_uring_fsync(struct cache_bdev *bdev);

/* ------------------------------------------------------------------------ */
/* Folio index: a radix tree keyed by folio index (64 slots per node).      */
/* ------------------------------------------------------------------------ */

#define CACHE_INDEX_BITS 6
#define CACHE_INDEX_SLOTS (1u << CACHE_INDEX_BITS)
#define CACHE_INDEX_MAX_HEIGHT 11 /* 11 * 6 >= 64 */

struct cache_index_node {
	uint64_t present;	/* bit s: slots[s] != NULL */
	uint64_t tagged;	/* bit s: the subtree holds a tagged item */
	void *slots[CACHE_INDEX_SLOTS];
};

/*
 * struct cache_index - the tree. Not thread-safe: the owner's lock
 * (mapping->lock) protects it. One tag per item ("dirty").
 */
struct cache_index {
	struct cache_index_node *root;
	unsigned int height;	/* 0 = empty */
	size_t count;
};

void cache_index_init(struct cache_index *ix);
/* Free the nodes; the items are the caller's. */
void cache_index_fini(struct cache_index *ix);
void *cache_index_lookup(const struct cache_index *ix, uint64_t key);
/* 0, -EEXIST or -ENOMEM. */
int cache_index_insert(struct cache_index *ix, uint64_t key, void *item);
/* Removes and returns the item (NULL if absent). */
void *cache_index_delete(struct cache_index *ix, uint64_t key);
/* Set or clear the tag of a present item. */
void cache_index_set_tag(struct cache_index *ix, uint64_t key, bool on);
bool cache_index_get_tag(const struct cache_index *ix, uint64_t key);
/*
 * First item with key >= @start (and tagged, if @tagged); its key in *@key.
 * NULL when there is none.
 */
void *cache_index_next(const struct cache_index *ix, uint64_t start,
		       bool tagged, uint64_t *key);

/* ------------------------------------------------------------------------ */
/* Folios, mappings, the cache.                                             */
/* ------------------------------------------------------------------------ */

/*
 * struct cache_folio_state - a folio and its private state. The public
 * struct cache_folio is embedded first; cache_fs() converts.
 *
 * Life cycle: created with one reference and inserted into the index
 * (in_index). Unreferenced, clean folios that are in the index sit on the
 * cache LRU and may be reclaimed. A folio removed from the index while
 * referenced (remove_range, mapping_destroy) is an *orphan*: it is freed by
 * its last cache_folio_put(). While under writeback a folio holds an extra
 * reference (taken by start_writeback, dropped by end_writeback).
 */
struct cache_folio_state {
	struct cache_folio folio;
	size_t size;			/* bytes of data; constant */

	unsigned int refcount;		/* protected by mapping->lock */
	bool in_index;			/* protected by mapping->lock */

	struct cache_list lru;		/* protected by cache->lock */
	bool on_lru;			/* protected by cache->lock */

	/*
	 * @mu protects @locked, @writeback and @waiters; @cv is signalled
	 * when either bit clears. @mu is the innermost lock of the cache.
	 */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool locked;
	bool writeback;
	unsigned int waiters;
};

static inline struct cache_folio_state *cache_fs(struct cache_folio *f)
{
	return cache_container_of(f, struct cache_folio_state, folio);
}

struct cache_mapping {
	/* Constant after creation. */
	struct cache *cache;
	void *owner;
	unsigned int blkbits;
	unsigned int folio_shift;
	unsigned int blocks_per_folio;

	/*
	 * @lock — the index lock. Protects @index, every folio's refcount
	 * and in_index flag, @nr_orphans. Taken before cache->lock.
	 */
	pthread_mutex_t lock;
	pthread_cond_t orphan_cv;	/* @nr_orphans reached zero */
	struct cache_index index;	/* protected by lock */
	size_t nr_orphans;		/* protected by lock */
	/* Written under lock; read lock-free by cache_mapping_nr_folios(). */
	atomic_size_t nr_folios;

	/* Protected by cache->lock. */
	struct cache_list node;		/* on cache->mappings */
	/* Written under cache->lock; read lock-free by has_dirty(). */
	atomic_size_t dirty_bytes;
	uint64_t dirty_since_ms;	/* when it last went clean → dirty */
	uint64_t flush_gen;		/* last flusher pass that visited it */
	bool wb_busy;			/* flusher is in ops->writeback on it */
	bool dying;			/* cache_mapping_destroy() started */
	/* On cache->wb_queue (cache_mapping_start_writeback()) iff queued. */
	struct cache_list wb_node;
	bool wb_queued;
};

struct cache {
	/* Constant after creation. */
	struct cache_config cfg;
	size_t bg_bytes;		/* background threshold */
	size_t limit_bytes;		/* hard dirty limit */

	/*
	 * @lock — the cache lock: LRU, memory and dirty accounting, the
	 * mapping list and all flusher state below. Leaf lock: taken under
	 * mapping->lock, never held across ops->writeback or a sleep on a
	 * folio lock.
	 */
	pthread_mutex_t lock;
	pthread_cond_t flusher_cv;	/* work for the flusher */
	pthread_cond_t mem_cv;		/* memory may be available */
	pthread_cond_t dirty_cv;	/* dirty bytes dropped / pass ended */
	pthread_cond_t wb_done_cv;	/* a writeback callback returned */

	struct cache_list lru;		/* clean unreferenced folios, oldest first */
	struct cache_list mappings;	/* all live mappings */
	struct cache_list wb_queue;	/* mappings asked to start writeback */
	size_t used_bytes;
	size_t dirty_bytes;
	size_t nr_folios;
	uint64_t reclaimed;
	uint64_t flusher_runs;
	uint64_t cleaned_bytes;		/* total ever cleaned: progress meter */
	uint64_t pass_gen;		/* completed flusher passes */
	bool last_pass_progress;	/* did the last pass clean anything */
	bool wake_pending;		/* somebody asked for a pass */
	bool stop;
	unsigned int mem_waiters;
	unsigned int dirty_waiters;
	pthread_t flusher;

	atomic_uint_fast64_t hits;	/* lock-free statistics */
	atomic_uint_fast64_t misses;
};

/* reclaim.c */
/*
 * Reserve @size bytes of the budget for a new folio, reclaiming and waiting
 * as cache_folio_get() documents. *@recycled: NULL, or a reclaimed folio
 * of @size bytes, out of every list, for cache_folio_get() to reuse.
 * Return: 0 or -EAGAIN (@nowait; then *@recycled is NULL).
 * Context: no cache lock held.
 */
int cache_reserve(struct cache *cache, size_t size, bool nowait,
		  struct cache_folio_state **recycled);
/* Give back a reservation that did not become a folio. */
void cache_unreserve(struct cache *cache, size_t size);
/* LRU insertion/removal. Context: cache->lock held. */
void __cache_lru_add(struct cache *cache, struct cache_folio_state *fs);
void __cache_lru_del(struct cache *cache, struct cache_folio_state *fs);

/* folio.c */
/*
 * Free an unreferenced folio that is no longer in the index: discard its
 * dirty accounting, return its memory. Context: mapping->lock held.
 */
void __cache_folio_free(struct cache_mapping *mapping,
			struct cache_folio_state *fs);
/* Free the memory of a folio that reclaim took out of every list.
 * Context: any; takes no lock. */
void cache_folio_free_reclaimed(struct cache_folio_state *fs);
/* Take a reference on a folio found in the index. mapping->lock held. */
void __cache_folio_get_ref(struct cache_mapping *mapping,
			   struct cache_folio_state *fs);

/* flusher.c */
int cache_flusher_start(struct cache *cache);
void cache_flusher_stop(struct cache *cache);
/*
 * Ask for a pass. Context: cache->lock held. The pass writes with sync_all
 * while memory or dirty-limit waiters are waiting.
 */
void __cache_wake_flusher(struct cache *cache);
/* Wake dirty-limit waiters if under the limit. cache->lock held. */
void __cache_dirty_dropped(struct cache *cache);
/* True if the calling thread is the flusher. */
bool cache_in_flusher(struct cache *cache);

#endif /* UEXT4_CACHE_INTERNAL_H */
