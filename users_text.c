/*
 * users_text.c: the text form of the table: reading it whole, parsing and
 * checking it line by line (the "file:line: reason" errors users_check
 * prints), and the hash index it is looked up through.
 *
 * The rules of the text form (users.h shows the lines):
 *  - '#' at the start of a field begins a comment, so "a#b@d" is still an
 *    address; blank lines are ignored; a CR before the LF is ignored.
 *  - A line longer than USERS_LINE_MAX bytes, a NUL byte, a bad address,
 *    an unknown kind, a missing or extra field, a duplicate key, a group
 *    loop: each is an error with its line number.  users_check reports
 *    them all; users_open and users_compile refuse the table at the first.
 *  - Addresses: RFC 5321 mailboxes (address.c's grammar) without angle
 *    brackets, ASCII only: SMTPUTF8 is not offered, so an address with a
 *    byte over 127 could never arrive and is reported as an error.  A
 *    quoted local part may hold blanks ("john smith"@d is one field).
 *  - Keys compare case-insensitively in the local part too (RFC 5321 2.4
 *    lets the receiver decide; mailbox names differing only in case are a
 *    trap), and a quoted local part equals its unquoted form.  Keys are
 *    stored in that canonical form (lowercase); targets and members are
 *    kept as written, since they may be foreign addresses.
 *  - @DOMAIN entries are catch-alls and may only "accept", with no name.
 *  - A full name is the rest of an accept line, blanks between its words
 *    made one space: at most USERS_NAME_MAX bytes, printable ASCII or valid
 *    UTF-8 (shortest form, no surrogates, nothing past U+10FFFF), no
 *    control characters (C0, DEL, C1), no '<' or '>' (VRFY shows the
 *    address between them).  It goes into replies, so it must be clean.
 *  - A forward or moved entry names one address, not itself.
 *  - A group names one or more members.  A member that is a group is
 *    expanded (each address once); a forward member stands for its target
 *    (not followed further: targets are spooled as written); a member that
 *    has moved is an error (mail for it would be lost silently); any other
 *    member is spooled as written: an accept entry, an address a catch-all
 *    takes, a foreign address, or an unknown address at one of our domains
 *    (the table cannot tell which domains are ours, and the delivery
 *    program is the place that knows what to do with it).  Members are
 *    looked up exactly: no recipient delimiter, so --check-users can prove
 *    that no loop exists whatever the delimiter.
 *
 * The text form in memory: the file in one buffer plus an open-addressing
 * hash table of 32-bit offsets, two allocations whatever the size.  Each
 * entry's line is rewritten in place, once parsed, into a record:
 *     kind byte, canonical key, NUL, arguments each ending in NUL, NUL
 * which is always shorter than the line it replaces (the kind word alone
 * is five bytes or more), so the line's LF stays where it was and the
 * buffer can still be walked line by line in file order.  Lines that are
 * not entries start with a NUL byte.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "users_impl.h"

#define SLOT_EMPTY UINT32_MAX
#define MARK_ACTIVE 0x10		/* loop check: on the current path */
#define MARK_DONE 0x20			/* loop check: fully explored */

/* ---------------------------------------------------------------------
 * Records and the index
 */

void users_text_rec(const char *p, struct rec *r)
{
	const char *q;

	r->kind = (enum users_kind)(*p & KIND_MASK);
	r->key = p + 1;
	r->args = r->key + strlen(r->key) + 1;
	for (q = r->args; *q != '\0'; q += strlen(q) + 1)
		continue;
	r->end = q;
}

const char *users_text_find(const struct users *u, const char *key, size_t n)
{
	size_t i = hash_key(key, n) & u->mask;

	for (; u->slot[i] != SLOT_EMPTY; i = (i + 1) & u->mask) {
		const char *k = u->buf + u->slot[i] + 1;
		/* strncmp: a shorter stored key ends at its NUL, which may be
		 * the buffer's last byte (memcmp would read n bytes of it) */
		if (strncmp(k, key, n) == 0 && k[n] == '\0')
			return k - 1;
	}
	return NULL;
}

