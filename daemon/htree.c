/* SPDX-License-Identifier: MIT */
/*
 * daemon/htree.c — the ext4 directory index (htree, dir_index) on disk:
 * lookups through the index, removal of an entry found through it, and the
 * conversion of a one-block linear directory into an indexed one.
 *
 * libext2fs 1.47 inserts into indexed directories itself (ext2fs_link →
 * dx_link, including leaf splits and tree growth) but looks names up and
 * removes them with a linear scan, and never indexes a growing directory:
 * those three are here. Insertion into an existing index stays with
 * ext2fs_link(); namei.c checks the index with daemon_htree_find() first,
 * because dx_link() trusts block numbers it reads from disk.
 *
 * Layout (Linux Documentation/filesystems/ext4/directory.rst):
 *
 *   block 0:  "." (rec_len 12) | ".." (rec_len bs-12) | dx_root_info (8) |
 *             {limit,count} block0 | {hash,block} ... | [dx_tail]
 *   node:     fake dirent (inode 0, rec_len bs) | {limit,count} block0 |
 *             {hash,block} ... | [dx_tail]
 *   leaf:     ordinary directory entries | [dirent tail]
 *
 * Every field read from disk is checked. A malformed index (unknown hash,
 * bad limits or counts, too deep) gives DAEMON_HTREE_FALLBACK so that the
 * caller scans linearly, as the kernel does with ERR_BAD_DX_DIR; a damaged
 * block (checksum, hole, broken entries) gives -EUCLEAN and marks the file
 * system. Context for everything here: meta_lock held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dir.h"

#define HTREE_ROOT_INFO_OFF 24	/* after "." (12) and ".." (12) */
#define HTREE_ROOT_ENTRIES_OFF 32
#define HTREE_NODE_ENTRIES_OFF 8

/** htree_corrupt() - report a damaged directory; returns -EUCLEAN. */
static int htree_corrupt(struct daemon_fs *dfs, ext2_ino_t dir,
			 const char *what)
{
	extent_fs_error(&dfs->efs, dir, -EUCLEAN, what);
	return -EUCLEAN;
}

static unsigned int htree_csum_size(ext2_filsys fs)
{
	return ext2fs_has_feature_metadata_csum(fs->super) ?
		sizeof(struct ext2_dx_tail) : 0;
}

static uint64_t htree_dir_blocks(ext2_filsys fs,
				 const struct ext2_inode_large *inode)
{
	uint64_t size = inode->i_size | ((uint64_t)inode->i_size_high << 32);

	return size / fs->blocksize;
}

/**
 * htree_read_block() - read logical block @lblk of @dir into @buf,
 * verifying its checksum. Holes, unwritten blocks and blocks past i_size
 * are damage.
 */
static int htree_read_block(struct daemon_fs *dfs, ext2_ino_t dir,
			    const struct ext2_inode_large *inode, blk64_t lblk,
			    char *buf, blk64_t *pblk)
{
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_inode_large copy = *inode;
	errcode_t err;
	int flags = 0;

	if (lblk >= htree_dir_blocks(fs, inode))
		return htree_corrupt(dfs, dir, "htree block past i_size");
	err = ext2fs_bmap2(fs, dir, (struct ext2_inode *)&copy, NULL, 0, lblk,
			   &flags, pblk);
	if (err)
		return extent_errcode(&dfs->efs, dir, err);
	if (*pblk == 0 || (flags & BMAP_RET_UNINIT))
		return htree_corrupt(dfs, dir, "hole in directory");
	err = ext2fs_read_dir_block4(fs, *pblk, buf, 0, dir);
	if (err)
		return extent_errcode(&dfs->efs, dir, err);
	return 0;
}

/**
 * htree_dirent() - the entry at @off of a @bs-byte block, checked as the
 * kernel's ext4_check_dir_entry() does. Return: 0 with *@rec_len, or
 * -EUCLEAN.
 */
static int htree_dirent(ext2_filsys fs, char *buf, unsigned int off,
			struct ext2_dir_entry **de, unsigned int *rec_len)
{
	unsigned int bs = fs->blocksize;

