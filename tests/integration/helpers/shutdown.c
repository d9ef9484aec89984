/* SPDX-License-Identifier: MIT */
/*
 * uext4-test-shutdown — shut a kernel ext4 mount down as a crash would,
 * leaving its journal needing recovery.
 *
 *	uext4-test-shutdown MOUNTPOINT [default|logflush|nologflush]
 *
 * Issues the EXT4_IOC_SHUTDOWN ioctl on MOUNTPOINT. "logflush" (the
 * default) commits the running transaction to the journal first and then
 * stops all further writes (EXT4_GOING_FLAGS_LOGFLUSH): after unmounting,
 * the image needs recovery and replay must bring back everything up to the
 * shutdown. "default" also syncs the file system first; "nologflush"
 * drops the running transaction.
 * Exit 0 on success, 1 when the ioctl fails, 2 on bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* fs/ext4/ext4.h: _IOR('X', 125, __u32) */
#define TEST_EXT4_IOC_SHUTDOWN 0x8004587DUL
#define TEST_GOING_FLAGS_DEFAULT 0x0u
#define TEST_GOING_FLAGS_LOGFLUSH 0x1u
#define TEST_GOING_FLAGS_NOLOGFLUSH 0x2u

int main(int argc, char **argv)
{
	uint32_t flags = TEST_GOING_FLAGS_LOGFLUSH;
	int fd, err;

	if (argc < 2 || argc > 3) {
		fprintf(stderr,
			"usage: %s MOUNTPOINT [default|logflush|nologflush]\n",
			argv[0]);
		return 2;
	}
	if (argc == 3) {
		if (!strcmp(argv[2], "default"))
			flags = TEST_GOING_FLAGS_DEFAULT;
		else if (!strcmp(argv[2], "logflush"))
			flags = TEST_GOING_FLAGS_LOGFLUSH;
		else if (!strcmp(argv[2], "nologflush"))
			flags = TEST_GOING_FLAGS_NOLOGFLUSH;
		else {
			fprintf(stderr, "%s: unknown mode %s\n", argv[0],
				argv[2]);
			return 2;
		}
	}
	fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1],
			strerror(errno));
		return 2;
	}
	if (ioctl(fd, TEST_EXT4_IOC_SHUTDOWN, &flags) < 0) {
		err = errno;
		fprintf(stderr, "%s: EXT4_IOC_SHUTDOWN on %s: %s\n", argv[0],
			argv[1], strerror(err));
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}
