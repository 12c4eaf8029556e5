/*
 * check_session.c: the conversation, driven from strings against a
 * temporary spool; exact replies and exact file bytes.  Every command of
 * protocol.md with each of its replies, the sequence rules, addresses as
 * the session sees them, and pipelining.  (The DATA byte rules are in
 * check_data.c, the limits in check_limits.c.)
 */
#include "suites.h"
#include "replies.h"
#include "testio.h"

#define NEED_HELO "503 Bad sequence of commands: send HELO or EHLO first\r\n"
#define NEED_MAIL "503 5.5.1 Bad sequence of commands: send MAIL first\r\n"
#define RECEIVED_DATE "; Fri, 13 Nov 2026 12:00:00 +0000\n"

/* Run input (chunk bytes per read) and compare the whole transcript,
 * queue ids replaced by "ID". */
static void expect_replies(struct test_run *r, const char *input, size_t chunk,
			   const char *expected)
{
	test_session_str(r, input, chunk);
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(test_norm(r, r->replies), expected);
	ck_assert_int_eq(test_count(r, "tmp"), 0);
}

/* The n-th queued file, queue ids replaced by "ID". */
static const char *queued(struct test_run *r, unsigned n)
{
	const char *f = test_queued(r, n, NULL);

	ck_assert_ptr_nonnull(f);
	return test_norm(r, f);
}

START_TEST(worked_example)
{
	/* protocol.md's worked example, with our texts. */
	struct test_run r = {0};
	TEST_SESSION(&r, "HELO client.it\r\n"
			 "MAIL FROM:<mail@client.it>\r\n"
			 "RCPT TO:<mail@example.org>\r\n"
			 "RCPT TO:<nomail@elsewhere.it>\r\n"
			 "DATA\r\n"
			 "Corpo del messaggio\r\n"
			 ".\r\n"
			 "QUIT\r\n");
	ck_assert_int_eq(r.status, 0);
	const char *expect =
		"220 mx.test ESMTP smtpd\r\n"
		"250 mx.test\r\n"
		"250 OK\r\n"
		"250 OK\r\n"
		"550 Relaying denied\r\n"
		"354 Start mail input; end with <CRLF>.<CRLF>\r\n"
		"250 OK: queued as ";
	ck_assert_int_eq(strncmp(r.replies, expect, strlen(expect)), 0);
	ck_assert_ptr_nonnull(strstr(r.replies, "\r\n221 mx.test Service closing transmission channel\r\n"));
	ck_assert_int_eq(test_count(&r, "new"), 1);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	test_cleanup(&r);
}
END_TEST

START_TEST(worked_example_file)
{
	/* The same conversation: the whole transcript and the whole file. */
	struct test_run r = {0};
	expect_replies(&r, "HELO client.it\r\n"
			   "MAIL FROM:<mail@client.it>\r\n"
			   "RCPT TO:<mail@example.org>\r\n"
			   "RCPT TO:<nomail@elsewhere.it>\r\n"
			   "DATA\r\n"
			   "Corpo del messaggio\r\n"
			   ".\r\n"
			   "QUIT\r\n", 0,
		       GREETING
		       "250 mx.test\r\n"
		       "250 OK\r\n"
		       "250 OK\r\n"
		       "550 Relaying denied\r\n"
		       GO
		       "250 OK: queued as ID\r\n"
		       "221 mx.test Service closing transmission channel\r\n");
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <mail@client.it>\n"
			 "X-Original-To: <mail@example.org>\n"
			 "Received: from client.it ([192.0.2.1]) by mx.test with SMTP id ID for <mail@example.org>"
			 RECEIVED_DATE
			 "Corpo del messaggio\n");
	ck_assert_int_eq(test_count(&r, "new"), 1);
	/* The file is named by its queue id and our host name. */
	const char *id = test_queue_id(&r, 0);
	ck_assert_ptr_nonnull(strstr(id, ".M"));
	ck_assert_ptr_nonnull(strchr(id, 'P'));
	ck_assert_ptr_nonnull(strchr(id, 'Q'));
	test_cleanup(&r);
}
END_TEST