/* ---------------------------------------------------------------------
 * Fields of one line
 */

/* The next field of a line at *pp: 1 with *f, *n set, 0 at the end of the
 * line or at a comment.  With quotes, blanks inside a leading "..." (with
 * \ escapes) belong to the field. */
static int next_field(const char **pp, int quotes, const char **f, size_t *n)
{
	const char *p = *pp;

	while (is_blank(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*f = p;
	if (quotes && *p == '"') {	/* a Quoted-string starts a local part */
		for (p++; *p != '\0' && *p != '"'; p++)
			if (*p == '\\' && p[1] != '\0')
				p++;
		if (*p == '"')
			p++;
	}
	p += strcspn(p, " \t");
	*n = (size_t)(p - *f);
	*pp = p;
	return 1;
}

/* An address field: its canonical key in out, or 0 with the reason. */
static size_t address_field(const char *f, size_t n, int catchall_ok,
			    char *out, char *why, size_t whysize)
{
	char s[80];
	size_t k;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)f[i] > 127) {
			snprintf(why, whysize, "non-ASCII byte in address \"%s\" "
				 "(SMTPUTF8 is not offered)", users_show(s, sizeof s, f, n));
			return 0;
		}
	}
	if (n > ADDRESS_MAX) {
		snprintf(why, whysize, "address \"%s\" longer than %d bytes",
			 users_show(s, sizeof s, f, n), ADDRESS_MAX);
		return 0;
	}
	k = f[0] == '@' && catchall_ok ? users_key_catchall(f, n, out)
				      : users_key_mailbox(f, n, out);
	if (k == 0) {
		const char *at = f + n;
		while (at > f && at[-1] != '@')
			at--;
		if (at > f && (at - 1 - f > ADDRESS_LOCAL_MAX ||
			       f + n - at > ADDRESS_DOMAIN_MAX))
			snprintf(why, whysize, "address \"%s\" too long (local part "
				 "over %d or domain over %d bytes)", users_show(s, sizeof s, f, n),
				 ADDRESS_LOCAL_MAX, ADDRESS_DOMAIN_MAX);
		else
			snprintf(why, whysize, "bad address \"%s\"", users_show(s, sizeof s, f, n));
	}
	return k;
}

int users_name_ok(const unsigned char *s, size_t n, char *why, size_t whysize)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], need, min, cp;
		if (c < 0x80) {
			if (c < 32 || c == 127 || c == '<' || c == '>') {
				snprintf(why, whysize, c == '<' || c == '>' ?
					 "'%c' in full name" : "control character 0x%02x in full name", c);
				return 0;
			}
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, min = 0x10000, cp = c & 0x07;
		} else {
			goto bad;
		}
		if (n - i <= need)
			goto bad;
		for (unsigned j = 1; j <= need; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		if (cp <= 0x9f) {
			snprintf(why, whysize, "control character U+%04X in full name", cp);
			return 0;
		}
		i += need + 1;
	}
	return 1;
bad:
	snprintf(why, whysize, "full name is not valid UTF-8");
	return 0;
}

static enum users_kind kind_word(const char *f, size_t n)
{
	static const char *const words[] = {
		[USERS_ACCEPT] = "accept", [USERS_FORWARD] = "forward",
		[USERS_MOVED] = "moved", [USERS_GROUP] = "group",
	};

	for (int k = USERS_ACCEPT; k <= USERS_GROUP; k++)
		if (strlen(words[k]) == n && strncasecmp(words[k], f, n) == 0)
			return (enum users_kind)k;
	return USERS_UNKNOWN;
}

/* The full name of an accept line, words joined by one space, appended at
 * *o (if any).  0 with the reason on an error. */
static int parse_name(const char *p, char **o, char *why, size_t whysize)
{
	const char *f;
	size_t n, len = 0;
	char *start = *o;

	while (next_field(&p, 0, &f, &n)) {
		if (!users_name_ok((const unsigned char *)f, n, why, whysize))
			return 0;
		if (len + (len > 0) + n > USERS_NAME_MAX) {
			snprintf(why, whysize, "full name longer than %d bytes",
				 USERS_NAME_MAX);
			return 0;
		}
		if (len > 0)
			start[len++] = ' ';
		memcpy(start + len, f, n);
		len += n;
	}
	if (len > 0) {
		start[len] = '\0';
		*o = start + len + 1;
	}
	return 1;
}

