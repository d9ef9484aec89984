/* SPDX-License-Identifier: MIT */
/*
 * daemon/inode.c — the on-disk inode as the daemon sees it: reading and
 * writing it whole (large inodes), the ext4 timestamp encoding, owner ids
 * with their high 16 bits, struct stat, the caller's credentials and the
 * permission check (mode bits and POSIX ACLs) for the paths where the
 * kernel cannot check for us, and atime updates on access (relatime,
 * strictatime, noatime, nodiratime).
 *
 * Nothing here keeps state but the atime shortcut of each in-memory inode
 * (daemon_inode.atime_until, see "atime" below); all other functions work
 * on a caller's copy of the inode. Block maps and file data are extent/'s
 * business.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include "internal.h"

/* ---- reading and writing ---------------------------------------------- */

int daemon_read_inode(struct daemon_fs *dfs, ext2_ino_t ino,
		      struct ext2_inode_large *inode)
{
	errcode_t err;

	memset(inode, 0, sizeof(*inode));
	err = ext2fs_read_inode_full(dfs->efs.fs, ino,
				     (struct ext2_inode *)inode,
				     sizeof(*inode));
	if (err)
		return extent_errcode(&dfs->efs, ino, err);
	return 0;
}

int daemon_write_inode(struct daemon_fs *dfs, ext2_ino_t ino,
		       struct ext2_inode_large *inode)
{
	errcode_t err;

	/* any timestamp may change: the atime shortcut must be recomputed */
	daemon_itable_times_changed(dfs, ino);
	err = ext2fs_write_inode_full(dfs->efs.fs, ino,
				      (struct ext2_inode *)inode,
				      sizeof(*inode));
	if (err)
		return extent_errcode(&dfs->efs, ino, err);
	return 0;
}

/* ---- timestamps ----------------------------------------------------------
 *
 * ext4 keeps the low 32 bits of the signed seconds in i_[acm]time and, when
 * the inode is large enough (i_extra_isize covers the field), a 32-bit
 * "extra" word: bits 0-1 extend the seconds (bits 32-33), bits 2-31 hold
 * the nanoseconds. Seconds decode as (int32)i_time + (epoch << 32), which
 * covers 1901..2446.
 */

#define DAEMON_EPOCH_BITS 2
#define DAEMON_EPOCH_MASK ((1u << DAEMON_EPOCH_BITS) - 1)

/* Does the large-inode field at [off, off + size) exist in this inode? */
static bool fits_in_inode(const struct ext2_inode_large *inode, size_t off,
			  size_t size)
{
	return off + size <= (size_t)EXT2_GOOD_OLD_INODE_SIZE + inode->i_extra_isize;
}

#define FITS(inode, field)                                              \
	fits_in_inode(inode, offsetof(struct ext2_inode_large, field),  \
		      sizeof((inode)->field))

static uint32_t encode_extra(const struct timespec *ts)
{
	int64_t sec = ts->tv_sec;
	uint32_t epoch = (uint32_t)(((uint64_t)(sec - (int32_t)sec) >> 32) &
				    DAEMON_EPOCH_MASK);

	return epoch | ((uint32_t)ts->tv_nsec << DAEMON_EPOCH_BITS);
}

static struct timespec decode_time(uint32_t lo, const uint32_t *extra)
{
	struct timespec ts;

	ts.tv_sec = (int32_t)lo;
	ts.tv_nsec = 0;
	if (extra) {
		ts.tv_sec += (int64_t)(*extra & DAEMON_EPOCH_MASK) << 32;
		ts.tv_nsec = *extra >> DAEMON_EPOCH_BITS;
		if (ts.tv_nsec >= 1000000000L)	/* damaged: ignore */
			ts.tv_nsec = 0;
	}
	return ts;
}

