/*
 * smtpd.c: the edge of the program.  Options, where the conversation is
 * (stdin/stdout, or fd 3 under systemd's LISTEN_FDS), who the peer is,
 * signals, resource limits, where logging goes; then one session.  No
 * protocol rule lives here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "decimal.h"
#include "fdio.h"
#include "listen.h"
#include "session.h"
#include "store.h"
#include "users.h"

#define VERSION "1.0"

/* The one piece of state a signal handler may touch. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char usage_text[] =
"Usage: smtpd [OPTIONS]\n"
"Speak one SMTP conversation on standard input and output (or on fd 3 under\n"
"systemd socket activation) and spool each accepted message into a Maildir.\n"
"\n"
"  --spool DIR            Maildir to spool into (default: $STATE_DIRECTORY,\n"
"                         else /var/spool/smtpd)\n"
"  --hostname NAME        name in the greeting and Received: (default: the\n"
"                         host name)\n"
"  --domain DOMAIN        accept mail for DOMAIN; repeatable (default: the\n"
"                         host name)\n"
"  --max-size BYTES       largest message accepted (default 10485760)\n"
"  --max-recipients N     recipients per message, 1-10000 (default 100)\n"
"  --timeout SECONDS      wait for a command or message data (default 300)\n"
"  --session-timeout SECONDS  limit for the whole session (default 1800)\n"
"  --min-rate BYTES       slowest average DATA rate per second accepted\n"
"                         after the first --min-rate-grace seconds; 0\n"
"                         disables (default 64)\n"
"  --min-rate-grace SECONDS  DATA time before --min-rate applies (default 30)\n"
"  --greet-delay SECONDS  wait before the greeting; refuse clients that talk\n"
"                         first (default 0)\n"
"  --min-free BYTES       refuse MAIL while the spool has less free space\n"
"                         (default 3 x --max-size)\n"
"  --soft-errors N        refused commands before replies slow down (10)\n"
"  --max-errors N         refused commands before 421 (20; 0 disables)\n"
"  --error-delay MS       delay per refusal past --soft-errors (1000)\n"
"  --max-junk N           NOOP, RSET, HELP, VRFY, EXPN and repeated\n"
"                         HELO/EHLO between messages before 421 (100;\n"
"                         0 disables)\n"
"  --users FILE           recipients table (text, or FILE.cdb made by\n"
"                         --compile-users); unknown local users get 550\n"
"  --recipient-delimiter CHARS  'alice+tag' is 'alice' in the table (e.g. +)\n"
"  --vrfy                 answer VRFY from the users table (default: 252)\n"
"  --expn                 answer EXPN from the users table (default: 502)\n"
"                         (these three need --users)\n"
"  --check-users FILE     report every error in a users table and exit\n"
"                         (0: clean)\n"
"  --compile-users FILE   write FILE.cdb, the indexed form, and exit\n"
"  --help                 show this help and exit\n"
"  --version              show the version and exit\n"
"\n"
"Exit status: 0 after QUIT or when the client goes; 1 when the spool (or\n"
"another resource smtpd needs) is unusable; 2 for a bad option.\n";

enum {
	OPT_SPOOL = 256, OPT_HOSTNAME, OPT_DOMAIN, OPT_MAX_SIZE,
	OPT_MAX_RCPTS, OPT_TIMEOUT, OPT_SESSION_TIMEOUT, OPT_MIN_RATE, OPT_MIN_RATE_GRACE,
	OPT_GREET_DELAY, OPT_MIN_FREE, OPT_SOFT_ERRORS, OPT_MAX_ERRORS,
	OPT_ERROR_DELAY, OPT_MAX_JUNK, OPT_USERS, OPT_DELIMITER, OPT_VRFY,
	OPT_EXPN, OPT_CHECK_USERS, OPT_COMPILE_USERS, OPT_HELP, OPT_VERSION
};

/*
 * GNU long options, "--name value" or "--name=value", read by hand: getopt
 * would bring its data symbols, resolved at every exec, and smtpd starts
 * once per connection.
 */
struct option_def {
	const char *name;
	int takes_value;
	int id;
};

