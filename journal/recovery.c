// SPDX-License-Identifier: MIT
/*
 * journal/recovery.c — journal replay at mount, block for block what
 * e2fsck 1.47.0 (e2fsck/recovery.c, the kernel's fs/jbd2/recovery.c of
 * that time, and e2fsck/journal.c around it) writes.
 *
 * Three passes walk the log from s_start, transaction by transaction:
 *
 *   SCAN    find the end of the log: the first block that is not the
 *           next expected descriptor, revoke or commit block of the
 *           current transaction, or a commit failing its checksum.
 *   REVOKE  build the revoke table: block → newest revoking transaction.
 *   REPLAY  write every logged block home, unless revoked by the same or
 *           a later transaction or failing its tag checksum.
 *
 * Log reads go through recovery_log.c: the log cache and readahead
 * window, holding what e2fsck would read at that moment.
 *
 * REPLAY hands each block to a sink (struct recovery_sink_ops): the
 * device sink batches home writes (journal_recover()), the memory sink
 * fills a struct journal_overlay (journal_recover_to_memory(), overlay.c)
 * and writes nothing. The passes are the same code for both.
 *
 * After a device replay the journal superblock is reset the way e2fsck
 * leaves it. What happens to the ext4 superblock (needs_recovery,
 * EXT2_ERROR_FS, the valid flag) is the caller's, through struct
 * journal_recovery_info.
 *
 * Where the kernel's code has quirks (a failed commit "breaks" out of the
 * switch only, so the walk goes on with the same transaction; tid 0 means
 * "end not known yet") they are kept on purpose: the integration tests
 * compare our result with e2fsck's byte for byte.
 *
 * Fast commits: a FAST_COMMIT journal is replayed only when the
 * fast-commit area holds nothing the kernel or e2fsck would replay for
 * the transaction after the last full commit (fc_area_check()); else
 * -EOPNOTSUPP, nothing written.
 *
 * Not here: fast-commit replay, external journals.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "recovery_batch.h"
#include "recovery_log.h"

enum recovery_pass { PASS_SCAN, PASS_REVOKE, PASS_REPLAY };

/* tid comparisons modulo 2^32, as the kernel's tid_gt()/tid_geq(). */
static bool tid_gt(uint32_t x, uint32_t y)
{
	return (int32_t)(x - y) > 0;
}

static bool tid_geq(uint32_t x, uint32_t y)
{
	return (int32_t)(x - y) >= 0;
}

/* ---- revoke table: open addressing, block → newest revoking tid ---------- */

struct revoke_slot {
	uint64_t blocknr;
	uint32_t tid;
	bool used;
};

struct revoke_table {
	struct revoke_slot *slots;
	size_t mask;		/* capacity - 1, capacity a power of two */
	size_t nr;
};

static size_t revoke_hash(uint64_t blocknr)
{
	return (size_t)((blocknr * 0x9E3779B97F4A7C15ull) >> 20);
}

static struct revoke_slot *revoke_find(const struct revoke_table *t,
				       uint64_t blocknr)
{
	size_t i;

	if (!t->slots)
		return NULL;
	for (i = revoke_hash(blocknr) & t->mask; t->slots[i].used;
	     i = (i + 1) & t->mask)
		if (t->slots[i].blocknr == blocknr)
			return &t->slots[i];
	return NULL;
}

static int revoke_grow(struct revoke_table *t)
{
	size_t cap = t->slots ? (t->mask + 1) * 2 : 1024;
	struct revoke_slot *old = t->slots;
	size_t old_cap = old ? t->mask + 1 : 0;

	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->mask = cap - 1;
	for (size_t k = 0; k < old_cap; k++) {
		size_t i;

		if (!old[k].used)
			continue;
		for (i = revoke_hash(old[k].blocknr) & t->mask;
		     t->slots[i].used; i = (i + 1) & t->mask)
			;
		t->slots[i] = old[k];
	}
	free(old);
	return 0;
}

/* The kernel's jbd2_journal_set_revoke(): keep the newest tid per block. */
static int revoke_set(struct revoke_table *t, uint64_t blocknr, uint32_t tid)
{
	struct revoke_slot *s = revoke_find(t, blocknr);
	size_t i;

	if (s) {
		if (tid_gt(tid, s->tid))
			s->tid = tid;
		return 0;
	}
	if (!t->slots || (t->nr + 1) * 2 > t->mask + 1) {
		int ret = revoke_grow(t);

		if (ret)
			return ret;
	}
	for (i = revoke_hash(blocknr) & t->mask; t->slots[i].used;
	     i = (i + 1) & t->mask)
		;
	t->slots[i] = (struct revoke_slot){ blocknr, tid, true };
	t->nr++;
	return 0;
}

