/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_extent.c — the ext4 policy (extent/) against real images:
 * each test makes a small image with mkfs, opens it with libext2fs, creates
 * a regular inode linked into the root, and drives extent/ through a real
 * cache and io_uring bdev on the image file. What extent/ leaves on disk is
 * checked with libext2fs (extent flags, i_size, i_blocks, data read back
 * with ext2fs_file_read) and, at the end of every test that does not damage
 * the image on purpose, with `e2fsck -fn`.
 *
 * The flusher is kept out of the way (long expiry, high thresholds), and
 * every direct libext2fs call of a test holds meta_lock anyway.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "extent.h"

#include <ext2fs/ext3_extents.h>

#define KiB 1024ull
#define MiB (1024ull * 1024)

struct fx {
	char dir[512];
	char img[600];
	ext2_filsys fs;
	struct cache *cache;
	struct cache_bdev *bdev;
	struct extent_fs efs;
	struct extent_inode ei;
	bool ei_live;
	ext2_ino_t ino;
	bool corrupt; /* skip e2fsck at teardown */
};

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Make an image with @mkfs ("mkfs.ext4 -b 4096", ...) of @size bytes. */
static void fx_mkfs(struct fx *f, const char *mkfs, const char *size)
{
	const char *base = getenv("UEXT4_TEST_TMPDIR");

	if (!base || !*base)
		base = "/var/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/uext4-extent.XXXXXX", base);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->img, sizeof(f->img), "%s/img", f->dir);
	assert_int_equal(run("truncate -s %s %s && %s -q -F %s >/dev/null 2>&1",
			     size, f->img, mkfs, f->img), 0);
}

static void fx_open_cfg(struct fx *f, const struct cache_config *cfg);

static void fx_open(struct fx *f)
{
	struct cache_config cfg = {
		.budget_bytes = 64 * MiB,
		.folio_size = 64 * KiB,
		.dirty_background_pct = 90,
		.dirty_limit_pct = 95,
		.expire_ms = 3600 * 1000,
		.ops = extent_cache_ops(),
	};

	fx_open_cfg(f, &cfg);
}

static void fx_open_cfg(struct fx *f, const struct cache_config *cfg)
{
	assert_int_equal(ext2fs_open(f->img, EXT2_FLAG_RW | EXT2_FLAG_64BITS,
				     0, 0, unix_io_manager, &f->fs), 0);
	assert_int_equal(ext2fs_read_bitmaps(f->fs), 0);
	assert_int_equal(cache_bdev_open(f->img, 0, false, &f->bdev), 0);
	assert_int_equal(cache_create(cfg, &f->cache), 0);
	assert_int_equal(extent_fs_init(&f->efs, f->fs, f->cache, f->bdev,
					false, 0), 0);
}

/* Create a regular file @name in the root (extent-mapped if supported). */
static ext2_ino_t fx_new_file(struct fx *f, const char *name)
{
	struct ext2_inode_large inode;
	ext2_ino_t ino;
	errcode_t err;

	extent_meta_lock(&f->efs);
	assert_int_equal(ext2fs_new_inode(f->fs, EXT2_ROOT_INO,
					  LINUX_S_IFREG | 0644, 0, &ino), 0);
	ext2fs_inode_alloc_stats2(f->fs, ino, +1, 0);
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = LINUX_S_IFREG | 0644;
	inode.i_links_count = 1;
	inode.i_atime = inode.i_ctime = inode.i_mtime = (__u32)time(NULL);
	if (ext2fs_has_feature_extents(f->fs->super)) {
		struct ext3_extent_header *eh = (void *)inode.i_block;

		inode.i_flags |= EXT4_EXTENTS_FL;
		eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
		eh->eh_max = ext2fs_cpu_to_le16(4);
	}
	assert_int_equal(ext2fs_write_new_inode(f->fs, ino,
						(struct ext2_inode *)&inode), 0);
	err = ext2fs_link(f->fs, EXT2_ROOT_INO, name, ino, EXT2_FT_REG_FILE);
	if (err == EXT2_ET_DIR_NO_SPACE) {
		assert_int_equal(ext2fs_expand_dir(f->fs, EXT2_ROOT_INO), 0);
		err = ext2fs_link(f->fs, EXT2_ROOT_INO, name, ino,
				  EXT2_FT_REG_FILE);
	}
	assert_int_equal(err, 0);
	assert_int_equal(ext2fs_read_inode_full(f->fs, ino,
						(struct ext2_inode *)&inode,
						sizeof(inode)), 0);
	extent_meta_unlock(&f->efs);
	return ino;
}

static void fx_load(struct fx *f, struct extent_inode *ei, ext2_ino_t ino)
{
	struct ext2_inode_large inode;

	extent_meta_lock(&f->efs);
	assert_int_equal(ext2fs_read_inode_full(f->fs, ino,
						(struct ext2_inode *)&inode,
						sizeof(inode)), 0);
	extent_meta_unlock(&f->efs);
	assert_int_equal(extent_inode_init(&f->efs, ei, ino, &inode), 0);
}

/* A fresh image with one empty file loaded as f->ei. */
static void fx_setup(struct fx *f, const char *mkfs, const char *size)
{
	memset(f, 0, sizeof(*f));
	fx_mkfs(f, mkfs, size);
	fx_open(f);
	f->ino = fx_new_file(f, "file");
	fx_load(f, &f->ei, f->ino);
	f->ei_live = true;
}

/* Drop the in-memory inode (and its cache) and load it again from disk. */
static void fx_reload(struct fx *f)
{
	assert_int_equal(extent_writeback(&f->ei), 0);
	extent_inode_destroy(&f->ei);
	fx_load(f, &f->ei, f->ino);
}

static void fx_teardown(struct fx *f)
{
	if (f->ei_live) {
		if (!f->corrupt)
			assert_int_equal(extent_writeback(&f->ei), 0);
		else
			(void)extent_writeback(&f->ei);
		extent_inode_destroy(&f->ei);
	}
	cache_destroy(f->cache);
	cache_bdev_close(f->bdev);
	extent_fs_fini(&f->efs);
	assert_int_equal(ext2fs_close_free(&f->fs), 0);
	if (!f->corrupt)
		assert_int_equal(run("e2fsck -fn %s >%s/fsck.log 2>&1 || "
				     "{ cat %s/fsck.log; exit 1; }",
				     f->img, f->dir, f->dir), 0);
	run("rm -rf %s", f->dir);
}

