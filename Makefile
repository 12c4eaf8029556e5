# smtpd: one SMTP conversation on stdin/stdout, spooled into a Maildir.
#   make          build ./smtpd
#   make run      smtpd on this terminal, spooling into ./spool
#   make check    build and run every test (unit, integration, sanitizers)
#   make install  PREFIX, DESTDIR, SBINDIR, MANDIR, UNITDIR, ...
# make SYSTEMD=no builds without libsystemd headers (LISTEN_FDS read by hand).

CC ?= cc
CFLAGS ?= -O2 -g
SYSTEMD ?= yes
# Build directory prefix (with a trailing slash), e.g. B=build/asan/
B ?=

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
SYSUSERSDIR ?= $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null || echo /usr/lib/sysusers.d)
TMPFILESDIR ?= $(shell pkg-config --variable=tmpfilesdir systemd 2>/dev/null || echo /usr/lib/tmpfiles.d)
EXAMPLEDIR ?= $(PREFIX)/share/doc/smtpd/examples

WARN = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wformat=2 -Wno-format-nonliteral -Wvla
HARDEN = -fstack-protector-strong -D_FORTIFY_SOURCE=2
# Partial RELRO, lazy binding: -z now would resolve all ~90 imported
# symbols at every exec, about 45,000 instructions, a third of the cost of
# starting a process, and smtpd starts one per connection.
LDHARDEN = -Wl,-z,relro,-z,noexecstack
ifeq ($(SYSTEMD),yes)
SD_CFLAGS := -DHAVE_LIBSYSTEMD $(shell pkg-config --cflags libsystemd 2>/dev/null)
endif
ALL_CFLAGS = $(WARN) -D_GNU_SOURCE $(SD_CFLAGS) $(CDB_CFLAGS) $(HARDEN) $(CFLAGS)

LIB = session reply store input address log fdio listen
# The users table (issue 3) links tinycdb statically: one more shared
# library would cost every connection its loading.
ifneq ($(wildcard users.c),)
LIB += users users_key users_text users_cdb users_compile users_expand users_search
CDB_CFLAGS := $(shell pkg-config --cflags libcdb 2>/dev/null)
CDB_LIBS := -l:libcdb.a
endif
LIBOBJ = $(LIB:%=$(B)%.o)
HEADERS = $(wildcard *.h)

all: $(B)smtpd

$(B)%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)smtpd: $(B)smtpd.o $(LIBOBJ)
	$(CC) $(CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $^ $(CDB_LIBS)

# Unit tests link the shipped objects unchanged (chrony's way).
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
TESTSRC = $(wildcard tests/check_*.c)
$(B)tests/check_smtpd: $(TESTSRC) tests/testio.h tests/replies.h $(LIBOBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I. $(CHECK_CFLAGS) -o $@ $(TESTSRC) $(LIBOBJ) $(LDFLAGS) $(CDB_LIBS) $(CHECK_LIBS)

deps:
	@tests/deps.sh check

builddeps:
	@tests/deps.sh build

# A terminal session as the source documents' worked example has it: this
# host plays server.it, whose users table (examples/users) knows only
# mail@server.it.  Change RUN_ARGS to play someone else.
RUN_ARGS ?= --hostname server.it --domain server.it --users examples/users
run: builddeps $(B)smtpd
	./$(B)smtpd --spool ./spool $(RUN_ARGS)

# The indexed users table: make users.cdb (from ./users), or
# make USERS=/etc/smtpd/users /etc/smtpd/users.cdb
USERS ?= users
$(USERS).cdb: $(USERS) $(B)smtpd
	./$(B)smtpd --compile-users $(USERS)

check: deps
	@tests/check.sh

SANITIZE = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	$(MAKE) B=build/asan/ CFLAGS="-O1 -g $(SANITIZE)" LDFLAGS="$(SANITIZE)" \
		build/asan/smtpd build/asan/tests/check_smtpd

bench: all
	@bench/run.sh

fuzz:
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf *.o smtpd tests/check_smtpd build spool

.PHONY: all deps builddeps run check asan bench fuzz clean install uninstall

# What a package ships.  The units, the xinetd entry, the inetd lines and
# the tcpserver script name /usr/sbin/smtpd; they are installed naming
# $(SBINDIR)/smtpd instead.  After installing on a live system (no DESTDIR):
#   systemd-sysusers smtpd.conf && systemd-tmpfiles --create smtpd.conf
#   systemctl daemon-reload && systemctl enable --now smtpd.socket
SBINPATH = sed 's|/usr/sbin/smtpd|$(SBINDIR)/smtpd|g'
install: $(B)smtpd
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(EXAMPLEDIR)
	install -m 755 $(B)smtpd $(DESTDIR)$(SBINDIR)/smtpd
	install -m 644 smtpd.8 $(DESTDIR)$(MANDIR)/man8/smtpd.8
	$(SBINPATH) units/smtpd@.service > $(DESTDIR)$(UNITDIR)/smtpd@.service
	install -m 644 units/smtpd.socket $(DESTDIR)$(UNITDIR)/smtpd.socket
	install -m 644 units/smtpd.sysusers $(DESTDIR)$(SYSUSERSDIR)/smtpd.conf
	install -m 644 units/smtpd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/smtpd.conf
	$(SBINPATH) units/smtpd.xinetd > $(DESTDIR)$(EXAMPLEDIR)/smtpd.xinetd
	$(SBINPATH) units/inetd.conf > $(DESTDIR)$(EXAMPLEDIR)/inetd.conf
	$(SBINPATH) units/tcpserver.run > $(DESTDIR)$(EXAMPLEDIR)/tcpserver.run
	chmod 644 $(DESTDIR)$(UNITDIR)/smtpd@.service $(DESTDIR)$(EXAMPLEDIR)/smtpd.xinetd \
		$(DESTDIR)$(EXAMPLEDIR)/inetd.conf
	chmod 755 $(DESTDIR)$(EXAMPLEDIR)/tcpserver.run

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/smtpd $(DESTDIR)$(MANDIR)/man8/smtpd.8 \
		$(DESTDIR)$(UNITDIR)/smtpd@.service $(DESTDIR)$(UNITDIR)/smtpd.socket \
		$(DESTDIR)$(SYSUSERSDIR)/smtpd.conf $(DESTDIR)$(TMPFILESDIR)/smtpd.conf \
		$(DESTDIR)$(EXAMPLEDIR)/smtpd.xinetd $(DESTDIR)$(EXAMPLEDIR)/inetd.conf \
		$(DESTDIR)$(EXAMPLEDIR)/tcpserver.run
	-rmdir $(DESTDIR)$(EXAMPLEDIR) 2>/dev/null

# The table is a source, not a target: without a recipe of its own, make's
# built-in rule "%: %.o" would link users.o into ./users, and delete the
# table when that link fails.
$(USERS): ;