	if (off + 8 > bs)
		return -EUCLEAN;
	*de = (struct ext2_dir_entry *)(buf + off);
	if (ext2fs_get_rec_len(fs, *de, rec_len))
		return -EUCLEAN;
	if (*rec_len < 12 || (*rec_len & 3) || off + *rec_len > bs ||
	    (unsigned int)ext2fs_dirent_name_len(*de) + 8 > *rec_len)
		return -EUCLEAN;
	return 0;
}

/** One level of the index walk. */
struct htree_frame {
	char *buf;
	struct ext2_dx_entry *entries;
	unsigned int count;
	unsigned int at;
};

/**
 * htree_frame_set() - check the {limit, count} header at @off of an index
 * block against the @want limit. Return: 0 or DAEMON_HTREE_FALLBACK.
 */
static int htree_frame_set(struct htree_frame *f, unsigned int off,
			   unsigned int want)
{
	struct ext2_dx_countlimit *cl = (void *)(f->buf + off);
	unsigned int limit = ext2fs_le16_to_cpu(cl->limit);
	unsigned int count = ext2fs_le16_to_cpu(cl->count);

	if (limit != want || count == 0 || count > limit)
		return DAEMON_HTREE_FALLBACK;
	f->entries = (struct ext2_dx_entry *)cl;
	f->count = count;
	return 0;
}

/** htree_search() - last entry (index ≥ 0) whose hash is ≤ @hash. */
static unsigned int htree_search(const struct htree_frame *f, uint32_t hash)
{
	unsigned int lo = 1, hi = f->count;	/* entries[0] has no hash */

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (ext2fs_le32_to_cpu(f->entries[mid].hash) > hash)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo - 1;
}

static blk64_t htree_at_block(const struct htree_frame *f)
{
	return ext2fs_le32_to_cpu(f->entries[f->at].block) & EXT4_DX_BLOCK_MASK;
}

/**
 * htree_load_node() - read the index node that @parent points at into @f
 * and position it on the first entry (@hash == NULL) or by @hash.
 */
static int htree_load_node(struct daemon_fs *dfs, ext2_ino_t dir,
			   const struct ext2_inode_large *inode,
			   const struct htree_frame *parent,
			   struct htree_frame *f, const uint32_t *hash)
{
	ext2_filsys fs = dfs->efs.fs;
	unsigned int bs = fs->blocksize, rec_len;
	struct ext2_dir_entry *de = (void *)f->buf;
	blk64_t lblk = htree_at_block(parent), pblk;
	int ret;

	if (lblk == 0)
		return DAEMON_HTREE_FALLBACK;
	ret = htree_read_block(dfs, dir, inode, lblk, f->buf, &pblk);
	if (ret)
		return ret;
	if (ext2fs_get_rec_len(fs, de, &rec_len) || rec_len != bs ||
	    de->inode != 0)
		return DAEMON_HTREE_FALLBACK;
	ret = htree_frame_set(f, HTREE_NODE_ENTRIES_OFF,
			      (bs - HTREE_NODE_ENTRIES_OFF -
			       htree_csum_size(fs)) /
				      sizeof(struct ext2_dx_entry));
	if (ret)
		return ret;
	f->at = hash ? htree_search(f, *hash) : 0;
	return 0;
}

/**
 * htree_scan_leaf() - look for @name in the leaf block in @buf.
 * Return: 0 with *@hit (but for pblk), -ENOENT, -EUCLEAN.
 */
static int htree_scan_leaf(struct daemon_fs *dfs, ext2_ino_t dir, char *buf,
			   bool casefold, const char *name, int len,
			   struct daemon_dx_hit *hit)
{
	ext2_filsys fs = dfs->efs.fs;
	unsigned int off = 0, rec_len;
	struct ext2_dir_entry *de;
	int prev = -1;

	while (off < fs->blocksize) {
		if (htree_dirent(fs, buf, off, &de, &rec_len))
			return htree_corrupt(dfs, dir, "bad entry in htree leaf");
		if (de->inode &&
		    daemon_name_eq(fs, casefold, de->name,
				   ext2fs_dirent_name_len(de), name, len)) {
			hit->offset = (int)off;
			hit->prev = prev;
			hit->ino = de->inode;
			return 0;
		}
		prev = (int)off;
		off += rec_len;
	}
	return -ENOENT;
}

/**
 * htree_hash_alg() - the hash of an index with on-disk @version, or -1 if
 * we cannot compute it (SipHash needs the hash stored in the entries).
 */
