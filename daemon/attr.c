/* SPDX-License-Identifier: MIT */
/* STUB: placeholder until this file is written. */
#include <errno.h>

#include "internal.h"

void daemon_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

void daemon_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

void daemon_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	fuse_reply_err(req, ENOSYS);
}

void daemon_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	(void)ino;
	(void)mask;
	fuse_reply_err(req, ENOSYS);
}
