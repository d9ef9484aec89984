/* SPDX-License-Identifier: MIT */
/*
 * cache/ — the page-cache layer of uext4: folios with per-block state, one
 * folio index per file (a "mapping"), a global memory budget with LRU
 * reclaim of clean folios, dirty accounting with a background flusher and a
 * hard limit that throttles writers, and the io_uring block engine ("bdev")
 * that every byte of file data goes through.
 *
 * This layer knows nothing of ext4, libext2fs or iomap. It stores bytes by
 * file offset and moves bytes to and from device offsets. Whoever owns a
 * mapping (the filesystem, through iomap) decides what goes where; the cache
 * calls back into the owner only to write back dirty data (struct cache_ops).
 *
 * Lock order (DESIGN.md): inode rwlock → folio lock → journal handle →
 * metadata lock. The cache's internal locks (index lock, LRU lock, dirty
 * accounting lock) are leaf locks: never held while calling out of the cache
 * or while sleeping on a folio lock.
 */
#ifndef UEXT4_CACHE_H
#define UEXT4_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------------------ */
/* Block engine: one per open image or device.                             */
/* ------------------------------------------------------------------------ */

struct cache_bdev;

/**
 * struct cache_bio - one contiguous transfer between memory and the device.
 * @pos:    byte offset on the device (relative to the filesystem start, i.e.
 *          the bdev's @offset is added by the engine).
 * @buf:    memory; for O_DIRECT it must be aligned to cache_bdev_align().
 * @len:    bytes; a multiple of cache_bdev_align().
 * @write:  true to write @buf to the device, false to read into it.
 * @result: set by the engine: @len on success, or -errno. A short transfer
 *          is retried by the engine; a read past the device end is -EIO.
 */
struct cache_bio {
	uint64_t pos;
	void *buf;
	size_t len;
	bool write;
	ssize_t result;
};

/**
 * typedef cache_bdev_fault_fn - fault injection hook for tests.
 * Called before each bio is submitted; a non-zero return (-errno) fails that
 * bio with that value instead of performing it. Wraps the I/O layer so that
 * the engine itself carries no test-only branches (STYLE.md, "Fault
 * injection").
 */
typedef int (*cache_bdev_fault_fn)(void *ctx, const struct cache_bio *bio);

/**
 * cache_bdev_open() - open an image file or block device for data I/O.
 * @path:     regular file or block device.
 * @offset:   byte offset of the filesystem inside @path (partition images).
 * @readonly: open O_RDONLY; writes then fail with -EROFS.
 * @out:      the engine.
 *
 * Tries O_DIRECT first and falls back to buffered I/O when the host file
 * system refuses it (tmpfs) or @offset is not aligned for it.
 * Return: 0 or -errno (-ENOENT, -EACCES, ...).
 */
int cache_bdev_open(const char *path, uint64_t offset, bool readonly,
		    struct cache_bdev **out);

/**
 * cache_bdev_open_memory() - an in-memory device of @size bytes (zeroed),
 * for unit tests. Same contract as a file-backed engine.
 */
int cache_bdev_open_memory(uint64_t size, struct cache_bdev **out);

/** cache_bdev_close() - wait for in-flight I/O and release the engine. */
void cache_bdev_close(struct cache_bdev *bdev);

/** cache_bdev_size() - usable bytes (device size minus offset). */
uint64_t cache_bdev_size(const struct cache_bdev *bdev);

/** cache_bdev_align() - required alignment of buf/pos/len (1 if buffered). */
size_t cache_bdev_align(const struct cache_bdev *bdev);

/** cache_bdev_direct() - true when the engine uses O_DIRECT. */
bool cache_bdev_direct(const struct cache_bdev *bdev);

/** cache_bdev_fd() - the underlying descriptor (for fsync/fstat by owners). */
int cache_bdev_fd(const struct cache_bdev *bdev);

/**
 * cache_bdev_submit() - perform @nr bios as one batch and wait for all.
 *
 * All bios are queued on the io_uring before the first submit system call,
 * so a batch becomes one submission. Each bio's @result is filled in.
 * Context: thread-safe; may sleep. Callers may hold folio locks.
 * Return: 0 if every bio succeeded, else the first failing bio's -errno.
 */
int cache_bdev_submit(struct cache_bdev *bdev, struct cache_bio *bios,
		      unsigned int nr);

/** cache_bdev_pread()/cache_bdev_pwrite() - one-bio convenience wrappers. */
int cache_bdev_pread(struct cache_bdev *bdev, void *buf, size_t len,
		     uint64_t pos);
