/* SPDX-License-Identifier: MIT */
/*
 * journal/format.h — the jbd2 on-disk format (private to journal/): block
 * types, feature bits, the layout of every block, and the encoders,
 * decoders and checksums that format.c implements. No I/O here: every
 * function works on a block in memory, so the unit tests can build and
 * break blocks byte by byte.
 *
 * Everything on disk is big-endian. Values read from disk are never
 * trusted: decoders check them and return -EUCLEAN (damaged) or
 * -EOPNOTSUPP (valid but not supported), never abort.
 *
 * Names: the kernel's vocabulary (descriptor, tag, revoke, commit) under
 * our JOURNAL_/journal_ prefix — the jbd2_ namespace is the kernel's.
 */
#ifndef UEXT4_JOURNAL_FORMAT_H
#define UEXT4_JOURNAL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- block header: {be32 magic, be32 blocktype, be32 sequence} --------- */

#define JOURNAL_MAGIC 0xC03B3998U
#define JOURNAL_HEADER_SIZE 12

#define JOURNAL_BT_DESCRIPTOR 1
#define JOURNAL_BT_COMMIT 2
#define JOURNAL_BT_SB_V1 3
#define JOURNAL_BT_SB_V2 4
#define JOURNAL_BT_REVOKE 5

/* ---- features ----------------------------------------------------------- */

#define JOURNAL_COMPAT_CHECKSUM 0x1u	/* v1: crc32_be in the commit block */

#define JOURNAL_INCOMPAT_REVOKE 0x01u
#define JOURNAL_INCOMPAT_64BIT 0x02u
#define JOURNAL_INCOMPAT_ASYNC_COMMIT 0x04u
#define JOURNAL_INCOMPAT_CSUM_V2 0x08u
#define JOURNAL_INCOMPAT_CSUM_V3 0x10u
#define JOURNAL_INCOMPAT_FAST_COMMIT 0x20u
#define JOURNAL_INCOMPAT_KNOWN                                               \
	(JOURNAL_INCOMPAT_REVOKE | JOURNAL_INCOMPAT_64BIT |                  \
	 JOURNAL_INCOMPAT_ASYNC_COMMIT | JOURNAL_INCOMPAT_CSUM_V2 |          \
	 JOURNAL_INCOMPAT_CSUM_V3 | JOURNAL_INCOMPAT_FAST_COMMIT)

/* s_checksum_type / commit h_chksum_type */
#define JOURNAL_CSUM_TYPE_CRC32 1
#define JOURNAL_CSUM_TYPE_MD5 2
#define JOURNAL_CSUM_TYPE_SHA1 3
#define JOURNAL_CSUM_TYPE_CRC32C 4
#define JOURNAL_CRC32_CHKSUM_SIZE 4

/* descriptor tag flags */
#define JOURNAL_TAG_ESCAPE 0x1u		/* first 4 bytes were the magic */
#define JOURNAL_TAG_SAME_UUID 0x2u	/* no 16-byte UUID after this tag */
#define JOURNAL_TAG_DELETED 0x4u	/* unused since 2.6 */
#define JOURNAL_TAG_LAST_TAG 0x8u	/* last tag of this descriptor */

/** JOURNAL_MIN_BLOCKS - smallest log the kernel accepts (JBD2_MIN_JOURNAL_BLOCKS). */
#define JOURNAL_MIN_BLOCKS 1024u
/** JOURNAL_DEFAULT_FC_BLOCKS - fast-commit area when s_num_fc_blks is 0. */
#define JOURNAL_DEFAULT_FC_BLOCKS 256u
/** JOURNAL_SB_SIZE - bytes of the journal superblock in block 0. */
#define JOURNAL_SB_SIZE 1024u
/** JOURNAL_TAIL_SIZE - checksum tail of descriptor and revoke blocks. */
#define JOURNAL_TAIL_SIZE 4u
/** JOURNAL_REVOKE_HEADER_SIZE - header + be32 r_count. */
#define JOURNAL_REVOKE_HEADER_SIZE 16u
/** JOURNAL_UUID_SIZE - UUID after a tag without SAME_UUID. */
#define JOURNAL_UUID_SIZE 16u

