// SPDX-License-Identifier: MIT
/*
 * journal/io_manager.c — the io_manager through which libext2fs reads and
 * writes all metadata: a registry that turns the name given to
 * ext2fs_open2() into a registered device (cache_bdev + metadata cache),
 * the struct_io_manager ops, and aligned device I/O on the engine.
 *
 * Every device access goes through cache_bdev_submit() with buffers, offsets
 * and lengths aligned to cache_bdev_align(): unaligned requests are rounded
 * out into a bounce buffer (posix_memalign), and writes that do not cover
 * their aligned region read the head/tail sectors first (read-modify-write,
 * through the metadata cache). So when the engine uses O_DIRECT, no byte of
 * metadata goes through the host page cache, and file data written by
 * cache/ with O_DIRECT never meets a stale host page.
 *
 * The metadata cache is write-back (meta_cache.c): a write updates the
 * cached block and marks it dirty; jio_writeback() sends dirty blocks home
 * in one batch (sorted, contiguous blocks merged into one bio) at a flush,
 * at close, under budget pressure and when the oldest is older than the
 * interval (checked at each write and flush call). Writes too large for
 * the cache, zeroout, and every write while caching is off go to the
 * device at once. No transactions yet: a block goes home, not to a log.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2fs.h>

#include "internal.h"

#define JIO_CHANNEL_MAGIC 0x4a494f43u		/* "JIOC" */
#define JIO_DEFAULT_BLKSIZE 1024		/* as unix_io, until set */
#define JIO_WRITE_INSERT_MAX ((size_t)256 << 10) /* larger writes only update */
#define JIO_CHUNK ((size_t)1 << 20)		/* zeroout/readahead unit */

/**
 * struct jio_private - a channel's private data.
 * @j:     the registered device (one reference held by the channel).
 * @stats: bytes asked for by libext2fs on this channel (get_stats).
 * Protected by the caller's serialization of libext2fs (metadata lock).
 */
struct jio_private {
	unsigned int magic;
	struct journal_dev *j;
	struct struct_io_stats stats;
};

/*
 * The registry: registered devices by name. jio_registry_lock is a leaf
 * lock protecting the list, jio_next_id and every journal's @refs and
 * @registered.
 */
static pthread_mutex_t jio_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct journal_dev *jio_registry;	/* protected by jio_registry_lock */
static unsigned int jio_next_id;	/* protected by jio_registry_lock */

static const struct struct_io_manager jio_manager;

/* ---- registry ------------------------------------------------------------ */

static void jio_free(struct journal_dev *j)
{
	journal_meta_fini(&j->mc);
	free(j);
}

/* Drop a reference; the last one frees. Context: registry lock not held. */
static void jio_put(struct journal_dev *j)
{
	bool last;

	pthread_mutex_lock(&jio_registry_lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&jio_registry_lock);
	/* refs reach 0 only after unregister took it off the list */
	if (last)
		jio_free(j);
}

/**
 * journal_io_register() - see journal.h.
 */
int journal_io_register(struct cache_bdev *bdev,
			const struct journal_io_config *cfg, char *name,
			size_t namelen)
{
	size_t budget = cfg && cfg->cache_budget ? cfg->cache_budget :
						  JOURNAL_IO_CACHE_DEFAULT;
	struct journal_dev *j;
	int ret, n;

	if (!bdev || !name)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->bdev = bdev;
	j->offset = cfg ? cfg->offset : 0;
	j->align = cache_bdev_align(bdev);
	if (j->align == 0)
		j->align = 1;
	j->size = cache_bdev_size(bdev);
	ret = journal_meta_init(&j->mc, budget,
				cfg ? cfg->writeback_interval_ms : 0);
	if (ret)
		goto out_free;

	pthread_mutex_lock(&jio_registry_lock);
	n = snprintf(j->name, sizeof(j->name), "uext4-journal:%u",
		     jio_next_id);
	if (n < 0 || (size_t)n >= namelen) {
		pthread_mutex_unlock(&jio_registry_lock);
		ret = -ENAMETOOLONG;
		goto out_fini;
	}
	jio_next_id++;
	j->refs = 1;
	j->registered = true;
	j->next = jio_registry;
	jio_registry = j;
	pthread_mutex_unlock(&jio_registry_lock);
	memcpy(name, j->name, (size_t)n + 1);
	return 0;

out_fini:
	journal_meta_fini(&j->mc);
out_free:
	free(j);
	return ret;
}

/**
 * journal_io_unregister() - see journal.h.
 */
