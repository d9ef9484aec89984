// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_cache.c — unit tests of cache/: the block engine (memory
 * and file backends, batches, concurrency, faults, the read overlay),
 * folios and their
 * index, dirty accounting, range removal, reclaim, the flusher and writer
 * throttling. Uses only the public cache.h API and a fake mapping owner
 * whose writeback callback is scripted per test.
 *
 * Temporary files go to $UEXT4_TEST_TMPDIR (set by meson) or /var/tmp.
 * Randomized tests print their seed; set UEXT4_TEST_SEED to reproduce.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "cache.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static void fill_pattern(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((seed * 131 + i * 7 + (i >> 9)) & 0xff);
}

static bool check_pattern(const void *buf, size_t len, uint64_t seed)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)((seed * 131 + i * 7 + (i >> 9)) &
					    0xff))
			return false;
	return true;
}

static void *xalloc(size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len), 0);
	memset(p, 0, len);
	return p;
}

static const char *tmpdir(void)
{
	const char *d = getenv("UEXT4_TEST_TMPDIR");

	return d && *d ? d : "/var/tmp";
}

/* Create a zero-filled temporary file of @size bytes in @dir. */
static char *make_tmpfile(const char *dir, uint64_t size)
{
	char *path = malloc(4096);
	int fd;

	assert_non_null(path);
	snprintf(path, 4096, "%s/test_cache.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
	return path;
}

static void remove_tmpfile(char *path)
{
	unlink(path);
	free(path);
}

static uint64_t test_seed(void)
{
	const char *s = getenv("UEXT4_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);

	printf("# seed %llu (UEXT4_TEST_SEED to reproduce)\n",
	       (unsigned long long)seed);
	return seed;
}

static uint64_t rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* ------------------------------------------------------------------------ */
/* Block engine: memory backend                                              */
/* ------------------------------------------------------------------------ */

static void test_mem_rw(void **state)
{
	struct cache_bdev *bdev;
	char *w = xalloc(8192), *r = xalloc(8192);

	(void)state;
	assert_int_equal(cache_bdev_open_memory(1 << 20, &bdev), 0);
	assert_int_equal(cache_bdev_size(bdev), 1 << 20);
	assert_int_equal(cache_bdev_align(bdev), 1);
	assert_false(cache_bdev_direct(bdev));

	assert_int_equal(cache_bdev_pread(bdev, r, 4096, 0), 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(r[i], 0);

	fill_pattern(w, 8192, 1);
	assert_int_equal(cache_bdev_pwrite(bdev, w, 8192, 12345), 0);
	assert_int_equal(cache_bdev_pread(bdev, r, 8192, 12345), 0);
	assert_true(check_pattern(r, 8192, 1));
	assert_int_equal(cache_bdev_flush(bdev), 0);
	cache_bdev_close(bdev);
	free(w);
	free(r);
}

static void test_mem_batch(void **state)
{
	enum { N = 40, LEN = 1024 };
	struct cache_bio bios[N];
	struct cache_bdev *bdev;
	char *buf = xalloc(N * LEN);
	int i;

	(void)state;
	assert_int_equal(cache_bdev_open_memory(N * LEN * 2, &bdev), 0);
	for (i = 0; i < N; i++) {
		fill_pattern(buf + i * LEN, LEN, (uint64_t)i);
		bios[i] = (struct cache_bio){
			.pos = (uint64_t)(N - 1 - i) * 2 * LEN,
			.buf = buf + i * LEN, .len = LEN, .write = true,
			.result = 12345,
		};
	}
	assert_int_equal(cache_bdev_submit(bdev, bios, N), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(bios[i].result, LEN);
	memset(buf, 0, N * LEN);
	for (i = 0; i < N; i++)
		bios[i].write = false;
	assert_int_equal(cache_bdev_submit(bdev, bios, N), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(bios[i].result, LEN);
		assert_true(check_pattern(buf + i * LEN, LEN, (uint64_t)i));
	}
	cache_bdev_close(bdev);
	free(buf);
}

static void test_mem_past_end(void **state)
{
	struct cache_bdev *bdev;
	char *buf = xalloc(8192);
	struct cache_bio bios[3] = {
		{ .pos = 0, .buf = buf, .len = 512 },
		{ .pos = 65536 - 512, .buf = buf, .len = 1024 },
		{ .pos = 65536, .buf = buf, .len = 512 },
	};

	(void)state;
	assert_int_equal(cache_bdev_open_memory(65536, &bdev), 0);
	assert_int_equal(cache_bdev_submit(bdev, bios, 3), -EIO);
	assert_int_equal(bios[0].result, 512);
	assert_int_equal(bios[1].result, -EIO);
	assert_int_equal(bios[2].result, -EIO);
	assert_int_equal(cache_bdev_pwrite(bdev, buf, 1, 65536), -EIO);
	assert_int_equal(cache_bdev_pread(bdev, buf, 512, 65536 - 512), 0);
	assert_int_equal(cache_bdev_pread(bdev, buf, 1, UINT64_MAX), -EIO);
	cache_bdev_close(bdev);
	free(buf);
}

struct fault_ctx {
	int fail_at;	/* 1-based bio number to fail, 0 = none */
	int seen;
	int err;
};

static int fault_nth(void *ctx, const struct cache_bio *bio)
{
	struct fault_ctx *f = ctx;

	(void)bio;
	if (++f->seen == f->fail_at)
		return f->err;
	return 0;
}

/* Loop the fault point N = 1, 2, ... until the batch completes untouched. */
static void run_fault_loop(struct cache_bdev *bdev, size_t len)
{
	enum { N = 6 };
	struct cache_bio bios[N];
	char *buf = xalloc(N * len), *chk = xalloc(len);
	struct fault_ctx f = { .err = -EIO };
	int n, i, ret;

	for (n = 1;; n++) {
		/* Clear the device area, then write with bio n failing. */
		memset(buf, 0, N * len);
		for (i = 0; i < N; i++)
			assert_int_equal(cache_bdev_pwrite(bdev, buf, len,
							   (uint64_t)i * len),
					 0);
		f = (struct fault_ctx){ .fail_at = n, .err = -EIO };
		cache_bdev_set_fault(bdev, fault_nth, &f);
		for (i = 0; i < N; i++) {
			fill_pattern(buf + i * len, len, (uint64_t)(i + 10));
			bios[i] = (struct cache_bio){
				.pos = (uint64_t)i * len,
				.buf = buf + i * len, .len = len, .write = true,
			};
		}
		ret = cache_bdev_submit(bdev, bios, N);
		cache_bdev_set_fault(bdev, NULL, NULL);
		for (i = 0; i < N; i++) {
			bool failed = i + 1 == n;

			assert_int_equal(bios[i].result,
					 failed ? -EIO : (ssize_t)len);
			assert_int_equal(cache_bdev_pread(bdev, chk, len,
							  (uint64_t)i * len),
					 0);
			assert_int_equal(check_pattern(chk, len,
						       (uint64_t)(i + 10)),
					 !failed);
		}
		if (n > N) {
			assert_int_equal(ret, 0);
			break;
		}
		assert_int_equal(ret, -EIO);
	}
	free(buf);
	free(chk);
}

static void test_mem_fault(void **state)
{
	struct cache_bdev *bdev;

	(void)state;
	assert_int_equal(cache_bdev_open_memory(1 << 20, &bdev), 0);
	run_fault_loop(bdev, 4096);
	cache_bdev_close(bdev);
}

/*
 * Read overlay: a fake owner holding blocks of OV_BS bytes (OV_BLOCKS),
 * each filled with a byte of its own. It counts its calls and records
 * whether it ever saw a write buffer.
 */
#define OV_BS 1024u
#define OV_DEV (64u * OV_BS)
static const uint64_t ov_blocks[] = { 3, 4, 10, 11, 12, 63 };
#define OV_NR (sizeof(ov_blocks) / sizeof(ov_blocks[0]))

struct ov_fake {
	unsigned int calls;
	const void *write_buf;	/* a write bio's buffer: never passed */
	bool saw_write_buf;
};

static unsigned char ov_byte(uint64_t blk)
{
	return (unsigned char)(0xA0 + blk);
}

static void ov_fn(void *ctx, uint64_t pos, void *buf, size_t len)
{
	struct ov_fake *f = ctx;

	__atomic_add_fetch(&f->calls, 1, __ATOMIC_RELAXED);
	if (buf == f->write_buf)
		f->saw_write_buf = true;
	for (size_t k = 0; k < OV_NR; k++) {
		uint64_t b0 = ov_blocks[k] * OV_BS, b1 = b0 + OV_BS;
		uint64_t from = pos > b0 ? pos : b0;
		uint64_t to = pos + len < b1 ? pos + len : b1;

		if (from < to)
			memset((unsigned char *)buf + (from - pos),
			       ov_byte(ov_blocks[k]), (size_t)(to - from));
	}
}

/* What a read of [pos, pos + len) must return: @dev patched. */
static void ov_expect(const unsigned char *dev, uint64_t pos, size_t len,
		      unsigned char *out)
{
	memcpy(out, dev + pos, len);
	ov_fn(&(struct ov_fake){ 0 }, pos, out, len);
}

static void ov_check_read(struct cache_bdev *bdev, const unsigned char *dev,
			  uint64_t pos, size_t len)
{
	unsigned char *got = xalloc(len), *want = xalloc(len);

	assert_int_equal(cache_bdev_pread(bdev, got, len, pos), 0);
	ov_expect(dev, pos, len, want);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

static void overlay_cases(struct cache_bdev *bdev)
{
	unsigned char *dev = xalloc(OV_DEV), *buf = xalloc(OV_DEV);
	unsigned char *w = xalloc(OV_BS);
	struct ov_fake f = { 0 };
	struct cache_bio bios[3];

	fill_pattern(dev, OV_DEV, 7);
	assert_int_equal(cache_bdev_pwrite(bdev, dev, OV_DEV, 0), 0);
	cache_bdev_set_read_overlay(bdev, ov_fn, &f);

	/* a whole block held, one not held, a partial block */
	ov_check_read(bdev, dev, 3 * OV_BS, OV_BS);
	ov_check_read(bdev, dev, 5 * OV_BS, OV_BS);
	ov_check_read(bdev, dev, 4 * OV_BS + 100, 200);
	/* unaligned edges, starting before and ending inside held blocks */
	ov_check_read(bdev, dev, 2 * OV_BS + 1000, 3 * OV_BS);
	ov_check_read(bdev, dev, 9 * OV_BS + 1, 2 * OV_BS + 5);
	/* several held blocks in one bio, and the whole device */
	ov_check_read(bdev, dev, 8 * OV_BS, 8 * OV_BS);
	ov_check_read(bdev, dev, 0, OV_DEV);
	/* the last byte of the device (a held block) */
	ov_check_read(bdev, dev, OV_DEV - 1, 1);

	/* a batch: each bio patched; a failed bio is left alone */
	memset(buf, 0x5A, OV_DEV);
	bios[0] = (struct cache_bio){ .pos = 3 * OV_BS, .buf = buf,
				      .len = OV_BS };
	bios[1] = (struct cache_bio){ .pos = OV_DEV - OV_BS, .buf = buf + OV_BS,
				      .len = 2 * OV_BS };	/* past the end */
	bios[2] = (struct cache_bio){ .pos = 11 * OV_BS + 512,
				      .buf = buf + 4 * OV_BS, .len = OV_BS };
	assert_int_equal(cache_bdev_submit(bdev, bios, 3), -EIO);
	assert_int_equal(bios[1].result, -EIO);
	for (size_t i = 0; i < OV_BS; i++) {
		assert_int_equal(buf[i], ov_byte(3));
		assert_int_equal(buf[OV_BS + i], 0x5A);
		assert_int_equal(buf[4 * OV_BS + i], i < 512 ? ov_byte(11) :
							       ov_byte(12));
	}

	/* writes: go to the device as given, the buffer is not patched */
	fill_pattern(w, OV_BS, 99);
	f.write_buf = w;
	assert_int_equal(cache_bdev_pwrite(bdev, w, OV_BS, 10 * OV_BS), 0);
	assert_false(f.saw_write_buf);
	assert_true(check_pattern(w, OV_BS, 99));
	memcpy(dev + 10 * OV_BS, w, OV_BS);
	/* ... but a read of a held block still sees the overlay */
	ov_check_read(bdev, dev, 10 * OV_BS, OV_BS);

	/* cleared: the device as it is, and no more calls */
	cache_bdev_set_read_overlay(bdev, NULL, NULL);
	f.calls = 0;
	assert_int_equal(cache_bdev_pread(bdev, buf, OV_DEV, 0), 0);
	assert_memory_equal(buf, dev, OV_DEV);
	assert_int_equal(f.calls, 0);
	free(dev);
	free(buf);
	free(w);
}

static void test_mem_overlay(void **state)
{
	struct cache_bdev *bdev;

	(void)state;
	assert_int_equal(cache_bdev_open_memory(OV_DEV, &bdev), 0);
	overlay_cases(bdev);
	cache_bdev_close(bdev);
}

struct ov_thread {
	struct cache_bdev *bdev;
	const unsigned char *dev;
	uint64_t seed;
};

static void *ov_reader(void *arg)
{
	struct ov_thread *t = arg;
	unsigned char *got = xalloc(OV_DEV), *want = xalloc(OV_DEV);

	for (int i = 0; i < 500; i++) {
		uint64_t pos = rnd(&t->seed) % OV_DEV;
		size_t len = 1 + (size_t)(rnd(&t->seed) % (OV_DEV - pos));

		if (cache_bdev_pread(t->bdev, got, len, pos) ||
		    (ov_expect(t->dev, pos, len, want), memcmp(got, want, len)))
			abort();
	}
	free(got);
	free(want);
	return NULL;
}

/* Concurrent readers, random unaligned ranges: every one patched. */
static void test_mem_overlay_concurrent(void **state)
{
	struct ov_thread t[4];
	pthread_t th[4];
	struct ov_fake f = { 0 };
	struct cache_bdev *bdev;
	unsigned char *dev = xalloc(OV_DEV);
	uint64_t seed = test_seed();

	(void)state;
	assert_int_equal(cache_bdev_open_memory(OV_DEV, &bdev), 0);
	fill_pattern(dev, OV_DEV, 3);
	assert_int_equal(cache_bdev_pwrite(bdev, dev, OV_DEV, 0), 0);
	cache_bdev_set_read_overlay(bdev, ov_fn, &f);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct ov_thread){ bdev, dev, (seed + (uint64_t)i) | 1 };
		assert_int_equal(pthread_create(&th[i], NULL, ov_reader, &t[i]),
				 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(f.calls, 4 * 500);
	cache_bdev_close(bdev);
	free(dev);
}

/* ------------------------------------------------------------------------ */
/* Block engine: file backend                                                */
/* ------------------------------------------------------------------------ */

static void file_basic(const char *dir, bool want_direct)
{
	enum { SIZE = 4 << 20 };
	struct cache_bdev *bdev;
	char *path = make_tmpfile(dir, SIZE);
	char *w = xalloc(65536), *r = xalloc(65536);
	int fd;

	if (!path)
		skip();
	assert_int_equal(cache_bdev_open(path, 0, false, &bdev), 0);
	if (want_direct && !cache_bdev_direct(bdev)) {
		cache_bdev_close(bdev);
		remove_tmpfile(path);
		free(w);
		free(r);
		skip();
	}
	assert_int_equal(cache_bdev_size(bdev), SIZE);
	if (cache_bdev_direct(bdev)) {
		size_t a = cache_bdev_align(bdev);

		assert_true(a == 512 || a == 4096);
	} else {
		assert_int_equal(cache_bdev_align(bdev), 1);
	}
	assert_true(cache_bdev_fd(bdev) >= 0);

	/* Aligned round trip. */
	fill_pattern(w, 65536, 3);
	assert_int_equal(cache_bdev_pwrite(bdev, w, 65536, 1 << 20), 0);
	assert_int_equal(cache_bdev_pread(bdev, r, 65536, 1 << 20), 0);
	assert_true(check_pattern(r, 65536, 3));

	/* Unaligned buffer, offset and length (the buffered path). */
	fill_pattern(w, 1000, 4);
	assert_int_equal(cache_bdev_pwrite(bdev, w + 3, 1000, (1 << 20) + 77),
			 0);
	assert_int_equal(cache_bdev_pread(bdev, r, 65536, 1 << 20), 0);
	assert_true(check_pattern(r, 77, 3));
	assert_memory_equal(r + 77, w + 3, 1000);
	assert_int_equal(cache_bdev_pread(bdev, r + 5, 1000, (1 << 20) + 77),
			 0);
	assert_memory_equal(r + 5, w + 3, 1000);

	/* End of device. */
	assert_int_equal(cache_bdev_pread(bdev, r, 4096, SIZE - 4096), 0);
	assert_int_equal(cache_bdev_pread(bdev, r, 8192, SIZE - 4096), -EIO);
	assert_int_equal(cache_bdev_pwrite(bdev, r, 4096, SIZE), -EIO);
	assert_int_equal(cache_bdev_flush(bdev), 0);

	/* The bytes really are in the file. */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r, 4096, 1 << 20), 4096);
	assert_true(check_pattern(r, 77, 3));
	close(fd);

	run_fault_loop(bdev, 4096);
	cache_bdev_close(bdev);

	/* Read-only: writes refused, reads work. */
	assert_int_equal(cache_bdev_open(path, 0, true, &bdev), 0);
	assert_int_equal(cache_bdev_pwrite(bdev, w, 4096, 0), -EROFS);
	assert_int_equal(cache_bdev_pread(bdev, r, 4096, 1 << 20), 0);
	assert_true(check_pattern(r, 77, 3));
	assert_int_equal(cache_bdev_flush(bdev), 0);
	cache_bdev_close(bdev);

	remove_tmpfile(path);
	free(w);
	free(r);
}

static void test_file_buffered_or_default(void **state)
{
	(void)state;
	file_basic(tmpdir(), false);
}

static void test_file_direct(void **state)
{
	(void)state;
	file_basic(tmpdir(), true);
}

static void test_file_tmpfs(void **state)
{
	(void)state;
	if (access("/dev/shm", W_OK))
		skip();
	file_basic("/dev/shm", false);
}

static void test_file_open_errors(void **state)
{
	struct cache_bdev *bdev;
	char *path;

	(void)state;
	assert_int_equal(cache_bdev_open("/nonexistent/uext4/x", 0, false,
					 &bdev),
			 -ENOENT);
	path = make_tmpfile(tmpdir(), 8192);
	if (!path)
		skip();
	assert_int_equal(cache_bdev_open(path, 16384, false, &bdev), -EINVAL);
	remove_tmpfile(path);
}

static void test_file_offset(void **state)
{
	struct cache_bdev *bdev;
	char *path = make_tmpfile(tmpdir(), 1 << 20);
	char *w = xalloc(8192), *r = xalloc(8192);
	uint64_t offsets[] = { 65536, 512 + 4096 };
	unsigned int i;
	int fd;

	(void)state;
	if (!path)
		skip();
	for (i = 0; i < 2; i++) {
		uint64_t off = offsets[i];

		assert_int_equal(cache_bdev_open(path, off, false, &bdev), 0);
		assert_int_equal(cache_bdev_size(bdev), (1 << 20) - off);
		if (cache_bdev_direct(bdev))
			assert_int_equal(off % cache_bdev_align(bdev), 0);
		fill_pattern(w, 8192, off);
		assert_int_equal(cache_bdev_pwrite(bdev, w, 8192, 8192), 0);
		assert_int_equal(cache_bdev_pread(bdev, r, 8192, 8192), 0);
		assert_true(check_pattern(r, 8192, off));
		cache_bdev_close(bdev);

		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, r, 8192, (off_t)(off + 8192)), 8192);
		assert_true(check_pattern(r, 8192, off));
		close(fd);
	}
	remove_tmpfile(path);
	free(w);
	free(r);
}

/* The overlay on a file engine (io_uring or pread, direct or buffered). */
static void test_file_overlay(void **state)
{
	struct cache_bdev *bdev;
	char *path = make_tmpfile(tmpdir(), OV_DEV);

	(void)state;
	if (!path)
		skip();
	assert_int_equal(cache_bdev_open(path, 0, false, &bdev), 0);
	overlay_cases(bdev);
	cache_bdev_close(bdev);
	remove_tmpfile(path);
}

/*
 * The file shrinks under the engine: the kernel returns a short read, the
 * engine asks for the remainder, gets 0 bytes and reports -EIO, while a
 * read before the new end still succeeds in the same batch.
 */
static void test_file_short_read(void **state)
{
	char *path = make_tmpfile(tmpdir(), 1 << 20);
	char *buf = xalloc(3 * 4096), *ref = xalloc(3 * 4096);
	struct cache_bdev *bdev;
	struct cache_bio bios[2];

	(void)state;
	if (!path)
		skip();
	assert_int_equal(cache_bdev_open(path, 0, false, &bdev), 0);
	fill_pattern(buf, 3 * 4096, 5);
	assert_int_equal(cache_bdev_pwrite(bdev, buf, 3 * 4096, 0), 0);
	assert_int_equal(truncate(path, 4096 + 2048), 0);
	memset(buf, 0, 3 * 4096);
	bios[0] = (struct cache_bio){ .pos = 0, .buf = buf, .len = 4096 };
	bios[1] = (struct cache_bio){ .pos = 4096, .buf = buf + 4096,
				      .len = 8192 };
	assert_int_equal(cache_bdev_submit(bdev, bios, 2), -EIO);
	assert_int_equal(bios[0].result, 4096);
	assert_int_equal(bios[1].result, -EIO);
	assert_true(check_pattern(buf, 4096, 5));
	/* The short part that did arrive is kept, not read again over. */
	fill_pattern(ref, 3 * 4096, 5);
	assert_memory_equal(buf + 4096, ref + 4096, 2048);
	free(ref);
	cache_bdev_close(bdev);
	remove_tmpfile(path);
	free(buf);
}

/* Many more bios than the ring depth, mixed sizes, in one submit call. */
static void test_file_big_batch(void **state)
{
	enum { N = 700, BLK = 4096 };
	struct cache_bio *bios = calloc(N, sizeof(*bios));
	char *path = make_tmpfile(tmpdir(), (uint64_t)N * BLK * 2 + (8 << 20));
	char *buf = xalloc((size_t)N * BLK), *big = xalloc(8 << 20);
	struct cache_bdev *bdev;
	int i;

	(void)state;
	if (!path)
		skip();
	assert_int_equal(cache_bdev_open(path, 0, false, &bdev), 0);
	for (i = 0; i < N; i++) {
		fill_pattern(buf + (size_t)i * BLK, BLK, (uint64_t)i);
		bios[i] = (struct cache_bio){
			.pos = (uint64_t)i * 2 * BLK,
			.buf = buf + (size_t)i * BLK, .len = BLK, .write = true,
		};
	}
	assert_int_equal(cache_bdev_submit(bdev, bios, N), 0);
	memset(buf, 0, (size_t)N * BLK);
	for (i = 0; i < N; i++)
		bios[i].write = false;
	assert_int_equal(cache_bdev_submit(bdev, bios, N), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(bios[i].result, BLK);
		assert_true(check_pattern(buf + (size_t)i * BLK, BLK,
					  (uint64_t)i));
	}

	/* One big bio. */
	fill_pattern(big, 8 << 20, 99);
	assert_int_equal(cache_bdev_pwrite(bdev, big, 8 << 20,
					   (uint64_t)N * BLK * 2),
			 0);
	memset(big, 0, 8 << 20);
	assert_int_equal(cache_bdev_pread(bdev, big, 8 << 20,
					  (uint64_t)N * BLK * 2),
			 0);
	assert_true(check_pattern(big, 8 << 20, 99));

	/* An empty batch and a zero-length bio are fine. */
	assert_int_equal(cache_bdev_submit(bdev, bios, 0), 0);
	bios[0].len = 0;
	assert_int_equal(cache_bdev_submit(bdev, bios, 1), 0);
	assert_int_equal(bios[0].result, 0);

	cache_bdev_close(bdev);
	remove_tmpfile(path);
	free(bios);
	free(buf);
	free(big);
}

struct submitter {
	struct cache_bdev *bdev;
	int id;
	int failures;
};

static void *submitter_main(void *arg)
{
	enum { ROUNDS = 40, NB = 16, BLK = 4096 };
	struct submitter *s = arg;
	struct cache_bio bios[NB];
	char *buf;
	int round, i;

	if (posix_memalign((void **)&buf, 4096, NB * BLK))
		return NULL;
	for (round = 0; round < ROUNDS; round++) {
		uint64_t base = ((uint64_t)s->id * NB) * BLK;
		uint64_t seed = (uint64_t)s->id * 1000 + (uint64_t)round;

		for (i = 0; i < NB; i++) {
			fill_pattern(buf + i * BLK, BLK, seed + (uint64_t)i);
			bios[i] = (struct cache_bio){
				.pos = base + (uint64_t)i * BLK,
				.buf = buf + i * BLK, .len = BLK,
				.write = true,
			};
		}
		if (cache_bdev_submit(s->bdev, bios, NB))
			s->failures++;
		memset(buf, 0, NB * BLK);
		for (i = 0; i < NB; i++)
			bios[i].write = false;
		if (cache_bdev_submit(s->bdev, bios, NB))
			s->failures++;
		for (i = 0; i < NB; i++)
			if (!check_pattern(buf + i * BLK, BLK,
					   seed + (uint64_t)i))
				s->failures++;
		if (round % 10 == 0 && cache_bdev_flush(s->bdev))
			s->failures++;
	}
	free(buf);
	return NULL;
}

static void run_submitters(struct cache_bdev *bdev)
{
	enum { T = 24 }; /* more than the ring pool holds */
	struct submitter subs[T];
	pthread_t th[T];
	int i;

	for (i = 0; i < T; i++) {
		subs[i] = (struct submitter){ .bdev = bdev, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, submitter_main,
						&subs[i]),
				 0);
	}
	for (i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(subs[i].failures, 0);
	}
}

