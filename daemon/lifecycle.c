/* SPDX-License-Identifier: MIT */
/*
 * daemon/lifecycle.c — one mount from start to end:
 *
 *	check image ─▶ check superblock ─▶ bdev ─▶ [replay the journal
 *	(rw: to the image; ro: into memory, as the bdev's read overlay),
 *	check again] ─▶ ext2fs_open2 ─▶ cache, extent_fs_init ─▶ [rw:
 *	orphans] ─▶ mark superblock in use ─▶ fuse session, mount
 *	─▶ signal "ready" ─▶ serve (multi-threaded loop) ─▶ write back,
 *	evict, mark superblock clean, close everything [─▶ free the
 *	in-memory replay].
 *
 * Refusals (bad magic, unknown incompat features, journal device, a
 * journal we cannot replay) happen before anything is written, so a
 * refused image is byte-identical afterwards. Features we can read but
 * not safely write force a read-only mount with a message. A read-write
 * mount of an image needing recovery replays the journal first
 * (recover.c), then processes the orphans (orphan.c); a read-only one
 * replays it into memory and never writes the image.
 *
 * Also the FUSE init/destroy handlers (capabilities, limits).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "internal.h"
#include "journal.h"

#define LC_MAX_WRITE (1u << 20)
#define LC_MAX_READAHEAD (1u << 20)
#define LC_MAX_BACKGROUND 64
#define LC_TIMEOUT 1.0
#define LC_IDLE_THREADS 16
#define LC_FOLIO_SIZE (64u << 10)
#define LC_CLAIM_WAIT_MS 60000
#define LC_CLAIM_POLL_MS 50

/* ---- image and superblock checks --------------------------------------- */

struct lc_feature {
	uint32_t bit;
	const char *name;
};

static const struct lc_feature lc_incompat_names[] = {
	{ EXT2_FEATURE_INCOMPAT_COMPRESSION, "compression" },
	{ EXT2_FEATURE_INCOMPAT_FILETYPE, "filetype" },
	{ EXT3_FEATURE_INCOMPAT_RECOVER, "needs_recovery" },
	{ EXT3_FEATURE_INCOMPAT_JOURNAL_DEV, "journal_dev" },
	{ EXT2_FEATURE_INCOMPAT_META_BG, "meta_bg" },
	{ EXT3_FEATURE_INCOMPAT_EXTENTS, "extent" },
	{ EXT4_FEATURE_INCOMPAT_64BIT, "64bit" },
	{ EXT4_FEATURE_INCOMPAT_MMP, "mmp" },
	{ EXT4_FEATURE_INCOMPAT_FLEX_BG, "flex_bg" },
	{ EXT4_FEATURE_INCOMPAT_EA_INODE, "ea_inode" },
	{ EXT4_FEATURE_INCOMPAT_DIRDATA, "dirdata" },
	{ EXT4_FEATURE_INCOMPAT_CSUM_SEED, "metadata_csum_seed" },
	{ EXT4_FEATURE_INCOMPAT_LARGEDIR, "large_dir" },
	{ EXT4_FEATURE_INCOMPAT_INLINE_DATA, "inline_data" },
	{ EXT4_FEATURE_INCOMPAT_ENCRYPT, "encrypt" },
	{ EXT4_FEATURE_INCOMPAT_CASEFOLD, "casefold" },
};

static const struct lc_feature lc_ro_compat_names[] = {
	{ EXT4_FEATURE_RO_COMPAT_HAS_SNAPSHOT, "snapshot" },
	{ EXT4_FEATURE_RO_COMPAT_QUOTA, "quota" },
	{ EXT4_FEATURE_RO_COMPAT_BIGALLOC, "bigalloc" },
	{ EXT4_FEATURE_RO_COMPAT_REPLICA, "replica" },
	{ EXT4_FEATURE_RO_COMPAT_READONLY, "read-only" },
	{ EXT4_FEATURE_RO_COMPAT_PROJECT, "project" },
	{ EXT4_FEATURE_RO_COMPAT_SHARED_BLOCKS, "shared_blocks" },
	{ EXT4_FEATURE_RO_COMPAT_VERITY, "verity" },
	{ EXT4_FEATURE_RO_COMPAT_ORPHAN_PRESENT, "orphan_present" },
};

