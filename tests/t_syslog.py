#!/usr/bin/env python3
"""t_syslog.py: the log when standard error is the client's socket (inetd,
xinetd, systemd without StandardError=), so that lines go to /dev/log.

smtpd writes to /dev/log itself.  This test checks, against "syslog
daemons" of its own on a private /dev/log (a mount namespace):
  - the lines are syslog(3)'s: "<22>Mmm dd hh:mm:ss smtpd[pid]: text",
    facility mail, local time, one datagram each with no newline;
  - a daemon that stops reading costs a session one wait of about a
    second, not its timeouts: the 250 and the 221 still come, SIGTERM
    still ends an idle session with 421, and a lost line is reported in
    the next one that gets through;
  - no /dev/log at all: the session is unaffected;
  - a daemon restarted during a session (its socket made anew), or one
    that appears during it, datagram or stream, gets the later lines;
  - a bad option under inetd: the client gets its 421 and the complaint
    goes to syslog, without waiting for a daemon that does not read;
  - a /dev/log of stream type gets each line ended by a NUL.
"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

ME = "t_syslog.py"
SMTPD = os.environ.get("SMTPD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "smtpd")
HOST = "mx.test.example"
HEADER = re.compile(rb"^<(\d+)>([A-Z][a-z]{2}) ([ 123]\d) (\d\d):(\d\d):(\d\d) smtpd\[(\d+)\]: (.*)$", re.S)

if os.environ.get("SMTPD_IN_NS") != "1":
    if os.geteuid() != 0:
        print("SKIP: %s: needs root (a mount namespace for /dev/log)" % ME)
        sys.exit(77)
    try:
        subprocess.run(["unshare", "--mount", "true"], check=True,
                       stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        print("SKIP: %s: unshare --mount does not work here" % ME)
        sys.exit(77)
    env = dict(os.environ, SMTPD_IN_NS="1", SMTPD=os.path.abspath(SMTPD))
    os.execvpe("unshare", ["unshare", "--mount", "--pid", "--fork", "--mount-proc",
                           sys.executable, os.path.abspath(__file__)], env)

# ---- inside: a private /dev ------------------------------------------------------
def sh(*cmd):
    subprocess.run(cmd, check=True)

sh("mount", "--make-rprivate", "/")
sh("mount", "-t", "tmpfs", "-o", "mode=755", "smtpd-test-dev", "/dev")
for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
    os.mknod("/dev/" + name, 0o20666, os.makedev(1, minor))
    os.chmod("/dev/" + name, 0o666)
os.symlink("/proc/self/fd", "/dev/fd")

W = tempfile.mkdtemp(prefix="smtpd-syslog.")
SPOOL = os.path.join(W, "spool")
ENV = dict(os.environ)
if os.environ.get("SMTPD_VARIANT") == "asan":
    # stderr is the client: sanitizer reports go to files, which must stay absent.
    os.mkdir(os.path.join(W, "asan"))
    ENV["ASAN_OPTIONS"] = ENV.get("ASAN_OPTIONS", "detect_leaks=1") + \
        ":log_path=" + os.path.join(W, "asan", "asan")
    ENV["UBSAN_OPTIONS"] = ENV.get("UBSAN_OPTIONS", "print_stacktrace=1") + \
        ":log_path=" + os.path.join(W, "asan", "ubsan")

failures = 0
checks = 0


def check(ok, what, detail=""):
    global failures, checks
    checks += 1
    if ok:
        print("ok: " + what)
    else:
        failures += 1
        print("FAIL: %s%s" % (what, (": " + detail) if detail else ""))


def daemon(kind=socket.SOCK_DGRAM):
    """A /dev/log of our own, made anew."""
    try:
        os.unlink("/dev/log")
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind("/dev/log")
    if kind == socket.SOCK_STREAM:
        s.listen(8)
    return s


def fill(s):
    """Fill a datagram daemon's queue, as one that has stopped reading."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.connect("/dev/log")
    c.setblocking(False)
    n = 0
    try:
        while True:
            c.send(b"<14>filler")
            n += 1
    except BlockingIOError:
        pass
    c.close()
    return n


def from_stream(log):
    """All a stream daemon got from the one session that connected."""
    conn, _ = log.accept()
    conn.settimeout(5)
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    return data


def drain(s):
    got = []
    s.setblocking(False)
    try:
        while True:
            got.append(s.recv(65536))
    except BlockingIOError:
        pass
    s.setblocking(True)
    return got


