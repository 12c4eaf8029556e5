/*
 * users.c: the recipients table of --users.  It owns the table's two forms
 * and every rule about them: looking a recipient up, searching for VRFY;
 * users_text.c reads and checks the text form, users_cdb.c the cdb form,
 * users_compile.c writes the cdb form, users_expand.c expands groups.
 * Nothing here speaks SMTP; session.c turns kinds into replies.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
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
	return users_cdb_value(v, vn, r) ? 1 : -1;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void fill_entry(const struct rec *r, const char *mailbox,
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

/* Open path into a new table, reporting through p. */
static int is_cdb_name(const char *path)
{
	size_t n = strlen(path);

	return n > 4 && strcmp(path + n - 4, ".cdb") == 0;
}

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
		size_t i = 1;
		while (i < local && strchr(delimiter, key[i]) == NULL)
			i++;
		if (i < local) {
			memcpy(cut, key, i);
			memcpy(cut + i, key + local, n - local + 1);
			rc = users_rec_get(u, cut, i + n - local, &r);
		}
	}
	if (rc == 0)
		rc = users_rec_get(u, key + local, n - local, &r);
	if (rc <= 0)
		return rc < 0 ? USERS_ERROR : USERS_UNKNOWN;
	fill_entry(&r, mailbox, e);
	return e->kind;
}

/* ---------------------------------------------------------------------
 * Searching (VRFY)
 */

struct query {
	char address[KEY_MAX + 1];	/* canonical, or "" */
	char local[ADDRESS_LOCAL_MAX + 1];	/* canonical local part, or "" */
	char name[USERS_NAME_MAX + 1];	/* lowercase, one space between words */
	int one_word;
};

static void query_parse(const char *q, struct query *out)
{
	char path[ADDRESS_LOCAL_MAX + 5];
	const char *end, *f, *p;
	struct address a;
	const char *rest;
	size_t n, len = 0;

	memset(out, 0, sizeof *out);
	while (is_blank(*q))
		q++;
	end = q + strlen(q);
	while (end > q && is_blank(end[-1]))
		end--;
	if (end - q >= 2 && q[0] == '<' && end[-1] == '>')
		q++, end--;
	n = (size_t)(end - q);
	if (memchr(q, '@', n) != NULL && users_key_mailbox(q, n, out->address) > 0)
		return;
	out->address[0] = '\0';
	if (n > 0 && n <= ADDRESS_LOCAL_MAX) {
		snprintf(path, sizeof path, "<%.*s@a>", (int)n, q);
		if (address_parse(path, &a, &rest) == ADDRESS_OK && *rest == '\0' &&
		    a.local_len == n)
			out->local[users_key_local(a.mailbox, n, out->local)] = '\0';
	}
	out->one_word = 1;
	for (p = q; p < end;) {		/* the words, blanks between made one space */
		while (p < end && is_blank(*p))
			p++;
		for (f = p; p < end && !is_blank(*p); p++)
			continue;
		n = (size_t)(p - f);
		if (n == 0)
			break;
		if (len + (len > 0) + n > USERS_NAME_MAX) {
			out->name[0] = '\0';
			return;
		}
		if (len > 0) {
			out->name[len++] = ' ';
			out->one_word = 0;
		}
		for (size_t i = 0; i < n; i++)
			out->name[len++] = (char)lower((unsigned char)f[i]);
	}
	out->name[len] = '\0';
}

static int local_is(const char *key, const char *local)
{
	size_t n = strlen(key), l = users_key_local_len(key, n);

	return local[0] != '\0' && strlen(local) == l && memcmp(key, local, l) == 0;
}

static int same_text(const char *a, size_t n, const char *lowered)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lowered[i])
			return 0;
	return lowered[n] == '\0';
}

/* Does a full name match the query: all of it, or one word of it? */
static int name_is(const char *name, const struct query *q)
{
	const char *w = name;

	if (q->name[0] == '\0')
		return 0;
	if (same_text(name, strlen(name), q->name))
		return 1;
	while (q->one_word && *w != '\0') {
		size_t n = strcspn(w, " ");
		if (same_text(w, n, q->name))
			return 1;
		w += n + (w[n] == ' ');
	}
	return 0;
}

struct hits {
	unsigned max;
	int count;
	void (*found)(void *ctx, const struct users_entry *e);
	void *ctx;
};