/* jbd2_journal_test_revoke(): revoked by transaction @tid or a later one. */
static bool revoke_test(const struct revoke_table *t, uint64_t blocknr,
			uint32_t tid)
{
	const struct revoke_slot *s = revoke_find(t, blocknr);

	return s && !tid_gt(tid, s->tid);
}

/* ---- the replay state ---------------------------------------------------- */

struct recovery;

/**
 * struct recovery_sink_ops - where the REPLAY pass puts home blocks.
 * @slot:   required. Called for each block to replay (already checked to
 *          be inside the device): *@dst receives the buffer, blocksize
 *          bytes, that will hold home block @blocknr — the copy put
 *          earlier for the same block, or a new one; the caller then
 *          fills it whole. Return: 0, -EIO (a queued batch failed to go
 *          out, r->io_error set), -ENOMEM.
 * @lookup: required. The copy of device block @blocknr put so far that
 *          the device does not hold yet, or NULL. Log reads are patched
 *          with it, so that a log replaying onto its own blocks reads
 *          what e2fsck (which writes each block at once) reads.
 * @finish: required. Called once after the passes, also after a failed
 *          one: send what is still queued. Return: 0 or -EIO.
 */
struct recovery_sink_ops {
	int (*slot)(struct recovery *r, uint64_t blocknr, unsigned char **dst);
	const unsigned char *(*lookup)(const struct recovery *r,
				       uint64_t blocknr);
	int (*finish)(struct recovery *r);
};

/**
 * struct recovery - one journal_recover() call.
 * @log:  the log as read (recovery_log.c).
 * @sink: where replayed blocks go (device or memory sink below).
 * @hb:   device sink: the home writes (recovery_batch.c).
 * @ov:   memory sink: the table being filled.
 * @end: end_transaction of the SCAN pass; 0 = not known yet (kernel).
 * @io_error: a device write failed (@log.io_error: a read).
 * @bad_home: a tag named a block past the device end (never written).
 */
struct recovery {
	struct journal *j;
	struct journal_recovery_info *info;
	const struct recovery_sink_ops *sink;
	struct revoke_table revokes;
	struct journal_recovery_log log;
	struct journal_home_batch *hb;
	struct journal_overlay *ov;
	unsigned char *desc;
	struct journal_tag *tags;
	unsigned int max_tags;
	uint64_t *records;
	uint32_t end;
	bool io_error;
	bool bad_home;
};

/* ---- the device sink: batched home writes (recovery_batch.c) ------------ */

static int dev_slot(struct recovery *r, uint64_t blocknr, unsigned char **dst)
{
	int ret = journal_home_batch_slot(r->hb, blocknr, dst);

	if (ret)
		r->io_error = true;
	return ret;
}

static const unsigned char *dev_lookup(const struct recovery *r,
				       uint64_t blocknr)
{
	return journal_home_batch_lookup(r->hb, blocknr);
}

static int dev_finish(struct recovery *r)
{
	int ret = journal_home_batch_flush(r->hb);

	if (ret)
		r->io_error = true;
	return ret;
}

static const struct recovery_sink_ops recovery_dev_sink = {
	.slot = dev_slot,
	.lookup = dev_lookup,
	.finish = dev_finish,
};

/* ---- the memory sink: a journal_overlay ---------------------------------- */

static int mem_slot(struct recovery *r, uint64_t blocknr, unsigned char **dst)
{
	return journal_overlay_slot(r->ov, blocknr, dst);
}

static const unsigned char *mem_lookup(const struct recovery *r,
				       uint64_t blocknr)
{
	return journal_overlay_lookup(r->ov, blocknr);
}

static int mem_finish(struct recovery *r)
{
	(void)r;
	return 0;
}

static const struct recovery_sink_ops recovery_mem_sink = {
	.slot = mem_slot,
	.lookup = mem_lookup,
	.finish = mem_finish,
};

/*
 * Replay @data to home block @blocknr through the sink.
 * Return: 0; 1 when @blocknr is past the device (skipped); -EIO, -ENOMEM.
 */
