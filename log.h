/*
 * log.h: one line per event, to wherever the operator can read it and the
 * client cannot: a terminal or file on stderr as plain text, the journal with
 * <N> priority prefixes, or syslog when stderr is the SMTP connection itself
 * (inetd, xinetd).  Untrusted text is escaped by log_escape().
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>
#include <syslog.h>

enum log_mode {
	LOGTO_NONE,	/* tests: discard */
	LOGTO_PLAIN,	/* "smtpd[pid]: text" on stderr */
	LOGTO_JOURNAL,	/* "<N>text" on stderr, a journald stream */
	LOGTO_SYSLOG	/* /dev/log, as syslog(3) would: stderr is the client */
};

struct logger {
	enum log_mode mode;
	int fd;			/* stderr, or the /dev/log socket (-1: none yet) */
	int stream;		/* /dev/log is a stream socket: lines end in NUL */
	long pid;		/* for "smtpd[pid]:", asked once */
	int to_file;		/* stderr is a regular file */
	unsigned long long file_size;	/* its size at start */
	int stalled;		/* a line found no room within LOG_WAIT_MS */
	unsigned long dropped;	/* lines lost since, not yet reported */
};

/* Decide where lines go, given the conversation's input fd. */
void log_setup(struct logger *lg, int conversation_fd);

/* priority is a syslog LOG_* level. */
void log_line(struct logger *lg, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Copy untrusted src into dst (size dstsize, always terminated): printable
 * ASCII is kept, everything else becomes \xNN; cut with "..." if too long. */
const char *log_escape(char *dst, size_t dstsize, const char *src, size_t len);

#endif
