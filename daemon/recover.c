/* SPDX-License-Identifier: MIT */
/*
 * daemon/recover.c — journal replay at mount, for an image whose
 * superblock says needs_recovery (a crash of the kernel, of debugfs or of
 * uext4 left committed transactions in the log):
 *
 *	ext2fs_open2 (read-only) ─▶ journal_map_inode ─▶ ext2fs_close
 *	─▶ journal_open ─▶ journal_recover ─▶ journal_close
 *	─▶ ext2fs_open2 (read-write) ─▶ clear needs_recovery, record
 *	   errors / not valid ─▶ primary superblock written ─▶ close
 *
 * It runs before anything else writes to the image, and before the mount
 * opens the file system for good, so that every later read sees the
 * replayed blocks. Its libext2fs handles are its own and no other thread
 * exists yet (no cache flusher, no FUSE session), which is why these
 * calls run without the metadata lock that extent_fs_init() sets up
 * later. The superblock ends as `e2fsck -E journal_only` leaves
 * it: needs_recovery clear, EXT2_ERROR_FS when the log recorded an error
 * or a commit failed its checksum, EXT2_VALID_FS clear when the replay met
 * damage (so that the mount does not set it again at unmount, and the
 * next e2fsck checks everything). A damaged log refuses the mount after
 * that update: e2fsck would go on with a full check, which we cannot do.
 *
 * A read-only mount replays into memory instead (daemon_recover_to_memory):
 *
 *	ext2fs_open2 (read-only) ─▶ journal_map_inode ─▶ ext2fs_close
 *	─▶ journal_open (read-only) ─▶ journal_recover_to_memory
 *	─▶ journal_close ─▶ overlay installed on the engine
 *
 * Nothing is written; every later read of the engine (libext2fs through
 * journal/'s io_manager, file data through cache/) sees the replayed
 * blocks, as if the replay had been written. The image still needs
 * recovery afterwards. A damaged log is replayed as far as it goes and
 * the mount goes on read-only, with a warning that e2fsck -f is needed.
 *
 * What it does not do: replay an external journal or a fast-commit area
 * (refused with a message, image untouched), check the file system after
 * a damaged log (a read-write mount is refused, e2fsck -f is needed), or
 * decide whether a replay is wanted and of which kind (lifecycle.c: never
 * with norecovery).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "journal.h"

/* Open the file system on dfs->efs.bdev through our io_manager. */
static errcode_t recover_open_fs(struct daemon_fs *dfs, int flags,
				 ext2_filsys *fs)
{
	struct journal_io_config jcfg = { .offset = dfs->opts.offset };
	char name[JOURNAL_IO_NAME_MAX];
	errcode_t err;

	if (journal_io_register(dfs->efs.bdev, &jcfg, name, sizeof(name)))
		return EXT2_ET_NO_MEMORY;
	err = ext2fs_open2(name, NULL, flags | EXT2_FLAG_64BITS, 0, 0,
			   journal_io_manager(), fs);
	journal_io_unregister(name);	/* the channel holds its own ref */
	if (err)
		*fs = NULL;
	return err;
}

/*
 * Where the log lives: the blocks of the journal inode, read through a
 * read-only open that is closed again before the replay writes anything.
 * Return: 0 or an exit status (message printed).
 */
static int recover_map(struct daemon_fs *dfs, uint64_t **map,
		       uint64_t *nr_blocks, unsigned int *blocksize)
{
	const char *image = dfs->opts.image;
	ext2_filsys fs;
	errcode_t err;
	int ret;

	err = recover_open_fs(dfs, 0, &fs);
	if (err) {
		fprintf(stderr, "uext4: %s: cannot open file system: %s\n",
			image, error_message(err));
		return DAEMON_EXIT_REFUSED;
	}
	*blocksize = fs->blocksize;
	ret = journal_map_inode(fs, map, nr_blocks);
	ext2fs_close_free(&fs);
	switch (ret) {
	case 0:
		return 0;
	case -ENOENT:
		fprintf(stderr,
			"uext4: %s: needs_recovery is set but there is no journal; run e2fsck -f\n",
			image);
		return DAEMON_EXIT_REFUSED;
	case -EOPNOTSUPP:
		fprintf(stderr,
			"uext4: %s: the journal is on an external device, which uext4 cannot replay;\n"
			"uext4: replay it with e2fsck (or a kernel mount) first\n",
			image);
		return DAEMON_EXIT_REFUSED;
	case -EUCLEAN:
		fprintf(stderr,
			"uext4: %s: the journal inode is damaged; cannot replay the journal, run e2fsck -f\n",
			image);
		return DAEMON_EXIT_REFUSED;
	default:
		fprintf(stderr, "uext4: %s: cannot map the journal: %s\n",
			image, strerror(-ret));
		return DAEMON_EXIT_INTERNAL;
	}
}

