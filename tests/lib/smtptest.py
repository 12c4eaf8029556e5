"""smtptest: drive the real smtpd binary from integration tests.

Owns what the tests/t_*.py scripts share: where the binary is ($SMTPD,
else ./smtpd), a throw-away spool (Spool), one smtpd process with its
conversation on a pipe, a socket pair, any connected socket or a
pseudo-terminal (Smtpd), reading whole SMTP replies, and the exact forms of
the spooled file's envelope lines.

Every wait is bounded (WAIT seconds) and there are no sleeps for
readiness: a test knows smtpd is ready when it has read the 220 greeting.
Python 3.11 standard library only.
"""
import email.utils
import errno
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

SMTPD = os.path.abspath(os.environ.get("SMTPD") or "./smtpd")
HOST = "mx.test"
DOMAIN = "example.org"
BASE_ARGS = ("--hostname", HOST, "--domain", DOMAIN)

# Upper bound of any single wait.  Generous because the ASan build and a
# loaded CI machine are slow; a passing test never waits this long.
WAIT = 30.0

# A queue id as store.c makes it: seconds, M microseconds, P pid, Q counter.
QUEUE_ID = r"[0-9]+\.M[0-9]{6}P[0-9]+Q[0-9]+"

# Variables from the environment of `make check` that would change what
# smtpd does: none of them may leak into a test unless the test sets it.
_SCRUB = ("REMOTE_ADDR", "TCPREMOTEIP", "REMOTE_HOST", "STATE_DIRECTORY",
          "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(extra)
    return env


def queued_reply(enhanced=True):
    """Pattern of the reply to a message's end; group 1 is the id."""
    esc = r"2\.0\.0 " if enhanced else ""
    return re.compile(r"250 " + esc + r"OK: queued as (" + QUEUE_ID + r")\r\n\Z")


class Spool:
    """A spool directory (not yet created: smtpd makes it) in a temp dir."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="smtpd-test-")
        self.dir = os.path.join(self.base, "spool")

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def names(self, sub):
        try:
            return sorted(os.listdir(os.path.join(self.dir, sub)))
        except FileNotFoundError:
            return []

    def read(self, name, sub="new"):
        with open(os.path.join(self.dir, sub, name), "rb") as f:
            return f.read()

    def messages(self):
        """Every file in new/ as (name, bytes), in delivery order."""
        def counter(name):
            m = re.match(r"([0-9]+)\.M([0-9]+)P[0-9]+Q([0-9]+)\.", name)
            return (int(m.group(3)), int(m.group(1)), int(m.group(2))) if m else (0, 0, 0)
        return [(n, self.read(n)) for n in sorted(self.names("new"), key=counter)]


class Smtpd:
    """One smtpd process.  The test talks to it through rfd/wfd (its end of
    the conversation); smtpd's stderr goes to a file read by log()."""

    def __init__(self, spool, args=(), transport="pipe", sock=None,
                 client=None, env=None, stderr_is_conversation=False,
                 base_args=BASE_ARGS):
        self.spool = spool
        self.buf = b""
        self.sock = None
        self.master = None
        self.eof = False
        self.errfile = tempfile.TemporaryFile(prefix="smtpd-log-")
        argv = [SMTPD, "--spool", spool.dir, *base_args, *args]
        child_fds = []
        if transport == "pipe":
            c_in, self.wfd = os.pipe()
            self.rfd, c_out = os.pipe()
            child_fds = [c_in, c_out]
            stdin, stdout = c_in, c_out
        elif transport == "socketpair":
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock = ours
            child_fds = [theirs]
            stdin = stdout = theirs.fileno()
        elif transport == "socket":
            # An accepted connection (sock), as inetd or tcpserver would
            # pass it; client is the test's end of it.
            self.sock = client
            child_fds = [sock]
            stdin = stdout = sock.fileno()
        elif transport == "pty":
            self.master, slave = os.openpty()
            import termios
            attr = termios.tcgetattr(slave)
            attr[1] &= ~termios.OPOST          # oflag: replies byte for byte
            attr[3] &= ~(termios.ECHO | termios.ECHONL)  # lflag: no echo
            termios.tcsetattr(slave, termios.TCSANOW, attr)
            child_fds = [slave]
            stdin = stdout = slave
            self.rfd = self.wfd = self.master
        else:
            raise ValueError(transport)
        if self.sock is not None:
            self.rfd = self.wfd = self.sock.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        if stderr_is_conversation:
            stderr = stdout      # inetd, xinetd: fd 2 is the client too
        else:
            stderr = self.errfile
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout,
                                     stderr=stderr, env=env or clean_env(),
                                     start_new_session=True)
        for fd in child_fds:
            if isinstance(fd, socket.socket):
                fd.close()
            else:
                os.close(fd)
        self.pid = self.proc.pid

    # ---- the conversation ----

    def send(self, data):
        """Write all of data, failing if smtpd stops reading for WAIT s."""
        view = memoryview(data)
        deadline = time.monotonic() + WAIT
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("smtpd stopped reading input")
            _, w, _ = select.select([], [self.wfd], [], left)
            if not w:
                continue
            try:
                n = os.write(self.wfd, view[:1 << 16])
            except BlockingIOError:
                continue
            view = view[n:]

    def _fill(self, deadline):
        """Read more output; False at end of file."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no output from smtpd within %.0f s; have %r"
                                 % (WAIT, self.buf[-300:]))
        r, _, _ = select.select([self.rfd], [], [], left)
        if not r:
            return True
        try:
            chunk = os.read(self.rfd, 1 << 16)
        except OSError as e:
            if e.errno != errno.EIO:     # a pty whose last writer closed
                raise
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def reply(self):
        """One whole reply (every line of a multi-line one) as bytes, CRLFs
        included; b"" at end of file."""
        deadline = time.monotonic() + WAIT
        while True:
            pos = 0
            while True:
                end = self.buf.find(b"\r\n", pos)
                if end < 0:
                    break
                line = self.buf[pos:end]
                pos = end + 2
                if len(line) < 4 or line[3:4] != b"-":
                    out, self.buf = self.buf[:pos], self.buf[pos:]
                    return out
            if not self._fill(deadline):
                if self.buf:
                    raise AssertionError("output ends inside a reply: %r" % self.buf)
                return b""

    def read_some(self):
        """Whatever output arrives next (one read), after the buffer."""
        deadline = time.monotonic() + WAIT
        while not self.buf:
            if not self._fill(deadline):
                break
        out, self.buf = self.buf, b""
        return out

    def rest(self):
        """All output up to end of file."""
        deadline = time.monotonic() + WAIT
        while self._fill(deadline):
            pass
        out, self.buf = self.buf, b""
        return out

    def command(self, line):
        """Send one command line (CRLF added) and return its reply."""
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def close_input(self):
        """The client is done sending: smtpd reads end of file."""
        if self.sock is not None:
            self.sock.shutdown(socket.SHUT_WR)
        elif self.master is None and self.wfd >= 0:
            os.close(self.wfd)
            self.wfd = -1

    # ---- the process ----

    def wait(self):
        """Exit status, once smtpd has ended (it must, within WAIT s)."""
        try:
            return self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("smtpd did not exit")

    def signal(self, sig):
        os.kill(self.pid, sig)

    def log(self):
        """Everything smtpd wrote on stderr, as text (after wait())."""
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def finish(self):
        """Kill smtpd if it still runs, close every fd we hold."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in {self.rfd, self.wfd}:
            if self.sock is None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.sock is not None:
            self.sock.close()
        self.errfile.close()


