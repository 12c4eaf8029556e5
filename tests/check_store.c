/*
 * check_store.c: store.c on its own.  The Maildir it makes, unique names,
 * O_EXCL, commit (tmp/ -> new/), abort, failures at each step it can be
 * made to fail at, and a spool that cannot be used.
 *
 * To show that an existing file is never overwritten the test must make
 * store_open() pick a name that is taken, so this file defines
 * gettimeofday(): the binary's own definition binds store.o's call to it.
 * It passes through to the real clock unless a test freezes it.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "suites.h"
#include "testio.h"

static int clock_frozen;
static struct timeval frozen_at;

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_frozen) {
		*tv = frozen_at;
		return 0;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

struct spool {
	char dir[64];
	struct store st;
};

static void spool_make(struct spool *sp)
{
	test_tmpdir(sp->dir, sizeof sp->dir, "store");
}

static void spool_remove(struct spool *sp)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'",
		 sp->dir, sp->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Files in dir/sub, or -1. */
static int count(const char *dir, const char *sub)
{
	char path[300];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", dir, sub);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static char *read_in(const char *dir, const char *sub, const char *name, size_t *len)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	return test_read_file(path, len);
}

static void assert_dir_0700(const char *dir, const char *sub)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof path, "%s%s%s", dir, sub[0] ? "/" : "", sub);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0700);
}

