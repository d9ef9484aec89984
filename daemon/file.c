/* SPDX-License-Identifier: MIT */
/*
 * daemon/file.c — FUSE handlers for regular-file data: create, open, read,
 * write, flush, release, fsync, fallocate and lseek.
 *
 * The handlers are thin: they decode the request, call a do_<op>() that
 * returns 0/-errno (or a byte count), and send exactly one reply with no
 * lock held. File data never goes through libext2fs here: every byte moves
 * through extent/ (extent_read/extent_write/...) on the extent_inode
 * embedded in the daemon's inode, and extent/ owns the size, the block map
 * and the inode rwlock. This file only touches the on-disk inode for what
 * the VFS would do around those calls: atime after a read (inode.c),
 * mtime/ctime after a write, a truncate on open or a fallocate, and
 * dropping set-id bits on O_TRUNC.
 *
 * It does not do permission checks: the kernel checks open(2) access
 * (default_permissions) before it sends OPEN or CREATE.
 *
 * An open file is a struct file_open in fi->fh: it holds a daemon
 * reference on the inode (daemon_iget) from open to release, so the inode
 * stays in the table — and its data stays reachable after unlink — while
 * any handle is open. daemon_inode.nopen counts the handles; the last
 * release starts writeback of the file's dirty data (flusher thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

/**
 * struct file_open - what fi->fh points to for an open regular file.
 * @di:    the inode; one daemon reference owned by this handle.
 * @flags: open(2) flags as the kernel sent them; constant.
 */
struct file_open {
	struct daemon_inode *di;
	int flags;
};

static struct file_open *file_open_of(const struct fuse_file_info *fi)
{
	return fi ? (struct file_open *)(uintptr_t)fi->fh : NULL;
}

/*
 * file_inode_get() - the inode a data request is about: the open handle's
 * when there is one (no new reference, *@ref = false), else a fresh daemon
 * reference (*@ref = true; drop it with daemon_iput()).
 */
static int file_inode_get(struct daemon_fs *dfs, fuse_ino_t nodeid,
			  struct fuse_file_info *fi, struct daemon_inode **di,
			  bool *ref)
{
	struct file_open *fh = file_open_of(fi);
	int ret;

	if (fh) {
		*di = fh->di;
		*ref = false;
		return 0;
	}
	ret = daemon_iget(dfs, daemon_ino(nodeid), di);
	*ref = ret == 0;
	return ret;
}

static void file_inode_put(struct daemon_fs *dfs, struct daemon_inode *di,
			   bool ref)
{
	if (ref)
		daemon_iput(dfs, di);
}

/*
 * file_update_inode() - set the @which timestamps (DAEMON_MTIME, ...) of
 * the on-disk inode to now and, for a caller who is not root, drop the
 * set-id bits as the VFS does when an unprivileged user writes, truncates
 * or fallocates a file (file_remove_privs(), setattr_should_drop_suidgid()):
 * S_ISUID always, S_ISGID when the group may execute or the caller is not
 * in the file's group. FUSE's kernel side applies only the first two rules
 * (and not at all for O_TRUNC), so the daemon applies all three.
 * @kill_cred: the caller, or NULL to take it from @kill_req (only looked up
 * when the mode has a set-id bit: fuse_req_getgroups() reads /proc).
 * @kill_req: the request, or NULL with @kill_cred NULL: timestamps only.
 * Context: meta_lock NOT held (taken here, last in the lock order).
 */
static int file_update_inode(struct daemon_fs *dfs, ext2_ino_t ino,
			     unsigned int which,
			     const struct daemon_cred *kill_cred,
			     fuse_req_t kill_req)
{
	struct ext2_inode_large inode;
	struct daemon_cred cred;
	int ret;

	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, ino, &inode);
	if (ret)
		goto out_unlock;
	daemon_inode_touch(&inode, which);
	if (!kill_cred && kill_req && (inode.i_mode & (S_ISUID | S_ISGID))) {
		daemon_cred_of(dfs, kill_req, &cred);
		kill_cred = &cred;
	}
	if (kill_cred && kill_cred->uid != 0) {
		unsigned int mode = inode.i_mode;

		mode &= ~S_ISUID;
		if ((mode & S_ISGID) &&
		    ((mode & S_IXGRP) ||
		     !daemon_cred_in_group(kill_cred,
					   daemon_inode_gid(&inode))))
			mode &= ~S_ISGID;
		inode.i_mode = mode;
	}
	ret = daemon_write_inode(dfs, ino, &inode);