/*
 * Journal superblock layout (byte offsets in block 0):
 *   0x00 header            0x30 s_uuid[16]
 *   0x0C s_blocksize        0x40 s_nr_users
 *   0x10 s_maxlen           0x44 s_dynsuper
 *   0x14 s_first            0x48 s_max_transaction
 *   0x18 s_sequence         0x4C s_max_trans_data
 *   0x1C s_start            0x50 u8 s_checksum_type, 3 pad
 *   0x20 s_errno            0x54 s_num_fc_blks
 *   0x24 s_feature_compat   0x58 s_head
 *   0x28 s_feature_incompat 0xFC s_checksum
 *   0x2C s_feature_ro_compat 0x100 s_users[16 * 48]
 * Commit block: header, u8 chksum_type, u8 chksum_size, 2 pad,
 *   be32 chksum[8] (0x10), be64 commit_sec (0x30), be32 commit_nsec (0x38).
 * Tags: CSUM_V3: {be32 blocknr, be32 flags, be32 blocknr_high, be32 csum}
 *   otherwise {be32 blocknr, be16 csum, be16 flags [, be32 blocknr_high]}
 *   — see journal_tag_bytes() for the sizes the kernel uses.
 */

/**
 * struct journal_sb - the decoded journal superblock (host order).
 * Every field is the on-disk value; @last is derived: the end of the
 * circular log (@maxlen minus the fast-commit area when FAST_COMMIT is
 * set), so log blocks are [@first, @last).
 */
struct journal_sb {
	uint32_t blocktype;	/* JOURNAL_BT_SB_V1 or _V2 */
	uint32_t blocksize;
	uint32_t maxlen;
	uint32_t first;
	uint32_t sequence;
	uint32_t start;		/* 0: clean, nothing to replay */
	int32_t errno_;		/* s_errno: negative errno or 0 */
	uint32_t feature_compat;
	uint32_t feature_incompat;
	uint32_t feature_ro_compat;
	uint8_t uuid[16];
	uint32_t nr_users;
	uint32_t max_transaction;
	uint32_t max_trans_data;
	uint8_t checksum_type;
	uint32_t num_fc_blks;
	uint32_t head;
	uint32_t checksum;
	uint32_t last;		/* derived, see above */
};

/**
 * struct journal_fmt - what the features imply for every other block;
 * built once from the superblock by journal_fmt_init().
 * @blocksize:   journal block size.
 * @incompat:    feature_incompat; @compat: feature_compat.
 * @tag_bytes:   bytes of one descriptor tag (journal_tag_bytes()).
 * @csum_v2v3:   CSUM_V2 or CSUM_V3: descriptor/revoke tails, commit and
 *               tag checksums.
 * @csum_v3:     tags carry a 32-bit checksum (else 16-bit with v2).
 * @csum_v1:     COMPAT_CHECKSUM (crc32_be over the transaction).
 * @is_64bit:    64-bit block numbers in tags and revoke records.
 * @seed:        crc32c(~0, uuid, 16), the v2/v3 checksum seed.
 */
struct journal_fmt {
	uint32_t blocksize;
	uint32_t incompat;
	uint32_t compat;
	unsigned int tag_bytes;
	bool csum_v2v3;
	bool csum_v3;
	bool csum_v1;
	bool is_64bit;
	uint32_t seed;
};

/** journal_crc32c() - crc32c (Castagnoli, little-endian), libext2fs's. */
uint32_t journal_crc32c(uint32_t crc, const void *buf, size_t len);

/** journal_crc32_be() - the big-endian crc32 of v1 COMPAT_CHECKSUM. */
uint32_t journal_crc32_be(uint32_t crc, const void *buf, size_t len);

/**
 * journal_sb_decode() - decode and check the superblock in @buf (at least
 * JOURNAL_SB_SIZE bytes).
 * @fs_blocksize: the file system block size; s_blocksize must equal it.
 * @nr_blocks:    blocks the journal inode maps; s_maxlen must not exceed
 *                it, and must be at least JOURNAL_MIN_BLOCKS.
 *
 * Checks: magic, blocktype (v1/v2), blocksize, maxlen, 1 <= first <
 * last, start == 0 or first <= start < last, v1 carries no features,
 * CSUM_V2 and CSUM_V3 not both, COMPAT_CHECKSUM not with v2/v3,
 * s_checksum_type CRC32C with v2/v3 and the superblock checksum,
 * nr_users <= 48 and, for v2, <= 1 (internal journals only), the
 * fast-commit area inside maxlen.
 * Return: 0; -EUCLEAN when damaged (message left to the caller);
 * -EOPNOTSUPP for unknown incompat or ro_compat features.
 */
