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

/* Remember the first failure of a message, for the operator's log. */
static enum store_err failed(struct store_msg *msg, const char *step, int e)
{
	if (msg->failed == NULL) {
		msg->failed = step;
		msg->failed_errno = e;
	}
	return e == 0 ? STORE_NOSPACE : store_err_from_errno(e);
}

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
 * usual case, an existing spool, then costs one system call.  *made is set
 * when it was missing: made by this call, or by a session starting at the
 * same moment, which may not have synced it yet. */
static int open_dir(int at, const char *name, int *made)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -1;
	*made = 1;
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
	int saved, made_root = 0, made_sub = 0;

	st->root_fd = st->tmp_fd = st->new_fd = -1;
	st->counter = 0;
	st->pid = (long)getpid();
	safe_host(st->host, sizeof st->host, hostname);
	st->root_fd = open_dir(AT_FDCWD, dir, &made_root);
	if (st->root_fd < 0)
		return -1;
	st->tmp_fd = open_dir(st->root_fd, "tmp", &made_sub);
	if (st->tmp_fd < 0)
		goto fail;
	st->new_fd = open_dir(st->root_fd, "new", &made_sub);
	if (st->new_fd < 0)
		goto fail;
	/* cur/ is never written by us, but a Maildir reader wants it. */
	if (faccessat(st->root_fd, "cur", F_OK, 0) < 0) {
		if (errno != ENOENT ||
		    (mkdirat(st->root_fd, "cur", 0700) < 0 && errno != EEXIST))
			goto fail;
		made_sub = 1;
	}
	/* What was made is only there after a crash once the directories
	 * holding it are on disk: else the first 250 could promise a
	 * message in a new/ that a crash takes away.  The spool's parent
	 * may not be ours to open (mode 0300, say): syncfs() reaches it
	 * through the spool, once in the spool's life. */
	if ((made_root && syncfs(st->root_fd) < 0) ||
	    (made_sub && !made_root && fsync(st->root_fd) < 0))
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
	msg->failed = NULL;
	msg->failed_errno = 0;
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
	msg->batch[0] = msg->batch[1] = -1;
	msg->batched = 0;
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
		return failed(msg, "sync_file_range", errno);
	}
	msg->flushing = msg->written;
#else
	msg->flushing = -1;
#endif
	return STORE_OK;
}

/* All of buf to fd, however many calls it takes. */
static enum store_err write_all(struct store_msg *msg, int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return failed(msg, "write", errno);
		}
		if (w == 0)	/* a regular file that takes nothing: full */
			return failed(msg, "write", 0);
		p += w;
		n -= (size_t)w;
	}
	return STORE_OK;
}

/*
 * Large messages: the file is written STORE_BATCH bytes at a time, since a
 * write to the page cache costs per call far more than per byte (make
 * bench, one 50 MiB message: written 32 KiB at a time, 0.6 of cat's speed;
 * in 256 KiB batches through a pipe, 0.8).  A 256 KiB buffer of our own
 * would do better still (1.0-1.4), but it is memory that either grows
 * with the message or must be faulted in by every session that sends mail
 * (65 page faults: about 190 us, 6.5% of a one-message connection on the
 * bench's VM).  So
 * the session's 32 KiB pieces gather in a pipe, which is the kernel's
 * memory, and splice(2) moves each batch into the file in one write.  A
 * message smaller than a batch never opens the pipe.
 */
static enum store_err batch_drain(struct store_msg *msg)
{
	while (msg->batched > 0) {
		ssize_t w = splice(msg->batch[0], NULL, msg->fd, NULL,
				   msg->batched, SPLICE_F_MOVE);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return failed(msg, "write", errno);
		}
		if (w == 0)	/* the pipe is empty: our count is wrong */
			return failed(msg, "splice from the batch pipe", EIO);
		msg->batched -= (size_t)w;
		msg->written += w;
	}
	return STORE_OK;
}

static void batch_close(struct store_msg *msg)
{
	if (msg->batch[0] >= 0) {
		close(msg->batch[0]);
		close(msg->batch[1]);
	}
	msg->batch[0] = msg->batch[1] = -1;
	msg->batched = 0;
}

/* Open the pipe, or mark the message as written straight to the file
 * (batch[0] == -2) where a pipe cannot hold two batches. */
static void batch_open(struct store_msg *msg)
{
	if (pipe2(msg->batch, O_CLOEXEC) < 0) {
		msg->batch[0] = -2;
		msg->batch[1] = -1;
		return;
	}
	if (fcntl(msg->batch[1], F_SETPIPE_SZ, (int)(2 * STORE_BATCH)) <
	    (int)(2 * STORE_BATCH)) {
		batch_close(msg);
		msg->batch[0] = -2;
	}
}

enum store_err store_write(struct store_msg *msg, const void *buf, size_t n)
{
	enum store_err e;

	if (msg->batch[0] == -1 && (size_t)msg->written + n >= STORE_BATCH)
		batch_open(msg);
	if (msg->batch[0] >= 0 && n <= STORE_BATCH) {
		/* The pipe holds two batches and is drained at one: this fits. */
		if (write_all(msg, msg->batch[1], buf, n) != STORE_OK)
			return STORE_IO;
		msg->batched += n;
		if (msg->batched < STORE_BATCH)
			return STORE_OK;
		e = batch_drain(msg);
	} else if ((e = batch_drain(msg)) == STORE_OK &&
		   (e = write_all(msg, msg->fd, buf, n)) == STORE_OK) {
		msg->written += (off_t)n;	/* after what the pipe held */
	}
	return e != STORE_OK ? e : write_behind(msg);
}

/*
 * tmp/NAME to new/NAME, never over a file already there.  O_EXCL keeps
 * names apart in tmp/ only: a message renamed away frees its name there,
 * and a second process with the same pid in the same microsecond (pid
 * namespaces sharing a spool under one host name) would otherwise replace
 * a message that already had its 250.  Taken, it is an error (451, the
 * client sends again under a new name).  File systems that cannot refuse
 * to replace get the plain rename.
 */
static int rename_new(const struct store *st, const char *name)
{
#ifdef RENAME_NOREPLACE
	if (renameat2(st->tmp_fd, name, st->new_fd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	return renameat(st->tmp_fd, name, st->new_fd, name);
}

enum store_err store_commit(struct store *st, struct store_msg *msg)
{
	enum store_err err;

	if (msg->batch[0] >= 0) {
		err = batch_drain(msg);
		batch_close(msg);
		if (err != STORE_OK) {
			store_abort(st, msg);
			return err;
		}
	}
	const char *step = "fsync";
	if (fsync(msg->fd) < 0)
		goto fail;
	/* close() can report a deferred write error (NFS); check it. */
	step = "close";
	if (close(msg->fd) < 0) {
		msg->fd = -1;
		goto fail;
	}
	msg->fd = -1;
	step = "rename into new/";
	if (rename_new(st, msg->name) < 0)
		goto fail;
	if (fsync(st->new_fd) < 0) {
		/* The file is in new/, but its directory entry may not survive
		 * a crash: we cannot promise it, so we must not keep it. */
		err = failed(msg, "fsync of new/", errno);
		unlinkat(st->new_fd, msg->name, 0);
		return err;
	}
	return STORE_OK;
fail:
	err = failed(msg, step, errno);
	store_abort(st, msg);
	unlinkat(st->tmp_fd, msg->name, 0);
	return err;
}

void store_abort(struct store *st, struct store_msg *msg)
{
	if (msg->fd < 0)
		return;
	batch_close(msg);
	close(msg->fd);
	msg->fd = -1;
	unlinkat(st->tmp_fd, msg->name, 0);
}