static void disk_inode(struct fx *f, ext2_ino_t ino,
		       struct ext2_inode_large *inode)
{
	extent_meta_lock(&f->efs);
	assert_int_equal(ext2fs_read_inode_full(f->fs, ino,
						(struct ext2_inode *)inode,
						sizeof(*inode)), 0);
	extent_meta_unlock(&f->efs);
}

static uint64_t disk_size(struct fx *f, ext2_ino_t ino)
{
	struct ext2_inode_large inode;

	disk_inode(f, ino, &inode);
	return EXT2_I_SIZE(&inode);
}

/* i_blocks in file system blocks. */
static uint64_t disk_blocks(struct fx *f, ext2_ino_t ino)
{
	struct ext2_inode_large inode;
	uint64_t b;

	disk_inode(f, ino, &inode);
	extent_meta_lock(&f->efs);
	b = ext2fs_get_stat_i_blocks(f->fs, (struct ext2_inode *)&inode);
	extent_meta_unlock(&f->efs);
	return b / (f->fs->blocksize / 512);
}

/* Sum the leaf extents' lengths: written in *w, unwritten in *u. */
static void count_extents(struct fx *f, ext2_ino_t ino, uint64_t *w,
			  uint64_t *u, unsigned int *n)
{
	ext2_extent_handle_t h;
	struct ext2fs_extent e;
	errcode_t err;

	*w = *u = 0;
	if (n)
		*n = 0;
	extent_meta_lock(&f->efs);
	assert_int_equal(ext2fs_extent_open(f->fs, ino, &h), 0);
	err = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e);
	while (!err) {
		if (e.e_flags & EXT2_EXTENT_FLAGS_LEAF) {
			if (e.e_flags & EXT2_EXTENT_FLAGS_UNINIT)
				*u += e.e_len;
			else
				*w += e.e_len;
			if (n)
				(*n)++;
		}
		err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &e);
	}
	ext2fs_extent_free(h);
	extent_meta_unlock(&f->efs);
}

/* Read the file through libext2fs (independent of extent/ and the cache). */
static void disk_read(struct fx *f, ext2_ino_t ino, uint64_t pos, void *buf,
		      size_t len)
{
	ext2_file_t file;
	unsigned int got = 0;

	extent_meta_lock(&f->efs);
	assert_int_equal(io_channel_flush(f->fs->io), 0);
	assert_int_equal(ext2fs_file_open(f->fs, ino, 0, &file), 0);
	assert_int_equal(ext2fs_file_llseek(file, pos, EXT2_SEEK_SET, NULL), 0);
	assert_int_equal(ext2fs_file_read(file, buf, (unsigned int)len, &got),
			 0);
	assert_int_equal(got, len);
	ext2fs_file_close(file);
	extent_meta_unlock(&f->efs);
}

static void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 12)) % 251 + 1);
}

static void check_read(struct extent_inode *ei, uint64_t pos,
		       const void *expect, size_t len)
{
	void *buf = malloc(len);

	ssize_t n;

	assert_non_null(buf);
	n = extent_read(ei, pos, buf, len);
	if (n != (ssize_t)len)
		print_message("read at %llu len %zu gave %zd\n",
			      (unsigned long long)pos, len, n);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(buf, expect, len);
	free(buf);
}

/* ---- tests ------------------------------------------------------------- */

static void test_write_read_roundtrip(void **state)
{
	size_t len = 300 * KiB;
	char *buf = malloc(len), *disk = malloc(len);
	struct fx f;
	uint64_t pos;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	fill(buf, len, 1);
	assert_int_equal(extent_write(&f.ei, 0, buf, len, false, &pos),
			 (ssize_t)len);
	assert_int_equal(pos, 0);
	assert_int_equal(atomic_load(&f.ei.size), len);
	check_read(&f.ei, 0, buf, len);
	check_read(&f.ei, 4097, buf + 4097, 10000);
	/* Reads are clamped at the size. */
	assert_int_equal(extent_read(&f.ei, len - 10, disk, 100), 10);
	assert_int_equal(extent_read(&f.ei, len, disk, 100), 0);

	assert_int_equal(extent_fsync(&f.ei, false), 0);
	assert_int_equal(disk_size(&f, f.ino), len);
	assert_int_equal(disk_blocks(&f, f.ino), len / 4096);
	disk_read(&f, f.ino, 0, disk, len);
	assert_memory_equal(disk, buf, len);

	/* Through a cold cache: mapping + device read. */
	fx_reload(&f);
	check_read(&f.ei, 0, buf, len);

	/* Overwrite in the middle, append. */
	fill(buf + 5000, 20000, 2);
	assert_int_equal(extent_write(&f.ei, 5000, buf + 5000, 20000, false,
				      NULL), 20000);
	assert_int_equal(extent_write(&f.ei, 12345, "tail", 4, true, &pos), 4);
	assert_int_equal(pos, len);
	check_read(&f.ei, 0, buf, len);
	check_read(&f.ei, len, "tail", 4);
	fx_reload(&f);
	check_read(&f.ei, 0, buf, len);
	check_read(&f.ei, len, "tail", 4);
	assert_int_equal(disk_size(&f, f.ino), len + 4);
	fx_teardown(&f);
	free(buf);
	free(disk);
}

static void test_unwritten_until_writeback(void **state)
{
	char buf[8192];
	uint64_t w, u;
	unsigned int n;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	fill(buf, sizeof(buf), 3);
	assert_int_equal(extent_write(&f.ei, 0, buf, sizeof(buf), false, NULL),
			 (ssize_t)sizeof(buf));
	count_extents(&f, f.ino, &w, &u, &n);
	assert_int_equal(w, 0);
	assert_int_equal(u, 2);
	assert_int_equal(disk_size(&f, f.ino), 0);
	assert_int_equal(disk_blocks(&f, f.ino), 2);

	/* A second write right after extends the same unwritten extent. */
	assert_int_equal(extent_write(&f.ei, 8192, buf, sizeof(buf), false,
				      NULL), (ssize_t)sizeof(buf));
	count_extents(&f, f.ino, &w, &u, &n);
	assert_int_equal(u, 4);
	assert_int_equal(n, 1);

	assert_int_equal(extent_writeback(&f.ei), 0);
	count_extents(&f, f.ino, &w, &u, &n);
	assert_int_equal(w, 4);
	assert_int_equal(u, 0);
	assert_int_equal(n, 1);
	assert_int_equal(disk_size(&f, f.ino), 16384);
	assert_int_equal(f.ei.disksize, 16384);
	fx_teardown(&f);
}

