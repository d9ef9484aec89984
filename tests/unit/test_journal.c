// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_journal.c — unit tests of journal/'s io_manager and its
 * metadata cache, over the in-memory engine (align 1) and over real image
 * files made with mkfs.ext4 (O_DIRECT where the host allows it, so the
 * rounding and read-modify-write paths run): name registry, block and byte
 * I/O, write_byte, unaligned ranges, cache hits/misses, eviction under a
 * small budget, invalidation, zeroout, readahead, options, fault injection
 * through cache_bdev_set_fault, channel refcounts, and libext2fs building a
 * directory tree through the manager that e2fsck -fn and debugfs accept.
 *
 * Temporary files go to $UEXT4_TEST_TMPDIR (set by meson) or /var/tmp.
 * Randomized tests print their seed; set UEXT4_TEST_SEED to reproduce.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "journal.h"

#define MEM_SIZE ((uint64_t)1 << 20)

/* ---- helpers --------------------------------------------------------------- */

static void fill_pattern(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)((seed * 131 + i * 7 + (i >> 9)) & 0xff);
}

static bool check_pattern(const void *buf, size_t len, uint64_t seed)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)((seed * 131 + i * 7 + (i >> 9)) &
					    0xff))
			return false;
	return true;
}

static bool all_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static const char *tmpdir(void)
{
	const char *d = getenv("UEXT4_TEST_TMPDIR");

	return d && *d ? d : "/var/tmp";
}

static uint64_t test_seed(void)
{
	const char *s = getenv("UEXT4_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);

	printf("# seed %llu (UEXT4_TEST_SEED to reproduce)\n",
	       (unsigned long long)seed);
	return seed ? seed : 1;
}

static uint64_t rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Open a channel on a fresh registration of @bdev (unregistered at once). */
static io_channel open_channel(struct cache_bdev *bdev, size_t budget,
			       int blksize)
{
	struct journal_io_config cfg = { .cache_budget = budget };
	char name[JOURNAL_IO_NAME_MAX];
	io_channel ch = NULL;

	assert_int_equal(journal_io_register(bdev, &cfg, name, sizeof(name)),
			 0);
	assert_int_equal(journal_io_manager()->open(name, IO_FLAG_RW, &ch), 0);
	assert_int_equal(journal_io_unregister(name), 0);
	assert_non_null(ch);
	assert_ptr_equal(journal_io_bdev(ch), bdev);
	if (blksize)
		assert_int_equal(io_channel_set_blksize(ch, blksize), 0);
	return ch;
}

static struct journal_io_stats stats_of(io_channel ch)
{
	struct journal_io_stats st;

	assert_int_equal(journal_io_get_stats(ch, &st), 0);
	return st;
}

/* An image file of @mb MiB made by mkfs.ext4 with @opts; NULL to skip. */
static char *make_image(const char *opts, unsigned int mb)
{
	char path[4096], cmd[8192];
	int fd;

	snprintf(path, sizeof(path), "%s/test_journal.XXXXXX", tmpdir());
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F %s '%s' %uM >/dev/null 2>&1",
		 opts ? opts : "", path, mb);
	if (system(cmd) != 0) {
		unlink(path);
		return NULL;
	}
	return strdup(path);
}

static void remove_image(char *path)
{
	unlink(path);
	free(path);
}