int journal_sb_decode(const void *buf, uint32_t fs_blocksize,
		      uint64_t nr_blocks, struct journal_sb *sb);

/**
 * journal_sb_decode_why() - journal_sb_decode() that also names, in
 * @why, the field that failed (NULL on success), for the caller's
 * message.
 */
int journal_sb_decode_why(const void *buf, uint32_t fs_blocksize,
			  uint64_t nr_blocks, struct journal_sb *sb,
			  const char **why);

/**
 * journal_sb_encode() - store the mutable fields of @sb (sequence, start,
 * errno_, the three feature words, head) into the superblock image @buf,
 * keeping every other byte of @buf (s_users, padding), and refresh the
 * checksum when CSUM_V2/V3 is set. @buf holds the block read from disk.
 */
void journal_sb_encode(const struct journal_sb *sb, void *buf);

/** journal_sb_csum() - the v2/v3 superblock checksum of @buf. */
uint32_t journal_sb_csum(const void *buf);

/** journal_fmt_init() - fill @fmt from a decoded superblock. */
void journal_fmt_init(struct journal_fmt *fmt, const struct journal_sb *sb);

/**
 * journal_tag_bytes() - the kernel's journal_tag_bytes(): 16 with
 * CSUM_V3; else 12 (64BIT) or 8, plus 2 with CSUM_V2.
 */
unsigned int journal_tag_bytes(uint32_t incompat);

/* ---- block headers ------------------------------------------------------ */

/** journal_header_encode() - write {magic, @blocktype, @sequence}. */
void journal_header_encode(void *blk, uint32_t blocktype, uint32_t sequence);

/**
 * journal_header_decode() - read the header of @blk.
 * Return: true when the magic matches (then @blocktype/@sequence are set).
 */
bool journal_header_decode(const void *blk, uint32_t *blocktype,
			   uint32_t *sequence);

/* ---- descriptor blocks ------------------------------------------------- */

/**
 * struct journal_tag - one decoded descriptor tag.
 * @blocknr: home block (the high 32 bits only with 64BIT).
 * @flags:   JOURNAL_TAG_*.
 * @csum:    tag checksum (16 bits with v2, 32 with v3, 0 without).
 */
struct journal_tag {
	uint64_t blocknr;
	uint32_t flags;
	uint32_t csum;
};

/**
 * journal_desc_parse() - walk the tags of descriptor @blk exactly as the
 * kernel's replay and count_tags() do: while a whole tag fits before the
 * tail (blocksize - tail with v2/v3), read it, skip 16 bytes of UUID
 * unless SAME_UUID, stop after LAST_TAG.
 * @tags: room for @max tags (blocksize / 8 is always enough); may be NULL
 *        to only count.
 * Return: the number of tags (each describes one following log block).
 */
unsigned int journal_desc_parse(const struct journal_fmt *fmt,
				const void *blk, struct journal_tag *tags,
				unsigned int max);

/**
 * journal_desc_capacity() - how many tags one descriptor block can hold
 * when the first tag carries a UUID and the others SAME_UUID.
 */
unsigned int journal_desc_capacity(const struct journal_fmt *fmt);

/**
 * journal_desc_encode() - build a descriptor block for @sequence with
 * @nr tags (@nr <= journal_desc_capacity()): header, tags (the first one
 * followed by @uuid, the others SAME_UUID, LAST_TAG on the last), zero
 * padding, and the tail checksum with v2/v3. @tags[i].flags may carry
 * ESCAPE; SAME_UUID and LAST_TAG are set here. @tags[i].csum must be set
 * already (journal_tag_csum()).
 */
void journal_desc_encode(const struct journal_fmt *fmt, void *blk,
			 uint32_t sequence, const struct journal_tag *tags,
			 unsigned int nr, const uint8_t uuid[16]);

/** journal_block_tail_csum_set() - v2/v3 tail of a descriptor or revoke block. */
void journal_block_tail_csum_set(const struct journal_fmt *fmt, void *blk);

