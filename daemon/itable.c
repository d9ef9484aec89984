/* SPDX-License-Identifier: MIT */
/*
 * daemon/itable.c — the in-memory inode table: one struct daemon_inode per
 * inode the kernel knows (lookup count) or the daemon uses (references),
 * found by inode number in a chained hash table; and eviction, which
 * writes back dirty data and, for an inode whose last link is gone, frees
 * it on disk the way the kernel's ext4_evict_inode() does.
 *
 * Life of an entry (all transitions under dfs->itable_lock):
 *
 *	  iget (absent)           load done
 *	 ───────────────▶ LOADING ─────────▶ LIVE ◀──┐ iget / lookup_inc
 *	   (evicting=1)      │ load failed   │  │    │
 *	                     ▼               │  └────┘
 *	                  removed   refs → 0 │ (iput / forget)
 *	                                     ▼
 *	                   EVICTING (evicting=1) ──▶ removed, cond broadcast
 *
 * An iget that finds an entry with @evicting set (loading or evicting)
 * waits on itable_cond and looks again, so a forget racing with a lookup
 * never hands out an inode that is being freed:
 *
 *	thread A (forget)            thread B (lookup → iget)
 *	nlookup 1 → 0, refs → 0
 *	evicting = 1, unlock
 *	  extent_writeback/free       lock, finds evicting: wait
 *	lock, unlink, broadcast       wakes, not found: load from disk
 *	                              (links_count 0 → -ENOENT)
 *
 * The table lock is a leaf: never held across libext2fs calls, I/O or a
 * wait other than pthread_cond_wait on itable_cond.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ITABLE_MIN_BUCKETS 1024

static size_t bucket_of(const struct daemon_fs *dfs, ext2_ino_t ino)
{
	return ((size_t)ino * 0x9E3779B1u) & (dfs->nbuckets - 1);
}

/* Caller holds itable_lock. */
static struct daemon_inode *__itable_lookup(struct daemon_fs *dfs,
					    ext2_ino_t ino)
{
	struct daemon_inode *di;

	if (!dfs->buckets)
		return NULL;
	for (di = dfs->buckets[bucket_of(dfs, ino)]; di; di = di->hash_next)
		if (di->ino == ino)
			return di;
	return NULL;
}

/* Caller holds itable_lock. Doubles the table when it gets crowded. */
static int __itable_grow(struct daemon_fs *dfs)
{
	size_t n = dfs->nbuckets ? dfs->nbuckets * 2 : ITABLE_MIN_BUCKETS;
	struct daemon_inode **nb = calloc(n, sizeof(*nb));
	struct daemon_inode **old = dfs->buckets;
	size_t oldn = dfs->nbuckets;

	if (!nb)
		return -ENOMEM;
	dfs->buckets = nb;
	dfs->nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		struct daemon_inode *di = old[i], *next;

		for (; di; di = next) {
			size_t b = bucket_of(dfs, di->ino);

			next = di->hash_next;
			di->hash_next = nb[b];
			nb[b] = di;
		}
	}
	free(old);
	return 0;
}

static int __itable_insert(struct daemon_fs *dfs, struct daemon_inode *di)
{
	size_t b;

	if (dfs->count >= dfs->nbuckets) {
		int ret = __itable_grow(dfs);

		if (ret && !dfs->nbuckets)
			return ret;	/* a crowded table still works */
	}
	b = bucket_of(dfs, di->ino);
	di->hash_next = dfs->buckets[b];
	dfs->buckets[b] = di;
	dfs->count++;
	return 0;
}

static void __itable_remove(struct daemon_fs *dfs, struct daemon_inode *di)
{
	struct daemon_inode **pp = &dfs->buckets[bucket_of(dfs, di->ino)];

	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == di) {
			*pp = di->hash_next;
			dfs->count--;
			return;
		}
	}
}

/* Check the on-disk inode of a node the kernel (or a file handle) names. */
static int check_inode(const struct ext2_inode_large *inode)
{
	switch (inode->i_mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG: case LINUX_S_IFDIR: case LINUX_S_IFLNK:
	case LINUX_S_IFCHR: case LINUX_S_IFBLK: case LINUX_S_IFIFO:
	case LINUX_S_IFSOCK:
		break;
	default:
		return inode->i_links_count ? -EUCLEAN : -ENOENT;
	}
	if (inode->i_links_count == 0)
		return -ENOENT;
	return 0;
}