static int htree_hash_alg(ext2_filsys fs, unsigned int version)
{
	if (version > EXT2_HASH_TEA)
		return -1;
	if (fs->super->s_flags & EXT2_FLAGS_UNSIGNED_HASH)
		return (int)version + 3;
	return (int)version;
}

/**
 * daemon_htree_find() - see dir.h. The walk, as the kernel's dx_probe() and
 * ext4_htree_next_block():
 *
 *   root ──binary search──▶ node ──binary search──▶ leaf: scan
 *                                                    │ not found
 *   next entry of the deepest frame with a free slot ◀┘
 *   (its hash & ~1 must equal ours: the continuation bit) ──▶ next leaf
 */
int daemon_htree_find(struct daemon_fs *dfs, ext2_ino_t dir,
		      const struct ext2_inode_large *inode, const char *name,
		      int len, char *buf, struct daemon_dx_hit *hit)
{
	ext2_filsys fs = dfs->efs.fs;
	unsigned int bs = fs->blocksize, rec_len, levels, level;
	struct htree_frame frames[EXT4_HTREE_LEVEL];
	struct ext2_dx_root_info *info;
	struct ext2_dir_entry *de;
	ext2_dirhash_t hash, minor;
	uint64_t nblocks = htree_dir_blocks(fs, inode), steps = 0;
	blk64_t pblk;
	char *fbuf;
	int alg, ret;

	if (nblocks < 2)
		return DAEMON_HTREE_FALLBACK;
	fbuf = malloc((size_t)bs * EXT4_HTREE_LEVEL);
	if (!fbuf)
		return -ENOMEM;
	for (level = 0; level < EXT4_HTREE_LEVEL; level++)
		frames[level].buf = fbuf + (size_t)bs * level;

	ret = htree_read_block(dfs, dir, inode, 0, frames[0].buf, &pblk);
	if (ret)
		goto out_free;
	/* "." then ".." spanning the rest of the block, then dx_root_info */
	de = (void *)frames[0].buf;
	if (ext2fs_get_rec_len(fs, de, &rec_len) || rec_len != 12)
		goto out_fallback;
	de = (void *)(frames[0].buf + 12);
	if (ext2fs_get_rec_len(fs, de, &rec_len) || rec_len != bs - 12)
		goto out_fallback;
	info = (void *)(frames[0].buf + HTREE_ROOT_INFO_OFF);
	alg = htree_hash_alg(fs, info->hash_version);
	if (alg < 0 || info->info_length != 8 || (info->unused_flags & 1) ||
	    info->indirect_levels >= ext2_dir_htree_level(fs))
		goto out_fallback;
	levels = info->indirect_levels + 1u;
	if (htree_frame_set(&frames[0], HTREE_ROOT_ENTRIES_OFF,
			    (bs - HTREE_ROOT_ENTRIES_OFF - htree_csum_size(fs)) /
				    sizeof(struct ext2_dx_entry)))
		goto out_fallback;

	if (ext2fs_dirhash2(alg, name, len, fs->encoding,
			    inode->i_flags & EXT4_CASEFOLD_FL,
			    fs->super->s_hash_seed, &hash, &minor))
		goto out_fallback;
	frames[0].at = htree_search(&frames[0], hash);
	for (level = 1; level < levels; level++) {
		ret = htree_load_node(dfs, dir, inode, &frames[level - 1],
				      &frames[level], &hash);
		if (ret)
			goto out_free;
	}

	for (;;) {
		blk64_t lblk = htree_at_block(&frames[levels - 1]);
		uint32_t bhash;
		int up;

		if (lblk == 0 || ++steps > nblocks)
			goto out_fallback;
		ret = htree_read_block(dfs, dir, inode, lblk, buf, &hit->pblk);
		if (ret)
			goto out_free;
		ret = htree_scan_leaf(dfs, dir, buf,
				      daemon_dir_casefold(fs, inode), name, len,
				      hit);
		if (ret != -ENOENT)
			goto out_free;

		/* next leaf, if the hash continues into it */
		for (up = (int)levels - 1; up >= 0; up--)
			if (++frames[up].at < frames[up].count)
				break;
		if (up < 0)
			goto out_free;	/* -ENOENT */
		bhash = ext2fs_le32_to_cpu(frames[up].entries[frames[up].at].hash);
		if ((bhash & ~1u) != hash)
			goto out_free;	/* -ENOENT */
		for (level = (unsigned int)up + 1; level < levels; level++) {
			ret = htree_load_node(dfs, dir, inode,
					      &frames[level - 1],
					      &frames[level], NULL);
			if (ret)
				goto out_free;
		}
	}

out_fallback:
	ret = DAEMON_HTREE_FALLBACK;
out_free:
	free(fbuf);
	return ret;
}

