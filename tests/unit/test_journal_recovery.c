// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_journal_recovery.c — journal_recover() on an in-memory
 * device: journals built by hand with format.c's encoders (journal blocks
 * mapped to device blocks 100..1123), replayed, and the home blocks and the
 * final journal superblock checked. Covers every checksum variant on 32-
 * and 64-bit journals, revokes in the same/later/earlier transaction,
 * escaped blocks, torn and damaged transactions (commit, descriptor,
 * revoke and data checksums; stale blocks judged by commit time), the log
 * wrapping, batching of large replays, blocks past the device end, and a
 * bit-flip loop that must never crash nor write outside the device, a
 * log larger than the replay's log cache.
 * journal_recover_to_memory(): the same journals replayed into memory on
 * a read-only journal give, through the overlay, the bytes the device
 * replay writes, with the device untouched; overlay reads of ranges that
 * cross blocks.
 * Fast-commit journals: replayed when the fast-commit area is zeroed or
 * stale (an older tid, or a block outside the area), refused
 * (-EOPNOTSUPP, device untouched) when it holds a valid fast commit of
 * the next transaction or a damaged one; journal_fc_scan_block() on
 * hand-made blocks.
 *
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

#define JBASE 100u		/* device block of journal block 0 */
#define JBLOCKS 1024u
#define FC_BLKS 16u		/* fast-commit area of the fast-commit tests */
#define FC_JBLOCKS (JOURNAL_MIN_BLOCKS + FC_BLKS)	/* their journal */
#define MAP_BLOCKS FC_JBLOCKS
#define DEV_BLOCKS 2048u
#define MAX_BS 4096u

static const uint8_t uuid[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4,
				  5, 6, 7, 8, 9, 10, 11, 12 };

/* The hand-made journal being built. */
struct jb {
	struct cache_bdev *bdev;
	unsigned int bs;
	uint64_t map[MAP_BLOCKS];
	uint32_t nblocks;	/* s_maxlen: JBLOCKS, or FC_JBLOCKS */
	uint32_t nfc;		/* s_num_fc_blks */
	struct journal_fmt fmt;
	uint32_t incompat, compat;
	uint32_t head;		/* next log block */
	uint32_t first, last;
	uint64_t time;		/* commit seconds, increasing */
};

