/* SPDX-License-Identifier: MIT */
/*
 * uext4-test-fsops — differential tester: one seeded sequence of POSIX
 * operations inside an empty directory, printed as a transcript that must be
 * byte-identical on kernel ext4 and on uext4.
 *
 *	uext4-test-fsops --seed N --ops K --dir D [--unpriv-uid U --unpriv-gid G]
 *			 [--exact-seek]
 *
 * Every line names the call, its arguments (paths and fd slots, never fd
 * numbers) and the result or errno name. Stat results print type, mode,
 * nlink, uid, gid, size (not for directories), rdev and which of mtime/ctime
 * changed since the previous stat of the same path — never inode numbers,
 * blocks, directory sizes or absolute times, except explicitly set times.
 * Every 200 operations (and at the end) the whole tree is dumped.
 *
 * With --unpriv-uid/--unpriv-gid, segments of the sequence run in a forked
 * child that drops to that uid/gid and works mostly in the sticky directory
 * S (1777) and the setgid directory G (2777, group 4242).
 *
 * Left out on purpose, because they differ legitimately between file
 * systems or between kernel ext4 and any FUSE file system: st_blocks,
 * directory sizes, statfs, atime (printed only right after an explicit
 * set, never for symlinks: following a link updates it), the exact answers
 * of SEEK_DATA/SEEK_HOLE (a hole may be reported as data; the transcript
 * says whether the answer is valid — no non-zero byte skipped — unless
 * --exact-seek is given), writes starting at and seek positions beyond
 * ext4's maximum file size (FUSE only knows MAX_LFS_FILESIZE, so the kernel
 * updates mtime and clears suid/sgid before the daemon can refuse), data
 * written into FIFOs (the pipe code
 * updates only the in-core times), and directory lseek other than
 * SEEK_SET/SEEK_CUR.
 *
 * Everything is derived from the seed; the program does not check results
 * itself: comparing transcripts is the test. Exit 0 unless the harness
 * itself fails (bad arguments, D unusable): exit 2.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "rng.h"

/* ------------------------------------------------------------------ */
/* Random numbers (rng.h), output                                     */

#define PICK(arr) ((arr)[rnd(sizeof(arr) / sizeof((arr)[0]))])

__attribute__((format(printf, 1, 2)))
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* Print " = r" or " = -1 ENAME" and the newline. */
static void res(long r, int e)
{
	if (r < 0)
		out(" = -1 %s\n", ename(e));
	else
		out(" = %ld\n", r);
}

/* res() for a call result: errno is read after the call returned. */
static long resv(long r)
{
	int e = errno;

	res(r, e);
	return r;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull;
	return h;
}

#define FNV0 0xcbf29ce484222325ull

/*
 * Content hash independent of how holes are represented and of how the
 * file was read (chunk and segment boundaries): a sum over the non-zero
 * bytes of a mix of (absolute offset, byte value).
 */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t hash_nonzero(uint64_t h, uint64_t off, const unsigned char *b,
			     size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			h += mix64((off + i) ^ ((uint64_t)b[i] << 56));
	return h;
}

/* ------------------------------------------------------------------ */
/* Name pool                                                          */

static char long255[256], long256[257];

/* Directory prefixes; "" is the test directory itself. */
static const char *const root_prefixes[] = {
	"", "", "", "d0/", "d0/", "d0/d1/", "d1/", "d1/d0/", "S/", "S/d0/",
	"G/", "G/d0/", "P/",
};
static const char *const child_prefixes[] = {
	"S/", "S/", "S/", "S/d0/", "G/", "G/", "G/d0/", "", "d0/", "P/",
};

static char *pick_name(void)
{
	static const char *const names[] = {
		"a", "a", "b", "b", "c", "d0", "d0", "d1", "f", "L", "M", "",
	};
	const char *n = PICK(names);

	if (!strcmp(n, "L"))
		return long255;
	if (!strcmp(n, "M"))
		return chance(30) ? long256 : long255;
	return (char *)n;
}

struct ctx {
	bool child;
	uid_t uu;
	gid_t ug;
	bool unpriv;
	unsigned opno;
};

static struct ctx C;

/*
 * Set around operations that would replace, remove or re-permission the
 * test directory or the setup directories S, G and P: pick_path() then
 * never returns those (the unprivileged part needs them intact).
 */
static bool protect_top;

static void protect(char *buf)
{
	if (!protect_top)
		return;
	if (!strcmp(buf, "."))
		strcpy(buf, "a");
	else if (!strcmp(buf, "S") || !strcmp(buf, "G") || !strcmp(buf, "P"))
		strcat(buf, "/a");
}

/* Paths that recently existed, so that operations often hit something. */
#define NKNOWN 24
static char known[NKNOWN][512];
static unsigned nknown, knext;

static void add_known(const char *path)
{
	for (unsigned i = 0; i < nknown; i++)
		if (!strcmp(known[i], path))
			return;
	snprintf(known[knext], sizeof(known[0]), "%s", path);
	knext = (knext + 1) % NKNOWN;
	if (nknown < NKNOWN)
		nknown++;
}

/* Build a random path into buf (512 bytes). */
static void pick_path(char *buf)
{
	if (nknown && chance(C.child ? 30 : 45)) {
		strcpy(buf, known[rnd(nknown)]);
		protect(buf);
		return;
	}
	const char *p = C.child ? PICK(child_prefixes) : PICK(root_prefixes);
	const char *n = pick_name();

	if (!*n) {
		if (!*p)
			strcpy(buf, ".");
		else
			snprintf(buf, 512, "%.*s", (int)strlen(p) - 1, p);
		protect(buf);
		return;
	}
	snprintf(buf, 512, "%s%s", p, n);
}

/* Shorten long names in the transcript. */
static const char *show(const char *path, char *buf)
{
	const char *s = path;
	size_t o = 0;

	while (*s && o < 480) {
		if (!strncmp(s, long256, 256)) {
			o += (size_t)snprintf(buf + o, 512 - o, "<L256>");
			s += 256;
		} else if (!strncmp(s, long255, 255)) {
			o += (size_t)snprintf(buf + o, 512 - o, "<L255>");
			s += 255;
		} else {
			buf[o++] = *s++;
		}
	}
	buf[o] = 0;
	return buf;
}

#define SHOW(p) show((p), (char[512]){0})

