/*
 * listen.c: find the conversation's file descriptors.
 *
 * Under systemd without StandardInput=socket the connection is fd 3 and
 * LISTEN_FDS=1, LISTEN_PID=<our pid> say so.  Linked dynamically with
 * libsystemd (make LINK=dynamic) we ask sd_listen_fds() and sd_is_socket(),
 * loaded with dlopen() only in that case: linking libsystemd would make
 * every connection under every other supervisor pay for loading it and its
 * dependencies (about 800,000 instructions, several times smtpd's whole
 * greeting and QUIT).  The static build (the default), a build with
 * SYSTEMD=no, or one whose libsystemd cannot be loaded reads the same
 * protocol by hand, as sd_listen_fds(3) documents it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <dlfcn.h>
#include <systemd/sd-daemon.h>
#endif

#include "decimal.h"
#include "listen.h"

#define LISTEN_FD 3		/* SD_LISTEN_FDS_START */

/* The protocol by hand: LISTEN_PID must be us, LISTEN_FDS a count. */
static int listen_fds_by_hand(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS"), *end;
	unsigned long long p, n;
	int over;

	if (pid == NULL || fds == NULL)
		return 0;
	end = decimal(pid, &p, &over);
	if (end == pid || *end != '\0' || over || p != (unsigned long long)getpid())
		return 0;
	end = decimal(fds, &n, &over);
	if (end == fds || *end != '\0' || over || n > INT_MAX)
		return 0;
	return (int)n;
}

static int is_stream_socket(int fd)
{
	int type;
	socklen_t len = sizeof type;
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM;
}

#ifdef HAVE_LIBSYSTEMD
/* 1: fd 3 is our stream socket; 0: not; -1: libsystemd not loadable. */
static int listen_by_libsystemd(void)
{
	void *lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	int (*listen_fds)(int);
	int (*is_socket)(int, int, int, int);
	int n, ok;

	if (lib == NULL)
		return -1;
	*(void **)&listen_fds = dlsym(lib, "sd_listen_fds");
	*(void **)&is_socket = dlsym(lib, "sd_is_socket");
	if (listen_fds == NULL || is_socket == NULL) {
		dlclose(lib);
		return -1;
	}
	/* unset_environment=1: our children, were there any, must not see
	 * a LISTEN_PID that is not theirs. */
	n = listen_fds(1);
	ok = n == 1 && is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, -1) > 0;
	dlclose(lib);
	return ok;
}
#endif

/* With Accept=no systemd passes the listening socket itself: serving it
 * would read from a socket that has no peer. */
static int is_listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof on;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

int listen_conversation(int *in, int *out)
{
	int ok = 0;

	*in = 0;
	*out = 1;
	if (getenv("LISTEN_PID") == NULL)
		return 0;
#ifdef HAVE_LIBSYSTEMD
	ok = listen_by_libsystemd();
	if (ok < 0)
#endif
		ok = listen_fds_by_hand() == 1 && is_stream_socket(LISTEN_FD);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (ok != 1)
		return 0;
	if (is_listening(LISTEN_FD))
		return -1;
	*in = *out = LISTEN_FD;
	return 0;
}
