/* SPDX-License-Identifier: MIT */
/*
 * daemon/options.c — command line of the uext4 command:
 *
 *	uext4 [-f] [-d] [-o opt[,opt...]] IMAGE MOUNTPOINT [-o ...]
 *
 * Options follow mount(8) and fuse2fs: our own (ro, rw, norecovery,
 * fakeroot, offset=, cache_size=, errors=, ...) are decoded into struct
 * daemon_opts; generic mount flags (nosuid, nodev, noatime, ...) are
 * collected for libfuse, and the atime ones also decoded (the daemon
 * updates atime itself); the ones mount(8) keeps for itself (defaults,
 * noauto, user, nofail, x-*) are dropped; anything else is an error
 * naming the option.
 *
 * This file does no I/O besides printing help, version and error messages.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "uext4-config.h"

/* Default and minimum of cache_size=. */
#define DAEMON_CACHE_DEFAULT (512ull << 20)
#define DAEMON_CACHE_MIN (8ull << 20)

/*
 * Generic mount flags handed to libfuse as they are. atime and noatime
 * are also decoded (atime_flag()).
 */
static const char *const passthrough_opts[] = {
	"async", "atime", "auto_unmount", "dev", "dirsync", "exec",
	"noatime", "nodev", "noexec", "nosuid", "suid", "sync",
};

/*
 * Flags the daemon alone handles: libfuse 3.14 does not know them
 * (fuse_session_new() fails with "unknown option", which would make a
 * common fstab line unmountable), and the kernel ignores them on a FUSE
 * mount anyway (its inodes are S_NOATIME). The atime ones select the
 * daemon's atime policy; lazytime/nolazytime are accepted and change
 * nothing (timestamps are written with the inode as usual).
 */
static const char *const atime_opts[] = {
	"diratime", "lazytime", "nodiratime", "nolazytime", "norelatime",
	"nostrictatime", "relatime", "strictatime",
};

/* Options mount(8) / mount.fuse3 use themselves: ignored. */
static const char *const ignored_opts[] = {
	"_netdev", "auto", "defaults", "group", "noauto", "nofail", "nouser",
	"owner", "user", "users",
};

static bool in_list(const char *opt, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(opt, list[i]) == 0)
			return true;
	return false;
}

/*
 * The atime flags among the generic ones: record them as mount(8) turns
 * them into MS_* bits (the last of a pair wins), then derive the mode as
 * the kernel's path_mount() does: strictatime beats noatime, and relatime
 * is the default either way, so "relatime" and "norelatime" change
 * nothing (norelatime alone still mounts relatime).
 */
static void atime_flag(struct daemon_opts *opts, const char *opt)
{
	if (strcmp(opt, "noatime") == 0)
		opts->ms_noatime = true;
	else if (strcmp(opt, "atime") == 0)
		opts->ms_noatime = false;
	else if (strcmp(opt, "strictatime") == 0)
		opts->ms_strictatime = true;
	else if (strcmp(opt, "nostrictatime") == 0)
		opts->ms_strictatime = false;
	else if (strcmp(opt, "nodiratime") == 0)
		opts->nodiratime = true;
	else if (strcmp(opt, "diratime") == 0)
		opts->nodiratime = false;
	if (opts->ms_strictatime)
		opts->atime = DAEMON_STRICTATIME;
	else if (opts->ms_noatime)
		opts->atime = DAEMON_NOATIME;
	else
		opts->atime = DAEMON_RELATIME;
}

static void usage(FILE *out)
{
	fprintf(out,
"usage: uext4 [-f] [-d] [-o opt[,opt...]] IMAGE MOUNTPOINT\n"
"\n"
"Mount the ext2/ext3/ext4 file system in IMAGE (a regular file or a block\n"
"device) on MOUNTPOINT through FUSE.\n"
"\n"
"  -f                   stay in the foreground\n"
"  -d, -o debug         log every request to stderr (implies -f)\n"
"  -h, --help           show this help\n"
"  -V, --version        show the version\n"
"\n"
"Options (-o):\n"
"  ro, rw               read-only / read-write (default rw)\n"
"  norecovery, noload   do not replay the journal; implies ro (recent\n"
"                       changes may be missing)\n"
"  allow_other          let other users access the mount\n"
"  default_permissions  kernel permission checks (default on)\n"
"  fakeroot             every caller acts as root, no permission checks\n"
"  offset=BYTES         the file system starts BYTES into IMAGE\n"
"  cache_size=SIZE      memory for cached file data (K/M/G; default 512M)\n"
"  errors=continue|remount-ro|panic\n"
"                       behaviour on errors (default: from the superblock)\n"
"  writeback_cache      kernel write-back caching (default off)\n"
"  kernel_cache         keep the kernel page cache across opens\n"
"  fsname=NAME          source shown in /proc/mounts (default IMAGE)\n"
"  relatime, strictatime, noatime, nodiratime\n"
"                       when reads update atime (default relatime)\n"
"  nosuid, nodev, noexec, sync, dirsync, ...\n"
"                       generic mount flags, passed to the kernel\n"
"\n"
"Exit status: 0 mounted, 1 usage, 2 image cannot be opened, 3 file\n"
"system refused, 4 FUSE mount failed, 5 other error. See uext4(8).\n");
}