/*
 * The flusher may write a file back between a writer's copy into the cache
 * and its size update (extent_write raises the size after the engine
 * returns). Replay that interleaving by hand: the data must be written,
 * not dropped as "beyond EOF", and i_disksize must reach the size once
 * nothing is dirty.
 */
static void test_writeback_during_append(void **state)
{
	char buf[8192];
	ssize_t n;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	fill(buf, sizeof(buf), 11);
	pthread_rwlock_wrlock(&f.ei.rwlock);
	n = iomap_file_buffered_write(&f.ei.file, 0, buf, sizeof(buf), 0,
				      f.efs.ops.write, f.efs.ops.write_ops);
	assert_int_equal(n, (ssize_t)sizeof(buf));
	/* The flusher's pass, while the writer holds the rwlock. */
	assert_int_equal(extent_writeback(&f.ei), 0);
	assert_int_equal(disk_size(&f, f.ino), 0);
	atomic_store(&f.ei.size, sizeof(buf));
	pthread_rwlock_unlock(&f.ei.rwlock);
	/* Nothing dirty any more: the next pass settles i_disksize. */
	assert_int_equal(extent_writeback(&f.ei), 0);
	assert_int_equal(disk_size(&f, f.ino), sizeof(buf));
	fx_reload(&f);
	check_read(&f.ei, 0, buf, sizeof(buf));
	fx_teardown(&f);
}

/*
 * Writers on several files through a small cache: the flusher, reclaim
 * and throttling run while sizes grow (the append/writeback race). Each
 * thread writes its file sequentially in random chunks, then rewrites
 * random ranges; everything is checked after a reload. The seed is printed
 * and taken from UEXT4_TEST_SEED.
 */
#define STRESS_THREADS 3
#define STRESS_SIZE (6 * MiB)

struct stress_arg {
	struct extent_inode *ei;
	unsigned char *model;
	unsigned int seed;
	int err;
};

static unsigned int stress_rand(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xffffff;
}

static void *stress_writer(void *p)
{
	struct stress_arg *a = p;
	unsigned int s = a->seed;
	uint64_t pos = 0;
	size_t n;
	int i;

	while (pos < STRESS_SIZE) {
		n = 1 + stress_rand(&s) % (300 * KiB);
		if (n > STRESS_SIZE - pos)
			n = STRESS_SIZE - pos;
		if (extent_write(a->ei, pos, a->model + pos, n, false, NULL) !=
		    (ssize_t)n) {
			a->err = 1;
			return NULL;
		}
		pos += n;
	}
	for (i = 0; i < 100; i++) {
		pos = stress_rand(&s) % STRESS_SIZE;
		n = 1 + stress_rand(&s) % (64 * KiB);
		if (n > STRESS_SIZE - pos)
			n = STRESS_SIZE - pos;
		for (size_t k = 0; k < n; k++)
			a->model[pos + k] = (unsigned char)stress_rand(&s);
		if (extent_write(a->ei, pos, a->model + pos, n, false, NULL) !=
		    (ssize_t)n) {
			a->err = 1;
			return NULL;
		}
	}
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	struct cache_config cfg = {
		.budget_bytes = 4 * MiB,
		.folio_size = 64 * KiB,
		.dirty_background_pct = 10,
		.dirty_limit_pct = 30,
		.expire_ms = 5,
		.ops = extent_cache_ops(),
	};
	struct extent_inode ei[STRESS_THREADS];
	struct stress_arg arg[STRESS_THREADS];
	pthread_t th[STRESS_THREADS];
	ext2_ino_t ino[STRESS_THREADS];
	unsigned int seed = (unsigned int)time(NULL);
	char name[16];
	struct fx f;
	int t;

	(void)state;
	if (getenv("UEXT4_TEST_SEED"))
		seed = (unsigned int)strtoul(getenv("UEXT4_TEST_SEED"), NULL, 0);
	print_message("test_concurrent_writers: seed %u\n", seed);
	memset(&f, 0, sizeof(f));
	fx_mkfs(&f, "mkfs.ext4 -b 4096", "128M");
	fx_open_cfg(&f, &cfg);
	for (t = 0; t < STRESS_THREADS; t++) {
		snprintf(name, sizeof(name), "w%d", t);
		ino[t] = fx_new_file(&f, name);
		fx_load(&f, &ei[t], ino[t]);
		arg[t].ei = &ei[t];
		arg[t].model = malloc(STRESS_SIZE);
		assert_non_null(arg[t].model);
		arg[t].seed = seed + (unsigned int)t;
		arg[t].err = 0;
		for (size_t k = 0; k < STRESS_SIZE; k++)
			arg[t].model[k] = (unsigned char)(k * 7 + t);
	}
	for (t = 0; t < STRESS_THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, stress_writer,
						&arg[t]), 0);
	for (t = 0; t < STRESS_THREADS; t++)
		pthread_join(th[t], NULL);
	for (t = 0; t < STRESS_THREADS; t++) {
		assert_int_equal(arg[t].err, 0);
		check_read(&ei[t], 0, arg[t].model, STRESS_SIZE);
		assert_int_equal(extent_fsync(&ei[t], false), 0);
		assert_int_equal(disk_size(&f, ino[t]), STRESS_SIZE);
		extent_inode_destroy(&ei[t]);
		fx_load(&f, &ei[t], ino[t]);
		check_read(&ei[t], 0, arg[t].model, STRESS_SIZE);
		extent_inode_destroy(&ei[t]);
		free(arg[t].model);
	}
	f.ei_live = false;
	fx_teardown(&f);
}

static void test_unaligned_writes(void **state)
{
	static char expect[3 * 4096];
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4", "32M"); /* 1 KiB blocks */
	assert_int_equal(f.efs.blocksize, 1024);
	memset(expect, 0, sizeof(expect));
	memcpy(expect + 1020, "0123456789", 10);
	memcpy(expect + 5000, "abc", 3);
	memcpy(expect + 7, "x", 1);
	assert_int_equal(extent_write(&f.ei, 1020, "0123456789", 10, false,
				      NULL), 10);
	assert_int_equal(extent_write(&f.ei, 5000, "abc", 3, false, NULL), 3);
	assert_int_equal(extent_write(&f.ei, 7, "x", 1, false, NULL), 1);
	assert_int_equal(atomic_load(&f.ei.size), 5003);
	check_read(&f.ei, 0, expect, 5003);
	fx_reload(&f);
	check_read(&f.ei, 0, expect, 5003);
	assert_int_equal(disk_size(&f, f.ino), 5003);
	/* Partial overwrite of a block that is on disk now. */
	memcpy(expect + 1022, "ZZ", 2);
	assert_int_equal(extent_write(&f.ei, 1022, "ZZ", 2, false, NULL), 2);
	fx_reload(&f);
	check_read(&f.ei, 0, expect, 5003);
	fx_teardown(&f);
}

