/* SPDX-License-Identifier: MIT */
/*
 * uext4-test-jtxn — write jbd2 transactions into an image with journal/,
 * leave them committed but not checkpointed, and check what a replayer
 * (e2fsck, the kernel, uext4) made of them.
 *
 *	uext4-test-jtxn write IMG --manifest FILE [--seed N] [--txns N]
 *		[--blocks-per-txn N] [--revokes] [--wrap] [--big N]
 *		[--revoke-many N] [--csum=none|v2|v3] [--no-64bit | --64bit]
 *		[--high]
 *	uext4-test-jtxn verify IMG MANIFEST
 *	uext4-test-jtxn check IMG
 *
 * write: picks target blocks among the free blocks of the file system
 * (writing them keeps the file system consistent for e2fsck), then runs a
 * script drawn from the seed: transactions adding seeded block contents
 * (a quarter of them starting with the jbd2 magic, so the writer must
 * escape them; some look like a whole commit block header), the same
 * blocks again in later transactions (the newest copy wins), revokes in
 * the same and in later transactions (--revokes), an aborted transaction
 * now and then, and a checkpoint half way. --wrap fills about 70% of the
 * log, checkpoints, and commits until the live part of the log crosses
 * its end. --big N adds one transaction of N blocks (several descriptor
 * blocks), --revoke-many N one revoking N blocks (several revoke blocks;
 * they cover the second half of the --big one's).
 * --high draws half of the targets above block 2^32 (tags and revoke
 * records with a high word; the file system must be that large).
 * The last transactions stay committed and not checkpointed, and the
 * ext4 superblock gets needs_recovery. The manifest lists, for every
 * target block, a hash of the content a correct replay leaves there: the
 * newest copy logged since the last checkpoint unless a revoke of the
 * same or a later transaction covers it, else the home content (what
 * the checkpoint wrote, or what was there before).
 * While writing, journal_lookup() is checked against the model and the
 * home blocks against it after each checkpoint.
 *
 * verify: reads every target block of the manifest and compares; prints
 * each mismatch.
 *
 * check: walks the log from s_start as a replayer's scan pass does, with
 * its own decoding (nothing of journal/), and checks every v2/v3
 * checksum (superblock, descriptor and revoke tails, block tags, commit
 * blocks), the sequence numbers, that every transaction is closed by a
 * commit block and that commit times increase. debugfs 1.47's logdump
 * prints the transactions but checks no checksum, so this is the check.
 * Prints "LIVE FIRST LAST" (the transactions found) or "LIVE none".
 *
 * Exit 0 on success, 1 on failure (with a message), 2 on bad arguments.
 * The seed is printed; the same seed gives the same script.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "cache.h"
#include "journal.h"
#include "rng.h"

/* jbd2 on-disk values (the kernel's include/linux/jbd2.h). */
#define T_MAGIC 0xC03B3998U
#define T_BT_DESCRIPTOR 1
#define T_BT_COMMIT 2
#define T_BT_SB_V2 4
#define T_BT_REVOKE 5
#define T_INCOMPAT_REVOKE 0x01u
#define T_INCOMPAT_64BIT 0x02u
#define T_INCOMPAT_CSUM_V2 0x08u
#define T_INCOMPAT_CSUM_V3 0x10u
#define T_INCOMPAT_FAST_COMMIT 0x20u
#define T_FLAG_ESCAPE 0x1u
#define T_FLAG_SAME_UUID 0x2u
#define T_FLAG_LAST_TAG 0x8u
#define T_CSUM_CRC32C 4

