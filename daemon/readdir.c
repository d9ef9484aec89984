/* SPDX-License-Identifier: MIT */
/*
 * daemon/readdir.c — opendir, readdir, readdirplus, releasedir, fsyncdir.
 *
 * An open directory holds a snapshot of the directory's entries (inode,
 * type, name), taken by the first readdir. The offset of an entry is its index in the snapshot
 * plus one, so offsets stay valid however the directory changes; a readdir
 * at offset 0 takes a new snapshot, so rewinddir() sees the changes.
 * readdirplus gives an entry (and a kernel lookup) for each name but "."
 * and ".."; when the directory changed since the snapshot (its ctime moved)
 * each name is looked up again and names that are gone are skipped.
 * Every successful readdir updates the directory's atime as getdents(2)
 * does on ext4 (iterate_dir() → file_accessed()), subject to the mount's
 * atime mode: the handle holds a daemon reference on the directory for
 * the lock-free atime shortcut (inode.c).
 *
 * Linear, indexed and inline-data directories are all read through
 * ext2fs_dir_iterate2(), which checks block checksums and entry sanity.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "dir.h"

/** One entry of a snapshot; its name is in readdir_handle.names. */
struct readdir_ent {
	ext2_ino_t ino;
	uint32_t name_off;
	uint8_t name_len;
	uint8_t dtype;
};

/**
 * struct readdir_handle - an open directory (fi->fh).
 * @di:   the directory; one daemon reference owned by the handle. Constant.
 * @noatime: opened with O_NOATIME: readdir leaves atime alone. Constant.
 * @lock: protects every other field; taken before meta_lock, never while
 *        replying.
 * @ents, @count, @cap: the snapshot.
 * @names, @names_len, @names_cap: the names, back to back (not terminated).
 * @ctime: the directory's ctime when the snapshot was taken.
 * @valid: a snapshot was taken.
 */
struct readdir_handle {
	struct daemon_inode *di;
	bool noatime;
	pthread_mutex_t lock;
	struct readdir_ent *ents;
	size_t count, cap;
	char *names;
	size_t names_len, names_cap;
	struct timespec ctime;
	bool valid;
};

static uint8_t readdir_dtype(ext2_filsys fs, const struct ext2_dir_entry *de)
{
	static const uint8_t map[EXT2_FT_MAX] = {
		[EXT2_FT_UNKNOWN] = DT_UNKNOWN, [EXT2_FT_REG_FILE] = DT_REG,
		[EXT2_FT_DIR] = DT_DIR,		[EXT2_FT_CHRDEV] = DT_CHR,
		[EXT2_FT_BLKDEV] = DT_BLK,	[EXT2_FT_FIFO] = DT_FIFO,
		[EXT2_FT_SOCK] = DT_SOCK,	[EXT2_FT_SYMLINK] = DT_LNK,
	};
	int ft;

	if (!ext2fs_has_feature_filetype(fs->super))
		return DT_UNKNOWN;
	ft = ext2fs_dirent_file_type(de);
	return ft < EXT2_FT_MAX ? map[ft] : DT_UNKNOWN;
}

/** State of one snapshot walk. */
struct readdir_walk {
	struct readdir_handle *h;
	ext2_filsys fs;
	int err;
};

static int readdir_proc(ext2_ino_t dir, int entry,
			struct ext2_dir_entry *dirent, int offset,
			int blocksize, char *buf, void *priv)
{
	struct readdir_walk *w = priv;
	struct readdir_handle *h = w->h;
	int len = ext2fs_dirent_name_len(dirent);
	struct readdir_ent *e;

	(void)dir;
	(void)entry;
	(void)offset;
	(void)blocksize;
	(void)buf;
	if (!dirent->inode || len == 0)
		return 0;
	if (h->count == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		void *p = realloc(h->ents, cap * sizeof(*h->ents));

		if (!p)
			goto out_nomem;
		h->ents = p;
		h->cap = cap;
	}
	if (h->names_len + (size_t)len > h->names_cap) {
		size_t cap = h->names_cap ? h->names_cap * 2 : 4096;
		void *p;

		while (cap < h->names_len + (size_t)len)
			cap *= 2;
		p = realloc(h->names, cap);
		if (!p)
			goto out_nomem;
		h->names = p;
		h->names_cap = cap;
	}
	e = &h->ents[h->count++];
	e->ino = dirent->inode;
	e->name_off = (uint32_t)h->names_len;
	e->name_len = (uint8_t)len;
	e->dtype = readdir_dtype(w->fs, dirent);
	memcpy(h->names + h->names_len, dirent->name, (size_t)len);
	h->names_len += (size_t)len;
	return 0;

out_nomem:
	w->err = -ENOMEM;
	return DIRENT_ABORT;
}

