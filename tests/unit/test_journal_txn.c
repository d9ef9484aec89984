// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_journal_txn.c — unit tests of the jbd2 writer
 * (journal/transaction.c) over the in-memory engine.
 *
 * Each test builds a journal superblock by hand (journal block 0 at
 * device block LOG_DEV_START, LOG_MAXLEN blocks, s_first 1), opens it,
 * makes it writable and commits transactions. Then it checks (a) the log
 * itself, decoded with format.c's decoders: layout, tags, escapes, revoke
 * records, checksums, commit times; and (b) the replay: close, reopen,
 * journal_recover() and compare every home block with a model of what
 * was committed. Covered: no checksums, v1, v2, v3, 32/64-bit tags, a v1
 * superblock, several descriptor and revoke blocks per transaction,
 * wrap-around, automatic and explicit checkpoints, -ENOSPC, lookups,
 * abort, and failing devices (the Nth write fails, N = 1, 2, ...).
 * Randomized tests print their seed; set UEXT4_TEST_SEED to reproduce.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"

#define LOG_DEV_START 2000u
#define LOG_MAXLEN 1024u
#define NR_HOME 2000u		/* home blocks 0..1999 used by the tests */
#define DEV_BLOCKS 4096u
#define START_TID 100u
#define NO_COPY UINT32_MAX

#define ALL_CSUM_FLAGS (JOURNAL_INCOMPAT_CSUM_V2 | JOURNAL_INCOMPAT_CSUM_V3)

/* ---- helpers --------------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Contents of a logged copy: a pattern from @seed (never 0); every seed
 * that is a multiple of 5 starts with the jbd2 magic, so it is escaped.
 */
static void fill_block(void *buf, unsigned int bs, uint32_t seed)
{
	unsigned char *p = buf;

	for (unsigned int i = 0; i < bs; i++)
		p[i] = (unsigned char)((seed * 131u + i * 7u + (i >> 9)) & 0xff);
	if (seed % 5 == 0)
		put32(p, JOURNAL_MAGIC);
}