struct timespec daemon_inode_get_time(const struct ext2_inode_large *inode,
				      unsigned int which)
{
	struct timespec zero = { 0, 0 };

	switch (which) {
	case DAEMON_ATIME:
		return decode_time(inode->i_atime, FITS(inode, i_atime_extra) ?
				   &inode->i_atime_extra : NULL);
	case DAEMON_MTIME:
		return decode_time(inode->i_mtime, FITS(inode, i_mtime_extra) ?
				   &inode->i_mtime_extra : NULL);
	case DAEMON_CTIME:
		return decode_time(inode->i_ctime, FITS(inode, i_ctime_extra) ?
				   &inode->i_ctime_extra : NULL);
	case DAEMON_CRTIME:
		if (!FITS(inode, i_crtime))
			return zero;
		return decode_time(inode->i_crtime,
				   FITS(inode, i_crtime_extra) ?
				   &inode->i_crtime_extra : NULL);
	default:
		return zero;
	}
}

/*
 * One timestamp, clamped like the kernel's timestamp_truncate() to what the
 * field can hold: 1901-12-13..2446-05-10 with an extra word, 1901..2038
 * (seconds only) without.
 */
static void set_one(uint32_t *lo, uint32_t *extra, const struct timespec *ts)
{
	struct timespec t = *ts;
	int64_t max = extra ? (int64_t)INT32_MAX + 3 * (1ll << 32) : INT32_MAX;

	if (t.tv_sec <= INT32_MIN) {
		t.tv_sec = INT32_MIN;
		t.tv_nsec = 0;	/* the kernel zeroes nsec at either limit */
	} else if (t.tv_sec >= max) {
		t.tv_sec = max;
		t.tv_nsec = 0;
	}
	if (t.tv_nsec < 0 || t.tv_nsec >= 1000000000L)
		t.tv_nsec = 0;
	*lo = (uint32_t)t.tv_sec;
	if (extra)
		*extra = encode_extra(&t);
}

void daemon_inode_set_time(struct ext2_inode_large *inode, unsigned int which,
			   const struct timespec *ts)
{
	if (which & DAEMON_ATIME)
		set_one(&inode->i_atime, FITS(inode, i_atime_extra) ?
			&inode->i_atime_extra : NULL, ts);
	if (which & DAEMON_MTIME)
		set_one(&inode->i_mtime, FITS(inode, i_mtime_extra) ?
			&inode->i_mtime_extra : NULL, ts);
	if (which & DAEMON_CTIME)
		set_one(&inode->i_ctime, FITS(inode, i_ctime_extra) ?
			&inode->i_ctime_extra : NULL, ts);
	if ((which & DAEMON_CRTIME) && FITS(inode, i_crtime))
		set_one(&inode->i_crtime, FITS(inode, i_crtime_extra) ?
			&inode->i_crtime_extra : NULL, ts);
}

void daemon_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

void daemon_inode_touch(struct ext2_inode_large *inode, unsigned int which)
{
	struct timespec now;

	daemon_now(&now);
	daemon_inode_set_time(inode, which, &now);
}

