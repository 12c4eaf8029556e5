/*
 * log.c: where log lines go and how they look.  Owns the choice between
 * stderr (plain or journal-prefixed) and syslog, and the escaping of text
 * that came from the client.  Never writes to the conversation.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "decimal.h"
#include "log.h"

/* JOURNAL_STREAM is "dev:ino" of the stream systemd gave us as stderr. */
static int stderr_is_journal(const struct stat *err)
{
	const char *js = getenv("JOURNAL_STREAM"), *end;
	unsigned long long dev, ino;
	int over_dev, over_ino;

	if (js == NULL)
		return 0;
	end = decimal(js, &dev, &over_dev);
	if (end == js || *end != ':' || over_dev)
		return 0;
	js = end + 1;
	end = decimal(js, &ino, &over_ino);
	if (end == js || *end != '\0' || over_ino)
		return 0;
	return (unsigned long long)err->st_dev == dev &&
	       (unsigned long long)err->st_ino == ino;
}

/*
 * Syslog without syslog(3): glibc's send to /dev/log blocks for as long as
 * the daemon does not read, and a syslogd stuck on a full disk would then
 * hold every session past its timeouts, the termination signals blocked.
 * So smtpd connects to /dev/log itself and its lines take write_line()'s
 * bounded wait like any other.  They look as syslog(3) makes them (RFC
 * 3164: "<PRI>Mmm dd hh:mm:ss smtpd[pid]: text", local time, facility
 * mail).  A /dev/log of stream type (older syslog-ng setups) gets each
 * line ended by a NUL, as glibc sends it.  No /dev/log: the lines are
 * counted as lost and the next one tries again.
 */
static int syslog_connect(struct logger *lg)
{
	static const char path[] = "/dev/log";
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int type = SOCK_DGRAM;

	memcpy(a.sun_path, path, sizeof path);
	for (;;) {
		/* Non-blocking, so that a stream listener with a full backlog
		 * cannot hold connect() either. */
		int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (const struct sockaddr *)&a, sizeof a) == 0) {
			lg->fd = fd;
			lg->stream = type == SOCK_STREAM;
			return 0;
		}
		int e = errno;
		close(fd);
		if (e != EPROTOTYPE || type == SOCK_STREAM)
			return -1;
		type = SOCK_STREAM;
	}
}

static void syslog_disconnect(struct logger *lg)
{
	if (lg->fd >= 0)
		close(lg->fd);
	lg->fd = -1;
}

void log_setup(struct logger *lg, int conversation_fd)
{
	struct stat err, conv;

	memset(lg, 0, sizeof *lg);
	lg->pid = (long)getpid();
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
		lg->to_file = S_ISREG(err.st_mode);
		lg->file_size = lg->to_file ? (unsigned long long)err.st_size : 0;
	}
	lg->fd = -1;
	if (lg->mode == LOGTO_SYSLOG)
		syslog_connect(lg);
	else
		lg->fd = 2;
}

/* Append src to buf[*n], keeping room for the final newline. */
static void put(char *buf, size_t size, size_t *n, const char *src, size_t len)
{
	if (len > size - 1 - *n)
		len = size - 1 - *n;
	memcpy(buf + *n, src, len);
	*n += len;
}

static void put_number(char *buf, size_t size, size_t *n,
		       unsigned long long v, int negative)
{
	char digits[24];
	size_t i = sizeof digits;

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	if (negative)
		digits[--i] = '-';
	put(buf, size, n, digits + i, sizeof digits - i);
}

/*
 * The formats log lines use: %s, %c, %d, %u, %ld, %lu, %lld, %llu, %%.
 * Every connection logs at least two lines; vsnprintf costs several
 * thousand instructions a line, a measurable part of smtpd's whole cost
 * per connection, so the few conversions we need are done here.  The
 * format attribute in log.h keeps the arguments checked by the compiler.
 */
