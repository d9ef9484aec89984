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
 * Log reads: the blocks the SCAN pass walks are kept in memory (the log
 * cache, up to RECOVERY_CACHE_MAX bytes or an eighth of RAM), read in
 * large batches, so that REVOKE and REPLAY read nothing from the device
 * (e2fsck and the kernel read through the page cache). Past the cache a
 * small readahead window reads from the device as the kernel's jread().
 * Both hold what e2fsck would read at that moment: the device patched
 * with what the sink holds and has not written yet, and every replayed
 * block laid over its copies (a log that replays onto its own blocks).
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
 * Not here: fast-commit replay (-EOPNOTSUPP), external journals.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "recovery_batch.h"

/** RECOVERY_RA_BLOCKS - log blocks read per batch past the log cache. */
#define RECOVERY_RA_BLOCKS 32u
/** RECOVERY_CACHE_MAX - most bytes of log kept in memory. */
#define RECOVERY_CACHE_MAX (256u << 20)
/** RECOVERY_CACHE_FILL - log cache bytes read per cache_bdev_submit(). */
#define RECOVERY_CACHE_FILL (8u << 20)
/** RECOVERY_FILL_BIOS - most log cache blocks read per fill. */
#define RECOVERY_FILL_BIOS 2048u
/** RECOVERY_CACHE_BIO - most bytes of one log cache read bio. */
#define RECOVERY_CACHE_BIO (512u << 10)

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

/*
 * struct recovery_run - log blocks [@logblk, @logblk + @len) live on device
 * blocks [@phys, @phys + @len): the journal map cut into contiguous runs,
 * sorted by @phys, to find the log copies of a replayed home block.
 * @maxend: the largest @phys + @len of this run and all before it (runs
 *          of a damaged map may overlap).
 */
struct recovery_run {
	uint64_t phys;
	uint64_t maxend;
	uint32_t logblk;
	uint32_t len;
};

/**
 * struct recovery - one journal_recover() call.
 * @lc/@lc_cap/@lc_nr: the log cache: log blocks in walk order from
 *        s_start (wrapping), @lc_nr of them read, room for @lc_cap
 *        (0: no cache).
 * @runs/@nr_runs: the journal map by device block (recovery_run).
 * @win/@win_base/@win_nr: readahead window of log blocks past the cache
 *        [@win_base, @win_base + @win_nr); @win_phys their device blocks.
 * @sink: where replayed blocks go (device or memory sink below).
 * @bios: room for lc_fill().
 * @hb:   device sink: the home writes (recovery_batch.c).
 * @ov:   memory sink: the table being filled.
 * @end: end_transaction of the SCAN pass; 0 = not known yet (kernel).
 * @io_error: a device read or write failed.
 * @bad_home: a tag named a block past the device end (never written).
 */