/* Run "@tool @args '@path'", output in @out. Return: exit status. */
static int run(const char *tool, const char *args, const char *path,
	       char *out, size_t outlen)
{
	char cmd[8192];
	FILE *f;
	size_t n = 0;
	int status;

	snprintf(cmd, sizeof(cmd), "%s %s '%s' 2>&1", tool, args, path);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (out) {
		n = fread(out, 1, outlen - 1, f);
		out[n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- registry -------------------------------------------------------------- */

static void test_registry(void **state)
{
	struct cache_bdev *bdev;
	char a[JOURNAL_IO_NAME_MAX], b[JOURNAL_IO_NAME_MAX], tiny[4];
	io_channel ch = NULL;
	io_manager m = journal_io_manager();

	(void)state;
	assert_int_equal(m->magic, EXT2_ET_MAGIC_IO_MANAGER);
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	assert_int_equal(journal_io_register(bdev, NULL, a, sizeof(a)), 0);
	assert_int_equal(journal_io_register(bdev, NULL, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_null(strchr(a, '?'));	/* ext2fs_open2 splits names at '?' */
	assert_int_equal(journal_io_register(bdev, NULL, tiny, sizeof(tiny)),
			 -ENAMETOOLONG);

	assert_int_equal(m->open("uext4-journal:nope", 0, &ch),
			 EXT2_ET_BAD_DEVICE_NAME);
	assert_int_equal(m->open(NULL, 0, &ch), EXT2_ET_BAD_DEVICE_NAME);
	assert_int_equal(journal_io_unregister("nope"), -ENOENT);

	assert_int_equal(m->open(a, IO_FLAG_RW, &ch), 0);
	assert_int_equal(ch->magic, EXT2_ET_MAGIC_IO_CHANNEL);
	assert_string_equal(ch->name, a);
	assert_int_equal(ch->block_size, 1024);
	assert_int_equal(journal_io_unregister(a), 0);
	/* the channel keeps the device; the name is gone */
	{
		io_channel ch2 = NULL;

		assert_int_equal(m->open(a, 0, &ch2), EXT2_ET_BAD_DEVICE_NAME);
		assert_null(ch2);
	}
	assert_int_equal(io_channel_close(ch), 0);
	assert_int_equal(journal_io_unregister(b), 0);
	assert_int_equal(journal_io_unregister(b), -ENOENT);

	/* not our channel */
	assert_null(journal_io_bdev(NULL));
	journal_io_invalidate(NULL, 0, 1);
	assert_int_equal(journal_io_set_cache_budget(NULL, 1), -EINVAL);
	cache_bdev_close(bdev);
}

/* ---- block and byte I/O over memory --------------------------------------- */

static void test_mem_block_io(void **state)
{
	struct cache_bdev *bdev;
	io_channel ch;
	char *w = malloc(16384), *r = malloc(16384), raw[4096];
	io_stats ios = NULL;

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 0, 4096);

	fill_pattern(w, 16384, 3);
	assert_int_equal(io_channel_write_blk64(ch, 10, 4, w), 0);
	/* write-back: the device has it after a flush */
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(cache_bdev_pread(bdev, raw, 4096, 11 * 4096), 0);
	assert_memory_equal(raw, w + 4096, 4096);
	memset(r, 0, 16384);
	assert_int_equal(io_channel_read_blk64(ch, 10, 4, r), 0);
	assert_true(check_pattern(r, 16384, 3));
	assert_int_equal(io_channel_read_blk(ch, 11, 1, r), 0);
	assert_memory_equal(r, w + 4096, 4096);

	/* byte counts: count < 0 is -count bytes */
	fill_pattern(w, 100, 4);
	assert_int_equal(io_channel_write_blk64(ch, 20, -100, w), 0);
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(cache_bdev_pread(bdev, raw, 4096, 20 * 4096), 0);
	assert_memory_equal(raw, w, 100);
	assert_true(all_zero(raw + 100, 4096 - 100));
	memset(r, 0xff, 200);
	assert_int_equal(io_channel_read_blk64(ch, 20, -150, r), 0);
	assert_memory_equal(r, w, 100);
	assert_true(all_zero(r + 100, 50));
	assert_int_equal((unsigned char)r[150], 0xff);

	/* write_byte at an odd offset: only those bytes change */
	assert_int_equal(io_channel_write_byte(ch, 10 * 4096 + 777, 5,
					       "HELLO"), 0);
	assert_int_equal(io_channel_read_blk64(ch, 10, 1, r), 0);
	fill_pattern(w, 16384, 3);
	assert_memory_equal(r, w, 777);
	assert_memory_equal(r + 777, "HELLO", 5);
	assert_memory_equal(r + 782, w + 782, 4096 - 782);

	/* past the end */
	memset(r, 0xaa, 4096);
	assert_int_equal(io_channel_read_blk64(ch, MEM_SIZE / 4096, 1, r),
			 EXT2_ET_SHORT_READ);
	assert_true(all_zero(r, 4096));
	assert_int_equal(io_channel_write_blk64(ch, MEM_SIZE / 4096 - 1, 2, w),
			 EXT2_ET_SHORT_WRITE);
	assert_int_equal(io_channel_write_byte(ch, MEM_SIZE - 2, 4, "abcd"),
			 EXT2_ET_SHORT_WRITE);
	assert_int_equal(io_channel_read_blk64(ch, ~0ull, 1, r),
			 EXT2_ET_SHORT_READ);

	assert_int_equal(ch->manager->get_stats(ch, &ios), 0);
	assert_non_null(ios);
	assert_true(ios->bytes_written >= 16384 + 100 + 5);
	assert_true(ios->bytes_read >= 16384 + 4096 + 150);
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(io_channel_discard(ch, 0, 1), EXT2_ET_UNIMPLEMENTED);
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
	free(w);
	free(r);
}

/* ---- the cache --------------------------------------------------------------- */

static void test_cache_hits_and_batches(void **state)
{
	struct cache_bdev *bdev;
	struct journal_io_stats st0, st;
	io_channel ch;
	char *w = malloc(8 * 4096), *r = malloc(8 * 4096), raw[4096];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	fill_pattern(w, 8 * 4096, 9);
	assert_int_equal(cache_bdev_pwrite(bdev, w, 8 * 4096, 4 * 4096), 0);
	ch = open_channel(bdev, 0, 4096);
	st0 = stats_of(ch);
	assert_int_equal(st0.granule, 4096);
	assert_int_equal(st0.budget, JOURNAL_IO_CACHE_DEFAULT);
	assert_int_equal(st0.nr_blocks, 0);

	assert_int_equal(io_channel_read_blk64(ch, 5, 1, r), 0);
	assert_int_equal(io_channel_read_blk64(ch, 5, 1, r), 0);
	st = stats_of(ch);
	assert_int_equal(st.misses - st0.misses, 1);
	assert_int_equal(st.hits - st0.hits, 1);
	assert_int_equal(st.dev_reads - st0.dev_reads, 1);
	assert_memory_equal(r, w + 4096, 4096);

	/* blocks 4..11 with 5 cached: misses 4 and 6..11 in one batch */
	st0 = st;
	assert_int_equal(io_channel_read_blk64(ch, 4, 8, r), 0);
	assert_true(check_pattern(r, 8 * 4096, 9));
	st = stats_of(ch);
	assert_int_equal(st.hits - st0.hits, 1);
	assert_int_equal(st.misses - st0.misses, 7);
	assert_int_equal(st.dev_reads - st0.dev_reads, 2);	/* 2 runs */
	assert_int_equal(st.nr_blocks, 8);
	assert_int_equal(st.cached_bytes, 8 * 4096);

	/* all cached now: no device read */
	st0 = st;
	assert_int_equal(io_channel_read_blk64(ch, 4, 8, r), 0);
	st = stats_of(ch);
	assert_int_equal(st.dev_reads, st0.dev_reads);
	assert_int_equal(st.hits - st0.hits, 8);

	/* a write updates the cached copy, and the device at the flush */
	fill_pattern(w, 4096, 10);
	assert_int_equal(io_channel_write_blk64(ch, 6, 1, w), 0);
	st0 = stats_of(ch);
	assert_int_equal(io_channel_read_blk64(ch, 6, 1, r), 0);
	assert_true(check_pattern(r, 4096, 10));
	assert_int_equal(stats_of(ch).dev_reads, st0.dev_reads);
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(cache_bdev_pread(bdev, raw, 4096, 6 * 4096), 0);
	assert_true(check_pattern(raw, 4096, 10));

	/* rewriting the same bytes costs no device write */
	st0 = stats_of(ch);
	assert_int_equal(io_channel_write_blk64(ch, 6, 1, w), 0);
	assert_int_equal(io_channel_write_byte(ch, 6 * 4096 + 100, 8,
					       w + 100), 0);
	st = stats_of(ch);
	assert_int_equal(st.dev_writes, st0.dev_writes);
	assert_int_equal(st.unchanged - st0.unchanged, 2);
	w[100] ^= 1;
	assert_int_equal(io_channel_write_byte(ch, 6 * 4096 + 100, 8,
					       w + 100), 0);
	assert_int_equal(stats_of(ch).dev_writes, st.dev_writes);
	assert_int_equal(stats_of(ch).nr_dirty, 1);
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(stats_of(ch).dev_writes - st.dev_writes, 1);
	assert_int_equal(cache_bdev_pread(bdev, raw, 4096, 6 * 4096), 0);
	assert_memory_equal(raw, w, 4096);

	/* a new block written whole is cached (write-allocate) */
	assert_int_equal(io_channel_write_blk64(ch, 100, 1, w), 0);
	st0 = stats_of(ch);
	assert_int_equal(io_channel_read_blk64(ch, 100, 1, r), 0);
	assert_int_equal(stats_of(ch).hits - st0.hits, 1);

	/* an unaligned byte read spanning cached and uncached blocks */
	assert_int_equal(io_channel_read_blk64(ch, 0, 0, r), 0);
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
	free(w);
	free(r);
}

static void test_eviction(void **state)
{
	struct cache_bdev *bdev;
	struct journal_io_stats st, st0;
	io_channel ch;
	char r[1024];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 4 * 1024, 1024);
	for (unsigned int b = 0; b < 10; b++)
		assert_int_equal(io_channel_read_blk64(ch, b, 1, r), 0);
	st = stats_of(ch);
	assert_int_equal(st.nr_blocks, 4);
	assert_int_equal(st.cached_bytes, 4 * 1024);
	assert_int_equal(st.evictions, 6);

	/* LRU: 9 is there, 0 is not; a hit refreshes */
	st0 = st;
	assert_int_equal(io_channel_read_blk64(ch, 6, 1, r), 0);
	assert_int_equal(stats_of(ch).hits - st0.hits, 1);
	assert_int_equal(io_channel_read_blk64(ch, 10, 1, r), 0); /* evicts 7 */
	st0 = stats_of(ch);
	assert_int_equal(io_channel_read_blk64(ch, 6, 1, r), 0);
	assert_int_equal(stats_of(ch).hits - st0.hits, 1);
	st0 = stats_of(ch);
	assert_int_equal(io_channel_read_blk64(ch, 7, 1, r), 0);
	assert_int_equal(stats_of(ch).misses - st0.misses, 1);

	/* shrinking the budget evicts at once; 0 disables */
	assert_int_equal(journal_io_set_cache_budget(ch, 2 * 1024), 0);
	assert_int_equal(stats_of(ch).nr_blocks, 2);
	assert_int_equal(io_channel_set_options(ch, "cache_budget=0"), 0);
	st = stats_of(ch);
	assert_int_equal(st.nr_blocks, 0);
	assert_int_equal(st.budget, 0);
	assert_int_equal(io_channel_read_blk64(ch, 3, 1, r), 0);
	assert_int_equal(stats_of(ch).nr_blocks, 0);

	/* a read bigger than half the budget is served but not cached */
	assert_int_equal(journal_io_set_cache_budget(ch, 8 * 1024), 0);
	{
		char big[16 * 1024];

		assert_int_equal(io_channel_read_blk64(ch, 20, 16, big), 0);
		assert_int_equal(stats_of(ch).nr_blocks, 0);
	}
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
}

static void test_invalidate(void **state)
{
	struct cache_bdev *bdev;
	io_channel ch;
	char w[4096], r[4096];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 0, 4096);
	fill_pattern(w, 4096, 1);
	assert_int_equal(io_channel_write_blk64(ch, 7, 1, w), 0);
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(io_channel_read_blk64(ch, 8, 1, r), 0);

	/* file data written straight to the engine (as cache/ does) */
	fill_pattern(w, 4096, 2);
	assert_int_equal(cache_bdev_pwrite(bdev, w, 4096, 7 * 4096), 0);
	assert_int_equal(cache_bdev_pwrite(bdev, w, 4096, 8 * 4096), 0);
	assert_int_equal(io_channel_read_blk64(ch, 7, 1, r), 0);
	assert_true(check_pattern(r, 4096, 1));	/* stale, as expected */

	journal_io_invalidate(ch, 7, 2);
	assert_int_equal(stats_of(ch).invalidated, 2);
	assert_int_equal(io_channel_read_blk64(ch, 7, 1, r), 0);
	assert_true(check_pattern(r, 4096, 2));
	assert_int_equal(io_channel_read_blk64(ch, 8, 1, r), 0);
	assert_true(check_pattern(r, 4096, 2));

	/*
	 * The lifecycle the io_manager exists for: metadata block 9 is
	 * freed, handed to file data (invalidated), written by cache/,
	 * freed again and rewritten as metadata with its old bytes. That
	 * write must reach the device, not be skipped as "unchanged".
	 */
	fill_pattern(w, 4096, 3);
	assert_int_equal(io_channel_write_blk64(ch, 9, 1, w), 0);
	journal_io_invalidate(ch, 9, 1);
	fill_pattern(r, 4096, 4);
	assert_int_equal(cache_bdev_pwrite(bdev, r, 4096, 9 * 4096), 0);
	assert_int_equal(io_channel_write_blk64(ch, 9, 1, w), 0);
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(cache_bdev_pread(bdev, r, 4096, 9 * 4096), 0);
	assert_true(check_pattern(r, 4096, 3));

	/* a huge range walks the entries instead of the blocks */
	journal_io_invalidate(ch, 0, UINT64_MAX);
	assert_int_equal(stats_of(ch).nr_blocks, 0);
	journal_io_invalidate(ch, UINT64_MAX, 1);	/* no overflow */
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
}

static void test_zeroout_readahead_options(void **state)
{
	struct cache_bdev *bdev;
	struct journal_io_stats st0;
	io_channel ch;
	char *w = malloc(8 * 4096), *r = malloc(8 * 4096);

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 0, 4096);
	fill_pattern(w, 8 * 4096, 5);
	assert_int_equal(io_channel_write_blk64(ch, 0, 8, w), 0);
	assert_int_equal(io_channel_read_blk64(ch, 0, 8, r), 0);
	assert_int_equal(io_channel_zeroout(ch, 2, 3), 0);
	assert_int_equal(io_channel_read_blk64(ch, 0, 8, r), 0);
	assert_memory_equal(r, w, 2 * 4096);
	assert_true(all_zero(r + 2 * 4096, 3 * 4096));
	assert_memory_equal(r + 5 * 4096, w + 5 * 4096, 3 * 4096);
	assert_int_equal(cache_bdev_pread(bdev, r, 4096, 3 * 4096), 0);
	assert_true(all_zero(r, 4096));
	assert_int_equal(io_channel_zeroout(ch, MEM_SIZE / 4096, 1),
			 EXT2_ET_SHORT_WRITE);

	st0 = stats_of(ch);
	assert_int_equal(io_channel_cache_readahead(ch, 40, 10), 0);
	assert_int_equal(stats_of(ch).nr_blocks - st0.nr_blocks, 10);
	st0 = stats_of(ch);
	assert_int_equal(io_channel_read_blk64(ch, 40, 8, r), 0);
	assert_int_equal(stats_of(ch).dev_reads, st0.dev_reads);

	assert_int_equal(io_channel_set_options(ch, "offset=0"), 0);
	assert_int_equal(io_channel_set_options(ch, "offset=512"),
			 EXT2_ET_INVALID_ARGUMENT);
	assert_int_equal(io_channel_set_options(ch, "offset"),
			 EXT2_ET_INVALID_ARGUMENT);
	assert_int_equal(io_channel_set_options(ch, "bogus=1"),
			 EXT2_ET_INVALID_ARGUMENT);
	assert_int_equal(io_channel_set_options(ch, "cache_budget=-1"),
			 EXT2_ET_INVALID_ARGUMENT);
	assert_int_equal(io_channel_set_options(ch, "cache_budget=65536"), 0);
	assert_int_equal(stats_of(ch).budget, 65536);
	assert_int_equal(io_channel_set_blksize(ch, 0),
			 EXT2_ET_INVALID_ARGUMENT);
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
	free(w);
	free(r);
}

/* ---- faults ------------------------------------------------------------------ */

struct fault_ctx {
	bool reads;
	bool writes;
	unsigned int hits;
};

static int fault_fn(void *arg, const struct cache_bio *bio)
{
	struct fault_ctx *f = arg;

	if ((bio->write && f->writes) || (!bio->write && f->reads)) {
		f->hits++;
		return -EIO;
	}
	return 0;
}

static int read_error_calls;

static errcode_t read_error_hook(io_channel ch, unsigned long block,
				 int count, void *data, size_t size,
				 int actual, errcode_t error)
{
	(void)ch;
	(void)data;
	(void)actual;
	assert_int_equal(block, 30);
	assert_int_equal(count, 1);
	assert_int_equal(size, 4096);
	assert_int_equal(error, EIO);
	read_error_calls++;
	return EXT2_ET_SHORT_READ;
}

static void test_faults(void **state)
{
	struct cache_bdev *bdev;
	struct fault_ctx f = { 0 };
	io_channel ch;
	char w[4096], r[4096];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 0, 4096);
	fill_pattern(w, 4096, 1);
	assert_int_equal(io_channel_write_blk64(ch, 30, 1, w), 0);
	assert_int_equal(io_channel_flush(ch), 0);
	journal_io_invalidate(ch, 30, 1);
	cache_bdev_set_fault(bdev, fault_fn, &f);

	f.reads = true;
	memset(r, 0xaa, sizeof(r));
	assert_int_equal(io_channel_read_blk64(ch, 30, 1, r), EIO);
	assert_true(all_zero(r, sizeof(r)));
	ch->read_error = read_error_hook;
	assert_int_equal(io_channel_read_blk64(ch, 30, 1, r),
			 EXT2_ET_SHORT_READ);
	assert_int_equal(read_error_calls, 1);
	ch->read_error = NULL;
	f.reads = false;
	assert_int_equal(io_channel_read_blk64(ch, 30, 1, r), 0);
	assert_memory_equal(r, w, 4096);

	/*
	 * A failed write that goes to the device at once (zeroout) drops
	 * the clean cached copy: reads show the device. (Deferred writes
	 * fail at the flush: test_wb_write_error.)
	 */
	f.writes = true;
	assert_int_equal(io_channel_zeroout(ch, 30, 1), EIO);
	f.writes = false;
	assert_int_equal(io_channel_read_blk64(ch, 30, 1, r), 0);
	fill_pattern(w, 4096, 1);
	assert_memory_equal(r, w, 4096);
	assert_true(f.hits >= 3);
	cache_bdev_set_fault(bdev, NULL, NULL);
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
}