/* The arguments of a forward, moved or group line, written as they are,
 * at *o.  0 with the reason on an error. */
static int parse_addresses(const char *p, enum users_kind kind, const char *key,
			   char **o, char *why, size_t whysize)
{
	const char *word = kind == USERS_GROUP ? "group" :
			   kind == USERS_FORWARD ? "forward" : "moved";
	char canon[KEY_MAX + 1];
	const char *f;
	size_t n, count = 0;

	while (next_field(&p, 1, &f, &n)) {
		if (count == 1 && kind != USERS_GROUP) {
			snprintf(why, whysize, "%s takes one address", word);
			return 0;
		}
		if (address_field(f, n, 0, canon, why, whysize) == 0)
			return 0;
		if (kind != USERS_GROUP && strcmp(canon, key) == 0) {
			snprintf(why, whysize, "%s to the address itself", word);
			return 0;
		}
		memcpy(*o, f, n);
		(*o)[n] = '\0';
		*o += n + 1;
		count++;
	}
	if (count == 0) {
		snprintf(why, whysize, kind == USERS_GROUP ? "group without members" :
			 "%s without an address", word);
		return 0;
	}
	return 1;
}

/* Parse one line (NUL-terminated) into a record at out: 1 a record of
 * *outlen bytes, 0 nothing (blank, comment), -1 an error (why). */
static int parse_entry(const char *line, char *out, size_t *outlen,
		       char *why, size_t whysize)
{
	const char *p = line, *f;
	size_t n, klen;
	char *o = out;
	enum users_kind kind;
	char s[80];
	int ok;

	if (!next_field(&p, 1, &f, &n))
		return 0;
	klen = address_field(f, n, 1, out + 1, why, whysize);
	if (klen == 0)
		return -1;
	if (!next_field(&p, 0, &f, &n)) {
		snprintf(why, whysize, "no kind after the address "
			 "(accept, forward, moved or group)");
		return -1;
	}
	kind = kind_word(f, n);
	if (kind == USERS_UNKNOWN) {
		snprintf(why, whysize, "unknown kind \"%s\" (accept, forward, "
			 "moved or group)", users_show(s, sizeof s, f, n));
		return -1;
	}
	*o = (char)kind;
	o += 1 + klen + 1;
	if (out[1] == '@' && (kind != USERS_ACCEPT || next_field(&p, 0, &f, &n))) {
		snprintf(why, whysize, "a catch-all (@domain) takes \"accept\" and nothing else");
		return -1;
	}
	if (kind == USERS_ACCEPT)
		ok = parse_name(p, &o, why, whysize);
	else
		ok = parse_addresses(p, kind, out + 1, &o, why, whysize);
	if (!ok)
		return -1;
	*o++ = '\0';
	*outlen = (size_t)(o - out);
	return 1;
}

/* ---------------------------------------------------------------------
 * The whole file
 */

static int parse_stop(const struct parse *p)
{
	return p->errors > 0 && !p->all;
}

