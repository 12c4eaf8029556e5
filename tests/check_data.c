/*
 * check_data.c: the DATA byte machine and the spooled file, byte for byte.
 * Dot-unstuffing, every SMTP smuggling variant (whole and split into
 * single bytes), bare CR and bare LF, long lines, NUL, the Received: loop
 * limit, terminal mode, a client that vanishes or a session cut off
 * mid-message, storage failures, and the envelope lines at the top.
 */
#include <errno.h>
#include <limits.h>

#include "suites.h"
#include "replies.h"
#include "testio.h"

#define ENVELOPE_CMDS "EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
#define ENVELOPE_REPLIES GREETING EHLO_REPLY "250 2.1.0 OK\r\n250 2.1.5 OK\r\n" GO
#define HEAD "Return-Path: <a@x.example>\n" \
	"X-Original-To: <b@example.org>\n" \
	"Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <b@example.org>; " \
	"Fri, 13 Nov 2026 12:00:00 +0000\n"

/* ENVELOPE_CMDS, then len bytes of message (with its end, if any), then
 * tail; kept by r. */
static const char *with_envelope(struct test_run *r, const char *msg, size_t len,
				 const char *tail, size_t *total)
{
	size_t h = strlen(ENVELOPE_CMDS), t = strlen(tail);
	char *in = malloc(h + len + t + 1);

	ck_assert_ptr_nonnull(in);
	memcpy(in, ENVELOPE_CMDS, h);
	memcpy(in + h, msg, len);
	memcpy(in + h + len, tail, t + 1);
	*total = h + len + t;
	return test_keep(r, in);
}

/* What accepted() is checking, for its failure messages. */
static const char *context = "";

/* One message of len bytes (with its end) in a session ended by QUIT; it
 * must be accepted, and the stored file must be HEAD then body. */
static void accepted(const char *msg, size_t len, size_t chunk,
		     const char *body, size_t body_len)
{
	struct test_run r = {0};
	size_t total, flen;
	const char *in = with_envelope(&r, msg, len, "QUIT\r\n", &total);

	test_session(&r, in, total, chunk);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(test_norm(&r, r.replies), ENVELOPE_REPLIES QUEUED BYE);
	ck_assert_int_eq(test_count(&r, "new"), 1);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	ck_assert_int_eq(r.tio.data_phases, 1);

	const char *file = test_queued(&r, 0, &flen);
	ck_assert_ptr_nonnull(file);
	const char *head = test_norm(&r, file);
	const char *b = test_body(file);
	ck_assert_ptr_nonnull(b);
	/* The envelope lines exactly, then the body exactly (it may hold
	 * NUL-free binary, CRs, anything). */
	ck_assert_int_eq(strncmp(head, HEAD, strlen(HEAD)), 0);
	ck_assert_msg(flen - (size_t)(b - file) == body_len &&
		      memcmp(b, body, body_len) == 0,
		      "%s (chunk %zu): stored body differs (%zu bytes, want %zu)",
		      context, chunk, flen - (size_t)(b - file), body_len);
	test_cleanup(&r);
}

#define ACCEPTED(msg, chunk, body) \
	accepted((msg), sizeof(msg) - 1, (chunk), (body), sizeof(body) - 1)

static const size_t chunks[] = {0, 1, 2, 3, 7, TESTIO_LINES};
#define NCHUNKS (sizeof chunks / sizeof chunks[0])

START_TEST(plain_message)
{
	ACCEPTED("Subject: hello\r\n"
		 "From: <a@x.example>\r\n"
		 "\r\n"
		 "line one\r\n"
		 "\r\n"
		 "line three, 8 bit: caf\xc3\xa9\r\n"
		 ".\r\n", chunks[_i],
		 "Subject: hello\n"
		 "From: <a@x.example>\n"
		 "\n"
		 "line one\n"
		 "\n"
		 "line three, 8 bit: caf\xc3\xa9\n");
}
END_TEST

START_TEST(dot_unstuffing)
{
	/* RFC 5321 4.5.2: a leading dot is removed from every line that has
	 * more than the dot. */
	ACCEPTED("..first line\r\n"
		 "...\r\n"
		 "..\r\n"
		 ". \r\n"
		 ".\tx\r\n"
		 "no dot.\r\n"
		 " .\r\n"
		 "..\r\n"
		 ".\r\n", chunks[_i],
		 ".first line\n"
		 "..\n"
		 ".\n"
		 " \n"
		 "\tx\n"
		 "no dot.\n"
		 " .\n"
		 ".\n");
}
END_TEST

START_TEST(empty_message)
{
	ACCEPTED(".\r\n", chunks[_i], "");
}
END_TEST

START_TEST(last_line_empty)
{
	ACCEPTED("x\r\n\r\n.\r\n", chunks[_i], "x\n\n");
}
END_TEST

/*
 * SMTP smuggling: a would-be end of data made of bare CRs and LFs, then a
 * second transaction inside the first message.  Only CRLF.CRLF ends a
 * message: one 354, one 250, one file, and the second transaction is text
 * in it.  Where the dot follows a real CRLF and something other than CRLF
 * follows the dot, the dot is at the start of an SMTP line with more on it,
 * so it is unstuffed like any other.
 */
#define SMUGGLED "MAIL FROM:<evil@x.example>\r\n" \
	"RCPT TO:<victim@example.org>\r\n" \
	"DATA\r\n" \
	"smuggled\r\n"