/* ---- channels ------------------------------------------------------------------ */

static void test_channels_share(void **state)
{
	struct cache_bdev *bdev;
	char name[JOURNAL_IO_NAME_MAX], w[4096], r[4096];
	io_channel a = NULL, b = NULL;
	io_manager m = journal_io_manager();

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	assert_int_equal(journal_io_register(bdev, NULL, name, sizeof(name)),
			 0);
	assert_int_equal(m->open(name, IO_FLAG_RW, &a), 0);
	assert_int_equal(m->open(name, IO_FLAG_RW, &b), 0);
	assert_int_equal(io_channel_set_blksize(a, 4096), 0);
	assert_int_equal(io_channel_set_blksize(b, 4096), 0);

	/* b caches block 3, a rewrites it: b sees the new bytes */
	assert_int_equal(io_channel_read_blk64(b, 3, 1, r), 0);
	fill_pattern(w, 4096, 8);
	assert_int_equal(io_channel_write_blk64(a, 3, 1, w), 0);
	assert_int_equal(io_channel_read_blk64(b, 3, 1, r), 0);
	assert_memory_equal(r, w, 4096);

	/* a channel with another block size works on the same bytes */
	assert_int_equal(io_channel_set_blksize(b, 1024), 0);
	assert_int_equal(stats_of(a).granule, 4096);
	assert_int_equal(io_channel_read_blk64(b, 13, 1, r), 0);
	assert_memory_equal(r, w + 1024, 1024);
	assert_int_equal(io_channel_write_blk64(b, 14, -10, "0123456789"), 0);
	assert_int_equal(io_channel_read_blk64(a, 3, 1, r), 0);
	assert_memory_equal(r + 2048, "0123456789", 10);

	/* refcounts: bump, close twice */
	io_channel_bumpcount(a);
	assert_int_equal(io_channel_close(a), 0);
	assert_int_equal(io_channel_read_blk64(a, 3, 1, r), 0);
	assert_int_equal(io_channel_close(a), 0);
	assert_int_equal(journal_io_unregister(name), 0);
	assert_int_equal(io_channel_read_blk64(b, 12, 4, r), 0);
	assert_int_equal(io_channel_close(b), 0);
	cache_bdev_close(bdev);
}

