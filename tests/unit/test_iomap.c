/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_iomap.c — unit tests of the iomap engine with fake ops:
 * a small in-memory "file system" (a block map file block → disk block with
 * HOLE / DELALLOC / MAPPED / UNWRITTEN states, a bump allocator and a
 * mapping sequence number) over the cache's in-memory block device and a
 * real struct cache.
 *
 * Bios are counted (and failed on demand) through the bdev fault hook.
 * The randomized test prints its seed and takes UEXT4_SEED from the
 * environment.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cache.h"
#include "iomap.h"

#define NB 4096u		/* file blocks the fake maps */
#define DISK_SIZE (UINT64_C(48) << 20)
#define MAX_END_IO 256

enum { F_HOLE, F_DELALLOC, F_MAPPED, F_UNWRITTEN };

struct end_io_rec {
	uint64_t pos, len;
	unsigned int type, flags;
	int error;
};

/* The fake file system: one file. */
struct ffs {
	struct cache *cache;
	struct cache_bdev *bdev;
	struct iomap_file file;
	unsigned int blkbits;
	uint64_t bsize;

	uint8_t type[NB];
	uint64_t pblk[NB];
	uint64_t next_alloc;
	uint64_t seq;

	/* policy knobs */
	bool delalloc;		/* writes reserve (DELALLOC) instead of allocating */
	bool fragment;		/* allocator leaves a gap after every block */
	uint64_t enospc_at;	/* write begin at or past this fails: -ENOSPC */
	unsigned int max_map;	/* blocks per mapping (0 = unlimited) */
	int stale_countdown;	/* iomap_valid says false this many times */
	int stale_after;	/* the map changes at this iomap_valid call */
	int map_fail;		/* map_range returns this if non-zero */
	char *inline_data;	/* non-NULL: reads see an INLINE file */
	uint64_t inline_len;

	/* the fake's "metadata lock" (concurrency test) */
	pthread_mutex_t mu;
	/* the fake's inode rwlock and size (concurrency test) */
	pthread_rwlock_t rwlock;
	_Atomic uint64_t size;

	/* counters */
	int begin_calls, end_calls, valid_calls, map_calls;
	int64_t last_written;
	unsigned int last_flags;
	int nr_end_io;
	int bad_conversions;	/* end_io on blocks not unwritten */
	struct end_io_rec end_io[MAX_END_IO];

	/* bdev fault hook */
	int reads, writes;
	uint64_t read_bytes, write_bytes;
	int fail_write;		/* fail every write bio with this */
	int fail_read;
	int fail_nth;		/* fail only the nth bio from now (1-based) */
	uint64_t fail_read_addr;	/* fail reads covering this address */
	int nth_seen;
};

static struct ffs *F(struct iomap_file *file)
{
	return file->private;
}

static uint64_t ffs_alloc(struct ffs *f, uint64_t n)
{
	uint64_t p = f->next_alloc;

	f->next_alloc += n + (f->fragment ? 1 : 0);
	assert_true(f->next_alloc * f->bsize <= DISK_SIZE);
	return p;
}

/* Blocks from @fb with the same state (contiguous on disk if allocated). */
static uint64_t ffs_run(struct ffs *f, uint64_t fb)
{
	uint64_t n = 1;

	while (fb + n < NB && f->type[fb + n] == f->type[fb] &&
	       (f->type[fb] == F_HOLE || f->type[fb] == F_DELALLOC ||
		f->pblk[fb + n] == f->pblk[fb] + n))
		n++;
	if (f->max_map && n > f->max_map)
		n = f->max_map;
	return n;
}

static void ffs_fill(struct ffs *f, uint64_t fb, uint64_t n,
		     struct iomap *m)
{
	static const uint16_t types[] = {
		[F_HOLE] = IOMAP_HOLE, [F_DELALLOC] = IOMAP_DELALLOC,
		[F_MAPPED] = IOMAP_MAPPED, [F_UNWRITTEN] = IOMAP_UNWRITTEN,
	};

	m->offset = fb << f->blkbits;
	m->length = n << f->blkbits;
	m->type = types[f->type[fb]];
	m->addr = (f->type[fb] == F_MAPPED || f->type[fb] == F_UNWRITTEN) ?
			  f->pblk[fb] << f->blkbits :
			  IOMAP_NULL_ADDR;
	m->validity_cookie = f->seq;
}

static int fk_begin_locked(struct iomap_file *file, uint64_t pos, uint64_t length,
		    unsigned int flags, struct iomap *m)
{
	struct ffs *f = F(file);
	uint64_t fb = pos >> f->blkbits, n;
	bool allocated = false;

	f->begin_calls++;
	f->last_flags = flags;
	if (f->inline_data && !(flags & IOMAP_WRITE)) {
		if (pos < f->inline_len) {
			m->offset = 0;
			m->length = f->inline_len;
			m->type = IOMAP_INLINE;
			m->addr = IOMAP_NULL_ADDR;
			m->inline_data = f->inline_data;
		} else {
			m->offset = pos;
			m->length = UINT64_C(1) << 30;
			m->type = IOMAP_HOLE;
			m->addr = IOMAP_NULL_ADDR;
		}
		return 0;
	}
	if (fb >= NB) {
		if (flags & IOMAP_WRITE)
			return -EFBIG;
		m->offset = pos;
		m->length = UINT64_C(1) << 30;
		m->type = IOMAP_HOLE;
		m->addr = IOMAP_NULL_ADDR;
		return 0;
	}
	if ((flags & IOMAP_WRITE) && f->type[fb] == F_HOLE) {
		uint64_t last = (pos + length - 1) >> f->blkbits;

		if (pos >= f->enospc_at)
			return -ENOSPC;
		if (last >= NB)
			last = NB - 1;
		if (last >= (f->enospc_at >> f->blkbits))
			last = (f->enospc_at >> f->blkbits) - 1;
		for (n = 0; fb + n <= last && f->type[fb + n] == F_HOLE; n++)
			;
		if (f->max_map && n > f->max_map)
			n = f->max_map;
		if (f->delalloc) {
			for (uint64_t i = 0; i < n; i++)
				f->type[fb + i] = F_DELALLOC;
		} else {
			uint64_t p = ffs_alloc(f, n);

			for (uint64_t i = 0; i < n; i++) {
				f->type[fb + i] = F_UNWRITTEN;
				f->pblk[fb + i] = p + i;
			}
		}
		allocated = true;
		f->seq++;
	}
	n = ffs_run(f, fb);
	ffs_fill(f, fb, n, m);
	if (allocated)
		m->flags |= IOMAP_F_NEW;
	return 0;
}

static int fk_end_locked(struct iomap_file *file, uint64_t pos, uint64_t length,
		  ssize_t written, unsigned int flags, struct iomap *m)
{
	struct ffs *f = F(file);

	(void)pos;
	(void)length;
	(void)flags;
	(void)m;
	f->end_calls++;
	f->last_written = written;
	return 0;
}

static bool fk_valid_locked(struct iomap_file *file, const struct iomap *m)
{
	struct ffs *f = F(file);

	f->valid_calls++;
	if (f->valid_calls == f->stale_after)
		f->seq++;
	if (f->stale_countdown > 0) {
		f->stale_countdown--;
		return false;
	}
	return m->validity_cookie == f->seq;
}

static int fk_map_range_locked(struct iomap_file *file, uint64_t pos,
			uint64_t length, struct iomap *m)
{
	struct ffs *f = F(file);
	uint64_t fb = pos >> f->blkbits, n;

	(void)length;
	f->map_calls++;
	if (f->map_fail)
		return f->map_fail;
	if (f->type[fb] == F_HOLE)
		return -EIO;
	if (f->type[fb] == F_DELALLOC) {
		/* Allocate the whole delalloc extent as unwritten. */
		for (n = 0; fb + n < NB && f->type[fb + n] == F_DELALLOC; n++)
			;
		if (f->fragment) {
			for (uint64_t i = 0; i < n; i++)
				f->pblk[fb + i] = ffs_alloc(f, 1);
		} else {
			uint64_t p = ffs_alloc(f, n);

			for (uint64_t i = 0; i < n; i++)
				f->pblk[fb + i] = p + i;
		}
		for (uint64_t i = 0; i < n; i++)
			f->type[fb + i] = F_UNWRITTEN;
		f->seq++;
	}
	n = ffs_run(f, fb);
	ffs_fill(f, fb, n, m);
	return 0;
}

static int fk_end_io_locked(struct iomap_file *file, uint64_t pos, uint64_t length,
		     unsigned int type, unsigned int flags, int error)
{
	struct ffs *f = F(file);

	if (f->nr_end_io < MAX_END_IO)
		f->end_io[f->nr_end_io] = (struct end_io_rec){
			pos, length, type, flags, error,
		};
	f->nr_end_io++;
	if (!error && type == IOMAP_UNWRITTEN) {
		for (uint64_t b = pos >> f->blkbits;
		     b < (pos + length) >> f->blkbits; b++) {
			if (f->type[b] != F_UNWRITTEN)
				f->bad_conversions++;
			f->type[b] = F_MAPPED;
		}
		f->seq++;
	}
	return 0;
}

static int fk_begin(struct iomap_file *file, uint64_t pos, uint64_t length,
		    unsigned int flags, struct iomap *m)
{
	int ret;

	pthread_mutex_lock(&F(file)->mu);
	ret = fk_begin_locked(file, pos, length, flags, m);
	pthread_mutex_unlock(&F(file)->mu);
	return ret;
}