static void put32(void *p, uint32_t v)
{
	unsigned char *b = p;

	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

/* Contents of home block @blk as logged by transaction @tid. */
static void pattern(unsigned char *buf, unsigned int bs, uint64_t blk,
		    uint32_t tid)
{
	for (unsigned int i = 0; i < bs; i++)
		buf[i] = (unsigned char)(blk * 31 + tid * 7 + i / 3 + 1);
}

static void dev_read(struct jb *b, uint64_t blk, void *buf)
{
	assert_int_equal(cache_bdev_pread(b->bdev, buf, b->bs, blk * b->bs),
			 0);
}

static void dev_write(struct jb *b, uint64_t blk, const void *buf)
{
	assert_int_equal(cache_bdev_pwrite(b->bdev, buf, b->bs, blk * b->bs),
			 0);
}

static bool home_is(struct jb *b, uint64_t blk, uint32_t tid)
{
	unsigned char got[MAX_BS], want[MAX_BS];

	dev_read(b, blk, got);
	pattern(want, b->bs, blk, tid);
	return !memcmp(got, want, b->bs);
}

static bool home_zero(struct jb *b, uint64_t blk)
{
	unsigned char got[MAX_BS];

	dev_read(b, blk, got);
	for (unsigned int i = 0; i < b->bs; i++)
		if (got[i])
			return false;
	return true;
}

/*
 * Write the journal superblock: log [first, nblocks - fast-commit area),
 * @seq at @start.
 */
static void jb_sb(struct jb *b, uint32_t seq, uint32_t start, int32_t err)
{
	unsigned char sb[MAX_BS] = { 0 };
	struct journal_sb dsb;

	put32(sb, JOURNAL_MAGIC);
	put32(sb + 4, JOURNAL_BT_SB_V2);
	put32(sb + 0x0C, b->bs);
	put32(sb + 0x10, b->nblocks);
	put32(sb + 0x14, b->first);
	put32(sb + 0x18, seq);
	put32(sb + 0x1C, start);
	put32(sb + 0x20, (uint32_t)err);
	put32(sb + 0x24, b->compat);
	put32(sb + 0x28, b->incompat);
	memcpy(sb + 0x30, uuid, 16);
	put32(sb + 0x40, 1);
	put32(sb + 0x54, b->nfc);
	if (b->incompat & (JOURNAL_INCOMPAT_CSUM_V2 | JOURNAL_INCOMPAT_CSUM_V3)) {
		sb[0x50] = JOURNAL_CSUM_TYPE_CRC32C;
		put32(sb + 0xFC, journal_sb_csum(sb));
	}
	dev_write(b, b->map[0], sb);
	assert_int_equal(journal_sb_decode(sb, b->bs, b->nblocks, &dsb), 0);
	journal_fmt_init(&b->fmt, &dsb);
}

static void jb_init(struct jb *b, unsigned int bs, uint32_t incompat,
		    uint32_t compat)
{
	memset(b, 0, sizeof(*b));
	assert_int_equal(cache_bdev_open_memory((uint64_t)DEV_BLOCKS * bs,
						&b->bdev), 0);
	b->bs = bs;
	b->incompat = incompat;
	b->compat = compat;
	b->first = 1;
	b->nblocks = JBLOCKS;
	b->last = JBLOCKS;
	b->head = 1;
	b->time = 1000;
	if (incompat & JOURNAL_INCOMPAT_FAST_COMMIT) {
		b->nblocks = FC_JBLOCKS;
		b->nfc = FC_BLKS;
		b->last = FC_JBLOCKS - FC_BLKS;
	}
	for (unsigned int i = 0; i < b->nblocks; i++)
		b->map[i] = JBASE + i;
	jb_sb(b, 1, 0, 0);
}

static void jb_fini(struct jb *b)
{
	cache_bdev_close(b->bdev);
}

/* Write log block at the head and advance it, wrapping. */
static uint32_t jb_put(struct jb *b, const void *blk)
{
	uint32_t at = b->head;

	dev_write(b, b->map[at], blk);
	if (++b->head >= b->last)
		b->head = b->first;
	return at;
}

/* What to do to a transaction while writing it. */
enum damage {
	DMG_NONE,
	DMG_NO_COMMIT,		/* torn: no commit block */
	DMG_COMMIT_CSUM,	/* commit block checksum wrong */
	DMG_DESC_CSUM,		/* descriptor tail wrong */
	DMG_REVOKE_CSUM,	/* revoke tail wrong */
	DMG_DATA,		/* first data block changed after tagging */
	DMG_OLD_TIME,		/* commit time older than the previous */
	DMG_RCOUNT,		/* r_count past the block */
};

struct log_pos {
	uint32_t desc, revoke, commit, data0;
};

/*
 * Log transaction @tid: a revoke block (if @nrev), descriptor(s) with
 * @nr blocks whose contents are pattern(block, tid), and a commit block.
 * @escape_first makes the first block start with the magic number.
 */
static struct log_pos jb_txn(struct jb *b, uint32_t tid, const uint64_t *blks,
			     unsigned int nr, const uint64_t *revs,
			     unsigned int nrev, enum damage dmg,
			     bool escape_first)
{
	unsigned char blk[MAX_BS], data[MAX_BS];
	struct journal_tag tags[MAX_BS / 8];
	unsigned int cap = journal_desc_capacity(&b->fmt);
	uint32_t crc = ~0u;
	struct log_pos pos = { 0 };

	if (nrev) {
		journal_revoke_encode(&b->fmt, blk, tid, revs, nrev);
		if (dmg == DMG_REVOKE_CSUM)
			blk[b->bs - 1] ^= 1;
		if (dmg == DMG_RCOUNT) {
			put32(blk + 12, b->bs + 4);
			journal_block_tail_csum_set(&b->fmt, blk);
		}
		pos.revoke = jb_put(b, blk);
	}
	for (unsigned int done = 0; done < nr;) {
		unsigned int n = nr - done < cap ? nr - done : cap;

		for (unsigned int i = 0; i < n; i++) {
			/* The tag checksum covers the escaped log copy. */
			pattern(data, b->bs, blks[done + i], tid);
			if (escape_first && done + i == 0)
				memset(data, 0, 4);
			tags[i].blocknr = blks[done + i];
			tags[i].csum = journal_tag_csum(&b->fmt, tid, data);
			if (!b->fmt.csum_v3)
				tags[i].csum &= 0xffff;
			tags[i].flags = 0;
			if (escape_first && done + i == 0)
				tags[i].flags = JOURNAL_TAG_ESCAPE;
		}
		journal_desc_encode(&b->fmt, blk, tid, tags, n, uuid);
		if (dmg == DMG_DESC_CSUM)
			blk[b->bs - 2] ^= 1;	/* the tail, tags intact */
		crc = journal_crc32_be(crc, blk, b->bs);
		pos.desc = jb_put(b, blk);
		for (unsigned int i = 0; i < n; i++) {
			pattern(data, b->bs, blks[done + i], tid);
			if (escape_first && done + i == 0)
				memset(data, 0, 4);	/* escaped */
			crc = journal_crc32_be(crc, data, b->bs);
			if (dmg == DMG_DATA && done + i == 0)
				data[10] ^= 0x40;
			if (done + i == 0)
				pos.data0 = jb_put(b, data);
			else
				jb_put(b, data);
		}
		done += n;
	}
	if (dmg == DMG_NO_COMMIT)
		return pos;
	journal_commit_encode(&b->fmt, blk, tid,
			      dmg == DMG_OLD_TIME ? 10 : ++b->time, 0, crc);
	if (dmg == DMG_COMMIT_CSUM) {
		blk[b->bs - 1] ^= 1;
		if (b->fmt.csum_v1)
			blk[0x10] ^= 1;
	}
	pos.commit = jb_put(b, blk);
	return pos;
}

static int jb_recover(struct jb *b, bool ro, struct journal_recovery_info *info,
		      struct journal_sb *final)
{
	struct journal_geometry geo = { b->bdev, b->bs, b->map, b->nblocks };
	struct journal *j;
	unsigned char sb[MAX_BS];
	int ret;

	assert_int_equal(journal_open(&geo, ro, &j), 0);
	ret = journal_recover(j, info);
	journal_close(j);
	dev_read(b, b->map[0], sb);
	assert_int_equal(journal_sb_decode(sb, b->bs, b->nblocks, final), 0);
	return ret;
}

/* ---- variants ------------------------------------------------------------ */

static const uint32_t variants[][2] = {
	{ JOURNAL_INCOMPAT_REVOKE, 0 },
	{ JOURNAL_INCOMPAT_REVOKE | JOURNAL_INCOMPAT_64BIT, 0 },
	{ JOURNAL_INCOMPAT_REVOKE, JOURNAL_COMPAT_CHECKSUM },
	{ JOURNAL_INCOMPAT_REVOKE | JOURNAL_INCOMPAT_CSUM_V2, 0 },
	{ JOURNAL_INCOMPAT_REVOKE | JOURNAL_INCOMPAT_CSUM_V2 |
	  JOURNAL_INCOMPAT_64BIT, 0 },
	{ JOURNAL_INCOMPAT_REVOKE | JOURNAL_INCOMPAT_CSUM_V3, 0 },
	{ JOURNAL_INCOMPAT_REVOKE | JOURNAL_INCOMPAT_CSUM_V3 |
	  JOURNAL_INCOMPAT_64BIT, 0 },
};
#define NR_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static bool has_csum(const struct jb *b)
{
	return b->fmt.csum_v2v3;
}

/* ---- tests --------------------------------------------------------------- */

static void test_clean_and_readonly(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t blks[] = { 1500 };

	(void)state;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3, 0);
	jb_sb(&b, 9, 0, 0);
	jb_txn(&b, 9, blks, 1, NULL, 0, DMG_NONE, false);
	assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
	/* clean: nothing replayed, the log restarts at s_sequence + 1 */
	assert_int_equal(info.start_tid, 9);
	assert_int_equal(info.end_tid, 9);
	assert_true(home_zero(&b, 1500));
	assert_int_equal(sb.sequence, 10);
	assert_int_equal(sb.start, 0);

	/* clean with s_errno: reported, cleared in the journal */
	jb_sb(&b, 9, 0, -5);
	assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
	assert_int_equal(info.journal_errno, -5);
	assert_true(info.fs_error);
	assert_int_equal(sb.errno_, 0);
	assert_int_equal(sb.sequence, 10);
	assert_true(home_zero(&b, 1500));

	jb_sb(&b, 9, 1, -5);
	assert_int_equal(jb_recover(&b, true, &info, &sb), -EROFS);
	assert_true(home_zero(&b, 1500));
	assert_int_equal(sb.start, 1);
	jb_fini(&b);
}