START_TEST(ehlo_lists_extensions)
{
	struct test_run r = {0};
	expect_replies(&r, "EHLO client.example\r\nQUIT\r\n", 0,
		       GREETING EHLO_REPLY BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(ehlo_advertises_max_size)
{
	struct test_run r = {0};
	test_spool(&r);
	test_config(&r.cfg, r.spool);
	r.cfg.max_size = 12345;
	expect_replies(&r, "EHLO c\r\n", 0,
		       GREETING "250-mx.test\r\n250-SIZE 12345\r\n250-8BITMIME\r\n"
		       "250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-SOML\r\n"
		       "250-SAML\r\n250 HELP\r\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(enhanced_codes_only_after_ehlo)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "NOOP\r\n"
		       "HELO c\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "RSET\r\n"
		       "EHLO c\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "NOOP\r\n"
		       "HELO c\r\n"
		       "NOOP\r\n"
		       "QUIT\r\n", 0,
		       GREETING
		       "250 OK\r\n"
		       "250 mx.test\r\n"
		       "250 OK\r\n"
		       "250 OK\r\n"
		       "250 OK\r\n"
		       EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 2.0.0 OK\r\n"
		       "250 mx.test\r\n"
		       "250 OK\r\n"
		       "221 mx.test Service closing transmission channel\r\n");
	test_cleanup(&r);
}
END_TEST

/* The HELO name is kept whole in Received: or refused: up to 255 octets. */
START_TEST(helo_name_length)
{
	struct test_run r = {0};
	char in[1024], want[2048];
	char n255[256], n256[257];

	memset(n255, 'a', 255);
	n255[255] = '\0';
	memset(n256, 'a', 256);
	n256[256] = '\0';
	snprintf(in, sizeof in, "HELO %s\r\nHELO %s\r\nQUIT\r\n", n256, n255);
	snprintf(want, sizeof want, GREETING "501 Syntax: HELO <domain>\r\n"
		 "250 mx.test\r\n221 mx.test Service closing transmission channel\r\n");
	expect_replies(&r, in, 0, want);
	test_cleanup(&r);
}
END_TEST

/* Trailing blanks, a tab included, end a command as spaces do. */
START_TEST(trailing_tab)
{
	struct test_run r = {0};
	expect_replies(&r, "HELO c\t\r\nRSET\t\r\nNOOP \t\r\nQUIT\t\r\n", 0,
		       GREETING "250 mx.test\r\n250 OK\r\n250 OK\r\n"
		       "221 mx.test Service closing transmission channel\r\n");
	test_cleanup(&r);
}
END_TEST

/* Once replies cannot be written (the client left, or stopped reading),
 * no command is acted on any more: a message whose 250 nobody sees must
 * not be stored, or the client's retry stores it twice. */
START_TEST(no_commands_after_replies_fail)
{
	struct test_run r = {0};
	char in[1024];
	size_t n = (size_t)sprintf(in, "EHLO c\r\n");

	for (int i = 0; i < 30; i++)	/* past the reply buffer: a flush fails */
		n += (size_t)sprintf(in + n, "HELP\r\n");
	n += (size_t)sprintf(in + n, "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\n"
			     "DATA\r\nx\r\n.\r\nQUIT\r\n");
	r.tio.writes_ok = 1;		/* the greeting only */
	test_session(&r, in, n, 0);
	ck_assert_int_eq(r.tio.writes, 2);
	ck_assert_int_eq(test_count(&r, "new"), 0);
	ck_assert_int_eq(test_count(&r, "tmp"), 0);
	test_cleanup(&r);
}
END_TEST

START_TEST(helo_bad_arguments)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "HELO\r\n"
		       "EHLO\r\n"
		       "HELO a b\r\n"
		       "HELO \xe9t\xe9\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "EHLO c\r\n"
		       "EHLO\r\n"
		       "HELO\r\n"
		       "QUIT\r\n", 0,
		       GREETING
		       "501 Syntax: HELO <domain>\r\n"
		       "501 Syntax: EHLO <domain>\r\n"
		       "501 Syntax: HELO <domain>\r\n"
		       "501 Syntax: HELO <domain>\r\n"
		       NEED_HELO
		       EHLO_REPLY
		       "501 5.5.4 Syntax: EHLO <domain>\r\n"
		       "501 5.5.4 Syntax: HELO <domain>\r\n"
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(second_helo_resets_transaction)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "EHLO c2\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "DATA\r\n"
		       "MAIL FROM:<z@x.example>\r\n"
		       "RCPT TO:<y@example.org>\r\n"
		       "HELO c3\r\n"
		       "RCPT TO:<y@example.org>\r\n"
		       "MAIL FROM:<w@x.example>\r\n"
		       "RCPT TO:<v@example.org>\r\n"
		       "DATA\r\n"
		       "hi\r\n"
		       ".\r\n"
		       "QUIT\r\n", TESTIO_LINES,
		       GREETING
		       EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       EHLO_REPLY
		       NEED_MAIL
		       NEED_MAIL
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 mx.test\r\n"
		       "503 Bad sequence of commands: send MAIL first\r\n"
		       "250 OK\r\n"
		       "250 OK\r\n"
		       GO
		       "250 OK: queued as ID\r\n"
		       "221 mx.test Service closing transmission channel\r\n");
	/* Only the last transaction, and the latest HELO name. */
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <w@x.example>\n"
			 "X-Original-To: <v@example.org>\n"
			 "Received: from c3 ([192.0.2.1]) by mx.test with SMTP id ID for <v@example.org>"
			 RECEIVED_DATE
			 "hi\n");
	ck_assert_int_eq(test_count(&r, "new"), 1);
	test_cleanup(&r);
}
END_TEST

