/* SPDX-License-Identifier: MIT */
/*
 * journal/ — everything between libext2fs and the disk for metadata. Today:
 * an io_manager of our own (journal_io_manager()) that sends every
 * libext2fs read and write through the same cache_bdev (io_uring, O_DIRECT
 * where the host allows it) that carries file data, plus a write-back
 * metadata block cache with an LRU byte budget.
 *
 * Why: libext2fs's unix_io writes metadata with buffered I/O on a second
 * descriptor of the image. A block cached by the host as metadata and later
 * written with O_DIRECT as file data leaves a page the host cannot
 * invalidate ("Page cache invalidation failure on direct I/O"), stale reads
 * and an EIO at the next fsync. With one engine for both, nothing goes
 * through the host page cache when the engine is O_DIRECT.
 *
 * Write-back: a metadata write only updates the cached block and marks it
 * dirty. Dirty blocks reach the device, in one batch sorted by block with
 * contiguous blocks merged, when the channel is flushed (io_channel_flush:
 * ext2fs_flush/ext2fs_close, extent_sync_metadata, so fsync), when the
 * budget forces it (the oldest dirty blocks), when the oldest is older
 * than the writeback interval (5 s, ext4's commit interval), and when the
 * last reference to a channel is closed. The interval is checked lazily,
 * at each write and flush call — there is no thread: an idle mount keeps
 * the metadata changed in its last interval of activity (at most 5 s of
 * changes) in memory until its next metadata call, an fsync or the
 * unmount, which all write everything back. A crash loses what was not
 * written back (no journal yet), as with ext4 without a journal.
 *
 * Later (jbd2 transactions): a metadata write will land in the running
 * transaction instead of going home at once; the names below (journal_,
 * "registered device") are chosen for that. Nothing here knows FUSE.
 *
 * Lock order (DESIGN.md): inode rwlock → folio lock → journal handle →
 * metadata lock. The registry lock and the metadata cache lock of this
 * folder are leaf locks below all of them: held only for table updates,
 * never across device I/O or a call out of journal/. A writeback copies
 * its dirty blocks out under the cache lock, then writes without it; the
 * only wait is journal_io_invalidate() on a block of the writeback in
 * flight (one batch, milliseconds), which must not return before that
 * write has landed.
 */
#ifndef UEXT4_JOURNAL_H
#define UEXT4_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ext2fs/ext2fs.h>	/* io_manager, io_channel, errcode_t */

#include "cache.h"

/** JOURNAL_IO_NAME_MAX - room for a registered name, with its NUL. */
#define JOURNAL_IO_NAME_MAX 32

/** JOURNAL_IO_CACHE_DEFAULT - default metadata cache budget (bytes). */
#define JOURNAL_IO_CACHE_DEFAULT ((size_t)32 << 20)

/**
 * struct journal_io_config - how a device is registered.
 * @offset:       byte offset of the file system in the image, as given to
 *                cache_bdev_open() (the bdev already adds it). Only used to
 *                accept a matching "offset=" io option from libext2fs.
 * @cache_budget: bytes of metadata blocks kept in memory; 0 selects
 *                JOURNAL_IO_CACHE_DEFAULT. Change it later with
 *                journal_io_set_cache_budget().
 * @writeback_interval_ms: dirty metadata older than this is written back
 *                at the next write or flush call; 0 selects 5000 (ext4's
 *                commit interval). Tests use a few milliseconds.
 */
struct journal_io_config {
	uint64_t offset;
	size_t cache_budget;
	unsigned int writeback_interval_ms;
};

/**
 * journal_io_register() - make @bdev reachable by name for the io_manager.
 * @bdev:    the block engine; it must outlive every channel opened on it.
 * @cfg:     NULL for defaults.
 * @name:    receives the name to pass to ext2fs_open2() with
 *           journal_io_manager() (e.g. "uext4-journal:3").
 * @namelen: size of @name (JOURNAL_IO_NAME_MAX is enough).
 *
 * Why a registry: libext2fs hands an io_manager nothing but a string
 * (struct_io_manager.open(name, flags, &channel)), so a pointer to our
 * engine cannot be passed through ext2fs_open2(). The registry maps the
 * name to the registered device (engine + metadata cache). Channels opened
 * on one name share its cache, so they stay coherent with each other.
 *
 * The registration holds one reference on the device state and each open
 * channel another; journal_io_unregister() drops the first, so the usual
 * sequence is register → ext2fs_open2() → unregister, after which the
 * channel alone keeps the state alive until ext2fs_close2().
 * Context: any thread; takes the registry lock (leaf).
 * Return: 0, -ENOMEM, or -ENAMETOOLONG if @namelen is too small.
 */
int journal_io_register(struct cache_bdev *bdev,
			const struct journal_io_config *cfg, char *name,
			size_t namelen);

/**
 * journal_io_unregister() - forget @name. Channels already open keep
 * working; new opens of @name fail with EXT2_ET_BAD_DEVICE_NAME.
 * Return: 0, or -ENOENT if @name is not registered.
 */
