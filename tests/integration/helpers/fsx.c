/* SPDX-License-Identifier: MIT */
/*
 * uext4-test-fsx — model-based random exerciser (after fsx from xfstests).
 *
 *	uext4-test-fsx --seed N --ops K --dir D [--remount-cmd CMD]
 *
 * Keeps an in-memory model of every file's content, size, links and xattrs
 * and of the directory tree below D, applies random operations (write,
 * read, truncate, fallocate in every mode, punch, zero range, rename, link,
 * unlink, mkdir, rmdir, setxattr, removexattr, fsync) and checks after each
 * one the touched file (size, the affected range, one random range) against
 * the model. Files stay open across rename and unlink, so unlinked-but-open
 * files are exercised too. At K/2 every fd is closed, CMD is run with
 * system() (the scripts unmount and mount again) and everything is verified;
 * everything is verified again at the end.
 *
 * It only generates operations that must succeed, so any error is a
 * failure — except EOPNOTSUPP for COLLAPSE_RANGE / INSERT_RANGE, which FUSE
 * does not forward (counted and reported). On a failure it prints the tail
 * of the operation log and the first differing offset and exits 1; exit 2
 * is a harness problem.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "rng.h"

#define FMAX (8u << 20)		/* highest file offset the model uses */
#define WMAX (1u << 20)		/* largest single write */
#define NINODE 14		/* live files at most */
#define NENTRY 64		/* directory entries at most */
#define NXATTR 5
#define LOGN 60

/* ------------------------------------------------------------------ */
/* Operation log (random numbers: rng.h)                              */

static char oplog[LOGN][200];
static unsigned long opno, nops;
static unsigned long long seed;

__attribute__((format(printf, 1, 2)))
static void logop(const char *fmt, ...)
{
	va_list ap;
	char *l = oplog[opno % LOGN];
	int n = snprintf(l, sizeof(oplog[0]), "%lu ", opno);

	va_start(ap, fmt);
	vsnprintf(l + n, sizeof(oplog[0]) - (size_t)n, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2), noreturn))
static void failf(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "fsx: FAIL at op %lu (seed %llu): ", opno, seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nlast operations:\n");
	for (unsigned long i = opno >= LOGN ? opno - LOGN + 1 : 0; i <= opno; i++)
		if (oplog[i % LOGN][0] && strchr(oplog[i % LOGN], ' ')[1] != '-')
			fprintf(stderr, "  %s\n", oplog[i % LOGN]);
	exit(1);
}

/* ------------------------------------------------------------------ */
/* Model                                                              */

struct xattr {
	bool set;
	size_t len;
	unsigned char val[128];
};

struct inode {
	bool live;
	int fd;			/* -1 when closed (after remount) */
	unsigned nlink;		/* names in the tree */
	uint64_t size;
	unsigned char *data;	/* FMAX + WMAX bytes */
	struct xattr x[NXATTR];
};

struct entry {
	bool used;
	char path[128];
	bool dir;
	int ino;		/* files only */
};

static struct inode inodes[NINODE];
static struct entry entries[NENTRY];
static unsigned char *buf;
static unsigned long n_unsupported;
static unsigned long n_bytes_checked;

static const char *const dirnames[] = { "d0", "d1", "d2" };
static const char *const filenames[] = { "f0", "f1", "f2", "f3", "f4", "f5" };

static struct entry *find_entry(const char *path)
{
	for (int i = 0; i < NENTRY; i++)
		if (entries[i].used && !strcmp(entries[i].path, path))
			return &entries[i];
	return NULL;
}

static struct entry *new_entry(const char *path, bool dir, int ino)
{
	for (int i = 0; i < NENTRY; i++)
		if (!entries[i].used) {
			entries[i].used = true;
			snprintf(entries[i].path, sizeof(entries[i].path), "%s",
				 path);
			entries[i].dir = dir;
			entries[i].ino = ino;
			return &entries[i];
		}
	return NULL;
}

static int count_entries(void)
{
	int n = 0;

	for (int i = 0; i < NENTRY; i++)
		n += entries[i].used;
	return n;
}

/* A random existing entry of the given kind, or NULL. */
static struct entry *pick_entry(bool dir)
{
	int idx[NENTRY], n = 0;

	for (int i = 0; i < NENTRY; i++)
		if (entries[i].used && entries[i].dir == dir)
			idx[n++] = i;
	return n ? &entries[idx[rnd((uint64_t)n)]] : NULL;
}