/* ------------------------------------------------------------------ */
/* Timestamp tracking, stat printing                                  */

struct track {
	char key[520];
	bool used;
	struct timespec mt, ct;
};

#define NTRACK 512
static struct track tracks[NTRACK];

static struct track *track_get(const char *key, bool create)
{
	struct track *free_t = NULL;

	for (int i = 0; i < NTRACK; i++) {
		if (tracks[i].used && !strcmp(tracks[i].key, key))
			return &tracks[i];
		if (!tracks[i].used && !free_t)
			free_t = &tracks[i];
	}
	if (!create)
		return NULL;
	if (!free_t) {
		/* Deterministic eviction. */
		free_t = &tracks[rnd(NTRACK)];
	}
	snprintf(free_t->key, sizeof(free_t->key), "%s", key);
	free_t->used = false;
	return free_t;
}

/* Forget a path and every path below it (its binding changed). */
static void track_forget(const char *path)
{
	size_t n = strlen(path);

	for (int i = 0; i < NTRACK; i++) {
		const char *k = tracks[i].key + 2; /* skip "L:"/"S:" */

		if (!tracks[i].used)
			continue;
		if (!strncmp(k, path, n) && (k[n] == 0 || k[n] == '/'))
			tracks[i].used = false;
	}
}

static bool explicit_time(const struct timespec *t)
{
	return t->tv_sec < 1500000000 || t->tv_sec > 4000000000LL;
}

static char ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return 'f';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	default: return '?';
	}
}

static bool ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Print the stable stat fields (no newline). */
static void print_stat_fields(const struct stat *st)
{
	out("%c %04o n%lu u%u g%u", ftype(st->st_mode),
	    (unsigned)(st->st_mode & 07777), (unsigned long)st->st_nlink,
	    (unsigned)st->st_uid, (unsigned)st->st_gid);
	if (!S_ISDIR(st->st_mode))
		out(" s%lld", (long long)st->st_size);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		out(" r%u:%u", major(st->st_rdev), minor(st->st_rdev));
	if (explicit_time(&st->st_mtim))
		out(" mt=%lld.%09ld", (long long)st->st_mtim.tv_sec,
		    st->st_mtim.tv_nsec);
}

/* Print times relative to a tracking record, then update it. */
static void print_times(struct track *t, const struct stat *st)
{
	if (!t->used) {
		out(" t=new");
	} else {
		bool m = !ts_eq(&t->mt, &st->st_mtim);
		bool c = !ts_eq(&t->ct, &st->st_ctim);

		out(" t=%s%s%s", m ? "m" : "", c ? "c" : "", m || c ? "" : "-");
	}
	t->used = true;
	t->mt = st->st_mtim;
	t->ct = st->st_ctim;
}

/* stat or lstat a path, print the result line tail (after the call). */
static void do_stat_path(const char *path, bool follow)
{
	struct stat st;
	char key[520];
	int r = follow ? stat(path, &st) : lstat(path, &st);
	int e = errno;

	if (r < 0) {
		res(r, e);
		return;
	}
	add_known(path);
	out(" = ");
	print_stat_fields(&st);
	snprintf(key, sizeof(key), "%c:%s", follow ? 'S' : 'L', path);
	print_times(track_get(key, true), &st);
	out("\n");
}

/* ------------------------------------------------------------------ */
/* Open file slots                                                    */

#define NSLOT 6

struct slot {
	int fd;
	char path[512];
	mode_t type;
	bool append;		/* opened with O_APPEND */
	struct track tr;
};

static struct slot slots[NSLOT];

static int slot_pick_open(void)
{
	int n = 0, idx[NSLOT];

	for (int i = 0; i < NSLOT; i++)
		if (slots[i].fd >= 0)
			idx[n++] = i;
	return n ? idx[rnd((uint64_t)n)] : -1;
}

static void slot_close(int s, bool quiet)
{
	int r = close(slots[s].fd);
	int e = errno;

	if (!quiet) {
		out("%u close [%d:%s]", C.opno, s, SHOW(slots[s].path));
		res(r, e);
	}
	slots[s].fd = -1;
}

static void close_all(bool quiet)
{
	for (int i = 0; i < NSLOT; i++)
		if (slots[i].fd >= 0)
			slot_close(i, quiet);
}

#define SLOTNAME(s) (s), SHOW(slots[(s)].path)

/* ------------------------------------------------------------------ */
/* Sizes, offsets, data                                               */

#define MAXBYTES ((16ll << 40) - 4096)	/* ext4, 4 KiB blocks, extents */
#define BUFSZ (1u << 20)

static unsigned char *wbuf, *rbuf;

static uint64_t pick_len(void)
{
	switch (rnd(10)) {
	case 0: return rnd(16) + 1;
	case 1: case 2: case 3: return rnd(4096) + 1;
	case 4: case 5: return rnd(65536) + 1;
	case 6: return 4096 * (rnd(16) + 1);
	case 7: return rnd(262144) + 1;
	case 8: return chance(50) ? BUFSZ : rnd(BUFSZ) + 1;
	default: return rnd(3 * 4096);
	}
}

static long long pick_off(void)
{
	switch (rnd(20)) {
	case 0: return 0;
	case 1: return (1ll << 30) + (long long)rnd(1 << 20);
	case 2: return chance(50) ? (1ll << 40) + (long long)rnd(8192)
				  : MAXBYTES - (long long)rnd(8192);
	case 3: return 4096 * (long long)rnd(256);
	case 4: case 5: case 6: case 7: return (long long)rnd(65536);
	default: return (long long)rnd(4 << 20);
	}
}

static void fill(unsigned char *b, size_t n)
{
	if (chance(8)) {
		memset(b, 0, n);
		return;
	}
	uint64_t x = rnd64() | 1;

	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, n - i < 8 ? n - i : 8);
	}
}

/* ------------------------------------------------------------------ */
/* Operations                                                         */

static const char *flagstr(int fl, char *b)
{
	static const struct { int f; const char *n; } t[] = {
		{O_CREAT, "C"}, {O_EXCL, "X"}, {O_TRUNC, "T"}, {O_APPEND, "A"},
		{O_DIRECTORY, "D"}, {O_NOFOLLOW, "N"},
	};
	int acc = fl & O_ACCMODE;

	strcpy(b, acc == O_RDONLY ? "r" : acc == O_WRONLY ? "w" : "rw");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (fl & t[i].f)
			strcat(b, t[i].n);
	return b;
}