static uint64_t test_seed(void)
{
	const char *s = getenv("UEXT4_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);

	printf("# seed %llu (UEXT4_TEST_SEED to reproduce)\n",
	       (unsigned long long)seed);
	return seed ? seed : 1;
}

static uint64_t rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/**
 * struct env - one device with a journal, and the model of its blocks.
 * @home:   seed of what home block b holds on the device (0 = zeros).
 * @logged: seed of the newest committed, not revoked, not checkpointed
 *          copy of b (NO_COPY if none): what replay or a checkpoint
 *          will write home.
 */
struct env {
	unsigned int bs;
	uint32_t sb_type, compat, incompat;	/* superblock as created */
	struct cache_bdev *bdev;
	uint64_t map[LOG_MAXLEN];
	struct journal *j;
	uint32_t home[NR_HOME];
	uint32_t logged[NR_HOME];
	unsigned char *buf;
	uint32_t next_seed;
};

static void env_open(struct env *e, bool readonly)
{
	struct journal_geometry geo = {
		.bdev = e->bdev, .blocksize = e->bs,
		.map = e->map, .nr_blocks = LOG_MAXLEN,
	};

	assert_int_equal(journal_open(&geo, readonly, &e->j), 0);
}

/* A fresh device whose journal superblock says @sb_type, @compat, @incompat. */
static struct env *env_create(unsigned int bs, uint32_t sb_type,
			      uint32_t compat, uint32_t incompat)
{
	struct env *e = calloc(1, sizeof(*e));
	unsigned char *sb;

	assert_non_null(e);
	e->bs = bs;
	e->sb_type = sb_type;
	e->compat = compat;
	e->incompat = incompat;
	e->next_seed = 1;
	e->buf = malloc(bs);
	assert_non_null(e->buf);
	for (unsigned int i = 0; i < NR_HOME; i++)
		e->logged[i] = NO_COPY;
	for (unsigned int i = 0; i < LOG_MAXLEN; i++)
		e->map[i] = LOG_DEV_START + i;
	assert_int_equal(cache_bdev_open_memory((uint64_t)DEV_BLOCKS * bs,
						&e->bdev), 0);

	sb = calloc(1, bs);
	assert_non_null(sb);
	put32(sb, JOURNAL_MAGIC);
	put32(sb + 4, sb_type);
	put32(sb + 0x0C, bs);
	put32(sb + 0x10, LOG_MAXLEN);
	put32(sb + 0x14, 1);
	put32(sb + 0x18, START_TID);
	if (sb_type == JOURNAL_BT_SB_V2) {
		put32(sb + 0x24, compat);
		put32(sb + 0x28, incompat);
		for (int i = 0; i < 16; i++)
			sb[0x30 + i] = (unsigned char)(0xA0 + i * 3);
		put32(sb + 0x40, 1);
		if (incompat & ALL_CSUM_FLAGS) {
			sb[0x50] = JOURNAL_CSUM_TYPE_CRC32C;
			put32(sb + 0xFC, journal_sb_csum(sb));
		}
	}
	assert_int_equal(cache_bdev_pwrite(e->bdev, sb, bs,
					   (uint64_t)LOG_DEV_START * bs), 0);
	free(sb);
	env_open(e, false);
	return e;
}

static void env_destroy(struct env *e)
{
	if (e->j)
		journal_close(e->j);
	cache_bdev_close(e->bdev);
	free(e->buf);
	free(e);
}

/* Model: a commit is durable. */
static void model_add(struct env *e, uint64_t b, uint32_t seed)
{
	e->logged[b] = seed;
}

static void model_revoke(struct env *e, uint64_t b)
{
	e->logged[b] = NO_COPY;
}

/* Model: a checkpoint or a replay wrote every logged copy home. */
static void model_home(struct env *e)
{
	for (unsigned int i = 0; i < NR_HOME; i++) {
		if (e->logged[i] != NO_COPY)
			e->home[i] = e->logged[i];
		e->logged[i] = NO_COPY;
	}
}

/* Every home block holds what the model says. */
static void check_home(struct env *e)
{
	unsigned char *want = malloc(e->bs);

	assert_non_null(want);
	for (unsigned int b = 0; b < NR_HOME; b++) {
		assert_int_equal(cache_bdev_pread(e->bdev, e->buf, e->bs,
						  (uint64_t)b * e->bs), 0);
		if (e->home[b])
			fill_block(want, e->bs, e->home[b]);
		else
			memset(want, 0, e->bs);
		if (memcmp(want, e->buf, e->bs)) {
			fail_msg("home block %u: want seed %u", b, e->home[b]);
		}
	}
	free(want);
}

/* Add @b with a fresh seed to @t; record it in @pending (seed per block). */
static uint32_t txn_add(struct env *e, struct journal_txn *t, uint64_t b)
{
	uint32_t seed = e->next_seed++;

	fill_block(e->buf, e->bs, seed);
	assert_int_equal(journal_txn_add(t, b, e->buf), 0);
	return seed;
}

/**
 * struct txn_plan - a transaction as the tests describe it: @nr_add
 * blocks starting at @add_first (step @add_step), @nr_revoke revokes
 * starting at @rev_first (step 1).
 */
struct txn_plan {
	uint64_t add_first, add_step;
	unsigned int nr_add;
	uint64_t rev_first;
	unsigned int nr_revoke;
};

/*
 * Build and commit one transaction; on success, update the model. When
 * the commit had to checkpoint first, everything logged before it went
 * home, and only this transaction's copies stay in the log.
 * Return: journal_txn_commit()'s result.
 */
static int commit_txn(struct env *e, const struct txn_plan *p, uint32_t *tid)
{
	uint32_t *seeds = calloc(p->nr_add + 1, sizeof(*seeds));
	struct journal_stats st0, st1;
	struct journal_txn *t;
	int ret;

	assert_non_null(seeds);
	journal_get_stats(e->j, &st0);
	assert_int_equal(journal_txn_start(e->j, &t), 0);
	for (unsigned int i = 0; i < p->nr_revoke; i++)
		assert_int_equal(journal_txn_revoke(t, p->rev_first + i), 0);
	for (unsigned int i = 0; i < p->nr_add; i++)
		seeds[i] = txn_add(e, t, p->add_first + i * p->add_step);
	ret = journal_txn_commit(t, tid);
	journal_get_stats(e->j, &st1);
	if (!ret && st1.checkpoints > st0.checkpoints)
		model_home(e);
	if (!ret) {
		/* Revokes first: an add of a revoked block cancels it. */
		for (unsigned int i = 0; i < p->nr_revoke; i++)
			model_revoke(e, p->rev_first + i);
		for (unsigned int i = 0; i < p->nr_add; i++)
			model_add(e, p->add_first + i * p->add_step, seeds[i]);
	}
	free(seeds);
	return ret;
}

/* Commit one transaction, expecting @want. Return: its tid. */
static uint32_t commit_plan(struct env *e, const struct txn_plan *p, int want)
{
	uint32_t tid = 0;

	assert_int_equal(commit_txn(e, p, &tid), want);
	return tid;
}

static void reopen(struct env *e)
{
	journal_close(e->j);
	e->j = NULL;
	env_open(e, false);
}

/* Close, reopen, replay; the home blocks must match the model. */
static void recover_and_check(struct env *e, struct journal_recovery_info *out)
{
	struct journal_recovery_info info;

	reopen(e);
	memset(&info, 0, sizeof(info));
	assert_int_equal(journal_recover(e->j, &info), 0);
	assert_int_equal(info.failed_commit, 0);
	assert_false(journal_needs_recovery(e->j));
	model_home(e);
	check_home(e);
	if (out)
		*out = info;
}

/* ---- decoding the log --------------------------------------------------- */

/** struct log_walk - what walk_log() found, from s_start on. */
struct log_walk {
	struct journal_sb sb;
	struct journal_fmt fmt;
	unsigned int nr_txns;
	uint32_t first_tid;
	unsigned int nr_desc, nr_data, nr_revoke_blocks, nr_revokes;
	unsigned int nr_escaped, nr_blocks, nr_wraps;
	unsigned int max_desc_per_txn, max_revoke_blocks_per_txn;
	uint64_t revoked_sum;		/* sum of revoked block numbers */
};

static void read_log_block(struct env *e, uint32_t blk, void *buf)
{
	assert_int_equal(cache_bdev_pread(e->bdev, buf, e->bs,
					  (uint64_t)(LOG_DEV_START + blk) *
						  e->bs), 0);
}

static uint32_t walk_next(const struct log_walk *w, uint32_t blk,
			  unsigned int *wraps)
{
	if (++blk >= w->sb.last) {
		(*wraps)++;
		return w->sb.first;
	}
	return blk;
}

/*
 * Decode the log from s_start as replay's scan pass would, checking every
 * checksum, tag flag, escape and commit time on the way. Stops at the
 * first block that is not the next expected transaction's.
 */
static void walk_log(struct env *e, struct log_walk *w)
{
	unsigned char *blk = malloc(e->bs), *data = malloc(e->bs);
	struct journal_tag *tags = calloc(e->bs / 8, sizeof(*tags));
	uint64_t *recs = calloc(e->bs / 4, sizeof(*recs));
	uint64_t last_sec = 0;
	uint32_t last_nsec = 0, pos, tid, crc = ~0u;
	unsigned int desc_in_txn = 0, rev_in_txn = 0;

	assert_non_null(blk);
	assert_non_null(data);
	memset(w, 0, sizeof(*w));
	read_log_block(e, 0, blk);
	assert_int_equal(journal_sb_decode(blk, e->bs, LOG_MAXLEN, &w->sb), 0);
	journal_fmt_init(&w->fmt, &w->sb);
	w->first_tid = w->sb.sequence;
	if (!w->sb.start)
		goto out;
	pos = w->sb.start;
	tid = w->sb.sequence;
	for (unsigned int guard = 0; guard < 4 * LOG_MAXLEN; guard++) {
		uint32_t type, seq;
		unsigned int n;
		struct journal_commit c;

		read_log_block(e, pos, blk);
		if (!journal_header_decode(blk, &type, &seq) || seq != tid)
			break;
		w->nr_blocks++;
		switch (type) {
		case JOURNAL_BT_DESCRIPTOR:
			assert_true(journal_block_tail_csum_verify(&w->fmt, blk));
			if (w->fmt.csum_v1)
				crc = journal_crc32_be(crc, blk, e->bs);
			n = journal_desc_parse(&w->fmt, blk, tags, e->bs / 8);
			assert_true(n > 0);
			/* UUID after the first tag, then SAME_UUID. */
			assert_false(tags[0].flags & JOURNAL_TAG_SAME_UUID);
			assert_memory_equal(blk + JOURNAL_HEADER_SIZE +
						    w->fmt.tag_bytes,
					    w->sb.uuid, 16);
			for (unsigned int i = 0; i < n; i++) {
				bool last = i == n - 1;

				if (i)
					assert_true(tags[i].flags &
						    JOURNAL_TAG_SAME_UUID);
				assert_int_equal(!!(tags[i].flags &
						    JOURNAL_TAG_LAST_TAG), last);
				pos = walk_next(w, pos, &w->nr_wraps);
				read_log_block(e, pos, data);
				w->nr_blocks++;
				w->nr_data++;
				assert_true(journal_tag_csum_verify(
					&w->fmt, &tags[i], tid, data));
				if (w->fmt.csum_v1)
					crc = journal_crc32_be(crc, data,
							       e->bs);
				if (tags[i].flags & JOURNAL_TAG_ESCAPE) {
					w->nr_escaped++;
					assert_int_equal(get32(data), 0);
				} else {
					assert_int_not_equal(get32(data),
							     JOURNAL_MAGIC);
				}
			}
			w->nr_desc++;
			desc_in_txn++;
			break;
		case JOURNAL_BT_REVOKE: {
			int nr;

			assert_true(journal_block_tail_csum_verify(&w->fmt, blk));
			/* Revoke blocks come before any descriptor. */
			assert_int_equal(desc_in_txn, 0);
			nr = journal_revoke_parse(&w->fmt, blk, recs, e->bs / 4);
			assert_true(nr > 0);
			for (int i = 0; i < nr; i++)
				w->revoked_sum += recs[i];
			w->nr_revokes += (unsigned int)nr;
			w->nr_revoke_blocks++;
			rev_in_txn++;
			break;
		}
		case JOURNAL_BT_COMMIT:
			assert_true(journal_commit_csum_verify(&w->fmt, blk));
			journal_commit_decode(blk, &c);
			assert_true(c.sec > last_sec ||
				    (c.sec == last_sec && c.nsec > last_nsec));
			assert_true(c.nsec < 1000000000u);
			last_sec = c.sec;
			last_nsec = c.nsec;
			if (w->fmt.csum_v1) {
				assert_int_equal(c.chksum_type,
						 JOURNAL_CSUM_TYPE_CRC32);
				assert_int_equal(c.chksum_size, 4);
				assert_int_equal(c.chksum0, crc);
			}
			if (desc_in_txn > w->max_desc_per_txn)
				w->max_desc_per_txn = desc_in_txn;
			if (rev_in_txn > w->max_revoke_blocks_per_txn)
				w->max_revoke_blocks_per_txn = rev_in_txn;
			desc_in_txn = rev_in_txn = 0;
			crc = ~0u;
			w->nr_txns++;
			tid++;
			break;
		default:
			fail_msg("log block %u: type %u", pos, type);
		}
		pos = walk_next(w, pos, &w->nr_wraps);
	}
out:
	free(recs);
	free(tags);
	free(data);
	free(blk);
}

/* ---- layout of one transaction ------------------------------------------ */

static void test_layout_v3(void **state)
{
	struct env *e = env_create(4096, JOURNAL_BT_SB_V2, 0, 0);
	uint32_t incompat = JOURNAL_INCOMPAT_REVOKE | JOURNAL_INCOMPAT_64BIT |
			    JOURNAL_INCOMPAT_CSUM_V3;
	struct txn_plan p = {
		.add_first = 10, .add_step = 3, .nr_add = 6,
		.rev_first = 500, .nr_revoke = 4,
	};
	struct journal_stats st;
	struct log_walk w;
	uint32_t tid;

	(void)state;
	assert_int_equal(journal_writer_init(e->j, incompat), 0);
	journal_get_stats(e->j, &st);
	assert_int_equal(st.head, 1);
	assert_int_equal(st.tail, 1);
	assert_int_equal(st.next_tid, START_TID);
	assert_int_equal(st.free_blocks, LOG_MAXLEN - 2);

	/* Nothing is written before the first commit. */
	walk_log(e, &w);
	assert_int_equal(w.sb.start, 0);
	assert_int_equal(w.sb.feature_incompat, 0);

	tid = commit_plan(e, &p, 0);
	assert_int_equal(tid, START_TID);
	walk_log(e, &w);
	assert_int_equal(w.sb.start, 1);
	assert_int_equal(w.sb.sequence, START_TID);
	assert_int_equal(w.sb.feature_incompat, incompat);
	assert_int_equal(w.sb.checksum_type, JOURNAL_CSUM_TYPE_CRC32C);
	assert_int_equal(w.nr_txns, 1);
	assert_int_equal(w.nr_revoke_blocks, 1);
	assert_int_equal(w.nr_revokes, 4);
	assert_int_equal(w.revoked_sum, 500 + 501 + 502 + 503);
	assert_int_equal(w.nr_desc, 1);
	assert_int_equal(w.nr_data, 6);
	/* seeds 1..6: seed 5 starts with the magic */
	assert_int_equal(w.nr_escaped, 1);
	assert_int_equal(w.nr_blocks, 1 + 1 + 6 + 1);

	journal_get_stats(e->j, &st);
	assert_int_equal(st.head, 10);
	assert_int_equal(st.tail, 1);
	assert_int_equal(st.next_tid, START_TID + 1);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.free_blocks, LOG_MAXLEN - 2 - 9);

	/* Lookups see the committed copies, escaped one included. */
	for (unsigned int i = 0; i < p.nr_add; i++) {
		unsigned char want[4096];

		fill_block(want, e->bs, i + 1);
		assert_true(journal_lookup(e->j, 10 + i * 3, e->buf));
		assert_memory_equal(want, e->buf, e->bs);
	}
	assert_false(journal_lookup(e->j, 11, e->buf));

	/* The home blocks are untouched until a replay or a checkpoint. */
	check_home(e);
	recover_and_check(e, NULL);
	env_destroy(e);
}