/**
 * readdir_snapshot() - (re)fill @h from directory @dir.
 * Context: h->lock held, meta_lock held.
 */
static int readdir_snapshot(struct daemon_fs *dfs, ext2_ino_t dir,
			    struct readdir_handle *h)
{
	struct readdir_walk w = { .h = h, .fs = dfs->efs.fs };
	struct ext2_inode_large inode;
	errcode_t err;
	int ret;

	ret = daemon_read_inode(dfs, dir, &inode);
	if (ret)
		return ret;
	if (!LINUX_S_ISDIR(inode.i_mode))
		return -ENOTDIR;
	h->count = 0;
	h->names_len = 0;
	h->valid = false;
	err = ext2fs_dir_iterate2(dfs->efs.fs, dir, 0, NULL, readdir_proc, &w);
	if (err)
		return extent_errcode(&dfs->efs, dir, err);
	if (w.err)
		return w.err;
	h->ctime = daemon_inode_get_time(&inode, DAEMON_CTIME);
	h->valid = true;
	return 0;
}

/** readdir_changed() - has @dir changed since the snapshot? */
static bool readdir_changed(struct daemon_fs *dfs, ext2_ino_t dir,
			    const struct readdir_handle *h)
{
	struct ext2_inode_large inode;
	struct timespec ts;

	if (daemon_read_inode(dfs, dir, &inode))
		return true;
	ts = daemon_inode_get_time(&inode, DAEMON_CTIME);
	return ts.tv_sec != h->ctime.tv_sec || ts.tv_nsec != h->ctime.tv_nsec;
}

static void readdir_handle_free(struct daemon_fs *dfs,
				struct readdir_handle *h)
{
	daemon_iput(dfs, h->di);
	pthread_mutex_destroy(&h->lock);
	free(h->ents);
	free(h->names);
	free(h);
}

/* ---- opendir / releasedir ---------------------------------------------- */

/*
 * The snapshot itself is taken by the first readdir (at offset 0), so that
 * opendir + readdir walk the directory once. The reference is a table hit:
 * the kernel holds a lookup on a directory it opens.
 */
static int do_opendir(struct daemon_fs *dfs, ext2_ino_t ino, int flags,
		      struct readdir_handle **out)
{
	struct ext2_inode_large inode;
	struct readdir_handle *h;
	struct daemon_inode *di;
	int ret;

	ret = daemon_iget(dfs, ino, &di);
	if (ret)
		return ret;
	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, ino, &inode);
	extent_meta_unlock(&dfs->efs);
	if (ret)
		goto out_iput;
	if (!LINUX_S_ISDIR(inode.i_mode)) {
		ret = -ENOTDIR;
		goto out_iput;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		ret = -ENOMEM;
		goto out_iput;
	}
	h->di = di;
	h->noatime = flags & O_NOATIME;
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return 0;

out_iput:
	daemon_iput(dfs, di);
	return ret;
}

void daemon_op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct readdir_handle *h = NULL;
	int ret;

	ret = do_opendir(dfs, daemon_ino(ino), fi->flags, &h);
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT)	/* interrupted */
		readdir_handle_free(dfs, h);
}