static mode_t pick_mode(void)
{
	static const mode_t modes[] = {
		0644, 0644, 0600, 0755, 0000, 0444, 0666, 0777, 04755, 02755,
		06777, 02644, 01777, 0711, 0640, 02070,
	};
	return chance(85) ? PICK(modes) : (mode_t)rnd(010000);
}

static void op_open(void)
{
	char path[512], fb[32];
	int s = -1, fl;

	for (int i = 0; i < NSLOT; i++)
		if (slots[i].fd < 0) {
			s = i;
			break;
		}
	if (s < 0) {
		s = (int)rnd(NSLOT);
		slot_close(s, false);
	}
	pick_path(path);
	fl = (int)PICK(((const int[]){O_RDONLY, O_WRONLY, O_RDWR, O_RDWR}));
	if (chance(60))
		fl |= O_CREAT;
	if (chance(20))
		fl |= O_EXCL;
	if (chance(20))
		fl |= O_TRUNC;
	if (chance(15))
		fl |= O_APPEND;
	if (chance(4))
		fl |= O_DIRECTORY;
	if (chance(4))
		fl |= O_NOFOLLOW;
	mode_t mode = pick_mode();

	if (chance(10)) {
		/* creat() */
		fl = O_CREAT | O_WRONLY | O_TRUNC;
	}
	out("%u open %s %s 0%o", C.opno, SHOW(path), flagstr(fl, fb),
	    (unsigned)mode);
	if (fl & O_CREAT)
		track_forget(path);
	int fd = open(path, fl | O_NONBLOCK | O_CLOEXEC, mode);
	int e = errno;

	if (fd < 0) {
		res(fd, e);
		return;
	}
	struct stat st;

	fstat(fd, &st);
	slots[s].fd = fd;
	add_known(path);
	snprintf(slots[s].path, sizeof(slots[s].path), "%s", path);
	slots[s].type = st.st_mode & S_IFMT;
	slots[s].append = fl & O_APPEND;
	slots[s].tr.used = false;
	out(" = [%d] ", s);
	print_stat_fields(&st);
	out("\n");
}

static void op_fstat_slot(int s)
{
	struct stat st;
	int r = fstat(slots[s].fd, &st);
	int e = errno;

	out("%u fstat [%d:%s]", C.opno, SLOTNAME(s));
	if (r < 0) {
		res(r, e);
		return;
	}
	out(" = ");
	print_stat_fields(&st);
	print_times(&slots[s].tr, &st);
	out("\n");
}

static size_t cap_len(int s, uint64_t len)
{
	if (slots[s].type != S_IFREG && len > 4096)
		len = 4096;
	return (size_t)len;
}

static void op_write(int s)
{
	size_t len = cap_len(s, pick_len());
	long long off = pick_off();
	bool pos = chance(25);
	ssize_t r;

	if (slots[s].type == S_IFIFO) {
		/*
		 * The pipe code updates the times of the in-core inode only;
		 * FUSE never tells the daemon, so they differ legitimately.
		 */
		out("%u write [%d:%s] skipped: fifo\n", C.opno, SLOTNAME(s));
		return;
	}
	fill(wbuf, len);
	uint64_t h = fnv(FNV0, wbuf, len);
	struct stat st;
	long long at = pos ? (long long)lseek(slots[s].fd, 0, SEEK_CUR) : off;

	if (slots[s].append && fstat(slots[s].fd, &st) == 0)
		at = st.st_size;
	if (slots[s].type == S_IFREG && at >= MAXBYTES) {
		/*
		 * ext4 fails before touching the inode (EFBIG); FUSE only
		 * knows MAX_LFS_FILESIZE, so the kernel updates mtime and
		 * clears suid/sgid before the daemon can say EFBIG.
		 */
		out("%u %s [%d:%s] at=%lld len=%zu: beyond-max-file-size\n",
		    C.opno, pos ? "write" : "pwrite", SLOTNAME(s), at, len);
		return;
	}

	if (pos) {
		out("%u write [%d:%s] len=%zu h=%016" PRIx64, C.opno, SLOTNAME(s),
		    len, h);
		r = write(slots[s].fd, wbuf, len);
	} else {
		out("%u pwrite [%d:%s] off=%lld len=%zu h=%016" PRIx64, C.opno,
		    SLOTNAME(s), off, len, h);
		r = pwrite(slots[s].fd, wbuf, len, off);
	}
	res((long)r, errno);
	if (chance(30))
		op_fstat_slot(s);
}

static void op_read(int s)
{
	size_t len = cap_len(s, pick_len());
	long long off = pick_off();
	ssize_t r;

	if (chance(30)) {
		out("%u read [%d:%s] len=%zu", C.opno, SLOTNAME(s), len);
		r = read(slots[s].fd, rbuf, len);
	} else {
		if (chance(60))
			off = (long long)rnd(1 << 20);
		out("%u pread [%d:%s] off=%lld len=%zu", C.opno, SLOTNAME(s),
		    off, len);
		r = pread(slots[s].fd, rbuf, len, off);
	}
	int e = errno;

	if (r < 0) {
		res(r, e);
		return;
	}
	out(" = %zd h=%016" PRIx64 "\n", r, fnv(FNV0, rbuf, (size_t)r));
}

static long long pick_size(void)
{
	switch (rnd(14)) {
	case 0: return 0;
	case 1: return MAXBYTES;
	case 2: return MAXBYTES + 1;
	case 3: return 1ll << 44;
	case 4: return 1ll << 62;
	case 5: return -1;
	case 6: return (1ll << 30) + (long long)rnd(4096);
	case 7: case 8: return (long long)rnd(65536);
	default: return (long long)rnd(4 << 20);
	}
}

static void op_truncate(void)
{
	long long sz = pick_size();
	int s = slot_pick_open();
	long r;

	if (s >= 0 && chance(50)) {
		out("%u ftruncate [%d:%s] %lld", C.opno, SLOTNAME(s), sz);
		r = ftruncate(slots[s].fd, sz);
		res(r, errno);
		if (chance(40))
			op_fstat_slot(s);
		return;
	}
	char path[512];

	pick_path(path);
	out("%u truncate %s %lld", C.opno, SHOW(path), sz);
	r = truncate(path, sz);
	res(r, errno);
	if (chance(50)) {
		out("%u lstat %s", C.opno, SHOW(path));
		do_stat_path(path, false);
	}
}