static void test_variants(void **state)
{
	static const unsigned int sizes[] = { 1024, 4096 };
	struct journal_recovery_info info;
	struct journal_sb sb;

	(void)state;
	for (size_t s = 0; s < 2; s++) {
		for (size_t v = 0; v < NR_VARIANTS; v++) {
			uint64_t t1[] = { 1200, 1201, 1202, 1300 };
			uint64_t t2[] = { 1201, 1400, 1401 };
			uint64_t r2[] = { 1202 };
			uint64_t t3[] = { 1202, 1500 };
			uint64_t r3[] = { 1300, 1500, 1401 };
			struct jb b;

			jb_init(&b, sizes[s], variants[v][0], variants[v][1]);
			jb_sb(&b, 50, 1, 0);
			jb_txn(&b, 50, t1, 4, NULL, 0, DMG_NONE, true);
			jb_txn(&b, 51, t2, 3, r2, 1, DMG_NONE, false);
			/* logged before the revoke in the same transaction */
			jb_txn(&b, 52, t3, 2, r3, 3, DMG_NONE, false);
			assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
			assert_int_equal(info.start_tid, 50);
			assert_int_equal(info.end_tid, 53);
			assert_int_equal(info.failed_commit, 0);
			assert_false(info.fs_error || info.fs_not_valid);
			assert_int_equal(sb.sequence, 54);
			assert_int_equal(sb.start, 0);
			assert_int_equal(sb.errno_, 0);
			/* 1200 was escaped: its magic is back */
			{
				unsigned char got[MAX_BS], want[MAX_BS];

				dev_read(&b, 1200, got);
				pattern(want, b.bs, 1200, 50);
				put32(want, JOURNAL_MAGIC);
				assert_memory_equal(got, want, b.bs);
			}
			assert_true(home_is(&b, 1201, 51));
			/* revoked by 51, logged again by 52 */
			assert_true(home_is(&b, 1202, 52));
			assert_true(home_zero(&b, 1300));  /* later revoke */
			assert_true(home_zero(&b, 1500));  /* same txn */
			assert_true(home_zero(&b, 1401));  /* later revoke */
			assert_true(home_is(&b, 1400, 51));
			assert_int_equal(info.nr_replayed, 5);
			assert_int_equal(info.nr_revokes, 4);
			assert_int_equal(info.nr_revoke_hits, 4);
			jb_fini(&b);
		}
	}
}

static void test_revoke_earlier(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t t1[] = { 1100 }, r1[] = { 1600 }, t2[] = { 1600 };

	(void)state;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_64BIT, 0);
	jb_sb(&b, 7, 1, 0);
	jb_txn(&b, 7, t1, 1, r1, 1, DMG_NONE, false);
	jb_txn(&b, 8, t2, 1, NULL, 0, DMG_NONE, false);
	assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
	assert_true(home_is(&b, 1600, 8));	/* revoke was older */
	assert_true(home_is(&b, 1100, 7));
	jb_fini(&b);
}

static void test_torn_and_sequence(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t t1[] = { 1100 }, t2[] = { 1101 }, t3[] = { 1102 };

	(void)state;
	for (size_t v = 0; v < NR_VARIANTS; v++) {
		jb_init(&b, 1024, variants[v][0], variants[v][1]);
		jb_sb(&b, 3, 1, 0);
		jb_txn(&b, 3, t1, 1, NULL, 0, DMG_NONE, false);
		jb_txn(&b, 4, t2, 1, NULL, 0, DMG_NO_COMMIT, false);
		assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
		assert_int_equal(info.end_tid, 4);
		assert_int_equal(sb.sequence, 5);
		assert_true(home_is(&b, 1100, 3));
		assert_true(home_zero(&b, 1101));
		jb_fini(&b);

		/* an old transaction after the end: wrong sequence */
		jb_init(&b, 1024, variants[v][0], variants[v][1]);
		jb_sb(&b, 3, 1, 0);
		jb_txn(&b, 3, t1, 1, NULL, 0, DMG_NONE, false);
		jb_txn(&b, 2, t3, 1, NULL, 0, DMG_NONE, false);
		assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
		assert_int_equal(info.end_tid, 4);
		assert_true(home_zero(&b, 1102));
		jb_fini(&b);
	}
}

static void test_bad_commit(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t t1[] = { 1100 }, t2[] = { 1101 }, t3[] = { 1102 };

	(void)state;
	for (size_t v = 0; v < NR_VARIANTS; v++) {
		jb_init(&b, 1024, variants[v][0], variants[v][1]);
		if (!has_csum(&b) && !b.fmt.csum_v1) {
			jb_fini(&b);
			continue;
		}
		jb_sb(&b, 3, 1, 0);
		jb_txn(&b, 3, t1, 1, NULL, 0, DMG_NONE, false);
		jb_txn(&b, 4, t2, 1, NULL, 0, DMG_COMMIT_CSUM, false);
		jb_txn(&b, 5, t3, 1, NULL, 0, DMG_NONE, false);
		assert_int_equal(jb_recover(&b, false, &info, &sb), -EUCLEAN);
		assert_int_equal(info.end_tid, 4);
		assert_int_equal(info.failed_commit, 4);
		assert_true(info.fs_error);
		assert_false(info.fs_not_valid);
		assert_int_equal(sb.sequence, 5);
		assert_int_equal(sb.start, 0);
		assert_int_equal(sb.errno_, 0);
		assert_true(home_is(&b, 1100, 3));
		assert_true(home_zero(&b, 1101));
		assert_true(home_zero(&b, 1102));
		jb_fini(&b);
	}
}

static void test_async_commit(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t t1[] = { 1100 }, t2[] = { 1101 };

	(void)state;
	/* With ASYNC_COMMIT a bad commit ends the log without failing. */
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3 |
			  JOURNAL_INCOMPAT_ASYNC_COMMIT, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, t1, 1, NULL, 0, DMG_NONE, false);
	jb_txn(&b, 4, t2, 1, NULL, 0, DMG_COMMIT_CSUM, false);
	assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
	assert_int_equal(info.failed_commit, 0);
	assert_int_equal(info.end_tid, 4);
	assert_true(home_is(&b, 1100, 3));
	assert_true(home_zero(&b, 1101));
	jb_fini(&b);
}

