/*
 * floor_durable.c: the per-message floor of the benchmark.  Only the part
 * of accepting a message that durability needs: write 1 KiB into a new file
 * in SPOOL/tmp/, fsync it, rename it into SPOOL/new/, fsync new/, then
 * print one line.  Run once per connection, like smtpd, by the same
 * supervisor on the same disk.
 *
 * Usage: floor_durable SPOOL
 */
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

int main(int argc, char **argv)
{
	static const char ok[] = "250 stored\r\n";
	char body[1024], tmpname[4200], newname[4200];
	struct timeval tv;
	int fd, dir;

	if (argc != 2) {
		fputs("usage: floor_durable SPOOL\n", stderr);
		return 2;
	}
	memset(body, 'x', sizeof body);
	body[sizeof body - 1] = '\n';
	gettimeofday(&tv, NULL);
	if (snprintf(tmpname, sizeof tmpname, "%s/tmp/%lld.M%06ldP%ld.floor", argv[1],
		     (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid()) >= (int)sizeof tmpname ||
	    snprintf(newname, sizeof newname, "%s/new/%s", argv[1],
		     strrchr(tmpname, '/') + 1) >= (int)sizeof newname) {
		fputs("floor_durable: spool path too long\n", stderr);
		return 1;
	}
	fd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, body, sizeof body) < 0 || fsync(fd) < 0 ||
	    close(fd) < 0 || rename(tmpname, newname) < 0) {
		perror("floor_durable");
		return 1;
	}
	snprintf(tmpname, sizeof tmpname, "%s/new", argv[1]);
	dir = open(tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || fsync(dir) < 0 || close(dir) < 0) {
		perror("floor_durable: new/");
		return 1;
	}
	return write_all(1, ok, sizeof ok - 1) < 0;
}