/* ---- every format ------------------------------------------------------- */

struct fmt_case {
	const char *name;
	unsigned int bs;
	uint32_t sb_type, sb_compat, sb_incompat;
	uint32_t init_incompat;
};

static void run_format_case(const struct fmt_case *fc)
{
	struct env *e = env_create(fc->bs, fc->sb_type, fc->sb_compat,
				   fc->sb_incompat);
	unsigned int dcap, rcap, nr_data, nr_rev;
	struct journal_recovery_info info;
	struct log_walk w;

	printf("# format %s, %u-byte blocks\n", fc->name, fc->bs);
	assert_int_equal(journal_writer_init(e->j, fc->init_incompat), 0);
	dcap = journal_desc_capacity(&e->j->fmt);
	rcap = journal_revoke_capacity(&e->j->fmt);
	/* Enough for three descriptors and, with REVOKE, three revoke blocks;
	 * small enough for the log (1022 usable blocks). */
	nr_data = 2 * dcap + 5;
	nr_rev = 2 * rcap + 7;
	if (nr_data > 600)
		nr_data = 600;
	if (nr_rev > 1800)
		nr_rev = 1800;

	/* T1: blocks 0.., with every fifth escaped. */
	struct txn_plan p1 = { .add_first = 0, .add_step = 1,
			       .nr_add = nr_data };
	commit_plan(e, &p1, 0);
	if (fc->init_incompat & JOURNAL_INCOMPAT_REVOKE) {
		/* T2: revoke half of T1's blocks and more, re-add some. */
		struct txn_plan p2 = { .add_first = 1000, .add_step = 2,
				       .nr_add = 20, .rev_first = 100,
				       .nr_revoke = nr_rev };
		commit_plan(e, &p2, 0);
	} else {
		struct journal_txn *t;

		assert_int_equal(journal_txn_start(e->j, &t), 0);
		assert_int_equal(journal_txn_revoke(t, 5), -EINVAL);
		journal_txn_abort(t);
	}
	/* T3: rewrite a few blocks of T1 (the newest copy wins). */
	struct txn_plan p3 = { .add_first = 3, .add_step = 7, .nr_add = 30 };
	commit_plan(e, &p3, 0);

	walk_log(e, &w);
	assert_int_equal(w.nr_txns,
			 fc->init_incompat & JOURNAL_INCOMPAT_REVOKE ? 3 : 2);
	assert_true(w.max_desc_per_txn >= (nr_data + dcap - 1) / dcap);
	if (nr_data > dcap)
		assert_true(w.max_desc_per_txn >= 2);
	if (fc->init_incompat & JOURNAL_INCOMPAT_REVOKE) {
		/* T2's adds of 1000, 1002, ... cancel their revokes. */
		unsigned int cancelled = 0;

		for (unsigned int i = 0; i < 20; i++)
			cancelled += 1000 + 2 * i < 100 + nr_rev;
		nr_rev -= cancelled;
		assert_int_equal(w.nr_revokes, nr_rev);
		assert_int_equal(w.max_revoke_blocks_per_txn,
				 (nr_rev + rcap - 1) / rcap);
		assert_true(w.max_revoke_blocks_per_txn >= 2);
	}
	assert_true(w.nr_escaped > 0);
	assert_int_equal(w.fmt.csum_v1, !!(fc->sb_compat &
					   JOURNAL_COMPAT_CHECKSUM) &&
			 !(fc->init_incompat & ALL_CSUM_FLAGS));

	recover_and_check(e, &info);
	assert_int_equal(info.start_tid, START_TID);
	assert_int_equal(info.end_tid, START_TID + w.nr_txns);
	env_destroy(e);
}