static void op_fallocate(int s)
{
	static const struct { int m; const char *n; } modes[] = {
		{0, "0"}, {0, "0"}, {FALLOC_FL_KEEP_SIZE, "KEEP"},
		{FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "PUNCH"},
		{FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "PUNCH"},
		{FALLOC_FL_ZERO_RANGE, "ZERO"},
		{FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, "ZERO|KEEP"},
		{FALLOC_FL_PUNCH_HOLE, "PUNCH-nokeep"},
	};
	int i = (int)rnd(sizeof(modes) / sizeof(modes[0]));
	long long off = pick_off();
	long long len = (long long)pick_len();

	if (chance(5))
		len = chance(50) ? 0 : (long long)(8 << 20);
	out("%u fallocate [%d:%s] %s off=%lld len=%lld", C.opno, SLOTNAME(s),
	    modes[i].n, off, len);
	long r = fallocate(slots[s].fd, modes[i].m, off, len);

	res(r, errno);
	if (chance(40))
		op_fstat_slot(s);
}

static bool exact_seek;

/* First non-zero byte in [from, to) (at most 64 MiB looked at), or -1. */
static long long first_nonzero(int fd, long long from, long long to)
{
	if (to - from > (64ll << 20))
		to = from + (64ll << 20);
	while (from < to) {
		size_t n = (size_t)(to - from < BUFSZ ? to - from : BUFSZ);
		ssize_t r = pread(fd, rbuf, n, from);

		if (r <= 0)
			return -1;
		for (ssize_t i = 0; i < r; i++)
			if (rbuf[i])
				return from + i;
		from += r;
	}
	return -1;
}

/*
 * SEEK_DATA/SEEK_HOLE may legitimately report a hole as data (kernel ext4
 * itself answers from the page cache for unwritten extents), so unless
 * --exact-seek is given the transcript says whether the answer is valid:
 * no non-zero byte skipped by SEEK_DATA, SEEK_HOLE within [off, size].
 */
static void op_lseek(int s)
{
	static const struct { int w; const char *n; } wh[] = {
		{SEEK_DATA, "DATA"}, {SEEK_DATA, "DATA"}, {SEEK_HOLE, "HOLE"},
		{SEEK_HOLE, "HOLE"}, {SEEK_SET, "SET"}, {SEEK_END, "END"},
		{SEEK_CUR, "CUR"},
	};
	int i = (int)rnd(sizeof(wh) / sizeof(wh[0]));
	long long off = chance(70) ? (long long)rnd(4 << 20) : pick_off();
	int fd = slots[s].fd;
	struct stat st;

	if (wh[i].w == SEEK_END || wh[i].w == SEEK_CUR)
		off = (long long)rnd(8192) - 4096;
	if (slots[s].type != S_IFREG && wh[i].w != SEEK_CUR) {
		/* Directory offsets and sizes differ legitimately. */
		i = 4;
	}
	out("%u lseek [%d:%s] %lld %s", C.opno, SLOTNAME(s), off, wh[i].n);
	if (slots[s].type == S_IFREG &&
	    (wh[i].w == SEEK_END || wh[i].w == SEEK_CUR) && fstat(fd, &st) == 0) {
		long long base = wh[i].w == SEEK_END ? (long long)st.st_size :
			(long long)lseek(fd, 0, SEEK_CUR);

		if (base + off > MAXBYTES) {
			/*
			 * ext4 refuses positions beyond its maximum file size
			 * (EINVAL); FUSE only knows MAX_LFS_FILESIZE.
			 */
			out(" = beyond-max-file-size\n");
			lseek(fd, 0, SEEK_SET);
			return;
		}
	}
	off_t r = lseek(fd, off, wh[i].w);
	int e = errno;

	if (exact_seek || (wh[i].w != SEEK_DATA && wh[i].w != SEEK_HOLE) ||
	    r < 0 || fstat(fd, &st) || off >= st.st_size) {
		if (r < 0 && wh[i].w == SEEK_DATA && e == ENXIO &&
		    !exact_seek && fstat(fd, &st) == 0 && off < st.st_size) {
			long long z = first_nonzero(fd, off, st.st_size);

			if (z >= 0)
				out(" = -1 ENXIO BAD: non-zero byte at %lld\n", z);
			else
				out(" = valid\n");
		} else {
			res((long)r, e);
		}
	} else if (wh[i].w == SEEK_DATA) {
		long long z = first_nonzero(fd, off, r);

		if (z >= 0)
			out(" = %lld BAD: non-zero byte at %lld\n", (long long)r, z);
		else if (r > st.st_size)
			out(" = %lld BAD: beyond size\n", (long long)r);
		else
			out(" = valid\n");
	} else {
		if (r < off || r > st.st_size)
			out(" = %lld BAD: outside [off, size]\n", (long long)r);
		else
			out(" = valid\n");
	}
	if (!exact_seek && (wh[i].w == SEEK_DATA || wh[i].w == SEEK_HOLE))
		lseek(fd, off, SEEK_SET);	/* same position on every fs */
}

static void op_fsync(int s)
{
	bool d = chance(50);

	out("%u %s [%d:%s]", C.opno, d ? "fdatasync" : "fsync", SLOTNAME(s));
	resv(d ? fdatasync(slots[s].fd) : fsync(slots[s].fd));
}

static void maybe_lstat(const char *path)
{
	if (chance(50)) {
		out("%u lstat %s", C.opno, SHOW(path));
		do_stat_path(path, false);
	}
}

/* Print the parent directory's stat (directory times on entry changes). */
static void maybe_stat_parent(const char *path)
{
	char p[512];
	char *sl;

	if (!chance(40))
		return;
	snprintf(p, sizeof(p), "%s", path);
	sl = strrchr(p, '/');
	if (sl)
		*sl = 0;
	else
		strcpy(p, ".");
	out("%u lstat %s", C.opno, SHOW(p));
	do_stat_path(p, false);
}

static void op_mkdir(void)
{
	char path[512];
	mode_t m = chance(70) ? 0755 : pick_mode();

	pick_path(path);
	out("%u mkdir %s 0%o", C.opno, SHOW(path), (unsigned)m);
	track_forget(path);
	if (resv(mkdir(path, m)) == 0)
		add_known(path);
	maybe_lstat(path);
	maybe_stat_parent(path);
}

