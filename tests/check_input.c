/*
 * check_input.c: input.c on its own.  Lines with CRLF and with a bare LF,
 * the 1000-octet bound at its exact edge, resynchronisation after a line
 * that is too long (also one far longer than the buffer), the end of
 * input and the io statuses, the flush-before-wait rule that makes
 * pipelining correct, and the DATA interface (peek, consume).
 */
#include "suites.h"
#include "testio.h"

struct reader {
	struct testio tio;
	struct io io;
	struct reply out;
	struct input in;
};

/* The reader is large (its buffer): one per test, static. */
static struct reader rd;

static struct input *reader(const char *s, size_t len, size_t chunk)
{
	free(rd.tio.out);
	memset(&rd, 0, sizeof rd);
	rd.tio.in = s;
	rd.tio.inlen = len;
	rd.tio.chunk = chunk;
	testio_bind(&rd.tio, &rd.io);
	reply_init(&rd.out, &rd.io);
	input_init(&rd.in, &rd.io, &rd.out);
	return &rd.in;
}

static void reader_done(void)
{
	free(rd.tio.out);
	rd.tio.out = NULL;
}

/* The next result must be a line of exactly want (want_len octets).  (One
 * check, made only on failure: every Check assertion costs a write to the
 * runner, and this is called for a great many lines.) */
static void expect_line(struct input *in, const char *want, size_t want_len, int want_lf)
{
	char *line = NULL;
	size_t len = 0;
	int lf = -1;
	int r = input_line(in, &line, &len, &lf);

	if (r != IN_LINE || len != want_len || memcmp(line, want, len) != 0 ||
	    line[len] != '\0' || lf != want_lf)
		ck_abort_msg("wanted a line of %zu octets \"%.40s\" (lf_only %d); "
			     "got result %d, %zu octets \"%.40s\" (lf_only %d)",
			     want_len, want, want_lf, r, len,
			     r == IN_LINE ? line : "", lf);
}

#define LINE(in, s, lf) expect_line((in), (s), sizeof(s) - 1, (lf))

static int next(struct input *in)
{
	char *line;
	size_t len;
	int lf;

	return input_line(in, &line, &len, &lf);
}

static const size_t chunks[] = {0, 1, 2, 7, 999, 1000, 1001, TESTIO_LINES};
#define NCHUNKS (sizeof chunks / sizeof chunks[0])

START_TEST(lines)
{
	static const char s[] = "HELO a\r\n"
				"NOOP\n"
				"\r\n"
				"\n"
				"A\rB\r\n"
				"x\r\r\n"
				"A\0B\r\n"
				"last";
	struct input *in = reader(s, sizeof s - 1, chunks[_i]);

	LINE(in, "HELO a", 0);
	LINE(in, "NOOP", 1);		/* bare LF: flagged */
	LINE(in, "", 0);
	LINE(in, "", 1);
	LINE(in, "A\rB", 0);		/* a CR inside stays */
	LINE(in, "x\r", 0);
	LINE(in, "A\0B", 0);		/* NUL inside: the length tells */
	/* "last" has no line end: dropped at EOF. */
	ck_assert_int_eq(next(in), IN_EOF);
	ck_assert_int_eq(next(in), IN_EOF);
	reader_done();
}
END_TEST

/* "N" then n-1 more octets of 'x': a line of n octets. */
static size_t fill_line(char *p, size_t n, const char *end)
{
	p[0] = 'N';
	memset(p + 1, 'x', n - 1);
	strcpy(p + n, end);
	return n + strlen(end);
}

