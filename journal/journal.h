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

/* ======================================================================== */
/* jbd2 journal: replay at mount (recovery.c) and transactions (commit.c,  */
/* checkpoint.c). The log itself: log.c. Format: format.h (private).       */
/* ======================================================================== */

/**
 * struct journal - an open jbd2 log (opaque; journal/internal.h).
 * Context: not thread-safe; the caller serializes every call on one
 * journal (the daemon's metadata lock).
 */
struct journal;

/**
 * journal_map_inode() - the physical block of every block of the internal
 * journal (the inode s_journal_inum, normally 8), through its extents or
 * block map.
 * @fs:        an open file system (read-only is enough).
 * @map:       receives a malloc'ed array: (*map)[i] is the file system
 *             block holding journal block i.
 * @nr_blocks: receives the number of entries (i_size / block size).
 *
 * Checks: the has_journal feature, an internal journal (an external
 * journal — s_journal_inum 0 with a journal UUID or device — is
 * -EOPNOTSUPP), a regular inode in use, i_size a multiple of the block
 * size and at least JOURNAL_MIN_BLOCKS blocks, no hole, every block
 * inside the file system and not below s_first_data_block.
 * Return: 0; -ENOENT without a journal; -EOPNOTSUPP external journal;
 * -EUCLEAN damaged inode or map; -ENOMEM.
 */
int journal_map_inode(ext2_filsys fs, uint64_t **map, uint64_t *nr_blocks);

/**
 * struct journal_geometry - where a log lives.
 * @bdev:      engine of the file system (home blocks and log blocks).
 * @blocksize: file system block size; the journal's must be the same.
 * @map:       @map[i] = file system block of journal block i (copied by
 *             journal_open()).
 * @nr_blocks: entries in @map.
 */
struct journal_geometry {
	struct cache_bdev *bdev;
	unsigned int blocksize;
	const uint64_t *map;
	uint64_t nr_blocks;
};

/**
 * journal_open() - read and check the journal superblock (block 0).
 * @readonly: never write (journal_recover() then fails with -EROFS;
 *            journal_recover_to_memory() works).
 * Return: 0; -EUCLEAN damaged superblock (a message on stderr says
 * which field); -EOPNOTSUPP unsupported journal features; -EIO; -ENOMEM.
 */
int journal_open(const struct journal_geometry *geo, bool readonly,
		 struct journal **out);

/**
 * journal_close() - release @j. Committed transactions not checkpointed
 * stay in the log (the file system then still needs recovery).
 */
void journal_close(struct journal *j);

/** journal_needs_recovery() - the log is not empty (s_start != 0). */
bool journal_needs_recovery(const struct journal *j);

/**
 * journal_incompat() - the journal's incompat feature word (JBD2 values:
 * REVOKE 0x1, 64BIT 0x2, ASYNC_COMMIT 0x4, CSUM_V2 0x8, CSUM_V3 0x10,
 * FAST_COMMIT 0x20).
 */
uint32_t journal_incompat(const struct journal *j);

/**
 * struct journal_recovery_info - what journal_recover() did.
 * @start_tid:      first transaction of the log (s_sequence).
 * @end_tid:        first transaction not replayed: [start, end) replayed.
 * @failed_commit:  transaction whose commit block failed its checksum
 *                  (replay stopped before it), 0 if none.
 * @nr_replayed:    home blocks written; @nr_revokes: revoke records read;
 *                  @nr_revoke_hits: logged blocks skipped as revoked.
 * @journal_errno:  s_errno found in the journal superblock (an error the
 *                  last writer recorded), 0 if none.
 * @fs_error:       mark the file system with errors (EXT2_ERROR_FS), as
 *                  e2fsck does for @journal_errno or a failed commit.
 * @fs_not_valid:   the replay met an error (bad checksum, unreadable log
 *                  block): clear EXT2_VALID_FS so that a full fsck runs.
 */
struct journal_recovery_info {
	uint32_t start_tid;
	uint32_t end_tid;
	uint32_t failed_commit;
	uint64_t nr_replayed;
	uint64_t nr_revokes;
	uint64_t nr_revoke_hits;
	int32_t journal_errno;
	bool fs_error;
	bool fs_not_valid;
};