/* Why journal_open() failed, as an exit status (message printed). */
static int recover_open_failed(const char *image, int ret)
{
	switch (ret) {
	case -EUCLEAN:
		fprintf(stderr,
			"uext4: %s: the journal superblock is damaged; cannot replay the journal, run e2fsck -f\n",
			image);
		return DAEMON_EXIT_REFUSED;
	case -EOPNOTSUPP:
		fprintf(stderr,
			"uext4: %s: the journal uses features uext4 cannot replay; replay it with e2fsck (or a kernel mount) first\n",
			image);
		return DAEMON_EXIT_REFUSED;
	default:
		fprintf(stderr, "uext4: %s: cannot open the journal: %s\n",
			image, strerror(-ret));
		return DAEMON_EXIT_INTERNAL;
	}
}

void daemon_recover_mark_super(struct ext2_super_block *sb,
			       const struct journal_recovery_info *info,
			       bool damaged)
{
	ext2fs_clear_feature_journal_needs_recovery(sb);
	if (info->fs_error)
		sb->s_state |= EXT2_ERROR_FS;
	/*
	 * A damaged log that left neither mark (journal/ sets them as
	 * e2fsck would) still asks for a full check.
	 */
	if (info->fs_not_valid ||
	    (damaged && !info->fs_error && !info->fs_not_valid))
		sb->s_state &= ~EXT2_VALID_FS;
}

/*
 * The log is replayed (or was damaged and replayed as far as it could
 * be): the superblock no longer needs recovery. Written as e2fsck does
 * (e2fsck_clear_recover()): the primary superblock only.
 * Return: 0 or DAEMON_EXIT_INTERNAL (message printed).
 */
static int recover_update_super(struct daemon_fs *dfs,
				const struct journal_recovery_info *info,
				bool damaged)
{
	const char *image = dfs->opts.image;
	ext2_filsys fs;
	errcode_t err;

	err = recover_open_fs(dfs, EXT2_FLAG_RW, &fs);
	if (err) {
		fprintf(stderr,
			"uext4: %s: cannot open the replayed file system: %s\n",
			image, error_message(err));
		return DAEMON_EXIT_INTERNAL;
	}
	daemon_recover_mark_super(fs->super, info, damaged);
	ext2fs_mark_super_dirty(fs);
	fs->flags |= EXT2_FLAG_SUPER_ONLY | EXT2_FLAG_MASTER_SB_ONLY;
	err = ext2fs_close2(fs, 0);
	if (err) {
		fprintf(stderr,
			"uext4: %s: cannot write the superblock after the replay: %s\n",
			image, error_message(err));
		ext2fs_free(fs);
		return DAEMON_EXIT_INTERNAL;
	}
	return 0;
}

static void recover_report(const char *image,
			   const struct journal_recovery_info *info,
			   bool complete, bool in_memory)
{
	const char *what = complete ? "recovery complete" :
				      "recovery stopped at damage";
	const char *where = in_memory ? " (in memory, image not written)" : "";

	if (info->end_tid != info->start_tid)
		fprintf(stderr,
			"uext4: %s: %s%s: replayed %llu blocks of transactions %u-%u\n",
			image, what, where,
			(unsigned long long)info->nr_replayed,
			info->start_tid, info->end_tid - 1);
	else if (in_memory)
		fprintf(stderr,
			"uext4: %s: %s%s: no committed transaction to replay\n",
			image, what, where);
	if (info->failed_commit)
		fprintf(stderr,
			"uext4: %s: transaction %u failed its commit checksum: not replayed, nor any after it\n",
			image, info->failed_commit);
	if (info->journal_errno)
		fprintf(stderr,
			"uext4: %s: the journal recorded error %d (%s); file system %s\n",
			image, info->journal_errno,
			in_memory ? "has errors, running e2fsck is recommended" :
				    "marked with errors",
			strerror(info->journal_errno < 0 ? -info->journal_errno :
				 info->journal_errno));
}