/* Incompat features we mount (RECOVER and JOURNAL_DEV are checked apart). */
#define LC_INCOMPAT_OK (EXT2_FEATURE_INCOMPAT_FILETYPE |		\
			EXT3_FEATURE_INCOMPAT_RECOVER |			\
			EXT2_FEATURE_INCOMPAT_META_BG |			\
			EXT3_FEATURE_INCOMPAT_EXTENTS |			\
			EXT4_FEATURE_INCOMPAT_64BIT |			\
			EXT4_FEATURE_INCOMPAT_MMP |			\
			EXT4_FEATURE_INCOMPAT_FLEX_BG |			\
			EXT4_FEATURE_INCOMPAT_EA_INODE |		\
			EXT4_FEATURE_INCOMPAT_CSUM_SEED |		\
			EXT4_FEATURE_INCOMPAT_LARGEDIR |		\
			EXT4_FEATURE_INCOMPAT_INLINE_DATA)

/* ro_compat features we can write. Everything else: read-only mount. */
#define LC_RO_COMPAT_RW (EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER |		\
			 EXT2_FEATURE_RO_COMPAT_LARGE_FILE |		\
			 EXT4_FEATURE_RO_COMPAT_HUGE_FILE |		\
			 EXT4_FEATURE_RO_COMPAT_GDT_CSUM |		\
			 EXT4_FEATURE_RO_COMPAT_DIR_NLINK |		\
			 EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE |		\
			 EXT4_FEATURE_RO_COMPAT_METADATA_CSUM)

/* "name1, name2, unknown(0x40000)" for the bits of @mask. */
static void feature_list(char *buf, size_t len, uint32_t mask,
			 const struct lc_feature *tab, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int b = 0; b < 32; b++) {
		uint32_t bit = 1u << b;
		const char *name = NULL;
		int w;

		if (!(mask & bit))
			continue;
		for (size_t i = 0; i < n; i++)
			if (tab[i].bit == bit)
				name = tab[i].name;
		if (name)
			w = snprintf(buf + used, len - used, "%s%s",
				     used ? ", " : "", name);
		else
			w = snprintf(buf + used, len - used,
				     "%sunknown (0x%x)", used ? ", " : "", bit);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
}

/*
 * Can we open @image at all? Clear messages for the usual mistakes.
 * Return: 0 or DAEMON_EXIT_IMAGE.
 */
