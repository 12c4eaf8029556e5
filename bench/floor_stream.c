/*
 * floor_stream.c: the throughput floor of the benchmark over the network.
 * Prints "354 go", copies standard input to its end into a new file in
 * SPOOL/tmp/ through a 64 KiB buffer, fsyncs it, renames it into SPOOL/new/,
 * fsyncs new/, prints "250 stored".  Run by the same supervisor as smtpd,
 * it shows what the socket path alone allows, next to `cat` into a file.
 * With "-" for SPOOL it stores nothing: the bytes are read and dropped, and
 * what is left is the ceiling of the client, the supervisor and the socket.
 *
 * Usage: floor_stream SPOOL|-
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static char buf[65536];

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Standard input to its end, into fd, or dropped where fd is -1. */
static int read_all(int fd)
{
	for (;;) {
		ssize_t r = read(0, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("floor_stream: read");
			return -1;
		}
		if (r == 0)
			return 0;
		if (fd >= 0 && write_all(fd, buf, (size_t)r) < 0) {
			perror("floor_stream: write");
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	static const char go[] = "354 go\r\n", ok[] = "250 stored\r\n";
	char tmpname[4200], newname[4200];
	struct timeval tv;
	int fd, dir;

	if (argc != 2) {
		fputs("usage: floor_stream SPOOL|-\n", stderr);
		return 2;
	}
	if (strcmp(argv[1], "-") == 0)
		return write_all(1, go, sizeof go - 1) < 0 || read_all(-1) < 0 ||
		       write_all(1, ok, sizeof ok - 1) < 0;
	gettimeofday(&tv, NULL);
	if (snprintf(tmpname, sizeof tmpname, "%s/tmp/%lld.M%06ldP%ld.stream", argv[1],
		     (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid()) >= (int)sizeof tmpname ||
	    snprintf(newname, sizeof newname, "%s/new/%s", argv[1],
		     strrchr(tmpname, '/') + 1) >= (int)sizeof newname) {
		fputs("floor_stream: spool path too long\n", stderr);
		return 1;
	}
	fd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(1, go, sizeof go - 1) < 0) {
		perror("floor_stream");
		return 1;
	}
	if (read_all(fd) < 0)
		return 1;
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmpname, newname) < 0) {
		perror("floor_stream");
		return 1;
	}
	snprintf(tmpname, sizeof tmpname, "%s/new", argv[1]);
	dir = open(tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || fsync(dir) < 0 || close(dir) < 0) {
		perror("floor_stream: new/");
		return 1;
	}
	return write_all(1, ok, sizeof ok - 1) < 0;
}
