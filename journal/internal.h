/* SPDX-License-Identifier: MIT */
/*
 * journal/internal.h — what journal/'s files share: the registered device
 * (engine + metadata cache) and the metadata block cache (meta_cache.c).
 *
 * Files:
 *   io_manager.c  the registry, the io_manager ops, aligned device I/O
 *   meta_cache.c  write-back LRU cache of metadata blocks
 *   format.c      jbd2 block encoders, decoders, checksums (format.h)
 *   log.c         the log: journal inode map, open/close, block I/O
 *   recovery.c    replay: scan, revoke and replay passes, to the device
 *                 or to memory; the fast-commit area check
 *   recovery_log.c  replay's log reads: the in-memory log cache and
 *                 the readahead window past it
 *   recovery_batch.c  replay's home writes: one slot per block, sorted,
 *                 merged, written by a thread while the next batch fills
 *   overlay.c     the in-memory replay: block table and overlay reads
 *   transaction.c the writer: transactions, commit, checkpoint, lookup
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
 * @blk:        granule number (byte offset / granule size).
 * @gen:        value of journal_meta_cache.wgen at the last change; lets a
 *              finished writeback tell whether the entry changed under it.
 * @dirtied_ns: CLOCK_MONOTONIC time it went from clean to dirty.
 * @dirty:      holds bytes the device does not have yet.
 * @prev/@next: links in the clean LRU list (clean) or in the dirty list,
 *              oldest first (dirty): an entry is on exactly one of them.
 * @data:       granule bytes (allocated with the entry).
 * Every field is protected by journal_meta_cache.lock.
 */
struct journal_meta_entry {
	uint64_t blk;
	uint64_t gen;
	uint64_t dirtied_ns;
	bool dirty;
	struct journal_meta_entry *hash_next;
	struct journal_meta_entry *prev;
	struct journal_meta_entry *next;
	unsigned char *data;
};

/** struct journal_meta_list - a doubly linked list of entries. */
struct journal_meta_list {
	struct journal_meta_entry *head;	/* most recent / youngest */
	struct journal_meta_entry *tail;	/* least recent / oldest */
};

/**
 * struct journal_meta_batch - the dirty granules of one writeback, copied
 * out of the cache by journal_meta_wb_begin().
 * @nr:      granules, sorted by block number.
 * @blks:    their numbers; @gens: their journal_meta_entry.gen then.
 * @data:    @nr × @granule bytes, in @blks order, aligned for the engine.
 * @failed:  per granule, set by the caller when its write failed.
 */
struct journal_meta_batch {
	size_t nr;
	unsigned int granule;
	uint64_t *blks;
	uint64_t *gens;
	unsigned char *data;
	bool *failed;
};

/** enum journal_wb_reason - what journal_meta_wb_begin() collects. */
enum journal_wb_reason {
	JOURNAL_WB_ALL,		/* every dirty granule (flush, close) */
	JOURNAL_WB_AUTO,	/* all if the oldest is older than the
				 * interval; else the oldest ones if dirty
				 * bytes are over 3/4 of the budget or the
				 * cache is over it; else nothing */
};

/**
 * struct journal_meta_cache - write-back metadata block cache.
 *
 * @lock: leaf lock; protects every field below. Never held across device
 *        I/O or while calling out of meta_cache.c. libext2fs calls are
 *        already serialized by the daemon's metadata lock; this lock is
 *        for journal_io_invalidate() from extent/'s paths and for tests.
 * @granule: bytes per entry; 0 until a block size is known. Changed only
 *        while nothing is dirty, and only while the cache is empty or to
 *        a larger size (entries dropped).
 * @seq:  bumped by every write, update and invalidation: a reader that
 *        saw another value before its device read does not insert what
 *        it read (it may be older than the change).
 * @lru:  clean entries, most recently used first; eviction takes the tail.
 * @dirty: dirty entries in the order they became dirty, oldest at the
 *        tail (the writeback order under budget pressure).
 * @interval_ns: age after which dirty entries are written back.
 * @wb_running, @wb_blks, @wb_nr: the writeback in flight (at most one):
 *        its sorted block numbers. journal_meta_invalidate_bytes() waits
 *        on @wb_done while it overlaps the range, so that no stale
 *        metadata write can land after the caller's file data.
 *
 * Two-thread timeline the @seq check prevents:
 *
 *	reader (miss on B)		invalidator
 *	seq0 = seq; read B from disk
 *					B handed to data, invalidate(B), seq++
 *					data written to B by cache/
 *	insert(B, seq0): seq != seq0 → not inserted (would be stale)
 *
 * and the one @wb_blks prevents:
 *
 *	writeback			invalidator
 *	copy dirty B, unlock
 *	submit write of B ...		invalidate(B): B in @wb_blks → wait
 *	... completes; wb_end, signal	drop B; return
 *					data written to B by cache/ (lands
 *					after the stale metadata, not before)
 */
