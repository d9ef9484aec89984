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
 * replayed blocks. The superblock ends as `e2fsck -E journal_only` leaves
 * it: needs_recovery clear, EXT2_ERROR_FS when the log recorded an error
 * or a commit failed its checksum, EXT2_VALID_FS clear when the replay met
 * damage (so that the mount does not set it again at unmount, and the
 * next e2fsck checks everything). A damaged log refuses the mount after
 * that update: e2fsck would go on with a full check, which we cannot do.
 *
 * What it does not do: replay an external journal or a fast-commit area
 * (refused with a message, image untouched), check the file system after
 * a damaged log (refused, e2fsck -f is needed), or decide whether a
 * replay is wanted (lifecycle.c: read-write mounts only, never with
 * norecovery).
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
	ext2fs_clear_feature_journal_needs_recovery(fs->super);
	if (info->fs_error)
		fs->super->s_state |= EXT2_ERROR_FS;
	/*
	 * A damaged log that left neither mark (journal/ sets them as
	 * e2fsck would) still asks for a full check.
	 */
	if (info->fs_not_valid ||
	    (damaged && !info->fs_error && !info->fs_not_valid))
		fs->super->s_state &= ~EXT2_VALID_FS;
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
			   bool complete)
{
	if (info->end_tid != info->start_tid)
		fprintf(stderr,
			"uext4: %s: %s: replayed %llu blocks of transactions %u-%u\n",
			image, complete ? "recovery complete" :
			"recovery stopped at damage",
			(unsigned long long)info->nr_replayed,
			info->start_tid, info->end_tid - 1);
	if (info->failed_commit)
		fprintf(stderr,
			"uext4: %s: transaction %u failed its commit checksum: not replayed, nor any after it\n",
			image, info->failed_commit);
	if (info->journal_errno)
		fprintf(stderr,
			"uext4: %s: the journal recorded error %d (%s); file system marked with errors\n",
			image, info->journal_errno,
			strerror(info->journal_errno < 0 ? -info->journal_errno :
				 info->journal_errno));
}

int daemon_recover(struct daemon_fs *dfs)
{
	const char *image = dfs->opts.image;
	struct journal_recovery_info info;
	struct journal_geometry geo = { .bdev = dfs->efs.bdev };
	struct journal *j;
	uint64_t *map = NULL;
	int ret, status;

	status = recover_map(dfs, &map, &geo.nr_blocks, &geo.blocksize);
	if (status)
		return status;
	geo.map = map;
	ret = journal_open(&geo, false, &j);
	free(map);		/* journal_open() keeps its own copy */
	if (ret)
		return recover_open_failed(image, ret);

	memset(&info, 0, sizeof(info));
	ret = journal_recover(j, &info);
	journal_close(j);
	switch (ret) {
	case 0:
		break;
	case -EUCLEAN:
		/* replayed what could be, log reset: as e2fsck, then refuse */
		recover_report(image, &info, false);
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
	recover_report(image, &info, true);
	return 0;
}
