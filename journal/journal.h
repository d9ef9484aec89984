/* SPDX-License-Identifier: MIT */
/*
 * journal/ — everything between libext2fs and the disk for metadata. Today:
 * an io_manager of our own (journal_io_manager()) that sends every
 * libext2fs read and write through the same cache_bdev (io_uring, O_DIRECT
 * where the host allows it) that carries file data, plus a write-through
 * metadata block cache with an LRU byte budget.
 *
 * Why: libext2fs's unix_io writes metadata with buffered I/O on a second
 * descriptor of the image. A block cached by the host as metadata and later
 * written with O_DIRECT as file data leaves a page the host cannot
 * invalidate ("Page cache invalidation failure on direct I/O"), stale reads
 * and an EIO at the next fsync. With one engine for both, nothing goes
 * through the host page cache when the engine is O_DIRECT.
 *
 * Later (jbd2 transactions): a metadata write will land in the running
 * transaction instead of going home at once; the names below (journal_,
 * "registered device") are chosen for that. Nothing here knows FUSE.
 *
 * Lock order (DESIGN.md): inode rwlock → folio lock → journal handle →
 * metadata lock. The registry lock and the metadata cache lock of this
 * folder are leaf locks below all of them: held only for table updates,
 * never across device I/O or a call out of journal/.
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
 */
struct journal_io_config {
	uint64_t offset;
	size_t cache_budget;
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
 * bytes), write_byte (read-modify-write of the aligned region), flush
 * (the cache is write-through: only cache_bdev_flush()), set_option
 * ("offset" must match the registered offset; "cache_budget=BYTES"; any
 * other option is EXT2_ET_INVALID_ARGUMENT), get_stats, cache_readahead,
 * zeroout (zeros written through the engine) and discard
 * (EXT2_ET_UNIMPLEMENTED). I/O errors come back as the errno value
 * (EIO, EROFS...) as unix_io does, I/O past the device end as
 * EXT2_ET_SHORT_READ/EXT2_ET_SHORT_WRITE, after the channel's
 * read_error/write_error hook if one is set.
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
 * as metadata again. A no-op for channels of other managers.
 * Context: any thread, any lock held (takes the cache lock, a leaf).
 */
void journal_io_invalidate(io_channel ch, uint64_t blk, uint64_t count);

/**
 * journal_io_set_cache_budget() - change the metadata cache budget of the
 * device behind @ch (0 disables caching); evicts down to it at once.
 * Return: 0, or -EINVAL if @ch is not ours.
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
 * @unchanged:     writes skipped because the cached copy (= the device,
 *                 write-through) already held exactly those bytes.
 * @dev_reads/@dev_writes: bios sent to the engine.
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
};

/** journal_io_get_stats() - snapshot. Return: 0, or -EINVAL if not ours. */
int journal_io_get_stats(io_channel ch, struct journal_io_stats *st);

#endif /* UEXT4_JOURNAL_H */
