#!/bin/bash
# t_systemd.sh: smtpd under a real systemd (PID 1 in systemd-nspawn, made
# from this machine's /usr), with the units exactly as `make install
# DESTDIR=...` ships them, the shipped hardened smtpd@.service included.
# In the container's private network: an IPv4 and an IPv6 client get their
# mail spooled, a NUL-bearing message is refused, the journal holds smtpd's
# lines with their priorities, a burst of 200 connections leaves
# smtpd.socket active, no smtpd exits non-zero and no unit is left failed.
# Two test-only units show the other ways systemd may start smtpd: the
# connection on fd 3 (LISTEN_FDS), and stderr left as the client's socket
# (smtpd must then log to syslog, never to the client).
#
#   tests/t_systemd.sh             the test (SMTPD, SRCDIR as make check sets)
#   tests/t_systemd.sh --measure   ms per connection, wall and CPU, for
#                                  each hardening directive (smtpd.8,
#                                  HARDENING); MEASURE_ROUNDS=N (9)
#
# Exit 77 with a SKIP line when no container can boot here.
set -u
SRC=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRC/smtpd}
VARIANT=${SMTPD_VARIANT:-plain}
MEASURE=0
[ "${1:-}" = --measure ] && MEASURE=1
ME=t_systemd.sh

skip() { echo "SKIP: $ME: $*"; exit 77; }
die() { echo "FAIL: $ME: $*"; exit 1; }
bad=0
check() {	# description, then a command: PASS or FAIL, never stop
	local what=$1; shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; bad=1; fi
}

[ "$(id -u)" = 0 ] || skip "needs root to boot a container"
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (package systemd-container)"
[ -x /usr/lib/systemd/systemd ] || skip "no /usr/lib/systemd/systemd to boot"
command -v python3 >/dev/null || skip "no python3"
[ -x "$SMTPD" ] || die "no binary $SMTPD"

W=$(mktemp -d /tmp/smtpd-nspawn.XXXXXX) || die "mktemp"
chmod 755 "$W"
NSPAWN=
stop_container() {
	[ -n "$NSPAWN" ] || return 0
	kill -TERM "$NSPAWN" 2>/dev/null	# nspawn asks PID 1 to power off
	for _ in $(seq 1 100); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$NSPAWN" 2>/dev/null && { kill -KILL "$NSPAWN"; wait "$NSPAWN" 2>/dev/null; }
	NSPAWN=
}
CG=
remove_cgroup() {	# what the container left of its cgroup tree, leaves first
	[ -n "$CG" ] && [ -d "$CG" ] || return 0
	for _ in $(seq 1 50); do
		find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$CG" ] || return 0
		sleep 0.1
	done
	echo "$ME: could not remove cgroup $CG"
}
trap 'stop_container; remove_cgroup; rm -rf "$W"' EXIT

# ---- what a package would ship, in $W/root --------------------------------
# -o: install the binary under test as it is, never rebuild it here.
make -s -C "$SRC" -o "$SMTPD" install B="$(dirname "$SMTPD")/" \
	DESTDIR="$W/root" PREFIX=/usr >"$W/install.log" 2>&1 ||
	{ cat "$W/install.log"; die "make install DESTDIR=$W/root failed"; }
# Debian's UNITDIR is /lib/systemd/system, which is /usr/lib on a merged-/usr
# system such as the container's.
if [ -d "$W/root/lib" ]; then
	mkdir -p "$W/root/usr/lib" && cp -a "$W/root/lib/." "$W/root/usr/lib/" ||
		die "cannot merge lib into usr/lib"
fi
for f in usr/sbin/smtpd usr/lib/systemd/system/smtpd.socket \
	 usr/lib/systemd/system/smtpd@.service usr/lib/sysusers.d/smtpd.conf \
	 usr/lib/tmpfiles.d/smtpd.conf; do
	[ -f "$W/root/$f" ] || die "make install did not install /$f"
done

