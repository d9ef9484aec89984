// SPDX-License-Identifier: MIT
/*
 * journal/recovery_batch.c — home writes of a device replay: blocks are
 * gathered in a batch (one slot per home block: the batch's bios run in
 * parallel, so it must not hold two writes of one block), and a full
 * batch is written by a writer thread while the replay fills the other
 * one (checksums and copies overlap the device's writes). Each batch
 * goes out sorted by block, runs of blocks that follow on both on the
 * device and in the buffer merged into one bio.
 *
 * Ordering: a batch is handed to the writer only after the previous one
 * completed (the writer thread is joined first), so of two copies of a
 * block in successive batches the later lands last, as e2fsck's writes:
 *
 *   replay thread                       writer thread
 *   fill batch A
 *   start writer(A) ------------------> write A (sorted, merged bios)
 *   fill batch B (lookup: B, then A)    ...
 *   join writer  <--------------------- done
 *   start writer(B) ------------------> write B
 *   clear A, fill it
 *
 * Not here: what goes in the blocks (recovery.c), the flush of the
 * device's cache (journal_recover()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "recovery_batch.h"

/** HOME_BATCH_BLOCKS - home blocks per batch. */
#define HOME_BATCH_BLOCKS 2048u
/** HOME_HASH_SLOTS - a batch's block → slot table, > 2 × batch, 2^n. */
#define HOME_HASH_SLOTS 4096u
/** HOME_BIO_MAX - most bytes of one write bio. */
#define HOME_BIO_MAX (1u << 20)

/* struct home_key - a slot of a batch, sorted by block when sent. */
struct home_key {
	uint64_t blocknr;
	unsigned int slot;
};

/**
 * struct home_one - one batch.
 * @buf/@blocks/@nr: slot i holds home block @blocks[i] in @buf.
 * @hash: block → slot + 1 (0: free), open addressing.
 * @order/@bios: the writer's.
 * @err: the writer's result (-EIO), read after the join.
 */
struct home_one {
	unsigned char *buf;
	uint64_t *blocks;
	uint16_t *hash;
	struct home_key *order;
	struct cache_bio *bios;
	unsigned int nr;
	int err;
};

/**
 * struct journal_home_batch - the two batches and the writer.
 * @cur: the batch being filled; @one[!@cur] is in flight when @busy.
 * @writer: the writer thread, joinable when @busy.
 * @err: the first failure of a batch.
 */
struct journal_home_batch {
	struct journal *j;
	struct home_one one[2];
	unsigned int cur;
	pthread_t writer;
	bool busy;
	int err;
};

static size_t hash_first(uint64_t blocknr)
{
	return (size_t)((blocknr * 0x9E3779B97F4A7C15ull) >> 40) &
	       (HOME_HASH_SLOTS - 1);
}

static int one_find(const struct home_one *o, uint64_t blocknr)
{
	for (size_t i = hash_first(blocknr); o->hash[i];
	     i = (i + 1) & (HOME_HASH_SLOTS - 1))
		if (o->blocks[o->hash[i] - 1] == blocknr)
			return o->hash[i] - 1;
	return -1;
}

static unsigned char *one_block(const struct journal_home_batch *hb,
				const struct home_one *o, unsigned int slot)
{
	return o->buf + (size_t)slot * hb->j->blocksize;
}

static int key_cmp(const void *a, const void *b)
{
	const struct home_key *x = a, *y = b;

	return x->blocknr < y->blocknr ? -1 : x->blocknr > y->blocknr;
}

/* Write batch @o: sorted by block, contiguous runs merged. */
static int one_write(struct journal_home_batch *hb, struct home_one *o)
{
	struct journal *j = hb->j;
	unsigned int nbios = 0;

	for (unsigned int i = 0; i < o->nr; i++)
		o->order[i] = (struct home_key){ o->blocks[i], i };
	qsort(o->order, o->nr, sizeof(*o->order), key_cmp);
	for (unsigned int i = 0; i < o->nr; i++) {
		const struct home_key *k = &o->order[i];

		if (i && k->blocknr == k[-1].blocknr + 1 &&
		    k->slot == k[-1].slot + 1 &&
		    o->bios[nbios - 1].len < HOME_BIO_MAX) {
			o->bios[nbios - 1].len += j->blocksize;
			continue;
		}
		/* recovery.c checked the block is inside the device. */
		journal_home_bio(j, k->blocknr, one_block(hb, o, k->slot), true,
				 &o->bios[nbios++]);
	}
	return cache_bdev_submit(j->bdev, o->bios, nbios) ? -EIO : 0;
}

