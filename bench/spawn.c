/*
 * spawn.c: run a program RUNS times, one after another, each with INPUT on
 * a pipe as its standard input, and report the wall time from fork to the
 * end of wait4 (so exec to exit, plus one fork) and the largest peak
 * resident set size of the child (ru_maxrss from wait4).
 *
 * Usage: spawn [-R] [-H HWMFILE] [-E NAME=VALUE]... [-n RUNS] [-i INPUT]
 *              [-o OUTPUT] [-e ERRORS] -- PROG [ARG...]
 * -R: no address space randomisation in the child (personality(2)), so
 * that its peak RSS does not vary with where its mappings fall.
 * -H: also append the child's "VmHWM: N kB" line to HWMFILE, read from
 * /proc as it exits (ptrace's exit stop, while its memory is still there).
 * ru_maxrss moves in steps of up to 128 KiB on kernels with per-CPU RSS
 * counters, too coarse for a 64 KiB target; VmHWM is the same counter
 * summed.  From outside, it works for any program, static ones included.
 * With -E, the child's environment is exactly those variables, as a
 * supervisor gives it (the dynamic loader and getenv walk the environment,
 * so its size is part of what a start costs); else spawn's own.
 * Prints one line: "runs=N median_us=X min_us=Y maxrss_kib=Z failed=F".
 * Exit status 0 when every run exited 0, else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 100000

extern char **environ;

/*
 * The input is copied from its file to the pipe in small pieces, never held
 * whole: ru_maxrss counts the child's pages from before its exec too, which
 * are this process's (bench/run.sh links it statically for the same reason).
 */
static const char *input_path;
static char *env[33];		/* -E, NULL-terminated */
static int no_aslr;
static const char *hwm_path;
static int nenv;
static long long input_len;
static char chunk[65536];

static void die(const char *what)
{
	fprintf(stderr, "spawn: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void check_input(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		die(path);
	input_path = path;
	input_len = (long long)st.st_size;
}

/* Write what the child will read; stop quietly if it has gone. */
static void feed(int fd)
{
	int in;

	if (input_path == NULL)
		return;
	in = open(input_path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		die(input_path);
	for (;;) {
		ssize_t r = read(in, chunk, sizeof chunk), off = 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(input_path);
		if (r == 0)
			break;
		while (off < r) {
			ssize_t w = write(fd, chunk + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				close(in);
				return;
			}
			off += w;
		}
	}
	close(in);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* Append the VmHWM line of a traced child stopped at its exit. */
static void record_hwm(pid_t pid)
{
	char path[64], buf[4096], *line, *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		die(path);
	buf[n] = '\0';
	line = strstr(buf, "VmHWM:");
	if (line == NULL)
		return;		/* a kernel thread's, or no memory left */
	end = strchr(line, '\n');
	if (end != NULL)
		end[1] = '\0';
	fd = open(hwm_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		die(hwm_path);
	close(fd);
}

/*
 * Let a traced child run to its end, recording VmHWM at its exit stop and
 * handing on every signal it would have had.  Its input is fed by another
 * process, so that a stop never waits on a full pipe.
 */
static void trace_to_exit(pid_t pid, int *status, struct rusage *ru)
{
	for (;;) {
		if (wait4(pid, status, __WALL, ru) < 0) {
			if (errno == EINTR)
				continue;
			die("wait4");
		}
		if (!WIFSTOPPED(*status))
			return;
		int sig = WSTOPSIG(*status);
		if (*status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			record_hwm(pid);
			sig = 0;
		} else if (sig == SIGTRAP) {
			/* the stop after execve: ask for the exit stop */
			if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
				   (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) < 0)
				die("ptrace SETOPTIONS");
			sig = 0;
		}
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) < 0)
			die("ptrace CONT");
	}
}

/* One run: returns the child's wait status; *ns and *rss_kib filled. */
static int run_once(char **argv, const char *out, const char *err,
		    long long *ns, long *rss_kib)
{
	struct rusage ru;
	int p[2], status;
	pid_t pid, feeder = -1;
	long long t0;
	int small = input_len <= 32768;	/* fits in a pipe's buffer */

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	t0 = now_ns();
	if (small) {
		feed(p[1]);	/* fits in the pipe: there before the child runs */
		close(p[1]);
	}
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (o < 0 || e < 0 || dup2(p[0], 0) < 0 || dup2(o, 1) < 0 ||
		    dup2(e, 2) < 0)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		if (nenv > 0)
			environ = env;
		if (no_aslr && personality(ADDR_NO_RANDOMIZE) < 0)
			_exit(126);
		if (hwm_path != NULL && ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[0]);
	if (!small) {
		/* A traced child may stop while the pipe is full: then another
		 * process feeds it. */
		if (hwm_path != NULL && (feeder = fork()) < 0)
			die("fork");
		if (feeder <= 0)
			feed(p[1]);
		if (feeder == 0)
			_exit(0);
		close(p[1]);
	}
	if (hwm_path != NULL)
		trace_to_exit(pid, &status, &ru);
	else
		while (wait4(pid, &status, 0, &ru) < 0)
			if (errno != EINTR)
				die("wait4");
	while (feeder > 0 && waitpid(feeder, NULL, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	*ns = now_ns() - t0;
	*rss_kib = ru.ru_maxrss;
	return status;
}

int main(int argc, char **argv)
{
	const char *out = "/dev/null", *err = "/dev/null";
	long runs = 1, failed = 0, maxrss = 0;
	long long *times;
	int opt;

	while ((opt = getopt(argc, argv, "+RH:E:n:i:o:e:")) != -1) {
		switch (opt) {
		case 'R':
			no_aslr = 1;
			break;
		case 'H':
			hwm_path = optarg;
			break;
		case 'E':
			if (nenv == 32 || strchr(optarg, '=') == NULL) {
				fputs("spawn: -E NAME=VALUE, at most 32\n", stderr);
				return 2;
			}
			env[nenv++] = optarg;
			break;
		case 'n':
			runs = strtol(optarg, NULL, 10);
			if (runs < 1 || runs > MAX_RUNS) {
				fputs("spawn: -n: 1 to 100000\n", stderr);
				return 2;
			}
			break;
		case 'i':
			check_input(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 'e':
			err = optarg;
			break;
		default:
			fputs("usage: spawn [-R] [-H HWMFILE] [-E NAME=VALUE]... [-n RUNS] [-i INPUT] [-o OUTPUT] [-e ERRORS] -- PROG [ARG...]\n", stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs("spawn: no program\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	times = calloc((size_t)runs, sizeof *times);
	if (times == NULL)
		die("calloc");
	for (long i = 0; i < runs; i++) {
		long rss;
		int status = run_once(argv + optind, out, err, &times[i], &rss);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
		if (rss > maxrss)
			maxrss = rss;
	}
	qsort(times, (size_t)runs, sizeof *times, cmp_ll);
	printf("runs=%ld median_us=%.1f min_us=%.1f maxrss_kib=%ld failed=%ld\n",
	       runs, times[runs / 2] / 1000.0, times[0] / 1000.0, maxrss, failed);
	free(times);
	return failed != 0;
}
