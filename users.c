/*
 * users.c: the recipients table of --users as smtpd.c and session.c see
 * it (users.h): opening a table in whichever form its file is in, looking
 * a recipient up, checking a table; and what the other files of the table
 * share: an entry read from either form, the errors of a table being read.
 * Nothing here speaks SMTP; session.c turns kinds into replies.
 *
 * The table's other files, one job each (users_impl.h holds what they
 * share, and only they include it):
 *   users_key.c      canonical keys: when two addresses are one entry
 *   users_text.c     the text form: its rules, parsing, checking, index
 *   users_cdb.c      the cdb form: its records, reading and checking them
 *   users_compile.c  --compile-users: the cdb form written from the text
 *   users_expand.c   users_expand: the addresses an entry's mail goes to
 *   users_search.c   users_search: VRFY
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "users_impl.h"

/* ---------------------------------------------------------------------
 * The errors of a table being read
 */

/* Untrusted text for a message: printable ASCII kept, the rest as \xHH,
 * cut with "..." beyond about 60 bytes. */
const char *users_show(char *out, size_t outsize, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 8 < outsize; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o > 60) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 32 && c < 127 && c != '\\') {
			out[o++] = (char)c;
		} else {
			snprintf(out + o, outsize - o, "\\x%02x", c);
			o += 4;
		}
	}
	out[o] = '\0';
	return out;
}

__attribute__((format(printf, 3, 4)))
void users_parse_error(struct parse *p, unsigned long line, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (p->errors++ == 0 && p->err != NULL) {
		if (line > 0)
			snprintf(p->err, p->errsize, "%s:%lu: %s", p->path, line, why);
		else
			snprintf(p->err, p->errsize, "%s: %s", p->path, why);
	}
	if (p->report != NULL) {
		if (line > 0)
			fprintf(p->report, "%s:%lu: %s\n", p->path, line, why);
		else
			fprintf(p->report, "%s: %s\n", p->path, why);
	}
}

/* ---------------------------------------------------------------------
 * Records of the two forms
 */

/* The entry with canonical key (n bytes, NUL-terminated, which r->key
 * may point to): 1 found, 0 not, -1 the table cannot be read. */
int users_rec_get(const struct users *u, const char *key, size_t n,
		  struct rec *r)
{
	const char *v;
	size_t vn;
	int rc;

	if (u->form == FORM_TEXT) {
		const char *p = users_text_find(u, key, n);
		if (p == NULL)
			return 0;
		users_text_rec(p, r);
		return 1;
	}
	rc = users_cdb_get(u, 'a', key, n, &v, &vn);
	if (rc <= 0)
		return rc;
	r->key = key;
	if (!users_cdb_value(v, vn, r))
		return -1;
	/* A catch-all is a plain accept in the text form; one that is not
	 * (a group, a name) would take a whole domain's mail somewhere the
	 * operator never wrote: damaged, as users_check says. */
	if (key[0] == '@' && (r->kind != USERS_ACCEPT || r->args < r->end))
		return -1;
	return 1;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void users_fill_entry(const struct rec *r, const char *mailbox,
		      struct users_entry *e)
{
	const char *c = r->args, *arg = arg_next(&c, r->end);

	memset(e, 0, sizeof *e);
	e->kind = r->kind;
	copy_str(e->address, sizeof e->address, r->key);
	copy_str(e->mailbox, sizeof e->mailbox, mailbox);
	if (arg != NULL && r->kind == USERS_ACCEPT)
		copy_str(e->name, sizeof e->name, arg);
	if (arg != NULL && (r->kind == USERS_FORWARD || r->kind == USERS_MOVED))
		copy_str(e->target, sizeof e->target, arg);
}

/* ---------------------------------------------------------------------
 * Opening
 */

static int is_cdb_name(const char *path)
{
	size_t n = strlen(path);

	return n > 4 && strcmp(path + n - 4, ".cdb") == 0;
}

/* Open path into a new table, reporting through p. */
static struct users *open_table(struct parse *p)
{
	struct users *u = calloc(1, sizeof *u);
	struct stat st;
	int fd, rc = -1;

	if (u == NULL) {
		users_parse_error(p, 0, "out of memory");
		return NULL;
	}
	p->u = u;
	fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		users_parse_error(p, 0, "%s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		users_parse_error(p, 0, "not a regular file");
	} else {
		rc = users_cdb_open(u, fd, p);
		if (rc == 0 && is_cdb_name(p->path)) {
			/* Named as --compile-users names its output, but not a
			 * whole one: parsing it as text would only report
			 * its first line as junk. */
			users_parse_error(p, 0, "not a valid compiled table (damaged or cut short): compile it again");
			rc = -1;
		} else if (rc == 0) {
			rc = users_text_open(u, fd, (size_t)st.st_size, p);
		} else if (rc == 1) {
			rc = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	free(p->lines);
	p->lines = NULL;
	if (rc < 0) {
		users_free(u);
		return NULL;
	}
	return u;
}

struct users *users_open(const char *path, char *err, size_t errsize)
{
	struct parse p = {.path = path, .err = err, .errsize = errsize};

	return open_table(&p);
}

void users_free(struct users *u)
{
	if (u == NULL)
		return;
	if (u->form == FORM_CDB)
		cdb_free(&u->cdb);
	free(u->buf);
	free(u->slot);
	free(u);
}

size_t users_memory(const struct users *u)
{
	if (u == NULL)
		return 0;
	if (u->form == FORM_CDB)
		return sizeof *u + u->mapped;
	return sizeof *u + u->size + 1 + (u->mask + 1) * sizeof *u->slot;
}

/* ---------------------------------------------------------------------
 * Lookups
 */

enum users_kind users_lookup(const struct users *u, const char *mailbox,
			     const char *delimiter, struct users_entry *e)
{
	char key[KEY_MAX + 1], cut[KEY_MAX + 1];
	size_t n = users_key_mailbox(mailbox, strlen(mailbox), key), local;
	struct rec r;
	int rc;

	if (n == 0)
		return USERS_UNKNOWN;
	rc = users_rec_get(u, key, n, &r);
	local = users_key_local_len(key, n);
	if (rc == 0 && delimiter != NULL && *delimiter != '\0' && key[0] != '"') {
		/* Cut at the first delimiter; one that starts the local part
		 * is no tag, and nothing is cut (as Postfix does). */
		size_t i = 0;
		while (i < local && strchr(delimiter, key[i]) == NULL)
			i++;
		if (i > 0 && i < local) {
			memcpy(cut, key, i);
			memcpy(cut + i, key + local, n - local + 1);
			rc = users_rec_get(u, cut, i + n - local, &r);
		}
	}
	if (rc == 0)
		rc = users_rec_get(u, key + local, n - local, &r);
	if (rc <= 0)
		return rc < 0 ? USERS_ERROR : USERS_UNKNOWN;
	users_fill_entry(&r, mailbox, e);
	return e->kind;
}

/* ---------------------------------------------------------------------
 * Checking
 */

int users_check(const char *path, FILE *report)
{
	struct parse p = {.path = path, .report = report, .all = 1};
	struct users *u = open_table(&p);

	if (u != NULL && u->form == FORM_CDB)
		users_cdb_check(&p, u);
	users_free(u);
	return p.errors;
}
