// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_journal_format.c — unit tests of journal/format.c, the
 * jbd2 block codec: tag sizes, the superblock (decode, every rejected
 * field, encode keeping the other bytes, checksum), descriptor blocks
 * (tags, UUID, SAME_UUID/LAST_TAG, ESCAPE, capacity, tail checksum) for
 * no checksum, v1, v2 and v3 on 32- and 64-bit journals, data tag
 * checksums, revoke blocks (r_count limits) and commit blocks (v1 crc
 * fields, v2/v3 checksum, 64-bit commit seconds). No I/O.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format.h"

#define BS 4096u
#define NR_BLOCKS 4096u

static void put32(void *p, uint32_t v)
{
	unsigned char *b = p;

	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

static uint32_t get32(const void *p)
{
	const unsigned char *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static const uint8_t test_uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8,
				       9, 10, 11, 12, 13, 14, 15, 16 };

/* A valid v2 superblock image; @incompat selects the checksum. */
static void make_sb(unsigned char *buf, uint32_t incompat, uint32_t compat)
{
	memset(buf, 0, BS);
	put32(buf, JOURNAL_MAGIC);
	put32(buf + 4, JOURNAL_BT_SB_V2);
	put32(buf + 0x0C, BS);
	put32(buf + 0x10, NR_BLOCKS);
	put32(buf + 0x14, 1);
	put32(buf + 0x18, 77);
	put32(buf + 0x1C, 5);
	put32(buf + 0x24, compat);
	put32(buf + 0x28, incompat);
	memcpy(buf + 0x30, test_uuid, 16);
	put32(buf + 0x40, 1);
	memset(buf + 0x100, 0xAB, 16);	/* s_users[0] */
	if (incompat & (JOURNAL_INCOMPAT_CSUM_V2 | JOURNAL_INCOMPAT_CSUM_V3)) {
		buf[0x50] = JOURNAL_CSUM_TYPE_CRC32C;
		put32(buf + 0xFC, journal_sb_csum(buf));
	}
}

static void fix_csum(unsigned char *buf)
{
	put32(buf + 0xFC, journal_sb_csum(buf));
}

static void make_fmt(struct journal_fmt *fmt, uint32_t incompat,
		     uint32_t compat)
{
	struct journal_sb sb;
	unsigned char *buf = malloc(BS);

	assert_non_null(buf);
	make_sb(buf, incompat, compat);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), 0);
	journal_fmt_init(fmt, &sb);
	free(buf);
}

/* ---- checksums and sizes ------------------------------------------------- */

static void test_crc(void **state)
{
	(void)state;
	/* crc32c check value 0xE3069283 before the final inversion. */
	assert_int_equal(journal_crc32c(~0u, "123456789", 9), 0x1CF96D7C);
	assert_int_equal(journal_crc32_be(0, "", 0), 0);
}

static void test_tag_bytes(void **state)
{
	(void)state;
	assert_int_equal(journal_tag_bytes(0), 8);
	assert_int_equal(journal_tag_bytes(JOURNAL_INCOMPAT_64BIT), 12);
	assert_int_equal(journal_tag_bytes(JOURNAL_INCOMPAT_CSUM_V2), 10);
	assert_int_equal(journal_tag_bytes(JOURNAL_INCOMPAT_CSUM_V2 |
					   JOURNAL_INCOMPAT_64BIT), 14);
	assert_int_equal(journal_tag_bytes(JOURNAL_INCOMPAT_CSUM_V3), 16);
	assert_int_equal(journal_tag_bytes(JOURNAL_INCOMPAT_CSUM_V3 |
					   JOURNAL_INCOMPAT_64BIT), 16);
}

/* ---- superblock ---------------------------------------------------------- */