static void hit(struct hits *h, const struct rec *r)
{
	struct users_entry e;

	if ((unsigned)h->count++ < h->max) {
		fill_entry(r, r->key, &e);
		h->found(h->ctx, &e);
	}
}

/* The text form has no secondary index: VRFY walks the table twice (local
 * parts, then names), which is what the cdb's lists hold, in that order. */
static void search_text(const struct users *u, const struct query *q, struct hits *h)
{
	for (int pass = 0; pass < 2; pass++) {
		const char *p = u->buf, *end = u->buf + u->size;
		while (p < end) {
			const char *nl;
			if (is_text_rec(p)) {
				struct rec r;
				const char *c;
				users_text_rec(p, &r);
				c = r.args;
				if (pass == 0 ? local_is(r.key, q->local) :
				    !local_is(r.key, q->local) && r.kind == USERS_ACCEPT &&
				    r.args < r.end && name_is(arg_next(&c, r.end), q))
					hit(h, &r);
			}
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
		}
	}
}

static int plist_has(const struct plist *l, uint32_t pos)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t at = plist_at(l, mid);
		if (at == pos)
			return 1;
		if (at < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int hit_at(struct hits *h, const struct users *u, uint32_t pos)
{
	char key[KEY_MAX + 1];
	struct rec r;

	if ((unsigned)h->count >= h->max) {
		h->count++;
		return 0;
	}
	if (users_cdb_at(u, pos, &r, key) < 0)
		return -1;
	hit(h, &r);
	return 0;
}

/* A name of several words: the candidates are those of its rarest word,
 * kept if their whole name is the query. */
static int search_cdb_name(const struct users *u, const struct query *q,
			   const struct plist *local, struct hits *h)
{
	char word[USERS_NAME_MAX + 1], key[KEY_MAX + 1];
	struct plist l, best = {NULL, SIZE_MAX};
	const char *w = q->name;

	while (*w != '\0') {
		size_t n = strcspn(w, " ");
		memcpy(word, w, n);
		word[n] = '\0';
		if (users_cdb_list(u, 'n', word, &l) < 0)
			return -1;
		if (l.n < best.n)
			best = l;
		w += n + (w[n] == ' ');
	}
	for (size_t i = 0; i < best.n; i++) {
		uint32_t pos = plist_at(&best, i);
		struct rec r;
		const char *c;
		if (users_cdb_at(u, pos, &r, key) < 0)
			return -1;
		c = r.args;
		if (r.kind == USERS_ACCEPT && r.args < r.end && !plist_has(local, pos) &&
		    name_is(arg_next(&c, r.end), q))
			hit(h, &r);
	}
	return 0;
}

/* The cdb: the local part's list, then the name word's list without the
 * entries already counted. */
static int search_cdb(const struct users *u, const struct query *q, struct hits *h)
{
	struct plist local, name;

	if (users_cdb_list(u, 'l', q->local, &local) < 0)
		return -1;
	for (size_t i = 0; i < local.n; i++)
		if (hit_at(h, u, plist_at(&local, i)) < 0)
			return -1;
	if (!q->one_word)
		return search_cdb_name(u, q, &local, h);
	if (users_cdb_list(u, 'n', q->name, &name) < 0)
		return -1;
	for (size_t i = 0; i < name.n; i++) {
		uint32_t pos = plist_at(&name, i);
		if (local.n == 0 && (unsigned)h->count >= h->max) {
			h->count += (int)(name.n - i);	/* only counting now */
			break;
		}
		if (!plist_has(&local, pos) && hit_at(h, u, pos) < 0)
			return -1;
	}
	return 0;
}

int users_search(const struct users *u, const char *query, unsigned max,
		 void (*found)(void *ctx, const struct users_entry *e), void *ctx)
{
	struct hits h = {.max = max, .found = found, .ctx = ctx};
	struct query q;
	struct rec r;

	query_parse(query, &q);
	if (q.address[0] != '\0') {
		int rc = users_rec_get(u, q.address, strlen(q.address), &r);
		if (rc > 0)
			hit(&h, &r);
		return rc < 0 ? -1 : h.count;
	}
	if (u->form == FORM_TEXT) {
		search_text(u, &q, &h);
		return h.count;
	}
	return search_cdb(u, &q, &h) < 0 ? -1 : h.count;
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