static const char *prog = "uext4-test-jtxn";

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* FNV-1a 64 of one block: the manifest's fingerprint. */
static uint64_t block_hash(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Content version @ver (>= 1) of block @blk: a pattern from (seed, blk,
 * ver). One in four starts with the jbd2 magic (escape); of those, one in
 * two goes on like a commit block header of a plausible transaction.
 */
static void fill_block(uint8_t *buf, size_t bs, uint64_t seed, uint64_t blk,
		       uint32_t ver)
{
	uint64_t s = mix64(seed ^ mix64(blk) ^ ((uint64_t)ver << 40));
	size_t i;

	for (i = 0; i + 8 <= bs; i += 8) {
		uint64_t v = mix64(s + i);

		memcpy(buf + i, &v, 8);
	}
	/* a readable stamp, for hexdumps */
	snprintf((char *)buf + 16, 48, "jtxn blk %" PRIu64 " ver %u", blk, ver);
	switch (mix64(s) % 8) {
	case 0:
		put_be32(buf, T_MAGIC);
		break;
	case 1:
		put_be32(buf, T_MAGIC);
		put_be32(buf + 4, T_BT_COMMIT);
		put_be32(buf + 8, (uint32_t)(mix64(s + 1) % 64));
		break;
	default:
		break;
	}
}

static bool starts_with_magic(const uint8_t *buf)
{
	return get_be32(buf) == T_MAGIC;
}

/* ---- the model ---------------------------------------------------------- */

/*
 * One target block. @home_ver: version at home (0 = what was there at the
 * start, hash @orig_hash). Since the last checkpoint: @log_ver/@log_tid the
 * newest committed copy (tid 0 = none), @rev_tid the newest revoke.
 * In the running transaction: @t_state.
 */
enum { T_NONE, T_ADDED, T_REVOKED };

struct target {
	uint64_t blk;
	uint64_t orig_hash;
	uint32_t home_ver;
	uint32_t log_ver;
	uint32_t log_tid;
	uint32_t rev_tid;
	uint32_t next_ver;
	int t_state;
	uint32_t t_ver;
};

struct writer {
	const char *img;
	uint64_t seed;
	unsigned int blocksize;
	bool fs_64bit;
	bool fs_csum;
	uint32_t incompat;
	struct target *tg;
	size_t nr_tg;
	struct cache_bdev *bdev;
	struct journal *j;
	uint8_t *buf;		/* one block, aligned */
	uint8_t *buf2;
	int check_fd;		/* plain descriptor for home checks */
	/* counters for the summary */
	unsigned int commits, aborts, checkpoints, adds, revokes, escaped;
	unsigned int lookups;
	uint32_t live_first;	/* first tid after the last checkpoint */
	uint32_t live_last;
	/* transaction being built */
	struct journal_txn *t;
	size_t *t_touched;
	size_t nr_touched;
	size_t t_adds, t_revokes;
};

/* Version a correct replay (or checkpoint) leaves at home. */
static uint32_t model_result(const struct target *tg)
{
	if (tg->log_tid && !(tg->rev_tid && tg->rev_tid >= tg->log_tid))
		return tg->log_ver;
	return tg->home_ver;
}

static uint64_t model_hash(struct writer *w, const struct target *tg,
			   uint32_t ver)
{
	if (!ver)
		return tg->orig_hash;
	fill_block(w->buf2, w->blocksize, w->seed, tg->blk, ver);
	return block_hash(w->buf2, w->blocksize);
}

/* ---- reading the file system with libext2fs ------------------------------ */

/* Is @blk free in the bitmap and not taken yet among @tg[0, @n)? */
static bool pick_ok(ext2_filsys fs, const struct target *tg, size_t n,
		    uint64_t blk)
{
	size_t i;

	if (ext2fs_test_block_bitmap2(fs->block_map, blk))
		return false;
	for (i = 0; i < n; i++)
		if (tg[i].blk == blk)
			return false;
	return true;
}

/*
 * Open the image read-only, map the journal, and draw @nr_targets
 * distinct free blocks from the seed (with @high, half of them above
 * 2^32 when the file system reaches that far). Records what they hold.
 */
static void scan_fs(struct writer *w, size_t nr_targets, bool high,
		    uint64_t **map, uint64_t *nr_map)
{
	uint64_t lo, hi, nblocks, tries = 0;
	ext2_filsys fs;
	errcode_t err;
	size_t i;
	int ret;

	err = ext2fs_open2(w->img, NULL, EXT2_FLAG_64BITS, 0, 0,
			   unix_io_manager, &fs);
	if (err)
		die("%s: ext2fs_open2: %s", w->img, error_message(err));
	w->blocksize = fs->blocksize;
	w->fs_64bit = ext2fs_has_feature_64bit(fs->super);
	w->fs_csum = ext2fs_has_feature_metadata_csum(fs->super);
	if (ext2fs_has_feature_journal_needs_recovery(fs->super))
		die("%s: the file system already needs recovery", w->img);
	ret = journal_map_inode(fs, map, nr_map);
	if (ret)
		die("journal_map_inode: %s", strerror(-ret));
	err = ext2fs_read_block_bitmap(fs);
	if (err)
		die("read block bitmap: %s", error_message(err));
	nblocks = ext2fs_blocks_count(fs->super);
	if (high && nblocks <= (1ull << 32) + nr_targets)
		die("--high: the file system ends at block %" PRIu64
		    ", not above 2^32", nblocks);
	if (ext2fs_free_blocks_count(fs->super) < nr_targets * 4)
		die("only %llu free blocks for %zu targets",
		    (unsigned long long)ext2fs_free_blocks_count(fs->super),
		    nr_targets);

	w->tg = calloc(nr_targets, sizeof(*w->tg));
	w->t_touched = calloc(nr_targets, sizeof(*w->t_touched));
	if (!w->tg || !w->t_touched)
		die("out of memory");
	w->nr_tg = nr_targets;
	for (i = 0; i < nr_targets; i++) {
		struct target *tg = &w->tg[i];
		uint64_t blk;

		lo = fs->super->s_first_data_block;
		if (high && i % 2 == 0)
			lo = 1ull << 32;
		hi = nblocks;
		do {
			if (++tries > 1000000)
				die("cannot find %zu free blocks", nr_targets);
			blk = lo + rnd(hi - lo);
		} while (!pick_ok(fs, w->tg, i, blk));
		tg->blk = blk;
		tg->next_ver = 1;
		err = io_channel_read_blk64(fs->io, tg->blk, 1, w->buf2);
		if (err)
			die("read block %" PRIu64 ": %s", tg->blk,
			    error_message(err));
		tg->orig_hash = block_hash(w->buf2, w->blocksize);
	}
	ext2fs_close_free(&fs);
}

/* ---- transactions ----------------------------------------------------- */

static void txn_start(struct writer *w)
{
	int ret = journal_txn_start(w->j, &w->t);

	if (ret)
		die("journal_txn_start: %s", strerror(-ret));
	w->nr_touched = 0;
	w->t_adds = w->t_revokes = 0;
}

static void touch(struct writer *w, struct target *tg)
{
	if (tg->t_state == T_NONE)
		w->t_touched[w->nr_touched++] = (size_t)(tg - w->tg);
}

static void txn_add(struct writer *w, struct target *tg)
{
	uint32_t ver = tg->next_ver++;
	int ret;

	fill_block(w->buf, w->blocksize, w->seed, tg->blk, ver);
	if (starts_with_magic(w->buf))
		w->escaped++;
	ret = journal_txn_add(w->t, tg->blk, w->buf);
	if (ret)
		die("journal_txn_add(%" PRIu64 "): %s", tg->blk,
		    strerror(-ret));
	touch(w, tg);
	tg->t_state = T_ADDED;
	tg->t_ver = ver;
	w->adds++;
	w->t_adds++;
}

static void txn_revoke(struct writer *w, struct target *tg)
{
	int ret = journal_txn_revoke(w->t, tg->blk);

	if (ret)
		die("journal_txn_revoke(%" PRIu64 "): %s", tg->blk,
		    strerror(-ret));
	touch(w, tg);
	tg->t_state = T_REVOKED;
	w->revokes++;
	w->t_revokes++;
}

static void txn_abort(struct writer *w)
{
	size_t i;

	journal_txn_abort(w->t);
	w->t = NULL;
	for (i = 0; i < w->nr_touched; i++)
		w->tg[w->t_touched[i]].t_state = T_NONE;
	w->aborts++;
}

static void model_checkpoint(struct writer *w)
{
	size_t i;

	for (i = 0; i < w->nr_tg; i++) {
		struct target *tg = &w->tg[i];

		tg->home_ver = model_result(tg);
		tg->log_tid = tg->rev_tid = 0;
	}
	w->live_first = 0;
}

static void stats(struct writer *w, struct journal_stats *st)
{
	journal_get_stats(w->j, st);
}

static void txn_commit(struct writer *w)
{
	struct journal_stats before, after;
	uint32_t tid = 0;
	size_t i;
	int ret;

	stats(w, &before);
	ret = journal_txn_commit(w->t, &tid);
	w->t = NULL;
	if (ret)
		die("journal_txn_commit (%zu adds, %zu revokes): %s", w->t_adds,
		    w->t_revokes, strerror(-ret));
	stats(w, &after);
	if (after.checkpoints != before.checkpoints) {
		/* the commit made room first: everything before is home */
		printf("note: commit of tid %u checkpointed first\n", tid);
		model_checkpoint(w);
		w->checkpoints++;
	}
	if (w->commits && tid <= w->live_last)
		die("transaction ids do not increase: %u after %u", tid,
		    w->live_last);
	if (!tid)
		die("journal_txn_commit returned tid 0");
	for (i = 0; i < w->nr_touched; i++) {
		struct target *tg = &w->tg[w->t_touched[i]];

		if (tg->t_state == T_ADDED) {
			tg->log_tid = tid;
			tg->log_ver = tg->t_ver;
		} else if (tg->t_state == T_REVOKED) {
			tg->rev_tid = tid;
		}
		tg->t_state = T_NONE;
	}
	if (!w->live_first)
		w->live_first = tid;
	w->live_last = tid;
	w->commits++;
}

/* journal_lookup() must return the newest copy of a block not revoked. */
static void check_lookups(struct writer *w)
{
	size_t i;

	for (i = 0; i < w->nr_tg; i++) {
		struct target *tg = &w->tg[i];
		bool found = journal_lookup(w->j, tg->blk, w->buf);

		if (tg->log_tid && tg->rev_tid >= tg->log_tid)
			continue;	/* revoked: either answer */
		if (!tg->log_tid) {
			if (found)
				die("journal_lookup(%" PRIu64 ") found a copy; none is logged since the last checkpoint",
				    tg->blk);
			continue;
		}
		if (!found)
			die("journal_lookup(%" PRIu64 ") found nothing; version %u was committed in tid %u",
			    tg->blk, tg->log_ver, tg->log_tid);
		if (block_hash(w->buf, w->blocksize) !=
		    model_hash(w, tg, tg->log_ver))
			die("journal_lookup(%" PRIu64 ") returned other bytes than version %u of tid %u",
			    tg->blk, tg->log_ver, tg->log_tid);
		w->lookups++;
	}
}

/* After a checkpoint every target must hold the model's home version. */
static void check_home(struct writer *w, const char *when)
{
	size_t i;

	for (i = 0; i < w->nr_tg; i++) {
		struct target *tg = &w->tg[i];
		off_t pos = (off_t)tg->blk * w->blocksize;

		if (pread(w->check_fd, w->buf, w->blocksize, pos) !=
		    (ssize_t)w->blocksize)
			die("pread block %" PRIu64 ": %s", tg->blk,
			    strerror(errno));
		if (block_hash(w->buf, w->blocksize) !=
		    model_hash(w, tg, tg->home_ver))
			die("%s: home block %" PRIu64 " does not hold version %u",
			    when, tg->blk, tg->home_ver);
	}
}

static void checkpoint(struct writer *w)
{
	int ret = journal_checkpoint(w->j);

	if (ret)
		die("journal_checkpoint: %s", strerror(-ret));
	model_checkpoint(w);
	w->checkpoints++;
	check_home(w, "after journal_checkpoint");
	check_lookups(w);
}

/*
 * One scripted transaction of @nops operations on targets [0, @span):
 * adds, with --revokes some revokes (of blocks added in this transaction,
 * or logged earlier), some blocks added twice.
 */
static void scripted_txn(struct writer *w, unsigned int nops, size_t span,
			 bool revokes)
{
	unsigned int k;

	txn_start(w);
	for (k = 0; k < nops; k++) {
		struct target *tg = &w->tg[rnd(span)];

		if (revokes && chance(20)) {
			txn_revoke(w, tg);
			if (chance(20))
				txn_add(w, tg);	/* revoke cancelled */
		} else {
			txn_add(w, tg);
			if (revokes && chance(5))
				txn_revoke(w, tg);	/* copy dropped */
			else if (chance(10))
				txn_add(w, tg);	/* second copy wins */
		}
	}
}

/* Log blocks @nadd adds and @nrev revokes may take (an upper bound). */
static uint32_t txn_log_estimate(struct writer *w, size_t nadd, size_t nrev)
{
	unsigned int per_desc = (w->blocksize - 12 - 4 - 16) / 16;
	unsigned int per_rev = (w->blocksize - 16 - 4) / 8;

	return (uint32_t)(nadd + nadd / per_desc + 1 + nrev / per_rev + 1 + 2);
}

static uint32_t log_used(const struct journal_stats *st)
{
	uint32_t len = st->last - st->first;

	return (st->head + len - st->tail) % len;
}

/* ---- needs_recovery -------------------------------------------------- */

/*
 * Set needs_recovery in the primary superblock by patching its bytes, as
 * a crash of the kernel leaves it; nothing else changes but the checksum.
 */
static void set_needs_recovery(const char *img)
{
	struct ext2_super_block sb;
	uint32_t incompat;
	int fd = open(img, O_RDWR);

	if (fd < 0)
		die("%s: %s", img, strerror(errno));
	if (pread(fd, &sb, sizeof(sb), 1024) != (ssize_t)sizeof(sb))
		die("%s: read superblock: %s", img, strerror(errno));
	if (ext2fs_le16_to_cpu(sb.s_magic) != EXT2_SUPER_MAGIC)
		die("%s: bad superblock magic", img);
	incompat = ext2fs_le32_to_cpu(sb.s_feature_incompat);
	sb.s_feature_incompat =
		ext2fs_cpu_to_le32(incompat | EXT3_FEATURE_INCOMPAT_RECOVER);
	if (ext2fs_le32_to_cpu(sb.s_feature_ro_compat) &
	    EXT4_FEATURE_RO_COMPAT_METADATA_CSUM)
		sb.s_checksum = ext2fs_cpu_to_le32(ext2fs_crc32c_le(
			~0U, (unsigned char *)&sb,
			offsetof(struct ext2_super_block, s_checksum)));
	if (pwrite(fd, &sb, sizeof(sb), 1024) != (ssize_t)sizeof(sb) ||
	    fsync(fd))
		die("%s: write superblock: %s", img, strerror(errno));
	close(fd);
}

/* ---- write ------------------------------------------------------------ */

enum { OPT_CSUM = 256, OPT_NO64, OPT_64, OPT_BIG, OPT_REVOKE_MANY, OPT_HIGH };

static int cmd_write(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "txns", required_argument, NULL, 't' },
		{ "blocks-per-txn", required_argument, NULL, 'b' },
		{ "revokes", no_argument, NULL, 'r' },
		{ "wrap", no_argument, NULL, 'w' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "csum", required_argument, NULL, OPT_CSUM },
		{ "no-64bit", no_argument, NULL, OPT_NO64 },
		{ "64bit", no_argument, NULL, OPT_64 },
		{ "high", no_argument, NULL, OPT_HIGH },
		{ "big", required_argument, NULL, OPT_BIG },
		{ "revoke-many", required_argument, NULL, OPT_REVOKE_MANY },
		{ NULL, 0, NULL, 0 },
	};
	struct writer w = { .check_fd = -1 };
	const char *manifest = NULL, *csum = NULL;
	unsigned int txns = 12, per_txn = 24, big = 0, revoke_many = 0;
	bool revokes = false, wrap = false, no64 = false, force64 = false;
	bool high = false;
	struct journal_geometry geo;
	struct journal_stats st;
	uint64_t *map = NULL, nr_map = 0;
	size_t nr_targets, span, i;
	FILE *mf;
	int c, ret;

	w.seed = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': w.seed = strtoull(optarg, NULL, 0); break;
		case 't': txns = (unsigned int)atoi(optarg); break;
		case 'b': per_txn = (unsigned int)atoi(optarg); break;
		case 'r': revokes = true; break;
		case 'w': wrap = true; break;
		case 'm': manifest = optarg; break;
		case OPT_CSUM: csum = optarg; break;
		case OPT_NO64: no64 = true; break;
		case OPT_64: force64 = true; break;
		case OPT_HIGH: high = true; break;
		case OPT_BIG: big = (unsigned int)atoi(optarg); break;
		case OPT_REVOKE_MANY:
			revoke_many = (unsigned int)atoi(optarg);
			break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !manifest || !per_txn || txns < 2) {
		fprintf(stderr, "%s write: IMG --manifest FILE required (txns >= 2, blocks-per-txn >= 1)\n",
			prog);
		return 2;
	}
	w.img = argv[optind];
	rng_state = w.seed;
	printf("seed %" PRIu64 "\n", w.seed);

	/* scratch buffers aligned for O_DIRECT */
	if (posix_memalign((void **)&w.buf, 4096, 65536) ||
	    posix_memalign((void **)&w.buf2, 4096, 65536))
		die("out of memory");

	/* targets: a pool small enough for overlaps between transactions */
	span = (size_t)per_txn * 3;
	nr_targets = span;
	/* the revoke-many set starts half way through the big one's */
	if (big > nr_targets)
		nr_targets = big;
	if (big / 2 + revoke_many > nr_targets)
		nr_targets = big / 2 + revoke_many;
	scan_fs(&w, nr_targets, high, &map, &nr_map);

	w.incompat = T_INCOMPAT_REVOKE;
	if ((w.fs_64bit || force64) && !no64)
		w.incompat |= T_INCOMPAT_64BIT;
	if (!csum)
		csum = w.fs_csum ? "v3" : "none";
	if (!strcmp(csum, "v3"))
		w.incompat |= T_INCOMPAT_CSUM_V3;
	else if (!strcmp(csum, "v2"))
		w.incompat |= T_INCOMPAT_CSUM_V2;
	else if (strcmp(csum, "none"))
		die("--csum: none, v2 or v3, not %s", csum);

	ret = cache_bdev_open(w.img, 0, false, &w.bdev);
	if (ret)
		die("cache_bdev_open(%s): %s", w.img, strerror(-ret));
	w.check_fd = open(w.img, O_RDONLY);
	if (w.check_fd < 0)
		die("%s: %s", w.img, strerror(errno));
	geo = (struct journal_geometry){ .bdev = w.bdev,
					 .blocksize = w.blocksize,
					 .map = map,
					 .nr_blocks = nr_map };
	ret = journal_open(&geo, false, &w.j);
	if (ret)
		die("journal_open: %s", strerror(-ret));
	if (journal_needs_recovery(w.j)) {
		struct journal_recovery_info info;

		printf("note: the log needed recovery before writing\n");
		ret = journal_recover(w.j, &info);
		if (ret)
			die("journal_recover: %s", strerror(-ret));
	}
	ret = journal_writer_init(w.j, w.incompat);
	if (ret)
		die("journal_writer_init(0x%x): %s", w.incompat,
		    strerror(-ret));
	stats(&w, &st);
	printf("fs: blocksize %u%s%s; journal: %" PRIu64 " blocks, log [%u, %u), incompat 0x%x (%s%s, csum %s); %zu targets\n",
	       w.blocksize, w.fs_64bit ? ", 64bit" : "",
	       w.fs_csum ? ", metadata_csum" : "", nr_map, st.first, st.last,
	       w.incompat, "revoke",
	       (w.incompat & T_INCOMPAT_64BIT) ? ", 64bit" : "", csum,
	       w.nr_tg);

	if (wrap) {
		uint32_t len = st.last - st.first, est;
		unsigned int n = 0;

		/* fill ~70% of the log, checkpoint, then cross the end */
		for (;;) {
			stats(&w, &st);
			if (st.head - st.first >= len * 7 / 10)
				break;
			if (++n > 100000)
				die("--wrap: the head does not move (head %u)",
				    st.head);
			scripted_txn(&w, per_txn, span, revokes);
			est = txn_log_estimate(&w, w.t_adds, w.t_revokes);
			if (est > st.free_blocks)
				checkpoint(&w);
			txn_commit(&w);
		}
		checkpoint(&w);
		stats(&w, &st);
		printf("checkpoint at head %u (%u%% of the log)\n", st.head,
		       (st.head - st.first) * 100 / len);
		for (;;) {
			stats(&w, &st);
			if (st.wraps && log_used(&st) >= len / 2)
				break;
			if (++n > 200000)
				die("--wrap: the log never wrapped (head %u tail %u)",
				    st.head, st.tail);
			scripted_txn(&w, per_txn, span, revokes);
			est = txn_log_estimate(&w, w.t_adds, w.t_revokes);
			if (est + 8 > st.free_blocks)
				break;	/* the log is as full as it gets */
			txn_commit(&w);
		}
		if (w.t)
			txn_abort(&w);
		stats(&w, &st);
		if (!st.wraps || st.head >= st.tail)
			die("--wrap: the live log does not cross the end (head %u tail %u wraps %" PRIu64 ")",
			    st.head, st.tail, st.wraps);
	} else {
		unsigned int k;

		for (k = 0; k < txns; k++) {
			scripted_txn(&w, per_txn, span, revokes);
			if (k == 1 && chance(50)) {
				txn_abort(&w);
				scripted_txn(&w, per_txn, span, revokes);
			}
			txn_commit(&w);
			if (k == txns / 2 - 1)
				checkpoint(&w);
			if (k == txns / 2 + 1 && big) {
				/* several descriptor blocks */
				txn_start(&w);
				for (i = 0; i < big; i++)
					txn_add(&w, &w.tg[i]);
				txn_commit(&w);
			}
			if (k == txns / 2 + 2 && revoke_many) {
				/* several revoke blocks, two adds kept */
				size_t from = w.nr_tg - revoke_many;

				txn_start(&w);
				for (i = from; i < w.nr_tg; i++)
					txn_revoke(&w, &w.tg[i]);
				txn_add(&w, &w.tg[from]);
				txn_add(&w, &w.tg[w.nr_tg - 1]);
				txn_commit(&w);
			}
		}
	}
	check_lookups(&w);
	stats(&w, &st);
	printf("committed %u transactions (%u aborted), %u checkpoints, %u adds (%u escaped), %u revokes; %u lookups checked\n",
	       w.commits, w.aborts, w.checkpoints, w.adds, w.escaped,
	       w.revokes, w.lookups);
	printf("log: head %u tail %u of [%u, %u), wraps %" PRIu64 ", next tid %u\n",
	       st.head, st.tail, st.first, st.last, st.wraps, st.next_tid);
	if (!w.live_first)
		die("nothing left to replay after the last checkpoint");
	printf("LIVE %u %u\n", w.live_first, w.live_last);

	/* the manifest: what a correct replay leaves at home */
	mf = fopen(manifest, "w");
	if (!mf)
		die("%s: %s", manifest, strerror(errno));
	fprintf(mf, "# uext4-test-jtxn seed %" PRIu64 "\n", w.seed);
	fprintf(mf, "BLOCKSIZE %u\n", w.blocksize);
	fprintf(mf, "LIVE %u %u\n", w.live_first, w.live_last);
	for (i = 0; i < w.nr_tg; i++) {
		struct target *tg = &w.tg[i];
		uint32_t ver = model_result(tg);

		fprintf(mf, "BLOCK %" PRIu64 " %016" PRIx64 " ver %u%s\n",
			tg->blk, model_hash(&w, tg, ver), ver,
			tg->log_tid ? (ver == tg->log_ver && ver != tg->home_ver
				       ? " replayed" : " revoked")
				    : "");
	}
	if (fclose(mf))
		die("%s: %s", manifest, strerror(errno));

	journal_close(w.j);
	cache_bdev_close(w.bdev);
	close(w.check_fd);
	free(map);
	set_needs_recovery(w.img);
	free(w.tg);
	free(w.t_touched);
	free(w.buf);
	free(w.buf2);
	return 0;
}

