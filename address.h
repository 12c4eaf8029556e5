/*
 * address.h: RFC 5321 paths.  "<local@domain>", "<>" and "<postmaster>",
 * with quoted local parts, domain literals and (ignored) source routes.
 * Nothing here knows which domains are ours.
 */
#ifndef ADDRESS_H
#define ADDRESS_H

#include <stddef.h>

#define ADDRESS_LOCAL_MAX 64	/* RFC 5321 4.5.3.1.1 */
#define ADDRESS_DOMAIN_MAX 255	/* RFC 5321 4.5.3.1.2 */
#define ADDRESS_MAX (ADDRESS_LOCAL_MAX + 1 + ADDRESS_DOMAIN_MAX)

struct address {
	char mailbox[ADDRESS_MAX + 1];	/* "" for <>, local part as sent */
	size_t local_len;		/* length of the local part */
	const char *domain;		/* into mailbox, or NULL (<>, <postmaster>) */
};

enum address_result {
	ADDRESS_OK,
	ADDRESS_BAD,		/* not RFC 5321 syntax */
	ADDRESS_LONG		/* local part over 64 or domain over 255 */
};

/* Parse a path at s.  *rest is set past the closing '>'. */
enum address_result address_parse(const char *s, struct address *a,
				  const char **rest);

/* Is a's local part "postmaster", in any case? */
int address_is_postmaster(const struct address *a);

/* Case-insensitive domain comparison (domain literals included). */
int address_domain_equal(const char *a, const char *b);

/* Is name a syntactically valid domain or address literal? */
int address_valid_domain(const char *name, size_t len);

/* A dotted quad, strictly (four decimal octets, no leading zeros, as
 * inet_pton(3) takes it) into bin[4]; returns 1, or 0 if s is not one. */
int address_ipv4_parse(const char *s, unsigned char bin[4]);

/* bin[4] as a dotted quad into buf (16 bytes are always enough). */
void address_ipv4_format(const unsigned char bin[4], char buf[16]);

#endif