#define SMUGGLED_STORED "MAIL FROM:<evil@x.example>\n" \
	"RCPT TO:<victim@example.org>\n" \
	"DATA\n" \
	"smuggled\n"

static const struct {
	const char *name, *seq, *stored;
} smuggling[] = {
	{"LF.LF", "\n.\n", "\n.\n"},
	{"LF.CRLF", "\n.\r\n", "\n.\n"},
	{"CRLF.LF", "\r\n.\n", "\n\n"},
	{"CR.CR", "\r.\r", "\r.\r"},
	{"CRLF.CR", "\r\n.\r", "\n\r"},
	{"CR.LF", "\r.\n", "\r.\n"},
	{"LF.CR", "\n.\r", "\n.\r"},
	{"CR.CRLF", "\r.\r\n", "\r.\n"},
	{"CRCRLF.CRLF", "\r\r\n.\r\n", NULL},	/* a real end after a bare CR */
};
#define NSMUGGLING (sizeof smuggling / sizeof smuggling[0])

static void smuggle(unsigned v, size_t chunk)
{
	char msg[512], body[512];

	if (smuggling[v].stored == NULL) {
		/* "legit" CR, then a real CRLF.CRLF: the message ends there
		 * and what follows is a second transaction, which is fine:
		 * the client sent it as one. */
		struct test_run r = {0};
		size_t total;
		snprintf(msg, sizeof msg, "legit%s" SMUGGLED ".\r\nQUIT\r\n",
			 smuggling[v].seq);
		const char *in = with_envelope(&r, msg, strlen(msg), "", &total);
		test_session(&r, in, total, chunk);
		ck_assert_str_eq(test_norm(&r, r.replies),
				 ENVELOPE_REPLIES QUEUED
				 "250 2.1.0 OK\r\n250 2.1.5 OK\r\n" GO QUEUED BYE);
		ck_assert_str_eq(test_body(test_queued(&r, 0, NULL)), "legit\r\n");
		ck_assert_str_eq(test_body(test_queued(&r, 1, NULL)), "smuggled\n");
		ck_assert_int_eq(test_count(&r, "tmp"), 0);
		test_cleanup(&r);
		return;
	}
	context = smuggling[v].name;
	snprintf(msg, sizeof msg, "legit%s" SMUGGLED ".\r\n", smuggling[v].seq);
	snprintf(body, sizeof body, "legit%s" SMUGGLED_STORED, smuggling[v].stored);
	accepted(msg, strlen(msg), chunk, body, strlen(body));
	context = "";
}

START_TEST(smuggling_whole)
{
	for (unsigned v = 0; v < NSMUGGLING; v++)
		smuggle(v, 0);
}
END_TEST

START_TEST(smuggling_byte_by_byte)
{
	for (unsigned v = 0; v < NSMUGGLING; v++)
		smuggle(v, 1);
}
END_TEST

START_TEST(smuggling_line_by_line)
{
	for (unsigned v = 0; v < NSMUGGLING; v++)
		smuggle(v, TESTIO_LINES);
}
END_TEST

START_TEST(bare_lf_never_ends_the_message)
{
	/* A client that ends with LF.LF and waits: smtpd is still inside the
	 * message when the connection closes, so nothing is spooled and
	 * nothing after the would-be end is a command. */
	static const char *const ends[] = {"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n",
					   "\r\n.\r", "\r.\r"};
	for (unsigned i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		for (size_t chunk = 0; chunk <= 1; chunk++) {
			struct test_run r = {0};
			char msg[128];
			size_t total;
			snprintf(msg, sizeof msg, "text%sQUIT\r\n", ends[i]);
			const char *in = with_envelope(&r, msg, strlen(msg), "", &total);
			test_session(&r, in, total, chunk);
			ck_assert_str_eq(r.replies, ENVELOPE_REPLIES);
			ck_assert_int_eq(test_count(&r, "new"), 0);
			ck_assert_int_eq(test_count(&r, "tmp"), 0);
			test_cleanup(&r);
		}
	}
}
END_TEST

START_TEST(bare_cr_kept)
{
	/* A bare CR is neither a line end nor dropped: it is stored as the
	 * byte it is.  CR CR LF is a CR, then a line end. */
	ACCEPTED("a\rb\r\n"
		 "\rstart\r\n"
		 "end\r\r\n"
		 "\r\r\r\n"
		 ".\rdot\r\n"
		 "x\r\r\n"
		 ".\r\n", chunks[_i],
		 "a\rb\n"
		 "\rstart\n"
		 "end\r\n"
		 "\r\r\n"
		 "\rdot\n"
		 "x\r\n");
}
END_TEST

START_TEST(bare_lf_stored_as_lf)
{
	/* A bare LF is stored as LF, but it is no SMTP line end: a dot after
	 * it is text, neither unstuffed nor an end. */
	ACCEPTED("Subject: lf\n"
		 "X-Other: y\r\n"
		 "\r\n"
		 "a\nb\r\n"
		 "\n"
		 "..not unstuffed after LF\n"
		 ".\n"
		 "\n\n\r\n"
		 ".\r\n", chunks[_i],
		 "Subject: lf\n"
		 "X-Other: y\n"
		 "\n"
		 "a\nb\n"
		 "\n"
		 "..not unstuffed after LF\n"
		 ".\n"
		 "\n\n\n");
}
END_TEST

