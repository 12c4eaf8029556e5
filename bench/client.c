/*
 * client.c: the benchmark's SMTP client and message generator.
 *
 *   client wait HOST PORT                  connect until something listens (5 s)
 *   client conn HOST PORT COUNT CONC [smtp]
 *                                          COUNT connections: greeting, QUIT;
 *                                          with smtp, QUIT must get 221 (a
 *                                          floor may just close)
 *   client msg HOST PORT COUNT CONC PER SIZE
 *                                          COUNT messages of SIZE bytes, PER to
 *                                          a connection (pipelined), by CONC
 *                                          processes at once
 *   client big HOST PORT SIZE              one message; times 354 to 250
 *   client phases HOST PORT COUNT smtp|line
 *                                          COUNT sessions of one 1 KiB message,
 *                                          one at a time: the median time of
 *                                          each wait (line: the durable
 *                                          floor's one line, then QUIT)
 *   client stream HOST PORT SIZE           the same bytes to bench/floor_stream:
 *                                          354, the bytes, half-close, 250
 *   client gen COUNT SIZE [LINELEN]        a whole session (EHLO, COUNT
 *                                          messages, QUIT) on stdout
 *   client body SIZE [LINELEN]             one message as sent, on stdout
 *
 * Messages go from <bench@example.com> to <alice@example.org>.  Every
 * network wait is bounded (10 s); every reply code is checked, and a
 * connection with a wrong one counts as failed.  Results are one line of
 * key=value pairs on stdout; the exit status is 0 when nothing failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC 64
#define MAX_SIZE (1L << 30)
#define ENVELOPE "MAIL FROM:<bench@example.com>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"

struct conn {
	int fd;
	size_t len, off;
	char buf[8192];
	char line[1024];	/* the last reply line, for messages */
};

static struct sockaddr_in server;
/* conn ... smtp: the server speaks SMTP, so QUIT must get 221; a floor
 * program just goes (EOF).  Set once from the command line. */
static int quit_needs_221;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int number(const char *s, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || *v < min || *v > max) {
		fprintf(stderr, "client: '%s' is not a number from %ld to %ld\n", s, min, max);
		return -1;
	}
	return 0;
}

static int set_server(const char *host, const char *port)
{
	long p;

	memset(&server, 0, sizeof server);
	server.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &server.sin_addr) != 1) {
		fprintf(stderr, "client: '%s' is not an IPv4 address\n", host);
		return -1;
	}
	if (number(port, 1, 65535, &p) < 0)
		return -1;
	server.sin_port = htons((unsigned short)p);
	return 0;
}

