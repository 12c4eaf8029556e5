/*
 * faultinject.c: an LD_PRELOAD shim for tests/t_faults.sh that makes one
 * chosen call on the spool fail, the way a full or broken disk does.
 *
 * Only calls on files and directories under FAULT_SPOOL count: the
 * conversation's socket, pipes and log are left alone.  Environment:
 *
 *   FAULT_SPOOL  the spool directory (required; the shim is inert without)
 *   FAULT_CALL   which step fails:
 *                  open      openat/open creating a message file
 *                  write     write or splice into a message file (the
 *                            log line of a splice ends in "splice")
 *                  fsync     fsync/fdatasync of a message file
 *                  rename    rename/renameat/renameat2 within the spool
 *                  dirfsync  fsync of a spool directory (new/)
 *                  writebehind  sync_file_range of a message file
 *                  opendir   opening a spool directory (at start)
 *                  close     close of a message file (the descriptor is
 *                            closed all the same, as close(2) does when
 *                            it reports a deferred write error, on NFS)
 *   FAULT_N      the Nth such call fails (1 = the first; default 1)
 *   FAULT_TIMES  how many calls fail from the Nth on (default 1; 0: all)
 *   FAULT_ERRNO  ENOSPC, EDQUOT, EIO, EFBIG, EACCES, EROFS, EINVAL or a number
 *                (default EIO); 0, for write only: the call writes nothing
 *                and returns 0, which a regular file does only when full
 *   FAULT_PARTIAL=1  for write: the first failing call writes half of
 *                its bytes and returns that count (a short write), and
 *                the next one fails: what a filling disk does
 *   FAULT_LOG    a file that gets one line per call counted, with
 *                "FAIL" on the injected ones, so a test can prove that
 *                its fault really happened
 *
 * Each wrapper calls the next definition (dlsym RTLD_NEXT), so the shim
 * also works behind libasan when that is preloaded first.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum step { STEP_NONE, STEP_OPEN, STEP_WRITE, STEP_FSYNC, STEP_RENAME,
	    STEP_DIRFSYNC, STEP_OPENDIR, STEP_WRITEBEHIND, STEP_CLOSE, STEP_COUNT };

static const char *const step_names[STEP_COUNT] = {
	"none", "open", "write", "fsync", "rename", "dirfsync", "opendir",
	"writebehind", "close"
};

static struct {
	int ready;
	char spool[PATH_MAX];
	size_t spool_len;
	enum step step;
	unsigned long n, times;
	int err;
	int partial, partial_pending;
	const char *log;
	unsigned long seen[STEP_COUNT];
} fi;

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_sync_file_range)(int, off_t, off_t, unsigned);
static ssize_t (*real_splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_open)(const char *, int, ...);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);

static void *next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL) {
		static const char msg[] = "faultinject: a libc symbol is missing\n";
		(void)!syscall(SYS_write, 2, msg, sizeof msg - 1);
		abort();
	}
	return p;
}

static int errno_named(const char *s)
{
	static const struct { const char *name; int value; } names[] = {
		{"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EIO", EIO},
		{"EFBIG", EFBIG}, {"EACCES", EACCES}, {"EROFS", EROFS},
		{"EINVAL", EINVAL},
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].value;
	if (strcmp(s, "0") == 0)
		return 0;	/* write returns 0 */
	return atoi(s) > 0 ? atoi(s) : EIO;
}