static int out_add(struct recovery *r, uint64_t blocknr, const void *data,
		   bool escape)
{
	struct journal *j = r->j;
	struct cache_bio probe;
	unsigned char *dst;
	int ret;

	if (journal_home_bio(j, blocknr, NULL, true, &probe)) {
		/*
		 * e2fsck would try the write (and fail on a block device,
		 * or grow an image file); we never write past the device.
		 */
		fprintf(stderr,
			"uext4: journal: block %llu past the device end, "
			"not replayed\n", (unsigned long long)blocknr);
		r->bad_home = true;
		return 1;
	}
	ret = r->sink->slot(r, blocknr, &dst);
	if (ret)
		return ret;
	memcpy(dst, data, j->blocksize);
	if (escape) {
		/* The writer zeroed a leading magic number; put it back. */
		dst[0] = (unsigned char)(JOURNAL_MAGIC >> 24);
		dst[1] = (unsigned char)(JOURNAL_MAGIC >> 16);
		dst[2] = (unsigned char)(JOURNAL_MAGIC >> 8);
		dst[3] = (unsigned char)JOURNAL_MAGIC;
	}
	/* Keep the log read so far what the device will hold. */
	journal_recovery_log_update(&r->log, blocknr, dst);
	return 0;
}

/* ---- the passes ---------------------------------------------------------- */

/*
 * calc_chksums(): the v1 crc32_be of the descriptor @desc and the blocks
 * it describes, advancing @next_log over them.
 * Return: 0, or 1 when a block could not be read (the kernel's value).
 */
static int v1_chksums(struct recovery *r, const unsigned char *desc,
		      uint32_t *next_log, uint32_t *crc)
{
	struct journal *j = r->j;
	unsigned int n = journal_desc_parse(&j->fmt, desc, NULL, 0);

	*crc = journal_crc32_be(*crc, desc, j->blocksize);
	for (unsigned int i = 0; i < n; i++) {
		const unsigned char *blk;
		uint32_t io_block = (*next_log)++;

		*next_log = journal_wrap(j, *next_log);
		if (journal_recovery_log_read(&r->log, io_block, &blk))
			return 1;
		*crc = journal_crc32_be(*crc, blk, j->blocksize);
	}
	return 0;
}

/* REPLAY of one descriptor (already copied to r->desc) of @tid. */
static int replay_desc(struct recovery *r, uint32_t tid, uint32_t *next_log,
		       int *success, bool *block_error)
{
	struct journal *j = r->j;
	unsigned int n = journal_desc_parse(&j->fmt, r->desc, r->tags,
					    r->max_tags);
	int ret;

	for (unsigned int i = 0; i < n; i++) {
		const struct journal_tag *tag = &r->tags[i];
		const unsigned char *blk;
		uint32_t io_block = (*next_log)++;

		*next_log = journal_wrap(j, *next_log);
		ret = journal_recovery_log_read(&r->log, io_block, &blk);
		if (ret) {
			/* Recover what we can, report the failure at the end. */
			*success = ret;
			continue;
		}
		if (revoke_test(&r->revokes, tag->blocknr, tid)) {
			r->info->nr_revoke_hits++;
			continue;
		}
		if (!journal_tag_csum_verify(&j->fmt, tag, tid, blk)) {
			fprintf(stderr,
				"uext4: journal: bad checksum of block %llu "
				"in transaction %u, not replayed\n",
				(unsigned long long)tag->blocknr, tid);
			*success = -EUCLEAN;
			*block_error = true;
			continue;
		}
		ret = out_add(r, tag->blocknr, blk,
			      tag->flags & JOURNAL_TAG_ESCAPE);
		if (ret < 0)
			return ret;
		if (!ret)
			r->info->nr_replayed++;
	}
	return 0;
}

/* scan_revoke_records() */
static int revoke_records(struct recovery *r, const unsigned char *blk,
			  uint32_t tid)
{
	int n = journal_revoke_parse(&r->j->fmt, blk, r->records,
				     r->j->blocksize / 4);

	if (n < 0)
		return -EUCLEAN;	/* the kernel's -EINVAL: bad r_count */
	for (int i = 0; i < n; i++) {
		int ret = revoke_set(&r->revokes, r->records[i], tid);

		if (ret)
			return ret;
		r->info->nr_revokes++;
	}
	return 0;
}

/*
 * do_one_pass(). Return: 0, -EUCLEAN (the log is damaged: a checksum, a
 * revoke count, or passes ending at different places), -EIO, -ENOMEM.
 */
