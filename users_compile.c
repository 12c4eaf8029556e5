/*
 * users_compile.c: --compile-users: a text table, once checked, written
 * as the cdb form (the records users_cdb.c describes) into a temporary
 * file next to it, then renamed over FILE.cdb, so that a connection
 * opening the table finds the old cdb or the new one, never part of one.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "users_impl.h"

/* ---------------------------------------------------------------------
 * The records
 */

/* A secondary key: a local part, or a word of a full name, in the text
 * buffer, and where the entry's 'a' record is in the cdb. */
struct secondary {
	uint32_t str, pos;
	uint16_t len;
	char type;
};

static int secondary_cmp(const void *a, const void *b, void *arg)
{
	const struct secondary *x = a, *y = b;
	const char *buf = arg;
	size_t n = x->len < y->len ? x->len : y->len;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	for (size_t i = 0; i < n; i++) {
		int cx = lower((unsigned char)buf[x->str + i]);
		int cy = lower((unsigned char)buf[y->str + i]);
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int same_secondary(const struct secondary *x, const struct secondary *y,
			  const char *buf)
{
	if (x->type != y->type || x->len != y->len)
		return 0;
	for (size_t i = 0; i < x->len; i++)
		if (lower((unsigned char)buf[x->str + i]) != lower((unsigned char)buf[y->str + i]))
			return 0;
	return 1;
}

/* The start of the line after p. */
static const char *next_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

/* The secondary keys of one record (stored at sec unless NULL): how many. */
static size_t record_secondary(const char *buf, const struct rec *r, uint32_t pos,
			       struct secondary *sec)
{
	const char *c = r->args, *name, *w;
	size_t count = 0;

	if (r->key[0] != '@') {
		if (sec != NULL)
			sec[count] = (struct secondary){(uint32_t)(r->key - buf), pos,
				(uint16_t)users_key_local_len(r->key, strlen(r->key)), 'l'};
		count++;
	}
	if (r->kind != USERS_ACCEPT || (name = arg_next(&c, r->end)) == NULL)
		return count;
	for (w = name; *w != '\0';) {
		size_t len = strcspn(w, " ");
		if (sec != NULL)
			sec[count] = (struct secondary){(uint32_t)(w - buf), pos,
				(uint16_t)len, 'n'};
		count++;
		w += len + (w[len] == ' ');
	}
	return count;
}

/* The 'l' and 'n' records: one per distinct secondary key, listing the
 * positions of its entries in table order, each once. */
static int write_secondary(const struct users *u, struct cdb_make *cm,
			   struct secondary *sec, size_t n)
{
	char key[1 + USERS_NAME_MAX + 1];
	unsigned char *list = malloc(4 * (n + 1));
	size_t i = 0;

	if (list == NULL)
		return -1;
	qsort_r(sec, n, sizeof *sec, secondary_cmp, u->buf);
	while (i < n) {
		size_t j, len = 0;
		key[0] = sec[i].type;
		for (size_t k = 0; k < sec[i].len; k++)
			key[1 + k] = (char)lower((unsigned char)u->buf[sec[i].str + k]);
		for (j = i; j < n && same_secondary(&sec[i], &sec[j], u->buf); j++) {
			if (j > i && sec[j - 1].pos == sec[j].pos)
				continue;	/* "Anna Anna" */
			cdb_pack(sec[j].pos, list + len);
			len += 4;
		}
		if (cdb_make_add(cm, key, 1u + sec[i].len, list, (unsigned)len) < 0) {
			free(list);
			return -1;
		}
		i = j;
	}
	free(list);
	return 0;
}

/* The format record, then one 'a' record per entry, then the lists. */
static int write_records(const struct users *u, struct cdb_make *cm)
{
	static const char letter[] = {
		[USERS_ACCEPT] = 'A', [USERS_FORWARD] = 'F',
		[USERS_MOVED] = 'M', [USERS_GROUP] = 'G',
	};
	const char *end = u->buf + u->size;
	char key[1 + KEY_MAX + 1], value[1 + USERS_LINE_MAX];
	struct secondary *sec;
	size_t nsec = 0;
	struct rec r;
	int rc;

	for (const char *p = u->buf; p < end; p = next_line(p, end)) {
		if (is_text_rec(p)) {
			users_text_rec(p, &r);
			nsec += record_secondary(u->buf, &r, 0, NULL);
		}
	}
	sec = malloc((nsec + 1) * sizeof *sec);
	if (sec == NULL)
		return -1;
	nsec = 0;
	rc = cdb_make_add(cm, USERS_CDB_MAGIC, USERS_CDB_MAGIC_LEN, USERS_CDB_FORMAT,
			  (unsigned)strlen(USERS_CDB_FORMAT));
	for (const char *p = u->buf; p < end && rc == 0; p = next_line(p, end)) {
		size_t kn, vn;
		if (!is_text_rec(p))
			continue;
		users_text_rec(p, &r);
		kn = strlen(r.key);
		vn = (size_t)(r.end - r.args);
		key[0] = 'a';
		memcpy(key + 1, r.key, kn);
		value[0] = letter[r.kind];
		memcpy(value + 1, r.args, vn);
		/* cdb_dpos: where cdb_make_add puts this record. */
		nsec += record_secondary(u->buf, &r, cm->cdb_dpos, sec + nsec);
		rc = cdb_make_add(cm, key, (unsigned)(kn + 1), value, (unsigned)(vn + 1));
	}
	if (rc == 0)
		rc = write_secondary(u, cm, sec, nsec);
	free(sec);
	return rc < 0 ? -1 : 0;
}

/* Write the cdb of u to fd: 0, or -1 with errno. */
static int write_cdb(const struct users *u, int fd)
{
	struct cdb_make cm;
	int rc, saved;

	if (cdb_make_start(&cm, fd) < 0)
		return -1;
	rc = write_records(u, &cm);
	saved = errno;
	/* cdb_make_finish also frees what cdb_make_add allocated. */
	if (cdb_make_finish(&cm) < 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	errno = saved;
	return rc;
}

/* ---------------------------------------------------------------------
 * The file
 */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* Create the temporary file next to the target, with O_EXCL so that a
 * concurrent compile or a stale file is never written through. */
static int create_temp(const char *target, mode_t mode, char *tmp, size_t size)
{
	const char *base = strrchr(target, '/');
	int dirlen = base != NULL ? (int)(base - target + 1) : 0;

	base = base != NULL ? base + 1 : target;
	for (unsigned i = 0; i < 100; i++) {
		int fd, n = snprintf(tmp, size, "%.*s.%s.tmp%ld.%u", dirlen, target,
				     base, (long)getpid(), i);
		if (n < 0 || (size_t)n >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* Write u's cdb into a new temporary file next to target, fsync it, and
 * rename it over target: NULL, or the step that failed, with errno set
 * and the temporary file removed. */
static const char *replace_cdb(const struct users *u, const char *target,
			       mode_t mode, char *tmp, size_t tmpsize)
{
	const char *step = NULL;
	int fd = create_temp(target, mode, tmp, tmpsize), saved;

	if (fd < 0)
		return "create";
	if (fchmod(fd, mode) < 0)	/* as readable as the text, umask or not */
		step = "fchmod";
	else if (write_cdb(u, fd) < 0)
		step = "write";
	else if (fsync(fd) < 0)
		step = "fsync";
	saved = errno;
	if (close(fd) < 0 && step == NULL) {
		step = "close";
		saved = errno;
	}
	if (step == NULL && rename(tmp, target) < 0) {
		step = "rename";
		saved = errno;
	}
	if (step != NULL) {
		unlink(tmp);
		errno = saved;
	}
	return step;
}

int users_compile(const char *path, char *err, size_t errsize)
{
	char target[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/'), *step;
	struct users *u;
	struct stat st;
	int n = snprintf(target, sizeof target, "%s.cdb", path);

	if (n < 0 || (size_t)n >= sizeof target) {
		snprintf(err, errsize, "%s: name too long", path);
		return -1;
	}
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else		/* "/users" is in "/" */
		snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
	u = users_open(path, err, errsize);
	if (u == NULL)
		return -1;
	if (u->form == FORM_CDB) {
		snprintf(err, errsize, "%s: already a compiled table", path);
		users_free(u);
		return -1;
	}
	step = stat(path, &st) < 0 ? "stat" :
	       replace_cdb(u, target, st.st_mode & 0666, tmp, sizeof tmp);
	users_free(u);
	if (step != NULL) {
		snprintf(err, errsize, "%s: cannot %s %s: %s", target, step,
			 strcmp(step, "stat") == 0 ? path : tmp, strerror(errno));
		return -1;
	}
	if (fsync_dir(dir) < 0) {
		snprintf(err, errsize, "%s: cannot fsync: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}