static void op_rmdir(void)
{
	char path[512];

	pick_path(path);
	out("%u rmdir %s", C.opno, SHOW(path));
	track_forget(path);
	resv(rmdir(path));
	maybe_stat_parent(path);
}

static void op_unlink(void)
{
	char path[512];

	pick_path(path);
	out("%u unlink %s", C.opno, SHOW(path));
	track_forget(path);
	resv(unlink(path));
	maybe_stat_parent(path);
}

static void op_link(void)
{
	char a[512], b[512];
	int fl = chance(20) ? AT_SYMLINK_FOLLOW : 0;

	pick_path(a);
	pick_path(b);
	out("%u link %s %s%s", C.opno, SHOW(a), SHOW(b),
	    fl ? " FOLLOW" : "");
	track_forget(b);
	if (resv(linkat(AT_FDCWD, a, AT_FDCWD, b, fl)) == 0)
		add_known(b);
	maybe_lstat(a);
	maybe_stat_parent(b);
}

static void pick_target(char *t)
{
	static const char *const targets[] = {
		"a", "b", "d0", "d0/a", "d1/d0", ".", "S/a", "nonexist/x",
		"/nonexistent-uext4-dir/x", "c", "f",
	};
	switch (rnd(12)) {
	case 0: {
		size_t n = 61 + rnd(400);

		memset(t, 'x', n);
		t[n] = 0;
		break;
	}
	case 1: {
		size_t n = chance(50) ? 4095 : 4096;

		memset(t, 'y', n);
		t[n] = 0;
		break;
	}
	case 2:
		strcpy(t, "");
		break;
	default:
		strcpy(t, PICK(targets));
	}
}

static void op_symlink(void)
{
	char path[512], *t = (char *)rbuf;

	memset(t, 0, 8192);
	pick_target(t);
	pick_path(path);
	size_t tl = strlen(t);

	if (tl > 60)
		out("%u symlink <%c*%zu> %s", C.opno, t[0], tl, SHOW(path));
	else
		out("%u symlink '%s' %s", C.opno, t, SHOW(path));
	track_forget(path);
	if (resv(symlink(t, path)) == 0)
		add_known(path);
	maybe_lstat(path);
}

static void op_readlink(void)
{
	char path[512], buf[4200];
	size_t sz = chance(80) ? sizeof(buf) : rnd(8);

	pick_path(path);
	out("%u readlink %s %zu", C.opno, SHOW(path), sz);
	ssize_t r = readlink(path, buf, sz);
	int e = errno;

	if (r < 0) {
		res(r, e);
		return;
	}
	if (r > 60)
		out(" = %zd h=%016" PRIx64 "\n", r, fnv(FNV0, buf, (size_t)r));
	else
		out(" = %zd '%.*s'\n", r, (int)r, buf);
}

static void op_rename(void)
{
	static const struct { unsigned f; const char *n; } fl[] = {
		{0, "rename"}, {0, "renameat2-0"}, {1, "NOREPLACE"},
		{2, "EXCHANGE"}, {2, "EXCHANGE"}, {3, "NOREPLACE|EXCHANGE"},
	};
	char a[512], b[600];
	int i = (int)rnd(sizeof(fl) / sizeof(fl[0]));
	long r;

	pick_path(a);
	if (chance(10)) {
		/* A directory into itself (or deeper). */
		snprintf(b, sizeof(b), "%s/%s", a, chance(50) ? "x" : "d1/y");
	} else {
		pick_path(b);
	}
	out("%u %s %s %s", C.opno, i == 0 ? "rename" : "renameat2", SHOW(a),
	    SHOW(b));
	if (i)
		out(" %s", fl[i].n);
	track_forget(a);
	track_forget(b);
	if (i == 0)
		r = rename(a, b);
	else
		r = syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, fl[i].f);
	if (resv(r) == 0)
		add_known(b);
	maybe_lstat(b);
	maybe_stat_parent(a);
}

static void op_mknod(void)
{
	static const struct { mode_t t; const char *n; unsigned ma, mi; } k[] = {
		{S_IFIFO, "fifo", 0, 0}, {S_IFIFO, "fifo", 0, 0},
		{S_IFCHR, "chr", 1, 3}, {S_IFBLK, "blk", 7, 200},
		{S_IFSOCK, "sock", 0, 0}, {S_IFREG, "reg", 0, 0},
	};
	char path[512];
	int i = (int)rnd(sizeof(k) / sizeof(k[0]));
	mode_t m = chance(70) ? 0644 : pick_mode();

	pick_path(path);
	out("%u mknod %s %s 0%o %u:%u", C.opno, SHOW(path), k[i].n,
	    (unsigned)m, k[i].ma, k[i].mi);
	track_forget(path);
	if (resv(mknod(path, k[i].t | m, makedev(k[i].ma, k[i].mi))) == 0)
		add_known(path);
	maybe_lstat(path);
}

static void op_chmod(void)
{
	mode_t m = pick_mode();
	int s = slot_pick_open();

	if (s >= 0 && chance(30)) {
		out("%u fchmod [%d:%s] 0%o", C.opno, SLOTNAME(s), (unsigned)m);
		resv(fchmod(slots[s].fd, m));
		op_fstat_slot(s);
		return;
	}
	char path[512];

	pick_path(path);
	out("%u chmod %s 0%o", C.opno, SHOW(path), (unsigned)m);
	resv(chmod(path, m));
	maybe_lstat(path);
}

static uid_t pick_uid(void)
{
	switch (rnd(5)) {
	case 0: return (uid_t)-1;
	case 1: return 0;
	case 2: return 12345;
	default: return C.unpriv ? C.uu : 65534;
	}
}

static gid_t pick_gid(void)
{
	switch (rnd(5)) {
	case 0: return (gid_t)-1;
	case 1: return 0;
	case 2: return 4242;
	default: return C.unpriv ? C.ug : 65534;
	}
}