START_TEST(mail_null_sender)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "DATA\r\n"
		       "bounce\r\n"
		       ".\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       GO QUEUED);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <>\n"
			 "X-Original-To: <b@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <b@example.org>"
			 RECEIVED_DATE
			 "bounce\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(mail_parameters)
{
	/* SIZE= (RFC 1870) and BODY= (RFC 6152); anything else 555.  Each
	 * refusal leaves no transaction behind: RCPT gets 503 after it. */
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<a@x.example> SIZE=1000 BODY=8BITMIME\r\n"
		       "RSET\r\n"
		       "MAIL FROM:<a@x.example> body=7bit size=0\r\n"
		       "RSET\r\n"
		       "MAIL FROM:<a@x.example> SIZE=10485760\r\n"
		       "RSET\r\n"
		       "MAIL FROM:<a@x.example>   BODY=8BITMIME   \r\n"
		       "RSET\r\n"
		       "MAIL FROM:<a@x.example> SIZE=10485761\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example> SIZE=99999999999999999999999\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example> SIZE=abc\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example> SIZE=\r\n"
		       "MAIL FROM:<a@x.example> SIZE=-1\r\n"
		       "MAIL FROM:<a@x.example> SIZE=1 SIZE=2\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example> BODY=BINARYMIME\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example> BODY=7BIT BODY=7BIT\r\n"
		       "MAIL FROM:<a@x.example> FOO=bar\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example> AUTH=<>\r\n"
		       "MAIL FROM:<a@x.example>SIZE=10\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "QUIT\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n" "250 2.0.0 OK\r\n"
		       "250 2.1.0 OK\r\n" "250 2.0.0 OK\r\n"
		       "250 2.1.0 OK\r\n" "250 2.0.0 OK\r\n"
		       "250 2.1.0 OK\r\n" "250 2.0.0 OK\r\n"
		       "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
		       NEED_MAIL
		       "501 5.5.4 Syntax: SIZE=<number>\r\n"
		       NEED_MAIL
		       "501 5.5.4 Syntax: SIZE=<number>\r\n"
		       NEED_MAIL
		       "501 5.5.4 Syntax: SIZE=<number>\r\n"
		       "501 5.5.4 Syntax: SIZE=<number>\r\n"
		       "501 5.5.4 Parameter given twice\r\n"
		       NEED_MAIL
		       "555 5.5.4 BODY must be 7BIT or 8BITMIME\r\n"
		       NEED_MAIL
		       "501 5.5.4 Parameter given twice\r\n"
		       "555 5.5.4 Unsupported parameter\r\n"
		       NEED_MAIL
		       "555 5.5.4 Unsupported parameter\r\n"
		       "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n"
		       NEED_MAIL
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(size_of_twenty_digits_is_too_big)
{
	/* RFC 1870 allows 20 digits; past 2^64 the value is too big (552),
	 * not a syntax error (501), as 21 digits are. */
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<a@x.example> SIZE=18446744073709551616\r\n"
		       "MAIL FROM:<a@x.example> SIZE=99999999999999999999\r\n"
		       "MAIL FROM:<a@x.example> SIZE=999999999999999999999\r\n"
		       "QUIT\r\n", 0,
		       GREETING EHLO_REPLY
		       "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
		       "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
		       "501 5.5.4 Syntax: SIZE=<number>\r\n"
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(mail_parameters_need_ehlo)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "HELO c\r\n"
		       "MAIL FROM:<a@x.example> SIZE=10\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example> BODY=8BITMIME\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "QUIT\r\n", 0,
		       GREETING "250 mx.test\r\n"
		       "555 MAIL parameters need EHLO\r\n"
		       "503 Bad sequence of commands: send MAIL first\r\n"
		       "555 MAIL parameters need EHLO\r\n"
		       "250 OK\r\n"
		       "221 mx.test Service closing transmission channel\r\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(mail_sequence)
{
	/* MAIL and RCPT before HELO, a second MAIL inside a transaction:
	 * 503, and the transaction that was open stays as it was. */
	struct test_run r = {0};
	expect_replies(&r,
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "DATA\r\n"
		       "EHLO c\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<first@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<second@x.example>\r\n"
		       "SOML FROM:<third@x.example>\r\n"
		       "RCPT TO:<c@example.org>\r\n"
		       "DATA\r\n"
		       "text\r\n"
		       ".\r\n"
		       "QUIT\r\n", TESTIO_LINES,
		       GREETING
		       NEED_HELO NEED_HELO NEED_HELO
		       EHLO_REPLY
		       NEED_MAIL
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "503 5.5.1 Bad sequence of commands: MAIL already given\r\n"
		       "503 5.5.1 Bad sequence of commands: MAIL already given\r\n"
		       "250 2.1.5 OK\r\n"
		       GO QUEUED BYE);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <first@x.example>\n"
			 "X-Original-To: <b@example.org>\n"
			 "X-Original-To: <c@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID"
			 RECEIVED_DATE
			 "text\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(mail_bad_syntax)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL\r\n"
		       "MAIL FROM:a@x.example\r\n"
		       "MAIL TO:<a@x.example>\r\n"
		       "MAIL FROM<a@x.example>\r\n"
		       "MAIL FROM:<a@x.example\r\n"
		       "MAIL FROM:<a b@x.example>\r\n"
		       "MAIL FROM:<a@x..example>\r\n"
		       "MAIL FROM:<a@-x.example>\r\n"
		       "MAIL FROM:<@x.example>\r\n"
		       "MAIL FROM:<a@>\r\n"
		       "MAIL FROM:<a>\r\n"
		       "MAIL FROM:<postmaster>\r\n"
		       "MAIL FROM:<a\xc3\xa9@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM: <a@x.example>\r\n"
		       "QUIT\r\n", 0,
		       GREETING EHLO_REPLY
		       "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
		       "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
		       "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
		       "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       "501 5.1.7 Bad address syntax\r\n"
		       NEED_MAIL
		       "250 2.1.0 OK\r\n"
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(rcpt_domains_and_postmaster)
{
	/* Our domain in any case; no relaying; postmaster bare or at one of
	 * our domains in any case (RFC 5321 4.5.1), but not elsewhere. */
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<user@example.org>\r\n"
		       "RCPT TO:<Bob@EXAMPLE.ORG>\r\n"
		       "RCPT TO:<user@example.net>\r\n"
		       "RCPT TO:<user@sub.example.org>\r\n"
		       "RCPT TO:<user@example.org.evil.example>\r\n"
		       "RCPT TO:<postmaster>\r\n"
		       "RCPT TO:<PostMaster@Example.Org>\r\n"
		       "RCPT TO:<postmaster@example.net>\r\n"
		       "RCPT TO:<POSTMASTER>\r\n"
		       "RCPT TO:<>\r\n"
		       "RCPT TO:<user@example.org> NOTIFY=NEVER\r\n"
		       "RCPT TO:<user@example.org>x\r\n"
		       "RCPT TO:user@example.org\r\n"
		       "RCPT FROM:<user@example.org>\r\n"
		       "RCPT\r\n"
		       "RCPT to: <last@example.org>\r\n"
		       "DATA\r\n"
		       ".\r\n"
		       "QUIT\r\n", 0,
		       GREETING EHLO_REPLY
		       NEED_MAIL
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "550 5.7.1 Relaying denied\r\n"
		       "550 5.7.1 Relaying denied\r\n"
		       "550 5.7.1 Relaying denied\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "550 5.7.1 Relaying denied\r\n"
		       "250 2.1.5 OK\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "555 5.5.4 Unsupported parameter\r\n"
		       "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
		       "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
		       "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
		       "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
		       "250 2.1.5 OK\r\n"
		       GO QUEUED BYE);
	/* In RCPT order, as sent (local parts keep their case); <POSTMASTER>
	 * is <postmaster> again, spooled once. */
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <a@x.example>\n"
			 "X-Original-To: <user@example.org>\n"
			 "X-Original-To: <Bob@EXAMPLE.ORG>\n"
			 "X-Original-To: <postmaster>\n"
			 "X-Original-To: <PostMaster@Example.Org>\n"
			 "X-Original-To: <last@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID"
			 RECEIVED_DATE);
	test_cleanup(&r);
}
END_TEST

START_TEST(rcpt_several_domains)
{
	struct test_run r = {0};
	test_spool(&r);
	test_config(&r.cfg, r.spool);
	r.cfg.domains[1] = "Example.COM";
	r.cfg.ndomains = 2;
	expect_replies(&r,
		       "HELO c\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<one@example.org>\r\n"
		       "RCPT TO:<two@example.com>\r\n"
		       "RCPT TO:<postmaster@EXAMPLE.com>\r\n"
		       "RCPT TO:<three@example.net>\r\n", 0,
		       GREETING "250 mx.test\r\n" "250 OK\r\n"
		       "250 OK\r\n" "250 OK\r\n" "250 OK\r\n"
		       "550 Relaying denied\r\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(duplicate_recipient_spooled_once)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "RCPT TO:<@hop.example:b@example.org>\r\n"
		       "DATA\r\n"
		       "once\r\n"
		       ".\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       GO QUEUED);
	/* One recipient, so the Received: line names it. */
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <a@x.example>\n"
			 "X-Original-To: <b@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <b@example.org>"
			 RECEIVED_DATE
			 "once\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(recipients_differing_in_case_are_two)
{
	/* Without a users table smtpd cannot know whether the delivering host
	 * folds case (RFC 5321 2.4: for some, smith and Smith are two users):
	 * John and john are both spooled.  The domain's case, quoting, and
	 * postmaster's case make no new recipient. */
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<John@example.org>\r\n"
		       "RCPT TO:<john@example.org>\r\n"
		       "RCPT TO:<john@EXAMPLE.org>\r\n"
		       "RCPT TO:<\"john\"@Example.Org>\r\n"
		       "RCPT TO:<POSTMASTER@example.org>\r\n"
		       "RCPT TO:<postmaster@Example.org>\r\n"
		       "DATA\r\n"
		       "x\r\n"
		       ".\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n" "250 2.1.5 OK\r\n" "250 2.1.5 OK\r\n"
		       "250 2.1.5 OK\r\n" "250 2.1.5 OK\r\n" "250 2.1.5 OK\r\n"
		       GO QUEUED);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <a@x.example>\n"
			 "X-Original-To: <John@example.org>\n"
			 "X-Original-To: <john@example.org>\n"
			 "X-Original-To: <POSTMASTER@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID"
			 RECEIVED_DATE
			 "x\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(data_sequence)
{
	/* DATA before HELO, before MAIL, before RCPT: 503; after RCPTs that
	 * were all refused: 554 No valid recipients (RFC 2920 3.1).  Each
	 * changes nothing: the good RCPT after them still works. */
	struct test_run r = {0};
	expect_replies(&r,
		       "DATA\r\n"
		       "EHLO c\r\n"
		       "DATA\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "DATA\r\n"
		       "RCPT TO:<b@example.net>\r\n"
		       "DATA\r\n"
		       "RCPT TO:<c@example.org>\r\n"
		       "DATA now\r\n"
		       "DATA\r\n"
		       "body\r\n"
		       ".\r\n"
		       "DATA\r\n"
		       "QUIT\r\n", TESTIO_LINES,
		       GREETING
		       NEED_HELO
		       EHLO_REPLY
		       NEED_MAIL
		       "250 2.1.0 OK\r\n"
		       "503 5.5.1 Bad sequence of commands: send RCPT first\r\n"
		       "550 5.7.1 Relaying denied\r\n"
		       "554 5.5.1 No valid recipients\r\n"
		       "250 2.1.5 OK\r\n"
		       "501 5.5.4 Syntax: DATA\r\n"
		       GO QUEUED
		       NEED_MAIL
		       BYE);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <a@x.example>\n"
			 "X-Original-To: <c@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <c@example.org>"
			 RECEIVED_DATE
			 "body\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(rset)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "RSET\r\n"
		       "EHLO c\r\n"
		       "MAIL FROM:<old@x.example>\r\n"
		       "RCPT TO:<old@example.org>\r\n"
		       "RSET x\r\n"
		       "RSET\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "DATA\r\n"
		       "MAIL FROM:<new@x.example>\r\n"
		       "RCPT TO:<new@example.org>\r\n"
		       "DATA\r\n"
		       "x\r\n"
		       ".\r\n"
		       "RSET\r\n"
		       "QUIT\r\n", TESTIO_LINES,
		       GREETING
		       "250 OK\r\n"
		       EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "501 5.5.4 Syntax: RSET\r\n"
		       "250 2.0.0 OK\r\n"
		       NEED_MAIL
		       NEED_MAIL
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       GO QUEUED
		       "250 2.0.0 OK\r\n"
		       BYE);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <new@x.example>\n"
			 "X-Original-To: <new@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <new@example.org>"
			 RECEIVED_DATE
			 "x\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(noop)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "NOOP\r\n"
		       "NOOP with an argument\r\n"
		       "EHLO c\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "NOOP\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "QUIT\r\n", 0,
		       GREETING
		       "250 OK\r\n" "250 OK\r\n"
		       EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.0.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(help)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "HELP\r\n"
		       "EHLO c\r\n"
		       "HELP\r\n"
		       "HELP mail\r\n"
		       "help RCPT\r\n"
		       "HELP TURN\r\n"
		       "HELP FOO\r\n"
		       "QUIT\r\n", 0,
		       GREETING
		       "214-Commands: HELO EHLO MAIL RCPT DATA RSET NOOP HELP VRFY SOML SAML QUIT\r\n"
		       "214-HELP <command> explains one; mail for people here goes to <postmaster>\r\n"
		       "214 End of HELP\r\n"
		       EHLO_REPLY
		       "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP HELP VRFY SOML SAML QUIT\r\n"
		       "214-2.0.0 HELP <command> explains one; mail for people here goes to <postmaster>\r\n"
		       "214 2.0.0 End of HELP\r\n"
		       "214 2.0.0 MAIL FROM:<sender> [SIZE=<bytes>] [BODY=7BIT|8BITMIME]: start a message\r\n"
		       "214 2.0.0 RCPT TO:<recipient>: add a recipient (once per recipient)\r\n"
		       "214 2.0.0 TURN: not offered (RFC 2505)\r\n"
		       "504 5.5.4 HELP topic unknown\r\n"
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(vrfy_expn_send_turn)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "VRFY bob\r\n"
		       "EHLO c\r\n"
		       "VRFY bob\r\n"
		       "VRFY <bob@example.org>\r\n"
		       "VRFY\r\n"
		       "EXPN staff\r\n"
		       "SEND FROM:<a@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "TURN\r\n"
		       "QUIT\r\n", 0,
		       GREETING
		       "252 Cannot VRFY user, but will accept message and attempt delivery\r\n"
		       EHLO_REPLY
		       "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
		       "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
		       "501 5.5.4 Syntax: VRFY <user>\r\n"
		       "502 5.5.1 Command not implemented\r\n"
		       "502 5.5.1 Command not implemented\r\n"
		       NEED_MAIL
		       "502 5.5.1 Command not implemented\r\n"
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(soml_saml_are_mail)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "SOML FROM:<soml@x.example>\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "DATA\r\n"
		       "one\r\n"
		       ".\r\n"
		       "saml from:<saml@x.example> SIZE=3\r\n"
		       "RCPT TO:<c@example.org>\r\n"
		       "DATA\r\n"
		       "two\r\n"
		       ".\r\n"
		       "QUIT\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n" "250 2.1.5 OK\r\n" GO QUEUED
		       "250 2.1.0 OK\r\n" "250 2.1.5 OK\r\n" GO QUEUED
		       BYE);
	ck_assert_int_eq(test_count(&r, "new"), 2);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <soml@x.example>\n"
			 "X-Original-To: <b@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <b@example.org>"
			 RECEIVED_DATE
			 "one\n");
	ck_assert_str_eq(queued(&r, 1),
			 "Return-Path: <saml@x.example>\n"
			 "X-Original-To: <c@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <c@example.org>"
			 RECEIVED_DATE
			 "two\n");
	/* Two messages of one session: two names. */
	ck_assert_str_ne(test_queue_id(&r, 0), test_queue_id(&r, 1));
	test_cleanup(&r);
}
END_TEST