/**
 * journal_recover() - replay the log as e2fsck 1.47 (and the kernel) do.
 *
 * Three passes from s_start, following increasing transaction numbers:
 * SCAN finds the end (first block that is not the next expected header,
 * a commit block failing its checksum, ...), REVOKE builds the table of
 * (block, transaction) revocations, REPLAY writes every logged block home
 * unless revoked by the same or a later transaction, restoring escaped
 * magic numbers. The same blocks are written, with the same stopping
 * point on a bad checksum or a torn transaction, as `e2fsck -fy`. Then:
 * flush, reset the log (s_start 0, s_sequence end + 1, s_errno as e2fsck
 * leaves it), write the journal superblock and flush again.
 * The caller then clears needs_recovery in the ext4 superblock and
 * applies @info->fs_error / @info->fs_not_valid.
 * Call it only when the ext4 superblock says needs_recovery: even a clean
 * log (s_start 0) is then restarted as e2fsck does — nothing replayed
 * (end_tid = start_tid), s_sequence + 1, s_errno cleared (reported in
 * @info->journal_errno and @info->fs_error) and the journal superblock
 * written; a read-only journal with a clean log returns 0 and writes
 * nothing.
 *
 * Fast commits (journal incompat FAST_COMMIT): the last s_num_fc_blks
 * blocks of the journal (256 when 0) are ext4's fast-commit area. After
 * SCAN, the area is scanned as the kernel's fc_do_one_pass() and
 * ext4_fc_replay_scan() do, for fast commits of end_tid, the transaction
 * after the last full commit. If it holds none — unused (its first tag
 * is not a HEAD) or stale (a HEAD of another transaction) — the kernel
 * and e2fsck replay nothing from it, and the log is replayed as for any
 * journal, with e2fsck's result. If it holds a valid fast commit (a TAIL
 * of end_tid with the right crc), or is damaged so that the kernel's
 * scan fails, -EOPNOTSUPP: nothing is written, e2fsck must replay it.
 *
 * Return: 0 when every committed transaction was replayed; -EUCLEAN when
 * the log was damaged (what could be replayed was, as e2fsck; the log is
 * reset); -EOPNOTSUPP for a log that needs fast-commit replay (see
 * above; nothing written); -EIO when the device failed (the log is not
 * reset); -EROFS for a read-only journal.
 */
int journal_recover(struct journal *j, struct journal_recovery_info *info);

/**
 * struct journal_overlay - the result of journal_recover_to_memory(): the
 * replayed home blocks, held in memory (opaque; journal/overlay.c).
 * Context: built by the replay, never changed afterwards; any number of
 * threads may read it at once without a lock.
 */
struct journal_overlay;

/**
 * journal_recover_to_memory() - replay the log into memory, for a
 * read-only mount: the same three passes as journal_recover(), the same
 * blocks with the same stopping point and the same skips (revoked blocks,
 * blocks failing their tag checksum, blocks past the device end), but
 * each replayed block goes into an in-memory table (the last copy of a
 * block wins) instead of its home location. Nothing is written — @j may
 * be read-only — and the log is left as it is (it still needs recovery).
 * Log blocks that the replay overwrites are read, later in the replay, as
 * the table holds them (as e2fsck, which writes each block at once, would
 * read them).
 * @info: filled as journal_recover() fills it (what the caller would
 *        record in the superblock; here only reported).
 * @out:  receives the table on 0 and -EUCLEAN (empty for a clean log;
 *        free it with journal_overlay_free()), NULL otherwise.
 * Return: 0 when every committed transaction was replayed; -EUCLEAN when
 * the log was damaged (*@out holds what could be replayed, as
 * journal_recover() would have written); -EOPNOTSUPP fast-commit replay
 * needed (journal_recover()'s rule; *@out NULL); -EIO a log block
 * could not be read; -ENOMEM.
 */
int journal_recover_to_memory(struct journal *j,
			      struct journal_recovery_info *info,
			      struct journal_overlay **out);

/**
 * journal_overlay_read() - lay @ov over @len bytes just read from the
 * device at byte @pos (relative to the file system start, as struct
 * cache_bio): the bytes of every block @ov holds are replaced by the
 * replayed ones; the range may start and end anywhere inside blocks.
 * Context: any thread, concurrently with other readers; no lock, no I/O.
 * Return: the number of bytes replaced.
 */
size_t journal_overlay_read(const struct journal_overlay *ov, uint64_t pos,
			    void *buf, size_t len);

/**
 * journal_overlay_bdev_read() - journal_overlay_read() as a
 * cache_bdev_overlay_fn: cache_bdev_set_read_overlay(bdev,
 * journal_overlay_bdev_read, ov) makes every read of the engine see the
 * replayed blocks. @ov must outlive the installation.
 */