static void long_line(size_t chunk, int in_headers)
{
	/* 1 MiB without a line end, stored whole; memory does not grow with
	 * it (the reader's buffer is fixed; valgrind and ASan would see an
	 * overflow). */
	const size_t n = 1u << 20;
	const char *pre = in_headers ? "" : "Subject: long\r\n\r\n";
	const char *pre_stored = in_headers ? "" : "Subject: long\n\n";
	size_t p = strlen(pre), ps = strlen(pre_stored);
	char *msg = malloc(p + n + 5), *body = malloc(ps + n + 1);

	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(body);
	memcpy(msg, pre, p);
	for (size_t i = 0; i < n; i++)
		msg[p + i] = (char)('a' + i % 26);
	memcpy(msg + p + n, "\r\n.\r\n", 5);
	memcpy(body, pre_stored, ps);
	memcpy(body + ps, msg + p, n);
	body[ps + n] = '\n';
	accepted(msg, p + n + 5, chunk, body, ps + n + 1);
	free(msg);
	free(body);
}

START_TEST(long_line_stored_whole)
{
	long_line(0, 0);
	long_line(0, 1);
	long_line(4093, 0);
	long_line(4093, 1);
}
END_TEST

START_TEST(received_lines_counted_only_in_headers)
{
	/* 100 Received: lines in the body are text, not hops. */
	char msg[8192], body[8192];
	size_t m = 0, b = 0;

	m += (size_t)sprintf(msg + m, "Subject: x\r\n\r\n");
	b += (size_t)sprintf(body + b, "Subject: x\n\n");
	for (int i = 0; i < 100; i++) {
		m += (size_t)sprintf(msg + m, "Received: from h%d\r\n", i);
		b += (size_t)sprintf(body + b, "Received: from h%d\n", i);
	}
	m += (size_t)sprintf(msg + m, ".\r\n");
	accepted(msg, m, 0, body, b);
}
END_TEST

/* n Received: headers (header names as given), a body, and the end: the
 * message in msg (*mlen bytes), what must be stored in body (*blen). */
static void hops(char *msg, size_t *mlen, char *body, size_t *blen, int n,
		 const char *name)
{
	size_t m = 0, b = 0;

	for (int i = 0; i < n; i++) {
		m += (size_t)sprintf(msg + m, "%s from h%d by h%d; Fri, 13 Nov 2026 11:00:00 +0000\r\n",
				     name, i, i + 1);
		b += (size_t)sprintf(body + b, "%s from h%d by h%d; Fri, 13 Nov 2026 11:00:00 +0000\n",
				     name, i, i + 1);
	}
	m += (size_t)sprintf(msg + m, "Subject: loop?\r\n\r\nbody\r\n.\r\n");
	b += (size_t)sprintf(body + b, "Subject: loop?\n\nbody\n");
	*mlen = m;
	*blen = b;
}

START_TEST(ninety_nine_hops_pass)
{
	static char msg[16384], body[16384];
	size_t m, b;

	hops(msg, &m, body, &b, 99, "Received:");
	accepted(msg, m, _i ? 1 : 0, body, b);
	hops(msg, &m, body, &b, 150, "X-Received:");
	accepted(msg, m, 0, body, b);
	hops(msg, &m, body, &b, 150, "Receivedx:");
	accepted(msg, m, 0, body, b);
	hops(msg, &m, body, &b, 150, "Received x:");
	accepted(msg, m, 0, body, b);
}
END_TEST

static void refused_message(const char *msg, size_t len, size_t chunk,
			    const char *reply)
{
	/* Refused after its end; nothing spooled, nothing left in tmp/; the
	 * session goes on and the next message is accepted. */
	struct test_run r = {0};
	size_t total;
	char expect[1024];
	const char *in = with_envelope(&r, msg, len,
				       "MAIL FROM:<a@x.example>\r\n"
				       "RCPT TO:<b@example.org>\r\n"
				       "DATA\r\n"
				       "next\r\n"
				       ".\r\n"
				       "QUIT\r\n", &total);

	test_session(&r, in, total, chunk);
	snprintf(expect, sizeof expect, "%s%s\r\n%s%s%s%s", ENVELOPE_REPLIES, reply,
		 "250 2.1.0 OK\r\n250 2.1.5 OK\r\n", GO, QUEUED, BYE);
	ck_assert_str_eq(test_norm(&r, r.replies), expect);
	ck_assert_int_eq(test_count(&r, "new"), 1);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	ck_assert_str_eq(test_body(test_queued(&r, 0, NULL)), "next\n");
	test_cleanup(&r);
}

START_TEST(hundred_hops_refused)
{
	/* RFC 5321 6.3: a loop.  "received:" in any case counts. */
	static char msg[16384], body[16384];
	size_t m, b;

	hops(msg, &m, body, &b, 100, "Received:");
	refused_message(msg, m, _i ? 1 : 0,
			"554 5.4.6 Too many Received: headers: mail loop");
	hops(msg, &m, body, &b, 100, "rEcEiVeD:");
	refused_message(msg, m, 0,
			"554 5.4.6 Too many Received: headers: mail loop");
	/* RFC 5322's obsolete syntax allows blanks before the colon: still
	 * a hop (before, uncounted). */
	hops(msg, &m, body, &b, 100, "Received \t :");
	refused_message(msg, m, _i ? 1 : 0,
			"554 5.4.6 Too many Received: headers: mail loop");
}
END_TEST

