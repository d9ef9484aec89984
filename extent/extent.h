/* SPDX-License-Identifier: MIT */
/*
 * extent/ — ext4 policy for the iomap engine: maps file ranges to extents
 * with libext2fs, allocates blocks for writes (as unwritten extents,
 * converted once their data is on disk), raises the on-disk size at I/O
 * completion, and implements truncate, fallocate (and its punch and zero
 * modes), SEEK_DATA/SEEK_HOLE and fsync for regular files.
 *
 * The daemon owns inodes and directories; extent/ owns a regular file's
 * data, its block map and its size. Every libext2fs call here is made under
 * the metadata lock (struct extent_fs.meta_lock).
 *
 * Lock order (DESIGN.md):
 *	inode rwlock (extent_inode.rwlock)
 *	  → folio lock (cache/)
 *	    → journal handle (journal/, later)
 *	      → metadata lock (extent_fs.meta_lock)
 *
 * Allocation seam: in this version blocks are allocated when a write maps
 * a hole (ops.write). Delayed allocation will replace ops.write with a
 * reserving DELALLOC policy and allocate in ops.writeback.map_range;
 * nothing above extent/ changes.
 */
#ifndef UEXT4_EXTENT_H
#define UEXT4_EXTENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ext2fs/ext2fs.h>

#include "cache.h"
#include "iomap.h"

/** Error behaviour (option errors=, default from the superblock). */
enum extent_errors {
	EXTENT_ERRORS_CONTINUE = 1,
	EXTENT_ERRORS_RO = 2,
	EXTENT_ERRORS_PANIC = 3,
};

/**
 * struct extent_ops - the ops tables of the ext4 policy, held here so that
 * callers pass them from the context and nothing is global.
 * @read:      mapping for reads (never allocates).
 * @write:     mapping for buffered writes (allocates unwritten extents).
 * @report:    mapping for SEEK_DATA/SEEK_HOLE.
 * @write_ops: validity check of cached mappings.
 * @writeback: map_range + end_io (unwritten conversion, i_disksize).
 */
struct extent_ops {
	const struct iomap_ops *read;
	const struct iomap_ops *write;
	const struct iomap_ops *report;
	const struct iomap_write_ops *write_ops;
	const struct iomap_writeback_ops *writeback;
};

/**
 * struct extent_fs - one mounted file system, as extent/ and daemon/ see it.
 *
 * @fs:        libext2fs handle. Protected by @meta_lock: every libext2fs
 *             call, and every read or write of *fs (superblock, group
 *             descriptors, bitmaps), holds it.
 * @meta_lock: the metadata lock; last in the lock order. Never held while
 *             waiting for a folio lock or for writeback.
 * @cache:     the folio cache (thread-safe on its own).
 * @bdev:      the data block engine (thread-safe on its own).
 * @ops:       the policy's ops tables (constant after extent_fs_init()).
 * @blocksize, @blkbits: of the file system; constant.
 * @readonly:  mounted read-only (constant, or set once on errors=remount-ro;
 *             read with atomic loads).
 * @errors:    enum extent_errors; constant.
 * @max_file_size: largest i_size the file system supports; constant.
 * @error_count: corruption/IO errors seen (for tests and the log).
 */
struct extent_fs {
	ext2_filsys fs;
	pthread_mutex_t meta_lock;
	struct cache *cache;
	struct cache_bdev *bdev;
	struct extent_ops ops;
	unsigned int blocksize;
	unsigned int blkbits;
	atomic_bool readonly;
	int errors;
	uint64_t max_file_size;
	atomic_uint_fast64_t error_count;
};

