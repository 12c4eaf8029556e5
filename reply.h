/*
 * reply.h: SMTP replies.  Every reply smtpd sends is named here, with its
 * code, RFC 3463 enhanced status code and text, so the whole vocabulary can
 * be read in one table (reply.c).  Replies are buffered and written only when
 * the session is about to wait for input (RFC 2920 3.2) or is about to end.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include "io.h"
#include "store.h"

enum reply_id {
	R_GREETING,		/* 220 %s ESMTP smtpd */
	R_HELO,			/* 250 %s */
	R_DONE,			/* 250 2.0.0 OK */
	R_MAIL_OK,		/* 250 2.1.0 */
	R_RCPT_OK,		/* 250 2.1.5 */
	R_WILL_FORWARD,		/* 251 2.1.5 */
	R_VRFY_USER,		/* 250 2.1.5 %s */
	R_QUEUED,		/* 250 2.0.0 OK: queued as %s */
	R_VRFY_CANNOT,		/* 252 */
	R_DATA_GO,		/* 354 */
	R_HELP_TOPIC,		/* 214 %s */
	R_QUIT,			/* 221 */
	R_SHUTDOWN,		/* 421 4.3.2 (SIGTERM) */
	R_TIMEOUT,		/* 421 4.4.2 */
	R_SESSION_TIMEOUT,	/* 421 4.4.2 whole session */
	R_TOO_SLOW,		/* 421 4.4.2 data rate */
	R_TOO_MANY_ERRORS,	/* 421 4.7.0 */
	R_TOO_MANY_JUNK,	/* 421 4.7.0 */
	R_SPOOL_UNUSABLE,	/* 421 4.3.0 at start */
	R_USERS_UNUSABLE,	/* 421 4.3.0 users table broken */
	R_BAD_PIPELINING,	/* 421 4.5.0 */
	R_NOT_SMTP,		/* 421 5.5.1... as 421 4.7.0 */
	R_STORE_IO,		/* 451 4.3.0 */
	R_STORE_NOSPACE,	/* 452 4.3.1 */
	R_LOW_SPACE,		/* 452 4.3.1 before MAIL */
	R_TOO_MANY_RCPTS,	/* 452 4.5.3 */
	R_UNKNOWN_COMMAND,	/* 500 5.5.2 */
	R_LINE_TOO_LONG,	/* 500 5.5.2 */
	R_SYNTAX,		/* 501 5.5.4 %s */
	R_BAD_ADDRESS,		/* 501 5.1.3 */
	R_ADDRESS_LONG,		/* 501 5.1.3 */
	R_BAD_SENDER,		/* 501 5.1.7 */
	R_SENDER_LONG,		/* 501 5.1.7 */
	R_NOT_IMPLEMENTED,	/* 502 5.5.1 */
	R_NEED_HELO,		/* 503 5.5.1 */
	R_NESTED_MAIL,		/* 503 5.5.1 */
	R_NEED_MAIL,		/* 503 5.5.1 */
	R_NEED_RCPT,		/* 503 5.5.1 */
	R_HELP_UNKNOWN,		/* 504 5.5.1 */
	R_NO_SUCH_USER,		/* 550 5.1.1 */
	R_NO_MATCH,		/* 550 5.1.1 VRFY/EXPN found nothing */
	R_NOT_A_GROUP,		/* 550 5.1.1 EXPN on a non-group */
	R_USER_MOVED,		/* 551 5.1.6 */
	R_RELAY_DENIED,		/* 550 5.7.1 */
	R_TOO_BIG,		/* 552 5.3.4 */
	R_NO_VALID_RCPTS,	/* 554 5.5.1 */
	R_NUL_IN_DATA,		/* 554 5.6.0 */
	R_LOOP,			/* 554 5.4.6 */
	R_EARLY_TALKER,		/* 554 5.5.0 */
	R_BAD_PARAMETER,	/* 555 5.5.4 %s */
	R_COUNT
};

struct reply {
	const struct io *io;
	int enhanced;		/* EHLO seen: show enhanced status codes */
	int broken;		/* a write failed: the peer is gone */
	size_t len;
	char buf[4096];
};

void reply_init(struct reply *r, const struct io *io);

/* Queue one complete reply from the table; arg fills its %s (or NULL). */
void reply_send(struct reply *r, enum reply_id id, const char *arg);

/* Queue one line of a multi-line reply: "CODE-" when more follows, else
 * "CODE ".  esc is the enhanced code shown after EHLO, or NULL. */
void reply_line(struct reply *r, int code, const char *esc, int more,
		const char *text);

/* Write out what is queued.  Returns 0, or -1 when the peer is gone. */
int reply_flush(struct reply *r);

/* The one place a storage failure becomes a reply. */
enum reply_id reply_for_store(enum store_err err);

/* The numeric code of a table entry (tests, logs). */
int reply_code(enum reply_id id);

#endif
