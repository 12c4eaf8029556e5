# smtpd: one SMTP conversation on stdin/stdout, spooled into a Maildir.
#   make          build ./smtpd (a static PIE; make LINK=dynamic: see below)
#   make run      smtpd on this terminal, spooling into ./spool
#   make check    build and run every test (unit, integration, sanitizers)
#   make bench    the benchmark (bench/README.md)
#   make dynamic  the same sources linked dynamically, build/dynamic/smtpd
#   make install  PREFIX, DESTDIR, SBINDIR, MANDIR, UNITDIR, ...

CC ?= cc
CFLAGS ?= -O2 -g
# smtpd is started once per connection, and starting is most of what a
# connection costs.  Linked as a static PIE it starts in about 47,000
# instructions and 36 page faults; linked to the shared C library, about
# 123,000 and 58 (the dynamic loader's work: mapping libc, relocating,
# binding symbols), 0.25 to 0.6 ms more per connection on the bench VM.
# The price: a C library security update reaches smtpd only when it is
# rebuilt.  Packagers who want the shared library: make LINK=dynamic.
LINK ?= static
# libsystemd (SYSTEMD=yes) is loaded with dlopen(), which a static binary
# cannot do soundly, so it is for LINK=dynamic only; a static smtpd reads
# the LISTEN_FDS protocol itself (listen.c).
ifeq ($(LINK),static)
SYSTEMD ?= no
ifeq ($(SYSTEMD),yes)
$(error SYSTEMD=yes needs LINK=dynamic)
endif
else ifeq ($(LINK),dynamic)
SYSTEMD ?= yes
else
$(error LINK must be static or dynamic)
endif
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
ifeq ($(LINK),static)
# A static PIE keeps address space randomisation; with nothing to bind
# lazily, full RELRO (-z now) costs nothing.
LDLINK = -static-pie
LDHARDEN = -Wl,-z,relro,-z,now,-z,noexecstack
PIE = -fPIE
else
# Partial RELRO, lazy binding: -z now would resolve all ~90 imported
# symbols at every exec, about 45,000 instructions, a third of the cost of
# starting a process, and smtpd starts one per connection.
LDHARDEN = -Wl,-z,relro,-z,noexecstack
endif
ifeq ($(SYSTEMD),yes)
SD_CFLAGS := -DHAVE_LIBSYSTEMD $(shell pkg-config --cflags libsystemd 2>/dev/null)
endif
ALL_CFLAGS = $(WARN) -D_GNU_SOURCE $(SD_CFLAGS) $(CDB_CFLAGS) $(HARDEN) $(PIE) $(CFLAGS)

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

# Objects and the binary are rebuilt when the flags change (LINK=,
# SYSTEMD=, CFLAGS=): make alone would keep objects built for the other way.
# The stamp is rewritten as the Makefile is read, and only when the flags
# differ, so that make -q and a second make still find everything current.
BUILD_FLAGS = $(CC) $(ALL_CFLAGS) $(LDLINK) $(LDHARDEN) $(LDFLAGS)
STAMP := $(shell mkdir -p $(dir $(B).build-flags) && \
	{ echo '$(BUILD_FLAGS)' | cmp -s - $(B).build-flags || echo '$(BUILD_FLAGS)' > $(B).build-flags; })

$(B)%.o: %.c $(HEADERS) $(B).build-flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)smtpd: $(B)smtpd.o $(LIBOBJ) $(B).build-flags
	$(CC) $(CFLAGS) $(LDLINK) $(LDHARDEN) $(LDFLAGS) -o $@ $(B)smtpd.o $(LIBOBJ) $(CDB_LIBS)

# Unit tests link the shipped objects unchanged (chrony's way).
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
TESTSRC = $(wildcard tests/check_*.c)
$(B)tests/check_smtpd: $(TESTSRC) tests/testio.h tests/replies.h $(LIBOBJ) $(HEADERS) $(B).build-flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I. $(CHECK_CFLAGS) -o $@ $(TESTSRC) $(LIBOBJ) $(LDFLAGS) $(CDB_LIBS) $(CHECK_LIBS)

deps:
	@tests/deps.sh check

builddeps:
	@LINK=$(LINK) SYSTEMD=$(SYSTEMD) tests/deps.sh build

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
	$(MAKE) B=build/asan/ LINK=dynamic SYSTEMD=yes CFLAGS="-O1 -g $(SANITIZE)" \
		LDFLAGS="$(SANITIZE)" build/asan/smtpd build/asan/tests/check_smtpd

# The same sources linked to the shared C library (and libsystemd by
# dlopen): what LINK=dynamic ships, and what the LD_PRELOAD fault shim of
# tests/t_faults.sh needs.
dynamic:
	@$(MAKE) --no-print-directory B=build/dynamic/ LINK=dynamic SYSTEMD=yes build/dynamic/smtpd

bench: all dynamic
	@bench/run.sh

fuzz:
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf *.o .build-flags smtpd tests/check_smtpd build spool

.PHONY: all deps builddeps run check asan dynamic bench fuzz clean install uninstall

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
