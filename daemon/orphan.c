/* SPDX-License-Identifier: MIT */
/*
 * daemon/orphan.c — orphan processing at a read-write mount, as the
 * kernel's ext4_orphan_cleanup() (fs/ext4/orphan.c) and e2fsck's
 * release_orphan_inodes() do it.
 *
 * An orphan is an inode the last writer could not finish with: unlinked
 * while still open (links 0: free it), or cut short by a truncate in
 * progress (links > 0: drop the blocks past i_size). Two places record
 * them:
 *
 *   - the orphan list: s_last_orphan in the superblock, then each
 *     inode's i_dtime names the next one (0 ends the list);
 *   - the orphan file (compat orphan_file, inode s_orphan_file_inum):
 *     blocks of __le32 inode numbers (0 = free slot) ending with a tail
 *     { magic 0x0b10ca04, checksum }; ro_compat orphan_present says
 *     that some slot may be in use.
 *
 * Everything read from disk is checked before it is acted upon: the
 * inode number in range (first non-reserved inode .. s_inodes_count),
 * the inode in use in the bitmap with a valid mode, the next link in
 * range, the list no longer than the inode count, the orphan file's size,
 * block map, magic and checksum. A bad entry stops the walk of its list
 * with a message and marks the file system with errors; nothing is freed
 * on its account (e2fsck -f finishes the job).
 *
 * When the file system already has errors, nothing is processed: the
 * list head is cleared (both the kernel and e2fsck do so; e2fsck's full
 * check finds the inodes anyway) and the orphan file is left for e2fsck.
 *
 * Read-only mounts never come here: they write nothing (the kernel does
 * process orphans on a read-only mount; uext4 leaves them to the next
 * read-write mount or to e2fsck). Quota files are not updated: quota is a
 * feature uext4 mounts read-only.
 *
 * Crash safety: metadata is written back without a journal today; each
 * freed inode leaves the in-memory list head past it and is clear in the
 * inode bitmap, so a walk interrupted and repeated stops at a freed
 * inode ("not in use") instead of freeing it twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/** ORPHAN_FILE_MAX_BLOCKS - larger orphan files are taken as damaged. */
#define ORPHAN_FILE_MAX_BLOCKS (1u << 20)

struct orphan_walk {
	struct daemon_fs *dfs;
	unsigned int nr_deleted;
	unsigned int nr_truncated;
};

/* Report a bad entry: message, file system marked with errors. */
static int orphan_bad(struct orphan_walk *w, ext2_ino_t ino, const char *what)
{
	fprintf(stderr, "uext4: %s: %s; orphan processing stopped, run e2fsck -f\n",
		w->dfs->opts.image, what);
	extent_fs_error(&w->dfs->efs, ino, -EUCLEAN, what);
	return -EUCLEAN;
}

/*
 * Is @ino, read from the list or the orphan file, an inode we may act
 * on? Reads it into @inode. Return: 0 or -EUCLEAN (reported) / -errno.
 */
static int orphan_get(struct orphan_walk *w, ext2_ino_t ino,
		      struct ext2_inode_large *inode)
{
	ext2_filsys fs = w->dfs->efs.fs;
	char what[96];
	int ret;

	if (ino < EXT2_FIRST_INODE(fs->super) ||
	    ino > fs->super->s_inodes_count) {
		snprintf(what, sizeof(what),
			 "orphan inode number %u out of range", ino);
		return orphan_bad(w, 0, what);
	}
	if (!ext2fs_test_inode_bitmap2(fs->inode_map, ino)) {
		snprintf(what, sizeof(what), "orphan inode %u is not in use",
			 ino);
		return orphan_bad(w, ino, what);
	}
	ret = daemon_read_inode(w->dfs, ino, inode);
	if (ret) {
		fprintf(stderr,
			"uext4: %s: orphan inode %u cannot be read: %s; orphan processing stopped\n",
			w->dfs->opts.image, ino, strerror(-ret));
		return ret;
	}
	switch (inode->i_mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG: case LINUX_S_IFDIR: case LINUX_S_IFLNK:
	case LINUX_S_IFCHR: case LINUX_S_IFBLK: case LINUX_S_IFIFO:
	case LINUX_S_IFSOCK:
		return 0;
	default:
		snprintf(what, sizeof(what), "orphan inode %u has a bad mode 0%o",
			 ino, inode->i_mode);
		return orphan_bad(w, ino, what);
	}
}

