/*
 * testio.h: drive a whole session from a string, for the Check tests.
 * The input is served in chunks of a chosen size (1 byte exercises every
 * split), replies collect in a buffer, the clock is fixed, pauses are only
 * counted, and the spool is a fresh mkdtemp directory.
 */
#ifndef TESTIO_H
#define TESTIO_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "io.h"
#include "session.h"
#include "store.h"

/* Tests discard log lines (check_fdio and t_conversation test the log). */
static struct logger test_quiet_log = {.mode = LOGTO_NONE};

struct testio {
	const char *in;
	size_t inlen, pos;
	size_t chunk;		/* bytes per read; 0: all that is left */
	ssize_t end_status;	/* what read returns at the end: 0 (EOF) or an IO_* */
	char *out;
	size_t outlen, outcap;
	unsigned paused_ms;
	unsigned deadline_ms;	/* pauses that reach it end with IO_DEADLINE; 0: none */
	int signal_in_pause;	/* pauses end with IO_SIGNAL (a SIGTERM in them) */
	int data_phases;
	/* Called at the start of every read (may be NULL): lets a test act
	 * at a chosen point of the conversation, e.g. break the spool. */
	void (*before_read)(struct testio *t, void *arg);
	void *hook_arg;
	unsigned reads;		/* read calls so far */
	unsigned writes;	/* write calls so far */
	unsigned writes_ok;	/* writes after this many fail (the reader left); 0: none fail */
	time_t now;		/* the clock for Received:; 0: TESTIO_NOW */
};

/* chunk value: serve one line (up to and including its LF) per read, as a
 * client that waits for each reply does. */
#define TESTIO_LINES ((size_t)-1)

static inline ssize_t testio_read(void *ctx, void *buf, size_t n)
{
	struct testio *t = ctx;
	size_t left = t->inlen - t->pos;

	t->reads++;
	if (t->before_read != NULL)
		t->before_read(t, t->hook_arg);
	if (left == 0)
		return t->end_status;
	if (t->chunk == TESTIO_LINES) {
		const char *lf = memchr(t->in + t->pos, '\n', left);
		if (lf != NULL && (size_t)(lf - (t->in + t->pos)) + 1 < n)
			n = (size_t)(lf - (t->in + t->pos)) + 1;
	} else if (t->chunk && n > t->chunk) {
		n = t->chunk;
	}
	if (n > left)
		n = left;
	memcpy(buf, t->in + t->pos, n);
	t->pos += n;
	return (ssize_t)n;
}

static inline int testio_write(void *ctx, const void *buf, size_t n)
{
	struct testio *t = ctx;

	t->writes++;
	if (t->writes_ok > 0 && t->writes > t->writes_ok)
		return -1;
	if (t->outlen + n + 1 > t->outcap) {
		t->outcap = (t->outlen + n + 1) * 2;
		t->out = realloc(t->out, t->outcap);
		if (t->out == NULL)
			abort();
	}
	memcpy(t->out + t->outlen, buf, n);
	t->outlen += n;
	t->out[t->outlen] = '\0';
	return 0;
}

static inline int testio_pause(void *ctx, unsigned ms)
{
	struct testio *t = ctx;

	t->paused_ms += ms;
	if (t->deadline_ms > 0 && t->paused_ms >= t->deadline_ms) {
		t->paused_ms = t->deadline_ms;
		return IO_DEADLINE;
	}
	return t->signal_in_pause ? IO_SIGNAL : 0;
}

/* Has the client sent more than smtpd has read?  Only when the input is
 * served all at once: a client served a line (or a byte) per read is one
 * that waits for each reply before it sends on. */
static inline int testio_pending(void *ctx)
{
	struct testio *t = ctx;
	return t->chunk == 0 && t->pos < t->inlen;
}

static inline void testio_data_phase(void *ctx, int on)
{
	if (on)
		((struct testio *)ctx)->data_phases++;
}

/* Fri, 13 Nov 2026 12:00:00 +0000 */
#define TESTIO_NOW ((time_t)1794571200)
static inline time_t testio_now(void *ctx)
{
	const struct testio *t = ctx;
	return t->now != 0 ? t->now : TESTIO_NOW;
}

static inline void testio_bind(struct testio *t, struct io *io)
{
	io->read = testio_read;
	io->write = testio_write;
	io->pause = testio_pause;
	io->pending = testio_pending;
	io->data_phase = testio_data_phase;
	io->now = testio_now;
	io->ctx = t;
}

