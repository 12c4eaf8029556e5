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
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

static char in[65536], out[4096], body[1 << 20];
static size_t in_len, in_off, out_len;

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

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

static int store(const char *spool, const char *p, size_t n)
{
	char tmpname[4200], newname[4200];
	struct timeval tv;
	int fd, dir;

	gettimeofday(&tv, NULL);
	if (snprintf(tmpname, sizeof tmpname, "%s/tmp/%lld.M%06ldP%ld.floor", spool,
		     (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid()) >= (int)sizeof tmpname ||
	    snprintf(newname, sizeof newname, "%s/new/%s", spool,
		     strrchr(tmpname, '/') + 1) >= (int)sizeof newname)
		return -1;
	fd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, p, n) < 0 || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmpname, newname) < 0)
		return -1;
	snprintf(tmpname, sizeof tmpname, "%s/new", spool);
	dir = open(tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || fsync(dir) < 0 || close(dir) < 0)
		return -1;
	return 0;
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
			if (line == NULL || store(spool, body, n) < 0)
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