class Session:
    """smtpd as inetd runs it: one socket as stdin, stdout and stderr."""

    def __init__(self, *args):
        server, self.c = socket.socketpair()
        self.p = subprocess.Popen([SMTPD, "--spool", SPOOL, "--hostname", HOST] + list(args),
                                  stdin=server, stdout=server, stderr=server,
                                  close_fds=True, env=ENV)
        server.close()
        self.buf = b""

    def reply(self, timeout=10):
        """The next reply's code and the seconds it took, (None, t) on EOF or timeout."""
        t0 = time.monotonic()
        while True:
            m = re.match(rb"((?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\n)", self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return int(m.group(1).splitlines()[-1][:3]), time.monotonic() - t0
            left = timeout - (time.monotonic() - t0)
            if left <= 0 or not select.select([self.c], [], [], left)[0]:
                return None, time.monotonic() - t0
            data = self.c.recv(65536)
            if not data:
                return None, time.monotonic() - t0
            self.buf += data

    def send(self, text):
        self.c.sendall(text.encode())

    def wait(self, timeout=10):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None


def transaction(s, tag):
    """EHLO to QUIT with one message; the codes and the slowest reply's time."""
    codes, slowest = [], 0.0
    for cmd in (None, "EHLO client.example\r\n", "MAIL FROM:<a@client.example>\r\n",
                "RCPT TO:<b@" + HOST + ">\r\n", "DATA\r\n",
                "Subject: %s\r\n\r\nbody\r\n.\r\n" % tag, "QUIT\r\n"):
        if cmd is not None:
            s.send(cmd)
        code, took = s.reply()
        codes.append(code)
        slowest = max(slowest, took)
    return codes, slowest


OK_CODES = [220, 250, 250, 250, 354, 250, 221]


def spooled(tag):
    new = os.path.join(SPOOL, "new")
    for name in os.listdir(new):
        with open(os.path.join(new, name), "rb") as f:
            if ("Subject: %s\n" % tag).encode() in f.read():
                return True
    return False


os.makedirs(SPOOL)

# ---- the lines: syslog(3)'s form, one datagram each ------------------------------
log = daemon()
s = Session()
codes, _ = transaction(s, "format")
status = s.wait()
check(codes == OK_CODES and status == 0 and spooled("format"),
      "a session with /dev/log: 250 and 221, exit 0, the message in new/",
      "codes %r, status %r" % (codes, status))
lines = drain(log)
parsed = [HEADER.match(l) for l in lines]
check(len(lines) >= 3 and all(parsed),
      "every datagram is '<PRI>Mmm dd hh:mm:ss smtpd[pid]: text'", repr(lines))
if all(parsed) and parsed:
    check(all(m.group(7) == str(s.p.pid).encode() for m in parsed),
          "the pid in smtpd[pid] is the session's")
    check(all(not l.endswith(b"\n") and b"\0" not in l for l in lines),
          "no newline or NUL at a datagram's end")
    texts = [m.group(8) for m in parsed]
    check(parsed[0].group(1) == b"22" and texts[0].startswith(b"connect from "),
          "the first line is 'connect from' at mail.info (<22>)", repr(lines[0]))
    check(any(m.group(1) == b"22" and m.group(8).startswith(b"accepted id=") for m in parsed),
          "the message is logged at mail.info", repr(texts))
    check(texts[-1].startswith(b"disconnect from "), "the last line is 'disconnect from'",
          repr(texts[-1]))
    now = time.localtime()
    m = parsed[0]
    stamp = time.strptime("%d %s %d %s:%s:%s" % (now.tm_year, m.group(2).decode(),
                          int(m.group(3)), m.group(4).decode(), m.group(5).decode(),
                          m.group(6).decode()), "%Y %b %d %H:%M:%S")
    skew = abs(time.mktime(stamp) - time.time())
    check(skew < 120, "the timestamp is the local time now", "off by %.0f s" % skew)
log.close()

# ---- a daemon that has stopped reading ----------------------------------------
log = daemon()
queued = fill(log)
s = Session("--timeout", "5", "--session-timeout", "20")
t0 = time.monotonic()
codes, slowest = transaction(s, "stalled")
took = time.monotonic() - t0
status = s.wait()
check(codes == OK_CODES and status == 0 and spooled("stalled"),
      "syslog not reading (%d datagrams queued): 250 and 221 all the same" % queued,
      "codes %r, status %r" % (codes, status))
check(took < 1.7, "... and the session waits for the log once (%.1f s in all)" % took,
      "slowest reply %.1f s" % slowest)

s = Session("--timeout", "30")
code, _ = s.reply()
s.p.send_signal(signal.SIGTERM)
code2, took = s.reply(timeout=10)
status = s.wait(timeout=10)
check(code == 220 and code2 == 421 and status == 0 and took < 4,
      "... and SIGTERM ends an idle session with 421 (%.1f s)" % took,
      "greeting %r, then %r, status %r" % (code, code2, status))

# The connect line is lost; once the daemon reads again, the next line that
# gets through says so.
drain(log)
queued = fill(log)
s = Session()
code, _ = s.reply()
time.sleep(1.5)     # past the one wait: "connect from" is given up
drain(log)
s.send("QUIT\r\n")
code2, _ = s.reply()
status = s.wait()
time.sleep(0.1)
texts = [HEADER.match(l) for l in drain(log)]
lost = [m for m in texts if m and m.group(8).endswith(
    b"earlier log line(s) lost: the log was full or not read")]
check(code == 220 and code2 == 221 and status == 0 and len(lost) == 1 and
      lost[0].group(1) == b"20" and lost[0].group(8).startswith(b"1 "),
      "a line lost to a full /dev/log is reported in the next one, at mail.warning (<20>)",
      repr([m.group(0) for m in texts if m]))
log.close()

# ---- no /dev/log -----------------------------------------------------------------
os.unlink("/dev/log")
s = Session()
codes, slowest = transaction(s, "nolog")
status = s.wait()
check(codes == OK_CODES and status == 0 and spooled("nolog") and slowest < 2,
      "no /dev/log: the session is unaffected", "codes %r, status %r" % (codes, status))

# ---- a daemon that appears during a session, of either type --------------------------
for kind, name in ((socket.SOCK_DGRAM, "datagram"), (socket.SOCK_STREAM, "stream")):
    s = Session()
    code, _ = s.reply()
    log = daemon(kind)  # "connect from" has been lost by now
    s.send("QUIT\r\n")
    code2, _ = s.reply()
    status = s.wait()
    if kind == socket.SOCK_STREAM:
        records = from_stream(log).split(b"\0")
        whole = records[-1] == b""
        records = records[:-1]
    else:
        time.sleep(0.1)
        records = drain(log)
        whole = True
    parsed = [HEADER.match(r) for r in records]
    texts = [m.group(8) for m in parsed if m]
    check(code == 220 and code2 == 221 and status == 0 and whole and all(parsed) and
          len(texts) == 2 and texts[0].startswith(b"1 earlier log line(s) lost") and
          texts[1].startswith(b"disconnect from "),
          "a %s /dev/log made during the session: the loss, then the later lines, each whole" % name,
          repr(records))
    log.close()
    os.unlink("/dev/log")

# ---- a bad option under inetd: the 421, and the complaint in syslog ------------------
for stalled in (False, True):
    log = daemon()
    if stalled:
        fill(log)
    server, client = socket.socketpair()
    t0 = time.monotonic()
    p = subprocess.Popen([SMTPD, "--no-such-option"], stdin=server, stdout=server,
                         stderr=server, close_fds=True, env=ENV)
    server.close()
    client.settimeout(10)
    got = b""
    try:
        while True:
            data = client.recv(4096)
            if not data:
                break
            got += data
    except socket.timeout:
        pass
    try:
        status = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        status = None
    took = time.monotonic() - t0
    client.close()
    reply_ok = got == b"421 Service not available, closing transmission channel\r\n" and status == 2
    if stalled:
        check(reply_ok and took < 2.5,
              "a bad option with syslog not reading: 421 and exit 2 all the same (%.1f s)" % took,
              "got %r, status %r" % (got, status))
    else:
        time.sleep(0.1)
        lines = [HEADER.match(l) for l in drain(log)]
        check(reply_ok and len(lines) == 1 and lines[0] and lines[0].group(1) == b"19" and
              b"--no-such-option" in lines[0].group(8),
              "a bad option under inetd: 421, exit 2, the complaint at mail.err (<19>)",
              "got %r, status %r, log %r" % (got, status, [m and m.group(0) for m in lines]))
    log.close()
    os.unlink("/dev/log")

# ---- a daemon restarted in the middle of a session ----------------------------------
log = daemon()
s = Session()
code, _ = s.reply()
first = drain(log)
log.close()
log = daemon()      # a new socket at the same path, as a restarted syslogd makes
s.send("QUIT\r\n")
code2, _ = s.reply()
status = s.wait()
time.sleep(0.1)
second = [HEADER.match(l) for l in drain(log)]
check(code == 220 and code2 == 221 and status == 0 and
      len(first) == 1 and first[0].find(b"connect from") > 0 and
      any(m and m.group(8).startswith(b"disconnect from") for m in second) and
      not any(m and b"lost" in m.group(8) for m in second),
      "syslog restarted mid-session: the later lines reach the new daemon, none lost",
      "first %r, then %r" % (first, [m.group(0) for m in second if m]))
log.close()

# ---- a /dev/log of stream type --------------------------------------------------------
log = daemon(socket.SOCK_STREAM)
s = Session()
codes, _ = transaction(s, "stream")
status = s.wait()
data = from_stream(log)
log.close()
records = data.split(b"\0")
check(codes == OK_CODES and status == 0 and data.endswith(b"\0") and
      len(records) >= 4 and all(HEADER.match(r) for r in records[:-1]) and
      records[-1] == b"",
      "a stream /dev/log: the same lines, each ended by a NUL", repr(data[:300]))

if os.environ.get("SMTPD_VARIANT") == "asan":
    reports = os.listdir(os.path.join(W, "asan"))
    check(not reports, "no sanitizer reports", repr(reports))

subprocess.run(["rm", "-rf", W])
print("%s: %d checks, %d failures" % (ME, checks, failures))
sys.exit(1 if failures else 0)