static int one_pass(struct recovery *r, enum recovery_pass pass)
{
	struct journal *j = r->j;
	const struct journal_fmt *fmt = &j->fmt;
	uint32_t next_tid = j->sb.sequence;
	uint32_t next_log = j->sb.start;
	bool need_check_commit_time = false, block_error = false;
	uint64_t last_commit_time = 0;
	uint32_t crc32_sum = ~0u;
	int success = 0, ret;

	if (pass == PASS_SCAN)
		r->info->start_tid = next_tid;

	for (;;) {
		const unsigned char *blk;
		uint32_t type, seq;

		if (pass != PASS_SCAN && tid_geq(next_tid, r->end))
			break;
		ret = journal_recovery_log_read(&r->log, next_log, &blk);
		if (ret)
			return ret;
		next_log = journal_wrap(j, next_log + 1);
		if (!journal_header_decode(blk, &type, &seq) || seq != next_tid)
			break;

		if (type == JOURNAL_BT_DESCRIPTOR) {
			memcpy(r->desc, blk, j->blocksize);
			if (!journal_block_tail_csum_verify(fmt, r->desc)) {
				/*
				 * SCAN may meet stale blocks of an older log
				 * (lazy journal init): the commit time decides.
				 */
				if (pass != PASS_SCAN)
					return -EUCLEAN;
				need_check_commit_time = true;
			}
			if (pass == PASS_REPLAY) {
				ret = replay_desc(r, next_tid, &next_log,
						  &success, &block_error);
				if (ret)
					return ret;
				continue;
			}
			if (pass == PASS_SCAN && fmt->csum_v1 &&
			    !need_check_commit_time && !r->end) {
				/* A read error ends this block only. */
				v1_chksums(r, r->desc, &next_log, &crc32_sum);
				continue;
			}
			next_log += journal_desc_parse(fmt, r->desc, NULL, 0);
			next_log = journal_wrap(j, next_log);
			continue;
		}

		if (type == JOURNAL_BT_COMMIT) {
			struct journal_commit c;
			bool bad = false;

			journal_commit_decode(blk, &c);
			if (need_check_commit_time) {
				/* A newer commit: the bad block was ours. */
				if (c.sec >= last_commit_time) {
					fprintf(stderr, "uext4: journal: bad "
						"checksum in transaction %u\n",
						next_tid);
					return -EUCLEAN;
				}
				goto done;	/* stale: the log ends here */
			}
			if (pass == PASS_SCAN && fmt->csum_v1) {
				if (r->end) {
					r->info->failed_commit = r->end;
					continue;
				}
				if (!((crc32_sum == c.chksum0 &&
				       c.chksum_type == JOURNAL_CSUM_TYPE_CRC32 &&
				       c.chksum_size ==
					       JOURNAL_CRC32_CHKSUM_SIZE) ||
				      (c.chksum_type == 0 && c.chksum_size == 0 &&
				       c.chksum0 == 0)))
					bad = true;
				else
					crc32_sum = ~0u;
			}
			if (pass == PASS_SCAN && !bad &&
			    !journal_commit_csum_verify(fmt, blk))
				bad = true;
			if (bad) {
				if (c.sec < last_commit_time)
					goto done;
				r->end = next_tid;
				if (!(fmt->incompat &
				      JOURNAL_INCOMPAT_ASYNC_COMMIT)) {
					/* Same tid: the walk ends at the
					 * next block, as the kernel's. */
					r->info->failed_commit = next_tid;
					continue;
				}
			}
			if (pass == PASS_SCAN)
				last_commit_time = c.sec;
			next_tid++;
			continue;
		}

		if (type == JOURNAL_BT_REVOKE) {
			if (pass == PASS_SCAN &&
			    !journal_block_tail_csum_verify(fmt, blk))
				need_check_commit_time = true;
			if (pass != PASS_REVOKE)
				continue;
			ret = revoke_records(r, blk, next_tid);
			if (ret)
				return ret;
			continue;
		}
		break;		/* an unknown block type ends the log */
	}

done:
	if (pass == PASS_SCAN) {
		if (!r->end)
			r->end = next_tid;
	} else if (r->end != next_tid) {
		fprintf(stderr, "uext4: journal: recovery pass %d ended at "
			"transaction %u, expected %u\n", pass, next_tid,
			r->end);
		if (!success)
			success = -EUCLEAN;
	}
	if (block_error && !success)
		success = -EUCLEAN;
	return success;
}

