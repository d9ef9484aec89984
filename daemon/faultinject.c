/* SPDX-License-Identifier: MIT */
/*
 * daemon/faultinject.c — device errors on demand, for integration tests.
 *
 * UEXT4_FAULT_EIO=DIR,START,END (DIR: r, w or rw; START/END: byte offsets
 * on the file system's device, END exclusive) makes every bio of that
 * direction overlapping [START, END) fail with EIO. It is installed with
 * cache_bdev_set_fault(), the engine's fault hook, so the I/O paths carry
 * no test-only branches: the daemon just sees a device that fails there,
 * for file data and metadata alike. Unset (the normal case), nothing is
 * installed. A malformed value is refused at mount with a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct fault_range {
	bool reads;
	bool writes;
	uint64_t start;
	uint64_t end;
};

/* One range per process: the daemon serves one mount. */
static struct fault_range fault_range;

static int fault_eio(void *ctx, const struct cache_bio *bio)
{
	const struct fault_range *r = ctx;

	if (bio->write ? !r->writes : !r->reads)
		return 0;
	if (bio->pos >= r->end || bio->pos + bio->len <= r->start)
		return 0;
	return -EIO;
}

/**
 * daemon_fault_inject_setup() - install the UEXT4_FAULT_EIO hook on @bdev.
 * Return: 0 (installed or not asked for) or -EINVAL (malformed value).
 */
int daemon_fault_inject_setup(struct cache_bdev *bdev)
{
	const char *v = getenv("UEXT4_FAULT_EIO");
	char dir[4];
	uint64_t start, end;

	if (!v || !*v)
		return 0;
	if (sscanf(v, "%3[rw],%" SCNu64 ",%" SCNu64, dir, &start, &end) != 3 ||
	    start >= end ||
	    (strcmp(dir, "r") && strcmp(dir, "w") && strcmp(dir, "rw"))) {
		fprintf(stderr, "uext4: UEXT4_FAULT_EIO='%s': expected "
			"r|w|rw,START,END\n", v);
		return -EINVAL;
	}
	fault_range.reads = strchr(dir, 'r') != NULL;
	fault_range.writes = strchr(dir, 'w') != NULL;
	fault_range.start = start;
	fault_range.end = end;
	cache_bdev_set_fault(bdev, fault_eio, &fault_range);
	fprintf(stderr, "uext4: fault injection: %s I/O to bytes [%" PRIu64
		", %" PRIu64 ") fails with EIO\n", dir, start, end);
	return 0;
}
