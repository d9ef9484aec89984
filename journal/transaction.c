// SPDX-License-Identifier: MIT
/*
 * journal/transaction.c — the jbd2 writer: transactions, commit,
 * checkpoint and lookups of logged blocks.
 *
 * A transaction collects whole-block copies of home blocks and revoke
 * records in memory. Commit writes it to the circular log the way the
 * kernel's jbd2_journal_commit_transaction() does, so that the kernel,
 * e2fsck and our own recovery.c replay it:
 *
 *	revoke blocks | descriptor, data... | descriptor, data... | commit
 *	\________________ one batch, FLUSH ______________________/   FLUSH
 *
 * Committed copies stay in memory (one table, newest copy per home block)
 * until a checkpoint writes them home and empties the log. The checkpoint
 * is all-or-nothing: every committed transaction at once, never a part
 * of the log, so the tail only ever jumps to the head.
 *
 * Log states and positions (blocks of [first, last), circular):
 *
 *	 EMPTY (s_start 0 on disk)            LIVE (s_start = tail on disk)
 *	 tail == head              commit     first .. tail ###### head .. last
 *	 ------------------------ -------->   ###### = committed, not yet home
 *	          ^                               |  commit: head moves on
 *	          |  checkpoint: home writes,     |  (checkpoint first when
 *	          |  FLUSH, s_start 0             |  the log has no room)
 *	          +-------------------------------+
 *
 *	any I/O error ──► ABORTED: commit and checkpoint return -EIO; what
 *	                  was committed stays in the log for recovery.
 *
 * Decisions (see also DESIGN.md, Journal):
 * - The head starts at s_first (the kernel's journal_reset()) and stays
 *   where it is after a checkpoint; the next first commit then writes
 *   s_start = head with s_sequence = its tid. The head is recorded in
 *   s_head at each checkpoint, as an informational value.
 * - One block of slack: a commit must leave at least one free log block,
 *   so head == tail only when the log is empty.
 * - Tag checksums (v2/v3) and the v1 crc32_be cover the data as written
 *   to the log, i.e. after escaping — the kernel computes them over the
 *   buffer jbd2_journal_write_metadata_buffer() made, and replay verifies
 *   the log block before restoring the magic.
 *
 * Not here: the handle/credit machinery of the kernel (callers build a
 * transaction and commit it), asynchronous commit, fast commits, partial
 * checkpoints. Not thread-safe: the caller serializes (journal.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define TABLE_MIN_BUCKETS 64u
/* Home writes per cache_bdev_submit() in a checkpoint. */
#define CHECKPOINT_BATCH 256u

/**
 * struct journal_block - one home block in a transaction or in the table
 * of committed copies.
 * @blocknr:   home (file system) block.
 * @data:      blocksize bytes aligned for the engine; NULL in a
 *             transaction means "revoke record" (never NULL in the
 *             committed table).
 * @hash_next: bucket chain.
 */
struct journal_block {
	uint64_t blocknr;
	unsigned char *data;
	struct journal_block *hash_next;
};

/** struct journal_block_table - chained hash table of journal_block. */
struct journal_block_table {
	struct journal_block **buckets;
	size_t nbuckets;	/* power of two, 0 before the first insert */
	size_t nr;
};

/**
 * struct journal_txn - a transaction being built.
 * @j:         the journal.
 * @blocks:    added copies and revoke records, one entry per home block.
 * @nr_data:   entries with a copy; @nr_revoke: revoke records.
 */
struct journal_txn {
	struct journal *j;
	struct journal_block_table blocks;
	size_t nr_data;
	size_t nr_revoke;
};

/**
 * struct journal_writer - the writer state of an open journal.
 * @head:         next log block to write.
 * @tail:         first log block of the oldest transaction still in the
 *                log; == @head when the log is empty.
 * @used:         log blocks between tail and head.
 * @nr_logged:    transactions in the log (committed, not checkpointed).
 * @next_tid:     tid of the next commit.
 * @last_sec/@last_nsec: commit time of the last commit (kept increasing).
 * @committed:    newest committed copy of each home block still in the
 *                log, revoked blocks removed.
 * @aborted:      an I/O error happened: nothing more is written.
 * @commits, @checkpoints, @wraps: counters for journal_get_stats().
 */
struct journal_writer {
	uint32_t head;
	uint32_t tail;
	uint32_t used;
	uint32_t nr_logged;
	uint32_t next_tid;
	uint64_t last_sec;
	uint32_t last_nsec;
	struct journal_block_table committed;
	bool aborted;
	uint64_t commits, checkpoints, wraps;
};

