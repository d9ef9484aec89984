/* SPDX-License-Identifier: MIT */
/*
 * daemon/dir.h — what the directory files of the daemon share (namei.c,
 * htree.c, dir.c, newinode.c, rename.c, readdir.c): entry insertion and
 * removal that stay fast in big directories, the htree index, "..", the
 * emptiness test and the kernel's directory link-count rules.
 *
 * Not a contract for other components: the rest of the daemon uses
 * daemon_dir_lookup() and daemon_new_inode() from internal.h.
 *
 * Every function here is called with the metadata lock (efs.meta_lock) held
 * and returns 0 or -errno; damaged directories give -EUCLEAN (the file
 * system is marked as having errors) or -EIO.
 */
#ifndef UEXT4_DAEMON_DIR_H
#define UEXT4_DAEMON_DIR_H

#include "internal.h"

/** The directory link limit of ext4 (EXT4_LINK_MAX). */
#define DAEMON_LINK_MAX 65000

/** daemon_htree_find() result: the index is unusable, scan linearly. */
#define DAEMON_HTREE_FALLBACK 1

/**
 * struct daemon_dx_hit - where daemon_htree_find() found an entry.
 * @pblk:   physical block of the leaf (its contents are in the caller's buf).
 * @offset: byte offset of the entry in the block.
 * @prev:   offset of the previous entry in the block, -1 if it is the first.
 * @ino:    the entry's inode number.
 */
struct daemon_dx_hit {
	blk64_t pblk;
	int offset;
	int prev;
	ext2_ino_t ino;
};

/* ---- htree.c ----------------------------------------------------------- */

/**
 * daemon_htree_find() - find @name (@len bytes) in the indexed directory
 * @dir through its htree: dx_root, at most two more index levels (three with
 * largedir), the leaf and the following leaves while the hash continues.
 * @inode: the directory's on-disk inode.
 * @buf:   a block-sized buffer; holds the leaf block on success.
 * Return: 0 with *@hit filled, -ENOENT, DAEMON_HTREE_FALLBACK when the index
 * itself is malformed (the kernel falls back to a linear scan then), or
 * -errno (-EUCLEAN for damaged blocks, which marks the file system).
 */
int daemon_htree_find(struct daemon_fs *dfs, ext2_ino_t dir,
		      const struct ext2_inode_large *inode, const char *name,
		      int len, char *buf, struct daemon_dx_hit *hit);

/**
 * daemon_htree_remove_hit() - remove the entry @hit from the leaf in @buf
 * (merged into the previous entry, or inode 0 for the first one) and write
 * the block with its checksum. Return: 0 or -errno.
 */
int daemon_htree_remove_hit(struct daemon_fs *dfs, ext2_ino_t dir, char *buf,
			    const struct daemon_dx_hit *hit);

/**
 * daemon_htree_convert() - turn the one-block linear directory @dir into an
 * htree (the kernel's make_indexed_dir): block 0 becomes the dx_root, the
 * entries move to a new leaf block 1. Return: 0 or -errno.
 */
int daemon_htree_convert(struct daemon_fs *dfs, ext2_ino_t dir);

/* ---- namei.c ----------------------------------------------------------- */

/**
 * daemon_dir_get() - read directory @dir's inode and check it is a live
 * directory: -ENOTDIR if it is not a directory, -ENOENT once removed.
 */
int daemon_dir_get(struct daemon_fs *dfs, ext2_ino_t dir,
		   struct ext2_inode_large *inode);

/**
 * daemon_dir_add() - add the entry @name → @ino (file type @ftype, an
 * EXT2_FT_* value) to @dir, which must not hold @name. Grows the directory,
 * converts a growing linear directory into an htree on dir_index file
 * systems, inserts through the index in indexed ones.
 * Return: 0, -ENOSPC, -EUCLEAN or -errno.
 */
int daemon_dir_add(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		   ext2_ino_t ino, int ftype);

/**
 * daemon_dir_remove() - remove the entry @name (expected to point at @ino)
 * from @dir, through the index when there is one. Return: 0 or -errno.
 */
int daemon_dir_remove(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		      ext2_ino_t ino);

/**
 * daemon_dir_set() - point the existing entry @name of @dir at @ino with
 * file type @ftype (rename over an existing name, RENAME_EXCHANGE).
 * Return: 0 or -errno.
 */
int daemon_dir_set(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		   ext2_ino_t ino, int ftype);

/**
 * daemon_dir_dotdot() - read (@set_to 0) or rewrite ".." of @dir.
 * @parent: receives the old value. Return: 0 or -errno (-EUCLEAN if the
 * directory has no "..").
 */
int daemon_dir_dotdot(struct daemon_fs *dfs, ext2_ino_t dir,
		      ext2_ino_t set_to, ext2_ino_t *parent);

/** daemon_dir_empty() - 0 if @dir holds only "." and "..", -ENOTEMPTY. */
int daemon_dir_empty(struct daemon_fs *dfs, ext2_ino_t dir);

/**
 * daemon_name_eq() - does the entry name @a (@alen bytes) match @b? Exact
 * bytes, or the file system's casefolding in a casefolded (+F) directory
 * (@casefold) when both names are valid in its encoding.
 */
bool daemon_name_eq(ext2_filsys fs, bool casefold, const char *a, int alen,
		    const char *b, int blen);

/** daemon_dir_casefold() - is @dir a casefolded directory we can fold? */
bool daemon_dir_casefold(ext2_filsys fs, const struct ext2_inode_large *dir);

/** daemon_ftype() - the EXT2_FT_* directory entry type for @mode. */
int daemon_ftype(mode_t mode);

/**
 * daemon_dir_is_dx() - the kernel's is_dx(): dir_index and EXT2_INDEX_FL.
 */
bool daemon_dir_is_dx(ext2_filsys fs, const struct ext2_inode_large *inode);

/**
 * daemon_dir_link_max() - EXT4_DIR_LINK_MAX: @dir cannot take one more
 * subdirectory (65000 links, unless dir_nlink lets an indexed directory
 * overflow to 1).
 */
bool daemon_dir_link_max(ext2_filsys fs, const struct ext2_inode_large *dir);

/** daemon_inc_count()/daemon_dec_count() - ext4_inc_count/ext4_dec_count. */
void daemon_inc_count(ext2_filsys fs, struct ext2_inode_large *inode);
void daemon_dec_count(struct ext2_inode_large *inode);

/**
 * daemon_dir_ref() - look @name up in @dir and take a daemon reference on
 * the inode (so that when a removal drops its last link, daemon_iput()
 * evicts and frees it once the kernel has forgotten it too).
 * Context: meta_lock NOT held on entry; held on return 0 (the name still
 * points at *@ino then), not held on error.
 * Return: 0 with *@ino and *@di, or -errno (-ENOENT).
 */
int daemon_dir_ref(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		   ext2_ino_t *ino, struct daemon_inode **di);

#endif /* UEXT4_DAEMON_DIR_H */
