/*
 * users.h: the recipients table of --users FILE: who is here (accept), who
 * forwards where (forward), who has moved (moved), which groups expand to
 * whom (group), and per-domain catch-alls (@DOMAIN accept).  Read from the
 * text form, or from the indexed (cdb) form that --compile-users makes,
 * which a connection looks up without reading it whole.
 *
 * The text form, one entry a line ('#' at the start of a field begins a
 * comment; blank lines are ignored; fields are separated by blanks):
 *
 *     ADDRESS   accept   [Full Name]
 *     ADDRESS   forward  OTHER@HOST
 *     ADDRESS   moved    OTHER@HOST
 *     ADDRESS   group    MEMBER MEMBER ...
 *     @DOMAIN   accept
 *
 * Addresses are RFC 5321 mailboxes without angle brackets, ASCII only (no
 * SMTPUTF8).  Keys compare case-insensitively, local part and domain both,
 * and a quoted local part equals its unquoted form ("al"@d is al@d).  A
 * full name is printable ASCII or valid UTF-8, without '<' or '>'.  Lines
 * are at most USERS_LINE_MAX bytes.  See users_text.c for every rule.
 */
#ifndef USERS_H
#define USERS_H

#include <stddef.h>
#include <stdio.h>

#include "address.h"

#define USERS_LINE_MAX 4096	/* bytes in one line of the text form */
#define USERS_NAME_MAX 255	/* bytes in a full name */

enum users_kind {
	USERS_UNKNOWN = 0,	/* not in the table: 550 5.1.1 */
	USERS_ACCEPT,		/* 250; spooled for itself */
	USERS_FORWARD,		/* 251; spooled for the target */
	USERS_MOVED,		/* 551; nothing spooled */
	USERS_GROUP,		/* 250; spooled for every member */
	USERS_ERROR		/* the table cannot be read (a damaged cdb):
				 * a temporary failure, 451 4.3.0 */
};

struct users_entry {
	enum users_kind kind;
	/* The entry's key: its address in canonical form (lowercase, a quoted
	 * local part unquoted where quoting is not needed), "@domain" for a
	 * catch-all.  This is the address VRFY shows. */
	char address[ADDRESS_MAX + 2];
	char name[USERS_NAME_MAX + 1];	/* accept: full name, or "" */
	char target[ADDRESS_MAX + 1];	/* forward, moved: OTHER@HOST as written */
	/* users_lookup: the mailbox looked up, exactly as given (so a
	 * catch-all or a "+tag" recipient is spooled as the client wrote
	 * it); users_search: the same as address. */
	char mailbox[ADDRESS_MAX + 1];
};

struct users;

/* Open a table: the cdb form when the file is one (recognised by its
 * format record; mapped, never read whole), else the text form (parsed
 * whole and checked: syntax, duplicates, group loops).  NULL on failure,
 * with "file:line: reason" (or "file: reason") in err. */
struct users *users_open(const char *path, char *err, size_t errsize);
void users_free(struct users *u);

/* Bytes of address space the open table holds: the text and its index,
 * or the mapping of the cdb (for the address-space limit). */
size_t users_memory(const struct users *u);

/* Look up a recipient mailbox ("local@domain", no angle brackets):
 *   1. the address itself;
 *   2. with a delimiter (a set of characters, e.g. "+" or "+-"), the
 *      local part cut at its first delimiter character ("alice+tag@d" is
 *      "alice@d"), when that leaves a non-empty local part;
 *   3. the "@domain" catch-all.
 * Fills *e unless USERS_UNKNOWN or USERS_ERROR.  A mailbox without a
 * domain (<postmaster>) or not valid RFC 5321 is USERS_UNKNOWN. */
enum users_kind users_lookup(const struct users *u, const char *mailbox,
			     const char *delimiter, struct users_entry *e);

/* The addresses mail for e is spooled to (add() gets each as a string
 * valid during the call only): an accept entry its mailbox, a
 * forward entry its target, a moved entry none, a group its members, with
 * groups among them expanded, forward members replaced by their targets,
 * every other member (accepted, caught by a catch-all, or not in the
 * table) as the group line writes it; each address once (compared like
 * keys).  add() returns 0, -1 for a limit or -2 for a failure; either stops
 * the expansion.  Returns how many add() took, or -1 when add() returned -1,
 * or -2 when add() returned -2, the table cannot be read or memory ran out. */
int users_expand(const struct users *u, const struct users_entry *e,
		 int (*add)(void *ctx, const char *mailbox), void *ctx);

/* VRFY: the entries a query names.  A query with '@' is a full address
 * (exact key only: no delimiter, no catch-all); otherwise it names every
 * entry whose local part it is (at any domain), then every accept entry
 * whose full name, or one word of it, it is (case-insensitive for ASCII
 * letters; blanks in the query count as one space).  Angle brackets and
 * blanks around the query are ignored.  found() is called for the first
 * max matches, in table order; returns how many matched in all, or -1
 * when the table cannot be read. */
int users_search(const struct users *u, const char *query, unsigned max,
		 void (*found)(void *ctx, const struct users_entry *e), void *ctx);

/* --check-users: every error as "file:line: reason" on report (if not
 * NULL); returns the number of errors (0: a clean table).  A cdb is checked
 * record by record ("file: record N: reason"). */
int users_check(const char *path, FILE *report);

/* --compile-users: write FILE.cdb next to FILE, atomically (temporary file
 * made with O_EXCL in the same directory, fsync, rename, fsync of the
 * directory).  A table with errors is refused and nothing is written.
 * Returns 0, or -1 with the reason in err. */
int users_compile(const char *path, char *err, size_t errsize);

#endif