static unsigned long line_of(const struct parse *p, uint32_t off)
{
	size_t lo = 0, hi = p->nlines;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->lines[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nlines && p->lines[lo].off == off ? p->lines[lo].line : 0;
}

/* Index the record at off: 0, or 1 with *other the record of the same key. */
static int text_insert(struct users *u, uint32_t off, uint32_t *other)
{
	const char *key = u->buf + off + 1;
	size_t n = strlen(key), i = hash_key(key, n) & u->mask;

	for (; u->slot[i] != SLOT_EMPTY; i = (i + 1) & u->mask) {
		if (strcmp(u->buf + u->slot[i] + 1, key) == 0) {
			*other = u->slot[i];
			return 1;
		}
	}
	u->slot[i] = off;
	return 0;
}

static void parse_line(struct parse *p, size_t off, size_t len, unsigned long line)
{
	struct users *u = p->u;
	char work[USERS_LINE_MAX + 1], rec[USERS_LINE_MAX + 1], why[400];
	char *text = u->buf + off;
	size_t rlen;
	uint32_t other;
	int rc;

	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len > USERS_LINE_MAX) {
		users_parse_error(p, line, "line longer than %d bytes", USERS_LINE_MAX);
		rc = -2;
	} else if (memchr(text, '\0', len) != NULL) {
		users_parse_error(p, line, "NUL byte");
		rc = -2;
	} else {
		memcpy(work, text, len);
		work[len] = '\0';
		rc = parse_entry(work, rec, &rlen, why, sizeof why);
		if (rc < 0)
			users_parse_error(p, line, "%s", why);
	}
	if (rc == 1 && rlen >= len) {		/* cannot happen: see the top */
		users_parse_error(p, line, "internal error: record longer than its line");
		rc = -2;
	}
	if (rc != 1) {
		if (len > 0)
			text[0] = '\0';		/* not a record */
		return;
	}
	memcpy(text, rec, rlen);
	if (text_insert(u, (uint32_t)off, &other)) {
		users_parse_error(p, line, "duplicate of line %lu (\"%s\")",
				  line_of(p, other), rec + 1);
		text[0] = '\0';
		return;
	}
	p->lines[p->nlines].off = (uint32_t)off;
	p->lines[p->nlines].line = (uint32_t)line;
	p->nlines++;
}

/* Lines that may hold an entry (neither blank nor a comment): an upper
 * bound on the entries, to size the index. */
static size_t count_candidates(const char *buf, size_t size)
{
	size_t count = 0, i = 0;

	while (i < size) {
		const char *nl;
		while (i < size && is_blank(buf[i]))
			i++;
		if (i < size && buf[i] != '\n' && buf[i] != '#' && buf[i] != '\r')
			count++;
		nl = memchr(buf + i, '\n', size - i);
		i = nl != NULL ? (size_t)(nl - buf) + 1 : size;
	}
	return count;
}

static void parse_lines(struct parse *p)
{
	const char *buf = p->u->buf;
	size_t size = p->u->size, off = 0;
	unsigned long line = 0;

	while (off < size && !parse_stop(p)) {
		const char *nl = memchr(buf + off, '\n', size - off);
		size_t end = nl != NULL ? (size_t)(nl - buf) : size;
		parse_line(p, off, end - off, ++line);
		off = end + 1;
	}
}

/* ---------------------------------------------------------------------
 * Group loops and moved members, found by a depth-first walk with an
 * explicit stack (a chain of groups may be long).
 */

struct frame {
	char *rec;		/* the group's record */
	const char *next;	/* its next member */
	const char *end;
};

static void report_loop(struct parse *p, const struct frame *stack, size_t depth,
			const char *closing)
{
	char msg[400];
	size_t o, from = depth - 1;

	while (from > 0 && stack[from].rec != closing)
		from--;
	o = (size_t)snprintf(msg, sizeof msg, "group loop:");
	for (size_t i = from; i < depth && o < sizeof msg; i++)
		o += (size_t)snprintf(msg + o, sizeof msg - o, " %s ->", stack[i].rec + 1);
	if (o < sizeof msg)
		snprintf(msg + o, sizeof msg - o, " %s", closing + 1);
	if (o >= sizeof msg)
		memcpy(msg + sizeof msg - 4, "...", 4);
	users_parse_error(p, line_of(p, (uint32_t)(stack[depth - 1].rec - p->u->buf)), "%s", msg);
}

/* Check one member of the group on top of the stack: 1 if it is a group
 * to walk into (*into), else 0. */