/**
 * journal_block_tail_csum_verify() - check that tail.
 * Return: true when it matches, or when the journal has no v2/v3 checksums.
 */
bool journal_block_tail_csum_verify(const struct journal_fmt *fmt,
				    const void *blk);

/**
 * journal_tag_csum() - the v2/v3 checksum of data block @data logged in
 * transaction @sequence: crc32c(crc32c(seed, be32 sequence), data); the
 * caller stores the low 16 bits with v2. 0 without v2/v3.
 */
uint32_t journal_tag_csum(const struct journal_fmt *fmt, uint32_t sequence,
			  const void *data);

/**
 * journal_tag_csum_verify() - the kernel's jbd2_block_tag_csum_verify():
 * true without v2/v3; with v3 the whole 32 bits must match, with v2 the
 * low 16 bits.
 */
bool journal_tag_csum_verify(const struct journal_fmt *fmt,
			     const struct journal_tag *tag, uint32_t sequence,
			     const void *data);

/* ---- revoke blocks ------------------------------------------------------ */

/**
 * journal_revoke_capacity() - revoke records one block holds (4 or 8
 * bytes each after the 16-byte header, before the v2/v3 tail).
 */
unsigned int journal_revoke_capacity(const struct journal_fmt *fmt);

/**
 * journal_revoke_encode() - build a revoke block for @sequence holding
 * @nr (<= capacity) block numbers; sets r_count and the tail checksum.
 */
void journal_revoke_encode(const struct journal_fmt *fmt, void *blk,
			   uint32_t sequence, const uint64_t *blocks,
			   unsigned int nr);

/**
 * journal_revoke_parse() - the records of revoke block @blk, checked as
 * the replay does (r_count > blocksize - tail is -EINVAL; records are
 * read while offset + record size <= r_count).
 * @blocks: room for @max records (blocksize / 4 is enough).
 * Return: the number of records, or -EINVAL for a bad r_count.
 */
int journal_revoke_parse(const struct journal_fmt *fmt, const void *blk,
			 uint64_t *blocks, unsigned int max);

/* ---- commit blocks ------------------------------------------------------ */

/**
 * journal_commit_encode() - build the commit block of @sequence with
 * commit time @sec/@nsec (be64 seconds). With v2/v3 sets chksum[0] to the
 * commit block checksum; with v1 stores @v1_crc32 (type CRC32, size 4).
 */
void journal_commit_encode(const struct journal_fmt *fmt, void *blk,
			   uint32_t sequence, uint64_t sec, uint32_t nsec,
			   uint32_t v1_crc32);

/**
 * journal_commit_csum_verify() - the kernel's
 * jbd2_commit_block_csum_verify(): true without v2/v3.
 */
bool journal_commit_csum_verify(const struct journal_fmt *fmt,
				const void *blk);

/**
 * struct journal_commit - a decoded commit block.
 * @chksum_type/@chksum_size/@chksum0: the v1 fields (h_chksum[0]).
 * @sec/@nsec: commit time.
 */
struct journal_commit {
	uint8_t chksum_type;
	uint8_t chksum_size;
	uint32_t chksum0;
	uint64_t sec;
	uint32_t nsec;
};

/** journal_commit_decode() - read the fields of commit block @blk. */
void journal_commit_decode(const void *blk, struct journal_commit *c);

/* ---- the fast-commit area ----------------------------------------------- */

/*
 * With JOURNAL_INCOMPAT_FAST_COMMIT the last s_num_fc_blks blocks of the
 * journal (JOURNAL_DEFAULT_FC_BLOCKS when 0) are ext4's fast-commit area:
 * not part of the circular log [@first, @last). The kernel writes and
 * reads it from block @last + 1 (its j_fc_first) to @maxlen - 1; block
 * @last itself is never used. Its content is ext4's, not jbd2's: a
 * stream of tags, little-endian, each {le16 tag, le16 len} followed by
 * len bytes of value, never crossing a block (the writer fills a block's
 * end with a PAD tag, or with the TAIL's value). One fast commit is
 *
 *	HEAD {le32 fc_features, le32 fc_tid}   (first tag of the area only)
 *	ADD_RANGE / DEL_RANGE / CREAT / LINK / UNLINK / INODE / PAD ...
 *	TAIL {le32 fc_tid, le32 fc_crc}
 *
 * and later fast commits of the same transaction follow without a HEAD.
 * fc_crc is crc32c, seeded 0 after each TAIL, over every tag since the
 * previous TAIL (tag, len and value; for the TAIL only its tag, len and
 * fc_tid). A fast commit counts, for the replay, only when its TAIL
 * names the transaction after the last full commit and its crc matches.
 */