/**
 * daemon_htree_remove_hit() - see dir.h. As the kernel's
 * ext4_generic_delete_entry(): merge into the previous entry of the block,
 * or clear the inode of the first one; the name is wiped either way.
 */
int daemon_htree_remove_hit(struct daemon_fs *dfs, ext2_ino_t dir, char *buf,
			    const struct daemon_dx_hit *hit)
{
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_dir_entry *de = (void *)(buf + hit->offset);
	unsigned int rec_len, prev_len;
	errcode_t err;

	if (ext2fs_get_rec_len(fs, de, &rec_len))
		return htree_corrupt(dfs, dir, "bad entry in htree leaf");
	memset(de->name, 0, (size_t)ext2fs_dirent_name_len(de));
	if (hit->prev >= 0) {
		struct ext2_dir_entry *pde = (void *)(buf + hit->prev);

		if (ext2fs_get_rec_len(fs, pde, &prev_len) ||
		    ext2fs_set_rec_len(fs, prev_len + rec_len, pde))
			return htree_corrupt(dfs, dir, "bad entry in htree leaf");
		memset(de, 0, 8);
	} else {
		de->inode = 0;
		ext2fs_dirent_set_name_len(de, 0);
		ext2fs_dirent_set_file_type(de, 0);
	}
	err = ext2fs_write_dir_block4(fs, hit->pblk, buf, 0, dir);
	if (err)
		return extent_errcode(&dfs->efs, dir, err);
	return 0;
}

/**
 * htree_build_leaf() - copy every used entry of block 0 (in @old) after "."
 * and ".." into @leaf, packed, the last one stretched to the end (and the
 * dirent tail with metadata_csum).
 */
static int htree_build_leaf(struct daemon_fs *dfs, ext2_ino_t dir,
			    char *old, unsigned int first, char *leaf)
{
	ext2_filsys fs = dfs->efs.fs;
	unsigned int bs = fs->blocksize, off, rec_len, pos = 0, last = 0;
	unsigned int tail = ext2fs_has_feature_metadata_csum(fs->super) ?
		sizeof(struct ext2_dir_entry_tail) : 0;
	struct ext2_dir_entry *de, *nde;

	memset(leaf, 0, bs);
	for (off = first; off < bs; off += rec_len) {
		unsigned int need;

		if (htree_dirent(fs, old, off, &de, &rec_len))
			return htree_corrupt(dfs, dir, "bad directory entry");
		if (!de->inode)
			continue;
		need = EXT2_DIR_REC_LEN(ext2fs_dirent_name_len(de));
		if (pos + need > bs - tail)
			return htree_corrupt(dfs, dir, "directory block overfull");
		memcpy(leaf + pos, de, need);
		nde = (void *)(leaf + pos);
		if (ext2fs_set_rec_len(fs, need, nde))
			return -EIO;
		last = pos;
		pos += need;
	}
	/* the last entry (or, with none, one empty entry) spans the rest */
	nde = (void *)(leaf + last);
	if (ext2fs_set_rec_len(fs, bs - tail - last, nde))
		return -EIO;
	if (tail)
		ext2fs_initialize_dirent_tail(fs, EXT2_DIRENT_TAIL(leaf, bs));
	return 0;
}