static int fk_end(struct iomap_file *file, uint64_t pos, uint64_t length,
		  ssize_t written, unsigned int flags, struct iomap *m)
{
	int ret;

	pthread_mutex_lock(&F(file)->mu);
	ret = fk_end_locked(file, pos, length, written, flags, m);
	pthread_mutex_unlock(&F(file)->mu);
	return ret;
}

static bool fk_valid(struct iomap_file *file, const struct iomap *m)
{
	bool ret;

	pthread_mutex_lock(&F(file)->mu);
	ret = fk_valid_locked(file, m);
	pthread_mutex_unlock(&F(file)->mu);
	return ret;
}

static int fk_map_range(struct iomap_file *file, uint64_t pos,
			uint64_t length, struct iomap *m)
{
	int ret;

	pthread_mutex_lock(&F(file)->mu);
	ret = fk_map_range_locked(file, pos, length, m);
	pthread_mutex_unlock(&F(file)->mu);
	return ret;
}

static int fk_end_io(struct iomap_file *file, uint64_t pos, uint64_t length,
		     unsigned int type, unsigned int flags, int error)
{
	int ret;

	pthread_mutex_lock(&F(file)->mu);
	ret = fk_end_io_locked(file, pos, length, type, flags, error);
	pthread_mutex_unlock(&F(file)->mu);
	return ret;
}

static const struct iomap_ops fk_ops = {
	.iomap_begin = fk_begin,
	.iomap_end = fk_end,
};
static const struct iomap_write_ops fk_wops = {
	.iomap_valid = fk_valid,
};
static const struct iomap_writeback_ops fk_wbops = {
	.map_range = fk_map_range,
	.end_io = fk_end_io,
};

static int fk_cache_writeback(struct cache_mapping *mapping, void *owner,
			      bool sync_all)
{
	(void)mapping;
	(void)owner;
	(void)sync_all;
	return 0;	/* tests write back explicitly */
}

static const struct cache_ops fk_cache_ops = {
	.writeback = fk_cache_writeback,
};

/* The flusher writes back for real (concurrency test). */
static int fk_cache_writeback_real(struct cache_mapping *mapping, void *owner,
				   bool sync_all)
{
	struct ffs *f = owner;

	(void)mapping;
	(void)sync_all;
	return iomap_writeback_range(&f->file, 0, UINT64_MAX,
				     atomic_load(&f->size), &fk_wbops);
}

static const struct cache_ops fk_cache_ops_real = {
	.writeback = fk_cache_writeback_real,
};

static int fk_fault(void *ctx, const struct cache_bio *bio)
{
	struct ffs *f = ctx;

	if (f->fail_nth && ++f->nth_seen == f->fail_nth)
		return -EIO;
	if (bio->write) {
		f->writes++;
		f->write_bytes += bio->len;
		return f->fail_write;
	}
	f->reads++;
	f->read_bytes += bio->len;
	if (f->fail_read_addr >= bio->pos &&
	    f->fail_read_addr < bio->pos + bio->len)
		return -EIO;
	return f->fail_read;
}

static struct ffs *ffs_new_cfg(unsigned int blkbits,
			       const struct cache_config *cfg)
{
	struct ffs *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	pthread_rwlock_init(&f->rwlock, NULL);
	f->blkbits = blkbits;
	f->bsize = UINT64_C(1) << blkbits;
	f->next_alloc = 16;
	f->enospc_at = UINT64_MAX;
	f->fail_read_addr = UINT64_MAX;
	assert_int_equal(cache_bdev_open_memory(DISK_SIZE, &f->bdev), 0);
	assert_int_equal(cache_create(cfg, &f->cache), 0);
	assert_int_equal(cache_mapping_create(f->cache, blkbits, f,
					      &f->file.mapping), 0);
	f->file.bdev = f->bdev;
	f->file.blkbits = blkbits;
	f->file.private = f;
	cache_bdev_set_fault(f->bdev, fk_fault, f);
	return f;
}

static struct ffs *ffs_new(unsigned int blkbits, size_t folio_size)
{
	struct cache_config cfg = {
		.budget_bytes = 32u << 20,
		.folio_size = folio_size,
		.dirty_background_pct = 100,
		.dirty_limit_pct = 100,
		.expire_ms = 3600 * 1000,
		.ops = &fk_cache_ops,
	};

	return ffs_new_cfg(blkbits, &cfg);
}

static void ffs_drop_cache(struct ffs *f)
{
	cache_mapping_destroy(f->file.mapping);
	assert_int_equal(cache_mapping_create(f->cache, f->blkbits, f,
					      &f->file.mapping), 0);
}

static void ffs_free(struct ffs *f)
{
	cache_mapping_destroy(f->file.mapping);
	cache_destroy(f->cache);
	cache_bdev_close(f->bdev);
	pthread_mutex_destroy(&f->mu);
	pthread_rwlock_destroy(&f->rwlock);
	free(f);
}

static void ffs_reset_counters(struct ffs *f)
{
	f->begin_calls = f->end_calls = f->valid_calls = f->map_calls = 0;
	f->nr_end_io = 0;
	f->reads = f->writes = 0;
	f->read_bytes = f->write_bytes = 0;
}

/* Map file blocks [fb, fb + n) to disk blocks from @pblk with @type. */
static void ffs_set(struct ffs *f, uint64_t fb, uint64_t n, int type,
		    uint64_t pblk)
{
	for (uint64_t i = 0; i < n; i++) {
		f->type[fb + i] = (uint8_t)type;
		f->pblk[fb + i] = pblk + i;
	}
	if (pblk + n > f->next_alloc)
		f->next_alloc = pblk + n;
	f->seq++;
}

static void pattern(void *buf, size_t len, unsigned int seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 8)) | 1);
}

static void disk_fill(struct ffs *f, uint64_t pblk, uint64_t n,
		      unsigned int seed)
{
	size_t len = (size_t)(n << f->blkbits);
	void *buf = malloc(len);

	assert_non_null(buf);
	pattern(buf, len, seed);
	assert_int_equal(cache_bdev_pwrite(f->bdev, buf, len,
					   pblk << f->blkbits), 0);
	free(buf);
	f->writes = 0;
	f->write_bytes = 0;
}

static void disk_read(struct ffs *f, uint64_t addr, void *buf, size_t len)
{
	int reads = f->reads;
	uint64_t rb = f->read_bytes;

	assert_int_equal(cache_bdev_pread(f->bdev, buf, len, addr), 0);
	f->reads = reads;
	f->read_bytes = rb;
}

static bool all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static uint64_t folio_dirty(struct ffs *f, uint64_t index)
{
	struct cache_folio *folio;
	uint64_t dirty;

	assert_int_equal(cache_folio_get(f->file.mapping, index, CACHE_FGP_LOCK,
					 &folio), 0);
	dirty = folio->dirty;
	cache_folio_unlock(folio);
	cache_folio_put(folio);
	return dirty;
}

static ssize_t rd(struct ffs *f, uint64_t pos, void *buf, size_t len,
		  uint64_t isize)
{
	return iomap_file_buffered_read(&f->file, pos, buf, len, isize,
					&fk_ops);
}

static ssize_t wr(struct ffs *f, uint64_t pos, const void *buf, size_t len,
		  uint64_t isize)
{
	return iomap_file_buffered_write(&f->file, pos, buf, len, isize,
					 &fk_ops, &fk_wops);
}

/* ------------------------------------------------------------------------ */
/* iomap_iter contract, with scripted begin results.                         */
/* ------------------------------------------------------------------------ */

struct script {
	struct iomap maps[8];
	int rets[8];
	int nr, next;
	int begin_calls, end_calls;
	uint64_t end_pos[8], end_len[8];
	ssize_t end_written[8];
	int end_ret;
};

static struct script *cur_script;

static int sc_begin(struct iomap_file *file, uint64_t pos, uint64_t length,
		    unsigned int flags, struct iomap *m)
{
	struct script *s = cur_script;

	(void)file;
	(void)pos;
	(void)length;
	(void)flags;
	s->begin_calls++;
	assert_true(s->next < s->nr);
	*m = s->maps[s->next];
	return s->rets[s->next++];
}

static int sc_end(struct iomap_file *file, uint64_t pos, uint64_t length,
		  ssize_t written, unsigned int flags, struct iomap *m)
{
	struct script *s = cur_script;

	(void)file;
	(void)flags;
	(void)m;
	if (s->end_calls < 8) {
		s->end_pos[s->end_calls] = pos;
		s->end_len[s->end_calls] = length;
		s->end_written[s->end_calls] = written;
	}
	s->end_calls++;
	return s->end_ret;
}

static const struct iomap_ops sc_ops = {
	.iomap_begin = sc_begin,
	.iomap_end = sc_end,
};

static struct iomap mk(uint64_t off, uint64_t len, unsigned int type,
		       uint64_t addr)
{
	return (struct iomap){
		.offset = off, .length = len, .type = (uint16_t)type,
		.addr = addr,
	};
}