/* A configuration as smtpd's defaults make it, for host mx.test and the
 * domain example.org, logging nowhere. */
static inline void test_config(struct config *c, const char *spool)
{
	memset(c, 0, sizeof *c);
	c->spool = spool;
	c->hostname = "mx.test";
	c->domains[0] = "example.org";
	c->ndomains = 1;
	c->max_size = 10485760;
	c->max_recipients = 100;
	c->timeout = 300;
	c->peer = "[192.0.2.1]";
	c->soft_errors = 10;
	c->hard_errors = 20;
	c->error_delay_ms = 1000;
	c->junk_limit = 100;
	c->log = &test_quiet_log;
}

struct test_run {
	char spool[64];
	struct config cfg;
	struct testio tio;
	struct io io;
	struct store store;
	int status;
	const char *replies;	/* everything smtpd wrote */
	void *owned[32];	/* freed by test_cleanup (test_keep) */
	unsigned nowned;
};

/*
 * Temporary directories.  test_cleanup removes a test's spool; a test that
 * fails ends before it (Check's forked child calls _exit, or longjmps when
 * not forking).  So a suite function, which runs in Check's parent process,
 * calls test_base_init(): spools are then made inside one base directory
 * that the parent removes at exit, whatever became of the tests.
 */
static char testio_base[64];
static pid_t testio_base_owner;

static inline void testio_remove_base(void)
{
	char cmd[200];

	if (testio_base[0] == '\0' || getpid() != testio_base_owner)
		return;		/* a forked test's exit: not ours to remove */
	snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'",
		 testio_base, testio_base);
	if (system(cmd) != 0)
		fprintf(stderr, "testio: cannot remove %s\n", testio_base);
	testio_base[0] = '\0';
}

static inline void test_base_init(void)
{
	if (testio_base[0] != '\0')
		return;
	snprintf(testio_base, sizeof testio_base, "/tmp/smtpd-check-XXXXXX");
	if (mkdtemp(testio_base) == NULL || atexit(testio_remove_base) != 0)
		abort();
	testio_base_owner = getpid();
}

/* A fresh directory (in the base when there is one) into dir[size]. */
static inline void test_tmpdir(char *dir, size_t size, const char *prefix)
{
	int n;

	if (testio_base[0] != '\0')
		n = snprintf(dir, size, "%s/%s-XXXXXX", testio_base, prefix);
	else
		n = snprintf(dir, size, "/tmp/smtpd-%s-XXXXXX", prefix);
	if (n < 0 || (size_t)n >= size || mkdtemp(dir) == NULL)
		abort();
}

static inline void test_spool(struct test_run *r)
{
	test_tmpdir(r->spool, sizeof r->spool, "spool");
}

/* Run input through a session (cfg prepared by the caller, or defaults
 * when r->cfg.hostname is NULL).  chunk: bytes per read, 0 for all. */
static inline void test_session(struct test_run *r, const char *input, size_t len,
			 size_t chunk)
{
	static struct session s;

	if (r->spool[0] == '\0')
		test_spool(r);
	if (r->cfg.hostname == NULL)
		test_config(&r->cfg, r->spool);
	r->tio.in = input;
	r->tio.inlen = len;
	r->tio.pos = 0;
	r->tio.chunk = chunk;
	testio_bind(&r->tio, &r->io);
	if (store_init(&r->store, r->spool, r->cfg.hostname) < 0)
		abort();
	if (session_init(&s, &r->cfg, &r->store, &r->io) < 0)
		abort();
	r->status = session_run(&s);
	session_free(&s);
	store_close(&r->store);
	r->replies = r->tio.out ? r->tio.out : "";
}

#define TEST_SESSION(r, str) test_session((r), (str), sizeof(str) - 1, 0)

/* The same for a NUL-terminated input. */
static inline void test_session_str(struct test_run *r, const char *input,
				    size_t chunk)
{
	test_session(r, input, strlen(input), chunk);
}

