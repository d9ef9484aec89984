// SPDX-License-Identifier: MIT
/*
 * cache/uring.c — the io_uring half of the block engine: a pool of rings
 * shared by all submitting threads, batch submission with completion
 * reaping and resubmission of short transfers, and flush.
 *
 * Why a pool rather than one ring per thread: FUSE worker threads come and
 * go, and a ring per thread would need thread-exit hooks per bdev. A
 * submitter takes a whole ring for the duration of its batch (so no ring is
 * ever shared by two threads at once and no lock is held during I/O); the
 * pool grows lazily up to URING_MAX_RINGS, then submitters wait for a free
 * ring. All rings are torn down at cache_bdev_close().
 *
 * A batch: every op is prepared on the submission queue before one
 * io_uring_submit_and_wait() call (up to URING_DEPTH in flight; larger
 * batches flow through as completions free room). Completions are reaped
 * in bulk. A short transfer is resubmitted for its remainder; a transfer
 * of zero bytes (read at the end of the file) fails with -EIO.
 */
#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define URING_DEPTH 64
#define URING_MAX_RINGS 16
#define URING_MAX_CHUNK (1u << 30)

/* One bio in a batch. */
struct cache_bdev_op {
	struct cache_bio *bio;
	size_t done;	/* bytes transferred so far */
	bool finished;	/* bio->result is final */
};

static int uring_ring_create(struct cache_bdev_ring **out)
{
	struct cache_bdev_ring *r = calloc(1, sizeof(*r));
	int ret = -ENOMEM;

	if (!r)
		return ret;
	r->ring = calloc(1, sizeof(*r->ring));
	if (!r->ring)
		goto out_free_r;
	/* COOP_TASKRUN (5.19+) saves interrupts; fall back without it. */
	ret = io_uring_queue_init(URING_DEPTH, r->ring,
				  IORING_SETUP_COOP_TASKRUN);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(URING_DEPTH, r->ring, 0);
	if (ret)
		goto out_free_ring;
	*out = r;
	return 0;

out_free_ring:
	free(r->ring);
out_free_r:
	free(r);
	return ret;
}

static void uring_ring_destroy(struct cache_bdev_ring *r)
{
	io_uring_queue_exit(r->ring);
	free(r->ring);
	free(r->ops);
	free(r->queue);
	free(r);
}

/*
 * io_uring is refused in some sandboxes (Docker's default seccomp profile,
 * kernel.io_uring_disabled); the engine then falls back to pread/pwrite.
 * UEXT4_NO_URING=1 selects that fallback by hand (operators who distrust
 * io_uring on their kernel; tests of the fallback).
 */
void cache_uring_pool_init(struct cache_bdev *bdev)
{
	const char *off = getenv("UEXT4_NO_URING");
	struct cache_bdev_ring *r;

	if (off && *off && strcmp(off, "0")) {
		bdev->uring = false;
		return;
	}
	bdev->uring = !uring_ring_create(&r);
	if (bdev->uring) {
		bdev->free_rings = r;
		bdev->nr_rings = 1;
	}
}

void cache_uring_pool_fini(struct cache_bdev *bdev)
{
	while (bdev->free_rings) {
		struct cache_bdev_ring *r = bdev->free_rings;

		bdev->free_rings = r->next;
		bdev->nr_rings--;
		uring_ring_destroy(r);
	}
	assert(bdev->nr_rings == 0); /* close() with I/O in flight */
}

