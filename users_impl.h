/*
 * users_impl.h: what the files of the users table share and nothing else
 * sees (users.h is all that session.c and smtpd.c get): the table in
 * memory, one entry as either form holds it, and the small helpers each
 * file inlines.
 */
#ifndef USERS_IMPL_H
#define USERS_IMPL_H

#include <cdb.h>
#include <stddef.h>
#include <stdint.h>
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

/* ---------------------------------------------------------------------
 * users_key.c: canonical keys
 */

size_t users_key_local(const char *s, size_t n, char *out);
size_t users_key_mailbox(const char *s, size_t n, char *out);
size_t users_key_catchall(const char *s, size_t n, char *out);
size_t users_key_local_len(const char *key, size_t n);

#endif