static int lc_check_image(const struct daemon_opts *opts)
{
	struct stat st;
	int fd, err;

	if (stat(opts->image, &st) < 0) {
		err = errno;
		fprintf(stderr, "uext4: %s: %s\n", opts->image,
			err == ENOENT ? "no such file or device" : strerror(err));
		return DAEMON_EXIT_IMAGE;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "uext4: %s: not a regular file or block device\n",
			opts->image);
		return DAEMON_EXIT_IMAGE;
	}
	fd = open(opts->image, (opts->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == EACCES || err == EPERM || err == EROFS)
			fprintf(stderr, "uext4: %s: permission denied%s\n",
				opts->image, opts->readonly ? "" :
				" (cannot open for writing; try -o ro)");
		else
			fprintf(stderr, "uext4: %s: %s\n", opts->image,
				strerror(err));
		return DAEMON_EXIT_IMAGE;
	}
	close(fd);
	return 0;
}

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape_mountinfo(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* Is @image the source of a live mount (uext4's or the kernel's) here? */
static bool lc_image_mounted(const char *image)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep, type[64], src[4096];
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%63s %4095s", type, src) != 2)
			continue;
		unescape_mountinfo(src);
		found = strcmp(src, image) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * Claim the image for the lifetime of the mount: an advisory lock (shared
 * for ro, exclusive for rw) so that two uext4 daemons never serve the same
 * image with one of them writing, and for a block device an O_EXCL open,
 * which fails while the kernel (or another uext4) has it.
 *
 * umount(8) of a plain FUSE mount does not wait for the daemon, so
 * "umount; mount" finds the old daemon still writing back: when the image
 * is busy but no mount of it is visible any more, wait for that daemon to
 * finish (up to LC_CLAIM_WAIT_MS) instead of failing.
 * Return: the descriptor holding the claim (>= 0), or -DAEMON_EXIT_IMAGE.
 */
static int lc_claim_image(const struct daemon_opts *opts)
{
	struct stat st;
	int fd = -1, err, waited = 0;
	int flags = (opts->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int lock = (opts->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB;

	if (stat(opts->image, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	for (;;) {
		if (fd < 0)
			fd = open(opts->image, flags);
		if (fd >= 0 && flock(fd, lock) == 0)
			return fd;
		err = errno;
		if (err == EINTR)
			continue;
		if ((err != EBUSY && err != EWOULDBLOCK) ||
		    waited >= LC_CLAIM_WAIT_MS || lc_image_mounted(opts->image))
			break;
		if (waited == 0 && opts->foreground)
			fprintf(stderr,
				"uext4: %s: busy, waiting for the previous uext4 daemon to finish\n",
				opts->image);
		usleep(LC_CLAIM_POLL_MS * 1000);
		waited += LC_CLAIM_POLL_MS;
	}
	fprintf(stderr, "uext4: %s: %s\n", opts->image,
		err == EWOULDBLOCK ? "in use by another uext4 mount" :
		err == EBUSY ? "device is busy (mounted elsewhere?)" :
		strerror(err));
	if (fd >= 0)
		close(fd);
	return -DAEMON_EXIT_IMAGE;
}

/* Read the primary superblock ourselves. Return: 0 or an exit status. */
static int lc_read_super(const struct daemon_opts *opts,
			 struct ext2_super_block *sb)
{
	ssize_t n;
	int fd;

	fd = open(opts->image, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "uext4: %s: %s\n", opts->image, strerror(errno));
		return DAEMON_EXIT_IMAGE;
	}
	n = pread(fd, sb, sizeof(*sb), (off_t)(opts->offset + SUPERBLOCK_OFFSET));
	close(fd);
	if (n != (ssize_t)sizeof(*sb) ||
	    ext2fs_le16_to_cpu(sb->s_magic) != EXT2_SUPER_MAGIC) {
		fprintf(stderr,
			"uext4: %s: not an ext2/ext3/ext4 file system (bad superblock magic%s)\n",
			opts->image, opts->offset ? " at the given offset" : "");
		return DAEMON_EXIT_REFUSED;
	}
	return 0;
}

/*
 * Features: refuse (DAEMON_EXIT_REFUSED) or mount (0), possibly
 * read-only (opts->readonly set, message printed).
 */
static int lc_check_features(struct daemon_opts *opts,
			     const struct ext2_super_block *sb)
{
	uint32_t incompat, ro_compat, compat, bad;
	char names[512];

	compat = ext2fs_le32_to_cpu(sb->s_feature_compat);
	incompat = ext2fs_le32_to_cpu(sb->s_feature_incompat);
	ro_compat = ext2fs_le32_to_cpu(sb->s_feature_ro_compat);
	if (ext2fs_le32_to_cpu(sb->s_rev_level) == EXT2_GOOD_OLD_REV)
		compat = incompat = ro_compat = 0; /* rev 0: no feature words */

	if (incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV) {
		fprintf(stderr,
			"uext4: %s: this is an external journal device, not a file system\n",
			opts->image);
		return DAEMON_EXIT_REFUSED;
	}
	bad = incompat & ~LC_INCOMPAT_OK;
	if (bad) {
		feature_list(names, sizeof(names), bad, lc_incompat_names,
			     sizeof(lc_incompat_names) / sizeof(*lc_incompat_names));
		fprintf(stderr,
			"uext4: %s: unsupported incompatible feature(s): %s; refusing to mount\n",
			opts->image, names);
		return DAEMON_EXIT_REFUSED;
	}
	bad = ro_compat & ~LC_RO_COMPAT_RW;
	/* orphans in the orphan file: processed at mount (orphan.c) */
	if (compat & EXT4_FEATURE_COMPAT_ORPHAN_FILE)
		bad &= ~(uint32_t)EXT4_FEATURE_RO_COMPAT_ORPHAN_PRESENT;
	if ((incompat & EXT4_FEATURE_INCOMPAT_MMP) && !opts->readonly) {
		fprintf(stderr,
			"uext4: %s: multiple-mount protection (mmp) is not supported for writing; mounting read-only\n",
			opts->image);
		opts->readonly = true;
	}
	if (bad && !opts->readonly) {
		feature_list(names, sizeof(names), bad, lc_ro_compat_names,
			     sizeof(lc_ro_compat_names) / sizeof(*lc_ro_compat_names));
		fprintf(stderr,
			"uext4: %s: feature(s) not supported for writing: %s; mounting read-only\n",
			opts->image, names);
		opts->readonly = true;
	}
	return 0;
}

/* Is the journal external (a device, or named by UUID)? */
static bool lc_external_journal(const struct ext2_super_block *sb)
{
	static const uint8_t zero[sizeof(sb->s_journal_uuid)];

	return ext2fs_le32_to_cpu(sb->s_journal_inum) == 0 ||
	       ext2fs_le32_to_cpu(sb->s_journal_dev) != 0 ||
	       memcmp(sb->s_journal_uuid, zero, sizeof(zero)) != 0;
}

/*
 * needs_recovery: replay it (*@replay set: to the image for a read-write
 * mount, into memory for a read-only one, asked for or forced by a
 * feature), mount without it (norecovery, a warning), or refuse (no
 * journal, an external journal).
 */
static int lc_check_recovery(struct daemon_opts *opts,
			     const struct ext2_super_block *sb, bool *replay)
{
	uint32_t incompat = ext2fs_le32_to_cpu(sb->s_feature_incompat);

	*replay = false;
	if (ext2fs_le32_to_cpu(sb->s_rev_level) == EXT2_GOOD_OLD_REV ||
	    !(incompat & EXT3_FEATURE_INCOMPAT_RECOVER))
		return 0;
	if (opts->norecovery) {
		fprintf(stderr,
			"uext4: %s: warning: the journal needs recovery; norecovery: mounting read-only without replaying it, recent changes will be missing\n",
			opts->image);
		return 0;
	}
	if (!(ext2fs_le32_to_cpu(sb->s_feature_compat) &
	      EXT3_FEATURE_COMPAT_HAS_JOURNAL)) {
		fprintf(stderr,
			"uext4: %s: needs_recovery is set but there is no journal; run e2fsck -f\n",
			opts->image);
		return DAEMON_EXIT_REFUSED;
	}
	if (lc_external_journal(sb)) {
		fprintf(stderr,
			"uext4: %s: the journal is on an external device, which uext4 cannot replay;\n"
			"uext4: replay it with e2fsck (or a kernel mount) first\n",
			opts->image);
		return DAEMON_EXIT_REFUSED;
	}
	*replay = true;
	return 0;
}

/* Warnings about the state the last writer left (mount goes on). */
static void lc_state_warnings(const struct daemon_opts *opts,
			      const struct ext2_super_block *sb)
{
	if ((int16_t)ext2fs_le16_to_cpu(sb->s_max_mnt_count) > 0 &&
	    ext2fs_le16_to_cpu(sb->s_mnt_count) >=
	    ext2fs_le16_to_cpu(sb->s_max_mnt_count))
		fprintf(stderr,
			"uext4: %s: warning: maximal mount count reached, running e2fsck is recommended\n",
			opts->image);
	if (!(ext2fs_le16_to_cpu(sb->s_state) & EXT2_VALID_FS))
		fprintf(stderr,
			"uext4: %s: warning: not cleanly unmounted, running e2fsck is recommended\n",
			opts->image);
	else if (ext2fs_le16_to_cpu(sb->s_state) & EXT2_ERROR_FS)
		fprintf(stderr,
			"uext4: %s: warning: file system has errors, running e2fsck is recommended\n",
			opts->image);
}

/*
 * Read the primary superblock ourselves and decide: refuse (return
 * DAEMON_EXIT_REFUSED), or mount (0), possibly read-only (opts->readonly
 * set, message printed), after a journal replay when *@replay is set.
 */
static int lc_check_super(struct daemon_opts *opts, bool *replay)
{
	struct ext2_super_block sb;
	int status;

	*replay = false;
	status = lc_read_super(opts, &sb);
	if (!status)
		status = lc_check_features(opts, &sb);
	if (!status)
		status = lc_check_recovery(opts, &sb, replay);
	if (!status && !*replay)
		lc_state_warnings(opts, &sb);
	return status;
}

/*
 * After a replay the superblock is the one the journal held: check it
 * again (its features may differ; forced read-only is still possible).
 */
static int lc_check_replayed(struct daemon_opts *opts)
{
	struct ext2_super_block sb;
	int status;

	status = lc_read_super(opts, &sb);
	if (!status)
		status = lc_check_features(opts, &sb);
	if (status)
		return status;
	if (ext2fs_le32_to_cpu(sb.s_feature_incompat) &
	    EXT3_FEATURE_INCOMPAT_RECOVER) {
		fprintf(stderr,
			"uext4: %s: needs_recovery still set after the replay\n",
			opts->image);
		return DAEMON_EXIT_INTERNAL;
	}
	lc_state_warnings(opts, &sb);
	return 0;
}

/*
 * Read-only mount of an image needing recovery: replay the journal into
 * memory (recover.c), then check the superblock as the replayed view
 * shows it (read through the engine, so through the overlay): its
 * features, and the warnings about its state as the replay would have
 * left it (@info, @damaged). Its needs_recovery bit is still set — the
 * image was not written — and means nothing here.
 */
static int lc_replay_in_memory(struct daemon_fs *dfs,
			       struct journal_recovery_info *info,
			       bool *damaged)
{
	struct daemon_opts *opts = &dfs->opts;
	struct ext2_super_block sb;
	uint16_t state;
	int status;

	status = daemon_recover_to_memory(dfs, info, damaged);
	if (status)
		return status;
	if (cache_bdev_pread(dfs->efs.bdev, &sb, sizeof(sb),
			     SUPERBLOCK_OFFSET)) {
		fprintf(stderr, "uext4: %s: cannot read the superblock\n",
			opts->image);
		return DAEMON_EXIT_INTERNAL;
	}
	if (ext2fs_le16_to_cpu(sb.s_magic) != EXT2_SUPER_MAGIC) {
		fprintf(stderr,
			"uext4: %s: the superblock replayed from the journal is not an ext2/ext3/ext4 superblock; run e2fsck -f\n",
			opts->image);
		return DAEMON_EXIT_REFUSED;
	}
	status = lc_check_features(opts, &sb);
	if (status)
		return status;
	state = ext2fs_le16_to_cpu(sb.s_state);
	if (info->fs_error)
		state |= EXT2_ERROR_FS;
	/* as daemon_recover_mark_super() */
	if (info->fs_not_valid || (*damaged && !info->fs_error))
		state &= (uint16_t)~EXT2_VALID_FS;
	sb.s_state = ext2fs_cpu_to_le16(state);
	lc_state_warnings(opts, &sb);
	return 0;
}

/* ---- open / close -------------------------------------------------------- */

static int lc_open_fs(struct daemon_fs *dfs)
{
	struct daemon_opts *opts = &dfs->opts;
	struct journal_io_config jcfg = { .offset = opts->offset };
	char name[JOURNAL_IO_NAME_MAX];
	int flags = EXT2_FLAG_64BITS;
	errcode_t err;

	if (!opts->readonly)
		flags |= EXT2_FLAG_RW;
	/* all metadata I/O through the data engine (bdev carries the offset) */
	if (journal_io_register(dfs->efs.bdev, &jcfg, name, sizeof(name)))
		return DAEMON_EXIT_INTERNAL;
	err = ext2fs_open2(name, NULL, flags, 0, 0, journal_io_manager(),
			   &dfs->efs.fs);
	journal_io_unregister(name);	/* the channel holds its own ref */
	if (err) {
		fprintf(stderr, "uext4: %s: cannot open file system: %s\n",
			opts->image, error_message(err));
		dfs->efs.fs = NULL;
		return DAEMON_EXIT_REFUSED;
	}
	if (!opts->readonly) {
		err = ext2fs_read_bitmaps(dfs->efs.fs);
		if (err) {
			fprintf(stderr, "uext4: %s: cannot read bitmaps: %s\n",
				opts->image, error_message(err));
			ext2fs_close_free(&dfs->efs.fs);
			return DAEMON_EXIT_REFUSED;
		}
	}
	return 0;
}

/*
 * The superblock's free counts from the group descriptors, as the kernel
 * computes them at mount (ext4_count_free_clusters(), and the inode
 * counter): after a crash the superblock's copy is stale (the kernel
 * only writes it at unmount), the group descriptors are journaled.
 */
static void lc_sync_free_counts(ext2_filsys fs)
{
	blk64_t free_clusters = 0;
	uint64_t free_inodes = 0;

	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		free_clusters += ext2fs_bg_free_blocks_count(fs, g);
		free_inodes += ext2fs_bg_free_inodes_count(fs, g);
	}
	if (free_inodes > fs->super->s_inodes_count)
		return;		/* damaged descriptors: leave it to e2fsck */
	ext2fs_free_blocks_count_set(fs->super,
				     EXT2FS_C2B(fs, free_clusters));
	fs->super->s_free_inodes_count = (uint32_t)free_inodes;
}

/* Superblock at mount (rw only): in use, one more mount. meta_lock held. */
static int lc_mark_mounted(struct daemon_fs *dfs, bool *was_valid)
{
	struct ext2_super_block *sb = dfs->efs.fs->super;
	struct timespec now;
	const char *mnt = dfs->opts.mountpoint;
	char *abs = realpath(mnt, NULL);
	errcode_t err;

	lc_sync_free_counts(dfs->efs.fs);
	daemon_now(&now);
	*was_valid = sb->s_state & EXT2_VALID_FS;
	sb->s_state &= ~EXT2_VALID_FS;
	sb->s_mnt_count++;
	sb->s_mtime = (uint32_t)now.tv_sec;
	sb->s_mtime_hi = (uint8_t)((uint64_t)now.tv_sec >> 32);
	memset(sb->s_last_mounted, 0, sizeof(sb->s_last_mounted));
	strncpy((char *)sb->s_last_mounted, abs ? abs : mnt,
		sizeof(sb->s_last_mounted) - 1);
	free(abs);
	ext2fs_mark_super_dirty(dfs->efs.fs);
	/* like the kernel at mount: the primary superblock only */
	dfs->efs.fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
	err = ext2fs_flush2(dfs->efs.fs, 0);
	dfs->efs.fs->flags &= ~EXT2_FLAG_MASTER_SB_ONLY;
	if (err) {
		fprintf(stderr, "uext4: %s: cannot write the superblock: %s\n",
			dfs->opts.image, error_message(err));
		return DAEMON_EXIT_INTERNAL;
	}
	return 0;
}

/* Superblock at unmount and close. Return: exit status. */
static int lc_close_fs(struct daemon_fs *dfs, bool was_valid)
{
	ext2_filsys fs = dfs->efs.fs;
	struct timespec now;
	errcode_t err;
	int status = DAEMON_EXIT_OK;

	extent_meta_lock(&dfs->efs);
	if (fs->flags & EXT2_FLAG_RW) {
		daemon_now(&now);
		if (was_valid && !(fs->super->s_state & EXT2_ERROR_FS))
			fs->super->s_state |= EXT2_VALID_FS;
		fs->super->s_wtime = (uint32_t)now.tv_sec;
		fs->super->s_wtime_hi = (uint8_t)((uint64_t)now.tv_sec >> 32);
		ext2fs_mark_super_dirty(fs);
	} else {
		/*
		 * Read-only mount: errors found in damaged objects were
		 * recorded in the in-memory superblock only (the image must
		 * stay untouched); do not let close try to write them.
		 */
		fs->flags &= ~(EXT2_FLAG_DIRTY | EXT2_FLAG_IB_DIRTY |
			       EXT2_FLAG_BB_DIRTY);
	}
	err = ext2fs_close2(fs, 0);
	if (err) {
		fprintf(stderr, "uext4: %s: writing metadata at unmount failed: %s\n",
			dfs->opts.image, error_message(err));
		ext2fs_free(fs);
		status = DAEMON_EXIT_INTERNAL;
	}
	dfs->efs.fs = NULL;
	extent_meta_unlock(&dfs->efs);
	return status;
}

/* ---- FUSE session --------------------------------------------------------- */

/* Append @s to @buf escaping ',' and '\' for libfuse's option parser. */
static void append_escaped(char *buf, size_t len, const char *s)
{
	size_t used = strlen(buf);

	for (; *s && used + 2 < len; s++) {
		if (*s == ',' || *s == '\\')
			buf[used++] = '\\';
		buf[used++] = *s;
	}
	buf[used] = '\0';
}

static struct fuse_session *lc_session_new(struct daemon_fs *dfs)
{
	struct daemon_opts *opts = &dfs->opts;
	size_t len = 256 + 2 * strlen(opts->fsname) +
		     (opts->fuse_opts ? strlen(opts->fuse_opts) : 0);
	char *o = calloc(1, len);
	char *argv[4] = { (char *)"uext4", (char *)"-o", o, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se;

	if (!o)
		return NULL;
	strcpy(o, "fsname=");
	append_escaped(o, len, opts->fsname);
	strcat(o, ",subtype=uext4");
	if (opts->default_permissions)
		strcat(o, ",default_permissions");
	if (opts->allow_other)
		strcat(o, ",allow_other");
	if (opts->readonly)
		strcat(o, ",ro");
	if (opts->debug)
		strcat(o, ",debug");
	if (opts->fuse_opts) {
		strcat(o, ",");
		strcat(o, opts->fuse_opts);
	}
	se = fuse_session_new(&args, daemon_lowlevel_ops(),
			      sizeof(struct fuse_lowlevel_ops), dfs);
	fuse_opt_free_args(&args);
	free(o);
	return se;
}

void daemon_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct daemon_fs *dfs = userdata;
	/* file.c truncates in open() for O_TRUNC: ATOMIC_O_TRUNC is relied on */
	unsigned int want = FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
			    FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
			    FUSE_CAP_EXPORT_SUPPORT | FUSE_CAP_ATOMIC_O_TRUNC;

	if (dfs->opts.default_permissions)
		want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	if (dfs->opts.writeback_cache)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	conn->want |= want & conn->capable;
	/* the kernel sends the setattr that clears suid/sgid */
	conn->want &= ~(unsigned int)FUSE_CAP_HANDLE_KILLPRIV;
	/* we do not ask for it; libfuse turns it on when it can */
	if (!dfs->opts.writeback_cache)
		conn->want &= ~(unsigned int)FUSE_CAP_WRITEBACK_CACHE;
	dfs->writeback_cache = conn->want & FUSE_CAP_WRITEBACK_CACHE;
	dfs->keep_cache = dfs->opts.kernel_cache;
	conn->max_write = LC_MAX_WRITE;
	conn->max_readahead = LC_MAX_READAHEAD;
	/* background requests (readahead, async reads) served in parallel */
	conn->max_background = LC_MAX_BACKGROUND;
	conn->congestion_threshold = LC_MAX_BACKGROUND * 3 / 4;
	conn->time_gran = 1;
	if (dfs->opts.debug)
		fprintf(stderr, "uext4: init: capable 0x%x want 0x%x\n",
			conn->capable, conn->want);
}

void daemon_op_destroy(void *userdata)
{
	struct daemon_fs *dfs = userdata;

	/* unmount work runs in daemon_run() once the loop has ended */
	if (dfs->opts.debug)
		fprintf(stderr, "uext4: destroy\n");
}

/* ---- the whole mount ------------------------------------------------------ */

static void lc_signal_ready(int *ready_fd, bool detach)
{
	int fd;
	char c = 0;

	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, &c, 1) != 1)
		perror("uext4: ready pipe");
	close(*ready_fd);
	*ready_fd = -1;
	if (!detach)
		return;
	if (chdir("/") < 0)
		perror("uext4: chdir /");
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

static int lc_serve(struct daemon_fs *dfs, int *ready_fd)
{
	struct fuse_loop_config *cfg;
	sigset_t sigs;
	int ret, status = DAEMON_EXIT_OK;

	dfs->se = lc_session_new(dfs);
	if (!dfs->se) {
		fprintf(stderr, "uext4: cannot create the FUSE session\n");
		return DAEMON_EXIT_MOUNT;
	}
	if (fuse_set_signal_handlers(dfs->se) != 0) {
		status = DAEMON_EXIT_INTERNAL;
		goto out_destroy;
	}
	if (fuse_session_mount(dfs->se, dfs->opts.mountpoint) != 0) {
		fprintf(stderr, "uext4: cannot mount on %s\n",
			dfs->opts.mountpoint);
		status = DAEMON_EXIT_MOUNT;
		goto out_remove_handlers;
	}
	lc_signal_ready(ready_fd, !dfs->opts.foreground);

	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		status = DAEMON_EXIT_INTERNAL;
		goto out_unmount;
	}
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_idle_threads(cfg, LC_IDLE_THREADS);
	/* signals were blocked so that helper threads never take them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	ret = fuse_session_loop_mt(dfs->se, cfg);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	fuse_loop_cfg_destroy(cfg);
	if (ret < 0)
		fprintf(stderr, "uext4: session loop: %s\n", strerror(-ret));
out_unmount:
	fuse_session_unmount(dfs->se);
out_remove_handlers:
	fuse_remove_signal_handlers(dfs->se);
out_destroy:
	fuse_session_destroy(dfs->se);
	dfs->se = NULL;
	return status;
}

static int lc_resolve_names(struct daemon_opts *opts)
{
	char *abs;

	abs = realpath(opts->image, NULL);
	if (abs) {
		free(opts->image);
		opts->image = abs;
	}
	/* the daemon moves to / and may unmount through fusermount3 later */
	abs = realpath(opts->mountpoint, NULL);
	if (abs) {
		free(opts->mountpoint);
		opts->mountpoint = abs;
	}
	if (!opts->fsname) {
		opts->fsname = strdup(opts->image);
		if (!opts->fsname)
			return DAEMON_EXIT_INTERNAL;
	}
	return 0;
}

int daemon_run(struct daemon_opts *opts, int ready_fd)
{
	struct daemon_fs *dfs;
	struct cache_config ccfg = {
		.folio_size = LC_FOLIO_SIZE,
		.dirty_background_pct = 10,
		.dirty_limit_pct = 40,
		.expire_ms = 5000,
		.ops = extent_cache_ops(),
	};
	bool was_valid = false, replay = false, damaged = false;
	struct journal_recovery_info rinfo;
	sigset_t sigs;
	int status, ret, errors, claim_fd;

	/* Helper threads (cache flusher, I/O) must not take these. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* error_message() names for EXT2_ET_* codes in mount-time messages */
	initialize_ext2_error_table();
	status = lc_resolve_names(opts);
	if (!status)
		status = lc_check_image(opts);
	if (status)
		return status;
	claim_fd = lc_claim_image(opts);
	if (claim_fd < 0)
		return -claim_fd;
	status = lc_check_super(opts, &replay);
	if (status) {
		close(claim_fd);
		return status;
	}
	if (opts->readonly)	/* forced read-only: let other readers in */
		flock(claim_fd, LOCK_SH | LOCK_NB);

	dfs = calloc(1, sizeof(*dfs));
	if (!dfs) {
		close(claim_fd);
		return DAEMON_EXIT_INTERNAL;
	}
	dfs->opts = *opts;	/* strings stay owned by the caller's opts */
	dfs->entry_timeout = LC_TIMEOUT;
	dfs->attr_timeout = LC_TIMEOUT;
	pthread_mutex_init(&dfs->itable_lock, NULL);
	pthread_cond_init(&dfs->itable_cond, NULL);

	ret = cache_bdev_open(opts->image, opts->offset, opts->readonly,
			      &dfs->efs.bdev);
	if (ret) {
		fprintf(stderr, "uext4: %s: cannot open for data I/O: %s\n",
			opts->image, strerror(-ret));
		status = DAEMON_EXIT_IMAGE;
		goto out_free;
	}
	if (daemon_fault_inject_setup(dfs->efs.bdev)) {
		status = DAEMON_EXIT_USAGE;
		goto out_close_bdev;
	}
	if (replay && opts->readonly) {
		status = lc_replay_in_memory(dfs, &rinfo, &damaged);
		if (status)
			goto out_close_bdev;
	} else if (replay) {
		status = daemon_recover(dfs);
		if (!status)
			status = lc_check_replayed(&dfs->opts);
		if (status)
			goto out_close_bdev;
		opts->readonly = dfs->opts.readonly;
	}
	status = lc_open_fs(dfs);
	if (status)
		goto out_close_bdev;
	if (dfs->overlay)	/* as the replay would leave it; memory only */
		daemon_recover_mark_super(dfs->efs.fs->super, &rinfo, damaged);
	errors = opts->errors ? opts->errors : dfs->efs.fs->super->s_errors;
	if (errors < EXTENT_ERRORS_CONTINUE || errors > EXTENT_ERRORS_PANIC)
		errors = EXTENT_ERRORS_CONTINUE;

	ccfg.budget_bytes = opts->cache_size;
	ret = cache_create(&ccfg, &dfs->efs.cache);
	if (ret) {
		fprintf(stderr, "uext4: cannot create the cache: %s\n",
			strerror(-ret));
		status = DAEMON_EXIT_INTERNAL;
		goto out_close_fs;
	}
	ret = extent_fs_init(&dfs->efs, dfs->efs.fs, dfs->efs.cache,
			     dfs->efs.bdev, opts->readonly, errors);
	if (ret) {
		fprintf(stderr, "uext4: %s: %s\n", opts->image, strerror(-ret));
		status = DAEMON_EXIT_INTERNAL;
		goto out_destroy_cache;
	}
	if (!opts->readonly) {
		extent_meta_lock(&dfs->efs);
		/* as ext4_orphan_cleanup(): failures are reported, not fatal */
		daemon_orphan_cleanup(dfs);
		status = lc_mark_mounted(dfs, &was_valid);
		extent_meta_unlock(&dfs->efs);
		if (status)
			goto out_fini;
	}

	status = lc_serve(dfs, &ready_fd);

	ret = daemon_itable_sync_all(dfs);
	if (ret)
		fprintf(stderr, "uext4: writeback at unmount failed: %s\n",
			strerror(-ret));
	daemon_itable_evict_all(dfs);
	if (ret)
		was_valid = false;	/* data may be missing: ask for fsck */
	if (cache_bdev_flush(dfs->efs.bdev) < 0)
		fprintf(stderr, "uext4: flushing the image failed\n");
	ret = lc_close_fs(dfs, was_valid);
	if (!status)
		status = ret;
	extent_fs_fini(&dfs->efs);
	cache_destroy(dfs->efs.cache);
	cache_bdev_close(dfs->efs.bdev);
	goto out_free;

out_fini:
	extent_fs_fini(&dfs->efs);
out_destroy_cache:
	cache_destroy(dfs->efs.cache);
out_close_fs:
	ext2fs_close_free(&dfs->efs.fs);
out_close_bdev:
	cache_bdev_close(dfs->efs.bdev);
out_free:
	/* the engine is closed: nothing reads through the overlay any more */
	journal_overlay_free(dfs->overlay);
	pthread_cond_destroy(&dfs->itable_cond);
	pthread_mutex_destroy(&dfs->itable_lock);
	free(dfs);
	close(claim_fd);	/* everything is on disk: let others in */
	return status;
}