static const struct option_def option_defs[] = {
	{"spool", 1, OPT_SPOOL},
	{"hostname", 1, OPT_HOSTNAME},
	{"domain", 1, OPT_DOMAIN},
	{"max-size", 1, OPT_MAX_SIZE},
	{"max-recipients", 1, OPT_MAX_RCPTS},
	{"timeout", 1, OPT_TIMEOUT},
	{"session-timeout", 1, OPT_SESSION_TIMEOUT},
	{"min-rate", 1, OPT_MIN_RATE},
	{"min-rate-grace", 1, OPT_MIN_RATE_GRACE},
	{"greet-delay", 1, OPT_GREET_DELAY},
	{"min-free", 1, OPT_MIN_FREE},
	{"soft-errors", 1, OPT_SOFT_ERRORS},
	{"max-errors", 1, OPT_MAX_ERRORS},
	{"error-delay", 1, OPT_ERROR_DELAY},
	{"max-junk", 1, OPT_MAX_JUNK},
	{"users", 1, OPT_USERS},
	{"recipient-delimiter", 1, OPT_DELIMITER},
	{"vrfy", 0, OPT_VRFY},
	{"expn", 0, OPT_EXPN},
	{"check-users", 1, OPT_CHECK_USERS},
	{"compile-users", 1, OPT_COMPILE_USERS},
	{"help", 0, OPT_HELP},
	{"version", 0, OPT_VERSION},
};

struct options {
	struct config cfg;
	unsigned session_timeout;
	unsigned min_rate;
	unsigned min_rate_grace;
	int min_free_set;
	const char *users_path;
	char hostname[256];
	char state_dir[PATH_MAX];
};

/* Write strings to fd, whole (no stdio: see option_defs). */
static void say(int fd, const char *a, const char *b, const char *c)
{
	const char *parts[3] = {a, b, c};

	for (int i = 0; i < 3; i++) {
		const char *p = parts[i];
		size_t n = p != NULL ? strlen(p) : 0;
		while (n > 0) {
			ssize_t w = write(fd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return;
			p += w;
			n -= (size_t)w;
		}
	}
}

/* Under inetd and xinetd fd 2 is the client's socket: what we would say
 * to an operator must not be said to the client. */
static int stderr_is_client(void)
{
	struct stat err, in;

	return fstat(2, &err) == 0 && fstat(0, &in) == 0 &&
	       S_ISSOCK(err.st_mode) && err.st_dev == in.st_dev &&
	       err.st_ino == in.st_ino;
}

/* A bad command line: one line for the operator, exit 2.  A client that
 * happens to be connected gets the 421 every disconnect of ours owes it. */
static void option_error(const char *text)
{
	/* No enhanced code: the client has not said EHLO (RFC 2034). */
	static const char reply[] =
		"421 Service not available, closing transmission channel\r\n";

	if (stderr_is_client()) {
		/* The reply first, then the log line, which may wait (at
		 * most a second) for a syslog daemon that does not read. */
		struct logger lg;
		if (write(1, reply, sizeof reply - 1) < 0) {
			/* the client is gone: nobody to tell */
		}
		log_setup(&lg, 0);
		log_line(&lg, LOG_ERR, "%s", text);
	} else {
		say(2, "smtpd: ", text, " (see smtpd --help)\n");
	}
	exit(2);
}

static void usage_error(const char *fmt, const char *a, const char *b)
{
	char text[600];

	snprintf(text, sizeof text, fmt, a, b);
	option_error(text);
}

static unsigned long long number(const char *name, const char *s,
				 unsigned long long min, unsigned long long max)
{
	unsigned long long v;
	int overflow;
	const char *end = decimal(s, &v, &overflow);

	if (end == s || *end != '\0' || overflow || v < min || v > max) {
		char text[400];
		snprintf(text, sizeof text, "--%s: '%.200s' is not a number from %llu to %llu",
			 name, s, min, max);
		option_error(text);
	}
	return v;
}

/* The name in the greeting, replies and Received: must be what RFC 5321
 * puts there (4.1.2, 4.4): a domain or an address literal. */
static int name_ok(const char *s)
{
	return address_valid_domain(s, strlen(s));
}

/* A recipient delimiter: a few characters that cannot start an address. */
static int delimiter_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 4)
		return 0;
	for (; *s; s++)
		if (strchr("+-=_#~%&!", *s) == NULL)
			return 0;
	return 1;
}

/* --check-users: every error, then the verdict; the exit status. */
static int check_users(const char *path)
{
	FILE *report = fdopen(2, "w");
	char line[600];
	int errors;

	if (report == NULL) {
		say(2, "smtpd: cannot report: ", strerror(errno), "\n");
		return 1;
	}
	errors = users_check(path, report);
	fflush(report);
	if (errors > 0) {
		snprintf(line, sizeof line, "smtpd: %s: %d error%s\n", path, errors,
			 errors == 1 ? "" : "s");
		say(2, line, NULL, NULL);
		return 1;
	}
	say(1, "smtpd: ", path, ": no errors\n");
	return 0;
}