/* Readers and an invalidator at once (TSan/ASan food; data stays right). */
struct race_ctx {
	io_channel ch;
	atomic_bool stop;
};

static void *invalidator(void *arg)
{
	struct race_ctx *rc = arg;
	uint64_t s = 7;

	while (!atomic_load(&rc->stop))
		journal_io_invalidate(rc->ch, rnd(&s) % 64, 1 + rnd(&s) % 4);
	return NULL;
}

static void test_invalidate_race(void **state)
{
	struct cache_bdev *bdev;
	struct race_ctx rc;
	pthread_t t;
	char *w = malloc(64 * 1024), r[1024];
	uint64_t seed = test_seed(), s = seed;

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	fill_pattern(w, 64 * 1024, seed);
	assert_int_equal(cache_bdev_pwrite(bdev, w, 64 * 1024, 0), 0);
	rc.ch = open_channel(bdev, 16 * 1024, 1024);
	atomic_init(&rc.stop, false);
	assert_int_equal(pthread_create(&t, NULL, invalidator, &rc), 0);
	for (int i = 0; i < 20000; i++) {
		uint64_t b = rnd(&s) % 64;

		assert_int_equal(io_channel_read_blk64(rc.ch, b, 1, r), 0);
		assert_memory_equal(r, w + b * 1024, 1024);
	}
	atomic_store(&rc.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(io_channel_close(rc.ch), 0);
	cache_bdev_close(bdev);
	free(w);
}

/* ---- write-back ---------------------------------------------------------------- */

/* Records every write bio the engine sees (cache_bdev_set_fault's hook). */
struct bio_log {
	unsigned int writes;
	uint64_t pos[64];
	size_t len[64];
	bool fail;		/* fail writes with -EIO */
};

static int bio_log_fn(void *arg, const struct cache_bio *bio)
{
	struct bio_log *l = arg;

	if (!bio->write)
		return 0;
	if (l->writes < 64) {
		l->pos[l->writes] = bio->pos;
		l->len[l->writes] = bio->len;
	}
	l->writes++;
	return l->fail ? -EIO : 0;
}

/* Open a channel with a writeback interval of @interval_ms. */
static io_channel open_channel_wb(struct cache_bdev *bdev, size_t budget,
				  int blksize, unsigned int interval_ms)
{
	struct journal_io_config cfg = { .cache_budget = budget,
					 .writeback_interval_ms = interval_ms };
	char name[JOURNAL_IO_NAME_MAX];
	io_channel ch = NULL;

	assert_int_equal(journal_io_register(bdev, &cfg, name, sizeof(name)),
			 0);
	assert_int_equal(journal_io_manager()->open(name, IO_FLAG_RW, &ch), 0);
	assert_int_equal(journal_io_unregister(name), 0);
	assert_int_equal(io_channel_set_blksize(ch, blksize), 0);
	return ch;
}

/* Does the device hold pattern @seed at block @blk (@bs bytes)? */
static bool dev_has(struct cache_bdev *bdev, uint64_t blk, size_t bs,
		    uint64_t seed)
{
	char raw[4096];

	assert_int_equal(cache_bdev_pread(bdev, raw, bs, blk * bs), 0);
	return check_pattern(raw, bs, seed);
}

/* Writes stay in memory until the flush, which sends one sorted batch. */
static void test_wb_deferred_batch(void **state)
{
	static const uint64_t blks[] = { 20, 11, 5, 10, 12, 21 };
	struct cache_bdev *bdev;
	struct bio_log log = { 0 };
	struct journal_io_stats st0, st;
	io_channel ch;
	char w[4096], r[4096];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 0, 4096);
	cache_bdev_set_fault(bdev, bio_log_fn, &log);
	st0 = stats_of(ch);
	for (size_t i = 0; i < 6; i++) {
		fill_pattern(w, 4096, blks[i]);
		assert_int_equal(io_channel_write_blk64(ch, blks[i], 1, w), 0);
	}
	/* a partial write of an uncached block: read in, then dirty */
	assert_int_equal(io_channel_write_byte(ch, 30 * 4096 + 10, 3, "abc"),
			 0);
	assert_int_equal(log.writes, 0);
	st = stats_of(ch);
	assert_int_equal(st.nr_dirty, 7);
	assert_int_equal(st.dirty_bytes, 7 * 4096);
	assert_int_equal(st.dev_writes, st0.dev_writes);
	for (size_t i = 0; i < 6; i++) {
		assert_false(dev_has(bdev, blks[i], 4096, blks[i]));
		/* reads see the dirty copy */
		assert_int_equal(io_channel_read_blk64(ch, blks[i], 1, r), 0);
		assert_true(check_pattern(r, 4096, blks[i]));
	}
	assert_int_equal(cache_bdev_pread(bdev, r, 4096, 30 * 4096), 0);
	assert_true(all_zero(r, 4096));

	assert_int_equal(io_channel_flush(ch), 0);
	/* runs 5, 10-12, 20-21, 30: four bios in one batch, sorted */
	assert_int_equal(log.writes, 4);
	assert_int_equal(log.pos[0], 5 * 4096);
	assert_int_equal(log.len[0], 4096);
	assert_int_equal(log.pos[1], 10 * 4096);
	assert_int_equal(log.len[1], 3 * 4096);
	assert_int_equal(log.pos[2], 20 * 4096);
	assert_int_equal(log.len[2], 2 * 4096);
	assert_int_equal(log.pos[3], 30 * 4096);
	st = stats_of(ch);
	assert_int_equal(st.wb_batches - st0.wb_batches, 1);
	assert_int_equal(st.writebacks - st0.writebacks, 7);
	assert_int_equal(st.nr_dirty, 0);
	assert_int_equal(st.nr_blocks, 7);	/* still cached, clean */
	for (size_t i = 0; i < 6; i++)
		assert_true(dev_has(bdev, blks[i], 4096, blks[i]));
	assert_int_equal(cache_bdev_pread(bdev, r, 4096, 30 * 4096), 0);
	assert_memory_equal(r + 10, "abc", 3);

	/* nothing dirty: a flush writes nothing */
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(log.writes, 4);
	cache_bdev_set_fault(bdev, NULL, NULL);
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
}

