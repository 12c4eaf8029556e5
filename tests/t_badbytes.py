#!/usr/bin/env python3
"""t_badbytes.py: bad bytes in every state, flat memory, signals, resets.

 1. NUL, 8-bit bytes, invalid UTF-8, a very long line and 1 MB of garbage
    without a line end, sent as the first line, before HELO, after MAIL,
    after RCPT and inside DATA: the right reply, no crash, no hang, and the
    session still in its state afterwards (the next command of that state
    works); in DATA the exact bytes stored, or 554 5.6.0 for a NUL.
 2. Memory: smtpd's anonymous memory (RssAnon, which it never gives back,
    so its value at the end is its peak) for a 10 KiB message, a 1 MiB
    message, a large one, a 1 MiB message line and a 1 MiB command line.
    It must not depend on the size: the large cases within 64 KiB of each
    other, and within the two fixed 64 KiB buffers (input, file output)
    plus 64 KiB of the 10 KiB message, which touches little of them.
    VmHWM (with shared library pages, which vary run to run) is printed.
 3. SIGTERM, SIGHUP and SIGINT at each point of a conversation (waiting
    for a command, after MAIL, after RCPT, inside DATA, inside the error
    tarpit): 421 4.3.2, exit 0, tmp/ empty, no partial file in new/.
 4. A client reset (SO_LINGER 0 on TCP) or a vanished reader (SIGPIPE) at
    each point: exit 0, tmp/ empty, nothing partial in new/.
"""
import os
import random
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault"))
import smtpclient as sc  # noqa: E402

ASAN = sc.VARIANT != "plain"
rnd = random.Random(5)
NOT_SMTP = b"421 mx.test This is an SMTP server, closing transmission channel\r\n"
ENV_LINE = b"MAIL FROM:<a@client.example>\r\n"


def garbage(n, exclude=b"\0\r\n"):
    """n random bytes without the excluded ones, not starting with a dot."""
    bad = set(exclude) | {ord(".")}
    out = bytearray(os.urandom(n))
    for i, b in enumerate(out):
        if b in bad:
            out[i] = 0x80 | (b & 0x3f) if (0x80 | (b & 0x3f)) not in bad else 0xa5
    return bytes(out)


MEGA = garbage(1024 * 1024)

# Payloads sent as a command line (with CRLF, except "1 MB no LF" which gets
# its line end only after the whole megabyte).
COMMAND_PAYLOADS = {
    "NUL alone": b"\x00",
    "NUL in a verb": b"NO\x00OP",
    "8-bit verb": b"\xe9\xe8\xff",
    "invalid UTF-8": b"\xc3\x28\xa0\xa1 \xf0\x28\x8c\x28",
    "long line": b"NOOP " + b"x" * 5000,
    "1 MB no LF": MEGA,
}

# The state a test starts from: what is sent, how many replies it gets,
# and a command that must work there afterwards, with its reply.
STATES = {
    "before HELO": (b"NOOP\r\n", [250], b"HELO client.example\r\n", 250),
    "after MAIL": (b"EHLO client.example\r\n" + ENV_LINE, [250, 250],
                   b"RCPT TO:<bob@example.org>\r\n", 250),
    "after RCPT": (b"EHLO client.example\r\n" + ENV_LINE + b"RCPT TO:<bob@example.org>\r\n",
                   [250, 250, 250], b"DATA\r\n", 354),
}


def expected_command_reply(name, state):
    if name in ("long line", "1 MB no LF"):
        return 500, "Line too long"
    return 500, "Syntax error, command unrecognized"


def command_states():
    for state, (setup, setup_codes, probe, probe_code) in STATES.items():
        for name, payload in COMMAND_PAYLOADS.items():
            what = "%s: %s" % (state, name)
            spool = sc.make_spool()
            s = sc.Smtpd(spool)
            try:
                s.expect(220, what + " greeting")
                s.send(setup)
                for c in setup_codes:
                    s.expect(c, what + " setup")
                s.send(payload + b"\r\n")
                code, text = expected_command_reply(name, state)
                s.expect(code, what, text=text)
                s.send(probe)
                s.expect(probe_code, what + ": the state goes on")
                if probe_code == 354:
                    s.send(b"x\r\n.\r\n")
                    s.expect(250, what + ": the message after", text="queued as")
                s.send(b"QUIT\r\n")
                s.expect(221, what + ": QUIT")
            except sc.Failure as e:
                sc.check(False, "%s: %s" % (what, e))
            s.close()
            sc.check(s.wait() == 0, "%s: exit status %s" % (what, s.status))
            sc.check(sc.files(spool, "tmp") == [], what + ": tmp/ not empty")
            n = len(sc.files(spool, "new"))
            sc.check(n == (1 if probe_code == 354 else 0), "%s: %d files in new/" % (what, n))
            sc.remove_tree(spool)


