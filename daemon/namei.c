/* SPDX-License-Identifier: MIT */
/*
 * daemon/namei.c — names in directories: the name check every name-taking
 * operation makes first, the FUSE lookup handler (negative entries cached by
 * the kernel), and the entry primitives the other directory files use: find,
 * add (growing and indexing the directory), remove, repoint, "..", empty.
 *
 * Indexed directories go through htree.c; linear and inline-data ones through
 * libext2fs (ext2fs_dir_iterate2, ext2fs_link), which verify
 * block checksums on the way. Permission checks are the kernel's
 * (default_permissions); this file does none.
 *
 * Context: every function but the handler runs with meta_lock held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dir.h"

/**
 * daemon_check_name() - see internal.h. Runs before anything is touched:
 * a name longer than 255 bytes never reaches the disk.
 */
int daemon_check_name(const char *name)
{
	size_t len;

	if (!name || !*name)
		return -EINVAL;
	len = strnlen(name, DAEMON_NAME_MAX + 1);
	if (len > DAEMON_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', len))
		return -EINVAL;
	return 0;
}

bool daemon_dir_casefold(ext2_filsys fs, const struct ext2_inode_large *dir)
{
	return (dir->i_flags & EXT4_CASEFOLD_FL) && fs->encoding;
}

bool daemon_name_eq(ext2_filsys fs, bool casefold, const char *a, int alen,
		    const char *b, int blen)
{
	if (casefold) {
		int r = ext2fs_casefold_cmp(fs->encoding,
					    (const unsigned char *)a,
					    (size_t)alen,
					    (const unsigned char *)b,
					    (size_t)blen);

		if (r >= 0)	/* < 0: not valid in the encoding */
			return r == 0;
	}
	return alen == blen && memcmp(a, b, (size_t)alen) == 0;
}

static bool namei_is_dot(const char *name, int len)
{
	return (len == 1 && name[0] == '.') ||
	       (len == 2 && name[0] == '.' && name[1] == '.');
}

/**
 * daemon_dir_get() - see dir.h.
 */
int daemon_dir_get(struct daemon_fs *dfs, ext2_ino_t dir,
		   struct ext2_inode_large *inode)
{
	int ret = daemon_read_inode(dfs, dir, inode);

	if (ret)
		return ret;
	if (!LINUX_S_ISDIR(inode->i_mode))
		return -ENOTDIR;
	if (inode->i_links_count == 0)
		return -ENOENT;
	return 0;
}

/* ---- linear scans through libext2fs ------------------------------------ */

/** What a linear scan looks for and what it found or changes. */
struct namei_scan {
	const char *name;
	int len;
	ext2_ino_t ino;		/* found; or the new value for set */
	int ftype;		/* for set, -1 = leave */
	enum { NAMEI_FIND, NAMEI_SET, NAMEI_REMOVE } op;
	bool found;
	ext2_filsys fs;
	bool casefold;		/* compare as the directory's +F says */
	struct ext2_dir_entry *prev;	/* previous entry of this block */
};

static int namei_scan_proc(ext2_ino_t dir, int entry,
			   struct ext2_dir_entry *dirent, int offset,
			   int blocksize, char *buf, void *priv)
{
	struct namei_scan *s = priv;
	struct ext2_dir_entry *prev = offset ? s->prev : NULL;
	unsigned int len, plen;

	(void)dir;
	(void)entry;
	(void)blocksize;
	(void)buf;
	s->prev = dirent;
	if (!dirent->inode ||
	    (s->op == NAMEI_REMOVE && s->ino && dirent->inode != s->ino) ||
	    !daemon_name_eq(s->fs, s->casefold, dirent->name,
			    ext2fs_dirent_name_len(dirent), s->name, s->len))
		return 0;
	s->found = true;
	switch (s->op) {
	case NAMEI_FIND:
		s->ino = dirent->inode;
		return DIRENT_ABORT;
	case NAMEI_SET:
		dirent->inode = s->ino;
		if (s->ftype >= 0)
			ext2fs_dirent_set_file_type(dirent, s->ftype);
		return DIRENT_CHANGED | DIRENT_ABORT;
	case NAMEI_REMOVE:
		/* as ext2fs_unlink(), but with the directory's name rules */
		if (prev && !ext2fs_get_rec_len(s->fs, prev, &plen) &&
		    !ext2fs_get_rec_len(s->fs, dirent, &len) &&
		    !ext2fs_set_rec_len(s->fs, plen + len, prev))
			return DIRENT_CHANGED | DIRENT_ABORT;
		dirent->inode = 0;
		return DIRENT_CHANGED | DIRENT_ABORT;
	}
	return DIRENT_ABORT;
}

static int namei_linear(struct daemon_fs *dfs, ext2_ino_t dir,
			const struct ext2_inode_large *inode,
			struct namei_scan *s)
{
	errcode_t err;

	s->fs = dfs->efs.fs;
	s->casefold = daemon_dir_casefold(dfs->efs.fs, inode);

	err = ext2fs_dir_iterate2(dfs->efs.fs, dir,
				  s->op == NAMEI_REMOVE ?
					  DIRENT_FLAG_INCLUDE_EMPTY : 0,
				  NULL, namei_scan_proc, s);
	if (err)
		return extent_errcode(&dfs->efs, dir, err);
	return s->found ? 0 : -ENOENT;
}

/**
 * namei_dx_find() - the htree lookup of @name in @dir when @inode is
 * indexed. @buf gets the leaf. Return: as daemon_htree_find(), and
 * DAEMON_HTREE_FALLBACK too for a directory that is not indexed.
 */
static int namei_dx_find(struct daemon_fs *dfs, ext2_ino_t dir,
			 const struct ext2_inode_large *inode, const char *name,
			 int len, char *buf, struct daemon_dx_hit *hit)
{
	if (!daemon_dir_is_dx(dfs->efs.fs, inode) ||
	    (inode->i_flags & EXT4_INLINE_DATA_FL))
		return DAEMON_HTREE_FALLBACK;
	return daemon_htree_find(dfs, dir, inode, name, len, buf, hit);
}

/**
 * daemon_dir_lookup() - see internal.h. "." and ".." are answered from the
 * directory itself (in an indexed directory they are not in the leaves).
 */
int daemon_dir_lookup(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		      ext2_ino_t *ino)
{
	struct namei_scan s = { .name = name };
	struct ext2_inode_large inode;
	struct daemon_dx_hit hit;
	size_t len = strnlen(name, DAEMON_NAME_MAX + 1);
	char *buf;
	int ret;

	if (len > DAEMON_NAME_MAX)
		return -ENAMETOOLONG;
	ret = daemon_read_inode(dfs, dir, &inode);
	if (ret)
		return ret;
	if (!LINUX_S_ISDIR(inode.i_mode))
		return -ENOTDIR;
	s.len = (int)len;
	if (len == 1 && name[0] == '.') {
		*ino = dir;
		return 0;
	}
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return daemon_dir_dotdot(dfs, dir, 0, ino);

	buf = malloc(dfs->efs.blocksize);
	if (!buf)
		return -ENOMEM;
	ret = namei_dx_find(dfs, dir, &inode, name, s.len, buf, &hit);
	free(buf);
	if (ret != DAEMON_HTREE_FALLBACK) {
		if (ret == 0)
			*ino = hit.ino;
		return ret;
	}
	ret = namei_linear(dfs, dir, &inode, &s);
	if (ret == 0)
		*ino = s.ino;
	return ret;
}

/**
 * namei_dx_usable() - may ext2fs_link() insert through @dir's index? It
 * trusts the block numbers of the index, so the path of @name is checked
 * first. A malformed index is dropped when nothing guards it (no
 * metadata_csum), as the kernel's ext4_add_entry() does; with checksums it
 * is damage. Return: 0 to go on (re-read the inode), or -errno.
 */
static int namei_dx_usable(struct daemon_fs *dfs, ext2_ino_t dir,
			   struct ext2_inode_large *inode, const char *name)
{
	ext2_filsys fs = dfs->efs.fs;
	struct daemon_dx_hit hit;
	char *buf;
	int ret;

	if (!ext2fs_has_feature_dir_index(fs->super) ||
	    (inode->i_flags & EXT4_INLINE_DATA_FL))
		goto out_clear;	/* ext4_update_dx_flag() */
	buf = malloc(fs->blocksize);
	if (!buf)
		return -ENOMEM;
	ret = daemon_htree_find(dfs, dir, inode, name, (int)strlen(name), buf,
				&hit);
	free(buf);
	if (ret == 0)
		return -EEXIST;
	if (ret != DAEMON_HTREE_FALLBACK)
		return ret == -ENOENT ? 0 : ret;
	if (ext2fs_has_feature_metadata_csum(fs->super)) {
		extent_fs_error(&dfs->efs, dir, -EUCLEAN,
				"directory has corrupted htree index");
		return -EUCLEAN;
	}
out_clear:
	inode->i_flags &= ~EXT2_INDEX_FL;
	return daemon_write_inode(dfs, dir, inode);
}

/**
 * daemon_dir_add() - see dir.h. ext2fs_link() places the entry (dx_link for
 * indexed directories, first fit otherwise) and reports DIR_NO_SPACE when
 * the directory is full: then a one-block directory on a dir_index file
 * system becomes an htree (ext4_add_entry → make_indexed_dir), any other
 * linear or inline-data one grows by a block, and a full index is -ENOSPC.
 */
int daemon_dir_add(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		   ext2_ino_t ino, int ftype)
{
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_inode_large inode;
	errcode_t err;
	int tries, ret;

	for (tries = 0; tries < 8; tries++) {
		ret = daemon_dir_get(dfs, dir, &inode);
		if (ret)
			return ret;
		if (inode.i_flags & EXT2_INDEX_FL) {
			ret = namei_dx_usable(dfs, dir, &inode, name);
			if (ret)
				return ret;
		}
		err = ext2fs_link(fs, dir, name, ino, ftype);
		if (!err)
			return 0;
		if (err != EXT2_ET_DIR_NO_SPACE)
			return extent_errcode(&dfs->efs, dir, err);
		if (inode.i_flags & EXT2_INDEX_FL)
			return -ENOSPC;	/* "Directory index full!" */
		if (ext2fs_has_feature_dir_index(fs->super) &&
		    !(inode.i_flags & (EXT4_INLINE_DATA_FL | EXT4_ENCRYPT_FL)) &&
		    inode.i_size == fs->blocksize && inode.i_size_high == 0) {
			ret = daemon_htree_convert(dfs, dir);
			if (ret)
				return ret;
			continue;
		}
		err = ext2fs_expand_dir(fs, dir);
		if (err)
			return extent_errcode(&dfs->efs, dir, err);
	}
	return -EIO;
}

/**
 * daemon_dir_remove() - see dir.h. Linear and inline-data directories:
 * merged into the previous entry of its block, or inode 0 for the first.
 */
int daemon_dir_remove(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		      ext2_ino_t ino)
{
	struct namei_scan s = { .name = name, .ino = ino,
				.op = NAMEI_REMOVE };
	struct ext2_inode_large inode;
	struct daemon_dx_hit hit;
	int len = (int)strlen(name), ret;
	char *buf;

	s.len = len;
	if (namei_is_dot(name, len))
		return -EINVAL;
	ret = daemon_read_inode(dfs, dir, &inode);
	if (ret)
		return ret;
	buf = malloc(dfs->efs.blocksize);
	if (!buf)
		return -ENOMEM;
	ret = namei_dx_find(dfs, dir, &inode, name, len, buf, &hit);
	if (ret == 0)
		ret = hit.ino == ino ? daemon_htree_remove_hit(dfs, dir, buf, &hit)
				     : -ENOENT;
	free(buf);
	if (ret != DAEMON_HTREE_FALLBACK)
		return ret;
	return namei_linear(dfs, dir, &inode, &s);
}

/**
 * daemon_dir_set() - see dir.h.
 */
int daemon_dir_set(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		   ext2_ino_t ino, int ftype)
{
	ext2_filsys fs = dfs->efs.fs;
	struct namei_scan s = { .name = name, .ino = ino, .op = NAMEI_SET };
	struct ext2_inode_large inode;
	struct daemon_dx_hit hit;
	errcode_t err;
	char *buf;
	int ret;

	s.len = (int)strlen(name);
	s.ftype = ext2fs_has_feature_filetype(fs->super) ? ftype : -1;
	if (namei_is_dot(name, s.len))
		return -EINVAL;
	ret = daemon_read_inode(dfs, dir, &inode);
	if (ret)
		return ret;
	buf = malloc(fs->blocksize);
	if (!buf)
		return -ENOMEM;
	ret = namei_dx_find(dfs, dir, &inode, name, s.len, buf, &hit);
	if (ret == 0) {
		struct ext2_dir_entry *de = (void *)(buf + hit.offset);

		de->inode = ino;
		if (s.ftype >= 0)
			ext2fs_dirent_set_file_type(de, s.ftype);
		err = ext2fs_write_dir_block4(fs, hit.pblk, buf, 0, dir);
		ret = err ? extent_errcode(&dfs->efs, dir, err) : 0;
	}
	free(buf);
	if (ret != DAEMON_HTREE_FALLBACK)
		return ret;
	return namei_linear(dfs, dir, &inode, &s);
}

/*
 * The ".." scan: the entry named ".." right after "." in block 0. Inline-data
 * directories present it as a pseudo block of its own (DIRENT_OTHER_FILE).
 */
struct namei_dotdot {
	ext2_ino_t set_to;
	ext2_ino_t old;
	bool found;
};

static int namei_dotdot_proc(ext2_ino_t dir, int entry,
			     struct ext2_dir_entry *dirent, int offset,
			     int blocksize, char *buf, void *priv)
{
	struct namei_dotdot *d = priv;

	(void)dir;
	(void)offset;
	(void)blocksize;
	(void)buf;
	if (ext2fs_dirent_name_len(dirent) != 2 ||
	    memcmp(dirent->name, "..", 2) != 0)	/* ".." is the second entry */
		return entry == DIRENT_OTHER_FILE ? DIRENT_ABORT : 0;
	d->found = true;
	d->old = dirent->inode;
	if (!d->set_to)
		return DIRENT_ABORT;
	dirent->inode = d->set_to;
	return DIRENT_CHANGED | DIRENT_ABORT;
}

/**
 * daemon_dir_dotdot() - see dir.h.
 */
int daemon_dir_dotdot(struct daemon_fs *dfs, ext2_ino_t dir,
		      ext2_ino_t set_to, ext2_ino_t *parent)
{
	struct namei_dotdot d = { .set_to = set_to };
	errcode_t err;

	err = ext2fs_dir_iterate2(dfs->efs.fs, dir, 0, NULL, namei_dotdot_proc,
				  &d);
	if (err)
		return extent_errcode(&dfs->efs, dir, err);
	if (!d.found || d.old == 0) {
		extent_fs_error(&dfs->efs, dir, -EUCLEAN, "directory without ..");
		return -EUCLEAN;
	}
	if (parent)
		*parent = d.old;
	return 0;
}

static int namei_empty_proc(ext2_ino_t dir, int entry,
			    struct ext2_dir_entry *dirent, int offset,
			    int blocksize, char *buf, void *priv)
{
	bool *empty = priv;
	int len = ext2fs_dirent_name_len(dirent);

	(void)dir;
	(void)entry;
	(void)offset;
	(void)blocksize;
	(void)buf;
	if (!dirent->inode || namei_is_dot(dirent->name, len))
		return 0;
	*empty = false;
	return DIRENT_ABORT;
}

/**
 * daemon_dir_empty() - see dir.h (the kernel's ext4_empty_dir()).
 */
int daemon_dir_empty(struct daemon_fs *dfs, ext2_ino_t dir)
{
	bool empty = true;
	errcode_t err;

	err = ext2fs_dir_iterate2(dfs->efs.fs, dir, 0, NULL, namei_empty_proc,
				  &empty);
	if (err)
		return extent_errcode(&dfs->efs, dir, err);
	return empty ? 0 : -ENOTEMPTY;
}

/* ---- the lookup handler ------------------------------------------------ */

static int do_lookup(struct daemon_fs *dfs, ext2_ino_t parent,
		     const char *name, ext2_ino_t *ino)
{
	int ret = daemon_check_name(name);

	if (ret)
		return ret;
	extent_meta_lock(&dfs->efs);
	ret = daemon_dir_lookup(dfs, parent, name, ino);
	extent_meta_unlock(&dfs->efs);
	return ret;
}

/**
 * daemon_op_lookup() - FUSE lookup. A missing name is answered with inode 0
 * and the entry timeout: the kernel caches the negative dentry, which is
 * safe because every change goes through this daemon.
 */
void daemon_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	ext2_ino_t ino = 0;
	int ret;

	ret = do_lookup(dfs, daemon_ino(parent), name, &ino);
	if (ret == -ENOENT) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = dfs->entry_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	daemon_reply_entry(dfs, req, ino);
}
