/* SPDX-License-Identifier: MIT */
/*
 * daemon/ops.c — the one FUSE lowlevel ops table. Each handler lives in
 * the file of its op family (see internal.h); this file only lists them.
 */
#include "internal.h"

static const struct fuse_lowlevel_ops daemon_ops = {
	.init = daemon_op_init,
	.destroy = daemon_op_destroy,
	.lookup = daemon_op_lookup,
	.forget = daemon_op_forget,
	.forget_multi = daemon_op_forget_multi,
	.getattr = daemon_op_getattr,
	.setattr = daemon_op_setattr,
	.readlink = daemon_op_readlink,
	.mknod = daemon_op_mknod,
	.mkdir = daemon_op_mkdir,
	.unlink = daemon_op_unlink,
	.rmdir = daemon_op_rmdir,
	.symlink = daemon_op_symlink,
	.rename = daemon_op_rename,
	.link = daemon_op_link,
	.open = daemon_op_open,
	.read = daemon_op_read,
	.write = daemon_op_write,
	.flush = daemon_op_flush,
	.release = daemon_op_release,
	.fsync = daemon_op_fsync,
	.opendir = daemon_op_opendir,
	.readdir = daemon_op_readdir,
	.readdirplus = daemon_op_readdirplus,
	.releasedir = daemon_op_releasedir,
	.fsyncdir = daemon_op_fsyncdir,
	.statfs = daemon_op_statfs,
	.setxattr = daemon_op_setxattr,
	.getxattr = daemon_op_getxattr,
	.listxattr = daemon_op_listxattr,
	.removexattr = daemon_op_removexattr,
	.access = daemon_op_access,
	.create = daemon_op_create,
	.fallocate = daemon_op_fallocate,
	.lseek = daemon_op_lseek,
};

const struct fuse_lowlevel_ops *daemon_lowlevel_ops(void)
{
	return &daemon_ops;
}
