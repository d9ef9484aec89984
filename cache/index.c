// SPDX-License-Identifier: MIT
/*
 * cache/index.c — the folio index of a mapping: a radix tree with 64 slots
 * per node and one tag bit per slot (used for "dirty"), in the manner of
 * the kernel's xarray marks. The tree grows in height only as far as the
 * largest key needs, so a small file costs one node while a sparse file with
 * folios near index 2^48 costs one path of nodes per populated region.
 * Ordered scans (next present or next tagged key at or after a start) skip
 * empty and untagged subtrees with one bit operation per node.
 *
 * Not thread-safe: callers hold the mapping's index lock.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

/* Keys below this limit fit a tree of @height (0 if every key fits). */
static uint64_t index_key_limit(unsigned int height)
{
	if (height * CACHE_INDEX_BITS >= 64)
		return 0;
	return UINT64_C(1) << (height * CACHE_INDEX_BITS);
}

static bool index_fits(unsigned int height, uint64_t key)
{
	uint64_t limit = index_key_limit(height);

	return limit == 0 || key < limit;
}

static unsigned int index_slot(uint64_t key, unsigned int level)
{
	return (key >> ((level - 1) * CACHE_INDEX_BITS)) &
	       (CACHE_INDEX_SLOTS - 1);
}

void cache_index_init(struct cache_index *ix)
{
	ix->root = NULL;
	ix->height = 0;
	ix->count = 0;
}

static void index_free_node(struct cache_index_node *n, unsigned int level)
{
	uint64_t bits = n->present;

	if (level > 1) {
		while (bits) {
			unsigned int s = __builtin_ctzll(bits);

			bits &= bits - 1;
			index_free_node(n->slots[s], level - 1);
		}
	}
	free(n);
}

void cache_index_fini(struct cache_index *ix)
{
	if (ix->root)
		index_free_node(ix->root, ix->height);
	cache_index_init(ix);
}

void *cache_index_lookup(const struct cache_index *ix, uint64_t key)
{
	struct cache_index_node *n = ix->root;
	unsigned int level;

	if (!n || !index_fits(ix->height, key))
		return NULL;
	for (level = ix->height; level > 1; level--) {
		n = n->slots[index_slot(key, level)];
		if (!n)
			return NULL;
	}
	return n->slots[index_slot(key, 1)];
}

int cache_index_insert(struct cache_index *ix, uint64_t key, void *item)
{
	struct cache_index_node *n;
	unsigned int level;

	assert(item);
	if (!ix->root) {
		unsigned int h = 1;

		while (!index_fits(h, key))
			h++;
		ix->root = calloc(1, sizeof(*ix->root));
		if (!ix->root)
			return -ENOMEM;
		ix->height = h;
	}
	while (!index_fits(ix->height, key)) {
		struct cache_index_node *up = calloc(1, sizeof(*up));

		if (!up)
			return -ENOMEM;
		up->slots[0] = ix->root;
		up->present = 1;
		up->tagged = ix->root->tagged ? 1 : 0;
		ix->root = up;
		ix->height++;
	}

	n = ix->root;
	for (level = ix->height; level > 1; level--) {
		unsigned int s = index_slot(key, level);

		if (!n->slots[s]) {
			/*
			 * A node created here stays empty if the insert
			 * fails below; it is harmless (lookups see NULL
			 * slots) and freed with the tree.
			 */
			n->slots[s] = calloc(1, sizeof(*n));
			if (!n->slots[s])
				return -ENOMEM;
			n->present |= UINT64_C(1) << s;
		}
		n = n->slots[s];
	}
	level = index_slot(key, 1);
	if (n->slots[level])
		return -EEXIST;
	n->slots[level] = item;
	n->present |= UINT64_C(1) << level;
	ix->count++;
	return 0;
}

/* Collect the path to @key's leaf node; false if the path is incomplete. */
static bool index_path(const struct cache_index *ix, uint64_t key,
		       struct cache_index_node **path)
{
	struct cache_index_node *n = ix->root;
	unsigned int level;

