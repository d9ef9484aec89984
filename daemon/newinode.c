/* SPDX-License-Identifier: MIT */
/* STUB: placeholder until this file is written. */
#include <errno.h>

#include "internal.h"

int daemon_new_inode(struct daemon_fs *dfs, const struct daemon_cred *cred,
		     ext2_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev, const char *symlink_target, ext2_ino_t *ino)
{
	(void)dfs; (void)cred; (void)parent; (void)name; (void)mode;
	(void)rdev; (void)symlink_target; (void)ino;
	return -ENOSYS;
}