/* A random directory path ("." included). */
static const char *pick_dir(void)
{
	struct entry *e = chance(30) ? NULL : pick_entry(true);

	return e ? e->path : ".";
}

/* A path that does not exist yet in an existing directory, or NULL. */
static bool pick_new_path(char *out, bool dir)
{
	for (int tries = 0; tries < 8; tries++) {
		const char *d = pick_dir();
		const char *n = dir ? dirnames[rnd(3)] : filenames[rnd(6)];

		if (strlen(d) >= 100)
			continue;
		if (!strcmp(d, "."))
			strcpy(out, n);
		else
			sprintf(out, "%.100s/%s", d, n);
		if (!find_entry(out))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Checks                                                             */

static void check_range(int ino, uint64_t off, uint64_t len, const char *why)
{
	struct inode *in = &inodes[ino];

	if (in->fd < 0)
		return;
	/*
	 * Drop the kernel's clean cached pages of the range first, so that
	 * the read reaches the file system's own read path (for a FUSE mount:
	 * the daemon and its cache) instead of being answered from the
	 * kernel page cache the preceding write just filled.
	 */
	(void)posix_fadvise(in->fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	while (len) {
		size_t n = len > WMAX ? WMAX : (size_t)len;
		ssize_t r = pread(in->fd, buf, n, (off_t)off);

		n_bytes_checked += r > 0 ? (unsigned long)r : 0;
		size_t want = off >= in->size ? 0 :
			(in->size - off < n ? (size_t)(in->size - off) : n);

		if (r < 0)
			failf("%s: pread ino %d off %" PRIu64 " len %zu: %s", why,
			      ino, off, n, strerror(errno));
		if ((size_t)r != want)
			failf("%s: pread ino %d off %" PRIu64 " len %zu returned %zd, "
			      "model size %" PRIu64 " expects %zu", why, ino, off,
			      n, r, in->size, want);
		for (size_t i = 0; i < want; i++)
			if (buf[i] != in->data[off + i])
				failf("%s: ino %d first difference at offset %" PRIu64
				      ": file 0x%02x model 0x%02x (range %" PRIu64
				      "+%zu, size %" PRIu64 ")", why, ino, off + i,
				      buf[i], in->data[off + i], off, want,
				      in->size);
		if (!want)
			return;
		off += want;
		len -= want;
	}
}

static void check_size(int ino, const char *why)
{
	struct inode *in = &inodes[ino];
	struct stat st;

	if (in->fd < 0)
		return;
	if (fstat(in->fd, &st))
		failf("%s: fstat ino %d: %s", why, ino, strerror(errno));
	if ((uint64_t)st.st_size != in->size)
		failf("%s: ino %d size %lld, model %" PRIu64, why, ino,
		      (long long)st.st_size, in->size);
	if (st.st_nlink != in->nlink)
		failf("%s: ino %d nlink %lu, model %u", why, ino,
		      (unsigned long)st.st_nlink, in->nlink);
}

static void check_xattrs(int ino, const char *why)
{
	struct inode *in = &inodes[ino];
	char name[32], list[1024];
	ssize_t l;
	size_t nset = 0;

	if (in->fd < 0)
		return;
	for (int i = 0; i < NXATTR; i++) {
		snprintf(name, sizeof(name), "user.x%d", i);
		l = fgetxattr(in->fd, name, buf, 65536);
		if (!in->x[i].set) {
			if (l >= 0 || errno != ENODATA)
				failf("%s: ino %d xattr %s should be absent: %s",
				      why, ino, name, l >= 0 ? "present" :
				      strerror(errno));
			continue;
		}
		nset++;
		if (l < 0)
			failf("%s: ino %d getxattr %s: %s", why, ino, name,
			      strerror(errno));
		if ((size_t)l != in->x[i].len ||
		    memcmp(buf, in->x[i].val, (size_t)l))
			failf("%s: ino %d xattr %s value differs (len %zd, model %zu)",
			      why, ino, name, l, in->x[i].len);
	}
	l = flistxattr(in->fd, list, sizeof(list));
	if (l < 0)
		failf("%s: ino %d listxattr: %s", why, ino, strerror(errno));
	size_t n = 0;

	for (char *p = list; p < list + l; p += strlen(p) + 1)
		if (!strncmp(p, "user.", 5))
			n++;
	if (n != nset)
		failf("%s: ino %d listxattr has %zu user names, model %zu", why,
		      ino, n, nset);
}

/* After an operation on a file: size, affected range, one random range. */
static void check_touched(int ino, uint64_t off, uint64_t len)
{
	check_size(ino, "after op");
	if (len)
		check_range(ino, off, len, "affected range");
	uint64_t r = rnd(inodes[ino].size + 1);

	check_range(ino, r, rnd(256 << 10) + 1, "random range");
}

static void verify_all(const char *why)
{
	/* Every file: size, content, xattrs; every name: type and identity. */
	for (int i = 0; i < NINODE; i++) {
		if (!inodes[i].live)
			continue;
		check_size(i, why);
		check_range(i, 0, inodes[i].size + 1, why);
		check_xattrs(i, why);
	}
	for (int i = 0; i < NENTRY; i++) {
		struct entry *e = &entries[i];
		struct stat st, fst;

		if (!e->used)
			continue;
		if (lstat(e->path, &st))
			failf("%s: lstat %s: %s", why, e->path, strerror(errno));
		if (e->dir != !!S_ISDIR(st.st_mode))
			failf("%s: %s has the wrong type", why, e->path);
		if (e->dir)
			continue;
		if (fstat(inodes[e->ino].fd, &fst))
			failf("%s: fstat: %s", why, strerror(errno));
		if (st.st_ino != fst.st_ino)
			failf("%s: %s is not the model's inode %d", why, e->path,
			      e->ino);
	}
	/* No stray names: every directory lists exactly the model's. */
	const char *dirs[NENTRY + 1];
	int nd = 0;

	dirs[nd++] = ".";
	for (int i = 0; i < NENTRY; i++)
		if (entries[i].used && entries[i].dir)
			dirs[nd++] = entries[i].path;
	for (int i = 0; i < nd; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;
		char p[300];

		if (!d)
			failf("%s: opendir %s: %s", why, dirs[i], strerror(errno));
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (!strcmp(dirs[i], "."))
				snprintf(p, sizeof(p), "%s", de->d_name);
			else
				snprintf(p, sizeof(p), "%s/%s", dirs[i], de->d_name);
			if (!find_entry(p))
				failf("%s: stray directory entry %s", why, p);
		}
		closedir(d);
	}
}

/* ------------------------------------------------------------------ */
/* Operations                                                         */

static int pick_file(void)
{
	int idx[NINODE], n = 0;

	for (int i = 0; i < NINODE; i++)
		if (inodes[i].live)
			idx[n++] = i;
	return n ? idx[rnd((uint64_t)n)] : -1;
}

static void fill(unsigned char *b, size_t n)
{
	uint64_t x = rnd64() | 1;

	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, n - i < 8 ? n - i : 8);
	}
}