/* ---- atime ---------------------------------------------------------------
 *
 * FUSE's kernel side marks its inodes S_NOATIME and, after a read, readdir
 * or readlink, only drops its cached atime, so the daemon updates atime as
 * kernel ext4's touch_atime() would: atime_needs_update() with
 * relatime_need_update() for the default mode. The kernel does it for
 * every read(2) that gets past the size checks (at EOF too, not for a
 * 0-byte one) and every getdents(2); the daemon does it for the READ,
 * READDIR(PLUS) and READLINK requests that reach it.
 *
 * The lock-free shortcut, daemon_inode.atime_until. Under relatime, once
 * an access has seen atime > mtime and atime > ctime (under meta_lock,
 * after any update of its own), the one rule that can still make an
 * update due is "atime is a day old", which depends on the clock alone:
 * until atime + 24 h every access may skip the inode. The slow path
 * stores that second in atime_until; the fast path compares the clock
 * with it and takes no lock, reads no inode, writes nothing. This is safe
 * because:
 *
 *  - A nonzero atime_until always describes the inode as it is on disk.
 *    It is stored only under meta_lock, right after reading (and maybe
 *    writing) the inode; every write of an inode goes through
 *    daemon_write_inode(), also under meta_lock, which zeroes it before
 *    writing. So no change of mtime or ctime (write, truncate, fallocate,
 *    setattr, link, unlink, rename, xattrs) nor of atime itself (utimensat)
 *    leaves a stale value behind. extent/ writes the inode too, but only
 *    i_size, i_blocks and the block map, never a timestamp; a new inode
 *    (newinode.c) is not in the table yet.
 *
 *  - A reader racing with such a change may load the old value and skip
 *    the update. Its access overlaps the change, so it is ordered before
 *    it, where skipping was right:
 *
 *	thread A (READ, fast path)        thread B (WRITE)
 *	load atime_until (valid)
 *	                                  meta_lock, mtime = now,
 *	                                  daemon_write_inode(): atime_until = 0
 *	skip: this read came first
 *	reply                             meta_unlock, reply
 *
 *    A read sent after the write was answered loads 0 (seq_cst atomics;
 *    the reply and the next request also cross the kernel) and takes the
 *    slow path, which sees mtime >= atime and updates.
 *
 *  - A new daemon_inode (first load, reload after eviction) starts at 0,
 *    and a value that is too low only sends an access to the slow path.
 *
 * Strictatime stores nothing: every access is due. An inode with the
 * noatime flag (chattr +A) is never due: INT64_MAX, until it is written.
 * The mount-wide rules (noatime, nodiratime, read-only, O_NOATIME) are
 * checked before the shortcut on every access; they cost no lock either.
 */

#define DAEMON_RELATIME_SECS (24 * 60 * 60)

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/* The mount-wide half of atime_needs_update(): may any access update? */
static bool atime_mount_allows(struct daemon_fs *dfs, bool isdir)
{
	if (dfs->opts.atime == DAEMON_NOATIME)
		return false;
	if (isdir && dfs->opts.nodiratime)
		return false;
	/* ro, or errors=remount-ro since: __mnt_want_write() fails */
	return daemon_check_writable(dfs) == 0;
}

/* relatime_need_update(): atime <= mtime, atime <= ctime, or a day old. */
static bool atime_relatime_due(const struct ext2_inode_large *inode,
			       const struct timespec *now)
{
	struct timespec a = daemon_inode_get_time(inode, DAEMON_ATIME);
	struct timespec m = daemon_inode_get_time(inode, DAEMON_MTIME);
	struct timespec c = daemon_inode_get_time(inode, DAEMON_CTIME);

	return ts_cmp(&m, &a) >= 0 || ts_cmp(&c, &a) >= 0 ||
	       now->tv_sec - a.tv_sec >= DAEMON_RELATIME_SECS;
}

/* The per-inode half of atime_needs_update(), at time @now. */
static bool atime_due(struct daemon_fs *dfs,
		      const struct ext2_inode_large *inode,
		      const struct timespec *now)
{
	struct timespec a = daemon_inode_get_time(inode, DAEMON_ATIME);

	if (inode->i_flags & EXT2_NOATIME_FL)
		return false;
	if (dfs->opts.atime == DAEMON_RELATIME &&
	    !atime_relatime_due(inode, now))
		return false;
	return ts_cmp(&a, now) != 0;
}

/*
 * atime_until_of() - the atime shortcut for @inode as it now is (see
 * above): the first second at which an access may be due, 0 if one may be
 * due at any time.
 */