struct recovery {
	struct journal *j;
	struct journal_recovery_info *info;
	const struct recovery_sink_ops *sink;
	struct revoke_table revokes;
	unsigned char *lc;
	uint32_t lc_cap;
	uint32_t lc_nr;
	struct recovery_run *runs;
	size_t nr_runs;
	unsigned char *win;
	uint64_t win_phys[RECOVERY_RA_BLOCKS];
	uint32_t win_base;
	unsigned int win_nr;
	struct cache_bio *bios;
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

static unsigned char *win_block(struct recovery *r, unsigned int i)
{
	return r->win + (size_t)i * r->j->blocksize;
}

static unsigned char *lc_block(struct recovery *r, uint32_t d)
{
	return r->lc + (size_t)d * r->j->blocksize;
}

/*
 * Add a read of log block @logblk into @buf to @bios: merged into the
 * last bio when both the device blocks and the buffers follow on, up to
 * @max_len bytes.
 */
static void bio_add_read(struct recovery *r, struct cache_bio *bios,
			 unsigned int *nbios, uint32_t logblk, void *buf,
			 size_t max_len)
{
	struct journal *j = r->j;
	struct cache_bio *last = *nbios ? &bios[*nbios - 1] : NULL;

	if (last && last->pos + last->len == j->map[logblk] * j->blocksize &&
	    (unsigned char *)last->buf + last->len == buf &&
	    last->len + j->blocksize <= max_len) {
		last->len += j->blocksize;
		return;
	}
	journal_log_bio(j, logblk, buf, false, &bios[(*nbios)++]);
}

/* ---- the log cache ------------------------------------------------------- */

/* Position of @logblk in the walk from s_start, or UINT32_MAX if none. */
static uint32_t lc_index(const struct recovery *r, uint32_t logblk)
{
	const struct journal_sb *sb = &r->j->sb;

	if (logblk < sb->first || logblk >= sb->last)
		return UINT32_MAX;
	if (logblk >= sb->start)
		return logblk - sb->start;
	return sb->last - sb->start + logblk - sb->first;
}

static uint32_t lc_logblk(const struct recovery *r, uint32_t d)
{
	const struct journal_sb *sb = &r->j->sb;

	if (d < sb->last - sb->start)
		return sb->start + d;
	return sb->first + d - (sb->last - sb->start);
}

/*
 * Read the cache on to at least block @d: RECOVERY_CACHE_FILL bytes at a
 * time, in bios of up to RECOVERY_CACHE_BIO bytes that the engine runs
 * in parallel. What the sink holds is laid over what was read.
 */
static int lc_fill(struct recovery *r, uint32_t d)
{
	struct journal *j = r->j;
	uint32_t from = r->lc_nr, to = d + 1, step;
	unsigned int nbios = 0;

	step = RECOVERY_CACHE_FILL / j->blocksize;
	if (step > RECOVERY_FILL_BIOS)
		step = RECOVERY_FILL_BIOS;	/* r->bios */
	if (to - from < step)
		to = from + step;
	if (to > r->lc_cap)
		to = r->lc_cap;
	for (uint32_t k = from; k < to; k++)
		bio_add_read(r, r->bios, &nbios, lc_logblk(r, k),
			     lc_block(r, k), RECOVERY_CACHE_BIO);
	if (cache_bdev_submit(j->bdev, r->bios, nbios)) {
		r->io_error = true;
		return -EIO;
	}
	for (uint32_t k = from; k < to; k++) {
		const unsigned char *held =
			r->sink->lookup(r, j->map[lc_logblk(r, k)]);

		if (held)
			memcpy(lc_block(r, k), held, j->blocksize);
	}
	r->lc_nr = to;
	return 0;
}

static int run_cmp(const void *a, const void *b)
{
	const struct recovery_run *x = a, *y = b;

	return x->phys < y->phys ? -1 : x->phys > y->phys;
}

/* Cut the log's part of the journal map into runs (struct recovery_run). */
static int lc_runs_build(struct recovery *r)
{
	struct journal *j = r->j;
	uint64_t maxend = 0;
	size_t n = 0;

	for (uint32_t b = j->sb.first; b < j->sb.last; b++)
		if (b == j->sb.first || j->map[b] != j->map[b - 1] + 1)
			n++;
	r->runs = calloc(n, sizeof(*r->runs));
	if (!r->runs)
		return -ENOMEM;
	for (uint32_t b = j->sb.first; b < j->sb.last; b++) {
		struct recovery_run *run = &r->runs[r->nr_runs - 1];

		if (b == j->sb.first || j->map[b] != j->map[b - 1] + 1) {
			run = &r->runs[r->nr_runs++];
			run->phys = j->map[b];
			run->logblk = b;
		}
		run->len++;
	}
	qsort(r->runs, n, sizeof(*r->runs), run_cmp);
	for (size_t i = 0; i < n; i++) {
		if (r->runs[i].phys + r->runs[i].len > maxend)
			maxend = r->runs[i].phys + r->runs[i].len;
		r->runs[i].maxend = maxend;
	}
	return 0;
}

/*
 * Size and allocate the log cache: the whole log up to RECOVERY_CACHE_MAX
 * bytes and an eighth of RAM; UEXT4_RECOVERY_CACHE_BLOCKS sets another
 * limit (tests: a log larger than the cache). The buffer is not touched
 * here: only the pages the walk reads are used.
 */
static int lc_init(struct recovery *r)
{
	struct journal *j = r->j;
	const char *env = getenv("UEXT4_RECOVERY_CACHE_BLOCKS");
	uint64_t cap = j->sb.last - j->sb.first;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	size_t align = j->align < sizeof(void *) ? sizeof(void *) : j->align;
	uint64_t lim = RECOVERY_CACHE_MAX / j->blocksize;

	if (pages > 0 && psize > 0 &&
	    (uint64_t)pages * (uint64_t)psize / 8 / j->blocksize < lim)
		lim = (uint64_t)pages * (uint64_t)psize / 8 / j->blocksize;
	if (env && *env)
		lim = strtoull(env, NULL, 0);
	if (cap > lim)
		cap = lim;
	if (!cap)
		return 0;
	r->lc = aligned_alloc(align, (cap * j->blocksize + align - 1) /
					     align * align);
	if (!r->lc)
		return -ENOMEM;
	r->lc_cap = (uint32_t)cap;
	return lc_runs_build(r);
}

/* Lay @data, the new contents of device block @blocknr, over its copies. */
static void log_copies_update(struct recovery *r, uint64_t blocknr,
			      const unsigned char *data)
{
	size_t lo = 0, hi = r->nr_runs;

	for (unsigned int i = 0; i < r->win_nr; i++)
		if (r->win_phys[i] == blocknr)
			memcpy(win_block(r, i), data, r->j->blocksize);
	if (!r->lc_nr)
		return;
	/* hi: the first run starting past @blocknr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->runs[mid].phys <= blocknr)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (hi-- > 0 && r->runs[hi].maxend > blocknr) {
		const struct recovery_run *run = &r->runs[hi];
		uint32_t d;

		if (blocknr >= run->phys + run->len)
			continue;
		d = lc_index(r, run->logblk + (uint32_t)(blocknr - run->phys));
		if (d < r->lc_nr)
			memcpy(lc_block(r, d), data, r->j->blocksize);
	}
}

/*
 * Read log blocks [@logblk, ...) into the window: up to
 * RECOVERY_RA_BLOCKS, not past the log's length (the kernel's
 * do_readahead()), physically contiguous runs merged into one bio. What
 * the sink holds and the device does not (sink->lookup) is laid over what
 * was read.
 */
static int win_fill(struct recovery *r, uint32_t logblk)
{
	struct journal *j = r->j;
	uint64_t end = j->sb.maxlen < j->nr_blocks ? j->sb.maxlen :
						     j->nr_blocks;
	unsigned int n = RECOVERY_RA_BLOCKS, nbios = 0;
	struct cache_bio bios[RECOVERY_RA_BLOCKS];

	if (end - logblk < n)
		n = (unsigned int)(end - logblk);
	r->win_nr = 0;
	for (unsigned int i = 0; i < n; i++) {
		r->win_phys[i] = j->map[logblk + i];
		bio_add_read(r, bios, &nbios, logblk + i, win_block(r, i),
			     SIZE_MAX);
	}
	if (cache_bdev_submit(j->bdev, bios, nbios)) {
		r->io_error = true;
		return -EIO;
	}
	for (unsigned int i = 0; i < n; i++) {
		const unsigned char *held = r->sink->lookup(r, r->win_phys[i]);

		if (held)
			memcpy(win_block(r, i), held, j->blocksize);
	}
	r->win_base = logblk;
	r->win_nr = n;
	return 0;
}

/*
 * The kernel's jread(): log block @logblk, valid until the next call.
 * Return: 0; -EUCLEAN past the log (-EFSCORRUPTED there); -EIO.
 */
static int log_get(struct recovery *r, uint32_t logblk,
		   const unsigned char **blk)
{
	struct journal *j = r->j;
	uint32_t d;
	int ret;

	if (logblk >= j->sb.maxlen || logblk >= j->nr_blocks) {
		fprintf(stderr, "uext4: journal: log block %u past the log\n",
			logblk);
		return -EUCLEAN;
	}
	d = lc_index(r, logblk);
	if (d < r->lc_cap) {
		if (d >= r->lc_nr) {
			ret = lc_fill(r, d);
			if (ret)
				return ret;
		}
		*blk = lc_block(r, d);
		return 0;
	}
	if (logblk < r->win_base || logblk - r->win_base >= r->win_nr) {
		ret = win_fill(r, logblk);
		if (ret)
			return ret;
	}
	*blk = win_block(r, logblk - r->win_base);
	return 0;
}

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
	log_copies_update(r, blocknr, dst);
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
		if (log_get(r, io_block, &blk))
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
		ret = log_get(r, io_block, &blk);
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
		ret = log_get(r, next_log, &blk);
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

static int recovery_init(struct recovery *r, struct journal *j,
			 struct journal_recovery_info *info,
			 const struct recovery_sink_ops *sink)
{
	memset(r, 0, sizeof(*r));
	r->j = j;
	r->info = info;
	r->sink = sink;
	r->max_tags = j->blocksize / 8 + 1;
	r->win = journal_block_alloc(j, RECOVERY_RA_BLOCKS);
	r->bios = calloc(RECOVERY_FILL_BIOS, sizeof(*r->bios));
	if (sink == &recovery_dev_sink) {
		if (journal_home_batch_new(j, &r->hb))
			r->hb = NULL;
	} else if (journal_overlay_new(j->blocksize, &r->ov)) {
		r->ov = NULL;
	}
	r->desc = malloc(j->blocksize);
	r->tags = calloc(r->max_tags, sizeof(*r->tags));
	r->records = calloc(j->blocksize / 4, sizeof(*r->records));
	if (!r->win || !r->bios || !(r->hb || r->ov) || !r->desc ||
	    !r->tags || !r->records)
		return -ENOMEM;
	return lc_init(r);
}

/* Frees everything but r->ov (the memory replay's result). */
static void recovery_fini(struct recovery *r)
{
	free(r->revokes.slots);
	free(r->lc);
	free(r->runs);
	free(r->win);
	free(r->bios);
	journal_home_batch_free(r->hb);
	free(r->desc);
	free(r->tags);
	free(r->records);
}

/*
 * What both replays do first. Return: 1 when the log is clean (nothing
 * to replay, @info filled), 0 to go on, -EOPNOTSUPP for fast commits.
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
	if (j->sb.feature_incompat & JOURNAL_INCOMPAT_FAST_COMMIT) {
		fprintf(stderr, "uext4: journal: fast-commit replay is not "
			"supported; run e2fsck\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * The three passes, then the sink's finish. Return: the passes' verdict
 * (0, -EUCLEAN), or -ENOMEM / -EIO when the replay could not be carried
 * out (a device replay leaves the log alone then).
 */
static int recovery_passes(struct recovery *r)
{
	int err, ret;

	err = one_pass(r, PASS_SCAN);
	if (!err)
		err = one_pass(r, PASS_REVOKE);
	if (!err) {
		/* Nothing was replayed unless this pass ran. */
		r->info->end_tid = r->end;
		err = one_pass(r, PASS_REPLAY);
	}
	ret = r->sink->finish(r);
	if (err == -ENOMEM)
		return -ENOMEM;
	if (r->io_error || ret)
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
	if (ret)
		return ret > 0 ? 0 : ret;
	if (j->readonly)
		return -EROFS;

	ret = recovery_init(&r, j, info, &recovery_dev_sink);
	if (ret)
		goto out_fini;
	err = recovery_passes(&r);
	if (err == -ENOMEM || err == -EIO) {
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
	if (ret == -ENOMEM || ret == -EIO) {
		journal_overlay_free(r.ov);
	} else {
		ret = recovery_verdict(&r, ret);
		*out = r.ov;
	}
	recovery_fini(&r);
	return ret;
}