/* Load inode @ino into @di (not yet visible to anyone else). */
static int itable_load(struct daemon_fs *dfs, struct daemon_inode *di,
		       ext2_ino_t ino)
{
	struct ext2_inode_large inode;
	int ret;

	extent_meta_lock(&dfs->efs);
	ret = daemon_read_inode(dfs, ino, &inode);
	if (!ret) {
		ret = check_inode(&inode);
		if (ret == -EUCLEAN)
			extent_fs_error(&dfs->efs, ino, ret, "bad inode mode");
	}
	extent_meta_unlock(&dfs->efs);
	if (ret)
		return ret;
	return extent_inode_init(&dfs->efs, &di->ei, ino, &inode);
}

int daemon_iget(struct daemon_fs *dfs, ext2_ino_t ino,
		struct daemon_inode **out)
{
	struct daemon_inode *di, *fresh = NULL;
	ext2_filsys fs = dfs->efs.fs;
	int ret;

	/* fs->super is constant for these fields: no meta_lock needed */
	if (ino == 0 || ino > fs->super->s_inodes_count ||
	    (ino < EXT2_FIRST_INODE(fs->super) && ino != EXT2_ROOT_INO))
		return -ESTALE;

	pthread_mutex_lock(&dfs->itable_lock);
	for (;;) {
		di = __itable_lookup(dfs, ino);
		if (!di)
			break;
		if (!di->evicting) {
			di->refs++;
			pthread_mutex_unlock(&dfs->itable_lock);
			*out = di;
			return 0;
		}
		pthread_cond_wait(&dfs->itable_cond, &dfs->itable_lock);
	}
	/* Absent: insert a LOADING placeholder so that racers wait for us. */
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		pthread_mutex_unlock(&dfs->itable_lock);
		return -ENOMEM;
	}
	fresh->ino = ino;
	fresh->evicting = true;
	ret = __itable_insert(dfs, fresh);
	pthread_mutex_unlock(&dfs->itable_lock);
	if (ret) {
		free(fresh);
		return ret;
	}

	ret = itable_load(dfs, fresh, ino);

	pthread_mutex_lock(&dfs->itable_lock);
	if (ret) {
		__itable_remove(dfs, fresh);
	} else {
		fresh->evicting = false;
		fresh->refs = 1;
	}
	pthread_cond_broadcast(&dfs->itable_cond);
	pthread_mutex_unlock(&dfs->itable_lock);
	if (ret) {
		free(fresh);
		return ret;
	}
	*out = fresh;
	return 0;
}

struct ea_names {
	char **names;
	size_t n, cap;
};

static int collect_name(char *name, char *value, size_t value_len, void *data)
{
	struct ea_names *en = data;

	(void)value;
	(void)value_len;
	if (en->n == en->cap) {
		size_t cap = en->cap ? en->cap * 2 : 8;
		char **p = realloc(en->names, cap * sizeof(*p));

		if (!p)
			return XATTR_ABORT;
		en->names = p;
		en->cap = cap;
	}
	en->names[en->n] = strdup(name);
	if (!en->names[en->n])
		return XATTR_ABORT;
	en->n++;
	return 0;
}

/*
 * With ea_inode, large values live in inodes of their own whose reference
 * counts only libext2fs's xattr code maintains: remove every attribute
 * through it (which also releases the xattr block) before the inode goes.
 * Context: meta_lock held.
 */
static int itable_drop_xattrs(struct daemon_fs *dfs, ext2_ino_t ino)
{
	struct ext2_xattr_handle *h;
	struct ea_names en = { 0 };
	errcode_t err;

	err = ext2fs_xattrs_open(dfs->efs.fs, ino, &h);
	if (err)
		return extent_errcode(&dfs->efs, ino, err);
	err = ext2fs_xattrs_read(h);
	if (!err)
		err = ext2fs_xattrs_iterate(h, collect_name, &en);
	for (size_t i = 0; !err && i < en.n; i++)
		err = ext2fs_xattr_remove(h, en.names[i]);
	for (size_t i = 0; i < en.n; i++)
		free(en.names[i]);
	free(en.names);
	ext2fs_xattrs_close(&h);
	return err ? extent_errcode(&dfs->efs, ino, err) : 0;
}

/*
 * Free an unlinked inode on disk: blocks, xattrs (block and EA inodes),
 * dtime, bitmap and counters. The cache mapping is already gone, so no
 * writeback can touch the blocks we free (internal.h; also used by the
 * orphan walk at mount). Context: meta_lock held.
 */
