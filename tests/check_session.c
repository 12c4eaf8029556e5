/*
 * check_session.c: the conversation, driven from strings against a
 * temporary spool; exact replies and exact file bytes.
 */
#include "suites.h"
#include "testio.h"

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

Suite *session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("conversation");

	tcase_add_test(tc, worked_example);
	suite_add_tcase(s, tc);
	return s;
}