/* ENVELOPE_REPLIES with another --max-size in the EHLO reply. */
#define ENVELOPE_REPLIES_SIZE(n) GREETING "250-mx.test\r\n250-SIZE " n "\r\n" \
	"250-8BITMIME\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-SOML\r\n250-SAML\r\n250 HELP\r\n250 2.1.0 OK\r\n250 2.1.5 OK\r\n" GO

/* One message (with its end and QUIT) after the envelope, under
 * --max-size max; the replies after the envelope's are checked by the
 * caller. */
static void with_max_size(struct test_run *r, const char *msg, size_t len,
			  unsigned long long max, size_t chunk)
{
	size_t total;
	const char *in;

	test_spool(r);
	test_config(&r->cfg, r->spool);
	r->cfg.max_size = max;
	in = with_envelope(r, msg, len, "", &total);
	test_session(r, in, total, chunk);
}

/* The first failure of a message is its answer: a NUL early in a message
 * that later grows too big is a 554 for the NUL, not a 552. */
START_TEST(first_failure_wins)
{
	static const char msg[] = "a\0b\r\n"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"\r\n.\r\nQUIT\r\n";
	struct test_run r = {0};

	with_max_size(&r, msg, sizeof msg - 1, 100, _i ? 1 : 0);
	ck_assert_str_eq(test_norm(&r, r.replies), ENVELOPE_REPLIES_SIZE("100")
			 "554 5.6.0 Message contains NUL bytes\r\n" BYE);
	ck_assert_int_eq(test_count(&r, "new"), 0);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	test_cleanup(&r);
}
END_TEST

/* RFC 1870 counts a bare LF as the one octet it is: four LF-ended lines
 * and the empty CRLF line are 10 octets, which --max-size 10 takes. */
START_TEST(bare_lf_counts_one_octet)
{
	static const char msg[] = "a\nb\nc\nd\n\r\n.\r\nQUIT\r\n";
	struct test_run r = {0};

	with_max_size(&r, msg, sizeof msg - 1, 10, _i ? 1 : 0);
	ck_assert_str_eq(test_norm(&r, r.replies), ENVELOPE_REPLIES_SIZE("10") QUEUED BYE);
	ck_assert_int_eq(test_count(&r, "new"), 1);
	test_cleanup(&r);
}
END_TEST

/* The Received: date across month lengths and leap years (the other tests
 * all run on 13 Nov 2026). */
START_TEST(received_dates)
{
	static const struct {
		time_t t;
		const char *date;
	} when[] = {
		{1771000000, "Fri, 13 Feb 2026 16:26:40 +0000"},
		{1835481599, "Tue, 29 Feb 2028 23:59:59 +0000"},
		{1798761600, "Fri, 1 Jan 2027 00:00:00 +0000"},	/* 1*2DIGIT */
		{1735646400, "Tue, 31 Dec 2024 12:00:00 +0000"},
	};
	for (unsigned i = 0; i < sizeof when / sizeof when[0]; i++) {
		struct test_run r = {0};
		char want[200];
		r.tio.now = when[i].t;
		TEST_SESSION(&r, ENVELOPE_CMDS "x\r\n.\r\nQUIT\r\n");
		snprintf(want, sizeof want, "for <b@example.org>; %s\nx\n", when[i].date);
		const char *f = test_queued(&r, 0, NULL);
		ck_assert_ptr_nonnull(f);
		ck_assert_msg(strstr(f, want) != NULL, "%s: got %s", when[i].date, f);
		test_cleanup(&r);
	}
}
END_TEST

START_TEST(nul_refused)
{
	static const char in_body[] = "Subject: nul\r\n\r\na\0b\r\n.\r\n";
	static const char in_header[] = "\0Subject: nul\r\n\r\nab\r\n.\r\n";
	static const char at_end[] = "ab\r\n\0\r\n.\r\n";
	size_t chunk = _i ? 1 : 0;

	refused_message(in_body, sizeof in_body - 1, chunk,
			"554 5.6.0 Message contains NUL bytes");
	refused_message(in_header, sizeof in_header - 1, chunk,
			"554 5.6.0 Message contains NUL bytes");
	refused_message(at_end, sizeof at_end - 1, chunk,
			"554 5.6.0 Message contains NUL bytes");
}
END_TEST

START_TEST(nul_after_a_long_line)
{
	/* Batches have been written to tmp/ already and more wait in the
	 * pipe: the NUL must still take the file away. */
	const size_t n = 3 * STORE_BATCH + 1000;
	char *msg = malloc(n + 8);

	ck_assert_ptr_nonnull(msg);
	memset(msg, 'x', n);
	memcpy(msg + n, "\0\r\n.\r\n", 6);
	refused_message(msg, n + 6, 0, "554 5.6.0 Message contains NUL bytes");
	free(msg);
}
END_TEST

/*
 * A body that crosses store.c's batch size twice and mixes everything
 * the whole-line fast path must hand back to the byte machine: stuffed
 * dots, bare CRs and LFs mid-line, a CR at the end of a line's text, empty
 * lines, and lines longer than a read.  The message and the body it must
 * become are built side by side, by the rules, not by smtpd's code.
 */
