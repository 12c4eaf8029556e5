/*
 * decimal.h: unsigned decimal numbers, as options, SIZE= and the
 * environment (LISTEN_PID, JOURNAL_STREAM) give them.  strtoull would do,
 * but every distinct C library function a connection calls is bound at
 * its first call, about 700 instructions of a greeting's 140,000 (make
 * bench), and it takes signs and blanks none of these may have.
 */
#ifndef DECIMAL_H
#define DECIMAL_H

#include <limits.h>

/* The digits at s into *v (ULLONG_MAX, with *overflow set, past it);
 * returns where the digits end (s itself when there are none). */
static inline const char *decimal(const char *s, unsigned long long *v, int *overflow)
{
	unsigned long long n = 0;

	*overflow = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (ULLONG_MAX - d) / 10) {
			*overflow = 1;
			n = ULLONG_MAX;
		} else if (!*overflow) {
			n = n * 10 + d;
		}
	}
	*v = n;
	return s;
}

#endif
