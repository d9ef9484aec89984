/* SPDX-License-Identifier: MIT */
/*
 * extent/fs.c — one mounted file system as extent/ sees it: set-up of
 * struct extent_fs (ops tables, block size, maximum file sizes computed as
 * the kernel's ext4_max_size()/ext4_max_bitmap_size()), the one table that
 * turns libext2fs error codes into -errno, error recording in the
 * superblock (errors= behaviour), and writing dirty metadata.
 *
 * It does not open or close the file system: the daemon does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* MAX_LFS_FILESIZE on 64-bit Linux. */
#define EXTENT_MAX_LFS_FILESIZE ((uint64_t)INT64_MAX)

static uint64_t max_size_extents(unsigned int blkbits, bool huge_file)
{
	uint64_t upper = EXTENT_MAX_LFS_FILESIZE;
	uint64_t res;

	if (!huge_file) {
		/* i_blocks counts 512-byte sectors in 32 bits. */
		upper = ((uint64_t)1 << 32) - 1;
		upper >>= blkbits - 9;
		upper <<= blkbits;
	}
	/* ee_block is 32 bits; one block less so that ee_len can cover it. */
	res = (((uint64_t)1 << 32) - 1) << blkbits;
	return res < upper ? res : upper;
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

/* Dense block-mapped file whose data + indirect blocks fit in i_blocks. */
static uint64_t max_size_bitmap(unsigned int blkbits, bool huge_file)
{
	uint64_t ppb = (uint64_t)1 << (blkbits - 2);
	uint64_t res = EXT2_NDIR_BLOCKS;
	uint64_t upper, meta;

	if (!huge_file) {
		upper = ((uint64_t)1 << 32) - 1;
		upper >>= blkbits - 9;
	} else {
		upper = ((uint64_t)1 << 48) - 1;
	}
	res += ppb + ppb * ppb + ppb * ppb * ppb;
	meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb);
	if (res + meta <= upper)
		goto check_lfs;

	res = upper;
	upper -= EXT2_NDIR_BLOCKS;
	meta = 1;
	upper -= ppb;
	if (upper < ppb * ppb) {
		meta += 1 + div_round_up(upper, ppb);
		res -= meta;
		goto check_lfs;
	}
	meta += 1 + ppb;
	upper -= ppb * ppb;
	meta += 1 + div_round_up(upper, ppb) + div_round_up(upper, ppb * ppb);
	res -= meta;
check_lfs:
	if (res > (EXTENT_MAX_LFS_FILESIZE >> blkbits))
		return EXTENT_MAX_LFS_FILESIZE;
	return res << blkbits;
}

uint64_t extent_inode_maxbytes(struct extent_inode *ei)
{
	struct extent_fs *efs = ei->efs;

	if (extent_i_has_extents(ei) || extent_i_inline(ei))
		return efs->max_file_size;
	/* fs->super->s_feature_ro_compat is constant after mount. */
	return max_size_bitmap(efs->blkbits,
			       ext2fs_has_feature_huge_file(efs->fs->super));
}

/**
 * extent_fs_init() - see extent.h.
 * Context: no lock held; the file system is not yet shared.
 */
int extent_fs_init(struct extent_fs *efs, ext2_filsys fs, struct cache *cache,
		   struct cache_bdev *bdev, bool readonly, int errors)
{
	unsigned int bits = 0;
	errcode_t err;
	int ret;

	if (!fs || fs->blocksize < 1024 || (fs->blocksize & (fs->blocksize - 1)))
		return -EINVAL;
	while ((1u << bits) < fs->blocksize)
		bits++;

	/* error_message() names for EXT2_ET_* codes (idempotent). */
	initialize_ext2_error_table();
	efs->fs = fs;
	efs->cache = cache;
	efs->bdev = bdev;
	efs->blocksize = fs->blocksize;
	efs->blkbits = bits;
	atomic_store(&efs->readonly, readonly);
	if (errors < EXTENT_ERRORS_CONTINUE || errors > EXTENT_ERRORS_PANIC) {
		errors = fs->super->s_errors;
		if (errors < EXTENT_ERRORS_CONTINUE ||
		    errors > EXTENT_ERRORS_PANIC)
			errors = EXTENT_ERRORS_CONTINUE;
	}
	efs->errors = errors;
	efs->max_file_size = max_size_extents(bits,
				ext2fs_has_feature_huge_file(fs->super));
	atomic_store(&efs->error_count, 0);

	efs->ops.read = extent_read_iomap_ops();
	efs->ops.write = extent_write_iomap_ops();
	efs->ops.report = extent_report_iomap_ops();
	efs->ops.write_ops = extent_write_ops();
	efs->ops.writeback = extent_writeback_ops();

	ret = pthread_mutex_init(&efs->meta_lock, NULL);
	if (ret)
		return -ret;

	/*
	 * libext2fs and the data engine share the image. unix_io's private
	 * write-back cache could hold a dirty copy of a metadata block that
	 * is freed (punch, truncate) and reused for file data, and write it
	 * over the data later; its buffered writes may also collide with the
	 * engine's O_DIRECT writes (page cache invalidation failure, EIO on
	 * fsync). Write through instead: the host page cache is coherent with
	 * O_DIRECT. Managers without the option (the journal's) ignore it.
	 */
	(void)io_channel_set_options(fs->io, "cache=off");