static void test_sparse_and_seek(void **state)
{
	char buf[4096], zero[4096];
	struct fx f;
	uint64_t size = MiB + 4096;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	fill(buf, sizeof(buf), 4);
	memset(zero, 0, sizeof(zero));
	assert_int_equal(extent_write(&f.ei, 0, buf, 4096, false, NULL), 4096);
	assert_int_equal(extent_write(&f.ei, MiB, buf, 4096, false, NULL),
			 4096);
	check_read(&f.ei, 4096, zero, 4096);
	check_read(&f.ei, 512 * KiB, zero, 4096);
	fx_reload(&f);
	check_read(&f.ei, 0, buf, 4096);
	check_read(&f.ei, 8192, zero, 4096);
	check_read(&f.ei, MiB, buf, 4096);
	assert_int_equal(disk_blocks(&f, f.ino), 2);

	assert_int_equal(extent_seek(&f.ei, 0, SEEK_DATA), 0);
	assert_int_equal(extent_seek(&f.ei, 0, SEEK_HOLE), 4096);
	assert_int_equal(extent_seek(&f.ei, 100, SEEK_HOLE), 4096);
	assert_int_equal(extent_seek(&f.ei, 4096, SEEK_DATA), MiB);
	assert_int_equal(extent_seek(&f.ei, MiB + 5, SEEK_DATA), MiB + 5);
	assert_int_equal(extent_seek(&f.ei, MiB, SEEK_HOLE), size);
	assert_int_equal(extent_seek(&f.ei, size, SEEK_DATA), -ENXIO);
	assert_int_equal(extent_seek(&f.ei, size, SEEK_HOLE), -ENXIO);
	assert_int_equal(extent_seek(&f.ei, -1, SEEK_DATA), -ENXIO);
	assert_int_equal(extent_seek(&f.ei, 0, SEEK_SET), -EINVAL);

	/* A hole at the end (size raised by truncate). */
	assert_int_equal(extent_truncate(&f.ei, 2 * MiB), 0);
	assert_int_equal(extent_seek(&f.ei, MiB + 4096, SEEK_DATA), -ENXIO);
	assert_int_equal(extent_seek(&f.ei, MiB + 4096, SEEK_HOLE),
			 MiB + 4096);
	fx_teardown(&f);
}

static void test_truncate(void **state)
{
	static char buf[3 * 4096], expect[3 * 4096];
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	memset(buf, 'A', sizeof(buf));
	assert_int_equal(extent_write(&f.ei, 0, buf, sizeof(buf), false, NULL),
			 (ssize_t)sizeof(buf));
	/* Down while the data is still dirty and unwritten. */
	assert_int_equal(extent_truncate(&f.ei, 5000), 0);
	assert_int_equal(atomic_load(&f.ei.size), 5000);
	assert_int_equal(disk_size(&f, f.ino), 5000);
	assert_int_equal(disk_blocks(&f, f.ino), 2);
	/* Up again: the old tail reads as zeros. */
	assert_int_equal(extent_truncate(&f.ei, sizeof(buf)), 0);
	memset(expect, 0, sizeof(expect));
	memset(expect, 'A', 5000);
	check_read(&f.ei, 0, expect, sizeof(expect));
	fx_reload(&f);
	check_read(&f.ei, 0, expect, sizeof(expect));
	assert_int_equal(disk_size(&f, f.ino), sizeof(buf));

	/* Down on written data, partial block, then up. */
	assert_int_equal(extent_truncate(&f.ei, 100), 0);
	assert_int_equal(disk_blocks(&f, f.ino), 1);
	assert_int_equal(extent_truncate(&f.ei, 8192), 0);
	memset(expect, 0, sizeof(expect));
	memset(expect, 'A', 100);
	check_read(&f.ei, 0, expect, 8192);
	fx_reload(&f);
	check_read(&f.ei, 0, expect, 8192);
	assert_int_equal(extent_truncate(&f.ei, 0), 0);
	assert_int_equal(disk_blocks(&f, f.ino), 0);
	assert_int_equal(extent_read(&f.ei, 0, buf, 10), 0);

	atomic_store(&f.efs.readonly, true);
	assert_int_equal(extent_truncate(&f.ei, 10), -EROFS);
	assert_int_equal(extent_write(&f.ei, 0, "x", 1, false, NULL), -EROFS);
	atomic_store(&f.efs.readonly, false);
	fx_teardown(&f);
}

static void test_punch_hole(void **state)
{
	static char buf[4 * 4096], expect[4 * 4096];
	uint64_t w, u;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	memset(buf, 'B', sizeof(buf));
	assert_int_equal(extent_write(&f.ei, 0, buf, sizeof(buf), false, NULL),
			 (ssize_t)sizeof(buf));
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_PUNCH_HOLE, 0,
					  4096), -EOPNOTSUPP);
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_PUNCH_HOLE |
					  EXTENT_FALLOC_KEEP_SIZE, 0, 0),
			 -EINVAL);
	/* Punch [1000, 1000 + 2 * 4096 + 100): whole block 1 freed. */
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_PUNCH_HOLE |
					  EXTENT_FALLOC_KEEP_SIZE, 1000,
					  2 * 4096 + 100), 0);
	memcpy(expect, buf, sizeof(expect));
	memset(expect + 1000, 0, 2 * 4096 + 100);
	assert_int_equal(atomic_load(&f.ei.size), sizeof(buf));
	check_read(&f.ei, 0, expect, sizeof(expect));
	fx_reload(&f);
	check_read(&f.ei, 0, expect, sizeof(expect));
	assert_int_equal(disk_blocks(&f, f.ino), 3);
	count_extents(&f, f.ino, &w, &u, NULL);
	assert_int_equal(w + u, 3);
	assert_int_equal(extent_seek(&f.ei, 0, SEEK_HOLE), 4096);
	assert_int_equal(extent_seek(&f.ei, 4096, SEEK_DATA), 8192);

	/* Past EOF: nothing to do. */
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_PUNCH_HOLE |
					  EXTENT_FALLOC_KEEP_SIZE,
					  sizeof(buf), 4096), 0);
	/* Everything: all blocks go. */
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_PUNCH_HOLE |
					  EXTENT_FALLOC_KEEP_SIZE, 0, MiB), 0);
	assert_int_equal(disk_blocks(&f, f.ino), 0);
	memset(expect, 0, sizeof(expect));
	check_read(&f.ei, 0, expect, sizeof(expect));
	assert_int_equal(atomic_load(&f.ei.size), sizeof(buf));
	fx_teardown(&f);
}