# The container's /etc/systemd/system: the socket enabled as `systemctl
# enable` would, and firstboot masked (it wants a tty and would fail).
E=$W/etc
mkdir -p "$E/sockets.target.wants"
ln -s /usr/lib/systemd/system/smtpd.socket "$E/sockets.target.wants/smtpd.socket"
ln -s /dev/null "$E/systemd-firstboot.service"
# Two test-only units beside the shipped ones, for the other two ways
# systemd may hand smtpd a connection: on fd 3 (no StandardInput=, port
# 2526), and on fd 0/1 with stderr left as the socket too (no
# StandardError=, port 2527), where smtpd must log to syslog.
for t in fd3:2526 nostderr:2527; do
	n=smtpd-${t%:*}
	printf '[Socket]\nListenStream=%s\nAccept=yes\n' "${t#*:}" >"$E/$n.socket"
	printf '[Unit]\nCollectMode=inactive-or-failed\n[Service]\nExecStart=/usr/sbin/smtpd\nUser=smtpd\nGroup=smtpd\nSyslogIdentifier=smtpd\n' >"$E/$n@.service"
	ln -s "../$n.socket" "$E/sockets.target.wants/$n.socket"
done
echo 'StandardInput=socket' >>"$E/smtpd-nostderr@.service"
if [ "$VARIANT" = asan ]; then
	# The sanitizers' options reach smtpd only through the unit; they
	# report on stderr, which is the journal.  Shadow memory needs no more
	# than the unit allows (it sets no memory limit).
	# Where stderr is the socket, they write to files in /tmp instead.
	# LeakSanitizer stops the world with ptrace(2), which the hardened
	# unit's system call filter forbids: there it is off (the other
	# units, and every other test, still look for leaks).
	for n in smtpd smtpd-fd3 smtpd-nostderr; do
		mkdir -p "$E/$n@.service.d"
		opt=
		[ $n = smtpd ] && opt=:detect_leaks=0
		[ $n = smtpd-nostderr ] && opt=:log_path=/tmp/sanitizer
		printf '[Service]\nEnvironment="ASAN_OPTIONS=%s%s" "UBSAN_OPTIONS=%s%s"\n' \
			"${ASAN_OPTIONS:-detect_leaks=1}" "$opt" "${UBSAN_OPTIONS:-print_stacktrace=1}" \
			"${opt#:detect_leaks=0}" >"$E/$n@.service.d/sanitizers.conf"
	done
fi