static int compile_users(const char *path)
{
	char err[512];

	if (users_compile(path, err, sizeof err) < 0) {
		say(2, "smtpd: ", err, "\n");
		return 1;
	}
	say(1, "smtpd: wrote ", path, ".cdb\n");
	return 0;
}

/* The definition of "--name" or "--name=value" in arg, or NULL. */
static const struct option_def *option_find(const char *arg, const char **value)
{
	const char *name = arg + 2;
	size_t len = 0;

	while (name[len] != '\0' && name[len] != '=')
		len++;
	*value = name[len] == '=' ? name + len + 1 : NULL;
	for (size_t i = 0; i < sizeof option_defs / sizeof option_defs[0]; i++) {
		const char *d = option_defs[i].name;
		size_t k = 0;
		while (k < len && d[k] == name[k])
			k++;
		if (k == len && d[k] == '\0')
			return &option_defs[i];
	}
	return NULL;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	struct config *c = &o->cfg;
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *optarg;
		const struct option_def *def;

		if (arg[0] != '-' || arg[1] != '-')
			break;			/* not an option */
		if (arg[2] == '\0') {		/* "--": options end */
			i++;
			break;
		}
		def = option_find(arg, &optarg);
		if (def == NULL)
			usage_error("unknown option '%s'%s", arg, "");
		if (def->takes_value && optarg == NULL) {
			if (i + 1 >= argc)
				usage_error("%s: needs a value%s", arg, "");
			optarg = argv[++i];
		} else if (!def->takes_value && optarg != NULL) {
			usage_error("'%s': this option takes no value%s", arg, "");
		}
		switch (def->id) {
		case OPT_SPOOL:
			if (*optarg == '\0')
				usage_error("--spool: %s%s", "empty directory name", "");
			c->spool = optarg;
			break;
		case OPT_HOSTNAME:
			if (!name_ok(optarg))
				usage_error("--hostname: '%s'%s is not a host name", optarg, "");
			c->hostname = optarg;
			break;
		case OPT_DOMAIN:
			if (!address_valid_domain(optarg, strlen(optarg)))
				usage_error("--domain: '%s'%s is not a domain", optarg, "");
			if (c->ndomains == CONFIG_MAX_DOMAINS)
				usage_error("--domain: more than %s%s domains", "64", "");
			c->domains[c->ndomains++] = optarg;
			break;
		case OPT_MAX_SIZE:
			c->max_size = number("max-size", optarg, 1, 1ULL << 40);
			break;
		case OPT_MAX_RCPTS:
			c->max_recipients = (unsigned)number("max-recipients", optarg, 1, 10000);
			break;
		case OPT_TIMEOUT:
			c->timeout = (unsigned)number("timeout", optarg, 1, 86400);
			break;
		case OPT_SESSION_TIMEOUT:
			o->session_timeout = (unsigned)number("session-timeout", optarg, 1, 604800);
			break;
		case OPT_MIN_RATE:
			o->min_rate = (unsigned)number("min-rate", optarg, 0, 1U << 30);
			break;
		case OPT_MIN_RATE_GRACE:
			o->min_rate_grace = (unsigned)number("min-rate-grace", optarg, 0, 3600);
			break;
		case OPT_GREET_DELAY:
			c->greet_delay = (unsigned)number("greet-delay", optarg, 0, 300);
			break;
		case OPT_MIN_FREE:
			c->min_free = number("min-free", optarg, 0, 1ULL << 50);
			o->min_free_set = 1;
			break;
		case OPT_SOFT_ERRORS:
			c->soft_errors = (unsigned)number("soft-errors", optarg, 0, 100000);
			break;
		case OPT_MAX_ERRORS:
			c->hard_errors = (unsigned)number("max-errors", optarg, 0, 100000);
			break;
		case OPT_ERROR_DELAY:
			c->error_delay_ms = (unsigned)number("error-delay", optarg, 0, 60000);
			break;
		case OPT_MAX_JUNK:
			c->junk_limit = (unsigned)number("max-junk", optarg, 0, 100000);
			break;
		case OPT_USERS:
			o->users_path = optarg;
			break;
		case OPT_DELIMITER:
			if (!delimiter_ok(optarg))
				usage_error("--recipient-delimiter: '%s'%s is not 1 to 4 of +-=_#~%%&!", optarg, "");
			c->recipient_delimiter = optarg;
			break;
		case OPT_VRFY:
			c->vrfy = 1;
			break;
		case OPT_EXPN:
			c->expn = 1;
			break;
		case OPT_CHECK_USERS:
			exit(check_users(optarg));
		case OPT_COMPILE_USERS:
			exit(compile_users(optarg));
		case OPT_HELP:
			say(1, usage_text, NULL, NULL);
			exit(0);
		case OPT_VERSION:
			say(1, "smtpd " VERSION "\n", NULL, NULL);
			exit(0);
		}
	}
	if (i < argc)
		usage_error("unexpected argument '%s'%s", argv[i], "");
	if ((c->vrfy || c->expn || c->recipient_delimiter) && o->users_path == NULL)
		usage_error("%s needs --users%s", c->vrfy ? "--vrfy" : c->expn ? "--expn" :
			    "--recipient-delimiter", "");
}

