/*
 * check_address.c: address.c on its own, from tables of good and bad
 * RFC 5321 paths: what is kept (mailbox, local part length, domain), where
 * parsing stops, and which errors are "too long" rather than "bad".
 */
#include <arpa/inet.h>

#include "suites.h"
#include "testio.h"
#include "decimal.h"

static const struct {
	const char *path;
	const char *mailbox;	/* as kept */
	size_t local_len;
	const char *domain;	/* NULL: none (<>, <postmaster>) */
	const char *rest;	/* what follows the closing '>' */
} good[] = {
	{"<>", "", 0, NULL, ""},
	{"<> SIZE=10", "", 0, NULL, " SIZE=10"},
	{"<a@b.example>", "a@b.example", 1, "b.example", ""},
	{"<First.Last@Example.COM> BODY=8BITMIME", "First.Last@Example.COM", 10,
	 "Example.COM", " BODY=8BITMIME"},
	{"<a@localhost>", "a@localhost", 1, "localhost", ""},
	{"<1@2.3>", "1@2.3", 1, "2.3", ""},
	{"<a-b@x-y.example>", "a-b@x-y.example", 3, "x-y.example", ""},
	{"<!#$%&'*+-/=?^_`{|}~@x.example>", "!#$%&'*+-/=?^_`{|}~@x.example", 19,
	 "x.example", ""},
	{"<postmaster>", "postmaster", 10, NULL, ""},
	{"<PostMaster>", "PostMaster", 10, NULL, ""},
	{"<postmaster@example.org>", "postmaster@example.org", 10, "example.org", ""},
	{"<\"john doe\"@example.org>", "\"john doe\"@example.org", 10, "example.org", ""},
	{"<\"a\\\"b\"@x.example>", "\"a\\\"b\"@x.example", 6, "x.example", ""},
	{"<\"\"@x.example>", "\"\"@x.example", 2, "x.example", ""},
	{"<\"@<>,;:\"@x.example>", "\"@<>,;:\"@x.example", 8, "x.example", ""},
	{"<a@[192.0.2.1]>", "a@[192.0.2.1]", 1, "[192.0.2.1]", ""},
	{"<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]", 1, "[IPv6:2001:db8::1]", ""},
	{"<a@[ipv6:::1]>", "a@[ipv6:::1]", 1, "[ipv6:::1]", ""},
	{"<a@[IPV6:::ffff:192.0.2.1]>", "a@[IPV6:::ffff:192.0.2.1]", 1,
	 "[IPV6:::ffff:192.0.2.1]", ""},
	{"<@a.example:u@c.example>", "u@c.example", 1, "c.example", ""},
	{"<@a.example,@b.example:u@c.example>", "u@c.example", 1, "c.example", ""},
	{"<@[192.0.2.1],@b:u@c.example>x", "u@c.example", 1, "c.example", "x"},
	{"<a@b.example>>", "a@b.example", 1, "b.example", ">"},
};

static const char *const bad[] = {
	"<@a.example;@b.example:u@example.org>",	/* a route takes commas */
	"<@a.example @b.example:u@x.example>",
	/* a literal longer than any address literal: refused, not copied */
	"<u@[IPv6:2001:db8:0000:0000:0000:0000:0000:0001:2001:db8:0000:0000:0000:0000:0000:0001]>",
	"<u@[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]>",
	"",
	"a@b.example",
	"<",
	"<a@b.example",
	"<a@b.example ",
	"< a@b.example>",
	"<a@b.example >",
	"<a b@x.example>",
	"<a..b@x.example>",
	"<.a@x.example>",
	"<a.@x.example>",
	"<a@x.example.>",
	"<a@.x.example>",
	"<a@x..example>",
	"<a@x_y.example>",
	"<a@-x.example>",
	"<a@x-.example>",
	"<a@x.-example>",
	"<a@>",
	"<@x.example>",
	"<a>",
	"<postmaste>",
	"<postmasterx>",
	"<postmaster@>",
	"<a@b@c.example>",
	"<\"a@x.example>",
	"<\"a\x01\"@x.example>",
	"<\"a\\\x01\"@x.example>",
	"<\"a\"b@x.example>",
	"<a\x80@x.example>",
	"<a@x\x80.example>",
	"<a@[300.1.1.1]>",
	"<a@[192.0.2]>",
	"<a@[192.0.2.1.5]>",
	"<a@[IPv6:::g]>",
	"<a@[IPv6:1::2::3]>",
	"<a@[IPv6:192.0.2.1]>",
	"<a@[mx.example]>",
	"<a@[x-tag:content]>",
	"<a@[]>",
	"<a@[192.0.2.1>",
	"<a@[192.0.2.1]x>",
	"<@a.example>",
	"<@a.example:>",
	"<@:u@c.example>",
	"<@a.example;u@c.example>",
	"<@a.example,b.example:u@c.example>",
	"<a@b.example,c>",
};

