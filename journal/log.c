// SPDX-License-Identifier: MIT
/*
 * journal/log.c — the jbd2 log as a sequence of blocks: where the journal
 * inode's blocks are (journal_map_inode), opening and checking the journal
 * superblock, and the block I/O helpers that recovery.c and transaction.c
 * share (log blocks through the map, home blocks by number, the journal
 * superblock write).
 *
 * It does not interpret transactions (recovery.c, transaction.c) nor the
 * block layouts (format.c). All I/O goes through the file system's
 * cache_bdev, so the log shares the engine (and its O_DIRECT alignment)
 * with file data and metadata.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- the journal inode's map --------------------------------------------- */

/* errcode_t from libext2fs → -errno (STYLE.md: one table at the boundary). */
static int log_errcode(errcode_t err)
{
	if (err == EXT2_ET_NO_MEMORY)
		return -ENOMEM;
	if (err > 0 && err < 4096)
		return -(int)err;	/* an errno passed through */
	return -EUCLEAN;
}

struct map_walk {
	uint64_t *map;
	uint64_t nr_blocks;
	blk64_t first_ok;	/* s_first_data_block, at least 1 */
	blk64_t nr_fs_blocks;
	int err;
};

static int map_walk_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
			  blk64_t ref_blk, int ref_offset, void *priv)
{
	struct map_walk *w = priv;

	(void)fs;
	(void)ref_blk;
	(void)ref_offset;
	if (blockcnt < 0)
		return 0;	/* indirect blocks of a block-mapped inode */
	if ((uint64_t)blockcnt >= w->nr_blocks)
		return 0;	/* past i_size: not part of the log */
	if (*blocknr < w->first_ok || *blocknr >= w->nr_fs_blocks) {
		w->err = -EUCLEAN;
		return BLOCK_ABORT;
	}
	w->map[blockcnt] = *blocknr;
	return 0;
}

int journal_map_inode(ext2_filsys fs, uint64_t **map, uint64_t *nr_blocks)
{
	struct ext2_super_block *es = fs->super;
	struct ext2_inode inode;
	struct map_walk w = { 0 };
	ext2_ino_t ino = es->s_journal_inum;
	uint64_t size;
	errcode_t err;
	int ret;

	if (!ext2fs_has_feature_journal(es))
		return -ENOENT;
	if (!ino) {
		static const uint8_t zero_uuid[16];

		if (es->s_journal_dev ||
		    memcmp(es->s_journal_uuid, zero_uuid, sizeof(zero_uuid)))
			return -EOPNOTSUPP;	/* external journal */
		return -EUCLEAN;
	}
	if (ino > es->s_inodes_count)
		return -EUCLEAN;
	err = ext2fs_read_inode(fs, ino, &inode);
	if (err)
		return log_errcode(err);
	/* The kernel's ext4_get_journal_inode(): linked, regular. */
	if (!inode.i_links_count || !LINUX_S_ISREG(inode.i_mode))
		return -EUCLEAN;
	if (inode.i_flags & EXT4_INLINE_DATA_FL)
		return -EUCLEAN;
	size = EXT2_I_SIZE(&inode);
	if (size % fs->blocksize)
		return -EUCLEAN;
	w.nr_blocks = size / fs->blocksize;
	/*
	 * Journal block numbers are 32-bit on disk (s_maxlen, s_start), and
	 * a log cannot hold more blocks than the file system: a hostile
	 * i_size must not size the map (calloc of 32 GiB) before the walk
	 * finds the holes.
	 */
	if (w.nr_blocks < JOURNAL_MIN_BLOCKS || w.nr_blocks > UINT32_MAX ||
	    w.nr_blocks > ext2fs_blocks_count(es))
		return -EUCLEAN;
	w.map = calloc(w.nr_blocks, sizeof(*w.map));
	if (!w.map)
		return -ENOMEM;
	/* Block 0 holds the boot block or the superblock, never the log. */
	w.first_ok = es->s_first_data_block ? es->s_first_data_block : 1;
	w.nr_fs_blocks = ext2fs_blocks_count(es);
	err = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY, NULL,
				    map_walk_block, &w);
	if (err) {
		ret = log_errcode(err);
		goto out_free;
	}
	if (w.err) {
		ret = w.err;
		goto out_free;
	}
	for (uint64_t i = 0; i < w.nr_blocks; i++) {
		if (!w.map[i]) {
			ret = -EUCLEAN;		/* a hole in the log */
			goto out_free;
		}
	}
	*map = w.map;
	*nr_blocks = w.nr_blocks;
	return 0;

out_free:
	free(w.map);
	return ret;
}

/* ---- open / close -------------------------------------------------------- */

