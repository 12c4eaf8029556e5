/*
 * check_reply.c: reply.c on its own.  Texts with and without enhanced
 * status codes, multi-line replies, the buffering (nothing is written
 * before a flush, and a full buffer writes what it holds first), the
 * 512-octet line bound, a peer that is gone, and the one mapping of
 * storage errors to replies.
 */
#include "suites.h"
#include "testio.h"

struct replies {
	struct testio tio;
	struct io io;
	struct reply r;
};

static void setup(struct replies *x, int enhanced)
{
	memset(x, 0, sizeof *x);
	testio_bind(&x->tio, &x->io);
	reply_init(&x->r, &x->io);
	x->r.enhanced = enhanced;
}

/* Flush and return everything written; freed by done(). */
static const char *written(struct replies *x)
{
	ck_assert_int_eq(reply_flush(&x->r), 0);
	return x->tio.out ? x->tio.out : "";
}

static void done(struct replies *x)
{
	free(x->tio.out);
	x->tio.out = NULL;
}

START_TEST(enhanced_codes_on_and_off)
{
	static const struct {
		enum reply_id id;
		const char *arg, *plain, *enhanced;
	} cases[] = {
		{R_GREETING, "mx.test", "220 mx.test ESMTP smtpd\r\n", "220 mx.test ESMTP smtpd\r\n"},
		{R_HELO, "mx.test", "250 mx.test\r\n", "250 mx.test\r\n"},
		{R_DONE, NULL, "250 OK\r\n", "250 2.0.0 OK\r\n"},
		{R_MAIL_OK, NULL, "250 OK\r\n", "250 2.1.0 OK\r\n"},
		{R_RCPT_OK, NULL, "250 OK\r\n", "250 2.1.5 OK\r\n"},
		{R_QUEUED, "1.M2P3Q4", "250 OK: queued as 1.M2P3Q4\r\n",
		 "250 2.0.0 OK: queued as 1.M2P3Q4\r\n"},
		{R_VRFY_CANNOT, NULL,
		 "252 Cannot VRFY user, but will accept message and attempt delivery\r\n",
		 "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"},
		/* 354 has no enhanced code: RFC 3463 has no class 3. */
		{R_DATA_GO, NULL, "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
		 "354 Start mail input; end with <CRLF>.<CRLF>\r\n"},
		{R_QUIT, "mx.test", "221 mx.test Service closing transmission channel\r\n",
		 "221 2.0.0 mx.test Service closing transmission channel\r\n"},
		{R_SHUTDOWN, "mx.test",
		 "421 mx.test Service shutting down, closing transmission channel\r\n",
		 "421 4.3.2 mx.test Service shutting down, closing transmission channel\r\n"},
		{R_TIMEOUT, "mx.test",
		 "421 mx.test Timeout waiting for input, closing transmission channel\r\n",
		 "421 4.4.2 mx.test Timeout waiting for input, closing transmission channel\r\n"},
		{R_TOO_MANY_ERRORS, "mx.test",
		 "421 mx.test Too many errors, closing transmission channel\r\n",
		 "421 4.7.0 mx.test Too many errors, closing transmission channel\r\n"},
		{R_SPOOL_UNUSABLE, "mx.test",
		 "421 mx.test Mail spool unavailable, closing transmission channel\r\n",
		 "421 4.3.0 mx.test Mail spool unavailable, closing transmission channel\r\n"},
		{R_TOO_MANY_RCPTS, NULL, "452 Too many recipients\r\n",
		 "452 4.5.3 Too many recipients\r\n"},
		{R_UNKNOWN_COMMAND, NULL, "500 Syntax error, command unrecognized\r\n",
		 "500 5.5.2 Syntax error, command unrecognized\r\n"},
		{R_LINE_TOO_LONG, NULL, "500 Line too long\r\n", "500 5.5.2 Line too long\r\n"},
		{R_SYNTAX, "Syntax: RSET", "501 Syntax: RSET\r\n", "501 5.5.4 Syntax: RSET\r\n"},
		{R_BAD_ADDRESS, NULL, "501 Bad address syntax\r\n", "501 5.1.3 Bad address syntax\r\n"},
		{R_NOT_IMPLEMENTED, NULL, "502 Command not implemented\r\n",
		 "502 5.5.1 Command not implemented\r\n"},
		{R_HELP_UNKNOWN, NULL, "504 HELP topic unknown\r\n", "504 5.5.4 HELP topic unknown\r\n"},
		{R_RELAY_DENIED, NULL, "550 Relaying denied\r\n", "550 5.7.1 Relaying denied\r\n"},
		{R_TOO_BIG, NULL, "552 Message size exceeds fixed maximum message size\r\n",
		 "552 5.3.4 Message size exceeds fixed maximum message size\r\n"},
		{R_NO_VALID_RCPTS, NULL, "554 No valid recipients\r\n",
		 "554 5.5.1 No valid recipients\r\n"},
		{R_NUL_IN_DATA, NULL, "554 Message contains NUL bytes\r\n",
		 "554 5.6.0 Message contains NUL bytes\r\n"},
		{R_LOOP, NULL, "554 Too many Received: headers: mail loop\r\n",
		 "554 5.4.6 Too many Received: headers: mail loop\r\n"},
		{R_BAD_PARAMETER, "Unsupported parameter", "555 Unsupported parameter\r\n",
		 "555 5.5.4 Unsupported parameter\r\n"},
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int e = 0; e <= 1; e++) {
			struct replies x;
			setup(&x, e);
			reply_send(&x.r, cases[i].id, cases[i].arg);
			ck_assert_str_eq(written(&x), e ? cases[i].enhanced : cases[i].plain);
			done(&x);
		}
	}
}
END_TEST