struct journal_meta_cache {
	pthread_mutex_t lock;
	pthread_cond_t wb_done;			/* signalled by wb_end */
	unsigned int granule;			/* protected by lock */
	size_t budget;				/* protected by lock */
	size_t used;				/* protected by lock */
	size_t nr;				/* protected by lock */
	size_t nr_dirty;			/* protected by lock */
	struct journal_meta_entry **buckets;	/* protected by lock */
	size_t nbuckets;			/* power of two; by lock */
	struct journal_meta_list lru;		/* clean; by lock */
	struct journal_meta_list dirty;		/* protected by lock */
	uint64_t seq;				/* protected by lock */
	uint64_t wgen;				/* protected by lock */
	uint64_t interval_ns;			/* protected by lock */
	bool wb_running;			/* protected by lock */
	const uint64_t *wb_blks;		/* protected by lock */
	size_t wb_nr;				/* protected by lock */
	uint64_t hits, misses, inserts, evictions, invalidated; /* by lock */
	uint64_t unchanged;			/* protected by lock */
	uint64_t writebacks, wb_batches, wb_failed, dropped_dirty; /* lock */
};

/**
 * struct journal_dev - one registered device: the engine, its metadata cache
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
 * @wb_err:   first error of a deferred (write-back) write not reported yet
 *            by a flush, as an errcode_t; 0 if none (atomic).
 */
struct journal_dev {
	char name[JOURNAL_IO_NAME_MAX];
	struct cache_bdev *bdev;
	uint64_t offset;
	size_t align;
	uint64_t size;
	unsigned int refs;
	bool registered;
	struct journal_dev *next;
	_Atomic uint64_t dev_reads;
	_Atomic uint64_t dev_writes;
	_Atomic long wb_err;
	struct journal_meta_cache mc;
};

/* ---- meta_cache.c -------------------------------------------------------- */

/** JOURNAL_IO_INTERVAL_DEFAULT_MS - age of dirty metadata written back. */
#define JOURNAL_IO_INTERVAL_DEFAULT_MS 5000u

int journal_meta_init(struct journal_meta_cache *mc, size_t budget,
		      unsigned int interval_ms);
/** journal_meta_fini() - free everything, dirty entries included. */
void journal_meta_fini(struct journal_meta_cache *mc);

/**
 * journal_meta_adopt_granule() - make the cache work in @bytes blocks if it
 * is empty, unset, or smaller (entries dropped then) — but never while an
 * entry is dirty (the caller writes back first). Return: the granule.
 */
unsigned int journal_meta_adopt_granule(struct journal_meta_cache *mc,
					unsigned int bytes);

/** journal_meta_needs_adopt() - would adopt(@bytes) drop entries? */
bool journal_meta_needs_adopt(struct journal_meta_cache *mc,
			      unsigned int bytes);

/**
 * journal_meta_begin() - snapshot for a read: @seq, the budget, and the
 * granule (returned; 0 = caching off: no granule yet, or budget smaller
 * and nothing dirty).
 */
unsigned int journal_meta_begin(struct journal_meta_cache *mc, uint64_t *seq,
				size_t *budget);

