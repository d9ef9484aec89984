/* SPDX-License-Identifier: MIT */
/*
 * journal/recovery_batch.h — the home writes of a device replay
 * (recovery.c), batched and sent by a writer thread while the replay
 * goes on (recovery_batch.c). Private to journal/.
 */
#ifndef UEXT4_JOURNAL_RECOVERY_BATCH_H
#define UEXT4_JOURNAL_RECOVERY_BATCH_H

#include <stdint.h>

#include "internal.h"

struct journal_home_batch;

/**
 * journal_home_batch_new() - an empty set of batches for journal @j.
 * Return: 0 or -ENOMEM.
 */
int journal_home_batch_new(struct journal *j, struct journal_home_batch **out);

/**
 * journal_home_batch_slot() - the buffer (blocksize bytes) that will be
 * written to home block @blocknr: the one given earlier for @blocknr if
 * that batch has not been sent yet, else a new one. A full batch is
 * handed to the writer first; a batch is sent only after the one before
 * it completed, so a later copy of a block always lands last.
 * Context: the replaying thread only; may sleep.
 * Return: 0, -EIO (a batch sent earlier failed; the error stays set).
 */
int journal_home_batch_slot(struct journal_home_batch *hb, uint64_t blocknr,
			    unsigned char **dst);

/**
 * journal_home_batch_lookup() - the copy of @blocknr queued or in flight
 * (not known to be on the device yet), or NULL. Reads of the device are
 * patched with it.
 * Context: the replaying thread only.
 */
const unsigned char *journal_home_batch_lookup(
	const struct journal_home_batch *hb, uint64_t blocknr);

/**
 * journal_home_batch_flush() - send what is queued and wait for every
 * write. Return: 0, or -EIO if any batch failed.
 * Context: the replaying thread only; sleeps.
 */
int journal_home_batch_flush(struct journal_home_batch *hb);

/**
 * journal_home_batch_free() - wait for the batch in flight, drop what is
 * queued, free @hb. Context: the replaying thread only; may sleep.
 */
void journal_home_batch_free(struct journal_home_batch *hb);

#endif /* UEXT4_JOURNAL_RECOVERY_BATCH_H */