def received_pattern(helo, peer, proto="ESMTP", rcpt=None):
    """The Received: line smtpd writes; group 1 is the queue id, group 2
    the date."""
    fr = " for <%s>" % re.escape(rcpt) if rcpt is not None else ""
    return re.compile(r"Received: from %s \(%s\) by %s with %s id (%s)%s; (.*)\n" % (
        re.escape(helo), re.escape(peer), re.escape(HOST), proto, QUEUE_ID, fr))


class SmtpdTestCase(unittest.TestCase):
    """A test case with a fresh spool and cleanup of every smtpd it
    started."""

    maxDiff = None

    def setUp(self):
        self.spool = Spool()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.finish()
        self.spool.cleanup()

    def start(self, *args, **kw):
        kw.setdefault("args", args)
        p = Smtpd(self.spool, **kw)
        self.procs.append(p)
        return p

    def greeted(self, *args, **kw):
        """Start smtpd and read its greeting (the test's readiness)."""
        p = self.start(*args, **kw)
        self.assertEqual(p.reply(), b"220 mx.test ESMTP smtpd\r\n")
        return p

    def ehlo(self, p, name="client.example", size=10485760):
        self.assertEqual(p.command("EHLO " + name), ehlo_reply(size))

    def assertQueued(self, reply, enhanced=True):
        m = queued_reply(enhanced).match(reply.decode("ascii", "replace"))
        self.assertIsNotNone(m, reply)
        return m.group(1)

    def assertExit(self, p, status=0):
        self.assertEqual(p.wait(), status, p.log())

    def assertSpoolEmpty(self):
        self.assertEqual(self.spool.names("new"), [])
        self.assertEqual(self.spool.names("tmp"), [])

    def assertMessage(self, data, qid, sender, rcpts, helo, peer, body,
                      proto="ESMTP"):
        """data is a spooled file: the envelope lines exactly, then body
        byte for byte."""
        head = b"Return-Path: <%s>\n" % sender.encode()
        for r in rcpts:
            head += b"X-Original-To: <%s>\n" % r.encode()
        self.assertTrue(data.startswith(head), data[:500])
        rest = data[len(head):].decode("latin-1")
        nl = rest.find("\n") + 1
        m = received_pattern(helo, peer, proto,
                             rcpts[0] if len(rcpts) == 1 else None).fullmatch(rest[:nl])
        self.assertIsNotNone(m, rest[:nl])
        self.assertEqual(m.group(1), qid)
        when = email.utils.parsedate_to_datetime(m.group(2))
        self.assertLess(abs(when.timestamp() - time.time()), 300, m.group(2))
        self.assertTrue(m.group(2).endswith(" +0000"), m.group(2))
        self.assertEqual(data[len(head) + nl:], body)

    def only_message(self, qid):
        """The one file in new/, named after qid; tmp/ empty."""
        msgs = self.spool.messages()
        self.assertEqual(len(msgs), 1, [n for n, _ in msgs])
        self.assertEqual(self.spool.names("tmp"), [])
        name, data = msgs[0]
        self.assertEqual(name, qid + "." + HOST)
        return data


def ehlo_reply(size=10485760):
    return (b"250-mx.test\r\n250-SIZE %d\r\n250-8BITMIME\r\n"
            b"250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-SOML\r\n"
            b"250-SAML\r\n250 HELP\r\n" % size)


EHLO_REPLY = ehlo_reply()


def main():
    """Run the module's tests; exit 0, 1 (a failure) or 77 (all skipped)."""
    import sys
    if not os.access(SMTPD, os.X_OK):
        print("SKIP: no smtpd binary at %s (run make, or set SMTPD)" % SMTPD)
        sys.exit(77)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    prog = unittest.main(exit=False, verbosity=1)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    if r.testsRun > 0 and len(r.skipped) == r.testsRun:
        print("SKIP: every test skipped")
        sys.exit(77)
    sys.exit(0)
