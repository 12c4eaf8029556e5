/*
 * check_fdio.c: fdio.c's reads on real descriptors.  A stream of full
 * reads on a socket skips the wait, but a termination signal (the stop
 * flag the handler sets) is still seen within FDIO_STREAK reads; after a
 * short read, and on a pipe, every read waits first and sees it at once,
 * even a real signal that comes while input is already waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "suites.h"

#define PIECE 1024

static volatile sig_atomic_t stop;

/* An fdio reading from fd, as main() sets one up, but with our flag. */
static void setup(struct fdio *f, struct io *io, int fd, int is_socket)
{
	memset(f, 0, sizeof *f);
	f->in = f->out = fd;
	f->in_is_socket = f->out_is_socket = is_socket;
	f->timeout_ms = 5000;
	sigemptyset(&f->waitmask);
	stop = 0;
	f->stop = &stop;
	fdio_bind(f, io);
}

/* Write n bytes into fd (which has room for them). */
static void fill(int fd, size_t n)
{
	char b[PIECE];

	memset(b, 'x', sizeof b);
	while (n > 0) {
		size_t k = n < sizeof b ? n : sizeof b;
		ck_assert_int_eq(write(fd, b, k), (ssize_t)k);
		n -= k;
	}
}

/* Reads of PIECE bytes until one does not return PIECE; how many did. */
static int full_reads(struct io *io, ssize_t *last)
{
	char b[PIECE];
	int n = 0;

	while ((*last = io->read(io->ctx, b, sizeof b)) == PIECE)
		n++;
	return n;
}

/*
 * The end of a session with input unread: our side is shut (the client
 * reads EOF after our last reply, not a reset) and the rest is read away,
 * until the client's EOF, or for at most FDIO_LINGER_MS.  With nothing
 * unread, or the client's EOF already there, nothing is done.
 */
START_TEST(linger_reads_the_rest_away)
{
	int sv[2];
	struct fdio f;
	struct io io;
	char b[64];
	struct timespec t0, t1;

	/* Nothing unread: our side stays open. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	fdio_linger(&f);
	ck_assert_int_eq(recv(sv[1], b, sizeof b, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(sv[0]);
	close(sv[1]);

	/* Input unread, then the client's EOF: all of it read at once (the
	 * close that follows sends no reset), and nothing waited for. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	fill(sv[1], 10000);
	shutdown(sv[1], SHUT_WR);
	fdio_linger(&f);
	ck_assert_int_eq(recv(sv[0], b, sizeof b, MSG_DONTWAIT), 0);

	/* Input unread and the client still there: ours ended (the client
	 * reads EOF), the rest read away until its EOF. */
	close(sv[0]);
	close(sv[1]);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	fill(sv[1], 10000);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {	/* the client: sees our EOF, then ends its side */
		close(sv[0]);
		while (read(sv[1], b, sizeof b) > 0)
			;
		shutdown(sv[1], SHUT_WR);
		_exit(0);
	}
	fdio_linger(&f);
	ck_assert_int_eq(recv(sv[0], b, sizeof b, MSG_DONTWAIT), 0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	close(sv[0]);
	close(sv[1]);

	/* A client that sends and never ends: bounded in time. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	fill(sv[1], 100);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fdio_linger(&f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(recv(sv[1], b, sizeof b, MSG_DONTWAIT), 0);
	ck_assert_int_ge((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000,
			 FDIO_LINGER_MS - 50);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, FDIO_LINGER_MS / 1000 + 3);
	close(sv[0]);
	close(sv[1]);

	/* Not a socket: nothing to shut. */
	ck_assert_int_eq(pipe(sv), 0);
	setup(&f, &io, sv[0], 0);
	fill(sv[1], 100);
	fdio_linger(&f);
	ck_assert_int_eq(read(sv[0], b, sizeof b), (ssize_t)sizeof b);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * --min-rate: past the grace period, a DATA phase whose average is below
 * the rate ends with IO_SLOW; one above it goes on.  The margins are wide
 * (10x the rate, 40x below it): a slow machine only makes reads later,
 * which can make a fast client look slower, never a slow one faster.
 */
START_TEST(min_rate_and_grace)
{
	int sv[2];
	struct fdio f;
	struct io io;
	char b[8192];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	f.min_rate = 1000;
	f.rate_grace_ms = 300;
	/* 4000 bytes in the first 400 ms: 10000 B/s, kept. */
	io.data_phase(io.ctx, 1);
	fill(sv[1], 4000);
	usleep(400 * 1000);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), 4000);
	io.data_phase(io.ctx, 0);
	/* The next message starts its own count: 10 bytes in 400 ms, past
	 * the grace, is 25 B/s: too slow.  (Counting the first message's
	 * bytes, it would pass.) */
	io.data_phase(io.ctx, 1);
	fill(sv[1], 10);
	usleep(400 * 1000);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), IO_SLOW);
	io.data_phase(io.ctx, 0);
	/* Within the grace the rate is not asked. */
	io.data_phase(io.ctx, 1);
	fill(sv[1], 10);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), 10);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(stream_still_takes_the_signal)
{
	int sv[2];
	struct fdio f;
	struct io io;
	char b[PIECE];
	ssize_t last;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	fill(sv[1], 4 * FDIO_STREAK * PIECE);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), PIECE);
	stop = 1;		/* as if SIGTERM came now, mid-stream */
	/* The streak's remaining reads skip the wait; the next one waits. */
	ck_assert_int_eq(full_reads(&io, &last), FDIO_STREAK - 1);
	ck_assert_int_eq(last, IO_SIGNAL);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(stream_reads_everything_without_a_signal)
{
	int sv[2];
	struct fdio f;
	struct io io;
	ssize_t last;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	fill(sv[1], 4 * FDIO_STREAK * PIECE + 100);
	ck_assert_int_eq(full_reads(&io, &last), 4 * FDIO_STREAK);
	ck_assert_int_eq(last, 100);
	close(sv[1]);
	ck_assert_int_eq(full_reads(&io, &last), 0);
	ck_assert_int_eq(last, 0);	/* end of input after the last byte */
	close(sv[0]);
}
END_TEST

