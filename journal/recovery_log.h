/* SPDX-License-Identifier: MIT */
/*
 * journal/recovery_log.h — how a replay (recovery.c) reads the log: the
 * in-memory log cache and the readahead window past it (recovery_log.c).
 * Private to journal/.
 */
#ifndef UEXT4_JOURNAL_RECOVERY_LOG_H
#define UEXT4_JOURNAL_RECOVERY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/** RECOVERY_RA_BLOCKS - log blocks read per batch past the log cache. */
#define RECOVERY_RA_BLOCKS 32u

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
 * typedef journal_recovery_held_fn - what the replay put for device block
 * @blocknr and the device does not hold yet, or NULL. Log reads are
 * patched with it, so that a log replaying onto its own blocks reads what
 * e2fsck (which writes each block at once) reads.
 */
typedef const unsigned char *(*journal_recovery_held_fn)(void *priv,
							  uint64_t blocknr);

/**
 * struct journal_recovery_log - the log as one replay reads it.
 * @lc/@lc_cap/@lc_nr: the log cache: log blocks in walk order from
 *        s_start (wrapping), @lc_nr of them read, room for @lc_cap
 *        (0: no cache).
 * @runs/@nr_runs: the journal map by device block (recovery_run).
 * @win/@win_base/@win_nr: readahead window of log blocks past the cache
 *        [@win_base, @win_base + @win_nr); @win_phys their device blocks.
 * @bios: room for a cache fill.
 * @held/@priv: the replay's pending blocks (journal_recovery_held_fn).
 * @io_error: a device read failed.
 * Not thread-safe: one replay, one thread.
 */
struct journal_recovery_log {
	struct journal *j;
	journal_recovery_held_fn held;
	void *priv;
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
	bool io_error;
};

/**
 * journal_recovery_log_init() - set @lg up for journal @j: the window and
 * the log cache (the whole log up to RECOVERY_CACHE_MAX bytes and an
 * eighth of RAM; UEXT4_RECOVERY_CACHE_BLOCKS sets another limit, for
 * tests). The cache pages are touched only as the walk reads them.
 * Return: 0 or -ENOMEM (free with journal_recovery_log_fini() anyway).
 */
int journal_recovery_log_init(struct journal_recovery_log *lg,
			      struct journal *j, journal_recovery_held_fn held,
			      void *priv);

/** journal_recovery_log_fini() - free what @lg holds. */
void journal_recovery_log_fini(struct journal_recovery_log *lg);

/**
 * journal_recovery_log_read() - the kernel's jread(): log block @logblk
 * in *@blk, valid until the next call. Blocks of the walk from s_start
 * come from the cache (read in large batches), others from the window.
 * Return: 0; -EUCLEAN past the log (-EFSCORRUPTED there); -EIO
 * (@lg->io_error set).
 */
int journal_recovery_log_read(struct journal_recovery_log *lg,
			      uint32_t logblk, const unsigned char **blk);

/**
 * journal_recovery_log_update() - device block @blocknr now holds @data
 * (a replayed block): lay it over every copy of that block already read.
 */
void journal_recovery_log_update(struct journal_recovery_log *lg,
				 uint64_t blocknr, const unsigned char *data);

#endif /* UEXT4_JOURNAL_RECOVERY_LOG_H */
