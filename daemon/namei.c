/* SPDX-License-Identifier: MIT */
/* STUB: placeholder until this file is written. */
#include <errno.h>

#include "internal.h"

void daemon_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, ENOSYS);
}

int daemon_check_name(const char *name)
{
	(void)name;
	return -ENOSYS;
}

int daemon_dir_lookup(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		      ext2_ino_t *ino)
{
	(void)dfs; (void)dir; (void)name; (void)ino;
	return -ENOSYS;
}
