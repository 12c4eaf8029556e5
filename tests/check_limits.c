/*
 * check_limits.c: every bound and its reply.  Recipients, message size
 * (declared and actual), command line length with resynchronisation, the
 * error budget and its tarpit, the junk-command cap, other protocols on
 * the first line, input sent too early, low disk space, the greeting
 * delay, and the ways the wait for a command can end.
 */
#include <limits.h>

#include "suites.h"
#include "replies.h"
#include "testio.h"

#define TOO_BIG "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
#define TOO_LONG "500 5.5.2 Line too long\r\n"
#define UNKNOWN "500 5.5.2 Syntax error, command unrecognized\r\n"
#define NOT_SMTP "421 mx.test This is an SMTP server, closing transmission channel\r\n"

/* A growing input or transcript, kept by r. */
struct text {
	char *p;
	size_t len, cap;
};

static void add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		ck_assert_ptr_nonnull(t->p);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void adds(struct text *t, const char *s)
{
	add(t, s, strlen(s));
}

static void addn(struct text *t, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add(t, &c, 1);
}

static void repeat(struct text *t, const char *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		adds(t, s);
}

static void own_config(struct test_run *r)
{
	test_spool(r);
	test_config(&r->cfg, r->spool);
}

static void expect(struct test_run *r, const char *want)
{
	ck_assert_str_eq(test_norm(r, r->replies), want);
	ck_assert_int_eq(test_count(r, "tmp"), 0);
}

/* ---- recipients ---- */

