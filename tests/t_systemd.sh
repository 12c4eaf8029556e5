#!/bin/bash
# t_systemd.sh: smtpd under a real systemd (PID 1 in systemd-nspawn, made
# from this machine's /usr), with the units exactly as `make install
# DESTDIR=...` ships them, the shipped hardened smtpd@.service included.
# In the container's private network: an IPv4 and an IPv6 client get their
# mail spooled, a NUL-bearing message is refused, the journal holds smtpd's
# lines with their priorities, a burst of 200 connections leaves
# smtpd.socket active, no smtpd exits non-zero and no unit is left failed.
#
#   tests/t_systemd.sh             the test (SMTPD, SRCDIR as make check sets)
#   tests/t_systemd.sh --measure   ms per connection for each hardening
#                                  directive (see smtpd.8, SUPERVISORS)
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
trap 'stop_container; rm -rf "$W"' EXIT

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
if [ "$VARIANT" = asan ]; then
	# The sanitizers' options reach smtpd only through the unit; they
	# report on stderr, which is the journal.  Shadow memory needs no more
	# than the unit allows (it sets no memory limit).
	mkdir -p "$E/smtpd@.service.d"
	printf '[Service]\nEnvironment="ASAN_OPTIONS=%s" "UBSAN_OPTIONS=%s"\n' \
		"${ASAN_OPTIONS:-detect_leaks=1}" "${UBSAN_OPTIONS:-print_stacktrace=1}" \
		>"$E/smtpd@.service.d/sanitizers.conf"
fi