__attribute__((constructor)) static void fi_init(void)
{
	const char *spool = getenv("FAULT_SPOOL");
	const char *call = getenv("FAULT_CALL");
	const char *v;

	real_write = (ssize_t (*)(int, const void *, size_t))next("write");
	real_close = (int (*)(int))next("close");
	real_fsync = (int (*)(int))next("fsync");
	real_fdatasync = (int (*)(int))next("fdatasync");
	real_sync_file_range = (int (*)(int, off_t, off_t, unsigned))next("sync_file_range");
	real_splice = (ssize_t (*)(int, loff_t *, int, loff_t *, size_t, unsigned))
		next("splice");
	real_openat = (int (*)(int, const char *, int, ...))next("openat");
	real_open = (int (*)(const char *, int, ...))next("open");
	real_rename = (int (*)(const char *, const char *))next("rename");
	real_renameat = (int (*)(int, const char *, int, const char *))next("renameat");
	real_renameat2 = (int (*)(int, const char *, int, const char *, unsigned))
		next("renameat2");

	if (spool == NULL || realpath(spool, fi.spool) == NULL)
		return;
	fi.spool_len = strlen(fi.spool);
	fi.step = STEP_NONE;
	for (int i = 1; call != NULL && i < STEP_COUNT; i++)
		if (strcmp(call, step_names[i]) == 0)
			fi.step = (enum step)i;
	v = getenv("FAULT_N");
	fi.n = v ? strtoul(v, NULL, 10) : 1;
	if (fi.n == 0)
		fi.n = 1;
	v = getenv("FAULT_TIMES");
	fi.times = v ? strtoul(v, NULL, 10) : 1;
	v = getenv("FAULT_ERRNO");
	fi.err = v ? errno_named(v) : EIO;
	v = getenv("FAULT_PARTIAL");
	fi.partial = v != NULL && strcmp(v, "1") == 0;
	fi.log = getenv("FAULT_LOG");
	fi.ready = 1;
}

/* Is path (absolute, maybe not existing yet) inside the spool? */
static int in_spool(const char *path)
{
	return strncmp(path, fi.spool, fi.spool_len) == 0 &&
	       (path[fi.spool_len] == '/' || path[fi.spool_len] == '\0');
}

/* The absolute path of an open descriptor, or "" (sockets, pipes). */
static void fd_path(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	if (n < 0 || buf[0] != '/')
		n = 0;
	buf[n] = '\0';
}

/* dirfd + name as an absolute path (for openat, renameat). */
static void at_path(int dirfd, const char *name, char *buf, size_t size)
{
	char dir[PATH_MAX];

	if (name[0] == '/') {
		snprintf(buf, size, "%s", name);
		return;
	}
	if (dirfd == AT_FDCWD) {
		if (getcwd(dir, sizeof dir) == NULL)
			dir[0] = '\0';
	} else {
		fd_path(dirfd, dir, sizeof dir);
	}
	snprintf(buf, size, "%s/%s", dir, name);
}

static const char *call_note = "";	/* " splice" while one is counted */