/* Number of io_uring instances this process has open. */
static int count_uring_fds(void)
{
	char link[64], target[256];
	int fd, n = 0;

	for (fd = 0; fd < 4096; fd++) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = 0;
		if (strstr(target, "io_uring"))
			n++;
	}
	return n;
}

/* Where the host allows io_uring, the engine really uses it. */
static void test_file_uses_uring(void **state)
{
	struct io_uring probe;
	struct cache_bdev *bdev;
	char *path, *buf;
	int before;

	(void)state;
	if (io_uring_queue_init(4, &probe, 0))
		skip(); /* not available here: the fallback is tested below */
	io_uring_queue_exit(&probe);
	path = make_tmpfile(tmpdir(), 1 << 20);
	assert_non_null(path);
	before = count_uring_fds();
	assert_int_equal(cache_bdev_open(path, 0, false, &bdev), 0);
	buf = xalloc(4096);
	assert_int_equal(cache_bdev_pread(bdev, buf, 4096, 0), 0);
	assert_true(count_uring_fds() > before);
	cache_bdev_close(bdev);
	assert_int_equal(count_uring_fds(), before);
	assert_int_equal(setenv("UEXT4_NO_URING", "1", 1), 0);
	assert_int_equal(cache_bdev_open(path, 0, false, &bdev), 0);
	assert_int_equal(cache_bdev_pread(bdev, buf, 4096, 0), 0);
	assert_int_equal(count_uring_fds(), before);
	cache_bdev_close(bdev);
	unsetenv("UEXT4_NO_URING");
	remove_tmpfile(path);
	free(buf);
}