	if (!readonly) {
		/* Allocation needs the bitmaps; no-op if already loaded. */
		err = ext2fs_read_bitmaps(fs);
		if (err) {
			pthread_mutex_lock(&efs->meta_lock);
			ret = extent_errcode(efs, 0, err);
			pthread_mutex_unlock(&efs->meta_lock);
			goto out_destroy_lock;
		}
	}
	return 0;

out_destroy_lock:
	pthread_mutex_destroy(&efs->meta_lock);
	return ret;
}

void extent_fs_fini(struct extent_fs *efs)
{
	pthread_mutex_destroy(&efs->meta_lock);
}

/*
 * Debug builds check that meta_lock is held where a "__" function says so:
 * trylock on a held (default, non-recursive) mutex fails with EBUSY.
 */
void extent_assert_meta_locked(struct extent_fs *efs)
{
#ifndef NDEBUG
	if (pthread_mutex_trylock(&efs->meta_lock) == 0) {
		pthread_mutex_unlock(&efs->meta_lock);
		assert(!"meta_lock not held");
	}
#else
	(void)efs;
#endif
}

/**
 * extent_meta_lock() - take efs->meta_lock (last in the lock order).
 * Context: no folio waited for while held.
 */
void extent_meta_lock(struct extent_fs *efs)
{
	pthread_mutex_lock(&efs->meta_lock);
}

void extent_meta_unlock(struct extent_fs *efs)
{
	pthread_mutex_unlock(&efs->meta_lock);
}

static bool is_corruption(errcode_t err)
{
	switch (err) {
	case EXT2_ET_BAD_MAGIC:
	case EXT2_ET_DIR_CORRUPTED:
	case EXT2_ET_BAD_BLOCK_NUM:
	case EXT2_ET_BAD_IND_BLOCK:
	case EXT2_ET_CORRUPT_SUPERBLOCK:
	case EXT2_ET_BAD_EA_BLOCK_NUM:
	case EXT2_ET_RESIZE_INODE_CORRUPT:
	case EXT2_ET_EXTENT_HEADER_BAD:
	case EXT2_ET_EXTENT_INDEX_BAD:
	case EXT2_ET_EXTENT_LEAF_BAD:
	case EXT2_ET_INODE_CSUM_INVALID:
	case EXT2_ET_INODE_BITMAP_CSUM_INVALID:
	case EXT2_ET_EXTENT_CSUM_INVALID:
	case EXT2_ET_DIR_CSUM_INVALID:
	case EXT2_ET_EXT_ATTR_CSUM_INVALID:
	case EXT2_ET_SB_CSUM_INVALID:
	case EXT2_ET_BLOCK_BITMAP_CSUM_INVALID:
	case EXT2_ET_EA_BAD_NAME_LEN:
	case EXT2_ET_EA_BAD_VALUE_SIZE:
	case EXT2_ET_BAD_EA_HASH:
	case EXT2_ET_BAD_EA_HEADER:
	case EXT2_ET_EA_BAD_VALUE_OFFSET:
	case EXT2_ET_FILESYSTEM_CORRUPTED:
	case EXT2_ET_INODE_CORRUPTED:
	case EXT2_ET_EA_INODE_CORRUPTED:
	case EXT2_ET_NO_INLINE_DATA:
	case EXT2_ET_INLINE_DATA_NO_BLOCK:
	case EXT2_ET_EXTENT_NO_DOWN:
	case EXT2_ET_EXTENT_INVALID_LENGTH:
	case EXT2_ET_DIR_NO_SPACE_FOR_CSUM:
		return true;
	default:
		return false;
	}
}

/**
 * extent_errcode() - see extent.h. The one translation table of extent/.
 */
int extent_errcode(struct extent_fs *efs, ext2_ino_t ino, errcode_t err)
{
	if (err == 0)
		return 0;
	/* libext2fs passes plain errno values through unchanged. */
	if (err > 0 && err < 4096)
		return -(int)err;
	if (is_corruption(err)) {
		extent_fs_error(efs, ino, -EUCLEAN, error_message(err));
		return -EUCLEAN;
	}
	switch (err) {
	case EXT2_ET_NO_MEMORY:
		return -ENOMEM;
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_DIR_NO_SPACE:
	case EXT2_ET_TOOSMALL:
	case EXT2_ET_EA_NO_SPACE:
	case EXT2_ET_INLINE_DATA_NO_SPACE:
		return -ENOSPC;
	case EXT2_ET_RO_FILSYS:
		return -EROFS;
	case EXT2_ET_FILE_TOO_BIG:
		return -EFBIG;
	case EXT2_ET_EA_KEY_NOT_FOUND:
		return -ENODATA;
	case EXT2_ET_INODE_NOT_EXTENT:
	case EXT2_ET_OP_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case EXT2_ET_BAD_INODE_NUM:
		return -ENOENT;
	case EXT2_ET_DIR_EXISTS:
		return -EEXIST;
	default:
		return -EIO;
	}
}