static void mixed_body(char **msg, size_t *mlen, char **body, size_t *blen)
{
	const size_t lines = 9000;
	char *m = malloc(lines * 200 + 16), *b = malloc(lines * 200 + 16);
	size_t mo = 0, bo = 0;
	unsigned seed = 12345;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(b);
	memcpy(m, "Subject: mixed\r\n\r\n", 18);
	memcpy(b, "Subject: mixed\n\n", 16);
	mo = 18;
	bo = 16;
	for (size_t i = 0; i < lines; i++) {
		seed = seed * 1103515245 + 12345;
		unsigned kind = (seed >> 16) % 8, len = (seed >> 8) % 150;
		if (kind == 0) {		/* stuffed: ".." stores "." */
			m[mo++] = '.';
			m[mo++] = '.';
			b[bo++] = '.';
		}
		for (unsigned k = 0; k < len; k++) {
			char c = (char)('a' + (i + k) % 26);
			if (kind == 1 && k == len / 2)
				c = '\r';	/* bare CR mid-line, kept */
			if (kind == 2 && k == len / 2)
				c = '\n';	/* bare LF mid-line, kept */
			m[mo++] = c;
			b[bo++] = c;
		}
		if (kind == 3) {		/* text ending in CR, then CRLF */
			m[mo++] = '\r';
			b[bo++] = '\r';
		}
		m[mo++] = '\r';
		m[mo++] = '\n';
		b[bo++] = '\n';
	}
	memcpy(m + mo, ".\r\n", 3);
	*msg = m;
	*mlen = mo + 3;
	*body = b;
	*blen = bo;
}

static const size_t big_chunks[] = {0, 1, 7, 64, 4093, 32768, TESTIO_LINES};

START_TEST(mixed_lines_any_split)
{
	char *msg, *body;
	size_t mlen, blen;

	mixed_body(&msg, &mlen, &body, &blen);
	ck_assert_uint_gt(blen, 2 * STORE_BATCH);
	context = "mixed lines";
	accepted(msg, mlen, big_chunks[_i], body, blen);
	free(msg);
	free(body);
}
END_TEST

START_TEST(nul_deep_in_a_long_body)
{
	/* Hundreds of plain lines, then a NUL: whatever was written of the
	 * message must go, however the bytes arrive. */
	char *msg, *body;
	size_t mlen, blen;

	mixed_body(&msg, &mlen, &body, &blen);
	msg[mlen * 3 / 4] = '\0';
	refused_message(msg, mlen, big_chunks[_i], "554 5.6.0 Message contains NUL bytes");
	free(msg);
	free(body);
}
END_TEST

START_TEST(terminal_mode)
{
	/* A person types: LF ends every line, and "." LF ends the message. */
	struct test_run r = {0};
	test_spool(&r);
	test_config(&r.cfg, r.spool);
	r.cfg.terminal = 1;
	test_session_str(&r, "HELO c\n"
			     "MAIL FROM:<a@x.example>\n"
			     "RCPT TO:<b@example.org>\n"
			     "DATA\n"
			     "Subject: typed\n"
			     "\n"
			     "..dot\n"
			     "crlf too\r\n"
			     "bare\rcr\n"
			     ".\n"
			     "MAIL FROM:<a@x.example>\n"
			     "RCPT TO:<b@example.org>\n"
			     "DATA\n"
			     "second\r\n"
			     ".\r\n"
			     "QUIT\n", _i ? 1 : 0);
	ck_assert_str_eq(test_norm(&r, r.replies),
			 GREETING "250 mx.test\r\n250 OK\r\n250 OK\r\n" GO
			 "250 OK: queued as ID\r\n"
			 "250 OK\r\n250 OK\r\n" GO
			 "250 OK: queued as ID\r\n"
			 "221 mx.test Service closing transmission channel\r\n");
	ck_assert_str_eq(test_body(test_queued(&r, 0, NULL)),
			 "Subject: typed\n\n.dot\ncrlf too\nbare\rcr\n");
	ck_assert_str_eq(test_body(test_queued(&r, 1, NULL)), "second\n");
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	test_cleanup(&r);
}
END_TEST

/* Count tmp/ files at each read; the most seen. */
struct tmp_watch {
	struct test_run *r;
	int max;
};

static void watch_tmp(struct testio *t, void *arg)
{
	struct tmp_watch *w = arg;
	int n = test_count(w->r, "tmp");

	(void)t;
	if (n > w->max)
		w->max = n;
}

/* A message cut off after its first bytes by end_status. */
static void cut_off(ssize_t end_status, size_t chunk, const char *reply)
{
	struct test_run r = {0};
	struct tmp_watch w = {&r, 0};
	static const char msg[] = "Subject: cut\r\n\r\nsome of it\r\n.";
	size_t total;
	const char *in = with_envelope(&r, msg, sizeof msg - 1, "", &total);

	r.tio.end_status = end_status;
	r.tio.before_read = watch_tmp;
	r.tio.hook_arg = &w;
	test_session(&r, in, total, chunk);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.replies, reply);
	/* The file was there while the message came in, and is gone. */
	ck_assert_int_eq(w.max, 1);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	ck_assert_int_eq(test_count(&r, "new"), 0);
	test_cleanup(&r);
}