static size_t format(char *buf, size_t size, size_t n, const char *fmt,
		     va_list ap)
{
	for (const char *p = fmt; *p != '\0'; p++) {
		const char *start = p;
		int longs = 0;

		while (*p != '%' && *p != '\0')
			p++;
		put(buf, size, &n, start, (size_t)(p - start));
		if (*p == '\0')
			break;
		p++;
		while (*p == 'l') {
			longs++;
			p++;
		}
		switch (*p) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (str == NULL)
				str = "(null)";
			put(buf, size, &n, str, strlen(str));
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			put(buf, size, &n, &c, 1);
			break;
		}
		case 'd': {
			long long v = longs >= 2 ? va_arg(ap, long long) :
				      longs == 1 ? va_arg(ap, long) : va_arg(ap, int);
			put_number(buf, size, &n, v < 0 ? 0ULL - (unsigned long long)v :
						      (unsigned long long)v, v < 0);
			break;
		}
		case 'u': {
			unsigned long long v = longs >= 2 ? va_arg(ap, unsigned long long) :
					       longs == 1 ? va_arg(ap, unsigned long) :
							    va_arg(ap, unsigned);
			put_number(buf, size, &n, v, 0);
			break;
		}
		case '%':
			put(buf, size, &n, "%", 1);
			break;
		default:	/* not a format we use: show it, do not guess */
			put(buf, size, &n, "%?", 2);
			if (*p == '\0')
				return n;
			break;
		}
	}
	return n;
}

/*
 * One write per line, so that lines from concurrent sessions sharing a log
 * stay whole (a pipe takes up to PIPE_BUF bytes at once).  A reader that
 * stops reading (multilog stopped on a full disk, a journal that does not
 * keep up, a syslogd that stopped reading /dev/log) must not hold the
 * session past its timeouts: on a pipe or a socket the line waits
 * LOG_WAIT_MS for room, then it is dropped, and later lines of the
 * session are tried without waiting, so a stalled reader costs a session
 * one wait, not one per line.  A failed log write is not worth a failed
 * session.  Returns 0 when the line went out.
 */
#define LOG_WAIT_MS 1000

/* One try that does not block where the kernel can tell: RWF_NOWAIT on
 * stderr's pipe or socket (files take write()), MSG_DONTWAIT to syslog. */
static ssize_t write_nowait(const struct logger *lg, const char *p, size_t n)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	ssize_t w;

	if (lg->mode == LOGTO_SYSLOG)
		return send(lg->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (lg->to_file)
		return write(lg->fd, p, n);
	if ((w = pwritev2(lg->fd, &iov, 1, -1, RWF_NOWAIT)) < 0 &&
	    (errno == EOPNOTSUPP || errno == EINVAL))
		w = write(lg->fd, p, n);
	return w;
}

static int write_line(struct logger *lg, const char *line, size_t n)
{
	int waited = lg->stalled;

	while (n > 0) {
		ssize_t w = write_nowait(lg, line, n);
		if (w > 0) {
			line += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN && !waited) {
			struct pollfd p = {.fd = lg->fd, .events = POLLOUT};
			static const struct timespec wait = {LOG_WAIT_MS / 1000, 0};
			waited = 1;
			if (ppoll(&p, 1, &wait, NULL) <= 0) {
				lg->stalled = 1;
				return -1;
			}
		} else {
			if (w < 0 && errno == EAGAIN)
				lg->stalled = 1;
			return -1;
		}
	}
	lg->stalled = 0;
	return 0;
}