START_TEST(good_paths)
{
	for (unsigned i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct address a;
		const char *rest = NULL;
		enum address_result r = address_parse(good[i].path, &a, &rest);

		ck_assert_msg(r == ADDRESS_OK, "%s: %d", good[i].path, r);
		ck_assert_str_eq(a.mailbox, good[i].mailbox);
		ck_assert_uint_eq(a.local_len, good[i].local_len);
		if (good[i].domain == NULL) {
			ck_assert_ptr_null(a.domain);
		} else {
			/* The domain points into the mailbox, after the '@'. */
			ck_assert_ptr_eq(a.domain, a.mailbox + a.local_len + 1);
			ck_assert_str_eq(a.domain, good[i].domain);
		}
		ck_assert_ptr_nonnull(rest);
		ck_assert_str_eq(rest, good[i].rest);
	}
}
END_TEST

/* decimal(): what options, SIZE= and LISTEN_FDS are read with. */
START_TEST(decimal_numbers)
{
	static const struct {
		const char *s;
		unsigned long long v;
		size_t len;
		int overflow;
	} cases[] = {
		{"0", 0, 1, 0},
		{"10485760", 10485760, 8, 0},
		{"18446744073709551615", ULLONG_MAX, 20, 0},
		{"18446744073709551616", ULLONG_MAX, 20, 1},
		{"99999999999999999999999", ULLONG_MAX, 23, 1},
		{"12x", 12, 2, 0},
		{"", 0, 0, 0},
		{"+5", 0, 0, 0},
		{" 5", 0, 0, 0},
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned long long v = 1;
		int overflow = -1;
		const char *end = decimal(cases[i].s, &v, &overflow);
		ck_assert_msg(v == cases[i].v && (size_t)(end - cases[i].s) == cases[i].len &&
			      overflow == cases[i].overflow, "\"%s\": %llu, %td, %d",
			      cases[i].s, v, end - cases[i].s, overflow);
	}
}
END_TEST

START_TEST(bad_paths)
{
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct address a;
		const char *rest = NULL;
		enum address_result r = address_parse(bad[i], &a, &rest);

		ck_assert_msg(r == ADDRESS_BAD, "\"%s\" gave %d, not ADDRESS_BAD", bad[i], r);
	}
}
END_TEST

/* "<" local "@" domain ">", with parts of the given lengths. */
static void path_of(char *buf, size_t local, const char *domain)
{
	buf[0] = '<';
	memset(buf + 1, 'l', local);
	sprintf(buf + 1 + local, "@%s>", domain);
}

/* A domain of n octets in labels of at most 63. */
static void domain_of(char *buf, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t label = n - i < 63 ? n - i : 63;
		if (n - i - label == 1)		/* no empty last label */
			label--;
		memset(buf + i, 'd', label);
		i += label;
		if (i < n)
			buf[i++] = '.';
	}
	buf[n] = '\0';
}

START_TEST(length_limits)
{
	/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2: 64 and 255 octets. */
	char path[1024], domain[600];
	struct address a;
	const char *rest;

	path_of(path, 64, "x.example");
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_OK);
	ck_assert_uint_eq(a.local_len, 64);
	path_of(path, 65, "x.example");
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_LONG);

	snprintf(path, sizeof path, "<\"%062d\"@x.example>", 0);	/* 64 */
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_OK);
	snprintf(path, sizeof path, "<\"%063d\"@x.example>", 0);	/* 65 */
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_LONG);

	domain_of(domain, 255);
	ck_assert_uint_eq(strlen(domain), 255);
	path_of(path, 64, domain);
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_OK);
	ck_assert_uint_eq(strlen(a.mailbox), 64 + 1 + 255);
	ck_assert_str_eq(a.domain, domain);
	domain_of(domain, 256);
	path_of(path, 1, domain);
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_LONG);
	domain_of(domain, 500);
	path_of(path, 1, domain);
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_LONG);

	/* A label of 63 is fine, of 64 is no domain at all. */
	memset(domain, 'e', 63);
	strcpy(domain + 63, ".example");
	path_of(path, 1, domain);
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_OK);
	memset(domain, 'e', 64);
	strcpy(domain + 64, ".example");
	path_of(path, 1, domain);
	ck_assert_int_eq(address_parse(path, &a, &rest), ADDRESS_BAD);
}
END_TEST

START_TEST(postmaster)
{
	static const char *const yes[] = {"<postmaster>", "<POSTMASTER>", "<PostMaster>",
					  "<postmaster@example.org>", "<Postmaster@other.example>",
					  "<\"postmaster\"@example.org>", "<\"PostMaster\"@example.org>"};
	static const char *const no[] = {"<>", "<postmaster1@example.org>",
					 "<\"postmaster1\"@example.org>", "<\"post master\"@example.org>",
					 "<post@example.org>", "<xpostmaster@example.org>"};
	struct address a;
	const char *rest;

	for (unsigned i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		ck_assert_int_eq(address_parse(yes[i], &a, &rest), ADDRESS_OK);
		ck_assert_msg(address_is_postmaster(&a), "%s", yes[i]);
	}
	for (unsigned i = 0; i < sizeof no / sizeof no[0]; i++) {
		ck_assert_int_eq(address_parse(no[i], &a, &rest), ADDRESS_OK);
		ck_assert_msg(!address_is_postmaster(&a), "%s", no[i]);
	}
}
END_TEST