out_unlock:
	extent_meta_unlock(&dfs->efs);
	return ret;
}

/*
 * file_open_put() - undo file_open_ino(): the last handle of an inode
 * starts writeback of its dirty data without waiting for it, as the
 * kernel's filemap_flush() on the last close (the flusher writes it; errors
 * are recorded in wb_error for the next fsync: release cannot report them;
 * eviction and fsync write back synchronously), then the reference is
 * dropped.
 */
static void file_open_put(struct daemon_fs *dfs, struct file_open *fh)
{
	struct daemon_inode *di = fh->di;
	bool last;

	pthread_mutex_lock(&dfs->itable_lock);
	last = --di->nopen == 0;
	pthread_mutex_unlock(&dfs->itable_lock);

	if (last)
		extent_writeback_start(&di->ei);
	daemon_iput(dfs, di);
	free(fh);
}

/*
 * file_open_ino() - open inode @ino with open(2) @flags for @cred: take a
 * reference, count the handle, and truncate for O_TRUNC (mtime and ctime
 * set even when the file was already empty, as ext4 does).
 */
static int file_open_ino(struct daemon_fs *dfs, const struct daemon_cred *cred,
			 ext2_ino_t ino, int flags, struct file_open **out)
{
	struct file_open *fh;
	struct daemon_inode *di;
	int ret;

	ret = daemon_iget(dfs, ino, &di);
	if (ret)
		return ret;
	if (!di->ei.file.mapping) {
		/* directories come through opendir; nothing else is opened */
		ret = -EISDIR;
		goto out_iput;
	}
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
		ret = daemon_check_writable(dfs);
		if (ret)
			goto out_iput;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh) {
		ret = -ENOMEM;
		goto out_iput;
	}
	fh->di = di;
	fh->flags = flags;
	pthread_mutex_lock(&dfs->itable_lock);
	di->nopen++;
	pthread_mutex_unlock(&dfs->itable_lock);

	if (flags & O_TRUNC) {
		ret = extent_truncate(&di->ei, 0);
		if (!ret)
			ret = file_update_inode(dfs, ino,
						DAEMON_MTIME | DAEMON_CTIME,
						cred, NULL);
		if (ret) {
			file_open_put(dfs, fh);
			return ret;
		}
	}
	*out = fh;
	return 0;

out_iput:
	daemon_iput(dfs, di);
	return ret;
}

static void file_fill_fi(struct daemon_fs *dfs, struct fuse_file_info *fi,
			 struct file_open *fh)
{
	fi->fh = (uintptr_t)fh;
	fi->keep_cache = dfs->keep_cache;
	/*
	 * FLUSH does nothing here (see daemon_op_flush), so spare the round
	 * trip on every close(2). The kernel ignores this in writeback_cache
	 * mode, where its flush must still push its own dirty pages to us.
	 */
	fi->noflush = 1;
}

/* ---- create, open ------------------------------------------------------ */

static int do_create(struct daemon_fs *dfs, fuse_req_t req, fuse_ino_t parent,
		     const char *name, mode_t mode, struct fuse_file_info *fi,
		     struct fuse_entry_param *e, struct file_open **fh)
{
	struct daemon_cred cred;
	ext2_ino_t ino;
	int ret;

	daemon_cred_of(dfs, req, &cred);
	ret = daemon_new_inode(dfs, &cred, daemon_ino(parent), name,
			       S_IFREG | (mode & ~S_IFMT), 0, NULL, &ino);
	if (ret)
		return ret;
	/* a new file is empty: no truncation whatever the flags say */
	ret = file_open_ino(dfs, &cred, ino, fi->flags & ~O_TRUNC, fh);
	if (ret)
		return ret;
	ret = daemon_make_entry(dfs, ino, e);
	if (ret) {
		file_open_put(dfs, *fh);
		return ret;
	}
	return 0;
}

/**
 * daemon_op_create() - CREATE: make a regular file @name in @parent and
 * open it. The kernel sends the mode without the umask applied
 * (FUSE_CAP_DONT_MASK); daemon_new_inode() applies the umask or the
 * parent's default ACL. Fails with EEXIST when the name exists.
 */