static void test_iter_trim_and_advance(void **state)
{
	struct script s = { .nr = 3 };
	struct iomap_iter it = { .pos = 5000, .len = 10000 };
	int ret;

	(void)state;
	cur_script = &s;
	/* Starts before pos, ends inside the range. */
	s.maps[0] = mk(4096, 8192, IOMAP_MAPPED, 1 << 20);
	/* Starts before the new pos, extends far past the end. */
	s.maps[1] = mk(8192, 1 << 20, IOMAP_UNWRITTEN, 2 << 20);
	s.maps[2] = mk(12388, 1 << 20, IOMAP_HOLE, IOMAP_NULL_ADDR);

	ret = iomap_iter(&it, &sc_ops);
	assert_int_equal(ret, 1);
	assert_int_equal(it.iomap.offset, 5000);
	assert_int_equal(it.iomap.length, 12288 - 5000);
	assert_int_equal(it.iomap.addr, (1 << 20) + 904);
	it.processed = (int64_t)it.iomap.length;

	ret = iomap_iter(&it, &sc_ops);
	assert_int_equal(ret, 1);
	assert_int_equal(s.end_calls, 1);
	assert_int_equal(s.end_pos[0], 5000);
	assert_int_equal(s.end_written[0], 12288 - 5000);
	assert_int_equal(it.pos, 12288);
	assert_int_equal(it.iomap.offset, 12288);
	assert_int_equal(it.iomap.length, 15000 - 12288);
	assert_int_equal(it.iomap.addr, (2 << 20) + 4096);
	it.processed = 100;	/* partial progress: end sees it */

	ret = iomap_iter(&it, &sc_ops);
	assert_int_equal(s.end_calls, 2);
	assert_int_equal(s.end_written[1], 100);
	assert_int_equal(s.end_len[1], 15000 - 12288);
	assert_int_equal(ret, 1);
	assert_int_equal(it.pos, 12388);
	assert_int_equal(it.len, 15000 - 12388);
	assert_int_equal(it.iomap.length, 15000 - 12388);
	it.processed = (int64_t)it.iomap.length;
	assert_int_equal(iomap_iter(&it, &sc_ops), 0);
	assert_int_equal(s.begin_calls, 3);
	assert_int_equal(s.end_calls, 3);
}

static void test_iter_done_and_zero(void **state)
{
	struct script s = { .nr = 1 };
	struct iomap_iter it = { .pos = 0, .len = 4096 };

	(void)state;
	cur_script = &s;
	s.maps[0] = mk(0, 1 << 20, IOMAP_HOLE, IOMAP_NULL_ADDR);
	assert_int_equal(iomap_iter(&it, &sc_ops), 1);
	assert_int_equal(it.iomap.length, 4096);
	it.processed = 4096;
	assert_int_equal(iomap_iter(&it, &sc_ops), 0);
	assert_int_equal(s.end_calls, 1);
	assert_int_equal(s.begin_calls, 1);
	assert_int_equal(it.pos, 4096);

	/* processed == 0 without STALE: done after end. */
	s = (struct script){ .nr = 1 };
	s.maps[0] = mk(0, 4096, IOMAP_HOLE, IOMAP_NULL_ADDR);
	it = (struct iomap_iter){ .pos = 0, .len = 4096 };
	assert_int_equal(iomap_iter(&it, &sc_ops), 1);
	it.processed = 0;
	assert_int_equal(iomap_iter(&it, &sc_ops), 0);
	assert_int_equal(s.end_calls, 1);

	/* Zero length request: no begin at all. */
	s = (struct script){ .nr = 0 };
	it = (struct iomap_iter){ .pos = 0, .len = 0 };
	assert_int_equal(iomap_iter(&it, &sc_ops), 0);
	assert_int_equal(s.begin_calls, 0);
}

static void test_iter_errors(void **state)
{
	struct script s;
	struct iomap_iter it;

	(void)state;
	cur_script = &s;

	/* begin error propagates, no end. */
	s = (struct script){ .nr = 1, .rets = { -ENOSPC } };
	it = (struct iomap_iter){ .pos = 0, .len = 4096 };
	assert_int_equal(iomap_iter(&it, &sc_ops), -ENOSPC);
	assert_int_equal(s.end_calls, 0);

	/* zero length mapping */
	s = (struct script){ .nr = 1 };
	s.maps[0] = mk(0, 0, IOMAP_MAPPED, 0);
	it = (struct iomap_iter){ .pos = 0, .len = 4096 };
	assert_int_equal(iomap_iter(&it, &sc_ops), -EIO);

	/* mapping that does not cover pos */
	s = (struct script){ .nr = 1 };
	s.maps[0] = mk(8192, 4096, IOMAP_MAPPED, 0);
	it = (struct iomap_iter){ .pos = 4096, .len = 4096 };
	assert_int_equal(iomap_iter(&it, &sc_ops), -EIO);
	s = (struct script){ .nr = 1 };
	s.maps[0] = mk(0, 4096, IOMAP_MAPPED, 0);
	it = (struct iomap_iter){ .pos = 4096, .len = 4096 };
	assert_int_equal(iomap_iter(&it, &sc_ops), -EIO);

	/* a write never gets a hole */
	s = (struct script){ .nr = 1 };
	s.maps[0] = mk(0, 4096, IOMAP_HOLE, IOMAP_NULL_ADDR);
	it = (struct iomap_iter){ .pos = 0, .len = 4096, .flags = IOMAP_WRITE };
	assert_int_equal(iomap_iter(&it, &sc_ops), -EIO);
	assert_int_equal(s.end_calls, 1);	/* policy may release */
	assert_int_equal(s.end_written[0], 0);

	/* MAPPED without an address */
	s = (struct script){ .nr = 1 };
	s.maps[0] = mk(0, 4096, IOMAP_MAPPED, IOMAP_NULL_ADDR);
	it = (struct iomap_iter){ .pos = 0, .len = 4096 };
	assert_int_equal(iomap_iter(&it, &sc_ops), -EIO);

	/* processed < 0 stops; end called with 0 written */
	s = (struct script){ .nr = 2 };
	s.maps[0] = mk(0, 8192, IOMAP_MAPPED, 0);
	it = (struct iomap_iter){ .pos = 0, .len = 8192 };
	assert_int_equal(iomap_iter(&it, &sc_ops), 1);
	it.processed = -EINTR;
	assert_int_equal(iomap_iter(&it, &sc_ops), -EINTR);
	assert_int_equal(s.end_calls, 1);
	assert_int_equal(s.end_written[0], 0);
	assert_int_equal(s.begin_calls, 1);
	assert_int_equal(it.pos, 0);

	/* end error after no progress stops the iteration */
	s = (struct script){ .nr = 2, .end_ret = -EIO };
	s.maps[0] = mk(0, 4096, IOMAP_MAPPED, 0);
	s.maps[1] = mk(4096, 4096, IOMAP_MAPPED, 0);
	it = (struct iomap_iter){ .pos = 0, .len = 8192 };
	assert_int_equal(iomap_iter(&it, &sc_ops), 1);
	it.processed = 4096;
	assert_int_equal(iomap_iter(&it, &sc_ops), -EIO);
	assert_int_equal(it.pos, 4096);
	assert_int_equal(s.begin_calls, 1);
}

static void test_iter_stale_remaps(void **state)
{
	struct script s = { .nr = 2 };
	struct iomap_iter it = { .pos = 0, .len = 4096 };

	(void)state;
	cur_script = &s;
	s.maps[0] = mk(0, 4096, IOMAP_MAPPED, 0);
	s.maps[1] = mk(0, 4096, IOMAP_MAPPED, 8192);
	assert_int_equal(iomap_iter(&it, &sc_ops), 1);
	it.iomap.flags |= IOMAP_F_STALE;
	it.processed = 0;
	assert_int_equal(iomap_iter(&it, &sc_ops), 1);
	assert_int_equal(s.begin_calls, 2);
	assert_int_equal(s.end_calls, 1);
	assert_int_equal(it.pos, 0);
	assert_int_equal(it.iomap.addr, 8192);
	assert_int_equal(it.iomap.flags & IOMAP_F_STALE, 0);
}

/* ------------------------------------------------------------------------ */
/* Buffered read.                                                           */
/* ------------------------------------------------------------------------ */

static void test_read_types(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t buf[16384], exp[4096];
	uint64_t isize = 8 * 1024 + 300;

	(void)state;
	/* blocks 0-1 mapped, 2-3 hole, 4-5 unwritten, 6-8 mapped */
	ffs_set(f, 0, 2, F_MAPPED, 100);
	ffs_set(f, 4, 2, F_UNWRITTEN, 200);
	ffs_set(f, 6, 3, F_MAPPED, 300);
	disk_fill(f, 100, 2, 1);
	disk_fill(f, 200, 2, 2);	/* stale data: must read as zeros */
	disk_fill(f, 300, 3, 3);	/* block 8 has junk past EOF */

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(rd(f, 0, buf, sizeof(buf), isize), isize);
	pattern(exp, 2048, 1);
	assert_memory_equal(buf, exp, 2048);
	assert_true(all_zero(buf + 2048, 4096));
	pattern(exp, 3072, 3);
	assert_memory_equal(buf + 6144, exp, isize - 6144);
	/* bytes past isize untouched in the user buffer */
	assert_int_equal(buf[isize], 0xee);
	/* only the mapped blocks came from the device */
	assert_int_equal(f->read_bytes, 5 * 1024);

	/* The folio holds zeros past EOF in the last block. */
	{
		struct cache_folio *folio;

		assert_int_equal(cache_folio_get(f->file.mapping, 2, 0, &folio), 0);
		cache_folio_lock(folio);
		assert_true(all_zero((char *)folio->data + 300, 4096 - 300));
		assert_int_equal(folio->uptodate, 0xf);
		cache_folio_unlock(folio);
		cache_folio_put(folio);
	}
	/* At and past EOF: 0 bytes. */
	assert_int_equal(rd(f, isize, buf, 10, isize), 0);
	assert_int_equal(rd(f, isize + 5000, buf, 10, isize), 0);
	/* Short at EOF. */
	assert_int_equal(rd(f, isize - 10, buf, 100, isize), 10);
	ffs_free(f);
}

