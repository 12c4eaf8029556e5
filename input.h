/*
 * input.h: the bounded reader of the client's bytes.  It hands out command
 * lines of at most INPUT_LINE_MAX octets with their line end, or, during
 * DATA, whatever bytes have arrived.  Before it waits for more input it
 * flushes the queued replies: that single rule is what makes PIPELINING
 * correct.
 */
#ifndef INPUT_H
#define INPUT_H

#include <stddef.h>
#include <sys/types.h>

#include "io.h"
#include "reply.h"

/* RFC 5321 4.5.3.1.4 allows 512; we take up to 1000 with the CRLF. */
#define INPUT_LINE_MAX 1000
/* 32 KiB: large enough that a read costs little against the bytes it
 * brings, small enough that memory is the same for any message (a 10 KiB
 * message touches nearly as many pages as a 50 MiB one). */
#define INPUT_BUF_SIZE 32768

enum input_result {
	IN_LINE = 1,		/* a line: see line, len */
	IN_TOO_LONG = 2,	/* over INPUT_LINE_MAX; skipped to its end */
	/* Otherwise an enum io_status, or 0 for end of input. */
	IN_EOF = 0
};

struct input {
	const struct io *io;
	struct reply *out;	/* flushed before every wait */
	size_t start, end;	/* unread bytes are buf[start..end) */
	char buf[INPUT_BUF_SIZE + 1];
};

void input_init(struct input *in, const struct io *io, struct reply *out);

/*
 * Read one command line.  On IN_LINE, *line points at its text (NUL
 * terminated in place, without its line end; it may contain NUL bytes, so
 * use *len) and stays valid until the next call.  lf_only tells whether it
 * ended in a bare LF rather than CRLF.  Other results: IN_TOO_LONG, IN_EOF,
 * or a negative enum io_status.
 */
int input_line(struct input *in, char **line, size_t *len, int *lf_only);

/* During DATA: make some bytes available (reading if none are buffered).
 * Returns the count available at *p (>0), IN_EOF, or an enum io_status. */
ssize_t input_peek(struct input *in, const char **p);
void input_consume(struct input *in, size_t n);

/* Bytes that have arrived but have not been read yet. */
int input_pending(const struct input *in);

#endif