static void op_chown(void)
{
	uid_t u = pick_uid();
	gid_t g = pick_gid();
	int s = slot_pick_open();
	int how = (int)rnd(3);

	if (s >= 0 && how == 2) {
		out("%u fchown [%d:%s] %d %d", C.opno, SLOTNAME(s), (int)u,
		    (int)g);
		resv(fchown(slots[s].fd, u, g));
		op_fstat_slot(s);
		return;
	}
	char path[512];

	pick_path(path);
	out("%u %s %s %d %d", C.opno, how ? "lchown" : "chown", SHOW(path),
	    (int)u, (int)g);
	resv(how ? lchown(path, u, g) : chown(path, u, g));
	maybe_lstat(path);
}

static void pick_time(struct timespec *t, char *d)
{
	static const long long secs[] = {
		0, 1, 1000000000, 1234567890, -1, -86400 * 365 * 50LL,
		4102444800LL /* 2100 */, 17179869183LL /* 2514 */, 86400,
	};
	switch (rnd(4)) {
	case 0:
		t->tv_sec = 0;
		t->tv_nsec = UTIME_NOW;
		strcpy(d, "NOW");
		return;
	case 1:
		t->tv_sec = 0;
		t->tv_nsec = UTIME_OMIT;
		strcpy(d, "OMIT");
		return;
	default:
		t->tv_sec = (time_t)PICK(secs);
		t->tv_nsec = chance(70) ? (long)rnd(1000000000) : 0;
		sprintf(d, "%lld.%09ld", (long long)t->tv_sec, t->tv_nsec);
	}
}

/*
 * atime is printed only when this call set it explicitly, and not for
 * symlinks: any later access (relatime), including following the link
 * during a path walk, may legitimately change it.
 */
static void print_utime_result(const struct stat *st, bool atime_set)
{
	out("   after:");
	if (atime_set && !S_ISLNK(st->st_mode) && explicit_time(&st->st_atim))
		out(" at=%lld.%09ld", (long long)st->st_atim.tv_sec,
		    st->st_atim.tv_nsec);
	if (explicit_time(&st->st_mtim))
		out(" mt=%lld.%09ld", (long long)st->st_mtim.tv_sec,
		    st->st_mtim.tv_nsec);
	out("\n");
}

static void op_utimens(void)
{
	struct timespec ts[2];
	char da[40], db[40];
	bool null = chance(8);
	int s = slot_pick_open();
	long r;
	int e;
	struct stat st;

	pick_time(&ts[0], da);
	pick_time(&ts[1], db);
	bool atime_set = !null && ts[0].tv_nsec != UTIME_NOW &&
			 ts[0].tv_nsec != UTIME_OMIT;
	if (s >= 0 && chance(25)) {
		out("%u futimens [%d:%s] %s %s", C.opno, SLOTNAME(s),
		    null ? "NULL" : da, null ? "" : db);
		r = futimens(slots[s].fd, null ? NULL : ts);
		e = errno;
		res(r, e);
		if (r == 0 && fstat(slots[s].fd, &st) == 0)
			print_utime_result(&st, atime_set);
		op_fstat_slot(s);
		return;
	}
	char path[512];
	int fl = chance(30) ? AT_SYMLINK_NOFOLLOW : 0;

	pick_path(path);
	out("%u utimensat %s %s %s%s", C.opno, SHOW(path), null ? "NULL" : da,
	    null ? "" : db, fl ? " NOFOLLOW" : "");
	r = utimensat(AT_FDCWD, path, null ? NULL : ts, fl);
	e = errno;
	res(r, e);
	if (r == 0 && (fl ? lstat(path, &st) : stat(path, &st)) == 0)
		print_utime_result(&st, atime_set);
	out("%u %s %s", C.opno, fl ? "lstat" : "stat", SHOW(path));
	do_stat_path(path, !fl);
}

static void op_access(void)
{
	static const char *const mn[] = {
		"F", "X", "W", "WX", "R", "RX", "RW", "RWX",
	};
	char path[512];
	int m = (int)rnd(8);
	int fl = 0;

	if (chance(20))
		fl |= AT_EACCESS;
	if (chance(20))
		fl |= AT_SYMLINK_NOFOLLOW;
	pick_path(path);
	out("%u faccessat %s %s%s%s", C.opno, SHOW(path), mn[m],
	    fl & AT_EACCESS ? " EACCESS" : "",
	    fl & AT_SYMLINK_NOFOLLOW ? " NOFOLLOW" : "");
	resv(faccessat(AT_FDCWD, path, m, fl));
}

static void op_stat(void)
{
	char path[512];
	int s = slot_pick_open();

	if (s >= 0 && chance(20)) {
		op_fstat_slot(s);
		return;
	}
	bool follow = chance(40);

	pick_path(path);
	out("%u %s %s", C.opno, follow ? "stat" : "lstat", SHOW(path));
	do_stat_path(path, follow);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "name:type" list of a directory; caller frees. */
static int list_dir(const char *path, char ***names, size_t *n)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t cap = 16;

	if (!d)
		return -errno;
	*n = 0;
	*names = malloc(cap * sizeof(char *));
	errno = 0;
	while ((de = readdir(d))) {
		if (*n == cap) {
			cap *= 2;
			*names = realloc(*names, cap * sizeof(char *));
		}
		char *s = malloc(strlen(de->d_name) + 4);

		sprintf(s, "%s\x01%c", de->d_name, "?pc?d?b?f?l?s?w"[de->d_type & 15]);
		(*names)[(*n)++] = s;
		errno = 0;
	}
	int e = errno;

	closedir(d);
	qsort(*names, *n, sizeof(char *), cmp_str);
	return e ? -e : 0;
}

static void op_readdir(void)
{
	char path[512];
	char **names;
	size_t n;

	pick_path(path);
	out("%u readdir %s", C.opno, SHOW(path));
	int r = list_dir(path, &names, &n);

	if (r < 0) {
		res(-1, -r);
		return;
	}
	out(" = %zu:", n);
	for (size_t i = 0; i < n; i++) {
		char *sep = strchr(names[i], '\x01');

		*sep = 0;
		out(" %s/%c", SHOW(names[i]), sep[1]);
		free(names[i]);
	}
	free(names);
	out("\n");
}

/* Print a listxattr result sorted (the order is the file system's). */
static void print_xattr_list(char *list, long r, size_t sz)
{
	char *v[64];
	size_t n = 0;

	if (sz) {
		for (char *p = list; p < list + r && n < 64; p += strlen(p) + 1)
			v[n++] = p;
		qsort(v, n, sizeof(char *), cmp_str);
		for (size_t i = 0; i < n; i++)
			out(" %s", strlen(v[i]) > 40 ? "<longname>" : v[i]);
	}
	out("\n");
}

