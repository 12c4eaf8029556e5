/*
 * floor_greet.c: the per-connection floor of the benchmark.  A dynamically
 * linked C program that writes one line to standard output and exits: what
 * any program started per connection costs at the least, loader included.
 * bench/run.sh builds it with the same compiler and flags as smtpd, and
 * also once linked to libsystemd, to show what that library's loading
 * costs.
 */
#include <unistd.h>

int main(void)
{
	static const char line[] = "220 floor ESMTP\r\n";

	return write(1, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) ? 0 : 1;
}
