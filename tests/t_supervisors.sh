#!/bin/bash
# t_supervisors.sh: the binary under test, run by each real supervisor it
# ships a recipe for: systemd-socket-activate (inetd mode and fd-3 mode),
# xinetd, openbsd-inetd, inetutils-inetd (the shipped units/smtpd.xinetd and
# units/inetd.conf lines, nearly verbatim), tcpserver (units/tcpserver.run's
# command) and socat.  For each, Python's smtplib sends a message; the test
# checks the spooled file byte for byte with its Received: peer, that every
# byte the client got was an SMTP reply (no log line reached it), and that
# smtpd's log lines went where they belong: syslog (facility mail) when
# stderr is the connection (xinetd, the inetds), plain "smtpd[pid]: " lines
# on the supervisor's stderr otherwise.
#
# It runs in its own network, PID and mount namespaces: port 25 is free, a
# private /dev holds a /dev/log that this test reads, and every process it
# starts dies with the namespace.  xinetd and the two inetds conflict in
# apt, so their packages are fetched with `apt-get download` into
# build/supervisors/ (once) and unpacked there, not installed.
set -u
ME=t_supervisors.sh
SRC=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRC/smtpd}
VARIANT=${SMTPD_VARIANT:-plain}
skip() { echo "SKIP: $ME: $*"; exit 77; }
die() { echo "FAIL: $ME: $*"; exit 1; }