static void test_read_hit_skips_begin(void **state)
{
	struct ffs *f = ffs_new(12, 16384);
	uint8_t buf[8192], exp[8192];

	(void)state;
	ffs_set(f, 0, 64, F_MAPPED, 1000);
	disk_fill(f, 1000, 64, 9);
	pattern(exp, sizeof(exp), 9);
	assert_int_equal(rd(f, 0, buf, 8192, 64 * 4096), 8192);
	assert_memory_equal(buf, exp, 8192);
	assert_true(f->begin_calls > 0);
	ffs_reset_counters(f);
	assert_int_equal(rd(f, 0, buf, 8192, 64 * 4096), 8192);
	assert_int_equal(rd(f, 1000, buf, 5000, 64 * 4096), 5000);
	assert_memory_equal(buf, exp + 1000, 5000);
	assert_int_equal(f->begin_calls, 0);
	assert_int_equal(f->reads, 0);
	ffs_free(f);
}

static void test_read_readahead(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	size_t total = 2u << 20;
	uint8_t *buf = malloc(total), *exp = malloc(total);
	uint64_t isize = total;
	int bios_first;

	(void)state;
	ffs_set(f, 0, total >> 12, F_MAPPED, 2000);
	disk_fill(f, 2000, total >> 12, 4);
	pattern(exp, total, 4);

	/* A 4 KiB miss reads the 128 KiB window: one mapping, 32 folios. */
	assert_int_equal(rd(f, 0, buf, 4096, isize), 4096);
	assert_int_equal(f->begin_calls, 1);
	assert_int_equal(f->read_bytes, 128 * 1024);
	bios_first = f->reads;
	assert_int_equal(bios_first, 32);	/* one per 4 KiB folio */
	assert_int_equal(cache_mapping_nr_folios(f->file.mapping), 32);

	/* Sequential reads: the window grows to 1 MiB. */
	ffs_reset_counters(f);
	for (uint64_t p = 4096; p < total; p += 4096)
		assert_int_equal(rd(f, p, buf + p, 4096, isize), 4096);
	memcpy(buf, exp, 4096);
	assert_memory_equal(buf, exp, total);
	assert_int_equal(f->read_bytes, total - 128 * 1024);
	/* 128K + 256K + 512K + 1M: the rest needs 3 misses at most. */
	assert_true(f->begin_calls <= 3);

	/* A random read (nothing cached before it) reads just its folio... */
	ffs_drop_cache(f);
	ffs_reset_counters(f);
	assert_int_equal(rd(f, 1 << 20, buf, 4096, isize), 4096);
	assert_int_equal(f->read_bytes, 4096);
	assert_int_equal(rd(f, (1 << 20) + 65536, buf, 8192, isize), 8192);
	assert_int_equal(f->read_bytes, 4096 + 8192);
	/* ... and the next one in sequence starts readahead: 128 KiB. */
	ffs_reset_counters(f);
	assert_int_equal(rd(f, (1 << 20) + 4096, buf, 4096, isize), 4096);
	/* folios 257..288, of which 272 and 273 were cached */
	assert_int_equal(f->read_bytes, 128 * 1024 - 8192);
	assert_memory_equal(buf, exp + (1 << 20) + 4096, 4096);
	/* Readahead stops at EOF. */
	ffs_drop_cache(f);
	ffs_reset_counters(f);
	assert_int_equal(rd(f, total - 12288, buf, 4096, isize), 4096);
	assert_int_equal(rd(f, total - 8192, buf, 4096, isize), 4096);
	assert_int_equal(f->read_bytes, 4096 + 8192);
	free(buf);
	free(exp);
	ffs_free(f);
}

static void test_read_random_fills_needed_blocks(void **state)
{
	struct ffs *f = ffs_new(10, 16384);	/* 16 blocks per folio */
	uint8_t buf[4096], exp[65536];
	struct cache_folio *folio;

	(void)state;
	ffs_set(f, 0, 64, F_MAPPED, 500);
	disk_fill(f, 500, 64, 8);
	pattern(exp, sizeof(exp), 8);
	/* A random read: only the two blocks it touches. */
	assert_int_equal(rd(f, 20000, buf, 1500, 65536), 1500);
	assert_memory_equal(buf, exp + 20000, 1500);
	assert_int_equal(f->read_bytes, 2048);
	assert_int_equal(f->reads, 1);
	assert_int_equal(cache_folio_get(f->file.mapping, 1, CACHE_FGP_LOCK,
					 &folio), 0);
	assert_int_equal(folio->uptodate, 0x18);	/* blocks 3 and 4 */
	cache_folio_unlock(folio);
	cache_folio_put(folio);
	/* Another block of the same folio is a miss that fills it too. */
	ffs_reset_counters(f);
	assert_int_equal(rd(f, 16384 + 10 * 1024, buf, 100, 65536), 100);
	assert_memory_equal(buf, exp + 16384 + 10 * 1024, 100);
	assert_int_equal(f->read_bytes, 1024);
	ffs_free(f);
}

static void test_read_coalesces_blocks(void **state)
{
	struct ffs *f = ffs_new(10, 16384);	/* 16 blocks per folio */
	uint8_t buf[16384];

	(void)state;
	/* Two disk extents inside one folio. */
	ffs_set(f, 0, 8, F_MAPPED, 500);
	ffs_set(f, 8, 8, F_MAPPED, 700);
	disk_fill(f, 500, 8, 5);
	disk_fill(f, 700, 8, 6);
	assert_int_equal(rd(f, 0, buf, 16384, 16384), 16384);
	assert_int_equal(f->reads, 2);
	ffs_free(f);
}

static void test_readahead_keeps_dirty_blocks(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t src[1024], buf[16384], exp[16384];

	(void)state;
	ffs_set(f, 0, 16, F_MAPPED, 100);
	disk_fill(f, 100, 16, 31);
	pattern(exp, sizeof(exp), 31);
	/* Dirty block 14 (folio 3, block 2); its neighbours are not cached. */
	memset(src, 'd', sizeof(src));
	assert_int_equal(wr(f, 14 * 1024, src, 1024, 16384), 1024);
	memcpy(exp + 14 * 1024, src, 1024);
	/* A miss at 0 reads ahead over folio 3 without touching block 2. */
	assert_int_equal(rd(f, 0, buf, 1024, 16384), 1024);
	assert_int_equal(f->read_bytes, 15 * 1024);
	ffs_reset_counters(f);
	assert_int_equal(rd(f, 0, buf, 16384, 16384), 16384);
	assert_int_equal(f->reads, 0);
	assert_memory_equal(buf, exp, 16384);
	assert_int_equal(folio_dirty(f, 3), 0x4);
	ffs_free(f);
}

static void test_read_inline(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	char data[60] = "inline file data, short enough for the inode body";
	uint8_t buf[100];

	(void)state;
	f->inline_data = data;
	f->inline_len = 50;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(rd(f, 0, buf, 100, 50), 50);
	assert_memory_equal(buf, data, 50);
	assert_int_equal(rd(f, 10, buf, 100, 50), 40);
	assert_memory_equal(buf, data + 10, 40);
	assert_int_equal(f->reads, 0);
	/* Zeroing inline data is the file system's job. */
	assert_int_equal(iomap_zero_range(&f->file, 10, 5, 50, &fk_ops,
					  &fk_wops), -EOPNOTSUPP);
	{
		struct cache_folio *folio;

		assert_int_equal(cache_folio_get(f->file.mapping, 0, 0, &folio), 0);
		cache_folio_lock(folio);
		assert_true(all_zero((char *)folio->data + 50, 4096 - 50));
		cache_folio_unlock(folio);
		cache_folio_put(folio);
	}
	ffs_free(f);
}

static void test_read_io_error(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	uint8_t buf[8192];

	(void)state;
	ffs_set(f, 0, 2, F_MAPPED, 100);
	f->fail_read = -EIO;
	assert_int_equal(rd(f, 0, buf, 8192, 8192), -EIO);
	f->fail_read = 0;
	assert_int_equal(rd(f, 0, buf, 8192, 8192), 8192);
	ffs_free(f);
}

/* ------------------------------------------------------------------------ */
/* Buffered write.                                                          */
/* ------------------------------------------------------------------------ */

static void check_file(struct ffs *f, uint64_t pos, const uint8_t *exp,
		       size_t len, uint64_t isize)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	assert_int_equal(rd(f, pos, buf, len, isize), len);
	assert_memory_equal(buf, exp, len);
	free(buf);
}