START_TEST(eof_mid_message)
{
	cut_off(0, _i ? 1 : TESTIO_LINES, ENVELOPE_REPLIES);
	cut_off(IO_ERROR, TESTIO_LINES, ENVELOPE_REPLIES);
}
END_TEST

START_TEST(timeout_mid_message)
{
	cut_off(IO_TIMEOUT, _i ? 1 : TESTIO_LINES, ENVELOPE_REPLIES
		"421 4.4.2 mx.test Timeout waiting for input, closing transmission channel\r\n");
}
END_TEST

START_TEST(signal_mid_message)
{
	cut_off(IO_SIGNAL, _i ? 1 : TESTIO_LINES, ENVELOPE_REPLIES
		"421 4.3.2 mx.test Service shutting down, closing transmission channel\r\n");
}
END_TEST

START_TEST(deadline_and_slow_mid_message)
{
	cut_off(IO_DEADLINE, TESTIO_LINES, ENVELOPE_REPLIES
		"421 4.4.2 mx.test Session time limit reached, closing transmission channel\r\n");
	cut_off(IO_SLOW, TESTIO_LINES, ENVELOPE_REPLIES
		"421 4.4.2 mx.test Data arriving too slowly, closing transmission channel\r\n");
}
END_TEST

START_TEST(eof_mid_long_message)
{
	/* 300 KiB already written to tmp/ when the client goes. */
	struct test_run r = {0};
	const size_t n = 300 * 1024;
	char *msg = malloc(n);
	size_t total;

	ck_assert_ptr_nonnull(msg);
	memset(msg, 'y', n);
	const char *in = with_envelope(&r, msg, n, "", &total);
	free(msg);
	test_session(&r, in, total, 0);
	ck_assert_str_eq(r.replies, ENVELOPE_REPLIES);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	ck_assert_int_eq(test_count(&r, "new"), 0);
	test_cleanup(&r);
}
END_TEST

START_TEST(received_line)
{
	/* Exactly: HELO name, peer, our host, ESMTP or SMTP, the queue id,
	 * "for <rcpt>" only with exactly one recipient, the fixed clock. */
	struct test_run r = {0};
	test_spool(&r);
	test_config(&r.cfg, r.spool);
	r.cfg.peer = "[IPv6:2001:db8::7]";
	test_session_str(&r, "EHLO client.example\r\n"
			     "MAIL FROM:<a@x.example>\r\n"
			     "RCPT TO:<one@example.org>\r\n"
			     "DATA\r\n.\r\n"
			     "MAIL FROM:<a@x.example>\r\n"
			     "RCPT TO:<one@example.org>\r\n"
			     "RCPT TO:<two@example.org>\r\n"
			     "DATA\r\n.\r\n"
			     "HELO [192.0.2.5]\r\n"
			     "MAIL FROM:<>\r\n"
			     "RCPT TO:<three@example.org>\r\n"
			     "DATA\r\n.\r\n"
			     "HELO old.example\r\n"
			     "MAIL FROM:<>\r\n"
			     "RCPT TO:<postmaster>\r\n"
			     "RCPT TO:<four@example.org>\r\n"
			     "RCPT TO:<five@example.org>\r\n"
			     "DATA\r\n.\r\n", 0);
	ck_assert_int_eq(test_count(&r, "new"), 4);
	const char *id;
	char want[1024];

	id = test_queue_id(&r, 0);
	snprintf(want, sizeof want,
		 "Return-Path: <a@x.example>\n"
		 "X-Original-To: <one@example.org>\n"
		 "Received: from client.example ([IPv6:2001:db8::7]) by mx.test with ESMTP id %s for <one@example.org>; Fri, 13 Nov 2026 12:00:00 +0000\n", id);
	ck_assert_str_eq(test_queued(&r, 0, NULL), want);
	id = test_queue_id(&r, 1);
	snprintf(want, sizeof want,
		 "Return-Path: <a@x.example>\n"
		 "X-Original-To: <one@example.org>\n"
		 "X-Original-To: <two@example.org>\n"
		 "Received: from client.example ([IPv6:2001:db8::7]) by mx.test with ESMTP id %s; Fri, 13 Nov 2026 12:00:00 +0000\n", id);
	ck_assert_str_eq(test_queued(&r, 1, NULL), want);
	id = test_queue_id(&r, 2);
	snprintf(want, sizeof want,
		 "Return-Path: <>\n"
		 "X-Original-To: <three@example.org>\n"
		 "Received: from [192.0.2.5] ([IPv6:2001:db8::7]) by mx.test with SMTP id %s for <three@example.org>; Fri, 13 Nov 2026 12:00:00 +0000\n", id);
	ck_assert_str_eq(test_queued(&r, 2, NULL), want);
	id = test_queue_id(&r, 3);
	snprintf(want, sizeof want,
		 "Return-Path: <>\n"
		 "X-Original-To: <postmaster>\n"
		 "X-Original-To: <four@example.org>\n"
		 "X-Original-To: <five@example.org>\n"
		 "Received: from old.example ([IPv6:2001:db8::7]) by mx.test with SMTP id %s; Fri, 13 Nov 2026 12:00:00 +0000\n", id);
	ck_assert_str_eq(test_queued(&r, 3, NULL), want);
	ck_assert_int_eq(r.tio.data_phases, 4);
	test_cleanup(&r);
}
END_TEST