# ---- outside the namespaces: fetch the inet superservers once ---------------
if [ "${SMTPD_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || skip "needs root (namespaces, user=nobody)"
	for c in unshare python3 ss; do
		command -v $c >/dev/null || skip "no $c"
	done
	[ -x "$SMTPD" ] || die "no binary $SMTPD"
	SUP=$SRC/build/supervisors
	mkdir -p "$SRC/build"
	exec 9>"$SRC/build/supervisors.lock"
	flock 9
	if [ ! -x "$SUP/root/usr/sbin/xinetd" ] || [ ! -x "$SUP/root/usr/sbin/inetd" ] ||
	   [ ! -x "$SUP/root/usr/sbin/inetutils-inetd" ]; then
		T=$(mktemp -d "$SRC/build/supervisors.XXXXXX") || die mktemp
		chmod 755 "$T"
		chown _apt "$T" 2>/dev/null	# apt drops to _apt to download
		if (cd "$T" && apt-get download -q xinetd openbsd-inetd inetutils-inetd) >"$T/apt.log" 2>&1; then
			for d in "$T"/*.deb; do dpkg-deb -x "$d" "$T/root" || die "dpkg-deb -x $d"; done
			rm -rf "$SUP" && mv "$T" "$SUP"
		else
			cat "$T/apt.log"; rm -rf "$T"
		fi
	fi
	exec 9>&-
	export SMTPD_SUPROOT=$SUP SMTPD_IN_NS=1 SRCDIR=$SRC SMTPD SMTPD_VARIANT=$VARIANT
	exec unshare --net --pid --mount --fork --mount-proc "$0" "$@"
fi

# ---- inside: a loopback, a private /dev with our own /dev/log ----------------
SUP=$SMTPD_SUPROOT
W=$(mktemp -d /tmp/smtpd-sup.XXXXXX) || die mktemp
chmod 755 "$W"
trap 'rm -rf --one-file-system "$W"' EXIT
ip link set lo up || die "ip link set lo up"
mount --make-rprivate / || die "mount --make-rprivate /"
mount -t tmpfs -o mode=755 smtpd-test-dev /dev || die "mount tmpfs on /dev"
mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 &&
mknod -m 666 /dev/urandom c 1 9 && mknod -m 666 /dev/random c 1 8 &&
mkdir -m 1777 /dev/shm && ln -s /proc/self/fd /dev/fd || die "private /dev"

# The "syslog daemon": every datagram sent to /dev/log, one per line.
python3 -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log"); os.chmod("/dev/log", 0o666)
out = open(sys.argv[1], "ab", buffering=0)
out.write(b"ready\n")
while True:
    out.write(s.recv(4096).replace(b"\n", b"\\n") + b"\n")
' "$W/syslog" &
for _ in $(seq 1 100); do [ -s "$W/syslog" ] && break; sleep 0.05; done
[ -S /dev/log ] || die "no /dev/log listener"

# The binary where user nobody can reach it; spools nobody can write.
mkdir -p "$W/bin" "$W/asan" && chmod 755 "$W/bin" && chmod 1777 "$W/asan"
cp "$SMTPD" "$W/bin/smtpd" && chmod 755 "$W/bin/smtpd"
BIN=$W/bin/smtpd
HOST=mx.test.example
if [ "$VARIANT" = asan ]; then
	# Reports go to files (stderr may be the client's socket), which must
	# stay absent.  Each supervisor is told to pass these on.
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:log_path=$W/asan/asan"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:log_path=$W/asan/ubsan"
fi

# ---- the client -----------------------------------------------------------------
cat >"$W/client.py" <<'PY'
"""client.py HOST PORT TAG: send one message with smtplib; print
'TAG ID' on success.  Every line the server sent is recorded, and must be
an SMTP reply: anything else (a log line) fails the run."""
import re, smtplib, socket, sys
host, port, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen = []
class Recording:
    def __init__(self, f): self.f = f
    def readline(self, *a):
        line = self.f.readline(*a)
        seen.append(line)
        return line
    def close(self): self.f.close()
class SMTP(smtplib.SMTP):
    def getreply(self):
        if self.file is None:
            self.file = Recording(self.sock.makefile("rb"))
        return smtplib.SMTP.getreply(self)
s = SMTP(timeout=10)
code, _ = s.connect(host, port)
assert code == 220, code
s.ehlo("client.example")
assert s.mail("sender@client.example")[0] == 250
assert s.rcpt("user@test.example")[0] == 250
code, msg = s.data(b"Subject: " + tag.encode() + b"\r\n\r\nbody\r\n.dot\r\n")
assert code == 250, (code, msg)
code, _ = s.docmd("QUIT")
assert code == 221, code
rest = b""
while True:
    d = s.sock.recv(4096)
    if not d: break
    rest += d
bad = [l for l in seen if not re.match(rb"^[2-5][0-9][0-9][- ].*\r\n$", l)]
if bad or rest:
    sys.exit("%s: not SMTP from the server: %r %r" % (tag, bad, rest))
print(tag, msg.decode().split()[-1])
PY

# ---- checks ---------------------------------------------------------------------
bad=0
fail() { echo "FAIL: $*"; bad=1; }
ok() { echo "ok: $*"; }

listening() {	# PORT: wait until something listens there (no probe connection)
	for _ in $(seq 1 100); do
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	return 1
}

stop() {	# PID: end a supervisor we started and reap it
	kill "$1" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

spooled() {	# NAME SPOOL ID PEER: the file in new/, byte for byte
	local f got want date
	f=$(ls "$2/new/" | grep "^$3\\.") || { fail "$1: no file $3.* in $2/new"; return; }
	got=$(cat "$2/new/$f")
	date=$(printf '%s\n' "$got" | sed -n 's/^Received: .*; //p')
	want=$(printf 'Return-Path: <sender@client.example>\nX-Original-To: <user@test.example>\nReceived: from client.example (%s) by %s with ESMTP id %s for <user@test.example>; %s\nSubject: %s\n\nbody\n.dot' \
		"$4" "$HOST" "$3" "$date" "$1")
	if [ -n "$date" ] && [ "$got" = "$want" ]; then
		ok "$1: spooled, Received: peer $4"
	else
		fail "$1: spooled file differs:"; diff <(printf '%s\n' "$want") <(printf '%s\n' "$got")
	fi
}

session() {	# NAME ADDR PORT SPOOL PEER
	local out id
	out=$(python3 "$W/client.py" "$2" "$3" "$1" 2>&1)
	id=$(printf '%s\n' "$out" | awk -v t="$1" '$1 == t { print $2 }')
	if [ -z "$id" ]; then
		fail "$1: session failed: $out"
		return
	fi
	ok "$1: message accepted, nothing but replies reached the client"
	spooled "$1" "$4" "$id" "$5"
}

# stderr is the supervisor's own: plain "smtpd[pid]: " lines there.
logged_plain() {	# NAME FILE PEER
	if grep -Eq "^smtpd\[[0-9]+\]: connect from \\$3\$" "$2" &&
	   grep -Eq "^smtpd\[[0-9]+\]: accepted id=" "$2"; then
		ok "$1: log lines on the supervisor's stderr"
	else
		fail "$1: no 'smtpd[pid]: connect from $3' on stderr:"; cat "$2"
	fi
}

# stderr is the connection: syslog, facility mail (2), info (6) = <22>.
logged_syslog() {	# NAME PEER
	if grep -Eq "^<22>.* smtpd\[[0-9]+\]: connect from \\$2\$" "$W/syslog" &&
	   grep -Eq "^<22>.* smtpd\[[0-9]+\]: accepted id=" "$W/syslog"; then
		ok "$1: log lines in syslog, facility mail"
	else
		fail "$1: no '<22>... smtpd[pid]: connect from $2' in syslog:"; cat "$W/syslog"
	fi
}

sanitizers_quiet() {	# NAME
	[ "$VARIANT" = asan ] || return 0
	if [ -n "$(ls "$W/asan")" ]; then
		fail "$1: sanitizer reports:"; cat "$W/asan"/*; rm -f "$W/asan"/*
	fi
}

newspool() {	# NAME [OWNER]: an empty Maildir root, smtpd makes the rest
	mkdir -p "$W/spool/$1" && chmod 755 "$W/spool" && chown "${2:-root}" "$W/spool/$1"
	echo "$W/spool/$1"
}
ARGS() { echo "--spool $1 --hostname $HOST --domain test.example"; }

# ---- systemd-socket-activate --inetd: fd 0/1 -------------------------------------
S=$(newspool ssa-inetd)
systemd-socket-activate -l 127.0.0.1:2501 -l '[::1]:2501' --accept --inetd \
	-E ASAN_OPTIONS -E UBSAN_OPTIONS $BIN $(ARGS "$S") \
	</dev/null >"$W/ssa.out" 2>"$W/ssa.err" &
pid=$!
if listening 2501; then
	session ssa-inetd 127.0.0.1 2501 "$S" "[127.0.0.1]"
	session ssa-inetd6 ::1 2501 "$S" "[IPv6:::1]"
	logged_plain ssa-inetd "$W/ssa.err" "[127.0.0.1]"
else
	fail "systemd-socket-activate --inetd did not listen"; cat "$W/ssa.err"
fi
stop $pid
sanitizers_quiet ssa-inetd

# ---- systemd-socket-activate: fd 3, LISTEN_FDS=1, LISTEN_PID --------------------
# stdout is the supervisor's: smtpd must write nothing there.
S=$(newspool ssa-fd3)
systemd-socket-activate -l 127.0.0.1:2502 --accept --fdname=smtp \
	-E ASAN_OPTIONS -E UBSAN_OPTIONS $BIN $(ARGS "$S") \
	</dev/null >"$W/ssa3.out" 2>"$W/ssa3.err" &
pid=$!
if listening 2502; then
	session ssa-fd3 127.0.0.1 2502 "$S" "[127.0.0.1]"
	logged_plain ssa-fd3 "$W/ssa3.err" "[127.0.0.1]"
	[ -s "$W/ssa3.out" ] && { fail "ssa-fd3: smtpd wrote to fd 1:"; cat "$W/ssa3.out"; }
else
	fail "systemd-socket-activate (fd 3) did not listen"; cat "$W/ssa3.err"
fi
stop $pid
sanitizers_quiet ssa-fd3

if [ -x "$SUP/root/usr/sbin/xinetd" ]; then
	# ---- xinetd: units/smtpd.xinetd, as user nobody ------------------------
	# Changed: the binary's path, its arguments, the account, and
	# variables for the sanitizers; its dual-stack socket on port 25 and
	# its limits are the shipped ones.  No -d: it wants a tty.
	S=$(newspool xinetd nobody)
	{
		printf 'defaults\n{\n\tlog_type = SYSLOG daemon info\n}\n'
		sed -e "s|/usr/sbin/smtpd|$BIN|" -e 's/= smtpd$/= nobody/' \
		    -e "s|^\(\tserver\t.*\)|\1\n\tserver_args\t= $(ARGS "$S")\n\tpassenv\t\t= ASAN_OPTIONS UBSAN_OPTIONS|" \
		    "$SRC/units/smtpd.xinetd"
	} >"$W/xinetd.conf"
	sed -i 's/^\tgroup\t\t= nobody$/\tgroup\t\t= nogroup/' "$W/xinetd.conf"
	[ "$VARIANT" = asan ] && sed -i '/rlimit_as/d' "$W/xinetd.conf"	# shadow memory
	"$SUP/root/usr/sbin/xinetd" -dontfork -stayalive -filelog "$W/xinetd.log" \
		-f "$W/xinetd.conf" -pidfile "$W/xinetd.pid" </dev/null >/dev/null 2>&1 &
	pid=$!
	if listening 25; then
		session xinetd 127.0.0.1 25 "$S" "[127.0.0.1]"
		session xinetd6 ::1 25 "$S" "[IPv6:::1]"
		logged_syslog xinetd "[127.0.0.1]"
		# per_source = 8: a ninth connection from one address is closed
		# at once, before smtpd runs.
		python3 - <<'PY' && ok "xinetd: per_source: 8 sessions, the 9th refused" || fail "xinetd: per_source"
import socket, sys
conns = [socket.create_connection(("127.0.0.1", 25), timeout=10) for _ in range(8)]
for c in conns:
    assert c.recv(512).startswith(b"220 "), "no greeting"
extra = socket.create_connection(("127.0.0.1", 25), timeout=10)
try:
    data = extra.recv(512)
except ConnectionResetError:
    data = b""
for c in conns:
    c.sendall(b"QUIT\r\n")
    while c.recv(512): pass
sys.exit("ninth connection got %r" % data if data else 0)
PY
	else
		fail "xinetd did not listen on port 25"; cat "$W/xinetd.log"
	fi
	stop $pid
	sanitizers_quiet xinetd
	: >"$W/syslog"
else
	echo "SKIP: xinetd: could not apt-get download it"; skipped=1
fi

inetd_test() {	# NAME LINES BINARY ARGS...: units/inetd.conf, LINES "tcp" or "tcp6"
	local name=$1 lines=$2 bin=$3 S
	shift 3
	S=$(newspool "$name" nobody)
	sed -e '/^#/d' -e "/\t\($lines\)\t/!d" -e 's/smtpd:smtpd/nobody:nogroup/' \
	    -e "s|/usr/sbin/smtpd\tsmtpd\$|$BIN\tsmtpd $(ARGS "$S")|" \
	    "$SRC/units/inetd.conf" >"$W/$name.conf"
	"$bin" "$@" "$W/$name.conf" </dev/null >"$W/$name.log" 2>&1 &
	pid=$!
	if listening 25; then
		session "$name" 127.0.0.1 25 "$S" "[127.0.0.1]"
		session "${name}6" ::1 25 "$S" "[IPv6:::1]"
		logged_syslog "$name" "[127.0.0.1]"
	else
		fail "$name did not listen on port 25"; cat "$W/$name.log"
	fi
	stop $pid
	sanitizers_quiet "$name"
	: >"$W/syslog"
}
if [ -x "$SUP/root/usr/sbin/inetd" ]; then
	inetd_test openbsd-inetd 'tcp\|tcp6' "$SUP/root/usr/sbin/inetd" -d -i
else
	echo "SKIP: openbsd-inetd: could not apt-get download it"; skipped=1
fi
if [ -x "$SUP/root/usr/sbin/inetutils-inetd" ]; then
	inetd_test inetutils-inetd tcp6 "$SUP/root/usr/sbin/inetutils-inetd" -d --pidfile="$W/iu.pid"
else
	echo "SKIP: inetutils-inetd: could not apt-get download it"; skipped=1
fi

# ---- tcpserver: units/tcpserver.run's command line -------------------------------
if command -v tcpserver >/dev/null; then
	S=$(newspool tcpserver nobody)
	cmd=$(sed -n '/^exec tcpserver/,/[^\\]$/p' "$SRC/units/tcpserver.run" | tr -d '\\\n' |
		sed -e 's/^exec //' -e 's/"$(id -[ug] smtpd)"/65534/g' -e "s|/usr/sbin/smtpd|$BIN $(ARGS "$S")|")
	eval "$cmd" </dev/null >"$W/tcpserver.out" 2>"$W/tcpserver.err" &
	pid=$!
	if listening 25; then
		session tcpserver 127.0.0.1 25 "$S" "[127.0.0.1]"
		logged_plain tcpserver "$W/tcpserver.err" "[127.0.0.1]"
	else
		fail "tcpserver did not listen: $cmd"; cat "$W/tcpserver.err"
	fi
	stop $pid
	sanitizers_quiet tcpserver
else
	echo "SKIP: tcpserver: not installed (package ucspi-tcp)"; skipped=1
fi

# ---- socat, nofork: the TCP socket itself on fd 0/1 ------------------------------
if command -v socat >/dev/null; then
	S=$(newspool socat)
	socat TCP-LISTEN:2507,bind=127.0.0.1,reuseaddr,fork \
		EXEC:"$BIN $(ARGS "$S")",nofork </dev/null >"$W/socat.out" 2>"$W/socat.err" &
	pid=$!
	if listening 2507; then
		session socat 127.0.0.1 2507 "$S" "[127.0.0.1]"
		logged_plain socat "$W/socat.err" "[127.0.0.1]"
	else
		fail "socat did not listen"; cat "$W/socat.err"
	fi
	stop $pid
	sanitizers_quiet socat
else
	echo "SKIP: socat: not installed"; skipped=1
fi

if [ $bad != 0 ]; then
	exit 1
fi
[ "${skipped:-0}" = 1 ] && skip "some supervisors were not available (see above)"
exit 0
