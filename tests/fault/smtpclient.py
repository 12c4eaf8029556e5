"""smtpclient.py: a small SMTP client and smtpd runner for the hostile-input
tests (t_smuggling.py, t_badbytes.py, t_abuse.py, t_faults.sh, ...).

smtpd runs with one end of a real socket pair on its stdin and stdout, as
inetd would give it a TCP connection; the test holds the other end.  Every
read has a deadline, so a hung smtpd fails a test instead of hanging it.
"""
import fcntl
import os
import platform
import re
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

SMTPD = os.environ.get("SMTPD") or os.path.join(
    os.environ.get("SRCDIR", os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), "smtpd")
VARIANT = os.environ.get("SMTPD_VARIANT", "plain")
HOST = "mx.test"
DOMAIN = "example.org"

# ppoll's system call number, for Smtpd.wait_poll.
PPOLL = {"x86_64": 271, "aarch64": 73}.get(platform.machine())

REPLY_LINE = re.compile(rb"^([2-5][0-9][0-9])([ -])(.*)$")


class Failure(Exception):
    pass


failures = []


def check(cond, what):
    """Record a failed assertion (the test goes on and reports them all)."""
    if not cond:
        failures.append(what)
        print("FAILED: " + what, flush=True)
    return cond


def finish(name):
    if failures:
        print("%s: %d check(s) failed" % (name, len(failures)))
        sys.exit(1)
    print("%s: all checks passed" % name)
    sys.exit(0)


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(77)


def make_spool():
    d = tempfile.mkdtemp(prefix="smtpd-hostile-")
    for sub in ("tmp", "new", "cur"):
        os.mkdir(os.path.join(d, sub))
    return d


def remove_tree(d):
    for root, dirs, files in os.walk(d, topdown=False):
        for f in files:
            os.unlink(os.path.join(root, f))
        for s in dirs:
            os.rmdir(os.path.join(root, s))
    os.rmdir(d)


def files(spool, sub):
    return sorted(f for f in os.listdir(os.path.join(spool, sub))
                  if not f.startswith("."))


def read_file(spool, sub, name):
    with open(os.path.join(spool, sub, name), "rb") as f:
        return f.read()


def body_of(data):
    """What the client sent, as stored: the part after our Received: line."""
    i = data.find(b"\nReceived: ")
    if i < 0:
        return None
    j = data.find(b"\n", i + 1)
    return data[j + 1:]