START_TEST(quit)
{
	/* Nothing after QUIT is read as a command. */
	struct test_run r = {0};
	expect_replies(&r, "QUIT now\r\nQUIT\r\nNOOP\r\nHELO x\r\n", 0,
		       GREETING
		       "501 Syntax: QUIT\r\n"
		       "221 mx.test Service closing transmission channel\r\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(quit_ends_open_transaction)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\nQUIT\r\n", 0,
		       GREETING EHLO_REPLY "250 2.1.0 OK\r\n" "250 2.1.5 OK\r\n" BYE);
	ck_assert_int_eq(test_count(&r, "new"), 0);
	test_cleanup(&r);
}
END_TEST

START_TEST(unknown_command)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "HELO c\r\n"
		       "FOO\r\n"
		       "EHLO c\r\n"
		       "FOO bar\r\n"
		       "MAILFROM:<a@x.example>\r\n"
		       "\r\n"
		       " NOOP\r\n"
		       "QUIT\r\n", 0,
		       GREETING
		       "250 mx.test\r\n"
		       "500 Syntax error, command unrecognized\r\n"
		       EHLO_REPLY
		       "500 5.5.2 Syntax error, command unrecognized\r\n"
		       "500 5.5.2 Syntax error, command unrecognized\r\n"
		       "500 5.5.2 Syntax error, command unrecognized\r\n"
		       "500 5.5.2 Syntax error, command unrecognized\r\n"
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(verbs_any_case_local_part_kept)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "ehlo c\r\n"
		       "mail from:<Alice.Smith@Example.NET>\r\n"
		       "Rcpt To:<Bob.Jones@example.ORG>\r\n"
		       "dAtA\r\n"
		       "x\r\n"
		       ".\r\n"
		       "nOoP\r\n"
		       "quit\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n" "250 2.1.5 OK\r\n" GO QUEUED
		       "250 2.0.0 OK\r\n" BYE);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <Alice.Smith@Example.NET>\n"
			 "X-Original-To: <Bob.Jones@example.ORG>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <Bob.Jones@example.ORG>"
			 RECEIVED_DATE
			 "x\n");
	test_cleanup(&r);
}
END_TEST