int journal_io_unregister(const char *name)
{
	struct journal_dev **pp, *j = NULL;

	if (!name)
		return -ENOENT;
	pthread_mutex_lock(&jio_registry_lock);
	for (pp = &jio_registry; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			j = *pp;
			*pp = j->next;
			j->registered = false;
			break;
		}
	}
	pthread_mutex_unlock(&jio_registry_lock);
	if (!j)
		return -ENOENT;
	jio_put(j);
	return 0;
}

/* Find a registered device and take a reference. */
static struct journal_dev *jio_get(const char *name)
{
	struct journal_dev *j;

	pthread_mutex_lock(&jio_registry_lock);
	for (j = jio_registry; j; j = j->next)
		if (strcmp(j->name, name) == 0)
			break;
	if (j)
		j->refs++;
	pthread_mutex_unlock(&jio_registry_lock);
	return j;
}

/* The registered device behind @ch, or NULL if @ch is not ours. */
static struct journal_dev *jio_journal(io_channel ch)
{
	struct jio_private *p;

	if (!ch || ch->magic != EXT2_ET_MAGIC_IO_CHANNEL ||
	    ch->manager != (io_manager)&jio_manager)
		return NULL;
	p = ch->private_data;
	if (!p || p->magic != JIO_CHANNEL_MAGIC)
		return NULL;
	return p->j;
}

/* ---- aligned device I/O ---------------------------------------------------- */

static uint64_t jio_round_down(uint64_t x, size_t a)
{
	return x / a * a;
}

static uint64_t jio_round_up(uint64_t x, size_t a)
{
	return (x + a - 1) / a * a;
}

static void *jio_alloc(const struct journal_dev *j, size_t len)
{
	size_t a = j->align < sizeof(void *) ? sizeof(void *) : j->align;
	void *p = NULL;

	if (posix_memalign(&p, a, len ? len : 1))
		return NULL;
	return p;
}

/**
 * struct jio_seg - one device read of a batch.
 * @pos, @len, @buf: what the caller wants (@pos + @len <= device size).
 * @bounce, @a0:     aligned staging, set by jio_dev_readv().
 */
struct jio_seg {
	uint64_t pos;
	size_t len;
	void *buf;
	void *bounce;
	uint64_t a0;
};

/*
 * Read @n segments from the device as one batch (one submission), each
 * rounded out to the engine's alignment through a bounce buffer when it is
 * not aligned already. Return: 0 or -errno.
 */
static int jio_dev_readv(struct journal_dev *j, struct jio_seg *segs,
			 unsigned int n)
{
	struct cache_bio *bios = calloc(n ? n : 1, sizeof(*bios));
	size_t a = j->align;
	unsigned int i;
	int ret = 0;

	if (!bios)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		segs[i].bounce = NULL;
	for (i = 0; i < n; i++) {
		struct jio_seg *s = &segs[i];
		uint64_t a0 = jio_round_down(s->pos, a);
		uint64_t a1 = jio_round_up(s->pos + s->len, a);

		if (a1 > j->size)
			a1 = j->size;	/* unaligned device end */
		s->a0 = a0;
		if (a0 == s->pos && a1 == s->pos + s->len &&
		    (uintptr_t)s->buf % a == 0) {
			bios[i] = (struct cache_bio){
				.pos = s->pos, .buf = s->buf, .len = s->len,
			};
			continue;
		}
		s->bounce = jio_alloc(j, (size_t)(a1 - a0));
		if (!s->bounce) {
			ret = -ENOMEM;
			goto out_free;
		}
		bios[i] = (struct cache_bio){
			.pos = a0, .buf = s->bounce, .len = (size_t)(a1 - a0),
		};
	}
	atomic_fetch_add(&j->dev_reads, n);
	ret = cache_bdev_submit(j->bdev, bios, n);
	for (i = 0; !ret && i < n; i++)
		if (segs[i].bounce)
			memcpy(segs[i].buf, (char *)segs[i].bounce +
			       (segs[i].pos - segs[i].a0), segs[i].len);
out_free:
	for (i = 0; i < n; i++) {
		free(segs[i].bounce);
		segs[i].bounce = NULL;
	}
	free(bios);
	return ret;
}

/*
 * Read device bytes [@pos, @pos + @len) through the metadata cache: each
 * cached block is copied, the missing blocks are read whole, in runs of
 * consecutive blocks, all runs as one batch, then inserted (unless the
 * read is more than half the budget, which would only evict).
 * Context: @pos + @len <= device size. Return: 0 or -errno.
 */