static void test_sb_decode(void **state)
{
	unsigned char buf[BS];
	struct journal_sb sb;
	struct journal_fmt fmt;
	const char *why = "x";

	(void)state;
	make_sb(buf, JOURNAL_INCOMPAT_CSUM_V3 | JOURNAL_INCOMPAT_64BIT |
			     JOURNAL_INCOMPAT_REVOKE, 0);
	assert_int_equal(journal_sb_decode_why(buf, BS, NR_BLOCKS, &sb, &why),
			 0);
	assert_null(why);
	assert_int_equal(sb.blocksize, BS);
	assert_int_equal(sb.maxlen, NR_BLOCKS);
	assert_int_equal(sb.first, 1);
	assert_int_equal(sb.sequence, 77);
	assert_int_equal(sb.start, 5);
	assert_int_equal(sb.last, NR_BLOCKS);
	assert_memory_equal(sb.uuid, test_uuid, 16);
	journal_fmt_init(&fmt, &sb);
	assert_int_equal(fmt.tag_bytes, 16);
	assert_true(fmt.csum_v2v3 && fmt.csum_v3 && fmt.is_64bit);
	assert_false(fmt.csum_v1);
	assert_int_equal(fmt.seed, journal_crc32c(~0u, test_uuid, 16));

	/* fast commit area */
	make_sb(buf, JOURNAL_INCOMPAT_FAST_COMMIT, 0);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), 0);
	assert_int_equal(sb.last, NR_BLOCKS - JOURNAL_DEFAULT_FC_BLOCKS);
	put32(buf + 0x54, 100);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), 0);
	assert_int_equal(sb.last, NR_BLOCKS - 100);
	put32(buf + 0x54, NR_BLOCKS - JOURNAL_MIN_BLOCKS + 1);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), -EUCLEAN);
	put32(buf + 0x54, 0xFFFFFFFF);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), -EUCLEAN);

	/* v1 superblock: no features */
	make_sb(buf, 0, 0);
	put32(buf + 4, JOURNAL_BT_SB_V1);
	put32(buf + 0x40, 0);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), 0);
	put32(buf + 0x28, JOURNAL_INCOMPAT_REVOKE);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), -EUCLEAN);
}

struct sb_case {
	unsigned int off;	/* field, 0xFFFF = special */
	uint32_t val;
	int err;
	bool refix;		/* recompute the checksum after the change */
};

static void test_sb_reject(void **state)
{
	static const struct sb_case cases[] = {
		{ 0x00, 0xC03B3999, -EUCLEAN, true },		/* magic */
		{ 0x04, JOURNAL_BT_DESCRIPTOR, -EUCLEAN, true },
		{ 0x04, 7, -EUCLEAN, true },
		{ 0x0C, 1024, -EUCLEAN, true },			/* blocksize */
		{ 0x10, JOURNAL_MIN_BLOCKS - 1, -EUCLEAN, true },
		{ 0x10, NR_BLOCKS + 1, -EUCLEAN, true },	/* maxlen */
		{ 0x14, 0, -EUCLEAN, true },			/* first */
		{ 0x14, NR_BLOCKS, -EUCLEAN, true },
		{ 0x1C, NR_BLOCKS, -EUCLEAN, true },		/* start */
		{ 0x28, JOURNAL_INCOMPAT_CSUM_V3 | 0x40, -EOPNOTSUPP, true },
		{ 0x2C, 1, -EOPNOTSUPP, true },			/* ro_compat */
		{ 0x28, JOURNAL_INCOMPAT_CSUM_V3 | JOURNAL_INCOMPAT_CSUM_V2,
		  -EUCLEAN, true },
		{ 0x24, JOURNAL_COMPAT_CHECKSUM, -EUCLEAN, true },
		{ 0x40, 49, -EUCLEAN, true },			/* nr_users */
		{ 0x40, 2, -EUCLEAN, true },	/* two users: not internal */
		{ 0x50, JOURNAL_CSUM_TYPE_CRC32, -EUCLEAN, true },
		{ 0x18, 78, -EUCLEAN, false },			/* checksum */
		{ 0xFC, 0, -EUCLEAN, false },
	};
	unsigned char buf[BS];
	struct journal_sb sb;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_sb(buf, JOURNAL_INCOMPAT_CSUM_V3, 0);
		if (cases[i].off == 0x50)
			buf[0x50] = (unsigned char)cases[i].val;
		else
			put32(buf + cases[i].off, cases[i].val);
		if (cases[i].refix)
			fix_csum(buf);
		why = NULL;
		assert_int_equal(journal_sb_decode_why(buf, BS, NR_BLOCKS, &sb,
						       &why), cases[i].err);
		assert_non_null(why);
	}
	/* start below first */
	make_sb(buf, 0, 0);
	put32(buf + 0x14, 10);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), -EUCLEAN);
	/* a clean log may have any first */
	put32(buf + 0x1C, 0);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), 0);
}

