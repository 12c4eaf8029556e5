/*
 * input.c: the bounded line reader.  One fixed buffer; a command line longer
 * than INPUT_LINE_MAX is skipped to its LF and reported, never grown into
 * (qmail's unbounded command line was CVE-1999-0250).  Replies are flushed
 * exactly when the buffer is empty and we must wait (RFC 2920 3.2).
 */
#include <string.h>

#include "input.h"

void input_init(struct input *in, const struct io *io, struct reply *out)
{
	in->io = io;
	in->out = out;
	in->start = in->end = 0;
}

int input_pending(const struct input *in)
{
	return in->end > in->start;
}

/* Append what the client sends next; returns >0, IN_EOF or a status. */
static ssize_t fill(struct input *in)
{
	ssize_t n;

	if (in->start > 0) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	if (in->end == INPUT_BUF_SIZE)
		return IO_ERROR;	/* cannot happen: callers bound lines */
	if (reply_flush(in->out) < 0)
		return IO_ERROR;
	n = in->io->read(in->io->ctx, in->buf + in->end,
			 INPUT_BUF_SIZE - in->end);
	if (n > 0)
		in->end += (size_t)n;
	return n;
}

/* Throw bytes away up to and including the next LF. */
static int skip_line(struct input *in)
{
	for (;;) {
		char *lf = memchr(in->buf + in->start, '\n',
				  in->end - in->start);
		if (lf != NULL) {
			in->start = (size_t)(lf - in->buf) + 1;
			return IN_TOO_LONG;
		}
		in->start = in->end = 0;
		ssize_t n = fill(in);
		if (n <= 0)
			return (int)n;
	}
}

int input_line(struct input *in, char **line, size_t *len, int *lf_only)
{
	size_t scanned = 0;

	for (;;) {
		size_t avail = in->end - in->start;
		char *p = in->buf + in->start;
		size_t look = avail < INPUT_LINE_MAX ? avail : INPUT_LINE_MAX;
		char *lf = memchr(p + scanned, '\n', look - scanned);

		if (lf != NULL) {
			size_t n = (size_t)(lf - p);
			*lf_only = !(n > 0 && p[n - 1] == '\r');
			if (!*lf_only)
				n--;
			p[n] = '\0';
			*line = p;
			*len = n;
			in->start += (size_t)(lf - p) + 1;
			return IN_LINE;
		}
		if (avail >= INPUT_LINE_MAX)
			return skip_line(in);
		scanned = look;
		ssize_t r = fill(in);
		if (r <= 0)
			return (int)r;
	}
}

ssize_t input_peek(struct input *in, const char **p)
{
	if (in->end == in->start) {
		in->start = in->end = 0;
		ssize_t r = fill(in);
		if (r <= 0)
			return r;
	}
	*p = in->buf + in->start;
	return (ssize_t)(in->end - in->start);
}

void input_consume(struct input *in, size_t n)
{
	in->start += n;
}