/* Drop the blocks of @ino past i_size (a truncate the crash cut short). */
static int orphan_truncate(struct orphan_walk *w, ext2_ino_t ino,
			   struct ext2_inode_large *inode)
{
	struct daemon_fs *dfs = w->dfs;
	ext2_filsys fs = dfs->efs.fs;
	uint64_t start;
	errcode_t err;

	if (!LINUX_S_ISREG(inode->i_mode) && !LINUX_S_ISDIR(inode->i_mode))
		return 0;
	if ((inode->i_flags & EXT4_INLINE_DATA_FL) ||
	    !ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)inode))
		return 0;
	start = EXT2_I_SIZE(inode) / fs->blocksize +
		!!(EXT2_I_SIZE(inode) % fs->blocksize);
	if (start > UINT32_MAX)		/* no logical block lies past it */
		return 0;
	err = ext2fs_punch(fs, ino, (struct ext2_inode *)inode, NULL, start,
			   ~0ULL);
	if (err)
		return extent_errcode(&dfs->efs, ino, err);
	w->nr_truncated++;
	/* punch wrote the inode: continue from its new form */
	return daemon_read_inode(dfs, ino, inode);
}

/* Finish orphan @ino (checked by orphan_get()): free it, or truncate it. */
static int orphan_process(struct orphan_walk *w, ext2_ino_t ino,
			  struct ext2_inode_large *inode)
{
	int ret;

	if (inode->i_links_count == 0) {
		ret = daemon_free_inode(w->dfs, ino);
		if (!ret)
			w->nr_deleted++;
		return ret;
	}
	ret = orphan_truncate(w, ino, inode);
	if (ret)
		return ret;
	inode->i_dtime = 0;
	return daemon_write_inode(w->dfs, ino, inode);
}

/* The list from s_last_orphan. The head is 0 afterwards, win or lose. */
static int orphan_walk_list(struct orphan_walk *w)
{
	ext2_filsys fs = w->dfs->efs.fs;
	struct ext2_super_block *sb = fs->super;
	struct ext2_inode_large inode;
	ext2_ino_t ino = sb->s_last_orphan, next;
	uint64_t steps = 0;
	char what[96];
	int ret = 0;

	while (ino) {
		if (++steps > sb->s_inodes_count) {
			ret = orphan_bad(w, ino, "the orphan list loops");
			break;
		}
		ret = orphan_get(w, ino, &inode);
		if (ret)
			break;
		next = inode.i_dtime;
		if (next && (next < EXT2_FIRST_INODE(sb) ||
			     next > sb->s_inodes_count)) {
			snprintf(what, sizeof(what),
				 "orphan inode %u links to a bad inode number %u",
				 ino, next);
			ret = orphan_bad(w, ino, what);
			break;
		}
		ret = orphan_process(w, ino, &inode);
		if (ret)
			break;
		sb->s_last_orphan = next;
		ino = next;
	}
	sb->s_last_orphan = 0;
	ext2fs_mark_super_dirty(fs);
	return ret;
}

/*
 * One block of the orphan file at physical block @pblk: process every
 * slot in use, clear it, and write the block back with its checksum.
 */
static int orphan_file_block(struct orphan_walk *w, ext2_ino_t oino,
			     blk64_t pblk, uint64_t lblk, char *buf)
{
	ext2_filsys fs = w->dfs->efs.fs;
	struct ext4_orphan_block_tail *tail;
	struct ext2_inode_large inode;
	int per = ext2fs_inodes_per_orphan_block(fs);
	__u32 *slots = (__u32 *)buf;
	bool dirty = false;
	char what[96];
	errcode_t err;
	int ret = 0;

	err = io_channel_read_blk64(fs->io, pblk, 1, buf);
	if (err)
		return extent_errcode(&w->dfs->efs, oino, err);
	tail = ext2fs_orphan_block_tail(fs, buf);
	if (ext2fs_le32_to_cpu(tail->ob_magic) != EXT4_ORPHAN_BLOCK_MAGIC) {
		snprintf(what, sizeof(what),
			 "orphan file block %llu has a bad magic number",
			 (unsigned long long)lblk);
		return orphan_bad(w, oino, what);
	}
	if (!ext2fs_orphan_file_block_csum_verify(fs, oino, pblk, buf)) {
		snprintf(what, sizeof(what),
			 "orphan file block %llu fails its checksum",
			 (unsigned long long)lblk);
		return orphan_bad(w, oino, what);
	}
	for (int i = 0; i < per; i++) {
		ext2_ino_t ino = ext2fs_le32_to_cpu(slots[i]);

		if (!ino)
			continue;
		ret = orphan_get(w, ino, &inode);
		if (!ret)
			ret = orphan_process(w, ino, &inode);
		if (ret)
			break;
		slots[i] = 0;
		dirty = true;
	}
	if (!dirty)
		return ret;
	err = ext2fs_orphan_file_block_csum_set(fs, oino, pblk, buf);
	if (!err)
		err = io_channel_write_blk64(fs->io, pblk, 1, buf);
	if (err && !ret)
		ret = extent_errcode(&w->dfs->efs, oino, err);
	return ret;
}