void *journal_block_alloc(const struct journal *j, size_t nr)
{
	size_t align = j->align < sizeof(void *) ? sizeof(void *) : j->align;
	size_t len = nr * j->blocksize;
	void *p;

	if (!nr || len / nr != j->blocksize)
		return NULL;
	/* aligned_alloc() wants a multiple of the alignment. */
	len = (len + align - 1) / align * align;
	p = aligned_alloc(align, len);
	if (p)
		memset(p, 0, len);
	return p;
}

int journal_open(const struct journal_geometry *geo, bool readonly,
		 struct journal **out)
{
	struct journal *j;
	const char *why;
	int ret;

	if (!geo->bdev || !geo->map || geo->blocksize < 1024 ||
	    geo->blocksize > 65536 || (geo->blocksize & (geo->blocksize - 1)))
		return -EINVAL;
	if (geo->nr_blocks < JOURNAL_MIN_BLOCKS || geo->nr_blocks > UINT32_MAX) {
		fprintf(stderr, "uext4: journal: %llu blocks, need %u..2^32\n",
			(unsigned long long)geo->nr_blocks, JOURNAL_MIN_BLOCKS);
		return -EUCLEAN;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->bdev = geo->bdev;
	j->blocksize = geo->blocksize;
	j->nr_blocks = geo->nr_blocks;
	j->readonly = readonly;
	j->align = cache_bdev_align(geo->bdev);
	j->map = malloc(geo->nr_blocks * sizeof(*j->map));
	if (!j->map) {
		ret = -ENOMEM;
		goto out_free;
	}
	memcpy(j->map, geo->map, geo->nr_blocks * sizeof(*j->map));
	j->sb_buf = journal_block_alloc(j, 1);
	if (!j->sb_buf) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = journal_log_read(j, 0, j->sb_buf);
	if (ret) {
		fprintf(stderr, "uext4: journal superblock: read failed: %s\n",
			strerror(-ret));
		goto out_free;
	}
	ret = journal_sb_decode_why(j->sb_buf, j->blocksize, j->nr_blocks,
				    &j->sb, &why);
	if (ret) {
		fprintf(stderr, "uext4: journal superblock: %s %s\n",
			ret == -EOPNOTSUPP ? "unsupported" : "bad", why);
		goto out_free;
	}
	journal_fmt_init(&j->fmt, &j->sb);
	*out = j;
	return 0;

out_free:
	free(j->sb_buf);
	free(j->map);
	free(j);
	return ret;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->writer)
		journal_writer_free(j);
	free(j->sb_buf);
	free(j->map);
	free(j);
}

bool journal_needs_recovery(const struct journal *j)
{
	return j->sb.start != 0;
}

uint32_t journal_incompat(const struct journal *j)
{
	return j->sb.feature_incompat;
}

/* ---- block I/O ----------------------------------------------------------- */

uint32_t journal_wrap(const struct journal *j, uint32_t blk)
{
	if (blk >= j->sb.last)
		blk -= j->sb.last - j->sb.first;
	return blk;
}

int journal_log_bio(const struct journal *j, uint32_t logblk, void *buf,
		    bool write, struct cache_bio *bio)
{
	if (logblk >= j->nr_blocks)
		return -EUCLEAN;
	bio->pos = j->map[logblk] * j->blocksize;
	bio->buf = buf;
	bio->len = j->blocksize;
	bio->write = write;
	bio->result = 0;
	return 0;
}

int journal_log_read(struct journal *j, uint32_t logblk, void *buf)
{
	struct cache_bio bio;
	int ret = journal_log_bio(j, logblk, buf, false, &bio);

	if (ret)
		return ret;
	ret = cache_bdev_submit(j->bdev, &bio, 1);
	return ret ? -EIO : 0;
}

int journal_log_write(struct journal *j, uint32_t logblk, const void *buf)
{
	struct cache_bio bio;
	int ret;

	if (j->readonly)
		return -EROFS;
	ret = journal_log_bio(j, logblk, (void *)buf, true, &bio);
	if (ret)
		return ret;
	ret = cache_bdev_submit(j->bdev, &bio, 1);
	return ret ? -EIO : 0;
}

int journal_home_bio(const struct journal *j, uint64_t blocknr, void *buf,
		     bool write, struct cache_bio *bio)
{
	/* Compare in blocks: blocknr * blocksize may overflow. */
	if (blocknr >= cache_bdev_size(j->bdev) / j->blocksize)
		return -EUCLEAN;
	bio->pos = blocknr * j->blocksize;
	bio->buf = buf;
	bio->len = j->blocksize;
	bio->write = write;
	bio->result = 0;
	return 0;
}

int journal_sb_write(struct journal *j)
{
	int ret;

	if (j->readonly)
		return -EROFS;
	journal_sb_encode(&j->sb, j->sb_buf);
	ret = journal_log_write(j, 0, j->sb_buf);
	if (ret)
		return ret;
	return cache_bdev_flush(j->bdev) ? -EIO : 0;
}
