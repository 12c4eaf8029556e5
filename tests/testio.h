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

struct testio {
	const char *in;
	size_t inlen, pos;
	size_t chunk;		/* bytes per read; 0: all that is left */
	ssize_t end_status;	/* what read returns at the end: 0 (EOF) or an IO_* */
	char *out;
	size_t outlen, outcap;
	unsigned paused_ms;
	int data_phases;
};

static inline ssize_t testio_read(void *ctx, void *buf, size_t n)
{
	struct testio *t = ctx;
	size_t left = t->inlen - t->pos;

	if (left == 0)
		return t->end_status;
	if (t->chunk && n > t->chunk)
		n = t->chunk;
	if (n > left)
		n = left;
	memcpy(buf, t->in + t->pos, n);
	t->pos += n;
	return (ssize_t)n;
}

static inline int testio_write(void *ctx, const void *buf, size_t n)
{
	struct testio *t = ctx;

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

static inline void testio_pause(void *ctx, unsigned ms)
{
	((struct testio *)ctx)->paused_ms += ms;
}

static inline int testio_pending(void *ctx)
{
	struct testio *t = ctx;
	return t->pos < t->inlen;
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
	(void)ctx;
	return TESTIO_NOW;
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
	c->log.mode = LOGTO_NONE;
}

struct test_run {
	char spool[64];
	struct config cfg;
	struct testio tio;
	struct io io;
	struct store store;
	int status;
	const char *replies;	/* everything smtpd wrote */
};

static inline void test_spool(struct test_run *r)
{
	snprintf(r->spool, sizeof r->spool, "/tmp/smtpd-check-XXXXXX");
	if (mkdtemp(r->spool) == NULL)
		abort();
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

static inline void test_cleanup(struct test_run *r)
{
	char cmd[128];

	free(r->tio.out);
	r->tio.out = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->spool);
	if (system(cmd) != 0)
		abort();
}

#endif
