// SPDX-License-Identifier: MIT
/*
 * cache/bdev.c — the block engine: opening an image file or block device
 * (O_DIRECT where the host allows it), the in-memory device for tests,
 * bio validation, the fault hook, the read overlay (bytes a caller lays
 * over what reads return), and dispatch of batches to the io_uring ring
 * pool (cache/uring.c) or, where io_uring is unavailable, to plain
 * pread/pwrite.
 *
 * Offsets: a bio's @pos is relative to the filesystem start; the engine
 * adds bdev->offset. Bios that do not meet the O_DIRECT alignment go to a
 * second, buffered descriptor of the same file: the kernel keeps buffered
 * and direct I/O to one file coherent (direct I/O writes back and
 * invalidates the page-cache range it touches).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int bdev_alloc(struct cache_bdev **out)
{
	struct cache_bdev *bdev = calloc(1, sizeof(*bdev));

	if (!bdev)
		return -ENOMEM;
	if (pthread_mutex_init(&bdev->lock, NULL))
		goto out_free;
	if (pthread_cond_init(&bdev->ring_cv, NULL))
		goto out_destroy_lock;
	bdev->fd = -1;
	bdev->buffered_fd = -1;
	bdev->align = 1;
	*out = bdev;
	return 0;

out_destroy_lock:
	pthread_mutex_destroy(&bdev->lock);
out_free:
	free(bdev);
	return -ENOMEM;
}

static void bdev_free(struct cache_bdev *bdev)
{
	cache_uring_pool_fini(bdev);
	if (bdev->buffered_fd >= 0 && bdev->buffered_fd != bdev->fd)
		close(bdev->buffered_fd);
	if (bdev->fd >= 0)
		close(bdev->fd);
	free(bdev->mem);
	pthread_cond_destroy(&bdev->ring_cv);
	pthread_mutex_destroy(&bdev->lock);
	free(bdev);
}

/*
 * Smallest O_DIRECT transfer a regular file accepts: try 512, then 4096
 * bytes at offset 0 (an empty file reads 0 bytes, which also answers).
 * Return: the alignment, or 0 if direct reads are refused.
 */
static size_t bdev_probe_align(int fd)
{
	static const size_t sizes[] = { 512, 4096 };
	size_t align = 0;
	void *buf;
	unsigned int i;

	if (posix_memalign(&buf, 4096, 4096))
		return 0;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ssize_t ret = pread(fd, buf, sizes[i], 0);

		if (ret >= 0 || errno != EINVAL) {
			/* Another error says nothing of alignment: be safe. */
			align = ret >= 0 ? sizes[i] : 4096;
			break;
		}
	}
	free(buf);
	return align;
}

int cache_bdev_open(const char *path, uint64_t offset, bool readonly,
		    struct cache_bdev **out)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct cache_bdev *bdev;
	uint64_t devsize = 0;
	size_t align = 0;
	struct stat st;
	int ret;

	ret = bdev_alloc(&bdev);
	if (ret)
		return ret;
	bdev->readonly = readonly;
	bdev->offset = offset;

	bdev->fd = open(path, flags | O_DIRECT);
	bdev->direct = bdev->fd >= 0;
	if (bdev->fd < 0 && errno == EINVAL)
		bdev->fd = open(path, flags);
	if (bdev->fd < 0) {
		ret = -errno;
		goto out_free;
	}
	if (fstat(bdev->fd, &st)) {
		ret = -errno;
		goto out_free;
	}
	if (S_ISBLK(st.st_mode)) {
		int ssz = 0;

		bdev->blockdev = true;
		if (ioctl(bdev->fd, BLKGETSIZE64, &devsize) ||
		    ioctl(bdev->fd, BLKSSZGET, &ssz)) {
			ret = -errno;
			goto out_free;
		}
		align = ssz > 0 ? (size_t)ssz : 512;
	} else if (S_ISREG(st.st_mode)) {
		devsize = (uint64_t)st.st_size;
		if (bdev->direct)
			align = bdev_probe_align(bdev->fd);
	} else {
		ret = -ENOTBLK;
		goto out_free;
	}
	if (offset > devsize) {
		ret = -EINVAL;
		goto out_free;
	}
	bdev->size = devsize - offset;

	if (bdev->direct && (!align || offset % align)) {
		/* Direct I/O refused, or the partition start is unaligned. */
		close(bdev->fd);
		bdev->direct = false;
		bdev->fd = open(path, flags);
		if (bdev->fd < 0) {
			ret = -errno;
			goto out_free;
		}
	}
	if (bdev->direct) {
		bdev->align = align;
		bdev->buffered_fd = open(path, flags);
		if (bdev->buffered_fd < 0) {
			ret = -errno;
			goto out_free;
		}
	} else {
		bdev->buffered_fd = bdev->fd;
	}
	cache_uring_pool_init(bdev);
	*out = bdev;
	return 0;

out_free:
	bdev_free(bdev);
	return ret;
}

int cache_bdev_open_memory(uint64_t size, struct cache_bdev **out)
{
	struct cache_bdev *bdev;
	int ret;

	if (size > SIZE_MAX)
		return -EFBIG;
	ret = bdev_alloc(&bdev);
	if (ret)
		return ret;
	bdev->mem = calloc(1, size ? (size_t)size : 1);
	if (!bdev->mem) {
		bdev_free(bdev);
		return -ENOMEM;
	}
	bdev->size = size;
	*out = bdev;
	return 0;
}

void cache_bdev_close(struct cache_bdev *bdev)
{
	if (bdev)
		bdev_free(bdev);
}

uint64_t cache_bdev_size(const struct cache_bdev *bdev)
{
	return bdev->size;
}