/* The kernel's EXT4_ERR_* codes stored in s_{first,last}_error_errcode. */
static __u8 error_code_of(int err)
{
	switch (err) {
	case -EIO:
		return 2;
	case -ENOMEM:
		return 3;
	case -EUCLEAN:
		return 5;
	case -ENOSPC:
		return 8;
	default:
		return 1;
	}
}

/**
 * extent_fs_error() - see extent.h.
 *
 * "Log once per object" without per-object state: a message is printed
 * when the object differs from the one of the last recorded error, so a
 * damaged inode read in a loop does not flood the log.
 */
void extent_fs_error(struct extent_fs *efs, ext2_ino_t ino, int err,
		     const char *what)
{
	struct ext2_super_block *sb = efs->fs->super;
	uint64_t now = (uint64_t)time(NULL);
	bool first = sb->s_error_count == 0 && sb->s_first_error_time == 0 &&
		     sb->s_first_error_time_hi == 0;
	bool log = first || sb->s_last_error_ino != ino ||
		   !(sb->s_state & EXT2_ERROR_FS);
	const char *w = what ? what : "error";

	atomic_fetch_add(&efs->error_count, 1);
	if (log)
		fprintf(stderr, "uext4: %serror on inode %u: %s (%s)\n",
			first ? "first " : "", ino, w, strerror(-err));

	sb->s_state |= EXT2_ERROR_FS;
	sb->s_error_count++;
	if (first) {
		sb->s_first_error_time = (__u32)now;
		sb->s_first_error_time_hi = (__u8)(now >> 32);
		sb->s_first_error_ino = ino;
		sb->s_first_error_block = 0;
		sb->s_first_error_line = 0;
		memset(sb->s_first_error_func, 0,
		       sizeof(sb->s_first_error_func));
		strncpy((char *)sb->s_first_error_func, "uext4",
			sizeof(sb->s_first_error_func));
		sb->s_first_error_errcode = error_code_of(err);
	}
	sb->s_last_error_time = (__u32)now;
	sb->s_last_error_time_hi = (__u8)(now >> 32);
	sb->s_last_error_ino = ino;
	sb->s_last_error_block = 0;
	sb->s_last_error_line = 0;
	memset(sb->s_last_error_func, 0, sizeof(sb->s_last_error_func));
	strncpy((char *)sb->s_last_error_func, "uext4",
		sizeof(sb->s_last_error_func));
	sb->s_last_error_errcode = error_code_of(err);
	ext2fs_mark_super_dirty(efs->fs);

	switch (efs->errors) {
	case EXTENT_ERRORS_RO:
		if (!atomic_exchange(&efs->readonly, true))
			fprintf(stderr, "uext4: remounting read-only\n");
		break;
	case EXTENT_ERRORS_PANIC:
		fprintf(stderr, "uext4: errors=panic: stopping\n");
		/* Best effort: leave the error recorded on disk. */
		ext2fs_flush2(efs->fs, 0);
		_exit(EXIT_FAILURE);
	default:
		break;
	}
}

/**
 * extent_sync_metadata() - see extent.h.
 *
 * ext2fs_flush2() rewrites every bitmap block and all superblock and group
 * descriptor copies (REFERENCE.md): correct but heavy per fsync. Here only
 * the primary superblock and descriptors are written (MASTER_SB_ONLY; the
 * backups are refreshed at unmount by ext2fs_close), and the device is
 * flushed once. The journal will replace this with a commit of the dirty
 * blocks only.
 * Context: meta_lock held.
 */
int extent_sync_metadata(struct extent_fs *efs)
{
	ext2_filsys fs = efs->fs;
	int saved = fs->flags & EXT2_FLAG_MASTER_SB_ONLY;
	errcode_t err;

	extent_assert_meta_locked(efs);
	if (!(fs->flags & EXT2_FLAG_RW))
		return cache_bdev_flush(efs->bdev);
	if (fs->flags & (EXT2_FLAG_DIRTY | EXT2_FLAG_IB_DIRTY |
			 EXT2_FLAG_BB_DIRTY)) {
		fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
		err = ext2fs_flush2(fs, EXT2_FLAG_FLUSH_NO_SYNC);
		fs->flags = (fs->flags & ~EXT2_FLAG_MASTER_SB_ONLY) | saved;
		if (err)
			return extent_errcode(efs, 0, err);
	}
	err = io_channel_flush(fs->io);
	if (err)
		return extent_errcode(efs, 0, err);
	return cache_bdev_flush(efs->bdev);
}

/*
 * The cache's writeback callback: the owner of every mapping extent/
 * creates is its struct extent_inode. Runs in the flusher without the
 * inode rwlock (cache_ops contract).
 */
static int cache_writeback(struct cache_mapping *mapping, void *owner,
			   bool sync_all)
{
	(void)mapping;
	(void)sync_all;
	return extent_writeback(owner);
}

static const struct cache_ops extent_cache_ops_table = {
	.writeback = cache_writeback,
};

const struct cache_ops *extent_cache_ops(void)
{
	return &extent_cache_ops_table;
}