/* A label of n letters. */
static char *label(char *p, size_t n, char c)
{
	memset(p, c, n);
	return p + n;
}

START_TEST(address_lengths)
{
	/* Local part up to 64 octets, domain up to 255 (RFC 5321 4.5.3.1). */
	struct test_run r = {0};
	char in[4096], *p = in;
	char dom255[256], dom256[257], *d;

	d = dom255;
	for (int i = 0; i < 4; i++) {
		d = label(d, 63, 'a' + i);
		*d++ = '.';
	}
	d[-1] = '\0';		/* 4 * 63 + 3 dots = 255 */
	ck_assert_uint_eq(strlen(dom255), 255);
	/* "x." and labels of 63, 63, 63, 62: 256 */
	memcpy(dom256, "x.", 2);
	memcpy(dom256 + 2, dom255, 254);
	dom256[256] = '\0';
	ck_assert_uint_eq(strlen(dom256), 256);

	p += sprintf(p, "EHLO c\r\nMAIL FROM:<");
	p = label(p, 64, 'l');
	p += sprintf(p, "@x.example>\r\nRSET\r\nMAIL FROM:<");
	p = label(p, 65, 'l');
	p += sprintf(p, "@x.example>\r\nMAIL FROM:<\"");
	p = label(p, 63, 'q');	/* with its quotes: 65 */
	p += sprintf(p, "\"@x.example>\r\nMAIL FROM:<a@%s>\r\nRSET\r\n", dom255);
	p += sprintf(p, "MAIL FROM:<a@%s>\r\n", dom256);
	p += sprintf(p, "MAIL FROM:<a@x.example>\r\nRCPT TO:<");
	p = label(p, 65, 'r');
	p += sprintf(p, "@example.org>\r\nRCPT TO:<");
	p = label(p, 64, 'r');
	p += sprintf(p, "@example.org>\r\nQUIT\r\n");
	expect_replies(&r, in, 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n" "250 2.0.0 OK\r\n"
		       "501 5.1.7 Address too long: local part over 64 or domain over 255 octets\r\n"
		       "501 5.1.7 Address too long: local part over 64 or domain over 255 octets\r\n"
		       "250 2.1.0 OK\r\n" "250 2.0.0 OK\r\n"
		       "501 5.1.7 Address too long: local part over 64 or domain over 255 octets\r\n"
		       "250 2.1.0 OK\r\n"
		       "501 5.1.3 Address too long: local part over 64 or domain over 255 octets\r\n"
		       "250 2.1.5 OK\r\n"
		       BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(quoted_local_parts)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<\"john doe\"@x.example>\r\n"
		       "RCPT TO:<\"a\\\"b\"@example.org>\r\n"
		       "RCPT TO:<\"unterminated@example.org>\r\n"
		       "RCPT TO:<\"\"@example.org>\r\n"
		       "RCPT TO:<\"x@y\"@example.org>\r\n"
		       "DATA\r\n"
		       ".\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       GO QUEUED);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <\"john doe\"@x.example>\n"
			 "X-Original-To: <\"a\\\"b\"@example.org>\n"
			 "X-Original-To: <\"\"@example.org>\n"
			 "X-Original-To: <\"x@y\"@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID"
			 RECEIVED_DATE);
	test_cleanup(&r);
}
END_TEST

