/* SPDX-License-Identifier: MIT */
/*
 * daemon/rename.c — rename(2) and renameat2(2) with RENAME_NOREPLACE and
 * RENAME_EXCHANGE, following the kernel's ext4_rename() and
 * ext4_cross_rename(): type rules, empty-target rule, no directory moved
 * under itself, ".." rewritten and both parents' link counts fixed for
 * directory moves, ctime of every inode involved, mtime/ctime of both
 * parents. RENAME_WHITEOUT (overlayfs) is not supported: -EINVAL.
 *
 * A replaced target may lose its last link; it is referenced with
 * daemon_iget() before the rename and released after, so eviction frees it
 * once the kernel forgets it (as unlink in dir.c).
 */
#include <errno.h>
#include <string.h>

#include "dir.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/** The two sides of a rename. */
struct rename_side {
	ext2_ino_t dir;
	const char *name;
	ext2_ino_t ino;		/* 0: no entry */
	struct ext2_inode_large inode;
	bool is_dir;
};

/**
 * rename_check_loop() - -EINVAL if directory @moving is @start or one of
 * its ancestors (walking ".." up from @start to the root).
 */
static int rename_check_loop(struct daemon_fs *dfs, ext2_ino_t moving,
			     ext2_ino_t start)
{
	ext2_ino_t cur = start, up;
	uint32_t steps = 0, max = dfs->efs.fs->super->s_inodes_count;
	int ret;

	while (cur != EXT2_ROOT_INO) {
		if (cur == moving)
			return -EINVAL;
		ret = daemon_dir_dotdot(dfs, cur, 0, &up);
		if (ret)
			return ret;
		if (up == cur || ++steps > max) {
			extent_fs_error(&dfs->efs, cur, -EUCLEAN,
					"directory loop");
			return -EUCLEAN;
		}
		cur = up;
	}
	return 0;
}

static int rename_touch_dir(struct daemon_fs *dfs, ext2_ino_t dir, int delta)
{
	struct ext2_inode_large inode;
	int ret = daemon_read_inode(dfs, dir, &inode);

	if (ret)
		return ret;
	if (delta < 0)
		daemon_dec_count(&inode);
	else if (delta > 0)
		daemon_inc_count(dfs->efs.fs, &inode);
	daemon_inode_touch(&inode, DAEMON_MTIME | DAEMON_CTIME);
	return daemon_write_inode(dfs, dir, &inode);
}

/** rename_exchange() - RENAME_EXCHANGE once both sides are checked. */
static int rename_exchange(struct daemon_fs *dfs, struct rename_side *o,
			   struct rename_side *n)
{
	ext2_filsys fs = dfs->efs.fs;
	int odelta = 0, ret;

	if (o->dir != n->dir && o->is_dir != n->is_dir) {
		struct ext2_inode_large pi;

		odelta = o->is_dir ? -1 : 1;	/* for the old parent */
		ret = daemon_read_inode(dfs, odelta > 0 ? o->dir : n->dir, &pi);
		if (ret)
			return ret;
		if (daemon_dir_link_max(fs, &pi))
			return -EMLINK;
	}
	if (o->dir != n->dir) {
		if (o->is_dir) {
			ret = rename_check_loop(dfs, o->ino, n->dir);
			if (ret)
				return ret;
		}
		if (n->is_dir) {
			ret = rename_check_loop(dfs, n->ino, o->dir);
			if (ret)
				return ret;
		}
	}
	ret = daemon_dir_set(dfs, n->dir, n->name, o->ino,
			     daemon_ftype(o->inode.i_mode));
	if (ret)
		return ret;
	ret = daemon_dir_set(dfs, o->dir, o->name, n->ino,
			     daemon_ftype(n->inode.i_mode));
	if (ret)
		return ret;
	if (o->dir != n->dir) {
		if (o->is_dir)
			ret = daemon_dir_dotdot(dfs, o->ino, n->dir, NULL);
		if (!ret && n->is_dir)
			ret = daemon_dir_dotdot(dfs, n->ino, o->dir, NULL);
		/* ".." of an inline-data directory lives in the inode */
		if (!ret)
			ret = daemon_read_inode(dfs, o->ino, &o->inode);
		if (!ret)
			ret = daemon_read_inode(dfs, n->ino, &n->inode);
		if (ret)
			return ret;
	}
	daemon_inode_touch(&o->inode, DAEMON_CTIME);
	daemon_inode_touch(&n->inode, DAEMON_CTIME);
	ret = daemon_write_inode(dfs, o->ino, &o->inode);
	if (!ret)
		ret = daemon_write_inode(dfs, n->ino, &n->inode);
	if (!ret)
		ret = rename_touch_dir(dfs, o->dir, odelta);
	if (!ret && n->dir != o->dir)
		ret = rename_touch_dir(dfs, n->dir, -odelta);
	return ret;
}

/** rename_move() - plain rename (NOREPLACE checked by the caller). */
static int rename_move(struct daemon_fs *dfs, struct rename_side *o,
		       struct rename_side *n)
{
	ext2_filsys fs = dfs->efs.fs;
	int ret;

	if (n->ino) {
		if (o->is_dir && !n->is_dir)
			return -ENOTDIR;
		if (!o->is_dir && n->is_dir)
			return -EISDIR;
		if (n->is_dir) {
			ret = daemon_dir_empty(dfs, n->ino);
			if (ret)
				return ret;
		}
	}
	if (o->is_dir && o->dir != n->dir) {
		struct ext2_inode_large np;

		ret = rename_check_loop(dfs, o->ino, n->dir);
		if (ret)
			return ret;
		if (!n->ino) {
			ret = daemon_read_inode(dfs, n->dir, &np);
			if (ret)
				return ret;
			if (daemon_dir_link_max(fs, &np))
				return -EMLINK;
		}
	}