void daemon_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct fuse_entry_param e = { 0 };
	struct file_open *fh = NULL;
	int ret;

	ret = do_create(dfs, req, parent, name, mode, fi, &e, &fh);
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	file_fill_fi(dfs, fi, fh);
	if (fuse_reply_create(req, &e, fi) != 0) {
		/* the kernel never saw the entry nor the handle: undo both */
		daemon_forget(dfs, daemon_ino(e.ino), 1);
		file_open_put(dfs, fh);
	}
}

/**
 * daemon_op_open() - OPEN: open regular file @ino. The handle keeps a
 * daemon reference until release. O_TRUNC (the kernel sends it with
 * FUSE_ATOMIC_O_TRUNC after checking write permission) truncates to 0.
 */
void daemon_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct file_open *fh = NULL;
	struct daemon_cred cred;
	int ret;

	daemon_cred_of(dfs, req, &cred);
	ret = file_open_ino(dfs, &cred, daemon_ino(ino), fi->flags, &fh);
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	file_fill_fi(dfs, fi, fh);
	if (fuse_reply_open(req, fi) != 0)
		file_open_put(dfs, fh);
}

/* ---- read, write ------------------------------------------------------- */

/**
 * daemon_op_read() - READ: up to @size bytes at @off (short at EOF). A
 * successful read updates atime as the mount's atime mode says (at EOF
 * too, as ext4's filemap_read(); not through an O_NOATIME handle). The
 * kernel sends READ only for what its page cache lacks and never at EOF
 * of a cached file, so reads it serves alone leave atime alone.
 */
void daemon_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct file_open *fh = file_open_of(fi);
	struct daemon_inode *di;
	ssize_t n = 0;
	char *buf = NULL;
	bool ref;
	int ret;

	if (off < 0) {
		daemon_reply_err(req, -EINVAL);
		return;
	}
	ret = file_inode_get(dfs, ino, fi, &di, &ref);
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	if (size) {
		buf = malloc(size);
		if (!buf)
			n = -ENOMEM;
		else
			n = extent_read(&di->ei, (uint64_t)off, buf, size);
	}
	/* before the reply, so that a stat(2) after read(2) sees it */
	if (size && n >= 0)
		(void)daemon_inode_accessed(dfs, di, false,
					    fh && (fh->flags & O_NOATIME));
	file_inode_put(dfs, di, ref);

	if (n < 0)
		daemon_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static ssize_t do_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			size_t size, off_t off, struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct file_open *fh = file_open_of(fi);
	struct daemon_inode *di;
	uint64_t pos_out;
	ssize_t n;
	bool append;
	bool ref;
	int ret;

	if (off < 0)
		return -EINVAL;
	ret = file_inode_get(dfs, ino, fi, &di, &ref);
	if (ret)
		return ret;
	/*
	 * O_APPEND: the daemon, not the kernel's possibly stale i_size,
	 * decides where the data goes. Not in writeback_cache mode: there the
	 * kernel owns the size and writes its page cache back at explicit
	 * offsets through whatever handle it picks.
	 */
	append = fh && (fh->flags & O_APPEND) && !fi->writepage &&
		 !dfs->writeback_cache;
	/*
	 * ext4's file_modified(): mtime/ctime = now before the data is
	 * copied (so also when the write then fails with ENOSPC). In
	 * writeback_cache mode the kernel owns mtime and sends a SETATTR.
	 */
	ret = daemon_check_writable(dfs);
	/*
	 * A write starting at or past the maximum file size fails before
	 * anything changes, timestamps included (generic_write_checks()
	 * runs before file_modified()).
	 */
	if (!ret && size &&
	    (append ? atomic_load(&di->ei.size) : (uint64_t)off) >=
		    extent_inode_maxbytes(&di->ei))
		ret = -EFBIG;
	if (!ret && size && !dfs->writeback_cache)
		ret = file_update_inode(dfs, di->ei.ino,
					DAEMON_MTIME | DAEMON_CTIME, NULL,
					fi->writepage ? NULL : req);
	if (ret)
		n = ret;
	else
		n = extent_write(&di->ei, (uint64_t)off, buf, size, append,
				 &pos_out);
	file_inode_put(dfs, di, ref);
	return n;
}

/**
 * daemon_op_write() - WRITE: buffered write through extent_write(); the
 * data is in the cache when this replies, written back later.
 */