/* Under a budget of 4 blocks, dirty blocks are written before dropped. */
static void test_wb_eviction(void **state)
{
	struct cache_bdev *bdev;
	struct bio_log log = { 0 };
	struct journal_io_stats st;
	unsigned int ondev = 0;
	io_channel ch;
	char w[1024], r[1024];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 4 * 1024, 1024);
	cache_bdev_set_fault(bdev, bio_log_fn, &log);
	for (uint64_t b = 0; b < 40; b++) {
		fill_pattern(w, 1024, 100 + b);
		assert_int_equal(io_channel_write_blk64(ch, b, 1, w), 0);
		st = stats_of(ch);
		assert_true(st.nr_blocks <= 4);
		assert_true(st.nr_dirty <= 3);
	}
	st = stats_of(ch);
	assert_true(st.evictions > 0);
	assert_true(st.writebacks >= 40 - 3);
	/* batches of the oldest blocks, not one write per block */
	assert_true(st.wb_batches < 40);
	assert_true(log.writes < 40);
	for (uint64_t b = 0; b < 40; b++)
		ondev += dev_has(bdev, b, 1024, 100 + b);
	assert_int_equal(ondev, 40 - st.nr_dirty);
	/* nothing lost: every block reads back, cached or from the device */
	for (uint64_t b = 0; b < 40; b++) {
		assert_int_equal(io_channel_read_blk64(ch, b, 1, r), 0);
		assert_true(check_pattern(r, 1024, 100 + b));
	}
	assert_int_equal(io_channel_flush(ch), 0);
	for (uint64_t b = 0; b < 40; b++)
		assert_true(dev_has(bdev, b, 1024, 100 + b));

	/* a budget of 0: everything written back, then write-through */
	fill_pattern(w, 1024, 7);
	assert_int_equal(io_channel_write_blk64(ch, 50, 1, w), 0);
	assert_false(dev_has(bdev, 50, 1024, 7));
	assert_int_equal(journal_io_set_cache_budget(ch, 0), 0);
	assert_true(dev_has(bdev, 50, 1024, 7));
	fill_pattern(w, 1024, 8);
	assert_int_equal(io_channel_write_blk64(ch, 51, 1, w), 0);
	assert_true(dev_has(bdev, 51, 1024, 8));
	cache_bdev_set_fault(bdev, NULL, NULL);
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
}