static void test_bad_desc_and_revoke(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t t1[] = { 1100 }, t2[] = { 1101 }, r2[] = { 1100 };

	(void)state;
	for (int which = 0; which < 2; which++) {
		enum damage d = which ? DMG_REVOKE_CSUM : DMG_DESC_CSUM;

		/* newer commit: the damage is real, nothing is replayed */
		jb_init(&b, 4096, JOURNAL_INCOMPAT_CSUM_V3 |
				  JOURNAL_INCOMPAT_64BIT, 0);
		jb_sb(&b, 3, 1, -5);
		jb_txn(&b, 3, t1, 1, NULL, 0, DMG_NONE, false);
		jb_txn(&b, 4, t2, 1, r2, 1, d, false);
		assert_int_equal(jb_recover(&b, false, &info, &sb), -EUCLEAN);
		assert_true(info.fs_not_valid);
		assert_true(info.fs_error);	/* from s_errno */
		assert_int_equal(info.journal_errno, -5);
		assert_int_equal(sb.sequence, 3);	/* left alone */
		assert_int_equal(sb.start, 0);
		assert_int_equal(sb.errno_, 0);
		assert_true(home_zero(&b, 1100));
		jb_fini(&b);

		/* older commit time: stale blocks, the log ends before */
		jb_init(&b, 4096, JOURNAL_INCOMPAT_CSUM_V3, 0);
		jb_sb(&b, 3, 1, 0);
		jb_txn(&b, 3, t1, 1, NULL, 0, DMG_NONE, false);
		b.time = 1;
		jb_txn(&b, 4, t2, 1, r2, 1, d, false);
		assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
		assert_int_equal(info.end_tid, 4);
		assert_int_equal(sb.sequence, 5);
		assert_true(home_is(&b, 1100, 3));
		assert_true(home_zero(&b, 1101));
		jb_fini(&b);
	}
}

static void test_bad_data_and_rcount(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t t1[] = { 1100, 1101 }, t2[] = { 1102 }, r2[] = { 1 };

	(void)state;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V2, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, t1, 2, NULL, 0, DMG_DATA, false);
	jb_txn(&b, 4, t2, 1, NULL, 0, DMG_NONE, false);
	assert_int_equal(jb_recover(&b, false, &info, &sb), -EUCLEAN);
	assert_true(home_zero(&b, 1100));	/* failed its checksum */
	assert_true(home_is(&b, 1101, 3));	/* the rest goes on */
	assert_true(home_is(&b, 1102, 4));
	assert_true(info.fs_not_valid);
	assert_int_equal(info.end_tid, 5);
	assert_int_equal(sb.sequence, 3);	/* e2fsck: error path */
	assert_int_equal(sb.start, 0);
	jb_fini(&b);

	/* bad r_count: the revoke pass fails, nothing is replayed */
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, t1, 2, NULL, 0, DMG_NONE, false);
	jb_txn(&b, 4, t2, 1, r2, 1, DMG_RCOUNT, false);
	assert_int_equal(jb_recover(&b, false, &info, &sb), -EUCLEAN);
	assert_true(home_zero(&b, 1100));
	assert_true(info.fs_not_valid);
	assert_int_equal(sb.start, 0);
	jb_fini(&b);
}

static void test_wrap_and_big(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t *blks = calloc(700, sizeof(*blks));

	(void)state;
	assert_non_null(blks);
	for (unsigned int i = 0; i < 700; i++)
		blks[i] = 1200 + i;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3 | JOURNAL_INCOMPAT_64BIT, 0);
	b.head = JBLOCKS - 5;
	jb_sb(&b, 0xFFFFFFFE, b.head, 0);	/* tids wrap too */
	jb_txn(&b, 0xFFFFFFFE, blks, 20, NULL, 0, DMG_NONE, false);
	jb_txn(&b, 0xFFFFFFFF, blks + 20, 680, NULL, 0, DMG_NONE, false);
	jb_txn(&b, 0, blks, 3, NULL, 0, DMG_NONE, false);
	assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
	assert_int_equal(info.nr_replayed, 703);
	assert_int_equal(info.end_tid, 1);
	assert_int_equal(sb.sequence, 2);
	for (unsigned int i = 0; i < 700; i++)
		assert_true(home_is(&b, blks[i],
				    i < 3 ? 0 : i < 20 ? 0xFFFFFFFE :
						      0xFFFFFFFF));
	jb_fini(&b);
	free(blks);
}

static void test_past_device(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t t1[] = { 1100, DEV_BLOCKS, (uint64_t)1 << 40 };
	uint64_t t32[] = { 1100, DEV_BLOCKS + 5 };

	(void)state;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3 | JOURNAL_INCOMPAT_64BIT, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, t1, 3, NULL, 0, DMG_NONE, false);
	assert_int_equal(jb_recover(&b, false, &info, &sb), -EUCLEAN);
	assert_true(home_is(&b, 1100, 3));
	assert_true(info.fs_not_valid);
	assert_int_equal(info.nr_replayed, 1);
	assert_int_equal(sb.start, 0);
	jb_fini(&b);

	jb_init(&b, 4096, 0, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, t32, 2, NULL, 0, DMG_NONE, false);
	assert_int_equal(jb_recover(&b, false, &info, &sb), -EUCLEAN);
	assert_true(home_is(&b, 1100, 3));
	jb_fini(&b);
}

static int fail_writes(void *ctx, const struct cache_bio *bio)
{
	(void)ctx;
	return bio->write ? -EIO : 0;
}

static void test_io_error(void **state)
{
	struct journal_recovery_info info;
	struct journal_sb sb;
	struct jb b;
	uint64_t t1[] = { 1100 };

	(void)state;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, t1, 1, NULL, 0, DMG_NONE, false);
	cache_bdev_set_fault(b.bdev, fail_writes, NULL);
	{
		struct journal_geometry geo = { b.bdev, b.bs, b.map, JBLOCKS };
		struct journal *j;

		assert_int_equal(journal_open(&geo, false, &j), 0);
		assert_int_equal(journal_recover(j, &info), -EIO);
		journal_close(j);
	}
	cache_bdev_set_fault(b.bdev, NULL, NULL);
	/* the log was not reset: a later replay does it all */
	assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
	assert_true(home_is(&b, 1100, 3));
	jb_fini(&b);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * A valid journal, one bit flipped anywhere in its used blocks, replayed:
 * no crash, a known return code, the log reset, and nothing written
 * outside the device (the memory engine would fail such a write with
 * -EIO, which would show as the return code).
 */