#define JOURNAL_FC_TAG_ADD_RANGE 0x0001	/* {le32 ino, 12-byte extent} */
#define JOURNAL_FC_TAG_DEL_RANGE 0x0002	/* {le32 ino, le32 lblk, le32 len} */
#define JOURNAL_FC_TAG_CREAT 0x0003	/* dentry {parent, ino, name} */
#define JOURNAL_FC_TAG_LINK 0x0004	/* dentry */
#define JOURNAL_FC_TAG_UNLINK 0x0005	/* dentry */
#define JOURNAL_FC_TAG_INODE 0x0006	/* {le32 ino, raw inode} */
#define JOURNAL_FC_TAG_PAD 0x0007	/* filler to the block's end */
#define JOURNAL_FC_TAG_TAIL 0x0008	/* {le32 tid, le32 crc} */
#define JOURNAL_FC_TAG_HEAD 0x0009	/* {le32 features, le32 tid} */
/** JOURNAL_FC_TAG_BASE_LEN - bytes of {le16 tag, le16 len}. */
#define JOURNAL_FC_TAG_BASE_LEN 4u
/** JOURNAL_FC_ADD_RANGE_LEN, _HEAD_LEN, _TAIL_LEN - value sizes checked. */
#define JOURNAL_FC_ADD_RANGE_LEN 16u
#define JOURNAL_FC_HEAD_LEN 8u
#define JOURNAL_FC_TAIL_LEN 8u
/** JOURNAL_FC_SUPPORTED_FEATURES - HEAD fc_features the kernel knows. */
#define JOURNAL_FC_SUPPORTED_FEATURES 0x0u

/** JOURNAL_FC_STOP, JOURNAL_FC_CONTINUE - journal_fc_scan_block() verdicts. */
#define JOURNAL_FC_STOP 0
#define JOURNAL_FC_CONTINUE 1

/**
 * struct journal_fc_scan - the state of a scan of the fast-commit area,
 * across its blocks (the kernel's ext4_fc_replay_state, scan part).
 * @expected_tid: the transaction after the last full commit found in the
 *                log (the SCAN pass's end).
 * @off:          blocks of the area scanned so far.
 * @cur_tag:      tags seen so far.
 * @nr_tags:      tags up to the last valid TAIL: what a replay would
 *                replay; 0 when no fast commit is valid.
 * @crc:          crc32c of the tags since the last TAIL.
 * Zero it, set @expected_tid, then feed the blocks in order.
 */
struct journal_fc_scan {
	uint32_t expected_tid;
	unsigned int off;
	unsigned int cur_tag;
	unsigned int nr_tags;
	uint32_t crc;
};

/**
 * journal_fc_scan_block() - scan block @blk (@blocksize bytes) of the
 * fast-commit area as the kernel's ext4_fc_replay_scan() does.
 * The first block ends the scan at once unless it starts with a HEAD
 * tag (an unused area). Tags are then walked while one tag header fits
 * in the block: a tag whose value runs past the block,
 * or an ADD_RANGE/HEAD/TAIL of the wrong length, or an unknown tag,
 * stops the scan; a HEAD with unknown features is -EOPNOTSUPP; a HEAD
 * of another transaction (a stale area) stops it; a TAIL of the
 * expected transaction with the right crc makes every tag so far valid
 * (@st->nr_tags), any other TAIL stops it. "Stops" is JOURNAL_FC_STOP
 * once a fast commit is valid, and an error (-EUCLEAN, the kernel's
 * -EFSBADCRC / -ECANCELED) before that — except the stale HEAD, which
 * is always JOURNAL_FC_STOP.
 * Return: JOURNAL_FC_CONTINUE (feed the next block), JOURNAL_FC_STOP,
 * -EUCLEAN, -EOPNOTSUPP.
 */
int journal_fc_scan_block(struct journal_fc_scan *st, const void *blk,
			  unsigned int blocksize);

#endif /* UEXT4_JOURNAL_FORMAT_H */
