#!/bin/bash
# t_load.sh: 200 sessions at once under a real supervisor (tcpserver, from
# ucspi-tcp) on loopback in a private network namespace, 10,000 messages in
# all: every 250 matches exactly one file with the right bytes, names are
# unique, nothing is left in tmp/.  The client is tests/fault/load.py.
# T_LOAD_SESSIONS and T_LOAD_MESSAGES (per session) change the figures.
# The spool is a tmpfs mounted in a private mount namespace, so that the
# test measures smtpd and its supervisor, not the disk (and leaves no
# 10,000 files to delete: on a disk mounted with "discard" that alone takes
# half a minute); T_LOAD_DISK=1 spools to the disk under /tmp instead.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRCDIR/smtpd}
export SMTPD SRCDIR
sessions=${T_LOAD_SESSIONS:-200}
per=${T_LOAD_MESSAGES:-50}

for tool in python3 tcpserver unshare ip; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool is not installed (packages: python3 ucspi-tcp util-linux iproute2)"
		exit 77
	fi
done
if ! unshare --net --mount --propagation private true 2>/dev/null; then
	echo "SKIP: unshare --net --mount is not permitted here (not root?)"
	exit 77
fi
work=$(mktemp -d /tmp/smtpd-load.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/spool"

# Everything below runs in a network namespace of its own, where only
# this test's loopback exists; tcpserver is stopped by its pid at the end.
unshare --net --mount --propagation private /bin/bash -s "$work" "$sessions" "$per" <<'EOF'
set -u
work=$1 sessions=$2 per=$3
ip link set lo up || exit 1
if [ "${T_LOAD_DISK:-0}" != 1 ]; then
	mount -t tmpfs -o size=2g,mode=0700 smtpd-load "$work/spool" || exit 1
fi
mkdir -p "$work/spool/tmp" "$work/spool/new" "$work/spool/cur"
port=2525
# -c: more than the sessions, so that none waits; -b: a backlog for them
# all; -H -R -l0: no DNS or ident lookups.
tcpserver -c $((sessions + 20)) -b $((sessions + 20)) -H -R -l0 127.0.0.1 $port \
	"$SMTPD" --spool "$work/spool" --hostname mx.test --domain example.org \
	</dev/null 2>"$work/smtpd.log" &
server=$!
# Ready when it accepts a connection (python3 retries, no fixed sleep).
python3 - "$port" <<'PY' || { kill $server; echo "t_load: tcpserver never listened"; exit 1; }
import socket, sys, time
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
        s.recv(100)
        s.sendall(b"QUIT\r\n")
        s.recv(100)
        s.close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
PY
python3 "$SRCDIR/tests/fault/load.py" $port "$work/spool" "$sessions" "$per" </dev/null
rc=$?
kill $server
wait $server 2>/dev/null
if [ $rc != 0 ]; then
	echo "--- last lines of the smtpd log:"
	tail -5 "$work/smtpd.log"
fi
exit $rc
EOF