static void test_write_rmw_reads_mapped(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t exp[4096], src[10];

	(void)state;
	ffs_set(f, 0, 4, F_MAPPED, 100);
	disk_fill(f, 100, 4, 7);
	pattern(exp, 4096, 7);
	memset(src, 'x', sizeof(src));
	/* 10 bytes in the middle of block 1: that block is read first. */
	assert_int_equal(wr(f, 1500, src, 10, 4096), 10);
	assert_int_equal(f->reads, 1);
	assert_int_equal(f->read_bytes, 1024);
	memcpy(exp + 1500, src, 10);
	/* Block 1 dirty and uptodate; others untouched. */
	{
		struct cache_folio *folio;

		assert_int_equal(cache_folio_get(f->file.mapping, 0, 0, &folio), 0);
		cache_folio_lock(folio);
		assert_int_equal(folio->dirty, 0x2);
		assert_int_equal(folio->uptodate, 0x2);
		cache_folio_unlock(folio);
		cache_folio_put(folio);
	}
	check_file(f, 0, exp, 4096, 4096);
	/* A write spanning two partial blocks reads both in one batch. */
	ffs_drop_cache(f);
	ffs_reset_counters(f);
	assert_int_equal(wr(f, 2000, src, 10, 4096), 10);
	assert_int_equal(f->reads, 1);	/* 2000..2010: block 1 only */
	assert_int_equal(f->read_bytes, 1024);
	ffs_drop_cache(f);
	ffs_reset_counters(f);
	{
		uint8_t big[2048];

		memset(big, 'y', sizeof(big));
		assert_int_equal(wr(f, 1000, big, 2048, 4096), 2048);
		/* [1000, 3048): partial blocks 0 and 2 read, block 1 not. */
		assert_int_equal(f->read_bytes, 2048);
		assert_int_equal(f->reads, 2);
	}
	ffs_free(f);
}

static void test_write_zeroes_instead_of_reading(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t exp[4096], src[100];

	(void)state;
	memset(src, 'z', sizeof(src));

	/* Unwritten blocks with stale disk data: zeroed, not read. */
	ffs_set(f, 0, 4, F_UNWRITTEN, 100);
	disk_fill(f, 100, 4, 1);
	assert_int_equal(wr(f, 100, src, 100, 4096), 100);
	assert_int_equal(f->reads, 0);
	memset(exp, 0, sizeof(exp));
	memcpy(exp + 100, src, 100);
	check_file(f, 0, exp, 4096, 4096);
	assert_int_equal(f->reads, 0);

	/* A hole: the policy allocates (NEW): zeroed. */
	ffs_drop_cache(f);
	ffs_reset_counters(f);
	assert_int_equal(wr(f, 8192 + 100, src, 100, 16384), 100);
	assert_int_equal(f->reads, 0);
	check_file(f, 8192, exp, 1024, 16384);

	/* MAPPED past EOF: zeroed, the disk junk is not read. */
	ffs_drop_cache(f);
	ffs_reset_counters(f);
	ffs_set(f, 20, 2, F_MAPPED, 400);
	disk_fill(f, 400, 2, 2);
	assert_int_equal(wr(f, 20 * 1024 + 100, src, 100, 20 * 1024), 100);
	assert_int_equal(f->reads, 0);
	check_file(f, 20 * 1024, exp, 200, 20 * 1024 + 200);

	/* MAPPED straddling EOF: read, bytes past EOF zeroed. */
	ffs_drop_cache(f);
	ffs_reset_counters(f);
	{
		uint8_t e2[1024];

		pattern(e2, 1024, 2);
		memset(e2 + 50, 0, 1024 - 50);
		memcpy(e2 + 500, src, 100);
		assert_int_equal(wr(f, 20 * 1024 + 500, src, 100,
				    20 * 1024 + 50), 100);
		assert_int_equal(f->reads, 1);
		check_file(f, 20 * 1024, e2, 600, 20 * 1024 + 600);
	}

	/* DELALLOC: zeroed. */
	ffs_drop_cache(f);
	ffs_reset_counters(f);
	f->delalloc = true;
	assert_int_equal(wr(f, 40 * 1024 + 10, src, 10, 41 * 1024), 10);
	assert_int_equal(f->type[40], F_DELALLOC);
	assert_int_equal(f->reads, 0);
	ffs_free(f);
}

static void test_write_spanning_folios_and_mappings(void **state)
{
	struct ffs *f = ffs_new(12, 16384);
	size_t len = 1u << 20;
	uint8_t *src = malloc(len + 8192);

	(void)state;
	pattern(src, len + 8192, 11);
	/* One mapping covers a 1 MiB write: one begin. */
	assert_int_equal(wr(f, 0, src, len, 0), len);
	assert_int_equal(f->begin_calls, 1);
	assert_int_equal(f->end_calls, 1);
	assert_int_equal(f->last_written, len);
	check_file(f, 0, src, len, len);

	/* Mappings of 3 blocks: an unaligned write over 10 folios. */
	ffs_reset_counters(f);
	f->max_map = 3;
	assert_int_equal(wr(f, len + 1000, src, 40000, len), 40000);
	/* blocks 256..266 → ceil(11 / 3) = 4 mappings */
	assert_int_equal(f->begin_calls, 4);
	check_file(f, len + 1000, src, 40000, len + 41000);
	free(src);
	ffs_free(f);
}

static void test_write_stale_remaps(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	uint8_t src[10000];

	(void)state;
	pattern(src, sizeof(src), 3);
	f->stale_countdown = 1;
	assert_int_equal(wr(f, 0, src, sizeof(src), 0), sizeof(src));
	assert_int_equal(f->begin_calls, 2);	/* remapped once */
	assert_int_equal(f->end_calls, 2);
	check_file(f, 0, src, sizeof(src), sizeof(src));

	/*
	 * The map changes while the second folio is being written: the first
	 * folio counts, the rest is remapped.
	 */
	ffs_reset_counters(f);
	f->stale_after = 2;
	assert_int_equal(wr(f, 100, src, 5000, 10000), 5000);
	assert_int_equal(f->begin_calls, 2);
	assert_int_equal(f->end_calls, 2);
	assert_int_equal(f->valid_calls, 3);
	check_file(f, 100, src, 5000, 10000);
	ffs_free(f);
}

static void test_write_short_enospc(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	uint8_t src[40000];

	(void)state;
	pattern(src, sizeof(src), 5);
	f->max_map = 4;
	f->enospc_at = 6 * 4096;
	/* mappings [0,16K) [16K,24K), then ENOSPC */
	assert_int_equal(wr(f, 1000, src, sizeof(src), 0), 6 * 4096 - 1000);
	assert_int_equal(f->end_calls, 2);
	assert_int_equal(f->last_written, 2 * 4096);
	check_file(f, 1000, src, 6 * 4096 - 1000, 6 * 4096);
	/* Nothing at all: the error. */
	assert_int_equal(wr(f, 6 * 4096, src, 10, 6 * 4096), -ENOSPC);
	ffs_free(f);
}

/* ------------------------------------------------------------------------ */
/* Writeback.                                                               */
/* ------------------------------------------------------------------------ */

static int wb(struct ffs *f, uint64_t isize)
{
	return iomap_writeback_range(&f->file, 0, UINT64_MAX, isize,
				     &fk_wbops);
}

static void check_disk(struct ffs *f, uint64_t fb, const uint8_t *exp,
		       uint64_t nblocks)
{
	uint8_t *buf = malloc(f->bsize);

	for (uint64_t i = 0; i < nblocks; i++) {
		assert_true(f->type[fb + i] == F_MAPPED);
		disk_read(f, f->pblk[fb + i] << f->blkbits, buf, f->bsize);
		assert_memory_equal(buf, exp + (i << f->blkbits), f->bsize);
	}
	free(buf);
}

static void test_writeback_contiguous(void **state)
{
	struct ffs *f = ffs_new(12, 16384);
	uint8_t src[65536];

	(void)state;
	pattern(src, sizeof(src), 8);
	f->delalloc = true;
	assert_int_equal(wr(f, 0, src, sizeof(src), 0), sizeof(src));
	assert_true(cache_mapping_has_dirty(f->file.mapping));
	ffs_reset_counters(f);
	assert_int_equal(wb(f, sizeof(src)), 0);
	assert_int_equal(f->map_calls, 1);	/* whole delalloc extent */
	assert_int_equal(f->writes, 4);		/* one bio per folio */
	assert_int_equal(f->write_bytes, sizeof(src));
	assert_int_equal(f->nr_end_io, 1);
	assert_int_equal(f->end_io[0].pos, 0);
	assert_int_equal(f->end_io[0].len, sizeof(src));
	assert_int_equal(f->end_io[0].type, IOMAP_UNWRITTEN);
	assert_int_equal(f->end_io[0].error, 0);
	assert_false(cache_mapping_has_dirty(f->file.mapping));
	check_disk(f, 0, src, 16);
	/* Nothing dirty: nothing to do. */
	ffs_reset_counters(f);
	assert_int_equal(wb(f, sizeof(src)), 0);
	assert_int_equal(f->writes + f->nr_end_io + f->map_calls, 0);
	/* Data survives a cache drop. */
	ffs_drop_cache(f);
	check_file(f, 0, src, sizeof(src), sizeof(src));
	ffs_free(f);
}