static void test_formats(void **state)
{
	const uint32_t R = JOURNAL_INCOMPAT_REVOKE, B64 = JOURNAL_INCOMPAT_64BIT,
		       V2 = JOURNAL_INCOMPAT_CSUM_V2,
		       V3 = JOURNAL_INCOMPAT_CSUM_V3;
	const struct fmt_case cases[] = {
		{ "none 32", 4096, JOURNAL_BT_SB_V2, 0, 0, R },
		{ "none 64", 1024, JOURNAL_BT_SB_V2, 0, 0, R | B64 },
		{ "sb-v1", 1024, JOURNAL_BT_SB_V1, 0, 0, 0 },
		{ "no revoke", 4096, JOURNAL_BT_SB_V2, 0, 0, B64 },
		{ "v1 32", 1024, JOURNAL_BT_SB_V2, JOURNAL_COMPAT_CHECKSUM,
		  0, R },
		{ "v1 64", 4096, JOURNAL_BT_SB_V2, JOURNAL_COMPAT_CHECKSUM,
		  0, R | B64 },
		{ "v2 32", 1024, JOURNAL_BT_SB_V2, 0, 0, R | V2 },
		{ "v2 64", 4096, JOURNAL_BT_SB_V2, 0, 0, R | B64 | V2 },
		{ "v3 32", 4096, JOURNAL_BT_SB_V2, 0, 0, R | V3 },
		{ "v3 64", 1024, JOURNAL_BT_SB_V2, 0, 0, R | B64 | V3 },
		/* v1 on disk, v3 asked for: COMPAT_CHECKSUM goes away. */
		{ "v1 to v3", 4096, JOURNAL_BT_SB_V2, JOURNAL_COMPAT_CHECKSUM,
		  0, R | B64 | V3 },
		/* v2 on disk, v3 asked for: v2 goes away. */
		{ "v2 to v3", 1024, JOURNAL_BT_SB_V2, 0, V2, R | V3 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_format_case(&cases[i]);
}

/* ---- writer setup errors ------------------------------------------------- */

static void test_init_errors(void **state)
{
	struct env *e = env_create(1024, JOURNAL_BT_SB_V2, 0, 0);
	struct journal_txn *t;
	struct txn_plan p = { .add_first = 1, .add_step = 1, .nr_add = 2 };

	(void)state;
	assert_int_equal(journal_writer_init(e->j, ALL_CSUM_FLAGS), -EINVAL);
	assert_int_equal(journal_writer_init(
				 e->j, JOURNAL_INCOMPAT_ASYNC_COMMIT), -EINVAL);
	assert_int_equal(journal_writer_init(
				 e->j, JOURNAL_INCOMPAT_FAST_COMMIT), -EINVAL);
	assert_int_equal(journal_txn_start(e->j, &t), -EINVAL);
	assert_int_equal(journal_writer_init(e->j, JOURNAL_INCOMPAT_REVOKE), 0);
	assert_int_equal(journal_writer_init(e->j, 0), -EBUSY);

	/* Block numbers: 32-bit tags, the device end. */
	assert_int_equal(journal_txn_start(e->j, &t), 0);
	assert_int_equal(journal_txn_add(t, (uint64_t)1 << 32, e->buf),
			 -EINVAL);
	assert_int_equal(journal_txn_revoke(t, (uint64_t)1 << 32), -EINVAL);
	assert_int_equal(journal_txn_add(t, DEV_BLOCKS, e->buf), -EINVAL);
	journal_txn_abort(t);

	/* A log that is not empty must be recovered first. */
	commit_plan(e, &p, 0);
	reopen(e);
	assert_true(journal_needs_recovery(e->j));
	assert_int_equal(journal_writer_init(e->j, 0), -EBUSY);
	recover_and_check(e, NULL);
	assert_int_equal(journal_writer_init(e->j, 0), 0);

	/* Read-only. */
	journal_close(e->j);
	env_open(e, true);
	assert_int_equal(journal_writer_init(e->j, 0), -EROFS);

	/* A v1 superblock carries no features. */
	env_destroy(e);
	e = env_create(1024, JOURNAL_BT_SB_V1, 0, 0);
	assert_int_equal(journal_writer_init(e->j, JOURNAL_INCOMPAT_REVOKE),
			 -EINVAL);
	assert_int_equal(journal_writer_init(e->j, 0), 0);
	env_destroy(e);
}

/* ---- adds, revokes and lookups ------------------------------------------ */

static void test_add_revoke_lookup(void **state)
{
	struct env *e = env_create(1024, JOURNAL_BT_SB_V2, 0, 0);
	struct journal_txn *t;
	unsigned char want[1024];
	uint32_t s;

	(void)state;
	assert_int_equal(journal_writer_init(e->j, JOURNAL_INCOMPAT_REVOKE |
						   JOURNAL_INCOMPAT_CSUM_V3), 0);

	/* T1: 1, 2, 3, 4 ; 2 added twice (last copy kept). */
	assert_int_equal(journal_txn_start(e->j, &t), 0);
	for (uint64_t b = 1; b <= 4; b++)
		model_add(e, b, txn_add(e, t, b));
	model_add(e, 2, txn_add(e, t, 2));
	assert_int_equal(journal_txn_commit(t, NULL), 0);
	for (uint64_t b = 1; b <= 4; b++) {
		fill_block(want, e->bs, e->logged[b]);
		assert_true(journal_lookup(e->j, b, e->buf));
		assert_memory_equal(want, e->buf, e->bs);
	}

	/*
	 * T2: revoke 1 (logged by T1); add then revoke 5 (dropped, revoke
	 * kept); revoke then add 3 (revoke cancelled, new copy); revoke 2
	 * twice; add 6.
	 */
	assert_int_equal(journal_txn_start(e->j, &t), 0);
	assert_int_equal(journal_txn_revoke(t, 1), 0);
	txn_add(e, t, 5);
	assert_int_equal(journal_txn_revoke(t, 5), 0);
	assert_int_equal(journal_txn_revoke(t, 3), 0);
	s = txn_add(e, t, 3);
	assert_int_equal(journal_txn_revoke(t, 2), 0);
	assert_int_equal(journal_txn_revoke(t, 2), 0);
	model_add(e, 6, txn_add(e, t, 6));
	assert_int_equal(journal_txn_commit(t, NULL), 0);
	model_revoke(e, 1);
	model_revoke(e, 5);
	model_revoke(e, 2);
	model_add(e, 3, s);

	assert_false(journal_lookup(e->j, 1, e->buf));
	assert_false(journal_lookup(e->j, 2, e->buf));
	assert_false(journal_lookup(e->j, 5, e->buf));
	fill_block(want, e->bs, s);
	assert_true(journal_lookup(e->j, 3, e->buf));
	assert_memory_equal(want, e->buf, e->bs);

	struct log_walk w;

	walk_log(e, &w);
	assert_int_equal(w.nr_txns, 2);
	assert_int_equal(w.nr_revokes, 3);	/* 1, 2, 5 */
	assert_int_equal(w.revoked_sum, 1 + 2 + 5);
	assert_int_equal(w.nr_data, 4 + 2);	/* T1: 1-4; T2: 3, 6 */

	/* T3: re-add 1 after its revoke: replayed again. */
	struct txn_plan p = { .add_first = 1, .add_step = 1, .nr_add = 1 };

	commit_plan(e, &p, 0);
	assert_true(journal_lookup(e->j, 1, e->buf));

	/* An aborted transaction leaves no trace. */
	struct journal_stats st0, st1;

	journal_get_stats(e->j, &st0);
	assert_int_equal(journal_txn_start(e->j, &t), 0);
	txn_add(e, t, 7);
	assert_int_equal(journal_txn_revoke(t, 4), 0);
	journal_txn_abort(t);
	journal_get_stats(e->j, &st1);
	assert_memory_equal(&st0, &st1, sizeof(st0));
	assert_false(journal_lookup(e->j, 7, e->buf));
	assert_true(journal_lookup(e->j, 4, e->buf));

	recover_and_check(e, NULL);
	env_destroy(e);
}

/* ---- checkpoints, wrap-around, full log ----------------------------------- */

static void test_checkpoint(void **state)
{
	struct env *e = env_create(4096, JOURNAL_BT_SB_V2, 0, 0);
	struct txn_plan p = { .add_first = 100, .add_step = 1, .nr_add = 50,
			      .rev_first = 120, .nr_revoke = 0 };
	struct journal_stats st;
	struct log_walk w;

	(void)state;
	assert_int_equal(journal_writer_init(e->j, JOURNAL_INCOMPAT_REVOKE |
						   JOURNAL_INCOMPAT_64BIT |
						   JOURNAL_INCOMPAT_CSUM_V2), 0);
	/* Nothing to checkpoint: nothing written. */
	assert_int_equal(journal_checkpoint(e->j), 0);
	walk_log(e, &w);
	assert_int_equal(w.sb.feature_incompat, 0);

	commit_plan(e, &p, 0);
	p.add_first = 140;
	p.nr_revoke = 10;	/* revokes 120..129 of the first */
	commit_plan(e, &p, 0);
	assert_int_equal(journal_checkpoint(e->j), 0);
	model_home(e);
	check_home(e);
	for (unsigned int b = 100; b < 190; b++)
		assert_false(journal_lookup(e->j, b, e->buf));

	walk_log(e, &w);
	assert_int_equal(w.sb.start, 0);
	assert_int_equal(w.sb.sequence, START_TID + 2);
	journal_get_stats(e->j, &st);
	assert_int_equal(st.checkpoints, 1);
	assert_int_equal(st.head, st.tail);
	assert_int_equal(st.head, 1 + 2 * (1 + 50 + 1) + 1);
	assert_int_equal(w.sb.head, st.head);
	assert_int_equal(st.free_blocks, LOG_MAXLEN - 2);

	/* The next transaction starts at the head, not at s_first. */
	p.add_first = 300;
	p.nr_revoke = 0;
	assert_int_equal(commit_plan(e, &p, 0), START_TID + 2);
	walk_log(e, &w);
	assert_int_equal(w.sb.start, st.head);
	assert_int_equal(w.sb.sequence, START_TID + 2);
	assert_int_equal(w.nr_txns, 1);
	recover_and_check(e, NULL);
	env_destroy(e);
}

static void test_wrap(void **state)
{
	struct env *e = env_create(1024, JOURNAL_BT_SB_V2, 0, 0);
	uint64_t seed = test_seed(), rs = seed;
	struct journal_recovery_info info;
	struct journal_stats st;
	struct log_walk w;
	unsigned int i;

	(void)state;
	assert_int_equal(journal_writer_init(e->j, JOURNAL_INCOMPAT_REVOKE |
						   JOURNAL_INCOMPAT_CSUM_V3), 0);
	/* Move the head to ~3/4 of the log, then checkpoint. */
	for (i = 0; i < 7; i++) {
		struct txn_plan p = { .add_first = i * 100, .add_step = 1,
				      .nr_add = 100 };
		commit_plan(e, &p, 0);
	}
	assert_int_equal(journal_checkpoint(e->j), 0);
	model_home(e);
	journal_get_stats(e->j, &st);
	assert_int_equal(st.wraps, 0);
	assert_true(st.head > 700);

	/* Many random transactions without a checkpoint, across the end. */
	for (i = 0;; i++) {
		struct txn_plan p = {
			.add_first = rnd(&rs) % 1500, .add_step = 1 + rnd(&rs) % 3,
			.nr_add = 1 + (unsigned int)(rnd(&rs) % 60),
			.rev_first = rnd(&rs) % 1900,
			.nr_revoke = (unsigned int)(rnd(&rs) % 5),
		};

		commit_plan(e, &p, 0);
		journal_get_stats(e->j, &st);
		if (st.wraps && st.free_blocks < 200)
			break;
	}
	assert_int_equal(st.checkpoints, 1);
	assert_true(st.head < st.tail);
	walk_log(e, &w);
	assert_int_equal(w.nr_wraps, 1);
	assert_int_equal(w.nr_txns, i + 1);
	assert_int_equal(w.sb.start, st.tail);
	/* Replay across the wrap. */
	recover_and_check(e, &info);
	assert_int_equal(info.end_tid, st.next_tid);

	/* Then with checkpoints: keep going until the log fills up twice. */
	assert_int_equal(journal_writer_init(e->j, JOURNAL_INCOMPAT_REVOKE |
						   JOURNAL_INCOMPAT_CSUM_V3), 0);
	for (i = 0;; i++) {
		struct txn_plan p = {
			.add_first = rnd(&rs) % 1500, .add_step = 1,
			.nr_add = 1 + (unsigned int)(rnd(&rs) % 200),
			.rev_first = rnd(&rs) % 1900,
			.nr_revoke = (unsigned int)(rnd(&rs) % 5),
		};
		struct journal_stats before;

		journal_get_stats(e->j, &before);
		commit_plan(e, &p, 0);
		journal_get_stats(e->j, &st);
		if (st.checkpoints > before.checkpoints) {
			/* Checkpointed first: older copies are home, the
			 * log holds this transaction alone. */
			check_home(e);
			walk_log(e, &w);
			assert_int_equal(w.nr_txns, 1);
			assert_int_equal(w.first_tid, st.next_tid - 1);
		}
		if (st.checkpoints >= 3)
			break;
	}
	recover_and_check(e, NULL);
	env_destroy(e);
}

static void test_full_log(void **state)
{
	struct env *e = env_create(4096, JOURNAL_BT_SB_V2, 0, 0);
	struct journal_stats st;
	struct log_walk w;
	unsigned int i;

	(void)state;
	assert_int_equal(journal_writer_init(e->j, JOURNAL_INCOMPAT_REVOKE |
						   JOURNAL_INCOMPAT_64BIT |
						   JOURNAL_INCOMPAT_CSUM_V3), 0);
	/* 400 + 2 blocks per transaction: the third does not fit. */
	for (i = 0; i < 2; i++) {
		struct txn_plan p = { .add_first = i * 400, .add_step = 1,
				      .nr_add = 400 };
		commit_plan(e, &p, 0);
	}
	journal_get_stats(e->j, &st);
	assert_int_equal(st.checkpoints, 0);
	assert_int_equal(st.free_blocks, LOG_MAXLEN - 2 - 2 * 403);
	check_home(e);		/* still all zeros */

	/* The third checkpoints T1 and T2 first. */
	struct txn_plan p3 = { .add_first = 1000, .add_step = 1, .nr_add = 400 };

	commit_plan(e, &p3, 0);
	journal_get_stats(e->j, &st);
	assert_int_equal(st.checkpoints, 1);
	assert_int_equal(st.commits, 3);
	assert_int_equal(st.free_blocks, LOG_MAXLEN - 2 - 403);
	check_home(e);		/* T1 and T2 */
	walk_log(e, &w);
	assert_int_equal(w.nr_txns, 1);
	assert_int_equal(w.first_tid, START_TID + 2);

	/* Larger than the log: -ENOSPC, nothing written. A v3 4 KiB
	 * descriptor holds 254 tags: 1016 blocks need 1021 log blocks
	 * (fits the 1022 usable), 1017 need 1023. */
	struct txn_plan big = { .add_first = 0, .add_step = 1, .nr_add = 1017 };

	commit_plan(e, &big, -ENOSPC);
	journal_get_stats(e->j, &st);
	assert_int_equal(st.commits, 3);
	assert_int_equal(st.checkpoints, 1);
	big.nr_add = 1016;
	commit_plan(e, &big, 0);
	journal_get_stats(e->j, &st);
	assert_int_equal(st.checkpoints, 2);
	assert_int_equal(st.free_blocks, 1);
	recover_and_check(e, NULL);
	env_destroy(e);
}

/* ---- failing devices ----------------------------------------------------- */

struct fault_ctx {
	unsigned int fail_at;	/* fail the Nth write (1-based), 0 = never */
	unsigned int writes;
	unsigned int failed;
};

static int fault_nth_write(void *ctx, const struct cache_bio *bio)
{
	struct fault_ctx *f = ctx;

	if (!bio->write)
		return 0;
	if (++f->writes >= f->fail_at && f->fail_at) {
		f->failed++;
		return -EIO;	/* the device stays broken */
	}
	return 0;
}

static void test_faults(void **state)
{
	(void)state;
	for (unsigned int n = 1;; n++) {
		struct env *e = env_create(1024, JOURNAL_BT_SB_V2, 0, 0);
		struct fault_ctx f = { .fail_at = n };
		struct txn_plan p1 = { .add_first = 10, .add_step = 1,
				       .nr_add = 5 };
		struct txn_plan p2 = { .add_first = 12, .add_step = 1,
				       .nr_add = 200, .rev_first = 10,
				       .nr_revoke = 1 };
		struct journal_recovery_info info;
		int ret;

		assert_int_equal(journal_writer_init(
			e->j, JOURNAL_INCOMPAT_REVOKE |
			JOURNAL_INCOMPAT_CSUM_V3), 0);
		commit_plan(e, &p1, 0);
		/* fail_at counts from here: the second commit, then a
		 * checkpoint. */
		cache_bdev_set_fault(e->bdev, fault_nth_write, &f);
		ret = commit_txn(e, &p2, NULL);
		assert_int_equal(ret, f.failed ? -EIO : 0);
		/* A failed commit is absent after replay: its commit block
		 * is its last write, and the model never saw it. */
		ret = journal_checkpoint(e->j);
		if (!ret && !f.failed) {
			model_home(e);
		} else {
			assert_int_equal(ret, -EIO);
			/* Aborted: later commits fail too. */
			commit_plan(e, &p1, -EIO);
			assert_int_equal(journal_checkpoint(e->j), -EIO);
		}
		cache_bdev_set_fault(e->bdev, NULL, NULL);

		reopen(e);
		memset(&info, 0, sizeof(info));
		assert_int_equal(journal_recover(e->j, &info), 0);
		model_home(e);
		check_home(e);
		env_destroy(e);
		if (!f.failed) {
			printf("# fault loop: %u points\n", n - 1);
			assert_true(n > 200);
			break;
		}
	}
}

/* One failing write, then the device works again: s_errno is recorded. */
static int fault_once(void *ctx, const struct cache_bio *bio)
{
	struct fault_ctx *f = ctx;

	if (bio->write && ++f->writes == f->fail_at) {
		f->failed++;
		return -EIO;
	}
	return 0;
}

static void test_fault_errno(void **state)
{
	struct env *e = env_create(4096, JOURNAL_BT_SB_V2, 0, 0);
	struct fault_ctx f = { .fail_at = 3 };
	struct txn_plan p = { .add_first = 10, .add_step = 1, .nr_add = 5 };
	struct journal_recovery_info info;

	(void)state;
	assert_int_equal(journal_writer_init(e->j, JOURNAL_INCOMPAT_64BIT), 0);
	commit_plan(e, &p, 0);
	cache_bdev_set_fault(e->bdev, fault_once, &f);
	p.add_first = 20;
	commit_plan(e, &p, -EIO);	/* a data block fails */
	assert_int_equal(f.failed, 1);
	p.add_first = 30;
	commit_plan(e, &p, -EIO);
	assert_int_equal(journal_checkpoint(e->j), -EIO);
	cache_bdev_set_fault(e->bdev, NULL, NULL);

	struct journal_stats st;

	journal_get_stats(e->j, &st);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.free_blocks, 0);

	reopen(e);
	memset(&info, 0, sizeof(info));
	assert_int_equal(journal_recover(e->j, &info), 0);
	assert_int_equal(info.journal_errno, -EIO);
	assert_true(info.fs_error);
	assert_int_equal(info.end_tid, START_TID + 1);
	model_home(e);
	check_home(e);
	env_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_v3),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_add_revoke_lookup),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_full_log),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_fault_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