/* ---- verify ------------------------------------------------------------ */

static int cmd_verify(int argc, char **argv)
{
	char line[256];
	unsigned int bs = 0, nr = 0, bad = 0;
	uint8_t *buf = NULL;
	FILE *mf;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "%s verify IMG MANIFEST\n", prog);
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		die("%s: %s", argv[1], strerror(errno));
	mf = fopen(argv[2], "r");
	if (!mf)
		die("%s: %s", argv[2], strerror(errno));
	while (fgets(line, sizeof(line), mf)) {
		uint64_t blk, want;
		unsigned int ver;

		if (sscanf(line, "BLOCKSIZE %u", &bs) == 1) {
			if (bs < 1024 || bs > 65536)
				die("%s: bad block size %u", argv[2], bs);
			buf = malloc(bs);
			if (!buf)
				die("out of memory");
			continue;
		}
		if (sscanf(line, "BLOCK %" SCNu64 " %" SCNx64 " ver %u", &blk,
			   &want, &ver) != 3)
			continue;
		if (!buf)
			die("%s: BLOCK before BLOCKSIZE", argv[2]);
		if (pread(fd, buf, bs, (off_t)blk * bs) != (ssize_t)bs)
			die("%s: pread block %" PRIu64 ": %s", argv[1], blk,
			    strerror(errno));
		nr++;
		if (block_hash(buf, bs) != want) {
			bad++;
			printf("MISMATCH block %" PRIu64 ": expected version %u (%016" PRIx64 "), found %016" PRIx64 " \"%.40s\"\n",
			       blk, ver, want, block_hash(buf, bs),
			       (const char *)buf + 16);
		}
	}
	fclose(mf);
	close(fd);
	free(buf);
	if (!nr)
		die("%s: no BLOCK line", argv[2]);
	printf("%u of %u blocks as expected\n", nr - bad, nr);
	return bad ? 1 : 0;
}