/* Dirty data older than the interval goes home at the next write call. */
static void test_wb_age(void **state)
{
	struct cache_bdev *bdev;
	io_channel ch;
	char w[4096];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel_wb(bdev, 0, 4096, 50);
	fill_pattern(w, 4096, 1);
	assert_int_equal(io_channel_write_blk64(ch, 3, 1, w), 0);
	fill_pattern(w, 4096, 2);
	assert_int_equal(io_channel_write_blk64(ch, 9, 1, w), 0);
	assert_false(dev_has(bdev, 3, 4096, 1));
	usleep(80 * 1000);
	assert_false(dev_has(bdev, 3, 4096, 1));	/* lazily: no thread */
	fill_pattern(w, 4096, 3);
	assert_int_equal(io_channel_write_blk64(ch, 4, 1, w), 0);
	/* all dirty blocks went, the young one with the old ones */
	assert_true(dev_has(bdev, 3, 4096, 1));
	assert_true(dev_has(bdev, 9, 4096, 2));
	assert_true(dev_has(bdev, 4, 4096, 3));
	assert_int_equal(stats_of(ch).nr_dirty, 0);
	assert_int_equal(stats_of(ch).wb_batches, 1);

	/* the default interval is seconds: nothing goes early */
	assert_int_equal(io_channel_close(ch), 0);
	ch = open_channel(bdev, 0, 4096);
	fill_pattern(w, 4096, 4);
	assert_int_equal(io_channel_write_blk64(ch, 3, 1, w), 0);
	usleep(80 * 1000);
	assert_int_equal(io_channel_write_blk64(ch, 4, 1, w), 0);
	assert_false(dev_has(bdev, 3, 4096, 4));
	assert_int_equal(stats_of(ch).nr_dirty, 2);
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
}

/* A dirty block handed to file data is dropped, never written. */
static void test_wb_invalidate_drops(void **state)
{
	struct cache_bdev *bdev;
	struct bio_log log = { 0 };
	struct journal_io_stats st;
	io_channel ch;
	char w[4096], r[4096];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 0, 4096);
	fill_pattern(w, 4096, 1);
	assert_int_equal(io_channel_write_blk64(ch, 7, 1, w), 0);
	assert_int_equal(io_channel_write_blk64(ch, 8, 1, w), 0);
	journal_io_invalidate(ch, 7, 1);
	st = stats_of(ch);
	assert_int_equal(st.dropped_dirty, 1);
	assert_int_equal(st.nr_dirty, 1);
	/* file data written straight to the engine (as cache/ does) */
	fill_pattern(w, 4096, 2);
	assert_int_equal(cache_bdev_pwrite(bdev, w, 4096, 7 * 4096), 0);
	cache_bdev_set_fault(bdev, bio_log_fn, &log);
	assert_int_equal(io_channel_flush(ch), 0);
	assert_int_equal(log.writes, 1);		/* block 8 only */
	assert_int_equal(log.pos[0], 8 * 4096);
	assert_true(dev_has(bdev, 7, 4096, 2));
	assert_int_equal(io_channel_read_blk64(ch, 7, 1, r), 0);
	assert_true(check_pattern(r, 4096, 2));
	/* and close writes nothing either */
	assert_int_equal(io_channel_write_blk64(ch, 7, 1, w + 0), 0);
	fill_pattern(w, 4096, 3);
	assert_int_equal(io_channel_write_blk64(ch, 7, 1, w), 0);
	journal_io_invalidate(ch, 0, UINT64_MAX);
	assert_int_equal(io_channel_close(ch), 0);
	assert_int_equal(log.writes, 1);
	assert_true(dev_has(bdev, 7, 4096, 2));
	cache_bdev_set_fault(bdev, NULL, NULL);
	cache_bdev_close(bdev);
}

/* The last close of a channel writes everything back. */
static void test_wb_close(void **state)
{
	struct cache_bdev *bdev;
	io_channel ch;
	char w[4096];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel(bdev, 0, 4096);
	fill_pattern(w, 4096, 5);
	assert_int_equal(io_channel_write_blk64(ch, 40, 1, w), 0);
	io_channel_bumpcount(ch);
	assert_int_equal(io_channel_close(ch), 0);
	assert_false(dev_has(bdev, 40, 4096, 5));	/* still referenced */
	assert_int_equal(io_channel_close(ch), 0);
	assert_true(dev_has(bdev, 40, 4096, 5));

	/* a channel that asks for write-through gets it */
	ch = open_channel(bdev, 0, 4096);
	ch->flags |= CHANNEL_FLAGS_WRITETHROUGH;
	fill_pattern(w, 4096, 6);
	assert_int_equal(io_channel_write_blk64(ch, 41, 1, w), 0);
	assert_true(dev_has(bdev, 41, 4096, 6));
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
}

static int write_error_calls;

static errcode_t write_error_hook(io_channel ch, unsigned long block,
				  int count, const void *data, size_t size,
				  int actual, errcode_t error)
{
	(void)ch;
	assert_int_equal(block, 30);
	assert_int_equal(count, 2);
	assert_int_equal(size, 8192);
	assert_int_equal(actual, -1);
	assert_int_equal(error, EIO);
	assert_true(check_pattern(data, 8192, 30));
	write_error_calls++;
	return error;
}

/* Deferred write failures: reported by the next flush, kept, retried. */
static void test_wb_write_error(void **state)
{
	struct cache_bdev *bdev;
	struct bio_log log = { 0 };
	struct journal_io_stats st;
	io_channel ch;
	char w[8192], r[8192];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	ch = open_channel_wb(bdev, 0, 4096, 20);
	cache_bdev_set_fault(bdev, bio_log_fn, &log);
	log.fail = true;
	fill_pattern(w, 8192, 30);
	assert_int_equal(io_channel_write_blk64(ch, 30, 2, w), 0);
	ch->write_error = write_error_hook;
	assert_int_equal(io_channel_flush(ch), EIO);
	assert_int_equal(write_error_calls, 1);
	assert_int_equal(log.writes, 1);		/* one attempt */
	st = stats_of(ch);
	assert_int_equal(st.wb_failed, 2);
	assert_int_equal(st.nr_dirty, 2);		/* kept dirty */
	assert_int_equal(io_channel_read_blk64(ch, 30, 2, r), 0);
	assert_true(check_pattern(r, 8192, 30));	/* the new bytes */
	/* retried once per flush, never in a loop */
	assert_int_equal(io_channel_flush(ch), EIO);
	assert_int_equal(log.writes, 2);
	assert_int_equal(write_error_calls, 2);
	ch->write_error = NULL;

	/* a failure in a writeback run by a write call waits for the flush */
	usleep(40 * 1000);
	assert_int_equal(io_channel_write_blk64(ch, 50, 1, w), 0); /* aged */
	assert_int_equal(log.writes, 4);		/* 30-31, 50: failed */
	log.fail = false;
	assert_int_equal(io_channel_write_blk64(ch, 51, 1, w), 0); /* young */
	assert_int_equal(log.writes, 4);
	assert_int_equal(io_channel_flush(ch), EIO);	/* reported once... */
	assert_int_equal(log.writes, 6);		/* 30-31, 50-51 */
	assert_true(dev_has(bdev, 30, 4096, 30));
	assert_int_equal(stats_of(ch).nr_dirty, 0);
	assert_int_equal(io_channel_flush(ch), 0);	/* ...then gone */

	/* close with a failing device reports the error */
	assert_int_equal(io_channel_write_blk64(ch, 60, 1, w + 1), 0);
	log.fail = true;
	assert_int_equal(io_channel_close(ch), EIO);
	cache_bdev_set_fault(bdev, NULL, NULL);
	cache_bdev_close(bdev);
}