static int jio_read(struct journal_dev *j, uint64_t pos, void *buf, size_t len)
{
	struct journal_meta_cache *mc = &j->mc;
	struct jio_seg *segs = NULL, whole = { .pos = pos, .len = len,
					       .buf = buf };
	uint64_t seq, first, last, b, k, missed = 0;
	unsigned int g, nruns = 0, i;
	size_t budget;
	bool insert;
	int ret;

	if (!len)
		return 0;
	g = journal_meta_begin(mc, &seq, &budget);
	if (!g)
		return jio_dev_readv(j, &whole, 1);
	first = pos / g;
	last = (pos + len - 1) / g;
	if ((last + 1) * (uint64_t)g > j->size) {
		/* a partial last block is never cached: read it directly */
		uint64_t tail = last * (uint64_t)g;

		if (tail <= pos)
			return jio_dev_readv(j, &whole, 1);
		ret = jio_read(j, pos, buf, (size_t)(tail - pos));
		if (ret)
			return ret;
		whole = (struct jio_seg){ .pos = tail,
					  .len = (size_t)(pos + len - tail),
					  .buf = (char *)buf + (tail - pos) };
		return jio_dev_readv(j, &whole, 1);
	}

	segs = calloc((size_t)(last - first) + 1, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	for (b = first; b <= last; b++) {
		uint64_t s = b * g > pos ? b * g : pos;
		uint64_t e = (b + 1) * g < pos + len ? (b + 1) * g : pos + len;

		if (journal_meta_lookup(mc, g, b, (char *)buf + (s - pos),
					(size_t)(s - b * g), (size_t)(e - s)))
			continue;
		missed += g;
		if (nruns && segs[nruns - 1].pos + segs[nruns - 1].len ==
			     b * g) {
			segs[nruns - 1].len += g;
			continue;
		}
		segs[nruns++] = (struct jio_seg){ .pos = b * g, .len = g };
	}
	ret = 0;
	if (!nruns)
		goto out_free;
	for (i = 0; i < nruns; i++) {
		segs[i].buf = jio_alloc(j, segs[i].len);
		if (!segs[i].buf) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	ret = jio_dev_readv(j, segs, nruns);
	if (ret)
		goto out_free;
	insert = missed <= budget / 2;
	for (i = 0; i < nruns; i++) {
		for (k = 0; k < segs[i].len / g; k++) {
			const char *data = (char *)segs[i].buf + k * g;
			uint64_t bs = segs[i].pos + k * g;
			uint64_t s = bs > pos ? bs : pos;
			uint64_t e = bs + g < pos + len ? bs + g : pos + len;

			if (insert)
				journal_meta_insert(mc, g, seq, bs / g, data);
			memcpy((char *)buf + (s - pos), data + (s - bs),
			       (size_t)(e - s));
		}
	}
out_free:
	for (i = 0; i < nruns; i++)
		free(segs[i].buf);
	free(segs);
	return ret;
}

/*
 * Write device bytes [@pos, @pos + @len) straight to the device (writes the
 * cache does not absorb). An unaligned request is rounded out to the
 * engine's alignment in a bounce buffer whose head and tail sectors are
 * read first (through the cache, so dirty neighbours are written with
 * their new bytes). Cached copies get the new bytes and keep their dirty
 * state; on failure the clean ones are dropped, so that the next read
 * sees what the device holds.
 * Context: @pos + @len <= device size; writers of one block serialized by
 * the caller (metadata lock). Return: 0 or -errno.
 */
static int jio_write_direct(struct journal_dev *j, uint64_t pos, const void *buf,
			    size_t len)
{
	size_t a = j->align;
	uint64_t end = pos + len;
	uint64_t a0 = jio_round_down(pos, a), a1 = jio_round_up(end, a);
	uint64_t t0 = jio_round_down(end, a);
	const void *src = buf;
	void *bounce = NULL;
	int ret = 0;

	if (!len)
		return 0;
	if (a1 > j->size)
		a1 = j->size;
	if (a0 != pos || a1 != end || (uintptr_t)buf % a) {
		bounce = jio_alloc(j, (size_t)(a1 - a0));
		if (!bounce)
			return -ENOMEM;
		if (pos > a0)
			ret = jio_read(j, a0, bounce,
				       (size_t)(a1 - a0 < a ? a1 - a0 : a));
		/* the tail sector, unless the head read covered it */
		if (!ret && end < a1 && !(pos > a0 && t0 == a0))
			ret = jio_read(j, t0, (char *)bounce + (t0 - a0),
				       (size_t)(a1 - t0));
		if (ret)
			goto out_free_bounce;
		memcpy((char *)bounce + (pos - a0), buf, len);
		src = bounce;
	}
	atomic_fetch_add(&j->dev_writes, 1);
	ret = cache_bdev_pwrite(j->bdev, src, (size_t)(a1 - a0), a0);
	journal_meta_update_bytes(&j->mc, pos, buf, len, ret == 0);
out_free_bounce:
	free(bounce);
	return ret;
}

/*
 * Write device bytes [@pos, @pos + @len) into the cache, granule @g by
 * granule, marking them dirty. A partial write of a granule not cached
 * reads it in first; a granule the cache still cannot take (no memory,
 * the granule changed) is written to the device at once.
 * Context: as jio_write_direct(); [@pos, @pos + @len) lies in granules
 * inside the device. Return: 0 or -errno.
 */
static int jio_write_cached(struct journal_dev *j, unsigned int g, uint64_t pos,
			    const void *buf, size_t len)
{
	struct journal_meta_cache *mc = &j->mc;
	uint64_t b, first = pos / g, last = (pos + len - 1) / g;
	unsigned char *tmp = NULL;
	int ret = 0;

	for (b = first; !ret && b <= last; b++) {
		uint64_t s = b * g > pos ? b * g : pos;
		uint64_t e = (b + 1) * g < pos + len ? (b + 1) * g : pos + len;
		const char *src = (const char *)buf + (s - pos);
		size_t off = (size_t)(s - b * g), n = (size_t)(e - s);

		if (journal_meta_write(mc, g, b, src, off, n))
			continue;
		if (n < g) {	/* read-modify-write in the cache */
			if (!tmp)
				tmp = jio_alloc(j, g);
			if (!tmp) {
				ret = -ENOMEM;
				break;
			}
			ret = jio_read(j, b * g, tmp, g);
			if (ret)
				break;
			memcpy(tmp + off, src, n);
			if (journal_meta_write(mc, g, b, tmp, 0, g))
				continue;
		}
		ret = jio_write_direct(j, s, src, n);
	}
	free(tmp);
	return ret;
}

/* -errno from the engine → the errcode_t libext2fs expects (as unix_io). */
static errcode_t jio_errcode(int ret)
{
	if (ret == -ENOMEM)
		return EXT2_ET_NO_MEMORY;
	return (errcode_t)-ret;
}

/* Remember @err as the first deferred error unless one is pending. */
static void jio_note_error(struct journal_dev *j, errcode_t err)
{
	long none = 0;

	if (err)
		atomic_compare_exchange_strong(&j->wb_err, &none, (long)err);
}

/*
 * A run of @n granules from @b starting at index @i, as one write bio.
 * An unaligned run (granule smaller than the engine's alignment) is
 * rounded out in @bounce, its head and tail read through the cache.
 * Return: 0 or -errno (the run is then not written).
 */
static int jio_wb_bio(struct journal_dev *j, const struct journal_meta_batch *b,
		      size_t i, size_t n, struct cache_bio *bio,
		      void **bounce)
{
	size_t a = j->align, g = b->granule;
	uint64_t pos = b->blks[i] * g, end = pos + n * g;
	uint64_t a0 = jio_round_down(pos, a), a1 = jio_round_up(end, a);
	int ret = 0;

	*bounce = NULL;
	*bio = (struct cache_bio){ .pos = pos, .buf = b->data + i * g,
				   .len = n * g, .write = true };
	if (a0 == pos && a1 == end)
		return 0;	/* b->data is aligned, g * i with it */
	if (a1 > j->size)
		a1 = j->size;
	*bounce = jio_alloc(j, (size_t)(a1 - a0));
	if (!*bounce)
		return -ENOMEM;
	if (pos > a0)
		ret = jio_read(j, a0, *bounce, (size_t)(pos - a0));
	if (!ret && a1 > end)
		ret = jio_read(j, end, (char *)*bounce + (end - a0),
			       (size_t)(a1 - end));
	if (ret) {
		free(*bounce);
		*bounce = NULL;
		return ret;
	}
	memcpy((char *)*bounce + (pos - a0), bio->buf, n * g);
	*bio = (struct cache_bio){ .pos = a0, .buf = *bounce,
				   .len = (size_t)(a1 - a0), .write = true };
	return 0;
}

/*
 * Write back the dirty granules @why selects (journal_meta_wb_begin) as
 * one cache_bdev_submit(): sorted by block, a bio per run of consecutive
 * blocks. A failed run calls @ch's write_error hook (if @ch has one) and
 * its error is remembered for the next flush; its granules stay dirty.
 * No device flush here. @nwritten, if not NULL, gets the granules sent.
 * Context: serialized with writes by the caller (metadata lock); no lock
 * held during the I/O. Return: 0 or the first error of this writeback.
 */
static errcode_t jio_writeback(struct journal_dev *j, io_channel ch,
			       enum journal_wb_reason why, size_t *nwritten)
{
	struct journal_meta_batch b;
	struct cache_bio *bios = NULL;
	size_t *start = NULL, i, k, nbios = 0, g;
	void **bounces = NULL;
	unsigned char *data;
	errcode_t first_err = 0;
	int ret;

	if (nwritten)
		*nwritten = 0;
	ret = journal_meta_wb_begin(&j->mc, why, j->align, &b);
	if (ret) {
		jio_note_error(j, jio_errcode(ret));
		return jio_errcode(ret);
	}
	if (!b.nr)
		return 0;
	g = b.granule;
	bios = calloc(b.nr, sizeof(*bios));
	start = calloc(b.nr + 1, sizeof(*start));
	bounces = calloc(b.nr, sizeof(*bounces));
	if (!bios || !start || !bounces) {
		for (i = 0; i < b.nr; i++)
			b.failed[i] = true;
		first_err = EXT2_ET_NO_MEMORY;
		goto out_end;
	}
	for (i = 0; i < b.nr; i = k) {
		for (k = i + 1; k < b.nr && b.blks[k] == b.blks[k - 1] + 1; k++)
			;
		ret = jio_wb_bio(j, &b, i, k - i, &bios[nbios],
				 &bounces[nbios]);
		if (ret) {
			for (size_t x = i; x < k; x++)
				b.failed[x] = true;
			if (!first_err)
				first_err = jio_errcode(ret);
			continue;
		}
		start[nbios++] = i;
	}
	start[nbios] = b.nr;
	if (nbios) {
		atomic_fetch_add(&j->dev_writes, nbios);
		cache_bdev_submit(j->bdev, bios, (unsigned int)nbios);
	}
	for (i = 0; i < nbios; i++) {
		if (bios[i].result == (ssize_t)bios[i].len) {
			if (nwritten)
				*nwritten += bios[i].len / g;
			continue;
		}
		/* the run: start[i] up to the next run's start or a gap */
		for (k = start[i]; k < b.nr && (k == start[i] ||
		     b.blks[k] == b.blks[k - 1] + 1); k++)
			b.failed[k] = true;
	}
out_end:
	data = b.data;		/* kept for the hook, after wb_end */
	b.data = NULL;
	journal_meta_wb_end(&j->mc, &b);
	for (i = 0; i < nbios; i++) {
		errcode_t err;

		if (bios[i].result == (ssize_t)bios[i].len)
			continue;
		err = jio_errcode(bios[i].result < 0 ? (int)bios[i].result :
						       -EIO);
		if (ch && ch->write_error && ch->block_size > 0)
			err = ch->write_error(ch, (unsigned long)(bios[i].pos /
					      (uint64_t)ch->block_size),
					      (int)(bios[i].len /
						    (size_t)ch->block_size),
					      bios[i].buf, bios[i].len, -1, err);
		if (err && !first_err)
			first_err = err;
	}
	jio_note_error(j, first_err);
	for (i = 0; bounces && i < nbios; i++)
		free(bounces[i]);
	free(bounces);
	free(start);
	free(bios);
	free(data);
	return first_err;
}

/*
 * Write device bytes [@pos, @pos + @len): into the cache (dirty) when it
 * can take them, else to the device at once. A write of bytes the cache
 * already holds is skipped. Then the writeback the age of the dirty data
 * or the budget asks for (its errors wait for the next flush), or all of
 * it for a CHANNEL_FLAGS_WRITETHROUGH channel.
 * Context: @pos + @len <= device size; writers of one block serialized by
 * the caller (metadata lock). Return: 0 or -errno.
 */
static int jio_write(struct journal_dev *j, io_channel ch, uint64_t pos,
		     const void *buf, size_t len)
{
	uint64_t seq;
	size_t budget;
	unsigned int g;
	int ret;

	if (!len)
		return 0;
	if (journal_meta_unchanged(&j->mc, pos, buf, len))
		return 0;
	g = journal_meta_begin(&j->mc, &seq, &budget);
	if (g && len <= JIO_WRITE_INSERT_MAX && len <= budget / 2 &&
	    jio_round_up(pos + len, g) <= j->size)
		ret = jio_write_cached(j, g, pos, buf, len);
	else
		ret = jio_write_direct(j, pos, buf, len);
	if (ret)
		return ret;
	jio_writeback(j, ch, ch && (ch->flags & CHANNEL_FLAGS_WRITETHROUGH) ?
		      JOURNAL_WB_ALL : JOURNAL_WB_AUTO, NULL);
	return 0;
}


/*
 * Byte range of a block request: @count > 0 blocks of the channel's size,
 * @count < 0 a byte count of -@count. Return: false if it does not fit
 * the device (the caller reports a short transfer).
 */
static bool jio_range(io_channel ch, const struct journal_dev *j,
		      unsigned long long block, int64_t count, uint64_t *pos,
		      size_t *len)
{
	uint64_t bs = (uint64_t)ch->block_size;
	uint64_t bytes = count < 0 ? (uint64_t)-count : (uint64_t)count * bs;

	*len = (size_t)bytes;
	*pos = 0;
	if (bs == 0 || block > UINT64_MAX / bs)
		return false;
	*pos = block * bs;
	return *pos <= j->size && bytes <= j->size - *pos;
}

/* Write back every dirty block, then set the budget. Return: 0 or -errno. */
static int jio_set_budget(struct journal_dev *j, io_channel ch, size_t bytes)
{
	errcode_t err = jio_writeback(j, ch, JOURNAL_WB_ALL, NULL);

	journal_meta_set_budget(&j->mc, bytes);
	if (!err)
		return 0;
	return err == EXT2_ET_NO_MEMORY ? -ENOMEM :
	       err > 0 && err < 4096 ? -(int)err : -EIO;
}

/* Adopt @bytes as the granule, writing dirty blocks back first if need be. */
static void jio_adopt(struct journal_dev *j, io_channel ch, unsigned int bytes)
{
	if (journal_meta_needs_adopt(&j->mc, bytes))
		jio_writeback(j, ch, JOURNAL_WB_ALL, NULL);
	journal_meta_adopt_granule(&j->mc, bytes);
}

/* ---- the io_manager ops ---------------------------------------------------- */

static errcode_t jio_open(const char *name, int flags, io_channel *channel)
{
	struct jio_private *p = NULL;
	struct journal_dev *j;
	io_channel ch;

	(void)flags;	/* the engine was opened rw or ro by its owner */
	if (!name || !channel)
		return EXT2_ET_BAD_DEVICE_NAME;
	j = jio_get(name);
	if (!j)
		return EXT2_ET_BAD_DEVICE_NAME;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		goto out_put;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_free_channel;
	ch->name = strdup(name);
	if (!ch->name)
		goto out_free_private;

	p->magic = JIO_CHANNEL_MAGIC;
	p->j = j;
	p->stats.num_fields = 2;
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = (io_manager)&jio_manager;
	ch->block_size = JIO_DEFAULT_BLKSIZE;
	ch->refcount = 1;
	ch->flags = 0;		/* write-back */
	ch->private_data = p;
	/* io_channel_alloc_buf() then hands out buffers we need not bounce */
	ch->align = j->align > 1 ? (int)j->align : 0;
	jio_adopt(j, ch, JIO_DEFAULT_BLKSIZE);
	*channel = ch;
	return 0;

out_free_private:
	free(p);
out_free_channel:
	free(ch);
out_put:
	jio_put(j);
	return EXT2_ET_NO_MEMORY;
}

/*
 * The last reference writes every dirty block back (and flushes the device
 * if it wrote any) before the channel goes. Return: the first deferred
 * write error not reported yet, if any; the channel is freed anyway.
 */
static errcode_t jio_close(io_channel ch)
{
	struct journal_dev *j = jio_journal(ch);
	errcode_t err;
	size_t written;
	int ret = 0;

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	if (--ch->refcount > 0)
		return 0;
	jio_writeback(j, ch, JOURNAL_WB_ALL, &written);
	if (written)
		ret = cache_bdev_flush(j->bdev);
	err = (errcode_t)atomic_exchange(&j->wb_err, 0);
	if (!err && ret)
		err = jio_errcode(ret);
	free(ch->private_data);
	free(ch->name);
	free(ch);
	jio_put(j);
	return err;
}

static errcode_t jio_set_blksize(io_channel ch, int blksize)
{
	struct journal_dev *j = jio_journal(ch);

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	if (blksize <= 0)
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = blksize;
	jio_adopt(j, ch, (unsigned int)blksize);
	return 0;
}

static errcode_t jio_read_blk64(io_channel ch, unsigned long long block,
				int count, void *data)
{
	struct journal_dev *j = jio_journal(ch);
	struct jio_private *p;
	errcode_t err;
	uint64_t pos;
	size_t len;
	int ret;

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	p = ch->private_data;
	if (!jio_range(ch, j, block, count, &pos, &len)) {
		err = EXT2_ET_SHORT_READ;
		goto out_error;
	}
	p->stats.bytes_read += len;
	ret = jio_read(j, pos, data, len);
	if (!ret)
		return 0;
	err = jio_errcode(ret);
out_error:
	memset(data, 0, len);
	if (ch->read_error)
		err = ch->read_error(ch, (unsigned long)block, count, data, len,
				     0, err);
	return err;
}

static errcode_t jio_read_blk(io_channel ch, unsigned long block, int count,
			      void *data)
{
	return jio_read_blk64(ch, block, count, data);
}

static errcode_t jio_write_blk64(io_channel ch, unsigned long long block,
				 int count, const void *data)
{
	struct journal_dev *j = jio_journal(ch);
	struct jio_private *p;
	errcode_t err;
	uint64_t pos;
	size_t len;
	int ret;

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	p = ch->private_data;
	if (!jio_range(ch, j, block, count, &pos, &len)) {
		err = EXT2_ET_SHORT_WRITE;
		goto out_error;
	}
	p->stats.bytes_written += len;
	ret = jio_write(j, ch, pos, data, len);
	if (!ret)
		return 0;
	err = jio_errcode(ret);
out_error:
	if (ch->write_error)
		err = ch->write_error(ch, (unsigned long)block, count, data,
				      len, 0, err);
	return err;
}

static errcode_t jio_write_blk(io_channel ch, unsigned long block, int count,
			       const void *data)
{
	return jio_write_blk64(ch, block, count, data);
}

/* Unaligned small writes (libext2fs writes the superblock fields so). */
static errcode_t jio_write_byte(io_channel ch, unsigned long offset,
				int size, const void *data)
{
	struct journal_dev *j = jio_journal(ch);
	struct jio_private *p;
	int ret;

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	if (size < 0)
		return EXT2_ET_INVALID_ARGUMENT;
	p = ch->private_data;
	if (offset > j->size || (uint64_t)size > j->size - offset)
		return EXT2_ET_SHORT_WRITE;
	p->stats.bytes_written += (unsigned long long)size;
	ret = jio_write(j, ch, offset, data, (size_t)size);
	return ret ? jio_errcode(ret) : 0;
}

/*
 * Write every dirty block back, then make the device durable. Return: the
 * first deferred write error not reported yet (this writeback's or an
 * earlier one's; reported once), else the device flush's.
 */
static errcode_t jio_flush(io_channel ch)
{
	struct journal_dev *j = jio_journal(ch);
	errcode_t err;
	int ret;

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	jio_writeback(j, ch, JOURNAL_WB_ALL, NULL);
	ret = cache_bdev_flush(j->bdev);
	err = (errcode_t)atomic_exchange(&j->wb_err, 0);
	if (err)
		return err;
	return ret ? jio_errcode(ret) : 0;
}

static bool jio_parse_u64(const char *arg, uint64_t *out)
{
	char *end;

	if (!arg || !*arg || *arg == '-')
		return false;
	errno = 0;
	*out = strtoull(arg, &end, 0);
	return !*end && errno == 0;
}

static errcode_t jio_set_option(io_channel ch, const char *option,
				const char *arg)
{
	struct journal_dev *j = jio_journal(ch);
	uint64_t v;

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	if (!option)
		return EXT2_ET_INVALID_ARGUMENT;
	if (strcmp(option, "offset") == 0) {
		/* the engine already adds the offset: only agree with it */
		if (!jio_parse_u64(arg, &v) || v != j->offset)
			return EXT2_ET_INVALID_ARGUMENT;
		return 0;
	}
	if (strcmp(option, "cache_budget") == 0) {
		if (!jio_parse_u64(arg, &v) || v > SIZE_MAX)
			return EXT2_ET_INVALID_ARGUMENT;
		jio_set_budget(j, ch, (size_t)v);
		return 0;	/* a failed writeback waits for the flush */
	}
	return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t jio_get_stats(io_channel ch, io_stats *stats)
{
	struct jio_private *p;

	if (!jio_journal(ch))
		return EXT2_ET_MAGIC_IO_CHANNEL;
	p = ch->private_data;
	if (stats)
		*stats = &p->stats;
	return 0;
}

static errcode_t jio_discard(io_channel ch, unsigned long long block,
			     unsigned long long count)
{
	(void)ch;
	(void)block;
	(void)count;
	return EXT2_ET_UNIMPLEMENTED;
}

/* Bring blocks into the metadata cache ahead of use (at most half of it). */
static errcode_t jio_cache_readahead(io_channel ch, unsigned long long block,
				     unsigned long long count)
{
	struct journal_dev *j = jio_journal(ch);
	struct journal_io_stats st;
	uint64_t pos, end, limit;
	size_t len;
	void *buf;
	int ret = 0;

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	if (count > (unsigned long long)INT32_MAX / 2)
		count = INT32_MAX / 2;
	if (!jio_range(ch, j, block, (int64_t)count, &pos, &len))
		return EXT2_ET_SHORT_READ;
	journal_meta_stats(&j->mc, &st);
	limit = st.budget / 2;
	end = pos + (len < limit ? len : limit);
	buf = jio_alloc(j, JIO_CHUNK);
	if (!buf)
		return EXT2_ET_NO_MEMORY;
	for (; !ret && pos < end; pos += JIO_CHUNK)
		ret = jio_read(j, pos, buf, (size_t)(end - pos < JIO_CHUNK ?
						     end - pos : JIO_CHUNK));
	free(buf);
	return ret ? jio_errcode(ret) : 0;
}

/* Write zeros through the engine (no hole punching: the bdev owns the fd). */
static errcode_t jio_zeroout(io_channel ch, unsigned long long block,
			     unsigned long long count)
{
	struct journal_dev *j = jio_journal(ch);
	uint64_t pos, end, bs;
	void *zero;
	int ret = 0;

	if (!j)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	bs = (uint64_t)ch->block_size;
	if (bs == 0 || block > UINT64_MAX / bs || count > UINT64_MAX / bs)
		return EXT2_ET_SHORT_WRITE;
	pos = block * bs;
	if (pos > j->size || count * bs > j->size - pos)
		return EXT2_ET_SHORT_WRITE;
	end = pos + count * bs;
	zero = jio_alloc(j, JIO_CHUNK);
	if (!zero)
		return EXT2_ET_NO_MEMORY;
	memset(zero, 0, JIO_CHUNK);
	for (; !ret && pos < end; pos += JIO_CHUNK)
		ret = jio_write_direct(j, pos, zero,
				       (size_t)(end - pos < JIO_CHUNK ?
						end - pos : JIO_CHUNK));
	free(zero);
	return ret ? jio_errcode(ret) : 0;
}

static const struct struct_io_manager jio_manager = {
	.magic		= EXT2_ET_MAGIC_IO_MANAGER,
	.name		= "uext4 journal I/O manager",
	.open		= jio_open,
	.close		= jio_close,
	.set_blksize	= jio_set_blksize,
	.read_blk	= jio_read_blk,
	.write_blk	= jio_write_blk,
	.flush		= jio_flush,
	.write_byte	= jio_write_byte,
	.set_option	= jio_set_option,
	.get_stats	= jio_get_stats,
	.read_blk64	= jio_read_blk64,
	.write_blk64	= jio_write_blk64,
	.discard	= jio_discard,
	.cache_readahead = jio_cache_readahead,
	.zeroout	= jio_zeroout,
};

/**
 * journal_io_manager() - see journal.h. libext2fs takes a non-const
 * io_manager but never writes through it.
 */
io_manager journal_io_manager(void)
{
	return (io_manager)&jio_manager;
}

/* ---- helpers for the rest of uext4 ----------------------------------------- */

/**
 * journal_io_bdev() - see journal.h.
 */
struct cache_bdev *journal_io_bdev(io_channel ch)
{
	struct journal_dev *j = jio_journal(ch);

	return j ? j->bdev : NULL;
}

/**
 * journal_io_invalidate() - see journal.h.
 */
void journal_io_invalidate(io_channel ch, uint64_t blk, uint64_t count)
{
	struct journal_dev *j = jio_journal(ch);
	uint64_t bs, pos, len;

	if (!j || !count)
		return;
	bs = (uint64_t)ch->block_size;
	if (bs == 0 || blk > UINT64_MAX / bs)
		return;
	pos = blk * bs;
	len = count > (UINT64_MAX - pos) / bs ? UINT64_MAX - pos : count * bs;
	journal_meta_invalidate_bytes(&j->mc, pos, len);
}

/**
 * journal_io_set_cache_budget() - see journal.h.
 */
int journal_io_set_cache_budget(io_channel ch, size_t bytes)
{
	struct journal_dev *j = jio_journal(ch);

	if (!j)
		return -EINVAL;
	return jio_set_budget(j, ch, bytes);
}

/**
 * journal_io_get_stats() - see journal.h.
 */
int journal_io_get_stats(io_channel ch, struct journal_io_stats *st)
{
	struct journal_dev *j = jio_journal(ch);

	if (!j || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	journal_meta_stats(&j->mc, st);
	st->dev_reads = atomic_load(&j->dev_reads);
	st->dev_writes = atomic_load(&j->dev_writes);
	return 0;
}