/* ---- check: an independent walk of the log ---------------------------- */

struct logsrc {
	int fd;
	ext2_filsys fs;
	unsigned int bs;
	uint32_t maxlen;
};

static void log_read(struct logsrc *ls, uint32_t lblk, uint8_t *buf)
{
	blk64_t pblk = 0;
	errcode_t err;

	err = ext2fs_bmap2(ls->fs, ls->fs->super->s_journal_inum, NULL, NULL,
			   0, lblk, NULL, &pblk);
	if (err || !pblk)
		die("journal block %u: no mapping (%s)", lblk,
		    err ? error_message(err) : "hole");
	if (pread(ls->fd, buf, ls->bs, (off_t)pblk * ls->bs) != (ssize_t)ls->bs)
		die("pread journal block %u: %s", lblk, strerror(errno));
}

static uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
	return ext2fs_crc32c_le(crc, p, len);
}

/* descriptor and revoke blocks: crc32c(seed, block with the tail zeroed) */
static bool tail_ok(const uint8_t *buf, unsigned int bs, uint32_t seed)
{
	uint8_t tmp[65536];

	memcpy(tmp, buf, bs);
	memset(tmp + bs - 4, 0, 4);
	return crc32c(seed, tmp, bs) == get_be32(buf + bs - 4);
}