static uint64_t pick_off(void)
{
	switch (rnd(6)) {
	case 0: return rnd(65536);
	case 1: return 4096 * rnd(FMAX / 4096);
	case 2: return rnd(FMAX);
	default: return rnd(1 << 20);
	}
}

static uint64_t pick_len(void)
{
	switch (rnd(8)) {
	case 0: return rnd(64) + 1;
	case 1: return 4096 * (rnd(32) + 1);
	case 2: return rnd(WMAX) + 1;
	default: return rnd(65536) + 1;
	}
}

static void model_extend(struct inode *in, uint64_t end)
{
	if (end > in->size)
		in->size = end;
}

static void model_zero(struct inode *in, uint64_t off, uint64_t len)
{
	if (off >= FMAX + WMAX)
		return;
	if (off + len > FMAX + WMAX)
		len = FMAX + WMAX - off;
	memset(in->data + off, 0, (size_t)len);
}

static void op_create(void)
{
	char path[128];
	int ino = -1;

	for (int i = 0; i < NINODE; i++)
		if (!inodes[i].live) {
			ino = i;
			break;
		}
	if (ino < 0 || count_entries() >= NENTRY - 2 || !pick_new_path(path, false))
		return;
	logop("create %s -> ino %d", path, ino);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		failf("create %s: %s", path, strerror(errno));
	struct inode *in = &inodes[ino];

	memset(in->x, 0, sizeof(in->x));
	in->live = true;
	in->fd = fd;
	in->nlink = 1;
	in->size = 0;
	memset(in->data, 0, FMAX + WMAX);
	new_entry(path, false, ino);
	check_touched(ino, 0, 0);
}