static void test_writeback_fragmented_and_types(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t src[8192];

	(void)state;
	pattern(src, sizeof(src), 12);
	f->delalloc = true;
	f->fragment = true;
	assert_int_equal(wr(f, 0, src, sizeof(src), 0), sizeof(src));
	ffs_reset_counters(f);
	assert_int_equal(wb(f, sizeof(src)), 0);
	/* Every block on its own: 8 bios; file-contiguous ioends merge. */
	assert_int_equal(f->writes, 8);
	assert_int_equal(f->map_calls, 8);
	assert_int_equal(f->nr_end_io, 1);
	assert_int_equal(f->end_io[0].len, 8192);
	check_disk(f, 0, src, 8);

	/* Mixed: blocks 0-3 now MAPPED; 4-7 rewritten over new unwritten. */
	for (int b = 4; b < 8; b++)
		f->type[b] = F_DELALLOC;
	f->fragment = false;
	{
		struct cache_folio *folio;

		for (uint64_t i = 0; i < 2; i++) {
			assert_int_equal(cache_folio_get(f->file.mapping, i,
							 CACHE_FGP_LOCK, &folio), 0);
			cache_folio_mark_dirty(folio, 0, 4);
			cache_folio_unlock(folio);
			cache_folio_put(folio);
		}
	}
	ffs_reset_counters(f);
	assert_int_equal(wb(f, sizeof(src)), 0);
	/* Blocks 0-3: 4 separate bios (fragmented); 4-7: one bio. */
	assert_int_equal(f->writes, 5);
	assert_int_equal(f->nr_end_io, 2);
	assert_int_equal(f->end_io[0].type, IOMAP_MAPPED);
	assert_int_equal(f->end_io[0].len, 4096);
	assert_int_equal(f->end_io[1].type, IOMAP_UNWRITTEN);
	assert_int_equal(f->end_io[1].pos, 4096);
	check_disk(f, 0, src, 8);

	/* A clean gap in the file: two ioends, two end_io calls. */
	{
		struct cache_folio *folio;

		for (uint64_t i = 0; i < 2; i++) {
			assert_int_equal(cache_folio_get(f->file.mapping, i,
							 CACHE_FGP_LOCK, &folio), 0);
			cache_folio_mark_dirty(folio, i ? 2 : 0, 2);
			cache_folio_unlock(folio);
			cache_folio_put(folio);
		}
	}
	ffs_reset_counters(f);
	assert_int_equal(wb(f, sizeof(src)), 0);
	assert_int_equal(f->nr_end_io, 2);
	assert_int_equal(f->end_io[0].pos, 0);
	assert_int_equal(f->end_io[0].len, 2048);
	assert_int_equal(f->end_io[1].pos, 6144);
	assert_int_equal(f->end_io[1].len, 2048);
	ffs_free(f);
}

static void test_writeback_contiguous_across_folios_one_ioend(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t src[4096 * 8];

	(void)state;
	/* Pre-mapped contiguous blocks: bios per folio, one ioend. */
	ffs_set(f, 0, 32, F_MAPPED, 100);
	pattern(src, sizeof(src), 13);
	assert_int_equal(wr(f, 0, src, sizeof(src), sizeof(src)), sizeof(src));
	ffs_reset_counters(f);
	assert_int_equal(wb(f, sizeof(src)), 0);
	assert_int_equal(f->writes, 8);
	assert_int_equal(f->map_calls, 1);
	assert_int_equal(f->nr_end_io, 1);
	assert_int_equal(f->end_io[0].type, IOMAP_MAPPED);
	check_disk(f, 0, src, 32);
	ffs_free(f);
}

static void test_writeback_beyond_eof_skipped(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t src[8192];

	(void)state;
	pattern(src, sizeof(src), 14);
	f->delalloc = true;
	assert_int_equal(wr(f, 0, src, sizeof(src), 0), sizeof(src));
	ffs_reset_counters(f);
	/* Size 2500: blocks 0-2 written (block 2 holds the tail). */
	assert_int_equal(wb(f, 2500), 0);
	assert_int_equal(f->write_bytes, 3072);
	assert_int_equal(f->nr_end_io, 1);
	assert_int_equal(f->end_io[0].len, 3072);
	assert_int_equal(f->type[2], F_MAPPED);
	/* Blocks past the size stay dirty: a write may be extending the file. */
	assert_int_equal(folio_dirty(f, 0), 0x8);
	assert_int_equal(folio_dirty(f, 1), 0xf);
	/* ... and are written once the size covers them. */
	ffs_reset_counters(f);
	assert_int_equal(wb(f, 8192), 0);
	assert_int_equal(f->write_bytes, 5120);
	assert_false(cache_mapping_has_dirty(f->file.mapping));
	check_disk(f, 0, src, 8);

	/* Beyond a truncate they are discarded by the cache, never written. */
	assert_int_equal(wr(f, 4096, src, 4096, 8192), 4096);
	cache_mapping_remove_range(f->file.mapping, 4096, UINT64_MAX);
	ffs_reset_counters(f);
	assert_int_equal(wb(f, 4096), 0);
	assert_int_equal(f->writes, 0);
	assert_false(cache_mapping_has_dirty(f->file.mapping));
	ffs_free(f);
}

static void test_writeback_io_error(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	uint8_t src[16384];
	struct cache_folio *folio;

	(void)state;
	pattern(src, sizeof(src), 15);
	f->delalloc = true;
	assert_int_equal(wr(f, 0, src, sizeof(src), 0), sizeof(src));
	ffs_reset_counters(f);
	f->fail_write = -EIO;
	assert_int_equal(wb(f, sizeof(src)), -EIO);
	assert_int_equal(f->nr_end_io, 1);
	assert_int_equal(f->end_io[0].error, -EIO);
	assert_int_equal(f->type[0], F_UNWRITTEN);	/* not converted */
	/* Cleaned, error recorded on each folio. */
	assert_false(cache_mapping_has_dirty(f->file.mapping));
	for (uint64_t i = 0; i < 4; i++) {
		assert_int_equal(cache_folio_get(f->file.mapping, i,
						 CACHE_FGP_LOCK, &folio), 0);
		assert_int_equal(folio->error, -EIO);
		assert_false(cache_folio_under_writeback(folio));
		cache_folio_unlock(folio);
		cache_folio_put(folio);
	}
	f->fail_write = 0;
	assert_int_equal(wb(f, sizeof(src)), 0);
	ffs_free(f);
}

static void test_writeback_map_error(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	uint8_t src[8192];
	struct cache_folio *folio;

	(void)state;
	pattern(src, sizeof(src), 16);
	f->delalloc = true;
	assert_int_equal(wr(f, 0, src, sizeof(src), 0), sizeof(src));
	ffs_reset_counters(f);
	f->map_fail = -ENOSPC;
	assert_int_equal(wb(f, sizeof(src)), -ENOSPC);
	assert_int_equal(f->writes, 0);
	assert_int_equal(f->nr_end_io, 0);
	assert_false(cache_mapping_has_dirty(f->file.mapping));
	assert_int_equal(cache_folio_get(f->file.mapping, 1, CACHE_FGP_LOCK,
					 &folio), 0);
	assert_int_equal(folio->error, -ENOSPC);
	cache_folio_unlock(folio);
	cache_folio_put(folio);
	ffs_free(f);
}

static void test_writeback_range_limits(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	uint8_t src[4096 * 8];

	(void)state;
	pattern(src, sizeof(src), 17);
	f->delalloc = true;
	assert_int_equal(wr(f, 0, src, sizeof(src), 0), sizeof(src));
	ffs_reset_counters(f);
	assert_int_equal(iomap_writeback_range(&f->file, 8192, 16384,
					       sizeof(src), &fk_wbops), 0);
	assert_int_equal(f->write_bytes, 8192);
	assert_int_equal(f->nr_end_io, 1);
	assert_int_equal(f->end_io[0].pos, 8192);
	assert_true(cache_mapping_has_dirty(f->file.mapping));
	ffs_free(f);
}

/*
 * Fail the Nth bio of a writeback, N = 1, 2, ... until the writeback runs
 * untouched: exactly the failed block's ioend reports the error, every
 * other block reaches the disk and is converted, nothing stays dirty.
 */
static void test_writeback_fault_loop(void **state)
{
	uint8_t src[8 * 4096], buf[4096];

	(void)state;
	pattern(src, sizeof(src), 40);
	for (int n = 1;; n++) {
		struct ffs *f = ffs_new(12, 4096);
		struct cache_folio *folio;
		int ret, failed = -1;

		f->delalloc = true;
		f->fragment = true;	/* one bio and one ioend per block */
		assert_int_equal(wr(f, 0, src, sizeof(src), 0), sizeof(src));
		ffs_reset_counters(f);
		f->fail_nth = n;
		f->nth_seen = 0;
		ret = wb(f, sizeof(src));
		assert_false(cache_mapping_has_dirty(f->file.mapping));
		for (int i = 0; i < f->nr_end_io; i++)
			if (f->end_io[i].error) {
				assert_int_equal(failed, -1);
				assert_int_equal(f->end_io[i].len, 4096);
				failed = (int)(f->end_io[i].pos >> 12);
			}
		if (n > 8) {
			/* The fault point is past the last bio: untouched. */
			assert_int_equal(ret, 0);
			assert_int_equal(failed, -1);
			assert_int_equal(f->nr_end_io, 1);
			ffs_free(f);
			break;
		}
		assert_int_equal(ret, -EIO);
		assert_int_equal(failed, n - 1);
		/* ioends around the failed one: merged on each side */
		assert_int_equal(f->nr_end_io, 1 + (n > 1) + (n < 8));
		for (int b = 0; b < 8; b++) {
			assert_int_equal(cache_folio_get(f->file.mapping, (uint64_t)b,
							 CACHE_FGP_LOCK, &folio), 0);
			assert_int_equal(folio->error, b == failed ? -EIO : 0);
			cache_folio_unlock(folio);
			cache_folio_put(folio);
			if (b == failed) {
				assert_int_equal(f->type[b], F_UNWRITTEN);
				continue;
			}
			assert_int_equal(f->type[b], F_MAPPED);
			disk_read(f, f->pblk[b] << 12, buf, 4096);
			assert_memory_equal(buf, src + b * 4096, 4096);
		}
		ffs_free(f);
	}
}

/*
 * A cold read of 8 blocks, each elsewhere on disk, with the device failing
 * every read of block N, for N = 0, 1, ... until none fails: a short read
 * up to block N (-EIO for N = 0), the rest readable once the fault is gone.
 */
