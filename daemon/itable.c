/* SPDX-License-Identifier: MIT */
/* STUB: placeholder until this file is written. */
#include <errno.h>

#include "internal.h"

void daemon_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

void daemon_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}
