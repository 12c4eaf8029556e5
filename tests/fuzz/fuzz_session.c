/*
 * fuzz_session.c: a libFuzzer target that drives one whole SMTP session
 * from arbitrary bytes, through struct io as tests/testio.h does, against a
 * temporary spool made once per process (on /dev/shm when it can, so that
 * fsync costs nothing).
 *
 * The first two input bytes choose the configuration, the rest is what the
 * client sends:
 *   byte 0  bit 0     terminal (LF ends lines)
 *           bit 1     --max-size 200
 *           bit 2     --max-recipients 2
 *           bits 3-5  how the input ends: EOF, timeout, reset, SIGTERM,
 *                     session deadline, too slow (6, 7: EOF)
 *           bit 6     a small error budget: 2 soft, 4 hard, junk 3
 *           bit 7     --min-free larger than any disk: MAIL gets 452
 *   byte 1  bytes per read: 0 means all that is left; 255 one line per
 *           read (a client that waits for each reply), where testio.h
 *           offers that
 *
 * Besides the sanitizers, every run checks what the session promises:
 * it returns 0; every reply line is "DDD " or "DDD-" and ends in CRLF;
 * nothing follows a 221 or 421 reply; tmp/ is empty afterwards; new/ holds
 * exactly one file per "queued as" reply, each beginning with its envelope.
 * A broken promise is an abort(), which libFuzzer reports as a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testio.h"

static char spool[256];
static int devnull = -1;	/* log lines go here: log_escape is fuzzed too */

static void remove_spool(void)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char path[512];

	if (spool[0] == '\0')
		return;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", spool, subs[i]);
		DIR *d = opendir(path);
		struct dirent *e;
		if (d != NULL) {
			while ((e = readdir(d)) != NULL)
				if (e->d_name[0] != '.')
					unlinkat(dirfd(d), e->d_name, 0);
			closedir(d);
		}
		rmdir(path);
	}
	rmdir(spool);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("SMTPD_FUZZ_TMP");

	(void)argc;
	(void)argv;
	if (base == NULL || *base == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(spool, sizeof spool, "%s/smtpd-fuzz-XXXXXX", base);
	if (mkdtemp(spool) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(remove_spool);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return 0;
}

static void broken(const char *what, const char *out)
{
	fprintf(stderr, "fuzz_session: broken promise: %s\n--- replies:\n%s\n---\n",
		what, out ? out : "");
	abort();
}

/* Files in spool/sub; with check, each must begin with an envelope;
 * with clear, each is removed after it is counted. */
static int spool_files(const char *sub, int check, int clear, const char *out)
{
	char path[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", spool, sub);
	d = opendir(path);
	if (d == NULL)
		broken("spool directory gone", out);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		if (check) {
			char head[16] = "";
			int fd = openat(dirfd(d), e->d_name, O_RDONLY);
			if (fd < 0 || read(fd, head, 15) != 15 ||
			    memcmp(head, "Return-Path: <", 14) != 0)
				broken("a file in new/ without its envelope", out);
			close(fd);
		}
		if (clear)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	return n;
}

/* Reply lines well formed, nothing after a closing reply; returns the
 * number of "queued as" replies. */
static int check_replies(const char *out, size_t len)
{
	size_t i = 0;
	int queued = 0, closed = 0;

	while (i < len) {
		const char *line = out + i;
		const char *crlf = memchr(line, '\n', len - i);
		if (crlf == NULL || crlf == line || crlf[-1] != '\r')
			broken("a reply line without CRLF", out);
		size_t n = (size_t)(crlf - line) + 1;
		if (closed)
			broken("a reply after 221 or 421", out);
		if (n < 6 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' ||
		    (line[3] != ' ' && line[3] != '-'))
			broken("a malformed reply line", out);
		if (line[3] == ' ' && (memcmp(line, "221", 3) == 0 ||
				       memcmp(line, "421", 3) == 0))
			closed = 1;
		if (memcmp(line, "250 ", 4) == 0 &&
		    memmem(line, n, "queued as ", 10) != NULL)
			queued++;
		i += n;
	}
	return queued;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ssize_t ends[8] = {0, IO_TIMEOUT, IO_ERROR, IO_SIGNAL,
					IO_DEADLINE, IO_SLOW, 0, 0};
	static struct test_run r;
	static struct session s;
	uint8_t flags, chunk;

	if (size < 2)
		return 0;
	flags = data[0];
	chunk = data[1];
	data += 2;
	size -= 2;

	memset(&r.tio, 0, sizeof r.tio);
	test_config(&r.cfg, spool);
	r.cfg.terminal = flags & 1;
	if (flags & 2)
		r.cfg.max_size = 200;
	if (flags & 4)
		r.cfg.max_recipients = 2;
	if (flags & 64) {
		r.cfg.soft_errors = 2;
		r.cfg.hard_errors = 4;
		r.cfg.junk_limit = 3;
	}
	if (flags & 128)
		r.cfg.min_free = 1ULL << 60;
	if (devnull >= 0) {
		/* Formatted and written: the log path is fuzzed too. */
		static struct logger to_devnull;
		to_devnull = (struct logger){.mode = LOGTO_PLAIN, .fd = devnull};
		r.cfg.log = &to_devnull;
	}
	r.tio.in = (const char *)data;
	r.tio.inlen = size;
	r.tio.chunk = chunk;
#ifdef TESTIO_LINES
	if (chunk == 255)
		r.tio.chunk = TESTIO_LINES;
#endif
	r.tio.end_status = ends[(flags >> 3) & 7];
	testio_bind(&r.tio, &r.io);

	if (store_init(&r.store, spool, r.cfg.hostname) < 0)
		broken("store_init failed", NULL);
	if (session_init(&s, &r.cfg, &r.store, &r.io) < 0)
		abort();
	r.status = session_run(&s);
	session_free(&s);
	store_close(&r.store);

	const char *out = r.tio.out ? r.tio.out : "";
	if (r.status != 0)
		broken("exit status not 0", out);
	int queued = check_replies(out, r.tio.outlen);
	if (spool_files("tmp", 0, 1, out) != 0)
		broken("a file left in tmp/", out);
	if (spool_files("new", 1, 1, out) != queued)
		broken("files in new/ differ from the 250 replies", out);
	free(r.tio.out);
	r.tio.out = NULL;
	return 0;
}