/* The pread/pwrite fallback used where io_uring is refused. */
static void test_file_no_uring(void **state)
{
	char *path;
	struct cache_bdev *bdev;

	(void)state;
	assert_int_equal(setenv("UEXT4_NO_URING", "1", 1), 0);
	file_basic(tmpdir(), false);
	path = make_tmpfile(tmpdir(), 4 << 20);
	assert_non_null(path);
	assert_int_equal(cache_bdev_open(path, 0, false, &bdev), 0);
	run_submitters(bdev);
	cache_bdev_close(bdev);
	remove_tmpfile(path);
	unsetenv("UEXT4_NO_URING");
}

static void test_file_concurrent(void **state)
{
	char *path = make_tmpfile(tmpdir(), 4 << 20);
	struct cache_bdev *bdev;

	(void)state;
	if (!path)
		skip();
	assert_int_equal(cache_bdev_open(path, 0, false, &bdev), 0);
	run_submitters(bdev);
	cache_bdev_close(bdev);
	remove_tmpfile(path);
}

static void test_mem_concurrent(void **state)
{
	struct cache_bdev *bdev;

	(void)state;
	assert_int_equal(cache_bdev_open_memory(4 << 20, &bdev), 0);
	run_submitters(bdev);
	cache_bdev_close(bdev);
}