int daemon_free_inode(struct daemon_fs *dfs, ext2_ino_t ino)
{
	ext2_filsys fs = dfs->efs.fs;
	struct ext2_inode_large inode;
	struct timespec now;
	errcode_t err;
	bool isdir;
	int ret;

	ret = daemon_read_inode(dfs, ino, &inode);
	if (ret)
		return ret;
	if (inode.i_links_count)	/* relinked meanwhile (cannot happen) */
		return 0;
	isdir = LINUX_S_ISDIR(inode.i_mode);
	if (ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)&inode) &&
	    !(inode.i_flags & EXT4_INLINE_DATA_FL)) {
		err = ext2fs_punch(fs, ino, (struct ext2_inode *)&inode, NULL,
				   0, ~0ULL);
		if (err)
			return extent_errcode(&dfs->efs, ino, err);
		ret = daemon_read_inode(dfs, ino, &inode);
		if (ret)
			return ret;
	}
	if (ext2fs_has_feature_ea_inode(fs->super) &&
	    !(inode.i_flags & EXT4_INLINE_DATA_FL)) {
		ret = itable_drop_xattrs(dfs, ino);
		if (ret)
			return ret;
		ret = daemon_read_inode(dfs, ino, &inode);
		if (ret)
			return ret;
	}
	if (ext2fs_file_acl_block(fs, (struct ext2_inode *)&inode)) {
		/* drop our reference to the block; freed when it was the last */
		err = ext2fs_free_ext_attr(fs, ino, &inode);
		if (err)
			return extent_errcode(&dfs->efs, ino, err);
	}
	daemon_now(&now);
	inode.i_dtime = (uint32_t)now.tv_sec;
	inode.i_size = 0;
	inode.i_size_high = 0;
	inode.i_flags &= ~EXT4_INLINE_DATA_FL;
	ret = daemon_write_inode(dfs, ino, &inode);
	if (ret)
		return ret;
	ext2fs_inode_alloc_stats2(fs, ino, -1, isdir);
	return 0;
}

/* Evict @di (removed from lookups: evicting is set). No lock held. */
static void itable_evict(struct daemon_fs *dfs, struct daemon_inode *di)
{
	struct ext2_inode_large inode;
	ext2_ino_t ino = di->ino;
	bool unlinked = false;
	int ret;

	extent_meta_lock(&dfs->efs);
	if (daemon_read_inode(dfs, ino, &inode) == 0)
		unlinked = inode.i_links_count == 0;
	extent_meta_unlock(&dfs->efs);

	if (unlinked && (!(dfs->efs.fs->flags & EXT2_FLAG_RW) ||
			 atomic_load(&dfs->efs.readonly)))
		unlinked = false;	/* read-only: leave it for e2fsck */
	if (!unlinked) {
		if (di->ei.file.mapping) {
			ret = extent_writeback(&di->ei);
			if (ret)
				fprintf(stderr,
					"uext4: inode %u: writeback failed at eviction: %s\n",
					ino, strerror(-ret));
		}
		extent_inode_destroy(&di->ei);
		return;
	}
	/* Drop the cached data first: nothing may write the blocks we free. */
	extent_inode_destroy(&di->ei);
	extent_meta_lock(&dfs->efs);
	ret = daemon_free_inode(dfs, ino);
	extent_meta_unlock(&dfs->efs);
	if (ret)
		fprintf(stderr, "uext4: inode %u: freeing failed: %s\n", ino,
			strerror(-ret));
}

/* Evict @di whose last reference is gone; caller holds itable_lock. */
static void __itable_evict_locked(struct daemon_fs *dfs,
				  struct daemon_inode *di)
{
	di->evicting = true;
	pthread_mutex_unlock(&dfs->itable_lock);
	itable_evict(dfs, di);
	pthread_mutex_lock(&dfs->itable_lock);
	__itable_remove(dfs, di);
	pthread_cond_broadcast(&dfs->itable_cond);
	pthread_mutex_unlock(&dfs->itable_lock);
	free(di);
}

void daemon_iput(struct daemon_fs *dfs, struct daemon_inode *di)
{
	pthread_mutex_lock(&dfs->itable_lock);
	if (di->refs == 0) {
		fprintf(stderr, "uext4: inode %u: reference underflow\n",
			di->ino);
		pthread_mutex_unlock(&dfs->itable_lock);
		return;
	}
	if (--di->refs == 0 && di->nlookup == 0) {
		__itable_evict_locked(dfs, di);
		return;
	}
	pthread_mutex_unlock(&dfs->itable_lock);
}