int journal_io_unregister(const char *name);

/**
 * journal_io_manager() - the io_manager to pass to ext2fs_open2().
 *
 * Every member is filled: read_blk(64)/write_blk(64) (count < 0 = -count
 * bytes), write_byte (read-modify-write of the cached block), flush
 * (write back every dirty block, then cache_bdev_flush()), set_option
 * ("offset" must match the registered offset; "cache_budget=BYTES"; any
 * other option is EXT2_ET_INVALID_ARGUMENT), get_stats, cache_readahead,
 * zeroout (zeros written through the engine) and discard
 * (EXT2_ET_UNIMPLEMENTED). I/O errors come back as the errno value
 * (EIO, EROFS...) as unix_io does, I/O past the device end as
 * EXT2_ET_SHORT_READ/EXT2_ET_SHORT_WRITE, after the channel's
 * read_error/write_error hook if one is set.
 *
 * Writes are deferred (see the top of this file): a write call fails only
 * for a bad range or a write the cache cannot absorb (larger than 256 KiB
 * or half the budget, zeroout, caching off: those go to the device at
 * once). A deferred write that fails calls the write_error hook of the
 * channel whose call ran the writeback (with actual = -1, as unix_io's
 * flush); its result (the errno, or what the hook returned; 0 = handled)
 * is remembered, first error only, and returned by the next flush of any
 * channel of the device. The failed blocks stay dirty and cached (reads
 * keep seeing the new bytes); they are retried by the next flush, or one
 * interval later — one attempt per call, never a retry loop. So a
 * device that keeps failing keeps its dirty metadata in memory, over
 * the budget if need be, until a flush succeeds or the last channel of
 * the device closes (close reports the error and drops them).
 * CHANNEL_FLAGS_WRITETHROUGH set on a channel by its user makes every
 * write on it write everything back at once.
 * Context: libext2fs is not thread-safe; its calls come under the
 * daemon's metadata lock.
 */
io_manager journal_io_manager(void);

/**
 * journal_io_bdev() - the engine behind @ch, or NULL if @ch is not a
 * channel of journal_io_manager().
 */
struct cache_bdev *journal_io_bdev(io_channel ch);

/**
 * journal_io_invalidate() - drop cached copies of blocks [@blk, @blk +
 * @count) (in @ch's block size).
 *
 * Call it when blocks are handed to file data (extent/ allocation): file
 * data is written by cache/ straight to the engine, so a block that was
 * metadata before must not be served from this cache if it is ever read
 * as metadata again. A dirty copy is dropped without being written:
 * written later it would overwrite the file data. If the writeback in
 * flight holds one of the blocks, waits for it to land first. A no-op
 * for channels of other managers.
 * Context: any thread, any lock held (takes the cache lock, a leaf; may
 * sleep only on the writeback in flight, which takes no lock to end).
 */
void journal_io_invalidate(io_channel ch, uint64_t blk, uint64_t count);

/**
 * journal_io_set_cache_budget() - change the metadata cache budget of the
 * device behind @ch (0 disables caching); writes every dirty block back
 * and evicts down to it at once.
 * Return: 0, -EINVAL if @ch is not ours, or the writeback's -errno (the
 * budget is changed anyway; failed blocks stay dirty).
 */
int journal_io_set_cache_budget(io_channel ch, size_t bytes);

/**
 * struct journal_io_stats - metadata cache counters of one device.
 * @budget:        byte budget.
 * @cached_bytes:  bytes held (entries × @granule).
 * @nr_blocks:     entries held.
 * @granule:       bytes per entry (the file system block size once open).
 * @hits/@misses:  block lookups by reads.
 * @inserts:       entries added; @evictions: dropped for the budget;
 *                 @invalidated: dropped by invalidation or failed writes.
 * @unchanged:     writes skipped because the cached copy already held
 *                 exactly those bytes.
 * @dev_reads/@dev_writes: bios sent to the engine.
 * @nr_dirty/@dirty_bytes: entries (bytes) not written back yet.
 * @writebacks:    dirty entries written back; @wb_batches: writebacks
 *                 (each one cache_bdev_submit); @wb_failed: entries whose
 *                 deferred write failed; @dropped_dirty: dirty entries
 *                 dropped unwritten by invalidation.
 */
struct journal_io_stats {
	size_t budget;
	size_t cached_bytes;
	size_t nr_blocks;
	unsigned int granule;
	uint64_t hits;
	uint64_t misses;
	uint64_t inserts;
	uint64_t evictions;
	uint64_t invalidated;
	uint64_t unchanged;
	uint64_t dev_reads;
	uint64_t dev_writes;
	size_t nr_dirty;
	size_t dirty_bytes;
	uint64_t writebacks;
	uint64_t wb_batches;
	uint64_t wb_failed;
	uint64_t dropped_dirty;
};

/** journal_io_get_stats() - snapshot. Return: 0, or -EINVAL if not ours. */
int journal_io_get_stats(io_channel ch, struct journal_io_stats *st);

#endif /* UEXT4_JOURNAL_H */
