"""harness.py: results, supervisors and bounded commands for the client tests.

A Result collects the problems of one case and prints PASS or FAIL with
them.  A Supervisor runs smtpd under tcpserver or systemd-socket-activate
on a loopback port, waits for its greeting, and at the end reports every
smtpd exit status it logged.  run() is subprocess.run with a time limit,
so no client can hang the test.
"""
import os
import re
import socket
import subprocess
import time
import traceback

MAX_SHOWN = 8           # problems printed per failed case


class Result:
    def __init__(self, name):
        self.name = name
        self.problems = []
        self.skipped = None

    def fail(self, text):
        self.problems.append(text)

    def check(self, cond, text):
        if not cond:
            self.fail(text)
        return cond

    def equal(self, got, want, what):
        return self.check(got == want, "%s: got %r, want %r" % (what, got, want))

    def skip(self, reason):
        self.skipped = reason


class Cases:
    """Runs cases one after the other and counts their results."""

    def __init__(self):
        self.results = []

    def run(self, name, fn, *args):
        r = Result(name)
        t0 = time.monotonic()
        try:
            fn(r, *args)
        except Exception:       # a crash of a case is that case's failure
            r.fail(traceback.format_exc().rstrip())
        ms = (time.monotonic() - t0) * 1000
        if r.skipped is not None:
            print("SKIP: %s: %s" % (name, r.skipped), flush=True)
        elif r.problems:
            print("FAIL: %s (%.0f ms)" % (name, ms), flush=True)
            for p in r.problems[:MAX_SHOWN]:
                print("    " + p.replace("\n", "\n    "), flush=True)
            if len(r.problems) > MAX_SHOWN:
                print("    ... and %d more" % (len(r.problems) - MAX_SHOWN))
        else:
            print("PASS: %s (%.0f ms)" % (name, ms), flush=True)
        self.results.append(r)
        return r

    def failed(self):
        return [r for r in self.results if r.problems]

    def skipped(self):
        return [r for r in self.results if r.skipped is not None]


def run(argv, timeout=60, **kw):
    """subprocess.run, bounded; output captured as bytes unless redirected."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(argv, timeout=timeout, **kw)


def greeting_and_quit(port, timeout=5.0):
    """Connect, read the greeting, QUIT: the raw bytes of both replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        hello = f.readline()
        s.sendall(b"QUIT\r\n")
        bye = f.readline()
        return hello, bye


class Supervisor:
    """smtpd behind a real supervisor on 127.0.0.1:port."""

    def __init__(self, kind, port, smtpd, args, logdir):
        self.kind = kind
        self.port = port
        self.log = os.path.join(logdir, "%s-%d.log" % (kind, port))
        if kind == "tcpserver":
            # -R -H -l 0: no ident or DNS lookups, which cannot work here.
            self.argv = ["tcpserver", "-v", "-R", "-H", "-l", "0", "-c", "40",
                         "127.0.0.1", str(port), smtpd] + args
        else:
            # It passes on no environment of its own: hand the sanitizer
            # settings on explicitly.
            env = []
            for v in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
                if v in os.environ:
                    env += ["-E", v]
            self.argv = (["systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
                          "--accept", "--inetd"] + env + [smtpd] + args)
        self.proc = None

    def start(self):
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)

    def wait_ready(self, timeout=10.0):
        """Bounded wait for the port to answer with smtpd's greeting."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return greeting_and_quit(self.port)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("%s on port %d did not come up: %s"
                                       % (self.kind, self.port, self.log_text()[-500:]))
                time.sleep(0.02)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def exit_statuses(self):
        """{pid: status} of every smtpd the supervisor reaped."""
        text = self.log_text()
        if self.kind == "tcpserver":
            pat = r"tcpserver: end (\d+) status (\d+)"
        else:
            pat = r"Child (\d+) died with code (\d+)"
        return {int(p): int(s) for p, s in re.findall(pat, text)}

    def settle(self, before, timeout=10.0):
        """Wait (bounded) until every smtpd that logged since the pids in
        `before` has been reaped; {pid: log lines} of those sessions."""
        deadline = time.monotonic() + timeout
        while True:
            new = {p: l for p, l in self.sessions().items() if p not in before}
            ended = self.exit_statuses()
            if all(p in ended for p in new) or time.monotonic() > deadline:
                return new
            time.sleep(0.02)

    def sessions(self):
        """{pid: [smtpd's log lines]} from the supervisor's log."""
        out = {}
        for pid, line in re.findall(r"smtpd\[(\d+)\]: (.*)", self.log_text()):
            out.setdefault(int(pid), []).append(line)
        return out
