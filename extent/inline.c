/* SPDX-License-Identifier: MIT */
/*
 * extent/inline.c — regular files whose data lives in the inode
 * (inline_data feature): reads straight from the inode, and the one-way
 * conversion to a block-mapped body before anything writes to them.
 *
 * Conversion (rwlock held exclusively, so no reader sees the middle):
 *   1. copy the inline bytes out (i_block + "system.data" xattr);
 *   2. clear EXT4_INLINE_DATA_FL, give i_block an empty extent header
 *      (or zeros for block-mapped file systems), write the inode;
 *   3. remove the "system.data" xattr;
 *   4. write the copied bytes through the cache like any buffered write,
 *      so they are allocated (unwritten) and converted at writeback.
 * A crash between 2 and writeback leaves a file of the same size whose
 * bytes read as zeros — never stale data.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include <ext2fs/ext3_extents.h>

/**
 * __extent_inline_get() - see internal.h. Inline files are small: the inode
 * body plus its in-inode xattr space.
 */
int __extent_inline_get(struct extent_inode *ei, void **bufp, size_t *sizep)
{
	struct extent_fs *efs = ei->efs;
	struct ext2_inode_large inode;
	size_t size = 0;
	void *buf;
	errcode_t err;
	int ret;

	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	err = ext2fs_inline_data_size(efs->fs, ei->ino, &size);
	if (err)
		return extent_errcode(efs, ei->ino, err);
	buf = calloc(1, size ? size : 1);
	if (!buf)
		return -ENOMEM;
	err = ext2fs_inline_data_get(efs->fs, ei->ino,
				     (struct ext2_inode *)&inode, buf, &size);
	if (err) {
		free(buf);
		return extent_errcode(efs, ei->ino, err);
	}
	*bufp = buf;
	*sizep = size;
	return 0;
}

/**
 * extent_inline_read() - see internal.h. Bytes between the inline size
 * and the file size read as zeros.
 * Context: rwlock held (shared); takes meta_lock.
 */
ssize_t extent_inline_read(struct extent_inode *ei, uint64_t pos, void *buf,
			   size_t len)
{
	struct extent_fs *efs = ei->efs;
	size_t size = 0, n;
	void *data = NULL;
	int ret;

	extent_meta_lock(efs);
	ret = __extent_inline_get(ei, &data, &size);
	extent_meta_unlock(efs);
	if (ret)
		return ret;
	memset(buf, 0, len);
	if (pos < size) {
		n = size - pos < len ? size - pos : len;
		memcpy(buf, (char *)data + pos, n);
	}
	free(data);
	return (ssize_t)len;
}

/* Step 2 and 3 above. Context: meta_lock held. */
static int inline_clear(struct extent_inode *ei)
{
	struct extent_fs *efs = ei->efs;
	struct ext2_inode_large inode;
	struct ext3_extent_header *eh;
	struct ext2_xattr_handle *xh;
	unsigned int iflags;
	errcode_t err;
	int ret;

	ret = __extent_read_inode(ei, &inode);
	if (ret)
		return ret;
	memset(inode.i_block, 0, sizeof(inode.i_block));
	inode.i_flags &= ~EXT4_INLINE_DATA_FL;
	iflags = 0;
	if (ext2fs_has_feature_extents(efs->fs->super)) {
		inode.i_flags |= EXT4_EXTENTS_FL;
		eh = (struct ext3_extent_header *)inode.i_block;
		eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
		eh->eh_entries = 0;
		eh->eh_depth = 0;
		eh->eh_max = ext2fs_cpu_to_le16(
			(sizeof(inode.i_block) - sizeof(*eh)) /
			sizeof(struct ext3_extent));
		iflags |= EXTENT_IFLAG_EXTENTS;
	}
	ret = __extent_write_inode(ei, &inode);
	if (ret)
		return ret;
	atomic_store(&ei->iflags, iflags);
	atomic_fetch_add(&ei->map_seq, 1);

	err = ext2fs_xattrs_open(efs->fs, ei->ino, &xh);
	if (!err) {
		err = ext2fs_xattrs_read(xh);
		if (!err) {
			err = ext2fs_xattr_remove(xh, "system.data");
			if (err == EXT2_ET_EA_KEY_NOT_FOUND)
				err = 0;
		}
		errcode_t cerr = ext2fs_xattrs_close(&xh);

		if (!err)
			err = cerr;
	}
	return extent_errcode(efs, ei->ino, err);
}

/**
 * extent_inline_expand() - see internal.h.
 * Context: rwlock held exclusively; meta_lock not held (the data goes
 * through the cache, which may wait for folios).
 */
int extent_inline_expand(struct extent_inode *ei)
{
	struct extent_fs *efs = ei->efs;
	size_t size = 0;
	void *data = NULL;
	ssize_t n;
	int ret;

	if (!extent_i_inline(ei))
		return 0;
	extent_meta_lock(efs);
	ret = __extent_inline_get(ei, &data, &size);
	if (ret == 0)
		ret = inline_clear(ei);
	extent_meta_unlock(efs);
	if (ret)
		goto out_free;
	if (size > 0) {
		n = iomap_file_buffered_write(&ei->file, 0, data, size, 0,
					      efs->ops.write,
					      efs->ops.write_ops);
		if (n < 0)
			ret = (int)n;
		else if ((size_t)n != size)
			ret = -EIO;
	}
out_free:
	free(data);
	return ret;
}
