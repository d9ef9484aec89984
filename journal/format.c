// SPDX-License-Identifier: MIT
/*
 * journal/format.c — the jbd2 on-disk format: encoders and decoders of the
 * journal superblock, descriptor, revoke and commit blocks, and every
 * checksum the format carries (v1 crc32_be, v2/v3 crc32c).
 *
 * No I/O and no policy here: the log (log.c), replay (recovery.c) and the
 * writer (transaction.c) decide what to do with a block; this file only
 * says what the block contains. Decoders never trust the bytes they read:
 * every length and count is bounded by the block size.
 *
 * The layouts and sizes follow the kernel's fs/jbd2 (include/linux/jbd2.h)
 * exactly, including its quirks: a CSUM_V2 tag is two bytes longer than
 * its fields need, and the tag flags are always read as the be16 at byte 6
 * (for a CSUM_V3 tag that is the low half of its be32 flags).
 */
#include <errno.h>
#include <string.h>

#include <ext2fs/ext2fs.h>

#include "format.h"

/* ---- big-endian helpers -------------------------------------------------- */

static uint32_t get_be32(const void *p)
{
	const unsigned char *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static uint16_t get_be16(const void *p)
{
	const unsigned char *b = p;

	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint64_t get_be64(const void *p)
{
	const unsigned char *b = p;

	return (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
}

static void put_be32(void *p, uint32_t v)
{
	unsigned char *b = p;

	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

static void put_be16(void *p, uint16_t v)
{
	unsigned char *b = p;

	b[0] = (unsigned char)(v >> 8);
	b[1] = (unsigned char)v;
}

static void put_be64(void *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32((unsigned char *)p + 4, (uint32_t)v);
}

/* ---- superblock offsets -------------------------------------------------- */

enum {
	SB_BLOCKSIZE = 0x0C,
	SB_MAXLEN = 0x10,
	SB_FIRST = 0x14,
	SB_SEQUENCE = 0x18,
	SB_START = 0x1C,
	SB_ERRNO = 0x20,
	SB_COMPAT = 0x24,
	SB_INCOMPAT = 0x28,
	SB_RO_COMPAT = 0x2C,
	SB_UUID = 0x30,
	SB_NR_USERS = 0x40,
	SB_MAX_TRANSACTION = 0x48,
	SB_MAX_TRANS_DATA = 0x4C,
	SB_CHECKSUM_TYPE = 0x50,
	SB_NUM_FC_BLKS = 0x54,
	SB_HEAD = 0x58,
	SB_CHECKSUM = 0xFC,
};

/* Commit block offsets. */
enum {
	CB_CHKSUM_TYPE = 0x0C,
	CB_CHKSUM_SIZE = 0x0D,
	CB_CHKSUM0 = 0x10,
	CB_COMMIT_SEC = 0x30,
	CB_COMMIT_NSEC = 0x38,
};

/* Revoke header: the block header, then be32 r_count. */
#define REVOKE_COUNT_OFF 12

/** JOURNAL_MAX_USERS - s_users holds 48 UUIDs of 16 bytes. */
#define JOURNAL_MAX_USERS 48u

/* ---- checksums ----------------------------------------------------------- */

uint32_t journal_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return ext2fs_crc32c_le(crc, buf, len);
}

uint32_t journal_crc32_be(uint32_t crc, const void *buf, size_t len)
{
	return ext2fs_crc32_be(crc, buf, len);
}

/*
 * crc32c of @len bytes of @buf as if the 4 bytes at @hole were zero: the
 * kernel zeroes the stored checksum in place, computes and restores it; we
 * take const buffers, so we checksum around the hole instead.
 */
static uint32_t crc32c_with_hole(uint32_t crc, const void *buf, size_t len,
				 size_t hole)
{
	static const unsigned char zero[4];
	const unsigned char *b = buf;

	crc = journal_crc32c(crc, b, hole);
	crc = journal_crc32c(crc, zero, sizeof(zero));
	return journal_crc32c(crc, b + hole + 4, len - hole - 4);
}

uint32_t journal_sb_csum(const void *buf)
{
	/* jbd2_superblock_csum(): seed ~0, the whole 1 KiB, field zeroed. */
	return crc32c_with_hole(~0u, buf, JOURNAL_SB_SIZE, SB_CHECKSUM);
}

/* ---- superblock ---------------------------------------------------------- */

int journal_sb_decode_why(const void *buf, uint32_t fs_blocksize,
			  uint64_t nr_blocks, struct journal_sb *sb,
			  const char **why)
{
	const unsigned char *b = buf;
	uint32_t magic = get_be32(b);
	bool v2v3;

#define BAD(field, err) (*why = (field), (err))
	*why = NULL;
	memset(sb, 0, sizeof(*sb));
	if (magic != JOURNAL_MAGIC)
		return BAD("h_magic", -EUCLEAN);
	sb->blocktype = get_be32(b + 4);
	if (sb->blocktype != JOURNAL_BT_SB_V1 &&
	    sb->blocktype != JOURNAL_BT_SB_V2)
		return BAD("h_blocktype", -EUCLEAN);
	sb->blocksize = get_be32(b + SB_BLOCKSIZE);
	sb->maxlen = get_be32(b + SB_MAXLEN);
	sb->first = get_be32(b + SB_FIRST);
	sb->sequence = get_be32(b + SB_SEQUENCE);
	sb->start = get_be32(b + SB_START);
	sb->errno_ = (int32_t)get_be32(b + SB_ERRNO);
	if (sb->blocktype == JOURNAL_BT_SB_V2) {
		/* A v1 superblock ends at s_errno: the rest is not its own. */
		sb->feature_compat = get_be32(b + SB_COMPAT);
		sb->feature_incompat = get_be32(b + SB_INCOMPAT);
		sb->feature_ro_compat = get_be32(b + SB_RO_COMPAT);
		memcpy(sb->uuid, b + SB_UUID, sizeof(sb->uuid));
		sb->nr_users = get_be32(b + SB_NR_USERS);
		sb->max_transaction = get_be32(b + SB_MAX_TRANSACTION);
		sb->max_trans_data = get_be32(b + SB_MAX_TRANS_DATA);
		sb->checksum_type = b[SB_CHECKSUM_TYPE];
		sb->num_fc_blks = get_be32(b + SB_NUM_FC_BLKS);
		sb->head = get_be32(b + SB_HEAD);
		sb->checksum = get_be32(b + SB_CHECKSUM);
	} else if (get_be32(b + SB_COMPAT) || get_be32(b + SB_INCOMPAT) ||
		   get_be32(b + SB_RO_COMPAT) || get_be32(b + SB_NR_USERS)) {
		/* e2fsck would wipe these; we refuse to guess. */
		return BAD("v1 superblock with v2 fields", -EUCLEAN);
	}

	if (sb->feature_incompat & ~JOURNAL_INCOMPAT_KNOWN)
		return BAD("s_feature_incompat", -EOPNOTSUPP);
	if (sb->feature_ro_compat)
		return BAD("s_feature_ro_compat", -EOPNOTSUPP);
	if ((sb->feature_incompat & JOURNAL_INCOMPAT_CSUM_V2) &&
	    (sb->feature_incompat & JOURNAL_INCOMPAT_CSUM_V3))
		return BAD("s_feature_incompat (CSUM_V2 with CSUM_V3)",
			   -EUCLEAN);
	v2v3 = sb->feature_incompat &
	       (JOURNAL_INCOMPAT_CSUM_V2 | JOURNAL_INCOMPAT_CSUM_V3);
	if (v2v3 && (sb->feature_compat & JOURNAL_COMPAT_CHECKSUM))
		return BAD("s_feature_compat (CHECKSUM with CSUM_V2/V3)",
			   -EUCLEAN);
	if (v2v3 && sb->checksum_type != JOURNAL_CSUM_TYPE_CRC32C)
		return BAD("s_checksum_type", -EUCLEAN);
	if (v2v3 && sb->checksum != journal_sb_csum(b))
		return BAD("s_checksum", -EUCLEAN);
	if (sb->blocksize != fs_blocksize)
		return BAD("s_blocksize", -EUCLEAN);
	if (sb->maxlen < JOURNAL_MIN_BLOCKS || sb->maxlen > nr_blocks)
		return BAD("s_maxlen", -EUCLEAN);
	if (sb->nr_users > JOURNAL_MAX_USERS)
		return BAD("s_nr_users", -EUCLEAN);
	/*
	 * Only internal journals are opened, and those have one user (the
	 * file system itself). e2fsck takes more as V2 fields left over
	 * from a V1 journal, clears them and replays; we refuse instead:
	 * nothing is replayed from a superblock whose fields cannot be
	 * trusted.
	 */
	if (sb->blocktype == JOURNAL_BT_SB_V2 && sb->nr_users > 1)
		return BAD("s_nr_users", -EUCLEAN);

	sb->last = sb->maxlen;
	if (sb->feature_incompat & JOURNAL_INCOMPAT_FAST_COMMIT) {
		uint32_t fc = sb->num_fc_blks ? sb->num_fc_blks :
						JOURNAL_DEFAULT_FC_BLOCKS;

		/* e2fsck: "incorrect fast commit blocks". */
		if (fc > sb->maxlen || sb->maxlen - fc < JOURNAL_MIN_BLOCKS)
			return BAD("s_num_fc_blks", -EUCLEAN);
		sb->last = sb->maxlen - fc;
	}
	if (sb->first < 1 || sb->first >= sb->last)
		return BAD("s_first", -EUCLEAN);
	if (sb->start && (sb->start < sb->first || sb->start >= sb->last))
		return BAD("s_start", -EUCLEAN);
	return 0;
}
#undef BAD

int journal_sb_decode(const void *buf, uint32_t fs_blocksize,
		      uint64_t nr_blocks, struct journal_sb *sb)
{
	const char *why;

	return journal_sb_decode_why(buf, fs_blocksize, nr_blocks, sb, &why);
}

void journal_sb_encode(const struct journal_sb *sb, void *buf)
{
	unsigned char *b = buf;

	put_be32(b + SB_SEQUENCE, sb->sequence);
	put_be32(b + SB_START, sb->start);
	put_be32(b + SB_ERRNO, (uint32_t)sb->errno_);
	if (get_be32(b + 4) != JOURNAL_BT_SB_V2)
		return;		/* v1: no feature words, no checksum */
	put_be32(b + SB_COMPAT, sb->feature_compat);
	put_be32(b + SB_INCOMPAT, sb->feature_incompat);
	put_be32(b + SB_RO_COMPAT, sb->feature_ro_compat);
	put_be32(b + SB_HEAD, sb->head);
	if (sb->feature_incompat &
	    (JOURNAL_INCOMPAT_CSUM_V2 | JOURNAL_INCOMPAT_CSUM_V3)) {
		/* The writer may turn checksums on: the type goes with them. */
		b[SB_CHECKSUM_TYPE] = JOURNAL_CSUM_TYPE_CRC32C;
		put_be32(b + SB_CHECKSUM, journal_sb_csum(b));
	}
}

unsigned int journal_tag_bytes(uint32_t incompat)
{
	unsigned int sz = 12;	/* sizeof(journal_block_tag_t) */

	if (incompat & JOURNAL_INCOMPAT_CSUM_V3)
		return 16;
	if (incompat & JOURNAL_INCOMPAT_CSUM_V2)
		sz += 2;
	return (incompat & JOURNAL_INCOMPAT_64BIT) ? sz : sz - 4;
}

void journal_fmt_init(struct journal_fmt *fmt, const struct journal_sb *sb)
{
	memset(fmt, 0, sizeof(*fmt));
	fmt->blocksize = sb->blocksize;
	fmt->incompat = sb->feature_incompat;
	fmt->compat = sb->feature_compat;
	fmt->tag_bytes = journal_tag_bytes(sb->feature_incompat);
	fmt->csum_v3 = sb->feature_incompat & JOURNAL_INCOMPAT_CSUM_V3;
	fmt->csum_v2v3 = fmt->csum_v3 ||
			 (sb->feature_incompat & JOURNAL_INCOMPAT_CSUM_V2);
	fmt->csum_v1 = sb->feature_compat & JOURNAL_COMPAT_CHECKSUM;
	fmt->is_64bit = sb->feature_incompat & JOURNAL_INCOMPAT_64BIT;
	fmt->seed = journal_crc32c(~0u, sb->uuid, sizeof(sb->uuid));
}

/* ---- headers ------------------------------------------------------------- */

void journal_header_encode(void *blk, uint32_t blocktype, uint32_t sequence)
{
	unsigned char *b = blk;

	put_be32(b, JOURNAL_MAGIC);
	put_be32(b + 4, blocktype);
	put_be32(b + 8, sequence);
}

bool journal_header_decode(const void *blk, uint32_t *blocktype,
			   uint32_t *sequence)
{
	const unsigned char *b = blk;

	if (get_be32(b) != JOURNAL_MAGIC)
		return false;
	*blocktype = get_be32(b + 4);
	*sequence = get_be32(b + 8);
	return true;
}

/* ---- descriptor and revoke tails ----------------------------------------- */

static unsigned int tail_bytes(const struct journal_fmt *fmt)
{
	return fmt->csum_v2v3 ? JOURNAL_TAIL_SIZE : 0;
}

void journal_block_tail_csum_set(const struct journal_fmt *fmt, void *blk)
{
	unsigned char *tail = (unsigned char *)blk + fmt->blocksize -
			      JOURNAL_TAIL_SIZE;

	if (!fmt->csum_v2v3)
		return;
	put_be32(tail, 0);
	put_be32(tail, journal_crc32c(fmt->seed, blk, fmt->blocksize));
}

bool journal_block_tail_csum_verify(const struct journal_fmt *fmt,
				    const void *blk)
{
	size_t off = fmt->blocksize - JOURNAL_TAIL_SIZE;

	if (!fmt->csum_v2v3)
		return true;
	return get_be32((const unsigned char *)blk + off) ==
	       crc32c_with_hole(fmt->seed, blk, fmt->blocksize, off);
}

/* ---- descriptor blocks --------------------------------------------------- */

unsigned int journal_desc_parse(const struct journal_fmt *fmt,
				const void *blk, struct journal_tag *tags,
				unsigned int max)
{
	const unsigned char *b = blk;
	size_t size = fmt->blocksize - tail_bytes(fmt);
	size_t off = JOURNAL_HEADER_SIZE;
	unsigned int nr = 0;

	while (off + fmt->tag_bytes <= size) {
		const unsigned char *t = b + off;
		uint32_t flags = get_be16(t + 6);

		if (tags && nr < max) {
			struct journal_tag *tag = &tags[nr];

			tag->blocknr = get_be32(t);
			if (fmt->is_64bit)
				tag->blocknr |= (uint64_t)get_be32(t + 8) << 32;
			tag->flags = flags;
			if (fmt->csum_v3)
				tag->csum = get_be32(t + 12);
			else if (fmt->csum_v2v3)
				tag->csum = get_be16(t + 4);
			else
				tag->csum = 0;
		}
		nr++;
		off += fmt->tag_bytes;
		if (!(flags & JOURNAL_TAG_SAME_UUID))
			off += JOURNAL_UUID_SIZE;
		if (flags & JOURNAL_TAG_LAST_TAG)
			break;
	}
	return nr;
}

unsigned int journal_desc_capacity(const struct journal_fmt *fmt)
{
	size_t room = fmt->blocksize - tail_bytes(fmt) - JOURNAL_HEADER_SIZE;

	if (room < fmt->tag_bytes + JOURNAL_UUID_SIZE)
		return 0;
	return 1 + (unsigned int)((room - fmt->tag_bytes - JOURNAL_UUID_SIZE) /
				  fmt->tag_bytes);
}

void journal_desc_encode(const struct journal_fmt *fmt, void *blk,
			 uint32_t sequence, const struct journal_tag *tags,
			 unsigned int nr, const uint8_t uuid[16])
{
	unsigned char *b = blk;
	size_t off = JOURNAL_HEADER_SIZE;

	memset(b, 0, fmt->blocksize);
	journal_header_encode(b, JOURNAL_BT_DESCRIPTOR, sequence);
	for (unsigned int i = 0; i < nr; i++) {
		unsigned char *t = b + off;
		uint32_t flags = tags[i].flags &
				 ~(JOURNAL_TAG_SAME_UUID | JOURNAL_TAG_LAST_TAG);

		if (i)
			flags |= JOURNAL_TAG_SAME_UUID;
		if (i == nr - 1)
			flags |= JOURNAL_TAG_LAST_TAG;
		put_be32(t, (uint32_t)tags[i].blocknr);
		if (fmt->csum_v3) {
			put_be32(t + 4, flags);
			put_be32(t + 12, tags[i].csum);
		} else {
			if (fmt->csum_v2v3)
				put_be16(t + 4, (uint16_t)tags[i].csum);
			put_be16(t + 6, (uint16_t)flags);
		}
		if (fmt->is_64bit)
			put_be32(t + 8, (uint32_t)(tags[i].blocknr >> 32));
		off += fmt->tag_bytes;
		if (!i) {
			memcpy(b + off, uuid, JOURNAL_UUID_SIZE);
			off += JOURNAL_UUID_SIZE;
		}
	}
	journal_block_tail_csum_set(fmt, b);
}

uint32_t journal_tag_csum(const struct journal_fmt *fmt, uint32_t sequence,
			  const void *data)
{
	unsigned char seq[4];
	uint32_t crc;

	if (!fmt->csum_v2v3)
		return 0;
	put_be32(seq, sequence);
	crc = journal_crc32c(fmt->seed, seq, sizeof(seq));
	return journal_crc32c(crc, data, fmt->blocksize);
}

bool journal_tag_csum_verify(const struct journal_fmt *fmt,
			     const struct journal_tag *tag, uint32_t sequence,
			     const void *data)
{
	uint32_t csum;

	if (!fmt->csum_v2v3)
		return true;
	csum = journal_tag_csum(fmt, sequence, data);
	if (fmt->csum_v3)
		return tag->csum == csum;
	return (tag->csum & 0xffff) == (csum & 0xffff);
}

/* ---- revoke blocks ------------------------------------------------------- */

static unsigned int revoke_record_bytes(const struct journal_fmt *fmt)
{
	return fmt->is_64bit ? 8 : 4;
}

unsigned int journal_revoke_capacity(const struct journal_fmt *fmt)
{
	size_t room = fmt->blocksize - tail_bytes(fmt) -
		      JOURNAL_REVOKE_HEADER_SIZE;

	return (unsigned int)(room / revoke_record_bytes(fmt));
}

void journal_revoke_encode(const struct journal_fmt *fmt, void *blk,
			   uint32_t sequence, const uint64_t *blocks,
			   unsigned int nr)
{
	unsigned char *b = blk;
	size_t off = JOURNAL_REVOKE_HEADER_SIZE;

	memset(b, 0, fmt->blocksize);
	journal_header_encode(b, JOURNAL_BT_REVOKE, sequence);
	for (unsigned int i = 0; i < nr; i++) {
		if (fmt->is_64bit)
			put_be64(b + off, blocks[i]);
		else
			put_be32(b + off, (uint32_t)blocks[i]);
		off += revoke_record_bytes(fmt);
	}
	put_be32(b + REVOKE_COUNT_OFF, (uint32_t)off);
	journal_block_tail_csum_set(fmt, b);
}

int journal_revoke_parse(const struct journal_fmt *fmt, const void *blk,
			 uint64_t *blocks, unsigned int max)
{
	const unsigned char *b = blk;
	uint32_t rcount = get_be32(b + REVOKE_COUNT_OFF);
	unsigned int rec = revoke_record_bytes(fmt);
	size_t off = JOURNAL_REVOKE_HEADER_SIZE;
	int nr = 0;

	/* scan_revoke_records(): records must stay before the tail. */
	if (rcount > fmt->blocksize - tail_bytes(fmt))
		return -EINVAL;
	while (off + rec <= rcount) {
		uint64_t blocknr = rec == 8 ? get_be64(b + off) :
					      get_be32(b + off);

		if (blocks && (unsigned int)nr < max)
			blocks[nr] = blocknr;
		nr++;
		off += rec;
	}
	return nr;
}

/* ---- commit blocks ------------------------------------------------------- */

void journal_commit_encode(const struct journal_fmt *fmt, void *blk,
			   uint32_t sequence, uint64_t sec, uint32_t nsec,
			   uint32_t v1_crc32)
{
	unsigned char *b = blk;

	memset(b, 0, fmt->blocksize);
	journal_header_encode(b, JOURNAL_BT_COMMIT, sequence);
	put_be64(b + CB_COMMIT_SEC, sec);
	put_be32(b + CB_COMMIT_NSEC, nsec);
	if (fmt->csum_v1) {
		b[CB_CHKSUM_TYPE] = JOURNAL_CSUM_TYPE_CRC32;
		b[CB_CHKSUM_SIZE] = JOURNAL_CRC32_CHKSUM_SIZE;
		put_be32(b + CB_CHKSUM0, v1_crc32);
	}
	if (fmt->csum_v2v3)
		put_be32(b + CB_CHKSUM0,
			 journal_crc32c(fmt->seed, b, fmt->blocksize));
}

bool journal_commit_csum_verify(const struct journal_fmt *fmt,
				const void *blk)
{
	if (!fmt->csum_v2v3)
		return true;
	return get_be32((const unsigned char *)blk + CB_CHKSUM0) ==
	       crc32c_with_hole(fmt->seed, blk, fmt->blocksize, CB_CHKSUM0);
}

void journal_commit_decode(const void *blk, struct journal_commit *c)
{
	const unsigned char *b = blk;

	c->chksum_type = b[CB_CHKSUM_TYPE];
	c->chksum_size = b[CB_CHKSUM_SIZE];
	c->chksum0 = get_be32(b + CB_CHKSUM0);
	c->sec = get_be64(b + CB_COMMIT_SEC);
	c->nsec = get_be32(b + CB_COMMIT_NSEC);
}

/* ---- the fast-commit area ----------------------------------------------- */

static uint16_t get_le16(const void *p)
{
	const unsigned char *b = p;

	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t get_le32(const void *p)
{
	const unsigned char *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* The kernel's ext4_fc_tag_len_isvalid(): @len fits, and the sizes read. */
static bool fc_tag_len_ok(uint16_t tag, uint16_t len, size_t room)
{
	if (len > room)
		return false;
	switch (tag) {
	case JOURNAL_FC_TAG_ADD_RANGE:
		return len == JOURNAL_FC_ADD_RANGE_LEN;
	case JOURNAL_FC_TAG_TAIL:
		return len >= JOURNAL_FC_TAIL_LEN;
	case JOURNAL_FC_TAG_HEAD:
		return len == JOURNAL_FC_HEAD_LEN;
	default:
		return true;
	}
}

int journal_fc_scan_block(struct journal_fc_scan *st, const void *blk,
			  unsigned int blocksize)
{
	const unsigned char *start = blk;
	const int stop = st->nr_tags ? JOURNAL_FC_STOP : -EUCLEAN;
	size_t pos;

	if (st->off == 0 && get_le16(start) != JOURNAL_FC_TAG_HEAD)
		return JOURNAL_FC_STOP;		/* an unused area */
	st->off++;
	/* a tag may end at the block's end (a TAIL's value fills it) */
	for (pos = 0; pos + JOURNAL_FC_TAG_BASE_LEN <= blocksize;) {
		const unsigned char *cur = start + pos;
		const unsigned char *val = cur + JOURNAL_FC_TAG_BASE_LEN;
		uint16_t tag = get_le16(cur), len = get_le16(cur + 2);

		if (!fc_tag_len_ok(tag, len,
				   blocksize - pos - JOURNAL_FC_TAG_BASE_LEN))
			return stop;
		switch (tag) {
		case JOURNAL_FC_TAG_ADD_RANGE:
		case JOURNAL_FC_TAG_DEL_RANGE:
		case JOURNAL_FC_TAG_LINK:
		case JOURNAL_FC_TAG_UNLINK:
		case JOURNAL_FC_TAG_CREAT:
		case JOURNAL_FC_TAG_INODE:
		case JOURNAL_FC_TAG_PAD:
			st->cur_tag++;
			st->crc = journal_crc32c(st->crc, cur,
						 JOURNAL_FC_TAG_BASE_LEN + len);
			break;
		case JOURNAL_FC_TAG_TAIL:
			st->cur_tag++;
			st->crc = journal_crc32c(st->crc, cur,
						 JOURNAL_FC_TAG_BASE_LEN + 4);
			if (get_le32(val) != st->expected_tid ||
			    get_le32(val + 4) != st->crc)
				return stop;
			st->nr_tags = st->cur_tag;
			st->crc = 0;
			break;
		case JOURNAL_FC_TAG_HEAD:
			if (get_le32(val) & ~JOURNAL_FC_SUPPORTED_FEATURES)
				return -EOPNOTSUPP;
			if (get_le32(val + 4) != st->expected_tid)
				return JOURNAL_FC_STOP;	/* a stale area */
			st->cur_tag++;
			st->crc = journal_crc32c(st->crc, cur,
						 JOURNAL_FC_TAG_BASE_LEN + len);
			break;
		default:
			return stop;
		}
		pos += JOURNAL_FC_TAG_BASE_LEN + len;
	}
	return JOURNAL_FC_CONTINUE;
}