/*
 * A writeback in flight and an invalidation of its blocks, followed at
 * once by file data on them (as extent/ allocates and cache/ writes):
 * the data must be what stays on the device. The writeback's bios are
 * slowed down to widen the window.
 */
struct wb_race {
	io_channel ch;
	struct cache_bdev *bdev;
	atomic_int slow;
};

static int slow_writes_fn(void *arg, const struct cache_bio *bio)
{
	struct wb_race *wr = arg;

	if (bio->write && atomic_load(&wr->slow))
		usleep(200);
	return 0;
}

static void *wb_race_flusher(void *arg)
{
	struct wb_race *wr = arg;

	assert_int_equal(io_channel_flush(wr->ch), 0);
	return NULL;
}

static void test_wb_invalidate_race(void **state)
{
	struct cache_bdev *bdev;
	struct wb_race wr;
	uint64_t seed = test_seed(), s = seed;
	char w[1024], d[1024];

	(void)state;
	assert_int_equal(cache_bdev_open_memory(MEM_SIZE, &bdev), 0);
	wr.bdev = bdev;
	wr.ch = open_channel(bdev, 0, 1024);
	atomic_init(&wr.slow, 1);
	cache_bdev_set_fault(bdev, slow_writes_fn, &wr);
	fill_pattern(d, sizeof(d), 999);
	for (int iter = 0; iter < 100; iter++) {
		pthread_t t;
		uint64_t b0 = rnd(&s) % 32;

		/* dirty metadata in blocks 0..63, every other one a run */
		for (uint64_t b = 0; b < 64; b += 1 + (b & 1)) {
			fill_pattern(w, sizeof(w), b + 1);
			assert_int_equal(io_channel_write_blk64(wr.ch, b, 1, w),
					 0);
		}
		assert_int_equal(pthread_create(&t, NULL, wb_race_flusher, &wr),
				 0);
		if (iter & 1)
			usleep((useconds_t)(rnd(&s) % 400));
		/* blocks b0..b0+31 become file data */
		for (uint64_t b = b0; b < b0 + 32; b++) {
			journal_io_invalidate(wr.ch, b, 1);
			assert_int_equal(cache_bdev_pwrite(bdev, d, sizeof(d),
							   b * 1024), 0);
		}
		pthread_join(t, NULL);
		for (uint64_t b = b0; b < b0 + 32; b++)
			assert_true(dev_has(bdev, b, 1024, 999));
		/* blocks 0..63 are metadata again for the next round */
	}
	cache_bdev_set_fault(bdev, NULL, NULL);
	assert_int_equal(io_channel_close(wr.ch), 0);
	cache_bdev_close(bdev);
}

/* ---- real images ----------------------------------------------------------------- */

/* Byte I/O with the file's real O_DIRECT alignment (RMW, rounding). */
static void test_file_unaligned(void **state)
{
	char *img = make_image("-b 1024", 8);
	struct cache_bdev *bdev;
	io_channel ch;
	char *w = malloc(20000), *r = malloc(21024);
	uint64_t seed = test_seed(), s = seed;
	int fd;

	(void)state;
	if (!img)
		skip();
	assert_int_equal(cache_bdev_open(img, 0, false, &bdev), 0);
	printf("# O_DIRECT %s, align %zu\n",
	       cache_bdev_direct(bdev) ? "on" : "off", cache_bdev_align(bdev));
	ch = open_channel(bdev, 64 * 1024, 1024);	/* granule < align */
	fd = open(img, O_RDONLY);
	assert_true(fd >= 0);
	for (int i = 0; i < 200; i++) {
		uint64_t pos = 2 * 1024 * 1024 + rnd(&s) % (4u << 20);
		size_t len = 1 + rnd(&s) % 20000;

		fill_pattern(w, len, seed + (uint64_t)i);
		if (i % 3)	/* block-addressed: starts on a block */
			pos -= pos % 1024;
		if (i % 3 == 0)
			assert_int_equal(io_channel_write_byte(ch, pos,
							(int)len, w), 0);
		else
			assert_int_equal(io_channel_write_blk64(ch, pos / 1024,
							-(int)len, w), 0);
		/* the file (read buffered, after the engine's writes) */
		assert_int_equal(io_channel_flush(ch), 0);
		assert_int_equal(pread(fd, r, len, (off_t)pos), (ssize_t)len);
		assert_true(check_pattern(r, len, seed + (uint64_t)i));
		/* and through the channel (cache + rounding) */
		memset(r, 0, len + 1024);
		assert_int_equal(io_channel_read_blk64(ch, pos / 1024,
					-(int)(len + pos % 1024), r), 0);
		assert_true(check_pattern(r + pos % 1024, len,
					  seed + (uint64_t)i));
	}
	close(fd);
	assert_int_equal(io_channel_close(ch), 0);
	cache_bdev_close(bdev);
	remove_image(img);
	free(w);
	free(r);
}

/* Build a small tree with libext2fs through the manager. */
static void populate(ext2_filsys fs, unsigned int nfiles)
{
	ext2_ino_t dir, ino;
	char name[64];
	errcode_t err;

	assert_int_equal(ext2fs_read_bitmaps(fs), 0);
	assert_int_equal(ext2fs_mkdir(fs, EXT2_ROOT_INO, 0, "dir1"), 0);
	assert_int_equal(ext2fs_lookup(fs, EXT2_ROOT_INO, "dir1", 4, NULL,
				       &dir), 0);
	for (unsigned int i = 0; i < nfiles; i++) {
		struct ext2_inode inode;

		assert_int_equal(ext2fs_new_inode(fs, dir, LINUX_S_IFREG | 0644,
						  NULL, &ino), 0);
		snprintf(name, sizeof(name), "file-%04u-with-a-longish-name", i);
		err = ext2fs_link(fs, dir, name, ino, EXT2_FT_REG_FILE);
		if (err == EXT2_ET_DIR_NO_SPACE) {
			assert_int_equal(ext2fs_expand_dir(fs, dir), 0);
			err = ext2fs_link(fs, dir, name, ino, EXT2_FT_REG_FILE);
		}
		assert_int_equal(err, 0);
		memset(&inode, 0, sizeof(inode));
		inode.i_mode = LINUX_S_IFREG | 0644;
		inode.i_links_count = 1;
		inode.i_atime = inode.i_ctime = inode.i_mtime =
			(uint32_t)time(NULL);
		assert_int_equal(ext2fs_write_new_inode(fs, ino, &inode), 0);
		ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
	}
	assert_int_equal(ext2fs_mkdir(fs, dir, 0, "sub"), 0);
}