/* The orphan file; orphan_present is cleared once it is all processed. */
static int orphan_walk_file(struct orphan_walk *w)
{
	ext2_filsys fs = w->dfs->efs.fs;
	struct ext2_super_block *sb = fs->super;
	ext2_ino_t oino = sb->s_orphan_file_inum;
	struct ext2_inode_large inode;
	uint64_t size, nr_blocks;
	char what[96];
	blk64_t pblk;
	errcode_t err;
	char *buf;
	int ret = 0;

	if (!ext2fs_has_feature_orphan_file(sb))
		return 0;
	if (oino == 0 || oino > sb->s_inodes_count) {
		snprintf(what, sizeof(what),
			 "orphan file inode number %u out of range", oino);
		return orphan_bad(w, 0, what);
	}
	ret = daemon_read_inode(w->dfs, oino, &inode);
	if (ret)
		return ret;
	size = EXT2_I_SIZE(&inode);
	nr_blocks = size / fs->blocksize;
	if (!LINUX_S_ISREG(inode.i_mode) || !inode.i_links_count ||
	    size % fs->blocksize || nr_blocks > ORPHAN_FILE_MAX_BLOCKS ||
	    (inode.i_flags & EXT4_INLINE_DATA_FL))
		return orphan_bad(w, oino, "the orphan file inode is damaged");
	buf = malloc(fs->blocksize);
	if (!buf)
		return -ENOMEM;
	for (uint64_t lblk = 0; lblk < nr_blocks; lblk++) {
		pblk = 0;
		err = ext2fs_bmap2(fs, oino, (struct ext2_inode *)&inode, NULL,
				   0, lblk, NULL, &pblk);
		if (err) {
			ret = extent_errcode(&w->dfs->efs, oino, err);
			break;
		}
		if (pblk < sb->s_first_data_block ||
		    pblk >= ext2fs_blocks_count(sb)) {
			snprintf(what, sizeof(what),
				 "orphan file block %llu is a hole or out of range",
				 (unsigned long long)lblk);
			ret = orphan_bad(w, oino, what);
			break;
		}
		ret = orphan_file_block(w, oino, pblk, lblk, buf);
		if (ret)
			break;
	}
	free(buf);
	if (!ret && ext2fs_has_feature_orphan_present(sb)) {
		ext2fs_clear_feature_orphan_present(sb);
		ext2fs_mark_super_dirty(fs);
	}
	return ret;
}

int daemon_orphan_cleanup(struct daemon_fs *dfs)
{
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_super_block *sb = fs->super;
	struct orphan_walk w = { .dfs = dfs };
	int ret, ret2;

	if (!sb->s_last_orphan && !ext2fs_has_feature_orphan_present(sb))
		return 0;
	if (sb->s_state & EXT2_ERROR_FS) {
		if (sb->s_last_orphan) {
			fprintf(stderr,
				"uext4: %s: errors on file system: orphan list cleared without processing, run e2fsck -f\n",
				dfs->opts.image);
			sb->s_last_orphan = 0;
			ext2fs_mark_super_dirty(fs);
		}
		return 0;
	}
	ret = orphan_walk_list(&w);
	ret2 = orphan_walk_file(&w);
	if (w.nr_deleted)
		fprintf(stderr, "uext4: %s: %u orphan inode%s deleted\n",
			dfs->opts.image, w.nr_deleted,
			w.nr_deleted == 1 ? "" : "s");
	if (w.nr_truncated)
		fprintf(stderr, "uext4: %s: %u truncate%s cleaned up\n",
			dfs->opts.image, w.nr_truncated,
			w.nr_truncated == 1 ? "" : "s");
	return ret ? ret : ret2;
}
