/*
 * fdio.h: struct io on real file descriptors: waits with poll and the idle
 * timeout, the whole-session deadline, the minimum data rate, termination
 * signals that interrupt a wait, and complete writes.
 */
#ifndef FDIO_H
#define FDIO_H

#include <signal.h>
#include <time.h>

#include "io.h"

/* Reads in a row that may skip the wait (see fdio_read) */
#define FDIO_STREAK 16

struct fdio {
	int in, out;
	int in_is_socket, out_is_socket;
	unsigned streak;		/* reads in a row that filled the buffer */
	unsigned timeout_ms;		/* one wait */
	int has_deadline;
	struct timespec deadline;	/* CLOCK_MONOTONIC, whole session */
	unsigned min_rate;		/* bytes per second during DATA; 0: off */
	unsigned rate_grace_ms;		/* DATA time before the rate counts */
	int in_data;
	struct timespec data_start;
	unsigned long long data_bytes;
	sigset_t waitmask;		/* the signal mask while waiting */
	sigset_t stopset;		/* the termination signals, blocked outside waits */
	volatile sig_atomic_t *stop;	/* set by the SIGTERM/SIGHUP handler */
};

/* Fill io with fdio's functions on f. */
void fdio_bind(struct fdio *f, struct io *io);

/* At the end of a session on a socket with input still unread: end our
 * side (FIN) and read the rest away, for at most FDIO_LINGER_MS and
 * FDIO_LINGER_BYTES, since closing with unread input sends a reset,
 * which can destroy our last reply (a 421) before the client reads it. */
#define FDIO_LINGER_MS 2000
#define FDIO_LINGER_BYTES ((size_t)1 << 20)
void fdio_linger(struct fdio *f);

/* Now plus seconds on the monotonic clock. */
struct timespec fdio_after(unsigned seconds);

#endif