	if (n->ino)
		ret = daemon_dir_set(dfs, n->dir, n->name, o->ino,
				     daemon_ftype(o->inode.i_mode));
	else
		ret = daemon_dir_add(dfs, n->dir, n->name, o->ino,
				     daemon_ftype(o->inode.i_mode));
	if (ret)
		return ret;
	ret = daemon_dir_remove(dfs, o->dir, o->name, o->ino);
	if (ret) {
		if (!n->ino)
			daemon_dir_remove(dfs, n->dir, n->name, o->ino);
		else
			daemon_dir_set(dfs, n->dir, n->name, n->ino,
				       daemon_ftype(n->inode.i_mode));
		return ret;
	}
	if (o->is_dir && o->dir != n->dir) {
		ret = daemon_dir_dotdot(dfs, o->ino, n->dir, NULL);
		if (!ret)	/* inline-data ".." lives in the inode */
			ret = daemon_read_inode(dfs, o->ino, &o->inode);
		if (ret)
			return ret;
	}

	if (n->ino) {
		daemon_dec_count(&n->inode);
		if (n->is_dir)
			n->inode.i_links_count = 0;
		daemon_inode_touch(&n->inode, DAEMON_CTIME);
		ret = daemon_write_inode(dfs, n->ino, &n->inode);
		if (ret)
			return ret;
	}
	daemon_inode_touch(&o->inode, DAEMON_CTIME);
	ret = daemon_write_inode(dfs, o->ino, &o->inode);
	if (ret)
		return ret;
	ret = rename_touch_dir(dfs, o->dir, o->is_dir ? -1 : 0);
	if (ret)
		return ret;
	return rename_touch_dir(dfs, n->dir, o->is_dir && !n->ino ? 1 : 0);
}

/**
 * rename_locked() - the rename under meta_lock. @expect is the target
 * inode the caller referenced (0: none); if the target is now another
 * inode, *@retry is set so that the caller references that one.
 */
static int rename_locked(struct daemon_fs *dfs, struct rename_side *o,
			 struct rename_side *n, unsigned int flags,
			 ext2_ino_t expect, bool *retry)
{
	struct ext2_inode_large pinode;
	int ret;

	ret = daemon_dir_get(dfs, o->dir, &pinode);
	if (!ret)
		ret = daemon_dir_get(dfs, n->dir, &pinode);
	if (!ret)
		ret = daemon_dir_lookup(dfs, o->dir, o->name, &o->ino);
	if (!ret)
		ret = daemon_read_inode(dfs, o->ino, &o->inode);
	if (ret)
		return ret;
	ret = daemon_dir_lookup(dfs, n->dir, n->name, &n->ino);
	if (ret == -ENOENT)
		n->ino = 0;
	else if (ret)
		return ret;
	if (n->ino && n->ino != expect && !(flags & RENAME_EXCHANGE)) {
		*retry = true;
		return -EAGAIN;
	}
	if ((flags & RENAME_EXCHANGE) && !n->ino)
		return -ENOENT;
	if ((flags & RENAME_NOREPLACE) && n->ino)
		return -EEXIST;
	if (n->ino == o->ino)
		return 0;	/* two links of one inode: nothing to do */
	o->is_dir = LINUX_S_ISDIR(o->inode.i_mode);
	if (n->ino) {
		ret = daemon_read_inode(dfs, n->ino, &n->inode);
		if (ret)
			return ret;
		n->is_dir = LINUX_S_ISDIR(n->inode.i_mode);
	}
	if (flags & RENAME_EXCHANGE)
		return rename_exchange(dfs, o, n);
	return rename_move(dfs, o, n);
}

static bool rename_is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static int do_rename(struct daemon_fs *dfs, ext2_ino_t parent,
		     const char *name, ext2_ino_t newparent,
		     const char *newname, unsigned int flags)
{
	struct rename_side o, n;
	struct daemon_inode *tdi;
	ext2_ino_t target;
	int tries, ret;

	ret = daemon_check_name(name);
	if (!ret)
		ret = daemon_check_name(newname);
	if (ret)
		return ret;
	if ((flags & ~(unsigned int)(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)))
		return -EINVAL;
	if (rename_is_dot(name) || rename_is_dot(newname))
		return -EINVAL;
	ret = daemon_check_writable(dfs);
	if (ret)
		return ret;

	for (tries = 0; tries < 1000; tries++) {
		bool retry = false;

		tdi = NULL;
		target = 0;
		if (!(flags & (RENAME_EXCHANGE | RENAME_NOREPLACE))) {
			extent_meta_lock(&dfs->efs);
			ret = daemon_dir_lookup(dfs, newparent, newname,
						&target);
			extent_meta_unlock(&dfs->efs);
			if (ret && ret != -ENOENT)
				return ret;
			if (ret == 0) {
				ret = daemon_iget(dfs, target, &tdi);
				if (ret)
					return ret;
			}
		}
		memset(&o, 0, sizeof(o));
		memset(&n, 0, sizeof(n));
		o.dir = parent;
		o.name = name;
		n.dir = newparent;
		n.name = newname;
		extent_meta_lock(&dfs->efs);
		ret = rename_locked(dfs, &o, &n, flags, target, &retry);
		extent_meta_unlock(&dfs->efs);
		if (tdi)
			daemon_iput(dfs, tdi);
		if (!retry)
			return ret;
	}
	return -EAGAIN;
}

void daemon_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct daemon_fs *dfs = daemon_fs_of(req);

	daemon_reply_err(req, do_rename(dfs, daemon_ino(parent), name,
					daemon_ino(newparent), newname, flags));
}
