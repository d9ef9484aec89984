/* SPDX-License-Identifier: MIT */
/*
 * uext4-test-walk — read everything below a directory, for damaged images.
 *
 *	uext4-test-walk DIR
 *
 * Recursion of its own (never follows symlinks, never leaves the file
 * system): lstat every object, readdir every directory, open and read every
 * regular file to the end, readlink every symlink, list and read every
 * xattr. Individual failures (EIO, EUCLEAN, ...) are expected on damaged
 * images: they are counted per errno and the walk goes on. Prints one
 * summary line:
 *
 *	walk: dirs=N files=N symlinks=N other=N bytes=N xattrs=N errors=N [EIO=n ...]
 *
 * Exit 0 when the walk completed (whatever the per-object errors, including
 * an unreadable root: EIO/EUCLEAN on DIR itself), 2 on a harness problem
 * (bad arguments, DIR missing or not a directory).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAXDEPTH 64
#define MAXERRNO 256
#define BUFSZ (1u << 20)
/* Reading stops after this many bytes of one file (sparse giants). */
#define FILE_LIMIT (256ull << 20)

static struct {
	unsigned long dirs, files, symlinks, other, xattrs, errors;
	unsigned long long bytes;
	unsigned long per_errno[MAXERRNO];
} st;

static char *buf;
static dev_t root_dev;
static bool verbose;

static void err(const char *what, const char *path, int e)
{
	st.errors++;
	st.per_errno[e > 0 && e < MAXERRNO ? e : 0]++;
	if (verbose)
		fprintf(stderr, "walk: %s %s: %s\n", what, path, strerror(e));
}

static void walk_xattrs(const char *path)
{
	char list[65536];
	ssize_t n = llistxattr(path, list, sizeof(list));

	if (n < 0) {
		if (errno != ENOTSUP)
			err("llistxattr", path, errno);
		return;
	}
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		st.xattrs++;
		if (lgetxattr(path, p, buf, 65536) < 0)
			err("lgetxattr", path, errno);
	}
}

static void walk_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	unsigned long long total = 0;

	if (fd < 0) {
		err("open", path, errno);
		return;
	}
	for (;;) {
		ssize_t r = read(fd, buf, BUFSZ);

		if (r < 0) {
			err("read", path, errno);
			break;
		}
		if (r == 0)
			break;
		total += (unsigned long long)r;
		if (total >= FILE_LIMIT)
			break;
	}
	st.bytes += total;
	if (close(fd))
		err("close", path, errno);
}

static void walk(const char *path, int depth)
{
	struct stat s;

	if (lstat(path, &s)) {
		err("lstat", path, errno);
		return;
	}
	walk_xattrs(path);
	if (S_ISREG(s.st_mode)) {
		st.files++;
		walk_file(path);
		return;
	}
	if (S_ISLNK(s.st_mode)) {
		char t[8192];

		st.symlinks++;
		if (readlink(path, t, sizeof(t)) < 0)
			err("readlink", path, errno);
		return;
	}
	if (!S_ISDIR(s.st_mode)) {
		st.other++;
		return;
	}
	st.dirs++;
	if (s.st_dev != root_dev || depth >= MAXDEPTH)
		return;

	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		err("opendir", path, errno);
		return;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				err("readdir", path, errno);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t len = strlen(path) + strlen(de->d_name) + 2;
		char *sub = malloc(len);

		if (!sub) {
			fprintf(stderr, "walk: out of memory\n");
			exit(2);
		}
		snprintf(sub, len, "%s/%s", path, de->d_name);
		walk(sub, depth + 1);
		free(sub);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	struct stat s;
	int a = 1;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = true;
		a++;
	}
	if (argc != a + 1) {
		fprintf(stderr, "usage: uext4-test-walk [-v] DIR\n");
		return 2;
	}
	buf = malloc(BUFSZ);
	if (!buf)
		return 2;
	if (stat(argv[a], &s)) {
		int e = errno;

		/* A mount whose root inode is damaged: an object failure. */
		if (e == ENOENT || e == ENOTDIR || e == EACCES) {
			fprintf(stderr, "walk: %s: %s\n", argv[a], strerror(e));
			return 2;
		}
		err("stat", argv[a], e);
	} else if (!S_ISDIR(s.st_mode)) {
		fprintf(stderr, "walk: %s is not a directory\n", argv[a]);
		return 2;
	} else {
		root_dev = s.st_dev;
		walk(argv[a], 0);
	}
	printf("walk: dirs=%lu files=%lu symlinks=%lu other=%lu bytes=%llu "
	       "xattrs=%lu errors=%lu", st.dirs, st.files, st.symlinks,
	       st.other, st.bytes, st.xattrs, st.errors);
	for (int e = 0; e < MAXERRNO; e++)
		if (st.per_errno[e]) {
			const char *n = e ? strerrorname_np(e) : NULL;

			printf(" %s=%lu", n ? n : "E?", st.per_errno[e]);
		}
	printf("\n");
	return 0;
}