START_TEST(every_reply_well_formed)
{
	/* Each entry of the table: a 3-digit code from 2xx to 5xx, its
	 * enhanced code (if any) of the same class (RFC 3463 2), one line
	 * ended by CRLF, at most 512 octets (RFC 5321 4.5.3.1.5). */
	for (int id = 0; id < R_COUNT; id++) {
		struct replies x;
		setup(&x, 1);
		reply_send(&x.r, (enum reply_id)id, "arg");
		const char *out = written(&x);
		size_t len = strlen(out);
		int code = reply_code((enum reply_id)id);

		ck_assert_msg(code >= 200 && code <= 599, "reply %d: code %d", id, code);
		ck_assert_msg(len >= 6 && len <= 512, "reply %d: %zu octets", id, len);
		ck_assert_msg(strcmp(out + len - 2, "\r\n") == 0 &&
			      strcspn(out, "\r\n") == len - 2, "reply %d: not one line", id);
		char head[8];
		snprintf(head, sizeof head, "%d ", code);
		ck_assert_msg(strncmp(out, head, 4) == 0, "reply %d: %s", id, out);
		if (out[4] >= '2' && out[4] <= '5' && out[5] == '.')
			ck_assert_msg(out[4] == out[0], "reply %d: class of %s", id, out);
		done(&x);
	}
}
END_TEST

START_TEST(multi_line)
{
	struct replies x;

	setup(&x, 1);
	reply_line(&x.r, 250, NULL, 1, "mx.test");
	reply_line(&x.r, 250, NULL, 1, "SIZE 100");
	reply_line(&x.r, 250, NULL, 0, "HELP");
	reply_line(&x.r, 214, "2.0.0", 1, "first");
	reply_line(&x.r, 214, "2.0.0", 0, "last");
	ck_assert_str_eq(written(&x),
			 "250-mx.test\r\n250-SIZE 100\r\n250 HELP\r\n"
			 "214-2.0.0 first\r\n214 2.0.0 last\r\n");
	done(&x);

	setup(&x, 0);
	reply_line(&x.r, 214, "2.0.0", 1, "first");
	reply_line(&x.r, 214, "2.0.0", 0, "last");
	ck_assert_str_eq(written(&x), "214-first\r\n214 last\r\n");
	done(&x);
}
END_TEST

