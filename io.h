/*
 * io.h: the two calls through which the session reaches the outside world.
 *
 * The session, the line reader and the reply writer never touch a file
 * descriptor: they call these function pointers.  smtpd.c plugs in fdio.c
 * (poll, timeouts, signals, short writes); the unit tests plug in a string
 * reader and a growing output buffer, so a whole conversation runs in a test
 * without a process, a socket or a clock.
 */
#ifndef IO_H
#define IO_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Negative results of io_read_fn; >0 is a byte count, 0 is end of input. */
enum io_status {
	IO_TIMEOUT = -1,	/* nothing arrived within the idle timeout */
	IO_ERROR = -2,		/* the connection broke (reset, EIO): like EOF */
	IO_SIGNAL = -3,		/* SIGTERM or SIGHUP: say 421 and stop */
	IO_DEADLINE = -4,	/* the whole-session deadline passed */
	IO_SLOW = -5		/* DATA arrived slower than the minimum rate */
};

struct io {
	/* Read at most n bytes; block until some arrive or a status applies. */
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	/* Write all n bytes; 0 on success, -1 when the peer is gone. */
	int (*write)(void *ctx, const void *buf, size_t n);
	/* Sleep for ms milliseconds (the error budget's tarpit, the greeting
	 * delay); 0, IO_DEADLINE when the session's deadline cut it short, or
	 * IO_SIGNAL when a termination signal did.  May be NULL. */
	int (*pause)(void *ctx, unsigned ms);
	/* Is input already waiting, without blocking?  (Pipelining checks.) */
	int (*pending)(void *ctx);
	/* The DATA phase starts (1) or ends (0): rate accounting. */
	void (*data_phase)(void *ctx, int on);
	/* The time for Received: (may be NULL: time(2)). */
	time_t (*now)(void *ctx);
	void *ctx;
};

#endif