def first_line():
    """As the first line, a line not starting with a letter, or too long,
    is not SMTP: 421 and nothing more."""
    for name, payload in COMMAND_PAYLOADS.items():
        what = "first line: %s" % name
        spool = sc.make_spool()
        s = sc.Smtpd(spool)
        s.send(payload + b"\r\nHELO client.example\r\nQUIT\r\n")
        try:
            out = s.rest(timeout=5)
            if payload[:1].isalpha() and len(payload) < 998:
                # A verb-like first line with bad bytes is an unknown command.
                sc.check(out.startswith(b"220 mx.test ESMTP smtpd\r\n500 ") and
                         out.endswith(b"\r\n250 mx.test\r\n221 mx.test Service closing transmission channel\r\n"),
                         "%s: got %r" % (what, out[:300]))
            else:
                sc.check(out == b"220 mx.test ESMTP smtpd\r\n" + NOT_SMTP,
                         "%s: got %r" % (what, out[:300]))
        except sc.Failure as e:
            sc.check(False, "%s: %s" % (what, e))
        s.close()
        sc.check(s.wait() == 0, "%s: exit status %s" % (what, s.status))
        sc.remove_tree(spool)


DATA_PAYLOADS = {
    "8-bit": (b"Subject: caf\xe9\r\n\r\n\xe9\xe8\xff\xfe\x80\r\n", b"Subject: caf\xe9\n\n\xe9\xe8\xff\xfe\x80\n"),
    "invalid UTF-8": (b"Subject: x\r\n\r\n\xc3\x28\xa0\xa1\xf0\x28\x8c\x28\r\n",
                      b"Subject: x\n\n\xc3\x28\xa0\xa1\xf0\x28\x8c\x28\n"),
    "long line": (b"Subject: x\r\n\r\n" + b"y" * 100000 + b"\r\n",
                  b"Subject: x\n\n" + b"y" * 100000 + b"\n"),
    "1 MB no line end": (MEGA + b"\r\n", MEGA + b"\n"),
    "control bytes": (bytes(range(1, 32)).replace(b"\r", b"").replace(b"\n", b"") + b"\x7f\r\n",
                      bytes(range(1, 32)).replace(b"\r", b"").replace(b"\n", b"") + b"\x7f\n"),
}


def data_state():
    for name, (sent, stored) in list(DATA_PAYLOADS.items()) + [("NUL", (b"a\x00b\r\n" + MEGA[:5000] + b"\r\n", None))]:
        for bytewise in (False, True):
            if bytewise and len(sent) > 2000:
                continue
            what = "in DATA: %s%s" % (name, " bytewise" if bytewise else "")
            spool = sc.make_spool()
            s = sc.Smtpd(spool)
            try:
                sc.greet(s, what=what)
                sc.envelope(s, what=what)
                s.send(sent + b".\r\n", bytewise=bytewise)
                if stored is None:
                    s.expect(554, what, text="554 5.6.0 Message contains NUL bytes")
                else:
                    s.expect(250, what, text="queued as")
                # The session goes on after either.
                sc.envelope(s, what=what + " (next)")
                s.send(b"next\r\n.\r\nQUIT\r\n")
                s.expect(250, what + ": next message", text="queued as")
                s.expect(221, what + ": QUIT")
            except sc.Failure as e:
                sc.check(False, "%s: %s" % (what, e))
            s.close()
            sc.check(s.wait() == 0, "%s: exit status %s" % (what, s.status))
            sc.check(sc.files(spool, "tmp") == [], what + ": tmp/ not empty")
            bodies = sorted(sc.body_of(sc.read_file(spool, "new", f)) for f in sc.files(spool, "new"))
            want = sorted([b"next\n"] + ([stored] if stored is not None else []))
            sc.check(bodies == want, "%s: stored %r" % (what, [b[:60] for b in bodies]))
            sc.remove_tree(spool)


# ---- memory ----

