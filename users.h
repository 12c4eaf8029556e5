/*
 * users.h: the recipients table of --users FILE: who is here (accept), who
 * forwards where (forward), who has moved (moved), which groups expand to
 * whom (group), and per-domain catch-alls (@DOMAIN accept).  Read from the
 * text form, or from the indexed (cdb) form that --compile-users makes,
 * which a connection looks up without reading it whole.
 */
#ifndef USERS_H
#define USERS_H

#include <stddef.h>
#include <stdio.h>

#include "address.h"

enum users_kind {
	USERS_UNKNOWN = 0,	/* not in the table: 550 5.1.1 */
	USERS_ACCEPT,		/* 250; spooled for itself */
	USERS_FORWARD,		/* 251; spooled for the target */
	USERS_MOVED,		/* 551; nothing spooled */
	USERS_GROUP		/* 250; spooled for every member */
};

struct users_entry {
	enum users_kind kind;
	char address[ADDRESS_MAX + 2];	/* the key as the table writes it */
	char name[256];			/* accept: full name, or "" */
	char target[ADDRESS_MAX + 1];	/* forward, moved: OTHER@HOST */
};

struct users;

/* Open a table: the cdb form when the file is one, else the text form
 * (parsed whole).  NULL on failure, with "file:line: reason" in err. */
struct users *users_open(const char *path, char *err, size_t errsize);
void users_free(struct users *u);

/* Bytes of memory the open table holds (for the address-space limit). */
size_t users_memory(const struct users *u);

/* Look up a recipient at one of our domains: local parts and domains
 * compare case-insensitively; with a delimiter ("+"), "alice+tag@d" is
 * "alice@d"; then the "@d" catch-all.  Fills *e unless USERS_UNKNOWN. */
enum users_kind users_lookup(const struct users *u, const char *mailbox,
			     const char *delimiter, struct users_entry *e);

/* The addresses mail for e is spooled to: an accept entry itself, a
 * forward entry's target, a group's members (groups in it expanded, each
 * address once).  add() returns 0, or -1 to stop (a limit): then so does
 * users_expand. */
int users_expand(const struct users *u, const struct users_entry *e,
		 int (*add)(void *ctx, const char *mailbox), void *ctx);

/* VRFY: the entries a query names, as a full address, as a local part at
 * any domain, or as a full name (case-insensitive).  found() is called for
 * each (at most max); returns how many matched in all. */
int users_search(const struct users *u, const char *query, unsigned max,
		 void (*found)(void *ctx, const struct users_entry *e), void *ctx);

/* --check-users: every error as "file:line: reason" on report; returns the
 * number of errors (0: a clean table). */
int users_check(const char *path, FILE *report);

/* --compile-users: write FILE.cdb next to FILE, atomically (temporary file,
 * fsync, rename).  Returns 0, or -1 with the reason in err. */
int users_compile(const char *path, char *err, size_t errsize);

#endif
