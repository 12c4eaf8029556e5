/*
 * store.h: the Maildir spool.  A message is created O_EXCL in tmp/, written,
 * fsync'ed, renamed into new/, and new/ is fsync'ed; only then is it safe.
 * Nothing here knows SMTP: the session hands bytes in and gets an
 * enum store_err back.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <sys/types.h>

enum store_err {
	STORE_OK = 0,
	STORE_NOSPACE,		/* ENOSPC, EDQUOT, EFBIG: the disk is full */
	STORE_IO		/* anything else */
};

struct store {
	int root_fd, tmp_fd, new_fd;	/* directories, kept open */
	char host[256];			/* hostname made safe for a file name */
	unsigned long counter;		/* deliveries in this process */
	long pid;
};

struct store_msg {
	int fd;			/* -1 when no message is open */
	char name[320];		/* file name, the same in tmp/ and new/ */
	char id[64];		/* queue id: the name without the host */
	off_t written;		/* bytes in the file */
	off_t flushing;		/* bytes handed to writeback, -1: never */
	int batch[2];		/* a pipe gathering writes, -1: none yet,
				 * -2: none to be had (store.c) */
	size_t batched;		/* bytes waiting in it */
	const char *failed;	/* the step that failed first ("fsync"), or NULL */
	int failed_errno;	/* and its errno (0: none, e.g. a file that took nothing) */
};

/* Open (creating with mode 0700 where missing) DIR, DIR/tmp, DIR/new and
 * DIR/cur.  Returns 0, or -1 with errno set. */
int store_init(struct store *st, const char *dir, const char *hostname);
void store_close(struct store *st);

/* Free bytes on the spool's filesystem for an unprivileged writer, or -1. */
long long store_free_bytes(const struct store *st);

/* A message that grows past this is written this much at a time. */
#define STORE_BATCH ((size_t)256 << 10)

enum store_err store_open(struct store *st, struct store_msg *msg);
enum store_err store_write(struct store_msg *msg, const void *buf, size_t n);
/* fsync, rename into new/, fsync new/.  The message is closed either way;
 * on failure the temporary file is gone. */
enum store_err store_commit(struct store *st, struct store_msg *msg);
/* Drop an open message; safe to call on a closed one. */
void store_abort(struct store *st, struct store_msg *msg);

/* errno to enum store_err. */
enum store_err store_err_from_errno(int e);

#endif
