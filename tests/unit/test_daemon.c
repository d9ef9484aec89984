/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_daemon.c — daemon core pieces that need no mount:
 * command line parsing, size parsing, the ext4 timestamp encoding, owner
 * ids, struct stat filling, chmod of ACLs and the permission check (mode
 * bits on a fake superblock, POSIX ACLs on a real mkfs'd image).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <cmocka.h>

#include "internal.h"

/* ---- option parsing ------------------------------------------------------- */

static int parse(struct daemon_opts *o, int argc, const char **argv)
{
	return daemon_parse_args(argc, (char **)argv, o);
}

static void test_parse_defaults(void **state)
{
	const char *argv[] = { "uext4", "img", "mnt" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 3, argv), 0);
	assert_string_equal(o.image, "img");
	assert_string_equal(o.mountpoint, "mnt");
	assert_false(o.readonly);
	assert_false(o.foreground);
	assert_true(o.default_permissions);
	assert_false(o.fakeroot);
	assert_false(o.allow_other);
	assert_int_equal(o.cache_size, 512u << 20);
	assert_int_equal(o.offset, 0);
	assert_int_equal(o.errors, 0);
	assert_false(o.norecovery);
	assert_null(o.fuse_opts);
	assert_string_equal(o.subtype, "uext4");
	daemon_opts_free(&o);
}

static void test_parse_options(void **state)
{
	const char *argv[] = { "uext4", "-f", "-o", "ro,allow_other",
			       "-ooffset=1M,cache_size=64M", "img", "mnt",
			       "-o", "errors=remount-ro,fsname=/dev/thing" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 9, argv), 0);
	assert_true(o.readonly);
	assert_true(o.foreground);
	assert_true(o.allow_other);
	assert_int_equal(o.offset, 1u << 20);
	assert_int_equal(o.cache_size, 64u << 20);
	assert_int_equal(o.errors, EXTENT_ERRORS_RO);
	assert_string_equal(o.fsname, "/dev/thing");
	daemon_opts_free(&o);
}

static void test_parse_fakeroot(void **state)
{
	const char *argv[] = { "uext4", "-o", "default_permissions,fakeroot",
			       "img", "mnt" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 5, argv), 0);
	assert_true(o.fakeroot);
	assert_false(o.default_permissions);
	daemon_opts_free(&o);
}

/* mount.fuse3 style: positional first, generic flags after. */
static void test_parse_mount_helper(void **state)
{
	const char *argv[] = { "uext4", "img", "mnt", "-o",
			       "rw,nosuid,nodev,noatime,defaults,noauto,user,"
			       "nofail,_netdev,x-systemd.automount,users,"
			       "sync,dirsync,lazytime,relatime" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 5, argv), 0);
	assert_false(o.readonly);
	assert_non_null(o.fuse_opts);
	/* relatime/lazytime are the daemon's: libfuse 3.14 refuses them */
	assert_string_equal(o.fuse_opts, "nosuid,nodev,noatime,sync,dirsync");
	daemon_opts_free(&o);
}

static void test_parse_rw_after_ro(void **state)
{
	const char *argv[] = { "uext4", "-o", "ro", "-o", "rw", "img", "mnt" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 7, argv), 0);
	assert_false(o.readonly);
	daemon_opts_free(&o);
}

static void test_parse_norecovery(void **state)
{
	const char *argv[] = { "uext4", "-o", "norecovery", "img", "mnt" };
	const char *argv2[] = { "uext4", "-o", "noload", "img", "mnt" };
	/* rw after it: ext4 would refuse; we stay read-only (a message) */
	const char *argv3[] = { "uext4", "-o", "norecovery,rw", "img", "mnt" };
	const char *argv4[] = { "uext4", "-o", "ro", "img", "mnt" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 5, argv), 0);
	assert_true(o.norecovery);
	assert_true(o.readonly);
	daemon_opts_free(&o);
	assert_int_equal(parse(&o, 5, argv2), 0);
	assert_true(o.norecovery);
	assert_true(o.readonly);
	daemon_opts_free(&o);
	assert_int_equal(parse(&o, 5, argv3), 0);
	assert_true(o.norecovery);
	assert_true(o.readonly);
	daemon_opts_free(&o);
	assert_int_equal(parse(&o, 5, argv4), 0);
	assert_false(o.norecovery);
	assert_true(o.readonly);
	assert_null(o.fuse_opts);	/* ours, not passed to libfuse */
	daemon_opts_free(&o);
}

static void test_parse_debug_is_foreground(void **state)
{
	const char *argv[] = { "uext4", "-o", "debug", "img", "mnt" };
	const char *argv2[] = { "uext4", "-d", "img", "mnt" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 5, argv), 0);
	assert_true(o.debug);
	assert_true(o.foreground);
	daemon_opts_free(&o);
	assert_int_equal(parse(&o, 4, argv2), 0);
	assert_true(o.debug);
	assert_true(o.foreground);
	daemon_opts_free(&o);
}

static void test_parse_cache_options(void **state)
{
	const char *argv[] = { "uext4", "-o", "writeback_cache,kernel_cache",
			       "img", "mnt" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 5, argv), 0);
	assert_true(o.writeback_cache);
	assert_true(o.kernel_cache);
	daemon_opts_free(&o);
}

static void test_parse_errors(void **state)
{
	static const char *bad[][5] = {
		{ "uext4", "-o", "bogus", "img", "mnt" },
		{ "uext4", "-o", "errors=explode", "img", "mnt" },
		{ "uext4", "-o", "offset=12x", "img", "mnt" },
		{ "uext4", "-o", "offset=", "img", "mnt" },
		{ "uext4", "-o", "cache_size=1M", "img", "mnt" },
		{ "uext4", "-o", "cache_size=lots", "img", "mnt" },
		{ "uext4", "-o", "ro=1", "img", "mnt" },
		{ "uext4", "-x", "img", "mnt", "" },
		{ "uext4", "img", "mnt", "extra", "" },
	};
	struct daemon_opts o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int argc = bad[i][4][0] ? 5 : 4;

		assert_int_equal(parse(&o, argc, bad[i]), -EINVAL);
	}
}