START_TEST(length_boundary)
{
	/* RFC 5321 4.5.3.1.4 allows 512 octets with CRLF; we take 1000. */
	static char s[8192];
	static char want[1100];
	size_t n = 0;

	n += fill_line(s + n, 998, "\r\n");	/* 1000 with CRLF: fine */
	n += fill_line(s + n, 999, "\r\n");	/* 1001: too long */
	n += fill_line(s + n, 999, "\n");	/* 1000 with LF: fine */
	n += fill_line(s + n, 1000, "\n");	/* 1001: too long */
	n += fill_line(s + n, 1000, "\r\n");	/* 1002: too long */
	n += fill_line(s + n, 1, "\r\n");
	struct input *in = reader(s, n, chunks[_i]);

	fill_line(want, 999, "");
	expect_line(in, want, 998, 0);
	ck_assert_int_eq(next(in), IN_TOO_LONG);
	expect_line(in, want, 999, 1);
	ck_assert_int_eq(next(in), IN_TOO_LONG);
	ck_assert_int_eq(next(in), IN_TOO_LONG);
	LINE(in, "N", 0);
	ck_assert_int_eq(next(in), IN_EOF);
	reader_done();
}
END_TEST

START_TEST(resync_after_long_line)
{
	/* Far longer than the 64 KiB buffer: skipped to its LF, and the line
	 * after it is read whole; nothing of the long line leaks into it. */
	const size_t n = 2 * INPUT_BUF_SIZE + 123;
	char *s = malloc(n + 64);

	ck_assert_ptr_nonnull(s);
	memset(s, 'z', n);
	memcpy(s + n - 10, "\rQUIT\r", 6);
	strcpy(s + n, "\r\nRSET\r\n");
	struct input *in = reader(s, strlen(s), chunks[_i]);
	ck_assert_int_eq(next(in), IN_TOO_LONG);
	LINE(in, "RSET", 0);
	ck_assert_int_eq(next(in), IN_EOF);
	reader_done();
	free(s);
}
END_TEST

START_TEST(long_line_then_eof)
{
	/* No line end at all: the end of input, not a line. */
	static char s[5000];

	memset(s, 'y', sizeof s);
	struct input *in = reader(s, sizeof s, chunks[_i]);
	ck_assert_int_eq(next(in), IN_EOF);
	reader_done();
}
END_TEST

START_TEST(many_short_lines)
{
	/* More than a buffer's worth of pipelined lines, split anywhere. */
	enum { N = 12000 };
	char *s = malloc(N * 12 + 1), *p = s;

	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < N; i++)
		p += sprintf(p, "NOOP %05d\r\n", i);
	struct input *in = reader(s, (size_t)(p - s), chunks[_i]);
	for (int i = 0; i < N; i++) {
		char want[24];
		snprintf(want, sizeof want, "NOOP %05d", i);
		expect_line(in, want, 10, 0);
	}
	ck_assert_int_eq(next(in), IN_EOF);
	reader_done();
	free(s);
}
END_TEST

START_TEST(io_status_passed_on)
{
	static const ssize_t statuses[] = {IO_TIMEOUT, IO_ERROR, IO_SIGNAL, IO_DEADLINE, IO_SLOW};

	for (unsigned i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
		struct input *in = reader("HELO a\r\nNOO", 11, 0);
		rd.tio.end_status = statuses[i];
		LINE(in, "HELO a", 0);
		ck_assert_int_eq(next(in), statuses[i]);
		reader_done();
	}
}
END_TEST

/* How much had been written when each read began. */
static size_t written_at[16];
static unsigned nreads;

static void note_written(struct testio *t, void *arg)
{
	(void)arg;
	if (nreads < 16)
		written_at[nreads++] = t->outlen;
}