START_TEST(short_read_waits_next_time)
{
	int sv[2];
	struct fdio f;
	struct io io;
	char b[PIECE];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	fill(sv[1], PIECE + 10);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), PIECE);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), 10);
	fill(sv[1], PIECE);
	stop = 1;
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), IO_SIGNAL);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(pipe_always_waits)
{
	int p[2];
	struct fdio f;
	struct io io;
	char b[PIECE];

	ck_assert_int_eq(pipe(p), 0);
	setup(&f, &io, p[0], 0);
	fill(p[1], 4 * PIECE);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), PIECE);
	stop = 1;
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), IO_SIGNAL);
	close(p[0]);
	close(p[1]);
}
END_TEST

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * A real SIGTERM, blocked as main() blocks it, arriving while input is
 * already waiting: ppoll() returns the ready descriptor and runs no
 * handler (it does only when it returns EINTR), so the read must find the
 * pending signal itself.  Otherwise a client that keeps the socket full
 * is never stopped.
 */
START_TEST(pending_signal_with_input_ready)
{
	int sv[2];
	struct fdio f;
	struct io io;
	struct sigaction sa;
	sigset_t block;
	char b[PIECE];

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGTERM, &sa, NULL), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setup(&f, &io, sv[0], 1);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	f.stopset = block;
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, &f.waitmask), 0);
	sigdelset(&f.waitmask, SIGTERM);
	fill(sv[1], 4 * PIECE);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), PIECE);
	ck_assert_int_eq(raise(SIGTERM), 0);	/* pending: it is blocked */
	ck_assert_int_eq(stop, 0);
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), PIECE);	/* the streak skips the wait */
	f.streak = 0;	/* as after a short read: this one waits */
	ck_assert_int_eq(io.read(io.ctx, b, sizeof b), IO_SIGNAL);
	ck_assert_int_eq(stop, 1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The tarpit's pause ends at the session deadline, and at once, without a
 * status, on a stop (the reply under way still goes out). */
START_TEST(pause_ends_at_the_deadline)
{
	int p[2];
	struct fdio f;
	struct io io;
	struct timespec t0, t1;

	ck_assert_int_eq(pipe(p), 0);
	setup(&f, &io, p[0], 0);
	ck_assert_int_eq(io.pause(io.ctx, 10), 0);
	f.has_deadline = 1;
	f.deadline = fdio_after(0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(io.pause(io.ctx, 5000), IO_DEADLINE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);	/* not the 5 s asked for */
	f.has_deadline = 0;
	stop = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(io.pause(io.ctx, 5000), IO_SIGNAL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
	close(p[0]);
	close(p[1]);
}
END_TEST

Suite *fdio_suite(void)
{
	Suite *s = suite_create("fdio");
	TCase *tc = tcase_create("reads");

	tcase_add_test(tc, stream_still_takes_the_signal);
	tcase_add_test(tc, stream_reads_everything_without_a_signal);
	tcase_add_test(tc, short_read_waits_next_time);
	tcase_add_test(tc, pipe_always_waits);
	tcase_add_test(tc, pending_signal_with_input_ready);
	tcase_add_test(tc, pause_ends_at_the_deadline);
	tcase_add_test(tc, linger_reads_the_rest_away);
	tcase_add_test(tc, min_rate_and_grace);
	suite_add_tcase(s, tc);
	return s;
}