static int64_t atime_until_of(struct daemon_fs *dfs,
			      const struct ext2_inode_large *inode)
{
	struct timespec a = daemon_inode_get_time(inode, DAEMON_ATIME);
	struct timespec m = daemon_inode_get_time(inode, DAEMON_MTIME);
	struct timespec c = daemon_inode_get_time(inode, DAEMON_CTIME);

	if (inode->i_flags & EXT2_NOATIME_FL)
		return INT64_MAX;
	if (dfs->opts.atime != DAEMON_RELATIME)
		return 0;
	if (ts_cmp(&m, &a) >= 0 || ts_cmp(&c, &a) >= 0)
		return 0;
	/* a is at most year 2446 here: no overflow; 0 just means "look" */
	return (int64_t)a.tv_sec + DAEMON_RELATIME_SECS;
}

/* Update the atime of @inode (@ino) to now if due. Context: meta_lock held. */
static int atime_update_locked(struct daemon_fs *dfs, ext2_ino_t ino,
			       struct ext2_inode_large *inode)
{
	struct timespec now;

	daemon_now(&now);
	if (!atime_due(dfs, inode, &now))
		return 0;
	daemon_inode_set_time(inode, DAEMON_ATIME, &now);
	return daemon_write_inode(dfs, ino, inode);
}

int daemon_inode_accessed_locked(struct daemon_fs *dfs, ext2_ino_t ino,
				 struct ext2_inode_large *inode)
{
	if (!atime_mount_allows(dfs, LINUX_S_ISDIR(inode->i_mode)))
		return 0;
	return atime_update_locked(dfs, ino, inode);
}

int daemon_inode_accessed(struct daemon_fs *dfs, struct daemon_inode *di,
			  bool isdir, bool noatime)
{
	struct ext2_inode_large inode;
	struct timespec now;
	int ret;

	if (noatime || !atime_mount_allows(dfs, isdir))
		return 0;
	daemon_now(&now);
	if (now.tv_sec < atomic_load(&di->atime_until))
		return 0;	/* the shortcut: nothing due, no lock */

	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, di->ino, &inode);
	if (ret)
		goto out_unlock;
	ret = atime_update_locked(dfs, di->ino, &inode);
	if (ret)
		goto out_unlock;
	/* after daemon_write_inode() zeroed it: describes @inode as written */
	atomic_store(&di->atime_until, atime_until_of(dfs, &inode));
out_unlock:
	extent_meta_unlock(&dfs->efs);
	return ret;
}

/* ---- owners ------------------------------------------------------------ */

uid_t daemon_inode_uid(const struct ext2_inode_large *inode)
{
	return (uid_t)inode->i_uid |
	       (uid_t)inode->osd2.linux2.l_i_uid_high << 16;
}

gid_t daemon_inode_gid(const struct ext2_inode_large *inode)
{
	return (gid_t)inode->i_gid |
	       (gid_t)inode->osd2.linux2.l_i_gid_high << 16;
}

void daemon_inode_set_uid(struct ext2_inode_large *inode, uid_t uid)
{
	inode->i_uid = (uint16_t)uid;
	inode->osd2.linux2.l_i_uid_high = (uint16_t)(uid >> 16);
}

void daemon_inode_set_gid(struct ext2_inode_large *inode, gid_t gid)
{
	inode->i_gid = (uint16_t)gid;
	inode->osd2.linux2.l_i_gid_high = (uint16_t)(gid >> 16);
}

/* ---- stat -------------------------------------------------------------- */

/*
 * Device numbers: the old encoding (8-bit major and minor) sits in
 * i_block[0]; when it cannot hold the number, i_block[0] is 0 and the new
 * encoding (Linux new_encode_dev) sits in i_block[1].
 */
static dev_t inode_rdev(const struct ext2_inode_large *inode)
{
	uint32_t old = inode->i_block[0], nw = inode->i_block[1];

	if (old)
		return makedev((old >> 8) & 0xff, old & 0xff);
	return makedev((nw & 0xfff00) >> 8, (nw & 0xff) | ((nw >> 12) & 0xfff00));
}

