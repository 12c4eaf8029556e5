/*
 * users_expand.c: what mail for an entry is spooled to (users_expand):
 * groups expanded depth-first with an explicit stack, forward members
 * replaced by their targets, each address once.  The rules of groups are
 * among those of the text form (users_text.c), which refuses loops and
 * moved members before any expansion runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "users_impl.h"

/* The addresses seen while expanding a group: their canonical keys in one
 * arena, indexed by an open-addressing table of offsets + 1. */
struct seen {
	char *arena;
	size_t used, cap;
	uint32_t *slot;
	size_t mask, count;
};

static int seen_grow(struct seen *s)
{
	size_t slots = s->slot != NULL ? (s->mask + 1) * 2 : 64;
	uint32_t *t = calloc(slots, sizeof *t);

	if (t == NULL)
		return -1;
	for (size_t i = 0; s->slot != NULL && i <= s->mask; i++) {
		if (s->slot[i] != 0) {
			const char *k = s->arena + s->slot[i] - 1;
			size_t j = hash_key(k, strlen(k)) & (slots - 1);
			while (t[j] != 0)
				j = (j + 1) & (slots - 1);
			t[j] = s->slot[i];
		}
	}
	free(s->slot);
	s->slot = t;
	s->mask = slots - 1;
	return 0;
}

/* 1 if key is new (now remembered), 0 if seen before, -1 out of memory. */
static int seen_add(struct seen *s, const char *key, size_t n)
{
	size_t i;

	if ((s->slot == NULL || 2 * (s->count + 1) > s->mask + 1) && seen_grow(s) < 0)
		return -1;
	for (i = hash_key(key, n) & s->mask; s->slot[i] != 0; i = (i + 1) & s->mask) {
		const char *k = s->arena + s->slot[i] - 1;
		if (strncmp(k, key, n) == 0 && k[n] == '\0')	/* k may be shorter */
			return 0;
	}
	if (s->used + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		char *a;
		while (cap < s->used + n + 1)
			cap *= 2;
		if (cap >= UINT32_MAX || (a = realloc(s->arena, cap)) == NULL)
			return -1;
		s->arena = a;
		s->cap = cap;
	}
	memcpy(s->arena + s->used, key, n + 1);
	s->slot[i] = (uint32_t)(s->used + 1);
	s->used += n + 1;
	s->count++;
	return 1;
}

struct expansion {
	const struct users *u;
	int (*add)(void *ctx, const char *mailbox);
	void *ctx;
	int count;
	struct seen seen;
	struct xframe {
		const char *next, *end;
	} *stack;
	size_t depth, cap;
};

/* add() says -1 for a limit, -2 for a failure (memory): kept apart, since
 * the session answers the first 452 and the second 451. */
static int expand_add(struct expansion *x, const char *mailbox)
{
	int rc = x->add(x->ctx, mailbox);

	if (rc < 0)
		return rc == -1 ? -1 : -2;
	x->count++;
	return 0;
}

static int expand_push(struct expansion *x, const struct rec *r)
{
	if (x->depth == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		struct xframe *s = realloc(x->stack, cap * sizeof *s);
		if (s == NULL)
			return -2;
		x->stack = s;
		x->cap = cap;
	}
	x->stack[x->depth++] = (struct xframe){r->args, r->end};
	return 0;
}

/* One member: 0, -1 stopped by add(), -2 the table cannot be read. */
static int expand_member(struct expansion *x, const char *member)
{
	char key[KEY_MAX + 1];
	size_t n = users_key_mailbox(member, strlen(member), key);
	struct rec r;
	int rc;

	if (n == 0)
		return -2;		/* only a damaged cdb has such a member */
	rc = seen_add(&x->seen, key, n);
	if (rc <= 0)
		return rc < 0 ? -2 : 0;
	rc = users_rec_get(x->u, key, n, &r);
	if (rc < 0)
		return -2;
	if (rc == 0 || r.kind == USERS_ACCEPT)
		return expand_add(x, member);
	if (r.kind == USERS_GROUP)
		return expand_push(x, &r);
	if (r.kind == USERS_FORWARD) {
		const char *c = r.args, *target = arg_next(&c, r.end);
		n = users_key_mailbox(target, strlen(target), key);
		if (n == 0)
			return -2;
		rc = seen_add(&x->seen, key, n);
		if (rc <= 0)
			return rc < 0 ? -2 : 0;
		return expand_add(x, target);
	}
	return 0;			/* moved: refused when the table was read */
}

static int expand_group(struct expansion *x, const char *key)
{
	size_t n = strlen(key);
	struct rec r;
	int rc = seen_add(&x->seen, key, n);

	if (rc < 0)
		return -2;
	rc = users_rec_get(x->u, key, n, &r);
	if (rc <= 0 || r.kind != USERS_GROUP)
		return rc < 0 ? -2 : 0;
	rc = expand_push(x, &r);
	while (x->depth > 0 && rc == 0) {
		struct xframe *top = &x->stack[x->depth - 1];
		const char *m = arg_next(&top->next, top->end);
		if (m == NULL)
			x->depth--;
		else
			rc = expand_member(x, m);
	}
	return rc;
}

int users_expand(const struct users *u, const struct users_entry *e,
		 int (*add)(void *ctx, const char *mailbox), void *ctx)
{
	struct expansion x = {.u = u, .add = add, .ctx = ctx};
	int rc;

	switch (e->kind) {
	case USERS_ACCEPT:
		rc = expand_add(&x, e->mailbox[0] != '\0' ? e->mailbox : e->address);
		break;
	case USERS_FORWARD:
		rc = expand_add(&x, e->target);
		break;
	case USERS_GROUP:
		rc = expand_group(&x, e->address);
		free(x.seen.arena);
		free(x.seen.slot);
		free(x.stack);
		break;
	default:
		rc = 0;
		break;
	}
	return rc < 0 ? rc : x.count;
}