/* ------------------------------------------------------------------------ */
/* Folio cache: a scripted fake mapping owner                                */
/* ------------------------------------------------------------------------ */

enum wb_mode {
	WB_CLEAN,	/* clear every dirty block, return 0 */
	WB_NOTHING,	/* clean nothing, return 0 */
	WB_FAIL,	/* clean nothing, return -EIO */
	WB_GATE_CLEAN,	/* wait for the gate to open, then clean */
};

static struct fake_owner {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum wb_mode mode;
	unsigned int calls;
	unsigned int sync_calls;
	bool in_callback;
	bool gate_open;
	void *last_owner;
	struct cache *cache;
} fo = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void fake_reset(enum wb_mode mode)
{
	pthread_mutex_lock(&fo.mu);
	fo.mode = mode;
	fo.calls = fo.sync_calls = 0;
	fo.in_callback = false;
	fo.gate_open = false;
	fo.last_owner = NULL;
	pthread_mutex_unlock(&fo.mu);
}

static void fake_clean_all(struct cache_mapping *mapping)
{
	struct cache_folio *batch[8];
	unsigned int nb = 1u << (cache_folio_shift(mapping) -
				 cache_mapping_blkbits(mapping));
	uint64_t start = 0;
	unsigned int n, i;

	while ((n = cache_mapping_dirty_lookup(mapping, start, UINT64_MAX,
					       batch, 8))) {
		for (i = 0; i < n; i++) {
			cache_folio_lock(batch[i]);
			cache_folio_clear_dirty(batch[i], 0, nb);
			cache_folio_unlock(batch[i]);
		}
		start = batch[n - 1]->index + 1;
		for (i = 0; i < n; i++)
			cache_folio_put(batch[i]);
	}
}

static int fake_writeback(struct cache_mapping *mapping, void *owner,
			  bool sync_all)
{
	struct cache_stats st;
	enum wb_mode mode;

	/* Deadlocks (the test times out) if a cache lock were held. */
	cache_get_stats(fo.cache, &st);

	pthread_mutex_lock(&fo.mu);
	fo.calls++;
	if (sync_all)
		fo.sync_calls++;
	fo.last_owner = owner;
	fo.in_callback = true;
	pthread_cond_broadcast(&fo.cv);
	mode = fo.mode;
	if (mode == WB_GATE_CLEAN)
		while (!fo.gate_open)
			pthread_cond_wait(&fo.cv, &fo.mu);
	pthread_mutex_unlock(&fo.mu);

	/* Touch the mapping after the gate: a use-after-free under ASan
	 * if cache_mapping_destroy() did not wait for us. */
	(void)cache_mapping_has_dirty(mapping);
	if (mode == WB_CLEAN || mode == WB_GATE_CLEAN)
		fake_clean_all(mapping);

	pthread_mutex_lock(&fo.mu);
	fo.in_callback = false;
	pthread_cond_broadcast(&fo.cv);
	pthread_mutex_unlock(&fo.mu);
	return mode == WB_FAIL ? -EIO : 0;
}

static const struct cache_ops fake_ops = { .writeback = fake_writeback };

static struct cache *new_cache(size_t budget, size_t folio_size,
			       unsigned int bg, unsigned int limit,
			       unsigned int expire_ms)
{
	struct cache_config cfg = {
		.budget_bytes = budget,
		.folio_size = folio_size,
		.dirty_background_pct = bg,
		.dirty_limit_pct = limit,
		.expire_ms = expire_ms,
		.ops = &fake_ops,
	};
	struct cache *cache;

	assert_int_equal(cache_create(&cfg, &cache), 0);
	fo.cache = cache;
	return cache;
}

static struct cache_stats stats(struct cache *cache)
{
	struct cache_stats st;

	cache_get_stats(cache, &st);
	return st;
}

/* Get (create) folio @index, mark it dirty or uptodate, put it. */
static void touch(struct cache_mapping *m, uint64_t index, bool dirty)
{
	struct cache_folio *f;
	unsigned int nb = 1u << (cache_folio_shift(m) - cache_mapping_blkbits(m));

	assert_int_equal(cache_folio_get(m, index, CACHE_FGP_CREAT |
					 CACHE_FGP_LOCK, &f),
			 0);
	if (dirty)
		cache_folio_mark_dirty(f, 0, nb);
	else
		cache_folio_mark_uptodate(f, 0, nb);
	cache_folio_unlock(f);
	cache_folio_put(f);
}