static void test_bitflips(void **state)
{
	const char *env = getenv("UEXT4_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	uint64_t t1[] = { 1100, 1101 }, t2[] = { 1102 }, r2[] = { 1100 };
	uint64_t t3[] = { 1103, 1104, 1105 };

	(void)state;
	printf("# seed %llu (UEXT4_TEST_SEED to reproduce)\n",
	       (unsigned long long)seed);
	if (!seed)
		seed = 1;
	for (int it = 0; it < 400; it++) {
		const uint32_t *v = variants[it % NR_VARIANTS];
		struct journal_recovery_info info;
		struct journal_sb sb;
		unsigned char blk[MAX_BS];
		struct jb b;
		uint32_t used, lb;
		unsigned int bit;
		int ret;

		jb_init(&b, 1024, v[0], v[1]);
		jb_sb(&b, 3, 1, 0);
		jb_txn(&b, 3, t1, 2, NULL, 0, DMG_NONE, true);
		jb_txn(&b, 4, t2, 1, r2, 1, DMG_NONE, false);
		jb_txn(&b, 5, t3, 3, NULL, 0, DMG_NONE, false);
		used = b.head;
		lb = 1 + (uint32_t)(rnd(&seed) % (used - 1 + 1));
		bit = (unsigned int)(rnd(&seed) % (b.bs * 8));
		dev_read(&b, b.map[lb], blk);
		blk[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		dev_write(&b, b.map[lb], blk);
		ret = jb_recover(&b, false, &info, &sb);
		assert_true(ret == 0 || ret == -EUCLEAN);
		assert_int_equal(sb.start, 0);
		assert_true(info.nr_replayed <= 6);
		jb_fini(&b);
	}
}

/* ---- replay into memory --------------------------------------------------- */

static unsigned char *dev_snapshot(struct jb *b)
{
	size_t len = (size_t)DEV_BLOCKS * b->bs;
	unsigned char *p = malloc(len);

	assert_non_null(p);
	assert_int_equal(cache_bdev_pread(b->bdev, p, len, 0), 0);
	return p;
}

static void info_equal(const struct journal_recovery_info *a,
		       const struct journal_recovery_info *c)
{
	assert_int_equal(a->start_tid, c->start_tid);
	assert_int_equal(a->end_tid, c->end_tid);
	assert_int_equal(a->failed_commit, c->failed_commit);
	assert_int_equal(a->nr_replayed, c->nr_replayed);
	assert_int_equal(a->nr_revokes, c->nr_revokes);
	assert_int_equal(a->nr_revoke_hits, c->nr_revoke_hits);
	assert_int_equal(a->journal_errno, c->journal_errno);
	assert_int_equal(a->fs_error, c->fs_error);
	assert_int_equal(a->fs_not_valid, c->fs_not_valid);
}

/*
 * The journal built in @b, replayed twice: into memory on a read-only
 * journal (the device must not change; the overlay, installed on the
 * engine, gives the view), then to the device. Both return the same, fill
 * the same info, and the overlay view equals the device afterwards, but
 * for the journal superblock (reset only by the device replay).
 * Return: the replay's return code.
 */
static int mem_vs_dev(struct jb *b)
{
	struct journal_geometry geo = { b->bdev, b->bs, b->map, b->nblocks };
	struct journal_recovery_info mi, di;
	struct journal_overlay *ov;
	struct journal_sb sb;
	size_t len = (size_t)DEV_BLOCKS * b->bs;
	unsigned char *orig = dev_snapshot(b), *view, *after;
	struct journal *j;
	int mret, dret;

	assert_int_equal(journal_open(&geo, true, &j), 0);
	mret = journal_recover_to_memory(j, &mi, &ov);
	journal_close(j);
	assert_true(mret == 0 || mret == -EUCLEAN);
	assert_non_null(ov);
	after = dev_snapshot(b);
	assert_memory_equal(after, orig, len);		/* nothing written */
	free(after);

	cache_bdev_set_read_overlay(b->bdev, journal_overlay_bdev_read, ov);
	view = dev_snapshot(b);
	cache_bdev_set_read_overlay(b->bdev, NULL, NULL);
	assert_int_equal(journal_overlay_nr_blocks(ov) <= mi.nr_replayed, 1);

	dret = jb_recover(b, false, &di, &sb);
	assert_int_equal(mret, dret);
	info_equal(&mi, &di);
	after = dev_snapshot(b);
	/* the journal superblock: the log is still there in the view */
	memcpy(view + b->map[0] * b->bs, after + b->map[0] * b->bs, b->bs);
	assert_memory_equal(view, after, len);
	journal_overlay_free(ov);
	free(orig);
	free(view);
	free(after);
	return mret;
}

static void test_memory_variants(void **state)
{
	static const unsigned int sizes[] = { 1024, 4096 };
	static const enum damage dmgs[] = { DMG_NONE, DMG_COMMIT_CSUM,
					    DMG_DATA, DMG_DESC_CSUM,
					    DMG_NO_COMMIT };

	(void)state;
	for (size_t s = 0; s < 2; s++) {
		for (size_t v = 0; v < NR_VARIANTS; v++) {
			for (size_t d = 0; d < sizeof(dmgs) / sizeof(*dmgs);
			     d++) {
				uint64_t t1[] = { 1200, 1201, 1202, 1300 };
				uint64_t t2[] = { 1201, 1400, 1401 };
				uint64_t r2[] = { 1202 };
				uint64_t t3[] = { 1202, 1500 };
				uint64_t r3[] = { 1300, 1500, 1401 };
				struct jb b;

				jb_init(&b, sizes[s], variants[v][0],
					variants[v][1]);
				jb_sb(&b, 50, 1, 0);
				jb_txn(&b, 50, t1, 4, NULL, 0, DMG_NONE, true);
				jb_txn(&b, 51, t2, 3, r2, 1, dmgs[d], false);
				jb_txn(&b, 52, t3, 2, r3, 3, DMG_NONE, false);
				mem_vs_dev(&b);
				jb_fini(&b);
			}
		}
	}
}

static void test_memory_wrap_and_self(void **state)
{
	struct jb b;
	uint64_t *blks = calloc(700, sizeof(*blks));
	/* home blocks inside the log itself, read again later by the walk */
	uint64_t self[] = { JBASE + 40, JBASE + 41, 1100 };
	uint64_t t2[] = { 1101 };

	(void)state;
	assert_non_null(blks);
	for (unsigned int i = 0; i < 700; i++)
		blks[i] = 1200 + i;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3 | JOURNAL_INCOMPAT_64BIT, 0);
	b.head = JBLOCKS - 5;
	jb_sb(&b, 0xFFFFFFFE, b.head, 0);
	jb_txn(&b, 0xFFFFFFFE, blks, 20, NULL, 0, DMG_NONE, false);
	jb_txn(&b, 0xFFFFFFFF, blks + 20, 680, NULL, 0, DMG_NONE, false);
	jb_txn(&b, 0, blks, 3, NULL, 0, DMG_NONE, false);
	assert_int_equal(mem_vs_dev(&b), 0);
	jb_fini(&b);

	for (size_t v = 0; v < NR_VARIANTS; v++) {
		jb_init(&b, 1024, variants[v][0], variants[v][1]);
		jb_sb(&b, 3, 1, 0);
		jb_txn(&b, 3, self, 3, NULL, 0, DMG_NONE, false);
		jb_txn(&b, 4, t2, 1, NULL, 0, DMG_NONE, false);
		mem_vs_dev(&b);
		jb_fini(&b);
	}
	free(blks);
}

/*
 * The log cache (recovery.c) limited to a few blocks: the rest of the
 * walk is read through the readahead window, with the same results;
 * several descriptors per transaction, the log wrapping, and home blocks
 * inside the log, on both sides of the cache's end.
 */
static void test_small_cache(void **state)
{
	static const char *const limits[] = { "0", "3", "40", "700" };
	uint64_t self[] = { JBASE + 12, JBASE + 60, JBASE + 1020, 1100 };
	uint64_t *blks = calloc(700, sizeof(*blks));

	(void)state;
	assert_non_null(blks);
	for (unsigned int i = 0; i < 700; i++)
		blks[i] = 1200 + i;
	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		struct journal_recovery_info info;
		struct journal_sb sb;
		struct jb b;

		setenv("UEXT4_RECOVERY_CACHE_BLOCKS", limits[l], 1);
		jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3 |
					  JOURNAL_INCOMPAT_64BIT, 0);
		b.head = JBLOCKS - 5;
		jb_sb(&b, 7, b.head, 0);
		jb_txn(&b, 7, blks, 20, NULL, 0, DMG_NONE, false);
		jb_txn(&b, 8, blks + 20, 680, NULL, 0, DMG_NONE, false);
		jb_txn(&b, 9, blks, 3, NULL, 0, DMG_NONE, false);
		assert_int_equal(jb_recover(&b, false, &info, &sb), 0);
		assert_int_equal(info.nr_replayed, 703);
		for (unsigned int i = 0; i < 700; i++)
			assert_true(home_is(&b, blks[i], i < 3 ? 9 :
							 i < 20 ? 7 : 8));
		jb_fini(&b);

		for (size_t v = 0; v < NR_VARIANTS; v++) {
			jb_init(&b, 1024, variants[v][0], variants[v][1]);
			jb_sb(&b, 3, 1, 0);
			jb_txn(&b, 3, self, 4, NULL, 0, DMG_NONE, false);
			jb_txn(&b, 4, blks, 300, NULL, 0, DMG_NONE, false);
			jb_txn(&b, 5, self + 1, 2, NULL, 0, DMG_NONE, false);
			mem_vs_dev(&b);
			jb_fini(&b);
		}
	}
	unsetenv("UEXT4_RECOVERY_CACHE_BLOCKS");
	free(blks);
}