static void test_zero_range(void **state)
{
	static char buf[4 * 4096], expect[6 * 4096];
	uint64_t w, u;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	memset(buf, 'C', sizeof(buf));
	assert_int_equal(extent_write(&f.ei, 0, buf, sizeof(buf), false, NULL),
			 (ssize_t)sizeof(buf));
	assert_int_equal(extent_writeback(&f.ei), 0);
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_ZERO_RANGE |
					  EXTENT_FALLOC_KEEP_SIZE, 100,
					  3 * 4096), 0);
	memset(expect, 0, sizeof(expect));
	memcpy(expect, buf, sizeof(buf));
	memset(expect + 100, 0, 3 * 4096);
	assert_int_equal(atomic_load(&f.ei.size), sizeof(buf));
	check_read(&f.ei, 0, expect, sizeof(buf));
	fx_reload(&f);
	check_read(&f.ei, 0, expect, sizeof(buf));
	/* Whole blocks 1 and 2 are unwritten now, still allocated. */
	count_extents(&f, f.ino, &w, &u, NULL);
	assert_int_equal(u, 2);
	assert_int_equal(w, 2);
	assert_int_equal(disk_blocks(&f, f.ino), 4);

	/* Without KEEP_SIZE the size grows. */
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_ZERO_RANGE,
					  3 * 4096 + 10, 2 * 4096), 0);
	assert_int_equal(atomic_load(&f.ei.size), 5 * 4096 + 10);
	assert_int_equal(disk_size(&f, f.ino), 5 * 4096 + 10);
	memset(expect + 3 * 4096 + 10, 0, 2 * 4096);
	check_read(&f.ei, 0, expect, 5 * 4096 + 10);
	fx_reload(&f);
	check_read(&f.ei, 0, expect, 5 * 4096 + 10);
	fx_teardown(&f);
}

static void test_fallocate(void **state)
{
	static char zero[64 * 1024], buf[4096];
	uint64_t w, u;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_KEEP_SIZE, 0,
					  MiB), 0);
	assert_int_equal(atomic_load(&f.ei.size), 0);
	assert_int_equal(disk_size(&f, f.ino), 0);
	assert_int_equal(disk_blocks(&f, f.ino), 256);
	count_extents(&f, f.ino, &w, &u, NULL);
	assert_int_equal(u, 256);
	assert_int_equal(w, 0);
	assert_int_equal(extent_seek(&f.ei, 0, SEEK_DATA), -ENXIO);

	/* Default mode: size grows, data reads as zeros. */
	assert_int_equal(extent_fallocate(&f.ei, 0, 0, 64 * KiB), 0);
	assert_int_equal(atomic_load(&f.ei.size), 64 * KiB);
	assert_int_equal(disk_size(&f, f.ino), 64 * KiB);
	assert_int_equal(disk_blocks(&f, f.ino), 256);
	/* Unwritten and not cached: a hole for SEEK_DATA/SEEK_HOLE. */
	assert_int_equal(extent_seek(&f.ei, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(extent_seek(&f.ei, 0, SEEK_HOLE), 0);
	check_read(&f.ei, 0, zero, sizeof(zero));

	/* A write into the preallocated range uses those blocks. */
	fill(buf, sizeof(buf), 5);
	assert_int_equal(extent_write(&f.ei, 8192, buf, 4096, false, NULL),
			 4096);
	fx_reload(&f);
	assert_int_equal(extent_seek(&f.ei, 0, SEEK_DATA), 8192);
	assert_int_equal(extent_seek(&f.ei, 8192, SEEK_HOLE), 12288);
	check_read(&f.ei, 8192, buf, 4096);
	check_read(&f.ei, 0, zero, 8192);
	assert_int_equal(disk_blocks(&f, f.ino), 256);
	count_extents(&f, f.ino, &w, &u, NULL);
	assert_int_equal(w, 1);
	assert_int_equal(u, 255);

	/* Argument rules. */
	assert_int_equal(extent_fallocate(&f.ei, 0, 0, 0), -EINVAL);
	assert_int_equal(extent_fallocate(&f.ei, 0, (uint64_t)-1, 10),
			 -EINVAL);
	assert_int_equal(extent_fallocate(&f.ei, 0x8, 0, 10), -EOPNOTSUPP);
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_PUNCH_HOLE |
					  EXTENT_FALLOC_ZERO_RANGE |
					  EXTENT_FALLOC_KEEP_SIZE, 0, 10),
			 -EOPNOTSUPP);
	assert_int_equal(extent_fallocate(&f.ei, 0, f.efs.max_file_size, 1),
			 -EFBIG);
	fx_teardown(&f);
}

/*
 * Partial-block zeroing as ext4 does it: an unwritten block with nothing
 * cached stays unwritten (it reads as zeros already); zero range with
 * unaligned edges preallocates the edge blocks even over holes.
 */
static void test_partial_zero_unwritten(void **state)
{
	static char zero[16384];
	uint64_t w, u;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	assert_int_equal(extent_fallocate(&f.ei, 0, 0, 16384), 0);
	assert_int_equal(extent_truncate(&f.ei, 5000), 0);
	count_extents(&f, f.ino, &w, &u, NULL);
	assert_int_equal(w, 0);
	assert_int_equal(u, 2);
	assert_int_equal(extent_writeback(&f.ei), 0);
	count_extents(&f, f.ino, &w, &u, NULL);
	assert_int_equal(w, 0);
	check_read(&f.ei, 0, zero, 5000);

	/* Holes [8192, 32768): zero [9000, 9000 + 4096) → blocks 2 and 3. */
	assert_int_equal(extent_truncate(&f.ei, 32768), 0);
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_ZERO_RANGE |
					  EXTENT_FALLOC_KEEP_SIZE, 9000, 4096),
			 0);
	count_extents(&f, f.ino, &w, &u, NULL);
	assert_int_equal(w + u, 4);
	assert_int_equal(disk_blocks(&f, f.ino), 4);
	fx_reload(&f);
	check_read(&f.ei, 0, zero, 16384);
	count_extents(&f, f.ino, &w, &u, NULL);
	assert_int_equal(u, 4);
	fx_teardown(&f);
}

