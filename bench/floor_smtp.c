/*
 * floor_smtp.c: the durable floor (floor_durable.c) that also speaks the
 * least SMTP the benchmark's client needs to hand it one message: a
 * greeting, one reply per command (buffered while pipelined commands wait,
 * as smtpd does), 354, the body up to the lone dot, then the same write,
 * fsync, rename and fsync of new/ before 250.  No checks, no logging, no
 * limits: what is left between it and the durable floor is the dialogue
 * itself (four round trips instead of one), which every SMTP server pays.
 *
 * Usage: floor_smtp [--spool] SPOOL [ignored...]
 */
#include <strings.h>

#include "durable.h"

static char in[65536], out[4096], body[1 << 20];
static size_t in_len, in_off, out_len;

static void reply(const char *s)
{
	size_t n = strlen(s);

	if (out_len + n <= sizeof out) {
		memcpy(out + out_len, s, n);
		out_len += n;
	}
}

/* The next line (LF included) and its length, or NULL at EOF; replies go
 * out only when no further input is already here. */
static char *next_line(size_t *len)
{
	for (;;) {
		char *lf = memchr(in + in_off, '\n', in_len - in_off);
		if (lf != NULL) {
			char *line = in + in_off;
			*len = (size_t)(lf + 1 - line);
			in_off += *len;
			return line;
		}
		if (in_off == in_len && out_len > 0) {
			if (write_all(1, out, out_len) < 0)
				return NULL;
			out_len = 0;
		}
		memmove(in, in + in_off, in_len - in_off);
		in_len -= in_off;
		in_off = 0;
		if (in_len == sizeof in)
			return NULL;
		ssize_t r = read(0, in + in_len, sizeof in - in_len);
		if (r <= 0)
			return NULL;
		in_len += (size_t)r;
	}
}

int main(int argc, char **argv)
{
	const char *spool;
	char *line;
	size_t len;

	if (argc > 2 && strcmp(argv[1], "--spool") == 0)
		argv++, argc--;
	if (argc < 2) {
		fputs("usage: floor_smtp [--spool] SPOOL\n", stderr);
		return 2;
	}
	spool = argv[1];
	reply("220 floor ESMTP\r\n");
	while ((line = next_line(&len)) != NULL) {
		if (len >= 4 && strncasecmp(line, "EHLO", 4) == 0) {
			reply("250-floor\r\n250 PIPELINING\r\n");
		} else if (len >= 4 && (strncasecmp(line, "MAIL", 4) == 0 ||
					strncasecmp(line, "RCPT", 4) == 0)) {
			reply("250 OK\r\n");
		} else if (len >= 4 && strncasecmp(line, "DATA", 4) == 0) {
			size_t n = 0;
			reply("354 go ahead\r\n");
			while ((line = next_line(&len)) != NULL &&
			       !(len == 3 && line[0] == '.')) {
				if (line[0] == '.')
					line++, len--;
				if (n + len > sizeof body)
					return 1;
				memcpy(body + n, line, len);
				n += len;
			}
			if (line == NULL || durable_store(spool, body, n) < 0)
				return 1;
			reply("250 stored\r\n");
		} else if (len >= 4 && strncasecmp(line, "QUIT", 4) == 0) {
			reply("221 bye\r\n");
			return write_all(1, out, out_len) < 0;
		} else {
			reply("500 not in the floor\r\n");
		}
	}
	return 1;
}
