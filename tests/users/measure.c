/*
 * measure.c: the cost of opening a users table and looking up one
 * recipient, for tests/users/measure.sh (not part of smtpd).
 *   measure lookup FILE ADDRESS   open, look up, expand, free; prints what
 *                                 it found, the table's memory and the
 *                                 time that took
 *   measure compile FILE          users_compile
 *   measure check FILE            users_check
 * lookup() is the function measure.sh asks callgrind to count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "users.h"

static int add(void *ctx, const char *mailbox)
{
	(void)mailbox;
	(*(int *)ctx)++;
	return 0;
}

__attribute__((noinline))
static int lookup(const char *path, const char *address, size_t *memory)
{
	char err[512];
	struct users_entry e;
	struct users *u = users_open(path, err, sizeof err);
	int n = 0;
	enum users_kind k;

	if (u == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	k = users_lookup(u, address, "+", &e);
	if (k != USERS_UNKNOWN && k != USERS_ERROR && users_expand(u, &e, add, &n) < 0)
		n = -1;
	*memory = users_memory(u);
	users_free(u);
	return k == USERS_UNKNOWN ? 0 : n;
}

int main(int argc, char **argv)
{
	char err[512];
	size_t memory = 0;
	int n;

	if (argc == 4 && strcmp(argv[1], "lookup") == 0) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		n = lookup(argv[2], argv[3], &memory);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("%s: %d recipient(s), table memory %zu bytes, %ld us\n", argv[3], n, memory,
		       (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
		return n < 0;
	}
	if (argc == 3 && strcmp(argv[1], "compile") == 0) {
		if (users_compile(argv[2], err, sizeof err) == 0)
			return 0;
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return users_check(argv[2], stderr) != 0;
	fprintf(stderr, "usage: measure lookup FILE ADDRESS | compile FILE | check FILE\n");
	return 2;
}