START_TEST(max_recipients)
{
	/* Past the limit RCPT gets 452 4.5.3 and the recipients already
	 * taken still get the message; a repeat of one of them is no new
	 * recipient. */
	struct test_run r = {0};
	own_config(&r);
	r.cfg.max_recipients = 3;
	test_session_str(&r, "EHLO c\r\n"
			     "MAIL FROM:<a@x.example>\r\n"
			     "RCPT TO:<r1@example.org>\r\n"
			     "RCPT TO:<r2@example.org>\r\n"
			     "RCPT TO:<r3@example.org>\r\n"
			     "RCPT TO:<r4@example.org>\r\n"
			     "RCPT TO:<r2@example.org>\r\n"
			     "RCPT TO:<postmaster>\r\n"
			     "RCPT TO:<r5@example.net>\r\n"
			     "DATA\r\n"
			     "x\r\n"
			     ".\r\n"
			     "MAIL FROM:<a@x.example>\r\n"
			     "RCPT TO:<r4@example.org>\r\n"
			     "QUIT\r\n", 0);
	expect(&r, GREETING EHLO_REPLY
	       "250 2.1.0 OK\r\n"
	       "250 2.1.5 OK\r\n"
	       "250 2.1.5 OK\r\n"
	       "250 2.1.5 OK\r\n"
	       "452 4.5.3 Too many recipients\r\n"
	       "250 2.1.5 OK\r\n"
	       "452 4.5.3 Too many recipients\r\n"
	       "550 5.7.1 Relaying denied\r\n"
	       GO QUEUED
	       "250 2.1.0 OK\r\n"
	       "250 2.1.5 OK\r\n"
	       BYE);
	ck_assert_str_eq(test_norm(&r, test_queued(&r, 0, NULL)),
			 "Return-Path: <a@x.example>\n"
			 "X-Original-To: <r1@example.org>\n"
			 "X-Original-To: <r2@example.org>\n"
			 "X-Original-To: <r3@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID; Fri, 13 Nov 2026 12:00:00 +0000\n"
			 "x\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(default_max_recipients_is_100)
{
	/* 30 recipients too many, more than --max-errors (20): past the limit
	 * the client is to send the message to those accepted and the rest
	 * later (RFC 5321 4.5.3.1.10), so a 452 spends no error budget, or
	 * the session would close before DATA and the message be lost. */
	struct test_run r = {0};
	struct text in = {0}, want = {0};
	char line[64];

	adds(&in, "EHLO c\r\nMAIL FROM:<a@x.example>\r\n");
	adds(&want, GREETING EHLO_REPLY "250 2.1.0 OK\r\n");
	for (int i = 1; i <= 130; i++) {
		snprintf(line, sizeof line, "RCPT TO:<r%d@example.org>\r\n", i);
		adds(&in, line);
		adds(&want, i <= 100 ? "250 2.1.5 OK\r\n" : "452 4.5.3 Too many recipients\r\n");
	}
	adds(&in, "DATA\r\n.\r\n");
	adds(&want, GO QUEUED);
	test_keep(&r, in.p);
	test_keep(&r, want.p);
	test_session(&r, in.p, in.len, 0);
	expect(&r, want.p);
	const char *file = test_queued(&r, 0, NULL);
	ck_assert_ptr_nonnull(strstr(file, "X-Original-To: <r100@example.org>\n"));
	ck_assert_ptr_null(strstr(file, "<r101@"));
	test_cleanup(&r);
}
END_TEST

START_TEST(max_recipients_past_the_inline_list)
{
	/* Up to RCPTS_INLINE recipients live in the session; a higher bound
	 * allocates the list, and two transactions of a session share it. */
	struct test_run r = {0};
	struct text in = {0}, want = {0};
	char line[64];

	own_config(&r);
	r.cfg.max_recipients = RCPTS_INLINE + 50;
	adds(&in, "EHLO c\r\n");
	adds(&want, GREETING EHLO_REPLY);
	for (int m = 0; m < 2; m++) {
		adds(&in, "MAIL FROM:<a@x.example>\r\n");
		adds(&want, "250 2.1.0 OK\r\n");
		for (int i = 1; i <= RCPTS_INLINE + 51; i++) {
			snprintf(line, sizeof line, "RCPT TO:<m%dr%d@example.org>\r\n", m, i);
			adds(&in, line);
			adds(&want, i <= RCPTS_INLINE + 50 ? "250 2.1.5 OK\r\n"
							   : "452 4.5.3 Too many recipients\r\n");
		}
		adds(&in, "DATA\r\nx\r\n.\r\n");
		adds(&want, GO QUEUED);
	}
	adds(&in, "QUIT\r\n");
	adds(&want, BYE);
	test_keep(&r, in.p);
	test_keep(&r, want.p);
	test_session(&r, in.p, in.len, 0);
	expect(&r, want.p);
	for (int m = 0; m < 2; m++) {
		const char *file = test_queued(&r, m, NULL);
		snprintf(line, sizeof line, "X-Original-To: <m%dr1@example.org>\n", m);
		ck_assert_ptr_nonnull(strstr(file, line));
		snprintf(line, sizeof line, "X-Original-To: <m%dr%d@example.org>\n", m, RCPTS_INLINE + 50);
		ck_assert_ptr_nonnull(strstr(file, line));
		snprintf(line, sizeof line, "<m%dr%d@", m, RCPTS_INLINE + 51);
		ck_assert_ptr_null(strstr(file, line));
		ck_assert_ptr_null(strstr(file, m == 0 ? "<m1r" : "<m0r"));
	}
	test_cleanup(&r);
}
END_TEST

/* ---- message size ---- */

START_TEST(declared_size_over_max)
{
	struct test_run r = {0};
	own_config(&r);
	r.cfg.max_size = 1000;
	test_session_str(&r, "EHLO c\r\n"
			     "MAIL FROM:<a@x.example> SIZE=1001\r\n"
			     "RCPT TO:<b@example.org>\r\n"
			     "MAIL FROM:<a@x.example> SIZE=1000\r\n"
			     "QUIT\r\n", 0);
	expect(&r, GREETING
	       "250-mx.test\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-PIPELINING\r\n"
	       "250-ENHANCEDSTATUSCODES\r\n250-SOML\r\n250-SAML\r\n250 HELP\r\n"
	       TOO_BIG
	       "503 5.5.1 Bad sequence of commands: send MAIL first\r\n"
	       "250 2.1.0 OK\r\n"
	       BYE);
	test_cleanup(&r);
}
END_TEST

/* A message of n bytes of text in lines of 78 + CRLF, under max_size; it
 * is refused with 552 after its end, nothing is spooled, and a small
 * message afterwards is accepted. */
static void too_big(unsigned long long max, size_t n, size_t chunk)
{
	struct test_run r = {0};
	struct text in = {0};

	own_config(&r);
	r.cfg.max_size = max;
	adds(&in, "EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
	for (size_t i = 0; i < n; i += 80) {
		addn(&in, 'z', 78);
		adds(&in, "\r\n");
	}
	adds(&in, ".\r\n"
		  "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nsmall\r\n.\r\n"
		  "QUIT\r\n");
	test_keep(&r, in.p);
	test_session(&r, in.p, in.len, chunk);
	ck_assert_ptr_nonnull(strstr(r.replies, "\r\n" GO TOO_BIG "250 2.1.0 OK\r\n"));
	ck_assert_int_eq(test_count(&r, "new"), 1);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	ck_assert_str_eq(test_body(test_queued(&r, 0, NULL)), "small\n");
	test_cleanup(&r);
}

START_TEST(size_over_max_during_data)
{
	too_big(100, 200, 0);
	too_big(100, 200, 1);
	too_big(1000, 2000, TESTIO_LINES);
	/* Well past the limit: read to the end all the same, never stored. */
	too_big(100000, 3 * 1024 * 1024, 0);
}
END_TEST

/* tmp/ files seen at each read. */
struct tmp_seen {
	struct test_run *r;
	int seen[256];
	unsigned n;
};

static void see_tmp(struct testio *t, void *arg)
{
	struct tmp_seen *w = arg;

	(void)t;
	if (w->n < 256)
		w->seen[w->n++] = test_count(w->r, "tmp");
}

START_TEST(oversized_message_dropped_at_once)
{
	/* Past the limit the file goes at once; the rest is read, not kept. */
	struct test_run r = {0};
	struct text in = {0};
	struct tmp_seen w;

	memset(&w, 0, sizeof w);
	w.r = &r;
	own_config(&r);
	r.cfg.max_size = 1000;
	r.tio.before_read = see_tmp;
	r.tio.hook_arg = &w;
	adds(&in, "EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
	for (int i = 0; i < 100; i++) {
		addn(&in, 'w', 78);
		adds(&in, "\r\n");
	}
	adds(&in, ".\r\nQUIT\r\n");
	test_keep(&r, in.p);
	test_session(&r, in.p, in.len, TESTIO_LINES);
	ck_assert_ptr_nonnull(strstr(r.replies, GO TOO_BIG BYE));
	/* One read per line: EHLO, MAIL, RCPT, DATA, 100 lines, ".", QUIT;
	 * line i is read at 4 + i. */
	ck_assert_uint_eq(w.n, 4 + 100 + 2);
	ck_assert_int_eq(w.seen[3], 0);		/* before DATA */
	ck_assert_int_eq(w.seen[4], 1);		/* the file, while within */
	ck_assert_int_eq(w.seen[4 + 12], 1);	/* 12 lines: 960 octets */
	ck_assert_int_eq(w.seen[4 + 13], 0);	/* 13: 1040, gone at once */
	ck_assert_int_eq(w.seen[4 + 100], 0);	/* at the "." line */
	ck_assert_int_eq(test_count(&r, "new"), 0);
	test_cleanup(&r);
}
END_TEST

/* One message whose content is n octets (RFC 1870 counts the message as
 * sent: CRLFs included, dot-stuffing and the final "." line not). */
static const char *sized_message(struct test_run *r, size_t n, size_t *len)
{
	struct text in = {0};

	adds(&in, "EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
	ck_assert_uint_ge(n, 2);
	addn(&in, 's', n - 2);
	adds(&in, "\r\n.\r\n");
	*len = in.len;
	return test_keep(r, in.p);
}

START_TEST(size_limit_is_the_message_size)
{
	/* SIZE 100 is advertised, and SIZE=100 is accepted at MAIL: a message
	 * of 100 octets must then be accepted too, and one of 101 refused
	 * (RFC 1870 3, 6.1: the terminating dot line is no part of it). */
	for (size_t n = 99; n <= 101; n++) {
		struct test_run r = {0};
		size_t len;
		const char *in;

		own_config(&r);
		r.cfg.max_size = 100;
		in = sized_message(&r, n, &len);
		test_session(&r, in, len, 0);
		if (n <= 100) {
			ck_assert_msg(strstr(r.replies, GO "250 2.0.0 OK: queued as ") != NULL,
				      "a message of %zu octets under --max-size 100 was refused: %s",
				      n, r.replies);
			ck_assert_int_eq(test_count(&r, "new"), 1);
		} else {
			ck_assert_msg(strstr(r.replies, GO TOO_BIG) != NULL,
				      "a message of %zu octets under --max-size 100 was accepted", n);
			ck_assert_int_eq(test_count(&r, "new"), 0);
		}
		test_cleanup(&r);
	}
}
END_TEST

START_TEST(size_limit_ignores_stuffing_dots)
{
	/* A stuffed ".." is one octet of message: 25 lines "..", sent as 4
	 * octets each and 3 of message, and a line of 23 + CRLF make 100
	 * octets of message, within max 100 (128 sent with the end). */
	struct test_run r = {0};
	struct text in = {0};

	own_config(&r);
	r.cfg.max_size = 100;
	adds(&in, "EHLO c\r\nMAIL FROM:<a@x.example> SIZE=100\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
	repeat(&in, "..\r\n", 25);
	addn(&in, 'y', 23);
	adds(&in, "\r\n.\r\n");
	test_keep(&r, in.p);
	test_session(&r, in.p, in.len, 0);
	ck_assert_msg(strstr(r.replies, GO "250 2.0.0 OK: queued as ") != NULL,
		      "100 octets of message refused: %s", r.replies);
	test_cleanup(&r);
}
END_TEST

/* ---- command lines ---- */

START_TEST(line_length_boundary)
{
	/* 1000 octets with CRLF are a command; 1001 are too long, and smtpd
	 * resynchronises at the next line end without acting on the rest. */
	struct test_run r = {0};
	struct text in = {0};

	adds(&in, "EHLO c\r\nNOOP ");
	addn(&in, 'x', 993);		/* 998 + CRLF */
	adds(&in, "\r\nNOOP ");
	addn(&in, 'x', 994);		/* 999 + CRLF */
	adds(&in, "\r\nNOOP ");
	addn(&in, 'x', 994);		/* 999 + LF: 1000 with its line end */
	adds(&in, "\nNOOP ");
	addn(&in, 'x', 995);		/* 1000 + LF */
	adds(&in, "\nMAIL FROM:<a@x.example>");
	addn(&in, ' ', 1200);
	adds(&in, "QUIT\r\n"
		  "MAIL FROM:<a@x.example>\r\n"
		  "QUIT\r\n");
	test_keep(&r, in.p);
	test_session(&r, in.p, in.len, (size_t)_i);
	expect(&r, GREETING EHLO_REPLY
	       "250 2.0.0 OK\r\n"
	       TOO_LONG
	       "250 2.0.0 OK\r\n"
	       TOO_LONG
	       TOO_LONG
	       "250 2.1.0 OK\r\n"
	       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(very_long_line_resync)
{
	/* Far longer than the reader's buffer: skipped in pieces. */
	struct test_run r = {0};
	struct text in = {0};

	adds(&in, "HELO c\r\n");
	addn(&in, 'Q', 300000);
	adds(&in, "\r\nNOOP\r\n");
	addn(&in, 'q', 70000);
	test_keep(&r, in.p);
	test_session(&r, in.p, in.len, _i ? 4096 : 0);
	expect(&r, GREETING "250 mx.test\r\n"
	       "500 Line too long\r\n"
	       "250 OK\r\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(first_line_too_long)
{
	/* Nothing an SMTP client sends first is that long. */
	struct test_run r = {0};
	struct text in = {0};

	addn(&in, 'E', 2000);
	adds(&in, "\r\nEHLO c\r\n");
	test_keep(&r, in.p);
	test_session(&r, in.p, in.len, 0);
	expect(&r, GREETING NOT_SMTP);
	test_cleanup(&r);
}
END_TEST

START_TEST(nul_in_command)
{
	struct test_run r = {0};
	TEST_SESSION(&r, "EHLO c\r\nNO\0OP\r\nMAIL FROM:<a@x\0.example>\r\nNOOP\r\n");
	expect(&r, GREETING EHLO_REPLY UNKNOWN UNKNOWN "250 2.0.0 OK\r\n");
	test_cleanup(&r);
}
END_TEST

/* ---- the error budget ---- */

START_TEST(error_budget_defaults)
{
	/* 10 refusals free, each of the next 10 delayed 1000 ms; the 20th
	 * also ends the session with 421 4.7.0; nothing after it is read. */
	struct test_run r = {0};
	struct text in = {0}, want = {0};

	adds(&in, "EHLO c\r\nMAIL FROM:<a@x.example>\r\n");
	adds(&want, GREETING EHLO_REPLY "250 2.1.0 OK\r\n");
	for (int i = 0; i < 19; i++) {
		adds(&in, i % 2 ? "FOO\r\n" : "RCPT TO:<x@example.net>\r\n");
		adds(&want, i % 2 ? UNKNOWN : "550 5.7.1 Relaying denied\r\n");
	}
	adds(&in, "RCPT TO:<b@example.org>\r\n");	/* still fine */
	adds(&want, "250 2.1.5 OK\r\n");
	adds(&in, "HELO\r\nNOOP\r\nQUIT\r\n");
	adds(&want, "501 5.5.4 Syntax: HELO <domain>\r\n"
		    "421 4.7.0 mx.test Too many errors, closing transmission channel\r\n");
	test_keep(&r, in.p);
	test_keep(&r, want.p);
	test_session(&r, in.p, in.len, 0);
	expect(&r, want.p);
	ck_assert_uint_eq(r.tio.paused_ms, 10 * 1000);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(test_count(&r, "new"), 0);
	test_cleanup(&r);
}
END_TEST

START_TEST(error_budget_configured)
{
	struct test_run r = {0};
	own_config(&r);
	r.cfg.soft_errors = 2;
	r.cfg.hard_errors = 4;
	r.cfg.error_delay_ms = 250;
	test_session_str(&r, "HELO c\r\nA\r\nB\r\nNOOP\r\nC\r\nD\r\nE\r\n", 0);
	expect(&r, GREETING "250 mx.test\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "250 OK\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "421 mx.test Too many errors, closing transmission channel\r\n");
	ck_assert_uint_eq(r.tio.paused_ms, 2 * 250);
	test_cleanup(&r);
}
END_TEST

START_TEST(error_tarpit_without_hard_limit)
{
	/* hard_errors 0: no 421, but refusals past the soft limit still wait. */
	struct test_run r = {0};
	own_config(&r);
	r.cfg.soft_errors = 1;
	r.cfg.hard_errors = 0;
	r.cfg.error_delay_ms = 100;
	test_session_str(&r, "HELO c\r\nA\r\nB\r\nC\r\nQUIT\r\n", 0);
	expect(&r, GREETING "250 mx.test\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "221 mx.test Service closing transmission channel\r\n");
	ck_assert_uint_eq(r.tio.paused_ms, 2 * 100);
	test_cleanup(&r);
}
END_TEST

START_TEST(tarpit_ends_at_the_session_deadline)
{
	/* Commands already read need no wait for input, so the delays alone
	 * could hold the session far past --session-timeout: the pause that
	 * reaches the deadline ends it, with the deadline's 421. */
	struct test_run r = {0};
	own_config(&r);
	r.cfg.soft_errors = 0;
	r.cfg.hard_errors = 0;
	r.cfg.error_delay_ms = 1000;
	r.tio.deadline_ms = 2500;
	test_session_str(&r, "HELO c\r\nA\r\nB\r\nC\r\nD\r\nQUIT\r\n", 0);
	expect(&r, GREETING "250 mx.test\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "500 Syntax error, command unrecognized\r\n"
	       "421 mx.test Session time limit reached, closing transmission channel\r\n");
	ck_assert_uint_eq(r.tio.paused_ms, 2500);
	test_cleanup(&r);
}
END_TEST

START_TEST(tarpit_flushes_replies_first)
{
	/* The replies before a delayed one are out before the delay, so a
	 * pipelining client is not held up for the earlier ones. */
	struct test_run r = {0};
	own_config(&r);
	r.cfg.soft_errors = 1;
	r.cfg.error_delay_ms = 100;
	test_session_str(&r, "HELO c\r\nA\r\nB\r\nQUIT\r\n", 0);
	/* greeting; then everything up to the first 500 before B's pause;
	 * then B's 500 and 221 */
	ck_assert_uint_eq(r.tio.writes, 3);
	ck_assert_uint_eq(r.tio.paused_ms, 100);
	test_cleanup(&r);
}
END_TEST

/* ---- junk commands ---- */

START_TEST(junk_limit)
{
	struct test_run r = {0};
	own_config(&r);
	r.cfg.junk_limit = 5;
	test_session_str(&r, "EHLO c\r\n"
			     "NOOP\r\nRSET\r\nHELP\r\nVRFY x\r\nNOOP\r\n"
			     "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n.\r\n"
			     "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n"
			     "HELP DATA\r\n"
			     "QUIT\r\n", 0);
	expect(&r, GREETING EHLO_REPLY
	       "250 2.0.0 OK\r\n"
	       "250 2.0.0 OK\r\n"
	       "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP HELP VRFY SOML SAML QUIT\r\n"
	       "214-2.0.0 HELP <command> explains one; mail for people here goes to <postmaster>\r\n"
	       "214 2.0.0 End of HELP\r\n"
	       "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
	       "250 2.0.0 OK\r\n"
	       "250 2.1.0 OK\r\n" "250 2.1.5 OK\r\n" GO QUEUED
	       "250 2.0.0 OK\r\n" "250 2.0.0 OK\r\n" "250 2.0.0 OK\r\n"
	       "250 2.0.0 OK\r\n" "250 2.0.0 OK\r\n"
	       "421 4.7.0 mx.test Too many commands without mail, closing transmission channel\r\n");
	ck_assert_int_eq(test_count(&r, "new"), 1);
	test_cleanup(&r);
}
END_TEST

/* The limit is the number of junk commands allowed: --max-junk 1 takes one
 * NOOP, repeated EHLOs count from the second EHLO on. */
START_TEST(junk_limit_boundaries)
{
	struct test_run one = {0};
	own_config(&one);
	one.cfg.junk_limit = 1;
	test_session_str(&one, "EHLO c\r\nNOOP\r\nNOOP\r\nQUIT\r\n", 0);
	expect(&one, GREETING EHLO_REPLY "250 2.0.0 OK\r\n"
	       "421 4.7.0 mx.test Too many commands without mail, closing transmission channel\r\n");
	test_cleanup(&one);

	struct test_run four = {0};
	own_config(&four);
	four.cfg.junk_limit = 3;
	test_session_str(&four, "EHLO c\r\nEHLO c\r\nEHLO c\r\nEHLO c\r\nQUIT\r\n", 0);
	expect(&four, GREETING EHLO_REPLY EHLO_REPLY EHLO_REPLY EHLO_REPLY BYE);
	test_cleanup(&four);

	struct test_run five = {0};
	own_config(&five);
	five.cfg.junk_limit = 3;
	test_session_str(&five, "EHLO c\r\nEHLO c\r\nEHLO c\r\nEHLO c\r\nEHLO c\r\nQUIT\r\n", 0);
	expect(&five, GREETING EHLO_REPLY EHLO_REPLY EHLO_REPLY EHLO_REPLY
	       "421 4.7.0 mx.test Too many commands without mail, closing transmission channel\r\n");
	test_cleanup(&five);
}
END_TEST

/* VRFY without a table answers 252, which refuses nothing: it does not
 * spend the error budget (RFC 5321 7.3). */
START_TEST(vrfy_252_is_no_error)
{
	struct test_run r = {0};
	own_config(&r);
	r.cfg.hard_errors = 1;
	test_session_str(&r, "EHLO c\r\nVRFY x\r\nNOOP\r\nQUIT\r\n", 0);
	expect(&r, GREETING EHLO_REPLY
	       "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
	       "250 2.0.0 OK\r\n" BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(junk_limit_default)
{
	struct test_run r = {0};
	struct text in = {0}, want = {0};

	adds(&in, "HELO c\r\n");
	adds(&want, GREETING "250 mx.test\r\n");
	repeat(&in, "NOOP\r\n", 101);
	repeat(&want, "250 OK\r\n", 100);
	adds(&in, "QUIT\r\n");
	adds(&want, "421 mx.test Too many commands without mail, closing transmission channel\r\n");
	test_keep(&r, in.p);
	test_keep(&r, want.p);
	test_session(&r, in.p, in.len, 0);
	expect(&r, want.p);
	test_cleanup(&r);
}
END_TEST

/* ---- other protocols ---- */

START_TEST(other_protocol_first_line)
{
	static const char *const first[] = {
		"GET / HTTP/1.1\r\nHost: mx.test\r\n\r\n",
		"GET\r\n",
		"POST /x HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
		"HEAD / HTTP/1.1\r\n",
		"CONNECT mx.test:25 HTTP/1.1\r\n",
		"PUT /f HTTP/1.1\r\n",
		"\x16\x03\x01\x02\x10\x01\x03\x01\xfc\x03\x03\r\nEHLO c\r\n",
		"123 EHLO\r\n",
		"<html>\r\n",
		" EHLO c\r\n",
	};
	for (unsigned i = 0; i < sizeof first / sizeof first[0]; i++) {
		struct test_run r = {0};
		test_session_str(&r, first[i], 0);
		ck_assert_msg(strcmp(r.replies, GREETING NOT_SMTP) == 0,
			      "first line %u: %s", i, r.replies);
		ck_assert_int_eq(r.status, 0);
		test_cleanup(&r);
	}
}
END_TEST

START_TEST(binary_first_line_with_nul)
{
	/* The start of a TLS ClientHello: not a letter first, NULs inside.
	 * It is another protocol, NUL or not: 421 and close, not a 500 and
	 * a wait for more. */
	struct test_run r = {0};
	TEST_SESSION(&r, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n"
			 "EHLO c\r\n");
	ck_assert_str_eq(r.replies, GREETING NOT_SMTP);
	test_cleanup(&r);
}
END_TEST

START_TEST(other_protocol_later_or_on_terminal)
{
	/* Not on the first line: an unknown command.  On a terminal a person
	 * may mistype: an unknown command too. */
	struct test_run r = {0};
	test_session_str(&r, "HELO c\r\nGET / HTTP/1.1\r\nNOOP\r\n", 0);
	expect(&r, GREETING "250 mx.test\r\n"
	       "500 Syntax error, command unrecognized\r\n" "250 OK\r\n");
	test_cleanup(&r);

	struct test_run t = {0};
	own_config(&t);
	t.cfg.terminal = 1;
	test_session_str(&t, "GET / HTTP/1.1\n123\nNOOP\n", 0);
	expect(&t, GREETING "500 Syntax error, command unrecognized\r\n"
	       "500 Syntax error, command unrecognized\r\n" "250 OK\r\n");
	test_cleanup(&t);
}
END_TEST

START_TEST(long_first_line_on_terminal)
{
	struct test_run r = {0};
	struct text in = {0};

	own_config(&r);
	r.cfg.terminal = 1;
	addn(&in, 'x', 1500);
	adds(&in, "\nNOOP\n");
	test_keep(&r, in.p);
	test_session(&r, in.p, in.len, 0);
	expect(&r, GREETING "500 Line too long\r\n250 OK\r\n");
	test_cleanup(&r);
}
END_TEST

/* ---- input sent before its time ---- */

START_TEST(data_refused_with_input_pending)
{
	/* DATA was refused, but the message was sent already: acting on it
	 * as commands would be wrong (RFC 2920 3.1), so smtpd closes. */
	struct test_run r = {0};
	test_session_str(&r, "EHLO c\r\n"
			     "MAIL FROM:<a@x.example>\r\n"
			     "RCPT TO:<b@example.net>\r\n"
			     "DATA\r\n"
			     "RSET\r\n"
			     "MAIL FROM:<evil@x.example>\r\n"
			     ".\r\n"
			     "QUIT\r\n", _i == 0 ? 0 : 5);
	/* (In 5-byte reads the DATA line's LF arrives with the "R" of
	 * RSET.) */
	expect(&r, GREETING EHLO_REPLY
	       "250 2.1.0 OK\r\n"
	       "550 5.7.1 Relaying denied\r\n"
	       "554 5.5.1 No valid recipients\r\n"
	       "421 4.5.0 mx.test Improper pipelining: input sent before the reply, closing transmission channel\r\n");
	ck_assert_int_eq(test_count(&r, "new"), 0);
	test_cleanup(&r);
}
END_TEST

START_TEST(last_error_at_data_with_input_pending)
{
	/* The refused DATA was the error that ends the session: one 421. */
	struct test_run r = {0};
	own_config(&r);
	r.cfg.hard_errors = 2;
	test_session_str(&r, "HELO c\r\nFOO\r\nDATA\r\nbody\r\n.\r\n", 0);
	expect(&r, GREETING "250 mx.test\r\n" "500 Syntax error, command unrecognized\r\n"
	       "503 Bad sequence of commands: send MAIL first\r\n"
	       "421 mx.test Too many errors, closing transmission channel\r\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(data_without_mail_with_input_pending)
{
	struct test_run r = {0};
	test_session_str(&r, "HELO c\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n", 0);
	expect(&r, GREETING "250 mx.test\r\n"
	       "503 Bad sequence of commands: send MAIL first\r\n"
	       "421 mx.test Improper pipelining: input sent before the reply, closing transmission channel\r\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(greeting_delay)
{
	/* A client must wait for the greeting (RFC 5321 3.1). */
	struct test_run r = {0};
	own_config(&r);
	r.cfg.greet_delay = 3;
	test_session_str(&r, "EHLO early\r\nQUIT\r\n", 0);
	expect(&r, "554 Input sent before the greeting\r\n");
	ck_assert_uint_eq(r.tio.paused_ms, 3000);
	test_cleanup(&r);

	struct test_run w = {0};
	own_config(&w);
	w.cfg.greet_delay = 3;
	test_session_str(&w, "", 0);
	expect(&w, GREETING);
	ck_assert_uint_eq(w.tio.paused_ms, 3000);
	test_cleanup(&w);

	/* A session that runs out of time in the delay gets no greeting. */
	struct test_run d = {0};
	own_config(&d);
	d.cfg.greet_delay = 3;
	d.tio.deadline_ms = 1000;
	test_session_str(&d, "", 0);
	expect(&d, "421 mx.test Session time limit reached, closing transmission channel\r\n");
	test_cleanup(&d);

	/* Nor one that SIGTERM stops in the delay: 421 instead of 220.
	 * Before, the greeting went out, then the 421. */
	struct test_run t = {0};
	own_config(&t);
	t.cfg.greet_delay = 3;
	t.tio.signal_in_pause = 1;
	test_session_str(&t, "", 0);
	expect(&t, "421 mx.test Service shutting down, closing transmission channel\r\n");
	test_cleanup(&t);
}
END_TEST

/* ---- disk space ---- */

START_TEST(min_free)
{
	struct test_run r = {0};
	own_config(&r);
	r.cfg.min_free = ULLONG_MAX;
	test_session_str(&r, "EHLO c\r\n"
			     "MAIL FROM:<a@x.example>\r\n"
			     "RCPT TO:<b@example.org>\r\n"
			     "QUIT\r\n", 0);
	expect(&r, GREETING EHLO_REPLY
	       "452 4.3.1 Insufficient system storage; try again later\r\n"
	       "503 5.5.1 Bad sequence of commands: send MAIL first\r\n"
	       BYE);
	test_cleanup(&r);

	struct test_run ok = {0};
	own_config(&ok);
	ok.cfg.min_free = 1;
	test_session_str(&ok, "HELO c\r\nMAIL FROM:<a@x.example>\r\n", 0);
	expect(&ok, GREETING "250 mx.test\r\n250 OK\r\n");
	test_cleanup(&ok);
}
END_TEST

/* ---- waiting for a command ---- */

static void wait_ends(const char *input, ssize_t status, const char *want)
{
	struct test_run r = {0};
	r.tio.end_status = status;
	test_session_str(&r, input, TESTIO_LINES);
	ck_assert_int_eq(r.status, 0);
	expect(&r, want);
	test_cleanup(&r);
}

START_TEST(timeouts_and_signals)
{
	wait_ends("", IO_TIMEOUT, GREETING
		  "421 mx.test Timeout waiting for input, closing transmission channel\r\n");
	wait_ends("EHLO c\r\nMAIL FROM:<a@x.example>\r\n", IO_TIMEOUT,
		  GREETING EHLO_REPLY "250 2.1.0 OK\r\n"
		  "421 4.4.2 mx.test Timeout waiting for input, closing transmission channel\r\n");
	wait_ends("EHLO c\r\nNOO", IO_SIGNAL, GREETING EHLO_REPLY
		  "421 4.3.2 mx.test Service shutting down, closing transmission channel\r\n");
	wait_ends("HELO c\r\n", IO_SIGNAL, GREETING "250 mx.test\r\n"
		  "421 mx.test Service shutting down, closing transmission channel\r\n");
	wait_ends("EHLO c\r\n", IO_DEADLINE, GREETING EHLO_REPLY
		  "421 4.4.2 mx.test Session time limit reached, closing transmission channel\r\n");
	wait_ends("EHLO c\r\n", IO_ERROR, GREETING EHLO_REPLY);
	wait_ends("EHLO c\r\n", 0, GREETING EHLO_REPLY);
}
END_TEST

Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	test_base_init();

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, max_recipients);
	tcase_add_test(tc, default_max_recipients_is_100);
	tcase_add_test(tc, max_recipients_past_the_inline_list);
	tcase_add_test(tc, declared_size_over_max);
	tcase_add_test(tc, size_over_max_during_data);
	tcase_add_test(tc, oversized_message_dropped_at_once);
	tcase_add_test(tc, size_limit_is_the_message_size);
	tcase_add_test(tc, size_limit_ignores_stuffing_dots);
	tcase_add_loop_test(tc, line_length_boundary, 0, 2);
	tcase_add_loop_test(tc, very_long_line_resync, 0, 2);
	tcase_add_test(tc, first_line_too_long);
	tcase_add_test(tc, nul_in_command);
	tcase_add_test(tc, error_budget_defaults);
	tcase_add_test(tc, error_budget_configured);
	tcase_add_test(tc, error_tarpit_without_hard_limit);
	tcase_add_test(tc, tarpit_flushes_replies_first);
	tcase_add_test(tc, junk_limit);
	tcase_add_test(tc, junk_limit_default);
	tcase_add_test(tc, other_protocol_first_line);
	tcase_add_test(tc, junk_limit_boundaries);
	tcase_add_test(tc, vrfy_252_is_no_error);
	tcase_add_test(tc, binary_first_line_with_nul);
	tcase_add_test(tc, other_protocol_later_or_on_terminal);
	tcase_add_test(tc, long_first_line_on_terminal);
	tcase_add_loop_test(tc, data_refused_with_input_pending, 0, 2);
	tcase_add_test(tc, data_without_mail_with_input_pending);
	tcase_add_test(tc, last_error_at_data_with_input_pending);
	tcase_add_test(tc, greeting_delay);
	tcase_add_test(tc, tarpit_ends_at_the_session_deadline);
	tcase_add_test(tc, min_free);
	tcase_add_test(tc, timeouts_and_signals);
	suite_add_tcase(s, tc);
	return s;
}