static void version(void)
{
	const char *e2ver = NULL, *e2date = NULL;

	ext2fs_get_library_version(&e2ver, &e2date);
	printf("uext4 %s\n", UEXT4_VERSION);
	printf("libfuse %s, libext2fs %s\n", fuse_pkgversion(), e2ver);
}

/**
 * daemon_parse_size() - parse "123", "64K", "512M", "2G", "1T" (binary
 * multiples, case-insensitive, an optional trailing "B" or "iB").
 * @s:   the text.
 * @out: the value in bytes.
 * Return: 0, or -EINVAL (not a number, junk after it, overflow).
 */
int daemon_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int append_fuse_opt(struct daemon_opts *opts, const char *opt)
{
	size_t old = opts->fuse_opts ? strlen(opts->fuse_opts) : 0;
	char *p = realloc(opts->fuse_opts, old + strlen(opt) + 2);

	if (!p)
		return -ENOMEM;
	if (old)
		p[old++] = ',';
	strcpy(p + old, opt);
	opts->fuse_opts = p;
	return 0;
}

static int set_string(char **dst, const char *val)
{
	char *p = strdup(val);

	if (!p)
		return -ENOMEM;
	free(*dst);
	*dst = p;
	return 0;
}

static int bad_value(const char *opt)
{
	fprintf(stderr, "uext4: bad value in option '%s'\n", opt);
	return -EINVAL;
}

/* One option of a -o list (no commas). */
static int parse_one(struct daemon_opts *opts, const char *opt)
{
	const char *eq = strchr(opt, '=');
	const char *val = eq ? eq + 1 : NULL;
	size_t klen = eq ? (size_t)(eq - opt) : strlen(opt);
	uint64_t n;

#define KEY(k) (klen == strlen(k) && strncmp(opt, k, klen) == 0)
	if (*opt == '\0')
		return 0;
	if (!eq) {
		if (KEY("ro")) {
			opts->readonly = true;
			return 0;
		}
		if (KEY("rw")) {
			opts->readonly = false;
			return 0;
		}
		if (KEY("norecovery") || KEY("noload")) {
			/* as ext4: do not replay the journal; read-only */
			opts->norecovery = true;
			opts->readonly = true;
			return 0;
		}
		if (KEY("allow_other")) {
			opts->allow_other = true;
			return 0;
		}
		if (KEY("default_permissions")) {
			opts->default_permissions = true;
			return 0;
		}
		if (KEY("fakeroot")) {
			opts->fakeroot = true;
			return 0;
		}
		if (KEY("debug")) {
			opts->debug = true;
			opts->foreground = true;
			return 0;
		}
		if (KEY("writeback_cache")) {
			opts->writeback_cache = true;
			return 0;
		}
		if (KEY("kernel_cache")) {
			opts->kernel_cache = true;
			return 0;
		}
		if (in_list(opt, passthrough_opts,
			    sizeof(passthrough_opts) / sizeof(*passthrough_opts))) {
			/* FUSE's kernel side never updates atime: we do */
			atime_flag(opts, opt);
			return append_fuse_opt(opts, opt);
		}
		if (in_list(opt, atime_opts,
			    sizeof(atime_opts) / sizeof(*atime_opts))) {
			atime_flag(opts, opt);
			return 0;
		}
		if (in_list(opt, ignored_opts,
			    sizeof(ignored_opts) / sizeof(*ignored_opts)))
			return 0;
	} else {
		if (KEY("offset")) {
			if (daemon_parse_size(val, &n))
				return bad_value(opt);
			opts->offset = n;
			return 0;
		}
		if (KEY("cache_size")) {
			if (daemon_parse_size(val, &n) || n > SIZE_MAX)
				return bad_value(opt);
			if (n < DAEMON_CACHE_MIN) {
				fprintf(stderr,
					"uext4: cache_size=%s is too small (minimum 8M)\n",
					val);
				return -EINVAL;
			}
			opts->cache_size = (size_t)n;
			return 0;
		}
		if (KEY("errors")) {
			if (strcmp(val, "continue") == 0)
				opts->errors = EXTENT_ERRORS_CONTINUE;
			else if (strcmp(val, "remount-ro") == 0)
				opts->errors = EXTENT_ERRORS_RO;
			else if (strcmp(val, "panic") == 0)
				opts->errors = EXTENT_ERRORS_PANIC;
			else
				return bad_value(opt);
			return 0;
		}
		if (KEY("fsname")) {
			if (!*val)
				return bad_value(opt);
			return set_string(&opts->fsname, val);
		}
		if (KEY("subtype"))	/* mount.fuse3 may pass it; ours is fixed */
			return 0;
		if (KEY("user") || KEY("comment"))	/* mount(8) keeps these */
			return 0;
	}
	if (strncmp(opt, "x-", 2) == 0)		/* userspace mount hints */
		return 0;
#undef KEY
	fprintf(stderr, "uext4: unknown option '%s'\n", opt);
	return -EINVAL;
}