/**
 * journal_meta_lookup() - copy bytes [@off, @off + @len) of granule @blk
 * into @dst if cached, dirty or clean (counts a hit, refreshes a clean
 * entry in the LRU), else count a miss. @granule: the caller's snapshot
 * (a mismatch is a miss). Return: true on a hit.
 */
bool journal_meta_lookup(struct journal_meta_cache *mc, unsigned int granule,
			 uint64_t blk, void *dst, size_t off, size_t len);

/**
 * journal_meta_insert() - add granule @blk, read from the device, as a
 * clean entry unless @seq moved since the caller's snapshot, the granule
 * changed, or no clean entry can be evicted to make room. A cached copy
 * is replaced only if clean.
 */
void journal_meta_insert(struct journal_meta_cache *mc, unsigned int granule,
			 uint64_t seq, uint64_t blk, const void *src);

/**
 * journal_meta_write() - a write of bytes [@off, @off + @len) of granule
 * @blk: copy them into the cached entry and mark it dirty; with no entry,
 * a write of the whole granule becomes a new dirty entry (the budget may
 * be overshot: journal_meta_wb_begin(AUTO) then asks for a writeback).
 * Bumps @seq. Return: false if not absorbed (partial write of an uncached
 * granule, granule mismatch, no memory): the caller reads the granule in
 * or writes the device itself.
 */
bool journal_meta_write(struct journal_meta_cache *mc, unsigned int granule,
			uint64_t blk, const void *src, size_t off, size_t len);

/**
 * journal_meta_update_bytes() - device bytes [@pos, @pos + @len) were
 * written straight to the device (@ok) or a write of them failed (!@ok).
 * On success, copy them into cached entries without changing their dirty
 * state; on failure, drop the clean entries they touch (the device state
 * is unknown) and keep the dirty ones (rewritten whole later). Bumps @seq.
 */
void journal_meta_update_bytes(struct journal_meta_cache *mc, uint64_t pos,
			       const void *src, size_t len, bool ok);

/**
 * journal_meta_unchanged() - true (and counted) if every granule that
 * device bytes [@pos, @pos + @len) touch is cached and those bytes equal
 * @src: the device holds them already (clean) or will (dirty), so the
 * write can be skipped (libext2fs rewrites unchanged inode table,
 * descriptor and bitmap blocks often).
 */
bool journal_meta_unchanged(struct journal_meta_cache *mc, uint64_t pos,
			    const void *src, size_t len);

/**
 * journal_meta_invalidate_bytes() - drop every entry overlapping device
 * bytes [@pos, @pos + @len), dirty ones included, never writing them.
 * Waits first while a writeback in flight holds one of those granules.
 * Bumps @seq. Context: may sleep (only on such a writeback).
 */
void journal_meta_invalidate_bytes(struct journal_meta_cache *mc,
				   uint64_t pos, uint64_t len);

/** journal_meta_set_budget() - new budget; evicts clean entries down to it. */
void journal_meta_set_budget(struct journal_meta_cache *mc, size_t budget);

/** journal_meta_stats() - fill the cache part of @st. */
void journal_meta_stats(struct journal_meta_cache *mc,
			struct journal_io_stats *st);

/**
 * journal_meta_wb_begin() - start a writeback: wait for one in flight to
 * end, choose dirty granules by @why, copy them into @b (sorted by block,
 * data aligned to @align) and publish their numbers for invalidation.
 * Return: 0 (@b->nr may be 0: nothing to do, and no writeback started),
 * or -ENOMEM. A started writeback must be ended with journal_meta_wb_end().
 */
int journal_meta_wb_begin(struct journal_meta_cache *mc,
			  enum journal_wb_reason why, size_t align,
			  struct journal_meta_batch *b);

/**
 * journal_meta_wb_end() - the batch's writes completed: mark the granules
 * that did not change meanwhile clean (or, when @b->failed says so, keep
 * them dirty and restart their age, so that the next attempt comes one
 * interval later or at the next flush), evict down to the budget, wake
 * invalidators and free @b's arrays.
 */