static void test_memory_clean_and_past(void **state)
{
	struct journal_recovery_info info;
	struct journal_overlay *ov;
	struct jb b;
	uint64_t t1[] = { 1500 }, past[] = { 1100, DEV_BLOCKS + 3 };
	unsigned char buf[64];

	(void)state;
	/* a clean log: an empty overlay, nothing replayed */
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3, 0);
	jb_sb(&b, 9, 0, 0);
	jb_txn(&b, 9, t1, 1, NULL, 0, DMG_NONE, false);
	{
		struct journal_geometry geo = { b.bdev, b.bs, b.map, JBLOCKS };
		struct journal *j;

		assert_int_equal(journal_open(&geo, true, &j), 0);
		assert_int_equal(journal_recover_to_memory(j, &info, &ov), 0);
		journal_close(j);
	}
	assert_non_null(ov);
	assert_int_equal(journal_overlay_nr_blocks(ov), 0);
	assert_int_equal(info.end_tid, 9);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(journal_overlay_read(ov, 1500 * 1024, buf,
					      sizeof(buf)), 0);
	journal_overlay_free(ov);
	jb_fini(&b);

	/* a block past the device: skipped, -EUCLEAN, as the device replay */
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3 | JOURNAL_INCOMPAT_64BIT, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, past, 2, NULL, 0, DMG_NONE, false);
	assert_int_equal(mem_vs_dev(&b), -EUCLEAN);
	jb_fini(&b);
}

static int fail_reads_from(void *ctx, const struct cache_bio *bio)
{
	return !bio->write && bio->pos >= *(uint64_t *)ctx ? -EIO : 0;
}

static void test_memory_io_error(void **state)
{
	struct journal_geometry geo;
	struct journal_recovery_info info;
	struct journal_overlay *ov;
	struct journal *j;
	struct jb b;
	uint64_t t1[] = { 1100 }, t2[] = { 1101 }, from;

	(void)state;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_CSUM_V3, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, t1, 1, NULL, 0, DMG_NONE, false);
	jb_txn(&b, 4, t2, 1, NULL, 0, DMG_NONE, false);
	geo = (struct journal_geometry){ b.bdev, b.bs, b.map, JBLOCKS };
	assert_int_equal(journal_open(&geo, true, &j), 0);
	from = (JBASE + 1) * b.bs;	/* the whole log unreadable */
	cache_bdev_set_fault(b.bdev, fail_reads_from, &from);
	assert_int_equal(journal_recover_to_memory(j, &info, &ov), -EIO);
	assert_null(ov);
	cache_bdev_set_fault(b.bdev, NULL, NULL);
	journal_close(j);
	jb_fini(&b);
}

