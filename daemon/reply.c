/* SPDX-License-Identifier: MIT */
/*
 * daemon/reply.c — the reply helpers every handler ends with: errors (the
 * one place where -errno becomes the positive value FUSE wants) and entry
 * replies that take a kernel lookup on the inode they name.
 *
 * Timeouts: the daemon is the only writer of the image and every reply
 * carries freshly read attributes, so the kernel may cache entries and
 * attributes; dfs->entry_timeout / attr_timeout (1 s, set at mount) bound
 * how long.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

struct daemon_fs *daemon_fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

void daemon_reply_err(fuse_req_t req, int neg_errno)
{
	fuse_reply_err(req, neg_errno < 0 ? -neg_errno : 0);
}

int daemon_make_entry(struct daemon_fs *dfs, ext2_ino_t ino,
		      struct fuse_entry_param *e)
{
	struct ext2_inode_large inode;
	struct daemon_inode *di;
	int ret;

	ret = daemon_iget(dfs, ino, &di);
	if (ret)
		return ret;
	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, ino, &inode);
	if (!ret) {
		memset(e, 0, sizeof(*e));
		e->ino = daemon_nodeid(ino);
		e->generation = inode.i_generation;
		daemon_fill_stat(dfs, ino, &inode, di, &e->attr);
		e->attr_timeout = dfs->attr_timeout;
		e->entry_timeout = dfs->entry_timeout;
	}
	extent_meta_unlock(&dfs->efs);
	if (!ret)
		daemon_lookup_inc(dfs, di);
	daemon_iput(dfs, di);
	return ret;
}

void daemon_reply_entry(struct daemon_fs *dfs, fuse_req_t req, ext2_ino_t ino)
{
	struct fuse_entry_param e;
	int ret;

	ret = daemon_make_entry(dfs, ino, &e);
	if (ret) {
		daemon_reply_err(req, ret);
		return;
	}
	/*
	 * If the request was interrupted the kernel never sees this entry
	 * and will not forget it: give the lookup back.
	 */
	if (fuse_reply_entry(req, &e) == -ENOENT)
		daemon_forget(dfs, ino, 1);
}