START_TEST(received_line_local_peer)
{
	struct test_run r = {0};
	test_spool(&r);
	test_config(&r.cfg, r.spool);
	r.cfg.peer = "local";
	r.cfg.hostname = "relay.example.org";
	test_session_str(&r, "EHLO me\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\n"
			     "DATA\r\nhi\r\n.\r\n", 0);
	ck_assert_str_eq(test_norm(&r, test_queued(&r, 0, NULL)),
			 "Return-Path: <a@x.example>\n"
			 "X-Original-To: <b@example.org>\n"
			 "Received: from me (local) by relay.example.org with ESMTP id ID for <b@example.org>; Fri, 13 Nov 2026 12:00:00 +0000\n"
			 "hi\n");
	test_cleanup(&r);
}
END_TEST

/* ---- storage failures in the middle of a message ---- */

/* The fd of the one open file in spool/tmp/, or -1. */
static int tmp_file_fd(const struct test_run *r)
{
	char prefix[128], link[512], path[300];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fd = -1;

	snprintf(prefix, sizeof prefix, "%s/tmp/", r->spool);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, prefix, strlen(prefix)) == 0)
			fd = atoi(e->d_name);
	}
	closedir(d);
	return fd;
}

struct sabotage {
	struct test_run *r;
	const char *how;	/* "full", "eio", "unlink" */
	int done;
};

static void sabotage_tmp(struct testio *t, void *arg)
{
	struct sabotage *s = arg;
	int fd, bad;

	(void)t;
	if (s->done || (fd = tmp_file_fd(s->r)) < 0)
		return;
	s->done = 1;
	if (strcmp(s->how, "unlink") == 0) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "rm -f '%s'/tmp/*", s->r->spool);
		ck_assert_int_eq(system(cmd), 0);
		return;
	}
	/* From now on the message file's writes fail: ENOSPC on /dev/full,
	 * EBADF on a read-only descriptor. */
	bad = open(strcmp(s->how, "full") == 0 ? "/dev/full" : "/dev/null",
		   strcmp(s->how, "full") == 0 ? O_WRONLY : O_RDONLY);
	ck_assert_int_ge(bad, 0);
	ck_assert_int_ge(dup2(bad, fd), 0);
	close(bad);
}

static void store_fails(const char *how, const char *reply)
{
	/* The failure's reply after the end of the message; nothing in new/
	 * or tmp/; the session goes on. */
	struct test_run r = {0};
	struct sabotage s = {&r, how, 0};
	char expect[1024];

	r.tio.before_read = sabotage_tmp;
	r.tio.hook_arg = &s;
	test_session_str(&r, ENVELOPE_CMDS
			     "Subject: doomed\r\n"
			     "\r\n"
			     "body\r\n"
			     ".\r\n"
			     "MAIL FROM:<a@x.example>\r\n"
			     "RCPT TO:<b@example.org>\r\n"
			     "QUIT\r\n", TESTIO_LINES);
	ck_assert_int_eq(s.done, 1);
	snprintf(expect, sizeof expect, "%s%s\r\n250 2.1.0 OK\r\n250 2.1.5 OK\r\n%s",
		 ENVELOPE_REPLIES, reply, BYE);
	ck_assert_str_eq(r.replies, expect);
	ck_assert_int_eq(test_count(&r, "new"), 0);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	test_cleanup(&r);
}

START_TEST(disk_full_mid_message)
{
	store_fails("full", "452 4.3.1 Insufficient system storage; try again later");
}
END_TEST

START_TEST(write_error_mid_message)
{
	store_fails("eio", "451 4.3.0 Local error in processing; try again later");
}
END_TEST

START_TEST(rename_fails)
{
	store_fails("unlink", "451 4.3.0 Local error in processing; try again later");
}
END_TEST

/* Before the DATA line is read, take tmp/ away: the file for the message
 * cannot be created.  With pipelined_data, DATA comes with all the rest. */
static int pipelined_data;

static void remove_tmp_before_data(struct testio *t, void *arg)
{
	struct test_run *r = arg;
	char path[128];

	if (t->pos >= t->inlen || strncmp(t->in + t->pos, "DATA", 4) != 0)
		return;
	snprintf(path, sizeof path, "%s/tmp", r->spool);
	ck_assert_int_eq(rmdir(path), 0);
	if (pipelined_data)
		t->chunk = 0;
}

START_TEST(spool_gone_at_data)
{
	/* 451 4.3.0 for DATA, and the transaction is over; the session goes
	 * on.  If the message was sent already (pipelined), it must not be
	 * read as commands: 421 4.5.0 after the 451. */
	struct test_run r = {0};
	r.tio.before_read = remove_tmp_before_data;
	r.tio.hook_arg = &r;
	test_session_str(&r, ENVELOPE_CMDS
			     "RCPT TO:<b@example.org>\r\n"
			     "NOOP\r\n"
			     "QUIT\r\n", TESTIO_LINES);
	ck_assert_str_eq(r.replies, GREETING EHLO_REPLY "250 2.1.0 OK\r\n250 2.1.5 OK\r\n"
			 "451 4.3.0 Local error in processing; try again later\r\n"
			 "503 5.5.1 Bad sequence of commands: send MAIL first\r\n"
			 "250 2.0.0 OK\r\n" BYE);
	ck_assert_int_eq(test_count(&r, "new"), 0);
	test_cleanup(&r);

	/* The DATA line and the message in one read. */
	struct test_run q = {0};
	q.tio.before_read = remove_tmp_before_data;
	q.tio.hook_arg = &q;
	pipelined_data = 1;
	test_session_str(&q, ENVELOPE_CMDS "Subject: x\r\n\r\nRSET\r\n.\r\nQUIT\r\n",
			 TESTIO_LINES);
	pipelined_data = 0;
	ck_assert_str_eq(q.replies, GREETING EHLO_REPLY "250 2.1.0 OK\r\n250 2.1.5 OK\r\n"
			 "451 4.3.0 Local error in processing; try again later\r\n"
			 "421 4.5.0 mx.test Improper pipelining: input sent before the reply, closing transmission channel\r\n");
	ck_assert_int_eq(test_count(&q, "new"), 0);
	test_cleanup(&q);
}
END_TEST