/** htree_build_root() - turn block 0 in @buf into a dx_root → block 1. */
static void htree_build_root(ext2_filsys fs, char *buf)
{
	unsigned int bs = fs->blocksize;
	struct ext2_dir_entry *dotdot = (void *)(buf + 12);
	struct ext2_dx_root_info *info = (void *)(buf + HTREE_ROOT_INFO_OFF);
	struct ext2_dx_countlimit *cl = (void *)(buf + HTREE_ROOT_ENTRIES_OFF);
	struct ext2_dx_entry *entries = (void *)cl;
	unsigned int version = fs->super->s_def_hash_version;

	ext2fs_set_rec_len(fs, bs - 12, dotdot);
	memset(buf + HTREE_ROOT_INFO_OFF, 0, bs - HTREE_ROOT_INFO_OFF);
	if (version > EXT2_HASH_TEA)
		version = EXT2_HASH_HALF_MD4;
	info->hash_version = (__u8)version;
	info->info_length = 8;
	cl->limit = ext2fs_cpu_to_le16((bs - HTREE_ROOT_ENTRIES_OFF -
					htree_csum_size(fs)) /
				       sizeof(struct ext2_dx_entry));
	cl->count = ext2fs_cpu_to_le16(1);
	entries[0].block = ext2fs_cpu_to_le32(1);
}

/**
 * daemon_htree_convert() - see dir.h. Block 0 must start with "." and ".."
 * (else -EUCLEAN). The new leaf is block 1, added by ext2fs_expand_dir();
 * the entries keep their order (one leaf covers every hash, so it need not
 * be sorted); the next insertion that does not fit splits it by hash
 * (ext2fs_link → dx_link). Written leaf first, root next, the inode flag
 * last.
 */
int daemon_htree_convert(struct daemon_fs *dfs, ext2_ino_t dir)
{
	ext2_filsys fs = dfs->efs.fs;
	unsigned int bs = fs->blocksize, rec_len, first, next;
	struct ext2_inode_large inode;
	struct ext2_dir_entry *de;
	blk64_t pblk0, pblk1;
	char *old, *leaf;
	errcode_t err;
	int ret;

	old = malloc((size_t)bs * 2);
	if (!old)
		return -ENOMEM;
	leaf = old + bs;
	ret = daemon_read_inode(dfs, dir, &inode);
	if (ret)
		goto out_free;
	if (htree_dir_blocks(fs, &inode) != 1 ||
	    (inode.i_flags & (EXT2_INDEX_FL | EXT4_INLINE_DATA_FL))) {
		ret = -EINVAL;
		goto out_free;
	}
	ret = htree_read_block(dfs, dir, &inode, 0, old, &pblk0);
	if (ret)
		goto out_free;
	if (htree_dirent(fs, old, 0, &de, &rec_len) ||
	    ext2fs_dirent_name_len(de) != 1 || de->name[0] != '.')
		goto out_corrupt;
	first = rec_len;
	if (htree_dirent(fs, old, first, &de, &rec_len) ||
	    ext2fs_dirent_name_len(de) != 2 || memcmp(de->name, "..", 2))
		goto out_corrupt;
	next = first + rec_len;
	/* "." must be exactly 12 bytes for the dx_root layout */
	if (first != 12) {
		memmove(old + 12, old + first, 12);
		ext2fs_set_rec_len(fs, 12, (struct ext2_dir_entry *)old);
	}
	ret = htree_build_leaf(dfs, dir, old, next, leaf);
	if (ret)
		goto out_free;

	err = ext2fs_expand_dir(fs, dir);
	if (err) {
		ret = extent_errcode(&dfs->efs, dir, err);
		goto out_free;
	}
	ret = daemon_read_inode(dfs, dir, &inode);
	if (ret)
		goto out_free;
	err = ext2fs_bmap2(fs, dir, (struct ext2_inode *)&inode, NULL, 0, 1,
			   NULL, &pblk1);
	if (err || pblk1 == 0) {
		ret = err ? extent_errcode(&dfs->efs, dir, err) : -EIO;
		goto out_free;
	}
	err = ext2fs_write_dir_block4(fs, pblk1, leaf, 0, dir);
	if (err)
		goto out_err;
	htree_build_root(fs, old);
	err = ext2fs_write_dir_block4(fs, pblk0, old, 0, dir);
	if (err)
		goto out_err;
	inode.i_flags |= EXT2_INDEX_FL;
	ret = daemon_write_inode(dfs, dir, &inode);
	goto out_free;

out_corrupt:
	ret = htree_corrupt(dfs, dir, "directory without . and ..");
	goto out_free;
out_err:
	ret = extent_errcode(&dfs->efs, dir, err);
out_free:
	free(old);
	return ret;
}