# --measure: one socket and one service template per hardening variant,
# each the shipped unit less some directives, on ports 2601...
VARIANTS=(
	"shipped unit|"
	"bare: socket, journal, User=smtpd|@BARE@"
	"no ProtectKernelTunables|ProtectKernelTunables"
	"no ProtectKernelModules|ProtectKernelModules"
	"no ProtectKernelLogs|ProtectKernelLogs"
	"no ProtectControlGroups|ProtectControlGroups"
	"no ProtectProc, ProcSubset|ProtectProc|ProcSubset"
	"no PrivateTmp|PrivateTmp"
	"no PrivateDevices|PrivateDevices"
	"no ProtectHome|ProtectHome"
	"no ProtectSystem, ReadWritePaths|ProtectSystem|ReadWritePaths"
	"no PrivateNetwork|PrivateNetwork"
	"no PrivateUsers|PrivateUsers"
	"no PrivateIPC|PrivateIPC"
	"no ProtectHostname|ProtectHostname"
	"no SystemCallFilter|SystemCallFilter|SystemCallArchitectures|SystemCallErrorNumber"
	"no IPAddressDeny|IPAddressDeny"
	"no mount namespace at all|ProtectSystem|ReadWritePaths|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectProc|ProcSubset"
)
if [ $MEASURE = 1 ]; then
	unit=$W/root/usr/lib/systemd/system
	for i in "${!VARIANTS[@]}"; do
		drop=${VARIANTS[$i]#*|}
		port=$((2601 + i))
		sed "s/^ListenStream=25$/ListenStream=$port/" "$unit/smtpd.socket" >"$E/m$i.socket"
		if [ "$drop" = @BARE@ ]; then
			printf '[Unit]\nCollectMode=inactive-or-failed\n[Service]\nExecStart=/usr/sbin/smtpd\nStandardInput=socket\nStandardOutput=socket\nStandardError=journal\nSyslogIdentifier=smtpd\nUser=smtpd\nGroup=smtpd\n' >"$E/m$i@.service"
		elif [ -z "$drop" ]; then
			cp "$unit/smtpd@.service" "$E/m$i@.service"
		else
			grep -Ev "^($drop)=" "$unit/smtpd@.service" >"$E/m$i@.service"
		fi
		ln -s "../m$i.socket" "$E/sockets.target.wants/m$i.socket"
	done
fi

# ---- boot ------------------------------------------------------------------
# Flags, each needed (see shared notes): --register=no --keep-unit (no host
# systemd), --console=pipe (no tty), CAP_BPF and bpf() so that IPAddressDeny=
# is really enforced, a unified cgroup tree, a private network with its own
# loopback where port 25 is free.
t0=$(date +%s%N)
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q -D / --volatile=yes \
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
	# Sequential greeting + QUIT, interleaved rounds so that drift hits
	# every variant alike; the median round is reported.
	innet python3 - "${#VARIANTS[@]}" <<'PY' >"$W/measure.txt" || die "measurement failed"
import socket, sys, time, statistics
n = int(sys.argv[1]); rounds, per = 7, 15
def session(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    buf = b""
    while not buf.endswith(b"\r\n"):
        d = s.recv(512)
        if not d: raise SystemExit("no greeting on port %d" % port)
        buf += d
    s.sendall(b"QUIT\r\n")
    while s.recv(512): pass
    s.close()
res = {i: [] for i in range(n)}
for i in range(n): session(2601 + i)          # warm up
for r in range(rounds):
    for i in range(n):
        t = time.perf_counter()
        for _ in range(per): session(2601 + i)
        res[i].append((time.perf_counter() - t) * 1000 / per)
for i in range(n):
    print(i, "%.1f" % statistics.median(res[i]), "%.1f" % min(res[i]))
PY
	printf '%-58s %8s %8s\n' "unit" "median" "best"
	while read -r i med best; do
		printf '%-58s %5s ms %5s ms\n' "${VARIANTS[$i]%%|*}" "$med" "$best"
	done <"$W/measure.txt"
	exit 0
fi

# ---- the test ----------------------------------------------------------------
# Client: IPv4 and IPv6 messages, a message with a NUL byte, then a burst of
# 200 connections opened at once, then one more session.  It prints what
# the shell checks below need.
innet python3 - <<'PY' >"$W/client.out" 2>"$W/client.err"
import smtplib, socket, sys, time
def host_of(s):
    code, msg = s.connect_reply
    return msg.split()[0].decode()
class Client(smtplib.SMTP):
    def connect(self, host, port=0, source_address=None):
        self.connect_reply = smtplib.SMTP.connect(self, host, port, source_address)
        return self.connect_reply
def send(addr, tag, body):
    s = Client(addr, 25, local_hostname="client.example", timeout=10)
    host = host_of(s)
    s.ehlo("client.example")
    assert s.mail("sender@client.example")[0] == 250
    rcpt = "user@" + host
    assert s.rcpt(rcpt)[0] == 250
    code, msg = s.data(body)
    s.quit()
    print(tag, code, msg.decode(), rcpt, host)
send("127.0.0.1", "v4", b"Subject: over IPv4\r\n\r\nline one\r\n.dot\r\n")
send("::1", "v6", b"Subject: over IPv6\r\n\r\nline two\r\n")
try:
    send("127.0.0.1", "nul", b"Subject: nul\r\n\r\na\x00b\r\n")
except smtplib.SMTPDataError as e:
    print("nul", e.smtp_code, e.smtp_error.decode())
# The burst: 200 connects before any is served.  Past MaxConnections* the
# socket unit drops them at once (EOF, no greeting).
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

field() { awk -v t="$1" -v n="$2" '$1 == t { print $n }' "$W/client.out"; }
host=$(field v4 9)
# "v4 250 2.0.0 OK: queued as ID rcpt host"
id4=$(field v4 7) id6=$(field v6 7)
rcpt=$(field v4 8)
check "IPv4 message queued" [ "$(field v4 2)" = 250 ]
check "IPv6 message queued" [ "$(field v6 2)" = 250 ]
check "NUL message refused with 554 5.6.0" [ "$(field nul 2) $(field nul 3)" = "554 5.6.0" ]

spooled() {	# id tag peer subject body...: the exact file in new/
	local id=$1 tag=$2 peer=$3; shift 3
	local f got want
	f=$(inside sh -c "ls /var/spool/smtpd/new/ | grep '^$id\\.'") || return 1
	got=$(inside cat "/var/spool/smtpd/new/$f") || return 1
	local date
	date=$(printf '%s\n' "$got" | sed -n 's/^Received: .*; //p')
	want=$(printf 'Return-Path: <sender@client.example>\nX-Original-To: <%s>\nReceived: from client.example (%s) by %s with ESMTP id %s for <%s>; %s\n' \
		"$rcpt" "$peer" "$host" "$id" "$rcpt" "$date"; printf '%s\n' "$@")
	[ "$got" = "$want" ] || { echo "--- $tag: got"; printf '%s\n' "$got"; echo "--- wanted"; printf '%s\n' "$want"; return 1; }
	[ -n "$date" ]
}
check "IPv4 message spooled, peer [127.0.0.1]" \
	spooled "$id4" v4 "[127.0.0.1]" "Subject: over IPv4" "" "line one" ".dot"
check "IPv6 message spooled, peer [IPv6:::1]" \
	spooled "$id6" v6 "[IPv6:::1]" "Subject: over IPv6" "" "line two"
check "nothing left in tmp/, one file per accepted message" \
	[ "$(inside sh -c 'ls /var/spool/smtpd/tmp | wc -l; ls /var/spool/smtpd/new | wc -l' | tr '\n' ' ')" = "0 2 " ]
check "spool files belong to smtpd, mode 0600" \
	[ "$(inside sh -c 'stat -c "%U %a" /var/spool/smtpd/new/*' | sort -u)" = "smtpd 600" ]

# The journal: lines by priority, as `journalctl -p` selects them.
J() { inside journalctl -q --no-pager -t smtpd -o cat "$@"; }
has() { grep -qF -- "$1"; }
check "journal: 'connect from [127.0.0.1]' at info" has "connect from [127.0.0.1]" < <(J -p info..info)
check "journal: 'connect from [IPv6:::1]' at info" has "connect from [IPv6:::1]" < <(J -p info..info)
check "journal: 'accepted id=$id4' at info" has "accepted id=$id4 " < <(J -p info..info)
check "journal: refused message at notice" has "reply=554" < <(J -p notice..notice)
check "journal: no info line at notice or above" \
	sh -c '! grep -q "accepted id=\|connect from"' < <(J -p notice)
check "journal: no raw <N> prefix left in a message" sh -c '! grep -q "^<[0-7]>"' < <(J)
check "journal: lines come from smtpd@ instances" \
	has "smtpd@" < <(inside journalctl -q --no-pager -t smtpd -o json --output-fields=_SYSTEMD_UNIT)
if [ "$VARIANT" = asan ]; then
	check "journal: no sanitizer report" \
		sh -c '! grep -q "AddressSanitizer\|runtime error\|LeakSanitizer"' < <(J)
fi

# The burst, then the socket must still serve.
read -r _ nconn greeted dropped < <(grep '^burst ' "$W/client.out")
check "burst: 200 connections made" [ "${nconn:-0}" = 200 ]
check "burst: some served (${greeted:-0}), the rest dropped (${dropped:-0})" \
	[ "${greeted:-0}" -ge 8 -a $((${greeted:-0} + ${dropped:-0})) = 200 ]
# Wait (bounded) for the instances to be gone, then look.
for _ in $(seq 1 100); do
	[ -z "$(inside systemctl list-units --no-legend --plain 'smtpd@*')" ] && break
	sleep 0.1
done
check "smtpd.socket still active after the burst" \
	[ "$(inside systemctl is-active smtpd.socket)" = active ]
check "a session after the burst is served" innet python3 -c '
import smtplib
s = smtplib.SMTP("127.0.0.1", 25, local_hostname="after.example", timeout=10)
assert s.noop()[0] == 250
s.quit()'
check "no smtpd exited non-zero" \
	sh -c '! grep -E "smtpd@.*(status=|Failed with result)"' \
	< <(inside journalctl -q --no-pager -o cat _PID=1)
failed=$(inside systemctl --failed --no-legend --plain)
check "no failed unit${failed:+: $failed}" [ -z "$failed" ]
check "system state 'running'" [ "$(inside systemctl is-system-running)" = running ]

stop_container
echo "$ME: done in $((($(date +%s%N) - t0) / 1000000)) ms"
[ $bad = 0 ]