/* Map and open the journal. Return: 0 or an exit status (message printed). */
static int recover_open_journal(struct daemon_fs *dfs, bool readonly,
				struct journal **j)
{
	struct journal_geometry geo = { .bdev = dfs->efs.bdev };
	uint64_t *map = NULL;
	int ret, status;

	status = recover_map(dfs, &map, &geo.nr_blocks, &geo.blocksize);
	if (status)
		return status;
	geo.map = map;
	ret = journal_open(&geo, readonly, j);
	free(map);		/* journal_open() keeps its own copy */
	if (ret)
		return recover_open_failed(dfs->opts.image, ret);
	return 0;
}

int daemon_recover(struct daemon_fs *dfs)
{
	const char *image = dfs->opts.image;
	struct journal_recovery_info info;
	struct journal *j;
	int ret, status;

	status = recover_open_journal(dfs, false, &j);
	if (status)
		return status;

	memset(&info, 0, sizeof(info));
	ret = journal_recover(j, &info);
	journal_close(j);
	switch (ret) {
	case 0:
		break;
	case -EUCLEAN:
		/* replayed what could be, log reset: as e2fsck, then refuse */
		recover_report(image, &info, false, false);
		status = recover_update_super(dfs, &info, true);
		if (status)
			return status;
		fprintf(stderr,
			"uext4: %s: the journal was damaged; what it held was replayed as far as possible,\n"
			"uext4: but the file system must be checked: run e2fsck -f on it before mounting\n",
			image);
		return DAEMON_EXIT_REFUSED;
	case -EOPNOTSUPP:
		fprintf(stderr,
			"uext4: %s: the journal needs fast-commit replay, which uext4 does not do;\n"
			"uext4: replay it with e2fsck (or a kernel mount) first\n",
			image);
		return DAEMON_EXIT_REFUSED;
	case -EIO:
		fprintf(stderr,
			"uext4: %s: I/O error while replaying the journal; nothing was mounted\n",
			image);
		return DAEMON_EXIT_INTERNAL;
	default:
		fprintf(stderr, "uext4: %s: journal replay failed: %s\n",
			image, strerror(-ret));
		return DAEMON_EXIT_INTERNAL;
	}
	status = recover_update_super(dfs, &info, false);
	if (status)
		return status;
	recover_report(image, &info, true, false);
	return 0;
}

int daemon_recover_to_memory(struct daemon_fs *dfs,
			     struct journal_recovery_info *info,
			     bool *damaged)
{
	const char *image = dfs->opts.image;
	struct journal_overlay *ov = NULL;
	struct journal *j;
	int ret, status;

	*damaged = false;
	memset(info, 0, sizeof(*info));
	status = recover_open_journal(dfs, true, &j);
	if (status)
		return status;
	ret = journal_recover_to_memory(j, info, &ov);
	journal_close(j);
	switch (ret) {
	case 0:
		break;
	case -EUCLEAN:
		/* what could be replayed is in @ov: mount that, and warn */
		*damaged = true;
		break;
	case -EOPNOTSUPP:
		fprintf(stderr,
			"uext4: %s: the journal needs fast-commit replay, which uext4 does not do;\n"
			"uext4: replay it with e2fsck (or a kernel mount) first, or add -o norecovery to mount read-only without replaying (recent changes will be missing)\n",
			image);
		return DAEMON_EXIT_REFUSED;
	case -EIO:
		fprintf(stderr,
			"uext4: %s: I/O error while replaying the journal in memory; nothing was mounted\n",
			image);
		return DAEMON_EXIT_INTERNAL;
	default:
		fprintf(stderr, "uext4: %s: journal replay in memory failed: %s\n",
			image, strerror(-ret));
		return DAEMON_EXIT_INTERNAL;
	}
	/* before anything reads the file system for the mount */
	dfs->overlay = ov;
	cache_bdev_set_read_overlay(dfs->efs.bdev, journal_overlay_bdev_read, ov);
	recover_report(image, info, !*damaged, true);
	if (*damaged)
		fprintf(stderr,
			"uext4: %s: warning: the journal is damaged; mounting read-only with what it held replayed in memory as far as possible;\n"
			"uext4: the file system must be checked: run e2fsck -f on it\n",
			image);
	return 0;
}