static void test_sb_encode(void **state)
{
	unsigned char buf[BS], orig[BS];
	struct journal_sb sb, sb2;

	(void)state;
	make_sb(buf, JOURNAL_INCOMPAT_CSUM_V2, 0);
	memcpy(orig, buf, BS);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), 0);
	sb.sequence = 1000;
	sb.start = 0;
	sb.errno_ = -5;
	sb.head = 9;
	journal_sb_encode(&sb, buf);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb2), 0);
	assert_int_equal(sb2.sequence, 1000);
	assert_int_equal(sb2.start, 0);
	assert_int_equal(sb2.errno_, -5);
	assert_int_equal(sb2.head, 9);
	/* untouched: users, uuid, padding */
	assert_memory_equal(buf + 0x100, orig + 0x100, BS - 0x100);
	assert_memory_equal(buf + 0x30, orig + 0x30, 0x20);
	/* the writer turning v3 on also sets the checksum type */
	make_sb(buf, 0, 0);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb), 0);
	sb.feature_incompat = JOURNAL_INCOMPAT_CSUM_V3;
	journal_sb_encode(&sb, buf);
	assert_int_equal(buf[0x50], JOURNAL_CSUM_TYPE_CRC32C);
	assert_int_equal(journal_sb_decode(buf, BS, NR_BLOCKS, &sb2), 0);
	assert_int_equal(get32(buf + 0xFC), journal_sb_csum(buf));
}

/* ---- descriptor blocks --------------------------------------------------- */

static const uint32_t variants[][2] = {
	/* incompat, compat */
	{ 0, 0 },
	{ JOURNAL_INCOMPAT_64BIT, 0 },
	{ 0, JOURNAL_COMPAT_CHECKSUM },
	{ JOURNAL_INCOMPAT_64BIT, JOURNAL_COMPAT_CHECKSUM },
	{ JOURNAL_INCOMPAT_CSUM_V2, 0 },
	{ JOURNAL_INCOMPAT_CSUM_V2 | JOURNAL_INCOMPAT_64BIT, 0 },
	{ JOURNAL_INCOMPAT_CSUM_V3, 0 },
	{ JOURNAL_INCOMPAT_CSUM_V3 | JOURNAL_INCOMPAT_64BIT, 0 },
};
#define NR_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static void test_desc(void **state)
{
	unsigned char blk[BS], data[BS];
	struct journal_tag tags[BS / 8 + 1], out[BS / 8 + 1];
	struct journal_fmt fmt;

	(void)state;
	memset(data, 0x5A, BS);
	for (size_t v = 0; v < NR_VARIANTS; v++) {
		unsigned int cap, n;

		make_fmt(&fmt, variants[v][0], variants[v][1]);
		cap = journal_desc_capacity(&fmt);
		assert_int_equal(cap, 1 + (BS - JOURNAL_HEADER_SIZE -
					   (fmt.csum_v2v3 ? 4 : 0) - 16 -
					   fmt.tag_bytes) / fmt.tag_bytes);
		for (unsigned int i = 0; i < cap; i++) {
			tags[i].blocknr = fmt.is_64bit ?
				((uint64_t)(i + 1) << 32) | (1000 + i) :
				1000 + i;
			tags[i].flags = (i % 3 == 0) ? JOURNAL_TAG_ESCAPE : 0;
			tags[i].csum = journal_tag_csum(&fmt, 9, data);
			if (!fmt.csum_v3)
				tags[i].csum &= 0xffff;
		}
		/* full block, then a short one */
		for (int round = 0; round < 2; round++) {
			unsigned int nr = round ? 3 : cap;

			journal_desc_encode(&fmt, blk, 9, tags, nr, test_uuid);
			assert_true(journal_block_tail_csum_verify(&fmt, blk));
			n = journal_desc_parse(&fmt, blk, out, BS / 8 + 1);
			assert_int_equal(n, nr);
			assert_int_equal(journal_desc_parse(&fmt, blk, NULL, 0),
					 nr);
			assert_memory_equal(blk + JOURNAL_HEADER_SIZE +
					    fmt.tag_bytes, test_uuid, 16);
			for (unsigned int i = 0; i < nr; i++) {
				uint32_t f = tags[i].flags;

				if (i)
					f |= JOURNAL_TAG_SAME_UUID;
				if (i == nr - 1)
					f |= JOURNAL_TAG_LAST_TAG;
				assert_int_equal(out[i].blocknr,
						 tags[i].blocknr);
				assert_int_equal(out[i].flags, f);
				assert_int_equal(out[i].csum, tags[i].csum);
				assert_true(journal_tag_csum_verify(
					&fmt, &out[i], 9, data));
			}
		}
		/* corruption of the descriptor */
		blk[100] ^= 1;
		assert_int_equal(journal_block_tail_csum_verify(&fmt, blk),
				 !fmt.csum_v2v3);
		/* a data tag checksum fails with v2/v3 only */
		data[7] ^= 0x10;
		assert_int_equal(journal_tag_csum_verify(&fmt, &out[0], 9, data),
				 !fmt.csum_v2v3);
		assert_int_equal(journal_tag_csum_verify(&fmt, &out[0], 8,
							 &data[0]),
				 !fmt.csum_v2v3);
		data[7] ^= 0x10;
	}
}

