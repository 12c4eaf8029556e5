/*
 * floor_durable.c: the per-message floor of the benchmark.  Only the part
 * of accepting a message that durability needs: write 1 KiB into a new file
 * in SPOOL/tmp/, fsync it, rename it into SPOOL/new/, fsync new/, then
 * print one line.  Run once per connection, like smtpd, by the same
 * supervisor on the same disk.
 *
 * Usage: floor_durable SPOOL
 */
#include "durable.h"

int main(int argc, char **argv)
{
	static const char ok[] = "250 stored\r\n";
	char body[1024];

	if (argc != 2) {
		fputs("usage: floor_durable SPOOL\n", stderr);
		return 2;
	}
	memset(body, 'x', sizeof body);
	body[sizeof body - 1] = '\n';
	if (durable_store(argv[1], body, sizeof body) < 0) {
		perror("floor_durable");
		return 1;
	}
	return write_all(1, ok, sizeof ok - 1) < 0;
}