START_TEST(domain_literals)
{
	/* [192.0.2.1] and [IPv6:...], the tag in any case. */
	struct test_run r = {0};
	test_spool(&r);
	test_config(&r.cfg, r.spool);
	r.cfg.domains[1] = "[192.0.2.1]";
	r.cfg.domains[2] = "[IPv6:2001:db8::1]";
	r.cfg.ndomains = 3;
	expect_replies(&r,
		       "EHLO [192.0.2.7]\r\n"
		       "MAIL FROM:<x@[IPV6:::1]>\r\n"
		       "RCPT TO:<a@[192.0.2.1]>\r\n"
		       "RCPT TO:<b@[ipv6:2001:db8::1]>\r\n"
		       "RCPT TO:<c@[IPv6:2001:DB8::1]>\r\n"
		       "RCPT TO:<d@[192.0.2.2]>\r\n"
		       "RCPT TO:<e@[192.0.2.256]>\r\n"
		       "RCPT TO:<f@[IPv6:1::2::3]>\r\n"
		       "RCPT TO:<g@[mx.example]>\r\n"
		       "RCPT TO:<h@[IPv6:192.0.2.1]>\r\n"
		       "RCPT TO:<i@[192.0.2.1>\r\n"
		       "RCPT TO:<j@[]>\r\n"
		       "DATA\r\n"
		       ".\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "550 5.7.1 Relaying denied\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       GO QUEUED);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <x@[IPV6:::1]>\n"
			 "X-Original-To: <a@[192.0.2.1]>\n"
			 "X-Original-To: <b@[ipv6:2001:db8::1]>\n"
			 "X-Original-To: <c@[IPv6:2001:DB8::1]>\n"
			 "Received: from [192.0.2.7] ([192.0.2.1]) by mx.test with ESMTP id ID"
			 RECEIVED_DATE);
	test_cleanup(&r);
}
END_TEST