void daemon_lookup_inc(struct daemon_fs *dfs, struct daemon_inode *di)
{
	pthread_mutex_lock(&dfs->itable_lock);
	if (di->nlookup++ == 0)
		di->refs++;	/* the table's own reference */
	pthread_mutex_unlock(&dfs->itable_lock);
}

void daemon_forget(struct daemon_fs *dfs, ext2_ino_t ino, uint64_t nlookup)
{
	struct daemon_inode *di;

	pthread_mutex_lock(&dfs->itable_lock);
	di = __itable_lookup(dfs, ino);
	if (!di || di->evicting || di->nlookup == 0) {
		pthread_mutex_unlock(&dfs->itable_lock);
		return;
	}
	if (nlookup > di->nlookup)
		nlookup = di->nlookup;
	di->nlookup -= nlookup;
	if (di->nlookup == 0 && --di->refs == 0) {
		__itable_evict_locked(dfs, di);
		return;
	}
	pthread_mutex_unlock(&dfs->itable_lock);
}

struct daemon_inode *daemon_itable_find(struct daemon_fs *dfs, ext2_ino_t ino)
{
	struct daemon_inode *di;

	pthread_mutex_lock(&dfs->itable_lock);
	di = __itable_lookup(dfs, ino);
	if (di && di->evicting)
		di = NULL;
	if (di)
		di->refs++;
	pthread_mutex_unlock(&dfs->itable_lock);
	return di;
}

/*
 * The table lock keeps @di from being freed while we look (eviction frees
 * only after __itable_remove() under it); no reference is taken, so no
 * daemon_iput() (which may evict and take meta_lock) is needed here.
 */
void daemon_itable_times_changed(struct daemon_fs *dfs, ext2_ino_t ino)
{
	struct daemon_inode *di;

	pthread_mutex_lock(&dfs->itable_lock);
	di = __itable_lookup(dfs, ino);
	if (di)
		atomic_store(&di->atime_until, 0);
	pthread_mutex_unlock(&dfs->itable_lock);
}

/* Referenced snapshot of every live inode; caller puts each. */
static struct daemon_inode **itable_snapshot(struct daemon_fs *dfs, size_t *n)
{
	struct daemon_inode **all;
	size_t k = 0;

	pthread_mutex_lock(&dfs->itable_lock);
	all = malloc((dfs->count + 1) * sizeof(*all));
	if (all) {
		for (size_t b = 0; b < dfs->nbuckets; b++) {
			for (struct daemon_inode *di = dfs->buckets[b]; di;
			     di = di->hash_next) {
				if (di->evicting)
					continue;
				di->refs++;
				all[k++] = di;
			}
		}
	}
	pthread_mutex_unlock(&dfs->itable_lock);
	*n = k;
	return all;
}

int daemon_itable_sync_all(struct daemon_fs *dfs)
{
	struct daemon_inode **all;
	size_t n;
	int first = 0;

	all = itable_snapshot(dfs, &n);
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (all[i]->ei.file.mapping) {
			int ret = extent_writeback(&all[i]->ei);

			if (ret && !first)
				first = ret;
		}
		daemon_iput(dfs, all[i]);
	}
	free(all);
	return first;
}

void daemon_itable_evict_all(struct daemon_fs *dfs)
{
	struct daemon_inode *di;

	pthread_mutex_lock(&dfs->itable_lock);
	for (;;) {
		di = NULL;
		for (size_t b = 0; b < dfs->nbuckets && !di; b++)
			for (di = dfs->buckets[b]; di && di->evicting;
			     di = di->hash_next)
				;
		if (!di) {
			if (dfs->count == 0)
				break;
			/* someone else is evicting: wait for them */
			pthread_cond_wait(&dfs->itable_cond, &dfs->itable_lock);
			continue;
		}
		/* unmount: the kernel's lookups and open handles are gone */
		di->nlookup = 0;
		di->refs = 0;
		di->nopen = 0;
		__itable_evict_locked(dfs, di);
		pthread_mutex_lock(&dfs->itable_lock);
	}
	free(dfs->buckets);
	dfs->buckets = NULL;
	dfs->nbuckets = 0;
	pthread_mutex_unlock(&dfs->itable_lock);
}

/* ---- FUSE handlers ------------------------------------------------------ */

void daemon_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	daemon_forget(daemon_fs_of(req), daemon_ino(ino), nlookup);
	fuse_reply_none(req);
}

void daemon_op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct daemon_fs *dfs = daemon_fs_of(req);

	for (size_t i = 0; i < count; i++)
		daemon_forget(dfs, daemon_ino(forgets[i].ino),
			      forgets[i].nlookup);
	fuse_reply_none(req);
}