static int cmd_check(int argc, char **argv)
{
	uint8_t *sb, *buf, *data;
	struct logsrc ls;
	uint32_t first, last, start, seq, incompat, seed = 0, blk;
	uint64_t prev_sec = 0;
	uint32_t prev_nsec = 0;
	unsigned int tag_bytes, csum_size, errors = 0, ntx = 0, ndesc = 0;
	unsigned int ndata = 0, nescaped = 0, nrevblk = 0, nrev = 0, steps;
	bool csum, v3, is64, in_txn = false;
	uint32_t first_tid;
	errcode_t err;

	if (argc != 2) {
		fprintf(stderr, "%s check IMG\n", prog);
		return 2;
	}
	err = ext2fs_open2(argv[1], NULL, EXT2_FLAG_64BITS, 0, 0,
			   unix_io_manager, &ls.fs);
	if (err)
		die("%s: ext2fs_open2: %s", argv[1], error_message(err));
	ls.fd = open(argv[1], O_RDONLY);
	if (ls.fd < 0)
		die("%s: %s", argv[1], strerror(errno));
	ls.bs = ls.fs->blocksize;
	sb = malloc(ls.bs);
	buf = malloc(ls.bs);
	data = malloc(ls.bs);
	if (!sb || !buf || !data)
		die("out of memory");
	log_read(&ls, 0, sb);
	if (get_be32(sb) != T_MAGIC || get_be32(sb + 4) != T_BT_SB_V2)
		die("journal superblock: bad magic or type");
	if (get_be32(sb + 0x0C) != ls.bs)
		die("journal superblock: block size %u", get_be32(sb + 0x0C));
	ls.maxlen = get_be32(sb + 0x10);
	first = get_be32(sb + 0x14);
	seq = get_be32(sb + 0x18);
	start = get_be32(sb + 0x1C);
	incompat = get_be32(sb + 0x28);
	last = ls.maxlen;
	if (incompat & T_INCOMPAT_FAST_COMMIT) {
		uint32_t fc = get_be32(sb + 0x54);

		last -= fc ? fc : 256;
	}
	csum = incompat & (T_INCOMPAT_CSUM_V2 | T_INCOMPAT_CSUM_V3);
	v3 = incompat & T_INCOMPAT_CSUM_V3;
	is64 = incompat & T_INCOMPAT_64BIT;
	if (v3)
		tag_bytes = 16;
	else
		tag_bytes = 12 + ((incompat & T_INCOMPAT_CSUM_V2) ? 2 : 0) -
			    (is64 ? 0 : 4);
	csum_size = csum ? 4 : 0;
	printf("journal: maxlen %u first %u start %u sequence %u incompat 0x%x\n",
	       ls.maxlen, first, start, seq, incompat);
	if ((incompat & T_INCOMPAT_CSUM_V2) && v3) {
		printf("ERROR: both CSUM_V2 and CSUM_V3\n");
		errors++;
	}
	if (csum) {
		uint8_t tmp[1024];

		if (sb[0x50] != T_CSUM_CRC32C) {
			printf("ERROR: journal superblock checksum type %u, not crc32c\n",
			       sb[0x50]);
			errors++;
		}
		memcpy(tmp, sb, 1024);
		memset(tmp + 0xFC, 0, 4);
		if (crc32c(~0U, tmp, 1024) != get_be32(sb + 0xFC)) {
			printf("ERROR: journal superblock checksum\n");
			errors++;
		}
		seed = crc32c(~0U, sb + 0x30, 16);
	}
	if (!start) {
		printf("LIVE none (log empty)\n");
		goto out;
	}
	if (start < first || start >= last)
		die("s_start %u outside the log [%u, %u)", start, first, last);
	first_tid = seq;
	blk = start;
#define NEXT(b) ((b) + 1 >= last ? first : (b) + 1)
	for (steps = 0; steps < last - first; steps++) {
		uint32_t type;

		log_read(&ls, blk, buf);
		if (get_be32(buf) != T_MAGIC || get_be32(buf + 8) != seq)
			break;	/* end of the log */
		type = get_be32(buf + 4);
		if (type == T_BT_DESCRIPTOR) {
			unsigned int off = 12;
			uint32_t flags;

			in_txn = true;
			ndesc++;
			if (csum && !tail_ok(buf, ls.bs, seed)) {
				printf("ERROR: descriptor block %u (tid %u): bad checksum\n",
				       blk, seq);
				errors++;
			}
			do {
				const uint8_t *tag = buf + off;
				uint64_t home;
				uint32_t tcs, want;

				if (off + tag_bytes > ls.bs - csum_size) {
					printf("ERROR: descriptor block %u: tags run past the end without LAST_TAG\n",
					       blk);
					errors++;
					break;
				}
				home = get_be32(tag);
				if (v3) {
					flags = get_be32(tag + 4);
					if (is64)
						home |= (uint64_t)get_be32(tag + 8) << 32;
					tcs = get_be32(tag + 12);
				} else {
					tcs = get_be16(tag + 4);
					flags = get_be16(tag + 6);
					if (is64)
						home |= (uint64_t)get_be32(tag + 8) << 32;
				}
				off += tag_bytes;
				if (!(flags & T_FLAG_SAME_UUID))
					off += 16;
				blk = NEXT(blk);
				log_read(&ls, blk, data);
				ndata++;
				if (flags & T_FLAG_ESCAPE)
					nescaped++;
				else if (get_be32(data) == T_MAGIC) {
					printf("ERROR: log block %u (home %" PRIu64 ", tid %u) starts with the magic but is not escaped\n",
					       blk, home, seq);
					errors++;
				}
				if (home >= ext2fs_blocks_count(ls.fs->super) ||
				    home < ls.fs->super->s_first_data_block) {
					printf("ERROR: tag for block %" PRIu64 " outside the file system\n",
					       home);
					errors++;
				}
				if (csum) {
					uint8_t be[4];

					put_be32(be, seq);
					want = crc32c(crc32c(seed, be, 4), data,
						      ls.bs);
					if (!v3)
						want &= 0xFFFF;
					if (tcs != want) {
						printf("ERROR: data block %u (home %" PRIu64 ", tid %u): bad tag checksum\n",
						       blk, home, seq);
						errors++;
					}
				}
			} while (!(flags & T_FLAG_LAST_TAG));
			blk = NEXT(blk);
		} else if (type == T_BT_REVOKE) {
			uint32_t count = get_be32(buf + 12);
			unsigned int rs = is64 ? 8 : 4, off;

			in_txn = true;
			nrevblk++;
			if (csum && !tail_ok(buf, ls.bs, seed)) {
				printf("ERROR: revoke block %u (tid %u): bad checksum\n",
				       blk, seq);
				errors++;
			}
			if (count < 16 || count > ls.bs - csum_size ||
			    (count - 16) % rs) {
				printf("ERROR: revoke block %u: r_count %u\n", blk,
				       count);
				errors++;
				count = 16;
			}
			for (off = 16; off < count; off += rs) {
				uint64_t r = is64 ? get_be64(buf + off) :
						    get_be32(buf + off);

				if (r >= ext2fs_blocks_count(ls.fs->super)) {
					printf("ERROR: revoke of block %" PRIu64 " outside the file system\n",
					       r);
					errors++;
				}
				nrev++;
			}
			blk = NEXT(blk);
		} else if (type == T_BT_COMMIT) {
			uint64_t sec = get_be64(buf + 0x30);
			uint32_t nsec = get_be32(buf + 0x38);

			if (csum) {
				uint8_t tmp[65536];

				memcpy(tmp, buf, ls.bs);
				memset(tmp + 0x10, 0, 4);
				if (crc32c(seed, tmp, ls.bs) !=
				    get_be32(buf + 0x10)) {
					printf("ERROR: commit block %u (tid %u): bad checksum\n",
					       blk, seq);
					errors++;
				}
			}
			if (ntx && (sec < prev_sec ||
				    (sec == prev_sec && nsec <= prev_nsec))) {
				printf("ERROR: commit block %u (tid %u): commit time %" PRIu64 ".%09u not after %" PRIu64 ".%09u\n",
				       blk, seq, sec, nsec, prev_sec, prev_nsec);
				errors++;
			}
			prev_sec = sec;
			prev_nsec = nsec;
			in_txn = false;
			ntx++;
			seq++;
			blk = NEXT(blk);
		} else {
			printf("ERROR: block %u: unexpected block type %u\n", blk,
			       type);
			errors++;
			break;
		}
	}
#undef NEXT
	if (in_txn) {
		printf("ERROR: transaction %u has no commit block (torn)\n",
		       seq);
		errors++;
	}
	printf("%u transactions, %u descriptor blocks, %u data blocks (%u escaped), %u revoke blocks (%u records); end at block %u\n",
	       ntx, ndesc, ndata, nescaped, nrevblk, nrev, blk);
	if (ntx)
		printf("LIVE %u %u\n", first_tid, seq - 1);
	else
		printf("LIVE none\n");
out:
	free(sb);
	free(buf);
	free(data);
	close(ls.fd);
	ext2fs_close_free(&ls.fs);
	if (errors)
		printf("%u errors\n", errors);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	initialize_ext2_error_table();
	if (argc >= 2 && !strcmp(argv[1], "write"))
		return cmd_write(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return cmd_verify(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	fprintf(stderr,
		"usage: %s write IMG --manifest FILE [--seed N] [--txns N] [--blocks-per-txn N]\n"
		"\t\t[--revokes] [--wrap] [--big N] [--revoke-many N] [--csum=none|v2|v3]\n"
		"\t\t[--no-64bit | --64bit] [--high]\n"
		"       %s verify IMG MANIFEST\n"
		"       %s check IMG\n",
		prog, prog, prog);
	return 2;
}