/* journal_overlay_read() over ranges that start and end inside blocks. */
static void test_overlay_read_ranges(void **state)
{
	struct journal_geometry geo;
	struct journal_recovery_info info;
	struct journal_overlay *ov;
	struct journal *j;
	struct jb b;
	uint64_t t1[] = { 1200, 1201, 1203 };
	const unsigned int bs = 1024;
	unsigned char buf[6 * 1024], blk[1024];

	(void)state;
	jb_init(&b, bs, JOURNAL_INCOMPAT_CSUM_V3, 0);
	jb_sb(&b, 3, 1, 0);
	jb_txn(&b, 3, t1, 3, NULL, 0, DMG_NONE, false);
	geo = (struct journal_geometry){ b.bdev, b.bs, b.map, JBLOCKS };
	assert_int_equal(journal_open(&geo, true, &j), 0);
	assert_int_equal(journal_recover_to_memory(j, &info, &ov), 0);
	journal_close(j);
	assert_int_equal(journal_overlay_nr_blocks(ov), 3);

	for (uint64_t start = 1199 * bs; start < 1205 * bs; start += 173) {
		for (size_t len = 1; len <= sizeof(buf) &&
		     start + len <= 1206 * bs; len += 311) {
			size_t want_patched = 0, got;

			memset(buf, 0xEE, sizeof(buf));
			got = journal_overlay_read(ov, start, buf, len);
			for (size_t i = 0; i < len; i++) {
				uint64_t at = start + i, blkno = at / bs;
				bool held = blkno == 1200 || blkno == 1201 ||
					    blkno == 1203;

				if (!held) {
					assert_int_equal(buf[i], 0xEE);
					continue;
				}
				pattern(blk, bs, blkno, 3);
				assert_int_equal(buf[i], blk[at % bs]);
				want_patched++;
			}
			assert_int_equal(got, want_patched);
		}
	}
	/* past everything held, and an empty range */
	assert_int_equal(journal_overlay_read(ov, 5000 * bs, buf, bs), 0);
	assert_int_equal(journal_overlay_read(ov, 1200 * bs, buf, 0), 0);
	journal_overlay_free(ov);
	journal_overlay_free(NULL);
	jb_fini(&b);
}