void journal_overlay_bdev_read(void *ov, uint64_t pos, void *buf, size_t len);

/** journal_overlay_nr_blocks() - blocks held by @ov (0 for NULL). */
uint64_t journal_overlay_nr_blocks(const struct journal_overlay *ov);

/**
 * journal_overlay_free() - release @ov (NULL is fine). Uninstall it from
 * its engine, or close the engine, first: no reader may be left.
 */
void journal_overlay_free(struct journal_overlay *ov);

/**
 * journal_lookup() - the newest committed but not yet checkpointed copy of
 * home block @blocknr, for reads that must see the journal's version.
 * Return: true and @buf filled (blocksize bytes), or false.
 */
bool journal_lookup(struct journal *j, uint64_t blocknr, void *buf);

/* ---- transactions ------------------------------------------------------- */

/**
 * struct journal_txn - a transaction being built (opaque).
 *
 * Lifecycle:
 *
 *   journal_txn_start ──► add / revoke ... ──► journal_txn_commit ──► (log)
 *                                     └──────► journal_txn_abort
 *   committed ──► journal_checkpoint ──► home blocks written, tail moved
 */
struct journal_txn;

/**
 * journal_writer_init() - make @j writable: the log must be empty
 * (recovered); sets the features the writer will use in the journal
 * superblock (@incompat: any of REVOKE, 64BIT, CSUM_V2, CSUM_V3, as the
 * kernel sets them at mount for the file system's features; CSUM_V2/V3
 * replace each other and COMPAT_CHECKSUM). Writes nothing until the
 * first commit.
 * Return: 0, -EINVAL (bad combination), -EBUSY (log not empty), -EROFS.
 */
int journal_writer_init(struct journal *j, uint32_t incompat);

/** journal_txn_start() - begin the next transaction. Return: 0, -ENOMEM. */
int journal_txn_start(struct journal *j, struct journal_txn **out);

/**
 * journal_txn_add() - log the new contents @data (blocksize bytes, copied)
 * of home block @blocknr. Adding a block twice keeps the last copy; adding
 * a block revoked in this transaction cancels that revoke.
 * Return: 0, -ENOMEM, -EINVAL (@blocknr does not fit the journal's
 * block numbers: above 2^32 without 64BIT).
 */
int journal_txn_add(struct journal_txn *t, uint64_t blocknr,
		    const void *data);

/**
 * journal_txn_revoke() - record that @blocknr is no longer metadata:
 * replay must not write older logged copies of it. Drops a copy added in
 * this transaction. Return: 0, -ENOMEM, -EINVAL.
 */
int journal_txn_revoke(struct journal_txn *t, uint64_t blocknr);

/**
 * journal_txn_commit() - write @t to the log and make it durable:
 * descriptor and data blocks (escaped when they start with the magic)
 * and revoke blocks, FLUSH, then the commit block (strictly increasing
 * commit time), FLUSH — so a crash leaves the transaction whole or
 * absent. Checkpoints first when the log has no room. The first commit
 * after an empty log also writes the journal superblock with s_start.
 * @t is consumed, also on failure.
 * @tid: receives the transaction number (may be NULL).
 * Return: 0; -ENOSPC when @t alone is larger than the log; -EIO.
 */
int journal_txn_commit(struct journal_txn *t, uint32_t *tid);

/** journal_txn_abort() - drop @t without writing anything. */
void journal_txn_abort(struct journal_txn *t);

/**
 * journal_checkpoint() - write the newest copy of every block of the
 * committed transactions home (revoked blocks excepted), FLUSH, then
 * mark the log empty in the journal superblock (s_start 0, s_sequence
 * the next transaction) and FLUSH. Return: 0 or -EIO.
 */
int journal_checkpoint(struct journal *j);

/**
 * struct journal_stats - counters of one open journal.
 * @first/@last/@maxlen: the log area [first, last).
 * @head: next log block to write; @tail: oldest log block still needed
 *        (== head when empty). @next_tid: next transaction number.
 * @free_blocks: log blocks usable before a checkpoint is needed.
 * @commits, @checkpoints, @wraps: events so far.
 */
struct journal_stats {
	uint32_t first, last, maxlen;
	uint32_t head, tail;
	uint32_t next_tid;
	uint32_t free_blocks;
	uint64_t commits, checkpoints, wraps;
};

/** journal_get_stats() - snapshot of @j's counters. */
void journal_get_stats(const struct journal *j, struct journal_stats *st);

#endif /* UEXT4_JOURNAL_H */