int cache_bdev_pwrite(struct cache_bdev *bdev, const void *buf, size_t len,
		      uint64_t pos);

/**
 * cache_bdev_flush() - make every completed write durable (fdatasync /
 * IORING_OP_FSYNC with DATASYNC). Ordered after all writes completed before
 * the call. Return: 0 or -errno.
 */
int cache_bdev_flush(struct cache_bdev *bdev);

/** cache_bdev_set_fault() - install (or clear with NULL) a fault hook. */
void cache_bdev_set_fault(struct cache_bdev *bdev, cache_bdev_fault_fn fn,
			  void *ctx);

/**
 * typedef cache_bdev_overlay_fn - read overlay: patch bytes read.
 * @ctx: the pointer given to cache_bdev_set_read_overlay().
 * @pos: device offset of @buf[0] (relative to the filesystem start, as
 *       struct cache_bio.@pos).
 * @buf: @len bytes just read from the device at @pos.
 * @len: bytes in @buf; any value (not only whole blocks or aligned runs).
 *
 * Overwrites, in place, the bytes of [@pos, @pos + @len) for which the
 * overlay holds a newer version, and leaves the others alone. What the
 * overlay holds and in which unit (blocks of some size, byte ranges) is
 * the owner's business: the engine knows nothing of it.
 * Context: called from the submitting thread, after the bio completed,
 * with no engine lock held; several threads may call it at once for
 * different bios, so it must be safe for concurrent callers (an overlay
 * that does not change after installation needs no lock). It must not
 * sleep for long nor submit I/O to the same engine.
 */
typedef void (*cache_bdev_overlay_fn)(void *ctx, uint64_t pos, void *buf,
				      size_t len);

/**
 * cache_bdev_set_read_overlay() - install (or clear with a NULL @fn) the
 * read overlay of @bdev.
 *
 * Every read bio that succeeds (cache_bdev_submit(), cache_bdev_pread())
 * is passed to @fn(@ctx, pos, buf, len) before the call returns, so every
 * reader of the engine sees the device as patched by the overlay. Failed
 * read bios and writes are never passed to it: a write goes to the device
 * as given, and a later read of bytes the overlay holds still returns the
 * overlay's version (owners use it on read-only engines). Reads that
 * completed before the installation are not patched: install it before
 * anything reads through @bdev, and clear it only when nothing reads any
 * more (@ctx must stay valid until then; clearing does not wait for
 * callers already running).
 * Context: any thread; takes the engine lock (leaf).
 */