/* ---- block table ------------------------------------------------------- */

static size_t table_hash(uint64_t blocknr, size_t nbuckets)
{
	/* Fibonacci hashing: consecutive blocks spread over the buckets. */
	return (size_t)((blocknr * 0x9E3779B97F4A7C15ull) >> 32) &
	       (nbuckets - 1);
}

static struct journal_block *table_find(const struct journal_block_table *t,
					uint64_t blocknr)
{
	struct journal_block *b;

	if (!t->nbuckets)
		return NULL;
	for (b = t->buckets[table_hash(blocknr, t->nbuckets)]; b;
	     b = b->hash_next)
		if (b->blocknr == blocknr)
			return b;
	return NULL;
}

static int table_grow(struct journal_block_table *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : TABLE_MIN_BUCKETS;
	struct journal_block **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct journal_block *b = t->buckets[i], *next;

		for (; b; b = next) {
			size_t h = table_hash(b->blocknr, n);

			next = b->hash_next;
			b->hash_next = nb[h];
			nb[h] = b;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
	return 0;
}

/*
 * Link @b (absent from @t) into @t. Never fails: when the buckets cannot
 * grow, the chains just get longer — commit_publish() relies on that.
 */
static void table_link(struct journal_block_table *t, struct journal_block *b)
{
	size_t h;

	if (t->nr >= t->nbuckets)
		(void)table_grow(t);
	assert(t->nbuckets);
	h = table_hash(b->blocknr, t->nbuckets);
	b->hash_next = t->buckets[h];
	t->buckets[h] = b;
	t->nr++;
}

/* Insert a new entry for @blocknr (absent). Return: it, or NULL (-ENOMEM). */
static struct journal_block *table_insert(struct journal_block_table *t,
					  uint64_t blocknr)
{
	struct journal_block *b;

	if (!t->nbuckets && table_grow(t))
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->blocknr = blocknr;
	table_link(t, b);
	return b;
}

/* Unlink and free the entry of @blocknr, its copy included. */
static void table_remove(struct journal_block_table *t, uint64_t blocknr)
{
	struct journal_block **pp;

	if (!t->nbuckets)
		return;
	for (pp = &t->buckets[table_hash(blocknr, t->nbuckets)]; *pp;
	     pp = &(*pp)->hash_next) {
		struct journal_block *b = *pp;

		if (b->blocknr == blocknr) {
			*pp = b->hash_next;
			free(b->data);
			free(b);
			t->nr--;
			return;
		}
	}
}

static void table_fini(struct journal_block_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct journal_block *b = t->buckets[i], *next;

		for (; b; b = next) {
			next = b->hash_next;
			free(b->data);
			free(b);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static int cmp_block(const void *a, const void *b)
{
	uint64_t x = (*(struct journal_block *const *)a)->blocknr;
	uint64_t y = (*(struct journal_block *const *)b)->blocknr;

	return x < y ? -1 : x > y;
}

/*
 * The entries of @t with a copy (@with_data) or without (revoke records),
 * sorted by block number: sorted writes are what the device likes, and a
 * deterministic log layout is what the tests like.
 * Return: a malloc'ed array of @nr entries (NULL with @nr 0), or -ENOMEM.
 */
static int table_sorted(const struct journal_block_table *t, bool with_data,
			struct journal_block ***out, size_t *nr)
{
	struct journal_block **v;
	size_t n = 0;

	*out = NULL;
	*nr = 0;
	if (!t->nr)
		return 0;
	v = malloc(t->nr * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct journal_block *b = t->buckets[i]; b;
		     b = b->hash_next)
			if ((b->data != NULL) == with_data)
				v[n++] = b;
	qsort(v, n, sizeof(*v), cmp_block);
	*out = v;
	*nr = n;
	return 0;
}

/* ---- writer state ------------------------------------------------------ */

/* Log blocks a transaction may use at most: the area minus the slack. */
static uint32_t log_capacity(const struct journal *j)
{
	return j->sb.last - j->sb.first - 1;
}

static uint32_t next_log_block(const struct journal *j, uint32_t blk,
			       uint64_t *wraps)
{
	uint32_t next = journal_wrap(j, blk + 1);

	if (next < blk)
		(*wraps)++;
	return next;
}

/*
 * An I/O error: stop writing, as jbd2_journal_abort() does. What is in the
 * log stays there; s_errno tells the next mount (recovery marks the file
 * system with errors). Writing s_errno is best effort: the device that
 * just failed may well fail again.
 */
static int writer_abort(struct journal *j, int err)
{
	struct journal_writer *w = j->writer;

	if (w->aborted)
		return -EIO;
	w->aborted = true;
	if (!j->sb.errno_)
		j->sb.errno_ = err < 0 ? err : -EIO;
	(void)journal_sb_write(j);
	return -EIO;
}

int journal_writer_init(struct journal *j, uint32_t incompat)
{
	const uint32_t csum = JOURNAL_INCOMPAT_CSUM_V2 |
			      JOURNAL_INCOMPAT_CSUM_V3;
	const uint32_t allowed = JOURNAL_INCOMPAT_REVOKE |
				 JOURNAL_INCOMPAT_64BIT | csum;
	struct journal_writer *w;

	if (j->readonly)
		return -EROFS;
	if (j->writer)
		return -EBUSY;
	if (j->sb.start != 0)
		return -EBUSY;
	if ((incompat & ~allowed) || (incompat & csum) == csum)
		return -EINVAL;
	/* A v1 superblock has no feature words (jbd2_journal_set_features). */
	if (incompat && j->sb.blocktype != JOURNAL_BT_SB_V2)
		return -EINVAL;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;

	if (incompat & csum) {
		j->sb.feature_incompat &= ~csum;
		j->sb.feature_compat &= ~JOURNAL_COMPAT_CHECKSUM;
		j->sb.checksum_type = JOURNAL_CSUM_TYPE_CRC32C;
	}
	j->sb.feature_incompat |= incompat;
	journal_fmt_init(&j->fmt, &j->sb);

	w->head = j->sb.first;
	w->tail = j->sb.first;
	w->next_tid = j->sb.sequence;
	j->writer = w;
	return 0;
}

void journal_writer_free(struct journal *j)
{
	struct journal_writer *w = j->writer;

	if (!w)
		return;
	table_fini(&w->committed);
	free(w);
	j->writer = NULL;
}

/* ---- building a transaction -------------------------------------------- */

int journal_txn_start(struct journal *j, struct journal_txn **out)
{
	struct journal_txn *t;

	*out = NULL;
	if (!j->writer)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->j = j;
	*out = t;
	return 0;
}

/* Can @blocknr be logged (tag width) and written home (device size)? */
static bool home_block_ok(const struct journal *j, uint64_t blocknr)
{
	uint64_t nr_home = cache_bdev_size(j->bdev) / j->blocksize;

	if (!j->fmt.is_64bit && blocknr > UINT32_MAX)
		return false;
	return blocknr < nr_home;
}

int journal_txn_add(struct journal_txn *t, uint64_t blocknr,
		    const void *data)
{
	struct journal *j = t->j;
	struct journal_block *b;

	if (!home_block_ok(j, blocknr))
		return -EINVAL;
	b = table_find(&t->blocks, blocknr);
	if (b && b->data) {
		memcpy(b->data, data, j->blocksize);
		return 0;
	}
	if (!b) {
		b = table_insert(&t->blocks, blocknr);
		if (!b)
			return -ENOMEM;
	} else {
		/* A revoke of this block in this transaction: the new copy
		 * cancels it (jbd2_journal_cancel_revoke()). */
		t->nr_revoke--;
	}
	b->data = journal_block_alloc(j, 1);
	if (!b->data) {
		table_remove(&t->blocks, blocknr);
		return -ENOMEM;
	}
	memcpy(b->data, data, j->blocksize);
	t->nr_data++;
	return 0;
}

int journal_txn_revoke(struct journal_txn *t, uint64_t blocknr)
{
	struct journal *j = t->j;
	struct journal_block *b;

	if (!(j->fmt.incompat & JOURNAL_INCOMPAT_REVOKE) ||
	    !home_block_ok(j, blocknr))
		return -EINVAL;
	b = table_find(&t->blocks, blocknr);
	if (b && !b->data)
		return 0;
	if (b) {
		/* Logged in this transaction: drop the copy, but keep a
		 * revoke record — an older transaction may log it too. */
		free(b->data);
		b->data = NULL;
		t->nr_data--;
	} else if (!table_insert(&t->blocks, blocknr)) {
		return -ENOMEM;
	}
	t->nr_revoke++;
	return 0;
}

void journal_txn_abort(struct journal_txn *t)
{
	if (!t)
		return;
	table_fini(&t->blocks);
	free(t);
}

/* ---- commit ------------------------------------------------------------ */

/**
 * struct commit_plan - the log blocks of one commit, before any I/O.
 * @nr_revoke_blocks, @nr_desc: control blocks; @need: all blocks, the
 * commit block included.
 * @bios:  every write but the commit block's, in log order.
 * @stage: aligned scratch blocks: revoke and descriptor blocks, escaped
 *         data copies, and the commit block (the last one).
 */
struct commit_plan {
	size_t nr_revoke_blocks;
	size_t nr_desc;
	size_t need;
	struct cache_bio *bios;
	size_t nr_bios;
	unsigned char *stage;
	size_t nr_stage;
	size_t stage_used;
};

static unsigned char *plan_stage(const struct journal *j,
				 struct commit_plan *p)
{
	assert(p->stage_used < p->nr_stage);
	return p->stage + p->stage_used++ * j->blocksize;
}

static int plan_bio(struct journal *j, struct commit_plan *p, uint32_t logblk,
		    void *buf)
{
	return journal_log_bio(j, logblk, buf, true, &p->bios[p->nr_bios++]);
}

static bool starts_with_magic(const unsigned char *data)
{
	uint32_t v = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
		     (uint32_t)data[2] << 8 | data[3];

	return v == JOURNAL_MAGIC;
}

/*
 * Fill the bios of the revoke, descriptor and data blocks from log block
 * @start on; *@crc32_sum receives the v1 checksum. Return: the log block
 * after the last one, via @end; 0 or -EUCLEAN (map).
 */
static int plan_fill(struct journal *j, struct commit_plan *p, uint32_t tid,
		     struct journal_block **data, size_t nr_data,
		     struct journal_block **revoked, size_t nr_revoke,
		     uint32_t start, uint32_t *end, uint64_t *wraps,
		     uint32_t *crc32_sum)
{
	const struct journal_fmt *fmt = &j->fmt;
	unsigned int rcap = journal_revoke_capacity(fmt);
	unsigned int dcap = journal_desc_capacity(fmt);
	uint64_t *recs = NULL;
	struct journal_tag *tags = NULL;
	unsigned char **logged = NULL;
	uint32_t pos = start;
	int ret = -ENOMEM;

	recs = malloc(rcap * sizeof(*recs));
	tags = malloc(dcap * sizeof(*tags));
	logged = malloc(dcap * sizeof(*logged));
	if (!recs || !tags || !logged)
		goto out_free;

	/* Revoke records first, as jbd2_journal_write_revoke_records(). */
	for (size_t i = 0; i < nr_revoke; i += rcap) {
		unsigned int n = (unsigned int)(nr_revoke - i < rcap ?
						nr_revoke - i : rcap);
		unsigned char *blk = plan_stage(j, p);

		for (unsigned int k = 0; k < n; k++)
			recs[k] = revoked[i + k]->blocknr;
		journal_revoke_encode(fmt, blk, tid, recs, n);
		ret = plan_bio(j, p, pos, blk);
		if (ret)
			goto out_free;
		pos = next_log_block(j, pos, wraps);
	}

	for (size_t i = 0; i < nr_data; i += dcap) {
		unsigned int n = (unsigned int)(nr_data - i < dcap ?
						nr_data - i : dcap);
		unsigned char *desc = plan_stage(j, p);

		for (unsigned int k = 0; k < n; k++) {
			struct journal_block *b = data[i + k];

			tags[k].blocknr = b->blocknr;
			tags[k].flags = 0;
			logged[k] = b->data;
			if (starts_with_magic(b->data)) {
				/* Replay would take it for a log block:
				 * log it with the magic zeroed. */
				logged[k] = plan_stage(j, p);
				memcpy(logged[k], b->data, j->blocksize);
				memset(logged[k], 0, 4);
				tags[k].flags = JOURNAL_TAG_ESCAPE;
			}
			tags[k].csum = journal_tag_csum(fmt, tid, logged[k]);
		}
		journal_desc_encode(fmt, desc, tid, tags, n, j->sb.uuid);
		ret = plan_bio(j, p, pos, desc);
		if (ret)
			goto out_free;
		pos = next_log_block(j, pos, wraps);
		if (fmt->csum_v1)
			*crc32_sum = journal_crc32_be(*crc32_sum, desc,
						      j->blocksize);
		for (unsigned int k = 0; k < n; k++) {
			ret = plan_bio(j, p, pos, logged[k]);
			if (ret)
				goto out_free;
			pos = next_log_block(j, pos, wraps);
			if (fmt->csum_v1)
				*crc32_sum = journal_crc32_be(*crc32_sum,
							      logged[k],
							      j->blocksize);
		}
	}
	*end = pos;
	ret = 0;
out_free:
	free(logged);
	free(tags);
	free(recs);
	return ret;
}

/* A commit time after the previous one, even if the clock went back. */
static void commit_time(struct journal_writer *w, uint64_t *sec,
			uint32_t *nsec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*sec = ts.tv_sec < 0 ? 0 : (uint64_t)ts.tv_sec;
	*nsec = (uint32_t)ts.tv_nsec;
	if (*sec < w->last_sec ||
	    (*sec == w->last_sec && *nsec <= w->last_nsec)) {
		*sec = w->last_sec;
		*nsec = w->last_nsec + 1;
		if (*nsec >= 1000000000u) {
			*nsec = 0;
			(*sec)++;
		}
	}
}

/*
 * Move @t's entries into the committed table: a copy replaces the older
 * one, a revoke removes it. Allocates nothing (the entries move), so a
 * transaction that is durable in the log is always in the table too —
 * otherwise a checkpoint would mark the log empty without its copies.
 * The table has buckets already (journal_txn_commit()). Empties @t.
 */
static void commit_publish(struct journal_writer *w, struct journal_txn *t)
{
	for (size_t i = 0; i < t->blocks.nbuckets; i++) {
		struct journal_block *b = t->blocks.buckets[i], *next;

		for (; b; b = next) {
			struct journal_block *c;

			next = b->hash_next;
			c = b->data ? table_find(&w->committed, b->blocknr)
				    : NULL;
			if (!b->data) {
				table_remove(&w->committed, b->blocknr);
			} else if (c) {
				free(c->data);
				c->data = b->data;
			} else {
				table_link(&w->committed, b);
				continue;
			}
			free(b);
		}
		t->blocks.buckets[i] = NULL;
	}
	t->blocks.nr = 0;
}

int journal_txn_commit(struct journal_txn *t, uint32_t *tid_out)
{
	struct journal *j = t->j;
	struct journal_writer *w = j->writer;
	const struct journal_fmt *fmt = &j->fmt;
	struct journal_block **data = NULL, **revoked = NULL;
	struct commit_plan p = { 0 };
	size_t nr_data, nr_revoke, nr_escape = 0;
	uint32_t tid, start, end, crc32_sum = ~0u;
	uint64_t wraps = 0, sec;
	uint32_t nsec;
	struct cache_bio cbio;
	unsigned char *cblk;
	int ret;

	if (w->aborted) {
		ret = -EIO;
		goto out_abort_txn;
	}
	p.nr_revoke_blocks = (t->nr_revoke + journal_revoke_capacity(fmt) -
			      1) / journal_revoke_capacity(fmt);
	p.nr_desc = (t->nr_data + journal_desc_capacity(fmt) - 1) /
		    journal_desc_capacity(fmt);
	p.need = p.nr_revoke_blocks + p.nr_desc + t->nr_data + 1;
	if (p.need > log_capacity(j)) {
		ret = -ENOSPC;
		goto out_abort_txn;
	}
	if (w->used + p.need > log_capacity(j)) {
		ret = journal_checkpoint(j);
		if (ret)
			goto out_abort_txn;
	}

	ret = table_sorted(&t->blocks, true, &data, &nr_data);
	if (!ret)
		ret = table_sorted(&t->blocks, false, &revoked, &nr_revoke);
	if (ret)
		goto out_free;
	for (size_t i = 0; i < nr_data; i++)
		nr_escape += starts_with_magic(data[i]->data);
	p.nr_stage = p.nr_revoke_blocks + p.nr_desc + nr_escape + 1;
	p.stage = journal_block_alloc(j, p.nr_stage);
	p.bios = calloc(p.need, sizeof(*p.bios));
	if (!p.stage || !p.bios) {
		ret = -ENOMEM;
		goto out_free;
	}
	/* commit_publish() must not fail after the commit is durable. */
	if (!w->committed.nbuckets && table_grow(&w->committed)) {
		ret = -ENOMEM;
		goto out_free;
	}

	tid = w->next_tid;
	start = w->head;
	ret = plan_fill(j, &p, tid, data, nr_data, revoked, nr_revoke, start,
			&end, &wraps, &crc32_sum);
	if (ret)
		goto out_free;
	cblk = plan_stage(j, &p);

	/*
	 * First transaction after an empty log: point s_start at it before
	 * writing it. A crash before its commit block leaves a log whose
	 * first transaction is incomplete: replay finds nothing to do.
	 */
	if (!w->nr_logged) {
		j->sb.start = start;
		j->sb.sequence = tid;
		ret = journal_sb_write(j);
		if (ret)
			goto out_io_error;
	}

	ret = cache_bdev_submit(j->bdev, p.bios, (unsigned int)p.nr_bios);
	if (!ret)
		ret = cache_bdev_flush(j->bdev);
	if (ret)
		goto out_io_error;

	commit_time(w, &sec, &nsec);
	journal_commit_encode(fmt, cblk, tid, sec, nsec,
			      fmt->csum_v1 ? crc32_sum : 0);
	ret = journal_log_bio(j, end, cblk, true, &cbio);
	if (!ret)
		ret = cache_bdev_submit(j->bdev, &cbio, 1);
	if (!ret)
		ret = cache_bdev_flush(j->bdev);
	if (ret)
		goto out_io_error;
	end = next_log_block(j, end, &wraps);

	/* Durable: account for it and publish its copies. */
	w->last_sec = sec;
	w->last_nsec = nsec;
	if (!w->nr_logged)
		w->tail = start;
	w->head = end;
	w->used += (uint32_t)p.need;
	w->nr_logged++;
	w->next_tid = tid + 1;
	w->commits++;
	w->wraps += wraps;
	commit_publish(w, t);
	if (tid_out)
		*tid_out = tid;
	goto out_free;

out_io_error:
	ret = writer_abort(j, ret);
out_free:
	free(p.bios);
	free(p.stage);
	free(revoked);
	free(data);
out_abort_txn:
	journal_txn_abort(t);
	return ret;
}

/* ---- checkpoint and lookups --------------------------------------------- */

int journal_checkpoint(struct journal *j)
{
	struct journal_writer *w = j->writer;
	struct journal_block **v = NULL;
	struct cache_bio *bios = NULL;
	size_t nr = 0;
	int ret;

	if (!w)
		return -EINVAL;
	if (w->aborted)
		return -EIO;
	if (!w->nr_logged)
		return 0;

	ret = table_sorted(&w->committed, true, &v, &nr);
	if (ret)
		return ret;
	bios = calloc(CHECKPOINT_BATCH, sizeof(*bios));
	if (!bios) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < nr; i += CHECKPOINT_BATCH) {
		unsigned int n = (unsigned int)(nr - i < CHECKPOINT_BATCH ?
						nr - i : CHECKPOINT_BATCH);

		for (unsigned int k = 0; k < n; k++) {
			ret = journal_home_bio(j, v[i + k]->blocknr,
					       v[i + k]->data, true, &bios[k]);
			if (ret)
				goto out_io_error;
		}
		ret = cache_bdev_submit(j->bdev, bios, n);
		if (ret)
			goto out_io_error;
	}
	/* Home blocks durable before the log forgets them. */
	ret = cache_bdev_flush(j->bdev);
	if (ret)
		goto out_io_error;

	j->sb.start = 0;
	j->sb.sequence = w->next_tid;
	j->sb.head = w->head;
	ret = journal_sb_write(j);
	if (ret)
		goto out_io_error;

	table_fini(&w->committed);
	w->tail = w->head;
	w->used = 0;
	w->nr_logged = 0;
	w->checkpoints++;
	goto out_free;

out_io_error:
	ret = writer_abort(j, ret);
out_free:
	free(bios);
	free(v);
	return ret;
}

bool journal_lookup(struct journal *j, uint64_t blocknr, void *buf)
{
	const struct journal_block *b;

	if (!j->writer)
		return false;
	b = table_find(&j->writer->committed, blocknr);
	if (!b)
		return false;
	memcpy(buf, b->data, j->blocksize);
	return true;
}

void journal_get_stats(const struct journal *j, struct journal_stats *st)
{
	const struct journal_writer *w = j->writer;

	memset(st, 0, sizeof(*st));
	st->first = j->sb.first;
	st->last = j->sb.last;
	st->maxlen = j->sb.maxlen;
	if (!w) {
		st->head = st->tail = j->sb.start ? j->sb.start : j->sb.first;
		st->next_tid = j->sb.sequence;
		st->free_blocks = j->sb.start ? 0 : log_capacity(j);
		return;
	}
	st->head = w->head;
	st->tail = w->tail;
	st->next_tid = w->next_tid;
	st->free_blocks = w->aborted ? 0 : log_capacity(j) - w->used;
	st->commits = w->commits;
	st->checkpoints = w->checkpoints;
	st->wraps = w->wraps;
}
