/* SPDX-License-Identifier: MIT */
/*
 * journal/internal.h — what journal/'s files share: the registered device
 * (engine + metadata cache) and the metadata block cache (meta_cache.c).
 *
 * Files:
 *   io_manager.c  the registry, the io_manager ops, aligned device I/O
 *   meta_cache.c  write-through LRU cache of metadata blocks
 */
#ifndef UEXT4_JOURNAL_INTERNAL_H
#define UEXT4_JOURNAL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

/**
 * struct journal_meta_entry - one cached block ("granule") of the device.
 * @blk:  granule number (byte offset / granule size).
 * @data: granule bytes (allocated with the entry).
 * Links are protected by journal_meta_cache.lock.
 */
struct journal_meta_entry {
	uint64_t blk;
	struct journal_meta_entry *hash_next;
	struct journal_meta_entry *lru_prev;
	struct journal_meta_entry *lru_next;
	unsigned char *data;
};

/**
 * struct journal_meta_cache - write-through metadata block cache.
 *
 * @lock: leaf lock; protects every field below. Never held across device
 *        I/O or while calling out of meta_cache.c. libext2fs calls are
 *        already serialized by the daemon's metadata lock; this lock is
 *        for journal_io_invalidate() from extent/'s paths and for tests.
 * @granule: bytes per entry; 0 until a block size is known. Changed only
 *        while the cache is empty or to a larger size (entries dropped).
 * @seq:  bumped by every write, update and invalidation: a reader that
 *        saw another value before its device read does not insert what
 *        it read (it may be older than the change).
 *
 * Two-thread timeline the @seq check prevents:
 *
 *	reader (miss on B)		invalidator
 *	seq0 = seq; read B from disk
 *					B handed to data, invalidate(B), seq++
 *					data written to B by cache/
 *	insert(B, seq0): seq != seq0 → not inserted (would be stale)
 */
struct journal_meta_cache {
	pthread_mutex_t lock;
	unsigned int granule;			/* protected by lock */
	size_t budget;				/* protected by lock */
	size_t used;				/* protected by lock */
	size_t nr;				/* protected by lock */
	struct journal_meta_entry **buckets;	/* protected by lock */
	size_t nbuckets;			/* power of two; by lock */
	struct journal_meta_entry *lru_head;	/* most recent; by lock */
	struct journal_meta_entry *lru_tail;	/* protected by lock */
	uint64_t seq;				/* protected by lock */
	uint64_t hits, misses, inserts, evictions, invalidated; /* by lock */
	uint64_t unchanged;			/* protected by lock */
};

/**
 * struct journal - one registered device: the engine, its metadata cache
 * and (later) the running transaction.
 * @name:     registry key; constant.
 * @bdev:     the engine (not owned); constant.
 * @offset:   registered image offset; constant.
 * @align:    cache_bdev_align(); constant.
 * @size:     cache_bdev_size(); constant.
 * @refs:     registration + open channels; protected by the registry lock.
 * @registered: still in the registry; protected by the registry lock.
 * @next:     registry list; protected by the registry lock.
 * @dev_reads, @dev_writes: bios sent (atomic).
 */
struct journal {
	char name[JOURNAL_IO_NAME_MAX];
	struct cache_bdev *bdev;
	uint64_t offset;
	size_t align;
	uint64_t size;
	unsigned int refs;
	bool registered;
	struct journal *next;
	_Atomic uint64_t dev_reads;
	_Atomic uint64_t dev_writes;
	struct journal_meta_cache mc;
};

/* ---- meta_cache.c -------------------------------------------------------- */

int journal_meta_init(struct journal_meta_cache *mc, size_t budget);
void journal_meta_fini(struct journal_meta_cache *mc);

/**
 * journal_meta_adopt_granule() - make the cache work in @bytes blocks if it
 * is empty, unset, or smaller (entries dropped then). Return: the granule.
 */
unsigned int journal_meta_adopt_granule(struct journal_meta_cache *mc,
					unsigned int bytes);

/**
 * journal_meta_begin() - snapshot for a read: @seq, the budget, and the
 * granule (returned; 0 = caching off: no granule yet, or budget smaller).
 */
unsigned int journal_meta_begin(struct journal_meta_cache *mc, uint64_t *seq,
				size_t *budget);

/**
 * journal_meta_lookup() - copy bytes [@off, @off + @len) of granule @blk
 * into @dst if cached (counts a hit, moves it to the LRU head), else count
 * a miss. @granule: the caller's snapshot (a mismatch is a miss).
 * Return: true on a hit.
 */
bool journal_meta_lookup(struct journal_meta_cache *mc, unsigned int granule,
			 uint64_t blk, void *dst, size_t off, size_t len);

/**
 * journal_meta_insert() - add (or replace) granule @blk with @src (a
 * whole granule) unless @seq moved since the caller's snapshot or the
 * granule changed. Evicts LRU entries to stay within the budget.
 */
void journal_meta_insert(struct journal_meta_cache *mc, unsigned int granule,
			 uint64_t seq, uint64_t blk, const void *src);

/**
 * journal_meta_write() - a write of bytes [@off, @off + @len) of granule
 * @blk reached the device: update a cached copy, or insert one when
 * @may_insert and the write covers the whole granule. Bumps @seq.
 */
void journal_meta_write(struct journal_meta_cache *mc, unsigned int granule,
			uint64_t blk, const void *src, size_t off, size_t len,
			bool may_insert);

/**
 * journal_meta_unchanged() - true (and counted) if every granule that
 * device bytes [@pos, @pos + @len) touch is cached and those bytes equal
 * @src: the cache is write-through, so the device holds them already and
 * the write can be skipped (libext2fs rewrites unchanged inode table,
 * descriptor and bitmap blocks often).
 */
bool journal_meta_unchanged(struct journal_meta_cache *mc, uint64_t pos,
			    const void *src, size_t len);

/**
 * journal_meta_invalidate_bytes() - drop every entry overlapping device
 * bytes [@pos, @pos + @len). Bumps @seq.
 */
void journal_meta_invalidate_bytes(struct journal_meta_cache *mc,
				   uint64_t pos, uint64_t len);

/** journal_meta_set_budget() - new budget; evicts down to it. */
void journal_meta_set_budget(struct journal_meta_cache *mc, size_t budget);

/** journal_meta_stats() - fill the cache part of @st. */
void journal_meta_stats(struct journal_meta_cache *mc,
			struct journal_io_stats *st);

#endif /* UEXT4_JOURNAL_INTERNAL_H */