static void op_write(int ino)
{
	struct inode *in = &inodes[ino];
	uint64_t off = pick_off(), len = pick_len();

	fill(buf, (size_t)len);
	logop("write ino %d off %" PRIu64 " len %" PRIu64, ino, off, len);
	ssize_t r = pwrite(in->fd, buf, (size_t)len, (off_t)off);

	if (r < 0 || (uint64_t)r != len)
		failf("pwrite ino %d off %" PRIu64 " len %" PRIu64 ": %zd %s",
		      ino, off, len, r, r < 0 ? strerror(errno) : "(short)");
	memcpy(in->data + off, buf, (size_t)len);
	model_extend(in, off + len);
	check_touched(ino, off, len);
}

static void op_read(int ino)
{
	uint64_t off = rnd(inodes[ino].size + 4096), len = pick_len();

	logop("read ino %d off %" PRIu64 " len %" PRIu64, ino, off, len);
	check_range(ino, off, len, "read");
}

static void op_truncate(int ino)
{
	struct inode *in = &inodes[ino];
	uint64_t sz = chance(30) ? rnd(in->size + 1) : rnd(FMAX);

	logop("truncate ino %d %" PRIu64 " (was %" PRIu64 ")", ino, sz,
	      in->size);
	if (ftruncate(in->fd, (off_t)sz))
		failf("ftruncate ino %d %" PRIu64 ": %s", ino, sz,
		      strerror(errno));
	if (sz < in->size)
		model_zero(in, sz, in->size - sz);
	in->size = sz;
	check_touched(ino, sz > 8192 ? sz - 8192 : 0, 16384);
}

static void op_fallocate(int ino)
{
	static const struct { int mode; const char *name; } modes[] = {
		{0, "alloc"},
		{FALLOC_FL_KEEP_SIZE, "keep_size"},
		{FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "punch"},
		{FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "punch"},
		{FALLOC_FL_ZERO_RANGE, "zero"},
		{FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, "zero_keep"},
		{FALLOC_FL_COLLAPSE_RANGE, "collapse"},
		{FALLOC_FL_INSERT_RANGE, "insert"},
	};
	struct inode *in = &inodes[ino];
	int m = (int)rnd(sizeof(modes) / sizeof(modes[0]));
	int mode = modes[m].mode;
	uint64_t off = pick_off(), len = pick_len();

	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
		/* Block aligned; collapse inside the file, insert below EOF. */
		off &= ~4095ull;
		len = (len + 4095) & ~4095ull;
		if (mode & FALLOC_FL_COLLAPSE_RANGE) {
			if (in->size < 8192)
				return;
			off = 4096 * rnd(in->size / 4096);
			if (off + len >= in->size)
				len = (in->size - off) / 4096 * 4096;
			if (!len || off + len >= in->size)
				return;
		} else {
			if (in->size + len > FMAX || in->size < 4096)
				return;
			off = 4096 * rnd((in->size - 1) / 4096 + 1);
			if (off >= in->size)
				return;
		}
	}
	logop("fallocate %s ino %d off %" PRIu64 " len %" PRIu64 " (size %"
	      PRIu64 ")", modes[m].name, ino, off, len, in->size);
	if (fallocate(in->fd, mode, (off_t)off, (off_t)len)) {
		if (errno == EOPNOTSUPP &&
		    (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))) {
			n_unsupported++;
			return;
		}
		failf("fallocate %s ino %d off %" PRIu64 " len %" PRIu64 ": %s",
		      modes[m].name, ino, off, len, strerror(errno));
	}
	if (mode & FALLOC_FL_COLLAPSE_RANGE) {
		memmove(in->data + off, in->data + off + len,
			(size_t)(in->size - off - len));
		in->size -= len;
		model_zero(in, in->size, len);
		check_touched(ino, off, in->size - off + 1);
		return;
	}
	if (mode & FALLOC_FL_INSERT_RANGE) {
		memmove(in->data + off + len, in->data + off,
			(size_t)(in->size - off));
		memset(in->data + off, 0, (size_t)len);
		in->size += len;
		check_touched(ino, off, in->size - off + 1);
		return;
	}
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		uint64_t end = off + len;

		if (off < in->size)
			model_zero(in, off, (end < in->size ? end : in->size) - off);
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE))
		model_extend(in, off + len);
	check_touched(ino, off > 4096 ? off - 4096 : 0, len + 8192);
}

static void op_fsync(int ino)
{
	bool d = chance(50);

	logop("%s ino %d", d ? "fdatasync" : "fsync", ino);
	if (d ? fdatasync(inodes[ino].fd) : fsync(inodes[ino].fd))
		failf("fsync ino %d: %s", ino, strerror(errno));
}