static void efbig_case(const char *mkfs, uint64_t expect_max)
{
	struct fx f;
	uint64_t max;
	char buf[10] = "0123456789";

	fx_setup(&f, mkfs, "64M");
	max = f.efs.max_file_size;
	assert_int_equal(max, expect_max);
	assert_int_equal(extent_truncate(&f.ei, max), 0);
	assert_int_equal(atomic_load(&f.ei.size), max);
	assert_int_equal(extent_truncate(&f.ei, max + 1), -EFBIG);
	assert_int_equal(extent_write(&f.ei, max, buf, 1, false, NULL),
			 -EFBIG);
	assert_int_equal(extent_write(&f.ei, max - 5, buf, 10, false, NULL),
			 5);
	check_read(&f.ei, max - 5, buf, 5);
	fx_reload(&f);
	check_read(&f.ei, max - 5, buf, 5);
	assert_int_equal(disk_size(&f, f.ino), max);
	assert_int_equal(extent_truncate(&f.ei, 0), 0);
	fx_teardown(&f);
}

static void test_efbig(void **state)
{
	(void)state;
	/* Values measured on kernel ext4 (loop mount, truncate bisection). */
	efbig_case("mkfs.ext4 -b 4096", 17592186040320ull);
	efbig_case("mkfs.ext4 -b 1024", 4398046510080ull);
	efbig_case("mkfs.ext4 -b 4096 -O ^huge_file", 2199023251456ull);
	efbig_case("mkfs.ext4 -b 1024 -O ^huge_file", 2199023254528ull);
}

static void test_enospc(void **state)
{
	size_t chunk = 256 * KiB;
	char *buf = malloc(chunk), first[4096];
	ext2_ino_t ino2;
	struct extent_inode ei2;
	uint64_t pos = 0;
	ssize_t n = 0;
	struct fx f;
	int i;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 1024 -N 32", "4M");
	fill(first, sizeof(first), 6);
	assert_int_equal(extent_write(&f.ei, 0, first, sizeof(first), false,
				      NULL), (ssize_t)sizeof(first));
	assert_int_equal(extent_fsync(&f.ei, false), 0);

	ino2 = fx_new_file(&f, "big");
	fx_load(&f, &ei2, ino2);
	fill(buf, chunk, 7);
	for (i = 0; i < 64; i++) {
		n = extent_write(&ei2, pos, buf, chunk, false, NULL);
		if (n < 0)
			break;
		pos += (uint64_t)n;
	}
	assert_int_equal(n, -ENOSPC);
	assert_true(pos > 0);
	/* What was accepted is written back without error. */
	assert_int_equal(extent_writeback(&ei2), 0);
	assert_int_equal(disk_size(&f, ino2), pos);
	check_read(&ei2, 0, buf, pos < chunk ? pos : chunk);
	extent_inode_destroy(&ei2);

	fx_reload(&f);
	check_read(&f.ei, 0, first, sizeof(first));
	/* Room again after freeing. */
	fx_load(&f, &ei2, ino2);
	assert_int_equal(extent_truncate(&ei2, 0), 0);
	assert_int_equal(extent_write(&ei2, 0, buf, 8192, false, NULL), 8192);
	assert_int_equal(extent_writeback(&ei2), 0);
	extent_inode_destroy(&ei2);
	fx_teardown(&f);
	free(buf);
}

static void test_ext2_block_mapped(void **state)
{
	size_t len = 200 * KiB;
	char *buf = malloc(len), *disk = malloc(len);
	struct ext2_inode_large inode;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext2 -b 1024", "16M");
	disk_inode(&f, f.ino, &inode);
	assert_false(inode.i_flags & EXT4_EXTENTS_FL);
	fill(buf, len, 8);
	/* Crosses the 12 direct blocks into the indirect block. */
	assert_int_equal(extent_write(&f.ei, 0, buf, len, false, NULL),
			 (ssize_t)len);
	check_read(&f.ei, 0, buf, len);
	fx_reload(&f);
	check_read(&f.ei, 0, buf, len);
	assert_int_equal(disk_size(&f, f.ino), len);
	disk_read(&f, f.ino, 0, disk, len);
	assert_memory_equal(disk, buf, len);
	/* Data blocks plus the indirect block (12 direct + 188 via ind). */
	assert_int_equal(disk_blocks(&f, f.ino), 200 + 1);

	/* Sparse write, truncate, punch. */
	assert_int_equal(extent_write(&f.ei, 1 * MiB, "end", 3, false, NULL),
			 3);
	assert_int_equal(extent_truncate(&f.ei, 10000), 0);
	assert_int_equal(extent_fallocate(&f.ei, EXTENT_FALLOC_PUNCH_HOLE |
					  EXTENT_FALLOC_KEEP_SIZE, 1024, 2048),
			 0);
	assert_int_equal(extent_fallocate(&f.ei, 0, 0, 4096), -EOPNOTSUPP);
	memset(buf + 1024, 0, 2048);
	fx_reload(&f);
	check_read(&f.ei, 0, buf, 10000);
	assert_int_equal(disk_blocks(&f, f.ino), 10 - 2);
	/* Block-mapped limit (ext4_max_bitmap_size, 1 KiB, huge_file off). */
	assert_int_equal(extent_truncate(&f.ei, 17247252480ull), 0);
	assert_int_equal(extent_truncate(&f.ei, 17247252481ull), -EFBIG);
	assert_int_equal(extent_truncate(&f.ei, 10000), 0);
	fx_teardown(&f);
	free(buf);
	free(disk);
}

/* Block-mapped limits, measured on kernel ext4 mounting ext2 images. */
static void efbig_bitmap_case(const char *mkfs, uint64_t expect_max)
{
	struct fx f;

	fx_setup(&f, mkfs, "64M");
	assert_int_equal(extent_truncate(&f.ei, expect_max), 0);
	assert_int_equal(extent_truncate(&f.ei, expect_max + 1), -EFBIG);
	assert_int_equal(extent_write(&f.ei, expect_max, "x", 1, false, NULL),
			 -EFBIG);
	assert_int_equal(extent_write(&f.ei, expect_max - 1, "xy", 2, false,
				      NULL), 1);
	assert_int_equal(extent_writeback(&f.ei), 0);
	assert_int_equal(disk_size(&f, f.ino), expect_max);
	assert_int_equal(extent_truncate(&f.ei, 0), 0);
	fx_teardown(&f);
}

static void test_efbig_block_mapped(void **state)
{
	(void)state;
	efbig_bitmap_case("mkfs.ext2 -b 4096", 2196873666560ull);
	efbig_bitmap_case("mkfs.ext2 -b 4096 -O huge_file", 4402345721856ull);
}