void daemon_fill_stat(struct daemon_fs *dfs, ext2_ino_t ino,
		      const struct ext2_inode_large *inode,
		      const struct daemon_inode *di, struct stat *st)
{
	ext2_filsys fs = dfs->efs.fs;
	uint64_t blocks = inode->i_blocks;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = inode->i_mode;
	st->st_nlink = inode->i_links_count;
	st->st_uid = daemon_inode_uid(inode);
	st->st_gid = daemon_inode_gid(inode);
	if (LINUX_S_ISCHR(inode->i_mode) || LINUX_S_ISBLK(inode->i_mode))
		st->st_rdev = inode_rdev(inode);
	if (di && LINUX_S_ISREG(inode->i_mode))
		st->st_size = (off_t)atomic_load(&di->ei.size);
	else
		st->st_size = (off_t)EXT2_I_SIZE(inode);
	if (ext2fs_has_feature_huge_file(fs->super)) {
		blocks |= (uint64_t)inode->osd2.linux2.l_i_blocks_hi << 32;
		if (inode->i_flags & EXT4_HUGE_FILE_FL)
			blocks *= fs->blocksize / 512;
	}
	st->st_blocks = (blkcnt_t)blocks;
	st->st_blksize = fs->blocksize;
	st->st_atim = daemon_inode_get_time(inode, DAEMON_ATIME);
	st->st_mtim = daemon_inode_get_time(inode, DAEMON_MTIME);
	st->st_ctim = daemon_inode_get_time(inode, DAEMON_CTIME);
}

/* ---- credentials and permissions ---------------------------------------- */

void daemon_cred_of(struct daemon_fs *dfs, fuse_req_t req,
		    struct daemon_cred *cred)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	cred->uid = 0;
	cred->gid = 0;
	cred->umask = ctx->umask;
	cred->ngroups = 0;
	cred->groups_req = NULL;
	if (dfs->opts.fakeroot)
		return;
	cred->uid = ctx->uid;
	cred->gid = ctx->gid;
	cred->groups_req = req;	/* groups: on first daemon_cred_in_group() */
}

/*
 * daemon_cred_in_group() - the supplementary groups are a cache of the
 * request's, filled here on first need; that is why @cred is cast to
 * non-const (the credentials themselves do not change). A cred belongs to
 * the one thread serving its request, so there is no race on the fill.
 */
bool daemon_cred_in_group(const struct daemon_cred *cred, gid_t gid)
{
	if (cred->gid == gid)
		return true;
	if (cred->groups_req) {
		struct daemon_cred *c = (struct daemon_cred *)cred;
		int n = fuse_req_getgroups(c->groups_req, 64, c->groups);

		if (n > 64)
			n = 64;
		c->ngroups = n > 0 ? n : 0;
		c->groups_req = NULL;
	}
	for (int i = 0; i < cred->ngroups; i++)
		if (cred->groups[i] == gid)
			return true;
	return false;
}

int daemon_check_writable(struct daemon_fs *dfs)
{
	return atomic_load(&dfs->efs.readonly) ? -EROFS : 0;
}

/* POSIX ACL xattr value as libext2fs hands it out (Linux xattr format). */
#define DAEMON_ACL_VERSION 2
#define DAEMON_ACL_USER_OBJ 0x01
#define DAEMON_ACL_USER 0x02
#define DAEMON_ACL_GROUP_OBJ 0x04
#define DAEMON_ACL_GROUP 0x08
#define DAEMON_ACL_MASK 0x10
#define DAEMON_ACL_OTHER 0x20

struct daemon_acl_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

/*
 * The kernel's posix_acl_permission() over an xattr-format ACL.
 * Return: 0, -EACCES, or 1 when the ACL is malformed (fall back to mode).
 */