static void test_desc_parse_bounds(void **state)
{
	unsigned char blk[BS];
	struct journal_fmt fmt;
	struct journal_tag tags[BS / 8 + 1];

	(void)state;
	/* Every tag SAME_UUID, none LAST_TAG: bounded by the block. */
	make_fmt(&fmt, 0, 0);
	memset(blk, 0, BS);
	journal_header_encode(blk, JOURNAL_BT_DESCRIPTOR, 1);
	for (unsigned int off = 12; off + 8 <= BS; off += 8)
		blk[off + 7] = JOURNAL_TAG_SAME_UUID;
	assert_int_equal(journal_desc_parse(&fmt, blk, tags, BS / 8 + 1),
			 (BS - 12) / 8);
	/* only 2 slots given: still counts all, fills 2 */
	assert_int_equal(journal_desc_parse(&fmt, blk, tags, 2),
			 (BS - 12) / 8);
	/* v3 reads the flags as the be16 at byte 6 (kernel) */
	make_fmt(&fmt, JOURNAL_INCOMPAT_CSUM_V3, 0);
	memset(blk + 12, 0, BS - 12);
	blk[12 + 4] = 0xFF;	/* high half of the be32 flags: ignored */
	blk[12 + 7] = JOURNAL_TAG_LAST_TAG;
	assert_int_equal(journal_desc_parse(&fmt, blk, tags, 4), 1);
	assert_int_equal(tags[0].flags, JOURNAL_TAG_LAST_TAG);
	/* v2 descriptors stop before the tail */
	make_fmt(&fmt, JOURNAL_INCOMPAT_CSUM_V2, 0);
	memset(blk + 12, 0, BS - 12);
	for (unsigned int off = 12; off + 10 <= BS; off += 10)
		blk[off + 7] = JOURNAL_TAG_SAME_UUID;
	assert_int_equal(journal_desc_parse(&fmt, blk, NULL, 0),
			 (BS - 4 - 12) / 10);
}

/* ---- revoke and commit blocks -------------------------------------------- */