/* The bit-flip loop again: memory and device replays always agree. */
static void test_memory_bitflips(void **state)
{
	const char *env = getenv("UEXT4_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	uint64_t t1[] = { 1100, 1101 }, t2[] = { 1102 }, r2[] = { 1100 };
	uint64_t t3[] = { 1103, 1104, 1105 };

	(void)state;
	printf("# seed %llu (UEXT4_TEST_SEED to reproduce)\n",
	       (unsigned long long)seed);
	if (!seed)
		seed = 1;
	for (int it = 0; it < 150; it++) {
		const uint32_t *v = variants[it % NR_VARIANTS];
		unsigned char blk[MAX_BS];
		struct jb b;
		uint32_t lb;
		unsigned int bit;

		jb_init(&b, 1024, v[0], v[1]);
		jb_sb(&b, 3, 1, 0);
		jb_txn(&b, 3, t1, 2, NULL, 0, DMG_NONE, true);
		jb_txn(&b, 4, t2, 1, r2, 1, DMG_NONE, false);
		jb_txn(&b, 5, t3, 3, NULL, 0, DMG_NONE, false);
		lb = 1 + (uint32_t)(rnd(&seed) % (b.head - 1));
		bit = (unsigned int)(rnd(&seed) % (b.bs * 8));
		dev_read(&b, b.map[lb], blk);
		blk[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		dev_write(&b, b.map[lb], blk);
		mem_vs_dev(&b);
		jb_fini(&b);
	}
}

/* ---- fast-commit journals ------------------------------------------------ */

static void put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

/* Append tag @tag with @len bytes of @val at *@pos of @blk; crc it. */
static void fc_tag(unsigned char *blk, size_t *pos, uint16_t tag,
		   const void *val, uint16_t len, uint32_t *crc)
{
	put_le16(blk + *pos, tag);
	put_le16(blk + *pos + 2, len);
	if (len)
		memcpy(blk + *pos + 4, val, len);
	*crc = journal_crc32c(*crc, blk + *pos, 4u + len);
	*pos += 4u + len;
}

/*
 * One fast-commit block: HEAD(@head_tid) when @head_tid != 0, an INODE
 * tag, a TAIL(@tail_tid) with the right crc unless @bad_crc, PAD to the
 * block's end.
 */
static void fc_block(struct jb *b, unsigned char *blk, uint32_t head_tid,
		     uint32_t tail_tid, bool bad_crc)
{
	unsigned char val[64] = { 0 };
	uint32_t crc = 0;
	size_t pos = 0;

	memset(blk, 0, b->bs);
	if (head_tid) {
		put_le32(val, 0);		/* fc_features */
		put_le32(val + 4, head_tid);
		fc_tag(blk, &pos, JOURNAL_FC_TAG_HEAD, val, 8, &crc);
	}
	memset(val, 0, sizeof(val));
	put_le32(val, 12);			/* ino */
	fc_tag(blk, &pos, JOURNAL_FC_TAG_INODE, val, 40, &crc);
	put_le16(blk + pos, JOURNAL_FC_TAG_TAIL);
	put_le16(blk + pos + 2, 8);
	put_le32(blk + pos + 4, tail_tid);
	crc = journal_crc32c(crc, blk + pos, 8);
	put_le32(blk + pos + 8, bad_crc ? crc ^ 1 : crc);
	pos += 12;
	/* PAD: its value runs to the block's end */
	put_le16(blk + pos, JOURNAL_FC_TAG_PAD);
	put_le16(blk + pos + 2, (uint16_t)(b->bs - (pos + 4)));
}

/* Write fast-commit area block @i (0: the kernel's j_fc_first). */
static void fc_put(struct jb *b, unsigned int i, const unsigned char *blk)
{
	dev_write(b, b->map[b->last + 1 + i], blk);
}

/* A FAST_COMMIT journal logging tid 7 (block 1500) and 8 (1501, 1500). */
static void fc_journal(struct jb *b, unsigned int bs, uint32_t incompat)
{
	uint64_t t1[] = { 1500 };
	uint64_t t2[] = { 1501, 1500 };

	jb_init(b, bs, incompat | JOURNAL_INCOMPAT_FAST_COMMIT, 0);
	jb_sb(b, 7, 1, 0);
	jb_txn(b, 7, t1, 1, NULL, 0, DMG_NONE, false);
	jb_txn(b, 8, t2, 2, NULL, 0, DMG_NONE, false);
}

static void fc_expect_replayed(struct jb *b)
{
	struct journal_recovery_info info;
	struct journal_sb sb;

	assert_int_equal(mem_vs_dev(b), 0);	/* replays itself */
	/* replayed again from a clean log: only the log restarts */
	assert_int_equal(jb_recover(b, false, &info, &sb), 0);
	assert_int_equal(sb.start, 0);
	assert_int_equal(sb.sequence, 11);	/* e2fsck: end + 1, then + 1 */
	assert_true(home_is(b, 1500, 8));
	assert_true(home_is(b, 1501, 8));
}

static void fc_expect_refused(struct jb *b)
{
	size_t len = (size_t)DEV_BLOCKS * b->bs;
	unsigned char *orig = dev_snapshot(b), *after;
	struct journal_geometry geo = { b->bdev, b->bs, b->map, b->nblocks };
	struct journal_recovery_info info;
	struct journal_overlay *ov = (void *)1;
	struct journal_sb sb;
	struct journal *j;

	assert_int_equal(journal_open(&geo, true, &j), 0);
	assert_int_equal(journal_recover_to_memory(j, &info, &ov), -EOPNOTSUPP);
	journal_close(j);
	assert_null(ov);
	assert_int_equal(jb_recover(b, false, &info, &sb), -EOPNOTSUPP);
	after = dev_snapshot(b);
	assert_memory_equal(after, orig, len);	/* device untouched */
	assert_int_equal(sb.start, 1);
	free(orig);
	free(after);
}

static void test_fast_commit(void **state)
{
	static const uint32_t fc_variants[] = {
		JOURNAL_INCOMPAT_REVOKE,
		JOURNAL_INCOMPAT_REVOKE | JOURNAL_INCOMPAT_CSUM_V3 |
			JOURNAL_INCOMPAT_64BIT,
	};
	static const unsigned int sizes[] = { 1024, 4096 };
	unsigned char blk[MAX_BS];

	(void)state;
	for (size_t s = 0; s < 2; s++) {
		for (size_t v = 0; v < 2; v++) {
			unsigned int bs = sizes[s];
			uint32_t in = fc_variants[v];
			struct jb b;

			/* zeroed area: nothing to replay there */
			fc_journal(&b, bs, in);
			fc_expect_replayed(&b);
			jb_fini(&b);

			/* stale: a valid fast commit of an older tid */
			fc_journal(&b, bs, in);
			fc_block(&b, blk, 8, 8, false);
			fc_put(&b, 0, blk);
			fc_expect_replayed(&b);
			jb_fini(&b);

			/* a valid HEAD + TAIL for tid 9: ext4 would replay */
			fc_journal(&b, bs, in);
			fc_block(&b, blk, 9, 9, false);
			fc_put(&b, 0, blk);
			fc_expect_refused(&b);
			jb_fini(&b);

			/* the same in two blocks, the second without HEAD */
			fc_journal(&b, bs, in);
			fc_block(&b, blk, 9, 9, false);
			fc_put(&b, 0, blk);
			fc_block(&b, blk, 0, 9, false);
			fc_put(&b, 1, blk);
			fc_expect_refused(&b);
			jb_fini(&b);

			/* HEAD of tid 9, bad TAIL crc: the kernel fails */
			fc_journal(&b, bs, in);
			fc_block(&b, blk, 9, 9, true);
			fc_put(&b, 0, blk);
			fc_expect_refused(&b);
			jb_fini(&b);

			/* in the unused block before the area: not looked at */
			fc_journal(&b, bs, in);
			fc_block(&b, blk, 9, 9, false);
			dev_write(&b, b.map[b.last], blk);
			fc_expect_replayed(&b);
			jb_fini(&b);
		}
	}
}

static void test_fc_scan_block(void **state)
{
	struct journal_fc_scan st;
	unsigned char blk[MAX_BS];
	struct jb b;

	(void)state;
	jb_init(&b, 1024, JOURNAL_INCOMPAT_REVOKE, 0);

	/* empty area */
	memset(&st, 0, sizeof(st));
	st.expected_tid = 5;
	memset(blk, 0, sizeof(blk));
	assert_int_equal(journal_fc_scan_block(&st, blk, 1024),
			 JOURNAL_FC_STOP);
	assert_int_equal(st.nr_tags, 0);

	/* valid, then a second block for another tid ends it */
	memset(&st, 0, sizeof(st));
	st.expected_tid = 5;
	fc_block(&b, blk, 5, 5, false);
	assert_int_equal(journal_fc_scan_block(&st, blk, 1024),
			 JOURNAL_FC_CONTINUE);
	assert_int_equal(st.nr_tags, 3);	/* HEAD, INODE, TAIL */
	fc_block(&b, blk, 0, 4, false);
	assert_int_equal(journal_fc_scan_block(&st, blk, 1024),
			 JOURNAL_FC_STOP);
	assert_int_equal(st.nr_tags, 3);

	/* unknown HEAD features */
	memset(&st, 0, sizeof(st));
	st.expected_tid = 5;
	fc_block(&b, blk, 5, 5, false);
	put_le32(blk + 4, 1);
	assert_int_equal(journal_fc_scan_block(&st, blk, 1024), -EOPNOTSUPP);

	/* a tag running past the block */
	memset(&st, 0, sizeof(st));
	st.expected_tid = 5;
	fc_block(&b, blk, 5, 5, false);
	put_le16(blk + 14, 2000);		/* the INODE tag's len */
	assert_int_equal(journal_fc_scan_block(&st, blk, 1024), -EUCLEAN);

	/* an unknown tag before any valid fast commit */
	memset(&st, 0, sizeof(st));
	st.expected_tid = 5;
	fc_block(&b, blk, 5, 5, false);
	put_le16(blk + 12, 0x77);
	assert_int_equal(journal_fc_scan_block(&st, blk, 1024), -EUCLEAN);
	jb_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_and_readonly),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_revoke_earlier),
		cmocka_unit_test(test_torn_and_sequence),
		cmocka_unit_test(test_bad_commit),
		cmocka_unit_test(test_async_commit),
		cmocka_unit_test(test_bad_desc_and_revoke),
		cmocka_unit_test(test_bad_data_and_rcount),
		cmocka_unit_test(test_wrap_and_big),
		cmocka_unit_test(test_past_device),
		cmocka_unit_test(test_io_error),
		cmocka_unit_test(test_bitflips),
		cmocka_unit_test(test_memory_variants),
		cmocka_unit_test(test_memory_wrap_and_self),
		cmocka_unit_test(test_small_cache),
		cmocka_unit_test(test_memory_clean_and_past),
		cmocka_unit_test(test_memory_io_error),
		cmocka_unit_test(test_overlay_read_ranges),
		cmocka_unit_test(test_memory_bitflips),
		cmocka_unit_test(test_fast_commit),
		cmocka_unit_test(test_fc_scan_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