void journal_meta_wb_end(struct journal_meta_cache *mc,
			 struct journal_meta_batch *b);

/* ---- the jbd2 log (log.c, recovery.c, transaction.c) -------------------- */

#include "format.h"

struct journal_writer;	/* transaction.c */

/**
 * struct journal - an open jbd2 log.
 * @bdev:      the file system's engine (not owned).
 * @blocksize: journal (= file system) block size.
 * @map:       physical block of each journal block (owned copy).
 * @nr_blocks: entries in @map.
 * @readonly:  opened read-only: nothing is ever written.
 * @align:     cache_bdev_align(@bdev): buffers for I/O are aligned to it
 *             (journal_block_alloc()).
 * @sb_buf:    block 0 as read (blocksize bytes, aligned); the superblock
 *             is written back from it with journal_sb_write().
 * @sb:        decoded superblock; the mutable fields are the truth,
 *             journal_sb_write() stores them into @sb_buf.
 * @fmt:       what @sb's features imply (tag size, checksums).
 * @writer:    transaction.c's state, NULL until journal_writer_init().
 * Not thread-safe (see journal.h): no lock.
 */
struct journal {
	struct cache_bdev *bdev;
	unsigned int blocksize;
	uint64_t *map;
	uint64_t nr_blocks;
	bool readonly;
	size_t align;
	unsigned char *sb_buf;
	struct journal_sb sb;
	struct journal_fmt fmt;
	struct journal_writer *writer;
};

/**
 * journal_block_alloc() - a zeroed buffer of @nr journal blocks aligned
 * for @j's engine (free() it). Return: NULL on -ENOMEM.
 */
void *journal_block_alloc(const struct journal *j, size_t nr);

/**
 * journal_wrap() - @blk moved back into the log area: the kernel's wrap()
 * (blk >= last → blk - (last - first)).
 */
uint32_t journal_wrap(const struct journal *j, uint32_t blk);

/**
 * journal_log_bio() - fill @bio for log block @logblk (a journal block
 * number, mapped through @j->map) to or from @buf.
 * Return: 0, or -EUCLEAN when @logblk is outside the map.
 */
int journal_log_bio(const struct journal *j, uint32_t logblk, void *buf,
		    bool write, struct cache_bio *bio);

/** journal_log_read()/journal_log_write() - one log block. 0 or -errno. */
int journal_log_read(struct journal *j, uint32_t logblk, void *buf);
int journal_log_write(struct journal *j, uint32_t logblk, const void *buf);

/**
 * journal_home_bio() - fill @bio for home (file system) block @blocknr.
 * Return: 0, or -EUCLEAN when @blocknr is past the device end.
 */
int journal_home_bio(const struct journal *j, uint64_t blocknr, void *buf,
		     bool write, struct cache_bio *bio);

/**
 * journal_sb_write() - store @j->sb into @j->sb_buf (journal_sb_encode())
 * and write block 0, then flush the device. Return: 0, -EROFS, -EIO.
 */
int journal_sb_write(struct journal *j);

/** journal_writer_free() - transaction.c: release @j->writer (close). */
void journal_writer_free(struct journal *j);

/* ---- the in-memory replay (overlay.c) ------------------------------------ */

/** journal_overlay_new() - an empty table of @blocksize blocks. 0, -ENOMEM. */
int journal_overlay_new(unsigned int blocksize, struct journal_overlay **out);

/**
 * journal_overlay_slot() - the data of home block @blocknr in @ov, added
 * (uninitialized) when absent: the replay copies the block into *@dst, a
 * later copy of the same block overwriting the earlier one.
 * Context: only while the replay builds @ov. Return: 0, -ENOMEM.
 */
int journal_overlay_slot(struct journal_overlay *ov, uint64_t blocknr,
			 unsigned char **dst);

/** journal_overlay_lookup() - the data of @blocknr, or NULL if not held. */
const unsigned char *journal_overlay_lookup(const struct journal_overlay *ov,
					    uint64_t blocknr);

#endif /* UEXT4_JOURNAL_INTERNAL_H */
