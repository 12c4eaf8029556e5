/*
 * users_key.c: canonical keys, the one spelling of an address that the
 * table stores and looks up: lowercase, local part and domain both, and a
 * quoted local part unquoted where quoting is not needed ("al"@d is al@d).
 * Why keys compare so is among the rules of the text form (users_text.c);
 * the grammar of an address is address.c's.
 */
#include <string.h>

#include "users_impl.h"

/* atext of RFC 5322 3.2.3, as address.c reads it. */
static int is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_dot_string(const char *s, size_t n)
{
	size_t atom = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (atom == 0)
				return 0;
			atom = 0;
		} else if (is_atext((unsigned char)s[i])) {
			atom++;
		} else {
			return 0;
		}
	}
	return atom > 0;
}

/* The canonical form of a local part already checked by address_parse:
 * unquoted when it is a Dot-string inside its quotes, else quoted with
 * only '"' and '\' escaped; lowercase.  Never longer than the input. */
size_t users_key_local(const char *s, size_t n, char *out)
{
	char plain[ADDRESS_LOCAL_MAX + 1];
	size_t m = 0, o = 0;

	if (n == 0 || s[0] != '"') {
		for (size_t i = 0; i < n; i++)
			out[i] = (char)lower((unsigned char)s[i]);
		return n;
	}
	for (size_t i = 1; i + 1 < n && m < sizeof plain; i++) {
		if (s[i] == '\\')
			i++;
		plain[m++] = (char)lower((unsigned char)s[i]);
	}
	if (is_dot_string(plain, m)) {
		memcpy(out, plain, m);
		return m;
	}
	out[o++] = '"';
	for (size_t i = 0; i < m; i++) {
		if (plain[i] == '"' || plain[i] == '\\')
			out[o++] = '\\';
		out[o++] = plain[i];
	}
	out[o++] = '"';
	return o;
}

/* The canonical key of "local@domain" (s, n bytes, no angle brackets, no
 * source route) into out[KEY_MAX + 1]: its length, or 0 when s is not such
 * an address. */
size_t users_key_mailbox(const char *s, size_t n, char *out)
{
	char path[ADDRESS_MAX + 3];
	struct address a;
	const char *rest;
	size_t o, dlen;

	if (n == 0 || n > ADDRESS_MAX || s[0] == '@' || memchr(s, '\0', n))
		return 0;
	path[0] = '<';
	memcpy(path + 1, s, n);
	path[n + 1] = '>';
	path[n + 2] = '\0';
	if (address_parse(path, &a, &rest) != ADDRESS_OK || *rest != '\0' ||
	    a.domain == NULL)
		return 0;
	o = users_key_local(a.mailbox, a.local_len, out);
	out[o++] = '@';
	dlen = strlen(a.domain);
	for (size_t i = 0; i < dlen; i++)
		out[o++] = (char)lower((unsigned char)a.domain[i]);
	out[o] = '\0';
	return o;
}

/* The canonical key of "@domain": its length, or 0. */
size_t users_key_catchall(const char *s, size_t n, char *out)
{
	if (n < 2 || n > ADDRESS_DOMAIN_MAX + 1 || s[0] != '@' || memchr(s, '\0', n))
		return 0;
	for (size_t i = 0; i < n; i++)	/* address.c wants the domain NUL-ended */
		out[i] = (char)lower((unsigned char)s[i]);
	out[n] = '\0';
	return address_valid_domain(out + 1, n - 1) ? n : 0;
}

/* Length of a canonical key's local part (up to its last '@'). */
size_t users_key_local_len(const char *key, size_t n)
{
	while (n > 0 && key[n - 1] != '@')
		n--;
	return n > 0 ? n - 1 : 0;
}