	if (!n || !index_fits(ix->height, key))
		return false;
	for (level = ix->height; level >= 1; level--) {
		path[level] = n;
		if (level == 1)
			break;
		n = n->slots[index_slot(key, level)];
		if (!n)
			return false;
	}
	return true;
}

/* Shrink the tree while the root has a single child in slot 0. */
static void index_shrink(struct cache_index *ix)
{
	while (ix->height > 1 && ix->root->present == 1) {
		struct cache_index_node *child = ix->root->slots[0];

		free(ix->root);
		ix->root = child;
		ix->height--;
	}
	if (ix->root && ix->root->present == 0) {
		free(ix->root);
		ix->root = NULL;
		ix->height = 0;
	}
}

void *cache_index_delete(struct cache_index *ix, uint64_t key)
{
	struct cache_index_node *path[CACHE_INDEX_MAX_HEIGHT + 1];
	unsigned int level;
	void *item;

	if (!index_path(ix, key, path))
		return NULL;
	item = path[1]->slots[index_slot(key, 1)];
	if (!item)
		return NULL;
	for (level = 1; level <= ix->height; level++) {
		struct cache_index_node *n = path[level];
		unsigned int s = index_slot(key, level);
		uint64_t bit = UINT64_C(1) << s;

		if (level == 1) {
			n->slots[s] = NULL;
			n->present &= ~bit;
			n->tagged &= ~bit;
		} else {
			struct cache_index_node *child = n->slots[s];
			bool child_tagged = child->tagged != 0;

			if (child->present == 0) {
				free(child);
				n->slots[s] = NULL;
				n->present &= ~bit;
				child_tagged = false;
			}
			if (!child_tagged)
				n->tagged &= ~bit;
		}
	}
	ix->count--;
	index_shrink(ix);
	return item;
}

void cache_index_set_tag(struct cache_index *ix, uint64_t key, bool on)
{
	struct cache_index_node *path[CACHE_INDEX_MAX_HEIGHT + 1];
	unsigned int level;

	if (!index_path(ix, key, path) ||
	    !path[1]->slots[index_slot(key, 1)])
		return;
	for (level = 1; level <= ix->height; level++) {
		uint64_t bit = UINT64_C(1) << index_slot(key, level);

		if (on) {
			path[level]->tagged |= bit;
			continue;
		}
		if (level > 1 && path[level - 1]->tagged)
			break; /* a sibling below is still tagged */
		path[level]->tagged &= ~bit;
	}
}

bool cache_index_get_tag(const struct cache_index *ix, uint64_t key)
{
	struct cache_index_node *path[CACHE_INDEX_MAX_HEIGHT + 1];

	if (!index_path(ix, key, path))
		return false;
	return path[1]->tagged & (UINT64_C(1) << index_slot(key, 1));
}

static void *index_next_node(const struct cache_index_node *n,
			     unsigned int level, uint64_t base, uint64_t start,
			     bool tagged, uint64_t *key)
{
	unsigned int shift = (level - 1) * CACHE_INDEX_BITS;
	unsigned int off = start > base ? (start - base) >> shift : 0;
	uint64_t bits = tagged ? n->tagged : n->present;

	assert(off < CACHE_INDEX_SLOTS);
	bits &= ~UINT64_C(0) << off;
	while (bits) {
		unsigned int s = __builtin_ctzll(bits);
		uint64_t cbase = base + ((uint64_t)s << shift);
		void *found;

		bits &= bits - 1;
		if (level == 1) {
			*key = cbase;
			return n->slots[s];
		}
		found = index_next_node(n->slots[s], level - 1, cbase,
					start > cbase ? start : cbase, tagged,
					key);
		if (found)
			return found;
	}
	return NULL;
}

void *cache_index_next(const struct cache_index *ix, uint64_t start,
		       bool tagged, uint64_t *key)
{
	if (!ix->root || !index_fits(ix->height, start))
		return NULL;
	return index_next_node(ix->root, ix->height, 0, start, tagged, key);
}