void daemon_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = do_write(req, ino, buf, size, off, fi);

	if (n < 0)
		daemon_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

/* ---- flush, release, fsync --------------------------------------------- */

/**
 * daemon_op_flush() - FLUSH (each close(2) of a descriptor): nothing to do.
 * Dirty data is not written at close, as with kernel ext4: durability is
 * fsync's job, and the last release writes the file back. uext4 keeps no
 * per-descriptor state and no POSIX locks of its own (the kernel keeps
 * them locally). Reporting writeback errors here would also differ from
 * ext4, whose close(2) does not report them; fsync does.
 */
void daemon_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	daemon_reply_err(req, 0);
}

/**
 * daemon_op_release() - RELEASE: drop the handle; the last one starts
 * writeback of the file's dirty data (a file not written since stays clean
 * and costs nothing).
 */
void daemon_op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct file_open *fh = file_open_of(fi);

	(void)ino;
	if (fh)
		file_open_put(dfs, fh);
	daemon_reply_err(req, 0);
}

/**
 * daemon_op_fsync() - FSYNC: data and metadata durable (@datasync: only the
 * metadata needed to read the data back), through extent_fsync().
 */
void daemon_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct daemon_inode *di;
	bool ref;
	int ret;

	ret = file_inode_get(dfs, ino, fi, &di, &ref);
	if (!ret) {
		ret = extent_fsync(&di->ei, datasync != 0);
		file_inode_put(dfs, di, ref);
	}
	daemon_reply_err(req, ret);
}

/* ---- fallocate, lseek -------------------------------------------------- */

static int do_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			off_t offset, off_t length, struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct daemon_inode *di;
	bool ref;
	int ret;

	if (offset < 0 || length <= 0)
		return -EINVAL;
	switch (mode) {
	case 0:
	case EXTENT_FALLOC_KEEP_SIZE:
	case EXTENT_FALLOC_PUNCH_HOLE | EXTENT_FALLOC_KEEP_SIZE:
	case EXTENT_FALLOC_ZERO_RANGE:
	case EXTENT_FALLOC_ZERO_RANGE | EXTENT_FALLOC_KEEP_SIZE:
		break;
	default:
		/* PUNCH_HOLE without KEEP_SIZE, COLLAPSE/INSERT, UNSHARE... */
		return -EOPNOTSUPP;
	}
	if ((uint64_t)offset > UINT64_MAX - (uint64_t)length)
		return -EFBIG;
	ret = daemon_check_writable(dfs);
	if (ret)
		return ret;
	ret = file_inode_get(dfs, ino, fi, &di, &ref);
	if (ret)
		return ret;

	ret = extent_fallocate(&di->ei, mode, (uint64_t)offset,
			       (uint64_t)length);
	/*
	 * ext4 calls file_modified() before looking at the range: every
	 * successful fallocate, whatever the mode and even wholly past EOF,
	 * sets mtime and ctime.
	 */
	if (!ret)
		ret = file_update_inode(dfs, di->ei.ino,
					DAEMON_MTIME | DAEMON_CTIME, NULL, req);
	file_inode_put(dfs, di, ref);
	return ret;
}

/**
 * daemon_op_fallocate() - FALLOCATE: modes 0, KEEP_SIZE,
 * PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE and ZERO_RANGE|KEEP_SIZE; anything else
 * is EOPNOTSUPP. EROFS on a read-only mount.
 */
void daemon_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	daemon_reply_err(req, do_fallocate(req, ino, mode, offset, length,
					   fi));
}

/**
 * daemon_op_lseek() - LSEEK: the kernel sends only SEEK_DATA and SEEK_HOLE
 * (it resolves SEEK_SET/CUR/END itself); anything else is EINVAL.
 * ENXIO at or past EOF.
 */
void daemon_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct daemon_fs *dfs = daemon_fs_of(req);
	struct daemon_inode *di;
	int64_t res;
	bool ref;
	int ret;

	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		daemon_reply_err(req, -EINVAL);
		return;
	}
	ret = file_inode_get(dfs, ino, fi, &di, &ref);
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	res = extent_seek(&di->ei, off, whence);
	file_inode_put(dfs, di, ref);

	if (res < 0)
		daemon_reply_err(req, (int)res);
	else
		fuse_reply_lseek(req, (off_t)res);
}