class Smtpd:
    """One smtpd process on a socket pair."""

    def __init__(self, spool, args=(), env=None, smtpd=None, tcp=False,
                 stdin=None, stdout=None):
        """tcp: a real TCP connection on 127.0.0.1 instead of a socket pair
        (for resets); stdin/stdout: other descriptors for smtpd (pipes),
        in which case self.sock is None."""
        self.spool = spool
        self.buf = b""
        self.closed = False
        self.was_reset = False  # the connection ended with a reset, not EOF
        if tcp:
            lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsn.bind(("127.0.0.1", 0))
            lsn.listen(1)
            ours = socket.create_connection(lsn.getsockname())
            theirs, _ = lsn.accept()
            lsn.close()
        elif stdin is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            ours, theirs = None, None
        e = dict(os.environ)
        for k in ("REMOTE_ADDR", "TCPREMOTEIP", "REMOTE_HOST", "LISTEN_FDS",
                  "LISTEN_PID"):
            e.pop(k, None)
        if env:
            e.update(env)
        # stderr is a pipe, read by a thread, as under tcpserver and
        # multilog: a regular file would raise smtpd's file size limit (it
        # makes room for a log file), and the limit is under test here.
        err_r, err_w = os.pipe()
        self.errlog = []
        cmd = [smtpd or SMTPD, "--spool", spool, "--hostname", HOST,
               "--domain", DOMAIN] + list(args)
        self.proc = subprocess.Popen(cmd, stdin=stdin if theirs is None else theirs,
                                     stdout=stdout if theirs is None else theirs,
                                     stderr=err_w, env=e,
                                     close_fds=True)
        os.close(err_w)
        self.err_thread = threading.Thread(target=self._read_stderr, args=(err_r,),
                                           daemon=True)
        self.err_thread.start()
        if theirs is not None:
            theirs.close()
        self.sock = ours
        self.status = None

    # -- sending --
    def send(self, data, bytewise=False):
        if isinstance(data, str):
            data = data.encode()
        try:
            if bytewise:
                for i in range(len(data)):
                    self.sock.sendall(data[i:i + 1])
                    self.drain()
            else:
                self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def unread(self):
        """Bytes sent that smtpd has not read yet (AF_UNIX: SIOCOUTQ counts
        what still waits in the peer's receive queue; on TCP it counts
        what is not yet acknowledged, which on loopback is close)."""
        return struct.unpack("i", fcntl.ioctl(self.sock.fileno(), termios.TIOCOUTQ,
                                              b"\0\0\0\0"))[0]

    def drain(self, timeout=10):
        """Wait until smtpd has read everything sent, so that each byte sent
        alone is also read alone.  There is no event for this: poll."""
        deadline = time.monotonic() + timeout
        while self.unread() > 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return False
            os.sched_yield()
        return True

    def wait_poll(self, timeout=10):
        """Wait until smtpd sleeps in ppoll(2) (waiting for input, or in a
        pause), read from /proc/PID/syscall.  False if that cannot be
        read (then the caller cannot know)."""
        if PPOLL is None:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/syscall" % self.proc.pid) as f:
                    nr = f.read().split()[0]
            except (OSError, IndexError):
                return False
            if nr == str(PPOLL):
                return True
            os.sched_yield()
        return False

    # -- receiving --
    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure("no reply within the deadline; got %r" % self.buf[-200:])
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Failure("no reply within the deadline; got %r" % self.buf[-200:])
        except ConnectionResetError:
            chunk = b""
            self.was_reset = True
        if not chunk:
            self.closed = True
        self.buf += chunk
        return chunk

    def line(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                if self.buf:
                    raise Failure("connection closed inside a reply line: %r" % self.buf)
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, timeout=10):
        """The next complete reply as (code, [lines]); (None, []) at EOF."""
        lines = []
        while True:
            line = self.line(timeout)
            if line is None:
                if lines:
                    raise Failure("connection closed inside a reply: %r" % lines)
                return None, []
            m = REPLY_LINE.match(line)
            if not m:
                raise Failure("malformed reply line %r" % line)
            lines.append(line.decode("latin-1"))
            if m.group(2) == b" ":
                return int(m.group(1)), lines

    def expect(self, code, what="", timeout=10, text=None):
        """Read one reply; check its code (and that text is in it)."""
        try:
            got, lines = self.reply(timeout)
        except Failure as e:
            check(False, "%s: expected %s: %s" % (what, code, e))
            return None, []
        ok = check(got == code, "%s: expected %s, got %s %r" % (what, code, got, lines))
        if ok and text is not None:
            check(any(text in l for l in lines),
                  "%s: expected %r in %r" % (what, text, lines))
        return got, lines

    def rest(self, timeout=10):
        """Everything until smtpd closes the connection."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            self._fill(deadline)
        data, self.buf = self.buf, b""
        return data

    # -- the end --
    def close(self):
        try:
            if self.sock is not None:
                self.sock.close()
        except OSError:
            pass

    def reset(self):
        """Close with SO_LINGER 0: on TCP the peer gets a reset (RST)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
        self.sock.close()

    def wait(self, timeout=20):
        """Exit status (or -signal, or "hung"); kills a process that does
        not end within timeout seconds."""
        if self.status is not None:
            return self.status
        try:
            self.status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.status = "hung"
        return self.status

    def _read_stderr(self, fd):
        with os.fdopen(fd, "rb", buffering=0) as f:
            for chunk in iter(lambda: f.read(65536), b""):
                self.errlog.append(chunk)

    def stderr(self):
        """What smtpd logged so far (all of it once it has exited)."""
        if self.status is not None:
            self.err_thread.join(5)
        return b"".join(self.errlog).decode("latin-1", "replace")

    def hwm_kib(self):
        """Peak resident memory so far (VmHWM; exec resets it, unlike the
        rusage of a child forked from this big Python process)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def signal(self, sig):
        os.kill(self.proc.pid, sig)


def greet(s, ehlo=True, what=""):
    s.expect(220, what + " greeting")
    if ehlo:
        s.send("EHLO client.example\r\n")
        s.expect(250, what + " EHLO")
    else:
        s.send("HELO client.example\r\n")
        s.expect(250, what + " HELO")


def envelope(s, what="", sender="a@client.example", rcpt="bob@example.org"):
    """MAIL, RCPT, DATA pipelined (RFC 2920), then wait for each reply."""
    s.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (sender, rcpt))
    s.expect(250, what + " MAIL")
    s.expect(250, what + " RCPT")
    return s.expect(354, what + " DATA")


def queued_ids(replies):
    out = []
    for code, lines in replies:
        for l in lines:
            m = re.search(r"queued as (\S+)", l)
            if code == 250 and m:
                out.append(m.group(1))
    return out