/**
 * struct extent_inode - the in-memory state extent/ keeps for one inode that
 * the daemon has loaded (embedded in the daemon's inode).
 *
 * @efs:      the file system.
 * @ino:      inode number; constant.
 * @rwlock:   the inode rwlock, first in the lock order. Held shared by
 *            reads, exclusively by writes, truncate, fallocate and every
 *            change of @size. Writeback does not take it.
 * @size:     i_size as users see it. Protected by @rwlock for writers;
 *            read with atomic loads by getattr and writeback.
 * @disksize: i_size as written in the on-disk inode (≤ @size while
 *            written data is in flight). Protected by efs->meta_lock.
 * @map_seq:  mapping sequence number (iomap validity cookie), bumped under
 *            efs->meta_lock on every change of the block map.
 * @file:     what the iomap engine uses (mapping, bdev, blkbits, private =
 *            this struct). @file.mapping is NULL for non-regular files.
 * @wb_error: first writeback error not yet reported by fsync (-errno), or
 *            0. Atomic: set by writeback, taken by fsync.
 * @wb_lock:  serializes extent_writeback() calls on this inode (flusher,
 *            fsync, eviction, unmount), so that a caller never returns
 *            while another one's writeback of the same data (dirty bits
 *            already cleared, I/O or conversion in flight) is unfinished.
 *            Taken with no folio lock held, before folio locks and
 *            meta_lock; never under @rwlock (writeback does not take it).
 * @iflags:   extent/'s copy of the on-disk i_flags bits it needs
 *            (EXT4_EXTENTS_FL, EXT4_INLINE_DATA_FL): which mapping code
 *            and which maximum size apply. Changed under @rwlock
 *            exclusively and efs->meta_lock; read with atomic loads.
 */
struct extent_inode {
	struct extent_fs *efs;
	ext2_ino_t ino;
	pthread_rwlock_t rwlock;
	_Atomic uint64_t size;
	uint64_t disksize;
	_Atomic uint64_t map_seq;
	struct iomap_file file;
	atomic_int wb_error;
	atomic_uint iflags;
	pthread_mutex_t wb_lock;
};

/**
 * extent_fs_init() - fill @efs for an open libext2fs handle.
 * @fs, @cache, @bdev: already opened by the daemon.
 * Fills the ops tables, block size, max file size, locks.
 * Return: 0 or -errno.
 */
int extent_fs_init(struct extent_fs *efs, ext2_filsys fs, struct cache *cache,
		   struct cache_bdev *bdev, bool readonly, int errors);

/** extent_fs_fini() - destroy what extent_fs_init() created. */
void extent_fs_fini(struct extent_fs *efs);

/** extent_meta_lock()/extent_meta_unlock() - take/drop efs->meta_lock. */
void extent_meta_lock(struct extent_fs *efs);
void extent_meta_unlock(struct extent_fs *efs);

/**
 * extent_errcode() - translate a libext2fs error into -errno, in one table
 * (REFERENCE.md): corruption and checksum codes → -EUCLEAN, and for those
 * the file system is marked as having errors (extent_fs_error());
 * NO_MEMORY → -ENOMEM; BLOCK/INODE_ALLOC_FAIL, DIR_NO_SPACE → -ENOSPC;
 * RO_FILSYS → -EROFS; FILE_TOO_BIG → -EFBIG; errno values pass through
 * negated; anything else → -EIO.
 * @ino: the object concerned (0 = none), for the log.
 * Context: meta_lock held if the code is a corruption code (the superblock
 * is updated).
 */
int extent_errcode(struct extent_fs *efs, ext2_ino_t ino, errcode_t err);

/**
 * extent_fs_error() - record a corruption or I/O error: log it once per
 * object, set EXT2_ERROR_FS in s_state, count it, bump s_error_count and
 * the first/last error fields, and apply the errors= behaviour (remount-ro:
 * set @readonly; panic: log and exit the daemon). Context: meta_lock held.
 */
void extent_fs_error(struct extent_fs *efs, ext2_ino_t ino, int err,
		     const char *what);

/**
 * extent_inode_init() - set up @ei for inode @ino whose on-disk inode is
 * @inode. For regular files creates the cache mapping.
 * Context: meta_lock NOT held (creating a mapping may sleep).
 * Return: 0 or -errno.
 */
int extent_inode_init(struct extent_fs *efs, struct extent_inode *ei,
		      ext2_ino_t ino, const struct ext2_inode_large *inode);

/**
 * extent_inode_destroy() - drop the mapping (dirty data discarded: call
 * extent_writeback() first to keep it) and the locks.
 */
void extent_inode_destroy(struct extent_inode *ei);

/**
 * extent_read() - read file data.
 * Takes @rwlock shared. Clamps to @size. Inline-data files are read from
 * the inode. Return: bytes read (0 at EOF) or -errno.
 */
ssize_t extent_read(struct extent_inode *ei, uint64_t pos, void *buf,
		    size_t len);

/**
 * extent_inode_maxbytes() - the largest size of @ei: the extent limit, or
 * the kernel's ext4_max_bitmap_size() for block-mapped files.
 */