static int acl_permission(const struct daemon_cred *cred,
			  const struct ext2_inode_large *inode,
			  const unsigned char *buf, size_t len, int want)
{
	const struct daemon_acl_entry *e, *mask_e = NULL, *other = NULL;
	size_t n;
	uint32_t version;
	bool found = false, owner = cred->uid == daemon_inode_uid(inode);

	if (len < 4 || (len - 4) % sizeof(*e))
		return 1;
	memcpy(&version, buf, 4);
	if (version != DAEMON_ACL_VERSION)
		return 1;
	n = (len - 4) / sizeof(*e);
	e = (const struct daemon_acl_entry *)(buf + 4);
	for (size_t i = 0; i < n; i++) {
		if (e[i].tag == DAEMON_ACL_MASK)
			mask_e = &e[i];
		else if (e[i].tag == DAEMON_ACL_OTHER)
			other = &e[i];
	}
	if (!other)
		return 1;

	for (size_t i = 0; i < n; i++) {
		switch (e[i].tag) {
		case DAEMON_ACL_USER_OBJ:
			if (owner)
				return (e[i].perm & want) == want ? 0 : -EACCES;
			break;
		case DAEMON_ACL_USER:
			if (!owner && e[i].id == cred->uid)
				goto check_mask;
			break;
		case DAEMON_ACL_GROUP_OBJ:
			if (!owner &&
			    daemon_cred_in_group(cred, daemon_inode_gid(inode))) {
				found = true;
				if ((e[i].perm & want) == want)
					goto check_mask;
			}
			break;
		case DAEMON_ACL_GROUP:
			if (!owner && daemon_cred_in_group(cred, e[i].id)) {
				found = true;
				if ((e[i].perm & want) == want)
					goto check_mask;
			}
			break;
		default:
			break;
		}
		continue;
check_mask:
		if ((e[i].perm & want) != want)
			return -EACCES;
		if (mask_e && (mask_e->perm & want) != want)
			return -EACCES;
		return 0;
	}
	if (found)
		return -EACCES;
	return (other->perm & want) == want ? 0 : -EACCES;
}

/* Read system.posix_acl_access of @ino; 0 with *buf (free it) or -errno. */
static int read_access_acl(struct daemon_fs *dfs, ext2_ino_t ino, void **buf,
			   size_t *len)
{
	struct ext2_xattr_handle *h;
	errcode_t err;

	*buf = NULL;
	*len = 0;
	err = ext2fs_xattrs_open(dfs->efs.fs, ino, &h);
	if (err)
		return -EIO;
	err = ext2fs_xattrs_read(h);
	if (!err)
		err = ext2fs_xattr_get(h, "system.posix_acl_access", buf, len);
	ext2fs_xattrs_close(&h);
	if (err == EXT2_ET_EA_KEY_NOT_FOUND)
		return -ENODATA;
	return err ? -EIO : 0;
}

int daemon_permission(struct daemon_fs *dfs, const struct daemon_cred *cred,
		      ext2_ino_t ino, const struct ext2_inode_large *inode,
		      int mask)
{
	unsigned int mode = inode->i_mode, bits;
	int want = mask & (R_OK | W_OK | X_OK);
	void *acl;
	size_t len;

	if (dfs->opts.fakeroot || want == 0)
		return 0;
	if (cred->uid == 0) {
		/* root: everything but executing a file nobody may execute */
		if ((want & X_OK) && !LINUX_S_ISDIR(mode) && !(mode & 0111))
			return -EACCES;
		return 0;
	}
	if (cred->uid != daemon_inode_uid(inode) &&
	    ext2fs_has_feature_xattr(dfs->efs.fs->super) &&
	    read_access_acl(dfs, ino, &acl, &len) == 0) {
		int ret = acl_permission(cred, inode, acl, len, want);

		ext2fs_free_mem(&acl);
		if (ret <= 0)
			return ret;
	}
	if (cred->uid == daemon_inode_uid(inode))
		bits = (mode >> 6) & 7;
	else if (daemon_cred_in_group(cred, daemon_inode_gid(inode)))
		bits = (mode >> 3) & 7;
	else
		bits = mode & 7;
	return ((int)bits & want) == want ? 0 : -EACCES;
}