static void pick_xname(char *b)
{
	static const char *const names[] = {
		"user.a", "user.a", "user.b", "user.c", "trusted.t",
		"trusted.u", "user.", "bogus.x", "L", "M",
	};
	const char *n = PICK(names);

	if (!strcmp(n, "L") || !strcmp(n, "M")) {
		/* XATTR_NAME_MAX is 255; 256 gives ERANGE. */
		size_t len = n[0] == 'L' ? 255 : 256;

		strcpy(b, "user.");
		memset(b + 5, 'v', len - 5);
		b[len] = 0;
		return;
	}
	strcpy(b, n);
}

static void op_xattr(void)
{
	char path[512], name[300], nb[300];
	int s = slot_pick_open();
	bool onfd = s >= 0 && chance(15);
	bool follow = chance(30);
	int what = (int)rnd(10);
	bool post_stat = chance(30);	/* drawn first: results must not */
	long r;				/* change what is drawn later */
	int e;

	if (!onfd)
		pick_path(path);
	pick_xname(name);
	snprintf(nb, sizeof(nb), "%s", strlen(name) > 40 ? "<longname>" : name);
	if (onfd)
		out("%u [%d:%s]", C.opno, SLOTNAME(s));
	else
		out("%u %s", C.opno, SHOW(path));
	if (what < 4) {
		static const int fls[] = {0, 0, XATTR_CREATE, XATTR_REPLACE,
					  XATTR_CREATE | XATTR_REPLACE};
		static const size_t big[] = {0, 5000, 65537};
		int fl = PICK(fls);
		size_t len = chance(8) ? PICK(big) : rnd(chance(70) ? 40 : 200);

		fill(wbuf, len);
		out(" setxattr %s len=%zu fl=%d h=%016" PRIx64, nb, len, fl,
		    fnv(FNV0, wbuf, len));
		if (onfd)
			r = fsetxattr(slots[s].fd, name, wbuf, len, fl);
		else if (follow)
			r = setxattr(path, name, wbuf, len, fl);
		else
			r = lsetxattr(path, name, wbuf, len, fl);
		res(r, errno);
	} else if (what < 7) {
		size_t sz = chance(70) ? 65536 : rnd(chance(50) ? 2 : 64);

		out(" getxattr %s %zu", nb, sz);
		if (onfd)
			r = fgetxattr(slots[s].fd, name, rbuf, sz);
		else if (follow)
			r = getxattr(path, name, rbuf, sz);
		else
			r = lgetxattr(path, name, rbuf, sz);
		e = errno;
		if (r < 0)
			res(r, e);
		else
			out(" = %ld h=%016" PRIx64 "\n", r,
			    sz ? fnv(FNV0, rbuf, (size_t)r) : 0);
	} else if (what < 9) {
		size_t sz = chance(70) ? 65536 : rnd(chance(50) ? 2 : 64);
		char *list = (char *)rbuf;

		out(" listxattr %zu", sz);
		if (onfd)
			r = flistxattr(slots[s].fd, list, sz);
		else if (follow)
			r = listxattr(path, list, sz);
		else
			r = llistxattr(path, list, sz);
		e = errno;
		if (r < 0) {
			res(r, e);
		} else {
			out(" = %ld", r);
			print_xattr_list(list, r, sz);
		}
	} else {
		out(" removexattr %s", nb);
		if (onfd)
			r = fremovexattr(slots[s].fd, name);
		else if (follow)
			r = removexattr(path, name);
		else
			r = lremovexattr(path, name);
		res(r, errno);
	}
	if (!onfd && post_stat) {
		out("%u lstat %s", C.opno, SHOW(path));
		do_stat_path(path, false);
	}
}

static void op_umask(void)
{
	static const mode_t masks[] = {022, 022, 0, 077, 002, 027, 07};
	mode_t m = PICK(masks);

	out("%u umask 0%03o\n", C.opno, (unsigned)m);
	umask(m);
}

/* ------------------------------------------------------------------ */
/* Tree dump                                                          */

static void dump_file(const char *path, const struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	uint64_t h = FNV0, total = 0;
	long long size = st->st_size;

	if (fd < 0) {
		out(" open=%s", ename(errno));
		return;
	}
	/*
	 * Hash what the file system itself returns, not the kernel page
	 * cache that earlier writes filled: drop the clean cached pages
	 * (for a FUSE mount the reads then reach the daemon).
	 */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (size <= (16 << 20)) {
		for (long long off = 0;;) {
			ssize_t r = pread(fd, rbuf, BUFSZ, off);

			if (r < 0) {
				out(" read=%s", ename(errno));
				goto out_close;
			}
			if (r == 0)
				break;
			h = hash_nonzero(h, (uint64_t)off, rbuf, (size_t)r);
			off += r;
		}
	} else {
		/* Sparse giant: visit the data segments only. */
		long long off = 0;

		while (off < size) {
			long long d = lseek(fd, off, SEEK_DATA);
			long long e;

			if (d < 0)
				break;
			e = lseek(fd, d, SEEK_HOLE);
			if (e < 0)
				e = size;
			for (off = d; off < e; ) {
				size_t n = (size_t)(e - off < BUFSZ ? e - off : BUFSZ);
				ssize_t r = pread(fd, rbuf, n, off);

				if (r <= 0) {
					out(" read=%s", r ? ename(errno) : "EOF");
					goto out_close;
				}
				h = hash_nonzero(h, (uint64_t)off, rbuf, (size_t)r);
				off += r;
				total += (uint64_t)r;
				if (total > (256u << 20)) {
					out(" hash=TOO-MUCH-DATA");
					goto out_close;
				}
			}
		}
	}
	out(" h=%016" PRIx64, h);
out_close:
	close(fd);
}

static void dump_xattrs(const char *path)
{
	char list[8192], *v[128];
	size_t n = 0;
	ssize_t r = llistxattr(path, list, sizeof(list));

	if (r < 0) {
		out(" xl=%s", ename(errno));
		return;
	}
	for (char *p = list; p < list + r && n < 128; p += strlen(p) + 1)
		v[n++] = p;
	qsort(v, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		ssize_t l = lgetxattr(path, v[i], rbuf, 65536);

		out(" x[%s]", strlen(v[i]) > 40 ? "<longname>" : v[i]);
		if (l < 0)
			out("=%s", ename(errno));
		else
			out("=%zd:%016" PRIx64, l, fnv(FNV0, rbuf, (size_t)l));
	}
}