static void test_corrupt_extent_header(void **state)
{
	struct ext2_inode_large inode;
	char buf[4096];
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	fill(buf, sizeof(buf), 9);
	assert_int_equal(extent_write(&f.ei, 0, buf, 4096, false, NULL), 4096);
	assert_int_equal(extent_writeback(&f.ei), 0);
	extent_inode_destroy(&f.ei);
	f.ei_live = false;
	f.corrupt = true;

	/* Damage the extent header magic in the inode (valid checksum). */
	disk_inode(&f, f.ino, &inode);
	((struct ext3_extent_header *)inode.i_block)->eh_magic = 0x1234;
	extent_meta_lock(&f.efs);
	assert_int_equal(ext2fs_write_inode_full(f.fs, f.ino,
						 (struct ext2_inode *)&inode,
						 sizeof(inode)), 0);
	assert_false(f.fs->super->s_state & EXT2_ERROR_FS);
	extent_meta_unlock(&f.efs);

	fx_load(&f, &f.ei, f.ino);
	f.ei_live = true;
	assert_int_equal(extent_read(&f.ei, 0, buf, 4096), -EUCLEAN);
	assert_int_equal(extent_write(&f.ei, 0, buf, 10, false, NULL),
			 -EUCLEAN);
	assert_int_equal(extent_seek(&f.ei, 0, SEEK_DATA), -EUCLEAN);
	assert_true(atomic_load(&f.efs.error_count) >= 1);
	extent_meta_lock(&f.efs);
	assert_true(f.fs->super->s_state & EXT2_ERROR_FS);
	assert_true(f.fs->super->s_error_count >= 1);
	assert_int_equal(f.fs->super->s_first_error_ino, f.ino);
	extent_meta_unlock(&f.efs);
	assert_false(atomic_load(&f.efs.readonly));

	/* errors=remount-ro: the next error makes the mount read-only. */
	f.efs.errors = EXTENT_ERRORS_RO;
	assert_int_equal(extent_read(&f.ei, 0, buf, 4096), -EUCLEAN);
	assert_true(atomic_load(&f.efs.readonly));
	assert_int_equal(extent_write(&f.ei, 0, buf, 10, false, NULL), -EROFS);
	extent_inode_destroy(&f.ei);
	f.ei_live = false;
	fx_teardown(&f);
}

static void corrupt_range_checks(struct fx *f, char *buf)
{
	fx_load(f, &f->ei, f->ino);
	assert_int_equal(extent_read(&f->ei, 0, buf, 4096), -EUCLEAN);
	assert_int_equal(extent_write(&f->ei, 0, buf, 4096, false, NULL),
			 -EUCLEAN);
	extent_meta_lock(&f->efs);
	assert_true(f->fs->super->s_state & EXT2_ERROR_FS);
	extent_meta_unlock(&f->efs);
}

static void test_corrupt_extent_range(void **state)
{
	ext2_extent_handle_t h;
	struct ext2fs_extent e;
	char buf[4096];
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "64M");
	fill(buf, sizeof(buf), 10);
	assert_int_equal(extent_write(&f.ei, 0, buf, 4096, false, NULL), 4096);
	assert_int_equal(extent_writeback(&f.ei), 0);
	extent_inode_destroy(&f.ei);
	f.ei_live = false;
	f.corrupt = true;

	/* Point the extent past the end of the file system. */
	extent_meta_lock(&f.efs);
	assert_int_equal(ext2fs_extent_open(f.fs, f.ino, &h), 0);
	assert_int_equal(ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e), 0);
	e.e_pblk = ext2fs_blocks_count(f.fs->super) + 100;
	assert_int_equal(ext2fs_extent_replace(h, 0, &e), 0);
	ext2fs_extent_free(h);
	extent_meta_unlock(&f.efs);
	corrupt_range_checks(&f, buf);

	/* Point it into the inode table of group 0. */
	extent_inode_destroy(&f.ei);
	extent_meta_lock(&f.efs);
	f.fs->super->s_state &= ~EXT2_ERROR_FS;
	assert_int_equal(ext2fs_extent_open(f.fs, f.ino, &h), 0);
	assert_int_equal(ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e), 0);
	e.e_pblk = ext2fs_inode_table_loc(f.fs, 0) + 1;
	assert_int_equal(ext2fs_extent_replace(h, 0, &e), 0);
	ext2fs_extent_free(h);
	extent_meta_unlock(&f.efs);
	corrupt_range_checks(&f, buf);

	/* Onto the block bitmap of the last group. */
	extent_inode_destroy(&f.ei);
	extent_meta_lock(&f.efs);
	f.fs->super->s_state &= ~EXT2_ERROR_FS;
	assert_int_equal(ext2fs_extent_open(f.fs, f.ino, &h), 0);
	assert_int_equal(ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e), 0);
	e.e_pblk = ext2fs_block_bitmap_loc(f.fs, f.fs->group_desc_count - 1);
	assert_int_equal(ext2fs_extent_replace(h, 0, &e), 0);
	ext2fs_extent_free(h);
	extent_meta_unlock(&f.efs);
	corrupt_range_checks(&f, buf);
	extent_inode_destroy(&f.ei);
	f.ei_live = false;
	fx_teardown(&f);
}

/*
 * Extent tree blocks freed by a punch are reused for another file's data:
 * nothing libext2fs cached for them may reach the disk after the data
 * (unix_io's write-back cache must be off), and fsync must not fail.
 */
static void test_freed_tree_blocks_reused(void **state)
{
	size_t len = 2 * MiB;
	char *buf = malloc(len), blk[4096];
	struct extent_inode ei2;
	ext2_ino_t ino2;
	unsigned int i;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096", "16M");
	for (i = 0; i < 700; i++) {
		fill(blk, sizeof(blk), i);
		assert_int_equal(extent_write(&f.ei, (uint64_t)i * 8192, blk,
					      sizeof(blk), false, NULL), 4096);
	}
	assert_int_equal(extent_fsync(&f.ei, false), 0);
	assert_int_equal(extent_truncate(&f.ei, 0), 0);

	ino2 = fx_new_file(&f, "data");
	fx_load(&f, &ei2, ino2);
	fill(buf, len, 77);
	for (size_t off = 0; off < len; off += 64 * KiB)
		assert_int_equal(extent_write(&ei2, off, buf + off, 64 * KiB,
					      false, NULL), (ssize_t)(64 * KiB));
	assert_int_equal(extent_fsync(&ei2, false), 0);
	assert_int_equal(extent_fsync(&f.ei, false), 0);
	extent_inode_destroy(&ei2);
	fx_load(&f, &ei2, ino2);
	check_read(&ei2, 0, buf, len);
	extent_inode_destroy(&ei2);
	fx_teardown(&f);
	free(buf);
}