static int uring_ring_reserve(struct cache_bdev_ring *r, unsigned int nr)
{
	struct cache_bdev_op *ops;
	unsigned int *queue;
	unsigned int cap;

	if (nr <= r->ops_cap)
		return 0;
	cap = r->ops_cap * 2 > nr ? r->ops_cap * 2 : nr;
	ops = realloc(r->ops, cap * sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	r->ops = ops;
	queue = realloc(r->queue, cap * sizeof(*queue));
	if (!queue)
		return -ENOMEM;
	r->queue = queue;
	r->ops_cap = cap;
	return 0;
}

int cache_uring_ring_get(struct cache_bdev *bdev, unsigned int nr,
			 struct cache_bdev_ring **out)
{
	struct cache_bdev_ring *r;
	int ret;

	pthread_mutex_lock(&bdev->lock);
	for (;;) {
		if (bdev->free_rings) {
			r = bdev->free_rings;
			bdev->free_rings = r->next;
			pthread_mutex_unlock(&bdev->lock);
			break;
		}
		if (bdev->nr_rings < URING_MAX_RINGS) {
			bdev->nr_rings++;
			pthread_mutex_unlock(&bdev->lock);
			ret = uring_ring_create(&r);
			if (ret) {
				pthread_mutex_lock(&bdev->lock);
				bdev->nr_rings--;
				if (bdev->ring_waiters)
					pthread_cond_signal(&bdev->ring_cv);
				pthread_mutex_unlock(&bdev->lock);
				return ret;
			}
			break;
		}
		bdev->ring_waiters++;
		pthread_cond_wait(&bdev->ring_cv, &bdev->lock);
		bdev->ring_waiters--;
	}
	r->next = NULL;
	ret = uring_ring_reserve(r, nr);
	if (ret) {
		cache_uring_ring_put(bdev, r);
		return ret;
	}
	*out = r;
	return 0;
}

void cache_uring_ring_put(struct cache_bdev *bdev, struct cache_bdev_ring *r)
{
	pthread_mutex_lock(&bdev->lock);
	if (r->broken) {
		bdev->nr_rings--;
	} else {
		r->next = bdev->free_rings;
		bdev->free_rings = r;
	}
	if (bdev->ring_waiters)
		pthread_cond_signal(&bdev->ring_cv);
	pthread_mutex_unlock(&bdev->lock);
	if (r->broken)
		uring_ring_destroy(r);
}

void cache_uring_add(struct cache_bdev_ring *r, struct cache_bio *bio,
		     unsigned int k)
{
	assert(k < r->ops_cap);
	r->ops[k].bio = bio;
	r->ops[k].done = 0;
	r->ops[k].finished = false;
}

static void uring_prep(struct io_uring_sqe *sqe, struct cache_bdev *bdev,
		       struct cache_bdev_op *op, unsigned int k)
{
	struct cache_bio *bio = op->bio;
	size_t chunk = bio->len - op->done;
	char *p = (char *)bio->buf + op->done;
	uint64_t off = bdev->offset + bio->pos + op->done;
	int fd;

	if (chunk > URING_MAX_CHUNK)
		chunk = URING_MAX_CHUNK;
	fd = cache_bdev_pick_fd(bdev, p, off, chunk);
	if (bio->write)
		io_uring_prep_write(sqe, fd, p, (unsigned int)chunk, off);
	else
		io_uring_prep_read(sqe, fd, p, (unsigned int)chunk, off);
	io_uring_sqe_set_data64(sqe, k);
}

static void uring_finish(struct cache_bdev_op *op, ssize_t result)
{
	op->bio->result = result;
	op->finished = true;
}

void cache_uring_run(struct cache_bdev *bdev, struct cache_bdev_ring *r,
		     unsigned int nops)
{
	unsigned int qhead = 0, qlen = nops, inflight = 0, left = nops, k;
	struct io_uring *ring = r->ring;

	for (k = 0; k < nops; k++)
		r->queue[k] = k;

	while (left) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		int ret;

		while (qlen && inflight < URING_DEPTH) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			if (!sqe)
				break;
			k = r->queue[qhead];
			qhead = (qhead + 1) % nops;
			qlen--;
			uring_prep(sqe, bdev, &r->ops[k], k);
			inflight++;
		}
		ret = io_uring_submit_and_wait(ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY) {
			/*
			 * The ring itself failed (not one request): we cannot
			 * tell which requests the kernel took. Fail what is
			 * unfinished and retire the ring. Not seen in
			 * practice; io_uring_enter's documented errors here
			 * are transient or programming errors.
			 */
			for (k = 0; k < nops; k++)
				if (!r->ops[k].finished)
					uring_finish(&r->ops[k], ret);
			r->broken = true;
			return;
		}

		io_uring_for_each_cqe(ring, head, cqe) {
			struct cache_bdev_op *op;
			int res = cqe->res;

			seen++;
			k = (unsigned int)io_uring_cqe_get_data64(cqe);
			assert(k < nops);
			op = &r->ops[k];
			if (res == -EAGAIN || res == -EINTR) {
				r->queue[(qhead + qlen++) % nops] = k;
				continue;
			}
			if (res < 0) {
				uring_finish(op, res);
			} else if (res == 0) {
				uring_finish(op, -EIO); /* end of file */
			} else {
				op->done += (size_t)res;
				if (op->done < op->bio->len) {
					/* Short transfer: the rest again. */
					r->queue[(qhead + qlen++) % nops] = k;
					continue;
				}
				uring_finish(op, (ssize_t)op->bio->len);
			}
			left--;
		}
		io_uring_cq_advance(ring, seen);
		inflight -= seen;
	}
}

int cache_uring_fsync(struct cache_bdev *bdev)
{
	struct cache_bdev_ring *r;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	if (cache_uring_ring_get(bdev, 0, &r))
		return -ENOSYS;
	sqe = io_uring_get_sqe(r->ring);
	assert(sqe); /* a ring at rest has an empty queue */
	io_uring_prep_fsync(sqe, bdev->fd,
			    bdev->blockdev ? 0 : IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, 0);
	do {
		ret = io_uring_submit_and_wait(r->ring, 1);
	} while (ret == -EINTR);
	if (ret < 0) {
		r->broken = true;
		cache_uring_ring_put(bdev, r);
		return -ENOSYS; /* caller falls back to fdatasync() */
	}
	do {
		ret = io_uring_wait_cqe(r->ring, &cqe);
	} while (ret == -EINTR);
	if (!ret) {
		ret = cqe->res;
		io_uring_cqe_seen(r->ring, cqe);
	}
	cache_uring_ring_put(bdev, r);
	return ret;
}