static void *writer_main(void *p)
{
	struct journal_home_batch *hb = p;
	struct home_one *o = &hb->one[!hb->cur];

	o->err = one_write(hb, o);
	return NULL;
}

/* Wait for the batch in flight (if any), keep its error, empty it. */
static void writer_join(struct journal_home_batch *hb)
{
	struct home_one *o = &hb->one[!hb->cur];

	if (hb->busy) {
		pthread_join(hb->writer, NULL);
		hb->busy = false;
	}
	if (o->err && !hb->err)
		hb->err = o->err;
	o->err = 0;
	if (o->nr) {
		o->nr = 0;
		memset(o->hash, 0, HOME_HASH_SLOTS * sizeof(*o->hash));
	}
}

/*
 * Send the batch being filled: on the writer thread, or from here when
 * no thread can be had. Return: 0, or the first error so far.
 */
static int send_cur(struct journal_home_batch *hb)
{
	writer_join(hb);
	if (!hb->one[hb->cur].nr)
		return hb->err;
	hb->cur = !hb->cur;	/* the batch to send is now one[!cur] */
	if (pthread_create(&hb->writer, NULL, writer_main, hb) == 0)
		hb->busy = true;
	else
		writer_main(hb);
	return hb->err;
}

int journal_home_batch_slot(struct journal_home_batch *hb, uint64_t blocknr,
			    unsigned char **dst)
{
	struct home_one *o = &hb->one[hb->cur];
	int slot = one_find(o, blocknr);
	size_t i;

	if (slot < 0) {
		if (o->nr == HOME_BATCH_BLOCKS) {
			int ret = send_cur(hb);

			if (ret)
				return ret;
			o = &hb->one[hb->cur];
		}
		slot = (int)o->nr++;
		o->blocks[slot] = blocknr;
		for (i = hash_first(blocknr); o->hash[i];
		     i = (i + 1) & (HOME_HASH_SLOTS - 1))
			;
		o->hash[i] = (uint16_t)(slot + 1);
	}
	*dst = one_block(hb, o, (unsigned int)slot);
	return 0;
}

const unsigned char *journal_home_batch_lookup(
	const struct journal_home_batch *hb, uint64_t blocknr)
{
	/* The batch being filled holds the newer copy. */
	for (unsigned int k = 0; k < 2; k++) {
		const struct home_one *o = &hb->one[k ? !hb->cur : hb->cur];
		int slot = one_find(o, blocknr);

		if (slot >= 0)
			return one_block(hb, o, (unsigned int)slot);
	}
	return NULL;
}

int journal_home_batch_flush(struct journal_home_batch *hb)
{
	send_cur(hb);
	writer_join(hb);
	return hb->err;
}

static void one_free(struct home_one *o)
{
	free(o->buf);
	free(o->blocks);
	free(o->hash);
	free(o->order);
	free(o->bios);
}

int journal_home_batch_new(struct journal *j, struct journal_home_batch **out)
{
	struct journal_home_batch *hb = calloc(1, sizeof(*hb));

	*out = NULL;
	if (!hb)
		return -ENOMEM;
	hb->j = j;
	for (unsigned int k = 0; k < 2; k++) {
		struct home_one *o = &hb->one[k];

		o->buf = journal_block_alloc(j, HOME_BATCH_BLOCKS);
		o->blocks = calloc(HOME_BATCH_BLOCKS, sizeof(*o->blocks));
		o->hash = calloc(HOME_HASH_SLOTS, sizeof(*o->hash));
		o->order = calloc(HOME_BATCH_BLOCKS, sizeof(*o->order));
		o->bios = calloc(HOME_BATCH_BLOCKS, sizeof(*o->bios));
		if (!o->buf || !o->blocks || !o->hash || !o->order ||
		    !o->bios) {
			one_free(&hb->one[0]);
			one_free(&hb->one[1]);
			free(hb);
			return -ENOMEM;
		}
	}
	*out = hb;
	return 0;
}

void journal_home_batch_free(struct journal_home_batch *hb)
{
	if (!hb)
		return;
	writer_join(hb);
	one_free(&hb->one[0]);
	one_free(&hb->one[1]);
	free(hb);
}