def anon_kib(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssShmem", "VmHWM"):
                fields[k] = int(v.split()[0])
    return fields


def measure(kind, size):
    spool = sc.make_spool()
    s = sc.Smtpd(spool, args=["--max-size", "2000000000", "--min-free", "0"])
    result = None
    try:
        sc.greet(s, what=kind)
        if kind == "message":
            sc.envelope(s, what=kind)
            line = b"m" * 998 + b"\r\n"
            block = line * 256
            left = size
            while left > len(block):
                s.send(block)
                left -= len(block)
            s.send(b"z" * max(left - 2, 0) + b"\r\n.\r\n")
            s.expect(250, "%s of %d bytes" % (kind, size), timeout=600)
        elif kind == "message line":
            sc.envelope(s, what=kind)
            s.send(b"q" * size + b"\r\n.\r\n")
            s.expect(250, "%s of %d bytes" % (kind, size), timeout=60)
        else:
            s.send(b"NOOP " + b"c" * size + b"\r\n")
            s.expect(500, "%s of %d bytes" % (kind, size), text="Line too long")
        result = anon_kib(s.proc.pid)
        s.send("QUIT\r\n")
        s.expect(221, kind + " QUIT")
    except sc.Failure as e:
        sc.check(False, "%s %d: %s" % (kind, size, e))
    s.close()
    s.wait(timeout=60)
    sc.remove_tree(spool)
    return result


def memory():
    # T_BADBYTES_LARGE=1073741824 measures a 1 GiB message (to /tmp's disk).
    large = int(os.environ.get("T_BADBYTES_LARGE", 0)) or (
        256 * 1024 * 1024 if not ASAN else 64 * 1024 * 1024)
    cases = [("message", 10 * 1024), ("message", 1024 * 1024), ("message", large),
             ("message line", 1024 * 1024), ("command line", 1024 * 1024)]
    got = {}
    for kind, size in cases:
        r = measure(kind, size)
        if r is None:
            return
        got[(kind, size)] = r["RssAnon"] + r.get("RssShmem", 0)
        print("memory: %-12s %10d bytes: RssAnon %5d KiB, VmHWM %5d KiB"
              % (kind, size, r["RssAnon"], r["VmHWM"]))
    small = got[("message", 10 * 1024)]
    flat = [got[("message", 1024 * 1024)], got[("message", large)],
            got[("message line", 1024 * 1024)]]
    sc.check(max(flat) - min(flat) <= 64,
             "memory depends on the size of a message or its lines: %s" % got)
    sc.check(got[("command line", 1024 * 1024)] <= max(flat) + 64,
             "a long command line costs more than a message: %s" % got)
    sc.check(max(got.values()) - small <= 64 + 2 * 64,
             "memory beyond the fixed buffers: %s" % got)


def rlimits():
    """smtpd's own walls: a file-size limit just above --max-size, and
    (without sanitizers, which reserve terabytes) an address-space limit."""
    for max_size in (1000000, 50000000):
        what = "rlimits with --max-size %d" % max_size
        spool = sc.make_spool()
        s = sc.Smtpd(spool, args=["--max-size", str(max_size)])
        try:
            s.expect(220, what)
            with open("/proc/%d/limits" % s.proc.pid) as f:
                text = f.read()
            fsize = re.search(r"Max file size\s+(\S+)", text).group(1)
            aspace = re.search(r"Max address space\s+(\S+)", text).group(1)
            print("%s: file size %s, address space %s" % (what, fsize, aspace))
            sc.check(fsize != "unlimited" and max_size + 65536 <= int(fsize) <= max_size + 16 * 2**20,
                     "%s: file size limit %s" % (what, fsize))
            if not ASAN:
                sc.check(aspace != "unlimited" and int(aspace) <= 2**30,
                         "%s: address space limit %s" % (what, aspace))
            s.send("QUIT\r\n")
            s.expect(221, what)
        except sc.Failure as e:
            sc.check(False, "%s: %s" % (what, e))
        s.close()
        sc.check(s.wait() == 0, "%s: exit status %s" % (what, s.status))
        sc.remove_tree(spool)


# ---- signals ----

def signal_points(sig):
    """Yield (name, setup) where setup(s) drives smtpd to the point and
    returns the replies expected before the 421."""
    def waiting(s):
        s.expect(220, "greeting")
    def after_ehlo(s):
        sc.greet(s)
    def after_mail(s):
        sc.greet(s)
        s.send(ENV_LINE)
        s.expect(250, "MAIL")
    def after_rcpt(s):
        after_mail(s)
        s.send("RCPT TO:<bob@example.org>\r\n")
        s.expect(250, "RCPT")
    def in_data_line_start(s):
        sc.greet(s)
        sc.envelope(s)
        s.send(b"Subject: cut\r\n\r\nsome lines\r\n")
        s.drain()
    def in_data_mid_line(s):
        sc.greet(s)
        sc.envelope(s)
        s.send(b"Subject: cut\r\n\r\n" + b"w" * 200000)
        s.drain()
    def in_data_after_dot(s):
        sc.greet(s)
        sc.envelope(s)
        s.send(b"Subject: cut\r\n\r\nalmost\r\n.")
        s.drain()
    def in_data_after_dot_cr(s):
        sc.greet(s)
        sc.envelope(s)
        s.send(b"Subject: cut\r\n\r\nalmost\r\n.\r")
        s.drain()
    def in_tarpit(s):
        s.expect(220, "greeting")
        # 10 free refusals, then the 11th is delayed 10 s: signal it there.
        s.send(b"BAD\r\n" * 10)
        for i in range(10):
            s.expect(500, "refusal %d" % (i + 1))
        s.send(b"BAD\r\n")
        s.drain()
        return [500]
    def in_greet_delay(s):
        # --greet-delay 5: smtpd sleeps in ppoll before its greeting.
        # The 421 comes instead of the greeting, not after it.
        if not s.wait_poll():
            raise sc.Failure("cannot see smtpd waiting (/proc/PID/syscall)")
        return []
    return [("in the greeting delay", in_greet_delay),
            ("waiting for the first command", waiting), ("after EHLO", after_ehlo),
            ("after MAIL", after_mail), ("after RCPT", after_rcpt),
            ("in DATA at a line start", in_data_line_start),
            ("in DATA inside a line", in_data_mid_line),
            ("in DATA after CRLF.", in_data_after_dot),
            ("in DATA after CRLF.CR", in_data_after_dot_cr),
            ("in the error tarpit", in_tarpit)]


def signals():
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        for name, setup in signal_points(sig):
            what = "%s %s" % (signal.Signals(sig).name, name)
            spool = sc.make_spool()
            args = ["--error-delay", "10000"]
            if setup.__name__ == "in_greet_delay":
                args += ["--greet-delay", "5"]
            s = sc.Smtpd(spool, args=args)
            try:
                before = setup(s) or []
                t0 = time.monotonic()
                s.signal(sig)
                for c in before:
                    s.expect(c, what + ": the reply under way")
                code, lines = s.reply()
                # Enhanced codes come after EHLO only (RFC 2034).
                before_ehlo = setup.__name__ in ("in_greet_delay", "waiting", "in_tarpit")
                sc.check(code == 421 and re.match(r"421 %smx\.test Service shutting down"
                                                  % ("" if before_ehlo else r"4\.3\.2 "), lines[-1]),
                         "%s: got %s %r" % (what, code, lines))
                sc.check(time.monotonic() - t0 < 5, "%s: the 421 took %.1f s" % (what, time.monotonic() - t0))
                rest = s.rest()
                sc.check(rest == b"", "%s: more after the 421: %r" % (what, rest))
            except sc.Failure as e:
                sc.check(False, "%s: %s" % (what, e))
            s.close()
            sc.check(s.wait() == 0, "%s: exit status %s" % (what, s.status))
            sc.check(sc.files(spool, "tmp") == [], what + ": tmp/ not empty")
            sc.check(sc.files(spool, "new") == [], what + ": a file in new/")
            sc.remove_tree(spool)


def signal_at_commit():
    """A signal as the last bytes of a message arrive: either the message
    is taken (250, then 421, one complete file) or it is not (421, no
    file); never a 250 without its file, never a partial file."""
    body = b"Subject: race\r\n\r\n" + b"r" * 30000 + b"\r\n"
    outcomes = {}
    for i in range(20):
        what = "SIGTERM at the end of data #%d" % i
        spool = sc.make_spool()
        s = sc.Smtpd(spool)
        codes = []
        try:
            sc.greet(s, what=what)
            sc.envelope(s, what=what)
            s.send(body)
            s.drain()
            s.send(b".\r\n")
            if i % 2:
                s.drain()
            s.signal(signal.SIGTERM)
            while True:
                code, lines = s.reply()
                if code is None:
                    break
                codes.append(code)
        except sc.Failure as e:
            sc.check(False, "%s: %s" % (what, e))
        s.close()
        sc.check(s.wait() == 0, "%s: exit status %s" % (what, s.status))
        names = sc.files(spool, "new")
        sc.check(sc.files(spool, "tmp") == [], what + ": tmp/ not empty")
        if codes == [250, 421]:
            if sc.check(len(names) == 1, "%s: 250 but %d files" % (what, len(names))):
                sc.check(sc.body_of(sc.read_file(spool, "new", names[0])) ==
                         body.replace(b"\r\n", b"\n"), what + ": the stored file is not complete")
        else:
            sc.check(codes == [421] and names == [], "%s: replies %s, files %s" % (what, codes, names))
        outcomes[tuple(codes)] = outcomes.get(tuple(codes), 0) + 1
        sc.remove_tree(spool)
    print("signal at the end of data: outcomes %s" % outcomes)


# ---- resets and vanished readers ----

def reset_points():
    def after_greeting(s):
        s.expect(220, "greeting")
    def after_mail(s):
        sc.greet(s)
        s.send(ENV_LINE)
        s.expect(250, "MAIL")
    def in_data(s):
        sc.greet(s)
        sc.envelope(s)
        s.send(b"Subject: cut\r\n\r\n" + b"v" * 100000 + b"\r\n")
    def in_data_unread(s):
        # A lot still in flight when the reset comes.
        sc.greet(s)
        sc.envelope(s)
        s.send(b"Subject: cut\r\n\r\n" + MEGA + b"\r\n")
    def after_end_of_data_pipelined(s):
        # The end of data and more commands, then the reset before any
        # reply is read: either the message is taken whole or not at all.
        sc.greet(s)
        sc.envelope(s)
        s.send(b"Subject: cut\r\n\r\nbody\r\n.\r\n" + b"NOOP\r\n" * 50)
        return "either"
    def replies_unread(s):
        s.send(b"EHLO client.example\r\n" + b"HELP\r\n" * 40)
    return [("after the greeting", after_greeting), ("after MAIL", after_mail),
            ("in DATA", in_data), ("in DATA, data in flight", in_data_unread),
            ("after the end of data, pipelined", after_end_of_data_pipelined),
            ("with replies unread", replies_unread)]


def resets():
    for name, setup in reset_points():
        what = "reset %s" % name
        spool = sc.make_spool()
        s = sc.Smtpd(spool, tcp=True)
        either = None
        try:
            either = setup(s)
        except sc.Failure as e:
            sc.check(False, "%s: %s" % (what, e))
        s.reset()
        st = s.wait()
        sc.check(st == 0, "%s: exit status %s (-13 is death by SIGPIPE)" % (what, st))
        sc.check(sc.files(spool, "tmp") == [], what + ": tmp/ not empty")
        names = sc.files(spool, "new")
        if either:
            sc.check(len(names) <= 1, "%s: %d files" % (what, len(names)))
            for n in names:
                sc.check(sc.body_of(sc.read_file(spool, "new", n)) == b"Subject: cut\n\nbody\n",
                         what + ": a partial file in new/")
        else:
            sc.check(names == [], "%s: files in new/: %s" % (what, names))
        sc.remove_tree(spool)


def vanished_reader():
    """stdout a pipe whose reader is gone (inetd with pipes, a test
    harness): writing the greeting raises SIGPIPE, which smtpd ignores;
    it must end with status 0 and leave nothing behind."""
    what = "SIGPIPE on a pipe"
    spool = sc.make_spool()
    rin, win = os.pipe()
    rout, wout = os.pipe()
    os.close(rout)
    # The input is all there before smtpd starts (a pipe holds 64 KiB).
    os.write(win, b"EHLO client.example\r\n" + ENV_LINE + b"RCPT TO:<bob@example.org>\r\nDATA\r\nx\r\n")
    os.close(win)
    s = sc.Smtpd(spool, stdin=rin, stdout=wout)
    os.close(rin)
    os.close(wout)
    st = s.wait()
    sc.check(st == 0, "%s: exit status %s (-13 is death by SIGPIPE)" % (what, st))
    sc.check(sc.files(spool, "tmp") == [] and sc.files(spool, "new") == [],
             what + ": files left")
    sc.remove_tree(spool)

    what = "client gone mid-DATA on a socket pair"
    spool = sc.make_spool()
    s = sc.Smtpd(spool)
    try:
        sc.greet(s, what=what)
        sc.envelope(s, what=what)
        s.send(b"Subject: cut\r\n\r\n" + b"p" * 300000)
    except sc.Failure as e:
        sc.check(False, "%s: %s" % (what, e))
    s.close()
    sc.check(s.wait() == 0, "%s: exit status %s" % (what, s.status))
    sc.check(sc.files(spool, "tmp") == [] and sc.files(spool, "new") == [],
             what + ": files left")
    sc.remove_tree(spool)


def main():
    only = [n for n in os.environ.get("T_BADBYTES_ONLY", "").split(",") if n]
    for part in (first_line, command_states, data_state, memory, rlimits, signals,
                 signal_at_commit, resets, vanished_reader):
        if not only or part.__name__ in only:
            part()
    sc.finish("t_badbytes")


main()