START_TEST(source_routes_ignored)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<@relay.example,@[192.0.2.9]:alice@x.example>\r\n"
		       "RCPT TO:<@hop.example:bob@example.org>\r\n"
		       "RCPT TO:<@example.org:carol@example.net>\r\n"
		       "RCPT TO:<@hop.example;bob@example.org>\r\n"
		       "RCPT TO:<@:bob@example.org>\r\n"
		       "DATA\r\n"
		       ".\r\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n"
		       "250 2.1.5 OK\r\n"
		       "550 5.7.1 Relaying denied\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       GO QUEUED);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <alice@x.example>\n"
			 "X-Original-To: <bob@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <bob@example.org>"
			 RECEIVED_DATE);
	test_cleanup(&r);
}
END_TEST

START_TEST(refusals_leave_state_unchanged)
{
	/* A refused RCPT does not spoil the transaction; a refused MAIL opens
	 * none; syntax errors in between change nothing. */
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\r\n"
		       "MAIL FROM:<bad\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "MAIL FROM:<a@x.example>\r\n"
		       "RCPT TO:<b@example.net>\r\n"
		       "RCPT TO:<bad\r\n"
		       "RCPT TO:<b@example.org>\r\n"
		       "FOO\r\n"
		       "HELP nothing\r\n"
		       "RSET now\r\n"
		       "MAIL FROM:<other@x.example>\r\n"
		       "RCPT TO:<c@example.org> FOO=1\r\n"
		       "DATA\r\n"
		       "kept\r\n"
		       ".\r\n", 0,
		       GREETING EHLO_REPLY
		       "501 5.1.7 Bad address syntax\r\n"
		       NEED_MAIL
		       "250 2.1.0 OK\r\n"
		       "550 5.7.1 Relaying denied\r\n"
		       "501 5.1.3 Bad address syntax\r\n"
		       "250 2.1.5 OK\r\n"
		       "500 5.5.2 Syntax error, command unrecognized\r\n"
		       "504 5.5.4 HELP topic unknown\r\n"
		       "501 5.5.4 Syntax: RSET\r\n"
		       "503 5.5.1 Bad sequence of commands: MAIL already given\r\n"
		       "555 5.5.4 Unsupported parameter\r\n"
		       GO QUEUED);
	ck_assert_str_eq(queued(&r, 0),
			 "Return-Path: <a@x.example>\n"
			 "X-Original-To: <b@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <b@example.org>"
			 RECEIVED_DATE
			 "kept\n");
	ck_assert_int_eq(test_count(&r, "new"), 1);
	test_cleanup(&r);
}
END_TEST

static const char pipelined[] =
	"EHLO c\r\n"
	"MAIL FROM:<a@x.example> SIZE=100\r\n"
	"RCPT TO:<b@example.org>\r\n"
	"RCPT TO:<c@example.net>\r\n"
	"RCPT TO:<d@example.org>\r\n"
	"DATA\r\n"
	"Subject: one\r\n"
	"\r\n"
	"first\r\n"
	".\r\n"
	"MAIL FROM:<e@x.example>\r\n"
	"RCPT TO:<f@example.org>\r\n"
	"NOOP\r\n"
	"DATA\r\n"
	"second\r\n"
	".\r\n"
	"RSET\r\n"
	"QUIT\r\n";

static const char pipelined_replies[] =
	GREETING EHLO_REPLY
	"250 2.1.0 OK\r\n"
	"250 2.1.5 OK\r\n"
	"550 5.7.1 Relaying denied\r\n"
	"250 2.1.5 OK\r\n"
	GO QUEUED
	"250 2.1.0 OK\r\n"
	"250 2.1.5 OK\r\n"
	"250 2.0.0 OK\r\n"
	GO QUEUED
	"250 2.0.0 OK\r\n"
	BYE;

static void check_pipelined_files(struct test_run *r)
{
	ck_assert_int_eq(test_count(r, "new"), 2);
	ck_assert_str_eq(queued(r, 0),
			 "Return-Path: <a@x.example>\n"
			 "X-Original-To: <b@example.org>\n"
			 "X-Original-To: <d@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID"
			 RECEIVED_DATE
			 "Subject: one\n\nfirst\n");
	ck_assert_str_eq(queued(r, 1),
			 "Return-Path: <e@x.example>\n"
			 "X-Original-To: <f@example.org>\n"
			 "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <f@example.org>"
			 RECEIVED_DATE
			 "second\n");
}

START_TEST(pipelining_one_write)
{
	/* The whole conversation in one read: every reply, in order, and
	 * written together when smtpd waits for more (RFC 2920 3.2): the
	 * greeting before the first read, all the rest before the second. */
	struct test_run r = {0};
	expect_replies(&r, pipelined, 0, pipelined_replies);
	ck_assert_uint_eq(r.tio.writes, 2);
	check_pipelined_files(&r);
	test_cleanup(&r);
}
END_TEST

