// SPDX-License-Identifier: MIT
/*
 * journal/overlay.c — the in-memory result of a journal replay: a table
 * from home block number to the block's replayed contents, which
 * journal_recover_to_memory() (recovery.c) fills instead of writing the
 * device, and which journal_overlay_read() lays over whatever is read
 * from the device afterwards (the engine's read overlay, cache/), so that
 * a read-only mount sees the file system as if the replay had been
 * written.
 *
 * The table is open addressing on the block number, grown by doubling;
 * each slot owns one block of data. It is built by one thread (the
 * replay) and never changes once journal_recover_to_memory() has returned
 * it: readers then take no lock (see journal_overlay_read()).
 *
 * Not here: the replay passes (recovery.c), installing the overlay on an
 * engine (the caller, with cache_bdev_set_read_overlay()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/** struct overlay_slot - one replayed block; @data NULL = free slot. */
struct overlay_slot {
	uint64_t blocknr;
	unsigned char *data;
};

/**
 * struct journal_overlay - replayed home blocks.
 * @blocksize: bytes per block (the file system's).
 * @slots:     open-addressing table, @mask + 1 slots (a power of two).
 * @nr:        blocks held.
 * @min/@max:  smallest and largest block number held (valid when @nr):
 *             most reads are of blocks the log never touched, and skip
 *             the table with two comparisons.
 * Written only while the replay builds it; read-only afterwards.
 */
struct journal_overlay {
	unsigned int blocksize;
	struct overlay_slot *slots;
	size_t mask;
	size_t nr;
	uint64_t min, max;
};

static size_t overlay_hash(uint64_t blocknr)
{
	return (size_t)((blocknr * 0x9E3779B97F4A7C15ull) >> 17);
}

int journal_overlay_new(unsigned int blocksize, struct journal_overlay **out)
{
	struct journal_overlay *ov = calloc(1, sizeof(*ov));

	if (!ov)
		return -ENOMEM;
	ov->blocksize = blocksize;
	*out = ov;
	return 0;
}

void journal_overlay_free(struct journal_overlay *ov)
{
	if (!ov)
		return;
	for (size_t i = 0; ov->slots && i <= ov->mask; i++)
		free(ov->slots[i].data);
	free(ov->slots);
	free(ov);
}

static struct overlay_slot *overlay_find(const struct journal_overlay *ov,
					 uint64_t blocknr)
{
	if (!ov->nr || blocknr < ov->min || blocknr > ov->max)
		return NULL;
	for (size_t i = overlay_hash(blocknr) & ov->mask; ov->slots[i].data;
	     i = (i + 1) & ov->mask)
		if (ov->slots[i].blocknr == blocknr)
			return &ov->slots[i];
	return NULL;
}

static int overlay_grow(struct journal_overlay *ov)
{
	size_t cap = ov->slots ? (ov->mask + 1) * 2 : 256;
	size_t old_cap = ov->slots ? ov->mask + 1 : 0;
	struct overlay_slot *old = ov->slots;
	struct overlay_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t k = 0; k < old_cap; k++) {
		size_t i;

		if (!old[k].data)
			continue;
		for (i = overlay_hash(old[k].blocknr) & (cap - 1); slots[i].data;
		     i = (i + 1) & (cap - 1))
			;
		slots[i] = old[k];
	}
	free(old);
	ov->slots = slots;
	ov->mask = cap - 1;
	return 0;
}

int journal_overlay_slot(struct journal_overlay *ov, uint64_t blocknr,
			 unsigned char **dst)
{
	struct overlay_slot *s = overlay_find(ov, blocknr);
	unsigned char *data;
	size_t i;

	if (s) {
		*dst = s->data;
		return 0;
	}
	if (!ov->slots || (ov->nr + 1) * 2 > ov->mask + 1) {
		int ret = overlay_grow(ov);

		if (ret)
			return ret;
	}
	data = malloc(ov->blocksize);
	if (!data)
		return -ENOMEM;
	for (i = overlay_hash(blocknr) & ov->mask; ov->slots[i].data;
	     i = (i + 1) & ov->mask)
		;
	ov->slots[i] = (struct overlay_slot){ blocknr, data };
	if (!ov->nr || blocknr < ov->min)
		ov->min = blocknr;
	if (!ov->nr || blocknr > ov->max)
		ov->max = blocknr;
	ov->nr++;
	*dst = data;
	return 0;
}

const unsigned char *journal_overlay_lookup(const struct journal_overlay *ov,
					    uint64_t blocknr)
{
	const struct overlay_slot *s = overlay_find(ov, blocknr);

	return s ? s->data : NULL;
}

uint64_t journal_overlay_nr_blocks(const struct journal_overlay *ov)
{
	return ov ? ov->nr : 0;
}

/*
 * Lock-free: the table is complete before journal_recover_to_memory()
 * returns it, and nothing writes it afterwards until
 * journal_overlay_free(), which the owner calls once no reader is left
 * (after cache_bdev_close(), or after clearing the overlay with no read
 * in flight). Readers only load slots and copy data.
 */
size_t journal_overlay_read(const struct journal_overlay *ov, uint64_t pos,
			    void *buf, size_t len)
{
	unsigned int bs = ov->blocksize;
	uint64_t first, last, end;
	size_t patched = 0;

	if (!len || !ov->nr || pos > UINT64_MAX - len)
		return 0;
	end = pos + len;
	first = pos / bs;
	last = (end - 1) / bs;
	if (last < ov->min || first > ov->max)
		return 0;
	if (first < ov->min)
		first = ov->min;
	if (last > ov->max)
		last = ov->max;
	for (uint64_t b = first; b <= last; b++) {
		const unsigned char *data = journal_overlay_lookup(ov, b);
		uint64_t bstart = b * bs, from, to;

		if (!data)
			continue;
		from = bstart > pos ? bstart : pos;
		to = bstart + bs < end ? bstart + bs : end;
		memcpy((unsigned char *)buf + (from - pos), data + (from - bstart),
		       (size_t)(to - from));
		patched += (size_t)(to - from);
	}
	return patched;
}

void journal_overlay_bdev_read(void *ov, uint64_t pos, void *buf, size_t len)
{
	journal_overlay_read(ov, pos, buf, len);
}