/* ---- journal_recover(), journal_recover_to_memory() ---------------------- */

/* journal_recovery_held_fn for the log reads: what the sink holds. */
static const unsigned char *recovery_held(void *priv, uint64_t blocknr)
{
	const struct recovery *r = priv;

	return r->sink->lookup(r, blocknr);
}

static int recovery_init(struct recovery *r, struct journal *j,
			 struct journal_recovery_info *info,
			 const struct recovery_sink_ops *sink)
{
	memset(r, 0, sizeof(*r));
	r->j = j;
	r->info = info;
	r->sink = sink;
	r->max_tags = j->blocksize / 8 + 1;
	if (sink == &recovery_dev_sink) {
		if (journal_home_batch_new(j, &r->hb))
			r->hb = NULL;
	} else if (journal_overlay_new(j->blocksize, &r->ov)) {
		r->ov = NULL;
	}
	r->desc = malloc(j->blocksize);
	r->tags = calloc(r->max_tags, sizeof(*r->tags));
	r->records = calloc(j->blocksize / 4, sizeof(*r->records));
	if (!(r->hb || r->ov) || !r->desc || !r->tags || !r->records)
		return -ENOMEM;
	return journal_recovery_log_init(&r->log, j, recovery_held, r);
}

/* Frees everything but r->ov (the memory replay's result). */
static void recovery_fini(struct recovery *r)
{
	free(r->revokes.slots);
	journal_recovery_log_fini(&r->log);
	journal_home_batch_free(r->hb);
	free(r->desc);
	free(r->tags);
	free(r->records);
}

/*
 * What both replays do first. Return: 1 when the log is clean (nothing
 * to replay, @info filled), 0 to go on.
 */
static int recovery_start(struct journal *j,
			  struct journal_recovery_info *info)
{
	memset(info, 0, sizeof(*info));
	info->start_tid = j->sb.sequence;
	info->end_tid = j->sb.sequence;
	info->journal_errno = j->sb.errno_;
	info->fs_error = j->sb.errno_ != 0;
	if (!j->sb.start)
		return 1;
	return 0;
}

/*
 * The kernel's fc_do_one_pass() in PASS_SCAN, with ext4's scan handler:
 * after a SCAN pass that ended well, walk the fast-commit area (log
 * blocks @last + 1 .. @maxlen - 1, journal_fc_scan_block()) for fast
 * commits of transaction r->end, the one after the last full commit.
 *
 * The replay goes on (0) only when that scan stops with no valid fast
 * commit: an unused area (its first tag is not a HEAD) or a stale one
 * (a HEAD of another transaction). The kernel and e2fsck replay nothing
 * from the area then, so the log replay alone gives their result.
 * Otherwise they would replay fast commits (at least one TAIL of r->end
 * with the right crc), or fail the recovery (a damaged or unsupported
 * area, or one that runs to its end: the kernel's read past the journal
 * fails): that is not ours to do, so -EOPNOTSUPP, before anything is
 * written.
 * Return: 0, -EOPNOTSUPP, -EIO (a read failed).
 */
static int fc_area_check(struct recovery *r)
{
	struct journal *j = r->j;
	struct journal_fc_scan st = { .expected_tid = r->end };
	int ret = JOURNAL_FC_CONTINUE;

	for (uint32_t b = j->sb.last + 1; b < j->sb.maxlen; b++) {
		const unsigned char *blk;

		ret = journal_recovery_log_read(&r->log, b, &blk);
		if (ret)
			return ret == -EIO ? -EIO : -EOPNOTSUPP;
		ret = journal_fc_scan_block(&st, blk, j->blocksize);
		if (ret != JOURNAL_FC_CONTINUE)
			break;
	}
	if (ret == JOURNAL_FC_STOP && !st.nr_tags)
		return 0;
	if (st.nr_tags)
		fprintf(stderr, "uext4: journal: the fast-commit area holds "
			"%u tags of transaction %u to replay; fast-commit "
			"replay is not supported, run e2fsck\n", st.nr_tags,
			r->end);
	else
		fprintf(stderr, "uext4: journal: the fast-commit area of "
			"transaction %u is damaged or not supported (%d); "
			"run e2fsck\n", r->end, ret);
	return -EOPNOTSUPP;
}