static void test_read_fault_loop(void **state)
{
	uint8_t exp[8 * 4096], buf[8 * 4096];

	(void)state;
	pattern(exp, 4096, 41);
	for (uint64_t b = 1; b < 8; b++)
		memcpy(exp + b * 4096, exp, 4096);
	for (int n = 0;; n++) {
		struct ffs *f = ffs_new(12, 4096);
		ssize_t ret;

		for (uint64_t b = 0; b < 8; b++) {
			ffs_set(f, b, 1, F_MAPPED, 100 + 2 * b);
			disk_fill(f, 100 + 2 * b, 1, 41);
		}
		f->fail_read_addr = (100 + 2 * (uint64_t)n) << 12;
		ret = rd(f, 0, buf, sizeof(buf), sizeof(buf));
		if (n >= 8) {
			assert_int_equal(ret, sizeof(buf));
			assert_memory_equal(buf, exp, sizeof(buf));
			ffs_free(f);
			break;
		}
		if (n == 0) {
			assert_int_equal(ret, -EIO);
		} else {
			assert_int_equal(ret, n * 4096);
			assert_memory_equal(buf, exp, (size_t)ret);
		}
		/* The failed block is not uptodate: a later read gets it. */
		f->fail_read_addr = UINT64_MAX;
		assert_int_equal(rd(f, 0, buf, sizeof(buf), sizeof(buf)),
				 sizeof(buf));
		assert_memory_equal(buf, exp, sizeof(buf));
		ffs_free(f);
	}
}

/* ------------------------------------------------------------------------ */
/* Zeroing.                                                                 */
/* ------------------------------------------------------------------------ */

static void test_zero_range_mapped(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t exp[8192];

	(void)state;
	ffs_set(f, 0, 8, F_MAPPED, 100);
	disk_fill(f, 100, 8, 21);
	pattern(exp, sizeof(exp), 21);
	assert_int_equal(iomap_zero_range(&f->file, 1000, 3000, 8192, &fk_ops,
					  &fk_wops), 0);
	memset(exp + 1000, 0, 3000);
	/* Partial blocks 0 and 3 read from disk, 1-2 not. */
	assert_int_equal(f->read_bytes, 2048);
	check_file(f, 0, exp, 8192, 8192);
	ffs_reset_counters(f);
	assert_int_equal(wb(f, 8192), 0);
	assert_int_equal(f->write_bytes, 4096);
	ffs_drop_cache(f);
	check_file(f, 0, exp, 8192, 8192);

	/* truncate_page: zero to the end of the block only. */
	assert_int_equal(iomap_truncate_page(&f->file, 5000, 8192, &fk_ops,
					     &fk_wops), 0);
	memset(exp + 5000, 0, 5120 - 5000);
	check_file(f, 0, exp, 8192, 8192);
	ffs_reset_counters(f);
	assert_int_equal(iomap_truncate_page(&f->file, 6144, 8192, &fk_ops,
					     &fk_wops), 0);
	assert_int_equal(f->begin_calls, 0);	/* aligned: no-op */
	ffs_free(f);
}

static void test_zero_range_hole_unwritten(void **state)
{
	struct ffs *f = ffs_new(10, 4096);
	uint8_t src[4096], exp[4096];

	(void)state;
	/* Unwritten blocks with dirty data in the cache. */
	ffs_set(f, 0, 4, F_UNWRITTEN, 100);
	pattern(src, sizeof(src), 22);
	assert_int_equal(wr(f, 0, src, 4096, 4096), 4096);
	assert_int_equal(iomap_zero_range(&f->file, 1500, 1000, 4096, &fk_ops,
					  &fk_wops), 0);
	memcpy(exp, src, 4096);
	memset(exp + 1500, 0, 1000);
	check_file(f, 0, exp, 4096, 4096);

	/* A hole not in the cache: nothing is created. */
	ffs_reset_counters(f);
	assert_int_equal(iomap_zero_range(&f->file, 10000, 5000, 20000,
					  &fk_ops, &fk_wops), 0);
	assert_int_equal(cache_mapping_nr_folios(f->file.mapping), 1);
	assert_int_equal(f->reads, 0);
	/* zero range on DELALLOC zeroes through the cache */
	f->delalloc = true;
	assert_int_equal(wr(f, 8192, src, 2048, 4096), 2048);
	assert_int_equal(iomap_zero_range(&f->file, 8192 + 100, 100, 8192 + 2048,
					  &fk_ops, &fk_wops), 0);
	memcpy(exp, src, 2048);
	memset(exp + 100, 0, 100);
	check_file(f, 8192, exp, 2048, 8192 + 2048);
	ffs_free(f);
}

/* ------------------------------------------------------------------------ */
/* SEEK_DATA / SEEK_HOLE.                                                   */
/* ------------------------------------------------------------------------ */

static void test_seek(void **state)
{
	struct ffs *f = ffs_new(12, 4096);
	uint64_t isize = 20 * 4096;
	uint8_t src[4096];

	(void)state;
	/* 0-1 hole, 2-3 mapped, 4-7 hole, 8-11 unwritten, 12- hole */
	ffs_set(f, 2, 2, F_MAPPED, 100);
	ffs_set(f, 8, 4, F_UNWRITTEN, 200);
	assert_int_equal(iomap_seek_data(&f->file, 0, isize, &fk_ops), 8192);
	assert_int_equal(f->last_flags, IOMAP_REPORT);
	assert_int_equal(iomap_seek_data(&f->file, 9000, isize, &fk_ops), 9000);
	assert_int_equal(iomap_seek_hole(&f->file, 9000, isize, &fk_ops), 16384);
	assert_int_equal(iomap_seek_hole(&f->file, 0, isize, &fk_ops), 0);
	/* unwritten without cached data is a hole */
	assert_int_equal(iomap_seek_data(&f->file, 16384, isize, &fk_ops),
			 -ENXIO);
	assert_int_equal(iomap_seek_hole(&f->file, 32768, isize, &fk_ops),
			 32768);
	/* dirty data in the unwritten range at block 10 */
	pattern(src, sizeof(src), 1);
	assert_int_equal(wr(f, 10 * 4096 + 100, src, 50, isize), 50);
	assert_int_equal(iomap_seek_data(&f->file, 16384, isize, &fk_ops),
			 10 * 4096);
	assert_int_equal(iomap_seek_hole(&f->file, 10 * 4096, isize, &fk_ops),
			 11 * 4096);
	assert_int_equal(iomap_seek_data(&f->file, 10 * 4096 + 200, isize,
					 &fk_ops), 10 * 4096 + 200);
	/* at/after EOF */
	assert_int_equal(iomap_seek_data(&f->file, isize, isize, &fk_ops),
			 -ENXIO);
	assert_int_equal(iomap_seek_hole(&f->file, isize, isize, &fk_ops),
			 -ENXIO);
	/* the virtual hole at EOF */
	ffs_set(f, 12, 8, F_MAPPED, 300);
	assert_int_equal(iomap_seek_hole(&f->file, 12 * 4096, isize, &fk_ops),
			 isize);
	/* delalloc is data */
	f->delalloc = true;
	assert_int_equal(wr(f, 5 * 4096, src, 10, isize), 10);
	assert_int_equal(iomap_seek_data(&f->file, 4 * 4096, isize, &fk_ops),
			 5 * 4096);
	ffs_free(f);
}

/* ------------------------------------------------------------------------ */
/* Randomized read-after-write against a memory model.                      */
/* ------------------------------------------------------------------------ */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void ffs_truncate(struct ffs *f, uint64_t *isize, uint64_t nsize)
{
	uint64_t nb;

	if (nsize < *isize) {
		assert_int_equal(iomap_truncate_page(&f->file, nsize, *isize,
						     &fk_ops, &fk_wops), 0);
		nb = (nsize + f->bsize - 1) >> f->blkbits;
		cache_mapping_remove_range(f->file.mapping, nb << f->blkbits,
					   UINT64_MAX);
		for (uint64_t b = nb; b < NB; b++)
			f->type[b] = F_HOLE;
		f->seq++;
	}
	*isize = nsize;
}