static int conn_open(struct conn *c)
{
	struct timeval tv = {10, 0};
	int one = 1;

	c->len = c->off = 0;
	c->line[0] = '\0';
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
	    connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int send_all(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * QUIT, then the end of our sending (a half-close): Exim answers QUIT only
 * once the client has closed or 200 ms have passed; every server here
 * gets the same.
 */
static int send_quit(struct conn *c)
{
	if (send_all(c, "QUIT\r\n", 6) < 0)
		return -1;
	shutdown(c->fd, SHUT_WR);
	return 0;
}

/* One line into c->line; 0, or -1 at EOF, error or timeout. */
static int read_line(struct conn *c)
{
	size_t n = 0;

	for (;;) {
		if (c->off == c->len) {
			ssize_t r = recv(c->fd, c->buf, sizeof c->buf, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			c->off = 0;
			c->len = (size_t)r;
		}
		char ch = c->buf[c->off++];
		if (ch == '\n')
			break;
		if (n < sizeof c->line - 1)
			c->line[n++] = ch;
	}
	if (n > 0 && c->line[n - 1] == '\r')
		n--;
	c->line[n] = '\0';
	return 0;
}

/* A whole (possibly multi-line) reply; its code, or -1. */
static int read_reply(struct conn *c)
{
	for (;;) {
		if (read_line(c) < 0)
			return -1;
		if (strlen(c->line) < 3 || c->line[0] < '1' || c->line[0] > '5')
			return -1;
		if (c->line[3] != '-')
			return atoi(c->line);
	}
}

static int expect(struct conn *c, int code)
{
	int got = read_reply(c);

	if (got == code)
		return 0;
	fprintf(stderr, "client: expected %d, got %s\n", code,
		got < 0 ? "nothing" : c->line);
	return -1;
}

/* Headers and body lines of LINELEN bytes (CRLF included), SIZE bytes in
 * all; no line starts with a dot.  Caller frees. */
static char *make_message(size_t size, size_t linelen)
{
	static const char head[] =
		"From: Bench <bench@example.com>\r\n"
		"To: Alice <alice@example.org>\r\n"
		"Subject: bench\r\n"
		"Message-ID: <bench.1@example.com>\r\n"
		"\r\n";
	size_t hl = sizeof head - 1, o, col = 0, end;
	char *m;

	if (size < hl + 2)
		size = hl + 2;
	if (linelen < 3)
		linelen = 3;
	m = malloc(size);
	if (m == NULL)
		return NULL;
	memcpy(m, head, hl);
	end = size - 2;		/* the last line's CRLF */
	for (o = hl; o < end;) {
		if (col == linelen - 2 && o + 2 <= end) {
			m[o++] = '\r';
			m[o++] = '\n';
			col = 0;
			continue;
		}
		m[o] = (char)('a' + (o % 26));
		o++;
		col++;
	}
	m[end] = '\r';
	m[end + 1] = '\n';
	return m;
}

/* One connection carrying `count` messages, pipelined. */
static int session(const char *msg, size_t size, long count)
{
	struct conn c;
	int rc = -1;

	if (conn_open(&c) < 0)
		return -1;
	if (expect(&c, 220) < 0 || send_all(&c, "EHLO bench.example.com\r\n", 24) < 0 ||
	    expect(&c, 250) < 0 || send_all(&c, ENVELOPE, sizeof ENVELOPE - 1) < 0)
		goto out;
	for (long i = 0; i < count; i++) {
		const char *next = i + 1 < count ? ".\r\n" ENVELOPE : ".\r\n";
		if (expect(&c, 250) < 0 || expect(&c, 250) < 0 || expect(&c, 354) < 0 ||
		    send_all(&c, msg, size) < 0 || send_all(&c, next, strlen(next)) < 0 ||
		    (i + 1 == count && send_quit(&c) < 0) || expect(&c, 250) < 0)
			goto out;
	}
	rc = expect(&c, 221);
out:
	conn_close(&c);
	return rc;
}

/* Greeting (any 2xx, so the floors count), QUIT, then the end. */
static int greet_quit(void)
{
	struct conn c;
	int code, rc = -1;

	if (conn_open(&c) < 0)
		return -1;
	code = read_reply(&c);
	if (code >= 200 && code < 300) {
		rc = 0;
		/* A floor program has gone already: EOF or reset is fine
		 * from it, and only from it. */
		if (send_quit(&c) == 0) {
			code = read_reply(&c);
			if (code != 221 && (code != -1 || quit_needs_221))
				rc = -1;
		} else if (quit_needs_221) {
			rc = -1;
		}
	}
	conn_close(&c);
	return rc;
}

/*
 * Where the time of one session goes: the same dialogue as session() with
 * one message (or, for the durable floor, greet_quit()), timed at each
 * reply the client waits for.  t[] gets the moments, in ns from the start:
 * greeting, EHLO's 250, 354, the data's 250, and the close after 221.
 */
enum { PH_GREETING, PH_EHLO, PH_ENVELOPE, PH_DATA, PH_END, PH_TOTAL, PHASES };
static const char *const phase_name[PHASES] = {"greeting", "ehlo", "envelope", "data", "end", "total"};

static int timed_session(const char *msg, size_t size, int smtp, double us[PHASES])
{
	struct conn c;
	long long t[PHASES] = {0};
	int code, rc = -1;

	t[0] = now_ns();
	if (conn_open(&c) < 0)
		return -1;
	if (!smtp) {
		code = read_reply(&c);
		t[1] = t[2] = t[3] = t[4] = now_ns();
		if (code < 200 || code >= 300 || send_quit(&c) < 0)
			goto out;
		code = read_reply(&c);
		rc = code == -1 || code == 221 ? 0 : -1;
		goto out;
	}
	if (expect(&c, 220) < 0)
		goto out;
	t[1] = now_ns();
	if (send_all(&c, "EHLO bench.example.com\r\n", 24) < 0 || expect(&c, 250) < 0)
		goto out;
	t[2] = now_ns();
	if (send_all(&c, ENVELOPE, sizeof ENVELOPE - 1) < 0 || expect(&c, 250) < 0 ||
	    expect(&c, 250) < 0 || expect(&c, 354) < 0)
		goto out;
	t[3] = now_ns();
	if (send_all(&c, msg, size) < 0 || send_all(&c, ".\r\n", 3) < 0 ||
	    send_quit(&c) < 0 || expect(&c, 250) < 0)
		goto out;
	t[4] = now_ns();
	rc = expect(&c, 221);
out:
	conn_close(&c);
	t[5] = now_ns();
	for (int i = 0; i < PH_TOTAL; i++)
		us[i] = (t[i + 1] - t[i]) / 1e3;
	us[PH_TOTAL] = (t[5] - t[0]) / 1e3;
	return rc;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* COUNT sessions one after another; the median of each phase in µs. */
static int cmd_phases(long count, int smtp)
{
	char *msg = make_message(1024, 78);
	double *us = malloc((size_t)count * PHASES * sizeof *us);
	double *v = malloc((size_t)count * sizeof *v);
	long ok = 0;

	if (msg == NULL || us == NULL || v == NULL) {
		perror("client");
		return 2;
	}
	for (long i = 0; i < count; i++)
		if (timed_session(msg, 1024, smtp, us + ok * PHASES) == 0)
			ok++;
	printf("sessions=%ld failed=%ld", count, count - ok);
	for (int p = 0; p < PHASES && ok > 0; p++) {
		if (!smtp && p >= PH_EHLO && p <= PH_DATA)
			continue;	/* the durable floor has no such wait */
		for (long i = 0; i < ok; i++)
			v[i] = us[i * PHASES + p];
		qsort(v, (size_t)ok, sizeof *v, by_value);
		printf(" %s=%.1f", phase_name[p],
		       ok % 2 ? v[ok / 2] : (v[ok / 2 - 1] + v[ok / 2]) / 2);
	}
	printf("\n");
	free(v);
	free(us);
	free(msg);
	return ok != count;
}

/* CONC processes share COUNT units of work; returns failed units. */
static long run_parallel(long count, long conc, long per_unit,
			 int (*unit)(const char *, size_t, long),
			 const char *msg, size_t size)
{
	pid_t pids[MAX_CONC];
	int fds[MAX_CONC];
	long failed = 0;

	for (long p = 0; p < conc; p++) {
		int pfd[2];
		long share = count / conc + (p < count % conc);
		if (pipe(pfd) < 0) {
			perror("client: pipe");
			exit(2);
		}
		pids[p] = fork();
		if (pids[p] < 0) {
			perror("client: fork");
			exit(2);
		}
		if (pids[p] == 0) {
			long bad = 0;
			close(pfd[0]);
			while (share > 0) {
				long n = share < per_unit ? share : per_unit;
				if (unit(msg, size, n) < 0)
					bad += n;
				share -= n;
			}
			_exit(write(pfd[1], &bad, sizeof bad) == sizeof bad ? 0 : 1);
		}
		close(pfd[1]);
		fds[p] = pfd[0];
	}
	for (long p = 0; p < conc; p++) {
		long bad = 0;
		int st;
		if (read(fds[p], &bad, sizeof bad) != sizeof bad)
			bad = count;
		close(fds[p]);
		failed += bad;
		while (waitpid(pids[p], &st, 0) < 0 && errno == EINTR)
			;
	}
	return failed > count ? count : failed;
}

static int conn_unit(const char *msg, size_t size, long n)
{
	(void)msg;
	(void)size;
	(void)n;
	return greet_quit();
}

static int cmd_wait(void)
{
	for (int i = 0; i < 100; i++) {
		struct conn c;
		if (conn_open(&c) == 0) {
			conn_close(&c);
			return 0;
		}
		usleep(50000);	/* nothing to wait on but the port itself */
	}
	fputs("client: nothing listens\n", stderr);
	return 1;
}

static int cmd_big(size_t size)
{
	struct conn c;
	char *msg = make_message(size, 78);
	long long t0, t1;
	int ok = 0;

	if (msg == NULL || conn_open(&c) < 0) {
		perror("client");
		return 1;
	}
	if (expect(&c, 220) == 0 && send_all(&c, "EHLO bench.example.com\r\n", 24) == 0 &&
	    expect(&c, 250) == 0 && send_all(&c, ENVELOPE, sizeof ENVELOPE - 1) == 0 &&
	    expect(&c, 250) == 0 && expect(&c, 250) == 0 && expect(&c, 354) == 0) {
		t0 = now_ns();
		if (send_all(&c, msg, size) == 0 && send_all(&c, ".\r\n", 3) == 0 &&
		    expect(&c, 250) == 0) {
			t1 = now_ns();
			ok = send_quit(&c) == 0 && expect(&c, 221) == 0;
			printf("bytes=%zu seconds=%.4f mib_per_s=%.1f failed=%d\n", size,
			       (t1 - t0) / 1e9, size / 1048576.0 / ((t1 - t0) / 1e9), !ok);
		}
	}
	conn_close(&c);
	free(msg);
	if (!ok)
		printf("bytes=%zu seconds=0 mib_per_s=0 failed=1\n", size);
	return !ok;
}

static int cmd_stream(size_t size)
{
	struct conn c;
	char *msg = make_message(size, 78);
	long long t0, t1;
	int ok = 0;

	if (msg == NULL || conn_open(&c) < 0) {
		perror("client");
		return 1;
	}
	if (expect(&c, 354) == 0) {
		t0 = now_ns();
		if (send_all(&c, msg, size) == 0 && send_all(&c, ".\r\n", 3) == 0 &&
		    shutdown(c.fd, SHUT_WR) == 0 && expect(&c, 250) == 0) {
			t1 = now_ns();
			ok = 1;
			printf("bytes=%zu seconds=%.4f mib_per_s=%.1f failed=0\n", size,
			       (t1 - t0) / 1e9, size / 1048576.0 / ((t1 - t0) / 1e9));
		}
	}
	conn_close(&c);
	free(msg);
	if (!ok)
		printf("bytes=%zu seconds=0 mib_per_s=0 failed=1\n", size);
	return !ok;
}

static int write_out(const char *p, size_t n)
{
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int cmd_gen(long count, size_t size, size_t linelen, int envelope)
{
	char *msg = make_message(size, linelen);
	int bad = msg == NULL;

	if (envelope)
		bad |= write_out("EHLO bench.example.com\r\n", 24);
	for (long i = 0; i < count && !bad; i++) {
		if (envelope)
			bad |= write_out(ENVELOPE, sizeof ENVELOPE - 1);
		bad |= write_out(msg, size);
		if (envelope)
			bad |= write_out(".\r\n", 3);
	}
	if (envelope)
		bad |= write_out("QUIT\r\n", 6);
	free(msg);
	if (fflush(stdout) != 0 || bad) {
		perror("client: stdout");
		return 1;
	}
	return 0;
}

static int usage(void)
{
	fputs("usage: client wait|conn|msg|phases|big|stream|gen|body ... (see bench/client.c)\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	long count, conc, per, size, linelen = 78;
	long long t0;
	double secs;
	long failed;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "gen") && (argc == 4 || argc == 5)) {
		if (number(argv[2], 0, 1000000, &count) < 0 ||
		    number(argv[3], 1, MAX_SIZE, &size) < 0 ||
		    (argc == 5 && number(argv[4], 3, MAX_SIZE, &linelen) < 0))
			return 2;
		return cmd_gen(count, (size_t)size, (size_t)linelen, 1);
	}
	if (!strcmp(argv[1], "body") && (argc == 3 || argc == 4)) {
		if (number(argv[2], 1, MAX_SIZE, &size) < 0 ||
		    (argc == 4 && number(argv[3], 3, MAX_SIZE, &linelen) < 0))
			return 2;
		return cmd_gen(1, (size_t)size, (size_t)linelen, 0);
	}
	if (argc < 4 || set_server(argv[2], argv[3]) < 0)
		return usage();
	if (!strcmp(argv[1], "wait") && argc == 4)
		return cmd_wait();
	if ((!strcmp(argv[1], "big") || !strcmp(argv[1], "stream")) && argc == 5) {
		if (number(argv[4], 1, MAX_SIZE, &size) < 0)
			return 2;
		return argv[1][0] == 'b' ? cmd_big((size_t)size) : cmd_stream((size_t)size);
	}
	if (!strcmp(argv[1], "phases") && argc == 6 &&
	    (!strcmp(argv[5], "smtp") || !strcmp(argv[5], "line"))) {
		if (number(argv[4], 1, 1000000, &count) < 0)
			return 2;
		return cmd_phases(count, argv[5][0] == 's');
	}
	if (!strcmp(argv[1], "conn") && (argc == 6 || (argc == 7 && !strcmp(argv[6], "smtp")))) {
		if (number(argv[4], 1, 1000000, &count) < 0 ||
		    number(argv[5], 1, MAX_CONC, &conc) < 0)
			return 2;
		quit_needs_221 = argc == 7;
		t0 = now_ns();
		failed = run_parallel(count, conc, 1, conn_unit, NULL, 0);
		secs = (now_ns() - t0) / 1e9;
		printf("connections=%ld seconds=%.4f per_second=%.1f failed=%ld\n",
		       count, secs, count / secs, failed);
		return failed != 0;
	}
	if (!strcmp(argv[1], "msg") && argc == 8) {
		char *msg;
		if (number(argv[4], 1, 1000000, &count) < 0 ||
		    number(argv[5], 1, MAX_CONC, &conc) < 0 ||
		    number(argv[6], 1, 1000000, &per) < 0 ||
		    number(argv[7], 1, MAX_SIZE, &size) < 0)
			return 2;
		msg = make_message((size_t)size, 78);
		if (msg == NULL) {
			perror("client");
			return 2;
		}
		t0 = now_ns();
		failed = run_parallel(count, conc, per, session, msg, (size_t)size);
		secs = (now_ns() - t0) / 1e9;
		printf("messages=%ld seconds=%.4f per_second=%.1f failed=%ld\n",
		       count, secs, count / secs, failed);
		free(msg);
		return failed != 0;
	}
	return usage();
}