/* "smtpd[pid]: ", "<N>" for the journal, or syslog's header. */
static size_t put_prefix(const struct logger *lg, int priority, char *buf, size_t size)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	size_t n = 0;

	if (lg->mode == LOGTO_JOURNAL) {
		char prefix[3] = {'<', (char)('0' + (priority & 7)), '>'};
		put(buf, size, &n, prefix, 3);
		return n;
	}
	if (lg->mode == LOGTO_SYSLOG) {
		time_t now = time(NULL);
		struct tm tm;
		put(buf, size, &n, "<", 1);
		put_number(buf, size, &n, (unsigned long long)(LOG_MAIL | (priority & 7)), 0);
		put(buf, size, &n, ">", 1);
		/* RFC 3164's timestamp, local time, day padded with a blank. */
		if (localtime_r(&now, &tm) != NULL && tm.tm_mon >= 0 && tm.tm_mon < 12) {
			char ts[16] = {
				months[tm.tm_mon * 3], months[tm.tm_mon * 3 + 1],
				months[tm.tm_mon * 3 + 2], ' ',
				(char)(tm.tm_mday >= 10 ? '0' + tm.tm_mday / 10 : ' '),
				(char)('0' + tm.tm_mday % 10), ' ',
				(char)('0' + tm.tm_hour / 10), (char)('0' + tm.tm_hour % 10), ':',
				(char)('0' + tm.tm_min / 10), (char)('0' + tm.tm_min % 10), ':',
				(char)('0' + tm.tm_sec / 10), (char)('0' + tm.tm_sec % 10), ' '};
			put(buf, size, &n, ts, sizeof ts);
		}
	}
	put(buf, size, &n, "smtpd[", 6);
	put_number(buf, size, &n, (unsigned long long)lg->pid, 0);
	put(buf, size, &n, "]: ", 3);
	return n;
}

/* The line's end: a newline on stderr; none in a syslog datagram; a NUL
 * on a syslog stream.  put() always leaves room for it. */
static size_t end_line(const struct logger *lg, char *buf, size_t n)
{
	if (lg->mode != LOGTO_SYSLOG)
		buf[n++] = '\n';
	else if (lg->stream)
		buf[n++] = '\0';
	return n;
}

/*
 * line[0..n) without its end, in a buffer with room for one more byte:
 * the end is chosen once the connection is made, since a /dev/log that
 * appears (or comes back) during a session may be of the other type.
 * syslog: a line that failed because the daemon went away (restarted, its
 * socket made anew) is sent once more on a new connection, as syslog(3)
 * does; a daemon that was not there at the start is looked for again.
 */
static int send_line(struct logger *lg, char *line, size_t n)
{
	if (lg->mode != LOGTO_SYSLOG)
		return write_line(lg, line, end_line(lg, line, n));
	if (lg->fd < 0 && syslog_connect(lg) < 0)
		return -1;
	if (write_line(lg, line, end_line(lg, line, n)) == 0)
		return 0;
	if (errno != ECONNREFUSED && errno != ENOTCONN && errno != EPIPE && errno != ECONNRESET)
		return -1;
	syslog_disconnect(lg);
	if (syslog_connect(lg) < 0)
		return -1;
	return write_line(lg, line, end_line(lg, line, n));
}

/* Before the first line that may go out after losses: how many were lost,
 * so that the gap in the log is not silent. */
static int report_dropped(struct logger *lg)
{
	static const char text[] = " earlier log line(s) lost: the log was full or not read";
	char note[192];
	size_t m = put_prefix(lg, LOG_WARNING, note, sizeof note);

	put_number(note, sizeof note, &m, lg->dropped, 0);
	put(note, sizeof note, &m, text, sizeof text - 1);
	if (send_line(lg, note, m) < 0)
		return -1;
	lg->dropped = 0;
	return 0;
}

void log_line(struct logger *lg, int priority, const char *fmt, ...)
{
	char line[2048];
	size_t n;
	va_list ap;

	if (lg->mode == LOGTO_NONE)
		return;
	n = put_prefix(lg, priority, line, sizeof line);
	va_start(ap, fmt);
	n = format(line, sizeof line, n, fmt, ap);
	va_end(ap);
	if (lg->dropped > 0 && report_dropped(lg) < 0) {
		lg->dropped++;
		return;
	}
	if (send_line(lg, line, n) < 0)
		lg->dropped++;
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
