/*
 * durable.h: the durable part of taking a message, shared by the floors
 * (floor_durable.c, floor_smtp.c) so that both do exactly the same work:
 * write it into a new file in SPOOL/tmp/, fsync, rename into SPOOL/new/,
 * fsync new/.  Header-only: each floor is built from one file.
 */
#ifndef BENCH_DURABLE_H
#define BENCH_DURABLE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0, or -1 with errno set (a spool path too long gives ENAMETOOLONG). */
static int durable_store(const char *spool, const char *p, size_t n)
{
	char tmpname[4200], newname[4200];
	struct timeval tv;
	int fd, dir;

	gettimeofday(&tv, NULL);
	if (snprintf(tmpname, sizeof tmpname, "%s/tmp/%lld.M%06ldP%ld.floor", spool,
		     (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid()) >= (int)sizeof tmpname ||
	    snprintf(newname, sizeof newname, "%s/new/%s", spool,
		     strrchr(tmpname, '/') + 1) >= (int)sizeof newname) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, p, n) < 0 || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmpname, newname) < 0)
		return -1;
	snprintf(tmpname, sizeof tmpname, "%s/new", spool);
	dir = open(tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || fsync(dir) < 0 || close(dir) < 0)
		return -1;
	return 0;
}

#endif