static void test_parse_missing(void **state)
{
	const char *argv1[] = { "uext4" };
	const char *argv2[] = { "uext4", "img" };
	const char *argv3[] = { "uext4", "img", "mnt", "-o" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 1, argv1), -EINVAL);
	assert_int_equal(parse(&o, 2, argv2), -EINVAL);
	assert_int_equal(parse(&o, 4, argv3), -EINVAL);
}

static void test_parse_help_version(void **state)
{
	const char *h[] = { "uext4", "-h" };
	const char *h2[] = { "uext4", "--help" };
	const char *v[] = { "uext4", "-V" };
	const char *v2[] = { "uext4", "img", "--version" };
	struct daemon_opts o;

	(void)state;
	assert_int_equal(parse(&o, 2, h), 1);
	assert_int_equal(parse(&o, 2, h2), 1);
	assert_int_equal(parse(&o, 2, v), 1);
	assert_int_equal(parse(&o, 3, v2), 1);
}

static void test_parse_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(daemon_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(daemon_parse_size("1048576", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(daemon_parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(daemon_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(daemon_parse_size("2G", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(daemon_parse_size("1T", &v), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(daemon_parse_size("3MiB", &v), 0);
	assert_int_equal(v, 3ull << 20);
	assert_int_equal(daemon_parse_size("", &v), -EINVAL);
	assert_int_equal(daemon_parse_size("-1", &v), -EINVAL);
	assert_int_equal(daemon_parse_size("1Q", &v), -EINVAL);
	assert_int_equal(daemon_parse_size("1MM", &v), -EINVAL);
	assert_int_equal(daemon_parse_size("99999999999T", &v), -EINVAL);
	assert_int_equal(daemon_parse_size("99999999999999999999", &v), -EINVAL);
}

/* ---- timestamps ------------------------------------------------------------ */

static void large_inode(struct ext2_inode_large *inode)
{
	memset(inode, 0, sizeof(*inode));
	inode->i_extra_isize = sizeof(struct ext2_inode_large) -
			       EXT2_GOOD_OLD_INODE_SIZE;
}

static void roundtrip(struct ext2_inode_large *inode, unsigned int which,
		      int64_t sec, long nsec)
{
	struct timespec ts = { .tv_sec = sec, .tv_nsec = nsec }, got;

	daemon_inode_set_time(inode, which, &ts);
	got = daemon_inode_get_time(inode, which);
	assert_int_equal(got.tv_sec, sec);
	assert_int_equal(got.tv_nsec, nsec);
}

static void test_time_roundtrip(void **state)
{
	struct ext2_inode_large inode;
	static const unsigned int which[] = { DAEMON_ATIME, DAEMON_MTIME,
					      DAEMON_CTIME, DAEMON_CRTIME };

	(void)state;
	large_inode(&inode);
	for (size_t i = 0; i < 4; i++) {
		roundtrip(&inode, which[i], 0, 0);
		roundtrip(&inode, which[i], 1700000000, 123456789);
		roundtrip(&inode, which[i], -1, 999999999);	/* 1969 */
		roundtrip(&inode, which[i], INT32_MIN + 1ll, 1);	/* 1901 */
		roundtrip(&inode, which[i], (int64_t)INT32_MAX + 1, 5); /* 2038 */
		roundtrip(&inode, which[i], 1ll << 33, 42);	/* 2242 */
		/* just below the largest (2446-05-10) */
		roundtrip(&inode, which[i], INT32_MAX + 3ll * (1ll << 32) - 1,
			  999999999);
	}
}

static void test_time_encoding(void **state)
{
	struct ext2_inode_large inode;
	struct timespec ts = { .tv_sec = (int64_t)INT32_MAX + 2, .tv_nsec = 7 };

	(void)state;
	large_inode(&inode);
	daemon_inode_set_time(&inode, DAEMON_MTIME, &ts);
	/*
	 * low 32 bits of seconds; bits 0-1 of extra = (sec - (s32)sec) >> 32,
	 * so 2038-01-19 and later need epoch 1; nsec << 2
	 */
	assert_int_equal(inode.i_mtime, (uint32_t)(INT32_MAX + 2u));
	assert_int_equal(inode.i_mtime_extra, (7u << 2) | 1);
	ts.tv_sec = (1ll << 32) + (1ll << 31);	/* 2174: epoch 2 */
	daemon_inode_set_time(&inode, DAEMON_MTIME, &ts);
	assert_int_equal(inode.i_mtime, 0x80000000u);
	assert_int_equal(inode.i_mtime_extra, (7u << 2) | 2);
	ts.tv_sec = -2;		/* before 1970: epoch 3 (sign extension) */
	ts.tv_nsec = 0;
	daemon_inode_set_time(&inode, DAEMON_ATIME, &ts);
	assert_int_equal(inode.i_atime, 0xfffffffeu);
	assert_int_equal(inode.i_atime_extra & 3, 0);
	/* ATIME left the others alone */
	assert_int_equal(inode.i_mtime_extra, (7u << 2) | 2);
}

static void test_time_small_inode(void **state)
{
	struct ext2_inode_large inode;
	struct timespec ts = { .tv_sec = 1700000000, .tv_nsec = 500 }, got;

	(void)state;
	memset(&inode, 0, sizeof(inode));	/* 128-byte inode: no extra */
	inode.i_mtime_extra = 0xdead;		/* not part of the inode */
	daemon_inode_set_time(&inode, DAEMON_MTIME | DAEMON_CRTIME, &ts);
	assert_int_equal(inode.i_mtime, 1700000000);
	assert_int_equal(inode.i_mtime_extra, 0xdead);
	assert_int_equal(inode.i_crtime, 0);
	got = daemon_inode_get_time(&inode, DAEMON_MTIME);
	assert_int_equal(got.tv_sec, 1700000000);
	assert_int_equal(got.tv_nsec, 0);
	got = daemon_inode_get_time(&inode, DAEMON_CRTIME);
	assert_int_equal(got.tv_sec, 0);

	/* extra_isize 8 covers ctime_extra (0x84) but not mtime_extra */
	inode.i_extra_isize = 8;
	daemon_inode_set_time(&inode, DAEMON_CTIME | DAEMON_MTIME, &ts);
	assert_int_equal(inode.i_ctime_extra, 500u << 2);
	assert_int_equal(inode.i_mtime_extra, 0xdead);
	inode.i_extra_isize = 12;
	daemon_inode_set_time(&inode, DAEMON_MTIME, &ts);
	assert_int_equal(inode.i_mtime_extra, 500u << 2);
	assert_int_equal(inode.i_atime_extra, 0);
	daemon_inode_set_time(&inode, DAEMON_ATIME, &ts);
	assert_int_equal(inode.i_atime_extra, 0);
}

/* Out-of-range times are clamped as the kernel does, not wrapped. */
static void test_time_clamp(void **state)
{
	struct ext2_inode_large inode;
	struct timespec ts = { .tv_sec = 1ll << 40, .tv_nsec = 5 }, got;

	(void)state;
	large_inode(&inode);
	daemon_inode_set_time(&inode, DAEMON_MTIME, &ts);
	got = daemon_inode_get_time(&inode, DAEMON_MTIME);
	assert_int_equal(got.tv_sec, INT32_MAX + 3ll * (1ll << 32));
	assert_int_equal(got.tv_nsec, 0);	/* as timestamp_truncate() */
	ts.tv_sec = -(1ll << 40);
	daemon_inode_set_time(&inode, DAEMON_MTIME, &ts);
	got = daemon_inode_get_time(&inode, DAEMON_MTIME);
	assert_int_equal(got.tv_sec, INT32_MIN);
	assert_int_equal(got.tv_nsec, 0);
	/* seconds-only field: 2038 is the end */
	memset(&inode, 0, sizeof(inode));
	ts.tv_sec = (int64_t)INT32_MAX + 100;
	daemon_inode_set_time(&inode, DAEMON_ATIME, &ts);
	got = daemon_inode_get_time(&inode, DAEMON_ATIME);
	assert_int_equal(got.tv_sec, INT32_MAX);
}

static void test_touch(void **state)
{
	struct ext2_inode_large inode;
	struct timespec before, after, got;

	(void)state;
	large_inode(&inode);
	daemon_now(&before);
	daemon_inode_touch(&inode, DAEMON_CTIME | DAEMON_CRTIME);
	daemon_now(&after);
	got = daemon_inode_get_time(&inode, DAEMON_CTIME);
	assert_true(got.tv_sec >= before.tv_sec && got.tv_sec <= after.tv_sec);
	got = daemon_inode_get_time(&inode, DAEMON_CRTIME);
	assert_true(got.tv_sec >= before.tv_sec);
	assert_int_equal(inode.i_mtime, 0);
	assert_int_equal(inode.i_atime, 0);
}

/* ---- ids, stat ------------------------------------------------------------- */

static void test_ids(void **state)
{
	struct ext2_inode_large inode;

	(void)state;
	memset(&inode, 0, sizeof(inode));
	daemon_inode_set_uid(&inode, 100000);
	daemon_inode_set_gid(&inode, 0x12345678);
	assert_int_equal(inode.i_uid, 100000 & 0xffff);
	assert_int_equal(inode.osd2.linux2.l_i_uid_high, 100000 >> 16);
	assert_int_equal(daemon_inode_uid(&inode), 100000);
	assert_int_equal(daemon_inode_gid(&inode), 0x12345678);
}

/* A daemon_fs over a fake libext2fs handle (no I/O happens). */
struct fake_fs {
	struct daemon_fs dfs;
	struct struct_ext2_filsys fs;
	struct ext2_super_block sb;
};

static void fake_fs_init(struct fake_fs *f)
{
	memset(f, 0, sizeof(*f));
	f->fs.super = &f->sb;
	f->fs.blocksize = 4096;
	f->dfs.efs.fs = &f->fs;
	f->dfs.opts.default_permissions = true;
}

static void test_fill_stat(void **state)
{
	struct fake_fs f;
	struct ext2_inode_large inode;
	struct stat st;

	(void)state;
	fake_fs_init(&f);
	large_inode(&inode);
	inode.i_mode = LINUX_S_IFREG | 0640;
	inode.i_links_count = 3;
	daemon_inode_set_uid(&inode, 70000);
	daemon_inode_set_gid(&inode, 5);
	inode.i_size = 10;
	inode.i_size_high = 1;
	inode.i_blocks = 16;
	inode.osd2.linux2.l_i_blocks_hi = 1;	/* ignored without huge_file */
	roundtrip(&inode, DAEMON_MTIME, 1600000000, 42);
	daemon_fill_stat(&f.dfs, 12, &inode, NULL, &st);
	assert_int_equal(st.st_ino, 12);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(st.st_uid, 70000);
	assert_int_equal(st.st_gid, 5);
	assert_int_equal(st.st_size, (1ll << 32) + 10);
	assert_int_equal(st.st_blocks, 16);
	assert_int_equal(st.st_blksize, 4096);
	assert_int_equal(st.st_mtim.tv_sec, 1600000000);
	assert_int_equal(st.st_mtim.tv_nsec, 42);

	/* huge_file: 48-bit count; with HUGE_FILE_FL in fs blocks */
	f.sb.s_feature_ro_compat |= EXT4_FEATURE_RO_COMPAT_HUGE_FILE;
	daemon_fill_stat(&f.dfs, 12, &inode, NULL, &st);
	assert_int_equal(st.st_blocks, (1ll << 32) + 16);
	inode.i_flags |= EXT4_HUGE_FILE_FL;
	daemon_fill_stat(&f.dfs, 12, &inode, NULL, &st);
	assert_int_equal(st.st_blocks, ((1ll << 32) + 16) * 8);
}

static void test_fill_stat_size_from_memory(void **state)
{
	struct fake_fs f;
	struct ext2_inode_large inode;
	struct daemon_inode di;
	struct stat st;

	(void)state;
	fake_fs_init(&f);
	memset(&di, 0, sizeof(di));
	large_inode(&inode);
	inode.i_mode = LINUX_S_IFREG | 0600;
	inode.i_size = 100;
	atomic_store(&di.ei.size, 5000);
	daemon_fill_stat(&f.dfs, 12, &inode, &di, &st);
	assert_int_equal(st.st_size, 5000);
	/* directories keep the on-disk size */
	inode.i_mode = LINUX_S_IFDIR | 0700;
	daemon_fill_stat(&f.dfs, 12, &inode, &di, &st);
	assert_int_equal(st.st_size, 100);
}

static void test_fill_stat_rdev(void **state)
{
	struct fake_fs f;
	struct ext2_inode_large inode;
	struct stat st;

	(void)state;
	fake_fs_init(&f);
	large_inode(&inode);
	inode.i_mode = LINUX_S_IFCHR | 0600;
	inode.i_block[0] = (4 << 8) | 64;	/* old encoding: 4:64 */
	daemon_fill_stat(&f.dfs, 12, &inode, NULL, &st);
	assert_int_equal(major(st.st_rdev), 4);
	assert_int_equal(minor(st.st_rdev), 64);
	/* new encoding: 259:300000 */
	inode.i_mode = LINUX_S_IFBLK | 0600;
	inode.i_block[0] = 0;
	inode.i_block[1] = (300000 & 0xff) | (259 << 8) |
			   ((300000 & ~0xffu) << 12);
	daemon_fill_stat(&f.dfs, 12, &inode, NULL, &st);
	assert_int_equal(major(st.st_rdev), 259);
	assert_int_equal(minor(st.st_rdev), 300000);
	/* regular files have no rdev whatever i_block says */
	inode.i_mode = LINUX_S_IFREG | 0600;
	daemon_fill_stat(&f.dfs, 12, &inode, NULL, &st);
	assert_int_equal(st.st_rdev, 0);
}

/* ---- permissions ------------------------------------------------------------- */

static struct daemon_cred cred(uid_t uid, gid_t gid)
{
	struct daemon_cred c;

	memset(&c, 0, sizeof(c));
	c.uid = uid;
	c.gid = gid;
	return c;
}

static void test_permission_mode(void **state)
{
	struct fake_fs f;
	struct ext2_inode_large inode;
	struct daemon_cred owner = cred(1000, 1000), grp = cred(2000, 50);
	struct daemon_cred other = cred(3000, 3000), root = cred(0, 0);
	struct daemon_cred supp = cred(4000, 4000);

	(void)state;
	fake_fs_init(&f);
	large_inode(&inode);
	inode.i_mode = LINUX_S_IFREG | 0640;
	daemon_inode_set_uid(&inode, 1000);
	daemon_inode_set_gid(&inode, 50);
	supp.ngroups = 2;
	supp.groups[0] = 7;
	supp.groups[1] = 50;

	assert_int_equal(daemon_permission(&f.dfs, &owner, 12, &inode, R_OK | W_OK), 0);
	assert_int_equal(daemon_permission(&f.dfs, &owner, 12, &inode, X_OK), -EACCES);
	assert_int_equal(daemon_permission(&f.dfs, &grp, 12, &inode, R_OK), 0);
	assert_int_equal(daemon_permission(&f.dfs, &grp, 12, &inode, W_OK), -EACCES);
	assert_int_equal(daemon_permission(&f.dfs, &supp, 12, &inode, R_OK), 0);
	assert_int_equal(daemon_permission(&f.dfs, &other, 12, &inode, R_OK), -EACCES);
	assert_int_equal(daemon_permission(&f.dfs, &other, 12, &inode, F_OK), 0);
	/* root: anything but executing a file with no x bit at all */
	assert_int_equal(daemon_permission(&f.dfs, &root, 12, &inode, R_OK | W_OK), 0);
	assert_int_equal(daemon_permission(&f.dfs, &root, 12, &inode, X_OK), -EACCES);
	inode.i_mode = LINUX_S_IFREG | 0001;
	assert_int_equal(daemon_permission(&f.dfs, &root, 12, &inode, X_OK), 0);
	inode.i_mode = LINUX_S_IFDIR | 0000;
	assert_int_equal(daemon_permission(&f.dfs, &root, 12, &inode, X_OK), 0);
	/* owner bits apply to the owner even when others have more */
	inode.i_mode = LINUX_S_IFREG | 0077;
	assert_int_equal(daemon_permission(&f.dfs, &owner, 12, &inode, R_OK), -EACCES);
	/* fakeroot: everything */
	f.dfs.opts.fakeroot = true;
	assert_int_equal(daemon_permission(&f.dfs, &other, 12, &inode, R_OK | W_OK | X_OK), 0);
}

static void test_cred_in_group(void **state)
{
	struct daemon_cred c = cred(1, 10);

	(void)state;
	c.ngroups = 1;
	c.groups[0] = 20;
	assert_true(daemon_cred_in_group(&c, 10));
	assert_true(daemon_cred_in_group(&c, 20));
	assert_false(daemon_cred_in_group(&c, 30));
}

/* ACL value in the Linux xattr format. */
static size_t make_acl(unsigned char *buf, const uint16_t (*ents)[3], size_t n)
{
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	for (size_t i = 0; i < n; i++) {
		uint16_t tag = ents[i][0], perm = ents[i][1];
		uint32_t id = ents[i][2];

		memcpy(buf + 4 + 8 * i, &tag, 2);
		memcpy(buf + 6 + 8 * i, &perm, 2);
		memcpy(buf + 8 + 8 * i, &id, 4);
	}
	return 4 + 8 * n;
}

static uint16_t acl_perm(const unsigned char *buf, size_t i)
{
	uint16_t perm;

	memcpy(&perm, buf + 6 + 8 * i, 2);
	return perm;
}

static void test_acl_apply_mode(void **state)
{
	static const uint16_t ents[][3] = {
		{ 0x01, 7, 0 }, { 0x02, 7, 1234 }, { 0x04, 7, 0 },
		{ 0x10, 7, 0 }, { 0x20, 7, 0 },
	};
	static const uint16_t nomask[][3] = {
		{ 0x01, 7, 0 }, { 0x04, 7, 0 }, { 0x20, 7, 0 },
	};
	unsigned char buf[64];
	size_t len;

	(void)state;
	len = make_acl(buf, ents, 5);
	assert_int_equal(daemon_acl_apply_mode(buf, len, 0640), 0);
	assert_int_equal(acl_perm(buf, 0), 6);	/* user_obj */
	assert_int_equal(acl_perm(buf, 1), 7);	/* named user untouched */
	assert_int_equal(acl_perm(buf, 2), 7);	/* group_obj kept: mask exists */
	assert_int_equal(acl_perm(buf, 3), 4);	/* mask */
	assert_int_equal(acl_perm(buf, 4), 0);	/* other */
	len = make_acl(buf, nomask, 3);
	assert_int_equal(daemon_acl_apply_mode(buf, len, 0751), 0);
	assert_int_equal(acl_perm(buf, 0), 7);
	assert_int_equal(acl_perm(buf, 1), 5);
	assert_int_equal(acl_perm(buf, 2), 1);
	assert_int_equal(daemon_acl_apply_mode(buf, 7, 0), -EINVAL);
}

/* A real image, for the ACL-reading path of daemon_permission(). */
static void test_permission_acl(void **state)
{
	static const uint16_t ents[][3] = {
		{ 0x01, 6, 0 }, { 0x02, 6, 2000 }, { 0x02, 7, 2001 },
		{ 0x04, 4, 0 }, { 0x08, 6, 77 }, { 0x10, 6, 0 },
		{ 0x20, 0, 0 },
	};
	const char *dir = getenv("UEXT4_TEST_TMPDIR");
	char path[512], cmd[1200];
	unsigned char acl[128];
	struct fake_fs f;
	struct ext2_inode_large inode;
	struct ext2_xattr_handle *h;
	struct daemon_cred u2000 = cred(2000, 9), u2001 = cred(2001, 9);
	struct daemon_cred g50 = cred(3000, 50), g77 = cred(3001, 77);
	struct daemon_cred nobody = cred(3002, 9);
	ext2_filsys fs;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/test_daemon_acl.%d.img",
		 dir ? dir : "/tmp", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 8M '%s' && mkfs.ext4 -q -F '%s' >/dev/null 2>&1",
		 path, path);
	if (system(cmd) != 0) {
		unlink(path);
		skip();
	}
	assert_int_equal(ext2fs_open(path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0,
				     0, unix_io_manager, &fs), 0);
	fake_fs_init(&f);
	f.dfs.efs.fs = fs;

	/* root dir: owner 1000, group 50, ACL as above */
	assert_int_equal(ext2fs_read_inode_full(fs, EXT2_ROOT_INO,
			 (struct ext2_inode *)&inode, sizeof(inode)), 0);
	/* mode bits that would allow more than the ACL does */
	inode.i_mode = LINUX_S_IFDIR | 0664;
	daemon_inode_set_uid(&inode, 1000);
	daemon_inode_set_gid(&inode, 50);
	assert_int_equal(ext2fs_write_inode_full(fs, EXT2_ROOT_INO,
			 (struct ext2_inode *)&inode, sizeof(inode)), 0);
	len = make_acl(acl, ents, 7);
	assert_int_equal(ext2fs_xattrs_open(fs, EXT2_ROOT_INO, &h), 0);
	assert_int_equal(ext2fs_xattrs_read(h), 0);
	assert_int_equal(ext2fs_xattr_set(h, "system.posix_acl_access", acl, len), 0);
	assert_int_equal(ext2fs_xattrs_close(&h), 0);
	assert_int_equal(ext2fs_read_inode_full(fs, EXT2_ROOT_INO,
			 (struct ext2_inode *)&inode, sizeof(inode)), 0);

	/* named user: rw-, masked by rw- */
	assert_int_equal(daemon_permission(&f.dfs, &u2000, 2, &inode, R_OK | W_OK), 0);
	assert_int_equal(daemon_permission(&f.dfs, &u2000, 2, &inode, X_OK), -EACCES);
	/* named user rwx, but the mask has no x */
	assert_int_equal(daemon_permission(&f.dfs, &u2001, 2, &inode, X_OK), -EACCES);
	/* owning group r--; named group 77 rw- */
	assert_int_equal(daemon_permission(&f.dfs, &g50, 2, &inode, R_OK), 0);
	assert_int_equal(daemon_permission(&f.dfs, &g50, 2, &inode, W_OK), -EACCES);
	assert_int_equal(daemon_permission(&f.dfs, &g77, 2, &inode, W_OK), 0);
	/* everyone else: --- although the mode's "other" bits would not say so */
	assert_int_equal(daemon_permission(&f.dfs, &nobody, 2, &inode, R_OK), -EACCES);

	ext2fs_close_free(&fs);
	unlink(path);
}


/* ---- inode table over a real image ------------------------------------------ */

struct real_fs {
	struct daemon_fs dfs;
	char path[512];
};

static int real_fs_setup_opts(void **state, const char *mkfs_opts)
{
	const char *dir = getenv("UEXT4_TEST_TMPDIR");
	struct cache_config cfg = {
		.budget_bytes = 16u << 20,
		.folio_size = 64u << 10,
		.dirty_background_pct = 10,
		.dirty_limit_pct = 40,
		.expire_ms = 5000,
		.ops = extent_cache_ops(),
	};
	struct real_fs *r = calloc(1, sizeof(*r));
	char cmd[1200];
	ext2_filsys fs;

	assert_non_null(r);
	snprintf(r->path, sizeof(r->path), "%s/test_daemon_itable.%d.img",
		 dir ? dir : "/tmp", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 32M '%s' && mkfs.ext4 -q -F -b 4096 %s '%s' >/dev/null 2>&1",
		 r->path, mkfs_opts, r->path);
	if (system(cmd) != 0) {
		free(r);
		return -1;
	}
	assert_int_equal(ext2fs_open(r->path, EXT2_FLAG_RW | EXT2_FLAG_64BITS,
				     0, 0, unix_io_manager, &fs), 0);
	assert_int_equal(ext2fs_read_bitmaps(fs), 0);
	assert_int_equal(cache_bdev_open(r->path, 0, false, &r->dfs.efs.bdev), 0);
	assert_int_equal(cache_create(&cfg, &r->dfs.efs.cache), 0);
	assert_int_equal(extent_fs_init(&r->dfs.efs, fs, r->dfs.efs.cache,
					r->dfs.efs.bdev, false,
					EXTENT_ERRORS_CONTINUE), 0);
	r->dfs.opts.default_permissions = true;
	r->dfs.entry_timeout = 1.0;
	r->dfs.attr_timeout = 1.0;
	pthread_mutex_init(&r->dfs.itable_lock, NULL);
	pthread_cond_init(&r->dfs.itable_cond, NULL);
	*state = r;
	return 0;
}

static int real_fs_setup(void **state)
{
	return real_fs_setup_opts(state, "");
}

static int real_fs_setup_ea_inode(void **state)
{
	return real_fs_setup_opts(state, "-O ea_inode");
}

static int real_fs_teardown(void **state)
{
	struct real_fs *r = *state;
	char cmd[1200];
	int rc;

	daemon_itable_evict_all(&r->dfs);
	assert_int_equal(r->dfs.count, 0);
	assert_int_equal(ext2fs_close_free(&r->dfs.efs.fs), 0);
	extent_fs_fini(&r->dfs.efs);
	cache_destroy(r->dfs.efs.cache);
	cache_bdev_close(r->dfs.efs.bdev);
	snprintf(cmd, sizeof(cmd), "e2fsck -fn '%s' >/dev/null 2>&1", r->path);
	rc = system(cmd);
	unlink(r->path);
	pthread_cond_destroy(&r->dfs.itable_cond);
	pthread_mutex_destroy(&r->dfs.itable_lock);
	free(r);
	return rc == 0 ? 0 : -1;	/* e2fsck must find the image clean */
}

/* A regular file of @len bytes in the root directory (libext2fs only). */
static ext2_ino_t make_file(ext2_filsys fs, const char *name, size_t len)
{
	struct ext2_inode_large inode;
	ext2_extent_handle_t h;
	ext2_file_t file;
	ext2_ino_t ino;
	char *buf = malloc(len);
	unsigned int got;

	assert_non_null(buf);
	memset(buf, 'x', len);
	assert_int_equal(ext2fs_new_inode(fs, EXT2_ROOT_INO, LINUX_S_IFREG | 0644,
					  NULL, &ino), 0);
	assert_int_equal(ext2fs_link(fs, EXT2_ROOT_INO, name, ino,
				     EXT2_FT_REG_FILE), 0);
	ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = LINUX_S_IFREG | 0644;
	inode.i_links_count = 1;
	inode.i_extra_isize = sizeof(inode) - EXT2_GOOD_OLD_INODE_SIZE;
	inode.i_generation = 0x1234abcd;
	assert_int_equal(ext2fs_extent_open2(fs, ino, (struct ext2_inode *)&inode,
					     &h), 0);
	ext2fs_extent_free(h);
	assert_int_equal(ext2fs_write_new_inode(fs, ino,
						(struct ext2_inode *)&inode), 0);
	assert_int_equal(ext2fs_file_open(fs, ino, EXT2_FILE_WRITE, &file), 0);
	assert_int_equal(ext2fs_file_write(file, buf, (unsigned int)len, &got), 0);
	assert_int_equal(got, len);
	assert_int_equal(ext2fs_file_close(file), 0);
	free(buf);
	return ino;
}

/* Unlink @name as dir.c would: entry gone, links_count 0. */
static void unlink_file(struct daemon_fs *dfs, const char *name, ext2_ino_t ino)
{
	struct ext2_inode_large inode;

	assert_int_equal(ext2fs_unlink(dfs->efs.fs, EXT2_ROOT_INO, name, ino, 0), 0);
	assert_int_equal(daemon_read_inode(dfs, ino, &inode), 0);
	inode.i_links_count = 0;
	assert_int_equal(daemon_write_inode(dfs, ino, &inode), 0);
}

static void test_itable_refs(void **state)
{
	struct real_fs *r = *state;
	struct daemon_fs *dfs = &r->dfs;
	struct daemon_inode *a, *b;

	assert_int_equal(daemon_iget(dfs, EXT2_ROOT_INO, &a), 0);
	assert_int_equal(daemon_iget(dfs, EXT2_ROOT_INO, &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(a->refs, 2);
	assert_int_equal(dfs->count, 1);
	assert_ptr_equal(daemon_itable_find(dfs, EXT2_ROOT_INO), a);
	daemon_iput(dfs, a);
	daemon_iput(dfs, a);
	daemon_iput(dfs, a);
	assert_int_equal(dfs->count, 0);	/* no refs, no lookups: evicted */
	assert_null(daemon_itable_find(dfs, EXT2_ROOT_INO));

	/* a kernel lookup keeps it until forgotten */
	assert_int_equal(daemon_iget(dfs, EXT2_ROOT_INO, &a), 0);
	daemon_lookup_inc(dfs, a);
	daemon_lookup_inc(dfs, a);
	daemon_iput(dfs, a);
	assert_int_equal(dfs->count, 1);
	assert_int_equal(a->nlookup, 2);
	daemon_forget(dfs, EXT2_ROOT_INO, 1);
	assert_int_equal(dfs->count, 1);
	daemon_forget(dfs, EXT2_ROOT_INO, 5);	/* more than held: clamps */
	assert_int_equal(dfs->count, 0);
	daemon_forget(dfs, EXT2_ROOT_INO, 1);	/* unknown: ignored */
	daemon_forget(dfs, 12345, 1);
}

static void test_itable_bad_ino(void **state)
{
	struct real_fs *r = *state;
	struct daemon_fs *dfs = &r->dfs;
	struct daemon_inode *di;

	assert_int_equal(daemon_iget(dfs, 0, &di), -ESTALE);
	assert_int_equal(daemon_iget(dfs, 8, &di), -ESTALE);	/* journal */
	assert_int_equal(daemon_iget(dfs, dfs->efs.fs->super->s_inodes_count + 1,
				     &di), -ESTALE);
	/* a free inode: links_count 0 */
	assert_int_equal(daemon_iget(dfs, dfs->efs.fs->super->s_inodes_count,
				     &di), -ENOENT);
	assert_int_equal(dfs->count, 0);
}

static void test_make_entry(void **state)
{
	struct real_fs *r = *state;
	struct daemon_fs *dfs = &r->dfs;
	struct fuse_entry_param e;
	struct daemon_inode *di;
	ext2_ino_t ino = make_file(dfs->efs.fs, "entry", 5000);

	assert_int_equal(daemon_make_entry(dfs, EXT2_ROOT_INO, &e), 0);
	assert_int_equal(e.ino, FUSE_ROOT_ID);
	assert_int_equal(e.attr.st_ino, EXT2_ROOT_INO);
	assert_true(S_ISDIR(e.attr.st_mode));
	assert_true(e.entry_timeout == 1.0 && e.attr_timeout == 1.0);
	assert_int_equal(daemon_make_entry(dfs, ino, &e), 0);
	assert_int_equal(e.ino, ino);
	assert_int_equal(e.generation, 0x1234abcd);
	assert_int_equal(e.attr.st_size, 5000);
	di = daemon_itable_find(dfs, ino);
	assert_non_null(di);
	assert_int_equal(di->nlookup, 1);
	daemon_iput(dfs, di);
	daemon_forget(dfs, ino, 1);
	daemon_forget(dfs, EXT2_ROOT_INO, 1);
	assert_int_equal(dfs->count, 0);
	assert_int_equal(daemon_make_entry(dfs, 9999999, &e), -ESTALE);
}

/* Eviction of an unlinked inode frees it the way ext4_evict_inode does. */
static void test_itable_free_unlinked(void **state)
{
	struct real_fs *r = *state;
	struct daemon_fs *dfs = &r->dfs;
	ext2_filsys fs = dfs->efs.fs;
	uint64_t free_blocks = ext2fs_free_blocks_count(fs->super);
	uint32_t free_inodes = fs->super->s_free_inodes_count;
	struct ext2_inode_large inode;
	struct daemon_inode *di;
	ext2_ino_t ino;

	ino = make_file(fs, "victim", 100000);
	assert_true(ext2fs_free_blocks_count(fs->super) < free_blocks);
	assert_int_equal(daemon_iget(dfs, ino, &di), 0);
	daemon_lookup_inc(dfs, di);
	daemon_iput(dfs, di);
	unlink_file(dfs, "victim", ino);
	/* still known to the kernel: nothing freed yet */
	assert_true(ext2fs_test_inode_bitmap2(fs->inode_map, ino));
	daemon_forget(dfs, ino, 1);
	assert_int_equal(dfs->count, 0);
	assert_false(ext2fs_test_inode_bitmap2(fs->inode_map, ino));
	assert_int_equal(ext2fs_free_blocks_count(fs->super), free_blocks);
	assert_int_equal(fs->super->s_free_inodes_count, free_inodes);
	assert_int_equal(daemon_read_inode(dfs, ino, &inode), 0);
	assert_int_not_equal(inode.i_dtime, 0);
	assert_int_equal(inode.i_blocks, 0);
	/* a stale nodeid now gives ENOENT */
	assert_int_equal(daemon_iget(dfs, ino, &di), -ENOENT);
}

/* Set xattr @name of @len bytes on @ino through libext2fs. */
static void set_xattr(ext2_filsys fs, ext2_ino_t ino, const char *name,
		      size_t len)
{
	struct ext2_xattr_handle *h;
	char *val = malloc(len);

	assert_non_null(val);
	memset(val, 'v', len);
	assert_int_equal(ext2fs_xattrs_open(fs, ino, &h), 0);
	assert_int_equal(ext2fs_xattrs_read(h), 0);
	assert_int_equal(ext2fs_xattr_set(h, name, val, len), 0);
	assert_int_equal(ext2fs_xattrs_close(&h), 0);
	free(val);
}

/* The xattr block (and with ea_inode the value inodes) go with the inode. */
static void test_itable_free_xattrs(void **state)
{
	struct real_fs *r = *state;
	struct daemon_fs *dfs = &r->dfs;
	ext2_filsys fs = dfs->efs.fs;
	uint64_t free_blocks = ext2fs_free_blocks_count(fs->super);
	uint32_t free_inodes = fs->super->s_free_inodes_count;
	struct ext2_inode_large inode;
	struct daemon_inode *di;
	ext2_ino_t ino;

	ino = make_file(fs, "xa", 8192);
	set_xattr(fs, ino, "user.small", 300);	/* in the block (or body) */
	set_xattr(fs, ino, "user.big", ext2fs_has_feature_ea_inode(fs->super) ?
		  20000 : 1500);
	assert_int_equal(daemon_read_inode(dfs, ino, &inode), 0);
	assert_int_not_equal(ext2fs_file_acl_block(fs, (struct ext2_inode *)&inode), 0);
	if (ext2fs_has_feature_ea_inode(fs->super))
		assert_true(fs->super->s_free_inodes_count < free_inodes - 1);
	assert_int_equal(daemon_iget(dfs, ino, &di), 0);
	unlink_file(dfs, "xa", ino);
	daemon_iput(dfs, di);
	assert_int_equal(dfs->count, 0);
	assert_int_equal(ext2fs_free_blocks_count(fs->super), free_blocks);
	assert_int_equal(fs->super->s_free_inodes_count, free_inodes);
	/* teardown runs e2fsck -fn: refcounts and bitmaps must agree */
}

/* Unmount frees unlinked inodes the kernel still held. */
static void test_itable_evict_all_frees(void **state)
{
	struct real_fs *r = *state;
	struct daemon_fs *dfs = &r->dfs;
	ext2_filsys fs = dfs->efs.fs;
	uint64_t free_blocks = ext2fs_free_blocks_count(fs->super);
	struct daemon_inode *di, *keep;
	ext2_ino_t ino, ino2;

	ino = make_file(fs, "held", 50000);
	ino2 = make_file(fs, "kept", 50000);
	assert_int_equal(daemon_iget(dfs, ino, &di), 0);
	daemon_lookup_inc(dfs, di);		/* kernel lookup */
	assert_int_equal(daemon_iget(dfs, ino2, &keep), 0);	/* open ref */
	unlink_file(dfs, "held", ino);
	daemon_itable_evict_all(dfs);
	assert_int_equal(dfs->count, 0);
	assert_false(ext2fs_test_inode_bitmap2(fs->inode_map, ino));
	assert_true(ext2fs_test_inode_bitmap2(fs->inode_map, ino2));
	assert_true(ext2fs_free_blocks_count(fs->super) < free_blocks);
}

struct race_arg {
	struct daemon_fs *dfs;
	ext2_ino_t ino;
	int errors;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	struct daemon_inode *di;

	for (int i = 0; i < 3000; i++) {
		if (daemon_iget(a->dfs, a->ino, &di)) {
			a->errors++;
			continue;
		}
		if (di->ino != a->ino)
			a->errors++;
		if (i & 1)
			daemon_lookup_inc(a->dfs, di);
		daemon_iput(a->dfs, di);
		if (i & 1)
			daemon_forget(a->dfs, a->ino, 1);
	}
	return NULL;
}

/* iget, lookups, forgets and evictions racing on the same inodes. */
static void test_itable_race(void **state)
{
	struct real_fs *r = *state;
	struct daemon_fs *dfs = &r->dfs;
	ext2_ino_t inos[2];
	struct race_arg args[4];
	pthread_t th[4];

	inos[0] = make_file(dfs->efs.fs, "race0", 10000);
	inos[1] = make_file(dfs->efs.fs, "race1", 10000);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct race_arg){ dfs, inos[i & 1], 0 };
		assert_int_equal(pthread_create(&th[i], NULL, race_thread,
						&args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].errors, 0);
	}
	assert_int_equal(dfs->count, 0);
}

static void test_statvfs(void **state)
{
	struct real_fs *r = *state;
	struct daemon_fs *dfs = &r->dfs;
	struct ext2_super_block *sb = dfs->efs.fs->super;
	struct statvfs sv;

	daemon_fill_statvfs(dfs, &sv);
	assert_int_equal(sv.f_bsize, 4096);
	assert_int_equal(sv.f_frsize, 4096);
	assert_int_equal(sv.f_bfree, ext2fs_free_blocks_count(sb));
	assert_int_equal(sv.f_bavail, ext2fs_free_blocks_count(sb) -
				      ext2fs_r_blocks_count(sb));
	assert_true(sv.f_blocks < ext2fs_blocks_count(sb));
	assert_true(sv.f_blocks > sv.f_bfree);
	assert_int_equal(sv.f_files, sb->s_inodes_count);
	assert_int_equal(sv.f_ffree, sb->s_free_inodes_count);
	assert_int_equal(sv.f_namemax, 255);
	assert_int_not_equal(sv.f_fsid, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_parse_options),
		cmocka_unit_test(test_parse_fakeroot),
		cmocka_unit_test(test_parse_mount_helper),
		cmocka_unit_test(test_parse_rw_after_ro),
		cmocka_unit_test(test_parse_norecovery),
		cmocka_unit_test(test_parse_debug_is_foreground),
		cmocka_unit_test(test_parse_cache_options),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_missing),
		cmocka_unit_test(test_parse_help_version),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_time_roundtrip),
		cmocka_unit_test(test_time_encoding),
		cmocka_unit_test(test_time_small_inode),
		cmocka_unit_test(test_time_clamp),
		cmocka_unit_test(test_touch),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_fill_stat),
		cmocka_unit_test(test_fill_stat_size_from_memory),
		cmocka_unit_test(test_fill_stat_rdev),
		cmocka_unit_test(test_permission_mode),
		cmocka_unit_test(test_cred_in_group),
		cmocka_unit_test(test_acl_apply_mode),
		cmocka_unit_test(test_permission_acl),
		cmocka_unit_test_setup_teardown(test_itable_refs, real_fs_setup, real_fs_teardown),
		cmocka_unit_test_setup_teardown(test_itable_bad_ino, real_fs_setup, real_fs_teardown),
		cmocka_unit_test_setup_teardown(test_make_entry, real_fs_setup, real_fs_teardown),
		cmocka_unit_test_setup_teardown(test_itable_free_unlinked, real_fs_setup, real_fs_teardown),
		cmocka_unit_test_setup_teardown(test_itable_evict_all_frees, real_fs_setup, real_fs_teardown),
		cmocka_unit_test_setup_teardown(test_itable_free_xattrs, real_fs_setup, real_fs_teardown),
		cmocka_unit_test_setup_teardown(test_itable_free_xattrs, real_fs_setup_ea_inode, real_fs_teardown),
		cmocka_unit_test_setup_teardown(test_itable_race, real_fs_setup, real_fs_teardown),
		cmocka_unit_test_setup_teardown(test_statvfs, real_fs_setup, real_fs_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
