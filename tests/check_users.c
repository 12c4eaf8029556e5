/*
 * check_users.c: the users table (users.c): the parser and every error with
 * its line number, lookups, group expansion, VRFY searches, and the cdb
 * form: the same answers as the text, written atomically, never from a
 * broken table.  Tables are written into a fresh mkdtemp directory.
 */
#include <cdb.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suites.h"
#include "users.h"

/* ------------------------------------------------------------------ */
/* Helpers: a temporary directory, files in it, answers as text.  Each
 * test's directory is made inside one base directory per test case, which
 * the runner removes after the case, so that a failed test (which exits
 * on the spot under CK_FORK) leaves nothing behind either. */

static char base[64], dir[96];

static int make_writable(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)f;
	if (type == FTW_D || type == FTW_DNR)
		chmod(path, (st->st_mode & 07777) | S_IRWXU);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st, (void)type, (void)f;
	return remove(path);
}

static void base_make(void)
{
	snprintf(base, sizeof base, "/tmp/check_users.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static void base_remove(void)
{
	nftw(base, make_writable, 16, FTW_PHYS);
	nftw(base, remove_one, 16, FTW_PHYS | FTW_DEPTH);
}

static void dir_make(void)
{
	snprintf(dir, sizeof dir, "%s/t.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* At the end of a test that passed: its directory holds only files. */
static void dir_remove(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		ck_assert_int_eq(unlink(path), 0);
	}
	closedir(d);
	ck_assert_int_eq(rmdir(dir), 0);
}

/* Write n bytes as dir/name; returns the path (static, one at a time). */
static const char *put_bytes(const char *name, const char *text, size_t n)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static const char *put(const char *name, const char *text)
{
	return put_bytes(name, text, strlen(text));
}

/* The names in dir, sorted, space-separated. */
static char *listing(void)
{
	static char out[1024];
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	ck_assert_int_ge(n, 0);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' || strlen(names[i]->d_name) > 2) {
			strcat(out, out[0] ? " " : "");
			strcat(out, names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
	return out;
}

/* Long texts: on a difference both go to stderr, since Check cannot
 * carry a message that long. */
#define assert_text(got, want) assert_text_at(__LINE__, (got), (want))
static void assert_text_at(int line, const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "check_users.c:%d: got:\n%s\nwanted:\n%s\n", line, got, want);
		ck_abort_msg("line %d: texts differ (both on stderr)", line);
	}
}

/* users_check's report, with dir replaced by "T". */
static char *check_report(const char *path, int *errors)
{
	static char out[8192];
	char *buf = NULL, *p, *q;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	*errors = users_check(path, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_lt(len, sizeof out);
	for (p = buf, q = out; *p != '\0';) {
		if (strncmp(p, dir, strlen(dir)) == 0) {
			*q++ = 'T';
			p += strlen(dir);
		} else {
			*q++ = *p++;
		}
	}
	*q = '\0';
	free(buf);
	return out;
}

static struct users *open_ok(const char *path)
{
	char err[512] = "";
	struct users *u = users_open(path, err, sizeof err);

	if (u == NULL)
		ck_abort_msg("users_open: %s", err);
	return u;
}

/* users_open's error, with dir replaced by "T". */
static const char *open_error(const char *path)
{
	static char err[512], out[512];
	struct users *u = users_open(path, err, sizeof err);

	ck_assert_ptr_null(u);
	ck_assert_int_eq(strncmp(err, dir, strlen(dir)), 0);
	snprintf(out, sizeof out, "T%s", err + strlen(dir));
	return out;
}

struct text {
	char s[4096];
	int stop_after;		/* add(): -1 after this many (0: never; <0: at once) */
	int stop_code;		/* what add() then returns, if not -1 */
	int calls;
};

static void text_add(struct text *t, const char *s)
{
	size_t n = strlen(t->s);
	snprintf(t->s + n, sizeof t->s - n, "%s%s", n ? " " : "", s);
}

static int collect(void *ctx, const char *mailbox)
{
	struct text *t = ctx;

	t->calls++;
	if (t->stop_after < 0 || (t->stop_after > 0 && t->calls > t->stop_after))
		return t->stop_code ? t->stop_code : -1;
	text_add(t, mailbox);
	return 0;
}

static void found(void *ctx, const struct users_entry *e)
{
	struct text *t = ctx;
	char one[1024];

	snprintf(one, sizeof one, "%d:%s:%s:%s", e->kind, e->address, e->name, e->target);
	text_add(t, one);
}

/* Everything the table says about one query, as one line: the lookup
 * (kind, key, name, target, mailbox), the expansion, the search. */
static const char *answer(const struct users *u, const char *q, const char *delim)
{
	static char out[16384];
	struct users_entry e;
	struct text x = {0}, s = {0};
	enum users_kind k = users_lookup(u, q, delim, &e);
	int n = -3, m;

	if (k != USERS_UNKNOWN && k != USERS_ERROR)
		n = users_expand(u, &e, collect, &x);
	m = users_search(u, q, 10, found, &s);
	if (k == USERS_UNKNOWN || k == USERS_ERROR)
		snprintf(out, sizeof out, "%d | search %d [%s]", k, m, s.s);
	else
		snprintf(out, sizeof out, "%d %s [%s] %s %s | expand %d [%s] | search %d [%s]",
			 k, e.address, e.name, e.target, e.mailbox, n, x.s, m, s.s);
	return out;
}

static const char *expand(const struct users *u, const char *q, int stop_after, int *rc)
{
	static struct text x;
	struct users_entry e;

	memset(&x, 0, sizeof x);
	x.stop_after = stop_after;
	ck_assert_int_ne(users_lookup(u, q, NULL, &e), USERS_UNKNOWN);
	*rc = users_expand(u, &e, collect, &x);
	return x.s;
}

static const char *search(const struct users *u, const char *q, unsigned max, int *rc)
{
	static struct text s;

	memset(&s, 0, sizeof s);
	*rc = users_search(u, q, max, found, &s);
	return s.s;
}

static int compile(const char *path)
{
	char err[512];
	int rc = users_compile(path, err, sizeof err);

	if (rc != 0)
		ck_abort_msg("users_compile: %s", err);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The parser */

static const char example[] =
	"# The example table of users.h.\n"
	"\n"
	"alice@example.org    accept   Alice   Smith   # one space between words\n"
	"Bob@Example.ORG\tforward\tbob@elsewhere.net\n"
	"  carol@example.org  moved    carol@newplace.example\n"
	"staff@example.org    group    alice@example.org team@example.org bob@example.org\n"
	"team@example.org     group    ALICE@example.org dave@example.org ext@foreign.example\n"
	"@catchall.example    accept\n"
	"\"john smith\"@example.org accept John Smith\n"
	"a#b@example.org      accept   # '#' inside a field is not a comment\n"
	"   # indented comment\n"
	"\t\n"
	"crlf@example.org     accept   Line With CR\r\n"
	"\"quoted\"@example.org accept\n"
	"last@example.org     accept   No Newline";

START_TEST(parse_example)
{
	struct users *u;
	int errors;

	dir_make();
	const char *path = put("users", example);
	assert_text(check_report(path, &errors), "");
	ck_assert_int_eq(errors, 0);
	u = open_ok(path);
	ck_assert_str_eq(answer(u, "alice@example.org", NULL),
		"1 alice@example.org [Alice Smith]  alice@example.org | expand 1 [alice@example.org]"
		" | search 1 [1:alice@example.org:Alice Smith:]");
	ck_assert_str_eq(answer(u, "bob@example.org", NULL),
		"2 bob@example.org [] bob@elsewhere.net bob@example.org | expand 1 [bob@elsewhere.net]"
		" | search 1 [2:bob@example.org::bob@elsewhere.net]");
	ck_assert_str_eq(answer(u, "carol@example.org", NULL),
		"3 carol@example.org [] carol@newplace.example carol@example.org | expand 0 []"
		" | search 1 [3:carol@example.org::carol@newplace.example]");
	ck_assert_str_eq(answer(u, "a#b@example.org", NULL),
		"1 a#b@example.org []  a#b@example.org | expand 1 [a#b@example.org]"
		" | search 1 [1:a#b@example.org::]");
	ck_assert_str_eq(answer(u, "crlf@example.org", NULL),
		"1 crlf@example.org [Line With CR]  crlf@example.org | expand 1 [crlf@example.org]"
		" | search 1 [1:crlf@example.org:Line With CR:]");
	ck_assert_str_eq(answer(u, "quoted@example.org", NULL),
		"1 quoted@example.org []  quoted@example.org | expand 1 [quoted@example.org]"
		" | search 1 [1:quoted@example.org::]");
	ck_assert_str_eq(answer(u, "last@example.org", NULL),
		"1 last@example.org [No Newline]  last@example.org | expand 1 [last@example.org]"
		" | search 1 [1:last@example.org:No Newline:]");
	ck_assert_str_eq(answer(u, "\"John Smith\"@Example.org", NULL),
		"1 \"john smith\"@example.org [John Smith]  \"John Smith\"@Example.org"
		" | expand 1 [\"John Smith\"@Example.org]"
		" | search 1 [1:\"john smith\"@example.org:John Smith:]");
	users_free(u);
	dir_remove();
}
END_TEST

/* The example shipped for operators (and the integration tests) is clean
 * and says what its comments say. */
START_TEST(parse_shipped_example)
{
	struct users *u;
	int rc;

	ck_assert_int_eq(users_check("tests/users/example.txt", stderr), 0);
	u = open_ok("tests/users/example.txt");
	ck_assert_str_eq(expand(u, "staff@example.org", 0, &rc),
		"alice@example.org fred@example.org bob@elsewhere.example partner@other.example");
	ck_assert_str_eq(search(u, "smith", 10, &rc),
		"1:alice@example.org:Alice Smith: 1:fred@example.org:Fred Smith:");
	ck_assert_str_eq(search(u, "\"John Q\"", 10, &rc),
		"1:\"john q\"@example.org:John Q. Public:");
	users_free(u);
}
END_TEST

/* Every error, each with its line number, all reported by users_check;
 * users_open stops at the first. */
static const char broken[] =
	"ok@example.org accept\n"					/* 1 */
	"nokind@example.org\n"						/* 2 */
	"x@example.org frobnicate\n"					/* 3 */
	"not an address accept\n"					/* 4 */
	"<angle@example.org> accept\n"					/* 5 */
	"OK@EXAMPLE.ORG accept\n"					/* 6 */
	"\"ok\"@example.org accept\n"					/* 7 */
	"f1@example.org forward\n"					/* 8 */
	"f2@example.org forward a@example.net b@example.net\n"		/* 9 */
	"f3@example.org forward F3@Example.org\n"			/* 10 */
	"f4@example.org moved bad@\n"					/* 11 */
	"g1@example.org group\n"					/* 12 */
	"g2@example.org group ok@example.org not-an-address\n"		/* 13 */
	"@c1.example accept Catch All\n"				/* 14 */
	"@c2.example group a@example.net\n"				/* 15 */
	"@-bad-.example accept\n"					/* 16 */
	"n1@example.org accept Evil <root@example.org>\n"		/* 17 */
	"local@example.org accept\n"					/* 18: fine */
	"postmaster accept\n"						/* 19 */
	"@a,@b:route@example.org accept\n"				/* 20 */
	"toolong@example.org accept " "0123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789\n"							/* 21 */
	"x@example.org accept\n"					/* 22: fine */
	"x12345678901234567890123456789012345678901234567890123456789012345"
	"@example.org accept\n";					/* 23 */

START_TEST(parse_every_error)
{
	int errors;

	dir_make();
	const char *path = put("users", broken);
	assert_text(check_report(path, &errors),
		"T/users:2: no kind after the address (accept, forward, moved or group)\n"
		"T/users:3: unknown kind \"frobnicate\" (accept, forward, moved or group)\n"
		"T/users:4: bad address \"not\"\n"
		"T/users:5: bad address \"<angle@example.org>\"\n"
		"T/users:6: duplicate of line 1 (\"ok@example.org\")\n"
		"T/users:7: duplicate of line 1 (\"ok@example.org\")\n"
		"T/users:8: forward without an address\n"
		"T/users:9: forward takes one address\n"
		"T/users:10: forward to the address itself\n"
		"T/users:11: bad address \"bad@\"\n"
		"T/users:12: group without members\n"
		"T/users:13: bad address \"not-an-address\"\n"
		"T/users:14: a catch-all (@domain) takes \"accept\" and nothing else\n"
		"T/users:15: a catch-all (@domain) takes \"accept\" and nothing else\n"
		"T/users:16: bad address \"@-bad-.example\"\n"
		"T/users:17: '<' in full name\n"
		"T/users:19: bad address \"postmaster\"\n"
		"T/users:20: bad address \"@a,@b:route@example.org\"\n"
		"T/users:21: full name longer than 255 bytes\n"
		"T/users:23: address \"x123456789012345678901234567890123456789012345678901234567890...\""
		" too long (local part over 64 or domain over 255 bytes)\n");
	ck_assert_int_eq(errors, 20);
	ck_assert_int_eq(users_check(path, NULL), 20);
	ck_assert_str_eq(open_error(path),
		"T/users:2: no kind after the address (accept, forward, moved or group)");
	dir_remove();
}
END_TEST

START_TEST(parse_long_lines)
{
	char line[USERS_LINE_MAX + 200];
	char *text = malloc(200000);
	size_t n;
	int errors;

	dir_make();
	/* Exactly USERS_LINE_MAX bytes (the LF apart): fine.  One more: an
	 * error.  100,000: an error, and the next line is read as usual. */
	n = (size_t)snprintf(line, sizeof line, "big@example.org group");
	while (n + 16 <= USERS_LINE_MAX)
		n += (size_t)snprintf(line + n, sizeof line - n, " m%012zu@x", n);
	while (n < USERS_LINE_MAX)
		line[n++] = ' ';
	line[n] = '\0';
	ck_assert_uint_eq(strlen(line), USERS_LINE_MAX);
	snprintf(text, 200000, "# a\n%s\n%s \n", line, line);
	n = strlen(text);
	memcpy(text + n, "huge@example.org accept ", 24);
	memset(text + n + 24, 'x', 100000);
	strcpy(text + n + 24 + 100000, "\nafter@example.org accept After\n");
	const char *path = put("users", text);
	assert_text(check_report(path, &errors),
		"T/users:3: line longer than 4096 bytes\n"
		"T/users:4: line longer than 4096 bytes\n");
	ck_assert_int_eq(errors, 2);
	/* A CR before the LF does not count. */
	snprintf(text, 200000, "%s\r\n", line);
	path = put("users", text);
	assert_text(check_report(path, &errors), "");
	free(text);
	dir_remove();
}
END_TEST

START_TEST(parse_non_ascii)
{
	static const char table[] =
		"\xc3\xa9t\xc3\xa9@example.org accept\n"		/* 1: 8-bit local part */
		"ete@ex\xc3\xa4mple.org accept\n"			/* 2: 8-bit domain */
		"f@example.org forward x@b\xc3\xbc.example\n"		/* 3: 8-bit target */
		"utf8@example.org accept Ren\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\n" /* 4: fine */
		"latin1@example.org accept Ren\xe9\n"			/* 5: not UTF-8 */
		"overlong@example.org accept \xc0\xaf\n"		/* 6 */
		"surrogate@example.org accept \xed\xa0\x80\n"		/* 7 */
		"beyond@example.org accept \xf4\x90\x80\x80\n"		/* 8 */
		"cut@example.org accept abc\xe2\x82\n"			/* 9 */
		"c1@example.org accept a\xc2\x85z\n"			/* 10 */
		"ctl@example.org accept a\x01z\n"			/* 11 */
		"del@example.org accept a\x7fz\n"			/* 12 */
		"nul@example.org accept a";				/* 13, NUL follows */
	char text[sizeof table + 32];
	struct users *u;
	int errors;

	dir_make();
	memcpy(text, table, sizeof table - 1);
	memcpy(text + sizeof table - 1, "\0z\n", 3);
	const char *path = put_bytes("users", text, sizeof table - 1 + 3);
	assert_text(check_report(path, &errors),
		"T/users:1: non-ASCII byte in address \"\\xc3\\xa9t\\xc3\\xa9@example.org\" (SMTPUTF8 is not offered)\n"
		"T/users:2: non-ASCII byte in address \"ete@ex\\xc3\\xa4mple.org\" (SMTPUTF8 is not offered)\n"
		"T/users:3: non-ASCII byte in address \"x@b\\xc3\\xbc.example\" (SMTPUTF8 is not offered)\n"
		"T/users:5: full name is not valid UTF-8\n"
		"T/users:6: full name is not valid UTF-8\n"
		"T/users:7: full name is not valid UTF-8\n"
		"T/users:8: full name is not valid UTF-8\n"
		"T/users:9: full name is not valid UTF-8\n"
		"T/users:10: control character U+0085 in full name\n"
		"T/users:11: control character 0x01 in full name\n"
		"T/users:12: control character 0x7f in full name\n"
		"T/users:13: NUL byte\n");
	ck_assert_int_eq(errors, 12);
	path = put("users", "utf8@example.org accept Ren\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\n");
	u = open_ok(path);
	ck_assert_str_eq(answer(u, "UTF8@example.org", NULL),
		"1 utf8@example.org [Ren\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7]  UTF8@example.org"
		" | expand 1 [UTF8@example.org] | search 1 [1:utf8@example.org:Ren\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7:]");
	users_free(u);
	dir_remove();
}
END_TEST

START_TEST(parse_loops)
{
	char *text = malloc(2000 * 64);
	size_t n = 0;
	int errors;

	dir_make();
	const char *path = put("users",
		"self@example.org group a@example.org SELF@example.org\n"	/* 1 */
		"a@example.org accept\n"					/* 2 */
		"p@example.org group q@example.org\n"				/* 3 */
		"q@example.org group r@example.org x@example.net\n"		/* 4 */
		"r@example.org group P@Example.org\n"				/* 5 */
		"s@example.org group p@example.org\n"				/* 6: into the loop */
		"m@example.org moved n@example.net\n"				/* 7 */
		"h@example.org group a@example.org m@example.org\n");		/* 8 */
	assert_text(check_report(path, &errors),
		"T/users:1: group loop: self@example.org -> self@example.org\n"
		"T/users:5: group loop: p@example.org -> q@example.org -> r@example.org -> p@example.org\n"
		"T/users:8: member m@example.org has moved (line 7): name its new address\n");
	ck_assert_int_eq(errors, 3);
	ck_assert_str_eq(open_error(path),
		"T/users:1: group loop: self@example.org -> self@example.org");

	/* A cycle through 1000 groups, declared in reverse order. */
	for (int i = 999; i >= 0; i--)
		n += (size_t)sprintf(text + n, "g%d@example.org group g%d@example.org\n",
				     i, (i + 1) % 1000);
	path = put("users", text);
	const char *report = check_report(path, &errors);
	ck_assert_int_eq(errors, 1);
	const char *prefix = "T/users:2: group loop: g999@example.org -> "
			     "g0@example.org -> g1@example.org -> ";
	ck_assert_int_eq(strncmp(report, prefix, strlen(prefix)), 0);
	ck_assert_str_eq(report + strlen(report) - 4, "...\n");
	free(text);
	dir_remove();
}
END_TEST

START_TEST(parse_deep_groups)
{
	/* 5000 groups nested in a chain, no loop: read, and expanded with an
	 * explicit stack (no recursion). */
	char *text = malloc(5000 * 64);
	size_t n = 0;
	struct users *u;
	int rc;

	dir_make();
	for (int i = 0; i < 5000; i++)
		n += (size_t)sprintf(text + n, "d%d@example.org group d%d@example.org m%d@example.net\n",
				     i, i + 1, i % 3);
	char path[512];
	snprintf(path, sizeof path, "%s", put("users", text));
	u = open_ok(path);
	ck_assert_str_eq(expand(u, "d0@example.org", 0, &rc),
		"d5000@example.org m1@example.net m0@example.net m2@example.net");
	ck_assert_int_eq(rc, 4);
	users_free(u);
	ck_assert_int_eq(compile(path), 0);
	strcat(path, ".cdb");
	u = open_ok(path);
	ck_assert_str_eq(expand(u, "d0@example.org", 0, &rc),
		"d5000@example.org m1@example.net m0@example.net m2@example.net");
	ck_assert_int_eq(rc, 4);
	users_free(u);
	free(text);
	dir_remove();
}
END_TEST

/* ------------------------------------------------------------------ */
/* Lookups, expansion, search: on the text form, and (round trip) on the
 * cdb the text compiles to, which must give the same answers. */

static const char table[] =
	"alice@example.org      accept  Alice Smith\n"			/* 1 */
	"alice@example.net      accept  Alice Jones\n"			/* 2 */
	"alice+lists@example.org accept Alice's Lists\n"		/* 3 */
	"fred@example.org       accept  Fred Smith\n"			/* 4 */
	"smith@example.org      accept  Agent\n"			/* 5 */
	"bob@example.org        forward Bob.Remote@Elsewhere.example\n"	/* 6 */
	"carol@example.org      moved   carol@newplace.example\n"	/* 7 */
	"staff@example.org      group   alice@example.org team@example.org bob@example.org\n"
	"team@example.org       group   ALICE@Example.org dave@example.org Ext@Foreign.example"
	" fwd@example.org catch@catch.example\n"			/* 9 */
	"fwd@example.org        forward ext@foreign.example\n"		/* 10 */
	"all@example.org        group   staff@example.org team@example.org fred@example.org"
	" Bob.Remote@elsewhere.example\n"				/* 11 */
	"@catch.example         accept\n"				/* 12 */
	"\"j q\"@example.org     accept  J Q Public\n"			/* 13 */
	"\"x.y\"@example.org     accept\n"				/* 14 */
	"anna@example.org       accept  Anna Anna\n";			/* 15 */

static const char *const queries[] = {
	"alice@example.org", "ALICE@EXAMPLE.ORG", "\"alice\"@example.org",
	"alice+tag@example.org", "alice+lists@example.org", "alice-x@example.org",
	"alice+@example.org", "+alice@example.org", "alice@example.com",
	"bob@example.org", "bob+x@example.org", "carol@example.org",
	"staff@example.org", "team@example.org", "all@example.org",
	"zed@catch.example", "zed+x@CATCH.example", "zed@example.org",
	"\"j q\"@example.org", "\"J Q\"@EXAMPLE.org", "x.y@example.org",
	"\"x+y\"@example.org", "postmaster", "not an address", "",
	"alice", "Alice", "smith", "Smith", "alice smith", "ALICE   SMITH",
	"<alice@example.org>", " alice@example.net ", "Alice's", "jones",
	"anna", "\"j q\"", "j q public", "nobody", "@catch.example", "catch.example",
	"q", "public",
};

START_TEST(lookup_rules)
{
	struct users_entry e;
	struct users *u;

	dir_make();
	u = open_ok(put("users", table));
	/* Case, quoting, delimiter (only when the exact form is absent, cut
	 * at the first delimiter, never to an empty local part), catch-all. */
	ck_assert_int_eq(users_lookup(u, "Alice@Example.ORG", "+", &e), USERS_ACCEPT);
	ck_assert_str_eq(e.address, "alice@example.org");
	ck_assert_str_eq(e.mailbox, "Alice@Example.ORG");
	ck_assert_int_eq(users_lookup(u, "\"alice\"@example.org", NULL, &e), USERS_ACCEPT);
	ck_assert_str_eq(e.address, "alice@example.org");
	ck_assert_int_eq(users_lookup(u, "alice+tag@example.org", NULL, &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "alice+tag@example.org", "", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "alice+tag@example.org", "+", &e), USERS_ACCEPT);
	ck_assert_str_eq(e.address, "alice@example.org");
	ck_assert_str_eq(e.mailbox, "alice+tag@example.org");
	ck_assert_int_eq(users_lookup(u, "alice+lists@example.org", "+", &e), USERS_ACCEPT);
	ck_assert_str_eq(e.address, "alice+lists@example.org");
	ck_assert_str_eq(e.name, "Alice's Lists");
	ck_assert_int_eq(users_lookup(u, "alice-x+y@example.org", "+-", &e), USERS_ACCEPT);
	ck_assert_str_eq(e.address, "alice@example.org");
	ck_assert_int_eq(users_lookup(u, "alice-x@example.org", "+", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "+alice@example.org", "+", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "\"alice+x y\"@example.org", "+", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "bob+x@example.org", "+", &e), USERS_FORWARD);
	ck_assert_str_eq(e.target, "Bob.Remote@Elsewhere.example");
	ck_assert_int_eq(users_lookup(u, "Zed+x@Catch.Example", "+", &e), USERS_ACCEPT);
	ck_assert_str_eq(e.address, "@catch.example");
	ck_assert_str_eq(e.mailbox, "Zed+x@Catch.Example");
	ck_assert_int_eq(users_lookup(u, "zed@example.org", "+", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "zed@sub.catch.example", "+", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "postmaster", "+", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "<alice@example.org>", "+", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "alice@example.org ", "+", &e), USERS_UNKNOWN);
	ck_assert_int_eq(users_lookup(u, "\"J Q\"@example.org", "+", &e), USERS_ACCEPT);
	ck_assert_str_eq(e.address, "\"j q\"@example.org");
	ck_assert_int_eq(users_lookup(u, "x.y@example.org", "+", &e), USERS_ACCEPT);
	ck_assert_str_eq(e.address, "x.y@example.org");
	users_free(u);
	dir_remove();
}
END_TEST

START_TEST(expand_groups)
{
	struct users_entry e;
	struct users *u;
	struct text x = {0};
	int rc;

	dir_make();
	u = open_ok(put("users", table));
	/* Nested groups, each address once (ALICE@Example.org is alice),
	 * forward members by their targets, catch-all and foreign members as
	 * written. */
	ck_assert_str_eq(expand(u, "staff@example.org", 0, &rc),
		"alice@example.org dave@example.org Ext@Foreign.example"
		" catch@catch.example Bob.Remote@Elsewhere.example");
	ck_assert_int_eq(rc, 5);
	ck_assert_str_eq(expand(u, "all@example.org", 0, &rc),
		"alice@example.org dave@example.org Ext@Foreign.example"
		" catch@catch.example Bob.Remote@Elsewhere.example fred@example.org");
	ck_assert_int_eq(rc, 6);
	/* add() refusing the third address stops the expansion there. */
	ck_assert_str_eq(expand(u, "all@example.org", 2, &rc),
		"alice@example.org dave@example.org");
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(expand(u, "all@example.org", 1, &rc), "alice@example.org");
	ck_assert_int_eq(rc, -1);
	/* add() failing (out of memory: -2) is no limit, and says so. */
	struct text y = {.stop_after = 2, .stop_code = -2};
	ck_assert_int_eq(users_lookup(u, "all@example.org", NULL, &e), USERS_GROUP);
	ck_assert_int_eq(users_expand(u, &e, collect, &y), -2);
	ck_assert_str_eq(y.s, "alice@example.org dave@example.org");
	struct text z = {.stop_after = -1, .stop_code = -2};
	ck_assert_int_eq(users_lookup(u, "bob@example.org", NULL, &e), USERS_FORWARD);
	ck_assert_int_eq(users_expand(u, &e, collect, &z), -2);
	/* Single entries: no set, no allocation. */
	ck_assert_str_eq(expand(u, "bob@example.org", 0, &rc), "Bob.Remote@Elsewhere.example");
	ck_assert_int_eq(rc, 1);
	ck_assert_str_eq(expand(u, "bob@example.org", -1, &rc), "");
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(expand(u, "carol@example.org", 0, &rc), "");
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(expand(u, "ALICE@example.org", 0, &rc), "ALICE@example.org");
	ck_assert_int_eq(rc, 1);
	/* An entry from users_search has no mailbox: its address is used. */
	memset(&e, 0, sizeof e);
	e.kind = USERS_ACCEPT;
	strcpy(e.address, "alice@example.org");
	ck_assert_int_eq(users_expand(u, &e, collect, &x), 1);
	ck_assert_str_eq(x.s, "alice@example.org");
	e.kind = USERS_UNKNOWN;
	ck_assert_int_eq(users_expand(u, &e, collect, &x), 0);
	users_free(u);
	dir_remove();
}
END_TEST

START_TEST(search_vrfy)
{
	struct users *u;
	int rc;

	dir_make();
	u = open_ok(put("users", table));
	/* A full address: that entry only (no delimiter, no catch-all). */
	ck_assert_str_eq(search(u, "<Alice@Example.org>", 10, &rc),
			 "1:alice@example.org:Alice Smith:");
	ck_assert_int_eq(rc, 1);
	search(u, "alice+tag@example.org", 10, &rc);
	ck_assert_int_eq(rc, 0);
	search(u, "zed@catch.example", 10, &rc);
	ck_assert_int_eq(rc, 0);
	/* A local part at every domain, then names: several matches. */
	ck_assert_str_eq(search(u, "alice", 10, &rc),
		"1:alice@example.org:Alice Smith: 1:alice@example.net:Alice Jones:");
	ck_assert_int_eq(rc, 2);
	ck_assert_str_eq(search(u, "ALICE", 1, &rc), "1:alice@example.org:Alice Smith:");
	ck_assert_int_eq(rc, 2);
	search(u, "alice", 0, &rc);
	ck_assert_int_eq(rc, 2);
	/* smith@ by its local part first, then two by a word of the name. */
	ck_assert_str_eq(search(u, "Smith", 10, &rc),
		"1:smith@example.org:Agent: 1:alice@example.org:Alice Smith:"
		" 1:fred@example.org:Fred Smith:");
	ck_assert_int_eq(rc, 3);
	ck_assert_str_eq(search(u, " alice \t SMITH ", 10, &rc),
			 "1:alice@example.org:Alice Smith:");
	ck_assert_int_eq(rc, 1);
	ck_assert_str_eq(search(u, "anna", 10, &rc), "1:anna@example.org:Anna Anna:");
	ck_assert_int_eq(rc, 1);
	ck_assert_str_eq(search(u, "\"J Q\"", 10, &rc), "1:\"j q\"@example.org:J Q Public:");
	ck_assert_int_eq(rc, 1);
	ck_assert_str_eq(search(u, "bob", 10, &rc),
			 "2:bob@example.org::Bob.Remote@Elsewhere.example");
	ck_assert_str_eq(search(u, "carol", 10, &rc),
			 "3:carol@example.org::carol@newplace.example");
	ck_assert_str_eq(search(u, "staff", 10, &rc), "4:staff@example.org::");
	/* None. */
	search(u, "nobody", 10, &rc);
	ck_assert_int_eq(rc, 0);
	search(u, "Smit", 10, &rc);
	ck_assert_int_eq(rc, 0);
	search(u, "", 10, &rc);
	ck_assert_int_eq(rc, 0);
	search(u, "<>", 10, &rc);
	ck_assert_int_eq(rc, 0);
	search(u, "catch.example", 10, &rc);
	ck_assert_int_eq(rc, 0);
	users_free(u);
	dir_remove();
}
END_TEST

START_TEST(non_ascii_names_and_a_short_last_key)
{
	/* Bytes of 0x80 and above in a full name match in either form (a
	 * signed char compared with a lowered byte never did); --check-users
	 * passes the compiled table.  A short key in the file's last line,
	 * against longer queries in its slot: no read past the buffer (the
	 * ASan pass of make check sees it). */
	static const char t[] = "eva@example.org accept \xc3\x89va Nagy\n";
	char text_path[512], cdb_path[512];
	struct users *u;
	int rc, errors;
	char q[128], none[256];

	dir_make();
	snprintf(text_path, sizeof text_path, "%s", put("users", t));
	snprintf(cdb_path, sizeof cdb_path, "%s/users.cdb", dir);
	ck_assert_int_eq(compile(text_path), 0);
	for (int c = 0; c < 2; c++) {
		u = open_ok(c ? cdb_path : text_path);
		ck_assert_str_eq(search(u, "\xc3\x89va", 10, &rc),
				 "1:eva@example.org:\xc3\x89va Nagy:");
		ck_assert_str_eq(search(u, "\xc3\x89va Nagy", 10, &rc),
				 "1:eva@example.org:\xc3\x89va Nagy:");
		ck_assert_str_eq(search(u, "nagy", 10, &rc), "1:eva@example.org:\xc3\x89va Nagy:");
		users_free(u);
	}
	assert_text(check_report(cdb_path, &errors), "");
	ck_assert_int_eq(errors, 0);
	/* The whole file one short line, with no newline: its key ends at the
	 * buffer's last bytes. */
	u = open_ok(put("short", "a@b.cc accept"));
	snprintf(none, sizeof none, "%s", answer(u, "nobody@example.org", NULL));
	for (int n = 1; n < 100; n++) {
		memset(q, 'b', (size_t)n);
		snprintf(q + n, sizeof q - (size_t)n, "18@example.org");
		ck_assert_str_eq(answer(u, q, NULL), none);
	}
	users_free(u);
	dir_remove();
}
END_TEST

START_TEST(compile_round_trip)
{
	char text_path[512], cdb_path[512];
	struct users *t, *c;
	struct stat st;
	int errors;

	dir_make();
	snprintf(text_path, sizeof text_path, "%s", put("users", table));
	snprintf(cdb_path, sizeof cdb_path, "%s/users.cdb", dir);
	ck_assert_int_eq(compile(text_path), 0);
	ck_assert_str_eq(listing(), "users users.cdb");	/* no temporary file left */
	t = open_ok(text_path);
	c = open_ok(cdb_path);
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		for (int d = 0; d < 3; d++) {
			const char *delim = d == 0 ? NULL : d == 1 ? "+" : "+-";
			char a[16384];
			snprintf(a, sizeof a, "%s", answer(t, queries[i], delim));
			ck_assert_msg(strcmp(a, answer(c, queries[i], delim)) == 0,
				      "%s: text %s, cdb %s", queries[i], a,
				      answer(c, queries[i], delim));
		}
	}
	/* The cdb is mapped, not held: its memory is its size. */
	ck_assert_int_eq(stat(cdb_path, &st), 0);
	ck_assert_uint_ge(users_memory(c), (size_t)st.st_size);
	ck_assert_uint_lt(users_memory(c), (size_t)st.st_size + 1024);
	ck_assert_int_eq(stat(text_path, &st), 0);
	ck_assert_uint_gt(users_memory(t), (size_t)st.st_size);
	users_free(t);
	users_free(c);
	assert_text(check_report(cdb_path, &errors), "");
	ck_assert_int_eq(errors, 0);
	dir_remove();
}
END_TEST

/* A compiled table cut short, or with bytes added, is refused at start,
 * whatever its lookups happen to find.  Before, a copy missing up to its
 * last 48 bytes (the end of its last hash table) was taken, and some
 * recipients got 451. */
START_TEST(cdb_cut_short_or_added_to)
{
	static const long changes[] = {-1, -8, -48, -200, 1, 4096};
	char text_path[512], cdb_path[512];
	struct stat st;
	int errors;

	dir_make();
	snprintf(text_path, sizeof text_path, "%s", put("users", table));
	snprintf(cdb_path, sizeof cdb_path, "%s/users.cdb", dir);
	ck_assert_int_eq(compile(text_path), 0);
	users_free(open_ok(cdb_path));
	ck_assert_int_eq(stat(cdb_path, &st), 0);
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
		ck_assert_int_eq(truncate(cdb_path, st.st_size + changes[i]), 0);
		ck_assert_msg(strcmp(open_error(cdb_path), "T/users.cdb: not a valid compiled table "
				     "(damaged or cut short): compile it again") == 0,
			      "size %+ld: %s", changes[i], open_error(cdb_path));
		assert_text(check_report(cdb_path, &errors), "T/users.cdb: not a valid compiled "
			    "table (damaged or cut short): compile it again\n");
		ck_assert_int_eq(errors, 1);
		ck_assert_int_eq(compile(text_path), 0);
	}
	dir_remove();
}
END_TEST

START_TEST(compile_replaces_atomically)
{
	char path[512], cdb_path[512];
	struct users_entry e;
	struct users *old, *now;
	struct stat st1, st2;

	dir_make();
	snprintf(path, sizeof path, "%s", put("users", "a@example.org accept First\n"));
	snprintf(cdb_path, sizeof cdb_path, "%s/users.cdb", dir);
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(compile(path), 0);
	ck_assert_int_eq(stat(cdb_path, &st1), 0);
	ck_assert_uint_eq(st1.st_mode & 0777, 0640);	/* readable as the text is */
	old = open_ok(cdb_path);
	put("users", "a@example.org accept Second\nb@example.org accept\n");
	ck_assert_int_eq(compile(path), 0);
	ck_assert_int_eq(stat(cdb_path, &st2), 0);
	ck_assert_uint_ne(st1.st_ino, st2.st_ino);	/* a new file, renamed */
	ck_assert_str_eq(listing(), "users users.cdb");
	/* A connection that opened the old one keeps a consistent view. */
	ck_assert_int_eq(users_lookup(old, "a@example.org", NULL, &e), USERS_ACCEPT);
	ck_assert_str_eq(e.name, "First");
	ck_assert_int_eq(users_lookup(old, "b@example.org", NULL, &e), USERS_UNKNOWN);
	now = open_ok(cdb_path);
	ck_assert_int_eq(users_lookup(now, "a@example.org", NULL, &e), USERS_ACCEPT);
	ck_assert_str_eq(e.name, "Second");
	ck_assert_int_eq(users_lookup(now, "b@example.org", NULL, &e), USERS_ACCEPT);
	users_free(old);
	users_free(now);
	dir_remove();
}
END_TEST

START_TEST(compile_refuses)
{
	char path[512], cdb_path[512], err[512];
	struct users_entry e;
	struct users *u;

	dir_make();
	snprintf(path, sizeof path, "%s", put("users", "a@example.org accept\n"));
	snprintf(cdb_path, sizeof cdb_path, "%s/users.cdb", dir);
	ck_assert_int_eq(compile(path), 0);
	/* A broken table: refused, the old cdb left as it was, nothing else. */
	put("users", "a@example.org accept\nb@example.org group b@example.org\n");
	ck_assert_int_eq(users_compile(path, err, sizeof err), -1);
	ck_assert_str_eq(err + strlen(dir), "/users:2: group loop: b@example.org -> b@example.org");
	ck_assert_str_eq(listing(), "users users.cdb");
	u = open_ok(cdb_path);
	ck_assert_int_eq(users_lookup(u, "a@example.org", NULL, &e), USERS_ACCEPT);
	ck_assert_int_eq(users_lookup(u, "b@example.org", NULL, &e), USERS_UNKNOWN);
	users_free(u);
	/* A cdb is not compiled again; a missing file is an error. */
	ck_assert_int_eq(users_compile(cdb_path, err, sizeof err), -1);
	ck_assert_str_eq(err + strlen(dir), "/users.cdb: already a compiled table");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(users_compile(path, err, sizeof err), -1);
	ck_assert_str_eq(err + strlen(dir), "/users: No such file or directory");
	ck_assert_str_eq(listing(), "users.cdb");
	/* The rename fails (a directory is in the way): the reason, and no
	 * temporary file left. */
	put("users", "a@example.org accept\n");
	ck_assert_int_eq(unlink(cdb_path), 0);
	ck_assert_int_eq(mkdir(cdb_path, 0700), 0);
	snprintf(path, sizeof path, "%s/users.cdb/x", dir);
	put("users.cdb/x", "");
	snprintf(path, sizeof path, "%s/users", dir);
	ck_assert_int_eq(users_compile(path, err, sizeof err), -1);
	ck_assert_int_eq(strncmp(err + strlen(dir), "/users.cdb: cannot rename ", 26), 0);
	ck_assert_ptr_nonnull(strstr(err, "/.users.cdb.tmp"));
	ck_assert_str_eq(strstr(err, ": Is a directory"), ": Is a directory");
	ck_assert_str_eq(listing(), "users users.cdb");
	snprintf(path, sizeof path, "%s/users.cdb/x", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(cdb_path), 0);
	/* A directory that cannot be written (not as root): nothing left. */
	if (geteuid() != 0) {
		snprintf(path, sizeof path, "%s/users", dir);
		ck_assert_int_eq(chmod(dir, 0500), 0);
		ck_assert_int_eq(users_compile(path, err, sizeof err), -1);
		ck_assert_ptr_nonnull(strstr(err, "cannot create "));
		ck_assert_int_eq(chmod(dir, 0700), 0);
	}
	ck_assert_str_eq(listing(), "users");
	dir_remove();
}
END_TEST

/* A cdb made here by hand, with the records given (key, value pairs). */
static const char *make_cdb(const char *name, const char *const *kv, size_t n,
			    const size_t *lens)
{
	static char path[512];
	struct cdb_make cm;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cdb_make_start(&cm, fd), 0);
	for (size_t i = 0; i < n; i += 2)
		ck_assert_int_eq(cdb_make_add(&cm, kv[i], (unsigned)lens[i], kv[i + 1],
					      (unsigned)lens[i + 1]), 0);
	ck_assert_int_eq(cdb_make_finish(&cm), 0);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/* Long arguments for hand-made records: 256 and 321 bytes, one past
 * USERS_NAME_MAX and ADDRESS_MAX. */
#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define X256 X64 X64 X64 X64
#define X321 X256 X64 "x"

START_TEST(cdb_foreign_and_damaged)
{
	static const char *const other[] = {"\0smtpd-users-format", "2"};
	static const size_t other_len[] = {19, 1};
	static const char *const foreign[] = {"alice@example.org", "x"};
	static const size_t foreign_len[] = {17, 1};
	/* Records follow the 2048-byte table of contents, 8 bytes of
	 * lengths, the key, the value: "agood..." is at 2048 + 28 = 2076
	 * (0x81c), which the lists name, little-endian.  From record 13 on,
	 * each breaks one rule of users_cdb_value, check_cdb_record,
	 * users_cdb_at or list_fits that no record before it breaks, and is
	 * made so that code without that rule would take it (the comments
	 * say how); the positions in the lists are worked out the same way. */
	static const char *const damaged[] = {
		"\0smtpd-users-format", "1",			/* 1 */
		"agood@example.org", "A",			/* 2: at 0x81c */
		"abad@example.org", "X",			/* 3: at 0x836 */
		"aloop@example.org", "Gloop@example.org",	/* 4: no NUL: bad */
		"ag@example.org", "Gg@example.org\0junk",	/* 5: at 0x879 */
		"aBig@example.org", "A",			/* 6 */
		"lgood", "\x1c\x08\0\0",			/* 7: at 0x8bc */
		"lnone", "\x02\x08\0\0",			/* 8: not a record */
		"zwhat", "",					/* 9 */
		"lwrong", "\x1c\x08\0\0",			/* 10: not wrong@ */
		"nodd", "\x1c\x08\0",				/* 11 */
		"aevil@example.org", "AEvil\r\n250 x\0",	/* 12: a reply line in VRFY */
		/* 13: no value at all; what follows it is the next record's
		 * key length, 65, an 'A'. */
		"aempty@example.org", "",
		"anonamexxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@example.org",
		"A\0",						/* 14: an empty name */
		"atwo@example.org", "ANames\0Two\0",		/* 15: two names */
		"along@example.org", "A" X256 "\0",		/* 16: a name of 256 bytes */
		"afwd0@example.org", "F",			/* 17: forward to nobody */
		"amv2@example.org", "Ma@example.net\0b@example.net\0",	/* 18: moved to two */
		"afwdlong@example.org", "F" X321 "\0",		/* 19: a target of 321 */
		"agnone@example.org", "G",			/* 20: no members */
		"aglong@example.org", "Gm@example.org\0" X321 "\0",	/* 21: a member of 321 */
		"a", "A",					/* 22: at 0xe09, no address */
		"n", "\x1c\x08\0\0",				/* 23: no word */
		"a@Other.example", "A",				/* 24: catch-all in capitals */
		"a@catch.example", "Gm@example.org\0",		/* 25: catch-all group */
		"a@named.example", "ANamed\0",			/* 26: catch-all with a name */
		"anul\0x@example.org", "A",			/* 27: at 0xe7c, NUL in key */
		"aann@example.org", "AAnn Jones\0",		/* 28: at 0xe97, fine */
		"zgood@example.org", "A",			/* 29: at 0xeba, not 'a' */
		/* 30 to 32: record headers in their values, at 0xee1, 0xefc
		 * and 0xf11: a value length past the data (which wraps round
		 * added to the key's, and an 'a' record follows), one that runs
		 * past the end of the file, a key longer than a key can be. */
		"zhdr1", "\x05\0\0\0\xfc\xff\xff\xff" "agoodA",
		"zhdr2", "\x05\0\0\0\0\x08\0\0",
		"zhdr3", "\x90\x01\0\0\0\0\0\0" "a",
		"lvoid", "",					/* 33: an empty list */
		"njones", "\x97\x0e\0\0\x97\x0e\0\0",		/* 34: ann twice */
		"lgoo", "\x1c\x08\0\0",				/* 35: good, not goo */
		"lgold", "\x1c\x08\0\0",			/* 36: good, not gold */
		"nsmith", "\x97\x0e\0\0",			/* 37: Ann Jones */
		"ngood", "\x1c\x08\0\0",			/* 38: good has no name */
		"ng@example.org", "\x79\x08\0\0",		/* 39: g is a group */
		"lbadval", "\x36\x08\0\0",			/* 40: bad@'s bad value */
		"lnotrec", "\xba\x0e\0\0",			/* 41: a 'z' record */
		"lshortkey", "\x09\x0e\0\0",			/* 42: key "a" */
		"lnulkey", "\x7c\x0e\0\0",			/* 43: the NUL in the key */
		"lhugeval", "\xe1\x0e\0\0",			/* 44: zhdr1's header */
		"lpastend", "\xfc\x0e\0\0",			/* 45: zhdr2's header */
		"lhugekey", "\x11\x0f\0\0",			/* 46: zhdr3's header */
		"lfar", "\0\0\0\x7f",				/* 47: past the file */
	};
	static const size_t damaged_len[] = {19, 1, 17, 1, 16, 1, 17, 17, 14, 20,
					     16, 1, 5, 4, 5, 4, 5, 0, 6, 4, 4, 3, 17, 13,
					     18, 0, 65, 2, 16, 11, 17, 1 + 256 + 1, 17, 1,
					     16, 29, 20, 1 + 321 + 1, 18, 1, 18, 15 + 321 + 1,
					     1, 1, 1, 4, 15, 1, 15, 15, 15, 7, 18, 1, 16, 11,
					     17, 1, 5, 14, 5, 8, 5, 9,
					     5, 0, 6, 8, 4, 4, 5, 4, 6, 4, 5, 4, 14, 4,
					     7, 4, 7, 4, 9, 4, 7, 4, 8, 4, 8, 4, 8, 4, 4, 4};
	/* What a connection gets for these entries and VRFY queries: 451. */
	static const char *const unreadable[] = {
		"bad@example.org", "loop@example.org", "evil@example.org",
		"empty@example.org",
		"nonamexxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@example.org",
		"two@example.org", "long@example.org", "fwd0@example.org",
		"mv2@example.org", "fwdlong@example.org", "gnone@example.org",
		"glong@example.org",
	};
	static const char *const unsearchable[] = {
		"none", "odd", "badval", "notrec", "shortkey", "nulkey", "hugeval",
		"pastend", "hugekey", "far",
	};
	static const char *const whole[] = {
		"\0smtpd-users-format", "1", "agood@example.org", "A",
		"afred@example.org", "AFred\0",
	};
	static const size_t whole_len[] = {19, 1, 17, 1, 17, 6};
	struct users_entry e;
	struct users *u;
	int errors, rc, fd;

	ck_assert_uint_eq(sizeof damaged / sizeof damaged[0],
			  sizeof damaged_len / sizeof damaged_len[0]);
	dir_make();
	/* Another format version: refused, with the way out. */
	const char *path = make_cdb("v2.cdb", other, 2, other_len);
	ck_assert_str_eq(open_error(path),
			 "T/v2.cdb: a cdb of another format (not 1): compile the table again");
	/* A cdb without the format record is not ours, and a file named
	 * .cdb is not read as text. */
	path = make_cdb("foreign.cdb", foreign, 2, foreign_len);
	ck_assert_str_eq(open_error(path), "T/foreign.cdb: not a valid compiled table "
			 "(damaged or cut short): compile it again");
	/* Damaged records: USERS_ERROR for the session (a 451), and every
	 * one of them in users_check.  (Lists that name the wrong entries
	 * are still read: only users_check finds them.  A catch-all key in
	 * capitals is never looked up.) */
	path = make_cdb("damaged.cdb", damaged, sizeof damaged / sizeof damaged[0], damaged_len);
	u = open_ok(path);
	ck_assert_int_eq(users_lookup(u, "good@example.org", NULL, &e), USERS_ACCEPT);
	for (size_t i = 0; i < sizeof unreadable / sizeof unreadable[0]; i++)
		ck_assert_msg(users_lookup(u, unreadable[i], NULL, &e) == USERS_ERROR,
			      "%s: not USERS_ERROR", unreadable[i]);
	/* A catch-all that is not a plain accept would take the domain's
	 * mail for a group, or show a name: damaged. */
	ck_assert_int_eq(users_lookup(u, "anyone@catch.example", NULL, &e), USERS_ERROR);
	ck_assert_int_eq(users_lookup(u, "anyone@named.example", NULL, &e), USERS_ERROR);
	ck_assert_int_eq(users_lookup(u, "ann@example.org", NULL, &e), USERS_ACCEPT);
	ck_assert_int_eq(users_lookup(u, "g@example.org", NULL, &e), USERS_GROUP);
	ck_assert_int_eq(users_expand(u, &e, collect, &(struct text){0}), -2);
	for (size_t i = 0; i < sizeof unsearchable / sizeof unsearchable[0]; i++) {
		search(u, unsearchable[i], 10, &rc);
		ck_assert_msg(rc == -1, "VRFY %s: %d, not -1", unsearchable[i], rc);
	}
	ck_assert_str_eq(search(u, "good", 10, &rc), "1:good@example.org::");
	ck_assert_int_eq(rc, 1);
	users_free(u);
	assert_text(check_report(path, &errors),
		"T/damaged.cdb: record 3: bad value for \"bad@example.org\"\n"
		"T/damaged.cdb: record 4: bad value for \"loop@example.org\"\n"
		"T/damaged.cdb: record 5: bad address \"junk\" in \"g@example.org\"\n"
		"T/damaged.cdb: record 6: key \"Big@example.org\" is not a canonical address\n"
		"T/damaged.cdb: record 8: list \"lnone\" has a bad position 2050\n"
		"T/damaged.cdb: record 9: unknown key \"zwhat\"\n"
		"T/damaged.cdb: record 10: list \"lwrong\" holds \"good@example.org\", which does not fit\n"
		"T/damaged.cdb: record 11: bad list\n"
		"T/damaged.cdb: record 12: bad value for \"evil@example.org\"\n"
		"T/damaged.cdb: record 13: bad value for \"empty@example.org\"\n"
		"T/damaged.cdb: record 14: bad value for "
		"\"nonamexxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@example.org\"\n"
		"T/damaged.cdb: record 15: bad value for \"two@example.org\"\n"
		"T/damaged.cdb: record 16: bad value for \"long@example.org\"\n"
		"T/damaged.cdb: record 17: bad value for \"fwd0@example.org\"\n"
		"T/damaged.cdb: record 18: bad value for \"mv2@example.org\"\n"
		"T/damaged.cdb: record 19: bad value for \"fwdlong@example.org\"\n"
		"T/damaged.cdb: record 20: bad value for \"gnone@example.org\"\n"
		"T/damaged.cdb: record 21: bad value for \"glong@example.org\"\n"
		"T/damaged.cdb: record 22: unknown key \"a\"\n"
		"T/damaged.cdb: record 23: unknown key \"n\"\n"
		"T/damaged.cdb: record 24: key \"@Other.example\" is not a canonical address\n"
		"T/damaged.cdb: record 25: catch-all \"@catch.example\" is not a plain accept\n"
		"T/damaged.cdb: record 26: catch-all \"@named.example\" is not a plain accept\n"
		"T/damaged.cdb: record 27: key \"nul\\x00x@example.org\" is not a canonical address\n"
		"T/damaged.cdb: record 29: unknown key \"zgood@example.org\"\n"
		"T/damaged.cdb: record 30: unknown key \"zhdr1\"\n"
		"T/damaged.cdb: record 31: unknown key \"zhdr2\"\n"
		"T/damaged.cdb: record 32: unknown key \"zhdr3\"\n"
		"T/damaged.cdb: record 33: bad list\n"
		"T/damaged.cdb: record 34: list \"njones\" has a bad position 3735\n"
		"T/damaged.cdb: record 35: list \"lgoo\" holds \"good@example.org\", which does not fit\n"
		"T/damaged.cdb: record 36: list \"lgold\" holds \"good@example.org\", which does not fit\n"
		"T/damaged.cdb: record 37: list \"nsmith\" holds \"ann@example.org\", which does not fit\n"
		"T/damaged.cdb: record 38: list \"ngood\" holds \"good@example.org\", which does not fit\n"
		"T/damaged.cdb: record 39: list \"ng@example.org\" holds \"g@example.org\", which does not fit\n"
		"T/damaged.cdb: record 40: list \"lbadval\" has a bad position 2102\n"
		"T/damaged.cdb: record 41: list \"lnotrec\" has a bad position 3770\n"
		"T/damaged.cdb: record 42: list \"lshortkey\" has a bad position 3593\n"
		"T/damaged.cdb: record 43: list \"lnulkey\" has a bad position 3708\n"
		"T/damaged.cdb: record 44: list \"lhugeval\" has a bad position 3809\n"
		"T/damaged.cdb: record 45: list \"lpastend\" has a bad position 3836\n"
		"T/damaged.cdb: record 46: list \"lhugekey\" has a bad position 3857\n"
		"T/damaged.cdb: record 47: list \"lfar\" has a bad position 2130706432\n");
	ck_assert_int_eq(errors, 43);
	/* A record whose value length runs past the data (its table of
	 * contents intact): the walk stops there, and a lookup gets 451. */
	path = make_cdb("cut.cdb", whole, 6, whole_len);
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\xff\xff\xff\x0f", 4, 2076 + 4), 4);
	ck_assert_int_eq(close(fd), 0);
	u = open_ok(path);
	ck_assert_int_eq(users_lookup(u, "good@example.org", NULL, &e), USERS_ERROR);
	users_free(u);
	assert_text(check_report(path, &errors), "T/cut.cdb: damaged cdb after record 1\n");
	ck_assert_int_eq(errors, 1);
	dir_remove();
}
END_TEST

START_TEST(open_failures)
{
	char path[512];
	int errors;

	dir_make();
	snprintf(path, sizeof path, "%s/missing", dir);
	ck_assert_str_eq(open_error(path), "T/missing: No such file or directory");
	assert_text(check_report(path, &errors), "T/missing: No such file or directory\n");
	ck_assert_int_eq(errors, 1);
	ck_assert_str_eq(open_error(dir), "T: not a regular file");
	/* An empty table is a table: every address unknown. */
	struct users *u = open_ok(put("empty", ""));
	struct users_entry e;
	ck_assert_int_eq(users_lookup(u, "a@example.org", "+", &e), USERS_UNKNOWN);
	users_free(u);
	users_free(NULL);
	dir_remove();
}
END_TEST

/* A larger table: memory is the file and an index, lookups and the
 * secondary lists behave at scale (a local part shared by 2000 domains). */
START_TEST(large_table)
{
	enum { N = 20000 };
	char *text = malloc((size_t)N * 128), path[512], cdb_path[512];
	size_t n = 0;
	struct users *t, *c;
	struct users_entry e;
	int rc;

	dir_make();
	for (int i = 0; i < N; i++)
		n += (size_t)sprintf(text + n, "user%d@d%d.example accept Person %d\n"
				     "info@d%d.example forward desk@central.example\n",
				     i, i % 100, i, i);
	snprintf(path, sizeof path, "%s", put_bytes("users", text, n));
	snprintf(cdb_path, sizeof cdb_path, "%s/users.cdb", dir);
	ck_assert_int_eq(compile(path), 0);
	t = open_ok(path);
	c = open_ok(cdb_path);
	ck_assert_uint_lt(users_memory(t), 2 * n + 4 * 4 * (size_t)N * 2 + 4096);
	for (int i = 0; i < N; i += 997) {
		char q[64];
		snprintf(q, sizeof q, "USER%d+x@D%d.example", i, i % 100);
		ck_assert_int_eq(users_lookup(t, q, "+", &e), USERS_ACCEPT);
		ck_assert_int_eq(users_lookup(c, q, "+", &e), USERS_ACCEPT);
		snprintf(q, sizeof q, "user%d@d%d.example", i, (i + 1) % 100);
		ck_assert_int_eq(users_lookup(t, q, "+", &e), USERS_UNKNOWN);
		ck_assert_int_eq(users_lookup(c, q, "+", &e), USERS_UNKNOWN);
	}
	ck_assert_str_eq(search(t, "info", 2, &rc),
		"2:info@d0.example::desk@central.example 2:info@d1.example::desk@central.example");
	ck_assert_int_eq(rc, N);
	ck_assert_str_eq(search(c, "info", 2, &rc),
		"2:info@d0.example::desk@central.example 2:info@d1.example::desk@central.example");
	ck_assert_int_eq(rc, N);
	ck_assert_str_eq(search(c, "person", 1, &rc), "1:user0@d0.example:Person 0:");
	ck_assert_int_eq(rc, N);
	ck_assert_str_eq(search(c, "person 12345", 3, &rc), "1:user12345@d45.example:Person 12345:");
	ck_assert_int_eq(rc, 1);
	users_free(t);
	users_free(c);
	free(text);
	dir_remove();
}
END_TEST

Suite *users_suite(void)
{
	Suite *s = suite_create("users");
	TCase *parse = tcase_create("parse");
	TCase *use = tcase_create("use");
	TCase *cdb = tcase_create("cdb");

	tcase_add_test(parse, parse_example);
	tcase_add_test(parse, parse_shipped_example);
	tcase_add_test(parse, parse_every_error);
	tcase_add_test(parse, parse_long_lines);
	tcase_add_test(parse, parse_non_ascii);
	tcase_add_test(parse, parse_loops);
	tcase_add_test(parse, parse_deep_groups);
	tcase_add_test(parse, open_failures);
	tcase_add_test(use, lookup_rules);
	tcase_add_test(use, expand_groups);
	tcase_add_test(use, search_vrfy);
	tcase_add_test(cdb, compile_round_trip);
	tcase_add_test(cdb, cdb_cut_short_or_added_to);
	tcase_add_test(cdb, non_ascii_names_and_a_short_last_key);
	tcase_add_test(cdb, compile_replaces_atomically);
	tcase_add_test(cdb, compile_refuses);
	tcase_add_test(cdb, cdb_foreign_and_damaged);
	tcase_add_test(cdb, large_table);
	tcase_set_timeout(cdb, 60);
	tcase_set_timeout(parse, 60);
	tcase_add_unchecked_fixture(parse, base_make, base_remove);
	tcase_add_unchecked_fixture(use, base_make, base_remove);
	tcase_add_unchecked_fixture(cdb, base_make, base_remove);
	suite_add_tcase(s, parse);
	suite_add_tcase(s, use);
	suite_add_tcase(s, cdb);
	return s;
}