static void op_xattr(int ino)
{
	struct inode *in = &inodes[ino];
	int i = (int)rnd(NXATTR);
	char name[32];

	snprintf(name, sizeof(name), "user.x%d", i);
	if (chance(65)) {
		size_t len = rnd(129);

		fill(buf, len);
		logop("setxattr ino %d %s len %zu", ino, name, len);
		if (fsetxattr(in->fd, name, buf, len, 0))
			failf("setxattr ino %d %s: %s", ino, name, strerror(errno));
		in->x[i].set = true;
		in->x[i].len = len;
		memcpy(in->x[i].val, buf, len);
	} else {
		logop("removexattr ino %d %s (set %d)", ino, name, in->x[i].set);
		int r = fremovexattr(in->fd, name);

		if (in->x[i].set ? r != 0 : (r == 0 || errno != ENODATA))
			failf("removexattr ino %d %s: %s", ino, name,
			      r ? strerror(errno) : "succeeded");
		in->x[i].set = false;
	}
	check_xattrs(ino, "after xattr op");
}

/* Drop a name of a file; the inode lives on while its fd is open. */
static void drop_link(struct entry *e)
{
	inodes[e->ino].nlink--;
	e->used = false;
}

static void op_unlink(void)
{
	struct entry *e = pick_entry(false);

	if (!e)
		return;
	logop("unlink %s (ino %d)", e->path, e->ino);
	if (unlink(e->path))
		failf("unlink %s: %s", e->path, strerror(errno));
	int ino = e->ino;

	drop_link(e);
	check_touched(ino, 0, 0);
	if (!inodes[ino].nlink && chance(60)) {
		/* Last name gone: close it (sometimes later, see reap). */
		close(inodes[ino].fd);
		inodes[ino].live = false;
	}
}

static void reap(void)
{
	for (int i = 0; i < NINODE; i++)
		if (inodes[i].live && !inodes[i].nlink && chance(20)) {
			logop("close unlinked ino %d", i);
			close(inodes[i].fd);
			inodes[i].live = false;
		}
}

static void op_link(void)
{
	struct entry *e = pick_entry(false);
	char path[128];

	if (!e || count_entries() >= NENTRY - 2 || !pick_new_path(path, false))
		return;
	logop("link %s %s (ino %d)", e->path, path, e->ino);
	if (link(e->path, path))
		failf("link %s %s: %s", e->path, path, strerror(errno));
	int ino = e->ino;

	new_entry(path, false, ino);
	inodes[ino].nlink++;
	check_touched(ino, 0, 0);
}

static void op_mkdir(void)
{
	char path[128];

	if (count_entries() >= NENTRY - 2 || !pick_new_path(path, true))
		return;
	logop("mkdir %s", path);
	if (mkdir(path, 0755))
		failf("mkdir %s: %s", path, strerror(errno));
	new_entry(path, true, -1);
}

static bool dir_empty(const char *path)
{
	size_t n = strlen(path);

	for (int i = 0; i < NENTRY; i++)
		if (entries[i].used && !strncmp(entries[i].path, path, n) &&
		    entries[i].path[n] == '/')
			return false;
	return true;
}

static void op_rmdir(void)
{
	struct entry *e = pick_entry(true);

	if (!e || !dir_empty(e->path))
		return;
	logop("rmdir %s", e->path);
	if (rmdir(e->path))
		failf("rmdir %s: %s", e->path, strerror(errno));
	e->used = false;
}