static void test_inline_data(void **state)
{
	static char expect[6000];
	struct ext2_inode_large inode;
	struct fx f;

	(void)state;
	fx_setup(&f, "mkfs.ext4 -b 4096 -O inline_data", "64M");
	extent_inode_destroy(&f.ei);
	/* Make the file an inline-data file holding "hello inline". */
	extent_meta_lock(&f.efs);
	assert_int_equal(ext2fs_read_inode_full(f.fs, f.ino,
						(struct ext2_inode *)&inode,
						sizeof(inode)), 0);
	inode.i_flags &= ~EXT4_EXTENTS_FL;
	inode.i_flags |= EXT4_INLINE_DATA_FL;
	memset(inode.i_block, 0, sizeof(inode.i_block));
	assert_int_equal(ext2fs_write_inode_full(f.fs, f.ino,
						 (struct ext2_inode *)&inode,
						 sizeof(inode)), 0);
	assert_int_equal(ext2fs_inline_data_init(f.fs, f.ino), 0);
	assert_int_equal(ext2fs_inline_data_set(f.fs, f.ino, NULL,
						"hello inline", 12), 0);
	assert_int_equal(ext2fs_read_inode_full(f.fs, f.ino,
						(struct ext2_inode *)&inode,
						sizeof(inode)), 0);
	inode.i_size = 12;
	assert_int_equal(ext2fs_write_inode_full(f.fs, f.ino,
						 (struct ext2_inode *)&inode,
						 sizeof(inode)), 0);
	extent_meta_unlock(&f.efs);
	fx_load(&f, &f.ei, f.ino);
	assert_int_equal(atomic_load(&f.ei.size), 12);
	check_read(&f.ei, 0, "hello inline", 12);
	check_read(&f.ei, 6, "inline", 6);
	assert_int_equal(extent_seek(&f.ei, 3, SEEK_DATA), 3);
	assert_int_equal(extent_seek(&f.ei, 3, SEEK_HOLE), 12);

	/* A write converts it to an extent file. */
	memset(expect, 0, sizeof(expect));
	memcpy(expect, "hello inline", 12);
	memcpy(expect + 5990, "0123456789", 10);
	assert_int_equal(extent_write(&f.ei, 5990, "0123456789", 10, false,
				      NULL), 10);
	check_read(&f.ei, 0, expect, sizeof(expect));
	fx_reload(&f);
	check_read(&f.ei, 0, expect, sizeof(expect));
	disk_inode(&f, f.ino, &inode);
	assert_false(inode.i_flags & EXT4_INLINE_DATA_FL);
	assert_true(inode.i_flags & EXT4_EXTENTS_FL);
	assert_int_equal(EXT2_I_SIZE(&inode), sizeof(expect));
	fx_teardown(&f);
}

/*
 * Every other block: many extents, a tree of depth > 1, conversions that
 * split and merge in full leaves. Runs with 1 KiB and 4 KiB blocks.
 */
static void many_extents_case(const char *mkfs, unsigned int bs)
{
	char buf[4096];
	unsigned int i, n;
	uint64_t w, u;
	struct fx f;

	fx_setup(&f, mkfs, "32M");
	assert_int_equal(f.efs.blocksize, bs);
	for (i = 0; i < 400; i++) {
		fill(buf, bs, i);
		assert_int_equal(extent_write(&f.ei, (uint64_t)i * 2 * bs, buf,
					      bs, false, NULL), (ssize_t)bs);
	}
	/* Fill gaps between written neighbours (merges on conversion). */
	assert_int_equal(extent_writeback(&f.ei), 0);
	for (i = 100; i < 150; i++) {
		fill(buf, bs, 1000 + i);
		assert_int_equal(extent_write(&f.ei, (uint64_t)(i * 2 + 1) * bs,
					      buf, bs, false, NULL),
				 (ssize_t)bs);
	}
	fx_reload(&f);
	count_extents(&f, f.ino, &w, &u, &n);
	assert_int_equal(w, 450);
	assert_int_equal(u, 0);
	assert_true(n > 4); /* deeper than the in-inode root */
	for (i = 0; i < 400; i++) {
		fill(buf, bs, i);
		check_read(&f.ei, (uint64_t)i * 2 * bs, buf, bs);
	}
	for (i = 100; i < 150; i++) {
		fill(buf, bs, 1000 + i);
		check_read(&f.ei, (uint64_t)(i * 2 + 1) * bs, buf, bs);
	}
	assert_int_equal(extent_truncate(&f.ei, 300 * bs), 0);
	fx_teardown(&f);
}

static void test_many_extents(void **state)
{
	(void)state;
	many_extents_case("mkfs.ext4 -b 4096", 4096);
}

/*
 * The same with 1 KiB blocks: 64 blocks per folio, each its own mapping —
 * the read path must cover a folio that needs more than one batch of
 * mappings.
 */
static void test_many_extents_1k(void **state)
{
	(void)state;
	many_extents_case("mkfs.ext4 -b 1024", 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_roundtrip),
		cmocka_unit_test(test_unwritten_until_writeback),
		cmocka_unit_test(test_writeback_during_append),
		cmocka_unit_test(test_unaligned_writes),
		cmocka_unit_test(test_concurrent_writers),
		cmocka_unit_test(test_sparse_and_seek),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_punch_hole),
		cmocka_unit_test(test_zero_range),
		cmocka_unit_test(test_fallocate),
		cmocka_unit_test(test_partial_zero_unwritten),
		cmocka_unit_test(test_efbig),
		cmocka_unit_test(test_efbig_block_mapped),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_ext2_block_mapped),
		cmocka_unit_test(test_corrupt_extent_header),
		cmocka_unit_test(test_corrupt_extent_range),
		cmocka_unit_test(test_freed_tree_blocks_reused),
		cmocka_unit_test(test_inline_data),
		cmocka_unit_test(test_many_extents),
		cmocka_unit_test(test_many_extents_1k),
	};

	/* UEXT4_TEST_FILTER=pattern runs a subset (cmocka glob). */
	if (getenv("UEXT4_TEST_FILTER"))
		cmocka_set_test_filter(getenv("UEXT4_TEST_FILTER"));
	if (getenv("UEXT4_TEST_SKIP"))
		cmocka_set_skip_filter(getenv("UEXT4_TEST_SKIP"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