static void test_cache_config(void **state)
{
	struct cache_config cfg = { .budget_bytes = 1 << 20, .ops = &fake_ops };
	struct cache *cache;
	struct cache_mapping *m;

	(void)state;
	cfg.folio_size = 3000;
	assert_int_equal(cache_create(&cfg, &cache), -EINVAL);
	cfg.folio_size = 512 * 1024;
	assert_int_equal(cache_create(&cfg, &cache), -EINVAL);
	cfg.folio_size = 16384;
	cfg.ops = NULL;
	assert_int_equal(cache_create(&cfg, &cache), -EINVAL);
	cfg.ops = &fake_ops;
	cfg.dirty_background_pct = 50;
	cfg.dirty_limit_pct = 40;
	assert_int_equal(cache_create(&cfg, &cache), -EINVAL);
	cfg.dirty_background_pct = 0;
	cfg.dirty_limit_pct = 0;
	cfg.budget_bytes = 0;
	assert_int_equal(cache_create(&cfg, &cache), -EINVAL);
	cfg.budget_bytes = 1 << 20;
	assert_int_equal(cache_create(&cfg, &cache), 0);

	/* Folio size = max(folio_size, block), at most 64 blocks. */
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	assert_int_equal(cache_folio_shift(m), 14);
	assert_int_equal(cache_mapping_blkbits(m), 12);
	cache_mapping_destroy(m);
	assert_int_equal(cache_mapping_create(cache, 16, NULL, &m), 0);
	assert_int_equal(cache_folio_shift(m), 16);
	cache_mapping_destroy(m);
	assert_int_equal(cache_mapping_create(cache, 8, NULL, &m), -EINVAL);
	assert_int_equal(cache_mapping_create(cache, 17, NULL, &m), -EINVAL);
	cache_destroy(cache);

	cfg.folio_size = 256 * 1024;
	assert_int_equal(cache_create(&cfg, &cache), 0);
	assert_int_equal(cache_mapping_create(cache, 10, NULL, &m), 0);
	assert_int_equal(cache_folio_shift(m), 16); /* 64 x 1 KiB */
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

static void test_folio_get_put(void **state)
{
	struct cache *cache = new_cache(1 << 20, 16384, 0, 0, 0);
	struct cache_folio *f, *g;
	struct cache_mapping *m;
	struct cache_stats st;
	int i;

	(void)state;
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	assert_int_equal(cache_folio_get(m, 5, 0, &f), -ENOENT);
	assert_int_equal(cache_folio_get(m, 5, CACHE_FGP_CREAT, &f), 0);
	assert_ptr_equal(f->mapping, m);
	assert_int_equal(f->index, 5);
	assert_int_equal((uintptr_t)f->data % 4096, 0);
	assert_int_equal(f->uptodate, 0);
	assert_int_equal(f->dirty, 0);
	assert_int_equal(f->error, 0);
	for (i = 0; i < 16384; i++)
		assert_int_equal(((char *)f->data)[i], 0);
	assert_int_equal(cache_mapping_nr_folios(m), 1);

	assert_int_equal(cache_folio_get(m, 5, 0, &g), 0);
	assert_ptr_equal(f, g);
	st = stats(cache);
	assert_int_equal(st.used_bytes, 16384);
	assert_int_equal(st.nr_folios, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.budget_bytes, 1 << 20);
	cache_folio_put(g);
	cache_folio_put(f);

	/* An unreferenced clean folio stays cached until reclaimed. */
	assert_int_equal(cache_folio_get(m, 5, 0, &f), 0);
	cache_folio_put(f);
	assert_int_equal(stats(cache).hits, 2);

	cache_mapping_destroy(m);
	st = stats(cache);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.nr_folios, 0);
	cache_destroy(cache);
}

struct locker {
	struct cache_folio *folio;
	bool got;
};

static void *locker_main(void *arg)
{
	struct locker *l = arg;

	cache_folio_lock(l->folio);
	l->got = true;
	cache_folio_unlock(l->folio);
	return NULL;
}