static void op_rename(void)
{
	bool dir = chance(25);
	struct entry *e = pick_entry(dir);
	char to[128];

	if (!e)
		return;
	if (!dir && chance(40)) {
		/* Over an existing file. */
		struct entry *t = pick_entry(false);

		if (!t || t == e)
			return;
		snprintf(to, sizeof(to), "%s", t->path);
	} else if (!pick_new_path(to, dir)) {
		return;
	}
	size_t n = strlen(e->path);

	if (dir && !strncmp(to, e->path, n) && to[n] == '/')
		return;		/* into itself: EINVAL, tested by fsops */
	if (dir) {
		/* Keep every moved path within the model's path length. */
		for (int i = 0; i < NENTRY; i++)
			if (entries[i].used && !strncmp(entries[i].path, e->path, n) &&
			    strlen(entries[i].path) - n + strlen(to) >= 120)
				return;
	}
	logop("rename %s %s", e->path, to);
	if (rename(e->path, to))
		failf("rename %s %s: %s", e->path, to, strerror(errno));
	struct entry *t = find_entry(to);

	if (t) {
		if (t->ino == e->ino) {
			/* Two names of one inode: rename does nothing. */
			return;
		}
		int tino = t->ino;

		drop_link(t);
		if (!inodes[tino].nlink && chance(50)) {
			close(inodes[tino].fd);
			inodes[tino].live = false;
		}
	}
	if (dir) {
		/* Move every path below the directory. */
		char old[128];

		snprintf(old, sizeof(old), "%s", e->path);
		for (int i = 0; i < NENTRY; i++) {
			struct entry *c = &entries[i];
			char np[300];

			if (!c->used || strncmp(c->path, old, n) ||
			    (c->path[n] != '/' && c->path[n] != 0))
				continue;
			snprintf(np, sizeof(np), "%s%s", to, c->path + n);
			if (strlen(np) >= sizeof(c->path))
				failf("model path too long: %s", np);
			memcpy(c->path, np, strlen(np) + 1);
		}
	} else {
		snprintf(e->path, sizeof(e->path), "%s", to);
		check_touched(e->ino, 0, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Remount                                                            */

static void remount(const char *cmd, const char *dir)
{
	logop("remount: %s", cmd);
	printf("fsx: op %lu: closing files, running remount command\n", opno);
	fflush(stdout);
	for (int i = 0; i < NINODE; i++) {
		if (!inodes[i].live)
			continue;
		close(inodes[i].fd);
		inodes[i].fd = -1;
		if (!inodes[i].nlink)
			inodes[i].live = false;
	}
	/* Our working directory would keep the mount busy. */
	if (chdir("/"))
		failf("chdir /: %s", strerror(errno));
	int st = system(cmd);

	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st))
		failf("remount command failed (status 0x%x): %s", st, cmd);
	if (chdir(dir))
		failf("chdir %s after remount: %s", dir, strerror(errno));
	for (int i = 0; i < NENTRY; i++) {
		struct entry *e = &entries[i];

		if (!e->used || e->dir || inodes[e->ino].fd >= 0)
			continue;
		int fd = open(e->path, O_RDWR | O_CLOEXEC);

		if (fd < 0)
			failf("reopen %s after remount: %s", e->path,
			      strerror(errno));
		inodes[e->ino].fd = fd;
	}
	verify_all("after remount");
	printf("fsx: op %lu: verified after remount\n", opno);
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: uext4-test-fsx --seed N --ops K --dir D "
		"[--remount-cmd CMD]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *cmd = NULL;

	nops = 10000;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops"))
			nops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[++i];
		else if (!strcmp(argv[i], "--remount-cmd"))
			cmd = argv[++i];
		else
			usage();
	}
	if (!dir)
		usage();
	printf("fsx: seed %llu ops %lu dir %s\n", seed, nops, dir);
	fflush(stdout);
	if (chdir(dir)) {
		perror(dir);
		return 2;
	}
	rng_state = seed;
	buf = malloc(FMAX + WMAX);
	for (int i = 0; i < NINODE; i++) {
		inodes[i].data = calloc(1, FMAX + WMAX);
		inodes[i].fd = -1;
		if (!inodes[i].data || !buf)
			return 2;
	}
	for (opno = 1; opno <= nops; opno++) {
		int ino = pick_file();

		snprintf(oplog[opno % LOGN], sizeof(oplog[0]), "%lu -", opno);
		unsigned w = (unsigned)rnd(100);

		if (cmd && opno == nops / 2) {
			remount(cmd, dir);
			continue;
		}
		if (ino < 0 || w < 6)
			op_create();
		else if (w < 36)
			op_write(ino);
		else if (w < 46)
			op_read(ino);
		else if (w < 54)
			op_truncate(ino);
		else if (w < 70)
			op_fallocate(ino);
		else if (w < 73)
			op_fsync(ino);
		else if (w < 79)
			op_xattr(ino);
		else if (w < 83)
			op_unlink();
		else if (w < 87)
			op_link();
		else if (w < 91)
			op_mkdir();
		else if (w < 93)
			op_rmdir();
		else
			op_rename();
		reap();
		if (opno % 10000 == 0)
			verify_all("periodic");
	}
	opno--;
	verify_all("final");
	printf("fsx: %lu operations OK; %lu MiB compared; "
	       "collapse/insert unsupported: %lu\n", nops,
	       n_bytes_checked >> 20, n_unsupported);
	return 0;
}