/*
 * The three passes (and the fast-commit area check between SCAN and
 * REVOKE), then the sink's finish. Return: the passes' verdict (0,
 * -EUCLEAN), or -ENOMEM / -EIO / -EOPNOTSUPP when the replay could not
 * be carried out (nothing was replayed then; a device replay leaves the
 * log alone).
 */
static int recovery_passes(struct recovery *r)
{
	int err, ret;

	err = one_pass(r, PASS_SCAN);
	if (!err && (r->j->sb.feature_incompat & JOURNAL_INCOMPAT_FAST_COMMIT))
		err = fc_area_check(r);
	if (!err)
		err = one_pass(r, PASS_REVOKE);
	if (!err) {
		/* Nothing was replayed unless this pass ran. */
		r->info->end_tid = r->end;
		err = one_pass(r, PASS_REPLAY);
	}
	ret = r->sink->finish(r);
	if (err == -ENOMEM || err == -EOPNOTSUPP)
		return err;
	if (r->io_error || r->log.io_error || ret)
		return -EIO;
	return err;
}

/*
 * e2fsck's verdict on a replay that ran (@err 0 or -EUCLEAN), in @info:
 * a failed commit marks the file system with errors, damage makes it not
 * valid. Return: 0, or -EUCLEAN for a damaged log.
 */
static int recovery_verdict(struct recovery *r, int err)
{
	if (!err) {
		if (r->info->failed_commit)
			r->info->fs_error = true;
	} else {
		r->info->fs_not_valid = true;	/* e2fsck_clear_recover(ctx, 1) */
	}
	if (r->bad_home)
		r->info->fs_not_valid = true;
	return err || r->info->failed_commit || r->bad_home ? -EUCLEAN : 0;
}

int journal_recover(struct journal *j, struct journal_recovery_info *info)
{
	struct recovery r;
	int err, ret;

	ret = recovery_start(j, info);
	if (ret < 0)
		return ret;
	if (ret > 0) {
		/*
		 * A clean log under a superblock that says needs_recovery:
		 * nothing to replay, but e2fsck still restarts the log at
		 * s_sequence + 1 (jbd2_journal_recover() with s_start 0)
		 * and moves s_errno into the file system's error state
		 * (info->fs_error), clearing it in the journal.
		 */
		if (j->readonly)
			return 0;
		j->sb.sequence++;	/* info: still nothing replayed */
		j->sb.errno_ = 0;
		return journal_sb_write(j);
	}
	if (j->readonly)
		return -EROFS;

	ret = recovery_init(&r, j, info, &recovery_dev_sink);
	if (ret)
		goto out_fini;
	err = recovery_passes(&r);
	if (err == -ENOMEM || err == -EIO || err == -EOPNOTSUPP) {
		/* The log stays as it is: a later replay starts over. */
		ret = err;
		goto out_fini;
	}
	if (cache_bdev_flush(j->bdev)) {
		ret = -EIO;
		goto out_fini;
	}

	/*
	 * e2fsck's recover_ext3_journal() and e2fsck_journal_release():
	 * on success the log restarts at end + 1; on failure s_sequence
	 * is left alone. Either way s_start = 0. A failed commit records
	 * -EINVAL in s_errno, and e2fsck_check_ext3_journal() then moves
	 * any s_errno into EXT2_ERROR_FS and clears it.
	 */
	if (!err)
		j->sb.sequence = r.end + 1;
	err = recovery_verdict(&r, err);
	j->sb.start = 0;
	j->sb.errno_ = 0;
	ret = journal_sb_write(j);
	if (!ret)
		ret = err;

out_fini:
	recovery_fini(&r);
	return ret;
}

int journal_recover_to_memory(struct journal *j,
			      struct journal_recovery_info *info,
			      struct journal_overlay **out)
{
	struct recovery r;
	int ret;

	*out = NULL;
	ret = recovery_start(j, info);
	if (ret < 0)
		return ret;
	if (ret > 0)
		return journal_overlay_new(j->blocksize, out);

	ret = recovery_init(&r, j, info, &recovery_mem_sink);
	if (!ret)
		ret = recovery_passes(&r);
	if (ret == -ENOMEM || ret == -EIO || ret == -EOPNOTSUPP) {
		journal_overlay_free(r.ov);
	} else {
		ret = recovery_verdict(&r, ret);
		*out = r.ov;
	}
	recovery_fini(&r);
	return ret;
}