void cache_bdev_set_read_overlay(struct cache_bdev *bdev,
				 cache_bdev_overlay_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Folio cache.                                                             */
/* ------------------------------------------------------------------------ */

struct cache;
struct cache_mapping;

/** CACHE_MAX_FOLIO_BLOCKS - per-block bitmaps are one uint64_t. */
#define CACHE_MAX_FOLIO_BLOCKS 64

/**
 * struct cache_folio - a power-of-two run of file blocks held in memory.
 *
 * The public fields are the contract with iomap/. Everything else (lock,
 * reference count, LRU and index links) lives in cache/internal.h.
 *
 * @mapping:   owning mapping; constant.
 * @index:     folio number in the file: file offset = index * folio size.
 * @data:      folio size bytes, aligned for O_DIRECT; constant.
 * @uptodate:  bit b set = block b of the folio holds current file data.
 *             Protected by the folio lock.
 * @dirty:     bit b set = block b must be written back. Protected by the
 *             folio lock; change it only with cache_folio_mark_dirty() /
 *             cache_folio_clear_dirty() so that dirty accounting stays right.
 *             A dirty block is always uptodate.
 * @error:     last writeback error on this folio (-errno) or 0; protected
 *             by the folio lock.
 */
struct cache_folio {
	struct cache_mapping *mapping;
	uint64_t index;
	void *data;
	uint64_t uptodate;
	uint64_t dirty;
	int error;
};

/**
 * struct cache_ops - callbacks from the cache into mapping owners.
 * @writeback: required. Write back dirty data of @mapping (whose owner
 *             pointer is @owner). @sync_all: write every dirty folio and wait
 *             (memory pressure, hard limit); otherwise a background pass.
 *             Called from the flusher thread with no cache lock held and
 *             with a reference on @mapping that keeps it alive for the
 *             duration of the call (cache_mapping_destroy() waits for it).
 *             Must not take the owner's inode rwlock (a writer throttled in
 *             cache_balance_dirty() may hold it). Return: 0 or -errno
 *             (logged; the data stays dirty or records the error).
 */
struct cache_ops {
	int (*writeback)(struct cache_mapping *mapping, void *owner,
			 bool sync_all);
};

/**
 * struct cache_config - knobs for cache_create().
 * @budget_bytes:    memory for all folios together (option cache_size).
 * @folio_size:      bytes per folio, power of two, 4 KiB..256 KiB. Each
 *                   mapping uses max(folio_size, block size) and at most
 *                   CACHE_MAX_FOLIO_BLOCKS blocks.
 * @dirty_background_pct: dirty share of the budget that wakes the flusher.
 * @dirty_limit_pct: dirty share above which writers wait.
 * @expire_ms:       dirty data older than this is written by the flusher.
 * @ops:             see struct cache_ops.
 */
struct cache_config {
	size_t budget_bytes;
	size_t folio_size;
	unsigned int dirty_background_pct;
	unsigned int dirty_limit_pct;
	unsigned int expire_ms;
	const struct cache_ops *ops;
};

/**
 * cache_create() - create the cache and start its flusher thread.
 * Return: 0 or -errno (-EINVAL for a bad config, -ENOMEM).
 */
int cache_create(const struct cache_config *cfg, struct cache **out);

/**
 * cache_destroy() - stop the flusher and free everything. Every mapping must
 * have been destroyed first.
 */
void cache_destroy(struct cache *cache);

/**
 * cache_mapping_create() - a folio index for one file.
 * @blkbits: log2 of the file system block size (10..16).
 * @owner:   passed back to cache_ops.writeback.
 * Return: 0 or -errno.
 */
int cache_mapping_create(struct cache *cache, unsigned int blkbits,
			 void *owner, struct cache_mapping **out);

/**
 * cache_mapping_destroy() - drop every folio of the mapping and free it.
 * Dirty folios are discarded: the owner writes back first if it wants the
 * data. Waits for a flusher call in progress on this mapping.
 * Context: no folio of this mapping may be held by the caller.
 */
void cache_mapping_destroy(struct cache_mapping *mapping);

/** cache_folio_shift() - log2 of the mapping's folio size in bytes. */
unsigned int cache_folio_shift(const struct cache_mapping *mapping);

/** cache_mapping_blkbits() - log2 of the block size given at creation. */
unsigned int cache_mapping_blkbits(const struct cache_mapping *mapping);

/** Flags for cache_folio_get(). */
enum {
	CACHE_FGP_CREAT = 1u << 0, /* create (not uptodate) when absent */
	CACHE_FGP_LOCK  = 1u << 1, /* return it locked */
	CACHE_FGP_NOWAIT = 1u << 2, /* never sleep for memory: -EAGAIN */
};

/**
 * cache_folio_get() - find (or create) folio @index of @mapping.
 *
 * Takes a reference. With CACHE_FGP_CREAT a missing folio is allocated
 * within the budget: clean unreferenced folios are reclaimed in LRU order
 * first; if that is not enough the flusher is woken and the caller waits.
 * Return: 0; -ENOENT (absent, no CREAT); -ENOMEM; -EAGAIN (NOWAIT).
 * Context: may sleep. Must not hold another folio's lock when CREAT may
 * have to wait for memory (the flusher needs folio locks).
 */
int cache_folio_get(struct cache_mapping *mapping, uint64_t index,
		    unsigned int fgp_flags, struct cache_folio **out);

/** cache_folio_put() - drop a reference taken by get or a lookup. */
void cache_folio_put(struct cache_folio *folio);

/** cache_folio_lock() - sleep until the folio lock is ours. */
void cache_folio_lock(struct cache_folio *folio);
/** cache_folio_trylock() - true if the lock was taken. */
bool cache_folio_trylock(struct cache_folio *folio);
void cache_folio_unlock(struct cache_folio *folio);

/**
 * cache_folio_mark_uptodate() - set uptodate bits for blocks
 * [first, first + nr) of the folio. Context: folio locked.
 */
void cache_folio_mark_uptodate(struct cache_folio *folio, unsigned int first,
			       unsigned int nr);

/**
 * cache_folio_mark_dirty() - set dirty (and uptodate) bits for blocks
 * [first, first + nr), account newly dirty bytes and record the dirtying
 * time for expiry. Context: folio locked.
 */
void cache_folio_mark_dirty(struct cache_folio *folio, unsigned int first,
			    unsigned int nr);

/**
 * cache_folio_clear_dirty() - clear dirty bits for [first, first + nr),
 * with accounting. Used when writeback takes the data and when a range is
 * punched or truncated. Context: folio locked.
 */
void cache_folio_clear_dirty(struct cache_folio *folio, unsigned int first,
			     unsigned int nr);

/**
 * cache_folio_start_writeback() / cache_folio_end_writeback() - bracket the
 * I/O of a folio whose dirty bits were cleared for writeback. While under
 * writeback the folio is not reclaimed and writers wait for the end
 * (stable pages). Context: start with the folio locked; end without.
 */
void cache_folio_start_writeback(struct cache_folio *folio);
void cache_folio_end_writeback(struct cache_folio *folio);

/** cache_folio_wait_writeback() - sleep until no writeback is in flight. */
void cache_folio_wait_writeback(struct cache_folio *folio);

/** cache_folio_under_writeback() - snapshot of the writeback state. */
bool cache_folio_under_writeback(const struct cache_folio *folio);

/**
 * cache_mapping_dirty_lookup() - referenced folios with dirty blocks, in
 * index order, starting at @start_index and below @end_index (exclusive;
 * UINT64_MAX for "to the end"). Fills up to @max entries of @folios.
 * Return: number of folios found (0 = none left). Each must be put.
 */
unsigned int cache_mapping_dirty_lookup(struct cache_mapping *mapping,
					uint64_t start_index,
					uint64_t end_index,
					struct cache_folio **folios,
					unsigned int max);

/**
 * cache_mapping_lookup_range() - referenced folios present in
 * [start_index, end_index), in index order, clean or dirty (for SEEK_DATA
 * over cached data, invalidation and zeroing). Same return contract.
 */
unsigned int cache_mapping_lookup_range(struct cache_mapping *mapping,
					uint64_t start_index,
					uint64_t end_index,
					struct cache_folio **folios,
					unsigned int max);

/** cache_mapping_has_dirty() - true if any block of the mapping is dirty. */
bool cache_mapping_has_dirty(const struct cache_mapping *mapping);

/** cache_mapping_nr_folios() - folios currently in the index (tests). */
size_t cache_mapping_nr_folios(const struct cache_mapping *mapping);

/**
 * cache_mapping_remove_range() - drop the cached data of bytes
 * [start, end) (end = UINT64_MAX: to the end of the file).
 *
 * @start and @end are block-aligned (the mapping's blkbits); zeroing the
 * partial blocks at the edges of a truncate or punch is the caller's job
 * (iomap_zero_range()). Waits for writeback on affected folios. Folios
 * wholly inside the range are removed from the index (dirty data discarded,
 * accounting fixed); in a folio partly inside, the covered blocks lose
 * their uptodate and dirty bits and their bytes are zeroed.
 * Used by truncate, punch hole and zero range.
 * Context: caller holds the owner's inode rwlock exclusively; no folio of
 * the mapping locked by the caller.
 */
void cache_mapping_remove_range(struct cache_mapping *mapping, uint64_t start,
				uint64_t end);

/**
 * cache_balance_dirty() - throttle a writer: if dirty bytes exceed the
 * background threshold, wake the flusher; if they exceed the hard limit,
 * sleep until the flusher brings them under it.
 * Context: no folio locks held. May hold the inode rwlock (the flusher
 * never takes it).
 */
void cache_balance_dirty(struct cache *cache);

/**
 * cache_mapping_start_writeback() - start writeback of @mapping without
 * waiting for it (the kernel's filemap_flush()): queue the mapping for the
 * flusher thread and wake it. The flusher calls cache_ops.writeback
 * (@sync_all false) on it soon, with the same pinning as in a pass; a
 * mapping destroyed first simply leaves the queue. A no-op for a clean,
 * dying or already queued mapping. Errors are the owner's to record (its
 * writeback callback runs as for any flusher pass).
 * Context: any thread, no folio lock needed; takes only the cache lock
 * (a leaf) and never waits for I/O.
 */
void cache_mapping_start_writeback(struct cache_mapping *mapping);

/** cache_wake_flusher() - ask for a background pass now. */
void cache_wake_flusher(struct cache *cache);

/**
 * struct cache_stats - counters for tests and the statistics log.
 */
struct cache_stats {
	size_t budget_bytes;
	size_t used_bytes;
	size_t dirty_bytes;
	size_t nr_folios;
	uint64_t hits;
	uint64_t misses;
	uint64_t reclaimed;
	uint64_t flusher_runs;
};

void cache_get_stats(struct cache *cache, struct cache_stats *st);

#endif /* UEXT4_CACHE_H */