static void image_roundtrip(const char *mkfs_opts, uint64_t offset,
			    size_t budget)
{
	char *img = make_image(mkfs_opts, 32);
	struct cache_bdev *bdev;
	struct journal_io_config cfg = { .offset = offset,
					 .cache_budget = budget };
	struct journal_io_stats st;
	char name[JOURNAL_IO_NAME_MAX], opts[64], out[65536];
	ext2_filsys fs = NULL;

	if (!img)
		skip();
	assert_int_equal(cache_bdev_open(img, offset, false, &bdev), 0);
	assert_int_equal(journal_io_register(bdev, &cfg, name, sizeof(name)),
			 0);
	snprintf(opts, sizeof(opts), "offset=%llu",
		 (unsigned long long)offset + 4096);
	assert_int_equal(ext2fs_open2(name, opts, EXT2_FLAG_RW |
				      EXT2_FLAG_64BITS, 0, 0,
				      journal_io_manager(), &fs),
			 EXT2_ET_INVALID_ARGUMENT);
	snprintf(opts, sizeof(opts), "offset=%llu", (unsigned long long)offset);
	assert_int_equal(ext2fs_open2(name, offset ? opts : NULL,
				      EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0,
				      journal_io_manager(), &fs), 0);
	assert_int_equal(journal_io_unregister(name), 0);
	assert_int_equal(fs->super->s_magic, EXT2_SUPER_MAGIC);
	assert_int_equal(fs->io->block_size, (int)fs->blocksize);

	populate(fs, 300);
	st = stats_of(fs->io);
	assert_int_equal(st.granule, fs->blocksize);
	assert_true(st.hits > 0);
	assert_true(st.nr_blocks > 0);
	assert_true(st.nr_dirty > 0);		/* write-back */
	if (budget)
		assert_true(st.writebacks > 0 && st.evictions > 0);
	assert_int_equal(ext2fs_close2(fs, 0), 0);
	cache_bdev_close(bdev);

	if (offset) {
		/* e2fsck/debugfs want the file system at offset 0: copy it */
		char cmd[8192];

		snprintf(cmd, sizeof(cmd),
			 "dd if='%s' of='%s.fs' bs=4096 skip=%llu status=none",
			 img, img, (unsigned long long)offset / 4096);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s.fs", img);
		rename(cmd, img);
	}
	assert_int_equal(run("e2fsck", "-fn", img, out, sizeof(out)),
			 0);
	assert_int_equal(run("debugfs", "-R 'ls -l /dir1'", img, out,
			     sizeof(out)), 0);
	assert_non_null(strstr(out, "file-0000-with-a-longish-name"));
	assert_non_null(strstr(out, "file-0299-with-a-longish-name"));
	assert_non_null(strstr(out, "sub"));
	remove_image(img);
}

static void test_image_4k(void **state)
{
	(void)state;
	image_roundtrip("-b 4096", 0, 0);
}

static void test_image_1k(void **state)
{
	(void)state;
	image_roundtrip("-b 1024 -O ^metadata_csum", 0, 0);
}

static void test_image_offset(void **state)
{
	(void)state;
	image_roundtrip("-b 4096 -E offset=1048576", 1048576, 0);
}

/* A budget of 24 blocks: eviction writes dirty blocks back all along. */
static void test_image_tiny_budget(void **state)
{
	(void)state;
	image_roundtrip("-b 1024", 0, 24 * 1024);
}

/* libext2fs gets errors, not crashes, when the device fails under it. */
static void test_image_faults(void **state)
{
	char *img = make_image("-b 4096", 32);
	struct cache_bdev *bdev;
	struct fault_ctx f = { 0 };
	char name[JOURNAL_IO_NAME_MAX], out[8192];
	struct ext2_inode inode;
	ext2_filsys fs = NULL;
	ext2_ino_t ino;

	(void)state;
	if (!img)
		skip();
	assert_int_equal(cache_bdev_open(img, 0, false, &bdev), 0);
	assert_int_equal(journal_io_register(bdev, NULL, name, sizeof(name)),
			 0);
	f.reads = true;
	cache_bdev_set_fault(bdev, fault_fn, &f);
	assert_int_equal(ext2fs_open2(name, NULL, EXT2_FLAG_RW, 0, 0,
				      journal_io_manager(), &fs), EIO);
	f.reads = false;
	assert_int_equal(ext2fs_open2(name, NULL, EXT2_FLAG_RW |
				      EXT2_FLAG_64BITS, 0, 0,
				      journal_io_manager(), &fs), 0);
	assert_int_equal(journal_io_unregister(name), 0);
	assert_int_equal(ext2fs_read_bitmaps(fs), 0);

	/* an inode table block not read yet */
	journal_io_set_cache_budget(fs->io, 0);
	f.reads = true;
	assert_int_not_equal(ext2fs_read_inode(fs, EXT2_ROOT_INO, &inode), 0);
	f.reads = false;
	journal_io_set_cache_budget(fs->io, JOURNAL_IO_CACHE_DEFAULT);
	assert_int_equal(ext2fs_read_inode(fs, EXT2_ROOT_INO, &inode), 0);

	/* writes fail at close: an error, and the handle stays usable */
	assert_int_equal(ext2fs_new_inode(fs, EXT2_ROOT_INO, 0100644, NULL,
					  &ino), 0);
	assert_int_equal(ext2fs_link(fs, EXT2_ROOT_INO, "afile", ino,
				     EXT2_FT_REG_FILE), 0);
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = 0100644;
	inode.i_links_count = 1;
	f.writes = true;
	/* deferred: the write succeeds, the flush reports the failure */
	assert_int_equal(ext2fs_write_new_inode(fs, ino, &inode), 0);
	assert_int_not_equal(io_channel_flush(fs->io), 0);
	f.writes = false;
	assert_int_equal(ext2fs_write_new_inode(fs, ino, &inode), 0);
	ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
	ext2fs_mark_super_dirty(fs);
	f.writes = true;
	assert_int_not_equal(ext2fs_close2(fs, 0), 0);
	f.writes = false;
	assert_int_equal(ext2fs_close2(fs, 0), 0);
	cache_bdev_set_fault(bdev, NULL, NULL);
	cache_bdev_close(bdev);
	assert_int_equal(run("e2fsck", "-fn", img, out, sizeof(out)),
			 0);
	remove_image(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_mem_block_io),
		cmocka_unit_test(test_cache_hits_and_batches),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_invalidate),
		cmocka_unit_test(test_zeroout_readahead_options),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_channels_share),
		cmocka_unit_test(test_invalidate_race),
		cmocka_unit_test(test_wb_deferred_batch),
		cmocka_unit_test(test_wb_eviction),
		cmocka_unit_test(test_wb_age),
		cmocka_unit_test(test_wb_invalidate_drops),
		cmocka_unit_test(test_wb_close),
		cmocka_unit_test(test_wb_write_error),
		cmocka_unit_test(test_wb_invalidate_race),
		cmocka_unit_test(test_file_unaligned),
		cmocka_unit_test(test_image_4k),
		cmocka_unit_test(test_image_1k),
		cmocka_unit_test(test_image_offset),
		cmocka_unit_test(test_image_tiny_budget),
		cmocka_unit_test(test_image_faults),
	};

	initialize_ext2_error_table();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