START_TEST(pipelining_byte_by_byte)
{
	struct test_run r = {0};
	expect_replies(&r, pipelined, 1, pipelined_replies);
	check_pipelined_files(&r);
	test_cleanup(&r);
}
END_TEST

START_TEST(pipelining_line_by_line)
{
	struct test_run r = {0};
	expect_replies(&r, pipelined, TESTIO_LINES, pipelined_replies);
	check_pipelined_files(&r);
	test_cleanup(&r);
}
END_TEST

/* Record how much had been written at each read. */
struct written_at {
	size_t outlen[64];
	unsigned n;
};

static void record_written(struct testio *t, void *arg)
{
	struct written_at *w = arg;

	if (w->n < 64)
		w->outlen[w->n++] = t->outlen;
}

START_TEST(replies_written_before_each_wait)
{
	/* A client that waits for each reply gets it before smtpd reads
	 * again: every reply is out when the next line is asked for. */
	struct test_run r = {0};
	struct written_at w = {{0}, 0};
	r.tio.before_read = record_written;
	r.tio.hook_arg = &w;
	test_session_str(&r, "HELO c\r\nNOOP\r\nQUIT\r\n", TESTIO_LINES);
	ck_assert_uint_ge(w.n, 3);
	ck_assert_uint_eq(w.outlen[0], strlen(GREETING));
	ck_assert_uint_eq(w.outlen[1], strlen(GREETING "250 mx.test\r\n"));
	ck_assert_uint_eq(w.outlen[2], strlen(GREETING "250 mx.test\r\n250 OK\r\n"));
	ck_assert_str_eq(r.replies, GREETING "250 mx.test\r\n250 OK\r\n"
			 "221 mx.test Service closing transmission channel\r\n");
	test_cleanup(&r);
}
END_TEST

START_TEST(bare_lf_ends_a_command)
{
	struct test_run r = {0};
	expect_replies(&r,
		       "EHLO c\n"
		       "MAIL FROM:<a@x.example>\n"
		       "RCPT TO:<b@example.org>\n"
		       "DATA\n"
		       "lf\r\n"
		       ".\r\n"
		       "QUIT\n", 0,
		       GREETING EHLO_REPLY
		       "250 2.1.0 OK\r\n" "250 2.1.5 OK\r\n" GO QUEUED BYE);
	test_cleanup(&r);
}
END_TEST

START_TEST(eof_without_quit)
{
	struct test_run r = {0};
	expect_replies(&r, "EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.org>\r\nNOOP", 0,
		       GREETING EHLO_REPLY "250 2.1.0 OK\r\n" "250 2.1.5 OK\r\n");
	ck_assert_int_eq(test_count(&r, "new"), 0);
	test_cleanup(&r);
}
END_TEST

Suite *session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("conversation");

	test_base_init();

	tcase_add_test(tc, worked_example);
	tcase_add_test(tc, helo_name_length);
	tcase_add_test(tc, trailing_tab);
	tcase_add_test(tc, no_commands_after_replies_fail);
	tcase_add_test(tc, worked_example_file);
	tcase_add_test(tc, ehlo_lists_extensions);
	tcase_add_test(tc, ehlo_advertises_max_size);
	tcase_add_test(tc, enhanced_codes_only_after_ehlo);
	tcase_add_test(tc, helo_bad_arguments);
	tcase_add_test(tc, second_helo_resets_transaction);
	tcase_add_test(tc, mail_null_sender);
	tcase_add_test(tc, mail_parameters);
	tcase_add_test(tc, size_of_twenty_digits_is_too_big);
	tcase_add_test(tc, mail_parameters_need_ehlo);
	tcase_add_test(tc, mail_sequence);
	tcase_add_test(tc, mail_bad_syntax);
	tcase_add_test(tc, rcpt_domains_and_postmaster);
	tcase_add_test(tc, rcpt_several_domains);
	tcase_add_test(tc, duplicate_recipient_spooled_once);
	tcase_add_test(tc, recipients_differing_in_case_are_two);
	tcase_add_test(tc, data_sequence);
	tcase_add_test(tc, rset);
	tcase_add_test(tc, noop);
	tcase_add_test(tc, help);
	tcase_add_test(tc, vrfy_expn_send_turn);
	tcase_add_test(tc, soml_saml_are_mail);
	tcase_add_test(tc, quit);
	tcase_add_test(tc, quit_ends_open_transaction);
	tcase_add_test(tc, unknown_command);
	tcase_add_test(tc, verbs_any_case_local_part_kept);
	tcase_add_test(tc, address_lengths);
	tcase_add_test(tc, quoted_local_parts);
	tcase_add_test(tc, domain_literals);
	tcase_add_test(tc, source_routes_ignored);
	tcase_add_test(tc, refusals_leave_state_unchanged);
	tcase_add_test(tc, bare_lf_ends_a_command);
	tcase_add_test(tc, eof_without_quit);
	suite_add_tcase(s, tc);

	tc = tcase_create("pipelining");
	tcase_add_test(tc, pipelining_one_write);
	tcase_add_test(tc, pipelining_byte_by_byte);
	tcase_add_test(tc, pipelining_line_by_line);
	tcase_add_test(tc, replies_written_before_each_wait);
	suite_add_tcase(s, tc);
	return s;
}
