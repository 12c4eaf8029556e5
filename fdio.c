/*
 * fdio.c: reading and writing the conversation's file descriptors.
 *
 * Termination signals stay blocked except inside ppoll(), so one that
 * arrives while a message is being fsync'ed waits for the next wait (a
 * stream that keeps every read full reaches one every FDIO_STREAK reads,
 * and a wait that finds input ready still takes a pending signal), and a
 * file is never left half-committed by a handler.  Waits are bounded
 * three ways: the idle timeout per wait, the whole-session deadline, and
 * (during DATA) a minimum average rate, so a client trickling a byte every
 * few seconds cannot hold a process for ever.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdio.h"

static long long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (long long)(b->tv_sec - a->tv_sec) * 1000 +
	       (b->tv_nsec - a->tv_nsec) / 1000000;
}

static struct timespec monotonic_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

struct timespec fdio_after(unsigned seconds)
{
	struct timespec t = monotonic_now();

	t.tv_sec += seconds;
	return t;
}

static struct timespec ms_to_ts(long long ms)
{
	struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	return t;
}

/* Wait for events on fd for at most the idle timeout and the session
 * deadline.  Returns 1 when ready, or a negative enum io_status. */
static int wait_for(struct fdio *f, int fd, short events)
{
	struct timespec start = monotonic_now();

	for (;;) {
		struct timespec now = monotonic_now();
		long long left = (long long)f->timeout_ms - ms_between(&start, &now);
		int deadline_first = 0;

		if (*f->stop)
			return IO_SIGNAL;
		if (f->has_deadline) {
			long long dl = ms_between(&now, &f->deadline);
			if (dl <= 0)
				return IO_DEADLINE;
			if (dl < left) {
				left = dl;
				deadline_first = 1;
			}
		}
		if (left <= 0)
			return IO_TIMEOUT;
		struct pollfd p = {.fd = fd, .events = events};
		struct timespec ts = ms_to_ts(left);
		int r = ppoll(&p, 1, &ts, &f->waitmask);
		if (r > 0) {
			/* ppoll() runs a handler only when it returns EINTR:
			 * a signal that comes while fd is ready stays pending,
			 * and a client that keeps it ready would never see it. */
			static const struct timespec now_only = {0, 0};
			if (sigtimedwait(&f->stopset, NULL, &now_only) > 0) {
				*f->stop = 1;
				return IO_SIGNAL;
			}
			return 1;
		}
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			return IO_ERROR;
		if (r == 0 && deadline_first)
			return IO_DEADLINE;
	}
}

/*
 * A read that filled the buffer means a stream (a message body) is most
 * likely still waiting in the socket: the next read tries for it without
 * the wait, which saves a system call per read of a large message.  Every
 * FDIO_STREAK-th read of a streak still goes through the wait, where a
 * termination signal is taken and the deadline checked: at 500 MiB/s with
 * 32 KiB reads that is twice a millisecond.
 */
static ssize_t fdio_read(void *ctx, void *buf, size_t n)
{
	struct fdio *f = ctx;

	for (;;) {
		ssize_t k;
		if (f->in_is_socket && f->streak > 0 && f->streak < FDIO_STREAK) {
			k = recv(f->in, buf, n, MSG_DONTWAIT);
		} else {
			int w = wait_for(f, f->in, POLLIN);
			if (w < 0)
				return w;
			k = read(f->in, buf, n);
		}
		if (k < 0) {
			f->streak = 0;
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return IO_ERROR;	/* ECONNRESET and friends */
		}
		f->streak = (size_t)k == n ? f->streak % FDIO_STREAK + 1 : 0;
		if (k > 0 && f->in_data && f->min_rate > 0) {
			struct timespec now = monotonic_now();
			long long ms = ms_between(&f->data_start, &now);
			f->data_bytes += (unsigned long long)k;
			if (ms > (long long)f->rate_grace_ms &&
			    f->data_bytes * 1000 < (unsigned long long)f->min_rate *
						   (unsigned long long)ms)
				return IO_SLOW;
		}
		return k;
	}
}

static int fdio_write(void *ctx, const void *buf, size_t n)
{
	struct fdio *f = ctx;
	const char *p = buf;

	while (n > 0) {
		/* On a socket, never block inside write: a client that stops
		 * reading must not hold us past the timeout. */
		ssize_t w = f->out_is_socket ?
			send(f->out, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) :
			write(f->out, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(f, f->out, POLLOUT) < 0)
				return -1;
		} else {
			return -1;	/* EPIPE, ECONNRESET: the client is gone */
		}
	}
	return 0;
}

/* The tarpit's commands are often read already, so no read would see the
 * deadline after it: the pause must.  A termination signal ends the pause
 * early; the reply under way goes out, and the next wait says 421. */
static int fdio_pause(void *ctx, unsigned ms)
{
	struct fdio *f = ctx;
	struct timespec end = monotonic_now(), now;
	int status = 0;

	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	if (f->has_deadline && ms_between(&f->deadline, &end) >= 0) {
		end = f->deadline;
		status = IO_DEADLINE;
	}
	for (;;) {
		if (*f->stop)
			return IO_SIGNAL;
		now = monotonic_now();
		long long left = ms_between(&now, &end);
		if (left <= 0)
			return status;
		struct timespec ts = ms_to_ts(left);
		ppoll(NULL, 0, &ts, &f->waitmask);
	}
}

static int fdio_pending(void *ctx)
{
	struct fdio *f = ctx;
	struct pollfd p = {.fd = f->in, .events = POLLIN};

	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static void fdio_data_phase(void *ctx, int on)
{
	struct fdio *f = ctx;

	f->in_data = on;
	f->data_start = monotonic_now();
	f->data_bytes = 0;
}

void fdio_linger(struct fdio *f)
{
	static const struct timespec now_only = {0, 0};
	struct pollfd p = {.fd = f->in, .events = POLLIN | POLLRDHUP};
	struct timespec end = monotonic_now(), now;
	char scrap[4096];
	size_t got = 0;

	/* One call, and no function more to bind, for the usual end:
	 * nothing unread. */
	if (!f->in_is_socket || ppoll(&p, 1, &now_only, NULL) <= 0 || !(p.revents & POLLIN))
		return;
	if (p.revents & POLLRDHUP) {
		/* The client has ended its side: what is left is there
		 * already, and reading it cannot block. */
		ssize_t n;
		while (got < FDIO_LINGER_BYTES &&
		       ((n = read(f->in, scrap, sizeof scrap)) > 0 || (n < 0 && errno == EINTR)))
			got += n > 0 ? (size_t)n : 0;
		return;
	}
	if (shutdown(f->out, SHUT_WR) < 0)
		return;
	end.tv_sec += FDIO_LINGER_MS / 1000;
	while (got < FDIO_LINGER_BYTES && !*f->stop) {
		now = monotonic_now();
		long long left = ms_between(&now, &end);
		if (left <= 0)
			return;
		struct timespec ts = ms_to_ts(left);
		p.revents = 0;
		int r = ppoll(&p, 1, &ts, &f->waitmask);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		ssize_t n = read(f->in, scrap, sizeof scrap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		got += (size_t)n;
	}
}

void fdio_bind(struct fdio *f, struct io *io)
{
	io->read = fdio_read;
	io->write = fdio_write;
	io->pause = fdio_pause;
	io->pending = fdio_pending;
	io->data_phase = fdio_data_phase;
	io->now = NULL;
	io->ctx = f;
}
