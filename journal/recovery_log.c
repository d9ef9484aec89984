// SPDX-License-Identifier: MIT
/*
 * journal/recovery_log.c — the log as a replay reads it (recovery.c).
 *
 * The blocks the SCAN pass walks are kept in memory (the log cache, up
 * to RECOVERY_CACHE_MAX bytes or an eighth of RAM), read in large
 * batches, so that REVOKE and REPLAY read nothing from the device
 * (e2fsck and the kernel read through the page cache). Past the cache a
 * small readahead window reads from the device as the kernel's jread().
 * Both hold what e2fsck would read at that moment: the device patched
 * with what the replay holds and has not written yet (the held callback),
 * and every replayed block laid over its copies (a log that replays onto
 * its own blocks).
 *
 * Not here: the passes, what a block means, any write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recovery_log.h"

/** RECOVERY_CACHE_MAX - most bytes of log kept in memory. */
#define RECOVERY_CACHE_MAX (256u << 20)
/** RECOVERY_CACHE_FILL - log cache bytes read per cache_bdev_submit(). */
#define RECOVERY_CACHE_FILL (8u << 20)
/** RECOVERY_FILL_BIOS - most log cache blocks read per fill. */
#define RECOVERY_FILL_BIOS 2048u
/** RECOVERY_CACHE_BIO - most bytes of one log cache read bio. */
#define RECOVERY_CACHE_BIO (512u << 10)

static unsigned char *win_block(struct journal_recovery_log *lg,
				unsigned int i)
{
	return lg->win + (size_t)i * lg->j->blocksize;
}

static unsigned char *lc_block(struct journal_recovery_log *lg, uint32_t d)
{
	return lg->lc + (size_t)d * lg->j->blocksize;
}

/*
 * Add a read of log block @logblk into @buf to @bios: merged into the
 * last bio when both the device blocks and the buffers follow on, up to
 * @max_len bytes.
 */