/* Number of files in spool/sub. */
static inline int test_count(const struct test_run *r, const char *sub)
{
	char path[128];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", r->spool, sub);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The contents of the only (or first) file in new/, malloc'ed; NULL if none. */
static inline char *test_message(const struct test_run *r, size_t *lenp)
{
	char path[512];
	DIR *d;
	struct dirent *e;
	char *buf = NULL;

	snprintf(path, sizeof path, "%s/new", r->spool);
	d = opendir(path);
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/new/%s", r->spool, e->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			break;
		fseek(f, 0, SEEK_END);
		long n = ftell(f);
		rewind(f);
		buf = malloc((size_t)n + 1);
		if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
			abort();
		buf[n] = '\0';
		if (lenp)
			*lenp = (size_t)n;
		fclose(f);
		break;
	}
	closedir(d);
	return buf;
}

/* The message body after our envelope (Return-Path, X-Original-To...,
 * Received:), i.e. what the client sent, as stored. */
static inline const char *test_body(const char *file)
{
	const char *p = strstr(file, "\nReceived: ");
	if (p == NULL)
		return NULL;
	p = strchr(p + 1, '\n');
	return p ? p + 1 : NULL;
}

/* Hand p to r: test_cleanup frees it.  Returns p. */
static inline void *test_keep(struct test_run *r, void *p)
{
	if (p == NULL)
		return NULL;
	if (r->nowned == sizeof r->owned / sizeof r->owned[0])
		abort();
	r->owned[r->nowned++] = p;
	return p;
}

/* A whole file, malloc'ed and NUL terminated; NULL if it cannot be read. */
static inline char *test_read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			buf = realloc(buf, cap + 1);
			if (buf == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

/* The queue id of the n-th (from 0) "queued as" reply, or NULL. */
static inline const char *test_queue_id(struct test_run *r, unsigned n)
{
	const char *p = r->replies ? r->replies : "";

	for (;;) {
		p = strstr(p, "queued as ");
		if (p == NULL)
			return NULL;
		p += strlen("queued as ");
		if (n-- == 0)
			break;
	}
	size_t len = strcspn(p, "\r\n");
	char *id = malloc(len + 1);
	if (id == NULL)
		abort();
	memcpy(id, p, len);
	id[len] = '\0';
	return test_keep(r, id);
}

/* The file of the n-th (from 0) queued message, in new/ under its Maildir
 * name (queue id, ".", the host name made safe); kept by r.  NULL if it is
 * not there. */
static inline const char *test_queued(struct test_run *r, unsigned n, size_t *lenp)
{
	const char *id = test_queue_id(r, n);
	char path[600];
	DIR *d;
	struct dirent *e;
	char *file = NULL;

	if (id == NULL)
		return NULL;
	snprintf(path, sizeof path, "%s/new", r->spool);
	d = opendir(path);
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		size_t k = strlen(id);
		if (strncmp(e->d_name, id, k) == 0 && e->d_name[k] == '.') {
			snprintf(path, sizeof path, "%s/new/%s", r->spool, e->d_name);
			file = test_read_file(path, lenp);
			break;
		}
	}
	closedir(d);
	return test_keep(r, file);
}

/* A copy of s with every queue id ("SECONDS.MUSECSPpidQn") replaced by
 * "ID", so whole transcripts and files compare exactly; kept by r. */
static inline const char *test_norm(struct test_run *r, const char *s)
{
	size_t len = strlen(s), o = 0;
	char *out = malloc(len + 1);

	if (out == NULL)
		abort();
	for (size_t i = 0; i < len;) {
		size_t j = i, k;
		while (j < len && s[j] >= '0' && s[j] <= '9')
			j++;
		k = j;
		if (j > i && (i == 0 || s[i - 1] < '0' || s[i - 1] > '9') &&
		    s[k] == '.' && s[k + 1] == 'M') {
			k += 2;
			size_t d = k;
			while (s[k] >= '0' && s[k] <= '9')
				k++;
			if (k - d == 6 && s[k] == 'P') {
				d = ++k;
				while (s[k] >= '0' && s[k] <= '9')
					k++;
				if (k > d && s[k] == 'Q') {
					d = ++k;
					while (s[k] >= '0' && s[k] <= '9')
						k++;
					if (k > d) {
						memcpy(out + o, "ID", 2);
						o += 2;
						i = k;
						continue;
					}
				}
			}
		}
		out[o++] = s[i++];
	}
	out[o] = '\0';
	return test_keep(r, out);
}

static inline void test_cleanup(struct test_run *r)
{
	char cmd[128];

	while (r->nowned > 0)
		free(r->owned[--r->nowned]);
	free(r->tio.out);
	r->tio.out = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->spool);
	if (system(cmd) != 0)
		abort();
}

#endif
