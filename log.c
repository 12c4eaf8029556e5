/*
 * log.c: where log lines go and how they look.  Owns the choice between
 * stderr (plain or journal-prefixed) and syslog, and the escaping of text
 * that came from the client.  Never writes to the conversation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* JOURNAL_STREAM is "dev:ino" of the stream systemd gave us as stderr. */
static int stderr_is_journal(const struct stat *err)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char end;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	return (unsigned long long)err->st_dev == dev &&
	       (unsigned long long)err->st_ino == ino;
}

void log_setup(struct logger *lg, int conversation_fd)
{
	struct stat err, conv;

	lg->fd = 2;
	if (fstat(2, &err) < 0) {
		/* No stderr at all: syslog is the only place left. */
		lg->mode = LOGTO_SYSLOG;
	} else if (fstat(conversation_fd, &conv) == 0 &&
		   err.st_dev == conv.st_dev && err.st_ino == conv.st_ino &&
		   !S_ISCHR(err.st_mode)) {
		/* inetd, xinetd, or systemd without StandardError=: stderr is
		 * the client's socket.  (A terminal on both is not: it is the
		 * person typing, who should see the log.) */
		lg->mode = LOGTO_SYSLOG;
	} else if (stderr_is_journal(&err)) {
		lg->mode = LOGTO_JOURNAL;
	} else {
		lg->mode = LOGTO_PLAIN;
	}
	if (lg->mode == LOGTO_SYSLOG)
		openlog("smtpd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_line(const struct logger *lg, int priority, const char *fmt, ...)
{
	char line[2048];
	int head = 0, n;
	va_list ap;

	if (lg->mode == LOGTO_NONE)
		return;
	va_start(ap, fmt);
	if (lg->mode == LOGTO_SYSLOG) {
		vsyslog(priority, fmt, ap);
		va_end(ap);
		return;
	}
	if (lg->mode == LOGTO_JOURNAL)
		head = snprintf(line, sizeof line, "<%d>", priority);
	else
		head = snprintf(line, sizeof line, "smtpd[%ld]: ", (long)getpid());
	n = vsnprintf(line + head, sizeof line - (size_t)head - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - (size_t)head - 2)
		n = (int)(sizeof line - (size_t)head - 2);
	n += head;
	line[n++] = '\n';
	/* One write per line so that lines from concurrent sessions sharing a
	 * log file stay whole; a failed log write is not worth a failed
	 * session. */
	for (int off = 0; off < n;) {
		ssize_t w = write(lg->fd, line + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (int)w;
	}
}

const char *log_escape(char *dst, size_t dstsize, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstsize == 0)
		return dst;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;
		if (o + need + 4 > dstsize) {
			if (o + 4 <= dstsize) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
