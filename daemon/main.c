/* SPDX-License-Identifier: MIT */
/*
 * daemon/main.c — the uext4 command: parse the command line, then either
 * serve in the foreground (-f, debug) or fork early and let the parent wait
 * until the child reports the mount usable:
 *
 *	parent                         child (setsid)
 *	fork ─────────────────────────▶ open image, checks, mount
 *	read(ready pipe) ...            write 1 byte ─▶ stdio to /dev/null,
 *	got the byte: exit 0            serve until unmounted
 *	EOF instead: waitpid, exit with the child's status (its reason is
 *	already on stderr)
 *
 * Forking before anything is opened keeps threads (cache flusher, I/O
 * engine) and file descriptors out of the fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "internal.h"

/* Parent side: wait for the child's ready byte or its exit. */
static int wait_ready(pid_t child, int fd)
{
	char c;
	ssize_t n;
	int st;

	do {
		n = read(fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n == 1)
		return DAEMON_EXIT_OK;
	while (waitpid(child, &st, 0) < 0) {
		if (errno != EINTR) {
			perror("uext4: waitpid");
			return DAEMON_EXIT_INTERNAL;
		}
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st) ? WEXITSTATUS(st) : DAEMON_EXIT_INTERNAL;
	fprintf(stderr, "uext4: daemon died before the mount was ready\n");
	return DAEMON_EXIT_INTERNAL;
}

int main(int argc, char **argv)
{
	struct daemon_opts opts;
	int pfd[2], ret, status;
	pid_t pid;

	ret = daemon_parse_args(argc, argv, &opts);
	if (ret == 1)
		return DAEMON_EXIT_OK;
	if (ret < 0)
		return DAEMON_EXIT_USAGE;

	if (opts.foreground) {
		status = daemon_run(&opts, -1);
		daemon_opts_free(&opts);
		return status;
	}

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("uext4: pipe");
		daemon_opts_free(&opts);
		return DAEMON_EXIT_INTERNAL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("uext4: fork");
		daemon_opts_free(&opts);
		return DAEMON_EXIT_INTERNAL;
	}
	if (pid > 0) {
		close(pfd[1]);
		daemon_opts_free(&opts);
		return wait_ready(pid, pfd[0]);
	}
	close(pfd[0]);
	if (setsid() < 0)
		perror("uext4: setsid");
	status = daemon_run(&opts, pfd[1]);
	daemon_opts_free(&opts);
	return status;
}