static void dump_tree(const char *path, int depth)
{
	struct stat st;
	char **names;
	size_t n;

	if (lstat(path, &st) < 0) {
		out("  %s lstat=%s\n", SHOW(path), ename(errno));
		return;
	}
	out("  %s ", SHOW(path));
	print_stat_fields(&st);
	if (S_ISLNK(st.st_mode)) {
		char t[4200];
		ssize_t l = readlink(path, t, sizeof(t));

		if (l < 0)
			out(" rl=%s", ename(errno));
		else
			out(" ->%016" PRIx64, fnv(FNV0, t, (size_t)l));
	}
	dump_xattrs(path);
	if (S_ISREG(st.st_mode))
		dump_file(path, &st);
	out("\n");
	if (!S_ISDIR(st.st_mode) || depth > 12)
		return;
	int r = list_dir(path, &names, &n);

	if (r < 0) {
		out("  %s readdir=%s\n", SHOW(path), ename(-r));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char *sep = strchr(names[i], '\x01');
		char sub[1024];

		*sep = 0;
		if (strcmp(names[i], ".") && strcmp(names[i], "..")) {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]);
			if (strlen(sub) < 4000)
				dump_tree(sub, depth + 1);
		}
		free(names[i]);
	}
	free(names);
}

/* ------------------------------------------------------------------ */
/* Driver                                                             */

static void protected_op(void (*op)(void))
{
	protect_top = true;
	op();
	protect_top = false;
}

static void one_op(void)
{
	int s = slot_pick_open();
	unsigned w = (unsigned)rnd(100);

	if (s < 0 && w < 40)
		w = 0;
	if (w < 8)
		op_open();
	else if (w < 18)
		op_write(s);
	else if (w < 24)
		op_read(s);
	else if (w < 28)
		op_truncate();
	else if (w < 33)
		op_fallocate(s);
	else if (w < 36)
		op_lseek(s);
	else if (w < 38)
		op_fsync(s);
	else if (w < 40)
		slot_close(s, false);
	else if (w < 45)
		op_mkdir();
	else if (w < 48)
		protected_op(op_rmdir);
	else if (w < 52)
		op_unlink();
	else if (w < 55)
		op_link();
	else if (w < 58)
		op_symlink();
	else if (w < 60)
		op_readlink();
	else if (w < 66)
		protected_op(op_rename);
	else if (w < 68)
		op_mknod();
	else if (w < 71)
		protected_op(op_chmod);
	else if (w < 74)
		protected_op(op_chown);
	else if (w < 77)
		op_utimens();
	else if (w < 80)
		op_access();
	else if (w < 86)
		op_stat();
	else if (w < 89)
		op_readdir();
	else if (w < 99)
		op_xattr();
	else
		op_umask();
}

#define CHILD_OPS 150

/* Run CHILD_OPS operations as the unprivileged user in a child process. */
static void run_child(void)
{
	uint64_t cseed = rnd64();
	pid_t pid;
	int st;

	out("%u child uid=%u gid=%u begin\n", C.opno, (unsigned)C.uu,
	    (unsigned)C.ug);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close_all(true);
		if (setgroups(0, NULL) || setresgid(C.ug, C.ug, C.ug) ||
		    setresuid(C.uu, C.uu, C.uu)) {
			perror("drop privileges");
			_exit(2);
		}
		C.child = true;
		rng_state = cseed;
		for (int i = 0; i < CHILD_OPS; i++, C.opno++)
			one_op();
		close_all(false);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "fsops: child failed (status 0x%x)\n", st);
		exit(2);
	}
	C.opno += CHILD_OPS;
	out("%u child end\n", C.opno);
}

static void setup(void)
{
	umask(022);
	if (mkdir("S", 01777) || chmod("S", 01777) || mkdir("G", 02777) ||
	    chmod("G", 02777) || mkdir("P", 0700) || mkdir("d0", 0755)) {
		perror("fsops: setup");
		exit(2);
	}
	if (chown("G", 0, 4242)) {
		perror("fsops: setup chown");
		exit(2);
	}
	if (chmod("G", 02777)) {
		perror("fsops: setup chmod");
		exit(2);
	}
	out("setup S=1777 G=2777:4242 P=0700 d0=0755\n");
}

static void usage(void)
{
	fprintf(stderr, "usage: uext4-test-fsops --seed N --ops K --dir D "
		"[--unpriv-uid U --unpriv-gid G] [--exact-seek]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long long seed = 1;
	unsigned long ops = 4000;
	const char *dir = NULL;
	long uu = -1, ug = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--exact-seek")) {
			exact_seek = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops"))
			ops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[++i];
		else if (!strcmp(argv[i], "--unpriv-uid"))
			uu = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--unpriv-gid"))
			ug = strtol(argv[++i], NULL, 0);
		else
			usage();
	}
	if (!dir || (uu < 0) != (ug < 0))
		usage();
	if (chdir(dir)) {
		perror(dir);
		return 2;
	}
	wbuf = calloc(1, BUFSZ + 8192);
	rbuf = calloc(1, BUFSZ + 8192);
	if (!wbuf || !rbuf)
		return 2;
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	memset(long255, 'N', 255);
	memset(long256, 'O', 256);
	for (int i = 0; i < NSLOT; i++)
		slots[i].fd = -1;
	C.unpriv = uu >= 0;
	C.uu = (uid_t)uu;
	C.ug = (gid_t)ug;
	rng_state = seed;
	out("fsops seed=%llu ops=%lu unpriv=%s\n", seed, ops,
	    C.unpriv ? "yes" : "no");
	setup();
	if (C.unpriv && (getuid() != 0)) {
		fprintf(stderr, "fsops: --unpriv-uid needs root\n");
		return 2;
	}
	for (C.opno = 1; C.opno <= ops; C.opno++) {
		if (C.unpriv && C.opno % 500 == 250)
			run_child();
		one_op();
		if (C.opno % 200 == 0) {
			out("%u dump\n", C.opno);
			dump_tree(".", 0);
		}
	}
	close_all(false);
	out("final dump\n");
	dump_tree(".", 0);
	fflush(stdout);
	return 0;
}
