#!/bin/bash
# t_diskfull.sh: a real full filesystem, end to end.  In a private mount
# namespace (unshare -m, as root) a 1 MiB tmpfs becomes the spool:
#  - a 2 MiB message gets 452 4.3.1, leaves nothing in tmp/ or new/, and
#    gives its space back; the next small message is stored intact;
#  - --min-free above the free space refuses MAIL with 452 4.3.1, and the
#    default floor (3 x --max-size) does too on so small a disk; a floor
#    below the free space lets MAIL through.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRCDIR/smtpd}
export SMTPD SRCDIR

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root to mount a tmpfs in a private mount namespace"
	exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 is not installed"
	exit 77
fi
if ! unshare -m --propagation private true 2>/dev/null; then
	echo "SKIP: unshare -m is not permitted here (no CAP_SYS_ADMIN?)"
	exit 77
fi
mnt=$(mktemp -d /tmp/smtpd-diskfull.XXXXXX) || exit 1
trap 'rmdir "$mnt"' EXIT

# The mount lives only in the new namespace: it goes when the test ends.
unshare -m --propagation private /bin/bash -c '
	set -e
	mount -t tmpfs -o size=1m,mode=0700 smtpd-test "$1"
	python3 - "$1"
' diskfull "$mnt" <<'EOF'
import os
import re
import sys

sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "fault"))
import smtpclient as sc  # noqa: E402

root = sys.argv[1]


def free_bytes():
    v = os.statvfs(root)
    return v.f_bavail * v.f_frsize


def new_spool(name):
    d = os.path.join(root, name)
    for sub in ("", "tmp", "new", "cur"):
        os.mkdir(os.path.join(d, sub))
    return d


LINE = b"0123456789 a line of a message too large for the disk it goes to\r\n"
BIG = b"Subject: too big\r\n\r\n" + LINE * (2 * 1024 * 1024 // len(LINE))
SMALL = b"Subject: small\r\n\r\nThis one fits.\r\n"

# 1. A message larger than the disk.
spool = new_spool("full")
before = free_bytes()
sc.check(before < len(BIG), "the tmpfs has %d bytes free: not smaller than the message" % before)
s = sc.Smtpd(spool, args=["--min-free", "0"])
try:
    sc.greet(s, what="full")
    sc.envelope(s, what="full")
    s.send(BIG + b".\r\n")
    s.expect(452, "a message larger than the disk", text="452 4.3.1 Insufficient system storage")
    sc.check(sc.files(spool, "tmp") == [], "tmp/ after 452: %s" % sc.files(spool, "tmp"))
    sc.check(sc.files(spool, "new") == [], "new/ after 452: %s" % sc.files(spool, "new"))
    # The space of the removed file is free again (a few pages of slack).
    sc.check(free_bytes() >= before - 16384,
             "space not given back: %d free before, %d after" % (before, free_bytes()))
    sc.envelope(s, what="after full")
    s.send(SMALL + b".\r\n")
    s.expect(250, "the next small message", text="queued as")
    s.send("QUIT\r\n")
    s.expect(221, "QUIT")
except sc.Failure as e:
    sc.check(False, "full: %s" % e)
s.close()
sc.check(s.wait() == 0, "full: exit status %s; %s" % (s.status, s.stderr()[-400:]))
# The log says why, for the operator: the step and the error.
log = s.stderr()
sc.check(re.search(r"refused id=\S+ size=\d+ rcpts=1 from=<a@client\.example> reply=452: "
                   r"write: No space left on device\n", log) is not None,
         "full: the log does not give the reason: %r" % log[-400:])
sc.check(sc.files(spool, "tmp") == [], "tmp/ at the end")
names = sc.files(spool, "new")
if sc.check(len(names) == 1, "new/ holds %d files, not 1" % len(names)):
    data = sc.read_file(spool, "new", names[0])
    sc.check(sc.body_of(data) == b"Subject: small\n\nThis one fits.\n",
             "stored small message: %r" % data)
    sc.check(data.startswith(b"Return-Path: <a@client.example>\nX-Original-To: <bob@example.org>\n"),
             "envelope of the small message: %r" % data[:120])


# 2. --min-free.
def mail_reply(args, what):
    spool = new_spool("minfree-%d" % len(os.listdir(root)))
    s = sc.Smtpd(spool, args=args)
    got = None
    try:
        sc.greet(s, what=what)
        s.send("MAIL FROM:<a@client.example>\r\n")
        got, lines = s.reply()
        if got == 452:
            sc.check(lines == ["452 4.3.1 Insufficient system storage; try again later"],
                     "%s: %r" % (what, lines))
            s.send("RCPT TO:<bob@example.org>\r\n")
            s.expect(503, what + ": RCPT after a refused MAIL")
        s.send("QUIT\r\n")
        s.expect(221, what + ": QUIT")
    except sc.Failure as e:
        sc.check(False, "%s: %s" % (what, e))
    s.close()
    sc.check(s.wait() == 0, "%s: exit status %s" % (what, s.status))
    sc.check(sc.files(spool, "tmp") == [] and sc.files(spool, "new") == [],
             what + ": files left")
    return got


free = free_bytes()
sc.check(mail_reply(["--min-free", str(free + 65536)], "floor above free") == 452,
         "--min-free above the free space did not refuse MAIL with 452")
sc.check(mail_reply(["--min-free", str(free // 4)], "floor below free") == 250,
         "--min-free below the free space refused MAIL")
sc.check(mail_reply([], "default floor, 10 MB messages") == 452,
         "the default floor (3 x 10485760) did not refuse MAIL on a 1 MiB disk")
sc.check(mail_reply(["--max-size", str(free // 8)], "default floor, small messages") == 250,
         "the default floor (3 x --max-size) refused MAIL though it fits")
sc.finish("t_diskfull")
EOF