static int check_member(struct parse *p, const struct frame *stack, size_t depth,
			const char *member, char **into)
{
	char key[KEY_MAX + 1];
	size_t n = users_key_mailbox(member, strlen(member), key);
	char *r = n > 0 ? (char *)users_text_find(p->u, key, n) : NULL;

	if (r == NULL)
		return 0;
	if ((*r & KIND_MASK) == USERS_MOVED) {
		users_parse_error(p, line_of(p, (uint32_t)(stack[depth - 1].rec - p->u->buf)),
				  "member %s has moved (line %lu): name its new address",
				  member, line_of(p, (uint32_t)(r - p->u->buf)));
		return 0;
	}
	if ((*r & KIND_MASK) != USERS_GROUP || (*r & MARK_DONE))
		return 0;
	if (*r & MARK_ACTIVE) {
		report_loop(p, stack, depth, r);
		return 0;
	}
	*into = r;
	return 1;
}

static int push_group(struct frame **stack, size_t *depth, size_t *cap, char *r)
{
	struct rec g;

	if (*depth == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct frame *s = realloc(*stack, ncap * sizeof *s);
		if (s == NULL)
			return -1;
		*stack = s;
		*cap = ncap;
	}
	users_text_rec(r, &g);
	(*stack)[*depth] = (struct frame){r, g.args, g.end};
	(*depth)++;
	*r |= MARK_ACTIVE;
	return 0;
}

static int check_groups(struct parse *p)
{
	struct frame *stack = NULL;
	size_t depth = 0, cap = 0;
	int rc = 0;

	for (size_t i = 0; i < p->nlines && rc == 0 && !parse_stop(p); i++) {
		char *r = p->u->buf + p->lines[i].off;
		if ((*r & KIND_MASK) != USERS_GROUP || (*r & MARK_DONE))
			continue;
		rc = push_group(&stack, &depth, &cap, r);
		while (depth > 0 && rc == 0 && !parse_stop(p)) {
			struct frame *top = &stack[depth - 1];
			const char *m = arg_next(&top->next, top->end);
			char *into;
			if (m == NULL) {
				*top->rec = (char)((*top->rec & ~MARK_ACTIVE) | MARK_DONE);
				depth--;
			} else if (check_member(p, stack, depth, m, &into)) {
				rc = push_group(&stack, &depth, &cap, into);
			}
		}
		depth = 0;
	}
	for (size_t i = 0; i < p->nlines; i++)
		p->u->buf[p->lines[i].off] &= KIND_MASK;
	free(stack);
	if (rc < 0)
		users_parse_error(p, 0, "out of memory");
	return rc;
}

/* ---------------------------------------------------------------------
 * Reading
 */

static int read_all(int fd, char *buf, size_t size)
{
	size_t got = 0;
	char extra;

	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : (errno = EAGAIN, -1);
		got += (size_t)r;
	}
	for (;;) {	/* the file must not have grown meanwhile */
		ssize_t r = read(fd, &extra, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0)
			return r < 0 ? -1 : (errno = EAGAIN, -1);
		return 0;
	}
}

/* Read and parse the text form from fd into u. */
int users_text_open(struct users *u, int fd, size_t size, struct parse *p)
{
	size_t candidates, slots = 16;

	if (size >= UINT32_MAX) {
		users_parse_error(p, 0, "too large for the text form; compile it (--compile-users)");
		return -1;
	}
	u->form = FORM_TEXT;
	u->size = size;
	u->buf = malloc(size + 1);
	if (u->buf == NULL) {
		users_parse_error(p, 0, "out of memory reading %zu bytes", size);
		return -1;
	}
	if (read_all(fd, u->buf, size) < 0) {
		users_parse_error(p, 0, errno == EAGAIN ? "changed while being read"
					: "read: %s", strerror(errno));
		return -1;
	}
	u->buf[size] = '\0';
	candidates = count_candidates(u->buf, size);
	while (slots < 2 * candidates)
		slots *= 2;
	u->slot = malloc(slots * sizeof *u->slot);
	p->lines = malloc((candidates + 1) * sizeof *p->lines);
	if (u->slot == NULL || p->lines == NULL) {
		users_parse_error(p, 0, "out of memory indexing %zu lines", candidates);
		return -1;
	}
	memset(u->slot, 0xff, slots * sizeof *u->slot);
	u->mask = slots - 1;
	parse_lines(p);
	if (!parse_stop(p))
		check_groups(p);
	return p->errors > 0 ? -1 : 0;
}