size_t cache_bdev_align(const struct cache_bdev *bdev)
{
	return bdev->direct ? bdev->align : 1;
}

bool cache_bdev_direct(const struct cache_bdev *bdev)
{
	return bdev->direct;
}

int cache_bdev_fd(const struct cache_bdev *bdev)
{
	return bdev->buffered_fd;
}

void cache_bdev_set_fault(struct cache_bdev *bdev, cache_bdev_fault_fn fn,
			  void *ctx)
{
	pthread_mutex_lock(&bdev->lock);
	bdev->fault = fn;
	bdev->fault_ctx = ctx;
	pthread_mutex_unlock(&bdev->lock);
}

void cache_bdev_set_read_overlay(struct cache_bdev *bdev,
				 cache_bdev_overlay_fn fn, void *ctx)
{
	pthread_mutex_lock(&bdev->lock);
	bdev->overlay = fn;
	bdev->overlay_ctx = fn ? ctx : NULL;
	pthread_mutex_unlock(&bdev->lock);
}

/* Checks that need no I/O. Return: 0 to perform the bio, else -errno. */
static int bdev_check_bio(const struct cache_bdev *bdev,
			  const struct cache_bio *bio)
{
	if (bio->write && bdev->readonly)
		return -EROFS;
	if (!bio->buf && bio->len)
		return -EINVAL;
	if (bio->pos > bdev->size || bio->len > bdev->size - bio->pos)
		return -EIO;
	return 0;
}

static void bdev_mem_io(struct cache_bdev *bdev, struct cache_bio *bio)
{
	if (bio->write)
		memcpy(bdev->mem + bio->pos, bio->buf, bio->len);
	else
		memcpy(bio->buf, bdev->mem + bio->pos, bio->len);
	bio->result = (ssize_t)bio->len;
}

/* Synchronous fallback when io_uring is unavailable. */
static void bdev_sync_io(struct cache_bdev *bdev, struct cache_bio *bio)
{
	size_t done = 0;

	while (done < bio->len) {
		char *p = (char *)bio->buf + done;
		uint64_t off = bdev->offset + bio->pos + done;
		int fd = cache_bdev_pick_fd(bdev, p, off, bio->len - done);
		ssize_t ret;

		if (bio->write)
			ret = pwrite(fd, p, bio->len - done, (off_t)off);
		else
			ret = pread(fd, p, bio->len - done, (off_t)off);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			bio->result = -errno;
			return;
		}
		if (ret == 0) {
			bio->result = -EIO;
			return;
		}
		done += (size_t)ret;
	}
	bio->result = (ssize_t)bio->len;
}

int cache_bdev_submit(struct cache_bdev *bdev, struct cache_bio *bios,
		      unsigned int nr)
{
	struct cache_bdev_ring *ring = NULL;
	cache_bdev_overlay_fn overlay;
	cache_bdev_fault_fn fault;
	unsigned int i, nops = 0;
	void *fault_ctx, *overlay_ctx;
	int ret;

	pthread_mutex_lock(&bdev->lock);
	fault = bdev->fault;
	fault_ctx = bdev->fault_ctx;
	overlay = bdev->overlay;
	overlay_ctx = bdev->overlay_ctx;
	pthread_mutex_unlock(&bdev->lock);

	if (!bdev->mem && bdev->uring && nr > 0 &&
	    cache_uring_ring_get(bdev, nr, &ring))
		ring = NULL; /* no ring to be had: synchronous I/O */

	for (i = 0; i < nr; i++) {
		struct cache_bio *bio = &bios[i];

		bio->result = bdev_check_bio(bdev, bio);
		if (!bio->result && fault)
			bio->result = fault(fault_ctx, bio);
		if (bio->result)
			continue;
		if (!bio->len)
			continue; /* result 0 == len */
		if (bdev->mem)
			bdev_mem_io(bdev, bio);
		else if (ring)
			cache_uring_add(ring, bio, nops++);
		else
			bdev_sync_io(bdev, bio);
	}
	if (ring) {
		if (nops)
			cache_uring_run(bdev, ring, nops);
		cache_uring_ring_put(bdev, ring);
	}

	ret = 0;
	for (i = 0; i < nr; i++) {
		struct cache_bio *bio = &bios[i];

		if (bio->result < 0) {
			if (!ret)
				ret = (int)bio->result;
			continue;
		}
		/* What the device returned, then what the overlay holds. */
		if (overlay && !bio->write && bio->len)
			overlay(overlay_ctx, bio->pos, bio->buf, bio->len);
	}
	return ret;
}

int cache_bdev_pread(struct cache_bdev *bdev, void *buf, size_t len,
		     uint64_t pos)
{
	struct cache_bio bio = { .pos = pos, .buf = buf, .len = len };

	return cache_bdev_submit(bdev, &bio, 1);
}

int cache_bdev_pwrite(struct cache_bdev *bdev, const void *buf, size_t len,
		      uint64_t pos)
{
	/* The engine never writes through @buf for a write bio. */
	struct cache_bio bio = {
		.pos = pos, .buf = (void *)buf, .len = len, .write = true,
	};

	return cache_bdev_submit(bdev, &bio, 1);
}

int cache_bdev_flush(struct cache_bdev *bdev)
{
	int ret;

	if (bdev->mem || bdev->readonly)
		return 0;
	if (bdev->uring) {
		ret = cache_uring_fsync(bdev);
		if (ret != -ENOSYS)
			return ret;
	}
	ret = bdev->blockdev ? fsync(bdev->fd) : fdatasync(bdev->fd);
	return ret ? -errno : 0;
}