static void defaults(struct options *o)
{
	struct config *c = &o->cfg;

	memset(o, 0, sizeof *o);
	c->max_size = 10485760;
	c->max_recipients = 100;
	c->timeout = 300;
	c->soft_errors = 10;
	c->hard_errors = 20;
	c->error_delay_ms = 1000;
	c->junk_limit = 100;
	o->session_timeout = 1800;
	o->min_rate = 64;
	o->min_rate_grace = 30;
}

static void finish_config(struct options *o)
{
	struct config *c = &o->cfg;

	if (c->hostname == NULL) {
		if (gethostname(o->hostname, sizeof o->hostname - 1) < 0 ||
		    !name_ok(o->hostname))
			snprintf(o->hostname, sizeof o->hostname, "localhost");
		c->hostname = o->hostname;
	}
	if (c->ndomains == 0)
		c->domains[c->ndomains++] = c->hostname;
	if (c->spool == NULL) {
		/* systemd's StateDirectory= may list several; take the first. */
		const char *sd = getenv("STATE_DIRECTORY");
		size_t n = sd != NULL ? strcspn(sd, ":") : 0;
		if (n > 0 && n < sizeof o->state_dir) {
			memcpy(o->state_dir, sd, n);
			o->state_dir[n] = '\0';
			c->spool = o->state_dir;
		} else {
			c->spool = "/var/spool/smtpd";
		}
	}
	if (!o->min_free_set)
		c->min_free = c->max_size > (1ULL << 48) ? c->max_size : 3 * c->max_size;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]"; v4-mapped addresses as IPv4. */
static int format_peer(char *buf, size_t size, int family, const void *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr)) {
		family = AF_INET;
		addr = (const unsigned char *)addr + 12;
	}
	if (family == AF_INET)
		address_ipv4_format(addr, text);
	else if (inet_ntop(family, addr, text, sizeof text) == NULL)
		return 0;
	const char *open = family == AF_INET ? "[" : "[IPv6:";
	size_t o = strlen(open), t = strlen(text);
	if (o + t + 2 > size)
		return 0;
	memcpy(buf, open, o);
	memcpy(buf + o, text, t);
	buf[o + t] = ']';
	buf[o + t + 1] = '\0';
	return 1;
}

/*
 * Who is on the other end: the connection's own socket first, since it
 * cannot be stale; then what the supervisor put in the environment
 * (systemd's REMOTE_ADDR, tcpserver's and inetutils-inetd's TCPREMOTEIP,
 * xinetd's REMOTE_HOST), checked to be an address; else "local".
 */
static void peer_address(int fd, char *buf, size_t size)
{
	static const char *const vars[] = {"REMOTE_ADDR", "TCPREMOTEIP", "REMOTE_HOST"};
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	unsigned char bin[16];

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET &&
		    format_peer(buf, size, AF_INET, &((struct sockaddr_in *)&ss)->sin_addr))
			return;
		if (ss.ss_family == AF_INET6 &&
		    format_peer(buf, size, AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr))
			return;
	}
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (v == NULL)
			continue;
		if (address_ipv4_parse(v, bin) &&
		    format_peer(buf, size, AF_INET, bin))
			return;
		if (inet_pton(AF_INET6, v, bin) == 1 &&
		    format_peer(buf, size, AF_INET6, bin))
			return;
	}
	snprintf(buf, size, "local");
}

static void setup_signals(struct fdio *f)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);	/* a dead client is EPIPE, not death */
	sigaction(SIGXFSZ, &sa, NULL);	/* the file limit is EFBIG, a 452 */
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	f->stopset = block;
	sigprocmask(SIG_BLOCK, &block, &f->waitmask);
	sigdelset(&f->waitmask, SIGTERM);
	sigdelset(&f->waitmask, SIGHUP);
	sigdelset(&f->waitmask, SIGINT);
	f->stop = &stop_requested;
}

/*
 * No input can make smtpd grow: its buffers are fixed, so these limits are
 * a second wall, not the first.  The file limit stops a runaway message file
 * beyond the largest message plus its envelope.
 */