void daemon_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	if (fi->fh)
		readdir_handle_free(daemon_fs_of(req),
				    (struct readdir_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- readdir / readdirplus --------------------------------------------- */

/**
 * readdir_plus_entry() - the entry for @name in readdirplus: none (ino 0)
 * for "." and "..", otherwise a looked-up one with a kernel lookup taken.
 * Return: 0, or -ENOENT to skip a name that is gone.
 */
static int readdir_plus_entry(struct daemon_fs *dfs, ext2_ino_t dir,
			      const struct readdir_ent *ent, const char *name,
			      bool changed, struct fuse_entry_param *e)
{
	ext2_ino_t ino = ent->ino;
	int ret;

	memset(e, 0, sizeof(*e));
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		e->attr.st_ino = ent->ino;
		e->attr.st_mode = DTTOIF(ent->dtype);
		return 0;
	}
	if (changed) {
		extent_meta_lock(&dfs->efs);
		ret = daemon_dir_lookup(dfs, dir, name, &ino);
		extent_meta_unlock(&dfs->efs);
		if (ret)
			return -ENOENT;
	}
	ret = daemon_make_entry(dfs, ino, e);
	return ret ? -ENOENT : 0;
}

/**
 * do_readdir() - fill @buf (@size bytes) from offset @off.
 * Return: bytes used or -errno.
 */
static ssize_t do_readdir(fuse_req_t req, struct daemon_fs *dfs,
			  ext2_ino_t dir, char *buf, size_t size, off_t off,
			  struct readdir_handle *h, bool plus)
{
	char name[DAEMON_NAME_MAX + 1];
	bool changed = false;
	size_t pos = 0, i;
	int ret = 0;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->valid) {
		extent_meta_lock(&dfs->efs);
		ret = readdir_snapshot(dfs, dir, h);
		extent_meta_unlock(&dfs->efs);
	} else if (plus) {
		extent_meta_lock(&dfs->efs);
		changed = readdir_changed(dfs, dir, h);
		extent_meta_unlock(&dfs->efs);
	}
	for (i = (size_t)off; !ret && i < h->count; i++) {
		const struct readdir_ent *ent = &h->ents[i];
		size_t n;

		memcpy(name, h->names + ent->name_off, ent->name_len);
		name[ent->name_len] = '\0';
		if (!plus) {
			struct stat st;

			memset(&st, 0, sizeof(st));
			st.st_ino = ent->ino;
			st.st_mode = DTTOIF(ent->dtype);
			n = fuse_add_direntry(req, buf + pos, size - pos, name,
					      &st, (off_t)(i + 1));
			if (n > size - pos)
				break;
		} else {
			struct fuse_entry_param e;

			n = fuse_add_direntry_plus(req, NULL, 0, name, NULL, 0);
			if (n > size - pos)
				break;
			if (readdir_plus_entry(dfs, dir, ent, name, changed, &e))
				continue;
			fuse_add_direntry_plus(req, buf + pos, size - pos, name,
					       &e, (off_t)(i + 1));
		}
		pos += n;
	}
	pthread_mutex_unlock(&h->lock);
	return ret ? ret : (ssize_t)pos;
}

static void readdir_reply(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi, bool plus)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct readdir_handle *h = (struct readdir_handle *)(uintptr_t)fi->fh;
	ssize_t n;
	char *buf;

	if (!h) {
		daemon_reply_err(req, -EBADF);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		daemon_reply_err(req, -ENOMEM);
		return;
	}
	n = do_readdir(req, dfs, daemon_ino(ino), buf, size, off, h, plus);
	/* every getdents(2), the one at the end included; before the reply */
	if (n >= 0)
		(void)daemon_inode_accessed(dfs, h->di, true, h->noatime);
	if (n < 0)
		daemon_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void daemon_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	readdir_reply(req, ino, size, off, fi, false);
}

void daemon_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	readdir_reply(req, ino, size, off, fi, true);
}

/* ---- fsyncdir ---------------------------------------------------------- */

static int do_fsyncdir(struct daemon_fs *dfs)
{
	int ret;

	extent_meta_lock(&dfs->efs);
	ret = extent_sync_metadata(&dfs->efs);
	extent_meta_unlock(&dfs->efs);
	return ret;
}

void daemon_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	daemon_reply_err(req, do_fsyncdir(daemon_fs_of(req)));
}
