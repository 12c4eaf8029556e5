/*
 * users_impl.h: what the files of the users table (listed in users.c)
 * share and nothing else sees (users.h is all that smtpd.c, session.c and
 * the tests get): the table in memory, one entry as either form holds it,
 * a table being read, the small helpers each file inlines, and what each
 * file lends the others.
 */
#ifndef USERS_IMPL_H
#define USERS_IMPL_H

#include <cdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "users.h"

#define USERS_CDB_MAGIC "\0smtpd-users-format"
#define USERS_CDB_MAGIC_LEN (sizeof USERS_CDB_MAGIC - 1)
#define USERS_CDB_FORMAT "1"

#define KEY_MAX (ADDRESS_MAX + 1)	/* a canonical key, "@domain" included */
#define KIND_MASK 0x0f			/* text records: kind in the low bits */

enum users_form { FORM_TEXT, FORM_CDB };

struct users {
	enum users_form form;
	/* text form */
	char *buf;		/* the file, records rewritten in place, NUL-ended */
	size_t size;		/* bytes of the file */
	uint32_t *slot;		/* offsets of records, SLOT_EMPTY if free */
	size_t mask;		/* slots - 1 (a power of two minus one) */
	/* cdb form */
	struct cdb cdb;
	size_t mapped;		/* bytes of the mapping */
};

/* One entry, from either form. */
struct rec {
	enum users_kind kind;
	const char *key;	/* canonical, NUL-terminated */
	const char *args;	/* NUL-terminated strings... */
	const char *end;	/* ...up to here */
};

/* A table being read (opened, or checked by users_check): where its errors
 * go, and how many there were. */
struct parse {
	const char *path;
	FILE *report;		/* every error here, or NULL */
	int all;		/* find every error (else stop at the first) */
	char *err;		/* the first error, if not NULL */
	size_t errsize;
	int errors;
	struct users *u;
	struct line_of {	/* records in file order, for line numbers */
		uint32_t off, line;
	} *lines;
	size_t nlines;
};

/* ---------------------------------------------------------------------
 * Helpers every file uses, some once a byte of a table: inline, as they
 * were when the table was one file.
 */

static inline int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline int is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static inline uint32_t hash_key(const char *s, size_t n)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* The next of the NUL-ended arguments of a record, or NULL after the last. */
static inline const char *arg_next(const char **cursor, const char *end)
{
	const char *s = *cursor, *nul;

	if (s >= end)
		return NULL;
	nul = memchr(s, '\0', (size_t)(end - s));
	if (nul == NULL)
		return NULL;
	*cursor = nul + 1;
	return s;
}

/* Is the line at p a record of the text form? */
static inline int is_text_rec(const char *p)
{
	int k = *p & KIND_MASK;
	return *p != '\0' && *p != '\n' && k >= USERS_ACCEPT && k <= USERS_GROUP;
}

/* ---------------------------------------------------------------------
 * users.c: entries of either form, the errors of a table being read
 */

/* The entry with canonical key (n bytes, NUL-terminated, which r->key
 * may point to): 1 found, 0 not, -1 the table cannot be read. */
int users_rec_get(const struct users *u, const char *key, size_t n,
		  struct rec *r);
/* The users_entry of r, its mailbox field set to mailbox. */
void users_fill_entry(const struct rec *r, const char *mailbox,
		      struct users_entry *e);

/* Untrusted text s (n bytes) for a message, into out. */
const char *users_show(char *out, size_t outsize, const char *s, size_t n);

/* A full name or a word of it: printable ASCII or valid UTF-8, no
 * controls, no '<' or '>' (it goes into VRFY's replies).  0 with the
 * reason in why (which may be NULL with whysize 0) if not. */
int users_name_ok(const unsigned char *s, size_t n, char *why, size_t whysize);
/* One error: "file:line: reason", or "file: reason" when line is 0. */
__attribute__((format(printf, 3, 4)))
void users_parse_error(struct parse *p, unsigned long line, const char *fmt, ...);

/* ---------------------------------------------------------------------
 * users_key.c: canonical keys
 */

/* The key of "local@domain" (n bytes, no angle brackets) into
 * out[KEY_MAX + 1]: its length, or 0 when s is not such an address. */
size_t users_key_mailbox(const char *s, size_t n, char *out);
/* The key of "@domain": its length, or 0. */
size_t users_key_catchall(const char *s, size_t n, char *out);
/* The canonical form of a local part that address_parse accepted, into
 * out: its length, never more than n. */
size_t users_key_local(const char *s, size_t n, char *out);
/* The length of a key's local part. */
size_t users_key_local_len(const char *key, size_t n);

/* ---------------------------------------------------------------------
 * users_text.c: the text form
 */

/* Read and parse the text form (size bytes at fd) into u: 0, or -1 with
 * the errors reported through p. */
int users_text_open(struct users *u, int fd, size_t size, struct parse *p);
/* The record with canonical key (n bytes), or NULL. */
const char *users_text_find(const struct users *u, const char *key, size_t n);
/* The entry of the record at p. */
void users_text_rec(const char *p, struct rec *r);

/* ---------------------------------------------------------------------
 * users_cdb.c: the compiled form, read
 */

/* A secondary list of the cdb: the positions of 'a' records, 4 bytes
 * each, in table order. */
struct plist {
	const unsigned char *p;
	size_t n;
};

static inline uint32_t plist_at(const struct plist *l, size_t i)
{
	return cdb_unpack(l->p + 4 * i);
}

/* Is fd a table of the cdb form?  1 yes (u holds the mapping), 0 no (read
 * it as text), -1 it cannot be used (reason reported through p). */
int users_cdb_open(struct users *u, int fd, struct parse *p);
/* The record of type t for s (n bytes): 1 found (value in *v, *vn), 0
 * not, -1 a damaged file. */
int users_cdb_get(const struct users *u, char t, const char *s, size_t n,
		  const char **v, size_t *vn);
/* Is the value of an 'a' record (n bytes) well formed?  Fills all of r
 * but its key. */
int users_cdb_value(const char *v, size_t n, struct rec *r);
/* The list of type t ('l' or 'n') for s, empty if none: 0, or -1 if damaged. */
int users_cdb_list(const struct users *u, char t, const char *s, struct plist *l);
/* The entry whose 'a' record is at pos, its key copied into key[KEY_MAX +
 * 1]: 0, or -1 if there is no such record. */
int users_cdb_at(const struct users *u, uint32_t pos, struct rec *r, char *key);
/* users_check of a cdb: every record, errors reported through p. */
void users_cdb_check(struct parse *p, const struct users *u);

#endif