uint64_t extent_inode_maxbytes(struct extent_inode *ei);

/**
 * extent_write() - buffered write.
 * @append: write at the current size (O_APPEND), under the same lock.
 * @pos_out: where the data went (the size, for @append).
 * Takes @rwlock exclusively. Fails with -EFBIG past the maximum file size
 * (a write that starts below it is shortened), -ENOSPC when no block can
 * be allocated, -EROFS on a read-only mount. Inline-data files are
 * converted to extents first. Raises @size. Throttles on dirty memory
 * (cache_balance_dirty) after dropping the lock.
 * Return: bytes written or -errno.
 */
ssize_t extent_write(struct extent_inode *ei, uint64_t pos, const void *buf,
		     size_t len, bool append, uint64_t *pos_out);

/**
 * extent_truncate() - set the size to @size (truncate up or down).
 * Down: waits for writeback, drops cached data past the new end, zeroes the
 * tail of the new last block, frees blocks. Up: only the size changes (a
 * hole). Writes the on-disk inode (i_size, i_blocks, extents).
 * Takes @rwlock exclusively. Return: 0, -EFBIG, -EROFS or -errno.
 */
int extent_truncate(struct extent_inode *ei, uint64_t size);

/** fallocate modes understood by extent_fallocate() (Linux values). */
#define EXTENT_FALLOC_KEEP_SIZE 0x01
#define EXTENT_FALLOC_PUNCH_HOLE 0x02
#define EXTENT_FALLOC_ZERO_RANGE 0x10

/**
 * extent_fallocate() - fallocate(2) for a regular file.
 * Default mode: allocate unwritten extents for holes in the range and raise
 * the size unless KEEP_SIZE. PUNCH_HOLE (requires KEEP_SIZE): zero the
 * partial blocks, free whole blocks. ZERO_RANGE: zero partial blocks,
 * turn whole blocks into unwritten extents, raise the size unless
 * KEEP_SIZE. Other modes: -EOPNOTSUPP.
 * Takes @rwlock exclusively. Return: 0 or -errno (-ENOSPC, -EFBIG, ...).
 */
int extent_fallocate(struct extent_inode *ei, int mode, uint64_t offset,
		     uint64_t len);

/**
 * extent_seek() - lseek(2) with SEEK_DATA or SEEK_HOLE.
 * Return: the new offset or -errno (-ENXIO past the end).
 */
int64_t extent_seek(struct extent_inode *ei, int64_t offset, int whence);

/**
 * extent_writeback() - write back all dirty data of the file and wait
 * (before eviction, at unmount, for fsync, and from the flusher). Calls
 * on one inode are serialized by @wb_lock: on return everything written
 * before the call is on disk and converted, or has recorded its error,
 * even when the flusher had started writing it (queued by release).
 * Does not take @rwlock. Return: 0 or the first -errno.
 */
int extent_writeback(struct extent_inode *ei);

/**
 * extent_writeback_start() - start writeback of the file's dirty data
 * without waiting (on release of the last handle, as the kernel's
 * filemap_flush()): hands the file to the flusher thread
 * (cache_mapping_start_writeback()). Errors are recorded in @wb_error for
 * the next fsync, as for any flusher writeback.
 * Context: no lock needed; never waits for I/O.
 */
void extent_writeback_start(struct extent_inode *ei);

/**
 * extent_fsync() - fsync/fdatasync: write back dirty data, then make the
 * file's metadata (inode, extent tree, bitmaps, group descriptors,
 * superblock counters) durable and flush the device. Reports (and clears)
 * a writeback error recorded since the last fsync.
 * Return: 0 or -errno.
 */
int extent_fsync(struct extent_inode *ei, bool datasync);

/**
 * extent_sync_metadata() - write every dirty libext2fs structure (inode
 * table blocks, bitmaps, group descriptors, superblock) and flush the
 * device. Used by fsync, fsyncdir and unmount.
 * Context: meta_lock held. Return: 0 or -errno.
 */
int extent_sync_metadata(struct extent_fs *efs);

/**
 * extent_cache_ops() - the cache_ops table the daemon passes to
 * cache_create(): its writeback callback takes the mapping owner to be the
 * struct extent_inode given to cache_mapping_create() by extent_inode_init()
 * and writes it back with extent_writeback().
 */
const struct cache_ops *extent_cache_ops(void);

#endif /* UEXT4_EXTENT_H */
