/*
 * users_search.c: VRFY (users_search): what a query names (a full address,
 * a local part, a full name or one word of it) and finding the entries it
 * matches, in table order: the text form by walking its lines, the cdb form
 * through its local-part and name-word lists.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "users_impl.h"

/* ---------------------------------------------------------------------
 * Queries and what they match
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
		if (lower((unsigned char)a[i]) != (unsigned char)lowered[i])
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
		users_fill_entry(r, r->key, &e);
		h->found(h->ctx, &e);
	}
}

/* ---------------------------------------------------------------------
 * The text form
 */

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

/* ---------------------------------------------------------------------
 * The cdb form
 */

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
	if (best.p == NULL)	/* no word: a query too long to be a name */
		return 0;
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

/* ---------------------------------------------------------------------
 * Searching either form
 */

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