# --measure: one socket and one service template per variant of the
# shipped unit, on ports 2601...: "label|directives to drop|lines to add".
MOUNTS='ProtectSystem|ReadWritePaths|ProtectHome|PrivateTmp|PrivateDevices|ProtectProc|ProcSubset|PrivateMounts'
VARIANTS=(
	"bare: socket, journal, User=smtpd|@BARE@|"
	"shipped unit (exposure 0.9)||"
	"shipped, no mount namespace (1.9)|$MOUNTS|"
	"shipped + ProtectKernelTunables (0.7)||ProtectKernelTunables=yes"
	"shipped + ProtectKernelModules (0.7)||ProtectKernelModules=yes"
	"shipped + ProtectKernelLogs (0.7)||ProtectKernelLogs=yes"
	"shipped + ProtectControlGroups (0.7)||ProtectControlGroups=yes"
	"shipped + all four (0.2)||ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes"
	"shipped - ProtectSystem, ReadWritePaths|ProtectSystem|ReadWritePaths|"
	"shipped - ProtectHome|ProtectHome|"
	"shipped - PrivateTmp|PrivateTmp|"
	"shipped - PrivateDevices|PrivateDevices|"
	"shipped - ProtectProc, ProcSubset|ProtectProc|ProcSubset|"
	"shipped - PrivateMounts|PrivateMounts|"
	"shipped - PrivateNetwork|PrivateNetwork|"
	"shipped - PrivateUsers|PrivateUsers|"
	"shipped - PrivateIPC|PrivateIPC|"
	"shipped - SystemCallFilter|SystemCallFilter|SystemCallArchitectures|SystemCallErrorNumber|"
	"shipped - IPAddressDeny|IPAddressDeny|"
)
if [ $MEASURE = 1 ]; then
	unit=$W/root/usr/lib/systemd/system
	for i in "${!VARIANTS[@]}"; do
		v=${VARIANTS[$i]#*|}
		drop=${v%|*} add=${v##*|}
		port=$((2601 + i))
		sed "s/^ListenStream=25$/ListenStream=$port/" "$unit/smtpd.socket" >"$E/m$i.socket"
		if [ "$drop" = @BARE@ ]; then
			{
				printf '[Unit]\nCollectMode=inactive-or-failed\n[Service]\n'
				grep -E '^(ExecStart|StandardInput|StandardOutput|StandardError|SyslogIdentifier|User|Group)=' "$unit/smtpd@.service"
			} >"$E/m$i@.service"
		else
			grep -Ev "^(${drop:-@NONE@})=" "$unit/smtpd@.service" >"$E/m$i@.service"
			[ -n "$add" ] && printf '%s\n' $add >>"$E/m$i@.service"
		fi
		ln -s "../m$i.socket" "$E/sockets.target.wants/m$i.socket"
	done
fi

# ---- boot ------------------------------------------------------------------
# Flags, each needed (see shared notes): --register=no --keep-unit (no host
# systemd), --console=pipe (no tty), CAP_BPF and bpf() so that IPAddressDeny=
# is really enforced, a unified cgroup tree, a private network with its own
# loopback where port 25 is free.
# With --keep-unit, the container's root cgroup is the one nspawn starts
# in: two containers started from one cgroup (two test runs at once) would
# share, and tear down, each other's cgroups.  Each gets a cgroup of its
# own, removed afterwards.
CG=
for root in /sys/fs/cgroup/unified /sys/fs/cgroup; do
	[ "$(stat -f -c %T "$root" 2>/dev/null)" = cgroup2fs ] || continue
	CG=$root$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
	CG=${CG%/}/smtpd-nspawn-$$
	mkdir "$CG" || skip "cannot create cgroup $CG"
	break
done
[ -n "$CG" ] || skip "no cgroup2 hierarchy for the container"
t0=$(date +%s%N)
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" \
	systemd-nspawn -q -D / --volatile=yes \
	--private-network --boot --register=no --keep-unit --console=pipe \
	--machine="smtpd-t$$" --capability=CAP_BPF --system-call-filter=bpf \
	--overlay-ro="/usr:$W/root/usr:/usr" --bind-ro="$E:/etc/systemd/system" \
	</dev/null >"$W/console.log" 2>&1 &
NSPAWN=$!
LEADER= st=
for _ in $(seq 1 150); do	# at most about 30 s
	kill -0 "$NSPAWN" 2>/dev/null ||
		{ cat "$W/console.log"; NSPAWN=; skip "systemd-nspawn could not boot a container here"; }
	LEADER=$(ps -o pid= --ppid "$NSPAWN" | head -n1 | tr -d ' ')
	[ -n "$LEADER" ] && st=$(nsenter -t "$LEADER" -a systemctl is-system-running 2>/dev/null)
	case $st in running|degraded) break ;; esac
	sleep 0.2
done
case $st in
running|degraded) ;;
*) cat "$W/console.log"; skip "the container's systemd did not come up (state '$st')" ;;
esac
echo "$ME: systemd up ($st) in $((($(date +%s%N) - t0) / 1000000)) ms ($VARIANT build)"
inside() { nsenter -t "$LEADER" -a "$@"; }	# container's mounts, pids, net
innet() { nsenter -t "$LEADER" -n "$@"; }	# host programs, container's net

if [ $MEASURE = 1 ]; then
	# Sequential greeting + QUIT, rounds interleaved so that drift and the
	# load of other programs hit every variant alike; the median round is
	# reported.  Wall time is what a client waits; CPU time is what the
	# whole container (PID 1, the service, journald) spent, read from its
	# cgroup, and is less disturbed by other load on the machine.
	innet python3 - "${#VARIANTS[@]}" "/proc/$LEADER/root/sys/fs/cgroup/cpu.stat" "${MEASURE_ROUNDS:-9}" \
		<<'PY' >"$W/measure.txt" || die "measurement failed"
import socket, sys, time, statistics
n, cpustat = int(sys.argv[1]), sys.argv[2]
rounds, per = int(sys.argv[3]), 10
def cpu_us():
    for line in open(cpustat):
        k, v = line.split()
        if k == "usage_usec":
            return int(v)