START_TEST(longest_envelope_fits)
{
	/* A HELO name of 255, a host name of 255, a recipient of 64 + 1 + 255
	 * octets: the Received: line still fits and the message is taken. */
	struct test_run r = {0};
	static char host[256], helo[256], domain[256], in[4096], want[2048];
	size_t n = 0;

	memset(host, 'h', 255);
	memset(helo, 'e', 255);
	for (int i = 0; i < 4; i++) {
		memset(domain + i * 64, 'a' + i, 63);
		domain[i * 64 + 63] = '.';
	}
	domain[255] = '\0';
	test_spool(&r);
	test_config(&r.cfg, r.spool);
	r.cfg.hostname = host;
	r.cfg.domains[0] = domain;
	r.cfg.peer = "[IPv6:2001:db8:1234:5678:9abc:def0:1234:5678]";
	n += (size_t)snprintf(in + n, sizeof in - n, "EHLO %s\r\nMAIL FROM:<>\r\nRCPT TO:<", helo);
	memset(in + n, 'l', 64);
	n += 64;
	n += (size_t)snprintf(in + n, sizeof in - n, "@%s>\r\nDATA\r\nx\r\n.\r\n", domain);
	test_session(&r, in, n, 0);
	ck_assert_ptr_nonnull(strstr(r.replies, "\r\n250 2.0.0 OK: queued as "));
	const char *file = test_queued(&r, 0, NULL);
	ck_assert_ptr_nonnull(file);
	n = (size_t)snprintf(want, sizeof want, "Received: from %s (%s) by %s with ESMTP id %s for <",
			     helo, r.cfg.peer, host, test_queue_id(&r, 0));
	ck_assert_ptr_nonnull(strstr(file, want));
	ck_assert_str_eq(test_body(file), "x\n");
	test_cleanup(&r);
}
END_TEST

Suite *data_suite(void)
{
	Suite *s = suite_create("data");
	TCase *tc = tcase_create("bytes");

	test_base_init();

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, plain_message, 0, NCHUNKS);
	tcase_add_loop_test(tc, dot_unstuffing, 0, NCHUNKS);
	tcase_add_loop_test(tc, empty_message, 0, NCHUNKS);
	tcase_add_loop_test(tc, last_line_empty, 0, NCHUNKS);
	tcase_add_loop_test(tc, bare_cr_kept, 0, NCHUNKS);
	tcase_add_loop_test(tc, bare_lf_stored_as_lf, 0, NCHUNKS);
	tcase_add_test(tc, long_line_stored_whole);
	tcase_add_loop_test(tc, mixed_lines_any_split, 0,
			    sizeof big_chunks / sizeof big_chunks[0]);
	tcase_add_loop_test(tc, terminal_mode, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("smuggling");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, smuggling_whole);
	tcase_add_test(tc, smuggling_byte_by_byte);
	tcase_add_test(tc, smuggling_line_by_line);
	tcase_add_test(tc, bare_lf_never_ends_the_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, nul_refused, 0, 2);
	tcase_add_test(tc, nul_after_a_long_line);
	tcase_add_loop_test(tc, nul_deep_in_a_long_body, 0,
			    sizeof big_chunks / sizeof big_chunks[0]);
	tcase_add_test(tc, received_lines_counted_only_in_headers);
	tcase_add_loop_test(tc, ninety_nine_hops_pass, 0, 2);
	tcase_add_loop_test(tc, hundred_hops_refused, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("cut off");
	tcase_add_loop_test(tc, eof_mid_message, 0, 2);
	tcase_add_loop_test(tc, timeout_mid_message, 0, 2);
	tcase_add_loop_test(tc, signal_mid_message, 0, 2);
	tcase_add_test(tc, deadline_and_slow_mid_message);
	tcase_add_test(tc, eof_mid_long_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("envelope");
	tcase_add_test(tc, received_line);
	tcase_add_test(tc, received_dates);
	tcase_add_loop_test(tc, first_failure_wins, 0, 2);
	tcase_add_loop_test(tc, bare_lf_counts_one_octet, 0, 2);
	tcase_add_test(tc, received_line_local_peer);
	tcase_add_test(tc, longest_envelope_fits);
	suite_add_tcase(s, tc);

	tc = tcase_create("storage failures");
	tcase_add_test(tc, disk_full_mid_message);
	tcase_add_test(tc, write_error_mid_message);
	tcase_add_test(tc, rename_fails);
	tcase_add_test(tc, spool_gone_at_data);
	suite_add_tcase(s, tc);
	return s;
}
