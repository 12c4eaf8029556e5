/*
 * address.c: parsing of RFC 5321 section 4.1.2 paths, by the grammar and
 * nothing looser: no 8-bit bytes (we do not offer SMTPUTF8), no unbalanced
 * quotes, no bare spaces.  A source route ("@a,@b:") is accepted and dropped
 * as RFC 5321 appendix C asks.  Lengths are checked against 4.5.3.1.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "address.h"

static int is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* atext of RFC 5322 3.2.3 */
static int is_atext(int c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* sub-domain = Let-dig [Ldh-str]: letters, digits, inner hyphens. */
static size_t scan_domain(const char *s)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;
		if (!is_alnum((unsigned char)s[i]))
			return 0;
		while (is_alnum((unsigned char)s[i]) || s[i] == '-')
			i++;
		if (s[i - 1] == '-' || i - start > 63)
			return 0;
		if (s[i] != '.')
			return i;
		i++;
	}
}

/* Our own rather than inet_pton/inet_ntop: every connection formats its
 * peer, and the loader's binding of those two costs more instructions
 * than the whole of this (see make bench, per connection). */
int address_ipv4_parse(const char *s, unsigned char bin[4])
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;
		if (i > 0 && *s++ != '.')
			return 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 ||
		    (digits > 1 && s[-(int)digits] == '0'))
			return 0;
		bin[i] = (unsigned char)v;
	}
	return *s == '\0';
}

void address_ipv4_format(const unsigned char bin[4], char buf[16])
{
	char *p = buf;

	for (int i = 0; i < 4; i++) {
		unsigned v = bin[i];
		if (i > 0)
			*p++ = '.';
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
	}
	*p = '\0';
}

/* "[" IPv4 "]" or "[IPv6:" addr "]"; general literals are refused. */
static size_t scan_literal(const char *s)
{
	const char *close = strchr(s, ']');
	char buf[64];
	unsigned char bin[16];
	size_t n;

	if (s[0] != '[' || close == NULL)
		return 0;
	n = (size_t)(close - s - 1);
	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, s + 1, n);
	buf[n] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, bin) != 1)
			return 0;
	} else if (!address_ipv4_parse(buf, bin)) {
		return 0;
	}
	return n + 2;
}

int address_valid_domain(const char *name, size_t len)
{
	size_t n = name[0] == '[' ? scan_literal(name) : scan_domain(name);
	return n > 0 && n == len && len <= ADDRESS_DOMAIN_MAX;
}

/* Local-part = Dot-string / Quoted-string; returns its length or 0. */
static size_t scan_local(const char *s)
{
	size_t i = 0;

	if (s[0] == '"') {
		for (i = 1; s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\') {
				i++;
				if (s[i] < 32 || s[i] > 126)
					return 0;
			} else if (c < 32 || c > 126) {
				return 0;
			}
		}
		return i + 1;
	}
	for (;;) {
		size_t start = i;
		while (is_atext((unsigned char)s[i]))
			i++;
		if (i == start)
			return 0;
		if (s[i] != '.')
			return i;
		i++;
	}
}

/* A-d-l = At-domain *( "," At-domain ) ":" ; returns its length or 0. */
static size_t scan_route(const char *s)
{
	size_t i = 0;

	for (;;) {
		size_t n;
		if (s[i] != '@')
			return 0;
		i++;
		n = s[i] == '[' ? scan_literal(s + i) : scan_domain(s + i);
		if (n == 0)
			return 0;
		i += n;
		if (s[i] == ':')
			return i + 1;
		if (s[i] != ',')
			return 0;
		i++;
	}
}

enum address_result address_parse(const char *s, struct address *a,
				  const char **rest)
{
	size_t local, dom;
	const char *d;

	a->mailbox[0] = '\0';
	a->local_len = 0;
	a->domain = NULL;
	if (*s++ != '<')
		return ADDRESS_BAD;
	if (*s == '>') {			/* the null path */
		*rest = s + 1;
		return ADDRESS_OK;
	}
	if (*s == '@') {
		size_t r = scan_route(s);
		if (r == 0)
			return ADDRESS_BAD;
		s += r;
	}
	local = scan_local(s);
	if (local == 0)
		return ADDRESS_BAD;
	if (s[local] == '>') {
		/* Only <postmaster> may lack a domain (RFC 5321 4.1.1.3). */
		if (local != 10 || strncasecmp(s, "postmaster", 10) != 0)
			return ADDRESS_BAD;
		memcpy(a->mailbox, s, local);
		a->mailbox[local] = '\0';
		a->local_len = local;
		*rest = s + local + 1;
		return ADDRESS_OK;
	}
	if (s[local] != '@')
		return ADDRESS_BAD;
	d = s + local + 1;
	dom = d[0] == '[' ? scan_literal(d) : scan_domain(d);
	if (dom == 0 || d[dom] != '>')
		return ADDRESS_BAD;
	if (local > ADDRESS_LOCAL_MAX || dom > ADDRESS_DOMAIN_MAX)
		return ADDRESS_LONG;
	memcpy(a->mailbox, s, local + 1 + dom);
	a->mailbox[local + 1 + dom] = '\0';
	a->local_len = local;
	a->domain = a->mailbox + local + 1;
	*rest = d + dom + 1;
	return ADDRESS_OK;
}

/* "postmaster" quoted is the same local part (RFC 5321 4.1.2), so it
 * reaches the same person. */
int address_is_postmaster(const struct address *a)
{
	return (a->local_len == 10 && strncasecmp(a->mailbox, "postmaster", 10) == 0) ||
	       (a->local_len == 12 && strncasecmp(a->mailbox, "\"postmaster\"", 12) == 0);
}

int address_domain_equal(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}