static void test_revoke(void **state)
{
	unsigned char blk[BS];
	uint64_t in[BS / 4], out[BS / 4];
	struct journal_fmt fmt;

	(void)state;
	for (size_t v = 0; v < NR_VARIANTS; v++) {
		unsigned int cap, rec;

		make_fmt(&fmt, variants[v][0], variants[v][1]);
		rec = fmt.is_64bit ? 8 : 4;
		cap = journal_revoke_capacity(&fmt);
		assert_int_equal(cap, (BS - 16 - (fmt.csum_v2v3 ? 4 : 0)) /
					      rec);
		for (unsigned int i = 0; i < cap; i++)
			in[i] = fmt.is_64bit ? (0x100000000ull + i) : 50 + i;
		journal_revoke_encode(&fmt, blk, 3, in, cap);
		assert_true(journal_block_tail_csum_verify(&fmt, blk));
		assert_int_equal(get32(blk + 12), 16 + cap * rec);
		assert_int_equal(journal_revoke_parse(&fmt, blk, out, BS / 4),
				 (int)cap);
		assert_memory_equal(in, out, cap * sizeof(uint64_t));
		/* r_count up to the tail is accepted, beyond it is not */
		put32(blk + 12, BS - (fmt.csum_v2v3 ? 4 : 0));
		assert_int_equal(journal_revoke_parse(&fmt, blk, out, BS / 4),
				 (int)((BS - (fmt.csum_v2v3 ? 4 : 0) - 16) /
				       rec));
		put32(blk + 12, BS - (fmt.csum_v2v3 ? 4 : 0) + 1);
		assert_int_equal(journal_revoke_parse(&fmt, blk, out, BS / 4),
				 -EINVAL);
		put32(blk + 12, 0xFFFFFFFF);
		assert_int_equal(journal_revoke_parse(&fmt, blk, out, BS / 4),
				 -EINVAL);
		/* r_count inside the header: no records */
		put32(blk + 12, 3);
		assert_int_equal(journal_revoke_parse(&fmt, blk, out, BS / 4),
				 0);
		/* a partial record is not read */
		put32(blk + 12, 16 + rec + rec - 1);
		assert_int_equal(journal_revoke_parse(&fmt, blk, out, BS / 4),
				 1);
		journal_revoke_encode(&fmt, blk, 3, in, 0);
		assert_int_equal(journal_revoke_parse(&fmt, blk, out, BS / 4),
				 0);
	}
}

static void test_commit(void **state)
{
	unsigned char blk[BS];
	struct journal_fmt fmt;
	struct journal_commit c;
	uint32_t type, seq;

	(void)state;
	for (size_t v = 0; v < NR_VARIANTS; v++) {
		make_fmt(&fmt, variants[v][0], variants[v][1]);
		journal_commit_encode(&fmt, blk, 42, 0x123456789ull, 777,
				      0xDEADBEEF);
		assert_true(journal_header_decode(blk, &type, &seq));
		assert_int_equal(type, JOURNAL_BT_COMMIT);
		assert_int_equal(seq, 42);
		journal_commit_decode(blk, &c);
		assert_int_equal(c.sec, 0x123456789ull);
		assert_int_equal(c.nsec, 777);
		if (fmt.csum_v1) {
			assert_int_equal(c.chksum_type,
					 JOURNAL_CSUM_TYPE_CRC32);
			assert_int_equal(c.chksum_size, 4);
			assert_int_equal(c.chksum0, 0xDEADBEEF);
		} else if (!fmt.csum_v2v3) {
			assert_int_equal(c.chksum_type, 0);
			assert_int_equal(c.chksum0, 0);
		}
		assert_true(journal_commit_csum_verify(&fmt, blk));
		blk[BS - 1] ^= 0x80;
		assert_int_equal(journal_commit_csum_verify(&fmt, blk),
				 !fmt.csum_v2v3);
	}
	/* header decode rejects a wrong magic */
	memset(blk, 0, 12);
	assert_false(journal_header_decode(blk, &type, &seq));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc),
		cmocka_unit_test(test_tag_bytes),
		cmocka_unit_test(test_sb_decode),
		cmocka_unit_test(test_sb_reject),
		cmocka_unit_test(test_sb_encode),
		cmocka_unit_test(test_desc),
		cmocka_unit_test(test_desc_parse_bounds),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_commit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
