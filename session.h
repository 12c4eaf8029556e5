/*
 * session.h: one SMTP conversation, every protocol rule in one place.
 * The session reads through struct io and writes replies through it; it has
 * no file descriptor, clock or process of its own, so a test drives it with
 * a string and a temporary spool.
 */
#ifndef SESSION_H
#define SESSION_H

#include "address.h"
#include "config.h"
#include "input.h"
#include "reply.h"
#include "store.h"

enum session_state {
	S_START,	/* connected; no HELO/EHLO yet */
	S_READY,	/* greeted; no transaction */
	S_MAIL,		/* MAIL accepted; RCPTs being collected */
	S_DONE		/* QUIT, or smtpd is closing the connection */
};

/* store.c gathers these into larger writes for a large message. */
#define DATA_OBUF 32768

/* The DATA byte machine's states (session.c has one comment per state). */
enum data_state {
	D_BOL,		/* at the start of a line: after CRLF, or of the message */
	D_BOL_DOT,	/* "." at the start of a line */
	D_BOL_DOT_CR,	/* ".\r" at the start of a line */
	D_TEXT,		/* inside a line */
	D_CR,		/* "\r" inside a line: CRLF if an LF follows */
	D_END		/* CRLF.CRLF seen */
};

/* Recipients held in the session itself; more than this are allocated. */
#define RCPTS_INLINE 100

struct data {
	enum data_state st;
	int in_headers;			/* before the first empty line */
	size_t line_len;		/* bytes of the current line so far */
	int header_match;		/* bytes of "Received" matched, or -1 */
	unsigned received;		/* Received: headers counted */
	unsigned long long size;	/* message octets as RFC 1870 counts them */
	int error;			/* a reply id once refused, else -1 */
	size_t olen;
	char obuf[DATA_OBUF];		/* bytes on their way to the file */
};

struct session {
	const struct config *cfg;
	struct store *store;
	enum session_state state;
	int esmtp;			/* the client said EHLO (not HELO) */
	char helo[256];

	/* The transaction. */
	struct address sender;
	char (*rcpts)[ADDRESS_MAX + 1];	/* cfg->max_recipients of them */
	unsigned nrcpts;
	unsigned rcpt_refused;
	struct store_msg msg;

	/* Counters for the error budget and the disconnect log line. */
	unsigned commands, errors, junk, accepted, refused;

	/* The buffers, last: session_init need not clear them. */
	struct reply out;
	struct input in;
	struct data data;
	/* Where rcpts points for up to RCPTS_INLINE recipients (the default
	 * bound): a message then asks malloc for nothing, which spares each
	 * mail session the heap's start-up (getrandom, two brk and a fault). */
	char rcpt_inline[RCPTS_INLINE][ADDRESS_MAX + 1];
};

/* Set up a session; returns 0, or -1 if memory is short. */
int session_init(struct session *s, const struct config *cfg,
		 struct store *store, const struct io *io);
void session_free(struct session *s);

/* Greet, converse until QUIT, EOF or a reason to close; the exit status. */
int session_run(struct session *s);

/* A 421 from outside the conversation (spool unusable at start): greet
 * with it and end.  Returns the exit status. */
int session_refuse(struct session *s, enum reply_id why);

/* State names for logs and tests. */
const char *session_state_name(enum session_state st);

#endif