START_TEST(domain_equal)
{
	ck_assert(address_domain_equal("example.org", "EXAMPLE.org"));
	ck_assert(address_domain_equal("[IPv6:2001:db8::1]", "[ipv6:2001:DB8::1]"));
	ck_assert(address_domain_equal("[192.0.2.1]", "[192.0.2.1]"));
	ck_assert(!address_domain_equal("example.org", "example.org.evil"));
	ck_assert(!address_domain_equal("example.org", "sub.example.org"));
	ck_assert(!address_domain_equal("[192.0.2.1]", "[192.0.2.10]"));
}
END_TEST

START_TEST(valid_domain)
{
	static const char *const yes[] = {"example.org", "localhost", "a-b.c", "x1.example",
					  "[192.0.2.1]", "[IPv6:::1]", "[ipv6:2001:db8::1]"};
	static const char *const no[] = {"", "-a.example", "a-.example", "a..example",
					 "example.org.", ".example", "a_b.example", "exa mple",
					 "[192.0.2.300]", "[IPv6:xyz]", "[mx.example]", "[]",
					 "[192.0.2.1", "example.org>"};
	char longest[300];

	for (unsigned i = 0; i < sizeof yes / sizeof yes[0]; i++)
		ck_assert_msg(address_valid_domain(yes[i], strlen(yes[i])), "%s", yes[i]);
	for (unsigned i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!address_valid_domain(no[i], strlen(no[i])), "\"%s\"", no[i]);
	/* The length given must be all of it. */
	ck_assert(!address_valid_domain("example.org", 7));
	domain_of(longest, 255);
	ck_assert(address_valid_domain(longest, 255));
	domain_of(longest, 256);
	ck_assert(!address_valid_domain(longest, 256));
}
END_TEST

/* Our dotted-quad parser takes exactly what inet_pton(AF_INET) takes, and
 * formatting gives back the same text: checked against libc on a table of
 * near misses and on every string of a small alphabet up to a length. */
static void ipv4_against_libc(const char *text)
{
	unsigned char ours[4], theirs[4];
	int a = address_ipv4_parse(text, ours);
	int b = inet_pton(AF_INET, text, theirs) == 1;
	char back[16];

	ck_assert_msg(a == b, "\"%s\": ours %d, inet_pton %d", text, a, b);
	if (a) {
		ck_assert_int_eq(memcmp(ours, theirs, 4), 0);
		address_ipv4_format(ours, back);
		ck_assert_str_eq(back, text);
	}
}

START_TEST(ipv4_literals)
{
	static const char *const table[] = {
		"0.0.0.0", "255.255.255.255", "192.0.2.1", "10.0.0.10", "1.22.133.4",
		"256.1.1.1", "1.2.3.256", "01.2.3.4", "1.2.3.04", "00.1.1.1", "1.2.3",
		"1.2.3.4.5", "1..2.3", "", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4",
		"1234.1.1.1", "0001.1.1.1", "a.b.c.d", "1.2.3.-4", "1.2.3.+4",
		"999.1.1.1", "1.2.3.4\n", "0x1.2.3.4", "::1", "1.2.3.4/8",
	};
	static const char alphabet[] = "0129.";
	char text[8];

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		ipv4_against_libc(table[i]);
	/* Every string of up to 7 characters from the alphabet. */
	for (size_t len = 0; len < sizeof text; len++) {
		size_t total = 1;
		for (size_t k = 0; k < len; k++)
			total *= sizeof alphabet - 1;
		for (size_t n = 0; n < total; n++) {
			size_t v = n;
			for (size_t k = 0; k < len; k++) {
				text[k] = alphabet[v % (sizeof alphabet - 1)];
				v /= sizeof alphabet - 1;
			}
			text[len] = '\0';
			ipv4_against_libc(text);
		}
	}
}
END_TEST

Suite *address_suite(void)
{
	Suite *s = suite_create("address");
	TCase *tc = tcase_create("paths");

	tcase_add_test(tc, good_paths);
	tcase_add_test(tc, bad_paths);
	tcase_add_test(tc, decimal_numbers);
	tcase_add_test(tc, length_limits);
	tcase_add_test(tc, postmaster);
	tcase_add_test(tc, domain_equal);
	tcase_add_test(tc, valid_domain);
	tcase_add_test(tc, ipv4_literals);
	suite_add_tcase(s, tc);
	return s;
}