START_TEST(buffered_until_flush)
{
	/* Replies wait for the flush (RFC 2920 3.2), then go in one write. */
	struct replies x;

	setup(&x, 1);
	reply_send(&x.r, R_MAIL_OK, NULL);
	reply_send(&x.r, R_RCPT_OK, NULL);
	reply_send(&x.r, R_DATA_GO, NULL);
	ck_assert_uint_eq(x.tio.writes, 0);
	ck_assert_uint_eq(x.tio.outlen, 0);
	ck_assert_int_eq(reply_flush(&x.r), 0);
	ck_assert_uint_eq(x.tio.writes, 1);
	ck_assert_str_eq(x.tio.out, "250 2.1.0 OK\r\n250 2.1.5 OK\r\n"
			 "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
	/* Nothing queued: no write at all. */
	ck_assert_int_eq(reply_flush(&x.r), 0);
	ck_assert_uint_eq(x.tio.writes, 1);
	done(&x);
}
END_TEST

START_TEST(full_buffer_written_first)
{
	/* More than the buffer holds: written in order, nothing lost. */
	struct replies x;
	char want[16384] = "", line[64];

	setup(&x, 0);
	for (int i = 0; i < 500; i++) {
		snprintf(line, sizeof line, "entry %03d", i);
		reply_line(&x.r, 250, NULL, i < 499, line);
		snprintf(line, sizeof line, "250%centry %03d\r\n", i < 499 ? '-' : ' ', i);
		strcat(want, line);
	}
	ck_assert_uint_gt(strlen(want), sizeof x.r.buf);
	ck_assert_uint_ge(x.tio.writes, 1);
	ck_assert_str_eq(written(&x), want);
	done(&x);
}
END_TEST

START_TEST(long_text_cut_to_512)
{
	struct replies x;
	char arg[2000];

	memset(arg, 'a', sizeof arg - 1);
	arg[sizeof arg - 1] = '\0';
	for (int e = 0; e <= 1; e++) {
		setup(&x, e);
		reply_send(&x.r, R_SYNTAX, arg);
		reply_line(&x.r, 214, "2.0.0", 0, arg);
		const char *out = written(&x);
		const char *second = strstr(out, "\r\n") + 2;
		ck_assert_uint_le((size_t)(second - out), 512);
		ck_assert_uint_le(strlen(second), 512);
		ck_assert_int_eq(strncmp(out, e ? "501 5.5.4 aaa" : "501 aaa", e ? 13 : 7), 0);
		ck_assert_int_eq(strncmp(second, e ? "214 2.0.0 aaa" : "214 aaa", e ? 13 : 7), 0);
		ck_assert_str_eq(out + strlen(out) - 2, "\r\n");
		ck_assert_uint_eq(strcspn(second, "\r\n"), strlen(second) - 2);
		done(&x);
	}
}
END_TEST

START_TEST(argument_is_not_a_format)
{
	struct replies x;

	setup(&x, 1);
	reply_send(&x.r, R_SYNTAX, "%s%n%d %%");
	reply_send(&x.r, R_HELO, NULL);
	ck_assert_str_eq(written(&x), "501 5.5.4 %s%n%d %%\r\n250 \r\n");
	done(&x);
}
END_TEST

static int write_fails(void *ctx, const void *buf, size_t n)
{
	struct testio *t = ctx;

	(void)buf;
	(void)n;
	t->writes++;
	return -1;
}

START_TEST(peer_gone)
{
	/* A failed write marks the peer gone: no more writes are tried. */
	struct replies x;

	setup(&x, 1);
	x.io.write = write_fails;
	reply_send(&x.r, R_DONE, NULL);
	ck_assert_int_eq(reply_flush(&x.r), -1);
	ck_assert_int_eq(x.r.broken, 1);
	reply_send(&x.r, R_DONE, NULL);
	ck_assert_int_eq(reply_flush(&x.r), -1);
	ck_assert_uint_eq(x.tio.writes, 1);
	ck_assert_uint_eq(x.r.len, 0);
	done(&x);
}
END_TEST

START_TEST(store_errors)
{
	/* The one place a storage failure becomes a reply. */
	struct replies x;

	ck_assert_int_eq(reply_for_store(STORE_NOSPACE), R_STORE_NOSPACE);
	ck_assert_int_eq(reply_for_store(STORE_IO), R_STORE_IO);
	ck_assert_int_eq(reply_code(reply_for_store(STORE_NOSPACE)), 452);
	ck_assert_int_eq(reply_code(reply_for_store(STORE_IO)), 451);
	setup(&x, 1);
	reply_send(&x.r, reply_for_store(STORE_NOSPACE), NULL);
	reply_send(&x.r, reply_for_store(STORE_IO), NULL);
	ck_assert_str_eq(written(&x),
			 "452 4.3.1 Insufficient system storage; try again later\r\n"
			 "451 4.3.0 Local error in processing; try again later\r\n");
	done(&x);
	setup(&x, 0);
	reply_send(&x.r, reply_for_store(STORE_NOSPACE), NULL);
	reply_send(&x.r, reply_for_store(STORE_IO), NULL);
	ck_assert_str_eq(written(&x),
			 "452 Insufficient system storage; try again later\r\n"
			 "451 Local error in processing; try again later\r\n");
	done(&x);
}
END_TEST

Suite *reply_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("replies");

	tcase_add_test(tc, enhanced_codes_on_and_off);
	tcase_add_test(tc, every_reply_well_formed);
	tcase_add_test(tc, multi_line);
	tcase_add_test(tc, buffered_until_flush);
	tcase_add_test(tc, full_buffer_written_first);
	tcase_add_test(tc, long_text_cut_to_512);
	tcase_add_test(tc, argument_is_not_a_format);
	tcase_add_test(tc, peer_gone);
	tcase_add_test(tc, store_errors);
	suite_add_tcase(s, tc);
	return s;
}