static void log_call(enum step s, unsigned long nth, int failed)
{
	char line[128];
	int fd, len;

	if (fi.log == NULL)
		return;
	len = snprintf(line, sizeof line, "%s %lu%s%s\n", step_names[s], nth,
		       failed ? " FAIL" : "", call_note);
	fd = real_open(fi.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	(void)!real_write(fd, line, (size_t)len);
	real_close(fd);
}

/* Count a call of step s; nonzero when this one must fail. */
static int must_fail(enum step s)
{
	unsigned long nth;
	int fail;

	if (!fi.ready)
		return 0;
	nth = ++fi.seen[s];
	fail = s == fi.step && nth >= fi.n &&
	       (fi.times == 0 || nth < fi.n + fi.times);
	log_call(s, nth, fail);
	return fail;
}

/* A write of n bytes into fd: 0 to let it through, -1 to fail it (errno
 * set), or 1 to let only *n (half) through. */
static int write_fault(int fd, size_t *n)
{
	char path[PATH_MAX];
	struct stat sb;

	if (!fi.ready)
		return 0;
	fd_path(fd, path, sizeof path);
	if (!in_spool(path) || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return 0;
	if (fi.partial_pending) {
		fi.partial_pending = 0;
		errno = fi.err;
		return -1;
	}
	if (!must_fail(STEP_WRITE))
		return 0;
	if (fi.partial && *n > 1) {
		fi.partial_pending = 1;
		*n /= 2;
		return 1;
	}
	errno = fi.err;
	return -1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	if (write_fault(fd, &n) < 0)
		return fi.err == 0 ? 0 : -1;	/* FAULT_ERRNO=0: took nothing */
	return real_write(fd, buf, n);
}

/* store.c moves batches of a large message into the file with splice. */
ssize_t splice(int in, loff_t *in_off, int out, loff_t *out_off, size_t n,
	       unsigned flags)
{
	int f;

	call_note = " splice";
	f = write_fault(out, &n);
	call_note = "";
	if (f < 0)
		return -1;
	return real_splice(in, in_off, out, out_off, n, flags);
}

/* fsync of a message file, or of a spool directory. */
static int sync_fails(int fd)
{
	char path[PATH_MAX];
	struct stat sb;

	if (!fi.ready)
		return 0;
	fd_path(fd, path, sizeof path);
	if (!in_spool(path) || fstat(fd, &sb) < 0)
		return 0;
	return must_fail(S_ISDIR(sb.st_mode) ? STEP_DIRFSYNC : STEP_FSYNC);
}

int fsync(int fd)
{
	if (sync_fails(fd)) {
		errno = fi.err;
		return -1;
	}
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	if (sync_fails(fd)) {
		errno = fi.err;
		return -1;
	}
	return real_fdatasync(fd);
}

/* close of a message file: store.c checks it before the rename. */
int close(int fd)
{
	char path[PATH_MAX];
	struct stat sb;
	int fail = 0, rc, saved = errno;

	if (fi.ready) {
		fd_path(fd, path, sizeof path);
		fail = in_spool(path) && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		       must_fail(STEP_CLOSE);
	}
	errno = saved;	/* callers save errno across a close of cleanup */
	rc = real_close(fd);
	if (fail) {
		errno = fi.err;
		return -1;
	}
	return rc;
}

/* Write-behind of a message file (store.c). */
int sync_file_range(int fd, off_t off, off_t n, unsigned flags)
{
	char path[PATH_MAX];

	if (fi.ready) {
		fd_path(fd, path, sizeof path);
		if (in_spool(path) && must_fail(STEP_WRITEBEHIND)) {
			errno = fi.err;
			return -1;
		}
	}
	return real_sync_file_range(fd, off, n, flags);
}

/* An open in the spool: a directory (O_DIRECTORY) or a file. */
static int open_fails(int dirfd, const char *name, int flags)
{
	char path[PATH_MAX];

	if (!fi.ready)
		return 0;
	at_path(dirfd, name, path, sizeof path);
	if (!in_spool(path))
		return 0;
	return must_fail((flags & O_DIRECTORY) ? STEP_OPENDIR : STEP_OPEN);
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int openat(int dirfd, const char *name, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (open_fails(dirfd, name, flags)) {
		errno = fi.err;
		return -1;
	}
	return real_openat(dirfd, name, flags, mode);
}

/* On 64-bit systems openat64 is openat. */
int openat64(int dirfd, const char *name, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return openat(dirfd, name, flags, mode);
}

int open(const char *name, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (open_fails(AT_FDCWD, name, flags)) {
		errno = fi.err;
		return -1;
	}
	return real_open(name, flags, mode);
}

int open64(const char *name, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (open_fails(AT_FDCWD, name, flags)) {
		errno = fi.err;
		return -1;
	}
	return real_open(name, flags, mode);
}

/* _FORTIFY_SOURCE's checked variants (no mode argument). */
int __openat_2(int dirfd, const char *name, int flags);
int __openat_2(int dirfd, const char *name, int flags)
{
	if (open_fails(dirfd, name, flags)) {
		errno = fi.err;
		return -1;
	}
	return real_openat(dirfd, name, flags);
}

int __open_2(const char *name, int flags);
int __open_2(const char *name, int flags)
{
	if (open_fails(AT_FDCWD, name, flags)) {
		errno = fi.err;
		return -1;
	}
	return real_open(name, flags);
}

static int rename_fails(int olddirfd, const char *oldname)
{
	char path[PATH_MAX];

	if (!fi.ready)
		return 0;
	at_path(olddirfd, oldname, path, sizeof path);
	return in_spool(path) && must_fail(STEP_RENAME);
}

int rename(const char *from, const char *to)
{
	if (rename_fails(AT_FDCWD, from)) {
		errno = fi.err;
		return -1;
	}
	return real_rename(from, to);
}

int renameat(int fromdir, const char *from, int todir, const char *to)
{
	if (rename_fails(fromdir, from)) {
		errno = fi.err;
		return -1;
	}
	return real_renameat(fromdir, from, todir, to);
}

int renameat2(int fromdir, const char *from, int todir, const char *to,
	      unsigned flags)
{
	if (rename_fails(fromdir, from)) {
		errno = fi.err;
		return -1;
	}
	return real_renameat2(fromdir, from, todir, to, flags);
}