static void bio_add_read(struct journal_recovery_log *lg,
			 struct cache_bio *bios, unsigned int *nbios,
			 uint32_t logblk, void *buf, size_t max_len)
{
	struct journal *j = lg->j;
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
static uint32_t lc_index(const struct journal_recovery_log *lg,
			uint32_t logblk)
{
	const struct journal_sb *sb = &lg->j->sb;

	if (logblk < sb->first || logblk >= sb->last)
		return UINT32_MAX;
	if (logblk >= sb->start)
		return logblk - sb->start;
	return sb->last - sb->start + logblk - sb->first;
}

static uint32_t lc_logblk(const struct journal_recovery_log *lg, uint32_t d)
{
	const struct journal_sb *sb = &lg->j->sb;

	if (d < sb->last - sb->start)
		return sb->start + d;
	return sb->first + d - (sb->last - sb->start);
}

/*
 * Read the cache on to at least block @d: RECOVERY_CACHE_FILL bytes at a
 * time, in bios of up to RECOVERY_CACHE_BIO bytes that the engine runs
 * in parallel. What the replay holds is laid over what was read.
 */
static int lc_fill(struct journal_recovery_log *lg, uint32_t d)
{
	struct journal *j = lg->j;
	uint32_t from = lg->lc_nr, to = d + 1, step;
	unsigned int nbios = 0;

	step = RECOVERY_CACHE_FILL / j->blocksize;
	if (step > RECOVERY_FILL_BIOS)
		step = RECOVERY_FILL_BIOS;	/* lg->bios */
	if (to - from < step)
		to = from + step;
	if (to > lg->lc_cap)
		to = lg->lc_cap;
	for (uint32_t k = from; k < to; k++)
		bio_add_read(lg, lg->bios, &nbios, lc_logblk(lg, k),
			     lc_block(lg, k), RECOVERY_CACHE_BIO);
	if (cache_bdev_submit(j->bdev, lg->bios, nbios)) {
		lg->io_error = true;
		return -EIO;
	}
	for (uint32_t k = from; k < to; k++) {
		const unsigned char *held =
			lg->held(lg->priv, j->map[lc_logblk(lg, k)]);

		if (held)
			memcpy(lc_block(lg, k), held, j->blocksize);
	}
	lg->lc_nr = to;
	return 0;
}

static int run_cmp(const void *a, const void *b)
{
	const struct recovery_run *x = a, *y = b;

	return x->phys < y->phys ? -1 : x->phys > y->phys;
}

/* Cut the log's part of the journal map into runs (struct recovery_run). */
static int lc_runs_build(struct journal_recovery_log *lg)
{
	struct journal *j = lg->j;
	uint64_t maxend = 0;
	size_t n = 0;

	for (uint32_t b = j->sb.first; b < j->sb.last; b++)
		if (b == j->sb.first || j->map[b] != j->map[b - 1] + 1)
			n++;
	lg->runs = calloc(n, sizeof(*lg->runs));
	if (!lg->runs)
		return -ENOMEM;
	for (uint32_t b = j->sb.first; b < j->sb.last; b++) {
		struct recovery_run *run = &lg->runs[lg->nr_runs - 1];

		if (b == j->sb.first || j->map[b] != j->map[b - 1] + 1) {
			run = &lg->runs[lg->nr_runs++];
			run->phys = j->map[b];
			run->logblk = b;
		}
		run->len++;
	}
	qsort(lg->runs, n, sizeof(*lg->runs), run_cmp);
	for (size_t i = 0; i < n; i++) {
		if (lg->runs[i].phys + lg->runs[i].len > maxend)
			maxend = lg->runs[i].phys + lg->runs[i].len;
		lg->runs[i].maxend = maxend;
	}
	return 0;
}

/*
 * Size and allocate the log cache (journal_recovery_log_init()). The
 * buffer is not touched here: only the pages the walk reads are used.
 */
static int lc_init(struct journal_recovery_log *lg)
{
	struct journal *j = lg->j;
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
	lg->lc = aligned_alloc(align, (cap * j->blocksize + align - 1) /
					     align * align);
	if (!lg->lc)
		return -ENOMEM;
	lg->lc_cap = (uint32_t)cap;
	return lc_runs_build(lg);
}

void journal_recovery_log_update(struct journal_recovery_log *lg,
				 uint64_t blocknr, const unsigned char *data)
{
	size_t lo = 0, hi = lg->nr_runs;

	for (unsigned int i = 0; i < lg->win_nr; i++)
		if (lg->win_phys[i] == blocknr)
			memcpy(win_block(lg, i), data, lg->j->blocksize);
	if (!lg->lc_nr)
		return;
	/* hi: the first run starting past @blocknr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (lg->runs[mid].phys <= blocknr)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (hi-- > 0 && lg->runs[hi].maxend > blocknr) {
		const struct recovery_run *run = &lg->runs[hi];
		uint32_t d;

		if (blocknr >= run->phys + run->len)
			continue;
		d = lc_index(lg, run->logblk + (uint32_t)(blocknr - run->phys));
		if (d < lg->lc_nr)
			memcpy(lc_block(lg, d), data, lg->j->blocksize);
	}
}

/*
 * Read log blocks [@logblk, ...) into the window: up to
 * RECOVERY_RA_BLOCKS, not past the log's length (the kernel's
 * do_readahead()), physically contiguous runs merged into one bio. What
 * the replay holds and the device does not (@held) is laid over what
 * was read.
 */
static int win_fill(struct journal_recovery_log *lg, uint32_t logblk)
{
	struct journal *j = lg->j;
	uint64_t end = j->sb.maxlen < j->nr_blocks ? j->sb.maxlen :
						     j->nr_blocks;
	unsigned int n = RECOVERY_RA_BLOCKS, nbios = 0;
	struct cache_bio bios[RECOVERY_RA_BLOCKS];

	if (end - logblk < n)
		n = (unsigned int)(end - logblk);
	lg->win_nr = 0;
	for (unsigned int i = 0; i < n; i++) {
		lg->win_phys[i] = j->map[logblk + i];
		bio_add_read(lg, bios, &nbios, logblk + i, win_block(lg, i),
			     SIZE_MAX);
	}
	if (cache_bdev_submit(j->bdev, bios, nbios)) {
		lg->io_error = true;
		return -EIO;
	}
	for (unsigned int i = 0; i < n; i++) {
		const unsigned char *held = lg->held(lg->priv, lg->win_phys[i]);

		if (held)
			memcpy(win_block(lg, i), held, j->blocksize);
	}
	lg->win_base = logblk;
	lg->win_nr = n;
	return 0;
}

int journal_recovery_log_read(struct journal_recovery_log *lg,
			      uint32_t logblk, const unsigned char **blk)
{
	struct journal *j = lg->j;
	uint32_t d;
	int ret;

	if (logblk >= j->sb.maxlen || logblk >= j->nr_blocks) {
		fprintf(stderr, "uext4: journal: log block %u past the log\n",
			logblk);
		return -EUCLEAN;
	}
	d = lc_index(lg, logblk);
	if (d < lg->lc_cap) {
		if (d >= lg->lc_nr) {
			ret = lc_fill(lg, d);
			if (ret)
				return ret;
		}
		*blk = lc_block(lg, d);
		return 0;
	}
	if (logblk < lg->win_base || logblk - lg->win_base >= lg->win_nr) {
		ret = win_fill(lg, logblk);
		if (ret)
			return ret;
	}
	*blk = win_block(lg, logblk - lg->win_base);
	return 0;
}

int journal_recovery_log_init(struct journal_recovery_log *lg,
			      struct journal *j, journal_recovery_held_fn held,
			      void *priv)
{
	memset(lg, 0, sizeof(*lg));
	lg->j = j;
	lg->held = held;
	lg->priv = priv;
	lg->win = journal_block_alloc(j, RECOVERY_RA_BLOCKS);
	lg->bios = calloc(RECOVERY_FILL_BIOS, sizeof(*lg->bios));
	if (!lg->win || !lg->bios)
		return -ENOMEM;
	return lc_init(lg);
}

void journal_recovery_log_fini(struct journal_recovery_log *lg)
{
	free(lg->lc);
	free(lg->runs);
	free(lg->win);
	free(lg->bios);
}