START_TEST(init_makes_a_maildir)
{
	/* DIR itself (its parent exists), tmp/, new/, cur/, all 0700. */
	struct spool sp;
	char root[128];

	spool_make(&sp);
	snprintf(root, sizeof root, "%s/spool", sp.dir);
	ck_assert_int_eq(store_init(&sp.st, root, "mx.test"), 0);
	assert_dir_0700(root, "");
	assert_dir_0700(root, "tmp");
	assert_dir_0700(root, "new");
	assert_dir_0700(root, "cur");
	ck_assert_int_eq(count(root, "tmp"), 0);
	ck_assert_int_eq(count(root, "new"), 0);
	ck_assert_int_eq(count(root, "cur"), 0);
	ck_assert_int_gt(store_free_bytes(&sp.st), 0);
	store_close(&sp.st);
	store_close(&sp.st);	/* twice is harmless */
	/* An existing Maildir is used as it is. */
	ck_assert_int_eq(store_init(&sp.st, root, "mx.test"), 0);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(init_fails_without_parent_or_on_a_file)
{
	struct spool sp;
	char path[128];

	spool_make(&sp);
	snprintf(path, sizeof path, "%s/no/such/dir", sp.dir);
	ck_assert_int_eq(store_init(&sp.st, path, "mx.test"), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* The spool is a file. */
	snprintf(path, sizeof path, "%s/file", sp.dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(store_init(&sp.st, path, "mx.test"), -1);
	ck_assert_int_eq(errno, ENOTDIR);

	/* tmp/ is a file. */
	snprintf(path, sizeof path, "%s/tmp", sp.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_int_eq(sp.st.root_fd, -1);
	ck_assert_int_eq(sp.st.tmp_fd, -1);
	ck_assert_int_eq(sp.st.new_fd, -1);
	spool_remove(&sp);
}
END_TEST

START_TEST(init_fails_on_unwritable_spool)
{
	/* A Maildir its user may read but not write: found out at start, not
	 * at the first message.  root writes anywhere, so as root the check
	 * runs in a child that has become nobody. */
	struct spool sp;

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	store_close(&sp.st);
	char cmd[384];
	/* Readable and searchable by all, the way there included. */
	snprintf(cmd, sizeof cmd, "chmod go+x \"$(dirname '%s')\" && "
		 "chmod 0755 '%s' '%s/tmp' '%s/new' '%s/cur'",
		 sp.dir, sp.dir, sp.dir, sp.dir, sp.dir);
	ck_assert_int_eq(system(cmd), 0);
	if (geteuid() != 0) {
		snprintf(cmd, sizeof cmd, "chmod 0555 '%s/tmp' '%s/new'", sp.dir, sp.dir);
		ck_assert_int_eq(system(cmd), 0);
		ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), -1);
		ck_assert_int_eq(errno, EACCES);
	} else {
		struct passwd *pw = getpwnam("nobody");
		ck_assert_ptr_nonnull(pw);
		fflush(NULL);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct store st;
			if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
				_exit(3);
			/* It can be read: the refusal is about writing. */
			int fd = open(sp.dir, O_RDONLY | O_DIRECTORY);
			if (fd < 0)
				_exit(4);
			close(fd);
			if (store_init(&st, sp.dir, "mx.test") == 0)
				_exit(1);
			_exit(errno == EACCES ? 0 : 2);
		}
		int status;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	spool_remove(&sp);
}
END_TEST

START_TEST(message_written_then_committed)
{
	struct spool sp;
	struct store_msg m;
	size_t len;
	char pid[32];

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	ck_assert_int_eq(store_open(&sp.st, &m), STORE_OK);
	ck_assert_int_ge(m.fd, 0);
	/* Name: the id (seconds.M<usec>P<pid>Q<n>), ".", the host. */
	snprintf(pid, sizeof pid, "P%ldQ1", (long)getpid());
	ck_assert_ptr_nonnull(strstr(m.id, ".M"));
	ck_assert_ptr_nonnull(strstr(m.id, pid));
	ck_assert_uint_eq(strlen(m.id), strcspn(m.id, "/:"));
	ck_assert_int_eq(strncmp(m.name, m.id, strlen(m.id)), 0);
	ck_assert_str_eq(m.name + strlen(m.id), ".mx.test");

	ck_assert_int_eq(store_write(&m, "Subject: x\n\n", 12), STORE_OK);
	ck_assert_int_eq(store_write(&m, "", 0), STORE_OK);
	ck_assert_int_eq(store_write(&m, "body\n", 5), STORE_OK);
	/* Before commit it is only in tmp/, mode 0600. */
	ck_assert_int_eq(count(sp.dir, "tmp"), 1);
	ck_assert_int_eq(count(sp.dir, "new"), 0);
	char path[512];
	struct stat sb;
	snprintf(path, sizeof path, "%s/tmp/%s", sp.dir, m.name);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);

	int fd = m.fd;
	ck_assert_int_eq(store_commit(&sp.st, &m), STORE_OK);
	ck_assert_int_eq(m.fd, -1);
	/* Closed, not only forgotten: a session of many messages would
	 * run out of descriptors. */
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(count(sp.dir, "tmp"), 0);
	ck_assert_int_eq(count(sp.dir, "new"), 1);
	char *file = read_in(sp.dir, "new", m.name, &len);
	ck_assert_ptr_nonnull(file);
	ck_assert_uint_eq(len, 17);
	ck_assert_str_eq(file, "Subject: x\n\nbody\n");
	free(file);
	store_abort(&sp.st, &m);	/* closed: nothing happens */
	ck_assert_int_eq(count(sp.dir, "new"), 1);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(unique_names)
{
	/* Messages of one process at once: the counter tells them apart. */
	enum { N = 50 };
	struct spool sp;
	static struct store_msg m[N];

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	for (int i = 0; i < N; i++) {
		char q[32];
		ck_assert_int_eq(store_open(&sp.st, &m[i]), STORE_OK);
		snprintf(q, sizeof q, "Q%d", i + 1);
		ck_assert_str_eq(strrchr(m[i].id, 'Q'), q);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(m[i].name, m[j].name);
	}
	ck_assert_int_eq(count(sp.dir, "tmp"), N);
	for (int i = 0; i < N; i++) {
		if (i % 2)
			store_abort(&sp.st, &m[i]);
		else
			ck_assert_int_eq(store_commit(&sp.st, &m[i]), STORE_OK);
	}
	ck_assert_int_eq(count(sp.dir, "tmp"), 0);
	ck_assert_int_eq(count(sp.dir, "new"), N / 2);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(existing_file_never_overwritten)
{
	/* Same second, same microsecond, same counter: the same name.  O_EXCL
	 * makes that an error, and the file already there keeps its bytes. */
	struct spool sp;
	struct store_msg a, b;

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	frozen_at.tv_sec = 1794571200;
	frozen_at.tv_usec = 123456;
	clock_frozen = 1;
	enum store_err ea = store_open(&sp.st, &a);
	sp.st.counter = 0;
	enum store_err eb = store_open(&sp.st, &b);
	clock_frozen = 0;
	ck_assert_int_eq(ea, STORE_OK);
	ck_assert_str_eq(b.name, a.name);
	ck_assert_int_eq(eb, STORE_IO);
	ck_assert_int_eq(b.fd, -1);
	ck_assert_int_eq(store_write(&a, "first\n", 6), STORE_OK);
	ck_assert_int_eq(store_commit(&sp.st, &a), STORE_OK);
	char *file = read_in(sp.dir, "new", a.name, NULL);
	ck_assert_str_eq(file, "first\n");
	free(file);
	store_abort(&sp.st, &b);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(commit_never_replaces_a_file_in_new)
{
	/* A name is free in tmp/ again once its message is in new/: a second
	 * process with the same pid in the same microsecond picks it.  Its
	 * commit must fail (451, sent again), not replace a message that had
	 * its 250, and must leave nothing in tmp/. */
	struct spool sp;
	struct store_msg a, b;

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	frozen_at.tv_sec = 1794571200;
	frozen_at.tv_usec = 654321;
	clock_frozen = 1;
	ck_assert_int_eq(store_open(&sp.st, &a), STORE_OK);
	ck_assert_int_eq(store_write(&a, "first\n", 6), STORE_OK);
	ck_assert_int_eq(store_commit(&sp.st, &a), STORE_OK);
	sp.st.counter = 0;
	enum store_err eb = store_open(&sp.st, &b);
	clock_frozen = 0;
	ck_assert_int_eq(eb, STORE_OK);
	ck_assert_str_eq(b.name, a.name);
	ck_assert_int_eq(store_write(&b, "second\n", 7), STORE_OK);
	ck_assert_int_eq(store_commit(&sp.st, &b), STORE_IO);
	ck_assert_str_eq(b.failed, "rename into new/");
	ck_assert_int_eq(b.failed_errno, EEXIST);
	char *file = read_in(sp.dir, "new", a.name, NULL);
	ck_assert_str_eq(file, "first\n");
	free(file);
	ck_assert_int_eq(count(sp.dir, "new"), 1);
	ck_assert_int_eq(count(sp.dir, "tmp"), 0);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(abort_unlinks)
{
	struct spool sp;
	struct store_msg m;

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	ck_assert_int_eq(store_open(&sp.st, &m), STORE_OK);
	ck_assert_int_eq(store_write(&m, "partial", 7), STORE_OK);
	ck_assert_int_eq(count(sp.dir, "tmp"), 1);
	store_abort(&sp.st, &m);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_int_eq(count(sp.dir, "tmp"), 0);
	ck_assert_int_eq(count(sp.dir, "new"), 0);
	store_abort(&sp.st, &m);	/* twice is harmless */
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(write_fails_disk_full)
{
	struct spool sp;
	struct store_msg m;
	int full;

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	ck_assert_int_eq(store_open(&sp.st, &m), STORE_OK);
	full = open("/dev/full", O_WRONLY);
	ck_assert_int_ge(full, 0);
	ck_assert_int_ge(dup2(full, m.fd), 0);
	close(full);
	ck_assert_int_eq(store_write(&m, "x", 1), STORE_NOSPACE);
	store_abort(&sp.st, &m);
	ck_assert_int_eq(count(sp.dir, "tmp"), 0);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(commit_fails_when_rename_fails)
{
	/* The temporary file vanished: no 250 may follow, nothing in new/. */
	struct spool sp;
	struct store_msg m;
	char path[512];

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	ck_assert_int_eq(store_open(&sp.st, &m), STORE_OK);
	ck_assert_int_eq(store_write(&m, "x\n", 2), STORE_OK);
	snprintf(path, sizeof path, "%s/tmp/%s", sp.dir, m.name);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(store_commit(&sp.st, &m), STORE_IO);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_int_eq(count(sp.dir, "tmp"), 0);
	ck_assert_int_eq(count(sp.dir, "new"), 0);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(commit_fails_on_a_bad_descriptor)
{
	/* fsync fails (EINVAL on a pipe): the temporary file is removed. */
	struct spool sp;
	struct store_msg m;
	int p[2];

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	ck_assert_int_eq(store_open(&sp.st, &m), STORE_OK);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ge(dup2(p[1], m.fd), 0);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(store_commit(&sp.st, &m), STORE_IO);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_int_eq(count(sp.dir, "tmp"), 0);
	ck_assert_int_eq(count(sp.dir, "new"), 0);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(open_fails_when_tmp_is_gone)
{
	struct spool sp;
	struct store_msg m;
	char cmd[160];

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "mx.test"), 0);
	snprintf(cmd, sizeof cmd, "rmdir '%s/tmp'", sp.dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(store_open(&sp.st, &m), STORE_IO);
	ck_assert_int_eq(m.fd, -1);
	store_abort(&sp.st, &m);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(errno_mapping)
{
	ck_assert_int_eq(store_err_from_errno(ENOSPC), STORE_NOSPACE);
	ck_assert_int_eq(store_err_from_errno(EDQUOT), STORE_NOSPACE);
	ck_assert_int_eq(store_err_from_errno(EFBIG), STORE_NOSPACE);
	ck_assert_int_eq(store_err_from_errno(EIO), STORE_IO);
	ck_assert_int_eq(store_err_from_errno(EACCES), STORE_IO);
	ck_assert_int_eq(store_err_from_errno(EROFS), STORE_IO);
	ck_assert_int_eq(store_err_from_errno(ENOENT), STORE_IO);
}
END_TEST

START_TEST(host_made_safe_for_a_name)
{
	/* '/' and ':' cannot be in a Maildir name's host part. */
	struct spool sp;
	struct store_msg m;

	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, "a/b:c"), 0);
	ck_assert_int_eq(store_open(&sp.st, &m), STORE_OK);
	ck_assert_str_eq(m.name + strlen(m.id), ".a\\057b\\072c");
	ck_assert_int_eq(store_commit(&sp.st, &m), STORE_OK);
	char *file = read_in(sp.dir, "new", m.name, NULL);
	ck_assert_ptr_nonnull(file);
	free(file);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

START_TEST(longest_host_name)
{
	/* smtpd takes host names of up to 255 octets; a file name may not be
	 * longer than NAME_MAX (255) in all: the host part must give way, or
	 * every message would fail with ENAMETOOLONG. */
	struct spool sp;
	struct store_msg m;
	char host[256];

	memset(host, 'h', 255);
	host[255] = '\0';
	spool_make(&sp);
	ck_assert_int_eq(store_init(&sp.st, sp.dir, host), 0);
	ck_assert_int_eq(store_open(&sp.st, &m), STORE_OK);
	ck_assert_uint_le(strlen(m.name), NAME_MAX);
	ck_assert_int_eq(strncmp(m.name + strlen(m.id), ".hhhhhhhh", 9), 0);
	ck_assert_int_eq(store_commit(&sp.st, &m), STORE_OK);
	ck_assert_int_eq(count(sp.dir, "new"), 1);
	store_close(&sp.st);
	spool_remove(&sp);
}
END_TEST

Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("maildir");

	test_base_init();

	tcase_add_test(tc, init_makes_a_maildir);
	tcase_add_test(tc, init_fails_without_parent_or_on_a_file);
	tcase_add_test(tc, init_fails_on_unwritable_spool);
	tcase_add_test(tc, message_written_then_committed);
	tcase_add_test(tc, unique_names);
	tcase_add_test(tc, existing_file_never_overwritten);
	tcase_add_test(tc, abort_unlinks);
	tcase_add_test(tc, write_fails_disk_full);
	tcase_add_test(tc, commit_fails_when_rename_fails);
	tcase_add_test(tc, commit_never_replaces_a_file_in_new);
	tcase_add_test(tc, commit_fails_on_a_bad_descriptor);
	tcase_add_test(tc, open_fails_when_tmp_is_gone);
	tcase_add_test(tc, errno_mapping);
	tcase_add_test(tc, host_made_safe_for_a_name);
	tcase_add_test(tc, longest_host_name);
	suite_add_tcase(s, tc);
	return s;
}