/**
 * daemon_parse_opt_list() - apply a comma-separated -o list to @opts.
 * Return: 0 or -EINVAL (message printed) / -ENOMEM.
 */
int daemon_parse_opt_list(struct daemon_opts *opts, const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		ret = parse_one(opts, tok);
		if (ret)
			break;
	}
	free(copy);
	return ret;
}

static void opts_defaults(struct daemon_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->default_permissions = true;
	opts->cache_size = (size_t)DAEMON_CACHE_DEFAULT;
}

int daemon_parse_args(int argc, char **argv, struct daemon_opts *opts)
{
	bool no_more_opts = false;
	const char *pos[2];
	int npos = 0, ret;

	opts_defaults(opts);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (no_more_opts || a[0] != '-' || a[1] == '\0') {
			if (npos == 2) {
				fprintf(stderr, "uext4: unexpected argument '%s'\n", a);
				goto out_usage;
			}
			pos[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			no_more_opts = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			daemon_opts_free(opts);
			return 1;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			version();
			daemon_opts_free(opts);
			return 1;
		} else if (strcmp(a, "-f") == 0) {
			opts->foreground = true;
		} else if (strcmp(a, "-d") == 0) {
			opts->debug = true;
			opts->foreground = true;
		} else if (strncmp(a, "-o", 2) == 0) {
			const char *list = a[2] ? a + 2 : NULL;

			if (!list) {
				if (i + 1 >= argc) {
					fprintf(stderr, "uext4: option '-o' needs an argument\n");
					goto out_usage;
				}
				list = argv[++i];
			}
			ret = daemon_parse_opt_list(opts, list);
			if (ret)
				goto out_free;
		} else {
			fprintf(stderr, "uext4: unknown option '%s'\n", a);
			goto out_usage;
		}
	}
	if (npos < 2) {
		fprintf(stderr, "uext4: missing %s\n",
			npos == 0 ? "IMAGE and MOUNTPOINT" : "MOUNTPOINT");
		goto out_usage;
	}
	if (opts->fakeroot)
		opts->default_permissions = false;
	if (opts->norecovery && !opts->readonly) {
		/* ext4 refuses norecovery without ro; we mount read-only */
		fprintf(stderr,
			"uext4: norecovery implies read-only; mounting read-only\n");
		opts->readonly = true;
	}
	opts->image = strdup(pos[0]);
	opts->mountpoint = strdup(pos[1]);
	opts->subtype = strdup("uext4");
	if (!opts->image || !opts->mountpoint || !opts->subtype) {
		ret = -ENOMEM;
		goto out_free;
	}
	return 0;

out_usage:
	fprintf(stderr, "Try 'uext4 --help' for more information.\n");
	ret = -EINVAL;
out_free:
	daemon_opts_free(opts);
	return ret;
}

void daemon_opts_free(struct daemon_opts *opts)
{
	free(opts->image);
	free(opts->mountpoint);
	free(opts->fsname);
	free(opts->subtype);
	free(opts->fuse_opts);
	opts->image = opts->mountpoint = opts->fsname = NULL;
	opts->subtype = opts->fuse_opts = NULL;
}
