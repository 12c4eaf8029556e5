/*
 * catsync.c: the throughput reference of the benchmark, `cat IN >OUT`
 * and an fsync of OUT, timed inside one process.  smtpd's figure is taken
 * from 354 to 250, its exec and the dialogue left out; timing `cat && sync`
 * from the shell would charge the reference two process starts (14-20 ms
 * on the bench's VM, a quarter of a 50 MiB copy) and so flatter smtpd.
 * The copy is the one GNU cat makes (coreutils 9, seen with strace):
 * copy_file_range() to the end, or where the kernel cannot, reads and
 * writes of 128 KiB.  The clock runs from the first copy call to the
 * return of fsync.
 *
 * Usage: catsync IN OUT; prints "mib_per_s=N bytes=N".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static char buf[128 * 1024];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* cat's fallback: 0, or -1. */
static int read_write(int in, int out, long long *total)
{
	for (;;) {
		ssize_t r = read(in, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return (int)r;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(out, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
			off += w;
		}
		*total += r;
	}
}

int main(int argc, char **argv)
{
	long long total = 0;
	int in, out;

	if (argc != 3) {
		fputs("usage: catsync IN OUT\n", stderr);
		return 2;
	}
	in = open(argv[1], O_RDONLY | O_CLOEXEC);
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in < 0 || out < 0) {
		perror("catsync: open");
		return 1;
	}
	double t0 = now();
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
		if (n > 0) {
			total += n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (total == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				   errno == EOPNOTSUPP || errno == EBADF)) {
			if (read_write(in, out, &total) < 0) {
				perror("catsync: copy");
				return 1;
			}
			break;
		}
		perror("catsync: copy_file_range");
		return 1;
	}
	if (fsync(out) < 0) {
		perror("catsync: fsync");
		return 1;
	}
	double t1 = now();
	if (close(out) < 0 || total == 0) {
		fputs("catsync: nothing copied\n", stderr);
		return 1;
	}
	printf("mib_per_s=%.1f bytes=%lld\n", (double)total / 1048576.0 / (t1 - t0), total);
	return 0;
}