static void test_random_model(void **state)
{
	const uint64_t max_size = 300 * 1024;
	uint8_t *model = calloc(1, max_size + 65536);
	uint8_t *buf = malloc(max_size + 65536);
	const char *env = getenv("UEXT4_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) :
			      (uint64_t)time(NULL) ^ (uint64_t)clock();
	uint64_t isize = 0;

	(void)state;
	printf("test_random_model: UEXT4_SEED=%" PRIu64 "\n", seed);
	fflush(stdout);
	for (int round = 0; round < 3; round++) {
		static const unsigned int geo[3][2] = {
			{ 10, 4096 }, { 12, 16384 }, { 11, 65536 },
		};
		struct ffs *f = ffs_new(geo[round][0], geo[round][1]);

		rnd_state = seed * 3 + (uint64_t)round + 1;
		memset(model, 0, max_size + 65536);
		isize = 0;
		f->delalloc = rnd() & 1;
		f->max_map = (rnd() & 1) ? 1 + (unsigned int)(rnd() % 7) : 0;
		f->fragment = rnd() & 1;
		for (int op = 0; op < 1500; op++) {
			unsigned int r = (unsigned int)(rnd() % 100);

			if (r < 40) {
				uint64_t pos = rnd() % max_size;
				size_t len = 1 + (size_t)(rnd() % 20000);

				if (rnd() % 4 == 0)
					pos &= ~(uint64_t)4095;
				if (pos + len > max_size)
					len = (size_t)(max_size - pos);
				for (size_t i = 0; i < len; i++)
					buf[i] = (uint8_t)rnd();
				assert_int_equal(wr(f, pos, buf, len, isize), len);
				memcpy(model + pos, buf, len);
				if (pos + len > isize)
					isize = pos + len;
			} else if (r < 70) {
				uint64_t pos = rnd() % (max_size + 100);
				size_t len = (size_t)(rnd() % 40000);
				size_t exp = pos >= isize ? 0 :
					     (len < isize - pos ? len :
							      (size_t)(isize - pos));

				assert_int_equal(rd(f, pos, buf, len, isize), exp);
				assert_memory_equal(buf, model + pos, exp);
			} else if (r < 80) {
				assert_int_equal(wb(f, isize), 0);
			} else if (r < 85) {
				assert_int_equal(wb(f, isize), 0);
				ffs_drop_cache(f);
			} else if (r < 92) {
				uint64_t nsize = rnd() % max_size;

				ffs_truncate(f, &isize, nsize);
				if (nsize < max_size)
					memset(model + nsize, 0,
					       max_size - nsize);
			} else if (r < 97 && isize) {
				uint64_t pos = rnd() % isize;
				uint64_t len = 1 + rnd() % 10000;

				if (pos + len > isize)
					len = isize - pos;
				assert_int_equal(iomap_zero_range(&f->file, pos,
								  len, isize,
								  &fk_ops,
								  &fk_wops), 0);
				memset(model + pos, 0, len);
			} else if (isize) {
				uint64_t pos = rnd() % isize;
				int64_t d = iomap_seek_data(&f->file, pos,
							    isize, &fk_ops);

				if (d == -ENXIO)
					d = (int64_t)isize;
				assert_true(d >= (int64_t)pos);
				assert_true(all_zero(model + pos,
						     (size_t)d - pos));
			}
		}
		/* Final: everything written back and read cold. */
		assert_int_equal(wb(f, isize), 0);
		ffs_drop_cache(f);
		assert_int_equal(rd(f, 0, buf, max_size, isize), isize);
		assert_memory_equal(buf, model, isize);
		ffs_free(f);
	}
	free(model);
	free(buf);
}

/* ------------------------------------------------------------------------ */
/* Concurrency: readers, a writer and writeback threads on one file.        */
/* ------------------------------------------------------------------------ */

#define CC_CHUNK 4096u
#define CC_CHUNKS 256u

struct cc_ctx {
	struct ffs *f;
	atomic_bool stop;
	atomic_int torn;
	atomic_int errors;
	uint64_t seed;
	uint8_t vals[CC_CHUNKS];	/* written by the writer only */
};

/*
 * The writer fills whole 4 KiB chunks with one byte value, under the inode
 * rwlock held exclusively, appending first; like extent_write() it raises
 * the size after the copy, while the writeback threads sample the size
 * without the rwlock — blocks found past a stale size must not be lost.
 */
static void *cc_writer(void *arg)
{
	struct cc_ctx *cc = arg;
	struct ffs *f = cc->f;
	uint8_t buf[CC_CHUNK];
	uint64_t st = cc->seed | 1;

	for (unsigned int i = 0; i < 2 * CC_CHUNKS; i++) {
		uint64_t c, pos, isize;
		ssize_t n;

		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		/* Appends first (the size grows under writeback), then rewrites. */
		c = i < CC_CHUNKS ? i : st % CC_CHUNKS;
		pos = c * CC_CHUNK;
		cc->vals[c] = (uint8_t)((i % 255) + 1);
		memset(buf, cc->vals[c], sizeof(buf));
		pthread_rwlock_wrlock(&f->rwlock);
		isize = atomic_load(&f->size);
		n = wr(f, pos, buf, CC_CHUNK, isize);
		if (pos + CC_CHUNK > isize)
			atomic_store(&f->size, pos + CC_CHUNK);
		if (n != CC_CHUNK)
			atomic_fetch_add(&cc->errors, 1);
		pthread_rwlock_unlock(&f->rwlock);
	}
	atomic_store(&cc->stop, true);
	return NULL;
}

static void *cc_reader(void *arg)
{
	struct cc_ctx *cc = arg;
	struct ffs *f = cc->f;
	uint8_t buf[CC_CHUNK * 3];
	uint64_t st = cc->seed * 7 + 3;

	while (!atomic_load(&cc->stop)) {
		uint64_t c, isize;
		ssize_t n;

		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		c = st % CC_CHUNKS;
		pthread_rwlock_rdlock(&f->rwlock);
		isize = atomic_load(&f->size);
		n = rd(f, c * CC_CHUNK, buf, sizeof(buf), isize);
		pthread_rwlock_unlock(&f->rwlock);
		if (n < 0) {
			atomic_fetch_add(&cc->errors, 1);
			continue;
		}
		/* Every chunk read whole is uniform (never torn). */
		for (ssize_t o = 0; o + (ssize_t)CC_CHUNK <= n; o += CC_CHUNK)
			for (size_t i = 1; i < CC_CHUNK; i++)
				if (buf[o + i] != buf[o]) {
					atomic_fetch_add(&cc->torn, 1);
					break;
				}
	}
	return NULL;
}

static void *cc_writeback(void *arg)
{
	struct cc_ctx *cc = arg;
	struct ffs *f = cc->f;

	while (!atomic_load(&cc->stop)) {
		int ret = iomap_writeback_range(&f->file, 0, UINT64_MAX,
						atomic_load(&f->size),
						&fk_wbops);

		if (ret)
			atomic_fetch_add(&cc->errors, 1);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	/* A budget below the file size: reclaim and flusher run too. */
	struct cache_config cfg = {
		.budget_bytes = 160u << 10,
		.folio_size = 16384,
		.dirty_background_pct = 25,
		.dirty_limit_pct = 50,
		.expire_ms = 5,
		.ops = &fk_cache_ops_real,
	};
	const char *env = getenv("UEXT4_SEED");
	struct cc_ctx cc = {
		.seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL),
	};
	pthread_t th[5];
	uint8_t *buf, *ref;
	uint64_t size;
	struct ffs *f;

	(void)state;
	printf("test_concurrent: UEXT4_SEED=%" PRIu64 "\n", cc.seed);
	f = ffs_new_cfg(12, &cfg);
	cache_bdev_set_fault(f->bdev, NULL, NULL);
	f->delalloc = cc.seed & 1;
	cc.f = f;
	pthread_create(&th[0], NULL, cc_writer, &cc);
	pthread_create(&th[1], NULL, cc_reader, &cc);
	pthread_create(&th[2], NULL, cc_reader, &cc);
	pthread_create(&th[3], NULL, cc_writeback, &cc);
	pthread_create(&th[4], NULL, cc_writeback, &cc);
	for (int i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&cc.errors), 0);
	assert_int_equal(atomic_load(&cc.torn), 0);
	assert_int_equal(f->bad_conversions, 0);

	/* What the cache shows must be what reaches the disk. */
	size = atomic_load(&f->size);
	buf = malloc(size);
	ref = malloc(size);
	assert_int_equal(rd(f, 0, ref, size, size), size);
	assert_int_equal(wb(f, size), 0);
	assert_false(cache_mapping_has_dirty(f->file.mapping));
	ffs_drop_cache(f);
	assert_int_equal(rd(f, 0, buf, size, size), size);
	assert_memory_equal(buf, ref, size);
	assert_int_equal(size, CC_CHUNKS * CC_CHUNK);
	for (unsigned int c = 0; c < CC_CHUNKS; c++) {
		memset(ref, cc.vals[c], CC_CHUNK);
		assert_memory_equal(buf + c * CC_CHUNK, ref, CC_CHUNK);
	}
	free(buf);
	free(ref);
	ffs_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iter_trim_and_advance),
		cmocka_unit_test(test_iter_done_and_zero),
		cmocka_unit_test(test_iter_errors),
		cmocka_unit_test(test_iter_stale_remaps),
		cmocka_unit_test(test_read_types),
		cmocka_unit_test(test_read_hit_skips_begin),
		cmocka_unit_test(test_read_readahead),
		cmocka_unit_test(test_read_random_fills_needed_blocks),
		cmocka_unit_test(test_read_coalesces_blocks),
		cmocka_unit_test(test_readahead_keeps_dirty_blocks),
		cmocka_unit_test(test_read_inline),
		cmocka_unit_test(test_read_io_error),
		cmocka_unit_test(test_write_rmw_reads_mapped),
		cmocka_unit_test(test_write_zeroes_instead_of_reading),
		cmocka_unit_test(test_write_spanning_folios_and_mappings),
		cmocka_unit_test(test_write_stale_remaps),
		cmocka_unit_test(test_write_short_enospc),
		cmocka_unit_test(test_writeback_contiguous),
		cmocka_unit_test(test_writeback_fragmented_and_types),
		cmocka_unit_test(test_writeback_contiguous_across_folios_one_ioend),
		cmocka_unit_test(test_writeback_beyond_eof_skipped),
		cmocka_unit_test(test_writeback_io_error),
		cmocka_unit_test(test_writeback_map_error),
		cmocka_unit_test(test_writeback_range_limits),
		cmocka_unit_test(test_writeback_fault_loop),
		cmocka_unit_test(test_read_fault_loop),
		cmocka_unit_test(test_zero_range_mapped),
		cmocka_unit_test(test_zero_range_hole_unwritten),
		cmocka_unit_test(test_seek),
		cmocka_unit_test(test_random_model),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
