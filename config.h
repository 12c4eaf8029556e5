/*
 * config.h: everything the command line decides, read-only once main() has
 * filled it in.  The session gets a const pointer; nothing else is global.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "log.h"

#define CONFIG_MAX_DOMAINS 64

struct users;

struct config {
	const char *spool;		/* Maildir root */
	const char *hostname;		/* greeting, replies, Received: */
	const char *domains[CONFIG_MAX_DOMAINS];
	size_t ndomains;
	unsigned long long max_size;	/* bytes; SIZE in EHLO */
	unsigned max_recipients;
	unsigned timeout;		/* seconds per wait */
	int terminal;			/* a person types: LF ends every line */
	const char *peer;		/* "[192.0.2.1]", "[IPv6:...]" or "local" */
	unsigned long long min_free;	/* refuse MAIL below this much free space */
	unsigned greet_delay;		/* seconds to wait before 220 */

	/* Abuse limits (see smtpd.8, LIMITS). */
	unsigned soft_errors;		/* refused commands before replies slow down */
	unsigned hard_errors;		/* refused commands before 421 */
	unsigned junk_limit;		/* NOOP/RSET/HELP/VRFY before 421 */
	unsigned error_delay_ms;	/* pause per reply past soft_errors */

	const struct users *users;	/* NULL: every local part is accepted */
	const char *recipient_delimiter;/* "+" or NULL */
	int vrfy, expn;			/* answer VRFY/EXPN from the table */

	/* main()'s logger: not const, as a log reader that stalls is
	 * remembered there (see log.c). */
	struct logger *log;
};

#endif