static void set_limits(const struct config *c)
{
	/* setrlimit() sets soft and hard limit at once: we lower both, and if
	 * the hard limit is already lower than ours it stands (EPERM). */
	/* The message, its envelope, and what can be written before the size
	 * check sees the excess: at most one read (32 KiB), well inside the
	 * 256 KiB allowed for it. */
	rlim_t fsize = (rlim_t)c->max_size +
		       (rlim_t)c->max_recipients * (ADDRESS_MAX + 32) + (256 << 10);
	struct rlimit rl = {fsize, fsize};

	/* The limit holds for every file of the process: a log file on
	 * stderr larger than a message would lose every line.  It gets room
	 * for what other sessions append while this one runs. */
	if (c->log->to_file && c->log->file_size + ((rlim_t)64 << 20) > fsize)
		rl.rlim_cur = rl.rlim_max = c->log->file_size + ((rlim_t)64 << 20);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0 && errno != EPERM)
		log_line(c->log, LOG_WARNING, "setrlimit(RLIMIT_FSIZE): %s", strerror(errno));
#if !defined(__SANITIZE_ADDRESS__) && !defined(SMTPD_NO_AS_LIMIT)
	/* Sanitizers reserve terabytes of shadow memory; they get no cap. */
	rlim_t as = ((rlim_t)256 << 20) + (rlim_t)c->max_recipients * (ADDRESS_MAX + 1);
	if (c->users != NULL)
		as += (rlim_t)users_memory(c->users);
	rl.rlim_cur = rl.rlim_max = as;
	if (setrlimit(RLIMIT_AS, &rl) < 0 && errno != EPERM)
		log_line(c->log, LOG_WARNING, "setrlimit(RLIMIT_AS): %s", strerror(errno));
#endif
}

int main(int argc, char **argv)
{
	static struct session s;	/* 101 KiB of buffers: not on the stack */
	struct options o;
	struct config *c = &o.cfg;
	struct fdio f;
	struct io io;
	struct store st;
	struct users *users = NULL;
	struct logger logger;
	char peer[80];
	int status;

	/* Signals first: a SIGTERM from now on is answered with a 421. */
	memset(&f, 0, sizeof f);
	setup_signals(&f);
	defaults(&o);
	parse_options(argc, argv, &o);
	finish_config(&o);

	int listening = listen_conversation(&f.in, &f.out);
	/* Only a character device can be a terminal: a socket or a pipe
	 * is not asked (isatty is an ioctl and a symbol to bind). */
	struct stat in_sb;
	int in_known = fstat(f.in, &in_sb) == 0;
	c->terminal = in_known && S_ISCHR(in_sb.st_mode) && isatty(f.in);
	f.in_is_socket = in_known && S_ISSOCK(in_sb.st_mode);
	c->log = &logger;
	log_setup(c->log, f.in);
	if (listening < 0) {
		log_line(c->log, LOG_ERR,
			 "fd 3 is a listening socket: the socket unit needs Accept=yes");
		return 1;
	}
	peer_address(f.in, peer, sizeof peer);
	c->peer = peer;

	struct stat sb;
	f.out_is_socket = fstat(f.out, &sb) == 0 && S_ISSOCK(sb.st_mode);
	f.timeout_ms = c->timeout * 1000u;
	f.has_deadline = 1;
	f.deadline = fdio_after(o.session_timeout);
	f.min_rate = o.min_rate;
	f.rate_grace_ms = o.min_rate_grace * 1000u;
	fdio_bind(&f, &io);

	if (session_init(&s, c, &st, &io) < 0) {
		log_line(c->log, LOG_ERR, "out of memory");
		return 1;
	}
	if (store_init(&st, c->spool, c->hostname) < 0) {
		log_line(c->log, LOG_ERR, "spool %s unusable: %s", c->spool,
			 strerror(errno));
		session_refuse(&s, R_SPOOL_UNUSABLE);
		session_free(&s);
		return 1;
	}
	if (o.users_path != NULL) {
		/* A table that cannot be read is a wrong picture of our users:
		 * no mail is taken on it. */
		char err[512];
		users = users_open(o.users_path, err, sizeof err);
		if (users == NULL) {
			log_line(c->log, LOG_ERR, "users table: %s", err);
			session_refuse(&s, R_USERS_UNUSABLE);
			session_free(&s);
			store_close(&st);
			return 1;
		}
		c->users = users;
	}
	set_limits(c);
	status = session_run(&s);
	fdio_linger(&f);
	session_free(&s);
	store_close(&st);
	users_free(users);
	return status;
}