def session(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        buf = b""
        while not buf.endswith(b"\r\n"):
            d = s.recv(512)
            if not d: raise SystemExit("no greeting on port %d" % port)
            buf += d
        s.sendall(b"QUIT\r\n")
        while s.recv(512): pass
        s.close()
    except OSError as e:
        raise SystemExit("port %d: %s" % (port, e))
wall = {i: [] for i in range(n)}
cpu = {i: [] for i in range(n)}
for i in range(n): session(2601 + i)          # warm up
for r in range(rounds):
    for i in range(n):
        c, t = cpu_us(), time.perf_counter()
        for _ in range(per): session(2601 + i)
        wall[i].append((time.perf_counter() - t) * 1000 / per)
        cpu[i].append((cpu_us() - c) / 1000 / per)
for i in range(n):
    print(i, "%.1f" % statistics.median(wall[i]), "%.1f" % statistics.median(cpu[i]))
PY
	printf '%-48s %9s %9s\n' "unit" "wall" "CPU"
	while read -r i wall cpu; do
		printf '%-48s %6s ms %6s ms\n' "${VARIANTS[$i]%%|*}" "$wall" "$cpu"
	done <"$W/measure.txt"
	exit 0
fi

# ---- the test ----------------------------------------------------------------
# Client: over the shipped socket, IPv4 and IPv6 messages and one with a NUL
# byte, a client leaving after the greeting and one in mid-message; one
# message each through the two test-only units (fd 3, and stderr
# left as the socket); a burst of 200 connections opened at once.  Every
# byte the server sends must be an SMTP reply: a log line reaching the
# client fails the session.
innet python3 - <<'PY' >"$W/client.out" 2>"$W/client.err"
import re, smtplib, socket, sys
class Recording:
    def __init__(self, f, seen): self.f, self.seen = f, seen
    def readline(self, *a):
        line = self.f.readline(*a)
        self.seen.append(line)
        return line
    def close(self): self.f.close()
class SMTP(smtplib.SMTP):
    def getreply(self):
        if self.file is None:
            self.seen = []
            self.file = Recording(self.sock.makefile("rb"), self.seen)
        return smtplib.SMTP.getreply(self)
def send(tag, addr, port, body):
    s = SMTP(timeout=10)
    code, greeting = s.connect(addr, port)
    assert code == 220, (tag, code, greeting)
    host = greeting.split()[0].decode()
    s.ehlo("client.example")
    assert s.mail("sender@client.example")[0] == 250
    rcpt = "user@" + host
    assert s.rcpt(rcpt)[0] == 250
    try:
        code, msg = s.data(body)
    except smtplib.SMTPDataError as e:
        code, msg = e.smtp_code, e.smtp_error
    assert s.docmd("QUIT")[0] == 221
    rest = b""
    while True:
        d = s.sock.recv(4096)
        if not d: break
        rest += d
    bad = [l for l in s.seen if not re.match(rb"^[2-5][0-9][0-9][- ].*\r\n$", l)]
    if bad or rest:
        print("leak", tag, repr(bad), repr(rest))
    print(tag, code, msg.decode().split()[-1], rcpt, host)
send("v4", "127.0.0.1", 25, b"Subject: over IPv4\r\n\r\nline one\r\n.dot\r\n")
send("v6", "::1", 25, b"Subject: over IPv6\r\n\r\nline two\r\n")
send("nul", "127.0.0.1", 25, b"Subject: nul\r\n\r\na\x00b\r\n")
send("fd3", "127.0.0.1", 2526, b"Subject: fd3\r\n\r\nthree\r\n")
send("nostderr", "127.0.0.1", 2527, b"Subject: nostderr\r\n\r\nsyslog\r\n")
# Clients that just go: after the greeting, and in the middle of a message
# (which must leave nothing in the spool).  smtpd must still exit 0.
def reply(f):
    while True:
        line = f.readline()
        if len(line) < 4 or line[3:4] == b" ":
            return line
c = socket.create_connection(("127.0.0.1", 25), timeout=10)
c.recv(512)
c.close()
c = socket.create_connection(("127.0.0.1", 25), timeout=10)
f = c.makefile("rb")
reply(f)
for cmd in (b"EHLO client.example", b"MAIL FROM:<sender@client.example>",
            b"RCPT TO:<postmaster>", b"DATA"):
    c.sendall(cmd + b"\r\n")
    reply(f)
c.sendall(b"Subject: cut\r\n\r\nhalf a mess")
c.close()
# The burst: 200 connects before any is served.  Past MaxConnections* the
# socket unit drops them at once (EOF, no greeting); at most 8 (per source)
# are served.
conns = []
for _ in range(200):
    try:
        conns.append(socket.create_connection(("127.0.0.1", 25), timeout=10))
    except OSError as e:
        print("burst-connect-error", e)
greeted = dropped = 0
for c in conns:
    try:
        data = c.recv(512)
        if data.startswith(b"220 "):
            greeted += 1
            c.sendall(b"QUIT\r\n")
            while c.recv(512): pass
        else:
            dropped += 1
    except OSError:
        dropped += 1
    c.close()
print("burst", len(conns), greeted, dropped)
PY
rc=$?
cat "$W/client.out"
[ $rc = 0 ] || { cat "$W/client.err"; echo "FAIL: client exited $rc"; bad=1; }
# Every session over: wait (bounded) for the instances to be gone.
for _ in $(seq 1 100); do
	[ -z "$(inside systemctl list-units --no-legend --plain 'smtpd*@*')" ] && break
	sleep 0.1
done
check "no log line reached any client" sh -c '! grep -q "^leak " "$1"' - "$W/client.out"

# "TAG CODE ID-or-text RCPT HOST"
field() { awk -v t="$1" -v n="$2" '$1 == t { print $n }' "$W/client.out"; }
host=$(field v4 5) rcpt=$(field v4 4)
check "IPv4 message queued" [ "$(field v4 2)" = 250 ]
check "IPv6 message queued" [ "$(field v6 2)" = 250 ]
check "fd-3 unit: message queued" [ "$(field fd3 2)" = 250 ]
check "unit without StandardError=: message queued" [ "$(field nostderr 2)" = 250 ]
check "NUL message refused with 554" [ "$(field nul 2)" = 554 ]

spooled() {	# id tag peer subject body...: the exact file in new/
	local id=$1 tag=$2 peer=$3; shift 3
	local f got want date
	[ -n "$id" ] || return 1
	f=$(inside sh -c "ls /var/spool/smtpd/new/ | grep '^$id\\.'") || return 1
	got=$(inside cat "/var/spool/smtpd/new/$f") || return 1
	date=$(printf '%s\n' "$got" | sed -n 's/^Received: .*; //p')
	want=$(printf 'Return-Path: <sender@client.example>\nX-Original-To: <%s>\nReceived: from client.example (%s) by %s with ESMTP id %s for <%s>; %s\n' \
		"$rcpt" "$peer" "$host" "$id" "$rcpt" "$date"; printf '%s\n' "$@")
	[ "$got" = "$want" ] || { echo "--- $tag: got"; printf '%s\n' "$got"; echo "--- wanted"; printf '%s\n' "$want"; return 1; }
	[ -n "$date" ]
}
check "IPv4 message spooled, peer [127.0.0.1]" \
	spooled "$(field v4 3)" v4 "[127.0.0.1]" "Subject: over IPv4" "" "line one" ".dot"
check "IPv6 message spooled, peer [IPv6:::1]" \
	spooled "$(field v6 3)" v6 "[IPv6:::1]" "Subject: over IPv6" "" "line two"
check "fd-3 unit: spooled, peer [127.0.0.1]" \
	spooled "$(field fd3 3)" fd3 "[127.0.0.1]" "Subject: fd3" "" "three"
check "unit without StandardError=: spooled, peer [127.0.0.1]" \
	spooled "$(field nostderr 3)" nostderr "[127.0.0.1]" "Subject: nostderr" "" "syslog"
check "nothing left in tmp/, one file per accepted message" \
	[ "$(inside sh -c 'ls /var/spool/smtpd/tmp | wc -l; ls /var/spool/smtpd/new | wc -l' | tr '\n' ' ')" = "0 4 " ]
check "spool files belong to smtpd, mode 0600" \
	[ "$(inside sh -c 'stat -c "%U %a" /var/spool/smtpd/new/*' | sort -u)" = "smtpd 600" ]

# The journal, as `journalctl -p` selects by priority...
J() { inside journalctl -q --no-pager -t smtpd -o cat "$@"; }
has() { grep -qF -- "$1"; }
check "journal: 'connect from [127.0.0.1]' at info" has "connect from [127.0.0.1]" < <(J -p info..info)
check "journal: 'connect from [IPv6:::1]' at info" has "connect from [IPv6:::1]" < <(J -p info..info)
check "journal: 'accepted id=$(field v4 3)' at info" has "accepted id=$(field v4 3) " < <(J -p info..info)
check "journal: refused message at notice" has "reply=554" < <(J -p notice..notice)
check "journal: no info line at notice or above" \
	sh -c '! grep -q "accepted id=\|connect from"' < <(J -p notice)
check "journal: no raw <N> prefix left in a message" sh -c '! grep -q "^<[0-7]>"' < <(J)
# ...and by unit: "UNIT PRIORITY FACILITY MESSAGE", unit up to its "@".
inside journalctl -q --no-pager -t smtpd -o json | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(e.get("_SYSTEMD_UNIT", "-").split("@")[0], e.get("PRIORITY"),
          e.get("SYSLOG_FACILITY", "-"), e.get("MESSAGE"))' >"$W/journal.txt"
[ -n "${SMTPD_TEST_DEBUG:-}" ] && cat "$W/journal.txt"
jline() { grep -qF -- "$1" "$W/journal.txt"; }
# Stream lines get journald's default facility (daemon, 3): a "<N>" prefix
# on a stream carries a priority only.  syslog(3) lines are facility mail.
check "journal: the shipped unit logs through stderr at info" \
	jline "smtpd 6 3 accepted id=$(field v4 3) "
check "journal: fd-3 unit logs through stderr at info" \
	jline "smtpd-fd3 6 3 accepted id=$(field fd3 3) "
# journald names a datagram's unit from the sender's /proc entry, which a
# smtpd that has already exited no longer has (the static build exits
# within microseconds of its last line): the unit may then be "-".  The
# message id is this session's alone, and facility 2 is syslog(3)'s.
jsyslog() {
	grep -qE -- "^(smtpd-nostderr|-) 6 2 accepted id=$1 " "$W/journal.txt" && return 0
	echo "journal lines naming $1:"
	grep -F -- "$1" "$W/journal.txt"
	return 1
}
check "journal: unit without StandardError= logs through syslog, facility mail" \
	jsyslog "$(field nostderr 3)"
if [ "$VARIANT" = asan ]; then
	check "journal: no sanitizer report" \
		sh -c '! grep "Sanitizer\|runtime error" | head -5 | grep .' < <(J)
	check "no sanitizer report file" [ -z "$(inside sh -c 'ls /tmp/ | grep -i san')" ]
fi

# The burst, then the socket must still serve.
read -r _ nconn greeted dropped < <(grep '^burst ' "$W/client.out")
check "burst: 200 connections made" [ "${nconn:-0}" = 200 ]
check "burst: some served (${greeted:-0}, at most 8), the rest dropped (${dropped:-0})" \
	[ "${greeted:-0}" -ge 1 -a "${greeted:-0}" -le 8 -a $((${greeted:-0} + ${dropped:-0})) = 200 ]
check "smtpd.socket still active after the burst" \
	[ "$(inside systemctl is-active smtpd.socket)" = active ]
check "a session after the burst is served" innet python3 -c '
import smtplib
s = smtplib.SMTP("127.0.0.1", 25, local_hostname="after.example", timeout=10)
assert s.noop()[0] == 250
s.quit()'
check "no smtpd exited non-zero" \
	sh -c '! grep -E "smtpd.*@.*(status=|Failed with result)" | head -5 | grep .' \
	< <(inside journalctl -q --no-pager -o cat _PID=1)
failed=$(inside systemctl --failed --no-legend --plain)
check "no failed unit${failed:+: $failed}" [ -z "$failed" ]
check "system state 'running'" [ "$(inside systemctl is-system-running)" = running ]

stop_container
echo "$ME: done in $((($(date +%s%N) - t0) / 1000000)) ms"
[ $bad = 0 ]