START_TEST(flush_before_wait_only)
{
	/* Replies go out when the reader must wait for input, and not while
	 * pipelined lines are still buffered (RFC 2920 3.2). */
	static const char s[] = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
	struct input *in = reader(s, sizeof s - 1, 0);

	nreads = 0;
	rd.tio.before_read = note_written;
	reply_send(&rd.out, R_GREETING, "mx.test");
	LINE(in, "MAIL FROM:<a@b>", 0);
	ck_assert_uint_eq(nreads, 1);
	ck_assert_uint_eq(written_at[0], strlen("220 mx.test ESMTP smtpd\r\n"));
	ck_assert_int_eq(input_pending(in), 1);
	reply_send(&rd.out, R_MAIL_OK, NULL);
	LINE(in, "RCPT TO:<c@d>", 0);
	reply_send(&rd.out, R_RCPT_OK, NULL);
	LINE(in, "DATA", 0);
	/* All three lines came in one read: nothing more written yet. */
	ck_assert_uint_eq(rd.tio.writes, 1);
	ck_assert_int_eq(input_pending(in), 0);
	reply_send(&rd.out, R_DATA_GO, NULL);
	ck_assert_int_eq(next(in), IN_EOF);
	ck_assert_uint_eq(nreads, 2);
	ck_assert_uint_eq(rd.tio.writes, 2);
	ck_assert_str_eq(rd.tio.out, "220 mx.test ESMTP smtpd\r\n"
			 "250 OK\r\n250 OK\r\n"
			 "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
	reader_done();
}
END_TEST

START_TEST(peek_and_consume)
{
	/* DATA reads whatever has arrived, and may take part of it. */
	static const char s[] = "DATA\r\nabc\r\n.\r\nQUIT\r\n";
	struct input *in = reader(s, sizeof s - 1, 0);
	const char *p;

	LINE(in, "DATA", 0);
	ck_assert_int_eq(input_peek(in, &p), 14);
	ck_assert_int_eq(memcmp(p, "abc\r\n.\r\nQUIT\r\n", 14), 0);
	input_consume(in, 8);
	ck_assert_int_eq(input_pending(in), 1);
	LINE(in, "QUIT", 0);
	ck_assert_int_eq(input_peek(in, &p), IN_EOF);
	reader_done();

	/* In single bytes: one at a time, reading when none is left. */
	in = reader("xyz", 3, 1);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(input_peek(in, &p), 1);
		ck_assert_int_eq(*p, "xyz"[i]);
		input_consume(in, 1);
	}
	rd.tio.end_status = IO_TIMEOUT;
	ck_assert_int_eq(input_peek(in, &p), IO_TIMEOUT);
	reader_done();
}
END_TEST

START_TEST(peek_flushes_before_wait)
{
	struct input *in = reader("body", 4, 0);
	const char *p;

	reply_send(&rd.out, R_DATA_GO, NULL);
	ck_assert_int_eq(input_peek(in, &p), 4);
	ck_assert_str_eq(rd.tio.out, "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
	reader_done();
}
END_TEST

START_TEST(peer_gone_ends_input)
{
	/* Replies cannot be written: the reader reports the connection broken
	 * instead of reading on for nobody. */
	struct input *in = reader("NOOP\r\nNOOP\r\n", 12, TESTIO_LINES);

	LINE(in, "NOOP", 0);
	rd.out.broken = 1;
	reply_send(&rd.out, R_DONE, NULL);
	ck_assert_int_eq(next(in), IO_ERROR);
	reader_done();
}
END_TEST

Suite *input_suite(void)
{
	Suite *s = suite_create("input");
	TCase *tc = tcase_create("lines");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, lines, 0, NCHUNKS);
	tcase_add_loop_test(tc, length_boundary, 0, NCHUNKS);
	tcase_add_loop_test(tc, resync_after_long_line, 0, NCHUNKS);
	tcase_add_loop_test(tc, long_line_then_eof, 0, NCHUNKS);
	tcase_add_loop_test(tc, many_short_lines, 0, NCHUNKS);
	tcase_add_test(tc, io_status_passed_on);
	tcase_add_test(tc, flush_before_wait_only);
	tcase_add_test(tc, peek_and_consume);
	tcase_add_test(tc, peek_flushes_before_wait);
	tcase_add_test(tc, peer_gone_ends_input);
	suite_add_tcase(s, tc);
	return s;
}