static void test_folio_lock(void **state)
{
	struct cache *cache = new_cache(1 << 20, 4096, 0, 0, 0);
	struct cache_mapping *m;
	struct cache_folio *f, *g;
	struct locker l = { 0 };
	pthread_t th;

	(void)state;
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	assert_int_equal(cache_folio_get(m, 0, CACHE_FGP_CREAT | CACHE_FGP_LOCK,
					 &f),
			 0);
	assert_false(cache_folio_trylock(f));
	l.folio = f;
	assert_int_equal(pthread_create(&th, NULL, locker_main, &l), 0);
	cache_folio_unlock(f);
	pthread_join(th, NULL);
	assert_true(l.got);
	assert_true(cache_folio_trylock(f));
	cache_folio_unlock(f);

	/* FGP_LOCK on a hit returns it locked too. */
	assert_int_equal(cache_folio_get(m, 0, CACHE_FGP_LOCK, &g), 0);
	assert_ptr_equal(f, g);
	assert_false(cache_folio_trylock(f));
	cache_folio_unlock(g);
	cache_folio_put(g);
	cache_folio_put(f);
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

static void test_dirty_accounting(void **state)
{
	struct cache *cache = new_cache(1 << 20, 16384, 0, 0, 3600000);
	struct cache_folio *f, *list[4];
	struct cache_mapping *m;

	(void)state;
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	assert_int_equal(cache_folio_get(m, 3, CACHE_FGP_CREAT | CACHE_FGP_LOCK,
					 &f),
			 0);
	cache_folio_mark_uptodate(f, 3, 1);
	assert_int_equal(f->uptodate, 0x8);
	assert_false(cache_mapping_has_dirty(m));
	cache_folio_mark_dirty(f, 0, 2);
	assert_int_equal(f->dirty, 0x3);
	assert_int_equal(f->uptodate, 0xb);
	assert_int_equal(stats(cache).dirty_bytes, 8192);
	cache_folio_mark_dirty(f, 1, 2); /* one new block */
	assert_int_equal(f->dirty, 0x7);
	assert_int_equal(stats(cache).dirty_bytes, 12288);
	assert_true(cache_mapping_has_dirty(m));

	assert_int_equal(cache_mapping_dirty_lookup(m, 0, UINT64_MAX, list, 4),
			 1);
	assert_ptr_equal(list[0], f);
	cache_folio_put(list[0]);
	assert_int_equal(cache_mapping_dirty_lookup(m, 4, UINT64_MAX, list, 4),
			 0);
	assert_int_equal(cache_mapping_dirty_lookup(m, 0, 3, list, 4), 0);

	cache_folio_clear_dirty(f, 0, 1);
	assert_int_equal(f->dirty, 0x6);
	assert_int_equal(f->uptodate, 0xf);
	assert_int_equal(stats(cache).dirty_bytes, 8192);
	cache_folio_clear_dirty(f, 0, 4);
	assert_int_equal(f->dirty, 0);
	assert_int_equal(stats(cache).dirty_bytes, 0);
	assert_false(cache_mapping_has_dirty(m));
	assert_int_equal(cache_mapping_dirty_lookup(m, 0, UINT64_MAX, list, 4),
			 0);
	assert_int_equal(cache_mapping_lookup_range(m, 0, UINT64_MAX, list, 4),
			 1);
	cache_folio_put(list[0]);

	/* Destroying a mapping with dirty data discards the accounting. */
	cache_folio_mark_dirty(f, 0, 4);
	cache_folio_unlock(f);
	cache_folio_put(f);
	assert_int_equal(stats(cache).dirty_bytes, 16384);
	cache_mapping_destroy(m);
	assert_int_equal(stats(cache).dirty_bytes, 0);
	assert_int_equal(stats(cache).used_bytes, 0);
	cache_destroy(cache);
}

/* Sparse indexes up to 2^48 and beyond; ordered lookups. */
static void test_sparse_index(void **state)
{
	static const uint64_t idx[] = {
		0, 1, 63, 64, 4095, 4096, UINT64_C(1) << 20,
		(UINT64_C(1) << 32) + 5, (UINT64_C(1) << 48) - 1,
		UINT64_C(1) << 48, UINT64_MAX - 1,
	};
	enum { N = sizeof(idx) / sizeof(idx[0]) };
	struct cache *cache = new_cache(64 << 20, 4096, 0, 0, 3600000);
	struct cache_folio *list[N + 1], *f;
	struct cache_mapping *m;
	unsigned int i, n;

	(void)state;
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	for (i = N; i-- > 0;)
		touch(m, idx[i], i % 3 == 0);
	assert_int_equal(cache_mapping_nr_folios(m), N);

	n = cache_mapping_lookup_range(m, 0, UINT64_MAX, list, N + 1);
	assert_int_equal(n, N);
	for (i = 0; i < n; i++) {
		assert_int_equal(list[i]->index, idx[i]);
		cache_folio_put(list[i]);
	}
	n = cache_mapping_dirty_lookup(m, 0, UINT64_MAX, list, N + 1);
	assert_int_equal(n, (N + 2) / 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(list[i]->index, idx[i * 3]);
		cache_folio_put(list[i]);
	}
	n = cache_mapping_lookup_range(m, 65, UINT64_C(1) << 48, list, N + 1);
	assert_int_equal(n, 5);
	assert_int_equal(list[0]->index, 4095);
	assert_int_equal(list[4]->index, (UINT64_C(1) << 48) - 1);
	for (i = 0; i < n; i++)
		cache_folio_put(list[i]);
	/* @max bounds the result. */
	assert_int_equal(cache_mapping_lookup_range(m, 0, UINT64_MAX, list, 2),
			 2);
	cache_folio_put(list[0]);
	cache_folio_put(list[1]);

	assert_int_equal(cache_folio_get(m, (UINT64_C(1) << 32) + 5, 0, &f), 0);
	cache_folio_put(f);
	assert_int_equal(cache_folio_get(m, (UINT64_C(1) << 32) + 4, 0, &f),
			 -ENOENT);

	cache_mapping_destroy(m);
	assert_int_equal(stats(cache).used_bytes, 0);
	cache_destroy(cache);
}

/*
 * Randomized model check of the index through the public API: folios come
 * and go (remove_range of single folios), some dirty; ordered lookups must
 * match a sorted model.
 */
static void test_index_random(void **state)
{
	enum { KEYS = 600, OPS = 4000 };
	struct cache *cache = new_cache(256 << 20, 4096, 100, 100, 3600000);
	static uint64_t keys[KEYS];
	static signed char present[KEYS]; /* 0 absent, 1 clean, 2 dirty */
	uint64_t seed = test_seed(), s = seed | 1;
	struct cache_mapping *m;
	int i, op;

	(void)state;
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	/* Sorted keys from several regions, including high ones. */
	for (i = 0; i < KEYS; i++) {
		uint64_t region = (uint64_t)(i / 100);

		keys[i] = (region << (9 * region)) + (uint64_t)i * 37;
		if (i && keys[i] <= keys[i - 1])
			keys[i] = keys[i - 1] + 1 + (rnd(&s) % 5);
		present[i] = 0;
	}
	for (op = 0; op < OPS; op++) {
		int k = (int)(rnd(&s) % KEYS);
		unsigned int what = (unsigned int)(rnd(&s) % 4);

		if (what < 2 && !present[k]) {
			touch(m, keys[k], what == 1);
			present[k] = (signed char)(what == 1 ? 2 : 1);
		} else if (what == 2 && present[k]) {
			cache_mapping_remove_range(m, keys[k] << 12,
						   (keys[k] + 1) << 12);
			present[k] = 0;
		} else {
			/* Check the next present and next dirty from k. */
			struct cache_folio *f;
			int j, want = -1, want_dirty = -1;

			for (j = k; j < KEYS; j++) {
				if (present[j] && want < 0)
					want = j;
				if (present[j] == 2 && want_dirty < 0)
					want_dirty = j;
			}
			if (cache_mapping_lookup_range(m, keys[k], UINT64_MAX,
						       &f, 1)) {
				assert_int_equal(f->index, keys[want]);
				cache_folio_put(f);
			} else {
				assert_int_equal(want, -1);
			}
			if (cache_mapping_dirty_lookup(m, keys[k], UINT64_MAX,
						       &f, 1)) {
				assert_int_equal(f->index, keys[want_dirty]);
				cache_folio_put(f);
			} else {
				assert_int_equal(want_dirty, -1);
			}
		}
	}
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

static void test_remove_range(void **state)
{
	/* 16 KiB folios of four 4 KiB blocks. */
	struct cache *cache = new_cache(1 << 20, 16384, 100, 100, 3600000);
	struct cache_folio *f, *held;
	struct cache_mapping *m;
	struct cache_stats st;
	unsigned char *p;
	int i;

	(void)state;
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(cache_folio_get(m, (uint64_t)i,
						 CACHE_FGP_CREAT |
						 CACHE_FGP_LOCK, &f),
				 0);
		memset(f->data, 0xaa, 16384);
		cache_folio_mark_dirty(f, 0, 4);
		cache_folio_unlock(f);
		cache_folio_put(f);
	}
	assert_int_equal(stats(cache).dirty_bytes, 4 * 16384);

	/* Blocks 2..8: folio 0 partly, folio 1 whole, folio 2 partly. */
	cache_mapping_remove_range(m, 2 * 4096, 9 * 4096);
	assert_int_equal(cache_mapping_nr_folios(m), 3);
	assert_int_equal(cache_folio_get(m, 1, 0, &f), -ENOENT);
	st = stats(cache);
	assert_int_equal(st.dirty_bytes, (2 + 3 + 4) * 4096);
	assert_int_equal(st.used_bytes, 3 * 16384);

	assert_int_equal(cache_folio_get(m, 0, CACHE_FGP_LOCK, &f), 0);
	assert_int_equal(f->dirty, 0x3);
	assert_int_equal(f->uptodate, 0x3);
	p = f->data;
	for (i = 0; i < 16384; i++)
		assert_int_equal(p[i], i < 8192 ? 0xaa : 0);
	cache_folio_unlock(f);
	cache_folio_put(f);
	assert_int_equal(cache_folio_get(m, 2, CACHE_FGP_LOCK, &f), 0);
	assert_int_equal(f->dirty, 0xe);
	assert_int_equal(f->uptodate, 0xe);
	p = f->data;
	for (i = 0; i < 16384; i++)
		assert_int_equal(p[i], i < 4096 ? 0 : 0xaa);
	cache_folio_unlock(f);
	cache_folio_put(f);

	/* A folio removed while referenced is freed at the last put. */
	assert_int_equal(cache_folio_get(m, 3, 0, &held), 0);
	cache_mapping_remove_range(m, 12 * 4096, UINT64_MAX);
	assert_int_equal(cache_folio_get(m, 3, 0, &f), -ENOENT);
	st = stats(cache);
	assert_int_equal(st.dirty_bytes, (2 + 3) * 4096);
	assert_int_equal(st.used_bytes, 3 * 16384);
	assert_int_equal(cache_mapping_nr_folios(m), 2);
	cache_folio_put(held);
	assert_int_equal(stats(cache).used_bytes, 2 * 16384);

	/* Empty and out-of-range removals change nothing. */
	cache_mapping_remove_range(m, 4096, 4096);
	cache_mapping_remove_range(m, 100 * 16384, 200 * 16384);
	assert_int_equal(cache_mapping_nr_folios(m), 2);

	cache_mapping_remove_range(m, 0, UINT64_MAX);
	st = stats(cache);
	assert_int_equal(st.dirty_bytes, 0);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(cache_mapping_nr_folios(m), 0);
	assert_false(cache_mapping_has_dirty(m));
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

struct wb_waiter {
	struct cache_mapping *mapping;
	struct cache_folio *folio;
	volatile int *ended;
	int saw_ended;
};

static void *remover_main(void *arg)
{
	struct wb_waiter *w = arg;

	cache_mapping_remove_range(w->mapping, 0, UINT64_MAX);
	w->saw_ended = *w->ended;
	return NULL;
}

static void *wbwait_main(void *arg)
{
	struct wb_waiter *w = arg;

	cache_folio_wait_writeback(w->folio);
	w->saw_ended = *w->ended;
	cache_folio_put(w->folio); /* the reference main handed over */
	return NULL;
}

static void test_writeback_bit(void **state)
{
	struct cache *cache = new_cache(1 << 20, 4096, 100, 100, 3600000);
	struct cache_mapping *m;
	struct cache_folio *f;
	volatile int ended = 0;
	struct wb_waiter w1, w2;
	pthread_t t1, t2;

	(void)state;
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	assert_int_equal(cache_folio_get(m, 7, CACHE_FGP_CREAT | CACHE_FGP_LOCK,
					 &f),
			 0);
	cache_folio_mark_dirty(f, 0, 1);
	cache_folio_clear_dirty(f, 0, 1);
	assert_false(cache_folio_under_writeback(f));
	cache_folio_start_writeback(f);
	assert_true(cache_folio_under_writeback(f));
	cache_folio_unlock(f);
	/* Our reference goes to the waiter thread, which puts it. */

	w1 = (struct wb_waiter){ .mapping = m, .folio = f, .ended = &ended };
	w2 = w1;
	assert_int_equal(pthread_create(&t1, NULL, wbwait_main, &w1), 0);
	assert_int_equal(pthread_create(&t2, NULL, remover_main, &w2), 0);
	usleep(20000); /* let them block; not needed for correctness */
	assert_int_equal(cache_mapping_nr_folios(m), 1);
	ended = 1;
	cache_folio_end_writeback(f);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	assert_int_equal(w1.saw_ended, 1);
	assert_int_equal(w2.saw_ended, 1);
	assert_int_equal(cache_mapping_nr_folios(m), 0);
	assert_int_equal(stats(cache).used_bytes, 0);
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

/* ------------------------------------------------------------------------ */
/* Reclaim                                                                   */
/* ------------------------------------------------------------------------ */

static void test_reclaim_lru(void **state)
{
	enum { FS = 16384, BUDGET = 8 * FS };
	struct cache *cache = new_cache(BUDGET, FS, 0, 0, 3600000);
	struct cache_mapping *m;
	struct cache_folio *f;
	struct cache_stats st;
	uint64_t i;

	(void)state;
	fake_reset(WB_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	for (i = 0; i < 100; i++) {
		touch(m, i, false);
		st = stats(cache);
		assert_true(st.used_bytes <= BUDGET);
		assert_true(st.nr_folios <= 8);
	}
	st = stats(cache);
	assert_int_equal(st.reclaimed, 92);
	/* The most recent eight survive. */
	for (i = 92; i < 100; i++) {
		assert_int_equal(cache_folio_get(m, i, 0, &f), 0);
		cache_folio_put(f);
	}
	/* Use 92 again: 93 becomes the coldest and goes first. */
	assert_int_equal(cache_folio_get(m, 92, 0, &f), 0);
	cache_folio_put(f);
	touch(m, 200, false);
	assert_int_equal(cache_folio_get(m, 93, 0, &f), -ENOENT);
	assert_int_equal(cache_folio_get(m, 92, 0, &f), 0);
	cache_folio_put(f);

	/* A referenced folio is never reclaimed. */
	assert_int_equal(cache_folio_get(m, 94, 0, &f), 0);
	for (i = 300; i < 320; i++)
		touch(m, i, false);
	assert_int_equal(cache_folio_get(m, 94, 0, &f), 0);
	cache_folio_put(f);
	cache_folio_put(f);
	assert_int_equal(fo.calls, 0); /* clean data never needed writeback */
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

/* Dirty folios are never reclaimed; without writeback progress the cache
 * goes over budget instead of deadlocking, and NOWAIT says -EAGAIN. */
static void test_reclaim_dirty_kept(void **state)
{
	enum { FS = 16384, BUDGET = 4 * FS };
	struct cache *cache = new_cache(BUDGET, FS, 100, 100, 3600000);
	struct cache_mapping *m;
	struct cache_folio *f;
	struct cache_stats st;
	uint64_t i;
	int owner;

	(void)state;
	fake_reset(WB_NOTHING);
	assert_int_equal(cache_mapping_create(cache, 12, &owner, &m), 0);
	for (i = 0; i < 4; i++)
		touch(m, i, true);
	assert_int_equal(cache_folio_get(m, 10, CACHE_FGP_CREAT |
					 CACHE_FGP_NOWAIT, &f),
			 -EAGAIN);
	touch(m, 4, true); /* waits for a flusher pass, then over budget */
	st = stats(cache);
	assert_int_equal(st.nr_folios, 5);
	assert_int_equal(st.used_bytes, 5 * FS);
	assert_int_equal(st.dirty_bytes, 5 * FS);
	assert_int_equal(st.reclaimed, 0);
	pthread_mutex_lock(&fo.mu);
	assert_true(fo.calls >= 1);
	assert_true(fo.sync_calls >= 1);
	assert_ptr_equal(fo.last_owner, &owner);
	pthread_mutex_unlock(&fo.mu);
	for (i = 0; i < 5; i++) {
		assert_int_equal(cache_folio_get(m, i, 0, &f), 0);
		assert_int_equal(f->dirty, 0xf);
		cache_folio_put(f);
	}
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

/* Memory pressure makes the flusher clean dirty folios, which reclaim then
 * frees: usage stays within the budget. */
static void test_reclaim_after_writeback(void **state)
{
	enum { FS = 16384, BUDGET = 4 * FS };
	struct cache *cache = new_cache(BUDGET, FS, 100, 100, 3600000);
	struct cache_mapping *m;
	struct cache_stats st;
	uint64_t i;

	(void)state;
	fake_reset(WB_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	for (i = 0; i < 20; i++) {
		touch(m, i, true);
		st = stats(cache);
		assert_true(st.used_bytes <= BUDGET);
	}
	st = stats(cache);
	assert_true(st.reclaimed >= 16);
	assert_true(fo.sync_calls >= 1);
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

struct churner {
	struct cache *cache;
	struct cache_mapping *mapping;
	uint64_t seed;
};

static void *churner_main(void *arg)
{
	struct churner *c = arg;
	uint64_t s = c->seed | 1;
	int i;

	for (i = 0; i < 3000; i++) {
		uint64_t idx = rnd(&s) % 64;
		struct cache_folio *f;
		int ret;

		ret = cache_folio_get(c->mapping, idx, CACHE_FGP_CREAT |
				      CACHE_FGP_LOCK, &f);
		if (ret)
			continue;
		if (rnd(&s) % 4 == 0)
			cache_folio_mark_dirty(f, 0, 1);
		else
			cache_folio_mark_uptodate(f, 0, 1);
		if (rnd(&s) % 8 == 0)
			cache_folio_clear_dirty(f, 0, 4);
		cache_folio_unlock(f);
		cache_folio_put(f);
		if (i % 50 == 0)
			cache_mapping_remove_range(c->mapping,
						   (idx << 14), (idx + 2) << 14);
		cache_balance_dirty(c->cache);
	}
	return NULL;
}

/* Threads creating, dirtying, removing, reclaiming on shared mappings. */
static void test_concurrent_churn(void **state)
{
	enum { T = 6, FS = 16384 };
	struct cache *cache = new_cache(16 * FS, FS, 10, 30, 1);
	struct cache_mapping *m[2];
	struct churner ch[T];
	pthread_t th[T];
	struct cache_stats st;
	uint64_t seed = test_seed();
	int i;

	(void)state;
	fake_reset(WB_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m[0]), 0);
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m[1]), 0);
	for (i = 0; i < T; i++) {
		ch[i] = (struct churner){ .cache = cache, .mapping = m[i % 2],
					  .seed = seed + (uint64_t)i };
		assert_int_equal(pthread_create(&th[i], NULL, churner_main,
						&ch[i]),
				 0);
	}
	for (i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	st = stats(cache);
	assert_int_equal(st.used_bytes, st.nr_folios * FS);
	assert_int_equal(st.nr_folios, cache_mapping_nr_folios(m[0]) +
				       cache_mapping_nr_folios(m[1]));
	cache_mapping_destroy(m[0]);
	cache_mapping_destroy(m[1]);
	st = stats(cache);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.dirty_bytes, 0);
	cache_destroy(cache);
}

/* ------------------------------------------------------------------------ */
/* Flusher and throttling                                                    */
/* ------------------------------------------------------------------------ */

static void test_flusher_expiry(void **state)
{
	struct cache *cache = new_cache(1 << 20, 4096, 100, 100, 20);
	struct cache_mapping *m;
	int owner;

	(void)state;
	fake_reset(WB_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, &owner, &m), 0);
	touch(m, 1, true);
	/* Nothing else asks for writeback: the one-second tick must. */
	pthread_mutex_lock(&fo.mu);
	while (fo.calls == 0 || fo.in_callback)
		pthread_cond_wait(&fo.cv, &fo.mu);
	assert_ptr_equal(fo.last_owner, &owner);
	assert_int_equal(fo.sync_calls, 0);
	pthread_mutex_unlock(&fo.mu);
	assert_false(cache_mapping_has_dirty(m));
	/* The pass is counted when it ends, just after the callback. */
	while (stats(cache).flusher_runs < 1)
		usleep(1000);
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

/* Over the background threshold: written back although not expired. */
static void test_flusher_background(void **state)
{
	enum { FS = 4096 };
	struct cache *cache = new_cache(100 * FS, FS, 5, 100, 3600000);
	struct cache_mapping *m;
	uint64_t i;

	(void)state;
	fake_reset(WB_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	for (i = 0; i < 10; i++)
		touch(m, i, true);
	cache_balance_dirty(cache); /* wakes the flusher, does not wait */
	pthread_mutex_lock(&fo.mu);
	while (fo.calls == 0 || fo.in_callback)
		pthread_cond_wait(&fo.cv, &fo.mu);
	assert_int_equal(fo.sync_calls, 0);
	pthread_mutex_unlock(&fo.mu);
	assert_int_equal(stats(cache).dirty_bytes, 0);
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

struct balancer {
	struct cache *cache;
	volatile int *gate_opened;
	int saw_gate;
	size_t dirty_after;
};

static void *balancer_main(void *arg)
{
	struct balancer *b = arg;

	cache_balance_dirty(b->cache);
	b->saw_gate = *b->gate_opened;
	b->dirty_after = stats(b->cache).dirty_bytes;
	return NULL;
}

static void open_gate(volatile int *flag)
{
	pthread_mutex_lock(&fo.mu);
	while (!fo.in_callback)
		pthread_cond_wait(&fo.cv, &fo.mu);
	*flag = 1;
	fo.gate_open = true;
	pthread_cond_broadcast(&fo.cv);
	pthread_mutex_unlock(&fo.mu);
}

static void test_balance_dirty(void **state)
{
	enum { FS = 4096 };
	struct cache *cache = new_cache(100 * FS, FS, 10, 20, 3600000);
	volatile int gate_opened = 0;
	struct cache_mapping *m;
	struct balancer b;
	pthread_t th;
	uint64_t i;

	(void)state;
	fake_reset(WB_GATE_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	for (i = 0; i < 30; i++)
		touch(m, i, true);
	b = (struct balancer){ .cache = cache, .gate_opened = &gate_opened };
	assert_int_equal(pthread_create(&th, NULL, balancer_main, &b), 0);
	open_gate(&gate_opened);
	pthread_join(th, NULL);
	assert_int_equal(b.saw_gate, 1);
	assert_true(b.dirty_after <= 20 * FS);
	pthread_mutex_lock(&fo.mu);
	assert_true(fo.sync_calls >= 1);
	pthread_mutex_unlock(&fo.mu);

	/* Under the limit: returns at once. */
	cache_balance_dirty(cache);
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

/* Writeback that always fails must not block writers forever. */
static void test_balance_dirty_failing_writeback(void **state)
{
	enum { FS = 4096 };
	struct cache *cache = new_cache(100 * FS, FS, 10, 20, 3600000);
	struct cache_mapping *m;
	uint64_t i;

	(void)state;
	fake_reset(WB_FAIL);
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	for (i = 0; i < 30; i++)
		touch(m, i, true);
	cache_balance_dirty(cache);
	cache_balance_dirty(cache);
	assert_int_equal(stats(cache).dirty_bytes, 30 * FS);
	pthread_mutex_lock(&fo.mu);
	assert_true(fo.calls >= 1);
	pthread_mutex_unlock(&fo.mu);
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

struct destroyer {
	struct cache_mapping *mapping;
	volatile int *gate_opened;
	int saw_gate;
};

static void *destroyer_main(void *arg)
{
	struct destroyer *d = arg;

	cache_mapping_destroy(d->mapping);
	d->saw_gate = *d->gate_opened;
	return NULL;
}

static void test_destroy_waits_for_writeback(void **state)
{
	struct cache *cache = new_cache(1 << 20, 4096, 100, 100, 1);
	volatile int gate_opened = 0;
	struct cache_mapping *m;
	struct destroyer d;
	pthread_t th;

	(void)state;
	fake_reset(WB_GATE_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, NULL, &m), 0);
	touch(m, 0, true);
	cache_wake_flusher(cache);
	pthread_mutex_lock(&fo.mu);
	while (!fo.in_callback)
		pthread_cond_wait(&fo.cv, &fo.mu);
	pthread_mutex_unlock(&fo.mu);

	d = (struct destroyer){ .mapping = m, .gate_opened = &gate_opened };
	assert_int_equal(pthread_create(&th, NULL, destroyer_main, &d), 0);
	usleep(20000); /* let it block; not needed for correctness */
	open_gate(&gate_opened);
	pthread_join(th, NULL);
	assert_int_equal(d.saw_gate, 1);
	assert_int_equal(stats(cache).used_bytes, 0);
	cache_destroy(cache);
}

/*
 * cache_mapping_start_writeback(): a dirty mapping that is neither expired
 * nor over the background threshold is written back soon, by the flusher,
 * not sync_all, and the caller does not wait for it.
 */
static void test_start_writeback(void **state)
{
	struct cache *cache = new_cache(1 << 20, 4096, 100, 100, 600000);
	struct cache_mapping *m;
	int owner;

	(void)state;
	fake_reset(WB_GATE_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, &owner, &m), 0);
	touch(m, 3, true);
	cache_mapping_start_writeback(m);
	/* Queued twice while busy or pending: still one call for this data. */
	cache_mapping_start_writeback(m);
	pthread_mutex_lock(&fo.mu);
	while (!fo.in_callback)
		pthread_cond_wait(&fo.cv, &fo.mu);
	/* The caller did not wait: the callback is still gated. */
	assert_true(cache_mapping_has_dirty(m));
	assert_ptr_equal(fo.last_owner, &owner);
	assert_int_equal(fo.sync_calls, 0);
	fo.gate_open = true;
	pthread_cond_broadcast(&fo.cv);
	while (fo.in_callback)
		pthread_cond_wait(&fo.cv, &fo.mu);
	pthread_mutex_unlock(&fo.mu);
	assert_false(cache_mapping_has_dirty(m));

	/* A clean mapping is not queued: no callback. */
	cache_mapping_start_writeback(m);
	usleep(50000);
	pthread_mutex_lock(&fo.mu);
	assert_true(fo.calls >= 1 && fo.calls <= 2);
	{
		unsigned int calls = fo.calls;

		pthread_mutex_unlock(&fo.mu);
		usleep(50000);
		pthread_mutex_lock(&fo.mu);
		assert_int_equal(fo.calls, calls);
	}
	pthread_mutex_unlock(&fo.mu);
	cache_mapping_destroy(m);
	cache_destroy(cache);
}

/*
 * A mapping queued behind a busy one and then destroyed leaves the queue
 * without a callback (ASan: no use after free by the flusher).
 */
static void test_start_writeback_destroy(void **state)
{
	struct cache *cache = new_cache(1 << 20, 4096, 100, 100, 600000);
	volatile int gate_opened = 0;
	struct cache_mapping *a, *b;
	int owner_a, owner_b;

	(void)state;
	fake_reset(WB_GATE_CLEAN);
	assert_int_equal(cache_mapping_create(cache, 12, &owner_a, &a), 0);
	assert_int_equal(cache_mapping_create(cache, 12, &owner_b, &b), 0);
	touch(a, 0, true);
	touch(b, 0, true);
	cache_mapping_start_writeback(a);
	pthread_mutex_lock(&fo.mu);
	while (!fo.in_callback)
		pthread_cond_wait(&fo.cv, &fo.mu);
	assert_ptr_equal(fo.last_owner, &owner_a);
	pthread_mutex_unlock(&fo.mu);

	cache_mapping_start_writeback(b);
	cache_mapping_destroy(b);	/* dirty data discarded; dequeued */
	assert_int_equal(stats(cache).dirty_bytes, 4096);

	open_gate(&gate_opened);
	pthread_mutex_lock(&fo.mu);
	while (fo.in_callback)
		pthread_cond_wait(&fo.cv, &fo.mu);
	pthread_mutex_unlock(&fo.mu);
	assert_false(cache_mapping_has_dirty(a));
	usleep(50000);
	pthread_mutex_lock(&fo.mu);
	assert_int_equal(fo.calls, 1);
	assert_ptr_equal(fo.last_owner, &owner_a);
	pthread_mutex_unlock(&fo.mu);
	cache_mapping_destroy(a);
	cache_destroy(cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_rw),
		cmocka_unit_test(test_mem_batch),
		cmocka_unit_test(test_mem_past_end),
		cmocka_unit_test(test_mem_fault),
		cmocka_unit_test(test_mem_concurrent),
		cmocka_unit_test(test_mem_overlay),
		cmocka_unit_test(test_mem_overlay_concurrent),
		cmocka_unit_test(test_file_overlay),
		cmocka_unit_test(test_file_buffered_or_default),
		cmocka_unit_test(test_file_direct),
		cmocka_unit_test(test_file_tmpfs),
		cmocka_unit_test(test_file_uses_uring),
		cmocka_unit_test(test_file_no_uring),
		cmocka_unit_test(test_file_open_errors),
		cmocka_unit_test(test_file_offset),
		cmocka_unit_test(test_file_short_read),
		cmocka_unit_test(test_file_big_batch),
		cmocka_unit_test(test_file_concurrent),
		cmocka_unit_test(test_cache_config),
		cmocka_unit_test(test_folio_get_put),
		cmocka_unit_test(test_folio_lock),
		cmocka_unit_test(test_dirty_accounting),
		cmocka_unit_test(test_sparse_index),
		cmocka_unit_test(test_index_random),
		cmocka_unit_test(test_remove_range),
		cmocka_unit_test(test_writeback_bit),
		cmocka_unit_test(test_reclaim_lru),
		cmocka_unit_test(test_reclaim_dirty_kept),
		cmocka_unit_test(test_reclaim_after_writeback),
		cmocka_unit_test(test_concurrent_churn),
		cmocka_unit_test(test_flusher_expiry),
		cmocka_unit_test(test_flusher_background),
		cmocka_unit_test(test_balance_dirty),
		cmocka_unit_test(test_balance_dirty_failing_writeback),
		cmocka_unit_test(test_destroy_waits_for_writeback),
		cmocka_unit_test(test_start_writeback),
		cmocka_unit_test(test_start_writeback_destroy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
