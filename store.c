/*
 * store.c: the Maildir spool and its durability, nothing of SMTP.
 *
 * A message becomes visible in new/ only by rename(2) from tmp/, after the
 * file's data is fsync'ed; new/ itself is then fsync'ed so that the rename
 * survives a crash.  Every failure path unlinks the temporary file, so tmp/
 * holds nothing of ours once a session is over, and new/ never holds a
 * partial message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include "store.h"

enum store_err store_err_from_errno(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return STORE_NOSPACE;
	default:
		return STORE_IO;
	}
}

/* Open a directory, creating it (mode 0700) only when it is missing: the
 * usual case, an existing spool, then costs one system call. */
static int open_dir(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -1;
	return openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The Maildir specification forbids '/' in the host part and reserves ':'
 * for flags; replace them as its authors suggest (\057, \072). */
static void safe_host(char *dst, size_t size, const char *host)
{
	size_t o = 0;

	for (; *host != '\0'; host++) {
		const char *rep = *host == '/' ? "\\057" :
				  *host == ':' ? "\\072" : NULL;
		size_t n = rep ? 4 : 1;
		if (o + n >= size)
			break;
		if (rep)
			memcpy(dst + o, rep, 4);
		else
			dst[o] = *host;
		o += n;
	}
	dst[o] = '\0';
}

int store_init(struct store *st, const char *dir, const char *hostname)
{
	int saved;

	st->root_fd = st->tmp_fd = st->new_fd = -1;
	st->counter = 0;
	st->pid = (long)getpid();
	safe_host(st->host, sizeof st->host, hostname);
	st->root_fd = open_dir(AT_FDCWD, dir);
	if (st->root_fd < 0)
		return -1;
	st->tmp_fd = open_dir(st->root_fd, "tmp");
	if (st->tmp_fd < 0)
		goto fail;
	st->new_fd = open_dir(st->root_fd, "new");
	if (st->new_fd < 0)
		goto fail;
	/* cur/ is never written by us, but a Maildir reader wants it. */
	if (faccessat(st->root_fd, "cur", F_OK, 0) < 0 &&
	    (errno != ENOENT || (mkdirat(st->root_fd, "cur", 0700) < 0 && errno != EEXIST)))
		goto fail;
	/* Can we create files at all?  Better to find out before 220. */
	if (faccessat(st->tmp_fd, ".", W_OK | X_OK, AT_EACCESS) < 0 ||
	    faccessat(st->new_fd, ".", W_OK | X_OK, AT_EACCESS) < 0)
		goto fail;
	return 0;
fail:
	saved = errno;
	store_close(st);
	errno = saved;
	return -1;
}

void store_close(struct store *st)
{
	if (st->tmp_fd >= 0)
		close(st->tmp_fd);
	if (st->new_fd >= 0)
		close(st->new_fd);
	if (st->root_fd >= 0)
		close(st->root_fd);
	st->root_fd = st->tmp_fd = st->new_fd = -1;
}

long long store_free_bytes(const struct store *st)
{
	struct statvfs sv;

	if (fstatvfs(st->tmp_fd, &sv) < 0)
		return -1;
	return (long long)sv.f_bavail * (long long)sv.f_frsize;
}

/*
 * Unique names, as the Maildir specification asks: seconds, then M and the
 * microseconds, P and the pid, Q and a per-process delivery counter, then the
 * host.  One process per connection means the pid is unique among live
 * sessions; the counter separates messages of one session; the microseconds
 * separate a recycled pid from its predecessor.  O_EXCL turns the remaining
 * impossible case into an error instead of an overwrite.
 */
enum store_err store_open(struct store *st, struct store_msg *msg)
{
	struct timeval tv;
	int n;

	msg->fd = -1;
	gettimeofday(&tv, NULL);
	st->counter++;
	n = snprintf(msg->id, sizeof msg->id, "%lld.M%06ldP%ldQ%lu",
		     (long long)tv.tv_sec, (long)tv.tv_usec, st->pid,
		     st->counter);
	if (n < 0 || (size_t)n >= sizeof msg->id)
		return STORE_IO;
	/* A host name of 255 octets would make the file name longer than
	 * NAME_MAX: the host part gives way, the unique part never does. */
	n = snprintf(msg->name, sizeof msg->name, "%s.%.*s", msg->id,
		     NAME_MAX - n - 1, st->host);
	if (n < 0 || (size_t)n >= sizeof msg->name)
		return STORE_IO;
	msg->written = msg->flushing = 0;
	msg->fd = openat(st->tmp_fd, msg->name,
			 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (msg->fd < 0)
		return store_err_from_errno(errno);
	return STORE_OK;
}

/*
 * Write-behind: every STORE_FLUSH_STEP bytes, the part just written is
 * handed to the disk at once instead of when the kernel gets round to it,
 * so the fsync at the end waits for one step, not for the whole message.
 * It starts writeback and does not wait for it; the fsync in
 * store_commit() is still what makes the file safe, and reports any
 * error.  A file system that cannot do it is simply not asked again.
 */
#define STORE_FLUSH_STEP ((off_t)4 << 20)

static enum store_err write_behind(struct store_msg *msg)
{
	off_t n = msg->written - msg->flushing;

	if (n < STORE_FLUSH_STEP || msg->flushing < 0)
		return STORE_OK;
#ifdef SYNC_FILE_RANGE_WRITE
	if (sync_file_range(msg->fd, msg->flushing, n, SYNC_FILE_RANGE_WRITE) < 0) {
		if (errno == EINVAL || errno == ESPIPE || errno == ENOSYS ||
		    errno == EOPNOTSUPP) {
			msg->flushing = -1;
			return STORE_OK;
		}
		return store_err_from_errno(errno);
	}
	msg->flushing = msg->written;
#else
	msg->flushing = -1;
#endif
	return STORE_OK;
}

enum store_err store_write(struct store_msg *msg, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(msg->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return store_err_from_errno(errno);
		}
		if (w == 0)	/* a regular file that takes nothing: full */
			return STORE_NOSPACE;
		p += w;
		n -= (size_t)w;
		msg->written += w;
	}
	return write_behind(msg);
}

enum store_err store_commit(struct store *st, struct store_msg *msg)
{
	enum store_err err;

	if (fsync(msg->fd) < 0)
		goto fail;
	/* close() can report a deferred write error (NFS); check it. */
	if (close(msg->fd) < 0) {
		msg->fd = -1;
		goto fail;
	}
	msg->fd = -1;
	if (renameat(st->tmp_fd, msg->name, st->new_fd, msg->name) < 0)
		goto fail;
	if (fsync(st->new_fd) < 0) {
		/* The file is in new/, but its directory entry may not survive
		 * a crash: we cannot promise it, so we must not keep it. */
		err = store_err_from_errno(errno);
		unlinkat(st->new_fd, msg->name, 0);
		return err;
	}
	return STORE_OK;
fail:
	err = store_err_from_errno(errno);
	store_abort(st, msg);
	unlinkat(st->tmp_fd, msg->name, 0);
	return err;
}

void store_abort(struct store *st, struct store_msg *msg)
{
	if (msg->fd < 0)
		return;
	close(msg->fd);
	msg->fd = -1;
	unlinkat(st->tmp_fd, msg->name, 0);
}
